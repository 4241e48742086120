//! Workloads as units, one file per kind, registered in [`WORKLOAD_KINDS`]: each draws its next
//! operation (step), turns it into DynamoDB requests through the engine's request API, reads
//! the responses back into history values, and names its setup, its final reads and the item
//! model the checkers judge it by. Checking is done by [`crate::checkers`] over the history
//! they record.
//!
//! | kind | items | operations | what the checkers expect |
//! |---|---|---|---|
//! | `register` | `name/k`, attribute `v` | GetItem (strong or eventual), PutItem, conditional PutItem | per-item linearizability, no lost write, committed eventual reads |
//! | `counter` | `name/k` | UpdateItem `ADD v :d` returning UPDATED_NEW, GetItem | sum of acknowledged increments |
//! | `rmw-counter` | `name/k` | a strong read then an unconditional PutItem of value + 1 | (teaching) loses updates |
//! | `bank` | one item `name/0` with a map of balances | conditional transfers in one UpdateItem, reads | the total never changes |
//! | `scan` | `name/k` registers | PutItem, and a Scan of every partition (strong or eventual), started over when a split moved a range | per-item linearizability of what the scan saw and missed |
//! | `ttl` | `name/k`, attributes `v` and `exp` (Time to Live, epoch seconds) | PutItem of a fresh value expiring soon or in a day (`put-ttl`), GetItem; a deployment's `ttl_sweeper` deletes expired items (`ttl-delete`) | no item deleted before its expiry or after a write extended it (checker `ttl`) |
//! | `query` | item collections `name/c` of [`QUERY_ITEMS`](query::QUERY_ITEMS) items `name/c/s` (partition key `name/c`, sort key `s`) | PutItem of one item, and a Query of a whole collection (strong or eventual); with `index = true`, also eventually consistent Queries of the GSI [`INDEX`] (`g`, the value's group) on every partition | per-item linearizability of what the query saw and missed; what the index returned was written and is under its value's group; the final index equals the final table (checker `index`) |
//! | `txn-bank` | one item per account `name/acct{i}` (attribute `b`) | transfers as a TransactWriteItems of two Updates (the debit conditional), reads as a TransactGetItems of every account (to the deployment's coordinators), recorded on the key `name/bank` | the total never changes (checker `bank`) |
//! | `list-append` | list items `name/k` (attribute `l`) | TransactWriteItems of one to three appends, TransactGetItems of one to three reads (to the deployment's coordinators), and single appends as a plain UpdateItem, each a `txn` operation | serializability (checker `transactions`) |

mod bank;
mod counter;
pub mod list_append;
mod query;
mod register;
mod rmw_counter;
mod scan;
pub mod ttl;
mod txn_bank;

pub use bank::{BANK_ACCOUNTS, BANK_BALANCE, account};
pub use query::{INDEX, QUERY_ITEMS, group_key, index_group, value_group};
pub use scan::scan_request;

use crate::checkers::Model;
use crate::scenario::Workload;
use dynasim_engine::Request;
use dynasim_engine::api::{CreateTableInput, WriteInput};
use rand_chacha::ChaCha8Rng;
use rand_core::{RngCore, SeedableRng};
use serde::Serialize;
use serde_json::{Value as Json, json};

/// A workload kind, as scenario files name it in `[[workload]] kind`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum WorkloadKind {
    Register,
    Counter,
    Bank,
    Scan,
    RmwCounter,
    Query,
    Ttl,
    ListAppend,
    TxnBank,
}

/// Every workload kind.
pub const WORKLOAD_KINDS: [WorkloadKind; 9] = [
    WorkloadKind::Register,
    WorkloadKind::Counter,
    WorkloadKind::Bank,
    WorkloadKind::Scan,
    WorkloadKind::RmwCounter,
    WorkloadKind::Query,
    WorkloadKind::Ttl,
    WorkloadKind::ListAppend,
    WorkloadKind::TxnBank,
];

