//! Durable timers on the SQLite store. Run with `cargo bench --bench timers` (release).
//!
//! - Schedules `JOURNEYC_TIMERS` timers (default 1,000,000) from 1,000 concurrent
//!   async tasks, each timer its own change that the task awaits until it is durable,
//!   as the server's requests do, and reports the rate and the peak resident memory,
//!   next to a baseline: the same inserts as one bulk transaction. For comparison, a
//!   fifth as many from 64 threads that block until each change is durable.
//! - Fires 200,000 due timers as fast as the engine can.
//! - Reopens the database with the million pending (a restart), and reports how long
//!   that takes.
//! - Fires 5,000 timers due at 1,000 per second on the real clock, in the database that
//!   holds the million still pending, and reports their lateness.
//!
//! Targets: at least 50,000 timers per second, at most 300 MB resident; firing at
//! least 10,000 per second; lateness p99 at most 50 ms.
//!
//! With `JOURNEYC_BENCH_POSTGRES_URL` (a database; the bench works in a schema of its
//! own), the same measures on PostgreSQL next to SQLite's at the same size, in the
//! same run: `JOURNEYC_PG_TIMERS` (default 100,000) timers scheduled from 1,000 tasks;
//! fired by two replicas (two stores and engines, each with its own connections and
//! claims) together; and lateness at 1,000 due per second with two replicas'
//! schedulers running. Targets: at least 10,000 scheduled and 10,000 fired per
//! second, lateness p99 at most 100 ms.

use std::sync::Arc;
use std::time::Instant;

use chrono::{DateTime, Duration, Utc};
use journeyc::ir;
use journeyc::runtime::clock::{ManualClock, SystemClock};
use journeyc::runtime::engine::Engine;
use journeyc::runtime::interp::Effect;
use journeyc::runtime::postgres::PgStore;
use journeyc::runtime::scheduler::Scheduler;
use journeyc::runtime::session::SessionState;
use journeyc::runtime::sqlite::SqliteStore;
use journeyc::runtime::store::Store;

#[path = "../tests/support/postgres.rs"]
mod postgres;

#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn peak_rss_mb() -> f64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches(" kB").trim().parse::<f64>().ok())
        .map_or(0.0, |kb| kb / 1024.0)
}

fn journey() -> ir::Journey {
    let text = include_str!("../examples/texting_journey_links.journey");
    let (_, modules, _) = journeyc::check_source("t.journey", text);
    modules
        .into_iter()
        .flat_map(|(_, m)| m.journeys)
        .next()
        .unwrap()
}

/// The timer a client with session `s` starts as its `k`th.
fn timer(now: DateTime<Utc>, k: usize) -> Effect {
    Effect::StartTimer {
        key: format!("t{k}"),
        due: now + Duration::days(1) + Duration::seconds(k as i64),
        step: 0,
        skip_if_missed: false,
        actions: vec![ir::Action::EndSession],
    }
}

/// Creates `n` sessions named `{prefix}{i}`, committed together.
fn sessions(
    store: &dyn Store,
    j: &ir::Journey,
    prefix: &str,
    n: usize,
    now: DateTime<Utc>,
) -> Vec<SessionState> {
    let sessions: Vec<SessionState> = (0..n)
        .map(|i| SessionState::new(format!("{prefix}{i}"), j, "link", now))
        .collect();
    let queued: Vec<_> = sessions
        .iter()
        .map(|s| store.create_session_queued(s, s.id.as_bytes(), &[], now))
        .collect();
    for durable in queued {
        durable.wait().unwrap();
    }
    // Each change names the revision it follows: a new session is at 1.
    sessions
        .into_iter()
        .map(|s| SessionState { revision: 1, ..s })
        .collect()
}

