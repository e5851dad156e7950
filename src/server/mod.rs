//! `journeyc run`: the HTTP server around the engine. It hands out starting links and
//! journey links, renders pages, takes Twilio's webhooks and the API trigger, and runs
//! the sender that drains the outbox.
//!
//! The engine and its store are synchronous; every call into them runs on tokio's
//! blocking pool, so a slow fsync never stalls the threads that answer requests.

pub mod metrics;
pub mod pages;
pub mod sender;
pub mod twilio;

use std::convert::Infallible;
use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use base64::Engine as _;
use bytes::Bytes;
use chrono::Utc;
use hmac::{KeyInit, Mac};
use http_body_util::{BodyExt, Full, Limited};
use hyper::body::Incoming;
use hyper::header::{self, HeaderValue};
use hyper::{Method, Request, Response, StatusCode};
use hyper_util::rt::{TokioIo, TokioTimer};
use maud::Markup;
use serde_json::json;
use sha2::Digest;
use tokio::net::TcpListener;
use tokio::sync::{watch, Notify};

use crate::ir::{self, LandsOn};
use crate::runtime::clock::ManualClock;
use crate::runtime::engine::{Engine, Listener, Pending, Reply, Start};
use crate::runtime::input::{self, ActorFieldError};
use crate::runtime::session::SessionState;
use crate::runtime::store::StoreError;
use crate::runtime::web::{Press, Submitted, View};
use metrics::Metrics;

/// Largest request body accepted, in bytes.
pub const MAX_BODY: usize = 64 * 1024;
/// A client has this long to send its request headers, and again its body.
pub const READ_TIMEOUT: Duration = Duration::from_secs(10);
/// Longest `clock/advance` in one call: a year.
const MAX_ADVANCE_SECS: u64 = 366 * 86_400;

/// Twilio's account and where its API is.
#[derive(Clone)]
pub struct TwilioConfig {
    pub account_sid: String,
    pub auth_token: String,
    pub api_base: String,
}

impl std::fmt::Debug for TwilioConfig {
    // The auth token never reaches a log, even by accident.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TwilioConfig")
            .field("account_sid", &self.account_sid)
            .field("api_base", &self.api_base)
            .finish_non_exhaustive()
    }
}

#[derive(Clone, Debug)]
pub struct Config {
    /// Where people and Twilio reach this server, e.g. `https://journeys.example.com`;
    /// journey links and signature checks use it. Without it: `http://` + the
    /// listening address.
    pub public_url: Option<String>,
    pub preview: bool,
    pub twilio: Option<TwilioConfig>,
    /// The API trigger's bearer token; without one the API answers `401`.
    pub api_token: Option<String>,
    /// Messages per second from one sender number; 0 lifts the limit.
    pub sms_per_second: f64,
    /// Messages on their way to Twilio at once, at most.
    pub sms_concurrency: usize,
    /// How long to wait for Twilio's answer before recording the message `unknown`.
    pub sms_timeout: Duration,
    pub log_json: bool,
    /// The key journey-link tokens are derived from, kept outside the database (see
    /// `runtime::links`); without one, a random key for this process only.
    pub link_key: Option<Vec<u8>>,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            public_url: None,
            preview: false,
            twilio: None,
            api_token: None,
            sms_per_second: 1.0,
            sms_concurrency: 16,
            sms_timeout: Duration::from_secs(15),
            log_json: false,
            link_key: None,
        }
    }
}

/// Log lines on standard error, as text or JSON. Callers never pass a journey-link
/// token or a secret: routes are logged by name, not by path.
///
/// Info lines (one per request) are buffered and written every 100 ms, or sooner when
/// 64 KiB have gathered: a write per request cost a quarter of a page's throughput.
/// Warnings and errors are written at once, after what was buffered before them.
#[derive(Clone)]
pub struct Log {
    json: bool,
    buffer: Arc<std::sync::Mutex<Vec<u8>>>,
}

/// Buffered log bytes written at once, at most.
const LOG_BUFFER: usize = 64 * 1024;

impl Log {
    /// A log; a background thread flushes it until the last clone is dropped.
    pub fn new(json: bool) -> Log {
        let buffer = Arc::new(std::sync::Mutex::new(Vec::with_capacity(LOG_BUFFER)));
        let weak = Arc::downgrade(&buffer);
        let _ = std::thread::Builder::new()
            .name("journeyc-log".into())
            .spawn(move || loop {
                std::thread::sleep(Duration::from_millis(100));
                let Some(buffer) = weak.upgrade() else { return };
                flush_buffer(&buffer);
            });
        Log { json, buffer }
    }

    pub fn line(&self, level: &str, message: &str) {
        let now = Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Millis, true);
        let line = if self.json {
            format!("{}\n", json!({"ts": now, "level": level, "msg": message}))
        } else {
            format!("{now} {level:<5} {message}\n")
        };
        let full = {
            let mut buffer = self.buffer.lock().unwrap_or_else(|e| e.into_inner());
            buffer.extend_from_slice(line.as_bytes());
            buffer.len() >= LOG_BUFFER
        };
        if full || level != "INFO" {
            self.flush();
        }
    }
    pub fn info(&self, message: &str) {
        self.line("INFO", message);
    }
    pub fn warn(&self, message: &str) {
        self.line("WARN", message);
    }
    /// Writes what is buffered.
    pub fn flush(&self) {
        flush_buffer(&self.buffer);
    }
}

fn flush_buffer(buffer: &std::sync::Mutex<Vec<u8>>) {
    use std::io::Write;
    // One flush at a time, so lines reach the terminal in the order they were logged.
    static WRITING: std::sync::Mutex<()> = std::sync::Mutex::new(());
    let _writing = WRITING.lock().unwrap_or_else(|e| e.into_inner());
    let bytes = std::mem::take(&mut *buffer.lock().unwrap_or_else(|e| e.into_inner()));
    if !bytes.is_empty() {
        let _ = std::io::stderr().lock().write_all(&bytes);
    }
}

