//! Messages of the item operations (PutItem, UpdateItem, DeleteItem, GetItem) and the batches,
//! and of the expression members every operation shares.

use super::Error;
use crate::limits;

impl Error {
    /// (obs, dynamodb-facts §1.4: the message contains "Empty attribute name") An item attribute
    /// named "".
    pub(crate) fn item_attribute_name_empty() -> Error {
        Error::invalid_parameter("Empty attribute name")
    }

    /// (obs?) An item attribute name over 64 KB.
    pub(crate) fn item_attribute_name_too_long() -> Error {
        Error::invalid_parameter("Attribute name exceeds the maximum allowed length")
    }

    /// (emu, dynamodb-facts §5.2) PutItem or DeleteItem with ReturnValues other than ALL_OLD and
    /// NONE.
    pub(crate) fn return_values_invalid() -> Error {
        Error::validation("ReturnValues can only be ALL_OLD or NONE")
    }

    /// (emu, MOTO, dynamodb-facts §3.3) UpdateItem of a key attribute.
    pub(crate) fn key_attribute_updated(attribute: &str) -> Error {
        Error::invalid_parameter(format!(
            "Cannot update attribute {attribute}. This attribute is part of the key"
        ))
    }

    /// (obs) Legacy and expression parameters in one request; both lists joined by ", ".
    pub(crate) fn expression_and_legacy_mixed(legacy: &str, expression: &str) -> Error {
        Error::validation(format!(
            "Can not use both expression and non-expression parameters in the same request: Non-expression parameters: {{{legacy}}} Expression parameters: {{{expression}}}"
        ))
    }

    /// (obs?) ConditionalOperator with fewer than two Expected, QueryFilter or ScanFilter
    /// entries.
    pub(crate) fn conditional_operator_unused() -> Error {
        Error::validation(
            "ConditionalOperator can only be used when Filter or Expected has two or more elements",
        )
    }

    /// (emu, dynamodb-facts §3.5) ExpressionAttributeNames in a request that uses no expression.
    pub(crate) fn expression_attribute_names_without_expressions() -> Error {
        Error::validation("ExpressionAttributeNames can only be specified when using expressions")
    }

    /// (emu, dynamodb-facts §3.5) ExpressionAttributeValues in a request without an expression that
    /// takes values; `absent` names the expressions that would, joined by " and ".
    pub(crate) fn expression_attribute_values_without_expressions(absent: &[&str]) -> Error {
        let verb = if absent.len() == 1 { "is" } else { "are" };
        Error::validation(format!(
            "ExpressionAttributeValues can only be specified when using expressions: {} {verb} null",
            absent.join(" and ")
        ))
    }
}

// BatchGetItem and BatchWriteItem.
impl Error {
    /// (obs, dynamodb-facts §4.5, §5.4) A batch that names one key twice.
    pub(crate) fn batch_keys_duplicate() -> Error {
        Error::validation("Provided list of item keys contains duplicates")
    }

    /// (doc, BatchGetItem API reference; dynamodb-facts §4.5) BatchGetItem over 100 keys.
    pub(crate) fn batch_get_too_many_keys() -> Error {
        Error::validation("Too many items requested for the BatchGetItem call")
    }

    /// (obs?) BatchWriteItem over 25 requests; the value-less "Value at" is AWS's.
    pub(crate) fn batch_write_too_many_requests() -> Error {
        Error::validation(format!(
            "1 validation error detected: Value at 'requestItems' failed to satisfy constraint: Map value must satisfy constraint: [Member must have length less than or equal to {}, Member must have length greater than or equal to 1]",
            limits::BATCH_WRITE_REQUEST_COUNT_MAX
        ))
    }

    /// (emu, dynalite's tests of the service: the service answers an empty WriteRequest with
    /// an AttributeValue's message) A WriteRequest with neither PutRequest nor DeleteRequest.
    pub(crate) fn write_request_empty() -> Error {
        Error::attribute_value_many_types()
    }

    /// (ours, `docs/compatibility.md`) A WriteRequest with both PutRequest and DeleteRequest.
    pub(crate) fn write_request_invalid() -> Error {
        Error::validation(
            "Supplied WriteRequest must contain exactly one of PutRequest or DeleteRequest",
        )
    }
}
