//! [`Durable`]: an engine's changes persisted in a write-ahead log with snapshots, and the
//! recovery that rebuilds the engine from them.
//!
//! Recovery loads the newest snapshot, then replays every segment's frames from the
//! snapshot's lsn on, checking that lsns follow one another. Damage ends recovery with a
//! [`StorageError`] naming the file and offset, with one exception: the end of the newest
//! segment, where a crash during an append leaves a torn or partial frame. That tail was never
//! synced, so no write in it was acknowledged; it is cut off. It counts as a torn tail only if
//! no valid frame follows it; otherwise the damage is in the middle of the log, and that is an
//! error. The changes of one append are a group (version-2 segments): a group cut short at the
//! tail is cut off from its first byte, so a request's changes come back all or none.
//!
//! A version-1 segment (an older build's) is read, each frame its own group, but never
//! appended to: when the newest segment is version 1, its torn tail is cut off and the log
//! continues in a new version-2 segment.

use super::change::Change;
use super::format::{self, HEADER_BYTES};
use super::snapshot::{self, Histories};
use super::wal::{self, Wal};
use super::{RecoveryBug, Storage, StorageError, reader};
use crate::engine::Engine;
use std::io;
use std::sync::Arc;

/// When to take a snapshot: the log since the last one outgrew both this many bytes and the
/// last snapshot itself (so a large table is not rewritten for a small log).
pub const SNAPSHOT_LOG_BYTES: u64 = 64 << 20;

/// What recovery found, for the host to report.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Recovered {
    /// The snapshot loaded, if any.
    pub snapshot: Option<String>,
    /// Changes replayed from the log after it.
    pub replayed: u64,
    /// A torn tail cut off: (segment, offset, bytes dropped).
    pub torn: Option<(String, u64, u64)>,
}

pub struct Durable {
    storage: Arc<dyn Storage>,
    wal: Wal,
    histories: Histories,
    /// The size of the last snapshot, and the log bytes appended since it.
    snapshot_bytes: u64,
    log_bytes: u64,
    snapshot_log_bytes: u64,
    /// A snapshot began and is not written yet ([`Durable::begin_snapshot`]).
    snapshotting: bool,
    scratch: Vec<Change>,
}

impl std::fmt::Debug for Durable {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Durable")
            .field("wal", &self.wal)
            .field("log_bytes", &self.log_bytes)
            .finish()
    }
}

/// A data directory's files by kind, in lsn order.
struct Files {
    snapshots: Vec<(u64, String)>,
    segments: Vec<(u64, String)>,
    temporary: Vec<String>,
}

fn files(storage: &dyn Storage) -> Result<Files, StorageError> {
    let names = storage.list().map_err(|e| StorageError::io(".", 0, &e))?;
    let mut files = Files {
        snapshots: Vec::new(),
        segments: Vec::new(),
        temporary: Vec::new(),
    };
    for name in names {
        if let Some(lsn) = snapshot::snapshot_lsn(&name) {
            files.snapshots.push((lsn, name));
        } else if let Some(lsn) = wal::segment_lsn(&name) {
            files.segments.push((lsn, name));
        } else if name.starts_with("snapshot-") && name.ends_with(".tmp") {
            files.temporary.push(name);
        }
    }
    files.snapshots.sort();
    files.segments.sort();
    Ok(files)
}

impl Durable {
    /// Recovers `engine` (new and empty, with the host's configuration) from `storage`, then
    /// turns its journal on and continues the log. `now_ms` is the time restored items are
    /// written at.
    pub fn open(
        storage: Arc<dyn Storage>,
        engine: &mut Engine,
        now_ms: u64,
    ) -> Result<(Durable, Recovered), StorageError> {
        Durable::open_broken(storage, engine, now_ms, None)
    }

