//! A leader's flow control, per peer: one Append with entries (or one Snapshot) in flight at
//! a time, and no heartbeat a peer does not need.
//!
//! [`Flow`] is a pure state machine over time the host passes in (nanoseconds on its monotonic
//! clock, as for [`Lease`](crate::replication::lease::Lease)); the host asks it about every
//! Append before sending it. Its rules:
//! - an Append with entries to a peer that has one in flight, sent less than an `interval`
//!   ago, is held back: what a leader proposes meanwhile travels together in the next Append,
//!   sent when the peer answers it ([`Flow::resume`]; an acceptance short of what is in
//!   flight answers an earlier Append, not this one) or, if no answer comes, once the one in
//!   flight is overdue (a retransmission, since the replica resends everything the peer is
//!   not known to hold);
//! - a heartbeat (an empty Append) is skipped for a peer that got an Append within the
//!   interval carrying the same commit index: that Append told it everything a heartbeat
//!   would.
//!
//! The guarantee: flow control only delays and merges Appends, never drops what a peer needs.
//! Held-back entries go out when the peer answers, or at the first heartbeat round an interval
//! after the Append in flight was sent (a heartbeat round never skips an Append with entries);
//! and at every heartbeat round each peer has been sent an Append within the last interval,
//! so a reachable leader's followers keep hearing from it (their election timers are longer
//! than the interval).

use crate::replication::raft::{Message, Outbox, Replica};

/// What a leader sent each peer, for its flow control.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Flow {
    /// How long an Append with entries may stay unanswered before the next one goes, and how
    /// long an Append stands in for a heartbeat: the heartbeat interval.
    interval: u64,
    /// Per peer: when the last Append (of any kind) went to it, and the commit index it
    /// carried.
    sent: Vec<Option<(u64, u64)>>,
    /// Per peer: when an Append with entries (or a Snapshot) went to it and was not answered
    /// yet, and the last index it carried.
    inflight: Vec<Option<(u64, u64)>>,
}

impl Flow {
    /// Flow control for a group of `group_size`, nothing sent yet.
    pub fn new(group_size: usize, interval: u64) -> Flow {
        Flow {
            interval,
            sent: vec![None; group_size],
            inflight: vec![None; group_size],
        }
    }

    pub fn interval(&self) -> u64 {
        self.interval
    }

    /// Whether `message`, about to go to `peer` at `now`, goes (`true`, and it is recorded as
    /// sent) or is held back (`false`): an Append with entries, or a Snapshot, while another
    /// is in flight to `peer` and not overdue. Anything else goes.
    pub fn admit<E, S>(&mut self, peer: usize, message: &Message<E, S>, now: u64) -> bool {
        let overdue = |inflight: Option<(u64, u64)>| {
            inflight.is_none_or(|(at, _)| now >= at.saturating_add(self.interval))
        };
        if let Message::Snapshot { index, .. } = message {
            // A snapshot is the largest message there is: one in flight at a time, like an
            // Append with entries (a heartbeat round would otherwise send it again).
            if !overdue(self.inflight[peer]) {
                return false;
            }
            self.inflight[peer] = Some((now, *index));
            return true;
        }
        let Message::Append {
            entries,
            commit,
            prev_index,
            ..
        } = message
        else {
            return true;
        };
        if !entries.is_empty() {
            if !overdue(self.inflight[peer]) {
                return false;
            }
            self.inflight[peer] = Some((now, prev_index + entries.len() as u64));
        }
        self.sent[peer] = Some((now, *commit));
        true
    }

    /// `peer` sent `reply`. A rejection, or an acceptance reaching the last index in flight,
    /// answers what is in flight: nothing is in flight to it now. An acceptance short of it
    /// answers an earlier Append (a heartbeat, or one delivered late): what is in flight stays
    /// so, and the next Append waits for its answer or until it is overdue.
    /// Anything but an AppendReply answers nothing.
    pub fn answered<E, S>(&mut self, peer: usize, reply: &Message<E, S>) {
        let Message::AppendReply {
            success,
            match_index,
            ..
        } = reply
        else {
            return;
        };
        if *success && self.inflight[peer].is_some_and(|(_, upto)| *match_index < upto) {
            return;
        }
        self.inflight[peer] = None;
    }

