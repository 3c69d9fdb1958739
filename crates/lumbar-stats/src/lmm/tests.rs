use super::*;

/// Balanced data with no random slope variation and a known closed form:
/// with a random intercept only and equal group sizes, the REML estimate
/// of the slope equals the within-group OLS slope.
#[test]
fn random_intercept_slope_equals_within_group_ols_on_balanced_data() {
    let mut d = LmmData {
        time_name: "t".into(),
        ..Default::default()
    };
    let offsets = [3.0, -1.0, 0.5, 2.0, -2.5, 1.0];
    let noise = [0.3, -0.2, 0.1, -0.4, 0.25, 0.0, -0.1, 0.35];
    for (g, off) in offsets.iter().enumerate() {
        for t in 0..8 {
            d.group.push(format!("g{g}"));
            d.time.push(t as f64);
            d.response
                .push(10.0 + off - 0.5 * t as f64 + noise[(t + g) % 8]);
        }
    }
    let fit = fit(&d, Method::Reml, RandomEffects::Intercept).unwrap();
    // Within-group OLS slope: Σ(t−t̄)(y−ȳ_g) / Σ(t−t̄)².
    let (mut sxy, mut sxx) = (0.0, 0.0);
    for g in 0..offsets.len() {
        let ys = &d.response[g * 8..(g + 1) * 8];
        let ybar = ys.iter().sum::<f64>() / 8.0;
        for t in 0..8 {
            sxy += (t as f64 - 3.5) * (ys[t] - ybar);
            sxx += (t as f64 - 3.5).powi(2);
        }
    }
    assert!(
        (fit.fixed[1].estimate - sxy / sxx).abs() < 1e-9,
        "{:?}",
        fit.fixed
    );
    assert!(fit.converged);
    assert_eq!(fit.n_groups, 6);
}

#[test]
fn collinear_covariate_is_named() {
    let mut d = LmmData {
        time_name: "t".into(),
        ..Default::default()
    };
    for g in 0..5 {
        for t in 0..4 {
            d.group.push(format!("g{g}"));
            d.time.push(t as f64);
            d.response.push((g * t) as f64 + 0.1 * ((g + t) % 3) as f64);
        }
    }
    let twice: Vec<f64> = d.time.iter().map(|t| 2.0 * t).collect();
    d.covariates.push(("t2".into(), twice));
    let e = fit(&d, Method::Reml, RandomEffects::Slope).unwrap_err();
    assert_eq!(e, LmmError::Collinear("t2".into()));
}

/// The fit from per-group sums is the fit from the observations (which
/// tests/e2e/lmm.rs checks against lme4), for both random-effect forms,
/// with unequal group sizes.
#[test]
fn fit_from_group_sums_is_the_fit_from_observations() {
    let mut d = LmmData {
        time_name: "week".into(),
        ..Default::default()
    };
    let mut sums = Vec::new();
    for g in 0..9 {
        let mut s = GroupSums::default();
        for k in 0..(4 + g % 4) {
            let t = k as f64 * 0.9 + 0.1 * g as f64;
            let y = 6.0 + 0.3 * g as f64 - (0.4 + 0.05 * g as f64) * t
                + 0.3 * (((g * 7 + k * 3) % 5) as f64 - 2.0);
            d.group.push(format!("g{g}"));
            d.time.push(t);
            d.response.push(y);
            s.add(t, y);
        }
        sums.push(s);
    }
    for re in [RandomEffects::Intercept, RandomEffects::Slope] {
        let a = fit(&d, Method::Reml, re).unwrap();
        let b = fit_sums(&sums, "week", Method::Reml, re).unwrap();
        assert_eq!((a.n_obs, a.n_groups), (b.n_obs, b.n_groups));
        for (x, y) in a.fixed.iter().zip(&b.fixed) {
            assert_eq!(x.term, y.term);
            assert!((x.estimate - y.estimate).abs() < 1e-8, "{x:?} {y:?}");
            assert!((x.std_error - y.std_error).abs() < 1e-8, "{x:?} {y:?}");
        }
        let (ca, cb) = (a.reml_criterion.unwrap(), b.reml_criterion.unwrap());
        assert!((ca - cb).abs() < 1e-8, "{ca} {cb}");
    }
    // A constant response is warned about, as from the observations.
    let flat: Vec<GroupSums> = (0..3)
        .map(|g| {
            let mut s = GroupSums::default();
            for k in 0..3 {
                s.add((k + g) as f64, 5.0);
            }
            s
        })
        .collect();
    let f = fit_sums(&flat, "week", Method::Reml, RandomEffects::Intercept).unwrap();
    assert!(
        f.warnings.iter().any(|w| w.contains("constant")),
        "{:?}",
        f.warnings
    );
    assert_eq!(
        fit_sums(&[], "week", Method::Reml, RandomEffects::Slope).unwrap_err(),
        LmmError::Empty
    );
}

