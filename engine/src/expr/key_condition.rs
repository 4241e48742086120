//! Key conditions: a Query's KeyConditionExpression or legacy KeyConditions, checked against
//! the key schema of the table or index it reads, as the partition key value (one per partition
//! key attribute of a multi-attribute GSI key) and an optional condition on the sort key (for a
//! multi-attribute sort key: `=` on its first attributes, left to right without a gap, and any
//! sort key condition on the last one used).

use crate::api::LegacyCondition;
use crate::error::{Error, Result};
use crate::expr::{
    Comparator, Condition, FunctionName, Operand, PathElement, ResolvedCondition, ResolvedOperand,
    legacy,
};
use crate::types::index_keys::IndexKeySchema;
use crate::types::value::Value;

/// A condition on the sort key, already checked against the schema.
#[derive(Clone, Debug, PartialEq)]
pub enum SortCondition {
    Compare(Comparator, Value),
    Between(Value, Value),
    BeginsWith(Value),
}

/// A Query's key condition: the partition and an optional sort-key condition.
#[derive(Clone, Debug, PartialEq)]
pub struct KeyCondition {
    /// The value of each partition key attribute, in key schema order.
    pub hash: Vec<Value>,
    /// The values the sort key attributes before the last one used are equal to, in key schema
    /// order (only a multi-attribute sort key has any).
    pub sort_prefix: Vec<Value>,
    /// The condition on the last sort key attribute used.
    pub sort: Option<SortCondition>,
}

fn strip(condition: &ResolvedCondition) -> &ResolvedCondition {
    match condition {
        Condition::Parens(inner) => strip(inner),
        other => other,
    }
}

fn flatten<'a>(
    condition: &'a ResolvedCondition,
    out: &mut Vec<&'a ResolvedCondition>,
) -> Result<()> {
    match strip(condition) {
        Condition::And(a, b) => {
            flatten(a, out)?;
            flatten(b, out)
        }
        Condition::Or(..) => Err(Error::key_condition_operator_invalid("OR")),
        Condition::Not(..) => Err(Error::key_condition_operator_invalid("NOT")),
        Condition::In(..) => Err(Error::key_condition_operator_invalid("IN")),
        Condition::Compare(Comparator::Ne, ..) => Err(Error::key_condition_operator_invalid("<>")),
        Condition::Function(f, _) if *f != FunctionName::BeginsWith => {
            Err(Error::key_condition_operator_invalid(f.name()))
        }
        other => {
            out.push(other);
            Ok(())
        }
    }
}

fn attribute_of(operand: &ResolvedOperand) -> Result<Option<&str>> {
    match operand {
        Operand::Path(path) => {
            if path.elements.len() > 1 {
                return Err(Error::key_condition_nested_attribute());
            }
            match &path.elements[0] {
                PathElement::Attribute(name) => Ok(Some(name)),
                PathElement::Index(_) => unreachable!(),
            }
        }
        Operand::Value(_) => Ok(None),
        Operand::Size(_) => Err(Error::key_condition_nested_operation()),
    }
}

fn value_of(operand: &ResolvedOperand) -> Result<Value> {
    match operand {
        Operand::Value(v) => Ok(v.clone()),
        Operand::Size(_) => Err(Error::key_condition_nested_operation()),
        Operand::Path(_) => Err(Error::key_condition_many_attributes()),
    }
}

/// The attribute a BETWEEN or begins_with constrains: its first operand, which must name it.
fn first_attribute<'a>(operator: &str, operand: &'a ResolvedOperand) -> Result<&'a str> {
    match attribute_of(operand)? {
        Some(name) => Ok(name),
        None => Err(Error::key_condition_first_operand(operator)),
    }
}

/// One conjunct of a key condition as the attribute it constrains and the condition.
fn part_condition(part: &ResolvedCondition) -> Result<(&str, SortCondition)> {
    Ok(match part {
        Condition::Compare(comparator, left, right) => {
            // A second attribute is reported before the second one's nesting, as the service
            // reads the operands in order (dynalite's tests: `b > a.b`).
            if matches!(left, Operand::Path(_)) && matches!(right, Operand::Path(_)) {
                attribute_of(left)?;
                return Err(Error::key_condition_many_attributes());
            }
            match (attribute_of(left)?, attribute_of(right)?) {
                (Some(name), None) => (name, SortCondition::Compare(*comparator, value_of(right)?)),
                (None, Some(name)) => (
                    name,
                    SortCondition::Compare(comparator.flipped(), value_of(left)?),
                ),
                (Some(_), Some(_)) => return Err(Error::key_condition_many_attributes()),
                (None, None) => return Err(Error::key_condition_no_attribute()),
            }
        }
        Condition::Between(value, low, high) => (
            first_attribute("BETWEEN", value)?,
            SortCondition::Between(value_of(low)?, value_of(high)?),
        ),
        Condition::Function(FunctionName::BeginsWith, arguments) => (
            first_attribute("begins_with", &arguments[0])?,
            SortCondition::BeginsWith(value_of(&arguments[1])?),
        ),
        _ => return Err(Error::key_condition_unsupported()),
    })
}

