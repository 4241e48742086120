//! Scenario files as read: [`ScenarioSpec`], with kinds as the strings the TOML holds and
//! every key's default, and its validation into a [`Scenario`], reporting every unknown key
//! and invalid value at once.

use super::{Faults, GlobalTables, Scenario, Transport, Workload};
use crate::faults::{FAULT_KINDS, FaultKind};
use crate::workloads::{WORKLOAD_KINDS, WorkloadKind};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

#[derive(Clone, Debug, Deserialize, Serialize, PartialEq)]
#[serde(default)]
pub struct ScenarioSpec {
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
    pub workloads: Vec<WorkloadSpec>,
    pub faults: FaultsSpec,
    /// A global table across every region (`[global_tables]`) instead of workloads.
    pub global_tables: Option<GlobalTables>,
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
    /// Applied entries a replica's log holds when it takes a snapshot to compact them into.
    pub compact_after_entries: u64,
    /// Entries applied after that snapshot before the log is compacted to it (a follower that
    /// far behind still catches up from entries; one further behind gets the snapshot).
    pub compact_keep_entries: u64,
    /// How long a storage node's disk takes to make a replica's appended entries durable
    /// (µs, drawn per sync). A replica acknowledges entries, and a leader counts its own,
    /// only once they are durable; a crash loses what was not. `[0, 0]`: durable on append.
    pub disk_sync_us: [u64; 2],
    /// A stream publisher on a node of its own: it pulls every partition's committed
    /// changes from the partition's leader and publishes them as a DynamoDB stream (one
    /// shard per partition, a closed parent and two children at a split); the `stream`
    /// checker reads its shards at the end.
    pub stream_publisher: bool,
    /// An index propagator on a node of its own: every `index = true` workload's global
    /// secondary index is kept there from the partitions' committed changes, and index
    /// queries go to it (not to the partitions).
    pub index_propagator: bool,
    /// A Time to Live sweeper on a node of its own: it keeps every item's expiry (attribute
    /// `exp`) from the partitions' committed changes and deletes expired items through the
    /// routers, each delete conditional on the item's current expiry.
    pub ttl_sweeper: bool,
    /// How long after an item's expiry the sweeper deletes it (ms).
    pub ttl_sweep_delay_ms: u64,
    /// How long a change-feed component (publisher, propagator) waits between two pulls of
    /// a partition's changes (ms, drawn per pull): its lag behind the table.
    pub feed_pull_ms: [u64; 2],
    /// How often a change-feed component makes its state durable (ms); a crash (the
    /// `feed-crash` fault) loses what it did since and it pulls those changes again.
    pub feed_checkpoint_ms: u64,
    /// Transaction coordinators, each on a node of its own (`list-append` transactions and
    /// the bank's `transactions = true` go to them).
    pub coordinators: usize,
    /// Each coordinator's clock offset (ms; missing: 0): transaction timestamps come from it.
    pub coordinator_skew_ms: Vec<i64>,
}

#[derive(Clone, Debug, Deserialize, Serialize, PartialEq)]
#[serde(default)]
pub struct WorkloadSpec {
    /// A workload kind's name ([`WORKLOAD_KINDS`]).
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
    /// Fraction of the list-append reads of one item sent as a plain GetItem (strongly
    /// consistent) instead of a TransactGetItems.
    pub get_fraction: f64,
    /// Fraction of operations aimed at key 0 (a hot key).
    pub hot_fraction: f64,
    /// Run every process on the client node of the table's own region (default: spread over
    /// all regions, so most requests cross regions).
    pub local_clients: bool,
    /// Provisioned capacity; when set, the table throttles as DynamoDB would.
    pub write_units: Option<u64>,
    pub read_units: Option<u64>,
    /// A global secondary index on the item's value group (the `query` workload only).
    pub index: bool,
    /// With `index`: writes of a value divisible by four leave out the index key, so that
    /// the item leaves the index (a sparse index).
    pub sparse: bool,
}

