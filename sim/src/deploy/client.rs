//! Client processes: each runs its workload, one operation at a time, and records every
//! invocation and completion in the history (typed requests over the wire, or HTTP).

use super::{MOVED, Req, TAG, Wire, World, send};
use crate::history::{Event, Kind, Process};
use crate::options::Bug;
use crate::scenario::Transport;
use crate::topology::{FeedComponent, Range};
use crate::workloads::{self, Generator, Mode, Planned, Step};
use dynasim_engine::Request;
use madsim::net::Endpoint;
use serde_json::Value as Json;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;
use tokio::time::Instant;

/// The region whose client node runs a process: the table's own region for local clients,
/// otherwise round robin over the regions.
pub(super) fn client_region(world: &World, table: usize, process: u64) -> usize {
    if world.scenario.workloads[table].local_clients {
        world.topology.tables[table].region
    } else {
        process as usize % world.topology.clients.len()
    }
}

/// A retired process's successor has this much added to its number (Jepsen's rule: a
/// process whose operation's outcome is unknown never issues another).
const PROCESSES_TOTAL: u64 = 10_000;

/// One client process: runs its workload until told to stop, recording every operation.
pub(super) async fn client_process(
    world: Arc<World>,
    table: usize,
    process: u64,
    port: u16,
    region: usize,
) {
    let home = &world.topology.clients[region];
    let addr = SocketAddr::new(home.ip, port);
    let endpoint = Arc::new(Endpoint::bind(addr).await.expect("bind"));
    let workload = world.scenario.workloads[table].clone();
    let mut generator = Generator::new(&workload, world.options.seed, process);
    let mut process = process;
    let mut next_id = 0u64;
    let mut http: HttpConnection = None;
    if process < PROCESSES_TOTAL
        && is_first_process(&world, table, process)
        && let Some(planned) = workload.kind.setup(&workload)
    {
        let conn = (&endpoint, &mut http, &mut next_id);
        process = set_up(&world, conn, table, process, &planned).await;
    }
    while !world.stop_clients.load(Ordering::Relaxed) {
        let think = generator.think_ms();
        if think > 0 {
            tokio::time::sleep(Duration::from_millis(think)).await;
        }
        if world
            .options
            .max_ops
            .is_some_and(|m| *world.ops.lock().unwrap() >= m)
        {
            break;
        }
        let planned = generator.step();
        let (kind, output) = perform(
            &world,
            &endpoint,
            &mut http,
            table,
            process,
            &planned,
            &mut next_id,
        )
        .await;
        generator.observe(&planned, kind == Kind::Ok, &output);
        if kind == Kind::Ok && world.healed.load(Ordering::Relaxed) {
            *world
                .progress_after_heal
                .lock()
                .unwrap()
                .entry(table)
                .or_default() += 1;
        }
        if kind == Kind::Info {
            // A process whose operation's outcome is unknown is retired (Jepsen's rule): a
            // fresh process number continues.
            process += PROCESSES_TOTAL;
        }
    }
}

/// Performs a workload's setup until it succeeds; returns the process number to continue
/// with (a process whose operation's outcome is unknown is retired).
async fn set_up(
    world: &World,
    (endpoint, http, next_id): (&Arc<Endpoint>, &mut HttpConnection, &mut u64),
    table: usize,
    mut process: u64,
    planned: &Planned,
) -> u64 {
    loop {
        let (kind, _) = perform(world, endpoint, http, table, process, planned, next_id).await;
        if kind == Kind::Ok {
            return process;
        }
        if kind == Kind::Info {
            process += PROCESSES_TOTAL;
        }
    }
}

pub(super) fn is_first_process(world: &World, table: usize, process: u64) -> bool {
    first_process(world, table) == process
}

pub(super) fn first_process(world: &World, table: usize) -> u64 {
    world.scenario.workloads[..table]
        .iter()
        .map(|w| w.processes as u64)
        .sum()
}

/// An HTTP/1.1 connection from a client process to its router (HTTP transport).
pub(super) type HttpConnection =
    Option<hyper::client::conn::http1::SendRequest<http_body_util::Full<bytes::Bytes>>>;

pub(super) const AUTHORIZATION: &str = "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20260101/us-east-1/dynamodb/aws4_request, SignedHeaders=content-type;host;x-amz-date;x-amz-target, Signature=0000000000000000000000000000000000000000000000000000000000000000";

