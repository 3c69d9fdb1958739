//! `lumbar stats lmm`: a linear mixed model, as lme4's `lmer`.

use std::io::Write;
use std::path::PathBuf;

use anyhow::Result;
use clap::Args;
use lumbar_analysis::{columns, model_frame};
use lumbar_stats::formula::Formula;
use lumbar_stats::lmm::{self, Method, RandomEffects};

use super::{NaArg, data_name, print_warnings, summary};

#[derive(Args, Debug)]
pub struct LmmArgs {
    /// Data file (CSV or Parquet), one row per observation.
    #[arg(long, value_name = "F")]
    pub data: PathBuf,
    /// The model as lme4's lmer takes it: "pain ~ week + (week | patient)",
    /// "(1 | patient)" for a random intercept only; extra fixed terms,
    /// factor(x), a:b and a*b (arm * week) as in R. Replaces --response,
    /// --time, --group, --covariates and --random.
    #[arg(long, short = 'f', value_name = "FORMULA",
          conflicts_with_all = ["response", "time", "group", "covariates", "random"])]
    pub formula: Option<String>,
    /// Outcome column.
    #[arg(long, value_name = "COL", required_unless_present = "formula")]
    pub response: Option<String>,
    /// Time column (fixed slope, and the random slope with --random slope).
    #[arg(long, value_name = "COL", required_unless_present = "formula")]
    pub time: Option<String>,
    /// Grouping column (patient).
    #[arg(long, value_name = "COL", required_unless_present = "formula")]
    pub group: Option<String>,
    /// Extra fixed-effect covariates, comma-separated.
    #[arg(long, value_delimiter = ',', value_name = "A,B")]
    pub covariates: Vec<String>,
    #[arg(long, value_enum, default_value_t = MethodArg::Reml)]
    pub method: MethodArg,
    #[arg(long, value_enum)]
    pub random: Option<RandomArg>,
    #[command(flatten)]
    pub na: NaArg,
    /// Confidence level of the bootstrap's intervals.
    #[command(flatten)]
    pub level: super::ConfLevel,
    #[command(flatten)]
    pub boot: super::BootArg,
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
    let frame = match (&args.formula, &args.response, &args.time, &args.group) {
        (Some(text), ..) => model_frame::lmm_frame(&df, &Formula::parse(text)?)?,
        (None, Some(response), Some(time), Some(group)) => {
            let (data, dropped) = columns::lmm_data(&df, response, time, group, &args.covariates)?;
            let random = match args.random.unwrap_or(RandomArg::Slope) {
                RandomArg::Intercept => RandomEffects::Intercept,
                RandomArg::Slope => RandomEffects::Slope,
            };
            let mut fixed = vec![time.clone()];
            fixed.extend(args.covariates.iter().cloned());
            let slope = if random == RandomEffects::Slope {
                format!("{time} | ")
            } else {
                "1 | ".into()
            };
            model_frame::LmmFrame {
                formula: format!("{response} ~ {} + ({slope}{group})", fixed.join(" + ")),
                order: Vec::new(),
                data,
                random,
                dropped,
            }
        }
        _ => anyhow::bail!("give --formula, or --response, --time and --group"),
    };
    let method = match args.method {
        MethodArg::Reml => Method::Reml,
        MethodArg::Ml => Method::Ml,
    };
    let mut fit = lmm::fit(&frame.data, method, frame.random)?;
    // The fit lists the intercept, the time and the other columns; a
    // formula's order is R's.
    let rank = |t: &str| {
        frame
            .order
            .iter()
            .position(|o| o == t)
            .unwrap_or(usize::MAX)
    };
    fit.fixed.sort_by_key(|f| rank(&f.term));
    let dropped = frame.dropped;
    let names: Vec<String> = fit.fixed.iter().map(|f| f.term.clone()).collect();
    let estimates: Vec<f64> = fit.fixed.iter().map(|f| f.estimate).collect();
    let boot = match args.boot.spec(args.level.get()?) {
        Some(spec) => Some(lumbar_stats::bootstrap::lmm(
            &frame.data,
            method,
            frame.random,
            &names,
            &estimates,
            &spec,
        )?),
        None => None,
    };
    let mut v = serde_json::to_value(&fit)?;
    if let Some(o) = v.as_object_mut() {
        o.insert("bootstrap".into(), serde_json::to_value(&boot)?);
        o.insert("formula".into(), frame.formula.clone().into());
        o.insert("n_dropped".into(), dropped.into());
        o.retain(|_, val| !val.is_null());
        if let Some(r) = o.get_mut("random").and_then(|r| r.as_object_mut()) {
            r.retain(|_, val| !val.is_null());
        }
    }
    args.table_out
        .write_with("fixed_effects", &fit.fixed, boot.as_ref(), "fit", &v)?;
    if args.json {
        writeln!(out, "{}", serde_json::to_string_pretty(&v)?)?;
        return Ok(0);
    }
    let group = frame
        .formula
        .rsplit_once('|')
        .map_or("group", |(_, g)| g.trim_end_matches(')').trim());
    summary::lmm(
        &fit,
        &frame.formula,
        &data_name(&args.data),
        (group, &frame.data.time_name),
        out,
    )?;
    if dropped > 0 {
        writeln!(out, "({dropped} observations deleted due to missingness)")?;
    }
    if let Some(b) = &boot {
        summary::bootstrap(b, None, out)?;
    }
    writeln!(
        out,
        "converged: {} (max |gradient| {:.2e}, {} evaluations)",
        fit.converged, fit.max_abs_gradient, fit.evaluations
    )?;
    print_warnings(&fit.warnings, out)?;
    Ok(0)
}
