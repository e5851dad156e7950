//! `journeyc run`: checks the journeys, opens the store, and serves them until
//! Ctrl-C or SIGTERM.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use clap::{Args, ValueEnum};
use journeyc::ir;
use journeyc::runtime::clock::{Clock, ManualClock, SystemClock};
use journeyc::runtime::engine::Engine;
use journeyc::runtime::postgres::PgStore;
use journeyc::runtime::scheduler::Scheduler;
use journeyc::runtime::sqlite::SqliteStore;
use journeyc::runtime::store::Store;
use journeyc::server::{self, App, Config, TwilioConfig};

#[derive(Args)]
pub struct RunArgs {
    /// A .journey file, or a folder of them, to serve.
    path: PathBuf,
    /// Address and port to listen on.
    #[arg(long, env = "JOURNEYC_LISTEN", default_value = "127.0.0.1:8080")]
    listen: SocketAddr,
    /// Where sessions are kept: `sqlite:PATH` (a file; relative to the working
    /// folder), `sqlite::memory:` (nothing kept after exit), or
    /// `postgres://USER@HOST:PORT/DB` (shared by several replicas; needs
    /// JOURNEYC_LINK_KEY).
    #[arg(long, env = "JOURNEYC_DB", default_value = "sqlite:journey.db")]
    db: String,
    /// The address people and Twilio reach this server at, e.g.
    /// https://journeys.example.com; used in journey links and to check webhook
    /// signatures. Defaults to http:// and the listening address.
    #[arg(long, env = "JOURNEYC_PUBLIC_URL")]
    public_url: Option<String>,
    /// Preview mode: a manual clock moved by POST /_preview/api/clock/advance, the
    /// preview API, and (without Twilio credentials) no webhook signature checks.
    #[arg(long, env = "JOURNEYC_PREVIEW")]
    preview: bool,
    /// How to write log lines on standard error.
    #[arg(long, value_enum, env = "JOURNEYC_LOG_FORMAT", default_value_t = LogFormat::Human)]
    log_format: LogFormat,
    /// Messages per second from one sender number (a US long code sends about 1); 0
    /// lifts the limit.
    #[arg(long, env = "JOURNEYC_SMS_RATE", default_value_t = 1.0)]
    sms_rate: f64,
    /// Messages on their way to Twilio at once, at most.
    #[arg(long, env = "JOURNEYC_SMS_CONCURRENCY", default_value_t = 16)]
    sms_concurrency: usize,
    /// Seconds to wait for Twilio's answer to a message; after that it is recorded as
    /// `unknown` and reconciled with Twilio, never blindly resent.
    #[arg(long, env = "JOURNEYC_SMS_TIMEOUT", default_value_t = 15.0)]
    sms_timeout: f64,
}

#[derive(Clone, Copy, PartialEq, Eq, ValueEnum)]
enum LogFormat {
    Human,
    Json,
}

impl RunArgs {
    pub fn path(&self) -> &PathBuf {
        &self.path
    }
}

fn env(name: &str) -> Option<String> {
    std::env::var(name).ok().filter(|v| !v.trim().is_empty())
}

fn twilio_from_env() -> Result<Option<TwilioConfig>, String> {
    match (env("TWILIO_ACCOUNT_SID"), env("TWILIO_AUTH_TOKEN")) {
        (None, None) => Ok(None),
        (Some(sid), Some(token)) => {
            let valid = sid.len() == 34
                && sid.starts_with("AC")
                && sid[2..].bytes().all(|b| b.is_ascii_hexdigit());
            if !valid {
                return Err(
                    "TWILIO_ACCOUNT_SID must look like AC followed by 32 hex digits".into(),
                );
            }
            Ok(Some(TwilioConfig {
                account_sid: sid,
                auth_token: token,
                api_base: env("TWILIO_API_BASE").unwrap_or_else(|| "https://api.twilio.com".into()),
            }))
        }
        (Some(_), None) => Err("TWILIO_ACCOUNT_SID is set but TWILIO_AUTH_TOKEN is not".into()),
        (None, Some(_)) => Err("TWILIO_AUTH_TOKEN is set but TWILIO_ACCOUNT_SID is not".into()),
    }
}

