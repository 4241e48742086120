//! A partition's transaction rules (the participant of the ATC 2023 paper), over any key type
//! so that the engine (stored keys), the simulator and the model checker run the same rules.
//!
//! Each item has a *stamp*: the newest timestamp a transaction prepared or committed on it, or
//! a single-item write was given. A prepare is accepted only if its timestamp is newer than the
//! stamp and no other transaction holds the item prepared; accepting marks the item with the
//! transaction. While marked, single-item writes and other transactions meet a conflict. A
//! commit applies only for the transaction holding the mark; a commit or cancel for any other
//! (a duplicate, a late message after recovery) changes nothing.
//!
//! Stamps of items not touched for a while are folded into a floor ([`Participant::prune`]),
//! as a timestamp cache keeps its low-water mark: a forgotten item answers the floor, which is
//! never older than what it had, so pruning only ever refuses more.

use super::{Timestamp, TxId};
use std::collections::BTreeMap;

/// Why a participant refused.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Refusal {
    /// Another transaction holds the item prepared.
    Prepared(TxId),
    /// The item has a newer stamp than the prepare's timestamp: a later write or prepare
    /// already ordered itself after it.
    Stale,
}

/// The broken variants the model checker and the simulator must catch.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Default)]
pub enum ParticipantBug {
    #[default]
    None,
    /// A commit is applied whenever it arrives, ignoring that the item is now prepared by (or
    /// stamped with) a newer transaction.
    CommitIgnoresNewerPrepare,
    /// A prepare is accepted whatever the item's stamp.
    PrepareIgnoresStamp,
}

/// The mark of a transaction that prepared an item.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Mark {
    pub tx: TxId,
    pub ts: Timestamp,
}

/// What a commit message did to an item.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Applied {
    /// The transaction held the item: its write is applied now.
    Write,
    /// Nothing: a duplicate or stale commit.
    Nothing,
}

#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Participant<K: Ord> {
    marks: BTreeMap<K, Mark>,
    stamps: BTreeMap<K, Timestamp>,
    floor: Timestamp,
    pub bug: ParticipantBug,
}

impl<K: Ord> Default for Participant<K> {
    fn default() -> Self {
        Participant {
            marks: BTreeMap::new(),
            stamps: BTreeMap::new(),
            floor: Timestamp::ZERO,
            bug: ParticipantBug::None,
        }
    }
}

impl<K: Ord + Clone> Participant<K> {
    /// A participant with nothing prepared, running the rules `bug` breaks (none by default).
    pub fn with_bug(bug: ParticipantBug) -> Self {
        Participant {
            bug,
            ..Participant::default()
        }
    }

    /// The item's stamp: its own, or the floor when it was pruned or never stamped.
    pub fn stamp(&self, key: &K) -> Timestamp {
        self.stamps
            .get(key)
            .copied()
            .unwrap_or(self.floor)
            .max(self.floor)
    }

    /// The transaction holding the item prepared, if any.
    pub fn mark(&self, key: &K) -> Option<Mark> {
        self.marks.get(key).copied()
    }

    /// Whether any item is prepared (a host keeps its timers while one is).
    pub fn has_marks(&self) -> bool {
        !self.marks.is_empty()
    }

    /// The prepare rule. Accepting it again for the transaction that holds the mark is a
    /// duplicate and answers the same.
    pub fn prepare(&mut self, key: &K, tx: TxId, ts: Timestamp) -> Result<(), Refusal> {
        if let Some(mark) = self.marks.get(key) {
            return if mark.tx == tx {
                Ok(())
            } else {
                Err(Refusal::Prepared(mark.tx))
            };
        }
        if ts <= self.stamp(key) && self.bug != ParticipantBug::PrepareIgnoresStamp {
            return Err(Refusal::Stale);
        }
        self.marks.insert(key.clone(), Mark { tx, ts });
        self.stamps.insert(key.clone(), ts);
        Ok(())
    }