impl WorkloadKind {
    pub fn name(self) -> &'static str {
        match self {
            WorkloadKind::Register => "register",
            WorkloadKind::Counter => "counter",
            WorkloadKind::Bank => "bank",
            WorkloadKind::Scan => "scan",
            WorkloadKind::RmwCounter => "rmw-counter",
            WorkloadKind::Query => "query",
            WorkloadKind::Ttl => "ttl",
            WorkloadKind::ListAppend => "list-append",
            WorkloadKind::TxnBank => "txn-bank",
        }
    }

    pub fn parse(name: &str) -> Option<WorkloadKind> {
        WORKLOAD_KINDS.into_iter().find(|k| k.name() == name)
    }

    /// The next operation of a process (`read` and `consistent` are drawn for every kind).
    fn step(self, g: &mut Generator, read: bool, consistent: bool) -> Planned {
        match self {
            WorkloadKind::Register => register::step(g, read, consistent),
            WorkloadKind::Counter => counter::step(g, read, consistent),
            WorkloadKind::Bank => bank::step(g, read, consistent),
            WorkloadKind::Scan => scan::step(g, read, consistent),
            WorkloadKind::RmwCounter => rmw_counter::step(g),
            WorkloadKind::Query => query::step(g, read, consistent),
            WorkloadKind::Ttl => ttl::step(g, read, consistent),
            WorkloadKind::ListAppend => list_append::step(g, read),
            WorkloadKind::TxnBank => txn_bank::step(g, read),
        }
    }

    /// The operation the workload's first process performs (until it succeeds) before any
    /// other.
    pub fn setup(self, workload: &Workload) -> Option<Planned> {
        match self {
            WorkloadKind::Bank => Some(bank::setup(workload)),
            WorkloadKind::TxnBank => Some(txn_bank::setup(workload)),
            _ => None,
        }
    }

    /// The strongly consistent reads of the final state, after the clients stopped.
    pub fn final_reads(self, workload: &Workload) -> Vec<Planned> {
        match self {
            WorkloadKind::Bank => bank::final_reads(workload),
            WorkloadKind::Query => query::final_reads(workload),
            WorkloadKind::ListAppend => list_append::final_reads(workload),
            WorkloadKind::TxnBank => txn_bank::final_reads(workload),
            _ => register::final_reads(workload),
        }
    }

    /// The eventually consistent reads of every value group of the index, after the replicas
    /// converged (none for a workload without an index).
    pub fn final_index_reads(self, workload: &Workload) -> Vec<Planned> {
        match self {
            WorkloadKind::Query => query::final_index_reads(workload),
            _ => Vec::new(),
        }
    }

    /// What the checkers take its items for (which decides the checkers that judge them).
    pub fn model(self) -> Model {
        match self {
            WorkloadKind::Register
            | WorkloadKind::Scan
            | WorkloadKind::Query
            | WorkloadKind::ListAppend => Model::Register,
            WorkloadKind::Counter | WorkloadKind::RmwCounter => Model::Counter,
            WorkloadKind::Bank | WorkloadKind::TxnBank => Model::Bank,
            WorkloadKind::Ttl => Model::Ttl,
        }
    }

    /// Whether the table has a sort key `sk` (a number) besides the partition key `pk`.
    pub fn sort_key(self) -> bool {
        self == WorkloadKind::Query
    }

    /// Whether only the wire transport can carry it (a scan addresses partitions one by one).
    pub fn wire_only(self) -> bool {
        matches!(self, WorkloadKind::Scan)
    }

    /// Whether its operations are transactions (which go to the deployment's coordinators).
    pub fn transactional(self) -> bool {
        matches!(self, WorkloadKind::ListAppend | WorkloadKind::TxnBank)
    }
}

/// The attribute every workload's table uses as its partition key (a string).
pub const PARTITION_KEY: &str = "pk";

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
    /// A PutItem of one item of a collection: partition key `pk`, sort key `sk`, and with
    /// an index of `index_groups` value groups (and whether it is sparse), the index key `g`.
    PutInCollection {
        pk: String,
        sk: i64,
        value: i64,
        index_groups: Option<(usize, bool)>,
    },
    /// An eventually consistent Query of value group `group` of the index, on every partition.
    IndexQuery {
        group: u64,
    },
    /// The bank's initial balances.
    Setup,
    /// A PutItem of a fresh value with the Time to Live attribute `exp` (epoch seconds).
    PutTtl {
        value: i64,
        exp: i64,
    },
    /// A transaction of appends or reads (`single`: one append as a plain UpdateItem).
    Txn {
        ops: Vec<list_append::Micro>,
        single: bool,
    },
    /// An operation of the transactional bank.
    BankTxn(txn_bank::BankTxn),
}

impl Step {
    /// Whether the step is a transaction (sent to a coordinator, not to a router).
    pub fn transaction(&self) -> bool {
        matches!(self, Step::Txn { single: false, .. } | Step::BankTxn(_))
    }
}