    /// After `peer` accepted an Append: the entries proposed meanwhile (held back while it was
    /// in flight) go to `peer` now, unless the replica's own answer (`out`) already sends it
    /// something.
    pub fn resume<E: Clone, S: Clone>(
        replica: &Replica<E, S>,
        peer: usize,
        out: &mut Outbox<E, S>,
    ) {
        if out.iter().any(|(to, _)| *to == peer) {
            return;
        }
        if let Some(m @ Message::Append { .. }) = replica.append_to(peer)
            && matches!(&m, Message::Append { entries, .. } if !entries.is_empty())
        {
            out.push((peer, m));
        }
    }

    /// Drops from a leader's heartbeat round (`out`, from [`Replica::heartbeat`]) the empty
    /// Appends a peer does not need at `now`: one got an Append within the interval carrying
    /// the commit index the heartbeat carries. An Append with entries is a retransmission: it
    /// stays.
    pub fn skip_heartbeats<E, S>(&self, out: &mut Outbox<E, S>, now: u64) {
        out.retain(|(peer, m)| match (m, self.sent[*peer]) {
            (
                Message::Append {
                    entries, commit, ..
                },
                Some((at, carried)),
            ) => {
                !entries.is_empty() || carried < *commit || at.saturating_add(self.interval) <= now
            }
            _ => true,
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::replication::raft::LogEntry;

    const INTERVAL: u64 = 50;

    fn append(entries: usize, commit: u64) -> Message<u32> {
        Message::Append {
            term: 1,
            prev_index: 0,
            prev_term: 0,
            entries: vec![
                LogEntry {
                    term: 1,
                    payload: Some(7)
                };
                entries
            ],
            commit,
        }
    }

    fn accepted(match_index: u64) -> Message<u32> {
        Message::AppendReply {
            term: 1,
            success: true,
            match_index,
        }
    }

    fn rejected() -> Message<u32> {
        Message::AppendReply {
            term: 1,
            success: false,
            match_index: 0,
        }
    }

    #[test]
    fn one_snapshot_in_flight_per_peer() {
        let mut flow = Flow::new(3, INTERVAL);
        let snapshot: Message<u32> = Message::Snapshot {
            term: 1,
            index: 9,
            last_term: 1,
            data: (),
        };
        assert!(flow.admit(1, &snapshot, 0));
        assert!(
            !flow.admit(1, &snapshot, INTERVAL - 1),
            "held while in flight"
        );
        assert!(!flow.admit(1, &append(2, 0), 1), "entries wait for it too");
        assert!(flow.admit(2, &snapshot, 1), "other peers are not held");
        assert!(flow.admit(1, &snapshot, INTERVAL), "overdue: sent again");
        flow.answered(1, &accepted(9));
        assert!(
            flow.admit(1, &snapshot, INTERVAL + 1),
            "answered: the next goes"
        );
    }

    #[test]
    fn one_append_with_entries_in_flight_per_peer() {
        let mut flow = Flow::new(3, INTERVAL);
        let vote: Message<u32> = Message::Vote {
            term: 1,
            granted: true,
        };
        assert!(flow.admit(1, &vote, 0), "only Appends are flow controlled");
        assert!(flow.admit(1, &append(1, 0), 1_000));
        assert!(!flow.admit(1, &append(2, 0), 1_000), "one in flight");
        assert!(!flow.admit(1, &append(2, 0), 1_049));
        assert!(flow.admit(2, &append(2, 0), 1_049), "per peer");
        assert!(
            flow.admit(1, &append(0, 0), 1_049),
            "an empty Append always goes"
        );
        // Overdue at exactly one interval: the retransmission goes and is in flight now.
        assert!(flow.admit(1, &append(2, 0), 1_050));
        assert!(!flow.admit(1, &append(3, 0), 1_099));
        // An answer (accepted or rejected) frees the peer at once.
        flow.answered(1, &accepted(2));
        assert!(flow.admit(1, &append(3, 0), 1_099));
        flow.answered(1, &rejected());
        assert!(flow.admit(1, &append(3, 0), 1_099));
    }

    #[test]
    fn an_acceptance_of_an_earlier_append_leaves_the_one_in_flight() {
        let mut flow = Flow::new(3, INTERVAL);
        assert!(flow.admit(1, &append(3, 0), 1_000));
        // The reply to a heartbeat (or a late Append) short of index 3.
        flow.answered(1, &accepted(1));
        assert!(!flow.admit(1, &append(4, 0), 1_010), "still in flight");
        flow.answered(1, &accepted(3));
        assert!(flow.admit(1, &append(4, 0), 1_010), "answered");
        // Other messages answer nothing; overdue still resends, whatever the stale answers.
        flow.answered(
            1,
            &Message::<u32>::Vote {
                term: 1,
                granted: true,
            },
        );
        assert!(!flow.admit(1, &append(5, 0), 1_020));
        flow.answered(1, &accepted(0));
        assert!(flow.admit(1, &append(5, 0), 1_060));
    }

    #[test]
    fn heartbeats_are_skipped_only_after_a_recent_append_with_the_same_commit() {
        let mut flow = Flow::new(3, INTERVAL);
        assert!(flow.admit(1, &append(1, 4), 1_000));
        let round = |commit| vec![(1, append(0, commit)), (2, append(0, commit))];
        let mut out = round(4);
        flow.skip_heartbeats(&mut out, 1_049);
        let peers: Vec<usize> = out.iter().map(|(p, _)| *p).collect();
        assert_eq!(
            peers,
            vec![2],
            "peer 1 heard commit 4 within the interval; 2 nothing"
        );
        let mut out = round(4);
        flow.skip_heartbeats(&mut out, 1_050);
        assert_eq!(out.len(), 2, "a whole interval later the heartbeat goes");
        let mut out = round(5);
        flow.skip_heartbeats(&mut out, 1_001);
        assert_eq!(out.len(), 2, "a newer commit index goes at once");
        let mut out = vec![(1, append(1, 4))];
        flow.skip_heartbeats(&mut out, 1_001);
        assert_eq!(out.len(), 1, "entries are a retransmission, never skipped");
        // A held-back Append records nothing: the heartbeat after it still counts from the
        // Append that went.
        assert!(!flow.admit(1, &append(2, 6), 1_010));
        let mut out = vec![(1, append(0, 4))];
        flow.skip_heartbeats(&mut out, 1_020);
        assert!(out.is_empty());
    }

    #[test]
    fn an_accepted_append_releases_what_was_held_back() {
        let mut leader: Replica<u32> = Replica::bootstrap(0, 3, 0);
        let mut follower: Replica<u32> = Replica::bootstrap(1, 3, 0);
        let mut out = Vec::new();
        Flow::resume(&leader, 1, &mut out);
        assert!(out.is_empty(), "nothing proposed: nothing to release");
        let (_, first) = leader.propose(7).unwrap();
        let (_, m) = first.into_iter().find(|(to, _)| *to == 1).unwrap();
        leader.propose(8).unwrap();
        let replies = follower.handle(0, m);
        let mut out = Vec::new();
        for (_, reply) in replies {
            leader.handle_into(1, reply, &mut out);
        }
        Flow::resume(&leader, 1, &mut out);
        let [(1, Message::Append { entries, .. })] = out.as_slice() else {
            panic!("the entry proposed meanwhile goes: {out:?}")
        };
        assert_eq!(
            entries.iter().map(|e| e.payload).collect::<Vec<_>>(),
            vec![Some(8)]
        );
        // Already sending the peer something: nothing more.
        Flow::resume(&leader, 1, &mut out);
        assert_eq!(out.len(), 1);
        let mut out = vec![(2, append(0, 0))];
        Flow::resume(&leader, 2, &mut out);
        assert_eq!(out.len(), 1);
    }
}
