//! Admission and charging around every data-plane access: the throttling decision (when a
//! profile turns throttling or storms on), the consumed units recorded in the table, index and
//! account series and in Contributor Insights, heat splits, and the auto-scaling trigger.

use crate::capacity::admission::{Admission, Capacity, Limit, Usage, throttle_error};
use crate::capacity::index_partitions;
use crate::capacity::metrics::Counters;
use crate::data::table::{self, Table};
use crate::engine::{Engine, table_name_of};
use crate::error::{ErrorKind, Result};

/// A GSI read was served by the index partition holding its start.
fn record_index_read(
    t: &mut Table,
    key: &[u8],
    index_units: &[(&str, f64)],
    now_ms: u64,
    limits: &crate::limits::Limits,
) {
    let hash = index_partitions::hash_of(key);
    for (name, units) in index_units {
        if let Some(p) = t.index_partitions_mut(name, limits) {
            p.record(hash, false, *units, now_ms, limits);
        }
    }
}

/// A write's replica lags and GSI lag, as drawn for it.
pub(crate) type WriteLags = ([u64; crate::partition::REPLICA_COUNT], Option<u64>);

impl Engine {
    /// Records a request's outcome in the account and table series (the host measures the
    /// latency).
    pub fn record_request(
        &mut self,
        table: Option<&str>,
        error: Option<ErrorKind>,
        latency_us: u64,
        now_ms: u64,
    ) {
        let mut delta = Counters::default();
        match error {
            None => {
                delta.successful_requests = 1;
                delta.latency_sum_us = latency_us;
                delta.latency_max_us = latency_us;
            }
            Some(kind) if kind.http_status() >= 500 => delta.system_errors = 1,
            Some(
                ErrorKind::ProvisionedThroughputExceeded
                | ErrorKind::Throttling
                | ErrorKind::RequestLimitExceeded,
            ) => {}
            Some(_) => delta.user_errors = 1,
        }
        self.account_metrics.record(now_ms, &delta);
        if let Some(t) = table.and_then(|name| self.tables.get_mut(table_name_of(name))) {
            // UserErrors is an account metric; tables count the rest.
            delta.user_errors = 0;
            t.metrics.table.record(now_ms, &delta);
        }
    }

    /// Admits a data-plane request on `table` that touches `key` and costs at least
    /// `min_units`, or answers with the throttling error DynamoDB would. Nothing is checked
    /// unless the profile turns throttling (or storms) on for the table.
    pub(crate) fn admit(
        &mut self,
        table: &str,
        key: &[u8],
        write: bool,
        min_units: f64,
        index: Option<&str>,
        now_ms: u64,
    ) -> Result<()> {
        if !self.realism.active {
            return Ok(());
        }
        let storm = self.realism.storm(table, now_ms);
        if !storm && !self.realism.throttling(table) {
            return Ok(());
        }
        let adaptive = self.realism.adaptive(table);
        let limits = &self.config.limits;
        let Some(t) = self.tables.get_mut(table) else {
            return Ok(());
        };
        let capacity = t.capacity();
        let result = if storm {
            Err((
                match capacity {
                    Capacity::Provisioned { .. } => Limit::Provisioned,
                    Capacity::OnDemand => Limit::OnDemandScaling,
                },
                None,
            ))
        } else {
            t.refill_index_buckets(now_ms, limits);
            let gsi_read = index.is_some() && !write;
            let loads = t.loads_mut(key);
            let admission = Admission {
                capacity,
                partitions: loads.partitions,
                adaptive,
                limits,
                table_arn: loads.arn,
                gsi_read,
            };
            let admitted =
                loads
                    .table
                    .admit(loads.partition, write, min_units, index, now_ms, &admission);
            match (admitted, index) {
                // A GSI read is judged by the index partition holding its start.
                (Ok(()), Some(name)) if gsi_read => {
                    let hash = index_partitions::hash_of(key);
                    let room = t
                        .index_partitions_mut(name, limits)
                        .is_none_or(|p| p.admit(hash, false, min_units, now_ms, limits));
                    if room {
                        Ok(())
                    } else {
                        Err((Limit::KeyRange, Some(name.to_string())))
                    }
                }
                (admitted, _) => admitted,
            }
        };
        let Err((limit, index)) = result else {
            return Ok(());
        };
        Err(self.throttled(table, key, write, (limit, index), now_ms))
    }

