//! Scan: one page of a whole table or index, or of one segment of a parallel scan, in
//! stored-key order, filtered and projected.

use super::paging::{self, Read};
use crate::api::{QueryInput, Response};
use crate::data::page::KeyRange;
use crate::engine::{Engine, table_name_of};
use crate::error::{ConstraintErrors, Error, Result, constraint};
use crate::limits::TOTAL_SEGMENTS_MAX;
use std::ops::Bound;

/// Segment and TotalSegments against their ranges.
fn check_segments(input: &QueryInput, errors: &mut ConstraintErrors) {
    if let Some(segment) = input.segment {
        if segment < 0 {
            errors.push(
                &segment.to_string(),
                "segment",
                &constraint::value_at_least(0),
            );
        }
        if segment > i64::from(TOTAL_SEGMENTS_MAX) - 1 {
            errors.push(
                &segment.to_string(),
                "segment",
                &constraint::value_at_most(TOTAL_SEGMENTS_MAX - 1),
            );
        }
    }
    if let Some(total) = input.total_segments {
        if total < 1 {
            errors.push(
                &total.to_string(),
                "totalSegments",
                &constraint::value_at_least(1),
            );
        }
        if total > i64::from(TOTAL_SEGMENTS_MAX) {
            errors.push(
                &total.to_string(),
                "totalSegments",
                &constraint::value_at_most(TOTAL_SEGMENTS_MAX),
            );
        }
    }
}

/// The range of stored keys a segment covers: an equal share of the key-hash space (the
/// stored key starts with the partition key's eight-byte hash).
fn segment_range(input: &QueryInput) -> Result<KeyRange> {
    match (input.segment, input.total_segments) {
        (Some(_), None) => Err(Error::total_segments_missing()),
        (None, Some(_)) => Err(Error::segment_missing()),
        (Some(segment), Some(total)) if segment >= total => {
            Err(Error::segment_out_of_bounds(segment, total))
        }
        (Some(segment), Some(total)) => {
            let (segment, total) = (segment as u128, total as u128);
            let start = ((segment << 64) / total) as u64;
            let upper = if segment + 1 == total {
                Bound::Unbounded
            } else {
                Bound::Excluded((((segment + 1) << 64) / total) as u64)
                    .map(|h| h.to_be_bytes().to_vec())
            };
            Ok(KeyRange {
                lower: Bound::Included(start.to_be_bytes().to_vec()),
                upper,
            })
        }
        (None, None) => Ok(KeyRange {
            lower: Bound::Unbounded,
            upper: Bound::Unbounded,
        }),
    }
}

pub(crate) fn execute(engine: &mut Engine, input: &QueryInput, now_ms: u64) -> Result<Response> {
    let mut errors = paging::check_constraints(input);
    check_segments(input, &mut errors);
    let name = errors.into_result_with(input.table_name.as_deref())?;
    paging::check_no_mixing(input, "ScanFilter", &input.scan_filter)?;
    let mut range = segment_range(input)?;
    paging::check_select(input)?;
    paging::check_expression_members(input, &input.scan_filter, &["FilterExpression"])?;
    let expressions = paging::resolve(input, &input.scan_filter, false)?;
    let zone = paging::open(engine, input, table_name_of(name), now_ms);
    let table = engine.table_for_data(name, now_ms)?;
    let index = paging::find_index(table, input, expressions.projection.as_deref(), now_ms)?;
    paging::apply_start_key(input, table, index, None, &mut range, true)?;
    let read = Read {
        table,
        index,
        zone,
        range,
        forward: true,
        expressions: &expressions,
    };
    let page = paging::read(engine, input, read);
    paging::respond(engine, input, page, now_ms)
}
