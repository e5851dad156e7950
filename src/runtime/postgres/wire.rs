//! What PostgreSQL's store and its reader share about the wire: making a connection,
//! reading a row's columns and a session from them, and what an error means.

use tokio_postgres::{NoTls, Row};

use crate::runtime::error::{Result, StoreError};
use crate::runtime::session::SessionState;

/// PostgreSQL's error, by kind: the server gone, restarting, out of connections,
/// aborting for contention or a lock held elsewhere is the store's state
/// (`Unavailable`: 503, try again), not the event's fault.
pub(super) fn pg_err(e: tokio_postgres::Error) -> StoreError {
    match e.as_db_error() {
        Some(db) => {
            let code = db.code().code();
            let transient = ["08", "53", "57P", "58", "40001", "40P01", "55P03"]
                .iter()
                .any(|p| code.starts_with(p));
            let message = format!("PostgreSQL: {} ({code})", db.message());
            // A claim on a journey and number that another open change holds
            // (`journeyc_claim_number`), or a session that holds them already: the
            // start runs again, and finds it once the other change is over.
            if code == "JC001"
                || (code == "23505" && db.constraint() == Some("sessions_one_per_number"))
            {
                return StoreError::Conflict {
                    session: String::new(),
                };
            }
            if transient {
                StoreError::Unavailable(message)
            } else {
                StoreError::Other(message)
            }
        }
        None if e.is_closed()
            || std::error::Error::source(&e).is_some_and(|s| s.is::<std::io::Error>()) =>
        {
            StoreError::Unavailable(format!("PostgreSQL is unreachable: {e}"))
        }
        None => StoreError::Other(format!("PostgreSQL: {e}")),
    }
}

/// A connection of its own, driven by a task on the runtime this is awaited on.
pub(super) async fn connect(
    config: &tokio_postgres::Config,
    tls: &Option<tokio_postgres_rustls::MakeRustlsConnect>,
) -> std::result::Result<tokio_postgres::Client, tokio_postgres::Error> {
    match tls {
        Some(tls) => {
            let (client, connection) = config.connect(tls.clone()).await?;
            tokio::spawn(connection);
            Ok(client)
        }
        None => {
            let (client, connection) = config.connect(NoTls).await?;
            tokio::spawn(connection);
            Ok(client)
        }
    }
}

pub(super) fn get<T: for<'a> tokio_postgres::types::FromSql<'a>>(row: &Row, i: usize) -> Result<T> {
    row.try_get(i)
        .map_err(|e| StoreError::new(format!("PostgreSQL: {e}")))
}

/// A session from a row of `state, revision, version, id`.
pub(super) fn session_from(row: &Row) -> Result<SessionState> {
    session_from_at(row, 0)
}

/// A session from a row whose columns `state, revision, version, id` start at `first`.
pub(super) fn session_from_at(row: &Row, first: usize) -> Result<SessionState> {
    let json: String = get(row, first)?;
    let mut state: SessionState = serde_json::from_str(&json).map_err(|e| StoreError::Broken {
        session: row.try_get(first + 3).unwrap_or_default(),
        problem: format!("its stored state does not read ({e})"),
    })?;
    state.revision = get::<i64>(row, first + 1)? as u64;
    state.version = get::<i64>(row, first + 2)? as u32;
    Ok(state)
}
