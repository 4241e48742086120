//! `dynasim-sim`: the simulator build of dynasim's `run`, `repro` and `check` commands. It is
//! built with `--cfg madsim` (`cargo simrun`); the `dynasim` command hands `run` and `repro` to
//! it.

use clap::{Parser, Subcommand};
use dynasim_sim::faults::Plan;
use dynasim_sim::run::{self, Bug, RunOptions, RunRecord};
use dynasim_sim::scenario::Scenario;
use std::io::IsTerminal;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

#[derive(Parser)]
#[command(name = "dynasim", about = "dynasim's seeded simulator", version)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run scenarios (a file, or every .toml in a directory) over seeds, check every history.
    Run {
        /// A scenario file or a directory of them.
        target: PathBuf,
        /// How many seeds per scenario (default: the scenario's own `seeds`).
        #[arg(long)]
        seeds: Option<u64>,
        /// The first seed (alone: run only this seed).
        #[arg(long)]
        seed: Option<u64>,
        /// Write a Markdown and an HTML report per run (and failing histories) here.
        #[arg(long)]
        report: Option<PathBuf>,
        /// Write JUnit XML here.
        #[arg(long)]
        junit: Option<PathBuf>,
        /// K/N: run only the K-th of N shares of the (scenario, seed) pairs.
        #[arg(long)]
        shard: Option<String>,
        /// On failure, search for a smaller fault schedule and operation count that still fails.
        #[arg(long)]
        shrink: bool,
        /// Run every seed twice and fail when the two digests differ.
        #[arg(long)]
        twice: bool,
        /// Test-only: run a deliberately broken engine variant.
        #[arg(long, hide = true)]
        inject_bug: Option<String>,
    },
    /// Run one seed again: prints the same digest of history and final state every time.
    Repro {
        scenario: PathBuf,
        #[arg(long)]
        seed: u64,
        /// A fault schedule written by `run --shrink` (JSON), instead of the seed's.
        #[arg(long)]
        plan: Option<PathBuf>,
        /// Stop issuing operations after this many.
        #[arg(long)]
        max_ops: Option<u64>,
        /// Write the history (JSON lines) here.
        #[arg(long)]
        history: Option<PathBuf>,
        #[arg(long)]
        report: Option<PathBuf>,
        #[arg(long, hide = true)]
        inject_bug: Option<String>,
    },
    /// Check a recorded history (JSON lines, docs/history.md) for anomalies.
    Check {
        history: PathBuf,
        /// Print the report as JSON.
        #[arg(long)]
        json: bool,
    },
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    match cli.command {
        Command::Check { history, json } => dynasim_sim::cli::check(&history, json),
        command => {
            if cfg!(not(madsim)) {
                eprintln!(
                    "dynasim: `run` and `repro` need the simulator build: cargo simrun -- run ... \
                     (see README)"
                );
                return ExitCode::from(2);
            }
            match command {
                Command::Run {
                    target,
                    seeds,
                    seed,
                    report,
                    junit,
                    shard,
                    shrink,
                    twice,
                    inject_bug,
                } => run_command(RunArgs {
                    target,
                    seeds,
                    seed,
                    report,
                    junit,
                    shard,
                    shrink,
                    twice,
                    bug: inject_bug,
                }),
                Command::Repro {
                    scenario,
                    seed,
                    plan,
                    max_ops,
                    history,
                    report,
                    inject_bug,
                } => repro(scenario, seed, plan, max_ops, history, report, inject_bug),
                Command::Check { .. } => unreachable!(),
            }
        }
    }
}

struct RunArgs {
    target: PathBuf,
    seeds: Option<u64>,
    seed: Option<u64>,
    report: Option<PathBuf>,
    junit: Option<PathBuf>,
    shard: Option<String>,
    shrink: bool,
    twice: bool,
    bug: Option<String>,
}

fn scenarios(target: &Path) -> Result<Vec<(String, Scenario)>, Vec<String>> {
    let mut paths = Vec::new();
    if target.is_dir() {
        let entries =
            std::fs::read_dir(target).map_err(|e| vec![format!("{}: {e}", target.display())])?;
        for entry in entries.flatten() {
            let p = entry.path();
            if p.extension().is_some_and(|e| e == "toml") {
                paths.push(p);
            }
        }
        paths.sort();
    } else {
        paths.push(target.to_path_buf());
    }
    let mut out = Vec::new();
    let mut errors = Vec::new();
    for p in paths {
        match Scenario::load(&p) {
            Ok(s) => out.push((p.display().to_string(), s)),
            Err(e) => errors.extend(e),
        }
    }
    if errors.is_empty() && out.is_empty() {
        errors.push(format!("{}: no scenario files", target.display()));
    }
    if errors.is_empty() {
        Ok(out)
    } else {
        Err(errors)
    }
}

fn parse_bug(name: Option<&str>) -> Result<Option<Bug>, String> {
    match name {
        None => Ok(None),
        Some(n) => Bug::parse(n)
            .map(Some)
            .ok_or_else(|| format!("unknown bug {n:?}")),
    }
}

