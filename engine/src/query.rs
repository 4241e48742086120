//! Query and Scan: key conditions as byte ranges of the table's ordered map, pages bounded by
//! Limit and by 1 MB of data read before filtering, LastEvaluatedKey, parallel scan segments.

use crate::api::*;
use crate::capacity::admission::Usage;
use crate::capacity::units::{ReturnConsumedCapacity, read_units};
use crate::data::index::Index;
use crate::data::table::Table;
use crate::engine::Engine;
use crate::error::{ConstraintErrors, Error, Result};
use crate::expr::eval::{evaluate, project};
use crate::expr::resolve::Placeholders;
use crate::expr::{
    Comparator, Condition, ExpressionKind, FunctionName, Operand, PathElement, ResolvedCondition,
    ResolvedOperand, legacy, parse,
};
use crate::limits::READ_UNIT_BYTES;
use crate::limits::TOTAL_SEGMENTS_MAX;
use crate::ops::common::{RETURN_CONSUMED_CAPACITY, check_item, check_no_mixing};
use crate::types::item::{self, Item, item_size_bytes};
use crate::types::keys::{KeySchema, encode_sort_value, encode_terminated, prefix_end};
use crate::types::value::Value;
use std::collections::BTreeMap;
use std::ops::Bound;

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
    pub hash: Value,
    pub sort: Option<SortCondition>,
}

fn key_error(detail: &str) -> Error {
    ExpressionKind::KeyCondition.error(detail)
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
        Condition::Or(..) => Err(key_error(
            "Invalid operator used in KeyConditionExpression: OR",
        )),
        Condition::Not(..) => Err(key_error(
            "Invalid operator used in KeyConditionExpression: NOT",
        )),
        Condition::In(..) => Err(key_error(
            "Invalid operator used in KeyConditionExpression: IN",
        )),
        Condition::Compare(Comparator::Ne, ..) => Err(key_error(
            "Invalid operator used in KeyConditionExpression: <>",
        )),
        Condition::Function(f, _) if *f != FunctionName::BeginsWith => Err(key_error(&format!(
            "Invalid operator used in KeyConditionExpression: {}",
            f.name()
        ))),
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
                return Err(key_error(
                    "KeyConditionExpressions cannot have conditions on nested attributes",
                ));
            }
            match &path.elements[0] {
                PathElement::Attribute(name) => Ok(Some(name)),
                PathElement::Index(_) => unreachable!(),
            }
        }
        Operand::Value(_) => Ok(None),
        Operand::Size(_) => Err(key_error(
            "KeyConditionExpressions cannot contain nested operations",
        )),
    }
}

fn value_of(operand: &ResolvedOperand) -> Result<Value> {
    match operand {
        Operand::Value(v) => Ok(v.clone()),
        _ => Err(key_error(
            "Invalid condition in KeyConditionExpression: Multiple attribute names used in one condition",
        )),
    }
}

