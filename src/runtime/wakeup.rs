//! The scheduler's doorbell, rung by the engine when something new comes due: its own
//! file, so that the engine and the scheduler each use it without using each other.

use std::sync::{Condvar, Mutex};
use std::time::Duration;

use chrono::{DateTime, Utc};

/// A doorbell: ringing it wakes a sleeping scheduler at once.
#[derive(Default)]
pub struct Wakeup {
    state: Mutex<Bell>,
    bell: Condvar,
}

#[derive(Default)]
struct Bell {
    rung: bool,
    stop: bool,
    /// While the scheduler sleeps: until when (`Some(None)`: until rung).
    sleeping: Option<Option<DateTime<Utc>>>,
}

impl Wakeup {
    /// Something new comes due at `due`: wakes the scheduler if it sleeps past that.
    /// An awake scheduler looks again before it sleeps, since it may have read the
    /// next due time before this change was kept.
    pub fn ring_for(&self, due: DateTime<Utc>) {
        let mut state = self.state.lock().unwrap_or_else(|e| e.into_inner());
        let wake = match state.sleeping {
            Some(Some(until)) => due < until,
            Some(None) | None => true,
        };
        if wake && !state.rung {
            state.rung = true;
            self.bell.notify_all();
        }
    }

    /// Waits until rung, stopped, or `until` (forever when `None`); true when stopped.
    pub(super) fn wait(&self, until: Option<DateTime<Utc>>, timeout: Option<Duration>) -> bool {
        let mut state = self.state.lock().unwrap_or_else(|e| e.into_inner());
        if !state.rung && !state.stop {
            state.sleeping = Some(until);
            state = match timeout {
                Some(t) => {
                    self.bell
                        .wait_timeout(state, t)
                        .unwrap_or_else(|e| e.into_inner())
                        .0
                }
                None => self.bell.wait(state).unwrap_or_else(|e| e.into_inner()),
            };
            state.sleeping = None;
        }
        state.rung = false;
        state.stop
    }

    pub(super) fn stop(&self) {
        self.state.lock().unwrap_or_else(|e| e.into_inner()).stop = true;
        self.bell.notify_all();
    }
}
