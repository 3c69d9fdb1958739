//! `lumbar run BATCH.toml`: a list of steps (ingest, analyze, risk, report,
//! simulate, compare) over one or more cohorts, each skipped when its inputs
//! and parameters have not changed.
//!
//! ```toml
//! out = "../out/demo"                 # every output goes under here
//! regimen = "regimens/six-moves.toml" # optional
//!
//! [[cohort]]
//! name = "demo"
//! data = "demo"                       # a folder of canonical tables
//!
//! [[step]]
//! name = "analyze"                    # also the step's folder: OUT/analyze/
//! run = "analyze"
//! cohort = "demo"
//! adherent = 0.7                      # any option of the command, as --adherent 0.7
//! ```
//!
//! Paths are relative to the batch file. Each step writes its results to
//! `OUT/STEP/result/` and `OUT/STEP/manifest.json` (inputs with SHA-256,
//! parameters, seed, lumbar version, wall time, and the step's key: the
//! SHA-256 of all of these but the time). A step whose key equals the one in
//! its manifest, with its result folder present, is skipped. Cohort steps
//! read the store written by the cohort's `ingest` step, which must come
//! first; `compare` names two `simulate` steps.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::Instant;

use anyhow::{Context, Result, anyhow, bail};
use clap::Args;
use lumbar_model::atomic::{StagedDir, write_atomic};

mod argv;
mod headline;
mod inputs;
mod plan;

use argv::restage;
use plan::{Planner, StepPlan};

#[derive(Args, Debug)]
pub struct BatchArgs {
    /// The batch file (TOML), e.g. datasets/batch-demo.toml.
    pub batch: PathBuf,
    /// Run every step, even those whose inputs have not changed.
    #[arg(long)]
    pub force: bool,
    /// Write every step under this folder (relative to the current folder)
    /// instead of the batch file's `out` (relative to the batch file).
    #[arg(long, value_name = "DIR")]
    pub out: Option<PathBuf>,
}

pub fn run_batch(args: &BatchArgs, quiet: bool, out: &mut dyn Write) -> Result<u8> {
    let mut planner = Planner::open(&args.batch, args.out.as_deref())?;
    for i in 0..planner.len() {
        let step = planner.plan(i)?;
        let manifest_path = step.dir.join("manifest.json");
        if !args.force
            && step.result.exists()
            && previous_key(&manifest_path) == Some(step.key.clone())
        {
            writeln!(
                out,
                "skip  {} ({}): inputs and parameters unchanged",
                step.name, step.kind
            )?;
            for line in previous_summary(&manifest_path) {
                writeln!(out, "      {line}")?;
            }
            continue;
        }
        let (wall, summary) = execute(&step)?;
        write_manifest(&step, &manifest_path, wall, &summary)?;
        writeln!(out, "ran   {} ({}) in {wall:.1} s", step.name, step.kind)?;
        for line in &summary {
            writeln!(out, "      {line}")?;
        }
        if !quiet {
            let _ = out.flush();
        }
    }
    writeln!(out, "outputs: {}", planner.out_dir().display())?;
    if let Some(r) = &planner.report {
        writeln!(out, "report: {}", r.display())?;
    }
    Ok(0)
}

/// The key recorded by the step's last run, if its manifest is readable.
fn previous_key(manifest: &Path) -> Option<String> {
    let bytes = std::fs::read(manifest).ok()?;
    let m: serde_json::Value = serde_json::from_slice(&bytes).ok()?;
    m.get("key")?.as_str().map(str::to_string)
}

/// The headline lines recorded by the step's last run.
fn previous_summary(manifest: &Path) -> Vec<String> {
    let Some(m) = std::fs::read(manifest)
        .ok()
        .and_then(|b| serde_json::from_slice::<serde_json::Value>(&b).ok())
    else {
        return Vec::new();
    };
    m.get("summary")
        .and_then(|s| s.as_array())
        .map(|a| {
            a.iter()
                .filter_map(|l| l.as_str().map(str::to_string))
                .collect()
        })
        .unwrap_or_default()
}

/// Runs the step's command in-process; returns its wall time in seconds
/// and the headline of what it printed.
fn execute(step: &StepPlan) -> Result<(f64, Vec<String>)> {
    let (label, kind, result) = (&step.label, &step.kind, &step.result);
    // The step runs into a staging folder that replaces OUT/NAME/result
    // only when it succeeded: a failed step leaves the previous results.
    let staged = StagedDir::begin(result)
        .with_context(|| format!("{label}: cannot prepare {}", result.display()))?;
    let started = Instant::now();
    let mut buf = Vec::new();
    let staged_argv: Vec<String> = step
        .argv
        .iter()
        .map(|a| restage(a, result, staged.path()))
        .collect();
    let code = crate::run(&staged_argv, &mut buf)
        .map_err(|e| anyhow!("{label} ({kind}) failed: {e:#}"))?;
    if code != 0 {
        bail!(
            "{label} ({kind}) failed with exit code {code}: {}",
            step.argv[2..].join(" ")
        );
    }
    if let Some(c) = &step.capture {
        write_atomic(
            Path::new(&restage(&c.display().to_string(), result, staged.path())),
            &buf,
        )?;
    }
    staged
        .commit()
        .with_context(|| format!("{label}: cannot put {} in place", result.display()))?;
    let printed = String::from_utf8_lossy(&buf);
    // The step printed staging paths; say where its results are now.
    let staged_text = staged_display(&staged_argv, &step.argv);
    let summary = headline::headline(kind, &printed)
        .into_iter()
        .map(|l| {
            staged_text
                .iter()
                .fold(l, |l, (from, to)| l.replace(from.as_str(), to))
        })
        .collect();
    Ok((started.elapsed().as_secs_f64(), summary))
}

/// (staged, final) spellings of each argument that was restaged.
fn staged_display(staged: &[String], original: &[String]) -> Vec<(String, String)> {
    staged
        .iter()
        .zip(original)
        .filter(|(s, o)| s != o)
        .map(|(s, o)| (s.clone(), o.clone()))
        .collect()
}

fn write_manifest(step: &StepPlan, path: &Path, wall: f64, summary: &[String]) -> Result<()> {
    let seed = step
        .parameters
        .get("seed")
        .and_then(|v| v.as_i64())
        .or_else(|| {
            // A simulation's seed comes from its scenario unless overridden.
            let t = std::fs::read(step.result.join("manifest.json")).ok()?;
            let m: serde_json::Value = serde_json::from_slice(&t).ok()?;
            m.get("run")?.get("seed")?.as_i64()
        });
    let manifest = serde_json::json!({
        "step": step.name,
        "run": step.kind,
        "key": step.key,
        "inputs": step.inputs.iter().map(|(p, h)| serde_json::json!({"path": p, "sha256": h})).collect::<Vec<_>>(),
        "parameters": step.parameters,
        "command": step.argv[2..].join(" "),
        "seed": seed,
        "lumbar_version": env!("CARGO_PKG_VERSION"),
        "wall_seconds": wall,
        "result": step.result,
        "summary": summary,
    });
    write_atomic(path, serde_json::to_string_pretty(&manifest)?.as_bytes())?;
    Ok(())
}
