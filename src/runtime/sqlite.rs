//! The default store: one SQLite file in WAL mode, with versioned migrations run on
//! open. `synchronous = FULL` makes every committed change survive a crash or a
//! `kill -9` of the process.

use std::collections::HashMap;
use std::path::Path;
use std::sync::{Arc, Condvar, Mutex};

use chrono::{DateTime, Utc};
use rusqlite::{params, Connection, OptionalExtension};

use super::durable::{self, Durable, Slot};
use super::interp::Effect;
use super::pending::PendingTimers;
use super::rules::{self, Change};
use super::session::SessionState;
use super::store::{
    instant, millis, Message, MessageStatus, Result, Store, StoreError, Timer, RANK_SQL,
};

/// Each migration runs once, in order, in its own transaction; never edit a shipped one.
const MIGRATIONS: &[&str] = &[
    r#"
CREATE TABLE sessions (
    id          TEXT PRIMARY KEY,
    journey     TEXT NOT NULL,
    token_hash  BLOB NOT NULL UNIQUE,
    status      TEXT NOT NULL,
    actor_phone TEXT,
    expires_at  INTEGER NOT NULL,
    state       TEXT NOT NULL
);
CREATE INDEX sessions_by_actor ON sessions (journey, actor_phone) WHERE status = 'active';
CREATE TABLE events (
    id         INTEGER PRIMARY KEY,
    session_id TEXT NOT NULL REFERENCES sessions (id),
    at         INTEGER NOT NULL,
    text       TEXT NOT NULL
);
CREATE INDEX events_by_session ON events (session_id, id);
CREATE TABLE timers (
    id             INTEGER PRIMARY KEY,
    session_id     TEXT NOT NULL REFERENCES sessions (id),
    key            TEXT NOT NULL,
    due            INTEGER NOT NULL,
    step           INTEGER NOT NULL,
    skip_if_missed INTEGER NOT NULL,
    actions        TEXT NOT NULL,
    state          TEXT NOT NULL
);
CREATE UNIQUE INDEX timers_pending_key ON timers (session_id, key) WHERE state = 'pending';
CREATE INDEX timers_pending_due ON timers (due) WHERE state = 'pending';
CREATE TABLE outbox (
    id         INTEGER PRIMARY KEY,
    session_id TEXT NOT NULL REFERENCES sessions (id),
    to_number  TEXT NOT NULL,
    from_number TEXT NOT NULL,
    body       TEXT NOT NULL,
    status     TEXT NOT NULL,
    note       TEXT,
    created_at INTEGER NOT NULL
);
CREATE INDEX outbox_recent ON outbox (to_number, created_at);
CREATE INDEX outbox_pending ON outbox (id) WHERE status = 'pending';
CREATE TABLE opt_outs (
    phone TEXT PRIMARY KEY,
    at    INTEGER NOT NULL
);
"#,
    r#"
CREATE TABLE schedules (
    journey       TEXT NOT NULL,
    trigger_index INTEGER NOT NULL,
    next_at       INTEGER NOT NULL,
    PRIMARY KEY (journey, trigger_index)
);
"#,
    r#"
ALTER TABLE outbox ADD COLUMN sid TEXT;
CREATE INDEX outbox_by_sid ON outbox (sid);
CREATE INDEX outbox_sending ON outbox (id) WHERE status = 'sending';
CREATE TABLE deliveries (
    sid TEXT PRIMARY KEY,
    at  INTEGER NOT NULL
);
CREATE TABLE secrets (
    name  TEXT PRIMARY KEY,
    value BLOB NOT NULL
);
"#,
    r#"
CREATE INDEX sessions_by_phone ON sessions (actor_phone) WHERE status = 'active';
"#,
    r#"
CREATE INDEX sessions_active_expiry ON sessions (expires_at) WHERE status = 'active';
"#,
    r#"
CREATE INDEX outbox_unknown ON outbox (id) WHERE status = 'unknown';
"#,
    // Pending timers by session and key are indexed in memory (see `PendingTimers`):
    // on disk, this index cost a page write per change under load.
    r#"
DROP INDEX timers_pending_key;
"#,
    // Every change to a session names the revision it was based on (see `Store`);
    // the health check proves the store can commit by writing its one row.
    r#"
ALTER TABLE sessions ADD COLUMN revision INTEGER NOT NULL DEFAULT 0;
CREATE TABLE health (
    id INTEGER PRIMARY KEY,
    at INTEGER NOT NULL
);
"#,
    // Journeys are kept by version, and each session runs the version it started on.
    r#"
CREATE TABLE journey_versions (
    journey     TEXT NOT NULL,
    version     INTEGER NOT NULL,
    fingerprint TEXT NOT NULL,
    format      INTEGER NOT NULL,
    ir          TEXT NOT NULL,
    deployed_at INTEGER NOT NULL,
    PRIMARY KEY (journey, version),
    UNIQUE (journey, fingerprint)
);
ALTER TABLE sessions ADD COLUMN version INTEGER NOT NULL DEFAULT 0;
CREATE INDEX sessions_by_version ON sessions (journey, version, status);
"#,
    // Texts that left the outbox keep no live journey link (see `links::redact`), so
    // the 30-minute duplicate check compares hashes of the texts as they were.
    r#"
ALTER TABLE outbox ADD COLUMN body_hash BLOB;
CREATE INDEX outbox_claimed ON outbox (id) WHERE status = 'claimed';
"#,
    // A session started for a number holds it for its journey while it is active
    // (`SessionState::started_for`): two starts at once keep one session.
    r#"
ALTER TABLE sessions ADD COLUMN start_phone TEXT;
CREATE UNIQUE INDEX sessions_one_per_number ON sessions (journey, start_phone) WHERE status = 'active';
"#,
];

pub struct SqliteStore {
    shared: Arc<Shared>,
    /// Connections that only read. In WAL mode they see every committed change and
    /// never wait for a commit's fsync, so pages render while writes are committing.
    readers: Vec<Mutex<Connection>>,
    next_reader: std::sync::atomic::AtomicUsize,
    /// The thread that commits queued changes (see `Writes`).
    committer: Option<std::thread::JoinHandle<()>>,
    /// A file database's lock (see `open`), released last.
    _lock: Option<std::fs::File>,
}

/// What the store's callers and its committer thread share.
struct Shared {
    writer: Mutex<Writer>,
    writes: Mutex<Writes>,
    /// Tells the committer that changes are queued, or that the store is closing.
    queued: Condvar,
    /// Sessions by journey-link token hash, as last read: opening a journey link again
    /// costs no database read. See `session_by_token`.
    by_token: Mutex<TokenCache>,
    /// Bumped after every committed batch of changes.
    session_writes: std::sync::atomic::AtomicU64,
}

/// Sessions kept in `by_token` at most; when full it starts again empty.
const TOKEN_CACHE: usize = 10_000;

/// Cached sessions by token hash, and each cached session's token hash by its id.
#[derive(Default)]
struct TokenCache {
    sessions: HashMap<Vec<u8>, SessionState>,
    tokens: HashMap<String, Vec<u8>>,
}

/// Read connections of a file database.
const READERS: usize = 4;

/// The connection that writes, and what moves with its transactions.
struct Writer {
    conn: Connection,
    timers: PendingTimers,
}

/// What a change runs with: the write transaction (as `Deref`), the ids of the
/// sessions it changes, which it adds to `touched`, and the pending timers.
struct Tx<'a> {
    conn: &'a Connection,
    touched: &'a mut Vec<String>,
    timers: &'a mut PendingTimers,
}

impl std::ops::Deref for Tx<'_> {
    type Target = Connection;
    fn deref(&self) -> &Connection {
        self.conn
    }
}

