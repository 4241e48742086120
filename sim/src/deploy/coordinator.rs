//! Transaction coordinators, each on a node of its own with its own (possibly skewed) clock
//! (`deployment.coordinators`, `coordinator_skew_ms`): a client's TransactWriteItems or
//! TransactGetItems goes to one, which runs the engine's coordinator state machine
//! (`engine::txn::Coordinator`) over the partitions' leaders through the routers, as the
//! ATC 2023 paper describes the service's transaction coordinators:
//!
//! - a write transaction takes a timestamp from the coordinator's clock, is begun in the
//!   ledger, prepares every item (each partition's leader checks the condition and marks the
//!   item, `deploy::txn`), records the decision in the ledger (the first decision recorded
//!   wins) and sends it to every item until each partition acknowledged it, then answers;
//! - a read-only transaction reads every item twice from its leader and answers only if no
//!   item was prepared or changed its stamp between the two reads (it tries three times,
//!   then is cancelled with `TransactionConflict`);
//! - the ledger (`Books`, the service's ledger table, which outlives any coordinator) keeps
//!   each transaction's items and, once committed, their after images: a coordinator finds
//!   transactions nobody has worked on for a while (their coordinator crashed between
//!   prepare and commit, the `coordinator-crash` fault) and finishes them, committing what the
//!   ledger says committed and cancelling the rest.
//!
//! Every message is retried until answered: prepares, commits and cancels are idempotent at
//! the participants.

use super::txn::{TxnAnswer, TxnPart};
use super::{EPOCH_MS, Req, TAG, Wire, World, send};
use crate::history::{Event, Kind, Process};
use crate::options::Bug;
use crate::workloads::Mode;
use dynasim_engine::storage::change::Change;
use dynasim_engine::txn::{Coordinator, Decision, Ledger, Send, Timestamp, TxId};
use dynasim_engine::{CancellationReason, Error, ErrorKind, Request};
use madsim::net::Endpoint;
use serde_json::{Value as Json, json};
use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;
use tokio::time::Instant;

/// How long a coordinator waits for an answer before sending a message again.
const RESEND_MS: u64 = 150;
/// A transaction nobody worked on for this long is finished by another coordinator.
const RECOVER_AFTER_MS: u64 = 1_500;
/// How often a coordinator looks for such transactions.
const RECOVERY_SCAN_MS: u64 = 250;
/// Attempts of a read-only transaction before it is cancelled.
const READ_ATTEMPTS: usize = 3;

/// One item of a transaction: its table, the action as a single-item request, and whether
/// it is a ConditionCheck (its item does not change).
#[derive(Clone, Debug)]
pub struct ItemPart {
    table: usize,
    request: Request,
    check: bool,
}

/// What the ledger keeps of one transaction besides its record.
struct Book {
    /// The coordinator that began it.
    by: usize,
    ts: Timestamp,
    items: Vec<ItemPart>,
    /// The after images, recorded before a commit decision.
    images: Vec<Vec<Change>>,
    /// When a coordinator last worked on it ([`World::now_ns`]).
    touched_ns: u64,
    /// Items whose partition acknowledged the decision.
    acked: usize,
}

/// The ledger and the transactions' items: shared by every coordinator (the service keeps
/// them in a table of their own, replicated; here they survive any coordinator's crash).
#[derive(Default)]
pub struct Books {
    ledger: Ledger,
    books: BTreeMap<TxId, Book>,
    next_tx: TxId,
}

/// The clock of coordinator `c` in microseconds: the engine's epoch plus simulated time plus
/// the coordinator's skew.
fn clock_us(world: &World, c: usize) -> u64 {
    let skew_ms = world
        .scenario
        .deployment
        .coordinator_skew_ms
        .get(c)
        .copied()
        .unwrap_or(0);
    let now = EPOCH_MS as i64 * 1000 + world.start.elapsed().as_micros() as i64;
    (now + skew_ms * 1000).max(0) as u64
}

