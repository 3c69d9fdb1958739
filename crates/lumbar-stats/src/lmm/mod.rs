//! Linear mixed model with a random intercept (and optionally a random slope
//! on time) per group, fitted by REML or ML exactly as lme4 does.
//!
//! Model: `y = Xβ + Zb + ε`, `b_i ~ N(0, σ² Λ Λᵀ)`, `ε ~ N(0, σ² I)`, where
//! for group `i` the random-effects design is `Z_i = [1, t]` (or `[1]`), and
//! `Λ` is lower triangular with parameters `θ` (lme4's order: `Λ₀₀, Λ₁₀,
//! Λ₁₁`).
//!
//! The criterion is lme4's profiled deviance (Bates, Mächler, Bolker &
//! Walker 2015, *J. Stat. Softw.* 67(1), eqs. 34–43): for a given `θ`, the
//! penalised least-squares system is solved by blocked Cholesky factors
//!
//! ```text
//! L_i L_iᵀ = Λᵀ Z_iᵀ Z_i Λ + I            (one q×q block per group)
//! R_ZX,i   = L_i⁻¹ Λᵀ Z_iᵀ X_i,   c_i = L_i⁻¹ Λᵀ Z_iᵀ y_i
//! R_Xᵀ R_X = XᵀX − Σ R_ZX,iᵀ R_ZX,i
//! β̂        = (R_Xᵀ R_X)⁻¹ (Xᵀy − Σ R_ZX,iᵀ c_i)
//! r²       = yᵀy − Σ|c_i|² − β̂ᵀ(Xᵀy − Σ R_ZX,iᵀ c_i)       (penalised RSS)
//! REML:  d(θ) = log|L|² + log|R_X|² + (n−p)(1 + log(2π r²/(n−p)))
//! ML:    d(θ) = log|L|² + n(1 + log(2π r²/n))
//! ```
//!
//! Because `Z` is block diagonal by group, only the per-group sufficient
//! statistics `Z_iᵀZ_i`, `Z_iᵀX_i`, `Z_iᵀy_i` enter, and groups with the
//! same `Z_iᵀZ_i` (the same visit times) can be summed beforehand
//! ([`stats`]), so one evaluation costs O(distinct schedules) at most
//! O(groups), whatever the number of observations. [`criterion`] computes
//! `d(θ)` with its exact gradient and Hessian in θ from the same sums, and
//! θ is found by a trust-region Newton iteration on them ([`trust`]) from
//! lme4's start (`θ = 1` on the diagonal, 0 off it) within lme4's bounds
//! (`θ_diag ≥ 0`): about 6–12 evaluations where Nelder–Mead with
//! finite-difference polishing took 165–240. Then `σ² = r²/(n−p)` (REML)
//! or `r²/n` (ML), `Var(β̂) = σ² (R_XᵀR_X)⁻¹` and the random-effects
//! covariance is `σ² ΛΛᵀ`.
//!
//! Convergence is judged as lme4's `checkConv` does, on the (here exact)
//! gradient and Hessian over the parameters off their bound: the gradient
//! scaled by the Hessian's Cholesky factor, element-wise the smaller of it
//! and the raw gradient, must be under 0.002; the fit is singular when a
//! diagonal θ is under 1e-4 (lme4's `isSingular`).

// Index loops mirror the matrix formulas above; iterators would hide them.
#![allow(clippy::needless_range_loop)]

use nalgebra::{DMatrix, DVector};
use serde::Serialize;

mod criterion;
mod stats;
mod sums;
mod trust;
pub use sums::{GroupSums, fit_sums};

use criterion::{Order, evaluate, is_diagonal};
use stats::{Stats, q_of};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Method {
    Reml,
    Ml,
}

/// Random intercept only, or intercept and slope on time (unstructured 2×2).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum RandomEffects {
    Intercept,
    Slope,
}

/// The data of a fit: one entry per observation, complete cases only.
#[derive(Debug, Clone, Default)]
pub struct LmmData {
    pub response: Vec<f64>,
    pub time: Vec<f64>,
    /// Group label of each observation.
    pub group: Vec<String>,
    /// Extra fixed-effect covariates, by name, one value per observation.
    pub covariates: Vec<(String, Vec<f64>)>,
    /// Name of the time column (the slope's term).
    pub time_name: String,
}