fn is_postgres(db: &str) -> bool {
    db.starts_with("postgres://") || db.starts_with("postgresql://")
}

fn open_store(db: &str) -> Result<Box<dyn Store>, String> {
    if is_postgres(db) {
        return PgStore::open(db)
            .map(|s| Box::new(s) as Box<dyn Store>)
            .map_err(|e| e.to_string());
    }
    let Some(path) = db.strip_prefix("sqlite:") else {
        return Err(format!(
            "`--db {}` is not understood; use sqlite:PATH (e.g. sqlite:journey.db) or postgres://USER@HOST:PORT/DB",
            PgStore::redact_url(db)
        ));
    };
    let store = if path == ":memory:" {
        SqliteStore::in_memory()
    } else if path.is_empty() {
        return Err("`--db sqlite:` needs a file name, e.g. sqlite:journey.db".into());
    } else {
        SqliteStore::open(std::path::Path::new(path))
    };
    store
        .map(|s| Box::new(s) as Box<dyn Store>)
        .map_err(|e| e.to_string())
}

/// The key journey-link tokens are derived from: `JOURNEYC_LINK_KEY` if set, else the
/// file `PATH-key` beside a database file, made on first start (readable by its owner
/// only). It is kept out of the database so that a copy of the database, a backup
/// included, cannot open anyone's journey link. A database in memory gets a key for
/// this process.
fn link_key(db: &str) -> Result<Option<Vec<u8>>, String> {
    if let Some(key) = env("JOURNEYC_LINK_KEY") {
        if key.len() < 32 {
            return Err("JOURNEYC_LINK_KEY must be at least 32 characters".into());
        }
        return Ok(Some(key.into_bytes()));
    }
    // Replicas must derive the same tokens, and a database copy must not open links:
    // the key comes from the environment, the same on every replica.
    if is_postgres(db) {
        return Err("with PostgreSQL, set JOURNEYC_LINK_KEY (32 characters or more, the same on every replica): journey links must open on any replica".into());
    }
    let Some(path) = db.strip_prefix("sqlite:").filter(|p| *p != ":memory:") else {
        return Ok(None);
    };
    let file = std::path::PathBuf::from(format!("{path}-key"));
    match std::fs::read(&file) {
        Ok(key) if key.len() >= 32 => return Ok(Some(key)),
        Ok(_) => {
            return Err(format!(
                "`{}` is too short to be a journey-link key (32 bytes or more)",
                file.display()
            ))
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
        Err(e) => return Err(format!("cannot read `{}`: {e}", file.display())),
    }
    let mut key = vec![0u8; 32];
    getrandom::fill(&mut key).map_err(|e| format!("no randomness for a key: {e}"))?;
    use std::io::Write;
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    options
        .open(&file)
        .and_then(|mut f| f.write_all(&key).and_then(|()| f.sync_all()))
        .map_err(|e| {
            format!(
                "cannot write the journey-link key `{}`: {e}",
                file.display()
            )
        })?;
    Ok(Some(key))
}

fn check_public_url(url: &str) -> Result<String, String> {
    let trimmed = url.trim_end_matches('/');
    let rest = trimmed
        .strip_prefix("https://")
        .or_else(|| trimmed.strip_prefix("http://"))
        .ok_or_else(|| format!("--public-url `{url}` must start with https:// or http://"))?;
    if rest.is_empty() || rest.contains(['/', '?', '#', ' ']) {
        return Err(format!(
            "--public-url `{url}` must be a scheme and host only, like https://journeys.example.com"
        ));
    }
    Ok(trimmed.to_string())
}

pub fn run(args: RunArgs, journeys: Vec<ir::Journey>) -> ExitCode {
    let fail = |message: &str| {
        eprintln!("error: {message}");
        ExitCode::from(2)
    };
    if !(args.sms_rate.is_finite() && args.sms_rate >= 0.0) {
        return fail("--sms-rate must be a number of messages per second, 0 or more");
    }
    if !(args.sms_timeout.is_finite() && (0.1..=300.0).contains(&args.sms_timeout)) {
        return fail("--sms-timeout must be a number of seconds from 0.1 to 300");
    }
    let twilio = match twilio_from_env() {
        Ok(t) => t,
        Err(e) => return fail(&e),
    };
    let public_url = match args.public_url.as_deref().map(check_public_url).transpose() {
        Ok(u) => u,
        Err(e) => return fail(&e),
    };
    if journeys.is_empty() {
        return fail(&format!(
            "`{}` declares no journey to serve",
            args.path.display()
        ));
    }
    let store = match open_store(&args.db) {
        Ok(s) => s,
        Err(e) => {
            return fail(&format!(
                "cannot open the store `{}`: {e}",
                PgStore::redact_url(&args.db)
            ))
        }
    };
    let link_key = match link_key(&args.db) {
        Ok(k) => k,
        Err(e) => return fail(&e),
    };
    let manual = args.preview.then(|| ManualClock::new(chrono::Utc::now()));
    let clock: Arc<dyn Clock> = match &manual {
        Some(m) => Arc::new(m.clone()),
        None => Arc::new(SystemClock),
    };
    let engine = match Engine::open(journeys, store, clock) {
        Ok(e) => Arc::new(e),
        Err(e) => return fail(&format!("cannot deploy the journeys to the store: {e}")),
    };
    // The preview shows each session's event log: it should tell every step.
    engine.set_detailed_log(args.preview);
    let config = Config {
        public_url,
        preview: args.preview,
        twilio,
        api_token: env("JOURNEY_API_TOKEN"),
        sms_per_second: args.sms_rate,
        sms_concurrency: args.sms_concurrency.max(1),
        sms_timeout: Duration::from_secs_f64(args.sms_timeout),
        log_json: args.log_format == LogFormat::Json,
        link_key,
    };
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(r) => r,
        Err(e) => return fail(&format!("cannot start the async runtime: {e}")),
    };
    runtime.block_on(async move {
        let listener = match tokio::net::TcpListener::bind(args.listen).await {
            Ok(l) => l,
            Err(e) => return fail(&format!("cannot listen on {}: {e}", args.listen)),
        };
        let local = listener.local_addr().unwrap_or(args.listen);
        let app = match App::new(engine.clone(), config, manual, local) {
            Ok(a) => a,
            Err(e) => return fail(&e),
        };
        // Loading the phone-number metadata takes a moment: do it before the first
        // person types a number, not while they wait.
        let _ =
            tokio::task::spawn_blocking(|| journeyc::literals::parse_phone("(415) 555-0123")).await;
        banner(&app, local, &PgStore::redact_url(&args.db));
        for d in app.engine.deployed() {
            if d.upgraded > 0 {
                app.log().info(&format!(
                    "{}: {} live sessions moved to version {}",
                    d.journey, d.upgraded, d.version
                ));
            }
            for (reason, n) in &d.left {
                app.log().info(&format!(
                    "{}: {n} live sessions stayed on their version: {reason}",
                    d.journey
                ));
            }
        }
        // The preview's clock only moves when asked; the real one needs the scheduler.
        let scheduler = (!args.preview).then(|| Scheduler::start(engine.clone()));
        let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
        let sender = tokio::spawn(server::sender::run(app.clone(), stop_rx));
        let log = app.log().clone();
        server::serve(app, listener, shutdown_signal()).await;
        log.info("shutting down: no new requests; finishing messages in flight");
        let _ = stop_tx.send(true);
        let _ = tokio::time::timeout(Duration::from_secs(20), sender).await;
        if let Some(s) = scheduler {
            tokio::task::spawn_blocking(move || s.stop()).await.ok();
        }
        log.info("stopped");
        log.flush();
        ExitCode::SUCCESS
    })
}

