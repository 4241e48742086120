//! [`SimDisk`]: the engine's storage seam as a faulty disk, seeded. It keeps, per file, what
//! was synced apart from what was only written, so that a [`crash`](SimDisk::crash) does what
//! a power cut does: each file keeps its synced bytes plus a prefix of its unsynced writes, the
//! last of them possibly torn; a file never synced may vanish. It can also fail reads and flip
//! bits in synced data (the medium going bad), which the log's checksums must detect.
//!
//! Everything is deterministic in the seed: the same seed and the same calls give the same
//! files.

use dynasim_engine::storage::Storage;
use rand_chacha::ChaCha8Rng;
use rand_core::{RngCore, SeedableRng};
use std::collections::BTreeMap;
use std::io;
use std::sync::{Mutex, MutexGuard};

#[derive(Debug, Default, Clone)]
struct File {
    /// What a crash keeps; `None`: never synced (a crash may lose the file).
    durable: Option<Vec<u8>>,
    /// Writes since the last sync, in order: (the disk's write sequence, offset, bytes). What reads see is `durable`
    /// with these laid over it; a sync lays them into `durable` (so a sync costs what was
    /// written since the last, not the file's size).
    pending: Vec<(u64, u64, Vec<u8>)>,
}

impl File {
    /// The file's length as reads see it.
    fn len(&self) -> usize {
        let durable = self.durable.as_ref().map_or(0, Vec::len);
        self.pending
            .iter()
            .map(|(_, offset, bytes)| *offset as usize + bytes.len())
            .fold(durable, usize::max)
    }

    /// The bytes reads see, when writes are pending (a copy).
    fn current(&self) -> Vec<u8> {
        let mut data = self.durable.clone().unwrap_or_default();
        for (_, offset, bytes) in &self.pending {
            write_into(&mut data, *offset, bytes);
        }
        data
    }
}

#[derive(Debug)]
struct State {
    files: BTreeMap<String, File>,
    rng: ChaCha8Rng,
    /// The chance, in millionths, that a read fails.
    read_error_ppm: u32,
    /// Whether a crash may tear the last write it keeps (part of it reaches the disk).
    tear: bool,
    /// Writes issued so far, to any file (numbers each write, for [`SimDisk::sync_through`]).
    writes: u64,
}

/// A simulated disk (see the module documentation).
#[derive(Debug)]
pub struct SimDisk {
    state: Mutex<State>,
}

/// What a crash did, for reports and tests.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct CrashReport {
    /// Unsynced writes lost (whole or in part).
    pub writes_lost: usize,
    /// Writes kept only in part.
    pub torn: usize,
    /// Files that vanished (never synced).
    pub files_lost: usize,
}

fn missing(name: &str) -> io::Error {
    io::Error::new(io::ErrorKind::NotFound, format!("no file {name}"))
}

fn write_into(data: &mut Vec<u8>, offset: u64, bytes: &[u8]) {
    let start = offset as usize;
    if data.len() < start + bytes.len() {
        data.resize(start + bytes.len(), 0);
    }
    data[start..start + bytes.len()].copy_from_slice(bytes);
}

impl SimDisk {
    pub fn new(seed: u64) -> SimDisk {
        SimDisk {
            state: Mutex::new(State {
                files: BTreeMap::new(),
                rng: ChaCha8Rng::seed_from_u64(seed),
                read_error_ppm: 0,
                tear: true,
                writes: 0,
            }),
        }
    }

