//! The `ttl` workload: items `name/k` with a value `v` and a Time to Live attribute `exp`
//! (epoch seconds): each PutItem (`put-ttl`) gives the item a fresh value and either an
//! expiry [`SOON_S`] seconds into the run or one a day away (a write that extends the item's
//! TTL); strong and eventual GetItems. A deployment with a `ttl_sweeper` deletes expired
//! items behind the clients' backs (`ttl-delete` operations in the history), as DynamoDB's
//! TTL does. Checked by the `ttl` checker: no item deleted before its expiry, none deleted
//! after a write extended its TTL.

use super::{Generator, Mode, Planned, Step, mode_of, n, number};
use rand_core::RngCore;
use serde_json::{Value as Json, json};

/// The run's clock starts at this epoch second (`deploy::EPOCH_MS` / 1000).
pub const EPOCH_S: i64 = 1_767_225_600;

/// Seconds into the run at which a short-lived item expires.
pub const SOON_S: i64 = 1;

/// The Time to Live attribute.
pub const TTL_ATTRIBUTE: &str = "exp";

pub(super) fn step(g: &mut Generator, read: bool, consistent: bool) -> Planned {
    let key = g.key();
    if read {
        return super::register::read_op(key, consistent);
    }
    let value = g.fresh();
    let exp = if g.rng.next_u64().is_multiple_of(2) {
        EPOCH_S + SOON_S
    } else {
        EPOCH_S + 86_400
    };
    Planned {
        f: "put-ttl",
        key,
        input: json!({"v": value, "exp": exp}),
        consistent: None,
        step: Step::PutTtl { value, exp },
    }
}

/// The PutItem of a `put-ttl`.
pub(super) fn request_json(table: &str, planned: &Planned) -> (&'static str, Json, Mode) {
    match &planned.step {
        Step::PutTtl { value, exp } => {
            let item = json!({"pk": {"S": planned.key}, "v": n(*value), TTL_ATTRIBUTE: n(*exp)});
            (
                "PutItem",
                json!({"TableName": table, "Item": item}),
                Mode::Write,
            )
        }
        Step::Read { consistent } => (
            "GetItem",
            json!({"TableName": table, "Key": {"pk": {"S": planned.key}}, "ConsistentRead": consistent}),
            mode_of(*consistent),
        ),
        other => unreachable!("not a ttl step: {other:?}"),
    }
}

/// The expiry (epoch seconds) of a DynamoDB JSON item, if it has one.
pub fn expiry(item: &Json) -> Option<i64> {
    number(item.get(TTL_ATTRIBUTE))
}

/// The expiry a `put-ttl` operation's input wrote.
pub fn written_expiry(input: &Json) -> Option<i64> {
    input.get("exp")?.as_i64()
}
