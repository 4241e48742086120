//! ListStreams (DynamoDB Streams API): the streams within their retention, of one table or of
//! all, in ARN order, a page of up to `Limit` (100) at a time.

use crate::api::*;
use crate::engine::{Engine, table_name_of};
use crate::error::{ConstraintErrors, Result, constraint};
use crate::limits;

pub(crate) fn execute(
    engine: &mut Engine,
    input: &ListStreamsInput,
    now_ms: u64,
) -> Result<Response> {
    let mut errors = ConstraintErrors::new();
    if input.table_name.is_some() {
        errors.name(&input.table_name, "tableName", true);
    }
    let limit = check_limit(&mut errors, input.limit, limits::STREAM_LIST_LIMIT_MAX);
    check_arn_length(
        &mut errors,
        &input.exclusive_start_stream_arn,
        "exclusiveStartStreamArn",
    );
    errors.into_result()?;
    engine.advance_streams(now_ms);
    let table = input.table_name.as_deref().map(table_name_of);
    let mut streams: Vec<StreamSummary> = engine
        .all_streams()
        .filter(|s| table.is_none_or(|t| s.table_name == t))
        .filter(|s| {
            input
                .exclusive_start_stream_arn
                .as_deref()
                .is_none_or(|start| s.arn.as_str() > start)
        })
        .map(|s| StreamSummary {
            stream_arn: s.arn.clone(),
            table_name: s.table_name.clone(),
            stream_label: s.label.clone(),
        })
        .collect();
    streams.sort_by(|a, b| a.stream_arn.cmp(&b.stream_arn));
    let more = streams.len() > limit;
    streams.truncate(limit);
    let last_evaluated_stream_arn = more
        .then(|| streams.last().map(|s| s.stream_arn.clone()))
        .flatten();
    Ok(Response::ListStreams(ListStreamsOutput {
        streams,
        last_evaluated_stream_arn,
    }))
}

/// A Streams API `Limit`: 1 to `max`, `max` when absent.
pub(crate) fn check_limit(errors: &mut ConstraintErrors, limit: Option<i64>, max: usize) -> usize {
    match limit {
        None => max,
        Some(l) if l < 1 => {
            errors.push(&l.to_string(), "limit", &constraint::value_at_least(1));
            max
        }
        Some(l) if l as u64 > max as u64 => {
            errors.push(&l.to_string(), "limit", &constraint::value_at_most(max));
            max
        }
        Some(l) => l as usize,
    }
}

/// A stream ARN's length (37 to 1,024 characters in the Streams API reference), when present.
pub(crate) fn check_arn_length(errors: &mut ConstraintErrors, arn: &Option<String>, path: &str) {
    check_length(errors, arn, path, limits::STREAM_ARN_LENGTH);
}

/// A string member's length within `(min, max)` characters, when present.
pub(crate) fn check_length(
    errors: &mut ConstraintErrors,
    value: &Option<String>,
    path: &str,
    (min, max): (usize, usize),
) {
    let Some(value) = value else {
        return;
    };
    let length = value.chars().count();
    if length < min {
        errors.push(
            &format!("'{value}'"),
            path,
            &constraint::length_at_least(min),
        );
    } else if length > max {
        errors.push(
            &format!("'{value}'"),
            path,
            &constraint::length_at_most(max),
        );
    }
}
