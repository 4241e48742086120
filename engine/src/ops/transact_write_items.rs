//! TransactWriteItems: every action validated into the single-item plans (a ConditionCheck is
//! a DeleteItem plan that is never written), then the transaction protocol of `txn`: prepare
//! each action on its table's participant (conflicts, throttling, the condition, the
//! collection limit), the decision recorded in the ledger, then commit (the prepared after
//! images written through `Table::apply`, so streams and indexes see committed writes only)
//! or cancel. With the profile's commit delay the commit waits, the items held prepared; with
//! its commit spread each item commits at its own drawn point (`commit_due`), the rest held
//! prepared meanwhile, and the answer waits for the last.

use super::common::RETURN_CONSUMED_CAPACITY;
use super::delete_item::{self, DeleteItem};
use super::put_item::{self, PutItem};
use super::update_item::{self, UpdateItem};
use super::{ItemWrite, Rejection, Target};
use crate::api::{
    ConsumedCapacity, PendingTransaction, Response, TransactAction, TransactWriteItem,
    TransactWriteItemsInput, TransactWriteItemsOutput, WriteInput,
};
use crate::capacity::units::{ReturnConsumedCapacity, read_units};
use crate::data::index::IndexWrites;
use crate::data::mutation::Mutation;
use crate::engine::Engine;
use crate::error::{CancellationReason, ConstraintErrors, Error, Result, constraint};
use crate::limits::{TRANSACTION_ACTIONS_MAX, TRANSACTION_BYTES_MAX};
use crate::txn::host::TokenCheck;
use crate::txn::{Coordinator, Decision, Send, Timestamp, TxId};
use crate::types::item::{Item, item_size_bytes};
use std::borrow::Cow;
use std::collections::BTreeMap;

/// One validated action.
#[derive(Debug)]
pub(crate) enum Action {
    Check(DeleteItem),
    Put(PutItem),
    Update(UpdateItem),
    Delete(DeleteItem),
}

impl Action {
    fn target(&self) -> &Target {
        match self {
            Action::Check(p) | Action::Delete(p) => p.target(),
            Action::Put(p) => p.target(),
            Action::Update(p) => p.target(),
        }
    }

    fn apply<'a>(
        &'a self,
        table: &crate::data::table::Table,
        previous: Option<&'a Item>,
    ) -> std::result::Result<super::Write<'a>, Rejection> {
        match self {
            Action::Check(p) | Action::Delete(p) => p.apply(table, previous),
            Action::Put(p) => p.apply(table, previous),
            Action::Update(p) => p.apply(table, previous),
        }
    }
}

/// A checked TransactWriteItems.
#[derive(Debug)]
pub(crate) struct Plan {
    actions: Vec<Action>,
    token: Option<String>,
    fingerprint: u64,
    capacity: ReturnConsumedCapacity,
}

/// What an accepted prepare fixed: the after image a write commits (`None` for a
/// ConditionCheck), and the units of one underlying access.
#[derive(Debug)]
struct Prepared {
    after: Option<Option<Item>>,
    units: f64,
}

/// A transaction decided to commit whose items are not all committed yet: waiting out the
/// commit delay, or (under a commit spread) committed one item at a time.
#[derive(Debug)]
pub(crate) struct PendingCommit {
    plan: Plan,
    prepared: Vec<Prepared>,
    coordinator: Coordinator,
    /// The actions still to commit and when each is due, soonest first.
    left: Vec<(u64, usize)>,
    usage: Usage,
    /// When the last action is due: the answer waits for it.
    pub(crate) due_ms: u64,
}

impl PendingCommit {
    /// When the next action is due.
    pub(crate) fn next_due_ms(&self) -> u64 {
        self.left.first().map_or(self.due_ms, |(due, _)| *due)
    }
}