    /// The commit rule: the transaction's write applies only if it holds the mark.
    pub fn commit(&mut self, key: &K, tx: TxId, ts: Timestamp) -> Applied {
        match self.marks.get(key) {
            Some(mark) if mark.tx == tx => {
                self.marks.remove(key);
                let stamp = self.stamp(key).max(ts);
                self.stamps.insert(key.clone(), stamp);
                Applied::Write
            }
            _ if self.bug == ParticipantBug::CommitIgnoresNewerPrepare => Applied::Write,
            _ => Applied::Nothing,
        }
    }

    /// Cancels the transaction's mark on the item, if it holds one, and stamps the item with
    /// the transaction's timestamp: a prepare of it still in flight (the network reorders, and
    /// a recovering coordinator cancels without waiting for votes) then arrives too old and is
    /// refused, instead of marking the item for a transaction nobody will finish.
    pub fn cancel(&mut self, key: &K, tx: TxId, ts: Timestamp) {
        if self.marks.get(key).is_some_and(|m| m.tx == tx) {
            self.marks.remove(key);
        }
        let stamp = self.stamp(key).max(ts);
        self.stamps.insert(key.clone(), stamp);
    }

    /// A single-item write at the participant's clock `now`: refused while the item is
    /// prepared, else stamped after everything the item has seen. Returns its timestamp.
    pub fn write(&mut self, key: &K, now: Timestamp) -> Result<Timestamp, Refusal> {
        if let Some(mark) = self.marks.get(key) {
            return Err(Refusal::Prepared(mark.tx));
        }
        let ts = now.max(self.stamp(key).successor());
        self.stamps.insert(key.clone(), ts);
        Ok(ts)
    }

    /// A read of a read-only transaction: refused while the item is prepared. Returns the
    /// item's stamp, which the second read compares.
    pub fn read(&self, key: &K) -> Result<Timestamp, Refusal> {
        match self.marks.get(key) {
            Some(mark) => Err(Refusal::Prepared(mark.tx)),
            None => Ok(self.stamp(key)),
        }
    }

    /// Forgets the stamps of unmarked items older than `before`, raising the floor to the
    /// newest of them.
    pub fn prune(&mut self, before: Timestamp) {
        let marks = &self.marks;
        let mut floor = self.floor;
        self.stamps.retain(|key, ts| {
            let keep = *ts >= before || marks.contains_key(key);
            if !keep {
                floor = floor.max(*ts);
            }
            keep
        });
        self.floor = floor;
    }

    /// The participant's state as parts, for a host that persists it (the simulator's
    /// snapshots): the marks, the stamps and the floor.
    #[allow(clippy::type_complexity)]
    pub fn parts(&self) -> (Vec<(K, Mark)>, Vec<(K, Timestamp)>, Timestamp) {
        let marks = self.marks.iter().map(|(k, m)| (k.clone(), *m)).collect();
        let stamps = self.stamps.iter().map(|(k, t)| (k.clone(), *t)).collect();
        (marks, stamps, self.floor)
    }

    /// A participant with the state [`parts`](Self::parts) gave, running the rules `bug`
    /// breaks.
    pub fn from_parts(
        marks: Vec<(K, Mark)>,
        stamps: Vec<(K, Timestamp)>,
        floor: Timestamp,
        bug: ParticipantBug,
    ) -> Self {
        Participant {
            marks: marks.into_iter().collect(),
            stamps: stamps.into_iter().collect(),
            floor,
            bug,
        }
    }

    /// A participant for keys split off this one: nothing prepared (a host splits only
    /// without marks), every stamp folded into the floor, so that it refuses at least what
    /// this one would.
    pub fn split_off(&self) -> Self {
        let floor = self
            .stamps
            .values()
            .copied()
            .fold(self.floor, Timestamp::max);
        Participant {
            floor,
            bug: self.bug,
            ..Participant::default()
        }
    }

