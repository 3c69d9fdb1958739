//! `lumbar calibrate` recovers what it is given: a cohort simulated with a
//! known exercise benefit, written as tables, ingested like a clinic's,
//! then calibrated with other seeds. The benefit is recovered to within
//! 0.5, and a parameter no target depends on (the walking median) is
//! reported as not identified. Coverage over 20 truth seeds is
//! `benches/calibration-recovery`'s (ABC-SMC 20/20 and simulated moments
//! 17/20 in the README's runs): one seed here, as a debug-build test must
//! stay short.

use serde_json::Value;

use crate::{lumbar, path_str, repo_root};

#[test]
fn calibration_recovers_a_planted_benefit_and_flags_what_the_targets_cannot_see() {
    let tmp = tempfile::tempdir().unwrap();
    let (scenario, store) = recovery_cohort(tmp.path(), 400);
    let fit = tmp.path().join("fit");
    let (_, json) = lumbar(&[
        "calibrate",
        path_str(&store),
        "--scenario",
        path_str(&scenario),
        "--method",
        "simulated-moments",
        "--seed",
        "99",
        "--budget",
        "90",
        "--out",
        path_str(&fit),
        "--json",
    ]);
    let doc: Value = serde_json::from_str(&json).unwrap();
    let param = |name: &str| {
        doc["parameters"]
            .as_array()
            .unwrap()
            .iter()
            .find(|p| p["name"] == name)
            .unwrap()
            .clone()
    };
    let b = param("dynamics.exercise_benefit");
    let (est, lo, hi) = (
        b["estimate"].as_f64().unwrap(),
        b["lower"].as_f64().unwrap(),
        b["upper"].as_f64().unwrap(),
    );
    assert!((est - 2.2).abs() < 0.5, "{b}");
    assert!(lo < est && est < hi, "{b}");
    assert_eq!(b["identified"], true, "{b}");
    let w = param("population.walking.mu");
    assert_eq!(w["identified"], false, "{w}");
    // The JSON contract.
    for t in doc["targets"].as_array().unwrap() {
        for k in ["name", "observed", "se", "simulated", "lower", "upper"] {
            assert!(!t[k].is_null(), "{k} in {t}");
        }
    }
    let d = &doc["diagnostics"];
    assert_eq!(d["method"], "simulated-moments");
    // The searches' budget, the estimate, the Jacobian (2 per parameter)
    // and the targets at the estimate.
    assert!(d["simulations"].as_u64().unwrap() <= 90 + 1 + 4 + 1, "{d}");
    // calibrated.toml is a scenario lumbar loads, with the estimate.
    let calibrated = fit.join("calibrated.toml");
    let text = std::fs::read_to_string(&calibrated).unwrap();
    let s =
        lumbar_sim::scenario::Scenario::load(&calibrated).unwrap_or_else(|e| panic!("{e}\n{text}"));
    assert!((s.dynamics.exercise_benefit - est).abs() < 1e-12);
}

/// The recovery scenario of both tests: a planted benefit of 2.2, and a
/// walking median that no target depends on.
fn recovery_cohort(
    tmp: &std::path::Path,
    patients: u32,
) -> (std::path::PathBuf, std::path::PathBuf) {
    let regimen = repo_root().join("datasets/regimens/six-moves.toml");
    let scenario = tmp.join("recovery.toml");
    std::fs::write(
        &scenario,
        format!(
            r#"name = "recovery"
regimen = "{}"
weeks = 12
patients = {patients}
seed = 11

[programme]
exercises = "all"

[dynamics]
exercise_benefit = 2.2

[calibration.parameters]
"dynamics.exercise_benefit" = {{ dist = "uniform", low = 0.3, high = 3.5 }}
"population.walking.mu" = {{ dist = "normal", mean = 4.25, sd = 0.3 }}
"#,
            regimen.display()
        ),
    )
    .unwrap();
    let (tables, store) = (tmp.join("tables"), tmp.join("store"));
    lumbar(&[
        "simulate",
        path_str(&scenario),
        "--cohort-tables",
        path_str(&tables),
        "--out",
        path_str(&tmp.join("truth")),
    ]);
    lumbar(&[
        "ingest",
        "--dir",
        path_str(&tables),
        "--out",
        path_str(&store),
        "--as-of",
        "2030-01-01",
    ]);
    (scenario, store)
}

