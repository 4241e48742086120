//! The legacy (pre-expression) parameters, translated into the same resolved trees the
//! expression languages produce: `Expected`, `KeyConditions`, `QueryFilter`/`ScanFilter`
//! with `ConditionalOperator`, `AttributeUpdates` and `AttributesToGet`.

use super::ast::*;
use crate::api::{AttributeValueUpdate, ExpectedValue, LegacyCondition};
use crate::error::{Error, Result};
use crate::types::value::{RawValue, Value, ValueType};
use std::collections::BTreeMap;

/// The legacy comparison operators, in the order the service lists them in its enumeration
/// message (dynalite's tests, written against the service).
const OPERATORS: [&str; 13] = [
    "IN",
    "NULL",
    "BETWEEN",
    "LT",
    "NOT_CONTAINS",
    "EQ",
    "GT",
    "NOT_NULL",
    "NE",
    "LE",
    "BEGINS_WITH",
    "GE",
    "CONTAINS",
];

fn path(name: &str) -> ResolvedPath {
    ResolvedPath::attribute(name)
}

fn type_error(operator: &str, value: &Value) -> Error {
    Error::comparison_operator_type_invalid(operator, value.value_type().name())
}

/// How many AttributeValueList values each operator takes: none for NULL and NOT_NULL, two
/// for BETWEEN, at least one for IN, one for the rest.
fn check_argument_count(operator: &str, count: usize) -> Result<()> {
    let fits = match operator {
        "NOT_NULL" | "NULL" => count == 0,
        "BETWEEN" => count == 2,
        "IN" => count > 0,
        _ => count == 1,
    };
    if fits {
        Ok(())
    } else {
        Err(Error::comparison_argument_count_wrong(operator))
    }
}

/// Rejects an operator outside the enumeration; `member` is the request member the condition
/// is in (`expected`, `queryFilter`, `scanFilter`, `keyConditions`), for the message's path.
pub fn check_operator(member: &str, name: &str, operator: &str) -> Result<()> {
    if OPERATORS.contains(&operator) {
        return Ok(());
    }
    Err(Error::comparison_operator_invalid(
        &format!("{member}.{name}.member.comparisonOperator"),
        operator,
        &OPERATORS.join(", "),
    ))
}

/// One legacy comparison of attribute `name`, in request member `member`.
pub fn comparison(
    member: &str,
    name: &str,
    operator: &str,
    raw_values: &[RawValue],
) -> Result<ResolvedCondition> {
    check_operator(member, name, operator)?;
    let values = raw_values
        .iter()
        .map(RawValue::check)
        .collect::<Result<Vec<_>>>()?;
    check_argument_count(operator, values.len())?;
    // DynamoDB checks that every value has the first one's type before it checks the
    // operator's types (dynalite's validateConditions, written against the service).
    if let Some(first) = values.first()
        && values.iter().any(|v| v.value_type() != first.value_type())
    {
        return Err(Error::comparison_values_type_differ());
    }
    let scalar = |v: &Value| matches!(v.value_type(), ValueType::S | ValueType::N | ValueType::B);
    let attribute = Operand::Path(path(name));
    let value = |v: &Value| Operand::Value(v.clone());
    Ok(match operator {
        "EQ" | "NE" => {
            let comparator = if operator == "EQ" {
                Comparator::Eq
            } else {
                Comparator::Ne
            };
            Condition::Compare(comparator, attribute, value(&values[0]))
        }
        "LE" | "LT" | "GE" | "GT" => {
            if !scalar(&values[0]) {
                return Err(type_error(operator, &values[0]));
            }
            let comparator = match operator {
                "LE" => Comparator::Le,
                "LT" => Comparator::Lt,
                "GE" => Comparator::Ge,
                _ => Comparator::Gt,
            };
            Condition::Compare(comparator, attribute, value(&values[0]))
        }
        "NOT_NULL" => Condition::Function(FunctionName::AttributeExists, vec![attribute]),
        "NULL" => Condition::Function(FunctionName::AttributeNotExists, vec![attribute]),
        "CONTAINS" | "NOT_CONTAINS" => {
            if !scalar(&values[0]) {
                return Err(type_error(operator, &values[0]));
            }
            let contains = Condition::Function(
                FunctionName::Contains,
                vec![attribute.clone(), value(&values[0])],
            );
            if operator == "CONTAINS" {
                contains
            } else {
                // Unlike `NOT contains(...)`, NOT_CONTAINS is false for a missing attribute
                // (Alternator's check_NOT_CONTAINS, written against the service).
                let exists = Condition::Function(FunctionName::AttributeExists, vec![attribute]);
                Condition::And(
                    Box::new(exists),
                    Box::new(Condition::Not(Box::new(contains))),
                )
            }
        }
        "BEGINS_WITH" => {
            if !matches!(values[0].value_type(), ValueType::S | ValueType::B) {
                return Err(type_error(operator, &values[0]));
            }
            Condition::Function(FunctionName::BeginsWith, vec![attribute, value(&values[0])])
        }
        "IN" => {
            if let Some(bad) = values.iter().find(|v| !scalar(v)) {
                return Err(type_error(operator, bad));
            }
            Condition::In(attribute, values.iter().map(value).collect())
        }
        "BETWEEN" => {
            let (low, high) = (&values[0], &values[1]);
            if !scalar(low) {
                return Err(type_error(operator, low));
            }
            if low.compare(high) == Some(std::cmp::Ordering::Greater) {
                return Err(Error::comparison_between_bounds_reversed());
            }
            Condition::Between(attribute, value(low), value(high))
        }
        _ => unreachable!("operator checked above"),
    })
}

