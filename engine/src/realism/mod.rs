//! Realism profiles: what a seeded profile turns on (stale reads, lag, throttling, storms)
//! and the per-table ChaCha8 streams the engine draws from.

pub mod profile;
