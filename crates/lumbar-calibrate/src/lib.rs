//! Calibrating the simulator to a clinic's cohort (issue 17): the
//! parameters of a scenario's `[calibration.parameters]` fitted so that
//! cohorts simulated with them look like the observed one on the
//! calibration targets of [`lumbar_analysis::targets`].
//!
//! # Method: simulated moments with common random numbers
//!
//! * **Targets.** The observed cohort's targets t̂_k with their SEs s_k
//!   (from any `CohortSource`: a store; a target without a closed-form SE,
//!   a quartile or the slopes' SD, takes the SD of its bootstrap). A
//!   simulated cohort like the observed one gives t_k(θ) by the same code:
//!   the observed number of patients, patient i enrolling on observed
//!   patient i's date, nothing logged after the observed cut-off (the last
//!   session day), over the scenario's horizon ([`Observed::clinic`]).
//! * **Distance.** `D(θ) = Σ_k ((t_k(θ) − t̂_k) / s_k)²` over the targets
//!   both have (an SE of 0 or none leaves a target out). With independent
//!   targets this is −2 log-likelihood up to a constant.
//! * **Search.** Each parameter is walked on its prior's quantile scale,
//!   u ∈ (0, 1) with θ = F⁻¹(u), so bounds and skewed priors need no
//!   special care; Nelder–Mead ([`lumbar_stats::optim`]) from the prior
//!   medians. Every evaluation simulates with the same seed (common random
//!   numbers), so D changes with θ and not with the draws, as in McFadden
//!   (1989, Econometrica 57:995) and Gouriéroux & Monfort (1996,
//!   *Simulation-Based Econometric Methods*).
//! * **Uncertainty.** The targets are correlated (weekly means share the
//!   patients), so D is not a log-likelihood; the estimator's covariance
//!   is the observed cohort's part, the minimum-distance sandwich (Hansen
//!   1982; Gouriéroux & Monfort 1996, ch. 2) `A⁻¹ GᵀWΩWG A⁻¹`, `A = GᵀWG`,
//!   with G the targets' Jacobian at the estimate (central differences on
//!   the quantile scale, step 0.15), `W = diag(1/s²)` and Ω the covariance
//!   of the observed targets from a bootstrap of patients (Efron &
//!   Tibshirani 1993); plus the simulation's part, measured rather than
//!   assumed: the search is run with several seeds (`replicates`), the
//!   estimate is their mean, and the variance of that mean is added. (A
//!   decision that flips when θ moves re-randomises the rest of that
//!   patient's course, so common random numbers leave D rough, and the
//!   linearised `(1 + 1/R)` rule understated the simulation's share about
//!   twofold in a check of five seeds.) Each parameter's 90% interval is
//!   û ± 1.645 SD on the quantile scale, mapped back through F⁻¹.
//! * **Identification.** A parameter that moves no target (a zero column
//!   of G) keeps its prior's interval; see the rule below.
//! * **Draws.** `posterior.parquet` and a calibrated scenario's `[psa]`
//!   are draws of N(û, C) on the quantile scale mapped through F⁻¹ (C the
//!   sandwich plus the between-replicate variance), the normal
//!   approximation the intervals also use.
//!
//! # Method: ABC-SMC
//!
//! Approximate Bayesian computation by sequential Monte Carlo ([`abc`]):
//! the population Monte Carlo sampler of Beaumont, Cornuet, Marin & Robert
//! (2009, Biometrika 96:983) with the adaptive tolerances of Del Moral,
//! Doucet & Jasra (2012, Stat. Comput. 22:1009) and Drovandi & Pettitt
//! (2011, Biometrics 67:225): each generation's tolerance is the median
//! distance of the last, particles are moved by a Gaussian kernel of twice
//! their weighted covariance, and weighted by prior / proposal. The same
//! distance D, on the same quantile scale (where the priors are uniform),
//! with a fresh seed for every simulated cohort. The posterior is the
//! last generation's weighted particles; a parameter's 90% interval is
//! their weighted 5% and 95% quantiles.
//!
//! # Identification (both methods)
//!
//! A parameter whose 90% interval is not narrower than 0.9 of its prior's
//! central 90% is reported as not identified by these targets (the 0.9
//! leaves room for the Monte Carlo error of quantiles of a few hundred
//! particles, about 3% of the width). ABC-SMC also requires the interval
//! to be narrower than chance makes it with the posterior's weights (see
//! [`abc`]), which matters when the effective sample size is small.

