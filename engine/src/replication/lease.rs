//! Leader leases and vote loyalty, as DynamoDB's partition leaders hold them: a leader serves
//! strongly consistent reads from its own state, without a round through its log, while a
//! majority of its group recently acknowledged it; and no replica helps elect another leader
//! (votes or campaigns) within the lease window of hearing from the current one.
//!
//! [`Lease`] is one replica's half of the rule, a pure state machine over time the host passes
//! in: nanoseconds on the host's monotonic clock (any origin, the same for every call on one
//! replica; a leader compares only its own clock readings, since an acknowledgement echoes the
//! leader's send stamp). The engine has no clock.
//!
//! The guarantee: while a leader's lease [`holds`](Lease::holds), no other replica can be
//! elected, so the leader's applied state holds every acknowledged write. A leader of term `t`
//! sends an Append at its time `s`; a follower accepts it at `r >= s` and stays
//! [`loyal`](Lease::loyal) until `r + window`: it neither votes nor campaigns. The leader
//! counts the lease from `s`, so it ends at `s + window <= r + window`, before the follower's
//! loyalty does (clocks that run at the same rate; skew of the wall clock does not matter). A
//! lease holds only once a majority (the leader counting itself) acknowledged within the
//! window, and a leased leader ignores candidates too, so every majority that could elect a
//! new leader meets a replica that refuses. A restart forgets what the replica heard: it is
//! loyal for a whole window from the restart, as if it had just heard the leader.
//!
//! The host decides when a replica campaigns (its election timer, never shorter than the
//! window) and may campaign early only outside the loyalty window. The schedule test
//! (`lease/schedules.rs`) checks the guarantee after every event of seeded schedules in time
//! (latency, cut-off leaders, restarts, early timers) and fails for each [`BrokenLease`];
//! the simulator catches `RenewedOnSend` as a stale read (`--inject-bug
//! lease-renewed-on-send`, scenario `ci/stale-leader-reads`).

use crate::replication::raft::Replica;

/// The lease rule broken on purpose (the schedule test; the simulator's `--inject-bug` for
/// `RenewedOnSend`): each is consulted at the one place the rule is applied; a lease breaks none unless its host calls
/// [`Lease::break_rule`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum BrokenLease {
    /// A follower votes for candidates and campaigns inside the loyalty window (a leased
    /// leader still ignores candidates).
    Disloyal,
    /// A leader renews its lease whenever it sends an Append, as if sending were being heard,
    /// not only when a majority acknowledges one: once its followers stop hearing it, its
    /// lease outlives their loyalty (a cut-off leader that keeps sending heartbeats keeps it).
    RenewedOnSend,
}

/// One replica's lease state: when it last heard its leader (loyalty), and, as a leader, the
/// send stamps of the Appends its peers accepted in its term (the lease).
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Lease {
    /// How long a lease lasts and a follower stays loyal: the shortest election timeout.
    window: u64,
    /// When this replica last accepted an Append from its term's leader (or started).
    heard: u64,
    /// Leader: the term `acked` belongs to, and per peer the send stamp of the newest Append
    /// it accepted in that term.
    term: u64,
    acked: Vec<Option<u64>>,
    /// Leader: the term and time of the newest Append it sent (only the broken variant
    /// `RenewedOnSend` counts a lease from it).
    sent: Option<(u64, u64)>,
    broken: Option<BrokenLease>,
}

impl Lease {
    /// The lease state of a replica of a group of `group_size` that starts (or restarts) at
    /// `now`: loyal for a whole window, leader of no term yet.
    pub fn new(group_size: usize, window: u64, now: u64) -> Lease {
        Lease {
            window,
            heard: now,
            term: 0,
            acked: vec![None; group_size],
            sent: None,
            broken: None,
        }
    }

    /// From now on, this lease breaks `rule` (a deliberately broken variant for tests).
    pub fn break_rule(&mut self, rule: BrokenLease) {
        self.broken = Some(rule);
    }

    pub fn window(&self) -> u64 {
        self.window
    }

    /// This replica, a follower, accepted an Append from the leader of its current term at
    /// `now`.
    pub fn heard(&mut self, now: u64) {
        self.heard = now;
    }

    /// Within the lease window of the last leader this replica heard: it must not vote for
    /// another candidate or campaign.
    pub fn loyal(&self, now: u64) -> bool {
        if self.broken == Some(BrokenLease::Disloyal) {
            return false;
        }
        now < self.heard.saturating_add(self.window)
    }

    /// A leader of `term` learns at `now` that peer `from` accepted its Append sent at
    /// `stamp` (the stamp the Append carried, echoed by the reply).
    pub fn acknowledged(&mut self, term: u64, from: usize, stamp: u64, now: u64) {
        assert!(term >= self.term, "a leader's term never goes back");
        assert!(stamp <= now, "an echoed stamp is a past send time");
        if self.term != term {
            self.term = term;
            self.acked.fill(None);
        }
        let slot = &mut self.acked[from];
        *slot = (*slot).max(Some(stamp));
    }

