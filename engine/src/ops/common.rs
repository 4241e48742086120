//! Checks shared by several operations: items from the wire, the common enumerations, the
//! legacy/expression mixing rule, placeholders, write conditions and read projections.

use crate::api::{RawItem, WriteInput};
use crate::error::{ConstraintErrors, Error, Result, constraint};
use crate::expr::eval::evaluate;
use crate::expr::resolve::Placeholders;
use crate::expr::{ExpressionKind, ResolvedCondition, ResolvedPath, legacy, parse};
use crate::limits::ATTRIBUTE_NAME_SIZE_BYTES_MAX;
use crate::types::item::Item;
use std::collections::BTreeMap;

pub(crate) const RETURN_CONSUMED_CAPACITY: [&str; 3] = ["INDEXES", "TOTAL", "NONE"];

/// ConditionalOperator's values in the order the service prints them (dynalite's tests).
pub(crate) const CONDITIONAL_OPERATORS: [&str; 2] = ["OR", "AND"];

/// Checks a whole item from the wire: every value, every name.
pub fn check_item(raw: &RawItem) -> Result<Item> {
    let mut item = BTreeMap::new();
    for (name, value) in raw {
        if name.is_empty() {
            return Err(Error::item_attribute_name_empty());
        }
        if name.len() > ATTRIBUTE_NAME_SIZE_BYTES_MAX {
            return Err(Error::item_attribute_name_too_long());
        }
        item.insert(name.clone(), value.check()?);
    }
    Ok(item)
}

/// The common shape checks of the single-item writes. Returns the plain table name.
/// `required` names the operation's required map (`item` or `key`) and whether it is present:
/// absent, it is a constraint failure among the others (dynalite's tests, written against the
/// service).
pub(crate) fn check_common<'a>(
    input: &'a WriteInput,
    return_values_allowed: &[&str],
    required: (&str, bool),
) -> Result<&'a str> {
    // The order dynalite's exact-match DeleteItem and PutItem tests recorded from the
    // service: PutItem's item comes right after the table name, a key after the enumerations.
    let mut errors = ConstraintErrors::new();
    errors.enumeration(
        &input.return_consumed_capacity,
        "returnConsumedCapacity",
        &RETURN_CONSUMED_CAPACITY,
    );
    errors.table_name(&input.table_name, true);
    let (required_path, present) = required;
    let item_first = required_path == "item";
    if item_first && !present {
        errors.push("null", required_path, constraint::NOT_NULL);
    }
    // Enumerations are listed in the order the service prints them (dynalite's tests).
    errors.enumeration(
        &input.return_values,
        "returnValues",
        &["ALL_NEW", "UPDATED_OLD", "ALL_OLD", "NONE", "UPDATED_NEW"],
    );
    errors.enumeration(
        &input.return_item_collection_metrics,
        "returnItemCollectionMetrics",
        &["SIZE", "NONE"],
    );
    if !item_first && !present {
        errors.push("null", required_path, constraint::NOT_NULL);
    }
    errors.enumeration(
        &input.return_values_on_condition_check_failure,
        "returnValuesOnConditionCheckFailure",
        &["ALL_OLD", "NONE"],
    );
    errors.enumeration(
        &input.conditional_operator,
        "conditionalOperator",
        &CONDITIONAL_OPERATORS,
    );
    let table_name = errors.into_result_with(input.table_name.as_deref())?;
    if let Some(rv) = &input.return_values
        && !return_values_allowed.contains(&rv.as_str())
    {
        return Err(Error::return_values_invalid());
    }
    Ok(crate::engine::table_name_of(table_name))
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
        return Err(Error::expression_and_legacy_mixed(
            &legacy.join(", "),
            &expression.join(", "),
        ));
    }
    Ok(())
}

/// The condition of a write, from ConditionExpression or Expected.
pub(crate) fn write_condition(
    input: &WriteInput,
    placeholders: &mut Placeholders,
) -> Result<Option<ResolvedCondition>> {
    if let Some(text) = &input.condition_expression {
        let raw = parse::parse_condition(ExpressionKind::Condition, text)?;
        return Ok(Some(
            placeholders.condition(ExpressionKind::Condition, &raw)?,
        ));
    }
    // An empty Expected is accepted and conditions nothing, but not with a ConditionalOperator
    // (obs: Alternator's test_update_expected_empty, written against the service).
    if let Some(expected) = input.expected.as_ref().filter(|e| !e.is_empty()) {
        return legacy::expected(expected, input.conditional_operator.as_deref());
    }
    if input.conditional_operator.is_some() {
        return Err(Error::conditional_operator_unused());
    }
    Ok(None)
}

pub(crate) fn placeholders_for(
    input: &WriteInput,
    expressions: &[(&str, bool)],
) -> Result<Placeholders> {
    let any_expression = expressions.iter().any(|(_, set)| *set);
    if input.expression_attribute_names.is_some() && !any_expression {
        return Err(Error::expression_attribute_names_without_expressions());
    }
    if input.expression_attribute_values.is_some() && !any_expression {
        let nulls: Vec<&str> = expressions.iter().map(|(n, _)| *n).collect();
        return Err(Error::expression_attribute_values_without_expressions(
            &nulls,
        ));
    }
    Placeholders::new(
        input.expression_attribute_names.as_ref(),
        input.expression_attribute_values.as_ref(),
    )
}

/// Whether a write's condition holds on the item it read (no condition always holds).
pub(crate) fn condition_holds(condition: &Option<ResolvedCondition>, old: Option<&Item>) -> bool {
    let empty = Item::new();
    condition
        .as_ref()
        .is_none_or(|c| evaluate(c, old.unwrap_or(&empty)))
}

/// A read's projection from ProjectionExpression or AttributesToGet, with its names checked.
pub(crate) fn projection_of(
    expression: Option<&str>,
    attributes_to_get: Option<&[String]>,
    names: Option<&BTreeMap<String, String>>,
) -> Result<Option<Vec<ResolvedPath>>> {
    if names.is_some() && expression.is_none() {
        return Err(Error::expression_attribute_names_without_expressions());
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
