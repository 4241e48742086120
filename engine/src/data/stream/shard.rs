//! A stream's shards and the records they hold: a shard is open while its partition is, and
//! closes when the partition splits or the shard rolls over; records leave it when they are
//! older than the retention.

use crate::types::item::{self, Item};
use std::collections::VecDeque;

/// Which change a record describes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum EventName {
    Insert,
    Modify,
    Remove,
}

impl EventName {
    pub fn name(self) -> &'static str {
        match self {
            EventName::Insert => "INSERT",
            EventName::Modify => "MODIFY",
            EventName::Remove => "REMOVE",
        }
    }
}

/// One stream record, with the images its stream's view type keeps, in the stored item
/// encoding (decoded when a reader asks for it).
#[derive(Clone, Debug, PartialEq)]
pub struct Record {
    pub sequence: u64,
    pub event: EventName,
    pub created_ms: u64,
    pub keys: Box<[u8]>,
    pub new_image: Option<Box<[u8]>>,
    pub old_image: Option<Box<[u8]>>,
    /// Bytes of the keys and images the record carries (its `SizeBytes`).
    pub size_bytes: u64,
    /// Written by a Time to Live deletion (the record then names the service as its author).
    pub by_ttl: bool,
}

impl Record {
    pub fn keys(&self) -> Item {
        item::decode(&self.keys)
    }

    pub fn new_image(&self) -> Option<Item> {
        self.new_image.as_deref().map(item::decode)
    }

    pub fn old_image(&self) -> Option<Item> {
        self.old_image.as_deref().map(item::decode)
    }
}

#[derive(Clone, Debug)]
pub struct Shard {
    pub id: String,
    pub parent: Option<String>,
    /// A sequence number reserved when the shard opened: every record in it is later.
    pub starting: u64,
    /// Set when the shard closed: its last record's sequence number (`starting` if it had none).
    pub ending: Option<u64>,
    pub opened_ms: u64,
    pub closed_ms: Option<u64>,
    /// The records not trimmed yet, oldest first.
    pub(crate) records: VecDeque<Record>,
    /// The highest sequence number trimmed from the shard (0: none yet).
    pub(crate) trimmed_through: u64,
}

impl Shard {
    pub(crate) fn new(id: String, parent: Option<String>, starting: u64, now_ms: u64) -> Shard {
        Shard {
            id,
            parent,
            starting,
            ending: None,
            opened_ms: now_ms,
            closed_ms: None,
            records: VecDeque::new(),
            trimmed_through: 0,
        }
    }

    pub fn is_open(&self) -> bool {
        self.ending.is_none()
    }

    pub(crate) fn close(&mut self, now_ms: u64) {
        let last = self.records.back().map_or(self.starting, |r| r.sequence);
        self.ending = Some(last.max(self.starting));
        self.closed_ms = Some(now_ms);
    }

    /// Drops the records created at or before `cutoff_ms` (older than the retention).
    pub(crate) fn trim(&mut self, cutoff_ms: u64) {
        while let Some(first) = self.records.front() {
            if first.created_ms > cutoff_ms {
                break;
            }
            self.trimmed_through = first.sequence;
            self.records.pop_front();
        }
    }

    /// The sequence number of the last record the shard holds or held.
    pub fn last_sequence(&self) -> Option<u64> {
        self.records
            .back()
            .map(|r| r.sequence)
            .or((self.trimmed_through > 0).then_some(self.trimmed_through))
    }

    /// Whether records at or after `position` were trimmed (a reader there lost data).
    pub fn trimmed_at(&self, position: u64) -> bool {
        self.trimmed_through >= position
    }

    /// The records from `position` on, oldest first.
    pub fn records_from(&self, position: u64) -> impl Iterator<Item = &Record> {
        let start = self.records.partition_point(|r| r.sequence < position);
        self.records.range(start..)
    }

    /// Whether a reader at `position` has read everything the closed shard will ever hold
    /// (an empty closed shard is drained from its start).
    pub fn drained_at(&self, position: u64) -> bool {
        self.ending.is_some() && self.records_from(position).next().is_none()
    }
}
