//! The HTTP messages the service works on: what the protocol, authentication and transport
//! layers share, with no behaviour of their own (so that `auth` and `protocol` do not depend
//! on each other).

use dynasim_engine::error::Error;

/// What the protocol layer needs of an HTTP request.
#[derive(Debug, Default, Clone)]
pub struct HttpRequest {
    pub method: String,
    pub path: String,
    pub query: Option<String>,
    /// Header names in lower case.
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
    /// Why the transport refused the request before its body was whole (too many headers, a
    /// body over the limit, malformed, cut off or too slow, no room to buffer it): the
    /// protocol answers this error, with the usual headers, instead of decoding `body`.
    pub refused: Option<Error>,
}

impl HttpRequest {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }

    /// Every value of a header that may be sent more than once, joined with commas as HTTP
    /// reads such lists (RFC 9110 §5.3).
    pub fn header_list(&self, name: &str) -> String {
        let values: Vec<&str> = self
            .headers
            .iter()
            .filter(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
            .collect();
        values.join(",")
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct HttpResponse {
    pub status: u16,
    pub headers: Vec<(&'static str, String)>,
    pub body: Vec<u8>,
}

impl HttpResponse {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| *n == name)
            .map(|(_, v)| v.as_str())
    }
}
