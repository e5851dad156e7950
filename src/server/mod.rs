//! `journeyc run`: the HTTP server around the engine. It hands out starting links and
//! journey links, renders pages, takes Twilio's webhooks and the API trigger, and runs
//! the sender that drains the outbox.
//!
//! The engine and its store are synchronous; every call into them runs on tokio's
//! blocking pool, so a slow fsync never stalls the threads that answer requests.

mod api;
mod app;
mod calls;
mod health;
mod http;
mod links;
pub mod metrics;
pub mod pages;
mod preview;
pub mod sender;
mod studio;
pub mod twilio;
mod webhooks;

use std::convert::Infallible;
use std::future::Future;
use std::sync::Arc;
use std::time::{Duration, Instant};

use hyper::{Method, Request, StatusCode};
use hyper_util::rt::{TokioIo, TokioTimer};
use tokio::net::TcpListener;

pub use app::{install_crypto, token_hash, App, Config, Log, NewIds, Stop, TwilioConfig};
pub use app::{MAX_BODY, READ_TIMEOUT};
use http::text;
pub use http::{RequestBody, Resp};

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
/// Answers one request. Generic over the body, so a test can call it in process with
/// a body of its own as well as over a socket. This `match` is the one table of routes.
pub async fn handle(app: Arc<App>, req: Request<impl RequestBody>) -> Resp {
    let started = Instant::now();
    let method = req.method().clone();
    let path = req.uri().path().to_string();
    let segments: Vec<&str> = path.trim_start_matches('/').split('/').collect();
    // The preview answers only requests meant for it (see `preview::refused`).
    let guarded = app.config.preview && segments.first() == Some(&"_preview");
    // And in a preview, a webhook (unsigned without credentials) must not come from a
    // web page.
    let webhook = app.config.preview && segments.first() == Some(&"twilio");
    let refusal = if guarded {
        preview::refused(&app, &req)
    } else if webhook {
        preview::webhook_from_a_browser(&req)
    } else {
        None
    };
    if let Some(refusal) = refusal {
        app.metrics.request("preview");
        app.log.info(&format!(
            "{method} preview {} refused",
            refusal.status().as_u16()
        ));
        return refusal;
    }
    let (route, response) = match (&method, segments.as_slice()) {
        (&Method::GET, ["start", slug]) => ("start", links::start_link(&app, slug).await),
        // A link checker or a preview bot asks HEAD: it learns the link works, and no
        // session starts.
        (&Method::HEAD, ["start", slug]) => ("start", links::start_link_head(&app, slug)),
        (&Method::GET | &Method::HEAD, ["j", token]) => {
            let query = req.uri().query().unwrap_or("").to_string();
            // Only a GET shows the page to somebody; a HEAD is a link checker.
            let shown = method == Method::GET;
            (
                "journey_link",
                links::journey_link(&app, token, &query, shown).await,
            )
        }
        (&Method::POST, ["j", token]) => {
            let token = token.to_string();
            ("journey_form", links::journey_form(&app, &token, req).await)
        }
        (&Method::POST, ["twilio", "sms"]) => ("twilio_sms", webhooks::twilio_sms(&app, req).await),
        (&Method::POST, ["twilio", "voice"]) => {
            ("twilio_voice", webhooks::twilio_voice(&app, req).await)
        }
        (&Method::POST, ["twilio", "status"]) => {
            ("twilio_status", webhooks::twilio_status(&app, req).await)
        }
        (&Method::POST, ["api", "v1", "journeys", journey, "sessions"]) => {
            let journey = journey.to_string();
            ("api_sessions", api::api_start(&app, &journey, req).await)
        }
        // HEAD works wherever GET does; hyper sends the headers without the body.
        (&Method::GET | &Method::HEAD, ["api", "v1", "journeys"]) => {
            ("api_journeys", api::api_journeys(&app).await)
        }
        (&Method::GET | &Method::HEAD, ["healthz"]) => ("healthz", health::healthz(&app).await),
        (&Method::GET | &Method::HEAD, ["metrics"]) => ("metrics", health::metrics(&app)),
        // The preview's routes exist only with `--preview`; otherwise they are not found.
        (&Method::GET | &Method::HEAD, ["_preview", "api", ""]) if app.config.preview => {
            ("preview", preview::index())
        }
        (&Method::GET | &Method::HEAD, ["_preview", "api", "openapi.json"])
            if app.config.preview =>
        {
            ("preview", preview::openapi())
        }
        (&Method::GET | &Method::HEAD, ["_preview", "api", "journeys"]) if app.config.preview => {
            ("preview", preview::journeys(&app))
        }
        (&Method::GET | &Method::HEAD, ["_preview", "api", "journeys", name, "graph.svg"])
            if app.config.preview =>
        {
            ("preview", preview::graph(&app, name))
        }
        (&Method::GET | &Method::HEAD, ["_preview", "api", "outbox"]) if app.config.preview => {
            ("preview", preview::outbox(&app).await)
        }
        (&Method::GET | &Method::HEAD, ["_preview", "api", "sessions"]) if app.config.preview => {
            ("preview", preview::sessions(&app).await)
        }
        (&Method::GET | &Method::HEAD, ["_preview", "api", "sessions", id])
            if app.config.preview =>
        {
            let id = id.to_string();
            ("preview", preview::session(&app, &id).await)
        }
        (&Method::POST, ["_preview", "api", "sms"]) if app.config.preview => {
            ("preview", preview::sms(&app, req).await)
        }
        (&Method::POST, ["_preview", "api", "call"]) if app.config.preview => {
            ("preview", preview::call(&app, req).await)
        }
        (&Method::POST, ["_preview", "api", "clock", "advance"]) if app.config.preview => {
            ("preview", preview::advance_clock(&app, req).await)
        }
        (&Method::POST, ["_preview", "api", "messages", id, "status"]) if app.config.preview => {
            let id = id.to_string();
            ("preview", preview::message_status(&app, &id, req).await)
        }
        (&Method::GET | &Method::HEAD, ["_preview", "api"]) if app.config.preview => {
            ("preview", http::redirect("/_preview/api/"))
        }
        (_, ["_preview", "api", ..]) if app.config.preview => ("preview", preview::unknown()),
        // The studio: a page over the preview API, with its script and style sheet.
        (&Method::GET | &Method::HEAD, ["_preview", ""]) if app.config.preview => {
            ("preview", studio::page())
        }
        (&Method::GET | &Method::HEAD, ["_preview"]) if app.config.preview => {
            ("preview", http::redirect("/_preview/"))
        }
        (&Method::GET | &Method::HEAD, ["_preview", "studio.js"]) if app.config.preview => {
            ("preview", studio::script())
        }
        (&Method::GET | &Method::HEAD, ["_preview", "studio.css"]) if app.config.preview => {
            ("preview", studio::style())
        }
        (_, ["start", _] | ["j", _] | ["healthz"] | ["metrics"]) => (
            "other",
            text(StatusCode::METHOD_NOT_ALLOWED, "method not allowed\n"),
        ),
        (_, ["twilio", "sms" | "voice" | "status"] | ["api", "v1", "journeys", ..]) => (
            "other",
            text(StatusCode::METHOD_NOT_ALLOWED, "method not allowed\n"),
        ),
        (&Method::GET | &Method::HEAD, [""]) => ("other", links::home(&app)),
        _ => ("not_found", text(StatusCode::NOT_FOUND, "not found\n")),
    };
    // In a preview the studio shows journey pages in a frame of its own; what the
    // preview answers (live journey links among it) is never cached nor sniffed.
    let response = if app.config.preview && route.starts_with("journey") {
        http::framable_by_self(response)
    } else if guarded {
        http::private(response)
    } else {
        response
    };
    app.metrics.request(route);
    app.log.info(&format!(
        "{method} {route} {} {:.1}ms",
        response.status().as_u16(),
        started.elapsed().as_secs_f64() * 1e3
    ));
    response
}
