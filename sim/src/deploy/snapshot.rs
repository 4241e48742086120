//! Log compaction on the storage nodes: a replica whose log holds `compact_after_entries`
//! applied entries (a scenario's deployment setting) takes a snapshot of its engine ([`Snap`])
//! and, `compact_keep_entries` entries later, replaces the entries up to it with the snapshot;
//! a follower
//! behind the compacted prefix receives the leader's snapshot instead of the entries
//! (`raft::Message::Snapshot`). A group created by a split starts from a snapshot of its share.
//!
//! The engine's state is encoded in the engine's own snapshot format (`storage::snapshot`:
//! the table's CreateTable, then every item, in checksummed frames), so what a replica keeps
//! and what travels are the bytes a disk would hold.

use super::{Cmd, EPOCH_MS, World};
use crate::topology::Range;
use crate::workloads;
use dynasim_engine::replication::raft::{LogEntry, Message, Replica};
use dynasim_engine::storage::change::{Change, ControlChange, ControlRequest};
use dynasim_engine::storage::memory::MemStorage;
use dynasim_engine::storage::snapshot::{self, Histories};
use dynasim_engine::txn::Participant;
use dynasim_engine::{Config, Engine};
use std::sync::Arc;

/// A replica's log and the messages of its group, with snapshots as [`Snap`].
pub type Log = Replica<Arc<Cmd>, Arc<Snap>>;
pub type RaftMessage = Message<Arc<Cmd>, Arc<Snap>>;

/// The state after a prefix of a group's log: the engine (in the engine's snapshot format),
/// the hash range the group owned then, and the cumulative hash of the entries it replaces
/// (the `log-agreement` checker's hash, which goes on from it).
#[derive(Debug)]
pub struct Snap {
    bytes: Vec<u8>,
    pub range: Range,
    pub log_hash: u64,
    /// The transaction participant's state (marks and stamps) at the snapshot's index.
    txn: Participant<String>,
}

/// The name the snapshot's bytes take in the in-memory storage that encodes and decodes them.
const NAME: &str = "snapshot-00000000000000000000.snap";

impl Snap {
    /// The snapshot of `engine`, which holds table `table`'s share `range`.
    pub fn of(engine: &Engine, table: usize, world: &World, range: Range, log_hash: u64) -> Snap {
        let storage = MemStorage::new();
        let mut histories = Histories::new();
        let create = workloads::create_table(&world.scenario.workloads[table]);
        let request = ControlRequest::of(&create).expect("CreateTable is a control request");
        let change = ControlChange {
            request,
            now_ms: EPOCH_MS,
            table_sequence: 0,
        };
        snapshot::add_to_history(&mut histories, 0, change);
        snapshot::write(&storage, engine, &histories, 0).expect("memory does not fail");
        Snap {
            bytes: storage.contents(NAME).expect("the snapshot was written"),
            range,
            log_hash,
            txn: Participant::default(),
        }
    }

    /// The snapshot with the transaction participant's state `txn`.
    pub fn with_txn(mut self, txn: Participant<String>) -> Snap {
        self.txn = txn;
        self
    }

    /// The transaction participant's state (marks and stamps) at the snapshot's index.
    pub fn txn(&self) -> &Participant<String> {
        &self.txn
    }

    /// A snapshot read back from a replica's log file.
    pub fn from_parts(
        bytes: Vec<u8>,
        range: Range,
        log_hash: u64,
        txn: Participant<String>,
    ) -> Snap {
        Snap {
            bytes,
            range,
            log_hash,
            txn,
        }
    }

    /// The engine's state, in the engine's snapshot format.
    pub fn bytes(&self) -> &[u8] {
        &self.bytes
    }

    /// A new engine holding what the snapshot holds.
    pub fn engine(&self, world: &World, table: usize, now_ms: u64) -> Engine {
        let storage = MemStorage::new();
        storage.set_contents(NAME, self.bytes.clone());
        let mut engine = empty_engine(world, table);
        let mut histories = Histories::new();
        snapshot::load(&storage, NAME, &mut engine, now_ms, &mut histories)
            .expect("a snapshot a replica wrote loads");
        engine
    }
}

/// An engine without tables, with the profile table `table`'s workload asks for (throttling
/// when it provisions capacity).
pub(super) fn empty_engine(world: &World, table: usize) -> Engine {
    let w = &world.scenario.workloads[table];
    // The storage nodes are the partitions and replicas: the engine keeps its table as one
    // partition of their map, with no replica group or split of its own.
    let config = Config {
        hosted_partitions: true,
        ..Config::default()
    };
    if w.provisioned() {
        let mut profile = dynasim_engine::realism::profile::Profile::default();
        profile.defaults.throttling = true;
        Engine::with_profile(config, profile, world.options.seed)
    } else {
        Engine::new(config)
    }
}

/// The cumulative log hash after `entry`, given the hash before it: what the `log-agreement`
/// checker compares between replicas at each commit index.
pub fn chain(hash: u64, entry: &LogEntry<Arc<Cmd>>) -> u64 {
    let command = entry.payload.as_ref().map_or(0, |cmd| content_hash(cmd));
    let mut bytes = [0u8; 24];
    bytes[..8].copy_from_slice(&hash.to_le_bytes());
    bytes[8..16].copy_from_slice(&entry.term.to_le_bytes());
    bytes[16..].copy_from_slice(&command.to_le_bytes());
    xxhash_rust::xxh3::xxh3_64(&bytes)
}

/// A hash of a command's content (not its address), so that it is a function of the seed.
fn content_hash(cmd: &Cmd) -> u64 {
    let mut bytes = Vec::new();
    match cmd {
        Cmd::Write {
            key,
            changes,
            now_ms,
        } => {
            bytes.push(1);
            bytes.extend_from_slice(&now_ms.to_le_bytes());
            bytes.extend_from_slice(key.as_deref().unwrap_or("").as_bytes());
            for change in changes {
                match change {
                    Change::Item { table, key, item } => {
                        for part in [table.as_bytes(), key, item.as_deref().unwrap_or(&[])] {
                            bytes.extend_from_slice(&(part.len() as u64).to_le_bytes());
                            bytes.extend_from_slice(part);
                        }
                        bytes.push(u8::from(item.is_some()));
                    }
                    Change::Control(control) => {
                        bytes.extend_from_slice(format!("{control:?}").as_bytes())
                    }
                }
            }
        }
        Cmd::Read { now_ms } => {
            bytes.push(2);
            bytes.extend_from_slice(&now_ms.to_le_bytes());
        }
        Cmd::Split {
            mid,
            new_group,
            now_ms,
        } => {
            bytes.push(3);
            for n in [*mid, u64::from(*new_group), *now_ms] {
                bytes.extend_from_slice(&n.to_le_bytes());
            }
        }
        Cmd::Txn(t) => {
            bytes.push(4);
            super::txn::encode_cmd(t, &mut bytes, |out, change| {
                dynasim_engine::storage::format::encode_change(out, 0, change)
            });
        }
    }
    xxhash_rust::xxh3::xxh3_64(&bytes)
}

/// The log hash at the replica's snapshot (0 before any), and each entry after it up to
/// `upto`, folded.
pub fn log_hash_at(replica: &Log, upto: u64) -> u64 {
    let base = replica.snapshot().map_or(0, |(_, snap)| snap.log_hash);
    (replica.first_index()..=upto)
        .map_while(|i| replica.entry(i))
        .fold(base, chain)
}