/// One DynamoDB call over HTTP, as an SDK makes it: `None` when no answer came in time (the
/// connection is then dropped), otherwise the body or the error type.
pub(super) async fn http_call(
    world: &World,
    connection: &mut HttpConnection,
    router: SocketAddr,
    operation: &str,
    body: &Json,
) -> Option<Result<Json, crate::http_call::Failure>> {
    use http_body_util::BodyExt;
    let timeout = Duration::from_millis(world.scenario.op_timeout_ms);
    let deadline = Instant::now() + timeout;
    if connection.as_ref().is_none_or(|c| c.is_closed()) {
        let connect = async {
            let stream = tokio::net::TcpStream::connect(router).await.ok()?;
            let (sender, conn) =
                hyper::client::conn::http1::handshake(hyper_util::rt::TokioIo::new(stream))
                    .await
                    .ok()?;
            madsim::task::spawn(conn);
            Some(sender)
        };
        match tokio::time::timeout(timeout, connect).await {
            Ok(Some(sender)) => *connection = Some(sender),
            // Nothing was sent: the request certainly did not happen.
            _ => return Some(Err(crate::http_call::Failure::new("ConnectionRefused"))),
        }
    }
    let sender = connection.as_mut().expect("connected above");
    let request = crate::http_call::request("dynamodb.simulated", AUTHORIZATION, operation, body);
    let exchange = async {
        let response = sender.send_request(request).await.ok()?;
        let status = response.status().as_u16();
        let bytes = response.into_body().collect().await.ok()?.to_bytes();
        Some((status, bytes))
    };
    let left = deadline.saturating_duration_since(Instant::now());
    let Ok(Some((status, bytes))) = tokio::time::timeout(left, exchange).await else {
        *connection = None;
        return None;
    };
    Some(crate::http_call::answer(status, &bytes))
}

/// What one operation came to: the outcome, the value, the error type and the node that
/// answered.
type Outcome = (Kind, Json, Option<String>, Option<String>);

/// One request of an operation: the request, how it is routed, and (a scan of one
/// partition) the group and the range the client expects it to own.
type Part = (Request, Mode, Option<u32>, Option<Range>);

/// What one request of an operation came to.
enum PartResult {
    /// The operation ends with this outcome.
    Stop(Outcome),
    /// A scan's partition changed its range: the scan starts over.
    Moved,
    /// Answered: the response and the node that gave it.
    Answer(Json, String),
}

/// An operation being performed: the client's endpoint, the table and the router it goes
/// through, and the operation.
struct Performing<'a> {
    world: &'a World,
    endpoint: &'a Arc<Endpoint>,
    table: usize,
    table_name: String,
    router: SocketAddr,
    planned: &'a Planned,
}

/// Performs one operation (several requests for a scan), recording invoke and completion.
pub(super) async fn perform(
    world: &World,
    endpoint: &Arc<Endpoint>,
    http: &mut HttpConnection,
    table: usize,
    process: u64,
    planned: &Planned,
    next_id: &mut u64,
) -> (Kind, Json) {
    record_invoke(world, process, planned);
    let op = Performing {
        world,
        endpoint,
        table,
        table_name: world.topology.tables[table].name.clone(),
        router: world.topology.router_for(table, process),
        planned,
    };
    let mut outcome: Outcome = (Kind::Ok, Json::Null, None, None);
    // A scan whose partitions split under it starts over with the new map (up to 10 times).
    let mut moved_seen = false;
    for _attempt in 0..10 {
        let mut merged = serde_json::Map::new();
        outcome = (Kind::Ok, Json::Null, None, None);
        moved_seen = false;
        for part in op.parts() {
            match op.send_part(http, part, next_id).await {
                PartResult::Stop(stop) => {
                    outcome = stop;
                    break;
                }
                PartResult::Moved => {
                    moved_seen = true;
                    break;
                }
                PartResult::Answer(response, node) => {
                    let out = workloads::output(planned, &response);
                    if let Json::Object(m) = &out
                        && matches!(planned.step, Step::Scan { .. } | Step::IndexQuery { .. })
                    {
                        merged.extend(m.clone());
                        outcome = (Kind::Ok, Json::Object(merged.clone()), None, Some(node));
                    } else {
                        outcome = (Kind::Ok, out, None, Some(node));
                    }
                }
            }
        }
        if !moved_seen {
            break;
        }
    }
    if moved_seen {
        // A read that never got a consistent set of partitions: it returned nothing.
        outcome = (
            Kind::Fail,
            Json::Null,
            Some("InternalServerError".into()),
            None,
        );
    }
    record_completion(world, process, planned, outcome)
}

/// Records an operation's invocation (and counts it).
fn record_invoke(world: &World, process: u64, planned: &Planned) {
    let mut invoke = Event::new(
        Process::Client(process),
        Kind::Invoke,
        planned.f,
        world.now_ns(),
    );
    // A transaction spans items: it names none.
    invoke.key = (planned.f != "txn").then(|| planned.key.clone());
    invoke.value = planned.input.clone();
    invoke.consistent = planned.consistent;
    world.record(invoke);
    *world.ops.lock().unwrap() += 1;
}