    /// Records a throttled request in the table's (or index's) series and Contributor
    /// Insights, and returns the error it answers.
    fn throttled(
        &mut self,
        table: &str,
        key: &[u8],
        write: bool,
        (limit, index): (Limit, Option<String>),
        now_ms: u64,
    ) -> crate::error::Error {
        let t = self
            .tables
            .get_mut(table)
            .expect("admission found the table");
        let capacity = t.capacity();
        let mut delta = Counters {
            throttled_requests: 1,
            ..Counters::default()
        };
        if write {
            delta.write_throttle_events = 1;
        } else {
            delta.read_throttle_events = 1;
        }
        match &index {
            Some(name) => t
                .metrics
                .indexes
                .entry(name.clone())
                .or_default()
                .record(now_ms, &delta),
            None => t.metrics.table.record(now_ms, &delta),
        }
        if let Some(insights) = &mut t.metrics.insights
            && let Some(partition_key) = crate::partition::partition_key_prefix(key)
        {
            insights.throttled(partition_key);
        }
        throttle_error(limit, index.as_deref(), write, capacity, &t.arn)
    }

    /// Admits a table write's GSI writes on the index partitions they land on (`touched`, from
    /// `Table::index_writes_of`): a write whose index entry goes to an index partition at its
    /// ceiling is throttled (GSI back-pressure), before anything is written. Only while the
    /// profile turns throttling on.
    pub(crate) fn admit_index_writes(
        &mut self,
        table: &str,
        key: &[u8],
        touched: &[(String, u64)],
        now_ms: u64,
    ) -> Result<()> {
        let limits = &self.config.limits;
        let Some(t) = self.tables.get_mut(table) else {
            return Ok(());
        };
        for (name, hash) in touched {
            let room = t
                .index_partitions_mut(name, limits)
                .is_none_or(|p| p.admit(*hash, true, 1.0, now_ms, limits));
            if !room {
                let index = Some(name.clone());
                return Err(self.throttled(table, key, true, (Limit::KeyRange, index), now_ms));
            }
        }
        Ok(())
    }

    /// Whether admission judges `table`'s GSI partitions (a profile turns throttling on).
    pub(crate) fn tracks_index_partitions(&self, table: &str) -> bool {
        self.realism.active && self.realism.throttling(table)
    }

    /// Records a table write's GSI writes on the index partitions they landed on, splitting
    /// one that stayed hot.
    pub(crate) fn record_index_writes(
        &mut self,
        table: &str,
        touched: &[(String, u64)],
        index_writes: &crate::data::index::IndexWrites,
        now_ms: u64,
    ) {
        let limits = &self.config.limits;
        let Some(t) = self.tables.get_mut(table) else {
            return;
        };
        for write in index_writes.iter().filter(|w| w.global && w.units > 0.0) {
            let hashes: Vec<u64> = touched
                .iter()
                .filter(|(n, _)| *n == write.index)
                .map(|(_, h)| *h)
                .collect();
            // A moved entry is two index writes: each partition it touched served its share.
            let share = write.units / hashes.len().max(1) as f64;
            for hash in hashes {
                if let Some(p) = t.index_partitions_mut(&write.index, limits) {
                    p.record(hash, true, share, now_ms, limits);
                }
            }
        }
    }

