//! The reads nearly every request makes, read together: sessions by journey-link
//! token, and what an inbound text needs to know (`Store::inbound`). Reads asked for
//! while a query is out wait and go together in the next one, one query per kind, and
//! a copy of each session read by token is kept, so that the query brings a session's
//! state only when it changed since. The reading task and its connection run on the
//! runtime of the first caller (the server's), so that a read wakes no thread of
//! another runtime.
//!
//! Invariant: an answer is never older than its question. A read's query is sent
//! after the read was asked for, so it sees every change committed before, on any
//! replica; a kept copy is used only when the query finds the row at the copy's
//! revision and version.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use tokio::sync::{mpsc, oneshot};
use tokio_postgres::{Client, Row, Statement};

use super::wire::{connect, get, pg_err, session_from, session_from_at};
use crate::runtime::error::{Result, StoreError};
use crate::runtime::session::SessionState;
use crate::runtime::store::Inbound;

/// Reads in one batch at most.
const MAX_BATCH: usize = 256;
/// Sessions kept at most; when full the copies start again empty.
const KEPT: usize = 10_000;

/// Finds the rows of the batch's token hashes, and their state only where the row is
/// no longer at the kept copy's revision and version (`-1` when none is kept). A
/// lateral lookup with `LIMIT 1` probes the token index for each hash; as a join,
/// PostgreSQL planned a scan of all sessions with the statistics of a new database.
const QUERY: &str =
    "SELECT CASE WHEN s.revision = c.rev AND s.version = c.ver THEN NULL ELSE s.state END, \
     s.revision, s.version, s.id, c.h \
     FROM unnest($1::bytea[], $2::bigint[], $3::bigint[]) AS c(h, rev, ver) \
     CROSS JOIN LATERAL (SELECT state, revision, version, id FROM sessions \
     WHERE token_hash = c.h LIMIT 1) s";

/// For each inbound text (its webhook id, number and time, numbered by `i`): whether
/// the webhook was kept, whether the number opted out, and a row for each of the
/// number's active sessions, newest first, or one row with no session when none. Each
/// lookup is a lateral subquery that cannot be flattened (`LIMIT 1`, `OFFSET 0`), so
/// that it probes an index for each text (see `connected`).
pub(super) const INBOUND: &str = "SELECT c.i, d.sid IS NOT NULL, o.phone IS NOT NULL, \
     s.state, s.revision, s.version, s.id \
     FROM unnest($1::text[], $2::text[], $3::bigint[]) WITH ORDINALITY AS c(d, p, now, i) \
     LEFT JOIN LATERAL (SELECT sid FROM deliveries WHERE sid = c.d LIMIT 1) d ON true \
     LEFT JOIN LATERAL (SELECT phone FROM opt_outs WHERE phone = c.p LIMIT 1) o ON true \
     LEFT JOIN LATERAL (SELECT state, revision, version, id, seq FROM sessions \
     WHERE actor_phone = c.p AND status = 'active' AND expires_at > c.now OFFSET 0) s ON true \
     ORDER BY c.i, s.seq DESC";

type Answer = Result<Option<SessionState>>;

enum Ask {
    Token {
        token_hash: Vec<u8>,
        reply: oneshot::Sender<Answer>,
    },
    Inbound {
        delivery: Option<String>,
        phone: String,
        now: i64,
        reply: oneshot::Sender<Result<Inbound>>,
    },
}

/// An inbound text's read, waiting for its batch.
struct InboundAsk {
    delivery: Option<String>,
    phone: String,
    now: i64,
    reply: oneshot::Sender<Result<Inbound>>,
}

/// The handle the store asks through; the reading task starts with the first read.
pub(super) struct Reads(Arc<Reader>);

struct Reader {
    config: tokio_postgres::Config,
    tls: Option<tokio_postgres_rustls::MakeRustlsConnect>,
    asks: Mutex<Option<mpsc::UnboundedSender<Ask>>>,
}

impl Reads {
    pub(super) fn new(
        config: tokio_postgres::Config,
        tls: Option<tokio_postgres_rustls::MakeRustlsConnect>,
    ) -> Reads {
        Reads(Arc::new(Reader {
            config,
            tls,
            asks: Mutex::new(None),
        }))
    }

