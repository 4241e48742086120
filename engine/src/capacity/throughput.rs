//! Provisioned throughput as a table and its GSIs hold it, the billing mode, and how many
//! partitions a table's throughput needs.

use crate::limits::Limits;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum BillingMode {
    Provisioned,
    PayPerRequest,
}

impl BillingMode {
    pub fn name(self) -> &'static str {
        match self {
            BillingMode::Provisioned => "PROVISIONED",
            BillingMode::PayPerRequest => "PAY_PER_REQUEST",
        }
    }
}

#[derive(Clone, Debug, PartialEq)]
pub struct Throughput {
    pub read_capacity_units: u64,
    pub write_capacity_units: u64,
    pub last_increase_ms: Option<u64>,
    pub last_decrease_ms: Option<u64>,
    pub decreases_today: u32,
}

/// How many partitions provisioned throughput needs: one per 3,000 RCU plus one per
/// 1,000 WCU, at least one (`dynamodb-facts.md` §6.4). A new on-demand table starts with what
/// its initial 12,000 RRU or 4,000 WRU need.
pub fn partitions_for(billing_mode: BillingMode, throughput: &Throughput, limits: &Limits) -> u64 {
    let (read, write) = match billing_mode {
        BillingMode::Provisioned => (
            throughput.read_capacity_units as f64,
            throughput.write_capacity_units as f64,
        ),
        BillingMode::PayPerRequest => {
            let read = limits.on_demand_initial_read_units / limits.partition_read_units_max;
            let write = limits.on_demand_initial_write_units / limits.partition_write_units_max;
            return read.max(write).ceil().max(1.0) as u64;
        }
    };
    (read / limits.partition_read_units_max + write / limits.partition_write_units_max)
        .ceil()
        .max(1.0) as u64
}