#[test]
fn abc_smc_finds_the_planted_benefit_with_a_posterior_the_same_at_any_thread_count() {
    let tmp = tempfile::tempdir().unwrap();
    let (scenario, store) = recovery_cohort(tmp.path(), 300);
    let run = |out: &str, budget: &str, threads: &str| {
        let (_, json) = lumbar(&[
            "calibrate",
            path_str(&store),
            "--scenario",
            path_str(&scenario),
            "--method",
            "abc-smc",
            "--particles",
            "40",
            "--budget",
            budget,
            "--seed",
            "5",
            "--bootstrap",
            "20",
            "--threads",
            threads,
            "--out",
            path_str(&tmp.path().join(out)),
            "--json",
        ]);
        let mut doc: Value = serde_json::from_str(&json).unwrap();
        for k in ["seconds", "simulate_cpu_seconds", "targets_cpu_seconds"] {
            doc["diagnostics"][k] = Value::Null;
        }
        doc
    };
    // Thread-independence: the same particles, weights and fit.
    let (one, two) = (run("t1", "100", "1"), run("t2", "100", "2"));
    assert_eq!(one, two);
    assert_eq!(
        std::fs::read(tmp.path().join("t1/posterior.parquet")).unwrap(),
        std::fs::read(tmp.path().join("t2/posterior.parquet")).unwrap()
    );

    let doc = run("fit", "400", "2");
    let d = &doc["diagnostics"];
    assert_eq!(d["method"], "abc-smc");
    assert!(d["simulations"].as_u64().unwrap() <= 400, "{d}");
    let tol: Vec<f64> = d["tolerances"]
        .as_array()
        .unwrap()
        .iter()
        .skip(1) // generation 0's is infinite (null in JSON)
        .map(|x| x.as_f64().unwrap())
        .collect();
    assert!(tol.len() >= 2, "{d}");
    assert!(
        tol.windows(2).all(|w| w[1] < w[0]),
        "tolerances shrink: {tol:?}"
    );
    let ess = d["ess"].as_f64().unwrap();
    assert!(ess > 5.0 && ess <= 40.0 + 1e-9, "{d}");
    let param = |name: &str| {
        doc["parameters"]
            .as_array()
            .unwrap()
            .iter()
            .find(|p| p["name"] == name)
            .unwrap()
            .clone()
    };
    let b = param("dynamics.exercise_benefit");
    let (est, lo, hi) = (
        b["estimate"].as_f64().unwrap(),
        b["lower"].as_f64().unwrap(),
        b["upper"].as_f64().unwrap(),
    );
    assert!((est - 2.2).abs() < 0.6, "{b}");
    assert!(lo < est && est < hi, "{b}");
    assert_eq!(b["identified"], true, "{b}");
    assert_eq!(param("population.walking.mu")["identified"], false);

    // calibrated.toml carries the posterior as its PSA: 200 joint draws,
    // each inside the last generation's range.
    let fit = tmp.path().join("fit");
    let s = lumbar_sim::scenario::Scenario::load(&fit.join("calibrated.toml")).unwrap();
    let psa = s.psa.expect("a [psa] of posterior draws");
    assert_eq!(psa.draws, 200);
    let (_, benefit) = psa
        .joint
        .iter()
        .find(|(p, _)| p == "dynamics.exercise_benefit")
        .unwrap();
    assert_eq!(benefit.len(), 200);
    let mean = benefit.iter().sum::<f64>() / 200.0;
    assert!((mean - est).abs() < 0.15, "resampled mean {mean} vs {est}");
    let svg = std::fs::read_to_string(fit.join("fit.svg")).unwrap();
    assert!(svg.starts_with("<svg") && svg.contains("nrs_mean_week_"));
    assert!(fit.join("posterior.parquet").exists());
}

