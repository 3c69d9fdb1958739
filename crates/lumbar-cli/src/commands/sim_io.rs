//! The files of a simulation result folder (`summary.parquet`,
//! `summary.json`, `tally.json`, `manifest.json`, the trajectory blocks)
//! and the summary table `simulate` prints. Their formats and rules are
//! [`lumbar_sim::results`]'; the simulator gives its tables as columns
//! (`TrajectoryBlock::columns`, `summary::columns`) and
//! `lumbar_io::output::write_parquet_columns` writes them (typed as given:
//! summary.parquet's `week` is UInt32, not `write_rows`' Int64). This
//! module only connects the two and prints.

use std::io::Write;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use lumbar_io::output;
use lumbar_model::atomic::write_atomic;
use lumbar_sim::engine::{TrajectoryBlock, TrajectorySink};
use lumbar_sim::results::{RunInfo, TallyFile};
use lumbar_sim::summary::{self, SummaryRow, summarize};
use serde::Serialize;

/// Writes each trajectory block as `run-RRRR-from-PPPPPPPPPP.parquet`.
pub(super) struct ParquetTrajectories {
    pub(super) dir: PathBuf,
}

impl TrajectorySink for ParquetTrajectories {
    fn write(&self, t: &TrajectoryBlock) -> Result<(), String> {
        let path = self.dir.join(format!(
            "run-{:04}-from-{:010}.parquet",
            t.run, t.first_patient
        ));
        output::write_parquet_columns(t.columns(), &path)
            .map_err(|e| format!("{}: {e}", path.display()))
    }
}

pub(super) fn summary_json(info: &RunInfo, rows: &[SummaryRow]) -> serde_json::Value {
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

/// Writes the summary table (summary.parquet, and .csv / .ndjson as
/// `formats` asks), summary.json, tally.json and manifest.json (which
/// records the formats, for `merge` to write the same).
pub(super) fn write_result(
    dir: &Path,
    file: &TallyFile,
    formats: output::Formats,
) -> Result<Vec<SummaryRow>> {
    std::fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
    let rows = summarize(&file.info.scenario, &file.tallies);
    let files = output::TableFiles {
        formats,
        cells: output::CsvCells::Escaped,
    };
    output::write_columns_to(summary::columns(&rows), dir, "summary", files)
        .with_context(|| format!("cannot write the summary into {}", dir.display()))?;
    write_atomic(
        &dir.join("summary.json"),
        &to_json_bytes(&summary_json(&file.info, &rows))?,
    )?;
    write_atomic(&dir.join("tally.json"), &to_json_bytes(file)?)?;
    let mut outputs = formats.files("summary");
    outputs.extend(["summary.json".into(), "tally.json".into()]);
    if file.info.trajectories {
        outputs.push("trajectories/".into());
    }
    let manifest = serde_json::json!({
        "command": "simulate",
        "formats": formats,
        "run": file.info,
        "shard": file.shard,
        "patients_range": file.patients_range,
        "outputs": outputs,
    });
    write_atomic(&dir.join("manifest.json"), &to_json_bytes(&manifest)?)?;
    Ok(rows)
}

/// The table formats a simulation result folder was written with (its
/// manifest's; Parquet alone for folders written before `--format`).
pub(super) fn result_formats(dir: &Path) -> output::Formats {
    std::fs::read(dir.join("manifest.json"))
        .ok()
        .and_then(|b| serde_json::from_slice::<serde_json::Value>(&b).ok())
        .and_then(|m| serde_json::from_value(m["formats"].clone()).ok())
        .unwrap_or(super::PARQUET_ONLY)
}

/// Reads a result folder's `tally.json` and checks its shape.
pub(super) fn read_tally(dir: &Path) -> Result<TallyFile> {
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
    file.check_shape()
        .map_err(|e| anyhow::anyhow!("{} {e}", path.display()))?;
    Ok(file)
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

/// The weekly summary as a table, then the whole-run metrics.
pub(super) fn print_summary(
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