fn parse_shard(shard: Option<&str>) -> Result<(u64, u64), String> {
    let Some(s) = shard else { return Ok((1, 1)) };
    let bad = || format!("--shard {s:?}: expected K/N with 1 <= K <= N");
    let (k, n) = s.split_once('/').ok_or_else(bad)?;
    let (k, n): (u64, u64) = (k.parse().map_err(|_| bad())?, n.parse().map_err(|_| bad())?);
    if k == 0 || n == 0 || k > n {
        return Err(bad());
    }
    Ok((k, n))
}

fn write_reports(dir: &Path, path: &str, scenario: &Scenario, record: &RunRecord, repro: &str) {
    let sub = dir.join(scenario.name.replace('/', "_"));
    if let Err(e) = std::fs::create_dir_all(&sub) {
        eprintln!("dynasim: {}: {e}", sub.display());
        return;
    }
    let view = dynasim_sim::report::view(scenario, record, repro);
    let base = sub.join(format!("seed-{}", record.seed));
    let _ = std::fs::write(base.with_extension("md"), dynasim_reports::markdown(&view));
    let _ = std::fs::write(base.with_extension("html"), dynasim_reports::html(&view));
    if !record.passed {
        let _ = std::fs::write(base.with_extension("jsonl"), record.history.to_jsonl());
    }
    let _ = path;
}

fn run_command(args: RunArgs) -> ExitCode {
    let list = match scenarios(&args.target) {
        Ok(l) => l,
        Err(errors) => {
            for e in errors {
                eprintln!("dynasim run: {e}");
            }
            return ExitCode::from(2);
        }
    };
    let bug = match parse_bug(args.bug.as_deref()) {
        Ok(b) => b,
        Err(e) => {
            eprintln!("dynasim run: {e}");
            return ExitCode::from(2);
        }
    };
    let (k, n) = match parse_shard(args.shard.as_deref()) {
        Ok(s) => s,
        Err(e) => {
            eprintln!("dynasim run: {e}");
            return ExitCode::from(2);
        }
    };
    let first = args.seed.unwrap_or(0);
    let mut jobs: Vec<(usize, u64)> = Vec::new();
    for (i, (_, s)) in list.iter().enumerate() {
        let count = args
            .seeds
            .unwrap_or(if args.seed.is_some() { 1 } else { s.seeds });
        for seed in first..first + count {
            jobs.push((i, seed));
        }
    }
    let jobs: Vec<(usize, u64)> = jobs
        .into_iter()
        .enumerate()
        .filter(|(j, _)| *j as u64 % n == k - 1)
        .map(|(_, job)| job)
        .collect();
    // The seed comes first, so that even a run that hangs or crashes can be reproduced.
    println!(
        "dynasim: seed {first} ({} run(s): {} scenario(s), seeds from {first}{})",
        jobs.len(),
        list.len(),
        if n > 1 {
            format!(", shard {k}/{n}")
        } else {
            String::new()
        }
    );
    let bar = indicatif::ProgressBar::new(jobs.len() as u64);
    if std::io::stderr().is_terminal() {
        bar.set_style(
            indicatif::ProgressStyle::with_template("{bar:40} {pos}/{len} {msg}")
                .expect("a valid template"),
        );
    } else {
        bar.set_draw_target(indicatif::ProgressDrawTarget::hidden());
    }
    let started = std::time::Instant::now();
    let mut records: Vec<(usize, RunRecord, String)> = Vec::new();
    let mut failed = 0;
    for (i, seed) in jobs {
        let (path, scenario) = &list[i];
        bar.set_message(format!("{} seed {seed}", scenario.name));
        let options = RunOptions {
            seed,
            bug,
            ..RunOptions::default()
        };
        let mut record = run::run(scenario, options.clone());
        if args.twice {
            let again = run::run(scenario, options);
            if again.digest != record.digest {
                record.passed = false;
                record.verdict = format!(
                    "nondeterministic: digests {} and {} from the same seed",
                    record.digest, again.digest
                );
            }
        }
        bar.inc(1);
        let mut repro = run::repro_command(path, &record);
        if !record.passed {
            failed += 1;
            bar.suspend(|| {
                println!("FAIL {} seed {seed}: {}", scenario.name, record.verdict);
                if let Some(a) = record.report.violations().next() {
                    println!("  {}", a.explanation);
                }
                println!("  reproduce: {repro}");
            });
            if args.shrink {
                let small = run::shrink(scenario, record.clone(), 40);
                let plan_path = std::env::temp_dir().join(format!(
                    "dynasim-{}-seed-{seed}-plan.json",
                    scenario.name.replace('/', "_")
                ));
                let plan_path = match &args.report {
                    Some(dir) => {
                        let _ = std::fs::create_dir_all(dir);
                        dir.join(plan_path.file_name().expect("a file name"))
                    }
                    None => plan_path,
                };
                let _ = std::fs::write(
                    &plan_path,
                    serde_json::to_string_pretty(&small.plan).expect("plans serialize"),
                );
                let small_repro = format!(
                    "{} --plan {} --max-ops {}",
                    run::repro_command(path, &small),
                    plan_path.display(),
                    small.operations
                );
                bar.suspend(|| {
                    println!(
                        "  shrunk: {} fault(s) (from {}), {} operation(s) (from {}): {}",
                        small.plan.faults.len(),
                        record.plan.faults.len(),
                        small.operations,
                        record.operations,
                        small.verdict
                    );
                    println!("  reproduce the shrunk run: {small_repro}");
                });
                record = small;
                repro = small_repro;
            }
        }
        let unchecked = record
            .report
            .anomalies
            .iter()
            .filter(|a| a.kind == "unchecked")
            .count();
        if unchecked > 0 {
            bar.suspend(|| {
                println!(
                    "WARN {} seed {seed}: {unchecked} item(s) unchecked (the linearizability \
                     search gave up); reproduce: {repro}",
                    scenario.name
                );
            });
        }
        if let Some(dir) = &args.report {
            write_reports(dir, path, scenario, &record, &repro);
        }
        records.push((i, record, repro));
    }
    bar.finish_and_clear();
    // Summary table.
    println!(
        "\n{:<32} {:>5} {:>6} {:>6} {:>9} {:>9} {:>8}",
        "scenario", "seeds", "passed", "failed", "ops", "sim s", "wall s"
    );
    for (i, (_, s)) in list.iter().enumerate() {
        let mine: Vec<&RunRecord> = records.iter().filter(|r| r.0 == i).map(|r| &r.1).collect();
        if mine.is_empty() {
            continue;
        }
        println!(
            "{:<32} {:>5} {:>6} {:>6} {:>9} {:>9.1} {:>8.2}",
            s.name,
            mine.len(),
            mine.iter().filter(|r| r.passed).count(),
            mine.iter().filter(|r| !r.passed).count(),
            mine.iter().map(|r| r.operations).sum::<u64>(),
            mine.iter().map(|r| r.simulated_ms).sum::<u64>() as f64 / 1000.0,
            mine.iter().map(|r| r.wall_ms).sum::<u64>() as f64 / 1000.0,
        );
    }
    let ops: u64 = records.iter().map(|r| r.1.operations).sum();
    let wall = started.elapsed().as_secs_f64();
    println!(
        "\n{} run(s), {} failed; {} operations in {:.2} s ({:.0} simulated operations per second)",
        records.len(),
        failed,
        ops,
        wall,
        ops as f64 / wall.max(1e-9)
    );
    if let Some(path) = &args.junit {
        let runs: Vec<dynasim_reports::Run> = records
            .iter()
            .map(|(i, r, repro)| dynasim_sim::report::view(&list[*i].1, r, repro))
            .map(|mut v| {
                v.ops.clear();
                v
            })
            .collect();
        if let Err(e) = std::fs::write(path, dynasim_reports::junit("dynasim", &runs)) {
            eprintln!("dynasim run: {}: {e}", path.display());
            return ExitCode::from(2);
        }
    }
    if failed > 0 {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    }
}