#[derive(Debug, Clone, Serialize)]
pub struct FixedEffect {
    pub term: String,
    pub estimate: f64,
    pub std_error: f64,
    pub t: f64,
}

#[derive(Debug, Clone, Serialize)]
pub struct RandomSummary {
    pub sd_intercept: f64,
    pub sd_slope: Option<f64>,
    pub corr: Option<f64>,
}

/// A fitted model, in lme4's terms.
#[derive(Debug, Clone, Serialize)]
pub struct LmmFit {
    pub n_obs: usize,
    pub n_groups: usize,
    pub method: Method,
    pub fixed: Vec<FixedEffect>,
    pub random: RandomSummary,
    pub sd_residual: f64,
    /// The REML criterion (REML fits).
    pub reml_criterion: Option<f64>,
    /// The log-likelihood (ML fits).
    pub loglik: Option<f64>,
    /// A variance component at zero or a correlation at ±1 (lme4's isSingular).
    pub singular: bool,
    pub converged: bool,
    /// Largest absolute derivative of the criterion at the optimum, over the
    /// parameters not at a bound.
    pub max_abs_gradient: f64,
    /// Evaluations of the criterion by the optimiser, each with its
    /// gradient and Hessian.
    pub evaluations: usize,
    /// The relative covariance parameters θ (lme4's `getME(fit, "theta")`).
    pub theta: Vec<f64>,
    /// Non-convergence (lme4's rule), a singular fit, and data that cannot
    /// identify the model (a constant response, a single group).
    pub warnings: Vec<String>,
}

#[derive(Debug, thiserror::Error, PartialEq)]
pub enum LmmError {
    #[error("no complete observations to fit")]
    Empty,
    #[error("the fixed-effect columns are collinear (check {0}); drop one of them")]
    Collinear(String),
    #[error("need more observations ({n}) than fixed effects ({p})")]
    TooFew { n: usize, p: usize },
    #[error("the data have {0} values in one column and {1} in another")]
    Length(usize, usize),
}

/// Fits the model.
pub fn fit(data: &LmmData, method: Method, re: RandomEffects) -> Result<LmmFit, LmmError> {
    let (stats, names) = Stats::build(data, re)?;
    let y0 = data.response.first().copied().unwrap_or(0.0);
    let constant = data.response.iter().all(|&v| v == y0);
    fit_stats(&stats, &names, constant, method, re)
}

/// Where the optimiser stops: the Newton decrement (the decrease a further
/// Newton step would predict) in units of the deviance, far below the 1e-6
/// that separates lumbar's criterion from a tightly converged lme4's.
const DECREMENT: f64 = 1e-10;

