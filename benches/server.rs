//! `journeyc run` under load, measured with wrk against the release binary. Run with
//! `cargo bench --bench server` (needs `wrk`: `apt-get install wrk`).
//!
//! - `GET /j/{token}` at 64 connections, next to a minimal hyper "hello world" measured
//!   in the same run. Targets: at least 50% of the baseline's requests per second, p99
//!   under 10 ms.
//! - Signed `POST /twilio/sms` that start sessions (new numbers) or continue them.
//!   Target: at least 8,000 per second. Then the same as 8 people at 64 connections,
//!   so that events for one session meet: retries per kept event (target: mean under
//!   1, p99 under 5), from the server's `journeyc_event_attempts` histogram.
//! - The sender against a fake Twilio with the rate limit lifted: a prefilled outbox
//!   drained to the last message. Target: at least 2,000 messages per second, none lost,
//!   none duplicated.
//! - With `JOURNEYC_BENCH_POSTGRES_URL`, two replicas on PostgreSQL, next to SQLite;
//!   `JOURNEYC_BENCH_POSTGRES_ONLY` skips SQLite's webhooks and the sender.
//!
//! Webhooks are measured after `JOURNEYC_BENCH_WARMUP` seconds (5) of the same load
//! on other message ids; `JOURNEYC_BENCH_SECS` (10) is each measured run. On
//! PostgreSQL the warm-up goes on in rounds until every person has a session, so the
//! measured texts continue sessions; the first round's rate, mostly texts that start
//! one, is reported beside it.

use std::collections::HashSet;
use std::io::{BufRead, BufReader, Write};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use bytes::Bytes;
use chrono::Utc;
use http_body_util::{BodyExt, Full};
use hyper::{Request, Response};
use hyper_util::rt::TokioIo;
use journeyc::runtime::interp::Effect;
use journeyc::runtime::session::SessionState;
use journeyc::runtime::sqlite::SqliteStore;
use journeyc::runtime::store::{MessageStatus, Store};

const ACCOUNT_SID: &str = "AC0123456789abcdef0123456789abcdef";
const AUTH_TOKEN: &str = "bench-auth-token";
const OUR_NUMBER: &str = "+15005550006";
const CONNECTIONS: &str = "64";

#[path = "../tests/support/postgres.rs"]
mod postgres;

fn secs() -> String {
    std::env::var("JOURNEYC_BENCH_SECS").unwrap_or_else(|_| "10".into())
}

/// A hyper server answering every request with `handler`, on a free port.
async fn serve<F, Fut>(handler: F) -> String
where
    F: Fn(Request<hyper::body::Incoming>) -> Fut + Clone + Send + Sync + 'static,
    Fut: std::future::Future<Output = Response<Full<Bytes>>> + Send + 'static,
{
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move {
        loop {
            let Ok((stream, _)) = listener.accept().await else {
                continue;
            };
            let _ = stream.set_nodelay(true);
            let handler = handler.clone();
            tokio::spawn(async move {
                let service = hyper::service::service_fn(move |req| {
                    let handler = handler.clone();
                    async move { Ok::<_, std::convert::Infallible>(handler(req).await) }
                });
                let _ = hyper::server::conn::http1::Builder::new()
                    .serve_connection(TokioIo::new(stream), service)
                    .await;
            });
        }
    });
    base
}

/// What wrk measured.
#[derive(Default)]
struct Load {
    rps: f64,
    p99_ms: f64,
    non_2xx_3xx: u64,
}

fn wrk(url: &str, script: Option<&Path>) -> Load {
    wrk_with(url, script, CONNECTIONS)
}

fn wrk_with(url: &str, script: Option<&Path>, connections: &str) -> Load {
    wrk_for(url, script, connections, &secs())
}

/// Seconds of load, not measured, before webhooks are measured: a server's first
/// seconds (its allocator's and thread pool's growth) are not its throughput.
fn warm_up_secs() -> String {
    std::env::var("JOURNEYC_BENCH_WARMUP").unwrap_or_else(|_| "5".into())
}

