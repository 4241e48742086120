//! Per-key linearizability of strongly consistent operations (Wing and Gong's search with
//! Lowe's memoization, the algorithm Porcupine and Knossos use), one key at a time: DynamoDB
//! promises linearizability per item, and checking keys independently keeps long histories
//! fast.
//!
//! The model is one item: absent (`None`) or an integer. Operations: `read` (returns the value
//! or null), `write`, `cas` (a conditional write: `[expected, new]`; a `fail` with
//! ConditionalCheckFailedException is an observation that the value differed) and `incr` (an
//! atomic ADD returning the new value), and `delete` (a global table's). Operations that completed with `info` may have taken
//! effect at any point after their invocation, or never.

use crate::history::{Kind, Op};
use serde_json::Value as Json;
use std::collections::HashSet;

pub type State = Option<i64>;

#[derive(Clone, Debug, PartialEq)]
pub enum Step {
    Read(State),
    Write(i64),
    /// A conditional write that took effect.
    Cas(State, i64),
    /// A conditional write whose condition failed: the value was not `expected`.
    CasFailed(State),
    /// A conditional write that may or may not have happened.
    CasMaybe(State, i64),
    /// An atomic increment; the new value when it was returned.
    Incr(i64, Option<i64>),
    /// A delete (a global table's items; the regional workloads do not delete).
    Delete,
}

/// One operation as the model sees it.
#[derive(Clone, Debug)]
pub struct ModelOp {
    pub op: usize,
    pub step: Step,
    pub start: u64,
    /// `None`: may take effect any time after `start`, or never.
    pub end: Option<u64>,
}

fn int(value: &Json) -> Option<State> {
    match value {
        Json::Null => Some(None),
        Json::Number(n) => n.as_i64().map(Some),
        _ => None,
    }
}

/// The model operation for one history operation on an item, if it constrains the item.
pub fn model_op(op: &Op) -> Option<ModelOp> {
    let maybe = op.outcome == Kind::Info;
    let end = if maybe { None } else { op.end };
    let step = match (op.f.as_str(), op.outcome) {
        (_, Kind::Invoke) => return None,
        ("read", Kind::Ok) if op.consistent => Step::Read(int(&op.output)?),
        ("write", Kind::Ok | Kind::Info) => Step::Write(int(&op.input)??),
        ("delete", Kind::Ok | Kind::Info) => Step::Delete,
        ("cas", kind) => {
            let pair = op.input.as_array()?;
            let expected = int(pair.first()?)?;
            let new = int(pair.get(1)?)??;
            match kind {
                Kind::Ok => Step::Cas(expected, new),
                Kind::Info => Step::CasMaybe(expected, new),
                Kind::Fail if op.error.as_deref() == Some("ConditionalCheckFailedException") => {
                    Step::CasFailed(expected)
                }
                _ => return None,
            }
        }
        ("incr", Kind::Ok) => Step::Incr(int(&op.input)??, int(&op.output)?),
        ("incr", Kind::Info) => Step::Incr(int(&op.input)??, None),
        _ => return None,
    };
    Some(ModelOp {
        op: op.id,
        step,
        start: op.start,
        end,
    })
}

/// Applies a step: the new state, or `None` when the step's result is impossible from `state`.
pub fn apply(state: State, step: &Step) -> Option<State> {
    match *step {
        Step::Read(v) => (v == state).then_some(state),
        Step::Write(v) => Some(Some(v)),
        Step::Delete => Some(None),
        Step::Cas(expected, new) => (state == expected).then_some(Some(new)),
        Step::CasFailed(expected) => (state != expected).then_some(state),
        Step::CasMaybe(expected, new) => Some(if state == expected { Some(new) } else { state }),
        Step::Incr(delta, returned) => {
            let next = state.unwrap_or(0).checked_add(delta)?;
            match returned {
                Some(r) if r != next => None,
                _ => Some(Some(next)),
            }
        }
    }
}

/// Why a key's history is not linearizable: the operation no order could place, after the
/// longest prefix the search managed to linearize.
#[derive(Clone, Debug, PartialEq)]
pub struct Failure {
    /// The operation (history id) whose completion no order could justify.
    pub stuck: usize,
    /// How many operations the longest attempt linearized, and the item's state there.
    pub linearized: usize,
    pub state: State,
    /// Operations (history ids) in that longest attempt, in order.
    pub order: Vec<usize>,
}

