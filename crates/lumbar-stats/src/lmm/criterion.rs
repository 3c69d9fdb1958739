//! The profiled deviance with its analytic gradient and Hessian in θ.
//!
//! # Contract
//!
//! [`evaluate`]`(stats, θ, method, order)` returns lme4's profiled REML or
//! ML deviance `d(θ)` (Bates et al. 2015, eqs. 34–43; see the parent
//! module), the fixed effects `β̂(θ)`, `(R_XᵀR_X)⁻¹` and the penalised RSS
//! `r²`, and, as `order` asks, `∂d/∂θ` (length `k = q(q+1)/2`) and
//! `∂²d/∂θ∂θ` (k×k, row-major). Λ's diagonal is `|θ_diag|` (lme4 bounds
//! it at 0); derivatives in a diagonal are taken from the side of its sign,
//! from the right at 0, so they are the one-sided derivatives the bound
//! constraint needs. `None` when `R_XᵀR_X` is not positive definite, or
//! when `r² ≤ 0` (a response that the fixed effects fit exactly) and
//! derivatives are asked for; for the value alone that case gives
//! `r² = 0` and `d = −∞`. One pass over
//! the patterns of [`Stats`]; no observation is read.
//!
//! # Formulas
//!
//! Per pattern (group) with `A = ZᵀZ`, `M = ΛᵀAΛ + I`, `K = M⁻¹Λᵀ`,
//! `P = ΛK = Λ(ΛᵀAΛ + I)⁻¹Λᵀ`, `N = I − PA`, and `E_k = ∂Λ/∂λ_k` (one 1
//! at the `k`-th lower-triangular entry `(r_k, c_k)`):
//!
//! ```text
//! ∂_k log det M   = 2 tr(E_k K A)              = 2 (KA)[c_k, r_k]
//! ∂_k P           = N E_k K + (N E_k K)ᵀ
//! ∂_l M           = E_lᵀAΛ + ΛᵀAE_l,    ∂_l K = M⁻¹(E_lᵀ − ∂_l M · K),    ∂_l N = −∂_l P · A
//! ∂²_kl log det M = 2 (∂_l K · A)[c_k, r_k]
//! ∂²_kl P         = X + Xᵀ,   X = −(∂_l P · A) E_k K + N E_k ∂_l K
//! ```
//!
//! (from `d(M⁻¹) = −M⁻¹ dM M⁻¹` and `d log det M = tr(M⁻¹ dM)`). With
//! `S = S₀ − Σ WᵀPW` as in [`super::stats`], the derivatives `S_k`,
//! `S_kl` are the same sums with `∂_k P`, `∂²_kl P` (a pass accumulates all
//! of them). Writing `C = S_xx = R_XᵀR_X`, `β̂ = C⁻¹S_xy`,
//! `v = [−β̂; 1]`, `r² = vᵀSv` and `g_k = (S_k v)_x`, the envelope theorem
//! (β̂ minimises `vᵀSv`) gives
//!
//! ```text
//! ∂_k r²          = vᵀ S_k v
//! ∂²_kl r²        = vᵀ S_kl v − 2 g_kᵀ C⁻¹ g_l
//! ∂_k log det C   = tr(C⁻¹ S_k,xx)
//! ∂²_kl log det C = tr(C⁻¹ S_kl,xx) − tr(C⁻¹ S_k,xx C⁻¹ S_l,xx)
//! ```
//!
//! and, with `ν = n − p` (REML) or `n` (ML) and `ρ = 1` (REML) or 0 (ML),
//!
//! ```text
//! d      = ℓ + ρ log det C + ν (1 + log(2π r²/ν)),         ℓ = Σ_i log det M_i
//! ∂_k d  = ℓ_k + ρ ∂_k log det C + ν ∂_k r² / r²
//! ∂²_kl d = ℓ_kl + ρ ∂²_kl log det C + ν (∂²_kl r² / r² − ∂_k r² ∂_l r² / r⁴)
//! ```
//!
//! Worked out here from `d log det M = tr(M⁻¹ dM)` and `d(M⁻¹) =
//! −M⁻¹ dM M⁻¹` (Magnus & Neudecker, *Matrix Differential Calculus*) and
//! the envelope theorem for the profiled β̂; the same route as Wood's
//! (2011, *J. R. Stat. Soc. B* 73:3–36) exact REML derivatives, and the
//! analytic REML gradient that mixedlm-rs uses. `tests.rs` checks them
//! against central differences of `d`. Cost
//! per pattern: a few dozen flops of q×q algebra and `(1 + k + k(k+1)/2) ·
//! q(q+1)/2 · (p+1)(p+2)/2` multiply-adds for the Hessian order.

// Index loops mirror the matrix formulas above.
#![allow(clippy::needless_range_loop)]

