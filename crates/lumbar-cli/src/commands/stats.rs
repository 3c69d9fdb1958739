//! `lumbar stats …`: models on any CSV or Parquet file.

use std::io::Write;
use std::path::PathBuf;

use anyhow::Result;
use clap::Args;
use clap::builder::TypedValueParser;
use lumbar_analysis::columns;
use lumbar_io::Frame;
use lumbar_io::frame::default_na;
use lumbar_stats::cox::Ties;
use lumbar_stats::lmm::{self, Method, RandomEffects};

/// The cells a data file's reader takes as missing.
#[derive(Args, Debug, Clone, Default)]
pub struct NaArg {
    /// Cells read as missing, comma-separated, replacing the default list:
    /// NA, NaN, nan, NULL, null, . and the empty cell (R, pandas, Excel).
    #[arg(
        long,
        value_name = "TOKENS",
        value_delimiter = ',',
        allow_hyphen_values = true
    )]
    pub na: Option<Vec<String>>,
}

impl NaArg {
    pub fn tokens(&self) -> Vec<String> {
        self.na.clone().unwrap_or_else(default_na)
    }

    /// Reads a data file with these tokens as missing.
    pub fn read(&self, path: &std::path::Path) -> Result<Frame> {
        Ok(Frame::read_with(path, &self.tokens())?)
    }
}