/// A change waiting to be committed. It may run twice (see `commit_batch`): only its
/// last run is kept.
type Job = Box<dyn Fn(&mut Tx<'_>) -> Result<i64> + Send>;

/// Runs `jobs` in one transaction and commits it. With `savepoints`, each job runs in
/// its own and one that fails (or panics) is undone alone; without, the first failure
/// undoes the whole transaction and gives `None`. A change undone alone is undone in
/// the pending timers too; after an error or `None`, the caller undoes them all.
fn run_batch(
    writer: &mut Writer,
    jobs: &[Job],
    touched: &mut Vec<String>,
    savepoints: bool,
) -> rusqlite::Result<Option<Vec<Result<i64>>>> {
    let Writer { conn, timers } = writer;
    let tx = conn.transaction()?;
    let mut results = Vec::with_capacity(jobs.len());
    for job in jobs {
        // Savepoints by cached statements: parsing `SAVEPOINT` anew for every change
        // was a tenth of the time under load.
        if savepoints {
            tx.prepare_cached("SAVEPOINT job")?.execute([])?;
        }
        let mark = timers.mark();
        let result = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            job(&mut Tx {
                conn: &tx,
                touched,
                timers,
            })
        }));
        match (result, savepoints) {
            (Ok(Ok(v)), true) => {
                tx.prepare_cached("RELEASE job")?.execute([])?;
                results.push(Ok(v));
            }
            (Ok(Ok(v)), false) => results.push(Ok(v)),
            // Dropping the transaction rolls it back.
            (_, false) => return Ok(None),
            (failed, true) => {
                tx.prepare_cached("ROLLBACK TO job")?.execute([])?;
                tx.prepare_cached("RELEASE job")?.execute([])?;
                timers.undo_to(mark);
                results.push(Err(match failed {
                    Ok(Err(e)) => e,
                    _ => StoreError::new("a change panicked and was rolled back"),
                }));
            }
        }
    }
    tx.commit()?;
    timers.keep();
    Ok(Some(results))
}

/// Group commit: callers queue changes and the committer thread takes all that are
/// queued as one batch, one transaction and one fsync for all of them, while the next
/// changes queue up. One change that fails does not undo the others (see
/// `commit_batch`). A caller learns that its change is durable through a `Durable`,
/// which a thread waits for and an async task awaits.
#[derive(Default)]
struct Writes {
    queue: Vec<(Job, Arc<Slot>)>,
    /// The store is being dropped: the committer commits what is queued and stops.
    closing: bool,
}

impl Shared {
    /// After changes to these sessions are committed: forget their cached copies.
    fn sessions_changed<'a>(&self, ids: impl IntoIterator<Item = &'a str>) {
        let mut cache = self.by_token.lock().unwrap_or_else(|e| e.into_inner());
        for id in ids {
            if let Some(token) = cache.tokens.remove(id) {
                cache.sessions.remove(&token);
            }
        }
        self.session_writes
            .fetch_add(1, std::sync::atomic::Ordering::SeqCst);
    }

    /// The committer thread: commits what is queued, batch after batch, until the store
    /// closes and nothing is left.
    fn commit_queued(&self) {
        loop {
            let batch = {
                let mut writes = self.writes.lock().unwrap_or_else(|e| e.into_inner());
                while writes.queue.is_empty() && !writes.closing {
                    writes = self.queued.wait(writes).unwrap_or_else(|e| e.into_inner());
                }
                if writes.queue.is_empty() {
                    return;
                }
                std::mem::take(&mut writes.queue)
            };
            let (jobs, slots): (Vec<Job>, Vec<Arc<Slot>>) = batch.into_iter().unzip();
            // A panic outside the changes (each of which is caught on its own) must not
            // leave the batch's callers waiting forever, nor stop later commits.
            let results =
                std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| self.commit_batch(&jobs)))
                    .unwrap_or_else(|_| {
                        // What was not committed is not pending.
                        self.writer
                            .lock()
                            .unwrap_or_else(|e| e.into_inner())
                            .timers
                            .undo_to(0);
                        let failed = || Err(StoreError::new("committing failed unexpectedly"));
                        jobs.iter().map(|_| failed()).collect()
                    });
            durable::deliver_all(slots.into_iter().zip(results).collect());
        }
    }

    /// Commits `jobs` in one transaction; a result for each, whatever happens.
    fn commit_batch(&self, jobs: &[Job]) -> Vec<Result<i64>> {
        let mut writer = self.writer.lock().unwrap_or_else(|e| e.into_inner());
        let mut touched = Vec::new();
        // Changes almost never fail, so a batch first runs without savepoints, which
        // copy every page a change touches. If one fails, all are undone and run again,
        // each in its own savepoint, so the failure undoes that change alone.
        let mut run = |savepoints| {
            let outcome = run_batch(&mut writer, jobs, &mut touched, savepoints);
            // What was not committed is not pending; after a commit this undoes nothing.
            writer.timers.undo_to(0);
            outcome
        };
        let outcome = match run(false) {
            Ok(Some(results)) => Ok(results),
            Ok(None) => run(true).map(|r| r.expect("with savepoints every change has a result")),
            Err(e) => Err(e),
        };
        drop(writer);
        // Cached copies go before anyone learns of the change, so none is read stale.
        self.sessions_changed(touched.iter().map(String::as_str));
        match outcome {
            Ok(results) => results,
            Err(e) => jobs.iter().map(|_| Err(err(&e))).collect(),
        }
    }
}

impl Drop for SqliteStore {
    /// Commits what is queued, then moves the whole log into the database file and
    /// empties it, so that after a clean stop the main file alone holds everything.
    fn drop(&mut self) {
        self.shared
            .writes
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .closing = true;
        self.shared.queued.notify_one();
        if let Some(committer) = self.committer.take() {
            let _ = committer.join();
        }
        // Read connections first: a checkpoint cannot pass a reader's snapshot.
        self.readers.clear();
        let writer = self.shared.writer.lock().unwrap_or_else(|e| e.into_inner());
        let _ = writer
            .conn
            .query_row("PRAGMA wal_checkpoint(TRUNCATE)", [], |_| Ok(()));
    }
}

/// Takes the lock that says a process has the database at `path` open.
fn lock_file(path: &Path) -> Result<std::fs::File> {
    let mut name = path.as_os_str().to_owned();
    name.push("-lock");
    let file = std::fs::OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(&name)
        .map_err(|e| {
            StoreError::Other(format!("cannot open `{}`: {e}", Path::new(&name).display()))
        })?;
    match file.try_lock() {
        Ok(()) => Ok(file),
        Err(std::fs::TryLockError::WouldBlock) => Err(StoreError::Other(format!(
            "`{}` is in use by another journeyc: one SQLite database serves one server at a time",
            path.display()
        ))),
        Err(std::fs::TryLockError::Error(e)) => Err(StoreError::Other(format!(
            "cannot lock `{}`: {e}",
            Path::new(&name).display()
        ))),
    }
}

fn err(e: impl std::fmt::Display) -> StoreError {
    StoreError::Other(e.to_string())
}

impl From<rusqlite::Error> for StoreError {
    fn from(e: rusqlite::Error) -> StoreError {
        if let rusqlite::Error::FromSqlConversionFailure(_, _, inner) = &e {
            if let Some(b) = inner.downcast_ref::<BrokenRow>() {
                return StoreError::Broken {
                    session: b.session.clone(),
                    problem: b.problem.clone(),
                };
            }
        }
        // Waiting on a lock, a full disk or a failing device are the store's state,
        // not the event's fault: the same event may be kept later.
        use rusqlite::ErrorCode as C;
        match e.sqlite_error_code() {
            Some(
                C::DatabaseBusy
                | C::DatabaseLocked
                | C::DiskFull
                | C::SystemIoFailure
                | C::CannotOpen
                | C::OutOfMemory,
            ) => StoreError::Unavailable(e.to_string()),
            _ => err(e),
        }
    }
}

impl SqliteStore {
    /// Opens (creating if needed) the database at `path` and brings its schema up to date.
    ///
    /// One process at a time: the pending timers are indexed in the writer's memory, so
    /// a second writer would not see the first's. A lock on `PATH-lock` keeps it out.
    pub fn open(path: &Path) -> Result<SqliteStore> {
        let lock = lock_file(path)?;
        let conn = Connection::open(path)
            .map_err(|e| StoreError::Other(format!("cannot open `{}`: {e}", path.display())))?;
        let mut store = Self::setup(conn)?;
        for _ in 0..READERS {
            let reader = Connection::open_with_flags(
                path,
                rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY
                    | rusqlite::OpenFlags::SQLITE_OPEN_NO_MUTEX,
            )
            .map_err(|e| StoreError::Other(format!("cannot open `{}`: {e}", path.display())))?;
            reader
                .busy_timeout(std::time::Duration::from_secs(5))
                .map_err(err)?;
            store.readers.push(Mutex::new(reader));
        }
        store._lock = Some(lock);
        Ok(store)
    }

