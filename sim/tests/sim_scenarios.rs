//! The scenarios in `scenarios/ci` under the simulator.
#![cfg(madsim)]

use dynasim_sim::run::{RunOptions, run};
use dynasim_sim::scenario::Scenario;
use std::path::Path;

fn scenario(name: &str) -> Scenario {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../scenarios")
        .join(name);
    Scenario::load(&path).unwrap()
}

#[test]
fn explore() {
    let s = scenario("ci/crash-restart.toml");
    for seed in 0..4 {
        let r = run(
            &s,
            RunOptions {
                seed,
                ..Default::default()
            },
        );
        println!(
            "seed {seed}: {} ops {} sim {} ms wall {} ms digest {} {:?}",
            r.verdict, r.operations, r.simulated_ms, r.wall_ms, r.digest, r.report.stats
        );
        for a in &r.report.anomalies {
            println!("  {} {}: {}", a.kind, a.violation, a.explanation);
        }
        println!("  plan {:?}", r.plan.enabled);
    }
}

#[test]
fn explore_bugs() {
    let s = scenario("ci/crash-restart.toml");
    for (name, bug) in dynasim_sim::run::BUGS {
        let mut caught = vec![];
        for seed in 0..4 {
            let r = run(
                &s,
                RunOptions {
                    seed,
                    bug: Some(bug),
                    ..Default::default()
                },
            );
            caught.push((r.passed, r.verdict.clone()));
        }
        println!("{name}: {caught:?}");
    }
}
