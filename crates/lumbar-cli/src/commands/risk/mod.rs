//! `lumbar risk`: walking and the risk of chronic low-back pain.

use std::io::Write;
use std::path::PathBuf;

use anyhow::{Context, Result};
use clap::Args;
use lumbar_analysis::risk::{self, Cuts, ExposureRules, RiskSpec};
use lumbar_io::{Store, output};
use lumbar_model::atomic::write_atomic;
use lumbar_stats::design::Categorical;

use super::stats::NaArg;

mod render;

#[derive(Args, Debug)]
#[command(group(clap::ArgGroup::new("source").required(true).args(["store", "store_path", "data"])))]
pub struct RiskArgs {
    /// A store with followup and walking tables: the exposure is derived
    /// (mean walking minutes over valid days) as column `walking_min`, with
    /// `followup_years` and `time_years` (to event or end). Also given
    /// as the first argument, as for analyze and report.
    #[arg(long, value_name = "STORE")]
    pub store: Option<PathBuf>,
    /// The store, as `lumbar risk STORE` (the same as --store STORE).
    #[arg(value_name = "STORE")]
    pub store_path: Option<PathBuf>,
    /// A data file (CSV or Parquet) with one row per participant.
    #[arg(long, value_name = "F")]
    pub data: Option<PathBuf>,
    /// Exposure column.
    #[arg(long, value_name = "COL", default_value = "walking_min")]
    pub exposure: String,
    /// Left-closed cut points of the exposure categories.
    #[arg(
        long,
        value_delimiter = ',',
        value_name = "A,B,C",
        default_value = "78,101,125",
        conflicts_with = "quantiles"
    )]
    pub cuts: Vec<f64>,
    /// K groups by quantiles instead of cut points.
    #[arg(long, value_name = "K")]
    pub quantiles: Option<usize>,
    /// Reference category label (default: the lowest).
    #[arg(long, value_name = "LABEL")]
    pub reference: Option<String>,
    /// Binary outcome column (0/1 or true/false); `--event` is the same.
    #[arg(
        long,
        value_name = "COL",
        default_value = "event",
        visible_alias = "event"
    )]
    pub outcome: String,
    /// Time-to-event column: adds a Cox model (and person-years).
    #[arg(long, value_name = "COL")]
    pub time: Option<String>,
    /// Person-years column for incidence rates (default: --time).
    #[arg(long, value_name = "COL")]
    pub person_years: Option<String>,
    /// Adjustment covariates, comma-separated.
    #[arg(long, value_delimiter = ',', value_name = "A,B")]
    pub covariates: Vec<String>,
    /// Categorical covariates, each optionally with its reference: x or x:REF.
    #[arg(long, value_delimiter = ',', value_name = "X[:REF]")]
    pub categorical: Vec<String>,
    /// Knots of the restricted cubic spline (3–5).
    #[arg(long, default_value_t = 4)]
    pub knots: usize,
    /// Exposure value the spline's RR curve is relative to.
    #[arg(long, value_name = "V")]
    pub reference_value: Option<f64>,
    /// Minimum wear minutes for a valid day (with --store).
    #[arg(long, default_value_t = 600.0)]
    pub min_wear: f64,
    /// Minimum valid days per participant (with --store).
    #[arg(long, default_value_t = 1)]
    pub min_valid_days: usize,
    #[command(flatten)]
    pub na: NaArg,
    /// Print one JSON object on stdout.
    #[arg(long)]
    pub json: bool,
    /// Write the tables (Parquet and CSV), risk.json and manifest.json here.
    #[arg(short, long, value_name = "DIR")]
    pub out: Option<PathBuf>,
    /// Write text cells to the CSV tables as they are (by default a cell
    /// beginning with =, +, -, @, tab or CR gets a leading ').
    #[arg(long)]
    pub raw_csv: bool,
    #[command(flatten)]
    pub format: super::TableFormatArg,
}

