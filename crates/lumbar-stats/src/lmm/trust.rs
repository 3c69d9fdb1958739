//! Bounded trust-region Newton minimisation for a handful of parameters.
//!
//! # Contract
//!
//! [`minimise`]`(oracle, x0, lower, options)` minimises `f: ℝᵏ → ℝ` over
//! `x_j ≥ lower_j` (`−∞` for no bound), from `x0` projected on the bounds.
//! `oracle(x)` returns `(f, ∇f, ∇²f)` (the Hessian k×k, row-major) or
//! `None` where `f` is undefined, which is treated as `+∞` (the step is
//! refused and the region shrunk). Each call counts as one evaluation; it
//! is never called more than `max_evals` times. `None` when `x0` itself
//! cannot be evaluated. Meant for small `k` (a dense eigendecomposition per
//! step).
//!
//! Converged when no parameter is free (all at a bound with the gradient
//! pushing outward) or when the Newton decrement over the free parameters,
//! `½ g_Fᵀ H_FF⁻¹ g_F` (the decrease a Newton step would predict), is at
//! most `decrement` with `H_FF` positive definite: the criterion is then
//! within about `decrement` of the local minimum.
//!
//! # Method
//!
//! A trust-region Newton iteration (Conn, Gould & Toint 2000, *Trust-Region
//! Methods*, alg. 6.1.1): the model `gᵀs + ½ sᵀHs` is minimised over
//! `‖s‖ ≤ Δ` exactly, through the eigendecomposition of `H` and a
//! bisection on the multiplier (Moré & Sorensen 1983, *SIAM J. Sci. Stat.
//! Comput.* 4:553, hard case included), so indefinite Hessians far from
//! the optimum are safe. Bounds are active-set projections as in Bertsekas
//! (1982, *SIAM J. Control Optim.* 20:221): a parameter at its bound whose
//! gradient pushes outward is held; the step is projected on the bounds
//! (or cut at the first bound, whichever the model prefers), so a variance
//! parameter that belongs at zero lands exactly there. A step is taken when
//! the actual decrease is at least 1e-4 of the model's; `Δ` shrinks to a
//! quarter of the step on a poor ratio (< 0.25) and doubles on a good one
//! (> 0.75) that reached it.

use nalgebra::{DMatrix, DVector};

/// When to stop and where to start.
#[derive(Debug, Clone, Copy)]
pub(super) struct Options {
    pub max_evals: usize,
    /// The Newton decrement at which to stop (in units of `f`).
    pub decrement: f64,
    /// The initial trust radius.
    pub radius: f64,
}

/// The minimum found, with the derivatives there.
#[derive(Debug, Clone)]
pub(super) struct Minimum {
    pub x: Vec<f64>,
    pub gradient: Vec<f64>,
    pub hessian: Vec<f64>,
    pub evaluations: usize,
    pub converged: bool,
}

/// `f`, its gradient and its Hessian (k×k, row-major).
pub(super) type Derivatives = (f64, Vec<f64>, Vec<f64>);

