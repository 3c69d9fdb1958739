//! The mixed model on a large trial beside lme4 and statsmodels.
//!
//! `cargo bench --bench lmm [-- PATIENTS] [--lumbar-only]` (default 50,000 patients × 12
//! visits, random intercept and slope): writes the data once to
//! `benches/data/lmm-PATIENTS.csv`, fits `y ~ week + (week | patient)` by
//! REML with lumbar in-process, then with R's lme4 (`Rscript`) and Python's
//! statsmodels `MixedLM` on the same file, when those are installed (this
//! script installs nothing; it says what it skipped). Times exclude reading
//! the file. Prints estimates, convergence and the time ratios.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Instant;

use lumbar_stats::lmm::{LmmData, Method, RandomEffects, fit};
use rand::{RngExt, SeedableRng};
use rand_chacha::ChaCha8Rng;
use statrs::distribution::Normal;

fn generate(path: &Path, patients: usize) {
    let mut rng = ChaCha8Rng::seed_from_u64(2015);
    let n01 = Normal::new(0.0, 1.0).expect("valid");
    let mut out = std::io::BufWriter::new(std::fs::File::create(path).expect("create data"));
    writeln!(out, "patient,week,y").expect("write");
    for p in 0..patients {
        // Intercept SD 1.2, slope SD 0.25, correlation −0.3, residual SD 0.8.
        let (z1, z2): (f64, f64) = (rng.sample(n01), rng.sample(n01));
        let b0 = 1.2 * z1;
        let b1 = 0.25 * (-0.3 * z1 + (1.0f64 - 0.09).sqrt() * z2);
        for week in 0..12 {
            let y = 6.0 + b0 + (-0.3 + b1) * week as f64 + 0.8 * rng.sample::<f64, _>(n01);
            writeln!(out, "P{p},{week},{y:.4}").expect("write");
        }
    }
}

fn read(path: &Path) -> LmmData {
    let text = std::fs::read_to_string(path).expect("read data");
    let mut d = LmmData {
        time_name: "week".into(),
        ..Default::default()
    };
    for line in text.lines().skip(1) {
        let mut f = line.split(',');
        d.group.push(f.next().expect("patient").to_string());
        d.time
            .push(f.next().expect("week").parse().expect("number"));
        d.response
            .push(f.next().expect("y").parse().expect("number"));
    }
    d
}

/// Runs a command under coreutils' `timeout`; `None` when it is missing,
/// fails or runs out of time (which is said on stderr).
fn run(limit_s: u32, cmd: &str, args: &[&str]) -> Option<String> {
    let limit = limit_s.to_string();
    let mut full = vec![limit.as_str(), cmd];
    full.extend_from_slice(args);
    let out = Command::new("timeout").args(&full).output().ok()?;
    if out.status.code() == Some(124) {
        eprintln!("{cmd} did not finish within {limit_s} s");
        println!("{cmd}: stopped after {limit_s} s without a result");
        return None;
    }
    if !out.status.success() {
        eprintln!("{cmd} failed: {}", String::from_utf8_lossy(&out.stderr));
        return None;
    }
    Some(String::from_utf8_lossy(&out.stdout).into_owned())
}

fn field(text: &str, key: &str) -> Option<f64> {
    text.lines()
        .find_map(|l| l.strip_prefix(&format!("{key}=")))
        .and_then(|v| v.trim().parse().ok())
}