#[test]
fn replay_pairs_the_rules_conditions_on_each_patient_and_hides_what_it_must() {
    let tmp = tempfile::tempdir().unwrap();
    let (scenario, store) = recovery_cohort(tmp.path(), 300);
    let fit = tmp.path().join("fit");
    lumbar(&[
        "calibrate",
        path_str(&store),
        "--scenario",
        path_str(&scenario),
        "--method",
        "simulated-moments",
        "--budget",
        "20",
        "--replicates",
        "1",
        "--bootstrap",
        "10",
        "--out",
        path_str(&fit),
    ]);
    let replay = |rules: &std::path::Path, out: &str, threads: &str| {
        let (_, json) = lumbar(&[
            "replay",
            path_str(&store),
            "--calibrated",
            path_str(&fit),
            "--scenario",
            path_str(rules),
            "--draws",
            "40",
            "--candidates",
            "16",
            "--threads",
            threads,
            "--out",
            path_str(&tmp.path().join(out)),
            "--json",
        ]);
        let mut doc: Value = serde_json::from_str(&json).unwrap();
        doc["diagnostics"]["seconds"] = Value::Null;
        doc
    };
    // The rule the patients had, replayed against itself: paired runs
    // differ by nothing, in every site, week and measure.
    let same = replay(&scenario, "same", "2");
    let rows = same["rows"].as_array().unwrap();
    assert!(rows.len() > 100);
    for r in rows {
        assert_eq!(r["difference"].as_f64().unwrap_or(0.0), 0.0, "{r}");
        assert_eq!(r["lower"].as_f64().unwrap_or(0.0), 0.0, "{r}");
    }
    assert_eq!(same["diagnostics"]["patients"], 300);
    // The replayed cohort under its own rule looks like the logged one:
    // its week-12 dropout and session adherence are within a few points.
    let at = |doc: &Value, measure: &str| {
        doc["rows"]
            .as_array()
            .unwrap()
            .iter()
            .find(|r| r["site"] == "all" && r["week"] == 12 && r["measure"] == measure)
            .unwrap()["observed_rule"]
            .as_f64()
            .unwrap()
    };
    let adherence = at(&same, "adherence");
    assert!(adherence > 0.3 && adherence < 0.9, "{adherence}");

    // Another programme (ladders and rules): a real difference, the same
    // at any thread count, and each patient's history narrows their traits.
    let rules = repo_root().join("datasets/scenarios/pain-contingent.toml");
    let (one, two) = (replay(&rules, "r1", "1"), replay(&rules, "r2", "2"));
    assert_eq!(one, two);
    assert!(
        one["rows"]
            .as_array()
            .unwrap()
            .iter()
            .any(|r| r["difference"].as_f64().is_some_and(|d| d.abs() > 1e-6))
    );
    let ess = lumbar_io_read_ess(&tmp.path().join("r1/patients.parquet"));
    assert_eq!(ess.len(), 300);
    let mean = ess.iter().sum::<f64>() / ess.len() as f64;
    assert!(mean > 1.0 && mean < 16.0 * 0.8, "mean ESS {mean} of 16");
    let html = std::fs::read_to_string(tmp.path().join("r1/replay.html")).unwrap();
    assert!(
        !html.contains("S000001"),
        "no patient identifier on the page"
    );
    assert!(!html.contains("<script"));
}

/// `ess_mean` of patients.parquet.
fn lumbar_io_read_ess(path: &std::path::Path) -> Vec<f64> {
    use polars::prelude::*;
    let df = ParquetReader::new(std::fs::File::open(path).unwrap())
        .finish()
        .unwrap();
    df.column("ess_mean")
        .unwrap()
        .f64()
        .unwrap()
        .into_no_null_iter()
        .collect()
}
