//! A storage node's disk: each replica's persistent state (term, vote, log, snapshot) kept as
//! bytes, one file per partition replica in the engine's replica-log format
//! (`dynasim_engine::replication::log_file`, checksummed frames), on a [`SimDisk`]. What a
//! node recovers after a crash is what it reads back from those bytes: the disk keeps what
//! was synced plus a seeded prefix of the writes since (the last one torn under
//! `torn-write`), and the `corrupt` fault flips a bit in a synced entry, which the checksum
//! finds. The node's replica objects themselves do not survive a crash.

use super::Cmd;
use super::snapshot::{Log, Snap};
use super::txn;
use crate::disk::SimDisk;
use crate::topology::Range;
use dynasim_engine::replication::log_file::{self, Codec, LogFile, Recovered};
use dynasim_engine::storage::Storage;
use dynasim_engine::storage::change::Change;
use dynasim_engine::storage::format::{self, FRAME_HEADER_BYTES, Frame, HEADER_BYTES};
use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

/// How commands and snapshots are written in a replica's log file.
pub struct CmdCodec;

const WRITE: u8 = 1;
const READ: u8 = 2;
const SPLIT: u8 = 3;
const TXN: u8 = 4;

fn put_u64(out: &mut Vec<u8>, n: u64) {
    out.extend_from_slice(&n.to_le_bytes());
}

/// Reads what [`CmdCodec`] wrote, in order.
struct Bytes<'a>(&'a [u8]);

impl<'a> Bytes<'a> {
    fn take(&mut self, n: usize) -> Result<&'a [u8], String> {
        if self.0.len() < n {
            return Err("a command ends early".into());
        }
        let (head, rest) = self.0.split_at(n);
        self.0 = rest;
        Ok(head)
    }

    fn u64(&mut self) -> Result<u64, String> {
        Ok(u64::from_le_bytes(self.take(8)?.try_into().expect("8")))
    }
}

impl Codec<Arc<Cmd>, Arc<Snap>> for CmdCodec {
    fn put_entry(&self, cmd: &Arc<Cmd>, out: &mut Vec<u8>) {
        match &**cmd {
            Cmd::Write {
                key,
                changes,
                now_ms,
            } => {
                out.push(WRITE);
                put_u64(out, *now_ms);
                let key = key.as_deref().map(str::as_bytes);
                put_u64(out, key.map_or(u64::MAX, |k| k.len() as u64));
                out.extend_from_slice(key.unwrap_or_default());
                put_u64(out, changes.len() as u64);
                for change in changes {
                    format::encode_change(out, 0, change);
                }
            }
            Cmd::Read { now_ms } => {
                out.push(READ);
                put_u64(out, *now_ms);
            }
            Cmd::Split {
                mid,
                new_group,
                now_ms,
            } => {
                out.push(SPLIT);
                for n in [*mid, u64::from(*new_group), *now_ms] {
                    put_u64(out, n);
                }
            }
            Cmd::Txn(t) => {
                out.push(TXN);
                txn::encode_cmd(t, out, |out, change| format::encode_change(out, 0, change));
            }
        }
    }

    fn entry(&self, bytes: &[u8]) -> Result<Arc<Cmd>, String> {
        let mut b = Bytes(bytes);
        let cmd = match b.take(1)?[0] {
            WRITE => {
                let now_ms = b.u64()?;
                let key = match b.u64()? {
                    u64::MAX => None,
                    n => Some(
                        String::from_utf8(b.take(n as usize)?.to_vec())
                            .map_err(|_| "a key not in UTF-8")?,
                    ),
                };
                let count = b.u64()?;
                let mut changes = Vec::new();
                for _ in 0..count {
                    changes.push(change(&mut b)?);
                }
                Cmd::Write {
                    key,
                    changes,
                    now_ms,
                }
            }
            READ => Cmd::Read { now_ms: b.u64()? },
            SPLIT => Cmd::Split {
                mid: b.u64()?,
                new_group: u32::try_from(b.u64()?).map_err(|_| "a group beyond u32")?,
                now_ms: b.u64()?,
            },
            TXN => {
                let cmd = txn::decode_cmd(b.0, |bytes| {
                    let mut rest = Bytes(bytes);
                    let c = change(&mut rest)?;
                    Ok((c, bytes.len() - rest.0.len()))
                })?;
                b.0 = &[];
                Cmd::Txn(cmd)
            }
            kind => return Err(format!("an unknown command kind {kind}")),
        };
        if !b.0.is_empty() {
            return Err("bytes after a command".into());
        }
        Ok(Arc::new(cmd))
    }

    fn put_snapshot(&self, snap: &Arc<Snap>, out: &mut Vec<u8>) {
        for n in [snap.range.0, snap.range.1, snap.log_hash] {
            put_u64(out, n);
        }
        txn::encode(snap.txn(), out);
        out.extend_from_slice(snap.bytes());
    }

