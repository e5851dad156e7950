//! The sender: drains the outbox to Twilio, or to the console without credentials.
//!
//! A message is claimed (`claimed`) when it joins a lane's queue, marked `sending` just
//! before it is handed over, and `sent` with Twilio's id after. A crash in between
//! leaves it `sending`; on the next start it becomes `unknown` and is reconciled by
//! asking Twilio, never blindly resent. What was only claimed was never handed over:
//! a stop or a crash leaves it to be sent again. Once a stop begins, no send starts. Each
//! sender number has its own lane with its own rate, so numbers never wait on each
//! other; a semaphore caps the requests in flight.

use std::collections::HashMap;
use std::future::Future;
use std::sync::atomic::{AtomicUsize, Ordering::Relaxed};
use std::sync::Arc;
use std::time::Duration;

use serde_json::Value as Json;
use tokio::sync::{mpsc, Semaphore};
use tokio::task::JoinSet;
use tokio::time::Instant;

use super::app::{install_crypto, App, Stop, TwilioConfig};
use super::calls::blocking;
use crate::runtime::store::{Message, MessageStatus, StoreError, SHARED_RECHECK};

/// Messages waiting in one lane at most; more stay pending in the store.
const LANE_DEPTH: usize = 64;
/// Messages claimed per store round trip at most.
const CLAIM_BATCH: usize = 256;
/// Attempts for one message on 429, 5xx or a refused connection.
const MAX_ATTEMPTS: u32 = 6;
/// The first retry waits about this long; each next one twice as long.
const BACKOFF_BASE: Duration = Duration::from_millis(200);
const BACKOFF_MAX: Duration = Duration::from_secs(30);
/// How long a sender keeps trying to record a message's outcome in a store that is
/// unavailable.
const KEEP_TRYING: Duration = Duration::from_secs(120);
/// With replicas, how often a sender recovers the claims of replicas that stopped.
const RECOVER_EVERY: Duration = Duration::from_secs(5);

/// Shared by the lanes.
struct Ctx {
    app: Arc<App>,
    client: reqwest::Client,
    in_flight: Semaphore,
    stop: Stop,
}

struct Lane {
    tx: mpsc::Sender<Message>,
    queued: Arc<AtomicUsize>,
}

/// Runs until `stop` turns true; then finishes what is in flight and returns.
pub async fn run(app: Arc<App>, stop: Stop) {
    install_crypto();
    let client = reqwest::Client::builder()
        .timeout(app.config.sms_timeout)
        .connect_timeout(Duration::from_secs(5))
        .pool_max_idle_per_host(app.config.sms_concurrency.max(1))
        .build()
        .expect("the HTTP client builds");
    let ctx = Arc::new(Ctx {
        in_flight: Semaphore::new(app.config.sms_concurrency.max(1)),
        client,
        app: app.clone(),
        stop: stop.clone(),
    });
    recover(&app).await;
    reconcile_unknown(&ctx.app, &ctx.client).await;
    let shared = app.engine.store().shared();
    let mut last_recovery = Instant::now();
    let mut lanes: HashMap<String, Lane> = HashMap::new();
    let mut tasks = JoinSet::new();
    let mut stop_rx = stop.clone();
    loop {
        if *stop_rx.borrow() {
            break;
        }
        let full: Vec<String> = lanes
            .iter()
            .filter(|(_, l)| l.queued.load(Relaxed) >= LANE_DEPTH)
            .map(|(from, _)| from.clone())
            .collect();
        let claimed =
            match blocking(&app, move |e| e.store().claim_messages(CLAIM_BATCH, &full)).await {
                Ok(Ok(m)) => m,
                Ok(Err(e)) => {
                    app.log().warn(&format!("reading the outbox failed: {e}"));
                    Vec::new()
                }
                Err(_) => Vec::new(),
            };
        if claimed.is_empty() {
            // With replicas, texts queued by another, or left by one that stopped,
            // ring no bell here: look again every so often.
            let recheck = tokio::time::sleep(if shared {
                SHARED_RECHECK
            } else {
                Duration::MAX
            });
            tokio::select! {
                _ = app.outbox_bell.notified() => continue,
                _ = stop_rx.changed() => break,
                _ = recheck => {}
            }
        }
        if shared && last_recovery.elapsed() >= RECOVER_EVERY {
            last_recovery = Instant::now();
            recover(&app).await;
            reconcile_unknown(&ctx.app, &ctx.client).await;
        }
        for m in claimed {
            let lane = lanes.entry(m.from.clone()).or_insert_with(|| {
                let (tx, rx) = mpsc::channel(LANE_DEPTH * 2);
                let queued = Arc::new(AtomicUsize::new(0));
                tasks.spawn(lane(ctx.clone(), rx, queued.clone()));
                Lane { tx, queued }
            });
            lane.queued.fetch_add(1, Relaxed);
            if lane.tx.send(m).await.is_err() {
                break;
            }
        }
    }
    // Closing the lanes lets each finish the sends in flight, then end; what is still
    // queued was never handed over, and waits in the outbox for the next start.
    drop(lanes);
    while tasks.join_next().await.is_some() {}
    match blocking(&app, |e| e.store().release_claimed()).await {
        Ok(Ok(n)) if n > 0 => app.log().info(&format!(
            "{n} message(s) not yet sent wait for the next start"
        )),
        Ok(Err(e)) => app
            .log()
            .warn(&format!("releasing unsent messages failed: {e}")),
        _ => {}
    }
}

