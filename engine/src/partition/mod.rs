//! A table's partitions: each owns a contiguous range of stored keys (which begin with the
//! partition key's hash, see `keys`), keeps its items in key order in its own store, and is
//! replicated by its own replica group.
//!
//! Partitions split when they grow past the size limit (at the median by bytes) or stay hot
//! past the heat limit (at the median of the sampled key accesses, isolating a dominant key in a
//! partition of its own). A table with local secondary indexes never splits an item
//! collection (`dynamodb-facts.md` §6.4); other tables may split one by sort key. Splitting
//! moves items between stores, so reads that cross partitions are tested to give the same
//! answer whatever the split.
//!
//! Each partition's replicas are a `replication::group::ReplicaGroup` hosted in-process,
//! unless a host partitions and replicates the table itself ([`Partitions::hosted`], the
//! simulator): the table is then one partition of the host's map, with no group of its own,
//! and only the host splits it.

use crate::capacity::admission::PartitionLoad;
use crate::data::store::{Entry, ItemStore};
use crate::limits::Limits;
pub use crate::replication::group::{HEARTBEAT_MS, REPLICA_COUNT, ReplicaGroup, Write};
use std::collections::BTreeMap;
use std::ops::Bound;

#[derive(Debug)]
pub struct Partition {
    /// Deterministic: partitions are numbered in creation order within their table.
    pub id: u64,
    pub items: ItemStore,
    /// Stored bytes: keys and item encodings.
    pub size_bytes: u64,
    /// The partition's replicas; `None` in a hosted table (its host replicates it).
    pub group: Option<ReplicaGroup>,
    pub load: PartitionLoad,
}

impl Partition {
    fn new(id: u64, hosted: bool) -> Partition {
        Partition {
            id,
            items: ItemStore::default(),
            size_bytes: 0,
            group: (!hosted).then(|| ReplicaGroup::new((id % REPLICA_COUNT as u64) as usize)),
            load: PartitionLoad::default(),
        }
    }

    /// Follower `zone`'s view of the item under `key` (the leader's in a hosted table).
    pub fn read(&self, zone: usize, key: &[u8]) -> Option<&[u8]> {
        match &self.group {
            Some(group) => group.read(zone, key, &self.items),
            None => self.items.get(key),
        }
    }

    /// Brings the followers up to what is due by `now_ms`.
    pub fn catch_up(&mut self, now_ms: u64) {
        if let Some(group) = &mut self.group {
            group.catch_up(now_ms);
        }
    }

    fn replicate(&mut self, write: Write, now_ms: u64, lags: [u64; REPLICA_COUNT]) {
        if let Some(group) = &mut self.group {
            group.write(write, now_ms, lags);
        }
    }
}

fn entry_bytes(key: &[u8], item: &[u8]) -> u64 {
    (key.len() + item.len()) as u64
}

/// The entries of `store` and their stored bytes, counted one by one.
fn count_and_bytes(store: &ItemStore) -> (usize, u64) {
    store
        .range(Bound::Unbounded, Bound::Unbounded)
        .fold((0, 0), |(count, bytes), e| {
            (count + 1, bytes + entry_bytes(e.key(), e.item_bytes()))
        })
}

/// The prefix of a stored key that every item of its item collection shares.
pub fn collection_prefix(key: &[u8]) -> &[u8] {
    if key.len() < 10 {
        return key;
    }
    let length = usize::from(u16::from_be_bytes([key[8], key[9]]));
    &key[..(10 + length).min(key.len())]
}

/// The item-collection prefix of a key that names a partition key (an item's key or a
/// Query's start), and `None` for the bare range bounds a Scan starts from.
pub fn partition_key_prefix(key: &[u8]) -> Option<&[u8]> {
    let prefix = collection_prefix(key);
    (key.len() >= 10 && prefix.len() >= 10).then_some(prefix)
}

/// The stored-key start of the `i`-th of `count` equal slices of the hash space.
fn hash_slice_start(i: u64, count: u64) -> Box<[u8]> {
    if i == 0 {
        return Box::default();
    }
    let start = ((u128::from(i) << 64) / u128::from(count)) as u64;
    start.to_be_bytes().into()
}

