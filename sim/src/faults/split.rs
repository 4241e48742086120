//! The `split` fault, which is not a failure: the control plane splits the table's widest
//! partition in two (as DynamoDB splits for size or heat) while clients keep reading and
//! writing.

use super::{Draw, Fault};
use crate::topology::Topology;

pub(super) fn draw(d: &mut Draw<'_>) -> Option<Fault> {
    let table = d.below(d.tables as u64) as usize;
    Some(Fault::Split { table })
}

pub(super) fn render(topology: &Topology, table: usize) -> (String, String) {
    (
        format!("table {}", topology.tables[table].name),
        "widest partition split".into(),
    )
}
