//! PutItem, GetItem, UpdateItem and DeleteItem: parse → resolve → validate → execute.
//! Everything that can fail is checked before the table changes.

use crate::api::*;
use crate::capacity::admission::Usage;
use crate::capacity::units::{ReturnConsumedCapacity, read_units, write_units};
use crate::data::table::WriteContext;
use crate::engine::{Engine, table_name_of};
use crate::error::{ConstraintErrors, Error, Result};
use crate::expr::eval::{evaluate, project};
use crate::expr::resolve::Placeholders;
use crate::expr::update::{apply, touched_paths};
use crate::expr::{
    ExpressionKind, ResolvedCondition, ResolvedPath, ResolvedUpdate, UpdateAction, legacy, parse,
};
use crate::limits::{ATTRIBUTE_NAME_SIZE_BYTES_MAX, ITEM_SIZE_BYTES_MAX};
use crate::types::item::{Item, item_size_bytes};
use std::collections::BTreeMap;

/// Checks a whole item from the wire: every value, every name.
pub fn check_item(raw: &RawItem) -> Result<Item> {
    let mut item = BTreeMap::new();
    for (name, value) in raw {
        if name.is_empty() {
            return Err(Error::invalid_parameter("Empty attribute name"));
        }
        if name.len() > ATTRIBUTE_NAME_SIZE_BYTES_MAX {
            return Err(Error::invalid_parameter(
                "Attribute name exceeds the maximum allowed length",
            ));
        }
        item.insert(name.clone(), value.check()?);
    }
    Ok(item)
}

pub(crate) const RETURN_CONSUMED_CAPACITY: [&str; 3] = ["INDEXES", "TOTAL", "NONE"];

/// The common shape checks of the single-item operations.
fn check_common(input: &WriteInput, return_values_allowed: &[&str]) -> Result<()> {
    let mut errors = ConstraintErrors::new();
    errors.name(&input.table_name, "tableName", true);
    errors.enumeration(
        &input.return_values,
        "returnValues",
        &["NONE", "ALL_OLD", "UPDATED_OLD", "ALL_NEW", "UPDATED_NEW"],
    );
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
    errors.enumeration(
        &input.return_values_on_condition_check_failure,
        "returnValuesOnConditionCheckFailure",
        &["ALL_OLD", "NONE"],
    );
    errors.enumeration(
        &input.conditional_operator,
        "conditionalOperator",
        &["AND", "OR"],
    );
    errors.into_result()?;
    if let Some(rv) = &input.return_values
        && !return_values_allowed.contains(&rv.as_str())
    {
        return Err(Error::validation(
            "ReturnValues can only be ALL_OLD or NONE",
        ));
    }
    Ok(())
}

/// Rejects requests that mix legacy and expression parameters (obs that the error exists).
pub(crate) fn check_no_mixing(legacy: &[(&str, bool)], expression: &[(&str, bool)]) -> Result<()> {
    let legacy: Vec<&str> = legacy
        .iter()
        .filter(|(_, set)| *set)
        .map(|(n, _)| *n)
        .collect();
    let expression: Vec<&str> = expression
        .iter()
        .filter(|(_, set)| *set)
        .map(|(n, _)| *n)
        .collect();
    if !legacy.is_empty() && !expression.is_empty() {
        return Err(Error::validation(format!(
            "Can not use both expression and non-expression parameters in the same request: Non-expression parameters: {{{}}} Expression parameters: {{{}}}",
            legacy.join(", "),
            expression.join(", ")
        )));
    }
    Ok(())
}

/// The condition of a write, from ConditionExpression or Expected.
fn write_condition(
    input: &WriteInput,
    placeholders: &mut Placeholders,
) -> Result<Option<ResolvedCondition>> {
    if let Some(text) = &input.condition_expression {
        let raw = parse::parse_condition(ExpressionKind::Condition, text)?;
        return Ok(Some(
            placeholders.condition(ExpressionKind::Condition, &raw)?,
        ));
    }
    if let Some(expected) = &input.expected {
        return legacy::expected(expected, input.conditional_operator.as_deref());
    }
    if input.conditional_operator.is_some() {
        return Err(Error::validation(
            "ConditionalOperator can only be used when Filter or Expected has two or more elements",
        ));
    }
    Ok(None)
}

