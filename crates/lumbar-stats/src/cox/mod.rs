//! Cox proportional hazards regression, as R's `survival::coxph` fits it.
//!
//! Partial likelihood over the event times `t` of each stratum, with the
//! risk set `R(t) = {j : entry_j < t ≤ stop_j}` (left truncation through
//! `entry`), case weights `w`, risk scores `r = exp(xβ)` and the sums
//! `S0 = Σ_R w r`, `S1 = Σ_R w r x`, `S2 = Σ_R w r x xᵀ`; `D` are the `d`
//! tied events at `t`, `w̄` their mean weight:
//!
//! - Breslow: `ℓ = Σ_t [Σ_D w x β − (Σ_D w) log S0]`;
//! - Efron (R's default; Efron 1977): the `d` tied deaths leave the risk
//!   set gradually, `ℓ = Σ_t [Σ_D w x β − w̄ Σ_{k<d} log(S0 − (k/d) S0_D)]`,
//!   with score and information from the same partial denominators.
//!
//! Newton–Raphson from β = 0 with step halving whenever the log-likelihood
//! falls, to coxph's rule: a relative change below 1e-9, at most 20
//! iterations (`survival::coxph.control`; the loop of its C code coxfit6,
//! with the same iteration count). Covariates are centred first, as
//! R does (this changes nothing but the rounding). Tests: likelihood ratio
//! `2(ℓ(β̂) − ℓ(0))`, Wald `β̂ᵀ I(β̂) β̂`, score `U(0)ᵀ I(0)⁻¹ U(0)`.
//!
//! Robust variance (Lin & Wei 1989; R's `robust = TRUE` / `cluster`, and
//! R's default when case weights are not whole numbers; Wald's test then
//! uses it):
//! `V = Dᵀ D` with `D` the dfbeta residuals `w_i U_i I⁻¹`, summed within
//! clusters first. The score residual of observation i uses the Efron-
//! weighted means `a_k = (S1 − (k/d) S1_D)/(S0 − (k/d) S0_D)`:
//! `U_i = δ_i (x_i − (1/d) Σ_k a_k) − r_i Σ_t Σ_k c_ik (w̄/den_k)(x_i − a_k)`,
//! where `c_ik = 1` for an observation at risk, `1 − k/d` for one of the
//! deaths at t (Breslow: one term with k = 0).
//!
//! Concordance is Harrell's C as R's `concordance` computes it: over pairs
//! in the same stratum where one dies while the other is still at risk
//! (a censoring at the same time counts as still at risk), concordant when
//! the death has the higher risk score, ties in the score counting one half;
//! its standard error is R's too, the infinitesimal jackknife
//! (`pass::concordance::concordance` has the formula).

// Index loops mirror the sums in the formulas above.
#![allow(clippy::needless_range_loop)]

//!
//! The code is split by algorithm, as survival splits its C files:
//! - this module: the API, the types returned and the tie formulas
//!   ([`TieTerms`]) both passes share;
//! - `newton`: the fit (coxfit6's Newton–Raphson loop, the tests and
//!   warnings);
//! - `pass`: the event-time layout of the rows and the passes the Newton
//!   steps take over it (and one more at β̂ with cox.zph's weights per
//!   event time), and the Cox code's only unsafe code (the parallel
//!   scatter of the rows, the AVX2 kernel in `pass::kernel`, prefetches);
//!   `pass::robust`: the robust variance's score residuals on the same
//!   layout;
//!   `pass::concordance`: Harrell's C and its standard error, swept over
//!   the same layout;
//! - `riskset` (tests only): the reference sweep over risk sets by
//!   decreasing time, as survival's C code walks them, that the passes,
//!   the score residuals and cox.zph are tested against;
//! - `zph`: the cox.zph test. It and the concordance run at once, on two
//!   threads, after the fit.

use std::collections::HashMap;

use serde::Serialize;
use statrs::distribution::{ChiSquared, ContinuousCDF};

use crate::linalg::Coefficient;

mod newton;
mod pass;
#[cfg(test)]
mod riskset;
mod zph;

#[cfg(test)]
mod concordance_tests;

/// How tied event times are handled.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Ties {
    Efron,
    Breslow,
}

