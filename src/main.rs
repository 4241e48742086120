//! The `dynasim` command line.

use clap::{Parser, Subcommand};
use dynasim_engine::realism::profile::Profile;
use dynasim_engine::storage::durable::Durable;
use dynasim_engine::{Config, Engine};

mod metrics;
mod streams;
use dynasim_server::Service;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;

#[derive(Parser)]
#[command(
    name = "dynasim",
    version,
    about = "A deterministic reference engine of Amazon DynamoDB"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Serve the DynamoDB JSON protocol over HTTP, for unmodified DynamoDB clients.
    ///
    /// Without --data-dir, tables and items live in memory only: stopping or restarting the
    /// server empties it. Each region has its own tables: a request is answered by the region
    /// of its credential scope (what an SDK's region_name sets), and global tables replicate
    /// between them. Every access key id sees the same one account (signatures are checked for
    /// shape, not verified).
    Serve {
        /// Address to listen on.
        #[arg(long, default_value = "127.0.0.1:8000")]
        listen: SocketAddr,
        /// The default region: the one /metrics shows without ?region=, and the only one
        /// served with --data-dir (the others answer an error that says so).
        #[arg(long, default_value = "us-east-1")]
        region: String,
        /// Runtime worker threads; 1 runs everything on one thread (the engine is behind one
        /// lock, so more threads mostly add wake-up and synchronisation costs).
        #[arg(long, default_value_t = 1, value_parser = clap::value_parser!(u16).range(1..=64))]
        threads: u16,
        /// A realism profile (TOML; see scenarios/profiles/): replica lag, enforced capacity,
        /// throttling storms, per table or for all.
        #[arg(long)]
        profile: Option<PathBuf>,
        /// Seed for every draw the profile makes; the same seed and the same requests give the
        /// same answers.
        #[arg(long, default_value_t = 0)]
        seed: u64,
        /// Keep tables and items in this directory (a write-ahead log and snapshots, format in
        /// docs/storage.md): they survive a restart and a crash, and every answer waits until
        /// the change it reports is on disk. Without it, everything lives in memory and a
        /// restart empties it.
        #[arg(long)]
        data_dir: Option<PathBuf>,
        /// How long a request body may take to arrive after its headers, in milliseconds;
        /// a slower one is answered 400 and its connection closed.
        #[arg(long, default_value_t = dynasim_server::http::Limits::default().body_read_ms_max)]
        body_read_ms_max: u64,
        /// Request body bytes buffered at once over all connections; past it new bodies are
        /// answered 503 ServiceUnavailable (clients retry).
        #[arg(long, default_value_t = dynasim_server::http::Limits::default().buffered_body_bytes_max)]
        buffered_body_bytes_max: usize,
        /// Delete an expired item (Time to Live) this many milliseconds after its expiry
        /// (AWS: within a few days); a profile's `ttl_delay_ms` range overrides it per table.
        #[arg(long, default_value_t = 0)]
        ttl_delay_ms: u64,
    },
    /// Run scenarios under the seeded simulator (handed to the simulator build, dynasim-sim;
    /// `dynasim run --help` lists its options: --seeds, --seed, --report, --junit, --shard,
    /// --shrink, --twice).
    #[command(disable_help_flag = true)]
    Run {
        #[arg(trailing_var_arg = true, allow_hyphen_values = true)]
        args: Vec<String>,
    },
    /// Run one scenario seed again and print its digest (handed to dynasim-sim).
    #[command(disable_help_flag = true)]
    Repro {
        #[arg(trailing_var_arg = true, allow_hyphen_values = true)]
        args: Vec<String>,
    },
    /// Check a recorded history (JSON lines, see docs/history.md) for anomalies.
    Check {
        history: PathBuf,
        /// Print the report as JSON.
        #[arg(long)]
        json: bool,
    },
    /// Check one of the engine's state machines exhaustively with stateright (exit status 1
    /// on a violation). Models: replication (the engine's Raft replica under message loss,
    /// reordering, duplication and crashes), replication-leases (the same with its leader
    /// leases and leased strong reads), transactions (the engine's transaction
    /// coordinator, participant rules and ledger under skewed clocks, reordering, duplication
    /// and coordinator crashes), global-tables (the engine's last-writer-wins replicas and
    /// hybrid logical clocks across regions, deliveries in any order, a clock stepping
    /// backwards, tombstones dropped).
    Model {
        /// The model to check: replication, replication-leases, transactions or global-tables.
        name: String,
        /// Serve stateright's Explorer on this address (e.g. 127.0.0.1:3000) instead.
        #[arg(long)]
        explore: Option<String>,
        /// Checker threads.
        #[arg(long, default_value_t = 2)]
        threads: usize,
    },
    /// Watch a table's DynamoDB stream (`dynasim streams tail TABLE`).
    Streams {
        #[command(subcommand)]
        command: StreamsCommand,
    },
    /// Print a running server's one-minute metrics series and Contributor Insights.
    Metrics {
        /// The server's endpoint.
        #[arg(long, default_value = "http://127.0.0.1:8000")]
        endpoint: String,
        /// Only this table.
        #[arg(long)]
        table: Option<String>,
        /// The region whose tables to show (default: the server's --region).
        #[arg(long)]
        region: Option<String>,
    },
}

