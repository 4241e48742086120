//! Query: one page of an item collection (of the table or an index) selected by a key
//! condition, in sort-key order or reversed, filtered and projected.

use super::paging::{self, Read};
use crate::api::{QueryInput, Response};
use crate::data::index::Index;
use crate::data::page::sort_range;
use crate::engine::{Engine, table_name_of};
use crate::error::{Error, Result};
use crate::expr::key_condition::{
    KeyCondition, analyse_key_condition, check_key_condition_shape,
    check_legacy_key_conditions_shape, legacy_key_condition, top_level_names,
};
use crate::expr::legacy;
use crate::types::index_keys::IndexKeySchema;

pub(crate) fn execute(engine: &mut Engine, input: &QueryInput, now_ms: u64) -> Result<Response> {
    let name = paging::check_constraints(input).into_result_with(input.table_name.as_deref())?;
    paging::check_no_mixing(input, "QueryFilter", &input.query_filter)?;
    paging::check_select(input)?;
    paging::check_expression_members(
        input,
        &input.query_filter,
        &["KeyConditionExpression", "FilterExpression"],
    )?;
    // The legacy filter and AttributesToGet are checked before the key condition's presence
    // (dynalite's tests of the service); `paging::resolve` builds them again below.
    if let Some(filter) = &input.query_filter {
        legacy::filter("queryFilter", filter, input.conditional_operator.as_deref())?;
    }
    if let Some(names) = &input.attributes_to_get {
        legacy::attributes_to_get(names)?;
    }
    if input.key_condition_expression.is_none() && input.key_conditions.is_none() {
        return Err(Error::key_condition_required());
    }
    let expressions = paging::resolve(input, &input.query_filter, true)?;
    let on_index = input.index_name.is_some();
    let condition_count = match (&expressions.key_condition, &input.key_conditions) {
        (Some(condition), _) => check_key_condition_shape(condition, on_index)?,
        (None, Some(conditions)) => {
            check_legacy_key_conditions_shape(conditions, on_index)?;
            conditions.len()
        }
        (None, None) => 0,
    };
    let zone = paging::open(engine, input, table_name_of(name), now_ms);
    let table = engine.table_for_data(name, now_ms)?;
    let index = paging::find_index(table, input, expressions.projection.as_deref(), now_ms)?;
    let schema: IndexKeySchema = index.map_or_else(
        || IndexKeySchema::from(&table.key_schema),
        |i| i.key_schema.clone(),
    );
    let key = key_condition(input, &expressions, &schema, index, condition_count)?;
    if let Some(filter) = &expressions.filter {
        let mut names = Vec::new();
        top_level_names(filter, &mut names);
        if let Some(key_name) = names.iter().find(|n| schema.is_key_attribute(n)) {
            let parameter = if input.filter_expression.is_some() {
                "Filter Expression"
            } else {
                "QueryFilter"
            };
            return Err(Error::filter_on_key_attribute(parameter, key_name));
        }
    }
    let forward = input.scan_index_forward.unwrap_or(true);
    let mut range = sort_range(&schema, &key, index.is_some());
    paging::apply_start_key(input, table, index, Some(&key), &mut range, forward)?;
    let read = Read {
        table,
        index,
        zone,
        range,
        forward,
        expressions: &expressions,
    };
    let page = paging::read(engine, input, read);
    paging::respond(engine, input, page, now_ms)
}

/// The key condition checked against the key schema of the table or index read.
fn key_condition(
    input: &QueryInput,
    expressions: &paging::Expressions,
    schema: &IndexKeySchema,
    index: Option<&Index>,
    condition_count: usize,
) -> Result<KeyCondition> {
    // More than two conditions passed the shape checks only because they name an index: a
    // single-attribute one has room for two.
    if condition_count > 2 && !schema.is_multi_attribute() {
        return Err(Error::key_conditions_too_many());
    }
    match (&expressions.key_condition, &input.key_conditions) {
        (Some(condition), _) => analyse_key_condition(condition, schema),
        (None, Some(_)) if schema.is_multi_attribute() => {
            let index_name = index.map_or("", |i| i.name.as_str());
            Err(Error::key_conditions_multi_attribute(index_name))
        }
        (None, Some(conditions)) => legacy_key_condition(conditions, schema),
        (None, None) => Err(Error::key_condition_required()),
    }
}
