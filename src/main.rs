//! The `dynasim` command line.

use clap::{Parser, Subcommand};
use dynasim_engine::realism::profile::Profile;
use dynasim_engine::storage::durable::Durable;
use dynasim_engine::{Config, Engine};

mod metrics;
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
    Serve {
        /// Address to listen on.
        #[arg(long, default_value = "127.0.0.1:8000")]
        listen: SocketAddr,
        /// Region reported in table ARNs.
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
        /// the change it reports is on disk. Without it, everything lives in memory.
        #[arg(long)]
        data_dir: Option<PathBuf>,
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
    /// Print a running server's one-minute metrics series and Contributor Insights.
    Metrics {
        /// The server's endpoint.
        #[arg(long, default_value = "http://127.0.0.1:8000")]
        endpoint: String,
        /// Only this table.
        #[arg(long)]
        table: Option<String>,
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
        } => {
            let profile = match profile.as_deref().map(load_profile).transpose() {
                Ok(profile) => profile,
                Err(errors) => {
                    for error in errors {
                        eprintln!("dynasim: {error}");
                    }
                    return ExitCode::from(2);
                }
            };
            serve(Serve {
                listen,
                region,
                threads,
                profile,
                seed,
                data_dir,
            })
        }
        Command::Metrics { endpoint, table } => metrics::print(&endpoint, table.as_deref()),
        Command::Check { history, json } => dynasim_sim::cli::check(&history, json),
        Command::Run { args } => simulator("run", args),
        Command::Repro { args } => simulator("repro", args),
    }
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

fn serve(options: Serve) -> ExitCode {
    let Serve {
        listen,
        region,
        threads,
        profile,
        seed,
        data_dir,
    } = options;
    let built = if threads == 1 {
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
    } else {
        tokio::runtime::Builder::new_multi_thread()
            .worker_threads(usize::from(threads))
            .enable_all()
            .build()
    };
    let runtime = match built {
        Ok(runtime) => runtime,
        Err(e) => {
            eprintln!("dynasim: cannot start the runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    let config = Config {
        region,
        endpoint_address: listen.to_string(),
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
        dynasim_server::http::serve(listener, service.clone(), shutdown).await;
        service.close();
        ExitCode::SUCCESS
    })
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
