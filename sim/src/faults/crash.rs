//! The `crash` fault: a storage node killed; it restarts when the fault ends, with what it
//! synced. One storage node is down or isolated at a time.

use super::{Draw, Fault};
use crate::topology::Topology;

pub(super) fn draw(d: &mut Draw<'_>) -> Option<Fault> {
    d.take_node_down().then_some(Fault::Crash { node: d.node })
}

pub(super) fn render(topology: &Topology, node: usize) -> (String, String) {
    (topology.storage[node].name.clone(), "crashed".into())
}
