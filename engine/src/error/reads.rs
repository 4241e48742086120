//! Messages of Query and Scan: Select, indexes, ExclusiveStartKey, segments and key
//! conditions (KeyConditionExpression and the legacy KeyConditions).

use super::Error;
use crate::expr::ExpressionKind;

// Select, indexes and paging.
impl Error {
    /// (emu, MOTO responses.py) SPECIFIC_ATTRIBUTES without a projection.
    pub(crate) fn select_specific_without_projection() -> Error {
        Error::validation(
            "Must specify the AttributesToGet or ProjectionExpression when choosing to get SPECIFIC_ATTRIBUTES",
        )
    }

    /// (obs?) A projection with a Select that returns no chosen attributes.
    pub(crate) fn select_with_projection(select: &str) -> Error {
        Error::validation(format!(
            "Cannot specify the AttributesToGet or ProjectionExpression when choosing to get {select}"
        ))
    }

    /// (emu, MOTO responses.py) ALL_PROJECTED_ATTRIBUTES of a table read.
    pub(crate) fn select_projected_without_index() -> Error {
        Error::validation(
            "ALL_PROJECTED_ATTRIBUTES can be used only when Querying using an IndexName",
        )
    }

    /// (emu, dynamodb-facts §4.3) An IndexName the table does not have.
    pub(crate) fn index_not_on_table(index_name: &str) -> Error {
        Error::validation(format!(
            "The table does not have the specified index: {index_name}"
        ))
    }

    /// (emu, dynamodb-facts §4.3; observed to mention "Consistent") ConsistentRead on a GSI.
    pub(crate) fn global_index_consistent_read() -> Error {
        Error::validation("Consistent reads are not supported on global secondary indexes")
    }

    /// (emu, dynamodb-facts §4.3; the "One or more parameter values were invalid: " prefix is
    /// dynalite's and MOTO's) Select ALL_ATTRIBUTES on a GSI that does not project everything.
    pub(crate) fn global_index_select_all(index_name: &str) -> Error {
        Error::validation(format!(
            "One or more parameter values were invalid: Select type ALL_ATTRIBUTES is not supported for global secondary index {index_name} because its projection type is not ALL"
        ))
    }

    /// (ours, `docs/compatibility.md`) A projection of an attribute a GSI does not project.
    pub(crate) fn global_index_attribute_not_projected(index_name: &str, attribute: &str) -> Error {
        Error::validation(format!(
            "One or more parameter values were invalid: Global secondary index {index_name} does not project attribute {attribute}"
        ))
    }

    /// (obs/emu, dynamodb-facts §4.3) An ExclusiveStartKey that is not a key of the table or index;
    /// `detail` says why.
    pub(crate) fn start_key_invalid(detail: &str) -> Error {
        Error::validation(format!("The provided starting key is invalid: {detail}"))
    }

    /// (emu, dynamodb-facts §4.3, dynalite actions/query.js) An ExclusiveStartKey for a Query of a
    /// table without a sort key.
    pub(crate) fn start_key_single_row() -> Error {
        Error::start_key_invalid("The query can return at most one row and cannot be restarted")
    }

    /// (obs/emu, dynamodb-facts §4.3) An ExclusiveStartKey of another partition than the Query's.
    pub(crate) fn start_key_outside_partition() -> Error {
        Error::validation(
            "The provided starting key is outside query boundaries based on provided conditions",
        )
    }

    /// (obs/emu, dynamodb-facts §4.3) An ExclusiveStartKey outside the Query's sort key condition.
    pub(crate) fn start_key_outside_range() -> Error {
        Error::validation("The provided starting key does not match the range key predicate")
    }

    /// (emu, dynamodb-facts §3.2) Query with neither KeyConditions nor KeyConditionExpression.
    pub(crate) fn key_condition_required() -> Error {
        Error::validation(
            "Either the KeyConditions or KeyConditionExpression parameter must be specified in the request.",
        )
    }

    /// (emu, dynamodb-facts §3.2) A Query filter on a key attribute; `parameter` is
    /// FilterExpression or QueryFilter.
    pub(crate) fn filter_on_key_attribute(parameter: &str, attribute: &str) -> Error {
        Error::validation(format!(
            "{parameter} can only contain non-primary key attributes: Primary key attribute: {attribute}"
        ))
    }

    /// (emu, dynamodb-facts §4.4) Segment without TotalSegments.
    pub(crate) fn total_segments_missing() -> Error {
        Error::validation(
            "The TotalSegments parameter is required but was not present in the request when Segment parameter is present",
        )
    }

    /// (emu, dynamodb-facts §4.4) TotalSegments without Segment.
    pub(crate) fn segment_missing() -> Error {
        Error::validation(
            "The Segment parameter is required but was not present in the request when parameter TotalSegments is present",
        )
    }

    /// (emu, dynamodb-facts §4.4) Segment not below TotalSegments.
    pub(crate) fn segment_out_of_bounds(segment: i64, total: i64) -> Error {
        Error::validation(format!(
            "The Segment parameter is zero-based and must be less than parameter TotalSegments: Segment: {segment} is out of bounds of TotalSegments: {total}"
        ))
    }
}

