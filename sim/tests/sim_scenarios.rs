//! The scenario suites under the simulator: `scenarios/ci` passes on its first seeds and is
//! deterministic (within a process and across two), `scenarios/teaching` shows the anomaly each
//! scenario exists for, and every deliberately broken engine variant is caught by the CI
//! scenarios within their seeds, with a repro command and a report that points at it.
#![cfg(madsim)]

use dynasim_sim::run::{BUGS, RunOptions, RunRecord, repro_command, run, shrink};
use dynasim_sim::scenario::Scenario;
use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

fn dir(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../scenarios")
        .join(name)
}

fn suite(name: &str) -> Vec<(String, Scenario)> {
    let mut paths: Vec<PathBuf> = std::fs::read_dir(dir(name))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "toml"))
        .collect();
    paths.sort();
    assert!(!paths.is_empty(), "scenarios/{name} has scenarios");
    paths
        .into_iter()
        .map(|p| {
            let s = Scenario::load(&p).unwrap();
            (
                format!(
                    "scenarios/{name}/{}",
                    p.file_name().unwrap().to_string_lossy()
                ),
                s,
            )
        })
        .collect()
}

/// Seeds the CI suite runs per scenario (each twice).
const CI_SEEDS: u64 = 3;

fn seed(seed: u64) -> RunOptions {
    RunOptions {
        seed,
        ..RunOptions::default()
    }
}

#[test]
fn ci_scenarios_pass_and_each_seed_gives_one_history() {
    for (path, scenario) in suite("ci") {
        let mut digests = BTreeSet::new();
        for s in 0..CI_SEEDS {
            let first = run(&scenario, seed(s));
            let again = run(&scenario, seed(s));
            assert!(
                first.passed,
                "{path} seed {s}: {}\n{:#?}\nreproduce: {}",
                first.verdict,
                first.report.violations().collect::<Vec<_>>(),
                repro_command(&path, &first)
            );
            assert!(
                !first.report.anomalies.iter().any(|a| a.kind == "unchecked"),
                "{path} seed {s}: every item's history is fully checked"
            );
            assert!(
                first.operations > 100,
                "{path} seed {s}: {} ops",
                first.operations
            );
            assert_eq!(
                first.digest, again.digest,
                "{path} seed {s}: same seed, same digest"
            );
            assert_eq!(first.history, again.history);
            digests.insert(first.digest);
        }
        assert_eq!(
            digests.len() as u64,
            CI_SEEDS,
            "{path}: seeds give different histories"
        );
    }
}

#[test]
fn teaching_scenarios_show_their_anomaly() {
    for (path, scenario) in suite("teaching") {
        assert!(!scenario.expect.is_empty(), "{path} names what it teaches");
        for s in 0..2 {
            let record = run(&scenario, seed(s));
            assert!(
                record.passed,
                "{path} seed {s}: {} (anomalies: {:?})",
                record.verdict,
                record
                    .report
                    .anomalies
                    .iter()
                    .map(|a| a.kind)
                    .collect::<Vec<_>>()
            );
        }
    }
}

fn caught(bug: dynasim_sim::run::Bug) -> Option<(String, Scenario, RunRecord)> {
    // A broken last-writer-wins rule can only show where a global table replicates, and the
    // others only where the regional deployment runs.
    let global_bug = bug.global();
    for (path, scenario) in suite("ci") {
        if global_bug != scenario.global.is_some() {
            continue;
        }
        for s in 0..CI_SEEDS {
            let record = run(
                &scenario,
                RunOptions {
                    seed: s,
                    bug: Some(bug),
                    ..RunOptions::default()
                },
            );
            if !record.passed {
                return Some((path, scenario, record));
            }
        }
    }
    None
}

