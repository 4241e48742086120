//! The dependency graph of the committed transactions and its cycles: Tarjan's strongly
//! connected components, then in each component a short cycle found by breadth-first search,
//! trying the most specific anomaly first (ww edges only, then ww and wr, then exactly one rw,
//! then any).
//!
//! A second pass adds real-time edges (one transaction completed before another began) and
//! reports the cycles that need one of them: serial orders exist, but none that respects real
//! time. They are what serializability permits and strict serializability does not.

use super::versions::Order;
use super::{Run, Writer};
use crate::history::Kind;
use std::collections::{HashMap, VecDeque};

/// How many rw edges of one component are tried as the single rw edge of a `G-single` cycle
/// before settling for any cycle. Each try is a search of the component, so this bounds the
/// work on a history with a huge component; the cycle reported is then still a true cycle,
/// classified by its own edges.
const SINGLE_RW_TRIES_MAX: usize = 64;

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub(super) enum Dep {
    Ww,
    Wr,
    Rw,
    /// Real time: `from` completed before `to` was invoked (no key: `key` and `pos` are 0).
    Rt,
}

/// `from` must come before `to`, because of the element at `pos` of `key`'s order: ww, `to`
/// appended it right after `from` appended the one before; wr, `to` read the list ending in
/// it, which `from` appended; rw, `from` read the list just before it, which `to` appended.
#[derive(Clone, Copy, Debug)]
pub(super) struct Edge {
    pub from: u32,
    pub to: u32,
    pub dep: Dep,
    pub key: u32,
    pub pos: u32,
}

pub(super) struct Cycle {
    pub kind: &'static str,
    /// Each edge's `to` is the next edge's `from`; the last returns to the first's `from`.
    pub edges: Vec<Edge>,
}

/// Every dependency the version orders and the prefix-compatible reads show between two
/// different committed transactions.
pub(super) fn dependencies(run: &Run, orders: &[Order]) -> Vec<Edge> {
    let mut edges = Vec::new();
    let committed = |w: Option<Writer>| w.filter(|w| run.committed(w.txn)).map(|w| w.txn);
    let mut add = |from: Option<u32>, to: Option<u32>, dep, key, pos: usize| {
        if let (Some(from), Some(to)) = (from, to)
            && from != to
        {
            let pos = pos as u32;
            edges.push(Edge {
                from,
                to,
                dep,
                key,
                pos,
            });
        }
    };
    for (key, order) in orders.iter().enumerate() {
        let key = key as u32;
        let elements = &order.elements;
        let writer = |pos: usize| committed(order.writers[pos]);
        for pos in 1..elements.len() {
            add(writer(pos - 1), writer(pos), Dep::Ww, key, pos);
        }
        let reads = &run.reads[key as usize];
        for (read, _) in reads.iter().zip(&order.compatible).filter(|(_, c)| **c) {
            let length = read.list.len();
            if length > 0 {
                add(writer(length - 1), Some(read.txn), Dep::Wr, key, length - 1);
            }
            // A read that ends inside one transaction's appends is `G1b`, reported already;
            // its rw edge would only add a cycle of two saying the same.
            let inside =
                length > 0 && length < elements.len() && writer(length - 1) == writer(length);
            if length < elements.len() && !inside {
                add(Some(read.txn), writer(length), Dep::Rw, key, length);
            }
        }
    }
    edges
}

/// The real-time order of the committed transactions, transitively reduced as Elle reduces
/// it: each transaction follows the `ok` ones that completed before it was invoked and that no
/// other such transaction followed. A transaction whose outcome is unknown follows others but
/// precedes none (it may have taken effect at any time after its invocation).
pub(super) fn realtime(run: &Run) -> Vec<Edge> {
    // (time, 0 for an invocation and 1 for a completion, transaction): at equal times an
    // invocation comes first, so that operations sharing an instant are concurrent.
    let mut events: Vec<(u64, u8, u32)> = Vec::new();
    for txn in 0..run.txns.len() as u32 {
        if !run.committed(txn) {
            continue;
        }
        let op = run.op(txn);
        events.push((op.start, 0, txn));
        if op.outcome == Kind::Ok
            && let Some(end) = op.end
        {
            events.push((end, 1, txn));
        }
    }
    events.sort_unstable();
    let mut frontier: Vec<u32> = Vec::new();
    let mut preds: HashMap<u32, Vec<u32>> = HashMap::new();
    let mut edges = Vec::new();
    for (_, completion, txn) in events {
        if completion == 0 {
            edges.extend(frontier.iter().map(|&from| Edge {
                from,
                to: txn,
                dep: Dep::Rt,
                key: 0,
                pos: 0,
            }));
            preds.insert(txn, frontier.clone());
        } else {
            let before = preds.remove(&txn).unwrap_or_default();
            frontier.retain(|f| !before.contains(f));
            frontier.push(txn);
        }
    }
    edges
}

