//! Target-tracking auto scaling of a provisioned table's capacity, evaluated on the table's
//! one-minute consumption series (what Application Auto Scaling's CloudWatch alarms watch).
//! Driven by the caller's clock: each completed minute is judged once.

use crate::capacity::throughput::{BillingMode, partitions_for};
use crate::data::table::Table;
use crate::limits::Limits;
use crate::realism::profile::AutoScaling;

/// Minutes above the target before scaling out, and below (target − 0.2) before scaling in.
pub const SCALE_OUT_MINUTES: usize = 2;
pub const SCALE_IN_MINUTES: usize = 15;

/// The consumption per second in each of the last `n` completed minutes before `minute`
/// (minutes without a record consumed nothing).
fn last_minutes(table: &Table, minute: u64, n: usize, write: bool) -> Option<Vec<f64>> {
    if minute < n as u64 {
        return None;
    }
    let series = &table.metrics.table.minutes;
    Some(
        (minute - n as u64..minute)
            .map(|m| {
                series
                    .iter()
                    .rev()
                    .find(|(at, _)| *at == m)
                    .map_or(0.0, |(_, c)| {
                        if write {
                            c.consumed_write_capacity_units
                        } else {
                            c.consumed_read_capacity_units
                        }
                    })
                    / 60.0
            })
            .collect(),
    )
}

fn target_capacity(current: u64, used: &[f64], policy: &AutoScaling) -> Option<u64> {
    let current_f = current as f64;
    let peak = used.iter().copied().fold(0.0, f64::max);
    let desired = ((peak / policy.target_utilization).ceil() as u64)
        .clamp(policy.min_capacity, policy.max_capacity);
    let above = used
        .iter()
        .all(|u| *u > policy.target_utilization * current_f);
    let below = used
        .iter()
        .all(|u| *u < (policy.target_utilization - 0.2) * current_f);
    ((above && desired > current) || (below && desired < current)).then_some(desired)
}

/// Judges the minutes completed since the last evaluation and changes the table's
/// provisioned capacity if the policy says so.
pub fn evaluate(table: &mut Table, policy: &AutoScaling, now_ms: u64, limits: &Limits) {
    if table.billing_mode != BillingMode::Provisioned {
        return;
    }
    let minute = now_ms / 60_000;
    if table.load.autoscaled_minute >= minute {
        return;
    }
    table.load.autoscaled_minute = minute;
    let mut changed = false;
    for write in [false, true] {
        let current = if write {
            table.throughput.write_capacity_units
        } else {
            table.throughput.read_capacity_units
        };
        let out = last_minutes(table, minute, SCALE_OUT_MINUTES, write)
            .and_then(|used| target_capacity(current, &used, policy))
            .filter(|&c| c > current);
        let scale_in = || {
            last_minutes(table, minute, SCALE_IN_MINUTES, write)
                .and_then(|used| target_capacity(current, &used, policy))
                .filter(|&c| c < current)
        };
        let Some(new) = out.or_else(scale_in) else {
            continue;
        };
        if new > current {
            table.throughput.last_increase_ms = Some(now_ms);
        } else {
            table.throughput.last_decrease_ms = Some(now_ms);
            table.throughput.decreases_today += 1;
        }
        if write {
            table.throughput.write_capacity_units = new;
        } else {
            table.throughput.read_capacity_units = new;
        }
        changed = true;
    }
    if changed {
        let needed = partitions_for(table.billing_mode, &table.throughput, limits);
        table.grow_partitions_to(needed, now_ms, limits);
    }
}
