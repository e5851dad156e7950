//! Several `journeyc run` processes on one PostgreSQL database, behind the test's own
//! round-robin client: any replica serves any request, every timer fires once, every
//! text goes out once, through `kill -9` of replicas and a restart of PostgreSQL.
//! Needs `JOURNEYC_TEST_POSTGRES_URL` (`.ci/test` sets it); without it each test says
//! it was skipped.

mod support;

use std::collections::{HashMap, HashSet};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use chrono::Utc;
use serde_json::{json, Value};
use support::postgres::{fresh_url, number, query};
use support::*;

/// One test at a time: they start several servers each, and one restarts PostgreSQL.
static ONE_AT_A_TIME: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

/// Each session starts a timer at `fire_at`; when it fires, one text goes out.
const BURST: &str = r#"
journey Burst {
  sms from "+15005550006"
  trigger api

  var fire_at: DateTime

  on session started {
    start timer "ping" at fire_at {
      send sms Ping
    }
  }

  step Wait {
    page Waiting {
      heading "Waiting"
    }
  }

  notification Ping sms {
    text "Ping"
  }
}
"#;

/// Each session sends one text as it starts.
const HELLO: &str = r#"
journey Hello {
  sms from "+15005550006"
  trigger api

  on session started {
    send sms Hi
  }

  step Wait {
    page Waiting {
      heading "Waiting"
    }
  }

  notification Hi sms {
    text "Hi"
  }
}
"#;

/// `n` replicas of `journey` on the database at `url`.
fn replicas(n: usize, journey: &std::path::Path, url: &str, twilio: &FakeTwilio) -> Vec<Server> {
    (0..n)
        .map(|_| replica(journey, url, twilio, false))
        .collect()
}

fn replica(journey: &std::path::Path, url: &str, twilio: &FakeTwilio, preview: bool) -> Server {
    replica_with(journey, url, twilio, preview, "0")
}

fn replica_with(
    journey: &std::path::Path,
    url: &str,
    twilio: &FakeTwilio,
    preview: bool,
    sms_rate: &str,
) -> Server {
    Server::start(Options {
        journey: journey.to_path_buf(),
        db: url.into(),
        twilio: Some(twilio),
        preview,
        extra: vec!["--sms-rate", sms_rate],
    })
}

fn burst_file(dir: &str) -> std::path::PathBuf {
    let path = temp_dir(dir).join("burst.journey");
    std::fs::write(&path, BURST).unwrap();
    path
}

/// The i-th test phone number.
fn phone(i: usize) -> String {
    format!("+1415867{:04}", i % 10_000)
}

/// Starts a `Burst` session through `base`'s API; its session id when acknowledged.
async fn start_burst(
    client: &reqwest::Client,
    base: &str,
    i: usize,
    fire_at: &str,
) -> Result<String, u16> {
    let v = start_burst_answer(client, base, i, fire_at).await?;
    Ok(v["session"].as_str().unwrap().to_string())
}

/// `start_burst`, giving the API's whole answer.
async fn start_burst_answer(
    client: &reqwest::Client,
    base: &str,
    i: usize,
    fire_at: &str,
) -> Result<Value, u16> {
    let body = json!({"actor": {"phone": phone(i)}, "vars": {"fire_at": fire_at}});
    let r = client
        .post(format!("{base}/api/v1/journeys/Burst/sessions"))
        .header("authorization", format!("Bearer {API_TOKEN}"))
        .json_body(&body)
        .send()
        .await
        .map_err(|_| 0u16)?;
    let status = r.status().as_u16();
    let text = r.text().await.map_err(|_| status)?;
    if status != 201 {
        return Err(status);
    }
    Ok(serde_json::from_str(&text).unwrap())
}

/// What every test here starts with: its turn (they run one at a time), a fresh
/// database, and a fake Twilio; `None` when no PostgreSQL is configured, which
/// `fresh_url` reports as skipped.
async fn set_up(name: &str) -> Option<(tokio::sync::MutexGuard<'static, ()>, String, FakeTwilio)> {
    let turn = ONE_AT_A_TIME.lock().await;
    let url = fresh_url(name)?;
    Some((turn, url, FakeTwilio::start().await))
}

