//! Fires timers and schedules on time: a thread that sleeps until the next due time,
//! with no polling interval, and wakes early when something comes due before that: a
//! timer started, or a session that expires sooner.

use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::Duration;

use super::engine::Engine;
use super::store::SHARED_RECHECK;
use super::wakeup::Wakeup;

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
                // With replicas running, what came due before this one started was
                // theirs to fire, late at worst, not missed.
                let peers = engine.store().live_peers().unwrap_or(0);
                let mut missed_before = (peers == 0).then_some(started);
                loop {
                    // Errors are in the store; the next wake-up tries again.
                    let _ = engine.expire_due();
                    let _ = engine.fire_due(missed_before.take());
                    let _ = engine.run_schedules();
                    let next = engine.next_due().ok().flatten();
                    // At least a millisecond, so a timer that keeps coming due "now", or a
                    // store that keeps failing, cannot spin the thread.
                    let mut timeout = next.map(|t| {
                        (t - engine.now())
                            .to_std()
                            .unwrap_or(Duration::ZERO)
                            .max(Duration::from_millis(1))
                    });
                    // Other replicas' timers ring the bell only as a hint: a lost
                    // ring delays nothing by more than this.
                    if engine.store().shared() {
                        timeout = Some(timeout.map_or(SHARED_RECHECK, |t| t.min(SHARED_RECHECK)));
                    }
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