use nalgebra::{DMatrix, DVector};
use rayon::prelude::*;

use super::Method;
use super::stats::{Stats, packed_index, packed_len};

/// How many derivatives an evaluation computes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub(super) enum Order {
    Value,
    Gradient,
    Hessian,
}

/// What one evaluation yields.
pub(super) struct Evaluation {
    pub deviance: f64,
    /// `∂d/∂θ` (empty for [`Order::Value`]).
    pub gradient: Vec<f64>,
    /// `∂²d/∂θ∂θ`, k×k row-major (empty below [`Order::Hessian`]).
    pub hessian: Vec<f64>,
    pub beta: DVector<f64>,
    /// `(R_XᵀR_X)⁻¹`.
    pub rxtrx_inv: DMatrix<f64>,
    /// The penalised residual sum of squares `r²`.
    pub pwrss: f64,
}

/// Λ's entries that θ holds, `(row, column)`, in θ's order (lme4's: the
/// lower triangle by columns).
pub(super) fn entries(q: usize) -> &'static [(usize, usize)] {
    if q == 1 {
        &[(0, 0)]
    } else {
        &[(0, 0), (1, 0), (1, 1)]
    }
}

/// Whether θ's `j`-th entry is on Λ's diagonal (bounded at 0 by lme4).
pub(super) fn is_diagonal(q: usize, j: usize) -> bool {
    let (r, c) = entries(q)[j];
    r == c
}

type M2 = [[f64; 2]; 2];

/// Λ from θ, lower triangular; diagonals taken as `|θ|`.
pub(super) fn lambda(q: usize, theta: &[f64]) -> M2 {
    let mut l = [[0.0; 2]; 2];
    for (j, &(r, c)) in entries(q).iter().enumerate() {
        l[r][c] = if r == c { theta[j].abs() } else { theta[j] };
    }
    l
}

fn mul(q: usize, a: &M2, b: &M2) -> M2 {
    let mut m = [[0.0; 2]; 2];
    for i in 0..q {
        for j in 0..q {
            for k in 0..q {
                m[i][j] += a[i][k] * b[k][j];
            }
        }
    }
    m
}

fn transpose(a: &M2) -> M2 {
    [[a[0][0], a[1][0]], [a[0][1], a[1][1]]]
}

/// One pattern's terms: the coefficients of its moments (`P`, then `∂_k P`,
/// then `∂²_kl P` for `k ≤ l`, each at the unique `(r, s)`) and `det M`
/// with the derivatives of `log det M`.
struct Terms {
    coef: [[f64; 3]; 10],
    det: f64,
    ld1: [f64; 3],
    ld2: [f64; 6],
}

fn pattern_terms(q: usize, unique: &[f64], lam: &M2, order: Order) -> Option<Terms> {
    let ent = entries(q);
    let nt = ent.len();
    let pairs: &[(usize, usize)] = if q == 1 {
        &[(0, 0)]
    } else {
        &[(0, 0), (0, 1), (1, 1)]
    };
    let mut a = [[0.0; 2]; 2];
    for (m, &(r, s)) in pairs.iter().enumerate() {
        a[r][s] = unique[m];
        a[s][r] = unique[m];
    }
    let al = mul(q, &a, lam);
    let mut m = mul(q, &transpose(lam), &al);
    for i in 0..q {
        m[i][i] += 1.0;
    }
    let (det, minv) = if q == 1 {
        (m[0][0], [[1.0 / m[0][0], 0.0], [0.0, 0.0]])
    } else {
        let det = m[0][0] * m[1][1] - m[0][1] * m[1][0];
        (
            det,
            [
                [m[1][1] / det, -m[0][1] / det],
                [-m[1][0] / det, m[0][0] / det],
            ],
        )
    };
    if !(det > 0.0 && det.is_finite()) {
        return None;
    }
    let k = mul(q, &minv, &transpose(lam));
    let pm = mul(q, lam, &k);
    let pack = |x: &M2| -> [f64; 3] {
        let mut v = [0.0; 3];
        for (m, &(r, s)) in pairs.iter().enumerate() {
            v[m] = x[r][s];
        }
        v
    };
    let mut t = Terms {
        coef: [[0.0; 3]; 10],
        det,
        ld1: [0.0; 3],
        ld2: [0.0; 6],
    };
    t.coef[0] = pack(&pm);
    if order == Order::Value {
        return Some(t);
    }
    let pa = mul(q, &pm, &a);
    let mut nn = [[0.0; 2]; 2];
    for i in 0..q {
        for j in 0..q {
            nn[i][j] = f64::from(u8::from(i == j)) - pa[i][j];
        }
    }
    let ka = mul(q, &k, &a);
    let mut dp = [[[0.0; 2]; 2]; 3];
    for (l, &(rl, cl)) in ent.iter().enumerate() {
        t.ld1[l] = 2.0 * ka[cl][rl];
        for x in 0..q {
            for y in 0..q {
                dp[l][x][y] = nn[x][rl] * k[cl][y] + nn[y][rl] * k[cl][x];
            }
        }
        t.coef[1 + l] = pack(&dp[l]);
    }
    if order == Order::Gradient {
        return Some(t);
    }
    let mut dk = [[[0.0; 2]; 2]; 3];
    let mut dpa = [[[0.0; 2]; 2]; 3];
    let mut dka = [[[0.0; 2]; 2]; 3];
    for (l, &(rl, cl)) in ent.iter().enumerate() {
        let mut dm = [[0.0; 2]; 2];
        for x in 0..q {
            for y in 0..q {
                if x == cl {
                    dm[x][y] += al[rl][y];
                }
                if y == cl {
                    dm[x][y] += al[rl][x];
                }
            }
        }
        let dmk = mul(q, &dm, &k);
        let mut e = [[0.0; 2]; 2];
        for x in 0..q {
            for y in 0..q {
                e[x][y] = -dmk[x][y];
            }
        }
        e[cl][rl] += 1.0;
        dk[l] = mul(q, &minv, &e);
        dpa[l] = mul(q, &dp[l], &a);
        dka[l] = mul(q, &dk[l], &a);
    }
    for (kk, &(rk, ck)) in ent.iter().enumerate() {
        for l in kk..nt {
            let mut x = [[0.0; 2]; 2];
            for i in 0..q {
                for j in 0..q {
                    x[i][j] = -dpa[l][i][rk] * k[ck][j] + nn[i][rk] * dk[l][ck][j];
                }
            }
            let mut d2 = [[0.0; 2]; 2];
            for i in 0..q {
                for j in 0..q {
                    d2[i][j] = x[i][j] + x[j][i];
                }
            }
            let idx = packed_index(nt, kk, l);
            t.coef[1 + nt + idx] = pack(&d2);
            t.ld2[idx] = 2.0 * dka[l][ck][rk];
        }
    }
    Some(t)
}

