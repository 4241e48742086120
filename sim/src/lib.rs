//! The seeded simulator: deployments on madsim, faults, workloads, histories and checkers.
//!
//! The simulator itself is the subject of a later issue. So far the crate holds one test,
//! `tests/sim_replication.rs`: a partition's three replicas on separate simulated nodes with
//! election timers, a client, and a cut-off leader, checking that no acknowledged write is
//! lost. The crate exists so that the workspace layout matches `ARCHITECTURE.md` and
//! dependencies can only point one way.
