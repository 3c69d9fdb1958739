//! `lumbar simulate`, `lumbar merge` and `lumbar compare`.
//!
//! A result folder holds `summary.parquet` and `summary.json` (the weekly
//! metrics), `manifest.json` (scenario hash, seed, shard, version), and
//! `tally.json`: the exact integer accumulators, from which `merge` adds
//! shards and `compare` recomputes per-run values. With `--trajectories`,
//! `trajectories/run-RRRR-from-PPPPPPPPPP.parquet` holds every patient-day,
//! one file per run and block of patients, so shards write disjoint files.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::Instant;

use anyhow::{Context, Result, bail};
use clap::Args;
use lumbar_model::atomic::{PendingPath, write_atomic};
use lumbar_sim::engine::{RunOptions, Shard, TrajectoryBlock, TrajectorySink, simulate};
use lumbar_sim::scenario::Scenario;
use lumbar_sim::summary::{Difference, RunLayout, SummaryRow, compare, runs_pair, summarize};
use lumbar_sim::tally::{PAIN_BINS, Tally};
use polars::prelude::{Column, DataFrame, ParquetWriter};
use serde::{Deserialize, Serialize};

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
    /// Output folder.
    #[arg(short, long)]
    pub out: PathBuf,
    /// Print the summary as JSON on stdout.
    #[arg(long)]
    pub json: bool,
}

#[derive(Args, Debug)]
pub struct MergeArgs {
    /// Result folders of the shards of one run.
    #[arg(required = true)]
    pub dirs: Vec<PathBuf>,
    /// Output folder: the same files as the unsharded run.
    #[arg(short, long)]
    pub out: PathBuf,
}

#[derive(Args, Debug)]
pub struct CompareArgs {
    /// Result folder of scenario A (the reference).
    pub a: PathBuf,
    /// Result folder of scenario B; differences are B − A.
    pub b: PathBuf,
    /// Print JSON instead of a table.
    #[arg(long)]
    pub json: bool,
}

/// What identifies a simulation, shared by its shards.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
struct RunInfo {
    lumbar_version: String,
    scenario: String,
    scenario_file: String,
    scenario_sha256: String,
    regimen: String,
    seed: u64,
    patients: u64,
    weeks: u32,
    replications: u32,
    psa_draws: u32,
    runs: u32,
    overrides: serde_json::Value,
    psa: Vec<serde_json::Value>,
    trajectories: bool,
}

/// `tally.json`: the exact state a shard contributes.
#[derive(Debug, Serialize, Deserialize)]
struct TallyFile {
    info: RunInfo,
    shard: Option<String>,
    patients_range: [u64; 2],
    tallies: Vec<Tally>,
}

fn shard_from_env() -> Result<Option<Shard>> {
    let var = |k: &str| std::env::var(k).ok();
    shard_from_slurm(
        var("SLURM_ARRAY_TASK_ID"),
        var("SLURM_ARRAY_TASK_COUNT"),
        var("SLURM_ARRAY_TASK_MIN"),
    )
}

/// The shard of a Slurm array task: index = TASK_ID − TASK_MIN + 1 (TASK_MIN
/// is 0 when unset, as with `--array=0-7`), count = TASK_COUNT.
fn shard_from_slurm(
    id: Option<String>,
    count: Option<String>,
    min: Option<String>,
) -> Result<Option<Shard>> {
    let (Some(id), Some(count)) = (id, count) else {
        return Ok(None);
    };
    let min: u64 = match min {
        None => 0,
        Some(m) => m
            .parse()
            .with_context(|| format!("SLURM_ARRAY_TASK_MIN={m} is not a number"))?,
    };
    let id: u64 = id
        .parse()
        .with_context(|| format!("SLURM_ARRAY_TASK_ID={id} is not a number"))?;
    let index = id
        .checked_sub(min)
        .map(|i| i + 1)
        .with_context(|| format!("SLURM_ARRAY_TASK_ID={id} is below SLURM_ARRAY_TASK_MIN={min}"))?;
    Shard::parse(&format!("{index}/{count}"))
        .map(Some)
        .map_err(|e| anyhow::anyhow!("from SLURM_ARRAY_TASK_ID/COUNT: {e}"))
}

struct ParquetTrajectories {
    dir: PathBuf,
}

