//! Admission control: token buckets per partition and per table, burst credit, adaptive
//! capacity, per-partition ceilings and on-demand scaling (`dynamodb-facts.md` §6.3–6.6, the
//! USENIX ATC 2022 paper).
//!
//! A request is admitted when the buckets it draws on hold at least its minimum cost (one
//! write unit; one read unit, half for an eventually consistent read) and is charged its
//! exact cost after it ran, which may leave a bucket in debt (a large item on a small table);
//! the debt is repaid by refill before the next admission. So with `n` units in the bucket,
//! `n` one-unit writes pass and the next is throttled.
//!
//! - Provisioned: the table's rate is shared equally by its partitions. Each bucket refills at
//!   its rate and keeps up to `burst_seconds` of unused capacity. Adaptive capacity lets a
//!   partition whose own bucket is empty draw on the table's pool.
//! - On-demand: a table serves up to twice its previous peak per second; demand above that
//!   is throttled and raises the peak `on_demand_scale_ms` later (the table "scales").
//! - Both: a partition serves at most `partition_read_units_max` reads and
//!   `partition_write_units_max` writes per second, or a linear combination (hot keys throttle
//!   in both modes).

use crate::error::{Error, ThrottlingReason};
use crate::limits::Limits;
use std::collections::{BTreeMap, VecDeque};

/// A token bucket whose rate the caller passes in (rates change when partitions split or
/// throughput is updated).
#[derive(Clone, Debug, Default)]
pub struct Bucket {
    pub tokens: f64,
    last_ms: u64,
    started: bool,
}

impl Bucket {
    /// Adds what accrued since the last refill, keeping at most `burst_seconds` of it (one
    /// second's worth at least). A new bucket starts with one second's worth. A clock that
    /// went backwards adds nothing.
    pub fn refill(&mut self, now_ms: u64, rate: f64, burst_seconds: f64) {
        let cap = rate * burst_seconds.max(1.0);
        if !self.started {
            self.started = true;
            self.tokens = rate;
            self.last_ms = now_ms;
        } else if now_ms > self.last_ms {
            let accrued = rate * (now_ms - self.last_ms) as f64 / 1000.0;
            self.tokens = (self.tokens + accrued).min(cap);
            self.last_ms = now_ms;
        }
        self.tokens = self.tokens.min(cap);
    }

    fn halve(&mut self) -> Bucket {
        self.tokens /= 2.0;
        self.clone()
    }
}

/// A partition's buckets, its consumption in the current second, and what its heat tracking
/// sampled.
#[derive(Debug, Default)]
pub struct PartitionLoad {
    pub read: Bucket,
    pub write: Bucket,
    pub second: u64,
    pub read_units: f64,
    pub write_units: f64,
    /// Consecutive seconds the partition ran at or above the heat threshold.
    pub hot_seconds: u32,
    /// Units per stored key, sampled while the partition runs hot.
    pub samples: BTreeMap<Box<[u8]>, f64>,
}

/// Distinct keys a hot partition samples.
const SAMPLED_KEYS_MAX: usize = 256;

impl PartitionLoad {
    pub(crate) fn utilization(&self, limits: &Limits) -> f64 {
        self.read_units / limits.partition_read_units_max
            + self.write_units / limits.partition_write_units_max
    }

    fn roll(&mut self, now_ms: u64, limits: &Limits) {
        let second = now_ms / 1000;
        if second == self.second {
            return;
        }
        let hot = self.utilization(limits) >= limits.heat_split_utilization;
        if hot && second == self.second + 1 {
            self.hot_seconds += 1;
        } else {
            self.hot_seconds = 0;
            self.samples.clear();
        }
        self.second = second;
        self.read_units = 0.0;
        self.write_units = 0.0;
    }

