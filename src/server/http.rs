//! HTTP on our side: responses (pages, text, JSON, RFC 9457 problems, TwiML,
//! redirects), what a failed engine call is answered with, and reading request bodies
//! within the limits, from any body type: hyper's over a socket, or a test's in process.

use bytes::Bytes;
use http_body_util::{BodyExt, Full, Limited};
use hyper::body::Body;
use hyper::header::{self, HeaderValue};
use hyper::{Request, Response, StatusCode};
use maud::Markup;
use serde_json::json;

use super::app::{App, MAX_BODY, READ_TIMEOUT};
use super::pages;
use crate::runtime::store::StoreError;

/// What a handler reads a request from: any body of bytes whose errors can be boxed.
pub trait RequestBody: Body<Data = Bytes, Error: Into<BoxError>> + Send + 'static {}

impl<B> RequestBody for B
where
    B: Body<Data = Bytes> + Send + 'static,
    B::Error: Into<BoxError>,
{
}

type BoxError = Box<dyn std::error::Error + Send + Sync>;

pub type Resp = Response<Full<Bytes>>;

pub(super) fn respond(
    status: StatusCode,
    content_type: &'static str,
    body: impl Into<Bytes>,
) -> Resp {
    let mut r = Response::new(Full::new(body.into()));
    *r.status_mut() = status;
    r.headers_mut()
        .insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    r
}

/// `r`, never stored by a cache nor read as another type than it says; an SVG that
/// is opened on its own runs nothing.
pub(super) fn private(mut r: Resp) -> Resp {
    let h = r.headers_mut();
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    h.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    let svg = h
        .get(header::CONTENT_TYPE)
        .is_some_and(|t| t.as_bytes().starts_with(b"image/svg+xml"));
    if svg {
        h.insert(
            header::CONTENT_SECURITY_POLICY,
            HeaderValue::from_static("default-src 'none'; style-src 'unsafe-inline'"),
        );
    }
    r
}

/// `r` with its `frame-ancestors` widened from none to this origin, for the preview's
/// studio, which shows journey pages in a frame.
pub(super) fn framable_by_self(mut r: Resp) -> Resp {
    let h = r.headers_mut();
    if let Some(csp) = h
        .get(header::CONTENT_SECURITY_POLICY)
        .and_then(|v| v.to_str().ok())
    {
        let widened = csp.replace("frame-ancestors 'none'", "frame-ancestors 'self'");
        if let Ok(v) = HeaderValue::from_str(&widened) {
            h.insert(header::CONTENT_SECURITY_POLICY, v);
        }
    }
    if h.contains_key(header::X_FRAME_OPTIONS) {
        h.insert(
            header::X_FRAME_OPTIONS,
            HeaderValue::from_static("SAMEORIGIN"),
        );
    }
    r
}

pub(super) fn html_page(status: StatusCode, markup: Markup) -> Resp {
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

pub(super) fn text(status: StatusCode, body: impl Into<String>) -> Resp {
    respond(status, "text/plain; charset=utf-8", body.into())
}

pub(super) fn json_response(status: StatusCode, value: serde_json::Value) -> Resp {
    respond(status, "application/json", value.to_string())
}

/// An RFC 9457 problem document.
pub(super) fn problem(status: StatusCode, detail: impl Into<String>) -> Resp {
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

pub(super) fn twiml(body: String) -> Resp {
    respond(StatusCode::OK, "text/xml; charset=utf-8", body)
}

pub(super) fn redirect(location: &str) -> Resp {
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
pub(super) fn failed(app: &App, what: &str, e: &StoreError) -> Resp {
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

pub(super) fn server_error(app: &App, what: &str) -> Resp {
    app.log.line("ERROR", what);
    text(
        StatusCode::INTERNAL_SERVER_ERROR,
        "Something went wrong on our side; please try again.\n",
    )
}

pub(super) fn not_found_page() -> Resp {
    html_page(
        StatusCode::NOT_FOUND,
        pages::notice(
            "Link not found",
            "This link is not valid. Check that it was copied completely.",
        ),
    )
}

pub(super) fn gone_page() -> Resp {
    html_page(
        StatusCode::GONE,
        pages::notice(
            "This link has expired",
            "This journey has ended, so its link no longer works. If you still need help, start again from the link you were first given.",
        ),
    )
}

/// Reads a request body, at most `MAX_BODY` bytes, within `READ_TIMEOUT`.
pub(super) async fn read_body(body: impl RequestBody) -> Result<Bytes, Resp> {
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

pub(super) fn parse_form(body: &[u8]) -> Vec<(String, String)> {
    form_urlencoded::parse(body).into_owned().collect()
}

pub(super) fn form_value<'a>(form: &'a [(String, String)], name: &str) -> Option<&'a str> {
    form.iter()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.as_str())
}

/// `read_body` for a JSON API: its refusals are problem documents too, like the API's
/// other errors.
pub(super) async fn read_json_body(req: Request<impl RequestBody>) -> Result<Bytes, Resp> {
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

pub(super) async fn json_body(req: Request<impl RequestBody>) -> Result<serde_json::Value, Resp> {
    let body = read_json_body(req).await?;
    serde_json::from_slice(&body).map_err(|e| {
        problem(
            StatusCode::UNPROCESSABLE_ENTITY,
            format!("the body is not JSON: {e}"),
        )
    })
}
