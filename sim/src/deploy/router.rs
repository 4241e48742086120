//! Request routers: the partition map and the leader each router believes in, the routing of
//! typed requests, and (with the HTTP transport) DynamoDB's HTTP protocol served by the
//! server's own stack.

use super::storage::{REROUTE_PAUSE_MS, peer_addr, request_key};
use super::{EPOCH_MS, Req, TAG, Wire, World, send};
use crate::faults::FaultPoint;
use crate::options::Bug;
use crate::scenario::Transport;
use crate::seeds::Component;
use crate::topology::Placement;
use crate::workloads::Mode;
use dynasim_engine::Request;
use madsim::net::Endpoint;
use serde_json::Value as Json;
use std::collections::{BTreeMap, VecDeque};
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// A router's state, shared by its network loop and (with the HTTP transport) its HTTP
/// connections: the leader it believes in per partition, and HTTP requests awaiting replies.
#[derive(Default)]
pub(super) struct RouterState {
    leaders: BTreeMap<u32, usize>,
    /// Leader hints received under the `router-lag` fault, in arrival order, with the time
    /// (`World::now_ns`) each takes effect (never before an earlier one).
    lagging: VecDeque<(u64, u32, usize)>,
    waiting: BTreeMap<u64, tokio::sync::oneshot::Sender<Result<Json, dynasim_engine::Error>>>,
    next_id: u64,
}

impl RouterState {
    /// A leader hint arrives at `now`: it takes effect `lag` later (after every hint still
    /// waiting), or at once when there is no lag and nothing waits.
    fn hint(&mut self, group: u32, replica: usize, now: u64, lag: u64) {
        match self.lagging.back() {
            None if lag == 0 => {
                self.leaders.insert(group, replica);
            }
            last => {
                let due = (now + lag).max(last.map_or(0, |&(due, _, _)| due));
                self.lagging.push_back((due, group, replica));
            }
        }
    }

    /// Applies the lagging hints whose time came by `now`.
    fn apply_due(&mut self, now: u64) {
        while let Some(&(due, group, replica)) = self.lagging.front()
            && due <= now
        {
            self.leaders.insert(group, replica);
            self.lagging.pop_front();
        }
    }
}

pub(super) fn storm_error() -> dynasim_engine::Error {
    dynasim_engine::Error::new(
        dynasim_engine::ErrorKind::ProvisionedThroughputExceeded,
        "The level of configured provisioned throughput for the table was exceeded. Consider \
         increasing your provisioning level with the UpdateTable API.",
    )
}

/// Picks the partition and the replica for a request: an error when the table is in a storm.
pub(super) fn route(
    world: &World,
    router: &crate::topology::NodeInfo,
    state: &mut RouterState,
    mut req: Box<Req>,
    group: Option<u32>,
) -> Result<(SocketAddr, Wire), dynasim_engine::Error> {
    if world.storms.lock().unwrap().contains(&req.table) {
        return Err(storm_error());
    }
    let key = request_key(&req.request);
    req.group = {
        let placement = world.placement.lock().unwrap();
        let current = group
            .or_else(|| key.as_ref().map(|k| placement.group_of(req.table, k)))
            .unwrap_or(placement.maps[req.table][0].1);
        match &key {
            // A router whose cached partition map predates every split: the partition that
            // owned the key at the start answers that it no longer does, and the request is
            // routed again.
            Some(k) if group.is_none() && world.fires(FaultPoint::RouterStaleMap) => {
                Placement::new(&world.topology).group_of(req.table, k)
            }
            _ => current,
        }
    };
    req.router = router.addr();
    state.apply_due(world.now_ns());
    if world.fires(FaultPoint::RouterForgetLeader) {
        state.leaders.remove(&req.group);
    }
    let follower_read = world.bug(Bug::FollowerStrongRead) && req.mode == Mode::Strong;
    let replica = if req.mode == Mode::Eventual || follower_read {
        if follower_read {
            req.mode = Mode::Eventual;
        }
        world.streams.between(Component::RouterChoices, 0, 2) as usize
    } else {
        // A request sent back (no leader where it went) tries the next replica each time.
        let believed = state.leaders.get(&req.group).copied().unwrap_or(0);
        (believed + usize::from(req.hops)) % 3
    };
    Ok((peer_addr(world, req.group, replica), Wire::Exec { req }))
}

