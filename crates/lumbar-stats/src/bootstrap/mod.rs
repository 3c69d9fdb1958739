//! The nonparametric bootstrap of a fit's coefficients: case resampling
//! (of rows, or of whole clusters / patients when the data have them), in
//! parallel and bit-identical at any thread count, with percentile and BCa
//! intervals as R's `boot` computes them.
//!
//! Contract of [`bootstrap`]: `units` groups the data's rows into the
//! resampling units; `refit` fits one resample (the rows of the drawn
//! units, each draw of a unit a distinct copy) and returns its estimates
//! in the order of `names`, or `None` when the resample cannot be fitted
//! (a singular design), which is counted and left out as `boot.ci` leaves
//! out non-finite replicates. Resample `b` draws its `n_units` units with
//! replacement from ChaCha8 seeded by `seed` on stream `b`, so its rows do
//! not depend on the thread that fits it, and replicates are kept in `b`
//! order.
//!
//! Intervals (Davison & Hinkley 1997, *Bootstrap Methods and their
//! Application*, §5.3; boot 1.3's `perc.ci`, `bca.ci`, `norm.inter`):
//!
//! ```text
//! percentile: t*_((R+1)α) for α = (1 ∓ level)/2, between order statistics
//!             interpolated on the normal scale (norm.inter)
//! BCa:        w = Φ⁻¹(#{t* < t̂}/R),  a = Σ L³ / (6 (Σ L²)^{3/2}),
//!             α' = Φ(w + (w + z_α)/(1 − a(w + z_α))), then norm.inter at α'
//! ```
//!
//! `L` are empirical influence values from the jackknife (R's `empinf`
//! with `type = "jack"`): `L_g = (G − 1)(θ̄ − θ₋g)` over delete-one units
//! when there are at most [`JACKKNIFE_GROUPS`] of them, else over that many
//! groups of units (unit `u` in group `u mod G`), a grouped jackknife that
//! keeps the cost at `G` extra fits whatever the data's size.

mod models;
pub use models::{cox, lmm, poisson};

use rand::{RngExt, SeedableRng};
use rand_chacha::ChaCha8Rng;
use rayon::prelude::*;
use serde::Serialize;
use statrs::distribution::{ContinuousCDF, Normal};

/// Most jackknife fits for the BCa acceleration.
pub const JACKKNIFE_GROUPS: usize = 200;
/// Most resamples asked for (each is a full refit).
pub const MAX_RESAMPLES: usize = 1_000_000;

/// What to resample and how.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct BootstrapSpec {
    pub resamples: usize,
    pub seed: u64,
    /// Confidence level of the intervals (0.95).
    pub level: f64,
}

/// The resampling units: each a list of row indices.
#[derive(Debug, Clone)]
pub struct Units {
    members: Vec<Vec<u32>>,
    /// What a unit is, for the output ("row", "cluster", "patient").
    pub kind: &'static str,
}

impl Units {
    /// Every row its own unit.
    pub fn rows(n: usize) -> Units {
        Units {
            members: (0..n as u32).map(|i| vec![i]).collect(),
            kind: "row",
        }
    }

    /// Rows grouped by label (a cluster, a patient), in order of first
    /// appearance.
    pub fn by_label(labels: &[String], kind: &'static str) -> Units {
        let mut index: std::collections::HashMap<&str, usize> = std::collections::HashMap::new();
        let mut members: Vec<Vec<u32>> = Vec::new();
        for (i, l) in labels.iter().enumerate() {
            let u = *index.entry(l.as_str()).or_insert_with(|| {
                members.push(Vec::new());
                members.len() - 1
            });
            members[u].push(i as u32);
        }
        Units { members, kind }
    }

    pub fn len(&self) -> usize {
        self.members.len()
    }

    pub fn is_empty(&self) -> bool {
        self.members.is_empty()
    }
}

/// One resample: the rows of the drawn units in draw order, and for each
/// row which draw it came from (so that a unit drawn twice becomes two
/// clusters or patients).
#[derive(Debug, Clone, Default)]
pub struct Resample {
    pub rows: Vec<u32>,
    pub draw: Vec<u32>,
}

