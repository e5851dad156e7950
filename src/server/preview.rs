//! The preview API under `/_preview/api/`, served only with `--preview`: the journeys
//! with their entries and graphs, every session with its variables, timers, messages
//! and event log, the manual clock, and simulated texts, calls and delivery statuses.
//! The studio page (`studio.rs`) is built on it; `openapi.json` describes it.
//!
//! A preview drives journeys for real (with Twilio credentials its texts go out), so
//! it answers only requests meant for it: its `Host` must name this server, an
//! `Origin` must be this server's, and a `POST` must carry JSON, which a page of
//! another site cannot send without a preflight this server never allows.

use std::sync::Arc;

use chrono::{DateTime, Utc};
use hyper::{header, Request, StatusCode};
use serde_json::{json, Value as Json};

use super::app::{random_b64, App};
use super::calls::blocking;
use super::http::*;
use super::webhooks::{inbound_call, inbound_sms};
use crate::ir;
use crate::runtime::session::SessionState;
use crate::runtime::store::{Message, MessageStatus, StoreError, Timer};

/// Longest `clock/advance` in one call: a year.
pub(super) const MAX_ADVANCE_SECS: u64 = 366 * 86_400;
/// Sessions listed at most, newest first.
const MAX_LISTED: usize = 200;

/// Every route of the preview API: method, path and what it does. `GET /_preview/api/`
/// lists these, and a test holds `openapi.json` to the same list.
pub(super) const ROUTES: &[(&str, &str, &str)] = &[
    ("GET", "/_preview/api/", "this index"),
    ("GET", "/_preview/api/openapi.json", "an OpenAPI 3.1 description of this API"),
    ("GET", "/_preview/api/journeys", "every journey: version, starting links, SMS and call numbers, schedules, steps and pages"),
    ("GET", "/_preview/api/journeys/{name}/graph.svg", "a journey's graph, as journeyc graph draws it"),
    ("GET", "/_preview/api/sessions", "every session, newest first: journey, version, status, actor, step and page, started, next timer, journey link"),
    ("GET", "/_preview/api/sessions/{id}", "a session: its state, variables by name and type, pending timers, messages and event log"),
    ("GET", "/_preview/api/outbox", "every message, oldest first"),
    ("POST", "/_preview/api/sms", "a simulated text from a person: {from, to, body}"),
    ("POST", "/_preview/api/call", "a simulated call: {to, from?}; what is said and what is texted"),
    ("POST", "/_preview/api/clock/advance", "moves the manual clock: {seconds}, {to: RFC 3339} or {next_timer: true}"),
    ("POST", "/_preview/api/messages/{id}/status", "a simulated delivery callback: {status, error_code?}"),
];

/// The `host:port` names a request may use for the preview: the listening address,
/// and, when it listens on loopback (or on every address, loopback included), the
/// loopback names with its port. Never `--public-url`'s: a tunnel made for Twilio's
/// webhooks must not open the preview to whoever has its address.
pub(super) fn own_hosts(app: &App) -> Vec<String> {
    let at = app.listening;
    let port = at.port();
    let mut hosts = vec![match at {
        std::net::SocketAddr::V4(a) => format!("{}:{port}", a.ip()),
        std::net::SocketAddr::V6(a) => format!("[{}]:{port}", a.ip()),
    }];
    if at.ip().is_loopback() || at.ip().is_unspecified() {
        for name in ["127.0.0.1", "localhost", "[::1]"] {
            let h = format!("{name}:{port}");
            if !hosts.contains(&h) {
                hosts.push(h);
            }
        }
    }
    hosts
}

/// The one value of header `name`, lower-cased: `Err` when it is sent twice or is not
/// text, which no browser or client of ours does.
fn one_header<B>(req: &Request<B>, name: header::HeaderName) -> Result<Option<String>, ()> {
    let mut values = req.headers().get_all(name).iter();
    let first = values.next();
    if values.next().is_some() {
        return Err(());
    }
    match first {
        None => Ok(None),
        Some(v) => v
            .to_str()
            .map(|t| Some(t.to_ascii_lowercase()))
            .map_err(|_| ()),
    }
}

