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
    /// The leader turns ADD into SET of the value it sees on arrival (increments in flight
    /// are lost).
    LostIncrement,
    /// A restarted replica skips one logged write when it replays its log.
    SkipOnRestart,
    /// A partition split deletes the items it moves from the old partition but copies all
    /// but the last of them into the new one.
    SplitDropsItem,
}

pub const BUGS: [(&str, Bug); 5] = [
    ("follower-strong-read", Bug::FollowerStrongRead),
    ("leader-only-ack", Bug::LeaderOnlyAck),
    ("lost-increment", Bug::LostIncrement),
    ("skip-on-restart", Bug::SkipOnRestart),
    ("split-drops-item", Bug::SplitDropsItem),
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