pub(crate) fn execute(
    engine: &mut Engine,
    input: &TransactWriteItemsInput,
    now_ms: u64,
) -> Result<Response> {
    let plan = validate(engine, input, now_ms)?;
    if let Some(token) = &plan.token {
        match engine
            .transactions
            .check_token(token, plan.fingerprint, now_ms)
        {
            TokenCheck::New => {}
            TokenCheck::Replay => return Ok(replayed(engine, &plan)),
            TokenCheck::Mismatch => return Err(Error::idempotent_parameter_mismatch()),
            TokenCheck::InProgress => return Err(Error::transaction_in_progress()),
        }
    }
    let token = plan.token.clone();
    let answer = run(engine, plan, now_ms);
    if let Some(token) = token
        && !matches!(answer, Ok(Response::Pending(_)))
    {
        engine
            .transactions
            .complete_token(&token, answer.is_ok(), now_ms);
    }
    answer
}

fn validate(engine: &Engine, input: &TransactWriteItemsInput, now_ms: u64) -> Result<Plan> {
    check_shapes(input)?;
    let items = input.transact_items.as_deref().unwrap_or_default();
    let mut actions = Vec::with_capacity(items.len());
    let mut bytes = 0;
    for item in items {
        let (action, size) = action_plan(engine, item, input, now_ms)?;
        bytes += size;
        actions.push(action);
    }
    let mut seen = std::collections::BTreeSet::new();
    for action in &actions {
        let target = action.target();
        if !seen.insert((target.table.as_str(), &target.key[..])) {
            return Err(Error::transaction_item_twice());
        }
    }
    if bytes > TRANSACTION_BYTES_MAX {
        return Err(Error::transaction_too_large());
    }
    Ok(Plan {
        actions,
        token: input.client_request_token.clone(),
        // The parameters a token binds are the actions; what the answer reports
        // (ReturnConsumedCapacity, ReturnItemCollectionMetrics) may differ (ours).
        fingerprint: fingerprint(&format!("{:?}", input.transact_items)),
        capacity: ReturnConsumedCapacity::parse(input.return_consumed_capacity.as_deref()),
    })
}

/// A stable hash of a request's parameters (SipHash with fixed keys: the same in every run).
fn fingerprint(text: &str) -> u64 {
    use std::hash::{Hash, Hasher};
    #[allow(deprecated)]
    let mut hasher = std::hash::SipHasher::new();
    text.hash(&mut hasher);
    hasher.finish()
}

/// The member each action kind is named by in constraint paths, and the action.
fn members(item: &TransactWriteItem) -> Vec<(&'static str, &TransactAction)> {
    [
        ("conditionCheck", &item.condition_check),
        ("put", &item.put),
        ("update", &item.update),
        ("delete", &item.delete),
    ]
    .into_iter()
    .filter_map(|(name, action)| action.as_ref().map(|a| (name, a)))
    .collect()
}

/// The request's shape: the list's length, the enumerations, the token, and each action's
/// required members, every failure in one message.
fn check_shapes(input: &TransactWriteItemsInput) -> Result<()> {
    let mut errors = ConstraintErrors::new();
    errors.enumeration(
        &input.return_consumed_capacity,
        "returnConsumedCapacity",
        &RETURN_CONSUMED_CAPACITY,
    );
    errors.enumeration(
        &input.return_item_collection_metrics,
        "returnItemCollectionMetrics",
        &["SIZE", "NONE"],
    );
    check_token_shape(&mut errors, &input.client_request_token);
    match &input.transact_items {
        None => errors.push("null", "transactItems", constraint::NOT_NULL),
        Some(items) if items.is_empty() => {
            errors.list_not_empty(&input.transact_items, "transactItems")
        }
        Some(items) if items.len() > TRANSACTION_ACTIONS_MAX => {
            return Err(Error::transact_items_too_many());
        }
        Some(items) => {
            if items.iter().any(|i| members(i).len() != 1) {
                return Err(Error::transact_item_not_one_action());
            }
            for (n, item) in items.iter().enumerate() {
                let (name, action) = members(item)[0];
                check_action_shape(
                    &mut errors,
                    &format!("transactItems.{}.member.{name}", n + 1),
                    name,
                    action,
                );
            }
        }
    }
    errors.into_result()
}

pub(crate) fn check_token_shape(errors: &mut ConstraintErrors, token: &Option<String>) {
    if let Some(token) = token {
        let length = token.chars().count();
        if length == 0 {
            errors.push("''", "clientRequestToken", &constraint::length_at_least(1));
        } else if length > 36 {
            errors.push(
                &format!("'{token}'"),
                "clientRequestToken",
                &constraint::length_at_most(36),
            );
        }
    }
}

