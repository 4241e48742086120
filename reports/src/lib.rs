//! Run records to Markdown, one self-contained HTML file with SVG charts, and JUnit XML.
//!
//! The crate reads [`Run`]s (what a simulator run recorded, reduced to what a reader needs)
//! and feeds nothing back: the simulator converts its records into these types.

use serde::{Deserialize, Serialize};
use std::fmt::Write as _;

#[derive(Clone, Debug, Default, Serialize, Deserialize, PartialEq)]
pub struct Run {
    pub scenario: String,
    pub description: String,
    pub seed: u64,
    pub passed: bool,
    pub verdict: String,
    pub digest: String,
    pub operations: u64,
    pub simulated_ms: u64,
    pub wall_ms: u64,
    pub repro: String,
    /// Fault kinds switched on for this run, and fault points active.
    pub enabled_faults: Vec<String>,
    pub fault_points: Vec<String>,
    pub faults: Vec<FaultSpan>,
    /// Who led each partition's replica group, from each election to the next.
    #[serde(default)]
    pub leaders: Vec<LeaderSpan>,
    pub anomalies: Vec<AnomalyView>,
    pub ops: Vec<OpView>,
    pub stats: Vec<(String, u64)>,
}

#[derive(Clone, Debug, Default, Serialize, Deserialize, PartialEq)]
pub struct FaultSpan {
    pub kind: String,
    /// Which lane it belongs to: a node's name, or "network".
    pub target: String,
    pub detail: String,
    pub start_ms: u64,
    pub end_ms: u64,
}

#[derive(Clone, Debug, Default, Serialize, Deserialize, PartialEq)]
pub struct LeaderSpan {
    /// The replica group (a partition), e.g. `registers#p0`.
    pub group: String,
    /// The node that became leader, and its term.
    pub node: String,
    pub term: u64,
    pub start_ms: u64,
    /// When the next leader of the group was elected (or the run ended).
    pub end_ms: u64,
}

/// Colours for leader spans, one per node (by its position in the run's list of leaders).
const NODE_COLOURS: [&str; 6] = [
    "#1f77b4", "#17becf", "#8c564b", "#e377c2", "#bcbd22", "#7f7f7f",
];

#[derive(Clone, Debug, Default, Serialize, Deserialize, PartialEq)]
pub struct AnomalyView {
    pub kind: String,
    pub violation: bool,
    pub key: Option<String>,
    pub explanation: String,
    pub ops: Vec<usize>,
    pub time_ns: u64,
}

#[derive(Clone, Debug, Default, Serialize, Deserialize, PartialEq)]
pub struct OpView {
    pub id: usize,
    pub process: String,
    pub f: String,
    pub key: Option<String>,
    pub start_ns: u64,
    /// `None`: never completed (unknown outcome).
    pub end_ns: Option<u64>,
    /// For an unknown outcome: when the client stopped waiting (the operation may still take
    /// effect after it).
    #[serde(default)]
    pub gave_up_ns: Option<u64>,
    /// ok, fail or info.
    pub outcome: String,
    pub error: Option<String>,
    pub summary: String,
}