    /// [`open`](Self::open), or with `bug` a deliberately broken recovery (for the tests that
    /// must catch it).
    pub fn open_broken(
        storage: Arc<dyn Storage>,
        engine: &mut Engine,
        now_ms: u64,
        bug: Option<RecoveryBug>,
    ) -> Result<(Durable, Recovered), StorageError> {
        assert!(
            engine.tables().next().is_none(),
            "recovery starts from an empty engine"
        );
        let files = files(&*storage)?;
        for name in &files.temporary {
            storage
                .remove(name)
                .map_err(|e| StorageError::io(name, 0, &e))?;
        }
        let mut recovered = Recovered::default();
        let mut histories = Histories::new();
        let mut next_lsn = 0;
        let mut snapshot_bytes = 0;
        if let Some((_, name)) = files.snapshots.last() {
            let header = snapshot::load(&*storage, name, engine, now_ms, &mut histories)?;
            next_lsn = header.lsn;
            snapshot_bytes = storage
                .len(name)
                .map_err(|e| StorageError::io(name, 0, &e))?;
            recovered.snapshot = Some(name.clone());
        }
        let replay = Replay {
            storage: &*storage,
            engine,
            histories: &mut histories,
            now_ms,
            next_lsn,
            recovered: &mut recovered,
            bug,
            held: None,
        };
        let (wal, log_bytes) = replay.segments(&files.segments, storage.clone())?;
        engine.enable_journal();
        let durable = Durable {
            storage,
            wal,
            histories,
            snapshot_bytes,
            log_bytes,
            snapshot_log_bytes: SNAPSHOT_LOG_BYTES,
            snapshotting: false,
            scratch: Vec::new(),
        };
        Ok((durable, recovered))
    }

    /// Snapshot once the log since the last one passes `bytes` (and the last snapshot's size).
    pub fn set_snapshot_log_bytes(&mut self, bytes: u64) {
        self.snapshot_log_bytes = bytes;
    }

    /// Appends the changes `engine` made since the last call; returns the lsn after them (the
    /// position a host waits to be durable before it answers). Nothing is synced here.
    pub fn append(&mut self, engine: &mut Engine) -> io::Result<u64> {
        let mut changes = std::mem::take(&mut self.scratch);
        changes.clear();
        engine.take_changes(&mut changes);
        let (first, before) = (self.wal.next_lsn(), self.wal.segment_bytes());
        let result = self.wal.append(&changes);
        self.log_bytes += self.wal.segment_bytes() - before;
        if result.is_ok() {
            for (lsn, change) in (first..).zip(changes.drain(..)) {
                if let Change::Control(change) = change {
                    snapshot::add_to_history(&mut self.histories, lsn, *change);
                }
            }
        }
        changes.clear();
        self.scratch = changes;
        result
    }

    /// The segment a host syncs (outside the engine's lock) to make appended changes durable.
    pub fn segment(&self) -> &str {
        self.wal.segment()
    }

    pub fn storage(&self) -> &Arc<dyn Storage> {
        &self.storage
    }

    /// The lsn after the last appended change.
    pub fn next_lsn(&self) -> u64 {
        self.wal.next_lsn()
    }

    /// Syncs the log: every change appended so far is durable when this returns.
    pub fn sync(&self) -> io::Result<()> {
        self.wal.sync()
    }

    /// Whether the log has grown enough since the last snapshot to take one.
    pub fn snapshot_due(&self) -> bool {
        !self.snapshotting && self.log_bytes > self.snapshot_log_bytes.max(self.snapshot_bytes)
    }

    /// Takes a snapshot of `engine` (which must reflect every change appended), starts a new
    /// segment after it, and removes the files the snapshot makes unnecessary. Everything
    /// appended before is durable when this returns.
    pub fn snapshot(&mut self, engine: &Engine) -> io::Result<()> {
        let pending = self.begin_snapshot(engine)?;
        let bytes = pending.write()?;
        self.snapshot_written(bytes);
        Ok(())
    }

    /// The part of a snapshot that needs `engine` as it is now: syncs the log (everything
    /// appended before is durable when this returns), encodes the snapshot in memory, and
    /// starts a new segment at its lsn, so that appends go on while [`PendingSnapshot::write`]
    /// puts it on disk, on another thread if the host likes. Until then the previous
    /// snapshot and the old segments stay, so a crash recovers from them; no other snapshot
    /// is due until [`snapshot_written`](Self::snapshot_written).
    pub fn begin_snapshot(&mut self, engine: &Engine) -> io::Result<PendingSnapshot> {
        let lsn = self.wal.next_lsn();
        self.wal.sync()?;
        self.histories
            .retain(|name, _| engine.table(name).is_some());
        let bytes = snapshot::encode(engine, &self.histories, lsn);
        let previous = self.wal.segment().to_string();
        self.wal = if wal::segment_lsn(&previous) == Some(lsn) {
            // Nothing was appended to the current segment: keep it.
            Wal::resume(
                self.storage.clone(),
                previous,
                self.wal.segment_bytes(),
                lsn,
            )
            .map_err(|e| io::Error::other(e.to_string()))?
        } else {
            Wal::create(self.storage.clone(), lsn)?
        };
        self.log_bytes = 0;
        self.snapshotting = true;
        Ok(PendingSnapshot {
            storage: self.storage.clone(),
            lsn,
            bytes,
        })
    }