/// A table's partitions, ordered by the first stored key each owns.
///
/// Lookups are a binary search over the starts' first eight bytes (the key's hash), then a
/// full comparison only among starts sharing them: partitions split inside an item collection.
#[derive(Debug)]
pub struct Partitions {
    /// (first stored key owned, partition), ascending; the first starts at the empty key.
    parts: Vec<(Box<[u8]>, Partition)>,
    /// `hash_of` each start, for the search.
    prefixes: Vec<u64>,
    len: usize,
    next_id: u64,
    /// Set for tables with local secondary indexes: item collections stay whole.
    pub keep_collections_whole: bool,
    pub splits: u64,
    /// Splits not taken yet (`take_splits`): the split partition's id (kept by the lower
    /// half) and the upper half's.
    split_log: Vec<(u64, u64)>,
    /// The host partitions and replicates the table: one partition, no replica group, no
    /// split of the engine's own.
    hosted: bool,
}

impl Default for Partitions {
    fn default() -> Self {
        Partitions::new(1)
    }
}

impl Partitions {
    /// `count` partitions over equal slices of the hash space.
    pub fn new(count: u64) -> Partitions {
        Partitions::with_layout(count, false)
    }

    /// The items of a table whose host partitions and replicates it (the simulator, whose
    /// storage nodes each hold one partition of its map): one partition over the whole key
    /// space, without a replica group, that never splits or grows; reads see the leader's
    /// items, and the host's own partitions and replicas do the rest.
    pub fn hosted() -> Partitions {
        Partitions::with_layout(1, true)
    }

    fn with_layout(count: u64, hosted: bool) -> Partitions {
        let count = count.max(1);
        let parts: Vec<(Box<[u8]>, Partition)> = (0..count)
            .map(|i| (hash_slice_start(i, count), Partition::new(i, hosted)))
            .collect();
        Partitions {
            prefixes: parts.iter().map(|(s, _)| hash_of(s)).collect(),
            parts,
            len: 0,
            next_id: count,
            keep_collections_whole: false,
            splits: 0,
            split_log: Vec::new(),
            hosted,
        }
    }

    /// The splits since the last call, in order: (the split partition's id, which its lower
    /// half keeps; the upper half's id).
    pub fn take_splits(&mut self) -> Vec<(u64, u64)> {
        std::mem::take(&mut self.split_log)
    }

