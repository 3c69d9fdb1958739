//! Linear mixed model with a random intercept (and optionally a random slope
//! on time) per group, fitted by REML or ML exactly as lme4 does.
//!
//! Model: `y = Xβ + Zb + ε`, `b_i ~ N(0, σ² Λ Λᵀ)`, `ε ~ N(0, σ² I)`, where
//! for group `i` the random-effects design is `Z_i = [1, t]` (or `[1]`), and
//! `Λ` is lower triangular with parameters `θ`.
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
//! statistics `Z_iᵀZ_i`, `Z_iᵀX_i`, `Z_iᵀy_i` enter, so one evaluation costs
//! O(groups), whatever the number of observations. `θ` is found by
//! Nelder–Mead (lme4's bounds `θ_diag ≥ 0` handled by taking absolute
//! values, which leaves the criterion unchanged) and polished with Newton
//! steps on finite-difference derivatives. Then `σ² = r²/(n−p)` (REML) or
//! `r²/n` (ML), `Var(β̂) = σ² (R_XᵀR_X)⁻¹` and the random-effects covariance
//! is `σ² ΛΛᵀ`.

// Index loops mirror the matrix formulas above; iterators would hide them.
#![allow(clippy::needless_range_loop)]

use std::collections::HashMap;

use nalgebra::{DMatrix, DVector};
use rayon::prelude::*;
use serde::Serialize;

mod sums;
pub use sums::{GroupSums, fit_sums};

/// REML (lme4's default) or maximum likelihood.
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
    /// Evaluations of the criterion.
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

/// Per-group sufficient statistics, struct-of-arrays.
struct Stats {
    q: usize,
    p: usize,
    n: usize,
    /// Per group: ZᵀZ (q×q, row-major), ZᵀX (q×p), Zᵀy (q).
    ztz: Vec<f64>,
    ztx: Vec<f64>,
    zty: Vec<f64>,
    groups: usize,
    xtx: DMatrix<f64>,
    xty: DVector<f64>,
    yty: f64,
}

/// What one evaluation of the criterion yields.
struct Solution {
    deviance: f64,
    beta: DVector<f64>,
    /// (R_XᵀR_X)⁻¹
    rxtrx_inv: DMatrix<f64>,
    pwrss: f64,
}

impl Stats {
    fn build(data: &LmmData, re: RandomEffects) -> Result<(Stats, Vec<String>), LmmError> {
        let n = data.response.len();
        if n == 0 {
            return Err(LmmError::Empty);
        }
        for len in [data.time.len(), data.group.len()]
            .into_iter()
            .chain(data.covariates.iter().map(|c| c.1.len()))
        {
            if len != n {
                return Err(LmmError::Length(n, len));
            }
        }
        let q = match re {
            RandomEffects::Intercept => 1,
            RandomEffects::Slope => 2,
        };
        let p = 2 + data.covariates.len();
        if n <= p {
            return Err(LmmError::TooFew { n, p });
        }
        // Groups in order of first appearance.
        let mut index: HashMap<&str, usize> = HashMap::new();
        let mut gid = Vec::with_capacity(n);
        for g in &data.group {
            let next = index.len();
            gid.push(*index.entry(g.as_str()).or_insert(next));
        }
        let groups = index.len();
        let mut ztz = vec![0.0; groups * q * q];
        let mut ztx = vec![0.0; groups * q * p];
        let mut zty = vec![0.0; groups * q];
        let mut xtx = DMatrix::zeros(p, p);
        let mut xty = DVector::zeros(p);
        let mut yty = 0.0;
        let mut x = vec![0.0; p];
        for k in 0..n {
            x[0] = 1.0;
            x[1] = data.time[k];
            for (j, c) in data.covariates.iter().enumerate() {
                x[2 + j] = c.1[k];
            }
            let z = [1.0, data.time[k]];
            let y = data.response[k];
            let g = gid[k];
            for a in 0..q {
                for b in 0..q {
                    ztz[g * q * q + a * q + b] += z[a] * z[b];
                }
                for j in 0..p {
                    ztx[g * q * p + a * p + j] += z[a] * x[j];
                }
                zty[g * q + a] += z[a] * y;
            }
            for i in 0..p {
                for j in 0..p {
                    xtx[(i, j)] += x[i] * x[j];
                }
                xty[i] += x[i] * y;
            }
            yty += y * y;
        }
        let mut names = vec!["(Intercept)".to_string(), data.time_name.clone()];
        names.extend(data.covariates.iter().map(|c| c.0.clone()));
        // Collinearity of X on its own: the criterion's R_X would be singular for every θ.
        if xtx.clone().cholesky().is_none() || min_pivot(&xtx) < 1e-10 * xtx.diagonal().max() {
            let worst = worst_column(&xtx);
            return Err(LmmError::Collinear(names[worst].clone()));
        }
        Ok((
            Stats {
                q,
                p,
                n,
                ztz,
                ztx,
                zty,
                groups,
                xtx,
                xty,
                yty,
            },
            names,
        ))
    }