/// Why a preview request is refused, if it is: a `Host` of another name (a DNS
/// rebinding), an `Origin` of another site, or a `POST` that is not JSON.
pub(super) fn refused<B>(app: &App, req: &Request<B>) -> Option<Resp> {
    let hosts = own_hosts(app);
    let deny = |why: &str| Some(problem(StatusCode::FORBIDDEN, why.to_string()));
    // The request target's authority, when it has one, is the host (RFC 9112 §3.2.2).
    let host = match (req.uri().authority(), one_header(req, header::HOST)) {
        (Some(a), _) => a.as_str().to_ascii_lowercase(),
        (None, Ok(Some(h))) => h,
        _ => return deny("the preview answers only requests that name its host once"),
    };
    if !hosts.contains(&host) {
        return deny(&format!(
            "the preview answers only to {}; this request named another host",
            hosts.join(", ")
        ));
    }
    match one_header(req, header::ORIGIN) {
        Ok(None) => {}
        Ok(Some(origin)) => {
            let own = origin
                .strip_prefix("http://")
                .is_some_and(|o| hosts.iter().any(|h| h == o));
            if !own {
                return deny("the preview does not answer requests from other sites");
            }
        }
        Err(()) => return deny("the preview does not answer requests from other sites"),
    }
    if req.method() == hyper::Method::POST {
        let json = one_header(req, header::CONTENT_TYPE).is_ok_and(|t| {
            t.is_some_and(|t| t.split(';').next().map(str::trim) == Some("application/json"))
        });
        if !json {
            return Some(problem(
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                "a preview POST carries JSON: Content-Type: application/json",
            ));
        }
    }
    None
}

/// In a preview, why a webhook is refused, if it is: one sent by a browser. Twilio
/// sends neither `Origin` nor `Sec-Fetch-Site`; a page of another site posting a form
/// to a preview without credentials (so without signature checks) sends both.
pub(super) fn webhook_from_a_browser<B>(req: &Request<B>) -> Option<Resp> {
    let fetched = req
        .headers()
        .get("sec-fetch-site")
        .is_some_and(|v| v.as_bytes() != b"none");
    (req.headers().contains_key(header::ORIGIN) || fetched).then(|| {
        problem(
            StatusCode::FORBIDDEN,
            "a webhook comes from Twilio, not from a web page",
        )
    })
}

/// `GET /_preview/api/`: the routes.
pub(super) fn index() -> Resp {
    let routes: Vec<Json> = ROUTES
        .iter()
        .map(|(method, path, what)| json!({"method": method, "path": path, "description": what}))
        .collect();
    json_response(
        StatusCode::OK,
        json!({"routes": routes, "openapi": "/_preview/api/openapi.json"}),
    )
}

/// `GET /_preview/api/openapi.json`.
pub(super) fn openapi() -> Resp {
    let mut paths = serde_json::Map::new();
    for (method, path, what) in ROUTES {
        let params: Vec<Json> = path
            .split('/')
            .filter_map(|s| s.strip_prefix('{')?.strip_suffix('}'))
            .map(|name| json!({"name": name, "in": "path", "required": true, "schema": {"type": "string"}}))
            .collect();
        let mut op = json!({
            "summary": what,
            "parameters": params,
            "responses": {
                "200": {"description": "done"},
                "403": {"description": "another host or site", "content": {"application/problem+json": {}}},
                "404": {"description": "no such thing", "content": {"application/problem+json": {}}},
                "409": {"description": "not now: the clock is real, nothing is due, or the message was never sent", "content": {"application/problem+json": {}}},
                "500": {"description": "the store failed", "content": {"application/problem+json": {}}},
                "503": {"description": "the store is unavailable; try again after Retry-After", "content": {"application/problem+json": {}}},
            },
        });
        if *method == "POST" {
            op["requestBody"] = json!({"required": true, "content": {"application/json": {"schema": {"type": "object"}}}});
            op["responses"]["415"] = json!({"description": "not JSON"});
            op["responses"]["422"] =
                json!({"description": "JSON that does not say what is needed"});
        }
        let kind = match *path {
            p if p.ends_with(".svg") => "image/svg+xml",
            "/_preview/" => "text/html",
            _ => "application/json",
        };
        op["responses"]["200"]["content"] = json!({ kind: {} });
        paths
            .entry(path.to_string())
            .or_insert_with(|| json!({}))
            .as_object_mut()
            .expect("an object")
            .insert(method.to_ascii_lowercase(), op);
    }
    json_response(
        StatusCode::OK,
        json!({
            "openapi": "3.1.0",
            "info": {"title": "journeyc preview API", "version": env!("CARGO_PKG_VERSION")},
            "paths": paths,
        }),
    )
}

