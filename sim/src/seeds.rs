//! Sub-seeds: every component of a deployment that draws random numbers draws from its own
//! ChaCha8 stream, derived from the run's seed and the component's name, so that a draw added
//! in one component does not shift the others' (TigerBeetle's per-component seeds). The fault
//! plan (`faults`) and the workloads' generators (`workloads`) derive theirs the same way in
//! their own modules; madsim's global generator is left to madsim's own network latency and
//! loss.

use rand_chacha::ChaCha8Rng;
use rand_core::{RngCore, SeedableRng};
use std::sync::Mutex;

/// A component with its own stream.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Component {
    /// The storage nodes' election timeouts.
    ElectionTimeouts,
    /// Whether an active fault point fires when reached.
    FaultPoints,
    /// The extra latency of each message between regions.
    CrossRegionLatency,
    /// The routers' choice of replica for an eventually consistent read.
    RouterChoices,
    /// How long each storage node's disk takes to make a replica's entries durable.
    DiskSyncs,
    /// When each change-feed component (stream publisher, index propagator) pulls next.
    FeedPulls,
}

/// Every component with a stream, in the order of [`Streams`]'s generators.
pub const COMPONENTS: [Component; 6] = [
    Component::ElectionTimeouts,
    Component::FaultPoints,
    Component::CrossRegionLatency,
    Component::RouterChoices,
    Component::DiskSyncs,
    Component::FeedPulls,
];

impl Component {
    /// The name its sub-seed is derived from (renaming a component changes its stream).
    pub fn name(self) -> &'static str {
        match self {
            Component::ElectionTimeouts => "election-timeouts",
            Component::FaultPoints => "fault-points",
            Component::CrossRegionLatency => "cross-region-latency",
            Component::RouterChoices => "router-choices",
            Component::DiskSyncs => "disk-syncs",
            Component::FeedPulls => "feed-pulls",
        }
    }

    fn index(self) -> usize {
        COMPONENTS
            .iter()
            .position(|&c| c == self)
            .expect("every component is listed")
    }
}

/// The sub-seed of the component called `name` in the run with `seed`.
pub fn sub_seed(seed: u64, name: &str) -> u64 {
    xxhash_rust::xxh3::xxh3_64_with_seed(name.as_bytes(), seed)
}

/// The components' generators for one run.
pub struct Streams {
    generators: Mutex<Vec<ChaCha8Rng>>,
}

impl Streams {
    pub fn new(seed: u64) -> Streams {
        let generators = COMPONENTS
            .iter()
            .map(|c| ChaCha8Rng::seed_from_u64(sub_seed(seed, c.name())))
            .collect();
        Streams {
            generators: Mutex::new(generators),
        }
    }

    fn next_u64(&self, component: Component) -> u64 {
        self.generators.lock().unwrap()[component.index()].next_u64()
    }

    /// A number in `lo..=hi`, uniform but for a modulo bias of at most `(hi - lo + 1) / 2^64`.
    pub fn between(&self, component: Component, lo: u64, hi: u64) -> u64 {
        assert!(lo <= hi, "a range to draw from is not empty");
        let span = hi - lo;
        let drawn = self.next_u64(component);
        if span == u64::MAX {
            drawn
        } else {
            lo + drawn % (span + 1)
        }
    }

    /// True with probability `p`.
    pub fn chance(&self, component: Component, p: f64) -> bool {
        assert!((0.0..=1.0).contains(&p), "a probability is in [0, 1]");
        let unit = (self.next_u64(component) >> 11) as f64 / (1u64 << 53) as f64;
        unit < p
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn components_have_distinct_sub_seeds() {
        let seeds: std::collections::BTreeSet<u64> =
            COMPONENTS.iter().map(|c| sub_seed(7, c.name())).collect();
        assert_eq!(seeds.len(), COMPONENTS.len());
        assert_ne!(sub_seed(7, "fault-points"), sub_seed(8, "fault-points"));
    }

    /// Draws from one component leave every other component's stream where it was.
    #[test]
    fn a_draw_in_one_component_does_not_shift_another() {
        let (quiet, busy) = (Streams::new(3), Streams::new(3));
        for _ in 0..100 {
            busy.between(Component::ElectionTimeouts, 300, 600);
            busy.chance(Component::FaultPoints, 0.5);
        }
        for _ in 0..20 {
            assert_eq!(
                quiet.between(Component::RouterChoices, 0, 2),
                busy.between(Component::RouterChoices, 0, 2)
            );
        }
    }

    #[test]
    fn draws_stay_in_range_and_chances_follow_their_probability() {
        let streams = Streams::new(1);
        for _ in 0..1000 {
            let v = streams.between(Component::CrossRegionLatency, 30, 80);
            assert!((30..=80).contains(&v));
        }
        let hits = (0..10_000)
            .filter(|_| streams.chance(Component::FaultPoints, 0.25))
            .count();
        assert!((2_000..3_000).contains(&hits), "{hits}");
        assert!(!streams.chance(Component::FaultPoints, 0.0));
        assert!(streams.chance(Component::FaultPoints, 1.0));
    }
}
