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

#[test]
fn risk_on_the_demo_store_matches_statsmodels() {
    let tmp = tempfile::tempdir().unwrap();
    let store = crate::demo_store(tmp.path());
    let results = tmp.path().join("risk");
    let (code, out) = lumbar(&[
        "risk",
        "--store",
        store.to_str().unwrap(),
        "--covariates",
        "age,sex,bmi",
        "--categorical",
        "sex:female",
        "--time",
        "time_years",
        "--json",
        "--out",
        results.to_str().unwrap(),
    ]);
    assert_eq!(code, 0);
    let doc: Value = serde_json::from_str(&out).unwrap();
    let sm = json("tests/fixtures/poisson/hunt_like_statsmodels.json");
    // Incidence by the HUNT categories, exactly as pandas cuts them.
    for (ours, theirs) in doc["incidence"]
        .as_array()
        .unwrap()
        .iter()
        .zip(sm["store_incidence"].as_array().unwrap())
    {
        assert_eq!(ours["category"], theirs["category"]);
        assert_eq!(ours["n"], theirs["n"]);
        assert_eq!(ours["events"], theirs["events"]);
        assert!(ours["person_years"].as_f64().unwrap() > 1000.0);
    }
    same_terms(
        &doc["poisson"],
        &sm["fits"]["store_adjusted_HC0"]["terms"],
        "risk --store adjusted",
    );
    assert_eq!(
        doc["exposure"]["categories"],
        serde_json::json!(["<78", "78-100", "101-124", ">=125"])
    );
    assert_eq!(doc["exposure"]["excluded_too_few_valid_days"], 0);
    let spline = &doc["spline"];
    assert_eq!(spline["knots"].as_array().unwrap().len(), 4);
    // The curve is 1 at the reference value (78 min/day).
    let at_ref = spline["curve"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| (p["exposure"].as_f64().unwrap() - 78.0).abs())
        .fold(f64::MAX, f64::min);
    assert!(at_ref < 5.0);
    assert!(doc["cox"]["terms"].as_array().unwrap()[0]["term"] == "walking_min[78-100]");
    for f in [
        "incidence.parquet",
        "rr_adjusted.csv",
        "rr_spline.parquet",
        "hr_cox.csv",
        "risk.json",
        "manifest.json",
    ] {
        assert!(results.join(f).is_file(), "{f}");
    }
}

/// Over 200 generated cohorts with planted risk ratios (HUNT's: 0.87, 0.77,
/// 0.76), the share of 95% CIs of the adjusted modified Poisson model that
/// cover the planted value, per category. The model is correctly specified
/// for the generator, so about 95% should.
#[test]
fn confidence_intervals_cover_the_planted_risk_ratios() {
    use lumbar_analysis::poisson::{Robust, modified_poisson};
    use lumbar_analysis::risk::{HUNT_CUTS, category_of};
    use lumbar_sim::synthetic::{
        CohortSpec, PLANTED_WALKING_RR, VALID_WEAR_MIN, generate_participant,
    };
    let cohorts = 200;
    let mut covered = [0usize; 3];
    for c in 0..cohorts {
        let mut spec = CohortSpec::new(0, 1, 1000 + c as u64);
        spec.followup = 2500;
        let mut cat = Vec::new();
        let (mut y, mut age, mut female, mut bmi) =
            (Vec::new(), Vec::new(), Vec::new(), Vec::new());
        for i in 0..spec.followup {
            let p = generate_participant(&spec, i);
            let valid: Vec<f64> = p
                .walking
                .iter()
                .filter(|d| d.wear_min.unwrap_or(0.0) >= VALID_WEAR_MIN)
                .map(|d| d.walking_min)
                .collect();
            if valid.is_empty() {
                continue;
            }
            cat.push(category_of(
                valid.iter().sum::<f64>() / valid.len() as f64,
                &HUNT_CUTS,
            ));
            y.push(if p.followup.event { 1.0 } else { 0.0 });
            age.push(p.followup.age);
            female.push(if p.followup.sex == "female" { 1.0 } else { 0.0 });
            bmi.push(p.followup.bmi);
        }
        let dummies: Vec<Vec<f64>> = (1..4)
            .map(|k| {
                cat.iter()
                    .map(|&c| if c == k { 1.0 } else { 0.0 })
                    .collect()
            })
            .collect();
        let mut cols = dummies;
        cols.extend([age, female, bmi]);
        let names: Vec<String> = ["c1", "c2", "c3", "age", "female", "bmi"]
            .iter()
            .map(|s| s.to_string())
            .collect();
        let fit = modified_poisson(&y, &cols, &names, Robust::Hc0).unwrap();
        for k in 0..3 {
            let t = &fit.terms[1 + k];
            let truth = PLANTED_WALKING_RR[k + 1].1;
            if t.conf_low <= truth && truth <= t.conf_high {
                covered[k] += 1;
            }
        }
    }
    let shares: Vec<f64> = covered.iter().map(|&c| c as f64 / cohorts as f64).collect();
    eprintln!("coverage of planted RRs over {cohorts} cohorts: {shares:?}");
    for (k, s) in shares.iter().enumerate() {
        assert!((0.93..=0.97).contains(s), "category {} covered {s}", k + 1);
    }
}

