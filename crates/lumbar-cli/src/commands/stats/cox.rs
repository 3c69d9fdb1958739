//! `lumbar stats cox`: Cox proportional hazards, as survival's `coxph`.

use std::io::Write;

use std::path::PathBuf;

use anyhow::Result;
use clap::Args;
use clap::builder::TypedValueParser;
use lumbar_analysis::columns;
use lumbar_analysis::model_frame::{self, CoxFrame};
use lumbar_stats::cox::{self, CoxData, Ties};
use lumbar_stats::formula::Formula;

use super::{ConfLevel, NaArg, data_name, print_warnings, summary};

#[derive(Args, Debug)]
pub struct CoxArgs {
    /// Data file (CSV or Parquet).
    #[arg(long, value_name = "F")]
    pub data: PathBuf,
    /// The model as R's coxph takes it: "Surv(time, status) ~ age + sex +
    /// factor(ecog) + strata(site) + cluster(id)", or Surv(start, stop,
    /// event); the event may be written status == 2. Replaces --time,
    /// --event, --entry, --covariates, --categorical, --strata and --cluster.
    #[arg(long, short = 'f', value_name = "FORMULA",
          conflicts_with_all = ["time", "event", "entry", "covariates", "categorical", "strata", "cluster"])]
    pub formula: Option<String>,
    /// Follow-up (stop) time column.
    #[arg(long, value_name = "COL", required_unless_present = "formula")]
    pub time: Option<String>,
    /// Event column: 0/1, true/false, or R's 1/2 (1 = censored, 2 = event);
    /// `--outcome` (as risk says) and `--status` (as R's Surv) are the same.
    #[arg(long, value_name = "COL", visible_aliases = ["outcome", "status"], required_unless_present = "formula")]
    pub event: Option<String>,
    /// Entry time column, for left truncation (delayed entry): at risk on (entry, time].
    #[arg(long, value_name = "COL")]
    pub entry: Option<String>,
    /// Covariates, comma-separated.
    #[arg(long, value_delimiter = ',', value_name = "A,B")]
    pub covariates: Vec<String>,
    /// Categorical covariates, each optionally with its reference level: x or x:REF.
    #[arg(long, value_delimiter = ',', value_name = "X[:REF]")]
    pub categorical: Vec<String>,
    /// Stratum column: a separate baseline hazard per stratum.
    #[arg(long, value_name = "COL")]
    pub strata: Option<String>,
    /// Case-weight column (R's weights =).
    #[arg(long, value_name = "COL")]
    pub weights: Option<String>,
    /// Tied event times: efron (R's default) or breslow.
    #[arg(
        long,
        default_value = "efron",
        value_parser = clap::builder::PossibleValuesParser::new(Ties::ALL.map(|(name, _)| name))
            .try_map(|s| s.parse::<Ties>())
    )]
    pub ties: Ties,
    /// Robust (sandwich) standard errors.
    #[arg(long)]
    pub robust: bool,
    /// Cluster column: robust standard errors summed within clusters.
    #[arg(long, value_name = "COL")]
    pub cluster: Option<String>,
    #[command(flatten)]
    pub na: NaArg,
    #[command(flatten)]
    pub level: ConfLevel,
    #[command(flatten)]
    pub boot: super::BootArg,
    /// Print JSON on stdout.
    #[arg(long)]
    pub json: bool,
    #[command(flatten)]
    pub table_out: super::TableOut,
    #[command(flatten)]
    pub plot: super::PlotArg,
}

