//! The mixed model against lme4 (fixtures and the R script that made them
//! are in tests/fixtures/lmm/).

use serde_json::Value;

use crate::{lumbar, repo_root};

fn fixture(name: &str) -> Value {
    let p = repo_root().join("tests/fixtures/lmm").join(name);
    serde_json::from_str(&std::fs::read_to_string(p).unwrap()).unwrap()
}

fn fit(args: &[&str]) -> Value {
    let data = repo_root().join("tests/fixtures/lmm").join(args[0]);
    let mut full = vec!["stats", "lmm", "--data", data.to_str().unwrap(), "--json"];
    full.extend_from_slice(&args[1..]);
    let (code, out) = lumbar(&full);
    assert_eq!(code, 0);
    serde_json::from_str(&out).unwrap()
}

fn close(ours: &Value, theirs: &Value, rel: f64, what: &str) {
    let (a, b) = (ours.as_f64().unwrap(), theirs.as_f64().unwrap());
    assert!(
        ((a - b) / b).abs() <= rel,
        "{what}: lumbar {a} vs lme4 {b} (rel {:.2e})",
        ((a - b) / b).abs()
    );
}

/// Fixed effects and SEs to 1e-4 relative, SDs and correlation to 1e-3.
fn agrees(ours: &Value, lme4: &Value, criterion: &str) {
    assert_eq!(ours["n_obs"], lme4["n_obs"]);
    assert_eq!(ours["n_groups"], lme4["n_groups"]);
    let (f, r) = (
        ours["fixed"].as_array().unwrap(),
        lme4["fixed"].as_array().unwrap(),
    );
    assert_eq!(f.len(), r.len());
    for (a, b) in f.iter().zip(r) {
        assert_eq!(a["term"], b["term"]);
        close(&a["estimate"], &b["estimate"], 1e-4, "estimate");
        close(&a["std_error"], &b["std_error"], 1e-4, "std_error");
        close(&a["t"], &b["t"], 1e-4, "t");
    }
    for k in ["sd_intercept", "sd_slope", "corr"] {
        if !lme4["random"][k].is_null() {
            close(&ours["random"][k], &lme4["random"][k], 1e-3, k);
        }
    }
    close(
        &ours["sd_residual"],
        &lme4["sd_residual"],
        1e-4,
        "sd_residual",
    );
    close(&ours[criterion], &lme4[criterion], 1e-6, criterion);
    assert_eq!(ours["converged"], true);
    assert_eq!(ours["singular"], lme4["singular"]);
}

#[test]
fn sleepstudy_reml_matches_lme4_and_the_spec() {
    let ours = fit(&[
        "sleepstudy.csv",
        "--response",
        "Reaction",
        "--time",
        "Days",
        "--group",
        "Subject",
    ]);
    agrees(&ours, &fixture("sleepstudy_reml.json"), "reml_criterion");
    // SPEC §3's figures.
    let f = &ours["fixed"];
    assert!((f[0]["estimate"].as_f64().unwrap() - 251.4051).abs() < 1e-4);
    assert!((f[0]["std_error"].as_f64().unwrap() - 6.8246).abs() < 1e-4);
    assert!((f[1]["estimate"].as_f64().unwrap() - 10.4673).abs() < 1e-4);
    assert!((f[1]["std_error"].as_f64().unwrap() - 1.5458).abs() < 1e-4);
    assert!((ours["random"]["sd_intercept"].as_f64().unwrap() - 24.7407).abs() < 2e-3);
    assert!((ours["random"]["sd_slope"].as_f64().unwrap() - 5.9221).abs() < 1e-3);
    assert!((ours["random"]["corr"].as_f64().unwrap() - 0.0656).abs() < 1e-4);
    assert!((ours["sd_residual"].as_f64().unwrap() - 25.5918).abs() < 1e-4);
    assert!((ours["reml_criterion"].as_f64().unwrap() - 1743.63).abs() < 5e-3);
}

#[test]
fn sleepstudy_ml_and_intercept_only_match_lme4() {
    let ml = fit(&[
        "sleepstudy.csv",
        "--response",
        "Reaction",
        "--time",
        "Days",
        "--group",
        "Subject",
        "--method",
        "ml",
    ]);
    agrees(&ml, &fixture("sleepstudy_ml.json"), "loglik");
    assert!(ml.get("reml_criterion").is_none());
    let int = fit(&[
        "sleepstudy.csv",
        "--response",
        "Reaction",
        "--time",
        "Days",
        "--group",
        "Subject",
        "--random",
        "intercept",
    ]);
    agrees(
        &int,
        &fixture("sleepstudy_intercept.json"),
        "reml_criterion",
    );
    assert!(int["random"].get("sd_slope").is_none());
}