/// Recovers what a stopped server (or, with replicas, a stopped replica) was sending.
async fn recover(app: &Arc<App>) {
    match blocking(app, |e| e.store().recover_sending()).await {
        Ok(Ok(n)) if n > 0 => app.log().warn(&format!(
            "{n} message(s) were being sent when a server stopped; reconciling with Twilio"
        )),
        Ok(Err(e)) => app
            .log()
            .warn(&format!("recovering the outbox failed: {e}")),
        _ => {}
    }
}

/// One sender number: paced at the configured rate, each message sent by its own task.
/// Messages to the same person go one after another, in outbox order, so the parts of
/// a notification arrive in order; different people's messages go side by side.
async fn lane(ctx: Arc<Ctx>, mut rx: mpsc::Receiver<Message>, queued: Arc<AtomicUsize>) {
    let rate = ctx.app.config.sms_per_second;
    let gap = (rate > 0.0).then(|| Duration::from_secs_f64(1.0 / rate));
    let mut next = Instant::now();
    // The last send to each recipient; the next one to them waits for it.
    let mut last: HashMap<String, tokio::task::JoinHandle<()>> = HashMap::new();
    let mut stop = ctx.stop.clone();
    while let Some(m) = rx.recv().await {
        if *stop.borrow() {
            // Stopping: the rest of the queue is not sent now.
            continue;
        }
        if let Some(gap) = gap {
            // Replicas share one budget per number, kept by the store; otherwise
            // this lane is the number's only sender and paces it alone.
            let from = m.from.clone();
            let shared = blocking(&ctx.app, move |e| e.store().reserve_send(&from, gap)).await;
            if let Ok(Err(e)) = &shared {
                ctx.app.log().warn(&format!(
                    "the shared send budget of {} is unavailable ({e}): this server paces it alone",
                    m.from
                ));
            }
            let at = match shared {
                Ok(Ok(Some(slot))) => {
                    let wait = (slot - chrono::Utc::now()).to_std().unwrap_or_default();
                    Instant::now() + wait
                }
                _ => {
                    let at = next;
                    next = Instant::now().max(next) + gap;
                    at
                }
            };
            tokio::select! {
                _ = tokio::time::sleep_until(at) => {}
                _ = stop.wait_for(|s| *s) => continue,
            }
        }
        let Ok(permit) = ctx.in_flight.acquire().await else {
            break;
        };
        permit.forget();
        let ctx2 = ctx.clone();
        let queued = queued.clone();
        let before = last.remove(&m.to);
        let to = m.to.clone();
        let handle = tokio::spawn(async move {
            if let Some(before) = before {
                let _ = before.await;
            }
            send(&ctx2, m).await;
            ctx2.in_flight.add_permits(1);
            // Room in the lane: the claim loop may take more for this number.
            if queued.fetch_sub(1, Relaxed) == LANE_DEPTH {
                ctx2.app.outbox_bell.notify_one();
            }
        });
        last.insert(to, handle);
        // Forget finished sends so the map does not grow without bound.
        if last.len() > 1024 {
            last.retain(|_, h| !h.is_finished());
        }
    }
    for (_, h) in last {
        let _ = h.await;
    }
}

