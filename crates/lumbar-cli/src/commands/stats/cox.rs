//! `lumbar stats cox`: Cox proportional hazards, as survival's `coxph`.

use std::io::Write;

use anyhow::Result;
use clap::Args;
use clap::builder::TypedValueParser;
use lumbar_analysis::columns;
use lumbar_stats::cox::Ties;

use super::{SurvivalColumns, print_terms, print_warnings};

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
    #[command(flatten)]
    pub table_out: super::TableOut,
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
    {
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
        args.table_out
            .write("coefficients", &fit.terms, "fit", &doc)?;
        if args.json {
            writeln!(out, "{}", serde_json::to_string_pretty(&doc)?)?;
            return Ok(0);
        }
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
