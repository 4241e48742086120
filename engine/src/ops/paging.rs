//! What Query and Scan share: the constraint checks, Select and expression-member rules,
//! resolving the filter and projection, the index checks, ExclusiveStartKey, reading one page
//! and charging for it.

use super::common::{RETURN_CONSUMED_CAPACITY, check_item};
use crate::api::LegacyCondition;
use crate::api::{QueryInput, QueryOutput, Response};
use crate::capacity::admission::Usage;
use crate::capacity::units::IndexRead;
use crate::capacity::units::{ReturnConsumedCapacity, read_units};
use crate::data::index::Index;
use crate::data::page::{KeyRange, PageSpec, Source, contains, read_page};
use crate::data::table::Table;
use crate::engine::Engine;
use crate::error::{ConstraintErrors, Error, Result, constraint};
use crate::expr::key_condition::KeyCondition;
use crate::expr::resolve::Placeholders;
use crate::expr::{ExpressionKind, ResolvedCondition, ResolvedPath, legacy, parse};
use crate::limits::READ_UNIT_BYTES;
use crate::types::index_keys::IndexKeySchema;
use crate::types::item::Item;
use std::collections::BTreeMap;
use std::ops::Bound;

/// The constraint checks both operations make, in DynamoDB's order; the caller adds its own
/// (Scan's segments) before turning them into a result.
pub(crate) fn check_constraints(input: &QueryInput) -> ConstraintErrors {
    let mut errors = ConstraintErrors::new();
    errors.table_name(&input.table_name, true);
    if input.index_name.is_some() {
        errors.name(&input.index_name, "indexName", false);
    }
    errors.list_not_empty(&input.attributes_to_get, "attributesToGet");
    if let Some(limit) = input.limit
        && limit < 1
    {
        errors.push(&limit.to_string(), "limit", &constraint::value_at_least(1));
    }
    errors.enumeration(
        &input.select,
        "select",
        &[
            "SPECIFIC_ATTRIBUTES",
            "COUNT",
            "ALL_ATTRIBUTES",
            "ALL_PROJECTED_ATTRIBUTES",
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
        &super::common::CONDITIONAL_OPERATORS,
    );
    errors
}

/// The mixing rule over a read's members; `filter_name` is the operation's legacy filter
/// (QueryFilter or ScanFilter). KeyConditions counts as a legacy parameter only beside a
/// KeyConditionExpression: with a FilterExpression or ProjectionExpression it is accepted
/// (dynamodb-facts §3.7). Both lists are in the order the service prints them.
pub(crate) fn check_no_mixing(
    input: &QueryInput,
    filter_name: &str,
    legacy_filter: &Option<BTreeMap<String, LegacyCondition>>,
) -> Result<()> {
    let key_conditions_conflict =
        input.key_conditions.is_some() && input.key_condition_expression.is_some();
    super::common::check_no_mixing(
        &[
            ("AttributesToGet", input.attributes_to_get.is_some()),
            (filter_name, legacy_filter.is_some()),
            ("ConditionalOperator", input.conditional_operator.is_some()),
            ("KeyConditions", key_conditions_conflict),
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
    )
}

/// Select against the projection members and the index.
pub(crate) fn check_select(input: &QueryInput) -> Result<()> {
    let has_projection = input.projection_expression.is_some() || input.attributes_to_get.is_some();
    match input.select.as_deref() {
        Some("SPECIFIC_ATTRIBUTES") if !has_projection => {
            Err(Error::select_specific_without_projection())
        }
        Some(select @ ("ALL_ATTRIBUTES" | "ALL_PROJECTED_ATTRIBUTES" | "COUNT"))
            if has_projection =>
        {
            Err(Error::select_with_projection(select))
        }
        Some("ALL_PROJECTED_ATTRIBUTES") if input.index_name.is_none() => {
            Err(Error::select_projected_without_index())
        }
        _ => Ok(()),
    }
}

/// ExpressionAttributeNames/Values only with expressions, ConditionalOperator only with two
/// or more legacy filter entries. `value_expressions` names the operation's expressions that
/// take values, for the message when values come without any of them.
pub(crate) fn check_expression_members(
    input: &QueryInput,
    legacy_filter: &Option<BTreeMap<String, LegacyCondition>>,
    value_expressions: &[&str],
) -> Result<()> {
    let expressions_used = input.projection_expression.is_some()
        || input.filter_expression.is_some()
        || input.key_condition_expression.is_some();
    if input.expression_attribute_names.is_some() && !expressions_used {
        return Err(Error::expression_attribute_names_without_expressions());
    }
    if input.expression_attribute_values.is_some()
        && input.filter_expression.is_none()
        && input.key_condition_expression.is_none()
    {
        return Err(Error::expression_attribute_values_without_expressions(
            value_expressions,
        ));
    }
    if input.conditional_operator.is_some() && legacy_filter.as_ref().is_none_or(|f| f.len() < 2) {
        return Err(Error::conditional_operator_unused());
    }
    Ok(())
}

/// The resolved expressions of a read.
pub(crate) struct Expressions {
    pub key_condition: Option<ResolvedCondition>,
    pub filter: Option<ResolvedCondition>,
    pub projection: Option<Vec<ResolvedPath>>,
}

/// Parses and resolves the key condition (when `with_key_condition`), the filter and the
/// projection, with every placeholder used.
pub(crate) fn resolve(
    input: &QueryInput,
    legacy_filter: &Option<BTreeMap<String, LegacyCondition>>,
    with_key_condition: bool,
) -> Result<Expressions> {
    let mut placeholders = Placeholders::new(
        input.expression_attribute_names.as_ref(),
        input.expression_attribute_values.as_ref(),
    )?;
    let key_condition = match (&input.key_condition_expression, with_key_condition) {
        (Some(text), true) => {
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
            let member = if with_key_condition {
                "queryFilter"
            } else {
                "scanFilter"
            };
            legacy::filter(member, entries, input.conditional_operator.as_deref())?
        }
        (None, None) => None,
    };
    let projection = match (&input.projection_expression, &input.attributes_to_get) {
        (Some(text), _) => Some(placeholders.projection(&parse::parse_projection(text)?)?),
        (None, Some(names)) => Some(legacy::attributes_to_get(names)?),
        (None, None) => None,
    };
    placeholders.finish()?;
    Ok(Expressions {
        key_condition,
        filter,
        projection,
    })
}

/// Draws the replica an eventually consistent read of the table or of a local secondary index
/// goes to, and brings what is due by now into view: the replicas' applied state and a
/// lagging GSI's propagated entries. (GSI reads go to the index, which is not replicated
/// here.)
pub(crate) fn open(
    engine: &mut Engine,
    input: &QueryInput,
    table: &str,
    now_ms: u64,
) -> Option<usize> {
    // A GSI is read from the index (not replicated here); the table and its local secondary
    // indexes from a replica, possibly stale.
    let global = input.index_name.as_ref().is_some_and(|name| {
        engine
            .tables
            .get(table)
            .and_then(|t| t.index(name))
            .is_none_or(|index| index.global)
    });
    let zone = if input.consistent_read == Some(true) || global {
        None
    } else {
        engine.realism.read_zone(table)
    };
    if let Some(t) = engine.tables.get_mut(table) {
        if zone.is_some() {
            t.catch_up_replicas(now_ms);
        }
        if let Some(name) = &input.index_name {
            t.catch_up_index(name, now_ms);
        }
    }
    zone
}

/// The index a read names, checked for what reading from it allows.
pub(crate) fn find_index<'a>(
    table: &'a Table,
    input: &QueryInput,
    projection: Option<&[ResolvedPath]>,
    now_ms: u64,
) -> Result<Option<&'a Index>> {
    let Some(name) = &input.index_name else {
        return Ok(None);
    };
    let index = table
        .index(name)
        .ok_or_else(|| Error::index_not_on_table(name))?;
    if index.creating(now_ms).is_some() {
        return Err(Error::index_backfilling(name));
    }
    check_index_read(index, table, input, projection)?;
    Ok(Some(index))
}

