//! The human output of `stats cox|poisson|lmm`, laid out as R's
//! `summary()` prints the same fit (survival's `print.summary.coxph`,
//! `printCoefmat`, lme4's `print.summary.merMod`), numbers formatted by
//! [`crate::rformat`]. What R does not print (cox.zph, convergence) follows.

use std::io::Write;

use anyhow::Result;
use lumbar_stats::cox::CoxFit;
use lumbar_stats::lmm::{LmmFit, Method};
use lumbar_stats::poisson::PoissonFit;

use crate::rformat::{self, CoefTable, DIGITS, coef_block, deleted, ratio_block};

/// `summary(coxph(formula, data))`.
pub fn cox(
    fit: &CoxFit,
    formula: &str,
    data: &str,
    dropped: usize,
    level: f64,
    out: &mut dyn Write,
) -> Result<()> {
    writeln!(
        out,
        "Call:\ncoxph(formula = {formula}, data = {data}{})\n",
        if fit.ties == lumbar_stats::cox::Ties::Breslow {
            ", ties = \"breslow\""
        } else {
            ""
        }
    )?;
    writeln!(out, "  n= {}, number of events= {} ", fit.n, fit.events)?;
    deleted(dropped, out)?;
    writeln!(out)?;
    coef_block(
        &fit.terms,
        fit.naive_std_error.as_deref(),
        ["coef", "exp(coef)", "se(coef)", "z"],
        out,
    )?;
    writeln!(out)?;
    ratio_block(&fit.terms, "exp(coef)", level, out)?;
    writeln!(out)?;
    writeln!(
        out,
        "Concordance= {}  (se = {} )",
        rformat::rounded(fit.concordance, 3),
        rformat::rounded(fit.concordance_std_error, 3)
    )?;
    let t = &fit.tests;
    for (name, test) in [
        ("Likelihood ratio test", &t.likelihood_ratio),
        ("Wald test            ", &t.wald),
        ("Score (logrank) test ", &t.score),
    ] {
        writeln!(
            out,
            "{name}= {}  on {} df,   p={}",
            rformat::rounded(test.statistic, 2),
            test.df,
            rformat::format_pval(&[test.p_value], 1)[0]
        )?;
    }
    if fit.robust {
        writeln!(
            out,
            "\n  (Note: the likelihood ratio and score tests assume independence of\n     \
             observations within a cluster, the Wald test does not)."
        )?;
    }
    Ok(())
}

/// A modified Poisson fit as R's `coeftest(glm(…, family = poisson), vcov
/// = sandwich)` and its `exp` with intervals.
pub fn poisson(
    fit: &PoissonFit,
    formula: &str,
    data: &str,
    dropped: usize,
    level: f64,
    out: &mut dyn Write,
) -> Result<()> {
    writeln!(
        out,
        "Call:\nglm(formula = {formula}, family = poisson, data = {data})  [robust {} variance]\n",
        format!("{:?}", fit.robust).to_uppercase()
    )?;
    writeln!(out, "  n= {}, number of events= {} ", fit.n, fit.events)?;
    deleted(dropped, out)?;
    writeln!(out)?;
    coef_block(
        &fit.terms,
        None,
        ["Estimate", "exp(Estimate)", "Std. Error", "z value"],
        out,
    )?;
    writeln!(out)?;
    ratio_block(&fit.terms, "RR", level, out)?;
    writeln!(
        out,
        "\nResidual deviance: {} (the Poisson working model's)",
        rformat::format_one(fit.deviance, 5)
    )?;
    Ok(())
}

