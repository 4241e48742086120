//! [`Durable`]: an engine's changes persisted in a write-ahead log with snapshots, and the
//! recovery that rebuilds the engine from them.
//!
//! Recovery loads the newest snapshot, then replays every segment's frames from the
//! snapshot's lsn on, checking that lsns follow one another. Damage ends recovery with a
//! [`StorageError`] naming the file and offset, with one exception: the end of the newest
//! segment, where a crash during an append leaves a torn or partial frame. That tail was never
//! synced, so no write in it was acknowledged; it is cut off. It counts as a torn tail only if
//! no valid frame follows it; otherwise the damage is in the middle of the log, and that is an
//! error.

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
            let end = self.segment(*first, name)?;
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
        let end = self.segment(first, last)?;
        if let Some((offset, reason)) = end.problem {
            if let Some(at) = reader::valid_frame_after(self.storage, last, offset, self.next_lsn)?
            {
                return Err(StorageError::new(
                    last,
                    offset,
                    format!(
                        "{reason}, and a valid record follows at offset {at}: the log is damaged, not torn"
                    ),
                ));
            }
            self.recovered.torn = Some((last.clone(), offset, end.len - offset));
        }
        log_bytes += end.valid_end;
        let wal = Wal::resume(storage, last.clone(), end.valid_end, self.next_lsn)?;
        Ok((wal, log_bytes))
    }

    /// Replays one segment whose first lsn its name gives.
    fn segment(&mut self, first: u64, name: &str) -> Result<reader::End, StorageError> {
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
        let verify = self.bug != Some(RecoveryBug::UncheckedChecksums);
        reader::frames_checked(self.storage, name, verify, |offset, record| {
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
        })
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