/// Draws one process's operations.
pub struct Generator {
    pub workload: Workload,
    rng: ChaCha8Rng,
    process: u64,
    written: u64,
    /// A read-modify-write in progress: the key and the value read.
    rmw: Option<(String, i64)>,
    /// list-append: the items still to read, each with a GetItem, before the next draw.
    gets: std::collections::VecDeque<String>,
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
            gets: Default::default(),
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
        if let Some(key) = self.gets.pop_front() {
            return list_append::get(key);
        }
        let read = unit(&mut self.rng) < self.workload.read_fraction;
        let consistent = unit(&mut self.rng) >= self.workload.eventual_fraction;
        self.workload.kind.step(self, read, consistent)
    }
}

/// The CreateTable request for a workload's table (created on every replica at deployment).
pub fn create_table(workload: &Workload) -> Request {
    Request::CreateTable(
        serde_json::from_value::<CreateTableInput>(create_table_json(workload))
            .expect("a valid CreateTable"),
    )
}

/// [`create_table`] as the wire JSON an SDK would send.
pub fn create_table_json(workload: &Workload) -> Json {
    let mut input = json!({
        "TableName": workload.name,
        "AttributeDefinitions": [{"AttributeName": PARTITION_KEY, "AttributeType": "S"}],
        "KeySchema": [{"AttributeName": PARTITION_KEY, "KeyType": "HASH"}],
    });
    if workload.kind.sort_key() {
        input["AttributeDefinitions"] = json!([
            {"AttributeName": PARTITION_KEY, "AttributeType": "S"},
            {"AttributeName": "sk", "AttributeType": "N"},
        ]);
        input["KeySchema"] = json!([
            {"AttributeName": PARTITION_KEY, "KeyType": "HASH"},
            {"AttributeName": "sk", "KeyType": "RANGE"},
        ]);
    }
    if workload.index {
        input["AttributeDefinitions"]
            .as_array_mut()
            .expect("a list")
            .push(json!({"AttributeName": "g", "AttributeType": "S"}));
        input["GlobalSecondaryIndexes"] = json!([{
            "IndexName": INDEX,
            "KeySchema": [{"AttributeName": "g", "KeyType": "HASH"}],
            "Projection": {"ProjectionType": "ALL"},
        }]);
    }
    if workload.provisioned() {
        input["BillingMode"] = json!("PROVISIONED");
        input["ProvisionedThroughput"] = json!({
            "ReadCapacityUnits": workload.read_units.unwrap_or(1000),
            "WriteCapacityUnits": workload.write_units.unwrap_or(1000),
        });
        if workload.index {
            input["GlobalSecondaryIndexes"][0]["ProvisionedThroughput"] =
                input["ProvisionedThroughput"].clone();
        }
    } else {
        input["BillingMode"] = json!("PAY_PER_REQUEST");
    }
    input
}

fn write_input(value: Json) -> WriteInput {
    serde_json::from_value(value).expect("workload requests are well-formed")
}

fn n(v: i64) -> Json {
    json!({"N": v.to_string()})
}

fn number(attr: Option<&Json>) -> Option<i64> {
    attr?.get("N")?.as_str()?.parse().ok()
}

fn mode_of(consistent: bool) -> Mode {
    if consistent {
        Mode::Strong
    } else {
        Mode::Eventual
    }
}

/// The DynamoDB request carrying a planned operation, as the wire JSON an SDK would send: the
/// operation name, the body, and how it must be routed (scans: one per partition, built by
/// [`scan_request`]). The step's workload builds it.
pub fn request_json(table: &str, planned: &Planned) -> (&'static str, Json, Mode) {
    match &planned.step {
        Step::Read { .. } | Step::Write(_) | Step::Cas(..) => {
            register::request_json(table, planned)
        }
        Step::Incr(d) => counter::request_json(table, planned, *d),
        Step::RmwRead | Step::RmwWrite(_) => rmw_counter::request_json(table, planned),
        Step::Transfer { .. } | Step::ReadBank { .. } | Step::Setup => {
            bank::request_json(table, planned)
        }
        Step::Scan { consistent } => scan::request_json(table, *consistent),
        Step::Query { .. } | Step::PutInCollection { .. } | Step::IndexQuery { .. } => {
            query::request_json(table, planned)
        }
        Step::PutTtl { .. } => ttl::request_json(table, planned),
        Step::Txn { ops, single } => list_append::request_json(table, ops, *single),
        Step::BankTxn(step) => {
            let (operation, body) = txn_bank::request_json(table, step);
            (operation, body, Mode::Write)
        }
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
        "TransactWriteItems" => Request::TransactWriteItems(
            serde_json::from_value(body).expect("a valid TransactWriteItems"),
        ),
        "TransactGetItems" => Request::TransactGetItems(
            serde_json::from_value(body).expect("a valid TransactGetItems"),
        ),
        _ => Request::Scan(serde_json::from_value(body).expect("a valid Scan")),
    };
    (request, mode)
}

