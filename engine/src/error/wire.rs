//! Errors of the wire protocol: authentication shape, body decoding, operation names,
//! encodings. The server crate answers these before a request reaches the engine.

use super::{Error, ErrorKind};
use crate::limits::REQUEST_BODY_BYTES_MAX;
use std::fmt;

impl Error {
    /// (emu, dynamodb-facts §2.4) An `Authorization` header and a presigned query in one
    /// request.
    pub fn authorization_header_and_presigned_query() -> Error {
        Error::new(
            ErrorKind::InvalidSignature,
            "Found both 'X-Amz-Algorithm' as a query-string param and 'Authorization' as HTTP header.",
        )
    }

    /// (emu, dynamodb-facts §2.3, recorded in docs/compatibility.md) Neither an `Authorization`
    /// header nor a presigned query. AWS documents "Request must contain a valid (registered)
    /// AWS Access Key ID." instead.
    pub fn authentication_token_missing() -> Error {
        Error::new(
            ErrorKind::MissingAuthenticationToken,
            "Request is missing Authentication Token",
        )
    }

    /// (emu, dynamodb-facts §2.4) An `Authorization` header whose algorithm is not
    /// AWS4-HMAC-SHA256.
    pub fn signature_algorithm_unsupported(algorithm: &str) -> Error {
        Error::new(
            ErrorKind::IncompleteSignature,
            format!("Unsupported AWS 'algorithm': '{algorithm}'"),
        )
    }

    /// (emu, dynamodb-facts §2.4) An `Authorization` header without some of `Credential`,
    /// `Signature`, `SignedHeaders` (`missing`, in that order), or a request with neither
    /// `X-Amz-Date` nor `Date` (`date_missing`); one sentence each, then the header itself.
    pub fn authorization_parameters_missing(
        missing: &[&str],
        date_missing: bool,
        header: &str,
    ) -> Error {
        let mut message = String::new();
        for name in missing {
            message.push_str(&format!(
                "Authorization header requires '{name}' parameter. "
            ));
        }
        if date_missing {
            message.push_str(
                "Authorization header requires existence of either a 'X-Amz-Date' or a 'Date' header. ",
            );
        }
        Error::new(
            ErrorKind::IncompleteSignature,
            format!("{message}Authorization={header}"),
        )
    }

    /// (emu, dynalite's record of AWS's answer) A presigned query (one with `X-Amz-Algorithm`)
    /// without some of its parameters (`missing`, in the order AWS lists them), or with them
    /// empty.
    pub fn presigned_parameters_missing(missing: &[&str]) -> Error {
        let mut message = String::new();
        for name in missing {
            message.push_str(&format!(
                "AWS query-string parameters must include '{name}'. "
            ));
        }
        Error::new(
            ErrorKind::IncompleteSignature,
            format!("{message}Re-examine the query-string parameters."),
        )
    }

    /// (emu, dynamodb-facts §2.4) An `X-Amz-Date` not of the form yyyymmddTHHMMSSZ.
    pub fn signature_date_invalid(date: &str) -> Error {
        Error::new(
            ErrorKind::IncompleteSignature,
            format!(
                "Date must be in ISO-8601 'basic format'. Got '{date}'. See http://en.wikipedia.org/wiki/ISO_8601"
            ),
        )
    }

    /// (emu, dynamodb-facts §2.4) A credential scope that is not five '/'-separated parts
    /// with a key id; `region` is the third part, or "" when there is none.
    pub fn credential_region_invalid(region: &str) -> Error {
        Error::new(
            ErrorKind::IncompleteSignature,
            format!("Credential should be scoped to a valid region, not '{region}'. "),
        )
    }

    /// (emu, dynamodb-facts §2.4) A credential scope whose service is not `dynamodb`.
    pub fn credential_service_invalid() -> Error {
        Error::new(
            ErrorKind::InvalidSignature,
            "Credential should be scoped to correct service: 'dynamodb'. ",
        )
    }

    /// (emu, dynalite's record of AWS's answer) A credential scope not ending in
    /// `aws4_request`.
    pub fn credential_terminator_invalid(terminator: &str) -> Error {
        Error::new(
            ErrorKind::InvalidSignature,
            format!(
                "Credential should be scoped with a valid terminator: 'aws4_request', not '{terminator}'. "
            ),
        )
    }

    /// (emu, dynamodb-facts §2.4) `SignedHeaders` without `host`.
    pub fn host_not_signed() -> Error {
        Error::new(
            ErrorKind::InvalidSignature,
            "'Host' must be a 'SignedHeader' in the AWS Authorization.",
        )
    }

    /// (ours, docs/compatibility.md) A body that is not JSON or not of the operation's shape:
    /// serde_json's own message. AWS's wording differs; the type matches.
    pub fn request_body_undecodable(detail: impl fmt::Display) -> Error {
        Error::serialization(detail.to_string())
    }

