use super::*;

fn sample(passed: bool) -> Run {
    let mut run = Run {
        scenario: "teaching/stale-read".into(),
        description: "An eventually consistent read misses a write.".into(),
        seed: 7,
        passed,
        verdict: if passed {
            "ok".into()
        } else {
            "1 violation(s); first: nonlinearizable (r/1)".into()
        },
        digest: "00112233aabbccdd".into(),
        operations: 3,
        simulated_ms: 100,
        wall_ms: 12,
        repro: "dynasim repro scenarios/teaching/stale-read.toml --seed 7".into(),
        enabled_faults: vec!["crash".into()],
        fault_points: vec![],
        faults: vec![FaultSpan {
            kind: "crash".into(),
            target: "storage-us-east-1a-0".into(),
            detail: "crash".into(),
            start_ms: 20,
            end_ms: 60,
        }],
        leaders: vec![
            LeaderSpan {
                group: "r#p0".into(),
                node: "storage-us-east-1a-0".into(),
                term: 1,
                start_ms: 0,
                end_ms: 30,
            },
            LeaderSpan {
                group: "r#p0".into(),
                node: "storage-us-east-1b-0".into(),
                term: 2,
                start_ms: 30,
                end_ms: 100,
            },
        ],
        anomalies: vec![],
        ops: vec![
            OpView {
                id: 0,
                process: "process 1".into(),
                f: "write".into(),
                key: Some("r/1".into()),
                start_ns: 0,
                end_ns: Some(10_000_000),
                gave_up_ns: None,
                outcome: "ok".into(),
                error: None,
                summary: "write of 1".into(),
            },
            OpView {
                id: 2,
                process: "process 2".into(),
                f: "read".into(),
                key: Some("r/1".into()),
                start_ns: 30_000_000,
                end_ns: Some(40_000_000),
                gave_up_ns: None,
                outcome: "ok".into(),
                error: None,
                summary: "read returned nothing".into(),
            },
            OpView {
                id: 4,
                process: "process 2".into(),
                f: "write".into(),
                key: Some("r/1".into()),
                start_ns: 50_000_000,
                end_ns: Some(55_000_000),
                gave_up_ns: None,
                outcome: "fail".into(),
                error: Some("ProvisionedThroughputExceededException".into()),
                summary: "write of 2".into(),
            },
            OpView {
                id: 6,
                process: "process 1".into(),
                f: "write".into(),
                key: Some("r/1".into()),
                start_ns: 60_000_000,
                end_ns: None,
                gave_up_ns: Some(80_000_000),
                outcome: "info".into(),
                error: Some("RequestTimeout".into()),
                summary: "write of 3, client gave up".into(),
            },
        ],
        stats: vec![("operations".into(), 4), ("throttled".into(), 1)],
    };
    if !passed {
        run.anomalies.push(AnomalyView {
            kind: "nonlinearizable".into(),
            violation: true,
            key: Some("r/1".into()),
            explanation: "On item r/1, the strongly consistent read returned nothing (absent) cannot be explained.".into(),
            ops: vec![0, 2],
            time_ns: 40_000_000,
        });
    }
    run
}

/// The tag structure of an HTML page: element names in document order (numbers and text
/// drop out, so the snapshot pins the layout rather than coordinates).
fn structure(html: &str) -> String {
    let mut out = Vec::new();
    let mut rest = html;
    while let Some(i) = rest.find('<') {
        rest = &rest[i + 1..];
        let end = rest.find([' ', '>', '/']).unwrap_or(rest.len());
        let name = &rest[..end];
        if !name.is_empty() && !name.starts_with('!') {
            out.push(name.to_string());
        }
    }
    // Collapse runs of the same tag (one per operation or point).
    let mut collapsed: Vec<String> = Vec::new();
    for t in out {
        match collapsed.last_mut() {
            Some(last) if last.trim_end_matches('+') == t => {
                if !last.ends_with('+') {
                    last.push('+');
                }
            }
            _ => collapsed.push(t),
        }
    }
    collapsed.join(" ")
}

#[test]
fn markdown_of_a_failed_run() {
    insta::assert_snapshot!(markdown(&sample(false)));
}

#[test]
fn markdown_of_a_passed_run() {
    insta::assert_snapshot!(markdown(&sample(true)));
}

#[test]
fn html_structure_of_a_failed_run() {
    let page = html(&sample(false));
    assert!(page.contains("class=\"explanation\""));
    assert!(
        page.contains("#d62728"),
        "anomalous operations drawn in red"
    );
    assert_eq!(page.matches("class=\"op\"").count(), 4);
    assert_eq!(page.matches("class=\"fault\"").count(), 1);
    insta::assert_snapshot!(structure(&page));
}

#[test]
fn junit_lists_failures_with_the_repro_command() {
    let xml = junit(
        "ci",
        &[
            sample(true),
            Run {
                seed: 8,
                ..sample(false)
            },
        ],
    );
    insta::assert_snapshot!(xml);
}

#[test]
fn timeline_is_capped_near_the_anomaly() {
    let mut run = sample(false);
    run.ops = (0..TIMELINE_OPS + 500)
        .map(|i| OpView {
            id: i,
            process: format!("process {}", i % 4),
            outcome: "ok".into(),
            start_ns: i as u64 * 1000,
            end_ns: Some(i as u64 * 1000 + 500),
            ..OpView::default()
        })
        .collect();
    let page = html(&run);
    assert_eq!(page.matches("class=\"op\"").count(), TIMELINE_OPS);
    assert!(page.contains("nearest the first anomaly"));
}

#[test]
fn an_unknown_outcome_is_a_bar_until_the_client_gave_up_then_a_dashed_line() {
    let run = sample(true);
    let page = html(&run);
    // The op bar of #6 ends where the client gave up (80 ms of 100 ms); the dashed line goes
    // from there to the end of the time axis.
    let bar = page
        .split("<rect class=\"op\"")
        .find(|r| r.contains("<title>#6 "))
        .expect("the unknown-outcome op is drawn");
    let x: f64 = attr(bar, "x");
    let width: f64 = attr(bar, "width");
    let line = page
        .split("<line class=\"pending\"")
        .nth(1)
        .expect("one pending line");
    let (x1, x2): (f64, f64) = (attr(line, "x1"), attr(line, "x2"));
    assert!(
        (x + width - x1).abs() < 0.2,
        "the line starts where the bar ends"
    );
    assert!(x2 > x1 + 10.0, "and runs to the end of the run");
    assert_eq!(page.matches("class=\"pending\"").count(), 1);
}

fn attr(tag: &str, name: &str) -> f64 {
    let start = tag.find(&format!(" {name}=\"")).unwrap() + name.len() + 3;
    let rest = &tag[start..];
    rest[..rest.find('"').unwrap()].parse().unwrap()
}

#[test]
fn each_partition_gets_a_lane_with_a_bar_per_leader() {
    let page = html(&sample(true));
    assert_eq!(page.matches("class=\"leader\"").count(), 2);
    assert!(page.contains("r#p0 led by storage-us-east-1b-0 (term 2) from 30 ms to 100 ms"));
    // Two leading nodes, two colours.
    assert!(page.contains("#1f77b4") && page.contains("#17becf"));
}
