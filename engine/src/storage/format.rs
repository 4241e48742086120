//! The byte format of the data directory's files (documented for readers in
//! `docs/storage.md`; keep the two in step and bump [`VERSION`] on any change).
//!
//! ```text
//! file    = header frame*
//! header  = magic:[u8; 8] version:u32 flags:u32 lsn:u64 table_sequence:u64 crc:u32
//!           magic "DSIM-WAL" (a log segment) or "DSIM-SNP" (a snapshot); lsn: a segment's
//!           first record, or the first record a snapshot does not contain; crc: CRC-32 (IEEE) of
//!           the 32 bytes before it. Integers are little-endian.
//! frame   = length:u32 crc:u32 body         length of body (1..=FRAME_BODY_MAX); crc of body
//!           In a version-2 log segment, bit 31 of the length word is the continued flag
//!           ([`CONTINUED`]): another frame of the same group follows. A continued frame's crc
//!           is the complement (`!crc`) of its body's CRC-32, so a flipped flag bit is a
//!           checksum mismatch. A group is the changes of one append (one request): zero or
//!           more continued frames, then one frame without the flag.
//! body    = 0x01 lsn:u64 json               a control-plane change (`ControlChange` as JSON)
//!         | 0x02 lsn:u64 name key item      an item stored (its stored key and encoding)
//!         | 0x03 lsn:u64 name key           an item deleted
//!         | 0x04 records:u64                the end of a snapshot: how many frames precede it
//! name    = length:u16 utf8                 key, item = length:u32 byte{length}
//! ```
//!
//! In a segment, frame `i` has lsn `first + i`. In a snapshot, lsns are those the changes had
//! in the log (0 for items, which carry their latest state). Snapshots and replica logs are
//! version 1 and have no continued flag; a version-1 segment neither (each frame is a group of
//! its own).

use super::change::{Change, ControlChange};

/// The format version of snapshots and replica logs: what this build writes and reads.
pub const VERSION: u32 = 1;
/// The format version of the log segments this build writes: frames in groups. Segments of
/// version 1 are read too (each frame its own group), never appended to.
pub const WAL_VERSION: u32 = 2;
/// The continued flag of a version-2 segment's frame, in its length word: the frame is not
/// the last of its group.
pub const CONTINUED: u32 = 1 << 31;
pub const WAL_MAGIC: &[u8; 8] = b"DSIM-WAL";
pub const SNAPSHOT_MAGIC: &[u8; 8] = b"DSIM-SNP";
/// A replica's log in the simulator (`replication::log_file`), in frames of its own kinds.
pub const REPLICA_LOG_MAGIC: &[u8; 8] = b"DSIM-RPL";
pub const HEADER_BYTES: usize = 36;
/// The largest frame body: an item is at most 400 KB; control changes are small.
pub const FRAME_BODY_MAX: usize = 8 << 20;
pub const FRAME_HEADER_BYTES: usize = 8;

const KIND_CONTROL: u8 = 1;
const KIND_PUT: u8 = 2;
const KIND_DELETE: u8 = 3;
const KIND_END: u8 = 4;

pub fn crc(bytes: &[u8]) -> u32 {
    crc32fast::hash(bytes)
}

/// A file header.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Header {
    pub magic: [u8; 8],
    /// The format version: [`WAL_VERSION`] or 1 in a log segment, [`VERSION`] otherwise.
    pub version: u32,
    pub lsn: u64,
    pub table_sequence: u64,
}

impl Header {
    pub fn encode(&self) -> [u8; HEADER_BYTES] {
        let mut out = [0u8; HEADER_BYTES];
        out[..8].copy_from_slice(&self.magic);
        out[8..12].copy_from_slice(&self.version.to_le_bytes());
        out[16..24].copy_from_slice(&self.lsn.to_le_bytes());
        out[24..32].copy_from_slice(&self.table_sequence.to_le_bytes());
        let crc = crc(&out[..32]);
        out[32..].copy_from_slice(&crc.to_le_bytes());
        out
    }