fn message_json(m: &Message) -> Json {
    json!({
        "id": m.id,
        "session": m.session_id,
        "to": m.to,
        "from": m.from,
        "body": m.body,
        "status": m.status.as_str(),
        "note": m.note,
        "sid": m.sid,
        "created_at": m.created_at.to_rfc3339(),
    })
}

fn failed_reading(app: &App, what: &str, e: StoreError) -> Resp {
    match e {
        StoreError::NotFound(why) => problem(StatusCode::NOT_FOUND, why),
        e => server_error(app, &format!("{what} failed: {e}")),
    }
}

/// `GET /_preview/api/outbox`: every message, oldest first.
pub(super) async fn outbox(app: &Arc<App>) -> Resp {
    match blocking(app, |e| e.outbox()).await {
        Ok(Ok(messages)) => json_response(
            StatusCode::OK,
            json!({"messages": messages.iter().map(message_json).collect::<Vec<_>>()}),
        ),
        Ok(Err(e)) => failed_reading(app, "reading the outbox", e),
        Err(r) => r,
    }
}

/// `GET /_preview/api/journeys`.
pub(super) fn journeys(app: &Arc<App>) -> Resp {
    let e = &app.engine;
    let list: Vec<Json> = e
        .journeys()
        .iter()
        .map(|j| {
            let version = e
                .deployed()
                .iter()
                .find(|d| d.journey == j.name)
                .map(|d| d.version);
            let mut links = Vec::new();
            let (mut sms, mut calls, mut schedules, mut api) = (vec![], vec![], vec![], false);
            for t in &j.triggers {
                match t {
                    ir::Trigger::Link { slug } => links.push(json!({
                        "slug": slug,
                        "url": format!("{}/start/{slug}", app.base_url),
                    })),
                    ir::Trigger::Sms { to, .. } => sms.push(to.clone()),
                    ir::Trigger::Call { to, .. } => calls.push(to.clone()),
                    ir::Trigger::Api { .. } => api = true,
                    ir::Trigger::Schedule {
                        cron, time_zone, ..
                    } => schedules.push(json!({"cron": cron, "time_zone": time_zone})),
                }
            }
            json!({
                "name": j.name,
                "version": version,
                "time_zone": j.time_zone,
                "sms_from": j.sms_from,
                "starting_links": links,
                "sms_numbers": sms,
                "call_numbers": calls,
                "api": api,
                "schedules": schedules,
                "steps": j.steps.iter().map(|s| json!({
                    "name": s.name,
                    "pages": s.pages.iter().map(|p| &p.name).collect::<Vec<_>>(),
                })).collect::<Vec<_>>(),
            })
        })
        .collect();
    json_response(
        StatusCode::OK,
        json!({"now": e.now().to_rfc3339(), "journeys": list}),
    )
}

/// `GET /_preview/api/journeys/{name}/graph.svg`.
pub(super) fn graph(app: &Arc<App>, name: &str) -> Resp {
    let Some(j) = app.engine.journey(name) else {
        return problem(StatusCode::NOT_FOUND, format!("no journey `{name}`"));
    };
    let svg = crate::graph::render(&[j], crate::graph::Format::Svg, None);
    respond(StatusCode::OK, "image/svg+xml; charset=utf-8", svg)
}

/// A session's step and page by name, in its own version of its journey.
/// A session that has shown no page yet is on its step's first, as its link shows.
fn place(j: Option<&ir::Journey>, s: &SessionState) -> (Option<String>, Option<String>) {
    let step = j.and_then(|j| j.steps.get(s.step));
    (
        step.map(|st| st.name.clone()),
        step.and_then(|st| st.pages.get(s.page.unwrap_or(0)))
            .map(|p| p.name.clone()),
    )
}

/// The actor's fields as plain JSON values, as the API takes them.
fn actor_json(s: &SessionState) -> Json {
    Json::Object(
        s.actor
            .iter()
            .map(|(k, v)| (k.clone(), v.to_json()))
            .collect(),
    )
}