    /// The snapshot [`begin_snapshot`](Self::begin_snapshot) began is on disk, `bytes` long
    /// (or failed to be written: `bytes` is then the previous size); the next may begin.
    pub fn snapshot_written(&mut self, bytes: u64) {
        self.snapshot_bytes = bytes;
        self.snapshotting = false;
    }

    /// Whether a snapshot began and is not written yet.
    pub fn snapshotting(&self) -> bool {
        self.snapshotting
    }

    /// The size of the last snapshot written.
    pub fn snapshot_bytes(&self) -> u64 {
        self.snapshot_bytes
    }
}

/// A snapshot encoded under the engine's lock, not yet on disk ([`Durable::begin_snapshot`]).
pub struct PendingSnapshot {
    storage: Arc<dyn Storage>,
    lsn: u64,
    bytes: Vec<u8>,
}

impl PendingSnapshot {
    /// The lsn the snapshot is at: every change below it.
    pub fn lsn(&self) -> u64 {
        self.lsn
    }

    /// Writes the snapshot (temporary file, sync, rename), then removes the snapshots and
    /// segments before its lsn. Returns its size. Needs no engine: it may run beside the
    /// requests that keep appending to the new segment.
    pub fn write(self) -> io::Result<u64> {
        let bytes = snapshot::put(&*self.storage, self.lsn, &self.bytes)?;
        let files = files(&*self.storage).map_err(|e| io::Error::other(e.to_string()))?;
        for (old, name) in files.snapshots.iter().chain(&files.segments) {
            if *old < self.lsn {
                self.storage.remove(name)?;
            }
        }
        Ok(bytes)
    }
}

/// Replaying the log's segments into an engine.
struct Replay<'a> {
    storage: &'a dyn Storage,
    engine: &'a mut Engine,
    histories: &'a mut Histories,
    now_ms: u64,
    next_lsn: u64,
    recovered: &'a mut Recovered,
    bug: Option<RecoveryBug>,
    /// The broken variant `SkipLastReplayed`: the record read last, applied only once another
    /// follows it.
    held: Option<(String, u64, Held)>,
}

/// A record kept past its frame (the broken variant only).
enum Held {
    Control(u64, Box<super::change::ControlChange>),
    Item(String, Vec<u8>, Option<Vec<u8>>),
}

impl Held {
    fn of(record: format::Record<'_>) -> Held {
        match record {
            format::Record::Control { lsn, change } => Held::Control(lsn, change),
            format::Record::Put {
                table, key, item, ..
            } => Held::Item(table.into(), key.into(), Some(item.into())),
            format::Record::Delete { table, key, .. } => Held::Item(table.into(), key.into(), None),
            format::Record::End { .. } => unreachable!("the caller rejects end records"),
        }
    }

    fn record(&self) -> format::Record<'_> {
        match self {
            Held::Control(lsn, change) => format::Record::Control {
                lsn: *lsn,
                change: change.clone(),
            },
            Held::Item(table, key, Some(item)) => format::Record::Put {
                lsn: 0,
                table,
                key,
                item,
            },
            Held::Item(table, key, None) => format::Record::Delete { lsn: 0, table, key },
        }
    }
}

