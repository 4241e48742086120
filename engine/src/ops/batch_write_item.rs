//! BatchWriteItem: the whole batch is validated into PutItem and DeleteItem plans before any
//! item is written; each write then runs through the single-item write path. Individual
//! writes are atomic, the batch is not.

use super::common::{RETURN_CONSUMED_CAPACITY, check_item};
use super::delete_item::DeleteItem;
use super::put_item::PutItem;
use super::{ItemWrite, Rejection, Target, Write};
use crate::api::*;
use crate::capacity::units::ReturnConsumedCapacity;
use crate::data::mutation::Mutation;
use crate::data::table::Table;
use crate::engine::{Engine, table_name_of};
use crate::error::{ConstraintErrors, Error, Result, constraint};
use crate::limits::{BATCH_WRITE_REQUEST_COUNT_MAX, ITEM_SIZE_BYTES_MAX};
use crate::types::item::{Item, item_size_bytes};
use std::collections::{BTreeMap, BTreeSet};

/// One write of a batch: a put or a delete, without condition or return values.
#[derive(Debug)]
enum BatchWrite {
    Put(PutItem),
    Delete(DeleteItem),
}

impl BatchWrite {
    /// The item or key, for the item-collection metrics and for UnprocessedItems.
    fn item(&self) -> &Item {
        match self {
            BatchWrite::Put(put) => put.item(),
            BatchWrite::Delete(delete) => delete.key_item(),
        }
    }

    fn unprocessed(self) -> WriteRequestOutput {
        match self {
            BatchWrite::Put(put) => WriteRequestOutput::PutRequest {
                item: put.into_item(),
            },
            BatchWrite::Delete(delete) => WriteRequestOutput::DeleteRequest {
                key: delete.into_key_item(),
            },
        }
    }
}

impl ItemWrite for BatchWrite {
    fn target(&self) -> &Target {
        match self {
            BatchWrite::Put(put) => put.target(),
            BatchWrite::Delete(delete) => delete.target(),
        }
    }

    fn apply<'a>(
        &'a self,
        table: &Table,
        previous: Option<&'a Item>,
    ) -> std::result::Result<Write<'a>, Rejection> {
        match self {
            BatchWrite::Put(put) => put.apply(table, previous),
            BatchWrite::Delete(delete) => delete.apply(table, previous),
        }
    }

    fn returned(&self, _mutation: Mutation<'_>) -> Option<Item> {
        None
    }
}

/// The constraint on each table's list of requests, as the service prints it.
fn batch_write_list_constraint() -> String {
    format!(
        "Map value must satisfy constraint: [{}, {}]",
        constraint::length_at_most(BATCH_WRITE_REQUEST_COUNT_MAX),
        constraint::length_at_least(1)
    )
}

/// The shape checks of the whole request, before any table is looked at. An empty list of
/// requests is printed as the service prints the map (`'{t=[]}'`, boto3 issue 483).
fn check_shape(input: &BatchWriteItemInput) -> Result<&BTreeMap<String, Vec<WriteRequest>>> {
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
            errors.push("'{}'", "requestItems", &constraint::length_at_least(1));
        }
        for (name, requests) in request_items {
            errors.name(&Some(name.clone()), "requestItems.key", true);
            if requests.is_empty() {
                errors.push(
                    &format!("'{{{name}=[]}}'"),
                    "requestItems",
                    &batch_write_list_constraint(),
                );
            }
            for (index, request) in requests.iter().enumerate() {
                let base = format!("requestItems.{name}.member.{}.member", index + 1);
                // The delete request's member is reported before the put request's (dynalite's
                // tests of the service).
                if let Some(delete) = &request.delete_request {
                    errors.not_null(&delete.key, &format!("{base}.deleteRequest.key"));
                }
                if let Some(put) = &request.put_request {
                    errors.not_null(&put.item, &format!("{base}.putRequest.item"));
                }
            }
        }
    }
    let request_items = errors.into_result_with(input.request_items.as_ref())?;
    let total: usize = request_items.values().map(Vec::len).sum();
    if total > BATCH_WRITE_REQUEST_COUNT_MAX {
        return Err(Error::batch_write_too_many_requests());
    }
    check_values(request_items)?;
    Ok(request_items)
}

