//! Derivative-free minimisation: the Nelder–Mead simplex.
//!
//! # Contract
//!
//! `nelder_mead(f, x0, step, options)` minimises `f: ℝⁿ → ℝ` from `x0`,
//! starting from the simplex `x0, x0 + step_i·e_i` (i = 1 … n). `f` may
//! return `+∞` (or NaN, taken as `+∞`) where it is undefined; it is never
//! called more than `max_evals` times. Returns the best point, its value,
//! the evaluations used and whether the stopping rule was met.
//!
//! # Method
//!
//! Nelder & Mead (1965), *A simplex method for function minimization*,
//! Computer Journal 7:308–313, with the coefficients of R's `optim`
//! (reflection 1, expansion 2, contraction 0.5, shrink 0.5) and its
//! stopping rule: stop when the simplex's values agree to a relative
//! tolerance, `f_max − f_min ≤ reltol · (|f_min| + reltol)`. The
//! contractions are Lagarias et al. (1998, SIAM J. Optim. 9:112) outside
//! and inside contractions. Deterministic: ties keep the earlier vertex.

/// When to stop.
#[derive(Debug, Clone, Copy)]
pub struct NelderMeadOptions {
    pub max_evals: usize,
    /// R's `reltol` (default `1e-8`).
    pub reltol: f64,
}

impl Default for NelderMeadOptions {
    fn default() -> Self {
        NelderMeadOptions {
            max_evals: 500,
            reltol: 1e-8,
        }
    }
}

/// The minimum found.
#[derive(Debug, Clone, PartialEq)]
pub struct Minimum {
    pub x: Vec<f64>,
    pub value: f64,
    pub evaluations: usize,
    /// The simplex's values agreed to `reltol` before `max_evals`.
    pub converged: bool,
}

/// Minimises `f` by the Nelder–Mead simplex (see the module's doc).
pub fn nelder_mead(
    mut f: impl FnMut(&[f64]) -> f64,
    x0: &[f64],
    step: &[f64],
    options: NelderMeadOptions,
) -> Minimum {
    let n = x0.len();
    let mut evals = 0usize;
    let mut eval = |x: &[f64], evals: &mut usize| -> f64 {
        *evals += 1;
        let v = f(x);
        if v.is_nan() { f64::INFINITY } else { v }
    };
    let mut simplex: Vec<(Vec<f64>, f64)> = Vec::with_capacity(n + 1);
    let v0 = eval(x0, &mut evals);
    simplex.push((x0.to_vec(), v0));
    for i in 0..n {
        if evals >= options.max_evals {
            break;
        }
        let mut x = x0.to_vec();
        x[i] += if step[i] != 0.0 { step[i] } else { 0.1 };
        let v = eval(&x, &mut evals);
        simplex.push((x, v));
    }
    let mut converged = false;
    while simplex.len() == n + 1 && evals < options.max_evals {
        // Best first; stable, so ties keep the earlier vertex.
        simplex.sort_by(|a, b| a.1.total_cmp(&b.1));
        let (lo, hi) = (simplex[0].1, simplex[n].1);
        if hi.is_finite() && hi - lo <= options.reltol * (lo.abs() + options.reltol) {
            converged = true;
            break;
        }
        let mut centroid = vec![0.0; n];
        for (x, _) in &simplex[..n] {
            for (c, xi) in centroid.iter_mut().zip(x) {
                *c += xi / n as f64;
            }
        }
        let toward = |t: f64| -> Vec<f64> {
            centroid
                .iter()
                .zip(&simplex[n].0)
                .map(|(c, w)| c + t * (w - c))
                .collect()
        };
        let xr = toward(-1.0);
        let fr = eval(&xr, &mut evals);
        if fr < simplex[0].1 {
            let xe = toward(-2.0);
            let fe = if evals < options.max_evals {
                eval(&xe, &mut evals)
            } else {
                f64::INFINITY
            };
            simplex[n] = if fe < fr { (xe, fe) } else { (xr, fr) };
            continue;
        }
        if fr < simplex[n - 1].1 {
            simplex[n] = (xr, fr);
            continue;
        }
        if evals >= options.max_evals {
            break;
        }
        // Contract: outside when the reflection improved on the worst.
        let (xc, fc) = if fr < simplex[n].1 {
            let xc = toward(-0.5);
            let fc = eval(&xc, &mut evals);
            (xc, fc.min(f64::INFINITY))
        } else {
            let xc = toward(0.5);
            let fc = eval(&xc, &mut evals);
            (xc, fc)
        };
        if fc < simplex[n].1.min(fr) {
            simplex[n] = (xc, fc);
            continue;
        }
        // Shrink toward the best vertex.
        let best = simplex[0].0.clone();
        for vertex in simplex.iter_mut().skip(1) {
            if evals >= options.max_evals {
                break;
            }
            let x: Vec<f64> = best
                .iter()
                .zip(&vertex.0)
                .map(|(b, v)| b + 0.5 * (v - b))
                .collect();
            let v = eval(&x, &mut evals);
            *vertex = (x, v);
        }
    }
    simplex.sort_by(|a, b| a.1.total_cmp(&b.1));
    let (x, value) = simplex.swap_remove(0);
    Minimum {
        x,
        value,
        evaluations: evals,
        converged,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rosenbrock_from_r_optims_start_reaches_the_minimum() {
        // R: optim(c(-1.2, 1), fr) (Nelder-Mead) gives par 1.000260 1.000506,
        // value 8.825241e-08 after 195 evaluations.
        let fr = |x: &[f64]| 100.0 * (x[1] - x[0] * x[0]).powi(2) + (1.0 - x[0]).powi(2);
        let m = nelder_mead(fr, &[-1.2, 1.0], &[0.12, 0.1], NelderMeadOptions::default());
        assert!(m.converged, "{m:?}");
        assert!(
            (m.x[0] - 1.0).abs() < 2e-3 && (m.x[1] - 1.0).abs() < 4e-3,
            "{m:?}"
        );
        assert!(m.value < 1e-6, "{m:?}");
        assert!(m.evaluations < 400, "{m:?}");
    }

    #[test]
    fn a_quadratic_bowl_in_three_dimensions() {
        let f = |x: &[f64]| {
            (x[0] - 1.0).powi(2) + 2.0 * (x[1] + 2.0).powi(2) + 3.0 * (x[2] - 0.5).powi(2)
        };
        let m = nelder_mead(
            f,
            &[0.0; 3],
            &[0.5; 3],
            NelderMeadOptions {
                max_evals: 2000,
                reltol: 1e-14,
            },
        );
        for (x, want) in m.x.iter().zip([1.0, -2.0, 0.5]) {
            assert!((x - want).abs() < 1e-5, "{m:?}");
        }
    }

    #[test]
    fn the_budget_is_never_exceeded_and_infinities_are_avoided() {
        let mut calls = 0;
        let f = |x: &[f64]| {
            calls += 1;
            if x[0] < 0.0 {
                f64::NAN
            } else {
                (x[0] - 3.0).powi(2)
            }
        };
        let m = nelder_mead(
            f,
            &[1.0],
            &[1.0],
            NelderMeadOptions {
                max_evals: 25,
                reltol: 0.0,
            },
        );
        assert!(m.evaluations <= 25 && calls <= 25, "{m:?} {calls}");
        assert!((m.x[0] - 3.0).abs() < 0.1, "{m:?}");
    }
}
