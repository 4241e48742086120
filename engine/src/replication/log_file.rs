//! A replica's persistent state ([`Persistent`]: term, vote, repair marker, log, and the
//! snapshot of its compacted prefix) as checksummed frames in one file of a [`Storage`], and
//! its recovery: what a host that keeps its replicas on a disk writes and reads back. The
//! simulator's storage nodes keep their replicas this way on a faulty disk; the byte format
//! is documented in `docs/storage.md` ("Replica logs").
//!
//! The file is appended to: entries as the replica appends them (an entry at an index the
//! file already holds replaces it and everything after, as Raft's log does), and the hard
//! state (term, vote, repair marker) whenever it changes, synced at once, since a replica's
//! term and vote must be durable before anything it sends after changing them. A new base
//! (a compaction, or a snapshot from the leader) rewrites the file whole: written under a
//! temporary name, synced, and renamed over the old one.
//!
//! Recovery reads the frames in order. A frame cut off by the end of the file, with nothing
//! valid after it, is a torn write: the entries in it were never durable, so never
//! acknowledged, and are dropped. Any other bad frame (a checksum that does not match, a
//! frame out of place, or a torn-looking one with valid frames after it) is damage: the
//! replica keeps the entries before it and repairs from its leader ([`Persistent::repair`]),
//! since what it lost may be entries it acknowledged. Hard-state frames after the damage
//! still count (they are valid, and newer).

use super::raft::{LogEntry, Persistent};
use crate::storage::format::{self, FRAME_HEADER_BYTES, Frame, HEADER_BYTES, Header};
use crate::storage::{Storage, StorageError, reader};
use std::io;

/// The host's encoding of its log entries' payloads `E` and of its snapshots `S`.
pub trait Codec<E, S> {
    fn put_entry(&self, entry: &E, out: &mut Vec<u8>);
    fn entry(&self, bytes: &[u8]) -> Result<E, String>;
    fn put_snapshot(&self, snapshot: &S, out: &mut Vec<u8>);
    fn snapshot(&self, bytes: &[u8]) -> Result<S, String>;
}

const KIND_BASE: u8 = 0x21;
const KIND_STATE: u8 = 0x22;
const KIND_ENTRY: u8 = 0x23;
/// An entry frame's body before its payload: kind, index, term, payload flag.
const ENTRY_HEAD_BYTES: usize = 18;

/// The hard state: what the replica must not forget even for an instant.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct HardState {
    term: u64,
    voted_for: Option<usize>,
    repair: Option<(u64, u64)>,
}

impl HardState {
    fn of<E, S>(p: &Persistent<E, S>) -> HardState {
        HardState {
            term: p.term,
            voted_for: p.voted_for,
            repair: p.repair,
        }
    }
}

/// A replica's log file as written so far (the writer's side; volatile, rebuilt by
/// [`LogFile::create`] after recovery).
#[derive(Debug)]
pub struct LogFile {
    name: String,
    state: HardState,
    base: (u64, u64),
    /// The terms of the entries the file holds after the base, from `base.0 + 1` on.
    terms: Vec<u64>,
    /// The file's length: where the next frame goes.
    end: u64,
    buf: Vec<u8>,
}

fn tmp_name(name: &str) -> String {
    format!("{name}.tmp")
}

fn put_state(out: &mut Vec<u8>, state: HardState) {
    format::frame(out, |out| {
        out.push(KIND_STATE);
        out.extend_from_slice(&state.term.to_le_bytes());
        let vote = state.voted_for.map_or(u64::MAX, |v| v as u64);
        out.extend_from_slice(&vote.to_le_bytes());
        let (flag, (term, index)) = match state.repair {
            Some(repair) => (1, repair),
            None => (0, (0, 0)),
        };
        out.push(flag);
        out.extend_from_slice(&term.to_le_bytes());
        out.extend_from_slice(&index.to_le_bytes());
    });
}

fn put_entry<E, S>(out: &mut Vec<u8>, index: u64, entry: &LogEntry<E>, codec: &dyn Codec<E, S>) {
    format::frame(out, |out| {
        out.push(KIND_ENTRY);
        out.extend_from_slice(&index.to_le_bytes());
        out.extend_from_slice(&entry.term.to_le_bytes());
        out.push(u8::from(entry.payload.is_some()));
        if let Some(payload) = &entry.payload {
            codec.put_entry(payload, out);
        }
    });
}

