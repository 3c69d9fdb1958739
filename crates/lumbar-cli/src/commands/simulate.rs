//! `lumbar simulate` (`lumbar merge` and `lumbar compare` are in
//! [`super::compare`]).
//!
//! A result folder holds `summary.parquet` and `summary.json` (the weekly
//! metrics), `manifest.json` (scenario hash, seed, shard, version), and
//! `tally.json`: the exact integer accumulators, from which `merge` adds
//! shards and `compare` recomputes per-run values. With `--trajectories`,
//! `trajectories/run-RRRR-from-PPPPPPPPPP.parquet` holds every patient-day,
//! one file per run and block of patients, so shards write disjoint files.

use std::io::Write;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::Instant;

use anyhow::{Context, Result};
use clap::Args;
use lumbar_sim::engine::{RunOptions, Shard, TrajectorySink, simulate};
use lumbar_sim::results::{RunInfo, RunSource, TallyFile};
use lumbar_sim::scenario::{Scenario, ScenarioError};

use super::sim_io::{ParquetTrajectories, print_summary, summary_json, write_result};
use crate::Ui;

#[derive(Args, Debug)]
pub struct SimulateArgs {
    /// Scenario file (TOML), e.g. datasets/scenarios/pain-contingent.toml.
    pub scenario: PathBuf,
    /// Patients per run (overrides the scenario).
    #[arg(long)]
    pub patients: Option<u64>,
    /// Horizon in weeks (overrides the scenario).
    #[arg(long)]
    pub weeks: Option<u32>,
    /// Master seed (overrides the scenario).
    #[arg(long)]
    pub seed: Option<u64>,
    /// Worker threads (default: all cores). Results do not depend on it.
    #[arg(long)]
    pub threads: Option<usize>,
    /// Run one contiguous slice of the patients, i of n (e.g. 2/8). Without
    /// it, SLURM_ARRAY_TASK_ID / SLURM_ARRAY_TASK_COUNT are used when set.
    #[arg(long, value_name = "i/n")]
    pub shard: Option<String>,
    /// Also write every patient's daily path as Parquet.
    #[arg(long)]
    pub trajectories: bool,
    /// Also write the simulated patients as a clinic's canonical tables
    /// (patients, sessions, walking, outcomes CSV) into this folder, for
    /// `lumbar ingest --dir` (the first run; not with --shard).
    #[arg(long, value_name = "DIR")]
    pub cohort_tables: Option<PathBuf>,
    /// Output folder.
    #[arg(short, long)]
    pub out: PathBuf,
    /// Print the summary as JSON on stdout.
    #[arg(long)]
    pub json: bool,
    #[command(flatten)]
    pub format: super::TableFormatArg,
}

/// The scenario file with the command line's overrides, and those
/// overrides as recorded in the manifest (in the flags' order).
fn scenario_from_args(
    args: &SimulateArgs,
) -> Result<(Scenario, serde_json::Map<String, serde_json::Value>)> {
    let mut scenario = Scenario::load(&args.scenario)?;
    let mut overrides = serde_json::Map::new();
    let flag_error = |e: ScenarioError| match e {
        ScenarioError::Override { key, problem } => {
            let flag = match key {
                "patients" => "--patients",
                "weeks" => "--weeks",
                _ => key,
            };
            anyhow::anyhow!("{flag} {problem}")
        }
        e => e.into(),
    };
    if let Some(p) = args.patients {
        overrides.insert("patients".into(), p.into());
    }
    // The horizon first, so that its checks see the file's cohort, as
    // parsing the file with that horizon would.
    if let Some(w) = args.weeks {
        scenario = scenario.with_weeks(w).map_err(flag_error)?;
        overrides.insert("weeks".into(), w.into());
    }
    if let Some(p) = args.patients {
        scenario = scenario.with_patients(p).map_err(flag_error)?;
    }
    if let Some(s) = args.seed {
        scenario = scenario.with_seed(s).map_err(flag_error)?;
        overrides.insert("seed".into(), s.into());
    }
    Ok((scenario, overrides))
}

