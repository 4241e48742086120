//! Pins the exact text of a few messages, chosen for their oddities (AWS's double spaces and
//! missing spaces, quoting, braces), so that an edit of a constructor shows up here first.

use super::{Error, ErrorKind, ThrottlingReason};
use crate::expr::ExpressionKind;

fn pinned(error: Error, kind: ErrorKind, message: &str) {
    assert_eq!(error.kind, kind, "{message}");
    assert_eq!(error.message, message);
}

#[test]
fn value_and_key_messages_are_pinned() {
    pinned(
        Error::number_overflow(),
        ErrorKind::Validation,
        "Number overflow. Attempting to store a number with magnitude larger than supported range",
    );
    pinned(
        Error::number_not_numeric("1e"),
        ErrorKind::Validation,
        "The parameter cannot be converted to a numeric value: 1e",
    );
    pinned(
        Error::string_set_empty(),
        ErrorKind::Validation,
        "One or more parameter values were invalid: An string set  may not be empty",
    );
    pinned(
        Error::set_duplicates("a, a"),
        ErrorKind::Validation,
        "One or more parameter values were invalid: Input collection [a, a] contains duplicates.",
    );
    pinned(
        Error::base64_last_character_invalid("AB=="),
        ErrorKind::Serialization,
        "'AB==' can not be converted to a Blob: Invalid last non-pad Base64 character dectected",
    );
    pinned(
        Error::hash_key_too_large(2048),
        ErrorKind::Validation,
        "One or more parameter values were invalid: Size of hashkey has exceeded the maximum size limit of2048 bytes",
    );
    pinned(
        Error::key_type_mismatch("p", "S", "N"),
        ErrorKind::Validation,
        "One or more parameter values were invalid: Type mismatch for key p expected: S actual: N",
    );
}

#[test]
fn expression_messages_are_pinned() {
    pinned(
        Error::expression_syntax_error(ExpressionKind::Projection, "!", "!!"),
        ErrorKind::Validation,
        "Invalid ProjectionExpression: Syntax error; token: \"!\", near: \"!!\"",
    );
    pinned(
        Error::operand_count_wrong(ExpressionKind::Filter, "size", 2),
        ErrorKind::Validation,
        "Invalid FilterExpression: Incorrect number of operands for operator or function; operator or function: size, number of operands: 2",
    );
    pinned(
        Error::update_clause_repeated(ExpressionKind::Update, "ADD"),
        ErrorKind::Validation,
        "Invalid UpdateExpression: The \"ADD\" section can only be used once in an update expression;",
    );
    pinned(
        Error::expression_attribute_values_unused(":a, :b"),
        ErrorKind::Validation,
        "Value provided in ExpressionAttributeValues unused in expressions: keys: {:a, :b}",
    );
    pinned(
        Error::attribute_type_name_invalid(ExpressionKind::Condition, "X"),
        ErrorKind::Validation,
        "Invalid ConditionExpression: Invalid attribute type name found; type: X, valid types: {B,NULL,SS,BOOL,L,BS,N,NS,S,M}",
    );
    pinned(
        Error::comparison_operator_invalid(
            "scanFilter.a.member.comparisonOperator",
            "XX",
            "EQ, NE",
        ),
        ErrorKind::Validation,
        "1 validation error detected: Value 'XX' at 'scanFilter.a.member.comparisonOperator' failed to satisfy constraint: Member must satisfy enum value set: [EQ, NE]",
    );
    pinned(
        Error::filter_comparison_operator_missing("queryFilter", "a"),
        ErrorKind::Validation,
        "1 validation error detected: Value null at 'queryFilter.a.member.comparisonOperator' failed to satisfy constraint: Member must not be null",
    );
    pinned(
        Error::expected_value_missing("a", Some(true)),
        ErrorKind::Validation,
        "One or more parameter values were invalid: Value must be provided when Exists is true for Attribute: a",
    );
}

#[test]
fn throttling_messages_are_pinned() {
    let reason = ThrottlingReason {
        reason: "TableWriteProvisionedThroughputExceeded".into(),
        resource: "arn:aws:dynamodb:us-east-1:000000000000:table/t".into(),
    };
    let error = Error::table_provisioned_throughput_exceeded(reason.clone());
    assert_eq!(error.throttling_reasons, vec![reason.clone()]);
    pinned(
        error,
        ErrorKind::ProvisionedThroughputExceeded,
        "The level of configured provisioned throughput for the table was exceeded. Consider increasing your provisioning level with the UpdateTable API.",
    );
    pinned(
        Error::on_demand_throughput_exceeded(reason),
        ErrorKind::Throttling,
        "Throughput exceeds the current capacity of your table or index. DynamoDB is automatically scaling your table or index so please try again shortly. If exceptions persist, check if you have a hot key: https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/bp-partition-key-design.html.",
    );
}

#[test]
fn profile_messages_are_pinned() {
    assert_eq!(
        super::profiles::lag_range_inverted("tables.t", "gsi_lag_ms", 5, 1),
        "tables.t.gsi_lag_ms: min 5 exceeds max 1"
    );
    assert_eq!(
        super::profiles::burst_seconds_negative(),
        "limits.burst_seconds must not be negative"
    );
}

