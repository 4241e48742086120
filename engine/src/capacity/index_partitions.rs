//! A global secondary index's partitions, for admission: DynamoDB partitions a GSI by its own
//! partition key, independently of its table, so a hot index key throttles on the index
//! partition that holds it (`IndexReadKeyRangeThroughputExceeded`,
//! `IndexWriteKeyRangeThroughputExceeded`: a table write whose index entry lands on a hot
//! index partition is refused, as GSI back-pressure does), however the table's items are
//! spread. Each partition owns a range of the index partition key's hash, serves at most a
//! partition's ceiling (`partition_read_units_max`, `partition_write_units_max`, or a linear
//! combination), and splits after `heat_split_seconds` at the heat threshold (at the median of
//! the hashes it sampled, or the middle of its range), as table partitions do. Only kept while
//! a profile turns throttling on: nothing else observes them.

use super::admission::PartitionLoad;
use crate::limits::Limits;

/// The partitions of one GSI: each the start of its hash range and its load.
#[derive(Debug)]
pub struct IndexPartitions {
    parts: Vec<(u64, PartitionLoad)>,
}

/// The index partition key's hash of an index key (its first eight bytes, as every stored
/// key begins: `types::keys::KeySchema::partition_prefix`); 0 for a shorter key (a read from
/// the start of the index).
pub fn hash_of(index_key: &[u8]) -> u64 {
    index_key
        .get(..8)
        .and_then(|b| b.try_into().ok())
        .map_or(0, u64::from_be_bytes)
}

impl IndexPartitions {
    /// `count` partitions over equal slices of the hash space.
    pub fn new(count: u64) -> IndexPartitions {
        let count = count.max(1);
        let parts = (0..count)
            .map(|i| {
                let start = ((u128::from(i) << 64) / u128::from(count)) as u64;
                (start, PartitionLoad::default())
            })
            .collect();
        IndexPartitions { parts }
    }

    pub fn count(&self) -> usize {
        self.parts.len()
    }

    fn position(&self, hash: u64) -> usize {
        self.parts.partition_point(|(start, _)| *start <= hash) - 1
    }

    /// Admits `units` on the partition holding `hash`, or says it is at its ceiling.
    pub fn admit(
        &mut self,
        hash: u64,
        write: bool,
        units: f64,
        now_ms: u64,
        limits: &Limits,
    ) -> bool {
        let i = self.position(hash);
        let load = &mut self.parts[i].1;
        // Rolls the partition's second forward before it is judged.
        load.record(&hash.to_be_bytes(), 0.0, 0.0, now_ms, limits);
        load.utilization(limits) + units / limits.partition_ceiling(write) <= 1.0 + 1e-9
    }

    /// Records what the partition holding `hash` served, and splits it if it stayed hot for
    /// `heat_split_seconds`; returns whether it split.
    pub fn record(
        &mut self,
        hash: u64,
        write: bool,
        units: f64,
        now_ms: u64,
        limits: &Limits,
    ) -> bool {
        let i = self.position(hash);
        let load = &mut self.parts[i].1;
        let (read, written) = if write { (0.0, units) } else { (units, 0.0) };
        load.record(&hash.to_be_bytes(), read, written, now_ms, limits);
        if load.hot_seconds < limits.heat_split_seconds {
            return false;
        }
        self.split(i)
    }

    /// Splits partition `i` after the median of its sampled hashes (by units), or at the
    /// middle of its range; a range of one hash does not split.
    fn split(&mut self, i: usize) -> bool {
        let lo = self.parts[i].0;
        let hi = self.parts.get(i + 1).map_or(u64::MAX, |(s, _)| *s - 1);
        let samples = &self.parts[i].1.samples;
        let total: f64 = samples.values().sum();
        let mut seen = 0.0;
        let median = samples.iter().find_map(|(key, units)| {
            seen += units;
            (seen >= total / 2.0).then(|| hash_of(key))
        });
        // The hashes up to the median stay; the rest move (the median itself moves when it
        // is the range's last hash, so that a single hot hash is isolated either way).
        let at = match median {
            Some(m) if m < hi => m + 1,
            Some(m) => m,
            None => lo + (hi - lo) / 2 + 1,
        };
        if at <= lo || at > hi {
            return false;
        }
        let (kept, moved) = self.parts[i].1.split();
        self.parts[i].1 = kept;
        self.parts.insert(i + 1, (at, moved));
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn limits() -> Limits {
        Limits {
            heat_split_seconds: 2,
            ..Limits::default()
        }
    }

    #[test]
    fn a_hot_hash_fills_its_partitions_ceiling_and_not_the_others() {
        let limits = limits();
        let mut p = IndexPartitions::new(4);
        let hot = 5u64;
        let cold = u64::MAX / 4 * 3;
        let mut served = 0;
        while p.admit(hot, true, 1.0, 1_000, &limits) {
            p.record(hot, true, 1.0, 1_000, &limits);
            served += 1;
        }
        assert_eq!(served, 1000, "one partition's write ceiling per second");
        assert!(p.admit(cold, true, 1.0, 1_000, &limits));
        // The next second the partition serves again.
        assert!(p.admit(hot, true, 1.0, 2_000, &limits));
    }

    #[test]
    fn a_partition_hot_for_long_enough_splits_at_its_sampled_median() {
        let limits = limits();
        let mut p = IndexPartitions::new(1);
        let (a, b) = (1u64 << 40, 1u64 << 60);
        let mut split = false;
        for second in 0..5u64 {
            for _ in 0..450 {
                for h in [a, b] {
                    split |= p.record(h, true, 1.0, second * 1000, &limits);
                }
            }
        }
        assert!(split);
        assert_eq!(p.count(), 2);
        assert_ne!(p.position(a), p.position(b), "the two hot hashes are apart");
    }
}
