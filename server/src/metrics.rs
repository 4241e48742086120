//! `/metrics`: the engine's per-table CloudWatch-style metrics in Prometheus' text format,
//! and `/metrics/series`: the one-minute series as JSON (what `dynasim metrics` prints).

use dynasim_engine::Engine;
use dynasim_engine::capacity::metrics::{Counters, Insights, Series};
use dynasim_engine::capacity::throughput::Throughput;
use dynasim_engine::global::regions::Regions;
use std::fmt::Write;

/// Heavy hitters listed per table and kind.
const TOP_KEYS: usize = 10;

fn escape(value: &str) -> String {
    value
        .replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}

/// A partition key as Contributor Insights shows it: the text when it is text, else hex.
pub fn key_label(collection_prefix: &[u8]) -> String {
    let key = collection_prefix.get(10..).unwrap_or(collection_prefix);
    match std::str::from_utf8(key) {
        Ok(text) if !text.chars().any(char::is_control) => text.to_string(),
        _ => {
            let mut hex = String::from("0x");
            for b in key {
                let _ = write!(hex, "{b:02x}");
            }
            hex
        }
    }
}

struct Family {
    name: &'static str,
    kind: &'static str,
    help: &'static str,
    value: fn(&Counters) -> f64,
}

const FAMILIES: [Family; 11] = [
    Family {
        name: "dynasim_consumed_read_capacity_units_total",
        kind: "counter",
        help: "ConsumedReadCapacityUnits",
        value: |c| c.consumed_read_capacity_units,
    },
    Family {
        name: "dynasim_consumed_write_capacity_units_total",
        kind: "counter",
        help: "ConsumedWriteCapacityUnits",
        value: |c| c.consumed_write_capacity_units,
    },
    Family {
        name: "dynasim_read_throttle_events_total",
        kind: "counter",
        help: "ReadThrottleEvents",
        value: |c| c.read_throttle_events as f64,
    },
    Family {
        name: "dynasim_write_throttle_events_total",
        kind: "counter",
        help: "WriteThrottleEvents",
        value: |c| c.write_throttle_events as f64,
    },
    Family {
        name: "dynasim_throttled_requests_total",
        kind: "counter",
        help: "ThrottledRequests",
        value: |c| c.throttled_requests as f64,
    },
    Family {
        name: "dynasim_returned_item_count_total",
        kind: "counter",
        help: "ReturnedItemCount",
        value: |c| c.returned_item_count as f64,
    },
    Family {
        name: "dynasim_time_to_live_deleted_item_count_total",
        kind: "counter",
        help: "TimeToLiveDeletedItemCount",
        value: |c| c.time_to_live_deleted_item_count as f64,
    },
    Family {
        name: "dynasim_system_errors_total",
        kind: "counter",
        help: "SystemErrors",
        value: |c| c.system_errors as f64,
    },
    Family {
        name: "dynasim_successful_request_latency_seconds_sum",
        kind: "counter",
        help: "SuccessfulRequestLatency: total seconds of successful requests",
        value: |c| c.latency_sum_us as f64 / 1e6,
    },
    Family {
        name: "dynasim_successful_request_latency_seconds_count",
        kind: "counter",
        help: "SuccessfulRequestLatency: successful requests",
        value: |c| c.successful_requests as f64,
    },
    Family {
        name: "dynasim_replicated_write_capacity_units_total",
        kind: "counter",
        help: "Replicated write units: writes another region's replica of a global table made here",
        value: |c| c.replicated_write_capacity_units,
    },
];

/// The region a metrics page asks for (`?region=NAME`), if any.
pub fn region_asked(query: Option<&str>) -> Option<String> {
    form_urlencoded::parse(query?.as_bytes())
        .find(|(name, _)| name == "region")
        .map(|(_, value)| value.into_owned())
}

/// The engine of the region asked for, or of the server's default region. A region no
/// request named has no tables yet: `None`.
fn engine_of<'a>(regions: &'a Regions, region: Option<&str>) -> Option<&'a Engine> {
    match region {
        Some(region) => regions.engine(region),
        None => Some(regions.default_engine()),
    }
}