fn placeholders_for(input: &WriteInput, expressions: &[(&str, bool)]) -> Result<Placeholders> {
    let any_expression = expressions.iter().any(|(_, set)| *set);
    if input.expression_attribute_names.is_some() && !any_expression {
        return Err(Error::validation(
            "ExpressionAttributeNames can only be specified when using expressions",
        ));
    }
    if input.expression_attribute_values.is_some() && !any_expression {
        let nulls: Vec<&str> = expressions.iter().map(|(n, _)| *n).collect();
        let verb = if nulls.len() == 1 { "is" } else { "are" };
        return Err(Error::validation(format!(
            "ExpressionAttributeValues can only be specified when using expressions: {} {verb} null",
            nulls.join(" and ")
        )));
    }
    Placeholders::new(
        input.expression_attribute_names.as_ref(),
        input.expression_attribute_values.as_ref(),
    )
}

fn condition_holds(condition: &Option<ResolvedCondition>, old: Option<&Item>) -> bool {
    let empty = Item::new();
    condition
        .as_ref()
        .is_none_or(|c| evaluate(c, old.unwrap_or(&empty)))
}

fn failure(input: &WriteInput, old: Option<Item>) -> Error {
    let return_old = input.return_values_on_condition_check_failure.as_deref() == Some("ALL_OLD");
    Error::conditional_check_failed(if return_old { old } else { None })
}

/// ItemCollectionMetrics for a single-item write, when asked for and when the table keeps
/// item collections.
fn collection_metrics(
    input: &WriteInput,
    table: &crate::data::table::Table,
    key_item: &Item,
) -> Option<ItemCollectionMetrics> {
    if input.return_item_collection_metrics.as_deref() != Some("SIZE") {
        return None;
    }
    table.item_collection_metrics(key_item.get(&table.key_schema.hash.name)?)
}

/// The checks PutItem and DeleteItem share, in AWS's order, and their resolved condition.
fn put_or_delete_condition(input: &WriteInput) -> Result<Option<ResolvedCondition>> {
    check_common(input, &["NONE", "ALL_OLD"])?;
    check_no_mixing(
        &[
            ("Expected", input.expected.is_some()),
            ("ConditionalOperator", input.conditional_operator.is_some()),
        ],
        &[("ConditionExpression", input.condition_expression.is_some())],
    )?;
    let mut placeholders = placeholders_for(
        input,
        &[("ConditionExpression", input.condition_expression.is_some())],
    )?;
    let condition = write_condition(input, &mut placeholders)?;
    placeholders.finish()?;
    Ok(condition)
}

impl Engine {
    pub(crate) fn put_item(&mut self, input: &WriteInput, now_ms: u64) -> Result<Response> {
        let condition = put_or_delete_condition(input)?;
        let Some(raw_item) = &input.item else {
            return Err(Error::required("Item"));
        };
        let item = check_item(raw_item)?;
        let name = table_name_of(input.table_name.as_deref().expect("checked"));
        let key = {
            let table = self.table_for_data(name, now_ms)?;
            let key = table.key_schema.item_key(&item)?;
            table.check_index_keys(&item)?;
            key
        };
        let new_size = item_size_bytes(&item);
        if new_size > ITEM_SIZE_BYTES_MAX {
            return Err(Error::item_too_large());
        }
        let (table, context) = self.begin_write(name, &key, now_ms)?;
        let old = table.get(&key);
        let old_size = old.as_ref().map_or(0, item_size_bytes);
        if !condition_holds(&condition, old.as_ref()) {
            self.charge_failed_write(name, &key, old.as_ref(), now_ms);
            return Err(failure(input, old));
        }
        let units = write_units(new_size.max(old_size));
        let index_writes = table.put(key.clone(), &item, old.as_ref(), &context);
        let attributes = if input.return_values.as_deref() == Some("ALL_OLD") {
            old
        } else {
            None
        };
        let output = ItemOutput {
            attributes,
            consumed_capacity: ReturnConsumedCapacity::parse(
                input.return_consumed_capacity.as_deref(),
            )
            .report_write(&table.name, units, &index_writes),
            item_collection_metrics: collection_metrics(input, table, &item),
            ..ItemOutput::default()
        };
        self.charge_write(name, &key, units, &index_writes, now_ms);
        Ok(Response::Item(output))
    }

    /// Admits a single-item write and returns its table and write context.
    fn begin_write(
        &mut self,
        name: &str,
        key: &[u8],
        now_ms: u64,
    ) -> Result<(&mut crate::data::table::Table, WriteContext<'_>)> {
        self.admit(name, key, true, 1.0, None, now_ms)?;
        let lags = self.realism.lags(name);
        let gsi_lag_ms = self.realism.gsi_lag(name);
        let (table, limits) = self.table_and_limits(name);
        Ok((
            table,
            WriteContext {
                now_ms,
                lags,
                gsi_lag_ms,
                limits,
            },
        ))
    }