/// Routes a request, or answers its client with the error that refused it.
pub(super) fn route_or_refuse(
    world: &World,
    info: &crate::topology::NodeInfo,
    state: &Mutex<RouterState>,
    req: Box<Req>,
    group: Option<u32>,
) -> (SocketAddr, Wire) {
    let (id, client) = (req.id, req.client);
    match route(world, info, &mut state.lock().unwrap(), req, group) {
        Ok(sent) => sent,
        Err(error) => (
            client,
            Wire::Reply {
                id,
                result: Err(error),
                node: info.name.clone(),
            },
        ),
    }
}

pub(super) async fn router_node(world: Arc<World>, index: usize) {
    let info = world.topology.routers[index].clone();
    let endpoint = Arc::new(Endpoint::bind(info.addr()).await.expect("bind"));
    let state = Arc::new(Mutex::new(RouterState::default()));
    if world.scenario.transport == Transport::Http {
        let listener = tokio::net::TcpListener::bind(http_addr(&info))
            .await
            .expect("bind");
        let handler = {
            let (world, endpoint, state, info) =
                (world.clone(), endpoint.clone(), state.clone(), info.clone());
            move |request: dynasim_server::HttpRequest| {
                let (world, endpoint, state, info) =
                    (world.clone(), endpoint.clone(), state.clone(), info.clone());
                async move { http_request(&world, &endpoint, &state, &info, request).await }
            }
        };
        madsim::task::spawn(dynasim_server::http::serve_with(
            listener,
            Arc::new(handler),
            dynasim_server::http::Limits::default(),
            std::future::pending(),
        ));
    }
    loop {
        let Ok((payload, _)) = endpoint.recv_from_raw(TAG).await else {
            continue;
        };
        let Ok(wire) = payload.downcast::<Wire>() else {
            continue;
        };
        match *wire {
            Wire::LeaderHint { group, replica } => {
                let (now, lag) = (world.now_ns(), world.router_lag(index));
                state.lock().unwrap().hint(group, replica, now, lag);
            }
            Wire::Reply { id, result, .. } => {
                if let Some(waiter) = state.lock().unwrap().waiting.remove(&id) {
                    let _ = waiter.send(result);
                }
            }
            Wire::Route { req, group } if req.hops > 0 => {
                // Sent back by a partition that could not serve it yet: retried after a pause.
                let (world, endpoint, state, info) =
                    (world.clone(), endpoint.clone(), state.clone(), info.clone());
                madsim::task::spawn(async move {
                    let pause = Duration::from_millis(REROUTE_PAUSE_MS * u64::from(req.hops));
                    tokio::time::sleep(pause).await;
                    let (to, wire) = route_or_refuse(&world, &info, &state, req, group);
                    send(&world, &endpoint, to, wire).await;
                });
            }
            Wire::Route { req, group } => {
                let (to, wire) = route_or_refuse(&world, &info, &state, req, group);
                send(&world, &endpoint, to, wire).await;
            }
            _ => {}
        }
    }
}

/// A router's HTTP address (its wire address, port 8000).
pub(super) fn http_addr(info: &crate::topology::NodeInfo) -> SocketAddr {
    SocketAddr::new(info.ip, 8000)
}

