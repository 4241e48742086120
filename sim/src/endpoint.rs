//! `dynasim run SCENARIO --endpoint URL`: a scenario's workloads (not its deployment or its
//! faults) run as real concurrent clients against any DynamoDB endpoint over HTTP, on the real
//! clock; the history is recorded in the simulator's format and checked by the same checkers.
//! Pointed at `dynasim serve --profile …`, it checks the realism path (lagging replicas,
//! throttling) that no simulator run covers; pointed at another emulator, it is a consistency
//! conformance test.
//!
//! Each workload's table gets a name unique to the run (`<name>-<token>`) and is deleted at the
//! end. Requests carry a well-formed SigV4 header with a dummy signature, which emulators
//! accept; AWS itself would not.

use crate::checkers::{self, Report};
use crate::history::{Event, History, Kind, Process};
use crate::http_call::Failure;
use crate::scenario::{Scenario, Workload};
use crate::workloads::{self, Generator, Planned, Step};
use serde_json::{Value as Json, json};
use std::net::{SocketAddr, ToSocketAddrs};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// What a run against an endpoint needs besides the scenario.
#[derive(Clone, Debug)]
pub struct Options {
    /// `http://host:port`.
    pub url: String,
    /// Seeds the workload generators (the interleaving is the endpoint's and the OS's).
    pub seed: u64,
    /// How long the clients run (default: the scenario's `duration_ms` + `liveness_ms`).
    pub duration_ms: Option<u64>,
    /// How long to wait after the final reads before reading every value group of a
    /// workload's index (the endpoint gives no signal that its indexes caught up); `None`:
    /// the final index reads are skipped and the final index is not compared with the table.
    pub settle_ms: Option<u64>,
}

/// The endpoint's address from `http://host:port`.
pub fn address(url: &str) -> Result<SocketAddr, String> {
    let rest = url
        .strip_prefix("http://")
        .ok_or_else(|| format!("--endpoint {url}: only http:// endpoints are supported"))?;
    let host = rest.trim_end_matches('/');
    host.to_socket_addrs()
        .map_err(|e| format!("--endpoint {url}: {e}"))?
        .next()
        .ok_or_else(|| format!("--endpoint {url}: the host has no address"))
}

/// One keep-alive HTTP/1.1 connection to the endpoint, reopened after a failure.
struct Connection {
    address: SocketAddr,
    sender: Option<hyper::client::conn::http1::SendRequest<http_body_util::Full<bytes::Bytes>>>,
    timeout: Duration,
}

const AUTHORIZATION: &str = "AWS4-HMAC-SHA256 Credential=AKIDDYNASIMRUN/20260101/us-east-1/dynamodb/aws4_request, SignedHeaders=content-type;host;x-amz-date;x-amz-target, Signature=0000000000000000000000000000000000000000000000000000000000000000";

impl Connection {
    fn new(address: SocketAddr, timeout: Duration) -> Connection {
        Connection {
            address,
            sender: None,
            timeout,
        }
    }

    /// One call: `None` when no answer came in time (the outcome is unknown), otherwise the
    /// body or the error's type name.
    async fn call(&mut self, operation: &str, body: &Json) -> Option<Result<Json, Failure>> {
        use http_body_util::BodyExt;
        let deadline = tokio::time::Instant::now() + self.timeout;
        if self.sender.as_ref().is_none_or(|s| s.is_closed()) {
            let address = self.address;
            let connect = async move {
                let stream = tokio::net::TcpStream::connect(address).await.ok()?;
                let _ = stream.set_nodelay(true);
                let io = hyper_util::rt::TokioIo::new(stream);
                let (sender, connection) = hyper::client::conn::http1::handshake(io).await.ok()?;
                tokio::spawn(connection);
                Some(sender)
            };
            match tokio::time::timeout(self.timeout, connect).await {
                Ok(Some(sender)) => self.sender = Some(sender),
                // Nothing was sent: the request certainly did not happen.
                _ => return Some(Err(Failure::new("ConnectionRefused"))),
            }
        }
        let sender = self.sender.as_mut()?;
        let request =
            crate::http_call::request(&self.address.to_string(), AUTHORIZATION, operation, body);
        let exchange = async {
            let response = sender.send_request(request).await.ok()?;
            let status = response.status().as_u16();
            let bytes = response.into_body().collect().await.ok()?.to_bytes();
            Some((status, bytes))
        };
        let Ok(Some((status, bytes))) = tokio::time::timeout_at(deadline, exchange).await else {
            self.sender = None;
            return None;
        };
        Some(crate::http_call::answer(status, &bytes))
    }
}

/// The run's shared state: the history and the clock it is stamped with.
struct Recorder {
    started: Instant,
    history: Mutex<History>,
    stop: AtomicBool,
    ok: Vec<AtomicU64>,
}

impl Recorder {
    fn now_ns(&self) -> u64 {
        self.started.elapsed().as_nanos() as u64
    }

    fn record(&self, event: Event) {
        match self.history.lock() {
            Ok(mut history) => history.push(event),
            Err(poisoned) => poisoned.into_inner().push(event),
        }
    }
}