/// Every request's values and each put's size, before any table is looked up (dynalite's
/// tests of the service: a bad value or a too large item in a batch for a missing table is a
/// ValidationException). An empty WriteRequest answers the service's odd message for it.
fn check_values(request_items: &BTreeMap<String, Vec<WriteRequest>>) -> Result<()> {
    for request in request_items.values().flatten() {
        match (&request.put_request, &request.delete_request) {
            (None, None) => return Err(Error::write_request_empty()),
            (Some(put), _) => {
                if let Some(raw) = &put.item
                    && item_size_bytes(&check_item(raw)?) > ITEM_SIZE_BYTES_MAX
                {
                    return Err(Error::item_too_large());
                }
            }
            (None, Some(delete)) => {
                if let Some(raw) = &delete.key {
                    check_item(raw)?;
                }
            }
        }
    }
    Ok(())
}

/// One table's writes as plans, in request order, with no key twice.
fn plan_table(table: &Table, requests: &[WriteRequest]) -> Result<Vec<BatchWrite>> {
    let mut seen = BTreeSet::new();
    let mut writes = Vec::new();
    for request in requests {
        let write = match (&request.put_request, &request.delete_request) {
            (Some(put), None) => {
                let Some(raw) = &put.item else {
                    return Err(Error::internal());
                };
                BatchWrite::Put(PutItem::new(table, check_item(raw)?)?)
            }
            (None, Some(delete)) => {
                let Some(raw) = &delete.key else {
                    return Err(Error::internal());
                };
                BatchWrite::Delete(DeleteItem::new(table, check_item(raw)?)?)
            }
            _ => {
                return Err(Error::write_request_invalid());
            }
        };
        if !seen.insert(write.target().key.clone()) {
            return Err(Error::batch_keys_duplicate());
        }
        writes.push(write);
    }
    Ok(writes)
}

/// One write of a batch: done (`Ok(Ok)`), or refused by admission and left unprocessed
/// (`Ok(Err)`). Admission is the only step of a condition-free put or delete that can fail,
/// but for a put that would grow an item collection past its limit, which fails the request
/// (`Err`; the writes before it in the batch stay, as a batch is not atomic).
fn write_one(
    engine: &mut Engine,
    write: &BatchWrite,
    now_ms: u64,
) -> Result<std::result::Result<super::Written, Error>> {
    match super::execute_write(engine, write, now_ms) {
        Ok((written, _)) => Ok(Ok(written)),
        Err(error) if error.kind == crate::error::ErrorKind::ItemCollectionSizeLimitExceeded => {
            Err(error)
        }
        Err(error) => Ok(Err(error)),
    }
}

pub(crate) fn execute(
    engine: &mut Engine,
    input: &BatchWriteItemInput,
    now_ms: u64,
) -> Result<Response> {
    let request_items = check_shape(input)?;
    let total: usize = request_items.values().map(Vec::len).sum();
    let mut plans: Vec<(String, Vec<BatchWrite>)> = Vec::new();
    for (name, requests) in request_items {
        let table = engine.table_for_data(name, now_ms)?;
        plans.push((
            table_name_of(name).to_string(),
            plan_table(table, requests)?,
        ));
    }
    let capacity_mode = ReturnConsumedCapacity::parse(input.return_consumed_capacity.as_deref());
    let mut capacities = Vec::new();
    let want_metrics = input.return_item_collection_metrics.as_deref() == Some("SIZE");
    let mut metrics: BTreeMap<String, Vec<ItemCollectionMetrics>> = BTreeMap::new();
    // Writes a throttle turned away go back as UnprocessedItems; if all were, the batch
    // fails with the throttling error (as DynamoDB does).
    let mut unprocessed: BTreeMap<String, Vec<WriteRequestOutput>> = BTreeMap::new();
    let mut throttled = 0;
    let mut last_throttle = None;
    for (name, writes) in plans {
        let mut units = 0.0;
        // Partition keys whose item collections this batch touched, for the metrics.
        let mut collections = Vec::new();
        let hash_name = engine.table_by_name(&name).key_schema.hash.name.clone();
        for write in writes {
            let written = match write_one(engine, &write, now_ms)? {
                Ok(written) => written,
                Err(error) => {
                    throttled += 1;
                    last_throttle = Some(error);
                    unprocessed
                        .entry(name.clone())
                        .or_default()
                        .push(write.unprocessed());
                    continue;
                }
            };
            let hash_value = &write.item()[&hash_name];
            if !collections.contains(hash_value) {
                collections.push(hash_value.clone());
            }
            units += written.units + written.index_writes.iter().map(|w| w.units).sum::<f64>();
            let key = &write.target().key;
            engine.charge_write(&name, key, written.units, &written.index_writes, now_ms);
        }
        let table = engine.table_by_name(&name);
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
        consumed_capacity: (capacity_mode != ReturnConsumedCapacity::None).then_some(capacities),
        item_collection_metrics: want_metrics.then_some(metrics),
    }))
}
