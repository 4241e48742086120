//! Messages of DynamoDB Streams: StreamSpecification on CreateTable and UpdateTable, and the
//! Streams API (ListStreams, DescribeStream, GetShardIterator, GetRecords).

use super::{Error, ErrorKind};

// StreamSpecification.
impl Error {
    /// (obs?) StreamEnabled true without a StreamViewType.
    pub(crate) fn stream_view_type_required() -> Error {
        Error::invalid_parameter("You must specify a StreamViewType when enabling a stream")
    }

    /// (obs?) A StreamViewType with StreamEnabled false.
    pub(crate) fn stream_view_type_when_disabling() -> Error {
        Error::invalid_parameter("Disabling stream with StreamViewType specified")
    }

    /// (obs?) UpdateTable enabling a stream on a table whose stream is enabled.
    pub(crate) fn stream_already_enabled(table: &str) -> Error {
        Error::validation(format!("Table {table} already has an enabled stream"))
    }

    /// (obs?) UpdateTable disabling a stream on a table without an enabled one.
    pub(crate) fn stream_not_enabled(table: &str) -> Error {
        Error::validation(format!(
            "Table {table} does not have an enabled stream to disable"
        ))
    }
}

// The Streams API.
impl Error {
    /// (obs?) A stream ARN this endpoint does not know (well formed or not).
    pub(crate) fn stream_not_found(arn: &str) -> Error {
        Error::new(
            ErrorKind::ResourceNotFound,
            format!("Requested resource not found: Stream: {arn} not found"),
        )
    }

    /// (obs?) A ShardId the stream does not have.
    pub(crate) fn shard_not_found(shard_id: &str, arn: &str) -> Error {
        Error::new(
            ErrorKind::ResourceNotFound,
            format!("Requested resource not found: Shard: {shard_id} in Stream: {arn} not found"),
        )
    }

    /// (obs?) A shard iterator that is not one this endpoint issued.
    pub(crate) fn shard_iterator_invalid() -> Error {
        Error::validation("Invalid ShardIterator")
    }

    /// (doc, Streams API reference) An iterator older than 15 minutes.
    pub(crate) fn shard_iterator_expired() -> Error {
        Error::new(
            ErrorKind::ExpiredIterator,
            "The provided iterator exceeds the maximum age allowed.",
        )
    }

    /// (doc, Streams API reference) A read at a position whose records were trimmed.
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
