//! The `coordinator-crash` fault: a transaction coordinator killed, whatever its transactions
//! were doing (between prepare and commit, in the middle of a commit round); it restarts when
//! the fault ends with nothing but the ledger, which outlives it. Its clients' transactions
//! go unanswered (indeterminate), and a coordinator's recovery finishes or cancels them from
//! the ledger. Needs a deployment with coordinators; one is down at a time.

use super::{Draw, Fault};
use crate::scenario::Deployment;
use crate::topology::Topology;

pub(super) fn unsupported(deployment: &Deployment) -> Option<&'static str> {
    (deployment.coordinators == 0).then_some("needs transaction coordinators (coordinators)")
}

/// One coordinator down at a time (a restart must follow its own crash).
pub(super) fn draw(d: &mut Draw<'_>) -> Option<Fault> {
    let coordinators = d.coordinators as u64;
    if coordinators == 0 || *d.coordinator_down_until > d.start_ms {
        return None;
    }
    *d.coordinator_down_until = d.end_ms;
    Some(Fault::CoordinatorCrash {
        coordinator: d.below(coordinators) as usize,
    })
}

pub(super) fn render(topology: &Topology, coordinator: usize) -> (String, String) {
    let name = topology
        .coordinators
        .get(coordinator)
        .map_or_else(|| format!("coordinator {coordinator}"), |n| n.name.clone());
    (name, "crashed (restarts with only the ledger)".into())
}
