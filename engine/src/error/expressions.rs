//! Messages about expressions, their placeholders, updates, and the legacy parameters
//! (`dynamodb-facts.md` §3). Expression messages are prefixed "Invalid <Which>Expression: ".

use super::Error;
use crate::expr::ExpressionKind;

// Parsing.
impl Error {
    /// (obs) The prefix every message about one expression parameter carries, as in
    /// 'Invalid ProjectionExpression: Syntax error; …' (§2.3, observed 2026).
    pub(crate) fn invalid_expression(
        kind: ExpressionKind,
        detail: impl std::fmt::Display,
    ) -> Error {
        Error::validation(format!("Invalid {}: {detail}", kind.parameter()))
    }

    /// (obs) The first offending token and the text from the token before it to its end;
    /// `<EOF>` when the expression ends early (§2.3, §3.5).
    pub(crate) fn expression_syntax_error(kind: ExpressionKind, token: &str, near: &str) -> Error {
        Error::invalid_expression(
            kind,
            format!("Syntax error; token: \"{token}\", near: \"{near}\""),
        )
    }

    /// (obs) An expression over 4 KB (§3.6).
    pub(crate) fn expression_too_large(kind: ExpressionKind, size_bytes: usize) -> Error {
        Error::invalid_expression(
            kind,
            format!(
                "Expression size has exceeded the maximum allowed size; expression size: {size_bytes}"
            ),
        )
    }

    /// (emu) An empty or blank expression (§3.3).
    pub(crate) fn expression_empty(kind: ExpressionKind) -> Error {
        Error::invalid_expression(kind, "The expression can not be empty;")
    }

    /// (obs) More than 300 operators and functions in one expression (§3.6).
    pub(crate) fn expression_too_many_operators(kind: ExpressionKind, count: usize) -> Error {
        Error::invalid_expression(
            kind,
            format!("The expression contains too many operators; operator count: {count}"),
        )
    }

    /// (emu) A reserved word used as a bare attribute name (§3.5).
    pub(crate) fn attribute_name_reserved(kind: ExpressionKind, word: &str) -> Error {
        Error::invalid_expression(
            kind,
            format!("Attribute name is a reserved keyword; reserved keyword: {word}"),
        )
    }

    /// (obs) A document path of more than 32 elements (§1.5).
    pub(crate) fn document_path_too_deep(kind: ExpressionKind, levels: usize) -> Error {
        Error::invalid_expression(
            kind,
            format!("The document path has too many nesting levels; nesting levels: {levels}"),
        )
    }

    /// (obs) A boolean function used as an operand, or `size` used alone as a condition (§3.1).
    pub(crate) fn function_misused(kind: ExpressionKind, function: &str) -> Error {
        Error::invalid_expression(
            kind,
            format!(
                "The function is not allowed to be used this way in an expression; function: {function}"
            ),
        )
    }

    /// (obs) An unknown function name; names are case-sensitive (§3.1).
    pub(crate) fn function_name_invalid(kind: ExpressionKind, function: &str) -> Error {
        Error::invalid_expression(kind, format!("Invalid function name; function: {function}"))
    }

    /// (obs) `((a = :v))`: parentheses around parentheses (§3.1).
    pub(crate) fn redundant_parentheses(kind: ExpressionKind) -> Error {
        Error::invalid_expression(kind, "The expression has redundant parentheses;")
    }

    /// (obs?) An IN list of more than 100 operands; the limit is documented (§3.6), the
    /// wording has no source in `dynamodb-facts.md`.
    pub(crate) fn in_too_many_operands(kind: ExpressionKind, count: usize) -> Error {
        Error::invalid_expression(
            kind,
            format!(
                "The expression contains too many operands for the IN operator; operand count: {count}"
            ),
        )
    }

