//! `lumbar analyze`: adherence, safety, trends and the cohort pain model.

use std::io::Write;
use std::path::PathBuf;

use anyhow::{Context, Result};
use clap::Args;
use lumbar_analysis::prescription::Prescriptions;
use lumbar_analysis::{adherence, safety, trends};
use lumbar_io::{Store, output};
use lumbar_model::Regimen;
use lumbar_model::atomic::write_atomic;
use lumbar_model::cohort::CohortSource;

use crate::Ui;

#[derive(Args, Debug)]
pub struct AnalyzeArgs {
    /// Store written by `lumbar ingest`.
    pub store: PathBuf,
    /// Output folder for the result tables (Parquet and CSV) and manifest.json.
    #[arg(short, long)]
    pub out: PathBuf,
    /// Ingest the table files of this folder into STORE first (as `lumbar ingest --dir`).
    #[arg(long, value_name = "DIR")]
    pub from: Option<PathBuf>,
    /// Per-patient prescriptions overriding the regimen's defaults (CSV or
    /// Parquet: patient_id, exercise, frequency, reps, sets, hold_s).
    #[arg(long, value_name = "F")]
    pub prescriptions: Option<PathBuf>,
    /// Session adherence at or above which a patient is adherent.
    #[arg(long, default_value_t = 0.70)]
    pub adherent: f64,
    /// NRS improvement (points) that makes a responder.
    #[arg(long, default_value_t = 2.0)]
    pub responder_points: f64,
    /// ODI improvement (points) that makes a responder.
    #[arg(long, default_value_t = 10.0)]
    pub responder_odi_points: f64,
    /// Improvement as % of baseline that makes a responder.
    #[arg(long, default_value_t = 30.0)]
    pub responder_percent: f64,
    /// Write text cells to the CSV tables as they are. By default a cell that
    /// begins with =, +, -, @, tab or CR gets a leading ' so that a
    /// spreadsheet shows it instead of running it (the Parquet tables always
    /// hold the values unchanged).
    #[arg(long)]
    pub raw_csv: bool,
    /// Reject dates after this day when ingesting with --from (default: today).
    #[arg(long, value_name = "YYYY-MM-DD")]
    pub as_of: Option<chrono::NaiveDate>,
}

