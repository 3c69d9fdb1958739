//! `lumbar stats poisson`: modified Poisson regression (risk ratios with
//! sandwich errors), as `glm(family = poisson)` with `sandwich`.

use std::io::Write;
use std::path::PathBuf;

use anyhow::Result;
use clap::Args;
use lumbar_analysis::{columns, model_frame};
use lumbar_stats::formula::Formula;

use super::{ConfLevel, NaArg, data_name, print_warnings, summary};

#[derive(Args, Debug)]
pub struct PoissonArgs {
    /// Data file (CSV or Parquet), one row per participant.
    #[arg(long, value_name = "F")]
    pub data: PathBuf,
    /// The model as R's glm takes it: "clbp ~ walk_cat + age + sex:age";
    /// text columns and factor(x) are categorical. Replaces --outcome,
    /// --covariates and --categorical.
    #[arg(long, short = 'f', value_name = "FORMULA", conflicts_with_all = ["outcome", "covariates", "categorical"])]
    pub formula: Option<String>,
    /// Binary (0/1, true/false) or count outcome column.
    #[arg(long, value_name = "COL", required_unless_present = "formula")]
    pub outcome: Option<String>,
    /// Covariates, comma-separated.
    #[arg(long, value_delimiter = ',', value_name = "A,B")]
    pub covariates: Vec<String>,
    /// Covariates to treat as categorical, each optionally with its reference level: x or x:REF.
    #[arg(long, value_delimiter = ',', value_name = "X[:REF]")]
    pub categorical: Vec<String>,
    /// Sandwich variant for the standard errors.
    #[arg(long, value_enum, default_value_t = RobustArg::Hc0)]
    pub robust: RobustArg,
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

#[derive(clap::ValueEnum, Clone, Copy, Debug)]
pub enum RobustArg {
    Hc0,
    Hc1,
    Hc3,
}

pub fn poisson(args: &PoissonArgs, out: &mut dyn Write) -> Result<u8> {
    use lumbar_analysis::design;
    use lumbar_stats::poisson::{Robust, modified_poisson};
    let df = args.na.read(&args.data)?;
    let frame = match (&args.formula, &args.outcome) {
        (Some(text), _) => model_frame::glm_frame(&df, &Formula::parse(text)?)?,
        (None, Some(outcome)) => {
            let (covariates, cats) = design::covariates_with(&args.covariates, &args.categorical);
            let d = columns::design(&df, &covariates, &cats, &[outcome.as_str()], &[])?;
            model_frame::GlmFrame {
                outcome: d.variable(outcome).unwrap_or(&[]).to_vec(),
                formula: format!(
                    "{outcome} ~ {}",
                    if covariates.is_empty() {
                        "1".into()
                    } else {
                        covariates.join(" + ")
                    }
                ),
                design: d,
            }
        }
        (None, None) => anyhow::bail!("give --formula, or --outcome"),
    };
    let level = args.level.get()?;
    let robust = match args.robust {
        RobustArg::Hc0 => Robust::Hc0,
        RobustArg::Hc1 => Robust::Hc1,
        RobustArg::Hc3 => Robust::Hc3,
    };
    let d = &frame.design;
    let mut fit = modified_poisson(&frame.outcome, &d.columns, &d.names, robust)?;
    fit.terms = args.level.apply(&fit.terms);
    let estimates: Vec<f64> = fit.terms.iter().map(|t| t.estimate).collect();
    let boot = match args.boot.spec(level) {
        Some(spec) => Some(lumbar_stats::bootstrap::poisson(
            &frame.outcome,
            &d.columns,
            &d.names,
            &estimates,
            &spec,
        )?),
        None => None,
    };
    let mut v = serde_json::to_value(&fit)?;
    if let Some(o) = v.as_object_mut() {
        o.insert("bootstrap".into(), serde_json::to_value(&boot)?);
        o.insert("formula".into(), frame.formula.clone().into());
        o.insert("n_dropped".into(), d.dropped.into());
        o.insert("conf_level".into(), level.into());
    }
    args.table_out
        .write_with("coefficients", &fit.terms, boot.as_ref(), "fit", &v)?;
    super::plot::write_forest(
        &args.plot,
        &fit.terms,
        "RR",
        &format!("Modified Poisson regression: {}", frame.formula),
    )?;
    if args.json {
        writeln!(out, "{}", serde_json::to_string_pretty(&v)?)?;
        return Ok(0);
    }
    summary::poisson(
        &fit,
        &frame.formula,
        &data_name(&args.data),
        d.dropped,
        level,
        out,
    )?;
    if let Some(b) = &boot {
        summary::bootstrap(b, Some("RR"), out)?;
    }
    writeln!(
        out,
        "converged: {} ({} iterations, glm's rule)",
        fit.converged, fit.iterations
    )?;
    print_warnings(&fit.warnings, out)?;
    Ok(0)
}
