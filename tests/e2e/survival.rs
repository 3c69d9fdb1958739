//! Kaplan–Meier, log-rank and Cox against R's survival (fixtures and the
//! script that made them are in tests/fixtures/survival/).

use serde_json::Value;

use crate::{lumbar, repo_root};

fn fixture(name: &str) -> Value {
    let p = repo_root().join("tests/fixtures/survival").join(name);
    serde_json::from_str(&std::fs::read_to_string(p).unwrap()).unwrap()
}

fn lung() -> String {
    repo_root()
        .join("tests/fixtures/survival/lung.csv")
        .to_str()
        .unwrap()
        .to_string()
}

fn close(a: f64, b: f64, rel: f64, what: &str) {
    let d = if b == 0.0 {
        a.abs()
    } else {
        ((a - b) / b).abs()
    };
    assert!(d <= rel, "{what}: lumbar {a} vs R {b}");
}

fn compare_curve(ours: &Value, r: &Value, strata: &str) {
    let rows: Vec<usize> = r["strata"]
        .as_array()
        .unwrap()
        .iter()
        .enumerate()
        .filter(|(_, s)| *s == strata)
        .map(|(i, _)| i)
        .collect();
    let steps = ours["steps"].as_array().unwrap();
    assert_eq!(
        steps.len(),
        rows.len(),
        "{strata}: number of distinct times"
    );
    for (s, &i) in steps.iter().zip(&rows) {
        for (k, rk) in [
            ("time", "time"),
            ("n_risk", "n_risk"),
            ("n_event", "n_event"),
            ("surv", "surv"),
            ("std_err", "std_err"),
            ("lower", "lower"),
            ("upper", "upper"),
        ] {
            let b = &r[rk][i];
            if b.is_null() {
                continue;
            }
            close(
                s[k].as_f64().unwrap(),
                b.as_f64().unwrap(),
                1e-9,
                &format!("{strata} {k} at row {i}"),
            );
        }
    }
}

#[test]
fn kaplan_meier_and_log_rank_match_survfit_and_survdiff() {
    let r = fixture("lung_km.json");
    let (_, out) = lumbar(&[
        "stats",
        "km",
        "--data",
        &lung(),
        "--time",
        "time",
        "--event",
        "event",
        "--json",
    ]);
    let all: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(all["n"], 228);
    compare_curve(&all["curves"][0], &r["overall"], "all");
    let (_, out) = lumbar(&[
        "stats",
        "km",
        "--data",
        &lung(),
        "--time",
        "time",
        "--event",
        "event",
        "--group",
        "sex",
        "--json",
    ]);
    let by: Value = serde_json::from_str(&out).unwrap();
    compare_curve(&by["curves"][0], &r["by_sex"], "sex=1");
    compare_curve(&by["curves"][1], &r["by_sex"], "sex=2");
    close(
        by["logrank"]["chisq"].as_f64().unwrap(),
        r["logrank_sex"]["chisq"].as_f64().unwrap(),
        1e-9,
        "log-rank",
    );
    assert_eq!(by["logrank"]["df"], 1);
}
