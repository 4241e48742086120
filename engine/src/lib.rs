//! dynasim's reference engine of Amazon DynamoDB.
//!
//! **Architecture invariant:** this crate is pure. It knows nothing about HTTP, JSON, clocks,
//! threads or randomness: callers pass requests (decoded into [`api::Request`]) and the current
//! time, and get responses or [`error::Error`]s back. Durability ([`storage`]) writes only
//! through a `Storage` the host passes in. See `ARCHITECTURE.md`.

pub mod api;
pub mod capacity;
pub mod control;
pub mod data;
pub mod engine;
pub mod error;
pub mod expr;
pub mod fuzzing;
pub mod global;
pub mod limits;
pub mod ops;
pub mod partition;
pub mod realism;
pub mod replication;
pub mod storage;
pub mod txn;
pub mod types;

pub use api::{Request, Response};
pub use engine::{Config, Engine};
pub use error::{CancellationReason, Error, ErrorKind};
pub use types::item::Item;
pub use types::value::Value;
