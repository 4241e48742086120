//! The `storm` fault: a table's capacity drops to nothing; its routers answer
//! ProvisionedThroughputExceededException.

use super::{Draw, Fault};
use crate::topology::Topology;

pub(super) fn draw(d: &mut Draw<'_>) -> Option<Fault> {
    let table = d.below(d.tables as u64) as usize;
    Some(Fault::Storm { table })
}

pub(super) fn render(topology: &Topology, table: usize) -> (String, String) {
    (
        format!("table {}", topology.tables[table].name),
        "capacity dropped (throttling storm)".into(),
    )
}
