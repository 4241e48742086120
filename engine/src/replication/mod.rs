//! Replication: the Raft-style replica state machine (`raft`), pure and driven only by
//! messages and host calls.

pub mod raft;
