//! A restart with many versions and live sessions: the time `journeyc run` takes to
//! open its store and deploy, with 10 versions of a journey and 100,000 live sessions
//! spread over them, each with a pending timer. Run with `cargo bench --bench
//! versions` (`JOURNEYC_SESSIONS` sets the number). Target: under 2 s in all, next to
//! opening the store alone, measured in the same run.

use std::sync::Arc;
use std::time::{Duration, Instant};

use chrono::Utc;
use journeyc::ir;
use journeyc::runtime::clock::SystemClock;
use journeyc::runtime::engine::Engine;
use journeyc::runtime::interp::Effect;
use journeyc::runtime::session::SessionState;
use journeyc::runtime::sqlite::SqliteStore;

const VERSIONS: u32 = 10;

/// Version `v` of the seed's journeys: the same but for one heading.
fn journeys(v: u32) -> Vec<ir::Journey> {
    let text = include_str!("../examples/texting_journey_links.journey")
        .replace("Almost done", &format!("Almost done ({v})"));
    let (_, modules, _) = journeyc::check_source("t.journey", &text);
    modules.into_iter().flat_map(|(_, m)| m.journeys).collect()
}

fn main() {
    let sessions: usize = std::env::var("JOURNEYC_SESSIONS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(100_000);
    let dir = std::env::temp_dir().join(format!("journeyc-bench-versions-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("versions.db");
    let now = Utc::now();
    // Ten deployments, each leaving a tenth of the sessions on its version.
    for v in 1..=VERSIONS {
        let store = SqliteStore::open(&path).unwrap();
        let engine = Engine::new(journeys(v), Box::new(store), Arc::new(SystemClock));
        let j = engine.journeys()[0].clone();
        let queued: Vec<_> = (0..sessions / VERSIONS as usize)
            .map(|i| {
                let mut s = SessionState::new(format!("v{v}-{i}"), &j, "link", now);
                s.version = v;
                let nudge = Effect::StartTimer {
                    key: "nudge".into(),
                    due: now + chrono::Duration::days(1),
                    step: 0,
                    skip_if_missed: false,
                    actions: vec![],
                };
                engine
                    .store()
                    .create_session_queued(&s, s.id.as_bytes(), &[nudge], now)
            })
            .collect();
        for d in queued {
            d.wait().unwrap();
        }
    }
    println!("a restart with {VERSIONS} versions and {sessions} live sessions, each with a timer pending");
    let mut store_only = Vec::new();
    let mut total = Vec::new();
    for _ in 0..3 {
        let started = Instant::now();
        let store = SqliteStore::open(&path).unwrap();
        store_only.push(started.elapsed());
        drop(store);
        let started = Instant::now();
        let store = SqliteStore::open(&path).unwrap();
        let engine =
            Engine::open(journeys(VERSIONS), Box::new(store), Arc::new(SystemClock)).unwrap();
        total.push(started.elapsed());
        let d = &engine.deployed()[0];
        assert_eq!((d.version, d.new), (VERSIONS, false));
        assert_eq!(
            d.older_live as usize,
            sessions - sessions / VERSIONS as usize
        );
        assert_eq!(engine.versions_of(&d.journey).len(), VERSIONS as usize);
    }
    let ms = |d: &Duration| d.as_secs_f64() * 1000.0;
    let median = |v: &mut Vec<Duration>| {
        v.sort();
        v[v.len() / 2]
    };
    let (store_ms, total_ms) = (ms(&median(&mut store_only)), ms(&median(&mut total)));
    println!("  the store alone (baseline)    {store_ms:>8.0} ms (median of 3)");
    println!(
        "  the store and the engine      {total_ms:>8.0} ms (median of 3; {:.2}x the baseline; target: under 2,000 ms)",
        total_ms / store_ms
    );
    let _ = std::fs::remove_dir_all(&dir);
}
