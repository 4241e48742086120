//! Every scenario file in the repository parses and validates, and `dynasim check` reads a
//! history recorded by hand in the documented format.

use dynasim_sim::history::History;
use dynasim_sim::scenario::Scenario;
use std::path::Path;

#[test]
fn every_scenario_file_is_valid() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../scenarios");
    let mut count = 0;
    for suite in ["ci", "nightly", "teaching"] {
        for entry in std::fs::read_dir(root.join(suite)).unwrap() {
            let path = entry.unwrap().path();
            if path.extension().is_some_and(|e| e == "toml") {
                let scenario =
                    Scenario::load(&path).unwrap_or_else(|e| panic!("{}: {e:?}", path.display()));
                assert!(!scenario.description.is_empty(), "{}", path.display());
                assert_eq!(
                    suite == "teaching",
                    !scenario.expect.is_empty(),
                    "{}: only teaching scenarios expect anomalies",
                    path.display()
                );
                count += 1;
            }
        }
    }
    assert!(count >= 8, "{count} scenarios");
}

#[test]
fn a_foreign_history_in_the_documented_format_is_checked() {
    // As another implementation's harness might record it: a lost update on a counter.
    let text = r#"{"process":0,"type":"invoke","f":"incr","key":"c","value":1,"time":0}
{"process":1,"type":"invoke","f":"incr","key":"c","value":1,"time":1000}
{"process":0,"type":"ok","f":"incr","key":"c","value":1,"time":5000}
{"process":1,"type":"ok","f":"incr","key":"c","value":1,"time":6000}
{"process":0,"type":"invoke","f":"read","key":"c","consistent":true,"time":7000}
{"process":0,"type":"ok","f":"read","key":"c","value":1,"time":8000}
"#;
    let report = dynasim_sim::checkers::check(&History::from_jsonl(text).unwrap());
    let kinds: Vec<&str> = report.anomalies.iter().map(|a| a.kind).collect();
    assert!(kinds.contains(&"lost-update"), "{kinds:?}");
    assert!(kinds.contains(&"nonlinearizable"), "{kinds:?}");
}
