//! Reading a data-directory file back: its header, then its frames in order, in chunks (a
//! snapshot of a million items is not read into memory at once).

use super::format::{self, FRAME_HEADER_BYTES, Frame, HEADER_BYTES, Header, Record};
use super::{Storage, StorageError};

/// How much a reader asks the storage for at a time.
const CHUNK_BYTES: usize = 1 << 20;

/// Where reading a file stopped.
#[derive(Debug)]
pub struct End {
    /// The offset just past the last whole, valid frame (of the last whole group, in a
    /// version-2 segment): where the file's valid part ends.
    pub valid_end: u64,
    /// The file's length.
    pub len: u64,
    /// Why reading stopped before `len`: the offset and the problem there (`len` itself when
    /// the file ends inside a group).
    pub problem: Option<(u64, String)>,
}

/// Reads the header of file `name`.
pub fn header(storage: &dyn Storage, name: &str, magic: &[u8; 8]) -> Result<Header, StorageError> {
    let len = storage
        .len(name)
        .map_err(|e| StorageError::io(name, 0, &e))?;
    if len < HEADER_BYTES as u64 {
        return Err(StorageError::new(
            name,
            0,
            format!("the file is {len} bytes, shorter than its {HEADER_BYTES}-byte header"),
        ));
    }
    let mut bytes = [0u8; HEADER_BYTES];
    storage
        .read_at(name, 0, &mut bytes)
        .map_err(|e| StorageError::io(name, 0, &e))?;
    Header::decode(&bytes, magic).map_err(|reason| StorageError::new(name, 0, reason))
}

/// Calls `each` with every frame of file `name` after its header, with the frame's offset,
/// until the file ends or a frame is damaged or malformed (reported in [`End::problem`]).
/// An error from `each`, or from reading, stops at once. Frames have no continued flag (a
/// snapshot, a version-1 segment).
pub fn frames(
    storage: &dyn Storage,
    name: &str,
    each: impl FnMut(u64, Record<'_>) -> Result<(), StorageError>,
) -> Result<End, StorageError> {
    read(storage, name, Mode::PLAIN, each)
}

/// How a reader takes a file's frames.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Mode {
    /// Checksums are checked (false: the broken variant `UncheckedChecksums`).
    pub verify: bool,
    /// Frames carry the continued flag (a version-2 segment).
    pub flagged: bool,
    /// A group's frames reach `each` only once its last frame is read whole, and a group
    /// cut short ends the valid frames at its first byte (false: every frame is a group of
    /// its own, as in version 1; with `flagged`, the broken variant `ReplaysIncompleteGroups`).
    pub whole_groups: bool,
}

impl Mode {
    /// Frames without the continued flag, checksums checked.
    pub const PLAIN: Mode = Mode {
        verify: true,
        flagged: false,
        whole_groups: false,
    };
    /// A version-2 segment's frames, read in whole groups.
    pub const GROUPED: Mode = Mode {
        verify: true,
        flagged: true,
        whole_groups: true,
    };

    fn frame(self, buf: &[u8]) -> (Frame<'_>, bool) {
        if self.flagged {
            format::group_frame(buf, self.verify)
        } else {
            (format::frame_checked(buf, self.verify), false)
        }
    }
}