    fn snapshot(&self, bytes: &[u8]) -> Result<Arc<Snap>, String> {
        let mut b = Bytes(bytes);
        let range: Range = (b.u64()?, b.u64()?);
        let log_hash = b.u64()?;
        let (participant, rest) = txn::decode(b.0)?;
        let snap = Snap::from_parts(rest.to_vec(), range, log_hash, participant);
        Ok(Arc::new(snap))
    }
}

/// One change of a write command: a frame of the data directory's format.
fn change(b: &mut Bytes<'_>) -> Result<Change, String> {
    let (body, total) = match format::frame_at(b.0) {
        Frame::Whole(body, total) => (body, total),
        Frame::Partial(_) => return Err("a change ends early".into()),
        Frame::Bad(reason) => return Err(reason),
    };
    let change = format::decode_body(body)?
        .to_change()
        .ok_or("a snapshot's end inside a command")?;
    b.take(total)?;
    Ok(change)
}

/// The file that holds replica `group`'s state on its node.
fn file_name(group: u32) -> String {
    format!("group-{group:06}.log")
}

/// A storage node's disk and, while the node runs, the writers of its replicas' files.
pub struct NodeDisk {
    disk: SimDisk,
    /// Volatile: lost in a crash, recreated (rewriting each file whole) after recovery.
    files: Mutex<BTreeMap<u32, LogFile>>,
}

impl NodeDisk {
    pub fn new(seed: u64) -> NodeDisk {
        NodeDisk {
            disk: SimDisk::new(seed),
            files: Mutex::new(BTreeMap::new()),
        }
    }

    /// Writes what each replica changed since the last call: new entries (synced only if
    /// `sync_entries`, a disk whose syncs take no time) and changed terms or votes (synced at
    /// once). Called before the node sends anything that depends on them.
    pub fn save(&self, replicas: &BTreeMap<u32, Log>, sync_entries: bool) {
        let mut files = self.files.lock().unwrap();
        for (&group, replica) in replicas {
            let persistent = replica.persistent();
            let saved = match files.get_mut(&group) {
                Some(file) => file.save(&self.disk, persistent, &CmdCodec, sync_entries),
                None => LogFile::create(&self.disk, &file_name(group), persistent, &CmdCodec).map(
                    |file| {
                        files.insert(group, file);
                    },
                ),
            };
            saved.expect("the simulated disk fails no write");
        }
    }

    /// Where a sync that begins now reaches: the writes issued so far.
    pub fn mark(&self) -> u64 {
        self.disk.mark()
    }

    /// A sync of replica `group`'s file that began at `mark` completed: what was written to
    /// the file before it began is durable.
    pub fn sync(&self, group: u32, mark: u64) {
        if self.files.lock().unwrap().contains_key(&group) {
            self.disk
                .sync_through(&file_name(group), mark)
                .expect("the simulated disk fails no sync");
        }
    }

    /// The node went down: the disk keeps its synced bytes and, if `tear` holds the
    /// `torn-write` fault's seed, a prefix of the writes since, the last of them torn (drawn
    /// from the seed and the node); otherwise nothing unsynced survives. The writers are
    /// gone.
    pub fn power_cut(&self, node: usize, tear: Option<u64>) {
        self.files.lock().unwrap().clear();
        match tear {
            Some(seed) => {
                self.disk.set_tearing(true);
                self.disk
                    .reseed(crate::seeds::sub_seed(seed, &format!("node-{node}")));
                self.disk.crash();
            }
            None => {
                self.disk.lose_unsynced();
            }
        }
    }

    /// The `corrupt` fault: flips a bit in the entry frame in the middle of replica `group`'s
    /// file (one the log synced). Returns whether the file had an entry to damage.
    pub fn damage(&self, group: u32) -> bool {
        let name = file_name(group);
        let Ok(len) = self.disk.len(&name) else {
            return false;
        };
        let mut bytes = vec![0u8; len as usize];
        if self.disk.read_at(&name, 0, &mut bytes).is_err() || bytes.len() < HEADER_BYTES {
            return false;
        }
        let entries = log_file::entry_frames(&bytes);
        let Some(&(frame, body)) = entries.get(entries.len() / 2) else {
            return false;
        };
        self.disk
            .corrupt(&name, (frame + FRAME_HEADER_BYTES + body / 2) as u64)
    }

    /// Replica `group`'s persistent state as its file holds it, or `None` without a file.
    /// `verify` false: the broken reader of `torn-entry-kept`.
    pub fn read(&self, group: u32, verify: bool) -> Option<Recovered<Arc<Cmd>, Arc<Snap>>> {
        let name = file_name(group);
        match log_file::recover(&self.disk, &name, &CmdCodec, verify) {
            Ok(recovered) => recovered,
            Err(e) => panic!("a replica log the simulator wrote does not read back: {e}"),
        }
    }
}
