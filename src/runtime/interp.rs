//! Runs action chains against a session. Pure: it changes the session's state and
//! returns the effects (messages, timers, speech, log lines) for the caller to keep
//! durably in the same transaction.

use chrono::{DateTime, Duration, Utc};

use super::calendar::Calendar;
use super::probe::{self, Heard};
use super::session::{SessionState, Status};
use super::value::Value;
use super::{eval, EvalError};
use crate::coverage::Item;
use crate::ir::{self, Action, NotificationPart, Place, TimerTime};
use crate::literals::parse_time_zone;

/// Something the runtime must do because an action ran.
#[derive(Clone, Debug, PartialEq)]
pub enum Effect {
    /// One SMS for the outbox; each part of a notification is its own message.
    Sms {
        to: String,
        from: String,
        body: String,
    },
    /// A durable timer; starting a key that exists replaces it.
    StartTimer {
        key: String,
        due: DateTime<Utc>,
        step: usize,
        skip_if_missed: bool,
        actions: Vec<Action>,
    },
    StopTimer {
        key: String,
    },
    /// Text to speak on the call being answered.
    Say(String),
    /// Cancel the pending timers started in steps before this one.
    LeftSteps {
        before: usize,
    },
    /// A line for the session's event log.
    Log(String),
    /// The pending timer with `key` now runs `actions` and belongs to `step`: a session
    /// moved to a new version of its journey takes that version's timer with its key.
    RewriteTimer {
        key: String,
        step: usize,
        actions: Vec<Action>,
    },
    /// The provider's id of the webhook that caused these effects, kept with them so
    /// that a second delivery of it fails as a whole.
    Delivery(String),
    /// A `go to` ran: the chain chose where the person goes. Only `run_tracked` sees
    /// it; no caller is given one.
    Moved,
}

/// Runs `actions` in order. An action that fails stops the chain; the failure is the
/// last log effect, and the effects of the actions before it stand.
pub fn run(
    journey: &ir::Journey,
    state: &mut SessionState,
    actions: &[Action],
    now: DateTime<Utc>,
) -> Vec<Effect> {
    run_tracked(journey, state, actions, now).0
}

/// `run`, and whether a `go to` ran: a button whose actions chose no page moves on to
/// the next one.
pub fn run_tracked(
    journey: &ir::Journey,
    state: &mut SessionState,
    actions: &[Action],
    now: DateTime<Utc>,
) -> (Vec<Effect>, bool) {
    run_probed(journey, state, actions, now, &probe::deaf)
}

/// `run_tracked`, telling `probe` which steps, pages and notifications the actions
/// reached.
pub fn run_probed(
    journey: &ir::Journey,
    state: &mut SessionState,
    actions: &[Action],
    now: DateTime<Utc>,
    probe: &dyn Fn(&str, &str, Heard),
) -> (Vec<Effect>, bool) {
    let mut effects = Vec::new();
    let mut cx = Chain {
        journey,
        now,
        probe,
        effects: &mut effects,
    };
    if let Err(e) = cx.run(state, actions) {
        effects.push(Effect::Log(format!("action failed: {e}")));
    }
    let moved = effects.iter().any(|e| matches!(e, Effect::Moved));
    effects.retain(|e| !matches!(e, Effect::Moved));
    (effects, moved)
}

/// What every action of one run shares.
struct Chain<'a> {
    journey: &'a ir::Journey,
    now: DateTime<Utc>,
    probe: &'a dyn Fn(&str, &str, Heard),
    effects: &'a mut Vec<Effect>,
}

impl Chain<'_> {
    fn heard(&self, state: &SessionState, heard: Heard) {
        (self.probe)(&self.journey.name, &state.id, heard);
    }

    fn run(&mut self, state: &mut SessionState, actions: &[Action]) -> Result<(), EvalError> {
        let (journey, now) = (self.journey, self.now);
        run_chain(self, journey, state, actions, now)
    }
}

