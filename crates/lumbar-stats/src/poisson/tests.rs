//! The modified Poisson fit's tests: closed forms, R's iterations on
//! unidentified models, the errors, and the fused passes against the
//! previous implementation (kept here as the oracle) and across thread counts.

use super::*;

/// With one binary covariate the MLE is closed form: the RR is the ratio
/// of the two groups' risks, and the HC0 variance of log RR is
/// `(1 − p1)/(n1 p1) + (1 − p0)/(n0 p0)` (Zou 2004, the delta-method
/// variance of a log risk ratio with n/n instead of n/(n−1)).
#[test]
fn two_groups_give_the_closed_form_risk_ratio() {
    // Exposed: 12 events of 40; unexposed: 20 of 50.
    let mut y = Vec::new();
    let mut x = Vec::new();
    for i in 0..40 {
        y.push(if i < 12 { 1.0 } else { 0.0 });
        x.push(1.0);
    }
    for i in 0..50 {
        y.push(if i < 20 { 1.0 } else { 0.0 });
        x.push(0.0);
    }
    let fit = modified_poisson(&y, &[x], &["exposed".into()], Robust::Hc0).unwrap();
    let (p1, p0) = (12.0 / 40.0, 20.0 / 50.0);
    // glm's rule stops at a relative deviance change of 1e-8, where the
    // estimates are within a few 1e-9 of the closed form (as R's are).
    let rr = fit.terms[1].exp_estimate;
    assert!((rr - p1 / p0).abs() < 1e-8, "{rr}");
    let var = (1.0 - p1) / (40.0 * p1) + (1.0 - p0) / (50.0 * p0);
    assert!((fit.terms[1].std_error - var.sqrt()).abs() < 1e-8);
    assert!((fit.terms[0].exp_estimate - p0).abs() < 1e-8);
    assert!(fit.converged);
    assert!(fit.warnings.is_empty(), "{:?}", fit.warnings);
}

/// No events, and a covariate that separates the outcome: fitted as
/// glm fits them (R's iterations and estimates, tests/fixtures/
/// conventions/expected.json), with a warning.
#[test]
fn unidentified_models_are_fitted_as_glm_and_warned_about() {
    let y = vec![0.0; 10];
    let x: Vec<f64> = (1..=10).map(f64::from).collect();
    let fit = modified_poisson(&y, &[x], &["x".into()], Robust::Hc0).unwrap();
    // R: glm(y ~ x, poisson): iter 22, intercept -24.3025850929941.
    assert_eq!(fit.iterations, 22);
    assert!(fit.converged);
    assert!((fit.terms[0].estimate - -24.3025850929941).abs() < 1e-9);
    assert_eq!(fit.warnings.len(), 1, "{:?}", fit.warnings);
    assert!(fit.warnings[0].starts_with("no events"));
    let y = vec![0.0, 0.0, 0.0, 0.0, 0.0, 1.0, 0.0, 1.0, 1.0, 0.0];
    let z = vec![1.0, 1.0, 1.0, 1.0, 1.0, 0.0, 0.0, 0.0, 0.0, 0.0];
    let fit = modified_poisson(&y, &[z], &["z".into()], Robust::Hc0).unwrap();
    // R: iter 18, coefficients -0.510825623765991, -19.7917594692266.
    assert_eq!(fit.iterations, 18);
    assert!((fit.terms[0].estimate - -0.510825623765991).abs() < 1e-9);
    assert!((fit.terms[1].estimate - -19.7917594692266).abs() < 1e-6);
    assert_eq!(fit.warnings.len(), 1, "{:?}", fit.warnings);
    assert!(fit.warnings[0].contains("separates") && fit.warnings[0].contains("'z'"));
}

#[test]
fn overflowing_covariates_are_not_called_collinear() {
    let y = vec![0.0, 1.0, 0.0, 1.0];
    let big = vec![1e300, 1.0, 2.0, 3.0];
    let e = modified_poisson(&y, &[big], &["big".into()], Robust::Hc0).unwrap_err();
    assert_eq!(e, FitError::NotFinite("big".into()));
}

