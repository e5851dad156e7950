//! What every handler shares: the configuration, the log, and `App` (the engine, the
//! metrics, the CSRF and journey-link keys, the lanes per phone number), with the ids
//! and tokens it makes.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use base64::Engine as _;
use chrono::Utc;
use hmac::{KeyInit, Mac};
use serde_json::json;
use sha2::Digest;
use tokio::sync::{watch, Notify};

use super::metrics::Metrics;
use crate::runtime::clock::ManualClock;
use crate::runtime::engine::{Engine, Listener};

/// Largest request body accepted, in bytes.
pub const MAX_BODY: usize = 64 * 1024;
/// A client has this long to send its request headers, and again its body.
pub const READ_TIMEOUT: Duration = Duration::from_secs(10);

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
    /// Where the socket is bound: the preview answers only to this address's names.
    pub listening: SocketAddr,
    /// Rung when the outbox has new messages.
    pub outbox_bell: Arc<Notify>,
    pub(super) csrf_key: Vec<u8>,
    pub(super) link_key: Arc<Vec<u8>>,
    pub(super) log: Log,
    /// Texts and calls from one number are handled one at a time, in arrival order.
    pub(super) lanes: crate::runtime::lanes::Lanes,
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
            listening,
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
    pub(super) fn signatures_checked(&self) -> bool {
        self.config.twilio.is_some() || !self.config.preview
    }

    /// The per-session form token: an HMAC of the session id under the store's secret.
    pub(super) fn csrf_token(&self, session_id: &str) -> String {
        let mut mac =
            hmac::Hmac::<sha2::Sha256>::new_from_slice(&self.csrf_key).expect("any key length");
        mac.update(session_id.as_bytes());
        b64(&mac.finalize().into_bytes())
    }

    pub(super) fn csrf_valid(&self, session_id: &str, given: &str) -> bool {
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
pub(super) fn lazy_ids(
    app: &Arc<App>,
) -> impl Fn() -> (String, Vec<u8>, Option<String>) + Send + 'static {
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

pub(super) fn b64(bytes: &[u8]) -> String {
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
}

/// `n` bytes from the operating system's generator, in URL-safe base64.
pub(super) fn random_b64(n: usize) -> String {
    let mut bytes = vec![0u8; n];
    getrandom::fill(&mut bytes).expect("the operating system has randomness");
    b64(&bytes)
}

/// What the store keeps instead of a journey-link token: its SHA-256.
pub fn token_hash(token: &str) -> Vec<u8> {
    sha2::Sha256::digest(token.as_bytes()).to_vec()
}

/// Stops a task group: the value is `true` once shutdown has begun.
pub type Stop = watch::Receiver<bool>;
