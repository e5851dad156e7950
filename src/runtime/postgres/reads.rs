//! Sessions by journey-link token, read together: every request opens a journey link,
//! so these reads are coalesced. Reads asked for while a query is out wait and go
//! together in the next one, and a copy of each session read is kept, so that the
//! query brings a session's state only when it changed since. The reading task and
//! its connection run on the runtime of the first caller (the server's), so that a
//! read wakes no thread of another runtime.
//!
//! Invariant: an answer is never older than its question. A read's query is sent
//! after the read was asked for, so it sees every change committed before, on any
//! replica; a kept copy is used only when the query finds the row at the copy's
//! revision and version.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use tokio::sync::{mpsc, oneshot};
use tokio_postgres::{Client, Row, Statement};

use super::wire::{connect, get, pg_err, session_from};
use crate::runtime::error::{Result, StoreError};
use crate::runtime::session::SessionState;

/// Distinct tokens in one query at most.
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

type Answer = Result<Option<SessionState>>;

struct Ask {
    token_hash: Vec<u8>,
    reply: oneshot::Sender<Answer>,
}

/// The handle the store asks through; the reading task starts with the first read.
pub(super) struct TokenReads(Arc<Reader>);

struct Reader {
    config: tokio_postgres::Config,
    tls: Option<tokio_postgres_rustls::MakeRustlsConnect>,
    asks: Mutex<Option<mpsc::UnboundedSender<Ask>>>,
}

impl TokenReads {
    pub(super) fn new(
        config: tokio_postgres::Config,
        tls: Option<tokio_postgres_rustls::MakeRustlsConnect>,
    ) -> TokenReads {
        TokenReads(Arc::new(Reader {
            config,
            tls,
            asks: Mutex::new(None),
        }))
    }

    /// The session whose token hashes to `token_hash`, as of a moment after this is
    /// first polled. The reading task runs on the runtime that polls the first read,
    /// which must enable I/O and time, as any of tokio-postgres's must.
    pub(super) fn read(
        &self,
        token_hash: &[u8],
    ) -> impl std::future::Future<Output = Answer> + Send + 'static {
        let (reader, token_hash) = (self.0.clone(), token_hash.to_vec());
        async move {
            let (reply, answer) = oneshot::channel();
            reader.ask(Ask { token_hash, reply })?;
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

/// A connection of the reader's own, with its query prepared.
async fn connected(
    config: &tokio_postgres::Config,
    tls: &Option<tokio_postgres_rustls::MakeRustlsConnect>,
) -> Result<(Client, Statement)> {
    let client = connect(config, tls).await.map_err(pg_err)?;
    let query = client.prepare(QUERY).await.map_err(pg_err)?;
    Ok((client, query))
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
    let mut conn: Option<(Client, Statement)> = None;
    while let Some(first) = rx.recv().await {
        // Whatever was asked while the last query was out goes in this one.
        let mut batch: HashMap<Vec<u8>, Vec<oneshot::Sender<Answer>>> = HashMap::new();
        batch.entry(first.token_hash).or_default().push(first.reply);
        while batch.len() < MAX_BATCH {
            match rx.try_recv() {
                Ok(ask) => batch.entry(ask.token_hash).or_default().push(ask.reply),
                Err(_) => break,
            }
        }
        if conn.as_ref().is_none_or(|(c, _)| c.is_closed()) {
            conn = match connected(&config, &tls).await {
                Ok(c) => Some(c),
                Err(e) => {
                    for reply in batch.into_values().flatten() {
                        let _ = reply.send(Err(e.clone()));
                    }
                    continue;
                }
            };
        }
        if let Some(c) = &conn {
            answer(c, &mut kept, batch).await;
        }
    }
}

/// Runs one batch's query and answers each of its reads.
async fn answer(
    (client, query): &(Client, Statement),
    kept: &mut HashMap<Vec<u8>, SessionState>,
    batch: HashMap<Vec<u8>, Vec<oneshot::Sender<Answer>>>,
) {
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