/// The checks of a key condition that need no key schema, which the service makes before it
/// looks the table up (dynalite's tests of the service): the operators, each condition's
/// operands, one condition per attribute, then at most two conditions, or on an index at most
/// as many as a multi-attribute key has attributes (the query then checks the two against a
/// single-attribute index). The number of conditions.
pub fn check_key_condition_shape(condition: &ResolvedCondition, on_index: bool) -> Result<usize> {
    let mut parts = Vec::new();
    flatten(condition, &mut parts)?;
    let mut names = Vec::new();
    for part in parts {
        let (name, _) = part_condition(part)?;
        if names.contains(&name) {
            return Err(Error::key_condition_key_repeated());
        }
        names.push(name);
    }
    if names.len() > key_conditions_max(on_index) {
        return Err(Error::key_conditions_too_many());
    }
    Ok(names.len())
}

/// How many key conditions can pass before the key schema is known: two on a table, as many
/// as a multi-attribute GSI key has attributes on an index.
fn key_conditions_max(on_index: bool) -> usize {
    if on_index {
        2 * crate::limits::INDEX_KEY_ATTRIBUTE_COUNT_MAX
    } else {
        2
    }
}

/// The checks of legacy KeyConditions that need no key schema: each operator and its values,
/// then at most two conditions.
pub fn check_legacy_key_conditions_shape(
    conditions: &std::collections::BTreeMap<String, LegacyCondition>,
    on_index: bool,
) -> Result<()> {
    for (name, entry) in conditions {
        let Some(operator) = entry.comparison_operator.as_deref() else {
            return Err(Error::filter_comparison_operator_missing(
                "keyConditions",
                name,
            ));
        };
        let values = entry.attribute_value_list.as_deref().unwrap_or(&[]);
        legacy::comparison("keyConditions", name, operator, values)?;
    }
    if conditions.len() > key_conditions_max(on_index) {
        return Err(Error::key_conditions_too_many());
    }
    Ok(())
}

/// Turns a resolved key condition into the partition and sort range it selects.
pub fn analyse_key_condition(
    condition: &ResolvedCondition,
    schema: &IndexKeySchema,
) -> Result<KeyCondition> {
    let mut parts = Vec::new();
    flatten(condition, &mut parts)?;
    let mut hash: Vec<Option<Value>> = vec![None; schema.hash.len()];
    let mut sort: Vec<Option<SortCondition>> = vec![None; schema.range.len()];
    // A condition on an attribute outside the key schema is reported after a missing
    // partition key: querying by a non-key attribute answers "Query condition missed key
    // schema element" (obs, widely reported service answers).
    let mut off_schema = false;
    for part in parts {
        let (name, condition) = part_condition(part)?;
        if let Some(i) = schema.hash.iter().position(|a| a.name == name) {
            if hash[i].is_some() {
                return Err(Error::key_condition_key_repeated());
            }
            let SortCondition::Compare(Comparator::Eq, value) = condition else {
                return Err(Error::key_condition_unsupported());
            };
            if value.value_type().name() != schema.hash[i].scalar_type.name() {
                return Err(Error::key_condition_type_mismatch());
            }
            hash[i] = Some(value);
        } else if let Some(i) = schema.range.iter().position(|a| a.name == name) {
            if sort[i].is_some() {
                return Err(Error::key_condition_key_repeated());
            }
            check_sort_condition(&condition, schema.range[i].scalar_type.name())?;
            sort[i] = Some(condition);
        } else {
            off_schema = true;
        }
    }
    if let Some(missing) = hash.iter().position(Option::is_none) {
        return Err(Error::key_condition_hash_missing(
            &schema.hash[missing].name,
        ));
    }
    if off_schema {
        return Err(Error::key_condition_unsupported());
    }
    let (sort_prefix, sort) = sort_conditions(schema, sort)?;
    let hash: Vec<Value> = hash.into_iter().flatten().collect();
    for (value, attribute) in hash.iter().zip(&schema.hash) {
        if let Value::S(s) = value
            && s.is_empty()
        {
            return Err(Error::key_condition_hash_empty(&attribute.name));
        }
    }
    Ok(KeyCondition {
        hash,
        sort_prefix,
        sort,
    })
}