    /// (emu) A function whose first operand must be a path got something else:
    /// `attribute_exists`, `attribute_not_exists`, `attribute_type`, `if_not_exists` (§3.1, §3.3).
    pub(crate) fn function_requires_path(kind: ExpressionKind, function: &str) -> Error {
        Error::invalid_expression(
            kind,
            format!(
                "Operator or function requires a document path; operator or function: {function}"
            ),
        )
    }

    /// (obs?) A condition function (`size`, `begins_with`, …) inside an UpdateExpression; the
    /// wording has no source in `dynamodb-facts.md`.
    pub(crate) fn function_not_allowed_in_update(kind: ExpressionKind, function: &str) -> Error {
        Error::invalid_expression(
            kind,
            format!("The function is not allowed in an update expression; function: {function}"),
        )
    }

    /// (emu, MOTO) A SET, REMOVE, ADD or DELETE clause given twice (§3.3).
    pub(crate) fn update_clause_repeated(kind: ExpressionKind, clause: &str) -> Error {
        Error::invalid_expression(
            kind,
            format!("The \"{clause}\" section can only be used once in an update expression;"),
        )
    }

    /// (emu) A function called with the wrong number of operands (§3.1).
    pub(crate) fn operand_count_wrong(kind: ExpressionKind, function: &str, count: usize) -> Error {
        Error::invalid_expression(
            kind,
            format!(
                "Incorrect number of operands for operator or function; operator or function: {function}, number of operands: {count}"
            ),
        )
    }
}

// Placeholders and the checks made when they are resolved.
impl Error {
    /// (emu) `ExpressionAttributeNames: {}` (§3.5).
    pub(crate) fn expression_attribute_names_empty() -> Error {
        Error::validation("ExpressionAttributeNames must not be empty")
    }

    /// (emu) `ExpressionAttributeValues: {}` (§3.5).
    pub(crate) fn expression_attribute_values_empty() -> Error {
        Error::validation("ExpressionAttributeValues must not be empty")
    }

    /// (emu) A name placeholder that is not `#` and word characters, or is over 255 bytes (§3.5).
    pub(crate) fn expression_attribute_name_key_invalid(key: &str) -> Error {
        Error::validation(format!(
            "ExpressionAttributeNames contains invalid key: Syntax error; key: \"{key}\""
        ))
    }

    /// (emu) A value placeholder that is not `:` and word characters, or is over 255 bytes (§3.5).
    pub(crate) fn expression_attribute_value_key_invalid(key: &str) -> Error {
        Error::validation(format!(
            "ExpressionAttributeValues contains invalid key: Syntax error; key: \"{key}\""
        ))
    }

    /// (emu) A placeholder value that is not a valid AttributeValue; `reason` is the message the
    /// value's own check gave (§3.5).
    pub(crate) fn expression_attribute_value_invalid(reason: &str, key: &str) -> Error {
        Error::validation(format!(
            "ExpressionAttributeValues contains invalid value: {reason} for key {key}"
        ))
    }

    /// (obs/emu) `#name` used in an expression but not defined (§3.5).
    pub(crate) fn attribute_name_undefined(kind: ExpressionKind, placeholder: &str) -> Error {
        Error::invalid_expression(
            kind,
            format!(
                "An expression attribute name used in the document path is not defined; attribute name: {placeholder}"
            ),
        )
    }

    /// (obs/emu) `:value` used in an expression but not defined (§3.5).
    pub(crate) fn attribute_value_undefined(kind: ExpressionKind, placeholder: &str) -> Error {
        Error::invalid_expression(
            kind,
            format!(
                "An expression attribute value used in expression is not defined; attribute value: {placeholder}"
            ),
        )
    }

    /// (obs) A path element that resolves to the empty name (§1.4).
    pub(crate) fn attribute_name_empty(kind: ExpressionKind) -> Error {
        Error::invalid_expression(kind, "Empty attribute name")
    }

