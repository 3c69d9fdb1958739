//! `lumbar calibrate` recovers what it is given: a cohort simulated with a
//! known exercise benefit, written as tables, ingested like a clinic's,
//! then calibrated with other seeds. The benefit is recovered to within
//! 0.5, and a parameter no target depends on (the walking median) is
//! reported as not identified. Coverage over 20 truth seeds is
//! `benches/calibration-recovery`'s (17/20 in the README's run): one seed
//! here, as a debug-build test must stay short.

use serde_json::Value;

use crate::{lumbar, path_str, repo_root};

#[test]
fn calibration_recovers_a_planted_benefit_and_flags_what_the_targets_cannot_see() {
    let tmp = tempfile::tempdir().unwrap();
    let regimen = repo_root().join("datasets/regimens/six-moves.toml");
    let scenario = tmp.path().join("recovery.toml");
    std::fs::write(
        &scenario,
        format!(
            r#"name = "recovery"
regimen = "{}"
weeks = 12
patients = 400
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
    let (tables, store, fit) = (
        tmp.path().join("tables"),
        tmp.path().join("store"),
        tmp.path().join("fit"),
    );
    lumbar(&[
        "simulate",
        path_str(&scenario),
        "--cohort-tables",
        path_str(&tables),
        "--out",
        path_str(&tmp.path().join("truth")),
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
    let (_, json) = lumbar(&[
        "calibrate",
        path_str(&store),
        "--scenario",
        path_str(&scenario),
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
