//! The fit: Newton–Raphson as coxph.fit's C code (survival's coxfit6.c)
//! runs it, over the event-time passes of [`super::pass`], then the robust
//! variance on the same layout, the diagnostics, the three tests and
//! coxph's warnings.

use nalgebra::{DMatrix, DVector};
use rayon::prelude::*;

use super::pass::EventTimes;
use super::pass::concordance::{Concordance, concordance};
use super::{
    COX_EPS, COX_MAX_ITER, COX_MAX_ROWS, CoxData, CoxError, CoxFit, CoxOptions, Test, Tests,
    needs_robust, term_groups,
};
use crate::linalg::{Coefficient, is_singular, worst_column};

pub(super) fn fit(data: &CoxData, opts: &CoxOptions) -> Result<CoxFit, CoxError> {
    let ties = opts.ties;
    let n = data.stop.len();
    if n == 0 {
        return Err(CoxError::Empty);
    }
    if n > COX_MAX_ROWS {
        return Err(CoxError::TooLarge(n, COX_MAX_ROWS));
    }
    // Every per-row column has a value per observation (the layout joins
    // them by row).
    let lengths = [("event", Some(data.event.len()))]
        .into_iter()
        .chain(
            data.columns
                .iter()
                .zip(&data.names)
                .map(|(c, name)| (name.as_str(), Some(c.len()))),
        )
        .chain([
            ("entry", data.entry.as_ref().map(Vec::len)),
            ("weights", data.weights.as_ref().map(Vec::len)),
            ("strata", data.strata.as_ref().map(Vec::len)),
            ("cluster", data.cluster.as_ref().map(Vec::len)),
        ]);
    for (name, len) in lengths {
        if let Some(len) = len.filter(|&len| len != n) {
            return Err(CoxError::Length(name.to_string(), len, n));
        }
    }
    if data.names.len() != data.columns.len() {
        return Err(CoxError::Length(
            "names".into(),
            data.names.len(),
            data.columns.len(),
        ));
    }
    // A NaN time has no place among the others (R's Surv makes it NA and
    // drops the row; callers drop missing values before they get here).
    if let Some(i) = data.stop.iter().position(|t| t.is_nan()) {
        return Err(CoxError::NoTime(i + 1, "stop"));
    }
    if let Some(i) = data
        .entry
        .as_ref()
        .and_then(|e| e.iter().position(|t| t.is_nan()))
    {
        return Err(CoxError::NoTime(i + 1, "entry"));
    }
    if !data.event.iter().any(|e| *e) {
        return Err(CoxError::NoEvents);
    }
    if let Some(e) = &data.entry
        && let Some(i) =
            (0..n).find(|&i| data.stop[i].partial_cmp(&e[i]) != Some(std::cmp::Ordering::Greater))
    {
        return Err(CoxError::Interval(i + 1));
    }
    if let Some(w) = &data.weights
        && let Some(i) = (0..n).find(|&i| w[i].is_nan() || w[i] <= 0.0)
    {
        return Err(CoxError::Weight(i + 1, w[i]));
    }
    let p = data.columns.len();
    // Centre the covariates; a constant or collinear column is named.
    let means: Vec<f64> = data
        .columns
        .par_iter()
        .map(|c| c.iter().sum::<f64>() / n as f64)
        .collect();
    // Centred, in bucket order.
    let times = EventTimes::new(data, &means, ties);
    let mut beta = DVector::zeros(p);
    let null = times.pass(&beta);
    // A constant or collinear column is named, from the weighted
    // cross-product of the rows at risk (the null pass's).
    if p > 0 {
        let xtx = &null.cross;
        // Values whose squares overflow are not collinear: say what they are.
        if let Some(j) = (0..p).find(|&j| !means[j].is_finite() || !xtx[(j, j)].is_finite()) {
            return Err(CoxError::NotFinite(data.names[j].clone()));
        }
        if let Some(j) =
            (0..p).find(|&j| xtx[(j, j)] <= 1e-12 * (1.0 + means[j].abs()).powi(2) * null.at_risk)
        {
            return Err(CoxError::Collinear(data.names[j].clone()));
        }
        if is_singular(xtx) {
            let j = if p == 1 {
                0
            } else {
                worst_column_no_intercept(xtx)
            };
            return Err(CoxError::Collinear(data.names[j].clone()));
        }
    }
    // Newton–Raphson as coxph.fit's C code (survival's coxfit6.c) runs it:
    // each iteration evaluates the likelihood at the proposed β; it has
    // converged when that is finite and |1 − ℓ_best/ℓ_new| ≤ 1e-9; a
    // proposal that is not finite or lowers ℓ is pulled back towards the
    // best β, by 1/2, then 2/3, … (each a new iteration); at most 20
    // iterations, after which the best β is kept. `iterations` counts the
    // evaluations (R's `fit$iter`, which says 21 when it ran out).
    let mut cur = null.clone();
    let mut iterations = 0;
    let mut converged = p == 0;
    let mut halving = 0.0;
    let mut proposed = beta.clone();
    if p > 0 {
        let Some(ch) = cur.info.clone().cholesky() else {
            return Err(CoxError::Collinear(
                data.names[worst_column_no_intercept(&cur.info)].clone(),
            ));
        };
        proposed = &beta + ch.solve(&cur.score);
    }
    while p > 0 && iterations < COX_MAX_ITER {
        iterations += 1;
        let np = times.pass(&proposed);
        let finite = np.loglik.is_finite()
            && np.score.iter().all(|v| v.is_finite())
            && np.info.iter().all(|v| v.is_finite());
        if finite && (1.0 - cur.loglik / np.loglik).abs() <= COX_EPS {
            beta = proposed.clone();
            cur = np;
            converged = true;
            break;
        }
        if !finite || np.loglik < cur.loglik {
            halving += 1.0;
            proposed = (&proposed + &beta * halving) / (halving + 1.0);
            continue;
        }
        halving = 0.0;
        beta = proposed.clone();
        cur = np;
        // The information can become singular as a coefficient runs off to
        // infinity: stop there (coxph's generalised Cholesky stops moving
        // that coefficient); the warnings below say why.
        let Some(ch) = cur.info.clone().cholesky() else {
            break;
        };
        proposed = &beta + ch.solve(&cur.score);
    }
    let info_inv = if p > 0 {
        match cur.info.clone().try_inverse() {
            Some(v) => v,
            // Singular only after moving (identified at β = 0): a coefficient
            // has run off until its information underflowed. coxph inverts
            // the identified part and reports the rest (its generalised
            // inverse); the warnings below say why.
            None if iterations > 0 => cur.info.clone().pseudo_inverse(1e-12).map_err(|_| {
                CoxError::Collinear(data.names[worst_column_no_intercept(&cur.info)].clone())
            })?,
            None => {
                return Err(CoxError::Collinear(
                    data.names[worst_column_no_intercept(&cur.info)].clone(),
                ));
            }
        }
    } else {
        DMatrix::zeros(0, 0)
    };
    let naive: Vec<f64> = (0..p).map(|j| info_inv[(j, j)].sqrt()).collect();
    let use_robust = needs_robust(data, opts.robust);
    // The robust variance on the passes' layout (`pass::robust`).
    let (se, var): (Vec<f64>, DMatrix<f64>) = if use_robust && p > 0 {
        let v = times.robust_variance(&beta, &info_inv, data.cluster.as_deref());
        ((0..p).map(|j| v[(j, j)].sqrt()).collect(), v)
    } else {
        (naive.clone(), info_inv.clone())
    };
    // The two diagnostics read the fit and its layout only: on two
    // threads at once (each is one sweep over the rows; neither depends on
    // the other, so the bits are the same).
    let (concordance, zph) = rayon::join(
        || match opts.diagnostics {
            true => concordance(&times, &beta, data.cluster.as_deref()),
            false => Concordance {
                estimate: f64::NAN,
                std_error: f64::NAN,
            },
        },
        || {
            (p > 0 && opts.diagnostics).then(|| {
                let terms = data
                    .terms
                    .clone()
                    .unwrap_or_else(|| term_groups(&data.names));
                super::zph::zph(&times, data, &beta, &terms)
            })
        },
    );
    // Wald's test with the variance reported (robust when robust, as R).
    let wald = if p > 0 {
        var.clone()
            .cholesky()
            .map(|c| beta.dot(&c.solve(&beta)))
            .unwrap_or(f64::NAN)
    } else {
        0.0
    };
    let score = if p > 0 {
        null.info
            .clone()
            .cholesky()
            .map(|c| null.score.dot(&c.solve(&null.score)))
            .unwrap_or(f64::NAN)
    } else {
        0.0
    };
    // coxph.fit's warnings. Converged: a coefficient runs to infinity when
    // one more Newton step, |U(β̂) I(β̂)⁻¹|, still exceeds both eps and
    // sqrt(eps)·|β̂| ("Loglik converged before variable j"). Not converged:
    // say so, and that a coefficient may be infinite when a centred linear
    // predictor exceeds 500 or the step is not finite.
    let step = &info_inv * &cur.score;
    let mut warnings: Vec<String> = Vec::new();
    let nonpositive = (0..n)
        .filter(|&i| data.entry.is_none() && data.stop[i] <= 0.0)
        .count();
    if nonpositive > 0 {
        warnings.push(format!(
            "{nonpositive} observation(s) have a time of 0 or less; kept, as coxph keeps \
             them (only the order of the times enters the partial likelihood)"
        ));
    }
    if p > 0 && converged {
        let infinite: Vec<usize> = (0..p)
            .filter(|&j| {
                !cur.score[j].is_finite()
                    || (step[j].abs() > COX_EPS && step[j].abs() > COX_EPS.sqrt() * beta[j].abs())
            })
            .collect();
        if !infinite.is_empty() {
            warnings.push(format!(
                "Loglik converged before variable {}; coefficient may be infinite \
                 (monotone likelihood: the covariate orders or separates the events)",
                infinite
                    .iter()
                    .map(|&j| format!("{} ('{}')", j + 1, data.names[j]))
                    .collect::<Vec<_>>()
                    .join(", ")
            ));
        }
    } else if p > 0 {
        warnings.push(format!(
            "did not converge in {COX_MAX_ITER} iterations (coxph's rule: relative change in \
             the log partial likelihood below {COX_EPS:e})"
        ));
        let max_lp = times_max_lp(data, &means, &beta);
        if max_lp > 500.0 || step.iter().any(|v| !v.is_finite()) {
            warnings
                .push("one or more coefficients may be infinite (monotone likelihood)".to_string());
        }
    }
    Ok(CoxFit {
        n,
        events: data.event.iter().filter(|e| **e).count(),
        ties,
        loglik: [null.loglik, cur.loglik],
        concordance: concordance.estimate,
        concordance_std_error: concordance.std_error,
        terms: (0..p)
            .map(|j| Coefficient::new(&data.names[j], beta[j], se[j]))
            .collect(),
        naive_std_error: use_robust.then_some(naive),
        robust: use_robust,
        zph,
        tests: Tests {
            likelihood_ratio: Test::new(2.0 * (cur.loglik - null.loglik), p),
            wald: Test::new(wald, p),
            score: Test::new(score, p),
        },
        iterations,
        converged,
        warnings,
    })
}

/// The largest centred linear predictor, max_i (x_i − x̄)·β (coxph.fit's `lp`).
fn times_max_lp(data: &CoxData, means: &[f64], beta: &DVector<f64>) -> f64 {
    (0..data.stop.len())
        .map(|i| {
            (0..data.columns.len())
                .map(|j| (data.columns[j][i] - means[j]) * beta[j])
                .sum::<f64>()
        })
        .fold(f64::NEG_INFINITY, f64::max)
}

/// [`worst_column`] for a cross-product without an intercept column.
fn worst_column_no_intercept(xtx: &DMatrix<f64>) -> usize {
    let p = xtx.nrows();
    // Pad with a dummy intercept so the shared search (which never drops column 0) applies.
    let padded = DMatrix::from_fn(p + 1, p + 1, |a, b| match (a, b) {
        (0, 0) => 1.0,
        (0, _) | (_, 0) => 0.0,
        _ => xtx[(a - 1, b - 1)],
    });
    worst_column(&padded).saturating_sub(1)
}