    /// A leader of `term` sends an Append at `now`. (A lease counts from what a majority
    /// acknowledged, not from this: only the broken variant `RenewedOnSend` uses it.)
    pub fn sent(&mut self, term: u64, now: u64) {
        self.sent = Some((term, now));
    }

    /// When the lease of the leader of `term` started: the send stamp of the newest Append
    /// that a majority, the leader included, accepted in that term (`None` if no majority
    /// did). In a group of three the leader and any one follower are a majority: the newest
    /// Append any follower acknowledged.
    fn start(&self, term: u64) -> Option<u64> {
        if term != self.term {
            return None;
        }
        let followers = self.acked.len() / 2;
        let mut stamps: Vec<u64> = self.acked.iter().flatten().copied().collect();
        stamps.sort_unstable_by(|a, b| b.cmp(a));
        stamps.get(followers.checked_sub(1)?).copied()
    }

    /// Whether the lease of `replica`, a leader, holds at `now`: it is ready (it committed an
    /// entry of its term) and a majority acknowledged an Append it sent within the window. A
    /// group of one is its own majority: its ready leader always holds the lease.
    pub fn holds<E: Clone, S: Clone>(&self, replica: &Replica<E, S>, now: u64) -> bool {
        let term = replica.term();
        let start = self
            .start(term)
            .map(|start| match (self.broken, self.sent) {
                (Some(BrokenLease::RenewedOnSend), Some((t, sent))) if t == term => start.max(sent),
                _ => start,
            });
        replica.is_ready_leader()
            && (self.acked.len() == 1
                || start.is_some_and(|start| now < start.saturating_add(self.window)))
    }

    /// Whether a leader may answer a strongly consistent read from its own state at `now`:
    /// its lease holds and the host applied everything it committed (`applied`).
    pub fn serves_reads<E: Clone, S: Clone>(
        &self,
        replica: &Replica<E, S>,
        applied: u64,
        now: u64,
    ) -> bool {
        applied == replica.commit() && self.holds(replica, now)
    }

    /// Whether `replica` must ignore a candidate's RequestVote at `now` (its term included):
    /// it is loyal to the leader it heard, or it leads and serves reads under its lease.
    pub fn ignores_candidate<E: Clone, S: Clone>(
        &self,
        replica: &Replica<E, S>,
        applied: u64,
        now: u64,
    ) -> bool {
        self.loyal(now) || self.serves_reads(replica, applied, now)
    }

    /// Whether `replica`'s host may let it campaign before its election timer at `now` (an
    /// early timer): only outside the loyalty window.
    pub fn may_campaign_early(&self, now: u64) -> bool {
        !self.loyal(now)
    }
}

#[cfg(test)]
mod schedules;

#[cfg(test)]
mod tests {
    use super::*;
    use crate::replication::raft::Role;

    const WINDOW: u64 = 100;

    /// A ready leader of term 1 in a group of `n` (replica 0 of a new group), and its lease
    /// started at time 0.
    fn leader(n: usize) -> (Replica<u32>, Lease) {
        let replica = Replica::bootstrap(0, n, 0);
        assert!(replica.is_ready_leader());
        (replica, Lease::new(n, WINDOW, 0))
    }

    #[test]
    fn a_replica_is_loyal_for_a_window_after_it_heard_the_leader() {
        let mut lease = Lease::new(3, WINDOW, 1_000);
        // A (re)start counts as hearing the leader.
        assert!(lease.loyal(1_000));
        assert!(lease.loyal(1_099));
        assert!(!lease.loyal(1_100), "the window is half open");
        assert!(!lease.may_campaign_early(1_099));
        assert!(lease.may_campaign_early(1_100));
        lease.heard(2_000);
        assert!(lease.loyal(2_099));
        assert!(!lease.loyal(2_100));
        assert!(!lease.loyal(u64::MAX), "no overflow at the end of time");
    }

    #[test]
    fn a_lease_counts_from_the_send_stamp_not_the_acknowledgement() {
        let (replica, mut lease) = leader(3);
        assert!(!lease.holds(&replica, 0), "no follower acknowledged yet");
        lease.acknowledged(1, 1, 500, 600);
        assert!(lease.holds(&replica, 500));
        assert!(lease.holds(&replica, 599));
        assert!(
            !lease.holds(&replica, 600),
            "ends a window after the send, half open"
        );
        // An older stamp does not shorten it; a newer one (from either follower) extends it.
        lease.acknowledged(1, 2, 450, 610);
        assert!(lease.holds(&replica, 599));
        assert!(!lease.holds(&replica, 600));
        lease.acknowledged(1, 2, 550, 620);
        assert!(lease.holds(&replica, 649));
        assert!(!lease.holds(&replica, 650));
    }

