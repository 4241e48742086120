//! The `one-way` fault: every message from one region to another is dropped while the other
//! direction still works (an asymmetric link: requests arrive, answers do not), healed when the
//! fault ends.

use super::{Draw, Fault};
use crate::scenario::Deployment;
use crate::topology::Topology;

pub(super) fn draw(d: &mut Draw<'_>) -> Option<Fault> {
    let regions = d.regions as u64;
    let from = d.below(regions) as usize;
    let to = (from + 1 + d.below(regions - 1) as usize) % d.regions;
    Some(Fault::OneWay { from, to })
}

/// Why a deployment cannot have this fault, if it cannot.
pub(super) fn unsupported(deployment: &Deployment) -> Option<&'static str> {
    (deployment.regions < 2).then_some("one-way links need at least two regions")
}

pub(super) fn render(topology: &Topology, from: usize, to: usize) -> (String, String) {
    (
        format!("link {} → {}", topology.regions[from], topology.regions[to]),
        format!(
            "messages from {} to {} dropped, the other way delivered",
            topology.regions[from], topology.regions[to]
        ),
    )
}
