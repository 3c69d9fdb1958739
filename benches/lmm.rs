//! The mixed model on a large trial beside lme4 and statsmodels.
//!
//! `cargo bench --bench lmm [-- PATIENTS] [--lumbar-only] [--jitter] [--runs N] [--r-runs N]`
//! (default 50,000 patients × 12 visits, random intercept and slope):
//! writes the data once to `benches/data/lmm-PATIENTS.csv` (`--jitter`:
//! `lmm-jitter-PATIENTS.csv`, every patient's visits shifted by their own
//! fraction of a week, so no two share a schedule), fits
//! `y ~ week + (week | patient)` by REML with lumbar in-process (best of
//! `--runs`, default 5), then with R's lme4 (`Rscript`: the default `lmer`,
//! best of `--r-runs`, default 3, and once tightly converged, bobyqa with
//! `rhoend = 1e-12`, for the criterion) and Python's statsmodels `MixedLM`
//! on the same file, when those are installed (this script installs
//! nothing; it says what it skipped). Times exclude reading the file.
//! Prints evaluations, times, peak memory (lumbar: the process's VmHWM
//! during the fits, the data in memory included; R: the Rscript process's
//! maximum resident set), estimates, criteria and the same-run ratios.

mod common;

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::Command;

use lumbar_stats::lmm::{LmmData, LmmFit, Method, RandomEffects, fit};
use rand::{RngExt, SeedableRng};
use rand_chacha::ChaCha8Rng;
use statrs::distribution::Normal;

