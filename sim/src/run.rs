//! One run of a scenario with one seed: deploy, run, record, check, judge.

use crate::checkers::{self, Report};
use crate::faults::Plan;
use crate::history::History;
pub use crate::options::{BUGS, Bug, RunOptions};
use crate::scenario::Scenario;
use crate::topology::Topology;
use serde::Serialize;

#[derive(Clone, Debug, Serialize)]
pub struct RunRecord {
    pub scenario: String,
    pub seed: u64,
    pub passed: bool,
    /// Why the run failed, in one line.
    pub verdict: String,
    pub digest: String,
    pub operations: u64,
    pub simulated_ms: u64,
    pub wall_ms: u64,
    pub plan: Plan,
    pub report: Report,
    #[serde(skip)]
    pub history: History,
    pub bug: Option<Bug>,
}

/// Judges a checked history against the scenario's expectations.
pub fn judge(scenario: &Scenario, report: &Report) -> (bool, String) {
    if scenario.expect.is_empty() {
        match report.violations().next() {
            None => (true, "ok".into()),
            Some(a) => (
                false,
                format!(
                    "{} violation(s); first: {} ({})",
                    report.violations().count(),
                    a.kind,
                    a.key.as_deref().unwrap_or("-")
                ),
            ),
        }
    } else {
        let missing: Vec<&String> = scenario
            .expect
            .iter()
            .filter(|k| !report.has_kind(k))
            .collect();
        if missing.is_empty() {
            (
                true,
                format!("expected anomalies shown: {}", scenario.expect.join(", ")),
            )
        } else {
            (
                false,
                format!(
                    "expected anomalies not shown: {}",
                    missing
                        .iter()
                        .map(|s| s.as_str())
                        .collect::<Vec<_>>()
                        .join(", ")
                ),
            )
        }
    }
}

/// The fault plan a run with these options uses.
pub fn plan_for(scenario: &Scenario, options: &RunOptions) -> Plan {
    options.plan.clone().unwrap_or_else(|| {
        // A global-tables run has one node per region: its faults' node is a region.
        let nodes = match scenario.global {
            Some(_) => scenario.deployment.regions,
            None => Topology::new(scenario).storage.len(),
        };
        Plan::draw(scenario, options.seed, nodes)
    })
}

/// Runs one seed under a fresh madsim runtime.
#[cfg(madsim)]
pub fn run(scenario: &Scenario, options: RunOptions) -> RunRecord {
    let plan = plan_for(scenario, &options);
    let wall = std::time::Instant::now();
    let mut config = madsim::Config::default();
    config.net.packet_loss_rate = 0.0;
    let runtime = madsim::runtime::Runtime::with_seed_and_config(options.seed, config);
    let ran = {
        let scenario = scenario.clone();
        let plan = plan.clone();
        let options = options.clone();
        // An engine invariant that fails inside a node (an assertion) stops the run: it is
        // reported as the run's violation, with its repro command, not as a crash of the whole
        // sweep.
        std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            runtime.block_on(async move {
                if scenario.global.is_some() {
                    let start = tokio::time::Instant::now();
                    let (history, ops) = crate::global_tables::run(&scenario, plan, options).await;
                    return (history, ops, start.elapsed().as_millis() as u64);
                }
                let world = crate::deploy::world(&scenario, plan, options);
                let start = tokio::time::Instant::now();
                let history = crate::deploy::run(world.clone()).await;
                let ops = *world.ops.lock().unwrap();
                (history, ops, start.elapsed().as_millis() as u64)
            })
        }))
    };
    let (history, operations, simulated_ms) = match ran {
        Ok(ran) => ran,
        Err(panic) => return stopped(scenario, options, plan, &*panic, wall),
    };
    finish(
        scenario,
        options,
        plan,
        history,
        operations,
        simulated_ms,
        wall,
    )
}

