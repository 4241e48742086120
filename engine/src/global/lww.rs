//! Last writer wins across regions. Each region's replica stamps its writes with a
//! [`Version`] and applies a remote write only if its version is newer than the item's, so
//! replicas that received the same writes hold the same items whatever the order of delivery
//! and whatever the regions' clocks did. A write can lose to a concurrent one from another
//! region although its own region acknowledged it: that is the documented trade-off.
//!
//! Deletes are tombstones (an entry without a value, keeping its version) until
//! [`tombstone_safe`] says no older write can still arrive; dropped earlier, a late older
//! write would bring the item back in one region only.

use super::hlc::{Clock, Hlc};
use std::collections::{BTreeMap, BTreeSet};

/// A region's name in versions: its index among the table's replicas.
pub type Region = u32;

/// A write's version: unique and totally ordered (the HLC timestamp, then the region, then
/// the write's sequence within its region).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Version {
    pub hlc: Hlc,
    pub region: Region,
    pub seq: u64,
}

/// Deliberately broken variants of the rules, kept so that the model checker and the
/// simulator show they catch them. Never used otherwise.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub enum LwwBug {
    #[default]
    None,
    /// Versions are compared by timestamp alone and an equal one replaces the item: a tie
    /// is broken by arrival order.
    TieByArrival,
    /// Writes are stamped with the physical clock alone (no hybrid clock): after the clock
    /// steps backwards a later write carries an older version, and its region applies it over
    /// the newer one.
    PhysicalClock,
    /// A tombstone is dropped as soon as its region has it, before every region has passed it.
    EarlyTombstoneDrop,
}

/// An item's latest version and value; `None` is a tombstone.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Entry<V> {
    pub version: Version,
    pub value: Option<V>,
}

/// What a replica has applied of each region's writes: the highest sequence of a gap-free
/// prefix (a region's own writes included). Replicas apply each region's writes in sequence
/// order, as a region's stream is consumed.
pub type Frontier = BTreeMap<Region, u64>;

/// One region's replica of a global table's items.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Replica<K: Ord, V> {
    pub region: Region,
    clock: Clock,
    items: BTreeMap<K, Entry<V>>,
    /// The keys whose entry is a tombstone, so that dropping them reads only them.
    tombstones: BTreeSet<K>,
    applied: Frontier,
    bug: LwwBug,
}

impl<K: Ord + Clone, V: Clone> Replica<K, V> {
    pub fn new(region: Region, bug: LwwBug) -> Replica<K, V> {
        Replica {
            region,
            clock: Clock::default(),
            items: BTreeMap::new(),
            tombstones: BTreeSet::new(),
            applied: Frontier::new(),
            bug,
        }
    }

    /// A local write (`None`: a delete) at physical time `physical_ms`: stamped, applied, and
    /// returned for replication to the other regions.
    pub fn write(&mut self, key: K, value: Option<V>, physical_ms: u64) -> Version {
        let hlc = match self.bug {
            LwwBug::PhysicalClock => Hlc::new(physical_ms, 0),
            _ => self.clock.now(physical_ms),
        };
        let seq = self.applied.get(&self.region).copied().unwrap_or(0) + 1;
        self.applied.insert(self.region, seq);
        let version = Version {
            hlc,
            region: self.region,
            seq,
        };
        self.set(key, Entry { version, value });
        version
    }

    /// Sets `key`'s entry, keeping the tombstone index in step.
    fn set(&mut self, key: K, entry: Entry<V>) {
        if entry.value.is_none() {
            self.tombstones.insert(key.clone());
        } else {
            self.tombstones.remove(&key);
        }
        self.items.insert(key, entry);
    }

    /// The next write of `version.region` (its sequence follows the last applied from that
    /// region): applied if its version is newer than the item's, and observed by the clock
    /// either way. Returns whether it replaced the item.
    pub fn apply(&mut self, key: K, version: Version, value: Option<V>) -> bool {
        self.clock.observe(version.hlc);
        let applied = self.applied.entry(version.region).or_insert(0);
        *applied = (*applied).max(version.seq);
        let newer = match self.items.get(&key) {
            None => true,
            Some(e) if self.bug == LwwBug::TieByArrival => version.hlc >= e.version.hlc,
            Some(e) => version > e.version,
        };
        if newer {
            self.set(key, Entry { version, value });
        }
        newer
    }

    /// A new region's replica started from this one's items (a replica added by copying this
    /// region's table): the same entries, what this one applied of every region, and its
    /// clock, so that the writes still on their way here must also go to the copy.
    pub fn copy_for(&self, region: Region) -> Replica<K, V> {
        Replica {
            region,
            clock: self.clock,
            items: self.items.clone(),
            tombstones: self.tombstones.clone(),
            applied: self.applied.clone(),
            bug: self.bug,
        }
    }

    /// The next sequence this replica expects from `region`.
    pub fn expects(&self, region: Region) -> u64 {
        self.applied.get(&region).copied().unwrap_or(0) + 1
    }

    pub fn frontier(&self) -> &Frontier {
        &self.applied
    }

    /// The item's visible value (none for a tombstone).
    pub fn get(&self, key: &K) -> Option<&V> {
        self.items.get(key)?.value.as_ref()
    }

    pub fn entry(&self, key: &K) -> Option<&Entry<V>> {
        self.items.get(key)
    }

