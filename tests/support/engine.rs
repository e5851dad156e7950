//! What the engine tests share: a journey checked from source, an engine on a manual
//! clock and a real SQLite file, and readers for what a session did.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use chrono::{DateTime, Utc};
use journeyc::ir;
use journeyc::runtime::clock::ManualClock;
use journeyc::runtime::engine::Engine;
use journeyc::runtime::session::SessionState;
use journeyc::runtime::sqlite::SqliteStore;
use journeyc::runtime::store::{MessageStatus, Store};
use journeyc::runtime::Value;

/// The journey link every test session gets.
pub const LINK: &str = "https://journeys.example/j/tok";

pub fn at(s: &str) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc)
}

/// A fresh database file for one test.
pub fn temp_db(name: &str) -> PathBuf {
    // Under target/tmp, replaced by the next run: tests leave nothing in /tmp.
    let dir =
        std::path::Path::new(env!("CARGO_TARGET_TMPDIR")).join(format!("journeyc-engine-{name}"));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir.join("journey.db")
}

/// The journeys of a source that must check without errors.
pub fn journeys(source: &str) -> Vec<ir::Journey> {
    let (_, modules, diags) = journeyc::check_source("j.journey", source);
    assert!(diags.iter().all(|d| !d.is_error()), "{diags:?}");
    modules.into_iter().flat_map(|(_, m)| m.journeys).collect()
}

pub fn engine(source: &str, db: &Path, clock: &ManualClock) -> Engine {
    let e = Engine::new(
        journeys(source),
        Box::new(SqliteStore::open(db).unwrap()),
        Arc::new(clock.clone()),
    );
    // The store keeps no link: the engine makes them again, as a server would.
    e.set_links(Arc::new(|id: &str| {
        journeyc::runtime::engine::JourneyLink {
            url: LINK.to_string(),
            token_hash: format!("hash:{id}").into_bytes(),
        }
    }));
    e
}

/// Session ids for an inbound text or call that starts a session: always `id`.
pub fn new_id(id: &str) -> impl Fn() -> (String, Vec<u8>, Option<String>) + Send + 'static {
    let id = id.to_string();
    move || {
        (
            id.to_string(),
            id.as_bytes().to_vec(),
            Some(LINK.to_string()),
        )
    }
}

/// A session's event log, as text.
pub fn log(store: &dyn Store, session: &str) -> Vec<String> {
    store
        .events(session)
        .unwrap()
        .into_iter()
        .map(|(_, text)| text)
        .collect()
}

/// The bodies of the texts waiting in the outbox, in order.
pub fn bodies(store: &dyn Store) -> Vec<String> {
    store
        .outbox(None)
        .unwrap()
        .into_iter()
        .filter(|m| m.status == MessageStatus::Pending)
        .map(|m| m.body)
        .collect()
}

pub fn number(state: &SessionState, j: &ir::Journey, var: &str) -> f64 {
    let i = j.vars.iter().position(|v| v.name == var).unwrap();
    match &state.vars[i] {
        Value::Number(n) => *n,
        other => panic!("{var} is {other:?}"),
    }
}

pub fn text_var(state: &SessionState, j: &ir::Journey, var: &str) -> String {
    let i = j.vars.iter().position(|v| v.name == var).unwrap();
    match &state.vars[i] {
        Value::Text(t) => t.clone(),
        other => panic!("{var} is {other:?}"),
    }
}

/// The page a session is on, by name, in the version of its journey it runs.
pub fn page_name(e: &Engine, id: &str) -> String {
    let s = e.store().session(id).unwrap().unwrap();
    let j = e.journey_of(&s).unwrap();
    j.steps[s.step].pages[s.page.unwrap_or(0)].name.clone()
}
