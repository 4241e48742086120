//! dynasim's seeded simulator: the reference engine run as a distributed system on madsim.
//!
//! - [`scenario`]: scenario files (TOML), validated with every error reported at once.
//! - [`topology`]: regions × zones × storage nodes, routers, clients; replica placement.
//! - [`faults`]: the fault schedule drawn from the seed (swarm testing, fault points).
//! - [`workload`]: register, counter, bank, scan and read-modify-write workloads.
//! - [`deploy`] (only with `--cfg madsim`): the nodes and the nemesis on madsim.
//! - [`history`]: the JSON-lines history every run records.
//! - [`check`]: the checkers (linearizability per key, lost writes, counters, bank,
//!   eventual reads, convergence, throttling).
//! - [`run`]: one seed end to end, judging, repro commands, shrinking.

pub mod check;
pub mod cli;
#[cfg(madsim)]
pub mod deploy;
pub mod faults;
pub mod history;
pub mod report;
pub mod run;
pub mod scenario;
pub mod topology;
pub mod workload;