/// The record of a run an assertion stopped: one violation, the assertion's message.
#[cfg(madsim)]
fn stopped(
    scenario: &Scenario,
    options: RunOptions,
    plan: Plan,
    panic: &(dyn std::any::Any + Send),
    wall: std::time::Instant,
) -> RunRecord {
    let message = panic
        .downcast_ref::<String>()
        .cloned()
        .or_else(|| panic.downcast_ref::<&str>().map(|s| s.to_string()))
        .unwrap_or_else(|| "a panic without a message".into());
    let mut report = checkers::Report::default();
    report.anomalies.push(checkers::Anomaly {
        checker: "invariants",
        kind: "invariant-violated",
        violation: true,
        key: None,
        ops: Vec::new(),
        time: 0,
        explanation: format!(
            "An internal check of the system failed and stopped the run: {message}"
        ),
    });
    RunRecord {
        scenario: scenario.name.clone(),
        seed: options.seed,
        passed: false,
        verdict: format!("stopped by a failed internal check: {message}"),
        digest: format!("{:016x}", xxhash_rust::xxh3::xxh3_64(message.as_bytes())),
        operations: 0,
        simulated_ms: 0,
        wall_ms: wall.elapsed().as_millis() as u64,
        plan,
        report,
        history: History::default(),
        bug: options.bug,
    }
}

/// Without `--cfg madsim` there is no simulator: the caller must use the simulator build.
#[cfg(not(madsim))]
pub fn run(_scenario: &Scenario, _options: RunOptions) -> RunRecord {
    panic!("the simulator needs the madsim build (cargo simrun); see README")
}

#[cfg_attr(not(madsim), allow(dead_code))]
fn finish(
    scenario: &Scenario,
    options: RunOptions,
    plan: Plan,
    history: History,
    operations: u64,
    simulated_ms: u64,
    wall: std::time::Instant,
) -> RunRecord {
    let report = checkers::check(&history);
    let (passed, verdict) = judge(scenario, &report);
    RunRecord {
        scenario: scenario.name.clone(),
        seed: options.seed,
        passed,
        verdict,
        digest: format!("{:016x}", history.digest()),
        operations,
        simulated_ms,
        wall_ms: wall.elapsed().as_millis() as u64,
        plan,
        report,
        history,
        bug: options.bug,
    }
}

/// The command that reproduces a run.
pub fn repro_command(path: &str, record: &RunRecord) -> String {
    let mut cmd = format!("dynasim repro {path} --seed {}", record.seed);
    if let Some(bug) = record.bug {
        cmd.push_str(&format!(" --inject-bug {}", bug.name()));
    }
    cmd
}

/// Searches for a smaller failing run: fewer faults, then fewer operations. Returns the
/// smallest failing record found (the original when nothing smaller fails).
pub fn shrink(scenario: &Scenario, failing: RunRecord, budget: usize) -> RunRecord {
    let mut best = failing;
    let mut tries = 0;
    // Faults: drop halves, then single faults, keeping any removal that still fails.
    let mut chunk = best.plan.faults.len().div_ceil(2).max(1);
    while chunk >= 1 && tries < budget && !best.plan.faults.is_empty() {
        let mut i = 0;
        let mut removed_any = false;
        while i < best.plan.faults.len() && tries < budget {
            let mut plan = best.plan.clone();
            let end = (i + chunk).min(plan.faults.len());
            plan.faults.drain(i..end);
            tries += 1;
            let candidate = run(
                scenario,
                RunOptions {
                    seed: best.seed,
                    bug: best.bug,
                    plan: Some(plan),
                    max_ops: None,
                },
            );
            if !candidate.passed {
                best = candidate;
                removed_any = true;
            } else {
                i += chunk;
            }
        }
        if chunk == 1 && !removed_any {
            break;
        }
        chunk = (chunk / 2).max(1);
        if chunk == 1 && removed_any {
            continue;
        }
    }
    // Operations: halve the budget of operations while the run still fails.
    let mut ops = best.operations;
    while tries < budget && ops > 8 {
        ops /= 2;
        tries += 1;
        let candidate = run(
            scenario,
            RunOptions {
                seed: best.seed,
                bug: best.bug,
                plan: Some(best.plan.clone()),
                max_ops: Some(ops),
            },
        );
        if candidate.passed {
            break;
        }
        best = candidate;
    }
    best
}
