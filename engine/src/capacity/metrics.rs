//! The CloudWatch metrics DynamoDB publishes per table and per GSI, as one-minute series, and
//! Contributor Insights (the most accessed and most throttled partition keys).
//!
//! Counters are kept per minute of the caller's clock for the last [`MINUTES_KEPT`] minutes,
//! plus running totals (what `/metrics` exposes, as Prometheus counters).

use std::collections::{BTreeMap, VecDeque};

/// One day of one-minute series.
pub const MINUTES_KEPT: usize = 1440;
/// Keys Contributor Insights tracks per table (space-saving heavy hitters).
pub const INSIGHT_KEYS_MAX: usize = 1024;

#[derive(Clone, Debug, Default, PartialEq)]
pub struct Counters {
    pub consumed_read_capacity_units: f64,
    pub consumed_write_capacity_units: f64,
    pub read_throttle_events: u64,
    pub write_throttle_events: u64,
    pub throttled_requests: u64,
    pub returned_item_count: u64,
    pub user_errors: u64,
    pub system_errors: u64,
    pub successful_requests: u64,
    /// Sum and maximum of successful requests' latency, in microseconds.
    pub latency_sum_us: u64,
    pub latency_max_us: u64,
    /// Items the TTL sweep deleted (TimeToLiveDeletedItemCount).
    pub time_to_live_deleted_item_count: u64,
    /// Write units of writes replicated into this table from another region's replica
    /// (a global table's replicated write units, billed per replica write).
    pub replicated_write_capacity_units: f64,
}

impl Counters {
    fn add(&mut self, other: &Counters) {
        self.consumed_read_capacity_units += other.consumed_read_capacity_units;
        self.consumed_write_capacity_units += other.consumed_write_capacity_units;
        self.read_throttle_events += other.read_throttle_events;
        self.write_throttle_events += other.write_throttle_events;
        self.throttled_requests += other.throttled_requests;
        self.returned_item_count += other.returned_item_count;
        self.user_errors += other.user_errors;
        self.system_errors += other.system_errors;
        self.successful_requests += other.successful_requests;
        self.latency_sum_us += other.latency_sum_us;
        self.latency_max_us = self.latency_max_us.max(other.latency_max_us);
        self.time_to_live_deleted_item_count += other.time_to_live_deleted_item_count;
        self.replicated_write_capacity_units += other.replicated_write_capacity_units;
    }
}

/// A table's (or GSI's) series.
#[derive(Clone, Debug, Default)]
pub struct Series {
    /// (minute since the epoch, counters), oldest first.
    pub minutes: VecDeque<(u64, Counters)>,
    pub totals: Counters,
}

impl Series {
    /// Adds `delta` at `now_ms`.
    pub fn record(&mut self, now_ms: u64, delta: &Counters) {
        let minute = now_ms / 60_000;
        match self.minutes.back_mut() {
            Some((m, counters)) if *m >= minute => counters.add(delta),
            _ => {
                let mut counters = Counters::default();
                counters.add(delta);
                self.minutes.push_back((minute, counters));
                if self.minutes.len() > MINUTES_KEPT {
                    self.minutes.pop_front();
                }
            }
        }
        self.totals.add(delta);
    }
}

#[derive(Clone, Debug, Default)]
pub struct TableMetrics {
    pub table: Series,
    pub indexes: BTreeMap<String, Series>,
    pub insights: Option<Insights>,
    /// When Contributor Insights was last enabled or disabled.
    pub insights_updated_ms: Option<u64>,
}

/// Heavy hitters by partition key: units consumed and requests throttled.
#[derive(Clone, Debug, Default)]
pub struct Insights {
    pub accessed: BTreeMap<Vec<u8>, f64>,
    pub throttled: BTreeMap<Vec<u8>, f64>,
}

fn space_saving(counts: &mut BTreeMap<Vec<u8>, f64>, key: &[u8], weight: f64) {
    if let Some(count) = counts.get_mut(key) {
        *count += weight;
        return;
    }
    let mut base = 0.0;
    if counts.len() >= INSIGHT_KEYS_MAX {
        let (smallest, count) = counts
            .iter()
            .min_by(|a, b| a.1.total_cmp(b.1).then(a.0.cmp(b.0)))
            .map(|(k, c)| (k.clone(), *c))
            .expect("full");
        counts.remove(&smallest);
        base = count;
    }
    counts.insert(key.to_vec(), base + weight);
}

impl Insights {
    pub fn accessed(&mut self, partition_key: &[u8], units: f64) {
        space_saving(&mut self.accessed, partition_key, units);
    }

    pub fn throttled(&mut self, partition_key: &[u8]) {
        space_saving(&mut self.throttled, partition_key, 1.0);
    }

    /// The `n` heaviest keys, heaviest first (ties by key).
    pub fn top(counts: &BTreeMap<Vec<u8>, f64>, n: usize) -> Vec<(&[u8], f64)> {
        let mut all: Vec<(&[u8], f64)> = counts.iter().map(|(k, c)| (k.as_slice(), *c)).collect();
        all.sort_by(|a, b| b.1.total_cmp(&a.1).then(a.0.cmp(b.0)));
        all.truncate(n);
        all
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn series_roll_by_minute() {
        let mut s = Series::default();
        let one = Counters {
            consumed_read_capacity_units: 1.5,
            ..Counters::default()
        };
        s.record(0, &one);
        s.record(59_999, &one);
        s.record(60_000, &one);
        assert_eq!(s.minutes.len(), 2);
        assert_eq!(s.minutes[0].1.consumed_read_capacity_units, 3.0);
        assert_eq!(s.totals.consumed_read_capacity_units, 4.5);
    }

    #[test]
    fn space_saving_keeps_the_heavy_key() {
        let mut insights = Insights::default();
        for i in 0..5000u32 {
            insights.accessed(&i.to_be_bytes(), 1.0);
            insights.accessed(b"hot", 1.0);
        }
        let top = Insights::top(&insights.accessed, 1);
        assert_eq!(top[0].0, b"hot");
        assert!(insights.accessed.len() <= INSIGHT_KEYS_MAX);
    }
}
