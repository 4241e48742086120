//! Run records as the `reports` crate's input.

use crate::history::Kind;
use crate::run::RunRecord;
use crate::scenario::Scenario;
use crate::topology::Topology;
use dynasim_reports::{AnomalyView, FaultSpan, LeaderSpan, OpView, Run};

fn summary(op: &crate::history::Op) -> String {
    let key = op.key.as_deref().unwrap_or("-");
    let outcome = match op.outcome {
        Kind::Ok => format!("ok {}", op.output),
        Kind::Fail => format!("fail {}", op.error.as_deref().unwrap_or("")),
        _ => format!("unknown outcome {}", op.error.as_deref().unwrap_or("")),
    };
    let consistency = if ["read", "scan", "query", "read-bank"].contains(&op.f.as_str()) {
        if op.consistent {
            " (strong)"
        } else {
            " (eventual)"
        }
    } else {
        ""
    };
    format!(
        "{} {}{} on {key} by {} [{:.3} s .. {}]: {outcome}{}",
        op.f,
        if op.input.is_null() {
            String::new()
        } else {
            op.input.to_string()
        },
        consistency,
        op.process,
        op.start as f64 / 1e9,
        match (op.end, op.gave_up) {
            (Some(e), _) => format!("{:.3} s", e as f64 / 1e9),
            (None, Some(g)) => format!("?, client gave up at {:.3} s", g as f64 / 1e9),
            (None, None) => "?".to_string(),
        },
        op.node
            .as_ref()
            .map_or(String::new(), |n| format!(" from {n}")),
    )
}

/// The report input for a run; `repro` is the command that reproduces it.
pub fn view(scenario: &Scenario, record: &RunRecord, repro: &str) -> Run {
    let topology = Topology::new(scenario);
    let faults = record
        .plan
        .faults
        .iter()
        .map(|f| {
            let (target, detail) = f.fault.render(&topology);
            FaultSpan {
                kind: f.fault.name().into(),
                target,
                detail,
                start_ms: f.start_ms,
                end_ms: f.end_ms,
            }
        })
        .collect();
    // Elections, per group in time order: each leader leads until the next one.
    let mut leaders: Vec<LeaderSpan> = record
        .history
        .named("raft")
        .filter(|e| e.f == "leader")
        .map(|e| LeaderSpan {
            group: e.key.clone().unwrap_or_default(),
            node: e.value["node"].as_str().unwrap_or_default().to_string(),
            term: e.value["term"].as_u64().unwrap_or(0),
            start_ms: e.time / 1_000_000,
            end_ms: record.simulated_ms,
        })
        .collect();
    leaders.sort_by(|a, b| (&a.group, a.start_ms, a.term).cmp(&(&b.group, b.start_ms, b.term)));
    for i in 1..leaders.len() {
        if leaders[i].group == leaders[i - 1].group {
            leaders[i - 1].end_ms = leaders[i].start_ms;
        }
    }
    let ops = record
        .history
        .ops()
        .iter()
        .map(|op| OpView {
            id: op.id,
            process: op.process.to_string(),
            f: op.f.clone(),
            key: op.key.clone(),
            start_ns: op.start,
            end_ns: op.end,
            gave_up_ns: op.gave_up,
            outcome: match op.outcome {
                Kind::Ok => "ok",
                Kind::Fail => "fail",
                _ => "info",
            }
            .into(),
            error: op.error.clone(),
            summary: summary(op),
        })
        .collect();
    Run {
        scenario: record.scenario.clone(),
        description: scenario.description.clone(),
        seed: record.seed,
        passed: record.passed,
        verdict: record.verdict.clone(),
        digest: record.digest.clone(),
        operations: record.operations,
        simulated_ms: record.simulated_ms,
        wall_ms: record.wall_ms,
        repro: repro.to_string(),
        enabled_faults: record
            .plan
            .enabled
            .iter()
            .map(|k| k.name().into())
            .collect(),
        fault_points: record.plan.points.iter().map(|p| p.name().into()).collect(),
        faults,
        leaders,
        anomalies: record
            .report
            .anomalies
            .iter()
            .map(|a| AnomalyView {
                kind: a.kind.into(),
                violation: a.violation,
                key: a.key.clone(),
                explanation: a.explanation.clone(),
                ops: a.ops.clone(),
                time_ns: a.time,
            })
            .collect(),
        ops,
        stats: record
            .report
            .stats
            .iter()
            .map(|(k, v)| (k.clone(), *v))
            .collect(),
    }
}
