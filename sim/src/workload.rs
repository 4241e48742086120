//! Workloads as units: each draws its next operation (step), turns it into DynamoDB requests
//! through the engine's request API, reads the responses back into history values, and names
//! the setup it needs. Checking is done by [`crate::check`] over the history they record.
//!
//! | kind | items | operations | what the checkers expect |
//! |---|---|---|---|
//! | `register` | `name/k`, attribute `v` | GetItem (strong or eventual), PutItem, conditional PutItem | per-item linearizability, no lost write, committed eventual reads |
//! | `counter` | `name/k` | UpdateItem `ADD v :d` returning UPDATED_NEW, GetItem | sum of acknowledged increments |
//! | `rmw-counter` | `name/k` | a strong read then an unconditional PutItem of value + 1 | (teaching) loses updates |
//! | `bank` | one item `name/0` with a map of balances | conditional transfers in one UpdateItem, reads | the total never changes |
//! | `scan` | `name/k` registers | PutItem, and a Scan of every partition (strong or eventual), started over when a split moved a range | per-item linearizability of what the scan saw and missed |
//! | `query` | item collections `name/c` of [`QUERY_ITEMS`] items `name/c/s` (partition key `name/c`, sort key `s`) | PutItem of one item, and a Query of a whole collection (strong or eventual) | per-item linearizability of what the query saw and missed |

use crate::scenario::Workload;
use dynasim_engine::Request;
use dynasim_engine::api::{CreateTableInput, QueryInput, WriteInput};
use rand_chacha::ChaCha8Rng;
use rand_core::{RngCore, SeedableRng};
use serde_json::{Value as Json, json};

pub const BANK_ACCOUNTS: usize = 5;
/// Items (sort keys 0..QUERY_ITEMS) in each item collection of a `query` workload.
pub const QUERY_ITEMS: usize = 4;
pub const BANK_BALANCE: i64 = 100;

/// How a request must be routed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Mode {
    /// Through the partition leader's log.
    Write,
    /// A strongly consistent read: the leader answers under its lease, or through its log.
    Strong,
    /// An eventually consistent read: any replica.
    Eventual,
}

/// One planned operation: what the history records, and the requests that carry it.
#[derive(Clone, Debug)]
pub struct Planned {
    pub f: &'static str,
    pub key: String,
    pub input: Json,
    pub consistent: Option<bool>,
    pub step: Step,
}

#[derive(Clone, Debug, PartialEq)]
pub enum Step {
    Read {
        consistent: bool,
    },
    Write(i64),
    Cas(Option<i64>, i64),
    Incr(i64),
    /// Read-modify-write: the read half (the write follows with the value read + 1).
    RmwRead,
    RmwWrite(i64),
    Transfer {
        from: usize,
        to: usize,
        amount: i64,
    },
    ReadBank {
        consistent: bool,
    },
    Scan {
        consistent: bool,
    },
    /// A Query of one item collection (`key` is the partition key).
    Query {
        consistent: bool,
    },
    /// A PutItem of one item of a collection: partition key `pk`, sort key `sk`.
    PutInCollection {
        pk: String,
        sk: i64,
        value: i64,
    },
    /// The bank's initial balances.
    Setup,
}

/// Draws one process's operations.
pub struct Generator {
    pub workload: Workload,
    rng: ChaCha8Rng,
    process: u64,
    written: u64,
    /// A read-modify-write in progress: the key and the value read.
    rmw: Option<(String, i64)>,
}

fn unit(rng: &mut ChaCha8Rng) -> f64 {
    (rng.next_u64() >> 11) as f64 / (1u64 << 53) as f64
}

impl Generator {
    pub fn new(workload: &Workload, seed: u64, process: u64) -> Generator {
        Generator {
            workload: workload.clone(),
            rng: ChaCha8Rng::seed_from_u64(seed ^ process.wrapping_mul(0x9e37_79b9_7f4a_7c15)),
            process,
            written: 0,
            rmw: None,
        }
    }

    pub fn think_ms(&mut self) -> u64 {
        let [lo, hi] = self.workload.think_ms;
        lo + self.rng.next_u64() % (hi - lo + 1)
    }

    fn key(&mut self) -> String {
        let w = &self.workload;
        let k = if unit(&mut self.rng) < w.hot_fraction {
            0
        } else {
            (self.rng.next_u64() % w.keys as u64) as usize
        };
        format!("{}/{k}", w.name)
    }