/// lme4's sleepstudy (tests/fixtures/lmm/sleepstudy.csv): Reaction ~ Days + (Days | Subject).
fn sleepstudy() -> LmmData {
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../tests/fixtures/lmm/sleepstudy.csv"
    );
    let text = std::fs::read_to_string(path).expect("the sleepstudy fixture");
    let mut d = LmmData {
        time_name: "Days".into(),
        ..Default::default()
    };
    for line in text.lines().skip(1) {
        let f: Vec<&str> = line.split(',').collect();
        d.response.push(f[0].parse().expect("Reaction"));
        d.time.push(f[1].parse().expect("Days"));
        d.group.push(f[2].trim_matches('"').to_string());
    }
    d
}

/// An unbalanced trial with a covariate: groups of 2–7 visits at shared
/// and at jittered times (patterns shared by several groups and patterns
/// of one), so both kinds of pattern and p = 3 are exercised.
fn unbalanced() -> LmmData {
    let mut d = LmmData {
        time_name: "week".into(),
        ..Default::default()
    };
    let mut age = Vec::new();
    for g in 0..40usize {
        let visits = 2 + g % 6;
        let jitter = if g % 3 == 0 {
            0.1 * (g % 7) as f64
        } else {
            0.0
        };
        let a = 40.0 + ((g * 17) % 30) as f64;
        for k in 0..visits {
            let t = k as f64 + jitter;
            let e = (((g * 31 + k * 7) % 11) as f64 - 5.0) / 5.0;
            d.group.push(format!("p{g}"));
            d.time.push(t);
            d.response.push(
                6.0 + 0.8 * ((g % 5) as f64 - 2.0) - (0.3 + 0.04 * ((g % 4) as f64 - 1.5)) * t
                    + 0.02 * (a - 55.0)
                    + 0.7 * e,
            );
            age.push(a);
        }
    }
    d.covariates.push(("age".into(), age));
    d
}

/// Deterministic θ scattered over the region the optimiser visits.
fn thetas(k: usize) -> Vec<Vec<f64>> {
    let mut state = 0x2545_f491_4f6c_dd1du64;
    let mut next = || {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        (state >> 11) as f64 / (1u64 << 53) as f64
    };
    (0..6)
        .map(|_| {
            (0..k)
                .map(|j| {
                    if criterion::is_diagonal(if k == 1 { 1 } else { 2 }, j) {
                        0.05 + 2.0 * next()
                    } else {
                        2.0 * next() - 1.0
                    }
                })
                .collect()
        })
        .collect()
}

/// Central difference with one Richardson step (error O(h⁴)).
fn central(f: &dyn Fn(&[f64]) -> f64, x: &[f64], j: usize) -> f64 {
    let h = 1e-3 * x[j].abs().max(0.1);
    let d = |h: f64| {
        let (mut a, mut b) = (x.to_vec(), x.to_vec());
        a[j] += h;
        b[j] -= h;
        (f(&a) - f(&b)) / (2.0 * h)
    };
    (4.0 * d(h / 2.0) - d(h)) / 3.0
}

