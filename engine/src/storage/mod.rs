//! Durability: the storage seam ([`Storage`]), the changes the engine reports for a host to
//! persist ([`change`]), and the write-ahead log with snapshots that persists them
//! ([`durable::Durable`]).
//!
//! The engine still does no IO: a host hands [`Durable`](durable::Durable) an implementation of
//! [`Storage`] (files on disk for `serve --data-dir`, memory for tests, a simulated faulty disk
//! in the simulator). The byte format of the files is in `docs/storage.md`.

pub mod change;
pub mod durable;
pub mod format;
pub mod memory;
pub mod reader;
pub mod recovery;
pub mod snapshot;
pub mod wal;

use std::io;

/// A directory of named files holding bytes at offsets: what the write-ahead log and the
/// snapshots need from a disk, and nothing more.
///
/// The contract, which every implementation keeps and the log relies on:
/// - Nothing written is durable until [`sync`](Storage::sync) of that file returns. After a
///   crash, each byte written since the file's last sync holds the new data, the old data, or
///   (for the last write, torn) a mix; bytes synced before hold what was synced. A file whose
///   first sync has not returned may be missing altogether.
/// - [`rename`](Storage::rename) and [`remove`](Storage::remove) are atomic and durable when
///   they return: after a crash the directory shows the state before or after, never both.
/// - A read returns what was written (synced or not) or an error; it never returns other bytes
///   silently, except where the medium corrupted them, which the log's checksums detect.
///
/// Methods take `&self` so that a host may sync from another thread while the log appends:
/// implementations serialise internally.
pub trait Storage: Send + Sync {
    /// The names of the files that exist, in ascending order.
    fn list(&self) -> io::Result<Vec<String>>;
    /// The length in bytes of file `name`.
    fn len(&self, name: &str) -> io::Result<u64>;
    /// Fills `buf` from `offset` of file `name`; an error if the file is shorter.
    fn read_at(&self, name: &str, offset: u64, buf: &mut [u8]) -> io::Result<()>;
    /// Writes `data` at `offset` of file `name`, creating the file (empty) first if needed and
    /// extending it as needed. Not durable until `sync`.
    fn write_at(&self, name: &str, offset: u64, data: &[u8]) -> io::Result<()>;
    /// Makes every write to file `name` so far durable, and the file's existence with it.
    fn sync(&self, name: &str) -> io::Result<()>;
    /// Cuts file `name` to `len` bytes (durable when it returns).
    fn truncate(&self, name: &str, len: u64) -> io::Result<()>;
    /// Renames `from` to `to`, replacing `to`; atomic and durable when it returns.
    fn rename(&self, from: &str, to: &str) -> io::Result<()>;
    /// Removes file `name` (no error if it is absent); durable when it returns.
    fn remove(&self, name: &str) -> io::Result<()>;
}

/// Deliberately broken variants of recovery, kept so that tests show the crash tests catch
/// them (`Durable::open_broken`). Never used otherwise.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RecoveryBug {
    /// The last change of the log is not replayed (an off-by-one at the log's end).
    SkipLastReplayed,
    /// Frames are accepted without checking their checksums.
    UncheckedChecksums,
    /// The whole frames of a group cut short at the log's tail are replayed (part of a
    /// request's changes, such as part of a transaction), as if each frame stood alone.
    ReplaysIncompleteGroups,
}

/// Why a data directory cannot be used: the file and byte offset where the problem is, and
/// what it is. Recovery never guesses past one of these.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StorageError {
    pub file: String,
    pub offset: u64,
    pub reason: String,
}

impl StorageError {
    pub fn new(file: &str, offset: u64, reason: impl Into<String>) -> StorageError {
        StorageError {
            file: file.to_string(),
            offset,
            reason: reason.into(),
        }
    }

    pub(crate) fn io(file: &str, offset: u64, error: &io::Error) -> StorageError {
        StorageError::new(file, offset, format!("cannot access the file: {error}"))
    }
}

impl std::fmt::Display for StorageError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{} at offset {}: {}",
            self.file, self.offset, self.reason
        )
    }
}

impl std::error::Error for StorageError {}
