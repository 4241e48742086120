//! One file per DynamoDB operation, named after the API, and the driver they share.
//!
//! Each operation validates its raw input into a plan (a type execution cannot reject),
//! finding every client error in DynamoDB's order before anything is admitted, read or
//! written. A single-item write's plan implements [`ItemWrite`]: `apply` is pure and turns the
//! item it read into a [`Mutation`] (or an item-dependent error), and [`write_item`] runs the
//! shared sequence once for all of them: admit, read the previous item, apply, write through
//! `Table::apply`, charge, respond. Batches and transactions reuse the same plans.

pub mod batch_get_item;
pub mod batch_write_item;
pub mod common;
pub mod create_table;
pub mod delete_item;
pub mod delete_table;
pub mod describe_contributor_insights;
pub mod describe_endpoints;
pub mod describe_limits;
pub mod describe_stream;
pub mod describe_table;
pub mod describe_table_replica_auto_scaling;
pub mod describe_time_to_live;
pub mod get_item;
pub mod get_records;
pub mod get_shard_iterator;
pub mod list_contributor_insights;
pub mod list_streams;
pub mod list_tables;
pub mod list_tags_of_resource;
pub mod paging;
pub mod put_item;
pub mod query;
pub mod scan;
pub mod tag_resource;
pub mod transact_get_items;
pub mod transact_write_items;
pub mod untag_resource;
pub mod update_contributor_insights;
pub mod update_item;
pub mod update_table;
pub mod update_time_to_live;

use crate::api::{ItemOutput, Response, WriteInput};
use crate::capacity::units::ReturnConsumedCapacity;
use crate::data::mutation::Mutation;
use crate::data::table::Table;
use crate::engine::Engine;
use crate::error::{Error, Result};
use crate::types::item::Item;
use crate::types::value::Value;

/// Where a single-item write goes and what its caller asked to get back, whatever the
/// operation.
#[derive(Clone, Debug)]
pub(crate) struct Target {
    /// The table's plain name (an ARN in the request is resolved).
    pub table: String,
    /// The stored key of the item.
    pub key: Box<[u8]>,
    /// The partition key value, when ReturnItemCollectionMetrics is SIZE.
    pub collection: Option<Value>,
    pub capacity: ReturnConsumedCapacity,
    /// ReturnValuesOnConditionCheckFailure is ALL_OLD.
    pub old_on_failure: bool,
}

impl Target {
    pub(crate) fn new(table: &Table, key: Box<[u8]>, key_item: &Item, input: &WriteInput) -> Self {
        let wants_metrics = input.return_item_collection_metrics.as_deref() == Some("SIZE");
        Target {
            table: table.name.clone(),
            collection: wants_metrics
                .then(|| key_item.get(&table.key_schema.hash.name).cloned())
                .flatten(),
            key,
            capacity: ReturnConsumedCapacity::parse(input.return_consumed_capacity.as_deref()),
            old_on_failure: input.return_values_on_condition_check_failure.as_deref()
                == Some("ALL_OLD"),
        }
    }

    /// A target inside a batch: nothing is returned per item.
    pub(crate) fn in_batch(table: &Table, key: Box<[u8]>) -> Self {
        Target {
            table: table.name.clone(),
            key,
            collection: None,
            capacity: ReturnConsumedCapacity::None,
            old_on_failure: false,
        }
    }
}

/// What a plan made of the item it read: the change, and the write units it costs (the
/// larger of the old and new item, whether or not anything is written).
#[derive(Debug)]
pub(crate) struct Write<'a> {
    pub mutation: Mutation<'a>,
    pub units: f64,
}

/// Why a plan refused the item it read.
#[derive(Debug)]
pub(crate) enum Rejection {
    /// The condition does not hold: the write is charged, and the error may carry the item.
    ConditionFailed,
    /// An item-dependent error (an update's type error, the item growing too large, an
    /// index key of the wrong type): nothing is charged.
    Invalid(Error),
}