/// One DynamoDB HTTP request at a router: decoded and validated by the server's own code,
/// routed to the partition, answered when the partition replies (or 500 after the timeout).
pub(super) async fn http_request(
    world: &World,
    endpoint: &Arc<Endpoint>,
    state: &Mutex<RouterState>,
    info: &crate::topology::NodeInfo,
    request: dynasim_server::HttpRequest,
) -> dynasim_server::HttpResponse {
    let now = EPOCH_MS + world.start.elapsed().as_millis() as u64;
    let (id, request_id) = {
        let mut s = state.lock().unwrap();
        s.next_id += 1;
        (s.next_id, dynasim_server::protocol::request_id(s.next_id))
    };
    let decoded = dynasim_server::protocol::decode_http(&request, now);
    let result: Result<Json, dynasim_engine::Error> = async {
        let decoded = decoded?;
        if let Some(operation) = transaction_operation(&decoded) {
            return transaction(world, endpoint, state, id, operation, &request.body).await;
        }
        let name = decoded.table_name().unwrap_or_default().to_string();
        let Some(table) = world.topology.tables.iter().position(|t| t.name == name) else {
            return Err(dynasim_engine::Error::new(
                dynasim_engine::ErrorKind::ResourceNotFound,
                "Requested resource not found",
            ));
        };
        let mode = mode_of_request(&decoded);
        let req = Req {
            id,
            client: endpoint.local_addr().expect("bound"),
            router: info.addr(),
            table,
            group: 0,
            mode,
            request: decoded,
            hops: 0,
            range: None,
            txn: None,
        };
        let (tx, rx) = tokio::sync::oneshot::channel();
        let routed = {
            let mut s = state.lock().unwrap();
            s.waiting.insert(id, tx);
            route(world, info, &mut s, Box::new(req), None)
        };
        let (to, wire) = match routed {
            Ok(sent) => sent,
            Err(error) => {
                state.lock().unwrap().waiting.remove(&id);
                return Err(error);
            }
        };
        send(world, endpoint, to, wire).await;
        answer_of(world, state, id, rx).await
    }
    .await;
    let body = result.map(|json| serde_json::to_vec(&json).expect("JSON serializes"));
    dynasim_server::protocol::http_response(&request, body, &request_id)
}

/// The operation name of a transaction request (one for the deployment's coordinators).
fn transaction_operation(request: &Request) -> Option<&'static str> {
    match request {
        Request::TransactWriteItems(_) => Some("TransactWriteItems"),
        Request::TransactGetItems(_) => Some("TransactGetItems"),
        _ => None,
    }
}

/// A transaction that came over HTTP, passed to a coordinator (chosen by the request id, as a
/// wire client chooses) with the request's body, and answered with the coordinator's reply (a
/// 500 after the timeout: its outcome unknown). The body is the JSON the client sent (the
/// simulator's HTTP clients do not compress requests).
async fn transaction(
    world: &World,
    endpoint: &Arc<Endpoint>,
    state: &Mutex<RouterState>,
    id: u64,
    operation: &'static str,
    body: &[u8],
) -> Result<Json, dynasim_engine::Error> {
    let body: Json = serde_json::from_slice(body).map_err(|_| dynasim_engine::Error::internal())?;
    let coordinators = &world.topology.coordinators;
    if coordinators.is_empty() {
        return Err(dynasim_engine::Error::internal());
    }
    let to = coordinators[id as usize % coordinators.len()].addr();
    let (tx, rx) = tokio::sync::oneshot::channel();
    state.lock().unwrap().waiting.insert(id, tx);
    let client = endpoint.local_addr().expect("bound");
    let wire = Wire::Txn {
        id,
        client,
        operation,
        body,
    };
    send(world, endpoint, to, wire).await;
    answer_of(world, state, id, rx).await
}

/// The reply request `id` waits for, or (after the operation's timeout, its waiter removed)
/// an internal error: its outcome unknown.
async fn answer_of(
    world: &World,
    state: &Mutex<RouterState>,
    id: u64,
    rx: tokio::sync::oneshot::Receiver<Result<Json, dynasim_engine::Error>>,
) -> Result<Json, dynasim_engine::Error> {
    let timeout = Duration::from_millis(world.scenario.op_timeout_ms);
    match tokio::time::timeout(timeout, rx).await {
        Ok(Ok(result)) => result,
        _ => {
            state.lock().unwrap().waiting.remove(&id);
            Err(dynasim_engine::Error::internal())
        }
    }
}

/// How a decoded request must travel: writes and strongly consistent reads through the log.
pub(super) fn mode_of_request(request: &Request) -> Mode {
    match request {
        Request::GetItem(i) if i.consistent_read != Some(true) => Mode::Eventual,
        Request::Query(i) | Request::Scan(i) if i.consistent_read != Some(true) => Mode::Eventual,
        Request::GetItem(_) | Request::Query(_) | Request::Scan(_) => Mode::Strong,
        _ => Mode::Write,
    }
}