impl TrajectorySink for ParquetTrajectories {
    fn write(&self, t: &TrajectoryBlock) -> Result<(), String> {
        let path = self.dir.join(format!(
            "run-{:04}-from-{:010}.parquet",
            t.run, t.first_patient
        ));
        let n = t.len();
        let mut cols = vec![
            Column::new("run".into(), vec![t.run; n]),
            Column::new("patient".into(), &t.patient),
            Column::new("day".into(), &t.day),
            Column::new("pain".into(), &t.pain),
            Column::new("flare".into(), &t.flare),
            Column::new(
                "walking_min".into(),
                t.walking_min
                    .iter()
                    .map(|w| (!w.is_nan()).then_some(*w))
                    .collect::<Vec<_>>(),
            ),
            Column::new("exercised".into(), &t.exercised),
            Column::new("scheduled".into(), &t.scheduled),
            Column::new("completed".into(), &t.completed),
            Column::new("safety_events".into(), &t.safety_events),
            Column::new("dropped".into(), &t.dropped),
        ];
        for (k, r) in t.ladder_keys.iter().zip(&t.rungs) {
            cols.push(Column::new(format!("rung_{k}").into(), r));
        }
        let mut df = DataFrame::new(n, cols).map_err(|e| e.to_string())?;
        write_parquet(&mut df, &path).map_err(|e| format!("{}: {e}", path.display()))
    }
}

fn write_parquet(df: &mut DataFrame, path: &Path) -> Result<()> {
    let pending = PendingPath::new(path);
    let file = std::fs::File::create(pending.temp())
        .with_context(|| format!("cannot create {}", pending.temp().display()))?;
    ParquetWriter::new(file).finish(df)?;
    pending.commit()?;
    Ok(())
}

fn summary_frame(rows: &[SummaryRow]) -> Result<DataFrame> {
    let n = rows.len();
    Ok(DataFrame::new(
        n,
        vec![
            Column::new(
                "scenario".into(),
                rows.iter().map(|r| r.scenario.as_str()).collect::<Vec<_>>(),
            ),
            Column::new(
                "week".into(),
                rows.iter().map(|r| r.week).collect::<Vec<_>>(),
            ),
            Column::new(
                "metric".into(),
                rows.iter().map(|r| r.metric.as_str()).collect::<Vec<_>>(),
            ),
            Column::new(
                "estimate".into(),
                rows.iter().map(|r| r.estimate).collect::<Vec<_>>(),
            ),
            Column::new(
                "lower".into(),
                rows.iter().map(|r| r.lower).collect::<Vec<_>>(),
            ),
            Column::new(
                "upper".into(),
                rows.iter().map(|r| r.upper).collect::<Vec<_>>(),
            ),
            Column::new(
                "runs".into(),
                rows.iter().map(|r| r.runs).collect::<Vec<_>>(),
            ),
        ],
    )?)
}

fn summary_json(info: &RunInfo, rows: &[SummaryRow]) -> serde_json::Value {
    serde_json::json!({
        "scenario": info.scenario,
        "patients": info.patients,
        "weeks": info.weeks,
        "runs": info.runs,
        "seed": info.seed,
        "metrics": rows,
    })
}

fn to_json_bytes<T: Serialize>(v: &T) -> Result<Vec<u8>> {
    let mut b = serde_json::to_vec_pretty(v)?;
    b.push(b'\n');
    Ok(b)
}

/// Writes summary.parquet, summary.json, tally.json and manifest.json.
fn write_result(dir: &Path, file: &TallyFile) -> Result<Vec<SummaryRow>> {
    std::fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
    let rows = summarize(&file.info.scenario, &file.tallies);
    write_parquet(&mut summary_frame(&rows)?, &dir.join("summary.parquet"))?;
    write_atomic(
        &dir.join("summary.json"),
        &to_json_bytes(&summary_json(&file.info, &rows))?,
    )?;
    write_atomic(&dir.join("tally.json"), &to_json_bytes(file)?)?;
    let mut outputs = vec!["summary.parquet", "summary.json", "tally.json"];
    if file.info.trajectories {
        outputs.push("trajectories/");
    }
    let manifest = serde_json::json!({
        "command": "simulate",
        "run": file.info,
        "shard": file.shard,
        "patients_range": file.patients_range,
        "outputs": outputs,
    });
    write_atomic(&dir.join("manifest.json"), &to_json_bytes(&manifest)?)?;
    Ok(rows)
}