/// glm's rule on data that cannot identify the model (R's numbers in
/// tests/fixtures/conventions/expected.json): no events, and a covariate
/// that separates the outcome. Both fit as glm fits them, in R's
/// iterations, and both warn in JSON and in the human output.
#[test]
fn poisson_without_events_or_with_separation_is_fitted_as_glm_and_warned() {
    let r = json("tests/fixtures/conventions/expected.json");
    for (file, covariate, key, warning) in [
        ("poisson_zero.csv", "x", "poisson_zero", "no events"),
        (
            "poisson_separated.csv",
            "z",
            "poisson_separated",
            "fitted risks numerically 0",
        ),
    ] {
        let data = repo_root().join("tests/fixtures/conventions").join(file);
        let args = [
            "stats",
            "poisson",
            "--data",
            data.to_str().unwrap(),
            "--outcome",
            "y",
            "--covariates",
            covariate,
        ];
        let mut with_json = args.to_vec();
        with_json.push("--json");
        let (_, out) = lumbar(&with_json);
        let v: Value = serde_json::from_str(&out).unwrap();
        let g = &r[key];
        assert_eq!(v["iterations"], g["iter"], "{key}: glm's iterations");
        assert_eq!(v["converged"], g["converged"], "{key}");
        for i in 0..2 {
            let (a, b) = (
                v["terms"][i]["estimate"].as_f64().unwrap(),
                g["estimate"][i].as_f64().unwrap(),
            );
            // The intercepts to 1e-9; the slope of the empty outcome is 0 ± 1e-14.
            assert!(
                (a - b).abs() <= 1e-9 * b.abs().max(1e-5),
                "{key} term {i}: {a} vs R {b}"
            );
        }
        let w = v["warnings"].as_array().unwrap();
        assert_eq!(w.len(), 1, "{w:?}");
        assert!(w[0].as_str().unwrap().starts_with(warning), "{w:?}");
        let (_, human) = lumbar(&args);
        assert!(human.contains(&format!("warning: {warning}")), "{human}");
    }
}

/// `lumbar risk --data` reads NA as R writes it: a row with a missing
/// covariate is dropped and counted, and a missing level is no category.
#[test]
fn risk_drops_and_counts_missing_values_and_makes_no_na_level() {
    let text =
        std::fs::read_to_string(repo_root().join("tests/fixtures/poisson/hunt_like.csv")).unwrap();
    let mut lines: Vec<String> = text.lines().map(String::from).collect();
    // patient_id,event,walk_cat,walk10,age,sex,bmi: sex NA on rows 1-3, bmi NaN on 4-5.
    for (i, line) in lines.iter_mut().enumerate().skip(1).take(5) {
        let mut cells: Vec<String> = line.split(',').map(String::from).collect();
        if i <= 3 {
            cells[5] = "NA".into();
        } else {
            cells[6] = "NaN".into();
        }
        *line = cells.join(",");
    }
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("na.csv");
    std::fs::write(&p, lines.join("\n") + "\n").unwrap();
    let risk = |file: &str| {
        let (_, out) = lumbar(&[
            "risk",
            "--data",
            file,
            "--exposure",
            "walk10",
            "--outcome",
            "event",
            "--covariates",
            "age,sex,bmi",
            "--categorical",
            "sex",
            "--json",
        ]);
        serde_json::from_str::<Value>(&out).unwrap()
    };
    // The file has two empty bmi cells of its own (lines 7 and 19).
    let base = risk(
        repo_root()
            .join("tests/fixtures/poisson/hunt_like.csv")
            .to_str()
            .unwrap(),
    );
    assert_eq!(base["exposure"]["dropped"], 2);
    let v = risk(p.to_str().unwrap());
    assert_eq!(v["exposure"]["dropped"], 2 + 5);
    let terms: Vec<&str> = v["poisson"]["terms"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["term"].as_str().unwrap())
        .collect();
    assert!(terms.contains(&"sex[male]"), "{terms:?}");
    assert!(!terms.iter().any(|t| t.contains("NA")), "{terms:?}");
}