/// Everything a request handler needs.
pub struct App {
    pub engine: Arc<Engine>,
    pub config: Config,
    pub metrics: Arc<Metrics>,
    /// The preview's clock, moved by `POST /_preview/api/clock/advance`.
    pub manual_clock: Option<ManualClock>,
    /// Base of every URL we hand out, without a trailing `/`.
    pub base_url: String,
    /// Rung when the outbox has new messages.
    pub outbox_bell: Arc<Notify>,
    csrf_key: Vec<u8>,
    link_key: Arc<Vec<u8>>,
    log: Log,
    /// Texts and calls from one number are handled one at a time, in arrival order.
    lanes: crate::runtime::lanes::Lanes,
    /// Held by the sender's reconciliation pass: one at a time.
    pub(crate) reconciling: tokio::sync::Mutex<()>,
}

/// Wakes the sender and counts, as the engine works.
struct EngineListener {
    metrics: Arc<Metrics>,
    bell: Arc<Notify>,
    log: Log,
}

impl Listener for EngineListener {
    fn sms_queued(&self) {
        self.bell.notify_one();
    }
    fn session_started(&self) {
        self.metrics
            .sessions_started
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    }
    fn timer_fired(&self, lateness: chrono::Duration) {
        self.metrics
            .lateness(lateness.num_microseconds().unwrap_or(i64::MAX) as f64 / 1e6);
    }
    fn retried(&self) {
        self.metrics
            .session_retries
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    }
    fn conflict_failed(&self) {
        self.metrics
            .session_conflicts
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        self.log.warn(&format!(
            "an event was not kept: its session changed under it {} times (a request gets 503; a timer stays due)",
            crate::runtime::engine::MAX_ATTEMPTS
        ));
    }
    fn session_failed(&self) {
        self.metrics
            .sessions_failed
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    }
    fn event_kept(&self, attempts: usize) {
        self.metrics.attempts(attempts);
    }
}

impl App {
    /// Wires an engine into a server. `listening` is where the socket is bound, for
    /// URLs when there is no public URL.
    pub fn new(
        engine: Arc<Engine>,
        config: Config,
        manual_clock: Option<ManualClock>,
        listening: SocketAddr,
    ) -> Result<Arc<App>, String> {
        let csrf_key = engine
            .store()
            .secret("csrf")
            .map_err(|e| format!("the store has no secret key: {e}"))?;
        let base_url = match &config.public_url {
            Some(u) => u.trim_end_matches('/').to_string(),
            None => format!("http://{listening}"),
        };
        let metrics = Arc::new(Metrics::default());
        let outbox_bell = Arc::new(Notify::new());
        let log = Log::new(config.log_json);
        engine.listen(Arc::new(EngineListener {
            metrics: metrics.clone(),
            bell: outbox_bell.clone(),
            log: log.clone(),
        }));
        let link_key = Arc::new(config.link_key.clone().unwrap_or_else(|| {
            let mut key = vec![0u8; 32];
            getrandom::fill(&mut key).expect("the operating system has randomness");
            key
        }));
        {
            let (key, base) = (link_key.clone(), base_url.clone());
            engine.set_links(Arc::new(move |id: &str| {
                let token = crate::runtime::links::token(&key, id);
                crate::runtime::engine::JourneyLink {
                    url: format!("{base}/j/{token}"),
                    token_hash: token_hash(&token),
                }
            }));
        }
        Ok(Arc::new(App {
            engine,
            config,
            metrics,
            manual_clock,
            base_url,
            outbox_bell,
            csrf_key,
            link_key,
            log,
            lanes: Default::default(),
            reconciling: tokio::sync::Mutex::new(()),
        }))
    }

    pub fn log(&self) -> &Log {
        &self.log
    }

    /// Whether webhooks must carry a valid Twilio signature: always with credentials,
    /// and without them only outside preview (where every webhook is refused).
    fn signatures_checked(&self) -> bool {
        self.config.twilio.is_some() || !self.config.preview
    }

    /// The per-session form token: an HMAC of the session id under the store's secret.
    fn csrf_token(&self, session_id: &str) -> String {
        let mut mac =
            hmac::Hmac::<sha2::Sha256>::new_from_slice(&self.csrf_key).expect("any key length");
        mac.update(session_id.as_bytes());
        b64(&mac.finalize().into_bytes())
    }

    fn csrf_valid(&self, session_id: &str, given: &str) -> bool {
        let Ok(given) = base64::engine::general_purpose::URL_SAFE_NO_PAD.decode(given) else {
            return false;
        };
        let mut mac =
            hmac::Hmac::<sha2::Sha256>::new_from_slice(&self.csrf_key).expect("any key length");
        mac.update(session_id.as_bytes());
        mac.verify_slice(&given).is_ok()
    }

    /// A fresh session id, journey-link token (its hash for the store) and full link.
    /// A new session's id, and its journey link's token, derived from the id.
    pub fn new_ids(&self) -> NewIds {
        let id = format!("s_{}", random_b64(12));
        let token = crate::runtime::links::token(&self.link_key, &id);
        NewIds {
            token_hash: token_hash(&token),
            link: format!("{}/j/{token}", self.base_url),
            id,
            token,
        }
    }
}

/// Ids for a session the engine may start, made only if it does: most texts continue
/// a session, and making ids costs randomness and a hash.
fn lazy_ids(app: &Arc<App>) -> impl Fn() -> (String, Vec<u8>, Option<String>) + Send + 'static {
    let app = app.clone();
    move || {
        let ids = app.new_ids();
        (ids.id, ids.token_hash, Some(ids.link))
    }
}

pub struct NewIds {
    pub id: String,
    pub token: String,
    pub token_hash: Vec<u8>,
    pub link: String,
}

/// Makes ring rustls's cryptography for HTTPS clients; later calls change nothing.
pub fn install_crypto() {
    let _ = rustls::crypto::ring::default_provider().install_default();
}

fn b64(bytes: &[u8]) -> String {
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
}

/// `n` bytes from the operating system's generator, in URL-safe base64.
fn random_b64(n: usize) -> String {
    let mut bytes = vec![0u8; n];
    getrandom::fill(&mut bytes).expect("the operating system has randomness");
    b64(&bytes)
}

/// What the store keeps instead of a journey-link token: its SHA-256.
pub fn token_hash(token: &str) -> Vec<u8> {
    sha2::Sha256::digest(token.as_bytes()).to_vec()
}