    #[test]
    fn only_a_ready_leader_of_the_acknowledged_term_holds_a_lease() {
        let mut replicas: Vec<Replica<u32>> = (0..3).map(|i| Replica::bootstrap(i, 3, 0)).collect();
        let mut lease = Lease::new(3, WINDOW, 0);
        lease.acknowledged(1, 2, 10, 20);
        assert!(!lease.holds(&replicas[1], 20), "a follower holds no lease");
        // Replica 1 wins term 2 but has not committed its empty entry yet: not ready.
        let out = replicas[1].campaign();
        for (to, m) in out {
            for (_, reply) in replicas[to].handle(1, m) {
                replicas[1].handle(to, reply);
            }
        }
        assert_eq!(replicas[1].role(), Role::Leader);
        assert!(!replicas[1].is_ready_leader());
        assert!(
            !lease.holds(&replicas[1], 20),
            "not ready, and term 1's acks"
        );
        lease.acknowledged(2, 0, 30, 40);
        assert!(
            !lease.holds(&replicas[1], 40),
            "acknowledged, but not ready"
        );
        // Acks of term 1 are forgotten in term 2; an earlier term's are refused.
        assert_eq!(lease.start(2), Some(30));
        assert_eq!(lease.start(1), None);
    }

    #[test]
    #[should_panic(expected = "a leader's term never goes back")]
    fn acknowledgements_of_an_older_term_are_refused() {
        let mut lease = Lease::new(3, WINDOW, 0);
        lease.acknowledged(2, 1, 10, 20);
        lease.acknowledged(1, 1, 30, 40);
    }

    #[test]
    #[should_panic(expected = "an echoed stamp is a past send time")]
    fn a_stamp_from_the_future_is_refused() {
        let mut lease = Lease::new(3, WINDOW, 0);
        lease.acknowledged(1, 1, 21, 20);
    }

    #[test]
    fn a_lease_needs_a_majority_of_the_group() {
        // Five replicas: the leader and two followers. The lease runs from the second newest
        // follower acknowledgement.
        let (replica, mut lease) = leader(5);
        lease.acknowledged(1, 1, 500, 500);
        assert!(
            !lease.holds(&replica, 500),
            "the leader and one follower are two of five"
        );
        lease.acknowledged(1, 2, 300, 500);
        assert!(lease.holds(&replica, 399));
        assert!(!lease.holds(&replica, 400));
        lease.acknowledged(1, 3, 450, 500);
        assert!(lease.holds(&replica, 549));
        assert!(!lease.holds(&replica, 550));
        // A group of one is its own majority.
        let (alone, lease) = leader(1);
        assert!(lease.holds(&alone, u64::MAX));
    }

    #[test]
    fn reads_and_refused_candidates_follow_the_lease() {
        let (mut replica, mut lease) = leader(3);
        lease.acknowledged(1, 1, 0, 10);
        // Loyal (a start counts as hearing) and leased until 100.
        assert!(lease.serves_reads(&replica, 0, 99));
        assert!(lease.ignores_candidate(&replica, 0, 99));
        assert!(!lease.serves_reads(&replica, 0, 100));
        assert!(!lease.ignores_candidate(&replica, 0, 100));
        lease.acknowledged(1, 2, 150, 160);
        assert!(
            lease.ignores_candidate(&replica, 0, 249),
            "leased, no longer loyal"
        );
        assert!(!lease.loyal(249));
        // Committed but not applied yet: no read from the leader's state, no refusal.
        replica.propose(7);
        let mut follower = Replica::bootstrap(1, 3, 0);
        for (to, m) in replica.heartbeat() {
            if to == 1 {
                for (_, reply) in follower.handle(0, m) {
                    replica.handle(1, reply);
                }
            }
        }
        assert_eq!(replica.commit(), 1);
        assert!(!lease.serves_reads(&replica, 0, 200));
        assert!(!lease.ignores_candidate(&replica, 0, 200));
        assert!(lease.serves_reads(&replica, 1, 200));
    }

    #[test]
    fn the_broken_variants_break_the_window() {
        let mut disloyal = Lease::new(3, WINDOW, 0);
        disloyal.break_rule(BrokenLease::Disloyal);
        assert!(
            !disloyal.loyal(0),
            "votes and campaigns right after hearing the leader"
        );
        assert!(disloyal.may_campaign_early(0));
        let (replica, mut lease) = leader(3);
        lease.acknowledged(1, 1, 0, 0);
        disloyal.acknowledged(1, 1, 0, 0);
        assert!(
            disloyal.ignores_candidate(&replica, 0, 50),
            "a disloyal leader still holds its lease"
        );
        // Sending renews the correct lease not at all, the broken one each time.
        lease.sent(1, 90);
        assert!(!lease.holds(&replica, 100));
        lease.break_rule(BrokenLease::RenewedOnSend);
        assert!(lease.holds(&replica, 189), "past the followers' loyalty");
        assert!(!lease.holds(&replica, 190));
        lease.sent(2, 150);
        assert!(
            !lease.holds(&replica, 190),
            "a send of another term renews nothing"
        );
        let (unacked, mut fresh) = leader(3);
        fresh.break_rule(BrokenLease::RenewedOnSend);
        fresh.sent(1, 0);
        assert!(
            !fresh.holds(&unacked, 0),
            "a lease needs one majority acknowledgement first"
        );
    }
}
