//! ABC-SMC: approximate Bayesian computation by sequential Monte Carlo.
//!
//! # Contract
//!
//! `fit_abc(base, observed, settings, progress)` draws `particles`
//! parameter sets from the approximate posterior of the scenario's
//! `[calibration.parameters]` given the observed targets, using at most
//! `budget` simulated cohorts (each of the observed cohort's size).
//! Deterministic given `seed` at any thread count: candidate c of round r
//! of generation t draws from its own stream, keyed by (seed, t, c, r),
//! and candidates are kept in their order.
//!
//! # Algorithm
//!
//! Population Monte Carlo ABC (Beaumont, Cornuet, Marin & Robert 2009,
//! *Adaptive approximate Bayesian computation*, Biometrika 96:983–990) on
//! the quantile scale u = F(θ), where the independent priors are uniform
//! on [0.001, 0.999]ᵏ:
//!
//! 1. Generation 0: N particles from the prior, each simulated once; all
//!    kept (ε₀ = ∞), weights 1/N.
//! 2. Generation t: the tolerance ε_t is the weighted median of the last
//!    generation's distances (adaptive tolerances: Del Moral, Doucet &
//!    Jasra 2012, Stat. Comput. 22:1009–1020; Drovandi & Pettitt 2011,
//!    Biometrics 67:225–233). Each slot picks a particle j with
//!    probability w_j, moves it by N(0, 2Σ) (Σ the weighted covariance of
//!    the last generation, Beaumont et al.'s choice), rejects a move off
//!    the unit cube, simulates a cohort with a fresh seed and keeps the
//!    move if its distance D ≤ ε_t, else tries again. The kept particle's
//!    weight is π(u) / Σ_j w_j K(u | u_j), π constant on the cube.
//! 3. Stop when the next tolerance would be above 0.95 ε_t (the tolerance
//!    stops shrinking), when a generation accepted fewer than 1.5% of its
//!    moves, or when the budget cannot pay for another generation. A
//!    generation that runs out of budget half-way is discarded whole (a
//!    partial one would not be a sample): the last whole one is the
//!    posterior.
//!
//! A parameter is identified by the crate's rule (its interval under 0.9
//! of the prior's central 90%) and, on the quantile scale, narrower than
//! 95% of the intervals the same weights give to values the targets do
//! not see (uniform draws): with few effective particles, weighted
//! quantiles alone make an unseen parameter look narrowed by chance.
//!
//! The distance is the crate's D, the squared SE-standardised distance of
//! the targets. Because each simulated cohort is the observed cohort's
//! size, D at the true parameters is about twice its number of targets
//! (both cohorts vary), which is why the tolerance stops shrinking near
//! there rather than at 0.

use lumbar_analysis::targets::Target;
use lumbar_sim::scenario::Scenario;
use nalgebra::{DMatrix, DVector};
use rand::{Rng, RngExt, SeedableRng};
use rayon::prelude::*;

use crate::{
    CalibrateError, Diagnostics, Fit, Observed, ParameterFit, Posterior, Settings, TargetFit,
    U_MIN, distance, identified, scenario_at, simulated_targets, usable, weighted_quantile,
};

/// ABC-SMC's own settings beside the common ones.
#[derive(Debug, Clone, Copy)]
pub struct AbcSettings {
    pub particles: usize,
    /// Most generations (a guard; the tolerance rule stops sooner).
    pub max_generations: usize,
}

impl Default for AbcSettings {
    fn default() -> Self {
        AbcSettings {
            particles: 200,
            max_generations: 30,
        }
    }
}

/// What a generation did, for a progress bar or a log.
#[derive(Debug, Clone, PartialEq)]
pub struct Generation {
    pub index: usize,
    pub tolerance: f64,
    pub accepted: usize,
    pub simulations: usize,
    /// The cohorts this generation may still simulate.
    pub budget_left: usize,
    pub ess: f64,
}

/// One kept particle: its point on the quantile scale, its distance and
/// its cohort's targets (in the order of the usable observed targets).
#[derive(Clone)]
struct Particle {
    u: Vec<f64>,
    distance: f64,
    targets: Vec<f64>,
}

