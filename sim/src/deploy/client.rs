//! Client processes: each runs its workload, one operation at a time, and records every
//! invocation and completion in the history (typed requests over the wire, or HTTP).

use super::{MOVED, Req, TAG, Wire, World, send};
use crate::history::{Event, Kind, Process};
use crate::scenario::Transport;
use crate::topology::Range;
use crate::workloads::{self, Generator, Mode, Planned, Step};
use dynasim_engine::Request;
use madsim::net::Endpoint;
use serde_json::Value as Json;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;
use tokio::time::Instant;

/// One client process: runs its workload until told to stop, recording every operation.
/// The region whose client node runs a process: the table's own region for local clients,
/// otherwise round robin over the regions.
pub(super) fn client_region(world: &World, table: usize, process: u64) -> usize {
    if world.scenario.workloads[table].local_clients {
        world.topology.tables[table].region
    } else {
        process as usize % world.topology.clients.len()
    }
}

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
    let processes_total = 10_000u64;
    if process < processes_total
        && is_first_process(&world, table, process)
        && let Some(planned) = workload.kind.setup(&workload)
    {
        loop {
            let (kind, _) = perform(
                &world,
                &endpoint,
                &mut http,
                table,
                process,
                &planned,
                &mut next_id,
            )
            .await;
            if kind == Kind::Ok {
                break;
            }
            if kind == Kind::Info {
                process += processes_total;
            }
        }
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
            process += processes_total;
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

/// Performs one operation (several requests for a scan), recording invoke and completion.
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
) -> Option<Result<Json, String>> {
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
            _ => return Some(Err("ConnectionRefused".into())),
        }
    }
    let sender = connection.as_mut().expect("connected above");
    let request = hyper::Request::post("/")
        .header("host", "dynamodb.simulated")
        .header("content-type", "application/x-amz-json-1.0")
        .header("x-amz-target", format!("DynamoDB_20120810.{operation}"))
        .header("x-amz-date", "20260101T000000Z")
        .header("authorization", AUTHORIZATION)
        .body(http_body_util::Full::new(bytes::Bytes::from(
            serde_json::to_vec(body).expect("JSON serializes"),
        )))
        .expect("a valid request");
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
    let json: Json = serde_json::from_slice(&bytes).unwrap_or(Json::Null);
    if status == 200 {
        return Some(Ok(json));
    }
    let kind = json
        .get("__type")
        .and_then(Json::as_str)
        .and_then(|t| t.rsplit('#').next())
        .unwrap_or("InternalServerError")
        .to_string();
    Some(Err(kind))
}

pub(super) async fn perform(
    world: &World,
    endpoint: &Arc<Endpoint>,
    http: &mut HttpConnection,
    table: usize,
    process: u64,
    planned: &Planned,
    next_id: &mut u64,
) -> (Kind, Json) {
    let table_name = world.topology.tables[table].name.clone();
    let mut invoke = Event::new(
        Process::Client(process),
        Kind::Invoke,
        planned.f,
        world.now_ns(),
    );
    invoke.key = Some(planned.key.clone());
    invoke.value = planned.input.clone();
    invoke.consistent = planned.consistent;
    world.record(invoke);
    *world.ops.lock().unwrap() += 1;
    let router = world.topology.router_for(table, process);
    let mut outcome: (Kind, Json, Option<String>, Option<String>) =
        (Kind::Ok, Json::Null, None, None);
    // A scan whose partitions split under it starts over with the new map (up to 10 times).
    let mut moved_seen = false;
    for _attempt in 0..10 {
        let requests: Vec<(Request, Mode, Option<u32>, Option<Range>)> = match planned.step {
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
                            workloads::scan_request(&table_name, consistent),
                            mode,
                            Some(g),
                            Some(placement.range_of(table, g)),
                        )
                    })
                    .collect()
            }
            _ => {
                let (r, m) = workloads::request(&table_name, planned);
                vec![(r, m, None, None)]
            }
        };
        let mut merged = serde_json::Map::new();
        outcome = (Kind::Ok, Json::Null, None, None);
        moved_seen = false;
        for (request, mode, group, range) in requests {
            *next_id += 1;
            let id = *next_id;
            let req = Req {
                id,
                client: endpoint.local_addr().expect("bound"),
                router,
                table,
                group: 0,
                mode,
                request,
                hops: 0,
                range,
            };
            if world.scenario.transport == Transport::Http {
                let (operation, body, _) = workloads::request_json(&table_name, planned);
                let router_http = SocketAddr::new(router.ip(), 8000);
                let answer = http_call(world, http, router_http, operation, &body).await;
                match answer {
                    None => outcome = (Kind::Info, Json::Null, Some("RequestTimeout".into()), None),
                    Some(Err(kind)) => {
                        let k = if kind == "InternalServerError" {
                            Kind::Info
                        } else {
                            Kind::Fail
                        };
                        outcome = (k, Json::Null, Some(kind), None);
                    }
                    Some(Ok(response)) => {
                        outcome = (Kind::Ok, workloads::output(planned, &response), None, None);
                    }
                }
                break;
            }
            // Reads are idempotent: an unanswered one is sent again (as an SDK retries), each
            // time to the next replica, within the operation's timeout. A write is sent once:
            // a second copy could take effect twice.
            let attempts = if mode == Mode::Write {
                1
            } else {
                READ_ATTEMPTS
            };
            let overall = Instant::now() + Duration::from_millis(world.scenario.op_timeout_ms);
            let per_attempt = Duration::from_millis(world.scenario.op_timeout_ms / attempts as u64);
            let mut answer = None;
            for attempt in 0..attempts {
                let mut req = req.clone();
                req.hops = attempt;
                send(
                    world,
                    endpoint,
                    router,
                    Wire::Route {
                        req: Box::new(req),
                        group,
                    },
                )
                .await;
                let deadline = if attempt + 1 == attempts {
                    overall
                } else {
                    (Instant::now() + per_attempt).min(overall)
                };
                answer = await_reply(endpoint, id, deadline).await;
                if answer.is_some() {
                    break;
                }
            }
            match answer {
                None => {
                    outcome = (Kind::Info, Json::Null, Some("RequestTimeout".into()), None);
                    break;
                }
                Some((Err(error), _)) if error.message == MOVED => {
                    moved_seen = true;
                    break;
                }
                Some((Err(error), node)) => {
                    // Errors before the log (validation, throttling) and conditional check failures
                    // are definite; an internal error leaves the outcome unknown.
                    let k = if error.kind == dynasim_engine::ErrorKind::InternalServerError {
                        Kind::Info
                    } else {
                        Kind::Fail
                    };
                    outcome = (
                        k,
                        Json::Null,
                        Some(error.kind.name().to_string()),
                        Some(node),
                    );
                    break;
                }
                Some((Ok(response), node)) => {
                    let out = workloads::output(planned, &response);
                    if let Json::Object(m) = &out
                        && matches!(planned.step, Step::Scan { .. })
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
    let (kind, value, error, node) = outcome;
    let mut done = Event::new(Process::Client(process), kind, planned.f, world.now_ns());
    done.key = Some(planned.key.clone());
    done.value = value.clone();
    done.error = error;
    if planned.consistent == Some(false) {
        done.node = node;
    }
    world.record(done);
    (kind, value)
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