    /// Decodes a header, checking its magic against `magic`, its version (1 or
    /// [`WAL_VERSION`] for a log segment, [`VERSION`] otherwise) and its checksum.
    pub fn decode(bytes: &[u8; HEADER_BYTES], magic: &[u8; 8]) -> Result<Header, String> {
        if &bytes[..8] != magic {
            return Err(format!(
                "not a dynasim {} file (its first bytes are {:?}, not {:?})",
                match magic {
                    WAL_MAGIC => "log",
                    REPLICA_LOG_MAGIC => "replica log",
                    _ => "snapshot",
                },
                String::from_utf8_lossy(&bytes[..8]),
                String::from_utf8_lossy(magic),
            ));
        }
        let version = u32::from_le_bytes(bytes[8..12].try_into().expect("4 bytes"));
        if magic == WAL_MAGIC && !(1..=WAL_VERSION).contains(&version) {
            return Err(format!(
                "format version {version}; this dynasim reads log segments of versions 1 to {WAL_VERSION} only"
            ));
        }
        if magic != WAL_MAGIC && version != VERSION {
            return Err(format!(
                "format version {version}; this dynasim reads version {VERSION} only"
            ));
        }
        let stored = u32::from_le_bytes(bytes[32..].try_into().expect("4 bytes"));
        if stored != crc(&bytes[..32]) {
            return Err("the header's checksum does not match".into());
        }
        Ok(Header {
            magic: *magic,
            version,
            lsn: u64::from_le_bytes(bytes[16..24].try_into().expect("8 bytes")),
            table_sequence: u64::from_le_bytes(bytes[24..32].try_into().expect("8 bytes")),
        })
    }
}

/// One decoded frame body.
#[derive(Debug)]
pub enum Record<'a> {
    Control {
        lsn: u64,
        change: Box<ControlChange>,
    },
    Put {
        lsn: u64,
        table: &'a str,
        key: &'a [u8],
        item: &'a [u8],
    },
    Delete {
        lsn: u64,
        table: &'a str,
        key: &'a [u8],
    },
    End {
        records: u64,
    },
}

impl Record<'_> {
    pub fn lsn(&self) -> Option<u64> {
        match self {
            Record::Control { lsn, .. } | Record::Put { lsn, .. } | Record::Delete { lsn, .. } => {
                Some(*lsn)
            }
            Record::End { .. } => None,
        }
    }
}

/// Appends one frame whose body `body` writes.
pub fn frame(out: &mut Vec<u8>, body: impl FnOnce(&mut Vec<u8>)) {
    let start = out.len();
    out.extend_from_slice(&[0; FRAME_HEADER_BYTES]);
    body(out);
    let length = out.len() - start - FRAME_HEADER_BYTES;
    assert!(
        (1..=FRAME_BODY_MAX).contains(&length),
        "a frame body of {length} bytes"
    );
    let crc = crc(&out[start + FRAME_HEADER_BYTES..]);
    out[start..start + 4].copy_from_slice(&(length as u32).to_le_bytes());
    out[start + 4..start + 8].copy_from_slice(&crc.to_le_bytes());
}

fn put_name(out: &mut Vec<u8>, name: &str) {
    let length = u16::try_from(name.len()).expect("table names are at most 255 bytes");
    out.extend_from_slice(&length.to_le_bytes());
    out.extend_from_slice(name.as_bytes());
}

fn put_bytes(out: &mut Vec<u8>, bytes: &[u8]) {
    let length = u32::try_from(bytes.len()).expect("keys and items are under 4 GB");
    out.extend_from_slice(&length.to_le_bytes());
    out.extend_from_slice(bytes);
}

pub fn encode_control(out: &mut Vec<u8>, lsn: u64, change: &ControlChange) {
    frame(out, |out| {
        out.push(KIND_CONTROL);
        out.extend_from_slice(&lsn.to_le_bytes());
        serde_json::to_writer(&mut *out, change).expect("control changes serialize");
    });
}

