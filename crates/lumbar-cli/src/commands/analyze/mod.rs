//! `lumbar analyze`: adherence, safety, trends and the cohort pain model,
//! for a whole store or one shard of its patients (`--shard i/n`, or a
//! Slurm array task), whose partial results `lumbar merge` puts together.

use std::io::Write;
use std::path::PathBuf;

use anyhow::Result;
use clap::Args;
use lumbar_analysis::analyze::{self, Counts, EmitError, PatientPart, Request};
use lumbar_analysis::prescription::Prescriptions;
use lumbar_analysis::trends;
use lumbar_io::Store;
use lumbar_model::Regimen;

use crate::Ui;

mod shards;
mod tables;

pub use shards::{is_analysis, merge_analysis};
pub(crate) use tables::Run;

#[derive(Args, Debug)]
pub struct AnalyzeArgs {
    #[command(flatten)]
    pub regimen: crate::RegimenArg,
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
    #[command(flatten)]
    pub format: super::TableFormatArg,
    /// Reject dates after this day when ingesting with --from (default: today).
    #[arg(long, value_name = "YYYY-MM-DD")]
    pub as_of: Option<chrono::NaiveDate>,
    /// Analyse one shard of the store's patients, i of n (whole buckets of
    /// patients by a hash of their id), and write its partial results for
    /// `lumbar merge`. Without it, SLURM_ARRAY_TASK_ID / SLURM_ARRAY_TASK_COUNT
    /// are used when set.
    #[arg(long, value_name = "i/n")]
    pub shard: Option<String>,
}

pub fn analyze(args: &AnalyzeArgs, regimen: &Regimen, ui: &Ui, out: &mut dyn Write) -> Result<u8> {
    if let Some(dir) = &args.from {
        if args.shard.is_some() {
            anyhow::bail!("--from ingests into the store: run it once, then the shards without it");
        }
        let ingest = super::IngestArgs {
            regimen: args.regimen.clone(),
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
            buckets: lumbar_model::partition::DEFAULT_BUCKETS,
        };
        super::ingest(&ingest, regimen, ui, out)?;
        writeln!(out)?;
    }
    let started = std::time::Instant::now();
    let store = Store::open(&args.store)?.snapshot()?;
    let manifest = store.manifest()?;
    let buckets = manifest.buckets();
    let shard = super::shard::of_buckets(args.shard.as_deref(), buckets)?;
    let rx = match &args.prescriptions {
        Some(f) => Prescriptions::load(regimen, &lumbar_io::Frame::read(f)?)?,
        None => Prescriptions::from_regimen(regimen),
    };
    let request = Request {
        regimen,
        prescriptions: &rx,
        adherent: args.adherent,
        responder: trends::Responder {
            nrs_points: args.responder_points,
            odi_points: args.responder_odi_points,
            percent: args.responder_percent,
        },
        shard,
        buckets,
    };
    let mut run = Run {
        command: "analyze".into(),
        store: args.store.clone(),
        inputs: super::shard::inputs(&manifest),
        parameters: serde_json::json!({
            "regimen": regimen.key,
            "prescriptions": match &args.prescriptions {
                Some(f) => serde_json::json!({"file": f, "sha256": lumbar_io::sha256_file(f)?}),
                None => serde_json::Value::Null,
            },
            "adherent_threshold": args.adherent,
            "stop_pain_during": regimen.safety.stop_pain_during,
            "responder": request.responder,
            "raw_csv": args.raw_csv,
            "formats": args.format.formats(),
        }),
        counts: Default::default(),
    };
    if shard.count > 1 {
        return shards::write_shard(&store, &request, &args.out, run, buckets, started, out);
    }
    // Sessions stream from the store, and each patient's rows go out as
    // the stream passes them: the result tables are never held whole.
    let mut output = tables::Output::begin(&args.out, &run.parameters)?;
    run.counts = stream_to(&store, &request, |part| output.add(part))?;
    let t = output.finish(&args.out, &run, started)?;
    tables::print_summary(&run, &t, &args.out, out)?;
    Ok(0)
}

/// Streams the request's parts to `write` on a thread of its own, in
/// order, so that writing one slice's patients overlaps reading the next.
/// The writer's own error comes first: a send fails only because it
/// stopped.
pub(super) fn stream_to(
    store: &Store,
    request: &Request,
    mut write: impl FnMut(PatientPart) -> Result<(), EmitError> + Send,
) -> Result<Counts> {
    std::thread::scope(|scope| {
        let (tx, rx) = std::sync::mpsc::sync_channel::<PatientPart>(4096);
        let writer = scope.spawn(move || -> Result<(), EmitError> {
            for part in rx {
                write(part)?;
            }
            Ok(())
        });
        let counts = analyze::stream_parts(store, request, &mut |part| {
            tx.send(part)
                .map_err(|_| "the writer of the results stopped".into())
        });
        drop(tx);
        match writer.join() {
            Ok(written) => written.map_err(|e| anyhow::anyhow!(e))?,
            Err(_) => anyhow::bail!("the writer of the results panicked"),
        }
        Ok(counts?)
    })
}
