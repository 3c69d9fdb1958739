//! `lumbar replay STORE --calibrated DIR --scenario RULES.toml --out DIR`:
//! the clinic's patients under the rule of RULES.toml and under the
//! calibrated scenario's own, paired (lumbar-calibrate's `replay`),
//! written as `replay.parquet` and `replay.json` (per site and week),
//! `patients.parquet` (each patient's effective sample size),
//! `replay.html` (suppressed as the clinic report) and `manifest.json`.

use std::io::Write;
use std::path::PathBuf;

use anyhow::{Context, Result};
use clap::Args;
use lumbar_calibrate::replay::{ReplaySettings, replay as run_replay};
use lumbar_io::Store;
use lumbar_model::atomic::write_atomic;
use lumbar_model::cohort::CohortSource;
use lumbar_model::records::{ColumnTable, ColumnValues};
use lumbar_report::replay::{ReplayPage, ReplayRowView, render_replay, shown_sites};
use lumbar_sim::scenario::Scenario;

#[derive(Args, Debug)]
pub struct ReplayArgs {
    /// Store written by `lumbar ingest` (the clinic's patients).
    pub store: PathBuf,
    /// A `lumbar calibrate` output folder (its calibrated.toml: the rule
    /// the patients had, and the posterior as [psa.joint]).
    #[arg(long)]
    pub calibrated: PathBuf,
    /// The scenario whose programme (items and rules) is replayed; its
    /// population and dynamics are the calibration's.
    #[arg(long)]
    pub scenario: PathBuf,
    /// Posterior draws (the calibrated scenario's PSA rows in turn).
    #[arg(long, default_value_t = 200, value_parser = clap::value_parser!(u32).range(1..=100_000))]
    pub draws: u32,
    /// Trait candidates per patient and draw, weighted by the patient's history.
    #[arg(long, default_value_t = 16, value_parser = clap::value_parser!(u32).range(1..=4096))]
    pub candidates: u32,
    /// Seed (default: the calibrated scenario's).
    #[arg(long)]
    pub seed: Option<u64>,
    /// Worker threads (default: all cores).
    #[arg(long)]
    pub threads: Option<usize>,
    #[arg(short, long)]
    pub out: PathBuf,
    /// Print replay.json on stdout instead of a summary.
    #[arg(long)]
    pub json: bool,
    #[command(flatten)]
    pub format: super::TableFormatArg,
}

