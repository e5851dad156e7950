//! What the engine keeps, behind one trait, so that SQLite (the default) and
//! PostgreSQL (later) are interchangeable. Every method that changes state does so in
//! one transaction: a crash leaves either all of it or none of it.

use chrono::{DateTime, Utc};

use super::durable::Durable;
use super::interp::Effect;
use super::session::SessionState;
use super::wakeup::Wakeup;
use crate::ir::Action;

pub use super::error::{Result, StoreError};

/// A read an async caller awaits (see `Store::session_by_token_async`).
pub type Read<T> = std::pin::Pin<Box<dyn std::future::Future<Output = Result<T>> + Send>>;

/// How often a process sharing its store with others looks for what they left it:
/// timers come due, messages to send, claims of processes that stopped.
pub const SHARED_RECHECK: std::time::Duration = std::time::Duration::from_secs(1);

/// A time as the stores keep it: milliseconds since 1970, UTC.
pub fn millis(t: DateTime<Utc>) -> i64 {
    t.timestamp_millis()
}

/// A kept time read back; one out of range reads as the earliest.
pub fn instant(ms: i64) -> DateTime<Utc> {
    use chrono::TimeZone;
    Utc.timestamp_millis_opt(ms)
        .single()
        .unwrap_or(DateTime::<Utc>::MIN_UTC)
}

/// A pending durable timer.
#[derive(Clone, Debug, PartialEq)]
pub struct Timer {
    pub id: i64,
    pub session_id: String,
    pub key: String,
    pub due: DateTime<Utc>,
    /// The step that was current when it started; leaving that step cancels it.
    pub step: usize,
    pub skip_if_missed: bool,
    pub actions: Vec<Action>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum MessageStatus {
    /// Waiting for the sender.
    Pending,
    /// Taken by a sender, waiting in its queue: not yet handed to the provider, so a
    /// crash or a stop leaves it to be sent again, never `unknown`.
    Claimed,
    /// Being handed to the provider now.
    Sending,
    /// Not sent: the number opted out, or the same text went to it within 30 minutes.
    Suppressed,
    /// Accepted by the provider.
    Sent,
    /// The provider reported it delivered.
    Delivered,
    Failed,
    /// Handed to the provider without a clear answer; to be reconciled, not resent.
    Unknown,
}

impl MessageStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            MessageStatus::Pending => "pending",
            MessageStatus::Claimed => "claimed",
            MessageStatus::Sending => "sending",
            MessageStatus::Delivered => "delivered",
            MessageStatus::Suppressed => "suppressed",
            MessageStatus::Sent => "sent",
            MessageStatus::Failed => "failed",
            MessageStatus::Unknown => "unknown",
        }
    }

    /// How far along a message is: a provider's callbacks, which arrive in any order,
    /// only ever move it forward (a late `sent` after `delivered` changes nothing).
    pub fn rank(self) -> u8 {
        match self {
            MessageStatus::Pending => 0,
            MessageStatus::Claimed => 1,
            MessageStatus::Sending | MessageStatus::Unknown => 2,
            MessageStatus::Sent => 3,
            MessageStatus::Delivered | MessageStatus::Failed | MessageStatus::Suppressed => 4,
        }
    }

    pub fn parse(s: &str) -> Option<MessageStatus> {
        [
            MessageStatus::Pending,
            MessageStatus::Claimed,
            MessageStatus::Sending,
            MessageStatus::Delivered,
            MessageStatus::Suppressed,
            MessageStatus::Sent,
            MessageStatus::Failed,
            MessageStatus::Unknown,
        ]
        .into_iter()
        .find(|m| m.as_str() == s)
    }
}

/// A message's status as a number that only grows (`MessageStatus::rank`), in SQL
/// that both stores read.
pub const RANK_SQL: &str = "(CASE status WHEN 'pending' THEN 0 WHEN 'claimed' THEN 1 WHEN 'sending' THEN 2 WHEN 'unknown' THEN 2 WHEN 'sent' THEN 3 ELSE 4 END)";

/// What an inbound text needs to know before anything else, read at once (see
/// `Store::inbound`).
#[derive(Clone, Debug, PartialEq)]
pub struct Inbound {
    /// The webhook's provider id was kept before: this is a repeat.
    pub seen: bool,
    /// The number opted out.
    pub opted_out: bool,
    /// The number's active sessions, as `Store::active_sessions_for_phone` lists them.
    pub active: Vec<SessionState>,
}

/// A version of a journey, as `journeyc run` deployed it.
#[derive(Clone, Debug, PartialEq)]
pub struct JourneyVersion {
    pub journey: String,
    /// 1 for the first deployed, then one more for each new fingerprint.
    pub version: u32,
    pub fingerprint: String,
    /// `ir::FORMAT` of the journeyc that stored `ir`.
    pub format: u32,
    /// The IR as JSON.
    pub ir: String,
    pub deployed_at: DateTime<Utc>,
}

