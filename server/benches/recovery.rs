//! How long `serve --data-dir` takes to start on a directory holding many items: a snapshot of
//! `RECOVERY_ITEMS` items (default 1,000,000, ~200 bytes each, the load kit's shape) plus a log
//! tail of `RECOVERY_TAIL` puts written after it (default 100,000), on the real file storage.
//! The directory is built once (its build time and size are printed); each iteration recovers
//! it into a new engine. The page cache is warm, as on a restart after a crash.
//!
//!   cargo bench -p dynasim-server --bench recovery
//!   RECOVERY_ITEMS=100000 cargo bench -p dynasim-server --bench recovery

use criterion::{Criterion, criterion_group, criterion_main};
use dynasim_engine::storage::durable::Durable;
use dynasim_engine::{Config, Engine, Request};
use dynasim_server::storage::FileStorage;
use serde_json::json;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

const NOW: u64 = 1_700_000_000_000;

fn count(name: &str, default: u64) -> u64 {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn put(engine: &mut Engine, i: u64) {
    let item = json!({"TableName": "bench", "Item": {
        "pk": {"S": format!("p{:06}", i / 100)}, "sk": {"S": format!("s{:05}", i % 100)},
        "data": {"S": "x".repeat(170)}, "n": {"N": i.to_string()}}});
    let request = Request::PutItem(serde_json::from_value(item).expect("a PutItem"));
    engine.execute(request, NOW + 1).expect("the put succeeds");
}

/// Writes the directory: the table, `items` items, a snapshot, then `tail` more puts.
fn build(dir: &Path, items: u64, tail: u64) {
    let started = Instant::now();
    let storage = Arc::new(FileStorage::open(dir).expect("the directory opens"));
    let mut engine = Engine::new(Config::default());
    let (mut log, _) = Durable::open(storage, &mut engine, NOW).expect("an empty directory");
    log.set_snapshot_log_bytes(u64::MAX);
    let create = json!({"TableName": "bench",
        "AttributeDefinitions": [{"AttributeName": "pk", "AttributeType": "S"}, {"AttributeName": "sk", "AttributeType": "S"}],
        "KeySchema": [{"AttributeName": "pk", "KeyType": "HASH"}, {"AttributeName": "sk", "KeyType": "RANGE"}],
        "BillingMode": "PAY_PER_REQUEST"});
    let request = Request::CreateTable(serde_json::from_value(create).expect("a CreateTable"));
    engine.execute(request, NOW).expect("the table is created");
    for i in 0..items {
        put(&mut engine, i);
        log.append(&mut engine).expect("appended");
    }
    let snapshot_started = Instant::now();
    log.snapshot(&engine).expect("the snapshot is written");
    let snapshot_took = snapshot_started.elapsed();
    for i in items..items + tail {
        put(&mut engine, i);
        log.append(&mut engine).expect("appended");
    }
    log.sync().expect("synced");
    let bytes: u64 = std::fs::read_dir(dir)
        .expect("listed")
        .map(|e| e.expect("an entry").metadata().expect("metadata").len())
        .sum();
    println!(
        "built {items} items + {tail} tail in {:.1} s (snapshot written in {:.2} s); directory {:.1} MB",
        started.elapsed().as_secs_f64(),
        snapshot_took.as_secs_f64(),
        bytes as f64 / 1e6
    );
}

fn recovery(c: &mut Criterion) {
    let items = count("RECOVERY_ITEMS", 1_000_000);
    let tail = count("RECOVERY_TAIL", 100_000);
    let dir: PathBuf =
        std::env::temp_dir().join(format!("dynasim-recovery-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    build(&dir, items, tail);
    let mut group = c.benchmark_group("recovery");
    group.sample_size(10);
    group.measurement_time(Duration::from_secs(30));
    group.bench_function(format!("snapshot {items} items + log {tail}"), |b| {
        b.iter(|| {
            let storage = Arc::new(FileStorage::open(&dir).expect("the directory opens"));
            let mut engine = Engine::new(Config::default());
            let (_, recovered) = Durable::open(storage, &mut engine, NOW).expect("it recovers");
            assert_eq!(recovered.replayed, tail);
            let held: usize = engine.tables().map(|t| t.partitions().len()).sum();
            assert_eq!(held as u64, items + tail);
            engine
        });
    });
    group.finish();
    let _ = std::fs::remove_dir_all(&dir);
}

criterion_group!(benches, recovery);
criterion_main!(benches);