/// Records an operation's completion; returns its outcome and value.
fn record_completion(
    world: &World,
    process: u64,
    planned: &Planned,
    (kind, value, error, node): Outcome,
) -> (Kind, Json) {
    let mut done = Event::new(Process::Client(process), kind, planned.f, world.now_ns());
    done.key = (planned.f != "txn").then(|| planned.key.clone());
    done.value = value.clone();
    done.error = error;
    // Which replica answered matters for eventually consistent reads only.
    if planned.consistent == Some(false) {
        done.node = node;
    }
    world.record(done);
    (kind, value)
}

impl Performing<'_> {
    /// The requests that carry the operation: one, or a scan's one per partition of the
    /// current map.
    fn parts(&self) -> Vec<Part> {
        let (world, table, planned) = (self.world, self.table, self.planned);
        match planned.step {
            Step::Scan { consistent } => {
                let placement = world.placement.lock().unwrap();
                let mode = if consistent {
                    Mode::Strong
                } else {
                    Mode::Eventual
                };
                placement.maps[table]
                    .iter()
                    .map(|&(_, g)| {
                        (
                            workloads::scan_request(&self.table_name, consistent),
                            mode,
                            Some(g),
                            Some(placement.range_of(table, g)),
                        )
                    })
                    .collect()
            }
            Step::IndexQuery { .. } if self.propagator().is_some() => {
                // The index propagator keeps the index: one query, to it.
                let (r, m) = workloads::request(&self.table_name, planned);
                vec![(r, m, None, None)]
            }
            Step::IndexQuery { group } => {
                // A global secondary index holds items of every partition: its query goes to
                // each (the broken variant asks only the partition its index key hashes to).
                let placement = world.placement.lock().unwrap();
                let (request, mode) = workloads::request(&self.table_name, planned);
                let only = world.bug(Bug::IndexQueryOneGroup).then(|| {
                    let key = workloads::group_key(&self.table_name, group);
                    placement.group_of(table, &key)
                });
                placement.maps[table]
                    .iter()
                    .filter(|&&(_, g)| only.is_none_or(|o| o == g))
                    .map(|&(_, g)| {
                        let range = placement.range_of(table, g);
                        (request.clone(), mode, Some(g), Some(range))
                    })
                    .collect()
            }
            _ => {
                let (r, m) = workloads::request(&self.table_name, planned);
                vec![(r, m, None, None)]
            }
        }
    }

    /// Sends one request (over HTTP, or over the wire with retries for reads) and reads
    /// what came back.
    async fn send_part(
        &self,
        http: &mut HttpConnection,
        (request, mode, group, range): Part,
        next_id: &mut u64,
    ) -> PartResult {
        let world = self.world;
        *next_id += 1;
        let id = *next_id;
        if world.scenario.transport == Transport::Http {
            return self.send_http(http).await;
        }
        if self.planned.step.transaction() {
            return self.send_txn(id).await;
        }
        let req = Req {
            id,
            client: self.endpoint.local_addr().expect("bound"),
            router: self.router,
            table: self.table,
            group: 0,
            mode,
            request,
            hops: 0,
            range,
            txn: None,
        };
        match self.send_wire(req, group).await {
            None => PartResult::Stop((Kind::Info, Json::Null, Some("RequestTimeout".into()), None)),
            Some((Err(error), _)) if error.message == MOVED => PartResult::Moved,
            Some((Err(error), node)) => {
                // Errors before the log (validation, throttling) and conditional check failures
                // are definite; an internal error leaves the outcome unknown.
                let k = if error.kind == dynasim_engine::ErrorKind::InternalServerError {
                    Kind::Info
                } else {
                    Kind::Fail
                };
                PartResult::Stop((
                    k,
                    Json::Null,
                    Some(error.kind.name().to_string()),
                    Some(node),
                ))
            }
            Some((Ok(response), node)) => PartResult::Answer(response, node),
        }
    }

    /// A transaction, to a coordinator (chosen by the request id): sent once, answered within
    /// the operation's timeout or of unknown outcome.
    async fn send_txn(&self, id: u64) -> PartResult {
        let world = self.world;
        let (operation, body, _) = workloads::request_json(&self.table_name, self.planned);
        let coordinators = &world.topology.coordinators;
        let to = coordinators[id as usize % coordinators.len()].addr();
        let client = self.endpoint.local_addr().expect("bound");
        let wire = Wire::Txn {
            id,
            client,
            operation,
            body,
        };
        send(world, self.endpoint, to, wire).await;
        let deadline = Instant::now() + Duration::from_millis(world.scenario.op_timeout_ms);
        match await_reply(self.endpoint, id, deadline).await {
            None => PartResult::Stop((Kind::Info, Json::Null, Some("RequestTimeout".into()), None)),
            Some((Ok(response), node)) => PartResult::Answer(response, node),
            Some((Err(error), node)) => {
                let k = if error.kind == dynasim_engine::ErrorKind::InternalServerError {
                    Kind::Info
                } else {
                    Kind::Fail
                };
                let reasons = cancellation_reasons(&error);
                let error = Some(error.kind.name().to_string());
                PartResult::Stop((k, reasons, error, Some(node)))
            }
        }
    }

    /// The index propagator's address, for an index query when the deployment has one.
    fn propagator(&self) -> Option<SocketAddr> {
        if !matches!(self.planned.step, Step::IndexQuery { .. }) {
            return None;
        }
        let topology = &self.world.topology;
        let c = topology.feed(FeedComponent::IndexPropagator)?;
        Some(topology.feeds[c].1.addr())
    }

    /// The operation as one DynamoDB HTTP call; it always ends the operation.
    async fn send_http(&self, http: &mut HttpConnection) -> PartResult {
        let (operation, body, _) = workloads::request_json(&self.table_name, self.planned);
        let router_http = SocketAddr::new(self.router.ip(), 8000);
        let answer = http_call(self.world, http, router_http, operation, &body).await;
        PartResult::Stop(match answer {
            None => (Kind::Info, Json::Null, Some("RequestTimeout".into()), None),
            Some(Err(failure)) => {
                if failure.kind == "InternalServerError" {
                    (Kind::Info, Json::Null, Some(failure.kind), None)
                } else {
                    (Kind::Fail, failure.reasons, Some(failure.kind), None)
                }
            }
            Some(Ok(response)) => (
                Kind::Ok,
                workloads::output(self.planned, &response),
                None,
                None,
            ),
        })
    }

    /// Sends a request over the wire and waits for its reply. Reads are idempotent: an
    /// unanswered one is sent again (as an SDK retries), each time to the next replica, within
    /// the operation's timeout. A write is sent once: a second copy could take effect twice.
    async fn send_wire(
        &self,
        req: Req,
        group: Option<u32>,
    ) -> Option<(Result<Json, dynasim_engine::Error>, String)> {
        let world = self.world;
        let attempts = if req.mode == Mode::Write {
            1
        } else {
            READ_ATTEMPTS
        };
        let overall = Instant::now() + Duration::from_millis(world.scenario.op_timeout_ms);
        let per_attempt = Duration::from_millis(world.scenario.op_timeout_ms / attempts as u64);
        for attempt in 0..attempts {
            let mut copy = req.clone();
            copy.hops = attempt;
            if let Some(propagator) = self.propagator() {
                // An index query, to the index propagator that keeps the index.
                let wire = Wire::Exec {
                    req: Box::new(copy),
                };
                send(world, self.endpoint, propagator, wire).await;
            } else {
                let wire = Wire::Route {
                    req: Box::new(copy),
                    group,
                };
                send(world, self.endpoint, self.router, wire).await;
            }
            let deadline = if attempt + 1 == attempts {
                overall
            } else {
                (Instant::now() + per_attempt).min(overall)
            };
            let answer = await_reply(self.endpoint, req.id, deadline).await;
            if answer.is_some() {
                return answer;
            }
        }
        None
    }
}

