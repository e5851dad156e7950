//! A session's state: what the interpreter reads and changes, and what a store keeps.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::value::Value;
use crate::ir;

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Status {
    Active,
    Ended,
    Expired,
    /// Its state did not fit its journey's version (a corrupted row, a version missing
    /// from the store): it was stopped, with the problem in its event log.
    Failed,
}

impl Status {
    /// The status as the stores keep it.
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Active => "active",
            Status::Ended => "ended",
            Status::Expired => "expired",
            Status::Failed => "failed",
        }
    }
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct SessionState {
    pub id: String,
    pub journey: String,
    pub status: Status,
    pub started_at: DateTime<Utc>,
    pub expires_at: DateTime<Utc>,
    /// How the session started: `link`, `sms`, `call`, `api` or `schedule`.
    pub trigger: String,
    /// One value per journey variable, in declaration order.
    pub vars: Vec<Value>,
    /// The actor's fields that have a value.
    pub actor: BTreeMap<String, Value>,
    pub actor_initialized: bool,
    pub step: usize,
    /// The page last shown, if any page was.
    pub page: Option<usize>,
    /// The latest inbound text and its sender, for `session.message` and `session.from`.
    pub message: Option<String>,
    pub from: Option<String>,
    /// The full journey link URL, when the server has one for this session. Never
    /// stored: the store keeps only its token's hash, and the engine derives the link
    /// again when it reads the session (see `links`).
    #[serde(skip)]
    pub journey_link: Option<String>,
    /// The link of a session started by a journeyc that stored links (before they were
    /// derived): kept as it was, since its token cannot be derived.
    #[serde(
        default,
        rename = "journey_link",
        skip_serializing_if = "Option::is_none"
    )]
    pub stored_link: Option<String>,
    /// The store's revision of this session when it was read (0 before it is first
    /// kept). A change based on it is written only if the session is still at this
    /// revision, and leaves it at the next one; the store keeps it beside the state.
    #[serde(skip)]
    pub revision: u64,
    /// The version of its journey the session runs (`Store::deploy`); 0 for a session
    /// from before versions were kept, which runs the first version deployed.
    #[serde(skip)]
    pub version: u32,
}

impl SessionState {
    /// The number a session started for, which it holds for its journey while it is
    /// active (the existing-session policy): its actor's phone when a text, a call or
    /// the API started it. Two active sessions of a journey never hold one number.
    pub fn started_for(&self) -> Option<&str> {
        match (self.trigger.as_str(), self.actor.get("phone")) {
            ("sms" | "call" | "api", Some(Value::Phone(p))) if self.actor_initialized => Some(p),
            _ => None,
        }
    }

    /// A new session, before its session-started event, with variables at their
    /// defaults (a default that fails to evaluate leaves the variable null).
    pub fn new(
        id: String,
        journey: &ir::Journey,
        trigger: &str,
        now: DateTime<Utc>,
    ) -> SessionState {
        let expires = i64::try_from(journey.expires_after_secs).unwrap_or(i64::MAX);
        let mut state = SessionState {
            id,
            journey: journey.name.clone(),
            status: Status::Active,
            started_at: now,
            expires_at: now + chrono::Duration::seconds(expires),
            trigger: trigger.to_string(),
            vars: vec![Value::Null; journey.vars.len()],
            actor: BTreeMap::new(),
            actor_initialized: false,
            step: 0,
            page: None,
            message: None,
            from: None,
            journey_link: None,
            stored_link: None,
            revision: 0,
            version: 0,
        };
        for (i, var) in journey.vars.iter().enumerate() {
            if let Some(default) = &var.default {
                let value = super::eval(default, &state.env(now)).unwrap_or(Value::Null);
                state.vars[i] = value;
            }
        }
        state
    }

    pub fn env(&self, now: DateTime<Utc>) -> StateEnv<'_> {
        StateEnv { state: self, now }
    }

    /// The status as people read it at `now`: an active session past its expiry is
    /// `expired` before the store has marked it so.
    pub fn status_at(&self, now: DateTime<Utc>) -> &'static str {
        match self.status {
            Status::Active if now >= self.expires_at => "expired",
            Status::Active => "active",
            Status::Ended => "ended",
            Status::Expired => "expired",
            Status::Failed => "failed",
        }
    }

    pub fn is_active(&self, now: DateTime<Utc>) -> bool {
        self.status == Status::Active && now < self.expires_at
    }
}

/// A session seen by expressions, at one instant.
pub struct StateEnv<'a> {
    state: &'a SessionState,
    now: DateTime<Utc>,
}

impl super::Env for StateEnv<'_> {
    fn var(&self, index: usize) -> Value {
        self.state.vars.get(index).cloned().unwrap_or(Value::Null)
    }

    fn actor(&self, field: &str) -> Value {
        self.state.actor.get(field).cloned().unwrap_or(Value::Null)
    }

    fn session(&self, field: &str) -> Value {
        let s = self.state;
        match field {
            "id" => Value::Text(s.id.clone()),
            "started_at" => Value::DateTime(s.started_at),
            "trigger" => Value::Text(s.trigger.clone()),
            "message" => s.message.clone().map_or(Value::Null, Value::Text),
            "from" => s.from.clone().map_or(Value::Null, Value::Phone),
            _ => Value::Null,
        }
    }

    fn journey_link(&self) -> Value {
        self.state
            .journey_link
            .clone()
            .map_or(Value::Null, Value::Text)
    }

    fn now(&self) -> DateTime<Utc> {
        self.now
    }
}
