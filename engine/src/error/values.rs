//! Messages about attribute values, numbers and keys (`dynamodb-facts.md` §1 and §5.1).

use super::Error;

impl Error {
    /// (emu, matching AWS) A number string that is not DynamoDB's number syntax (§1.2); an
    /// empty one is not quoted (dynalite's tests of the service).
    pub(crate) fn number_not_numeric(text: &str) -> Error {
        if text.is_empty() {
            return Error::validation("The parameter cannot be converted to a numeric value");
        }
        Error::validation(format!(
            "The parameter cannot be converted to a numeric value: {text}"
        ))
    }

    /// (emu, matching AWS) A number above 9.99…E+125 in magnitude; AWS also answers this for a
    /// sum or difference that needs more than 38 digits (obs, Scylla's `test_number.py`).
    pub(crate) fn number_overflow() -> Error {
        Error::validation(
            "Number overflow. Attempting to store a number with magnitude larger than supported range",
        )
    }

    /// (emu, matching AWS) A non-zero number below 1E-130 in magnitude.
    pub(crate) fn number_underflow() -> Error {
        Error::validation(
            "Number underflow. Attempting to store a number with magnitude smaller than supported range",
        )
    }

    /// (emu, matching AWS) A number written with more than 38 significant digits.
    pub(crate) fn number_too_precise() -> Error {
        Error::validation("Attempting to store more than 38 significant digits in a Number")
    }

    /// (emu, dynalite validations/index.js; §1.1 gives the wording without a tag) An
    /// AttributeValue with no type key.
    pub(crate) fn attribute_value_empty() -> Error {
        Error::validation(
            "Supplied AttributeValue is empty, must contain exactly one of the supported datatypes",
        )
    }

    /// (obs) An AttributeValue with more than one type key; seen in a real AWS response (§1.1).
    pub(crate) fn attribute_value_many_types() -> Error {
        Error::validation(
            "Supplied AttributeValue has more than one datatypes set, must contain exactly one of the supported datatypes",
        )
    }

    /// (emu, dynalite validations/index.js, AWS's JSON framework) B or BS text whose length is
    /// not a multiple of 4: a SerializationException.
    pub(crate) fn base64_length_invalid(text: &str) -> Error {
        Error::serialization(format!(
            "'{text}' can not be converted to a Blob: Base64 encoded length is expected a multiple of 4 bytes but found: {}",
            text.len()
        ))
    }

    /// (emu, dynalite validations/index.js) B or BS text with a character outside base64's
    /// alphabet, or padding followed by something else.
    pub(crate) fn base64_character_invalid(text: &str, character: char) -> Error {
        Error::serialization(format!(
            "'{text}' can not be converted to a Blob: Invalid Base64 character: '{character}'"
        ))
    }

    /// (emu, dynalite validations/index.js; "dectected" is AWS's spelling) B or BS text with
    /// bits set after its last character.
    pub(crate) fn base64_last_character_invalid(text: &str) -> Error {
        Error::serialization(format!(
            "'{text}' can not be converted to a Blob: Invalid last non-pad Base64 character dectected"
        ))
    }

    /// (emu) A string set with two equal members; `members` as the client sent them, joined
    /// by ", ".
    pub(crate) fn set_duplicates(members: &str) -> Error {
        Error::invalid_parameter(format!("Input collection [{members}] contains duplicates."))
    }

    /// (emu, dynalite's tests of the service: no prefix, no members) A number set with two
    /// equal members (after normalisation).
    pub(crate) fn number_set_duplicates() -> Error {
        Error::validation("Input collection contains duplicates")
    }

    /// (emu, dynalite's tests of the service: no space before "of type" is AWS's) A binary set
    /// with two equal members, as the client sent them joined by ", ".
    pub(crate) fn binary_set_duplicates(members: &str) -> Error {
        Error::invalid_parameter(format!(
            "Input collection [{members}]of type BS contains duplicates."
        ))
    }

    /// (emu) `{"NULL": false}`.
    pub(crate) fn null_value_false() -> Error {
        Error::invalid_parameter("Null attribute value types must have the value of true")
    }

    /// (emu) An empty SS; the two spaces are AWS's.
    pub(crate) fn string_set_empty() -> Error {
        Error::invalid_parameter("An string set  may not be empty")
    }

    /// (emu) An empty NS; the two spaces are AWS's.
    pub(crate) fn number_set_empty() -> Error {
        Error::invalid_parameter("An number set  may not be empty")
    }

    /// (emu) An empty BS.
    pub(crate) fn binary_set_empty() -> Error {
        Error::invalid_parameter("Binary sets should not be empty")
    }

    /// (obs 2026-06, a conformance suite run against eu-west-2; the wording varies by
    /// region) A document nested deeper than 32 levels, the item counted; recorded in
    /// `docs/compatibility.md` ("Nesting depth").
    pub(crate) fn nesting_too_deep() -> Error {
        Error::validation(
            "Nesting Levels have exceeded supported limits: Attributes in the item have nested levels beyond supported limit",
        )
    }

    /// (emu, MOTO) An item being written lacks one of the table's key attributes.
    pub(crate) fn key_missing_in_item(key: &str) -> Error {
        Error::invalid_parameter(format!("Missing the key {key} in the item"))
    }

    /// (emu, MOTO) A key attribute of an item being written has another type than declared;
    /// `expected` and `actual` are wire type names (`S`, `N`, `B`).
    pub(crate) fn key_type_mismatch(key: &str, expected: &str, actual: &str) -> Error {
        Error::invalid_parameter(format!(
            "Type mismatch for key {key} expected: {expected} actual: {actual}"
        ))
    }

    /// (obs) An empty S or B as a table key value; `empty_type` is "string" or "binary".
    pub(crate) fn key_value_empty(empty_type: &str, key: &str) -> Error {
        Error::invalid_parameter(format!(
            "The AttributeValue for a key attribute cannot contain an empty {empty_type} value. Key: {key}"
        ))
    }

    /// (obs/emu) A partition key value over 2048 bytes. The missing space before the number is
    /// AWS's (MOTO keeps it deliberately).
    pub(crate) fn hash_key_too_large(size_bytes_max: usize) -> Error {
        Error::invalid_parameter(format!(
            "Size of hashkey has exceeded the maximum size limit of{size_bytes_max} bytes"
        ))
    }

    /// (obs) A sort key value over 1024 bytes.
    pub(crate) fn range_key_too_large(size_bytes_max: usize) -> Error {
        Error::invalid_parameter(format!(
            "Aggregated size of all range keys has exceeded the size limit of {size_bytes_max} bytes"
        ))
    }

    /// (emu, MOTO exceptions.py; observed to mention "empty", §1.3) An empty S or B as a
    /// secondary index key value; `empty_type` is "string" or "binary".
    pub(crate) fn index_key_value_empty(empty_type: &str, index_name: &str, key: &str) -> Error {
        Error::validation(format!(
            "One or more parameter values are not valid. A value specified for a secondary index key is not supported. The AttributeValue for a key attribute cannot contain an empty {empty_type} value. IndexName: {index_name}, IndexKey: {key}"
        ))
    }

    /// (doc/emu) A secondary index key attribute of another type than declared; `expected` and
    /// `actual` are wire type names.
    pub(crate) fn index_key_type_mismatch(
        key: &str,
        expected: &str,
        actual: &str,
        index_name: &str,
    ) -> Error {
        Error::invalid_parameter(format!(
            "Type mismatch for Index Key {key} Expected: {expected} Actual: {actual} IndexName: {index_name}"
        ))
    }
}