#[test]
fn constant_and_collinear_covariates_are_named() {
    let y = vec![0.0, 1.0, 0.0, 1.0, 1.0, 0.0];
    let a = vec![1.0, 2.0, 3.0, 4.0, 5.0, 6.0];
    let constant = vec![3.0; 6];
    let e = modified_poisson(
        &y,
        &[a.clone(), constant],
        &["a".into(), "c".into()],
        Robust::Hc0,
    )
    .unwrap_err();
    assert_eq!(e, FitError::Collinear("c".into()));
    let twice: Vec<f64> = a.iter().map(|v| 2.0 * v).collect();
    let e = modified_poisson(&y, &[a, twice], &["a".into(), "a2".into()], Robust::Hc0).unwrap_err();
    assert_eq!(e, FitError::Collinear("a2".into()));
}

/// The implementation before the fused passes (n × p copies of X and of
/// W·X every iteration, nalgebra's products, the meat row by row), kept as
/// the oracle of `fused_passes_match_the_previous_implementation`.
fn previous(y: &[f64], columns: &[Vec<f64>], robust: Robust) -> (Vec<f64>, Vec<f64>, f64, usize) {
    let n = y.len();
    let p = columns.len() + 1;
    let x = DMatrix::from_fn(n, p, |i, j| if j == 0 { 1.0 } else { columns[j - 1][i] });
    let deviance = |mu: &DVector<f64>| -> f64 {
        2.0 * y
            .iter()
            .zip(mu.iter())
            .map(|(&yi, &m)| {
                if yi > 0.0 {
                    yi * (yi / m).ln() - (yi - m)
                } else {
                    m
                }
            })
            .sum::<f64>()
    };
    let mut mu = DVector::from_fn(n, |i, _| y[i] + 0.1);
    let mut eta = mu.map(f64::ln);
    let mut dev_old = deviance(&mu);
    let mut beta = DVector::zeros(p);
    let mut beta_old: Option<DVector<f64>> = None;
    let mut dev = dev_old;
    let mut iterations = 0;
    while iterations < GLM_MAX_ITER {
        iterations += 1;
        let xw = DMatrix::from_fn(n, p, |i, j| x[(i, j)] * mu[i]);
        let info = x.transpose() * &xw;
        let z = DVector::from_fn(n, |i, _| eta[i] + (y[i] - mu[i]) / mu[i]);
        let rhs = xw.transpose() * &z;
        beta = info.cholesky().unwrap().solve(&rhs);
        eta = &x * &beta;
        mu = eta.map(f64::exp);
        dev = deviance(&mu);
        let mut halvings = 0;
        while !dev.is_finite() && halvings < GLM_MAX_ITER {
            let Some(old) = &beta_old else { break };
            beta = (&beta + old) * 0.5;
            eta = &x * &beta;
            mu = eta.map(f64::exp);
            dev = deviance(&mu);
            halvings += 1;
        }
        if (dev - dev_old).abs() / (dev.abs() + 0.1) < GLM_EPS {
            break;
        }
        dev_old = dev;
        beta_old = Some(beta.clone());
    }
    let xw = DMatrix::from_fn(n, p, |i, j| x[(i, j)] * mu[i]);
    let bread = (x.transpose() * &xw).try_inverse().unwrap();
    let mut meat = DMatrix::zeros(p, p);
    for i in 0..n {
        let r = y[i] - mu[i];
        let xi = x.row(i).transpose();
        let mut w = r * r;
        if robust == Robust::Hc3 {
            let h = mu[i] * (xi.transpose() * &bread * &xi)[(0, 0)];
            w /= (1.0 - h).powi(2);
        }
        meat += &xi * xi.transpose() * w;
    }
    let mut cov = &bread * meat * &bread;
    if robust == Robust::Hc1 {
        cov *= n as f64 / (n - p) as f64;
    }
    let se = (0..p).map(|j| cov[(j, j)].sqrt()).collect();
    (beta.iter().copied().collect(), se, dev, iterations)
}

