//! Group commit for `serve --data-dir`: requests append their changes to the log under the
//! engine's lock (so the log's order is the engine's), and wait outside it until a sync that
//! began after their append has returned. One sync at a time runs on a blocking thread and
//! covers every append made before it began, so concurrent writers share syncs.
//!
//! A snapshot is encoded under the engine's lock (its bytes must be the engine as it is at
//! one lsn) and written on a thread of its own while requests go on appending to the new
//! segment; until it is in place the previous snapshot and the old segments stay, so a crash
//! meanwhile recovers from them. One snapshot is written at a time.
//!
//! Every answer waits, reads included: a read must not show a write that a crash could still
//! take back. A failed append or sync stops the service (every later request answers an
//! InternalServerError): the engine's memory then holds a change the log may lack, and
//! answering from it could acknowledge what a restart loses.

use dynasim_engine::Engine;
use dynasim_engine::storage::Storage;
use dynasim_engine::storage::durable::{Durable, PendingSnapshot};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, OnceLock};

pub struct Durability {
    log: Mutex<Durable>,
    /// Every change below this lsn is durable.
    durable_lsn: AtomicU64,
    /// Held by the one sync in progress.
    gate: tokio::sync::Mutex<()>,
    /// Why the log stopped working, once it has.
    failed: OnceLock<String>,
    /// The thread writing a snapshot, while one is.
    writer: Mutex<Option<std::thread::JoinHandle<std::io::Result<u64>>>>,
}

fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    match mutex.lock() {
        Ok(guard) => guard,
        Err(poisoned) => poisoned.into_inner(),
    }
}

impl Durability {
    pub fn new(log: Durable) -> Durability {
        let durable_lsn = AtomicU64::new(log.next_lsn());
        Durability {
            log: Mutex::new(log),
            durable_lsn,
            gate: tokio::sync::Mutex::new(()),
            failed: OnceLock::new(),
            writer: Mutex::new(None),
        }
    }

    pub fn failure(&self) -> Option<&str> {
        self.failed.get().map(String::as_str)
    }

    fn fail(&self, what: &str, error: &std::io::Error) {
        let message = format!("{what}: {error}");
        if self.failed.set(message.clone()).is_ok() {
            eprintln!(
                "dynasim: the data directory failed ({message}); answering errors from now on"
            );
        }
    }

    /// Appends what `engine` changed (the caller holds the engine's lock), taking a snapshot
    /// when one is due. Returns the lsn the answer must wait for, or `None` once failed.
    pub fn append(&self, engine: &mut Engine) -> Option<u64> {
        if self.failed.get().is_some() {
            return None;
        }
        let mut log = lock(&self.log);
        let lsn = match log.append(engine) {
            Ok(lsn) => lsn,
            Err(error) => {
                self.fail("cannot append to the log", &error);
                return None;
            }
        };
        if !self.collect_snapshot(&mut log, false) {
            return None;
        }
        if log.snapshot_due() {
            match log.begin_snapshot(engine) {
                Ok(pending) => {
                    // The snapshot's start synced the log.
                    self.durable_lsn.fetch_max(lsn, Ordering::AcqRel);
                    self.write_snapshot(&mut log, pending);
                }
                Err(error) => {
                    self.fail("cannot write a snapshot", &error);
                    return None;
                }
            }
        }
        (self.failed.get().is_none()).then_some(lsn)
    }

    /// Puts a begun snapshot on disk: on a thread of its own, or here in the simulator
    /// (which forbids threads; its storage is memory).
    fn write_snapshot(&self, log: &mut Durable, pending: PendingSnapshot) {
        #[cfg(not(madsim))]
        {
            let thread = std::thread::Builder::new()
                .name(format!("dynasim-snapshot-{}", pending.lsn()))
                .spawn(move || pending.write());
            match thread {
                Ok(handle) => *lock(&self.writer) = Some(handle),
                Err(error) => {
                    log.snapshot_written(log.snapshot_bytes());
                    self.fail("cannot start the snapshot's writer", &error);
                }
            }
        }
        #[cfg(madsim)]
        match pending.write() {
            Ok(bytes) => log.snapshot_written(bytes),
            Err(error) => {
                log.snapshot_written(log.snapshot_bytes());
                self.fail("cannot write a snapshot", &error);
            }
        }
    }

