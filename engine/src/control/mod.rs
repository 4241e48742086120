//! The control plane's state: the catalog of tables (lookups by name and ARN).

pub mod catalog;
