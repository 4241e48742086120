//! Replication: the Raft-style replica state machine (`raft`), pure and driven only by
//! messages and host calls; the rules a host applies around it with the time passed in,
//! leader leases and vote loyalty (`lease`) and a leader's flow control (`flow`); a leader's
//! proposals as mutations rather than requests (`proposer`); and a partition's replicas
//! hosted in-process (`group`); a replica's persistent state as a checksummed file
//! (`log_file`).

pub mod flow;
pub mod group;
pub mod lease;
pub mod log_file;
pub mod proposer;
pub mod raft;
