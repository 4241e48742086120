//! The exactness corpus (`tests/exactness/*.json`) against the service, without sockets:
//! every case goes through [`Service::handle`], the same decoding and dispatch `dynasim serve`
//! runs, and its status, `__type` and message must be exactly the corpus's. The client test
//! `tests/clients/test_exactness.py` sends the same cases over HTTP.

use dynasim_engine::Config;
use dynasim_server::{HttpResponse, Service};
use serde_json::Value;
use std::path::{Path, PathBuf};

const NOW_MS: u64 = 1_795_000_000_000;

fn corpus_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../tests/exactness")
}

fn read_json(path: &Path) -> Value {
    let text = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// The body a step or case sends: `raw_body` (text, sent as is) or `request` (JSON).
fn body_of(step: &Value) -> Vec<u8> {
    match (step.get("raw_body"), step.get("request")) {
        (Some(Value::String(raw)), _) => raw.clone().into_bytes(),
        (_, Some(request)) => serde_json::to_vec(request).expect("JSON serializes"),
        _ => b"{}".to_vec(),
    }
}

fn call(service: &Service, step: &Value) -> HttpResponse {
    let operation = step["operation"].as_str().expect("operation is a string");
    let request = dynasim_server::fuzzing::request(operation, &body_of(step));
    service.handle(&request, NOW_MS)
}

/// What the corpus compares: status, the short error name and the message.
#[derive(Debug, PartialEq)]
struct Answer {
    status: u64,
    error_type: Option<String>,
    message: Option<String>,
}

fn answer_of(response: &HttpResponse) -> (Answer, Value) {
    let body: Value = if response.body.is_empty() {
        Value::Null
    } else {
        serde_json::from_slice(&response.body).unwrap_or(Value::Null)
    };
    let error_type = body
        .get("__type")
        .and_then(Value::as_str)
        .map(|t| t.rsplit('#').next().unwrap_or(t).to_string());
    let message = body
        .get("message")
        .or_else(|| body.get("Message"))
        .and_then(Value::as_str)
        .map(str::to_string);
    let answer = Answer {
        status: u64::from(response.status),
        error_type,
        message,
    };
    (answer, body)
}

fn expected_of(case: &Value) -> Answer {
    Answer {
        status: case["status"].as_u64().expect("status is a number"),
        error_type: case.get("type").and_then(Value::as_str).map(str::to_string),
        message: case
            .get("message")
            .and_then(Value::as_str)
            .map(str::to_string),
    }
}

/// Runs a setup step, which must succeed (or answer ResourceInUseException: the table exists).
fn set_up(service: &Service, step: &Value, context: &str) {
    let response = call(service, step);
    let (answer, body) = answer_of(&response);
    assert!(
        answer.status == 200 || answer.error_type.as_deref() == Some("ResourceInUseException"),
        "{context}: setup step {step} failed: {body}"
    );
}

/// One case: its setup, its request, and a readable difference when the answer differs.
fn check_case(service: &Service, file: &str, case: &Value) -> Option<String> {
    let name = case["name"].as_str().unwrap_or("<unnamed>");
    assert!(
        case.get("source")
            .and_then(Value::as_str)
            .is_some_and(|s| !s.is_empty()),
        "{file}: case {name} has no source"
    );
    for step in case
        .get("setup")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
    {
        set_up(service, step, &format!("{file}: {name}"));
    }
    let (actual, body) = answer_of(&call(service, case));
    let expected = expected_of(case);
    let response_differs = case.get("response").is_some_and(|wanted| *wanted != body);
    let matches = actual.status == expected.status
        && (expected.status == 200
            || (actual.error_type == expected.error_type && actual.message == expected.message));
    if matches && !response_differs {
        return None;
    }
    let request = String::from_utf8_lossy(&body_of(case)).into_owned();
    Some(format!(
        "{file}: {name}\n  {} {request}\n  expected: {} {} {:?}\n  actual:   {} {} {:?}\n  body:     {body}",
        case["operation"].as_str().unwrap_or(""),
        expected.status,
        expected.error_type.as_deref().unwrap_or("-"),
        expected.message.as_deref().unwrap_or("-"),
        actual.status,
        actual.error_type.as_deref().unwrap_or("-"),
        actual.message.as_deref().unwrap_or("-"),
    ))
}

#[test]
fn corpus_answers_exactly() {
    let dir = corpus_dir();
    let service = Service::new(Config::default());
    let setup = read_json(&dir.join("setup.json"));
    for step in setup["steps"].as_array().expect("setup.json has steps") {
        set_up(&service, step, "setup.json");
    }
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .expect("tests/exactness exists")
        .map(|entry| entry.expect("directory entry").path())
        .filter(|p| p.extension().is_some_and(|e| e == "json") && !p.ends_with("setup.json"))
        .collect();
    files.sort();
    let mut failures = Vec::new();
    let mut count = 0;
    for path in &files {
        let file = path.file_name().unwrap().to_string_lossy().into_owned();
        let corpus = read_json(path);
        for case in corpus["cases"].as_array().expect("a corpus file has cases") {
            count += 1;
            failures.extend(check_case(&service, &file, case));
        }
    }
    assert!(count > 0, "the corpus has no cases");
    assert!(
        failures.is_empty(),
        "{} of {count} exactness cases differ:\n\n{}",
        failures.len(),
        failures.join("\n\n")
    );
}