/// Minimises `f` subject to `x ≥ lower` (see the module's contract).
pub(super) fn minimise(
    mut oracle: impl FnMut(&[f64]) -> Option<Derivatives>,
    x0: &[f64],
    lower: &[f64],
    options: Options,
) -> Option<Minimum> {
    let k = x0.len();
    let mut x: Vec<f64> = x0.iter().zip(lower).map(|(a, l)| a.max(*l)).collect();
    let mut evaluations = 1;
    let (mut f, mut g, mut h) = oracle(&x).filter(|d| d.0.is_finite())?;
    let mut radius = options.radius;
    let mut converged = false;
    loop {
        let free: Vec<usize> = (0..k)
            .filter(|&j| !(x[j] <= lower[j] && g[j] >= 0.0))
            .collect();
        let nf = free.len();
        if nf == 0 {
            converged = true;
            break;
        }
        let gf = DVector::from_fn(nf, |a, _| g[free[a]]);
        let hf = DMatrix::from_fn(nf, nf, |a, b| h[free[a] * k + free[b]]);
        if let Some(ch) = hf.clone().cholesky()
            && 0.5 * gf.dot(&ch.solve(&gf)) <= options.decrement
        {
            converged = true;
            break;
        }
        if evaluations >= options.max_evals {
            break;
        }
        let s = trust_step(&gf, &hf, radius);
        let mut full = vec![0.0; k];
        for (a, &j) in free.iter().enumerate() {
            full[j] = s[a];
        }
        let model = |d: &[f64]| -> f64 {
            let mut m = 0.0;
            for i in 0..k {
                m += g[i] * d[i];
                for j in 0..k {
                    m += 0.5 * d[i] * h[i * k + j] * d[j];
                }
            }
            m
        };
        // Projected on the bounds, or cut at the first bound it crosses.
        let mut step: Vec<f64> = (0..k)
            .map(|j| (x[j] + full[j]).max(lower[j]) - x[j])
            .collect();
        let alpha = (0..k)
            .filter(|&j| x[j] + full[j] < lower[j])
            .map(|j| (lower[j] - x[j]) / full[j])
            .fold(1.0f64, f64::min);
        if alpha < 1.0 {
            let cut: Vec<f64> = full.iter().map(|d| alpha.max(0.0) * d).collect();
            if model(&cut) < model(&step) {
                step = cut;
            }
        }
        let predicted = -model(&step);
        if predicted.is_nan() || predicted <= 0.0 {
            // No decrease left that the model can see: at the precision limit.
            break;
        }
        let norm = step.iter().map(|d| d * d).sum::<f64>().sqrt();
        let trial: Vec<f64> = (0..k).map(|j| (x[j] + step[j]).max(lower[j])).collect();
        evaluations += 1;
        match oracle(&trial).filter(|d| d.0.is_finite()) {
            Some((ft, gt, ht)) => {
                let ratio = (f - ft) / predicted;
                if ratio < 0.25 {
                    radius = 0.25 * norm;
                } else if ratio > 0.75 && norm >= 0.99 * radius {
                    radius *= 2.0;
                }
                if ratio > 1e-4 {
                    (x, f, g, h) = (trial, ft, gt, ht);
                }
            }
            None => radius = 0.25 * norm,
        }
    }
    Some(Minimum {
        x,
        gradient: g,
        hessian: h,
        evaluations,
        converged,
    })
}

