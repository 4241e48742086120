//! Version orders: the longest read of each key orders its elements, and every read is judged
//! against it: not a prefix (`incompatible-order`), an element twice (`duplicate-elements`),
//! an element nobody appended (`garbage-read`) or a failed transaction appended (`G1a`), a list
//! ending in an append its transaction followed with another to the key (`G1b`).

use super::explain::{Words, anomaly};
use super::{Run, Writer, element};
use crate::checkers::Report;
use std::collections::{BTreeMap, HashMap, HashSet};

/// One key's version order.
pub(super) struct Order {
    /// The key's elements in append order (the longest read's list).
    pub elements: Vec<i64>,
    /// The longest read (an index into the key's [`Run::reads`]), if any read completed.
    pub longest: Option<usize>,
    /// Per read of the key: whether its list is a prefix of `elements`.
    pub compatible: Vec<bool>,
    /// Who appended each of `elements` (looked up once here, used by every later pass).
    pub writers: Vec<Option<Writer>>,
}

/// Each key's order, reporting the reads that contradict it or observe what they should not.
pub(super) fn infer(run: &Run, report: &mut Report) -> Vec<Order> {
    let words = Words { run };
    (0..run.keys.len() as u32)
        .map(|key| {
            let order = order_of(run, key);
            incompatible(&words, key, &order, report);
            duplicates(&words, key, &order, report);
            bad_elements(&words, key, &order, report);
            intermediate(&words, key, &order, report);
            order
        })
        .collect()
}

fn order_of(run: &Run, key: u32) -> Order {
    let reads = &run.reads[key as usize];
    let mut longest: Option<usize> = None;
    for (i, read) in reads.iter().enumerate() {
        if longest.is_none_or(|l| read.list.len() > reads[l].list.len()) {
            longest = Some(i);
        }
    }
    let elements: Vec<i64> = match longest {
        Some(l) => (0..reads[l].list.len())
            .map(|i| element(reads[l].list, i))
            .collect(),
        None => Vec::new(),
    };
    let compatible = reads
        .iter()
        .map(|r| (0..r.list.len()).all(|i| element(r.list, i) == elements[i]))
        .collect();
    let writers = elements.iter().map(|&e| run.writer(key, e)).collect();
    Order {
        elements,
        longest,
        compatible,
        writers,
    }
}

fn incompatible(words: &Words, key: u32, order: &Order, report: &mut Report) {
    let reads = &words.run.reads[key as usize];
    let disagreeing: Vec<usize> = (0..reads.len()).filter(|&i| !order.compatible[i]).collect();
    let (Some(&first), Some(longest)) = (disagreeing.first(), order.longest) else {
        return;
    };
    let (read, long) = (reads[first], reads[longest]);
    let at = (0..read.list.len())
        .find(|&i| element(read.list, i) != order.elements[i])
        .expect("an incompatible read differs somewhere");
    let more = match disagreeing.len() - 1 {
        0 => String::new(),
        n => format!("; {n} more read(s) of the key disagree with the longest too"),
    };
    let explanation = format!(
        "{} read {} as {}, but {} read it as {}: they differ at position {at} ({} against {}), \
         so neither is a prefix of the other and no order of appends explains both{more}.",
        words.name(read.txn),
        words.key(key),
        words.list(read.list),
        words.name(long.txn),
        words.list(long.list),
        order.elements[at],
        element(read.list, at),
    );
    let txns = [read.txn, long.txn];
    report.anomalies.push(anomaly(
        words,
        "incompatible-order",
        Some(key),
        &txns,
        explanation,
    ));
}

/// Only the longest read and the reads that are not its prefix need looking at: any other
/// read's duplicate is in the longest read too.
fn duplicates(words: &Words, key: u32, order: &Order, report: &mut Report) {
    let reads = &words.run.reads[key as usize];
    for (i, read) in reads.iter().enumerate() {
        if order.compatible[i] && Some(i) != order.longest {
            continue;
        }
        let mut seen = HashSet::new();
        let Some(twice) = (0..read.list.len())
            .map(|j| element(read.list, j))
            .find(|e| !seen.insert(*e))
        else {
            continue;
        };
        let explanation = format!(
            "{} read {} as {}, which holds {twice} twice: each append adds its value once.",
            words.name(read.txn),
            words.key(key),
            words.list(read.list),
        );
        report.anomalies.push(anomaly(
            words,
            "duplicate-elements",
            Some(key),
            &[read.txn],
            explanation,
        ));
    }
}

/// An element read that no transaction appended, or that a failed one did.
struct Bad {
    element: i64,
    kind: &'static str,
    writer: Option<u32>,
    readers: Vec<u32>,
    /// A read that saw it (an index into the key's reads), for the explanation.
    example: usize,
}

