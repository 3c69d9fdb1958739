//! The result folder of `lumbar analyze` (and of `lumbar merge` of its
//! shards, which writes it through the same function), and the summary a
//! person reads.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::Instant;

use anyhow::{Context, Result};
use lumbar_analysis::adherence::WeeklyColumns;
use lumbar_analysis::analyze::{Counts, EmitError, PatientPart, Tables, TablesBuilder};
use lumbar_analysis::trends;
use lumbar_io::output;
use lumbar_model::atomic::{StagedDir, write_atomic};
use serde::{Deserialize, Serialize};

/// What a run analysed and how: the manifest's fields that shards of one
/// run must share (and that `merge` checks they do), with what it read.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub(crate) struct Run {
    pub command: String,
    pub store: PathBuf,
    pub inputs: Vec<serde_json::Value>,
    pub parameters: serde_json::Value,
    pub counts: Counts,
}

const TABLES: [&str; 7] = [
    "adherence_weekly",
    "adherence_patients",
    "adherence_groups",
    "safety_events",
    "safety_flags",
    "safety_counts",
    "trends",
];

/// A result folder being written: the weekly rows as parts arrive, the
/// rest at [`Output::finish`], and the folder in place at once.
pub(super) struct Output {
    staged: StagedDir,
    files: output::TableFiles,
    weekly: output::TableWriter,
    /// Weekly rows waiting for a row group.
    chunk: WeeklyColumns,
    tables: TablesBuilder,
}

impl Output {
    /// A folder written as the run's parameters say (`raw_csv`, `formats`;
    /// a shard's parameters, for merge, say the same as the whole run's).
    pub(super) fn begin(out: &Path, parameters: &serde_json::Value) -> Result<Output> {
        let files = output::TableFiles {
            cells: if parameters["raw_csv"] == true {
                output::CsvCells::Raw
            } else {
                output::CsvCells::Escaped
            },
            formats: serde_json::from_value(parameters["formats"].clone()).unwrap_or_default(),
        };
        let staged = super::super::result_dir(out)?;
        // The largest table (patients × moves × weeks) goes out a row group
        // at a time, column-wise.
        let chunk = WeeklyColumns::default();
        let weekly =
            output::TableWriter::for_columns(chunk.columns(), staged.path(), TABLES[0], files)
                .with_context(|| format!("cannot write {} into {}", TABLES[0], out.display()))?;
        Ok(Output {
            staged,
            files,
            weekly,
            chunk,
            tables: TablesBuilder::default(),
        })
    }

    /// The next patient's part, in patients-table order.
    pub(super) fn add(&mut self, mut part: PatientPart) -> Result<(), EmitError> {
        let weeks = std::mem::take(&mut part.weeks);
        self.chunk.push(part.id.clone(), part.site.clone(), weeks);
        self.tables.add(part)?;
        if self.chunk.len() >= output::STREAM_CHUNK_ROWS {
            self.weekly.write_columns(self.chunk.columns())?;
            self.chunk.clear();
        }
        Ok(())
    }