    /// The ids of the partitions, in key order.
    pub fn ids(&self) -> impl Iterator<Item = u64> + '_ {
        self.parts.iter().map(|(_, p)| p.id)
    }

    /// Whether the host partitions and replicates the table ([`Partitions::hosted`]).
    pub fn is_hosted(&self) -> bool {
        self.hosted
    }

    /// Items in the table.
    pub fn len(&self) -> usize {
        self.len
    }

    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    pub fn count(&self) -> usize {
        self.parts.len()
    }

    pub fn iter(&self) -> impl Iterator<Item = (&[u8], &Partition)> {
        self.parts.iter().map(|(start, p)| (&**start, p))
    }

    pub fn iter_mut(&mut self) -> impl Iterator<Item = &mut Partition> {
        self.parts.iter_mut().map(|(_, p)| p)
    }

    /// The position of the partition that owns `key`.
    fn index_of(&self, key: &[u8]) -> usize {
        let hash = hash_of(key);
        // Starts whose hash exceeds the key's are greater than the key.
        let mut i = self.prefixes.partition_point(|&p| p <= hash);
        loop {
            i -= 1;
            if *self.parts[i].0 <= *key {
                return i;
            }
        }
    }

    pub fn partition_of(&self, key: &[u8]) -> &Partition {
        &self.parts[self.index_of(key)].1
    }

    pub fn partition_of_mut(&mut self, key: &[u8]) -> &mut Partition {
        let i = self.index_of(key);
        &mut self.parts[i].1
    }

    /// The leader's encoding of the item under `key`.
    pub fn get(&self, key: &[u8]) -> Option<&[u8]> {
        self.partition_of(key).items.get(key)
    }

    /// Stores an encoding under `key`, returning the entry it replaced.
    pub fn insert(&mut self, key: &[u8], item: &[u8]) -> Option<Entry> {
        let partition = self.partition_of_mut(key);
        let old = partition.items.insert(key, item);
        partition.size_bytes += entry_bytes(key, item);
        if let Some(old) = &old {
            partition.size_bytes -= entry_bytes(old.key(), old.item_bytes());
        } else {
            self.len += 1;
        }
        old
    }

    /// Stores an encoding under `key` and replicates the write through the partition's group
    /// (follower `z` applying it `lags[z]` ms after `now_ms`), then splits the partition if
    /// it outgrew `limits`. Returns whether an item was replaced.
    pub fn put(
        &mut self,
        key: &[u8],
        item: &[u8],
        now_ms: u64,
        lags: [u64; REPLICA_COUNT],
        limits: &Limits,
    ) -> bool {
        let i = self.index_of(key);
        let partition = &mut self.parts[i].1;
        let before = partition.items.insert(key, item);
        partition.size_bytes += entry_bytes(key, item);
        let replaced = before.is_some();
        if let Some(old) = &before {
            partition.size_bytes -= entry_bytes(old.key(), old.item_bytes());
        } else {
            self.len += 1;
        }
        let after = Some(Entry::new(key, item));
        partition.replicate(Write { before, after }, now_ms, lags);
        if partition.size_bytes > limits.partition_size_bytes_max {
            self.split_for_size(key, limits);
        }
        replaced
    }

    /// Deletes the item under `key` and replicates the delete; returns the decoded item.
    pub fn delete(
        &mut self,
        key: &[u8],
        now_ms: u64,
        lags: [u64; REPLICA_COUNT],
    ) -> Option<crate::types::item::Item> {
        let i = self.index_of(key);
        let partition = &mut self.parts[i].1;
        let old = partition.items.remove(key)?;
        partition.size_bytes -= entry_bytes(old.key(), old.item_bytes());
        self.len -= 1;
        let item = crate::types::item::decode(old.item_bytes());
        let write = Write {
            before: Some(old),
            after: None,
        };
        partition.replicate(write, now_ms, lags);
        Some(item)
    }

    pub fn remove(&mut self, key: &[u8]) -> Option<Entry> {
        let partition = self.partition_of_mut(key);
        let old = partition.items.remove(key)?;
        partition.size_bytes -= entry_bytes(old.key(), old.item_bytes());
        self.len -= 1;
        Some(old)
    }

    /// Entries within the bounds, in key order across partitions (reversible).
    pub fn range<'a>(
        &'a self,
        lower: Bound<&'a [u8]>,
        upper: Bound<&'a [u8]>,
    ) -> impl DoubleEndedIterator<Item = &'a Entry> + 'a {
        self.range_partitions(lower, upper)
            .iter()
            .flat_map(move |(_, p)| p.items.range(lower, upper))
    }

    /// The partitions that can hold keys within the bounds: from the owner of the lower
    /// bound to the owner of the upper bound.
    fn range_partitions(
        &self,
        lower: Bound<&[u8]>,
        upper: Bound<&[u8]>,
    ) -> &[(Box<[u8]>, Partition)] {
        let first = match lower {
            Bound::Unbounded => 0,
            Bound::Included(k) | Bound::Excluded(k) => self.index_of(k),
        };
        let last = match upper {
            Bound::Unbounded => self.parts.len() - 1,
            Bound::Included(k) => self.index_of(k),
            Bound::Excluded(k) => {
                let i = self.index_of(k);
                // A partition starting at an excluded bound holds nothing below it.
                if *self.parts[i].0 == *k && i > 0 {
                    i - 1
                } else {
                    i
                }
            }
        };
        if first <= last {
            &self.parts[first..=last]
        } else {
            &[]
        }
    }

    /// Item encodings within the bounds as replica `zone` of each partition holds them
    /// (possibly stale), in key order across partitions (reversible).
    pub fn range_at<'a>(
        &'a self,
        zone: usize,
        lower: Bound<&'a [u8]>,
        upper: Bound<&'a [u8]>,
    ) -> impl DoubleEndedIterator<Item = &'a [u8]> + 'a {
        self.range_partitions(lower, upper).iter().flat_map(
            move |(_, p)| -> Box<dyn DoubleEndedIterator<Item = &'a [u8]> + 'a> {
                let overlay = p
                    .group
                    .as_ref()
                    .map(|g| g.overlay(zone))
                    .unwrap_or_default();
                let current = p.items.range(lower, upper);
                if overlay.is_empty() {
                    return Box::new(current.map(Entry::item_bytes));
                }
                // The leader's items, with each key the replica has not caught up on shown as
                // it was before (or absent, if it did not exist).
                let mut view: BTreeMap<&[u8], &[u8]> =
                    current.map(|e| (e.key(), e.item_bytes())).collect();
                for (key, before) in overlay {
                    if !crate::data::store::within(key, lower, upper) {
                        continue;
                    }
                    match before {
                        Some(entry) => view.insert(key, entry.item_bytes()),
                        None => view.remove(key),
                    };
                }
                Box::new(view.into_values())
            },
        )
    }

    /// The stored keys replica `zone` of some partition has not caught up on (its view of
    /// each differs from the leader's, or may).
    pub fn lagging_keys(&self, zone: usize) -> Vec<&[u8]> {
        self.parts
            .iter()
            .filter_map(|(_, p)| p.group.as_ref())
            .flat_map(|g| g.overlay(zone).into_keys())
            .collect()
    }

    /// Splits the partition holding `key` if it outgrew `limits`, and reports whether it
    /// did.
    pub fn split_for_size(&mut self, key: &[u8], limits: &Limits) -> bool {
        let i = self.index_of(key);
        let partition = &self.parts[i].1;
        if self.hosted
            || partition.size_bytes <= limits.partition_size_bytes_max
            || partition.items.len() < 2
        {
            return false;
        }
        let half = partition.size_bytes / 2;
        let mut seen = 0;
        let mut at = None;
        for entry in partition.items.range(Bound::Unbounded, Bound::Unbounded) {
            seen += entry_bytes(entry.key(), entry.item_bytes());
            if seen >= half {
                at = Some(entry.key());
                break;
            }
        }
        let Some(at) = at.map(Box::<[u8]>::from) else {
            return false;
        };
        self.split_at(i, &at, true)
    }

    /// Splits the partition holding `key` by its sampled accesses, if it stayed hot long
    /// enough, and reports whether it did.
    pub fn split_for_heat(&mut self, key: &[u8], limits: &Limits) -> bool {
        let partition = self.partition_of(key);
        if self.hosted || partition.load.hot_seconds < limits.heat_split_seconds {
            return false;
        }
        let samples = &partition.load.samples;
        let total: f64 = samples.values().sum();
        let mut points = Vec::new();
        if let Some((hot, units)) = samples.iter().max_by(|a, b| a.1.total_cmp(b.1)) {
            if *units * 2.0 >= total {
                // One key dominates: give it a partition of its own.
                let next = partition
                    .items
                    .range(Bound::Excluded(hot), Bound::Unbounded)
                    .next()
                    .map(|e| Box::<[u8]>::from(e.key()));
                points.push(hot.clone());
                points.extend(next);
            } else {
                let mut seen = 0.0;
                for (key, units) in samples {
                    seen += units;
                    if seen * 2.0 >= total {
                        points.push(key.clone());
                        break;
                    }
                }
            }
        }
        let mut split = false;
        for point in points {
            let i = self.index_of(&point);
            split |= self.split_at(i, &point, true);
        }
        let partition = self.partition_of_mut(key);
        partition.load.hot_seconds = 0;
        partition.load.samples.clear();
        split
    }

    /// Splits partition `i` at `at`, moved to an item collection's start when collections
    /// stay whole. Both halves start with fresh replica groups (the old one is synced first)
    /// and half the capacity credit each. With `need_items`, a split must leave items on
    /// both sides (a split for size or heat that does not would make no progress).
    fn split_at(&mut self, i: usize, at: &[u8], need_items: bool) -> bool {
        let items = &self.parts[i].1.items;
        let at: Box<[u8]> = if self.keep_collections_whole {
            let prefix = collection_prefix(at);
            let has_below = items
                .range(Bound::Unbounded, Bound::Excluded(prefix))
                .next()
                .is_some();
            if has_below {
                prefix.into()
            } else {
                // `at` is in the first collection: split after it instead.
                let Some(end) = crate::types::keys::prefix_end(prefix) else {
                    return false;
                };
                match items.range(Bound::Included(&end), Bound::Unbounded).next() {
                    Some(next) => collection_prefix(next.key()).into(),
                    None => return false,
                }
            }
        } else {
            at.into()
        };
        if *at <= *self.parts[i].0 {
            return false;
        }
        if let Some((next, _)) = self.parts.get(i + 1)
            && *at >= **next
        {
            return false;
        }
        let below = items
            .range(Bound::Unbounded, Bound::Excluded(&at))
            .next()
            .is_some();
        let above = items
            .range(Bound::Included(&at), Bound::Unbounded)
            .next()
            .is_some();
        if need_items && !(below && above) {
            return false;
        }
        let id = self.next_id;
        self.next_id += 1;
        let partition = &mut self.parts[i].1;
        if let Some(group) = &mut partition.group {
            group.sync();
        }
        let (items_before, bytes_before) = (partition.items.len(), partition.size_bytes);
        let moved = partition.items.split_off(&at);
        let moved_bytes: u64 = moved
            .range(Bound::Unbounded, Bound::Unbounded)
            .map(|e| entry_bytes(e.key(), e.item_bytes()))
            .sum();
        partition.size_bytes -= moved_bytes;
        if let Some(group) = &mut partition.group {
            *group = ReplicaGroup::new(group.leader());
        }
        let (kept_load, moved_load) = partition.load.split();
        partition.load = kept_load;
        let mut upper = Partition::new(id, self.hosted);
        upper.items = moved;
        upper.size_bytes = moved_bytes;
        upper.load = moved_load;
        self.prefixes.insert(i + 1, hash_of(&at));
        self.parts.insert(i + 1, (at, upper));
        self.note_split(i, id);
        self.assert_split(i, items_before, bytes_before);
        true
    }

    /// Counts a split of partition `i` whose upper half is `upper`, for `take_splits`.
    fn note_split(&mut self, i: usize, upper: u64) {
        self.splits += 1;
        self.split_log.push((self.parts[i].1.id, upper));
    }

    /// The pair of `split_at`'s guards, on partitions `i` and `i + 1` after a split of one
    /// that held `items_before` items in `bytes_before` bytes. O(log n) but for the recount,
    /// which debug builds only do.
    fn assert_split(&self, i: usize, items_before: usize, bytes_before: u64) {
        let (start, lower) = &self.parts[i];
        let (at, upper) = &self.parts[i + 1];
        // Starts were strictly increasing before: only the new start's neighbours can break it.
        assert!(start < at, "a split starts above the partition it splits");
        if let Some((next, _)) = self.parts.get(i + 2) {
            assert!(at < next, "a split starts below the next partition");
        }
        assert_eq!(
            self.prefixes.len(),
            self.parts.len(),
            "one search prefix per partition"
        );
        if let Some(first) = upper.items.range(Bound::Unbounded, Bound::Unbounded).next() {
            assert!(
                first.key() >= &**at,
                "every moved key is at or above the split point"
            );
        }
        if let Some(last) = lower
            .items
            .range(Bound::Unbounded, Bound::Unbounded)
            .next_back()
        {
            assert!(
                last.key() < &**at,
                "every kept key is below the split point"
            );
        }
        assert!(
            upper.size_bytes <= bytes_before,
            "the moved bytes ({}) were part of the partition's {bytes_before}",
            upper.size_bytes
        );
        if cfg!(debug_assertions) {
            let (lower_items, lower_bytes) = count_and_bytes(&lower.items);
            let (upper_items, upper_bytes) = count_and_bytes(&upper.items);
            assert_eq!(
                lower_items + upper_items,
                items_before,
                "a split moves items, never drops or copies them"
            );
            assert_eq!(
                lower_bytes + upper_bytes,
                bytes_before,
                "a partition's size is the sum of its entries' sizes"
            );
        }
    }

    /// Splits partitions at their hash midpoints until there are at least `count` (how
    /// DynamoDB adds partitions when provisioned throughput grows past what they serve).
    pub fn grow_to(&mut self, count: u64) {
        while !self.hosted && (self.parts.len() as u64) < count {
            // The partition with the widest hash range.
            let starts = &self.prefixes;
            let widest = (0..starts.len())
                .map(|i| {
                    let end = starts.get(i + 1).map_or(1u128 << 64, |&e| u128::from(e));
                    (end - u128::from(starts[i]), i)
                })
                .max_by_key(|&(width, i)| (width, std::cmp::Reverse(i)))
                .expect("partitions");
            if widest.0 < 2 {
                return;
            }
            let mid = (u128::from(starts[widest.1]) + widest.0 / 2) as u64;
            let at: Box<[u8]> = mid.to_be_bytes().into();
            let keep = self.keep_collections_whole;
            self.keep_collections_whole = false;
            let split = self.split_at(widest.1, &at, false);
            self.keep_collections_whole = keep;
            if !split {
                return;
            }
        }
    }
}