/// Checks what reading from an index allows: no strongly consistent GSI reads, and only
/// projected attributes from a GSI.
fn check_index_read(
    index: &Index,
    table: &Table,
    input: &QueryInput,
    projection: Option<&[ResolvedPath]>,
) -> Result<()> {
    if index.global && input.consistent_read == Some(true) {
        return Err(Error::global_index_consistent_read());
    }
    if !index.global {
        return Ok(());
    }
    if input.select.as_deref() == Some("ALL_ATTRIBUTES")
        && index.projection != crate::data::index::Projection::All
    {
        return Err(Error::global_index_select_all(&index.name));
    }
    for path in projection.unwrap_or(&[]) {
        if !index.projects(path.top(), &table.key_schema) {
            return Err(Error::global_index_attribute_not_projected(
                &index.name,
                path.top(),
            ));
        }
    }
    Ok(())
}

/// Narrows `range` to start after ExclusiveStartKey, checking it names a key of the table
/// (and index) and, for a Query, lies within the key condition.
pub(crate) fn apply_start_key(
    input: &QueryInput,
    table: &Table,
    index: Option<&Index>,
    key: Option<&KeyCondition>,
    range: &mut KeyRange,
    forward: bool,
) -> Result<()> {
    let Some(raw_start) = &input.exclusive_start_key else {
        return Ok(());
    };
    let schema: IndexKeySchema = index.map_or_else(
        || IndexKeySchema::from(&table.key_schema),
        |i| i.key_schema.clone(),
    );
    let start_item = check_item(raw_start)?;
    if key.is_some() && index.is_none() && schema.range.is_empty() {
        return Err(Error::start_key_single_row());
    }
    let start = start_key(table, index, &start_item)?;
    if let Some(condition) = key {
        let outside = schema
            .hash
            .iter()
            .zip(&condition.hash)
            .any(|(attribute, value)| start_item.get(&attribute.name) != Some(value));
        if outside {
            return Err(Error::start_key_outside_partition());
        }
        if !contains(range, &start) {
            return Err(Error::start_key_outside_range());
        }
    }
    if forward {
        range.lower = Bound::Excluded(start.to_vec());
    } else {
        range.upper = Bound::Excluded(start.to_vec());
    }
    Ok(())
}