/// One coefficient's bootstrap summary (on the estimate's own scale: log
/// hazard or log risk ratios for Cox and Poisson).
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct TermInterval {
    pub term: String,
    pub estimate: f64,
    /// Mean of the replicates minus the estimate.
    pub bias: f64,
    /// Standard deviation of the replicates (`boot`'s "std. error").
    pub std_error: f64,
    pub percentile_low: f64,
    pub percentile_high: f64,
    pub bca_low: f64,
    pub bca_high: f64,
    /// The BCa acceleration `a` and bias correction `w`.
    pub acceleration: f64,
    pub bias_correction: f64,
}

/// A bootstrap's result.
#[derive(Debug, Clone, Serialize)]
pub struct Bootstrap {
    pub resamples: usize,
    /// Resamples that could not be fitted (left out).
    pub failed: usize,
    pub seed: u64,
    pub level: f64,
    /// "row", "cluster" or "patient", and how many.
    pub unit: String,
    pub units: usize,
    /// Jackknife fits behind the acceleration (delete-one units, or groups).
    pub jackknife_groups: usize,
    pub terms: Vec<TermInterval>,
    /// Things a reader should know (extreme order statistics used).
    pub warnings: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum BootError {
    #[error("--bootstrap takes 2 to {MAX_RESAMPLES} resamples, not {0}")]
    Resamples(usize),
    #[error("the data have fewer than 2 resampling units")]
    TooFewUnits,
    #[error("the confidence level must be between 0 and 1")]
    Level,
}

/// The rows of resample `b` (see the module's contract).
pub fn resample(units: &Units, seed: u64, b: usize) -> Resample {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    rng.set_stream(b as u64);
    let n = units.members.len();
    let mut out = Resample::default();
    for d in 0..n {
        let u = rng.random_range(0..n);
        for &r in &units.members[u] {
            out.rows.push(r);
            out.draw.push(d as u32);
        }
    }
    out
}

/// The rows without the units of jackknife group `g` of `groups`.
fn leave_out(units: &Units, groups: usize, g: usize) -> Resample {
    let mut out = Resample::default();
    for (u, m) in units.members.iter().enumerate() {
        if u % groups != g {
            for &r in m {
                out.rows.push(r);
                out.draw.push(u as u32);
            }
        }
    }
    out
}

/// Bootstraps `refit` (see the module's contract). `estimate` is the fit
/// on the whole data, in the order of `names`.
pub fn bootstrap<F>(
    names: &[String],
    estimate: &[f64],
    units: &Units,
    spec: &BootstrapSpec,
    refit: F,
) -> Result<Bootstrap, BootError>
where
    F: Fn(&Resample) -> Option<Vec<f64>> + Sync,
{
    if spec.resamples < 2 || spec.resamples > MAX_RESAMPLES {
        return Err(BootError::Resamples(spec.resamples));
    }
    if units.len() < 2 {
        return Err(BootError::TooFewUnits);
    }
    if !(spec.level > 0.0 && spec.level < 1.0) {
        return Err(BootError::Level);
    }
    let p = names.len();
    let fits: Vec<Option<Vec<f64>>> = (0..spec.resamples)
        .into_par_iter()
        .map(|b| {
            refit(&resample(units, spec.seed, b))
                .filter(|t| t.len() == p && t.iter().all(|x| x.is_finite()))
        })
        .collect();
    let groups = units.len().min(JACKKNIFE_GROUPS);
    let jack: Vec<Option<Vec<f64>>> = (0..groups)
        .into_par_iter()
        .map(|g| refit(&leave_out(units, groups, g)).filter(|t| t.len() == p))
        .collect();
    let good: Vec<&Vec<f64>> = fits.iter().flatten().collect();
    let mut warnings = Vec::new();
    let terms = (0..p)
        .map(|j| {
            let t: Vec<f64> = good.iter().map(|f| f[j]).collect();
            let l = influence(&jack.iter().map(|f| f.as_ref().map(|f| f[j])).collect::<Vec<_>>());
            let (iv, extreme) = intervals(estimate[j], &t, &l, spec.level);
            if extreme {
                warnings.push(format!(
                    "{}: extreme order statistics used as endpoints (as boot warns); more resamples would help",
                    names[j]
                ));
            }
            TermInterval {
                term: names[j].clone(),
                estimate: estimate[j],
                ..iv
            }
        })
        .collect();
    Ok(Bootstrap {
        resamples: spec.resamples,
        failed: spec.resamples - good.len(),
        seed: spec.seed,
        level: spec.level,
        unit: units.kind.to_string(),
        units: units.len(),
        jackknife_groups: groups,
        terms,
        warnings,
    })
}

/// Jackknife empirical influence values `(G − 1)(θ̄ − θ₋g)` over the
/// groups that could be fitted.
fn influence(jack: &[Option<f64>]) -> Vec<f64> {
    let v: Vec<f64> = jack
        .iter()
        .flatten()
        .copied()
        .filter(|x| x.is_finite())
        .collect();
    let g = v.len() as f64;
    let mean = v.iter().sum::<f64>() / g;
    v.iter().map(|x| (g - 1.0) * (mean - x)).collect()
}

fn normal() -> Normal {
    // ok: the standard normal's parameters are valid.
    Normal::new(0.0, 1.0).expect("standard normal")
}

/// boot's `norm.inter`: the `alpha` quantiles of the replicates `t`,
/// interpolated between order statistics on the normal scale; also
/// whether an end order statistic had to be used.
pub fn norm_inter(t: &[f64], alpha: &[f64]) -> (Vec<f64>, bool) {
    let mut s: Vec<f64> = t.iter().copied().filter(|x| x.is_finite()).collect();
    s.sort_by(f64::total_cmp);
    let r = s.len();
    if r == 0 {
        return (vec![f64::NAN; alpha.len()], true);
    }
    let n = normal();
    let mut extreme = false;
    let out = alpha
        .iter()
        .map(|&a| {
            let rk = (r as f64 + 1.0) * a;
            if !(rk > 1.0 && rk < r as f64) {
                extreme = true;
            }
            let k = rk.trunc();
            if k <= 0.0 {
                return s[0];
            }
            if k >= r as f64 {
                return s[r - 1];
            }
            let ki = k as usize;
            if k == rk {
                return s[ki - 1];
            }
            let (t1, t2, t3) = (
                n.inverse_cdf(a),
                n.inverse_cdf(k / (r as f64 + 1.0)),
                n.inverse_cdf((k + 1.0) / (r as f64 + 1.0)),
            );
            let (tk, tk1) = (s[ki - 1], s[ki]);
            tk + (t1 - t2) / (t3 - t2) * (tk1 - tk)
        })
        .collect();
    (out, extreme)
}

/// The summary of one coefficient's replicates `t` around `t0`, with
/// influence values `l` (see the module's formulas); whether an end order
/// statistic was used.
pub fn intervals(t0: f64, t: &[f64], l: &[f64], level: f64) -> (TermInterval, bool) {
    let r = t.len() as f64;
    let mean = t.iter().sum::<f64>() / r;
    let sd = (t.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / (r - 1.0)).sqrt();
    let alpha = [(1.0 - level) / 2.0, (1.0 + level) / 2.0];
    let (perc, e1) = norm_inter(t, &alpha);
    let n = normal();
    let w = n.inverse_cdf(t.iter().filter(|&&x| x < t0).count() as f64 / r);
    let s2: f64 = l.iter().map(|x| x * x).sum();
    let a = l.iter().map(|x| x.powi(3)).sum::<f64>() / (6.0 * s2.powf(1.5));
    let (bca, e2) = if w.is_finite() && a.is_finite() {
        let adj: Vec<f64> = alpha
            .iter()
            .map(|&al| {
                let z = n.inverse_cdf(al);
                n.cdf(w + (w + z) / (1.0 - a * (w + z)))
            })
            .collect();
        norm_inter(t, &adj)
    } else {
        (vec![f64::NAN, f64::NAN], false)
    };
    (
        TermInterval {
            term: String::new(),
            estimate: t0,
            bias: mean - t0,
            std_error: sd,
            percentile_low: perc[0],
            percentile_high: perc[1],
            bca_low: bca[0],
            bca_high: bca[1],
            acceleration: a,
            bias_correction: w,
        },
        e1 || e2,
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Percentile and BCa intervals on fixed replicates equal boot's
    /// (`perc.ci`, `bca.ci` with the same L): tests/fixtures/bootstrap.
    #[test]
    fn intervals_as_boot_computes_them() {
        let text = include_str!("../../../../tests/fixtures/bootstrap/intervals.json");
        let all: serde_json::Value = serde_json::from_str(text).unwrap();
        let nums = |v: &serde_json::Value| -> Vec<f64> {
            v.as_array()
                .unwrap()
                .iter()
                .map(|x| x.as_f64().unwrap())
                .collect()
        };
        for (name, c) in all.as_object().unwrap() {
            let (t, l) = (nums(&c["t"]), nums(&c["L"]));
            let (t0, conf) = (c["t0"].as_f64().unwrap(), c["conf"].as_f64().unwrap());
            let (iv, _) = intervals(t0, &t, &l, conf);
            let (p, b) = (nums(&c["percentile"]), nums(&c["bca"]));
            for (ours, r, what) in [
                (iv.percentile_low, p[0], "percentile low"),
                (iv.percentile_high, p[1], "percentile high"),
                (iv.bca_low, b[0], "bca low"),
                (iv.bca_high, b[1], "bca high"),
            ] {
                assert!(
                    (ours - r).abs() <= 1e-10 * r.abs().max(1.0),
                    "{name} {what}: {ours} vs boot {r}"
                );
            }
        }
    }

    /// The mean of i.i.d. draws: the bootstrap SE is the plug-in
    /// SD/√n (exactly, in expectation); over 2,000 resamples it is within
    /// 5%, the result is the same on 1 and 2 threads to the bit, and a
    /// unit drawn twice is two copies.
    #[test]
    fn the_mean_of_a_sample_and_threads_do_not_matter() {
        let x: Vec<f64> = (0..400)
            .map(|i| ((i * 7919) % 1000) as f64 / 100.0)
            .collect();
        let mean = |r: &Resample| {
            Some(vec![
                r.rows.iter().map(|&i| x[i as usize]).sum::<f64>() / r.rows.len() as f64,
            ])
        };
        let all = Resample {
            rows: (0..400).collect(),
            draw: (0..400).collect(),
        };
        let t0 = mean(&all).unwrap();
        let spec = BootstrapSpec {
            resamples: 2000,
            seed: 7,
            level: 0.95,
        };
        let units = Units::rows(400);
        let run = |threads: usize| {
            rayon::ThreadPoolBuilder::new()
                .num_threads(threads)
                .build()
                .unwrap()
                .install(|| bootstrap(&["mean".into()], &t0, &units, &spec, mean).unwrap())
        };
        let (one, two) = (run(1), run(2));
        assert_eq!(one.terms, two.terms);
        let m = t0[0];
        let plug_in = (x.iter().map(|v| (v - m).powi(2)).sum::<f64>() / 400.0).sqrt() / 20.0;
        let se = one.terms[0].std_error;
        assert!((se / plug_in - 1.0).abs() < 0.05, "{se} vs {plug_in}");
        assert!(one.terms[0].percentile_low < m && m < one.terms[0].percentile_high);
        assert_eq!(one.jackknife_groups, 200);
        let r = resample(
            &Units::by_label(&["a".into(), "b".into(), "a".into()], "patient"),
            3,
            0,
        );
        assert_eq!(r.rows.len(), r.draw.len());
        assert!(r.draw.windows(2).all(|w| w[0] <= w[1]));
    }

    #[test]
    fn hostile_specs_are_refused() {
        let units = Units::rows(10);
        let f = |_: &Resample| Some(vec![0.0]);
        let spec = |resamples, level| BootstrapSpec {
            resamples,
            seed: 1,
            level,
        };
        let names = ["x".to_string()];
        assert_eq!(
            bootstrap(&names, &[0.0], &units, &spec(1, 0.95), f).unwrap_err(),
            BootError::Resamples(1)
        );
        assert_eq!(
            bootstrap(&names, &[0.0], &units, &spec(usize::MAX, 0.95), f).unwrap_err(),
            BootError::Resamples(usize::MAX)
        );
        assert_eq!(
            bootstrap(&names, &[0.0], &units, &spec(10, 1.5), f).unwrap_err(),
            BootError::Level
        );
        assert_eq!(
            bootstrap(&names, &[0.0], &Units::rows(1), &spec(10, 0.95), f).unwrap_err(),
            BootError::TooFewUnits
        );
    }
}