    /// Charges what an admitted request consumed, records it in the metrics, and splits the
    /// partition if it stayed hot long enough.
    pub(crate) fn charge(&mut self, table: &str, key: &[u8], usage: Usage<'_>, now_ms: u64) {
        let Usage {
            write,
            units,
            index_units,
            returned,
        } = usage;
        let adaptive = self.realism.adaptive(table);
        let track_index = self.realism.active && self.realism.throttling(table);
        let limits = &self.config.limits;
        let Some(t) = self.tables.get_mut(table) else {
            return;
        };
        let capacity = t.capacity();
        let gsi_read = !write && !index_units.is_empty();
        if gsi_read && track_index {
            record_index_read(t, key, index_units, now_ms, limits);
        }
        let loads = t.loads_mut(key);
        let admission = Admission {
            capacity,
            partitions: loads.partitions,
            adaptive,
            limits,
            table_arn: loads.arn,
            gsi_read,
        };
        loads
            .table
            .charge(loads.partition, key, &usage, now_ms, &admission);
        let hot = loads.partition.hot_seconds >= limits.heat_split_seconds;
        let mut delta = Counters {
            returned_item_count: returned,
            ..Counters::default()
        };
        if write {
            delta.consumed_write_capacity_units = units;
        } else {
            delta.consumed_read_capacity_units = units;
        }
        t.metrics.table.record(now_ms, &delta);
        for (name, units) in index_units {
            let mut delta = Counters::default();
            if write {
                delta.consumed_write_capacity_units = *units;
            } else {
                delta.consumed_read_capacity_units = *units;
            }
            t.metrics
                .indexes
                .entry(name.to_string())
                .or_default()
                .record(now_ms, &delta);
        }
        if let Some(insights) = &mut t.metrics.insights
            && let Some(partition_key) = crate::partition::partition_key_prefix(key)
        {
            insights.accessed(partition_key, units);
        }
        if hot {
            t.split_for_heat(key, limits, now_ms);
        }
        if let Some(policy) = self.realism.auto_scaling(table) {
            let limits = self.config.limits.clone();
            if let Some(t) = self.tables.get_mut(table) {
                crate::capacity::autoscaling::evaluate(t, &policy, now_ms, &limits);
            }
        }
    }

    /// Draws an admitted write's replica and GSI lags (right after admission, whatever the
    /// write then does, so that the profile's draws do not depend on the outcome).
    pub(crate) fn draw_write_lags(&mut self, name: &str) -> WriteLags {
        (self.realism.lags(name), self.realism.gsi_lag(name))
    }

    /// An admitted write's table and write context, with the lags drawn for it.
    pub(crate) fn write_context(
        &mut self,
        name: &str,
        (lags, gsi_lag_ms): WriteLags,
        now_ms: u64,
    ) -> (&mut Table, table::WriteContext<'_>) {
        let (table, limits) = self.table_and_limits(name);
        (
            table,
            table::WriteContext {
                now_ms,
                lags,
                gsi_lag_ms,
                limits,
                origin: crate::data::stream::Origin::Request,
            },
        )
    }

    /// A failed condition still consumes write capacity: the existing item's size, or one
    /// unit when there is none.
    pub(crate) fn charge_failed_write(
        &mut self,
        name: &str,
        key: &[u8],
        old: Option<&crate::Item>,
        now_ms: u64,
    ) {
        let usage = Usage {
            write: true,
            units: crate::capacity::units::write_units(
                old.map_or(0, crate::types::item::item_size_bytes),
            ),
            index_units: &[],
            returned: 0,
        };
        self.charge(name, key, usage, now_ms);
    }

    /// Charges a write: the table pays for itself and its LSIs, each GSI for itself.
    pub(crate) fn charge_write(
        &mut self,
        name: &str,
        key: &[u8],
        units: f64,
        index_writes: &crate::data::index::IndexWrites,
        now_ms: u64,
    ) {
        let local: f64 = index_writes
            .iter()
            .filter(|w| !w.global)
            .map(|w| w.units)
            .sum();
        let global: Vec<(&str, f64)> = index_writes
            .iter()
            .filter(|w| w.global)
            .map(|w| (w.index.as_str(), w.units))
            .collect();
        self.charge(
            name,
            key,
            Usage {
                write: true,
                units: units + local,
                index_units: &global,
                returned: 0,
            },
            now_ms,
        );
    }
}
