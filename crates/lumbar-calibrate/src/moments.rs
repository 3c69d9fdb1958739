//! The point-estimate mode: Nelder–Mead on the distance with common random
//! numbers, intervals from the minimum-distance sandwich and replicate
//! searches (see the crate's doc).

use lumbar_analysis::targets::Target;
use lumbar_sim::scenario::Scenario;
use lumbar_stats::optim::{NelderMeadOptions, nelder_mead};
use nalgebra::{DMatrix, DVector};
use rand::SeedableRng;

use crate::{
    CalibrateError, Diagnostics, Fit, Observed, ParameterFit, Posterior, Settings, TargetFit,
    U_MIN, Z_95, distance, identified, scenario_at, simulated_targets, usable,
};

/// Fits the scenario's calibration parameters to the observed targets by
/// simulated moments (see the crate's doc).
pub fn fit_moments(
    base: &Scenario,
    observed_all: &Observed,
    settings: &Settings,
) -> Result<Fit, CalibrateError> {
    let observed = &observed_all.targets[..];
    let started = std::time::Instant::now();
    let time = crate::TimeSplit::default();
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
        match scenario_at(base, &params, &theta_of(u), &at_seed)
            .and_then(|s| simulated_targets(&s, &observed_all.clinic, &time))
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
        let t = simulated_targets(
            &scenario_at(base, &params, &theta_of(v), settings)?,
            &observed_all.clinic,
            &time,
        )?;
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
    let posterior = normal_draws(&params, &u, cov.as_ref(), &between, &seen, settings.seed);
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
                identified: identified(lower, upper, prior_lower, prior_upper),
                prior_lower,
                prior_upper,
            }
        })
        .collect();
    let at_fit = simulated_targets(
        &scenario_at(base, &params, &theta, settings)?,
        &observed_all.clinic,
        &time,
    )?;
    simulations += 1;
    let targets = observed
        .iter()
        .filter(|o| usable(o))
        .filter_map(|o| {
            let t = at_fit.iter().find(|t| t.name == o.name)?;
            // A target without a closed-form SE: a cohort of the observed
            // size has about the observed (bootstrap) one.
            let se = if t.se.is_finite() { t.se } else { o.se };
            Some(TargetFit {
                name: o.name.clone(),
                observed: o.observed,
                se: o.se,
                simulated: t.observed,
                lower: t.observed - Z_95 * se,
                upper: t.observed + Z_95 * se,
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
            tolerances: Vec::new(),
            simulate_cpu_seconds: time.seconds().0,
            targets_cpu_seconds: time.seconds().1,
        },
        posterior,
    })
}

/// Draws of the estimate's normal approximation N(û, C + B) on the
/// quantile scale, mapped back through each prior's F⁻¹ (a parameter the
/// targets do not move is drawn from its prior).
fn normal_draws(
    params: &[lumbar_sim::scenario::PsaParameter],
    u: &[f64],
    cov: Option<&DMatrix<f64>>,
    between: &[f64],
    seen: &[usize],
    seed: u64,
) -> Posterior {
    const DRAWS: usize = 1000;
    let k = u.len();
    let mut c = cov.cloned().unwrap_or_else(|| DMatrix::zeros(k, k));
    for i in 0..k {
        c[(i, i)] += between[i];
    }
    // A parameter not seen, or a covariance that is not positive definite,
    // falls back to independent draws (from the prior where unseen).
    let chol = nalgebra::Cholesky::new(c.clone());
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(seed ^ 0x6e6f_726d_616c);
    let normal = rand_distr_normal();
    let draws = (0..DRAWS)
        .map(|_| {
            let z = DVector::from_fn(k, |_, _| rand::RngExt::sample(&mut rng, normal));
            let x = match &chol {
                Some(l) => DVector::from_column_slice(u) + l.l() * &z,
                None => DVector::from_fn(k, |i, _| u[i] + c[(i, i)].max(0.0).sqrt() * z[i]),
            };
            params
                .iter()
                .enumerate()
                .map(|(i, p)| {
                    let ui = if seen.contains(&i) && cov.is_some() {
                        x[i].clamp(U_MIN, 1.0 - U_MIN)
                    } else {
                        // Unseen: a uniform on the quantile scale is its prior.
                        crate::unit_from(z[i])
                    };
                    p.prior.quantile(ui)
                })
                .collect()
        })
        .collect();
    Posterior {
        names: params.iter().map(|p| p.path.clone()).collect(),
        draws,
        weights: vec![1.0 / DRAWS as f64; DRAWS],
        distances: vec![f64::NAN; DRAWS],
    }
}

fn rand_distr_normal() -> statrs::distribution::Normal {
    statrs::distribution::Normal::standard()
}