fn run_chain(
    cx: &mut Chain<'_>,
    journey: &ir::Journey,
    state: &mut SessionState,
    actions: &[Action],
    now: DateTime<Utc>,
) -> Result<(), EvalError> {
    for action in actions {
        let effects = &mut *cx.effects;
        if state.status != Status::Active {
            break;
        }
        match action {
            Action::Set { target, value } => {
                let v = eval(value, &state.env(now))?;
                // JSON, which keeps the session, has no infinite numbers.
                if matches!(v, Value::Number(n) if !n.is_finite()) {
                    return Err(EvalError("the value is not a finite number".into()));
                }
                match target {
                    Place::Var(i) => {
                        *state
                            .vars
                            .get_mut(*i)
                            .ok_or_else(|| missing("variable", *i))? = v
                    }
                    Place::Actor(field) => {
                        state.actor.insert(field.clone(), v);
                    }
                }
            }
            Action::InitializeActor => match state.actor.get("phone") {
                Some(Value::Phone(_)) => state.actor_initialized = true,
                _ => {
                    return Err(EvalError(
                        "cannot initialize the actor: `actor.phone` is not set".into(),
                    ))
                }
            },
            Action::SendSms { notification } => {
                let n = journey
                    .notifications
                    .get(*notification)
                    .ok_or_else(|| missing("notification", *notification))?;
                let before = effects.len();
                send(journey, state, n, now, effects)?;
                let texts = effects.len() - before;
                cx.heard(
                    state,
                    Heard::Reached(Item::Notification {
                        index: *notification,
                    }),
                );
                cx.heard(
                    state,
                    Heard::Texts {
                        notification: n.name.clone(),
                        texts,
                    },
                );
            }
            Action::StartTimer {
                key,
                time,
                calendar,
                skip_if_missed,
                actions,
            } => {
                let due = match time {
                    TimerTime::After { duration } => match eval(duration, &state.env(now))? {
                        Value::Duration(secs) => later(now, secs)?,
                        other => {
                            return Err(EvalError(format!(
                                "timer `{key}`: `after` is {}, not a Duration",
                                other.ty()
                            )))
                        }
                    },
                    TimerTime::At { datetime } => match eval(datetime, &state.env(now))? {
                        Value::DateTime(t) => t,
                        other => {
                            return Err(EvalError(format!(
                                "timer `{key}`: `at` is {}, not a DateTime",
                                other.ty()
                            )))
                        }
                    },
                };
                let due = match calendar {
                    Some(c) => {
                        let cal = journey
                            .calendars
                            .get(c.calendar)
                            .ok_or_else(|| missing("calendar", c.calendar))?;
                        let mut calendar = Calendar::new(cal);
                        if let Some(zone) = &c.zone {
                            if let Some(tz) = zone_of(journey, state, zone, key, now, effects) {
                                calendar = calendar.in_zone(tz);
                            }
                        }
                        match calendar.resolve(due, c.if_unavailable) {
                            Some(t) => t,
                            None => {
                                effects.push(Effect::Log(format!(
                                    "timer `{key}` skipped: {} is closed then",
                                    cal.name
                                )));
                                continue;
                            }
                        }
                    }
                    None => due,
                };
                effects.push(Effect::StartTimer {
                    key: key.clone(),
                    due,
                    step: state.step,
                    skip_if_missed: *skip_if_missed,
                    actions: actions.clone(),
                });
            }
            Action::StopTimer { key } => effects.push(Effect::StopTimer { key: key.clone() }),
            Action::GoToPage { step, page } => {
                if journey
                    .steps
                    .get(*step)
                    .and_then(|s| s.pages.get(*page))
                    .is_none()
                {
                    return Err(missing("page", *page));
                }
                effects.push(Effect::Moved);
                if *step > state.step {
                    effects.push(Effect::LeftSteps { before: *step });
                }
                state.step = *step;
                state.page = Some(*page);
                // A page is reached when a person is shown it, which the front end knows.
                cx.heard(state, Heard::Reached(Item::Step { step: *step }));
            }
            Action::GoToStep { step } => {
                let to = journey
                    .steps
                    .get(*step)
                    .ok_or_else(|| missing("step", *step))?;
                effects.push(Effect::Moved);
                if *step > state.step {
                    effects.push(Effect::LeftSteps { before: *step });
                }
                state.step = *step;
                state.page = to.pages.first().map(|_| 0);
                cx.heard(state, Heard::Reached(Item::Step { step: *step }));
                let on_enter = to.on_enter.clone();
                run_chain(cx, journey, state, &on_enter, now)?;
            }
            Action::If {
                branches,
                otherwise,
            } => {
                let mut chosen = otherwise;
                for (condition, block) in branches {
                    if eval(condition, &state.env(now))?.is_true() {
                        chosen = block;
                        break;
                    }
                }
                run_chain(cx, journey, state, chosen, now)?;
            }
            Action::EndSession => {
                state.status = Status::Ended;
                effects.push(Effect::Log("session ended".into()));
            }
            Action::ExtendSession { by } => match eval(by, &state.env(now))? {
                Value::Duration(secs) => {
                    // Sessions last at most 90 days from now, however often they are extended.
                    let limit = now + Duration::seconds(ir::MAX_EXPIRY_SECS as i64);
                    state.expires_at = later(state.expires_at, secs)?.min(limit);
                }
                other => {
                    return Err(EvalError(format!(
                        "`extend session by` is {}, not a Duration",
                        other.ty()
                    )))
                }
            },
            Action::Say { text } => {
                effects.push(Effect::Say(eval(text, &state.env(now))?.display()))
            }
        }
    }
    Ok(())
}