/// The analytic gradient equals a central difference of the criterion, and
/// the analytic Hessian a central difference of the analytic gradient, to
/// 1e-6 relative (to the largest entry), at scattered θ, for REML and ML,
/// intercept-only and slope models, on sleepstudy and an unbalanced trial
/// with a covariate.
#[test]
fn analytic_derivatives_match_central_differences() {
    for (name, data) in [("sleepstudy", sleepstudy()), ("unbalanced", unbalanced())] {
        for re in [RandomEffects::Intercept, RandomEffects::Slope] {
            let (stats, _) = stats::Stats::build(&data, re).unwrap();
            let k = stats::q_of(re) * (stats::q_of(re) + 1) / 2;
            for method in [Method::Reml, Method::Ml] {
                for theta in thetas(k) {
                    let at = |t: &[f64]| evaluate(&stats, t, method, Order::Hessian).unwrap();
                    let e = at(&theta);
                    let f = |t: &[f64]| at(t).deviance;
                    let scale = e.gradient.iter().fold(0.0f64, |a, v| a.max(v.abs()));
                    for j in 0..k {
                        let fd = central(&f, &theta, j);
                        assert!(
                            (e.gradient[j] - fd).abs() <= 1e-6 * scale,
                            "{name} {re:?} {method:?} θ {theta:?}: ∂{j} analytic {} vs {fd}",
                            e.gradient[j]
                        );
                    }
                    let hscale = e.hessian.iter().fold(0.0f64, |a, v| a.max(v.abs()));
                    for i in 0..k {
                        let gi = |t: &[f64]| at(t).gradient[i];
                        for j in 0..k {
                            let fd = central(&gi, &theta, j);
                            assert!(
                                (e.hessian[i * k + j] - fd).abs() <= 1e-6 * hscale,
                                "{name} {re:?} {method:?} θ {theta:?}: ∂{i}∂{j} analytic {} vs {fd}",
                                e.hessian[i * k + j]
                            );
                        }
                    }
                    // Value and gradient orders agree with the Hessian order.
                    let v = evaluate(&stats, &theta, method, Order::Value).unwrap();
                    let g = evaluate(&stats, &theta, method, Order::Gradient).unwrap();
                    assert_eq!(v.deviance, e.deviance);
                    assert_eq!(g.gradient, e.gradient);
                }
            }
        }
    }
}

/// On sleepstudy the fit takes at most 20 evaluations (Nelder–Mead with
/// finite-difference polishing took 165–240) and reaches lme4's criterion
/// (tests/fixtures/lmm: REML 1743.628272, ML log-likelihood −875.9696722)
/// or better.
#[test]
fn sleepstudy_converges_in_at_most_twenty_evaluations() {
    let d = sleepstudy();
    for (re, method) in [
        (RandomEffects::Slope, Method::Reml),
        (RandomEffects::Slope, Method::Ml),
        (RandomEffects::Intercept, Method::Reml),
    ] {
        let f = fit(&d, method, re).unwrap();
        assert!(f.converged, "{f:?}");
        assert!(f.evaluations <= 20, "{re:?} {method:?}: {f:?}");
        assert!(f.max_abs_gradient < 1e-4, "{f:?}");
    }
    let reml = fit(&d, Method::Reml, RandomEffects::Slope).unwrap();
    assert!(
        reml.reml_criterion.unwrap() <= 1743.628272 + 1e-6,
        "{reml:?}"
    );
    let ml = fit(&d, Method::Ml, RandomEffects::Slope).unwrap();
    assert!(ml.loglik.unwrap() >= -875.9696722 - 1e-6, "{ml:?}");
}

/// Groups seen at the same times are summed into one pattern, and the
/// criterion does not change: the same data with every group's times
/// perturbed in the last bit (no two groups alike) gives the same fit.
#[test]
fn shared_schedules_collapse_to_one_pattern_without_changing_the_fit() {
    let d = sleepstudy();
    let (stats, _) = stats::Stats::build(&d, RandomEffects::Slope).unwrap();
    assert_eq!((stats.groups, stats.patterns), (18, 1));
    let mut apart = d.clone();
    for (k, t) in apart.time.iter_mut().enumerate() {
        *t += (k / 10) as f64 * 1e-13;
    }
    let (stats_apart, _) = stats::Stats::build(&apart, RandomEffects::Slope).unwrap();
    assert_eq!(stats_apart.patterns, 18);
    let (a, b) = (
        fit(&d, Method::Reml, RandomEffects::Slope).unwrap(),
        fit(&apart, Method::Reml, RandomEffects::Slope).unwrap(),
    );
    assert!((a.reml_criterion.unwrap() - b.reml_criterion.unwrap()).abs() < 1e-8);
    for (x, y) in a.fixed.iter().zip(&b.fixed) {
        assert!((x.estimate - y.estimate).abs() < 1e-8 * x.estimate.abs());
    }
}