/// A coordinator node: takes clients' transactions, each in a task of its own, and finishes
/// stalled transactions of any coordinator.
pub(super) async fn coordinator_node(world: Arc<World>, c: usize) {
    let info = world.topology.coordinators[c].clone();
    let endpoint = Arc::new(Endpoint::bind(info.addr()).await.expect("bind"));
    madsim::task::spawn(recovery(world.clone(), c, info.addr().port() + 1));
    let mut port = info.addr().port() + 1;
    loop {
        let Ok((payload, _)) = endpoint.recv_from_raw(TAG).await else {
            continue;
        };
        let Ok(wire) = payload.downcast::<Wire>() else {
            continue;
        };
        if let Wire::Txn {
            id,
            client,
            operation,
            body,
        } = *wire
        {
            port = next_port(port, info.addr().port());
            let world = world.clone();
            madsim::task::spawn(async move {
                let mut session = Session::bind(&world, c, port).await;
                let result = match operation {
                    "TransactWriteItems" => write(&world, &mut session, &body).await,
                    _ => read(&world, &mut session, &body).await,
                };
                let node = world.topology.coordinators[c].name.clone();
                let reply = Wire::Reply { id, result, node };
                send(&world, &session.endpoint, client, reply).await;
            });
        }
    }
}

/// The port of a coordinator's next task (its own endpoint), after `port`.
fn next_port(port: u16, base: u16) -> u16 {
    if port >= 60_000 { base + 2 } else { port + 1 }
}

/// One coordinator task's endpoint and message ids.
struct Session {
    c: usize,
    endpoint: Arc<Endpoint>,
    next_id: u64,
}

impl Session {
    async fn bind(world: &World, c: usize, port: u16) -> Session {
        let addr = SocketAddr::new(world.topology.coordinators[c].ip, port);
        let endpoint = Arc::new(Endpoint::bind(addr).await.expect("bind"));
        Session {
            c,
            endpoint,
            next_id: 0,
        }
    }
}

/// The items of a TransactWriteItems (each action as the single-item write it prepares) or a
/// TransactGetItems (each Get as a strongly consistent GetItem).
fn items(world: &World, body: &Json) -> Result<Vec<ItemPart>, Error> {
    let invalid = || Error::validation("The transaction's items are not well formed.");
    let actions = body["TransactItems"].as_array().ok_or_else(invalid)?;
    let mut items = Vec::new();
    for action in actions {
        let (kind, member) = action
            .as_object()
            .and_then(|o| o.iter().next())
            .ok_or_else(invalid)?;
        // ReturnValuesOnConditionCheckFailure stays: the single-item write the item prepares
        // honours it, and its failure's item becomes the action's cancellation reason's.
        let mut input = member.clone();
        let name = input["TableName"].as_str().ok_or_else(invalid)?;
        let table = world
            .topology
            .tables
            .iter()
            .position(|t| t.name == name)
            .ok_or_else(invalid)?;
        fn parse<T: serde::de::DeserializeOwned>(v: Json) -> Result<T, Error> {
            serde_json::from_value(v)
                .map_err(|_| Error::validation("An action is not well formed."))
        }
        let request = match kind.as_str() {
            "Put" => Request::PutItem(parse(input)?),
            "Update" => Request::UpdateItem(parse(input)?),
            "Delete" | "ConditionCheck" => Request::DeleteItem(parse(input)?),
            "Get" => {
                input["ConsistentRead"] = json!(true);
                Request::GetItem(parse(input)?)
            }
            _ => return Err(invalid()),
        };
        let check = kind == "ConditionCheck";
        items.push(ItemPart {
            table,
            request,
            check,
        });
    }
    Ok(items)
}

