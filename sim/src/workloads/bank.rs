//! The `bank` workload: one item `name/0` holding [`BANK_ACCOUNTS`] balances, set up by the
//! first process; transfers are one conditional UpdateItem, reads (strong or eventual) read
//! the whole item. Checked: every read sums to the total and no balance is negative.

use super::{Generator, Mode, Planned, Step, mode_of, n, number};
use crate::scenario::Workload;
use rand_core::RngCore;
use serde_json::{Value as Json, json};

pub const BANK_ACCOUNTS: usize = 5;
pub const BANK_BALANCE: i64 = 100;

pub fn account(i: usize) -> String {
    format!("acct{i}")
}

pub(super) fn step(g: &mut Generator, read: bool, consistent: bool) -> Planned {
    let key = format!("{}/0", g.workload.name);
    if read {
        return read_bank(key, consistent);
    }
    let (from, to, amount) = draw_transfer(g);
    Planned {
        f: "transfer",
        key,
        input: json!({"from": account(from), "to": account(to), "amount": amount}),
        consistent: None,
        step: Step::Transfer { from, to, amount },
    }
}

/// A transfer's accounts (two different ones) and amount (1 to 20), drawn in this order by
/// both bank workloads.
pub(super) fn draw_transfer(g: &mut Generator) -> (usize, usize, i64) {
    let from = (g.rng.next_u64() % BANK_ACCOUNTS as u64) as usize;
    let to = (from + 1 + (g.rng.next_u64() % (BANK_ACCOUNTS as u64 - 1)) as usize) % BANK_ACCOUNTS;
    let amount = 1 + (g.rng.next_u64() % 20) as i64;
    (from, to, amount)
}

fn read_bank(key: String, consistent: bool) -> Planned {
    Planned {
        f: "read-bank",
        key,
        input: Json::Null,
        consistent: Some(consistent),
        step: Step::ReadBank { consistent },
    }
}

/// The initial balances, written once before any transfer.
pub(super) fn setup(workload: &Workload) -> Planned {
    let balances: serde_json::Map<String, Json> = (0..BANK_ACCOUNTS)
        .map(|i| (account(i), json!(BANK_BALANCE)))
        .collect();
    Planned {
        f: "write",
        key: format!("{}/0", workload.name),
        input: Json::Object(balances),
        consistent: None,
        step: Step::Setup,
    }
}

/// One strongly consistent read of the bank item.
pub(super) fn final_reads(w: &Workload) -> Vec<Planned> {
    vec![read_bank(format!("{}/0", w.name), true)]
}

/// The requests of the bank's steps (`Transfer`, `ReadBank`, `Setup`).
pub(super) fn request_json(table: &str, planned: &Planned) -> (&'static str, Json, Mode) {
    let key = json!({"pk": {"S": planned.key}});
    match &planned.step {
        Step::ReadBank { consistent } => (
            "GetItem",
            json!({"TableName": table, "Key": key, "ConsistentRead": consistent}),
            mode_of(*consistent),
        ),
        Step::Transfer { from, to, amount } => (
            "UpdateItem",
            json!({
                "TableName": table,
                "Key": key,
                "UpdateExpression": "SET b.#f = b.#f - :n, b.#t = b.#t + :n",
                "ConditionExpression": "b.#f >= :n",
                "ExpressionAttributeNames": {"#f": account(*from), "#t": account(*to)},
                "ExpressionAttributeValues": {":n": n(*amount)},
            }),
            Mode::Write,
        ),
        Step::Setup => {
            let balances: serde_json::Map<String, Json> = planned
                .input
                .as_object()
                .map(|m| {
                    m.iter()
                        .map(|(k, v)| (k.clone(), n(v.as_i64().unwrap_or(0))))
                        .collect()
                })
                .unwrap_or_default();
            (
                "PutItem",
                json!({"TableName": table, "Item": {"pk": {"S": planned.key}, "b": {"M": balances}}}),
                Mode::Write,
            )
        }
        other => unreachable!("not a bank step: {other:?}"),
    }
}

/// A read of the bank item: the balances by account (null: no item).
pub(super) fn output(response: &Json) -> Json {
    response
        .get("Item")
        .and_then(|item| item.get("b")?.get("M")?.as_object().cloned())
        .map_or(Json::Null, |m| {
            Json::Object(
                m.iter()
                    .map(|(k, v)| (k.clone(), number(Some(v)).map_or(Json::Null, Json::from)))
                    .collect(),
            )
        })
}