/// Whether an error leaves the operation's outcome unknown (the server may have applied it).
fn indeterminate(error: &str) -> bool {
    matches!(error, "InternalServerError" | "ServiceUnavailable")
}

/// Performs one planned operation (a scan: every page) and records invocation and completion.
async fn perform(
    recorder: &Recorder,
    connection: &mut Connection,
    table: &str,
    process: u64,
    planned: &Planned,
) -> (Kind, Json) {
    let mut invoke = Event::new(
        Process::Client(process),
        Kind::Invoke,
        planned.f,
        recorder.now_ns(),
    );
    invoke.key = Some(planned.key.clone());
    invoke.value = planned.input.clone();
    invoke.consistent = planned.consistent;
    recorder.record(invoke);
    let (kind, value, error) = match &planned.step {
        Step::Scan { consistent } => scan(connection, table, *consistent, planned).await,
        _ => {
            let (operation, body, _) = workloads::request_json(table, planned);
            match connection.call(operation, &body).await {
                None => (Kind::Info, Json::Null, Some("RequestTimeout".to_string())),
                Some(Err(e)) if indeterminate(&e.kind) => (Kind::Info, Json::Null, Some(e.kind)),
                Some(Err(e)) => (Kind::Fail, e.reasons, Some(e.kind)),
                Some(Ok(response)) => (Kind::Ok, workloads::output(planned, &response), None),
            }
        }
    };
    let mut done = Event::new(Process::Client(process), kind, planned.f, recorder.now_ns());
    done.key = Some(planned.key.clone());
    done.value = value.clone();
    done.error = error;
    recorder.record(done);
    (kind, value)
}

/// A whole-table Scan, page after page, merged into one output.
async fn scan(
    connection: &mut Connection,
    table: &str,
    consistent: bool,
    planned: &Planned,
) -> (Kind, Json, Option<String>) {
    let mut merged = serde_json::Map::new();
    let mut start: Option<Json> = None;
    for _page in 0..10_000 {
        let mut body = json!({"TableName": table, "ConsistentRead": consistent});
        if let Some(key) = start.take() {
            body["ExclusiveStartKey"] = key;
        }
        match connection.call("Scan", &body).await {
            None => return (Kind::Info, Json::Null, Some("RequestTimeout".into())),
            // A read changes nothing: a failed page fails the read, whatever the error.
            Some(Err(e)) => return (Kind::Fail, Json::Null, Some(e.kind)),
            Some(Ok(page)) => {
                if let Json::Object(m) = workloads::output(planned, &page) {
                    merged.extend(m);
                }
                match page.get("LastEvaluatedKey") {
                    Some(key) => start = Some(key.clone()),
                    None => return (Kind::Ok, Json::Object(merged), None),
                }
            }
        }
    }
    (Kind::Fail, Json::Null, Some("TooManyPages".into()))
}

/// A retired process's successor has this much added to its number (Jepsen's rule).
const PROCESSES_TOTAL: u64 = 10_000;

/// One client process: the workload's setup (first process only), then operations until told
/// to stop.
async fn process(recorder: Arc<Recorder>, options: ClientOptions, first: bool) {
    let ClientOptions {
        workload,
        index,
        table,
        mut process,
        seed,
        address,
        timeout,
    } = options;
    let mut connection = Connection::new(address, timeout);
    let mut generator = Generator::new(&workload, seed, process);
    if first && let Some(setup) = workload.kind.setup(&workload) {
        loop {
            let (kind, _) = perform(&recorder, &mut connection, &table, process, &setup).await;
            match kind {
                Kind::Ok => break,
                Kind::Info => process += PROCESSES_TOTAL,
                _ => tokio::time::sleep(Duration::from_millis(50)).await,
            }
            if recorder.stop.load(Ordering::Relaxed) {
                return;
            }
        }
    }
    while !recorder.stop.load(Ordering::Relaxed) {
        let think = generator.think_ms();
        if think > 0 {
            tokio::time::sleep(Duration::from_millis(think)).await;
        }
        let planned = generator.step();
        let (kind, output) = perform(&recorder, &mut connection, &table, process, &planned).await;
        generator.observe(&planned, kind == Kind::Ok, &output);
        if kind == Kind::Ok {
            recorder.ok[index].fetch_add(1, Ordering::Relaxed);
        }
        if kind == Kind::Info {
            process += PROCESSES_TOTAL;
        }
    }
}

/// What one client process runs.
#[derive(Clone)]
struct ClientOptions {
    workload: Workload,
    /// The workload's position in the scenario.
    index: usize,
    table: String,
    process: u64,
    seed: u64,
    address: SocketAddr,
    timeout: Duration,
}

/// The CreateTable a workload needs, as wire JSON, under the run's table name.
fn create_table_body(workload: &Workload, table: &str) -> Json {
    let mut body = workloads::create_table_json(workload);
    body["TableName"] = json!(table);
    body
}