pub fn encode_item(out: &mut Vec<u8>, lsn: u64, table: &str, key: &[u8], item: Option<&[u8]>) {
    frame(out, |out| {
        out.push(if item.is_some() {
            KIND_PUT
        } else {
            KIND_DELETE
        });
        out.extend_from_slice(&lsn.to_le_bytes());
        put_name(out, table);
        put_bytes(out, key);
        if let Some(item) = item {
            put_bytes(out, item);
        }
    });
}

pub fn encode_change(out: &mut Vec<u8>, lsn: u64, change: &Change) {
    match change {
        Change::Control(change) => encode_control(out, lsn, change),
        Change::Item { table, key, item } => encode_item(out, lsn, table, key, item.as_deref()),
    }
}

/// Sets the continued flag of the frame at the start of `frame` (written by [`frame`]): bit 31
/// of its length word, and its checksum complemented.
pub fn mark_continued(frame: &mut [u8]) {
    let word = u32::from_le_bytes(frame[..4].try_into().expect("4 bytes"));
    let crc = u32::from_le_bytes(frame[4..8].try_into().expect("4 bytes"));
    frame[..4].copy_from_slice(&(word | CONTINUED).to_le_bytes());
    frame[4..8].copy_from_slice(&(!crc).to_le_bytes());
}

/// Appends `changes` as one group of a version-2 segment, numbered from lsn `first`: every
/// frame but the last continued. Returns the lsn after the last change.
pub fn encode_group<'a>(
    out: &mut Vec<u8>,
    first: u64,
    changes: impl IntoIterator<Item = &'a Change>,
) -> u64 {
    let mut lsn = first;
    let mut previous: Option<usize> = None;
    for change in changes {
        if let Some(start) = previous {
            mark_continued(&mut out[start..]);
        }
        previous = Some(out.len());
        encode_change(out, lsn, change);
        lsn += 1;
    }
    lsn
}

pub fn encode_end(out: &mut Vec<u8>, records: u64) {
    frame(out, |out| {
        out.push(KIND_END);
        out.extend_from_slice(&records.to_le_bytes());
    });
}

/// What the bytes at the start of a buffer hold.
pub enum Frame<'a> {
    /// A whole frame with a matching checksum: its body, and its length with the header.
    Whole(&'a [u8], usize),
    /// The buffer ends inside the frame; it needs this many bytes in all.
    Partial(usize),
    /// Not a frame: a length out of range or a checksum that does not match.
    Bad(String),
}

pub fn frame_at(buf: &[u8]) -> Frame<'_> {
    frame_checked(buf, true)
}

/// [`frame_at`], or with `verify` false the broken variant that ignores checksums.
pub fn frame_checked(buf: &[u8], verify: bool) -> Frame<'_> {
    frame_parsed(buf, verify, false).0
}

/// A frame of a version-2 log segment: the frame (as [`frame_checked`]), and whether its
/// continued flag is set (another frame of its group follows).
pub fn group_frame(buf: &[u8], verify: bool) -> (Frame<'_>, bool) {
    frame_parsed(buf, verify, true)
}

/// Parses the frame at the start of `buf`; with `flagged`, bit 31 of the length word is the
/// continued flag (and a continued frame's checksum is complemented).
fn frame_parsed(buf: &[u8], verify: bool, flagged: bool) -> (Frame<'_>, bool) {
    if buf.len() < FRAME_HEADER_BYTES {
        return (Frame::Partial(FRAME_HEADER_BYTES), false);
    }
    let word = u32::from_le_bytes(buf[..4].try_into().expect("4 bytes"));
    let continued = flagged && word & CONTINUED != 0;
    let length = if flagged { word & !CONTINUED } else { word } as usize;
    if !(1..=FRAME_BODY_MAX).contains(&length) {
        return (
            Frame::Bad(format!("a frame length of {length} bytes")),
            continued,
        );
    }
    let total = FRAME_HEADER_BYTES + length;
    if buf.len() < total {
        return (Frame::Partial(total), continued);
    }
    let stored = u32::from_le_bytes(buf[4..8].try_into().expect("4 bytes"));
    let body = &buf[FRAME_HEADER_BYTES..total];
    let expected = if continued { !crc(body) } else { crc(body) };
    if verify && stored != expected {
        return (
            Frame::Bad("the frame's checksum does not match".into()),
            continued,
        );
    }
    (Frame::Whole(body, total), continued)
}