#![forbid(unsafe_code)]

use lumbar_analysis::targets::{Target, targets};
use lumbar_model::cohort::{Cohort, CohortBuilder, MemoryCohort};
use lumbar_sim::engine::simulate_cohort;
use lumbar_sim::observed::CohortOptions;
use lumbar_sim::scenario::{PsaParameter, Scenario};
use nalgebra::{DMatrix, DVector};
use rand::{RngExt, SeedableRng};
use serde::Serialize;

pub mod abc;
pub mod dictionary;
mod moments;
pub mod replay;
pub mod svg;

pub use abc::{AbcSettings, Generation, fit_abc};
pub use moments::fit_moments;

/// How to fit.
#[derive(Debug, Clone, Copy)]
pub struct Settings {
    /// Most simulated cohorts the searches may use together (the
    /// estimate's, the Jacobian's 2k and the fitted targets' 1 come after).
    pub budget: usize,
    /// The seed of every simulated cohort (common random numbers).
    pub seed: u64,
    /// Simulated patients (the observed cohort's size).
    pub patients: u64,
    /// Searches, each with its own seed (seed, seed + 1, …): the estimate
    /// is their mean, and their spread is the simulation's share of its
    /// variance. At least 2 for an interval that includes it.
    pub replicates: usize,
}

/// One fitted parameter; `lower`/`upper` bound its 90% interval.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct ParameterFit {
    pub name: String,
    pub estimate: f64,
    pub lower: f64,
    pub upper: f64,
    pub identified: bool,
    /// The prior's central 90%, for comparison.
    pub prior_lower: f64,
    pub prior_upper: f64,
}

/// One target: observed with its SE, and simulated at the estimate with a
/// 90% interval of a cohort of that size.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct TargetFit {
    pub name: String,
    pub observed: f64,
    pub se: f64,
    pub simulated: f64,
    pub lower: f64,
    pub upper: f64,
}

#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct Diagnostics {
    pub method: String,
    /// Simulated cohorts, the Jacobian's included.
    pub simulations: usize,
    /// Nelder–Mead has one "generation": the search.
    pub generations: usize,
    /// The last generation's effective sample size, (Σw)²/Σw² (ABC-SMC).
    pub ess: Option<f64>,
    pub seconds: f64,
    /// D at the estimate (simulated moments) or the last tolerance (ABC-SMC).
    pub distance: f64,
    /// The simplex converged in the budget (simulated moments); the
    /// tolerance stopped shrinking before the budget ran out (ABC-SMC).
    pub converged: bool,
    pub targets_used: usize,
    /// Each generation's tolerance (ABC-SMC).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub tolerances: Vec<f64>,
    /// CPU seconds (summed over threads) simulating cohorts, and
    /// computing their targets: where the time goes.
    pub simulate_cpu_seconds: f64,
    pub targets_cpu_seconds: f64,
}

/// Draws from the posterior (ABC-SMC's weighted particles, or the
/// simulated-moments estimate's normal approximation on the quantile
/// scale): `draws[i][j]` is parameter j of draw i.
#[derive(Debug, Clone, PartialEq)]
pub struct Posterior {
    pub names: Vec<String>,
    pub draws: Vec<Vec<f64>>,
    /// Normalised to sum to 1.
    pub weights: Vec<f64>,
    /// Each draw's distance D (NaN for the normal approximation's).
    pub distances: Vec<f64>,
}

impl Posterior {
    /// `n` equally weighted draws by systematic resampling (Kitagawa 1996),
    /// deterministic: the PSA draws of a calibrated scenario.
    pub fn resampled(&self, n: usize) -> Vec<Vec<f64>> {
        let mut out = Vec::with_capacity(n);
        let mut cum = 0.0;
        let mut j = 0;
        for i in 0..n {
            let at = (i as f64 + 0.5) / n as f64;
            while j + 1 < self.weights.len() && cum + self.weights[j] < at {
                cum += self.weights[j];
                j += 1;
            }
            out.push(self.draws[j].clone());
        }
        out
    }
}

