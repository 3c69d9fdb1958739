//! The concordance and its standard error against R's coxph (the fixtures
//! of tests/fixtures/survival, made by make_concordance.R) and against a
//! brute-force pair loop whose influence is a numerical derivative.

use std::collections::HashMap;

use nalgebra::DVector;

use super::pass::EventTimes;
use super::pass::concordance::concordance;
use super::tests::{column_means, pool, uniforms};
use super::{CoxData, CoxOptions, Ties, fit_with};

const FIXTURES: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../../tests/fixtures/survival/"
);

/// A CSV of R's write.csv (quoted header, empty for NA) by column name.
fn read_csv(name: &str) -> HashMap<String, Vec<Option<f64>>> {
    let text = std::fs::read_to_string(format!("{FIXTURES}{name}")).unwrap();
    let mut lines = text.lines();
    let header: Vec<String> = lines
        .next()
        .unwrap()
        .split(',')
        .map(|h| h.trim_matches('"').to_string())
        .collect();
    let mut cols: HashMap<String, Vec<Option<f64>>> =
        header.iter().map(|h| (h.clone(), Vec::new())).collect();
    for line in lines.filter(|l| !l.is_empty()) {
        for (h, v) in header.iter().zip(line.split(',')) {
            let v = v.trim_matches('"');
            cols.get_mut(h)
                .unwrap()
                .push((!v.is_empty()).then(|| v.parse().unwrap()));
        }
    }
    cols
}

/// The rows where every column named is present, as R's model frame keeps.
struct Spec<'a> {
    file: &'a str,
    stop: &'a str,
    event: &'a str,
    entry: Option<&'a str>,
    covariates: &'a [&'a str],
    strata: Option<&'a str>,
    weights: Option<&'a str>,
    cluster: Option<&'a str>,
    ties: Ties,
}

fn data(spec: &Spec) -> CoxData {
    let csv = read_csv(spec.file);
    let col = |name: &str| &csv[name];
    let mut used: Vec<&str> = vec![spec.stop, spec.event];
    used.extend(spec.covariates);
    used.extend(spec.entry);
    used.extend(spec.strata);
    used.extend(spec.weights);
    used.extend(spec.cluster);
    let n = col(spec.stop).len();
    let keep: Vec<usize> = (0..n)
        .filter(|&i| used.iter().all(|c| col(c)[i].is_some()))
        .collect();
    let pick = |name: &str| -> Vec<f64> { keep.iter().map(|&i| col(name)[i].unwrap()).collect() };
    let label = |name: &str| -> Vec<String> { pick(name).iter().map(|v| v.to_string()).collect() };
    CoxData {
        stop: pick(spec.stop),
        entry: spec.entry.map(pick),
        event: pick(spec.event).iter().map(|&e| e == 1.0).collect(),
        columns: spec.covariates.iter().map(|c| pick(c)).collect(),
        names: spec.covariates.iter().map(|c| c.to_string()).collect(),
        strata: spec.strata.map(label),
        weights: spec.weights.map(pick),
        cluster: spec.cluster.map(label),
        terms: None,
    }
}