fn check_action_shape(
    errors: &mut ConstraintErrors,
    path: &str,
    name: &str,
    action: &TransactAction,
) {
    errors.not_null(&action.table_name, &format!("{path}.tableName"));
    errors.name(&action.table_name, &format!("{path}.tableName"), true);
    if name == "put" {
        errors.not_null(&action.item, &format!("{path}.item"));
    } else {
        errors.not_null(&action.key, &format!("{path}.key"));
    }
    if name == "conditionCheck" {
        errors.not_null(
            &action.condition_expression,
            &format!("{path}.conditionExpression"),
        );
    }
    if name == "update" {
        errors.not_null(
            &action.update_expression,
            &format!("{path}.updateExpression"),
        );
    }
    errors.enumeration(
        &action.return_values_on_condition_check_failure,
        &format!("{path}.returnValuesOnConditionCheckFailure"),
        &["ALL_OLD", "NONE"],
    );
}

/// One action as its single-item plan, and the bytes it adds to the request's size.
fn action_plan(
    engine: &Engine,
    item: &TransactWriteItem,
    request: &TransactWriteItemsInput,
    now_ms: u64,
) -> Result<(Action, usize)> {
    let (name, action) = members(item)[0];
    let input = WriteInput {
        table_name: action.table_name.clone(),
        item: action.item.clone(),
        key: action.key.clone(),
        condition_expression: action.condition_expression.clone(),
        update_expression: action.update_expression.clone(),
        expression_attribute_names: action.expression_attribute_names.clone(),
        expression_attribute_values: action.expression_attribute_values.clone(),
        return_values_on_condition_check_failure: action
            .return_values_on_condition_check_failure
            .clone(),
        return_item_collection_metrics: request.return_item_collection_metrics.clone(),
        ..WriteInput::default()
    };
    let values = match &action.expression_attribute_values {
        Some(values) => super::common::check_item(values).map_or(0, |v| item_size_bytes(&v)),
        None => 0,
    };
    Ok(match name {
        "conditionCheck" => (
            Action::Check(delete_item::validate(engine, &input, now_ms)?),
            values,
        ),
        "put" => {
            let plan = put_item::validate(engine, &input, now_ms)?;
            let size = item_size_bytes(plan.item()) + values;
            (Action::Put(plan), size)
        }
        "update" => (
            Action::Update(update_item::validate(engine, &input, now_ms)?),
            values,
        ),
        _ => (
            Action::Delete(delete_item::validate(engine, &input, now_ms)?),
            values,
        ),
    })
}

/// Runs the protocol: prepare every action (as if in parallel: each vote is collected,
/// except that a ValidationError stops the rest), decide, then commit or cancel.
fn run(engine: &mut Engine, plan: Plan, now_ms: u64) -> Result<Response> {
    let n = plan.actions.len();
    let (tx, ts) = engine.transactions.begin(n, now_ms);
    let (mut coordinator, sends) = Coordinator::start(tx, ts, n);
    let mut reasons = vec![CancellationReason::none(); n];
    let mut prepared: Vec<Option<Prepared>> = (0..n).map(|_| None).collect();
    let mut proposed = None;
    for send in sends {
        let Send::Prepare(i) = send else { continue };
        let vote = prepare(engine, &plan.actions[i], tx, ts, now_ms);
        let stop = matches!(&vote, Err(r) if r.is_validation());
        proposed = coordinator.on_vote(i, vote.is_ok()).or(proposed);
        match vote {
            Ok(p) => prepared[i] = Some(p),
            Err(reason) => reasons[i] = reason,
        }
        if stop {
            break;
        }
    }
    let decision = engine
        .transactions
        .ledger
        .decide(tx, proposed.unwrap_or(Decision::Cancel))
        .unwrap_or(Decision::Cancel);
    if decision == Decision::Cancel {
        let sends = coordinator.decided(decision);
        cancel(engine, &plan, &prepared, &mut coordinator, &sends, now_ms);
        return Err(Error::transaction_canceled(reasons));
    }
    let prepared: Vec<Prepared> = prepared.into_iter().flatten().collect();
    let mut pending = decided(engine, plan, prepared, coordinator, now_ms);
    if pending.due_ms <= now_ms {
        commit_due(engine, &mut pending, now_ms, now_ms);
        return Ok(answer(pending));
    }
    let due_ms = pending.due_ms;
    engine.pending_transactions.insert(tx, pending);
    Ok(Response::Pending(PendingTransaction { tx, due_ms }))
}