/// A validated single-item write: PutItem, UpdateItem, DeleteItem, and the writes of a batch.
pub(crate) trait ItemWrite {
    fn target(&self) -> &Target;
    /// Pure: the same table and `previous` give the same answer. `table` is read for its
    /// key and index schemas only.
    fn apply<'a>(
        &'a self,
        table: &Table,
        previous: Option<&'a Item>,
    ) -> std::result::Result<Write<'a>, Rejection>;
    /// The Attributes member of the response, from the applied mutation.
    fn returned(&self, mutation: Mutation<'_>) -> Option<Item>;
}

/// What the driver reports back to a batch: the table units used and the index writes.
pub(crate) struct Written {
    pub units: f64,
    pub index_writes: crate::data::index::IndexWrites,
}

/// Runs a single-item write: admit, read the previous item, apply, write, charge, respond.
pub(crate) fn write_item(
    engine: &mut Engine,
    plan: &impl ItemWrite,
    now_ms: u64,
) -> Result<Response> {
    let (written, attributes) = execute_write(engine, plan, now_ms)?;
    let target = plan.target();
    let table = engine.table_by_name(&target.table);
    let output = ItemOutput {
        attributes,
        consumed_capacity: target.capacity.report_write(
            &table.name,
            written.units,
            &written.index_writes,
        ),
        item_collection_metrics: target
            .collection
            .as_ref()
            .and_then(|hash| table.item_collection_metrics(hash)),
        ..ItemOutput::default()
    };
    engine.charge_write(
        &target.table,
        &target.key,
        written.units,
        &written.index_writes,
        now_ms,
    );
    Ok(Response::Item(output))
}

/// The part of a single-item write that batches share: admission, the read, `apply`, and the
/// write through `Table::apply`. Charging is the caller's (a batch charges per item too, but
/// reports the sum).
pub(crate) fn execute_write(
    engine: &mut Engine,
    plan: &impl ItemWrite,
    now_ms: u64,
) -> Result<(Written, Option<Item>)> {
    let target = plan.target();
    engine.admit(&target.table, &target.key, true, 1.0, None, now_ms)?;
    // A transaction holding the item prepared refuses the write (the participant's rule).
    engine
        .transactions
        .single_write(&target.table, &target.key)
        .map_err(|_| Error::transaction_conflict())?;
    let lags = engine.draw_write_lags(&target.table);
    let table = engine.table_by_name(&target.table);
    let previous = table.get(&target.key);
    let write = match plan.apply(table, previous.as_ref()) {
        Ok(write) => write,
        Err(Rejection::ConditionFailed) => {
            engine.charge_failed_write(&target.table, &target.key, previous.as_ref(), now_ms);
            let item = if target.old_on_failure {
                previous
            } else {
                None
            };
            return Err(Error::conditional_check_failed(item));
        }
        Err(Rejection::Invalid(error)) => return Err(error),
    };
    if table.collection_limit_exceeded(&write.mutation, &engine.config.limits) {
        return Err(Error::item_collection_size_limit_exceeded());
    }
    // GSI back-pressure: the index partitions the write lands on must have room.
    let touched = if engine.tracks_index_partitions(&target.table) {
        let table = engine.table_by_name(&target.table);
        let touched = table.index_writes_of(&write.mutation);
        engine.admit_index_writes(&target.table, &target.key, &touched, now_ms)?;
        touched
    } else {
        Vec::new()
    };
    let (table, context) = engine.write_context(&target.table, lags, now_ms);
    let index_writes = table.apply(&write.mutation, &context);
    if !touched.is_empty() {
        engine.record_index_writes(&target.table, &touched, &index_writes, now_ms);
    }
    let attributes = plan.returned(write.mutation);
    Ok((
        Written {
            units: write.units,
            index_writes,
        },
        attributes,
    ))
}