    fn state(&self) -> MutexGuard<'_, State> {
        match self.state.lock() {
            Ok(guard) => guard,
            Err(poisoned) => poisoned.into_inner(),
        }
    }

    /// Reads fail with this probability from now on (0 to stop).
    pub fn set_read_errors(&self, probability: f64) {
        self.state().read_error_ppm = (probability.clamp(0.0, 1.0) * 1e6) as u32;
    }

    /// Draws what the next crashes keep from `seed` from now on.
    pub fn reseed(&self, seed: u64) {
        self.state().rng = ChaCha8Rng::seed_from_u64(seed);
    }

    /// Whether crashes may tear a write (on by default).
    pub fn set_tearing(&self, tear: bool) {
        self.state().tear = tear;
    }

    /// A power cut: every file goes back to its synced bytes plus a seeded prefix of the
    /// writes since, the last kept write possibly torn; files never synced may vanish.
    pub fn crash(&self) -> CrashReport {
        let mut state = self.state();
        let State {
            files, rng, tear, ..
        } = &mut *state;
        let mut report = CrashReport::default();
        let names: Vec<String> = files.keys().cloned().collect();
        for name in names {
            let file = files.get_mut(&name).expect("listed");
            let pending = std::mem::take(&mut file.pending);
            if file.durable.is_none() && rng.next_u32() % 2 == 0 {
                files.remove(&name);
                report.files_lost += 1;
                report.writes_lost += pending.len();
                continue;
            }
            let mut data = file.durable.take().unwrap_or_default();
            let kept = (rng.next_u64() % (pending.len() as u64 + 1)) as usize;
            for (_, offset, bytes) in &pending[..kept] {
                write_into(&mut data, *offset, bytes);
            }
            if let Some((_, offset, bytes)) = pending.get(kept) {
                report.writes_lost += pending.len() - kept;
                if *tear && !bytes.is_empty() {
                    let part = (rng.next_u64() % bytes.len() as u64) as usize;
                    if part > 0 {
                        write_into(&mut data, *offset, &bytes[..part]);
                        report.torn += 1;
                    }
                }
            }
            file.durable = Some(data);
        }
        report
    }

    /// The mark of the writes issued so far: a sync that begins now covers the writes
    /// before it, not those issued while it runs ([`sync_through`](Self::sync_through)).
    pub fn mark(&self) -> u64 {
        self.state().writes
    }

    /// A sync of `name` that began at `mark` completed: the file's writes issued before the
    /// mark are durable (later ones stay pending, as they would if they reached the device
    /// after the flush began).
    pub fn sync_through(&self, name: &str, mark: u64) -> io::Result<()> {
        let mut state = self.state();
        let file = state.files.get_mut(name).ok_or_else(|| missing(name))?;
        let covered = file.pending.partition_point(|(seq, ..)| *seq < mark);
        let mut data = file.durable.take().unwrap_or_default();
        for (_, offset, bytes) in file.pending.drain(..covered) {
            write_into(&mut data, offset, &bytes);
        }
        file.durable = Some(data);
        Ok(())
    }

    /// A crash that keeps exactly what was synced: every write since the last sync of its
    /// file is lost, and files never synced vanish (the `crash` and `power-loss` faults,
    /// whose disks are taken to have lost their caches whole).
    pub fn lose_unsynced(&self) -> CrashReport {
        let mut state = self.state();
        let mut report = CrashReport::default();
        state.files.retain(|_, file| {
            report.writes_lost += file.pending.len();
            file.pending.clear();
            report.files_lost += usize::from(file.durable.is_none());
            file.durable.is_some()
        });
        report
    }

    /// Flips one bit of the synced byte at `offset` of `name` (the medium corrupting data the
    /// log had made durable). Returns false if there is no such byte.
    pub fn corrupt(&self, name: &str, offset: u64) -> bool {
        let mut state = self.state();
        let Some(file) = state.files.get_mut(name) else {
            return false;
        };
        let Some(durable) = &mut file.durable else {
            return false;
        };
        let Some(byte) = durable.get_mut(offset as usize) else {
            return false;
        };
        *byte ^= 0x08;
        // A pending write over the byte hides the flip from reads, as it would on a disk.
        true
    }

    /// The synced length of each file (where corruption may land).
    pub fn synced_lengths(&self) -> BTreeMap<String, u64> {
        self.state()
            .files
            .iter()
            .filter_map(|(n, f)| Some((n.clone(), f.durable.as_ref()?.len() as u64)))
            .collect()
    }
}

impl Storage for SimDisk {
    fn list(&self) -> io::Result<Vec<String>> {
        Ok(self.state().files.keys().cloned().collect())
    }

    fn len(&self, name: &str) -> io::Result<u64> {
        let state = self.state();
        let file = state.files.get(name).ok_or_else(|| missing(name))?;
        Ok(file.len() as u64)
    }

    fn read_at(&self, name: &str, offset: u64, buf: &mut [u8]) -> io::Result<()> {
        let mut state = self.state();
        if state.read_error_ppm > 0 && state.rng.next_u32() % 1_000_000 < state.read_error_ppm {
            return Err(io::Error::other(format!("simulated read error in {name}")));
        }
        let file = state.files.get(name).ok_or_else(|| missing(name))?;
        let start = offset as usize;
        let eof = || io::Error::new(io::ErrorKind::UnexpectedEof, name.to_string());
        if file.pending.is_empty() {
            let data = file.durable.as_deref().unwrap_or_default();
            buf.copy_from_slice(data.get(start..start + buf.len()).ok_or_else(eof)?);
        } else {
            let data = file.current();
            buf.copy_from_slice(data.get(start..start + buf.len()).ok_or_else(eof)?);
        }
        Ok(())
    }