/// One cycle per non-trivial strongly connected component, in the order of the components'
/// first transactions.
pub(super) fn cycles(txn_count: usize, edges: Vec<Edge>) -> Vec<Cycle> {
    cycles_where(txn_count, edges, false)
}

/// The cycles of `edges` and `realtime` together that need a real-time edge: one per
/// component that holds no cycle of `edges` alone ([`cycles`] reports those).
pub(super) fn realtime_cycles(
    txn_count: usize,
    edges: Vec<Edge>,
    realtime: Vec<Edge>,
) -> Vec<Cycle> {
    let mut all = edges;
    all.extend(realtime);
    cycles_where(txn_count, all, true)
}

fn cycles_where(txn_count: usize, edges: Vec<Edge>, realtime: bool) -> Vec<Cycle> {
    let graph = Graph::new(txn_count, edges);
    let mut components = graph.components(&|_| true);
    for c in &mut components {
        c.sort_unstable();
    }
    components.sort_unstable_by_key(|c| c[0]);
    let mut out = Vec::new();
    for component in components {
        let (sub, global) = graph.induced(&component);
        if realtime && !sub.components(&|d| d != Dep::Rt).is_empty() {
            continue;
        }
        let mut edges = sub.worst_cycle(realtime);
        for e in &mut edges {
            e.from = global[e.from as usize];
            e.to = global[e.to as usize];
        }
        out.push(Cycle {
            kind: classify(&edges),
            edges,
        });
    }
    out
}

/// Adya's names, by the cycle's edges: ww only `G0`; ww and wr `G1c`; one rw `G-single`;
/// more `G2-item`; with `-realtime` (Elle's names) when a real-time edge closes the cycle.
pub(super) fn classify(edges: &[Edge]) -> &'static str {
    let rw = edges.iter().filter(|e| e.dep == Dep::Rw).count();
    let wr = edges.iter().any(|e| e.dep == Dep::Wr);
    let rt = edges.iter().any(|e| e.dep == Dep::Rt);
    match (rw, wr, rt) {
        (0, false, false) => "G0",
        (0, true, false) => "G1c",
        (1, _, false) => "G-single",
        (_, _, false) => "G2-item",
        (0, false, true) => "G0-realtime",
        (0, true, true) => "G1c-realtime",
        (1, _, true) => "G-single-realtime",
        (_, _, true) => "G2-item-realtime",
    }
}

/// Edges grouped by their `from` node (compressed sparse rows).
struct Graph {
    /// Node `n`'s edges are `edges[start[n]..start[n + 1]]`.
    start: Vec<usize>,
    edges: Vec<Edge>,
}

impl Graph {
    fn new(node_count: usize, mut edges: Vec<Edge>) -> Graph {
        // Sorted so that, between two nodes, a ww edge is found before a wr before an rw one.
        edges.sort_unstable_by_key(|e| (e.from, e.dep, e.to, e.key, e.pos));
        let mut start = vec![0; node_count + 1];
        for e in &edges {
            start[e.from as usize + 1] += 1;
        }
        for n in 0..node_count {
            start[n + 1] += start[n];
        }
        Graph { start, edges }
    }

    fn node_count(&self) -> usize {
        self.start.len() - 1
    }

    fn out(&self, node: u32) -> &[Edge] {
        &self.edges[self.start[node as usize]..self.start[node as usize + 1]]
    }

    /// The subgraph of `nodes` (sorted), renumbered from 0, and each new number's old one.
    fn induced(&self, nodes: &[u32]) -> (Graph, Vec<u32>) {
        let local = |n: u32| nodes.binary_search(&n).ok().map(|i| i as u32);
        let mut edges = Vec::new();
        for &n in nodes {
            for e in self.out(n) {
                if let (Some(from), Some(to)) = (local(e.from), local(e.to)) {
                    edges.push(Edge { from, to, ..*e });
                }
            }
        }
        (Graph::new(nodes.len(), edges), nodes.to_vec())
    }