fn wrk_for(url: &str, script: Option<&Path>, connections: &str, secs: &str) -> Load {
    let mut cmd = Command::new("wrk");
    cmd.args(["-t2", "-c", connections, "-d"])
        .arg(format!("{secs}s"))
        .arg("--latency");
    if let Some(s) = script {
        cmd.arg("-s").arg(s);
    }
    let out = cmd
        .arg(url)
        .output()
        .expect("wrk runs (apt-get install wrk)");
    let text = String::from_utf8_lossy(&out.stdout).to_string();
    let rps = text
        .lines()
        .find_map(|l| l.strip_prefix("Requests/sec:"))
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or_else(|| panic!("no Requests/sec in wrk's output:\n{text}"));
    let p99_ms = text
        .lines()
        .find_map(|l| l.trim().strip_prefix("99%"))
        .map(|v| {
            let v = v.trim();
            let (n, unit) = v.split_at(v.find(|c: char| c.is_alphabetic()).unwrap_or(v.len()));
            let n: f64 = n.parse().unwrap_or(f64::NAN);
            match unit {
                "us" => n / 1000.0,
                "ms" => n,
                "s" => n * 1000.0,
                _ => f64::NAN,
            }
        })
        .unwrap_or(f64::NAN);
    let non_2xx_3xx = text
        .lines()
        .find_map(|l| l.trim().strip_prefix("Non-2xx or 3xx responses:"))
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or(0);
    Load {
        rps,
        p99_ms,
        non_2xx_3xx,
    }
}

/// Opens the starting link at `base`: the journey link it redirects to, as a path.
fn journey_link(rt: &tokio::runtime::Runtime, base: &str) -> String {
    rt.block_on(async {
        let client = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .unwrap();
        let r = client
            .get(format!("{base}/start/start"))
            .send()
            .await
            .unwrap();
        r.headers()["location"].to_str().unwrap().to_string()
    })
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// Starts the release `journeyc run` on a SQLite file and waits for its banner.
fn journeyc(db: &Path, twilio_base: &str, port: u16) -> Child {
    journeyc_on(&format!("sqlite:{}", db.display()), twilio_base, port)
}

/// Starts the release `journeyc run` on the store `db` and waits for its banner.
fn journeyc_on(db: &str, twilio_base: &str, port: u16) -> Child {
    let journey =
        Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/texting_journey_links.journey");
    let mut child = Command::new(env!("CARGO_BIN_EXE_journeyc"))
        .arg("run")
        .arg(journey)
        .args(["--listen", &format!("127.0.0.1:{port}")])
        .args(["--db", db])
        .args(["--public-url", &format!("http://127.0.0.1:{port}")])
        .env(
            "JOURNEYC_LINK_KEY",
            "bench-link-key-shared-by-every-replica-000",
        )
        .args(["--sms-rate", "0", "--sms-concurrency", "64"])
        .env("TWILIO_ACCOUNT_SID", ACCOUNT_SID)
        .env("TWILIO_AUTH_TOKEN", AUTH_TOKEN)
        .env("TWILIO_API_BASE", twilio_base)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("journeyc starts");
    let out = child.stdout.take().unwrap();
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(out).lines().map_while(Result::ok) {
            if line.contains("Status callbacks are sent to") {
                let _ = tx.send(());
            }
        }
    });
    rx.recv_timeout(Duration::from_secs(60))
        .expect("journeyc printed its banner");
    child
}

fn stop(mut child: Child) {
    let _ = Command::new("kill").arg(child.id().to_string()).status();
    let _ = child.wait();
}

/// A fake Twilio that accepts every message and remembers each body it got.
#[derive(Clone, Default)]
struct Counter {
    accepted: Arc<AtomicUsize>,
    bodies: Arc<Mutex<HashSet<String>>>,
    duplicates: Arc<AtomicUsize>,
    first_last: Arc<Mutex<Option<(Instant, Instant)>>>,
}

