//! dynasim's seeded simulator: the reference engine run as a distributed system on madsim.
//!
//! - [`scenario`]: scenario files (TOML) read as specs, validated into closed types with every
//!   error reported at once.
//! - [`topology`]: regions × zones × storage nodes, routers, clients; replica placement.
//! - [`faults`]: the fault kinds (one file each), the fault points, and the fault schedule drawn
//!   from the seed (swarm testing).
//! - [`workloads`]: the register, counter, rmw-counter, bank, scan and query workloads (one
//!   file each).
//! - [`seeds`]: the deployment's components' own ChaCha8 streams (sub-seeds of the run's seed).
//! - [`disk`]: the engine's storage seam as a seeded faulty disk (crashes lose unsynced
//!   writes and tear the last, reads fail, synced bits flip).
//! - [`endpoint`] (only without `--cfg madsim`): a scenario's workloads as real clients of
//!   any DynamoDB endpoint (`dynasim run SCENARIO --endpoint URL`), checked the same way.
//! - [`deploy`] (only with `--cfg madsim`): the nodes and the nemesis on madsim.
//! - [`http_call`]: one DynamoDB call over HTTP as an SDK frames it (shared by the HTTP
//!   clients of the simulator and of `--endpoint`).
//! - [`history`]: the JSON-lines history every run records.
//! - [`checkers`]: the checkers, one file each (linearizability per key, lost writes,
//!   counters, bank, eventual reads, convergence, transactions, throttling).
//! - [`options`]: a run's seed, broken variant, plan and operation budget.
//! - [`run`]: one seed end to end, judging, repro commands, shrinking.

pub mod checkers;
pub mod cli;
#[cfg(madsim)]
pub mod deploy;
pub mod disk;
#[cfg(not(madsim))]
pub mod endpoint;
pub mod faults;
#[cfg(madsim)]
pub mod global_tables;
pub mod history;
pub mod http_call;
pub mod options;
pub mod report;
pub mod run;
pub mod scenario;
pub mod seeds;
pub mod topology;
pub mod workloads;
