//! GetRecords (DynamoDB Streams API): the records of a shard from an iterator's position, at
//! most `Limit` (1,000) and 1 MB of them, and the iterator after them (none once a closed
//! shard is drained). Iterators expire 15 minutes after they were issued; a position whose
//! records were trimmed is TrimmedDataAccessException.

use crate::api::*;
use crate::data::stream::iterator::ShardIterator;
use crate::data::stream::shard::Record;
use crate::data::stream::{Stream, render_sequence};
use crate::engine::Engine;
use crate::error::{ConstraintErrors, Error, Result};
use crate::limits;
use crate::ops::list_streams::{check_length, check_limit};

pub(crate) fn execute(
    engine: &mut Engine,
    input: &GetRecordsInput,
    now_ms: u64,
) -> Result<Response> {
    let mut errors = ConstraintErrors::new();
    errors.not_null(&input.shard_iterator, "shardIterator");
    check_length(
        &mut errors,
        &input.shard_iterator,
        "shardIterator",
        limits::SHARD_ITERATOR_LENGTH,
    );
    // Over 1,000 is a parameter error of its own (DynamoDB Local), below 1 a constraint.
    let limit = match input.limit {
        Some(l) if l > limits::GET_RECORDS_LIMIT_MAX as i64 => None,
        other => Some(check_limit(
            &mut errors,
            other,
            limits::GET_RECORDS_LIMIT_MAX,
        )),
    };
    let text = errors.into_result_with(input.shard_iterator.as_deref())?;
    let limit = limit.ok_or_else(Error::get_records_limit_too_high)?;
    let iterator = ShardIterator::decode(text).ok_or_else(Error::shard_iterator_invalid)?;
    if now_ms
        >= iterator
            .issued_ms
            .saturating_add(engine.config.limits.stream_iterator_lifetime_ms)
    {
        return Err(Error::shard_iterator_expired());
    }
    let region = engine.config.region.clone();
    let stream = engine.stream_at(&iterator.stream_arn, now_ms)?;
    let shard = stream
        .shard(&iterator.shard_id)
        .ok_or_else(Error::iterator_shard_gone)?;
    if shard.trimmed_at(iterator.position) {
        return Err(Error::stream_data_trimmed());
    }
    let mut records = Vec::new();
    let mut bytes = 0;
    let mut next = iterator.position;
    for record in shard.records_from(iterator.position).take(limit) {
        if !records.is_empty() && bytes + record.size_bytes > limits::GET_RECORDS_BYTES_MAX {
            break;
        }
        bytes += record.size_bytes;
        next = record.sequence + 1;
        records.push(render(stream, record, &region));
    }
    let next_shard_iterator = (!shard.drained_at(next)).then(|| {
        ShardIterator {
            position: next,
            issued_ms: now_ms,
            ..iterator
        }
        .encode()
    });
    Ok(Response::GetRecords(GetRecordsOutput {
        records,
        next_shard_iterator,
    }))
}

/// A record as GetRecords shows it.
pub(crate) fn render(stream: &Stream, record: &Record, region: &str) -> StreamRecord {
    StreamRecord {
        event_id: stream.event_id(record),
        event_name: record.event.name().into(),
        event_version: "1.1".into(),
        event_source: "aws:dynamodb".into(),
        aws_region: region.to_string(),
        dynamodb: StreamRecordBody {
            approximate_creation_date_time: (record.created_ms / 1000) as f64,
            keys: record.keys(),
            new_image: record.new_image(),
            old_image: record.old_image(),
            sequence_number: render_sequence(record.sequence),
            size_bytes: record.size_bytes,
            stream_view_type: stream.view_type.name().into(),
        },
        user_identity: record.by_ttl.then(|| Identity {
            principal_id: "dynamodb.amazonaws.com".into(),
            identity_type: "Service".into(),
        }),
    }
}
