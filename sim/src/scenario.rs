//! Scenario files (TOML): a deployment, workloads, faults and expectations. The format is
//! documented in `docs/scenarios.md`; [`Scenario::parse`] reports every error at once.

use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::path::Path;

#[derive(Clone, Debug, Deserialize, Serialize, PartialEq)]
#[serde(default)]
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
    /// How clients reach the routers: `wire` (typed requests over madsim's network) or `http`
    /// (DynamoDB's JSON protocol over HTTP/1.1: hyper's connection API on madsim's TCP, the
    /// routers decoding requests with the server's own code).
    pub transport: String,
    pub deployment: Deployment,
    #[serde(rename = "workload")]
    pub workloads: Vec<Workload>,
    pub faults: Faults,
}

#[derive(Clone, Debug, Deserialize, Serialize, PartialEq)]
#[serde(default)]
pub struct Deployment {
    pub regions: usize,
    pub zones: usize,
    /// Storage nodes per zone; a partition's three replicas sit in three zones of its region.
    pub nodes_per_zone: usize,
    /// Partitions (replica groups) per table.
    pub partitions: usize,
    /// Extra one-way latency between regions, drawn per message.
    pub cross_region_latency_ms: [u64; 2],
    /// Election timeout range of a replica that has not heard from its leader.
    pub election_timeout_ms: [u64; 2],
    pub heartbeat_ms: u64,
}

#[derive(Clone, Debug, Deserialize, Serialize, PartialEq)]
#[serde(default)]
pub struct Workload {
    /// `register`, `counter`, `bank`, `scan` or `rmw-counter`.
    pub kind: String,
    /// Table name; defaults to the kind and the workload's position.
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
    /// Fraction of operations aimed at key 0 (a hot key).
    pub hot_fraction: f64,
    /// Run every process on the client node of the table's own region (default: spread over
    /// all regions, so most requests cross regions).
    pub local_clients: bool,
    /// Provisioned capacity; when set, the table throttles as DynamoDB would.
    pub write_units: Option<u64>,
    pub read_units: Option<u64>,
}

#[derive(Clone, Debug, Deserialize, Serialize, PartialEq)]
#[serde(default)]
pub struct Faults {
    /// Swarm testing: each weighted kind is switched on for a run with probability 1/2.
    pub swarm: bool,
    /// Weights of fault kinds: partition, clog, crash, skew, loss, delay, storm, split,
    /// isolate.
    pub weights: BTreeMap<String, u32>,
    /// Time between one fault starting and the next.
    pub interval_ms: [u64; 2],
    /// How long one fault lasts.
    pub duration_ms: [u64; 2],
    /// FoundationDB-style fault points: each is active in a run with `activation`
    /// probability, and an active point fires with `fire` probability each time it is reached.
    pub point_activation: f64,
    pub point_fire: f64,
}

pub const FAULT_KINDS: [&str; 9] = [
    "partition",
    "clog",
    "crash",
    "skew",
    "loss",
    "delay",
    "storm",
    "split",
    "isolate",
];
pub const WORKLOAD_KINDS: [&str; 6] = [
    "register",
    "counter",
    "bank",
    "scan",
    "rmw-counter",
    "query",
];

impl Default for Scenario {
    fn default() -> Self {
        Scenario {
            name: String::new(),
            description: String::new(),
            expect: Vec::new(),
            seeds: 4,
            duration_ms: 3_000,
            liveness_ms: 1_000,
            converge_within_ms: 5_000,
            op_timeout_ms: 1_000,
            transport: "wire".into(),
            deployment: Deployment::default(),
            workloads: Vec::new(),
            faults: Faults::default(),
        }
    }
}

impl Default for Deployment {
    fn default() -> Self {
        Deployment {
            regions: 1,
            zones: 3,
            nodes_per_zone: 1,
            partitions: 2,
            cross_region_latency_ms: [30, 80],
            election_timeout_ms: [300, 600],
            heartbeat_ms: 50,
        }
    }
}

impl Default for Workload {
    fn default() -> Self {
        Workload {
            kind: "register".into(),
            name: String::new(),
            region: None,
            keys: 8,
            processes: 4,
            think_ms: [0, 10],
            read_fraction: 0.5,
            eventual_fraction: 0.3,
            cas_fraction: 0.3,
            hot_fraction: 0.0,
            local_clients: false,
            write_units: None,
            read_units: None,
        }
    }
}

impl Default for Faults {
    fn default() -> Self {
        Faults {
            swarm: true,
            weights: BTreeMap::new(),
            interval_ms: [300, 900],
            duration_ms: [200, 1_200],
            point_activation: 0.25,
            point_fire: 0.02,
        }
    }
}

