//! The engine's side of a global table: what a host of several regions asks of one region's
//! engine to add a replica (its items, read in key order) and to apply a write another
//! region made (through `Table::apply`, the one write path, as a request's change: a stream
//! record in this region's stream, indexes kept in step, replicated write units charged, no
//! admission).

use crate::capacity::metrics::Counters;
use crate::data::mutation::Mutation;
use crate::engine::Engine;
use crate::error::{Error, Result};
use std::borrow::Cow;
use std::ops::Bound;

/// Items as (stored key, stored encoding).
pub type StoredItems = Vec<(Box<[u8]>, Box<[u8]>)>;

impl Engine {
    /// Every item of `table` as its stored key and stored encoding, in key order.
    pub fn stored_items(&self, table: &str) -> Result<StoredItems> {
        let table = self
            .tables
            .get(table)
            .ok_or_else(|| Error::table_not_found(table))?;
        Ok(table
            .partitions()
            .range(Bound::Unbounded, Bound::Unbounded)
            .map(|entry| (Box::from(entry.key()), Box::from(entry.item_bytes())))
            .collect())
    }

    /// Applies a write replicated from another region: `table` now holds `item` (a stored
    /// encoding that passed `types::encoding::check`) under `key`, or nothing. Returns the
    /// replicated write units it charged (0 when nothing changed).
    pub fn apply_replicated(
        &mut self,
        table: &str,
        key: &[u8],
        item: Option<&[u8]>,
        now_ms: u64,
    ) -> Result<f64> {
        if !self.tables.contains_key(table) {
            return Err(Error::table_not_found(table));
        }
        let lags = self.draw_write_lags(table);
        let (target, context) = self.write_context(table, lags, now_ms);
        let before = target.get(key);
        let after = item.map(|bytes| Cow::Owned(crate::types::item::decode(bytes)));
        if before.is_none() && after.is_none() {
            return Ok(0.0);
        }
        let size = after
            .as_deref()
            .or(before.as_ref())
            .map_or(0, crate::types::item::item_size_bytes);
        let mutation = Mutation {
            key,
            before: before.as_ref(),
            after,
        };
        target.apply(&mutation, &context);
        let units = crate::capacity::units::write_units(size);
        let counted = Counters {
            replicated_write_capacity_units: units,
            ..Counters::default()
        };
        target.metrics.table.record(now_ms, &counted);
        Ok(units)
    }

    /// The table and stored key a single-item write names (PutItem's item, UpdateItem's and
    /// DeleteItem's key), when the request is one and its key checks out (otherwise the
    /// request's own execution answers the error).
    pub fn write_key(&self, request: &crate::api::Request) -> Option<(String, Box<[u8]>)> {
        use crate::api::Request;
        let (input, raw) = match request {
            Request::PutItem(input) => (input, input.item.as_ref()?),
            Request::UpdateItem(input) | Request::DeleteItem(input) => (input, input.key.as_ref()?),
            _ => return None,
        };
        let name = crate::engine::table_name_of(input.table_name.as_deref()?);
        let table = self.tables.get(name)?;
        let item = crate::ops::common::check_item(raw).ok()?;
        let key = match request {
            Request::PutItem(_) => table.key_schema.item_key(&item).ok()?,
            _ => table.key_schema.key_parameter(&item).ok()?,
        };
        Some((name.to_string(), key))
    }

    /// Shows `table` UPDATING until `until_ms` (a replica of it being added elsewhere).
    pub fn set_table_updating_until(&mut self, table: &str, until_ms: u64) {
        if let Some(table) = self.tables.get_mut(table) {
            table.updating_until_ms = table.updating_until_ms.max(until_ms);
        }
    }

    /// Drops the changes the journal holds (a host that journals to replicate, after
    /// applying another region's writes, which it must not replicate again).
    pub fn discard_changes(&mut self) {
        let mut dropped = Vec::new();
        self.take_changes(&mut dropped);
    }
}