fn repro(
    path: PathBuf,
    seed: u64,
    plan: Option<PathBuf>,
    max_ops: Option<u64>,
    history: Option<PathBuf>,
    report: Option<PathBuf>,
    bug: Option<String>,
) -> ExitCode {
    let scenario = match Scenario::load(&path) {
        Ok(s) => s,
        Err(errors) => {
            for e in errors {
                eprintln!("dynasim repro: {e}");
            }
            return ExitCode::from(2);
        }
    };
    let bug = match parse_bug(bug.as_deref()) {
        Ok(b) => b,
        Err(e) => {
            eprintln!("dynasim repro: {e}");
            return ExitCode::from(2);
        }
    };
    let plan: Option<Plan> = match plan {
        None => None,
        Some(p) => match std::fs::read_to_string(&p)
            .map_err(|e| e.to_string())
            .and_then(|t| serde_json::from_str(&t).map_err(|e| e.to_string()))
        {
            Ok(plan) => Some(plan),
            Err(e) => {
                eprintln!("dynasim repro: {}: {e}", p.display());
                return ExitCode::from(2);
            }
        },
    };
    println!("dynasim: seed {seed}");
    let record = run::run(
        &scenario,
        RunOptions {
            seed,
            bug,
            plan,
            max_ops,
        },
    );
    println!("digest {}", record.digest);
    println!(
        "{}: {} operations, {} ms simulated",
        if record.passed { "passed" } else { "FAILED" },
        record.operations,
        record.simulated_ms
    );
    println!("verdict: {}", record.verdict);
    for a in record.report.anomalies.iter() {
        println!(
            "  {} {}: {}",
            if a.violation {
                "VIOLATION"
            } else {
                "observation"
            },
            a.kind,
            a.explanation
        );
    }
    if let Some(h) = history {
        let _ = std::fs::write(h, record.history.to_jsonl());
    }
    let display = path.display().to_string();
    if let Some(dir) = report {
        let repro = run::repro_command(&display, &record);
        write_reports(&dir, &display, &scenario, &record, &repro);
    }
    if record.passed {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    }
}