/// The model's data from the flags, as the formula would give it.
fn frame_from_flags(args: &CoxArgs, df: &dyn lumbar_model::Columns) -> Result<CoxFrame> {
    use lumbar_analysis::design;
    let (time, event) = match (&args.time, &args.event) {
        (Some(t), Some(e)) => (t.as_str(), e.as_str()),
        _ => anyhow::bail!("give --formula, or --time and --event"),
    };
    let (covariates, cats) = design::covariates_with(&args.covariates, &args.categorical);
    let mut extra: Vec<&str> = vec![time, event];
    extra.extend(args.entry.as_deref());
    extra.extend(args.weights.as_deref());
    let mut labels: Vec<&str> = Vec::new();
    labels.extend(args.strata.as_deref());
    labels.extend(args.cluster.as_deref());
    let mut d = columns::design(df, &covariates, &cats, &extra, &labels)?;
    model_frame::check_cox_size(df, d.rows, d.columns.len())?;
    let warnings: Vec<String> = args
        .entry
        .as_deref()
        .and_then(|entry| model_frame::drop_empty_intervals(&mut d, entry, time))
        .into_iter()
        .collect();
    let variable = |name: &Option<String>| {
        name.as_deref()
            .and_then(|n| d.variable(n))
            .map(<[f64]>::to_vec)
    };
    let label = |name: &Option<String>| {
        name.as_deref()
            .and_then(|n| d.label(n))
            .map(<[String]>::to_vec)
    };
    let mut rhs: Vec<String> = covariates.clone();
    rhs.extend(args.strata.iter().map(|s| format!("strata({s})")));
    rhs.extend(args.cluster.iter().map(|s| format!("cluster({s})")));
    let start = args
        .entry
        .as_ref()
        .map(|e| format!("{e}, "))
        .unwrap_or_default();
    Ok(CoxFrame {
        data: CoxData {
            stop: d.variable(time).unwrap_or(&[]).to_vec(),
            entry: variable(&args.entry),
            event: columns::events(df, &d, event)?.0,
            strata: label(&args.strata),
            weights: variable(&args.weights),
            cluster: label(&args.cluster),
            columns: d.columns.clone(),
            names: d.names.clone(),
            terms: None,
        },
        dropped: d.dropped,
        warnings,
        formula: format!(
            "Surv({start}{time}, {event}) ~ {}",
            if rhs.is_empty() {
                "1".into()
            } else {
                rhs.join(" + ")
            }
        ),
    })
}

pub fn cox(args: &CoxArgs, out: &mut dyn Write) -> Result<u8> {
    let df = args.na.read(&args.data)?;
    let frame = match &args.formula {
        Some(text) => model_frame::cox_frame(&df, &Formula::parse(text)?, args.weights.as_deref())?,
        None => frame_from_flags(args, &df)?,
    };
    let level = args.level.get()?;
    let mut fit = cox::fit(&frame.data, args.ties, args.robust)?;
    fit.terms = args.level.apply(&fit.terms);
    let estimates: Vec<f64> = fit.terms.iter().map(|t| t.estimate).collect();
    let boot = match args.boot.spec(level) {
        Some(spec) => Some(lumbar_stats::bootstrap::cox(
            &frame.data,
            args.ties,
            &estimates,
            &spec,
        )?),
        None => None,
    };
    let mut warnings = frame.warnings.clone();
    warnings.extend(fit.warnings.iter().cloned());
    {
        let doc = serde_json::json!({
            "formula": frame.formula,
            "n": fit.n,
            "n_dropped": frame.dropped,
            "events": fit.events,
            "ties": fit.ties,
            "loglik": fit.loglik[1],
            "loglik_null": fit.loglik[0],
            "concordance": fit.concordance,
            "concordance_std_error": fit.concordance_std_error,
            "robust": fit.robust,
            "conf_level": level,
            "terms": fit.terms,
            "naive_std_error": fit.naive_std_error,
            "tests": fit.tests,
            "zph": fit.zph,
            "iterations": fit.iterations,
            "converged": fit.converged,
            "warnings": warnings,
            "bootstrap": boot,
        });
        args.table_out
            .write_with("coefficients", &fit.terms, boot.as_ref(), "fit", &doc)?;
        super::plot::write_forest(
            &args.plot,
            &fit.terms,
            "HR",
            &format!("Cox proportional hazards: {}", frame.formula),
        )?;
        if args.json {
            writeln!(out, "{}", serde_json::to_string_pretty(&doc)?)?;
            return Ok(0);
        }
    }
    summary::cox(
        &fit,
        &frame.formula,
        &data_name(&args.data),
        frame.dropped,
        level,
        out,
    )?;
    if let Some(b) = &boot {
        summary::bootstrap(b, Some("exp(coef)"), out)?;
    }
    if let Some(z) = &fit.zph {
        writeln!(out, "\nProportional hazards (cox.zph, transform km):")?;
        let rows = z
            .terms
            .iter()
            .map(|t| (t.term.as_str(), &t.test))
            .chain([("GLOBAL", &z.global)]);
        for (term, t) in rows {
            writeln!(
                out,
                "  {term:<20} chisq {:>8.4} df {} p {:.4}",
                t.statistic, t.df, t.p_value
            )?;
        }
    }
    writeln!(
        out,
        "converged: {} ({} iterations, coxph's rule)",
        fit.converged, fit.iterations
    )?;
    print_warnings(&warnings, out)?;
    Ok(0)
}
