//! Transactions as the service runs them (the USENIX ATC 2023 paper "Distributed Transactions
//! at Scale in Amazon DynamoDB"): timestamp ordering, a coordinator that prepares every item
//! on its partition and then commits or cancels, participant rules on each partition, and a
//! ledger from which another coordinator finishes a transaction whose coordinator crashed.
//!
//! `participant` and `coordinator` are pure state machines over messages and timestamps
//! the host passes in: the engine drives them in-process (`ops::transact_write_items`,
//! `ops::transact_get_items`), the model checker explores them (`model::transactions`).
//! `host` is the engine's side: a participant per table, the ledger, the idempotency tokens
//! and the transactions waiting out a profile's commit delay.

pub mod coordinator;
pub(crate) mod host;
pub mod participant;

pub use coordinator::{Coordinator, Decision, Ledger, Phase, Send};
pub use participant::{Applied, Mark, Participant, ParticipantBug, Refusal};

/// A transaction's identity, unique within its ledger.
pub type TxId = u64;

/// A transaction timestamp: the coordinator's clock, then the coordinator, then a sequence
/// within the coordinator, so that two coordinators never pick the same one.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct Timestamp {
    /// Microseconds of the coordinator's clock (skewed in the simulator).
    pub micros: u64,
    pub coordinator: u32,
    pub sequence: u32,
}

impl Timestamp {
    pub const ZERO: Timestamp = Timestamp {
        micros: 0,
        coordinator: 0,
        sequence: 0,
    };

    pub fn new(micros: u64, coordinator: u32, sequence: u32) -> Timestamp {
        Timestamp {
            micros,
            coordinator,
            sequence,
        }
    }

    /// The smallest timestamp after this one.
    pub fn successor(self) -> Timestamp {
        match self.sequence.checked_add(1) {
            Some(sequence) => Timestamp { sequence, ..self },
            None => Timestamp::new(self.micros + 1, self.coordinator, 0),
        }
    }
}