    /// A private database in memory, for tests and previews.
    pub fn in_memory() -> Result<SqliteStore> {
        Self::setup(Connection::open_in_memory().map_err(err)?)
    }

    fn setup(mut conn: Connection) -> Result<SqliteStore> {
        conn.pragma_update(None, "journal_mode", "WAL")
            .map_err(err)?;
        conn.pragma_update(None, "synchronous", "FULL")
            .map_err(err)?;
        conn.pragma_update(None, "foreign_keys", "ON")
            .map_err(err)?;
        // What is deleted or overwritten (a redacted link) is zeroed, not left in free
        // pages for a copy of the file to find.
        conn.pragma_update(None, "secure_delete", "ON")
            .map_err(err)?;
        // Savepoints keep their undo pages in memory, not in a temporary file.
        conn.pragma_update(None, "temp_store", "MEMORY")
            .map_err(err)?;
        // A checkpoint copies each changed page once, however often it changed since
        // the last one: checkpointing every 10,000 pages (about 40 MB of log) instead
        // of SQLite's 1,000 cut the commit time under load by about a fifth.
        conn.pragma_update(None, "wal_autocheckpoint", 10_000)
            .map_err(err)?;
        conn.busy_timeout(std::time::Duration::from_secs(5))
            .map_err(err)?;
        let version: i64 = conn
            .query_row("PRAGMA user_version", [], |r| r.get(0))
            .map_err(err)?;
        if version as usize > MIGRATIONS.len() {
            return Err(StoreError::Other(format!(
                "the database is from a newer journeyc (schema {version}, this one knows {})",
                MIGRATIONS.len()
            )));
        }
        for (i, sql) in MIGRATIONS.iter().enumerate().skip(version as usize) {
            let tx = conn.transaction().map_err(err)?;
            tx.execute_batch(sql).map_err(err)?;
            tx.pragma_update(None, "user_version", (i + 1) as i64)
                .map_err(err)?;
            tx.commit().map_err(err)?;
        }
        let timers = pending_timers(&conn).map_err(err)?;
        let shared = Arc::new(Shared {
            writer: Mutex::new(Writer { conn, timers }),
            writes: Mutex::new(Writes::default()),
            queued: Condvar::new(),
            by_token: Mutex::new(TokenCache::default()),
            session_writes: std::sync::atomic::AtomicU64::new(0),
        });
        let committer = {
            let shared = shared.clone();
            std::thread::Builder::new()
                .name("journeyc-commit".into())
                .spawn(move || shared.commit_queued())
                .map_err(|e| StoreError::Other(format!("cannot start the committer thread: {e}")))?
        };
        Ok(SqliteStore {
            shared,
            readers: Vec::new(),
            next_reader: std::sync::atomic::AtomicUsize::new(0),
            committer: Some(committer),
            _lock: None,
        })
    }

    /// Runs a read on a free read connection (the writer's, for a database in memory).
    fn read<T>(&self, f: impl FnOnce(&mut Connection) -> rusqlite::Result<T>) -> Result<T> {
        if self.readers.is_empty() {
            return self.with(f);
        }
        let start = self
            .next_reader
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let n = self.readers.len();
        for i in 0..n {
            if let Ok(mut conn) = self.readers[(start + i) % n].try_lock() {
                return f(&mut conn).map_err(StoreError::from);
            }
        }
        let mut conn = self.readers[start % n]
            .lock()
            .unwrap_or_else(|e| e.into_inner());
        f(&mut conn).map_err(StoreError::from)
    }

    fn with<T>(&self, f: impl FnOnce(&mut Connection) -> rusqlite::Result<T>) -> Result<T> {
        let mut writer = self.shared.writer.lock().unwrap_or_else(|e| e.into_inner());
        f(&mut writer.conn).map_err(StoreError::from)
    }

    /// Queues a change for the committer; the returned `Durable` resolves when it is
    /// durable.
    fn queue<E: Into<StoreError>>(
        &self,
        job: impl Fn(&mut Tx<'_>) -> std::result::Result<i64, E> + Send + 'static,
    ) -> Durable {
        let slot = Arc::new(Slot::default());
        let job: Job = Box::new(move |tx| job(tx).map_err(Into::into));
        let first = {
            let mut writes = self.shared.writes.lock().unwrap_or_else(|e| e.into_inner());
            writes.queue.push((job, slot.clone()));
            writes.queue.len() == 1
        };
        // The committer sleeps only when nothing is queued.
        if first {
            self.shared.queued.notify_one();
        }
        Durable::waiting(slot)
    }

    /// Commits a change, grouped with the changes of other callers; returns when it is
    /// durable.
    fn write<E: Into<StoreError>>(
        &self,
        job: impl Fn(&mut Tx<'_>) -> std::result::Result<i64, E> + Send + 'static,
    ) -> Result<i64> {
        self.queue(job).wait()
    }

    fn read_session_by_token(&self, token_hash: &[u8]) -> Result<Option<SessionState>> {
        self.read(|c| {
            c.prepare_cached(
                "SELECT state, revision, version, id FROM sessions WHERE token_hash = ?1",
            )?
            .query_row([token_hash], session_from)
            .optional()
        })
    }

    /// Copies the database at `path` to a new file `out` with SQLite's online backup,
    /// as one consistent snapshot: safe while a server writes to it, and holding every
    /// change committed before it started. The copy is checkpointed into one file and
    /// checked before it takes its name. Returns how many sessions the copy holds.
    pub fn backup(path: &Path, out: &Path) -> Result<u64> {
        if out.exists() {
            return Err(StoreError::Other(format!(
                "`{}` exists already: a backup never overwrites a file",
                out.display()
            )));
        }
        if !path.exists() {
            return Err(StoreError::Other(format!(
                "there is no database at `{}`",
                path.display()
            )));
        }
        let src = Connection::open_with_flags(
            path,
            rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY | rusqlite::OpenFlags::SQLITE_OPEN_NO_MUTEX,
        )
        .map_err(|e| StoreError::Other(format!("cannot open `{}`: {e}", path.display())))?;
        src.busy_timeout(std::time::Duration::from_secs(10))
            .map_err(err)?;
        let version: i64 = src.query_row("PRAGMA user_version", [], |r| r.get(0))?;
        if version as usize > MIGRATIONS.len() {
            return Err(StoreError::Other(format!(
                "the database is from a newer journeyc (schema {version}, this one knows {})",
                MIGRATIONS.len()
            )));
        }
        let mut partial = out.as_os_str().to_owned();
        partial.push(".partial");
        let partial = std::path::PathBuf::from(partial);
        let _ = std::fs::remove_file(&partial);
        let copied = (|| -> Result<u64> {
            let mut dst = Connection::open(&partial)?;
            {
                let backup = rusqlite::backup::Backup::new(&src, &mut dst)?;
                // Every page in one step: one read transaction, so one snapshot, and a
                // writer committing meanwhile cannot make it start over.
                loop {
                    match backup.step(-1)? {
                        rusqlite::backup::StepResult::Done => break,
                        _ => std::thread::sleep(std::time::Duration::from_millis(50)),
                    }
                }
            }
            dst.query_row("PRAGMA wal_checkpoint(TRUNCATE)", [], |_| Ok(()))?;
            let check: String = dst.query_row("PRAGMA quick_check", [], |r| r.get(0))?;
            if check != "ok" {
                return Err(StoreError::Other(format!(
                    "the copy does not check: {check}"
                )));
            }
            let sessions: i64 = dst.query_row("SELECT COUNT(*) FROM sessions", [], |r| r.get(0))?;
            Ok(sessions as u64)
        })();
        match copied {
            Ok(sessions) => {
                std::fs::rename(&partial, out).map_err(|e| {
                    StoreError::Other(format!("cannot name the copy `{}`: {e}", out.display()))
                })?;
                for suffix in ["-wal", "-shm"] {
                    let mut name = partial.as_os_str().to_owned();
                    name.push(suffix);
                    let _ = std::fs::remove_file(name);
                }
                Ok(sessions)
            }
            Err(e) => {
                let _ = std::fs::remove_file(&partial);
                Err(e)
            }
        }
    }

    pub fn schema_version(&self) -> Result<i64> {
        self.with(|c| c.query_row("PRAGMA user_version", [], |r| r.get(0)))
    }
}

fn message_from(r: &rusqlite::Row<'_>) -> rusqlite::Result<Message> {
    let status: String = r.get(5)?;
    Ok(Message {
        id: r.get(0)?,
        session_id: r.get(1)?,
        to: r.get(2)?,
        from: r.get(3)?,
        body: r.get(4)?,
        status: MessageStatus::parse(&status).unwrap_or(MessageStatus::Unknown),
        created_at: instant(r.get(6)?),
        note: r.get(7)?,
        sid: r.get(8)?,
    })
}

/// Message `id`'s text without live journey links: it has left the outbox.
fn redact_body(c: &Connection, id: i64) -> rusqlite::Result<()> {
    let body: Option<String> = c
        .prepare_cached("SELECT body FROM outbox WHERE id = ?1")?
        .query_row([id], |r| r.get(0))
        .optional()?;
    if let Some(body) = body {
        let redacted = super::links::redact(&body);
        if redacted != body {
            c.prepare_cached("UPDATE outbox SET body = ?2 WHERE id = ?1")?
                .execute(params![id, redacted])?;
        }
    }
    Ok(())
}

/// A timer from a row of `id, session_id, key, due, step, skip_if_missed, actions`.
fn timer_from(r: &rusqlite::Row<'_>) -> rusqlite::Result<Timer> {
    let actions: String = r.get(6)?;
    Ok(Timer {
        id: r.get(0)?,
        session_id: r.get(1)?,
        key: r.get(2)?,
        due: instant(r.get(3)?),
        step: r.get::<_, i64>(4)? as usize,
        skip_if_missed: r.get(5)?,
        actions: serde_json::from_str(&actions).map_err(|e| {
            rusqlite::Error::FromSqlConversionFailure(6, rusqlite::types::Type::Text, Box::new(e))
        })?,
    })
}

/// A session row that does not read: reported as `StoreError::Broken`.
#[derive(Debug)]
struct BrokenRow {
    session: String,
    problem: String,
}

impl std::fmt::Display for BrokenRow {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "session `{}`: {}", self.session, self.problem)
    }
}

