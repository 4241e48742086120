//! [`FileStorage`]: the engine's storage seam on a directory of real files, for
//! `serve --data-dir`, with a lock file so that two servers never share a directory.

use dynasim_engine::storage::Storage;
use std::collections::{BTreeMap, BTreeSet};
use std::fs::{self, File, OpenOptions};
use std::io;
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, MutexGuard};

/// The lock file's name: held (`flock`) while a server uses the directory.
pub const LOCK_FILE: &str = "LOCK";

pub struct FileStorage {
    dir: PathBuf,
    /// Open files by name; a file is opened once and shared by appends and syncs.
    files: Mutex<BTreeMap<String, Arc<File>>>,
    /// Files created since the directory was last synced: their names are durable only after.
    created: Mutex<BTreeSet<String>>,
    /// Held for the server's lifetime; the lock goes with it.
    _lock: File,
}

fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    match mutex.lock() {
        Ok(guard) => guard,
        Err(poisoned) => poisoned.into_inner(),
    }
}

impl FileStorage {
    /// Opens (creating it if needed) the data directory `dir` and takes its lock. The error
    /// says what is wrong, for the command line.
    pub fn open(dir: &Path) -> Result<FileStorage, String> {
        fs::create_dir_all(dir)
            .map_err(|e| format!("cannot create the data directory {}: {e}", dir.display()))?;
        let lock_path = dir.join(LOCK_FILE);
        let lock_file = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .open(&lock_path)
            .map_err(|e| format!("cannot open {}: {e}", lock_path.display()))?;
        match lock_file.try_lock() {
            Ok(()) => {}
            Err(fs::TryLockError::WouldBlock) => {
                return Err(format!(
                    "another dynasim is using the data directory {} (it holds {}); stop it \
                     or choose another directory",
                    dir.display(),
                    lock_path.display()
                ));
            }
            Err(fs::TryLockError::Error(e)) => {
                return Err(format!("cannot lock {}: {e}", lock_path.display()));
            }
        }
        let _ = lock_file.set_len(0);
        let _ = lock_file.write_at(format!("{}\n", std::process::id()).as_bytes(), 0);
        Ok(FileStorage {
            dir: dir.to_path_buf(),
            files: Mutex::new(BTreeMap::new()),
            created: Mutex::new(BTreeSet::new()),
            _lock: lock_file,
        })
    }

    fn path(&self, name: &str) -> PathBuf {
        assert!(
            !name.is_empty() && !name.contains(['/', '\\']) && name != "." && name != "..",
            "storage file names are plain names, not {name:?}"
        );
        self.dir.join(name)
    }

    fn file(&self, name: &str, create: bool) -> io::Result<Arc<File>> {
        if let Some(file) = lock(&self.files).get(name) {
            return Ok(file.clone());
        }
        let path = self.path(name);
        let existed = path.exists();
        let file = OpenOptions::new()
            .read(true)
            .write(true)
            .create(create)
            .truncate(false)
            .open(&path)?;
        if !existed {
            lock(&self.created).insert(name.to_string());
        }
        let file = Arc::new(file);
        lock(&self.files).insert(name.to_string(), file.clone());
        Ok(file)
    }

    fn sync_dir(&self) -> io::Result<()> {
        File::open(&self.dir)?.sync_all()
    }

    fn forget(&self, name: &str) {
        lock(&self.files).remove(name);
        lock(&self.created).remove(name);
    }
}

impl Storage for FileStorage {
    fn list(&self) -> io::Result<Vec<String>> {
        let mut names = Vec::new();
        for entry in fs::read_dir(&self.dir)? {
            let entry = entry?;
            if !entry.file_type()?.is_file() {
                continue;
            }
            if let Some(name) = entry.file_name().to_str()
                && name != LOCK_FILE
            {
                names.push(name.to_string());
            }
        }
        names.sort();
        Ok(names)
    }

    fn len(&self, name: &str) -> io::Result<u64> {
        Ok(self.file(name, false)?.metadata()?.len())
    }

    fn read_at(&self, name: &str, offset: u64, buf: &mut [u8]) -> io::Result<()> {
        self.file(name, false)?.read_exact_at(buf, offset)
    }

    fn write_at(&self, name: &str, offset: u64, data: &[u8]) -> io::Result<()> {
        self.file(name, true)?.write_all_at(data, offset)
    }

    fn sync(&self, name: &str) -> io::Result<()> {
        self.file(name, false)?.sync_data()?;
        let created = lock(&self.created).remove(name);
        if created {
            self.sync_dir()?;
        }
        Ok(())
    }

    fn truncate(&self, name: &str, len: u64) -> io::Result<()> {
        let file = self.file(name, false)?;
        file.set_len(len)?;
        file.sync_all()
    }

    fn rename(&self, from: &str, to: &str) -> io::Result<()> {
        self.forget(from);
        self.forget(to);
        fs::rename(self.path(from), self.path(to))?;
        self.sync_dir()
    }

    fn remove(&self, name: &str) -> io::Result<()> {
        self.forget(name);
        match fs::remove_file(self.path(name)) {
            Ok(()) => {}
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(()),
            Err(e) => return Err(e),
        }
        self.sync_dir()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn temporary(name: &str) -> PathBuf {
        let dir = std::env::temp_dir().join(format!("dynasim-{name}-{}", std::process::id()));
        let _ = fs::remove_dir_all(&dir);
        dir
    }

    #[test]
    fn a_second_server_on_the_same_directory_is_refused() {
        let dir = temporary("lock");
        let first = FileStorage::open(&dir).unwrap();
        let error = FileStorage::open(&dir).err().unwrap();
        assert!(
            error.contains("another dynasim is using the data directory"),
            "{error}"
        );
        drop(first);
        assert!(
            FileStorage::open(&dir).is_ok(),
            "the lock goes with the server"
        );
        let _ = fs::remove_dir_all(&dir);
    }

    #[test]
    fn files_hold_bytes_at_offsets() {
        let dir = temporary("files");
        let storage = FileStorage::open(&dir).unwrap();
        storage.write_at("a", 4, b"xyz").unwrap();
        storage.sync("a").unwrap();
        assert_eq!(storage.len("a").unwrap(), 7);
        let mut buf = [9u8; 7];
        storage.read_at("a", 0, &mut buf).unwrap();
        assert_eq!(&buf, b"\0\0\0\0xyz");
        assert!(storage.read_at("a", 5, &mut buf).is_err(), "past the end");
        storage.rename("a", "b").unwrap();
        assert_eq!(storage.list().unwrap(), vec!["b".to_string()]);
        storage.truncate("b", 2).unwrap();
        assert_eq!(storage.len("b").unwrap(), 2);
        storage.remove("b").unwrap();
        storage.remove("b").unwrap();
        assert!(storage.list().unwrap().is_empty());
        assert!(storage.len("b").is_err());
        let _ = fs::remove_dir_all(&dir);
    }
}