fn combine(
    conditions: Vec<ResolvedCondition>,
    operator: Option<&str>,
) -> Result<Option<ResolvedCondition>> {
    let or = match operator {
        None | Some("AND") => false,
        Some("OR") => true,
        Some(other) => {
            return Err(Error::conditional_operator_invalid(other));
        }
    };
    Ok(conditions.into_iter().reduce(|a, b| {
        if or {
            Condition::Or(Box::new(a), Box::new(b))
        } else {
            Condition::And(Box::new(a), Box::new(b))
        }
    }))
}

/// One `Expected` entry, its members checked in dynalite's order (written against the
/// service): Value with AttributeValueList first, then the operator's companions.
fn expected_entry(name: &str, entry: &ExpectedValue) -> Result<ResolvedCondition> {
    if entry.value.is_some() && entry.attribute_value_list.is_some() {
        return Err(Error::expected_value_with_list(name));
    }
    if let Some(comparison_operator) = &entry.comparison_operator {
        if entry.exists.is_some() {
            return Err(Error::expected_exists_with_operator(name));
        }
        let values = match (&entry.value, &entry.attribute_value_list) {
            (Some(v), _) => vec![v.clone()],
            (None, Some(list)) => list.clone(),
            (None, None)
                if OPERATORS.contains(&comparison_operator.as_str())
                    && !matches!(comparison_operator.as_str(), "NULL" | "NOT_NULL") =>
            {
                return Err(Error::expected_values_missing(comparison_operator, name));
            }
            (None, None) => Vec::new(),
        };
        return comparison("expected", name, comparison_operator, &values);
    }
    if entry.attribute_value_list.is_some() {
        return Err(Error::expected_list_without_operator(name));
    }
    Ok(match (entry.exists, &entry.value) {
        (Some(false), Some(_)) => return Err(Error::expected_value_with_exists_false(name)),
        (Some(false), None) => Condition::Function(
            FunctionName::AttributeNotExists,
            vec![Operand::Path(path(name))],
        ),
        (_, Some(v)) => Condition::Compare(
            Comparator::Eq,
            Operand::Path(path(name)),
            Operand::Value(v.check()?),
        ),
        (exists, None) => return Err(Error::expected_value_missing(name, exists)),
    })
}

/// `Expected` with its `ConditionalOperator`.
pub fn expected(
    entries: &BTreeMap<String, ExpectedValue>,
    operator: Option<&str>,
) -> Result<Option<ResolvedCondition>> {
    let mut conditions = Vec::new();
    for (name, entry) in entries {
        conditions.push(expected_entry(name, entry)?);
    }
    combine(conditions, operator)
}

/// `QueryFilter` / `ScanFilter` (`member`: `queryFilter` or `scanFilter`) with their
/// `ConditionalOperator`.
pub fn filter(
    member: &str,
    entries: &BTreeMap<String, LegacyCondition>,
    operator: Option<&str>,
) -> Result<Option<ResolvedCondition>> {
    let mut conditions = Vec::new();
    for (name, entry) in entries {
        let Some(comparison_operator) = &entry.comparison_operator else {
            return Err(Error::filter_comparison_operator_missing(member, name));
        };
        conditions.push(comparison(
            member,
            name,
            comparison_operator,
            entry.attribute_value_list.as_deref().unwrap_or(&[]),
        )?);
    }
    combine(conditions, operator)
}

/// `AttributeUpdates` as update actions.
pub fn attribute_updates(
    entries: &BTreeMap<String, AttributeValueUpdate>,
) -> Result<ResolvedUpdate> {
    let mut actions = Vec::new();
    for (name, entry) in entries {
        let action = entry.action.as_deref().unwrap_or("PUT");
        let value = entry.value.as_ref().map(RawValue::check).transpose()?;
        actions.push(match (action, value) {
            ("PUT", Some(v)) => {
                UpdateAction::Set(path(name), SetValue::Operand(SetOperand::Value(v)))
            }
            ("DELETE", None) => UpdateAction::Remove(path(name)),
            ("DELETE", Some(v)) => {
                if !matches!(
                    v.value_type(),
                    ValueType::Ss | ValueType::Ns | ValueType::Bs
                ) {
                    return Err(Error::attribute_update_delete_type_invalid(
                        v.value_type().name(),
                    ));
                }
                UpdateAction::Delete(path(name), v)
            }
            ("ADD", Some(v)) => {
                if !matches!(
                    v.value_type(),
                    ValueType::N | ValueType::Ss | ValueType::Ns | ValueType::Bs | ValueType::L
                ) {
                    return Err(Error::attribute_update_add_type_invalid(
                        v.value_type().name(),
                    ));
                }
                UpdateAction::LegacyAdd(path(name), v)
            }
            ("PUT" | "ADD", None) => {
                return Err(Error::attribute_update_value_missing());
            }
            (other, _) => {
                return Err(Error::attribute_update_action_invalid(other, name));
            }
        });
    }
    Ok(actions)
}

/// `AttributesToGet` as projection paths (top-level names, taken literally).
pub fn attributes_to_get(names: &[String]) -> Result<Vec<ResolvedPath>> {
    let mut seen = std::collections::BTreeSet::new();
    for name in names {
        if !seen.insert(name) {
            return Err(Error::attribute_name_duplicate(name));
        }
    }
    Ok(names.iter().map(|n| path(n)).collect())
}