/// `GET /_preview/api/sessions`: every session, newest first.
pub(super) async fn sessions(app: &Arc<App>) -> Resp {
    let read = blocking(app, |e| {
        let sessions = e.recent_sessions(MAX_LISTED)?;
        let mut out = Vec::new();
        for s in sessions {
            let timers = e.timers(&s.id)?;
            out.push((s, timers.into_iter().next()));
        }
        Ok::<_, StoreError>((out, e.now()))
    })
    .await;
    let (sessions, now) = match read {
        Ok(Ok(v)) => v,
        Ok(Err(e)) => return failed_reading(app, "listing sessions", e),
        Err(r) => return r,
    };
    let e = &app.engine;
    let list: Vec<Json> = sessions
        .iter()
        .map(|(s, next)| {
            let (step, page) = place(e.journey_of(s).ok(), s);
            json!({
                "id": s.id,
                "journey": s.journey,
                "version": s.version,
                "status": s.status_at(now),
                "trigger": s.trigger,
                "actor": actor_json(s),
                "step": step,
                "page": page,
                "started_at": s.started_at.to_rfc3339(),
                "next_timer": next.as_ref().map(|t| json!({"key": t.key, "due": t.due.to_rfc3339()})),
                "link": s.journey_link,
            })
        })
        .collect();
    json_response(
        StatusCode::OK,
        json!({"now": now.to_rfc3339(), "sessions": list}),
    )
}

/// The calendar a timer with `key` is started on in `j`, if any: the store keeps the
/// due time the calendar gave, not the calendar.
fn calendar_of(j: Option<&ir::Journey>, key: &str) -> Option<String> {
    fn find(actions: &[ir::Action], key: &str) -> Option<usize> {
        actions.iter().find_map(|a| match a {
            ir::Action::StartTimer {
                key: k,
                calendar,
                actions,
                ..
            } => {
                if k == key {
                    calendar.as_ref().map(|c| c.calendar)
                } else {
                    find(actions, key)
                }
            }
            ir::Action::If {
                branches,
                otherwise,
            } => branches
                .iter()
                .find_map(|(_, b)| find(b, key))
                .or_else(|| find(otherwise, key)),
            _ => None,
        })
    }
    let j = j?;
    let mut chains: Vec<&[ir::Action]> = vec![&j.on_started];
    for t in &j.triggers {
        match t {
            ir::Trigger::Sms { actions, .. }
            | ir::Trigger::Call { actions, .. }
            | ir::Trigger::Api { actions }
            | ir::Trigger::Schedule { actions, .. } => chains.push(actions),
            ir::Trigger::Link { .. } => {}
        }
    }
    chains.extend(j.reply_handlers.iter().map(|h| h.actions.as_slice()));
    for step in &j.steps {
        chains.push(&step.on_enter);
        for page in &step.pages {
            for c in &page.controls {
                if let ir::Control::Button { actions, .. } = c {
                    chains.push(actions);
                }
            }
        }
    }
    let index = chains.into_iter().find_map(|c| find(c, key))?;
    j.calendars.get(index).map(|c| c.name.clone())
}

/// What a pending timer does, in words, for a person reading the preview.
fn fires(j: Option<&ir::Journey>, t: &Timer) -> Vec<String> {
    let mut out = Vec::new();
    describe(j, &t.actions, &mut out);
    out
}

fn describe(j: Option<&ir::Journey>, actions: &[ir::Action], out: &mut Vec<String>) {
    for a in actions {
        match a {
            ir::Action::SendSms { notification } => out.push(format!(
                "send sms {}",
                j.and_then(|j| j.notifications.get(*notification))
                    .map_or("?", |n| n.name.as_str())
            )),
            ir::Action::StartTimer { key, .. } => out.push(format!("start timer \"{key}\"")),
            ir::Action::StopTimer { key } => out.push(format!("stop timer \"{key}\"")),
            ir::Action::GoToPage { step, page } => out.push(format!(
                "go to page {}",
                j.and_then(|j| j.steps.get(*step)?.pages.get(*page))
                    .map_or("?", |p| p.name.as_str())
            )),
            ir::Action::GoToStep { step } => out.push(format!(
                "go to step {}",
                j.and_then(|j| j.steps.get(*step))
                    .map_or("?", |s| s.name.as_str())
            )),
            ir::Action::If {
                branches,
                otherwise,
            } => {
                for (_, chain) in branches {
                    describe(j, chain, out);
                }
                describe(j, otherwise, out);
            }
            ir::Action::EndSession => out.push("end session".into()),
            ir::Action::Set { .. } => out.push("set a value".into()),
            ir::Action::InitializeActor => out.push("initialize actor".into()),
            ir::Action::ExtendSession { .. } => out.push("extend session".into()),
            ir::Action::Say { .. } => out.push("say".into()),
        }
    }
}

