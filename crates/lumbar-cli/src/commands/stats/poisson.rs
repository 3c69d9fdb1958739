//! `lumbar stats poisson`: modified Poisson regression (risk ratios with
//! sandwich errors), as `glm(family = poisson)` with `sandwich`.

use std::io::Write;
use std::path::PathBuf;

use anyhow::Result;
use clap::Args;
use lumbar_analysis::columns;

use super::{NaArg, print_terms, print_warnings};

#[derive(Args, Debug)]
pub struct PoissonArgs {
    /// Data file (CSV or Parquet), one row per participant.
    #[arg(long, value_name = "F")]
    pub data: PathBuf,
    /// Binary (0/1, true/false) or count outcome column.
    #[arg(long, value_name = "COL")]
    pub outcome: String,
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
    /// Print JSON on stdout.
    #[arg(long)]
    pub json: bool,
    #[command(flatten)]
    pub table_out: super::TableOut,
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
    let (covariates, cats) = design::covariates_with(&args.covariates, &args.categorical);
    let d = columns::design(&df, &covariates, &cats, &[args.outcome.as_str()], &[])?;
    let robust = match args.robust {
        RobustArg::Hc0 => Robust::Hc0,
        RobustArg::Hc1 => Robust::Hc1,
        RobustArg::Hc3 => Robust::Hc3,
    };
    let y = d.variable(&args.outcome).unwrap_or(&[]);
    let fit = modified_poisson(y, &d.columns, &d.names, robust)?;
    let mut v = serde_json::to_value(&fit)?;
    if let Some(o) = v.as_object_mut() {
        o.insert("n_dropped".into(), d.dropped.into());
    }
    args.table_out
        .write("coefficients", &fit.terms, "fit", &v)?;
    if args.json {
        writeln!(out, "{}", serde_json::to_string_pretty(&v)?)?;
        return Ok(0);
    }
    writeln!(
        out,
        "Modified Poisson regression (log link, robust {:?} SEs): {} ~ {}",
        robust,
        args.outcome,
        covariates.join(" + ")
    )?;
    writeln!(
        out,
        "{} observations, {} events ({} dropped for missing values)\n",
        fit.n, fit.events, d.dropped
    )?;
    print_terms(&fit.terms, "RR", out)?;
    writeln!(
        out,
        "\ndeviance {:.4}; converged: {} ({} iterations, glm's rule)",
        fit.deviance, fit.converged, fit.iterations
    )?;
    print_warnings(&fit.warnings, out)?;
    Ok(0)
}