    /// (emu) BETWEEN with two literal bounds of different types; the bounds as
    /// `value::describe` prints them (§3.1).
    pub(crate) fn between_bounds_type_mismatch(
        kind: ExpressionKind,
        low: &str,
        high: &str,
    ) -> Error {
        Error::invalid_expression(
            kind,
            format!(
                "The BETWEEN operator requires same data type for lower and upper bounds; lower bound operand: {low}, upper bound operand: {high}"
            ),
        )
    }

    /// (emu) BETWEEN with a literal lower bound above the upper one (§3.1).
    pub(crate) fn between_bounds_reversed(kind: ExpressionKind, low: &str, high: &str) -> Error {
        Error::invalid_expression(
            kind,
            format!(
                "The BETWEEN operator requires upper bound to be greater than or equal to lower bound; lower bound operand: {low}, upper bound operand: {high}"
            ),
        )
    }

    /// (obs) ExpressionAttributeNames entries no expression of the request used; `keys` joined
    /// by ", " (§3.5).
    pub(crate) fn expression_attribute_names_unused(keys: &str) -> Error {
        Error::validation(format!(
            "Value provided in ExpressionAttributeNames unused in expressions: keys: {{{keys}}}"
        ))
    }

    /// (obs) ExpressionAttributeValues entries no expression of the request used; `keys` joined
    /// by ", " (§3.5).
    pub(crate) fn expression_attribute_values_unused(keys: &str) -> Error {
        Error::validation(format!(
            "Value provided in ExpressionAttributeValues unused in expressions: keys: {{{keys}}}"
        ))
    }

    /// (emu, dynalite's tests of the service; dynamodb-facts §3.3) ADD or DELETE given a value of
    /// a type it does not take; `operand_type` in words (`STRING`, `NUMBER`, `LIST`, …).
    pub(crate) fn update_operand_type_incorrect(
        kind: ExpressionKind,
        operator: &str,
        operand_type: &str,
    ) -> Error {
        Error::invalid_expression(
            kind,
            format!(
                "Incorrect operand type for operator or function; operator: {operator}, operand type: {operand_type}"
            ),
        )
    }

    /// (emu) An operand whose type the operator or function does not take; `operand_type` is a
    /// wire type name (our choice, `docs/compatibility.md`) or "path" (§3.1, §3.3).
    pub(crate) fn operand_type_incorrect(
        kind: ExpressionKind,
        function: &str,
        operand_type: &str,
    ) -> Error {
        Error::invalid_expression(
            kind,
            format!(
                "Incorrect operand type for operator or function; operator or function: {function}, operand type: {operand_type}"
            ),
        )
    }

    /// (emu) `attribute_type(a, :t)` with `:t` not a type name (§3.1).
    pub(crate) fn attribute_type_name_invalid(kind: ExpressionKind, type_name: &str) -> Error {
        Error::invalid_expression(
            kind,
            format!(
                "Invalid attribute type name found; type: {type_name}, valid types: {{B,NULL,SS,BOOL,L,BS,N,NS,S,M}}"
            ),
        )
    }

    /// (doc/emu; dynalite's tests of the service for comparators and every two-operand
    /// function) `contains(a, a)`, `a = a`; `operator` as written (`contains`, `=`), `path` as
    /// `Path::describe` prints it (§3.1).
    pub(crate) fn operands_not_distinct(kind: ExpressionKind, operator: &str, path: &str) -> Error {
        Error::invalid_expression(
            kind,
            format!(
                "The first operand must be distinct from the remaining operands for this operator or function; operator: {operator}, first operand: {path}"
            ),
        )
    }

    /// (obs/emu) Two paths that address one node as both a map and a list (`a.b`, `a[1]`) (§3.3).
    pub(crate) fn document_paths_conflict(kind: ExpressionKind, one: &str, two: &str) -> Error {
        Error::invalid_expression(
            kind,
            format!(
                "Two document paths conflict with each other; must remove or rewrite one of these paths; path one: {one}, path two: {two}"
            ),
        )
    }

