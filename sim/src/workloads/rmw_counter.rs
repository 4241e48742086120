//! The `rmw-counter` workload (teaching): a strong read, then an unconditional PutItem of the
//! value read + 1. It loses updates under concurrency, which the counter checker shows.

use super::{Generator, Mode, Planned, Step, register};
use serde_json::{Value as Json, json};

pub(super) fn step(g: &mut Generator) -> Planned {
    if let Some((key, value)) = g.rmw.take() {
        return Planned {
            f: "incr",
            key,
            input: json!(1),
            consistent: None,
            step: Step::RmwWrite(value + 1),
        };
    }
    let key = g.key();
    Planned {
        f: "read",
        key,
        input: Json::Null,
        consistent: Some(true),
        step: Step::RmwRead,
    }
}

/// The requests of the two halves: a strong GetItem, and a PutItem of the new value.
pub(super) fn request_json(table: &str, planned: &Planned) -> (&'static str, Json, Mode) {
    match planned.step {
        Step::RmwRead => register::request_json(
            table,
            &Planned {
                step: Step::Read { consistent: true },
                ..planned.clone()
            },
        ),
        Step::RmwWrite(v) => register::put(table, planned, v),
        ref other => unreachable!("not a read-modify-write step: {other:?}"),
    }
}