/// [`frames`], reading as `mode` says: a version-2 segment's records reach `each` group by
/// group, each group only once it is whole; [`End::valid_end`] is then the end of the last
/// whole group, and a group the file ends inside is a problem at the file's end.
pub fn read(
    storage: &dyn Storage,
    name: &str,
    mode: Mode,
    mut each: impl FnMut(u64, Record<'_>) -> Result<(), StorageError>,
) -> Result<End, StorageError> {
    let len = storage
        .len(name)
        .map_err(|e| StorageError::io(name, 0, &e))?;
    let mut buf: Vec<u8> = Vec::new();
    // The file offset of buf[0], how far buf is consumed, and where in buf the open group
    // (continued frames whose last frame is not read yet) starts.
    let mut base = HEADER_BYTES as u64;
    let mut used = 0usize;
    let mut group: Option<usize> = None;
    loop {
        let offset = base + used as u64;
        let valid_end = base + group.unwrap_or(used) as u64;
        let needed = match mode.frame(&buf[used..]) {
            (Frame::Whole(body, total), continued) => {
                let record = match format::decode_body(body) {
                    Ok(record) => record,
                    Err(reason) => return Ok(stopped(valid_end, offset, len, reason)),
                };
                if continued && mode.whole_groups {
                    group.get_or_insert(used);
                } else {
                    // The group's last frame: its continued frames (decoded again), then it.
                    if let Some(start) = group.take() {
                        deliver(name, &buf[start..used], base + start as u64, &mut each)?;
                    }
                    each(offset, record)?;
                }
                used += total;
                continue;
            }
            (Frame::Bad(reason), _) => return Ok(stopped(valid_end, offset, len, reason)),
            (Frame::Partial(needed), _) => needed,
        };
        if offset + needed as u64 > len {
            return Ok(ended(valid_end, offset, len, needed, group.is_some()));
        }
        // Refill: keep the open group and the unconsumed tail, and read at least what the
        // frame needs.
        let keep = group.unwrap_or(used);
        buf.drain(..keep);
        base += keep as u64;
        used -= keep;
        group = group.map(|_| 0);
        let have = buf.len() - used;
        let want = needed.max(CHUNK_BYTES).min((len - offset) as usize);
        let start = buf.len();
        buf.resize(used + want.max(have), 0);
        let read_from = base + start as u64;
        storage
            .read_at(name, read_from, &mut buf[start..])
            .map_err(|e| StorageError::io(name, read_from, &e))?;
    }
}

/// Calls `each` with the records of `frames`, whole frames already checked, the first at
/// file offset `at`.
fn deliver(
    name: &str,
    mut frames: &[u8],
    mut at: u64,
    each: &mut impl FnMut(u64, Record<'_>) -> Result<(), StorageError>,
) -> Result<(), StorageError> {
    while frames.len() >= FRAME_HEADER_BYTES {
        let word = u32::from_le_bytes(frames[..4].try_into().expect("4 bytes"));
        let total = FRAME_HEADER_BYTES + (word & !format::CONTINUED) as usize;
        let body = frames.get(FRAME_HEADER_BYTES..total).unwrap_or_default();
        let record = format::decode_body(body).map_err(|e| StorageError::new(name, at, e))?;
        each(at, record)?;
        frames = frames.get(total..).unwrap_or_default();
        at += total as u64;
    }
    Ok(())
}

/// Where reading stops when the file ends inside a frame (at `offset`, which needs `needed`
/// bytes) or, with `in_group`, inside a group.
fn ended(valid_end: u64, offset: u64, len: u64, needed: usize, in_group: bool) -> End {
    let problem = if offset < len {
        let reason = format!(
            "a frame of {needed} bytes runs past the end of the file ({} bytes left)",
            len - offset
        );
        Some((offset, reason))
    } else if in_group {
        let reason = format!(
            "the file ends inside a group of changes (it began at offset {valid_end}): its last frame is missing"
        );
        Some((offset, reason))
    } else {
        None
    };
    End {
        valid_end,
        len,
        problem,
    }
}

fn stopped(valid_end: u64, offset: u64, len: u64, reason: String) -> End {
    End {
        valid_end,
        len,
        problem: Some((offset, reason)),
    }
}

/// Whether any whole, valid frame with an lsn above `after_lsn` starts after `from` in file
/// `name` (its frames read as `mode` says): what tells a torn tail (garbage to the end) from
/// damage in the middle of a log.
pub fn valid_frame_after(
    storage: &dyn Storage,
    name: &str,
    mode: Mode,
    from: u64,
    after_lsn: u64,
) -> Result<Option<u64>, StorageError> {
    let len = storage
        .len(name)
        .map_err(|e| StorageError::io(name, from, &e))?;
    if from >= len {
        return Ok(None);
    }
    let mut rest = vec![0u8; (len - from) as usize];
    storage
        .read_at(name, from, &mut rest)
        .map_err(|e| StorageError::io(name, from, &e))?;
    for start in 1..rest.len().saturating_sub(FRAME_HEADER_BYTES) {
        if let (Frame::Whole(body, _), _) = mode.frame(&rest[start..])
            && let Ok(record) = format::decode_body(body)
            && record.lsn().is_some_and(|lsn| lsn > after_lsn)
        {
            return Ok(Some(from + start as u64));
        }
    }
    Ok(None)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::storage::change::Change;
    use crate::storage::format::{WAL_MAGIC, WAL_VERSION};
    use crate::storage::memory::MemStorage;

    fn put(key: u64) -> Change {
        Change::Item {
            table: "t".into(),
            key: key.to_le_bytes().into(),
            item: Some(Box::from(&[0u8][..])),
        }
    }

    fn header(version: u32) -> Vec<u8> {
        let header = Header {
            magic: *WAL_MAGIC,
            version,
            lsn: 0,
            table_sequence: 0,
        };
        header.encode().to_vec()
    }

    /// A version-2 segment of groups of these sizes, and where each group starts.
    fn grouped(sizes: &[u64]) -> (Vec<u8>, Vec<usize>) {
        let mut out = header(WAL_VERSION);
        let (mut lsn, mut starts) = (0, Vec::new());
        for &size in sizes {
            starts.push(out.len());
            let changes: Vec<Change> = (lsn..lsn + size).map(put).collect();
            lsn = format::encode_group(&mut out, lsn, &changes);
        }
        (out, starts)
    }

    /// The lsns `read` delivers from `bytes`, and where it says the valid frames end.
    fn lsns(bytes: &[u8], mode: Mode) -> (Vec<u64>, End) {
        let storage = MemStorage::new();
        storage.set_contents("wal", bytes.to_vec());
        let mut seen = Vec::new();
        let end = read(&storage, "wal", mode, |_, record| {
            seen.push(record.lsn().unwrap());
            Ok(())
        })
        .unwrap();
        (seen, end)
    }

    #[test]
    fn groups_are_delivered_whole_or_cut_from_their_first_byte() {
        let (bytes, starts) = grouped(&[3, 1, 2]);
        let (seen, end) = lsns(&bytes, Mode::GROUPED);
        assert_eq!(seen, (0..6).collect::<Vec<_>>());
        assert_eq!((end.valid_end, end.problem), (bytes.len() as u64, None));
        let last = starts[2];
        for cut in last..bytes.len() {
            let (seen, end) = lsns(&bytes[..cut], Mode::GROUPED);
            assert_eq!(seen, [0, 1, 2, 3], "cut at {cut}");
            assert_eq!(end.valid_end, last as u64, "cut at {cut}");
            assert_eq!(end.problem.is_some(), cut > last, "cut at {cut}");
        }
        // Cut at the end of the group's first frame: the file ends inside the group.
        let word = u32::from_le_bytes(bytes[last..last + 4].try_into().unwrap());
        let first_frame = last + FRAME_HEADER_BYTES + (word & !format::CONTINUED) as usize;
        let (_, end) = lsns(&bytes[..first_frame], Mode::GROUPED);
        let (offset, reason) = end.problem.unwrap();
        assert_eq!(offset, first_frame as u64);
        assert!(reason.contains("inside a group"), "{reason}");
        // The broken variant delivers the group's whole frames.
        let broken = Mode {
            whole_groups: false,
            ..Mode::GROUPED
        };
        let (seen, end) = lsns(&bytes[..first_frame], broken);
        assert_eq!((seen.len(), end.valid_end), (5, first_frame as u64));
    }

    #[test]
    fn groups_across_the_readers_chunks_are_delivered_whole() {
        // 1.5 MB of groups of 7: some group spans the end of the first chunk read.
        let (bytes, starts) = grouped(&[7; 7_000]);
        assert!(bytes.len() > CHUNK_BYTES + CHUNK_BYTES / 2);
        let (seen, end) = lsns(&bytes, Mode::GROUPED);
        assert_eq!(seen, (0..49_000).collect::<Vec<_>>());
        assert_eq!(end.valid_end, bytes.len() as u64);
        let spanning = starts.iter().rfind(|&&s| s < CHUNK_BYTES).unwrap();
        let (seen, end) = lsns(&bytes[..spanning + 50], Mode::GROUPED);
        assert_eq!(end.valid_end, *spanning as u64);
        assert_eq!(seen.len() % 7, 0);
    }

    #[test]
    fn a_version_1_segment_reads_frame_by_frame() {
        let mut bytes = header(1);
        for lsn in 0..3 {
            format::encode_change(&mut bytes, lsn, &put(lsn));
        }
        let (seen, end) = lsns(&bytes, Mode::PLAIN);
        assert_eq!(seen, [0, 1, 2]);
        assert_eq!((end.valid_end, end.problem), (bytes.len() as u64, None));
        // A continued flag has no meaning in version 1: the frame is bad.
        let (grouped, starts) = grouped(&[2]);
        let (seen, end) = lsns(&grouped, Mode::PLAIN);
        assert_eq!((seen.len(), end.valid_end), (0, starts[0] as u64));
        assert!(end.problem.unwrap().1.contains("frame length"));
    }
}