#[test]
fn broken_engine_variants_are_caught_by_the_ci_scenarios() {
    for (name, bug) in BUGS {
        let (path, scenario, record) =
            caught(bug).unwrap_or_else(|| panic!("{name} escaped every CI scenario and seed"));
        let repro = repro_command(&path, &record);
        assert!(repro.contains(&format!("--inject-bug {name}")), "{repro}");
        assert!(
            repro.contains(&format!("--seed {}", record.seed)),
            "{repro}"
        );
        // The same command reproduces the same failure.
        let again = run(
            &scenario,
            RunOptions {
                seed: record.seed,
                bug: Some(bug),
                ..RunOptions::default()
            },
        );
        assert_eq!(again.digest, record.digest);
        assert!(!again.passed);
        // The report points at the anomaly.
        let first = record.report.violations().next().unwrap();
        let view = dynasim_sim::report::view(&scenario, &record, &repro);
        let md = dynasim_reports::markdown(&view);
        assert!(md.contains("## The anomaly"), "{name}: {md}");
        assert!(md.contains(&format!("**{}**", first.kind)), "{name}");
        assert!(md.contains(&repro));
        let html = dynasim_reports::html(&view);
        assert!(html.contains("class=\"explanation\""));
        eprintln!(
            "{name}: caught by {path} seed {} as {}: {}",
            record.seed, first.kind, first.explanation
        );
    }
}

#[test]
fn shrinking_keeps_the_failure_with_fewer_faults_or_operations() {
    let (_, scenario, record) = caught(dynasim_sim::run::Bug::SkipOnRestart).unwrap();
    let faults = record.plan.faults.len();
    let ops = record.operations;
    let small = shrink(&scenario, record, 24);
    assert!(!small.passed, "the shrunk run still fails");
    assert!(
        small.plan.faults.len() < faults || small.operations < ops,
        "shrinking made progress: {faults} → {} faults, {ops} → {} ops",
        small.plan.faults.len(),
        small.operations
    );
}

/// Two processes, one seed: the test binary runs itself twice and compares the digests.
#[test]
fn the_same_seed_gives_the_same_digest_in_two_processes() {
    if std::env::var("DYNASIM_DIGEST_CHILD").is_ok() {
        return;
    }
    let digest = || {
        let out = std::process::Command::new(std::env::current_exe().unwrap())
            .args(["--exact", "child_prints_digest", "--nocapture"])
            .env("DYNASIM_DIGEST_CHILD", "1")
            .output()
            .unwrap();
        let text = String::from_utf8_lossy(&out.stdout).into_owned();
        text.lines()
            .find_map(|l| l.strip_prefix("digest "))
            .unwrap_or_else(|| panic!("no digest in {text}"))
            .to_string()
    };
    let (a, b) = (digest(), digest());
    assert_eq!(a, b);
}

#[test]
fn child_prints_digest() {
    if std::env::var("DYNASIM_DIGEST_CHILD").is_err() {
        return;
    }
    let (_, scenario) = suite("ci").remove(0);
    println!("digest {}", run(&scenario, seed(5)).digest);
}

/// Guards the CI scenarios against not exercising compaction: with their low compaction
/// thresholds, replicas that fell behind (a crash, leader churn, a split) catch up from a
/// leader's snapshot in some run of the seeds the suite checks, and those runs pass.
#[test]
fn replicas_behind_the_compacted_log_catch_up_from_a_snapshot() {
    let mut installs = 0;
    for (path, scenario) in suite("ci") {
        if scenario.deployment.compact_after_entries > 64 {
            continue;
        }
        for s in 0..CI_SEEDS {
            let record = run(
                &scenario,
                RunOptions {
                    seed: s,
                    ..RunOptions::default()
                },
            );
            let here = record
                .history
                .events
                .iter()
                .filter(|e| e.f == "snapshot")
                .count();
            assert!(
                record.passed || here == 0,
                "{path} seed {s}: {}",
                record.verdict
            );
            installs += here;
        }
    }
    assert!(
        installs >= 3,
        "{installs} snapshots installed over the CI scenarios"
    );
}
