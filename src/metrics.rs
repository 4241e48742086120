//! `dynasim metrics`: fetches a server's `/metrics/series` and prints it as tables.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::process::ExitCode;
use std::time::Duration;

fn fetch(endpoint: &str, path: &str) -> Result<String, String> {
    let address = endpoint
        .strip_prefix("http://")
        .ok_or("the endpoint must start with http://")?
        .trim_end_matches('/');
    let mut stream =
        TcpStream::connect(address).map_err(|e| format!("cannot connect to {address}: {e}"))?;
    let _ = stream.set_read_timeout(Some(Duration::from_secs(10)));
    write!(
        stream,
        "GET {path} HTTP/1.1\r\nHost: {address}\r\nConnection: close\r\n\r\n"
    )
    .map_err(|e| e.to_string())?;
    let mut response = Vec::new();
    stream
        .read_to_end(&mut response)
        .map_err(|e| e.to_string())?;
    let text = String::from_utf8_lossy(&response);
    let (head, body) = text
        .split_once("\r\n\r\n")
        .ok_or("the server sent no HTTP response")?;
    if !head.starts_with("HTTP/1.1 200") {
        return Err(format!(
            "the server answered {}",
            head.lines().next().unwrap_or("")
        ));
    }
    Ok(body.to_string())
}

fn clock(epoch_seconds: u64) -> String {
    let minutes = epoch_seconds / 60 % 1440;
    format!("{:02}:{:02}", minutes / 60, minutes % 60)
}

/// The series page of `region` (the server's default region without one).
fn series_path(region: Option<&str>) -> String {
    match region {
        Some(region) => format!("/metrics/series?region={region}"),
        None => "/metrics/series".to_string(),
    }
}

pub fn print(endpoint: &str, only: Option<&str>, region: Option<&str>) -> ExitCode {
    let body = match fetch(endpoint, &series_path(region)) {
        Ok(body) => body,
        Err(e) => {
            eprintln!("dynasim: {e}");
            return ExitCode::FAILURE;
        }
    };
    let Ok(series) = serde_json::from_str::<serde_json::Value>(&body) else {
        eprintln!("dynasim: {endpoint} did not answer with dynasim's metrics");
        return ExitCode::FAILURE;
    };
    let empty = serde_json::Map::new();
    let tables = series["Tables"].as_object().unwrap_or(&empty);
    let mut shown = 0;
    for (name, table) in tables {
        if only.is_some_and(|o| o != name) {
            continue;
        }
        shown += 1;
        println!(
            "table {name} ({} partitions), one-minute series (UTC):",
            table["Partitions"]
        );
        println!(
            "  {:>5}  {:>10}  {:>10}  {:>9}  {:>9}  {:>9}  {:>8}  {:>8}  {:>8}",
            "min",
            "read CU",
            "write CU",
            "read thr",
            "write thr",
            "throttled",
            "items",
            "ok",
            "avg ms"
        );
        for minute in table["Minutes"].as_array().into_iter().flatten() {
            println!(
                "  {:>5}  {:>10}  {:>10}  {:>9}  {:>9}  {:>9}  {:>8}  {:>8}  {:>8.3}",
                clock(minute["Minute"].as_u64().unwrap_or(0)),
                minute["ConsumedReadCapacityUnits"],
                minute["ConsumedWriteCapacityUnits"],
                minute["ReadThrottleEvents"],
                minute["WriteThrottleEvents"],
                minute["ThrottledRequests"],
                minute["ReturnedItemCount"],
                minute["SuccessfulRequests"],
                minute["SuccessfulRequestLatencyAverageMs"]
                    .as_f64()
                    .unwrap_or(0.0),
            );
        }
        if let Some(insights) = table.get("ContributorInsights") {
            for (title, member) in [
                ("most accessed keys", "MostAccessedKeys"),
                ("most throttled keys", "MostThrottledKeys"),
            ] {
                println!("  Contributor Insights, {title}:");
                for entry in insights[member].as_array().into_iter().flatten() {
                    println!(
                        "    {:>10}  {}",
                        entry["Value"],
                        entry["Key"].as_str().unwrap_or("")
                    );
                }
            }
        }
    }
    if let Some(name) = only
        && shown == 0
    {
        eprintln!("dynasim: no table {name}");
        return ExitCode::FAILURE;
    }
    ExitCode::SUCCESS
}
