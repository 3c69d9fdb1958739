//! Models given as R formulas (`stats cox|lmm|poisson --formula`) against R
//! on the same formulas: tests/fixtures/formula/formula.json, made by
//! tests/fixtures/formula/make_fixtures.R (survival, lme4, sandwich).

use serde_json::Value;

use crate::{lumbar, lumbar_err, repo_root};

fn fixtures() -> serde_json::Map<String, Value> {
    let p = repo_root().join("tests/fixtures/formula/formula.json");
    let v: Value = serde_json::from_str(&std::fs::read_to_string(p).unwrap()).unwrap();
    v.as_object().unwrap().clone()
}

/// Runs lumbar on a fixture's data and formula; returns its JSON.
fn fit(r: &Value) -> Value {
    let kind = r["kind"].as_str().unwrap();
    let data = repo_root()
        .join("tests/fixtures")
        .join(r["data"].as_str().unwrap());
    let args = [
        "stats",
        kind,
        "--data",
        data.to_str().unwrap(),
        "--formula",
        r["formula"].as_str().unwrap(),
        "--json",
    ];
    let (code, out) = lumbar(&args);
    assert_eq!(code, 0);
    serde_json::from_str(&out).unwrap()
}

/// Every fixture: R's coefficient names in R's order, the estimates and
/// standard errors (Cox and Poisson to 1e-6 relative; the mixed model,
/// whose optimum both sides find numerically, to 1e-5), and the number of
/// observations after R's na.omit.
#[test]
fn formulas_fit_as_r_fits_them() {
    let all = fixtures();
    assert!(all.len() >= 9);
    for (name, r) in &all {
        let ours = fit(r);
        let (terms, n, rel) = match r["kind"].as_str().unwrap() {
            "lmm" => (&ours["fixed"], &ours["n_obs"], 1e-5),
            _ => (&ours["terms"], &ours["n"], 1e-6),
        };
        assert_eq!(n, &r["n"], "{name}: observations");
        let terms = terms.as_array().unwrap();
        let names: Vec<&str> = terms.iter().map(|t| t["term"].as_str().unwrap()).collect();
        // The mixed model and the Poisson fit report the intercept too.
        let want: Vec<&str> = r["terms"]
            .as_array()
            .unwrap()
            .iter()
            .map(|t| t.as_str().unwrap())
            .collect();
        assert_eq!(names, want, "{name}: terms");
        for (i, t) in terms.iter().enumerate() {
            for (ours_key, r_key) in [("estimate", "estimate"), ("std_error", "std_error")] {
                let a = t[ours_key].as_f64().unwrap();
                let b = r[r_key][i].as_f64().unwrap();
                assert!(
                    (a - b).abs() <= rel * b.abs().max(1e-3),
                    "{name} {} {ours_key}: lumbar {a} vs R {b}",
                    names[i]
                );
            }
        }
        if let Some(events) = r.get("events") {
            assert_eq!(&ours["events"], events, "{name}: events");
            let l = ours["loglik"].as_f64().unwrap();
            assert!(
                (l - r["loglik"].as_f64().unwrap()).abs() < 1e-6,
                "{name}: loglik {l}"
            );
        }
        // cox.zph per term, a factor's columns pooled (R's terms = TRUE).
        if let Some(zt) = r.get("zph_terms") {
            let ours_z = ours["zph"]["terms"].as_array().unwrap();
            let names: Vec<&str> = ours_z.iter().map(|t| t["term"].as_str().unwrap()).collect();
            let want: Vec<&str> = zt
                .as_array()
                .unwrap()
                .iter()
                .map(|t| t.as_str().unwrap())
                .collect();
            assert_eq!(names, want, "{name}: zph terms");
            for (i, t) in ours_z.iter().enumerate() {
                let (a, b) = (
                    t["statistic"].as_f64().unwrap(),
                    r["zph_chisq"][i].as_f64().unwrap(),
                );
                assert!(
                    (a - b).abs() <= 1e-6 * b.abs().max(1.0),
                    "{name} zph {}: {a} vs R {b}",
                    want[i]
                );
                assert_eq!(t["df"].as_f64(), r["zph_df"][i].as_f64(), "{name} zph df");
            }
        }
        if let Some(c) = r.get("reml_criterion") {
            let ours_c = ours["reml_criterion"].as_f64().unwrap();
            // No worse than lme4's tightly converged bobyqa.
            assert!(
                ours_c <= c.as_f64().unwrap() + 1e-6,
                "{name}: REML {ours_c} vs {c}"
            );
        }
    }
}

