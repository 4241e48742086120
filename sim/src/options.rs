//! What one run is asked to do besides its scenario: the seed, a deliberately broken engine
//! variant ([`Bug`]), a replacement fault schedule and an operation budget ([`RunOptions`]).
//! Its own module so that `deploy` reads the options without depending on `run`.

use crate::faults::Plan;
use serde::Serialize;

/// Deliberately broken engine variants, for showing that the checkers catch real bugs. Only
/// reachable through the hidden `--inject-bug` flag that the test suite uses.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Bug {
    /// The router sends strongly consistent reads to any replica, which serves them locally.
    FollowerStrongRead,
    /// The leader applies and acknowledges a write without replicating it.
    LeaderOnlyAck,
    /// The leader executes a write against what it applied, ignoring its proposals not
    /// applied yet (`Proposer::execute_ignoring_proposals`): increments in flight are lost.
    LostIncrement,
    /// A restarted replica skips one logged write when it replays its log.
    SkipOnRestart,
    /// A partition split deletes the items it moves from the old partition but copies all
    /// but the last of them into the new one.
    SplitDropsItem,
    /// Replication: replicas grant votes without checking that the candidate's log is up to
    /// date (Raft's election restriction).
    VoteWithoutLogCheck,
    /// Replication: a leader counts itself twice, so an entry commits on a minority.
    CommitOnMinority,
    /// Replication: a follower keeps its own entry where an Append conflicts with it.
    KeepConflictingEntry,
    /// Replication: a follower acknowledges entries, and a leader counts its own, before its
    /// disk has made them durable.
    AckBeforePersist,
    /// Leases: a leader renews its lease whenever it sends an Append, not only when a
    /// majority acknowledges one, so a leader cut off from its followers keeps serving
    /// strongly consistent reads from its own state after they elected another.
    LeaseRenewedOnSend,
    /// Indexes: a query of a global secondary index goes only to the partition its index key
    /// hashes to, as if the index were partitioned with the table, so it misses the items
    /// the other partitions hold.
    IndexQueryOneGroup,
    /// Storage: recovery does not check the checksum of the frame a torn write left half
    /// written, and takes it for an entry (its index and term at face value, its cut-off
    /// payload as none): the replica's log then holds, at an index and term its leader also
    /// holds, a different command.
    TornEntryKept,
    /// Stream publisher: when a partition's answers start coming from a new leader, it
    /// resumes from its last checkpoint but keeps the records it published since, so those
    /// changes appear twice in the stream.
    StreamDuplicateOnLeaderChange,
    /// Stream publisher: the records of one pulled batch are published newest first, so two
    /// changes of one item in a batch appear in the wrong order.
    StreamReordersRecords,
    /// Index propagator: an item whose index key attribute was removed (or that was
    /// deleted) keeps its entry under the old index key.
    IndexKeepsRemovedKey,
    /// TTL sweeper: deletes an expired item unconditionally, without re-checking its current
    /// expiry, so an item whose TTL a write just extended is deleted.
    TtlSweepSkipsRecheck,
    /// Participant: a commit is applied whenever it arrives, even for a transaction that no
    /// longer holds the item (a duplicate or late commit, as recovery sends), so its old
    /// after image overwrites what was written since.
    TxnCommitIgnoresNewerPrepare,
    /// Coordinator: a read-only transaction reads every item once and answers, without the
    /// second read that shows nothing changed between its reads.
    TxnReadsOnce,
    /// Global tables: versions compared by timestamp alone, an equal one replacing the item:
    /// a tie is broken by arrival order.
    LwwTieByArrival,
    /// Global tables: writes stamped with the region's physical clock alone (no hybrid
    /// clock): after the clock steps back a later write carries an older version.
    LwwPhysicalClock,
    /// Global tables: a tombstone dropped as soon as its region has it, before the other
    /// regions passed it, so an older write still on its way brings the item back.
    LwwEarlyTombstoneDrop,
    /// Global tables with multi-Region strong consistency: a region answers strongly
    /// consistent reads from its own replica instead of the ordering region's.
    MrscLocalStrongRead,
}