async fn set_status(app: &Arc<App>, id: i64, status: MessageStatus, note: Option<String>) {
    let what = format!("recording message {id} as {}", status.as_str());
    keep(app, &what, || {
        let note = note.clone();
        async move {
            blocking(app, move |e| {
                e.store().set_message_status(id, status, note.as_deref())
            })
            .await
            .unwrap_or_else(|_| Err(StoreError::new("the store call panicked")))
        }
    })
    .await;
}

/// Runs a store write about a message that was (or was not) handed to Twilio, trying
/// again while the store is unavailable (a database restarting): what Twilio did must
/// be kept, or the message would stay `sending`, or `claimed`, for good.
async fn keep<F: Future<Output = Result<(), StoreError>>>(
    app: &Arc<App>,
    what: &str,
    write: impl Fn() -> F,
) {
    let mut wait = Duration::from_millis(100);
    let deadline = Instant::now() + KEEP_TRYING;
    loop {
        match write().await {
            Ok(()) => return,
            Err(StoreError::Unavailable(_)) if Instant::now() + wait < deadline => {
                tokio::time::sleep(wait).await;
                wait = (wait * 2).min(Duration::from_secs(2));
            }
            _ => {
                app.log().warn(&format!("{what} failed"));
                return;
            }
        }
    }
}

fn count(app: &App, sent: bool) {
    let m = &app.metrics;
    if sent {
        m.sms_sent.fetch_add(1, Relaxed);
    } else {
        m.sms_failed.fetch_add(1, Relaxed);
    }
}

/// A delay with jitter: between half and all of `base * 2^attempt`, capped.
fn backoff(attempt: u32, retry_after: Option<Duration>) -> Duration {
    let full = BACKOFF_BASE
        .saturating_mul(1 << attempt.min(16))
        .min(BACKOFF_MAX);
    let mut byte = [0u8; 1];
    let _ = getrandom::fill(&mut byte);
    let jittered = full / 2 + full.mul_f64(f64::from(byte[0]) / 510.0);
    retry_after.map_or(jittered, |r| r.max(jittered).min(BACKOFF_MAX))
}

fn messages_url(t: &TwilioConfig) -> String {
    format!(
        "{}/2010-04-01/Accounts/{}/Messages.json",
        t.api_base.trim_end_matches('/'),
        t.account_sid
    )
}

/// What one attempt came to.
enum Attempt {
    Accepted(String),
    /// Worth trying again: Twilio did not take it (429, 5xx, 21611, refused connection).
    Retry(String, Option<Duration>),
    /// Never retried; the Twilio error code, when there is one.
    Permanent(Option<u64>, String),
    /// No answer: Twilio may or may not have it.
    Unknown(String),
}

async fn attempt(ctx: &Ctx, t: &TwilioConfig, m: &Message) -> Attempt {
    let mut form = vec![
        ("To", m.to.as_str()),
        ("From", m.from.as_str()),
        ("Body", m.body.as_str()),
    ];
    let callback = ctx
        .app
        .config
        .public_url
        .as_ref()
        .map(|u| format!("{}/twilio/status", u.trim_end_matches('/')));
    if let Some(cb) = &callback {
        form.push(("StatusCallback", cb));
    }
    let response = ctx
        .client
        .post(messages_url(t))
        .basic_auth(&t.account_sid, Some(&t.auth_token))
        .form(&form)
        .send()
        .await;
    let response = match response {
        Ok(r) => r,
        Err(e) if e.is_connect() => {
            return Attempt::Retry(
                format!("cannot connect to Twilio: {}", e.without_url()),
                None,
            )
        }
        Err(e) if e.is_timeout() => {
            return Attempt::Unknown("Twilio did not answer in time".into())
        }
        Err(e) => {
            return Attempt::Unknown(format!(
                "the request to Twilio broke off: {}",
                e.without_url()
            ))
        }
    };
    let status = response.status();
    let retry_after = response
        .headers()
        .get(reqwest::header::RETRY_AFTER)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok())
        .map(Duration::from_secs);
    let body: Json = match response.bytes().await {
        Ok(b) => serde_json::from_slice(&b).unwrap_or(Json::Null),
        Err(_) if status.is_success() => {
            return Attempt::Unknown("Twilio's answer broke off".into())
        }
        Err(_) => Json::Null,
    };
    if status.is_success() {
        return match body.get("sid").and_then(Json::as_str) {
            Some(sid) => Attempt::Accepted(sid.to_string()),
            None => Attempt::Unknown(format!("Twilio answered {status} without a message sid")),
        };
    }
    let code = body.get("code").and_then(Json::as_u64);
    let message = body
        .get("message")
        .and_then(Json::as_str)
        .unwrap_or("no message")
        .to_string();
    let described = match code {
        Some(c) => format!("Twilio error {c} (HTTP {}): {message}", status.as_u16()),
        None => format!("HTTP {} from Twilio: {message}", status.as_u16()),
    };
    if super::twilio::worth_retrying(status.as_u16(), code) {
        Attempt::Retry(described, retry_after)
    } else {
        Attempt::Permanent(code, described)
    }
}