pub fn simulate_cmd(args: &SimulateArgs, ui: &Ui, out: &mut dyn Write) -> Result<u8> {
    let started = Instant::now();
    let (scenario, overrides) = scenario_from_args(args)?;
    let shard = super::shard::requested(args.shard.as_deref())?;
    let scenario_file = args
        .scenario
        .file_name()
        .map(|f| f.to_string_lossy().into_owned())
        .unwrap_or_default();
    let plan = lumbar_sim::engine::plan_runs(&scenario)?;
    let info = RunInfo::new(
        &scenario,
        RunSource {
            scenario_file,
            scenario_sha256: lumbar_io::sha256_file(&args.scenario)?,
            overrides,
            plan: &plan,
            trajectories: args.trajectories,
        },
    );

    let staged = super::result_dir(&args.out)?;
    let sink = if args.trajectories {
        let dir = staged.path().join("trajectories");
        std::fs::create_dir_all(&dir)
            .with_context(|| format!("cannot create {}", dir.display()))?;
        Some(ParquetTrajectories { dir })
    } else {
        None
    };
    let shard_v = shard.unwrap_or(Shard::WHOLE);
    let range = shard_v.patients(scenario.patients);
    let total = (range.end - range.start) * scenario.runs() as u64;
    // The bar appears only once a run has taken more than 2 seconds.
    let bar = ui.progress(total, "simulate");
    bar.set_draw_target(indicatif::ProgressDrawTarget::hidden());
    let shown = AtomicBool::new(false);
    let done = AtomicU64::new(0);
    let progress = |n: u64| {
        let d = done.fetch_add(n, Ordering::Relaxed) + n;
        if !ui.quiet
            && started.elapsed().as_secs_f64() > 2.0
            && !shown.swap(true, Ordering::Relaxed)
        {
            bar.set_draw_target(indicatif::ProgressDrawTarget::stderr());
        }
        bar.set_position(d);
    };
    let run = || {
        simulate(
            &scenario,
            RunOptions { shard: shard_v },
            sink.as_ref().map(|s| s as &dyn TrajectorySink),
            &progress,
        )
    };
    let pool = match args.threads {
        Some(t) => Some(
            rayon::ThreadPoolBuilder::new()
                .num_threads(t.max(1))
                .build()?,
        ),
        None => None,
    };
    let in_pool = |f: &(dyn Fn() -> Result<u64> + Sync)| match &pool {
        Some(p) => p.install(f),
        None => f(),
    };
    if let Some(dir) = &args.cohort_tables {
        if shard.is_some_and(|s| s.count > 1) {
            anyhow::bail!("--cohort-tables writes the whole cohort: give it without --shard");
        }
        in_pool(&|| super::cohort_tables::write(&scenario, dir))?;
    }
    let result = match &pool {
        Some(p) => p.install(run)?,
        None => run()?,
    };
    bar.finish_and_clear();
    let file = TallyFile {
        info,
        shard: shard.filter(|s| s.count > 1).map(|s| s.to_string()),
        patients_range: [result.patients.start, result.patients.end],
        tallies: result.tallies,
    };
    let rows = write_result(
        staged.path(),
        &file,
        args.format.formats_or(super::PARQUET_ONLY),
    )?;
    staged
        .commit()
        .with_context(|| format!("cannot put the results in place at {}", args.out.display()))?;
    let elapsed = started.elapsed().as_secs_f64();
    let patient_days = total as f64 * scenario.days() as f64;
    ui.note(&format!(
        "simulated {} patient-days in {elapsed:.2} s ({:.2} million per second)",
        patient_days,
        patient_days / elapsed / 1e6
    ));
    if args.json {
        serde_json::to_writer_pretty(&mut *out, &summary_json(&file.info, &rows))?;
        writeln!(out)?;
    } else {
        print_summary(&file.info, &rows, &file.shard, out)?;
        writeln!(out, "written to {}", args.out.display())?;
    }
    Ok(0)
}