impl std::error::Error for BrokenRow {}

/// A session from a row of `state, revision, version, id`.
fn session_from(r: &rusqlite::Row<'_>) -> rusqlite::Result<SessionState> {
    let json: String = r.get(0)?;
    let mut state: SessionState = serde_json::from_str(&json).map_err(|e| {
        let broken = BrokenRow {
            session: r.get(3).unwrap_or_default(),
            problem: format!("its stored state does not read ({e})"),
        };
        rusqlite::Error::FromSqlConversionFailure(0, rusqlite::types::Type::Text, Box::new(broken))
    })?;
    state.revision = r.get::<_, i64>(1)? as u64;
    state.version = r.get::<_, i64>(2)? as u32;
    Ok(state)
}

/// What the SQLite store does with a prepared change.
trait Write {
    fn write(&self, tx: &mut Tx<'_>, now: DateTime<Utc>) -> Result<u64>;
    fn save(&self, tx: &mut Tx<'_>) -> Result<u64>;
}

impl Write for Change {
    /// Saves the session and applies the effects, and adds the session to `touched`;
    /// a conflict, writing nothing, if the session moved on from its revision.
    fn write(&self, tx: &mut Tx<'_>, now: DateTime<Utc>) -> Result<u64> {
        let revision = self.save(tx)?;
        apply_effects(tx, &self.state, &self.effects, &self.timer_actions, now)?;
        Ok(revision)
    }

    /// The revision check: moves the session's row from the change's revision to the
    /// next, with the new state, or, when the state is as stored (a change of effects
    /// only), checks that it is still at the change's revision and writes nothing.
    /// Gives the session's revision after it. This is the change's first write, so a
    /// conflict leaves nothing to undo.
    fn save(&self, tx: &mut Tx<'_>) -> Result<u64> {
        let state = &self.state;
        tx.touched.push(state.id.clone());
        let revision = state.revision as i64;
        // One read tells both: a change of effects only, the commonest (a timer), then
        // writes nothing to the session.
        let stored: Option<(i64, bool)> = tx
            .prepare_cached(
                "SELECT revision, state IS ?2 AND version IS ?3 FROM sessions WHERE id = ?1",
            )?
            .query_row(params![state.id, self.json, state.version], |r| {
                Ok((r.get(0)?, r.get(1)?))
            })
            .optional()?;
        match stored {
            Some((r, _)) if r != revision => Err(StoreError::Conflict {
                session: state.id.clone(),
            }),
            Some((_, true)) => Ok(state.revision),
            Some((_, false)) => {
                tx.prepare_cached("UPDATE sessions SET status = ?2, actor_phone = ?3, expires_at = ?4, state = ?5, revision = ?6 + 1, version = ?7, start_phone = CASE WHEN start_phone = ?3 THEN start_phone END WHERE id = ?1 AND revision = ?6")?.execute(params![state.id, state.status.as_str(), self.phone, millis(state.expires_at), self.json, revision, state.version])?;
                Ok(state.revision + 1)
            }
            None => Err(StoreError::Conflict {
                session: state.id.clone(),
            }),
        }
    }
}

/// Applies a change's effects by the runtime's rules (`rules::apply`), in `tx`.
fn apply_effects(
    tx: &mut Tx<'_>,
    state: &SessionState,
    effects: &[Effect],
    timer_actions: &[String],
    now: DateTime<Utc>,
) -> rusqlite::Result<()> {
    let mut ledger = Ledger {
        tx,
        session: &state.id,
        now,
    };
    rules::apply(&mut ledger, state, effects, timer_actions, now)
}

/// The store's primitives for the rules: one session's rows at one instant, in `tx`.
struct Ledger<'t, 'a> {
    tx: &'t mut Tx<'a>,
    session: &'t str,
    now: DateTime<Utc>,
}

impl rules::Ledger for Ledger<'_, '_> {
    type Error = rusqlite::Error;

    fn opted_out(&mut self, phone: &str) -> rusqlite::Result<bool> {
        self.tx
            .prepare_cached("SELECT EXISTS (SELECT 1 FROM opt_outs WHERE phone = ?1)")?
            .query_row([phone], |r| r.get(0))
    }

    fn sent_since(
        &mut self,
        to: &str,
        body_hash: &[u8],
        since: DateTime<Utc>,
    ) -> rusqlite::Result<bool> {
        self.tx.prepare_cached(
            "SELECT EXISTS (SELECT 1 FROM outbox WHERE to_number = ?1 AND body_hash = ?2 AND created_at > ?3 AND status IN ('pending', 'claimed', 'sending', 'sent', 'delivered', 'unknown'))",
        )?
        .query_row(params![to, body_hash, millis(since)], |r| r.get(0))
    }

    fn queue(&mut self, t: rules::Outgoing<'_>) -> rusqlite::Result<()> {
        self.tx.prepare_cached("INSERT INTO outbox (session_id, to_number, from_number, body, status, note, created_at, body_hash) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)")?.execute(params![self.session, t.to, t.from, t.body, t.status.as_str(), t.note, millis(self.now), t.body_hash])?;
        Ok(())
    }

    fn log(&mut self, text: &str) -> rusqlite::Result<()> {
        self.tx
            .prepare_cached("INSERT INTO events (session_id, at, text) VALUES (?1, ?2, ?3)")?
            .execute(params![self.session, millis(self.now), text])?;
        Ok(())
    }

    fn add_timer(
        &mut self,
        key: &str,
        due: DateTime<Utc>,
        step: usize,
        skip_if_missed: bool,
        actions: &str,
    ) -> rusqlite::Result<()> {
        self.tx.prepare_cached("INSERT INTO timers (session_id, key, due, step, skip_if_missed, actions, state) VALUES (?1, ?2, ?3, ?4, ?5, ?6, 'pending')")?.execute(params![self.session, key, millis(due), step as i64, skip_if_missed, actions])?;
        let id = self.tx.last_insert_rowid();
        self.tx.timers.add(self.session, key, id);
        Ok(())
    }

    fn end_timer(&mut self, key: &str, how: &str) -> rusqlite::Result<()> {
        end_keyed_timer(self.tx, self.session, key, how)
    }

    fn cancel_timers(&mut self, before: usize) -> rusqlite::Result<()> {
        cancel_session_timers(
            self.tx,
            self.session,
            i64::try_from(before).unwrap_or(i64::MAX),
        )
    }

    fn rewrite_timer(
        &mut self,
        key: &str,
        step: usize,
        actions: &[crate::ir::Action],
    ) -> rusqlite::Result<()> {
        let actions = serde_json::to_string(actions).expect("actions serialize");
        for id in self.tx.timers.candidates(self.session, key) {
            // The candidate's real session and key are checked: its hashes may collide.
            if let Some((s, k, _)) = pending_timer(self.tx, id)? {
                if s == self.session && k == key {
                    self.tx
                        .prepare_cached("UPDATE timers SET step = ?2, actions = ?3 WHERE id = ?1")?
                        .execute(params![id, step as i64, actions])?;
                }
            }
        }
        Ok(())
    }

    fn delivery(&mut self, sid: &str) -> rusqlite::Result<()> {
        self.tx
            .prepare_cached("INSERT INTO deliveries (sid, at) VALUES (?1, ?2)")?
            .execute(params![sid, millis(self.now)])?;
        Ok(())
    }
}

/// The SQLite store's primitives for `rules::fire` and `rules::expire`.
struct RuleTx<'t, 'a>(&'t mut Tx<'a>);

impl rules::Expiring for RuleTx<'_, '_> {
    fn fail(&mut self, id: &str, problem: &str, now: DateTime<Utc>) -> Result<()> {
        Ok(fail_in(self.0, id, problem, now)?)
    }

    fn write(&mut self, change: &Change, now: DateTime<Utc>) -> Result<()> {
        Write::write(change, self.0, now).map(|_| ())
    }
}

impl rules::Firing for RuleTx<'_, '_> {
    fn fire(&mut self, timer_id: i64, change: &Change) -> Result<rules::Fire> {
        let Some((session, key, _)) = pending_timer(self.0, timer_id)? else {
            return Ok(rules::Fire::Gone);
        };
        let revision = match Write::save(change, self.0) {
            Ok(revision) => revision,
            Err(StoreError::Conflict { .. }) => return Ok(rules::Fire::Conflict),
            Err(e) => return Err(e),
        };
        end_timer(self.0, timer_id, &session, &key, "fired")?;
        Ok(rules::Fire::Fired(revision))
    }

    fn effects(&mut self, change: &Change, now: DateTime<Utc>) -> Result<()> {
        apply_effects(
            self.0,
            &change.state,
            &change.effects,
            &change.timer_actions,
            now,
        )?;
        Ok(())
    }
}

/// Marks session `id` failed, whatever its state and revision, with `problem` in its
/// log, and cancels its pending timers.
fn fail_in(tx: &mut Tx<'_>, id: &str, problem: &str, now: DateTime<Utc>) -> rusqlite::Result<()> {
    tx.touched.push(id.to_string());
    // Its state says so too, where it still reads.
    tx.prepare_cached(
        "UPDATE sessions SET status = 'failed', revision = revision + 1, state = CASE WHEN json_valid(state) THEN json_set(state, '$.status', 'failed') ELSE state END WHERE id = ?1",
    )?
    .execute([id])?;
    tx.prepare_cached("INSERT INTO events (session_id, at, text) VALUES (?1, ?2, ?3)")?
        .execute(params![
            id,
            millis(now),
            format!("session failed: {problem}")
        ])?;
    cancel_session_timers(tx, id, i64::MAX)
}

/// Ends `session`'s pending timer with `key`, if there is one, as `how`.
fn end_keyed_timer(tx: &mut Tx<'_>, session: &str, key: &str, how: &str) -> rusqlite::Result<()> {
    for id in tx.timers.candidates(session, key) {
        // The candidate's real session and key are checked: its hashes may collide.
        if let Some((s, k, _)) = pending_timer(tx, id)? {
            if s == session && k == key {
                end_timer(tx, id, &s, &k, how)?;
            }
        }
    }
    Ok(())
}

/// Cancels `session`'s pending timers that belong to steps before `before`.
fn cancel_session_timers(tx: &mut Tx<'_>, session: &str, before: i64) -> rusqlite::Result<()> {
    for id in tx.timers.of_session(session) {
        // The candidate's real session is checked: its hash may collide.
        if let Some((s, k, step)) = pending_timer(tx, id)? {
            if s == session && step < before {
                end_timer(tx, id, &s, &k, "cancelled")?;
            }
        }
    }
    Ok(())
}

/// Pending timer `id`'s session, key and step; `None` if it is not pending.
fn pending_timer(tx: &Tx<'_>, id: i64) -> rusqlite::Result<Option<(String, String, i64)>> {
    tx.prepare_cached(
        "SELECT session_id, key, step FROM timers WHERE id = ?1 AND state = 'pending'",
    )?
    .query_row([id], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))
    .optional()
}

/// Ends pending timer `id`, of `session` with `key`, as `how`: on disk and in the
/// index, the one place a timer stops being pending. A read (`pending_timer`) and this
/// write by id are cheaper than one `UPDATE ... RETURNING`.
fn end_timer(
    tx: &mut Tx<'_>,
    id: i64,
    session: &str,
    key: &str,
    how: &str,
) -> rusqlite::Result<()> {
    tx.prepare_cached("UPDATE timers SET state = ?2 WHERE id = ?1")?
        .execute(params![id, how])?;
    tx.timers.remove(session, key, id);
    Ok(())
}

/// The pending timers of a database, read when it opens.
fn pending_timers(conn: &Connection) -> rusqlite::Result<PendingTimers> {
    let mut stmt =
        conn.prepare("SELECT id, session_id, key FROM timers WHERE state = 'pending'")?;
    let rows = stmt.query_map([], |r| Ok((r.get(1)?, r.get(2)?, r.get(0)?)))?;
    PendingTimers::of(rows)
}

impl Store for SqliteStore {
    fn create_session_queued(
        &self,
        state: &SessionState,
        token_hash: &[u8],
        effects: &[Effect],
        now: DateTime<Utc>,
    ) -> Durable {
        let new = SessionState {
            revision: 0,
            ..state.clone()
        };
        let change = Change::new(new, effects.to_vec());
        let token_hash = token_hash.to_vec();
        self.queue(move |c| {
            let state = &change.state;
            let number = state.started_for();
            if let Some(number) = number {
                // A session past its expiry that is not yet marked expired holds its
                // number no longer.
                c.prepare_cached("UPDATE sessions SET start_phone = NULL, revision = revision + 1 WHERE journey = ?1 AND start_phone = ?2 AND status = 'active' AND expires_at <= ?3")?
                    .execute(params![state.journey, number, millis(now)])?;
            }
            // Revision 0 until the change's first write moves it to 1.
            let kept = c.prepare_cached("INSERT INTO sessions (id, journey, token_hash, status, actor_phone, expires_at, state, revision, start_phone) VALUES (?1, ?2, ?3, 'active', NULL, ?4, '{}', 0, ?5) ON CONFLICT (journey, start_phone) WHERE status = 'active' DO NOTHING")?
                .execute(params![state.id, state.journey, token_hash, millis(state.expires_at), number])?;
            if kept == 0 {
                // Another session of the journey holds the number: the start runs
                // again and finds it.
                return Err(StoreError::Conflict {
                    session: state.id.clone(),
                });
            }
            change.write(c, now).map(|rev| rev as i64)
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
        let (journey, fingerprint, ir) =
            (journey.to_string(), fingerprint.to_string(), ir.to_string());
        let outcome = Arc::new(Mutex::new((0u32, false)));
        let out = outcome.clone();
        self.write(move |c| {
            let known: Option<i64> = c
                .prepare_cached("SELECT version FROM journey_versions WHERE journey = ?1 AND fingerprint = ?2")?
                .query_row(params![journey, fingerprint], |r| r.get(0))
                .optional()?;
            let found = match known {
                Some(v) => (v as u32, false),
                None => {
                    let v: i64 = c
                        .prepare_cached("SELECT COALESCE(MAX(version), 0) + 1 FROM journey_versions WHERE journey = ?1")?
                        .query_row([&journey], |r| r.get(0))?;
                    c.prepare_cached("INSERT INTO journey_versions (journey, version, fingerprint, format, ir, deployed_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6)")?
                        .execute(params![journey, v, fingerprint, format, ir, millis(now)])?;
                    (v as u32, true)
                }
            };
            *out.lock().unwrap_or_else(|e| e.into_inner()) = found;
            Ok::<_, rusqlite::Error>(0)
        })?;
        let found = *outcome.lock().unwrap_or_else(|e| e.into_inner());
        Ok(found)
    }

    fn journey_versions(&self) -> Result<Vec<super::store::JourneyVersion>> {
        self.read(|c| {
            let mut stmt = c.prepare_cached(
                "SELECT journey, version, fingerprint, format, ir, deployed_at FROM journey_versions ORDER BY journey, version",
            )?;
            let rows = stmt.query_map([], |r| {
                Ok(super::store::JourneyVersion {
                    journey: r.get(0)?,
                    version: r.get::<_, i64>(1)? as u32,
                    fingerprint: r.get(2)?,
                    format: r.get::<_, i64>(3)? as u32,
                    ir: r.get(4)?,
                    deployed_at: instant(r.get(5)?),
                })
            })?;
            rows.collect()
        })
    }

    fn adopt_unversioned(&self, journey: &str, version: u32) -> Result<usize> {
        let journey = journey.to_string();
        self.write(move |c| {
            let ids: Vec<String> = c
                .prepare_cached("SELECT id FROM sessions WHERE journey = ?1 AND version = 0")?
                .query_map([&journey], |r| r.get(0))?
                .collect::<rusqlite::Result<_>>()?;
            c.prepare_cached(
                "UPDATE sessions SET version = ?2 WHERE journey = ?1 AND version = 0",
            )?
            .execute(params![journey, version])?;
            let n = ids.len() as i64;
            c.touched.extend(ids);
            Ok::<_, rusqlite::Error>(n)
        })
        .map(|n| n as usize)
    }

    fn live_sessions_by_version(&self) -> Result<Vec<(String, u32, u64)>> {
        self.read(|c| {
            let mut stmt = c.prepare_cached(
                "SELECT journey, version, COUNT(*) FROM sessions WHERE status = 'active' GROUP BY journey, version ORDER BY journey, version",
            )?;
            let rows = stmt.query_map([], |r| {
                Ok((r.get(0)?, r.get::<_, i64>(1)? as u32, r.get::<_, i64>(2)? as u64))
            })?;
            rows.collect()
        })
    }

    fn live_session_ids(&self, journey: &str, version: u32) -> Result<Vec<String>> {
        self.read(|c| {
            let mut stmt = c.prepare_cached(
                "SELECT id FROM sessions WHERE journey = ?1 AND version = ?2 AND status = 'active' ORDER BY rowid",
            )?;
            let rows = stmt.query_map(params![journey, version], |r| r.get(0))?;
            rows.collect()
        })
    }

    fn recent_session_ids(&self, limit: usize) -> Result<Vec<String>> {
        self.read(|c| {
            // Rows are added as sessions start, so the last rows are the newest.
            let mut stmt =
                c.prepare_cached("SELECT id FROM sessions ORDER BY rowid DESC LIMIT ?1")?;
            let rows = stmt.query_map(params![limit as i64], |r| r.get(0))?;
            rows.collect()
        })
    }

    fn session_timers(&self, session_id: &str) -> Result<Vec<Timer>> {
        // By the writer's index of pending timers: there is none on disk.
        let writer = self.shared.writer.lock().unwrap_or_else(|e| e.into_inner());
        let mut timers = Vec::new();
        for id in writer.timers.of_session(session_id) {
            let timer = writer
                .conn
                .prepare_cached("SELECT id, session_id, key, due, step, skip_if_missed, actions FROM timers WHERE id = ?1 AND state = 'pending'")?
                .query_row([id], timer_from)
                .optional()?;
            // The candidate's real session is checked: its hash may collide.
            timers.extend(timer.filter(|t| t.session_id == session_id));
        }
        timers.sort_by_key(|t| (t.due, t.id));
        Ok(timers)
    }

    fn fail_session(&self, session_id: &str, problem: &str, now: DateTime<Utc>) -> Result<()> {
        let (id, problem) = (session_id.to_string(), problem.to_string());
        self.write(move |c| fail_in(c, &id, &problem, now).map(|()| 0))
            .map(|_| ())
    }

    fn session(&self, id: &str) -> Result<Option<SessionState>> {
        self.read(|c| {
            c.prepare_cached("SELECT state, revision, version, id FROM sessions WHERE id = ?1")?
                .query_row([id], session_from)
                .optional()
        })
    }

    fn session_by_token(&self, token_hash: &[u8]) -> Result<Option<SessionState>> {
        use std::sync::atomic::Ordering::SeqCst;
        if let Some(s) = self
            .shared
            .by_token
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .sessions
            .get(token_hash)
        {
            return Ok(Some(s.clone()));
        }
        // A copy read while a change was being committed may be stale: it is kept
        // only if no change was committed between the start of the read and its end.
        let before = self.shared.session_writes.load(SeqCst);
        let found = self.read_session_by_token(token_hash)?;
        if let Some(s) = &found {
            let mut cache = self
                .shared
                .by_token
                .lock()
                .unwrap_or_else(|e| e.into_inner());
            if self.shared.session_writes.load(SeqCst) == before {
                if cache.sessions.len() >= TOKEN_CACHE {
                    *cache = TokenCache::default();
                }
                cache.sessions.insert(token_hash.to_vec(), s.clone());
                cache.tokens.insert(s.id.clone(), token_hash.to_vec());
            }
        }
        Ok(found)
    }

    fn active_sessions_for_phone(
        &self,
        phone: &str,
        now: DateTime<Utc>,
    ) -> Result<Vec<SessionState>> {
        self.read(|c| {
            let mut stmt = c.prepare_cached(
                "SELECT state, revision, version, id FROM sessions WHERE actor_phone = ?1 AND status = 'active' AND expires_at > ?2 ORDER BY rowid DESC",
            )?;
            let rows = stmt.query_map(params![phone, millis(now)], session_from)?;
            rows.collect()
        })
    }

    fn active_session_for_phone(
        &self,
        journey: &str,
        phone: &str,
        now: DateTime<Utc>,
    ) -> Result<Option<SessionState>> {
        self.read(|c| {
            c.prepare_cached(
                "SELECT state, revision, version, id FROM sessions WHERE journey = ?1 AND actor_phone = ?2 AND status = 'active' AND expires_at > ?3 ORDER BY rowid DESC LIMIT 1",
            )?
            .query_row(params![journey, phone, millis(now)], session_from)
            .optional()
        })
    }

    fn apply_queued(
        &self,
        state: &SessionState,
        effects: &[Effect],
        now: DateTime<Utc>,
    ) -> Durable {
        let change = Change::new(state.clone(), effects.to_vec());
        self.queue(move |c| change.write(c, now).map(|rev| rev as i64))
    }

    fn fire_timers(
        &self,
        fires: Vec<(i64, SessionState, Vec<Effect>)>,
        now: DateTime<Utc>,
    ) -> Result<Vec<Result<Option<u64>>>> {
        // The job runs on the committer thread: it reports through this.
        let outcomes = Arc::new(Mutex::new(Vec::with_capacity(fires.len())));
        let out = outcomes.clone();
        let fires: Vec<(i64, Change)> = fires
            .into_iter()
            .map(|(id, s, effects)| (id, Change::new(s, effects)))
            .collect();
        self.write(move |c| {
            let fired = rules::fire(&mut RuleTx(c), &fires, now)?;
            *out.lock().unwrap_or_else(|e| e.into_inner()) = fired;
            Ok::<_, StoreError>(0)
        })?;
        let outcomes = std::mem::take(&mut *outcomes.lock().unwrap_or_else(|e| e.into_inner()));
        Ok(outcomes)
    }

    fn expire_sessions(&self, now: DateTime<Utc>, limit: usize) -> Result<usize> {
        self.write(move |c| {
            let due: Vec<Result<SessionState>> = c
                .prepare_cached("SELECT state, revision, version, id FROM sessions WHERE status = 'active' AND expires_at <= ?1 ORDER BY expires_at LIMIT ?2")?
                .query_map(params![millis(now), limit as i64], session_from)?
                .map(|r| r.map_err(StoreError::from))
                .collect();
            rules::expire(&mut RuleTx(c), due, now).map(|n| n as i64)
        })
        .map(|n| n as usize)
    }

    fn next_expiry(&self) -> Result<Option<DateTime<Utc>>> {
        self.read(|c| {
            c.prepare_cached("SELECT MIN(expires_at) FROM sessions WHERE status = 'active'")?
                .query_row([], |r| r.get::<_, Option<i64>>(0))
        })
        .map(|ms| ms.map(instant))
    }

    fn skip_timer(&self, timer_id: i64, reason: &str, now: DateTime<Utc>) -> Result<bool> {
        let reason = reason.to_string();
        self.write(move |c| {
            let Some((session_id, key, _)) = pending_timer(c, timer_id)? else {
                return Ok::<_, rusqlite::Error>(0);
            };
            end_timer(c, timer_id, &session_id, &key, "skipped")?;
            c.prepare_cached("INSERT INTO events (session_id, at, text) VALUES (?1, ?2, ?3)")?
                .execute(params![
                    session_id,
                    millis(now),
                    format!("timer `{key}` skipped: {reason}")
                ])?;
            Ok(1)
        })
        .map(|n| n == 1)
    }

    fn next_timer_due(&self) -> Result<Option<DateTime<Utc>>> {
        self.read(|c| {
            c.prepare_cached("SELECT MIN(due) FROM timers WHERE state = 'pending'")?
                .query_row([], |r| r.get::<_, Option<i64>>(0))
        })
        .map(|ms| ms.map(instant))
    }

    fn due_timers(&self, until: DateTime<Utc>, limit: usize) -> Result<Vec<Timer>> {
        self.read(|c| {
            let mut stmt = c.prepare_cached(
                "SELECT id, session_id, key, due, step, skip_if_missed, actions FROM timers WHERE state = 'pending' AND due <= ?1 ORDER BY due, id LIMIT ?2",
            )?;
            let rows = stmt.query_map(params![millis(until), limit as i64], timer_from)?;
            rows.collect()
        })
    }

    fn events(&self, session_id: &str) -> Result<Vec<(DateTime<Utc>, String)>> {
        self.read(|c| {
            let mut stmt =
                c.prepare_cached("SELECT at, text FROM events WHERE session_id = ?1 ORDER BY id")?;
            let rows = stmt.query_map([session_id], |r| Ok((instant(r.get(0)?), r.get(1)?)))?;
            rows.collect()
        })
    }

    fn outbox(&self, session_id: Option<&str>) -> Result<Vec<Message>> {
        self.read(|c| {
            let mut stmt = c.prepare_cached(
                "SELECT id, session_id, to_number, from_number, body, status, created_at, note, sid FROM outbox WHERE ?1 IS NULL OR session_id = ?1 ORDER BY id",
            )?;
            let rows = stmt.query_map([session_id], message_from)?;
            rows.collect()
        })
    }

    fn messages_with_status(
        &self,
        status: MessageStatus,
        after: i64,
        limit: usize,
    ) -> Result<Vec<Message>> {
        self.read(|c| {
            let mut stmt = c.prepare_cached(
                "SELECT id, session_id, to_number, from_number, body, status, created_at, note, sid FROM outbox WHERE status = ?1 AND id > ?2 ORDER BY id LIMIT ?3",
            )?;
            let rows = stmt.query_map(
                params![status.as_str(), after, limit as i64],
                message_from,
            )?;
            rows.collect()
        })
    }

    fn claim_messages(&self, limit: usize, skip_from: &[String]) -> Result<Vec<Message>> {
        let skip = serde_json::to_string(skip_from).expect("strings serialize");
        self.with(|c| {
            let tx = c.transaction()?;
            let mut claimed = {
                let mut stmt = tx.prepare_cached(
                    "UPDATE outbox SET status = 'claimed' WHERE id IN (SELECT id FROM outbox WHERE status = 'pending' AND from_number NOT IN (SELECT value FROM json_each(?2)) ORDER BY id LIMIT ?1) RETURNING id, session_id, to_number, from_number, body, status, created_at, note, sid",
                )?;
                let rows = stmt.query_map(params![limit as i64, skip], message_from)?;
                rows.collect::<rusqlite::Result<Vec<Message>>>()?
            };
            tx.commit()?;
            claimed.sort_by_key(|m| m.id);
            Ok(claimed)
        })
    }

    fn message_sent_queued(&self, id: i64, sid: &str) -> Durable {
        let sid = sid.to_string();
        self.queue(move |c| {
            // A status callback may have raced ahead and recorded a later status.
            c.prepare_cached("UPDATE outbox SET sid = ?2, status = CASE WHEN status IN ('sending', 'unknown', 'pending', 'claimed') THEN 'sent' ELSE status END WHERE id = ?1")?
                .execute(params![id, sid])?;
            redact_body(c, id).map(|()| 0)
        })
    }

    fn message_status_by_sid(
        &self,
        sid: &str,
        status: MessageStatus,
        note: Option<&str>,
    ) -> Result<bool> {
        let (sid, note) = (sid.to_string(), note.map(str::to_string));
        let rank = status.rank() as i64;
        self.write(move |c| {
            // Callbacks arrive in any order: a status only ever moves forward.
            c.prepare_cached(&format!(
                "UPDATE outbox SET status = CASE WHEN {RANK_SQL} < ?4 THEN ?2 ELSE status END, note = CASE WHEN {RANK_SQL} < ?4 THEN COALESCE(?3, note) ELSE note END WHERE sid = ?1"
            ))?
            .execute(params![sid, status.as_str(), note, rank])
            .map(|n| n as i64)
        })
        .map(|n| n > 0)
    }

    fn recover_sending(&self) -> Result<usize> {
        self.write(|c| {
            c.prepare_cached("UPDATE outbox SET status = 'pending' WHERE status = 'claimed'")?
                .execute([])?;
            c.prepare_cached("UPDATE outbox SET status = 'unknown', note = 'the server stopped while sending it' WHERE status = 'sending'")?
                .execute([])
                .map(|n| n as i64)
        })
        .map(|n| n as usize)
    }

    fn start_sending_queued(&self, id: i64) -> Durable {
        self.queue(move |c| {
            c.prepare_cached(
                "UPDATE outbox SET status = 'sending' WHERE id = ?1 AND status = 'claimed'",
            )?
            .execute([id])
            .map(|n| n as i64)
        })
    }

    fn resend_unknown(&self, id: i64, note: &str) -> Result<bool> {
        let note = note.to_string();
        self.write(move |c| {
            c.prepare_cached("UPDATE outbox SET status = 'pending', note = ?2 WHERE id = ?1 AND status = 'unknown'")?
                .execute(params![id, note])
                .map(|n| n as i64)
        })
        .map(|n| n == 1)
    }

    fn release_claimed(&self) -> Result<usize> {
        self.write(|c| {
            c.prepare_cached("UPDATE outbox SET status = 'pending' WHERE status = 'claimed'")?
                .execute([])
                .map(|n| n as i64)
        })
        .map(|n| n as usize)
    }

    fn release_claim(&self, id: i64) -> Result<bool> {
        self.write(move |c| {
            c.prepare_cached(
                "UPDATE outbox SET status = 'pending' WHERE id = ?1 AND status = 'claimed'",
            )?
            .execute([id])
            .map(|n| n as i64)
        })
        .map(|n| n == 1)
    }

    fn first_delivery(&self, sid: &str, now: DateTime<Utc>) -> Result<bool> {
        let sid = sid.to_string();
        self.write(move |c| {
            c.prepare_cached("INSERT OR IGNORE INTO deliveries (sid, at) VALUES (?1, ?2)")?
                .execute(params![sid, millis(now)])
                .map(|n| n as i64)
        })
        .map(|n| n > 0)
    }

    fn delivery_seen(&self, sid: &str) -> Result<bool> {
        self.read(|c| {
            c.prepare_cached("SELECT EXISTS (SELECT 1 FROM deliveries WHERE sid = ?1)")?
                .query_row([sid], |r| r.get(0))
        })
    }

    fn secret(&self, name: &str) -> Result<Vec<u8>> {
        let mut fresh = [0u8; 32];
        getrandom::fill(&mut fresh).map_err(err)?;
        let name = name.to_string();
        let key = name.clone();
        self.write(move |c| {
            c.prepare_cached("INSERT OR IGNORE INTO secrets (name, value) VALUES (?1, ?2)")?
                .execute(params![name, fresh.to_vec()])
                .map(|n| n as i64)
        })?;
        self.with(|c| {
            c.query_row("SELECT value FROM secrets WHERE name = ?1", [key], |r| {
                r.get(0)
            })
        })
    }

    fn ping(&self) -> Result<()> {
        self.read(|c| {
            c.prepare_cached("SELECT 1")?
                .query_row([], |r| r.get::<_, i64>(0))
        })?;
        // A commit of its own (shared with whatever else is committing): a full disk or
        // a file that cannot be written fails here, as every change would.
        let at = millis(Utc::now());
        self.write(move |c| {
            c.prepare_cached("INSERT OR REPLACE INTO health (id, at) VALUES (1, ?1)")?
                .execute([at])
                .map(|n| n as i64)
        })
        .map(|_| ())
    }

    fn set_message_status(&self, id: i64, status: MessageStatus, note: Option<&str>) -> Result<()> {
        let note = note.map(str::to_string);
        self.write(move |c| {
            c.prepare_cached(
                "UPDATE outbox SET status = ?2, note = COALESCE(?3, note) WHERE id = ?1",
            )?
            .execute(params![id, status.as_str(), note])?;
            // A text that has left, or will not be sent again, needs its link no more.
            if status.rank() >= MessageStatus::Sent.rank() {
                redact_body(c, id)?;
            }
            Ok::<_, rusqlite::Error>(0)
        })
        .map(|_| ())
    }

    fn opt_out(&self, phone: &str, now: DateTime<Utc>) -> Result<()> {
        self.with(|c| {
            c.prepare_cached("INSERT OR IGNORE INTO opt_outs (phone, at) VALUES (?1, ?2)")?
                .execute(params![phone, millis(now)])
                .map(|_| ())
        })
    }

    fn opt_in(&self, phone: &str) -> Result<()> {
        self.with(|c| {
            c.prepare_cached("DELETE FROM opt_outs WHERE phone = ?1")?
                .execute([phone])
                .map(|_| ())
        })
    }

    fn schedule_next(&self, journey: &str, trigger_index: usize) -> Result<Option<DateTime<Utc>>> {
        self.read(|c| {
            c.prepare_cached(
                "SELECT next_at FROM schedules WHERE journey = ?1 AND trigger_index = ?2",
            )?
            .query_row(params![journey, trigger_index as i64], |r| {
                r.get::<_, i64>(0)
            })
            .optional()
        })
        .map(|ms| ms.map(instant))
    }

    fn claim_schedule(
        &self,
        journey: &str,
        trigger_index: usize,
        expected: Option<DateTime<Utc>>,
        next: DateTime<Utc>,
    ) -> Result<bool> {
        self.with(|c| {
            let tx = c.transaction()?;
            let current: Option<i64> = tx
                .query_row("SELECT next_at FROM schedules WHERE journey = ?1 AND trigger_index = ?2", params![journey, trigger_index as i64], |r| r.get(0))
                .optional()?;
            if current != expected.map(millis) {
                return Ok(false);
            }
            tx.prepare_cached("INSERT INTO schedules (journey, trigger_index, next_at) VALUES (?1, ?2, ?3) ON CONFLICT (journey, trigger_index) DO UPDATE SET next_at = ?3")?.execute(params![journey, trigger_index as i64, millis(next)])?;
            tx.commit()?;
            Ok(true)
        })
    }

    fn is_opted_out(&self, phone: &str) -> Result<bool> {
        self.read(|c| {
            c.prepare_cached("SELECT EXISTS (SELECT 1 FROM opt_outs WHERE phone = ?1)")?
                .query_row([phone], |r| r.get(0))
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::Duration;

    /// With every hash colliding, each lookup in the pending timers yields every timer:
    /// only the SQL's check of the real session and key picks the right ones.
    #[test]
    fn with_colliding_hashes_only_the_timers_asked_for_change() {
        let store = SqliteStore::in_memory().unwrap();
        store.shared.writer.lock().unwrap().timers = PendingTimers::colliding();
        let text = include_str!("../../examples/texting_journey_links.journey");
        let (_, modules, _) = crate::check_source("t.journey", text);
        let j = modules
            .into_iter()
            .flat_map(|(_, m)| m.journeys)
            .next()
            .unwrap();
        // Whole milliseconds, as the store keeps times.
        let now = instant(millis(Utc::now()));
        let timer = |key: &str, hours: i64, step: usize| Effect::StartTimer {
            key: key.into(),
            due: now + Duration::hours(hours),
            step,
            skip_if_missed: false,
            actions: vec![],
        };
        let [mut s1, mut s2] = ["s1", "s2"].map(|id| {
            let mut s = SessionState::new(id.into(), &j, "link", now);
            let timers = [timer("a", 1, 0), timer("b", 2, 1)];
            store
                .create_session_with(&mut s, id.as_bytes(), &timers, now)
                .unwrap();
            s
        });
        let pending = || -> Vec<(String, String, i64)> {
            store
                .due_timers(now + Duration::days(1), 10)
                .unwrap()
                .into_iter()
                .map(|t| (t.session_id, t.key, (t.due - now).num_hours()))
                .collect()
        };
        let expect = |timers: &[(&str, &str, i64)]| -> Vec<(String, String, i64)> {
            timers
                .iter()
                .map(|&(s, k, h)| (s.to_string(), k.to_string(), h))
                .collect()
        };
        // s1's `a` is replaced: the others stay.
        store.apply(&mut s1, &[timer("a", 3, 0)], now).unwrap();
        assert_eq!(
            pending(),
            expect(&[
                ("s2", "a", 1),
                ("s1", "b", 2),
                ("s2", "b", 2),
                ("s1", "a", 3)
            ])
        );
        // s1's step 0 is left, and s2's `b` stopped.
        store
            .apply(&mut s1, &[Effect::LeftSteps { before: 1 }], now)
            .unwrap();
        store
            .apply(&mut s2, &[Effect::StopTimer { key: "b".into() }], now)
            .unwrap();
        assert_eq!(pending(), expect(&[("s2", "a", 1), ("s1", "b", 2)]));
        // s2's `a` fires, and ending s1 cancels its `b`: nothing is left, in the
        // database or in the index.
        let a = store
            .due_timers(now + Duration::days(1), 1)
            .unwrap()
            .remove(0);
        assert!(store.fire_timer(a.id, &mut s2, &[], now).unwrap());
        s1.status = crate::runtime::session::Status::Ended;
        store.apply(&mut s1, &[], now).unwrap();
        assert!(pending().is_empty());
        assert!(store.shared.writer.lock().unwrap().timers.is_empty());
    }
}