fn main() {
    if let Some(url) = postgres::fresh_url_from("JOURNEYC_BENCH_POSTGRES_URL", "bench_timers") {
        compare(&url);
        if std::env::var("JOURNEYC_BENCH_POSTGRES_ONLY").is_ok() {
            return;
        }
    }
    let total: usize = std::env::var("JOURNEYC_TIMERS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(1_000_000);
    // Clients in flight at once: requests being served, each an async task that
    // queues its change and awaits its durability, as the server's requests do.
    let clients = 1_000;
    let dir = std::env::temp_dir().join(format!("journeyc-bench-timers-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    // The real time: the scheduler runs on the real clock in the last phase, where the
    // million timers (due from tomorrow on) must still be pending.
    let now: DateTime<Utc> = Utc::now();
    let j = journey();

    let store: Arc<SqliteStore> = Arc::new(SqliteStore::open(&dir.join("timers.db")).unwrap());
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    let per_client = total / clients;
    let started = Instant::now();
    runtime.block_on(async {
        let tasks: Vec<_> = sessions(&*store, &j, "c", clients, now)
            .into_iter()
            .map(|s| {
                let store = store.clone();
                tokio::spawn(async move {
                    for k in 0..per_client {
                        // Adding a timer leaves the session's revision as it was.
                        store.apply_queued(&s, &[timer(now, k)], now).await.unwrap();
                    }
                })
            })
            .collect();
        for t in tasks {
            t.await.unwrap();
        }
    });
    let elapsed = started.elapsed();
    let peak = peak_rss_mb();
    let scheduled = per_client * clients;

    // The same on 64 threads that each block until their change is durable: how the
    // store was used before changes could be awaited; a fifth as many timers.
    let threads = 64;
    let per_thread = scheduled / 5 / threads;
    let thread_started = Instant::now();
    let handles: Vec<_> = sessions(&*store, &j, "t", threads, now)
        .into_iter()
        .map(|mut s| {
            let store = store.clone();
            std::thread::spawn(move || {
                for k in 0..per_thread {
                    store.apply(&mut s, &[timer(now, k)], now).unwrap();
                }
            })
        })
        .collect();
    for h in handles {
        h.join().unwrap();
    }
    let thread_rate = (per_thread * threads) as f64 / thread_started.elapsed().as_secs_f64();
    let scheduled = scheduled + per_thread * threads;
    let pending: i64 = rusqlite::Connection::open(dir.join("timers.db"))
        .unwrap()
        .query_row(
            "SELECT COUNT(*) FROM timers WHERE state = 'pending'",
            [],
            |r| r.get(0),
        )
        .unwrap();
    assert_eq!(pending as usize, scheduled, "every timer is pending");

    // Baseline: one session's timers inserted as a single apply (one transaction).
    let baseline_store = SqliteStore::open(&dir.join("baseline.db")).unwrap();
    let mut s = SessionState::new("b".into(), &j, "link", now);
    baseline_store.create_session(&mut s, b"b", now).unwrap();
    let effects: Vec<Effect> = (0..scheduled.min(200_000))
        .map(|k| Effect::StartTimer {
            key: format!("t{k}"),
            due: now + Duration::seconds(60 + k as i64),
            step: 0,
            skip_if_missed: false,
            actions: vec![],
        })
        .collect();
    let base_started = Instant::now();
    baseline_store.apply(&mut s, &effects, now).unwrap();
    let base_rate = effects.len() as f64 / base_started.elapsed().as_secs_f64();

    let rate = (per_client * clients) as f64 / elapsed.as_secs_f64();
    println!(
        "timers scheduled            {:>10} by {clients} tasks in {:.1} s, each its own commit",
        per_client * clients,
        elapsed.as_secs_f64()
    );
    println!("rate                        {rate:>10.0} timers/s (target: at least 50,000)");
    println!(
        "  from {threads} blocking threads  {thread_rate:>10.0} timers/s ({} timers)",
        per_thread * threads
    );
    println!(
        "baseline (one transaction)  {base_rate:>10.0} timers/s ({:.2}x the concurrent rate)",
        base_rate / rate
    );
    println!(
        "peak resident memory        {peak:>10.1} MB with all pending (target: at most 300 MB)"
    );

    // Firing: every timer of the baseline store comes due at once; the engine fires
    // them in batches, a thousand per transaction.
    let clock = journeyc::runtime::clock::ManualClock::new(now + Duration::days(3));
    let engine = journeyc::runtime::engine::Engine::new(
        vec![j.clone()],
        Box::new(baseline_store),
        Arc::new(clock),
    );
    let fire_started = Instant::now();
    let mut fired = 0;
    loop {
        let n = engine.fire_due(None).unwrap();
        if n == 0 {
            break;
        }
        fired += n;
    }
    let fire_rate = fired as f64 / fire_started.elapsed().as_secs_f64();
    println!("timers fired                {fired:>10} at {fire_rate:.0} timers/s (target: at least 10,000)");
    // The firing database is done with: deleting it drops its unwritten pages, so their
    // writeback does not slow the next phase's fsyncs.
    drop(engine);
    for suffix in ["", "-wal", "-shm"] {
        let _ = std::fs::remove_file(dir.join(format!("baseline.db{suffix}")));
    }

    // Lateness: 5,000 timers due at 1,000 per second on the real clock, fired by the
    // scheduler from the database that holds the million pending timers; lateness is
    // from due time to the firing recorded in the event log.
    drop(runtime);
    // A restart: closing commits what is queued; opening reads every pending timer
    // back into the writer's index.
    drop(
        Arc::try_unwrap(store)
            .ok()
            .expect("the scheduling tasks and threads are done"),
    );
    let reopen_started = Instant::now();
    let store = SqliteStore::open(&dir.join("timers.db")).unwrap();
    println!(
        "reopen                      {:>10.0} ms with {scheduled} timers pending",
        reopen_started.elapsed().as_secs_f64() * 1000.0
    );
    let start = Utc::now() + Duration::seconds(1);
    let mut s = SessionState::new("l".into(), &j, "link", Utc::now());
    store.create_session(&mut s, b"l", Utc::now()).unwrap();
    let count = 5_000;
    let last_due = start + Duration::milliseconds(count - 1);
    let effects: Vec<Effect> = (0..count)
        .map(|k| Effect::StartTimer {
            key: k.to_string(),
            due: start + Duration::milliseconds(k),
            step: 0,
            skip_if_missed: false,
            actions: vec![],
        })
        .collect();
    store.apply(&mut s, &effects, Utc::now()).unwrap();
    let engine = Arc::new(journeyc::runtime::engine::Engine::new(
        vec![j.clone()],
        Box::new(store),
        Arc::new(journeyc::runtime::clock::SystemClock),
    ));
    // The disk's own baseline in the same window: a probe fsyncs a file of its own
    // every 10 ms, so a stall of the disk shows as such, not as the scheduler's.
    let probing = Arc::new(std::sync::atomic::AtomicBool::new(true));
    let probe = {
        let probing = probing.clone();
        let path = dir.join("probe");
        std::thread::spawn(move || {
            use std::io::{Seek, Write};
            let mut file = std::fs::File::create(path).unwrap();
            let mut slowest = std::time::Duration::ZERO;
            while probing.load(std::sync::atomic::Ordering::Relaxed) {
                file.rewind().unwrap();
                file.write_all(&[0u8; 4096]).unwrap();
                let t = Instant::now();
                file.sync_data().unwrap();
                slowest = slowest.max(t.elapsed());
                std::thread::sleep(std::time::Duration::from_millis(10));
            }
            slowest
        })
    };
    let scheduler = journeyc::runtime::scheduler::Scheduler::start(engine.clone());
    let deadline = Instant::now() + std::time::Duration::from_secs(60);
    while engine
        .store()
        .next_timer_due()
        .unwrap()
        .is_some_and(|t| t <= last_due)
        && Instant::now() < deadline
    {
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    scheduler.stop();
    probing.store(false, std::sync::atomic::Ordering::Relaxed);
    let slowest_fsync = probe.join().unwrap();
    let lateness = lateness_of(engine.store().events("l").unwrap(), start);
    assert_eq!(lateness.len(), count as usize, "every timer fired once");
    println!(
        "lateness at 1,000/s due     p50 {} ms, p99 {} ms, max {} ms, {scheduled} others pending (target: p99 at most 50 ms)",
        pct(&lateness, 0.50),
        pct(&lateness, 0.99),
        lateness[lateness.len() - 1]
    );
    println!(
        "  the disk meanwhile         slowest fsync of a 4 KiB probe, every 10 ms: {:.1} ms",
        slowest_fsync.as_secs_f64() * 1000.0
    );
    let _ = std::fs::remove_dir_all(&dir);
}

/// Schedules `n` timers from 1,000 tasks, each its own change awaited until durable;
/// the rate.
fn schedule(
    store: &Arc<dyn Store>,
    j: &ir::Journey,
    prefix: &str,
    n: usize,
    now: DateTime<Utc>,
) -> f64 {
    let clients = 1_000;
    let per_client = n / clients;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    let all = sessions(&**store, j, prefix, clients, now);
    let started = Instant::now();
    runtime.block_on(async {
        let tasks: Vec<_> = all
            .into_iter()
            .map(|s| {
                let store = store.clone();
                tokio::spawn(async move {
                    for k in 0..per_client {
                        // No actions: the firing phase fires every one of them.
                        let t = Effect::StartTimer {
                            key: format!("t{k}"),
                            due: now + Duration::days(1) + Duration::seconds(k as i64),
                            step: 0,
                            skip_if_missed: false,
                            actions: vec![],
                        };
                        store.apply_queued(&s, &[t], now).await.unwrap();
                    }
                })
            })
            .collect();
        for t in tasks {
            t.await.unwrap();
        }
    });
    (per_client * clients) as f64 / started.elapsed().as_secs_f64()
}

/// Fires every due timer with one engine per store, each on its own thread, all at
/// once; how many fired in all, and the rate.
fn fire_together(stores: Vec<Box<dyn Store>>, j: &ir::Journey, at: DateTime<Utc>) -> (usize, f64) {
    let engines: Vec<Arc<Engine>> = stores
        .into_iter()
        .map(|s| {
            Arc::new(Engine::new(
                vec![j.clone()],
                s,
                Arc::new(ManualClock::new(at)),
            ))
        })
        .collect();
    let started = Instant::now();
    let threads: Vec<_> = engines
        .iter()
        .map(|e| {
            let e = e.clone();
            std::thread::spawn(move || {
                let mut fired = 0;
                let mut idle = 0;
                // Another replica may hold the last ones a moment: look twice more.
                while idle < 3 {
                    match e.fire_due(None).unwrap() {
                        0 => {
                            idle += 1;
                            std::thread::sleep(std::time::Duration::from_millis(20));
                        }
                        n => {
                            idle = 0;
                            fired += n;
                        }
                    }
                }
                fired
            })
        })
        .collect();
    let fired: usize = threads.into_iter().map(|t| t.join().unwrap()).sum();
    (fired, fired as f64 / started.elapsed().as_secs_f64())
}

/// 5,000 timers due at 1,000 per second on the real clock, fired by one scheduler per
/// store; their lateness, sorted, from the firings in the event log.
fn lateness(stores: Vec<Box<dyn Store>>, j: &ir::Journey, id: &str) -> Vec<i64> {
    let engines: Vec<Arc<Engine>> = stores
        .into_iter()
        .map(|s| Arc::new(Engine::new(vec![j.clone()], s, Arc::new(SystemClock))))
        .collect();
    let start = Utc::now() + Duration::seconds(2);
    let count = 5_000;
    // Many sessions, so that the replicas share the firing.
    let per = 50;
    // Sessions of the version the engines deployed: made after them, none adopts them.
    let version = engines[0].deployed()[0].version;
    let states: Vec<SessionState> = (0..count / per)
        .map(|i| SessionState {
            version,
            ..SessionState::new(format!("{id}{i}"), j, "link", Utc::now())
        })
        .collect();
    for s in &states {
        engines[0]
            .store()
            .create_session_queued(s, s.id.as_bytes(), &[], Utc::now())
            .wait()
            .unwrap();
    }
    let states: Vec<SessionState> = states
        .into_iter()
        .map(|s| SessionState { revision: 1, ..s })
        .collect();
    for (i, s) in states.iter().enumerate() {
        let effects: Vec<Effect> = (0..per)
            .map(|k| {
                let n = (i * per + k) as i64;
                Effect::StartTimer {
                    key: n.to_string(),
                    due: start + Duration::milliseconds(n),
                    step: 0,
                    skip_if_missed: false,
                    actions: vec![],
                }
            })
            .collect();
        engines[0]
            .store()
            .apply_queued(s, &effects, Utc::now())
            .wait()
            .unwrap();
    }
    // Started once the timers are kept: they ring no scheduler, being kept by the
    // store directly.
    let schedulers: Vec<Scheduler> = engines
        .iter()
        .map(|e| Scheduler::start(e.clone()))
        .collect();
    let deadline = Instant::now() + std::time::Duration::from_secs(60);
    let last_due = start + Duration::milliseconds(count as i64 - 1);
    while Utc::now() < last_due + Duration::seconds(1) && Instant::now() < deadline {
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    while engines[0].store().next_timer_due().unwrap().is_some() && Instant::now() < deadline {
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    drop(schedulers);
    let lateness = lateness_of(
        states
            .iter()
            .flat_map(|s| engines[0].store().events(&s.id).unwrap()),
        start,
    );
    assert_eq!(lateness.len(), count, "every timer fired once");
    lateness
}

/// How late each timer `k`, due `k` ms after `start`, fired, in ms, sorted: from the
/// firings in an event log.
fn lateness_of(
    events: impl IntoIterator<Item = (DateTime<Utc>, String)>,
    start: DateTime<Utc>,
) -> Vec<i64> {
    let mut lateness: Vec<i64> = events
        .into_iter()
        .filter_map(|(at, text)| {
            let k: i64 = text
                .strip_prefix("timer `")?
                .strip_suffix("` fired")?
                .parse()
                .ok()?;
            Some((at - (start + Duration::milliseconds(k))).num_milliseconds())
        })
        .collect();
    lateness.sort_unstable();
    lateness
}

fn pct(sorted: &[i64], p: f64) -> i64 {
    sorted[((sorted.len() as f64 * p) as usize).min(sorted.len() - 1)]
}

/// PostgreSQL next to SQLite, at the same size, in this run.
fn compare(url: &str) {
    let n: usize = std::env::var("JOURNEYC_PG_TIMERS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(100_000);
    let dir = std::env::temp_dir().join(format!("journeyc-bench-pg-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let j = journey();
    let now = Utc::now();
    println!("PostgreSQL next to SQLite: {n} timers, release build");

    let sqlite = Arc::new(SqliteStore::open(&dir.join("compare.db")).unwrap());
    let pg: Arc<dyn Store> = Arc::new(PgStore::open(url).unwrap());
    let sqlite_rate = schedule(&(sqlite.clone() as Arc<dyn Store>), &j, "c", n, now);
    let pg_rate = schedule(&pg, &j, "c", n, now);
    println!(
        "  scheduled from 1,000 tasks   postgres {pg_rate:>8.0}/s   sqlite {sqlite_rate:>8.0}/s   (target: postgres at least 10,000/s)"
    );

    // Every timer due: SQLite fires with its one engine, PostgreSQL with two replicas.
    let later = now + Duration::days(3);
    let sqlite = Arc::try_unwrap(sqlite).ok().expect("scheduling is done");
    let (sqlite_fired, sqlite_fire) = fire_together(vec![Box::new(sqlite)], &j, later);
    drop(pg);
    let replicas: Vec<Box<dyn Store>> = (0..2)
        .map(|_| Box::new(PgStore::open(url).unwrap()) as Box<dyn Store>)
        .collect();
    let (pg_fired, pg_fire) = fire_together(replicas, &j, later);
    assert_eq!(sqlite_fired, n, "sqlite fired each once");
    assert_eq!(pg_fired, n, "the replicas fired each once between them");
    let check = PgStore::open(url).unwrap();
    assert_eq!(check.next_timer_due().unwrap(), None, "none left pending");
    drop(check);
    println!(
        "  fired (postgres: 2 replicas) postgres {pg_fire:>8.0}/s   sqlite {sqlite_fire:>8.0}/s   (target: postgres at least 10,000/s)"
    );

    let pg_late = lateness(
        (0..2)
            .map(|_| Box::new(PgStore::open(url).unwrap()) as Box<dyn Store>)
            .collect(),
        &j,
        "l",
    );
    let sqlite_late = lateness(
        vec![Box::new(
            SqliteStore::open(&dir.join("lateness.db")).unwrap(),
        )],
        &j,
        "l",
    );
    println!(
        "  lateness at 1,000/s due      postgres p50 {} ms, p99 {} ms (2 replicas)   sqlite p50 {} ms, p99 {} ms   (target: postgres p99 at most 100 ms)",
        pct(&pg_late, 0.5),
        pct(&pg_late, 0.99),
        pct(&sqlite_late, 0.5),
        pct(&sqlite_late, 0.99)
    );
    let _ = std::fs::remove_dir_all(&dir);
}