    /// A value no other write in the run uses (the checkers map values back to writes).
    fn fresh(&mut self) -> i64 {
        self.written += 1;
        (self.process as i64 + 1) * 1_000_000 + self.written as i64
    }

    /// Feeds back a completed operation's output (read-modify-write needs the value read).
    pub fn observe(&mut self, planned: &Planned, ok: bool, output: &Json) {
        if planned.step == Step::RmwRead {
            self.rmw = ok.then(|| (planned.key.clone(), output.as_i64().unwrap_or(0)));
        }
    }

    pub fn step(&mut self) -> Planned {
        let w = self.workload.clone();
        let read = unit(&mut self.rng) < w.read_fraction;
        let consistent = unit(&mut self.rng) >= w.eventual_fraction;
        match w.kind.as_str() {
            "counter" => {
                let key = self.key();
                if read {
                    read_op(key, consistent)
                } else {
                    Planned {
                        f: "incr",
                        key,
                        input: json!(1),
                        consistent: None,
                        step: Step::Incr(1),
                    }
                }
            }
            "rmw-counter" => {
                if let Some((key, value)) = self.rmw.take() {
                    return Planned {
                        f: "incr",
                        key,
                        input: json!(1),
                        consistent: None,
                        step: Step::RmwWrite(value + 1),
                    };
                }
                let key = self.key();
                Planned {
                    f: "read",
                    key,
                    input: Json::Null,
                    consistent: Some(true),
                    step: Step::RmwRead,
                }
            }
            "bank" => {
                let key = format!("{}/0", w.name);
                if read {
                    Planned {
                        f: "read-bank",
                        key,
                        input: Json::Null,
                        consistent: Some(consistent),
                        step: Step::ReadBank { consistent },
                    }
                } else {
                    let from = (self.rng.next_u64() % BANK_ACCOUNTS as u64) as usize;
                    let to =
                        (from + 1 + (self.rng.next_u64() % (BANK_ACCOUNTS as u64 - 1)) as usize)
                            % BANK_ACCOUNTS;
                    let amount = 1 + (self.rng.next_u64() % 20) as i64;
                    Planned {
                        f: "transfer",
                        key,
                        input: json!({"from": account(from), "to": account(to), "amount": amount}),
                        consistent: None,
                        step: Step::Transfer { from, to, amount },
                    }
                }
            }
            "query" => {
                let collection = self.key();
                if read {
                    return Planned {
                        f: "query",
                        key: collection,
                        input: Json::Null,
                        consistent: Some(consistent),
                        step: Step::Query { consistent },
                    };
                }
                let sk = (self.rng.next_u64() % QUERY_ITEMS as u64) as i64;
                let value = self.fresh();
                Planned {
                    f: "write",
                    key: format!("{collection}/{sk}"),
                    input: json!(value),
                    consistent: None,
                    step: Step::PutInCollection {
                        pk: collection,
                        sk,
                        value,
                    },
                }
            }
            "scan" if read => Planned {
                f: "scan",
                key: w.name.clone(),
                input: Json::Null,
                consistent: Some(consistent),
                step: Step::Scan { consistent },
            },
            _ => {
                let key = self.key();
                if read {
                    return read_op(key, consistent);
                }
                let value = self.fresh();
                if w.kind == "register" && unit(&mut self.rng) < w.cas_fraction {
                    // Expect absent or one of the recent values: some conditions hold.
                    let expected = if self.rng.next_u64().is_multiple_of(3) {
                        None
                    } else {
                        Some(value - 1 - (self.rng.next_u64() % 2) as i64)
                    };
                    Planned {
                        f: "cas",
                        key,
                        input: json!([expected, value]),
                        consistent: None,
                        step: Step::Cas(expected, value),
                    }
                } else {
                    Planned {
                        f: "write",
                        key,
                        input: json!(value),
                        consistent: None,
                        step: Step::Write(value),
                    }
                }
            }
        }
    }
}

fn read_op(key: String, consistent: bool) -> Planned {
    Planned {
        f: "read",
        key,
        input: Json::Null,
        consistent: Some(consistent),
        step: Step::Read { consistent },
    }
}

pub fn account(i: usize) -> String {
    format!("acct{i}")
}