impl LogFile {
    /// Writes `persistent` as file `name` whole (under a temporary name, synced, then renamed
    /// over `name`), so that a crash finds the old file or the new one.
    pub fn create<E, S>(
        storage: &dyn Storage,
        name: &str,
        persistent: &Persistent<E, S>,
        codec: &dyn Codec<E, S>,
    ) -> io::Result<LogFile> {
        let mut out = Vec::new();
        let header = Header {
            magic: *format::REPLICA_LOG_MAGIC,
            version: format::VERSION,
            lsn: persistent.base_index,
            table_sequence: 0,
        };
        out.extend_from_slice(&header.encode());
        if let Some(snapshot) = &persistent.snapshot {
            format::frame(&mut out, |out| {
                out.push(KIND_BASE);
                out.extend_from_slice(&persistent.base_index.to_le_bytes());
                out.extend_from_slice(&persistent.base_term.to_le_bytes());
                codec.put_snapshot(snapshot, out);
            });
        }
        let state = HardState::of(persistent);
        put_state(&mut out, state);
        for (i, entry) in persistent.log.iter().enumerate() {
            put_entry(&mut out, persistent.base_index + 1 + i as u64, entry, codec);
        }
        let tmp = tmp_name(name);
        storage.remove(&tmp)?;
        storage.write_at(&tmp, 0, &out)?;
        storage.sync(&tmp)?;
        storage.rename(&tmp, name)?;
        Ok(LogFile {
            name: name.to_string(),
            state,
            base: (persistent.base_index, persistent.base_term),
            terms: persistent.log.iter().map(|e| e.term).collect(),
            end: out.len() as u64,
            buf: Vec::new(),
        })
    }

    pub fn name(&self) -> &str {
        &self.name
    }

    /// How many entries the file holds after the base that `persistent`'s log holds too (by
    /// index and term: Raft's log matching makes equal entries at one index and term).
    fn matching(&self, persistent: &Persistent<impl Sized, impl Sized>) -> usize {
        let held = persistent.log.len().min(self.terms.len());
        let same = |i: usize| persistent.log[i].term == self.terms[i];
        if held == 0 || same(held - 1) {
            return held;
        }
        (0..held).take_while(|&i| same(i)).count()
    }

    /// Brings the file up to `persistent`: entries appended since the last call are written
    /// (not synced, unless `sync_entries`), replaced entries are written again, and a changed
    /// hard state is written and synced. A new base rewrites the file ([`create`](Self::create)).
    pub fn save<E, S>(
        &mut self,
        storage: &dyn Storage,
        persistent: &Persistent<E, S>,
        codec: &dyn Codec<E, S>,
        sync_entries: bool,
    ) -> io::Result<()> {
        let keep = self.matching(persistent);
        // A new base, or a log cut short with nothing appended after the cut (no entry frame
        // could say where it ends now): the file is written again whole.
        let cut = keep == persistent.log.len() && keep < self.terms.len();
        if (persistent.base_index, persistent.base_term) != self.base || cut {
            *self = LogFile::create(storage, &self.name, persistent, codec)?;
            return Ok(());
        }
        let wrote = keep < persistent.log.len();
        if wrote {
            self.buf.clear();
            for (i, entry) in persistent.log.iter().enumerate().skip(keep) {
                put_entry(&mut self.buf, self.base.0 + 1 + i as u64, entry, codec);
            }
            self.terms.truncate(keep);
            self.terms
                .extend(persistent.log[keep..].iter().map(|e| e.term));
            storage.write_at(&self.name, self.end, &self.buf)?;
            self.end += self.buf.len() as u64;
        }
        let state = HardState::of(persistent);
        if state != self.state {
            self.buf.clear();
            put_state(&mut self.buf, state);
            storage.write_at(&self.name, self.end, &self.buf)?;
            self.end += self.buf.len() as u64;
            self.state = state;
            return storage.sync(&self.name);
        }
        if wrote && sync_entries {
            storage.sync(&self.name)?;
        }
        Ok(())
    }

    /// Makes everything written so far durable.
    pub fn sync(&self, storage: &dyn Storage) -> io::Result<()> {
        storage.sync(&self.name)
    }
}

/// The offsets and body lengths of the whole entry frames in `file` (a replica log's bytes,
/// header included), up to the first frame that is not whole: where a test or a fault may
/// damage an entry.
pub fn entry_frames(file: &[u8]) -> Vec<(usize, usize)> {
    let mut entries = Vec::new();
    let mut at = HEADER_BYTES.min(file.len());
    while let Frame::Whole(body, total) = format::frame_at(&file[at..]) {
        if body.first() == Some(&KIND_ENTRY) {
            entries.push((at, body.len()));
        }
        at += total;
    }
    entries
}

/// What recovery found wrong with a file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Problem {
    /// A frame cut off by the end of the file at `offset`: a torn write, dropped.
    Torn { offset: u64 },
    /// The frame at `offset` is damaged; the log is kept up to it and the replica repairs.
    Damaged { offset: u64, reason: String },
}

