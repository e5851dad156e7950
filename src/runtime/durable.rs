//! Completions of changes handed to a store: a caller on a thread waits for one, and
//! a caller in an async task awaits it, so a request that waits for its commit's fsync
//! need not hold an OS thread meanwhile.

use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Condvar, Mutex};
use std::task::{Context, Poll, Waker};

use super::error::{Result, StoreError};

/// Where a change's result goes, once its transaction is committed or has failed.
#[derive(Default)]
pub struct Slot {
    state: Mutex<SlotState>,
    ready: Condvar,
}

#[derive(Default)]
struct SlotState {
    result: Option<Result<i64>>,
    /// The task awaiting the result.
    waker: Option<Waker>,
    /// A thread is blocked waiting for the result.
    sleeping: bool,
    /// Other blocked threads that this one, once woken, wakes in turn.
    fan_out: Vec<Arc<Slot>>,
}

/// Hands every change of a committed batch its result. Tasks are woken here, which
/// only queues them. Of the blocked threads, only the first is woken here; each woken
/// thread wakes up to two more, so the wake-ups of a large batch run on many threads
/// while the committer moves on to the next batch.
pub fn deliver_all(batch: Vec<(Arc<Slot>, Result<i64>)>) {
    let mut sleepers = Vec::new();
    for (slot, result) in batch {
        let waker = {
            let mut state = slot.state.lock().unwrap_or_else(|e| e.into_inner());
            state.result = Some(result);
            if state.sleeping {
                sleepers.push(slot.clone());
            }
            state.waker.take()
        };
        if let Some(w) = waker {
            w.wake();
        }
    }
    wake_sleepers(sleepers);
}

/// Wakes the first thread of `sleepers` that still sleeps, handing it the rest to wake.
fn wake_sleepers(mut sleepers: Vec<Arc<Slot>>) {
    // Reversed, so that `pop` takes them in order.
    sleepers.reverse();
    while let Some(slot) = sleepers.pop() {
        let mut state = slot.state.lock().unwrap_or_else(|e| e.into_inner());
        // A thread that woke by itself and took its result has gone: it would never
        // wake the others.
        if state.sleeping {
            sleepers.reverse();
            state.fan_out = sleepers;
            drop(state);
            slot.ready.notify_one();
            return;
        }
    }
}

/// A change handed to a store: it is durable (or has failed) once this resolves. Wait
/// for it with `wait` on a thread, or `.await` it in a task. Dropping it does not undo
/// the change.
#[must_use = "a change is acknowledged only once it is durable"]
pub struct Durable(Inner);

enum Inner {
    Done(Option<Result<i64>>),
    Waiting(Arc<Slot>),
}

impl Durable {
    /// A change whose outcome is already known: a store that commits before it returns.
    pub fn done(result: Result<i64>) -> Durable {
        Durable(Inner::Done(Some(result)))
    }

    /// A change whose result `deliver_all` will hand to `slot`.
    pub fn waiting(slot: Arc<Slot>) -> Durable {
        Durable(Inner::Waiting(slot))
    }

    /// Blocks this thread until the change is durable.
    pub fn wait(self) -> Result<i64> {
        match self.0 {
            Inner::Done(result) => result.unwrap_or_else(already_taken),
            Inner::Waiting(slot) => {
                let mut state = slot.state.lock().unwrap_or_else(|e| e.into_inner());
                state.sleeping = true;
                let result = loop {
                    if let Some(result) = state.result.take() {
                        break result;
                    }
                    state = slot.ready.wait(state).unwrap_or_else(|e| e.into_inner());
                };
                state.sleeping = false;
                let mut first = std::mem::take(&mut state.fan_out);
                drop(state);
                // Wake two more, each handed half of those still asleep.
                let second = first.split_off(first.len() / 2);
                wake_sleepers(first);
                wake_sleepers(second);
                result
            }
        }
    }
}

fn already_taken<T>() -> Result<T> {
    Err(StoreError::new("a change's result was taken twice"))
}

impl Future for Durable {
    type Output = Result<i64>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Result<i64>> {
        match &mut self.get_mut().0 {
            Inner::Done(result) => Poll::Ready(result.take().unwrap_or_else(already_taken)),
            Inner::Waiting(slot) => {
                let mut state = slot.state.lock().unwrap_or_else(|e| e.into_inner());
                match state.result.take() {
                    Some(result) => Poll::Ready(result),
                    None => {
                        if !state
                            .waker
                            .as_ref()
                            .is_some_and(|w| w.will_wake(cx.waker()))
                        {
                            state.waker = Some(cx.waker().clone());
                        }
                        Poll::Pending
                    }
                }
            }
        }
    }
}