    /// In a strongly connected graph: the most specific cycle it holds (real-time edges, when
    /// `realtime`, allowed alongside every kind).
    fn worst_cycle(&self, realtime: bool) -> Vec<Edge> {
        let rt = move |d: Dep| realtime && d == Dep::Rt;
        let ww = move |d: Dep| d == Dep::Ww || rt(d);
        let ww_wr = move |d: Dep| matches!(d, Dep::Ww | Dep::Wr) || rt(d);
        for allowed in [&ww as &dyn Fn(Dep) -> bool, &ww_wr] {
            if let Some(c) = self.components(allowed).first() {
                return self
                    .path(c[0], c[0], allowed)
                    .expect("a component has a cycle");
            }
        }
        let rw_edges = self.edges.iter().filter(|e| e.dep == Dep::Rw);
        for rw in rw_edges.take(SINGLE_RW_TRIES_MAX) {
            if let Some(back) = self.path(rw.to, rw.from, &ww_wr) {
                let mut cycle = vec![*rw];
                cycle.extend(back);
                return cycle;
            }
        }
        self.path(0, 0, &|_| true)
            .expect("a strongly connected graph has a cycle")
    }

    /// A shortest path of `allowed` edges from `from` to `to` (a cycle when they are equal).
    fn path(&self, from: u32, to: u32, allowed: &dyn Fn(Dep) -> bool) -> Option<Vec<Edge>> {
        let mut parent: Vec<Option<usize>> = vec![None; self.node_count()];
        let mut seen = vec![false; self.node_count()];
        seen[from as usize] = true;
        let mut queue = VecDeque::from([from]);
        while let Some(node) = queue.pop_front() {
            for (i, e) in self.out(node).iter().enumerate() {
                if !allowed(e.dep) {
                    continue;
                }
                let index = self.start[node as usize] + i;
                if e.to == to {
                    let mut path = vec![*e];
                    let mut at = node;
                    while at != from {
                        let back =
                            self.edges[parent[at as usize].expect("seen nodes have parents")];
                        path.push(back);
                        at = back.from;
                    }
                    path.reverse();
                    return Some(path);
                }
                if !seen[e.to as usize] {
                    seen[e.to as usize] = true;
                    parent[e.to as usize] = Some(index);
                    queue.push_back(e.to);
                }
            }
        }
        None
    }

    /// Tarjan's strongly connected components of the `allowed` edges, those of two or more
    /// nodes (no edge joins a node to itself).
    fn components(&self, allowed: &dyn Fn(Dep) -> bool) -> Vec<Vec<u32>> {
        let mut tarjan = Tarjan {
            graph: self,
            allowed,
            index: vec![u32::MAX; self.node_count()],
            low: vec![0; self.node_count()],
            on_stack: vec![false; self.node_count()],
            stack: Vec::new(),
            calls: Vec::new(),
            next: 0,
            out: Vec::new(),
        };
        for root in 0..self.node_count() as u32 {
            if tarjan.index[root as usize] == u32::MAX {
                tarjan.run(root);
            }
        }
        tarjan.out
    }
}

/// Tarjan's algorithm with an explicit call stack, since a history's graph can be a chain of
/// 100,000 transactions.
struct Tarjan<'g> {
    graph: &'g Graph,
    allowed: &'g dyn Fn(Dep) -> bool,
    index: Vec<u32>,
    low: Vec<u32>,
    on_stack: Vec<bool>,
    stack: Vec<u32>,
    /// (node, the position of its next edge to look at).
    calls: Vec<(u32, usize)>,
    next: u32,
    out: Vec<Vec<u32>>,
}

impl Tarjan<'_> {
    fn visit(&mut self, node: u32) {
        self.index[node as usize] = self.next;
        self.low[node as usize] = self.next;
        self.next += 1;
        self.stack.push(node);
        self.on_stack[node as usize] = true;
        self.calls.push((node, self.graph.start[node as usize]));
    }

    fn run(&mut self, root: u32) {
        self.visit(root);
        while let Some(&(node, cursor)) = self.calls.last() {
            let n = node as usize;
            if cursor < self.graph.start[n + 1] {
                self.calls.last_mut().expect("a call is open").1 += 1;
                let e = self.graph.edges[cursor];
                if !(self.allowed)(e.dep) {
                    continue;
                }
                let to = e.to as usize;
                if self.index[to] == u32::MAX {
                    self.visit(e.to);
                } else if self.on_stack[to] {
                    self.low[n] = self.low[n].min(self.index[to]);
                }
                continue;
            }
            self.calls.pop();
            if let Some(&(parent, _)) = self.calls.last() {
                self.low[parent as usize] = self.low[parent as usize].min(self.low[n]);
            }
            if self.low[n] == self.index[n] {
                self.pop_component(node);
            }
        }
    }

    fn pop_component(&mut self, root: u32) {
        let mut component = Vec::new();
        loop {
            let member = self.stack.pop().expect("the root is on the stack");
            self.on_stack[member as usize] = false;
            component.push(member);
            if member == root {
                break;
            }
        }
        if component.len() > 1 {
            self.out.push(component);
        }
    }
}
