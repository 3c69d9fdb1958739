//! `lumbar stats lmm`: a linear mixed model, as lme4's `lmer`.

use std::io::Write;
use std::path::PathBuf;

use anyhow::Result;
use clap::Args;
use lumbar_analysis::columns;
use lumbar_stats::lmm::{self, Method, RandomEffects};

use super::{NaArg, print_warnings};

#[derive(Args, Debug)]
pub struct LmmArgs {
    /// Data file (CSV or Parquet), one row per observation.
    #[arg(long, value_name = "F")]
    pub data: PathBuf,
    /// Outcome column.
    #[arg(long, value_name = "COL")]
    pub response: String,
    /// Time column (fixed slope, and the random slope with --random slope).
    #[arg(long, value_name = "COL")]
    pub time: String,
    /// Grouping column (patient).
    #[arg(long, value_name = "COL")]
    pub group: String,
    /// Extra fixed-effect covariates, comma-separated.
    #[arg(long, value_delimiter = ',', value_name = "A,B")]
    pub covariates: Vec<String>,
    #[arg(long, value_enum, default_value_t = MethodArg::Reml)]
    pub method: MethodArg,
    #[arg(long, value_enum, default_value_t = RandomArg::Slope)]
    pub random: RandomArg,
    #[command(flatten)]
    pub na: NaArg,
    /// Print JSON on stdout.
    #[arg(long)]
    pub json: bool,
    #[command(flatten)]
    pub table_out: super::TableOut,
}

#[derive(clap::ValueEnum, Clone, Copy, Debug)]
pub enum MethodArg {
    Reml,
    Ml,
}

#[derive(clap::ValueEnum, Clone, Copy, Debug)]
pub enum RandomArg {
    Intercept,
    Slope,
}

pub fn lmm(args: &LmmArgs, out: &mut dyn Write) -> Result<u8> {
    let df = args.na.read(&args.data)?;
    let (d, dropped) = columns::lmm_data(
        &df,
        &args.response,
        &args.time,
        &args.group,
        &args.covariates,
    )?;
    let method = match args.method {
        MethodArg::Reml => Method::Reml,
        MethodArg::Ml => Method::Ml,
    };
    let re = match args.random {
        RandomArg::Intercept => RandomEffects::Intercept,
        RandomArg::Slope => RandomEffects::Slope,
    };
    let fit = lmm::fit(&d, method, re)?;
    let mut v = serde_json::to_value(&fit)?;
    if let Some(o) = v.as_object_mut() {
        o.insert("n_dropped".into(), dropped.into());
        o.retain(|_, val| !val.is_null());
        if let Some(r) = o.get_mut("random").and_then(|r| r.as_object_mut()) {
            r.retain(|_, val| !val.is_null());
        }
    }
    args.table_out
        .write("fixed_effects", &fit.fixed, "fit", &v)?;
    if args.json {
        writeln!(out, "{}", serde_json::to_string_pretty(&v)?)?;
        return Ok(0);
    }
    writeln!(
        out,
        "Linear mixed model, {}: {} ~ {}{} + ({}{} | {})",
        if method == Method::Reml { "REML" } else { "ML" },
        args.response,
        args.time,
        args.covariates
            .iter()
            .map(|c| format!(" + {c}"))
            .collect::<String>(),
        if re == RandomEffects::Slope {
            "1 + "
        } else {
            "1"
        },
        if re == RandomEffects::Slope {
            args.time.as_str()
        } else {
            ""
        },
        args.group
    )?;
    writeln!(
        out,
        "{} observations in {} groups ({} dropped for missing values)",
        fit.n_obs, fit.n_groups, dropped
    )?;
    writeln!(
        out,
        "\nFixed effects:\n{:<14} {:>12} {:>12} {:>9}",
        "term", "estimate", "std. error", "t"
    )?;
    for f in &fit.fixed {
        writeln!(
            out,
            "{:<14} {:>12.6} {:>12.6} {:>9.3}",
            f.term, f.estimate, f.std_error, f.t
        )?;
    }
    writeln!(
        out,
        "\nRandom effects (SD): intercept {:.4}",
        fit.random.sd_intercept
    )?;
    if let (Some(s), c) = (fit.random.sd_slope, fit.random.corr) {
        writeln!(
            out,
            "                     slope {:.4}, correlation {}",
            s,
            c.map(|c| format!("{c:.4}")).unwrap_or("—".into())
        )?;
    }
    writeln!(out, "Residual SD {:.4}", fit.sd_residual)?;
    match (fit.reml_criterion, fit.loglik) {
        (Some(r), _) => writeln!(out, "REML criterion {r:.4}")?,
        (_, Some(l)) => writeln!(out, "log-likelihood {l:.4}")?,
        _ => {}
    }
    if fit.singular {
        writeln!(
            out,
            "note: singular fit (a variance component at zero or a correlation at ±1)"
        )?;
    }
    writeln!(
        out,
        "converged: {} (max |gradient| {:.2e}, {} evaluations)",
        fit.converged, fit.max_abs_gradient, fit.evaluations
    )?;
    print_warnings(&fit.warnings, out)?;
    Ok(0)
}