/// A candidate's stream: (seed, generation, candidate) as a ChaCha8 key,
/// the round as its stream number.
fn slot_rng(
    seed: u64,
    generation: usize,
    round: usize,
    candidate: usize,
) -> rand_chacha::ChaCha8Rng {
    let mut key = [0u8; 32];
    key[..8].copy_from_slice(&seed.to_le_bytes());
    key[8..16].copy_from_slice(&(generation as u64).to_le_bytes());
    key[16..24].copy_from_slice(&(candidate as u64).to_le_bytes());
    key[24..].copy_from_slice(b"abc-smc\0");
    let mut rng = rand_chacha::ChaCha8Rng::from_seed(key);
    rng.set_stream(round as u64);
    rng
}

fn ess(w: &[f64]) -> f64 {
    let s: f64 = w.iter().sum();
    let s2: f64 = w.iter().map(|x| x * x).sum();
    if s2 > 0.0 { s * s / s2 } else { 0.0 }
}

/// The width on the quantile scale below which a weighted 90% interval
/// is narrower than chance makes it: the 5th percentile, over 200 sets of
/// independent uniform values carried by these weights (a parameter the
/// targets do not see), of their weighted 5–95% range. With equal weights
/// and many particles it is close to 0.87; with few effective particles
/// it is much less, so a posterior of an ESS of 10 does not look
/// identified by the luck of its quantiles.
fn chance_width(weights: &[f64], seed: u64) -> f64 {
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(seed ^ 0x6964_656e_7469_6679);
    let mut widths: Vec<f64> = (0..200)
        .map(|_| {
            let u: Vec<f64> = weights.iter().map(|_| rng.random::<f64>()).collect();
            weighted_quantile(&u, weights, 0.95) - weighted_quantile(&u, weights, 0.05)
        })
        .collect();
    widths.sort_by(f64::total_cmp);
    widths[9]
}

/// The weighted covariance of the particles (with a small ridge so that a
/// collapsed direction still moves).
fn weighted_cov(ps: &[Particle], w: &[f64], k: usize) -> DMatrix<f64> {
    let mean = ps.iter().zip(w).fold(DVector::zeros(k), |a, (p, &w)| {
        a + DVector::from_column_slice(&p.u) * w
    });
    let mut c = DMatrix::zeros(k, k);
    for (p, &w) in ps.iter().zip(w) {
        let d = DVector::from_column_slice(&p.u) - &mean;
        c += &d * d.transpose() * w;
    }
    let denom = 1.0 - w.iter().map(|x| x * x).sum::<f64>();
    if denom > 1e-12 {
        c /= denom;
    }
    for i in 0..k {
        c[(i, i)] += 1e-8;
    }
    c
}

