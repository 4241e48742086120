//! TransactGetItems: every Get validated as a strongly consistent GetItem, then the read-only
//! transaction of `txn`: each item read once (refused while a write transaction holds it
//! prepared), then its stamp read again; the answer stands only if nothing changed between.

use super::common::RETURN_CONSUMED_CAPACITY;
use super::get_item::{self, GetItem};
use crate::api::{
    GetItemInput, ItemResponse, Response, TransactGetItemsInput, TransactGetItemsOutput,
};
use crate::capacity::admission::Usage;
use crate::capacity::units::{ReturnConsumedCapacity, read_units};
use crate::engine::Engine;
use crate::error::{CancellationReason, ConstraintErrors, Error, Result, constraint};
use crate::expr::eval::project;
use crate::limits::{TRANSACTION_ACTIONS_MAX, TRANSACTION_BYTES_MAX};
use crate::txn::Timestamp;
use crate::types::item::{Item, item_size_bytes};
use std::collections::BTreeMap;

pub(crate) fn execute(
    engine: &mut Engine,
    input: &TransactGetItemsInput,
    now_ms: u64,
) -> Result<Response> {
    let gets = validate(engine, input, now_ms)?;
    let capacity = ReturnConsumedCapacity::parse(input.return_consumed_capacity.as_deref());
    let first = match first_round(engine, &gets, now_ms) {
        Ok(first) => first,
        Err(reasons) => return Err(Error::transaction_canceled(reasons)),
    };
    // The second round: every stamp as the first round saw it, or the transaction is
    // cancelled (in-process nothing runs between the rounds; in the simulator writes can).
    let mut reasons = vec![CancellationReason::none(); gets.len()];
    let mut changed = false;
    for (i, (get, (stamp, _))) in gets.iter().zip(&first).enumerate() {
        if engine.transactions.read(&get.table, &get.key) != Ok(*stamp) {
            reasons[i] = CancellationReason::conflict();
            changed = true;
        }
    }
    if changed {
        return Err(Error::transaction_canceled(reasons));
    }
    let mut consumed: BTreeMap<String, f64> = BTreeMap::new();
    let mut responses = Vec::with_capacity(gets.len());
    let mut bytes = 0;
    for (get, (_, item)) in gets.iter().zip(first) {
        let size = item.as_ref().map_or(0, item_size_bytes);
        bytes += size;
        let units = 2.0 * read_units(size, true);
        *consumed.entry(get.table.clone()).or_default() += units;
        let usage = Usage {
            write: false,
            units,
            index_units: &[],
            returned: u64::from(item.is_some()),
        };
        engine.charge(&get.table, &get.key, usage, now_ms);
        let item = match (&get.projection, item) {
            (Some(paths), Some(item)) => Some(project(&item, paths)),
            (_, item) => item,
        };
        responses.push(ItemResponse { item });
    }
    if bytes > TRANSACTION_BYTES_MAX {
        return Err(Error::transaction_too_large());
    }
    let consumed_capacity = (capacity != ReturnConsumedCapacity::None).then(|| {
        consumed
            .iter()
            .filter_map(|(table, units)| capacity.report(table, *units, true))
            .collect()
    });
    Ok(Response::TransactGetItems(TransactGetItemsOutput {
        responses,
        consumed_capacity,
    }))
}

/// The first round: each item's stamp and value, or the cancellation reasons (a Get of an
/// item a write transaction holds prepared, or a throttled Get).
fn first_round(
    engine: &mut Engine,
    gets: &[GetItem],
    now_ms: u64,
) -> std::result::Result<Vec<(Timestamp, Option<Item>)>, Vec<CancellationReason>> {
    let mut reasons = vec![CancellationReason::none(); gets.len()];
    let mut refused = false;
    let mut first = Vec::with_capacity(gets.len());
    for (i, get) in gets.iter().enumerate() {
        if let Err(error) = engine.admit(&get.table, &get.key, false, 1.0, None, now_ms) {
            reasons[i] = CancellationReason::from_error(error);
            refused = true;
            continue;
        }
        match engine.transactions.read(&get.table, &get.key) {
            Ok(stamp) => first.push((stamp, engine.table_by_name(&get.table).get(&get.key))),
            Err(_) => {
                reasons[i] = CancellationReason::conflict();
                refused = true;
            }
        }
    }
    if refused { Err(reasons) } else { Ok(first) }
}

fn validate(engine: &Engine, input: &TransactGetItemsInput, now_ms: u64) -> Result<Vec<GetItem>> {
    let mut errors = ConstraintErrors::new();
    errors.enumeration(
        &input.return_consumed_capacity,
        "returnConsumedCapacity",
        &RETURN_CONSUMED_CAPACITY,
    );
    match &input.transact_items {
        None => errors.push("null", "transactItems", constraint::NOT_NULL),
        Some(items) if items.is_empty() => {
            errors.list_not_empty(&input.transact_items, "transactItems")
        }
        Some(items) if items.len() > TRANSACTION_ACTIONS_MAX => {
            return Err(Error::transact_items_too_many());
        }
        Some(items) => {
            for (n, item) in items.iter().enumerate() {
                let path = format!("transactItems.{}.member.get", n + 1);
                match &item.get {
                    None => errors.push("null", &path, constraint::NOT_NULL),
                    Some(get) => {
                        errors.not_null(&get.table_name, &format!("{path}.tableName"));
                        errors.name(&get.table_name, &format!("{path}.tableName"), true);
                        errors.not_null(&get.key, &format!("{path}.key"));
                    }
                }
            }
        }
    }
    errors.into_result()?;
    let mut gets = Vec::new();
    let mut seen = std::collections::BTreeSet::new();
    for item in input.transact_items.iter().flatten() {
        let Some(get) = &item.get else { continue };
        let single = GetItemInput {
            table_name: get.table_name.clone(),
            key: get.key.clone(),
            consistent_read: Some(true),
            projection_expression: get.projection_expression.clone(),
            expression_attribute_names: get.expression_attribute_names.clone(),
            ..GetItemInput::default()
        };
        let plan = get_item::validate(engine, &single, now_ms)?;
        if !seen.insert((plan.table.clone(), plan.key.clone())) {
            return Err(Error::transaction_item_twice());
        }
        gets.push(plan);
    }
    Ok(gets)
}
