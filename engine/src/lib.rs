//! dynasim's reference engine of Amazon DynamoDB.
//!
//! **Architecture invariant:** this crate is pure. It knows nothing about HTTP, JSON, clocks,
//! threads or randomness: callers pass requests (decoded into [`api::Request`]) and the current
//! time, and get responses or [`error::Error`]s back. See `ARCHITECTURE.md`.

pub mod api;
pub mod autoscaling;
pub mod batch;
pub mod capacity;
pub mod engine;
pub mod error;
pub mod expr;
pub mod fuzzing;
pub mod index;
pub mod item;
pub mod items;
pub mod keys;
pub mod limits;
pub mod metrics;
pub mod number;
pub mod partition;
pub mod profile;
pub mod query;
pub mod replication;
pub mod store;
pub mod table;
pub mod throughput;
pub mod value;

pub use api::{Request, Response};
pub use engine::{Config, Engine};
pub use error::{Error, ErrorKind};
pub use item::Item;
pub use value::Value;
