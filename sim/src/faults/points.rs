//! Fault points (FoundationDB's BUGGIFY): the closed list of places in the deployment's code
//! where a run may inject a fault. A plan switches each on with the scenario's
//! `point_activation` probability; an active point fires with `point_fire` each time the code
//! reaches it (`World::fires` in `deploy`).

use serde::{Deserialize, Serialize};

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub enum FaultPoint {
    /// A Raft message a storage node was about to send is lost (`deploy/storage.rs`).
    #[serde(rename = "raft.drop-outgoing")]
    RaftDropOutgoing,
    /// A replica applies what committed later, at a following message or tick.
    #[serde(rename = "storage.defer-apply")]
    StorageDeferApply,
    /// A router forgets which replica leads the partition it routes to (`deploy/router.rs`).
    #[serde(rename = "router.forget-leader")]
    RouterForgetLeader,
    /// A follower's election timer fires early, never inside a lease window.
    #[serde(rename = "replica.early-election")]
    ReplicaEarlyElection,
    /// A router routes a single-item request by the partition map as it was before any split.
    #[serde(rename = "router.stale-map")]
    RouterStaleMap,
}

/// Every fault point, in the order a plan draws their activation (do not reorder: a seed's
/// plan depends on it).
pub const FAULT_POINTS: [FaultPoint; 5] = [
    FaultPoint::RaftDropOutgoing,
    FaultPoint::StorageDeferApply,
    FaultPoint::RouterForgetLeader,
    FaultPoint::ReplicaEarlyElection,
    FaultPoint::RouterStaleMap,
];

impl FaultPoint {
    /// The name reports and plan files use.
    pub fn name(self) -> &'static str {
        match self {
            FaultPoint::RaftDropOutgoing => "raft.drop-outgoing",
            FaultPoint::StorageDeferApply => "storage.defer-apply",
            FaultPoint::RouterForgetLeader => "router.forget-leader",
            FaultPoint::ReplicaEarlyElection => "replica.early-election",
            FaultPoint::RouterStaleMap => "router.stale-map",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_the_serialized_names() {
        for point in FAULT_POINTS {
            let json = serde_json::to_value(point).unwrap();
            assert_eq!(json, serde_json::json!(point.name()));
            let back: FaultPoint = serde_json::from_value(json).unwrap();
            assert_eq!(back, point);
        }
    }
}
