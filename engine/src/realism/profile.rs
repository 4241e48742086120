//! Realism profiles: what `dynasim serve --profile FILE --seed N` turns on, globally or per
//! table, reproducibly from the seed (replica lag, enforced capacity, throttling storms), and
//! the seeded draws the engine makes for them.
//!
//! By default nothing is on: every read is served by the partition's leader and no request is
//! throttled, which is what clients expect of a local endpoint.

use crate::error::profiles;
use crate::limits::Limits;
use crate::partition::REPLICA_COUNT;
use rand_chacha::ChaCha8Rng;
use rand_core::{RngCore, SeedableRng};
use serde::Deserialize;
use std::collections::BTreeMap;

/// A profile file (TOML). Unknown keys are errors, so a typo does not silently turn a
/// behaviour off.
#[derive(Clone, Debug, Default, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct Profile {
    /// What every table does, unless `tables` names it.
    #[serde(default)]
    pub defaults: Behaviour,
    /// Per-table behaviour; a table listed here uses its entry instead of `defaults`.
    #[serde(default)]
    pub tables: BTreeMap<String, Behaviour>,
    /// Limits to change (tiny partitions, short bursts, fast on-demand scaling).
    #[serde(default)]
    pub limits: LimitOverrides,
    /// How transactions behave.
    #[serde(default)]
    pub transactions: TransactionBehaviour,
    /// How global tables replicate between the regions of one host.
    #[serde(default)]
    pub global_tables: GlobalTableBehaviour,
}

/// Global tables span regions, so their behaviour is the profile's, not a table's.
#[derive(Clone, Debug, Default, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct GlobalTableBehaviour {
    /// Each replicated write reaches another region a uniformly drawn `[min, max]`
    /// milliseconds after its own region applied it (in order per pair of regions).
    /// Without it: `global::regions::DEFAULT_REPLICATION_DELAY_MS`.
    #[serde(default)]
    pub replication_delay_ms: Option<[u64; 2]>,
    /// A region's physical clock runs this many milliseconds ahead of the host's (behind when
    /// negative): the clock its hybrid logical clock stamps writes from.
    #[serde(default)]
    pub clock_offset_ms: BTreeMap<String, i64>,
}

/// Transactions span tables, so their behaviour is the profile's, not a table's.
#[derive(Clone, Debug, Default, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct TransactionBehaviour {
    /// A TransactWriteItems waits a uniformly drawn `[min, max]` milliseconds between its
    /// prepare and its commit, its items held prepared: concurrent writes of them meet
    /// TransactionConflict, as in the service.
    #[serde(default)]
    pub commit_delay_ms: Option<[u64; 2]>,
    /// After the decision (and the commit delay), each item of a TransactWriteItems is
    /// committed at its own uniformly drawn `[min, max]` milliseconds, as the service's commits
    /// reach their partitions one by one: meanwhile a GetItem can read one item committed and
    /// another not yet. The answer waits for the last.
    #[serde(default)]
    pub commit_spread_ms: Option<[u64; 2]>,
}

#[derive(Clone, Debug, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct Behaviour {
    /// Throttle requests past provisioned or on-demand capacity.
    #[serde(default)]
    pub throttling: bool,
    /// Let a hot partition borrow the table's unused provisioned capacity.
    #[serde(default = "yes")]
    pub adaptive_capacity: bool,
    /// Followers apply each write a uniformly drawn `[min, max]` milliseconds after it
    /// commits, and eventually consistent reads go to a replica drawn at random.
    #[serde(default)]
    pub replica_lag_ms: Option<[u64; 2]>,
    /// GSIs show each write a uniformly drawn `[min, max]` milliseconds after it (their
    /// propagation is asynchronous in DynamoDB).
    #[serde(default)]
    pub gsi_lag_ms: Option<[u64; 2]>,
    /// Periods in which requests are throttled at random.
    #[serde(default)]
    pub storms: Option<Storms>,
    /// Track the most accessed and most throttled keys (Contributor Insights).
    #[serde(default)]
    pub contributor_insights: bool,
    /// Target-tracking auto scaling of provisioned tables' read and write capacity.
    #[serde(default)]
    pub auto_scaling: Option<AutoScaling>,
    /// An expired item is deleted a uniformly drawn `[min, max]` milliseconds after its
    /// expiry (AWS: within a few days; without this, `Config::ttl_delay_ms`).
    #[serde(default)]
    pub ttl_delay_ms: Option<[u64; 2]>,
}

