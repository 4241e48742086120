//! Every error the engine answers with: DynamoDB's exact type, HTTP status and message.
//!
//! Messages are DynamoDB's, copied as facts from `dynamodb-facts.md`; the tag after each
//! constructor says where the wording was observed: (doc) AWS documentation, (obs) observed
//! against AWS by a public test suite, (emu) emulator wording, (ours) our decision, recorded in
//! `docs/compatibility.md`.

use crate::types::item::Item;
use std::fmt;

mod capacity;
mod expressions;
mod global;
mod items;
pub(crate) mod profiles;
mod reads;
mod streams;
mod tables;
#[cfg(test)]
mod tests;
mod transactions;
mod ttl;
mod values;
mod wire;

/// The constraint texts of shape failures, as [`ConstraintErrors::push`] and
/// [`Error::one_constraint_failed`] print them after "failed to satisfy constraint: ".
pub(crate) mod constraint {
    /// (obs) A required member absent.
    pub(crate) const NOT_NULL: &str = "Member must not be null";

    /// (obs) A string, list or map shorter than `min`.
    pub(crate) fn length_at_least(min: impl std::fmt::Display) -> String {
        format!("Member must have length greater than or equal to {min}")
    }

    /// (obs) A string, list or map longer than `max`.
    pub(crate) fn length_at_most(max: impl std::fmt::Display) -> String {
        format!("Member must have length less than or equal to {max}")
    }

    /// (obs) A number below `min`.
    pub(crate) fn value_at_least(min: impl std::fmt::Display) -> String {
        format!("Member must have value greater than or equal to {min}")
    }

    /// (obs) A number above `max`.
    pub(crate) fn value_at_most(max: impl std::fmt::Display) -> String {
        format!("Member must have value less than or equal to {max}")
    }

    /// (obs) A value outside an enumeration; `allowed` joined by ", ".
    pub(crate) fn enum_value_set(allowed: &str) -> String {
        format!("Member must satisfy enum value set: [{allowed}]")
    }

    /// (obs) A table or index name with a character outside the pattern.
    pub(crate) const NAME_PATTERN: &str =
        "Member must satisfy regular expression pattern: [a-zA-Z0-9_.-]+";
}

/// The closed set of error types the endpoint can answer with.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ErrorKind {
    Validation,
    Serialization,
    UnknownOperation,
    MissingAuthenticationToken,
    IncompleteSignature,
    InvalidSignature,
    UnrecognizedClient,
    AccessDenied,
    ResourceNotFound,
    ResourceInUse,
    ConditionalCheckFailed,
    LimitExceeded,
    ProvisionedThroughputExceeded,
    Throttling,
    RequestLimitExceeded,
    ItemCollectionSizeLimitExceeded,
    TransactionCanceled,
    TransactionConflict,
    TransactionInProgress,
    IdempotentParameterMismatch,
    /// A multi-Region strongly consistent table: the item is being modified from another region.
    ReplicatedWriteConflict,
    /// The Streams API: a shard iterator older than 15 minutes.
    ExpiredIterator,
    /// The Streams API: records past the retention.
    TrimmedDataAccess,
    InternalServerError,
    /// HTTP 503: the server cannot take the request now (the endpoint's buffering budget).
    ServiceUnavailable,
}

