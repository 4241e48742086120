//! The `power-loss` fault: every storage node of a region loses power at once (killed
//! together) and restarts when the fault ends, with what its disk had made durable. Unlike a
//! `crash`, which takes one node at a time, it tests that a write is acknowledged only once a
//! majority of its replicas hold it on disk: writes acknowledged before that are lost here.
//! Nothing else is down meanwhile.

use super::{Draw, Fault};
use crate::topology::Topology;

pub(super) fn draw(d: &mut Draw<'_>) -> Option<Fault> {
    let region = d.below(d.regions as u64) as usize;
    d.take_all_nodes_down()
        .then_some(Fault::PowerLoss { region })
}

pub(super) fn render(topology: &Topology, region: usize) -> (String, String) {
    (
        format!("region {}", topology.regions[region]),
        "every storage node lost power".into(),
    )
}
