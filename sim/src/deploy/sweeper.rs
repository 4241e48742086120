//! The Time to Live sweeper, a change-feed component (`deploy/consumer.rs`): it keeps every
//! item's expiry (the `ttl` workload's attribute `exp`, epoch seconds) from the partitions'
//! committed changes and, `ttl_sweep_delay_ms` after an item expired by its own clock, deletes
//! it through a router like any client, with the condition that the item's current expiry is
//! still past (`exp <= :now`): an item whose TTL a write extended meanwhile is not deleted
//! (the broken variant `ttl-sweep-skips-recheck` deletes unconditionally). Each delete is a
//! `ttl-delete` operation of its own process in the history, its input the expiry the sweeper
//! saw and its clock.

#[cfg(doc)]
use super::consumer::Progress;
use super::feed::ItemChange;
use super::{EPOCH_MS, Req, Wire, World, send};
use crate::history::{Event, Kind, Process};
use crate::options::Bug;
use crate::workloads::{self, Mode, ttl::TTL_ATTRIBUTE};
use dynasim_engine::{Item, Request, Value};
use madsim::net::Endpoint;
use serde_json::{Value as Json, json};
use std::collections::BTreeMap;
use std::sync::Arc;

/// The first history process number of the sweeper's deletes (one process per delete).
pub const SWEEP_PROCESS: u64 = 3_000_000;

/// Deletes in flight at most.
const IN_FLIGHT_MAX: usize = 8;

/// An item the sweeper may delete: its expiry and partition key.
#[derive(Clone, Debug)]
pub struct Due {
    exp: i64,
    pk: String,
}

/// A delete in flight: the item, its history process and when it was sent (ns).
#[derive(Debug)]
pub struct Sweep {
    item: (usize, String),
    process: u64,
    sent_ns: u64,
}

/// The sweeper's volatile state: deletes in flight (a crash forgets them; their outcome stays
/// unknown) and the next delete's number.
#[derive(Debug, Default)]
pub struct Sweeps {
    in_flight: BTreeMap<u64, Sweep>,
    next: u64,
}

impl Sweeps {
    /// Whether a delete is in flight.
    pub fn busy(&self) -> bool {
        !self.in_flight.is_empty()
    }

    /// After a restart: nothing in flight.
    pub fn restart(&mut self) {
        self.in_flight.clear();
    }
}

/// Keeps the expiry of a changed item (none: deleted, or no expiry).
pub(super) fn note(world: &World, due: &mut BTreeMap<(usize, String), Due>, change: &ItemChange) {
    let Some((table, key)) = super::consumer::changed_item(world, change) else {
        return;
    };
    match change.after.as_ref().and_then(expiry_of) {
        Some((exp, pk)) => {
            due.insert((table, key), Due { exp, pk });
        }
        None => {
            due.remove(&(table, key));
        }
    }
}

fn expiry_of(item: &Item) -> Option<(i64, String)> {
    let Some(Value::N(exp)) = item.get(TTL_ATTRIBUTE) else {
        return None;
    };
    let Some(Value::S(pk)) = item.get(workloads::PARTITION_KEY) else {
        return None;
    };
    Some((exp.to_i64()?, pk.clone()))
}