    /// How many stamps are kept (for the host's pruning policy).
    pub fn stamps_len(&self) -> usize {
        self.stamps.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ts(t: u64) -> Timestamp {
        Timestamp::new(t, 0, 0)
    }

    #[test]
    fn a_split_off_participant_refuses_what_its_parent_would() {
        let mut p = Participant::<u8>::default();
        p.write(&1, ts(30)).unwrap();
        p.write(&2, ts(10)).unwrap();
        let child = p.split_off();
        assert!(!child.has_marks());
        assert_eq!(child.stamp(&2), ts(30), "every stamp folded into the floor");
        assert_eq!(child.clone().prepare(&9, 1, ts(20)), Err(Refusal::Stale));
        let (marks, stamps, floor) = p.parts();
        assert_eq!(Participant::from_parts(marks, stamps, floor, p.bug), p);
    }

    #[test]
    fn a_prepared_item_refuses_writes_and_other_transactions_until_commit() {
        let mut p = Participant::<u8>::default();
        assert_eq!(p.prepare(&1, 7, ts(10)), Ok(()));
        assert_eq!(p.prepare(&1, 7, ts(10)), Ok(()), "a duplicate prepare");
        assert_eq!(p.prepare(&1, 8, ts(20)), Err(Refusal::Prepared(7)));
        assert_eq!(p.write(&1, ts(30)), Err(Refusal::Prepared(7)));
        assert_eq!(p.read(&1), Err(Refusal::Prepared(7)));
        assert_eq!(p.commit(&1, 7, ts(10)), Applied::Write);
        assert_eq!(
            p.commit(&1, 7, ts(10)),
            Applied::Nothing,
            "a duplicate commit"
        );
        assert_eq!(
            p.write(&1, ts(5)),
            Ok(ts(10).successor()),
            "stamped after the commit"
        );
    }

    #[test]
    fn a_prepare_older_than_the_stamp_is_refused_and_a_cancel_keeps_the_stamp() {
        let mut p = Participant::<u8>::default();
        assert_eq!(p.write(&1, ts(50)), Ok(ts(50)));
        assert_eq!(p.prepare(&1, 7, ts(40)), Err(Refusal::Stale));
        assert_eq!(p.prepare(&1, 7, ts(60)), Ok(()));
        p.cancel(&1, 7, ts(60));
        assert_eq!(p.mark(&1), None);
        assert_eq!(p.prepare(&1, 8, ts(55)), Err(Refusal::Stale));
        p.bug = ParticipantBug::PrepareIgnoresStamp;
        assert_eq!(p.prepare(&1, 8, ts(55)), Ok(()));
    }

    #[test]
    fn a_late_commit_changes_nothing_unless_the_rule_is_broken() {
        let mut p = Participant::<u8>::default();
        p.prepare(&1, 7, ts(10)).unwrap();
        p.cancel(&1, 7, ts(10));
        p.prepare(&1, 8, ts(20)).unwrap();
        assert_eq!(p.commit(&1, 7, ts(10)), Applied::Nothing);
        p.bug = ParticipantBug::CommitIgnoresNewerPrepare;
        assert_eq!(p.commit(&1, 7, ts(10)), Applied::Write);
    }

    #[test]
    fn a_prepare_arriving_after_its_cancel_is_refused() {
        let mut p = Participant::<u8>::default();
        p.cancel(&1, 7, ts(10));
        assert_eq!(p.prepare(&1, 7, ts(10)), Err(Refusal::Stale));
        assert_eq!(p.mark(&1), None);
    }

    #[test]
    fn pruning_raises_the_floor_and_keeps_marked_items() {
        let mut p = Participant::<u8>::default();
        p.write(&1, ts(10)).unwrap();
        p.write(&2, ts(20)).unwrap();
        p.prepare(&3, 9, ts(5)).unwrap();
        p.prune(ts(15));
        assert_eq!(p.stamps_len(), 2, "item 2 is recent and item 3 is prepared");
        assert_eq!(p.stamp(&1), ts(10), "the floor");
        assert_eq!(
            p.stamp(&4),
            ts(10),
            "an item never stamped answers the floor"
        );
        assert_eq!(p.prepare(&4, 10, ts(9)), Err(Refusal::Stale));
    }
}