#[derive(Clone, Debug, Deserialize, Serialize, PartialEq)]
#[serde(default)]
pub struct FaultsSpec {
    /// Swarm testing: each weighted kind is switched on for a run with probability 1/2.
    pub swarm: bool,
    /// Weights of fault kinds by name ([`FAULT_KINDS`]).
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

impl Default for ScenarioSpec {
    fn default() -> Self {
        ScenarioSpec {
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
            faults: FaultsSpec::default(),
            global_tables: None,
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
            compact_after_entries: 1024,
            compact_keep_entries: 256,
            disk_sync_us: [100, 400],
            stream_publisher: false,
            index_propagator: false,
            ttl_sweeper: false,
            ttl_sweep_delay_ms: 100,
            feed_pull_ms: [5, 40],
            feed_checkpoint_ms: 100,
            coordinators: 0,
            coordinator_skew_ms: Vec::new(),
        }
    }
}

impl Default for WorkloadSpec {
    fn default() -> Self {
        WorkloadSpec {
            kind: "register".into(),
            name: String::new(),
            region: None,
            keys: 8,
            processes: 4,
            think_ms: [0, 10],
            read_fraction: 0.5,
            eventual_fraction: 0.3,
            cas_fraction: 0.3,
            get_fraction: 0.0,
            hot_fraction: 0.0,
            local_clients: false,
            write_units: None,
            read_units: None,
            index: false,
            sparse: false,
        }
    }
}

impl Default for FaultsSpec {
    fn default() -> Self {
        FaultsSpec {
            swarm: true,
            weights: BTreeMap::new(),
            interval_ms: [300, 900],
            duration_ms: [200, 1_200],
            point_activation: 0.25,
            point_fire: 0.02,
        }
    }
}

const TOP: [&str; 13] = [
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
    "global_tables",
];
const DEPLOYMENT: [&str; 18] = [
    "regions",
    "zones",
    "nodes_per_zone",
    "partitions",
    "cross_region_latency_ms",
    "election_timeout_ms",
    "heartbeat_ms",
    "compact_after_entries",
    "compact_keep_entries",
    "disk_sync_us",
    "stream_publisher",
    "index_propagator",
    "ttl_sweeper",
    "ttl_sweep_delay_ms",
    "feed_pull_ms",
    "feed_checkpoint_ms",
    "coordinators",
    "coordinator_skew_ms",
];
const WORKLOAD: [&str; 17] = [
    "kind",
    "name",
    "region",
    "keys",
    "processes",
    "think_ms",
    "read_fraction",
    "eventual_fraction",
    "cas_fraction",
    "get_fraction",
    "hot_fraction",
    "local_clients",
    "write_units",
    "read_units",
    "index",
    "sparse",
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

impl ScenarioSpec {
    /// Reads a scenario file's text. A TOML or type error ends the reading (`Err`); unknown
    /// keys are listed next to the spec, so that validation can report its errors with them.
    pub fn parse(text: &str) -> Result<(ScenarioSpec, Vec<String>), Vec<String>> {
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
        match toml::Value::Table(table).try_into() {
            Ok(spec) => Ok((spec, errors)),
            Err(e) => {
                errors.push(e.to_string());
                Err(errors)
            }
        }
    }

    /// Checks every value and resolves every kind; lists every problem found.
    pub fn validate(self) -> Result<Scenario, Vec<String>> {
        let mut errors = Vec::new();
        self.deployment.validate(&mut errors);
        self.validate_run(&mut errors);
        let transport = Transport::ALL
            .into_iter()
            .find(|t| t.name() == self.transport);
        if transport.is_none() {
            errors.push(format!(
                "transport: {:?} is not one of: wire, http",
                self.transport
            ));
        }
        let workloads = validate_workloads(&self.workloads, &self.deployment, &mut errors);
        if self.deployment.coordinators == 0 && workloads.iter().any(|w| w.kind.transactional()) {
            errors.push(
                "deployment.coordinators: transactions (the list-append and txn-bank workloads) need at least one"
                    .into(),
            );
        }
        if transport == Some(Transport::Http)
            && workloads.iter().any(|w| w.kind.wire_only() || w.index)
        {
            errors.push(
                "transport: the scan workload and an index query read each partition separately, \
                 which only the wire transport can address; use register, counter, bank, \
                 rmw-counter, txn-bank, list-append or query without an index over http"
                    .into(),
            );
        }
        let faults = self.faults.validate(&self.deployment, &mut errors);
        if let Some(global) = &self.global_tables {
            validate_global(global, &self.deployment, &faults, &mut errors);
        }
        let (Some(transport), true) = (transport, errors.is_empty()) else {
            return Err(errors);
        };
        assert_eq!(
            workloads.len(),
            self.workloads.len(),
            "every workload resolved"
        );
        Ok(Scenario {
            name: self.name,
            description: self.description,
            expect: self.expect,
            seeds: self.seeds,
            duration_ms: self.duration_ms,
            liveness_ms: self.liveness_ms,
            converge_within_ms: self.converge_within_ms,
            op_timeout_ms: self.op_timeout_ms,
            transport,
            deployment: self.deployment,
            workloads,
            faults,
            global: self.global_tables,
        })
    }

    /// The run's own settings: seeds, phases, timeouts.
    fn validate_run(&self, errors: &mut Vec<String>) {
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
        match (self.workloads.is_empty(), self.global_tables.is_some()) {
            (true, false) => {
                errors.push("workload: at least one [[workload]] (or [global_tables]) is required".into())
            }
            (false, true) => errors.push(
                "global_tables: a global-tables run has no [[workload]]: its clients are the section's"
                    .into(),
            ),
            _ => {}
        }
    }
}

impl Deployment {
    fn validate(&self, errors: &mut Vec<String>) {
        let d = self;
        if d.coordinators > 8 {
            errors.push(format!(
                "deployment.coordinators: {} is not in 0..=8",
                d.coordinators
            ));
        }
        if d.coordinator_skew_ms.len() > d.coordinators {
            errors.push("deployment.coordinator_skew_ms: more offsets than coordinators".into());
        }
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
        for (name, range) in [
            (
                "deployment.cross_region_latency_ms",
                d.cross_region_latency_ms,
            ),
            ("deployment.election_timeout_ms", d.election_timeout_ms),
            ("deployment.disk_sync_us", d.disk_sync_us),
            ("deployment.feed_pull_ms", d.feed_pull_ms),
        ] {
            range_not_empty(name, range, errors);
        }
        if d.election_timeout_ms[0] <= d.heartbeat_ms * 2 {
            errors.push(format!(
                "deployment.election_timeout_ms: must exceed twice heartbeat_ms ({})",
                d.heartbeat_ms
            ));
        }
        if d.feed_pull_ms[0] == 0 || d.feed_checkpoint_ms == 0 {
            errors.push(
                "deployment.feed_pull_ms and feed_checkpoint_ms: must be at least 1 ms".into(),
            );
        }
        if d.heartbeat_ms == 0 {
            errors.push("deployment.heartbeat_ms: must be positive".into());
        }
        if d.compact_after_entries == 0 {
            errors.push("deployment.compact_after_entries: must be positive".into());
        }
    }
}

fn range_not_empty(name: &str, [lo, hi]: [u64; 2], errors: &mut Vec<String>) {
    if lo > hi {
        errors.push(format!("{name}: the range [{lo}, {hi}] is empty"));
    }
}

/// The workloads that resolve, named (`{kind}{position}` unless the file names them).
fn validate_workloads(
    specs: &[WorkloadSpec],
    deployment: &Deployment,
    errors: &mut Vec<String>,
) -> Vec<Workload> {
    let mut names = std::collections::BTreeSet::new();
    let mut out = Vec::new();
    for (i, w) in specs.iter().enumerate() {
        let at = format!("workload[{i}]");
        let kind = WorkloadKind::parse(&w.kind);
        if kind.is_none() {
            errors.push(format!(
                "{at}.kind: unknown workload {:?} (expected one of: {})",
                w.kind,
                WORKLOAD_KINDS.map(WorkloadKind::name).join(", ")
            ));
        }
        if !w.name.is_empty() && !names.insert(w.name.clone()) {
            errors.push(format!("{at}.name: {:?} is used twice", w.name));
        }
        w.validate(&at, deployment, errors);
        if w.index && kind.is_some_and(|k| k != WorkloadKind::Query) {
            errors.push(format!(
                "{at}.index: only the query workload has an index (its items' value groups)"
            ));
        }
        if w.sparse && !w.index {
            errors.push(format!("{at}.sparse: a sparse index needs index = true"));
        }
        if let Some(kind) = kind {
            let name = if w.name.is_empty() {
                format!("{}{i}", w.kind)
            } else {
                w.name.clone()
            };
            out.push(w.clone().validated(kind, name));
        }
    }
    out
}

impl WorkloadSpec {
    /// Checks one workload's values (`at` names it in the errors).
    fn validate(&self, at: &str, deployment: &Deployment, errors: &mut Vec<String>) {
        let w = self;
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
            && r >= deployment.regions
        {
            errors.push(format!(
                "{at}.region: {r} but the deployment has {} region(s)",
                deployment.regions
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
            ("get_fraction", w.get_fraction),
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

    /// The validated workload (the caller checked the values and resolved the kind).
    pub(super) fn validated(self, kind: WorkloadKind, name: String) -> Workload {
        Workload {
            kind,
            name,
            region: self.region,
            keys: self.keys,
            processes: self.processes,
            think_ms: self.think_ms,
            read_fraction: self.read_fraction,
            eventual_fraction: self.eventual_fraction,
            cas_fraction: self.cas_fraction,
            get_fraction: self.get_fraction,
            hot_fraction: self.hot_fraction,
            local_clients: self.local_clients,
            write_units: self.write_units,
            read_units: self.read_units,
            index: self.index,
            sparse: self.sparse,
        }
    }
}

/// The fault kinds a global-tables run executes: regions cut off, one-way links, clocks.
pub const GLOBAL_FAULTS: [FaultKind; 3] =
    [FaultKind::Partition, FaultKind::OneWay, FaultKind::Skew];

fn validate_global(
    global: &GlobalTables,
    deployment: &Deployment,
    faults: &Faults,
    errors: &mut Vec<String>,
) {
    if deployment.regions < 2 {
        errors.push("global_tables: needs deployment.regions of at least 2".into());
    }
    if !(1..=64).contains(&global.keys) {
        errors.push(format!(
            "global_tables.keys: {} is not in 1..=64",
            global.keys
        ));
    }
    if !(1..=16).contains(&global.processes) {
        errors.push(format!(
            "global_tables.processes: {} is not in 1..=16",
            global.processes
        ));
    }
    for (name, v) in [
        ("read_fraction", global.read_fraction),
        ("eventual_fraction", global.eventual_fraction),
        ("delete_fraction", global.delete_fraction),
    ] {
        if !(0.0..=1.0).contains(&v) {
            errors.push(format!("global_tables.{name}: {v} is not in [0, 1]"));
        }
    }
    match global.consistency.as_str() {
        "eventual" => {}
        "strong" if deployment.regions == 3 => {}
        "strong" => errors
            .push("global_tables.consistency: strong (MRSC) needs deployment.regions = 3".into()),
        other => errors.push(format!(
            "global_tables.consistency: {other:?} is not one of: eventual, strong"
        )),
    }
    range_not_empty("global_tables.think_ms", global.think_ms, errors);
    range_not_empty("global_tables.pull_ms", global.pull_ms, errors);
    for kind in faults.weights.keys() {
        if !GLOBAL_FAULTS.contains(kind) {
            errors.push(format!(
                "faults.weights.{}: a global-tables run executes only partition, one-way and skew",
                kind.name()
            ));
        }
    }
}

impl FaultsSpec {
    fn validate(&self, deployment: &Deployment, errors: &mut Vec<String>) -> Faults {
        range_not_empty("faults.interval_ms", self.interval_ms, errors);
        range_not_empty("faults.duration_ms", self.duration_ms, errors);
        let mut weights = BTreeMap::new();
        for (name, &weight) in &self.weights {
            let Some(kind) = FaultKind::parse(name) else {
                errors.push(format!(
                    "faults.weights.{name}: unknown fault (expected one of: {})",
                    FAULT_KINDS.map(FaultKind::name).join(", ")
                ));
                continue;
            };
            if let Some(why) = kind.unsupported(deployment) {
                errors.push(format!("faults.weights.{name}: {why}"));
            }
            weights.insert(kind, weight);
        }
        for (name, v) in [
            ("faults.point_activation", self.point_activation),
            ("faults.point_fire", self.point_fire),
        ] {
            if !(0.0..=1.0).contains(&v) {
                errors.push(format!("{name}: {v} is not in [0, 1]"));
            }
        }
        Faults {
            swarm: self.swarm,
            weights,
            interval_ms: self.interval_ms,
            duration_ms: self.duration_ms,
            point_activation: self.point_activation,
            point_fire: self.point_fire,
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