/// A mistyped formula is refused with the character it is about, and a
/// formula's terms with the flags they replace.
#[test]
fn formula_errors_point_at_the_character() {
    let data = repo_root().join("tests/fixtures/formula/lung.csv");
    let d = data.to_str().unwrap();
    let err = lumbar_err(&[
        "stats",
        "cox",
        "--data",
        d,
        "-f",
        "Surv(time, status) ~ age + fctor(sex)",
    ]);
    assert!(
        err.contains("formula, character 28: unknown function 'fctor'"),
        "{err}"
    );
    assert!(err.contains("\n                             ^"), "{err}");
    let err = lumbar_err(&["stats", "cox", "--data", d, "-f", "status ~ age"]);
    assert!(err.contains("Surv(time, event)"), "{err}");
    let err = lumbar_err(&[
        "stats",
        "poisson",
        "--data",
        d,
        "-f",
        "status ~ age + strata(inst)",
    ]);
    assert!(
        err.contains("character 23") && err.contains("Cox models"),
        "{err}"
    );
    let err = lumbar_err(&[
        "stats",
        "cox",
        "--data",
        d,
        "-f",
        "Surv(time, status) ~ agee",
    ]);
    assert!(err.contains("no column 'agee'"), "{err}");
    let err = lumbar_err(&[
        "stats",
        "lmm",
        "--data",
        d,
        "-f",
        "time ~ age + (sex | inst)",
    ]);
    assert!(
        err.contains("character 15") && err.contains("fixed term too"),
        "{err}"
    );
    // The flags a formula replaces are a usage error beside it (clap's 2).
    assert_eq!(
        crate::lumbar_cli_run(&[
            "stats",
            "cox",
            "--data",
            d,
            "-f",
            "Surv(time, status) ~ age",
            "--covariates",
            "sex"
        ]),
        Err("exit code 2".into())
    );
}

/// The human output is R's summary(): the call, n and events, the
/// coefficient table with stars, the exp table at the asked level, the
/// concordance and the three tests.
#[test]
fn cox_summary_reads_as_r_prints_it() {
    let data = repo_root().join("tests/fixtures/formula/lung.csv");
    let (code, out) = lumbar(&[
        "stats",
        "cox",
        "--data",
        data.to_str().unwrap(),
        "-f",
        "Surv(time, status) ~ age + sex + factor(ph.ecog) + strata(inst)",
        "--conf-level",
        "0.9",
    ]);
    assert_eq!(code, 0);
    for line in [
        "coxph(formula = Surv(time, status) ~ age + sex + factor(ph.ecog) + strata(inst), data = lung)",
        "  n= 226, number of events= 163 ",
        "   (2 observations deleted due to missingness)",
        "factor(ph.ecog)2  1.172472  3.229966 0.273864  4.281 1.86e-05 ***",
        "Signif. codes:  0 ‘***’ 0.001 ‘**’ 0.01 ‘*’ 0.05 ‘.’ 0.1 ‘ ’ 1",
        "Concordance= 0.677  (se = 0.031 )",
        "Likelihood ratio test= 32.85  on 5 df,   p=4e-06",
        "Score (logrank) test = 36.23  on 5 df,   p=9e-07",
    ] {
        assert!(out.lines().any(|l| l == line), "missing {line:?} in\n{out}");
    }
    // R: exp(1.172472 + c(-1, 1) * qnorm(0.95) * 0.273864) = 2.058558, 5.067959.
    let row = out
        .lines()
        .find(|l| l.starts_with("factor(ph.ecog)2 ") && l.contains("0.30960"))
        .unwrap_or_else(|| panic!("{out}"));
    assert!(row.ends_with("2.0586    5.0680"), "{row}");
    assert!(out.contains("lower .90 upper .90"), "{out}");
}

/// `--conf-level` moves every interval as R's `conf.int` does: Kaplan–Meier
/// (log scale) and the median's interval, against
/// `survfit(Surv(time, status) ~ 1, lung, conf.int = 0.9)`.
#[test]
fn km_intervals_at_another_level_as_survfit() {
    let data = repo_root().join("tests/fixtures/formula/lung.csv");
    let (code, out) = lumbar(&[
        "stats",
        "km",
        "--data",
        data.to_str().unwrap(),
        "--time",
        "time",
        "--status",
        "status",
        "--times",
        "200,500",
        "--conf-level",
        "0.9",
        "--json",
    ]);
    assert_eq!(code, 0);
    let v: Value = serde_json::from_str(&out).unwrap();
    let c = &v["curves"][0];
    // R: summary(f, times = c(200, 500)) lower, upper.
    let want = [
        (0.630941219541, 0.733461616937),
        (0.240892460133, 0.357034088708),
    ];
    for (at, (lo, hi)) in c["at_times"].as_array().unwrap().iter().zip(want) {
        assert!((at["lower"].as_f64().unwrap() - lo).abs() < 1e-9, "{at}");
        assert!((at["upper"].as_f64().unwrap() - hi).abs() < 1e-9, "{at}");
    }
    // R: summary(f)$table: median 310, 0.9LCL 285, 0.9UCL 353.
    assert_eq!(
        (
            c["median"].as_f64(),
            c["median_lower"].as_f64(),
            c["median_upper"].as_f64()
        ),
        (Some(310.0), Some(285.0), Some(353.0))
    );
    assert_eq!(v["conf_level"].as_f64(), Some(0.9));
}

