//! Snapshots: `snapshot-<lsn>.snap` holds the state every change below `lsn` produced, so
//! recovery loads it and replays only the log after it, and older segments can go.
//!
//! A snapshot is the control-plane history of each table that still exists (from its
//! CreateTable on, in log order), then every item of every table, then an end record with the
//! frame count. It is written to `snapshot-<lsn>.tmp`, synced, and renamed: a crash leaves
//! the previous snapshot in force.

use super::change::ControlChange;
use super::format::{self, HEADER_BYTES, Header, Record, SNAPSHOT_MAGIC};
use super::{Storage, StorageError, reader};
use crate::engine::Engine;
use std::collections::BTreeMap;
use std::io;
use std::ops::Bound;

/// Each table's control-plane history since its CreateTable: (lsn, change), in log order.
pub type Histories = BTreeMap<String, Vec<(u64, ControlChange)>>;

/// Adds a control-plane change at `lsn` to its table's history (a CreateTable starts a new
/// one: what came before belonged to an earlier table of that name).
pub fn add_to_history(histories: &mut Histories, lsn: u64, change: ControlChange) {
    let history = histories
        .entry(change.request.table().to_string())
        .or_default();
    if change.request.creates() {
        history.clear();
    }
    history.push((lsn, change));
}

/// Buffered bytes a snapshot writes at once.
const FLUSH_BYTES: usize = 1 << 20;

pub fn snapshot_name(lsn: u64) -> String {
    format!("snapshot-{lsn:020}.snap")
}

pub fn snapshot_lsn(name: &str) -> Option<u64> {
    let digits = name.strip_prefix("snapshot-")?.strip_suffix(".snap")?;
    (digits.len() == 20).then(|| digits.parse().ok()).flatten()
}

/// Writes the snapshot of `engine` at `lsn` (it reflects every change below `lsn`) and returns
/// its size in bytes. Durable when this returns.
pub fn write(
    storage: &dyn Storage,
    engine: &Engine,
    histories: &Histories,
    lsn: u64,
) -> io::Result<u64> {
    put(storage, lsn, &encode(engine, histories, lsn))
}

/// The bytes of the snapshot of `engine` at `lsn`, in memory: what a host that writes the
/// snapshot beside its requests takes under the engine's lock ([`put`] writes them after).
pub fn encode(engine: &Engine, histories: &Histories, lsn: u64) -> Vec<u8> {
    let header = Header {
        magic: *SNAPSHOT_MAGIC,
        version: format::VERSION,
        lsn,
        table_sequence: engine.table_sequence(),
    };
    let mut out = Vec::with_capacity(FLUSH_BYTES);
    out.extend_from_slice(&header.encode());
    let mut records = 0u64;
    let mut history: Vec<&(u64, ControlChange)> = engine
        .tables()
        .filter_map(|t| histories.get(&t.name))
        .flatten()
        .collect();
    history.sort_by_key(|(lsn, _)| *lsn);
    for (lsn, change) in history {
        format::encode_control(&mut out, *lsn, change);
        records += 1;
    }
    for table in engine.tables().filter(|t| histories.contains_key(&t.name)) {
        for entry in table.partitions().range(Bound::Unbounded, Bound::Unbounded) {
            format::encode_item(
                &mut out,
                0,
                &table.name,
                entry.key(),
                Some(entry.item_bytes()),
            );
            records += 1;
        }
    }
    format::encode_end(&mut out, records);
    out
}

/// Writes a snapshot's bytes ([`encode`]) as the snapshot at `lsn`: to `snapshot-<lsn>.tmp`
/// in pieces of [`FLUSH_BYTES`], synced, then renamed. Returns its size; durable when this
/// returns.
pub fn put(storage: &dyn Storage, lsn: u64, bytes: &[u8]) -> io::Result<u64> {
    let temporary = format!("snapshot-{lsn:020}.tmp");
    let mut offset = 0u64;
    for piece in bytes.chunks(FLUSH_BYTES) {
        storage.write_at(&temporary, offset, piece)?;
        offset += piece.len() as u64;
    }
    storage.sync(&temporary)?;
    storage.rename(&temporary, &snapshot_name(lsn))?;
    Ok(offset)
}

/// Loads snapshot `name` into `engine` (which must be empty), recording the histories it
/// holds. Returns its header: recovery continues with the log from `header.lsn`.
pub fn load(
    storage: &dyn Storage,
    name: &str,
    engine: &mut Engine,
    now_ms: u64,
    histories: &mut Histories,
) -> Result<Header, StorageError> {
    let header = reader::header(storage, name, SNAPSHOT_MAGIC)?;
    let mut loader = Loader {
        name,
        engine,
        histories,
        now_ms,
        records: 0,
        ended: false,
    };
    let end = reader::frames(storage, name, |offset, record| loader.load(offset, record))?;
    if let Some((offset, reason)) = end.problem {
        return Err(StorageError::new(name, offset, reason));
    }
    if !loader.ended {
        return Err(StorageError::new(
            name,
            end.valid_end.max(HEADER_BYTES as u64),
            "the snapshot ends without its end record (it was not written whole)",
        ));
    }
    loader.engine.set_table_sequence(header.table_sequence);
    Ok(header)
}

/// A snapshot being loaded: its records, in order, into the engine.
struct Loader<'a> {
    name: &'a str,
    engine: &'a mut Engine,
    histories: &'a mut Histories,
    now_ms: u64,
    records: u64,
    ended: bool,
}

impl Loader<'_> {
    fn load(&mut self, offset: u64, record: Record<'_>) -> Result<(), StorageError> {
        let name = self.name;
        let failed = |what: &str, e: crate::Error| {
            StorageError::new(name, offset, format!("{what} does not restore: {e}"))
        };
        if self.ended {
            return Err(StorageError::new(
                name,
                offset,
                "a record after the end record",
            ));
        }
        match record {
            Record::Control { lsn, change } => {
                self.engine
                    .restore_control(&change)
                    .map_err(|e| failed("a control change", e))?;
                add_to_history(self.histories, lsn, *change);
            }
            Record::Put {
                table, key, item, ..
            } => self
                .engine
                .restore_item(table, key, Some(item), self.now_ms)
                .map_err(|e| failed("an item", e))?,
            Record::Delete { .. } => {
                return Err(StorageError::new(
                    name,
                    offset,
                    "a delete record in a snapshot",
                ));
            }
            Record::End { records } if records != self.records => {
                let reason = format!(
                    "the end record counts {records} records; the snapshot has {}",
                    self.records
                );
                return Err(StorageError::new(name, offset, reason));
            }
            Record::End { .. } => self.ended = true,
        }
        self.records += 1;
        Ok(())
    }
}