impl Bug {
    /// The replication rule a broken variant breaks in every replica, if it is one of those.
    pub fn broken_rule(self) -> Option<dynasim_engine::replication::raft::BrokenRule> {
        use dynasim_engine::replication::raft::BrokenRule;
        match self {
            Bug::VoteWithoutLogCheck => Some(BrokenRule::VoteWithoutLogCheck),
            Bug::CommitOnMinority => Some(BrokenRule::CommitOnMinority),
            Bug::KeepConflictingEntry => Some(BrokenRule::KeepConflictingEntry),
            Bug::AckBeforePersist => Some(BrokenRule::AckBeforePersist),
            _ => None,
        }
    }

    /// The participant rule a broken variant breaks in every partition.
    pub fn participant_bug(self) -> dynasim_engine::txn::ParticipantBug {
        use dynasim_engine::txn::ParticipantBug;
        match self {
            Bug::TxnCommitIgnoresNewerPrepare => ParticipantBug::CommitIgnoresNewerPrepare,
            _ => ParticipantBug::None,
        }
    }

    /// The last-writer-wins rule a broken variant breaks in every region of a global table.
    pub fn lww_bug(self) -> dynasim_engine::global::lww::LwwBug {
        use dynasim_engine::global::lww::LwwBug;
        match self {
            Bug::LwwTieByArrival => LwwBug::TieByArrival,
            Bug::LwwPhysicalClock => LwwBug::PhysicalClock,
            Bug::LwwEarlyTombstoneDrop => LwwBug::EarlyTombstoneDrop,
            _ => LwwBug::None,
        }
    }

    /// Whether the variant breaks a global table (it can only show in a global-tables run).
    pub fn global(self) -> bool {
        self.lww_bug() != dynasim_engine::global::lww::LwwBug::None
            || self == Bug::MrscLocalStrongRead
    }

    /// The lease rule a broken variant breaks in every replica, if it is one of those.
    pub fn broken_lease(self) -> Option<dynasim_engine::replication::lease::BrokenLease> {
        use dynasim_engine::replication::lease::BrokenLease;
        match self {
            Bug::LeaseRenewedOnSend => Some(BrokenLease::RenewedOnSend),
            _ => None,
        }
    }
}

pub const BUGS: [(&str, Bug); 22] = [
    ("follower-strong-read", Bug::FollowerStrongRead),
    ("leader-only-ack", Bug::LeaderOnlyAck),
    ("lost-increment", Bug::LostIncrement),
    ("skip-on-restart", Bug::SkipOnRestart),
    ("split-drops-item", Bug::SplitDropsItem),
    ("vote-without-log-check", Bug::VoteWithoutLogCheck),
    ("commit-on-minority", Bug::CommitOnMinority),
    ("keep-conflicting-entry", Bug::KeepConflictingEntry),
    ("ack-before-persist", Bug::AckBeforePersist),
    ("lease-renewed-on-send", Bug::LeaseRenewedOnSend),
    ("index-query-one-partition", Bug::IndexQueryOneGroup),
    ("torn-entry-kept", Bug::TornEntryKept),
    (
        "stream-duplicate-on-leader-change",
        Bug::StreamDuplicateOnLeaderChange,
    ),
    ("stream-reorders-records", Bug::StreamReordersRecords),
    ("index-keeps-removed-key", Bug::IndexKeepsRemovedKey),
    ("ttl-sweep-skips-recheck", Bug::TtlSweepSkipsRecheck),
    (
        "txn-commit-ignores-newer-prepare",
        Bug::TxnCommitIgnoresNewerPrepare,
    ),
    ("txn-reads-once", Bug::TxnReadsOnce),
    ("lww-tie-by-arrival", Bug::LwwTieByArrival),
    ("lww-physical-clock", Bug::LwwPhysicalClock),
    ("lww-early-tombstone-drop", Bug::LwwEarlyTombstoneDrop),
    ("mrsc-local-strong-read", Bug::MrscLocalStrongRead),
];

impl Bug {
    pub fn parse(name: &str) -> Option<Bug> {
        BUGS.iter().find(|(n, _)| *n == name).map(|(_, b)| *b)
    }

    pub fn name(self) -> &'static str {
        BUGS.iter()
            .find(|(_, b)| *b == self)
            .map(|(n, _)| *n)
            .unwrap_or("?")
    }
}

#[derive(Clone, Debug, Default)]
pub struct RunOptions {
    pub seed: u64,
    pub bug: Option<Bug>,
    /// Replaces the drawn fault schedule (shrinking).
    pub plan: Option<Plan>,
    /// Stop issuing operations after this many (shrinking).
    pub max_ops: Option<u64>,
}