/// A write transaction: prepare every item, record the decision, finish it.
async fn write(world: &World, session: &mut Session, body: &Json) -> Result<Json, Error> {
    let items = items(world, body)?;
    let (tx, ts) = begin(world, session.c, &items);
    let (mut coordinator, _) = Coordinator::start(tx, ts, items.len());
    let deadline = Instant::now() + Duration::from_millis(world.scenario.op_timeout_ms / 2);
    let mut images = vec![Vec::new(); items.len()];
    let mut reasons: Vec<CancellationReason> = (0..items.len())
        .map(|_| CancellationReason::none())
        .collect();
    let mut decision = None;
    let prepare = |i: usize| TxnPart::Prepare {
        tx,
        ts,
        check: items[i].check,
    };
    let mut on_answer = |i: usize, answer: Result<TxnAnswer, Error>| {
        let accepted = match answer {
            Ok(TxnAnswer::Voted(changes)) => {
                images[i] = changes;
                true
            }
            Ok(_) => true,
            Err(error) => {
                reasons[i] = reason(error);
                false
            }
        };
        decision = decision.or(coordinator.on_vote(i, accepted));
        if decision.is_some() {
            Flow::Stop
        } else {
            Flow::Done
        }
    };
    let all: Vec<usize> = (0..items.len()).collect();
    exchange(
        world,
        session,
        &items,
        (&all, prepare),
        deadline,
        &mut on_answer,
    )
    .await;
    if decision.is_none() {
        // A partition never answered in time: cancelled, that item's reason a conflict.
        for r in reasons.iter_mut().filter(|r| r.code == "None") {
            *r = CancellationReason::conflict();
        }
    }
    let recorded = decide(world, tx, decision.unwrap_or(Decision::Cancel), images);
    let sends = coordinator.decided(recorded);
    finish(world, session, tx, &items, sends).await;
    match recorded {
        Decision::Commit => Ok(json!({})),
        Decision::Cancel => Err(Error::transaction_canceled(reasons)),
    }
}

/// A refusal as the cancellation reason DynamoDB reports for its action.
fn reason(error: Error) -> CancellationReason {
    match error.kind {
        ErrorKind::TransactionConflict => CancellationReason::conflict(),
        _ => CancellationReason::from_error(error),
    }
}

/// Begins a transaction in the ledger: its id and its timestamp from coordinator `c`'s clock.
fn begin(world: &World, c: usize, items: &[ItemPart]) -> (TxId, Timestamp) {
    let mut books = world.ledger.lock().unwrap();
    books.next_tx += 1;
    let tx = books.next_tx;
    let ts = Timestamp::new(clock_us(world, c), c as u32, tx as u32);
    books.ledger.begin(tx, ts, items.len());
    let book = Book {
        by: c,
        ts,
        items: items.to_vec(),
        images: Vec::new(),
        touched_ns: world.now_ns(),
        acked: 0,
    };
    books.books.insert(tx, book);
    (tx, ts)
}

/// Whether coordinator `c` is in the middle of committing a transaction it began: the
/// commit is recorded, and some partitions acknowledged it but not all (the window a
/// `coordinator-crash` waits for).
pub(super) fn committing(world: &World, c: usize) -> bool {
    let books = world.ledger.lock().unwrap();
    books.ledger.unfinished().any(|(tx, record)| {
        record.decision == Some(Decision::Commit)
            && books
                .books
                .get(&tx)
                .is_some_and(|b| b.by == c && b.acked > 0 && b.acked < b.items.len())
    })
}

/// Records `decision` (with the after images, for whoever finishes a commit) unless one is
/// recorded already; returns the one recorded.
fn decide(world: &World, tx: TxId, decision: Decision, images: Vec<Vec<Change>>) -> Decision {
    let mut books = world.ledger.lock().unwrap();
    let Books { ledger, books, .. } = &mut *books;
    let book = books.get_mut(&tx).expect("begun");
    if decision == Decision::Commit && book.images.is_empty() {
        book.images = images;
    }
    book.touched_ns = world.now_ns();
    ledger.decide(tx, decision).expect("begun")
}

/// Sends the recorded decision to every item until each partition acknowledged it (touching
/// the ledger's record meanwhile, so that no other coordinator takes over), then marks the
/// transaction finished. Gives up after [`FINISH_ROUNDS`], leaving it to recovery.
async fn finish(
    world: &World,
    session: &mut Session,
    tx: TxId,
    items: &[ItemPart],
    sends: Vec<Send>,
) -> bool {
    let (ts, images) = {
        let books = world.ledger.lock().unwrap();
        let book = &books.books[&tx];
        (book.ts, book.images.clone())
    };
    let commit = matches!(sends.first(), Some(Send::Commit(_)));
    let part = |i: usize| {
        if commit {
            let changes = images.get(i).cloned().unwrap_or_default();
            TxnPart::Commit { tx, ts, changes }
        } else {
            TxnPart::Cancel { tx, ts }
        }
    };
    let mut left: Vec<usize> = sends
        .iter()
        .map(|s| match s {
            Send::Prepare(i) | Send::Commit(i) | Send::Cancel(i) => *i,
        })
        .collect();
    for _ in 0..FINISH_ROUNDS {
        touch(world, tx);
        let deadline = Instant::now() + Duration::from_millis(RESEND_MS * 4);
        let mut on_answer = |_: usize, answer: Result<TxnAnswer, Error>| match answer {
            Ok(_) => {
                if let Some(book) = world.ledger.lock().unwrap().books.get_mut(&tx) {
                    book.acked += 1;
                }
                Flow::Done
            }
            Err(_) => Flow::Again,
        };
        let done = exchange(
            world,
            session,
            items,
            (&left, part),
            deadline,
            &mut on_answer,
        )
        .await;
        left.retain(|i| !done.contains(i));
        if left.is_empty() {
            world.ledger.lock().unwrap().ledger.finish(tx);
            return true;
        }
    }
    false
}