impl Replay<'_> {
    /// Replays every segment in order and returns the log to continue, with the bytes it
    /// replayed.
    fn segments(
        mut self,
        segments: &[(u64, String)],
        storage: Arc<dyn Storage>,
    ) -> Result<(Wal, u64), StorageError> {
        let mut log_bytes = 0;
        let Some(((_, last), earlier)) = segments.split_last() else {
            let wal = Wal::create(storage, self.next_lsn)
                .map_err(|e| StorageError::io(&wal::segment_name(self.next_lsn), 0, &e))?;
            return Ok((wal, 0));
        };
        for (first, name) in earlier {
            let (end, _, _) = self.segment(*first, name)?;
            if let Some((offset, reason)) = end.problem {
                return Err(StorageError::new(name, offset, reason));
            }
            log_bytes += end.valid_end;
        }
        let first = segments.last().map_or(0, |(lsn, _)| *lsn);
        let len = self
            .storage
            .len(last)
            .map_err(|e| StorageError::io(last, 0, &e))?;
        if first == self.next_lsn
            && len <= HEADER_BYTES as u64
            && reader::header(self.storage, last, format::WAL_MAGIC).is_err()
        {
            // A segment whose header never reached the disk: its creation did not return, so
            // nothing was appended to it. Start it again.
            self.recovered.torn = Some((last.clone(), 0, len));
            storage
                .remove(last)
                .map_err(|e| StorageError::io(last, 0, &e))?;
            let wal = Wal::create(storage, first).map_err(|e| StorageError::io(last, 0, &e))?;
            return Ok((wal, log_bytes));
        }
        let (end, version, mode) = self.segment(first, last)?;
        if let Some((offset, reason)) = end.problem {
            let after = reader::valid_frame_after(self.storage, last, mode, offset, self.next_lsn)?;
            if let Some(at) = after {
                return Err(StorageError::new(
                    last,
                    offset,
                    format!(
                        "{reason}, and a valid record follows at offset {at}: the log is damaged, not torn"
                    ),
                ));
            }
            self.recovered.torn = Some((last.clone(), end.valid_end, end.len - end.valid_end));
        }
        log_bytes += end.valid_end;
        if version == format::WAL_VERSION {
            let wal = Wal::resume(storage, last.clone(), end.valid_end, self.next_lsn)?;
            return Ok((wal, log_bytes));
        }
        retire_version_1(&*storage, last, first == self.next_lsn, end.valid_end)?;
        let name = wal::segment_name(self.next_lsn);
        let wal =
            Wal::create(storage, self.next_lsn).map_err(|e| StorageError::io(&name, 0, &e))?;
        Ok((wal, log_bytes))
    }

    /// Replays one segment whose first lsn its name gives; returns where its valid frames
    /// end, its format version, and how its frames were read.
    fn segment(
        &mut self,
        first: u64,
        name: &str,
    ) -> Result<(reader::End, u32, reader::Mode), StorageError> {
        if first > self.next_lsn {
            return Err(StorageError::new(
                name,
                0,
                format!(
                    "the segment starts at lsn {first}, but the log before it ends at {}: a segment is missing",
                    self.next_lsn
                ),
            ));
        }
        let header = reader::header(self.storage, name, format::WAL_MAGIC)?;
        if header.lsn != first {
            return Err(StorageError::new(
                name,
                0,
                format!("the header says the segment starts at lsn {}", header.lsn),
            ));
        }
        let mut expected = first;
        let flagged = header.version >= 2;
        let mode = reader::Mode {
            verify: self.bug != Some(RecoveryBug::UncheckedChecksums),
            flagged,
            whole_groups: flagged && self.bug != Some(RecoveryBug::ReplaysIncompleteGroups),
        };
        let end = reader::read(self.storage, name, mode, |offset, record| {
            let lsn = record
                .lsn()
                .ok_or_else(|| StorageError::new(name, offset, "an end record in a log segment"))?;
            if lsn != expected {
                return Err(StorageError::new(
                    name,
                    offset,
                    format!("lsn {lsn} where {expected} comes next"),
                ));
            }
            expected += 1;
            if lsn < self.next_lsn {
                // Already in the snapshot.
                return Ok(());
            }
            if self.bug == Some(RecoveryBug::SkipLastReplayed) {
                if let Some((name, offset, held)) = self.held.take() {
                    self.apply(&name, offset, held.record())?;
                }
                self.held = Some((name.to_string(), offset, Held::of(record)));
            } else {
                self.apply(name, offset, record)?;
            }
            self.next_lsn = lsn + 1;
            self.recovered.replayed += 1;
            Ok(())
        })?;
        Ok((end, header.version, mode))
    }

    fn apply(
        &mut self,
        name: &str,
        offset: u64,
        record: format::Record<'_>,
    ) -> Result<(), StorageError> {
        let failed = |e: crate::Error| {
            StorageError::new(name, offset, format!("the change does not replay: {e}"))
        };
        match record {
            format::Record::Control { lsn, change } => {
                self.engine.restore_control(&change).map_err(failed)?;
                snapshot::add_to_history(self.histories, lsn, *change);
            }
            format::Record::Put {
                table, key, item, ..
            } => self
                .engine
                .restore_item(table, key, Some(item), self.now_ms)
                .map_err(failed)?,
            format::Record::Delete { table, key, .. } => self
                .engine
                .restore_item(table, key, None, self.now_ms)
                .map_err(failed)?,
            format::Record::End { .. } => unreachable!("the caller rejects end records"),
        }
        Ok(())
    }
}