/// One sweep: gives up on deletes unanswered past the operation timeout, then sends deletes
/// of expired items not in flight.
pub(super) async fn sweep(world: &World, c: usize, endpoint: &Arc<Endpoint>) {
    let now_ms = EPOCH_MS + world.elapsed_ms();
    let now_s = (now_ms / 1000) as i64;
    let delay = world.scenario.deployment.ttl_sweep_delay_ms;
    let timeout_ns = world.scenario.op_timeout_ms * 1_000_000;
    let mut out = Vec::new();
    // Once the clients stopped the sweeper stops too (the final reads and the convergence
    // wait need the tables quiet); what it has in flight completes.
    let stopped = world
        .stop_clients
        .load(std::sync::atomic::Ordering::Relaxed);
    {
        let mut state = world.feeds[c].lock().unwrap();
        let state = &mut *state;
        let now_ns = world.now_ns();
        let stale: Vec<u64> = state
            .sweeps
            .in_flight
            .iter()
            .filter(|(_, s)| now_ns > s.sent_ns + timeout_ns)
            .map(|(&id, _)| id)
            .collect();
        for id in stale {
            let sweep = state.sweeps.in_flight.remove(&id).expect("listed");
            complete(world, &sweep, Kind::Info, Some("RequestTimeout"));
        }
        let expired: Vec<((usize, String), Due)> = state
            .live
            .due
            .iter()
            .filter(|(_, d)| d.exp >= 0 && (d.exp as u64) * 1000 + delay <= now_ms)
            .filter(|(item, _)| !state.sweeps.in_flight.values().any(|s| &s.item == *item))
            .map(|(item, d)| (item.clone(), d.clone()))
            .collect();
        for (item, due) in expired {
            if stopped || state.sweeps.in_flight.len() >= IN_FLIGHT_MAX {
                break;
            }
            state.sweeps.next += 1;
            let id = state.sweeps.next;
            let process = SWEEP_PROCESS + id;
            let req = delete_request(world, endpoint, (id, process), &item, &due, now_s);
            invoke(world, process, &item.1, due.exp, now_s);
            let sweep = Sweep {
                item,
                process,
                sent_ns: now_ns,
            };
            state.sweeps.in_flight.insert(id, sweep);
            out.push(req);
        }
    }
    for (router, wire) in out {
        send(world, endpoint, router, wire).await;
    }
}

/// The conditional DeleteItem of an expired item, routed as a client's write.
fn delete_request(
    world: &World,
    endpoint: &Arc<Endpoint>,
    (id, process): (u64, u64),
    (table, _): &(usize, String),
    due: &Due,
    now_s: i64,
) -> (std::net::SocketAddr, Wire) {
    let name = &world.topology.tables[*table].name;
    let mut body = json!({"TableName": name, "Key": {"pk": {"S": due.pk}}});
    if !world.bug(Bug::TtlSweepSkipsRecheck) {
        body["ConditionExpression"] = json!(format!("{TTL_ATTRIBUTE} <= :now"));
        body["ExpressionAttributeValues"] = json!({":now": {"N": now_s.to_string()}});
    }
    let request = Request::DeleteItem(serde_json::from_value(body).expect("a valid DeleteItem"));
    let router = world.topology.router_for(*table, process);
    let req = Req {
        id: SWEEP_PROCESS * 1_000 + id,
        client: endpoint.local_addr().expect("bound"),
        router,
        table: *table,
        group: 0,
        mode: Mode::Write,
        request,
        hops: 0,
        range: None,
        txn: None,
    };
    (
        router,
        Wire::Route {
            req: Box::new(req),
            group: None,
        },
    )
}

fn invoke(world: &World, process: u64, key: &str, exp: i64, now_s: i64) {
    let mut e = Event::new(
        Process::Client(process),
        Kind::Invoke,
        "ttl-delete",
        world.now_ns(),
    );
    e.key = Some(key.to_string());
    e.value = json!({"exp": exp, "now": now_s});
    world.record(e);
}

fn complete(world: &World, sweep: &Sweep, kind: Kind, error: Option<&str>) {
    let mut e = Event::new(
        Process::Client(sweep.process),
        kind,
        "ttl-delete",
        world.now_ns(),
    );
    e.key = Some(sweep.item.1.clone());
    e.error = error.map(str::to_string);
    world.record(e);
}

/// A router's answer to one of the sweeper's deletes.
pub(super) fn on_reply(
    world: &World,
    c: usize,
    id: u64,
    result: Result<Json, dynasim_engine::Error>,
) {
    let mut state = world.feeds[c].lock().unwrap();
    let Some(sweep) = state.sweeps.in_flight.remove(&(id - SWEEP_PROCESS * 1_000)) else {
        return;
    };
    match result {
        Ok(_) => complete(world, &sweep, Kind::Ok, None),
        Err(e) if e.kind == dynasim_engine::ErrorKind::InternalServerError => {
            complete(world, &sweep, Kind::Info, Some(e.kind.name()))
        }
        Err(e) => complete(world, &sweep, Kind::Fail, Some(e.kind.name())),
    }
}

/// The items the sweeper may delete, by table and history key (part of [`Progress`]).
pub type DueItems = BTreeMap<(usize, String), Due>;
