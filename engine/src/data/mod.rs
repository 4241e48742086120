//! The logical table: items in their stored encoding, secondary indexes kept in step with
//! them, and the one write path every change to a table goes through. Nothing here knows
//! about capacity, requests or replication hosts.

pub mod index;
pub mod mutation;
pub mod page;
pub mod store;
pub mod stream;
pub mod table;
pub mod ttl;