    /// Records consumption by `key` (sampled for heat splits while the partition runs hot).
    pub fn record(&mut self, key: &[u8], read: f64, write: f64, now_ms: u64, limits: &Limits) {
        self.roll(now_ms, limits);
        self.read_units += read;
        self.write_units += write;
        let sampling =
            self.hot_seconds > 0 || self.utilization(limits) >= limits.heat_split_utilization / 2.0;
        if sampling {
            if let Some(units) = self.samples.get_mut(key) {
                *units += read + write;
            } else if self.samples.len() < SAMPLED_KEYS_MAX {
                self.samples.insert(key.into(), read + write);
            }
        }
    }

    pub(crate) fn split(&mut self) -> (PartitionLoad, PartitionLoad) {
        let kept = PartitionLoad {
            read: self.read.halve(),
            write: self.write.halve(),
            second: self.second,
            ..PartitionLoad::default()
        };
        let moved = PartitionLoad {
            read: kept.read.clone(),
            write: kept.write.clone(),
            second: self.second,
            ..PartitionLoad::default()
        };
        (kept, moved)
    }
}

/// One second of a table's consumption and throttled demand (on-demand scaling input).
#[derive(Clone, Debug, Default)]
struct Window {
    second: u64,
    read: f64,
    write: f64,
}

/// A table's pool (provisioned), its on-demand peak, and its GSIs' buckets.
#[derive(Debug, Default)]
pub struct TableLoad {
    pub read: Bucket,
    pub write: Bucket,
    /// On-demand: the previous peak in units per second (twice this is served instantly).
    pub peak_read: f64,
    pub peak_write: f64,
    demand: Window,
    consumed: Window,
    /// On-demand: peaks that take effect once the table has scaled (time, read, write).
    scaling: VecDeque<(u64, f64, f64)>,
    /// Provisioned GSIs: (read, write) buckets by index name.
    pub indexes: BTreeMap<String, (Bucket, Bucket)>,
    /// Every GSI's own partitions, by index name (created on first use, kept only while
    /// throttling is on).
    pub index_partitions: BTreeMap<String, super::index_partitions::IndexPartitions>,
    /// The last minute auto scaling judged.
    pub autoscaled_minute: u64,
}

/// What a table's capacity settings are, as admission needs them.
#[derive(Clone, Copy, Debug)]
pub enum Capacity {
    Provisioned { read: f64, write: f64 },
    OnDemand,
}

/// Which limit a request ran into.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Limit {
    /// The table's (or index's) provisioned throughput.
    Provisioned,
    /// A partition's ceiling (a hot key range).
    KeyRange,
    /// On-demand: more than twice the previous peak.
    OnDemandScaling,
}

/// What an admitted request consumed.
#[derive(Clone, Copy, Debug)]
pub struct Usage<'a> {
    pub write: bool,
    /// Units of the table's capacity (its LSIs' included).
    pub units: f64,
    /// Units per GSI.
    pub index_units: &'a [(&'a str, f64)],
    /// Items returned (ReturnedItemCount).
    pub returned: u64,
}

pub struct Admission<'a> {
    pub capacity: Capacity,
    pub partitions: usize,
    pub adaptive: bool,
    pub limits: &'a Limits,
    pub table_arn: &'a str,
    /// A read of a GSI: the table's partition is not involved (the index's own partitions
    /// judge it, `index_partitions`).
    pub gsi_read: bool,
}

impl TableLoad {
    pub fn new(limits: &Limits) -> TableLoad {
        TableLoad {
            peak_read: limits.on_demand_initial_read_units / 2.0,
            peak_write: limits.on_demand_initial_write_units / 2.0,
            ..TableLoad::default()
        }
    }