/// The bank's setup operation.
pub fn bank_setup(workload: &Workload) -> Planned {
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

/// The CreateTable request for a workload's table (created on every replica at deployment).
pub fn create_table(workload: &Workload) -> Request {
    let mut input = json!({
        "TableName": workload.name,
        "AttributeDefinitions": [{"AttributeName": "pk", "AttributeType": "S"}],
        "KeySchema": [{"AttributeName": "pk", "KeyType": "HASH"}],
    });
    if workload.kind == "query" {
        input["AttributeDefinitions"] = json!([
            {"AttributeName": "pk", "AttributeType": "S"},
            {"AttributeName": "sk", "AttributeType": "N"},
        ]);
        input["KeySchema"] = json!([
            {"AttributeName": "pk", "KeyType": "HASH"},
            {"AttributeName": "sk", "KeyType": "RANGE"},
        ]);
    }
    if workload.write_units.is_some() || workload.read_units.is_some() {
        input["BillingMode"] = json!("PROVISIONED");
        input["ProvisionedThroughput"] = json!({
            "ReadCapacityUnits": workload.read_units.unwrap_or(1000),
            "WriteCapacityUnits": workload.write_units.unwrap_or(1000),
        });
    } else {
        input["BillingMode"] = json!("PAY_PER_REQUEST");
    }
    Request::CreateTable(
        serde_json::from_value::<CreateTableInput>(input).expect("a valid CreateTable"),
    )
}

fn write_input(value: Json) -> WriteInput {
    serde_json::from_value(value).expect("workload requests are well-formed")
}

fn n(v: i64) -> Json {
    json!({"N": v.to_string()})
}

/// The DynamoDB request carrying a planned operation, as the wire JSON an SDK would send: the
/// operation name, the body, and how it must be routed (scans: one per partition, built by
/// [`scan_request`]).
pub fn request_json(table: &str, planned: &Planned) -> (&'static str, Json, Mode) {
    let key = json!({"pk": {"S": planned.key}});
    match &planned.step {
        Step::Read { consistent } | Step::ReadBank { consistent } => (
            "GetItem",
            json!({"TableName": table, "Key": key, "ConsistentRead": consistent}),
            mode_of(*consistent),
        ),
        Step::RmwRead => request_json(
            table,
            &Planned {
                step: Step::Read { consistent: true },
                ..planned.clone()
            },
        ),
        Step::Write(v) | Step::RmwWrite(v) => (
            "PutItem",
            json!({"TableName": table, "Item": {"pk": {"S": planned.key}, "v": n(*v)}}),
            Mode::Write,
        ),
        Step::Cas(expected, v) => {
            let mut input = json!({
                "TableName": table,
                "Item": {"pk": {"S": planned.key}, "v": n(*v)},
            });
            match expected {
                None => input["ConditionExpression"] = json!("attribute_not_exists(pk)"),
                Some(e) => {
                    input["ConditionExpression"] = json!("v = :e");
                    input["ExpressionAttributeValues"] = json!({":e": n(*e)});
                }
            }
            ("PutItem", input, Mode::Write)
        }
        Step::Incr(d) => (
            "UpdateItem",
            json!({
                "TableName": table,
                "Key": key,
                "UpdateExpression": "ADD v :d",
                "ExpressionAttributeValues": {":d": n(*d)},
                "ReturnValues": "UPDATED_NEW",
            }),
            Mode::Write,
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
        Step::Scan { consistent } => (
            "Scan",
            json!({"TableName": table, "ConsistentRead": consistent}),
            mode_of(*consistent),
        ),
        Step::Query { consistent } => (
            "Query",
            json!({
                "TableName": table,
                "KeyConditionExpression": "pk = :p",
                "ExpressionAttributeValues": {":p": {"S": planned.key}},
                "ConsistentRead": consistent,
            }),
            mode_of(*consistent),
        ),
        Step::PutInCollection { pk, sk, value } => (
            "PutItem",
            json!({"TableName": table, "Item": {"pk": {"S": pk}, "sk": n(*sk), "v": n(*value)}}),
            Mode::Write,
        ),
    }
}

/// [`request_json`], decoded into the engine's request type as the service decodes it.
pub fn request(table: &str, planned: &Planned) -> (Request, Mode) {
    let (operation, body, mode) = request_json(table, planned);
    let request = match operation {
        "GetItem" => Request::GetItem(serde_json::from_value(body).expect("a valid GetItem")),
        "PutItem" => Request::PutItem(write_input(body)),
        "UpdateItem" => Request::UpdateItem(write_input(body)),
        "Query" => Request::Query(serde_json::from_value(body).expect("a valid Query")),
        _ => Request::Scan(serde_json::from_value(body).expect("a valid Scan")),
    };
    (request, mode)
}

fn mode_of(consistent: bool) -> Mode {
    if consistent {
        Mode::Strong
    } else {
        Mode::Eventual
    }
}

pub fn scan_request(table: &str, consistent: bool) -> Request {
    let input: QueryInput =
        serde_json::from_value(json!({"TableName": table, "ConsistentRead": consistent}))
            .expect("a valid Scan");
    Request::Scan(input)
}

fn number(attr: Option<&Json>) -> Option<i64> {
    attr?.get("N")?.as_str()?.parse().ok()
}

/// Reads a response (its wire JSON) into the history's output value.
pub fn output(planned: &Planned, response: &Json) -> Json {
    match &planned.step {
        Step::Read { .. } | Step::RmwRead => response.get("Item").map_or(Json::Null, |item| {
            number(item.get("v")).map_or(Json::Null, Json::from)
        }),
        Step::ReadBank { .. } => response
            .get("Item")
            .and_then(|item| item.get("b")?.get("M")?.as_object().cloned())
            .map_or(Json::Null, |m| {
                Json::Object(
                    m.iter()
                        .map(|(k, v)| (k.clone(), number(Some(v)).map_or(Json::Null, Json::from)))
                        .collect(),
                )
            }),
        Step::Incr(_) => number(response.get("Attributes").and_then(|a| a.get("v")))
            .map_or(Json::Null, Json::from),
        Step::RmwWrite(v) => json!(v),
        Step::Query { .. } => {
            let mut out = serde_json::Map::new();
            if let Some(items) = response.get("Items").and_then(Json::as_array) {
                for item in items {
                    if let (Some(pk), Some(sk), Some(v)) = (
                        item.get("pk")
                            .and_then(|p| p.get("S"))
                            .and_then(Json::as_str),
                        number(item.get("sk")),
                        number(item.get("v")),
                    ) {
                        out.insert(format!("{pk}/{sk}"), json!(v));
                    }
                }
            }
            Json::Object(out)
        }
        Step::Scan { .. } => {
            let mut out = serde_json::Map::new();
            if let Some(items) = response.get("Items").and_then(Json::as_array) {
                for item in items {
                    if let (Some(k), Some(v)) = (
                        item.get("pk")
                            .and_then(|p| p.get("S"))
                            .and_then(Json::as_str),
                        number(item.get("v")),
                    ) {
                        out.insert(k.to_string(), json!(v));
                    }
                }
            }
            Json::Object(out)
        }
        _ => planned.input.clone(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use dynasim_engine::{Config, Engine};

    fn workload(kind: &str) -> Workload {
        Workload {
            kind: kind.into(),
            name: format!("{kind}0"),
            ..Workload::default()
        }
    }

    /// Every workload's requests execute on the engine and read back.
    #[test]
    fn requests_execute_and_outputs_read_back() {
        for kind in crate::scenario::WORKLOAD_KINDS {
            let w = workload(kind);
            let mut engine = Engine::new(Config::default());
            engine.execute(create_table(&w), 0).unwrap();
            if kind == "bank" {
                let setup = bank_setup(&w);
                let (r, _) = request(&w.name, &setup);
                engine.execute(r, 1).unwrap();
            }
            let mut g = Generator::new(&w, 1, 0);
            let mut oks = 0;
            for t in 0..200 {
                let p = g.step();
                let (r, _) = request(&w.name, &p);
                let result = engine.execute(r, 10 + t);
                let ok = result.is_ok();
                let out = result
                    .map(|resp| output(&p, &serde_json::to_value(&resp).unwrap()))
                    .unwrap_or(Json::Null);
                g.observe(&p, ok, &out);
                if ok {
                    oks += 1;
                }
                if p.f == "read-bank" {
                    let total: i64 = out
                        .as_object()
                        .unwrap()
                        .values()
                        .map(|v| v.as_i64().unwrap())
                        .sum();
                    assert_eq!(total, BANK_BALANCE * BANK_ACCOUNTS as i64);
                }
            }
            assert!(oks > 100, "{kind}: {oks} of 200 succeeded");
        }
    }
}
