//! Replication: the Raft-style replica state machine (`raft`), pure and driven only by
//! messages and host calls, and a partition's replicas hosted in-process (`group`).

pub mod group;
pub mod raft;
