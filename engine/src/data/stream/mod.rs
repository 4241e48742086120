//! DynamoDB Streams: a table's item changes as records in shards that follow its partitions.
//!
//! A `Stream` belongs to its table while the table exists (`Table::apply` appends to it, the
//! one place items change) and outlives it for the retention period. Each partition has one
//! open shard; a split closes the parent's shard and opens one for each half, and an open
//! shard rolls over (closes, with one child) after `Limits::stream_shard_rollover_ms`.
//! Sequence numbers come from one counter per stream, so they increase within a shard and a
//! child's are above its parent's. Records and shards are a function of the changes and of
//! time only: trimming and rollover happen at fixed times whenever they are noticed.

pub mod iterator;
pub mod shard;
pub mod time;

use crate::limits::Limits;
use crate::types::item::{self, Item, item_size_bytes};
use crate::types::keys::KeySchema;
use shard::{EventName, Record, Shard};
use std::collections::BTreeMap;

/// What a stream record keeps of the item (StreamViewType).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ViewType {
    KeysOnly,
    NewImage,
    OldImage,
    NewAndOldImages,
}

impl ViewType {
    /// The names, in the order DynamoDB's enumeration constraint lists them.
    pub const NAMES: [&'static str; 4] =
        ["NEW_IMAGE", "OLD_IMAGE", "NEW_AND_OLD_IMAGES", "KEYS_ONLY"];

    pub fn name(self) -> &'static str {
        match self {
            ViewType::KeysOnly => "KEYS_ONLY",
            ViewType::NewImage => "NEW_IMAGE",
            ViewType::OldImage => "OLD_IMAGE",
            ViewType::NewAndOldImages => "NEW_AND_OLD_IMAGES",
        }
    }

    pub fn from_name(name: &str) -> Option<ViewType> {
        [
            ViewType::KeysOnly,
            ViewType::NewImage,
            ViewType::OldImage,
            ViewType::NewAndOldImages,
        ]
        .into_iter()
        .find(|v| v.name() == name)
    }

    fn keeps_new(self) -> bool {
        matches!(self, ViewType::NewImage | ViewType::NewAndOldImages)
    }

    fn keeps_old(self) -> bool {
        matches!(self, ViewType::OldImage | ViewType::NewAndOldImages)
    }
}

/// Who made a change, as the stream sees it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Origin {
    /// A client's request: one record per change.
    Request,
    /// A Time to Live deletion: a REMOVE record naming the service.
    TimeToLive,
    /// Storage moving or restoring items (a host's split, recovery): no record.
    Storage,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum StreamStatus {
    Enabling,
    Enabled,
    Disabling,
    Disabled,
}

impl StreamStatus {
    pub fn name(self) -> &'static str {
        match self {
            StreamStatus::Enabling => "ENABLING",
            StreamStatus::Enabled => "ENABLED",
            StreamStatus::Disabling => "DISABLING",
            StreamStatus::Disabled => "DISABLED",
        }
    }
}

/// Sequence numbers are rendered as this plus the stream's counter: 21 digits, numeric only,
/// as DynamoDB's are (21 to 40 characters).
const SEQUENCE_BASE: u128 = 100_000_000_000_000_000_000;

/// A sequence number as the wire shows it.
pub fn render_sequence(sequence: u64) -> String {
    (SEQUENCE_BASE + u128::from(sequence)).to_string()
}

/// The counter value a client's sequence number names, if it is one this engine could have
/// issued (the caller has checked it is 21 to 40 digits).
pub fn parse_sequence(text: &str) -> Option<u64> {
    let value: u128 = text.parse().ok()?;
    u64::try_from(value.checked_sub(SEQUENCE_BASE)?).ok()
}

/// Records created at or before this are past the retention at `now_ms` (none before the
/// first retention period has passed).
fn retention_cutoff(now_ms: u64, limits: &Limits) -> Option<u64> {
    now_ms.checked_sub(limits.stream_retention_ms)
}

#[derive(Clone, Debug)]
pub struct Stream {
    pub arn: String,
    pub label: String,
    pub view_type: ViewType,
    pub table_name: String,
    pub key_schema: KeySchema,
    pub created_ms: u64,
    /// The stream shows ENABLING until then (the table's update time).
    pub enabling_until_ms: u64,
    /// When the stream was disabled (or its table deleted): it shows DISABLING for
    /// `disabling_ms`, then DISABLED, and is gone after the retention period.
    pub disabled: Option<(u64, u64)>,
    shards: Vec<Shard>,
    /// The open shard of each partition (by partition id), as an index into `shards`.
    open: BTreeMap<u64, usize>,
    /// The last sequence number handed out (to a record or to a shard's start).
    sequence: u64,
    /// The label's time: a later stream of the table takes a later one.
    pub label_ms: u64,
    /// How long an open shard stays open (`Limits::stream_shard_rollover_ms`, fixed at creation).
    rollover_ms: u64,
    /// The earliest rollover of an open shard (`u64::MAX`: none open).
    next_rollover_ms: u64,
    /// Shards dropped after the retention, by id, with their starting sequence number: a
    /// DescribeStream page that starts after one still continues where it was.
    dropped: BTreeMap<String, (u64, u64)>,
}