/// `jitter`: each patient's visits shifted by their own offset in [0, 1)
/// weeks, so that no two patients share a schedule (and lumbar cannot sum
/// patients with the same `ZᵀZ`: its per-patient path).
fn generate(path: &Path, patients: usize, jitter: bool) {
    let mut rng = ChaCha8Rng::seed_from_u64(2015);
    let n01 = Normal::new(0.0, 1.0).expect("valid");
    let mut out = std::io::BufWriter::new(std::fs::File::create(path).expect("create data"));
    writeln!(out, "patient,week,y").expect("write");
    for p in 0..patients {
        // Intercept SD 1.2, slope SD 0.25, correlation −0.3, residual SD 0.8.
        let (z1, z2): (f64, f64) = (rng.sample(n01), rng.sample(n01));
        let b0 = 1.2 * z1;
        let b1 = 0.25 * (-0.3 * z1 + (1.0f64 - 0.09).sqrt() * z2);
        let offset: f64 = if jitter { rng.random::<f64>() } else { 0.0 };
        for visit in 0..12 {
            let week = visit as f64 + (offset * 1e4).round() / 1e4;
            let y = 6.0 + b0 + (-0.3 + b1) * week + 0.8 * rng.sample::<f64, _>(n01);
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

/// Runs a command under coreutils' `timeout` (and `/usr/bin/time -f
/// maxrss_kib=%M` when present, for its peak memory): stdout and stderr,
/// `None` when it is missing, fails or runs out of time (which is said).
fn run(limit_s: u32, cmd: &str, args: &[&str]) -> Option<(String, String)> {
    let limit = limit_s.to_string();
    let timed = Path::new("/usr/bin/time").exists();
    let mut full = vec![limit.as_str()];
    if timed {
        full.extend(["/usr/bin/time", "-f", "maxrss_kib=%M"]);
    }
    full.push(cmd);
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
    Some((
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    ))
}

fn field(text: &str, key: &str) -> Option<f64> {
    text.lines()
        .find_map(|l| l.strip_prefix(&format!("{key}=")))
        .and_then(|v| v.trim().parse().ok())
}

fn option(args: &[String], name: &str) -> Option<usize> {
    let i = args.iter().position(|a| a == name)?;
    args.get(i + 1)?.parse().ok()
}

/// Resets the process's peak resident memory (VmHWM) to the current RSS
/// (Linux: `5` to `/proc/self/clear_refs`); false where unsupported.
fn reset_peak() -> bool {
    std::fs::write("/proc/self/clear_refs", "5").is_ok()
}

fn mib(kib: u64) -> f64 {
    kib as f64 / 1024.0
}

fn describe(f: &LmmFit) -> String {
    format!(
        "converged {}, max|grad| {:.1e}; θ {:.6?}; REML criterion {:.8}; β = {:.6}, {:.6}; SE {:.6}, {:.6}; SDs {:.5}, {:.5}, corr {:.5}, σ {:.5}",
        f.converged,
        f.max_abs_gradient,
        f.theta,
        f.reml_criterion.unwrap_or(f64::NAN),
        f.fixed[0].estimate,
        f.fixed[1].estimate,
        f.fixed[0].std_error,
        f.fixed[1].std_error,
        f.random.sd_intercept,
        f.random.sd_slope.unwrap_or(f64::NAN),
        f.random.corr.unwrap_or(f64::NAN),
        f.sd_residual
    )
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    // The first number that is not an option's value.
    let patients: usize = (0..args.len())
        .filter(|&i| i == 0 || !matches!(args[i - 1].as_str(), "--runs" | "--r-runs"))
        .find_map(|i| args[i].parse().ok())
        .unwrap_or(50_000);
    let runs = option(&args, "--runs").unwrap_or(5).max(1);
    let r_runs = option(&args, "--r-runs").unwrap_or(3).max(1);
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("benches/data");
    std::fs::create_dir_all(&dir).expect("data dir");
    let jitter = args.iter().any(|a| a == "--jitter");
    let csv = dir.join(format!(
        "lmm-{}{patients}.csv",
        if jitter { "jitter-" } else { "" }
    ));
    if !csv.exists() {
        generate(&csv, patients, jitter);
    }
    let data = read(&csv);
    let data_kib = common::peak_rss_kib();
    let reset = reset_peak();
    let (f, times) = common::timings(runs, || {
        fit(&data, Method::Reml, RandomEffects::Slope).expect("fit")
    });
    let peak = common::peak_rss_kib();
    let ours = times[0];
    println!(
        "data: {patients} patients × 12 visits = {} rows, {}",
        f.n_obs,
        if jitter {
            "each patient on their own schedule"
        } else {
            "all on one schedule (weeks 0–11)"
        }
    );
    println!(
        "lumbar: {ours:.4} s best of {runs} (median {:.4} s), {} evaluations, peak memory {:.0} MiB {} (reading the file peaked at {:.0} MiB); {}",
        times[times.len() / 2],
        f.evaluations,
        mib(peak),
        if reset {
            "during the fits, the data in memory included"
        } else {
            "for the whole process"
        },
        mib(data_kib),
        describe(&f)
    );

    if args.iter().any(|a| a == "--lumbar-only") {
        return;
    }
    let csv_s = csv.to_str().expect("utf-8 path");
    // lme4's own criterion at lumbar's θ: the two optima compared by one
    // function (each program's criterion carries its own rounding, about
    // 1e-6 at this n).
    let theta_r = f
        .theta
        .iter()
        .map(|t| format!("{t:.17e}"))
        .collect::<Vec<_>>()
        .join(", ");
    let r_script = format!(
        r#"suppressMessages(library(lme4)); d <- read.csv("{csv_s}"); d$patient <- factor(d$patient)
best <- Inf
for (i in seq_len({r_runs})) {{
  t <- system.time(m <- lmer(y ~ week + (week | patient), d, REML = TRUE))[["elapsed"]]
  best <- min(best, t)
}}
cat("seconds=", best, "\n", sep = "")
cat("feval=", m@optinfo$feval, "\n", sep = "")
cat("crit=", format(REMLcrit(m), digits = 15), "\n", sep = "")
cat("messages=", paste(m@optinfo$conv$lme4$messages, collapse = "; "), "\n", sep = "")
tight <- lmerControl(optimizer = "bobyqa", optCtrl = list(rhoend = 1e-12, maxfun = 1e5))
t <- system.time(m <- lmer(y ~ week + (week | patient), d, REML = TRUE, control = tight))[["elapsed"]]
cat("tight_seconds=", t, "\n", sep = "")
cat("tight_feval=", m@optinfo$feval, "\n", sep = "")
cat("tight_crit=", format(REMLcrit(m), digits = 15), "\n", sep = "")
b <- fixef(m); se <- sqrt(diag(vcov(m)))
cat("b0=", format(b[1], digits = 12), "\nb1=", format(b[2], digits = 12), "\n", sep = "")
cat("se0=", format(se[1], digits = 12), "\nse1=", format(se[2], digits = 12), "\n", sep = "")
dev <- lmer(y ~ week + (week | patient), d, REML = TRUE, devFunOnly = TRUE)
cat("dev_at_tight=", format(dev(getME(m, "theta")), digits = 17), "\n", sep = "")
cat("dev_at_lumbar=", format(dev(c({theta_r})), digits = 17), "\n", sep = "")
cat(R.version.string, ", lme4 ", as.character(packageVersion("lme4")), "\n", sep = "")"#
    );
    match run(1800, "Rscript", &["-e", &r_script]) {
        Some((out, err)) => {
            let secs = field(&out, "seconds").unwrap_or(f64::NAN);
            let rss =
                field(&err, "maxrss_kib").map(|k| format!(", peak memory {:.0} MiB", k / 1024.0));
            println!(
                "lme4 lmer (default): {secs:.2} s best of {r_runs}, {} evaluations{}; REML criterion {}; {}",
                field(&out, "feval").unwrap_or(f64::NAN),
                rss.unwrap_or_default(),
                field(&out, "crit").unwrap_or(f64::NAN),
                out.lines()
                    .find(|l| l.starts_with("messages="))
                    .unwrap_or("")
            );
            let tight = field(&out, "tight_crit").unwrap_or(f64::NAN);
            println!(
                "lme4 lmer (bobyqa, rhoend 1e-12): {:.2} s, {} evaluations; REML criterion {tight}",
                field(&out, "tight_seconds").unwrap_or(f64::NAN),
                field(&out, "tight_feval").unwrap_or(f64::NAN),
            );
            if let Some(v) = out.lines().find(|l| l.starts_with("R version")) {
                println!("  ({v})");
            }
            let crit = f.reml_criterion.unwrap_or(f64::NAN);
            println!(
                "criterion: lumbar's at its θ − tight lme4's at its θ = {:+.2e}; lme4's own criterion at lumbar's θ − at tight lme4's θ = {:+.2e} (target ≤ +1e-6)",
                crit - tight,
                field(&out, "dev_at_lumbar").unwrap_or(f64::NAN)
                    - field(&out, "dev_at_tight").unwrap_or(f64::NAN)
            );
            println!(
                "speed-up over lme4 (best of each, same run): {:.1}× (target ≥ 150×)",
                secs / ours
            );
            for (k, v) in [
                ("b0", f.fixed[0].estimate),
                ("b1", f.fixed[1].estimate),
                ("se0", f.fixed[0].std_error),
                ("se1", f.fixed[1].std_error),
            ] {
                if let Some(r) = field(&out, k) {
                    println!(
                        "  {k}: lumbar {v:.10} tight lme4 {r:.10} rel diff {:.1e}",
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
        Some((out, _)) => {
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