pub fn risk(args: &RiskArgs, out: &mut dyn Write) -> Result<u8> {
    let started = std::time::Instant::now();
    let rules = ExposureRules {
        min_wear_min: args.min_wear,
        min_valid_days: args.min_valid_days,
    };
    let (df, path, excluded): (Box<dyn lumbar_model::Columns>, _, _) =
        match (args.store.as_ref().or(args.store_path.as_ref()), &args.data) {
            (Some(s), _) => {
                let df = risk::store_frame(&Store::open(s)?.snapshot()?, &rules)?;
                let excluded = df.excluded();
                (Box::new(df), s.clone(), Some(excluded))
            }
            (None, Some(f)) => (Box::new(args.na.read(f)?), f.clone(), None),
            (None, None) => anyhow::bail!("give --store or --data"),
        };
    let spec = RiskSpec {
        exposure: args.exposure.clone(),
        cuts: match args.quantiles {
            Some(k) => Cuts::Quantiles(k),
            None => Cuts::Points(args.cuts.clone()),
        },
        reference: args.reference.clone(),
        outcome: args.outcome.clone(),
        time: args.time.clone(),
        person_years: args.person_years.clone().or_else(|| {
            args.store
                .as_ref()
                .or(args.store_path.as_ref())
                .map(|_| "followup_years".to_string())
        }),
        covariates: args.covariates.clone(),
        categorical: args
            .categorical
            .iter()
            .map(|c| Categorical::parse(c))
            .collect(),
        knots: args.knots,
        reference_value: args.reference_value,
    };
    let report = risk::analyze(df.as_ref(), &spec)?;
    let mut doc = serde_json::to_value(&report)?;
    if let Some(o) = doc.as_object_mut()
        && let Some(e) = o.get_mut("exposure").and_then(|e| e.as_object_mut())
    {
        e.insert("excluded_too_few_valid_days".into(), excluded.into());
        e.insert("rules".into(), serde_json::to_value(rules)?);
    }
    if let Some(target) = &args.out {
        let ctx = |n: &str| format!("cannot write {n} into {}", target.display());
        let files = output::TableFiles {
            formats: args.format.formats(),
            cells: if args.raw_csv {
                output::CsvCells::Raw
            } else {
                output::CsvCells::Escaped
            },
        };
        let staged = super::result_dir(target)?;
        let dir = staged.path();
        output::write_rows_to(&report.incidence, dir, "incidence", files)
            .with_context(|| ctx("incidence"))?;
        output::write_rows_to(&report.crude.terms, dir, "rr_crude", files)
            .with_context(|| ctx("rr_crude"))?;
        output::write_rows_to(&report.poisson.terms, dir, "rr_adjusted", files)
            .with_context(|| ctx("rr_adjusted"))?;
        if let Some(s) = &report.spline {
            output::write_rows_to(&s.curve, dir, "rr_spline", files)
                .with_context(|| ctx("rr_spline"))?;
        }
        if let Some(c) = &report.cox {
            output::write_rows_to(&c.terms, dir, "hr_cox", files).with_context(|| ctx("hr_cox"))?;
        }
        write_atomic(
            &dir.join("risk.json"),
            serde_json::to_string_pretty(&doc)?.as_bytes(),
        )?;
        let manifest = serde_json::json!({
            "command": "risk",
            "lumbar_version": env!("CARGO_PKG_VERSION"),
            "input": path,
            "input_sha256": if args.data.is_some() { Some(lumbar_io::sha256_file(&path)?) } else { None },
            "store_inputs": match args.store.as_ref().or(args.store_path.as_ref()) {
                Some(s) => serde_json::to_value(Store::open(s)?.manifest()?.parts)?,
                None => serde_json::Value::Null,
            },
            "parameters": {
                "exposure": args.exposure, "cuts": args.cuts, "quantiles": args.quantiles, "reference": args.reference,
                "outcome": args.outcome, "time": args.time, "covariates": args.covariates, "categorical": args.categorical,
                "knots": args.knots, "rules": rules,
            },
            "wall_seconds": started.elapsed().as_secs_f64(),
        });
        write_atomic(
            &dir.join("manifest.json"),
            serde_json::to_string_pretty(&manifest)?.as_bytes(),
        )?;
        staged
            .commit()
            .with_context(|| format!("cannot put the results in place at {}", target.display()))?;
    }
    if args.json {
        writeln!(out, "{}", serde_json::to_string_pretty(&doc)?)?;
        return Ok(0);
    }
    render::report(&report, excluded, out)?;
    if let Some(dir) = &args.out {
        writeln!(out, "\nresults: {}", dir.display())?;
    }
    Ok(0)
}
