//! Cox, Efron ties (issue 19, item 1): 1,000,000 rows × 8 covariates with
//! tied whole-day times; lumbar's full fit (concordance and cox.zph, as
//! `cox::fit`), the model alone (`diagnostics: false`) and the model with
//! the robust variance (`robust: true`), best of 5 each,
//! against R's `coxph(…, ties = "efron")` followed by `cox.zph` on the
//! same data in the same run (best of 3; the fit's time alone, not the
//! CSV's), with the target of 50× R for the full fit, and R's
//! `coxph(…, robust = TRUE)` once beside lumbar's robust model when ROWS is
//! at most 100,000 (R's robust variance is quadratic in tied deaths).
//!
//!   cargo bench -p lumbar-stats --bench cox [-- ROWS] [--lumbar-only] [--runs N]
//!
//! R runs when `Rscript` with survival is on PATH. lifelines (the model's
//! target, 30× its `fit`) is not timed here.

mod common;

use std::time::Instant;

use lumbar_stats::cox::{CoxData, CoxFit, CoxOptions, Ties, fit_with};
use rand::{RngExt, SeedableRng};
use rand_chacha::ChaCha8Rng;

/// Covariates alternately standard normal and Bernoulli(0.4), six decimals
/// (as written to the CSV); exponential times with rate `0.01·exp(lp)`
/// rounded up to whole days (many ties), censored at day 365 or at a
/// uniform day in 1..=730.
fn data(n: usize) -> CoxData {
    let mut rng = ChaCha8Rng::seed_from_u64(1977);
    let mut columns: Vec<Vec<f64>> = (0..8).map(|_| Vec::with_capacity(n)).collect();
    let (mut stop, mut event) = (Vec::with_capacity(n), Vec::with_capacity(n));
    for _ in 0..n {
        let mut lp = 0.0;
        for (j, c) in columns.iter_mut().enumerate() {
            let v = common::covariate(&mut rng, j);
            lp += common::BETA[j] * v;
            c.push(v);
        }
        let u: f64 = 1.0 - rng.random::<f64>();
        let t = (-u.ln() / (0.01 * lp.exp())).ceil().max(1.0);
        let c = (rng.random::<f64>() * 730.0).ceil().clamp(1.0, 365.0);
        stop.push(t.min(c));
        event.push(t <= c);
    }
    CoxData {
        stop,
        event,
        names: (1..=8).map(|j| format!("x{j}")).collect(),
        columns,
        ..Default::default()
    }
}

fn best_of(runs: usize, mut f: impl FnMut() -> CoxFit) -> (f64, CoxFit) {
    let mut best = f64::INFINITY;
    let mut last = None;
    for _ in 0..runs {
        let t0 = Instant::now();
        let fit = f();
        best = best.min(t0.elapsed().as_secs_f64());
        last = Some(fit);
    }
    (best, last.expect("at least one run"))
}

