//! One lane per person: the events of one phone number are handled one at a time, in
//! the order they were accepted. Two texts from one person then change their session
//! in Twilio's order of arrival, and neither is run again on the other's result.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use tokio::sync::{Mutex as Turn, OwnedMutexGuard};

#[derive(Default)]
pub struct Lanes {
    /// A lane exists while someone is in it or waiting for it.
    lanes: Mutex<HashMap<String, Arc<Turn<()>>>>,
}

/// A place in a lane: its holder goes now, the next waiter when it is dropped.
pub struct InLane<'a> {
    lanes: &'a Lanes,
    key: String,
    lane: Arc<Turn<()>>,
    turn: Option<OwnedMutexGuard<()>>,
}

impl Lanes {
    /// Waits for `key`'s turn. Tokio's mutex queues its waiters first come, first
    /// served, so the order of the calls is the order of the turns.
    pub async fn enter(&self, key: &str) -> InLane<'_> {
        let lane = self
            .lanes
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .entry(key.to_string())
            .or_default()
            .clone();
        let turn = lane.clone().lock_owned().await;
        InLane {
            lanes: self,
            key: key.to_string(),
            lane,
            turn: Some(turn),
        }
    }

    /// How many lanes are open (someone in them or waiting).
    pub fn open(&self) -> usize {
        self.lanes.lock().unwrap_or_else(|e| e.into_inner()).len()
    }
}

impl Drop for InLane<'_> {
    fn drop(&mut self) {
        drop(self.turn.take());
        let mut lanes = self.lanes.lanes.lock().unwrap_or_else(|e| e.into_inner());
        // Only the map and this guard hold the lane: nobody waits, so it goes. Under
        // the map's lock nobody can take a new hold of it meanwhile.
        if Arc::strong_count(&self.lane) == 2 {
            lanes.remove(&self.key);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    // One thread: a spawned task's first poll, which queues it, ends before ours goes on.
    #[tokio::test]
    async fn one_key_goes_in_order_others_in_parallel_and_lanes_close() {
        let lanes = Arc::new(Lanes::default());
        let order = Arc::new(Mutex::new(Vec::new()));
        let first = lanes.enter("a").await;
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
            while Arc::strong_count(&lanes.lanes.lock().unwrap()["a"]) < 5 + 2 * i {
                tokio::task::yield_now().await;
            }
        }
        // Another key is not held up by "a".
        drop(lanes.enter("b").await);
        assert!(order.lock().unwrap().is_empty());
        drop(first);
        for w in waiting {
            w.await.unwrap();
        }
        assert_eq!(*order.lock().unwrap(), (0..50).collect::<Vec<_>>());
        assert_eq!(lanes.open(), 0, "every lane closed once empty");
    }
}
