//! Commands shared by the `dynasim` and `dynasim-sim` binaries.

use crate::history::History;
use std::path::Path;
use std::process::ExitCode;

/// `check HISTORY.jsonl`: runs every checker; exit status 1 on a violation, 2 on bad input.
pub fn check(path: &Path, json: bool) -> ExitCode {
    let text = match std::fs::read_to_string(path) {
        Ok(t) => t,
        Err(e) => {
            eprintln!("dynasim check: {}: {e}", path.display());
            return ExitCode::from(2);
        }
    };
    let history = match History::from_jsonl(&text) {
        Ok(h) => h,
        Err(errors) => {
            for e in errors.iter().take(20) {
                eprintln!("dynasim check: {}: {e}", path.display());
            }
            return ExitCode::from(2);
        }
    };
    let started = std::time::Instant::now();
    let report = crate::checkers::check(&history);
    if json {
        println!(
            "{}",
            serde_json::to_string_pretty(&report).expect("reports serialize")
        );
    } else {
        for a in &report.anomalies {
            println!(
                "{} {}: {}",
                if a.violation {
                    "VIOLATION"
                } else {
                    "observation"
                },
                a.kind,
                a.explanation
            );
        }
        let violations = report.violations().count();
        println!(
            "checked {} events, {} operations in {:.2} s: {} violation(s), {} observation(s)",
            history.events.len(),
            report.stats.get("operations").copied().unwrap_or(0),
            started.elapsed().as_secs_f64(),
            violations,
            report.anomalies.len() - violations
        );
    }
    if report.violations().next().is_some() {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    }
}