    /// Writes the other tables, pain_model.json and manifest.json, and puts
    /// the folder in place; the tables, for the summary.
    pub(super) fn finish(self, out: &Path, run: &Run, started: Instant) -> Result<Tables> {
        let t = self.tables.finish(run.counts.patients_total)?;
        let (dir, files) = (self.staged.path(), self.files);
        let context = |name: &str| format!("cannot write {name} into {}", out.display());
        let mut weekly = self.weekly;
        weekly
            .write_columns(self.chunk.columns())
            .and_then(|()| weekly.finish())
            .with_context(|| context(TABLES[0]))?;
        let (adh, saf) = (&t.adherence, &t.safety);
        output::write_rows_to(&adh.patients, dir, TABLES[1], files)
            .with_context(|| context(TABLES[1]))?;
        output::write_rows_to(&adh.groups, dir, TABLES[2], files)
            .with_context(|| context(TABLES[2]))?;
        output::write_rows_to(&saf.events, dir, TABLES[3], files)
            .with_context(|| context(TABLES[3]))?;
        output::write_rows_to(&saf.flags, dir, TABLES[4], files)
            .with_context(|| context(TABLES[4]))?;
        output::write_rows_to(&saf.counts, dir, TABLES[5], files)
            .with_context(|| context(TABLES[5]))?;
        output::write_rows_to(&t.trends, dir, TABLES[6], files)
            .with_context(|| context(TABLES[6]))?;
        let model_json = match &t.pain_model {
            Ok(fit) => serde_json::json!({
                "formula": "nrs_pain ~ week + (week | patient_id), REML; week from each patient's first measurement",
                "fit": fit,
            }),
            Err(e) => serde_json::json!({ "error": e.to_string() }),
        };
        write_atomic(
            &dir.join("pain_model.json"),
            serde_json::to_string_pretty(&model_json)?.as_bytes(),
        )?;
        let manifest = serde_json::json!({
            "command": run.command,
            "lumbar_version": env!("CARGO_PKG_VERSION"),
            "store": run.store,
            "inputs": run.inputs,
            "parameters": run.parameters,
            "outputs": TABLES.iter().flat_map(|n| files.formats.files(n)).chain(["pain_model.json".to_string()]).collect::<Vec<_>>(),
            "wall_seconds": started.elapsed().as_secs_f64(),
        });
        write_atomic(
            &dir.join("manifest.json"),
            serde_json::to_string_pretty(&manifest)?.as_bytes(),
        )?;
        self.staged
            .commit()
            .with_context(|| format!("cannot put the results in place at {}", out.display()))?;
        Ok(t)
    }
}

/// The headline figures, a line each.
pub(super) fn print_summary(run: &Run, t: &Tables, dir: &Path, out: &mut dyn Write) -> Result<()> {
    let param = |k: &str| {
        run.parameters
            .pointer(k)
            .and_then(|v| v.as_f64())
            .unwrap_or(f64::NAN)
    };
    writeln!(
        out,
        "{} patients, {} sessions, {} outcome measurements",
        run.counts.patients_total, run.counts.sessions, run.counts.outcomes
    )?;
    if let Some(c) = t.adherence.groups.iter().find(|g| g.level == "cohort") {
        writeln!(
            out,
            "adherence: median {:.0}% (IQR {:.0}–{:.0}%), {:.0}% of patients adherent (≥ {:.0}%)",
            100.0 * c.median,
            100.0 * c.q1,
            100.0 * c.q3,
            100.0 * c.share_adherent,
            100.0 * param("/adherent_threshold")
        )?;
    }
    if let Some(c) = t.safety.counts.iter().find(|c| c.level == "cohort") {
        writeln!(
            out,
            "safety: {} sessions continued at pain ≥ {} ({} patients); {} exercises flagged unsuitable",
            c.events,
            param("/stop_pain_during"),
            c.patients_with_events,
            c.unsuitable_flags
        )?;
    }
    let nrs: Vec<&trends::Trend> = t
        .trends
        .iter()
        .filter(|t| t.measure == "nrs_pain" && t.n > 1)
        .collect();
    if !nrs.is_empty() {
        writeln!(
            out,
            "pain: {:.0}% responders (≥ {} points or ≥ {}%)",
            100.0 * nrs.iter().filter(|t| t.responder).count() as f64 / nrs.len() as f64,
            param("/responder/nrs_points"),
            param("/responder/percent")
        )?;
    }
    match &t.pain_model {
        Ok(fit) => writeln!(
            out,
            "pain model: {:.2} points at baseline, {:+.3} per week (SE {:.3}); converged: {}",
            fit.fixed[0].estimate, fit.fixed[1].estimate, fit.fixed[1].std_error, fit.converged
        )?,
        Err(e) => writeln!(out, "pain model: not fitted ({e})")?,
    }
    writeln!(out, "results: {}", dir.display())?;
    Ok(())
}
