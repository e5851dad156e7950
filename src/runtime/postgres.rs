//! The PostgreSQL store: one database that several `journeyc run` replicas share, so
//! that any replica serves any request. The business rules are `rules.rs`'s, as for
//! SQLite; this file keeps rows.
//!
//! - Every session change names the revision it was based on, checked by the row's
//!   own `UPDATE ... WHERE revision = $n`, so replicas changing one session never
//!   overwrite each other (the loser gets `StoreError::Conflict` and redoes its event).
//! - Changes are grouped: each of `LANES` committer threads takes what is queued for
//!   its sessions (a session always goes to the same lane, so its changes commit in
//!   order) and commits it as one transaction, rows locked in session order.
//! - Timers are claimed in batches with `FOR UPDATE SKIP LOCKED` and a short lease, so
//!   replicas split the due timers; firing checks the timer is still pending in the
//!   firing's own transaction, so each fires once whatever the leases do. A commit that
//!   adds timers sends `NOTIFY journeyc_due`; each replica listens on one connection
//!   and wakes its scheduler, which never relies on it (see `Store::shared`).
//! - Messages are claimed by one replica's sender; replicas beat in `replicas`, and the
//!   claims of one that stopped beating are recovered by the others: what was only
//!   claimed is sent again, what was being sent becomes `unknown`, to be reconciled.
//!
//! The `Store` trait is synchronous: each call waits on this thread for its queries,
//! whose connections a small runtime of the store's own drives.

use std::future::Future;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Condvar, Mutex};
use std::task::{Context, Poll, Wake};
use std::time::Duration;

use chrono::{DateTime, Utc};
use deadpool_postgres::{Manager, ManagerConfig, Pool, RecyclingMethod};
use tokio_postgres::types::ToSql;
use tokio_postgres::{NoTls, Row};

use super::durable::{self, Durable, Slot};
use super::interp::Effect;
use super::rules::{self, Change};
use super::session::SessionState;
use super::store::{
    self, instant, millis, Inbound, JourneyVersion, Message, MessageStatus, Result, Store,
    StoreError, Timer, RANK_SQL, SHARED_RECHECK,
};
use super::wakeup::Wakeup;

mod reads;
mod wire;

use wire::{connect, get, pg_err, session_from};

/// The migrations, in order; each runs once, in its own transaction. Never edit a
/// shipped one: add the next file.
const MIGRATIONS: &[&str] = &[
    include_str!("postgres/0001_schema.sql"),
    include_str!("postgres/0002_delivery_claims.sql"),
    include_str!("postgres/0003_redacted_bodies.sql"),
    include_str!("postgres/0004_number_claims.sql"),
];

/// A text's body without live journey links, once it has left: the redacted body kept
/// when it was queued, or, for a text that a replica older than migration 3 queued
/// during an upgrade, `links::redact`'s rule in SQL.
macro_rules! redacted_body {
    () => {
        "COALESCE(redacted, regexp_replace(body, '/j/[A-Za-z0-9_-]{16,}', '/j/[redacted]', 'g'))"
    };
}

/// The advisory lock replicas take to migrate one at a time.
const MIGRATION_LOCK: i64 = 0x6a6f_7572_6e65_7963;

/// Committer threads; each has its own queue and connection. Two did best on two
/// cores: with one, scheduling timers waited on round trips (7,300/s against 22,600/s);
/// with four, webhooks' smaller batches took more commits (1,800/s against 2,300/s).
const LANES: usize = 2;
/// Connections that threads' one-statement reads share (see `SharedConn`).
const SHARED_CONNS: usize = 2;
/// Changes committed in one transaction at most.
const BATCH: usize = 512;
/// Connections in the pool at most.
const POOL_SIZE: usize = 16;
/// How long a replica holds the timers it claimed before others may take them.
const TIMER_LEASE_MS: i64 = 5_000;
/// How often a replica says it is alive, and how long a silence means it is not.
const HEARTBEAT: Duration = Duration::from_secs(1);
const REPLICA_DEAD_MS: i64 = 10_000;
/// A transaction that PostgreSQL aborted for a deadlock or a serialization failure
/// is tried this many times in all.
const TX_ATTEMPTS: u32 = 3;

/// The channel on which commits that add timers announce their earliest due time.
const DUE_CHANNEL: &str = "journeyc_due";

pub struct PgStore {
    inner: Arc<Inner>,
    committers: Vec<std::thread::JoinHandle<()>>,
    /// The store's runtime, which drives its connections; shut down last.
    runtime: Option<tokio::runtime::Runtime>,
}

struct Inner {
    rt: tokio::runtime::Handle,
    pool: Pool,
    config: tokio_postgres::Config,
    /// The TLS of `sslmode=require`, for the listener's connection too.
    tls: Option<tokio_postgres_rustls::MakeRustlsConnect>,
    /// This replica's id in `replicas`, and in the claims it makes.
    replica: String,
    lanes: Vec<Lane>,
    closing: AtomicBool,
    /// The listener is started once, by the first `watch`.
    listening: AtomicBool,
    /// Sessions by journey-link token, read together (see `reads`).
    reads: reads::Reads,
    /// The connections one-statement reads share, made on first use; the next to use.
    shared: Vec<Mutex<Option<Arc<SharedConn>>>>,
    next_shared: std::sync::atomic::AtomicUsize,
}

/// One committer's queue.
#[derive(Default)]
struct Lane {
    queue: Mutex<Queue>,
    queued: Condvar,
}

#[derive(Default)]
struct Queue {
    jobs: Vec<Queued>,
    closing: bool,
}

/// A change waiting for its committer: the session it changes, what it does, and
/// where its result goes. It may run twice (see `commit_batch`): only its last run
/// is kept.
struct Queued {
    session: String,
    job: Job,
    slot: Arc<Slot>,
}