    /// (obs) Two equal paths, or a path and its ancestor, in one update or projection (§3.3, §3.4).
    pub(crate) fn document_paths_overlap(kind: ExpressionKind, one: &str, two: &str) -> Error {
        Error::invalid_expression(
            kind,
            format!(
                "Two document paths overlap with each other; must remove or rewrite one of these paths; path one: {one}, path two: {two}"
            ),
        )
    }
}

// Applying an update to an item.
impl Error {
    /// (obs) Writing `a.b` where `a` is absent or not a map, or `a[1]` where `a` is not a list
    /// (§3.3).
    pub(crate) fn update_path_invalid() -> Error {
        Error::validation(
            "The document path provided in the update expression is invalid for update",
        )
    }

    /// (obs) A SET operand that names an attribute the item does not have (§3.3).
    pub(crate) fn update_attribute_missing() -> Error {
        Error::validation(
            "The provided expression refers to an attribute that does not exist in the item",
        )
    }

    /// (doc, TransactionCanceledException API reference; dynamodb-facts §3.3, §9.1) `+`, `-`,
    /// `list_append`, ADD or DELETE on an attribute of the wrong type.
    pub(crate) fn update_operand_type_wrong() -> Error {
        Error::validation("An operand in the update expression has an incorrect data type")
    }
}

// The legacy parameters (§3.7).
impl Error {
    /// "1 validation error detected: …" for one shape constraint, the generic form of §2.3.
    pub(super) fn one_constraint_failed(value: &str, path: &str, constraint: &str) -> Error {
        Error::validation(format!(
            "1 validation error detected: Value {value} at '{path}' failed to satisfy constraint: {constraint}"
        ))
    }

    /// (obs, the generic constraint form of §2.3; the path as dynalite's tests record it) An
    /// unknown legacy ComparisonOperator at `path`; `allowed` joined by ", ".
    pub(crate) fn comparison_operator_invalid(path: &str, operator: &str, allowed: &str) -> Error {
        Error::one_constraint_failed(
            &format!("'{operator}'"),
            path,
            &format!("Member must satisfy enum value set: [{allowed}]"),
        )
    }

    /// (obs, the generic constraint form of §2.3) A ConditionalOperator other than AND or OR.
    pub(crate) fn conditional_operator_invalid(operator: &str) -> Error {
        Error::one_constraint_failed(
            &format!("'{operator}'"),
            "conditionalOperator",
            "Member must satisfy enum value set: [OR, AND]",
        )
    }

    /// (obs, the generic constraint form of §2.3) A QueryFilter or ScanFilter entry without a
    /// ComparisonOperator.
    pub(crate) fn filter_comparison_operator_missing(member: &str, attribute: &str) -> Error {
        Error::one_constraint_failed(
            "null",
            &format!("{member}.{attribute}.member.comparisonOperator"),
            "Member must not be null",
        )
    }

    /// (obs, the generic constraint form of §2.3) An AttributeUpdates Action other than ADD,
    /// PUT or DELETE.
    pub(crate) fn attribute_update_action_invalid(action: &str, attribute: &str) -> Error {
        Error::one_constraint_failed(
            &format!("'{action}'"),
            &format!("attributeUpdates.{attribute}.member.action"),
            "Member must satisfy enum value set: [ADD, PUT, DELETE]",
        )
    }

    /// (emu) A legacy condition with the wrong number of AttributeValueList values.
    pub(crate) fn comparison_argument_count_wrong(operator: &str) -> Error {
        Error::invalid_parameter(format!(
            "Invalid number of argument(s) for the {operator} ComparisonOperator"
        ))
    }

    /// (emu, dynalite validations/index.js) A legacy ComparisonOperator given a value type it
    /// does not take; `value_type` is a wire type name.
    pub(crate) fn comparison_operator_type_invalid(operator: &str, value_type: &str) -> Error {
        Error::invalid_parameter(format!(
            "ComparisonOperator {operator} is not valid for {value_type} AttributeValue type"
        ))
    }