/// The zone of `on CALENDAR in ZONE`: the zone the expression names, else the
/// journey's `time zone`; `None` leaves the calendar in its own. A name that is no
/// zone is logged, and does not stop the timer.
fn zone_of(
    journey: &ir::Journey,
    state: &SessionState,
    zone: &ir::Expr,
    key: &str,
    now: DateTime<Utc>,
    effects: &mut Vec<Effect>,
) -> Option<chrono_tz::Tz> {
    match eval(zone, &state.env(now)) {
        Ok(Value::Text(name)) => match parse_time_zone(&name) {
            Some(tz) => return Some(tz),
            None => effects.push(Effect::Log(format!(
                "timer `{key}`: `{name}` is not a time zone, so its calendar is read in the journey's or its own"
            ))),
        },
        Ok(_) => {}
        Err(e) => effects.push(Effect::Log(format!(
            "timer `{key}`: its calendar's zone could not be read: {e}"
        ))),
    }
    journey.time_zone.as_deref().and_then(parse_time_zone)
}

/// `t` moved by `secs` seconds, or an error past the calendar's range.
fn later(t: DateTime<Utc>, secs: i64) -> Result<DateTime<Utc>, EvalError> {
    Duration::try_seconds(secs)
        .and_then(|d| t.checked_add_signed(d))
        .ok_or_else(|| EvalError(format!("{secs} seconds from now is out of range")))
}

/// An index in stored actions (a timer's, kept from another version) that this
/// version of the journey does not have.
fn missing(what: &str, index: usize) -> EvalError {
    EvalError(format!(
        "this version of the journey has no {what} number {}",
        index + 1
    ))
}

fn send(
    journey: &ir::Journey,
    state: &SessionState,
    n: &ir::Notification,
    now: DateTime<Utc>,
    effects: &mut Vec<Effect>,
) -> Result<(), EvalError> {
    let (Some(Value::Phone(to)), true) = (state.actor.get("phone"), state.actor_initialized) else {
        return Err(EvalError(format!(
            "cannot send `{}`: the actor is not initialised",
            n.name
        )));
    };
    let Some(from) = &journey.sms_from else {
        return Err(EvalError(format!(
            "cannot send `{}`: the journey has no sender number",
            n.name
        )));
    };
    for part in &n.parts {
        let body = match part {
            NotificationPart::Text { text } => eval(text, &state.env(now))?.display(),
            NotificationPart::JourneyLink => state.journey_link.clone().unwrap_or_default(),
            NotificationPart::Link { url } => eval(url, &state.env(now))?.display(),
        };
        if body.trim().is_empty() {
            continue;
        }
        effects.push(Effect::Sms {
            to: to.clone(),
            from: from.clone(),
            body,
        });
    }
    Ok(())
}
