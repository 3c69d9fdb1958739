//! Kaplan–Meier, log-rank and Cox against R's survival (fixtures and the
//! script that made them are in tests/fixtures/survival/).

use serde_json::Value;

use crate::{lumbar, lumbar_err, repo_root};

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
        // survfit stores the SE of log S; summary.survfit prints S times it.
        if let (Some(se), Some(surv)) = (r["std_err"][i].as_f64(), r["surv"][i].as_f64()) {
            close(
                s["std_err"].as_f64().unwrap(),
                surv * se,
                1e-9,
                &format!("{strata} std_err (of S) at row {i}"),
            );
        }
        for (k, rk) in [
            ("time", "time"),
            ("n_risk", "n_risk"),
            ("n_event", "n_event"),
            ("surv", "surv"),
            ("std_err_log", "std_err"),
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
    // cox.zph (transform km): each term's chi-square, then GLOBAL.
    let zph = &ours["zph"];
    let ours_z: Vec<f64> = zph["terms"]
        .as_array()
        .unwrap()
        .iter()
        .chain([&zph["global"]])
        .map(|t| t["statistic"].as_f64().unwrap())
        .collect();
    let r_z = r["zph_chisq"].as_array().unwrap();
    assert_eq!(ours_z.len(), r_z.len(), "{what} zph terms");
    for (i, (a, b)) in ours_z.iter().zip(r_z).enumerate() {
        close(
            *a,
            b.as_f64().unwrap(),
            1e-6,
            &format!("{what} zph {}", r["zph_terms"][i]),
        );
    }
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
    // Heavy ties (up to 39 deaths at one time) with delayed entry: the
    // residuals' Efron partial terms, own-time corrections, late-entry
    // parts and strata boundaries, clustered; then Breslow with
    // fractional weights (robust by default, as coxph).
    let quarters = |extra: &[&str]| {
        let mut a = lung_args(&["--entry", "entry_quarter"]);
        a[1] = "quarter".into();
        a.extend(extra.iter().map(|s| s.to_string()));
        a
    };
    let mut a = quarters(&["--strata", "sex", "--cluster", "inst"]);
    a[5] = "age,ph.ecog".into();
    agrees(
        &cox(&a.iter().map(String::as_str).collect::<Vec<_>>()),
        &r["lung_ties_entry_strata_cluster"],
        "lung quarters (entry, stop] strata(sex) cluster(inst)",
    );
    let a = quarters(&["--weights", "w", "--ties", "breslow"]);
    let ours = cox(&a.iter().map(String::as_str).collect::<Vec<_>>());
    assert_eq!(
        ours["robust"], true,
        "fractional weights make the variance robust"
    );
    agrees(
        &ours,
        &r["lung_ties_entry_weights_breslow"],
        "lung quarters (entry, stop] weights Breslow",
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

// R's conventions (tests/fixtures/conventions/, made by make_fixtures.R
// there): the data as R writes them, coxph's convergence and warnings,
// survfit's quantiles.

fn conventions(name: &str) -> String {
    repo_root()
        .join("tests/fixtures/conventions")
        .join(name)
        .to_str()
        .unwrap()
        .to_string()
}

fn expected() -> Value {
    let p = repo_root().join("tests/fixtures/conventions/expected.json");
    serde_json::from_str(&std::fs::read_to_string(p).unwrap()).unwrap()
}

/// Estimates, SEs, log-likelihoods, n, events, dropped rows and (when R
/// converged) the iteration count against `expected.json`'s entry.
fn agrees_with_r(ours: &Value, r: &Value, terms: &[&str], what: &str) {
    assert_eq!(ours["n"], r["n"], "{what} n");
    assert_eq!(ours["events"], r["events"], "{what} events");
    assert_eq!(ours["n_dropped"], r["n_dropped"], "{what} rows dropped");
    let got: Vec<&str> = ours["terms"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["term"].as_str().unwrap())
        .collect();
    assert_eq!(got, terms, "{what} terms");
    let est = |i: usize| r["estimate"][i].as_f64().or(r["estimate"].as_f64());
    let se = |i: usize| r["std_error"][i].as_f64().or(r["std_error"].as_f64());
    for (i, t) in ours["terms"].as_array().unwrap().iter().enumerate() {
        close(
            t["estimate"].as_f64().unwrap(),
            est(i).unwrap(),
            1e-6,
            &format!("{what} {} estimate", terms[i]),
        );
        close(
            t["std_error"].as_f64().unwrap(),
            se(i).unwrap(),
            1e-6,
            &format!("{what} {} SE", terms[i]),
        );
    }
    close(
        ours["loglik"].as_f64().unwrap(),
        r["loglik"][1].as_f64().unwrap(),
        1e-9,
        &format!("{what} loglik"),
    );
    assert_eq!(
        ours["iterations"], r["iter"],
        "{what} iterations (R's fit$iter)"
    );
}

fn cox_r(file: &str, covariates: &str, extra: &[&str]) -> Value {
    let data = conventions(file);
    let mut args = vec![
        "--data",
        &data,
        "--time",
        "time",
        "--event",
        "status",
        "--covariates",
        covariates,
    ];
    args.extend_from_slice(extra);
    cox(&args)
}

/// `write.csv(survival::lung)`: a first column named "", NA cells, status
/// 1/2. The NA in ph.ecog is dropped and counted, never a group: survdiff's
/// 21.96 on 3 df (an NA group made it 29.8 on 4), and survfit's medians.
#[test]
fn km_reads_lung_as_r_writes_it() {
    let r = &expected()["logrank_ph_ecog"];
    let data = conventions("lung_r.csv");
    let (_, out) = lumbar(&[
        "stats", "km", "--data", &data, "--time", "time", "--event", "status", "--group",
        "ph.ecog", "--json",
    ]);
    let v: Value = serde_json::from_str(&out).unwrap();
    // R's word for the column (Surv(time, status)) and risk's are the same flag.
    for word in ["--status", "--outcome"] {
        let (_, same) = lumbar(&[
            "stats", "km", "--data", &data, "--time", "time", word, "status", "--group", "ph.ecog",
            "--json",
        ]);
        assert_eq!(same, out, "{word}");
    }
    assert_eq!(v["n_dropped"], r["n_dropped"]);
    assert_eq!(v["event_coding"], "1/2");
    let curves = v["curves"].as_array().unwrap();
    let groups: Vec<&str> = curves
        .iter()
        .map(|c| c["group"].as_str().unwrap())
        .collect();
    assert_eq!(groups, ["0", "1", "2", "3"]);
    for (i, c) in curves.iter().enumerate() {
        assert_eq!(c["n"], r["n"][i], "group {i} n");
        assert_eq!(
            c["median"].as_f64(),
            r["median"][i][0].as_f64(),
            "group {i} median"
        );
    }
    close(
        v["logrank"]["chisq"].as_f64().unwrap(),
        r["chisq"].as_f64().unwrap(),
        1e-9,
        "log-rank on ph.ecog",
    );
    assert_eq!(v["logrank"]["df"], r["df"]);
}

/// coxph on lung as R writes it converges in R's 3 iterations with R's
/// numbers; as categorical and as strata, ph.ecog's NA is no level.
#[test]
fn cox_on_lung_as_r_writes_it_converges_by_coxphs_rule() {
    let r = expected();
    let fit = cox_r("lung_r.csv", "age,sex,ph.ecog", &[]);
    agrees_with_r(&fit, &r["cox_lung"], &["age", "sex", "ph.ecog"], "lung");
    assert_eq!(fit["converged"], true);
    assert_eq!(fit["warnings"].as_array().unwrap().len(), 0);
    let fit = cox_r("lung_r.csv", "age", &["--categorical", "ph.ecog"]);
    agrees_with_r(
        &fit,
        &r["cox_lung_categorical"],
        &["age", "ph.ecog[1]", "ph.ecog[2]", "ph.ecog[3]"],
        "lung, ph.ecog categorical",
    );
    let fit = cox_r("lung_r.csv", "age,sex", &["--strata", "ph.ecog"]);
    agrees_with_r(
        &fit,
        &r["cox_lung_strata"],
        &["age", "sex"],
        "lung, ph.ecog strata",
    );
}

/// Times 0 and −1 are kept as coxph keeps them, with a warning; infinite
/// times and covariates, and covariates whose squares overflow, are errors
/// that name the line and the column (not "collinear").
#[test]
fn hostile_rows_are_handled_as_coxph_does_and_never_silently() {
    let r = expected();
    let fit = cox_r("lung_hostile.csv", "age,sex,ph.ecog", &[]);
    agrees_with_r(
        &fit,
        &r["cox_hostile"],
        &["age", "sex", "ph.ecog"],
        "hostile",
    );
    let w = fit["warnings"].as_array().unwrap();
    assert!(
        w.iter().any(|w| w
            .as_str()
            .unwrap()
            .contains("2 observation(s) have a time of 0 or less")),
        "{w:?}"
    );
    let text = std::fs::read_to_string(conventions("lung_hostile.csv")).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let edited = |name: &str, from: &str, to: &str| {
        let p = dir.path().join(name);
        std::fs::write(&p, text.replacen(from, to, 1)).unwrap();
        p.to_str().unwrap().to_string()
    };
    // Line 4 is lung's first row: 3,306,2,74,1,1,...
    for (name, from, to, column, shown) in [
        ("neginf.csv", "3,306,2,74", "3,-Inf,2,74", "time", "-inf"),
        ("inf_age.csv", "3,306,2,74", "3,306,2,Inf", "age", "inf"),
    ] {
        let p = edited(name, from, to);
        let e = lumbar_err(&[
            "stats",
            "cox",
            "--data",
            &p,
            "--time",
            "time",
            "--event",
            "status",
            "--covariates",
            "age,sex,ph.ecog",
        ]);
        assert!(
            e.contains("line 4") && e.contains(&format!("column '{column}'")) && e.contains(shown),
            "{e}"
        );
        assert!(!e.contains("collinear"), "{e}");
    }
    let p = edited("huge_age.csv", "3,306,2,74", "3,306,2,1e300");
    let e = lumbar_err(&[
        "stats",
        "cox",
        "--data",
        &p,
        "--time",
        "time",
        "--event",
        "status",
        "--covariates",
        "age,sex,ph.ecog",
    ]);
    assert!(
        e.contains("line 4") && e.contains("column 'age'") && e.contains("too large"),
        "{e}"
    );
}

/// A monotone likelihood is fitted and warned about as coxph does: a
/// binary covariate that separates (coxph: "Loglik converged before
/// variable 1"), with R's estimates and 14 iterations; a continuous one
/// that orders every event time (SD 10.5) is not refused as collinear but
/// runs out of iterations, and says so in JSON and in the human output.
#[test]
fn monotone_likelihoods_are_fitted_with_coxphs_warnings() {
    let r = expected();
    let fit = cox_r("lung_monotone.csv", "early,age", &[]);
    agrees_with_r(
        &fit,
        &r["cox_monotone_binary"],
        &["early", "age"],
        "monotone binary",
    );
    assert_eq!(fit["converged"], true);
    let w = fit["warnings"][0].as_str().unwrap();
    assert!(
        w.starts_with("Loglik converged before variable 1 ('early')"),
        "{w}"
    );
    let fit = cox_r("lung_monotone.csv", "order", &[]);
    assert_eq!(fit["converged"], false);
    assert_eq!(fit["iterations"], 20);
    let w = fit["warnings"][0].as_str().unwrap();
    assert!(w.starts_with("did not converge in 20 iterations"), "{w}");
    // R runs off to 25.4 (loglik −46.9) from the same first 14 steps; past
    // β ≈ 25 the risk scores span e^±900 and the estimate means nothing.
    assert!(fit["terms"][0]["estimate"].as_f64().unwrap() > 20.0);
    let data = conventions("lung_monotone.csv");
    let (_, human) = lumbar(&[
        "stats",
        "cox",
        "--data",
        &data,
        "--time",
        "time",
        "--event",
        "status",
        "--covariates",
        "order",
    ]);
    assert!(human.contains("converged: false (20 iterations"), "{human}");
    assert!(human.contains("warning: did not converge"), "{human}");
}

/// survfit's quantiles on veteran by treatment: trt 2's curve is 0.5 over
/// an interval, so its median is 52.5 (the midpoint), not 52; the CIs of
/// the quartiles, and summary(fit, times =) at 30, 90, 180, 365 days.
#[test]
fn km_quantiles_and_chosen_times_match_survfit_on_veteran() {
    let r = expected();
    let data = conventions("veteran_r.csv");
    let (_, out) = lumbar(&[
        "stats",
        "km",
        "--data",
        &data,
        "--time",
        "time",
        "--event",
        "status",
        "--group",
        "trt",
        "--times",
        "30,90,180,365",
        "--json",
    ]);
    let v: Value = serde_json::from_str(&out).unwrap();
    for (k, rk) in r["km_veteran"].as_array().unwrap().iter().enumerate() {
        let c = &v["curves"][k];
        assert_eq!(c["group"], rk["group"]);
        for (i, q) in c["quantiles"].as_array().unwrap().iter().enumerate() {
            for (ours, theirs) in [("time", "quantile"), ("lower", "lower"), ("upper", "upper")] {
                assert_eq!(
                    q[ours].as_f64(),
                    rk[theirs][i].as_f64(),
                    "trt {} {theirs} at p {}",
                    rk["group"],
                    rk["probs"][i]
                );
            }
        }
        assert_eq!(c["median"].as_f64(), rk["quantile"][1].as_f64());
        assert_eq!(c["median_lower"].as_f64(), rk["lower"][1].as_f64());
        assert_eq!(c["median_upper"].as_f64(), rk["upper"][1].as_f64());
        for (i, a) in c["at_times"].as_array().unwrap().iter().enumerate() {
            for (ours, theirs) in [
                ("time", "times"),
                ("surv", "surv"),
                ("std_err", "std_err"),
                ("lower", "lower_t"),
                ("upper", "upper_t"),
                ("n_risk", "n_risk"),
            ] {
                close(
                    a[ours].as_f64().unwrap(),
                    rk[theirs][i].as_f64().unwrap(),
                    1e-9,
                    &format!("trt {} {ours} at time {}", rk["group"], rk["times"][i]),
                );
            }
        }
    }
    assert_eq!(v["curves"][1]["median"].as_f64(), Some(52.5));
    let (_, human) = lumbar(&[
        "stats", "km", "--data", &data, "--time", "time", "--event", "status", "--group", "trt",
        "--times", "90",
    ]);
    assert!(human.contains("median 52.5 (95% CI 44–95)"), "{human}");
}

/// Every default token is missing in the columns survival reads, `--na`
/// replaces the list, and event values outside the codings are errors
/// naming the line.
#[test]
fn missing_tokens_and_event_codings() {
    let dir = tempfile::tempdir().unwrap();
    let write = |name: &str, text: &str| {
        let p = dir.path().join(name);
        std::fs::write(&p, text).unwrap();
        p.to_str().unwrap().to_string()
    };
    let mut text = String::from("time,status,g\n");
    for (i, g) in ["a", "b"].iter().cycle().take(20).enumerate() {
        text.push_str(&format!("{},{},{g}\n", i + 1, 1 + (i % 3 != 0) as usize));
    }
    for na in ["NA", "NaN", "nan", "NULL", "null", ".", ""] {
        text.push_str(&format!("5,2,{na}\n{na},2,a\n"));
    }
    let p = write("tokens.csv", &text);
    let km = |extra: &[&str]| {
        let mut args = vec![
            "stats", "km", "--data", &p, "--time", "time", "--event", "status", "--group", "g",
            "--json",
        ];
        args.extend_from_slice(extra);
        let (_, out) = lumbar(&args);
        serde_json::from_str::<Value>(&out).unwrap()
    };
    let v = km(&[]);
    assert_eq!(v["n"], 20);
    assert_eq!(v["n_dropped"], 14);
    assert_eq!(v["curves"].as_array().unwrap().len(), 2, "no NA group");
    // Only "NA" missing: "." and the others are text in a numeric column.
    let e = lumbar_err(&[
        "stats", "km", "--data", &p, "--time", "time", "--event", "status", "--na", "NA",
    ]);
    assert!(e.contains("column 'time' is not numeric"), "{e}");
    let p2 = write("sentinel.csv", "time,status\n1,1\n2,0\n-99,1\n4,1\n");
    let (_, out) = lumbar(&[
        "stats", "km", "--data", &p2, "--time", "time", "--event", "status", "--na", "-99",
        "--json",
    ]);
    let v: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(
        (v["n"].as_u64(), v["n_dropped"].as_u64()),
        (Some(3), Some(1))
    );
    let p3 = write("mixed.csv", "time,status\n1,1\n2,2\n3,0\n");
    let e = lumbar_err(&[
        "stats", "km", "--data", &p3, "--time", "time", "--event", "status",
    ]);
    assert!(
        e.contains("line 4") && e.contains("also holds 2 (at line 3)"),
        "{e}"
    );
    let p4 = write("three.csv", "time,status\n1,1\n2,3\n");
    let e = lumbar_err(&[
        "stats", "cox", "--data", &p4, "--time", "time", "--event", "status",
    ]);
    assert!(e.contains("line 3") && e.contains("event value 3"), "{e}");
}

/// With delayed entry, a row whose stop is not after its entry is dropped
/// and counted as R's Surv makes it NA, with a warning.
#[test]
fn empty_intervals_are_dropped_as_surv_does() {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("ag.csv");
    let mut text = String::from("entry,time,status,x\n");
    for i in 0..30 {
        text.push_str(&format!(
            "{},{},{},{}\n",
            i % 3,
            5 + i,
            (i % 4 != 0) as u8,
            (i * 7) % 11
        ));
    }
    text.push_str("9,9,1,3\n12,10,1,4\n");
    std::fs::write(&p, text).unwrap();
    let fit = cox(&[
        "--data",
        p.to_str().unwrap(),
        "--entry",
        "entry",
        "--time",
        "time",
        "--event",
        "status",
        "--covariates",
        "x",
    ]);
    assert_eq!(fit["n"], 30);
    assert_eq!(fit["n_dropped"], 2);
    let w = fit["warnings"][0].as_str().unwrap();
    assert!(
        w.starts_with("2 row(s) with stop time <= entry time dropped"),
        "{w}"
    );
}

/// `--out DIR` writes the model's table as CSV and Parquet and the whole
/// result as fit.json (what --json prints); `--format` picks among them.
#[test]
fn stats_write_their_tables_in_the_formats_asked() {
    let tmp = tempfile::tempdir().unwrap();
    let data = conventions("lung_r.csv");
    let base = [
        "stats",
        "cox",
        "--data",
        &data,
        "--time",
        "time",
        "--event",
        "status",
        "--covariates",
        "age,sex",
    ];
    let (_, json) = lumbar(&[&base[..], &["--json"]].concat());
    let dir = tmp.path().join("cox");
    let d = crate::path_str(&dir);
    lumbar(&[&base[..], &["--out", d, "--format", "csv,json"]].concat());
    let mut files: Vec<String> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| !n.starts_with('.'))
        .collect();
    files.sort();
    assert_eq!(files, ["coefficients.csv", "fit.json"]);
    let fit: Value = serde_json::from_slice(&std::fs::read(dir.join("fit.json")).unwrap()).unwrap();
    assert_eq!(fit, serde_json::from_str::<Value>(&json).unwrap());
    let csv = std::fs::read_to_string(dir.join("coefficients.csv")).unwrap();
    assert!(
        csv.starts_with("term,estimate,std_error,z,p_value,exp_estimate,conf_low,conf_high\n"),
        "{csv}"
    );
    assert_eq!(csv.lines().count(), 3);
    // km: every step of every curve, all three formats by default.
    let km = tmp.path().join("km");
    lumbar(&[
        "stats",
        "km",
        "--data",
        &data,
        "--time",
        "time",
        "--status",
        "status",
        "--group",
        "sex",
        "--out",
        crate::path_str(&km),
    ]);
    for f in ["curves.csv", "curves.parquet", "fit.json"] {
        assert!(km.join(f).exists(), "{f}");
    }
    let steps = std::fs::read_to_string(km.join("curves.csv")).unwrap();
    assert!(
        steps.starts_with("group,time,n_risk,n_event,n_censor,surv,std_err,lower,upper\n1,"),
        "{steps}"
    );
}