/// The commit decided: when each action's commit is due. After the profile's commit delay (if
/// any), each action is committed at its own drawn point of the profile's commit spread (if
/// any), as the service's commits reach their partitions one by one; without either, now.
fn decided(
    engine: &mut Engine,
    plan: Plan,
    prepared: Vec<Prepared>,
    mut coordinator: Coordinator,
    now_ms: u64,
) -> PendingCommit {
    let start = now_ms + engine.realism.commit_delay().unwrap_or(0);
    let mut left: Vec<(u64, usize)> = coordinator
        .decided(Decision::Commit)
        .into_iter()
        .filter_map(|send| match send {
            Send::Commit(i) => Some(i),
            _ => None,
        })
        .map(|i| (start + engine.realism.commit_spread().unwrap_or(0), i))
        .collect();
    left.sort_unstable();
    let due_ms = left.last().map_or(start, |(due, _)| *due);
    PendingCommit {
        plan,
        prepared,
        coordinator,
        left,
        usage: Usage::default(),
        due_ms,
    }
}

/// The answer of a transaction whose every action committed.
fn answer(pending: PendingCommit) -> Response {
    Response::TransactWriteItems(pending.usage.output(pending.plan.capacity))
}

/// One action's prepare on its participant: throttling first, then the participant's rule
/// (another transaction's mark, a newer stamp), then the condition and the item's limits on
/// the current item, whose after image the commit will write.
fn prepare(
    engine: &mut Engine,
    action: &Action,
    tx: TxId,
    ts: Timestamp,
    now_ms: u64,
) -> std::result::Result<Prepared, CancellationReason> {
    let target = action.target();
    let writes = !matches!(action, Action::Check(_));
    engine
        .admit(&target.table, &target.key, writes, 1.0, None, now_ms)
        .map_err(CancellationReason::from_error)?;
    engine
        .transactions
        .prepare(&target.table, &target.key, tx, ts)
        .map_err(|_| CancellationReason::conflict())?;
    let table = engine.table_by_name(&target.table);
    let previous = table.get(&target.key);
    let write = match action.apply(table, previous.as_ref()) {
        Ok(write) => write,
        Err(Rejection::ConditionFailed) => {
            let item = if target.old_on_failure {
                previous
            } else {
                None
            };
            return Err(CancellationReason::condition_failed(item));
        }
        Err(Rejection::Invalid(error)) => return Err(CancellationReason::from_error(error)),
    };
    if !writes {
        let size = previous.as_ref().map_or(0, item_size_bytes);
        return Ok(Prepared {
            after: None,
            units: read_units(size, true),
        });
    }
    if table.collection_limit_exceeded(&write.mutation, &engine.config.limits) {
        return Err(CancellationReason::from_error(
            Error::item_collection_size_limit_exceeded(),
        ));
    }
    Ok(Prepared {
        after: Some(write.mutation.after.map(Cow::into_owned)),
        units: write.units,
    })
}

/// Releases every mark of a cancelled transaction; each accepted prepare was one access.
fn cancel(
    engine: &mut Engine,
    plan: &Plan,
    prepared: &[Option<Prepared>],
    coordinator: &mut Coordinator,
    sends: &[Send],
    now_ms: u64,
) {
    for send in sends {
        let Send::Cancel(i) = *send else { continue };
        let target = plan.actions[i].target();
        engine
            .transactions
            .cancel(&target.table, &target.key, coordinator.tx, coordinator.ts);
        if let Some(p) = &prepared[i] {
            charge(engine, target, p, 1.0, &IndexWrites::new(), now_ms);
        }
        coordinator.on_ack(i);
    }
    engine.transactions.ledger.finish(coordinator.tx);
    engine.transactions.ledger.forget_finished();
}