/// Target tracking as Application Auto Scaling does it for DynamoDB: scale out when
/// consumption stayed above `target_utilization` of the provisioned capacity for two
/// consecutive minutes, scale in when it stayed below `target_utilization` − 0.2 for fifteen;
/// the new capacity is the consumption divided by the target, within `[min, max]`.
#[derive(Clone, Copy, Debug, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct AutoScaling {
    pub target_utilization: f64,
    pub min_capacity: u64,
    pub max_capacity: u64,
}

fn yes() -> bool {
    true
}

impl Default for Behaviour {
    fn default() -> Self {
        Behaviour {
            throttling: false,
            adaptive_capacity: true,
            replica_lag_ms: None,
            gsi_lag_ms: None,
            storms: None,
            contributor_insights: false,
            auto_scaling: None,
            ttl_delay_ms: None,
        }
    }
}

/// A storm lasts `duration_s` seconds of every `every_s`, starting at an offset drawn from
/// the seed per table; during it each request is throttled with `probability`.
#[derive(Clone, Debug, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct Storms {
    pub every_s: u64,
    pub duration_s: u64,
    pub probability: f64,
}

#[derive(Clone, Debug, Default, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct LimitOverrides {
    pub partition_size_bytes_max: Option<u64>,
    pub partition_read_units_max: Option<f64>,
    pub partition_write_units_max: Option<f64>,
    pub burst_seconds: Option<f64>,
    pub on_demand_initial_read_units: Option<f64>,
    pub on_demand_initial_write_units: Option<f64>,
    pub on_demand_scale_s: Option<u64>,
    pub heat_split_utilization: Option<f64>,
    pub heat_split_seconds: Option<u32>,
    pub item_collection_bytes_max: Option<u64>,
    pub stream_retention_ms: Option<u64>,
    pub stream_shard_rollover_ms: Option<u64>,
    pub index_creating_ms: Option<u64>,
    pub index_backfill_ms_per_mib: Option<u64>,
    pub ttl_transition_ms: Option<u64>,
    pub ttl_modification_interval_ms: Option<u64>,
}

/// The checks of one table's (or the defaults') behaviour, `at` naming it in messages.
fn validate_behaviour(at: &str, b: &Behaviour, errors: &mut Vec<String>) {
    for (name, lag) in [
        ("replica_lag_ms", b.replica_lag_ms),
        ("gsi_lag_ms", b.gsi_lag_ms),
        ("ttl_delay_ms", b.ttl_delay_ms),
    ] {
        if let Some([min, max]) = lag
            && min > max
        {
            errors.push(profiles::lag_range_inverted(at, name, min, max));
        }
    }
    if let Some(a) = &b.auto_scaling {
        if !(0.2..=0.9).contains(&a.target_utilization) {
            errors.push(profiles::auto_scaling_target_out_of_range(at));
        }
        if a.min_capacity == 0 || a.min_capacity > a.max_capacity {
            errors.push(profiles::auto_scaling_capacity_bounds_invalid(at));
        }
    }
    if let Some(s) = &b.storms {
        if s.every_s == 0 || s.duration_s > s.every_s {
            errors.push(profiles::storms_duration_invalid(at));
        }
        if !(0.0..=1.0).contains(&s.probability) {
            errors.push(profiles::storms_probability_out_of_range(at));
        }
    }
}

impl Profile {
    /// Checks values a type cannot: every error at once.
    pub fn validate(&self) -> Result<(), Vec<String>> {
        let mut errors = Vec::new();
        let behaviours = std::iter::once(("defaults".to_string(), &self.defaults)).chain(
            self.tables
                .iter()
                .map(|(name, b)| (format!("tables.{name}"), b)),
        );
        for (at, b) in behaviours {
            validate_behaviour(&at, b, &mut errors);
        }
        for (at, name, range) in [
            (
                "transactions",
                "commit_delay_ms",
                self.transactions.commit_delay_ms,
            ),
            (
                "transactions",
                "commit_spread_ms",
                self.transactions.commit_spread_ms,
            ),
            (
                "global_tables",
                "replication_delay_ms",
                self.global_tables.replication_delay_ms,
            ),
        ] {
            if let Some([min, max]) = range
                && min > max
            {
                errors.push(profiles::lag_range_inverted(at, name, min, max));
            }
        }
        let l = &self.limits;
        for (name, value) in [
            ("partition_read_units_max", l.partition_read_units_max),
            ("partition_write_units_max", l.partition_write_units_max),
            (
                "on_demand_initial_read_units",
                l.on_demand_initial_read_units,
            ),
            (
                "on_demand_initial_write_units",
                l.on_demand_initial_write_units,
            ),
            ("heat_split_utilization", l.heat_split_utilization),
        ] {
            if value.is_some_and(|v| !(v > 0.0 && v.is_finite())) {
                errors.push(profiles::limit_not_positive(name));
            }
        }
        if l.burst_seconds
            .is_some_and(|v| !(v >= 0.0 && v.is_finite()))
        {
            errors.push(profiles::burst_seconds_negative());
        }
        if errors.is_empty() {
            Ok(())
        } else {
            Err(errors)
        }
    }

