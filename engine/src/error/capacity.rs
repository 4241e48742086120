//! Messages of throttled requests (`dynamodb-facts.md` §6.6). Each carries the limit that was
//! hit as a `ThrottlingReason`.

use super::{Error, ErrorKind, ThrottlingReason};

impl Error {
    /// (doc) A provisioned table, or one of its partitions, over its throughput; the wording
    /// is the API reference's, from TransactionCanceledException's cancellation reasons.
    pub(crate) fn table_provisioned_throughput_exceeded(reason: ThrottlingReason) -> Error {
        Error::throttled(
            ErrorKind::ProvisionedThroughputExceeded,
            "The level of configured provisioned throughput for the table was exceeded. Consider increasing your provisioning level with the UpdateTable API.",
            reason,
        )
    }

    /// (doc) A provisioned table's GSI over its throughput (same source as the table's).
    pub(crate) fn index_provisioned_throughput_exceeded(reason: ThrottlingReason) -> Error {
        Error::throttled(
            ErrorKind::ProvisionedThroughputExceeded,
            "The level of configured provisioned throughput for one or more global secondary indexes of the table was exceeded. Consider increasing your provisioning level for the under-provisioned global secondary indexes with the UpdateTable API.",
            reason,
        )
    }

    /// (doc) An on-demand table or index over its current capacity (same source; we answer the
    /// table's wording for indexes too).
    pub(crate) fn on_demand_throughput_exceeded(reason: ThrottlingReason) -> Error {
        Error::throttled(
            ErrorKind::Throttling,
            "Throughput exceeds the current capacity of your table or index. DynamoDB is automatically scaling your table or index so please try again shortly. If exceptions persist, check if you have a hot key: https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/bp-partition-key-design.html.",
            reason,
        )
    }

    fn throttled(kind: ErrorKind, message: &str, reason: ThrottlingReason) -> Error {
        let mut error = Error::new(kind, message);
        error.throttling_reasons = vec![reason];
        error
    }
}
