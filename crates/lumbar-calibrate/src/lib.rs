//! Calibrating the simulator to a clinic's cohort (issue 17): the
//! parameters of a scenario's `[calibration.parameters]` fitted so that
//! cohorts simulated with them look like the observed one on the
//! calibration targets of [`lumbar_analysis::targets`].
//!
//! # Method: simulated moments with common random numbers
//!
//! * **Targets.** The observed cohort's targets t̂_k with their SEs s_k
//!   (from any `CohortSource`: a store). A simulated cohort with the
//!   observed cohort's number of patients and the scenario's horizon gives
//!   t_k(θ) by the same code.
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
//!   of G), or whose interval is not narrower than its prior's central
//!   90%, is reported as not identified by these targets.
//!
//! ABC-SMC (Beaumont et al. 2009; Del Moral et al. 2012), the posterior
//! draws and the replay are issue 17's later parts.

#![forbid(unsafe_code)]

use lumbar_analysis::targets::{Target, targets};
use lumbar_model::cohort::{Cohort, CohortBuilder, MemoryCohort};
use lumbar_sim::engine::simulate_cohort;
use lumbar_sim::observed::CohortOptions;
use lumbar_sim::scenario::{PsaParameter, Scenario};
use lumbar_stats::optim::{NelderMeadOptions, nelder_mead};
use nalgebra::{DMatrix, DVector};
use rand::{RngExt, SeedableRng};
use serde::Serialize;

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
    /// An importance-sampling quantity of ABC-SMC: none here.
    pub ess: Option<f64>,
    pub seconds: f64,
    /// D at the estimate, and whether the simplex converged in the budget.
    pub distance: f64,
    pub converged: bool,
    pub targets_used: usize,
}

/// The fit, as `fit.json` holds it.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct Fit {
    pub parameters: Vec<ParameterFit>,
    pub targets: Vec<TargetFit>,
    pub diagnostics: Diagnostics,
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
}

/// The observed cohort's targets, and their covariance from a bootstrap
/// of patients (rows and columns in the order of `targets`).
#[derive(Debug, Clone)]
pub struct Observed {
    pub targets: Vec<Target>,
    pub cov: DMatrix<f64>,
    pub bootstrap: usize,
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
    let whole = MemoryCohort {
        cohort,
        walking: Vec::new(),
    };
    let Ok(observed) = targets(&whole, regimen, weeks);
    let used: Vec<&Target> = observed.iter().filter(|t| usable(t)).collect();
    let m = used.len();
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(seed);
    let mut reps: Vec<DVector<f64>> = Vec::with_capacity(bootstrap);
    for _ in 0..bootstrap {
        let Ok(t) = targets(&resample(&whole.cohort, &mut rng), regimen, weeks);
        let v: Option<Vec<f64>> = used
            .iter()
            .map(|u| t.iter().find(|x| x.name == u.name).map(|x| x.observed))
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
    } else {
        // No bootstrap: the targets taken as independent.
        for (i, t) in used.iter().enumerate() {
            cov[(i, i)] = t.se * t.se;
        }
    }
    Observed {
        targets: observed,
        cov,
        bootstrap: reps.len(),
    }
}

/// A target with a usable SE.
fn usable(t: &Target) -> bool {
    t.se > 1e-12 && t.se.is_finite()
}

/// The quantile scale is kept off 0 and 1, where F⁻¹ may be infinite.
const U_MIN: f64 = 0.001;
const Z_95: f64 = 1.644_853_626_951_472_2;