fn esc(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

fn md_cell(s: &str) -> String {
    s.replace('|', "\\|").replace('\n', " ")
}

/// A Markdown report of one run.
pub fn markdown(run: &Run) -> String {
    let mut out = String::new();
    let status = if run.passed { "PASSED" } else { "FAILED" };
    let _ = writeln!(out, "# {} — seed {}: {status}\n", run.scenario, run.seed);
    if !run.description.is_empty() {
        let _ = writeln!(out, "{}\n", run.description.trim());
    }
    let _ = writeln!(out, "| | |\n|---|---|");
    let _ = writeln!(out, "| verdict | {} |", md_cell(&run.verdict));
    let _ = writeln!(out, "| digest | `{}` |", run.digest);
    let _ = writeln!(out, "| operations | {} |", run.operations);
    let _ = writeln!(out, "| simulated time | {} ms |", run.simulated_ms);
    let _ = writeln!(
        out,
        "| fault kinds on | {} |",
        join_or_none(&run.enabled_faults)
    );
    let _ = writeln!(
        out,
        "| fault points on | {} |",
        join_or_none(&run.fault_points)
    );
    let _ = writeln!(out, "| reproduce | `{}` |\n", run.repro);
    let first_violation = run.anomalies.iter().find(|a| a.violation);
    if let Some(a) = first_violation {
        let _ = writeln!(out, "## The anomaly\n\n**{}**: {}\n", a.kind, a.explanation);
        let _ = writeln!(out, "Operations involved:\n");
        for id in &a.ops {
            if let Some(op) = run.ops.iter().find(|o| o.id == *id) {
                let _ = writeln!(out, "- `#{}` {}", op.id, op.summary);
            }
        }
        out.push('\n');
    }
    let _ = writeln!(out, "## Anomalies and observations\n");
    if run.anomalies.is_empty() {
        let _ = writeln!(out, "None.\n");
    } else {
        let _ = writeln!(
            out,
            "| kind | violation | key | explanation |\n|---|---|---|---|"
        );
        for a in &run.anomalies {
            let _ = writeln!(
                out,
                "| {} | {} | {} | {} |",
                a.kind,
                if a.violation { "yes" } else { "no (permitted)" },
                md_cell(a.key.as_deref().unwrap_or("-")),
                md_cell(&a.explanation)
            );
        }
        out.push('\n');
    }
    let _ = writeln!(out, "## Faults\n");
    if run.faults.is_empty() {
        let _ = writeln!(out, "None.\n");
    } else {
        let _ = writeln!(
            out,
            "| from (ms) | to (ms) | kind | target | detail |\n|---|---|---|---|---|"
        );
        for f in &run.faults {
            let _ = writeln!(
                out,
                "| {} | {} | {} | {} | {} |",
                f.start_ms,
                f.end_ms,
                f.kind,
                md_cell(&f.target),
                md_cell(&f.detail)
            );
        }
        out.push('\n');
    }
    if !run.leaders.is_empty() {
        let _ = writeln!(
            out,
            "## Leaders\n\n| partition | leaders in order (node, term, from ms) |\n|---|---|"
        );
        let mut groups: Vec<&str> = run.leaders.iter().map(|l| l.group.as_str()).collect();
        groups.dedup();
        for group in groups {
            let chain: Vec<String> = run
                .leaders
                .iter()
                .filter(|l| l.group == group)
                .map(|l| format!("{} (term {}, {} ms)", l.node, l.term, l.start_ms))
                .collect();
            let _ = writeln!(
                out,
                "| {} | {} |",
                md_cell(group),
                md_cell(&chain.join(" → "))
            );
        }
        out.push('\n');
    }
    let _ = writeln!(out, "## Counts\n\n| | |\n|---|---|");
    for (k, v) in &run.stats {
        let _ = writeln!(out, "| {k} | {v} |");
    }
    out
}

fn join_or_none(items: &[String]) -> String {
    if items.is_empty() {
        "none".into()
    } else {
        items.join(", ")
    }
}

/// Operations drawn in the timeline at most; around the first anomaly when there are more.
pub const TIMELINE_OPS: usize = 4_000;

const LANE: f64 = 16.0;
const LEFT: f64 = 170.0;
const WIDTH: f64 = 1100.0;

fn x_of(t_ns: u64, span_ns: u64) -> f64 {
    LEFT + (t_ns as f64 / span_ns.max(1) as f64) * (WIDTH - LEFT - 10.0)
}

fn timeline(run: &Run) -> String {
    let span_ns = (run.simulated_ms.max(1)) * 1_000_000;
    let flagged: std::collections::BTreeSet<usize> = run
        .anomalies
        .iter()
        .flat_map(|a| a.ops.iter().copied())
        .collect();
    // Choose the operations to draw.
    let mut ops: Vec<&OpView> = run.ops.iter().collect();
    let mut note = String::new();
    if ops.len() > TIMELINE_OPS {
        let center = run
            .anomalies
            .iter()
            .find(|a| a.violation)
            .or(run.anomalies.first())
            .map_or(0, |a| a.time_ns);
        ops.sort_by_key(|o| o.start_ns.abs_diff(center));
        ops.truncate(TIMELINE_OPS);
        ops.sort_by_key(|o| o.id);
        note = format!(
            "Showing the {TIMELINE_OPS} operations nearest the first anomaly of {}.",
            run.ops.len()
        );
    }
    let mut lanes: Vec<String> = Vec::new();
    for f in &run.faults {
        if !lanes.contains(&f.target) {
            lanes.push(f.target.clone());
        }
    }
    for l in &run.leaders {
        if !lanes.contains(&l.group) {
            lanes.push(l.group.clone());
        }
    }
    let fault_lanes = lanes.len();
    let mut processes: Vec<&str> = ops.iter().map(|o| o.process.as_str()).collect();
    processes.sort_by_key(|p| (p.len(), p.to_string()));
    processes.dedup();
    lanes.extend(processes.iter().map(|p| p.to_string()));
    let height = 30.0 + LANE * lanes.len() as f64 + 20.0;
    let mut svg = String::new();
    let _ = write!(
        svg,
        r#"<svg class="timeline" xmlns="http://www.w3.org/2000/svg" width="{WIDTH}" height="{height}" viewBox="0 0 {WIDTH} {height}" font-family="sans-serif" font-size="10">"#
    );
    // Time axis: ten ticks.
    for i in 0..=10 {
        let t = span_ns / 10 * i;
        let x = x_of(t, span_ns);
        let _ = write!(
            svg,
            r##"<line x1="{x:.1}" y1="20" x2="{x:.1}" y2="{:.1}" stroke="#ddd"/><text x="{x:.1}" y="14" text-anchor="middle">{:.1} s</text>"##,
            height - 20.0,
            t as f64 / 1e9
        );
    }
    for (i, lane) in lanes.iter().enumerate() {
        let y = 24.0 + LANE * i as f64;
        let _ = write!(
            svg,
            r#"<text x="4" y="{:.1}">{}</text>"#,
            y + 10.0,
            esc(lane)
        );
    }
    for f in &run.faults {
        let i = lanes.iter().position(|l| *l == f.target).unwrap_or(0);
        let y = 24.0 + LANE * i as f64;
        let x1 = x_of(f.start_ms * 1_000_000, span_ns);
        let x2 = x_of(f.end_ms * 1_000_000, span_ns).max(x1 + 1.0);
        let _ = write!(
            svg,
            r##"<rect class="fault" x="{x1:.1}" y="{y:.1}" width="{:.1}" height="12" fill="#c9b3e6"><title>{} {} ({} ms to {} ms)</title></rect>"##,
            x2 - x1,
            esc(&f.kind),
            esc(&f.detail),
            f.start_ms,
            f.end_ms
        );
    }
    let mut leader_nodes: Vec<&str> = Vec::new();
    for l in &run.leaders {
        if !leader_nodes.contains(&l.node.as_str()) {
            leader_nodes.push(&l.node);
        }
        let colour = NODE_COLOURS
            [leader_nodes.iter().position(|n| *n == l.node).unwrap_or(0) % NODE_COLOURS.len()];
        let i = lanes.iter().position(|g| *g == l.group).unwrap_or(0);
        let y = 24.0 + LANE * i as f64;
        let x1 = x_of(l.start_ms * 1_000_000, span_ns);
        let x2 = x_of(l.end_ms * 1_000_000, span_ns).max(x1 + 1.0);
        let _ = write!(
            svg,
            r##"<rect class="leader" x="{x1:.1}" y="{:.1}" width="{:.1}" height="8" fill="{colour}" fill-opacity="0.55" stroke="#ffffff" stroke-width="0.5"><title>{} led by {} (term {}) from {} ms to {} ms</title></rect>"##,
            y + 2.0,
            x2 - x1,
            esc(&l.group),
            esc(&l.node),
            l.term,
            l.start_ms,
            l.end_ms
        );
    }
    for op in &ops {
        let i = fault_lanes + processes.iter().position(|p| *p == op.process).unwrap_or(0);
        let y = 24.0 + LANE * i as f64;
        let x1 = x_of(op.start_ns, span_ns);
        let color = match (flagged.contains(&op.id), op.outcome.as_str()) {
            (true, _) => "#d62728",
            (_, "ok") => "#2ca02c",
            (_, "fail") => "#ff7f0e",
            _ => "#999999",
        };
        // An unknown outcome: a bar while the client waited, then a dashed line to the end of
        // the run (it may still take effect).
        let waited = op.end_ns.or(op.gave_up_ns).unwrap_or(span_ns);
        let x2 = x_of(waited, span_ns).max(x1 + 1.0);
        if op.end_ns.is_none() {
            let _ = write!(
                svg,
                r##"<line class="pending" x1="{x2:.1}" y1="{y:.1}" x2="{:.1}" y2="{y:.1}" stroke="{color}" stroke-dasharray="2,3"/>"##,
                x_of(span_ns, span_ns),
                y = y + 6.0,
            );
        }
        let _ = write!(
            svg,
            r#"<rect class="op" x="{x1:.1}" y="{:.1}" width="{:.1}" height="8" fill="{color}"><title>#{} {}</title></rect>"#,
            y + 2.0,
            x2 - x1,
            op.id,
            esc(&op.summary)
        );
    }
    svg.push_str("</svg>");
    if !note.is_empty() {
        svg.push_str(&format!("<p class=\"note\">{}</p>", esc(&note)));
    }
    svg
}

fn latency_plot(run: &Run) -> String {
    let span_ns = (run.simulated_ms.max(1)) * 1_000_000;
    let points: Vec<(u64, u64)> = run
        .ops
        .iter()
        .filter(|o| o.outcome == "ok")
        .filter_map(|o| Some((o.start_ns, o.end_ns? - o.start_ns)))
        .collect();
    let max = points.iter().map(|p| p.1).max().unwrap_or(1).max(1);
    let h = 200.0;
    let mut svg = format!(
        r#"<svg class="latency" xmlns="http://www.w3.org/2000/svg" width="{WIDTH}" height="{}" font-family="sans-serif" font-size="10">"#,
        h + 30.0
    );
    let _ = write!(
        svg,
        r#"<text x="4" y="14">latency (max {:.1} ms)</text>"#,
        max as f64 / 1e6
    );
    let step = (points.len() / 5_000).max(1);
    for (start, latency) in points.iter().step_by(step) {
        let x = x_of(*start, span_ns);
        let y = 20.0 + h - (*latency as f64 / max as f64) * h;
        let _ = write!(
            svg,
            r##"<circle cx="{x:.1}" cy="{y:.1}" r="1.5" fill="#1f77b4"/>"##
        );
    }
    svg.push_str("</svg>");
    svg
}

fn throttle_plot(run: &Run) -> String {
    let buckets = 50usize;
    let span_ns = (run.simulated_ms.max(1)) * 1_000_000;
    let mut counts = vec![0u64; buckets];
    for o in &run.ops {
        if matches!(
            o.error.as_deref(),
            Some("ProvisionedThroughputExceededException" | "ThrottlingException")
        ) {
            let b = ((o.start_ns as u128 * buckets as u128) / span_ns as u128) as usize;
            counts[b.min(buckets - 1)] += 1;
        }
    }
    let max = counts.iter().copied().max().unwrap_or(0).max(1);
    let h = 80.0;
    let mut svg = format!(
        r#"<svg class="throttles" xmlns="http://www.w3.org/2000/svg" width="{WIDTH}" height="{}" font-family="sans-serif" font-size="10">"#,
        h + 30.0
    );
    let total: u64 = counts.iter().sum();
    let _ = write!(
        svg,
        r#"<text x="4" y="14">throttled requests ({total} in all, max {max} per bar)</text>"#
    );
    let w = (WIDTH - LEFT - 10.0) / buckets as f64;
    for (i, c) in counts.iter().enumerate() {
        let bh = (*c as f64 / max as f64) * h;
        let _ = write!(
            svg,
            r##"<rect x="{:.1}" y="{:.1}" width="{:.1}" height="{bh:.1}" fill="#ff7f0e"/>"##,
            LEFT + w * i as f64,
            20.0 + h - bh,
            (w - 1.0).max(0.5)
        );
    }
    svg.push_str("</svg>");
    svg
}

/// One self-contained HTML page for one run: summary, the anomaly in words, a timeline of
/// nodes and clients with faults and anomalous operations, latency and throttle plots.
pub fn html(run: &Run) -> String {
    let status = if run.passed { "passed" } else { "failed" };
    let mut out = String::new();
    let _ = write!(
        out,
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><title>{} seed {}: {status}</title>\n<style>body{{font-family:sans-serif;margin:2em;max-width:1200px}}table{{border-collapse:collapse}}td,th{{border:1px solid #ccc;padding:2px 8px;text-align:left}}.passed{{color:#2ca02c}}.failed{{color:#d62728}}.explanation{{background:#fff3f3;border-left:4px solid #d62728;padding:8px}}.note{{color:#666}}</style></head><body>\n",
        esc(&run.scenario),
        run.seed
    );
    let _ = writeln!(
        out,
        "<h1>{} — seed {}: <span class=\"{status}\">{status}</span></h1>",
        esc(&run.scenario),
        run.seed
    );
    if !run.description.is_empty() {
        let _ = writeln!(out, "<p>{}</p>", esc(run.description.trim()));
    }
    let _ = writeln!(out, "<table class=\"summary\">");
    for (k, v) in [
        ("verdict", run.verdict.clone()),
        ("digest", run.digest.clone()),
        ("operations", run.operations.to_string()),
        ("simulated time", format!("{} ms", run.simulated_ms)),
        ("fault kinds on", join_or_none(&run.enabled_faults)),
        ("fault points on", join_or_none(&run.fault_points)),
        ("reproduce", run.repro.clone()),
    ] {
        let _ = writeln!(out, "<tr><th>{k}</th><td>{}</td></tr>", esc(&v));
    }
    let _ = writeln!(out, "</table>");
    if let Some(a) = run.anomalies.iter().find(|a| a.violation) {
        let _ = writeln!(
            out,
            "<h2>The anomaly</h2>\n<div class=\"explanation\"><b>{}</b>: {}</div>",
            esc(a.kind.as_str()),
            esc(&a.explanation)
        );
    }
    let _ = writeln!(
        out,
        "<h2>Timeline</h2>\n<p class=\"note\">Lanes: nodes with faults (purple), partitions with their leaders (one colour per leading node; a new bar at each election), then client processes; operations green (ok), orange (failed), grey (unknown outcome: a bar while the client waited, then a dashed line, since it may still take effect), red (part of an anomaly). Hover for details.</p>"
    );
    out.push_str(&timeline(run));
    let _ = writeln!(out, "\n<h2>Latency</h2>");
    out.push_str(&latency_plot(run));
    let _ = writeln!(out, "\n<h2>Throttling</h2>");
    out.push_str(&throttle_plot(run));
    let _ = writeln!(out, "\n<h2>Anomalies and observations</h2>");
    if run.anomalies.is_empty() {
        let _ = writeln!(out, "<p>None.</p>");
    } else {
        let _ = writeln!(
            out,
            "<table class=\"anomalies\"><tr><th>kind</th><th>violation</th><th>key</th><th>explanation</th></tr>"
        );
        for a in &run.anomalies {
            let _ = writeln!(
                out,
                "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
                esc(&a.kind),
                if a.violation { "yes" } else { "no (permitted)" },
                esc(a.key.as_deref().unwrap_or("-")),
                esc(&a.explanation)
            );
        }
        let _ = writeln!(out, "</table>");
    }
    let _ = writeln!(out, "<h2>Counts</h2>\n<table class=\"stats\">");
    for (k, v) in &run.stats {
        let _ = writeln!(out, "<tr><th>{}</th><td>{v}</td></tr>", esc(k));
    }
    let _ = writeln!(out, "</table>\n</body></html>");
    out
}

/// JUnit XML for a set of runs: one test case per scenario and seed.
pub fn junit(suite: &str, runs: &[Run]) -> String {
    let failures = runs.iter().filter(|r| !r.passed).count();
    let time: f64 = runs.iter().map(|r| r.wall_ms as f64 / 1000.0).sum();
    let mut out = String::new();
    let _ = writeln!(out, "<?xml version=\"1.0\" encoding=\"UTF-8\"?>");
    let _ = writeln!(
        out,
        "<testsuites name=\"{}\" tests=\"{}\" failures=\"{failures}\" time=\"{time:.3}\">",
        esc(suite),
        runs.len()
    );
    let mut scenarios: Vec<&str> = runs.iter().map(|r| r.scenario.as_str()).collect();
    scenarios.dedup();
    for scenario in scenarios {
        let cases: Vec<&Run> = runs.iter().filter(|r| r.scenario == scenario).collect();
        let _ = writeln!(
            out,
            "  <testsuite name=\"{}\" tests=\"{}\" failures=\"{}\">",
            esc(scenario),
            cases.len(),
            cases.iter().filter(|r| !r.passed).count()
        );
        for r in cases {
            let _ = write!(
                out,
                "    <testcase classname=\"{}\" name=\"seed {}\" time=\"{:.3}\"",
                esc(scenario),
                r.seed,
                r.wall_ms as f64 / 1000.0
            );
            if r.passed {
                let _ = writeln!(out, "/>");
            } else {
                let detail = r
                    .anomalies
                    .iter()
                    .find(|a| a.violation)
                    .map_or(String::new(), |a| a.explanation.clone());
                let _ = writeln!(
                    out,
                    ">\n      <failure message=\"{}\">{}\nreproduce: {}</failure>\n    </testcase>",
                    esc(&r.verdict),
                    esc(&detail),
                    esc(&r.repro)
                );
            }
        }
        let _ = writeln!(out, "  </testsuite>");
    }
    let _ = writeln!(out, "</testsuites>");
    out
}

#[cfg(test)]
mod tests;
