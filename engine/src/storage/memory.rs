//! [`MemStorage`]: files in memory, every write durable at once. For tests and for hosts that
//! want the log's behaviour without a disk; it never loses or tears anything, so crash tests
//! use the simulator's faulty disk instead.

use super::Storage;
use std::collections::BTreeMap;
use std::io;
use std::sync::Mutex;

#[derive(Debug, Default)]
pub struct MemStorage {
    files: Mutex<BTreeMap<String, Vec<u8>>>,
}

impl MemStorage {
    pub fn new() -> MemStorage {
        MemStorage::default()
    }

    fn files(&self) -> std::sync::MutexGuard<'_, BTreeMap<String, Vec<u8>>> {
        match self.files.lock() {
            Ok(guard) => guard,
            Err(poisoned) => poisoned.into_inner(),
        }
    }

    /// The whole content of file `name`, if it exists (for tests that damage files).
    pub fn contents(&self, name: &str) -> Option<Vec<u8>> {
        self.files().get(name).cloned()
    }

    /// Replaces the content of file `name` (for tests that damage files).
    pub fn set_contents(&self, name: &str, data: Vec<u8>) {
        self.files().insert(name.to_string(), data);
    }
}

fn missing(name: &str) -> io::Error {
    io::Error::new(io::ErrorKind::NotFound, format!("no file {name}"))
}

impl Storage for MemStorage {
    fn list(&self) -> io::Result<Vec<String>> {
        Ok(self.files().keys().cloned().collect())
    }

    fn len(&self, name: &str) -> io::Result<u64> {
        self.files()
            .get(name)
            .map(|f| f.len() as u64)
            .ok_or_else(|| missing(name))
    }

    fn read_at(&self, name: &str, offset: u64, buf: &mut [u8]) -> io::Result<()> {
        let files = self.files();
        let file = files.get(name).ok_or_else(|| missing(name))?;
        let start = usize::try_from(offset).map_err(|_| missing(name))?;
        let end = start.checked_add(buf.len()).filter(|&e| e <= file.len());
        let Some(end) = end else {
            return Err(io::Error::new(
                io::ErrorKind::UnexpectedEof,
                format!("{name} is shorter than {} bytes", start + buf.len()),
            ));
        };
        buf.copy_from_slice(&file[start..end]);
        Ok(())
    }

    fn write_at(&self, name: &str, offset: u64, data: &[u8]) -> io::Result<()> {
        let mut files = self.files();
        let file = files.entry(name.to_string()).or_default();
        let start = usize::try_from(offset).map_err(|_| missing(name))?;
        if file.len() < start + data.len() {
            file.resize(start + data.len(), 0);
        }
        file[start..start + data.len()].copy_from_slice(data);
        Ok(())
    }

    fn sync(&self, name: &str) -> io::Result<()> {
        if self.files().contains_key(name) {
            Ok(())
        } else {
            Err(missing(name))
        }
    }

    fn truncate(&self, name: &str, len: u64) -> io::Result<()> {
        let mut files = self.files();
        let file = files.get_mut(name).ok_or_else(|| missing(name))?;
        file.truncate(usize::try_from(len).unwrap_or(usize::MAX));
        Ok(())
    }

    fn rename(&self, from: &str, to: &str) -> io::Result<()> {
        let mut files = self.files();
        let data = files.remove(from).ok_or_else(|| missing(from))?;
        files.insert(to.to_string(), data);
        Ok(())
    }

    fn remove(&self, name: &str) -> io::Result<()> {
        self.files().remove(name);
        Ok(())
    }
}
