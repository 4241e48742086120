//! ListTables: names in order, paged by ExclusiveStartTableName and Limit.

use crate::api::*;
use crate::engine::Engine;
use crate::error::{ConstraintErrors, Result, constraint};
use crate::limits::{self};

pub(crate) fn execute(engine: &Engine, input: &ListTablesInput) -> Result<Response> {
    let mut errors = ConstraintErrors::new();
    if let Some(limit) = input.limit {
        if limit < 1 {
            errors.push(&limit.to_string(), "limit", &constraint::value_at_least(1));
        }
        if limit > limits::LIST_TABLES_LIMIT_MAX as i64 {
            errors.push(
                &limit.to_string(),
                "limit",
                &constraint::value_at_most(limits::LIST_TABLES_LIMIT_MAX),
            );
        }
    }
    if let Some(start) = &input.exclusive_start_table_name {
        errors.name(&Some(start.clone()), "exclusiveStartTableName", false);
    }
    errors.into_result()?;
    let limit = input
        .limit
        .map_or(limits::LIST_TABLES_LIMIT_MAX, |l| l as usize);
    let names: Vec<&String> = match &input.exclusive_start_table_name {
        Some(start) => engine
            .tables
            .range::<String, _>((std::ops::Bound::Excluded(start), std::ops::Bound::Unbounded))
            .map(|(k, _)| k)
            .collect(),
        None => engine.tables.keys().collect(),
    };
    let page: Vec<String> = names.iter().take(limit).map(|s| s.to_string()).collect();
    let last = (names.len() > limit)
        .then(|| page.last().cloned())
        .flatten();
    Ok(Response::ListTables(ListTablesOutput {
        table_names: page,
        last_evaluated_table_name: last,
    }))
}
