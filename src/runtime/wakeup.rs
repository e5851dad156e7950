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
    /// The soonest due time rung for since the scheduler last woke.
    rung_for: Option<DateTime<Utc>>,
    stop: bool,
    /// While the scheduler sleeps: until when (`Some(None)`: until rung).
    sleeping: Option<Option<DateTime<Utc>>>,
}

impl Wakeup {
    /// Something new comes due at `due`: wakes the scheduler if it sleeps past that.
    /// An awake scheduler looks again before it sleeps if it would sleep past that,
    /// since it may have read the next due time before this change was kept.
    pub fn ring_for(&self, due: DateTime<Utc>) {
        let mut state = self.state.lock().unwrap_or_else(|e| e.into_inner());
        let wake = match state.sleeping {
            Some(Some(until)) => due < until,
            Some(None) | None => true,
        };
        if wake {
            state.rung_for = Some(state.rung_for.map_or(due, |d| d.min(due)));
            if !state.rung {
                state.rung = true;
                self.bell.notify_all();
            }
        }
    }

    /// Waits until rung, stopped, or `until` (forever when `None`); true when stopped.
    pub(super) fn wait(&self, until: Option<DateTime<Utc>>, timeout: Option<Duration>) -> bool {
        let mut state = self.state.lock().unwrap_or_else(|e| e.into_inner());
        // Rung while awake only for what comes due at `until` or later: sleeping until
        // then wakes it in time. Under load every change rings, and looking again for
        // each would keep the scheduler reading the store without a pause.
        if state.rung
            && state
                .rung_for
                .zip(until)
                .is_some_and(|(due, until)| due >= until)
        {
            state.rung = false;
            state.rung_for = None;
        }
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
        state.rung_for = None;
        state.stop
    }

    pub(super) fn stop(&self) {
        self.state.lock().unwrap_or_else(|e| e.into_inner()).stop = true;
        self.bell.notify_all();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(secs: i64) -> DateTime<Utc> {
        DateTime::from_timestamp(secs, 0).unwrap()
    }

    #[test]
    fn a_ring_while_awake_makes_it_look_again_only_for_something_due_sooner() {
        let w = Wakeup::default();
        let short = Duration::from_millis(50);
        // Rung while awake for later than it would sleep: it sleeps its full time.
        w.ring_for(at(200));
        let start = std::time::Instant::now();
        assert!(!w.wait(Some(at(100)), Some(short)));
        assert!(start.elapsed() >= short, "slept");
        // For sooner, or when it would sleep until rung: it looks again at once.
        w.ring_for(at(200));
        w.ring_for(at(50));
        let start = std::time::Instant::now();
        assert!(!w.wait(Some(at(100)), Some(Duration::from_secs(30))));
        assert!(start.elapsed() < Duration::from_secs(10), "woke at once");
        w.ring_for(at(200));
        let start = std::time::Instant::now();
        assert!(!w.wait(None, Some(Duration::from_secs(30))));
        assert!(start.elapsed() < Duration::from_secs(10), "woke at once");
        // A ring for sooner while it sleeps wakes it.
        std::thread::scope(|scope| {
            scope.spawn(|| {
                while w.state.lock().unwrap().sleeping.is_none() {
                    std::thread::yield_now();
                }
                w.ring_for(at(200));
                w.ring_for(at(10));
            });
            let start = std::time::Instant::now();
            assert!(!w.wait(Some(at(100)), Some(Duration::from_secs(30))));
            assert!(start.elapsed() < Duration::from_secs(10), "woken");
        });
    }
}
