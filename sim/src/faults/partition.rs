//! The `partition` fault: a region cut off from every other region (madsim link clogs both
//! ways), healed when the fault ends.

use super::{Draw, Fault};
use crate::scenario::Deployment;
use crate::topology::Topology;

pub(super) fn draw(d: &mut Draw<'_>) -> Option<Fault> {
    let region = d.below(d.regions as u64) as usize;
    Some(Fault::Partition { region })
}

/// Why a deployment cannot have this fault, if it cannot.
pub(super) fn unsupported(deployment: &Deployment) -> Option<&'static str> {
    (deployment.regions < 2).then_some("region partitions need at least two regions")
}

pub(super) fn render(topology: &Topology, region: usize) -> (String, String) {
    (
        format!("region {}", topology.regions[region]),
        format!(
            "{} cut off from the other regions",
            topology.regions[region]
        ),
    )
}
