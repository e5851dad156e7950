//! What ran, told as it runs to whoever listens: `journeyc test` learns from it which
//! parts of a journey its tests reached, and which notification each text came from.
//! An engine without a probe hears nothing and pays for nothing.

use std::sync::Arc;

use crate::coverage::Item;

/// One thing a probe hears.
#[derive(Clone, Debug, PartialEq)]
pub enum Heard {
    Reached(Item),
    /// `send sms` of `notification` put `texts` messages in the outbox (parts that
    /// come out empty are not sent).
    Texts {
        notification: String,
        texts: usize,
    },
}

/// Hears the journey's name, the session's id and what happened, as an attempt runs:
/// an event run again after a conflict is heard again.
pub type Probe = Arc<dyn Fn(&str, &str, Heard) + Send + Sync>;

/// The probe of an engine that has none.
pub fn deaf(_journey: &str, _session: &str, _heard: Heard) {}