impl ErrorKind {
    /// The short name clients match on (the part of `__type` after `#`).
    pub fn name(self) -> &'static str {
        match self {
            ErrorKind::Validation => "ValidationException",
            ErrorKind::Serialization => "SerializationException",
            ErrorKind::UnknownOperation => "UnknownOperationException",
            ErrorKind::MissingAuthenticationToken => "MissingAuthenticationTokenException",
            ErrorKind::IncompleteSignature => "IncompleteSignatureException",
            ErrorKind::InvalidSignature => "InvalidSignatureException",
            ErrorKind::UnrecognizedClient => "UnrecognizedClientException",
            ErrorKind::AccessDenied => "AccessDeniedException",
            ErrorKind::ResourceNotFound => "ResourceNotFoundException",
            ErrorKind::ResourceInUse => "ResourceInUseException",
            ErrorKind::ConditionalCheckFailed => "ConditionalCheckFailedException",
            ErrorKind::LimitExceeded => "LimitExceededException",
            ErrorKind::ProvisionedThroughputExceeded => "ProvisionedThroughputExceededException",
            ErrorKind::Throttling => "ThrottlingException",
            ErrorKind::RequestLimitExceeded => "RequestLimitExceeded",
            ErrorKind::ItemCollectionSizeLimitExceeded => {
                "ItemCollectionSizeLimitExceededException"
            }
            ErrorKind::TransactionCanceled => "TransactionCanceledException",
            ErrorKind::TransactionConflict => "TransactionConflictException",
            ErrorKind::TransactionInProgress => "TransactionInProgressException",
            ErrorKind::IdempotentParameterMismatch => "IdempotentParameterMismatchException",
            ErrorKind::ReplicatedWriteConflict => "ReplicatedWriteConflictException",
            ErrorKind::ExpiredIterator => "ExpiredIteratorException",
            ErrorKind::TrimmedDataAccess => "TrimmedDataAccessException",
            ErrorKind::InternalServerError => "InternalServerError",
            ErrorKind::ServiceUnavailable => "ServiceUnavailableException",
        }
    }

    /// The namespace AWS puts before `#` in `__type` (`dynamodb-facts.md` §2.3).
    pub fn namespace(self) -> &'static str {
        match self {
            ErrorKind::Validation => "com.amazon.coral.validate",
            ErrorKind::Serialization
            | ErrorKind::UnknownOperation
            | ErrorKind::MissingAuthenticationToken
            | ErrorKind::IncompleteSignature
            | ErrorKind::InvalidSignature
            | ErrorKind::UnrecognizedClient
            | ErrorKind::AccessDenied => "com.amazon.coral.service",
            ErrorKind::Throttling | ErrorKind::ServiceUnavailable => {
                "com.amazon.coral.availability"
            }
            _ => "com.amazonaws.dynamodb.v20120810",
        }
    }

    /// The full `__type` of the error body.
    pub fn type_name(self) -> String {
        format!("{}#{}", self.namespace(), self.name())
    }

    /// HTTP status: 400 for everything a client causes, 500 for our own faults.
    pub fn http_status(self) -> u16 {
        match self {
            ErrorKind::InternalServerError => 500,
            ErrorKind::ServiceUnavailable => 503,
            // botocore's retry table expects 409 for it (dynamodb-facts §10.2).
            ErrorKind::ReplicatedWriteConflict => 409,
            _ => 400,
        }
    }
}

/// An error answer. `item` is set only for a failed condition with
/// `ReturnValuesOnConditionCheckFailure=ALL_OLD`.
#[derive(Clone, Debug, PartialEq)]
pub struct Error {
    pub kind: ErrorKind,
    pub message: String,
    pub item: Option<Item>,
    /// Throttling errors say which limit was hit (`ThrottlingReasons`).
    pub throttling_reasons: Vec<ThrottlingReason>,
    /// TransactionCanceledException: one reason per action, in request order.
    pub cancellation_reasons: Vec<CancellationReason>,
}

/// One `{Code, Message?, Item?}` of a TransactionCanceledException (`dynamodb-facts.md` §9.1).
#[derive(Clone, Debug, PartialEq)]
pub struct CancellationReason {
    pub code: String,
    pub message: Option<String>,
    pub item: Option<Item>,
}

/// One `{reason, resource}` of a throttling error (`dynamodb-facts.md` §6.6).
#[derive(Clone, Debug, PartialEq)]
pub struct ThrottlingReason {
    pub reason: String,
    pub resource: String,
}

pub type Result<T, E = Error> = std::result::Result<T, E>;

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.kind.name(), self.message)
    }
}

impl std::error::Error for Error {}

impl Error {
    pub fn new(kind: ErrorKind, message: impl Into<String>) -> Error {
        Error {
            kind,
            message: message.into(),
            item: None,
            throttling_reasons: Vec::new(),
            cancellation_reasons: Vec::new(),
        }
    }

    pub fn validation(message: impl Into<String>) -> Error {
        Error::new(ErrorKind::Validation, message)
    }

    /// "One or more parameter values were invalid: …" (doc/obs prefix of most item errors).
    pub fn invalid_parameter(detail: impl fmt::Display) -> Error {
        Error::validation(format!(
            "One or more parameter values were invalid: {detail}"
        ))
    }