    fn roll(&mut self, now_ms: u64, limits: &Limits) {
        let second = now_ms / 1000;
        if second != self.demand.second {
            // Demand above the previous peak (served or throttled) becomes the new peak once
            // the table has scaled, `on_demand_scale_ms` later: until then it is served up
            // to twice the old peak.
            let (read, write) = (self.demand.read, self.demand.write);
            if read > self.peak_read || write > self.peak_write {
                let at = self.demand.second * 1000 + 1000 + limits.on_demand_scale_ms;
                self.scaling.push_back((at, read, write));
            }
            self.demand = Window {
                second,
                ..Window::default()
            };
            self.consumed = Window {
                second,
                ..Window::default()
            };
        }
        while let Some(&(at, read, write)) = self.scaling.front() {
            if at > now_ms {
                break;
            }
            self.peak_read = self.peak_read.max(read).min(limits.table_max_units);
            self.peak_write = self.peak_write.max(write).min(limits.table_max_units);
            self.scaling.pop_front();
        }
    }

    /// Admits a request that costs at least `min_units` on the partition with `load`, or
    /// says which limit throttles it. `index` names a provisioned GSI the request reads, or
    /// for a write, that the table's GSIs must have write capacity left.
    pub fn admit(
        &mut self,
        load: &mut PartitionLoad,
        write: bool,
        min_units: f64,
        index: Option<&str>,
        now_ms: u64,
        a: &Admission<'_>,
    ) -> Result<(), (Limit, Option<String>)> {
        let limits = a.limits;
        load.roll(now_ms, limits);
        self.roll(now_ms, limits);
        let ceiling = limits.partition_ceiling(write);
        let throttled = |this: &mut TableLoad, limit: Limit, index: Option<&str>| {
            if write {
                this.demand.write += min_units;
            } else {
                this.demand.read += min_units;
            }
            Err((limit, index.map(str::to_string)))
        };
        if !a.gsi_read && load.utilization(limits) + min_units / ceiling > 1.0 + 1e-9 {
            return throttled(self, Limit::KeyRange, None);
        }
        match a.capacity {
            Capacity::Provisioned {
                read,
                write: write_rate,
            } => {
                let rate = if write { write_rate } else { read };
                let burst = limits.burst_seconds;
                let share = rate / a.partitions.max(1) as f64;
                let (pool, own) = if write {
                    (&mut self.write, &mut load.write)
                } else {
                    (&mut self.read, &mut load.read)
                };
                pool.refill(now_ms, rate, burst);
                own.refill(now_ms, share, burst);
                if pool.tokens < min_units || (own.tokens < min_units && !a.adaptive && !a.gsi_read)
                {
                    return throttled(self, Limit::Provisioned, None);
                }
                for (name, (read_bucket, write_bucket)) in &mut self.indexes {
                    let bucket = match (write, index) {
                        (true, _) => write_bucket,
                        (false, Some(i)) if i == name => read_bucket,
                        _ => continue,
                    };
                    // Index buckets refill at rates set by `set_index_rate`.
                    if bucket.tokens < min_units.min(1.0) {
                        let name = name.clone();
                        return throttled(self, Limit::Provisioned, Some(&name));
                    }
                }
            }
            Capacity::OnDemand => {
                let (used, peak) = if write {
                    (self.consumed.write, self.peak_write)
                } else {
                    (self.consumed.read, self.peak_read)
                };
                if used + min_units > 2.0 * peak + 1e-9 {
                    return throttled(self, Limit::OnDemandScaling, None);
                }
            }
        }
        Ok(())
    }

    /// Refills a provisioned GSI's buckets at its rates.
    pub fn refill_index(
        &mut self,
        name: &str,
        read: f64,
        write: f64,
        now_ms: u64,
        limits: &Limits,
    ) {
        let (r, w) = self.indexes.entry(name.to_string()).or_default();
        r.refill(now_ms, read, limits.burst_seconds);
        w.refill(now_ms, write, limits.burst_seconds);
    }

