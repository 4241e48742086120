//! Transactions on the storage nodes: each partition replica runs the engine's participant
//! rules (`engine::txn::Participant`, over the workload's partition keys), replicated through
//! the partition's log like everything else a replica holds.
//!
//! A partition's leader decides at proposal time, on its *view*: what it applied plus the
//! unapplied suffix of its log (as the engine's `Proposer` does for item images), so that two
//! prepares of one item proposed back to back cannot both be accepted. It proposes what it
//! decided (`Cmd::Txn`: an accepted prepare, a commit with the after images the coordinator
//! sent, a cancel), and every replica applies the same rules to the same entries in the same
//! order: the participant state (marks and stamps) is a function of the log, survives leader
//! changes and crashes, and travels in snapshots. A vote, a commit acknowledgement and a
//! cancel acknowledgement are sent only once their entry is applied, so nothing a coordinator
//! heard can be lost with a leader. A single-item write is stamped when it applies and refused
//! (`TransactionConflictException`) while its item is prepared in the leader's view.

use super::snapshot::{Log, Snap};
use super::storage::{GroupState, Misrouted, misrouted, request_key, reroute};
use super::{Cmd, Req, Wire, World};
use dynasim_engine::storage::change::Change;
use dynasim_engine::txn::{Applied, Participant, ParticipantBug, Timestamp, TxId};
use dynasim_engine::{Engine, Error, Request};
use serde_json::Value as Json;
use std::net::SocketAddr;

/// What a coordinator asks of one item's partition (the item is the request's key).
#[derive(Clone, Debug)]
pub enum TxnPart {
    /// Check the action's condition and mark the item; `check`: a ConditionCheck, whose
    /// item does not change. The request is the action as a single-item write.
    Prepare {
        tx: TxId,
        ts: Timestamp,
        check: bool,
    },
    /// Apply `changes` (the after images the prepare computed) if the transaction holds the
    /// item.
    Commit {
        tx: TxId,
        ts: Timestamp,
        changes: Vec<Change>,
    },
    Cancel {
        tx: TxId,
        ts: Timestamp,
    },
    /// A read of a read-only transaction (the request is a strongly consistent GetItem).
    Read,
}

/// A transaction entry of a partition's log.
#[derive(Debug)]
pub enum TxnCmd {
    Prepare {
        tx: TxId,
        ts: Timestamp,
        key: String,
    },
    Commit {
        tx: TxId,
        ts: Timestamp,
        key: String,
        /// Empty when the leader's view held no mark of the transaction (a duplicate).
        changes: Vec<Change>,
        now_ms: u64,
    },
    Cancel {
        tx: TxId,
        ts: Timestamp,
        key: String,
    },
}

/// What a partition answers a coordinator.
#[derive(Debug)]
pub enum TxnAnswer {
    /// The prepare was accepted: the item's after image (none for a ConditionCheck).
    Voted(Vec<Change>),
    /// The commit or cancel is applied.
    Done,
    /// A read-only transaction's read: the GetItem response and the item's stamp.
    Read { response: Json, stamp: Timestamp },
}

/// The participant rule the run's broken variant breaks (none unless it is one of those).
pub fn participant_bug(world: &World) -> ParticipantBug {
    world
        .options
        .bug
        .map_or(ParticipantBug::None, |b| b.participant_bug())
}

/// A snapshot's participant state, running the run's rules.
pub fn restored(world: &World, snap: &Snap) -> Participant<String> {
    let mut p = snap.txn().clone();
    p.bug = participant_bug(world);
    p
}

/// The timestamp of a single-item write a leader executed at its clock `now_ms` (every
/// replica computes the same stamp from the entry).
fn write_stamp(now_ms: u64) -> Timestamp {
    Timestamp::new(now_ms.saturating_mul(1000), u32::MAX, 0)
}

