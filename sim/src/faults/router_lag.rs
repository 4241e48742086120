//! The `router-lag` fault: one request router learns who leads each partition late. Every
//! leader hint it receives (a new leader's announcement, a follower's forward) takes effect
//! only `lag_ms` later, in arrival order, as a DynamoDB request router whose cached partition
//! metadata lags behind the metadata service: meanwhile it keeps sending requests to the leader
//! it believed, deposed or cut off. A deposed leader that still answers strongly consistent
//! reads from a lease that ran out (or should have) answers them stale: the fault exists to
//! make that visible. One router lags at a time (the others learn new leaders at once, so
//! writes reach the new leader); takes no storage node.

use super::{Draw, Fault};
use crate::topology::Topology;

pub(super) fn draw(d: &mut Draw<'_>) -> Option<Fault> {
    if *d.router_lag_until > d.start_ms {
        return None;
    }
    *d.router_lag_until = d.end_ms;
    let router = d.below(d.routers as u64) as usize;
    // Longer than an election, so that a new leader commits while the router still routes
    // to the old one.
    let lag_ms = 100 + d.below(400);
    Some(Fault::RouterLag { router, lag_ms })
}

pub(super) fn render(topology: &Topology, router: usize, lag_ms: u64) -> (String, String) {
    (
        topology.routers[router].name.clone(),
        format!("learns new leaders {lag_ms} ms late"),
    )
}