    /// Takes the result of the snapshot being written, once it is (at once if `wait`).
    /// Returns `false` if writing it failed (the service then stops).
    fn collect_snapshot(&self, log: &mut Durable, wait: bool) -> bool {
        let mut writer = lock(&self.writer);
        let finished = writer.as_ref().is_some_and(|h| wait || h.is_finished());
        let Some(handle) = writer.take_if(|_| finished) else {
            return true;
        };
        let result = handle
            .join()
            .unwrap_or_else(|_| Err(std::io::Error::other("the snapshot's writer panicked")));
        match result {
            Ok(bytes) => {
                log.snapshot_written(bytes);
                true
            }
            Err(error) => {
                log.snapshot_written(log.snapshot_bytes());
                self.fail("cannot write a snapshot", &error);
                false
            }
        }
    }

    /// Takes a snapshot now (at shutdown, so that the next start replays nothing).
    pub fn snapshot(&self, engine: &Engine) {
        if self.failed.get().is_some() {
            return;
        }
        let mut log = lock(&self.log);
        if !self.collect_snapshot(&mut log, true) {
            return;
        }
        match log.snapshot(engine) {
            Ok(()) => {
                self.durable_lsn.fetch_max(log.next_lsn(), Ordering::AcqRel);
            }
            Err(error) => self.fail("cannot write a snapshot", &error),
        }
    }

    /// What a sync must cover: the storage, the segment, and the lsn after the last append.
    fn sync_target(&self) -> (Arc<dyn Storage>, String, u64) {
        let log = lock(&self.log);
        (
            log.storage().clone(),
            log.segment().to_string(),
            log.next_lsn(),
        )
    }

    fn synced(&self, target: u64, result: std::io::Result<()>) -> bool {
        match result {
            Ok(()) => {
                self.durable_lsn.fetch_max(target, Ordering::AcqRel);
                true
            }
            // A snapshot that rotated the segment away made everything durable already.
            Err(_) if self.durable_lsn.load(Ordering::Acquire) >= target => true,
            Err(error) => {
                self.fail("cannot sync the log", &error);
                false
            }
        }
    }

    /// Waits until every change below `lsn` is durable; `false` if the log failed.
    pub async fn wait(&self, lsn: u64) -> bool {
        loop {
            if self.failed.get().is_some() {
                return false;
            }
            if self.durable_lsn.load(Ordering::Acquire) >= lsn {
                return true;
            }
            let _gate = self.gate.lock().await;
            if self.durable_lsn.load(Ordering::Acquire) >= lsn {
                return true;
            }
            let (storage, segment, target) = self.sync_target();
            #[cfg(not(madsim))]
            let result = tokio::task::spawn_blocking(move || storage.sync(&segment))
                .await
                .unwrap_or_else(|e| Err(std::io::Error::other(e.to_string())));
            // The simulator forbids blocking threads; its storage is memory, which never blocks.
            #[cfg(madsim)]
            let result = storage.sync(&segment);
            self.synced(target, result);
        }
    }

    /// [`wait`](Self::wait) for callers outside a runtime: syncs on this thread.
    pub fn wait_blocking(&self, lsn: u64) -> bool {
        if self.failed.get().is_some() {
            return false;
        }
        if self.durable_lsn.load(Ordering::Acquire) >= lsn {
            return true;
        }
        let (storage, segment, target) = self.sync_target();
        let result = storage.sync(&segment);
        self.synced(target, result) && self.durable_lsn.load(Ordering::Acquire) >= lsn
    }
}