/// Prints each warning on its own line, as R prints them after a fit.
pub fn print_warnings(warnings: &[String], out: &mut dyn Write) -> Result<()> {
    for w in warnings {
        writeln!(out, "warning: {w}")?;
    }
    Ok(())
}

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
    if args.json {
        let mut v = serde_json::to_value(&fit)?;
        if let Some(o) = v.as_object_mut() {
            o.insert("n_dropped".into(), dropped.into());
            o.retain(|_, val| !val.is_null());
            if let Some(r) = o.get_mut("random").and_then(|r| r.as_object_mut()) {
                r.retain(|_, val| !val.is_null());
            }
        }
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
    if args.json {
        let mut v = serde_json::to_value(&fit)?;
        if let Some(o) = v.as_object_mut() {
            o.insert("n_dropped".into(), d.dropped.into());
        }
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

/// A table of terms with ratio-scale estimates and 95% CIs.
pub fn print_terms(
    terms: &[lumbar_stats::poisson::Coefficient],
    ratio: &str,
    out: &mut dyn Write,
) -> Result<()> {
    writeln!(
        out,
        "{:<22} {:>10} {:>10} {:>8} {:>10} {:>8} {:>17}",
        "term", "estimate", "std.error", "z", "p", ratio, "95% CI"
    )?;
    for t in terms {
        writeln!(
            out,
            "{:<22} {:>10.5} {:>10.5} {:>8.3} {:>10.3e} {:>8.4} {:>8.4}–{:<8.4}",
            t.term,
            t.estimate,
            t.std_error,
            t.z,
            t.p_value,
            t.exp_estimate,
            t.conf_low,
            t.conf_high
        )?;
    }
    Ok(())
}

/// The columns every survival command reads.
#[derive(Args, Debug)]
pub struct SurvivalColumns {
    /// Data file (CSV or Parquet).
    #[arg(long, value_name = "F")]
    pub data: PathBuf,
    /// Follow-up (stop) time column.
    #[arg(long, value_name = "COL")]
    pub time: String,
    /// Event column: 0/1, true/false, or R's 1/2 (1 = censored, 2 = event).
    #[arg(long, value_name = "COL")]
    pub event: String,
    #[command(flatten)]
    pub na: NaArg,
}

#[derive(Args, Debug)]
pub struct KmArgs {
    #[command(flatten)]
    pub surv: SurvivalColumns,
    /// Group column: one curve per group, and the log-rank test.
    #[arg(long, value_name = "COL")]
    pub group: Option<String>,
    /// Survival at these times, comma-separated (as summary(fit, times =)).
    #[arg(long, value_delimiter = ',', value_name = "T1,T2")]
    pub times: Vec<f64>,
    /// Print JSON on stdout.
    #[arg(long)]
    pub json: bool,
}

pub fn km(args: &KmArgs, out: &mut dyn Write) -> Result<u8> {
    use lumbar_stats::survival;
    let df = args.surv.na.read(&args.surv.data)?;
    let labels: Vec<&str> = args.group.iter().map(String::as_str).collect();
    let d = columns::design(&df, &[], &[], &[&args.surv.time, &args.surv.event], &labels)?;
    let (event, coding) = columns::events(&df, &d, &args.surv.event)?;
    let time = d.variable(&args.surv.time).unwrap_or(&[]);
    let (curves, test) =
        survival::by_group(time, &event, args.group.as_deref().and_then(|g| d.label(g)));
    let curves: Vec<_> = curves
        .into_iter()
        .map(|c| c.with_times(&args.times))
        .collect();
    let mut warnings = Vec::new();
    let nonpositive = time.iter().filter(|t| **t <= 0.0).count();
    if nonpositive > 0 {
        warnings.push(format!(
            "{nonpositive} observation(s) have a time of 0 or less; kept, as survfit keeps them"
        ));
    }
    if args.json {
        let doc = serde_json::json!({
            "n": d.rows, "n_dropped": d.dropped, "event_coding": coding,
            "curves": curves, "logrank": test, "warnings": warnings,
        });
        writeln!(out, "{}", serde_json::to_string_pretty(&doc)?)?;
        return Ok(0);
    }
    writeln!(
        out,
        "Kaplan–Meier: {} observations ({} dropped for missing values); event coding {}\n",
        d.rows,
        d.dropped,
        match coding {
            survival::EventCoding::ZeroOne => "0/1",
            survival::EventCoding::OneTwo => "1/2 (R's Surv: 1 = censored, 2 = event)",
        }
    )?;
    let when = |t: Option<f64>| t.map(|m| m.to_string()).unwrap_or_else(|| "NA".into());
    for c in &curves {
        writeln!(
            out,
            "{}: n {}, events {}, median {} (95% CI {}–{})",
            c.group.as_deref().unwrap_or("all"),
            c.n,
            c.events,
            c.median
                .map(|m| m.to_string())
                .unwrap_or_else(|| "not reached".into()),
            when(c.median_lower),
            when(c.median_upper)
        )?;
        writeln!(
            out,
            "  quartiles: {}",
            c.quantiles
                .iter()
                .map(|q| format!(
                    "{:.0}% {} ({}–{})",
                    q.prob * 100.0,
                    when(q.time),
                    when(q.lower),
                    when(q.upper)
                ))
                .collect::<Vec<_>>()
                .join(", ")
        )?;
        // std.err is the SE of S(t), as summary.survfit prints it.
        writeln!(
            out,
            "{:>10} {:>8} {:>7} {:>8} {:>8} {:>17}",
            "time", "n.risk", "n.event", "surv", "std.err", "95% CI"
        )?;
        for s in c.steps.iter().filter(|s| s.n_event > 0.0) {
            writeln!(
                out,
                "{:>10} {:>8} {:>7} {:>8.4} {:>8.4} {:>8.4}–{:<8.4}",
                s.time, s.n_risk, s.n_event, s.surv, s.std_err, s.lower, s.upper
            )?;
        }
        if !c.at_times.is_empty() {
            writeln!(out, "  at chosen times:")?;
            for s in &c.at_times {
                writeln!(
                    out,
                    "{:>10} {:>8} {:>7} {:>8.4} {:>8.4} {:>8.4}–{:<8.4}",
                    s.time, s.n_risk, "", s.surv, s.std_err, s.lower, s.upper
                )?;
            }
        }
        writeln!(out)?;
    }
    if let Some(t) = test {
        writeln!(
            out,
            "log-rank: chisq {:.4} on {} df, p = {:.4e}",
            t.chisq, t.df, t.p_value
        )?;
    }
    print_warnings(&warnings, out)?;
    Ok(0)
}

#[derive(Args, Debug)]
pub struct CoxArgs {
    #[command(flatten)]
    pub surv: SurvivalColumns,
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
    /// Case-weight column.
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
    /// Print JSON on stdout.
    #[arg(long)]
    pub json: bool,
}

pub fn cox(args: &CoxArgs, out: &mut dyn Write) -> Result<u8> {
    use lumbar_analysis::design;
    use lumbar_stats::cox::{self, CoxData};
    let df = args.surv.na.read(&args.surv.data)?;
    let (covariates, cats) = design::covariates_with(&args.covariates, &args.categorical);
    let mut extra: Vec<&str> = vec![&args.surv.time, &args.surv.event];
    extra.extend(args.entry.as_deref());
    extra.extend(args.weights.as_deref());
    let mut labels: Vec<&str> = Vec::new();
    labels.extend(args.strata.as_deref());
    labels.extend(args.cluster.as_deref());
    let mut d = columns::design(&df, &covariates, &cats, &extra, &labels)?;
    let mut warnings = Vec::new();
    if args.entry.is_some() {
        // R's Surv(entry, stop, event) makes a row with stop <= entry NA
        // ("Stop time must be > start time, NA created"), which coxph's
        // na.omit then drops: the same here, counted and said.
        let stop = d.variable(&args.surv.time).unwrap_or(&[]).to_vec();
        let entry = d
            .variable(args.entry.as_deref().unwrap_or(""))
            .unwrap_or(&[])
            .to_vec();
        let gone = d.drop_rows(|i| stop[i] <= entry[i]);
        if gone > 0 {
            warnings.push(format!(
                "{gone} row(s) with stop time <= entry time dropped (as R's Surv: \
                 \"Stop time must be > start time, NA created\")"
            ));
        }
    }
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
    let data = CoxData {
        stop: d.variable(&args.surv.time).unwrap_or(&[]).to_vec(),
        entry: variable(&args.entry),
        event: columns::events(&df, &d, &args.surv.event)?.0,
        columns: d.columns.clone(),
        names: d.names.clone(),
        strata: label(&args.strata),
        weights: variable(&args.weights),
        cluster: label(&args.cluster),
    };
    let fit = cox::fit(&data, args.ties, args.robust)?;
    warnings.extend(fit.warnings.iter().cloned());
    if args.json {
        let doc = serde_json::json!({
            "n": fit.n,
            "n_dropped": d.dropped,
            "events": fit.events,
            "ties": fit.ties,
            "loglik": fit.loglik[1],
            "loglik_null": fit.loglik[0],
            "concordance": fit.concordance,
            "robust": fit.robust,
            "terms": fit.terms,
            "naive_std_error": fit.naive_std_error,
            "tests": fit.tests,
            "zph": fit.zph,
            "iterations": fit.iterations,
            "converged": fit.converged,
            "warnings": warnings,
        });
        writeln!(out, "{}", serde_json::to_string_pretty(&doc)?)?;
        return Ok(0);
    }
    writeln!(
        out,
        "Cox proportional hazards ({:?} ties{}): {} observations, {} events ({} dropped for missing values)\n",
        fit.ties,
        if fit.robust { ", robust SEs" } else { "" },
        fit.n,
        fit.events,
        d.dropped
    )?;
    print_terms(&fit.terms, "HR", out)?;
    writeln!(
        out,
        "\nlog-likelihood {:.4} (null {:.4}); concordance {:.4}",
        fit.loglik[1], fit.loglik[0], fit.concordance
    )?;
    let t = &fit.tests;
    writeln!(
        out,
        "likelihood ratio {:.3} on {} df (p {:.3e}); Wald {:.3} (p {:.3e}); score {:.3} (p {:.3e})",
        t.likelihood_ratio.statistic,
        t.likelihood_ratio.df,
        t.likelihood_ratio.p_value,
        t.wald.statistic,
        t.wald.p_value,
        t.score.statistic,
        t.score.p_value
    )?;
    if let Some(z) = &fit.zph {
        writeln!(out, "\nProportional hazards (cox.zph, transform km):")?;
        for t in &z.terms {
            writeln!(
                out,
                "  {:<20} chisq {:>8.4} df {} p {:.4}",
                t.term, t.test.statistic, t.test.df, t.test.p_value
            )?;
        }
        writeln!(
            out,
            "  {:<20} chisq {:>8.4} df {} p {:.4}",
            "GLOBAL", z.global.statistic, z.global.df, z.global.p_value
        )?;
    }
    writeln!(
        out,
        "converged: {} ({} iterations, coxph's rule)",
        fit.converged, fit.iterations
    )?;
    print_warnings(&warnings, out)?;
    Ok(0)
}