/// One chunk's sums: the coefficient-weighted moments (`rows` packed
/// matrices), `ℓ` and its derivatives.
struct Partial {
    acc: Vec<f64>,
    logdet: f64,
    ld1: [f64; 3],
    ld2: [f64; 6],
}

/// The criterion at θ (see the module's contract).
pub(super) fn evaluate(
    stats: &Stats,
    theta: &[f64],
    method: Method,
    order: Order,
) -> Option<Evaluation> {
    let (q, p) = (stats.q, stats.p);
    let d = p + 1;
    let tl = packed_len(d);
    let nt = entries(q).len();
    let nrs = stats.pairs().len();
    let rows = match order {
        Order::Value => 1,
        Order::Gradient => 1 + nt,
        Order::Hessian => 1 + nt + packed_len(nt),
    };
    let lam = lambda(q, theta);
    // Chunks of patterns in parallel, combined in a fixed order so the
    // result does not depend on the thread count.
    const CHUNK: usize = 2048;
    let chunk = |c: usize| -> Option<Partial> {
        let mut part = Partial {
            acc: vec![0.0; rows * tl],
            logdet: 0.0,
            ld1: [0.0; 3],
            ld2: [0.0; 6],
        };
        // log det M_i, summed as a running product (each det ≥ 1) whose log
        // is taken only when it grows large: one logarithm per group would
        // dominate an evaluation with no two groups alike.
        let mut det_product = 1.0f64;
        for pt in c * CHUNK..((c + 1) * CHUNK).min(stats.patterns) {
            let terms = pattern_terms(q, &stats.ztz[pt * nrs..(pt + 1) * nrs], &lam, order)?;
            let m = stats.count[pt];
            if m == 1.0 {
                det_product *= terms.det;
                if det_product > 1e200 {
                    part.logdet += det_product.ln();
                    det_product = 1.0;
                }
            } else {
                part.logdet += m * terms.det.ln();
            }
            for i in 0..nt {
                part.ld1[i] += m * terms.ld1[i];
            }
            for i in 0..packed_len(nt) {
                part.ld2[i] += m * terms.ld2[i];
            }
            let o = &stats.moments[pt * nrs * tl..(pt + 1) * nrs * tl];
            for (j, coef) in terms.coef[..rows].iter().enumerate() {
                let row = &mut part.acc[j * tl..(j + 1) * tl];
                for (rs, &cr) in coef[..nrs].iter().enumerate() {
                    for (acc, &om) in row.iter_mut().zip(&o[rs * tl..(rs + 1) * tl]) {
                        *acc += cr * om;
                    }
                }
            }
        }
        part.logdet += det_product.ln();
        Some(part)
    };
    let chunks = stats.patterns.div_ceil(CHUNK);
    let parts: Vec<Partial> = if chunks <= 1 {
        vec![chunk(0)?]
    } else {
        (0..chunks)
            .into_par_iter()
            .map(chunk)
            .collect::<Option<Vec<_>>>()?
    };
    let mut acc = vec![0.0; rows * tl];
    let (mut logdet, mut ld1, mut ld2) = (0.0, [0.0; 3], [0.0; 6]);
    for part in parts {
        for (a, b) in acc.iter_mut().zip(&part.acc) {
            *a += b;
        }
        logdet += part.logdet;
        for i in 0..3 {
            ld1[i] += part.ld1[i];
        }
        for i in 0..6 {
            ld2[i] += part.ld2[i];
        }
    }
    let unpack = |v: &[f64]| DMatrix::from_fn(d, d, |a, b| v[packed_index(d, a.min(b), a.max(b))]);
    let s = unpack(&stats.s0) - unpack(&acc[..tl]);
    let chol = s.view((0, 0), (p, p)).into_owned().cholesky()?;
    let sxy = s.view((0, p), (p, 1)).column(0).into_owned();
    let beta = chol.solve(&sxy);
    let pwrss = s[(p, p)] - sxy.dot(&beta);
    if pwrss.is_nan() || pwrss <= 0.0 {
        if order != Order::Value {
            return None;
        }
        // The fixed effects fit the response exactly (a constant response):
        // no residual variance, and a criterion of −∞ that the optimiser
        // never accepts; the caller reports β̂ with σ = 0.
        return Some(Evaluation {
            deviance: f64::NEG_INFINITY,
            gradient: Vec::new(),
            hessian: Vec::new(),
            beta,
            rxtrx_inv: chol.inverse(),
            pwrss: 0.0,
        });
    }
    let logdet_x: f64 = 2.0 * chol.l().diagonal().iter().map(|v| v.ln()).sum::<f64>();
    let n = stats.n as f64;
    let (nu, rho) = match method {
        Method::Reml => (n - p as f64, 1.0),
        Method::Ml => (n, 0.0),
    };
    let two_pi = 2.0 * std::f64::consts::PI;
    let deviance = logdet + rho * logdet_x + nu * (1.0 + (two_pi * pwrss / nu).ln());
    let cinv = chol.inverse();
    let mut ev = Evaluation {
        deviance,
        gradient: Vec::new(),
        hessian: Vec::new(),
        beta,
        rxtrx_inv: cinv,
        pwrss,
    };
    if order == Order::Value {
        return Some(ev);
    }
    let cinv = &ev.rxtrx_inv;
    let mut v = DVector::zeros(d);
    for j in 0..p {
        v[j] = -ev.beta[j];
    }
    v[p] = 1.0;
    let mut r2k = vec![0.0; nt];
    let mut skv = Vec::with_capacity(nt);
    let mut csk = Vec::with_capacity(nt);
    let mut grad = vec![0.0; nt];
    for k in 0..nt {
        let sk = -unpack(&acc[(1 + k) * tl..(2 + k) * tl]);
        let skv_full = &sk * &v;
        r2k[k] = v.dot(&skv_full);
        let c = cinv * sk.view((0, 0), (p, p));
        grad[k] = ld1[k] + rho * c.trace() + nu * r2k[k] / pwrss;
        skv.push(skv_full.rows(0, p).into_owned());
        csk.push(c);
    }
    // ∂/∂θ = sign(θ) ∂/∂λ on the diagonal (Λ holds |θ|); from the right at 0.
    let sign: Vec<f64> = (0..nt)
        .map(|j| {
            if is_diagonal(q, j) && theta[j] < 0.0 {
                -1.0
            } else {
                1.0
            }
        })
        .collect();
    ev.gradient = (0..nt).map(|k| sign[k] * grad[k]).collect();
    if order == Order::Gradient {
        return Some(ev);
    }
    let mut hess = vec![0.0; nt * nt];
    for k in 0..nt {
        for l in k..nt {
            let idx = packed_index(nt, k, l);
            let skl = -unpack(&acc[(1 + nt + idx) * tl..(2 + nt + idx) * tl]);
            let r2kl = v.dot(&(&skl * &v)) - 2.0 * skv[k].dot(&(cinv * &skv[l]));
            let ldc = (cinv * skl.view((0, 0), (p, p))).trace() - (&csk[k] * &csk[l]).trace();
            let h = ld2[idx] + rho * ldc + nu * (r2kl / pwrss - r2k[k] * r2k[l] / (pwrss * pwrss));
            hess[k * nt + l] = sign[k] * sign[l] * h;
            hess[l * nt + k] = sign[k] * sign[l] * h;
        }
    }
    ev.hessian = hess;
    Some(ev)
}
