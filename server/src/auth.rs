//! SigV4: the shape of the `Authorization` header, or of a presigned query string
//! (`X-Amz-Algorithm`, `X-Amz-Credential`, `X-Amz-Date`, `X-Amz-SignedHeaders`,
//! `X-Amz-Signature`), checked in AWS's order with AWS's messages (`dynamodb-facts.md` §2.4).
//! Both forms go through the same checks of algorithm, date, credential scope and signed
//! headers. Signatures themselves are not verified yet (a later issue);
//! `docs/compatibility.md` says so.

use crate::message::HttpRequest;
use dynasim_engine::error::Error;

const ALGORITHM: &str = "AWS4-HMAC-SHA256";

/// The parts of a signature, from the header or the query string.
struct Signature<'a> {
    algorithm: &'a str,
    credential: &'a str,
    signed_headers: &'a str,
    /// `X-Amz-Date` (the header's, or the query's for a presigned request).
    date: Option<&'a str>,
}

/// Checks that the request carries a well-formed SigV4 header or presigned query, and returns
/// its credential scope's region (the region whose catalog answers it).
pub fn check_shape(request: &HttpRequest, _now_ms: u64) -> Result<String, Error> {
    let query: Vec<(String, String)> = request
        .query
        .as_deref()
        .map(|q| form_urlencoded::parse(q.as_bytes()).into_owned().collect())
        .unwrap_or_default();
    let presigned = query.iter().any(|(name, _)| name == "X-Amz-Algorithm");
    let signature = match (request.header("authorization"), presigned) {
        (Some(_), true) => return Err(Error::authorization_header_and_presigned_query()),
        (None, true) => presigned_parts(&query)?,
        (None, false) => return Err(Error::authentication_token_missing()),
        (Some(header), false) => header_parts(request, header.trim())?,
    };
    check_parts(&signature)
}

/// The signature of a presigned query, once every parameter is present and non-empty.
fn presigned_parts(query: &[(String, String)]) -> Result<Signature<'_>, Error> {
    let parameter = |name: &str| {
        query
            .iter()
            .find(|(n, v)| n == name && !v.is_empty())
            .map(|(_, v)| v.as_str())
    };
    let names = [
        "X-Amz-Algorithm",
        "X-Amz-Credential",
        "X-Amz-Signature",
        "X-Amz-SignedHeaders",
        "X-Amz-Date",
    ];
    let missing: Vec<&str> = names
        .into_iter()
        .filter(|name| parameter(name).is_none())
        .collect();
    if !missing.is_empty() {
        return Err(Error::presigned_parameters_missing(&missing));
    }
    let value = |name: &str| parameter(name).unwrap_or_default();
    Ok(Signature {
        algorithm: value("X-Amz-Algorithm"),
        credential: value("X-Amz-Credential"),
        signed_headers: value("X-Amz-SignedHeaders"),
        date: parameter("X-Amz-Date"),
    })
}

/// The signature of an `Authorization` header, once its algorithm is known and every part
/// and a date header are present.
fn header_parts<'a>(request: &'a HttpRequest, header: &'a str) -> Result<Signature<'a>, Error> {
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
    Ok(Signature {
        algorithm,
        credential,
        signed_headers,
        date: request.header("x-amz-date"),
    })
}

/// The checks both forms share: algorithm, date format, credential scope, `host` signed.
/// The scope's region.
fn check_parts(signature: &Signature<'_>) -> Result<String, Error> {
    if signature.algorithm != ALGORITHM {
        return Err(Error::signature_algorithm_unsupported(signature.algorithm));
    }
    if let Some(date) = signature.date {
        let valid = date.len() == 16
            && date.as_bytes()[8] == b'T'
            && date.ends_with('Z')
            && date[..8].bytes().all(|b| b.is_ascii_digit())
            && date[9..15].bytes().all(|b| b.is_ascii_digit());
        if !valid {
            return Err(Error::signature_date_invalid(date));
        }
    }
    let scope: Vec<&str> = signature.credential.split('/').collect();
    if scope.len() != 5 || scope[0].is_empty() || scope[2].is_empty() {
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
    if !signature
        .signed_headers
        .split(';')
        .any(|h| h.eq_ignore_ascii_case("host"))
    {
        return Err(Error::host_not_signed());
    }
    Ok(scope[2].to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn presigned(query: &str) -> HttpRequest {
        HttpRequest {
            method: "POST".into(),
            path: "/".into(),
            query: Some(query.into()),
            ..HttpRequest::default()
        }
    }

    const GOOD: &str = "X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=AKID%2F20261124%2Fus-east-1%2Fdynamodb%2Faws4_request&X-Amz-Date=20261124T000000Z&X-Amz-SignedHeaders=host&X-Amz-Signature=abcd";

    /// Issue 12: `?X-Amz-Algorithm=` alone switched every check off.
    #[test]
    fn presigned_queries_are_checked_like_the_header() {
        assert_eq!(
            check_shape(&presigned(GOOD), 0),
            Ok("us-east-1".to_string())
        );
        let error = check_shape(&presigned("X-Amz-Algorithm="), 0).unwrap_err();
        assert_eq!(error.kind.name(), "IncompleteSignatureException");
        assert_eq!(
            error.message,
            "AWS query-string parameters must include 'X-Amz-Algorithm'. AWS query-string parameters must include 'X-Amz-Credential'. AWS query-string parameters must include 'X-Amz-Signature'. AWS query-string parameters must include 'X-Amz-SignedHeaders'. AWS query-string parameters must include 'X-Amz-Date'. Re-examine the query-string parameters."
        );
        let cases = [
            (
                "AWS4-HMAC-SHA256",
                "AWS4-HMAC-SHA1",
                "Unsupported AWS 'algorithm': 'AWS4-HMAC-SHA1'",
            ),
            (
                "20261124T000000Z",
                "2026",
                "Date must be in ISO-8601 'basic format'. Got '2026'. See http://en.wikipedia.org/wiki/ISO_8601",
            ),
            (
                "%2Fus-east-1%2F",
                "%2F%2F",
                "Credential should be scoped to a valid region, not ''. ",
            ),
            (
                "%2Fdynamodb%2F",
                "%2Fs3%2F",
                "Credential should be scoped to correct service: 'dynamodb'. ",
            ),
            (
                "SignedHeaders=host",
                "SignedHeaders=x-amz-date",
                "'Host' must be a 'SignedHeader' in the AWS Authorization.",
            ),
        ];
        for (from, to, message) in cases {
            let query = GOOD.replacen(from, to, 1);
            let error = check_shape(&presigned(&query), 0).unwrap_err();
            assert_eq!(error.message, message, "{query}");
        }
    }
}