/// Runs an engine call on the blocking pool.
async fn blocking<T: Send + 'static>(
    app: &Arc<App>,
    f: impl FnOnce(&Engine) -> T + Send + 'static,
) -> Result<T, Resp> {
    let engine = app.engine.clone();
    tokio::task::spawn_blocking(move || f(&engine))
        .await
        .map_err(|_| server_error(app, "an engine call panicked"))
}

/// Runs an engine call on the blocking pool until its change is queued, then awaits
/// the change's durability here: a request holds no thread while its commit's fsync
/// runs, so the commits of many requests are shared.
async fn queued<T: Send + 'static>(
    app: &Arc<App>,
    f: impl FnOnce(&Engine) -> Result<Pending<T>, StoreError> + Send + 'static,
) -> Result<Result<T, StoreError>, Resp> {
    Ok(match blocking(app, f).await? {
        Ok(pending) => pending.finish().await,
        Err(e) => Err(e),
    })
}

/// `queued` for a webhook with provider id `sid`, processed once: a delivery seen
/// before changes nothing and gives `None`, and so does the second of two copies
/// delivered at once, whose change fails on the id the first one kept.
async fn once<T: Send + 'static>(
    app: &Arc<App>,
    sid: String,
    f: impl FnOnce(&Engine, &str) -> Result<Pending<T>, StoreError> + Send + 'static,
) -> Result<Result<Option<T>, StoreError>, Resp> {
    let id = sid.clone();
    let outcome = queued(app, move |e| {
        if e.store().delivery_seen(&id)? {
            return Ok(Pending::ready(None));
        }
        f(e, &id).map(|p| p.map(Some))
    })
    .await?;
    match outcome {
        Err(e) => match blocking(app, move |en| en.store().delivery_seen(&sid)).await? {
            Ok(true) => Ok(Ok(None)),
            _ => Ok(Err(e)),
        },
        ok => Ok(ok),
    }
}

type Resp = Response<Full<Bytes>>;

fn respond(status: StatusCode, content_type: &'static str, body: impl Into<Bytes>) -> Resp {
    let mut r = Response::new(Full::new(body.into()));
    *r.status_mut() = status;
    r.headers_mut()
        .insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    r
}

fn html_page(status: StatusCode, markup: Markup) -> Resp {
    let mut r = respond(status, "text/html; charset=utf-8", markup.into_string());
    let h = r.headers_mut();
    h.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(
            "default-src 'none'; style-src 'unsafe-inline'; img-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'",
        ),
    );
    h.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
    h.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    r
}

fn text(status: StatusCode, body: impl Into<String>) -> Resp {
    respond(status, "text/plain; charset=utf-8", body.into())
}

fn json_response(status: StatusCode, value: serde_json::Value) -> Resp {
    respond(status, "application/json", value.to_string())
}

/// An RFC 9457 problem document.
fn problem(status: StatusCode, detail: impl Into<String>) -> Resp {
    respond(
        status,
        "application/problem+json",
        json!({
            "type": "about:blank",
            "title": status.canonical_reason().unwrap_or(""),
            "status": status.as_u16(),
            "detail": detail.into(),
        })
        .to_string(),
    )
}

fn twiml(body: String) -> Resp {
    respond(StatusCode::OK, "text/xml; charset=utf-8", body)
}

fn redirect(location: &str) -> Resp {
    let mut r = text(StatusCode::SEE_OTHER, "");
    if let Ok(v) = HeaderValue::from_str(location) {
        r.headers_mut().insert(header::LOCATION, v);
    }
    r
}

/// An engine call that failed, answered from the error's kind: 404 for what does not
/// exist, 409 for what the journey refuses, 503 with `Retry-After` when the session
/// kept changing under the event or the store cannot serve now (nothing was kept, and
/// trying again will work), else 500.
fn failed(app: &App, what: &str, e: &StoreError) -> Resp {
    let retry_later = |message: &str| {
        app.log.warn(&format!("{what} was not kept: {e}"));
        let mut r = text(StatusCode::SERVICE_UNAVAILABLE, message);
        r.headers_mut()
            .insert(header::RETRY_AFTER, HeaderValue::from_static("1"));
        r
    };
    match e {
        StoreError::Broken { .. } => {
            // The engine failed the session already.
            app.log.warn(&format!("{what} failed: {e}"));
            html_page(
                StatusCode::INTERNAL_SERVER_ERROR,
                pages::notice(
                    "Something went wrong",
                    "This journey cannot continue because of a problem on our side. We are sorry.",
                ),
            )
        }
        StoreError::NotFound(why) => text(StatusCode::NOT_FOUND, format!("{why}\n")),
        StoreError::Rejected(_) | StoreError::Stale { .. } => {
            text(StatusCode::CONFLICT, format!("{e}\n"))
        }
        StoreError::Conflict { .. } => retry_later("Too many changes at once; please try again.\n"),
        StoreError::Unavailable(_) => retry_later("The service is busy; please try again.\n"),
        _ => server_error(app, &format!("{what} failed: {e}")),
    }
}

fn server_error(app: &App, what: &str) -> Resp {
    app.log.line("ERROR", what);
    text(
        StatusCode::INTERNAL_SERVER_ERROR,
        "Something went wrong on our side; please try again.\n",
    )
}

fn not_found_page() -> Resp {
    html_page(
        StatusCode::NOT_FOUND,
        pages::notice(
            "Link not found",
            "This link is not valid. Check that it was copied completely.",
        ),
    )
}

fn gone_page() -> Resp {
    html_page(
        StatusCode::GONE,
        pages::notice(
            "This link has expired",
            "This journey has ended, so its link no longer works. If you still need help, start again from the link you were first given.",
        ),
    )
}

/// Reads a request body, at most `MAX_BODY` bytes, within `READ_TIMEOUT`.
async fn read_body(body: Incoming) -> Result<Bytes, Resp> {
    // A declared length over the limit is refused before any of it is read (and
    // before a client that sent `Expect: 100-continue` is told to go on).
    if hyper::body::Body::size_hint(&body).lower() > MAX_BODY as u64 {
        return Err(text(
            StatusCode::PAYLOAD_TOO_LARGE,
            format!("the request body is over {MAX_BODY} bytes\n"),
        ));
    }
    match tokio::time::timeout(READ_TIMEOUT, Limited::new(body, MAX_BODY).collect()).await {
        Err(_) => Err(text(
            StatusCode::REQUEST_TIMEOUT,
            "the request body took too long\n",
        )),
        Ok(Err(e)) if e.is::<http_body_util::LengthLimitError>() => Err(text(
            StatusCode::PAYLOAD_TOO_LARGE,
            format!("the request body is over {MAX_BODY} bytes\n"),
        )),
        Ok(Err(_)) => Err(text(
            StatusCode::BAD_REQUEST,
            "the request body could not be read\n",
        )),
        Ok(Ok(collected)) => Ok(collected.to_bytes()),
    }
}

