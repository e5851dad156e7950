//! What a change's effects do to what is kept, written once for every store. A store
//! offers the primitives (`Ledger`), inside the transaction that saves the session;
//! the rules are here:
//!
//! - a text to a number that opted out, or the same text to the same number within
//!   30 minutes, is kept as suppressed, its links redacted, and never sent;
//! - starting a timer replaces the session's pending timer with that key;
//! - leaving steps cancels the timers started in them;
//! - a session that is no longer active leaves no timer pending.

use chrono::{DateTime, Duration, Utc};

use super::interp::Effect;
use super::session::{SessionState, Status};
use super::store::{MessageStatus, StoreError};
use crate::ir::Action;

/// The same text to the same number within this many seconds is suppressed.
pub const DUPLICATE_WINDOW_SECS: i64 = 30 * 60;

/// What the duplicate rule compares: the text's SHA-256, as it was before any
/// redaction.
pub fn body_hash(body: &str) -> Vec<u8> {
    use sha2::Digest;
    sha2::Sha256::digest(body.as_bytes()).to_vec()
}

/// A text for the outbox, as the rules decided to keep it.
pub struct Outgoing<'a> {
    pub to: &'a str,
    pub from: &'a str,
    /// Redacted when suppressed: a text never sent keeps no live link.
    pub body: &'a str,
    pub body_hash: &'a [u8],
    pub status: MessageStatus,
    pub note: Option<&'a str>,
}