/// R's concordance and its SE, on each fit of make_concordance.R, to 1e-7.
#[test]
fn concordance_and_its_standard_error_agree_with_r() {
    let json: serde_json::Value = serde_json::from_str(include_str!(
        "../../../../tests/fixtures/survival/concordance.json"
    ))
    .unwrap();
    let lung = &["age", "sex", "ph.ecog"][..];
    let lung_strata = &["age", "ph.ecog"][..];
    let rossi = &["fin", "age", "race", "wexp", "mar", "paro", "prio"][..];
    let base = Spec {
        file: "lung.csv",
        stop: "time",
        event: "event",
        entry: None,
        covariates: lung,
        strata: None,
        weights: None,
        cluster: None,
        ties: Ties::Efron,
    };
    let rossi_spec = Spec {
        file: "rossi.csv",
        stop: "week",
        event: "arrest",
        covariates: rossi,
        ..base
    };
    let cases = [
        ("lung", Spec { ..base }),
        (
            "lung_strata_sex",
            Spec {
                covariates: lung_strata,
                strata: Some("sex"),
                ..base
            },
        ),
        (
            "lung_weights",
            Spec {
                weights: Some("w"),
                ..base
            },
        ),
        (
            "lung_entry",
            Spec {
                entry: Some("entry"),
                ..base
            },
        ),
        (
            "lung_entry_strata_weights",
            Spec {
                entry: Some("entry"),
                covariates: lung_strata,
                strata: Some("sex"),
                weights: Some("w"),
                ..base
            },
        ),
        (
            "lung_cluster_inst",
            Spec {
                cluster: Some("inst"),
                ..base
            },
        ),
        ("rossi", Spec { ..rossi_spec }),
        (
            "rossi_breslow",
            Spec {
                ties: Ties::Breslow,
                ..rossi_spec
            },
        ),
    ];
    let obj = json.as_object().unwrap();
    assert_eq!(obj.len(), cases.len(), "every fixture is tested");
    for (name, spec) in &cases {
        let r = &json[*name];
        let d = data(spec);
        let fit = fit_with(
            &d,
            &CoxOptions {
                ties: spec.ties,
                robust: false,
                diagnostics: true,
            },
        )
        .unwrap();
        assert_eq!(fit.n as u64, r["n"].as_u64().unwrap(), "{name} n");
        for (t, b) in fit.terms.iter().zip(r["estimate"].as_array().unwrap()) {
            let b = b.as_f64().unwrap();
            assert!(
                (t.estimate - b).abs() <= 1e-7 * (1.0 + b.abs()),
                "{name} β {t:?} vs {b}"
            );
        }
        let (c, se) = (
            r["concordance"].as_f64().unwrap(),
            r["std_error"].as_f64().unwrap(),
        );
        let (dc, dse) = (
            (fit.concordance - c).abs(),
            (fit.concordance_std_error - se).abs(),
        );
        eprintln!("{name}: |ΔC| {dc:.1e}, |Δse| {dse:.1e} (C {c}, se {se})");
        assert!(
            dc <= 1e-7,
            "{name} concordance {} vs R {c}",
            fit.concordance
        );
        assert!(
            dse <= 1e-7,
            "{name} se {} vs R {se}",
            fit.concordance_std_error
        );
    }
}

/// The pairs by brute force: Somers' d = (C − D)/N over every pair of a
/// death and someone at risk then (same stratum, entry < t ≤ stop, a
/// censoring at t at risk, another death at t not), weighing w_i w_j.
fn somers(d: &CoxData, lp: &[f64], w: &[f64]) -> (f64, f64) {
    let n = lp.len();
    let (mut c, mut disc, mut tied) = (0.0, 0.0, 0.0);
    let stratum = |i: usize| d.strata.as_ref().map(|s| s[i].as_str());
    let entry = |i: usize| d.entry.as_ref().map_or(f64::NEG_INFINITY, |e| e[i]);
    for i in (0..n).filter(|&i| d.event[i]) {
        let t = d.stop[i];
        for j in 0..n {
            let at_risk = stratum(j) == stratum(i)
                && entry(j) < t
                && (d.stop[j] > t || (d.stop[j] == t && !d.event[j]));
            if !at_risk {
                continue;
            }
            let wij = w[i] * w[j];
            if lp[i] > lp[j] {
                c += wij;
            } else if lp[i] < lp[j] {
                disc += wij;
            } else {
                tied += wij;
            }
        }
    }
    (
        (c - disc) / (c + disc + tied),
        (c + tied / 2.0) / (c + disc + tied),
    )
}

/// The infinitesimal jackknife by numerical derivatives of the pair loop:
/// U_k = w_k ∂d/∂w_k (central differences; d is a ratio of quadratics in
/// the weights, so the error is ~h²), summed within clusters,
/// se = √(Σ U²) / 2. O(n³): small data only.
fn brute_force(d: &CoxData, lp: &[f64]) -> (f64, f64) {
    let n = lp.len();
    let w: Vec<f64> = d.weights.clone().unwrap_or(vec![1.0; n]);
    let (_, estimate) = somers(d, lp, &w);
    let mut u = vec![0.0; n];
    for k in 0..n {
        let h = 1e-4 * w[k];
        let mut wp = w.clone();
        wp[k] += h;
        let up = somers(d, lp, &wp).0;
        wp[k] -= 2.0 * h;
        let down = somers(d, lp, &wp).0;
        u[k] = w[k] * (up - down) / (2.0 * h);
    }
    let mut sums: HashMap<String, f64> = HashMap::new();
    for k in 0..n {
        let label = d.cluster.as_ref().map_or(k.to_string(), |c| c[k].clone());
        *sums.entry(label).or_default() += u[k];
    }
    let se = sums.values().map(|v| v * v).sum::<f64>().sqrt() / 2.0;
    (estimate, se)
}