fn parse_form(body: &[u8]) -> Vec<(String, String)> {
    form_urlencoded::parse(body).into_owned().collect()
}

fn form_value<'a>(form: &'a [(String, String)], name: &str) -> Option<&'a str> {
    form.iter()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.as_str())
}

/// Serves `app` on `listener` until `shutdown` resolves; then stops accepting and
/// lets the requests in flight finish (for at most 10 seconds).
pub async fn serve(app: Arc<App>, listener: TcpListener, shutdown: impl Future<Output = ()>) {
    let graceful = hyper_util::server::graceful::GracefulShutdown::new();
    let mut http = hyper::server::conn::http1::Builder::new();
    http.timer(TokioTimer::new())
        .header_read_timeout(READ_TIMEOUT)
        .max_buf_size(64 * 1024);
    tokio::pin!(shutdown);
    loop {
        tokio::select! {
            accepted = listener.accept() => {
                let Ok((stream, _)) = accepted else { continue };
                let _ = stream.set_nodelay(true);
                let app = app.clone();
                let service = hyper::service::service_fn(move |req| {
                    let app = app.clone();
                    async move { Ok::<_, Infallible>(handle(app, req).await) }
                });
                let conn = http.serve_connection(TokioIo::new(stream), service);
                let conn = graceful.watch(conn);
                tokio::spawn(async move {
                    let _ = conn.await;
                });
            }
            _ = &mut shutdown => break,
        }
    }
    drop(listener);
    let _ = tokio::time::timeout(Duration::from_secs(10), graceful.shutdown()).await;
}

/// Routes a request and logs it by route name.
async fn handle(app: Arc<App>, req: Request<Incoming>) -> Resp {
    let started = Instant::now();
    let method = req.method().clone();
    let path = req.uri().path().to_string();
    let segments: Vec<&str> = path.trim_start_matches('/').split('/').collect();
    let (route, response) = match (&method, segments.as_slice()) {
        (&Method::GET, ["start", slug]) => ("start", start_link(&app, slug).await),
        // A link checker or a preview bot asks HEAD: it learns the link works, and no
        // session starts.
        (&Method::HEAD, ["start", slug]) => ("start", start_link_head(&app, slug)),
        (&Method::GET | &Method::HEAD, ["j", token]) => {
            let query = req.uri().query().unwrap_or("").to_string();
            ("journey_link", journey_link(&app, token, &query).await)
        }
        (&Method::POST, ["j", token]) => {
            let token = token.to_string();
            ("journey_form", journey_form(&app, &token, req).await)
        }
        (&Method::POST, ["twilio", "sms"]) => ("twilio_sms", twilio_sms(&app, req).await),
        (&Method::POST, ["twilio", "voice"]) => ("twilio_voice", twilio_voice(&app, req).await),
        (&Method::POST, ["twilio", "status"]) => ("twilio_status", twilio_status(&app, req).await),
        (&Method::POST, ["api", "v1", "journeys", journey, "sessions"]) => {
            let journey = journey.to_string();
            ("api_sessions", api_start(&app, &journey, req).await)
        }
        // HEAD works wherever GET does; hyper sends the headers without the body.
        (&Method::GET | &Method::HEAD, ["api", "v1", "journeys"]) => {
            ("api_journeys", api_journeys(&app).await)
        }
        (&Method::GET | &Method::HEAD, ["healthz"]) => ("healthz", healthz(&app).await),
        (&Method::GET | &Method::HEAD, ["metrics"]) => (
            "metrics",
            respond(
                StatusCode::OK,
                "text/plain; version=0.0.4",
                app.metrics.render(),
            ),
        ),
        (_, ["_preview", "api", rest @ ..]) if app.config.preview => {
            let rest: Vec<String> = rest.iter().map(|s| s.to_string()).collect();
            ("preview", preview(&app, &rest, req).await)
        }
        (_, ["start", _] | ["j", _] | ["healthz"] | ["metrics"]) => (
            "other",
            text(StatusCode::METHOD_NOT_ALLOWED, "method not allowed\n"),
        ),
        (_, ["twilio", "sms" | "voice" | "status"] | ["api", "v1", "journeys", ..]) => (
            "other",
            text(StatusCode::METHOD_NOT_ALLOWED, "method not allowed\n"),
        ),
        (&Method::GET | &Method::HEAD, [""]) => ("other", home(&app)),
        _ => ("not_found", text(StatusCode::NOT_FOUND, "not found\n")),
    };
    app.metrics.request(route);
    app.log.info(&format!(
        "{method} {route} {} {:.1}ms",
        response.status().as_u16(),
        started.elapsed().as_secs_f64() * 1e3
    ));
    response
}

/// `/`: what this server serves, for a person who opens it in a browser.
fn home(app: &Arc<App>) -> Resp {
    let links: Vec<(String, String)> = app
        .engine
        .journeys()
        .iter()
        .flat_map(|j| {
            j.triggers.iter().filter_map(move |t| match t {
                ir::Trigger::Link { slug } => Some((j.name.clone(), slug.clone())),
                _ => None,
            })
        })
        .collect();
    let base = &app.base_url;
    html_page(
        StatusCode::OK,
        pages::document(
            "journeyc",
            maud::html! {
                h1 { "journeyc" }
                @if links.is_empty() {
                    p { "No journey here has a starting link." }
                } @else {
                    p { "Starting links:" }
                    ul {
                        @for (journey, slug) in &links {
                            li { a href=(format!("{base}/start/{slug}")) { (journey) } }
                        }
                    }
                }
            },
        ),
    )
}

fn no_such_link() -> Resp {
    html_page(
        StatusCode::NOT_FOUND,
        pages::notice("Link not found", "There is no journey at this address."),
    )
}

