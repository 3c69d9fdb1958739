//! Cox and modified Poisson on a million rows beside R and Python.
//!
//! `cargo bench --bench risk [-- ROWS] [--lumbar-only | --model-only]` (default 1,000,000
//! rows × 8 covariates, event times in whole days so there are many ties):
//! writes the data once to `benches/data/risk-ROWS.csv`, then fits
//! - Cox with Efron ties: lumbar in-process, the model alone against
//!   lifelines' `CoxPHFitter().fit` (which leaves its concordance for
//!   later; lumbar's best of five fits against lifelines' best of three),
//!   and the fit with concordance and cox.zph against R's `coxph`
//!   (`Rscript`; it computes the concordance; best of three each);
//! - modified Poisson with HC0 SEs: lumbar and statsmodels' `GLM` (best of
//!   three each);
//!
//! on the same file, when R and Python have those packages (this script
//! installs nothing; it says what it skipped). Times exclude reading the
//! file. Prints the time ratios and the largest relative difference in the
//! coefficients.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::Command;

mod common;

use lumbar_stats::cox::{self, CoxData, CoxOptions, Ties};
use lumbar_stats::poisson::{Robust, modified_poisson};
use rand::{RngExt, SeedableRng};
use rand_chacha::ChaCha8Rng;
use statrs::distribution::Normal;

const BETA: [f64; 8] = [0.3, -0.2, 0.1, 0.0, 0.25, -0.15, 0.05, 0.2];

fn generate(path: &Path, rows: usize) {
    let mut rng = ChaCha8Rng::seed_from_u64(1989);
    let n01 = Normal::new(0.0, 1.0).expect("valid");
    let mut out = std::io::BufWriter::new(std::fs::File::create(path).expect("create data"));
    writeln!(out, "time,event,y,x1,x2,x3,x4,x5,x6,x7,x8").expect("write");
    for _ in 0..rows {
        let mut x = [0.0; 8];
        for (j, v) in x.iter_mut().enumerate() {
            *v = if j % 2 == 0 {
                rng.sample(n01)
            } else if rng.random_bool(0.4) {
                1.0
            } else {
                0.0
            };
        }
        let lp: f64 = x.iter().zip(BETA).map(|(a, b)| a * b).sum();
        // Exponential event time (mean 1000 days at lp = 0), censoring at a
        // uniform time up to 1500 days; whole days make ties.
        let u: f64 = rng.random();
        let t_event = -u.ln() * 1000.0 / lp.exp();
        let t_cens = rng.random_range(1.0..1500.0);
        let event = t_event <= t_cens;
        let time = t_event.min(t_cens).ceil();
        // A binary outcome with a log-linear risk for the Poisson model.
        let p = (0.1 * (0.5 * lp).exp()).min(0.99);
        let y = rng.random_bool(p);
        write!(out, "{time},{},{}", event as u8, y as u8).expect("write");
        for v in x {
            write!(out, ",{v:.6}").expect("write");
        }
        writeln!(out).expect("write");
    }
}

struct Data {
    time: Vec<f64>,
    event: Vec<bool>,
    y: Vec<f64>,
    x: Vec<Vec<f64>>,
}

fn read(path: &Path) -> Data {
    let text = std::fs::read_to_string(path).expect("read data");
    let mut d = Data {
        time: vec![],
        event: vec![],
        y: vec![],
        x: vec![Vec::new(); 8],
    };
    for line in text.lines().skip(1) {
        let v: Vec<f64> = line
            .split(',')
            .map(|f| f.parse().expect("number"))
            .collect();
        d.time.push(v[0]);
        d.event.push(v[1] == 1.0);
        d.y.push(v[2]);
        for j in 0..8 {
            d.x[j].push(v[3 + j]);
        }
    }
    d
}