/// Commits the actions due by `due_by` (at `now_ms`): each participant releases its mark and
/// the write it prepared is applied. Capacity is charged twice per item (prepare and commit).
/// Once the last is committed the transaction is finished in the ledger; returns whether it is.
fn commit_due(engine: &mut Engine, pending: &mut PendingCommit, due_by: u64, now_ms: u64) -> bool {
    let PendingCommit {
        plan,
        prepared,
        coordinator,
        left,
        usage,
        ..
    } = pending;
    let (tx, ts) = (coordinator.tx, coordinator.ts);
    let due = left.iter().take_while(|(at, _)| *at <= due_by).count();
    for (_, i) in left.drain(..due) {
        let (action, p) = (&plan.actions[i], &prepared[i]);
        let target = action.target();
        let applies = engine
            .transactions
            .commit(&target.table, &target.key, tx, ts);
        let index_writes = match &p.after {
            Some(after) if applies && engine.tables.contains_key(&target.table) => {
                write(engine, target, after.as_ref(), now_ms)
            }
            _ => IndexWrites::new(),
        };
        charge(engine, target, p, 2.0, &index_writes, now_ms);
        usage.add(engine, action, p, &index_writes);
        coordinator.on_ack(i);
    }
    if !left.is_empty() {
        return false;
    }
    engine.transactions.ledger.finish(tx);
    engine.transactions.ledger.forget_finished();
    true
}

/// Writes a committed after image through the one write path.
fn write(engine: &mut Engine, target: &Target, after: Option<&Item>, now_ms: u64) -> IndexWrites {
    let lags = engine.draw_write_lags(&target.table);
    let before = engine.table_by_name(&target.table).get(&target.key);
    let mutation = Mutation {
        key: &target.key,
        before: before.as_ref(),
        after: after.map(Cow::Borrowed),
    };
    let (table, context) = engine.write_context(&target.table, lags, now_ms);
    table.apply(&mutation, &context)
}

/// Charges `times` accesses of a prepared action: writes as writes (with their index
/// writes), a ConditionCheck as strongly consistent reads.
fn charge(
    engine: &mut Engine,
    target: &Target,
    p: &Prepared,
    times: f64,
    index_writes: &IndexWrites,
    now_ms: u64,
) {
    if !engine.tables.contains_key(&target.table) {
        return;
    }
    let doubled: IndexWrites = index_writes
        .iter()
        .map(|w| crate::data::index::IndexWrite {
            units: w.units * times,
            ..w.clone()
        })
        .collect();
    if p.after.is_some() {
        engine.charge_write(
            &target.table,
            &target.key,
            p.units * times,
            &doubled,
            now_ms,
        );
    } else {
        let usage = crate::capacity::admission::Usage {
            write: false,
            units: p.units * times,
            index_units: &[],
            returned: 0,
        };
        engine.charge(&target.table, &target.key, usage, now_ms);
    }
}

/// What the answer reports, per table.
#[derive(Debug, Default)]
struct Usage {
    tables: BTreeMap<String, TableUsage>,
}

#[derive(Debug, Default)]
struct TableUsage {
    write_units: f64,
    read_units: f64,
    index_writes: IndexWrites,
    collections: Vec<crate::api::ItemCollectionMetrics>,
}

impl Usage {
    fn add(&mut self, engine: &Engine, action: &Action, p: &Prepared, index_writes: &IndexWrites) {
        let target = action.target();
        let entry = self.tables.entry(target.table.clone()).or_default();
        if p.after.is_some() {
            entry.write_units += 2.0 * p.units;
        } else {
            entry.read_units += 2.0 * p.units;
        }
        for w in index_writes {
            let doubled = crate::data::index::IndexWrite {
                units: 2.0 * w.units,
                ..w.clone()
            };
            match entry.index_writes.iter_mut().find(|e| e.index == w.index) {
                Some(e) => e.units += doubled.units,
                None => entry.index_writes.push(doubled),
            }
        }
        if let (Some(hash), Some(table)) = (&target.collection, engine.tables.get(&target.table))
            && let Some(metrics) = table.item_collection_metrics(hash)
        {
            entry.collections.push(metrics);
        }
    }