    /// The visible items (tombstones left out).
    pub fn visible(&self) -> impl Iterator<Item = (&K, &V)> {
        self.items
            .iter()
            .filter_map(|(k, e)| e.value.as_ref().map(|v| (k, v)))
    }

    /// Drops the tombstones [`tombstone_safe`] allows, given the frontiers the other regions
    /// last reported (`reports`, by region; every region of the table must be named in
    /// `regions`). Returns how many it dropped.
    pub fn drop_tombstones(
        &mut self,
        regions: &[Region],
        reports: &BTreeMap<Region, Frontier>,
    ) -> usize {
        let early = self.bug == LwwBug::EarlyTombstoneDrop;
        let (me, applied) = (self.region, &self.applied);
        let safe: Vec<K> = self
            .tombstones
            .iter()
            .filter(|k| {
                let version = self.items[*k].version;
                early || tombstone_safe(version, me, applied, regions, reports)
            })
            .cloned()
            .collect();
        for key in &safe {
            self.tombstones.remove(key);
            self.items.remove(key);
        }
        safe.len()
    }
}

/// Whether region `me` may drop a tombstone of `version`: every other region reported having
/// applied its region's writes up to it, and `me` has applied every write that region had
/// made by its report. A region's writes after its report are stamped after it observed the
/// tombstone, so they are newer; so no write older than the tombstone can still arrive.
pub fn tombstone_safe(
    version: Version,
    me: Region,
    applied: &Frontier,
    regions: &[Region],
    reports: &BTreeMap<Region, Frontier>,
) -> bool {
    let seen = |f: &Frontier, r: Region| f.get(&r).copied().unwrap_or(0);
    regions.iter().filter(|&&r| r != me).all(|&r| {
        reports.get(&r).is_some_and(|report| {
            seen(report, version.region) >= version.seq && seen(applied, r) >= seen(report, r)
        })
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pair(bug: LwwBug) -> (Replica<u8, u32>, Replica<u8, u32>) {
        (Replica::new(0, bug), Replica::new(1, bug))
    }

    #[test]
    fn replicas_converge_whatever_the_order_and_a_tie_goes_to_the_higher_region() {
        let (mut a, mut b) = pair(LwwBug::None);
        // The same physical time in both regions: equal timestamps, broken by the region.
        let va = a.write(7, Some(1), 100);
        let vb = b.write(7, Some(2), 100);
        assert_eq!(va.hlc, vb.hlc);
        assert!(a.apply(7, vb, Some(2)));
        assert!(
            !b.apply(7, va, Some(1)),
            "the older version loses on arrival"
        );
        assert_eq!((a.get(&7), b.get(&7)), (Some(&2), Some(&2)));
    }

    #[test]
    fn a_tie_broken_by_arrival_diverges() {
        let (mut a, mut b) = pair(LwwBug::TieByArrival);
        let va = a.write(7, Some(1), 100);
        let vb = b.write(7, Some(2), 100);
        a.apply(7, vb, Some(2));
        b.apply(7, va, Some(1));
        assert_ne!(a.get(&7), b.get(&7));
    }

    #[test]
    fn a_clock_stepping_backwards_still_stamps_later_writes_newer() {
        let (mut a, mut b) = pair(LwwBug::None);
        let first = a.write(7, Some(1), 100);
        let second = a.write(7, Some(2), 40);
        assert!(second > first);
        b.apply(7, first, Some(1));
        b.apply(7, second, Some(2));
        assert_eq!((a.get(&7), b.get(&7)), (Some(&2), Some(&2)));

        let (mut a, mut b) = pair(LwwBug::PhysicalClock);
        let first = a.write(7, Some(1), 100);
        let second = a.write(7, Some(2), 40);
        b.apply(7, first, Some(1));
        b.apply(7, second, Some(2));
        assert_ne!(a.get(&7), b.get(&7), "the broken variant diverges");
    }

    #[test]
    fn a_tombstone_stays_until_every_region_passed_it() {
        let regions = [0, 1];
        let (mut a, mut b) = pair(LwwBug::None);
        let put = b.write(7, Some(1), 50); // b's put, older, still on its way to a
        let delete = a.write(7, None, 100);
        let mut reports = BTreeMap::new();
        assert_eq!(a.drop_tombstones(&regions, &reports), 0, "nobody reported");
        b.apply(7, delete, None);
        reports.insert(1, b.frontier().clone());
        assert_eq!(
            a.drop_tombstones(&regions, &reports),
            0,
            "b's put, made before b's report, has not reached a"
        );
        assert!(!a.apply(7, put, Some(1)), "the tombstone is newer");
        assert_eq!(a.drop_tombstones(&regions, &reports), 1);
        assert_eq!((a.get(&7), b.get(&7)), (None, None));
        assert!(a.entry(&7).is_none());
    }

    #[test]
    fn a_tombstone_dropped_early_lets_an_older_write_back_in() {
        let regions = [0, 1];
        let (mut a, mut b) = pair(LwwBug::EarlyTombstoneDrop);
        let put = b.write(7, Some(1), 50);
        let delete = a.write(7, None, 100);
        a.drop_tombstones(&regions, &BTreeMap::new());
        b.apply(7, delete, None);
        a.apply(7, put, Some(1));
        assert_eq!((a.get(&7), b.get(&7)), (Some(&1), None));
    }
}