    pub fn serialization(message: impl Into<String>) -> Error {
        Error::new(ErrorKind::Serialization, message)
    }

    /// (obs) Unknown X-Amz-Target operations.
    pub fn unknown_operation() -> Error {
        Error::new(ErrorKind::UnknownOperation, "")
    }

    /// (doc/emu; obs 2026 for DescribeTable and DeleteTable, dynamodb-facts §2.3) The control
    /// plane's answer for a missing table, naming it.
    pub fn table_not_found(table_name: &str) -> Error {
        Error::new(
            ErrorKind::ResourceNotFound,
            format!("Requested resource not found: Table: {table_name} not found"),
        )
    }

    /// (obs 2026, dynamodb-facts §2.3) The data plane's answer for a missing (or still
    /// CREATING) table: GetItem, PutItem, DeleteItem, Query, Scan and the batches answer exactly
    /// this; UpdateItem is taken to answer the same.
    pub fn resource_not_found() -> Error {
        Error::new(ErrorKind::ResourceNotFound, "Requested resource not found")
    }

    /// (emu, MOTO) CreateTable of a name in use.
    pub fn table_already_exists(table_name: &str) -> Error {
        Error::new(
            ErrorKind::ResourceInUse,
            format!("Table already exists: {table_name}"),
        )
    }

    /// (doc) A failed ConditionExpression or Expected.
    pub fn conditional_check_failed(item: Option<Item>) -> Error {
        Error {
            kind: ErrorKind::ConditionalCheckFailed,
            message: "The conditional request failed".into(),
            item,
            throttling_reasons: Vec::new(),
            cancellation_reasons: Vec::new(),
        }
    }

    /// (doc) A write that would grow an item collection past its limit (10 GB).
    pub fn item_collection_size_limit_exceeded() -> Error {
        Error {
            kind: ErrorKind::ItemCollectionSizeLimitExceeded,
            message: "Collection size exceeded.".into(),
            item: None,
            throttling_reasons: Vec::new(),
            cancellation_reasons: Vec::new(),
        }
    }

    /// (obs) A key that does not have exactly the table's key attributes and types.
    pub fn key_schema_mismatch() -> Error {
        Error::validation("The provided key element does not match the schema")
    }

    /// (obs 2026, dynamodb-facts §2.3, for TableName) A required top-level parameter is
    /// missing.
    pub fn required(parameter: &str) -> Error {
        Error::validation(format!(
            "The parameter '{parameter}' is required but was not present in the request"
        ))
    }

    pub fn internal() -> Error {
        Error::new(
            ErrorKind::InternalServerError,
            "The server encountered an internal error trying to fulfill the request.",
        )
    }

    /// (doc) Item over 400 KB in PutItem or BatchWriteItem.
    pub fn item_too_large() -> Error {
        Error::validation("Item size has exceeded the maximum allowed size")
    }

    /// (doc) UpdateItem result over 400 KB.
    pub fn update_too_large() -> Error {
        Error::validation("Item size to update has exceeded the maximum allowed size")
    }

    pub fn with_item(mut self, item: Option<Item>) -> Error {
        self.item = item;
        self
    }
}

/// Collects shape-constraint failures ("Member must not be null" and friends) the way AWS
/// reports them: every failure of one request in one message, in the order found.
#[derive(Default, Debug)]
pub struct ConstraintErrors {
    failures: Vec<String>,
    /// A required top-level parameter the service reports on its own, before any constraint
    /// failure ("The parameter 'TableName' is required but was not present in the request").
    required_missing: Option<&'static str>,
}

impl ConstraintErrors {
    /// AWS stops listing after ten failures.
    const REPORTED_MAX: usize = 10;

    pub fn new() -> Self {
        Self::default()
    }

    /// `value` is the offending value as AWS prints it (`null`, `'abc'`, `5`).
    pub fn push(&mut self, value: &str, path: &str, constraint: &str) {
        self.failures.push(format!(
            "Value {value} at '{path}' failed to satisfy constraint: {constraint}"
        ));
    }

    pub fn not_null<T>(&mut self, value: &Option<T>, path: &str) {
        if value.is_none() {
            self.push("null", path, constraint::NOT_NULL);
        }
    }