    fn write_at(&self, name: &str, offset: u64, data: &[u8]) -> io::Result<()> {
        let mut state = self.state();
        let seq = state.writes;
        state.writes += 1;
        let file = state.files.entry(name.to_string()).or_default();
        file.pending.push((seq, offset, data.to_vec()));
        Ok(())
    }

    fn sync(&self, name: &str) -> io::Result<()> {
        let mut state = self.state();
        let file = state.files.get_mut(name).ok_or_else(|| missing(name))?;
        let mut data = file.durable.take().unwrap_or_default();
        for (_, offset, bytes) in file.pending.drain(..) {
            write_into(&mut data, offset, &bytes);
        }
        file.durable = Some(data);
        Ok(())
    }

    fn truncate(&self, name: &str, len: u64) -> io::Result<()> {
        let mut state = self.state();
        let file = state.files.get_mut(name).ok_or_else(|| missing(name))?;
        let mut data = file.current();
        data.truncate(len as usize);
        file.pending.clear();
        file.durable = Some(data);
        Ok(())
    }

    fn rename(&self, from: &str, to: &str) -> io::Result<()> {
        let mut state = self.state();
        let file = state.files.remove(from).ok_or_else(|| missing(from))?;
        state.files.insert(to.to_string(), file);
        Ok(())
    }

    fn remove(&self, name: &str) -> io::Result<()> {
        self.state().files.remove(name);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_sync_covers_the_writes_issued_before_it_began() {
        let disk = SimDisk::new(2);
        disk.write_at("f", 0, b"before").unwrap();
        let mark = disk.mark();
        disk.write_at("f", 6, b"-during").unwrap();
        disk.sync_through("f", mark).unwrap();
        disk.lose_unsynced();
        let mut data = vec![0; disk.len("f").unwrap() as usize];
        disk.read_at("f", 0, &mut data).unwrap();
        assert_eq!(data, b"before");
    }

    #[test]
    fn losing_the_unsynced_writes_keeps_exactly_what_was_synced() {
        let disk = SimDisk::new(1);
        disk.write_at("f", 0, b"synced").unwrap();
        disk.sync("f").unwrap();
        disk.write_at("f", 6, b"-lost").unwrap();
        disk.write_at("f", 0, b"S").unwrap();
        disk.write_at("g", 0, b"never synced").unwrap();
        let report = disk.lose_unsynced();
        assert_eq!((report.writes_lost, report.files_lost), (3, 1));
        let mut data = vec![0; disk.len("f").unwrap() as usize];
        disk.read_at("f", 0, &mut data).unwrap();
        assert_eq!(data, b"synced");
        assert_eq!(disk.len("g").unwrap_err().kind(), io::ErrorKind::NotFound);
    }

    #[test]
    fn a_crash_keeps_what_was_synced_and_a_prefix_of_the_rest() {
        for seed in 0..50 {
            let disk = SimDisk::new(seed);
            disk.write_at("f", 0, b"synced").unwrap();
            disk.sync("f").unwrap();
            disk.write_at("f", 6, b"-one").unwrap();
            disk.write_at("f", 10, b"-two").unwrap();
            disk.write_at("g", 0, b"never synced").unwrap();
            let report = disk.crash();
            let mut data = vec![0; disk.len("f").unwrap() as usize];
            disk.read_at("f", 0, &mut data).unwrap();
            assert!(data.starts_with(b"synced"), "seed {seed}: {data:?}");
            assert!(
                b"synced-one-two".starts_with(&data),
                "a prefix, torn at most at the end"
            );
            assert!(report.writes_lost <= 3);
            // What survives a crash is durable: a second crash keeps it.
            disk.crash();
            assert_eq!(disk.len("f").unwrap() as usize, data.len());
        }
    }

    #[test]
    fn corruption_and_read_errors_are_visible() {
        let disk = SimDisk::new(1);
        disk.write_at("f", 0, &[0u8; 8]).unwrap();
        disk.sync("f").unwrap();
        assert!(disk.corrupt("f", 3));
        assert!(!disk.corrupt("f", 8), "only bytes that exist");
        let mut data = [0u8; 8];
        disk.read_at("f", 0, &mut data).unwrap();
        assert_eq!(data[3], 0x08);
        disk.set_read_errors(1.0);
        assert!(disk.read_at("f", 0, &mut data).is_err());
    }
}
