//! The `skew` fault: a storage node's physical clock offset by -2 s … +2 s; the end of the
//! fault steps it back (a backwards jump when it was ahead).

use super::{Draw, Fault};
use crate::topology::Topology;

/// The largest offset either way.
const SKEW_MAX_MS: u64 = 2_000;

pub(super) fn draw(d: &mut Draw<'_>) -> Option<Fault> {
    let offset_ms = d.below(2 * SKEW_MAX_MS + 1) as i64 - SKEW_MAX_MS as i64;
    Some(Fault::Skew {
        node: d.node,
        offset_ms,
    })
}

pub(super) fn render(topology: &Topology, node: usize, offset_ms: i64) -> (String, String) {
    (
        topology.storage[node].name.clone(),
        format!("clock offset {offset_ms:+} ms"),
    )
}