#[derive(Clone, Copy)]
struct Entry {
    op: usize,
    is_call: bool,
    /// The matching return entry of a call (`usize::MAX` for an op without one).
    matching: usize,
    prev: usize,
    next: usize,
}

const NONE: usize = usize::MAX;

/// The operations without the indeterminate writes nothing can have observed: an `info`
/// write (or conditional write) of a value that no other operation writes, reads or expects,
/// invoked after every failed condition and every increment of the key had completed.
/// Dropping them keeps the verdict (proof below) and removes the search's worst case, many
/// writes that may take effect at any later point or never (a run with many timeouts).
///
/// Why: take any linearization, and a stretch of it in which the item holds such values. The
/// stretch starts where one of these writes takes effect, after that write was invoked, so no
/// failed condition and no increment is placed in it (each completed before). No read is
/// placed there (it would have observed the value) and no conditional write succeeds there
/// (it would have expected the value). What remains in the stretch is droppable writes and
/// indeterminate conditional writes whose condition did not hold, until an unconditional
/// write of another value ends it. Leaving all of those out keeps the state every other
/// operation sees, so the rest is still a linearization. Conversely, a linearization without
/// them is one of the whole history, since an indeterminate operation may never have
/// happened. `proptest` below compares both verdicts on random histories.
pub fn without_unobserved_writes(ops: &[ModelOp], initial: State) -> Vec<ModelOp> {
    // The latest completion of a failed condition or an increment (`u64::MAX` when one of
    // them never completed).
    let constraining_end = ops
        .iter()
        .filter(|o| matches!(o.step, Step::CasFailed(_) | Step::Incr(..)))
        .map(|o| o.end.unwrap_or(u64::MAX))
        .max();
    let mut written: std::collections::HashMap<i64, usize> = std::collections::HashMap::new();
    let mut observed: HashSet<i64> = HashSet::new();
    observed.extend(initial);
    for o in ops {
        match o.step {
            Step::Write(v) => *written.entry(v).or_default() += 1,
            Step::Cas(expected, new) | Step::CasMaybe(expected, new) => {
                *written.entry(new).or_default() += 1;
                observed.extend(expected);
            }
            Step::Read(v) | Step::CasFailed(v) => observed.extend(v),
            Step::Incr(..) | Step::Delete => {}
        }
    }
    let droppable = |o: &ModelOp| {
        let value = match o.step {
            Step::Write(v) | Step::CasMaybe(_, v) => v,
            _ => return false,
        };
        o.end.is_none()
            && constraining_end.is_none_or(|end| o.start > end)
            && written.get(&value) == Some(&1)
            && !observed.contains(&value)
    };
    ops.iter().filter(|o| !droppable(o)).cloned().collect()
}

/// Checks one key's operations, starting from `initial`.
pub fn check(ops: &[ModelOp], initial: State) -> Result<(), Failure> {
    check_within(ops, initial, u64::MAX).expect("an unbounded search finishes")
}

/// [`check`] with at most `budget` search steps: `None` when the search gave up (the key is
/// then unchecked, neither passed nor failed).
pub fn check_within(ops: &[ModelOp], initial: State, budget: u64) -> Option<Result<(), Failure>> {
    let pruned = without_unobserved_writes(ops, initial);
    search(&pruned, initial, budget)
}