fn main() {
    let patients: usize = std::env::args()
        .skip(1)
        .find_map(|a| a.parse().ok())
        .unwrap_or(50_000);
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("benches/data");
    std::fs::create_dir_all(&dir).expect("data dir");
    let csv = dir.join(format!("lmm-{patients}.csv"));
    if !csv.exists() {
        generate(&csv, patients);
    }
    let data = read(&csv);
    let t = Instant::now();
    let f = fit(&data, Method::Reml, RandomEffects::Slope).expect("fit");
    let ours = t.elapsed().as_secs_f64();
    println!("data: {patients} patients × 12 visits = {} rows", f.n_obs);
    println!(
        "lumbar: {ours:.2} s, {} evaluations, converged {}, max|grad| {:.1e}; β = {:.6}, {:.6}; SE {:.6}, {:.6}; SDs {:.5}, {:.5}, corr {:.5}, σ {:.5}",
        f.evaluations,
        f.converged,
        f.max_abs_gradient,
        f.fixed[0].estimate,
        f.fixed[1].estimate,
        f.fixed[0].std_error,
        f.fixed[1].std_error,
        f.random.sd_intercept,
        f.random.sd_slope.unwrap_or(f64::NAN),
        f.random.corr.unwrap_or(f64::NAN),
        f.sd_residual
    );

    if std::env::args().any(|a| a == "--lumbar-only") {
        return;
    }
    let csv_s = csv.to_str().expect("utf-8 path");
    let r_script = format!(
        r#"suppressMessages(library(lme4)); d <- read.csv("{csv_s}");
t <- system.time(m <- lmer(y ~ week + (week | patient), d, REML = TRUE))[["elapsed"]];
cat("seconds=", t, "\n", sep = ""); b <- fixef(m); se <- sqrt(diag(vcov(m)));
cat("b0=", format(b[1], digits = 10), "\nb1=", format(b[2], digits = 10), "\n", sep = "");
cat("se0=", format(se[1], digits = 10), "\nse1=", format(se[2], digits = 10), "\n", sep = "");
g <- m@optinfo$derivs$gradient; cat("maxgrad=", max(abs(g)), "\n", sep = "");
cat("messages=", paste(m@optinfo$conv$lme4$messages, collapse = "; "), "\n", sep = "")"#
    );
    match run(1800, "Rscript", &["-e", &r_script]) {
        Some(out) => {
            let secs = field(&out, "seconds").unwrap_or(f64::NAN);
            println!(
                "lme4: {secs:.2} s; {}",
                out.lines()
                    .filter(|l| !l.starts_with("seconds"))
                    .collect::<Vec<_>>()
                    .join(", ")
            );
            println!("speed-up over lme4: {:.1}×", secs / ours);
            for (k, v) in [
                ("b0", f.fixed[0].estimate),
                ("b1", f.fixed[1].estimate),
                ("se0", f.fixed[0].std_error),
                ("se1", f.fixed[1].std_error),
            ] {
                if let Some(r) = field(&out, k) {
                    println!(
                        "  {k}: lumbar {v:.8} lme4 {r:.8} rel diff {:.1e}",
                        ((v - r) / r).abs()
                    );
                }
            }
        }
        None => {
            println!("lme4: skipped (Rscript with lme4 not found; apt-get install r-cran-lme4)")
        }
    }
    let py = format!(
        r#"import time, pandas as pd, statsmodels.formula.api as smf
d = pd.read_csv("{csv_s}")
t = time.time()
m = smf.mixedlm("y ~ week", d, groups=d["patient"], re_formula="~week").fit(reml=True)
print(f"seconds={{time.time() - t}}")
print(f"b0={{m.fe_params.iloc[0]}}")
print(f"b1={{m.fe_params.iloc[1]}}")
print(f"converged={{m.converged}}")"#
    );
    match run(1800, "python3", &["-c", &py]) {
        Some(out) => {
            let secs = field(&out, "seconds").unwrap_or(f64::NAN);
            println!(
                "statsmodels MixedLM: {secs:.2} s; {}",
                out.lines()
                    .filter(|l| !l.starts_with("seconds"))
                    .collect::<Vec<_>>()
                    .join(", ")
            );
            println!("speed-up over statsmodels: {:.1}×", secs / ours);
        }
        None => println!(
            "statsmodels: skipped (python3 with pandas and statsmodels not found; pip install statsmodels)"
        ),
    }
}