/// Applies a log entry's transaction rules to a participant; returns, for a commit, whether
/// its write applies.
pub fn apply(p: &mut Participant<String>, cmd: &Cmd) -> bool {
    match cmd {
        Cmd::Write {
            key: Some(key),
            now_ms,
            ..
        } => {
            // Decided by the leader, which refused the write if the item was prepared.
            let _ = p.write(key, write_stamp(*now_ms));
            false
        }
        Cmd::Txn(TxnCmd::Prepare { tx, ts, key }) => {
            let _ = p.prepare(key, *tx, *ts);
            false
        }
        Cmd::Txn(TxnCmd::Commit { tx, ts, key, .. }) => p.commit(key, *tx, *ts) == Applied::Write,
        Cmd::Txn(TxnCmd::Cancel { tx, ts, key }) => {
            p.cancel(key, *tx, *ts);
            false
        }
        _ => false,
    }
}

/// The leader's view of its participant: what it applied plus its log's unapplied suffix,
/// rebuilt when its term changes.
pub fn view<'a>(g: &'a mut GroupState, replica: &Log) -> &'a mut Participant<String> {
    if g.txn_view.as_ref().map(|(term, _)| *term) != Some(replica.term()) {
        let mut p = g.txn.clone();
        for i in g.applied + 1..=replica.last_index() {
            if let Some(cmd) = replica.entry(i).and_then(|e| e.payload.as_deref()) {
                apply(&mut p, cmd);
            }
        }
        g.txn_view = Some((replica.term(), p));
    }
    &mut g.txn_view.as_mut().expect("set above").1
}

/// Whether a split waits in the log's unapplied suffix (transactions wait for it: an item's
/// mark must not be split from its partition).
pub fn split_pending(g: &GroupState, replica: &Log) -> bool {
    (g.applied + 1..=replica.last_index()).any(|i| {
        replica
            .entry(i)
            .and_then(|e| e.payload.as_deref())
            .is_some_and(|c| matches!(c, Cmd::Split { .. }))
    })
}

fn reply(req: &Req, result: Result<TxnAnswer, Error>) -> (SocketAddr, Wire) {
    let wire = Wire::TxnReply { id: req.id, result };
    (req.client, wire)
}

/// The leader's decision on a transaction message: the entry to propose and, for a prepare,
/// the vote to send once it is applied; or the answer to send now.
pub enum Decided {
    Propose(Cmd, Option<Vec<Change>>),
    Answer((SocketAddr, Wire)),
}

/// Decides a prepare, a commit or a cancel at the leader (the proposer is in step with the
/// log's suffix: the caller rebuilt it).
pub fn decide(g: &mut GroupState, replica: &Log, req: &Req, part: &TxnPart, now: u64) -> Decided {
    if let Misrouted::Reroute = misrouted(req, g.range) {
        return Decided::Answer(reroute(Box::new(req.clone())));
    }
    let Some(key) = request_key(&req.request) else {
        return Decided::Answer(reply(req, Err(no_key())));
    };
    if split_pending(g, replica) {
        return match part {
            TxnPart::Prepare { .. } => {
                Decided::Answer(reply(req, Err(Error::transaction_conflict())))
            }
            _ => Decided::Answer(reroute(Box::new(req.clone()))),
        };
    }
    match part {
        &TxnPart::Prepare { tx, ts, check } => prepare(g, replica, req, (tx, ts, check), key, now),
        TxnPart::Commit { tx, ts, changes } => {
            let mut p = view(g, replica).clone();
            let writes = p.commit(&key, *tx, *ts) == Applied::Write;
            let changes = if writes { changes.clone() } else { Vec::new() };
            let cmd = TxnCmd::Commit {
                tx: *tx,
                ts: *ts,
                key,
                changes,
                now_ms: now,
            };
            Decided::Propose(Cmd::Txn(cmd), None)
        }
        &TxnPart::Cancel { tx, ts } => {
            Decided::Propose(Cmd::Txn(TxnCmd::Cancel { tx, ts, key }), None)
        }
        TxnPart::Read => Decided::Answer(reply(req, Err(no_key()))),
    }
}

fn no_key() -> Error {
    Error::new(
        dynasim_engine::ErrorKind::InternalServerError,
        "A transaction's action names no item.",
    )
}