#[test]
fn unbalanced_trial_with_a_covariate_and_missing_values_matches_lme4() {
    let ours = fit(&[
        "pain_trial.csv",
        "--response",
        "pain",
        "--time",
        "week",
        "--group",
        "patient",
        "--covariates",
        "age",
    ]);
    agrees(&ours, &fixture("pain_trial_reml.json"), "reml_criterion");
    assert_eq!(
        ours["n_dropped"], 4,
        "3 missing pain values and 1 missing age"
    );
}

#[test]
fn singular_fit_is_reported_and_still_returns() {
    let ours = fit(&[
        "singular.csv",
        "--response",
        "pain",
        "--time",
        "week",
        "--group",
        "patient",
    ]);
    let lme4 = fixture("singular_reml.json");
    assert_eq!(ours["singular"], true);
    for (a, b) in ours["fixed"]
        .as_array()
        .unwrap()
        .iter()
        .zip(lme4["fixed"].as_array().unwrap())
    {
        close(&a["estimate"], &b["estimate"], 1e-4, "estimate");
        close(&a["std_error"], &b["std_error"], 1e-4, "std_error");
    }
    close(
        &ours["random"]["sd_intercept"],
        &lme4["random"]["sd_intercept"],
        1e-3,
        "sd_intercept",
    );
    // At the boundary the slope SD is tiny and flat in θ: agree in absolute terms.
    let s = ours["random"]["sd_slope"].as_f64().unwrap();
    assert!(
        (s - lme4["random"]["sd_slope"].as_f64().unwrap()).abs() < 1e-3,
        "{s}"
    );
    assert_eq!(ours["random"]["corr"].as_f64().unwrap().round(), -1.0);
    close(
        &ours["reml_criterion"],
        &lme4["reml_criterion"],
        1e-7,
        "reml_criterion",
    );
}

/// Data that cannot identify the model are fitted with a warning, never a
/// silent flag: a constant response, and a single group (which lme4
/// refuses: "grouping factors must have > 1 sampled level").
#[test]
fn a_constant_response_and_a_single_group_are_warned_about() {
    let text =
        std::fs::read_to_string(repo_root().join("tests/fixtures/lmm/sleepstudy.csv")).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let constant: String = text
        .lines()
        .enumerate()
        .map(|(i, l)| match (i, l.split_once(',')) {
            (0, _) | (_, None) => format!("{l}\n"),
            (_, Some((_, rest))) => format!("250,{rest}\n"),
        })
        .collect();
    let one: String = text
        .lines()
        .enumerate()
        .filter(|(i, l)| *i == 0 || l.ends_with("\"308\""))
        .map(|(_, l)| format!("{l}\n"))
        .collect();
    for (name, body, expect) in [
        ("constant.csv", constant, "the response is constant"),
        ("one.csv", one, "only 1 group"),
    ] {
        let p = dir.path().join(name);
        std::fs::write(&p, body).unwrap();
        let args = [
            "stats",
            "lmm",
            "--data",
            p.to_str().unwrap(),
            "--response",
            "Reaction",
            "--time",
            "Days",
            "--group",
            "Subject",
        ];
        let (_, human) = lumbar(&args);
        assert!(human.contains(&format!("warning: {expect}")), "{human}");
        let mut json = args.to_vec();
        json.push("--json");
        let (_, out) = lumbar(&json);
        let v: Value = serde_json::from_str(&out).unwrap();
        let w = v["warnings"].as_array().unwrap();
        assert!(
            w.iter().any(|w| w.as_str().unwrap().starts_with(expect)),
            "{w:?}"
        );
    }
    // sleepstudy itself: no warning.
    let v = fit(&[
        "sleepstudy.csv",
        "--response",
        "Reaction",
        "--time",
        "Days",
        "--group",
        "Subject",
    ]);
    assert_eq!(
        v["warnings"].as_array().unwrap().len(),
        0,
        "{}",
        v["warnings"]
    );
}