/// Turns a resolved key condition into the partition and sort range it selects.
pub fn analyse_key_condition(
    condition: &ResolvedCondition,
    schema: &KeySchema,
) -> Result<KeyCondition> {
    let mut parts = Vec::new();
    flatten(condition, &mut parts)?;
    let mut hash: Option<Value> = None;
    let mut sort: Option<SortCondition> = None;
    for part in parts {
        let (name, condition) = match part {
            Condition::Compare(comparator, left, right) => {
                match (attribute_of(left)?, attribute_of(right)?) {
                    (Some(name), None) => {
                        (name, SortCondition::Compare(*comparator, value_of(right)?))
                    }
                    (None, Some(name)) => (
                        name,
                        SortCondition::Compare(comparator.flipped(), value_of(left)?),
                    ),
                    (Some(_), Some(_)) => {
                        return Err(key_error(
                            "Invalid condition in KeyConditionExpression: Multiple attribute names used in one condition",
                        ));
                    }
                    (None, None) => {
                        return Err(key_error(
                            "Invalid condition in KeyConditionExpression: No key attribute specified",
                        ));
                    }
                }
            }
            Condition::Between(value, low, high) => {
                let Some(name) = attribute_of(value)? else {
                    return Err(key_error(
                        "Invalid condition in KeyConditionExpression: No key attribute specified",
                    ));
                };
                (
                    name,
                    SortCondition::Between(value_of(low)?, value_of(high)?),
                )
            }
            Condition::Function(FunctionName::BeginsWith, arguments) => {
                let Some(name) = attribute_of(&arguments[0])? else {
                    return Err(key_error(
                        "Invalid condition in KeyConditionExpression: No key attribute specified",
                    ));
                };
                (name, SortCondition::BeginsWith(value_of(&arguments[1])?))
            }
            _ => return Err(Error::validation("Query key condition not supported")),
        };
        let type_mismatch =
            || Error::invalid_parameter("Condition parameter type does not match schema type");
        if name == schema.hash.name {
            if hash.is_some() {
                return Err(key_error(
                    "KeyConditionExpressions must only contain one condition per key",
                ));
            }
            let SortCondition::Compare(Comparator::Eq, value) = condition else {
                return Err(Error::validation("Query key condition not supported"));
            };
            if value.value_type().name() != schema.hash.scalar_type.name() {
                return Err(type_mismatch());
            }
            hash = Some(value);
        } else if schema.range.as_ref().is_some_and(|r| r.name == name) {
            if sort.is_some() {
                return Err(key_error(
                    "KeyConditionExpressions must only contain one condition per key",
                ));
            }
            let expected = schema.range.as_ref().expect("checked").scalar_type.name();
            let values: Vec<&Value> = match &condition {
                SortCondition::Compare(_, v) | SortCondition::BeginsWith(v) => vec![v],
                SortCondition::Between(a, b) => vec![a, b],
            };
            if values.iter().any(|v| v.value_type().name() != expected) {
                return Err(type_mismatch());
            }
            if matches!(condition, SortCondition::BeginsWith(_)) && expected == "N" {
                return Err(key_error(
                    "Incorrect operand type for operator or function; operator or function: begins_with, operand type: N",
                ));
            }
            sort = Some(condition);
        } else {
            return Err(Error::validation("Query key condition not supported"));
        }
    }
    let Some(hash) = hash else {
        return Err(Error::validation(format!(
            "Query condition missed key schema element: {}",
            schema.hash.name
        )));
    };
    if let Value::S(s) = &hash
        && s.is_empty()
    {
        return Err(Error::invalid_parameter(format!(
            "The AttributeValue for a key attribute cannot contain an empty string value. Key: {}",
            schema.hash.name
        )));
    }
    Ok(KeyCondition { hash, sort })
}

/// The legacy KeyConditions as a key condition.
fn legacy_key_condition(
    conditions: &std::collections::BTreeMap<String, LegacyCondition>,
    schema: &KeySchema,
) -> Result<KeyCondition> {
    let mut combined: Option<ResolvedCondition> = None;
    for (name, entry) in conditions {
        let operator = entry.comparison_operator.as_deref().unwrap_or("");
        if !["EQ", "LE", "LT", "GE", "GT", "BEGINS_WITH", "BETWEEN"].contains(&operator) {
            return Err(Error::validation(
                "Attempted conditional constraint is not an indexable operation",
            ));
        }
        let condition = legacy::comparison(
            name,
            operator,
            entry.attribute_value_list.as_deref().unwrap_or(&[]),
        )?;
        combined = Some(match combined {
            None => condition,
            Some(previous) => Condition::And(Box::new(previous), Box::new(condition)),
        });
    }
    if conditions.len() > 2 {
        return Err(Error::validation("Conditions can be of length 1 or 2 only"));
    }
    let Some(condition) = combined else {
        return Err(Error::validation(format!(
            "Query condition missed key schema element: {}",
            schema.hash.name
        )));
    };
    analyse_key_condition(&condition, schema)
}