async fn shutdown_signal() {
    #[cfg(unix)]
    {
        let mut term =
            match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
                Ok(s) => s,
                Err(_) => {
                    let _ = tokio::signal::ctrl_c().await;
                    return;
                }
            };
        tokio::select! {
            _ = tokio::signal::ctrl_c() => {}
            _ = term.recv() => {}
        }
    }
    #[cfg(not(unix))]
    {
        let _ = tokio::signal::ctrl_c().await;
    }
}

/// What a person needs to start: where it listens, how SMS go out, the starting
/// links and the webhook URLs for Twilio's console.
fn banner(app: &App, local: SocketAddr, db: &str) {
    let base = &app.base_url;
    let journeys = app.engine.journeys();
    let mut out = String::new();
    let plural = if journeys.len() == 1 { "" } else { "s" };
    out.push_str(&format!(
        "journeyc is serving {} journey{plural}\n",
        journeys.len()
    ));
    out.push_str(&format!("  listening  http://{local}\n"));
    out.push_str(&format!("  store      {db}\n"));
    let sms = match &app.config.twilio {
        Some(t) if t.api_base == "https://api.twilio.com" => format!("Twilio, account {}", t.account_sid),
        Some(t) => format!("Twilio API at {}, account {}", t.api_base, t.account_sid),
        None => "development console: each SMS is printed here and kept in the outbox (set TWILIO_ACCOUNT_SID and TWILIO_AUTH_TOKEN to send them)".into(),
    };
    out.push_str(&format!("  SMS        {sms}\n"));
    let webhooks = match (&app.config.twilio, app.config.preview) {
        (Some(_), _) => "X-Twilio-Signature checked against the public URL",
        (None, true) => "signature checks are OFF (preview without Twilio credentials)",
        (None, false) => "refused: checking signatures needs TWILIO_AUTH_TOKEN",
    };
    out.push_str(&format!("  webhooks   {webhooks}\n"));
    if app.config.preview {
        // The preview answers only on the listening address, never on a public URL.
        let here = format!("http://{local}");
        out.push_str(&format!(
            "  preview    manual clock; studio at {here}/_preview/ (API at {here}/_preview/api/)\n"
        ));
        if app.config.public_url.is_some() {
            out.push_str(
                "  note       the studio and its API answer only on the listening address, not on --public-url\n",
            );
        }
        if !local.ip().is_loopback() {
            out.push_str(&format!(
                "  WARNING    the preview listens on {local}, not only on this machine: anyone who reaches it can drive journeys and read their sessions\n"
            ));
        }
    }
    let links: Vec<String> = journeys
        .iter()
        .flat_map(|j| {
            j.triggers.iter().filter_map(move |t| match t {
                ir::Trigger::Link { slug } => {
                    Some(format!("  {:<28} {base}/start/{slug}\n", j.name))
                }
                _ => None,
            })
        })
        .collect();
    if !links.is_empty() {
        out.push_str("starting links\n");
        out.extend(links);
    }
    out.push_str("versions\n");
    for d in app.engine.deployed() {
        let what = if d.new { "new" } else { "unchanged" };
        let mut line = format!(
            "  {:<28} version {} ({what}, {})",
            d.journey,
            d.version,
            &d.fingerprint[..12]
        );
        if d.upgraded > 0 {
            line.push_str(&format!("; {} live sessions upgraded", d.upgraded));
        }
        if d.older_live > 0 {
            line.push_str(&format!(
                "; {} live sessions on older versions",
                d.older_live
            ));
        }
        out.push_str(&line);
        out.push('\n');
        for (reason, n) in &d.left {
            let plural = if *n == 1 { "" } else { "s" };
            out.push_str(&format!(
                "  {:<28}   {n} session{plural} stayed on its version: {reason}\n",
                ""
            ));
        }
    }
    out.push_str("webhooks to paste into Twilio's console\n");
    out.push_str(&format!(
        "  A message comes in           {base}/twilio/sms\n"
    ));
    out.push_str(&format!(
        "  A call comes in              {base}/twilio/voice\n"
    ));
    out.push_str(&format!(
        "  Status callbacks are sent to {base}/twilio/status\n"
    ));
    print!("{out}");
    use std::io::Write;
    let _ = std::io::stdout().flush();
}
