//! Twilio's webhooks: inbound texts, calls and message statuses, each checked against
//! its `X-Twilio-Signature` and processed once per provider id.

use std::sync::Arc;

use hyper::{Request, StatusCode};

use super::app::{lazy_ids, App};
use super::calls::{blocking, once, queued};
use super::http::*;
use super::twilio;
use crate::runtime::engine::{Pending, Reply};

/// The URL Twilio called, as it signed it.
pub(super) fn called_url(app: &App, req: &Request<impl RequestBody>) -> String {
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
pub(super) async fn webhook_form(
    app: &Arc<App>,
    req: Request<impl RequestBody>,
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

pub(super) async fn twilio_sms(app: &Arc<App>, req: Request<impl RequestBody>) -> Resp {
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
pub(super) async fn inbound_sms(
    app: &Arc<App>,
    sid: String,
    from: String,
    to: String,
    body: String,
) -> Result<Option<String>, Resp> {
    let _turn = app.lanes.enter(&from).await;
    let outcome = once(app, sid, |sid| {
        let (to, from, body) = (to.clone(), from.clone(), body.clone());
        async move {
            // Here when the text needs nothing more from the store on the way; on a
            // thread that may wait for it otherwise.
            let engine = &app.engine;
            let (s, t, f, b) = (sid.clone(), to.clone(), from.clone(), body.clone());
            match engine.inbound_sms_async(s, t, f, b, lazy_ids(app)).await {
                Ok(Some(pending)) => Ok(pending.finish().await),
                Ok(None) => {
                    let ids = app.clone();
                    queued(app, move |e| {
                        e.inbound_sms_once(Some(&sid), &to, &from, &body, lazy_ids(&ids))
                    })
                    .await
                }
                Err(e) => Ok(Err(e)),
            }
        }
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

pub(super) async fn twilio_voice(app: &Arc<App>, req: Request<impl RequestBody>) -> Resp {
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
    let from = form_value(&form, "From").and_then(crate::runtime::input::phone);
    match inbound_call(app, sid.to_string(), from, to.to_string()).await {
        Ok(say) => twiml(twilio::voice_twiml(&say)),
        Err(r) => r,
    }
}

/// A call to `to` from `from` (`None`: withheld), processed once per provider id
/// `sid`, in the caller's turn; gives what to say. A call no journey answers says
/// nothing (logged); a session that kept changing is an error to answer with.
pub(super) async fn inbound_call(
    app: &Arc<App>,
    sid: String,
    from: Option<String>,
    to: String,
) -> Result<Vec<String>, Resp> {
    let ids = app.clone();
    let _turn = match &from {
        Some(phone) => Some(app.lanes.enter(phone).await),
        None => None,
    };
    let outcome = once(app, sid, |sid| {
        let (ids, to, from) = (ids.clone(), to.clone(), from.clone());
        queued(app, move |e| {
            if e.delivery_seen(&sid)? {
                return Ok(Pending::ready(None));
            }
            e.inbound_call_once(Some(&sid), &to, from.as_deref(), lazy_ids(&ids))
                .map(|p| p.map(Some))
        })
    })
    .await?;
    match outcome {
        Ok(Some(say)) => Ok(say),
        Ok(None) => Ok(Vec::new()),
        Err(e) if e.is_conflict() => Err(failed(app, "an inbound call", &e)),
        Err(e) => {
            app.log
                .warn(&format!("an inbound call was not handled: {e}"));
            Ok(Vec::new())
        }
    }
}

pub(super) async fn twilio_status(app: &Arc<App>, req: Request<impl RequestBody>) -> Resp {
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
    match blocking(app, move |e| e.message_status(&sid, ours, note.as_deref())).await {
        Ok(Ok(_)) => text(StatusCode::OK, ""),
        Ok(Err(e)) => server_error(app, &format!("recording a status failed: {e}")),
        Err(r) => r,
    }
}
