//! Messages of TransactWriteItems and TransactGetItems (`dynamodb-facts.md` §9).

use super::{CancellationReason, Error, ErrorKind};
use crate::types::item::Item;

impl Error {
    /// (doc, message format MOTO) A cancelled transaction: one reason per action, in request
    /// order, their codes listed in the message.
    pub fn transaction_canceled(reasons: Vec<CancellationReason>) -> Error {
        let codes: Vec<&str> = reasons.iter().map(|r| r.code.as_str()).collect();
        let mut error = Error::new(
            ErrorKind::TransactionCanceled,
            format!(
                "Transaction cancelled, please refer cancellation reasons for specific reasons [{}]",
                codes.join(", ")
            ),
        );
        error.cancellation_reasons = reasons;
        error
    }

    /// (doc, the API model's description) A single-item write of an item a transaction holds.
    pub fn transaction_conflict() -> Error {
        Error::new(
            ErrorKind::TransactionConflict,
            "Operation was rejected because there is an ongoing transaction for the item.",
        )
    }

    /// (ours) The same ClientRequestToken while its transaction is still running.
    pub(crate) fn transaction_in_progress() -> Error {
        Error::new(
            ErrorKind::TransactionInProgress,
            "The transaction with the given ClientRequestToken is already in progress.",
        )
    }

    /// (ours) The same ClientRequestToken with different parameters within its window.
    pub(crate) fn idempotent_parameter_mismatch() -> Error {
        Error::new(
            ErrorKind::IdempotentParameterMismatch,
            "The request uses the same client request token as a previous, but non-identical request.",
        )
    }

    /// (emu, MOTO; obs matches) An action with none or several of its members.
    pub(crate) fn transact_item_not_one_action() -> Error {
        Error::validation("TransactItems can only contain one of Check, Put, Update or Delete")
    }

    /// (emu, MOTO; obs matches "transactItems.*100") More than 100 actions.
    pub(crate) fn transact_items_too_many() -> Error {
        Error::validation(
            "1 validation error detected at 'transactItems' failed to satisfy constraint: Member must have length less than or equal to 100",
        )
    }

    /// (emu, MOTO; obs matches "one item") Two actions on one item.
    pub(crate) fn transaction_item_twice() -> Error {
        Error::validation("Transaction request cannot include multiple operations on one item")
    }

    /// (obs?: the service's message contains "size cannot exceed") A request over 4 MB.
    pub(crate) fn transaction_too_large() -> Error {
        Error::validation("Transaction request size cannot exceed 4 MB")
    }
}

impl CancellationReason {
    /// (obs) An action that did not cause the cancellation: the code "None", no message.
    pub fn none() -> CancellationReason {
        CancellationReason {
            code: "None".into(),
            message: None,
            item: None,
        }
    }

    /// (doc) An action whose condition failed, with the item under ALL_OLD.
    pub(crate) fn condition_failed(item: Option<Item>) -> CancellationReason {
        CancellationReason {
            code: "ConditionalCheckFailed".into(),
            message: Some("The conditional request failed".into()),
            item,
        }
    }

    /// (doc) An action on an item another transaction holds, or whose timestamp is older than
    /// what the item has seen.
    pub fn conflict() -> CancellationReason {
        CancellationReason {
            code: "TransactionConflict".into(),
            message: Some("Transaction is ongoing for the item.".into()),
            item: None,
        }
    }

    /// (doc) An action refused with `error`: throttled (ProvisionedThroughputExceeded,
    /// ThrottlingError), an item collection full, or an item-dependent ValidationError.
    pub fn from_error(error: Error) -> CancellationReason {
        let code = match error.kind {
            ErrorKind::ProvisionedThroughputExceeded => "ProvisionedThroughputExceeded",
            ErrorKind::Throttling => "ThrottlingError",
            ErrorKind::ItemCollectionSizeLimitExceeded => "ItemCollectionSizeLimitExceeded",
            ErrorKind::ConditionalCheckFailed => "ConditionalCheckFailed",
            ErrorKind::TransactionConflict => "TransactionConflict",
            _ => "ValidationError",
        };
        CancellationReason {
            code: code.into(),
            message: Some(error.message),
            item: error.item,
        }
    }

    pub fn is_validation(&self) -> bool {
        self.code == "ValidationError"
    }
}