/// Checks a condition on a sort key attribute of type `expected`: its values' types, and no
/// begins_with on a number.
fn check_sort_condition(condition: &SortCondition, expected: &str) -> Result<()> {
    let values: Vec<&Value> = match condition {
        SortCondition::Compare(_, v) | SortCondition::BeginsWith(v) => vec![v],
        SortCondition::Between(a, b) => vec![a, b],
    };
    if values.iter().any(|v| v.value_type().name() != expected) {
        return Err(Error::key_condition_type_mismatch());
    }
    if matches!(condition, SortCondition::BeginsWith(_)) && expected == "N" {
        return Err(Error::key_condition_begins_with_number());
    }
    Ok(())
}

/// The conditions on the sort key attributes, in key schema order, as the values of those
/// before the last one used (each must be there, with `=`) and the condition on the last.
fn sort_conditions(
    schema: &IndexKeySchema,
    mut sort: Vec<Option<SortCondition>>,
) -> Result<(Vec<Value>, Option<SortCondition>)> {
    let Some(last) = sort.iter().rposition(Option::is_some) else {
        return Ok((Vec::new(), None));
    };
    let condition = sort[last].take();
    let mut prefix = Vec::with_capacity(last);
    for (i, earlier) in sort.into_iter().take(last).enumerate() {
        match earlier {
            None => return Err(Error::key_condition_range_skipped(&schema.range[i].name)),
            Some(SortCondition::Compare(Comparator::Eq, value)) => prefix.push(value),
            Some(_) => return Err(Error::key_condition_range_not_last(&schema.range[i].name)),
        }
    }
    Ok((prefix, condition))
}

/// The legacy KeyConditions as a key condition.
pub(crate) fn legacy_key_condition(
    conditions: &std::collections::BTreeMap<String, LegacyCondition>,
    schema: &IndexKeySchema,
) -> Result<KeyCondition> {
    let mut combined: Option<ResolvedCondition> = None;
    for (name, entry) in conditions {
        let Some(operator) = entry.comparison_operator.as_deref() else {
            return Err(Error::filter_comparison_operator_missing(
                "keyConditions",
                name,
            ));
        };
        // The values are checked (count, types) before the operator's use on a key, as
        // dynalite's tests record the service doing.
        let condition = legacy::comparison(
            "keyConditions",
            name,
            operator,
            entry.attribute_value_list.as_deref().unwrap_or(&[]),
        )?;
        if !["EQ", "LE", "LT", "GE", "GT", "BEGINS_WITH", "BETWEEN"].contains(&operator) {
            return Err(Error::key_conditions_operator_invalid());
        }
        combined = Some(match combined {
            None => condition,
            Some(previous) => Condition::And(Box::new(previous), Box::new(condition)),
        });
    }
    if conditions.len() > 2 {
        return Err(Error::key_conditions_too_many());
    }
    let Some(condition) = combined else {
        return Err(Error::key_condition_hash_missing(&schema.hash[0].name));
    };
    analyse_key_condition(&condition, schema)
}

pub(crate) fn top_level_names(condition: &ResolvedCondition, out: &mut Vec<String>) {
    let mut operand = |o: &ResolvedOperand| {
        fn walk(o: &ResolvedOperand, out: &mut Vec<String>) {
            match o {
                Operand::Path(p) => out.push(p.top().to_string()),
                Operand::Size(inner) => walk(inner, out),
                Operand::Value(_) => {}
            }
        }
        walk(o, out)
    };
    match condition {
        Condition::Compare(_, a, b) => {
            operand(a);
            operand(b);
        }
        Condition::Between(a, b, c) => {
            operand(a);
            operand(b);
            operand(c);
        }
        Condition::In(a, list) => {
            operand(a);
            list.iter().for_each(operand);
        }
        Condition::Function(_, arguments) => arguments.iter().for_each(operand),
        Condition::And(a, b) | Condition::Or(a, b) => {
            top_level_names(a, out);
            top_level_names(b, out);
        }
        Condition::Not(a) | Condition::Parens(a) => top_level_names(a, out),
    }
}
