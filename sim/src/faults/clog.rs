//! The `clog` fault: the link between two storage nodes cut, both ways.

use super::{Draw, Fault};
use crate::topology::Topology;

pub(super) fn draw(d: &mut Draw<'_>) -> Option<Fault> {
    let other = d.below(d.storage_nodes as u64) as usize;
    (other != d.node).then_some(Fault::Clog {
        a: d.node,
        b: other,
    })
}

pub(super) fn render(topology: &Topology, a: usize, b: usize) -> (String, String) {
    (
        topology.storage[a].name.clone(),
        format!("link to {} cut", topology.storage[b].name),
    )
}