struct Cursor<'a> {
    bytes: &'a [u8],
}

impl<'a> Cursor<'a> {
    fn take(&mut self, n: usize) -> Result<&'a [u8], String> {
        if self.bytes.len() < n {
            return Err("the record ends early".into());
        }
        let (head, rest) = self.bytes.split_at(n);
        self.bytes = rest;
        Ok(head)
    }

    fn u64(&mut self) -> Result<u64, String> {
        Ok(u64::from_le_bytes(self.take(8)?.try_into().expect("8")))
    }

    fn name(&mut self) -> Result<&'a str, String> {
        let length = u16::from_le_bytes(self.take(2)?.try_into().expect("2"));
        std::str::from_utf8(self.take(usize::from(length))?)
            .map_err(|_| "a table name is not UTF-8".into())
    }

    fn bytes(&mut self) -> Result<&'a [u8], String> {
        let length = u32::from_le_bytes(self.take(4)?.try_into().expect("4"));
        self.take(length as usize)
    }
}

impl Record<'_> {
    /// The change a control or item record carries (`None` for the end of a snapshot).
    pub fn to_change(&self) -> Option<Change> {
        Some(match self {
            Record::Control { change, .. } => Change::Control(change.clone()),
            Record::Put {
                table, key, item, ..
            } => Change::Item {
                table: (*table).to_string(),
                key: (*key).into(),
                item: Some((*item).into()),
            },
            Record::Delete { table, key, .. } => Change::Item {
                table: (*table).to_string(),
                key: (*key).into(),
                item: None,
            },
            Record::End { .. } => return None,
        })
    }
}