type Job = Box<dyn Fn(&mut Tx<'_>) -> Result<i64> + Send>;

/// Runs a future to completion on this thread. The store's queries only talk to
/// their connection's task over channels, so they need no runtime here, and a caller
/// on any thread (an async task's included) may wait for them, as it would for SQLite.
fn wait<F: Future>(f: F) -> F::Output {
    struct Unpark(std::thread::Thread);
    impl Wake for Unpark {
        fn wake(self: Arc<Self>) {
            self.0.unpark();
        }
        fn wake_by_ref(self: &Arc<Self>) {
            self.0.unpark();
        }
    }
    let waker = std::task::Waker::from(Arc::new(Unpark(std::thread::current())));
    let mut cx = Context::from_waker(&waker);
    let mut f = std::pin::pin!(f);
    loop {
        if let Poll::Ready(v) = f.as_mut().poll(&mut cx) {
            return v;
        }
        std::thread::park();
    }
}

/// Whether PostgreSQL aborted a transaction for contention, so that running it again
/// may succeed.
fn contended(e: &StoreError) -> bool {
    matches!(e, StoreError::Unavailable(m) if m.ends_with("(40001)") || m.ends_with("(40P01)"))
}

/// Wall-clock milliseconds, for leases and heartbeats: they are about processes, not
/// about the journeys' clock.
fn wall_ms() -> i64 {
    millis(Utc::now())
}

type Params<'a> = &'a [&'a (dyn ToSql + Sync)];

/// A query parameter that a task of the store's runtime can own.
type Param = Box<dyn ToSql + Send + Sync>;

fn pool_err(e: deadpool_postgres::PoolError) -> StoreError {
    match e {
        deadpool_postgres::PoolError::Backend(e) => pg_err(e),
        e => StoreError::Unavailable(format!("no PostgreSQL connection: {e}")),
    }
}

/// One connection and how to wait for its queries; statements are prepared once per
/// connection.
enum Db<'c> {
    /// A pooled connection, driven by the store's runtime: a query waits on this
    /// thread (see `wait`) while another thread talks to the server.
    Pooled(&'c deadpool_postgres::ClientWrapper),
    /// A committer's own connection, driven on the committer's thread while it waits:
    /// no thread hop per query, which under load was most of a change's cost.
    Own(&'c OwnConn),
    /// A connection every thread's one-statement reads share (see `Inner::read`).
    Shared(&'c SharedConn),
}

/// A connection shared by threads, driven by the store's runtime. Statements of
/// threads that use it at once go out together, and PostgreSQL answers them one
/// after another without waiting for the next: a backend woken once for many.
/// *Invariant: only statements that stand alone (autocommit) go through it.*
struct SharedConn {
    client: tokio_postgres::Client,
    statements: Mutex<std::collections::HashMap<String, tokio_postgres::Statement>>,
}

impl SharedConn {
    async fn statement(
        &self,
        sql: &str,
    ) -> std::result::Result<tokio_postgres::Statement, tokio_postgres::Error> {
        let cached = self
            .statements
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .get(sql)
            .cloned();
        if let Some(st) = cached {
            return Ok(st);
        }
        let st = self.client.prepare(sql).await?;
        self.statements
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .insert(sql.to_string(), st.clone());
        Ok(st)
    }
}

/// A connection of one committer thread, with the runtime that drives it there.
struct OwnConn {
    rt: tokio::runtime::Runtime,
    client: tokio_postgres::Client,
    statements: std::cell::RefCell<std::collections::HashMap<String, tokio_postgres::Statement>>,
}

impl OwnConn {
    fn connect(inner: &Inner) -> Result<OwnConn> {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .map_err(|e| StoreError::new(format!("cannot start a committer's runtime: {e}")))?;
        let client = rt.block_on(connect(&inner.config, &inner.tls));
        Ok(OwnConn {
            rt,
            client: client.map_err(pg_err)?,
            statements: Default::default(),
        })
    }

    async fn statement(
        &self,
        sql: &str,
    ) -> std::result::Result<tokio_postgres::Statement, tokio_postgres::Error> {
        if let Some(st) = self.statements.borrow().get(sql) {
            return Ok(st.clone());
        }
        let st = self.client.prepare(sql).await?;
        self.statements
            .borrow_mut()
            .insert(sql.to_string(), st.clone());
        Ok(st)
    }
}

impl Db<'_> {
    /// Waits for `f` as this connection is driven: on this thread for a committer's,
    /// by the store's runtime for a pooled one.
    fn block<T>(&self, f: impl Future<Output = T>) -> T {
        match self {
            Db::Pooled(_) | Db::Shared(_) => wait(f),
            Db::Own(own) => own.rt.block_on(f),
        }
    }

    fn client(&self) -> &tokio_postgres::Client {
        match self {
            Db::Pooled(c) => c,
            Db::Own(own) => &own.client,
            Db::Shared(shared) => &shared.client,
        }
    }

    /// The statement for `sql`, prepared once per connection.
    async fn statement(
        &self,
        sql: &str,
    ) -> std::result::Result<tokio_postgres::Statement, tokio_postgres::Error> {
        match self {
            Db::Pooled(c) => c.prepare_cached(sql).await,
            Db::Own(own) => own.statement(sql).await,
            Db::Shared(shared) => shared.statement(sql).await,
        }
    }

    fn execute(&self, sql: &str, params: Params<'_>) -> Result<u64> {
        self.block(async {
            let st = self.statement(sql).await?;
            self.client().execute(&st, params).await
        })
        .map_err(pg_err)
    }

    fn batch(&self, sql: &str) -> Result<()> {
        self.block(self.client().batch_execute(sql)).map_err(pg_err)
    }
}

/// Awaits `writes` and then `last`, polling them in that order every time: a query
/// sends its request when first polled, so the writes go out first and in order, and
/// their answers come back with `last`'s. (A general join may poll `last` before
/// every write has been polled once.)
async fn in_order<W, L, T, E>(
    mut writes: Vec<std::pin::Pin<Box<W>>>,
    mut last: std::pin::Pin<Box<L>>,
) -> (Vec<std::result::Result<(), E>>, std::result::Result<T, E>)
where
    W: Future<Output = std::result::Result<(), E>>,
    L: Future<Output = std::result::Result<T, E>>,
{
    let mut done: Vec<Option<std::result::Result<(), E>>> = writes.iter().map(|_| None).collect();
    let mut answer = None;
    std::future::poll_fn(|cx| {
        for (w, d) in writes.iter_mut().zip(done.iter_mut()) {
            if d.is_none() {
                if let Poll::Ready(r) = w.as_mut().poll(cx) {
                    *d = Some(r);
                }
            }
        }
        if answer.is_none() {
            if let Poll::Ready(r) = last.as_mut().poll(cx) {
                answer = Some(r);
            }
        }
        if answer.is_some() && done.iter().all(Option::is_some) {
            Poll::Ready(())
        } else {
            Poll::Pending
        }
    })
    .await;
    (
        done.into_iter().flatten().collect(),
        answer.expect("the last statement was answered"),
    )
}

/// A statement's rows, and the one or first row of them: the same on a connection and
/// in a transaction.
trait Query {
    fn query(&self, sql: &str, params: Params<'_>) -> Result<Vec<Row>>;

    fn opt(&self, sql: &str, params: Params<'_>) -> Result<Option<Row>> {
        Ok(self.query(sql, params)?.into_iter().next())
    }

    fn one(&self, sql: &str, params: Params<'_>) -> Result<Row> {
        self.opt(sql, params)?
            .ok_or_else(|| StoreError::new(format!("no row from `{sql}`")))
    }
}

impl Query for Db<'_> {
    fn query(&self, sql: &str, params: Params<'_>) -> Result<Vec<Row>> {
        self.block(async {
            let st = self.statement(sql).await?;
            self.client().query(&st, params).await
        })
        .map_err(pg_err)
    }
}

impl Query for Tx<'_> {
    /// Sent after the deferred writes, which it sees.
    fn query(&self, sql: &str, params: Params<'_>) -> Result<Vec<Row>> {
        self.send(async {
            let st = self.db.statement(sql).await?;
            self.db.client().query(&st, params).await
        })
    }
}

/// A transaction's connection, the earliest due time of the timers it added
/// (announced when it commits), and its writes not sent yet.
///
/// A write whose answer nothing needs is deferred (`defer`) and sent with the next
/// statement that needs one, all in one round trip: a change is a few round trips,
/// not one per row. *Invariant: every statement that answers (a read, a checked
/// update, `COMMIT`) is sent after the deferred writes, so it sees them, and a
/// deferred write's failure fails the transaction before it commits.*
struct Tx<'c> {
    db: Db<'c>,
    earliest_timer: Option<i64>,
    later: std::cell::RefCell<Vec<Later>>,
    /// The count of a deferred write that answers the change being run (`counted`).
    answer: std::cell::RefCell<Option<Count>>,
}

/// A deferred write's count, once it has run.
type Count = std::rc::Rc<std::cell::Cell<Option<u64>>>;

/// A change's answer in a batch: its value, or the count of its deferred write.
type Answered = (i64, Option<Count>);

/// A statement to send with the next one that needs an answer.
enum Later {
    /// A transaction statement, by the simple protocol.
    Simple(&'static str),
    /// A prepared write and its parameters, and where to put its count if wanted.
    Write(&'static str, Vec<Param>, Option<Count>),
}

impl<'c> Tx<'c> {
    fn begin(db: &Db<'c>) -> Tx<'c> {
        Tx {
            db: match db {
                Db::Pooled(c) => Db::Pooled(c),
                Db::Own(o) => Db::Own(o),
                Db::Shared(c) => Db::Shared(c),
            },
            earliest_timer: None,
            later: std::cell::RefCell::new(vec![Later::Simple("BEGIN")]),
            answer: Default::default(),
        }
    }

    /// Queues a write, sent with the next statement that needs an answer.
    fn defer(&self, sql: &'static str, params: Vec<Param>) {
        self.later
            .borrow_mut()
            .push(Later::Write(sql, params, None));
    }

    /// `defer` for a write whose count answers the change being run: in a batch,
    /// such changes go out together rather than one round trip each, and each
    /// answer is read once the write has run (see `commit_batch`).
    fn counted(&self, sql: &'static str, params: Vec<Param>) {
        let count = Count::default();
        self.later
            .borrow_mut()
            .push(Later::Write(sql, params, Some(count.clone())));
        *self.answer.borrow_mut() = Some(count);
    }

    /// Forgets the deferred writes: the transaction, or the savepoint they belong
    /// to, is being rolled back.
    fn discard(&self) {
        self.later
            .borrow_mut()
            .retain(|l| matches!(l, Later::Simple("BEGIN")));
    }

    /// Sends the deferred writes, then `last` if any, all at once; the first error
    /// in their order, or `last`'s answer.
    fn send<T>(
        &self,
        last: impl Future<Output = std::result::Result<T, tokio_postgres::Error>>,
    ) -> Result<T> {
        let later = std::mem::take(&mut *self.later.borrow_mut());
        if later.is_empty() {
            return self.db.block(last).map_err(pg_err);
        }
        let db = &self.db;
        // Prepared first: a write that waited for its statement would go after `last`.
        let mut ready = Vec::with_capacity(later.len());
        for l in &later {
            ready.push(match l {
                Later::Simple(sql) => (None, *sql, &[][..], None),
                Later::Write(sql, params, count) => (
                    Some(db.block(db.statement(sql)).map_err(pg_err)?),
                    *sql,
                    &params[..],
                    count.as_ref(),
                ),
            });
        }
        let sent = ready.iter().map(|(st, sql, params, count)| async move {
            match st {
                Some(st) => {
                    let refs: Vec<&(dyn ToSql + Sync)> = params
                        .iter()
                        .map(|p| p.as_ref() as &(dyn ToSql + Sync))
                        .collect();
                    let n = db.client().execute(st, &refs).await?;
                    if let Some(count) = count {
                        count.set(Some(n));
                    }
                    Ok(())
                }
                None => db.client().batch_execute(sql).await,
            }
        });
        let (done, answer) = db.block(in_order(sent.map(Box::pin).collect(), Box::pin(last)));
        done.into_iter()
            .collect::<std::result::Result<Vec<()>, _>>()
            .map_err(pg_err)?;
        answer.map_err(pg_err)
    }

    /// Sends what is deferred, and waits for it.
    fn flush(&self) -> Result<()> {
        self.send(async { Ok(()) })
    }

    fn execute(&self, sql: &str, params: Params<'_>) -> Result<u64> {
        self.send(async {
            let st = self.db.statement(sql).await?;
            self.db.client().execute(&st, params).await
        })
    }

    fn batch(&self, sql: &str) -> Result<()> {
        self.send(self.db.client().batch_execute(sql))
    }

    /// Commits; the replicas listening hear of the timers it added that come due
    /// before they would look anyway. Only those: a `NOTIFY` serializes commits
    /// across the whole server.
    fn commit(&mut self) -> Result<()> {
        let soon = wall_ms() + SHARED_RECHECK.as_millis() as i64;
        if let Some(due) = self.earliest_timer.take().filter(|&due| due < soon) {
            self.defer(
                "SELECT pg_notify($1, $2)",
                vec![Box::new(DUE_CHANNEL), Box::new(due.to_string())],
            );
        }
        self.batch("COMMIT")
    }

    /// Rolls back, whatever was deferred. A connection that failed cannot roll back:
    /// the server does.
    fn rollback(&self) {
        self.later.borrow_mut().clear();
        let _ = self.db.batch("ROLLBACK");
    }
}

const SESSION: &str = "SELECT state, revision, version, id FROM sessions";
const TIMER: &str = "id, session_id, key, due, step, skip_if_missed, actions";
const MESSAGE: &str = "id, session_id, to_number, from_number, body, status, created_at, note, sid";

/// A timer from a row of `TIMER`'s columns.
fn timer_from(row: &Row) -> Result<Timer> {
    let actions: String = get(row, 6)?;
    Ok(Timer {
        id: get(row, 0)?,
        session_id: get(row, 1)?,
        key: get(row, 2)?,
        due: instant(get(row, 3)?),
        step: get::<i64>(row, 4)? as usize,
        skip_if_missed: get(row, 5)?,
        actions: serde_json::from_str(&actions)
            .map_err(|e| StoreError::new(format!("a timer's actions do not read: {e}")))?,
    })
}

/// A message from a row of `MESSAGE`'s columns.
fn message_from(row: &Row) -> Result<Message> {
    let status: String = get(row, 5)?;
    Ok(Message {
        id: get(row, 0)?,
        session_id: get(row, 1)?,
        to: get(row, 2)?,
        from: get(row, 3)?,
        body: get(row, 4)?,
        status: MessageStatus::parse(&status).unwrap_or(MessageStatus::Unknown),
        created_at: instant(get(row, 6)?),
        note: get(row, 7)?,
        sid: get(row, 8)?,
    })
}

fn rows<T>(rows: Vec<Row>, f: impl Fn(&Row) -> Result<T>) -> Result<Vec<T>> {
    rows.iter().map(f).collect()
}

/// The revision check: moves the session's row from the change's revision to the
/// next with the new state, or keeps its revision when the state is as stored (a
/// change of effects only). A conflict when the row is at another revision; the row
/// stays locked until the transaction ends, so nothing moves it meanwhile.
fn save(tx: &mut Tx<'_>, change: &Change) -> Result<u64> {
    let s = &change.state;
    let row = tx.opt(
        "UPDATE sessions SET status = $2, actor_phone = $3, expires_at = $4, state = $5, version = $7, \
         start_phone = CASE WHEN start_phone = $3 THEN start_phone END, \
         revision = CASE WHEN state = $5 AND version = $7 THEN revision ELSE revision + 1 END \
         WHERE id = $1 AND revision = $6 RETURNING revision",
        &[
            &s.id,
            &s.status.as_str(),
            &change.phone,
            &millis(s.expires_at),
            &change.json,
            &(s.revision as i64),
            &(s.version as i64),
        ],
    )?;
    match row {
        Some(row) => Ok(get::<i64>(&row, 0)? as u64),
        None => Err(StoreError::Conflict {
            session: s.id.clone(),
        }),
    }
}

/// Saves a change and applies its effects; gives the session's revision after it.
fn write(tx: &mut Tx<'_>, change: &Change, now: DateTime<Utc>) -> Result<u64> {
    let revision = save(tx, change)?;
    apply_effects(tx, change, now)?;
    Ok(revision)
}

fn apply_effects(tx: &mut Tx<'_>, change: &Change, now: DateTime<Utc>) -> Result<()> {
    let mut ledger = Ledger {
        tx,
        session: &change.state.id,
        now,
    };
    rules::apply(
        &mut ledger,
        &change.state,
        &change.effects,
        &change.timer_actions,
        now,
    )
}

/// The store's primitives for the rules: one session's rows at one instant.
struct Ledger<'t, 'c> {
    tx: &'t mut Tx<'c>,
    session: &'t str,
    now: DateTime<Utc>,
}

impl rules::Ledger for Ledger<'_, '_> {
    type Error = StoreError;

    fn opted_out(&mut self, phone: &str) -> Result<bool> {
        get(
            &self.tx.one(
                "SELECT EXISTS (SELECT 1 FROM opt_outs WHERE phone = $1)",
                &[&phone],
            )?,
            0,
        )
    }

    fn sent_since(&mut self, to: &str, body_hash: &[u8], since: DateTime<Utc>) -> Result<bool> {
        get(
            &self.tx.one(
                "SELECT EXISTS (SELECT 1 FROM outbox WHERE to_number = $1 AND body_hash = $2 AND created_at > $3 \
                 AND status IN ('pending', 'claimed', 'sending', 'sent', 'delivered', 'unknown'))",
                &[&to, &body_hash, &millis(since)],
            )?,
            0,
        )
    }

    fn checks(
        &mut self,
        texts: &[(&str, &[u8])],
        since: DateTime<Utc>,
    ) -> Result<Vec<(bool, bool)>> {
        let (phones, hashes): (Vec<&str>, Vec<&[u8]>) = texts.iter().copied().unzip();
        // Each check is a lateral lookup with `LIMIT 1`, so it probes the index for each
        // text. As `EXISTS`, PostgreSQL may plan it as one hashed scan of the whole
        // outbox per batch, which it did with the statistics of a new database.
        let rows = self.tx.query(
            "SELECT o.x IS NOT NULL, d.x IS NOT NULL \
             FROM unnest($1::text[], $2::bytea[]) WITH ORDINALITY AS c(phone, h, i) \
             LEFT JOIN LATERAL (SELECT 1 AS x FROM opt_outs WHERE phone = c.phone LIMIT 1) o ON true \
             LEFT JOIN LATERAL (SELECT 1 AS x FROM outbox WHERE to_number = c.phone AND body_hash = c.h \
             AND created_at > $3 AND status IN ('pending', 'claimed', 'sending', 'sent', 'delivered', 'unknown') \
             LIMIT 1) d ON true ORDER BY c.i",
            &[&phones, &hashes, &millis(since)],
        )?;
        rows.iter().map(|r| Ok((get(r, 0)?, get(r, 1)?))).collect()
    }

    fn queue(&mut self, t: rules::Outgoing<'_>) -> Result<()> {
        let redacted = super::links::redact(t.body);
        let redacted = (redacted != t.body).then_some(redacted);
        self.tx.defer(
            "INSERT INTO outbox (session_id, to_number, from_number, body, status, note, created_at, body_hash, redacted) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
            vec![
                Box::new(self.session.to_string()),
                Box::new(t.to.to_string()),
                Box::new(t.from.to_string()),
                Box::new(t.body.to_string()),
                Box::new(t.status.as_str()),
                Box::new(t.note.map(str::to_string)),
                Box::new(millis(self.now)),
                Box::new(t.body_hash.to_vec()),
                Box::new(redacted),
            ],
        );
        Ok(())
    }

    fn log(&mut self, text: &str) -> Result<()> {
        log(self.tx, self.session, self.now, text)
    }

    fn add_timer(
        &mut self,
        key: &str,
        due: DateTime<Utc>,
        step: usize,
        skip_if_missed: bool,
        actions: &str,
    ) -> Result<()> {
        let due = millis(due);
        self.tx.defer(
            "INSERT INTO timers (session_id, key, due, step, skip_if_missed, actions, state) \
             VALUES ($1, $2, $3, $4, $5, $6, 'pending')",
            vec![
                Box::new(self.session.to_string()),
                Box::new(key.to_string()),
                Box::new(due),
                Box::new(step as i64),
                Box::new(skip_if_missed),
                Box::new(actions.to_string()),
            ],
        );
        self.tx.earliest_timer = Some(self.tx.earliest_timer.map_or(due, |e| e.min(due)));
        Ok(())
    }

    fn end_timer(&mut self, key: &str, how: &str) -> Result<()> {
        self.tx.defer(
            "UPDATE timers SET state = $3 WHERE session_id = $1 AND key = $2 AND state = 'pending'",
            vec![
                Box::new(self.session.to_string()),
                Box::new(key.to_string()),
                Box::new(how.to_string()),
            ],
        );
        Ok(())
    }

    fn cancel_timers(&mut self, before: usize) -> Result<()> {
        cancel_timers(self.tx, self.session, before)
    }

    fn rewrite_timer(
        &mut self,
        key: &str,
        step: usize,
        actions: &[crate::ir::Action],
    ) -> Result<()> {
        let actions = serde_json::to_string(actions).expect("actions serialize");
        self.tx.defer(
            "UPDATE timers SET step = $3, actions = $4 WHERE session_id = $1 AND key = $2 AND state = 'pending'",
            vec![
                Box::new(self.session.to_string()),
                Box::new(key.to_string()),
                Box::new(step as i64),
                Box::new(actions),
            ],
        );
        Ok(())
    }

    fn delivery(&mut self, sid: &str) -> Result<()> {
        // The claim fails at once if another open change holds this id, so batches
        // never wait on each other's ids (see `0002_delivery_claims.sql`).
        self.tx.defer(
            "INSERT INTO deliveries (sid, at) VALUES (journeyc_claim_delivery($1), $2)",
            vec![Box::new(sid.to_string()), Box::new(millis(self.now))],
        );
        Ok(())
    }
}

/// The PostgreSQL store's primitives for `rules::fire` and `rules::expire`.
struct RuleTx<'t, 'c>(&'t mut Tx<'c>);

impl rules::Expiring for RuleTx<'_, '_> {
    fn fail(&mut self, id: &str, problem: &str, now: DateTime<Utc>) -> Result<()> {
        fail_in(self.0, id, problem, now)
    }

    fn write(&mut self, change: &Change, now: DateTime<Utc>) -> Result<()> {
        write(self.0, change, now).map(|_| ())
    }
}

impl rules::Firing for RuleTx<'_, '_> {
    /// One statement ends the timer and saves the session; the timer's row stays
    /// locked, so a replica firing it too waits, then finds it no longer pending.
    fn fire(&mut self, timer_id: i64, change: &Change) -> Result<rules::Fire> {
        let s = &change.state;
        let row = self.0.one(
            "WITH t AS (UPDATE timers SET state = 'fired' WHERE id = $8 AND state = 'pending' RETURNING id), \
             s AS (UPDATE sessions SET status = $2, actor_phone = $3, expires_at = $4, state = $5, version = $7, \
             start_phone = CASE WHEN start_phone = $3 THEN start_phone END, \
             revision = CASE WHEN state = $5 AND version = $7 THEN revision ELSE revision + 1 END \
             WHERE id = $1 AND revision = $6 AND EXISTS (SELECT 1 FROM t) RETURNING revision) \
             SELECT EXISTS (SELECT 1 FROM t), (SELECT revision FROM s)",
            &[
                &s.id,
                &s.status.as_str(),
                &change.phone,
                &millis(s.expires_at),
                &change.json,
                &(s.revision as i64),
                &(s.version as i64),
                &timer_id,
            ],
        )?;
        let pending: bool = get(&row, 0)?;
        let revision: Option<i64> = get(&row, 1)?;
        Ok(match (pending, revision) {
            (false, _) => rules::Fire::Gone,
            (true, Some(r)) => rules::Fire::Fired(r as u64),
            (true, None) => {
                // The session moved on: the timer stays pending, as it was.
                self.0.execute(
                    "UPDATE timers SET state = 'pending' WHERE id = $1",
                    &[&timer_id],
                )?;
                rules::Fire::Conflict
            }
        })
    }

    fn effects(&mut self, change: &Change, now: DateTime<Utc>) -> Result<()> {
        apply_effects(self.0, change, now)
    }
}

fn log(tx: &Tx<'_>, session: &str, now: DateTime<Utc>, text: &str) -> Result<()> {
    tx.defer(
        "INSERT INTO events (session_id, at, text) VALUES ($1, $2, $3)",
        vec![
            Box::new(session.to_string()),
            Box::new(millis(now)),
            Box::new(text.to_string()),
        ],
    );
    Ok(())
}

/// Cancels `session`'s pending timers that belong to steps before `before`.
fn cancel_timers(tx: &Tx<'_>, session: &str, before: usize) -> Result<()> {
    let before = i64::try_from(before).unwrap_or(i64::MAX);
    tx.defer(
        "UPDATE timers SET state = 'cancelled' WHERE session_id = $1 AND state = 'pending' AND step < $2",
        vec![Box::new(session.to_string()), Box::new(before)],
    );
    Ok(())
}

/// Marks session `id` failed, whatever its state and revision, with `problem` in its
/// log, and cancels its pending timers.
fn fail_in(tx: &Tx<'_>, id: &str, problem: &str, now: DateTime<Utc>) -> Result<()> {
    let Some(row) = tx.opt(
        "SELECT state FROM sessions WHERE id = $1 FOR UPDATE",
        &[&id],
    )?
    else {
        return Ok(());
    };
    // Its state says so too, where it still reads.
    let mut state: String = get(&row, 0)?;
    if let Ok(mut json) = serde_json::from_str::<serde_json::Value>(&state) {
        if let Some(o) = json.as_object_mut() {
            o.insert("status".into(), "failed".into());
            state = json.to_string();
        }
    }
    tx.execute(
        "UPDATE sessions SET status = 'failed', revision = revision + 1, state = $2 WHERE id = $1",
        &[&id, &state],
    )?;
    log(tx, id, now, &format!("session failed: {problem}"))?;
    cancel_timers(tx, id, usize::MAX)
}

impl Inner {
    /// A connection from the pool; the pool connects on the store's runtime.
    fn conn(&self) -> Result<deadpool_postgres::Object> {
        let pool = self.pool.clone();
        match wait(self.rt.spawn(async move { pool.get().await })) {
            Ok(conn) => conn.map_err(pool_err),
            Err(e) => Err(StoreError::Unavailable(format!(
                "the store's runtime has stopped: {e}"
            ))),
        }
    }

    /// One query, run whole on the store's runtime (a connection from the pool, the
    /// statement, the rows): this thread waits once, where `with` waits for each step.
    /// For the reads every request makes.
    fn fetch(&self, sql: String, params: Vec<Param>) -> Result<Vec<Row>> {
        let pool = self.pool.clone();
        let task = self.rt.spawn(async move {
            let conn = pool.get().await.map_err(pool_err)?;
            let st = conn.prepare_cached(&sql).await.map_err(pg_err)?;
            let refs: Vec<&(dyn ToSql + Sync)> = params
                .iter()
                .map(|p| p.as_ref() as &(dyn ToSql + Sync))
                .collect();
            conn.query(&st, &refs).await.map_err(pg_err)
        });
        wait(task).unwrap_or_else(|e| {
            Err(StoreError::Unavailable(format!(
                "the store's runtime has stopped: {e}"
            )))
        })
    }

    /// Runs `f`, one statement that stands alone, on a connection other threads'
    /// reads share: made again when it has failed.
    fn read<T>(&self, f: impl FnOnce(&Db<'_>) -> Result<T>) -> Result<T> {
        let i = self.next_shared.fetch_add(1, Ordering::Relaxed) % self.shared.len();
        let conn = {
            let mut slot = self.shared[i].lock().unwrap_or_else(|e| e.into_inner());
            match slot.as_ref().filter(|c| !c.client.is_closed()) {
                Some(c) => c.clone(),
                None => {
                    let (config, tls) = (self.config.clone(), self.tls.clone());
                    let made = wait(self.rt.spawn(async move { connect(&config, &tls).await }))
                        .map_err(|e| {
                            StoreError::Unavailable(format!("the store's runtime has stopped: {e}"))
                        })?
                        .map_err(pg_err)?;
                    let made = Arc::new(SharedConn {
                        client: made,
                        statements: Mutex::default(),
                    });
                    *slot = Some(made.clone());
                    made
                }
            }
        };
        f(&Db::Shared(&conn))
    }

    /// Runs `f` with one connection, outside any transaction.
    fn with<T>(&self, f: impl FnOnce(&Db<'_>) -> Result<T>) -> Result<T> {
        let conn = self.conn()?;
        f(&Db::Pooled(&conn))
    }

    /// Runs `f` in a transaction and commits it; a transaction that PostgreSQL aborts
    /// for a deadlock or a serialization failure runs again, a few times at most.
    fn transaction<T>(&self, f: impl FnMut(&mut Tx<'_>) -> Result<T>) -> Result<T> {
        let conn = self.conn()?;
        transaction(&Db::Pooled(&conn), f)
    }

    /// The committer of lane `i`: commits what is queued, batch after batch, until
    /// the store closes and nothing is left.
    fn commit_queued(&self, i: usize) {
        let lane = &self.lanes[i];
        // Its own connection, made again after it fails.
        let mut own: Option<OwnConn> = None;
        loop {
            let batch: Vec<Queued> = {
                let mut queue = lane.queue.lock().unwrap_or_else(|e| e.into_inner());
                while queue.jobs.is_empty() && !queue.closing {
                    queue = lane.queued.wait(queue).unwrap_or_else(|e| e.into_inner());
                }
                if queue.jobs.is_empty() {
                    return;
                }
                let n = queue.jobs.len().min(BATCH);
                queue.jobs.drain(..n).collect()
            };
            let mut batch = batch;
            // Rows are locked in one order by every batch of every replica, so batches
            // never deadlock; a session's changes keep their order (the sort is stable).
            batch.sort_by(|a, b| a.session.cmp(&b.session));
            let (jobs, slots): (Vec<Job>, Vec<Arc<Slot>>) =
                batch.into_iter().map(|q| (q.job, q.slot)).unzip();
            if own.as_ref().is_none_or(|c| c.client.is_closed()) {
                own = OwnConn::connect(self)
                    .map_err(|e| {
                        let failed: Vec<Result<i64>> =
                            jobs.iter().map(|_| Err(copy_error(&e))).collect();
                        durable::deliver_all(slots.iter().cloned().zip(failed).collect());
                    })
                    .ok();
                if own.is_none() {
                    continue;
                }
            }
            let conn = own.as_ref().expect("connected above");
            let results = commit_batch(&Db::Own(conn), &jobs);
            durable::deliver_all(slots.into_iter().zip(results).collect());
        }
    }

    /// Says this replica is alive.
    async fn beat(pool: &Pool, replica: &str) -> std::result::Result<(), String> {
        let client = pool.get().await.map_err(|e| e.to_string())?;
        client
            .execute(
                "INSERT INTO replicas (id, seen_at) VALUES ($1, $2) ON CONFLICT (id) DO UPDATE SET seen_at = $2",
                &[&replica, &wall_ms()],
            )
            .await
            .map(|_| ())
            .map_err(|e| e.to_string())
    }
}

/// Runs `f` in a transaction on `db` and commits it; a transaction that PostgreSQL
/// aborts for a deadlock or a serialization failure runs again, a few times at most.
fn transaction<T>(db: &Db<'_>, mut f: impl FnMut(&mut Tx<'_>) -> Result<T>) -> Result<T> {
    let mut attempt = 1;
    loop {
        let mut tx = Tx::begin(db);
        let result = f(&mut tx).and_then(|v| tx.commit().map(|()| v));
        match result {
            Ok(v) => return Ok(v),
            Err(e) => {
                tx.rollback();
                if attempt < TX_ATTEMPTS && contended(&e) {
                    attempt += 1;
                    continue;
                }
                return Err(e);
            }
        }
    }
}

/// Commits `jobs` in one transaction; a result for each, whatever happens. Changes
/// almost never fail, so a batch first runs as one; if one fails, all are undone
/// and run again, each in its own savepoint, so that a failure undoes that change
/// alone.
fn commit_batch(db: &Db<'_>, jobs: &[Job]) -> Vec<Result<i64>> {
    let run = |savepoints: bool| -> Result<Option<Vec<Result<Answered>>>> {
        let mut out = Vec::with_capacity(jobs.len());
        let mut failed = false;
        transaction(db, |tx| {
            out.clear();
            failed = false;
            for job in jobs {
                if savepoints {
                    tx.batch("SAVEPOINT job")?;
                }
                // With savepoints, a change's deferred writes are sent before its
                // savepoint is released, so their failure is its own.
                let result = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                    job(tx).and_then(|v| {
                        if savepoints {
                            tx.flush().map(|()| v)
                        } else {
                            Ok(v)
                        }
                    })
                }))
                .unwrap_or_else(|_| Err(StoreError::new("a change panicked and was rolled back")));
                if result.is_err() {
                    tx.discard();
                }
                // A change answered by a deferred write's count is answered once that
                // write has run: at the latest, when the batch commits.
                let answer = tx.answer.take();
                match (result, savepoints) {
                    (Ok(v), true) => {
                        tx.batch("RELEASE SAVEPOINT job")?;
                        out.push(Ok((v, answer)));
                    }
                    (Ok(v), false) => out.push(Ok((v, answer))),
                    (Err(e), _) if contended(&e) => return Err(e),
                    (Err(_), false) => {
                        failed = true;
                        return Err(StoreError::new("one change failed"));
                    }
                    (Err(e), true) => {
                        tx.batch("ROLLBACK TO SAVEPOINT job; RELEASE SAVEPOINT job")?;
                        out.push(Err(e));
                    }
                }
            }
            // Without savepoints, the changes' last writes go now: if one fails, they
            // run again, each in its own savepoint.
            if !savepoints {
                if let Err(e) = tx.flush() {
                    if contended(&e) {
                        return Err(e);
                    }
                    failed = true;
                    return Err(StoreError::new("one change failed"));
                }
            }
            Ok(())
        })
        .map(|()| Some(std::mem::take(&mut out)))
        .or_else(|e| if failed { Ok(None) } else { Err(e) })
    };
    let outcome = match run(false) {
        Ok(Some(results)) => Ok(results),
        Ok(None) => run(true).map(|r| r.expect("with savepoints every change has a result")),
        Err(e) => Err(e),
    };
    match outcome {
        Ok(results) => results
            .into_iter()
            .map(|r| match r? {
                (v, None) => Ok(v),
                (_, Some(count)) => count
                    .get()
                    .map(|n| n as i64)
                    .ok_or_else(|| StoreError::new("a committed write left no count")),
            })
            .collect(),
        Err(e) => jobs.iter().map(|_| Err(copy_error(&e))).collect(),
    }
}

/// The same error again, for each change of a batch that failed as a whole.
fn copy_error(e: &StoreError) -> StoreError {
    match e {
        StoreError::Unavailable(m) => StoreError::Unavailable(m.clone()),
        other => StoreError::Other(other.to_string()),
    }
}

/// Listens for `NOTIFY journeyc_due` on a connection of its own and rings `wakeup`,
/// reconnecting for as long as the store is open. A (re)connection rings too: what
/// was announced while no one listened is read again.
async fn listen(inner: Arc<Inner>, wakeup: Arc<Wakeup>) {
    let mut backoff = Duration::from_millis(100);
    while !inner.closing.load(Ordering::Relaxed) {
        let heard = match &inner.tls {
            Some(tls) => match inner.config.connect(tls.clone()).await {
                Ok((client, connection)) => hear(&inner, &wakeup, client, connection).await,
                Err(_) => false,
            },
            None => match inner.config.connect(NoTls).await {
                Ok((client, connection)) => hear(&inner, &wakeup, client, connection).await,
                Err(_) => false,
            },
        };
        if heard {
            backoff = Duration::from_millis(100);
        }
        tokio::time::sleep(backoff).await;
        backoff = (backoff * 2).min(Duration::from_secs(1));
    }
}

/// Listens on one connection until it ends; whether it connected.
async fn hear<S, T>(
    inner: &Inner,
    wakeup: &Wakeup,
    client: tokio_postgres::Client,
    mut connection: tokio_postgres::Connection<S, T>,
) -> bool
where
    S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin,
    T: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin,
{
    // The client must live while the connection is polled, and its `LISTEN` only
    // runs while it is.
    let listening = tokio::spawn(async move {
        let r = client.batch_execute(&format!("LISTEN {DUE_CHANNEL}")).await;
        (client, r)
    });
    wakeup.ring_for(DateTime::<Utc>::MIN_UTC);
    loop {
        match std::future::poll_fn(|cx| connection.poll_message(cx)).await {
            Some(Ok(tokio_postgres::AsyncMessage::Notification(n))) => {
                let due = n.payload().parse().map(instant);
                wakeup.ring_for(due.unwrap_or(DateTime::<Utc>::MIN_UTC));
            }
            Some(Ok(_)) => {}
            Some(Err(_)) | None => break,
        }
        if inner.closing.load(Ordering::Relaxed) {
            break;
        }
    }
    drop(listening);
    true
}

/// The TLS of `sslmode=require`, as libpq reads it: the connection is encrypted and
/// the handshake's signatures are checked, but the server's certificate is not
/// checked against a CA (tokio-postgres parses no `verify-full`).
fn encrypt_only() -> Result<tokio_postgres_rustls::MakeRustlsConnect> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let config = rustls::ClientConfig::builder_with_provider(provider.clone())
        .with_safe_default_protocol_versions()
        .map_err(|e| StoreError::new(format!("TLS: {e}")))?
        .dangerous()
        .with_custom_certificate_verifier(Arc::new(EncryptOnly(provider)))
        .with_no_client_auth();
    Ok(tokio_postgres_rustls::MakeRustlsConnect::new(config))
}

#[derive(Debug)]
struct EncryptOnly(Arc<rustls::crypto::CryptoProvider>);

impl rustls::client::danger::ServerCertVerifier for EncryptOnly {
    fn verify_server_cert(
        &self,
        _end_entity: &rustls::pki_types::CertificateDer<'_>,
        _intermediates: &[rustls::pki_types::CertificateDer<'_>],
        _server_name: &rustls::pki_types::ServerName<'_>,
        _ocsp_response: &[u8],
        _now: rustls::pki_types::UnixTime,
    ) -> std::result::Result<rustls::client::danger::ServerCertVerified, rustls::Error> {
        Ok(rustls::client::danger::ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &rustls::pki_types::CertificateDer<'_>,
        dss: &rustls::DigitallySignedStruct,
    ) -> std::result::Result<rustls::client::danger::HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &rustls::pki_types::CertificateDer<'_>,
        dss: &rustls::DigitallySignedStruct,
    ) -> std::result::Result<rustls::client::danger::HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }

    fn supported_verify_schemes(&self) -> Vec<rustls::SignatureScheme> {
        self.0.signature_verification_algorithms.supported_schemes()
    }
}

impl PgStore {
    /// Connects to the database at `url` (`postgres://USER@HOST:PORT/DB`), brings its
    /// schema up to date under an advisory lock (replicas starting together migrate
    /// once), and starts this replica's committers and heartbeat.
    pub fn open(url: &str) -> Result<PgStore> {
        let mut config: tokio_postgres::Config = url.parse().map_err(|e| {
            StoreError::Other(format!(
                "`{}` is not a PostgreSQL URL: {e}",
                redact_url(url)
            ))
        })?;
        // TLS only when asked for: `prefer`, the default, stays plain, since a server's
        // self-signed certificate would otherwise fail a connection that works.
        let tls = match config.get_ssl_mode() {
            tokio_postgres::config::SslMode::Require => Some(encrypt_only()?),
            _ => {
                config.ssl_mode(tokio_postgres::config::SslMode::Disable);
                None
            }
        };
        if config.get_connect_timeout().is_none() {
            config.connect_timeout(Duration::from_secs(5));
        }
        if config.get_application_name().is_none() {
            config.application_name("journeyc");
        }
        config.keepalives_idle(Duration::from_secs(10));
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .thread_name("journeyc-postgres")
            .enable_all()
            .build()
            .map_err(|e| StoreError::Other(format!("cannot start the store's runtime: {e}")))?;
        let manager_config = || ManagerConfig {
            recycling_method: RecyclingMethod::Fast,
        };
        let manager = match &tls {
            Some(tls) => Manager::from_config(config.clone(), tls.clone(), manager_config()),
            None => Manager::from_config(config.clone(), NoTls, manager_config()),
        };
        let pool = Pool::builder(manager)
            .max_size(POOL_SIZE)
            .runtime(deadpool_postgres::Runtime::Tokio1)
            .wait_timeout(Some(Duration::from_secs(5)))
            .create_timeout(Some(Duration::from_secs(5)))
            .build()
            .map_err(|e| StoreError::Other(format!("cannot make a connection pool: {e}")))?;
        let mut id = [0u8; 9];
        getrandom::fill(&mut id).map_err(|e| StoreError::new(e.to_string()))?;
        let replica = id.iter().map(|b| format!("{b:02x}")).collect::<String>();
        let reads = reads::Reads::new(config.clone(), tls.clone());
        let inner = Arc::new(Inner {
            rt: runtime.handle().clone(),
            pool,
            config,
            tls,
            replica,
            lanes: (0..LANES).map(|_| Lane::default()).collect(),
            closing: AtomicBool::new(false),
            listening: AtomicBool::new(false),
            reads,
            shared: (0..SHARED_CONNS).map(|_| Mutex::default()).collect(),
            next_shared: Default::default(),
        });
        inner.with(migrate).map_err(|e| match e {
            StoreError::Unavailable(m) => StoreError::Unavailable(format!(
                "cannot reach PostgreSQL at `{}`: {m}",
                redact_url(url)
            )),
            other => other,
        })?;
        {
            let pool = inner.pool.clone();
            let replica = inner.replica.clone();
            wait(runtime.spawn(async move { Inner::beat(&pool, &replica).await }))
                .map_err(|e| StoreError::new(e.to_string()))?
                .map_err(StoreError::Unavailable)?;
        }
        let beating = inner.clone();
        runtime.spawn(async move {
            while !beating.closing.load(Ordering::Relaxed) {
                tokio::time::sleep(HEARTBEAT).await;
                // A failed beat is tried again at the next; a replica silent for long
                // enough has its claims recovered, which is safe (see `recover_sending`).
                let _ = Inner::beat(&beating.pool, &beating.replica).await;
            }
        });
        let committers = (0..LANES)
            .map(|i| {
                let inner = inner.clone();
                std::thread::Builder::new()
                    .name(format!("journeyc-commit-{i}"))
                    .spawn(move || inner.commit_queued(i))
                    .map_err(|e| StoreError::new(format!("cannot start a committer: {e}")))
            })
            .collect::<Result<Vec<_>>>()?;
        Ok(PgStore {
            inner,
            committers,
            runtime: Some(runtime),
        })
    }

    /// This replica's id, as its claims name it.
    pub fn replica(&self) -> &str {
        &self.inner.replica
    }

    /// The schema version of the database: how many migrations have run.
    pub fn schema_version(&self) -> Result<i64> {
        self.inner.with(|db| {
            get(
                &db.one(
                    "SELECT COALESCE(MAX(version), 0) FROM journeyc_migrations",
                    &[],
                )?,
                0,
            )
        })
    }

    /// Queues a change of `session` for its lane's committer.
    fn queue(
        &self,
        session: &str,
        job: impl Fn(&mut Tx<'_>) -> Result<i64> + Send + 'static,
    ) -> Durable {
        let lane = &self.inner.lanes[lane_of(session)];
        let slot = Arc::new(Slot::default());
        let first = {
            let mut queue = lane.queue.lock().unwrap_or_else(|e| e.into_inner());
            queue.jobs.push(Queued {
                session: session.to_string(),
                job: Box::new(job),
                slot: slot.clone(),
            });
            queue.jobs.len() == 1
        };
        // The committer sleeps only when nothing is queued.
        if first {
            lane.queued.notify_one();
        }
        Durable::waiting(slot)
    }

    /// Commits a small change with whatever else its lane has queued (one commit for
    /// many, rather than one each), and waits until it is durable. `key` picks the
    /// lane; `f` may run twice (see `commit_batch`).
    fn write(
        &self,
        key: &str,
        f: impl Fn(&mut Tx<'_>) -> Result<()> + Send + 'static,
    ) -> Result<()> {
        self.queue(key, move |tx| f(tx).map(|()| 0))
            .wait()
            .map(|_| ())
    }

    /// `write` for a change whose outcome is a count.
    fn write_counted(
        &self,
        key: &str,
        f: impl Fn(&mut Tx<'_>) -> Result<u64> + Send + 'static,
    ) -> Result<u64> {
        self.queue(key, move |tx| f(tx).map(|n| n as i64))
            .wait()
            .map(|n| n as u64)
    }

    fn read<T>(&self, f: impl FnOnce(&Db<'_>) -> Result<T>) -> Result<T> {
        self.inner.read(f)
    }

    fn transaction<T>(&self, f: impl FnMut(&mut Tx<'_>) -> Result<T>) -> Result<T> {
        self.inner.transaction(f)
    }
}

impl PgStore {
    /// A URL without its password, for messages and logs; any other text as it is.
    pub fn redact_url(url: &str) -> String {
        redact_url(url)
    }
}

/// One firing's result, as `Store::fire_timers` gives it.
type Fired = Result<Option<u64>>;

/// The lane of a session's changes: always the same, so they commit in order.
fn lane_of(session: &str) -> usize {
    use std::hash::{Hash, Hasher};
    let mut h = std::collections::hash_map::DefaultHasher::new();
    session.hash(&mut h);
    (h.finish() as usize) % LANES
}

/// A URL without its password, for messages.
fn redact_url(url: &str) -> String {
    match (url.find("://"), url.rfind('@')) {
        (Some(scheme), Some(at)) if at > scheme => {
            let userinfo = &url[scheme + 3..at];
            match userinfo.find(':') {
                Some(colon) => format!(
                    "{}{}:***{}",
                    &url[..scheme + 3],
                    &userinfo[..colon],
                    &url[at..]
                ),
                None => url.to_string(),
            }
        }
        _ => url.to_string(),
    }
}

/// Brings the schema up to date, one replica at a time.
fn migrate(db: &Db<'_>) -> Result<()> {
    db.execute("SELECT pg_advisory_lock($1)", &[&MIGRATION_LOCK])?;
    let migrated = (|| {
        db.batch(
            "CREATE TABLE IF NOT EXISTS journeyc_migrations (version BIGINT PRIMARY KEY, applied_at TIMESTAMPTZ NOT NULL DEFAULT now())",
        )?;
        let version: i64 = get(
            &db.one(
                "SELECT COALESCE(MAX(version), 0) FROM journeyc_migrations",
                &[],
            )?,
            0,
        )?;
        if version as usize > MIGRATIONS.len() {
            return Err(StoreError::Other(format!(
                "the database is from a newer journeyc (schema {version}, this one knows {})",
                MIGRATIONS.len()
            )));
        }
        for (i, sql) in MIGRATIONS.iter().enumerate().skip(version as usize) {
            db.batch("BEGIN")?;
            let step = db
                .batch(sql)
                .and_then(|()| {
                    db.execute(
                        "INSERT INTO journeyc_migrations (version) VALUES ($1)",
                        &[&(i as i64 + 1)],
                    )
                })
                .and_then(|_| db.batch("COMMIT"));
            if let Err(e) = step {
                let _ = db.batch("ROLLBACK");
                return Err(e);
            }
        }
        Ok(())
    })();
    let unlocked = db.execute("SELECT pg_advisory_unlock($1)", &[&MIGRATION_LOCK]);
    migrated.and(unlocked.map(|_| ()))
}

impl Drop for PgStore {
    /// Commits what is queued, says goodbye in `replicas`, and stops the runtime.
    fn drop(&mut self) {
        for lane in &self.inner.lanes {
            lane.queue.lock().unwrap_or_else(|e| e.into_inner()).closing = true;
            lane.queued.notify_all();
        }
        for c in self.committers.drain(..) {
            let _ = c.join();
        }
        self.inner.closing.store(true, Ordering::Relaxed);
        let replica = self.inner.replica.clone();
        let _ = self
            .inner
            .with(|db| db.execute("DELETE FROM replicas WHERE id = $1", &[&replica]));
        if let Some(rt) = self.runtime.take() {
            // Dropping a runtime may not block inside another's task: this does not.
            rt.shutdown_background();
        }
    }
}

impl Store for PgStore {
    fn shared(&self) -> bool {
        true
    }

    fn live_peers(&self) -> Result<usize> {
        let (me, alive_since) = (self.inner.replica.as_str(), wall_ms() - REPLICA_DEAD_MS);
        self.read(|db| {
            let row = db.one(
                "SELECT COUNT(*) FROM replicas WHERE id <> $1 AND seen_at > $2",
                &[&me, &alive_since],
            )?;
            Ok(get::<i64>(&row, 0)? as usize)
        })
    }

    fn watch(&self, wakeup: Arc<Wakeup>) {
        if !self.inner.listening.swap(true, Ordering::SeqCst) {
            self.inner.rt.spawn(listen(self.inner.clone(), wakeup));
        }
    }

    fn create_session_queued(
        &self,
        state: &SessionState,
        token_hash: &[u8],
        effects: &[Effect],
        now: DateTime<Utc>,
    ) -> Durable {
        let change = Change::new(
            SessionState {
                revision: 1,
                ..state.clone()
            },
            effects.to_vec(),
        );
        let token_hash = token_hash.to_vec();
        self.queue(&state.id, move |tx| {
            let s = &change.state;
            let number = s.started_for();
            if let Some(number) = number {
                // Claimed first (see `journeyc_claim_number`, which also frees the
                // number from a holder past its expiry), so that the insert never
                // waits on another change's row in the index; both fail as a conflict
                // (see `wire::pg_err`), and the start runs again and finds the holder.
                tx.defer(
                    "SELECT journeyc_claim_number($1, $2, $3)",
                    vec![
                        Box::new(s.journey.clone()),
                        Box::new(number.to_string()),
                        Box::new(millis(now)),
                    ],
                );
            }
            tx.defer(
                "INSERT INTO sessions (id, journey, token_hash, status, actor_phone, expires_at, state, revision, version, start_phone) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7, 1, $8, $9)",
                vec![
                    Box::new(s.id.clone()),
                    Box::new(s.journey.clone()),
                    Box::new(token_hash.clone()),
                    Box::new(s.status.as_str()),
                    Box::new(change.phone.clone()),
                    Box::new(millis(s.expires_at)),
                    Box::new(change.json.clone()),
                    Box::new(s.version as i64),
                    Box::new(number.map(str::to_string)),
                ],
            );
            apply_effects(tx, &change, now)?;
            Ok(1)
        })
    }

    fn deploy(
        &self,
        journey: &str,
        fingerprint: &str,
        format: u32,
        ir: &str,
        now: DateTime<Utc>,
    ) -> Result<(u32, bool)> {
        self.transaction(|tx| {
            // Replicas starting together number each journey's versions one at a time.
            tx.execute(
                "SELECT pg_advisory_xact_lock(hashtextextended($1, 0))",
                &[&format!("journeyc deploy {journey}")],
            )?;
            if let Some(row) = tx.opt(
                "SELECT version FROM journey_versions WHERE journey = $1 AND fingerprint = $2",
                &[&journey, &fingerprint],
            )? {
                return Ok((get::<i64>(&row, 0)? as u32, false));
            }
            let v: i64 = get(
                &tx.one(
                    "SELECT COALESCE(MAX(version), 0) + 1 FROM journey_versions WHERE journey = $1",
                    &[&journey],
                )?,
                0,
            )?;
            tx.execute(
                "INSERT INTO journey_versions (journey, version, fingerprint, format, ir, deployed_at) VALUES ($1, $2, $3, $4, $5, $6)",
                &[&journey, &v, &fingerprint, &(format as i64), &ir, &millis(now)],
            )?;
            Ok((v as u32, true))
        })
    }

    fn journey_versions(&self) -> Result<Vec<JourneyVersion>> {
        self.read(|db| {
            rows(
                db.query(
                    "SELECT journey, version, fingerprint, format, ir, deployed_at FROM journey_versions ORDER BY journey, version",
                    &[],
                )?,
                |r| {
                    Ok(JourneyVersion {
                        journey: get(r, 0)?,
                        version: get::<i64>(r, 1)? as u32,
                        fingerprint: get(r, 2)?,
                        format: get::<i64>(r, 3)? as u32,
                        ir: get(r, 4)?,
                        deployed_at: instant(get(r, 5)?),
                    })
                },
            )
        })
    }

    fn adopt_unversioned(&self, journey: &str, version: u32) -> Result<usize> {
        self.transaction(|tx| {
            tx.execute(
                "UPDATE sessions SET version = $2 WHERE journey = $1 AND version = 0",
                &[&journey, &(version as i64)],
            )
            .map(|n| n as usize)
        })
    }

    fn live_sessions_by_version(&self) -> Result<Vec<(String, u32, u64)>> {
        self.read(|db| {
            rows(
                db.query(
                    "SELECT journey, version, COUNT(*) FROM sessions WHERE status = 'active' GROUP BY journey, version ORDER BY journey, version",
                    &[],
                )?,
                |r| Ok((get(r, 0)?, get::<i64>(r, 1)? as u32, get::<i64>(r, 2)? as u64)),
            )
        })
    }

    fn live_session_ids(&self, journey: &str, version: u32) -> Result<Vec<String>> {
        self.read(|db| {
            rows(
                db.query(
                    "SELECT id FROM sessions WHERE journey = $1 AND version = $2 AND status = 'active' ORDER BY seq",
                    &[&journey, &(version as i64)],
                )?,
                |r| get(r, 0),
            )
        })
    }

    fn recent_session_ids(&self, limit: usize) -> Result<Vec<String>> {
        self.read(|db| {
            rows(
                db.query(
                    "SELECT id FROM sessions ORDER BY seq DESC LIMIT $1",
                    &[&(limit as i64)],
                )?,
                |r| get(r, 0),
            )
        })
    }

    fn session_timers(&self, session_id: &str) -> Result<Vec<Timer>> {
        self.read(|db| {
            rows(
                db.query(
                    &format!("SELECT {TIMER} FROM timers WHERE session_id = $1 AND state = 'pending' ORDER BY due, id"),
                    &[&session_id],
                )?,
                timer_from,
            )
        })
    }

    fn fail_session(&self, session_id: &str, problem: &str, now: DateTime<Utc>) -> Result<()> {
        self.transaction(|tx| fail_in(tx, session_id, problem, now))
    }

    fn session(&self, id: &str) -> Result<Option<SessionState>> {
        let rows = self.inner.fetch(
            format!("{SESSION} WHERE id = $1"),
            vec![Box::new(id.to_string())],
        )?;
        rows.first().map(session_from).transpose()
    }

    fn session_by_token(&self, token_hash: &[u8]) -> Result<Option<SessionState>> {
        let rows = self.inner.fetch(
            format!("{SESSION} WHERE token_hash = $1"),
            vec![Box::new(token_hash.to_vec())],
        )?;
        rows.first().map(session_from).transpose()
    }

    fn session_by_token_async(&self, token_hash: &[u8]) -> store::Read<Option<SessionState>> {
        Box::pin(self.inner.reads.token(token_hash))
    }

    fn active_session_for_phone(
        &self,
        journey: &str,
        phone: &str,
        now: DateTime<Utc>,
    ) -> Result<Option<SessionState>> {
        self.read(|db| {
            db.opt(
                &format!("{SESSION} WHERE journey = $1 AND actor_phone = $2 AND status = 'active' AND expires_at > $3 ORDER BY seq DESC LIMIT 1"),
                &[&journey, &phone, &millis(now)],
            )?
            .map(|r| session_from(&r))
            .transpose()
        })
    }

    fn active_sessions_for_phone(
        &self,
        phone: &str,
        now: DateTime<Utc>,
    ) -> Result<Vec<SessionState>> {
        self.read(|db| {
            rows(
                db.query(
                    &format!("{SESSION} WHERE actor_phone = $1 AND status = 'active' AND expires_at > $2 ORDER BY seq DESC"),
                    &[&phone, &millis(now)],
                )?,
                session_from,
            )
        })
    }

    fn inbound(&self, delivery: Option<&str>, phone: &str, now: DateTime<Utc>) -> Result<Inbound> {
        let rows = self.read(|db| {
            db.query(
                reads::INBOUND,
                &[&vec![delivery], &vec![phone], &vec![millis(now)]],
            )
        })?;
        reads::inbound_from(&rows, 1)
            .pop()
            .expect("one answer for one read")
    }

    fn inbound_async(
        &self,
        delivery: Option<&str>,
        phone: &str,
        now: DateTime<Utc>,
    ) -> store::Read<Inbound> {
        Box::pin(self.inner.reads.inbound(delivery, phone, millis(now)))
    }

    fn apply_queued(
        &self,
        state: &SessionState,
        effects: &[Effect],
        now: DateTime<Utc>,
    ) -> Durable {
        let change = Change::new(state.clone(), effects.to_vec());
        self.queue(&state.id, move |tx| {
            write(tx, &change, now).map(|r| r as i64)
        })
    }

    fn fire_timers(
        &self,
        fires: Vec<(i64, SessionState, Vec<Effect>)>,
        now: DateTime<Utc>,
    ) -> Result<Vec<Result<Option<u64>>>> {
        // Each session's firings go to its lane, in order, and commit with what else
        // is queued there (group commit, on the lane's own connection); a lane's
        // batch locks sessions in one order, so replicas firing timers of the same
        // sessions never deadlock. Results go back in the order asked.
        let mut by_lane: Vec<Vec<(usize, i64, Change)>> = (0..LANES).map(|_| Vec::new()).collect();
        let total = fires.len();
        for (i, (id, state, effects)) in fires.into_iter().enumerate() {
            by_lane[lane_of(&state.id)].push((i, id, Change::new(state, effects)));
        }
        let results: Arc<Mutex<Vec<Option<Fired>>>> =
            Arc::new(Mutex::new((0..total).map(|_| None).collect()));
        let mut waiting = Vec::new();
        for mut fires in by_lane.into_iter().filter(|f| !f.is_empty()) {
            // A session's firings in order, sessions in one order.
            fires.sort_by(|a, b| a.2.state.id.cmp(&b.2.state.id));
            let key = fires[0].2.state.id.clone();
            let (index, sorted): (Vec<usize>, Vec<(i64, Change)>) =
                fires.into_iter().map(|(i, id, c)| (i, (id, c))).unzip();
            let out = results.clone();
            waiting.push(self.queue(&key, move |tx| {
                let fired = rules::fire(&mut RuleTx(tx), &sorted, now)?;
                let mut out = out.lock().unwrap_or_else(|e| e.into_inner());
                for (&i, r) in index.iter().zip(fired) {
                    out[i] = Some(r);
                }
                Ok(0)
            }));
        }
        for durable in waiting {
            durable.wait()?;
        }
        let mut results = results.lock().unwrap_or_else(|e| e.into_inner());
        results
            .iter_mut()
            .map(|r| {
                r.take()
                    .ok_or_else(|| StoreError::new("a firing has no result"))
            })
            .collect()
    }

    fn expire_sessions(&self, now: DateTime<Utc>, limit: usize) -> Result<usize> {
        self.transaction(|tx| {
            let due = tx
                .query(
                    &format!("{SESSION} WHERE status = 'active' AND expires_at <= $1 ORDER BY expires_at LIMIT $2 FOR UPDATE SKIP LOCKED"),
                    &[&millis(now), &(limit as i64)],
                )?
                .iter()
                .map(session_from)
                .collect();
            rules::expire(&mut RuleTx(tx), due, now)
        })
    }

    fn next_expiry(&self) -> Result<Option<DateTime<Utc>>> {
        self.read(|db| {
            let row = db.one(
                "SELECT MIN(expires_at) FROM sessions WHERE status = 'active'",
                &[],
            )?;
            Ok(get::<Option<i64>>(&row, 0)?.map(instant))
        })
    }

    fn skip_timer(&self, timer_id: i64, reason: &str, now: DateTime<Utc>) -> Result<bool> {
        self.transaction(|tx| {
            let Some(row) = tx.opt(
                "UPDATE timers SET state = 'skipped' WHERE id = $1 AND state = 'pending' RETURNING session_id, key",
                &[&timer_id],
            )?
            else {
                return Ok(false);
            };
            let (session, key): (String, String) = (get(&row, 0)?, get(&row, 1)?);
            log(tx, &session, now, &format!("timer `{key}` skipped: {reason}"))?;
            Ok(true)
        })
    }

    fn next_timer_due(&self) -> Result<Option<DateTime<Utc>>> {
        let (me, wall) = (self.inner.replica.as_str(), wall_ms());
        self.read(|db| {
            // The earliest timer free to take, and when the earliest lease another
            // replica holds runs out: until then, its timers are its to fire.
            let free = db.opt(
                "SELECT due FROM timers WHERE state = 'pending' AND (lease_until < $1 OR claimed_by = $2) ORDER BY due, id LIMIT 1",
                &[&wall, &me],
            )?;
            let leased = db.one(
                "SELECT MIN(GREATEST(due, lease_until)) FROM timers WHERE state = 'pending' AND lease_until >= $1 AND claimed_by <> $2",
                &[&wall, &me],
            )?;
            let free: Option<i64> = free.map(|r| get(&r, 0)).transpose()?;
            let leased: Option<i64> = get(&leased, 0)?;
            Ok(free.into_iter().chain(leased).min().map(instant))
        })
    }

    fn due_timers(&self, until: DateTime<Utc>, limit: usize) -> Result<Vec<Timer>> {
        let (me, wall) = (self.inner.replica.clone(), wall_ms());
        let mut timers = self.transaction(|tx| {
            rows(
                tx.query(
                    &format!(
                        "UPDATE timers SET claimed_by = $3, lease_until = $4 + {TIMER_LEASE_MS} WHERE id IN (\
                         SELECT id FROM timers WHERE state = 'pending' AND due <= $1 AND (lease_until < $4 OR claimed_by = $3) \
                         ORDER BY due, id LIMIT $2 FOR UPDATE SKIP LOCKED) RETURNING {TIMER}"
                    ),
                    &[&millis(until), &(limit as i64), &me, &wall],
                )?,
                timer_from,
            )
        })?;
        timers.sort_by_key(|t| (t.due, t.id));
        Ok(timers)
    }

    fn events(&self, session_id: &str) -> Result<Vec<(DateTime<Utc>, String)>> {
        self.read(|db| {
            rows(
                db.query(
                    "SELECT at, text FROM events WHERE session_id = $1 ORDER BY id",
                    &[&session_id],
                )?,
                |r| Ok((instant(get(r, 0)?), get(r, 1)?)),
            )
        })
    }

    fn outbox(&self, session_id: Option<&str>) -> Result<Vec<Message>> {
        self.read(|db| {
            rows(
                db.query(
                    &format!("SELECT {MESSAGE} FROM outbox WHERE $1::TEXT IS NULL OR session_id = $1 ORDER BY id"),
                    &[&session_id],
                )?,
                message_from,
            )
        })
    }

    fn messages_with_status(
        &self,
        status: MessageStatus,
        after: i64,
        limit: usize,
    ) -> Result<Vec<Message>> {
        self.read(|db| {
            rows(
                db.query(
                    &format!("SELECT {MESSAGE} FROM outbox WHERE status = $1 AND id > $2 ORDER BY id LIMIT $3"),
                    &[&status.as_str(), &after, &(limit as i64)],
                )?,
                message_from,
            )
        })
    }

    fn set_message_status(&self, id: i64, status: MessageStatus, note: Option<&str>) -> Result<()> {
        let note = note.map(str::to_string);
        // A text that has left, or will not be sent again, needs its link no more.
        let left = status.rank() >= MessageStatus::Sent.rank();
        self.write(&format!("message {id}"), move |tx| {
            tx.defer(
                concat!(
                    "UPDATE outbox SET status = $2, note = COALESCE($3, note), \
                     body = CASE WHEN $4 THEN ",
                    redacted_body!(),
                    " ELSE body END, redacted = CASE WHEN $4 THEN NULL ELSE redacted END WHERE id = $1"
                ),
                vec![
                    Box::new(id),
                    Box::new(status.as_str()),
                    Box::new(note.clone()),
                    Box::new(left),
                ],
            );
            Ok(())
        })
    }

    fn claim_messages(&self, limit: usize, skip_from: &[String]) -> Result<Vec<Message>> {
        let me = self.inner.replica.as_str();
        let skip = skip_from.to_vec();
        let mut claimed = self.read(|db| {
            rows(
                db.query(
                    &format!(
                        "UPDATE outbox SET status = 'claimed', claimed_by = $3 WHERE id IN (\
                         SELECT id FROM outbox WHERE status = 'pending' AND NOT (from_number = ANY($2)) \
                         ORDER BY id LIMIT $1 FOR UPDATE SKIP LOCKED) RETURNING {MESSAGE}"
                    ),
                    &[&(limit as i64), &skip, &me],
                )?,
                message_from,
            )
        })?;
        claimed.sort_by_key(|m| m.id);
        Ok(claimed)
    }

    fn start_sending_queued(&self, id: i64) -> Durable {
        let me = self.inner.replica.clone();
        self.queue(&format!("message {id}"), move |tx| {
            tx.counted(
                "UPDATE outbox SET status = 'sending' WHERE id = $1 AND status = 'claimed' AND claimed_by = $2",
                vec![Box::new(id), Box::new(me.clone())],
            );
            Ok(0)
        })
    }

    fn release_claimed(&self) -> Result<usize> {
        let me = self.inner.replica.as_str();
        self.read(|db| {
            db.execute(
                "UPDATE outbox SET status = 'pending', claimed_by = NULL WHERE status = 'claimed' AND claimed_by = $1",
                &[&me],
            )
            .map(|n| n as usize)
        })
    }

    fn release_claim(&self, id: i64) -> Result<bool> {
        let me = self.inner.replica.as_str();
        self.read(|db| {
            db.execute(
                "UPDATE outbox SET status = 'pending', claimed_by = NULL WHERE id = $1 AND status = 'claimed' AND claimed_by = $2",
                &[&id, &me],
            )
            .map(|n| n == 1)
        })
    }

    fn resend_unknown(&self, id: i64, note: &str) -> Result<bool> {
        self.read(|db| {
            db.execute(
                "UPDATE outbox SET status = 'pending', claimed_by = NULL, note = $2 WHERE id = $1 AND status = 'unknown'",
                &[&id, &note],
            )
            .map(|n| n == 1)
        })
    }

    fn message_sent_queued(&self, id: i64, sid: &str) -> Durable {
        let sid = sid.to_string();
        self.queue(&format!("message {id}"), move |tx| {
            // A status callback may have raced ahead and recorded a later status. Sent
            // with the batch's other writes: nothing here needs an answer.
            tx.defer(
                concat!(
                    "UPDATE outbox SET sid = $2, status = CASE WHEN status IN ('sending', 'unknown', 'pending', 'claimed') THEN 'sent' ELSE status END, \
                     body = ",
                    redacted_body!(),
                    ", redacted = NULL WHERE id = $1"
                ),
                vec![Box::new(id), Box::new(sid.clone())],
            );
            Ok(0)
        })
    }

    fn message_status_by_sid(
        &self,
        sid: &str,
        status: MessageStatus,
        note: Option<&str>,
    ) -> Result<bool> {
        let rank = status.rank() as i64;
        let (sid, note) = (sid.to_string(), note.map(str::to_string));
        self.write_counted(&format!("sid {sid}"), move |tx| {
            // Callbacks arrive in any order: a status only ever moves forward.
            tx.execute(
                &format!(
                    "UPDATE outbox SET status = CASE WHEN {RANK_SQL} < $4::BIGINT THEN $2 ELSE status END, \
                     note = CASE WHEN {RANK_SQL} < $4::BIGINT THEN COALESCE($3, note) ELSE note END WHERE sid = $1"
                ),
                &[&sid, &status.as_str(), &note, &rank],
            )
        })
        .map(|n| n > 0)
    }

    /// The claims of replicas that stopped beating (this one's earlier runs
    /// included): what was only claimed is pending again; what was being sent
    /// becomes `unknown`, to be reconciled, never blindly resent.
    fn recover_sending(&self) -> Result<usize> {
        let me = self.inner.replica.as_str();
        let alive_since = wall_ms() - REPLICA_DEAD_MS;
        self.transaction(|tx| {
            const GONE: &str = "claimed_by IS DISTINCT FROM $1 AND (claimed_by IS NULL OR claimed_by NOT IN (SELECT id FROM replicas WHERE seen_at > $2))";
            tx.execute(
                &format!("UPDATE outbox SET status = 'pending', claimed_by = NULL WHERE status = 'claimed' AND {GONE}"),
                &[&me, &alive_since],
            )?;
            let n = tx.execute(
                &format!("UPDATE outbox SET status = 'unknown', note = 'the server stopped while sending it' WHERE status = 'sending' AND {GONE}"),
                &[&me, &alive_since],
            )?;
            tx.execute(
                "DELETE FROM replicas WHERE seen_at < $1",
                &[&(alive_since - 24 * 3_600_000)],
            )?;
            Ok(n as usize)
        })
    }

    fn first_delivery(&self, sid: &str, now: DateTime<Utc>) -> Result<bool> {
        self.read(|db| {
            db.execute(
                "INSERT INTO deliveries (sid, at) VALUES ($1, $2) ON CONFLICT (sid) DO NOTHING",
                &[&sid, &millis(now)],
            )
            .map(|n| n > 0)
        })
    }

    fn delivery_seen(&self, sid: &str) -> Result<bool> {
        self.read(|db| {
            get(
                &db.one(
                    "SELECT EXISTS (SELECT 1 FROM deliveries WHERE sid = $1)",
                    &[&sid],
                )?,
                0,
            )
        })
    }

    fn delivery_settled(&self, sid: &str) -> Result<bool> {
        // Waits for the change that holds the id's claim, holding nothing else, so no
        // deadlock; the second statement's snapshot comes after that change ended. A
        // change that stays open (its replica cut off) is waited for 5 s at most.
        self.transaction(|tx| {
            tx.batch("SET LOCAL lock_timeout = '5s'")?;
            tx.execute(
                "SELECT pg_advisory_xact_lock_shared(hashtextextended('journeyc delivery ' || $1, 0))",
                &[&sid],
            )?;
            get(
                &tx.one(
                    "SELECT EXISTS (SELECT 1 FROM deliveries WHERE sid = $1)",
                    &[&sid],
                )?,
                0,
            )
        })
    }

    fn secret(&self, name: &str) -> Result<Vec<u8>> {
        let mut fresh = [0u8; 32];
        getrandom::fill(&mut fresh).map_err(|e| StoreError::new(e.to_string()))?;
        self.read(|db| {
            db.execute(
                "INSERT INTO secrets (name, value) VALUES ($1, $2) ON CONFLICT (name) DO NOTHING",
                &[&name, &fresh.as_slice()],
            )?;
            get(
                &db.one("SELECT value FROM secrets WHERE name = $1", &[&name])?,
                0,
            )
        })
    }

    fn ping(&self) -> Result<()> {
        self.read(|db| {
            db.execute(
                "INSERT INTO health (id, at) VALUES (1, $1) ON CONFLICT (id) DO UPDATE SET at = $1",
                &[&wall_ms()],
            )
            .map(|_| ())
        })
    }

    fn opt_out(&self, phone: &str, now: DateTime<Utc>) -> Result<()> {
        self.read(|db| {
            db.execute(
                "INSERT INTO opt_outs (phone, at) VALUES ($1, $2) ON CONFLICT (phone) DO NOTHING",
                &[&phone, &millis(now)],
            )
            .map(|_| ())
        })
    }

    fn opt_in(&self, phone: &str) -> Result<()> {
        self.read(|db| {
            db.execute("DELETE FROM opt_outs WHERE phone = $1", &[&phone])
                .map(|_| ())
        })
    }

    fn is_opted_out(&self, phone: &str) -> Result<bool> {
        self.read(|db| {
            get(
                &db.one(
                    "SELECT EXISTS (SELECT 1 FROM opt_outs WHERE phone = $1)",
                    &[&phone],
                )?,
                0,
            )
        })
    }

    fn schedule_next(&self, journey: &str, trigger_index: usize) -> Result<Option<DateTime<Utc>>> {
        self.read(|db| {
            db.opt(
                "SELECT next_at FROM schedules WHERE journey = $1 AND trigger_index = $2",
                &[&journey, &(trigger_index as i64)],
            )?
            .map(|r| get::<i64>(&r, 0).map(instant))
            .transpose()
        })
    }

    /// Compare-and-set on the schedule's row: of replicas that read the same instant,
    /// one moves it on and runs it; the others find it moved.
    fn claim_schedule(
        &self,
        journey: &str,
        trigger_index: usize,
        expected: Option<DateTime<Utc>>,
        next: DateTime<Utc>,
    ) -> Result<bool> {
        let index = trigger_index as i64;
        self.read(|db| {
            let n = match expected {
                None => db.execute(
                    "INSERT INTO schedules (journey, trigger_index, next_at) VALUES ($1, $2, $3) ON CONFLICT DO NOTHING",
                    &[&journey, &index, &millis(next)],
                )?,
                Some(e) => db.execute(
                    "UPDATE schedules SET next_at = $3 WHERE journey = $1 AND trigger_index = $2 AND next_at = $4",
                    &[&journey, &index, &millis(next), &millis(e)],
                )?,
            };
            Ok(n == 1)
        })
    }

    /// Takes the next send slot of `from` in the budget every replica shares.
    fn reserve_send(&self, from: &str, gap: Duration) -> Result<Option<DateTime<Utc>>> {
        let now_us = Utc::now().timestamp_micros();
        let gap_us = i64::try_from(gap.as_micros()).unwrap_or(i64::MAX);
        self.read(|db| {
            let row = db.one(
                "INSERT INTO send_slots (from_number, next_at_us) VALUES ($1, $2::BIGINT + $3::BIGINT) \
                 ON CONFLICT (from_number) DO UPDATE SET next_at_us = GREATEST(send_slots.next_at_us, $2::BIGINT) + $3::BIGINT \
                 RETURNING next_at_us - $3::BIGINT",
                &[&from, &now_us, &gap_us],
            )?;
            Ok(DateTime::from_timestamp_micros(get(&row, 0)?))
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn passwords_stay_out_of_messages() {
        assert_eq!(
            redact_url("postgres://app:s3cret@db:5432/j"),
            "postgres://app:***@db:5432/j"
        );
        assert_eq!(redact_url("postgres://app@db/j"), "postgres://app@db/j");
    }

    #[test]
    fn a_bad_url_is_refused_with_its_password_hidden() {
        let err = PgStore::open("postgres://u:pw@host:notaport/db")
            .err()
            .unwrap();
        assert!(err.to_string().contains("u:***@"), "{err}");
        assert!(!err.to_string().contains("pw"), "{err}");
    }
}
