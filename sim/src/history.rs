//! Histories: every invocation and completion a client saw, with simulated times, as JSON
//! lines. The format is documented in `docs/history.md`; `dynasim check` reads any file in it,
//! including one recorded against another DynamoDB implementation.
//!
//! One event per line:
//!
//! ```json
//! {"process":3,"type":"invoke","f":"write","key":"r7","value":12,"time":1200000}
//! {"process":3,"type":"ok","f":"write","key":"r7","value":12,"time":1900000}
//! ```
//!
//! `process` is a client process (a number) or a name (`"nemesis"` for faults, `"final"` for
//! the end-of-run state); `type` is `invoke`, `ok`, `fail` (did not happen) or `info` (may or
//! may not have happened); `time` is in nanoseconds of simulated time.

use serde::{Deserialize, Serialize};
use serde_json::Value as Json;
use std::fmt;

#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(untagged)]
pub enum Process {
    Client(u64),
    Named(String),
}

impl fmt::Display for Process {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Process::Client(n) => write!(f, "process {n}"),
            Process::Named(name) => f.write_str(name),
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Kind {
    Invoke,
    Ok,
    Fail,
    Info,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Event {
    pub process: Process,
    #[serde(rename = "type")]
    pub kind: Kind,
    pub f: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub key: Option<String>,
    #[serde(default, skip_serializing_if = "Json::is_null")]
    pub value: Json,
    /// Reads: whether the read was strongly consistent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub consistent: Option<bool>,
    /// Simulated nanoseconds since the start of the run.
    pub time: u64,
    /// The node that served a read, when known (eventually consistent reads).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub node: Option<String>,
    /// The error type of a `fail` or `info` completion.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

impl Event {
    pub fn new(process: Process, kind: Kind, f: &str, time: u64) -> Event {
        Event {
            process,
            kind,
            f: f.to_string(),
            key: None,
            value: Json::Null,
            consistent: None,
            time,
            node: None,
            error: None,
        }
    }
}

/// An operation: an invocation paired with its completion.
#[derive(Clone, Debug, PartialEq)]
pub struct Op {
    /// Index of the invocation in the history (a stable id for reports).
    pub id: usize,
    pub process: Process,
    pub f: String,
    pub key: Option<String>,
    /// The invocation's value (what was asked).
    pub input: Json,
    /// The completion's value (what was returned), `Null` when none.
    pub output: Json,
    pub outcome: Kind,
    pub consistent: bool,
    pub start: u64,
    /// `None` when the operation never completed (treated as `info`).
    pub end: Option<u64>,
    /// When the client stopped waiting for an `info` operation (it may take effect later).
    pub gave_up: Option<u64>,
    pub node: Option<String>,
    pub error: Option<String>,
}

impl Op {
    pub fn end_or_max(&self) -> u64 {
        self.end.unwrap_or(u64::MAX)
    }
}

#[derive(Clone, Debug, Default, PartialEq)]
pub struct History {
    pub events: Vec<Event>,
}

#[derive(Debug)]
pub struct ParseError {
    pub line: usize,
    pub message: String,
}

impl fmt::Display for ParseError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "line {}: {}", self.line, self.message)
    }
}

impl History {
    pub fn push(&mut self, event: Event) {
        self.events.push(event);
    }

    /// The history as JSON lines (one event per line, newline-terminated).
    pub fn to_jsonl(&self) -> String {
        let mut out = String::with_capacity(self.events.len() * 96);
        for event in &self.events {
            out.push_str(&serde_json::to_string(event).expect("events serialize"));
            out.push('\n');
        }
        out
    }

    /// Parses JSON lines, reporting every malformed line (blank lines are skipped).
    pub fn from_jsonl(text: &str) -> Result<History, Vec<ParseError>> {
        let mut events = Vec::new();
        let mut errors = Vec::new();
        for (i, line) in text.lines().enumerate() {
            if line.trim().is_empty() {
                continue;
            }
            match serde_json::from_str::<Event>(line) {
                Ok(event) => events.push(event),
                Err(e) => errors.push(ParseError {
                    line: i + 1,
                    message: e.to_string(),
                }),
            }
        }
        if errors.is_empty() {
            Ok(History { events })
        } else {
            Err(errors)
        }
    }

    /// A 64-bit digest of the history's canonical text: equal digests mean equal histories.
    pub fn digest(&self) -> u64 {
        xxhash_rust::xxh3::xxh3_64(self.to_jsonl().as_bytes())
    }

    /// Pairs each invocation with its process's next completion. Events of named processes
    /// other than clients (faults, final state) are not operations.
    pub fn ops(&self) -> Vec<Op> {
        let mut ops: Vec<Op> = Vec::new();
        let mut open: std::collections::BTreeMap<Process, usize> = Default::default();
        for (i, event) in self.events.iter().enumerate() {
            match event.kind {
                Kind::Invoke => {
                    open.insert(event.process.clone(), ops.len());
                    ops.push(Op {
                        id: i,
                        process: event.process.clone(),
                        f: event.f.clone(),
                        key: event.key.clone(),
                        input: event.value.clone(),
                        output: Json::Null,
                        outcome: Kind::Info,
                        consistent: event.consistent.unwrap_or(false),
                        start: event.time,
                        end: None,
                        gave_up: None,
                        node: None,
                        error: None,
                    });
                }
                _ => {
                    if let Some(at) = open.remove(&event.process) {
                        let op = &mut ops[at];
                        op.outcome = event.kind;
                        op.output = event.value.clone();
                        op.end = (event.kind != Kind::Info).then_some(event.time);
                        op.gave_up = (event.kind == Kind::Info).then_some(event.time);
                        op.node = event.node.clone();
                        op.error = event.error.clone();
                        if let Some(c) = event.consistent {
                            op.consistent = c;
                        }
                    }
                }
            }
        }
        ops
    }

    /// Events of a named process (`"nemesis"`, `"final"`).
    pub fn named<'a>(&'a self, name: &'a str) -> impl Iterator<Item = &'a Event> + 'a {
        self.events
            .iter()
            .filter(move |e| matches!(&e.process, Process::Named(n) if n == name))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_and_pairs_operations() {
        let text = r#"{"process":1,"type":"invoke","f":"write","key":"a","value":3,"time":10}
{"process":"nemesis","type":"info","f":"crash","value":"n1","time":11}
{"process":1,"type":"info","f":"write","key":"a","value":3,"time":20,"error":"Timeout"}
{"process":2,"type":"invoke","f":"read","key":"a","consistent":true,"time":30}
{"process":2,"type":"ok","f":"read","key":"a","value":3,"time":40}
"#;
        let history = History::from_jsonl(text).unwrap();
        assert_eq!(history.to_jsonl(), text);
        let ops = history.ops();
        assert_eq!(ops.len(), 2);
        assert_eq!(ops[0].end, None, "an info completion leaves the op open");
        assert_eq!(ops[1].output, serde_json::json!(3));
        assert!(ops[1].consistent);
        assert_eq!(history.named("nemesis").count(), 1);
    }

    #[test]
    fn reports_every_bad_line() {
        let errors = History::from_jsonl("{}\nnot json\n").unwrap_err();
        assert_eq!(errors.len(), 2);
        assert_eq!(errors[1].line, 2);
    }
}