/// The fit from the sufficient statistics; `constant`: the response never varies.
fn fit_stats(
    stats: &Stats,
    names: &[String],
    constant: bool,
    method: Method,
    re: RandomEffects,
) -> Result<LmmFit, LmmError> {
    let q = q_of(re);
    let k = q * (q + 1) / 2;
    // lme4's start and bounds: 1 on Λ's diagonal (bounded at 0), 0 off it.
    let start: Vec<f64> = (0..k)
        .map(|j| if is_diagonal(q, j) { 1.0 } else { 0.0 })
        .collect();
    let lower: Vec<f64> = (0..k)
        .map(|j| {
            if is_diagonal(q, j) {
                0.0
            } else {
                f64::NEG_INFINITY
            }
        })
        .collect();
    let oracle = |theta: &[f64]| {
        evaluate(stats, theta, method, Order::Hessian).map(|e| (e.deviance, e.gradient, e.hessian))
    };
    let options = trust::Options {
        max_evals: 100,
        decrement: DECREMENT,
        radius: 1.0,
    };
    let (mut theta, evaluations, mut converged, grad, hess) =
        match trust::minimise(oracle, &start, &lower, options) {
            Some(m) => (m.x, m.evaluations, m.converged, m.gradient, m.hessian),
            // Undefined even at the start (a response the fixed effects fit
            // exactly): report the start, not converged.
            None => (start.clone(), 1, false, vec![0.0; k], vec![0.0; k * k]),
        };
    // lme4's convergence check (checkConv) over the parameters off a bound:
    // the gradient scaled by the Cholesky factor of the Hessian, element-wise
    // the smaller of it and the raw gradient, must be under 0.002.
    let free: Vec<usize> = (0..k)
        .filter(|&j| !(is_diagonal(q, j) && theta[j].abs() < 1e-6))
        .collect();
    let nf = free.len();
    let max_abs_gradient = free.iter().map(|&j| grad[j].abs()).fold(0.0, f64::max);
    let scaled_ok = if nf == 0 {
        true
    } else {
        let hm = DMatrix::from_fn(nf, nf, |a, b| hess[free[a] * k + free[b]]);
        let gv = DVector::from_fn(nf, |a, _| grad[free[a]]);
        match hm.cholesky() {
            // H = L Lᵀ, R = Lᵀ; as lme4: solve(chol(H), g) = R⁻¹ g.
            Some(ch) => match ch.l().transpose().solve_upper_triangular(&gv) {
                Some(sc) => (0..nf).all(|a| sc[a].abs().min(gv[a].abs()) < 2e-3),
                None => max_abs_gradient < 2e-3,
            },
            None => max_abs_gradient < 2e-3,
        }
    };
    converged = converged && scaled_ok;
    // Canonical signs: lme4 reports θ with non-negative diagonals.
    for j in 0..k {
        if is_diagonal(q, j) {
            theta[j] = theta[j].abs();
        }
    }
    let sol = evaluate(stats, &theta, method, Order::Value)
        .ok_or_else(|| LmmError::Collinear(names[names.len() - 1].clone()))?;
    let n = stats.n as f64;
    let df = match method {
        Method::Reml => n - stats.p as f64,
        Method::Ml => n,
    };
    let sigma2 = sol.pwrss / df;
    let sigma = sigma2.sqrt();
    let fixed = names
        .iter()
        .enumerate()
        .map(|(j, term)| {
            let est = sol.beta[j];
            let se = (sigma2 * sol.rxtrx_inv[(j, j)]).sqrt();
            FixedEffect {
                term: term.clone(),
                estimate: est,
                std_error: se,
                t: est / se,
            }
        })
        .collect();
    let lam = criterion::lambda(q, &theta);
    let (random, singular) = match re {
        RandomEffects::Intercept => (
            RandomSummary {
                sd_intercept: sigma * lam[0][0],
                sd_slope: None,
                corr: None,
            },
            theta[0] < 1e-4,
        ),
        RandomEffects::Slope => {
            // Σ_b = σ² ΛΛᵀ with Λ = [[l0, 0], [l1, l2]].
            let (l0, l1, l2) = (lam[0][0], lam[1][0], lam[1][1]);
            let v0 = l0 * l0;
            let v1 = l1 * l1 + l2 * l2;
            let c01 = l0 * l1;
            let corr = if v0 > 0.0 && v1 > 0.0 {
                c01 / (v0 * v1).sqrt()
            } else {
                f64::NAN
            };
            (
                RandomSummary {
                    sd_intercept: sigma * v0.sqrt(),
                    sd_slope: Some(sigma * v1.sqrt()),
                    corr: if corr.is_nan() { None } else { Some(corr) },
                },
                // lme4's isSingular: a diagonal element of θ within 1e-4 of zero.
                theta[0] < 1e-4 || theta[2] < 1e-4,
            )
        }
    };
    let mut warnings = Vec::new();
    if constant {
        warnings.push(
            "the response is constant: there is no variance to model, and the variance \
             components and standard errors are not meaningful"
                .to_string(),
        );
    }
    if stats.groups < 2 {
        warnings.push(format!(
            "only {} group: the between-group variance cannot be estimated (lme4 refuses: \
             grouping factors must have > 1 sampled level)",
            stats.groups
        ));
    }
    if !converged {
        warnings.push(format!(
            "did not converge (lme4's rule: scaled gradient below 0.002; max |gradient| {max_abs_gradient:.2e})"
        ));
    }
    if singular {
        warnings.push(
            "boundary (singular) fit: a variance component at zero or a correlation at ±1"
                .to_string(),
        );
    }
    Ok(LmmFit {
        n_obs: stats.n,
        n_groups: stats.groups,
        method,
        fixed,
        random,
        sd_residual: sigma,
        reml_criterion: (method == Method::Reml).then_some(sol.deviance),
        loglik: (method == Method::Ml).then_some(-sol.deviance / 2.0),
        singular,
        converged,
        max_abs_gradient,
        evaluations,
        theta,
        warnings,
    })
}

#[cfg(test)]
mod tests;