async fn fake_twilio(counter: Counter) -> String {
    serve(move |req: Request<hyper::body::Incoming>| {
        let c = counter.clone();
        async move {
            let body = req.into_body().collect().await.unwrap().to_bytes();
            let text = form_urlencoded::parse(&body)
                .find(|(k, _)| k == "Body")
                .map(|(_, v)| v.into_owned())
                .unwrap_or_default();
            if !c.bodies.lock().unwrap().insert(text) {
                c.duplicates.fetch_add(1, Ordering::Relaxed);
            }
            let n = c.accepted.fetch_add(1, Ordering::Relaxed);
            let now = Instant::now();
            {
                let mut fl = c.first_last.lock().unwrap();
                *fl = Some(fl.map_or((now, now), |(f, _)| (f, now)));
            }
            let json = format!("{{\"sid\":\"SM{n:032x}\",\"status\":\"queued\"}}");
            let mut r = Response::new(Full::new(Bytes::from(json)));
            *r.status_mut() = hyper::StatusCode::CREATED;
            r
        }
    })
    .await
}

/// Writes `N` signed webhooks from `people` numbers (message ids from `first_id`) and
/// the wrk script that sends them, each of wrk's 2 threads its half; returns the script.
fn sms_script(
    dir: &Path,
    base: &str,
    name: &str,
    people: usize,
    first_id: usize,
) -> std::path::PathBuf {
    sms_script_from(dir, base, name, people, first_id, "+1415555")
}

/// `sms_script` with people's numbers starting with `prefix` (followed by 4 digits).
fn sms_script_from(
    dir: &Path,
    base: &str,
    name: &str,
    people: usize,
    first_id: usize,
    prefix: &str,
) -> std::path::PathBuf {
    let per_thread = 150_000;
    let requests = dir.join(format!("{name}.txt"));
    {
        let mut f = std::io::BufWriter::new(std::fs::File::create(&requests).unwrap());
        let url = format!("{base}/twilio/sms");
        for i in first_id..first_id + 2 * per_thread {
            // wrk's second thread starts halfway through the people, so that a
            // warm-up reaches each of them in half the time.
            let thread = (i - first_id) / per_thread;
            let from = format!("{prefix}{:04}", (i + thread * people / 2) % people);
            let params = vec![
                ("AccountSid".to_string(), ACCOUNT_SID.to_string()),
                ("Body".to_string(), format!("hello {i}")),
                ("From".to_string(), from),
                ("MessageSid".to_string(), format!("SM{i:032x}")),
                ("To".to_string(), OUR_NUMBER.to_string()),
            ];
            let body: String = form_urlencoded::Serializer::new(String::new())
                .extend_pairs(&params)
                .finish();
            let sig = journeyc::server::twilio::signature(AUTH_TOKEN, &url, &params);
            writeln!(f, "{sig}\t{body}").unwrap();
        }
    }
    let script = dir.join(format!("{name}.lua"));
    std::fs::write(
        &script,
        format!(
            r#"
local threads = 0
function setup(thread) thread:set("id", threads); threads = threads + 1 end
function init(args)
  sigs = {{}}; bodies = {{}}
  local n = 0
  for line in io.lines("{path}") do
    n = n + 1
    if n > id * {per_thread} and n <= (id + 1) * {per_thread} then
      local tab = string.find(line, "\t")
      table.insert(sigs, string.sub(line, 1, tab - 1))
      table.insert(bodies, string.sub(line, tab + 1))
    end
  end
  i = 0
end
function request()
  i = i % #bodies + 1
  return wrk.format("POST", "/twilio/sms", {{["Content-Type"] = "application/x-www-form-urlencoded", ["X-Twilio-Signature"] = sigs[i]}}, bodies[i])
end
"#,
            path = requests.display()
        ),
    )
    .unwrap();
    script
}

/// The `journeyc_event_attempts` histogram from /metrics: (bound, cumulative count),
/// with +Inf as `usize::MAX`.
fn attempts(rt: &tokio::runtime::Runtime, base: &str) -> Vec<(usize, u64)> {
    let text = rt.block_on(async {
        reqwest::get(format!("{base}/metrics"))
            .await
            .unwrap()
            .text()
            .await
            .unwrap()
    });
    text.lines()
        .filter_map(|l| l.strip_prefix("journeyc_event_attempts_bucket{le=\""))
        .map(|rest| {
            let (bound, count) = rest.split_once("\"} ").unwrap();
            let bound = bound.parse().unwrap_or(usize::MAX);
            (bound, count.trim().parse().unwrap())
        })
        .collect()
}

