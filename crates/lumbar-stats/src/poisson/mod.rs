//! Modified Poisson regression: risk ratios for a binary outcome from a
//! Poisson GLM with log link and robust (sandwich) standard errors (Zou
//! 2004, *Am J Epidemiol* 159:702).
//!
//! The GLM is fitted by iteratively reweighted least squares (McCullagh &
//! Nelder 1989, §2.5): with `μ = exp(Xβ)`, working weights `W = diag(μ)` and
//! working response `z = Xβ + (y − μ)/μ`, iterate `β ← (XᵀWX)⁻¹ XᵀWz` to
//! convergence of the deviance `D = 2 Σ [y log(y/μ) − (y − μ)]`, by R's
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

/// Fits `log E[y] = β0 + Σ βj xj` with robust standard errors. `columns` are
/// the covariates (without the intercept), `names` their terms.
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
    let x = DMatrix::from_fn(n, p, |i, j| if j == 0 { 1.0 } else { columns[j - 1][i] });
    let mut terms = vec!["(Intercept)".to_string()];
    terms.extend(names.iter().cloned());
    let xtx = x.transpose() * &x;
    if let Some(j) = (1..p).find(|&j| !xtx[(j, j)].is_finite()) {
        return Err(FitError::NotFinite(terms[j].clone()));
    }
    if is_singular(&xtx) {
        return Err(FitError::Collinear(terms[worst_column(&xtx)].clone()));
    }
    let deviance = |mu: &DVector<f64>| -> f64 {
        2.0 * y
            .iter()
            .zip(mu.iter())
            .map(|(&yi, &m)| {
                if yi > 0.0 {
                    yi * (yi / m).ln() - (yi - m)
                } else {
                    m
                }
            })
            .sum::<f64>()
    };
    // glm.fit: poisson()$initialize sets mustart = y + 0.1.
    let mut mu = DVector::from_fn(n, |i, _| y[i] + 0.1);
    let mut eta = mu.map(f64::ln);
    let mut dev_old = deviance(&mu);
    let mut beta = DVector::zeros(p);
    let mut beta_old: Option<DVector<f64>> = None;
    let mut dev = dev_old;
    let mut iterations = 0;
    let mut converged = false;
    while iterations < GLM_MAX_ITER {
        iterations += 1;
        // XᵀWX and XᵀWz with W = μ.
        let xw = DMatrix::from_fn(n, p, |i, j| x[(i, j)] * mu[i]);
        let info = x.transpose() * &xw;
        let z = DVector::from_fn(n, |i, _| eta[i] + (y[i] - mu[i]) / mu[i]);
        let rhs = xw.transpose() * &z;
        let Some(ch) = info.clone().cholesky() else {
            return Err(FitError::Collinear(terms[worst_column(&info)].clone()));
        };
        beta = ch.solve(&rhs);
        eta = &x * &beta;
        mu = eta.map(f64::exp);
        dev = deviance(&mu);
        // glm.fit halves the step only when the deviance is not finite.
        let mut halvings = 0;
        while !dev.is_finite() && halvings < GLM_MAX_ITER {
            let Some(old) = &beta_old else { break };
            beta = (&beta + old) * 0.5;
            eta = &x * &beta;
            mu = eta.map(f64::exp);
            dev = deviance(&mu);
            halvings += 1;
        }
        if (dev - dev_old).abs() / (dev.abs() + 0.1) < GLM_EPS {
            converged = true;
            break;
        }
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
        let zero = mu.iter().filter(|&&m| m < FITTED_ZERO).count();
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
    // Information at the final β.
    let xw = DMatrix::from_fn(n, p, |i, j| x[(i, j)] * mu[i]);
    let info = x.transpose() * &xw;
    let bread = info
        .clone()
        .try_inverse()
        .ok_or_else(|| FitError::Collinear(terms[worst_column(&info)].clone()))?;
    let mut meat = DMatrix::zeros(p, p);
    for i in 0..n {
        let r = y[i] - mu[i];
        let xi = x.row(i).transpose();
        let mut w = r * r;
        if robust == Robust::Hc3 {
            let h = mu[i] * (xi.transpose() * &bread * &xi)[(0, 0)];
            w /= (1.0 - h).powi(2);
        }
        meat += &xi * xi.transpose() * w;
    }
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
mod tests {
    use super::*;

    /// With one binary covariate the MLE is closed form: the RR is the ratio
    /// of the two groups' risks, and the HC0 variance of log RR is
    /// `(1 − p1)/(n1 p1) + (1 − p0)/(n0 p0)` (Zou 2004, the delta-method
    /// variance of a log risk ratio with n/n instead of n/(n−1)).
    #[test]
    fn two_groups_give_the_closed_form_risk_ratio() {
        // Exposed: 12 events of 40; unexposed: 20 of 50.
        let mut y = Vec::new();
        let mut x = Vec::new();
        for i in 0..40 {
            y.push(if i < 12 { 1.0 } else { 0.0 });
            x.push(1.0);
        }
        for i in 0..50 {
            y.push(if i < 20 { 1.0 } else { 0.0 });
            x.push(0.0);
        }
        let fit = modified_poisson(&y, &[x], &["exposed".into()], Robust::Hc0).unwrap();
        let (p1, p0) = (12.0 / 40.0, 20.0 / 50.0);
        // glm's rule stops at a relative deviance change of 1e-8, where the
        // estimates are within a few 1e-9 of the closed form (as R's are).
        let rr = fit.terms[1].exp_estimate;
        assert!((rr - p1 / p0).abs() < 1e-8, "{rr}");
        let var = (1.0 - p1) / (40.0 * p1) + (1.0 - p0) / (50.0 * p0);
        assert!((fit.terms[1].std_error - var.sqrt()).abs() < 1e-8);
        assert!((fit.terms[0].exp_estimate - p0).abs() < 1e-8);
        assert!(fit.converged);
        assert!(fit.warnings.is_empty(), "{:?}", fit.warnings);
    }

    /// No events, and a covariate that separates the outcome: fitted as
    /// glm fits them (R's iterations and estimates, tests/fixtures/
    /// conventions/expected.json), with a warning.
    #[test]
    fn unidentified_models_are_fitted_as_glm_and_warned_about() {
        let y = vec![0.0; 10];
        let x: Vec<f64> = (1..=10).map(f64::from).collect();
        let fit = modified_poisson(&y, &[x], &["x".into()], Robust::Hc0).unwrap();
        // R: glm(y ~ x, poisson): iter 22, intercept -24.3025850929941.
        assert_eq!(fit.iterations, 22);
        assert!(fit.converged);
        assert!((fit.terms[0].estimate - -24.3025850929941).abs() < 1e-9);
        assert_eq!(fit.warnings.len(), 1, "{:?}", fit.warnings);
        assert!(fit.warnings[0].starts_with("no events"));
        let y = vec![0.0, 0.0, 0.0, 0.0, 0.0, 1.0, 0.0, 1.0, 1.0, 0.0];
        let z = vec![1.0, 1.0, 1.0, 1.0, 1.0, 0.0, 0.0, 0.0, 0.0, 0.0];
        let fit = modified_poisson(&y, &[z], &["z".into()], Robust::Hc0).unwrap();
        // R: iter 18, coefficients -0.510825623765991, -19.7917594692266.
        assert_eq!(fit.iterations, 18);
        assert!((fit.terms[0].estimate - -0.510825623765991).abs() < 1e-9);
        assert!((fit.terms[1].estimate - -19.7917594692266).abs() < 1e-6);
        assert_eq!(fit.warnings.len(), 1, "{:?}", fit.warnings);
        assert!(fit.warnings[0].contains("separates") && fit.warnings[0].contains("'z'"));
    }

    #[test]
    fn overflowing_covariates_are_not_called_collinear() {
        let y = vec![0.0, 1.0, 0.0, 1.0];
        let big = vec![1e300, 1.0, 2.0, 3.0];
        let e = modified_poisson(&y, &[big], &["big".into()], Robust::Hc0).unwrap_err();
        assert_eq!(e, FitError::NotFinite("big".into()));
    }

    #[test]
    fn constant_and_collinear_covariates_are_named() {
        let y = vec![0.0, 1.0, 0.0, 1.0, 1.0, 0.0];
        let a = vec![1.0, 2.0, 3.0, 4.0, 5.0, 6.0];
        let constant = vec![3.0; 6];
        let e = modified_poisson(
            &y,
            &[a.clone(), constant],
            &["a".into(), "c".into()],
            Robust::Hc0,
        )
        .unwrap_err();
        assert_eq!(e, FitError::Collinear("c".into()));
        let twice: Vec<f64> = a.iter().map(|v| 2.0 * v).collect();
        let e =
            modified_poisson(&y, &[a, twice], &["a".into(), "a2".into()], Robust::Hc0).unwrap_err();
        assert_eq!(e, FitError::Collinear("a2".into()));
    }
}