/// A replica's persistent state read back from its file, and what was wrong with the file.
#[derive(Debug)]
pub struct Recovered<E, S> {
    pub persistent: Persistent<E, S>,
    pub problem: Option<Problem>,
}

/// One decoded frame.
enum Decoded<E, S> {
    Base(u64, u64, S),
    State(HardState),
    Entry(u64, LogEntry<E>),
}

fn u64_at(bytes: &[u8], at: usize) -> Result<u64, String> {
    let raw = bytes
        .get(at..at + 8)
        .ok_or_else(|| "the frame ends early".to_string())?;
    Ok(u64::from_le_bytes(raw.try_into().expect("8 bytes")))
}

fn decode<E, S>(body: &[u8], codec: &dyn Codec<E, S>) -> Result<Decoded<E, S>, String> {
    match body.first() {
        Some(&KIND_BASE) => {
            let snapshot = codec.snapshot(body.get(17..).ok_or("the frame ends early")?)?;
            Ok(Decoded::Base(u64_at(body, 1)?, u64_at(body, 9)?, snapshot))
        }
        Some(&KIND_STATE) => {
            let vote = u64_at(body, 9)?;
            let repair = match body.get(17) {
                Some(0) => None,
                Some(1) => Some((u64_at(body, 18)?, u64_at(body, 26)?)),
                _ => return Err("a hard state's repair flag is neither 0 nor 1".into()),
            };
            Ok(Decoded::State(HardState {
                term: u64_at(body, 1)?,
                voted_for: (vote != u64::MAX).then_some(vote as usize),
                repair,
            }))
        }
        Some(&KIND_ENTRY) => {
            let payload = match body.get(ENTRY_HEAD_BYTES - 1) {
                Some(0) => None,
                Some(1) => Some(codec.entry(&body[ENTRY_HEAD_BYTES..])?),
                _ => return Err("an entry's payload flag is neither 0 nor 1".into()),
            };
            let term = u64_at(body, 9)?;
            Ok(Decoded::Entry(u64_at(body, 1)?, LogEntry { term, payload }))
        }
        Some(kind) => Err(format!("an unknown frame kind 0x{kind:02x}")),
        None => Err("an empty frame".into()),
    }
}

/// The recovery in progress: the state read so far.
struct Reading<E, S> {
    p: Persistent<E, S>,
    frames: usize,
    /// The highest term and, separately, the highest index of any entry frame read, valid,
    /// before or after damage.
    newest: (u64, u64),
}

impl<E, S> Reading<E, S> {
    /// Takes one valid frame in order; an error is damage at this frame.
    fn take(&mut self, frame: Decoded<E, S>) -> Result<(), String> {
        self.frames += 1;
        match frame {
            Decoded::Base(index, term, snapshot) if self.frames == 1 => {
                self.p.base_index = index;
                self.p.base_term = term;
                self.p.snapshot = Some(snapshot);
            }
            Decoded::Base(..) => return Err("a base frame after the first frame".into()),
            Decoded::State(state) => self.set_state(state),
            Decoded::Entry(index, entry) => {
                let last = self.p.base_index + self.p.log.len() as u64;
                if index <= self.p.base_index || index > last + 1 {
                    return Err(format!(
                        "an entry at index {index} in a log of {}..={last}",
                        self.p.base_index + 1
                    ));
                }
                self.saw(entry.term, index);
                self.p
                    .log
                    .truncate((index - 1 - self.p.base_index) as usize);
                self.p.log.push(entry);
            }
        }
        Ok(())
    }

    fn saw(&mut self, term: u64, index: u64) {
        self.newest = (self.newest.0.max(term), self.newest.1.max(index));
    }

    fn set_state(&mut self, state: HardState) {
        self.p.term = state.term;
        self.p.voted_for = state.voted_for;
        self.p.repair = state.repair;
    }
}