/// The prepare rule at the leader: the action's condition on the item as the leader's log
/// will have it, then the participant's rule (no other transaction holds it, nothing newer
/// stamped it).
fn prepare(
    g: &mut GroupState,
    replica: &Log,
    req: &Req,
    (tx, ts, check): (TxId, Timestamp, bool),
    key: String,
    now: u64,
) -> Decided {
    let mut p = view(g, replica).clone();
    if p.prepare(&key, tx, ts).is_err() {
        return Decided::Answer(reply(req, Err(Error::transaction_conflict())));
    }
    let Some(engine) = g.engine.as_mut() else {
        return Decided::Answer(reroute(Box::new(req.clone())));
    };
    let proposal = g.proposer.execute(engine, req.request.clone(), now);
    if let Err(error) = proposal.result {
        return Decided::Answer(reply(req, Err(error)));
    }
    let changes = if check { Vec::new() } else { proposal.changes };
    Decided::Propose(Cmd::Txn(TxnCmd::Prepare { tx, ts, key }), Some(changes))
}

/// A read-only transaction's read, answered from what this leader applied: refused while the
/// item is prepared, otherwise the item and its stamp (the coordinator reads twice and
/// compares).
pub fn read(
    engine: &mut Engine,
    p: &Participant<String>,
    (range, req): (crate::topology::Range, Box<Req>),
    now: u64,
) -> (SocketAddr, Wire) {
    match misrouted(&req, range) {
        Misrouted::No => {}
        _ => return reroute(req),
    }
    let Some(key) = request_key(&req.request) else {
        return reply(&req, Err(no_key()));
    };
    let result = match p.read(&key) {
        Err(_) => Err(Error::transaction_conflict()),
        Ok(stamp) => engine
            .execute(req.request.clone(), now)
            .map(|r| TxnAnswer::Read {
                response: serde_json::to_value(&r).expect("responses serialize"),
                stamp,
            }),
    };
    reply(&req, result)
}

/// The answer a replica sends once it applied the entry it proposed for `req`.
pub fn applied_answer(req: &Req, vote: Option<Vec<Change>>) -> (SocketAddr, Wire) {
    let answer = match vote {
        Some(changes) => TxnAnswer::Voted(changes),
        None => TxnAnswer::Done,
    };
    reply(req, Ok(answer))
}

/// Whether a single-item write of `request` must be refused: its item is prepared in the
/// leader's view.
pub fn write_conflicts(g: &mut GroupState, replica: &Log, request: &Request) -> bool {
    request_key(request).is_some_and(|key| view(g, replica).mark(&key).is_some())
}

/// The bytes of a participant's state in a snapshot: marks, stamps, floor.
pub fn encode(p: &Participant<String>, out: &mut Vec<u8>) {
    let (marks, stamps, floor) = p.parts();
    put(out, marks.len() as u64);
    for (key, mark) in &marks {
        put_key(out, key);
        put(out, mark.tx);
        put_ts(out, mark.ts);
    }
    put(out, stamps.len() as u64);
    for (key, ts) in &stamps {
        put_key(out, key);
        put_ts(out, *ts);
    }
    put_ts(out, floor);
}

/// Reads what [`encode`] wrote at the start of `bytes`; returns the participant (running no
/// broken rule: the host sets it) and the bytes after it.
pub fn decode(bytes: &[u8]) -> Result<(Participant<String>, &[u8]), String> {
    let mut b = bytes;
    let mut marks = Vec::new();
    for _ in 0..take(&mut b)? {
        let key = take_key(&mut b)?;
        let tx = take(&mut b)?;
        let ts = take_ts(&mut b)?;
        marks.push((key, dynasim_engine::txn::Mark { tx, ts }));
    }
    let mut stamps = Vec::new();
    for _ in 0..take(&mut b)? {
        let key = take_key(&mut b)?;
        stamps.push((key, take_ts(&mut b)?));
    }
    let floor = take_ts(&mut b)?;
    let p = Participant::from_parts(marks, stamps, floor, ParticipantBug::None);
    Ok((p, b))
}