/// `HEAD /start/{slug}`: whether the starting link works, without starting a session.
fn start_link_head(app: &Arc<App>, slug: &str) -> Resp {
    match app.engine.link_journey(slug) {
        Some(_) => text(StatusCode::OK, ""),
        None => no_such_link(),
    }
}

async fn start_link(app: &Arc<App>, slug: &str) -> Resp {
    if app.engine.link_journey(slug).is_none() {
        return no_such_link();
    }
    let slug = slug.to_string();
    let ids = app.new_ids();
    let (id, hash, link) = (ids.id, ids.token_hash, ids.link.clone());
    match queued(app, move |e| e.open_link(&slug, id, &hash, Some(link))).await {
        Ok(Ok(_)) => redirect(&format!("/j/{}", ids.token)),
        Ok(Err(StoreError::NotFound(_))) => no_such_link(),
        Ok(Err(e)) => failed(app, "starting a session", &e),
        Err(r) => r,
    }
}

/// A token as we make them: URL-safe base64, not too long. Anything else cannot be one.
fn plausible_token(token: &str) -> bool {
    (16..=64).contains(&token.len())
        && token
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

/// Finds the session of a journey-link token: `Err` is the response to give instead.
async fn session_for(app: &Arc<App>, token: &str) -> Result<SessionState, Resp> {
    if !plausible_token(token) {
        return Err(not_found_page());
    }
    let hash = token_hash(token);
    // A read by an indexed key on a read connection takes microseconds and never waits
    // for a commit, so it runs here rather than hopping to the blocking pool.
    let now = app.engine.now();
    match app.engine.store().session_by_token(&hash).map(|s| (s, now)) {
        Ok((None, _)) => Err(not_found_page()),
        Ok((Some(s), now)) if !s.is_active(now) => Err(gone_page()),
        Ok((Some(s), _)) => Ok(app.engine.with_link(s)),
        Err(StoreError::Broken { session, problem }) => Err(broken(app, session, problem).await),
        Err(e) => Err(server_error(app, &format!("reading a session failed: {e}"))),
    }
}

/// A session that cannot run: it is failed (logged, its timers cancelled, counted),
/// and the person sees a page that says so without details.
async fn broken(app: &Arc<App>, session: String, problem: String) -> Resp {
    app.log
        .warn(&format!("a session was failed: it cannot run: {problem}"));
    if let Ok(Err(e)) = blocking(app, move |e| e.fail_broken(&session, &problem)).await {
        app.log.warn(&format!("failing a session failed: {e}"));
    }
    html_page(
        StatusCode::INTERNAL_SERVER_ERROR,
        pages::notice(
            "Something went wrong",
            "This journey cannot continue because of a problem on our side. We are sorry. If you still need help, start again from the link you were first given.",
        ),
    )
}

/// Where a form goes after it is handled: back to the journey link, marked as within
/// the flow when plain links would open the first page.
fn continue_url(app: &App, state: &SessionState, token: &str) -> String {
    let first_page = app
        .engine
        .journey_of(state)
        .is_ok_and(|j| j.link_lands_on == LandsOn::FirstPage);
    if first_page {
        format!("/j/{token}?continue")
    } else {
        format!("/j/{token}")
    }
}

fn render_view(app: &Arc<App>, session: &str, token: &str, view: View, status: StatusCode) -> Resp {
    let model = match view {
        View::Page(model) => model,
        View::Nothing => {
            return html_page(
                StatusCode::OK,
                pages::notice("All set", "There is nothing more to do here right now."),
            )
        }
    };
    let action = format!("/j/{token}");
    let csrf = app.csrf_token(session);
    html_page(status, pages::page(&model, &action, &csrf))
}

async fn journey_link(app: &Arc<App>, token: &str, query: &str) -> Resp {
    let state = match session_for(app, token).await {
        Ok(found) => found,
        Err(r) => return r,
    };
    let within_flow = form_urlencoded::parse(query.as_bytes()).any(|(k, _)| k == "continue");
    match app.engine.view(&state, within_flow) {
        Ok(view) => render_view(app, &state.id, token, view, StatusCode::OK),
        Err(StoreError::Broken { session, problem }) => broken(app, session, problem).await,
        Err(e) => failed(app, "showing a page", &e),
    }
}

async fn journey_form(app: &Arc<App>, token: &str, req: Request<Incoming>) -> Resp {
    let body = match read_body(req.into_body()).await {
        Ok(b) => b,
        Err(r) => return r,
    };
    let state = match session_for(app, token).await {
        Ok(found) => found,
        Err(r) => return r,
    };
    let form = parse_form(&body);
    if !form_value(&form, "_csrf").is_some_and(|t| app.csrf_valid(&state.id, t)) {
        return html_page(
            StatusCode::FORBIDDEN,
            pages::notice(
                "This form has expired",
                "Please go back, reload the page and try again.",
            ),
        );
    }
    let back = continue_url(app, &state, token);
    // A form that does not say which page it was shown for is from no page of ours:
    // like an old tab, it just sees the current page.
    let Some(page) = form_value(&form, "_page").and_then(|p| {
        let (s, p) = p.split_once('.')?;
        Some((s.parse::<usize>().ok()?, p.parse::<usize>().ok()?))
    }) else {
        return redirect(&back);
    };
    let button = match form_value(&form, "_button") {
        Some(b) => match b.parse::<usize>() {
            Ok(i) => Some(i),
            Err(_) => return no_button(),
        },
        None => None,
    };
    let press = Press {
        page: Some(page),
        button,
        fields: form
            .into_iter()
            .filter(|(k, _)| !k.starts_with('_'))
            .collect(),
    };
    let session = state.id.clone();
    let pressed = blocking(app, move |e| e.submit(&state, press)).await;
    let outcome = match pressed {
        Ok(Ok(submission)) => submission.finish().await,
        Ok(Err(e)) => Err(e),
        Err(r) => return r,
    };
    match outcome {
        Ok(Submitted::Invalid(model)) => render_view(
            app,
            &session,
            token,
            View::Page(model),
            StatusCode::UNPROCESSABLE_ENTITY,
        ),
        Ok(Submitted::NoButton) => no_button(),
        // Moved on, stayed, ended, or a form from a page the session has left (an old
        // tab, or another event moved it on meanwhile): the journey link shows where
        // the session is now.
        Ok(
            Submitted::Moved { .. }
            | Submitted::Stayed { .. }
            | Submitted::Ended
            | Submitted::Stale,
        ) => redirect(&back),
        Err(StoreError::Broken { session, problem }) => broken(app, session, problem).await,
        Err(e) => failed(app, "running a form's actions", &e),
    }
}

fn no_button() -> Resp {
    text(
        StatusCode::BAD_REQUEST,
        "the form did not say which button was pressed\n",
    )
}

/// The URL Twilio called, as it signed it.
fn called_url(app: &App, req: &Request<Incoming>) -> String {
    let path_and_query = req
        .uri()
        .path_and_query()
        .map(|p| p.as_str())
        .unwrap_or("/");
    // The public URL, or else the listening address: never the request's `Host`,
    // which the client chooses, and with it the URL its signature is checked against.
    format!("{}{path_and_query}", app.base_url)
}

/// Reads a webhook's form and checks its signature: `Err` is the response to give.
async fn webhook_form(
    app: &Arc<App>,
    req: Request<Incoming>,
) -> Result<Vec<(String, String)>, Resp> {
    let url = called_url(app, &req);
    let signature = req
        .headers()
        .get("x-twilio-signature")
        .and_then(|h| h.to_str().ok())
        .map(str::to_string);
    let body = read_body(req.into_body()).await?;
    let form = parse_form(&body);
    if app.signatures_checked() {
        let Some(twilio) = &app.config.twilio else {
            return Err(text(
                StatusCode::FORBIDDEN,
                "webhooks need TWILIO_AUTH_TOKEN to check their signatures (or --preview)\n",
            ));
        };
        let valid = signature
            .as_deref()
            .is_some_and(|s| twilio::valid_signature(&twilio.auth_token, &url, &form, s));
        if !valid {
            app.log
                .warn("a webhook with a missing or invalid X-Twilio-Signature was refused");
            return Err(text(StatusCode::FORBIDDEN, "invalid X-Twilio-Signature\n"));
        }
    }
    Ok(form)
}

async fn twilio_sms(app: &Arc<App>, req: Request<Incoming>) -> Resp {
    let form = match webhook_form(app, req).await {
        Ok(f) => f,
        Err(r) => return r,
    };
    let (Some(sid), Some(from), Some(to)) = (
        form_value(&form, "MessageSid"),
        form_value(&form, "From"),
        form_value(&form, "To"),
    ) else {
        return text(
            StatusCode::BAD_REQUEST,
            "an SMS webhook needs MessageSid, From and To\n",
        );
    };
    let body = form_value(&form, "Body").unwrap_or("").to_string();
    let (sid, from, to) = (sid.to_string(), from.to_string(), to.to_string());
    match inbound_sms(app, sid, from, to, body).await {
        Ok(reply) => twiml(twilio::message_twiml(reply.as_deref())),
        Err(r) => r,
    }
}

/// An inbound text, processed once per message id; the reply to send, if any.
async fn inbound_sms(
    app: &Arc<App>,
    sid: String,
    from: String,
    to: String,
    body: String,
) -> Result<Option<String>, Resp> {
    let new_id = lazy_ids(app);
    let _turn = app.lanes.enter(&from).await;
    let outcome = once(app, sid, move |e, sid| {
        e.inbound_sms_once(Some(sid), &to, &from, &body, new_id)
    })
    .await?;
    match outcome {
        Ok(None) => {
            app.log
                .info("a repeated SMS webhook was answered without processing it again");
            Ok(None)
        }
        Ok(Some(Reply::Text(t))) => Ok(Some(t)),
        Ok(Some(Reply::None)) => Ok(None),
        Err(e) => Err(failed(app, "an inbound SMS", &e)),
    }
}

async fn twilio_voice(app: &Arc<App>, req: Request<Incoming>) -> Resp {
    let form = match webhook_form(app, req).await {
        Ok(f) => f,
        Err(r) => return r,
    };
    let (Some(sid), Some(to)) = (form_value(&form, "CallSid"), form_value(&form, "To")) else {
        return text(
            StatusCode::BAD_REQUEST,
            "a voice webhook needs CallSid and To\n",
        );
    };
    // A withheld number arrives as "anonymous", "Restricted", an empty string or a
    // made-up number: whatever is not a phone number is treated as unknown.
    let from = form_value(&form, "From").and_then(crate::literals::parse_phone);
    let (sid, to) = (sid.to_string(), to.to_string());
    let new_id = lazy_ids(app);
    let _turn = match &from {
        Some(phone) => Some(app.lanes.enter(phone).await),
        None => None,
    };
    let outcome = once(app, sid, move |e, sid| {
        e.inbound_call_once(Some(sid), &to, from.as_deref(), new_id)
    })
    .await;
    match outcome {
        Ok(Ok(Some(say))) => twiml(twilio::voice_twiml(&say)),
        Ok(Ok(None)) => twiml(twilio::voice_twiml(&[])),
        Ok(Err(e)) if e.is_conflict() => failed(app, "an inbound call", &e),
        Ok(Err(e)) => {
            app.log
                .warn(&format!("an inbound call was not handled: {e}"));
            twiml(twilio::voice_twiml(&[]))
        }
        Err(r) => r,
    }
}

async fn twilio_status(app: &Arc<App>, req: Request<Incoming>) -> Resp {
    let form = match webhook_form(app, req).await {
        Ok(f) => f,
        Err(r) => return r,
    };
    let (Some(sid), Some(status)) = (
        form_value(&form, "MessageSid"),
        form_value(&form, "MessageStatus"),
    ) else {
        return text(
            StatusCode::BAD_REQUEST,
            "a status callback needs MessageSid and MessageStatus\n",
        );
    };
    use crate::runtime::store::MessageStatus as M;
    let ours = match status {
        "accepted" | "queued" | "sending" | "sent" => M::Sent,
        "delivered" | "read" => M::Delivered,
        "undelivered" | "failed" => M::Failed,
        _ => return text(StatusCode::OK, ""),
    };
    let note = form_value(&form, "ErrorCode")
        .filter(|c| !c.is_empty())
        .map(|c| format!("Twilio error {c}: {status}"));
    let sid = sid.to_string();
    match blocking(app, move |e| {
        e.store().message_status_by_sid(&sid, ours, note.as_deref())
    })
    .await
    {
        Ok(Ok(_)) => text(StatusCode::OK, ""),
        Ok(Err(e)) => server_error(app, &format!("recording a status failed: {e}")),
        Err(r) => r,
    }
}

fn bearer_ok(app: &App, req: &Request<Incoming>) -> bool {
    let Some(expected) = &app.config.api_token else {
        return false;
    };
    // The scheme's name is case-insensitive (RFC 9110, section 11.1).
    let given = req
        .headers()
        .get(header::AUTHORIZATION)
        .and_then(|h| h.to_str().ok())
        .and_then(|h| h.split_once(' '))
        .filter(|(scheme, _)| scheme.eq_ignore_ascii_case("bearer"))
        .map_or("", |(_, token)| token.trim());
    // Comparing digests keeps the time independent of where the tokens differ.
    sha2::Sha256::digest(given.as_bytes()) == sha2::Sha256::digest(expected.as_bytes())
}

async fn api_start(app: &Arc<App>, journey: &str, req: Request<Incoming>) -> Resp {
    if !bearer_ok(app, &req) {
        let mut r = problem(
            StatusCode::UNAUTHORIZED,
            if app.config.api_token.is_some() {
                "a valid `Authorization: Bearer <JOURNEY_API_TOKEN>` header is required"
            } else {
                "the API is off: start the server with JOURNEY_API_TOKEN set"
            },
        );
        r.headers_mut()
            .insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
        return r;
    }
    let Some(j) = app.engine.journey(journey) else {
        return problem(
            StatusCode::NOT_FOUND,
            format!("no journey named `{journey}` is served here"),
        );
    };
    if !j
        .triggers
        .iter()
        .any(|t| matches!(t, ir::Trigger::Api { .. }))
    {
        return problem(
            StatusCode::NOT_FOUND,
            format!("`{journey}` has no `trigger api`"),
        );
    }
    let body = match read_json_body(req).await {
        Ok(b) => b,
        Err(r) => return r,
    };
    let input: serde_json::Value = match serde_json::from_slice(&body) {
        Ok(v) => v,
        Err(e) => {
            return problem(
                StatusCode::UNPROCESSABLE_ENTITY,
                format!("the body is not JSON: {e}"),
            )
        }
    };
    let Some(phone) = input.pointer("/actor/phone").and_then(|p| p.as_str()) else {
        return problem(
            StatusCode::UNPROCESSABLE_ENTITY,
            "`actor.phone` is required: {\"actor\": {\"phone\": \"+14155550123\"}}",
        );
    };
    let Some(phone) = crate::literals::parse_phone(phone) else {
        return problem(
            StatusCode::UNPROCESSABLE_ENTITY,
            format!("`actor.phone` is not a phone number: `{phone}`"),
        );
    };
    let mut actor = Vec::new();
    if let Some(fields) = input.get("actor").and_then(|a| a.as_object()) {
        for (field, v) in fields {
            if field == "phone" {
                continue;
            }
            let value = match input::actor_field(field, v) {
                Ok(value) => value,
                Err(ActorFieldError::Invalid) => {
                    return problem(
                        StatusCode::UNPROCESSABLE_ENTITY,
                        format!("`actor.{field}` is not valid: {v}"),
                    );
                }
                Err(ActorFieldError::Unknown) => {
                    return problem(
                        StatusCode::UNPROCESSABLE_ENTITY,
                        format!(
                            "the actor has no field `{field}` (it has phone, {})",
                            input::ACTOR_FIELDS.join(", ")
                        ),
                    );
                }
            };
            actor.push((field.clone(), value));
        }
    }
    let mut vars = Vec::new();
    match input.get("vars") {
        None | Some(serde_json::Value::Null) => {}
        Some(serde_json::Value::Object(fields)) => {
            for (name, v) in fields {
                let Some(var) = j.vars.iter().find(|var| &var.name == name) else {
                    return problem(
                        StatusCode::UNPROCESSABLE_ENTITY,
                        format!("`{journey}` has no variable `{name}`"),
                    );
                };
                match input::from_json(&var.ty, v) {
                    Ok(value) => vars.push((name.clone(), value)),
                    Err(e) => {
                        return problem(
                            StatusCode::UNPROCESSABLE_ENTITY,
                            format!("`vars.{name}`: {e}"),
                        )
                    }
                }
            }
        }
        Some(_) => return problem(StatusCode::UNPROCESSABLE_ENTITY, "`vars` must be an object"),
    }
    let name = journey.to_string();
    let ids = app.new_ids();
    let (id, hash, link) = (ids.id, ids.token_hash, ids.link);
    match queued(app, move |e| {
        e.start_queued(
            &name,
            Start::Api { phone, actor, vars },
            id,
            &hash,
            Some(link),
        )
    })
    .await
    {
        Ok(Ok(started)) => json_response(
            if started.existing {
                StatusCode::OK
            } else {
                StatusCode::CREATED
            },
            json!({
                "session": started.session.id,
                "journey_link": started.session.journey_link,
                "existing": started.existing,
            }),
        ),
        Ok(Err(StoreError::NotFound(why))) => problem(StatusCode::NOT_FOUND, why),
        Ok(Err(StoreError::Rejected(why))) => problem(StatusCode::CONFLICT, why),
        Ok(Err(e)) => failed(app, "the API trigger", &e),
        Err(r) => r,
    }
}

async fn api_journeys(app: &Arc<App>) -> Resp {
    let live = match blocking(app, |e| e.store().live_sessions_by_version()).await {
        Ok(Ok(live)) => live,
        Ok(Err(e)) => return server_error(app, &format!("counting sessions failed: {e}")),
        Err(r) => return r,
    };
    let base = &app.base_url;
    let list: Vec<serde_json::Value> = app
        .engine
        .journeys()
        .iter()
        .map(|j| {
            let links: Vec<String> = j
                .triggers
                .iter()
                .filter_map(|t| match t {
                    ir::Trigger::Link { slug } => Some(format!("{base}/start/{slug}")),
                    _ => None,
                })
                .collect();
            let api = j
                .triggers
                .iter()
                .any(|t| matches!(t, ir::Trigger::Api { .. }))
                .then(|| format!("{base}/api/v1/journeys/{}/sessions", j.name));
            let version = app
                .engine
                .deployed()
                .iter()
                .find(|d| d.journey == j.name)
                .map(|d| d.version);
            let versions: Vec<serde_json::Value> = app
                .engine
                .versions_of(&j.name)
                .into_iter()
                .map(|v| {
                    let sessions = live
                        .iter()
                        .find(|(name, version, _)| *name == j.name && *version == v)
                        .map_or(0, |l| l.2);
                    json!({"version": v, "live_sessions": sessions})
                })
                .collect();
            json!({
                "name": j.name,
                "starting_links": links,
                "api": api,
                "version": version,
                "fingerprint": j.fingerprint(),
                "versions": versions,
            })
        })
        .collect();
    json_response(StatusCode::OK, json!({ "journeys": list }))
}

async fn healthz(app: &Arc<App>) -> Resp {
    match blocking(app, |e| e.store().ping()).await {
        Ok(Ok(())) => text(StatusCode::OK, "ok\n"),
        Ok(Err(e)) => {
            app.log
                .warn(&format!("health check: the store does not answer: {e}"));
            text(
                StatusCode::SERVICE_UNAVAILABLE,
                "the store does not answer\n",
            )
        }
        Err(r) => r,
    }
}

/// `read_body` for a JSON API: its refusals are problem documents too, like the API's
/// other errors.
async fn read_json_body(req: Request<Incoming>) -> Result<Bytes, Resp> {
    match read_body(req.into_body()).await {
        Ok(b) => Ok(b),
        Err(r) => {
            let status = r.status();
            let detail = r.into_body().collect().await.map_or_else(
                |_| String::new(),
                |b| String::from_utf8_lossy(&b.to_bytes()).trim().to_string(),
            );
            Err(problem(status, detail))
        }
    }
}

async fn json_body(req: Request<Incoming>) -> Result<serde_json::Value, Resp> {
    let body = read_json_body(req).await?;
    serde_json::from_slice(&body).map_err(|e| {
        problem(
            StatusCode::UNPROCESSABLE_ENTITY,
            format!("the body is not JSON: {e}"),
        )
    })
}

/// The preview's API: what a simulated phone and a developer need.
async fn preview(app: &Arc<App>, rest: &[String], req: Request<Incoming>) -> Resp {
    let rest: Vec<&str> = rest.iter().map(String::as_str).collect();
    match (req.method().clone(), rest.as_slice()) {
        (Method::GET, ["outbox"]) => match blocking(app, |e| e.store().outbox(None)).await {
            Ok(Ok(messages)) => json_response(
                StatusCode::OK,
                json!({"messages": messages.iter().map(|m| json!({
                    "id": m.id,
                    "session": m.session_id,
                    "to": m.to,
                    "from": m.from,
                    "body": m.body,
                    "status": m.status.as_str(),
                    "note": m.note,
                    "sid": m.sid,
                    "created_at": m.created_at.to_rfc3339(),
                })).collect::<Vec<_>>()}),
            ),
            Ok(Err(e)) => server_error(app, &format!("reading the outbox failed: {e}")),
            Err(r) => r,
        },
        (Method::POST, ["sms"]) => {
            let body = match json_body(req).await {
                Ok(b) => b,
                Err(r) => return r,
            };
            let field = |k: &str| body.get(k).and_then(|v| v.as_str()).map(str::to_string);
            let (Some(from), Some(to), Some(text_body)) =
                (field("from"), field("to"), field("body"))
            else {
                return problem(
                    StatusCode::UNPROCESSABLE_ENTITY,
                    "expected {\"from\": \"+1...\", \"to\": \"+1...\", \"body\": \"...\"}",
                );
            };
            let (Some(from), Some(to)) = (
                crate::literals::parse_phone(&from),
                crate::literals::parse_phone(&to),
            ) else {
                return problem(
                    StatusCode::UNPROCESSABLE_ENTITY,
                    "`from` and `to` must be phone numbers",
                );
            };
            let sid = format!("SMpreview{}", random_b64(12));
            match inbound_sms(app, sid, from, to, text_body).await {
                Ok(reply) => json_response(StatusCode::OK, json!({ "reply": reply })),
                Err(r) => r,
            }
        }
        (Method::POST, ["clock", "advance"]) => {
            let Some(clock) = app.manual_clock.clone() else {
                return problem(StatusCode::CONFLICT, "this server runs on the real clock");
            };
            let body = match json_body(req).await {
                Ok(b) => b,
                Err(r) => return r,
            };
            let Some(seconds) = body
                .get("seconds")
                .and_then(|s| s.as_u64())
                .filter(|s| *s <= MAX_ADVANCE_SECS)
            else {
                return problem(StatusCode::UNPROCESSABLE_ENTITY, format!("expected {{\"seconds\": N}} with N a whole number from 0 to {MAX_ADVANCE_SECS}"));
            };
            match blocking(app, move |e| {
                e.advance(&clock, chrono::Duration::seconds(seconds as i64))
                    .map(|n| (n, e.now()))
            })
            .await
            {
                Ok(Ok((fired, now))) => json_response(
                    StatusCode::OK,
                    json!({"fired": fired, "now": now.to_rfc3339()}),
                ),
                Ok(Err(e)) => server_error(app, &format!("advancing the clock failed: {e}")),
                Err(r) => r,
            }
        }
        (Method::GET, ["sessions", id]) => {
            let id = id.to_string();
            match blocking(app, move |e| {
                Ok::<_, crate::runtime::store::StoreError>((
                    e.store().session(&id)?,
                    e.store().events(&id)?,
                ))
            })
            .await
            {
                Ok(Ok((Some(state), events))) => json_response(
                    StatusCode::OK,
                    json!({
                        "session": state,
                        "events": events.iter().map(|(at, text)| json!({"at": at.to_rfc3339(), "text": text})).collect::<Vec<_>>(),
                    }),
                ),
                Ok(Ok((None, _))) => problem(StatusCode::NOT_FOUND, "no such session"),
                Ok(Err(e)) => server_error(app, &format!("reading a session failed: {e}")),
                Err(r) => r,
            }
        }
        _ => problem(
            StatusCode::NOT_FOUND,
            "no such preview endpoint: GET outbox, POST sms, POST clock/advance, GET sessions/{id}",
        ),
    }
}

/// Stops a task group: the value is `true` once shutdown has begun.
pub type Stop = watch::Receiver<bool>;
