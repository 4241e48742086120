//! Reading a data-directory file back: its header, then its frames in order, in chunks (a
//! snapshot of a million items is not read into memory at once).

use super::format::{self, FRAME_HEADER_BYTES, Frame, HEADER_BYTES, Header, Record};
use super::{Storage, StorageError};

/// How much a reader asks the storage for at a time.
const CHUNK_BYTES: usize = 1 << 20;

/// Where reading a file stopped.
#[derive(Debug)]
pub struct End {
    /// The offset just past the last whole, valid frame.
    pub valid_end: u64,
    /// The file's length.
    pub len: u64,
    /// Why reading stopped before `len`: the offset and the problem there.
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
/// An error from `each`, or from reading, stops at once.
pub fn frames(
    storage: &dyn Storage,
    name: &str,
    each: impl FnMut(u64, Record<'_>) -> Result<(), StorageError>,
) -> Result<End, StorageError> {
    frames_checked(storage, name, true, each)
}

/// [`frames`], or with `verify` false the broken variant that ignores checksums.
pub fn frames_checked(
    storage: &dyn Storage,
    name: &str,
    verify: bool,
    mut each: impl FnMut(u64, Record<'_>) -> Result<(), StorageError>,
) -> Result<End, StorageError> {
    let len = storage
        .len(name)
        .map_err(|e| StorageError::io(name, 0, &e))?;
    let mut buf: Vec<u8> = Vec::new();
    // The file offset of buf[0], and how far buf is consumed.
    let mut base = HEADER_BYTES as u64;
    let mut used = 0usize;
    loop {
        let offset = base + used as u64;
        let needed = match format::frame_checked(&buf[used..], verify) {
            Frame::Whole(body, total) => {
                match format::decode_body(body) {
                    Ok(record) => each(offset, record)?,
                    Err(reason) => return Ok(stopped(offset, len, reason)),
                }
                used += total;
                continue;
            }
            Frame::Bad(reason) => return Ok(stopped(offset, len, reason)),
            Frame::Partial(needed) => needed,
        };
        if offset + needed as u64 > len {
            let problem = (offset < len).then(|| {
                let reason = format!(
                    "a frame of {needed} bytes runs past the end of the file ({} bytes left)",
                    len - offset
                );
                (offset, reason)
            });
            return Ok(End {
                valid_end: offset,
                len,
                problem,
            });
        }
        // Refill: keep the unconsumed tail and read at least what the frame needs.
        buf.drain(..used);
        base = offset;
        used = 0;
        let want = needed.max(CHUNK_BYTES).min((len - offset) as usize);
        let start = buf.len();
        buf.resize(want.max(start), 0);
        let read_from = offset + start as u64;
        storage
            .read_at(name, read_from, &mut buf[start..])
            .map_err(|e| StorageError::io(name, read_from, &e))?;
    }
}

fn stopped(offset: u64, len: u64, reason: String) -> End {
    End {
        valid_end: offset,
        len,
        problem: Some((offset, reason)),
    }
}

/// Whether any whole, valid frame with an lsn above `after_lsn` starts after `from` in file
/// `name`: what tells a torn tail (garbage to the end) from damage in the middle of a log.
pub fn valid_frame_after(
    storage: &dyn Storage,
    name: &str,
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
        if let Frame::Whole(body, _) = format::frame_at(&rest[start..])
            && let Ok(record) = format::decode_body(body)
            && record.lsn().is_some_and(|lsn| lsn > after_lsn)
        {
            return Ok(Some(from + start as u64));
        }
    }
    Ok(None)
}