    /// (emu: dynalite's and kinesalite's records of AWS's JSON framework) A JSON array where
    /// the member's shape is not a list (a structure, a map, a string, a number, a boolean).
    pub fn json_list_unexpected() -> Error {
        Error::serialization("Start of list found where not expected")
    }

    /// (emu, as above) A JSON object where the member's shape is not a structure or a map.
    pub fn json_object_unexpected() -> Error {
        Error::serialization("Start of structure or map found where not expected.")
    }

    /// (emu, as above) A string, number or boolean where a structure is expected.
    pub fn json_structure_expected() -> Error {
        Error::serialization("Expected null")
    }

    /// (emu, as above) A string, number or boolean where a list is expected.
    pub fn json_list_expected() -> Error {
        Error::serialization("Expected list or null")
    }

    /// (emu, as above) A string, number or boolean where a map is expected.
    pub fn json_map_expected() -> Error {
        Error::serialization("Expected map or null")
    }

    /// (emu, as above) A scalar of the wrong JSON type: `found` is the Java class AWS's
    /// framework names (`java.lang.Boolean`, `java.lang.String`,
    /// `com.amazon.coral.value.json.numbers.TruncatingBigNumber`), `shape` the member's
    /// (`String`, `Boolean`, `Long`, `Double`). AWS's grammar ("an String") is kept.
    pub fn json_scalar_unconvertible(found: &str, shape: &str) -> Error {
        Error::serialization(format!("class {found} can not be converted to an {shape}"))
    }

    /// (emu, as above) A string where a boolean is expected.
    pub fn json_string_not_boolean(text: &str) -> Error {
        Error::serialization(format!("'{text}' can not be converted to an Boolean"))
    }

    /// (ours, docs/compatibility.md) `null` where no member may be absent: a list element, a
    /// map value, or the whole body.
    pub fn json_null_unexpected() -> Error {
        Error::serialization("Unexpected null value")
    }

    /// (ours, docs/compatibility.md) A number where an integer member is expected that is not
    /// an integer of 64 bits.
    pub fn json_number_out_of_range(number: impl fmt::Display) -> Error {
        Error::serialization(format!(
            "Number {number} cannot be converted to a 64-bit integer"
        ))
    }

    /// (ours, docs/compatibility.md) An operation of DynamoDB's API that dynasim does not
    /// implement yet.
    pub fn operation_not_implemented(operation: &str) -> Error {
        Error::new(
            ErrorKind::UnknownOperation,
            format!("dynasim does not implement {operation} yet; see docs/compatibility.md"),
        )
    }

    /// (obs: Alternator's test_compressed_request.py, run against DynamoDB: HTTP 500, nothing
    /// written; the message is the service's InternalServerError text, §2.3) A
    /// `Content-Encoding` other than gzip, x-gzip, deflate and identity. The encoding is
    /// not named: the service's answer does not say why.
    pub fn content_encoding_unsupported(_encoding: &str) -> Error {
        Error::internal()
    }

    /// (obs, as above) A body that does not decompress with its `Content-Encoding`, or an
    /// empty compressed body.
    pub fn content_encoding_invalid(_encoding: &str) -> Error {
        Error::internal()
    }

    /// (obs? the 16 MB limit is observed, dynamodb-facts §2.1; the wording is unverified) A body
    /// over the limit, as sent or once decompressed.
    pub fn request_too_large() -> Error {
        Error::validation(format!(
            "Request size exceeded {REQUEST_BODY_BYTES_MAX} bytes"
        ))
    }

    /// (ours, docs/compatibility.md) A body the transport could not read whole: a malformed
    /// chunked encoding, or a connection closed before the declared length arrived.
    pub fn request_body_unreadable(detail: impl fmt::Display) -> Error {
        Error::serialization(format!("The request body could not be read: {detail}"))
    }

    /// (ours, docs/compatibility.md) A body still arriving `ms` after its headers.
    pub fn request_body_too_slow(ms: u64) -> Error {
        Error::serialization(format!(
            "The request body did not arrive within {ms} ms of its headers"
        ))
    }

    /// (ours, docs/compatibility.md) More request headers than the endpoint reads, or more
    /// bytes of them (AWS documents 16 KB, dynamodb-facts §2.1).
    pub fn request_headers_too_large(count: usize, bytes: usize) -> Error {
        Error::validation(format!(
            "The request has {count} headers of {bytes} bytes; at most {} headers and {} bytes are accepted",
            crate::limits::REQUEST_HEADER_COUNT_MAX,
            crate::limits::REQUEST_HEADER_BYTES_MAX
        ))
    }

    /// (ours, docs/compatibility.md; HTTP 503 is DynamoDB's "service unavailable", doc) The
    /// endpoint already buffers as many request bytes as it allows; clients retry a 503.
    pub fn request_buffers_full() -> Error {
        Error::new(
            ErrorKind::ServiceUnavailable,
            "The server is buffering as many request bodies as it allows; retry the request",
        )
    }
}