/// Wing and Gong's search with Lowe's memoization over `ops`, for at most `budget` steps.
fn search(ops: &[ModelOp], initial: State, budget: u64) -> Option<Result<(), Failure>> {
    // Events: (time, is_return, op index). Calls sort before returns at equal times, so
    // operations that touch in time count as concurrent (no false alarms).
    let mut events: Vec<(u64, bool, usize)> = Vec::with_capacity(ops.len() * 2);
    for (i, op) in ops.iter().enumerate() {
        events.push((op.start, false, i));
        if let Some(end) = op.end {
            events.push((end, true, i));
        }
    }
    events.sort_unstable();
    // A doubly linked list with a sentinel head at index 0.
    let mut entries: Vec<Entry> = Vec::with_capacity(events.len() + 1);
    entries.push(Entry {
        op: NONE,
        is_call: false,
        matching: NONE,
        prev: NONE,
        next: 1,
    });
    let mut call_entry = vec![NONE; ops.len()];
    for (n, &(_, is_return, i)) in events.iter().enumerate() {
        let at = n + 1;
        entries.push(Entry {
            op: i,
            is_call: !is_return,
            matching: NONE,
            prev: at - 1,
            next: if n + 1 < events.len() { at + 1 } else { NONE },
        });
        if is_return {
            entries[call_entry[i]].matching = at;
        } else {
            call_entry[i] = at;
        }
    }
    if events.is_empty() {
        entries[0].next = NONE;
    }
    let mut remaining = ops.iter().filter(|o| o.end.is_some()).count();
    let words = ops.len().div_ceil(64);
    let mut linearized = vec![0u64; words];
    let mut cache: HashSet<(Vec<u64>, State)> = HashSet::new();
    let mut stack: Vec<(usize, State)> = Vec::new();
    let mut state = initial;
    let mut entry = entries[0].next;
    let mut best: Option<Failure> = None;

    fn lift(entries: &mut [Entry], at: usize) {
        let (prev, next) = (entries[at].prev, entries[at].next);
        entries[prev].next = next;
        if next != NONE {
            entries[next].prev = prev;
        }
        let m = entries[at].matching;
        if m != NONE {
            let (prev, next) = (entries[m].prev, entries[m].next);
            entries[prev].next = next;
            if next != NONE {
                entries[next].prev = prev;
            }
        }
    }
    fn unlift(entries: &mut [Entry], at: usize) {
        let m = entries[at].matching;
        if m != NONE {
            let (prev, next) = (entries[m].prev, entries[m].next);
            entries[prev].next = m;
            if next != NONE {
                entries[next].prev = m;
            }
        }
        let (prev, next) = (entries[at].prev, entries[at].next);
        entries[prev].next = at;
        if next != NONE {
            entries[next].prev = at;
        }
    }

    let mut steps = 0u64;
    while remaining > 0 {
        steps += 1;
        if steps > budget {
            return None;
        }
        // `entry == NONE` is not reached in practice (an unplaced completion lies before the
        // end of the list while `remaining > 0`); it is treated as any dead end.
        let call = (entry != NONE)
            .then(|| entries[entry])
            .filter(|e| e.is_call);
        if let Some(e) = call {
            let i = e.op;
            if let Some(next_state) = apply(state, &ops[i].step) {
                let mut key = linearized.clone();
                key[i / 64] |= 1 << (i % 64);
                if cache.insert((key.clone(), next_state)) {
                    stack.push((entry, state));
                    linearized = key;
                    state = next_state;
                    if ops[i].end.is_some() {
                        remaining -= 1;
                    }
                    lift(&mut entries, entry);
                    entry = entries[0].next;
                    continue;
                }
            }
            entry = e.next;
            continue;
        }
        // A completion whose operation is not placed yet: this order is a dead end.
        let placed = stack.len();
        if best.as_ref().is_none_or(|b| placed > b.linearized) {
            let stuck = if entry == NONE {
                ops.first().map_or(0, |o| o.op)
            } else {
                ops[entries[entry].op].op
            };
            best = Some(Failure {
                stuck,
                linearized: placed,
                state,
                order: stack
                    .iter()
                    .map(|&(at, _)| ops[entries[at].op].op)
                    .collect(),
            });
        }
        // Backtrack: undo the most recent placement and try the next candidate after it.
        let Some((at, previous)) = stack.pop() else {
            return Some(Err(best.expect("a dead end was recorded")));
        };
        let i = entries[at].op;
        linearized[i / 64] &= !(1 << (i % 64));
        if ops[i].end.is_some() {
            remaining += 1;
        }
        state = previous;
        unlift(&mut entries, at);
        entry = entries[at].next;
    }
    Some(if remaining == 0 {
        Ok(())
    } else {
        Err(best.expect("a dead end was recorded"))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn op(op: usize, step: Step, start: u64, end: Option<u64>) -> ModelOp {
        ModelOp {
            op,
            step,
            start,
            end,
        }
    }

    #[test]
    fn sequential_register_passes() {
        let ops = vec![
            op(0, Step::Write(1), 0, Some(10)),
            op(1, Step::Read(Some(1)), 20, Some(30)),
            op(2, Step::Cas(Some(1), 2), 40, Some(50)),
            op(3, Step::CasFailed(Some(1)), 60, Some(70)),
            op(4, Step::Read(Some(2)), 80, Some(90)),
        ];
        assert_eq!(check(&ops, None), Ok(()));
    }

    #[test]
    fn concurrent_operations_may_reorder() {
        // The read overlaps both writes, so it may see either.
        let ops = vec![
            op(0, Step::Write(1), 0, Some(100)),
            op(1, Step::Write(2), 10, Some(50)),
            op(2, Step::Read(Some(1)), 20, Some(60)),
        ];
        assert_eq!(check(&ops, None), Ok(()));
    }

    #[test]
    fn a_stale_read_fails() {
        let ops = vec![
            op(0, Step::Write(1), 0, Some(10)),
            op(1, Step::Write(2), 20, Some(30)),
            op(2, Step::Read(Some(1)), 40, Some(50)),
        ];
        let failure = check(&ops, None).unwrap_err();
        assert_eq!(failure.stuck, 2);
        assert_eq!(failure.state, Some(2));
    }

    #[test]
    fn info_writes_may_happen_late_or_never() {
        let ops = vec![
            op(0, Step::Write(1), 0, Some(10)),
            op(1, Step::Write(2), 20, None),
            op(2, Step::Read(Some(1)), 40, Some(50)),
            op(3, Step::Read(Some(2)), 60, Some(70)),
        ];
        assert_eq!(check(&ops, None), Ok(()));
        // ...but cannot be undone once seen.
        let mut ops = ops;
        ops.push(op(4, Step::Read(Some(1)), 80, Some(90)));
        assert!(check(&ops, None).is_err());
    }

    #[test]
    fn lost_increment_fails() {
        let ops = vec![
            op(0, Step::Incr(1, Some(1)), 0, Some(30)),
            op(1, Step::Incr(1, Some(1)), 5, Some(35)),
        ];
        assert!(check(&ops, None).is_err());
        let ops = vec![
            op(0, Step::Incr(1, Some(1)), 0, Some(30)),
            op(1, Step::Incr(1, Some(2)), 5, Some(35)),
            op(2, Step::Read(Some(2)), 40, Some(45)),
        ];
        assert_eq!(check(&ops, None), Ok(()));
    }

    #[test]
    fn a_failed_condition_is_an_observation() {
        // cas(None → 1) failed, so the item existed: but nothing wrote it.
        let ops = vec![op(0, Step::CasFailed(None), 0, Some(10))];
        assert!(check(&ops, None).is_err());
    }

    use proptest::prelude::*;

    /// Histories recorded from a real register (each operation takes effect at a point inside
    /// its interval) are linearizable; changing one read's result to a value never written
    /// makes them not.
    fn recorded(script: &[(u8, u8, u8, u8)]) -> (Vec<ModelOp>, Vec<usize>) {
        let mut state: State = None;
        let mut ops = Vec::new();
        let mut reads = Vec::new();
        for (i, &(kind, value, before, after)) in script.iter().enumerate() {
            let at = 100 * i as u64 + 50;
            let (start, end) = (at.saturating_sub(u64::from(before)), at + u64::from(after));
            let step = match kind % 3 {
                0 => {
                    reads.push(ops.len());
                    Step::Read(state)
                }
                1 => {
                    state = Some(i64::from(value));
                    Step::Write(i64::from(value))
                }
                _ => {
                    let next = state.unwrap_or(0) + 1;
                    state = Some(next);
                    Step::Incr(1, Some(next))
                }
            };
            ops.push(op(i, step, start, Some(end)));
        }
        (ops, reads)
    }

    proptest! {
        #[test]
        fn recorded_histories_pass_and_corrupted_reads_fail(
            script in proptest::collection::vec((0u8..3, 0u8..4, 0u8..120, 0u8..120), 1..40),
        ) {
            let (mut ops, reads) = recorded(&script);
            prop_assert_eq!(check(&ops, None), Ok(()));
            if let Some(&r) = reads.first() {
                ops[r].step = Step::Read(Some(1_000));
                prop_assert!(check(&ops, None).is_err());
            }
        }
    }

    /// Random small histories: the verdict with unobserved indeterminate writes dropped is
    /// the verdict of the search over all of them.
    fn random_ops(script: &[(u8, u8, u8, u8, u8, bool)]) -> Vec<ModelOp> {
        script
            .iter()
            .enumerate()
            .map(|(i, &(kind, a, b, start, length, info))| {
                let value = |x: u8| (x % 5 != 4).then_some(i64::from(x % 5));
                let (step, can_be_info) = match kind % 5 {
                    0 => (Step::Read(value(a)), false),
                    1 => (Step::Write(i64::from(a % 6)), true),
                    2 if info => (Step::CasMaybe(value(a), i64::from(b % 6)), true),
                    2 => (Step::Cas(value(a), i64::from(b % 6)), false),
                    3 => (Step::CasFailed(value(a)), false),
                    _ => (Step::Write(100 + i as i64), true),
                };
                let start = u64::from(start);
                let end = (!(info && can_be_info)).then_some(start + u64::from(length));
                op(i, step, start, end)
            })
            .collect()
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(2000))]
        #[test]
        fn dropping_unobserved_writes_keeps_the_verdict(
            script in proptest::collection::vec(
                (0u8..5, 0u8..10, 0u8..10, 0u8..100, 0u8..40, proptest::bool::ANY), 1..9),
        ) {
            let ops = random_ops(&script);
            let full = search(&ops, None, u64::MAX).unwrap();
            prop_assert_eq!(full.is_ok(), check(&ops, None).is_ok(), "{:?}", ops);
        }
    }

    #[test]
    fn many_indeterminate_writes_do_not_blow_up_the_search() {
        // 60 writes that timed out (values nobody read) overlap 300 operations that did
        // complete: without pruning, the search tries subsets of them.
        let mut ops = Vec::new();
        for i in 0..60 {
            ops.push(op(ops.len(), Step::Write(1_000 + i), 10 * i as u64, None));
        }
        for i in 0..100 {
            let t = 1_000 + 30 * i as u64;
            ops.push(op(ops.len(), Step::Write(i), t, Some(t + 10)));
            ops.push(op(ops.len(), Step::Read(Some(i)), t + 12, Some(t + 20)));
            ops.push(op(ops.len(), Step::Read(Some(i)), t + 11, Some(t + 25)));
        }
        assert_eq!(check(&ops, None), Ok(()));
        // A stale read among them is still caught.
        ops.push(op(ops.len(), Step::Read(Some(3)), 5_000, Some(5_001)));
        assert!(check(&ops, None).is_err());
    }

    #[test]
    fn a_search_over_budget_gives_up_without_a_verdict() {
        // Failed conditions keep every indeterminate write in play (none can be dropped), and
        // 24 of them overlapping leave the search 2^24 subsets to try before the stale read.
        let mut ops = vec![op(0, Step::CasFailed(Some(-1)), 0, Some(10_000))];
        for i in 0..24 {
            ops.push(op(ops.len(), Step::Write(1_000 + i), 10 + i as u64, None));
        }
        ops.push(op(ops.len(), Step::Write(1), 100, Some(110)));
        ops.push(op(ops.len(), Step::Read(Some(2)), 200, Some(210)));
        assert_eq!(check_within(&ops, None, 10_000), None);
        // A small history finishes within a small budget, with its verdict.
        let small = vec![
            op(0, Step::Write(1), 0, Some(10)),
            op(1, Step::Read(Some(1)), 20, Some(30)),
        ];
        assert_eq!(check_within(&small, None, 100), Some(Ok(())));
    }

    #[test]
    fn long_concurrent_histories_are_fast() {
        // 5 processes, 2000 ops, each a write followed by reads of values that overlap.
        let mut ops = Vec::new();
        let mut t = 0u64;
        let mut last = None;
        for i in 0..400 {
            for p in 0..5u64 {
                let id = ops.len();
                if p == 0 {
                    ops.push(op(id, Step::Write(i), t, Some(t + 50)));
                } else {
                    ops.push(op(id, Step::Read(last), t + 1, Some(t + 3)));
                }
            }
            last = Some(i);
            t += 100;
        }
        assert_eq!(check(&ops, None), Ok(()));
    }
}