fn run(limit_s: u32, cmd: &str, args: &[&str]) -> Option<String> {
    let limit = limit_s.to_string();
    let mut full = vec![limit.as_str(), cmd];
    full.extend_from_slice(args);
    let out = Command::new("timeout").args(&full).output().ok()?;
    if !out.status.success() {
        eprintln!(
            "{cmd} failed or ran out of time: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        return None;
    }
    Some(String::from_utf8_lossy(&out.stdout).into_owned())
}

fn parse(text: &str, key: &str) -> Option<Vec<f64>> {
    text.lines()
        .find_map(|l| l.strip_prefix(&format!("{key}=")))
        .map(|v| {
            v.split_whitespace()
                .filter_map(|x| x.parse().ok())
                .collect()
        })
}

/// Prints one competitor's time, lumbar's speed-up and the largest relative
/// difference in the coefficients, from its `seconds=` and `beta=` lines.
fn report(label: &str, out: Option<String>, ours_secs: f64, ours_beta: &[f64]) {
    match out {
        Some(out) => {
            let secs = parse(&out, "seconds")
                .and_then(|v| v.first().copied())
                .unwrap_or(f64::NAN);
            let b = parse(&out, "beta").unwrap_or_default();
            println!(
                "{label}: {secs:.2} s; speed-up {:.1}×; max relative difference in β {:.1e}",
                secs / ours_secs,
                max_rel(ours_beta, &b)
            );
        }
        None => println!("{label}: no result (not installed, failed or out of time)"),
    }
}

fn max_rel(a: &[f64], b: &[f64]) -> f64 {
    a.iter()
        .zip(b)
        .map(|(x, y)| ((x - y) / y).abs())
        .fold(0.0, f64::max)
}

fn main() {
    let rows: usize = std::env::args()
        .skip(1)
        .find_map(|a| a.parse().ok())
        .unwrap_or(1_000_000);
    let only = std::env::args().any(|a| a == "--lumbar-only");
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("benches/data");
    std::fs::create_dir_all(&dir).expect("data dir");
    let csv = dir.join(format!("risk-{rows}.csv"));
    if !csv.exists() {
        generate(&csv, rows);
    }
    let d = read(&csv);
    let names: Vec<String> = (1..=8).map(|j| format!("x{j}")).collect();
    let data = CoxData {
        stop: d.time.clone(),
        event: d.event.clone(),
        columns: d.x.clone(),
        names: names.clone(),
        ..Default::default()
    };
    // The model alone (coefficients, SEs, the three tests), as lifelines'
    // `fit` computes it (its concordance is computed lazily, on first use)…
    // Best of five in this process; lifelines gets its best of three.
    let (model, model_times) = common::timings(5, || {
        cox::fit_with(
            &data,
            &CoxOptions {
                ties: Ties::Efron,
                robust: false,
                diagnostics: false,
            },
        )
        .expect("cox")
    });
    let ours_model = model_times[0];
    if std::env::args().any(|a| a == "--model-only") {
        // For profiling the model fit alone.
        println!("lumbar Cox (Efron), the model alone: {ours_model:.3} s (best of 5)");
        return;
    }
    // …and with Harrell's concordance (which coxph computes) and cox.zph,
    // best of three as R's.
    let (fit, cox_times) = common::timings(3, || cox::fit(&data, Ties::Efron, false).expect("cox"));
    let ours_cox = cox_times[0];
    let cox_beta: Vec<f64> = fit.terms.iter().map(|t| t.estimate).collect();
    let model_beta: Vec<f64> = model.terms.iter().map(|t| t.estimate).collect();
    assert!(
        max_rel(&model_beta, &cox_beta) < 1e-9,
        "model-only fit differs"
    );
    let (pois, pois_times) = common::timings(3, || {
        modified_poisson(&d.y, &d.x, &names, Robust::Hc0).expect("poisson")
    });
    let ours_pois = pois_times[0];
    let pois_beta: Vec<f64> = pois.terms.iter().map(|t| t.estimate).collect();
    println!(
        "data: {rows} rows × 8 covariates, {} events, {} distinct times",
        fit.events,
        {
            let mut t = d.time.clone();
            t.sort_by(f64::total_cmp);
            t.dedup();
            t.len()
        }
    );
    println!(
        "lumbar Cox (Efron), the model as lifelines' fit: {ours_model:.3} s (best of 5; median {:.3} s), {} iterations; β = {cox_beta:.6?}",
        model_times[2], fit.iterations
    );
    println!("lumbar Cox (Efron) with concordance and cox.zph: {ours_cox:.3} s (best of 3)");
    println!("lumbar modified Poisson (HC0): {ours_pois:.3} s (best of 3); β = {pois_beta:.6?}");
    if only {
        return;
    }
    let csv_s = csv.to_str().expect("utf-8 path");
    let r = format!(
        r#"suppressMessages(library(survival)); d <- read.csv("{csv_s}");
t <- min(sapply(1:3, function(i) system.time(m <<- coxph(Surv(time, event) ~ x1 + x2 + x3 + x4 + x5 + x6 + x7 + x8, d))[["elapsed"]]));
cat("seconds=", t, "\n", sep = ""); cat("beta=", format(coef(m), digits = 12), "\n")"#
    );
    report(
        "R coxph (against the fit with concordance and cox.zph)",
        run(1800, "Rscript", &["-e", &r]),
        ours_cox,
        &cox_beta,
    );
    let py = format!(
        r#"import time, pandas as pd
from lifelines import CoxPHFitter
d = pd.read_csv("{csv_s}")
best = float("inf")
for _ in range(3):
    t = time.time()
    m = CoxPHFitter().fit(d.drop(columns=["y"]), "time", "event")
    best = min(best, time.time() - t)
print(f"seconds={{best}}")
print("beta=" + " ".join(repr(float(m.params_[f"x{{j}}"])) for j in range(1, 9)))"#
    );
    report(
        "lifelines CoxPHFitter (against the model alone)",
        run(1800, "python3", &["-c", &py]),
        ours_model,
        &cox_beta,
    );
    let py = format!(
        r#"import time, pandas as pd, statsmodels.api as sm
d = pd.read_csv("{csv_s}")
X = sm.add_constant(d[[f"x{{j}}" for j in range(1, 9)]])
best = float("inf")
for _ in range(3):
    t = time.time()
    m = sm.GLM(d["y"], X, family=sm.families.Poisson()).fit(cov_type="HC0", tol=1e-12)
    best = min(best, time.time() - t)
print(f"seconds={{best}}")
print("beta=" + " ".join(repr(float(v)) for v in m.params))"#
    );
    report(
        "statsmodels GLM Poisson HC0",
        run(1800, "python3", &["-c", &py]),
        ours_pois,
        &pois_beta,
    );
}
