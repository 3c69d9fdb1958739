//! Risk statistics against statsmodels and R (fixtures and the scripts that
//! made them are in tests/fixtures/).

use serde_json::Value;

use crate::{lumbar, repo_root};

fn json(path: &str) -> Value {
    serde_json::from_str(&std::fs::read_to_string(repo_root().join(path)).unwrap()).unwrap()
}

fn poisson(robust: &str) -> Value {
    let data = repo_root().join("tests/fixtures/poisson/hunt_like.csv");
    let (code, out) = lumbar(&[
        "stats",
        "poisson",
        "--data",
        data.to_str().unwrap(),
        "--outcome",
        "event",
        "--covariates",
        "walk_cat,age,sex,bmi",
        "--categorical",
        "walk_cat:<78,sex:female",
        "--robust",
        robust,
        "--json",
    ]);
    assert_eq!(code, 0);
    serde_json::from_str(&out).unwrap()
}

fn same_terms(ours: &Value, reference: &Value, what: &str) {
    let reference = reference.as_array().unwrap();
    let terms = ours["terms"].as_array().unwrap();
    assert_eq!(terms.len(), reference.len(), "{what}");
    for r in reference {
        let t = terms
            .iter()
            .find(|t| t["term"] == r["term"])
            .unwrap_or_else(|| panic!("{what}: no term {}", r["term"]));
        for k in ["estimate", "std_error"] {
            let (a, b) = (t[k].as_f64().unwrap(), r[k].as_f64().unwrap());
            assert!(
                ((a - b) / b).abs() < 1e-6,
                "{what} {} {k}: lumbar {a} vs {b}",
                r["term"]
            );
        }
    }
}

#[test]
fn modified_poisson_matches_statsmodels_hc0() {
    let ours = poisson("hc0");
    let sm = json("tests/fixtures/poisson/hunt_like_statsmodels.json");
    assert_eq!(ours["n"], sm["n"]);
    assert_eq!(ours["n_dropped"], 2);
    same_terms(&ours, &sm["fits"]["HC0"]["terms"], "HC0 vs statsmodels");
    // Ratio scale: exp(β) and Wald limits exp(β ± 1.959964 SE).
    let t = &ours["terms"]
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["term"] == "walk_cat[>=125]")
        .unwrap()
        .clone();
    let (b, se) = (
        t["estimate"].as_f64().unwrap(),
        t["std_error"].as_f64().unwrap(),
    );
    assert!((t["exp_estimate"].as_f64().unwrap() - b.exp()).abs() < 1e-12);
    assert!((t["conf_low"].as_f64().unwrap() - (b - 1.959963984540054 * se).exp()).abs() < 1e-12);
}

#[test]
fn hc1_and_hc3_match_r_sandwich() {
    let r = json("tests/fixtures/poisson/hunt_like_sandwich.json");
    same_terms(&poisson("hc0"), &r["HC0"], "HC0 vs sandwich");
    same_terms(&poisson("hc1"), &r["HC1"], "HC1 vs sandwich");
    same_terms(&poisson("hc3"), &r["HC3"], "HC3 vs sandwich");
}