pub fn analyze(args: &AnalyzeArgs, regimen: &Regimen, ui: &Ui, out: &mut dyn Write) -> Result<u8> {
    if let Some(dir) = &args.from {
        let ingest = super::IngestArgs {
            out: args.store.clone(),
            patients: vec![],
            sessions: vec![],
            walking: vec![],
            outcomes: vec![],
            followup: vec![],
            dir: Some(dir.clone()),
            format: super::FormatArg::Auto,
            walking_format: None,
            patient_id: None,
            as_of: args.as_of,
            checks: super::IngestCheckArgs::default(),
            json: false,
            no_wait: false,
        };
        super::ingest(&ingest, regimen, ui, out)?;
        writeln!(out)?;
    }
    let started = std::time::Instant::now();
    let store = Store::open(&args.store)?.snapshot()?;
    // Sessions are streamed from the store, never all held in memory.
    let cohort = store.cohort_without_sessions()?;
    let rule = trends::Responder {
        nrs_points: args.responder_points,
        odi_points: args.responder_odi_points,
        percent: args.responder_percent,
    };
    let rx = match &args.prescriptions {
        Some(f) => Prescriptions::load(regimen, &lumbar_io::Frame::read(f)?)?,
        None => Prescriptions::from_regimen(regimen),
    };
    let (tallies, sessions) = store.stream_sessions(&cohort.index(), || {
        (
            adherence::AdherenceTally::new(&cohort, &rx, args.adherent, true),
            safety::SafetyTally::new(&cohort, regimen),
        )
    })?;
    let (adh, saf) = (tallies.0.finish(), tallies.1.finish());
    let tr = trends::trends(&cohort, &rule);
    let model = trends::pain_model(&cohort);

    let cells = if args.raw_csv {
        output::CsvCells::Raw
    } else {
        output::CsvCells::Escaped
    };
    let staged = super::result_dir(&args.out)?;
    let dir = staged.path();
    let mut written = Vec::new();
    let context = |name: &str| format!("cannot write {name} into {}", args.out.display());
    output::write_rows_as(&adh.weeks, dir, "adherence_weekly", cells)
        .with_context(|| context("adherence_weekly"))?;
    output::write_rows_as(&adh.patients, dir, "adherence_patients", cells)
        .with_context(|| context("adherence_patients"))?;
    output::write_rows_as(&adh.groups, dir, "adherence_groups", cells)
        .with_context(|| context("adherence_groups"))?;
    output::write_rows_as(&saf.events, dir, "safety_events", cells)
        .with_context(|| context("safety_events"))?;
    output::write_rows_as(&saf.flags, dir, "safety_flags", cells)
        .with_context(|| context("safety_flags"))?;
    output::write_rows_as(&saf.counts, dir, "safety_counts", cells)
        .with_context(|| context("safety_counts"))?;
    output::write_rows_as(&tr, dir, "trends", cells).with_context(|| context("trends"))?;
    for name in [
        "adherence_weekly",
        "adherence_patients",
        "adherence_groups",
        "safety_events",
        "safety_flags",
        "safety_counts",
        "trends",
    ] {
        written.push(name.to_string());
    }
    let model_json = match &model {
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
        "command": "analyze",
        "lumbar_version": env!("CARGO_PKG_VERSION"),
        "store": args.store,
        "inputs": store.manifest()?.parts.iter().map(|p| serde_json::json!({
            "table": p.table, "source": p.source, "sha256": p.sha256, "rows": p.accepted,
        })).collect::<Vec<_>>(),
        "parameters": {
            "regimen": regimen.key,
            "prescriptions": match &args.prescriptions {
                Some(f) => serde_json::json!({"file": f, "sha256": lumbar_io::sha256_file(f)?}),
                None => serde_json::Value::Null,
            },
            "adherent_threshold": args.adherent,
            "responder": rule,
        },
        "outputs": written.iter().map(|n| format!("{n}.parquet")).chain(["pain_model.json".to_string()]).collect::<Vec<_>>(),
        "wall_seconds": started.elapsed().as_secs_f64(),
    });
    write_atomic(
        &dir.join("manifest.json"),
        serde_json::to_string_pretty(&manifest)?.as_bytes(),
    )?;
    staged
        .commit()
        .with_context(|| format!("cannot put the results in place at {}", args.out.display()))?;

    // A summary a person can read.
    writeln!(
        out,
        "{} patients, {} sessions, {} outcome measurements",
        cohort.patients.len(),
        sessions,
        cohort.outcomes.len()
    )?;
    if let Some(c) = adh.groups.iter().find(|g| g.level == "cohort") {
        writeln!(
            out,
            "adherence: median {:.0}% (IQR {:.0}–{:.0}%), {:.0}% of patients adherent (≥ {:.0}%)",
            100.0 * c.median,
            100.0 * c.q1,
            100.0 * c.q3,
            100.0 * c.share_adherent,
            100.0 * args.adherent
        )?;
    }
    if let Some(c) = saf.counts.iter().find(|c| c.level == "cohort") {
        writeln!(
            out,
            "safety: {} sessions continued at pain ≥ {} ({} patients); {} exercises flagged unsuitable",
            c.events, regimen.safety.stop_pain_during, c.patients_with_events, c.unsuitable_flags
        )?;
    }
    let nrs: Vec<&trends::Trend> = tr
        .iter()
        .filter(|t| t.measure == "nrs_pain" && t.n > 1)
        .collect();
    if !nrs.is_empty() {
        writeln!(
            out,
            "pain: {:.0}% responders (≥ {} points or ≥ {}%)",
            100.0 * nrs.iter().filter(|t| t.responder).count() as f64 / nrs.len() as f64,
            rule.nrs_points,
            rule.percent
        )?;
    }
    match &model {
        Ok(fit) => writeln!(
            out,
            "pain model: {:.2} points at baseline, {:+.3} per week (SE {:.3}); converged: {}",
            fit.fixed[0].estimate, fit.fixed[1].estimate, fit.fixed[1].std_error, fit.converged
        )?,
        Err(e) => writeln!(out, "pain model: not fitted ({e})")?,
    }
    writeln!(out, "results: {}", args.out.display())?;
    Ok(0)
}
