//! The change feed a partition serves its change-feed components (the stream publisher and
//! the index propagator, `deploy/consumer.rs`), as DynamoDB's partitions feed their streams
//! and global secondary indexes from their replication log: every replica keeps, for each
//! entry it applied, the item changes with the images before and after (read from its engine
//! as it applies them) and the splits; the group's leader answers a component's pull from the
//! index the component asks for. A replica never compacts its log past what every component
//! made durable (each pull says how far), so a component that crashes finds the entries it
//! lost in the log again, and a replica rebuilds the feed by replaying the log after a restart.

use super::storage::StorageState;
use super::{Wire, World, send};
use dynasim_engine::Item;
use dynasim_engine::replication::raft::Role;
use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::Arc;

/// Entries a pull returns at most.
const PULL_ENTRIES_MAX: usize = 64;

/// What a partition did at one applied log index that its components see.
#[derive(Debug)]
pub enum FeedEntry {
    /// A write's item changes (only those that changed an item), at the leader's clock.
    Write {
        now_ms: u64,
        changes: Vec<ItemChange>,
    },
    /// The group split: `new_group` took the upper half of its range.
    Split { new_group: u32 },
}

/// One item's change, with its images.
#[derive(Debug)]
pub struct ItemChange {
    pub table: String,
    pub before: Option<Item>,
    pub after: Option<Item>,
}

/// A replica's feed: the entries it applied that its components have not all made durable.
#[derive(Debug)]
pub struct Feed {
    entries: BTreeMap<u64, Arc<FeedEntry>>,
    /// Every entry after this index that changed something is in `entries` (those at or
    /// below the floor are dropped); entries up to it are in the replica's snapshot only.
    complete_after: u64,
    /// Per component, the index up to which it made its state durable, as it last said.
    floors: Vec<u64>,
}

/// A pull's answer: the entries of `from..=upto` that changed something.
pub type Pulled = (u64, Vec<(u64, Arc<FeedEntry>)>);

impl Feed {
    /// The feed of a replica whose applied state starts at index `base`, for `components`
    /// components.
    pub fn new(base: u64, components: usize) -> Feed {
        Feed {
            entries: BTreeMap::new(),
            complete_after: base,
            floors: vec![0; components],
        }
    }

    /// Records what the entry at `index` did (nothing for a write that changed nothing).
    pub fn record(&mut self, index: u64, entry: FeedEntry) {
        if let FeedEntry::Write { changes, .. } = &entry
            && changes.is_empty()
        {
            return;
        }
        self.entries.insert(index, Arc::new(entry));
    }

    /// The replica's state was replaced by a snapshot at `base`: what it fed before is gone.
    pub fn reset(&mut self, base: u64) {
        self.entries.clear();
        self.complete_after = base;
    }

    /// The index every component made durable (0 until each has said).
    pub fn floor(&self) -> u64 {
        self.floors.iter().copied().min().unwrap_or(0)
    }

    /// Component `component` made its state durable up to `durable`: entries at or below
    /// the floor are no longer needed.
    fn note_durable(&mut self, component: usize, durable: u64) {
        if let Some(floor) = self.floors.get_mut(component) {
            *floor = (*floor).max(durable);
        }
        let floor = self.floor();
        self.entries.retain(|&i, _| i > floor);
        // What was dropped is no longer served: nobody may ask for it again.
        self.complete_after = self.complete_after.max(floor);
    }

    /// The entries from `from` up to `applied` (at most [`PULL_ENTRIES_MAX`] of them),
    /// unless this replica no longer has everything after `from - 1`.
    fn serve(&self, from: u64, applied: u64) -> Option<Pulled> {
        if from == 0 || from <= self.complete_after || from > applied + 1 {
            return None;
        }
        if from > applied {
            return Some((applied, Vec::new()));
        }
        let entries: Vec<(u64, Arc<FeedEntry>)> = self
            .entries
            .range(from..=applied)
            .take(PULL_ENTRIES_MAX)
            .map(|(&i, e)| (i, e.clone()))
            .collect();
        let upto = if entries.len() == PULL_ENTRIES_MAX {
            entries.last().map_or(applied, |(i, _)| *i)
        } else {
            applied
        };
        Some((upto, entries))
    }
}

/// A component's pull of `group`'s changes from `from` on (having made durable what it
/// consumed up to `durable`).
pub struct Pull {
    pub group: u32,
    pub component: usize,
    pub from: u64,
    pub durable: u64,
    pub reply_to: SocketAddr,
}

/// A storage node's answer to a pull: every replica notes the component's durable index;
/// the group's leader sends the entries (a follower, or a leader that lacks them, nothing).
pub(super) fn handle_pull(
    world: &World,
    index: usize,
    s: &mut StorageState,
    pull: Pull,
    outgoing: &mut Vec<(SocketAddr, Wire)>,
) {
    let disk = world.disks[index].lock().unwrap();
    let (Some(replica), Some(g)) = (disk.get(&pull.group), s.groups.get_mut(&pull.group)) else {
        return;
    };
    let Some(feed) = g.feed.as_mut() else {
        return;
    };
    feed.note_durable(pull.component, pull.durable);
    if replica.role() != Role::Leader {
        return;
    }
    let Some((upto, entries)) = feed.serve(pull.from, g.applied) else {
        return;
    };
    outgoing.push((
        pull.reply_to,
        Wire::Pulled {
            group: pull.group,
            from: pull.from,
            upto,
            entries,
            source: (index, replica.term()),
        },
    ));
}

/// Sends a component's pull to every replica of `group` (each learns how far the component
/// made its state durable; the leader answers).
pub(super) async fn pull_group(world: &World, endpoint: &Arc<madsim::net::Endpoint>, pull: Pull) {
    let replicas = world.placement.lock().unwrap().groups[pull.group as usize].replicas;
    for node in replicas {
        let to = world.topology.storage[node].addr();
        let wire = Wire::Pull {
            group: pull.group,
            component: pull.component,
            from: pull.from,
            durable: pull.durable,
            reply_to: pull.reply_to,
        };
        send(world, endpoint, to, wire).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn write() -> FeedEntry {
        FeedEntry::Write {
            now_ms: 0,
            changes: vec![ItemChange {
                table: "t".into(),
                before: None,
                after: Some(Item::new()),
            }],
        }
    }

    #[test]
    fn serves_only_what_it_has_from_the_asked_index() {
        let mut feed = Feed::new(4, 2);
        for i in 5..=9 {
            feed.record(i, write());
        }
        feed.record(
            10,
            FeedEntry::Write {
                now_ms: 0,
                changes: Vec::new(),
            },
        );
        // Before the snapshot base: not served (the entries are gone).
        assert!(feed.serve(4, 10).is_none());
        let (upto, entries) = feed.serve(7, 10).unwrap();
        assert_eq!(upto, 10);
        assert_eq!(entries.iter().map(|e| e.0).collect::<Vec<_>>(), [7, 8, 9]);
        // Nothing new: an empty answer up to what was applied.
        assert_eq!(feed.serve(11, 10).unwrap().1.len(), 0);
        assert!(feed.serve(12, 10).is_none());
        // Dropped only once both components made it durable.
        feed.note_durable(0, 8);
        assert_eq!(feed.floor(), 0);
        feed.note_durable(1, 6);
        assert_eq!(feed.floor(), 6);
        assert!(feed.serve(7, 10).unwrap().1.len() == 3);
        feed.reset(20);
        assert!(feed.serve(15, 25).is_none());
    }
}