    /// A failed condition still consumes write capacity: the existing item's size, or one
    /// unit when there is none.
    fn charge_failed_write(&mut self, name: &str, key: &[u8], old: Option<&Item>, now_ms: u64) {
        let usage = Usage {
            write: true,
            units: write_units(old.map_or(0, item_size_bytes)),
            index_units: &[],
            returned: 0,
        };
        self.charge(name, key, usage, now_ms);
    }

    /// Charges a write: the table pays for itself and its LSIs, each GSI for itself.
    pub(crate) fn charge_write(
        &mut self,
        name: &str,
        key: &[u8],
        units: f64,
        index_writes: &crate::data::table::IndexWrites,
        now_ms: u64,
    ) {
        let local: f64 = index_writes
            .iter()
            .filter(|(_, global, _)| !global)
            .map(|(_, _, u)| u)
            .sum();
        let global: Vec<(&str, f64)> = index_writes
            .iter()
            .filter(|(_, global, _)| *global)
            .map(|(n, _, u)| (n.as_str(), *u))
            .collect();
        self.charge(
            name,
            key,
            Usage {
                write: true,
                units: units + local,
                index_units: &global,
                returned: 0,
            },
            now_ms,
        );
    }

    pub(crate) fn delete_item(&mut self, input: &WriteInput, now_ms: u64) -> Result<Response> {
        let condition = put_or_delete_condition(input)?;
        let Some(raw_key) = &input.key else {
            return Err(Error::required("Key"));
        };
        let key_item = check_item(raw_key)?;
        let name = table_name_of(input.table_name.as_deref().expect("checked"));
        let key = self
            .table_for_data(name, now_ms)?
            .key_schema
            .key_parameter(&key_item)?;
        let (table, context) = self.begin_write(name, &key, now_ms)?;
        let old = table.get(&key);
        let units = write_units(old.as_ref().map_or(0, item_size_bytes));
        if !condition_holds(&condition, old.as_ref()) {
            self.charge_failed_write(name, &key, old.as_ref(), now_ms);
            return Err(failure(input, old));
        }
        let (_, index_writes) = table.delete(&key, &context);
        let attributes = if input.return_values.as_deref() == Some("ALL_OLD") {
            old
        } else {
            None
        };
        let output = ItemOutput {
            attributes,
            consumed_capacity: ReturnConsumedCapacity::parse(
                input.return_consumed_capacity.as_deref(),
            )
            .report_write(&table.name, units, &index_writes),
            item_collection_metrics: collection_metrics(input, table, &key_item),
            ..ItemOutput::default()
        };
        self.charge_write(name, &key, units, &index_writes, now_ms);
        Ok(Response::Item(output))
    }

