//! Modified Poisson regression: risk ratios for a binary outcome from a
//! Poisson GLM with log link and robust (sandwich) standard errors (Zou
//! 2004, *Am J Epidemiol* 159:702).
//!
//! The GLM is fitted by iteratively reweighted least squares (McCullagh &
//! Nelder 1989, §2.5): with `μ = exp(Xβ)`, working weights `W = diag(μ)` and
//! working response `z = Xβ + (y − μ)/μ`, iterate `β ← (XᵀWX)⁻¹ XᵀWz`
//! (after the first step in the same iterate's form `β ← β + (XᵀWX)⁻¹
//! Xᵀ(y − μ)`, whose rounding is relative to the change) to convergence of the deviance `D = 2 Σ [y log(y/μ) − (y − μ)]`, by R's
//! `glm.fit` rule: start from `μ = y + 0.1`, stop when
//! `|D − D_old| / (|D| + 0.1) < 1e-8`, at most 25 iterations, halving a
//! step only when the deviance is not finite (`glm.control()`'s defaults,
//! so `iterations` is R's `fit$iter`).
//!
//! A model the data cannot identify is fitted and warned about, as glm
//! fits it: no events (the intercept runs to −∞), or a covariate that
//! separates the outcome (a fitted risk numerically 0: a coefficient runs
//! to ±∞); and when the iterations ran out.
//!
//! Covariance (the log link is canonical for Poisson, so the score of
//! observation i is `x_i (y_i − μ_i)` and the bread is `(XᵀWX)⁻¹`):
//! - HC0: `B (Σ x_i x_iᵀ (y_i − μ_i)²) B` — White's estimator, Zou's choice,
//!   statsmodels' `GLM(...).fit(cov_type="HC0")`, R's
//!   `sandwich::vcovHC(fit, type = "HC0")`;
//! - HC1: HC0 × n / (n − p);
//! - HC3: each term of the meat divided by `(1 − h_i)²`, with the GLM
//!   leverage `h_i = μ_i x_iᵀ (XᵀWX)⁻¹ x_i` (MacKinnon & White 1985; R's
//!   `vcovHC(fit, type = "HC3")`).
//!
//! Intervals and p-values are Wald's: `exp(β ± 1.959964·SE)`,
//! `2(1 − Φ(|β/SE|))`.

use nalgebra::{DMatrix, DVector};

mod pass;
use pass::Pass;
use serde::Serialize;

// Where they were first defined; cox and survival import them from linalg.
pub use crate::linalg::{Coefficient, Z_975, is_singular, worst_column};

/// The sandwich variant.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Robust {
    Hc0,
    Hc1,
    Hc3,
}

#[derive(Debug, Clone, Serialize)]
pub struct PoissonFit {
    pub n: usize,
    pub events: f64,
    pub robust: Robust,
    pub terms: Vec<Coefficient>,
    pub deviance: f64,
    pub iterations: usize,
    pub converged: bool,
    /// Non-convergence, and data that cannot identify the model.
    pub warnings: Vec<String>,
    /// The robust covariance of all coefficients, intercept first.
    #[serde(skip)]
    pub covariance: DMatrix<f64>,
}

#[derive(Debug, thiserror::Error, PartialEq)]
pub enum FitError {
    #[error("no complete observations to fit")]
    Empty,
    #[error("covariate '{0}' is constant or collinear with the others; drop it")]
    Collinear(String),
    #[error("covariate '{0}' has values too large or not finite (its sum of squares overflows)")]
    NotFinite(String),
    #[error("the outcome must be 0 or more; found {0}")]
    Outcome(f64),
}

/// `glm.control()$epsilon`: converged when the deviance's relative change is below this.
pub const GLM_EPS: f64 = 1e-8;
/// `glm.control()$maxit`.
pub const GLM_MAX_ITER: usize = 25;
/// A fitted mean below this (for a 0/1 or count outcome) is a coefficient
/// on its way to −∞: exp(−18.4). glm's own check (10·ε) fires only far
/// later, after its iterations have stopped.
const FITTED_ZERO: f64 = 1e-8;

