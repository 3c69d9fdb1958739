//! Small linear algebra shared by the regressions: a fitted coefficient
//! with its Wald interval, and the singularity checks that name the column
//! to drop.
//!
//! - [`Coefficient`]: `z = β/SE`, `p = 2(1 − Φ(|z|))`, the interval
//!   `exp(β ± z_0.975 SE)` (Wald's);
//! - [`is_singular`]: the smallest eigenvalue of the correlation form
//!   `D^{-1/2} XᵀX D^{-1/2}` under 1e-10, as a rank test that does not
//!   depend on the covariates' scales;
//! - [`worst_column`]: the column whose removal leaves the best-conditioned
//!   cross-product (largest smallest eigenvalue of the correlation form).

use nalgebra::DMatrix;
use serde::Serialize;
use statrs::distribution::{ContinuousCDF, Normal};

/// One term of a fitted model, on the log scale with ratio-scale intervals.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct Coefficient {
    pub term: String,
    pub estimate: f64,
    pub std_error: f64,
    pub z: f64,
    pub p_value: f64,
    pub exp_estimate: f64,
    pub conf_low: f64,
    pub conf_high: f64,
}

/// 97.5th percentile of the standard normal.
pub const Z_975: f64 = 1.959_963_984_540_054;

impl Coefficient {
    pub fn new(term: &str, estimate: f64, std_error: f64) -> Coefficient {
        let z = estimate / std_error;
        // ok: the standard normal's parameters are valid.
        let n = Normal::new(0.0, 1.0).expect("standard normal");
        Coefficient {
            term: term.into(),
            estimate,
            std_error,
            z,
            p_value: 2.0 * n.sf(z.abs()),
            exp_estimate: estimate.exp(),
            conf_low: (estimate - Z_975 * std_error).exp(),
            conf_high: (estimate + Z_975 * std_error).exp(),
        }
    }

    /// The same coefficient with its Wald interval at confidence `level`
    /// (0.95 gives the default `exp(β ± 1.959964·SE)`); `None` when the
    /// level is not strictly between 0 and 1.
    pub fn at_level(&self, level: f64) -> Option<Coefficient> {
        if !(level > 0.0 && level < 1.0) {
            return None;
        }
        // ok: the standard normal's parameters are valid.
        let z = Normal::new(0.0, 1.0)
            .expect("standard normal")
            .inverse_cdf(0.5 + level / 2.0);
        Some(Coefficient {
            conf_low: (self.estimate - z * self.std_error).exp(),
            conf_high: (self.estimate + z * self.std_error).exp(),
            ..self.clone()
        })
    }
}

/// The column whose removal leaves the best-conditioned XᵀX: the one to name
/// when the design is singular.
pub fn worst_column(xtx: &DMatrix<f64>) -> usize {
    let p = xtx.nrows();
    let scaled = |m: &DMatrix<f64>| -> f64 {
        let d: Vec<f64> = (0..m.nrows())
            .map(|i| m[(i, i)].max(1e-300).sqrt())
            .collect();
        let c = DMatrix::from_fn(m.nrows(), m.ncols(), |i, j| m[(i, j)] / (d[i] * d[j]));
        c.symmetric_eigenvalues()
            .iter()
            .cloned()
            .fold(f64::INFINITY, f64::min)
    };
    let mut best = (p - 1, f64::NEG_INFINITY);
    for drop in (1..p).rev() {
        let keep: Vec<usize> = (0..p).filter(|&j| j != drop).collect();
        let sub = DMatrix::from_fn(keep.len(), keep.len(), |i, j| xtx[(keep[i], keep[j])]);
        let e = scaled(&sub);
        if e > best.1 {
            best = (drop, e);
        }
    }
    best.0
}

/// Whether a cross-product matrix is numerically singular (smallest
/// eigenvalue of its correlation form under 1e-10).
pub fn is_singular(xtx: &DMatrix<f64>) -> bool {
    let d: Vec<f64> = (0..xtx.nrows()).map(|i| xtx[(i, i)].sqrt()).collect();
    if d.iter().any(|v| *v <= 0.0 || !v.is_finite()) {
        return true;
    }
    let c = DMatrix::from_fn(xtx.nrows(), xtx.ncols(), |i, j| xtx[(i, j)] / (d[i] * d[j]));
    c.symmetric_eigenvalues()
        .iter()
        .cloned()
        .fold(f64::INFINITY, f64::min)
        < 1e-10
}

#[cfg(test)]
mod tests {
    use super::*;

    /// R: `exp(0.5 + c(-1, 1) * qnorm(0.95) * 0.2)` = 1.186525…, 2.290959….
    #[test]
    fn intervals_at_another_level() {
        let c = Coefficient::new("x", 0.5, 0.2);
        let d = c.at_level(0.95).unwrap();
        assert!((d.conf_low - c.conf_low).abs() < 1e-12);
        let e = c.at_level(0.90).unwrap();
        assert!(
            (e.conf_low - 1.186_525_483_583_726_7).abs() < 1e-9,
            "{}",
            e.conf_low
        );
        assert!(
            (e.conf_high - 2.290_959_499_874_265).abs() < 1e-9,
            "{}",
            e.conf_high
        );
        assert!(c.at_level(1.0).is_none() && c.at_level(f64::NAN).is_none());
    }
}