fn put(out: &mut Vec<u8>, n: u64) {
    out.extend_from_slice(&n.to_le_bytes());
}

fn put_key(out: &mut Vec<u8>, key: &str) {
    put(out, key.len() as u64);
    out.extend_from_slice(key.as_bytes());
}

fn put_ts(out: &mut Vec<u8>, ts: Timestamp) {
    put(out, ts.micros);
    put(
        out,
        u64::from(ts.coordinator) << 32 | u64::from(ts.sequence),
    );
}

fn take(b: &mut &[u8]) -> Result<u64, String> {
    if b.len() < 8 {
        return Err("a transaction state ends early".into());
    }
    let (head, rest) = b.split_at(8);
    *b = rest;
    Ok(u64::from_le_bytes(head.try_into().expect("8 bytes")))
}

fn take_key(b: &mut &[u8]) -> Result<String, String> {
    let n = take(b)? as usize;
    if b.len() < n {
        return Err("a transaction state's key ends early".into());
    }
    let (head, rest) = b.split_at(n);
    *b = rest;
    String::from_utf8(head.to_vec()).map_err(|_| "a key not in UTF-8".into())
}

fn take_ts(b: &mut &[u8]) -> Result<Timestamp, String> {
    let micros = take(b)?;
    let rest = take(b)?;
    Ok(Timestamp::new(micros, (rest >> 32) as u32, rest as u32))
}

/// The bytes of a transaction log entry (after its kind byte), for the replica's disk.
pub fn encode_cmd(cmd: &TxnCmd, out: &mut Vec<u8>, change: impl Fn(&mut Vec<u8>, &Change)) {
    let (kind, tx, ts, key) = match cmd {
        TxnCmd::Prepare { tx, ts, key } => (1u8, tx, ts, key),
        TxnCmd::Commit { tx, ts, key, .. } => (2, tx, ts, key),
        TxnCmd::Cancel { tx, ts, key } => (3, tx, ts, key),
    };
    out.push(kind);
    put(out, *tx);
    put_ts(out, *ts);
    put_key(out, key);
    if let TxnCmd::Commit {
        changes, now_ms, ..
    } = cmd
    {
        put(out, *now_ms);
        put(out, changes.len() as u64);
        for c in changes {
            change(out, c);
        }
    }
}

/// Reads what [`encode_cmd`] wrote; `change` reads one change and returns the bytes after it.
pub fn decode_cmd(
    bytes: &[u8],
    change: impl Fn(&[u8]) -> Result<(Change, usize), String>,
) -> Result<TxnCmd, String> {
    let (&kind, mut b) = bytes
        .split_first()
        .ok_or("a transaction entry ends early")?;
    let tx = take(&mut b)?;
    let ts = take_ts(&mut b)?;
    let key = take_key(&mut b)?;
    let cmd = match kind {
        1 => TxnCmd::Prepare { tx, ts, key },
        2 => {
            let now_ms = take(&mut b)?;
            let mut changes = Vec::new();
            for _ in 0..take(&mut b)? {
                let (c, used) = change(b)?;
                changes.push(c);
                b = &b[used..];
            }
            TxnCmd::Commit {
                tx,
                ts,
                key,
                changes,
                now_ms,
            }
        }
        3 => TxnCmd::Cancel { tx, ts, key },
        other => return Err(format!("an unknown transaction entry kind {other}")),
    };
    if !b.is_empty() {
        return Err("bytes after a transaction entry".into());
    }
    Ok(cmd)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_participant_state_reads_back_as_written() {
        let mut p = Participant::default();
        p.prepare(&"a/1".to_string(), 7, Timestamp::new(10, 1, 2))
            .unwrap();
        p.write(&"a/2".to_string(), Timestamp::new(20, 3, 0))
            .unwrap();
        let mut out = Vec::new();
        encode(&p, &mut out);
        out.extend_from_slice(b"rest");
        let (back, rest) = decode(&out).unwrap();
        assert_eq!(back, p);
        assert_eq!(rest, b"rest");
        assert!(decode(&out[..out.len() - 10]).is_err());
    }
}