#[derive(Subcommand)]
enum StreamsCommand {
    /// Print a table's stream records as they arrive, following shard lineage (a child shard
    /// after its parent) as the Kinesis adapter does.
    Tail {
        table: String,
        /// The server's endpoint.
        #[arg(long, default_value = "http://127.0.0.1:8000")]
        endpoint: String,
        /// The region whose table it is.
        #[arg(long, default_value = "us-east-1")]
        region: String,
        /// Start at the oldest record of every shard instead of after the newest.
        #[arg(long)]
        from_start: bool,
        /// Print each record as its JSON, one per line.
        #[arg(long)]
        json: bool,
        /// Stop after this many records.
        #[arg(long)]
        count: Option<u64>,
        /// How often open shards are polled.
        #[arg(long, default_value_t = 500)]
        interval_ms: u64,
    },
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    match cli.command {
        Command::Serve {
            listen,
            region,
            threads,
            profile,
            seed,
            data_dir,
            body_read_ms_max,
            buffered_body_bytes_max,
            ttl_delay_ms,
        } => {
            let Some(profile) = profile_or_report(profile.as_deref()) else {
                return ExitCode::from(2);
            };
            serve(Serve {
                listen,
                region,
                threads,
                profile,
                seed,
                data_dir,
                ttl_delay_ms,
                limits: dynasim_server::http::Limits {
                    connection_count_max: connection_count_max(),
                    body_read_ms_max,
                    buffered_body_bytes_max,
                },
            })
        }
        Command::Metrics {
            endpoint,
            table,
            region,
        } => metrics::print(&endpoint, table.as_deref(), region.as_deref()),
        Command::Streams { command } => streams_command(command),
        Command::Check { history, json } => dynasim_sim::cli::check(&history, json),
        Command::Model {
            name,
            explore,
            threads,
        } => model(&name, explore.as_deref(), threads),
        Command::Run { args }
            if args
                .iter()
                .any(|a| a == "--endpoint" || a.starts_with("--endpoint=")) =>
        {
            against_endpoint(args)
        }
        Command::Run { args } => simulator("run", args),
        Command::Repro { args } => simulator("repro", args),
    }
}

fn streams_command(command: StreamsCommand) -> ExitCode {
    let StreamsCommand::Tail {
        table,
        endpoint,
        region,
        from_start,
        json,
        count,
        interval_ms,
    } = command;
    streams::tail(&streams::Tail {
        endpoint,
        region,
        table,
        from_start,
        json,
        count,
        interval_ms,
    })
}

