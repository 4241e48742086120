//! The service around the engine: DynamoDB's JSON 1.0 protocol over HTTP/1.1.
//!
//! [`protocol`] turns HTTP requests into engine requests and answers into HTTP responses
//! without touching a socket; [`http`] hosts it on hyper's connection API; [`auth`] checks
//! SigV4 headers.

pub mod auth;
pub mod durability;
pub mod fuzzing;
pub mod http;
pub mod json;
pub mod message;
pub mod metrics;
pub mod protocol;
pub mod storage;

pub use protocol::{HttpRequest, HttpResponse, Service};
