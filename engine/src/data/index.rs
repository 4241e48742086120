//! Secondary indexes: global and local, kept in step with their table on every write.
//!
//! An index is an ordered map from an index key to the table's stored key. The index key is
//! the index partition's prefix (hash ‖ length-prefixed value, as for tables; for a
//! multi-attribute partition key, of the tuple of its values), the terminated sort values left
//! to right, then the table's stored key, so that entries with equal index keys stay distinct
//! and ordered (`types::index_keys`). DynamoDB propagates GSI writes asynchronously; here they are applied with the
//! write (a later issue adds the lag), which is one of the states DynamoDB can show.

use crate::api::{IndexDescription, ProjectionOutput, ProvisionedThroughputDescription};
use crate::capacity::throughput::Throughput;
use crate::types::index_keys::IndexKeySchema;
use crate::types::item::{Item, item_size_bytes};
use crate::types::keys::KeySchema;
use std::collections::{BTreeMap, VecDeque};

/// One index write a table write caused, and what it costs.
#[derive(Clone, Debug, PartialEq)]
pub struct IndexWrite {
    pub index: String,
    pub global: bool,
    pub units: f64,
}

/// The index writes of one table write.
pub type IndexWrites = Vec<IndexWrite>;

/// A change a lagging GSI has not propagated yet: the entry it removed (index key and the
/// projected item it held) and the index key it added.
#[derive(Debug)]
pub struct PendingChange {
    pub at_ms: u64,
    pub removed: Option<(Box<[u8]>, Item)>,
    pub added: Option<Box<[u8]>>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Projection {
    All,
    KeysOnly,
    Include(Vec<String>),
}

#[derive(Debug)]
pub struct Index {
    pub name: String,
    pub global: bool,
    pub key_schema: IndexKeySchema,
    pub projection: Projection,
    /// GSIs of provisioned tables have their own throughput.
    pub throughput: Option<Throughput>,
    /// Index key → table stored key.
    pub entries: BTreeMap<Box<[u8]>, Box<[u8]>>,
    pub size_bytes: u64,
    /// GSI changes not yet visible to readers (a profile's `gsi_lag_ms`), oldest first, with
    /// non-decreasing times.
    pub pending: VecDeque<PendingChange>,
    /// For a GSI created on an existing table (UpdateTable): until when it allocates
    /// resources (CREATING, Backfilling false) and until when it backfills (CREATING,
    /// Backfilling true); ACTIVE after, and readable only then.
    pub online: Option<(u64, u64)>,
}

impl Index {
    /// While the index is CREATING: whether it is backfilling (`None` once it is ACTIVE).
    pub fn creating(&self, now_ms: u64) -> Option<bool> {
        let (allocated_ms, active_ms) = self.online?;
        (now_ms < active_ms).then_some(now_ms >= allocated_ms)
    }

    /// The index key of `item` (stored under `table_key`), or `None` if the item lacks an index
    /// key attribute, any one of a multi-attribute key's (sparse index).
    pub fn entry_key(&self, item: &Item, table_key: &[u8]) -> Option<Box<[u8]>> {
        self.key_schema
            .covers(item)
            .then(|| self.key_schema.entry_key(item, table_key))
    }

    /// Whether `name` is projected into this index (table and index keys always are).
    pub fn projects(&self, name: &str, table_schema: &KeySchema) -> bool {
        table_schema.is_key_attribute(name)
            || self.key_schema.is_key_attribute(name)
            || match &self.projection {
                Projection::All => true,
                Projection::KeysOnly => false,
                Projection::Include(names) => names.iter().any(|n| n == name),
            }
    }

    /// The part of `item` this index holds.
    pub fn project(&self, item: &Item, table_schema: &KeySchema) -> Item {
        if self.projection == Projection::All {
            return item.clone();
        }
        item.iter()
            .filter(|(name, _)| self.projects(name, table_schema))
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect()
    }

    /// When the next pending change propagates (`None`: the index is current).
    pub fn next_due_ms(&self) -> Option<u64> {
        self.pending.front().map(|change| change.at_ms)
    }

    /// Forgets the pending changes readers see by `now_ms`.
    pub fn catch_up(&mut self, now_ms: u64) {
        while self.pending.front().is_some_and(|c| c.at_ms <= now_ms) {
            self.pending.pop_front();
        }
    }