/// `GET /_preview/api/sessions/{id}`: a session's state and all that is known of it.
pub(super) async fn session(app: &Arc<App>, id: &str) -> Resp {
    let id = id.to_string();
    let read = blocking(app, move |e| {
        let Some(state) = e.session(&id)? else {
            return Err(StoreError::NotFound(format!("no session `{id}`")));
        };
        Ok::<_, StoreError>((
            e.timers(&id)?,
            e.messages(&id)?,
            e.events(&id)?,
            e.now(),
            state,
        ))
    })
    .await;
    let (timers, messages, events, now, state) = match read {
        Ok(Ok(v)) => v,
        Ok(Err(e)) => return failed_reading(app, "reading a session", e),
        Err(r) => return r,
    };
    let j = app.engine.journey_of(&state).ok();
    let (step, page) = place(j, &state);
    let variables: Vec<Json> = j
        .map(|j| {
            j.vars
                .iter()
                .zip(&state.vars)
                .map(|(v, value)| {
                    json!({"name": v.name, "type": v.ty.to_string(), "value": value.to_json()})
                })
                .collect()
        })
        .unwrap_or_default();
    let zone = match state.actor.get("time_zone") {
        Some(crate::runtime::Value::Text(z)) => Some(z.clone()),
        _ => j.and_then(|j| j.time_zone.clone()),
    };
    json_response(
        StatusCode::OK,
        json!({
            "now": now.to_rfc3339(),
            "session": state,
            "journey": state.journey,
            "version": state.version,
            "status": state.status_at(now),
            "step": step,
            "page": page,
            "link": state.journey_link,
            "time_zone": zone,
            "actor": actor_json(&state),
            "variables": variables,
            "timers": timers.iter().map(|t| json!({
                "key": t.key,
                "due": t.due.to_rfc3339(),
                "calendar": calendar_of(j, &t.key),
                "fires": fires(j, t),
            })).collect::<Vec<_>>(),
            "messages": messages.iter().map(message_json).collect::<Vec<_>>(),
            "conversation": conversation(&events),
            "events": events.iter().map(|(at, text)| json!({"at": at.to_rfc3339(), "text": text})).collect::<Vec<_>>(),
        }),
    )
}

/// The person's side of the conversation and what was answered at once, from the
/// session's log (the lines the engine writes for them): texts they sent, calls they
/// made, words said on a call, and HELP's answer.
fn conversation(events: &[(DateTime<Utc>, String)]) -> Vec<Json> {
    events
        .iter()
        .filter_map(|(at, line)| {
            let at = at.to_rfc3339();
            if let Some((from, body)) = line
                .strip_prefix("text from ")
                .and_then(|r| r.split_once(": "))
            {
                Some(json!({"at": at, "kind": "text", "from": from, "body": body}))
            } else if let Some(from) = line.strip_prefix("call from ") {
                Some(json!({"at": at, "kind": "call", "from": from}))
            } else if let Some(words) = line.strip_prefix("said: ") {
                Some(json!({"at": at, "kind": "said", "body": words}))
            } else {
                line.strip_prefix("answered: ")
                    .map(|a| json!({"at": at, "kind": "answer", "body": a}))
            }
        })
        .collect()
}

/// A phone number from a JSON field, or what is wrong with it.
fn phone_field(body: &Json, key: &str) -> Result<Option<String>, String> {
    match body.get(key) {
        None | Some(Json::Null) => Ok(None),
        Some(Json::String(s)) => crate::runtime::input::phone(s)
            .map(Some)
            .ok_or_else(|| format!("`{key}` must be a phone number")),
        Some(_) => Err(format!("`{key}` must be a phone number, as text")),
    }
}