/// `n` rows: four covariates (normal, Bernoulli(0.4), uniform, a count
/// 0..3) and a binary outcome with risk `0.15·exp(lp)`, capped at 0.95.
fn generated(n: usize, seed: u64) -> (Vec<f64>, Vec<Vec<f64>>, Vec<String>) {
    use rand::{RngExt, SeedableRng};
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(seed);
    let beta = [0.3, -0.4, 0.5, 0.15];
    let mut cols: Vec<Vec<f64>> = (0..4).map(|_| Vec::with_capacity(n)).collect();
    let mut y = Vec::with_capacity(n);
    for _ in 0..n {
        let u: f64 = 1.0 - rng.random::<f64>();
        let v: f64 = rng.random();
        let x = [
            (-2.0 * u.ln()).sqrt() * (std::f64::consts::TAU * v).cos(),
            f64::from(u8::from(rng.random_bool(0.4))),
            rng.random::<f64>(),
            f64::from(rng.random_range(0..4u8)),
        ];
        let lp: f64 = x.iter().zip(beta).map(|(a, b)| a * b).sum();
        for (c, v) in cols.iter_mut().zip(x) {
            c.push(v);
        }
        let risk = (0.15 * lp.exp()).min(0.95);
        y.push(f64::from(u8::from(rng.random_bool(risk))));
    }
    (y, cols, (1..=4).map(|j| format!("x{j}")).collect())
}

fn max_rel(a: &[f64], b: &[f64]) -> f64 {
    a.iter()
        .zip(b)
        .map(|(x, y)| (x - y).abs() / x.abs().max(y.abs()))
        .fold(0.0, f64::max)
}

/// The fused passes give the previous implementation's estimates, SEs,
/// deviance and iterations on 20,000 rows (two chunks), to 1e-12 relative.
#[test]
fn fused_passes_match_the_previous_implementation() {
    let (y, cols, names) = generated(20_000, 3);
    for robust in [Robust::Hc0, Robust::Hc1, Robust::Hc3] {
        let fit = modified_poisson(&y, &cols, &names, robust).unwrap();
        let (beta, se, dev, iterations) = previous(&y, &cols, robust);
        let est: Vec<f64> = fit.terms.iter().map(|t| t.estimate).collect();
        let ses: Vec<f64> = fit.terms.iter().map(|t| t.std_error).collect();
        assert!(
            max_rel(&est, &beta) < 1e-12,
            "{robust:?}: {est:?} vs {beta:?}"
        );
        assert!(max_rel(&ses, &se) < 1e-12, "{robust:?}: {ses:?} vs {se:?}");
        assert!((fit.deviance - dev).abs() / dev < 1e-12);
        assert_eq!(fit.iterations, iterations);
        assert!(fit.converged && fit.warnings.is_empty());
    }
}

/// The same bits on 1 and 2 threads (fixed chunks, added in order), on
/// enough rows for several chunks.
#[test]
fn the_fit_has_the_same_bits_on_any_number_of_threads() {
    let (y, cols, names) = generated(5 * pass::CHUNK + 123, 11);
    let run = |threads: usize, robust: Robust| {
        rayon::ThreadPoolBuilder::new()
            .num_threads(threads)
            .build()
            .unwrap()
            .install(|| modified_poisson(&y, &cols, &names, robust).unwrap())
    };
    for robust in [Robust::Hc0, Robust::Hc3] {
        let (one, two) = (run(1, robust), run(2, robust));
        assert_eq!(one.terms, two.terms);
        assert_eq!(one.deviance.to_bits(), two.deviance.to_bits());
        let bits = |f: &PoissonFit| f.covariance.iter().map(|v| v.to_bits()).collect::<Vec<_>>();
        assert_eq!(bits(&one), bits(&two));
    }
}