// Key conditions. The service reports the structure of a key condition without the
// "Invalid KeyConditionExpression: " prefix its parser's errors carry (dynalite's tests).
impl Error {
    /// (emu, dynamodb-facts §3.2) OR, NOT, IN, <> or a function other than begins_with in a key
    /// condition.
    pub(crate) fn key_condition_operator_invalid(operator: &str) -> Error {
        Error::validation(format!(
            "Invalid operator used in KeyConditionExpression: {operator}"
        ))
    }

    /// (emu, dynamodb-facts §3.2) A key condition on a nested path.
    pub(crate) fn key_condition_nested_attribute() -> Error {
        Error::validation("KeyConditionExpressions cannot have conditions on nested attributes")
    }

    /// (emu, dynamodb-facts §3.2) size() in a key condition.
    pub(crate) fn key_condition_nested_operation() -> Error {
        Error::validation("KeyConditionExpressions cannot contain nested operations")
    }

    /// (emu, dynamodb-facts §3.2) A key condition comparing two attributes.
    pub(crate) fn key_condition_many_attributes() -> Error {
        Error::validation(
            "Invalid condition in KeyConditionExpression: Multiple attribute names used in one condition",
        )
    }

    /// (emu, dynalite's tests of the service) A BETWEEN or begins_with key condition whose
    /// first operand is not the key attribute; `operator` as the service names it.
    pub(crate) fn key_condition_first_operand(operator: &str) -> Error {
        Error::validation(format!(
            "Invalid condition in KeyConditionExpression: {operator} operator must have the key attribute as its first operand"
        ))
    }

    /// (emu, dynalite validations/index.js) A key condition comparing two values.
    pub(crate) fn key_condition_no_attribute() -> Error {
        Error::validation("Invalid condition in KeyConditionExpression: No key attribute specified")
    }

    /// (emu, dynamodb-facts §3.2) Two conditions on one key attribute.
    pub(crate) fn key_condition_key_repeated() -> Error {
        Error::validation("KeyConditionExpressions must only contain one condition per key")
    }

    /// (emu, dynamodb-facts §3.1; dynalite's condition parser) begins_with on a numeric sort key.
    pub(crate) fn key_condition_begins_with_number() -> Error {
        Error::invalid_expression(
            ExpressionKind::KeyCondition,
            "Incorrect operand type for operator or function; operator or function: begins_with, operand type: N",
        )
    }

    /// (emu, dynamodb-facts §3.2) A key condition on a non-key attribute, or other than `=` on the
    /// partition key.
    pub(crate) fn key_condition_unsupported() -> Error {
        Error::validation("Query key condition not supported")
    }

    /// (emu, dynalite actions/query.js) A key condition value whose type is not the key's.
    pub(crate) fn key_condition_type_mismatch() -> Error {
        Error::invalid_parameter("Condition parameter type does not match schema type")
    }

    /// (obs, dynamodb-facts §3.2) A key condition without the partition key.
    pub(crate) fn key_condition_hash_missing(hash_name: &str) -> Error {
        Error::validation(format!(
            "Query condition missed key schema element: {hash_name}"
        ))
    }

    /// (obs?, the wording of a missed partition key attribute) A multi-attribute sort key's
    /// condition that skips a sort key attribute: the first one skipped.
    pub(crate) fn key_condition_range_skipped(range_name: &str) -> Error {
        Error::validation(format!(
            "Query condition missed key schema element: {range_name}"
        ))
    }

    /// (ours, `docs/compatibility.md`) A condition other than `=` on a sort key attribute of a
    /// multi-attribute key that is not the last one the condition uses.
    pub(crate) fn key_condition_range_not_last(range_name: &str) -> Error {
        Error::validation(format!(
            "Query key condition not supported: only the last sort key attribute used may have a condition other than =; attribute: {range_name}"
        ))
    }

    /// (ours, `docs/compatibility.md`; Alternator's test_gsi_composite_keys.py records that the
    /// service refuses it) Legacy KeyConditions on an index with a multi-attribute key.
    pub(crate) fn key_conditions_multi_attribute(index_name: &str) -> Error {
        Error::validation(format!(
            "KeyConditions cannot be used on an index with a multi-attribute key; use KeyConditionExpression. IndexName: {index_name}"
        ))
    }

    /// (obs, dynamodb-facts §1.3) A partition key condition on "".
    pub(crate) fn key_condition_hash_empty(hash_name: &str) -> Error {
        Error::invalid_parameter(format!(
            "The AttributeValue for a key attribute cannot contain an empty string value. Key: {hash_name}"
        ))
    }

    /// (emu, dynamodb-facts §3.2) A legacy KeyConditions operator that cannot select a key range.
    pub(crate) fn key_conditions_operator_invalid() -> Error {
        Error::validation("Attempted conditional constraint is not an indexable operation")
    }

    /// (emu, dynamodb-facts §3.2) More than two legacy KeyConditions.
    pub(crate) fn key_conditions_too_many() -> Error {
        Error::validation("Conditions can be of length 1 or 2 only")
    }
}