    /// Moves the item stored under `table_key` from `old` to `new` in the index. Returns the
    /// number of index writes it took: 0 when the index holds neither or its entry does not
    /// change, 1, or 2 when the index key changed. With `lag` (now, milliseconds), a GSI keeps
    /// the change pending for readers until then.
    pub fn update(
        &mut self,
        table_key: &[u8],
        old: Option<&Item>,
        new: Option<&Item>,
        table_schema: &KeySchema,
        lag: Option<(u64, u64)>,
    ) -> u32 {
        let old_entry = old.and_then(|item| self.entry_key(item, table_key).map(|k| (k, item)));
        let new_entry = new.and_then(|item| self.entry_key(item, table_key).map(|k| (k, item)));
        if let (Some((old_key, old_item)), Some((new_key, new_item))) = (&old_entry, &new_entry)
            && old_key == new_key
            && self.project(old_item, table_schema) == self.project(new_item, table_schema)
        {
            // Nothing the index holds changed: no index write.
            return 0;
        }
        if let Some((now_ms, _)) = lag {
            self.catch_up(now_ms);
        }
        if let (Some((now_ms, lag_ms)), true) = (lag, self.global)
            && (old_entry.is_some() || new_entry.is_some())
        {
            let after = self.pending.back().map_or(0, |c| c.at_ms);
            self.pending.push_back(PendingChange {
                at_ms: now_ms.saturating_add(lag_ms).max(after),
                removed: old_entry
                    .as_ref()
                    .map(|(k, item)| (k.clone(), self.project(item, table_schema))),
                added: new_entry.as_ref().map(|(k, _)| k.clone()),
            });
            // `catch_up` pops from the front while changes are due: it relies on this order.
            let pushed = self.pending.len() - 1;
            if let Some(previous) = pushed.checked_sub(1) {
                assert!(
                    self.pending[previous].at_ms <= self.pending[pushed].at_ms,
                    "a GSI's pending changes are non-decreasing in time"
                );
            }
        }
        let mut writes = 0;
        if let Some((key, item)) = &old_entry {
            if self.entries.remove(key).is_some() {
                self.size_bytes -= item_size_bytes(&self.project(item, table_schema)) as u64;
            }
            if new_entry.as_ref().is_none_or(|(k, _)| k != key) {
                writes += 1;
            }
        }
        if let Some((key, item)) = new_entry {
            self.size_bytes += item_size_bytes(&self.project(item, table_schema)) as u64;
            self.entries.insert(key, table_key.into());
            writes += 1;
        }
        writes
    }

    pub fn describe(&self, table_arn: &str, now_ms: u64) -> IndexDescription {
        let creating = self.creating(now_ms);
        let key_schema = self.key_schema.describe();
        let (projection_type, non_key_attributes) = match &self.projection {
            Projection::All => ("ALL", None),
            Projection::KeysOnly => ("KEYS_ONLY", None),
            Projection::Include(names) => ("INCLUDE", Some(names.clone())),
        };
        IndexDescription {
            index_name: self.name.clone(),
            key_schema,
            projection: ProjectionOutput {
                projection_type: projection_type.into(),
                non_key_attributes,
            },
            index_status: self.global.then(|| {
                if creating.is_some() {
                    "CREATING"
                } else {
                    "ACTIVE"
                }
                .to_string()
            }),
            backfilling: creating,
            provisioned_throughput: if self.global {
                Some(match &self.throughput {
                    Some(t) => ProvisionedThroughputDescription {
                        last_increase_date_time: None,
                        last_decrease_date_time: None,
                        number_of_decreases_today: t.decreases_today,
                        read_capacity_units: t.read_capacity_units,
                        write_capacity_units: t.write_capacity_units,
                    },
                    None => ProvisionedThroughputDescription {
                        last_increase_date_time: None,
                        last_decrease_date_time: None,
                        number_of_decreases_today: 0,
                        read_capacity_units: 0,
                        write_capacity_units: 0,
                    },
                })
            } else {
                None
            },
            index_size_bytes: self.size_bytes,
            item_count: self.entries.len() as u64,
            index_arn: format!("{table_arn}/index/{}", self.name),
        }
    }
}