/// Rounds of [`finish`] (of `4 * RESEND_MS` each) before a coordinator leaves a transaction
/// to recovery.
const FINISH_ROUNDS: usize = 50;

fn touch(world: &World, tx: TxId) {
    if let Some(book) = world.ledger.lock().unwrap().books.get_mut(&tx) {
        book.touched_ns = world.now_ns();
    }
}

/// What an answer does to an [`exchange`].
enum Flow {
    /// The item is done.
    Done,
    /// The item is asked again.
    Again,
    /// The exchange is over (a decision was reached).
    Stop,
}

/// Sends `part(i)` about each item `i` of `which` through the routers and collects the
/// answers, sending again what is unanswered every `RESEND_MS`, until `deadline`, every item
/// is done, or an answer stops it. Returns the items done.
async fn exchange(
    world: &World,
    session: &mut Session,
    items: &[ItemPart],
    (which, part): (&[usize], impl Fn(usize) -> TxnPart),
    deadline: Instant,
    on_answer: &mut impl FnMut(usize, Result<TxnAnswer, Error>) -> Flow,
) -> Vec<usize> {
    let mut done: Vec<usize> = Vec::new();
    let mut ids: BTreeMap<u64, usize> = BTreeMap::new();
    while Instant::now() < deadline && done.len() < which.len() {
        for &i in which.iter().filter(|i| !done.contains(i)) {
            session.next_id += 1;
            ids.insert(session.next_id, i);
            send_part(world, session, &items[i], part(i)).await;
        }
        let round = (Instant::now() + Duration::from_millis(RESEND_MS)).min(deadline);
        while done.len() < which.len() {
            let Some((id, answer)) = next_answer(&session.endpoint, round).await else {
                break;
            };
            let Some(&i) = ids.get(&id) else { continue };
            if done.contains(&i) {
                continue;
            }
            match on_answer(i, answer) {
                Flow::Done => done.push(i),
                Flow::Again => {}
                Flow::Stop => {
                    done.push(i);
                    return done;
                }
            }
        }
    }
    done
}

/// Sends one message about an item to a router of its table.
async fn send_part(world: &World, session: &Session, item: &ItemPart, part: TxnPart) {
    let mode = match part {
        TxnPart::Read => Mode::Strong,
        _ => Mode::Write,
    };
    let router = world.topology.router_for(item.table, session.next_id);
    let req = Req {
        id: session.next_id,
        client: session.endpoint.local_addr().expect("bound"),
        router,
        table: item.table,
        group: 0,
        mode,
        request: item.request.clone(),
        hops: 0,
        range: None,
        txn: Some(part),
    };
    let wire = Wire::Route {
        req: Box::new(req),
        group: None,
    };
    send(world, &session.endpoint, router, wire).await;
}

/// The next answer to arrive before `until`: a partition's, or a router's refusal (a storm).
/// An unavailable partition's 500 is dropped: the message is sent again.
async fn next_answer(
    endpoint: &Arc<Endpoint>,
    until: Instant,
) -> Option<(u64, Result<TxnAnswer, Error>)> {
    loop {
        let left = until.saturating_duration_since(Instant::now());
        let Ok(Ok((payload, _))) = tokio::time::timeout(left, endpoint.recv_from_raw(TAG)).await
        else {
            return None;
        };
        let Ok(wire) = payload.downcast::<Wire>() else {
            continue;
        };
        let (id, answer) = match *wire {
            Wire::TxnReply { id, result, .. } => (id, result),
            Wire::Reply { id, result, .. } => (id, result.map(|_| TxnAnswer::Done)),
            _ => continue,
        };
        if answer
            .as_ref()
            .is_err_and(|e| e.kind == ErrorKind::InternalServerError)
        {
            continue;
        }
        return Some((id, answer));
    }
}

