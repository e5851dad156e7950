//! The SQLite store's index of pending timers by session and key, kept in memory by the
//! writer instead of on disk.
//!
//! An index on disk keyed by session puts each new timer on the page of its session,
//! so a batch of changes from many sessions rewrote one page of the index per change:
//! most of a commit's cost. Here the index costs no page at all. It is rebuilt from the
//! pending timers when the store opens, and it moves with the write transaction: every
//! change to it is undone if the change, or the batch, is rolled back.
//!
//! Entries are hashes of the session id and the key, with the timer's id. A hash can
//! collide, so a lookup yields candidates, and the store's SQL checks each candidate's
//! real session and key before it changes it.

use std::collections::BTreeSet;
use std::hash::BuildHasher;

/// One pending timer: the hashes of its session id and key, and its id.
type Entry = (u64, u64, i64);

pub struct PendingTimers {
    /// Seeded anew for each store, so nobody can choose ids that collide.
    hasher: std::collections::hash_map::RandomState,
    entries: BTreeSet<Entry>,
    /// What to do to undo each change since the last `keep`, oldest first.
    undo: Vec<Undo>,
}

enum Undo {
    Remove(Entry),
    Insert(Entry),
}

impl Default for PendingTimers {
    fn default() -> PendingTimers {
        PendingTimers {
            hasher: std::collections::hash_map::RandomState::new(),
            entries: BTreeSet::new(),
            undo: Vec::new(),
        }
    }
}

impl PendingTimers {
    /// The index of the timers that are pending when a store opens, given as their
    /// session ids, keys and ids.
    pub fn of<E>(
        pending: impl IntoIterator<Item = Result<(String, String, i64), E>>,
    ) -> Result<PendingTimers, E> {
        let mut timers = PendingTimers::default();
        let mut entries = Vec::new();
        for timer in pending {
            let (session, key, id) = timer?;
            entries.push(timers.entry(&session, &key, id));
        }
        // Sorted first, the set is built in one pass rather than entry by entry.
        entries.sort_unstable();
        timers.entries = BTreeSet::from_iter(entries);
        Ok(timers)
    }

    fn entry(&self, session: &str, key: &str, id: i64) -> Entry {
        (self.hasher.hash_one(session), self.hasher.hash_one(key), id)
    }

    /// How many timers are pending.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// Records that timer `id` of `session` with `key` is pending.
    pub fn add(&mut self, session: &str, key: &str, id: i64) {
        let e = self.entry(session, key, id);
        if self.entries.insert(e) {
            self.undo.push(Undo::Remove(e));
        }
    }

    /// Records that timer `id` is no longer pending.
    pub fn remove(&mut self, session: &str, key: &str, id: i64) {
        let e = self.entry(session, key, id);
        if self.entries.remove(&e) {
            self.undo.push(Undo::Insert(e));
        }
    }

    /// The ids of the pending timers that may be `session`'s with `key`: all of them,
    /// and, if hashes collide, others.
    pub fn candidates(&self, session: &str, key: &str) -> Vec<i64> {
        let (s, k, _) = self.entry(session, key, 0);
        self.entries
            .range((s, k, i64::MIN)..=(s, k, i64::MAX))
            .map(|&(_, _, id)| id)
            .collect()
    }

    /// The ids of the pending timers that may be `session`'s: all of them, and, if
    /// hashes collide, others.
    pub fn of_session(&self, session: &str) -> Vec<i64> {
        let s = self.hasher.hash_one(session);
        self.entries
            .range((s, u64::MIN, i64::MIN)..=(s, u64::MAX, i64::MAX))
            .map(|&(_, _, id)| id)
            .collect()
    }

    /// A point to undo back to.
    pub fn mark(&self) -> usize {
        self.undo.len()
    }

    /// Undoes every change since `mark`, newest first.
    pub fn undo_to(&mut self, mark: usize) {
        while self.undo.len() > mark {
            match self.undo.pop().expect("longer than the mark") {
                Undo::Remove(e) => self.entries.remove(&e),
                Undo::Insert(e) => self.entries.insert(e),
            };
        }
    }

    /// The changes so far are committed: they can no longer be undone.
    pub fn keep(&mut self) {
        self.undo.clear();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lookups_find_a_sessions_timers_by_key_and_all_of_them() {
        let opened = [("s1", "nudge", 1), ("s1", "later", 2), ("s2", "nudge", 3)]
            .map(|(s, k, id)| Ok::<_, ()>((s.to_string(), k.to_string(), id)));
        let mut p = PendingTimers::of(opened).unwrap();
        assert_eq!(p.candidates("s1", "nudge"), [1]);
        assert_eq!(p.candidates("s2", "nudge"), [3]);
        assert!(p.candidates("s3", "nudge").is_empty());
        let mut all = p.of_session("s1");
        all.sort_unstable();
        assert_eq!(all, [1, 2]);
        p.remove("s1", "nudge", 1);
        assert!(p.candidates("s1", "nudge").is_empty());
        assert_eq!(p.len(), 2);
    }

    #[test]
    fn undo_restores_the_state_at_a_mark_and_keep_makes_changes_final() {
        let mut p = PendingTimers::default();
        p.add("s1", "a", 1);
        p.keep();
        let start = p.mark();
        p.remove("s1", "a", 1);
        p.add("s1", "a", 2);
        let middle = p.mark();
        p.add("s1", "b", 3);
        // Removing what is not there, or adding twice, records nothing to undo.
        p.remove("s1", "c", 9);
        p.add("s1", "b", 3);
        p.undo_to(middle);
        assert_eq!(p.of_session("s1"), [2]);
        p.undo_to(start);
        assert_eq!(p.candidates("s1", "a"), [1]);
        p.remove("s1", "a", 1);
        p.keep();
        p.undo_to(0);
        assert!(p.is_empty(), "kept changes are not undone");
    }
}
