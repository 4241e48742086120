//! The transaction coordinator as a pure state machine (the ATC 2023 paper's coordinator):
//! it prepares every action on its item's participant, records the decision in the ledger,
//! then commits or cancels every participant. A host delivers its messages (in-process in
//! `serve`, over the network in the simulator) and reports the answers back.
//!
//! The decision is the ledger's: [`Coordinator::on_vote`] proposes one once every vote is in
//! (or at the first refusal), the host records it with [`Ledger::decide`], which keeps the
//! first decision recorded, and hands back what the ledger holds to
//! [`Coordinator::decided`]. A coordinator that takes over a stalled transaction
//! ([`Coordinator::recover`]) therefore finishes it the same way the first would have.

use super::{Timestamp, TxId};
use std::collections::BTreeMap;

/// A transaction's outcome, once decided.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Decision {
    Commit,
    Cancel,
}

/// A message the coordinator asks its host to deliver to action `i`'s participant.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Send {
    Prepare(usize),
    Commit(usize),
    Cancel(usize),
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Phase {
    /// Prepares sent, votes being collected.
    Preparing,
    /// A decision proposed to the ledger, not yet recorded.
    Deciding(Decision),
    /// The decision recorded and sent; acknowledgements being collected.
    Finishing(Decision),
    /// Every participant acknowledged the decision.
    Done(Decision),
}

#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Coordinator {
    pub tx: TxId,
    pub ts: Timestamp,
    /// Per action: `None` until its vote arrives, then whether its participant accepted.
    votes: Vec<Option<bool>>,
    acks: Vec<bool>,
    pub phase: Phase,
}

impl Coordinator {
    /// Starts transaction `tx` at `ts` over `actions` actions: prepare them all.
    pub fn start(tx: TxId, ts: Timestamp, actions: usize) -> (Coordinator, Vec<Send>) {
        let coordinator = Coordinator {
            tx,
            ts,
            votes: vec![None; actions],
            acks: vec![false; actions],
            phase: Phase::Preparing,
        };
        (coordinator, (0..actions).map(Send::Prepare).collect())
    }

    /// Takes over a stalled transaction from the ledger's record: a decision recorded is sent
    /// again; with none, the transaction is cancelled (the ledger keeps whichever decision is
    /// recorded first, so a slow first coordinator cannot commit it afterwards).
    pub fn recover(
        tx: TxId,
        ts: Timestamp,
        actions: usize,
        recorded: Option<Decision>,
    ) -> Coordinator {
        Coordinator {
            tx,
            ts,
            votes: vec![None; actions],
            acks: vec![false; actions],
            phase: Phase::Deciding(recorded.unwrap_or(Decision::Cancel)),
        }
    }

    /// Action `i`'s vote. Returns the decision to record once it is known: cancel at the
    /// first refusal, commit when every action accepted. Votes after that change nothing.
    pub fn on_vote(&mut self, i: usize, accepted: bool) -> Option<Decision> {
        if self.phase != Phase::Preparing || i >= self.votes.len() {
            return None;
        }
        self.votes[i] = Some(accepted);
        let decision = if !accepted {
            Decision::Cancel
        } else if self.votes.iter().all(|v| *v == Some(true)) {
            Decision::Commit
        } else {
            return None;
        };
        self.phase = Phase::Deciding(decision);
        Some(decision)
    }

    /// The decision the ledger holds for the transaction: send it to every participant (a
    /// cancel too, since a prepare may have been accepted without its vote arriving).
    pub fn decided(&mut self, recorded: Decision) -> Vec<Send> {
        self.phase = Phase::Finishing(recorded);
        let send = match recorded {
            Decision::Commit => Send::Commit,
            Decision::Cancel => Send::Cancel,
        };
        (0..self.acks.len()).map(send).collect()
    }

    /// Action `i`'s participant acknowledged the decision. Returns true when all have.
    pub fn on_ack(&mut self, i: usize) -> bool {
        let Phase::Finishing(decision) = self.phase else {
            return false;
        };
        if let Some(ack) = self.acks.get_mut(i) {
            *ack = true;
        }
        if self.acks.iter().all(|a| *a) {
            self.phase = Phase::Done(decision);
            return true;
        }
        false
    }