/// The weighted `p`-quantile of `values`: the smallest value whose
/// cumulative weight reaches `p` (R's `type = 1` for equal weights).
pub fn weighted_quantile(values: &[f64], weights: &[f64], p: f64) -> f64 {
    let mut order: Vec<usize> = (0..values.len())
        .filter(|&i| values[i].is_finite())
        .collect();
    order.sort_by(|&a, &b| values[a].total_cmp(&values[b]));
    let total: f64 = order.iter().map(|&i| weights[i]).sum();
    let mut cum = 0.0;
    for &i in &order {
        cum += weights[i];
        if cum >= p * total - 1e-12 * total {
            return values[i];
        }
    }
    order.last().map_or(f64::NAN, |&i| values[i])
}

/// A parameter is identified by the targets when its interval is
/// narrower than 0.9 of its prior's central 90% (see the crate's doc).
fn identified(lower: f64, upper: f64, prior_lower: f64, prior_upper: f64) -> bool {
    upper - lower < 0.9 * (prior_upper - prior_lower)
}

/// The fit, as `fit.json` holds it.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct Fit {
    pub parameters: Vec<ParameterFit>,
    pub targets: Vec<TargetFit>,
    pub diagnostics: Diagnostics,
    /// The posterior's draws (`posterior.parquet`), not part of fit.json.
    #[serde(skip)]
    pub posterior: Posterior,
}

