//! What the lumbar-stats benches share: the generated covariates and the
//! CSV through which R reads the same numbers.

#![allow(dead_code)] // each bench uses some of these

use std::path::PathBuf;

use lumbar_stats::cox::CoxData;
use rand::RngExt;
use rand_chacha::ChaCha8Rng;

/// The true coefficients of the generated data's eight covariates.
pub const BETA: [f64; 8] = [0.3, -0.2, 0.1, 0.0, 0.25, -0.15, 0.05, 0.2];

/// One row's covariate `j`: standard normal (Box–Muller) for even `j`,
/// Bernoulli(0.4) for odd, rounded to six decimals as written to the CSV,
/// so that both sides fit the same numbers.
pub fn covariate(rng: &mut ChaCha8Rng, j: usize) -> f64 {
    let v = if j.is_multiple_of(2) {
        let u: f64 = 1.0 - rng.random::<f64>();
        let w: f64 = rng.random();
        (-2.0 * u.ln()).sqrt() * (std::f64::consts::TAU * w).cos()
    } else if rng.random_bool(0.4) {
        1.0
    } else {
        0.0
    };
    format!("{v:.6}").parse::<f64>().unwrap_or(v)
}

/// Writes Cox data as `time,event,x1,…` to `cox.csv` in the temp folder
/// `dir`, for R; `None` (and a line saying R is skipped) when it cannot.
pub fn write_cox_csv(dir: &str, d: &CoxData) -> Option<PathBuf> {
    let dir = std::env::temp_dir().join(dir);
    let _ = std::fs::create_dir_all(&dir);
    let csv = dir.join("cox.csv");
    let mut text = String::from("time,event");
    for name in &d.names {
        text.push_str(&format!(",{name}"));
    }
    text.push('\n');
    for i in 0..d.stop.len() {
        text.push_str(&format!("{},{}", d.stop[i], u8::from(d.event[i])));
        for c in &d.columns {
            text.push_str(&format!(",{}", c[i]));
        }
        text.push('\n');
    }
    if std::fs::write(&csv, text).is_err() {
        println!("R: skipped (cannot write {})", csv.display());
        return None;
    }
    Some(csv)
}