    /// Checks an operation's `TableName`: absent, it is reported alone in the short form
    /// the service uses for it (dynamodb-facts §2.3, obs 2026); present, as [`Self::name`].
    pub fn table_name(&mut self, value: &Option<String>, allow_arn: bool) {
        if value.is_none() {
            self.required_missing.get_or_insert("TableName");
            return;
        }
        self.name(value, "tableName", allow_arn);
    }

    /// Checks a table or index name's length and pattern.
    pub fn name(&mut self, value: &Option<String>, path: &str, allow_arn: bool) {
        let Some(name) = value else {
            self.push("null", path, constraint::NOT_NULL);
            return;
        };
        let max = if allow_arn {
            crate::limits::TABLE_ARN_LENGTH_MAX
        } else {
            crate::limits::TABLE_NAME_LENGTH_MAX
        };
        let length = name.chars().count();
        let too_short = length < crate::limits::TABLE_NAME_LENGTH_MIN;
        let too_long = length > max;
        let is_arn = allow_arn && name.starts_with("arn:");
        // The pattern is `[a-zA-Z0-9_.-]+`: the empty name fails it too.
        let off_pattern = !is_arn
            && (name.is_empty()
                || !name
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'.' || b == b'-'));
        // Every valid request passes here (a table name per item operation): the quoted value
        // is formatted only for a message that will be reported.
        if !(too_short || too_long || off_pattern) {
            return;
        }
        let shown = format!("'{name}'");
        // The pattern before the lengths, as dynalite's exact-match tests recorded the service.
        if off_pattern {
            self.push(&shown, path, constraint::NAME_PATTERN);
        }
        if too_short {
            self.push(
                &shown,
                path,
                &constraint::length_at_least(crate::limits::TABLE_NAME_LENGTH_MIN),
            );
        }
        if too_long {
            self.push(&shown, path, &constraint::length_at_most(max));
        }
    }

    /// A key attribute name (KeySchemaElement, AttributeDefinition, NonKeyAttributes: 1 to
    /// 255 characters in the API reference), when present.
    pub fn attribute_name(&mut self, value: &Option<String>, path: &str) {
        let Some(name) = value else {
            return;
        };
        let length = name.chars().count();
        let max = crate::limits::KEY_ATTRIBUTE_NAME_SIZE_BYTES_MAX;
        if length == 0 {
            self.push("''", path, &constraint::length_at_least(1));
        } else if length > max {
            self.push(&format!("'{name}'"), path, &constraint::length_at_most(max));
        }
    }

    /// A list member that must hold at least one element, printed as AWS prints a list
    /// (`'[]'`).
    pub fn list_not_empty<T>(&mut self, value: &Option<Vec<T>>, path: &str) {
        if value.as_ref().is_some_and(Vec::is_empty) {
            self.push("'[]'", path, &constraint::length_at_least(1));
        }
    }

    pub fn enumeration(&mut self, value: &Option<String>, path: &str, allowed: &[&str]) {
        if let Some(v) = value
            && !allowed.contains(&v.as_str())
        {
            self.push(
                &format!("'{v}'"),
                path,
                &constraint::enum_value_set(&allowed.join(", ")),
            );
        }
    }

    pub fn is_empty(&self) -> bool {
        self.failures.is_empty() && self.required_missing.is_none()
    }

    /// `into_result` for checks that also proved `value` present (a `not_null` or `name`
    /// check of it was among them): the value, or the errors. A missing value without a
    /// recorded error is a bug in the caller; it answers InternalServerError, not a panic.
    pub fn into_result_with<T>(self, value: Option<T>) -> Result<T> {
        self.into_result()?;
        debug_assert!(value.is_some(), "a required member was checked");
        value.ok_or_else(Error::internal)
    }

    pub fn into_result(self) -> Result<()> {
        if let Some(parameter) = self.required_missing {
            return Err(Error::required(parameter));
        }
        if self.failures.is_empty() {
            return Ok(());
        }
        let count = self.failures.len();
        let shown: Vec<&str> = self
            .failures
            .iter()
            .take(Self::REPORTED_MAX)
            .map(String::as_str)
            .collect();
        let noun = if count == 1 { "error" } else { "errors" };
        Err(Error::validation(format!(
            "{count} validation {noun} detected: {}",
            shown.join("; ")
        )))
    }
}