/// Reads and checks a profile, reporting every error at once.
fn load_profile(path: &std::path::Path) -> Result<Profile, Vec<String>> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| vec![format!("cannot read profile {}: {e}", path.display())])?;
    let profile: Profile =
        toml::from_str(&text).map_err(|e| vec![format!("profile {}: {e}", path.display())])?;
    profile.validate().map_err(|errors| {
        errors
            .into_iter()
            .map(|e| format!("profile {}: {e}", path.display()))
            .collect::<Vec<_>>()
    })?;
    Ok(profile)
}

/// `dynasim serve`'s options.
struct Serve {
    listen: SocketAddr,
    region: String,
    threads: u16,
    profile: Option<Profile>,
    seed: u64,
    data_dir: Option<PathBuf>,
    ttl_delay_ms: u64,
    limits: dynasim_server::http::Limits,
}

/// The service over `engine`: in memory, or recovered from and logging to `data_dir`.
fn service(mut engine: Engine, data_dir: Option<&std::path::Path>) -> Result<Service, String> {
    let Some(dir) = data_dir else {
        return Ok(Service::with_engine(engine));
    };
    let storage = Arc::new(dynasim_server::storage::FileStorage::open(dir)?);
    let started = std::time::Instant::now();
    let now = dynasim_server::protocol::now_ms();
    let (log, recovered) = Durable::open(storage, &mut engine, now)
        .map_err(|e| format!("cannot recover the data directory {}: {e}", dir.display()))?;
    let items: u64 = engine.tables().map(|t| t.partitions().len() as u64).sum();
    println!(
        "dynasim: recovered {} tables and {items} items from {} in {} ms ({}, {} changes replayed from the log)",
        engine.tables().count(),
        dir.display(),
        started.elapsed().as_millis(),
        recovered.snapshot.as_deref().unwrap_or("no snapshot"),
        recovered.replayed,
    );
    if let Some((segment, offset, bytes)) = &recovered.torn {
        println!(
            "dynasim: cut off a torn tail of {bytes} bytes at offset {offset} of {segment} (an append a crash interrupted; it was never acknowledged)"
        );
    }
    Ok(Service::with_log(engine, log))
}

/// Blocks of this size and more (request bodies, decoded items, rendered pages) are mapped
/// and unmapped on their own.
#[cfg(all(target_os = "linux", target_env = "gnu"))]
const MMAP_THRESHOLD_BYTES: i32 = 1 << 20;

/// glibc raises its mmap threshold after freeing a mapped block (up to 32 MiB), after which
/// a 15 MiB body is carved from the heap of whichever blocking-pool thread decoded it and
/// stays in that thread's arena: RSS grew to 300 MiB under one client sending 15 MiB bodies.
/// A fixed threshold keeps large blocks mapped, so freeing them returns the memory.
fn return_large_blocks_to_the_system() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: mallopt only sets an allocator parameter; it is called before any thread starts.
    unsafe {
        libc::mallopt(libc::M_MMAP_THRESHOLD, MMAP_THRESHOLD_BYTES);
    }
}

/// A current-thread runtime for one thread, a multi-thread one for more.
fn runtime(threads: u16) -> std::io::Result<tokio::runtime::Runtime> {
    if threads == 1 {
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
    } else {
        tokio::runtime::Builder::new_multi_thread()
            .worker_threads(usize::from(threads))
            .enable_all()
            .build()
    }
}

