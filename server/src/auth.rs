//! SigV4: the shape of the `Authorization` header, checked in AWS's order with AWS's messages
//! (`dynamodb-facts.md` §2.4). Signatures themselves are not verified yet (a later issue);
//! `docs/compatibility.md` says so.

use crate::protocol::HttpRequest;
use dynasim_engine::error::{Error, ErrorKind};

const ALGORITHM: &str = "AWS4-HMAC-SHA256";

fn incomplete(message: String) -> Error {
    Error::new(ErrorKind::IncompleteSignature, message)
}

fn invalid(message: impl Into<String>) -> Error {
    Error::new(ErrorKind::InvalidSignature, message)
}

/// Checks that the request carries a well-formed SigV4 header or presigned query.
pub fn check_shape(request: &HttpRequest, _now_ms: u64) -> Result<(), Error> {
    let header = request.header("authorization");
    let presigned = request
        .query
        .as_deref()
        .is_some_and(|q| q.contains("X-Amz-Algorithm="));
    match (header, presigned) {
        (Some(_), true) => {
            return Err(invalid(
                "Found both 'X-Amz-Algorithm' as a query-string param and 'Authorization' as HTTP header.",
            ));
        }
        (None, true) => return Ok(()),
        (None, false) => {
            return Err(Error::new(
                ErrorKind::MissingAuthenticationToken,
                "Request is missing Authentication Token",
            ));
        }
        (Some(_), false) => {}
    }
    let header = header.expect("matched above").trim();
    let (algorithm, rest) = header.split_once(' ').unwrap_or((header, ""));
    if algorithm != ALGORITHM {
        return Err(incomplete(format!(
            "Unsupported AWS 'algorithm': '{algorithm}'"
        )));
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
    let mut missing = String::new();
    for (name, value) in [
        ("Credential", credential),
        ("Signature", signature),
        ("SignedHeaders", signed_headers),
    ] {
        if value.is_none() {
            missing.push_str(&format!(
                "Authorization header requires '{name}' parameter. "
            ));
        }
    }
    if request.header("x-amz-date").is_none() && request.header("date").is_none() {
        missing.push_str(
            "Authorization header requires existence of either a 'X-Amz-Date' or a 'Date' header. ",
        );
    }
    if !missing.is_empty() {
        return Err(incomplete(format!("{missing}Authorization={header}")));
    }
    if let Some(date) = request.header("x-amz-date") {
        let valid = date.len() == 16
            && date.as_bytes()[8] == b'T'
            && date.ends_with('Z')
            && date[..8].bytes().all(|b| b.is_ascii_digit())
            && date[9..15].bytes().all(|b| b.is_ascii_digit());
        if !valid {
            return Err(incomplete(format!(
                "Date must be in ISO-8601 'basic format'. Got '{date}'. See http://en.wikipedia.org/wiki/ISO_8601"
            )));
        }
    }
    let scope: Vec<&str> = credential.expect("checked").split('/').collect();
    if scope.len() != 5 || scope[0].is_empty() {
        return Err(incomplete(format!(
            "Credential should be scoped to a valid region, not '{}'. ",
            scope.get(2).copied().unwrap_or("")
        )));
    }
    if scope[3] != "dynamodb" {
        return Err(invalid(
            "Credential should be scoped to correct service: 'dynamodb'. ",
        ));
    }
    if scope[4] != "aws4_request" {
        return Err(invalid(format!(
            "Credential should be scoped with a valid terminator: 'aws4_request', not '{}'. ",
            scope[4]
        )));
    }
    if !signed_headers
        .expect("checked")
        .split(';')
        .any(|h| h.eq_ignore_ascii_case("host"))
    {
        return Err(invalid(
            "'Host' must be a 'SignedHeader' in the AWS Authorization.",
        ));
    }
    Ok(())
}