/// A read-only transaction: every item read twice; answered if nothing changed between.
async fn read(world: &World, session: &mut Session, body: &Json) -> Result<Json, Error> {
    let items = items(world, body)?;
    let all: Vec<usize> = (0..items.len()).collect();
    for _ in 0..READ_ATTEMPTS {
        let Some(first) = read_round(world, session, &items, &all).await else {
            continue;
        };
        if world.bug(Bug::TxnReadsOnce) {
            return Ok(responses(first));
        }
        let Some(second) = read_round(world, session, &items, &all).await else {
            continue;
        };
        if first == second {
            return Ok(responses(second));
        }
    }
    let reasons = (0..items.len())
        .map(|_| CancellationReason::conflict())
        .collect();
    Err(Error::transaction_canceled(reasons))
}

/// One round of reads: each item's GetItem response and stamp, or `None` if one was refused
/// (prepared) or unanswered in time.
async fn read_round(
    world: &World,
    session: &mut Session,
    items: &[ItemPart],
    all: &[usize],
) -> Option<Vec<(Json, Timestamp)>> {
    let deadline = Instant::now() + Duration::from_millis(world.scenario.op_timeout_ms / 4);
    let mut got: Vec<Option<(Json, Timestamp)>> = vec![None; items.len()];
    let mut refused = false;
    let mut on_answer = |i: usize, answer: Result<TxnAnswer, Error>| match answer {
        Ok(TxnAnswer::Read { response, stamp }) => {
            got[i] = Some((response, stamp));
            Flow::Done
        }
        _ => {
            refused = true;
            Flow::Stop
        }
    };
    exchange(
        world,
        session,
        items,
        (all, |_| TxnPart::Read),
        deadline,
        &mut on_answer,
    )
    .await;
    if refused {
        return None;
    }
    got.into_iter().collect()
}

/// TransactGetItems' answer: each Get's item, in request order.
fn responses(reads: Vec<(Json, Timestamp)>) -> Json {
    let responses: Vec<Json> = reads
        .into_iter()
        .map(|(response, _)| match response.get("Item") {
            Some(item) => json!({"Item": item}),
            None => json!({}),
        })
        .collect();
    json!({"Responses": responses})
}

/// Finishes transactions nobody worked on for [`RECOVER_AFTER_MS`] (their coordinator
/// crashed, or gave up): the ledger's decision, or a cancel if none is recorded.
async fn recovery(world: Arc<World>, c: usize, port: u16) {
    let mut session = Session::bind(&world, c, port).await;
    loop {
        tokio::time::sleep(Duration::from_millis(RECOVERY_SCAN_MS)).await;
        let stalled = {
            let books = world.ledger.lock().unwrap();
            let now = world.now_ns();
            let cutoff = now.saturating_sub(RECOVER_AFTER_MS * 1_000_000);
            books
                .ledger
                .unfinished()
                .filter(|(tx, _)| books.books.get(tx).is_some_and(|b| b.touched_ns < cutoff))
                .map(|(tx, record)| (tx, *record))
                .next()
        };
        let Some((tx, record)) = stalled else {
            continue;
        };
        let items = world.ledger.lock().unwrap().books[&tx].items.clone();
        let recorded = decide(world.as_ref(), tx, Decision::Cancel, Vec::new());
        let mut coordinator = Coordinator::recover(tx, record.ts, record.actions, Some(recorded));
        let sends = coordinator.decided(recorded);
        let finished = finish(&world, &mut session, tx, &items, sends).await;
        record_recovery(&world, c, tx, recorded, finished);
    }
}

/// Records that coordinator `c` finished (or tried to finish) a stalled transaction.
fn record_recovery(world: &World, c: usize, tx: TxId, decision: Decision, finished: bool) {
    let mut e = Event::new(
        Process::Named("coordinator".into()),
        Kind::Info,
        "recover",
        world.now_ns(),
    );
    e.value = json!({
        "coordinator": world.topology.coordinators[c].name,
        "tx": tx,
        "decision": match decision { Decision::Commit => "commit", Decision::Cancel => "cancel" },
        "finished": finished,
    });
    world.record(e);
}
