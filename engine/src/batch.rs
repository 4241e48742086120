//! BatchGetItem and BatchWriteItem. The whole batch is validated before any item is read or
//! written; individual writes are atomic, the batch is not.

use crate::api::*;
use crate::capacity::admission::Usage;
use crate::capacity::units::{ReturnConsumedCapacity, read_units, write_units};
use crate::data::table::WriteContext;
use crate::engine::{Engine, table_name_of};
use crate::error::{ConstraintErrors, Error, Result};
use crate::expr::eval::project;
use crate::items::{RETURN_CONSUMED_CAPACITY, check_item, check_no_mixing, projection_of};
use crate::limits::{
    BATCH_GET_KEY_COUNT_MAX, BATCH_GET_RESPONSE_BYTES_MAX, BATCH_WRITE_REQUEST_COUNT_MAX,
    ITEM_SIZE_BYTES_MAX,
};
use crate::types::item::{Item, item_size_bytes};
use std::collections::{BTreeMap, BTreeSet};

fn duplicates() -> Error {
    Error::validation("Provided list of item keys contains duplicates")
}

impl Engine {
    pub(crate) fn batch_get_item(
        &mut self,
        input: &BatchGetItemInput,
        now_ms: u64,
    ) -> Result<Response> {
        let mut errors = ConstraintErrors::new();
        errors.not_null(&input.request_items, "requestItems");
        errors.enumeration(
            &input.return_consumed_capacity,
            "returnConsumedCapacity",
            &RETURN_CONSUMED_CAPACITY,
        );
        if let Some(request_items) = &input.request_items {
            if request_items.is_empty() {
                errors.push(
                    "{}",
                    "requestItems",
                    "Member must have length greater than or equal to 1",
                );
            }
            for (name, entry) in request_items {
                errors.name(&Some(name.clone()), "requestItems.key", true);
                match &entry.keys {
                    None => errors.push(
                        "null",
                        &format!("requestItems.{name}.member.keys"),
                        "Member must not be null",
                    ),
                    Some(keys) if keys.is_empty() => errors.push(
                        "[]",
                        &format!("requestItems.{name}.member.keys"),
                        "Member must have length greater than or equal to 1",
                    ),
                    Some(_) => {}
                }
            }
        }
        errors.into_result()?;
        let request_items = input.request_items.as_ref().expect("checked");
        let total: usize = request_items
            .values()
            .map(|e| e.keys.as_ref().map_or(0, Vec::len))
            .sum();
        if total > BATCH_GET_KEY_COUNT_MAX {
            return Err(Error::validation(
                "Too many items requested for the BatchGetItem call",
            ));
        }
        // Validate every table's part before reading anything.
        let mut plans = Vec::new();
        for (name, entry) in request_items {
            check_no_mixing(
                &[("AttributesToGet", entry.attributes_to_get.is_some())],
                &[(
                    "ProjectionExpression",
                    entry.projection_expression.is_some(),
                )],
            )?;
            let projection = projection_of(
                entry.projection_expression.as_deref(),
                entry.attributes_to_get.as_deref(),
                entry.expression_attribute_names.as_ref(),
            )?;
            let table = self.table_for_data(name, now_ms)?;
            let mut seen = BTreeSet::new();
            let mut keys = Vec::new();
            for raw in entry.keys.as_ref().expect("checked") {
                let key_item = check_item(raw)?;
                let key = table.key_schema.key_parameter(&key_item)?;
                if !seen.insert(key.clone()) {
                    return Err(duplicates());
                }
                keys.push((key, key_item));
            }
            plans.push((
                name,
                entry,
                table_name_of(name).to_string(),
                projection,
                keys,
            ));
        }
        let capacity_mode =
            ReturnConsumedCapacity::parse(input.return_consumed_capacity.as_deref());
        let mut output = BatchGetItemOutput::default();
        let mut capacities = Vec::new();
        let mut response_bytes = 0usize;
        let total: usize = plans.iter().map(|p| p.4.len()).sum();
        let mut throttled = 0;
        let mut last_throttle = None;
        for (name, entry, plain, projection, keys) in plans {
            let consistent = entry.consistent_read.unwrap_or(false);
            let mut units = 0.0;
            let mut found = Vec::new();
            let mut unprocessed = Vec::new();
            for (key, key_item) in keys {
                if response_bytes > BATCH_GET_RESPONSE_BYTES_MAX {
                    unprocessed.push(key_item);
                    continue;
                }
                if let Err(error) =
                    self.admit(&plain, &key, false, read_units(0, consistent), None, now_ms)
                {
                    throttled += 1;
                    last_throttle = Some(error);
                    unprocessed.push(key_item);
                    continue;
                }
                let zone = if consistent {
                    None
                } else {
                    self.realism.read_zone(&plain)
                };
                let (table, _) = self.table_and_limits(&plain);
                let item = match zone {
                    Some(zone) => table.get_from(zone, &key, now_ms),
                    None => table.get(&key),
                };
                let size = item.as_ref().map_or(0, item_size_bytes);
                let item_units = read_units(size, consistent);
                units += item_units;
                let returned = u64::from(item.is_some());
                if let Some(item) = item {
                    let item = match &projection {
                        Some(paths) => project(&item, paths),
                        None => item,
                    };
                    response_bytes += item_size_bytes(&item);
                    found.push(item);
                }
                self.charge(
                    &plain,
                    &key,
                    Usage {
                        write: false,
                        units: item_units,
                        index_units: &[],
                        returned,
                    },
                    now_ms,
                );
            }
            output.responses.insert(name.clone(), found);
            if !unprocessed.is_empty() {
                output.unprocessed_keys.insert(
                    name.clone(),
                    UnprocessedKeys {
                        keys: unprocessed,
                        consistent_read: entry.consistent_read,
                        projection_expression: entry.projection_expression.clone(),
                        attributes_to_get: entry.attributes_to_get.clone(),
                        expression_attribute_names: entry.expression_attribute_names.clone(),
                    },
                );
            }
            capacities.extend(capacity_mode.report(&self.tables[&plain].name, units, true));
        }
        if throttled == total
            && let Some(error) = last_throttle
        {
            return Err(error);
        }
        if capacity_mode != ReturnConsumedCapacity::None {
            output.consumed_capacity = Some(capacities);
        }
        Ok(Response::BatchGetItem(output))
    }

