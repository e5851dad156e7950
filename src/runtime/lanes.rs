//! Lanes: one at a time per key, first come, first served. The engine keeps a lane per
//! session, so that one process's events for one session take turns instead of
//! conflicting (the revision check still catches other processes); the server keeps one
//! per phone number, so one person's texts are handled in the order they arrived.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use tokio::sync::{Mutex as Turn, OwnedMutexGuard};

/// A lane exists while someone is in it or waiting for it.
#[derive(Clone, Default)]
pub struct Lanes(Arc<Mutex<HashMap<String, Arc<Turn<()>>>>>);

/// A turn in a lane: the next waiter goes when it is dropped.
pub struct InLane {
    lanes: Lanes,
    key: String,
    lane: Arc<Turn<()>>,
    turn: Option<OwnedMutexGuard<()>>,
}

impl Lanes {
    fn lane(&self, key: &str) -> Arc<Turn<()>> {
        self.0
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .entry(key.to_string())
            .or_default()
            .clone()
    }

    fn in_lane(&self, key: &str, lane: Arc<Turn<()>>, turn: OwnedMutexGuard<()>) -> InLane {
        InLane {
            lanes: self.clone(),
            key: key.to_string(),
            lane,
            turn: Some(turn),
        }
    }

    /// Waits in a task for `key`'s turn. Tokio's mutex queues its waiters first come,
    /// first served, so the order of the calls is the order of the turns.
    pub async fn enter(&self, key: &str) -> InLane {
        let lane = self.lane(key);
        let turn = lane.clone().lock_owned().await;
        self.in_lane(key, lane, turn)
    }

    /// Waits on this thread for `key`'s turn; never call it from an async task.
    pub fn enter_blocking(&self, key: &str) -> InLane {
        let lane = self.lane(key);
        let turn = lane.clone().blocking_lock_owned();
        self.in_lane(key, lane, turn)
    }

    /// `key`'s turn if nobody has it now.
    pub fn try_enter(&self, key: &str) -> Option<InLane> {
        let lane = self.lane(key);
        match lane.clone().try_lock_owned() {
            Ok(turn) => Some(self.in_lane(key, lane, turn)),
            Err(_) => {
                drop(lane);
                self.close_if_empty(key);
                None
            }
        }
    }

    /// How many lanes are open (someone in them or waiting).
    pub fn open(&self) -> usize {
        self.0.lock().unwrap_or_else(|e| e.into_inner()).len()
    }

    /// Removes `key`'s lane when only the map holds it. Under the map's lock nobody can
    /// take a new hold of it meanwhile.
    fn close_if_empty(&self, key: &str) {
        let mut lanes = self.0.lock().unwrap_or_else(|e| e.into_inner());
        if lanes.get(key).is_some_and(|l| Arc::strong_count(l) == 1) {
            lanes.remove(key);
        }
    }
}

impl Drop for InLane {
    fn drop(&mut self) {
        drop(self.turn.take());
        let key = std::mem::take(&mut self.key);
        // This turn's own hold goes first, so an empty lane is held by the map alone.
        self.lane = Arc::default();
        self.lanes.close_if_empty(&key);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    // One thread: a spawned task's first poll, which queues it, ends before ours goes on.
    #[tokio::test]
    async fn one_key_goes_in_order_others_in_parallel_and_lanes_close() {
        let lanes = Lanes::default();
        let order = Arc::new(Mutex::new(Vec::new()));
        let first = lanes.enter("a").await;
        assert!(lanes.try_enter("a").is_none(), "taken");
        // Waiters queue in the order they arrive, while "a" is held.
        let mut waiting = Vec::new();
        for i in 0..50 {
            let (task_lanes, order) = (lanes.clone(), order.clone());
            waiting.push(tokio::spawn(async move {
                let _turn = task_lanes.enter("a").await;
                order.lock().unwrap().push(i);
            }));
            // Let the task take its place in the queue before the next one starts: the
            // map and `first` hold 3 counts, and each queued task 2.
            while Arc::strong_count(&lanes.0.lock().unwrap()["a"]) < 5 + 2 * i {
                tokio::task::yield_now().await;
            }
        }
        // Another key is not held up by "a".
        drop(lanes.try_enter("b").expect("free"));
        drop(lanes.enter("b").await);
        assert!(order.lock().unwrap().is_empty());
        drop(first);
        for w in waiting {
            w.await.unwrap();
        }
        assert_eq!(*order.lock().unwrap(), (0..50).collect::<Vec<_>>());
        assert_eq!(lanes.open(), 0, "every lane closed once empty");
    }

    #[test]
    fn threads_take_turns() {
        let lanes = Lanes::default();
        let inside = Arc::new(std::sync::atomic::AtomicUsize::new(0));
        let threads: Vec<_> = (0..8)
            .map(|_| {
                let (lanes, inside) = (lanes.clone(), inside.clone());
                std::thread::spawn(move || {
                    for _ in 0..100 {
                        let _turn = lanes.enter_blocking("k");
                        let n = inside.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                        assert_eq!(n, 0, "one at a time");
                        inside.fetch_sub(1, std::sync::atomic::Ordering::SeqCst);
                    }
                })
            })
            .collect();
        for t in threads {
            t.join().unwrap();
        }
        assert_eq!(lanes.open(), 0);
    }
}