    /// Λ from θ, lower triangular q×q, row-major; diagonals taken as |θ|.
    fn lambda(&self, theta: &[f64]) -> [f64; 4] {
        if self.q == 1 {
            [theta[0].abs(), 0.0, 0.0, 0.0]
        } else {
            [theta[0].abs(), 0.0, theta[1], theta[2].abs()]
        }
    }

    /// The profiled deviance and the fixed effects at θ.
    fn solve(&self, theta: &[f64], method: Method) -> Option<Solution> {
        let (q, p) = (self.q, self.p);
        let lam = self.lambda(theta);
        // Per group in parallel; chunks are combined in a fixed order so the
        // result does not depend on the thread count.
        const CHUNK: usize = 2048;
        let parts: Vec<(f64, f64, DMatrix<f64>, DVector<f64>)> = (0..self.groups.div_ceil(CHUNK))
            .into_par_iter()
            .map(|c| {
                // log|L|² = Σ log det M_i, accumulated as a running product of
                // determinants (each ≥ 1, as M_i = ΛᵀAΛ + I) whose log is taken
                // only when it grows large: one logarithm per group dominated
                // the cost of an evaluation.
                let mut logdet = 0.0;
                let mut det_product = 1.0f64;
                let mut cu2 = 0.0;
                let mut xtx_adj = DMatrix::<f64>::zeros(p, p);
                let mut xty_adj = DVector::<f64>::zeros(p);
                let mut r = vec![0.0; q * p];
                for g in c * CHUNK..((c + 1) * CHUNK).min(self.groups) {
                    let a = &self.ztz[g * q * q..(g + 1) * q * q];
                    let b = &self.ztx[g * q * p..(g + 1) * q * p];
                    let cz = &self.zty[g * q..(g + 1) * q];
                    if q == 1 {
                        let l = lam[0];
                        let m = l * a[0] * l + 1.0;
                        let l11 = m.sqrt();
                        det_product *= m;
                        for j in 0..p {
                            r[j] = l * b[j] / l11;
                        }
                        let cu = l * cz[0] / l11;
                        cu2 += cu * cu;
                        for i in 0..p {
                            xty_adj[i] += r[i] * cu;
                            for j in 0..p {
                                xtx_adj[(i, j)] += r[i] * r[j];
                            }
                        }
                    } else {
                        // Λ = [[l0, 0], [l1, l2]]; M = ΛᵀAΛ + I (symmetric 2×2).
                        let (l0, l1, l2) = (lam[0], lam[2], lam[3]);
                        // AΛ
                        let al00 = a[0] * l0 + a[1] * l1;
                        let al01 = a[1] * l2;
                        let al10 = a[2] * l0 + a[3] * l1;
                        let al11 = a[3] * l2;
                        let m00 = l0 * al00 + l1 * al10 + 1.0;
                        let m01 = l0 * al01 + l1 * al11;
                        let m11 = l2 * al11 + 1.0;
                        // 2×2 Cholesky: M = L Lᵀ.
                        let c00 = m00.sqrt();
                        let c10 = m01 / c00;
                        let d = m11 - c10 * c10;
                        if d <= 0.0 {
                            return None;
                        }
                        let c11 = d.sqrt();
                        det_product *= m00 * d;
                        // Λᵀ B (2×p) then forward-solve with L.
                        for j in 0..p {
                            let v0 = l0 * b[j] + l1 * b[p + j];
                            let v1 = l2 * b[p + j];
                            let r0 = v0 / c00;
                            let r1 = (v1 - c10 * r0) / c11;
                            r[j] = r0;
                            r[p + j] = r1;
                        }
                        let w0 = l0 * cz[0] + l1 * cz[1];
                        let w1 = l2 * cz[1];
                        let u0 = w0 / c00;
                        let u1 = (w1 - c10 * u0) / c11;
                        cu2 += u0 * u0 + u1 * u1;
                        for i in 0..p {
                            xty_adj[i] += r[i] * u0 + r[p + i] * u1;
                            for j in 0..p {
                                xtx_adj[(i, j)] += r[i] * r[j] + r[p + i] * r[p + j];
                            }
                        }
                    }
                    if det_product > 1e200 {
                        logdet += det_product.ln();
                        det_product = 1.0;
                    }
                }
                logdet += det_product.ln();
                Some((logdet, cu2, xtx_adj, xty_adj))
            })
            .collect::<Option<Vec<_>>>()?;
        let mut logdet = 0.0;
        let mut cu2 = 0.0;
        let mut rxtrx = self.xtx.clone();
        let mut rhs = self.xty.clone();
        for (ld, c2, xa, ya) in parts {
            logdet += ld;
            cu2 += c2;
            rxtrx -= xa;
            rhs -= ya;
        }
        let chol = rxtrx.clone().cholesky()?;
        let logdet_x: f64 = 2.0 * chol.l().diagonal().iter().map(|v| v.ln()).sum::<f64>();
        let beta = chol.solve(&rhs);
        let pwrss = self.yty - cu2 - beta.dot(&rhs);
        if pwrss.is_nan() || pwrss <= 0.0 {
            return None;
        }
        let n = self.n as f64;
        let two_pi = 2.0 * std::f64::consts::PI;
        let deviance = match method {
            Method::Reml => {
                let nmp = n - self.p as f64;
                logdet + logdet_x + nmp * (1.0 + (two_pi * pwrss / nmp).ln())
            }
            Method::Ml => logdet + n * (1.0 + (two_pi * pwrss / n).ln()),
        };
        Some(Solution {
            deviance,
            beta,
            rxtrx_inv: chol.inverse(),
            pwrss,
        })
    }
}