    pub(crate) fn update_item(&mut self, input: &WriteInput, now_ms: u64) -> Result<Response> {
        check_common(
            input,
            &["NONE", "ALL_OLD", "UPDATED_OLD", "ALL_NEW", "UPDATED_NEW"],
        )?;
        check_no_mixing(
            &[
                ("AttributeUpdates", input.attribute_updates.is_some()),
                ("Expected", input.expected.is_some()),
                ("ConditionalOperator", input.conditional_operator.is_some()),
            ],
            &[
                ("UpdateExpression", input.update_expression.is_some()),
                ("ConditionExpression", input.condition_expression.is_some()),
            ],
        )?;
        let mut placeholders = placeholders_for(
            input,
            &[
                ("UpdateExpression", input.update_expression.is_some()),
                ("ConditionExpression", input.condition_expression.is_some()),
            ],
        )?;
        let actions: ResolvedUpdate = match (&input.update_expression, &input.attribute_updates) {
            (Some(text), _) => placeholders.update(&parse::parse_update(text)?)?,
            (None, Some(updates)) => legacy::attribute_updates(updates)?,
            (None, None) => Vec::new(),
        };
        let condition = write_condition(input, &mut placeholders)?;
        placeholders.finish()?;
        let Some(raw_key) = &input.key else {
            return Err(Error::required("Key"));
        };
        let key_item = check_item(raw_key)?;
        let name = table_name_of(input.table_name.as_deref().expect("checked"));
        let key = {
            let table = self.table_for_data(name, now_ms)?;
            let key = table.key_schema.key_parameter(&key_item)?;
            for action in &actions {
                let top = action.path().top();
                if table.key_schema.is_key_attribute(top) {
                    return Err(Error::invalid_parameter(format!(
                        "Cannot update attribute {top}. This attribute is part of the key"
                    )));
                }
            }
            key
        };
        let (table, context) = self.begin_write(name, &key, now_ms)?;
        let old = table.get(&key);
        if !condition_holds(&condition, old.as_ref()) {
            self.charge_failed_write(name, &key, old.as_ref(), now_ms);
            return Err(failure(input, old));
        }
        let existed = old.is_some();
        let base = old.clone().unwrap_or_else(|| key_item.clone());
        let new = apply(&base, existed, &actions)?;
        let new_size = item_size_bytes(&new);
        if new_size > ITEM_SIZE_BYTES_MAX {
            return Err(Error::update_too_large());
        }
        let creates = actions.is_empty()
            || actions.iter().any(|a| {
                matches!(
                    a,
                    UpdateAction::Set(..) | UpdateAction::Add(..) | UpdateAction::LegacyAdd(..)
                )
            });
        let units = write_units(new_size.max(old.as_ref().map_or(0, item_size_bytes)));
        let mut index_writes = Vec::new();
        if existed || creates {
            table.check_index_keys(&new)?;
            index_writes = table.put(key.clone(), &new, old.as_ref(), &context);
        }
        let touched: Vec<ResolvedPath> = touched_paths(&actions);
        let non_empty = |item: Item| (!item.is_empty()).then_some(item);
        let attributes = match input.return_values.as_deref() {
            Some("ALL_OLD") => old,
            Some("ALL_NEW") => (existed || creates).then_some(new),
            Some("UPDATED_OLD") => old.as_ref().and_then(|o| non_empty(project(o, &touched))),
            Some("UPDATED_NEW") => (existed || creates)
                .then(|| project(&new, &touched))
                .and_then(non_empty),
            _ => None,
        };
        let output = ItemOutput {
            attributes,
            consumed_capacity: ReturnConsumedCapacity::parse(
                input.return_consumed_capacity.as_deref(),
            )
            .report_write(&table.name, units, &index_writes),
            item_collection_metrics: collection_metrics(input, table, &key_item),
            ..ItemOutput::default()
        };
        self.charge_write(name, &key, units, &index_writes, now_ms);
        Ok(Response::Item(output))
    }

    pub(crate) fn get_item(&mut self, input: &GetItemInput, now_ms: u64) -> Result<Response> {
        let mut errors = ConstraintErrors::new();
        errors.name(&input.table_name, "tableName", true);
        errors.enumeration(
            &input.return_consumed_capacity,
            "returnConsumedCapacity",
            &RETURN_CONSUMED_CAPACITY,
        );
        errors.into_result()?;
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
            return Err(Error::required("Key"));
        };
        let key_item = check_item(raw_key)?;
        let name = table_name_of(input.table_name.as_deref().expect("checked"));
        let key = self
            .table_for_data(name, now_ms)?
            .key_schema
            .key_parameter(&key_item)?;
        let consistent = input.consistent_read.unwrap_or(false);
        self.admit(name, &key, false, read_units(0, consistent), None, now_ms)?;
        let zone = if consistent {
            None
        } else {
            self.realism.read_zone(name)
        };
        let (table, _) = self.table_and_limits(name);
        let item = match zone {
            Some(zone) => table.get_from(zone, &key, now_ms),
            None => table.get(&key),
        };
        let units = read_units(item.as_ref().map_or(0, item_size_bytes), consistent);
        let found = u64::from(item.is_some());
        let item = match (&projection, item) {
            (Some(paths), Some(item)) => Some(project(&item, paths)),
            (_, item) => item,
        };
        let consumed_capacity = ReturnConsumedCapacity::parse(
            input.return_consumed_capacity.as_deref(),
        )
        .report(&table.name, units, true);
        self.charge(
            name,
            &key,
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
}

/// A read's projection from ProjectionExpression or AttributesToGet, with its names checked.
pub(crate) fn projection_of(
    expression: Option<&str>,
    attributes_to_get: Option<&[String]>,
    names: Option<&BTreeMap<String, String>>,
) -> Result<Option<Vec<ResolvedPath>>> {
    if names.is_some() && expression.is_none() {
        return Err(Error::validation(
            "ExpressionAttributeNames can only be specified when using expressions",
        ));
    }
    let mut placeholders = Placeholders::new(names, None)?;
    let projection = match (expression, attributes_to_get) {
        (Some(text), _) => Some(placeholders.projection(&parse::parse_projection(text)?)?),
        (None, Some(names)) => Some(legacy::attributes_to_get(names)?),
        (None, None) => None,
    };
    placeholders.finish()?;
    Ok(projection)
}