pub fn simulate_cmd(args: &SimulateArgs, ui: &Ui, out: &mut dyn Write) -> Result<u8> {
    let started = Instant::now();
    let mut scenario = Scenario::load(&args.scenario)?;
    let mut overrides = serde_json::Map::new();
    if let Some(p) = args.patients {
        scenario.patients = p;
        overrides.insert("patients".into(), p.into());
    }
    if let Some(w) = args.weeks {
        if w == 0 || w > lumbar_sim::scenario::MAX_WEEKS {
            bail!("--weeks must be 1 to {}", lumbar_sim::scenario::MAX_WEEKS);
        }
        // Rules were checked against the file's horizon; recheck against this one.
        let text = std::fs::read_to_string(&args.scenario)?;
        let mut table: toml::Table = toml::from_str(&text)?;
        table.insert("weeks".into(), toml::Value::Integer(w as i64));
        let checked = Scenario::parse(
            &toml::to_string(&table)?,
            &args.scenario.display().to_string(),
            args.scenario.parent(),
        )?;
        scenario.weeks = checked.weeks;
        scenario.rules = checked.rules;
        overrides.insert("weeks".into(), w.into());
    }
    if let Some(s) = args.seed {
        scenario.seed = s;
        overrides.insert("seed".into(), s.into());
    }
    scenario.check_size().map_err(|(key, problem)| {
        let flag = match key {
            "patients" => "--patients",
            "weeks" => "--weeks",
            _ => key,
        };
        anyhow::anyhow!("{flag} {problem}")
    })?;
    let shard = match &args.shard {
        Some(s) => Some(Shard::parse(s).map_err(|e| anyhow::anyhow!("--shard {e}"))?),
        None => shard_from_env()?,
    };
    let scenario_file = args
        .scenario
        .file_name()
        .map(|f| f.to_string_lossy().into_owned())
        .unwrap_or_default();
    let plan = lumbar_sim::engine::plan_runs(&scenario)?;
    let info = RunInfo {
        lumbar_version: env!("CARGO_PKG_VERSION").to_string(),
        scenario: scenario.name.clone(),
        scenario_file,
        scenario_sha256: lumbar_ingest::sha256_file(&args.scenario)?,
        regimen: scenario.regimen_key.clone(),
        seed: scenario.seed,
        patients: scenario.patients,
        weeks: scenario.weeks,
        replications: scenario.replications,
        psa_draws: scenario.psa.as_ref().map_or(0, |p| p.draws),
        runs: scenario.runs(),
        overrides: serde_json::Value::Object(overrides),
        psa: plan
            .iter()
            .filter(|r| !r.drawn.is_empty() && r.replication == 0)
            .map(|r| {
                let values: serde_json::Map<String, serde_json::Value> = r
                    .drawn
                    .iter()
                    .map(|(k, v)| (k.clone(), (*v).into()))
                    .collect();
                serde_json::json!({"draw": r.draw, "values": values})
            })
            .collect(),
        trajectories: args.trajectories,
    };

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
    let result = match args.threads {
        Some(t) => rayon::ThreadPoolBuilder::new()
            .num_threads(t.max(1))
            .build()?
            .install(run)?,
        None => run()?,
    };
    bar.finish_and_clear();
    let file = TallyFile {
        info,
        shard: shard.filter(|s| s.count > 1).map(|s| s.to_string()),
        patients_range: [result.patients.start, result.patients.end],
        tallies: result.tallies,
    };
    let rows = write_result(staged.path(), &file)?;
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

fn fmt_est(r: Option<&SummaryRow>, scale: f64, digits: usize) -> String {
    match r {
        Some(r) => match (r.estimate, r.lower, r.upper) {
            (Some(e), Some(l), Some(u)) => format!(
                "{:.d$} ({:.d$}–{:.d$})",
                e * scale,
                l * scale,
                u * scale,
                d = digits
            ),
            (Some(e), ..) => format!("{:.d$}", e * scale, d = digits),
            _ => "–".into(),
        },
        None => "–".into(),
    }
}

fn print_summary(
    info: &RunInfo,
    rows: &[SummaryRow],
    shard: &Option<String>,
    out: &mut dyn Write,
) -> Result<()> {
    writeln!(
        out,
        "scenario {}: {} patients × {} runs, {} weeks, seed {}{}",
        info.scenario,
        info.patients,
        info.runs,
        info.weeks,
        info.seed,
        shard
            .as_ref()
            .map(|s| format!(", shard {s}"))
            .unwrap_or_default()
    )?;
    writeln!(
        out,
        "{:>4}  {:<22} {:<22} {:<22} {:<20} {:<16}",
        "week", "pain mean (95% runs)", "responders %", "adherence %", "dropout %", "safety /100"
    )?;
    let get = |w: u32, m: &str| rows.iter().find(|r| r.week == Some(w) && r.metric == m);
    for w in 0..=info.weeks {
        writeln!(
            out,
            "{:>4}  {:<22} {:<22} {:<22} {:<20} {:<16}",
            w,
            fmt_est(get(w, "pain_mean"), 1.0, 2),
            fmt_est(get(w, "responder_share"), 100.0, 1),
            fmt_est(get(w, "adherence"), 100.0, 1),
            fmt_est(get(w, "dropout_share"), 100.0, 1),
            fmt_est(get(w, "safety_events_per_100"), 1.0, 2),
        )?;
    }
    for r in rows.iter().filter(|r| r.week.is_none()) {
        writeln!(out, "{:<40} {}", r.metric, fmt_est(Some(r), 1.0, 3))?;
    }
    Ok(())
}

fn read_tally(dir: &Path) -> Result<TallyFile> {
    let path = dir.join("tally.json");
    let text = std::fs::read(&path).with_context(|| {
        format!(
            "cannot open {}: is {} a `lumbar simulate` result folder?",
            path.display(),
            dir.display()
        )
    })?;
    let file: TallyFile = serde_json::from_slice(&text)
        .with_context(|| format!("{} is not a tally file", path.display()))?;
    // The file is user data: check its shape before anything indexes into it.
    let weeks = file.info.weeks as usize + 1;
    let sound = file.tallies.len() == file.info.runs as usize
        && file.tallies.iter().all(|t| {
            t.weeks.len() == weeks
                && t.weeks.iter().all(|w| w.pain_hist.len() == PAIN_BINS)
                && t.same_shape(&file.tallies[0])
        });
    if !sound {
        bail!(
            "{} does not match its own header ({} runs of {} weeks): was it edited or truncated?",
            path.display(),
            file.info.runs,
            file.info.weeks
        );
    }
    Ok(file)
}

pub fn merge(args: &MergeArgs, out: &mut dyn Write) -> Result<u8> {
    let mut parts: Vec<(PathBuf, TallyFile)> = args
        .dirs
        .iter()
        .map(|d| read_tally(d).map(|t| (d.clone(), t)))
        .collect::<Result<_>>()?;
    parts.sort_by_key(|(_, t)| t.patients_range[0]);
    let (first_dir, first) = &parts[0];
    let mut at = 0u64;
    for (dir, p) in &parts {
        if p.info != first.info {
            bail!(
                "{} and {} are not shards of the same run (scenario, seed, size or version differ)",
                first_dir.display(),
                dir.display()
            );
        }
        if p.patients_range[0] != at {
            bail!(
                "patients {}..{} are missing: no shard among the folders given starts at patient {at} (next is {})",
                at,
                p.patients_range[0].max(at),
                dir.display()
            );
        }
        if p.tallies.len() != first.tallies.len()
            || p.tallies
                .iter()
                .zip(&first.tallies)
                .any(|(a, b)| !a.same_shape(b))
        {
            bail!("{} has tallies of another shape", dir.display());
        }
        at = p.patients_range[1];
    }
    if at != first.info.patients {
        bail!(
            "patients {at}..{} are missing: merge needs every shard",
            first.info.patients
        );
    }
    let mut tallies = first.tallies.clone();
    for (_, p) in &parts[1..] {
        for (a, b) in tallies.iter_mut().zip(&p.tallies) {
            a.add(b);
        }
    }
    let merged = TallyFile {
        info: first.info.clone(),
        shard: None,
        patients_range: [0, first.info.patients],
        tallies,
    };
    let staged = super::result_dir(&args.out)?;
    if merged.info.trajectories {
        let target = staged.path().join("trajectories");
        std::fs::create_dir_all(&target)?;
        for (dir, _) in &parts {
            for entry in std::fs::read_dir(dir.join("trajectories"))? {
                let entry = entry?;
                let pending = PendingPath::new(&target.join(entry.file_name()));
                std::fs::copy(entry.path(), pending.temp())?;
                pending.commit()?;
            }
        }
    }
    write_result(staged.path(), &merged)?;
    staged
        .commit()
        .with_context(|| format!("cannot put the results in place at {}", args.out.display()))?;
    writeln!(
        out,
        "merged {} shards of {} ({} patients) into {}",
        parts.len(),
        merged.info.scenario,
        merged.info.patients,
        args.out.display()
    )?;
    Ok(0)
}

pub fn compare_cmd(args: &CompareArgs, out: &mut dyn Write) -> Result<u8> {
    let a = read_tally(&args.a)?;
    let b = read_tally(&args.b)?;
    for (dir, t) in [(&args.a, &a), (&args.b, &b)] {
        if t.shard.is_some() {
            bail!(
                "{} holds one shard ({}); merge the shards first with `lumbar merge`",
                dir.display(),
                t.shard.as_deref().unwrap_or("")
            );
        }
    }
    if a.info.weeks != b.info.weeks {
        eprintln!(
            "note: horizons differ ({} vs {} weeks); weeks beyond the shorter are left out",
            a.info.weeks, b.info.weeks
        );
    }
    let layout = |i: &RunInfo| RunLayout {
        seed: i.seed,
        patients: i.patients,
        psa_draws: i.psa_draws,
        replications: i.replications,
    };
    let paired = runs_pair(&layout(&a.info), &layout(&b.info));
    let pairing = if paired {
        "paired by run: run k of A and of B share seed, patients, PSA draw and replication"
            .to_string()
    } else {
        let (la, lb) = (layout(&a.info), layout(&b.info));
        let why = if la.seed != lb.seed {
            format!("seeds differ ({} vs {})", la.seed, lb.seed)
        } else if la.patients != lb.patients {
            format!("patients differ ({} vs {})", la.patients, lb.patients)
        } else {
            format!(
                "runs are made differently ({} PSA draws × {} replications vs {} × {})",
                la.psa_draws, la.replications, lb.psa_draws, lb.replications
            )
        };
        format!("not paired, {why}: the intervals treat A and B as independent")
    };
    let diffs = compare(&a.tallies, &b.tallies, paired);
    if args.json {
        serde_json::to_writer_pretty(
            &mut *out,
            &serde_json::json!({
                "a": {"scenario": a.info.scenario, "folder": args.a, "runs": a.info.runs},
                "b": {"scenario": b.info.scenario, "folder": args.b, "runs": b.info.runs},
                "paired": paired,
                "pairing": pairing,
                "differences": diffs,
            }),
        )?;
        writeln!(out)?;
        return Ok(0);
    }
    writeln!(
        out,
        "B − A: {} ({} runs) − {} ({} runs); {pairing}",
        b.info.scenario, b.info.runs, a.info.scenario, a.info.runs,
    )?;
    writeln!(
        out,
        "{:>4}  {:<32} {:>10} {:>10} {:>10} {:>9}  {:<24} from",
        "week", "metric", "A", "B", "B − A", "MC SE", "95% interval"
    )?;
    let f = |v: Option<f64>| v.map_or("–".to_string(), |x| format!("{x:.4}"));
    for d in &diffs {
        let key = matches!(
            d.metric.as_str(),
            "pain_mean"
                | "responder_share"
                | "adherence"
                | "dropout_share"
                | "safety_events_per_100"
        ) || d.week.is_none();
        if !key {
            continue;
        }
        let print_difference = |d: &Difference| {
            format!(
                "{:>4}  {:<32} {:>10} {:>10} {:>10} {:>9}  {:<24} {}",
                d.week.map_or("–".into(), |w| w.to_string()),
                d.metric,
                f(d.a),
                f(d.b),
                f(d.difference),
                f(d.mc_se),
                match (d.lower, d.upper) {
                    (Some(l), Some(u)) => format!("{l:.4} to {u:.4}"),
                    _ => "–".into(),
                },
                d.interval
            )
        };
        writeln!(out, "{}", print_difference(d))?;
    }
    writeln!(out, "(all metrics and weeks: add --json)")?;
    Ok(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slurm_array_tasks_map_to_shards() {
        let s = |v: &str| Some(v.to_string());
        let shard = shard_from_slurm(s("0"), s("4"), None).unwrap().unwrap();
        assert_eq!((shard.index, shard.count), (1, 4));
        let shard = shard_from_slurm(s("8"), s("8"), s("1")).unwrap().unwrap();
        assert_eq!((shard.index, shard.count), (8, 8));
        assert!(shard_from_slurm(None, s("4"), None).unwrap().is_none());
        let e = shard_from_slurm(s("4"), s("4"), None)
            .unwrap_err()
            .to_string();
        assert!(e.contains("need 1 ≤ i ≤ n"), "{e}");
        let e = shard_from_slurm(s("x"), s("4"), None)
            .unwrap_err()
            .to_string();
        assert!(e.contains("SLURM_ARRAY_TASK_ID=x is not a number"), "{e}");
    }
}