/// Waits until `check` holds, at most `secs` seconds.
async fn eventually(secs: u64, what: &str, mut check: impl FnMut() -> bool) {
    for _ in 0..secs * 10 {
        if check() {
            return;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("after {secs} s: {what}");
}

/// The texts the fake Twilio accepted, by recipient.
fn texts_by_phone(twilio: &FakeTwilio) -> HashMap<String, usize> {
    let mut by = HashMap::new();
    for s in twilio.sent() {
        *by.entry(s.to).or_default() += 1;
    }
    by
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_seed_journey_walks_across_replicas() {
    let Some((_one, url, twilio)) = set_up("replicas_seed").await else {
        return;
    };
    let rs = replicas(3, &example("texting_journey_links.journey"), &url, &twilio);
    // Started on the first replica...
    let link = start(&rs[0], "start").await;
    let path = link.split_once("/j/").unwrap().1.to_string();
    // ...the page read from the second, and its form submitted to the third.
    let page = Page::open(&rs[1].url(&format!("/j/{path}"))).await;
    assert_eq!(page.status, 200);
    assert_eq!(page.h1(), "Where can we text you?");
    let on_third = Page {
        url: rs[2].url(&format!("/j/{path}")),
        status: page.status,
        html: page.html.clone(),
    };
    let (status, _, body) = on_third.submit(&[("phone_input", "415 555 0123")]).await;
    assert_eq!(status, 303, "{body}");
    let sent = twilio.wait_for("+14155550123", 1).await;
    // The texted journey link opens on the first replica, on the next page.
    let texted = sent[0].body.split_once("/j/").unwrap().1;
    let token = texted.split_whitespace().next().unwrap();
    let page = Page::open(&rs[0].url(&format!("/j/{token}"))).await;
    assert_eq!(page.status, 200);
    assert_eq!(page.h1(), "Almost done");
    tokio::time::sleep(Duration::from_millis(1500)).await;
    assert_eq!(
        twilio.sent_to("+14155550123").len(),
        1,
        "one text, by one replica"
    );
    assert_eq!(number(&url, "SELECT COUNT(*) FROM sessions"), 1);
}

/// Signed texts from `phone(i)` for each `i` below `n`, sent at once: to each replica
/// `to(i)` names, with the message id it gives.
fn texts_at_once(
    rs: &[Server],
    n: usize,
    to: impl Fn(usize) -> Vec<(usize, String)>,
) -> tokio::task::JoinSet<(u16, String)> {
    let mut tasks = tokio::task::JoinSet::new();
    for i in 0..n {
        for (r, sid) in to(i) {
            let url = rs[r].url("/twilio/sms");
            let params = sms_params(&sid, &phone(i), OUR_NUMBER, "hello");
            tasks.spawn(async move { post_signed(&url, &params, true).await });
        }
    }
    tasks
}

/// Awaits `tasks`, signed webhooks to `rs`, each answered 200; then each of `n` people
/// has one session, whose start's notification (two texts: its words, then the
/// journey link) went once.
async fn one_session_each(
    mut tasks: tokio::task::JoinSet<(u16, String)>,
    rs: &[Server],
    twilio: &FakeTwilio,
    url: &str,
    n: usize,
) {
    while let Some(r) = tasks.join_next().await {
        let (status, body) = r.unwrap();
        let logs = || rs.iter().map(Server::logs).collect::<Vec<_>>().join("\n");
        assert_eq!(status, 200, "{body}; the replicas said:\n{}", logs());
    }
    eventually(20, "both texts to every person", || {
        twilio.sent().len() >= 2 * n
    })
    .await;
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let by = texts_by_phone(twilio);
    assert_eq!(by.len(), n, "{by:?}");
    assert!(
        by.values().all(|&k| k == 2),
        "one session each, texted once: {by:?}"
    );
    assert_eq!(number(url, "SELECT COUNT(*) FROM sessions"), n as i64);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn webhooks_spread_over_replicas_and_retried_on_another_are_processed_once() {
    let Some((_one, url, twilio)) = set_up("replicas_webhooks").await else {
        return;
    };
    let rs = replicas(3, &example("texting_journey_links.journey"), &url, &twilio);
    const N: usize = 60;
    // Twilio's retry of the same webhook reaches another replica, at once.
    let tasks = texts_at_once(&rs, N, |i| {
        vec![
            (i % 3, format!("SM{i:032}")),
            ((i + 1) % 3, format!("SM{i:032}")),
        ]
    });
    one_session_each(tasks, &rs, &twilio, &url, N).await;
    assert_eq!(number(&url, "SELECT COUNT(*) FROM deliveries"), N as i64);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn texts_from_a_new_number_to_three_replicas_at_once_start_one_session() {
    let Some((_one, url, twilio)) = set_up("replicas_new_number").await else {
        return;
    };
    let rs = replicas(3, &example("texting_journey_links.journey"), &url, &twilio);
    const N: usize = 40;
    // Three different texts from one new number, one to each replica, at once.
    let tasks = texts_at_once(&rs, N, |i| {
        (0..3).map(|r| (r, format!("SM{i:030}{r:02}"))).collect()
    });
    one_session_each(tasks, &rs, &twilio, &url, N).await;
    // Every text was kept, in that one session.
    assert_eq!(
        number(&url, "SELECT COUNT(*) FROM deliveries"),
        3 * N as i64
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ten_thousand_timers_due_at_once_fire_exactly_once_across_three_replicas() {
    let Some((_one, url, twilio)) = set_up("replicas_timers").await else {
        return;
    };
    let journey = burst_file("replicas-timers");
    const N: usize = 10_000;
    // A preview replica runs no scheduler: it only starts the sessions.
    let mut maker = replica(&journey, &url, &twilio, true);
    let fire_at = (Utc::now() + chrono::Duration::seconds(1)).to_rfc3339();
    let client = client();
    let next = Arc::new(AtomicUsize::new(0));
    let mut tasks = tokio::task::JoinSet::new();
    for _ in 0..32 {
        let (client, base, fire_at, next) = (
            client.clone(),
            maker.base.clone(),
            fire_at.clone(),
            next.clone(),
        );
        tasks.spawn(async move {
            loop {
                let i = next.fetch_add(1, Ordering::Relaxed);
                if i >= N {
                    return;
                }
                start_burst(&client, &base, i, &fire_at)
                    .await
                    .expect("started");
            }
        });
    }
    while tasks.join_next().await.is_some() {}
    maker.terminate().await;
    assert_eq!(
        number(&url, "SELECT COUNT(*) FROM timers WHERE state = 'pending'"),
        N as i64
    );
    // All due now: three replicas start together and share them.
    let _rs = replicas(3, &journey, &url, &twilio);
    eventually(180, "every timer fired", || {
        number(&url, "SELECT COUNT(*) FROM timers WHERE state <> 'fired'") == 0
    })
    .await;
    eventually(180, "every text sent", || twilio.sent().len() >= N).await;
    tokio::time::sleep(Duration::from_millis(1500)).await;
    assert_eq!(number(&url, "SELECT COUNT(*) FROM timers"), N as i64);
    let by = texts_by_phone(&twilio);
    assert_eq!(by.len(), N);
    assert!(by.values().all(|&n| n == 1), "no text twice");
    // More than one replica did the work.
    let firing: usize = query(&url, "SELECT COUNT(DISTINCT claimed_by) FROM timers")[0][0]
        .parse()
        .unwrap();
    assert!(
        firing >= 2,
        "the timers were shared: {firing} replica(s) fired them"
    );
}

/// What a load did: the acknowledged sessions with their phones, and how many
/// requests got each other answer (0: no answer at all).
type Outcome = (Vec<(String, String)>, HashMap<u16, usize>);

/// Starts `Burst` sessions round-robin over the live replicas until `stop`, each due
/// `due_in` after it starts; returns the acknowledged session ids and their phones.
fn load(
    bases: Arc<Mutex<Vec<Option<String>>>>,
    stop: Arc<AtomicBool>,
    due_in: chrono::Duration,
    tasks: usize,
) -> tokio::task::JoinHandle<Outcome> {
    tokio::spawn(async move {
        let acked = Arc::new(Mutex::new(Vec::new()));
        let refused = Arc::new(Mutex::new(HashMap::new()));
        let next = Arc::new(AtomicUsize::new(0));
        let mut set = tokio::task::JoinSet::new();
        for _ in 0..tasks {
            let (bases, stop, acked, refused, next) = (
                bases.clone(),
                stop.clone(),
                acked.clone(),
                refused.clone(),
                next.clone(),
            );
            set.spawn(async move {
                let client = client();
                while !stop.load(Ordering::Relaxed) {
                    let i = next.fetch_add(1, Ordering::Relaxed);
                    let live: Vec<String> =
                        bases.lock().unwrap().iter().flatten().cloned().collect();
                    let base = &live[i % live.len()];
                    let fire_at = (Utc::now() + due_in).to_rfc3339();
                    match start_burst(&client, base, i, &fire_at).await {
                        Ok(id) => acked.lock().unwrap().push((id, phone(i))),
                        Err(status) => *refused.lock().unwrap().entry(status).or_insert(0) += 1,
                    }
                }
            });
        }
        while set.join_next().await.is_some() {}
        let acked = std::mem::take(&mut *acked.lock().unwrap());
        let refused = std::mem::take(&mut *refused.lock().unwrap());
        (acked, refused)
    })
}

/// What every acknowledged session must have, once everything is due and settled:
/// its row, its timer fired once, and its one text at the fake Twilio.
async fn settled(url: &str, twilio: &FakeTwilio, acked: &[(String, String)]) {
    let ids: HashSet<&str> = acked.iter().map(|(id, _)| id.as_str()).collect();
    let stored: HashSet<String> = query(url, "SELECT id FROM sessions")
        .into_iter()
        .map(|r| r[0].clone())
        .collect();
    let lost: Vec<&&str> = ids.iter().filter(|id| !stored.contains(**id)).collect();
    assert!(lost.is_empty(), "acknowledged but lost: {lost:?}");
    eventually(60, "every timer fired", || {
        number(url, "SELECT COUNT(*) FROM timers WHERE state = 'pending'") == 0
    })
    .await;
    let fired_twice = number(
        url,
        "SELECT COUNT(*) FROM (SELECT session_id FROM timers WHERE state = 'fired' GROUP BY session_id HAVING COUNT(*) > 1) t",
    );
    assert_eq!(fired_twice, 0);
    let phones: HashSet<&str> = acked.iter().map(|(_, p)| p.as_str()).collect();
    eventually(90, "a text for every acknowledged session", || {
        let by = texts_by_phone(twilio);
        phones.iter().all(|p| by.contains_key(*p))
    })
    .await;
    tokio::time::sleep(Duration::from_secs(2)).await;
    let by = texts_by_phone(twilio);
    let twice: Vec<_> = by.iter().filter(|(_, &n)| n > 1).collect();
    assert!(twice.is_empty(), "texts sent twice: {twice:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kill_9_of_one_replica_then_another_under_load_loses_and_repeats_nothing() {
    let Some((_one, url, twilio)) = set_up("replicas_kill").await else {
        return;
    };
    let journey = burst_file("replicas-kill");
    let mut rs = replicas(3, &journey, &url, &twilio);
    let bases = Arc::new(Mutex::new(
        rs.iter().map(|r| Some(r.base.clone())).collect::<Vec<_>>(),
    ));
    let stop = Arc::new(AtomicBool::new(false));
    // Timers come due while the load runs, so replicas die mid-firing and mid-send.
    let running = load(
        bases.clone(),
        stop.clone(),
        chrono::Duration::milliseconds(500),
        16,
    );
    tokio::time::sleep(Duration::from_secs(3)).await;
    bases.lock().unwrap()[0] = None;
    rs[0].kill_9();
    tokio::time::sleep(Duration::from_secs(3)).await;
    bases.lock().unwrap()[1] = None;
    rs[1].kill_9();
    tokio::time::sleep(Duration::from_secs(2)).await;
    stop.store(true, Ordering::Relaxed);
    let (acked, refused) = running.await.unwrap();
    assert!(
        acked.len() > 100,
        "the load ran: {} acknowledged",
        acked.len()
    );
    // Only connections to a killed replica failed; nothing answered 5xx.
    assert!(refused.keys().all(|&s| s == 0), "{refused:?}");
    settled(&url, &twilio, &acked).await;
}

/// The local cluster's `VERSION NAME`, for `pg_ctlcluster`.
fn cluster() -> Option<(String, String)> {
    let out = std::process::Command::new("pg_lsclusters")
        .arg("--no-header")
        .output()
        .ok()?;
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    let line = text
        .lines()
        .find(|l| l.split_whitespace().nth(2) == Some("5432"))?;
    let mut words = line.split_whitespace();
    Some((words.next()?.to_string(), words.next()?.to_string()))
}

fn pg_ctl(action: &str) {
    let (version, name) = cluster().expect("the local cluster");
    let status = std::process::Command::new("pg_ctlcluster")
        .args([version.as_str(), name.as_str(), action])
        .status()
        .unwrap();
    assert!(status.success(), "pg_ctlcluster {action}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_stopped_and_started_under_load_answers_503_and_loses_nothing() {
    let Some((_one, url, twilio)) = set_up("replicas_restart").await else {
        return;
    };
    if cluster().is_none() {
        use std::io::Write;
        let _ = writeln!(
            std::io::stderr(),
            "SKIPPED restarting PostgreSQL: no local cluster on port 5432 for pg_ctlcluster"
        );
        return;
    }
    let journey = burst_file("replicas-restart");
    let rs = replicas(2, &journey, &url, &twilio);
    let bases = Arc::new(Mutex::new(
        rs.iter().map(|r| Some(r.base.clone())).collect::<Vec<_>>(),
    ));
    let stop = Arc::new(AtomicBool::new(false));
    let running = load(bases, stop.clone(), chrono::Duration::seconds(1), 8);
    tokio::time::sleep(Duration::from_secs(2)).await;
    // A journey link made before, opened while it is down.
    let started = start_burst_answer(&client(), &rs[0].base, 9_998, &Utc::now().to_rfc3339())
        .await
        .unwrap();
    let link = started["journey_link"].as_str().unwrap().to_string();
    let path = &link[link.find("/j/").unwrap()..];
    pg_ctl("stop");
    // While it is down: the health check, changes and pages say 503, with Retry-After.
    let page = client().get(rs[1].url(path)).send().await.unwrap();
    assert_eq!(
        page.status().as_u16(),
        503,
        "a page while PostgreSQL is down"
    );
    assert!(page.headers().contains_key("retry-after"));
    let stopped = async {
        let health = client().get(rs[0].url("/healthz")).send().await.unwrap();
        let fire_at = Utc::now().to_rfc3339();
        let refused = client()
            .post(rs[1].url("/api/v1/journeys/Burst/sessions"))
            .header("authorization", format!("Bearer {API_TOKEN}"))
            .json_body(&json!({"actor": {"phone": phone(9_999)}, "vars": {"fire_at": fire_at}}))
            .send()
            .await
            .unwrap();
        (
            health.status().as_u16(),
            refused.status().as_u16(),
            refused.headers().contains_key("retry-after"),
        )
    }
    .await;
    tokio::time::sleep(Duration::from_secs(1)).await;
    pg_ctl("start");
    assert_eq!(stopped.0, 503, "/healthz while PostgreSQL is down");
    assert_eq!(stopped.1, 503, "a change while PostgreSQL is down");
    assert!(stopped.2, "503 says when to retry");
    // The replicas reconnect by themselves: changes are acknowledged again.
    eventually(30, "the replicas serve again", || {
        let base = rs[0].base.clone();
        std::thread::spawn(move || {
            tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .unwrap()
                .block_on(async {
                    client()
                        .get(format!("{base}/healthz"))
                        .send()
                        .await
                        .map(|r| r.status().as_u16())
                        .ok()
                })
        })
        .join()
        .unwrap()
            == Some(200)
    })
    .await;
    tokio::time::sleep(Duration::from_secs(2)).await;
    stop.store(true, Ordering::Relaxed);
    let (acked, refused) = running.await.unwrap();
    assert!(
        refused.contains_key(&503),
        "the load met the outage: {refused:?}"
    );
    assert!(
        refused.keys().all(|&s| s == 503),
        "nothing but 503 while down: {refused:?}"
    );
    settled(&url, &twilio, &acked).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_send_rate_of_a_number_is_one_budget_for_all_replicas() {
    let Some((_one, url, twilio)) = set_up("replicas_rate").await else {
        return;
    };
    let journey = temp_dir("replicas-rate").join("hello.journey");
    std::fs::write(&journey, HELLO).unwrap();
    // Five texts a second from our number, whichever replica sends them.
    let rs: Vec<Server> = (0..2)
        .map(|_| replica_with(&journey, &url, &twilio, false, "5"))
        .collect();
    const N: usize = 20;
    let client = client();
    for i in 0..N {
        // Each replica queues half of them, and its own sender wakes for them.
        let base = &rs[i % 2].base;
        let body = json!({"actor": {"phone": phone(i)}});
        let r = client
            .post(format!("{base}/api/v1/journeys/Hello/sessions"))
            .header("authorization", format!("Bearer {API_TOKEN}"))
            .json_body(&body)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 201);
    }
    eventually(30, "every text sent", || twilio.sent().len() >= N).await;
    let sent = twilio.sent();
    let first = sent.iter().map(|s| s.at).min().unwrap();
    let last = sent.iter().map(|s| s.at).max().unwrap();
    // Twenty texts at five a second span 19 gaps of 200 ms; two replicas pacing
    // themselves apart would need about half that. A little room for jitter.
    let span = last - first;
    assert!(
        span >= Duration::from_millis(17 * 200),
        "20 texts went out in {span:?}: faster than 5 a second"
    );
    let by = texts_by_phone(&twilio);
    assert!(by.len() == N && by.values().all(|&n| n == 1), "{by:?}");
}
