//! GetShardIterator (DynamoDB Streams API): an iterator at a shard's oldest untrimmed record
//! (TRIM_HORIZON), after its newest (LATEST), or at or after a sequence number in the shard.

use crate::api::*;
use crate::data::stream::iterator::ShardIterator;
use crate::data::stream::shard::Shard;
use crate::data::stream::{Stream, parse_sequence};
use crate::engine::Engine;
use crate::error::{ConstraintErrors, Error, Result};
use crate::limits;
use crate::ops::list_streams::{check_arn_length, check_length};

const ITERATOR_TYPES: [&str; 4] = [
    "TRIM_HORIZON",
    "LATEST",
    "AT_SEQUENCE_NUMBER",
    "AFTER_SEQUENCE_NUMBER",
];

/// The sequence number an iterator of `kind` reads from: the oldest record not trimmed, the
/// one after the newest, or a sequence number within the shard (`at` or after it).
fn position(stream: &Stream, shard: &Shard, kind: &str, sequence: Option<&str>) -> Result<u64> {
    let last = shard.ending.unwrap_or(stream.last_sequence());
    match (kind, sequence) {
        ("TRIM_HORIZON", _) => Ok(shard.starting.max(shard.trimmed_through + 1)),
        ("LATEST", _) => Ok(last + 1),
        (_, Some(text)) => {
            let n = text
                .bytes()
                .all(|b| b.is_ascii_digit())
                .then(|| parse_sequence(text))
                .flatten()
                .filter(|n| (shard.starting..=last).contains(n))
                .ok_or_else(|| Error::sequence_number_invalid(text, &shard.id))?;
            Ok(if kind == "AT_SEQUENCE_NUMBER" {
                n
            } else {
                n + 1
            })
        }
        _ => Err(Error::internal()),
    }
}

pub(crate) fn execute(
    engine: &mut Engine,
    input: &GetShardIteratorInput,
    now_ms: u64,
) -> Result<Response> {
    let mut errors = ConstraintErrors::new();
    errors.not_null(&input.stream_arn, "streamArn");
    check_arn_length(&mut errors, &input.stream_arn, "streamArn");
    errors.not_null(&input.shard_id, "shardId");
    check_length(
        &mut errors,
        &input.shard_id,
        "shardId",
        limits::SHARD_ID_LENGTH,
    );
    errors.not_null(&input.shard_iterator_type, "shardIteratorType");
    errors.enumeration(
        &input.shard_iterator_type,
        "shardIteratorType",
        &ITERATOR_TYPES,
    );
    check_length(
        &mut errors,
        &input.sequence_number,
        "sequenceNumber",
        limits::SEQUENCE_NUMBER_LENGTH,
    );
    errors.into_result()?;
    let (Some(arn), Some(shard_id), Some(kind)) = (
        input.stream_arn.as_deref(),
        input.shard_id.as_deref(),
        input.shard_iterator_type.as_deref(),
    ) else {
        return Err(Error::internal());
    };
    let sequence = input.sequence_number.as_deref();
    match (kind, sequence) {
        ("AT_SEQUENCE_NUMBER" | "AFTER_SEQUENCE_NUMBER", None) => {
            return Err(Error::sequence_number_required(kind));
        }
        ("TRIM_HORIZON" | "LATEST", Some(_)) => {
            return Err(Error::sequence_number_not_allowed(kind));
        }
        _ => {}
    }
    let stream = engine.stream_at(arn, now_ms)?;
    let shard = stream.shard(shard_id).ok_or_else(Error::shard_not_found)?;
    let position = position(stream, shard, kind, sequence)?;
    let iterator = ShardIterator {
        stream_arn: stream.arn.clone(),
        shard_id: shard.id.clone(),
        position,
        issued_ms: now_ms,
    };
    Ok(Response::GetShardIterator(GetShardIteratorOutput {
        shard_iterator: iterator.encode(),
    }))
}