/// Decodes a frame body (whose checksum matched). Item encodings are checked too.
pub fn decode_body(body: &[u8]) -> Result<Record<'_>, String> {
    let (&kind, rest) = body.split_first().ok_or("an empty record")?;
    let mut cursor = Cursor { bytes: rest };
    let record = match kind {
        KIND_CONTROL => {
            let lsn = cursor.u64()?;
            let change = serde_json::from_slice(cursor.take(cursor.bytes.len())?)
                .map_err(|e| format!("a control record does not decode: {e}"))?;
            Record::Control { lsn, change }
        }
        KIND_PUT => {
            let (lsn, table, key, item) = (
                cursor.u64()?,
                cursor.name()?,
                cursor.bytes()?,
                cursor.bytes()?,
            );
            crate::types::encoding::check(item, crate::limits::NESTING_DEPTH_MAX + 1)
                .map_err(|e| format!("a stored item is malformed: {e}"))?;
            Record::Put {
                lsn,
                table,
                key,
                item,
            }
        }
        KIND_DELETE => Record::Delete {
            lsn: cursor.u64()?,
            table: cursor.name()?,
            key: cursor.bytes()?,
        },
        KIND_END => Record::End {
            records: cursor.u64()?,
        },
        kind => return Err(format!("unknown record kind {kind}")),
    };
    if !cursor.bytes.is_empty() {
        return Err(format!(
            "{} bytes after the record's end",
            cursor.bytes.len()
        ));
    }
    Ok(record)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn frames_round_trip_and_detect_damage() {
        let mut out = Vec::new();
        encode_item(&mut out, 7, "t", b"k", Some(&[0]));
        encode_item(&mut out, 8, "t", b"k", None);
        let Frame::Whole(body, used) = frame_at(&out) else {
            panic!("a whole frame")
        };
        assert!(matches!(
            decode_body(body),
            Ok(Record::Put {
                lsn: 7,
                table: "t",
                key: b"k",
                item: [0]
            })
        ));
        let Frame::Whole(body, _) = frame_at(&out[used..]) else {
            panic!("a whole frame")
        };
        assert!(matches!(
            decode_body(body),
            Ok(Record::Delete { lsn: 8, .. })
        ));
        assert!(matches!(frame_at(&out[..used - 1]), Frame::Partial(n) if n == used));
        for i in 0..used {
            let mut damaged = out.clone();
            damaged[i] ^= 0x40;
            assert!(
                !matches!(frame_at(&damaged), Frame::Whole(..)),
                "a flipped bit at byte {i} goes unnoticed"
            );
        }
    }

    fn put(key: &str) -> Change {
        Change::Item {
            table: "t".into(),
            key: key.as_bytes().into(),
            item: Some(Box::from(&[0u8][..])),
        }
    }

    /// The frames of `bytes` as (lsn, continued), read as a version-2 segment reads them.
    fn group_frames(mut bytes: &[u8]) -> Vec<(u64, bool)> {
        let mut out = Vec::new();
        while !bytes.is_empty() {
            let (Frame::Whole(body, used), continued) = group_frame(bytes, true) else {
                panic!("a whole frame")
            };
            out.push((decode_body(body).unwrap().lsn().unwrap(), continued));
            bytes = &bytes[used..];
        }
        out
    }

    #[test]
    fn groups_flag_every_frame_but_the_last() {
        let mut out = Vec::new();
        assert_eq!(
            encode_group(&mut out, 5, &[put("a"), put("b"), put("c")]),
            8
        );
        assert_eq!(
            group_frames(&out),
            [(5, true), (6, true), (7, false)],
            "three frames, the first two continued"
        );
        // A group of one change is an ordinary frame, byte for byte.
        let (mut one, mut plain) = (Vec::new(), Vec::new());
        assert_eq!(encode_group(&mut one, 9, &[put("a")]), 10);
        encode_change(&mut plain, 9, &put("a"));
        assert_eq!(one, plain);
        assert_eq!(encode_group(&mut Vec::new(), 9, &[]), 9);
        // A version-1 reader refuses a continued frame; a version-2 reader notices a flipped
        // flag bit (the checksum is complemented for continued frames) or any other bit.
        assert!(matches!(frame_at(&out), Frame::Bad(_)));
        let word = u32::from_le_bytes(out[..4].try_into().unwrap());
        let first = FRAME_HEADER_BYTES + (word & !CONTINUED) as usize;
        for i in 0..first {
            let mut damaged = out.clone();
            damaged[i] ^= 0x80;
            assert!(
                !matches!(group_frame(&damaged, true).0, Frame::Whole(..)),
                "a flipped bit at byte {i} goes unnoticed"
            );
        }
        let mut unflagged = out.clone();
        unflagged[3] &= 0x7f;
        assert!(matches!(
            group_frame(&unflagged, true),
            (Frame::Bad(_), false)
        ));
        let mut flagged = plain.clone();
        flagged[3] |= 0x80;
        assert!(matches!(group_frame(&flagged, true), (Frame::Bad(_), true)));
    }

    #[test]
    fn headers_check_magic_version_and_checksum() {
        let header = Header {
            magic: *WAL_MAGIC,
            version: WAL_VERSION,
            lsn: 42,
            table_sequence: 3,
        };
        let bytes = header.encode();
        assert_eq!(Header::decode(&bytes, WAL_MAGIC), Ok(header));
        assert!(Header::decode(&bytes, SNAPSHOT_MAGIC).is_err());
        let mut older = bytes;
        older[8] = 1;
        let checksum = crc(&older[..32]);
        older[32..].copy_from_slice(&checksum.to_le_bytes());
        assert_eq!(Header::decode(&older, WAL_MAGIC).map(|h| h.version), Ok(1));
        let mut newer = bytes;
        newer[8] = 3;
        let error = Header::decode(&newer, WAL_MAGIC).unwrap_err();
        assert!(error.contains("format version 3"), "{error}");
        // Snapshots stay at version 1: a version-2 snapshot is refused.
        let snapshot = Header {
            magic: *SNAPSHOT_MAGIC,
            version: 2,
            ..header
        };
        let error = Header::decode(&snapshot.encode(), SNAPSHOT_MAGIC).unwrap_err();
        assert!(error.contains("reads version 1 only"), "{error}");
        let mut damaged = bytes;
        damaged[20] ^= 1;
        assert!(Header::decode(&damaged, WAL_MAGIC).is_err());
    }
}
