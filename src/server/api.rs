//! The API: `POST /api/v1/journeys/{journey}/sessions` (the API trigger, behind a
//! bearer token) and `GET /api/v1/journeys` (what is deployed and live).

use std::sync::Arc;

use hyper::header::{self, HeaderValue};
use hyper::{Request, StatusCode};
use serde_json::json;
use sha2::Digest;

use super::app::App;
use super::calls::{blocking, queued};
use super::http::*;
use crate::ir;
use crate::runtime::engine::Start;
use crate::runtime::input::{self, ActorFieldError};
use crate::runtime::store::StoreError;

pub(super) fn bearer_ok(app: &App, req: &Request<impl RequestBody>) -> bool {
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

pub(super) async fn api_start(
    app: &Arc<App>,
    journey: &str,
    req: Request<impl RequestBody>,
) -> Resp {
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
    let Some(phone) = input::phone(phone) else {
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

pub(super) async fn api_journeys(app: &Arc<App>) -> Resp {
    let live = match blocking(app, |e| e.live_sessions_by_version()).await {
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