/// Fits `log E[y] = β0 + Σ βj xj` with robust standard errors.
///
/// Contract. Inputs: the outcome `y` (n values, each 0 or more), the
/// covariates `columns` (without the intercept; each of length n, the
/// caller's precondition) and their terms `names`; the sandwich variant.
/// Output: the coefficients (intercept first) with robust SEs and Wald
/// intervals, the deviance, R's iteration count, whether glm's rule was met,
/// the warnings, and the robust covariance. Errors: no rows, an outcome
/// below 0 or NaN, a covariate whose sum of squares is not finite, or a
/// design of deficient rank (the column to drop named).
///
/// The formula (Zou 2004): IRLS on `log μ = Xβ` as R's `glm.fit` (see the
/// module's doc), then `cov = B M B` with the bread `B = (XᵀWX)⁻¹` at the
/// final β and the meat `M = Σ xᵢxᵢᵀ (yᵢ − μᵢ)²` (HC3: each term over
/// `(1 − hᵢ)²`, `hᵢ = μᵢ xᵢᵀ B xᵢ`; HC1: `cov × n/(n − p)`).
///
/// Cost: one fused pass over the rows per IRLS iteration (`XᵀWX`, `XᵀWz`,
/// the deviance and, for HC0 and HC1, the meat together, see [`pass`]),
/// one at the start (with `XᵀX` for the rank checks), and for HC3 one for
/// the meat with its leverages; nothing of size n × p is allocated. The
/// passes run in parallel on fixed chunks added in a fixed order: the same
/// bits at any number of threads.
pub fn modified_poisson(
    y: &[f64],
    columns: &[Vec<f64>],
    names: &[String],
    robust: Robust,
) -> Result<PoissonFit, FitError> {
    let n = y.len();
    if n == 0 {
        return Err(FitError::Empty);
    }
    if let Some(bad) = y.iter().find(|v| v.is_nan() || **v < 0.0) {
        return Err(FitError::Outcome(*bad));
    }
    let p = columns.len() + 1;
    let mut terms = vec!["(Intercept)".to_string()];
    terms.extend(names.iter().cloned());
    // glm.fit: poisson()$initialize sets mustart = y + 0.1; the first
    // pass also takes XᵀX for the rank checks.
    let start = pass::run(y, columns, Pass::Start);
    let xtx = pass::unpack(&start.xtx, p);
    if let Some(j) = (1..p).find(|&j| !xtx[(j, j)].is_finite()) {
        return Err(FitError::NotFinite(terms[j].clone()));
    }
    if is_singular(&xtx) {
        return Err(FitError::Collinear(terms[worst_column(&xtx)].clone()));
    }
    let mut dev_old = 2.0 * start.half_dev;
    // The sums at the current β: XᵀWX and XᵀWz (the start) or the score
    // (a step) for the next step.
    let mut at = start;
    let mut beta = DVector::zeros(p);
    let mut beta_old: Option<DVector<f64>> = None;
    let mut dev = dev_old;
    let mut iterations = 0;
    let mut converged = false;
    // HC0's meat is taken in a step's pass when that step will probably
    // be the last: Newton's quadratic convergence takes a relative change
    // below √ε to one below about ε. A wrong guess costs time only (the
    // meat is then taken once more, or in a pass of its own, by the same
    // code in the same order).
    let mut near = false;
    let step = |beta: &DVector<f64>, near: bool| {
        pass::run(
            y,
            columns,
            Pass::Step {
                beta: beta.as_slice(),
                tiny: FITTED_ZERO,
                meat: near && robust != Robust::Hc3,
            },
        )
    };
    while iterations < GLM_MAX_ITER {
        iterations += 1;
        let info = pass::unpack(&at.tri, p);
        let rhs = DVector::from_column_slice(&at.rhs);
        let Some(ch) = info.clone().cholesky() else {
            return Err(FitError::Collinear(terms[worst_column(&info)].clone()));
        };
        // The first step solves XᵀWX β = XᵀWz at the start's μ; the later
        // ones the same system as XᵀWX Δ = Xᵀ(y − μ), β + Δ (the same
        // iterate: XᵀWz = XᵀWXβ + Xᵀ(y − μ)), whose rounding is relative
        // to Δ rather than to β.
        beta = if iterations == 1 {
            ch.solve(&rhs)
        } else {
            &beta + ch.solve(&rhs)
        };
        at = step(&beta, near);
        dev = 2.0 * at.half_dev;
        // glm.fit halves the step only when the deviance is not finite.
        let mut halvings = 0;
        while !dev.is_finite() && halvings < GLM_MAX_ITER {
            let Some(old) = &beta_old else { break };
            beta = (&beta + old) * 0.5;
            at = step(&beta, near);
            dev = 2.0 * at.half_dev;
            halvings += 1;
        }
        let change = (dev - dev_old).abs() / (dev.abs() + 0.1);
        if change < GLM_EPS {
            converged = true;
            break;
        }
        near = change < GLM_EPS.sqrt();
        dev_old = dev;
        beta_old = Some(beta.clone());
    }
    let events: f64 = y.iter().sum();
    let mut warnings = Vec::new();
    if !converged {
        warnings.push(format!(
            "did not converge in {GLM_MAX_ITER} iterations (glm's rule: relative change in \
             the deviance below {GLM_EPS:e})"
        ));
    }
    if events == 0.0 {
        warnings.push(
            "no events: the model cannot be estimated (the intercept's estimate runs to \
             minus infinity; the numbers are not meaningful)"
                .to_string(),
        );
    } else {
        let zero = at.tiny;
        if zero > 0 {
            let worst = (1..p)
                .max_by(|&a, &b| beta[a].abs().total_cmp(&beta[b].abs()))
                .map_or_else(|| terms[0].clone(), |j| terms[j].clone());
            warnings.push(format!(
                "fitted risks numerically 0 for {zero} observation(s): a covariate separates \
                 the outcome (a group without events), and its coefficient runs to minus \
                 infinity (largest: '{worst}'); merge or drop that group"
            ));
        }
    }
    // The bread: the information at the final β, from its step's pass.
    let info = pass::unpack(&at.tri, p);
    let bread = info
        .clone()
        .try_inverse()
        .ok_or_else(|| FitError::Collinear(terms[worst_column(&info)].clone()))?;
    // The meat: HC0 and HC1 took it in the last step's pass when it was
    // guessed to be the last, else in a pass of their own; HC3 needs the
    // bread for its leverages, so one more pass.
    let bread_rows: Vec<f64> = bread.transpose().as_slice().to_vec();
    let meat = if robust == Robust::Hc3 {
        let pass = Pass::Meat {
            beta: beta.as_slice(),
            bread: bread_rows.as_slice(),
        };
        pass::run(y, columns, pass).meat
    } else if at.meat.is_empty() {
        step(&beta, true).meat
    } else {
        std::mem::take(&mut at.meat)
    };
    let meat = pass::unpack(&meat, p);
    let mut cov = &bread * meat * &bread;
    if robust == Robust::Hc1 {
        cov *= n as f64 / (n - p) as f64;
    }
    Ok(PoissonFit {
        n,
        events,
        robust,
        terms: terms
            .iter()
            .enumerate()
            .map(|(j, t)| Coefficient::new(t, beta[j], cov[(j, j)].sqrt()))
            .collect(),
        deviance: dev,
        iterations,
        converged,
        warnings,
        covariance: cov,
    })
}

#[cfg(test)]
mod tests;