    /// Charges what an admitted request consumed: `units` of the table's capacity on the
    /// partition with `load`, plus `index_units` per GSI.
    pub fn charge(
        &mut self,
        load: &mut PartitionLoad,
        key: &[u8],
        usage: &Usage<'_>,
        now_ms: u64,
        a: &Admission<'_>,
    ) {
        let limits = a.limits;
        let Usage {
            write,
            units,
            index_units,
            ..
        } = *usage;
        if write {
            load.record(key, 0.0, units, now_ms, limits);
            self.consumed.write += units;
            self.demand.write += units;
        } else {
            load.record(key, units, 0.0, now_ms, limits);
            self.consumed.read += units;
            self.demand.read += units;
        }
        if let Capacity::Provisioned { .. } = a.capacity {
            let (pool, own) = if write {
                (&mut self.write, &mut load.write)
            } else {
                (&mut self.read, &mut load.read)
            };
            let borrowed = own.tokens < units;
            pool.tokens -= units;
            own.tokens -= units;
            if borrowed && a.adaptive {
                // Adaptive capacity lent the difference from the table's pool.
                own.tokens = own.tokens.max(0.0);
            }
            for (name, units) in index_units {
                if let Some((read_bucket, write_bucket)) = self.indexes.get_mut(*name) {
                    if write {
                        write_bucket.tokens -= units;
                    } else {
                        read_bucket.tokens -= units;
                    }
                }
            }
        }
    }
}

/// The error a throttled request answers with (`dynamodb-facts.md` §6.6).
pub fn throttle_error(
    limit: Limit,
    index: Option<&str>,
    write: bool,
    capacity: Capacity,
    table_arn: &str,
) -> Error {
    let operation = if write { "Write" } else { "Read" };
    let (resource_type, resource) = match index {
        Some(name) => ("Index", format!("{table_arn}/index/{name}")),
        None => ("Table", table_arn.to_string()),
    };
    let limit_name = match (limit, capacity) {
        (Limit::KeyRange, _) => "KeyRangeThroughputExceeded",
        (Limit::Provisioned, _) => "ProvisionedThroughputExceeded",
        (Limit::OnDemandScaling, _) => "KeyRangeThroughputExceeded",
    };
    let reason = ThrottlingReason {
        reason: format!("{resource_type}{operation}{limit_name}"),
        resource,
    };
    match capacity {
        Capacity::Provisioned { .. } if index.is_some() => {
            Error::index_provisioned_throughput_exceeded(reason)
        }
        Capacity::Provisioned { .. } => Error::table_provisioned_throughput_exceeded(reason),
        Capacity::OnDemand => Error::on_demand_throughput_exceeded(reason),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn limits() -> Limits {
        Limits {
            burst_seconds: 0.0,
            ..Limits::default()
        }
    }

    #[test]
    fn bucket_refills_and_caps_at_the_burst() {
        let mut b = Bucket::default();
        b.refill(0, 10.0, 300.0);
        assert_eq!(b.tokens, 10.0);
        b.tokens = 0.0;
        b.refill(500, 10.0, 300.0);
        assert_eq!(b.tokens, 5.0);
        b.refill(1_000_000, 10.0, 300.0);
        assert_eq!(b.tokens, 3000.0, "at most 300 s of unused capacity");
        b.refill(10, 10.0, 300.0);
        assert_eq!(b.tokens, 3000.0, "a clock going backwards adds nothing");
    }

    #[test]
    fn throttles_exactly_when_the_bucket_empties() {
        let limits = limits();
        let a = Admission {
            capacity: Capacity::Provisioned {
                read: 5.0,
                write: 5.0,
            },
            partitions: 1,
            adaptive: false,
            limits: &limits,
            table_arn: "arn",
            gsi_read: false,
        };
        let mut table = TableLoad::new(&limits);
        let mut part = PartitionLoad::default();
        for _ in 0..5 {
            table.admit(&mut part, true, 1.0, None, 1000, &a).unwrap();
            let usage = Usage {
                write: true,
                units: 1.0,
                index_units: &[],
                returned: 0,
            };
            table.charge(&mut part, b"k", &usage, 1000, &a);
        }
        assert_eq!(
            table.admit(&mut part, true, 1.0, None, 1000, &a),
            Err((Limit::Provisioned, None))
        );
        // 200 ms later one unit has accrued.
        table.admit(&mut part, true, 1.0, None, 1200, &a).unwrap();
    }
}