impl Stream {
    /// A new stream on `table_name` with one open shard for each of `partitions`.
    #[allow(clippy::too_many_arguments)]
    pub fn new(
        table_arn: &str,
        table_name: &str,
        key_schema: &KeySchema,
        view_type: ViewType,
        partitions: impl IntoIterator<Item = u64>,
        label_ms: u64,
        now_ms: u64,
        enabling_until_ms: u64,
        rollover_ms: u64,
    ) -> Stream {
        let label = time::label(label_ms);
        let mut stream = Stream {
            arn: format!("{table_arn}/stream/{label}"),
            label,
            view_type,
            table_name: table_name.to_string(),
            key_schema: key_schema.clone(),
            created_ms: now_ms,
            enabling_until_ms,
            disabled: None,
            shards: Vec::new(),
            open: BTreeMap::new(),
            sequence: 0,
            label_ms,
            rollover_ms: rollover_ms.max(1),
            next_rollover_ms: u64::MAX,
            dropped: BTreeMap::new(),
        };
        for partition in partitions {
            stream.open_shard(partition, None, now_ms);
        }
        stream
    }

    pub fn status(&self, now_ms: u64) -> StreamStatus {
        match self.disabled {
            Some((at, disabling_ms)) if now_ms < at.saturating_add(disabling_ms) => {
                StreamStatus::Disabling
            }
            Some(_) => StreamStatus::Disabled,
            None if now_ms < self.enabling_until_ms => StreamStatus::Enabling,
            None => StreamStatus::Enabled,
        }
    }

    pub fn is_enabled(&self) -> bool {
        self.disabled.is_none()
    }

    /// Stops recording: every open shard closes. The records stay readable for the retention.
    pub fn disable(&mut self, now_ms: u64, disabling_ms: u64, limits: &Limits) {
        if self.disabled.is_some() {
            return;
        }
        self.advance(now_ms, limits);
        for (_, index) in std::mem::take(&mut self.open) {
            self.shards[index].close(now_ms);
        }
        self.recompute_next_rollover();
        self.disabled = Some((now_ms, disabling_ms));
    }

    /// Whether the stream is past its retention and gone (its ARN no longer known).
    pub fn expired(&self, now_ms: u64, limits: &Limits) -> bool {
        self.disabled
            .is_some_and(|(at, _)| now_ms >= at.saturating_add(limits.stream_retention_ms))
    }

    fn open_shard(&mut self, partition: u64, parent: Option<String>, now_ms: u64) {
        self.sequence += 1;
        // The starting sequence number is unique in the stream, and the ARN across streams.
        let digest =
            xxhash_rust::xxh3::xxh3_64(format!("{}\0{}", self.arn, self.sequence).as_bytes());
        let id = format!("shardId-{now_ms:020}-{:08x}", digest as u32);
        self.shards
            .push(Shard::new(id, parent, self.sequence, now_ms));
        self.open.insert(partition, self.shards.len() - 1);
        self.next_rollover_ms = self
            .next_rollover_ms
            .min(now_ms.saturating_add(self.rollover_ms));
    }

    /// The earliest rollover of an open shard, after the open shards changed.
    fn recompute_next_rollover(&mut self) {
        self.next_rollover_ms = self
            .open
            .values()
            .map(|&i| self.shards[i].opened_ms.saturating_add(self.rollover_ms))
            .min()
            .unwrap_or(u64::MAX);
    }

    /// Closes partition `parent`'s open shard and opens one for each half of its split (the
    /// lower half keeps the partition's id, the upper half is `upper`).
    pub fn split(&mut self, parent: u64, upper: u64, now_ms: u64, limits: &Limits) {
        if self.disabled.is_some() {
            return;
        }
        self.advance(now_ms, limits);
        let Some(index) = self.open.remove(&parent) else {
            return;
        };
        self.shards[index].close(now_ms);
        let id = self.shards[index].id.clone();
        self.open_shard(parent, Some(id.clone()), now_ms);
        self.open_shard(upper, Some(id), now_ms);
        self.recompute_next_rollover();
    }