fn min_pivot(m: &DMatrix<f64>) -> f64 {
    m.clone()
        .cholesky()
        .map(|c| {
            c.l()
                .diagonal()
                .iter()
                .fold(f64::INFINITY, |a, &v| a.min(v * v))
        })
        .unwrap_or(0.0)
}

/// The column whose removal makes XᵀX best conditioned: the one to name.
fn worst_column(m: &DMatrix<f64>) -> usize {
    let p = m.nrows();
    let mut best = (p - 1, f64::NEG_INFINITY);
    for drop in (1..p).rev() {
        let keep: Vec<usize> = (0..p).filter(|&j| j != drop).collect();
        let sub = DMatrix::from_fn(keep.len(), keep.len(), |i, j| m[(keep[i], keep[j])]);
        let piv = min_pivot(&sub) / sub.diagonal().max().max(1e-300);
        if piv > best.1 {
            best = (drop, piv);
        }
    }
    best.0
}

/// Nelder–Mead minimisation (Nelder & Mead 1965, with the standard
/// coefficients α=1, γ=2, ρ=½, σ=½ of Lagarias et al. 1998). Stops when
/// the simplex's values agree to `ftol` (relative) and its points to `xtol`.
fn nelder_mead(
    f: &mut dyn FnMut(&[f64]) -> f64,
    x0: &[f64],
    step: f64,
    (ftol, xtol): (f64, f64),
    max_evals: usize,
) -> (Vec<f64>, f64, bool) {
    let d = x0.len();
    let mut simplex: Vec<(Vec<f64>, f64)> = Vec::with_capacity(d + 1);
    simplex.push((x0.to_vec(), f(x0)));
    for i in 0..d {
        let mut x = x0.to_vec();
        x[i] += step;
        let fx = f(&x);
        simplex.push((x, fx));
    }
    let mut evals = d + 1;
    loop {
        simplex.sort_by(|a, b| a.1.total_cmp(&b.1));
        let (fb, fw) = (simplex[0].1, simplex[d].1);
        let spread = simplex
            .iter()
            .flat_map(|(x, _)| x.iter().zip(&simplex[0].0).map(|(a, b)| (a - b).abs()))
            .fold(0.0, f64::max);
        if (fw - fb).abs() <= ftol * (fb.abs() + ftol) && spread < xtol {
            return (simplex[0].0.clone(), fb, true);
        }
        if evals >= max_evals {
            return (simplex[0].0.clone(), fb, false);
        }
        let centroid: Vec<f64> = (0..d)
            .map(|j| simplex[..d].iter().map(|(x, _)| x[j]).sum::<f64>() / d as f64)
            .collect();
        let along = |t: f64| -> Vec<f64> {
            (0..d)
                .map(|j| centroid[j] + t * (simplex[d].0[j] - centroid[j]))
                .collect()
        };
        let xr = along(-1.0);
        let fr = f(&xr);
        evals += 1;
        if fr < simplex[0].1 {
            let xe = along(-2.0);
            let fe = f(&xe);
            evals += 1;
            simplex[d] = if fe < fr { (xe, fe) } else { (xr, fr) };
        } else if fr < simplex[d - 1].1 {
            simplex[d] = (xr, fr);
        } else {
            let (xc, fc) = if fr < simplex[d].1 {
                let x = along(-0.5);
                let fx = f(&x);
                (x, fx)
            } else {
                let x = along(0.5);
                let fx = f(&x);
                (x, fx)
            };
            evals += 1;
            if fc < fr.min(simplex[d].1) {
                simplex[d] = (xc, fc);
            } else {
                let best = simplex[0].0.clone();
                for (x, fx) in simplex.iter_mut().skip(1) {
                    for j in 0..d {
                        x[j] = best[j] + 0.5 * (x[j] - best[j]);
                    }
                    *fx = f(x);
                }
                evals += d;
            }
        }
    }
}

