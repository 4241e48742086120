//! The seeded simulator: deployments on madsim, faults, workloads, histories and checkers.
//!
//! Nothing lives here yet; the simulator is the subject of a later issue. The crate exists so
//! that the workspace layout matches `ARCHITECTURE.md` and dependencies can only point one way.
