//! SigV4: the shape of the `Authorization` header, checked in AWS's order with AWS's messages
//! (`dynamodb-facts.md` §2.4). Signatures themselves are not verified yet (a later issue);
//! `docs/compatibility.md` says so.

use crate::message::HttpRequest;
use dynasim_engine::error::Error;

const ALGORITHM: &str = "AWS4-HMAC-SHA256";

/// Checks that the request carries a well-formed SigV4 header or presigned query.
pub fn check_shape(request: &HttpRequest, _now_ms: u64) -> Result<(), Error> {
    let header = request.header("authorization");
    let presigned = request
        .query
        .as_deref()
        .is_some_and(|q| q.contains("X-Amz-Algorithm="));
    let header = match (header, presigned) {
        (Some(_), true) => return Err(Error::authorization_header_and_presigned_query()),
        (None, true) => return Ok(()),
        (None, false) => return Err(Error::authentication_token_missing()),
        (Some(header), false) => header.trim(),
    };
    let (algorithm, rest) = header.split_once(' ').unwrap_or((header, ""));
    if algorithm != ALGORITHM {
        return Err(Error::signature_algorithm_unsupported(algorithm));
    }
    let mut credential = None;
    let mut signed_headers = None;
    let mut signature = None;
    for part in rest.split(',') {
        let part = part.trim();
        if let Some(v) = part.strip_prefix("Credential=") {
            credential = Some(v);
        } else if let Some(v) = part.strip_prefix("SignedHeaders=") {
            signed_headers = Some(v);
        } else if let Some(v) = part.strip_prefix("Signature=") {
            signature = Some(v);
        }
    }
    let date_missing = request.header("x-amz-date").is_none() && request.header("date").is_none();
    let (Some(credential), Some(_), Some(signed_headers), false) =
        (credential, signature, signed_headers, date_missing)
    else {
        let missing: Vec<&str> = [
            ("Credential", credential),
            ("Signature", signature),
            ("SignedHeaders", signed_headers),
        ]
        .into_iter()
        .filter_map(|(name, value)| value.is_none().then_some(name))
        .collect();
        return Err(Error::authorization_parameters_missing(
            &missing,
            date_missing,
            header,
        ));
    };
    if let Some(date) = request.header("x-amz-date") {
        let valid = date.len() == 16
            && date.as_bytes()[8] == b'T'
            && date.ends_with('Z')
            && date[..8].bytes().all(|b| b.is_ascii_digit())
            && date[9..15].bytes().all(|b| b.is_ascii_digit());
        if !valid {
            return Err(Error::signature_date_invalid(date));
        }
    }
    let scope: Vec<&str> = credential.split('/').collect();
    if scope.len() != 5 || scope[0].is_empty() {
        return Err(Error::credential_region_invalid(
            scope.get(2).copied().unwrap_or(""),
        ));
    }
    if scope[3] != "dynamodb" {
        return Err(Error::credential_service_invalid());
    }
    if scope[4] != "aws4_request" {
        return Err(Error::credential_terminator_invalid(scope[4]));
    }
    if !signed_headers
        .split(';')
        .any(|h| h.eq_ignore_ascii_case("host"))
    {
        return Err(Error::host_not_signed());
    }
    Ok(())
}