/// A store's primitives inside one change's transaction, for one session at one
/// instant. They keep and read; they decide nothing.
pub trait Ledger {
    type Error;
    fn opted_out(&mut self, phone: &str) -> Result<bool, Self::Error>;
    /// Whether a text with this hash went, or is going, to `to` since `since`.
    fn sent_since(
        &mut self,
        to: &str,
        body_hash: &[u8],
        since: DateTime<Utc>,
    ) -> Result<bool, Self::Error>;
    /// For each text `(to, body_hash)`, in order, `opted_out(to)` and
    /// `sent_since(to, body_hash, since)` as kept before the change: a store that can
    /// answers them all in one read.
    fn checks(
        &mut self,
        texts: &[(&str, &[u8])],
        since: DateTime<Utc>,
    ) -> Result<Vec<(bool, bool)>, Self::Error> {
        texts
            .iter()
            .map(|(to, hash)| Ok((self.opted_out(to)?, self.sent_since(to, hash, since)?)))
            .collect()
    }
    fn queue(&mut self, text: Outgoing<'_>) -> Result<(), Self::Error>;
    fn log(&mut self, text: &str) -> Result<(), Self::Error>;
    /// Keeps a new pending timer; `actions` is its actions' stored form.
    fn add_timer(
        &mut self,
        key: &str,
        due: DateTime<Utc>,
        step: usize,
        skip_if_missed: bool,
        actions: &str,
    ) -> Result<(), Self::Error>;
    /// Ends the session's pending timer with `key`, if any, as `how`.
    fn end_timer(&mut self, key: &str, how: &str) -> Result<(), Self::Error>;
    /// Cancels the session's pending timers started in steps before `before`.
    fn cancel_timers(&mut self, before: usize) -> Result<(), Self::Error>;
    /// Moves the session's pending timer with `key` to `step`, with new actions.
    fn rewrite_timer(
        &mut self,
        key: &str,
        step: usize,
        actions: &[Action],
    ) -> Result<(), Self::Error>;
    /// Records a webhook delivery by the provider's id.
    fn delivery(&mut self, sid: &str) -> Result<(), Self::Error>;
}

/// A session and the effects of its actions, ready for a store to write: serialized by
/// the thread that asks for the change, so the thread committing a batch does not
/// serialize everyone's changes in turn.
pub struct Change {
    pub state: SessionState,
    pub phone: Option<String>,
    pub json: String,
    pub effects: Vec<Effect>,
    /// The actions of each `StartTimer` in `effects`, in order, as JSON.
    pub timer_actions: Vec<String>,
}

impl Change {
    pub fn new(state: SessionState, effects: Vec<Effect>) -> Change {
        let phone = match (state.actor_initialized, state.actor.get("phone")) {
            (true, Some(super::Value::Phone(p))) => Some(p.clone()),
            _ => None,
        };
        let timer_actions = effects
            .iter()
            .filter_map(|e| match e {
                Effect::StartTimer { actions, .. } => {
                    Some(serde_json::to_string(actions).expect("actions serialize"))
                }
                _ => None,
            })
            .collect();
        Change {
            json: serde_json::to_string(&state).expect("session state serializes"),
            state,
            phone,
            effects,
            timer_actions,
        }
    }
}

/// What firing one timer did to what is kept.
pub enum Fire {
    /// The timer was no longer pending: nothing was written.
    Gone,
    /// The session moved on from the change's revision: nothing was written.
    Conflict,
    /// The timer is fired and the session saved, at this revision.
    Fired(u64),
}

/// A store's primitives for firing timers, inside one transaction.
pub trait Firing {
    /// If timer `id` is still pending and the session still at `change`'s revision,
    /// ends the timer as fired and saves the session (locking both until the
    /// transaction ends, where other processes could fire it too); otherwise writes
    /// nothing. The timer ends before the effects run, so a timer that restarts its
    /// own key replaces nothing but the new one.
    fn fire(&mut self, timer_id: i64, change: &Change) -> Result<Fire, StoreError>;
    /// Applies the change's effects (`apply`).
    fn effects(&mut self, change: &Change, now: DateTime<Utc>) -> Result<(), StoreError>;
}

/// Fires timers in one transaction, each `(timer id, change)` in turn, as
/// `Store::fire_timers` says: for each, the session's revision after it, `None` when
/// its timer was no longer pending, or its conflict. Once a firing of a session
/// conflicts or finds its timer gone, that session's later firings conflict: they
/// were based on what it did.
pub fn fire<F: Firing>(
    store: &mut F,
    fires: &[(i64, Change)],
    now: DateTime<Utc>,
) -> Result<Vec<Result<Option<u64>, StoreError>>, StoreError> {
    let mut fired = Vec::with_capacity(fires.len());
    let mut broken: Vec<&str> = Vec::new();
    for (timer_id, change) in fires {
        let session = change.state.id.as_str();
        let conflict = || {
            Err(StoreError::Conflict {
                session: session.to_string(),
            })
        };
        if broken.contains(&session) {
            fired.push(conflict());
            continue;
        }
        match store.fire(*timer_id, change)? {
            Fire::Gone => {
                broken.push(session);
                fired.push(Ok(None));
            }
            Fire::Conflict => {
                broken.push(session);
                fired.push(conflict());
            }
            Fire::Fired(revision) => {
                store.effects(change, now)?;
                fired.push(Ok(Some(revision)));
            }
        }
    }
    Ok(fired)
}

/// A store's primitives for expiring sessions, inside one transaction.
pub trait Expiring {
    /// Fails session `id`, whose row does not read, as `Store::fail_session` does.
    fn fail(&mut self, id: &str, problem: &str, now: DateTime<Utc>) -> Result<(), StoreError>;
    /// Saves a change and applies its effects.
    fn write(&mut self, change: &Change, now: DateTime<Utc>) -> Result<(), StoreError>;
}

/// Expires the sessions a store read as due, as `Store::expire_sessions` says: each is
/// marked expired with an event, which also cancels its pending timers; a row that
/// does not read is failed here, not left to stop every later expiry. Gives how many
/// were due.
pub fn expire<E: Expiring>(
    store: &mut E,
    due: Vec<Result<SessionState, StoreError>>,
    now: DateTime<Utc>,
) -> Result<usize, StoreError> {
    let n = due.len();
    for state in due {
        let mut state = match state {
            Ok(s) => s,
            Err(StoreError::Broken { session, problem }) => {
                store.fail(&session, &problem, now)?;
                continue;
            }
            Err(e) => return Err(e),
        };
        state.status = Status::Expired;
        let expired = Change::new(state, vec![Effect::Log("session expired".into())]);
        store.write(&expired, now)?;
    }
    Ok(n)
}

/// Applies a change's effects to `ledger`, by the rules above. `timer_actions` holds
/// each started timer's actions in stored form, in order, serialized before the
/// transaction so that it does no such work.
pub fn apply<L: Ledger>(
    ledger: &mut L,
    state: &SessionState,
    effects: &[Effect],
    timer_actions: &[String],
    now: DateTime<Utc>,
) -> Result<(), L::Error> {
    let mut timer_actions = timer_actions.iter();
    // Every text's checks in one read, before any is queued; a text queued earlier in
    // this change is remembered here instead.
    let texts: Vec<(&str, Vec<u8>)> = effects
        .iter()
        .filter_map(|e| match e {
            Effect::Sms { to, body, .. } => Some((to.as_str(), body_hash(body))),
            _ => None,
        })
        .collect();
    let checks = if texts.is_empty() {
        Vec::new()
    } else {
        let asked: Vec<(&str, &[u8])> = texts.iter().map(|(to, h)| (*to, &h[..])).collect();
        ledger.checks(&asked, now - Duration::seconds(DUPLICATE_WINDOW_SECS))?
    };
    let mut checked = texts.iter().zip(checks);
    let mut queued: Vec<(&str, &[u8])> = Vec::new();
    for effect in effects {
        match effect {
            Effect::Sms { from, body, .. } => {
                let Some(((to, hash), (opted_out, sent))) = checked.next() else {
                    unreachable!("every text was checked");
                };
                let sent = sent || queued.contains(&(*to, &hash[..]));
                if sms(ledger, to, from, body, hash, opted_out, sent)? {
                    queued.push((to, &hash[..]));
                }
            }
            Effect::StartTimer {
                key,
                due,
                step,
                skip_if_missed,
                actions: _,
            } => {
                ledger.end_timer(key, "replaced")?;
                let actions = timer_actions
                    .next()
                    .expect("every started timer's actions were serialized");
                ledger.add_timer(key, *due, *step, *skip_if_missed, actions)?;
            }
            Effect::StopTimer { key } => ledger.end_timer(key, "cancelled")?,
            Effect::LeftSteps { before } => ledger.cancel_timers(*before)?,
            Effect::Log(text) => ledger.log(text)?,
            Effect::RewriteTimer { key, step, actions } => {
                ledger.rewrite_timer(key, *step, actions)?
            }
            Effect::Delivery(sid) => ledger.delivery(sid)?,
            Effect::Say(_) | Effect::Moved => {}
        }
    }
    if state.status != Status::Active {
        ledger.cancel_timers(usize::MAX)?;
    }
    Ok(())
}

/// Queues a text, suppressed when its number opted out or the same text went to it
/// within the window; whether it is to go.
fn sms<L: Ledger>(
    ledger: &mut L,
    to: &str,
    from: &str,
    body: &str,
    hash: &[u8],
    opted_out: bool,
    sent: bool,
) -> Result<bool, L::Error> {
    let note = match (opted_out, sent) {
        (true, _) => Some("the number opted out"),
        (false, true) => Some("the same text went to this number within 30 minutes"),
        (false, false) => None,
    };
    let redacted;
    let (body, status) = match note {
        None => (body, MessageStatus::Pending),
        Some(_) => {
            redacted = super::links::redact(body);
            (redacted.as_str(), MessageStatus::Suppressed)
        }
    };
    ledger.queue(Outgoing {
        to,
        from,
        body,
        body_hash: hash,
        status,
        note,
    })?;
    if let Some(note) = note {
        ledger.log(&format!("SMS to {to} suppressed: {note}"))?;
    }
    Ok(note.is_none())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// An outbox row: to, hash, when, status, body.
    type Row = (String, Vec<u8>, DateTime<Utc>, MessageStatus, String);

    /// A ledger in memory: the rules need nothing of SQL.
    #[derive(Default)]
    struct Memory {
        opted_out: Vec<String>,
        outbox: Vec<Row>,
        /// (key, step, how it ended: None while pending).
        timers: Vec<(String, usize, Option<String>)>,
        log: Vec<String>,
        now: DateTime<Utc>,
    }

    impl Ledger for Memory {
        type Error = ();
        fn opted_out(&mut self, phone: &str) -> Result<bool, ()> {
            Ok(self.opted_out.iter().any(|p| p == phone))
        }
        fn sent_since(&mut self, to: &str, h: &[u8], since: DateTime<Utc>) -> Result<bool, ()> {
            Ok(self.outbox.iter().any(|(t, hash, at, status, _)| {
                t == to && hash == h && *at > since && *status != MessageStatus::Suppressed
            }))
        }
        fn queue(&mut self, t: Outgoing<'_>) -> Result<(), ()> {
            let row = (
                t.to.into(),
                t.body_hash.to_vec(),
                self.now,
                t.status,
                t.body.into(),
            );
            self.outbox.push(row);
            Ok(())
        }
        fn log(&mut self, text: &str) -> Result<(), ()> {
            self.log.push(text.into());
            Ok(())
        }
        fn add_timer(
            &mut self,
            key: &str,
            _: DateTime<Utc>,
            step: usize,
            _: bool,
            _: &str,
        ) -> Result<(), ()> {
            self.timers.push((key.into(), step, None));
            Ok(())
        }
        fn end_timer(&mut self, key: &str, how: &str) -> Result<(), ()> {
            for t in self
                .timers
                .iter_mut()
                .filter(|t| t.0 == key && t.2.is_none())
            {
                t.2 = Some(how.into());
            }
            Ok(())
        }
        fn cancel_timers(&mut self, before: usize) -> Result<(), ()> {
            for t in self
                .timers
                .iter_mut()
                .filter(|t| t.1 < before && t.2.is_none())
            {
                t.2 = Some("cancelled".into());
            }
            Ok(())
        }
        fn rewrite_timer(&mut self, _: &str, _: usize, _: &[Action]) -> Result<(), ()> {
            Ok(())
        }
        fn delivery(&mut self, _: &str) -> Result<(), ()> {
            Ok(())
        }
    }

    fn state(status: Status) -> SessionState {
        let mut s: SessionState = serde_json::from_value(serde_json::json!({
            "id": "s1", "journey": "J", "status": "active",
            "started_at": "2026-03-02T15:00:00Z", "expires_at": "2026-04-02T15:00:00Z",
            "trigger": "link", "vars": [], "actor": {}, "actor_initialized": true,
            "step": 0, "page": null, "message": null, "from": null
        }))
        .unwrap();
        s.status = status;
        s
    }

    fn text(body: &str) -> Effect {
        Effect::Sms {
            to: "+14155550100".into(),
            from: "+15005550006".into(),
            body: body.into(),
        }
    }

    fn send(l: &mut Memory, effects: &[Effect], minutes: i64) {
        l.now =
            "2026-03-02T15:00:00Z".parse::<DateTime<Utc>>().unwrap() + Duration::minutes(minutes);
        let now = l.now;
        apply(l, &state(Status::Active), effects, &[], now).unwrap();
    }

    #[test]
    fn the_same_text_within_30_minutes_and_texts_to_opted_out_numbers_are_suppressed() {
        let mut l = Memory::default();
        send(
            &mut l,
            &[text("Hi https://x.example/j/AAAAAAAAAAAAAAAAAAAAAAAA")],
            0,
        );
        send(
            &mut l,
            &[text("Hi https://x.example/j/AAAAAAAAAAAAAAAAAAAAAAAA")],
            29,
        );
        send(
            &mut l,
            &[text("Hi https://x.example/j/AAAAAAAAAAAAAAAAAAAAAAAA")],
            31,
        );
        l.opted_out.push("+14155550100".into());
        send(&mut l, &[text("Other")], 40);
        let statuses: Vec<MessageStatus> = l.outbox.iter().map(|m| m.3).collect();
        assert_eq!(
            statuses,
            [
                MessageStatus::Pending,
                MessageStatus::Suppressed,
                MessageStatus::Pending,
                MessageStatus::Suppressed
            ]
        );
        // A suppressed text keeps no live link; a queued one keeps its text.
        assert!(
            !l.outbox[1].4.contains("AAAAAAAAAAAAAAAAAAAAAAAA"),
            "{}",
            l.outbox[1].4
        );
        assert!(l.outbox[2].4.contains("AAAAAAAAAAAAAAAAAAAAAAAA"));
        assert_eq!(l.log.len(), 2, "{:?}", l.log);
    }

    #[test]
    fn timers_are_replaced_by_key_left_with_their_steps_and_none_outlive_the_session() {
        let mut l = Memory::default();
        let start = |key: &str, step| Effect::StartTimer {
            key: key.into(),
            due: "2026-03-03T15:00:00Z".parse().unwrap(),
            step,
            skip_if_missed: false,
            actions: vec![],
        };
        let now = "2026-03-02T15:00:00Z".parse().unwrap();
        let actions = vec!["[]".to_string(); 3];
        let s = state(Status::Active);
        apply(
            &mut l,
            &s,
            &[start("a", 0), start("a", 0), start("b", 1)],
            &actions,
            now,
        )
        .unwrap();
        assert_eq!(l.timers[0].2.as_deref(), Some("replaced"));
        apply(&mut l, &s, &[Effect::LeftSteps { before: 1 }], &[], now).unwrap();
        assert_eq!(l.timers[1].2.as_deref(), Some("cancelled"));
        assert_eq!(l.timers[2].2, None);
        apply(&mut l, &state(Status::Ended), &[], &[], now).unwrap();
        assert!(l.timers.iter().all(|t| t.2.is_some()));
    }
}