/// Reads file `name` back, or `None` if there is no such file. `verify` false is the broken
/// variant that checks no checksum and takes a torn entry frame, as far as it reached the
/// disk, for an entry (with no payload when the payload did not survive). An error: the file
/// cannot be read at all (its header, or a read error).
pub fn recover<E, S>(
    storage: &dyn Storage,
    name: &str,
    codec: &dyn Codec<E, S>,
    verify: bool,
) -> Result<Option<Recovered<E, S>>, StorageError> {
    match storage.len(name) {
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(StorageError::new(name, 0, e.to_string())),
        Ok(_) => {}
    }
    reader::header(storage, name, format::REPLICA_LOG_MAGIC)?;
    let len = storage
        .len(name)
        .map_err(|e| StorageError::new(name, 0, e.to_string()))? as usize;
    let mut bytes = vec![0u8; len - HEADER_BYTES];
    storage
        .read_at(name, HEADER_BYTES as u64, &mut bytes)
        .map_err(|e| StorageError::new(name, HEADER_BYTES as u64, e.to_string()))?;
    let mut reading = Reading {
        p: Persistent::empty(),
        frames: 0,
        newest: (0, 0),
    };
    let problem = read_frames(&bytes, &mut reading, codec, verify);
    let mut persistent = reading.p;
    let problem = problem.map(|(at, reason, torn)| {
        let offset = (HEADER_BYTES + at) as u64;
        if torn {
            return Problem::Torn { offset };
        }
        // Damage: repair until the leader's entries reach past the newest entry the file
        // shows, or past the one it lost.
        let last = persistent.base_index + persistent.log.len() as u64;
        let last_term = persistent
            .log
            .last()
            .map_or(persistent.base_term, |e| e.term);
        let (term, index) = persistent.repair.unwrap_or_default();
        let lost_term = term.max(reading.newest.0).max(last_term);
        let lost_index = index.max(reading.newest.1).max(last + 1);
        persistent.repair = Some((lost_term, lost_index));
        // The hard state read may be older than the newest entries the file showed (a
        // damaged state frame): the term must not go back behind an entry's. The vote in the
        // newer term is unknown; a repairing replica casts none.
        if persistent.term < lost_term {
            persistent.term = lost_term;
            persistent.voted_for = None;
        }
        Problem::Damaged { offset, reason }
    });
    Ok(Some(Recovered {
        persistent,
        problem,
    }))
}

/// Reads the frames of `bytes` (the file after its header) into `reading`. Returns where it
/// stopped early, why, and whether that was a torn tail (rather than damage).
fn read_frames<E, S>(
    bytes: &[u8],
    reading: &mut Reading<E, S>,
    codec: &dyn Codec<E, S>,
    verify: bool,
) -> Option<(usize, String, bool)> {
    let mut at = 0;
    while at < bytes.len() {
        let reason = match format::frame_checked(&bytes[at..], verify) {
            Frame::Whole(body, total) => {
                match decode(body, codec).and_then(|frame| reading.take(frame)) {
                    Ok(()) => {
                        at += total;
                        continue;
                    }
                    Err(reason) => reason,
                }
            }
            Frame::Partial(needed) => {
                let valid_after = next_valid(bytes, at + 1, codec).is_some();
                if !valid_after {
                    if !verify {
                        keep_torn_entry(&bytes[at..], reading);
                    }
                    let reason = format!("a frame of {needed} bytes cut off by the end");
                    return Some((at, reason, true));
                }
                format!("a frame of {needed} bytes runs past the end, with valid frames after it")
            }
            Frame::Bad(reason) => reason,
        };
        read_after_damage(bytes, at + 1, reading, codec);
        return Some((at, reason, false));
    }
    None
}

/// The first offset from `from` on where a whole, valid, decodable frame starts.
fn next_valid<E, S>(bytes: &[u8], from: usize, codec: &dyn Codec<E, S>) -> Option<usize> {
    (from..bytes.len().saturating_sub(FRAME_HEADER_BYTES)).find(|&start| {
        matches!(format::frame_at(&bytes[start..]),
            Frame::Whole(body, _) if decode(body, codec).is_ok())
    })
}

/// After damage: the valid frames that follow still tell the newest hard state and how far
/// the log went (their entries are not kept).
fn read_after_damage<E, S>(
    bytes: &[u8],
    from: usize,
    reading: &mut Reading<E, S>,
    codec: &dyn Codec<E, S>,
) {
    let mut at = match next_valid(bytes, from, codec) {
        Some(at) => at,
        None => return,
    };
    while let Frame::Whole(body, total) = format::frame_at(&bytes[at..]) {
        match decode(body, codec) {
            Ok(Decoded::State(state)) => reading.set_state(state),
            Ok(Decoded::Entry(index, entry)) => {
                reading.saw(entry.term, index);
            }
            Ok(Decoded::Base(..)) | Err(_) => break,
        }
        at += total;
    }
}

/// The broken variant: a torn entry frame read as far as it reached the disk, its index and
/// term taken at face value, its payload (cut off) read as none.
fn keep_torn_entry<E, S>(torn: &[u8], reading: &mut Reading<E, S>) {
    let body = &torn[FRAME_HEADER_BYTES.min(torn.len())..];
    if body.len() < ENTRY_HEAD_BYTES || body[0] != KIND_ENTRY {
        return;
    }
    let (Ok(index), Ok(term)) = (u64_at(body, 1), u64_at(body, 9)) else {
        return;
    };
    let entry = LogEntry {
        term,
        payload: None,
    };
    let _ = reading.take(Decoded::Entry(index, entry));
}

#[cfg(test)]
mod tests;