    /// The votes in: which actions refused (for the cancellation reasons).
    pub fn refused(&self) -> impl Iterator<Item = usize> + '_ {
        self.votes
            .iter()
            .enumerate()
            .filter(|(_, v)| **v == Some(false))
            .map(|(i, _)| i)
    }
}

/// What the ledger knows of one transaction.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Record {
    pub ts: Timestamp,
    pub actions: usize,
    pub decision: Option<Decision>,
    /// Every participant acknowledged the decision.
    pub finished: bool,
}

/// The coordinators' ledger (a table of their own in the service): every transaction begun,
/// its decision once recorded, and whether it finished. The first decision recorded wins.
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash)]
pub struct Ledger {
    records: BTreeMap<TxId, Record>,
}

impl Ledger {
    pub fn begin(&mut self, tx: TxId, ts: Timestamp, actions: usize) {
        self.records.entry(tx).or_insert(Record {
            ts,
            actions,
            decision: None,
            finished: false,
        });
    }

    /// Records `decision` unless one is recorded already; returns the one recorded.
    pub fn decide(&mut self, tx: TxId, decision: Decision) -> Option<Decision> {
        let record = self.records.get_mut(&tx)?;
        Some(*record.decision.get_or_insert(decision))
    }

    pub fn finish(&mut self, tx: TxId) {
        if let Some(record) = self.records.get_mut(&tx) {
            record.finished = true;
        }
    }

    pub fn get(&self, tx: TxId) -> Option<&Record> {
        self.records.get(&tx)
    }

    /// Transactions begun and not finished, for a recovering coordinator.
    pub fn unfinished(&self) -> impl Iterator<Item = (TxId, &Record)> {
        self.records
            .iter()
            .filter(|(_, r)| !r.finished)
            .map(|(tx, r)| (*tx, r))
    }

    /// Drops finished records (a host keeps the ledger bounded).
    pub fn forget_finished(&mut self) {
        self.records.retain(|_, r| !r.finished);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_vote_accepted_commits_and_a_refusal_cancels_at_once() {
        let ts = Timestamp::new(1, 0, 0);
        let (mut c, sends) = Coordinator::start(1, ts, 2);
        assert_eq!(sends, vec![Send::Prepare(0), Send::Prepare(1)]);
        assert_eq!(c.on_vote(0, true), None);
        assert_eq!(c.on_vote(1, true), Some(Decision::Commit));
        assert_eq!(
            c.decided(Decision::Commit),
            vec![Send::Commit(0), Send::Commit(1)]
        );
        assert!(!c.on_ack(0));
        assert!(c.on_ack(1));
        assert_eq!(c.phase, Phase::Done(Decision::Commit));

        let (mut c, _) = Coordinator::start(2, ts, 3);
        assert_eq!(c.on_vote(1, false), Some(Decision::Cancel));
        assert_eq!(c.on_vote(0, true), None, "after the decision");
        assert_eq!(c.refused().collect::<Vec<_>>(), vec![1]);
    }

    #[test]
    fn the_ledger_keeps_the_first_decision_so_recovery_agrees_with_a_slow_coordinator() {
        let ts = Timestamp::new(1, 0, 0);
        let mut ledger = Ledger::default();
        ledger.begin(1, ts, 2);
        let mut recovering = Coordinator::recover(1, ts, 2, ledger.get(1).unwrap().decision);
        assert_eq!(recovering.phase, Phase::Deciding(Decision::Cancel));
        assert_eq!(ledger.decide(1, Decision::Cancel), Some(Decision::Cancel));
        assert_eq!(recovering.decided(Decision::Cancel).len(), 2);
        // The first coordinator, slow, collected every vote and proposes commit: too late.
        assert_eq!(ledger.decide(1, Decision::Commit), Some(Decision::Cancel));
        assert_eq!(ledger.unfinished().count(), 1);
        ledger.finish(1);
        ledger.forget_finished();
        assert_eq!(ledger.get(1), None);
    }
}
