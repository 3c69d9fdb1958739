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