    fn output(self, mode: ReturnConsumedCapacity) -> TransactWriteItemsOutput {
        let mut consumed = Vec::new();
        let mut collections = BTreeMap::new();
        for (name, usage) in self.tables {
            if let Some(c) = table_capacity(mode, &name, &usage) {
                consumed.push(c);
            }
            if !usage.collections.is_empty() {
                collections.insert(name, usage.collections);
            }
        }
        TransactWriteItemsOutput {
            consumed_capacity: (mode != ReturnConsumedCapacity::None).then_some(consumed),
            item_collection_metrics: (!collections.is_empty()).then_some(collections),
        }
    }
}

/// One table's ConsumedCapacity: its writes (with their indexes) and its condition checks'
/// reads.
fn table_capacity(
    mode: ReturnConsumedCapacity,
    name: &str,
    usage: &TableUsage,
) -> Option<ConsumedCapacity> {
    let mut consumed = if usage.write_units > 0.0 {
        mode.report_write(name, usage.write_units, &usage.index_writes)?
    } else {
        mode.report(name, usage.read_units, true)?
    };
    if usage.write_units > 0.0 && usage.read_units > 0.0 {
        consumed.capacity_units += usage.read_units;
        if mode == ReturnConsumedCapacity::Indexes {
            consumed.read_capacity_units = Some(usage.read_units);
            if let Some(table) = &mut consumed.table {
                table.capacity_units += usage.read_units;
                table.read_capacity_units = Some(usage.read_units);
            }
        }
    }
    Some(consumed)
}

/// The answer to a request its ClientRequestToken already committed: nothing written, the
/// items read (doc: the capacity reported is read capacity).
fn replayed(engine: &Engine, plan: &Plan) -> Response {
    let mut usage = Usage::default();
    for action in &plan.actions {
        let target = action.target();
        let Some(table) = engine.tables.get(&target.table) else {
            continue;
        };
        let size = table.get(&target.key).as_ref().map_or(0, item_size_bytes);
        usage
            .tables
            .entry(target.table.clone())
            .or_default()
            .read_units += read_units(size, true);
    }
    Response::TransactWriteItems(usage.output(plan.capacity))
}

impl Engine {
    /// The answer of a transaction that waited out the commit delay: committed now if the
    /// timer has not done it already.
    pub fn finish_transaction(&mut self, tx: TxId, now_ms: u64) -> Result<Response> {
        if let Some(pending) = self.pending_transactions.remove(&tx) {
            return Ok(self.commit_pending(pending, now_ms));
        }
        self.finished_transactions
            .remove(&tx)
            .map(|(_, answer)| answer)
            .ok_or_else(Error::internal)
    }

    /// Commits every action still pending (its host waited until the last was due) and
    /// answers.
    fn commit_pending(&mut self, mut pending: PendingCommit, now_ms: u64) -> Response {
        if !pending.left.is_empty() {
            commit_due(self, &mut pending, u64::MAX, now_ms);
        }
        self.committed(pending, now_ms)
    }

    /// The answer of a transaction whose every action committed, its token completed.
    fn committed(&mut self, pending: PendingCommit, now_ms: u64) -> Response {
        if let Some(token) = pending.plan.token.clone() {
            self.transactions.complete_token(&token, true, now_ms);
        }
        answer(pending)
    }

    /// Commits the delayed transactions' actions due by `now_ms`, keeping the answer of each
    /// transaction now wholly committed for its host (for a minute: a host that went away
    /// never asks).
    pub(crate) fn commit_due_transactions(&mut self, now_ms: u64) {
        self.finished_transactions
            .retain(|_, (at, _)| now_ms < at.saturating_add(60_000));
        let due: Vec<TxId> = self
            .pending_transactions
            .iter()
            .filter(|(_, p)| p.next_due_ms() <= now_ms)
            .map(|(tx, _)| *tx)
            .collect();
        for tx in due {
            let Some(mut pending) = self.pending_transactions.remove(&tx) else {
                continue;
            };
            if commit_due(self, &mut pending, now_ms, now_ms) {
                let answer = self.committed(pending, now_ms);
                self.finished_transactions.insert(tx, (now_ms, answer));
            } else {
                self.pending_transactions.insert(tx, pending);
            }
        }
    }
}
