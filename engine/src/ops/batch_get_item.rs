//! BatchGetItem: every table's part is validated before any item is read; reads are then
//! admitted, made and charged one key at a time, and what a throttle or the response size
//! turned away goes back as UnprocessedKeys.

use super::common::{RETURN_CONSUMED_CAPACITY, check_item, check_no_mixing, projection_of};
use crate::api::*;
use crate::capacity::admission::Usage;
use crate::capacity::units::{ReturnConsumedCapacity, read_units};
use crate::engine::{Engine, table_name_of};
use crate::error::{ConstraintErrors, Error, Result, constraint};
use crate::expr::ResolvedPath;
use crate::expr::eval::project;
use crate::limits::{BATCH_GET_KEY_COUNT_MAX, BATCH_GET_RESPONSE_BYTES_MAX};
use crate::types::item::{Item, item_size_bytes};
use std::collections::{BTreeMap, BTreeSet};

/// One table's part of a checked BatchGetItem.
struct TableReads<'a> {
    /// The name as the request gave it (a name or an ARN): responses are keyed by it.
    requested: &'a String,
    entry: &'a KeysAndAttributes,
    table: String,
    projection: Option<Vec<ResolvedPath>>,
    /// Stored keys with the key items they came from.
    keys: Vec<(Box<[u8]>, Item)>,
}

fn check_shape(input: &BatchGetItemInput) -> Result<&BTreeMap<String, KeysAndAttributes>> {
    let mut errors = ConstraintErrors::new();
    errors.not_null(&input.request_items, "requestItems");
    errors.enumeration(
        &input.return_consumed_capacity,
        "returnConsumedCapacity",
        &RETURN_CONSUMED_CAPACITY,
    );
    if let Some(request_items) = &input.request_items {
        if request_items.is_empty() {
            errors.push("'{}'", "requestItems", &constraint::length_at_least(1));
        }
        for (name, entry) in request_items {
            errors.name(&Some(name.clone()), "requestItems.key", true);
            match &entry.keys {
                None => errors.push(
                    "null",
                    &format!("requestItems.{name}.member.keys"),
                    constraint::NOT_NULL,
                ),
                Some(keys) if keys.is_empty() => errors.push(
                    "'[]'",
                    &format!("requestItems.{name}.member.keys"),
                    &constraint::length_at_least(1),
                ),
                Some(_) => {}
            }
        }
    }
    let request_items = errors.into_result_with(input.request_items.as_ref())?;
    let total: usize = request_items
        .values()
        .map(|e| e.keys.as_ref().map_or(0, Vec::len))
        .sum();
    if total > BATCH_GET_KEY_COUNT_MAX {
        return Err(Error::batch_get_too_many_keys());
    }
    // Every key's values before any table is looked up (dynalite's tests of the service).
    for raw in request_items.values().flat_map(|e| e.keys.iter().flatten()) {
        check_item(raw)?;
    }
    Ok(request_items)
}

fn plan<'a>(
    engine: &Engine,
    request_items: &'a BTreeMap<String, KeysAndAttributes>,
    now_ms: u64,
) -> Result<Vec<TableReads<'a>>> {
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
        let table = engine.table_for_data(name, now_ms)?;
        let mut seen = BTreeSet::new();
        let mut keys = Vec::new();
        for raw in entry.keys.iter().flatten() {
            let key_item = check_item(raw)?;
            let key = table.key_schema.key_parameter(&key_item)?;
            if !seen.insert(key.clone()) {
                return Err(Error::batch_keys_duplicate());
            }
            keys.push((key, key_item));
        }
        plans.push(TableReads {
            requested: name,
            entry,
            table: table_name_of(name).to_string(),
            projection,
            keys,
        });
    }
    Ok(plans)
}

pub(crate) fn execute(
    engine: &mut Engine,
    input: &BatchGetItemInput,
    now_ms: u64,
) -> Result<Response> {
    let request_items = check_shape(input)?;
    let plans = plan(engine, request_items, now_ms)?;
    let capacity_mode = ReturnConsumedCapacity::parse(input.return_consumed_capacity.as_deref());
    let mut output = BatchGetItemOutput::default();
    let mut capacities = Vec::new();
    let mut response_bytes = 0usize;
    let total: usize = plans.iter().map(|p| p.keys.len()).sum();
    let mut throttled = 0;
    let mut last_throttle = None;
    for reads in plans {
        let entry = reads.entry;
        let consistent = entry.consistent_read.unwrap_or(false);
        let mut units = 0.0;
        let mut found = Vec::new();
        let mut unprocessed = Vec::new();
        for (key, key_item) in reads.keys {
            if response_bytes > BATCH_GET_RESPONSE_BYTES_MAX {
                unprocessed.push(key_item);
                continue;
            }
            let plain = &reads.table;
            if let Err(error) =
                engine.admit(plain, &key, false, read_units(0, consistent), None, now_ms)
            {
                throttled += 1;
                last_throttle = Some(error);
                unprocessed.push(key_item);
                continue;
            }
            let zone = if consistent {
                None
            } else {
                engine.realism.read_zone(plain)
            };
            let (table, _) = engine.table_and_limits(plain);
            let item = match zone {
                Some(zone) => table.get_from(zone, &key, now_ms),
                None => table.get(&key),
            };
            let item_units = read_units(item.as_ref().map_or(0, item_size_bytes), consistent);
            units += item_units;
            let returned = u64::from(item.is_some());
            if let Some(item) = item {
                let item = match &reads.projection {
                    Some(paths) => project(&item, paths),
                    None => item,
                };
                response_bytes += item_size_bytes(&item);
                found.push(item);
            }
            let usage = Usage {
                write: false,
                units: item_units,
                index_units: &[],
                returned,
            };
            engine.charge(plain, &key, usage, now_ms);
        }
        output.responses.insert(reads.requested.clone(), found);
        if !unprocessed.is_empty() {
            output.unprocessed_keys.insert(
                reads.requested.clone(),
                UnprocessedKeys {
                    keys: unprocessed,
                    consistent_read: entry.consistent_read,
                    projection_expression: entry.projection_expression.clone(),
                    attributes_to_get: entry.attributes_to_get.clone(),
                    expression_attribute_names: entry.expression_attribute_names.clone(),
                },
            );
        }
        let table_name = &engine.table_by_name(&reads.table).name;
        capacities.extend(capacity_mode.report(table_name, units, true));
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