/// Sends one claimed message and records the outcome; nothing, once a stop began.
async fn send(ctx: &Ctx, m: Message) {
    if *ctx.stop.borrow() {
        return;
    }
    // Only now is it on its way: before this, a crash leaves it to be sent again.
    let id = m.id;
    // Queued for commit and awaited here: no thread waits for the commit.
    match ctx.app.engine.store().start_sending_queued(id).await {
        Ok(1) => {}
        Ok(_) => return,
        Err(_) => {
            // Back to the outbox, to be claimed again, rather than left claimed.
            ctx.app.log().warn(&format!(
                "message {id} could not be marked sending; it waits"
            ));
            // Only while it is still ours: another replica may have recovered it.
            let what = format!("giving message {id} back to the outbox");
            keep(&ctx.app, &what, || async move {
                blocking(&ctx.app, move |e| e.store().release_claim(id).map(|_| ()))
                    .await
                    .unwrap_or_else(|_| Err(StoreError::new("the store call panicked")))
            })
            .await;
            ctx.app.outbox_bell.notify_one();
            return;
        }
    }
    let Some(t) = ctx.app.config.twilio.clone() else {
        // The development sink: the message is for the person at the console. It is
        // printed on standard output, apart from the log, because its journey link
        // is what they click next.
        println!("SMS to {} from {}: {}", m.to, m.from, m.body);
        set_status(
            &ctx.app,
            m.id,
            MessageStatus::Sent,
            Some("printed by the development sink".into()),
        )
        .await;
        count(&ctx.app, true);
        return;
    };
    let mut tries = 0;
    loop {
        tries += 1;
        match attempt(ctx, &t, &m).await {
            Attempt::Accepted(sid) => {
                let id = m.id;
                let what = format!("recording message {id} as sent");
                let store = ctx.app.engine.clone();
                keep(&ctx.app, &what, || {
                    let sent = store.store().message_sent_queued(id, &sid);
                    async move { sent.await.map(|_| ()) }
                })
                .await;
                count(&ctx.app, true);
                return;
            }
            Attempt::Permanent(code, note) => {
                ctx.app
                    .log()
                    .warn(&format!("message {} failed: {note}", m.id));
                if code == Some(21610) {
                    let to = m.to.clone();
                    let _ = blocking(&ctx.app, move |e| e.store().opt_out(&to, e.now())).await;
                }
                set_status(&ctx.app, m.id, MessageStatus::Failed, Some(note)).await;
                count(&ctx.app, false);
                return;
            }
            Attempt::Unknown(note) => {
                ctx.app.log().warn(&format!(
                    "message {}: {note}; it will be reconciled, not resent",
                    m.id
                ));
                set_status(&ctx.app, m.id, MessageStatus::Unknown, Some(note)).await;
                let (app, client) = (ctx.app.clone(), ctx.client.clone());
                // Twilio lists a message a moment after taking it: look a little later.
                tokio::spawn(async move {
                    tokio::time::sleep(Duration::from_secs(5)).await;
                    reconcile_unknown(&app, &client).await;
                });
                return;
            }
            Attempt::Retry(note, retry_after) if tries < MAX_ATTEMPTS => {
                let wait = backoff(tries - 1, retry_after);
                let mut stop = ctx.stop.clone();
                let stopped = tokio::select! {
                    _ = tokio::time::sleep(wait) => false,
                    _ = stop.wait_for(|s| *s) => true,
                };
                if stopped {
                    // Twilio did not take it: it can wait for the next start.
                    set_status(&ctx.app, m.id, MessageStatus::Pending, Some(note)).await;
                    return;
                }
            }
            Attempt::Retry(note, _) => {
                let note = format!("gave up after {tries} attempts: {note}");
                ctx.app.log().warn(&format!("message {}: {note}", m.id));
                set_status(&ctx.app, m.id, MessageStatus::Failed, Some(note)).await;
                count(&ctx.app, false);
                return;
            }
        }
    }
}