/// Fits the model.
pub fn fit(data: &LmmData, method: Method, re: RandomEffects) -> Result<LmmFit, LmmError> {
    let (stats, names) = Stats::build(data, re)?;
    let y0 = data.response.first().copied().unwrap_or(0.0);
    let constant = data.response.iter().all(|&v| v == y0);
    fit_stats(&stats, &names, constant, method, re)
}

/// The fit from the sufficient statistics; `constant`: the response never varies.
fn fit_stats(
    stats: &Stats,
    names: &[String],
    constant: bool,
    method: Method,
    re: RandomEffects,
) -> Result<LmmFit, LmmError> {
    let mut evaluations = 0usize;
    let mut crit = |theta: &[f64]| -> f64 {
        evaluations += 1;
        stats
            .solve(theta, method)
            .map(|s| s.deviance)
            .unwrap_or(f64::INFINITY)
    };
    let start: Vec<f64> = match re {
        RandomEffects::Intercept => vec![1.0],
        RandomEffects::Slope => vec![1.0, 0.0, 1.0],
    };
    // Nelder–Mead to the neighbourhood of the optimum; Newton steps below
    // converge quadratically from there, at a fraction of the evaluations.
    let (mut theta, mut best, mut converged) =
        nelder_mead(&mut crit, &start, 0.25, (1e-8, 1e-3), 4000);
    if !converged {
        // Restart once from where it stopped: Nelder–Mead can stall on a ridge.
        let (t2, f2, c2) = nelder_mead(&mut crit, &theta, 0.05, (1e-12, 1e-6), 4000);
        if f2 <= best {
            theta = t2;
            best = f2;
        }
        converged = c2;
    }
    // Newton polish on finite differences, over the parameters off a bound,
    // with step halving.
    let free: Vec<usize> = (0..theta.len())
        .filter(|&j| !(is_diagonal(j, re) && theta[j].abs() < 1e-6))
        .collect();
    let k = free.len();
    for _ in 0..8 {
        if k == 0 {
            break;
        }
        let (g, h) = derivatives(&mut crit, &theta, &free);
        let hm = DMatrix::from_fn(k, k, |a, b| h[a * k + b]);
        let gv = DVector::from_fn(k, |a, _| g[free[a]]);
        let Some(ch) = hm.cholesky() else { break };
        let step = ch.solve(&gv);
        let mut improved = false;
        let mut scale = 1.0;
        for _ in 0..4 {
            let mut cand = theta.clone();
            for (a, &j) in free.iter().enumerate() {
                cand[j] -= scale * step[a];
            }
            let fc = crit(&cand);
            if fc < best {
                theta = cand;
                best = fc;
                improved = true;
                break;
            }
            scale *= 0.5;
        }
        if !improved {
            break;
        }
    }
    // lme4's convergence check (checkConv): the gradient scaled by the
    // Cholesky factor of the Hessian, element-wise the smaller of it and the
    // raw gradient, must be under 0.002.
    let (grad, h) = derivatives(&mut crit, &theta, &free);
    let max_abs_gradient = free.iter().map(|&j| grad[j].abs()).fold(0.0, f64::max);
    let scaled_ok = if k == 0 {
        true
    } else {
        let hm = DMatrix::from_fn(k, k, |a, b| h[a * k + b]);
        let gv = DVector::from_fn(k, |a, _| grad[free[a]]);
        match hm.cholesky() {
            // H = L Lᵀ; R = Lᵀ; scaled gradient R⁻ᵀ… as lme4: solve(chol(H), g) = R⁻¹ g.
            Some(ch) => {
                let r = ch.l().transpose();
                match r.solve_upper_triangular(&gv) {
                    Some(sc) => (0..k).all(|a| sc[a].abs().min(gv[a].abs()) < 2e-3),
                    None => max_abs_gradient < 2e-3,
                }
            }
            None => max_abs_gradient < 2e-3,
        }
    };
    converged = converged && scaled_ok;
    // Canonical signs: lme4 reports θ with non-negative diagonals.
    for j in 0..theta.len() {
        if is_diagonal(j, re) {
            theta[j] = theta[j].abs();
        }
    }
    let sol = stats
        .solve(&theta, method)
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
    let lam = stats.lambda(&theta);
    let (random, singular) = match re {
        RandomEffects::Intercept => (
            RandomSummary {
                sd_intercept: sigma * lam[0],
                sd_slope: None,
                corr: None,
            },
            theta[0] < 1e-4,
        ),
        RandomEffects::Slope => {
            // Σ_b = σ² ΛΛᵀ with Λ = [[l0, 0], [l1, l2]].
            let (l0, l1, l2) = (lam[0], lam[2], lam[3]);
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
    let _ = best;
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

fn is_diagonal(j: usize, re: RandomEffects) -> bool {
    match re {
        RandomEffects::Intercept => j == 0,
        RandomEffects::Slope => j == 0 || j == 2,
    }
}

/// Central-difference gradient (all parameters) and Hessian (free ones,
/// row-major k×k) of `f` at `x`.
fn derivatives(
    f: &mut dyn FnMut(&[f64]) -> f64,
    x: &[f64],
    free: &[usize],
) -> (Vec<f64>, Vec<f64>) {
    let h = |v: f64| 1e-4 * v.abs().max(0.1);
    let f0 = f(x);
    let mut grad = vec![0.0; x.len()];
    let mut fp = vec![0.0; x.len()];
    let mut fm = vec![0.0; x.len()];
    for j in 0..x.len() {
        let mut a = x.to_vec();
        a[j] += h(x[j]);
        fp[j] = f(&a);
        a[j] = x[j] - h(x[j]);
        fm[j] = f(&a);
        grad[j] = (fp[j] - fm[j]) / (2.0 * h(x[j]));
    }
    let k = free.len();
    let mut hess = vec![0.0; k * k];
    for (a, &i) in free.iter().enumerate() {
        hess[a * k + a] = (fp[i] - 2.0 * f0 + fm[i]) / (h(x[i]) * h(x[i]));
        for (b, &j) in free.iter().enumerate().skip(a + 1) {
            let mut y = x.to_vec();
            y[i] += h(x[i]);
            y[j] += h(x[j]);
            let fpp = f(&y);
            y[j] = x[j] - h(x[j]);
            let fpm = f(&y);
            y[i] = x[i] - h(x[i]);
            let fmm = f(&y);
            y[j] = x[j] + h(x[j]);
            let fmp = f(&y);
            let v = (fpp - fpm - fmp + fmm) / (4.0 * h(x[i]) * h(x[j]));
            hess[a * k + b] = v;
            hess[b * k + a] = v;
        }
    }
    (grad, hess)
}

#[cfg(test)]
mod tests;