fn serve(options: Serve) -> ExitCode {
    let Serve {
        listen,
        region,
        threads,
        profile,
        seed,
        data_dir,
        ttl_delay_ms,
        limits,
    } = options;
    return_large_blocks_to_the_system();
    let runtime = match runtime(threads) {
        Ok(runtime) => runtime,
        Err(e) => {
            eprintln!("dynasim: cannot start the runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    let config = Config {
        region,
        endpoint_address: listen.to_string(),
        ttl_delay_ms,
        ..Config::default()
    };
    let engine = match &profile {
        Some(profile) => {
            println!("dynasim: seed {seed}");
            Engine::with_profile(config, profile.clone(), seed)
        }
        None => Engine::new(config),
    };
    // Recovery comes before listening: no client connects to a server that cannot start.
    let service = match service(engine, data_dir.as_deref()) {
        Ok(service) => Arc::new(service),
        Err(error) => {
            eprintln!("dynasim: {error}");
            return ExitCode::FAILURE;
        }
    };
    runtime.block_on(async move {
        let listener = match tokio::net::TcpListener::bind(listen).await {
            Ok(listener) => listener,
            Err(e) => {
                eprintln!("dynasim: cannot listen on {listen}: {e}");
                return ExitCode::FAILURE;
            }
        };
        let address = listener.local_addr().map_or(listen, |a| a);
        service.set_endpoint_address(address.to_string());
        println!(
            "dynasim {} serving DynamoDB on http://{address} (Ctrl-C to stop)",
            env!("CARGO_PKG_VERSION")
        );
        let shutdown = async {
            wait_for_stop_signal().await;
            println!("dynasim: shutting down");
        };
        dynasim_server::http::serve(listener, service.clone(), limits, shutdown).await;
        service.close();
        ExitCode::SUCCESS
    })
}

/// Descriptors kept free of connections: the listener, standard streams, the data directory's
/// log, snapshot and lock files, and what the runtime opens.
const DESCRIPTORS_RESERVED: u64 = 64;

/// Connections `serve` holds at once: below the process's descriptor limit (its soft limit,
/// raised to the hard one first), so that accepting never fails for want of a descriptor.
fn connection_count_max() -> usize {
    #[cfg(unix)]
    {
        let mut limit = libc::rlimit {
            rlim_cur: 0,
            rlim_max: 0,
        };
        // SAFETY: getrlimit and setrlimit only read and write the struct passed to them.
        let soft = unsafe {
            if libc::getrlimit(libc::RLIMIT_NOFILE, &mut limit) != 0 {
                return dynasim_server::http::Limits::default().connection_count_max;
            }
            let raised = libc::rlimit {
                rlim_cur: limit.rlim_max,
                rlim_max: limit.rlim_max,
            };
            if libc::setrlimit(libc::RLIMIT_NOFILE, &raised) == 0 {
                raised.rlim_cur
            } else {
                limit.rlim_cur
            }
        };
        // rlim_t is u64 on Linux but not on every Unix.
        #[allow(clippy::useless_conversion)]
        let soft = u64::try_from(soft).unwrap_or(u64::MAX);
        let count = if soft > 2 * DESCRIPTORS_RESERVED {
            soft - DESCRIPTORS_RESERVED
        } else {
            soft / 2
        };
        usize::try_from(count.min(1 << 20)).unwrap_or(1 << 20)
    }
    #[cfg(not(unix))]
    {
        dynasim_server::http::Limits::default().connection_count_max
    }
}

/// Ctrl-C (SIGINT) everywhere, and SIGTERM on Unix, which service managers and CI send.
async fn wait_for_stop_signal() {
    #[cfg(all(unix, not(madsim)))]
    {
        use tokio::signal::unix::{SignalKind, signal};
        if let Ok(mut terminate) = signal(SignalKind::terminate()) {
            tokio::select! {
                _ = tokio::signal::ctrl_c() => {}
                _ = terminate.recv() => {}
            }
            return;
        }
    }
    let _ = tokio::signal::ctrl_c().await;
}

/// `dynasim run SCENARIO --endpoint URL`: the scenario's workloads as real clients of an
/// endpoint, checked by the simulator's checkers (no deployment, no faults).
#[cfg(not(madsim))]
#[derive(Parser)]
#[command(name = "dynasim run")]
struct EndpointRun {
    /// A scenario file, or a directory of them.
    target: PathBuf,
    /// The endpoint, `http://host:port`.
    #[arg(long)]
    endpoint: String,
    /// Seeds the workload generators.
    #[arg(long, default_value_t = 0)]
    seed: u64,
    /// How long the clients run, in milliseconds (default: the scenario's duration_ms plus
    /// liveness_ms, as real time).
    #[arg(long)]
    duration_ms: Option<u64>,
    /// Write each history (JSON lines) into this directory.
    #[arg(long)]
    history: Option<PathBuf>,
    /// After the final reads, wait this long, then read every value group of a workload's
    /// index and compare the index with the table (the `index` checker); without it the
    /// final index is not compared (an endpoint says nothing of when its indexes caught up).
    #[arg(long)]
    settle_ms: Option<u64>,
}

#[cfg(not(madsim))]
fn against_endpoint(args: Vec<String>) -> ExitCode {
    let parsed =
        EndpointRun::try_parse_from(std::iter::once("dynasim run".to_string()).chain(args));
    let options = match parsed {
        Ok(options) => options,
        Err(e) => e.exit(),
    };
    let files = match scenario_files(&options.target) {
        Ok(files) => files,
        Err(e) => {
            eprintln!("dynasim run: {e}");
            return ExitCode::from(2);
        }
    };
    let mut failed = false;
    for file in files {
        match against_endpoint_one(&options, &file) {
            Ok(passed) => failed |= !passed,
            Err(code) => return code,
        }
    }
    if failed {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    }
}

#[cfg(not(madsim))]
/// One scenario file against the endpoint: prints the verdict and the anomalies; `Ok(passed)`,
/// or the exit code for input or endpoint errors.
fn against_endpoint_one(options: &EndpointRun, file: &std::path::Path) -> Result<bool, ExitCode> {
    let scenario = match dynasim_sim::scenario::Scenario::load(file) {
        Ok(s) => s,
        Err(errors) => {
            for e in errors {
                eprintln!("dynasim run: {}: {e}", file.display());
            }
            return Err(ExitCode::from(2));
        }
    };
    if scenario.global.is_some() {
        // Its checker judges the versions each region stamps, which no endpoint reports.
        println!(
            "skipped {} against {}: a global-tables scenario runs only in the simulator",
            scenario.name, options.endpoint
        );
        return Ok(true);
    }
    let run_options = dynasim_sim::endpoint::Options {
        url: options.endpoint.clone(),
        seed: options.seed,
        duration_ms: options.duration_ms,
        settle_ms: options.settle_ms,
    };
    let (history, report) = dynasim_sim::endpoint::run(&scenario, &run_options).map_err(|e| {
        eprintln!("dynasim run: {}: {e}", file.display());
        ExitCode::from(2)
    })?;
    if let Some(dir) = &options.history {
        let _ = std::fs::create_dir_all(dir);
        let path = dir.join(format!("{}.jsonl", scenario.name));
        if let Err(e) = std::fs::write(&path, history.to_jsonl()) {
            eprintln!("dynasim run: cannot write {}: {e}", path.display());
        }
    }
    let (passed, verdict) = dynasim_sim::run::judge(&scenario, &report);
    println!(
        "{} {} against {}: {} operations; {verdict}",
        if passed { "passed" } else { "FAILED" },
        scenario.name,
        options.endpoint,
        report.stats.get("operations").copied().unwrap_or(0),
    );
    for a in &report.anomalies {
        let label = if a.violation {
            "VIOLATION"
        } else {
            "observation"
        };
        println!("  {label} {}: {}", a.kind, a.explanation);
    }
    Ok(passed)
}

#[cfg(not(madsim))]
/// A scenario file, or every `.toml` file of a directory, sorted.
fn scenario_files(target: &std::path::Path) -> Result<Vec<PathBuf>, String> {
    if target.is_file() {
        return Ok(vec![target.to_path_buf()]);
    }
    let entries = std::fs::read_dir(target).map_err(|e| format!("{}: {e}", target.display()))?;
    let mut files: Vec<PathBuf> = entries
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "toml"))
        .collect();
    files.sort();
    Ok(files)
}