/// One SMS in the outbox.
#[derive(Clone, Debug, PartialEq)]
pub struct Message {
    pub id: i64,
    pub session_id: String,
    pub to: String,
    pub from: String,
    pub body: String,
    pub status: MessageStatus,
    pub created_at: DateTime<Utc>,
    /// Why it was suppressed or failed.
    pub note: Option<String>,
    /// The provider's id for it, once accepted.
    pub sid: Option<String>,
}

/// Sessions change by revision: every change names the revision it was based on
/// (`SessionState::revision`, as read), and is written only if the session is still at
/// that revision. A change to the session's state (or version) moves it to the next
/// revision; one that only adds effects (a timer, a text) leaves it where it is, since
/// nothing another event reads has changed. A change whose session moved on in the
/// meantime writes nothing, effects included, and fails with `StoreError::Conflict`.
pub trait Store: Send + Sync {
    /// Whether other processes (replicas) change what this store keeps: then nothing
    /// a process keeps in memory tells it all that came due, and its scheduler and
    /// sender look again at least every `SHARED_RECHECK`.
    fn shared(&self) -> bool {
        false
    }
    /// How many other processes serve from this store now (replicas that beat
    /// recently): none for a store one process uses.
    fn live_peers(&self) -> Result<usize> {
        Ok(0)
    }
    /// Rings `wakeup` when another process keeps a timer that comes due, as a hint:
    /// a store whose processes change it alone never needs to.
    fn watch(&self, _wakeup: std::sync::Arc<Wakeup>) {}
    /// Reserves the next send slot of number `from`, at most one every `gap`, in a
    /// budget every process sharing the store shares: the instant the message may go.
    /// `None` when the store keeps no such budget, and each process paces its own.
    fn reserve_send(
        &self,
        _from: &str,
        _gap: std::time::Duration,
    ) -> Result<Option<DateTime<Utc>>> {
        Ok(None)
    }
    /// Keeps a new session; `token_hash` finds it again from its journey link. The
    /// session is then at revision 1, as `state` says once this returns.
    fn create_session(
        &self,
        state: &mut SessionState,
        token_hash: &[u8],
        now: DateTime<Utc>,
    ) -> Result<()> {
        self.create_session_with(state, token_hash, &[], now)
    }
    /// Keeps a new session together with the effects of its first actions, in one
    /// transaction: a session never exists without what its start did.
    fn create_session_with(
        &self,
        state: &mut SessionState,
        token_hash: &[u8],
        effects: &[Effect],
        now: DateTime<Utc>,
    ) -> Result<()> {
        state.revision = self
            .create_session_queued(state, token_hash, effects, now)
            .wait()? as u64;
        Ok(())
    }
    /// `create_session_with` without waiting: the change is queued, and it is durable
    /// once the returned `Durable` resolves, leaving the session at revision 1.
    fn create_session_queued(
        &self,
        state: &SessionState,
        token_hash: &[u8],
        effects: &[Effect],
        now: DateTime<Utc>,
    ) -> Durable;
    /// Keeps a journey's IR as a version, once per fingerprint: gives its version
    /// number, and whether it is new. A new one numbers one more than the newest.
    fn deploy(
        &self,
        journey: &str,
        fingerprint: &str,
        format: u32,
        ir: &str,
        now: DateTime<Utc>,
    ) -> Result<(u32, bool)>;
    /// Every version of every journey kept, oldest first.
    fn journey_versions(&self) -> Result<Vec<JourneyVersion>>;
    /// Sessions from before versions were kept (version 0) of `journey` are given
    /// `version`; returns how many.
    fn adopt_unversioned(&self, journey: &str, version: u32) -> Result<usize>;
    /// How many active sessions each `(journey, version)` has.
    fn live_sessions_by_version(&self) -> Result<Vec<(String, u32, u64)>>;
    /// The ids of the active sessions of a journey's version.
    fn live_session_ids(&self, journey: &str, version: u32) -> Result<Vec<String>>;
    /// The ids of the `limit` sessions started last, newest first, whatever their
    /// status: what the preview lists.
    fn recent_session_ids(&self, limit: usize) -> Result<Vec<String>>;
    /// A session's pending timers, earliest first.
    fn session_timers(&self, session_id: &str) -> Result<Vec<Timer>>;
    /// Marks a session that cannot run failed, whatever its state, with `problem` in its
    /// event log, and cancels its pending timers, in one transaction.
    fn fail_session(&self, session_id: &str, problem: &str, now: DateTime<Utc>) -> Result<()>;
    fn session(&self, id: &str) -> Result<Option<SessionState>>;
    fn session_by_token(&self, token_hash: &[u8]) -> Result<Option<SessionState>>;
    /// `session_by_token` for a caller in an async task. A store whose reads take
    /// microseconds answers at once, as here; one across a network answers without
    /// holding the caller's thread while the query is out.
    fn session_by_token_async(&self, token_hash: &[u8]) -> Read<Option<SessionState>> {
        Box::pin(std::future::ready(self.session_by_token(token_hash)))
    }
    /// The active, unexpired session of a journey whose initialised actor has `phone`.
    fn active_session_for_phone(
        &self,
        journey: &str,
        phone: &str,
        now: DateTime<Utc>,
    ) -> Result<Option<SessionState>>;
    /// Every active, unexpired session, of any journey, whose initialised actor has
    /// `phone`.
    fn active_sessions_for_phone(
        &self,
        phone: &str,
        now: DateTime<Utc>,
    ) -> Result<Vec<SessionState>>;
    /// `delivery_seen` (false without a `delivery`), `is_opted_out` and
    /// `active_sessions_for_phone` for an inbound text from `phone`. A store whose
    /// reads are round trips answers them in one.
    fn inbound(&self, delivery: Option<&str>, phone: &str, now: DateTime<Utc>) -> Result<Inbound> {
        Ok(Inbound {
            seen: match delivery {
                Some(sid) => self.delivery_seen(sid)?,
                None => false,
            },
            opted_out: self.is_opted_out(phone)?,
            active: self.active_sessions_for_phone(phone, now)?,
        })
    }
    /// `inbound` for an async caller (see `session_by_token_async`).
    fn inbound_async(
        &self,
        delivery: Option<&str>,
        phone: &str,
        now: DateTime<Utc>,
    ) -> Read<Inbound> {
        Box::pin(std::future::ready(self.inbound(delivery, phone, now)))
    }
    /// Saves a session after its actions ran, with their effects, in one transaction,
    /// if it is still at `state.revision`; `state` then has the revision it is at
    /// (the next one when its state changed, the same when only effects were added).
    /// Every change's `Durable` resolves to that revision.
    fn apply(
        &self,
        state: &mut SessionState,
        effects: &[Effect],
        now: DateTime<Utc>,
    ) -> Result<()> {
        state.revision = self.apply_queued(state, effects, now).wait()? as u64;
        Ok(())
    }
    /// `apply` without waiting: durable once the returned `Durable` resolves (see
    /// `create_session_queued`), or failed with a conflict, having written nothing.
    fn apply_queued(&self, state: &SessionState, effects: &[Effect], now: DateTime<Utc>)
        -> Durable;
    /// Marks a pending timer fired and applies what its actions did, in one transaction.
    /// Returns false, changing nothing, when the timer is no longer pending; a conflict
    /// when the session moved on from `state.revision`.
    fn fire_timer(
        &self,
        timer_id: i64,
        state: &mut SessionState,
        effects: &[Effect],
        now: DateTime<Utc>,
    ) -> Result<bool> {
        let mut fired = self.fire_timers(vec![(timer_id, state.clone(), effects.to_vec())], now)?;
        match fired.pop().unwrap_or(Ok(None))? {
            Some(revision) => {
                state.revision = revision;
                Ok(true)
            }
            None => Ok(false),
        }
    }
    /// Fires several timers in one transaction: each `(timer id, session, effects)` as
    /// `fire_timer` would, so a later firing of a session names the revision an earlier
    /// one leads to. Returns, for each, the session's revision after it, `None` when
    /// its timer was no longer pending, or its conflict. Once a firing of a session
    /// conflicts or finds its timer no longer pending, that session's later firings in
    /// the call conflict too: they were based on what it did.
    fn fire_timers(
        &self,
        fires: Vec<(i64, SessionState, Vec<Effect>)>,
        now: DateTime<Utc>,
    ) -> Result<Vec<Result<Option<u64>>>>;
    /// Marks up to `limit` active sessions whose expiry time has come as expired, with
    /// an event, and cancels their pending timers, in one transaction. Returns how many.
    fn expire_sessions(&self, now: DateTime<Utc>, limit: usize) -> Result<usize>;
    /// When the next active session expires, if any is active.
    fn next_expiry(&self) -> Result<Option<DateTime<Utc>>>;
    /// Marks a pending timer skipped (missed while the runtime was down).
    fn skip_timer(&self, timer_id: i64, reason: &str, now: DateTime<Utc>) -> Result<bool>;
    fn next_timer_due(&self) -> Result<Option<DateTime<Utc>>>;
    /// Pending timers due at or before `until`, earliest first.
    fn due_timers(&self, until: DateTime<Utc>, limit: usize) -> Result<Vec<Timer>>;
    fn events(&self, session_id: &str) -> Result<Vec<(DateTime<Utc>, String)>>;
    fn outbox(&self, session_id: Option<&str>) -> Result<Vec<Message>>;
    /// Up to `limit` messages with `status` and an id above `after`, oldest first: what
    /// the sender must reconcile, a page at a time, without reading the whole outbox.
    fn messages_with_status(
        &self,
        status: MessageStatus,
        after: i64,
        limit: usize,
    ) -> Result<Vec<Message>>;
    fn set_message_status(&self, id: i64, status: MessageStatus, note: Option<&str>) -> Result<()>;
    /// Moves up to `limit` pending messages to `claimed`, oldest first, and returns
    /// them: a message is claimed once. Messages from the numbers in `skip_from` stay
    /// pending (their sender is busy), so other numbers do not wait behind them.
    fn claim_messages(&self, limit: usize, skip_from: &[String]) -> Result<Vec<Message>>;
    /// Moves a claimed message to `sending`, just before it is handed to the provider;
    /// false, changing nothing, when it is no longer claimed.
    fn start_sending(&self, id: i64) -> Result<bool> {
        self.start_sending_queued(id).wait().map(|n| n == 1)
    }
    /// `start_sending` queued for commit, for a task to await without a thread: it
    /// resolves to 1 when this call moved the message, else 0.
    fn start_sending_queued(&self, id: i64) -> Durable;
    /// Gives claimed messages that were never handed over back to `pending`; how many.
    fn release_claimed(&self) -> Result<usize>;
    /// Gives one message back to `pending` if it is still claimed by this server;
    /// false, changing nothing, when it is not (it was marked `sending`, or another
    /// replica recovered it and may be sending it).
    fn release_claim(&self, id: i64) -> Result<bool>;
    /// Moves an `unknown` message that the provider does not have back to `pending`,
    /// to be sent again; false, changing nothing, when it is no longer `unknown` (an
    /// earlier check already sent it again).
    fn resend_unknown(&self, id: i64, note: &str) -> Result<bool>;
    /// Records that the provider accepted a message, with its id.
    fn message_sent(&self, id: i64, sid: &str) -> Result<()> {
        self.message_sent_queued(id, sid).wait().map(|_| ())
    }
    /// `message_sent` queued for commit, for a task to await without a thread.
    fn message_sent_queued(&self, id: i64, sid: &str) -> Durable;
    /// Updates a message's status from a provider callback, only ever forward (see
    /// `MessageStatus::rank`); false for an unknown id.
    fn message_status_by_sid(
        &self,
        sid: &str,
        status: MessageStatus,
        note: Option<&str>,
    ) -> Result<bool>;
    /// At start-up: messages a crash left `sending` may or may not have reached the
    /// provider, so they become `unknown`, to be reconciled rather than resent (their
    /// number is returned); those it left `claimed` never did, and are pending again.
    fn recover_sending(&self) -> Result<usize>;
    /// Records a webhook delivery by the provider's id; false when it came before, so a
    /// webhook delivered twice is processed once.
    fn first_delivery(&self, sid: &str, now: DateTime<Utc>) -> Result<bool>;
    /// Whether a webhook delivery with this provider id was kept.
    fn delivery_seen(&self, sid: &str) -> Result<bool>;
    /// `delivery_seen`, once no change that is recording this id right now is still
    /// open: for a copy of a webhook whose change failed because another copy's was
    /// under way. A store with one writer has no such change.
    fn delivery_settled(&self, sid: &str) -> Result<bool> {
        self.delivery_seen(sid)
    }
    /// A random secret kept in the store, made on first use: it outlives restarts.
    fn secret(&self, name: &str) -> Result<Vec<u8>>;
    /// Answers when the store works: it reads, and it commits a write.
    fn ping(&self) -> Result<()>;
    fn opt_out(&self, phone: &str, now: DateTime<Utc>) -> Result<()>;
    fn opt_in(&self, phone: &str) -> Result<()>;
    fn is_opted_out(&self, phone: &str) -> Result<bool>;
    /// The next instant a schedule trigger (by its index in the journey) is due.
    fn schedule_next(&self, journey: &str, trigger_index: usize) -> Result<Option<DateTime<Utc>>>;
    /// Moves a schedule's next instant from `expected` to `next`, atomically; false
    /// when another runner moved it first. Claiming before running makes each instant
    /// run at most once, across restarts and servers.
    fn claim_schedule(
        &self,
        journey: &str,
        trigger_index: usize,
        expected: Option<DateTime<Utc>>,
        next: DateTime<Utc>,
    ) -> Result<bool>;
}