/// Reads a response (its wire JSON) into the history's output value; a write's output is
/// what it wrote.
pub fn output(planned: &Planned, response: &Json) -> Json {
    match &planned.step {
        Step::Read { .. } | Step::RmwRead => register::read_output(response),
        Step::ReadBank { .. } => bank::output(response),
        Step::Incr(_) => counter::output(response),
        Step::RmwWrite(v) => json!(v),
        Step::Query { .. } | Step::IndexQuery { .. } => query::output(response),
        Step::Scan { .. } => scan::output(response),
        Step::Write(_) | Step::Cas(..) | Step::Transfer { .. } | Step::Setup => {
            planned.input.clone()
        }
        Step::PutInCollection { .. } | Step::PutTtl { .. } => planned.input.clone(),
        Step::Txn { ops, .. } => list_append::output(planned, ops, response),
        Step::BankTxn(step) => txn_bank::output(planned, step, response),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use dynasim_engine::{Config, Engine};

    fn workload(kind: WorkloadKind) -> Workload {
        Workload::new(kind, &format!("{}0", kind.name()))
    }

    /// Every workload's requests execute on the engine and read back.
    #[test]
    fn requests_execute_and_outputs_read_back() {
        for kind in WORKLOAD_KINDS {
            let w = workload(kind);
            let mut engine = Engine::new(Config::default());
            engine.execute(create_table(&w), 0).unwrap();
            if let Some(setup) = kind.setup(&w) {
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
            assert!(oks > 100, "{kind:?}: {oks} of 200 succeeded");
        }
    }

    /// The query workload's index: its items carry the index key of their value's group, and
    /// an index query returns exactly the items of its group (provisioned, so the index gets
    /// its own throughput).
    #[test]
    fn index_queries_return_the_items_of_their_value_group() {
        let mut w = workload(WorkloadKind::Query);
        w.index = true;
        w.write_units = Some(1000);
        w.read_units = Some(1000);
        let mut engine = Engine::new(Config::default());
        engine.execute(create_table(&w), 0).unwrap();
        let mut g = Generator::new(&w, 7, 0);
        let mut table: std::collections::BTreeMap<String, i64> = Default::default();
        let mut index_queries = 0;
        for t in 0..300 {
            let p = g.step();
            let (r, mode) = request(&w.name, &p);
            let response = engine.execute(r, 10 + t).unwrap();
            let out = output(&p, &serde_json::to_value(&response).unwrap());
            match p.step {
                Step::PutInCollection { value, .. } => {
                    table.insert(p.key.clone(), value);
                }
                Step::IndexQuery { group } => {
                    assert_eq!(mode, Mode::Eventual);
                    index_queries += 1;
                    let expected: serde_json::Map<String, Json> = table
                        .iter()
                        .filter(|(_, v)| value_group(**v, w.keys) == group)
                        .map(|(k, v)| (k.clone(), json!(v)))
                        .collect();
                    assert_eq!(out, Json::Object(expected), "group {group}");
                }
                _ => {}
            }
        }
        assert!(index_queries > 30, "{index_queries}");
        assert_eq!(query::final_index_reads(&w).len(), w.keys);
        assert!(query::final_index_reads(&workload(WorkloadKind::Query)).is_empty());
    }

    /// Each workload's declared model is the one the checkers infer from the operations it
    /// records, so the checkers it names are the ones that judge it.
    #[test]
    fn declared_models_are_the_inferred_ones() {
        for kind in WORKLOAD_KINDS {
            let w = workload(kind);
            let mut g = Generator::new(&w, 3, 0);
            let names: Vec<&'static str> = (0..200)
                .map(|_| {
                    let p = g.step();
                    g.observe(&p, true, &json!(1));
                    p.f
                })
                .collect();
            let inferred = crate::checkers::Model::of_names(names.iter().copied());
            assert_eq!(inferred, kind.model(), "{kind:?}");
        }
    }
}