    /// Rolls over open shards whose interval ended by `now_ms` (each closes at the end of its
    /// interval and one child opens then), and drops records past the retention.
    pub fn advance(&mut self, now_ms: u64, limits: &Limits) {
        let rollover = self.rollover_ms;
        if self.disabled.is_none() && now_ms >= self.next_rollover_ms {
            let due: Vec<(u64, usize)> = self
                .open
                .iter()
                .filter(|&(_, &i)| self.shards[i].opened_ms.saturating_add(rollover) <= now_ms)
                .map(|(&p, &i)| (p, i))
                .collect();
            for (partition, mut index) in due {
                while self.shards[index].opened_ms.saturating_add(rollover) <= now_ms {
                    let at = self.shards[index].opened_ms + rollover;
                    self.shards[index].close(at);
                    let parent = self.shards[index].id.clone();
                    self.open_shard(partition, Some(parent), at);
                    index = self.open[&partition];
                }
            }
            self.recompute_next_rollover();
        }
        if let Some(cutoff) = retention_cutoff(now_ms, limits) {
            for shard in &mut self.shards {
                shard.trim(cutoff);
            }
            self.drop_expired_shards(cutoff, now_ms);
        }
    }

    /// Drops the closed shards whose records are all trimmed and that closed at or before
    /// `cutoff` (more than the retention ago): DescribeStream lists them no more.
    fn drop_expired_shards(&mut self, cutoff: u64, now_ms: u64) {
        self.dropped.retain(|_, &mut (_, at)| at > cutoff);
        let expired = |s: &Shard| s.closed_ms.is_some_and(|c| c <= cutoff) && s.records.is_empty();
        if !self.shards.iter().any(expired) {
            return;
        }
        let open: Vec<(u64, String)> = self
            .open
            .iter()
            .map(|(&p, &i)| (p, self.shards[i].id.clone()))
            .collect();
        for shard in self.shards.iter().filter(|s| expired(s)) {
            self.dropped
                .insert(shard.id.clone(), (shard.starting, now_ms));
        }
        self.shards.retain(|s| !expired(s));
        self.open = open
            .into_iter()
            .map(|(p, id)| {
                let index = self.shards.iter().position(|s| s.id == id);
                (p, index.expect("open shards are never dropped"))
            })
            .collect();
    }

    /// When `advance` next has something to do: the earliest rollover of an open shard.
    pub fn next_due_ms(&self) -> Option<u64> {
        (self.next_rollover_ms < u64::MAX).then_some(self.next_rollover_ms)
    }

    /// Appends the record of a change to an item (`before` and `after` its images) to the
    /// open shard of `partition`. A change that changes nothing writes none.
    pub fn append(
        &mut self,
        partition: u64,
        before: Option<&Item>,
        after: Option<&Item>,
        origin: Origin,
        now_ms: u64,
        limits: &Limits,
    ) {
        let event = match (before, after) {
            _ if origin == Origin::Storage || self.disabled.is_some() => return,
            (None, None) => return,
            (Some(old), Some(new)) if old == new => return,
            (None, Some(_)) => EventName::Insert,
            (Some(_), Some(_)) => EventName::Modify,
            (Some(_), None) => EventName::Remove,
        };
        // Every rollover due by now first, whichever partition it is on: a shard's starting
        // number depends only on the changes and the time.
        if now_ms >= self.next_rollover_ms {
            self.advance(now_ms, limits);
        }
        if !self.open.contains_key(&partition) {
            self.open_shard(partition, None, now_ms);
        }
        let keys = self.key_schema.key_of(after.or(before).expect("an image"));
        let view = self.view_type;
        let new_image = after.filter(|_| view.keeps_new());
        let old_image = before.filter(|_| view.keeps_old());
        let size_bytes = [Some(&keys), new_image, old_image]
            .into_iter()
            .flatten()
            .map(|i| item_size_bytes(i) as u64)
            .sum();
        self.sequence += 1;
        let record = Record {
            sequence: self.sequence,
            event,
            created_ms: now_ms,
            keys: item::encode(&keys),
            new_image: new_image.map(item::encode),
            old_image: old_image.map(item::encode),
            size_bytes,
            by_ttl: origin == Origin::TimeToLive,
        };
        let shard = &mut self.shards[self.open[&partition]];
        if let Some(cutoff) = retention_cutoff(now_ms, limits) {
            shard.trim(cutoff);
        }
        shard.records.push_back(record);
    }

    /// The shards, oldest first (parents before their children).
    pub fn shards(&self) -> &[Shard] {
        &self.shards
    }

    pub fn shard(&self, id: &str) -> Option<&Shard> {
        self.shards.iter().find(|s| s.id == id)
    }

    /// The starting sequence number of shard `id`, listed or dropped within the last
    /// retention period (DescribeStream pages after it).
    pub fn shard_starting(&self, id: &str) -> Option<u64> {
        self.shard(id)
            .map(|s| s.starting)
            .or_else(|| self.dropped.get(id).map(|&(starting, _)| starting))
    }

    /// The last sequence number handed out: a LATEST iterator reads from the one after it.
    pub fn last_sequence(&self) -> u64 {
        self.sequence
    }

    /// The record's globally unique event id (32 hexadecimal digits).
    pub fn event_id(&self, record: &Record) -> String {
        let digest =
            xxhash_rust::xxh3::xxh3_128(format!("{}\0{}", self.arn, record.sequence).as_bytes());
        format!("{digest:032x}")
    }
}

#[cfg(test)]
mod tests;