/// The simulator build has no real network: `--endpoint` runs in the ordinary build only.
#[cfg(madsim)]
fn against_endpoint(_args: Vec<String>) -> ExitCode {
    eprintln!("dynasim run --endpoint: not available in the simulator build (--cfg madsim)");
    ExitCode::from(2)
}

/// Hands `run` and `repro` to the simulator build (`dynasim-sim`, built with `--cfg madsim`),
/// found next to this binary, in target/release, or on PATH.
fn simulator(command: &str, args: Vec<String>) -> ExitCode {
    let exe = std::env::current_exe().ok();
    let mut candidates: Vec<PathBuf> = Vec::new();
    if let Some(dir) = exe.as_ref().and_then(|e| e.parent()) {
        candidates.push(dir.join("dynasim-sim"));
        candidates.push(dir.join("../release/dynasim-sim"));
    }
    candidates.push(PathBuf::from("target/release/dynasim-sim"));
    let found = candidates.into_iter().find(|p| p.is_file());
    let program = found.unwrap_or_else(|| PathBuf::from("dynasim-sim"));
    match std::process::Command::new(&program)
        .arg(command)
        .args(&args)
        .status()
    {
        Ok(status) => ExitCode::from(status.code().unwrap_or(1).clamp(0, 255) as u8),
        Err(e) => {
            eprintln!(
                "dynasim: the simulator build is missing ({}: {e}); build it with \
                 `cargo simrun -- --help` or run `cargo simrun {command} ...`",
                program.display()
            );
            ExitCode::from(2)
        }
    }
}

