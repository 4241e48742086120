//! The `corrupt` fault: a storage node crashes, and when it restarts at the fault's end its
//! disk returns every replica log unreadable from the middle of what it held on (a checksum
//! mismatch, a read error): those entries are dropped (`Replica::lose_from`). The replica
//! repairs from its group's leader, and until then neither campaigns nor votes by its damaged
//! log, since it may have acknowledged what it lost. One storage node is down at a time.

use super::{Draw, Fault};
use crate::topology::Topology;

pub(super) fn draw(d: &mut Draw<'_>) -> Option<Fault> {
    d.take_node_down()
        .then_some(Fault::Corrupt { node: d.node })
}

pub(super) fn render(topology: &Topology, node: usize) -> (String, String) {
    (
        topology.storage[node].name.clone(),
        "crashed; its logs unreadable from the middle on".into(),
    )
}