/// Retries per event between two readings of the histogram: the mean (each event
/// counted at its bucket's bound, so at most this) and the bound of the bucket that
/// holds the 99th percentile, both as attempts beyond the first.
fn retries(before: &[(usize, u64)], after: &[(usize, u64)]) -> (f64, String) {
    let counts: Vec<(usize, u64)> = after
        .iter()
        .zip(before)
        .map(|((b, a), (_, x))| (*b, a - x))
        .collect();
    let total = counts.last().map_or(0, |c| c.1);
    if total == 0 {
        return (0.0, "-".into());
    }
    // Each event in a bucket counted at the bucket's bound: an upper bound of the mean.
    let mut sum = 0.0;
    let mut below = 0;
    for (bound, cumulative) in &counts {
        let bound = if *bound == usize::MAX { 20 } else { *bound };
        sum += (cumulative - below) as f64 * (bound - 1) as f64;
        below = *cumulative;
    }
    let p99 = counts
        .iter()
        .find(|(_, c)| *c as f64 >= 0.99 * total as f64)
        .map(|(b, _)| {
            if *b == usize::MAX {
                "over 9".to_string()
            } else {
                format!("at most {}", b - 1)
            }
        })
        .unwrap();
    (sum / total as f64, p99)
}

fn main() {
    if Command::new("wrk").arg("--version").output().is_err() {
        eprintln!("the server benchmark needs wrk: apt-get install wrk");
        std::process::exit(1);
    }
    journeyc::server::install_crypto();
    let dir = std::env::temp_dir().join(format!("journeyc-bench-server-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .unwrap();

    // The baseline: the least a hyper server can do per request.
    let hello = rt.block_on(serve(|_req| async {
        Response::new(Full::new(Bytes::from_static(b"hello, world\n")))
    }));
    let counter = Counter::default();
    let twilio = rt.block_on(fake_twilio(counter.clone()));

    let port = free_port();
    let server = journeyc(&dir.join("load.db"), &twilio, port);
    let base = format!("http://127.0.0.1:{port}");
    let location = journey_link(&rt, &base);

    println!(
        "journeyc run under load (wrk -t2 -c{CONNECTIONS} -d{}s, release build)",
        secs()
    );
    let baseline = wrk(&format!("{hello}/"), None);
    let link = wrk(&format!("{base}{location}"), None);
    assert_eq!(link.non_2xx_3xx, 0, "every journey-link request succeeded");
    println!(
        "  baseline hyper hello world     {:>9.0} req/s  p99 {:>6.2} ms",
        baseline.rps, baseline.p99_ms
    );
    println!(
        "  GET /j/{{token}}                 {:>9.0} req/s  p99 {:>6.2} ms  ({:.0}% of baseline; target >= 50%, p99 < 10 ms)",
        link.rps,
        link.p99_ms,
        100.0 * link.rps / baseline.rps
    );

    let pg = postgres::fresh_url_from("JOURNEYC_BENCH_POSTGRES_URL", "bench_server");
    if pg.is_some() && std::env::var("JOURNEYC_BENCH_POSTGRES_ONLY").is_ok() {
        stop(server);
        let sms = Load::default();
        replicas(&rt, &dir, pg.as_deref().unwrap(), &baseline, &link, &sms);
        let _ = std::fs::remove_dir_all(&dir);
        return;
    }

    // Signed webhooks, precomputed: wrk's Lua cannot compute HMAC-SHA1. 5,000 people:
    // the first text from each starts a session, the rest continue it.
    // Warmed up on message ids of their own: an id seen before is a retry, answered
    // without processing.
    let warm = sms_script(&dir, &base, "warm", 5000, 600_000);
    wrk_for(
        &format!("{base}/twilio/sms"),
        Some(&warm),
        CONNECTIONS,
        &warm_up_secs(),
    );
    let script = sms_script(&dir, &base, "people", 5000, 0);
    let sms = wrk(&format!("{base}/twilio/sms"), Some(&script));
    assert_eq!(sms.non_2xx_3xx, 0, "every signed webhook was accepted");
    println!(
        "  signed POST /twilio/sms        {:>9.0} req/s  p99 {:>6.2} ms  (target >= 8,000 req/s)",
        sms.rps, sms.p99_ms
    );
    // The same, as 8 people: 64 connections change 8 sessions, so events for one
    // session meet; the attempts each kept event took come from /metrics, before and
    // after.
    let before = attempts(&rt, &base);
    let script = sms_script(&dir, &base, "few", 8, 2 * 150_000);
    let few = wrk(&format!("{base}/twilio/sms"), Some(&script));
    let after = attempts(&rt, &base);
    let (mean, p99) = retries(&before, &after);
    println!(
        "  the same as 8 people           {:>9.0} req/s  p99 {:>6.2} ms  ({} non-2xx; retries per event: mean {mean:.3}, p99 {p99}; target mean < 1, p99 < 5)",
        few.rps, few.p99_ms, few.non_2xx_3xx
    );
    stop(server);

    if let Some(url) = pg {
        replicas(&rt, &dir, &url, &baseline, &link, &sms);
    }

    // The sender: a prefilled outbox, drained with the rate limit lifted.
    let total: usize = std::env::var("JOURNEYC_BENCH_MESSAGES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(20_000);
    let db = dir.join("outbox.db");
    {
        let store = SqliteStore::open(&db).unwrap();
        let text = include_str!("../examples/texting_journey_links.journey");
        let (_, modules, _) = journeyc::check_source("t.journey", text);
        let j = modules
            .into_iter()
            .flat_map(|(_, m)| m.journeys)
            .next()
            .unwrap();
        let now = Utc::now();
        let mut s = SessionState::new("bench".into(), &j, "link", now);
        store.create_session(&mut s, b"bench", now).unwrap();
        let effects: Vec<Effect> = (0..total)
            .map(|i| Effect::Sms {
                to: format!("+1415{:07}", i % 1000),
                from: OUR_NUMBER.into(),
                body: format!("message {i}"),
            })
            .collect();
        store.apply(&mut s, &effects, now).unwrap();
    }
    let sender_counter = Counter::default();
    let fake = rt.block_on(fake_twilio(sender_counter.clone()));
    let started = Instant::now();
    let server = journeyc(&db, &fake, free_port());
    while sender_counter.accepted.load(Ordering::Relaxed) < total
        && started.elapsed() < Duration::from_secs(300)
    {
        std::thread::sleep(Duration::from_millis(10));
    }
    // Let the last answers be recorded before stopping.
    std::thread::sleep(Duration::from_millis(500));
    stop(server);
    let (first, last) = sender_counter
        .first_last
        .lock()
        .unwrap()
        .expect("messages arrived");
    let accepted = sender_counter.accepted.load(Ordering::Relaxed);
    let distinct = sender_counter.bodies.lock().unwrap().len();
    let store = SqliteStore::open(&db).unwrap();
    let sent = store
        .outbox(None)
        .unwrap()
        .iter()
        .filter(|m| m.status == MessageStatus::Sent)
        .count();
    let rate = accepted as f64 / (last - first).as_secs_f64().max(1e-9);
    println!(
        "  sender to a fake Twilio        {rate:>9.0} msg/s  ({accepted} accepted, {distinct} distinct of {total}, {} duplicated, {sent} recorded sent; target >= 2,000 msg/s, none lost or duplicated)",
        sender_counter.duplicates.load(Ordering::Relaxed)
    );
    assert_eq!(distinct, total, "none lost");
    assert_eq!(accepted, total, "none duplicated");
    let _ = std::fs::remove_dir_all(&dir);
}

/// Two replicas on PostgreSQL, each loaded by its own wrk at half the connections, at
/// once; their sum next to SQLite's single server in this run.
fn replicas(
    rt: &tokio::runtime::Runtime,
    dir: &Path,
    url: &str,
    baseline: &Load,
    link: &Load,
    sms: &Load,
) {
    let twilio = rt.block_on(fake_twilio(Counter::default()));
    let ports = [free_port(), free_port()];
    let servers: Vec<Child> = ports
        .iter()
        .map(|&p| journeyc_on(url, &twilio, p))
        .collect();
    let bases: Vec<String> = ports
        .iter()
        .map(|p| format!("http://127.0.0.1:{p}"))
        .collect();
    let location = journey_link(rt, &bases[0]);
    let half = (CONNECTIONS.parse::<usize>().unwrap() / 2).to_string();
    let both = |make: &dyn Fn(usize) -> (String, Option<std::path::PathBuf>)| -> (f64, f64, u64) {
        let loads: Vec<Load> = std::thread::scope(|scope| {
            let handles: Vec<_> = (0..2)
                .map(|i| {
                    let (url, script) = make(i);
                    let half = half.clone();
                    scope.spawn(move || wrk_with(&url, script.as_deref(), &half))
                })
                .collect();
            handles.into_iter().map(|h| h.join().unwrap()).collect()
        });
        (
            loads.iter().map(|l| l.rps).sum(),
            loads.iter().map(|l| l.p99_ms).fold(0.0, f64::max),
            loads.iter().map(|l| l.non_2xx_3xx).sum(),
        )
    };
    println!("  two replicas on PostgreSQL, {half} connections each:");
    let (rps, p99, bad) = both(&|i| (format!("{}{location}", bases[i]), None));
    assert_eq!(bad, 0, "every journey-link request succeeded");
    println!(
        "  GET /j/{{token}}                 {rps:>9.0} req/s  p99 {p99:>6.2} ms  ({:.0}% of baseline, sqlite {:.0}%; target >= 50%)",
        100.0 * rps / baseline.rps,
        100.0 * link.rps / baseline.rps
    );
    let scripts: Vec<std::path::PathBuf> = (0..2)
        .map(|i| {
            sms_script_from(
                dir,
                &bases[i],
                &format!("replica{i}"),
                5000,
                // Message ids of their own: the same id twice is one webhook retried.
                i * 1_000_000,
                ["+1415555", "+1415556"][i],
            )
        })
        .collect();
    let warm: Vec<std::path::PathBuf> = (0..2)
        .map(|i| {
            sms_script_from(
                dir,
                &bases[i],
                &format!("warm{i}"),
                5000,
                i * 1_000_000 + 500_000,
                ["+1415555", "+1415556"][i],
            )
        })
        .collect();
    // The warm-up's texts start the sessions, in rounds until every person has one:
    // measured, the texts continue them. The first round, mostly texts from new
    // numbers that start a session and queue its two texts, is reported too.
    let mut sessions = 0;
    for round in 0..6 {
        let starts: f64 = std::thread::scope(|scope| {
            let loads: Vec<_> = (0..2)
                .map(|i| {
                    let (url, script, half) = (format!("{}/twilio/sms", bases[i]), &warm[i], &half);
                    scope.spawn(move || wrk_for(&url, Some(script), half, &warm_up_secs()))
                })
                .collect();
            loads.into_iter().map(|l| l.join().unwrap().rps).sum()
        });
        if round == 0 {
            println!(
                "  POST /twilio/sms, new numbers  {starts:>9.0} req/s  (the warm-up's first round: texts that start sessions)"
            );
        }
        sessions = postgres::number(
            url,
            "SELECT COUNT(*) FROM sessions WHERE actor_phone IS NOT NULL",
        );
        if sessions >= 10_000 {
            break;
        }
    }
    assert_eq!(
        sessions, 10_000,
        "the warm-up started every person's session"
    );
    let (rps, p99, bad) = both(&|i| (format!("{}/twilio/sms", bases[i]), Some(scripts[i].clone())));
    assert_eq!(bad, 0, "every signed webhook was accepted");
    println!(
        "  signed POST /twilio/sms        {rps:>9.0} req/s  p99 {p99:>6.2} ms  (texts to sessions; sqlite {:.0} req/s; target >= 4,000 req/s)",
        sms.rps
    );
    for s in servers {
        stop(s);
    }
}
