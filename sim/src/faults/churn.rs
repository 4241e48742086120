//! The `churn` fault: leader churn on one of a table's partitions, over several terms. For the
//! fault's whole span the nemesis repeatedly finds the partition's current leader, cuts it off
//! from the other storage nodes (odd rounds) or crashes it (even rounds) while clients keep
//! writing through it, so its log holds an uncommitted tail, waits until another replica has
//! led and appended in a newer term, then brings it back. Logs diverge across terms and
//! followers must replace conflicting suffixes: what the replication rules exist for. It
//! takes every storage node for its span (no other node is down meanwhile).

use super::{Draw, Fault};
use crate::topology::Topology;

pub(super) fn draw(d: &mut Draw<'_>) -> Option<Fault> {
    if !d.down_until.iter().all(|&until| until <= d.start_ms) {
        return None;
    }
    for until in d.down_until.iter_mut() {
        *until = d.end_ms;
    }
    let table = d.below(d.tables as u64) as usize;
    Some(Fault::Churn { table })
}

pub(super) fn render(topology: &Topology, table: usize) -> (String, String) {
    (
        format!("table {}", topology.tables[table].name),
        "leader cut off or crashed, again and again (leader churn)".into(),
    )
}
