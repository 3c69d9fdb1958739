//! Modified Poisson (issue 19, item 3): 1,000,000 rows × 8 covariates, a
//! binary outcome with a log-linear risk, HC0 sandwich; lumbar (best of 5)
//! against statsmodels' `GLM(y, X, family=Poisson()).fit(cov_type="HC0")`
//! on the same data in the same run (best of 3; the time of the fit alone,
//! not of reading the CSV), with the target of 20×.
//!
//!   cargo bench -p lumbar-stats --bench poisson [-- ROWS] [--lumbar-only]
//!
//! statsmodels runs when `python3` on PATH imports it (this bench installs
//! nothing: put a venv's bin/ first on PATH, e.g.
//! `python3 -m venv /tmp/sm && /tmp/sm/bin/pip install statsmodels pandas`,
//! then `PATH=/tmp/sm/bin:$PATH cargo bench …`). statsmodels is timed at its
//! default tolerance (an absolute deviance change below 1e-8, stricter than
//! R's relative 1e-8 that lumbar keeps) and at `tol=1e-12`, as
//! `benches/risk.rs` calls it; both are printed with their iteration counts.

mod common;

use std::io::Write;
use std::time::Instant;

use lumbar_stats::poisson::{PoissonFit, Robust, modified_poisson};
use rand::{RngExt, SeedableRng};
use rand_chacha::ChaCha8Rng;

/// Covariates alternately standard normal and Bernoulli(0.4); the outcome
/// Bernoulli with risk `0.1·exp(lp/2)` (capped at 0.99).
fn data(n: usize) -> (Vec<f64>, Vec<Vec<f64>>) {
    let mut rng = ChaCha8Rng::seed_from_u64(2004);
    let mut columns: Vec<Vec<f64>> = (0..8).map(|_| Vec::with_capacity(n)).collect();
    let mut y = Vec::with_capacity(n);
    for _ in 0..n {
        let mut lp = 0.0;
        for (j, c) in columns.iter_mut().enumerate() {
            let v = common::covariate(&mut rng, j);
            lp += common::BETA[j] * v;
            c.push(v);
        }
        let p = (0.1 * (0.5 * lp).exp()).min(0.99);
        y.push(f64::from(u8::from(rng.random_bool(p))));
    }
    (y, columns)
}

/// CPU seconds used by the whole process so far (all threads): on a shared
/// machine, the fit's own work beside its wall time.
fn cpu_seconds() -> f64 {
    #[cfg(target_os = "linux")]
    {
        let mut t = libc::timespec {
            tv_sec: 0,
            tv_nsec: 0,
        };
        // SAFETY: a valid clock id and a pointer to a live timespec.
        if unsafe { libc::clock_gettime(libc::CLOCK_PROCESS_CPUTIME_ID, &mut t) } == 0 {
            return t.tv_sec as f64 + t.tv_nsec as f64 * 1e-9;
        }
    }
    f64::NAN
}

fn max_rel(a: &[f64], b: &[f64]) -> f64 {
    a.iter()
        .zip(b)
        .map(|(x, y)| (x - y).abs() / x.abs().max(y.abs()).max(1e-300))
        .fold(0.0, f64::max)
}

fn main() {
    let args: Vec<String> = std::env::args()
        .skip(1)
        .filter(|a| !a.starts_with("--"))
        .collect();
    let n: usize = args
        .first()
        .and_then(|a| a.parse().ok())
        .unwrap_or(1_000_000);
    let (y, columns) = data(n);
    let names: Vec<String> = (1..=8).map(|j| format!("x{j}")).collect();
    let mut best = f64::INFINITY;
    let mut best_cpu = f64::INFINITY;
    let mut fit: Option<PoissonFit> = None;
    for _ in 0..5 {
        let (t, c) = (Instant::now(), cpu_seconds());
        let f = modified_poisson(&y, &columns, &names, Robust::Hc0);
        best = best.min(t.elapsed().as_secs_f64());
        best_cpu = best_cpu.min(cpu_seconds() - c);
        match f {
            Ok(f) => fit = Some(f),
            Err(e) => {
                eprintln!("the fit failed: {e}");
                std::process::exit(1);
            }
        }
    }
    let Some(fit) = fit else { return };
    let beta: Vec<f64> = fit.terms.iter().map(|t| t.estimate).collect();
    let se: Vec<f64> = fit.terms.iter().map(|t| t.std_error).collect();
    println!(
        "data: {n} rows x 8 covariates, {} events",
        fit.events as u64
    );
    println!(
        "lumbar modified Poisson (HC0): {best:.4} s (best of 5; {best_cpu:.4} CPU seconds) on {} threads, {} iterations; beta = {beta:.6?}",
        rayon::current_num_threads(),
        fit.iterations
    );
    if std::env::args().any(|a| a == "--lumbar-only") {
        return;
    }
    // statsmodels on the same numbers through a CSV.
    let dir = std::env::temp_dir().join("lumbar-poisson-bench");
    let _ = std::fs::create_dir_all(&dir);
    let csv = dir.join(format!("poisson-{n}.csv"));
    let written = (|| -> std::io::Result<()> {
        let mut out = std::io::BufWriter::new(std::fs::File::create(&csv)?);
        writeln!(out, "y,x1,x2,x3,x4,x5,x6,x7,x8")?;
        for i in 0..n {
            write!(out, "{}", y[i])?;
            for c in &columns {
                write!(out, ",{:.6}", c[i])?;
            }
            writeln!(out)?;
        }
        out.flush()
    })();
    if written.is_err() {
        println!("statsmodels: skipped (cannot write {})", csv.display());
        return;
    }
    let script = format!(
        r#"import time, pandas as pd, statsmodels.api as sm
d = pd.read_csv("{}")
X = sm.add_constant(d[[f"x{{j}}" for j in range(1, 9)]])
for tol in (1e-8, 1e-12):
    best = float("inf")
    for _ in range(3):
        t = time.time()
        m = sm.GLM(d["y"], X, family=sm.families.Poisson()).fit(cov_type="HC0", tol=tol)
        best = min(best, time.time() - t)
    print(tol, best, m.fit_history["iteration"], " ".join(repr(float(v)) for v in m.params), " ".join(repr(float(v)) for v in m.bse))"#,
        csv.display()
    );
    let out = match std::process::Command::new("python3")
        .args(["-c", &script])
        .output()
    {
        Ok(o) if o.status.success() => String::from_utf8_lossy(&o.stdout).into_owned(),
        _ => {
            println!("statsmodels: skipped (python3 with statsmodels and pandas not found)");
            return;
        }
    };
    for line in out.lines() {
        let f: Vec<&str> = line.split_whitespace().collect();
        if f.len() != 3 + 2 * 9 {
            continue;
        }
        let nums: Vec<f64> = f.iter().map(|v| v.parse().unwrap_or(f64::NAN)).collect();
        let (secs, iters) = (nums[1], nums[2]);
        let (sm_beta, sm_se) = (&nums[3..12], &nums[12..21]);
        let ratio = secs / best;
        println!(
            "statsmodels GLM Poisson HC0, tol={}: {secs:.3} s (best of 3), {iters} iterations: {ratio:.1}x lumbar (target 20x: {}); largest relative difference: coefficients {:.1e}, SEs {:.1e}",
            f[0],
            if ratio >= 20.0 { "met" } else { "NOT met" },
            max_rel(&beta, sm_beta),
            max_rel(&se, sm_se)
        );
    }
}