/// `dynasim model NAME`: checks the model exhaustively and prints what it found.
fn model(name: &str, explore: Option<&str>, threads: usize) -> ExitCode {
    use dynasim_model::global_tables::GlobalTablesModel;
    use dynasim_model::replication::ReplicationModel;
    use dynasim_model::transactions::TransactionsModel;
    match name {
        "global-tables" => run_model(name, GlobalTablesModel::default(), explore, threads),
        "replication" => run_model(name, ReplicationModel::default(), explore, threads),
        "replication-leases" => run_model(name, ReplicationModel::leases(), explore, threads),
        "transactions" => run_model(name, TransactionsModel::default(), explore, threads),
        _ => {
            let names: Vec<&str> = dynasim_model::MODELS.iter().map(|(n, _)| *n).collect();
            eprintln!(
                "dynasim model: unknown model {name:?} (models: {})",
                names.join(", ")
            );
            ExitCode::from(2)
        }
    }
}

fn run_model<M>(name: &str, model: M, explore: Option<&str>, threads: usize) -> ExitCode
where
    M: dynasim_model::stateright::Model + Clone + std::fmt::Debug + Send + Sync + 'static,
    M::State: Send + Sync + std::fmt::Debug + std::hash::Hash + Clone + PartialEq,
    M::Action: Send + Sync + std::fmt::Debug + Clone + PartialEq,
{
    if let Some(address) = explore {
        eprintln!("dynasim model: serving stateright's Explorer on http://{address}");
        dynasim_model::explore(model.clone(), address);
    }
    println!("checking {name}: {model:?}");
    let outcome = dynasim_model::check(model, threads.max(1));
    println!(
        "{} states ({} unique), depth {}, {:.1} s",
        outcome.states, outcome.unique_states, outcome.max_depth, outcome.seconds
    );
    if outcome.failures.is_empty() {
        println!("every property holds within the bounds");
        return ExitCode::SUCCESS;
    }
    for (property, path) in &outcome.failures {
        println!("VIOLATION {property}:\n{path}");
    }
    ExitCode::from(1)
}

/// The profile a `serve` names (`Some(None)`: none), or `None` after printing why it does not
/// load.
fn profile_or_report(path: Option<&std::path::Path>) -> Option<Option<Profile>> {
    match path.map(load_profile).transpose() {
        Ok(profile) => Some(profile),
        Err(errors) => {
            for error in errors {
                eprintln!("dynasim: {error}");
            }
            None
        }
    }
}