    /// The session whose token hashes to `token_hash`, as of a moment after this is
    /// first polled. The reading task runs on the runtime that polls the first read,
    /// which must enable I/O and time, as any of tokio-postgres's must.
    pub(super) fn token(
        &self,
        token_hash: &[u8],
    ) -> impl std::future::Future<Output = Answer> + Send + 'static {
        let (reader, token_hash) = (self.0.clone(), token_hash.to_vec());
        async move {
            let (reply, answer) = oneshot::channel();
            reader.ask(Ask::Token { token_hash, reply })?;
            answer.await.unwrap_or_else(|_| Err(stopped()))
        }
    }

    /// `Store::inbound`, as of a moment after this is first polled (see `token`).
    pub(super) fn inbound(
        &self,
        delivery: Option<&str>,
        phone: &str,
        now: i64,
    ) -> impl std::future::Future<Output = Result<Inbound>> + Send + 'static {
        let reader = self.0.clone();
        let (delivery, phone) = (delivery.map(str::to_string), phone.to_string());
        async move {
            let (reply, answer) = oneshot::channel();
            reader.ask(Ask::Inbound {
                delivery,
                phone,
                now,
                reply,
            })?;
            answer.await.unwrap_or_else(|_| Err(stopped()))
        }
    }
}

impl Reader {
    /// Hands `ask` to the reading task, started on this runtime if none runs: none
    /// has yet, or the runtime it ran on has shut down.
    fn ask(&self, mut ask: Ask) -> Result<()> {
        let mut asks = self.asks.lock().unwrap_or_else(|e| e.into_inner());
        // Twice at most: a task just started on a runtime that is shutting down stops.
        for _ in 0..2 {
            let to = match asks.as_ref() {
                Some(to) => to,
                None => {
                    let (to, rx) = mpsc::unbounded_channel();
                    tokio::spawn(serve(self.config.clone(), self.tls.clone(), rx));
                    asks.insert(to)
                }
            };
            match to.send(ask) {
                Ok(()) => return Ok(()),
                Err(mpsc::error::SendError(back)) => {
                    ask = back;
                    *asks = None;
                }
            }
        }
        Err(stopped())
    }
}

/// A connection of the reader's own, with its queries prepared.
struct Conn {
    client: Client,
    token: Statement,
    inbound: Statement,
}

async fn connected(
    config: &tokio_postgres::Config,
    tls: &Option<tokio_postgres_rustls::MakeRustlsConnect>,
) -> Result<Conn> {
    let client = connect(config, tls).await.map_err(pg_err)?;
    // This connection runs only the lookups above, which are best as index probes
    // for each row asked about. From the statistics of young tables (a new database
    // is analysed a minute later at the earliest), PostgreSQL planned scans of whole
    // tables instead, which grew with every text: as `EXISTS`, a hashed scan of all
    // deliveries per query.
    client
        .batch_execute("SET enable_seqscan = off")
        .await
        .map_err(pg_err)?;
    let token = client.prepare(QUERY).await.map_err(pg_err)?;
    let inbound = client.prepare(INBOUND).await.map_err(pg_err)?;
    Ok(Conn {
        client,
        token,
        inbound,
    })
}

fn stopped() -> StoreError {
    StoreError::Unavailable("the store's reader has stopped".into())
}

/// Takes the reads asked for, a batch whenever no query is out, until the store is
/// dropped. Its connection is made again after it fails.
async fn serve(
    config: tokio_postgres::Config,
    tls: Option<tokio_postgres_rustls::MakeRustlsConnect>,
    mut rx: mpsc::UnboundedReceiver<Ask>,
) {
    let mut kept: HashMap<Vec<u8>, SessionState> = HashMap::new();
    let mut conn: Option<Conn> = None;
    while let Some(first) = rx.recv().await {
        // Whatever was asked while the last queries were out goes in these.
        let mut tokens: HashMap<Vec<u8>, Vec<oneshot::Sender<Answer>>> = HashMap::new();
        let mut inbound: Vec<InboundAsk> = Vec::new();
        let mut next = Some(first);
        let mut n = 0;
        while let Some(ask) = next.take() {
            match ask {
                Ask::Token { token_hash, reply } => {
                    tokens.entry(token_hash).or_default().push(reply)
                }
                Ask::Inbound {
                    delivery,
                    phone,
                    now,
                    reply,
                } => inbound.push(InboundAsk {
                    delivery,
                    phone,
                    now,
                    reply,
                }),
            }
            n += 1;
            if n < MAX_BATCH {
                next = rx.try_recv().ok();
            }
        }
        if conn.as_ref().is_none_or(|c| c.client.is_closed()) {
            conn = match connected(&config, &tls).await {
                Ok(c) => Some(c),
                Err(e) => {
                    for reply in tokens.into_values().flatten() {
                        let _ = reply.send(Err(e.clone()));
                    }
                    for ask in inbound {
                        let _ = ask.reply.send(Err(e.clone()));
                    }
                    continue;
                }
            };
        }
        if let Some(c) = &conn {
            // Both queries go out on the connection at once.
            tokio::join!(
                async {
                    if !tokens.is_empty() {
                        answer(c, &mut kept, tokens).await
                    }
                },
                async {
                    if !inbound.is_empty() {
                        answer_inbound(c, inbound).await
                    }
                }
            );
        }
    }
}

