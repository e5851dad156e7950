//! Fires timers and schedules on time: a thread that sleeps until the next due time,
//! with no polling interval, and wakes early when something comes due before that: a
//! timer started, or a session that expires sooner.

use std::sync::{Arc, Condvar, Mutex};
use std::thread::JoinHandle;
use std::time::Duration;

use chrono::{DateTime, Utc};

use super::engine::Engine;

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
    fn wait(&self, until: Option<DateTime<Utc>>, timeout: Option<Duration>) -> bool {
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

    fn stop(&self) {
        self.state.lock().unwrap_or_else(|e| e.into_inner()).stop = true;
        self.bell.notify_all();
    }
}

/// A running scheduler; dropping it (or `stop`) ends its thread.
pub struct Scheduler {
    wakeup: Arc<Wakeup>,
    thread: Option<JoinHandle<()>>,
}

impl Scheduler {
    /// Starts the scheduler. First, what came due while the runtime was down is fired
    /// once (or skipped, for `skip if missed`); then each timer fires at its due time.
    pub fn start(engine: Arc<Engine>) -> Scheduler {
        let wakeup = engine.wakeup();
        let bell = wakeup.clone();
        let thread = std::thread::Builder::new()
            .name("journeyc-scheduler".into())
            .spawn(move || {
                let started = engine.now();
                let mut missed_before = Some(started);
                loop {
                    // Errors are in the store; the next wake-up tries again.
                    let _ = engine.expire_due();
                    let _ = engine.fire_due(missed_before.take());
                    let _ = engine.run_schedules();
                    let next = engine.next_due().ok().flatten();
                    // At least a millisecond, so a timer that keeps coming due "now", or a
                    // store that keeps failing, cannot spin the thread.
                    let timeout = next.map(|t| {
                        (t - engine.now())
                            .to_std()
                            .unwrap_or(Duration::ZERO)
                            .max(Duration::from_millis(1))
                    });
                    if bell.wait(next, timeout) {
                        return;
                    }
                }
            })
            .expect("the scheduler thread starts");
        Scheduler {
            wakeup,
            thread: Some(thread),
        }
    }

    pub fn stop(mut self) {
        self.shutdown();
    }

    fn shutdown(&mut self) {
        self.wakeup.stop();
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

impl Drop for Scheduler {
    fn drop(&mut self) {
        self.shutdown();
    }
}