const TOP: [&str; 12] = [
    "name",
    "description",
    "expect",
    "seeds",
    "duration_ms",
    "liveness_ms",
    "converge_within_ms",
    "op_timeout_ms",
    "transport",
    "deployment",
    "workload",
    "faults",
];
const DEPLOYMENT: [&str; 7] = [
    "regions",
    "zones",
    "nodes_per_zone",
    "partitions",
    "cross_region_latency_ms",
    "election_timeout_ms",
    "heartbeat_ms",
];
const WORKLOAD: [&str; 14] = [
    "kind",
    "name",
    "region",
    "keys",
    "processes",
    "think_ms",
    "read_fraction",
    "eventual_fraction",
    "cas_fraction",
    "hot_fraction",
    "local_clients",
    "write_units",
    "read_units",
    "comment",
];
const FAULTS: [&str; 6] = [
    "swarm",
    "weights",
    "interval_ms",
    "duration_ms",
    "point_activation",
    "point_fire",
];

fn unknown_keys(table: &toml::Table, known: &[&str], at: &str, errors: &mut Vec<String>) {
    for key in table.keys() {
        if !known.contains(&key.as_str()) {
            errors.push(format!(
                "{at}{key}: unknown key (expected one of: {})",
                known.join(", ")
            ));
        }
    }
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
        let table: toml::Table = text
            .parse()
            .map_err(|e: toml::de::Error| vec![e.to_string()])?;
        let mut errors = Vec::new();
        unknown_keys(&table, &TOP, "", &mut errors);
        if let Some(toml::Value::Table(t)) = table.get("deployment") {
            unknown_keys(t, &DEPLOYMENT, "deployment.", &mut errors);
        }
        if let Some(toml::Value::Table(t)) = table.get("faults") {
            unknown_keys(t, &FAULTS, "faults.", &mut errors);
        }
        if let Some(toml::Value::Array(ws)) = table.get("workload") {
            for (i, w) in ws.iter().enumerate() {
                if let toml::Value::Table(t) = w {
                    unknown_keys(t, &WORKLOAD, &format!("workload[{i}]."), &mut errors);
                }
            }
        }
        let mut scenario: Scenario = match toml::Value::Table(table).try_into() {
            Ok(s) => s,
            Err(e) => {
                errors.push(e.to_string());
                return Err(errors);
            }
        };
        scenario.validate(&mut errors);
        for (i, w) in scenario.workloads.iter_mut().enumerate() {
            if w.name.is_empty() {
                w.name = format!("{}{i}", w.kind);
            }
        }
        if errors.is_empty() {
            Ok(scenario)
        } else {
            Err(errors)
        }
    }

    fn validate(&self, errors: &mut Vec<String>) {
        let d = &self.deployment;
        if !(1..=5).contains(&d.regions) {
            errors.push(format!("deployment.regions: {} is not in 1..=5", d.regions));
        }
        if !(3..=6).contains(&d.zones) {
            errors.push(format!(
                "deployment.zones: {} is not in 3..=6 (a partition's three replicas need three zones)",
                d.zones
            ));
        }
        if !(1..=8).contains(&d.nodes_per_zone) {
            errors.push(format!(
                "deployment.nodes_per_zone: {} is not in 1..=8",
                d.nodes_per_zone
            ));
        }
        if !(1..=64).contains(&d.partitions) {
            errors.push(format!(
                "deployment.partitions: {} is not in 1..=64",
                d.partitions
            ));
        }
        for (name, [lo, hi]) in [
            (
                "deployment.cross_region_latency_ms",
                d.cross_region_latency_ms,
            ),
            ("deployment.election_timeout_ms", d.election_timeout_ms),
            ("faults.interval_ms", self.faults.interval_ms),
            ("faults.duration_ms", self.faults.duration_ms),
        ] {
            if lo > hi {
                errors.push(format!("{name}: the range [{lo}, {hi}] is empty"));
            }
        }
        if d.election_timeout_ms[0] <= d.heartbeat_ms * 2 {
            errors.push(format!(
                "deployment.election_timeout_ms: must exceed twice heartbeat_ms ({})",
                d.heartbeat_ms
            ));
        }
        if d.heartbeat_ms == 0 {
            errors.push("deployment.heartbeat_ms: must be positive".into());
        }
        if self.seeds == 0 {
            errors.push("seeds: must be at least 1".into());
        }
        if self.duration_ms == 0 || self.duration_ms > 600_000 {
            errors.push(format!(
                "duration_ms: {} is not in 1..=600000",
                self.duration_ms
            ));
        }
        if self.op_timeout_ms < 10 {
            errors.push("op_timeout_ms: must be at least 10".into());
        }
        if !matches!(self.transport.as_str(), "wire" | "http") {
            errors.push(format!(
                "transport: {:?} is not one of: wire, http",
                self.transport
            ));
        }
        if self.transport == "http" && self.workloads.iter().any(|w| w.kind == "scan") {
            errors.push(
                "transport: the scan workload reads each partition separately, which only the wire \
                 transport can address; use register, counter, bank or rmw-counter over http"
                    .into(),
            );
        }
        if self.workloads.is_empty() {
            errors.push("workload: at least one [[workload]] is required".into());
        }
        let mut names = std::collections::BTreeSet::new();
        for (i, w) in self.workloads.iter().enumerate() {
            let at = format!("workload[{i}]");
            if !WORKLOAD_KINDS.contains(&w.kind.as_str()) {
                errors.push(format!(
                    "{at}.kind: unknown workload {:?} (expected one of: {})",
                    w.kind,
                    WORKLOAD_KINDS.join(", ")
                ));
            }
            if !w.name.is_empty() && !names.insert(w.name.clone()) {
                errors.push(format!("{at}.name: {:?} is used twice", w.name));
            }
            if !w.name.is_empty()
                && (w.name.len() < 3
                    || !w
                        .name
                        .chars()
                        .all(|c| c.is_ascii_alphanumeric() || "-_.".contains(c)))
            {
                errors.push(format!(
                    "{at}.name: {:?} is not a valid table name (3-255 of a-z, A-Z, 0-9, '_', '-', '.')",
                    w.name
                ));
            }
            if let Some(r) = w.region
                && r >= d.regions
            {
                errors.push(format!(
                    "{at}.region: {r} but the deployment has {} region(s)",
                    d.regions
                ));
            }
            if !(1..=10_000).contains(&w.keys) {
                errors.push(format!("{at}.keys: {} is not in 1..=10000", w.keys));
            }
            if !(1..=256).contains(&w.processes) {
                errors.push(format!("{at}.processes: {} is not in 1..=256", w.processes));
            }
            if w.think_ms[0] > w.think_ms[1] {
                errors.push(format!("{at}.think_ms: the range is empty"));
            }
            for (name, v) in [
                ("read_fraction", w.read_fraction),
                ("eventual_fraction", w.eventual_fraction),
                ("cas_fraction", w.cas_fraction),
                ("hot_fraction", w.hot_fraction),
            ] {
                if !(0.0..=1.0).contains(&v) {
                    errors.push(format!("{at}.{name}: {v} is not in [0, 1]"));
                }
            }
            for (name, v) in [("write_units", w.write_units), ("read_units", w.read_units)] {
                if v == Some(0) {
                    errors.push(format!("{at}.{name}: must be at least 1"));
                }
            }
        }
        for kind in self.faults.weights.keys() {
            if !FAULT_KINDS.contains(&kind.as_str()) {
                errors.push(format!(
                    "faults.weights.{kind}: unknown fault (expected one of: {})",
                    FAULT_KINDS.join(", ")
                ));
            }
        }
        if self.faults.weights.contains_key("partition") && d.regions < 2 {
            errors.push(
                "faults.weights.partition: region partitions need at least two regions".into(),
            );
        }
        for (name, v) in [
            ("faults.point_activation", self.faults.point_activation),
            ("faults.point_fire", self.faults.point_fire),
        ] {
            if !(0.0..=1.0).contains(&v) {
                errors.push(format!("{name}: {v} is not in [0, 1]"));
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_with_defaults() {
        let s = Scenario::parse("name = \"x\"\n[[workload]]\nkind = \"counter\"\n").unwrap();
        assert_eq!(s.workloads[0].name, "counter0");
        assert_eq!(s.deployment.zones, 3);
    }

    #[test]
    fn reports_every_error_at_once() {
        let errors = Scenario::parse(
            "nme = 1\nseeds = 0\n[deployment]\nzones = 2\nregionz = 3\n[[workload]]\nkind = \"queue\"\nkeys = 0\n[faults]\nweights = { flood = 1, partition = 1 }\n",
        )
        .unwrap_err();
        let text = errors.join("\n");
        for needle in [
            "nme: unknown key",
            "deployment.regionz: unknown key",
            "seeds: must be at least 1",
            "deployment.zones: 2",
            "workload[0].kind: unknown workload \"queue\"",
            "workload[0].keys: 0",
            "faults.weights.flood: unknown fault",
            "region partitions need at least two regions",
        ] {
            assert!(text.contains(needle), "missing {needle:?} in:\n{text}");
        }
    }
}