/// How many times a client sends an unanswered read (within `op_timeout_ms`).
pub(super) const READ_ATTEMPTS: u8 = 3;

/// Waits until `deadline` for the reply to request `id` (replies to earlier requests, or to an
/// earlier copy of this one answered late, are dropped or taken as they match).
pub(super) async fn await_reply(
    endpoint: &Arc<Endpoint>,
    id: u64,
    deadline: Instant,
) -> Option<(Result<Json, dynasim_engine::Error>, String)> {
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        match tokio::time::timeout(left, endpoint.recv_from_raw(TAG)).await {
            Err(_) => return None,
            Ok(Err(_)) => continue,
            Ok(Ok((payload, _))) => {
                if let Ok(wire) = payload.downcast::<Wire>()
                    && let Wire::Reply {
                        id: got,
                        result,
                        node,
                    } = *wire
                    && got == id
                {
                    return Some((result, node));
                }
            }
        }
    }
}

/// A cancelled transaction's reasons, as the history records them (`[{"Code", "Item"?}, ...]`
/// in action order, the item as wire JSON); `null` for any other error.
fn cancellation_reasons(error: &dynasim_engine::Error) -> Json {
    if error.cancellation_reasons.is_empty() {
        return Json::Null;
    }
    let reasons = error.cancellation_reasons.iter().map(|r| {
        let mut reason = serde_json::json!({"Code": r.code});
        if let Some(item) = &r.item {
            reason["Item"] = serde_json::to_value(item).expect("items serialize");
        }
        reason
    });
    Json::Array(reasons.collect())
}
