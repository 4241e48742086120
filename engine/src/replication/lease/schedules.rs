//! The lease guarantee over seeded schedules in time: three replicas, each a [`Replica`] and a
//! [`Lease`] driven by a host written the way the simulator's storage nodes are (votes ignored
//! while loyal or leased, early campaigns only outside the loyalty window, leases counted from
//! the echoed send stamps), on a network with latency, while a nemesis cuts replicas off and
//! restarts them. After every event: no replica leads a newer term while a leader's lease
//! holds. Each broken variant of the rule must fail the sweep.

use super::{BrokenLease, Lease};
use crate::replication::raft::{Message, Replica, Role};
use rand_chacha::ChaCha8Rng;
use rand_core::{RngCore, SeedableRng};
use std::collections::BTreeMap;

const GROUP: usize = 3;
/// Times in milliseconds (any unit works: the rules only compare and add).
const WINDOW: u64 = 150;
const TIMEOUT: [u64; 2] = [150, 300];
const HEARTBEAT: u64 = 50;
const LATENCY: [u64; 2] = [1, 10];
const END: u64 = 4_000;
/// The chance that a follower's timer fires early at a tick (when its host lets it).
const EARLY: u64 = 5; // percent
const SEEDS: std::ops::Range<u64> = 0..500;

enum Event {
    Deliver {
        from: usize,
        to: usize,
        message: Message<u32>,
        /// An Append's send time; a reply's echo of it.
        stamp: Option<u64>,
    },
    Tick(usize),
    /// The nemesis: cut the leader off (or whoever, if none leads), restart one, heal.
    Nemesis,
    Heal,
}

struct Node {
    replica: Replica<u32>,
    lease: Lease,
    deadline: u64,
}

struct Cluster {
    rng: ChaCha8Rng,
    now: u64,
    seq: u64,
    events: BTreeMap<(u64, u64), Event>,
    nodes: Vec<Node>,
    cut: Option<usize>,
    broken: Option<BrokenLease>,
    /// Coverage: leases held at some event, and leaders elected.
    leased: u64,
    elections: u64,
}

impl Cluster {
    fn new(seed: u64, broken: Option<BrokenLease>) -> Cluster {
        let mut cluster = Cluster {
            rng: ChaCha8Rng::seed_from_u64(seed),
            now: 0,
            seq: 0,
            events: BTreeMap::new(),
            nodes: Vec::new(),
            cut: None,
            broken,
            leased: 0,
            elections: 0,
        };
        for id in 0..GROUP {
            let node = Node {
                replica: Replica::bootstrap(id, GROUP, 0),
                lease: cluster.fresh_lease(),
                deadline: cluster.timeout(),
            };
            cluster.nodes.push(node);
            let first = cluster.between([1, HEARTBEAT]);
            cluster.at(first, Event::Tick(id));
        }
        cluster.at(300, Event::Nemesis);
        cluster
    }

    fn between(&mut self, [lo, hi]: [u64; 2]) -> u64 {
        lo + self.rng.next_u64() % (hi - lo + 1)
    }

    fn timeout(&mut self) -> u64 {
        self.now + self.between(TIMEOUT)
    }

    fn fresh_lease(&self) -> Lease {
        let mut lease = Lease::new(GROUP, WINDOW, self.now);
        if let Some(rule) = self.broken {
            lease.break_rule(rule);
        }
        lease
    }

    fn at(&mut self, time: u64, event: Event) {
        self.seq += 1;
        self.events.insert((time, self.seq), event);
    }

    /// Sends `out` from `from` (stamping Appends), unless a cut loses it.
    fn send(&mut self, from: usize, out: Vec<(usize, Message<u32>)>, echo: Option<u64>) {
        let node = &mut self.nodes[from];
        if node.replica.role() == Role::Leader
            && out.iter().any(|(_, m)| matches!(m, Message::Append { .. }))
        {
            node.lease.sent(node.replica.term(), self.now);
        }
        for (to, message) in out {
            let stamp = match message {
                Message::Append { .. } => Some(self.now),
                Message::AppendReply { .. } => echo,
                _ => None,
            };
            let latency = self.between(LATENCY);
            let event = Event::Deliver {
                from,
                to,
                message,
                stamp,
            };
            self.at(self.now + latency, event);
        }
    }