    /// (emu) BETWEEN bounds of different types in an AttributeValueList.
    pub(crate) fn comparison_values_type_differ() -> Error {
        Error::invalid_parameter("AttributeValues inside AttributeValueList must be of same type")
    }

    /// (emu, dynalite validations/index.js, written against the service: no bounds quoted)
    /// Legacy BETWEEN with the lower bound above the upper one.
    pub(crate) fn comparison_between_bounds_reversed() -> Error {
        Error::validation(
            "The BETWEEN condition was provided a range where the lower bound is greater than the upper bound",
        )
    }

    /// (emu) An Expected entry with both Exists and ComparisonOperator.
    pub(crate) fn expected_exists_with_operator(attribute: &str) -> Error {
        Error::invalid_parameter(format!(
            "Exists and ComparisonOperator cannot be used together for Attribute: {attribute}"
        ))
    }

    /// (emu) An Expected entry with both Value and AttributeValueList.
    pub(crate) fn expected_value_with_list(attribute: &str) -> Error {
        Error::invalid_parameter(format!(
            "Value and AttributeValueList cannot be used together for Attribute: {attribute}"
        ))
    }

    /// (emu, dynalite validations/index.js) An Expected entry with AttributeValueList but no
    /// ComparisonOperator.
    pub(crate) fn expected_list_without_operator(attribute: &str) -> Error {
        Error::invalid_parameter(format!(
            "AttributeValueList can only be used with a ComparisonOperator for Attribute: {attribute}"
        ))
    }

    /// (emu) An Expected entry with `Exists: false` and a Value.
    pub(crate) fn expected_value_with_exists_false(attribute: &str) -> Error {
        Error::invalid_parameter(format!(
            "Value cannot be used when Exists is false for Attribute: {attribute}"
        ))
    }

    /// (emu, dynalite validations/index.js) An Expected entry with neither Value nor
    /// `Exists: false`; the message prints Exists as given, `null` when absent.
    pub(crate) fn expected_value_missing(attribute: &str, exists: Option<bool>) -> Error {
        let exists = exists.map_or("null", |e| if e { "true" } else { "false" });
        Error::invalid_parameter(format!(
            "Value must be provided when Exists is {exists} for Attribute: {attribute}"
        ))
    }

    /// (emu, dynalite validations/index.js) An Expected entry with a ComparisonOperator that
    /// takes values but neither Value nor AttributeValueList.
    pub(crate) fn expected_values_missing(operator: &str, attribute: &str) -> Error {
        Error::invalid_parameter(format!(
            "Value or AttributeValueList must be used with ComparisonOperator: {operator} for Attribute: {attribute}"
        ))
    }

    /// (emu) AttributeUpdates DELETE with a value that is not a set; `value_type` is a wire
    /// type name.
    pub(crate) fn attribute_update_delete_type_invalid(value_type: &str) -> Error {
        Error::invalid_parameter(format!(
            "DELETE action with value is not supported for the type {value_type}"
        ))
    }

    /// (emu) AttributeUpdates ADD with a value that is not a number, set or list.
    pub(crate) fn attribute_update_add_type_invalid(value_type: &str) -> Error {
        Error::invalid_parameter(format!(
            "ADD action is not supported for the type {value_type}"
        ))
    }

    /// (emu) AttributeUpdates PUT or ADD without a Value.
    pub(crate) fn attribute_update_value_missing() -> Error {
        Error::invalid_parameter(
            "Only DELETE action is allowed when no attribute value is specified",
        )
    }

    /// (emu, the wording §12.1 gives for duplicate definitions) AttributesToGet naming one
    /// attribute twice.
    pub(crate) fn attribute_name_duplicate(attribute: &str) -> Error {
        Error::invalid_parameter(format!("Duplicate value in attribute name: {attribute}"))
    }
}