/// The Prometheus exposition of one region's tables ([`render_engine`]) and the replication
/// latency of its global tables towards every other region (CloudWatch publishes
/// ReplicationLatency in the source region).
pub fn render(regions: &Regions, region: Option<String>) -> String {
    let region = region.unwrap_or_else(|| regions.default_region().to_string());
    let mut out = match regions.engine(&region) {
        Some(engine) => render_engine(engine),
        None => String::new(),
    };
    let _ = writeln!(
        out,
        "# HELP dynasim_replication_latency_ms ReplicationLatency: from a write in this region to its apply in the destination (sum, count, maximum, last)"
    );
    let _ = writeln!(out, "# TYPE dynasim_replication_latency_ms gauge");
    for (table, from, to, latency) in regions.replication_latency() {
        if from != region {
            continue;
        }
        for (stat, value) in [
            ("sum", latency.sum_ms),
            ("count", latency.count),
            ("max", latency.max_ms),
            ("last", latency.last_ms),
        ] {
            let _ = writeln!(
                out,
                "dynasim_replication_latency_ms{{table=\"{}\",destination=\"{}\",stat=\"{stat}\"}} {value}",
                escape(table),
                escape(to)
            );
        }
    }
    out
}

/// The Prometheus exposition of every table's and GSI's totals, provisioned capacity,
/// partition counts, account errors and Contributor Insights.
pub fn render_engine(engine: &Engine) -> String {
    let mut out = String::new();
    let tables: Vec<_> = engine.tables().collect();
    for family in &FAMILIES {
        let _ = writeln!(out, "# HELP {} {}", family.name, family.help);
        let _ = writeln!(out, "# TYPE {} {}", family.name, family.kind);
        for table in &tables {
            let name = escape(&table.name);
            let _ = writeln!(
                out,
                "{}{{table=\"{name}\"}} {}",
                family.name,
                (family.value)(&table.metrics.table.totals)
            );
            for (index, series) in &table.metrics.indexes {
                let _ = writeln!(
                    out,
                    "{}{{table=\"{name}\",index=\"{}\"}} {}",
                    family.name,
                    escape(index),
                    (family.value)(&series.totals)
                );
            }
        }
    }
    let _ = writeln!(
        out,
        "# HELP dynasim_user_errors_total UserErrors (per account and region)"
    );
    let _ = writeln!(out, "# TYPE dynasim_user_errors_total counter");
    let _ = writeln!(
        out,
        "dynasim_user_errors_total {}",
        engine.account_metrics.totals.user_errors
    );
    for (metric, help, pick) in [
        (
            "dynasim_provisioned_read_capacity_units",
            "ProvisionedReadCapacityUnits",
            (|t: &Throughput| t.read_capacity_units) as fn(&_) -> u64,
        ),
        (
            "dynasim_provisioned_write_capacity_units",
            "ProvisionedWriteCapacityUnits",
            |t: &Throughput| t.write_capacity_units,
        ),
    ] {
        let _ = writeln!(out, "# HELP {metric} {help}");
        let _ = writeln!(out, "# TYPE {metric} gauge");
        for table in &tables {
            let name = escape(&table.name);
            let _ = writeln!(
                out,
                "{metric}{{table=\"{name}\"}} {}",
                pick(&table.throughput)
            );
            for index in table.indexes().iter().filter(|i| i.global) {
                if let Some(throughput) = &index.throughput {
                    let _ = writeln!(
                        out,
                        "{metric}{{table=\"{name}\",index=\"{}\"}} {}",
                        escape(&index.name),
                        pick(throughput)
                    );
                }
            }
        }
    }
    let _ = writeln!(out, "# HELP dynasim_partitions Partitions of the table");
    let _ = writeln!(out, "# TYPE dynasim_partitions gauge");
    for table in &tables {
        let _ = writeln!(
            out,
            "dynasim_partitions{{table=\"{}\"}} {}",
            escape(&table.name),
            table.partitions().count()
        );
    }
    let _ = writeln!(
        out,
        "# HELP dynasim_contributor_insights_key Contributor Insights: units consumed (accessed) or requests throttled, per partition key"
    );
    let _ = writeln!(out, "# TYPE dynasim_contributor_insights_key gauge");
    for table in &tables {
        let Some(insights) = &table.metrics.insights else {
            continue;
        };
        for (kind, counts) in [
            ("accessed", &insights.accessed),
            ("throttled", &insights.throttled),
        ] {
            for (key, value) in Insights::top(counts, TOP_KEYS) {
                let _ = writeln!(
                    out,
                    "dynasim_contributor_insights_key{{table=\"{}\",kind=\"{kind}\",key=\"{}\"}} {value}",
                    escape(&table.name),
                    escape(&key_label(key))
                );
            }
        }
    }
    out
}

