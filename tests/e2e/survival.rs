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

fn cox(args: &[&str]) -> Value {
    let mut full = vec!["stats", "cox", "--json"];
    full.extend_from_slice(args);
    let (code, out) = lumbar(&full);
    assert_eq!(code, 0);
    serde_json::from_str(&out).unwrap()
}

/// Coefficients and SEs to 1e-6 relative, log-likelihoods, tests and
/// concordance against R's coxph.
fn agrees(ours: &Value, r: &Value, what: &str) {
    assert_eq!(ours["n"], r["n"], "{what} n");
    assert_eq!(ours["events"], r["events"], "{what} events");
    let terms = ours["terms"].as_array().unwrap();
    let names = r["terms"].as_array().unwrap();
    assert_eq!(terms.len(), names.len(), "{what}");
    for (i, t) in terms.iter().enumerate() {
        assert_eq!(t["term"], names[i], "{what}");
        close(
            t["estimate"].as_f64().unwrap(),
            r["estimate"][i].as_f64().unwrap(),
            1e-6,
            &format!("{what} {} estimate", names[i]),
        );
        close(
            t["std_error"].as_f64().unwrap(),
            r["std_error"][i].as_f64().unwrap(),
            1e-6,
            &format!("{what} {} SE", names[i]),
        );
    }
    close(
        ours["loglik"].as_f64().unwrap(),
        r["loglik"][1].as_f64().unwrap(),
        1e-9,
        &format!("{what} loglik"),
    );
    close(
        ours["loglik_null"].as_f64().unwrap(),
        r["loglik"][0].as_f64().unwrap(),
        1e-9,
        &format!("{what} null loglik"),
    );
    close(
        ours["tests"]["likelihood_ratio"]["statistic"]
            .as_f64()
            .unwrap(),
        r["lr"].as_f64().unwrap(),
        1e-6,
        &format!("{what} LR"),
    );
    close(
        ours["tests"]["wald"]["statistic"].as_f64().unwrap(),
        r["wald"].as_f64().unwrap(),
        1e-6,
        &format!("{what} Wald"),
    );
    close(
        ours["tests"]["score"]["statistic"].as_f64().unwrap(),
        r["score"].as_f64().unwrap(),
        1e-6,
        &format!("{what} score"),
    );
    close(
        ours["concordance"].as_f64().unwrap(),
        r["concordance"].as_f64().unwrap(),
        1e-9,
        &format!("{what} concordance"),
    );
}

const LUNG: [&str; 8] = [
    "--time",
    "time",
    "--event",
    "event",
    "--covariates",
    "age,sex,ph.ecog",
    "--data",
    "",
];

fn lung_args(extra: &[&str]) -> Vec<String> {
    let mut v: Vec<String> = LUNG.iter().map(|s| s.to_string()).collect();
    v[7] = lung();
    v.extend(extra.iter().map(|s| s.to_string()));
    v
}

fn cox_lung(extra: &[&str]) -> Value {
    let args = lung_args(extra);
    cox(&args.iter().map(String::as_str).collect::<Vec<_>>())
}

#[test]
fn cox_on_lung_matches_coxph_efron_and_breslow() {
    let r = fixture("cox.json");
    let ours = cox_lung(&[]);
    assert_eq!(ours["n_dropped"], 1, "the missing ph.ecog");
    agrees(&ours, &r["lung_efron"], "lung Efron");
    agrees(
        &cox_lung(&["--ties", "breslow"]),
        &r["lung_breslow"],
        "lung Breslow",
    );
}

#[test]
fn cox_on_rossi_matches_coxph_efron_and_breslow() {
    let r = fixture("cox.json");
    let data = repo_root().join("tests/fixtures/survival/rossi.csv");
    let args = [
        "--data",
        data.to_str().unwrap(),
        "--time",
        "week",
        "--event",
        "arrest",
        "--covariates",
        "fin,age,race,wexp,mar,paro,prio",
    ];
    agrees(&cox(&args), &r["rossi_efron"], "Rossi Efron");
    let mut b = args.to_vec();
    b.extend(["--ties", "breslow"]);
    agrees(&cox(&b), &r["rossi_breslow"], "Rossi Breslow");
}

#[test]
fn cox_strata_weights_and_delayed_entry_match_coxph() {
    let r = fixture("cox.json");
    let strata = {
        let mut a = lung_args(&["--strata", "sex"]);
        a[5] = "age,ph.ecog".into();
        cox(&a.iter().map(String::as_str).collect::<Vec<_>>())
    };
    agrees(&strata, &r["lung_strata_sex"], "lung strata(sex)");
    agrees(
        &cox_lung(&["--weights", "w"]),
        &r["lung_weights"],
        "lung weights",
    );
    agrees(
        &cox_lung(&["--entry", "entry"]),
        &r["lung_entry"],
        "lung (entry, time]",
    );
}

#[test]
fn cox_robust_and_cluster_ses_match_coxph() {
    let r = fixture("cox.json");
    agrees(&cox_lung(&["--robust"]), &r["lung_robust"], "lung robust");
    agrees(
        &cox_lung(&["--cluster", "inst"]),
        &r["lung_cluster_inst"],
        "lung cluster(inst)",
    );
}

#[test]
fn cox_accepts_true_false_events_and_names_categorical_levels() {
    let r = fixture("cox.json");
    let text =
        std::fs::read_to_string(repo_root().join("tests/fixtures/survival/rossi.csv")).unwrap();
    let mut lines = text.lines();
    let mut out = format!("{}\n", lines.next().unwrap());
    for l in lines {
        let mut f: Vec<&str> = l.split(',').collect();
        f[1] = if f[1] == "1" { "true" } else { "false" };
        out.push_str(&f.join(","));
        out.push('\n');
    }
    let tmp = tempfile::tempdir().unwrap();
    let p = tmp.path().join("rossi_tf.csv");
    std::fs::write(&p, out).unwrap();
    let ours = cox(&[
        "--data",
        p.to_str().unwrap(),
        "--time",
        "week",
        "--event",
        "arrest",
        "--covariates",
        "fin,age,race,wexp,mar,paro,prio",
        "--categorical",
        "fin",
    ]);
    // fin is 0/1, so fin[1] is the same column as fin: the same fit as R's.
    let terms = ours["terms"].as_array().unwrap();
    assert_eq!(terms[0]["term"], "fin[1]");
    close(
        terms[0]["estimate"].as_f64().unwrap(),
        r["rossi_efron"]["estimate"][0].as_f64().unwrap(),
        1e-6,
        "fin[1]",
    );
    assert_eq!(ours["events"], 114);
}