/// The most rows R's robust fit is timed on (see `main`).
const R_ROBUST_ROWS: usize = 100_000;

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let runs_at = args.iter().position(|a| a == "--runs");
    let n: usize = args
        .iter()
        .enumerate()
        .filter(|(i, _)| runs_at.is_none_or(|r| *i != r + 1))
        .find_map(|(_, a)| a.parse().ok())
        .unwrap_or(1_000_000);
    let lumbar_only = args.iter().any(|a| a == "--lumbar-only");
    let runs: usize = runs_at
        .and_then(|i| args.get(i + 1))
        .and_then(|v| v.parse().ok())
        .unwrap_or(5);
    let d = data(n);
    let events = d.event.iter().filter(|e| **e).count();
    println!(
        "{n} rows x 8, {events} events, {} threads",
        rayon::current_num_threads()
    );
    let opts = |diagnostics, robust| CoxOptions {
        ties: Ties::Efron,
        robust,
        diagnostics,
    };
    let (model_s, _) = best_of(runs, || fit_with(&d, &opts(false, false)).expect("fit"));
    let (full_s, full) = best_of(runs, || fit_with(&d, &opts(true, false)).expect("fit"));
    // The model with the robust (Lin–Wei) variance: one more pass at β̂
    // and the score residuals on the same layout.
    let (robust_s, robust_fit) = best_of(runs, || fit_with(&d, &opts(false, true)).expect("fit"));
    println!("lumbar model only: {model_s:.3} s (best of {runs})");
    println!(
        "lumbar robust model: {robust_s:.3} s (best of {runs}); the robust variance {:.3} s beyond the model",
        robust_s - model_s
    );
    println!(
        "lumbar full fit:   {full_s:.3} s (best of {runs}); diagnostics {:.3} s beyond the model",
        full_s - model_s
    );
    println!(
        "  x1 {:.6}, C {:.6} (se {:.6}), zph global {:.4}",
        full.terms[0].estimate,
        full.concordance,
        full.concordance_std_error,
        full.zph.as_ref().map_or(f64::NAN, |z| z.global.statistic)
    );
    if lumbar_only {
        return;
    }
    let Some(csv) = common::write_cox_csv("lumbar-cox-bench", &d) else {
        return;
    };
    // R's robust variance sums every Efron partial term for every tied
    // death (O(d²) a time: 60–145 s at 100,000 rows here, over 18 minutes
    // at 1M), so it is timed only on small runs.
    let robust = if n <= R_ROBUST_ROWS {
        "t0 <- Sys.time(); fr <- coxph(Surv(time, event) ~ ., d, ties = 'efron', robust = TRUE); \
         rt <- as.numeric(difftime(Sys.time(), t0, units = 'secs')); se <- sqrt(diag(fr$var))[1];"
    } else {
        "rt <- NA; se <- NA;"
    };
    let script = format!(
        "suppressMessages(library(survival)); d <- read.csv('{}'); best <- Inf; \
         for (k in 1:3) {{ t0 <- Sys.time(); \
         f <- coxph(Surv(time, event) ~ ., d, ties = 'efron'); z <- cox.zph(f); \
         best <- min(best, as.numeric(difftime(Sys.time(), t0, units = 'secs'))) }}; \
         {robust} \
         cat(best, coef(f)[1], f$concordance['concordance'], z$table['GLOBAL', 'chisq'], \
         rt, se, '\\n')",
        csv.display()
    );
    match std::process::Command::new("Rscript")
        .args(["-e", &script])
        .output()
    {
        Ok(o) if o.status.success() => {
            let out = String::from_utf8_lossy(&o.stdout);
            let v: Vec<f64> = out
                .split_whitespace()
                .map(|s| s.parse().unwrap_or(f64::NAN))
                .collect();
            let secs = v.first().copied().unwrap_or(f64::NAN);
            println!(
                "R coxph + cox.zph: {secs:.3} s (best of 3); x1 {:.6}, C {:.6}, zph global {:.4}",
                v.get(1).copied().unwrap_or(f64::NAN),
                v.get(2).copied().unwrap_or(f64::NAN),
                v.get(3).copied().unwrap_or(f64::NAN)
            );
            let robust_r = v.get(4).copied().unwrap_or(f64::NAN);
            if n > R_ROBUST_ROWS {
                println!("R coxph(robust = TRUE): not run above {R_ROBUST_ROWS} rows");
            } else {
                println!(
                    "R coxph(robust = TRUE): {robust_r:.3} s (one run); robust SE of x1 {:.8}, lumbar's {:.8}: {:.1}x R",
                    v.get(5).copied().unwrap_or(f64::NAN),
                    robust_fit.terms[0].std_error,
                    robust_r / robust_s
                );
            }
            let ratio = secs / full_s;
            println!(
                "full fit: {ratio:.1}x R (target 50x: {})",
                if ratio >= 50.0 { "met" } else { "NOT met" }
            );
        }
        _ => println!("R: skipped (Rscript with survival not found)"),
    }
}
