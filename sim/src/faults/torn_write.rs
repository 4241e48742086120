//! The `torn-write` fault: every storage node of a region loses power at once, as in
//! `power-loss`, but what each disk had not synced is not all gone: its writes reached the
//! platter in order until the power went, so each replica log keeps what it synced plus a
//! prefix of the rest, and the write in flight at that moment is torn (its checksum fails, so
//! recovery drops it and everything after it). The kept prefix's length is drawn from the
//! fault's seed, per node and partition. A replica then holds entries it never acknowledged:
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

/// How many of the `unsynced` entries a replica's disk kept, for the fault's `seed`, on
/// storage node `node`, for partition `group`: 0 to `unsynced` (all of them only when the
/// power went just after the last write finished).
pub fn kept(seed: u64, node: usize, group: u32, unsynced: u64) -> u64 {
    let mut disk = [0u8; 12];
    disk[..8].copy_from_slice(&(node as u64).to_le_bytes());
    disk[8..].copy_from_slice(&group.to_le_bytes());
    xxhash_rust::xxh3::xxh3_64_with_seed(&disk, seed) % (unsynced + 1)
}

#[cfg(test)]
mod tests {
    use super::kept;

    #[test]
    fn a_torn_disk_keeps_between_none_and_all_of_its_unsynced_entries() {
        let draws: Vec<u64> = (0..200).map(|s| kept(s, 1, 2, 5)).collect();
        assert!(draws.iter().all(|&k| k <= 5));
        for k in 0..=5 {
            assert!(draws.contains(&k), "{k} never kept");
        }
        assert_eq!(kept(7, 0, 0, 0), 0);
        assert_eq!(
            kept(7, 1, 3, 9),
            kept(7, 1, 3, 9),
            "the same seed, the same disk"
        );
    }
}