    /// `limits` with this profile's overrides applied.
    pub fn apply_limits(&self, limits: &mut Limits) {
        let l = &self.limits;
        if let Some(v) = l.partition_size_bytes_max {
            limits.partition_size_bytes_max = v;
        }
        if let Some(v) = l.item_collection_bytes_max {
            limits.item_collection_bytes_max = v;
        }
        if let Some(v) = l.stream_retention_ms {
            limits.stream_retention_ms = v;
        }
        if let Some(v) = l.stream_shard_rollover_ms {
            // At least a second: an idle stream materializes one shard per interval.
            limits.stream_shard_rollover_ms = v.max(1000);
        }
        if let Some(v) = l.index_creating_ms {
            limits.index_creating_ms = v;
        }
        if let Some(v) = l.index_backfill_ms_per_mib {
            limits.index_backfill_ms_per_mib = v;
        }
        if let Some(v) = l.ttl_transition_ms {
            limits.ttl_transition_ms = v;
        }
        if let Some(v) = l.ttl_modification_interval_ms {
            limits.ttl_modification_interval_ms = v;
        }
        if let Some(v) = l.partition_read_units_max {
            limits.partition_read_units_max = v;
        }
        if let Some(v) = l.partition_write_units_max {
            limits.partition_write_units_max = v;
        }
        if let Some(v) = l.burst_seconds {
            limits.burst_seconds = v;
        }
        if let Some(v) = l.on_demand_initial_read_units {
            limits.on_demand_initial_read_units = v;
        }
        if let Some(v) = l.on_demand_initial_write_units {
            limits.on_demand_initial_write_units = v;
        }
        if let Some(v) = l.on_demand_scale_s {
            limits.on_demand_scale_ms = v * 1000;
        }
        if let Some(v) = l.heat_split_utilization {
            limits.heat_split_utilization = v;
        }
        if let Some(v) = l.heat_split_seconds {
            limits.heat_split_seconds = v;
        }
    }

    pub fn behaviour(&self, table: &str) -> &Behaviour {
        self.tables.get(table).unwrap_or(&self.defaults)
    }
}

/// The profile in force and the seeded generators it draws from: one stream per table, so a
/// table's draws depend only on the seed and that table's own requests.
#[derive(Debug)]
pub struct Realism {
    pub profile: Profile,
    pub seed: u64,
    streams: BTreeMap<String, ChaCha8Rng>,
    /// Set when any behaviour needs per-request work.
    pub active: bool,
}

impl Default for Realism {
    fn default() -> Self {
        Realism::new(Profile::default(), 0)
    }
}

impl Realism {
    pub fn new(profile: Profile, seed: u64) -> Realism {
        let busy = |b: &Behaviour| {
            b.throttling
                || b.replica_lag_ms.is_some()
                || b.gsi_lag_ms.is_some()
                || b.storms.is_some()
                || b.contributor_insights
        };
        let active = busy(&profile.defaults) || profile.tables.values().any(busy);
        Realism {
            profile,
            seed,
            streams: BTreeMap::new(),
            active,
        }
    }

    fn stream(&mut self, table: &str) -> &mut ChaCha8Rng {
        let seed = self.seed;
        self.streams.entry(table.to_string()).or_insert_with(|| {
            ChaCha8Rng::seed_from_u64(seed ^ xxhash_rust::xxh3::xxh3_64(table.as_bytes()))
        })
    }

    /// How long each replica takes to apply a write to `table`.
    pub fn lags(&mut self, table: &str) -> [u64; REPLICA_COUNT] {
        if !self.active {
            return [0; REPLICA_COUNT];
        }
        let Some([min, max]) = self.profile.behaviour(table).replica_lag_ms else {
            return [0; REPLICA_COUNT];
        };
        let rng = self.stream(table);
        std::array::from_fn(|_| min + rng.next_u64() % (max - min + 1))
    }