/// `POST /_preview/api/sms`: a simulated text from a person, answered as Twilio would.
pub(super) async fn sms(app: &Arc<App>, req: Request<impl RequestBody>) -> Resp {
    let body = match json_body(req).await {
        Ok(b) => b,
        Err(r) => return r,
    };
    let text_body = body
        .get("body")
        .and_then(|v| v.as_str())
        .map(str::to_string);
    let (from, to) = match (phone_field(&body, "from"), phone_field(&body, "to")) {
        (Ok(f), Ok(t)) => (f, t),
        (Err(why), _) | (_, Err(why)) => return problem(StatusCode::UNPROCESSABLE_ENTITY, why),
    };
    let (Some(from), Some(to), Some(text_body)) = (from, to, text_body) else {
        return problem(
            StatusCode::UNPROCESSABLE_ENTITY,
            "expected {\"from\": \"+1...\", \"to\": \"+1...\", \"body\": \"...\"}",
        );
    };
    let sid = format!("SMpreview{}", random_b64(12));
    match inbound_sms(app, sid, from, to, text_body).await {
        Ok(reply) => json_response(StatusCode::OK, json!({ "reply": reply })),
        Err(r) => r,
    }
}

/// `POST /_preview/api/call`: a simulated call; what is said, and what is texted.
pub(super) async fn call(app: &Arc<App>, req: Request<impl RequestBody>) -> Resp {
    let body = match json_body(req).await {
        Ok(b) => b,
        Err(r) => return r,
    };
    let (from, to) = match (phone_field(&body, "from"), phone_field(&body, "to")) {
        (Ok(f), Ok(Some(t))) => (f, t),
        (Err(why), _) | (_, Err(why)) => return problem(StatusCode::UNPROCESSABLE_ENTITY, why),
        (_, Ok(None)) => {
            return problem(
                StatusCode::UNPROCESSABLE_ENTITY,
                "expected {\"to\": \"+1...\"} and, unless the number is withheld, \"from\"",
            )
        }
    };
    let answers = app.engine.journeys().iter().any(|j| {
        j.triggers
            .iter()
            .any(|t| matches!(t, ir::Trigger::Call { to: n, .. } if *n == to))
    });
    if !answers {
        return problem(
            StatusCode::NOT_FOUND,
            format!("no journey answers calls to {to}"),
        );
    }
    let before = match blocking(app, |e| e.outbox()).await {
        Ok(Ok(m)) => m.last().map_or(0, |m| m.id),
        Ok(Err(e)) => return failed_reading(app, "reading the outbox", e),
        Err(r) => return r,
    };
    let sid = format!("CApreview{}", random_b64(12));
    let caller = from.clone();
    let said = match inbound_call(app, sid, from, to).await {
        Ok(said) => said,
        Err(r) => return r,
    };
    let texted = match blocking(app, |e| e.outbox()).await {
        // What the call texted goes to the caller; others' texts may come meanwhile.
        Ok(Ok(m)) => m
            .into_iter()
            .filter(|m| m.id > before && caller.as_ref() == Some(&m.to))
            .collect::<Vec<_>>(),
        Ok(Err(e)) => return failed_reading(app, "reading the outbox", e),
        Err(r) => return r,
    };
    json_response(
        StatusCode::OK,
        json!({"said": said, "texted": texted.iter().map(message_json).collect::<Vec<_>>()}),
    )
}