fn top_level_names(condition: &ResolvedCondition, out: &mut Vec<String>) {
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

/// Range of stored keys a query or scan walks.
struct KeyRange {
    lower: Bound<Vec<u8>>,
    upper: Bound<Vec<u8>>,
}

/// The stored-key range a key condition selects. Tables end stored keys with the raw sort
/// value; indexes (`terminated`) end it with a terminated sort value followed by the table key,
/// so every bound there covers all entries that start with the value's encoding.
fn sort_range(schema: &KeySchema, condition: &KeyCondition, terminated: bool) -> KeyRange {
    let prefix = schema.partition_prefix(&condition.hash);
    let partition_end = prefix_end(&prefix).map_or(Bound::Unbounded, Bound::Excluded);
    let encoded = |v: &Value| {
        let mut out = prefix.clone();
        if terminated {
            encode_terminated(v, &mut out);
        } else {
            encode_sort_value(v, &mut out);
        }
        out
    };
    // Everything at or below `v`, for an inclusive upper bound.
    let through = |v: &Value| {
        let start = encoded(v);
        if terminated {
            prefix_end(&start).map_or(Bound::Unbounded, Bound::Excluded)
        } else {
            Bound::Included(start)
        }
    };
    let (lower, upper) = match &condition.sort {
        None => (Bound::Included(prefix.clone()), partition_end),
        Some(SortCondition::Compare(comparator, v)) => match comparator {
            Comparator::Eq => (Bound::Included(encoded(v)), through(v)),
            Comparator::Lt => (Bound::Included(prefix.clone()), Bound::Excluded(encoded(v))),
            Comparator::Le => (Bound::Included(prefix.clone()), through(v)),
            Comparator::Gt => match through(v) {
                Bound::Included(e) => (Bound::Excluded(e), partition_end),
                Bound::Excluded(e) => (Bound::Included(e), partition_end),
                Bound::Unbounded => (Bound::Excluded(encoded(v)), Bound::Excluded(encoded(v))),
            },
            Comparator::Ge => (Bound::Included(encoded(v)), partition_end),
            Comparator::Ne => unreachable!("rejected by analyse_key_condition"),
        },
        Some(SortCondition::Between(low, high)) => (Bound::Included(encoded(low)), through(high)),
        Some(SortCondition::BeginsWith(v)) => {
            let mut start = prefix.clone();
            if terminated {
                encode_escaped_prefix(v, &mut start);
            } else {
                encode_sort_value(v, &mut start);
            }
            let end = prefix_end(&start).map_or(partition_end, Bound::Excluded);
            (Bound::Included(start), end)
        }
    };
    KeyRange { lower, upper }
}

/// The escaped bytes of a string or binary without the terminator: the common prefix of the
/// terminated encodings of every value that begins with it.
fn encode_escaped_prefix(value: &Value, out: &mut Vec<u8>) {
    let bytes = match value {
        Value::S(s) => s.as_bytes(),
        Value::B(b) => b.as_slice(),
        _ => unreachable!("begins_with takes strings and binaries"),
    };
    for &b in bytes {
        out.push(b);
        if b == 0 {
            out.push(0xFF);
        }
    }
}

fn is_empty_range(lower: &Bound<Vec<u8>>, upper: &Bound<Vec<u8>>) -> bool {
    match (lower, upper) {
        (Bound::Included(a), Bound::Included(b)) => a > b,
        (Bound::Included(a), Bound::Excluded(b))
        | (Bound::Excluded(a), Bound::Included(b))
        | (Bound::Excluded(a), Bound::Excluded(b)) => a >= b,
        _ => false,
    }
}

fn contains(range: &KeyRange, key: &[u8]) -> bool {
    let above = match &range.lower {
        Bound::Included(l) => key >= l.as_slice(),
        Bound::Excluded(l) => key > l.as_slice(),
        Bound::Unbounded => true,
    };
    let below = match &range.upper {
        Bound::Included(u) => key <= u.as_slice(),
        Bound::Excluded(u) => key < u.as_slice(),
        Bound::Unbounded => true,
    };
    above && below
}

struct Page {
    items: Vec<Item>,
    scanned: usize,
    last_evaluated_key: Option<Item>,
    read_bytes: usize,
    /// LSI reads that fetch from the table: each fetched item's size rounded up to 4 KB
    /// (one full-item read each, on top of the index read).
    fetched_bytes: usize,
}

/// How to read one page.
struct PageSpec<'a> {
    forward: bool,
    limit: Option<usize>,
    page_bytes: usize,
    filter: Option<&'a ResolvedCondition>,
    projection: Option<&'a [crate::expr::ResolvedPath]>,
    count_only: bool,
}

