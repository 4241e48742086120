//! Scenarios: a deployment, workloads, faults and expectations, validated. A scenario file
//! (TOML, documented in `docs/scenarios.md`) is read as a [`spec::ScenarioSpec`] of strings and
//! numbers, then checked into a [`Scenario`] whose kinds are closed enums; [`Scenario::parse`]
//! reports every problem at once.

pub mod spec;

use crate::faults::FaultKind;
use crate::workloads::WorkloadKind;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::path::Path;

pub use spec::Deployment;

/// A validated scenario: execution cannot reject it.
#[derive(Clone, Debug, Serialize, PartialEq)]
pub struct Scenario {
    pub name: String,
    pub description: String,
    /// Anomaly kinds the scenario exists to show (teaching). Empty: no anomaly may occur.
    pub expect: Vec<String>,
    /// Seeds `dynasim run` uses when not told otherwise.
    pub seeds: u64,
    /// The fault phase (simulated milliseconds).
    pub duration_ms: u64,
    /// After every fault healed: clients keep running and must make progress.
    pub liveness_ms: u64,
    /// After the clients stop: every replica must have caught up within this bound.
    pub converge_within_ms: u64,
    /// A client gives up on a request after this long (the outcome is then unknown).
    pub op_timeout_ms: u64,
    pub transport: Transport,
    pub deployment: Deployment,
    pub workloads: Vec<Workload>,
    pub faults: Faults,
    /// A global table across every region instead of workloads on regional tables
    /// (`crate::global_tables`): one node per region, replicating by pulls.
    pub global: Option<GlobalTables>,
}

/// A global-tables run: every region holds a replica of one table, its own clients write,
/// delete and read it, and the regions pull each other's writes (last writer wins).
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
#[serde(default, deny_unknown_fields)]
pub struct GlobalTables {
    pub keys: usize,
    /// Client processes per region.
    pub processes: usize,
    pub think_ms: [u64; 2],
    pub read_fraction: f64,
    /// Fraction of reads that are eventually consistent.
    pub eventual_fraction: f64,
    /// Fraction of writes that are deletes.
    pub delete_fraction: f64,
    /// How long a region waits between two pulls of another region's writes (drawn per pull).
    pub pull_ms: [u64; 2],
    /// `eventual` (last writer wins) or `strong` (multi-Region strong consistency: three
    /// regions, writes and strong reads ordered by the first region, a write answered once
    /// another region applied it, ReplicatedWriteConflictException for a write to an item
    /// another region's write is still replicating).
    pub consistency: String,
}

impl GlobalTables {
    pub fn strong(&self) -> bool {
        self.consistency == "strong"
    }
}

impl Default for GlobalTables {
    fn default() -> Self {
        GlobalTables {
            keys: 4,
            processes: 2,
            think_ms: [5, 40],
            read_fraction: 0.4,
            eventual_fraction: 0.5,
            delete_fraction: 0.1,
            pull_ms: [10, 60],
            consistency: "eventual".into(),
        }
    }
}

/// How clients reach the routers.
#[derive(Clone, Copy, Debug, Serialize, PartialEq, Eq)]
#[serde(rename_all = "kebab-case")]
pub enum Transport {
    /// Typed requests over madsim's network.
    Wire,
    /// DynamoDB's JSON protocol over HTTP/1.1: hyper's connection API on madsim's TCP, the
    /// routers decoding requests with the server's own code.
    Http,
}

impl Transport {
    pub const ALL: [Transport; 2] = [Transport::Wire, Transport::Http];

    pub fn name(self) -> &'static str {
        match self {
            Transport::Wire => "wire",
            Transport::Http => "http",
        }
    }
}

/// A validated workload: its table's name is set and valid, its fractions are in [0, 1].
#[derive(Clone, Debug, Serialize, PartialEq)]
pub struct Workload {
    pub kind: WorkloadKind,
    /// Table name (the kind and the workload's position unless the file names it).
    pub name: String,
    /// The region whose routers and storage nodes host the table (default: round robin).
    pub region: Option<usize>,
    pub keys: usize,
    /// Concurrent client processes, spread over the regions' client nodes.
    pub processes: usize,
    /// Pause between one process's operations (simulated ms, drawn from the range).
    pub think_ms: [u64; 2],
    /// Fraction of operations that read, and of reads that are eventually consistent.
    pub read_fraction: f64,
    pub eventual_fraction: f64,
    /// Fraction of writes that are conditional (register).
    pub cas_fraction: f64,
    /// Fraction of the list-append reads of one item sent as a plain GetItem.
    pub get_fraction: f64,
    /// Fraction of operations aimed at key 0 (a hot key).
    pub hot_fraction: f64,
    /// Run every process on the client node of the table's own region.
    pub local_clients: bool,
    /// Provisioned capacity; when set, the table throttles as DynamoDB would.
    pub write_units: Option<u64>,
    pub read_units: Option<u64>,
    /// A global secondary index `by-group` on the attribute `g`, the value group of an item's
    /// value (the `query` workload): some eventually consistent reads query it across every
    /// partition, and the final state of the index must equal the table's.
    pub index: bool,
    /// With `index`: writes of a value divisible by four carry no index key (the item leaves
    /// the index).
    pub sparse: bool,
}

impl Workload {
    /// A workload of `kind` with the file format's defaults, named `name` (tests).
    pub fn new(kind: WorkloadKind, name: &str) -> Workload {
        spec::WorkloadSpec::default().validated(kind, name.to_string())
    }

    /// Whether the table has provisioned capacity (and so throttles).
    pub fn provisioned(&self) -> bool {
        self.write_units.is_some() || self.read_units.is_some()
    }
}

/// Validated fault settings: every weighted kind is one the deployment supports.
#[derive(Clone, Debug, Serialize, PartialEq)]
pub struct Faults {
    /// Swarm testing: each weighted kind is switched on for a run with probability 1/2.
    pub swarm: bool,
    pub weights: BTreeMap<FaultKind, u32>,
    /// Time between one fault starting and the next.
    pub interval_ms: [u64; 2],
    /// How long one fault lasts.
    pub duration_ms: [u64; 2],
    /// FoundationDB-style fault points: each is active in a run with `activation`
    /// probability, and an active point fires with `fire` probability each time it is reached.
    pub point_activation: f64,
    pub point_fire: f64,
}

impl Scenario {
    pub fn load(path: &Path) -> Result<Scenario, Vec<String>> {
        let text =
            std::fs::read_to_string(path).map_err(|e| vec![format!("{}: {e}", path.display())])?;
        let mut scenario = Scenario::parse(&text).map_err(|errs| {
            errs.into_iter()
                .map(|e| format!("{}: {e}", path.display()))
                .collect::<Vec<_>>()
        })?;
        if scenario.name.is_empty() {
            scenario.name = path
                .file_stem()
                .map(|s| s.to_string_lossy().into_owned())
                .unwrap_or_default();
        }
        Ok(scenario)
    }

    /// Parses and validates a scenario, listing every problem found.
    pub fn parse(text: &str) -> Result<Scenario, Vec<String>> {
        let (spec, mut errors) = spec::ScenarioSpec::parse(text)?;
        match spec.validate() {
            Ok(scenario) if errors.is_empty() => Ok(scenario),
            Ok(_) => Err(errors),
            Err(more) => {
                errors.extend(more);
                Err(errors)
            }
        }
    }
}
