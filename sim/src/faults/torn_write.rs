//! The `torn-write` fault: every storage node of a region loses power at once, as in
//! `power-loss`, but what each disk had not synced is not all gone: its writes reached the
//! platter in order until the power went, so each replica log keeps what it synced plus a
//! prefix of the rest, and the write in flight at that moment is torn (cut off part-way, so
//! its frame's checksum fails and recovery drops it). How much each disk kept is drawn by
//! the node's `SimDisk` from the fault's seed (`deploy::disk_log::NodeDisk::power_cut`). A
//! replica then holds entries it never acknowledged:
//! the protocol must treat them as any other uncommitted entries (a new leader may keep or
//! replace them), and no acknowledged write may be lost.

use super::{Draw, Fault};
use crate::topology::Topology;

pub(super) fn draw(d: &mut Draw<'_>) -> Option<Fault> {
    let region = d.below(d.regions as u64) as usize;
    let seed = d.below(u64::MAX);
    d.take_all_nodes_down()
        .then_some(Fault::TornWrite { region, seed })
}

pub(super) fn render(topology: &Topology, region: usize) -> (String, String) {
    (
        format!("region {}", topology.regions[region]),
        "every storage node lost power in the middle of its writes".into(),
    )
}