/// `POST /_preview/api/clock/advance`: moves the manual clock by `seconds`, to an
/// instant (`to`), or to the next timer or schedule (`next_timer`), firing what comes
/// due (expiries too), each at its own time.
pub(super) async fn advance_clock(app: &Arc<App>, req: Request<impl RequestBody>) -> Resp {
    let Some(clock) = app.manual_clock.clone() else {
        return problem(StatusCode::CONFLICT, "this server runs on the real clock");
    };
    let body = match json_body(req).await {
        Ok(b) => b,
        Err(r) => return r,
    };
    let now = app.engine.now();
    let target = if let Some(seconds) = body.get("seconds") {
        match seconds.as_u64().filter(|s| *s <= MAX_ADVANCE_SECS) {
            Some(s) => now + chrono::Duration::seconds(s as i64),
            None => {
                return problem(
                    StatusCode::UNPROCESSABLE_ENTITY,
                    format!("`seconds` is a whole number from 0 to {MAX_ADVANCE_SECS}"),
                )
            }
        }
    } else if let Some(to) = body.get("to") {
        let Some(at) = to
            .as_str()
            .and_then(|t| DateTime::parse_from_rfc3339(t).ok())
            .map(|t| t.with_timezone(&Utc))
        else {
            return problem(
                StatusCode::UNPROCESSABLE_ENTITY,
                "`to` is a date and time in RFC 3339, such as \"2026-12-07T09:00:00-05:00\"",
            );
        };
        if at < now || (at - now).num_seconds() as u64 > MAX_ADVANCE_SECS {
            return problem(
                StatusCode::UNPROCESSABLE_ENTITY,
                format!(
                    "`to` must be from now ({}) to a year from now: the clock only moves forward",
                    now.to_rfc3339()
                ),
            );
        }
        at
    } else if body.get("next_timer") == Some(&Json::Bool(true)) {
        match blocking(app, |e| e.next_timer_due()).await {
            Ok(Ok(Some(due))) if (due - now).num_seconds() > MAX_ADVANCE_SECS as i64 => {
                return problem(
                    StatusCode::UNPROCESSABLE_ENTITY,
                    format!(
                        "the next timer is due at {}, more than a year from now",
                        due.to_rfc3339()
                    ),
                )
            }
            Ok(Ok(Some(due))) => due.max(now),
            Ok(Ok(None)) => {
                return problem(
                    StatusCode::CONFLICT,
                    "nothing is due: no timer is pending and no schedule is set",
                )
            }
            Ok(Err(e)) => return failed_reading(app, "finding the next timer", e),
            Err(r) => return r,
        }
    } else {
        return problem(
            StatusCode::UNPROCESSABLE_ENTITY,
            "expected {\"seconds\": N}, {\"to\": \"RFC 3339\"} or {\"next_timer\": true}",
        );
    };
    match blocking(app, move |e| {
        e.advance(&clock, target - e.now()).map(|n| (n, e.now()))
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

/// `POST /_preview/api/messages/{id}/status`: a simulated delivery callback.
pub(super) async fn message_status(
    app: &Arc<App>,
    id: &str,
    req: Request<impl RequestBody>,
) -> Resp {
    let Ok(id) = id.parse::<i64>() else {
        return problem(StatusCode::NOT_FOUND, "no such message");
    };
    let body = match json_body(req).await {
        Ok(b) => b,
        Err(r) => return r,
    };
    // Twilio's callback statuses, as the status webhook reads them.
    let status = match body.get("status").and_then(|s| s.as_str()) {
        Some("sent") => MessageStatus::Sent,
        Some("delivered") => MessageStatus::Delivered,
        Some("undelivered" | "failed") => MessageStatus::Failed,
        _ => {
            return problem(
                StatusCode::UNPROCESSABLE_ENTITY,
                "expected {\"status\": \"sent\" | \"delivered\" | \"undelivered\" | \"failed\"} and an optional \"error_code\"",
            )
        }
    };
    let code = match body.get("error_code") {
        None | Some(Json::Null) => None,
        Some(Json::String(c))
            if !c.is_empty() && c.len() <= 8 && c.bytes().all(|b| b.is_ascii_digit()) =>
        {
            Some(c.clone())
        }
        Some(Json::Number(n)) if n.is_u64() => Some(n.to_string()),
        Some(_) => {
            return problem(
                StatusCode::UNPROCESSABLE_ENTITY,
                "`error_code` is Twilio's error code, such as \"30003\"",
            )
        }
    };
    let word = body["status"].as_str().unwrap_or_default().to_string();
    let note = code.map(|c| format!("Twilio error {c}: {word}"));
    match blocking(app, move |e| {
        e.message_status_by_id(id, status, note.as_deref())
    })
    .await
    {
        Ok(Ok(Some(now))) => {
            json_response(StatusCode::OK, json!({"id": id, "status": now.as_str()}))
        }
        Ok(Ok(None)) => problem(StatusCode::NOT_FOUND, "no such message"),
        Ok(Err(StoreError::Rejected(why))) => problem(StatusCode::CONFLICT, why),
        Ok(Err(e)) => failed_reading(app, "recording a status", e),
        Err(r) => r,
    }
}

/// Any other path under `/_preview/api/`.
pub(super) fn unknown() -> Resp {
    problem(
        StatusCode::NOT_FOUND,
        "no such preview endpoint: GET /_preview/api/ lists them",
    )
}