/// Fits the scenario's calibration parameters by ABC-SMC (see the module's doc).
pub fn fit_abc(
    base: &Scenario,
    observed_all: &Observed,
    settings: &Settings,
    abc: &AbcSettings,
    progress: &(dyn Fn(&Generation) + Sync),
) -> Result<Fit, CalibrateError> {
    let started = std::time::Instant::now();
    let time = crate::TimeSplit::default();
    let observed = &observed_all.targets[..];
    let params = base.calibration.clone();
    if params.is_empty() {
        return Err(CalibrateError::NoParameters);
    }
    if !observed.iter().any(usable) {
        return Err(CalibrateError::NoTargets);
    }
    let used: Vec<&Target> = observed.iter().filter(|t| usable(t)).collect();
    let k = params.len();
    let n = abc.particles.max(2);
    let theta_of = |u: &[f64]| -> Vec<f64> {
        params
            .iter()
            .zip(u)
            .map(|(p, &u)| p.prior.quantile(u))
            .collect()
    };
    // One simulated cohort at u with its own seed: D and the targets.
    let simulate = |u: &[f64], seed: u64| -> Result<Particle, CalibrateError> {
        let at = Settings { seed, ..*settings };
        let s = scenario_at(base, &params, &theta_of(u), &at)?;
        let t = simulated_targets(&s, &observed_all.clinic, &time)?;
        let (d, _) = distance(observed, &t);
        let targets = used
            .iter()
            .map(|o| {
                t.iter()
                    .find(|x| x.name == o.name)
                    .map_or(f64::NAN, |x| x.observed)
            })
            .collect();
        Ok(Particle {
            u: u.to_vec(),
            distance: d,
            targets,
        })
    };
    // Every simulated cohort's seed: distinct for every (generation, slot, attempt).
    let seed_of = |rng: &mut rand_chacha::ChaCha8Rng| rng.next_u64();
    let mut simulations = 0usize;
    let mut tolerances = vec![f64::INFINITY];

    // Generation 0: the prior.
    let first: Vec<Result<Particle, CalibrateError>> = (0..n)
        .into_par_iter()
        .map(|i| {
            let mut rng = slot_rng(settings.seed, 0, 0, i);
            let u: Vec<f64> = (0..k)
                .map(|_| rng.random_range(U_MIN..1.0 - U_MIN))
                .collect();
            simulate(&u, seed_of(&mut rng))
        })
        .collect();
    simulations += n;
    let mut particles = Vec::with_capacity(n);
    for p in first {
        particles.push(p?);
    }
    if particles.iter().all(|p| !p.distance.is_finite()) {
        return Err(CalibrateError::NoTargets);
    }
    let mut weights = vec![1.0 / n as f64; n];
    progress(&Generation {
        index: 0,
        tolerance: f64::INFINITY,
        accepted: n,
        simulations: n,
        budget_left: settings.budget.saturating_sub(simulations),
        ess: n as f64,
    });
    let mut converged = false;
    for t in 1..abc.max_generations.max(1) {
        let distances: Vec<f64> = particles.iter().map(|p| p.distance).collect();
        let eps = weighted_quantile(&distances, &weights, 0.5);
        let last = *tolerances.last().unwrap_or(&f64::INFINITY);
        if t > 1 && eps > 0.95 * last {
            converged = true;
            break;
        }
        if settings.budget.saturating_sub(simulations) < n {
            break; // not enough left for a whole generation
        }
        let cov = weighted_cov(&particles, &weights, k) * 2.0;
        let Some(chol) = nalgebra::Cholesky::new(cov.clone()) else {
            break;
        };
        let l = chol.l();
        let inv = chol.inverse();
        let cum: Vec<f64> = weights
            .iter()
            .scan(0.0, |c, &w| {
                *c += w;
                Some(*c)
            })
            .collect();
        let normal = statrs::distribution::Normal::standard();
        // A move of a particle drawn by weight, on the cube (moves off it
        // are drawn again: the prior is 0 there, and they cost no cohort).
        let propose = |rng: &mut rand_chacha::ChaCha8Rng| -> Option<DVector<f64>> {
            for _ in 0..10_000 {
                let r: f64 = rng.random();
                let j = cum.partition_point(|&c| c < r).min(n - 1);
                let z = DVector::from_fn(k, |_, _| rng.sample(normal));
                let u = DVector::from_column_slice(&particles[j].u) + &l * z;
                if u.iter().all(|&x| (U_MIN..=1.0 - U_MIN).contains(&x)) {
                    return Some(u);
                }
            }
            None
        };
        // Rounds of candidates simulated in parallel, accepted in candidate
        // order until N are kept: candidate c of round r has its own stream,
        // so which are kept does not depend on the threads. Each round is
        // sized by the acceptance rate so far.
        let mut next: Vec<Particle> = Vec::with_capacity(n);
        let mut tried = 0usize;
        let mut rate = 0.5f64;
        let mut round = 0usize;
        while next.len() < n {
            let left = settings.budget.saturating_sub(simulations + tried);
            let need = n - next.len();
            if left < need {
                break; // even accepting every move could not fill the generation
            }
            let size = ((need as f64 / rate.max(0.02) * 1.1).ceil() as usize).clamp(need, left);
            let batch: Vec<Option<Particle>> = (0..size)
                .into_par_iter()
                .map(|c| {
                    let mut rng = slot_rng(settings.seed, t, round, c);
                    let u = propose(&mut rng)?;
                    let seed = seed_of(&mut rng);
                    // An error (an invalid setting) is a rejected move.
                    simulate(u.as_slice(), seed)
                        .ok()
                        .filter(|p| p.distance <= eps)
                })
                .collect();
            tried += size;
            next.extend(batch.into_iter().flatten().take(need));
            rate = next.len() as f64 / tried as f64;
            round += 1;
        }
        simulations += tried;
        if next.len() < n {
            break; // out of budget part-way: keep the last whole generation
        }
        // w_i ∝ 1 / Σ_j w_j K(u_i | u_j), K the N(0, 2Σ) density up to a constant.
        let new_w: Vec<f64> = next
            .par_iter()
            .map(|p| {
                let x = DVector::from_column_slice(&p.u);
                let q: f64 = particles
                    .iter()
                    .zip(&weights)
                    .map(|(o, &w)| {
                        let d = &x - DVector::from_column_slice(&o.u);
                        w * (-0.5 * (d.transpose() * &inv * &d)[(0, 0)]).exp()
                    })
                    .sum();
                if q > 0.0 { 1.0 / q } else { 0.0 }
            })
            .collect();
        let total: f64 = new_w.iter().sum();
        if total.is_nan() || total <= 0.0 {
            break;
        }
        particles = next;
        weights = new_w.iter().map(|w| w / total).collect();
        tolerances.push(eps);
        let rate = n as f64 / tried.max(1) as f64;
        progress(&Generation {
            index: t,
            tolerance: eps,
            accepted: n,
            simulations: tried,
            budget_left: settings.budget.saturating_sub(simulations),
            ess: ess(&weights),
        });
        if rate < 0.015 {
            break;
        }
    }

    let draws: Vec<Vec<f64>> = particles.iter().map(|p| theta_of(&p.u)).collect();
    let chance = chance_width(&weights, settings.seed);
    let parameters = params
        .iter()
        .enumerate()
        .map(|(i, p)| {
            let col: Vec<f64> = draws.iter().map(|d| d[i]).collect();
            let (prior_lower, prior_upper) = (p.prior.quantile(0.05), p.prior.quantile(0.95));
            let lower = weighted_quantile(&col, &weights, 0.05);
            let upper = weighted_quantile(&col, &weights, 0.95);
            let u: Vec<f64> = particles.iter().map(|p| p.u[i]).collect();
            let u_width =
                weighted_quantile(&u, &weights, 0.95) - weighted_quantile(&u, &weights, 0.05);
            ParameterFit {
                name: p.path.clone(),
                estimate: col.iter().zip(&weights).map(|(x, w)| x * w).sum(),
                lower,
                upper,
                identified: identified(lower, upper, prior_lower, prior_upper) && u_width < chance,
                prior_lower,
                prior_upper,
            }
        })
        .collect();
    // Each target as the posterior's cohorts gave it.
    let targets = used
        .iter()
        .enumerate()
        .map(|(r, o)| {
            let col: Vec<f64> = particles.iter().map(|p| p.targets[r]).collect();
            let ok: Vec<f64> = weights
                .iter()
                .zip(&col)
                .map(|(w, x)| if x.is_finite() { *w } else { 0.0 })
                .collect();
            let sw: f64 = ok.iter().sum();
            let mean = col
                .iter()
                .zip(&ok)
                .filter(|(x, _)| x.is_finite())
                .map(|(x, w)| x * w)
                .sum::<f64>()
                / sw;
            TargetFit {
                name: o.name.clone(),
                observed: o.observed,
                se: o.se,
                simulated: mean,
                lower: weighted_quantile(&col, &ok, 0.05),
                upper: weighted_quantile(&col, &ok, 0.95),
            }
        })
        .collect();
    let last = *tolerances.last().unwrap_or(&f64::INFINITY);
    Ok(Fit {
        parameters,
        targets,
        diagnostics: Diagnostics {
            method: "abc-smc".into(),
            simulations,
            generations: tolerances.len(),
            ess: Some(ess(&weights)),
            seconds: started.elapsed().as_secs_f64(),
            distance: last,
            converged,
            targets_used: used.len(),
            tolerances,
            simulate_cpu_seconds: time.seconds().0,
            targets_cpu_seconds: time.seconds().1,
        },
        posterior: Posterior {
            names: params.iter().map(|p| p.path.clone()).collect(),
            draws,
            weights,
            distances: particles.iter().map(|p| p.distance).collect(),
        },
    })
}

#[cfg(test)]
mod tests {
    use super::chance_width;

    #[test]
    fn chance_narrows_the_interval_of_few_effective_particles() {
        // 1000 equal weights: the 5–95% range of 1000 uniforms is 0.9
        // with an SD of about 0.01, so its 5th percentile is a little
        // under 0.9.
        let many = chance_width(&vec![1e-3; 1000], 1);
        assert!(many > 0.85 && many < 0.9, "{many}");
        // Ten particles carry the weight: the range of ten uniforms is
        // often far under 0.9 (Beta(9, 2) law of the range: its 5th
        // percentile is about 0.61).
        let mut w = vec![1e-9; 1000];
        for x in w.iter_mut().take(10) {
            *x = 0.1;
        }
        let few = chance_width(&w, 1);
        assert!(few > 0.45 && few < 0.75, "{few}");
    }
}
