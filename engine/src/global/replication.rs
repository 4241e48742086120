//! Replication between the regions of one host: each global table's members (a region's
//! replica, with the versions of its items), the writes in flight between regions with their
//! seeded delays, and the replication latency per pair of regions.
//!
//! A write reaches another region a drawn delay after its region applied it, in order per pair
//! of regions (a region's stream is consumed in order), so the writes of one transaction can
//! arrive one by one, and a reader in the other region sees some and not others meanwhile.

use super::lww::{self, LwwBug, Version};
use rand_chacha::ChaCha8Rng;
use rand_core::{RngCore, SeedableRng};
use std::collections::BTreeMap;

/// Without a profile's `[global_tables] replication_delay_ms`: how long a replicated write
/// takes to reach another region (AWS: usually under a second).
pub const DEFAULT_REPLICATION_DELAY_MS: [u64; 2] = [100, 1000];

/// One region's replica of a global table.
#[derive(Clone, Debug)]
pub struct Member {
    /// The versions of the items this replica holds (its values are the engine table's).
    pub versions: lww::Replica<Box<[u8]>, ()>,
    /// A replica's `ProvisionedThroughputOverride` (read units) from Create or Update.
    pub read_override: Option<i64>,
    pub table_class_override: Option<String>,
}

/// The replication latency of one pair of regions (source, destination), in milliseconds.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Latency {
    pub count: u64,
    pub sum_ms: u64,
    pub max_ms: u64,
    pub last_ms: u64,
}

impl Latency {
    pub(crate) fn record(&mut self, ms: u64) {
        self.count += 1;
        self.sum_ms += ms;
        self.max_ms = self.max_ms.max(ms);
        self.last_ms = ms;
    }
}

/// A global table: its name and its replicas by region.
#[derive(Clone, Debug)]
pub struct Group {
    pub name: String,
    pub members: BTreeMap<String, Member>,
    /// MultiRegionConsistency STRONG: writes applied in every region before the answer.
    pub strong: bool,
    /// An MRSC table's witness region (it stores no items here: it only counts).
    pub witness: Option<String>,
    /// By (source region, destination region).
    pub latency: BTreeMap<(String, String), Latency>,
    /// Replicas hosted elsewhere (the simulator: one region per node), by region.
    pub remote: BTreeMap<String, Remote>,
    /// This host's writes kept for remote replicas to pull, in sequence order, until every
    /// one of them reported having applied them.
    pub log: Vec<Shipped>,
}

/// A replica in another host: its version id and the frontier it last reported.
#[derive(Clone, Debug, Default)]
pub struct Remote {
    pub id: lww::Region,
    pub reported: lww::Frontier,
}

/// One write as it travels to a replica in another host.
#[derive(Clone, Debug, PartialEq)]
pub struct Shipped {
    pub key: Box<[u8]>,
    pub item: Option<Box<[u8]>>,
    pub version: Version,
    pub sent_ms: u64,
}

/// A remote replica's request for a region's writes from `next_seq` on, with what it has
/// applied of every region (its frontier report).
#[derive(Clone, Debug, PartialEq)]
pub struct PullRequest {
    pub table: String,
    /// The region asking (whose replica applies the answer).
    pub to: String,
    /// The region asked.
    pub from: String,
    pub next_seq: u64,
    pub frontier: lww::Frontier,
}

impl Group {
    /// The version ids of the members, local and remote, for the tombstone rule.
    fn ids(&self) -> Vec<lww::Region> {
        self.members
            .values()
            .map(|m| m.versions.region)
            .chain(self.remote.values().map(|r| r.id))
            .collect()
    }

    /// Drops every tombstone no older write can still reach (each member's frontier is known
    /// here as it is: the reports of a host that sees every region at once).
    pub fn drop_tombstones(&mut self) -> usize {
        let ids = self.ids();
        let reports: BTreeMap<lww::Region, lww::Frontier> = self
            .members
            .values()
            .map(|m| (m.versions.region, m.versions.frontier().clone()))
            .chain(self.remote.values().map(|r| (r.id, r.reported.clone())))
            .collect();
        self.members
            .values_mut()
            .map(|m| m.versions.drop_tombstones(&ids, &reports))
            .sum()
    }
}

/// A write on its way from one region's replica to another's.
#[derive(Clone, Debug)]
pub struct Delivery {
    pub group: u64,
    pub from: String,
    pub to: String,
    pub key: Box<[u8]>,
    pub item: Option<Box<[u8]>>,
    pub version: Version,
    pub sent_ms: u64,
}

/// The writes in flight and the draws of their delays.
#[derive(Debug)]
pub struct Replication {
    in_flight: BTreeMap<(u64, u64), Delivery>,
    /// The latest due time per (source, destination): deliveries stay in order per link.
    link_due: BTreeMap<(String, String), u64>,
    sequence: u64,
    rng: ChaCha8Rng,
    delay_ms: [u64; 2],
    offsets_ms: BTreeMap<String, i64>,
    pub bug: LwwBug,
}