/// A version-1 segment is not appended to: its torn tail is cut and it is synced (its frames
/// may not all be on disk, if the build that wrote them was killed, and no later sync covers
/// it), or, holding no change, it is removed, since the new segment takes its name.
fn retire_version_1(
    storage: &dyn Storage,
    last: &str,
    empty: bool,
    valid_end: u64,
) -> Result<(), StorageError> {
    if empty {
        return storage
            .remove(last)
            .map_err(|e| StorageError::io(last, 0, &e));
    }
    wal::cut(storage, last, valid_end)?;
    storage
        .sync(last)
        .map_err(|e| StorageError::io(last, valid_end, &e))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::storage::memory::MemStorage;
    use crate::{Config, Request};
    use serde_json::json;

    const NOW: u64 = 1_700_000_000_000;

    fn run(engine: &mut Engine, durable: &mut Durable, request: Request) {
        engine.execute(request, NOW).unwrap();
        durable.append(engine).unwrap();
    }

    fn create_table() -> Request {
        let create = json!({"TableName": "tbl", "KeySchema": [{"AttributeName": "k", "KeyType": "HASH"}],
            "AttributeDefinitions": [{"AttributeName": "k", "AttributeType": "S"}], "BillingMode": "PAY_PER_REQUEST"});
        Request::CreateTable(serde_json::from_value(create).unwrap())
    }

    fn put(key: &str) -> Request {
        let item = json!({"TableName": "tbl", "Item": {"k": {"S": key}}});
        Request::PutItem(serde_json::from_value(item).unwrap())
    }

    fn open(storage: &Arc<MemStorage>) -> (Engine, Durable, Recovered) {
        let mut engine = Engine::new(Config::default());
        let (durable, recovered) = Durable::open(storage.clone(), &mut engine, NOW).unwrap();
        (engine, durable, recovered)
    }

    fn keys(engine: &mut Engine) -> usize {
        let scan = Request::Scan(serde_json::from_value(json!({"TableName": "tbl"})).unwrap());
        let answer = serde_json::to_value(engine.execute(scan, NOW).unwrap()).unwrap();
        answer["Count"].as_u64().unwrap() as usize
    }

    /// Rewrites segment `name`'s header as version 1 (its frames, one change per request,
    /// are version-1 frames already).
    fn as_version_1(storage: &MemStorage, name: &str) -> Vec<u8> {
        let mut bytes = storage.contents(name).unwrap();
        let mut header: [u8; HEADER_BYTES] = bytes[..HEADER_BYTES].try_into().unwrap();
        let mut decoded = format::Header::decode(&header, format::WAL_MAGIC).unwrap();
        decoded.version = 1;
        header = decoded.encode();
        bytes[..HEADER_BYTES].copy_from_slice(&header);
        storage.set_contents(name, bytes.clone());
        bytes
    }

    fn version(storage: &MemStorage, name: &str) -> u32 {
        u32::from_le_bytes(storage.contents(name).unwrap()[8..12].try_into().unwrap())
    }

    #[test]
    fn a_version_1_segment_is_read_but_not_appended_to() {
        let storage = Arc::new(MemStorage::new());
        let (mut engine, mut durable, _) = open(&storage);
        run(&mut engine, &mut durable, create_table());
        run(&mut engine, &mut durable, put("a"));
        run(&mut engine, &mut durable, put("b"));
        let old = wal::segment_name(0);
        let mut v1 = as_version_1(&storage, &old);
        // An older build's torn append at the end.
        let whole = v1.len();
        v1.extend_from_slice(&[7, 0, 0]);
        storage.set_contents(&old, v1);
        let (mut engine, mut durable, recovered) = open(&storage);
        assert_eq!((durable.next_lsn(), keys(&mut engine)), (3, 2));
        assert_eq!(recovered.torn, Some((old.clone(), whole as u64, 3)));
        assert_eq!(
            storage.contents(&old).unwrap().len(),
            whole,
            "the torn tail is cut"
        );
        let new = wal::segment_name(3);
        assert_eq!(durable.segment(), new);
        assert_eq!(version(&storage, &new), format::WAL_VERSION);
        run(&mut engine, &mut durable, put("c"));
        assert_eq!(
            storage.contents(&old).unwrap().len(),
            whole,
            "not appended to"
        );
        assert_eq!(version(&storage, &old), 1);
        let (mut engine, durable, recovered) = open(&storage);
        assert_eq!((durable.next_lsn(), keys(&mut engine)), (4, 3));
        assert_eq!((durable.segment(), recovered.torn), (new.as_str(), None));
    }

    /// A store that remembers which files were synced.
    struct Syncs {
        inner: MemStorage,
        synced: std::sync::Mutex<Vec<String>>,
    }

    impl Storage for Syncs {
        fn list(&self) -> io::Result<Vec<String>> {
            self.inner.list()
        }
        fn len(&self, name: &str) -> io::Result<u64> {
            self.inner.len(name)
        }
        fn read_at(&self, name: &str, offset: u64, buf: &mut [u8]) -> io::Result<()> {
            self.inner.read_at(name, offset, buf)
        }
        fn write_at(&self, name: &str, offset: u64, data: &[u8]) -> io::Result<()> {
            self.inner.write_at(name, offset, data)
        }
        fn sync(&self, name: &str) -> io::Result<()> {
            self.synced.lock().unwrap().push(name.to_string());
            self.inner.sync(name)
        }
        fn truncate(&self, name: &str, len: u64) -> io::Result<()> {
            self.inner.truncate(name, len)
        }
        fn rename(&self, from: &str, to: &str) -> io::Result<()> {
            self.inner.rename(from, to)
        }
        fn remove(&self, name: &str) -> io::Result<()> {
            self.inner.remove(name)
        }
    }

    /// An older build killed before its last appends were synced: the version-1 segment's
    /// frames are replayed, and synced before the log goes on in a new segment (no later sync
    /// covers the old one, so without it a power cut could lose changes the new segment's
    /// numbering follows).
    #[test]
    fn a_version_1_segment_is_synced_before_the_log_moves_past_it() {
        let storage = Arc::new(MemStorage::new());
        let (mut engine, mut durable, _) = open(&storage);
        run(&mut engine, &mut durable, create_table());
        run(&mut engine, &mut durable, put("a"));
        let old = wal::segment_name(0);
        let bytes = as_version_1(&storage, &old);
        let syncs = Arc::new(Syncs {
            inner: MemStorage::new(),
            synced: Default::default(),
        });
        syncs.inner.set_contents(&old, bytes);
        let mut engine = Engine::new(Config::default());
        let (durable, _) = Durable::open(syncs.clone(), &mut engine, NOW).unwrap();
        assert_eq!(durable.segment(), wal::segment_name(2));
        let synced = syncs.synced.lock().unwrap().clone();
        let old_synced = synced.iter().position(|n| *n == old);
        let new_synced = synced.iter().position(|n| *n == wal::segment_name(2));
        assert!(
            old_synced.is_some() && old_synced < new_synced,
            "synced in order: {synced:?}"
        );
    }

    #[test]
    fn an_empty_version_1_segment_is_started_again_at_version_2() {
        let storage = Arc::new(MemStorage::new());
        drop(open(&storage));
        let name = wal::segment_name(0);
        as_version_1(&storage, &name);
        let (_, durable, _) = open(&storage);
        assert_eq!(durable.segment(), name);
        assert_eq!(version(&storage, &name), format::WAL_VERSION);
        assert_eq!(storage.list().unwrap(), [name]);
    }
}