fn counters_json(c: &Counters) -> serde_json::Value {
    let average_ms = if c.successful_requests > 0 {
        c.latency_sum_us as f64 / c.successful_requests as f64 / 1000.0
    } else {
        0.0
    };
    serde_json::json!({
        "ConsumedReadCapacityUnits": c.consumed_read_capacity_units,
        "ConsumedWriteCapacityUnits": c.consumed_write_capacity_units,
        "ReadThrottleEvents": c.read_throttle_events,
        "WriteThrottleEvents": c.write_throttle_events,
        "ThrottledRequests": c.throttled_requests,
        "ReturnedItemCount": c.returned_item_count,
        "UserErrors": c.user_errors,
        "SystemErrors": c.system_errors,
        "SuccessfulRequests": c.successful_requests,
        "TimeToLiveDeletedItemCount": c.time_to_live_deleted_item_count,
        "ReplicatedWriteCapacityUnits": c.replicated_write_capacity_units,
        "SuccessfulRequestLatencyAverageMs": average_ms,
        "SuccessfulRequestLatencyMaximumMs": c.latency_max_us as f64 / 1000.0,
    })
}

fn series_json(series: &Series) -> serde_json::Value {
    let minutes: Vec<serde_json::Value> = series
        .minutes
        .iter()
        .map(|(minute, c)| {
            let mut value = counters_json(c);
            value["Minute"] = (minute * 60).into();
            value
        })
        .collect();
    serde_json::json!({"Totals": counters_json(&series.totals), "Minutes": minutes})
}

/// Every one-minute series of the region asked for (the default region's without one), as
/// JSON; a region no request named has none.
pub fn series(regions: &Regions, region: Option<String>) -> String {
    match engine_of(regions, region.as_deref()) {
        Some(engine) => series_engine(engine),
        None => serde_json::json!({"Account": {}, "Tables": {}}).to_string(),
    }
}

/// Every one-minute series (start of the minute in epoch seconds) as JSON.
pub fn series_engine(engine: &Engine) -> String {
    let mut tables = serde_json::Map::new();
    for table in engine.tables() {
        let mut value = series_json(&table.metrics.table);
        let indexes: serde_json::Map<String, serde_json::Value> = table
            .metrics
            .indexes
            .iter()
            .map(|(name, s)| (name.clone(), series_json(s)))
            .collect();
        value["Indexes"] = indexes.into();
        value["Partitions"] = table.partitions().count().into();
        if let Some(insights) = &table.metrics.insights {
            let top = |counts| {
                Insights::top(counts, TOP_KEYS)
                    .into_iter()
                    .map(|(k, v)| serde_json::json!({"Key": key_label(k), "Value": v}))
                    .collect::<Vec<_>>()
            };
            value["ContributorInsights"] = serde_json::json!({
                "MostAccessedKeys": top(&insights.accessed),
                "MostThrottledKeys": top(&insights.throttled),
            });
        }
        tables.insert(table.name.clone(), value);
    }
    serde_json::json!({"Account": series_json(&engine.account_metrics), "Tables": tables})
        .to_string()
}
