//! GetItem: validate into a [`GetItem`] plan, admit, read (from a replica when eventually
//! consistent), charge, respond.

use super::common::{RETURN_CONSUMED_CAPACITY, check_item, check_no_mixing, projection_of};
use crate::api::{GetItemInput, ItemOutput, Response};
use crate::capacity::admission::Usage;
use crate::capacity::units::{ReturnConsumedCapacity, read_units};
use crate::engine::{Engine, table_name_of};
use crate::error::{ConstraintErrors, Result};
use crate::expr::ResolvedPath;
use crate::expr::eval::project;
use crate::types::item::item_size_bytes;

/// A checked GetItem.
#[derive(Debug)]
pub(crate) struct GetItem {
    pub(crate) table: String,
    pub(crate) key: Box<[u8]>,
    consistent: bool,
    pub(crate) projection: Option<Vec<ResolvedPath>>,
    pub(crate) capacity: ReturnConsumedCapacity,
}

pub(crate) fn execute(engine: &mut Engine, input: &GetItemInput, now_ms: u64) -> Result<Response> {
    let plan = validate(engine, input, now_ms)?;
    let consistent = plan.consistent;
    engine.admit(
        &plan.table,
        &plan.key,
        false,
        read_units(0, consistent),
        None,
        now_ms,
    )?;
    let zone = if consistent {
        None
    } else {
        engine.realism.read_zone(&plan.table)
    };
    let (table, _) = engine.table_and_limits(&plan.table);
    let item = match zone {
        Some(zone) => table.get_from(zone, &plan.key, now_ms),
        None => table.get(&plan.key),
    };
    let units = read_units(item.as_ref().map_or(0, item_size_bytes), consistent);
    let found = u64::from(item.is_some());
    let item = match (&plan.projection, item) {
        (Some(paths), Some(item)) => Some(project(&item, paths)),
        (_, item) => item,
    };
    let consumed_capacity = plan.capacity.report(&table.name, units, true);
    engine.charge(
        &plan.table,
        &plan.key,
        Usage {
            write: false,
            units,
            index_units: &[],
            returned: found,
        },
        now_ms,
    );
    Ok(Response::Item(ItemOutput {
        item,
        consumed_capacity,
        ..ItemOutput::default()
    }))
}

pub(crate) fn validate(engine: &Engine, input: &GetItemInput, now_ms: u64) -> Result<GetItem> {
    // The order dynalite's exact-match test recorded from the service.
    let mut errors = ConstraintErrors::new();
    errors.enumeration(
        &input.return_consumed_capacity,
        "returnConsumedCapacity",
        &RETURN_CONSUMED_CAPACITY,
    );
    errors.table_name(&input.table_name, true);
    errors.not_null(&input.key, "key");
    errors.list_not_empty(&input.attributes_to_get, "attributesToGet");
    let name = errors.into_result_with(input.table_name.as_deref())?;
    check_no_mixing(
        &[("AttributesToGet", input.attributes_to_get.is_some())],
        &[(
            "ProjectionExpression",
            input.projection_expression.is_some(),
        )],
    )?;
    let projection = projection_of(
        input.projection_expression.as_deref(),
        input.attributes_to_get.as_deref(),
        input.expression_attribute_names.as_ref(),
    )?;
    let Some(raw_key) = &input.key else {
        return Err(crate::error::Error::internal());
    };
    let key_item = check_item(raw_key)?;
    let name = table_name_of(name);
    let key = engine
        .table_for_data(name, now_ms)?
        .key_schema
        .key_parameter(&key_item)?;
    Ok(GetItem {
        table: name.to_string(),
        key,
        consistent: input.consistent_read.unwrap_or(false),
        projection,
        capacity: ReturnConsumedCapacity::parse(input.return_consumed_capacity.as_deref()),
    })
}