pub fn replay(args: &ReplayArgs, out: &mut dyn Write) -> Result<u8> {
    let calibrated_toml = args.calibrated.join("calibrated.toml");
    let calibrated = Scenario::load(&calibrated_toml).with_context(|| {
        format!(
            "{} is not a `lumbar calibrate` output folder",
            args.calibrated.display()
        )
    })?;
    let alternative = Scenario::load(&args.scenario)?;
    let store = Store::open(&args.store)?.snapshot()?;
    let settings = ReplaySettings {
        draws: args.draws,
        candidates: args.candidates as usize,
        seed: args.seed.unwrap_or(calibrated.seed),
    };
    let run = || -> Result<_> {
        let cohort = store.cohort()?;
        Ok(run_replay(&cohort, &calibrated, &alternative, &settings)?)
    };
    let r = super::on_threads(args.threads, run)?;
    let staged = super::result_dir(&args.out)?;
    let dir = staged.path();
    let json = serde_json::to_string_pretty(&r)? + "\n";
    write_atomic(&dir.join("replay.json"), json.as_bytes())?;
    let col = |f: &dyn Fn(&lumbar_calibrate::replay::ReplayRow) -> f64| -> ColumnValues<'_> {
        ColumnValues::F64(r.rows.iter().map(f).collect::<Vec<_>>().into())
    };
    let rows: ColumnTable<'_> = vec![
        (
            "site".into(),
            ColumnValues::Str(r.rows.iter().map(|x| x.site.as_str()).collect()),
        ),
        (
            "week".into(),
            ColumnValues::U32(r.rows.iter().map(|x| x.week).collect::<Vec<_>>().into()),
        ),
        (
            "measure".into(),
            ColumnValues::Str(r.rows.iter().map(|x| x.measure.as_str()).collect()),
        ),
        ("observed_rule".into(), col(&|x| x.observed_rule)),
        ("alternative".into(), col(&|x| x.alternative)),
        ("difference".into(), col(&|x| x.difference)),
        ("lower".into(), col(&|x| x.lower)),
        ("upper".into(), col(&|x| x.upper)),
    ];
    let files = lumbar_io::output::TableFiles {
        formats: args.format.formats_or(super::PARQUET_ONLY),
        cells: lumbar_io::output::CsvCells::Escaped,
    };
    lumbar_io::output::write_columns_to(rows, dir, "replay", files)?;
    let p = &r.patients;
    let patients: ColumnTable<'_> = vec![
        (
            "patient_id".into(),
            ColumnValues::Str(p.iter().map(|x| x.patient_id.as_str()).collect()),
        ),
        (
            "site".into(),
            ColumnValues::Str(p.iter().map(|x| x.site.as_str()).collect()),
        ),
        (
            "ess_mean".into(),
            ColumnValues::F64(p.iter().map(|x| x.ess_mean).collect::<Vec<_>>().into()),
        ),
        (
            "ess_min".into(),
            ColumnValues::F64(p.iter().map(|x| x.ess_min).collect::<Vec<_>>().into()),
        ),
    ];
    lumbar_io::output::write_columns_to(patients, dir, "patients", files)?;
    let sites: Vec<(String, usize)> = r
        .sites
        .iter()
        .map(|s| (s.site.clone(), s.patients))
        .collect();
    let views: Vec<ReplayRowView<'_>> = r
        .rows
        .iter()
        .map(|x| ReplayRowView {
            site: &x.site,
            week: x.week,
            measure: &x.measure,
            observed_rule: x.observed_rule,
            alternative: x.alternative,
            difference: x.difference,
            lower: x.lower,
            upper: x.upper,
        })
        .collect();
    let mut ess: Vec<f64> = p.iter().map(|x| x.ess_mean).collect();
    ess.sort_by(f64::total_cmp);
    let at = |q: f64| {
        ess.get(((ess.len() as f64 - 1.0) * q).round() as usize)
            .copied()
            .unwrap_or(f64::NAN)
    };
    let html = render_replay(&ReplayPage {
        observed_rule: &calibrated.name,
        alternative: &alternative.name,
        sites: &sites,
        rows: &views,
        weeks: calibrated.weeks,
        draws: r.diagnostics.draws,
        candidates: r.diagnostics.candidates,
        ess_median: at(0.5),
        ess_p10: at(0.1),
    });
    write_atomic(&dir.join("replay.html"), html.as_bytes())?;
    let manifest = serde_json::json!({
        "command": "replay",
        "lumbar_version": env!("CARGO_PKG_VERSION"),
        "store_inputs": serde_json::to_value(store.manifest()?.parts)?,
        "calibrated": calibrated_toml,
        "calibrated_sha256": lumbar_io::sha256_file(&calibrated_toml)?,
        "scenario": args.scenario,
        "scenario_sha256": lumbar_io::sha256_file(&args.scenario)?,
        "draws": settings.draws, "candidates": settings.candidates, "seed": settings.seed,
        "sites_shown_in_html": shown_sites(&sites),
    });
    write_atomic(
        &dir.join("manifest.json"),
        (serde_json::to_string_pretty(&manifest)? + "\n").as_bytes(),
    )?;
    staged
        .commit()
        .with_context(|| format!("cannot put the results in place at {}", args.out.display()))?;
    if args.json {
        write!(out, "{json}")?;
        return Ok(0);
    }
    let d = &r.diagnostics;
    writeln!(
        out,
        "{} patients replayed ({} without a baseline pain left out), {} draws × {} candidates, {:.1} s",
        d.patients, d.skipped_no_baseline, d.draws, d.candidates, d.seconds
    )?;
    writeln!(
        out,
        "week {}, all sites: {:<32} {:>9} {:>9} {:>9}  90% interval",
        calibrated.weeks, "", &calibrated.name, &alternative.name, "B − A"
    )?;
    for x in r
        .rows
        .iter()
        .filter(|x| x.site == "all" && x.week == calibrated.weeks)
    {
        writeln!(
            out,
            "  {:<40} {:>9.3} {:>9.3} {:>+9.3}  {:+.3} to {:+.3}",
            x.measure, x.observed_rule, x.alternative, x.difference, x.lower, x.upper
        )?;
    }
    writeln!(out, "results: {}", args.out.display())?;
    Ok(0)
}
