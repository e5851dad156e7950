//! What front ends read and record besides a session's events: a session by its
//! journey-link token, webhook deliveries, message statuses, the store's health, and
//! what the preview shows. Route handlers call these on the engine and never reach the
//! store themselves, so every store serves them the same way.

use chrono::{DateTime, Utc};

use super::engine::Engine;
use super::session::SessionState;
use super::store::{Message, MessageStatus, Result};

impl Engine {
    /// The session whose journey-link token hashes to `token_hash`, with its link.
    pub fn session_by_token(&self, token_hash: &[u8]) -> Result<Option<SessionState>> {
        Ok(self
            .store()
            .session_by_token(token_hash)?
            .map(|s| self.with_link(s)))
    }

    /// `session_by_token` for an async task: it holds no thread while the store reads.
    pub async fn session_by_token_async(&self, token_hash: &[u8]) -> Result<Option<SessionState>> {
        let found = self.store().session_by_token_async(token_hash).await?;
        Ok(found.map(|s| self.with_link(s)))
    }

    /// Whether a webhook delivery with this provider id was kept.
    pub fn delivery_seen(&self, sid: &str) -> Result<bool> {
        self.store().delivery_seen(sid)
    }

    /// `delivery_seen` once no other copy of the webhook is being processed: see
    /// `Store::delivery_settled`.
    pub fn delivery_settled(&self, sid: &str) -> Result<bool> {
        self.store().delivery_settled(sid)
    }

    /// Records a message's status from the provider's callback, only ever forward;
    /// false for a message the outbox does not know.
    pub fn message_status(
        &self,
        sid: &str,
        status: MessageStatus,
        note: Option<&str>,
    ) -> Result<bool> {
        self.store().message_status_by_sid(sid, status, note)
    }

    /// Active sessions by journey and version: `(journey, version, count)`.
    pub fn live_sessions_by_version(&self) -> Result<Vec<(String, u32, u64)>> {
        self.store().live_sessions_by_version()
    }

    /// Answers when the store works: it reads, and it commits a write.
    pub fn healthy(&self) -> Result<()> {
        self.store().ping()
    }

    /// A random secret kept in the store, made on first use: it outlives restarts.
    pub fn secret(&self, name: &str) -> Result<Vec<u8>> {
        self.store().secret(name)
    }

    /// The outbox, oldest first.
    pub fn outbox(&self) -> Result<Vec<Message>> {
        self.store().outbox(None)
    }

    /// A session's event log, oldest first.
    pub fn events(&self, session_id: &str) -> Result<Vec<(DateTime<Utc>, String)>> {
        self.store().events(session_id)
    }

    /// The sessions started last, newest first (at most `limit`), as stored now.
    pub fn recent_sessions(&self, limit: usize) -> Result<Vec<SessionState>> {
        let mut out = Vec::new();
        for id in self.store().recent_session_ids(limit)? {
            // A row that does not read is left out of a listing; reading it alone says why.
            if let Ok(Some(s)) = self.session(&id) {
                out.push(s);
            }
        }
        Ok(out)
    }

    /// A session's pending timers, earliest first.
    pub fn timers(&self, session_id: &str) -> Result<Vec<super::store::Timer>> {
        self.store().session_timers(session_id)
    }

    /// A session's messages, oldest first.
    pub fn messages(&self, session_id: &str) -> Result<Vec<Message>> {
        self.store().outbox(Some(session_id))
    }

    /// Records a delivery status for an outbox message by its own id, as the provider's
    /// callback would: only for a message handed to the provider, and only ever
    /// forward. Gives the status kept, or `None` for an unknown id; a message never
    /// sent is `Rejected`.
    pub fn message_status_by_id(
        &self,
        id: i64,
        status: MessageStatus,
        note: Option<&str>,
    ) -> Result<Option<MessageStatus>> {
        let find = || -> Result<Option<Message>> {
            Ok(self.store().outbox(None)?.into_iter().find(|m| m.id == id))
        };
        let Some(m) = find()? else {
            return Ok(None);
        };
        let sent =
            m.status.rank() >= MessageStatus::Sent.rank() && m.status != MessageStatus::Suppressed;
        if !sent {
            return Err(super::store::StoreError::Rejected(format!(
                "message {id} is {}: it was never handed to the provider",
                m.status.as_str()
            )));
        }
        // The development sink prints a text without a provider's id: it gets one, as
        // Twilio would have given it, so that callbacks find it the one way they do.
        let sid = match m.sid.clone() {
            Some(sid) => sid,
            None => {
                let sid = format!("SMdev{id}");
                self.store().message_sent(id, &sid)?;
                sid
            }
        };
        self.store().message_status_by_sid(&sid, status, note)?;
        Ok(find()?.map(|m| m.status))
    }

    /// When the next timer or schedule is due (not a session's expiry), if any.
    pub fn next_timer_due(&self) -> Result<Option<DateTime<Utc>>> {
        Ok([self.store().next_timer_due()?, self.next_schedule_due()?]
            .into_iter()
            .flatten()
            .min())
    }
}