/// The scenario as calibration simulates it: the observed size, one run,
/// no PSA, the fixed seed, and the parameters at `theta`.
fn scenario_at(
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

/// The targets of one cohort simulated from `s`, over its horizon.
pub fn simulated_targets(s: &Scenario) -> Result<Vec<Target>, CalibrateError> {
    let mut builder = CohortBuilder::default();
    simulate_cohort(s, &CohortOptions::default(), &mut builder, &|_| {})?;
    let cohort = builder.finish();
    let Ok(t) = targets(&cohort, &s.regimen, s.weeks);
    Ok(t)
}

/// D: the squared SE-standardised distance over the targets both have.
fn distance(observed: &[Target], simulated: &[Target]) -> (f64, usize) {
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

/// Fits the scenario's calibration parameters to the observed targets by
/// simulated moments (see the crate's doc).
pub fn fit_moments(
    base: &Scenario,
    observed_all: &Observed,
    settings: &Settings,
) -> Result<Fit, CalibrateError> {
    let observed = &observed_all.targets[..];
    let started = std::time::Instant::now();
    let params = base.calibration.clone();
    if params.is_empty() {
        return Err(CalibrateError::NoParameters);
    }
    let k = params.len();
    let theta_of = |u: &[f64]| -> Vec<f64> {
        params
            .iter()
            .zip(u)
            .map(|(p, &u)| p.prior.quantile(u))
            .collect()
    };
    let mut simulations = 0usize;
    let mut first_error = None;
    let mut d_at = |u: &[f64], seed: u64| -> f64 {
        if u.iter().any(|&x| !(U_MIN..=1.0 - U_MIN).contains(&x)) {
            return f64::INFINITY;
        }
        simulations += 1;
        let at_seed = Settings { seed, ..*settings };
        match scenario_at(base, &params, &theta_of(u), &at_seed).and_then(|s| simulated_targets(&s))
        {
            Ok(t) => distance(observed, &t).0,
            Err(e) => {
                first_error.get_or_insert(e);
                f64::INFINITY
            }
        }
    };
    if !observed.iter().any(usable) {
        return Err(CalibrateError::NoTargets);
    }
    // One search per replicate seed; the estimate is their mean, and their
    // spread measures what the simulation and the search add.
    let replicates = settings.replicates.max(1);
    let mut found = Vec::with_capacity(replicates);
    for j in 0..replicates {
        let seed = settings.seed.wrapping_add(j as u64);
        let min = nelder_mead(
            |u| d_at(u, seed),
            &vec![0.5; k],
            &vec![0.25; k],
            NelderMeadOptions {
                max_evals: (settings.budget / replicates).max(k + 2),
                reltol: 1e-4,
            },
        );
        if !min.value.is_finite() {
            return Err(first_error.unwrap_or(CalibrateError::NoTargets));
        }
        found.push(min);
    }
    let converged = found.iter().all(|m| m.converged);
    let u: Vec<f64> = (0..k)
        .map(|i| found.iter().map(|m| m.x[i]).sum::<f64>() / replicates as f64)
        .collect();
    // Between-replicate variance of the mean (zero with one replicate).
    let between: Vec<f64> = (0..k)
        .map(|i| {
            if replicates < 2 {
                return 0.0;
            }
            let v = found.iter().map(|m| (m.x[i] - u[i]).powi(2)).sum::<f64>()
                / (replicates - 1) as f64;
            v / replicates as f64
        })
        .collect();
    let f0 = d_at(&u, settings.seed);
    // The targets' Jacobian at the estimate, by central differences (step h).
    let h = 0.15;
    let used: Vec<&Target> = observed.iter().filter(|t| usable(t)).collect();
    let m = used.len();
    let mut sims = 0usize;
    let mut targets_at = |v: &[f64]| -> Result<Vec<f64>, CalibrateError> {
        sims += 1;
        let t = simulated_targets(&scenario_at(base, &params, &theta_of(v), settings)?)?;
        Ok(used
            .iter()
            .map(|o| {
                t.iter()
                    .find(|x| x.name == o.name)
                    .map_or(f64::NAN, |x| x.observed)
            })
            .collect())
    };
    let mut g = DMatrix::<f64>::zeros(m, k);
    let mut steps = vec![0.0; k];
    for i in 0..k {
        let mut up = u.clone();
        let mut down = u.clone();
        up[i] = (u[i] + h).min(1.0 - U_MIN);
        down[i] = (u[i] - h).max(U_MIN);
        steps[i] = up[i] - down[i];
        let (tp, tm) = (targets_at(&up)?, targets_at(&down)?);
        for r in 0..m {
            g[(r, i)] = (tp[r] - tm[r]) / steps[i];
        }
    }
    simulations += sims;
    let wdiag = DVector::from_iterator(m, used.iter().map(|t| 1.0 / (t.se * t.se)));
    let w = DMatrix::from_diagonal(&wdiag);
    // Parameters that move no target are left out of the sandwich.
    let moves = |i: usize| g.column(i).iter().any(|x| x.is_finite() && x.abs() > 1e-12);
    let seen: Vec<usize> = (0..k).filter(|&i| moves(i)).collect();
    let gs = DMatrix::from_fn(m, seen.len(), |r, c| {
        let x = g[(r, seen[c])];
        if x.is_finite() { x } else { 0.0 }
    });
    let omega = &observed_all.cov;
    let cov = if omega.nrows() == m && !seen.is_empty() {
        let a_mat = gs.transpose() * &w * &gs;
        a_mat.clone().try_inverse().map(|ai| {
            let meat = gs.transpose() * &w * omega * &w * &gs;
            let c = &ai * meat * &ai; // the observed cohort's part
            let mut full = DMatrix::<f64>::zeros(k, k);
            for (a, &i) in seen.iter().enumerate() {
                for (b, &j) in seen.iter().enumerate() {
                    full[(i, j)] = c[(a, b)];
                }
            }
            full
        })
    } else {
        None
    };
    let theta = theta_of(&u);
    let parameters = params
        .iter()
        .enumerate()
        .map(|(i, p)| {
            let (prior_lower, prior_upper) = (p.prior.quantile(0.05), p.prior.quantile(0.95));
            let (lower, upper) = match &cov {
                Some(c) if c[(i, i)] > 0.0 && seen.contains(&i) => {
                    let sd = (c[(i, i)] + between[i]).sqrt();
                    (
                        p.prior.quantile((u[i] - Z_95 * sd).max(U_MIN)),
                        p.prior.quantile((u[i] + Z_95 * sd).min(1.0 - U_MIN)),
                    )
                }
                _ => (prior_lower, prior_upper),
            };
            ParameterFit {
                name: p.path.clone(),
                estimate: theta[i],
                lower,
                upper,
                identified: upper - lower < prior_upper - prior_lower,
                prior_lower,
                prior_upper,
            }
        })
        .collect();
    let at_fit = simulated_targets(&scenario_at(base, &params, &theta, settings)?)?;
    simulations += 1;
    let targets = observed
        .iter()
        .filter(|o| usable(o))
        .filter_map(|o| {
            let t = at_fit.iter().find(|t| t.name == o.name)?;
            Some(TargetFit {
                name: o.name.clone(),
                observed: o.observed,
                se: o.se,
                simulated: t.observed,
                lower: t.observed - Z_95 * t.se,
                upper: t.observed + Z_95 * t.se,
            })
        })
        .collect();
    Ok(Fit {
        parameters,
        targets,
        diagnostics: Diagnostics {
            method: "simulated-moments".into(),
            simulations,
            generations: 1,
            ess: None,
            seconds: started.elapsed().as_secs_f64(),
            distance: f0,
            converged,
            targets_used: m,
        },
    })
}
