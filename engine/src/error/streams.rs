//! Messages of DynamoDB Streams: StreamSpecification on CreateTable and UpdateTable, and the
//! Streams API (ListStreams, DescribeStream, GetShardIterator, GetRecords).

use super::{Error, ErrorKind};

// StreamSpecification. Sources: a findings catalogue of live runs against the service
// (ack-api-quirks DDB-TABLE-050, -442) matching Alternator's executor.cc and the substrings
// Alternator's test_streams.py asserts against AWS; "UpdateViewType" is the service's word.
impl Error {
    /// (obs) StreamEnabled true without a StreamViewType.
    pub(crate) fn stream_view_type_required(creating: bool) -> Error {
        Error::invalid_parameter(if creating {
            "Table is being created with a stream enabled, UpdateViewType is required"
        } else {
            "If stream is being enabled then UpdateViewType is required"
        })
    }

    /// (obs) A StreamViewType with StreamEnabled false.
    pub(crate) fn stream_view_type_when_disabling(creating: bool) -> Error {
        Error::invalid_parameter(if creating {
            "Table is being created with a stream disabled, UpdateViewType should not be specified"
        } else {
            "If stream is being disabled, then UpdateViewType must not be specified"
        })
    }

    /// (obs) UpdateTable enabling a stream on a table whose stream is enabled (whatever the
    /// view type).
    pub(crate) fn stream_already_enabled(table: &str) -> Error {
        Error::validation(format!(
            "Table already has an enabled stream: TableName: {table}"
        ))
    }

    /// (obs) UpdateTable disabling a stream on a table without an enabled one.
    pub(crate) fn stream_not_enabled(table: &str) -> Error {
        Error::validation(format!(
            "Table has no stream to disable: TableName: {table}"
        ))
    }
}

// The Streams API.
impl Error {
    /// (obs: localstack's snapshot validated against AWS; DynamoDB Local agrees) A well-formed
    /// stream ARN this endpoint does not know.
    pub(crate) fn stream_not_found(arn: &str) -> Error {
        Error::new(
            ErrorKind::ResourceNotFound,
            format!("Requested resource not found: Stream: {arn} not found"),
        )
    }

    /// (obs? the service answers ValidationException, Alternator's test_streams.py; the text
    /// is an SDK integration test's substring) A StreamArn that is not a stream ARN.
    pub(crate) fn stream_arn_invalid() -> Error {
        Error::validation("Invalid StreamArn")
    }

    /// (obs: data-prepper#4401, node-dynamodb-stream#16, with AWS request ids) GetShardIterator
    /// naming a ShardId the stream does not have.
    pub(crate) fn shard_not_found() -> Error {
        Error::new(
            ErrorKind::ResourceNotFound,
            "Requested resource not found: Shard does not exist",
        )
    }

    /// (emu: DynamoDB Local) GetRecords with an iterator of a shard that is gone.
    pub(crate) fn iterator_shard_gone() -> Error {
        Error::new(
            ErrorKind::ResourceNotFound,
            "Invalid ShardId in ShardIterator",
        )
    }

    /// (emu: DynamoDB Local; the service's answer is a ValidationException mentioning the
    /// limit, Alternator's test_streams.py) GetRecords with a Limit over 1,000.
    pub(crate) fn get_records_limit_too_high() -> Error {
        Error::invalid_parameter("Limit should be less than or equal to 1000")
    }

    /// (emu: DynamoDB Local; the service answers ValidationException, Alternator's
    /// test_streams.py) A shard iterator that is not one this endpoint issued.
    pub(crate) fn shard_iterator_invalid() -> Error {
        Error::validation("Invalid ShardIterator")
    }

    /// (doc: the Streams API reference's description; no observed text, DynamoDB Local's is
    /// empty) An iterator older than 15 minutes.
    pub(crate) fn shard_iterator_expired() -> Error {
        Error::new(
            ErrorKind::ExpiredIterator,
            "The provided iterator exceeds the maximum age allowed.",
        )
    }

    /// (obs? node-dynamodb-stream#13 quotes it, and it is the SDK model's description) A read
    /// at a position whose records were trimmed.
    pub(crate) fn stream_data_trimmed() -> Error {
        Error::new(
            ErrorKind::TrimmedDataAccess,
            "The data you are trying to access has been trimmed.",
        )
    }

    /// (obs?) AT_ or AFTER_SEQUENCE_NUMBER without a SequenceNumber.
    pub(crate) fn sequence_number_required(iterator_type: &str) -> Error {
        Error::validation(format!(
            "Must specify a sequence number for iterator type {iterator_type}"
        ))
    }

    /// (obs?) TRIM_HORIZON or LATEST with a SequenceNumber.
    pub(crate) fn sequence_number_not_allowed(iterator_type: &str) -> Error {
        Error::validation(format!(
            "Sequence number is not allowed for iterator type {iterator_type}"
        ))
    }

    /// (obs?) A SequenceNumber outside the shard's range.
    pub(crate) fn sequence_number_invalid(sequence: &str, shard_id: &str) -> Error {
        Error::validation(format!(
            "Invalid SequenceNumber {sequence} for shard {shard_id}"
        ))
    }
}
