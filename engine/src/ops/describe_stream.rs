//! DescribeStream (DynamoDB Streams API): a stream's status, view type, key schema and its
//! shards (parents before children), a page of up to `Limit` (100) at a time after
//! `ExclusiveStartShardId`, or only a shard's children with `ShardFilter`.

use crate::api::*;
use crate::data::stream::{Stream, render_sequence};
use crate::engine::Engine;
use crate::error::{ConstraintErrors, Error, Result};
use crate::limits;
use crate::ops::list_streams::{check_arn_length, check_length, check_limit};

pub(crate) fn execute(
    engine: &mut Engine,
    input: &DescribeStreamInput,
    now_ms: u64,
) -> Result<Response> {
    let mut errors = ConstraintErrors::new();
    errors.not_null(&input.stream_arn, "streamArn");
    check_arn_length(&mut errors, &input.stream_arn, "streamArn");
    let limit = check_limit(&mut errors, input.limit, limits::STREAM_LIST_LIMIT_MAX);
    check_length(
        &mut errors,
        &input.exclusive_start_shard_id,
        "exclusiveStartShardId",
        limits::SHARD_ID_LENGTH,
    );
    let children_of = match &input.shard_filter {
        Some(filter) => {
            errors.not_null(&filter.filter_type, "shardFilter.type");
            errors.enumeration(&filter.filter_type, "shardFilter.type", &["CHILD_SHARDS"]);
            check_length(
                &mut errors,
                &filter.shard_id,
                "shardFilter.shardId",
                limits::SHARD_ID_LENGTH,
            );
            filter.shard_id.as_deref()
        }
        None => None,
    };
    let arn = errors.into_result_with(input.stream_arn.as_deref())?;
    if input.shard_filter.is_some() && children_of.is_none() {
        return Err(Error::validation(
            "ShardId must be specified when the ShardFilter type is CHILD_SHARDS",
        ));
    }
    let stream = engine.stream_at(arn, now_ms)?;
    // Pages continue after the start shard's starting number, so a start shard dropped
    // since (past the retention) still continues where it was; an unknown one ends the list.
    let after = match &input.exclusive_start_shard_id {
        Some(id) => stream.shard_starting(id).unwrap_or(u64::MAX),
        None => 0,
    };
    let shards: Vec<ShardDescription> = stream
        .shards()
        .iter()
        .filter(|s| children_of.is_none_or(|parent| s.parent.as_deref() == Some(parent)))
        .filter(|s| input.exclusive_start_shard_id.is_none() || s.starting > after)
        .map(|s| ShardDescription {
            shard_id: s.id.clone(),
            sequence_number_range: SequenceNumberRange {
                starting_sequence_number: render_sequence(s.starting),
                ending_sequence_number: s.ending.map(render_sequence),
            },
            parent_shard_id: s.parent.clone(),
        })
        .collect();
    let page: Vec<ShardDescription> = shards.iter().take(limit).cloned().collect();
    let last_evaluated_shard_id = (page.len() < shards.len())
        .then(|| page.last().map(|s| s.shard_id.clone()))
        .flatten();
    Ok(Response::DescribeStream(Box::new(DescribeStreamOutput {
        stream_description: describe(stream, page, last_evaluated_shard_id, now_ms),
    })))
}

fn describe(
    stream: &Stream,
    shards: Vec<ShardDescription>,
    last_evaluated_shard_id: Option<String>,
    now_ms: u64,
) -> StreamDescription {
    StreamDescription {
        stream_arn: stream.arn.clone(),
        stream_label: stream.label.clone(),
        stream_status: stream.status(now_ms).name().into(),
        stream_view_type: stream.view_type.name().into(),
        creation_request_date_time: stream.created_ms as f64 / 1000.0,
        table_name: stream.table_name.clone(),
        key_schema: stream.key_schema.describe(),
        shards,
        last_evaluated_shard_id,
    }
}
