//! The `isolate` fault: a storage node cut off from every other storage node (both ways),
//! while routers and clients still reach it: a leader there keeps answering until it learns
//! otherwise. Shares the one-node-down rule with `crash`.

use super::{Draw, Fault};
use crate::topology::Topology;

pub(super) fn draw(d: &mut Draw<'_>) -> Option<Fault> {
    d.take_node_down()
        .then_some(Fault::Isolate { node: d.node })
}

pub(super) fn render(topology: &Topology, node: usize) -> (String, String) {
    (
        topology.storage[node].name.clone(),
        "cut off from every other storage node".into(),
    )
}