#[test]
fn control_plane_messages_are_pinned() {
    pinned(
        Error::resource_arn_not_found("arn:aws:dynamodb:r:1:table/t"),
        ErrorKind::ResourceNotFound,
        "Requested resource not found: ResourcArn: arn:aws:dynamodb:r:1:table/t not found",
    );
    pinned(
        Error::tags_empty(),
        ErrorKind::Validation,
        "Atleast one Tag needs to be provided as Input.",
    );
    pinned(
        Error::resource_arn_missing(),
        ErrorKind::Validation,
        "1 validation error detected: Value null at 'resourceArn' failed to satisfy constraint: Member must not be null",
    );
    pinned(
        Error::insights_action_invalid("null"),
        ErrorKind::Validation,
        "1 validation error detected: Value 'null' at 'contributorInsightsAction' failed to satisfy constraint: Member must satisfy enum value set: [ENABLE, DISABLE]",
    );
    pinned(
        Error::table_in_use("created", "t"),
        ErrorKind::ResourceInUse,
        "Attempt to change a resource which is still in use: Table is being created: t",
    );
    pinned(
        Error::table_count_exceeded(),
        ErrorKind::LimitExceeded,
        "Subscriber limit exceeded: You have exceeded the maximum number of tables (2500) for this account and region",
    );
}

#[test]
fn item_and_read_messages_are_pinned() {
    pinned(
        Error::expression_and_legacy_mixed("Expected", "ConditionExpression"),
        ErrorKind::Validation,
        "Can not use both expression and non-expression parameters in the same request: Non-expression parameters: {Expected} Expression parameters: {ConditionExpression}",
    );
    pinned(
        Error::batch_write_too_many_requests(),
        ErrorKind::Validation,
        "1 validation error detected: Value at 'requestItems' failed to satisfy constraint: Map value must satisfy constraint: [Member must have length less than or equal to 25, Member must have length greater than or equal to 1]",
    );
    pinned(
        Error::expression_attribute_values_without_expressions(&[
            "KeyConditionExpression",
            "FilterExpression",
        ]),
        ErrorKind::Validation,
        "ExpressionAttributeValues can only be specified when using expressions: KeyConditionExpression and FilterExpression are null",
    );
    pinned(
        Error::start_key_single_row(),
        ErrorKind::Validation,
        "The provided starting key is invalid: The query can return at most one row and cannot be restarted",
    );
    pinned(
        Error::key_condition_operator_invalid("<>"),
        ErrorKind::Validation,
        "Invalid operator used in KeyConditionExpression: <>",
    );
}

#[test]
fn constraint_texts_are_pinned() {
    use super::constraint;
    assert_eq!(
        constraint::length_at_least(1),
        "Member must have length greater than or equal to 1"
    );
    assert_eq!(
        constraint::value_at_most(999_999),
        "Member must have value less than or equal to 999999"
    );
    assert_eq!(
        constraint::enum_value_set("B, N, S"),
        "Member must satisfy enum value set: [B, N, S]"
    );
}

/// `ConstraintErrors::name`: each failed rule in order (pattern, then length), the value quoted;
/// an ARN skips the pattern where ARNs are allowed; a valid name adds nothing.
#[test]
fn name_constraint_messages_are_pinned() {
    use super::ConstraintErrors;
    let message = |value: Option<&str>, allow_arn: bool| {
        let mut errors = ConstraintErrors::new();
        errors.table_name(&value.map(str::to_string), allow_arn);
        errors.into_result().err().map(|e| e.message)
    };
    assert_eq!(message(Some("Orders-2.v_1"), false), None);
    assert_eq!(message(Some("arn:aws:dynamodb:x:1:table/T"), true), None);
    assert_eq!(
        message(None, true).as_deref(),
        Some("The parameter 'TableName' is required but was not present in the request")
    );
    assert_eq!(
        message(Some("a!"), true).as_deref(),
        Some(
            "2 validation errors detected: Value 'a!' at 'tableName' failed to satisfy \
             constraint: Member must satisfy regular expression pattern: [a-zA-Z0-9_.-]+; \
             Value 'a!' at 'tableName' failed to satisfy constraint: Member must have length \
             greater than or equal to 3"
        )
    );
    let long = "t".repeat(256);
    assert_eq!(
        message(Some(&long), false),
        Some(format!(
            "1 validation error detected: Value '{long}' at 'tableName' failed to satisfy \
             constraint: Member must have length less than or equal to 255"
        ))
    );
    assert_eq!(message(Some(&long), true), None);
    assert_eq!(
        message(Some("arn:x"), false).as_deref(),
        Some(
            "1 validation error detected: Value 'arn:x' at 'tableName' failed to satisfy \
             constraint: Member must satisfy regular expression pattern: [a-zA-Z0-9_.-]+"
        )
    );
}

#[test]
fn wire_messages_are_pinned() {
    pinned(
        Error::authorization_parameters_missing(
            &["Credential", "Signature"],
            true,
            "AWS4-HMAC-SHA256 x",
        ),
        ErrorKind::IncompleteSignature,
        "Authorization header requires 'Credential' parameter. Authorization header requires 'Signature' parameter. Authorization header requires existence of either a 'X-Amz-Date' or a 'Date' header. Authorization=AWS4-HMAC-SHA256 x",
    );
    pinned(
        Error::credential_region_invalid("c"),
        ErrorKind::IncompleteSignature,
        "Credential should be scoped to a valid region, not 'c'. ",
    );
    pinned(
        Error::credential_terminator_invalid("e"),
        ErrorKind::InvalidSignature,
        "Credential should be scoped with a valid terminator: 'aws4_request', not 'e'. ",
    );
    pinned(
        Error::operation_not_implemented("CreateBackup"),
        ErrorKind::UnknownOperation,
        "dynasim does not implement CreateBackup yet; see docs/compatibility.md",
    );
    pinned(
        Error::request_too_large(),
        ErrorKind::Validation,
        "Request size exceeded 16777216 bytes",
    );
}
