//! The preview API under `/_preview/api/`, served only with `--preview`: the manual
//! clock, the outbox, a session's state and log, and simulated inbound texts.

use std::sync::Arc;

use hyper::{Request, StatusCode};
use serde_json::json;

use super::app::{random_b64, App};
use super::calls::blocking;
use super::http::*;
use super::webhooks::inbound_sms;

/// Longest `clock/advance` in one call: a year.
pub(super) const MAX_ADVANCE_SECS: u64 = 366 * 86_400;

/// `GET /_preview/api/outbox`: every message, oldest first.
pub(super) async fn outbox(app: &Arc<App>) -> Resp {
    match blocking(app, |e| e.outbox()).await {
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
    }
}

/// `POST /_preview/api/sms`: a simulated text from a person, answered as Twilio would.
pub(super) async fn sms(app: &Arc<App>, req: Request<impl RequestBody>) -> Resp {
    let body = match json_body(req).await {
        Ok(b) => b,
        Err(r) => return r,
    };
    let field = |k: &str| body.get(k).and_then(|v| v.as_str()).map(str::to_string);
    let (Some(from), Some(to), Some(text_body)) = (field("from"), field("to"), field("body"))
    else {
        return problem(
            StatusCode::UNPROCESSABLE_ENTITY,
            "expected {\"from\": \"+1...\", \"to\": \"+1...\", \"body\": \"...\"}",
        );
    };
    let (Some(from), Some(to)) = (
        crate::runtime::input::phone(&from),
        crate::runtime::input::phone(&to),
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

/// `POST /_preview/api/clock/advance`: moves the manual clock, firing what comes due.
pub(super) async fn advance_clock(app: &Arc<App>, req: Request<impl RequestBody>) -> Resp {
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
        return problem(
            StatusCode::UNPROCESSABLE_ENTITY,
            format!(
                "expected {{\"seconds\": N}} with N a whole number from 0 to {MAX_ADVANCE_SECS}"
            ),
        );
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

/// `GET /_preview/api/sessions/{id}`: a session's state and its event log.
pub(super) async fn session(app: &Arc<App>, id: &str) -> Resp {
    let id = id.to_string();
    match blocking(app, move |e| {
        Ok::<_, crate::runtime::store::StoreError>((e.session(&id)?, e.events(&id)?))
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

/// Any other path under `/_preview/api/`.
pub(super) fn unknown() -> Resp {
    problem(
        StatusCode::NOT_FOUND,
        "no such preview endpoint: GET outbox, POST sms, POST clock/advance, GET sessions/{id}",
    )
}