/// What a page reads: the table itself, or one of its indexes.
struct Source<'a> {
    table: &'a Table,
    index: Option<&'a Index>,
    /// Read whole items through the index: an LSI asked for attributes it does not project
    /// fetches them from the table, as DynamoDB does.
    fetch_from_table: bool,
    /// The replica an eventually consistent table read goes to (`None`: the leaders).
    zone: Option<usize>,
}

impl<'a> Source<'a> {
    /// The items whose stored (or index) keys fall within `range`, in order or reversed, as
    /// this source holds them (index reads see the projected item).
    fn items(&self, range: &'a KeyRange, forward: bool) -> Box<dyn Iterator<Item = Item> + 'a> {
        let lower = range.lower.as_ref().map(|v| v.as_slice());
        let upper = range.upper.as_ref().map(|v| v.as_slice());
        let table = self.table;
        let fetch_from_table = self.fetch_from_table;
        match self.index {
            None if self.zone.is_some() => {
                let zone = self.zone.expect("checked");
                let entries = table.items.range_at(zone, lower, upper).map(item::decode);
                if forward {
                    Box::new(entries)
                } else {
                    Box::new(entries.rev())
                }
            }
            None => {
                let entries = table
                    .items
                    .range(lower, upper)
                    .map(|entry| item::decode(entry.item_bytes()));
                if forward {
                    Box::new(entries)
                } else {
                    Box::new(entries.rev())
                }
            }
            Some(index) => {
                let resolve = move |table_key: &[u8]| {
                    let bytes = table
                        .items
                        .get(table_key)
                        .expect("index entries point at stored items");
                    let item = item::decode(bytes);
                    if fetch_from_table {
                        item
                    } else {
                        index.project(&item, &table.key_schema)
                    }
                };
                if !index.pending.is_empty() {
                    // A lagging GSI: the current entries with the changes readers cannot see
                    // yet undone, newest first.
                    let mut view: BTreeMap<Box<[u8]>, Item> = index
                        .entries
                        .range::<[u8], _>((lower, upper))
                        .map(|(key, table_key)| (key.clone(), resolve(table_key)))
                        .collect();
                    for change in index.pending.iter().rev() {
                        if let Some(added) = &change.added {
                            view.remove(added);
                        }
                        if let Some((key, projected)) = &change.removed
                            && crate::data::store::within(key, lower, upper)
                        {
                            view.insert(key.clone(), projected.clone());
                        }
                    }
                    return if forward {
                        Box::new(view.into_values())
                    } else {
                        Box::new(view.into_values().rev())
                    };
                }
                let entries = index
                    .entries
                    .range::<[u8], _>((lower, upper))
                    .map(move |(_, table_key)| resolve(table_key));
                if forward {
                    Box::new(entries)
                } else {
                    Box::new(entries.rev())
                }
            }
        }
    }

    /// LastEvaluatedKey: the table key, plus the index key for index reads.
    fn key_of(&self, item: &Item) -> Item {
        let mut key = self.table.key_schema.key_of(item);
        if let Some(index) = self.index {
            key.extend(index.key_schema.key_of(item));
        }
        key
    }
}

/// Walks `range` in order, evaluating at most `limit` items or `page_bytes` of data.
fn read_page(source: &Source<'_>, range: KeyRange, spec: &PageSpec<'_>) -> Page {
    let PageSpec {
        forward,
        limit,
        page_bytes,
        filter,
        projection,
        count_only,
    } = *spec;
    let mut page = Page {
        items: Vec::new(),
        scanned: 0,
        last_evaluated_key: None,
        read_bytes: 0,
        fetched_bytes: 0,
    };
    if is_empty_range(&range.lower, &range.upper) || limit == Some(0) {
        return page;
    }
    for decoded in source.items(&range, forward) {
        match source.index {
            Some(index) if source.fetch_from_table => {
                // The index entry is read, then the whole item from the table.
                let entry = index.project(&decoded, &source.table.key_schema);
                page.read_bytes += item_size_bytes(&entry);
                let size = item_size_bytes(&decoded).max(1);
                page.fetched_bytes += size.div_ceil(READ_UNIT_BYTES) * READ_UNIT_BYTES;
            }
            _ => page.read_bytes += item_size_bytes(&decoded),
        }
        page.scanned += 1;
        let stop = limit.is_some_and(|l| page.scanned >= l) || page.read_bytes >= page_bytes;
        if stop {
            page.last_evaluated_key = Some(source.key_of(&decoded));
        }
        if filter.is_none_or(|f| evaluate(f, &decoded)) {
            if count_only {
                page.items.push(Item::new());
            } else {
                page.items.push(match projection {
                    Some(paths) => project(&decoded, paths),
                    None => decoded,
                });
            }
        }
        if stop {
            break;
        }
    }
    page
}

impl Engine {
    pub(crate) fn query(
        &mut self,
        input: &QueryInput,
        now_ms: u64,
        is_scan: bool,
    ) -> Result<Response> {
        let mut errors = ConstraintErrors::new();
        errors.name(&input.table_name, "tableName", true);
        if input.index_name.is_some() {
            errors.name(&input.index_name, "indexName", false);
        }
        if let Some(limit) = input.limit
            && limit < 1
        {
            errors.push(
                &limit.to_string(),
                "limit",
                "Member must have value greater than or equal to 1",
            );
        }
        errors.enumeration(
            &input.select,
            "select",
            &[
                "ALL_ATTRIBUTES",
                "ALL_PROJECTED_ATTRIBUTES",
                "SPECIFIC_ATTRIBUTES",
                "COUNT",
            ],
        );
        errors.enumeration(
            &input.return_consumed_capacity,
            "returnConsumedCapacity",
            &RETURN_CONSUMED_CAPACITY,
        );
        errors.enumeration(
            &input.conditional_operator,
            "conditionalOperator",
            &["AND", "OR"],
        );
        if is_scan {
            if let Some(segment) = input.segment {
                if segment < 0 {
                    errors.push(
                        &segment.to_string(),
                        "segment",
                        "Member must have value greater than or equal to 0",
                    );
                }
                if segment > i64::from(TOTAL_SEGMENTS_MAX) - 1 {
                    errors.push(
                        &segment.to_string(),
                        "segment",
                        "Member must have value less than or equal to 999999",
                    );
                }
            }
            if let Some(total) = input.total_segments {
                if total < 1 {
                    errors.push(
                        &total.to_string(),
                        "totalSegments",
                        "Member must have value greater than or equal to 1",
                    );
                }
                if total > i64::from(TOTAL_SEGMENTS_MAX) {
                    errors.push(
                        &total.to_string(),
                        "totalSegments",
                        "Member must have value less than or equal to 1000000",
                    );
                }
            }
        }
        errors.into_result()?;

        let (legacy_filter, filter_name) = if is_scan {
            (&input.scan_filter, "ScanFilter")
        } else {
            (&input.query_filter, "QueryFilter")
        };
        check_no_mixing(
            &[
                ("AttributesToGet", input.attributes_to_get.is_some()),
                ("KeyConditions", input.key_conditions.is_some()),
                (filter_name, legacy_filter.is_some()),
                ("ConditionalOperator", input.conditional_operator.is_some()),
            ],
            &[
                (
                    "ProjectionExpression",
                    input.projection_expression.is_some(),
                ),
                ("FilterExpression", input.filter_expression.is_some()),
                (
                    "KeyConditionExpression",
                    input.key_condition_expression.is_some(),
                ),
            ],
        )?;
        if is_scan {
            match (input.segment, input.total_segments) {
                (Some(_), None) => {
                    return Err(Error::validation(
                        "The TotalSegments parameter is required but was not present in the request when Segment parameter is present",
                    ));
                }
                (None, Some(_)) => {
                    return Err(Error::validation(
                        "The Segment parameter is required but was not present in the request when parameter TotalSegments is present",
                    ));
                }
                (Some(segment), Some(total)) if segment >= total => {
                    return Err(Error::validation(format!(
                        "The Segment parameter is zero-based and must be less than parameter TotalSegments: Segment: {segment} is out of bounds of TotalSegments: {total}"
                    )));
                }
                _ => {}
            }
        }
        let has_projection =
            input.projection_expression.is_some() || input.attributes_to_get.is_some();
        match input.select.as_deref() {
            Some("SPECIFIC_ATTRIBUTES") if !has_projection => {
                return Err(Error::validation(
                    "Must specify the AttributesToGet or ProjectionExpression when choosing to get SPECIFIC_ATTRIBUTES",
                ));
            }
            Some(select @ ("ALL_ATTRIBUTES" | "ALL_PROJECTED_ATTRIBUTES" | "COUNT"))
                if has_projection =>
            {
                return Err(Error::validation(format!(
                    "Cannot specify the AttributesToGet or ProjectionExpression when choosing to get {select}"
                )));
            }
            Some("ALL_PROJECTED_ATTRIBUTES") if input.index_name.is_none() => {
                return Err(Error::validation(
                    "ALL_PROJECTED_ATTRIBUTES can be used only when Querying using an IndexName",
                ));
            }
            _ => {}
        }
        let expressions_used = input.projection_expression.is_some()
            || input.filter_expression.is_some()
            || input.key_condition_expression.is_some();
        if input.expression_attribute_names.is_some() && !expressions_used {
            return Err(Error::validation(
                "ExpressionAttributeNames can only be specified when using expressions",
            ));
        }
        if input.expression_attribute_values.is_some()
            && input.filter_expression.is_none()
            && input.key_condition_expression.is_none()
        {
            return Err(Error::validation(if is_scan {
                "ExpressionAttributeValues can only be specified when using expressions: FilterExpression is null"
            } else {
                "ExpressionAttributeValues can only be specified when using expressions: KeyConditionExpression and FilterExpression are null"
            }));
        }
        if input.conditional_operator.is_some()
            && legacy_filter.as_ref().is_none_or(|f| f.len() < 2)
        {
            return Err(Error::validation(
                "ConditionalOperator can only be used when Filter or Expected has two or more elements",
            ));
        }
        if !is_scan && input.key_condition_expression.is_none() && input.key_conditions.is_none() {
            return Err(Error::validation(
                "Either the KeyConditions or KeyConditionExpression parameter must be specified in the request.",
            ));
        }

        let mut placeholders = Placeholders::new(
            input.expression_attribute_names.as_ref(),
            input.expression_attribute_values.as_ref(),
        )?;
        let key_condition = match (&input.key_condition_expression, is_scan) {
            (Some(text), false) => {
                let raw = parse::parse_condition(ExpressionKind::KeyCondition, text)?;
                Some(placeholders.condition(ExpressionKind::KeyCondition, &raw)?)
            }
            _ => None,
        };
        let filter = match (&input.filter_expression, legacy_filter) {
            (Some(text), _) => {
                let raw = parse::parse_condition(ExpressionKind::Filter, text)?;
                Some(placeholders.condition(ExpressionKind::Filter, &raw)?)
            }
            (None, Some(entries)) => {
                legacy::filter(entries, input.conditional_operator.as_deref())?
            }
            (None, None) => None,
        };
        let projection = match (&input.projection_expression, &input.attributes_to_get) {
            (Some(text), _) => Some(placeholders.projection(&parse::parse_projection(text)?)?),
            (None, Some(names)) => Some(legacy::attributes_to_get(names)?),
            (None, None) => None,
        };
        placeholders.finish()?;

        // An eventually consistent read of the table goes to a drawn replica when the profile
        // lags followers (index reads go to the index, which is not replicated here).
        let plain = crate::engine::table_name_of(input.table_name.as_deref().expect("checked"));
        let zone = if input.consistent_read == Some(true) || input.index_name.is_some() {
            None
        } else {
            self.realism.read_zone(plain)
        };
        if let Some(t) = self.tables.get_mut(plain) {
            if zone.is_some() {
                for partition in t.items.iter_mut() {
                    partition.group.catch_up(now_ms);
                }
            }
            // A lagging GSI shows what has propagated by now.
            if let Some(name) = &input.index_name
                && let Some(index) = t.indexes.iter_mut().find(|i| &i.name == name)
            {
                index.catch_up(now_ms);
            }
        }
        let table = self.table_for_data(input.table_name.as_deref().expect("checked"), now_ms)?;
        let index = match &input.index_name {
            None => None,
            Some(name) => Some(table.index(name).ok_or_else(|| {
                Error::validation(format!(
                    "The table does not have the specified index: {name}"
                ))
            })?),
        };
        if let Some(index) = index {
            check_index_read(index, table, input, projection.as_deref())?;
        }
        let schema = index.map_or(&table.key_schema, |i| &i.key_schema);
        let key = if is_scan {
            None
        } else {
            Some(match (&key_condition, &input.key_conditions) {
                (Some(condition), _) => analyse_key_condition(condition, schema)?,
                (None, Some(conditions)) => legacy_key_condition(conditions, schema)?,
                (None, None) => unreachable!("checked above"),
            })
        };
        if let (false, Some(filter)) = (is_scan, &filter) {
            let mut names = Vec::new();
            top_level_names(filter, &mut names);
            if let Some(key_name) = names.iter().find(|n| schema.is_key_attribute(n)) {
                let parameter = if input.filter_expression.is_some() {
                    "Filter Expression"
                } else {
                    "QueryFilter"
                };
                return Err(Error::validation(format!(
                    "{parameter} can only contain non-primary key attributes: Primary key attribute: {key_name}"
                )));
            }
        }

        let forward = is_scan || input.scan_index_forward.unwrap_or(true);
        let mut range = match &key {
            Some(condition) => sort_range(schema, condition, index.is_some()),
            None => match (input.segment, input.total_segments) {
                (Some(segment), Some(total)) => {
                    let (segment, total) = (segment as u128, total as u128);
                    let start = ((segment << 64) / total) as u64;
                    let upper = if segment + 1 == total {
                        Bound::Unbounded
                    } else {
                        Bound::Excluded((((segment + 1) << 64) / total) as u64)
                            .map(|h| h.to_be_bytes().to_vec())
                    };
                    KeyRange {
                        lower: Bound::Included(start.to_be_bytes().to_vec()),
                        upper,
                    }
                }
                _ => KeyRange {
                    lower: Bound::Unbounded,
                    upper: Bound::Unbounded,
                },
            },
        };
        if let Some(raw_start) = &input.exclusive_start_key {
            let start_item = check_item(raw_start)?;
            if !is_scan && index.is_none() && schema.range.is_none() {
                return Err(Error::validation(
                    "The provided starting key is invalid: The query can return at most one row and cannot be restarted",
                ));
            }
            let start = start_key(table, index, &start_item)?;
            if let Some(condition) = &key {
                if start_item.get(&schema.hash.name) != Some(&condition.hash) {
                    return Err(Error::validation(
                        "The provided starting key is outside query boundaries based on provided conditions",
                    ));
                }
                if !contains(&range, &start) {
                    return Err(Error::validation(
                        "The provided starting key does not match the range key predicate",
                    ));
                }
            }
            if forward {
                range.lower = Bound::Excluded(start.to_vec());
            } else {
                range.upper = Bound::Excluded(start.to_vec());
            }
        }

        let count_only = input.select.as_deref() == Some("COUNT");
        let spec = PageSpec {
            forward,
            limit: input.limit.map(|l| l as usize),
            page_bytes: self.config.limits.page_size_bytes_max,
            filter: filter.as_ref(),
            projection: projection.as_deref(),
            count_only,
        };
        let fetch_from_table = index.is_some_and(|index| {
            !index.global
                && (input.select.as_deref() == Some("ALL_ATTRIBUTES")
                    || projection
                        .iter()
                        .flatten()
                        .any(|path| !index.projects(path.top(), &table.key_schema)))
        });
        // Admission and charging go to the partition where the read starts (a GSI read to the
        // GSI, over the table's partition boundaries).
        let start_key = match &range.lower {
            Bound::Included(k) | Bound::Excluded(k) => k.clone(),
            Bound::Unbounded => Vec::new(),
        };
        let global_index = index.filter(|i| i.global).map(|i| i.name.clone());
        let table_name = table.name.clone();
        let page = read_page(
            &Source {
                table,
                index,
                fetch_from_table,
                zone,
            },
            range,
            &spec,
        );
        let consistent = input.consistent_read.unwrap_or(false);
        let fetched_units = (page.fetched_bytes / READ_UNIT_BYTES) as f64;
        let units = read_units(page.read_bytes, consistent)
            + if consistent {
                fetched_units
            } else {
                fetched_units / 2.0
            };
        let minimum = read_units(0, consistent);
        let returned = page.items.len() as u64;
        self.admit(
            &table_name,
            &start_key,
            false,
            minimum,
            global_index.as_deref(),
            now_ms,
        )?;
        match &global_index {
            Some(name) => self.charge(
                &table_name,
                &start_key,
                Usage {
                    write: false,
                    units: 0.0,
                    index_units: &[(name, units)],
                    returned,
                },
                now_ms,
            ),
            None => self.charge(
                &table_name,
                &start_key,
                Usage {
                    write: false,
                    units,
                    index_units: &[],
                    returned,
                },
                now_ms,
            ),
        }
        Ok(Response::Query(QueryOutput {
            count: page.items.len(),
            items: (!count_only).then_some(page.items),
            scanned_count: page.scanned,
            last_evaluated_key: page.last_evaluated_key,
            consumed_capacity: ReturnConsumedCapacity::parse(
                input.return_consumed_capacity.as_deref(),
            )
            .report(&table_name, units, true),
        }))
    }
}

/// Checks what reading from an index allows: no strongly consistent GSI reads, and only
/// projected attributes from a GSI.
fn check_index_read(
    index: &Index,
    table: &Table,
    input: &QueryInput,
    projection: Option<&[crate::expr::ResolvedPath]>,
) -> Result<()> {
    if index.global && input.consistent_read == Some(true) {
        return Err(Error::validation(
            "Consistent reads are not supported on global secondary indexes",
        ));
    }
    if !index.global {
        return Ok(());
    }
    if input.select.as_deref() == Some("ALL_ATTRIBUTES")
        && index.projection != crate::data::index::Projection::All
    {
        return Err(Error::validation(format!(
            "One or more parameter values were invalid: Select type ALL_ATTRIBUTES is not supported for global secondary index {} because its projection type is not ALL",
            index.name
        )));
    }
    for path in projection.unwrap_or(&[]) {
        if !index.projects(path.top(), &table.key_schema) {
            return Err(Error::validation(format!(
                "One or more parameter values were invalid: Global secondary index {} does not project attribute {}",
                index.name,
                path.top()
            )));
        }
    }
    Ok(())
}

/// The stored key an ExclusiveStartKey names: the table key, and for an index the index key
/// in front of it. The key must hold exactly those attributes.
fn start_key(table: &Table, index: Option<&Index>, start: &Item) -> Result<Box<[u8]>> {
    let invalid =
        |detail: &str| Error::validation(format!("The provided starting key is invalid: {detail}"));
    let mut expected: Vec<&str> = table.key_schema.names();
    if let Some(index) = index {
        expected.extend(index.key_schema.names());
    }
    expected.sort_unstable();
    expected.dedup();
    let mut given: Vec<&str> = start.keys().map(String::as_str).collect();
    given.sort_unstable();
    if given != expected {
        return Err(invalid(
            "The provided key element does not match the schema",
        ));
    }
    let table_part: Item = table.key_schema.key_of(start);
    let table_key = table
        .key_schema
        .key_parameter(&table_part)
        .map_err(|e| invalid(&e.message))?;
    match index {
        None => Ok(table_key),
        Some(index) => {
            index
                .key_schema
                .check_index_attributes(start, &index.name)
                .map_err(|e| invalid(&e.message))?;
            index
                .entry_key(start, &table_key)
                .ok_or_else(|| invalid("The provided key element does not match the schema"))
        }
    }
}