/// Runs one batch's inbound query and answers each of its reads.
async fn answer_inbound(conn: &Conn, batch: Vec<InboundAsk>) {
    let deliveries: Vec<Option<&str>> = batch.iter().map(|a| a.delivery.as_deref()).collect();
    let phones: Vec<&str> = batch.iter().map(|a| a.phone.as_str()).collect();
    let nows: Vec<i64> = batch.iter().map(|a| a.now).collect();
    let rows = conn
        .client
        .query(&conn.inbound, &[&deliveries, &phones, &nows])
        .await
        .map_err(pg_err);
    let rows = match rows {
        Ok(rows) => rows,
        Err(e) => {
            for ask in batch {
                let _ = ask.reply.send(Err(e.clone()));
            }
            return;
        }
    };
    for (ask, answer) in batch.into_iter().zip(inbound_from(&rows, nows.len())) {
        let _ = ask.reply.send(answer);
    }
}

/// The answers to `n` reads from the rows of an `INBOUND` query.
pub(super) fn inbound_from(rows: &[Row], n: usize) -> Vec<Result<Inbound>> {
    let mut answers: Vec<Option<Result<Inbound>>> = (0..n).map(|_| None).collect();
    for row in rows {
        let Some(slot) = get::<i64>(row, 0)
            .ok()
            .and_then(|i| answers.get_mut((i as usize).wrapping_sub(1)))
        else {
            continue;
        };
        let read = match slot.take() {
            Some(Err(e)) => Err(e),
            Some(Ok(answer)) => Ok(answer),
            None => (|| {
                Ok(Inbound {
                    seen: get(row, 1)?,
                    opted_out: get(row, 2)?,
                    active: Vec::new(),
                })
            })(),
        };
        *slot = Some(read.and_then(|mut answer| {
            if row.try_get::<_, Option<String>>(3).ok().flatten().is_some() {
                answer.active.push(session_from_at(row, 3)?);
            }
            Ok(answer)
        }));
    }
    answers
        .into_iter()
        .map(|a| {
            a.unwrap_or_else(|| {
                Err(StoreError::new(
                    "PostgreSQL gave no row for an inbound text",
                ))
            })
        })
        .collect()
}

/// Runs one batch's token query and answers each of its reads.
async fn answer(
    conn: &Conn,
    kept: &mut HashMap<Vec<u8>, SessionState>,
    batch: HashMap<Vec<u8>, Vec<oneshot::Sender<Answer>>>,
) {
    let (client, query) = (&conn.client, &conn.token);
    let hashes: Vec<&[u8]> = batch.keys().map(|h| h.as_slice()).collect();
    let at = |f: fn(&SessionState) -> i64| -> Vec<i64> {
        hashes.iter().map(|h| kept.get(*h).map_or(-1, f)).collect()
    };
    let revisions = at(|s| s.revision as i64);
    let versions = at(|s| i64::from(s.version));
    let rows = client
        .query(query, &[&hashes, &revisions, &versions])
        .await
        .map_err(pg_err);
    let rows = match rows {
        Ok(rows) => rows,
        Err(e) => {
            for reply in batch.into_values().flatten() {
                let _ = reply.send(Err(e.clone()));
            }
            return;
        }
    };
    // Every row is read against the copies the query was sent with; the copies are
    // replaced only after, so that none a later row needs is gone.
    let mut found: HashMap<Vec<u8>, Answer> = HashMap::with_capacity(rows.len());
    for row in &rows {
        let Ok(hash) = get::<Vec<u8>>(row, 4) else {
            continue;
        };
        let read = unchanged(row, kept.get(&hash)).map_or_else(|| session_from(row), Ok);
        found.insert(hash, read.map(Some));
    }
    for (hash, read) in &found {
        if let Ok(Some(s)) = read {
            if kept.len() >= KEPT && !kept.contains_key(hash) {
                kept.clear();
            }
            kept.insert(hash.clone(), s.clone());
        }
    }
    for (hash, replies) in batch {
        let read = found.remove(&hash).unwrap_or(Ok(None));
        if matches!(read, Ok(None)) {
            kept.remove(&hash);
        }
        for reply in replies {
            let _ = reply.send(read.clone());
        }
    }
}

/// The kept copy, when the row came without its state: it is at the copy's revision.
fn unchanged(row: &Row, copy: Option<&SessionState>) -> Option<SessionState> {
    let state: Option<String> = row.try_get(0).ok()?;
    match (state, copy) {
        (None, Some(copy)) => Some(copy.clone()),
        _ => None,
    }
}
