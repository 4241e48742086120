//! The write-ahead log: segments `wal-<first lsn>.log`, each a header and checksummed frames,
//! one per change, numbered by a log sequence number (lsn) that continues across segments.
//! The changes of one [`Wal::append`] (one request's: a transaction's commit) form one group
//! (`format::encode_group`), which recovery replays whole or not at all. Segments are written
//! at version 2 ([`format::WAL_VERSION`]); a version-1 segment is never appended to.
//!
//! [`Wal::append`] writes and does not sync: a host appends under the engine's lock (so the
//! log's order is the engine's) and syncs outside it, one sync for every append made by then
//! (group commit). A change is durable, and may be acknowledged, once a sync that began after
//! its append returned.

use super::format::{self, HEADER_BYTES, Header, WAL_MAGIC, WAL_VERSION};
use super::{Storage, StorageError};
use std::io;
use std::sync::Arc;

/// The name of the segment whose first record has `lsn`.
pub fn segment_name(lsn: u64) -> String {
    format!("wal-{lsn:020}.log")
}

/// The first lsn of a segment named by [`segment_name`].
pub fn segment_lsn(name: &str) -> Option<u64> {
    let digits = name.strip_prefix("wal-")?.strip_suffix(".log")?;
    (digits.len() == 20).then(|| digits.parse().ok()).flatten()
}

pub struct Wal {
    storage: Arc<dyn Storage>,
    segment: String,
    /// The segment's length: where the next append goes.
    end: u64,
    /// The lsn the next change gets.
    next_lsn: u64,
    buf: Vec<u8>,
}

impl std::fmt::Debug for Wal {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Wal")
            .field("segment", &self.segment)
            .field("end", &self.end)
            .field("next_lsn", &self.next_lsn)
            .finish()
    }
}

impl Wal {
    /// Starts segment `wal-<lsn>.log` at version [`WAL_VERSION`], synced, so that a crash
    /// finds it whole or absent.
    pub fn create(storage: Arc<dyn Storage>, lsn: u64) -> io::Result<Wal> {
        let segment = segment_name(lsn);
        let header = Header {
            magic: *WAL_MAGIC,
            version: WAL_VERSION,
            lsn,
            table_sequence: 0,
        };
        storage.write_at(&segment, 0, &header.encode())?;
        storage.sync(&segment)?;
        Ok(Wal {
            storage,
            segment,
            end: HEADER_BYTES as u64,
            next_lsn: lsn,
            buf: Vec::new(),
        })
    }

    /// Continues segment `segment` (of version [`WAL_VERSION`]), whose valid frames end at
    /// `end`, with `next_lsn`. Bytes past `end` (a torn tail) are cut off first.
    pub fn resume(
        storage: Arc<dyn Storage>,
        segment: String,
        end: u64,
        next_lsn: u64,
    ) -> Result<Wal, StorageError> {
        cut(&*storage, &segment, end)?;
        Ok(Wal {
            storage,
            segment,
            end,
            next_lsn,
            buf: Vec::new(),
        })
    }

    pub fn segment(&self) -> &str {
        &self.segment
    }

    /// The lsn the next change gets: every change below it is appended.
    pub fn next_lsn(&self) -> u64 {
        self.next_lsn
    }

    /// The segment's size in bytes.
    pub fn segment_bytes(&self) -> u64 {
        self.end
    }

    /// Writes `changes` at the end of the log in one write, as one group (recovered all or
    /// nothing), returning the lsn after the last. Not durable until [`sync`](Self::sync) (or
    /// the storage's sync of [`segment`](Self::segment)).
    pub fn append<'a>(
        &mut self,
        changes: impl IntoIterator<Item = &'a super::change::Change>,
    ) -> io::Result<u64> {
        self.buf.clear();
        let lsn = format::encode_group(&mut self.buf, self.next_lsn, changes);
        if !self.buf.is_empty() {
            self.storage.write_at(&self.segment, self.end, &self.buf)?;
            self.end += self.buf.len() as u64;
            self.next_lsn = lsn;
        }
        Ok(self.next_lsn)
    }

    pub fn sync(&self) -> io::Result<()> {
        self.storage.sync(&self.segment)
    }
}

/// Cuts segment `segment` to `end` bytes if it is longer (a torn tail past its valid frames).
pub fn cut(storage: &dyn Storage, segment: &str, end: u64) -> Result<(), StorageError> {
    let len = storage
        .len(segment)
        .map_err(|e| StorageError::io(segment, end, &e))?;
    if len > end {
        storage
            .truncate(segment, end)
            .map_err(|e| StorageError::io(segment, end, &e))?;
    }
    Ok(())
}
