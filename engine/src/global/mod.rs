//! Global tables' replication rules (issue 15): the pure parts that every host (`serve`'s
//! regions, the simulator, `dynasim model global-tables`) runs alike.
//!
//! - [`hlc`]: a hybrid logical clock fed by the caller's physical clock, so that a write's
//!   timestamp follows every one its region handed out or observed, whatever the clock does;
//! - [`lww`]: last writer wins, exact. A write's [`Version`](lww::Version) is its HLC
//!   timestamp, then its region, then a sequence within the region (unique and totally
//!   ordered); a replica applies a remote write only if its version is newer, keeps deletes as
//!   tombstones, and drops a tombstone only when no older write can still arrive
//!   ([`lww::tombstone_safe`]).

pub mod hlc;
pub mod lww;
pub mod regions;
mod remote;
pub mod replica_table;
pub mod replicas;
pub mod replication;
