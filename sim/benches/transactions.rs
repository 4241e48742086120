//! Criterion benchmark of the `transactions` checker (Elle-style list-append) on a serial
//! history of 100,000 transactions, about 4 micro-operations each over 1,000 keys: half
//! read-only (TransactGetItems), half append-only (TransactWriteItems), as the workload issues
//! them. The history is drawn from a fixed seed, so every run checks the same one.

use criterion::{Criterion, black_box, criterion_group, criterion_main};
use dynasim_sim::checkers::{self, Report, elle};
use dynasim_sim::history::{Event, History, Kind, Process};
use rand_chacha::ChaCha8Rng;
use rand_core::{RngCore, SeedableRng};
use serde_json::{Value as Json, json};

const TRANSACTION_COUNT: usize = 100_000;
const KEY_COUNT: u64 = 1_000;
const PROCESS_COUNT: u64 = 10;

/// Transactions applied one at a time to a map of lists, each read seeing the state so far.
fn serial_history(seed: u64) -> History {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let mut lists: Vec<Vec<i64>> = vec![Vec::new(); KEY_COUNT as usize];
    let mut next = 0;
    let mut history = History::default();
    for n in 0..TRANSACTION_COUNT as u64 {
        let reading = rng.next_u64() % 2 == 0;
        let mop_count = 1 + rng.next_u64() % 7;
        let (mut asked, mut done) = (Vec::new(), Vec::new());
        for _ in 0..mop_count {
            let key = rng.next_u64() % KEY_COUNT;
            let name = format!("list0/{key}");
            let list = &mut lists[key as usize];
            if reading {
                asked.push(json!(["r", name, null]));
                done.push(json!(["r", name, list.clone()]));
            } else {
                next += 1;
                list.push(next);
                asked.push(json!(["append", name, next]));
                done.push(json!(["append", name, next]));
            }
        }
        let process = Process::Client(n % PROCESS_COUNT);
        let mut invoke = Event::new(process.clone(), Kind::Invoke, elle::TXN, n * 1_000);
        invoke.value = Json::Array(asked);
        let mut ok = Event::new(process, Kind::Ok, elle::TXN, n * 1_000 + 500);
        ok.value = Json::Array(done);
        history.push(invoke);
        history.push(ok);
    }
    history
}

fn transactions(c: &mut Criterion) {
    let history = serial_history(7);
    let ops = history.ops();
    let mut report = Report::default();
    elle::check(&ops, &mut report);
    assert!(
        report.anomalies.is_empty(),
        "{:?}",
        report.anomalies.first()
    );
    assert_eq!(report.stats["transactions"], TRANSACTION_COUNT as u64);

    let mut group = c.benchmark_group("transactions");
    group.sample_size(10);
    group.bench_function("checker/100k-txns", |b| {
        b.iter(|| {
            let mut report = Report::default();
            elle::check(black_box(&ops), &mut report);
            report
        })
    });
    // The whole of `dynasim check` after parsing: pairing, scan expansion, every checker.
    group.bench_function("all-checkers/100k-txns", |b| {
        b.iter(|| checkers::check(black_box(&history)))
    });
    group.finish();
}

criterion_group!(benches, transactions);
criterion_main!(benches);
