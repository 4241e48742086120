//! The `feed-crash` fault: a change-feed component (the stream publisher, the index
//! propagator or the TTL sweeper) killed; it restarts when the fault ends from its last checkpoint and pulls
//! again what it had consumed since. Needs a deployment with one (`stream_publisher` or
//! `index_propagator`); one is down at a time.

use super::{Draw, Fault};
use crate::scenario::Deployment;
use crate::topology::Topology;

pub(super) fn unsupported(deployment: &Deployment) -> Option<&'static str> {
    (!deployment.stream_publisher && !deployment.index_propagator && !deployment.ttl_sweeper)
        .then_some(
            "needs a change-feed component (stream_publisher, index_propagator or ttl_sweeper)",
        )
}

/// One component down at a time (a restart must follow its own crash).
pub(super) fn draw(d: &mut Draw<'_>) -> Option<Fault> {
    let components = d.components as u64;
    if components == 0 || *d.feed_down_until > d.start_ms {
        return None;
    }
    *d.feed_down_until = d.end_ms;
    Some(Fault::FeedCrash {
        component: d.below(components) as usize,
    })
}

pub(super) fn render(topology: &Topology, component: usize) -> (String, String) {
    let name = topology
        .feeds
        .get(component)
        .map_or_else(|| format!("component {component}"), |(_, n)| n.name.clone());
    (name, "crashed (restarts from its checkpoint)".into())
}