/// `--bootstrap B --seed S`: cluster resampling of a Cox model (its
/// clusters, `cluster(inst)`), Poisson's rows and the mixed model's
/// patients; the same seed gives the same numbers, another seed others;
/// the bootstrap SE is near the sandwich SE (the robust variance estimates
/// the same spread); the intervals are written with --out.
#[test]
fn bootstrap_intervals_from_the_command_line() {
    let tmp = tempfile::tempdir().unwrap();
    let lung = repo_root().join("tests/fixtures/formula/lung.csv");
    let l = lung.to_str().unwrap();
    let cox = |seed: &str| -> Value {
        let (code, out) = lumbar(&[
            "stats",
            "cox",
            "--data",
            l,
            "-f",
            "Surv(time, status) ~ age + sex + cluster(inst)",
            "--bootstrap",
            "300",
            "--seed",
            seed,
            "--json",
        ]);
        assert_eq!(code, 0);
        serde_json::from_str(&out).unwrap()
    };
    let (a, b, c) = (cox("5"), cox("5"), cox("6"));
    assert_eq!(a["bootstrap"], b["bootstrap"]);
    assert_ne!(a["bootstrap"]["terms"], c["bootstrap"]["terms"]);
    let boot = &a["bootstrap"];
    assert_eq!(boot["unit"], "cluster");
    assert_eq!(boot["units"], 18);
    for (t, model) in boot["terms"]
        .as_array()
        .unwrap()
        .iter()
        .zip(a["terms"].as_array().unwrap())
    {
        let (se, robust) = (
            t["std_error"].as_f64().unwrap(),
            model["std_error"].as_f64().unwrap(),
        );
        assert!(
            (se / robust - 1.0).abs() < 0.35,
            "{t} vs robust SE {robust}"
        );
        let est = t["estimate"].as_f64().unwrap();
        assert!(
            t["bca_low"].as_f64().unwrap() < est && est < t["bca_high"].as_f64().unwrap(),
            "{t}"
        );
    }
    let hunt = repo_root().join("tests/fixtures/poisson/hunt_like.csv");
    let out = tmp.path().join("poisson");
    let (code, human) = lumbar(&[
        "stats",
        "poisson",
        "--data",
        hunt.to_str().unwrap(),
        "-f",
        "event ~ walk10 + age",
        "--bootstrap",
        "300",
        "--out",
        out.to_str().unwrap(),
    ]);
    assert_eq!(code, 0);
    assert!(human.contains("Bootstrap: 300 resamples of"), "{human}");
    let fit: Value =
        serde_json::from_str(&std::fs::read_to_string(out.join("fit.json")).unwrap()).unwrap();
    for (t, model) in fit["bootstrap"]["terms"]
        .as_array()
        .unwrap()
        .iter()
        .zip(fit["terms"].as_array().unwrap())
    {
        let (se, hc0) = (
            t["std_error"].as_f64().unwrap(),
            model["std_error"].as_f64().unwrap(),
        );
        assert!((se / hc0 - 1.0).abs() < 0.2, "{t} vs HC0 {hc0}");
    }
    let table = std::fs::read_to_string(out.join("bootstrap.csv")).unwrap();
    assert!(
        table.starts_with("term,estimate,bias,std_error,percentile_low"),
        "{table}"
    );
    assert_eq!(table.lines().count(), 4);
    let sleep = repo_root().join("tests/fixtures/lmm/sleepstudy.csv");
    let (code, out) = lumbar(&[
        "stats",
        "lmm",
        "--data",
        sleep.to_str().unwrap(),
        "-f",
        "Reaction ~ Days + (Days | Subject)",
        "--bootstrap",
        "100",
        "--json",
    ]);
    assert_eq!(code, 0);
    let v: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(v["bootstrap"]["unit"], "patient");
    assert_eq!(v["bootstrap"]["units"], 18);
    let err = crate::lumbar_cli_run(&[
        "stats",
        "poisson",
        "--data",
        hunt.to_str().unwrap(),
        "-f",
        "event ~ age",
        "--bootstrap",
        "1",
    ]);
    assert!(err.unwrap_err().contains("2 to 1000000 resamples"));
}
