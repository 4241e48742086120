//! DescribeTableReplicaAutoScaling: the auto scaling of a table's replicas. An engine answers
//! for its own region's table (a host of several regions adds the global table's other
//! replicas, `global::regions`). The settings are the realism profile's `auto_scaling` (target
//! tracking on a PROVISIONED table; dynasim has no Application Auto Scaling API), absent when
//! the table does not scale.

use crate::api::*;
use crate::capacity::throughput::BillingMode;
use crate::engine::Engine;
use crate::error::Result;

pub(crate) fn execute(engine: &Engine, input: &TableNameInput, now_ms: u64) -> Result<Response> {
    let table = engine.named_table(&input.table_name)?;
    let status = table
        .status(now_ms, &engine.config.limits)
        .name()
        .to_string();
    Ok(Response::ReplicaAutoScaling(ReplicaAutoScalingOutput {
        table_auto_scaling_description: TableAutoScalingDescription {
            table_name: table.name.clone(),
            table_status: status,
            replicas: vec![replica_auto_scaling(engine, &table.name, now_ms)],
        },
    }))
}

/// This engine's replica of `name` (which the caller found): its status, its GSIs, and the
/// profile's target tracking when the table is PROVISIONED.
pub fn replica_auto_scaling(
    engine: &Engine,
    name: &str,
    now_ms: u64,
) -> ReplicaAutoScalingDescription {
    let table = engine.table_by_name(name);
    let description = table.describe(now_ms, &engine.config.limits);
    let indexes = description
        .global_secondary_indexes
        .unwrap_or_default()
        .into_iter()
        .map(|i| IndexAutoScalingDescription {
            index_name: i.index_name,
            index_status: i.index_status.unwrap_or_else(|| "ACTIVE".into()),
        })
        .collect();
    let settings = engine
        .realism
        .auto_scaling(name)
        .filter(|_| table.billing_mode == BillingMode::Provisioned)
        .map(|a| AutoScalingSettings {
            minimum_units: a.min_capacity,
            maximum_units: a.max_capacity,
            auto_scaling_disabled: false,
            scaling_policies: vec![AutoScalingPolicy {
                policy_name: "dynasim-profile-target-tracking".into(),
                target_tracking_scaling_policy_configuration: TargetTracking {
                    target_value: (a.target_utilization * 100.0).round(),
                },
            }],
        });
    ReplicaAutoScalingDescription {
        region_name: engine.config.region.clone(),
        global_secondary_indexes: indexes,
        replica_provisioned_read_capacity_auto_scaling_settings: settings.clone(),
        replica_provisioned_write_capacity_auto_scaling_settings: settings,
        replica_status: description.table_status,
    }
}