#[derive(Debug, thiserror::Error)]
pub enum CalibrateError {
    #[error(
        "the scenario has no [calibration.parameters]: name at least one, e.g. \"dynamics.exercise_benefit\" = {{ dist = \"uniform\", low = 0.5, high = 3 }}"
    )]
    NoParameters,
    #[error(
        "no calibration target has a standard error in the observed cohort (too few patients?)"
    )]
    NoTargets,
    #[error(transparent)]
    Scenario(#[from] lumbar_sim::scenario::ScenarioError),
    #[error(transparent)]
    Sim(#[from] lumbar_sim::engine::SimError),
    #[error("replay: {0}")]
    Replay(String),
}

/// The observed cohort's targets, and their covariance from a bootstrap
/// of patients (rows and columns in the order of `targets`).
#[derive(Debug, Clone)]
pub struct Observed {
    pub targets: Vec<Target>,
    pub cov: DMatrix<f64>,
    pub bootstrap: usize,
    /// How a simulated cohort is logged to look like this one: the
    /// observed patients' enrolment dates (simulated patient i enrols on
    /// observed patient i's date) and the cut-off of the observed data
    /// (its last session day), so follow-up ends where the clinic's did.
    pub clinic: CohortOptions,
}

/// The cohort's patients drawn with replacement (each draw a patient of
/// its own, `b0`, `b1`, …, with the drawn patient's sessions and outcomes).
fn resample(c: &Cohort, rng: &mut rand_chacha::ChaCha8Rng) -> MemoryCohort {
    let n = c.patients.len();
    // Each patient's rows, by index (sessions and outcomes are sorted by patient).
    let ranges = |key: &dyn Fn(usize) -> usize, len: usize| {
        let mut r = vec![(0usize, 0usize); n];
        let mut i = 0;
        while i < len {
            let p = key(i);
            let start = i;
            while i < len && key(i) == p {
                i += 1;
            }
            r[p] = (start, i);
        }
        r
    };
    let s_at = ranges(&|i| c.sessions[i].patient, c.sessions.len());
    let o_at = ranges(&|i| c.outcomes[i].patient, c.outcomes.len());
    let mut out = Cohort::default();
    for b in 0..n {
        let p = rng.random_range(0..n);
        let mut patient = c.patients[p].clone();
        patient.id = format!("b{b}");
        out.patients.push(patient);
        for s in &c.sessions[s_at[p].0..s_at[p].1] {
            let mut s = s.clone();
            s.patient = b;
            out.sessions.push(s);
        }
        for o in &c.outcomes[o_at[p].0..o_at[p].1] {
            let mut o = o.clone();
            o.patient = b;
            out.outcomes.push(o);
        }
    }
    MemoryCohort {
        cohort: out,
        walking: Vec::new(),
    }
}

/// The targets of an observed cohort (sessions sorted by patient and time,
/// as `CohortSource::cohort` gives them) with their bootstrap covariance.
pub fn observe(
    cohort: Cohort,
    regimen: &lumbar_model::Regimen,
    weeks: u32,
    bootstrap: usize,
    seed: u64,
) -> Observed {
    let clinic = CohortOptions {
        walking: false,
        enrolment: Some(cohort.patients.iter().map(|p| p.enrolled_on).collect()),
        cutoff: cohort.sessions.iter().map(|s| s.performed_at.date()).max(),
        ..CohortOptions::default()
    };
    let whole = MemoryCohort {
        cohort,
        walking: Vec::new(),
    };
    let Ok(mut observed) = targets(&whole, regimen, weeks);
    // The targets bootstrapped: those with an SE, and those whose SE has
    // no closed form (NaN), which the bootstrap supplies.
    let candidates: Vec<usize> = (0..observed.len())
        .filter(|&i| usable(&observed[i]) || observed[i].se.is_nan())
        .collect();
    let m = candidates.len();
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(seed);
    let mut reps: Vec<DVector<f64>> = Vec::with_capacity(bootstrap);
    for _ in 0..bootstrap {
        let Ok(t) = targets(&resample(&whole.cohort, &mut rng), regimen, weeks);
        let v: Option<Vec<f64>> = candidates
            .iter()
            .map(|&u| {
                t.iter()
                    .find(|x| x.name == observed[u].name)
                    .map(|x| x.observed)
            })
            .collect();
        if let Some(v) = v {
            reps.push(DVector::from_vec(v));
        }
    }
    let mut cov = DMatrix::<f64>::zeros(m, m);
    if reps.len() > 1 {
        let mean = reps.iter().fold(DVector::zeros(m), |a, r| a + r) / reps.len() as f64;
        for r in &reps {
            let d = r - &mean;
            cov += &d * d.transpose();
        }
        cov /= (reps.len() - 1) as f64;
        for (j, &i) in candidates.iter().enumerate() {
            if observed[i].se.is_nan() {
                observed[i].se = cov[(j, j)].sqrt();
            }
        }
    } else {
        // No bootstrap: the targets taken as independent, and those
        // without a closed-form SE left out.
        for (j, &i) in candidates.iter().enumerate() {
            cov[(j, j)] = observed[i].se * observed[i].se;
        }
    }
    // Rows and columns of the targets now usable, in their order.
    let keep: Vec<usize> = (0..m)
        .filter(|&j| usable(&observed[candidates[j]]))
        .collect();
    let cov = cov.select_rows(&keep).select_columns(&keep);
    Observed {
        targets: observed,
        cov,
        bootstrap: reps.len(),
        clinic,
    }
}

/// A target with a usable SE.
pub(crate) fn usable(t: &Target) -> bool {
    t.se > 1e-12 && t.se.is_finite()
}

/// The quantile scale is kept off 0 and 1, where F⁻¹ may be infinite.
pub(crate) const U_MIN: f64 = 0.001;
pub(crate) const Z_95: f64 = 1.644_853_626_951_472_2;

/// The scenario as calibration simulates it: the observed size, one run,
/// no PSA, the fixed seed, and the parameters at `theta`.
pub(crate) fn scenario_at(
    base: &Scenario,
    params: &[PsaParameter],
    theta: &[f64],
    settings: &Settings,
) -> Result<Scenario, CalibrateError> {
    let mut s = base
        .with_patients(settings.patients)?
        .with_seed(settings.seed)?;
    s.psa = None;
    s.replications = 1;
    for (p, &v) in params.iter().zip(theta) {
        s = s.with_parameter(&p.path, v)?;
    }
    Ok(s)
}

/// Where a fit's time went, summed over threads: simulating the cohorts
/// (the engine and the clinic's log), and computing their targets.
#[derive(Debug, Default)]
pub struct TimeSplit {
    simulate_ns: std::sync::atomic::AtomicU64,
    targets_ns: std::sync::atomic::AtomicU64,
}

impl TimeSplit {
    /// (simulating, targets) in CPU seconds.
    pub fn seconds(&self) -> (f64, f64) {
        use std::sync::atomic::Ordering::Relaxed;
        (
            self.simulate_ns.load(Relaxed) as f64 * 1e-9,
            self.targets_ns.load(Relaxed) as f64 * 1e-9,
        )
    }
}

/// The targets of one cohort simulated from `s`, over its horizon, logged
/// as `clinic` says (enrolment dates and cut-off: [`Observed::clinic`]).
pub fn simulated_targets(
    s: &Scenario,
    clinic: &CohortOptions,
    time: &TimeSplit,
) -> Result<Vec<Target>, CalibrateError> {
    use std::sync::atomic::Ordering::Relaxed;
    let t0 = std::time::Instant::now();
    // At most one session per item a day, and an NRS and an ODI a week;
    // reserved up to a million rows (about 110 MB), beyond which the rows
    // grow as they come rather than a bound being claimed at once.
    const MOST: usize = 1 << 20;
    let n = s.patients as usize;
    let days = s.days() as usize;
    let mut builder = CohortBuilder::without_walking(
        n.min(MOST),
        n.saturating_mul(days)
            .saturating_mul(s.items.len().max(1))
            .min(MOST),
        n.saturating_mul(2 * (s.weeks as usize + 1)).min(MOST),
    );
    let opts = CohortOptions {
        walking: false,
        ..clinic.clone()
    };
    simulate_cohort(s, &opts, &mut builder, &|_| {})?;
    let cohort = builder.finish();
    let t1 = std::time::Instant::now();
    let Ok(t) = targets(&cohort, &s.regimen, s.weeks);
    time.simulate_ns
        .fetch_add((t1 - t0).as_nanos() as u64, Relaxed);
    time.targets_ns
        .fetch_add(t1.elapsed().as_nanos() as u64, Relaxed);
    Ok(t)
}

/// D: the squared SE-standardised distance over the targets both have.
pub(crate) fn distance(observed: &[Target], simulated: &[Target]) -> (f64, usize) {
    let mut d = 0.0;
    let mut used = 0;
    for o in observed.iter().filter(|o| usable(o)) {
        if let Some(t) = simulated.iter().find(|t| t.name == o.name) {
            d += ((t.observed - o.observed) / o.se).powi(2);
            used += 1;
        }
    }
    (d, used)
}

/// Φ(z): a standard normal deviate mapped to the quantile scale.
pub(crate) fn unit_from(z: f64) -> f64 {
    use statrs::distribution::ContinuousCDF;
    statrs::distribution::Normal::standard()
        .cdf(z)
        .clamp(U_MIN, 1.0 - U_MIN)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn weighted_quantiles_are_type_1_and_resampling_keeps_the_weights() {
        let x = [3.0, 1.0, 2.0, 4.0];
        let eq = [0.25; 4];
        // R: quantile(c(3, 1, 2, 4), c(0.25, 0.5, 0.9), type = 1) = 1, 2, 4
        assert_eq!(weighted_quantile(&x, &eq, 0.25), 1.0);
        assert_eq!(weighted_quantile(&x, &eq, 0.5), 2.0);
        assert_eq!(weighted_quantile(&x, &eq, 0.9), 4.0);
        assert_eq!(weighted_quantile(&x, &[0.0, 0.0, 0.0, 1.0], 0.05), 4.0);
        let p = Posterior {
            names: vec!["a".into()],
            draws: vec![vec![1.0], vec![2.0], vec![3.0]],
            weights: vec![0.5, 0.3, 0.2],
            distances: vec![0.0; 3],
        };
        let r = p.resampled(10);
        let count = |v: f64| r.iter().filter(|d| d[0] == v).count();
        assert_eq!((count(1.0), count(2.0), count(3.0)), (5, 3, 2));
    }
}