    pub(crate) fn batch_write_item(
        &mut self,
        input: &BatchWriteItemInput,
        now_ms: u64,
    ) -> Result<Response> {
        let mut errors = ConstraintErrors::new();
        errors.not_null(&input.request_items, "requestItems");
        errors.enumeration(
            &input.return_consumed_capacity,
            "returnConsumedCapacity",
            &RETURN_CONSUMED_CAPACITY,
        );
        errors.enumeration(
            &input.return_item_collection_metrics,
            "returnItemCollectionMetrics",
            &["SIZE", "NONE"],
        );
        if let Some(request_items) = &input.request_items {
            if request_items.is_empty() {
                errors.push(
                    "{}",
                    "requestItems",
                    "Member must have length greater than or equal to 1",
                );
            }
            for (name, requests) in request_items {
                errors.name(&Some(name.clone()), "requestItems.key", true);
                if requests.is_empty() {
                    errors.push(
                        "[]",
                        &format!("requestItems.{name}.member"),
                        "Member must have length greater than or equal to 1",
                    );
                }
            }
        }
        errors.into_result()?;
        let request_items = input.request_items.as_ref().expect("checked");
        let total: usize = request_items.values().map(Vec::len).sum();
        if total > BATCH_WRITE_REQUEST_COUNT_MAX {
            return Err(Error::validation(format!(
                "1 validation error detected: Value at 'requestItems' failed to satisfy constraint: Map value must satisfy constraint: [Member must have length less than or equal to {BATCH_WRITE_REQUEST_COUNT_MAX}, Member must have length greater than or equal to 1]"
            )));
        }
        enum Write {
            Put(Box<[u8]>, Item),
            Delete(Box<[u8]>, Item),
        }
        let mut plans: Vec<(String, Vec<Write>)> = Vec::new();
        for (name, requests) in request_items {
            let table = self.table_for_data(name, now_ms)?;
            let mut seen = BTreeSet::new();
            let mut writes = Vec::new();
            for request in requests {
                let write = match (&request.put_request, &request.delete_request) {
                    (Some(put), None) => {
                        let Some(raw) = &put.item else {
                            return Err(Error::required("Item"));
                        };
                        let item = check_item(raw)?;
                        let key = table.key_schema.item_key(&item)?;
                        table.check_index_keys(&item)?;
                        if item_size_bytes(&item) > ITEM_SIZE_BYTES_MAX {
                            return Err(Error::item_too_large());
                        }
                        Write::Put(key, item)
                    }
                    (None, Some(delete)) => {
                        let Some(raw) = &delete.key else {
                            return Err(Error::required("Key"));
                        };
                        let key_item = check_item(raw)?;
                        Write::Delete(table.key_schema.key_parameter(&key_item)?, key_item)
                    }
                    _ => {
                        return Err(Error::validation(
                            "Supplied WriteRequest must contain exactly one of PutRequest or DeleteRequest",
                        ));
                    }
                };
                let key = match &write {
                    Write::Put(k, _) | Write::Delete(k, _) => k.clone(),
                };
                if !seen.insert(key) {
                    return Err(duplicates());
                }
                writes.push(write);
            }
            plans.push((crate::engine::table_name_of(name).to_string(), writes));
        }
        let capacity_mode =
            ReturnConsumedCapacity::parse(input.return_consumed_capacity.as_deref());
        let mut capacities = Vec::new();
        let want_metrics = input.return_item_collection_metrics.as_deref() == Some("SIZE");
        let mut metrics: BTreeMap<String, Vec<crate::api::ItemCollectionMetrics>> = BTreeMap::new();
        // Writes a throttle turned away go back as UnprocessedItems; if all were, the batch
        // fails with the throttling error (as DynamoDB does).
        let mut unprocessed: BTreeMap<String, Vec<WriteRequestOutput>> = BTreeMap::new();
        let mut throttled = 0;
        let mut last_throttle = None;
        for (name, writes) in plans {
            let mut units = 0.0;
            // Partition keys whose item collections this batch touched, for the metrics.
            let mut collections = Vec::new();
            for write in writes {
                let key = match &write {
                    Write::Put(k, _) | Write::Delete(k, _) => k.clone(),
                };
                if let Err(error) = self.admit(&name, &key, true, 1.0, None, now_ms) {
                    throttled += 1;
                    last_throttle = Some(error);
                    unprocessed
                        .entry(name.clone())
                        .or_default()
                        .push(match write {
                            Write::Put(_, item) => WriteRequestOutput::PutRequest { item },
                            Write::Delete(_, key) => WriteRequestOutput::DeleteRequest { key },
                        });
                    continue;
                }
                let lags = self.realism.lags(&name);
                let gsi_lag_ms = self.realism.gsi_lag(&name);
                let (table, limits) = self.table_and_limits(&name);
                let context = WriteContext {
                    now_ms,
                    lags,
                    gsi_lag_ms,
                    limits,
                };
                let hash_name = &table.key_schema.hash.name;
                let hash_value = match &write {
                    Write::Put(_, item) | Write::Delete(_, item) => item[hash_name].clone(),
                };
                if !collections.contains(&hash_value) {
                    collections.push(hash_value);
                }
                let (write_units_used, index_writes) = match write {
                    Write::Put(key, item) => {
                        let old = table.get(&key);
                        let old_size = old.as_ref().map_or(0, item_size_bytes);
                        let used = write_units(old_size.max(item_size_bytes(&item)));
                        (used, table.put(key, &item, old.as_ref(), &context))
                    }
                    Write::Delete(key, _) => {
                        let (old, index_writes) = table.delete(&key, &context);
                        (
                            write_units(old.as_ref().map_or(0, item_size_bytes)),
                            index_writes,
                        )
                    }
                };
                units += write_units_used + index_writes.iter().map(|(_, _, u)| u).sum::<f64>();
                self.charge_write(&name, &key, write_units_used, &index_writes, now_ms);
            }
            let table = &self.tables[&name];
            capacities.extend(capacity_mode.report(&table.name, units, false));
            if want_metrics {
                let table_metrics: Vec<_> = collections
                    .iter()
                    .filter_map(|h| table.item_collection_metrics(h))
                    .collect();
                if !table_metrics.is_empty() {
                    metrics.insert(table.name.clone(), table_metrics);
                }
            }
        }
        if throttled == total
            && let Some(error) = last_throttle
        {
            return Err(error);
        }
        Ok(Response::BatchWriteItem(BatchWriteItemOutput {
            unprocessed_items: unprocessed,
            consumed_capacity: (capacity_mode != ReturnConsumedCapacity::None)
                .then_some(capacities),
            item_collection_metrics: want_metrics.then_some(metrics),
        }))
    }
}