    fn deliver(&mut self, from: usize, to: usize, message: Message<u32>, stamp: Option<u64>) {
        if self.cut == Some(from) || self.cut == Some(to) {
            return;
        }
        let (now, timeout) = (self.now, self.timeout());
        let node = &mut self.nodes[to];
        let applied = node.replica.commit();
        if matches!(message, Message::RequestVote { .. })
            && node.lease.ignores_candidate(&node.replica, applied, now)
        {
            return;
        }
        let from_leader = matches!(message, Message::Append { .. });
        let acked = match message {
            Message::AppendReply {
                term,
                success: true,
                ..
            } => Some(term),
            _ => None,
        };
        let (term, was_leader) = (message.term(), node.replica.role() == Role::Leader);
        let out = node.replica.handle(from, message);
        let replica = &node.replica;
        if from_leader && replica.role() == Role::Follower && term == replica.term() {
            node.lease.heard(now);
            node.deadline = timeout;
        }
        if let (Some(term), Some(stamp)) = (acked, stamp)
            && replica.role() == Role::Leader
            && term == replica.term()
        {
            node.lease.acknowledged(term, from, stamp, now);
        }
        if !was_leader && replica.role() == Role::Leader {
            self.elections += 1;
        }
        let echo = if from_leader { stamp } else { None };
        self.send(to, out, echo);
    }

    fn tick(&mut self, id: usize) {
        let now = self.now;
        let early = self.rng.next_u64() % 100 < EARLY;
        let timeout = self.timeout();
        let node = &mut self.nodes[id];
        let out = if node.replica.role() == Role::Leader {
            node.deadline = timeout;
            node.replica.heartbeat()
        } else if now >= node.deadline || (early && node.lease.may_campaign_early(now)) {
            node.deadline = timeout;
            node.replica.campaign()
        } else {
            Vec::new()
        };
        self.send(id, out, None);
        self.at(now + HEARTBEAT, Event::Tick(id));
    }

    fn nemesis(&mut self) {
        let leader = (0..GROUP).find(|&r| self.nodes[r].replica.role() == Role::Leader);
        let victim = leader.unwrap_or((self.rng.next_u64() % GROUP as u64) as usize);
        if self.rng.next_u64().is_multiple_of(4) {
            // A crash and restart: the persistent part survives, the lease starts over.
            self.nodes[victim].replica.restart();
            self.nodes[victim].lease = self.fresh_lease();
            self.nodes[victim].deadline = self.timeout();
        } else {
            self.cut = Some(victim);
            let heal = self.now + self.between([300, 800]);
            self.at(heal, Event::Heal);
        }
    }

    /// No replica leads a term newer than that of a leader whose lease holds.
    fn check(&mut self) -> Result<(), String> {
        for l in &self.nodes {
            let replica = &l.replica;
            if !l.lease.serves_reads(replica, replica.commit(), self.now) {
                continue;
            }
            self.leased += 1;
            if let Some(newer) = self
                .nodes
                .iter()
                .find(|n| n.replica.role() == Role::Leader && n.replica.term() > replica.term())
            {
                return Err(format!(
                    "at {}: replica {} leads term {} while replica {} holds the lease of term {}",
                    self.now,
                    newer.replica.id(),
                    newer.replica.term(),
                    replica.id(),
                    replica.term()
                ));
            }
        }
        Ok(())
    }

    fn run(&mut self) -> Result<(), String> {
        while let Some(((time, _), event)) = self.events.pop_first() {
            if time > END {
                break;
            }
            self.now = time;
            match event {
                Event::Deliver {
                    from,
                    to,
                    message,
                    stamp,
                } => self.deliver(from, to, message, stamp),
                Event::Tick(id) => self.tick(id),
                Event::Nemesis => {
                    if self.cut.is_none() {
                        self.nemesis();
                    }
                    let next = self.now + self.between([300, 700]);
                    self.at(next, Event::Nemesis);
                }
                Event::Heal => self.cut = None,
            }
            self.check()?;
        }
        Ok(())
    }
}

/// The first seed of `SEEDS` whose schedule breaks the guarantee, and how.
fn sweep(broken: Option<BrokenLease>) -> Result<(u64, u64), String> {
    let (mut leased, mut elections) = (0, 0);
    for seed in SEEDS {
        let mut cluster = Cluster::new(seed, broken);
        cluster
            .run()
            .map_err(|e| format!("seed {seed} ({broken:?}): {e}"))?;
        leased += cluster.leased;
        elections += cluster.elections;
    }
    Ok((leased, elections))
}

#[test]
fn no_replica_is_elected_while_a_lease_holds() {
    let (leased, elections) = sweep(None).unwrap_or_else(|e| panic!("{e}"));
    // Guards the sweep against checking little: leases hold often, and leaders change.
    let schedules = SEEDS.end - SEEDS.start;
    assert!(leased > 100 * schedules, "{leased} leased events");
    assert!(elections > 3 * schedules, "{elections} elections");
}

#[test]
fn a_follower_voting_inside_the_window_is_caught() {
    let failure = sweep(Some(BrokenLease::Disloyal)).unwrap_err();
    assert!(failure.contains("holds the lease"), "{failure}");
    assert_eq!(
        sweep(Some(BrokenLease::Disloyal)),
        Err(failure),
        "deterministic"
    );
}

#[test]
fn a_lease_renewed_on_send_is_caught() {
    let failure = sweep(Some(BrokenLease::RenewedOnSend)).unwrap_err();
    assert!(failure.contains("holds the lease"), "{failure}");
}
