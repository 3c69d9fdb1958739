//! `lumbar merge` and `lumbar compare`: the shards of one run into the
//! whole run, and the differences between two runs. The rules (which shards
//! merge, which runs pair, which metrics head the table) are
//! [`lumbar_sim::results`]'; this module reads the folders and renders.

use std::io::Write;
use std::path::PathBuf;

use anyhow::{Context, Result, bail};
use clap::Args;
use lumbar_model::atomic::PendingPath;
use lumbar_sim::results::{HEADLINE_METRICS, TallyFile, merge, pairing};
use lumbar_sim::summary::{Difference, compare};

use super::sim_io::{read_tally, write_result};

#[derive(Args, Debug)]
pub struct MergeArgs {
    /// Result folders of the shards of one run (of `simulate`, `analyze` or `report`).
    #[arg(required = true)]
    pub dirs: Vec<PathBuf>,
    /// Output folder: the same files as the unsharded run (for `report`
    /// shards, the report's HTML file).
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
    #[command(flatten)]
    pub table_out: super::stats::TableOut,
}

/// A shard's folder, named by its path in merge errors.
struct Folder(PathBuf);

impl std::fmt::Display for Folder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.0.display().fmt(f)
    }
}

pub fn merge_cmd(args: &MergeArgs, out: &mut dyn Write) -> Result<u8> {
    if args
        .dirs
        .first()
        .is_some_and(|d| super::analyze::is_analysis(d))
    {
        return super::analyze::merge_analysis(&args.dirs, &args.out, out);
    }
    if args
        .dirs
        .first()
        .is_some_and(|d| super::report::is_report(d))
    {
        return super::report::merge_reports(&args.dirs, &args.out, out);
    }
    let mut parts: Vec<(Folder, TallyFile)> = args
        .dirs
        .iter()
        .map(|d| read_tally(d).map(|t| (Folder(d.clone()), t)))
        .collect::<Result<_>>()?;
    let merged = merge(&mut parts)?;
    let staged = super::result_dir(&args.out)?;
    if merged.info.trajectories {
        let target = staged.path().join("trajectories");
        std::fs::create_dir_all(&target)?;
        for (Folder(dir), _) in &parts {
            for entry in std::fs::read_dir(dir.join("trajectories"))? {
                let entry = entry?;
                let pending = PendingPath::new(&target.join(entry.file_name()));
                std::fs::copy(entry.path(), pending.temp())?;
                pending.commit()?;
            }
        }
    }
    // The shards' own table formats (they share one command line).
    let formats = args
        .dirs
        .first()
        .map_or(super::PARQUET_ONLY, |d| super::sim_io::result_formats(d));
    write_result(staged.path(), &merged, formats)?;
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
    let pairing = pairing(&a.info, &b.info);
    let diffs = compare(&a.tallies, &b.tallies, pairing.paired);
    let doc = serde_json::json!({
        "a": {"scenario": a.info.scenario, "folder": args.a, "runs": a.info.runs},
        "b": {"scenario": b.info.scenario, "folder": args.b, "runs": b.info.runs},
        "paired": pairing.paired,
        "pairing": pairing.description,
        "differences": diffs,
    });
    args.table_out
        .write("differences", &diffs, "comparison", &doc)?;
    if args.json {
        serde_json::to_writer_pretty(&mut *out, &doc)?;
        writeln!(out)?;
        return Ok(0);
    }
    writeln!(
        out,
        "B − A: {} ({} runs) − {} ({} runs); {}",
        b.info.scenario, b.info.runs, a.info.scenario, a.info.runs, pairing.description
    )?;
    writeln!(
        out,
        "{:>4}  {:<32} {:>10} {:>10} {:>10} {:>9}  {:<24} from",
        "week", "metric", "A", "B", "B − A", "MC SE", "95% interval"
    )?;
    let headline = diffs
        .iter()
        .filter(|d| HEADLINE_METRICS.contains(&d.metric.as_str()) || d.week.is_none());
    for d in headline {
        writeln!(out, "{}", difference_line(d))?;
    }
    writeln!(out, "(all metrics and weeks: add --json)")?;
    Ok(0)
}

fn difference_line(d: &Difference) -> String {
    let f = |v: Option<f64>| v.map_or("–".to_string(), |x| format!("{x:.4}"));
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
}