/// A checked read of one page: everything execution needs, borrowed from the catalog.
pub(crate) struct Read<'a> {
    pub table: &'a Table,
    pub index: Option<&'a Index>,
    pub zone: Option<usize>,
    pub range: KeyRange,
    pub forward: bool,
    pub expressions: &'a Expressions,
}

/// A page read, and what admission and charging need (the catalog is no longer borrowed).
pub(crate) struct PageRead {
    table: String,
    start_key: Vec<u8>,
    global_index: Option<String>,
    /// The index read, for the ConsumedCapacity breakdown.
    index: Option<IndexRead>,
    units: f64,
    count_only: bool,
    page: crate::data::page::Page,
}

/// Reads the page. Admission and charging go to the partition where the read starts (a GSI
/// read to the GSI, over the table's partition boundaries).
pub(crate) fn read(engine: &Engine, input: &QueryInput, read: Read<'_>) -> PageRead {
    let Read {
        table,
        index,
        zone,
        range,
        forward,
        expressions,
    } = read;
    let count_only = input.select.as_deref() == Some("COUNT");
    let projection = expressions.projection.as_deref();
    let spec = PageSpec {
        forward,
        limit: input.limit.map(|l| l as usize),
        page_bytes: engine.config.limits.page_size_bytes_max,
        filter: expressions.filter.as_ref(),
        projection,
        count_only,
    };
    let fetch_from_table = index.is_some_and(|index| {
        !index.global
            && (input.select.as_deref() == Some("ALL_ATTRIBUTES")
                || projection
                    .iter()
                    .flat_map(|paths| paths.iter())
                    .any(|path| !index.projects(path.top(), &table.key_schema)))
    });
    let start_key = match &range.lower {
        Bound::Included(k) | Bound::Excluded(k) => k.clone(),
        Bound::Unbounded => Vec::new(),
    };
    let global_index = index.filter(|i| i.global).map(|i| i.name.clone());
    let source = Source {
        table,
        index,
        fetch_from_table,
        zone,
    };
    let page = read_page(&source, range, &spec);
    let consistent = input.consistent_read.unwrap_or(false);
    let fetched_units = (page.fetched_bytes / READ_UNIT_BYTES) as f64;
    let fetched_units = if consistent {
        fetched_units
    } else {
        fetched_units / 2.0
    };
    let index_units = read_units(page.read_bytes, consistent);
    PageRead {
        table: table.name.clone(),
        start_key,
        global_index,
        index: index.map(|i| IndexRead {
            name: i.name.clone(),
            global: i.global,
            units: index_units,
        }),
        units: index_units + fetched_units,
        count_only,
        page,
    }
}

/// Admits and charges a page read and answers it.
pub(crate) fn respond(
    engine: &mut Engine,
    input: &QueryInput,
    read: PageRead,
    now_ms: u64,
) -> Result<Response> {
    let PageRead {
        table,
        start_key,
        global_index,
        index,
        units,
        count_only,
        page,
    } = read;
    let minimum = read_units(0, input.consistent_read.unwrap_or(false));
    let returned = page.items.len() as u64;
    engine.admit(
        &table,
        &start_key,
        false,
        minimum,
        global_index.as_deref(),
        now_ms,
    )?;
    let usage = match &global_index {
        Some(name) => Usage {
            write: false,
            units: 0.0,
            index_units: &[(name, units)],
            returned,
        },
        None => Usage {
            write: false,
            units,
            index_units: &[],
            returned,
        },
    };
    engine.charge(&table, &start_key, usage, now_ms);
    Ok(Response::Query(QueryOutput {
        count: page.items.len(),
        items: (!count_only).then_some(page.items),
        scanned_count: page.scanned,
        last_evaluated_key: page.last_evaluated_key,
        consumed_capacity: ReturnConsumedCapacity::parse(input.return_consumed_capacity.as_deref())
            .report_read(&table, units, index.as_ref()),
    }))
}
fn start_key(table: &Table, index: Option<&Index>, start: &Item) -> Result<Box<[u8]>> {
    let invalid = Error::start_key_invalid;
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
