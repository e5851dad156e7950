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
//! collide, so a lookup yields candidates, and the store reads each candidate's real
//! session and key by id before it changes it.
//!
//! Only the writer changes it, inside its transaction. Another process writing the
//! same file would go unseen, so the store locks the file (see `SqliteStore::open`).

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
    /// Every hash is 0, so that tests can see candidates that are not what was asked.
    #[cfg(test)]
    colliding: bool,
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
            #[cfg(test)]
            colliding: false,
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
        // From a whole `Vec`, the set is sorted and built in one pass, not entry by entry.
        timers.entries = BTreeSet::from_iter(entries);
        Ok(timers)
    }

    fn entry(&self, session: &str, key: &str, id: i64) -> Entry {
        (self.hash(session), self.hash(key), id)
    }

    fn hash(&self, text: &str) -> u64 {
        #[cfg(test)]
        if self.colliding {
            return 0;
        }
        self.hasher.hash_one(text)
    }

    /// An index whose hashes all collide.
    #[cfg(test)]
    pub fn colliding() -> PendingTimers {
        PendingTimers {
            colliding: true,
            ..PendingTimers::default()
        }
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
        let s = self.hash(session);
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
    use proptest::prelude::*;

    /// The model's pending timers: session id, key and id, as strings and numbers.
    type Model = BTreeSet<(String, String, i64)>;

    #[derive(Debug, Clone)]
    enum Op {
        Add(u8, u8, i64),
        Remove(u8, u8, i64),
        Mark,
        UndoToLastMark,
        Keep,
    }

    fn op() -> impl Strategy<Value = Op> {
        prop_oneof![
            4 => (0..3u8, 0..3u8, 0..6i64).prop_map(|(s, k, id)| Op::Add(s, k, id)),
            3 => (0..3u8, 0..3u8, 0..6i64).prop_map(|(s, k, id)| Op::Remove(s, k, id)),
            1 => Just(Op::Mark),
            1 => Just(Op::UndoToLastMark),
            1 => Just(Op::Keep),
        ]
    }

    proptest! {
        #![proptest_config(ProptestConfig { cases: 500, failure_persistence: None, ..ProptestConfig::default() })]

        /// Against a model that keeps a copy of the whole set at every mark, as
        /// savepoints do: lookups always agree, and undoing restores the copy.
        #[test]
        fn the_index_agrees_with_a_model_of_savepoints(ops in proptest::collection::vec(op(), 0..60)) {
            let mut index = PendingTimers::default();
            let mut model = Model::new();
            let mut marks: Vec<(usize, Model)> = Vec::new();
            for op in ops {
                match op {
                    Op::Add(s, k, id) => {
                        index.add(&format!("s{s}"), &format!("k{k}"), id);
                        model.insert((format!("s{s}"), format!("k{k}"), id));
                    }
                    Op::Remove(s, k, id) => {
                        index.remove(&format!("s{s}"), &format!("k{k}"), id);
                        model.remove(&(format!("s{s}"), format!("k{k}"), id));
                    }
                    Op::Mark => marks.push((index.mark(), model.clone())),
                    Op::UndoToLastMark => {
                        if let Some((mark, copy)) = marks.pop() {
                            index.undo_to(mark);
                            model = copy;
                        }
                    }
                    Op::Keep => {
                        index.keep();
                        marks.clear();
                    }
                }
                prop_assert_eq!(index.len(), model.len());
                for s in 0..3 {
                    let session = format!("s{s}");
                    let mut all = index.of_session(&session);
                    all.sort_unstable();
                    let mut expected: Vec<i64> = model.iter().filter(|e| e.0 == session).map(|e| e.2).collect();
                    expected.sort_unstable();
                    prop_assert_eq!(all, expected);
                    for k in 0..3 {
                        let key = format!("k{k}");
                        let expected: Vec<i64> = model.iter().filter(|e| e.0 == session && e.1 == key).map(|e| e.2).collect();
                        prop_assert_eq!(index.candidates(&session, &key), expected);
                    }
                }
            }
        }
    }

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