/// Small random data with ties in time and in the score, late entry,
/// strata, fractional weights and clusters, each on and off: the sweep
/// gives the brute force's concordance and standard error.
#[test]
fn the_sweep_equals_a_brute_force_infinitesimal_jackknife() {
    let mut unif = uniforms(2024);
    for case in 0..48 {
        let n = 5 + (unif() * 55.0) as usize;
        let (entry, strata, weights, cluster) =
            (case & 1 != 0, case & 2 != 0, case & 4 != 0, case & 8 != 0);
        let mut d = CoxData::default();
        let mut lp = Vec::new();
        for _ in 0..n {
            // Few distinct scores and times: many ties of both kinds.
            let score = (unif() * 6.0).floor() * 0.5 - 1.0;
            let e = if entry { (unif() * 4.0).floor() } else { 0.0 };
            let stop = e + 1.0 + (unif() * 8.0 * (-score).exp()).floor();
            lp.push(score);
            d.stop.push(stop);
            d.event.push(unif() < 0.6);
            if entry {
                d.entry.get_or_insert_with(Vec::new).push(e);
            }
            if strata {
                let s = if unif() < 0.4 { "a" } else { "b" };
                d.strata.get_or_insert_with(Vec::new).push(s.into());
            }
            if weights {
                let w = 0.25 + (unif() * 8.0).floor() * 0.25;
                d.weights.get_or_insert_with(Vec::new).push(w);
            }
            if cluster {
                let c = format!("c{}", (unif() * 7.0) as usize);
                d.cluster.get_or_insert_with(Vec::new).push(c);
            }
        }
        let (c, se) = brute_force(&d, &lp);
        // The scores as the one covariate, with β = 1 (centred on their
        // mean, which keeps their order and ties).
        d.names = vec!["score".into()];
        d.columns = vec![lp.clone()];
        let times = EventTimes::new(&d, &column_means(&d), Ties::Efron);
        let ours = concordance(&times, &DVector::from_element(1, 1.0), d.cluster.as_deref());
        if c.is_nan() {
            assert!(
                ours.estimate.is_nan() && ours.std_error.is_nan(),
                "case {case}"
            );
            continue;
        }
        assert!(
            (ours.estimate - c).abs() <= 1e-12,
            "case {case}: C {} vs {c}",
            ours.estimate
        );
        assert!(
            (ours.std_error - se).abs() <= 1e-7 * se.max(1e-3),
            "case {case} (n {n}, entry {entry}, strata {strata}, weights {weights}, cluster {cluster}): se {} vs {se}",
            ours.std_error
        );
    }
}

/// The sweep's blocks are cut by the data alone: the same bits on 1 and 3
/// threads, with strata and late entry (several blocks a stratum here,
/// as tests cut blocks of a few rows).
#[test]
fn the_blocked_sweep_gives_the_same_bits_on_any_thread_count() {
    for (weighted, late) in [(true, true), (false, false)] {
        let mut d = super::tests::tied_data(600, 3, 5);
        if !weighted {
            d.weights = None;
        }
        if !late {
            d.entry = None;
        }
        let times = EventTimes::new(&d, &column_means(&d), Ties::Efron);
        let beta = DVector::from_vec(vec![0.4, -0.2, 0.3]);
        let on = |threads| pool(threads).install(|| concordance(&times, &beta, None));
        let (one, three) = (on(1), on(3));
        assert!(one.estimate > 0.5 && one.estimate < 1.0, "{one:?}");
        assert_eq!(one.estimate.to_bits(), three.estimate.to_bits());
        assert_eq!(one.std_error.to_bits(), three.std_error.to_bits());
    }
}

/// Without case weights the trees count rows in 32 bits: the same bits as
/// weights of 1 in f64 (whole counts are exact in both), with strata and
/// late entry, over several blocks.
#[test]
fn row_counts_give_the_bits_of_unit_weights() {
    let mut d = super::tests::tied_data(500, 2, 8);
    d.weights = None;
    let beta = DVector::from_vec(vec![0.5, -0.3]);
    let counted = concordance(
        &EventTimes::new(&d, &column_means(&d), Ties::Efron),
        &beta,
        None,
    );
    d.weights = Some(vec![1.0; d.stop.len()]);
    let weighed = concordance(
        &EventTimes::new(&d, &column_means(&d), Ties::Efron),
        &beta,
        None,
    );
    assert!(counted.estimate > 0.5, "{counted:?}");
    assert_eq!(counted.estimate.to_bits(), weighed.estimate.to_bits());
    assert_eq!(counted.std_error.to_bits(), weighed.std_error.to_bits());
}