    /// How long `table`'s GSIs take to show a write, when they lag.
    pub fn gsi_lag(&mut self, table: &str) -> Option<u64> {
        if !self.active {
            return None;
        }
        let [min, max] = self.profile.behaviour(table).gsi_lag_ms?;
        Some(min + self.stream(table).next_u64() % (max - min + 1))
    }

    /// The replica an eventually consistent read of `table` goes to, when lag is on.
    pub fn read_zone(&mut self, table: &str) -> Option<usize> {
        if !self.active || self.profile.behaviour(table).replica_lag_ms.is_none() {
            return None;
        }
        Some((self.stream(table).next_u64() % REPLICA_COUNT as u64) as usize)
    }

    /// Whether a storm throttles this request to `table` at `now_ms`.
    pub fn storm(&mut self, table: &str, now_ms: u64) -> bool {
        if !self.active {
            return false;
        }
        let Some(storms) = self.profile.behaviour(table).storms.clone() else {
            return false;
        };
        let period = storms.every_s * 1000;
        let offset = (self.seed ^ xxhash_rust::xxh3::xxh3_64(table.as_bytes())) % period;
        let phase = (now_ms + period - offset) % period;
        if phase >= storms.duration_s * 1000 {
            return false;
        }
        let draw = self.stream(table).next_u64() as f64 / u64::MAX as f64;
        draw < storms.probability
    }

    pub fn throttling(&self, table: &str) -> bool {
        self.active && self.profile.behaviour(table).throttling
    }

    pub fn adaptive(&self, table: &str) -> bool {
        self.profile.behaviour(table).adaptive_capacity
    }

    pub fn auto_scaling(&self, table: &str) -> Option<AutoScaling> {
        if !self.active {
            return None;
        }
        self.profile.behaviour(table).auto_scaling
    }

    /// How long after its expiry an item of `table` is deleted, when the profile says.
    pub fn ttl_delay(&mut self, table: &str) -> Option<u64> {
        let [min, max] = self.profile.behaviour(table).ttl_delay_ms?;
        Some(min + self.stream(table).next_u64() % (max - min + 1))
    }

    /// How long a transaction waits between prepare and commit, when the profile says.
    pub fn commit_delay(&mut self) -> Option<u64> {
        let [min, max] = self.profile.transactions.commit_delay_ms?;
        Some(min + self.stream("#transactions").next_u64() % (max - min + 1))
    }

    /// When one item of a committing transaction is committed after the decision, when the
    /// profile spreads commits.
    pub fn commit_spread(&mut self) -> Option<u64> {
        let [min, max] = self.profile.transactions.commit_spread_ms?;
        Some(min + self.stream("#transactions").next_u64() % (max - min + 1))
    }

    pub fn insights(&self, table: &str) -> bool {
        self.active && self.profile.behaviour(table).contributor_insights
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn validation_reports_every_error_at_once() {
        let mut profile = Profile::default();
        profile.defaults.replica_lag_ms = Some([10, 5]);
        profile.tables.insert(
            "t".into(),
            Behaviour {
                storms: Some(Storms {
                    every_s: 10,
                    duration_s: 20,
                    probability: 2.0,
                }),
                auto_scaling: Some(AutoScaling {
                    target_utilization: 0.95,
                    min_capacity: 0,
                    max_capacity: 10,
                }),
                ..Behaviour::default()
            },
        );
        profile.limits.burst_seconds = Some(-1.0);
        let errors = profile.validate().unwrap_err();
        assert_eq!(errors.len(), 6, "{errors:#?}");
        assert!(errors[0].starts_with("defaults.replica_lag_ms"));
    }

    #[test]
    fn draws_depend_on_the_seed_and_the_table_only() {
        let mut profile = Profile::default();
        profile.defaults.replica_lag_ms = Some([0, 1000]);
        let draws = |seed, other_table_first: bool| {
            let mut realism = Realism::new(profile.clone(), seed);
            if other_table_first {
                realism.lags("other");
            }
            (0..10).map(|_| realism.lags("t")).collect::<Vec<_>>()
        };
        assert_eq!(draws(1, false), draws(1, true));
        assert_ne!(draws(1, false), draws(2, false));
    }
}