/// The hash a stored-key bound starts with (missing bytes count as zeros).
fn hash_of(key: &[u8]) -> u64 {
    let mut bytes = [0u8; 8];
    let n = key.len().min(8);
    bytes[..n].copy_from_slice(&key[..n]);
    u64::from_be_bytes(bytes)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(hash: u64, pk: &[u8], sort: &[u8]) -> Vec<u8> {
        let mut k = hash.to_be_bytes().to_vec();
        k.extend_from_slice(&(pk.len() as u16).to_be_bytes());
        k.extend_from_slice(pk);
        k.extend_from_slice(sort);
        k
    }

    #[test]
    fn splits_by_size_keep_every_item_in_order() {
        let limits = Limits {
            partition_size_bytes_max: 200,
            ..Limits::default()
        };
        let mut parts = Partitions::new(1);
        let mut keys = Vec::new();
        for i in 0..100u64 {
            let k = key(
                i.wrapping_mul(0x9E37_79B9_7F4A_7C15),
                b"pk",
                &i.to_be_bytes(),
            );
            parts.insert(&k, b"0123456789");
            parts.split_for_size(&k, &limits);
            keys.push(k);
        }
        keys.sort();
        assert!(parts.count() > 10, "{} partitions", parts.count());
        let seen: Vec<&[u8]> = parts
            .range(Bound::Unbounded, Bound::Unbounded)
            .map(Entry::key)
            .collect();
        assert_eq!(seen, keys.iter().map(Vec::as_slice).collect::<Vec<_>>());
        let back: Vec<&[u8]> = parts
            .range(Bound::Included(&keys[10]), Bound::Excluded(&keys[60]))
            .rev()
            .map(Entry::key)
            .collect();
        let expected: Vec<&[u8]> = keys[10..60].iter().rev().map(Vec::as_slice).collect();
        assert_eq!(back, expected);
        for (_, p) in parts.iter() {
            assert!(p.size_bytes <= 200 + 40);
        }
        assert_eq!(parts.len(), 100);
    }

    #[test]
    fn collections_stay_whole_when_asked() {
        let limits = Limits {
            partition_size_bytes_max: 100,
            ..Limits::default()
        };
        let mut parts = Partitions::new(1);
        parts.keep_collections_whole = true;
        for i in 0..50u8 {
            let k = key(7, b"one", &[i]);
            parts.insert(&k, b"0123456789");
            parts.split_for_size(&k, &limits);
        }
        assert_eq!(parts.count(), 1, "one collection never splits");
        let other = key(9, b"two", b"x");
        parts.insert(&other, b"0123456789");
        parts.split_for_size(&other, &limits);
        assert_eq!(parts.count(), 2);
        assert_eq!(parts.partition_of(&other).items.len(), 1);
    }

    #[test]
    fn grows_by_hash_midpoints() {
        let mut parts = Partitions::new(1);
        parts.grow_to(4);
        let starts: Vec<u64> = parts.iter().map(|(s, _)| hash_of(s)).collect();
        assert_eq!(starts, vec![0, 1 << 62, 1 << 63, 3 << 62]);
        assert_eq!(
            Partitions::new(4)
                .iter()
                .map(|(s, _)| hash_of(s))
                .collect::<Vec<_>>(),
            starts
        );
    }

    #[test]
    fn a_hosted_table_is_one_partition_that_neither_splits_nor_lags() {
        let limits = Limits {
            partition_size_bytes_max: 200,
            heat_split_seconds: 0,
            ..Limits::default()
        };
        let mut parts = Partitions::hosted();
        let mut keys = Vec::new();
        for i in 0..100u64 {
            let k = key(
                i.wrapping_mul(0x9E37_79B9_7F4A_7C15),
                b"pk",
                &i.to_be_bytes(),
            );
            // Lagging followers and a size far past the limit: a hosted table ignores both.
            parts.put(&k, b"0123456789", 1_000, [0, 500, 900], &limits);
            assert!(!parts.split_for_heat(&k, &limits));
            keys.push(k);
        }
        parts.grow_to(8);
        assert_eq!((parts.count(), parts.splits), (1, 0));
        assert!(parts.is_hosted());
        let (_, partition) = parts.iter().next().unwrap();
        assert!(partition.group.is_none(), "no replica group of its own");
        for k in &keys {
            assert_eq!(
                partition.read(2, k),
                Some(&b"0123456789"[..]),
                "no stale view"
            );
        }
        assert_eq!(
            parts
                .range_at(1, Bound::Unbounded, Bound::Unbounded)
                .count(),
            100
        );
        // The same writes in the engine's own layout split and lag.
        let mut own = Partitions::new(1);
        for k in &keys {
            own.put(k, b"0123456789", 1_000, [0, 500, 900], &limits);
        }
        assert!(own.count() > 1);
        assert!(own.range_at(2, Bound::Unbounded, Bound::Unbounded).count() < 100);
    }

    #[test]
    fn followers_lag_then_converge() {
        let mut store = ItemStore::default();
        let mut group = ReplicaGroup::new(0);
        store.insert(b"k", b"v1");
        group.write(
            Write {
                before: None,
                after: Some(Entry::new(b"k", b"v1")),
            },
            1_000,
            [0, 0, 500],
        );
        let before = store.insert(b"k", b"v2");
        group.write(
            Write {
                before,
                after: Some(Entry::new(b"k", b"v2")),
            },
            1_100,
            [0, 300, 0],
        );
        assert_eq!(group.read(0, b"k", &store), Some(&b"v2"[..]));
        assert_eq!(group.read(1, b"k", &store), Some(&b"v1"[..]));
        assert_eq!(
            group.read(2, b"k", &store),
            None,
            "zone 2 has not seen the first write"
        );
        group.catch_up(1_400);
        assert_eq!(group.read(1, b"k", &store), Some(&b"v2"[..]));
        // Zone 2 applies in order: the second write waits for the first.
        assert_eq!(group.read(2, b"k", &store), None);
        group.catch_up(1_500);
        assert_eq!(group.read(2, b"k", &store), Some(&b"v2"[..]));
        assert_eq!(
            group.unapplied_len(),
            0,
            "the log is compacted once all applied"
        );
        for zone in 0..3 {
            assert_eq!(group.replica(zone).commit(), 2);
        }
    }
}