impl Ties {
    /// Every method, by its name (as `coxph(ties = )` spells it).
    pub const ALL: [(&'static str, Ties); 2] = [("efron", Ties::Efron), ("breslow", Ties::Breslow)];
}

impl std::str::FromStr for Ties {
    type Err = String;

    /// `efron` or `breslow`, as R's `coxph(ties = )`.
    fn from_str(s: &str) -> Result<Ties, String> {
        Ties::ALL
            .iter()
            .find(|(name, _)| *name == s)
            .map(|(_, t)| *t)
            .ok_or_else(|| format!("unknown ties method '{s}': efron or breslow"))
    }
}

/// The data of a Cox fit, complete cases only.
#[derive(Debug, Clone, Default)]
pub struct CoxData {
    pub stop: Vec<f64>,
    /// Entry (left-truncation) times; `None`: everyone at risk from time −∞.
    pub entry: Option<Vec<f64>>,
    pub event: Vec<bool>,
    /// Covariates by column.
    pub columns: Vec<Vec<f64>>,
    pub names: Vec<String>,
    pub strata: Option<Vec<String>>,
    pub weights: Option<Vec<f64>>,
    /// Cluster labels for a robust variance summed within clusters.
    pub cluster: Option<Vec<String>>,
    /// The model's terms as groups of columns (a factor's contrasts, an
    /// interaction's products), for cox.zph's per-term tests as R's
    /// `cox.zph(fit, terms = TRUE)` pools them; `None`: from the names
    /// (`x[LEVEL]` columns of one `x`, every other column its own term).
    pub terms: Option<Vec<(String, Vec<usize>)>>,
}

#[derive(Debug, Clone, Serialize)]
pub struct Test {
    pub statistic: f64,
    pub df: usize,
    pub p_value: f64,
}

impl Test {
    pub(super) fn new(statistic: f64, df: usize) -> Test {
        let p_value = ChiSquared::new(df as f64)
            .map(|c| c.sf(statistic))
            .unwrap_or(f64::NAN);
        Test {
            statistic,
            df,
            p_value,
        }
    }
}

#[derive(Debug, Clone, Serialize)]
pub struct Tests {
    pub likelihood_ratio: Test,
    pub wald: Test,
    pub score: Test,
}

#[derive(Debug, Clone, Serialize)]
pub struct ZphTest {
    pub term: String,
    #[serde(flatten)]
    pub test: Test,
}

/// The proportional-hazards test of R's `cox.zph` (transform "km").
#[derive(Debug, Clone, Serialize)]
pub struct Zph {
    pub transform: &'static str,
    pub terms: Vec<ZphTest>,
    pub global: Test,
}

#[derive(Debug, Clone, Serialize)]
pub struct CoxFit {
    pub n: usize,
    pub events: usize,
    pub ties: Ties,
    /// Log partial likelihood at β = 0 and at the estimate (R's `loglik`).
    pub loglik: [f64; 2],
    /// Harrell's C (NaN without diagnostics).
    pub concordance: f64,
    /// Its standard error as R's `summary(coxph)` prints it (`se(C)`,
    /// `fit$concordance["std"]`): the infinitesimal jackknife, summed
    /// within clusters when the fit has them (NaN without diagnostics).
    pub concordance_std_error: f64,
    pub terms: Vec<Coefficient>,
    /// Model-based SEs when a robust variance is reported in `terms`.
    pub naive_std_error: Option<Vec<f64>>,
    pub robust: bool,
    pub tests: Tests,
    pub zph: Option<Zph>,
    pub iterations: usize,
    pub converged: bool,
    /// Covariates whose coefficient seems to run to infinity (monotone likelihood).
    pub warnings: Vec<String>,
}

#[derive(Debug, thiserror::Error, PartialEq)]
pub enum CoxError {
    #[error("no complete observations to fit")]
    Empty,
    #[error("no events: a Cox model needs at least one")]
    NoEvents,
    #[error("covariate '{0}' is constant or collinear with the others; drop it")]
    Collinear(String),
    #[error("covariate '{0}' has values too large or not finite (its sum of squares overflows)")]
    NotFinite(String),
    #[error("observation {0} has a stop time not after its entry time")]
    Interval(usize),
    #[error("weights must be positive; observation {0} has {1}")]
    Weight(usize, f64),
    #[error("observation {0} has no {1} time (NaN)")]
    NoTime(usize, &'static str),
    #[error("column '{0}' has {1} values for {2} observations")]
    Length(String, usize, usize),
    #[error("{0} observations are more than a fit takes ({1}); split the data or sample it")]
    TooLarge(usize, usize),
}

/// Observations a fit takes at most: the layout numbers rows, segments and
/// places in 32 bits (2 segments an event time), so 2^31 keeps every index
/// and every sum of counts below 2^32.
pub const COX_MAX_ROWS: usize = (1 << 31) - 1;

/// Fits the model, with Harrell's concordance and the cox.zph test.
pub fn fit(data: &CoxData, ties: Ties, robust: bool) -> Result<CoxFit, CoxError> {
    fit_with(
        data,
        &CoxOptions {
            ties,
            robust,
            diagnostics: true,
        },
    )
}

/// What a fit computes.
#[derive(Debug, Clone, Copy)]
pub struct CoxOptions {
    pub ties: Ties,
    /// A robust (sandwich) variance even without clusters or fractional
    /// weights.
    pub robust: bool,
    /// Harrell's concordance and the cox.zph test. Without them the fit is
    /// the model only, as lifelines' `fit` gives it; `concordance` and its
    /// SE are then NaN and `zph` None.
    pub diagnostics: bool,
}

/// Fits the model with the options given. The rows are taken in the
/// caller's order: the passes, the robust variance and the concordance all
/// work on the event-time layout the fit builds, so nothing is sorted by
/// time first.
pub fn fit_with(data: &CoxData, opts: &CoxOptions) -> Result<CoxFit, CoxError> {
    newton::fit(data, opts)
}

/// As coxph: robust when asked, with a cluster, or with case weights that
/// are not whole numbers (they are then sampling weights, not counts).
pub(super) fn needs_robust(data: &CoxData, robust: bool) -> bool {
    robust
        || data.cluster.is_some()
        || data
            .weights
            .as_ref()
            .is_some_and(|w| w.iter().any(|v| v.fract() != 0.0))
}

/// coxph's `control$eps`: convergence when the relative change in the log
/// partial likelihood is at most this.
pub const COX_EPS: f64 = 1e-9;
/// coxph's `control$iter.max`.
pub const COX_MAX_ITER: usize = 20;

/// Each row's stratum numbered in order of first appearance, and how many
/// there are; `None` without strata.
pub(super) fn stratum_ids(data: &CoxData) -> Option<(Vec<u32>, usize)> {
    data.strata.as_deref().map(label_ids)
}

/// Each row's label numbered in order of first appearance (strata,
/// clusters), and how many labels there are.
pub(super) fn label_ids(labels: &[String]) -> (Vec<u32>, usize) {
    let mut ids: HashMap<&str, u32> = HashMap::new();
    let of_row = labels
        .iter()
        .map(|l| {
            let next = ids.len() as u32;
            *ids.entry(l.as_str()).or_insert(next)
        })
        .collect();
    (of_row, ids.len())
}

/// The tied deaths of one event time. Their partial terms j = 0..d
/// (Breslow: j = 0 with weight Σw) differ only in f = j/d, so their sums
/// over j reduce to five scalars c_ij = Σ_j wt f^i / den_j^j with
/// den_j = S0 − f D0. Then
///   Σ wt a_j          = c01 S1 − c11 D1,
///   Σ wt M2_j / den_j = c01 S2 − c11 D2,
///   Σ wt a_j a_jᵀ     = c02 S1S1ᵀ − c12 (S1D1ᵀ + D1S1ᵀ) + c22 D1D1ᵀ:
/// O(d + p²) per event time instead of O(d p²).
pub(super) struct TieTerms {
    /// Σ_j wt log den_j, the log-likelihood's denominator.
    pub(super) log_den: f64,
    pub(super) c01: f64,
    pub(super) c11: f64,
    // c02, c12, c22 times S0², with 1/S0: the products S1S1ᵀ/S0² are formed
    // from S1/S0, which stays on the covariates' scale. (S0 itself can span
    // e^±500 when a coefficient runs off; 1/S0² would overflow.)
    pub(super) c02: f64,
    pub(super) c12: f64,
    pub(super) c22: f64,
    pub(super) inv_s0: f64,
}

impl TieTerms {
    /// `deaths` tied deaths of summed weight `wsum`, with the risk set's S0
    /// and the deaths' D0.
    pub(super) fn new(ties: Ties, s0: f64, d0: f64, deaths: f64, wsum: f64) -> TieTerms {
        if ties == Ties::Breslow || deaths <= 1.0 {
            // One term, f = 0 (Efron with a single death is Breslow).
            let inv = 1.0 / s0;
            return TieTerms {
                log_den: wsum * s0.ln(),
                c01: wsum * inv,
                c11: 0.0,
                c02: wsum,
                c12: 0.0,
                c22: 0.0,
                inv_s0: inv,
            };
        }
        // Efron: the d terms share the weight w̄ = Σw / d, which is taken
        // out of the sums. One division per term, and Σ log den_j as the
        // log of Π den_j / S0 (each factor in (0, 1], the product taken
        // back to 1 before it can underflow): a log per event time, not
        // one per death, which was most of a pass with 300 deaths a day.
        let wt = wsum / deaths;
        let (mut c01, mut c11, mut c02, mut c12, mut c22) = (0.0, 0.0, 0.0, 0.0, 0.0);
        let (mut prod, mut logs) = (1.0f64, 0.0f64);
        let inv_s0 = 1.0 / s0;
        for j in 0..deaths as usize {
            let f = j as f64 / deaths;
            let den = s0 - f * d0;
            let inv = 1.0 / den;
            let ratio = s0 * inv;
            let inv2 = ratio * ratio;
            c01 += inv;
            c11 += f * inv;
            c02 += inv2;
            c12 += f * inv2;
            c22 += f * f * inv2;
            prod *= den * inv_s0;
            if prod < 1e-250 {
                logs += prod.ln();
                prod = 1.0;
            }
        }
        TieTerms {
            log_den: wt * (deaths * s0.ln() + logs + prod.ln()),
            c01: wt * c01,
            c11: wt * c11,
            c02: wt * c02,
            c12: wt * c12,
            c22: wt * c22,
            inv_s0,
        }
    }

    /// Entry (a, b) of Σ wt a_j a_jᵀ, from S1 and D1.
    pub(super) fn outer(&self, s1: &[f64], d1: &[f64], a: usize, b: usize) -> f64 {
        let is = self.inv_s0;
        let (sa, sb, da, db) = (s1[a] * is, s1[b] * is, d1[a] * is, d1[b] * is);
        self.c02 * sa * sb - self.c12 * (sa * db + da * sb) + self.c22 * da * db
    }
}

/// Columns grouped into terms as R's `assign` does: the levels `x[a]`,
/// `x[b]` of a categorical covariate are one term `x`.
pub(super) fn term_groups(names: &[String]) -> Vec<(String, Vec<usize>)> {
    let mut out: Vec<(String, Vec<usize>)> = Vec::new();
    for (j, n) in names.iter().enumerate() {
        let base = match n.find('[') {
            Some(i) if n.ends_with(']') => &n[..i],
            _ => n.as_str(),
        };
        match out.last_mut() {
            Some((b, cols)) if b == base => cols.push(j),
            _ => out.push((base.to_string(), vec![j])),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use nalgebra::DVector;

    use super::pass::EventTimes;
    use super::riskset::Problem;
    use super::*;

    /// One binary covariate, no ties: the score test is the log-rank test,
    /// and with Breslow and Efron alike the estimate solves U(β) = 0.
    /// The model-only fit never sorts the rows; with strata, late entry,
    /// case weights and ties it must give the full fit's numbers.
    /// A NaN time is refused with its observation (it has no place among
    /// the times), and −0 is the same time as 0 (they hash apart as bits).
    #[test]
    fn nan_times_are_refused_and_negative_zero_is_zero() {
        let mut d = tied_data(60, 2, 4);
        d.stop[6] = f64::NAN;
        assert!(matches!(
            fit(&d, Ties::Efron, false),
            Err(CoxError::NoTime(7, "stop"))
        ));
        let mut d = tied_data(60, 2, 4);
        d.entry.as_mut().unwrap()[2] = f64::NAN;
        assert!(matches!(
            fit(&d, Ties::Efron, false),
            Err(CoxError::NoTime(3, "entry"))
        ));
        // Deaths tied at 0, one written −0, beside later times.
        let mut d = tied_data(60, 2, 4);
        d.entry = None;
        for (i, t) in [0.0, 0.0, 0.0].into_iter().enumerate() {
            d.stop[i] = t;
            d.event[i] = true;
        }
        let zero = fit(&d, Ties::Efron, true).unwrap();
        d.stop[1] = -0.0;
        let signed = fit(&d, Ties::Efron, true).unwrap();
        assert_eq!(zero.loglik, signed.loglik);
        assert_eq!(zero.terms[0].std_error, signed.terms[0].std_error);
        assert_eq!(zero.concordance, signed.concordance);
        let global = |f: &CoxFit| f.zph.as_ref().map(|z| z.global.statistic);
        assert_eq!(global(&zero), global(&signed));
    }

    /// A column with another length than the times is refused by name
    /// (the layout joins columns by row; a short one would be read past or
    /// silently cut).
    #[test]
    fn columns_of_another_length_are_refused_by_name() {
        let base = tied_data(50, 2, 3);
        let mut d = base.clone();
        d.cluster = Some(vec!["a".into(); 49]);
        assert!(matches!(
            fit(&d, Ties::Efron, false),
            Err(CoxError::Length(name, 49, 50)) if name == "cluster"
        ));
        let mut d = base.clone();
        d.columns[1].pop();
        assert!(matches!(
            fit(&d, Ties::Efron, false),
            Err(CoxError::Length(name, 49, 50)) if name == "x1"
        ));
        let mut d = base;
        d.event.push(true);
        assert!(matches!(
            fit(&d, Ties::Efron, false),
            Err(CoxError::Length(name, 51, 50)) if name == "event"
        ));
    }

    #[test]
    fn the_model_alone_equals_the_full_fit_with_strata_entry_and_weights() {
        let mut unif = uniforms(12345);
        let n = 600;
        let mut d = CoxData {
            names: vec!["a".into(), "b".into()],
            columns: vec![Vec::new(), Vec::new()],
            entry: Some(Vec::new()),
            strata: Some(Vec::new()),
            weights: Some(Vec::new()),
            ..Default::default()
        };
        for _ in 0..n {
            let (a, b) = (unif() * 2.0 - 1.0, (unif() < 0.4) as u8 as f64);
            let entry = (unif() * 5.0).floor();
            let stop = entry + 1.0 + (unif() * 20.0 * (-0.5 * a - 0.3 * b).exp()).floor();
            d.columns[0].push(a);
            d.columns[1].push(b);
            d.entry.as_mut().unwrap().push(entry);
            d.stop.push(stop);
            d.event.push(unif() < 0.7);
            d.strata
                .as_mut()
                .unwrap()
                .push(if unif() < 0.5 { "x" } else { "y" }.into());
            d.weights
                .as_mut()
                .unwrap()
                .push(1.0 + (unif() * 3.0).floor());
        }
        for ties in [Ties::Efron, Ties::Breslow] {
            let full = fit(&d, ties, false).unwrap();
            let model = fit_with(
                &d,
                &CoxOptions {
                    ties,
                    robust: false,
                    diagnostics: false,
                },
            )
            .unwrap();
            // Rows summed in another order stop Newton at another point
            // within the convergence tolerance: β agrees to ~1e-9.
            let close = |x: f64, y: f64| (x - y).abs() <= 1e-10 * (1.0 + y.abs());
            let near = |x: f64, y: f64| (x - y).abs() <= 1e-8 * (1.0 + y.abs());
            for (m, f) in model.terms.iter().zip(&full.terms) {
                assert!(near(m.estimate, f.estimate), "{ties:?} {m:?} {f:?}");
                assert!(near(m.std_error, f.std_error), "{ties:?} {m:?} {f:?}");
            }
            assert!(close(model.loglik[0], full.loglik[0]));
            assert!(close(model.loglik[1], full.loglik[1]));
            assert!(close(
                model.tests.score.statistic,
                full.tests.score.statistic
            ));
            assert!(
                full.terms[0].estimate > 0.2,
                "the planted effect is found: {:?}",
                full.terms[0]
            );
            assert!(model.concordance.is_nan() && model.zph.is_none());
            assert!(model.concordance_std_error.is_nan());
            assert!(full.concordance > 0.5 && full.zph.is_some());
            assert!(full.concordance_std_error > 0.0);
        }
    }

    /// Uniform draws on [0, 1) from SplitMix64.
    pub(super) fn uniforms(mut seed: u64) -> impl FnMut() -> f64 {
        move || {
            seed = seed.wrapping_add(0x9E37_79B9_7F4A_7C15);
            let mut z = seed;
            z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
            z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
            ((z ^ (z >> 31)) >> 11) as f64 / (1u64 << 53) as f64
        }
    }

    /// n rows of p covariates (every third binary) with two strata, late
    /// entry, whole-number weights and tied times.
    pub(super) fn tied_data(n: usize, p: usize, seed: u64) -> CoxData {
        let mut unif = uniforms(seed);
        let mut d = CoxData {
            names: (0..p).map(|j| format!("x{j}")).collect(),
            columns: vec![Vec::new(); p],
            entry: Some(Vec::new()),
            strata: Some(Vec::new()),
            weights: Some(Vec::new()),
            ..Default::default()
        };
        for _ in 0..n {
            let mut lp = 0.0;
            for j in 0..p {
                let v = if j % 3 == 2 {
                    (unif() < 0.4) as u8 as f64
                } else {
                    unif() * 2.0 - 1.0
                };
                lp += 0.3 * v / (1.0 + j as f64);
                d.columns[j].push(v);
            }
            let entry = (unif() * 5.0).floor();
            d.entry.as_mut().unwrap().push(entry);
            d.stop
                .push(entry + 1.0 + (unif() * 20.0 * (-lp).exp()).floor());
            d.event.push(unif() < 0.7);
            let stratum = if unif() < 0.5 { "x" } else { "y" };
            d.strata.as_mut().unwrap().push(stratum.into());
            d.weights
                .as_mut()
                .unwrap()
                .push(1.0 + (unif() * 3.0).floor());
        }
        d
    }

    /// A pass over the rows by event time (one sweep, any thread count)
    /// gives the log-likelihood, score and information of the sorted sweep
    /// over risk sets, with strata, late entry, weights and ties, for 2
    /// covariates, 8 (the scatter's streaming stores) and 13 (no kernel of
    /// fixed size); on 1 and 3 threads to the bit.
    /// A pool of `threads` threads, for the tests that a result's bits do
    /// not depend on the thread count.
    pub(super) fn pool(threads: usize) -> rayon::ThreadPool {
        rayon::ThreadPoolBuilder::new()
            .num_threads(threads)
            .build()
            .unwrap()
    }

    #[test]
    fn a_pass_by_event_time_equals_the_sweep_over_risk_sets() {
        for p in [2, 8, 13] {
            let d = tied_data(700, p, 99 + p as u64);
            let means = column_means(&d);
            let beta = DVector::from_fn(p, |j, _| 0.4 * (j as f64 / p as f64 - 0.4));
            for ties in [Ties::Efron, Ties::Breslow] {
                let pass = EventTimes::new(&d, &means, ties).pass(&beta);
                let prob = Problem::new(&d, &means, ties);
                let (mut l, mut u, mut m) = (0.0, vec![0.0; p], vec![0.0; p * p]);
                prob.contributions(&beta, |_, lt, ut, mt| {
                    l += lt;
                    u.iter_mut().zip(ut).for_each(|(a, b)| *a += b);
                    m.iter_mut().zip(mt).for_each(|(a, b)| *a += b);
                });
                let close = |x: f64, y: f64| (x - y).abs() <= 1e-10 * (1.0 + y.abs());
                assert!(close(pass.loglik, l), "p {p} {ties:?}: {} {l}", pass.loglik);
                for a in 0..p {
                    assert!(close(pass.score[a], u[a]), "p {p} {ties:?} score {a}");
                    for b in 0..p {
                        let (x, y) = (pass.info[(a, b)], m[a * p + b]);
                        assert!(close(x, y), "p {p} {ties:?} info {a},{b}: {x} {y}");
                    }
                }
                let on = |threads| {
                    pool(threads).install(|| EventTimes::new(&d, &means, ties).pass(&beta))
                };
                let (one, three) = (on(1), on(3));
                assert_eq!(one.loglik.to_bits(), three.loglik.to_bits());
                assert_eq!(one.score, three.score);
                assert_eq!(one.info, three.info);
                assert_eq!(one.loglik.to_bits(), pass.loglik.to_bits());
            }
        }
    }

    /// Each covariate's mean, on which the fit centres it.
    pub(super) fn column_means(d: &CoxData) -> Vec<f64> {
        let n = d.stop.len() as f64;
        d.columns
            .iter()
            .map(|c| c.iter().sum::<f64>() / n)
            .collect()
    }

    /// The score residuals (the robust variance's) add up, weighted, to
    /// the score, and each is its definition summed event time by event
    /// time and partial term by partial term (with strata, late entry,
    /// weights and ties): the cumulative sums only regroup it.
    #[test]
    fn score_residuals_add_up_to_the_score_and_follow_their_definition() {
        for p in [2, 5] {
            let d = tied_data(400, p, 31 + p as u64);
            let n = d.stop.len();
            let means = column_means(&d);
            let beta = DVector::from_fn(p, |j, _| 0.3 * (j as f64 / p as f64 - 0.4));
            let close = |x: f64, y: f64| (x - y).abs() <= 1e-9 * (1.0 + y.abs());
            for ties in [Ties::Efron, Ties::Breslow] {
                let prob = Problem::new(&d, &means, ties);
                let resid = prob.score_residuals(&beta);
                let mut u = vec![0.0; p];
                prob.contributions(&beta, |_, _, ut, _| {
                    u.iter_mut().zip(ut).for_each(|(a, b)| *a += b)
                });
                for (j, uj) in u.iter().enumerate() {
                    let sum: f64 = (0..n).map(|i| prob.w(i) * resid[i * p + j]).sum();
                    assert!(close(sum, *uj), "{ties:?} p {p} score {j}: {sum} {uj}");
                }
                let mut stratum_of = vec![0; n];
                for (si, s) in prob.strata.iter().enumerate() {
                    s.by_stop.iter().for_each(|&k| stratum_of[k] = si);
                }
                let mut times = Vec::new();
                prob.sweep(&beta, false, |rs, deaths| {
                    let t = (d.stop[deaths[0]], stratum_of[deaths[0]], deaths.to_vec());
                    times.push((t, rs.s0, rs.s1.clone(), rs.d0, rs.d1.clone()));
                });
                let r = prob.risk_scores(&beta);
                let mut want = vec![0.0; n * p];
                for ((t, s, deaths), s0, s1, d0, d1) in &times {
                    let nd = deaths.len() as f64;
                    let wsum: f64 = deaths.iter().map(|&k| prob.w(k)).sum();
                    let parts = if ties == Ties::Efron { deaths.len() } else { 1 };
                    for k in 0..parts {
                        let f = if ties == Ties::Efron {
                            k as f64 / nd
                        } else {
                            0.0
                        };
                        let den = s0 - f * d0;
                        let h = if ties == Ties::Efron {
                            wsum / nd / den
                        } else {
                            wsum / den
                        };
                        let a: Vec<f64> = (0..p).map(|j| (s1[j] - f * d1[j]) / den).collect();
                        for i in 0..n {
                            let at_risk = prob.entry(i) < *t && *t <= d.stop[i];
                            if stratum_of[i] != *s || !at_risk {
                                continue;
                            }
                            let dies = deaths.contains(&i);
                            let c = if dies { 1.0 - f } else { 1.0 };
                            for j in 0..p {
                                let centred = prob.xi(i)[j] - a[j];
                                want[i * p + j] -= r[i] * c * h * centred;
                                if dies {
                                    want[i * p + j] += centred / parts as f64;
                                }
                            }
                        }
                    }
                }
                for (i, (x, y)) in resid.iter().zip(&want).enumerate() {
                    assert!(
                        close(*x, *y),
                        "{ties:?} p {p} row {} column {}: {x} {y}",
                        i / p,
                        i % p
                    );
                }
            }
        }
    }

    /// cox.zph from one more pass over the event-time layout (g a weight per
    /// event time) equals the reference sweep over the risk sets, with
    /// strata, late entry, weights and ties.
    #[test]
    fn zph_from_the_pass_equals_the_sweep_over_risk_sets() {
        for p in [2, 8, 13] {
            let d = tied_data(700, p, 7 + p as u64);
            let means = column_means(&d);
            let beta = DVector::from_fn(p, |j, _| 0.3 * (j as f64 / p as f64 - 0.5));
            let terms = term_groups(&d.names);
            for ties in [Ties::Efron, Ties::Breslow] {
                let times = EventTimes::new(&d, &means, ties);
                let ours = zph::zph(&times, &d, &beta, &terms);
                let reference = Problem::new(&d, &means, ties).zph_reference(&beta, &terms);
                let all = |z: &Zph| -> Vec<f64> {
                    z.terms
                        .iter()
                        .map(|t| t.test.statistic)
                        .chain([z.global.statistic])
                        .collect()
                };
                for (x, y) in all(&ours).into_iter().zip(all(&reference)) {
                    assert!(
                        (x - y).abs() <= 1e-9 * (1.0 + y.abs()) && y > 0.0,
                        "p {p} {ties:?}: {x} against {y}"
                    );
                }
            }
        }
    }

    #[test]
    fn score_test_equals_log_rank_without_ties() {
        let stop = vec![1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0, 8.0];
        let event = vec![true, true, false, true, true, true, false, true];
        let g = vec![1.0, 0.0, 1.0, 1.0, 0.0, 1.0, 0.0, 0.0];
        let d = CoxData {
            stop: stop.clone(),
            event: event.clone(),
            columns: vec![g.clone()],
            names: vec!["g".into()],
            ..Default::default()
        };
        let f = fit(&d, Ties::Efron, false).unwrap();
        let gid: Vec<usize> = g.iter().map(|v| *v as usize).collect();
        let lr = crate::survival::log_rank(&stop, &event, &gid, 2);
        assert!(
            (f.tests.score.statistic - lr.chisq).abs() < 1e-10,
            "{} vs {}",
            f.tests.score.statistic,
            lr.chisq
        );
        assert!(f.converged);
        let b = fit(&d, Ties::Breslow, false).unwrap();
        assert!(
            (b.terms[0].estimate - f.terms[0].estimate).abs() < 1e-12,
            "no ties: Breslow = Efron"
        );
    }

    #[test]
    fn constant_and_collinear_covariates_are_named() {
        let d = CoxData {
            stop: vec![1.0, 2.0, 3.0, 4.0],
            event: vec![true; 4],
            columns: vec![vec![1.0, 2.0, 3.0, 5.0], vec![2.0; 4]],
            names: vec!["age".into(), "site".into()],
            ..Default::default()
        };
        assert_eq!(
            fit(&d, Ties::Efron, false).unwrap_err(),
            CoxError::Collinear("site".into())
        );
        let d = CoxData {
            columns: vec![vec![1.0, 2.0, 3.0, 5.0], vec![2.0, 4.0, 6.0, 10.0]],
            names: vec!["age".into(), "age2".into()],
            ..d
        };
        assert_eq!(
            fit(&d, Ties::Efron, false).unwrap_err(),
            CoxError::Collinear("age2".into())
        );
    }

    #[test]
    fn a_separating_covariate_is_warned_about_not_nan() {
        // Everyone with x = 1 dies before everyone with x = 0.
        let d = CoxData {
            stop: vec![1.0, 2.0, 3.0, 4.0, 5.0, 6.0],
            event: vec![true; 6],
            columns: vec![vec![1.0, 1.0, 1.0, 0.0, 0.0, 0.0]],
            names: vec!["x".into()],
            ..Default::default()
        };
        let f = fit(&d, Ties::Efron, false).unwrap();
        assert!(f.terms[0].estimate.is_finite());
        assert_eq!(f.warnings.len(), 1);
        assert!(f.warnings[0].contains("'x'"));
    }
}

#[cfg(test)]
mod ties_tests {
    use super::Ties;

    /// R's names, and nothing else (`exact` is not implemented).
    #[test]
    fn ties_by_coxph_name() {
        assert_eq!("efron".parse::<Ties>(), Ok(Ties::Efron));
        assert_eq!("breslow".parse::<Ties>(), Ok(Ties::Breslow));
        let err = "exact".parse::<Ties>().unwrap_err();
        assert!(
            err.contains("'exact'") && err.contains("efron or breslow"),
            "{err}"
        );
    }
}