/// For each `unknown` message, asks Twilio whether it has it (same To, From and Body,
/// created since shortly before ours): if so it is `sent`; if Twilio clearly has no
/// such message it goes back to `pending`; if Twilio cannot be asked it stays.
async fn reconcile_unknown(app: &Arc<App>, client: &reqwest::Client) {
    let Some(t) = app.config.twilio.clone() else {
        return;
    };
    // One pass at a time: two passes asking Twilio about one message at once could
    // both decide to send it again.
    let _pass = app.reconciling.lock().await;
    // A page at a time, so a large backlog is never read whole.
    let mut after = 0;
    loop {
        let page = match blocking(app, move |e| {
            e.store()
                .messages_with_status(MessageStatus::Unknown, after, RECONCILE_PAGE)
        })
        .await
        {
            Ok(Ok(page)) => page,
            _ => return,
        };
        let Some(last) = page.last() else { return };
        after = last.id;
        let full = page.len() == RECONCILE_PAGE;
        for m in page {
            reconcile_one(app, client, &t, m).await;
        }
        if !full {
            return;
        }
    }
}

/// Unknown messages read from the store at a time.
const RECONCILE_PAGE: usize = 500;

/// Reconciles one `unknown` message; on any doubt it stays `unknown` for a later pass.
async fn reconcile_one(app: &Arc<App>, client: &reqwest::Client, t: &TwilioConfig, m: Message) {
    let query = form_urlencoded::Serializer::new(String::new())
        .append_pair("To", &m.to)
        .append_pair("From", &m.from)
        .append_pair("PageSize", "100")
        .finish();
    let listed = client
        .get(format!("{}?{query}", messages_url(t)))
        .basic_auth(&t.account_sid, Some(&t.auth_token))
        .send()
        .await;
    let Ok(listed) = listed else { return };
    if !listed.status().is_success() {
        return;
    }
    let Ok(body) = listed.json_bytes().await else {
        return;
    };
    let Some(messages) = body.get("messages").and_then(Json::as_array) else {
        return;
    };
    let since = m.created_at - chrono::Duration::minutes(5);
    let found = messages.iter().find(|x| {
        x.get("body").and_then(Json::as_str) == Some(m.body.as_str())
            && x.get("date_created")
                .and_then(Json::as_str)
                .and_then(|d| chrono::DateTime::parse_from_rfc2822(d).ok())
                .is_none_or(|d| d >= since)
    });
    let id = m.id;
    match found.and_then(|x| x.get("sid")).and_then(Json::as_str) {
        Some(sid) => {
            let sid = sid.to_string();
            let _ = blocking(app, move |e| e.store().message_sent(id, &sid)).await;
            count(app, true);
        }
        None => {
            // Only if it is still unknown: never a message already sent again.
            let again = blocking(app, move |e| {
                e.store()
                    .resend_unknown(id, "Twilio does not have it: sending again")
            })
            .await;
            if matches!(again, Ok(Ok(true))) {
                app.outbox_bell.notify_one();
            }
        }
    }
}

/// Reading a JSON body without reqwest's `json` feature.
trait JsonBytes {
    async fn json_bytes(self) -> Result<Json, ()>;
}

impl JsonBytes for reqwest::Response {
    async fn json_bytes(self) -> Result<Json, ()> {
        let bytes = self.bytes().await.map_err(|_| ())?;
        serde_json::from_slice(&bytes).map_err(|_| ())
    }
}