impl Replication {
    pub fn new(seed: u64, delay_ms: [u64; 2], offsets_ms: BTreeMap<String, i64>) -> Replication {
        Replication {
            in_flight: BTreeMap::new(),
            link_due: BTreeMap::new(),
            sequence: 0,
            rng: ChaCha8Rng::seed_from_u64(seed ^ xxhash_rust::xxh3::xxh3_64(b"#replication")),
            delay_ms,
            offsets_ms,
            bug: LwwBug::None,
        }
    }

    /// Region `region`'s physical clock at the host's `now_ms` (a profile's clock offset).
    pub fn physical_ms(&self, region: &str, now_ms: u64) -> u64 {
        let offset = self.offsets_ms.get(region).copied().unwrap_or(0);
        now_ms.saturating_add_signed(offset)
    }

    /// A replication delay drawn from the profile's range.
    pub fn draw_delay(&mut self) -> u64 {
        let [min, max] = self.delay_ms;
        min + self.rng.next_u64() % (max - min + 1)
    }

    /// Sends `delivery` at `now_ms`: due a drawn delay later, and not before the link's last.
    pub fn send(&mut self, delivery: Delivery, now_ms: u64) {
        let delay = self.draw_delay();
        let link = (delivery.from.clone(), delivery.to.clone());
        let due = self
            .link_due
            .get(&link)
            .map_or(now_ms + delay, |&last| last.max(now_ms + delay));
        self.link_due.insert(link, due);
        self.sequence += 1;
        self.in_flight.insert((due, self.sequence), delivery);
    }

    /// The deliveries due by `now_ms`, in due order (and send order among equals).
    pub fn take_due(&mut self, now_ms: u64) -> Vec<Delivery> {
        let later = self.in_flight.split_off(&(now_ms + 1, 0));
        std::mem::replace(&mut self.in_flight, later)
            .into_values()
            .collect()
    }

    pub fn next_due_ms(&self) -> Option<u64> {
        self.in_flight.keys().next().map(|&(due, _)| due)
    }

    pub fn in_flight(&self) -> usize {
        self.in_flight.len()
    }

    /// Drops what is on its way to `region`'s replica of `group` (a replica removed).
    pub fn drop_to(&mut self, group: u64, region: &str) {
        self.in_flight
            .retain(|_, d| !(d.group == group && d.to == region));
    }

    /// Whether a write of `group` from a region that is no longer one of `members` is still on
    /// its way (a removed replica's last writes): until they arrive, no tombstone of the group
    /// may be dropped, and the group stays even with one member left.
    pub fn from_departed(&self, group: u64, members: &BTreeMap<String, Member>) -> bool {
        self.in_flight
            .values()
            .any(|d| d.group == group && !members.contains_key(&d.from))
    }

    /// Whether anything of `group` is on its way.
    pub fn any_of(&self, group: u64) -> bool {
        self.in_flight.values().any(|d| d.group == group)
    }

    /// Whether a write of `group` from `region` is on its way.
    pub fn from_region(&self, group: u64, region: &str) -> bool {
        self.in_flight
            .values()
            .any(|d| d.group == group && d.from == region)
    }

    /// Sends to `copy` everything on its way to `source` in `group`, due when it is due there:
    /// a replica started from `source`'s items must receive what `source` has yet to.
    pub fn copy_in_flight(&mut self, group: u64, source: &str, copy: &str) {
        let copies: Vec<((u64, u64), Delivery)> = self
            .in_flight
            .iter()
            .filter(|(_, d)| d.group == group && d.to == source && d.from != copy)
            .map(|(&(due, _), d)| {
                let mut d = d.clone();
                d.to = copy.to_string();
                ((due, 0), d)
            })
            .collect();
        for ((due, _), delivery) in copies {
            let link = (delivery.from.clone(), delivery.to.clone());
            let last = self.link_due.entry(link).or_insert(due);
            *last = (*last).max(due);
            self.sequence += 1;
            self.in_flight.insert((due, self.sequence), delivery);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn delivery(from: &str, to: &str, seq: u64) -> Delivery {
        Delivery {
            group: 0,
            from: from.into(),
            to: to.into(),
            key: Box::from(&b"k"[..]),
            item: None,
            version: Version {
                seq,
                ..Version::default()
            },
            sent_ms: 0,
        }
    }

    #[test]
    fn deliveries_keep_their_order_per_link_whatever_the_draws() {
        let mut replication = Replication::new(7, [0, 1000], BTreeMap::new());
        for seq in 1..=50 {
            replication.send(delivery("a", "b", seq), seq);
        }
        let due = replication.take_due(u64::MAX - 1);
        let seqs: Vec<u64> = due.iter().map(|d| d.version.seq).collect();
        assert_eq!(seqs, (1..=50).collect::<Vec<_>>());
    }

    #[test]
    fn a_copy_receives_what_its_source_had_in_flight() {
        let mut replication = Replication::new(7, [10, 10], BTreeMap::new());
        replication.send(delivery("a", "b", 1), 0);
        replication.copy_in_flight(0, "b", "c");
        let due = replication.take_due(10);
        let targets: Vec<&str> = due.iter().map(|d| d.to.as_str()).collect();
        assert_eq!(targets, ["b", "c"]);
        assert_eq!(replication.in_flight(), 0);
    }
}