/// The minimiser of `gᵀs + ½ sᵀHs` over `‖s‖ ≤ Δ` (Moré & Sorensen 1983):
/// the Newton step when `H` is positive definite and the step fits, else
/// `s(μ) = −(H + μI)⁻¹g` with `μ > max(0, −λ_min)` and `‖s(μ)‖ = Δ`, found
/// by bisection, or in the hard case (`g ⟂` the lowest eigenvector) that
/// step plus the eigenvector to reach the boundary.
fn trust_step(g: &DVector<f64>, h: &DMatrix<f64>, delta: f64) -> DVector<f64> {
    let n = g.len();
    let eig = h.clone().symmetric_eigen();
    let (lam, q) = (&eig.eigenvalues, &eig.eigenvectors);
    let gq = q.transpose() * g;
    let (imin, lmin) =
        lam.iter().copied().enumerate().fold(
            (0, f64::INFINITY),
            |a, (i, v)| if v < a.1 { (i, v) } else { a },
        );
    let at = |mu: f64| -> DVector<f64> {
        DVector::from_fn(n, |i, _| {
            let den = lam[i] + mu;
            if den > 0.0 { -gq[i] / den } else { 0.0 }
        })
    };
    if lmin > 0.0 {
        let s = at(0.0);
        if s.norm() <= delta {
            return q * s;
        }
    }
    let lo0 = (-lmin).max(0.0);
    let scale = lam.iter().fold(1.0f64, |a, v| a.max(v.abs()));
    let start = lo0 + 1e-12 * scale;
    let s_lo = at(start);
    if s_lo.norm() < delta {
        // Hard case: the lowest eigenvector is (nearly) orthogonal to g.
        let mut s = s_lo;
        let tau = (delta * delta - s.norm_squared()).max(0.0).sqrt();
        s[imin] += tau;
        return q * s;
    }
    let (mut lo, mut hi) = (start, lo0 + g.norm() / delta + 1e-12 * scale);
    for _ in 0..200 {
        let mid = 0.5 * (lo + hi);
        if mid <= lo || mid >= hi {
            break;
        }
        if at(mid).norm() > delta {
            lo = mid;
        } else {
            hi = mid;
        }
    }
    q * at(hi)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rosenbrock(x: &[f64]) -> Option<Derivatives> {
        let (a, b) = (x[0], x[1]);
        let f = 100.0 * (b - a * a).powi(2) + (1.0 - a).powi(2);
        let g = vec![
            -400.0 * a * (b - a * a) - 2.0 * (1.0 - a),
            200.0 * (b - a * a),
        ];
        let h = vec![
            1200.0 * a * a - 400.0 * b + 2.0,
            -400.0 * a,
            -400.0 * a,
            200.0,
        ];
        Some((f, g, h))
    }

    #[test]
    fn rosenbrock_from_the_classic_start() {
        let m = minimise(
            rosenbrock,
            &[-1.2, 1.0],
            &[f64::NEG_INFINITY; 2],
            Options {
                max_evals: 100,
                decrement: 1e-20,
                radius: 1.0,
            },
        )
        .unwrap();
        assert!(m.converged, "{m:?}");
        assert!(
            (m.x[0] - 1.0).abs() < 1e-8 && (m.x[1] - 1.0).abs() < 1e-8,
            "{m:?}"
        );
        assert!(m.evaluations < 40, "{m:?}");
    }

    #[test]
    fn a_bound_that_binds_is_reached_exactly() {
        // min (a − 2)² + (b + 1)², b ≥ 0: the minimum is (2, 0).
        let f = |x: &[f64]| -> Option<Derivatives> {
            Some((
                (x[0] - 2.0).powi(2) + (x[1] + 1.0).powi(2),
                vec![2.0 * (x[0] - 2.0), 2.0 * (x[1] + 1.0)],
                vec![2.0, 0.0, 0.0, 2.0],
            ))
        };
        let m = minimise(
            f,
            &[0.5, 3.0],
            &[f64::NEG_INFINITY, 0.0],
            Options {
                max_evals: 50,
                decrement: 1e-14,
                radius: 1.0,
            },
        )
        .unwrap();
        assert!(m.converged, "{m:?}");
        assert_eq!(m.x[1], 0.0, "{m:?}");
        assert!((m.x[0] - 2.0).abs() < 1e-10, "{m:?}");
    }

    #[test]
    fn an_indefinite_start_and_undefined_regions_are_survived() {
        // f = x⁴/4 − x²/2 + y² has a saddle at 0 and minima at x = ±1;
        // undefined for y > 0.5.
        let f = |x: &[f64]| -> Option<Derivatives> {
            if x[1] > 0.5 {
                return None;
            }
            Some((
                x[0].powi(4) / 4.0 - x[0] * x[0] / 2.0 + x[1] * x[1],
                vec![x[0].powi(3) - x[0], 2.0 * x[1]],
                vec![3.0 * x[0] * x[0] - 1.0, 0.0, 0.0, 2.0],
            ))
        };
        let m = minimise(
            f,
            &[0.0, 0.4],
            &[f64::NEG_INFINITY; 2],
            Options {
                max_evals: 60,
                decrement: 1e-16,
                radius: 2.0,
            },
        )
        .unwrap();
        assert!(m.converged, "{m:?}");
        assert!(
            (m.x[0].abs() - 1.0).abs() < 1e-7 && m.x[1].abs() < 1e-7,
            "{m:?}"
        );
        assert!(m.evaluations <= 60);
    }
}