/// Creates the table and waits until it is ACTIVE.
async fn create_table(
    connection: &mut Connection,
    workload: &Workload,
    table: &str,
) -> Result<(), String> {
    let body = create_table_body(workload, table);
    match connection.call("CreateTable", &body).await {
        Some(Ok(_)) => {}
        Some(Err(e)) => return Err(format!("CreateTable {table}: {e}")),
        None => return Err(format!("CreateTable {table}: no answer")),
    }
    for _ in 0..600 {
        let described = connection
            .call("DescribeTable", &json!({"TableName": table}))
            .await;
        if let Some(Ok(d)) = described
            && d["Table"]["TableStatus"] == "ACTIVE"
        {
            return Ok(());
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    Err(format!("table {table} did not become ACTIVE within 60 s"))
}

/// The run's table names: `<workload>-<token>`, unique per run.
fn table_names(scenario: &Scenario, seed: u64) -> Vec<String> {
    let token = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as u64)
        ^ seed.rotate_left(17);
    scenario
        .workloads
        .iter()
        .map(|w| format!("{}-{:08x}", w.name, token & 0xffff_ffff))
        .collect()
}

/// Each workload's final reads (with retries), then, `settle` later, its final index reads;
/// then one `liveness` event per workload: how many operations succeeded (an endpoint that
/// answered nothing shows 0).
async fn finish(
    recorder: &Recorder,
    scenario: &Scenario,
    tables: &[String],
    address: SocketAddr,
    timeout: Duration,
    settle: Option<Duration>,
) {
    let mut connection = Connection::new(address, timeout);
    let mut process = 1_000_000_000u64;
    for (w, table) in scenario.workloads.iter().zip(tables) {
        let reads = w.kind.final_reads(w);
        final_reads(recorder, &mut connection, table, &mut process, &reads).await;
    }
    let indexed = scenario
        .workloads
        .iter()
        .any(|w| !w.kind.final_index_reads(w).is_empty());
    if let (Some(settle), true) = (settle, indexed) {
        tokio::time::sleep(settle).await;
        for (w, table) in scenario.workloads.iter().zip(tables) {
            let reads = w.kind.final_index_reads(w);
            final_reads(recorder, &mut connection, table, &mut process, &reads).await;
        }
    }
    for (i, w) in scenario.workloads.iter().enumerate() {
        let mut e = Event::new(
            Process::Named("final".into()),
            Kind::Info,
            "liveness",
            recorder.now_ns(),
        );
        e.key = Some(w.name.clone());
        e.value = json!(recorder.ok[i].load(Ordering::Relaxed));
        recorder.record(e);
    }
    for table in tables {
        let _ = connection
            .call("DeleteTable", &json!({"TableName": table}))
            .await;
    }
}

/// Performs each of `reads`, retried (up to 20 times) until answered.
async fn final_reads(
    recorder: &Recorder,
    connection: &mut Connection,
    table: &str,
    process: &mut u64,
    reads: &[Planned],
) {
    for planned in reads {
        for _attempt in 0..20 {
            let (kind, _) = perform(recorder, connection, table, *process, planned).await;
            if kind == Kind::Ok {
                break;
            }
            if kind == Kind::Info {
                *process += 1;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }
}

/// Runs the scenario's workloads against the endpoint and checks the history.
pub fn run(scenario: &Scenario, options: &Options) -> Result<(History, Report), String> {
    let address = address(&options.url)?;
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| format!("cannot start the runtime: {e}"))?;
    let tables = table_names(scenario, options.seed);
    let timeout = Duration::from_millis(scenario.op_timeout_ms);
    let duration = Duration::from_millis(
        options
            .duration_ms
            .unwrap_or(scenario.duration_ms + scenario.liveness_ms),
    );
    let recorder = Arc::new(Recorder {
        started: Instant::now(),
        history: Mutex::new(History::default()),
        stop: AtomicBool::new(false),
        ok: scenario
            .workloads
            .iter()
            .map(|_| AtomicU64::new(0))
            .collect(),
    });
    runtime.block_on(async {
        let mut connection = Connection::new(address, timeout);
        for (w, table) in scenario.workloads.iter().zip(&tables) {
            create_table(&mut connection, w, table).await?;
        }
        let mut tasks = Vec::new();
        let mut next_process = 0u64;
        for (index, (w, table)) in scenario.workloads.iter().zip(&tables).enumerate() {
            for p in 0..w.processes as u64 {
                let options = ClientOptions {
                    workload: w.clone(),
                    index,
                    table: table.clone(),
                    process: next_process + p,
                    seed: options.seed,
                    address,
                    timeout,
                };
                tasks.push(tokio::spawn(process(recorder.clone(), options, p == 0)));
            }
            next_process += w.processes as u64;
        }
        tokio::time::sleep(duration).await;
        recorder.stop.store(true, Ordering::Relaxed);
        for task in tasks {
            let _ = task.await;
        }
        let settle = options.settle_ms.map(Duration::from_millis);
        finish(&recorder, scenario, &tables, address, timeout, settle).await;
        Ok::<(), String>(())
    })?;
    let history = match recorder.history.lock() {
        Ok(history) => history.clone(),
        Err(poisoned) => poisoned.into_inner().clone(),
    };
    let report = checkers::check(&history);
    Ok((history, report))
}