fn bad_elements(words: &Words, key: u32, order: &Order, report: &mut Report) {
    let run = words.run;
    let reads = &run.reads[key as usize];
    let classify = |w: Option<Writer>| match w {
        None => Some(("garbage-read", None)),
        Some(w) if !run.committed(w.txn) => Some(("G1a", Some(w.txn))),
        Some(_) => None,
    };
    let mut bad: Vec<Bad> = Vec::new();
    for (position, &e) in order.elements.iter().enumerate() {
        let Some((kind, writer)) = classify(order.writers[position]) else {
            continue;
        };
        let seen: Vec<usize> = (0..reads.len())
            .filter(|&i| order.compatible[i] && reads[i].list.len() > position)
            .collect();
        bad.push(Bad {
            element: e,
            kind,
            writer,
            readers: seen.iter().map(|&i| reads[i].txn).collect(),
            example: seen[0],
        });
    }
    let mut index: HashMap<i64, usize> = bad
        .iter()
        .enumerate()
        .map(|(i, b)| (b.element, i))
        .collect();
    for (i, read) in reads.iter().enumerate() {
        if order.compatible[i] {
            continue;
        }
        for e in (0..read.list.len()).map(|j| element(read.list, j)) {
            let Some((kind, writer)) = classify(run.writer(key, e)) else {
                continue;
            };
            match index.get(&e) {
                // A read's elements are handled together, so a reader already counted is last.
                Some(&b) if bad[b].readers.last() != Some(&read.txn) => {
                    bad[b].readers.push(read.txn)
                }
                Some(_) => {}
                None => {
                    index.insert(e, bad.len());
                    bad.push(Bad {
                        element: e,
                        kind,
                        writer,
                        readers: vec![read.txn],
                        example: i,
                    });
                }
            }
        }
    }
    for b in bad {
        report_bad(words, key, &b, report);
    }
}

fn report_bad(words: &Words, key: u32, bad: &Bad, report: &mut Report) {
    let read = words.run.reads[key as usize][bad.example];
    let why = match bad.writer {
        None => "which no transaction appended: a garbage read".to_string(),
        Some(w) => format!(
            "which {} appended, but that transaction failed ({}): an aborted read",
            words.name(w),
            words.run.op(w).error.as_deref().unwrap_or("no error given")
        ),
    };
    let more = match bad.readers.len() - 1 {
        0 => String::new(),
        n => format!("; {n} other read(s) saw it too"),
    };
    let explanation = format!(
        "{} read {} as {}, including {}, {why}{more}.",
        words.name(read.txn),
        words.key(key),
        words.list(read.list),
        bad.element,
    );
    let mut txns = bad.readers.clone();
    txns.extend(bad.writer);
    let mut a = anomaly(words, bad.kind, Some(key), &txns, explanation);
    a.time = words.done_at(read.txn);
    report.anomalies.push(a);
}

/// `G1b`: reads whose list ends in an element its writer appended more after, in the same
/// transaction. One anomaly per such element, naming every read that ended there.
fn intermediate(words: &Words, key: u32, order: &Order, report: &mut Report) {
    let run = words.run;
    let reads = &run.reads[key as usize];
    let mut ending: BTreeMap<usize, Vec<usize>> = BTreeMap::new();
    for (i, read) in reads.iter().enumerate() {
        let length = read.list.len();
        if !order.compatible[i] || length == 0 {
            continue;
        }
        if let Some(w) = order.writers[length - 1]
            && w.intermediate
            && w.txn != read.txn
            && run.committed(w.txn)
        {
            ending.entry(length - 1).or_default().push(i);
        }
    }
    for (position, readers) in ending {
        let e = order.elements[position];
        let writer = order.writers[position].expect("an intermediate element has a writer");
        let read = reads[readers[0]];
        let more = match readers.len() - 1 {
            0 => String::new(),
            n => format!("; {n} other read(s) ended there too"),
        };
        let explanation = format!(
            "{} read {} as {}, ending at {e}, but {} appended {e} and then {} to {} in the same \
             transaction: the read saw an intermediate state{more}.",
            words.name(read.txn),
            words.key(key),
            words.list(read.list),
            words.name(writer.txn),
            words.next_append(writer.txn, key, e),
            words.key(key),
        );
        let mut txns: Vec<u32> = readers.iter().map(|&i| reads[i].txn).collect();
        txns.push(writer.txn);
        let mut a = anomaly(words, "G1b", Some(key), &txns, explanation);
        a.time = words.done_at(read.txn);
        report.anomalies.push(a);
    }
}
