//! The `txn-bank` workload: the bank on transactions. Each account is an item of its own,
//! `name/acct{i}` (attribute `b`, its balance), set up by the first process with one
//! TransactWriteItems of [`BANK_ACCOUNTS`] Puts; a transfer is a TransactWriteItems of two
//! Updates (the debit conditional on the balance covering it), a read is a TransactGetItems
//! of every account. The history records them as the bank's operations (`write`, `transfer`,
//! `read-bank`) on the key `name/bank`, so the `bank` checker judges them: every read sums to
//! the total and no balance is negative, which holds only if transfers are atomic across
//! items and reads are serializable.

use super::bank::{BANK_ACCOUNTS, BANK_BALANCE, account, draw_transfer};
use super::{Generator, Planned, Step, n, number};
use crate::scenario::Workload;
use serde_json::{Value as Json, json};

/// One operation of the transactional bank.
#[derive(Clone, Debug, PartialEq)]
pub enum BankTxn {
    /// The initial balances, every account at once.
    Setup,
    Transfer {
        from: usize,
        to: usize,
        amount: i64,
    },
    /// A read of every account in one TransactGetItems.
    Read,
}

fn key(workload: &Workload) -> String {
    format!("{}/bank", workload.name)
}

fn item_key(table: &str, i: usize) -> Json {
    json!({"pk": {"S": format!("{table}/{}", account(i))}})
}

pub(super) fn step(g: &mut Generator, read: bool) -> Planned {
    let key = key(&g.workload);
    if read {
        return read_all(key);
    }
    let (from, to, amount) = draw_transfer(g);
    Planned {
        f: "transfer",
        key,
        input: json!({"from": account(from), "to": account(to), "amount": amount}),
        consistent: None,
        step: Step::BankTxn(BankTxn::Transfer { from, to, amount }),
    }
}

fn read_all(key: String) -> Planned {
    Planned {
        f: "read-bank",
        key,
        input: Json::Null,
        consistent: Some(true),
        step: Step::BankTxn(BankTxn::Read),
    }
}

/// The initial balances (the `bank` checker takes the total from this operation's input).
pub(super) fn setup(workload: &Workload) -> Planned {
    let balances: serde_json::Map<String, Json> = (0..BANK_ACCOUNTS)
        .map(|i| (account(i), json!(BANK_BALANCE)))
        .collect();
    Planned {
        f: "write",
        key: key(workload),
        input: Json::Object(balances),
        consistent: None,
        step: Step::BankTxn(BankTxn::Setup),
    }
}

pub(super) fn final_reads(w: &Workload) -> Vec<Planned> {
    vec![read_all(key(w))]
}

/// The transaction carrying a step: TransactWriteItems (setup, transfer) or TransactGetItems.
pub(super) fn request_json(table: &str, step: &BankTxn) -> (&'static str, Json) {
    match *step {
        BankTxn::Setup => {
            // Unconditional Puts: setup is retried until it succeeds, and a retry after an
            // attempt whose outcome was unknown must not fail on the items it wrote.
            let puts: Vec<Json> = (0..BANK_ACCOUNTS)
                .map(|i| {
                    let mut item = item_key(table, i);
                    item["b"] = n(BANK_BALANCE);
                    json!({"Put": {"TableName": table, "Item": item}})
                })
                .collect();
            ("TransactWriteItems", json!({"TransactItems": puts}))
        }
        BankTxn::Transfer { from, to, amount } => {
            let debit = json!({"Update": {
                "TableName": table,
                "Key": item_key(table, from),
                "UpdateExpression": "SET b = b - :n",
                "ConditionExpression": "b >= :n",
                "ExpressionAttributeValues": {":n": n(amount)},
                "ReturnValuesOnConditionCheckFailure": "ALL_OLD",
            }});
            let credit = json!({"Update": {
                "TableName": table,
                "Key": item_key(table, to),
                "UpdateExpression": "SET b = b + :n",
                "ConditionExpression": "attribute_exists(b)",
                "ExpressionAttributeValues": {":n": n(amount)},
            }});
            (
                "TransactWriteItems",
                json!({"TransactItems": [debit, credit]}),
            )
        }
        BankTxn::Read => {
            let gets: Vec<Json> = (0..BANK_ACCOUNTS)
                .map(|i| json!({"Get": {"TableName": table, "Key": item_key(table, i)}}))
                .collect();
            ("TransactGetItems", json!({"TransactItems": gets}))
        }
    }
}

/// A read's balances by account (null when an account is missing: before setup); a write's
/// output is its input.
pub(super) fn output(planned: &Planned, step: &BankTxn, response: &Json) -> Json {
    if *step != BankTxn::Read {
        return planned.input.clone();
    }
    let Some(responses) = response.get("Responses").and_then(Json::as_array) else {
        return Json::Null;
    };
    let mut balances = serde_json::Map::new();
    for (i, r) in responses.iter().enumerate() {
        let Some(b) = number(r.get("Item").and_then(|item| item.get("b"))) else {
            return Json::Null;
        };
        balances.insert(account(i), json!(b));
    }
    Json::Object(balances)
}