/// `summary(lmer(formula, data))`, lme4's layout.
pub fn lmm(
    fit: &LmmFit,
    formula: &str,
    data: &str,
    (group, slope): (&str, &str),
    out: &mut dyn Write,
) -> Result<()> {
    let reml = fit.method == Method::Reml;
    writeln!(
        out,
        "Linear mixed model fit by {} ['lmerMod']",
        if reml { "REML" } else { "maximum likelihood " }
    )?;
    writeln!(out, "Formula: {formula}\n   Data: {data}\n")?;
    match (fit.reml_criterion, fit.loglik) {
        (Some(r), _) => writeln!(out, "REML criterion at convergence: {r:.1}\n")?,
        (_, Some(l)) => writeln!(out, "     logLik  deviance\n {l:.1}  {:.1}\n", -2.0 * l)?,
        _ => {}
    }
    writeln!(out, "Random effects:")?;
    let mut groups = vec![group.to_string()];
    let mut names = vec!["(Intercept)".to_string()];
    let mut sds = vec![fit.random.sd_intercept];
    let mut corr = vec![String::new()];
    if let Some(s) = fit.random.sd_slope {
        groups.push(String::new());
        names.push(slope.to_string());
        sds.push(s);
        corr.push(fit.random.corr.map_or("NA".into(), |c| format!("{c:.2}")));
    }
    groups.push("Residual".into());
    names.push(String::new());
    sds.push(fit.sd_residual);
    corr.push(String::new());
    let var = rformat::format_real(&sds.iter().map(|s| s * s).collect::<Vec<_>>(), DIGITS);
    let sd = rformat::format_real(&sds, DIGITS);
    // lme4 left-aligns the names and puts the numbers under their headers.
    let w = |h: &str, c: &[String]| {
        c.iter()
            .map(|s| s.chars().count())
            .chain([h.len()])
            .max()
            .unwrap_or(0)
    };
    let (gw, nw, vw, sw) = (
        w("Groups", &groups),
        w("Name", &names),
        w("Variance", &var),
        w("Std.Dev.", &sd),
    );
    writeln!(
        out,
        " {:<gw$} {:<nw$} {:<vw$} {:<sw$} Corr",
        "Groups", "Name", "Variance", "Std.Dev."
    )?;
    for i in 0..groups.len() {
        writeln!(
            out,
            " {:<gw$} {:<nw$} {:>vw$} {:>sw$} {}",
            groups[i], names[i], var[i], sd[i], corr[i]
        )?;
    }
    writeln!(
        out,
        "Number of obs: {}, groups:  {}, {}\n",
        fit.n_obs, group, fit.n_groups
    )?;
    writeln!(out, "Fixed effects:")?;
    let mut joint: Vec<f64> = fit.fixed.iter().map(|f| f.estimate).collect();
    joint.extend(fit.fixed.iter().map(|f| f.std_error));
    let cells = rformat::format_real(&joint, DIGITS);
    let (est, se) = cells.split_at(fit.fixed.len());
    let t: Vec<f64> = fit
        .fixed
        .iter()
        .map(|f| (f.t * 1000.0).round() / 1000.0)
        .collect();
    let table = CoefTable::new(fit.fixed.iter().map(|f| f.term.clone()).collect())
        .column("Estimate", est.to_vec())
        .column("Std. Error", se.to_vec())
        .column("t value", rformat::format_real(&t, DIGITS));
    write!(out, "{}", table.render())?;
    if fit.singular {
        writeln!(
            out,
            "optimizer (lumbar) convergence code: 0 (OK)\nboundary (singular) fit: see help('isSingular')"
        )?;
    }
    Ok(())
}

/// The bootstrap's intervals, a row per term (with the ratio scale when
/// `ratio` names it: `exp(coef)`'s percentile and BCa limits).
pub fn bootstrap(
    b: &lumbar_stats::bootstrap::Bootstrap,
    ratio: Option<&str>,
    out: &mut dyn Write,
) -> Result<()> {
    let pct = format!("{}", 100.0 * b.level);
    writeln!(
        out,
        "\nBootstrap: {} resamples of {} {}s (seed {}), BCa acceleration from {} jackknife fits{}",
        b.resamples,
        b.units,
        b.unit,
        b.seed,
        b.jackknife_groups,
        if b.failed > 0 {
            format!("; {} resamples could not be fitted, left out", b.failed)
        } else {
            String::new()
        }
    )?;
    let t = &b.terms;
    let col = |f: &dyn Fn(&lumbar_stats::bootstrap::TermInterval) -> f64| {
        rformat::format_real(&t.iter().map(f).collect::<Vec<_>>(), DIGITS)
    };
    let mut table = CoefTable::new(t.iter().map(|x| x.term.clone()).collect())
        .column("original", col(&|x| x.estimate))
        .column("bias", col(&|x| x.bias))
        .column("std. error", col(&|x| x.std_error))
        .column(&format!("{pct}% perc low"), col(&|x| x.percentile_low))
        .column("high", col(&|x| x.percentile_high))
        .column(&format!("{pct}% BCa low"), col(&|x| x.bca_low))
        .column("high", col(&|x| x.bca_high));
    if let Some(r) = ratio {
        table = table
            .column(&format!("{r} BCa low"), col(&|x| x.bca_low.exp()))
            .column("high", col(&|x| x.bca_high.exp()));
    }
    write!(out, "{}", table.render())?;
    for w in &b.warnings {
        writeln!(out, "warning: {w}")?;
    }
    Ok(())
}
