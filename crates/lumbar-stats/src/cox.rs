//! Cox proportional hazards regression, as R's `survival::coxph` fits it.
//!
//! Partial likelihood over the event times `t` of each stratum, with the
//! risk set `R(t) = {j : entry_j < t ≤ stop_j}` (left truncation through
//! `entry`), case weights `w`, risk scores `r = exp(xβ)` and the sums
//! `S0 = Σ_R w r`, `S1 = Σ_R w r x`, `S2 = Σ_R w r x xᵀ`; `D` are the `d`
//! tied events at `t`, `w̄` their mean weight:
//!
//! - Breslow: `ℓ = Σ_t [Σ_D w x β − (Σ_D w) log S0]`;
//! - Efron (R's default; Efron 1977): the `d` tied deaths leave the risk
//!   set gradually, `ℓ = Σ_t [Σ_D w x β − w̄ Σ_{k<d} log(S0 − (k/d) S0_D)]`,
//!   with score and information from the same partial denominators.
//!
//! Newton–Raphson from β = 0 with step halving whenever the log-likelihood
//! falls, to coxph's rule: a relative change below 1e-9, at most 20
//! iterations (`survival::coxph.control`; the loop of its C code coxfit6,
//! with the same iteration count). Covariates are centred first, as
//! R does (this changes nothing but the rounding). Tests: likelihood ratio
//! `2(ℓ(β̂) − ℓ(0))`, Wald `β̂ᵀ I(β̂) β̂`, score `U(0)ᵀ I(0)⁻¹ U(0)`.
//!
//! Robust variance (Lin & Wei 1989; R's `robust = TRUE` / `cluster`, and
//! R's default when case weights are not whole numbers; Wald's test then
//! uses it):
//! `V = Dᵀ D` with `D` the dfbeta residuals `w_i U_i I⁻¹`, summed within
//! clusters first. The score residual of observation i uses the Efron-
//! weighted means `a_k = (S1 − (k/d) S1_D)/(S0 − (k/d) S0_D)`:
//! `U_i = δ_i (x_i − (1/d) Σ_k a_k) − r_i Σ_t Σ_k c_ik (w̄/den_k)(x_i − a_k)`,
//! where `c_ik = 1` for an observation at risk, `1 − k/d` for one of the
//! deaths at t (Breslow: one term with k = 0).
//!
//! Concordance is Harrell's C as R's `concordance` computes it: over pairs
//! in the same stratum where one dies while the other is still at risk
//! (a censoring at the same time counts as still at risk), concordant when
//! the death has the higher risk score, ties in the score counting one half.

// Index loops mirror the sums in the formulas above.
#![allow(clippy::needless_range_loop)]

use std::collections::HashMap;

use crate::numeric::{exp, exp_in_place};
use nalgebra::{DMatrix, DVector};
use rayon::prelude::*;
use serde::Serialize;
use statrs::distribution::{ChiSquared, ContinuousCDF};

use crate::poisson::{Coefficient, is_singular, worst_column};

/// How tied event times are handled.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Ties {
    Efron,
    Breslow,
}

/// The data of a Cox fit, complete cases only.
#[derive(Debug, Clone, Default)]
pub struct CoxData {
    pub stop: Vec<f64>,
    /// Entry (left-truncation) times; `None`: everyone at risk from time −∞.
    pub entry: Option<Vec<f64>>,
    pub event: Vec<bool>,
    /// Covariates by column.
    pub columns: Vec<Vec<f64>>,
    pub names: Vec<String>,
    pub strata: Option<Vec<String>>,
    pub weights: Option<Vec<f64>>,
    /// Cluster labels for a robust variance summed within clusters.
    pub cluster: Option<Vec<String>>,
}

#[derive(Debug, Clone, Serialize)]
pub struct Test {
    pub statistic: f64,
    pub df: usize,
    pub p_value: f64,
}

impl Test {
    fn new(statistic: f64, df: usize) -> Test {
        let p_value = ChiSquared::new(df as f64)
            .map(|c| c.sf(statistic))
            .unwrap_or(f64::NAN);
        Test {
            statistic,
            df,
            p_value,
        }
    }
}

#[derive(Debug, Clone, Serialize)]
pub struct Tests {
    pub likelihood_ratio: Test,
    pub wald: Test,
    pub score: Test,
}

#[derive(Debug, Clone, Serialize)]
pub struct ZphTest {
    pub term: String,
    #[serde(flatten)]
    pub test: Test,
}

/// The proportional-hazards test of R's `cox.zph` (transform "km").
#[derive(Debug, Clone, Serialize)]
pub struct Zph {
    pub transform: &'static str,
    pub terms: Vec<ZphTest>,
    pub global: Test,
}

#[derive(Debug, Clone, Serialize)]
pub struct CoxFit {
    pub n: usize,
    pub events: usize,
    pub ties: Ties,
    /// Log partial likelihood at β = 0 and at the estimate (R's `loglik`).
    pub loglik: [f64; 2],
    pub concordance: f64,
    pub terms: Vec<Coefficient>,
    /// Model-based SEs when a robust variance is reported in `terms`.
    pub naive_std_error: Option<Vec<f64>>,
    pub robust: bool,
    pub tests: Tests,
    pub zph: Option<Zph>,
    pub iterations: usize,
    pub converged: bool,
    /// Covariates whose coefficient seems to run to infinity (monotone likelihood).
    pub warnings: Vec<String>,
}

#[derive(Debug, thiserror::Error, PartialEq)]
pub enum CoxError {
    #[error("no complete observations to fit")]
    Empty,
    #[error("no events: a Cox model needs at least one")]
    NoEvents,
    #[error("covariate '{0}' is constant or collinear with the others; drop it")]
    Collinear(String),
    #[error("covariate '{0}' has values too large or not finite (its sum of squares overflows)")]
    NotFinite(String),
    #[error("observation {0} has a stop time not after its entry time")]
    Interval(usize),
    #[error("weights must be positive; observation {0} has {1}")]
    Weight(usize, f64),
}

/// One stratum's observations in order of decreasing stop time, with the
/// event times and the observations in order of decreasing entry.
struct Stratum {
    by_stop: Vec<usize>,
    by_entry: Vec<usize>,
}

struct Problem<'a> {
    d: &'a CoxData,
    x: Vec<Vec<f64>>, // centred, by observation
    p: usize,
    strata: Vec<Stratum>,
    ties: Ties,
}

/// What one pass over the data gives.
#[derive(Clone)]
struct Pass {
    loglik: f64,
    score: DVector<f64>,
    info: DMatrix<f64>,
    /// Σ w r x xᵀ over the rows at risk at some event time: at β = 0, the
    /// weighted cross-product of the centred covariates that the
    /// collinearity check looks at; and Σ w r over them.
    cross: DMatrix<f64>,
    at_risk: f64,
}

impl<'a> Problem<'a> {
    /// The rows sorted for the sweeps: each stratum by decreasing stop time
    /// and by decreasing entry, the covariates centred on `means` as for
    /// the passes, in the data's order.
    fn new(data: &'a CoxData, means: &[f64], ties: Ties) -> Problem<'a> {
        let (n, p) = (data.stop.len(), data.columns.len());
        let groups: Vec<Vec<usize>> = match stratum_ids(data) {
            Some((ids, strata)) => {
                let mut groups = vec![Vec::new(); strata];
                for (i, &s) in ids.iter().enumerate() {
                    groups[s as usize].push(i);
                }
                groups
            }
            None => vec![(0..n).collect()],
        };
        let strata: Vec<Stratum> = groups
            .into_iter()
            .map(|mut g| {
                g.sort_by(|&a, &b| data.stop[b].total_cmp(&data.stop[a]));
                let mut by_entry = g.clone();
                if let Some(e) = &data.entry {
                    by_entry.sort_by(|&a, &b| e[b].total_cmp(&e[a]));
                } else {
                    by_entry.clear();
                }
                Stratum {
                    by_stop: g,
                    by_entry,
                }
            })
            .collect();
        Problem {
            d: data,
            x: (0..n)
                .map(|i| (0..p).map(|j| data.columns[j][i] - means[j]).collect())
                .collect(),
            p,
            strata,
            ties,
        }
    }

    fn w(&self, i: usize) -> f64 {
        self.d.weights.as_ref().map_or(1.0, |w| w[i])
    }
    /// `exp(x_i β)` of every observation (centred covariates).
    fn risk_scores(&self, beta: &DVector<f64>) -> Vec<f64> {
        self.x
            .iter()
            .map(|xi| {
                xi.iter()
                    .zip(beta.iter())
                    .map(|(a, b)| a * b)
                    .sum::<f64>()
                    .exp()
            })
            .collect()
    }

    fn entry(&self, i: usize) -> f64 {
        self.d.entry.as_ref().map_or(f64::NEG_INFINITY, |e| e[i])
    }

    /// Calls `each` for every event time of every stratum with the risk-set
    /// sums and the deaths there; observations are added as the sweep goes
    /// back in time and removed once their entry is at or after the time.
    fn sweep(&self, beta: &DVector<f64>, mut each: impl FnMut(&RiskSet, &[usize])) {
        let p = self.p;
        let r = self.risk_scores(beta);
        for s in &self.strata {
            let mut rs = RiskSet::new(p);
            let (mut add, mut rem) = (0, 0);
            let mut i = 0;
            while i < s.by_stop.len() {
                let t = self.d.stop[s.by_stop[i]];
                // Everyone with this stop time enters the sums.
                let mut deaths = Vec::new();
                let mut j = i;
                while j < s.by_stop.len() && self.d.stop[s.by_stop[j]] == t {
                    let k = s.by_stop[j];
                    if self.d.event[k] {
                        deaths.push(k);
                    }
                    j += 1;
                }
                while add < j {
                    let k = s.by_stop[add];
                    rs.add(&self.x[k], self.w(k) * r[k], 1.0);
                    add += 1;
                }
                // Anyone whose entry is at or after t is not at risk at t.
                while rem < s.by_entry.len() && self.entry(s.by_entry[rem]) >= t {
                    let k = s.by_entry[rem];
                    if self.d.stop[k] >= t {
                        // Only remove what was added.
                        rs.add(&self.x[k], self.w(k) * r[k], -1.0);
                    }
                    rem += 1;
                }
                if !deaths.is_empty() {
                    rs.deaths.clear();
                    rs.death_sums(&self.x, &deaths, |k| self.w(k) * r[k]);
                    each(&rs, &deaths);
                }
                i = j;
            }
        }
    }

    /// Calls `each(t, ℓ_t, u_t, M_t)` with every event time's contribution
    /// to the log-likelihood, the score and the information.
    fn contributions(&self, beta: &DVector<f64>, mut each: impl FnMut(f64, f64, &[f64], &[f64])) {
        let p = self.p;
        let ties = self.ties;
        let mut u = vec![0.0; p];
        let mut m = vec![0.0; p * p];
        self.sweep(beta, |rs, deaths| {
            u.iter_mut().for_each(|v| *v = 0.0);
            m.iter_mut().for_each(|v| *v = 0.0);
            let mut l = 0.0;
            let d = deaths.len() as f64;
            let wsum: f64 = deaths.iter().map(|&k| self.w(k)).sum();
            for &k in deaths {
                let w = self.w(k);
                let xb: f64 = self.x[k].iter().zip(beta.iter()).map(|(a, b)| a * b).sum();
                l += w * xb;
                for a in 0..p {
                    u[a] += w * self.x[k][a];
                }
            }
            let c = TieTerms::new(ties, rs.s0, rs.d0, d, wsum);
            l -= c.log_den;
            for a in 0..p {
                u[a] -= c.c01 * rs.s1[a] - c.c11 * rs.d1[a];
                for b in 0..p {
                    m[a * p + b] += c.c01 * rs.s2[a * p + b]
                        - c.c11 * rs.d2[a * p + b]
                        - c.outer(&rs.s1, &rs.d1, a, b);
                }
            }
            each(self.d.stop[deaths[0]], l, &u, &m);
        });
    }

    /// The test of proportional hazards of R's `cox.zph` (survival ≥ 3.0,
    /// default transform "km"): a score test, at β̂, for adding
    /// `x · g(t)` to the model, with `g(t) = 1 − KM(t−)` from the
    /// Kaplan–Meier of all the data (unweighted, strata ignored), centred by
    /// its mean over the events. With `u_t`, `M_t` the score and
    /// information contributions of event time t, the augmented score is
    /// `(0, Σ g u_t)` and the information `[[Σ M_t, Σ g M_t], [Σ g M_t, Σ g² M_t]]`;
    /// each term is tested with the β block and its own columns, the global
    /// test with all.
    fn zph(&self, beta: &DVector<f64>, terms: &[(String, Vec<usize>)]) -> Zph {
        let p = self.p;
        let n = self.d.stop.len();
        // Left-continuous KM of everyone.
        let km = crate::survival::kaplan_meier(&self.d.stop, &self.d.event, None, None);
        let g_of = |t: f64| -> f64 {
            // S(t−): the survival just before t.
            let idx = km.steps.partition_point(|s| s.time < t);
            1.0 - if idx == 0 {
                1.0
            } else {
                km.steps[idx - 1].surv
            }
        };
        let events: Vec<usize> = (0..n).filter(|&i| self.d.event[i]).collect();
        let gbar =
            events.iter().map(|&i| g_of(self.d.stop[i])).sum::<f64>() / events.len().max(1) as f64;
        let q = 2 * p;
        let mut u = DVector::<f64>::zeros(q);
        let mut info = DMatrix::<f64>::zeros(q, q);
        self.contributions(beta, |t, _, ut, mt| {
            let g = g_of(t) - gbar;
            for a in 0..p {
                u[p + a] += g * ut[a];
                for b in 0..p {
                    let v = mt[a * p + b];
                    info[(a, b)] += v;
                    info[(a, p + b)] += g * v;
                    info[(p + a, b)] += g * v;
                    info[(p + a, p + b)] += g * g * v;
                }
            }
        });
        let test = |cols: &[usize]| -> f64 {
            let kk: Vec<usize> = (0..p).chain(cols.iter().map(|c| p + c)).collect();
            let sub = DMatrix::from_fn(kk.len(), kk.len(), |a, b| info[(kk[a], kk[b])]);
            let us = DVector::from_fn(kk.len(), |a, _| u[kk[a]]);
            sub.clone()
                .lu()
                .solve(&us)
                .map(|x| x.dot(&us))
                .unwrap_or(f64::NAN)
        };
        let all: Vec<usize> = (0..p).collect();
        Zph {
            transform: "km",
            terms: terms
                .iter()
                .map(|(name, cols)| ZphTest {
                    term: name.clone(),
                    test: Test::new(test(cols), cols.len()),
                })
                .collect(),
            global: Test::new(test(&all), p),
        }
    }

    /// Per-observation score residuals (unweighted), n × p.
    fn score_residuals(&self, beta: &DVector<f64>) -> Vec<Vec<f64>> {
        let p = self.p;
        let n = self.d.stop.len();
        let r = self.risk_scores(beta);
        let mut resid = vec![vec![0.0; p]; n];
        let ties = self.ties;
        // Gather each event time's terms, then apply them to everyone at risk.
        struct EventTerms {
            t: f64,
            stratum: usize,
            deaths: Vec<usize>,
            // (c for a death, w̄/den, a) per partial term
            parts: Vec<(f64, f64, Vec<f64>)>,
        }
        let mut events: Vec<EventTerms> = Vec::new();
        let mut stratum_of = vec![0usize; n];
        for (si, s) in self.strata.iter().enumerate() {
            for &k in &s.by_stop {
                stratum_of[k] = si;
            }
        }
        self.sweep(beta, |rs, deaths| {
            let d = deaths.len() as f64;
            let wsum: f64 = deaths.iter().map(|&k| self.w(k)).sum();
            let parts: Vec<(f64, f64, Vec<f64>)> = match ties {
                Ties::Breslow => {
                    let den = rs.s0;
                    vec![(1.0, wsum / den, rs.s1.iter().map(|v| v / den).collect())]
                }
                Ties::Efron => (0..deaths.len())
                    .map(|k| {
                        let f = k as f64 / d;
                        let den = rs.s0 - f * rs.d0;
                        let a: Vec<f64> = (0..p).map(|j| (rs.s1[j] - f * rs.d1[j]) / den).collect();
                        (1.0 - f, wsum / d / den, a)
                    })
                    .collect(),
            };
            events.push(EventTerms {
                t: self.d.stop[deaths[0]],
                stratum: stratum_of[deaths[0]],
                deaths: deaths.to_vec(),
                parts,
            });
        });
        // Deaths: x_i − mean of the partial means.
        for e in &events {
            let m = e.parts.len() as f64;
            for &k in &e.deaths {
                for j in 0..p {
                    let abar: f64 = e.parts.iter().map(|pt| pt.2[j]).sum::<f64>() / m;
                    resid[k][j] += self.x[k][j] - abar;
                }
            }
        }
        // Risk-set terms: cumulative sums over event times, per stratum.
        let mut per_stratum: HashMap<usize, Vec<&EventTerms>> = HashMap::new();
        for e in &events {
            per_stratum.entry(e.stratum).or_default().push(e);
        }
        for (si, mut evs) in per_stratum {
            evs.sort_by(|a, b| a.t.total_cmp(&b.t));
            // H(τ) = Σ_k w̄/den_k, G(τ) = Σ_k w̄ a_k/den_k, cumulated over τ.
            let m = evs.len();
            let mut hc = vec![0.0; m + 1];
            let mut gc = vec![vec![0.0; p]; m + 1];
            for (idx, e) in evs.iter().enumerate() {
                let h: f64 = e.parts.iter().map(|pt| pt.1).sum();
                hc[idx + 1] = hc[idx] + h;
                for j in 0..p {
                    let g: f64 = e.parts.iter().map(|pt| pt.1 * pt.2[j]).sum();
                    gc[idx + 1][j] = gc[idx][j] + g;
                }
            }
            let times: Vec<f64> = evs.iter().map(|e| e.t).collect();
            let death_at: HashMap<usize, usize> = evs
                .iter()
                .enumerate()
                .flat_map(|(idx, e)| e.deaths.iter().map(move |&k| (k, idx)))
                .collect();
            for &i in &self.strata[si].by_stop {
                // Event times τ with entry_i < τ ≤ stop_i.
                let hi = times.partition_point(|&t| t <= self.d.stop[i]);
                let lo = times.partition_point(|&t| t <= self.entry(i));
                if hi <= lo {
                    continue;
                }
                let mut h = hc[hi] - hc[lo];
                let mut g: Vec<f64> = (0..p).map(|j| gc[hi][j] - gc[lo][j]).collect();
                if let Some(&idx) = death_at.get(&i) {
                    // At its own death time the observation counts with c = 1 − k/d.
                    for pt in &evs[idx].parts {
                        h -= pt.1 * (1.0 - pt.0);
                        for j in 0..p {
                            g[j] -= pt.1 * (1.0 - pt.0) * pt.2[j];
                        }
                    }
                }
                for j in 0..p {
                    resid[i][j] -= r[i] * (self.x[i][j] * h - g[j]);
                }
            }
        }
        resid
    }
}

/// The rows of a fit grouped by the event times they are at risk at, for
/// the Newton passes: a pass is one sweep over contiguous rows, split
/// across threads, whatever the ties.
///
/// Number the distinct event times of every stratum, stratum after
/// stratum; row i is at risk at those in `[lo_i, hi_i)` (entry_i < τ ≤
/// stop_i). The rows are stored grouped by their bucket `hi_i − 1`, the
/// last event time they are at risk at, the bucket's censored rows before
/// its deaths (a counting sort, done while centring). A sweep sums `w r`,
/// `w r x` and `w r x xᵀ` over each run of rows of one bucket (a
/// [`Unit`]): those sums `B0`, `B1`, `B2` are all a pass needs, because
/// within a stratum
/// - `S0`, `S1` at event time k are the suffix sums over buckets b ≥ k of
///   `B0`, `B1`, less those of the rows that enter late placed at
///   `lo_i − 1`;
/// - for the coefficients `c_k` of event time k and `C` their prefix sums,
///   `Σ_k c_k S2(τ_k) = Σ_b B2_b (C[b + 1] − C[first_b])` (`first_b` the
///   stratum's first event time), so the S2 terms of the information are
///   a weighted sum of the units' `B2`, and no S2 is kept per event time;
/// - the deaths at k are bucket k's death runs: `D0`, `D1`, `D2`.
///
/// Units have fixed bounds and are summed in order: a fit's numbers do not
/// depend on the thread count.
struct EventTimes {
    p: usize,
    /// Centred covariates, row-major, in bucket order from `x_start` (see
    /// [`row_buffer`]); rows at risk at no event time are left out.
    x: Vec<f64>,
    x_start: usize,
    /// Case weights in the same order.
    weights: Option<Vec<f64>>,
    /// The bucket runs, in row order.
    units: Vec<Unit>,
    /// Positions in `x` of the rows that enter late, grouped by the event
    /// time before their entry, and those groups as units (`start..end`
    /// index this list).
    late: Vec<u32>,
    late_units: Vec<Unit>,
    /// Event times in all: k = 0..m.
    m: usize,
    /// The first event time of event time k's stratum.
    first: Vec<u32>,
    /// Deaths and their summed weight at each event time.
    deaths: Vec<f64>,
    death_weight: Vec<f64>,
    /// Σ over deaths of w x (the score's first term; ℓ's is βᵀ of it).
    death_wx: Vec<f64>,
    ties: Ties,
}

/// A run of at most [`Unit::ROWS`] rows of one bucket, all deaths or all
/// censored.
#[derive(Debug, Clone, Copy)]
struct Unit {
    k: u32,
    death: bool,
    start: u32,
    end: u32,
}

impl Unit {
    /// Long enough that a unit's sums (1 + p + p² values) are cheap beside
    /// its rows, short enough that a bucket holding most rows (a common
    /// administrative censoring time) still splits between threads. Tests
    /// use short units, so that buckets split there too.
    const ROWS: u32 = if cfg!(test) { 16 } else { 8_192 };

    /// Splits `start..end` of bucket `k` into units.
    fn split(k: usize, death: bool, start: u32, end: u32, out: &mut Vec<Unit>) {
        let mut a = start;
        while a < end {
            let b = end.min(a + Unit::ROWS);
            out.push(Unit {
                k: k as u32,
                death,
                start: a,
                end: b,
            });
            a = b;
        }
    }
}

/// An empty buffer with room for `len` values, for the fit's rows, and the
/// index at which they start: the first cache line (64 bytes) boundary, so
/// that a row of 8 covariates is one line, not two (a scattered row costs
/// a read of each line it touches). The values before it are zeros.
///
/// Where Linux offers transparent huge pages, they back it. On the machines
/// this was measured on, a first touch costs about 4 µs per 4 KiB page, so
/// the 64 MiB of a million rows × 8 covariates cost 70 ms in page faults
/// with 4 KiB pages and 12 ms with 2 MiB ones.
fn row_buffer(len: usize) -> (Vec<f64>, usize) {
    let mut v: Vec<f64> = Vec::with_capacity(len + 7);
    let start = (v.as_ptr() as usize).next_multiple_of(64) - v.as_ptr() as usize;
    let start = start / std::mem::size_of::<f64>();
    v.resize(start, 0.0);
    #[cfg(target_os = "linux")]
    if len >= 1 << 19 {
        let from = (v.as_ptr() as usize).next_multiple_of(4096);
        let to = v.as_ptr() as usize + (start + len) * std::mem::size_of::<f64>();
        if to > from {
            // SAFETY: advice about pages of this allocation; madvise reads
            // and writes no memory, and a refusal only leaves small pages.
            unsafe { libc::madvise(from as *mut libc::c_void, to - from, libc::MADV_HUGEPAGE) };
        }
    }
    (v, start)
}

/// The destination of the parallel scatter in [`EventTimes::new`].
struct Rows {
    x: *mut f64,
    w: *mut f64,
}

// SAFETY: threads write through these pointers only at the distinct
// positions of a permutation (see `EventTimes::new`), never read.
unsafe impl Sync for Rows {}
unsafe impl Send for Rows {}

impl Rows {
    /// Writes value `at` of the rows.
    ///
    /// # Safety
    /// `at` is in bounds and no other thread writes it.
    unsafe fn put(&self, at: usize, v: f64) {
        // SAFETY: as the caller promises.
        unsafe { self.x.add(at).write(v) }
    }

    /// Writes the 8 values of a cache line at value `at`, a multiple of 8
    /// from the 64-byte boundary [`row_buffer`] starts the rows at. On
    /// x86_64 with streaming stores: a scattered row would otherwise first
    /// read the line it overwrites, and most of the scatter's time was
    /// waiting for those reads. Needs an `_mm_sfence` before other threads
    /// read.
    ///
    /// # Safety
    /// As [`Rows::put`], for the values `at..at + 8`.
    unsafe fn put_line(&self, at: usize, v: &[f64; 8]) {
        #[cfg(target_arch = "x86_64")]
        // SAFETY: as the caller promises; the line is 64-byte aligned, so
        // each pair is 16-byte aligned as _mm_stream_pd needs, and SSE2 is
        // part of x86_64.
        unsafe {
            use std::arch::x86_64::{_mm_loadu_pd, _mm_stream_pd};
            let dst = self.x.add(at);
            for k in 0..4 {
                _mm_stream_pd(dst.add(2 * k), _mm_loadu_pd(v.as_ptr().add(2 * k)));
            }
        }
        #[cfg(not(target_arch = "x86_64"))]
        // SAFETY: as the caller promises.
        unsafe {
            std::ptr::copy_nonoverlapping(v.as_ptr(), self.x.add(at), 8)
        };
    }

    /// Writes the weight of row `at`.
    ///
    /// # Safety
    /// There are weights, `at` is in bounds and no other thread writes it.
    unsafe fn put_weight(&self, at: usize, w: f64) {
        // SAFETY: as the caller promises.
        unsafe { self.w.add(at).write(w) }
    }
}

impl EventTimes {
    fn new(data: &CoxData, means: &[f64], ties: Ties) -> EventTimes {
        let n = data.stop.len();
        let p = data.columns.len();
        let (stratum, strata) = match stratum_ids(data) {
            Some((ids, strata)) => (Some(ids), strata),
            None => (None, 1),
        };
        let stratum_of = |i: usize| stratum.as_ref().map_or(0, |s| s[i]);
        // The distinct (stratum, value) pairs of a column: times repeat
        // (days), so each row is looked up by hash and each distinct value
        // placed among the event times once (a binary search per row was
        // most of the setup).
        let distinct = |values: &[f64]| -> (Vec<u32>, Vec<(u32, f64)>) {
            let mut slot: HashMap<(u32, u64), u32, BuildFx> = HashMap::default();
            let mut values_seen: Vec<(u32, f64)> = Vec::new();
            let ids = (0..n)
                .map(|i| {
                    let key = (stratum_of(i), values[i].to_bits());
                    *slot.entry(key).or_insert_with(|| {
                        values_seen.push((key.0, values[i]));
                        values_seen.len() as u32 - 1
                    })
                })
                .collect();
            (ids, values_seen)
        };
        let (stop_id, stops) = distinct(&data.stop);
        // Event times per stratum, ascending: the stop values with an event.
        let mut has_event = vec![false; stops.len()];
        for i in 0..n {
            if data.event[i] {
                has_event[stop_id[i] as usize] = true;
            }
        }
        let mut times: Vec<Vec<f64>> = vec![Vec::new(); strata];
        for (&(s, t), _) in stops.iter().zip(&has_event).filter(|(_, e)| **e) {
            times[s as usize].push(t);
        }
        let mut offset = vec![0usize; strata + 1];
        for (s, t) in times.iter_mut().enumerate() {
            t.sort_by(f64::total_cmp);
            offset[s + 1] = offset[s] + t.len();
        }
        let m = offset[strata];
        let mut first = vec![0u32; m];
        for s in 0..strata {
            first[offset[s]..offset[s + 1]].fill(offset[s] as u32);
        }
        // A value's place among its stratum's event times: how many are ≤ it.
        let place = |&(s, v): &(u32, f64)| -> u32 {
            let s = s as usize;
            (offset[s] + times[s].partition_point(|&t| t <= v)) as u32
        };
        let stop_hi: Vec<u32> = stops.iter().map(place).collect();
        let lo: Option<Vec<u32>> = data.entry.as_deref().map(|e| {
            let (ids, entries) = distinct(e);
            let at: Vec<u32> = entries.iter().map(place).collect();
            ids.into_iter().map(|id| at[id as usize]).collect()
        });
        let lo_of = |i: usize| match &lo {
            Some(lo) => lo[i],
            None => offset[stratum_of(i) as usize] as u32,
        };
        let w = |i: usize| data.weights.as_ref().map_or(1.0, |w| w[i]);
        // A counting sort on (bucket, death): segment 2k + death, or none
        // for a row at risk at no event time.
        let (mut deaths, mut death_weight) = (vec![0.0; m], vec![0.0; m]);
        let mut start = vec![0u32; 2 * m + 1];
        // In place: the row's stop id becomes its segment, then its place.
        let mut pos = stop_id;
        for (i, seg) in pos.iter_mut().enumerate() {
            let hi = stop_hi[*seg as usize];
            *seg = if hi <= lo_of(i) {
                u32::MAX
            } else {
                // Without a branch on the event: it is a coin toss per row.
                let death = data.event[i] as u32;
                deaths[hi as usize - 1] += death as f64;
                death_weight[hi as usize - 1] += death as f64 * w(i);
                let s = 2 * (hi - 1) + death;
                start[s as usize + 1] += 1;
                s
            };
        }
        for s in 0..2 * m {
            start[s + 1] += start[s];
        }
        let kept = start[2 * m] as usize;
        let mut next = start.clone();
        for seg in pos.iter_mut() {
            if let Some(at) = next.get_mut(*seg as usize) {
                *seg = *at;
                *at += 1;
            }
        }
        let mut units = Vec::new();
        for s in 0..2 * m {
            Unit::split(s / 2, s % 2 == 1, start[s], start[s + 1], &mut units);
        }
        // Rows that enter after their stratum's first event time.
        let mut late: Vec<(u32, u32)> = match &lo {
            Some(lo) => (0..n)
                .filter(|&i| pos[i] != u32::MAX && lo[i] > first[lo[i] as usize])
                .map(|i| (lo[i] - 1, pos[i]))
                .collect(),
            None => Vec::new(),
        };
        late.sort_unstable();
        let mut late_units = Vec::new();
        let mut a = 0;
        while a < late.len() {
            let k = late[a].0;
            let b = a + late[a..].partition_point(|&(kb, _)| kb == k);
            Unit::split(k as usize, false, a as u32, b as u32, &mut late_units);
            a = b;
        }
        // Centre each row and write it at its place, taking the deaths'
        // Σ w x on the way, in fixed chunks summed in order.
        let (mut x, x_start) = row_buffer(kept * p);
        let mut weights = data.weights.as_ref().map(|_| Vec::with_capacity(kept));
        let rows = Rows {
            // SAFETY: `x_start` is within the allocation (row_buffer).
            x: unsafe { x.as_mut_ptr().add(x_start) },
            w: weights
                .as_mut()
                .map_or(std::ptr::null_mut(), |v: &mut Vec<f64>| v.as_mut_ptr()),
        };
        const ROWS: usize = 32_768;
        let parts: Vec<Vec<f64>> = (0..n.div_ceil(ROWS))
            .into_par_iter()
            .map(|c| {
                let range = c * ROWS..n.min((c + 1) * ROWS);
                let cols: Vec<&[f64]> = data.columns.iter().map(|v| &v[range.clone()]).collect();
                let mut dwx = vec![0.0; p];
                for (r, i) in range.enumerate() {
                    let at = pos[i];
                    if at == u32::MAX {
                        continue;
                    }
                    let wi = w(i);
                    if p == 8 {
                        // A row is one cache line: written whole, past the
                        // cache (see `Rows::put_line`).
                        let v: [f64; 8] = std::array::from_fn(|j| cols[j][r] - means[j]);
                        // SAFETY: as below.
                        unsafe { rows.put_line(at as usize * 8, &v) };
                        if data.event[i] {
                            for (d, v) in dwx.iter_mut().zip(v) {
                                *d += wi * v;
                            }
                        }
                    } else {
                        for (j, (col, mean)) in cols.iter().zip(means).enumerate() {
                            let v = col[r] - mean;
                            // SAFETY: `pos` gives each kept row its own place
                            // below `kept` (the counting sort hands out each
                            // place of a segment once), so no two rows and no
                            // two threads write the same value.
                            unsafe { rows.put(at as usize * p + j, v) };
                            if data.event[i] {
                                dwx[j] += wi * v;
                            }
                        }
                    }
                    if data.weights.is_some() {
                        // SAFETY: as above, for the weights.
                        unsafe { rows.put_weight(at as usize, wi) };
                    }
                }
                #[cfg(target_arch = "x86_64")]
                // SAFETY: SSE2 is part of x86_64. The fence orders this
                // thread's streaming stores before the join that publishes them.
                unsafe {
                    std::arch::x86_64::_mm_sfence()
                };
                dwx
            })
            .collect();
        // SAFETY: the scatter wrote every place below `kept` (each kept row
        // has one, and there are `kept` of them), so all are initialised.
        unsafe {
            x.set_len(x_start + kept * p);
            if let Some(w) = weights.as_mut() {
                w.set_len(kept);
            }
        }
        let mut death_wx = vec![0.0; p];
        for dwx in parts {
            for (a, b) in death_wx.iter_mut().zip(dwx) {
                *a += b;
            }
        }
        EventTimes {
            p,
            x,
            x_start,
            weights,
            units,
            late: late.into_iter().map(|(_, r)| r).collect(),
            late_units,
            m,
            first,
            deaths,
            death_weight,
            death_wx,
            ties,
        }
    }

    /// Adds up `w r`, `w r x` and `w r x xᵀ` over the rows `rows` of a
    /// unit into `out = [B0, B1.., B2..]`: with AVX2 when the CPU has it
    /// (the same operations, four lanes at a time: the same bits).
    fn sum_run(&self, rows: std::ops::Range<usize>, beta: &[f64], out: &mut [f64]) {
        let w = self.weights.as_deref();
        #[cfg(target_arch = "x86_64")]
        if std::is_x86_feature_detected!("avx2") {
            // SAFETY: the CPU has AVX2, checked just above.
            return unsafe { sum_run_avx2(self.rows(), w, rows, beta, out) };
        }
        sum_run(self.rows(), w, rows, beta, out)
    }

    /// The rows, row-major.
    fn rows(&self) -> &[f64] {
        &self.x[self.x_start..]
    }

    fn pass(&self, beta: &DVector<f64>) -> Pass {
        let (p, m) = (self.p, self.m);
        let beta: Vec<f64> = beta.iter().copied().collect();
        // The sweep: every unit's sums, the late entries' after the buckets'.
        let stride = 1 + p + p * p;
        let nu = self.units.len();
        let mut sums = vec![0.0; (nu + self.late_units.len()) * stride];
        sums.par_chunks_mut(stride)
            .enumerate()
            .for_each(|(u, out)| match self.units.get(u) {
                Some(unit) => self.sum_run(unit.start as usize..unit.end as usize, &beta, out),
                None => {
                    let unit = &self.late_units[u - nu];
                    let rows = &self.late[unit.start as usize..unit.end as usize];
                    let rows = rows.iter().map(|&r| r as usize);
                    sum_rows(self.rows(), self.weights.as_deref(), rows, &beta, out)
                }
            });
        let units = || {
            self.units
                .iter()
                .map(|u| (u, 1.0))
                .chain(self.late_units.iter().map(|u| (u, -1.0)))
                .zip(sums.chunks_exact(stride))
        };
        // Bucket sums (less the late entries'), then suffix sums within
        // each stratum: S0, S1 at each event time; D0, D1 of its deaths.
        let (mut s0, mut s1) = (vec![0.0; m], vec![0.0; m * p]);
        let (mut d0, mut d1) = (vec![0.0; m], vec![0.0; m * p]);
        for ((u, sign), s) in units() {
            let k = u.k as usize;
            s0[k] += sign * s[0];
            for (a, b) in s1[k * p..(k + 1) * p].iter_mut().zip(&s[1..1 + p]) {
                *a += sign * b;
            }
            if u.death {
                d0[k] += s[0];
                for (a, b) in d1[k * p..(k + 1) * p].iter_mut().zip(&s[1..1 + p]) {
                    *a += b;
                }
            }
        }
        for k in (0..m.saturating_sub(1)).rev() {
            if self.first[k + 1] as usize != k + 1 {
                s0[k] += s0[k + 1];
                let (head, tail) = s1.split_at_mut((k + 1) * p);
                for (a, b) in head[k * p..].iter_mut().zip(&tail[..p]) {
                    *a += b;
                }
            }
        }
        // Per event time: ℓ, the score and the information but for its S2
        // terms, and the coefficients c01, c11 of S2 and D2 (`TieTerms`).
        let mut loglik: f64 = self.death_wx.iter().zip(&beta).map(|(a, b)| a * b).sum();
        let mut score = DVector::from_column_slice(&self.death_wx);
        let mut info = DMatrix::<f64>::zeros(p, p);
        let mut cum = vec![0.0; m + 1]; // prefix sums of c01
        let mut c11s = vec![0.0; m];
        // Each event time's terms cost O(deaths there): on every thread.
        let terms: Vec<TieTerms> = (0..m)
            .into_par_iter()
            .map(|k| {
                TieTerms::new(
                    self.ties,
                    s0[k],
                    d0[k],
                    self.deaths[k],
                    self.death_weight[k],
                )
            })
            .collect();
        for (k, c) in terms.iter().enumerate() {
            let (s1, d1) = (&s1[k * p..(k + 1) * p], &d1[k * p..(k + 1) * p]);
            loglik -= c.log_den;
            for a in 0..p {
                score[a] -= c.c01 * s1[a] - c.c11 * d1[a];
                for b in 0..p {
                    info[(a, b)] -= c.outer(s1, d1, a, b);
                }
            }
            cum[k + 1] = cum[k] + c.c01;
            c11s[k] = c.c11;
        }
        // The S2 and D2 terms: each unit's B2 with its rows' coefficient
        // C[hi] − C[lo] (− c11 for deaths), in unit order.
        let mut s2 = vec![0.0; p * p];
        for ((u, sign), s) in units() {
            let k = u.k as usize;
            let mut c = sign * (cum[k + 1] - cum[self.first[k] as usize]);
            if u.death {
                c -= c11s[k];
            }
            for (a, b) in s2.iter_mut().zip(&s[1 + p..]) {
                *a += c * b;
            }
        }
        let mut cross = DMatrix::<f64>::zeros(p, p);
        let mut at_risk = 0.0;
        for s in sums.chunks_exact(stride).take(nu) {
            at_risk += s[0];
            for (a, b) in cross.as_mut_slice().iter_mut().zip(&s[1 + p..]) {
                *a += b;
            }
        }
        for a in 0..p {
            for b in 0..p {
                info[(a, b)] += s2[a * p + b];
            }
        }
        Pass {
            loglik,
            score,
            info,
            cross,
            at_risk,
        }
    }
}

/// [`sum_rows`], with the covariate count a constant for up to 12
/// covariates so that the sums live in registers and the loops unroll.
#[inline(always)]
fn sum_run(
    x: &[f64],
    w: Option<&[f64]>,
    rows: std::ops::Range<usize>,
    beta: &[f64],
    out: &mut [f64],
) {
    match beta.len() {
        1 => sum_rows_of::<1>(x, w, rows, beta, out),
        2 => sum_rows_of::<2>(x, w, rows, beta, out),
        3 => sum_rows_of::<3>(x, w, rows, beta, out),
        4 => sum_rows_of::<4>(x, w, rows, beta, out),
        5 => sum_rows_of::<5>(x, w, rows, beta, out),
        6 => sum_rows_of::<6>(x, w, rows, beta, out),
        7 => sum_rows_of::<7>(x, w, rows, beta, out),
        8 => sum_rows_of::<8>(x, w, rows, beta, out),
        9 => sum_rows_of::<9>(x, w, rows, beta, out),
        10 => sum_rows_of::<10>(x, w, rows, beta, out),
        11 => sum_rows_of::<11>(x, w, rows, beta, out),
        12 => sum_rows_of::<12>(x, w, rows, beta, out),
        _ => sum_rows(x, w, rows, beta, out),
    }
}

/// [`sum_run`] compiled for AVX2.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2")]
fn sum_run_avx2(
    x: &[f64],
    w: Option<&[f64]>,
    rows: std::ops::Range<usize>,
    beta: &[f64],
    out: &mut [f64],
) {
    sum_run(x, w, rows, beta, out)
}

/// Adds up `w r`, `w r x` and `w r x xᵀ` (the full square: its rows
/// vectorise, where the triangle's would not) over `rows` of the row-major
/// `x` into `out = [B0, B1.., B2..]`.
fn sum_rows(
    x: &[f64],
    w: Option<&[f64]>,
    rows: impl Iterator<Item = usize>,
    beta: &[f64],
    out: &mut [f64],
) {
    let p = beta.len();
    let (b0, rest) = out.split_at_mut(1);
    let (b1, b2) = rest.split_at_mut(p);
    for i in rows {
        let xi = &x[i * p..(i + 1) * p];
        let eta: f64 = xi.iter().zip(beta).map(|(a, b)| a * b).sum();
        let v = exp(eta) * w.map_or(1.0, |w| w[i]);
        b0[0] += v;
        for (a, (b1a, &xa)) in b1.iter_mut().zip(xi).enumerate() {
            let va = v * xa;
            *b1a += va;
            for (gab, xb) in b2[a * p..(a + 1) * p].iter_mut().zip(xi) {
                *gab += va * xb;
            }
        }
    }
}

/// [`sum_rows`] for `P` covariates, a run of rows at a time, the sums in
/// local arrays: the same operations in the same order, so the same bits.
#[inline(always)]
fn sum_rows_of<const P: usize>(
    x: &[f64],
    w: Option<&[f64]>,
    rows: std::ops::Range<usize>,
    beta: &[f64],
    out: &mut [f64],
) {
    let (x, _) = x.as_chunks::<P>();
    let beta: [f64; P] = std::array::from_fn(|a| beta[a]);
    let mut b0 = out[0];
    let mut b1: [f64; P] = std::array::from_fn(|a| out[1 + a]);
    let mut b2: [[f64; P]; P] =
        std::array::from_fn(|a| std::array::from_fn(|b| out[1 + P + a * P + b]));
    // A block at a time: its risk scores first, then its sums, so that no
    // call to exp sits in the loop that holds the sums in registers.
    const BLOCK: usize = 64;
    let mut v = [0.0; BLOCK];
    for (c, block) in x[rows.clone()].chunks(BLOCK).enumerate() {
        let at = rows.start + c * BLOCK;
        for (vr, xi) in v.iter_mut().zip(block) {
            let mut eta = 0.0;
            for a in 0..P {
                eta += xi[a] * beta[a];
            }
            *vr = eta;
        }
        exp_in_place(&mut v[..block.len()]);
        if let Some(w) = w {
            for (vr, wr) in v.iter_mut().zip(&w[at..at + block.len()]) {
                *vr *= wr;
            }
        }
        for (&v, xi) in v.iter().zip(block) {
            b0 += v;
            for a in 0..P {
                let va = v * xi[a];
                b1[a] += va;
                for b in 0..P {
                    b2[a][b] += va * xi[b];
                }
            }
        }
    }
    out[0] = b0;
    for a in 0..P {
        out[1 + a] = b1[a];
        for b in 0..P {
            out[1 + P + a * P + b] = b2[a][b];
        }
    }
}

/// Each row's stratum numbered in order of first appearance, and how many
/// there are; `None` without strata.
fn stratum_ids(data: &CoxData) -> Option<(Vec<u32>, usize)> {
    let labels = data.strata.as_ref()?;
    let mut ids: HashMap<&str, u32> = HashMap::new();
    let of_row = labels
        .iter()
        .map(|l| {
            let next = ids.len() as u32;
            *ids.entry(l.as_str()).or_insert(next)
        })
        .collect();
    Some((of_row, ids.len()))
}

/// A multiplicative hash with MurmurHash3's finaliser for the keys of one
/// fit: the std SipHash guards against adversarial keys, which event times
/// are not.
#[derive(Default, Clone, Copy)]
struct BuildFx;

struct Fx(u64);

impl std::hash::BuildHasher for BuildFx {
    type Hasher = Fx;
    fn build_hasher(&self) -> Fx {
        Fx(0)
    }
}

impl std::hash::Hasher for Fx {
    fn write(&mut self, bytes: &[u8]) {
        for b in bytes {
            self.write_u64(*b as u64);
        }
    }
    fn write_u32(&mut self, v: u32) {
        self.write_u64(v as u64);
    }
    fn write_u64(&mut self, v: u64) {
        self.0 = (self.0.rotate_left(5) ^ v).wrapping_mul(0x9E37_79B9_7F4A_7C15);
    }
    fn finish(&self) -> u64 {
        // MurmurHash3's fmix64: the keys are f64 bits whose low bits are
        // often all zero (whole days), and hash tables index by low bits.
        let mut h = self.0;
        h ^= h >> 33;
        h = h.wrapping_mul(0xff51_afd7_ed55_8ccd);
        h ^= h >> 33;
        h = h.wrapping_mul(0xc4ce_b9fe_1a85_ec53);
        h ^ (h >> 33)
    }
}

/// The tied deaths of one event time. Their partial terms j = 0..d
/// (Breslow: j = 0 with weight Σw) differ only in f = j/d, so their sums
/// over j reduce to five scalars c_ij = Σ_j wt f^i / den_j^j with
/// den_j = S0 − f D0. Then
///   Σ wt a_j          = c01 S1 − c11 D1,
///   Σ wt M2_j / den_j = c01 S2 − c11 D2,
///   Σ wt a_j a_jᵀ     = c02 S1S1ᵀ − c12 (S1D1ᵀ + D1S1ᵀ) + c22 D1D1ᵀ:
/// O(d + p²) per event time instead of O(d p²).
struct TieTerms {
    /// Σ_j wt log den_j, the log-likelihood's denominator.
    log_den: f64,
    c01: f64,
    c11: f64,
    // c02, c12, c22 times S0², with 1/S0: the products S1S1ᵀ/S0² are formed
    // from S1/S0, which stays on the covariates' scale. (S0 itself can span
    // e^±500 when a coefficient runs off; 1/S0² would overflow.)
    c02: f64,
    c12: f64,
    c22: f64,
    inv_s0: f64,
}

impl TieTerms {
    /// `deaths` tied deaths of summed weight `wsum`, with the risk set's S0
    /// and the deaths' D0.
    fn new(ties: Ties, s0: f64, d0: f64, deaths: f64, wsum: f64) -> TieTerms {
        if ties == Ties::Breslow || deaths <= 1.0 {
            // One term, f = 0 (Efron with a single death is Breslow).
            let inv = 1.0 / s0;
            return TieTerms {
                log_den: wsum * s0.ln(),
                c01: wsum * inv,
                c11: 0.0,
                c02: wsum,
                c12: 0.0,
                c22: 0.0,
                inv_s0: inv,
            };
        }
        // Efron: the d terms share the weight w̄ = Σw / d, which is taken
        // out of the sums. One division per term, and Σ log den_j as the
        // log of Π den_j / S0 (each factor in (0, 1], the product taken
        // back to 1 before it can underflow): a log per event time, not
        // one per death, which was most of a pass with 300 deaths a day.
        let wt = wsum / deaths;
        let (mut c01, mut c11, mut c02, mut c12, mut c22) = (0.0, 0.0, 0.0, 0.0, 0.0);
        let (mut prod, mut logs) = (1.0f64, 0.0f64);
        let inv_s0 = 1.0 / s0;
        for j in 0..deaths as usize {
            let f = j as f64 / deaths;
            let den = s0 - f * d0;
            let inv = 1.0 / den;
            let ratio = s0 * inv;
            let inv2 = ratio * ratio;
            c01 += inv;
            c11 += f * inv;
            c02 += inv2;
            c12 += f * inv2;
            c22 += f * f * inv2;
            prod *= den * inv_s0;
            if prod < 1e-250 {
                logs += prod.ln();
                prod = 1.0;
            }
        }
        TieTerms {
            log_den: wt * (deaths * s0.ln() + logs + prod.ln()),
            c01: wt * c01,
            c11: wt * c11,
            c02: wt * c02,
            c12: wt * c12,
            c22: wt * c22,
            inv_s0,
        }
    }

    /// Entry (a, b) of Σ wt a_j a_jᵀ, from S1 and D1.
    fn outer(&self, s1: &[f64], d1: &[f64], a: usize, b: usize) -> f64 {
        let is = self.inv_s0;
        let (sa, sb, da, db) = (s1[a] * is, s1[b] * is, d1[a] * is, d1[b] * is);
        self.c02 * sa * sb - self.c12 * (sa * db + da * sb) + self.c22 * da * db
    }
}

/// Weighted sums over a risk set and over the deaths at one time.
struct RiskSet {
    p: usize,
    s0: f64,
    s1: Vec<f64>,
    s2: Vec<f64>,
    d0: f64,
    d1: Vec<f64>,
    d2: Vec<f64>,
    deaths: Vec<usize>,
}

impl RiskSet {
    fn new(p: usize) -> RiskSet {
        RiskSet {
            p,
            s0: 0.0,
            s1: vec![0.0; p],
            s2: vec![0.0; p * p],
            d0: 0.0,
            d1: vec![0.0; p],
            d2: vec![0.0; p * p],
            deaths: Vec::new(),
        }
    }

    fn add(&mut self, x: &[f64], wr: f64, sign: f64) {
        let v = sign * wr;
        self.s0 += v;
        // Upper triangle only; `symmetrize` fills the rest when it is read.
        for a in 0..self.p {
            self.s1[a] += v * x[a];
            let va = v * x[a];
            for b in a..self.p {
                self.s2[a * self.p + b] += va * x[b];
            }
        }
    }

    fn death_sums(&mut self, x: &[Vec<f64>], deaths: &[usize], wr: impl Fn(usize) -> f64) {
        self.d0 = 0.0;
        self.d1.iter_mut().for_each(|v| *v = 0.0);
        self.d2.iter_mut().for_each(|v| *v = 0.0);
        for &k in deaths {
            let v = wr(k);
            self.d0 += v;
            for a in 0..self.p {
                self.d1[a] += v * x[k][a];
                let va = v * x[k][a];
                for b in a..self.p {
                    self.d2[a * self.p + b] += va * x[k][b];
                }
            }
        }
        self.symmetrize();
    }

    /// Copies the upper triangles of S2 and D2 to their lower ones.
    fn symmetrize(&mut self) {
        let p = self.p;
        for a in 0..p {
            for b in 0..a {
                self.s2[a * p + b] = self.s2[b * p + a];
                self.d2[a * p + b] = self.d2[b * p + a];
            }
        }
    }
}

/// Harrell's concordance (see the module docs), weighted by `w_i w_j`, by a
/// sweep back in time with a Fenwick tree over the ranks of the risk scores:
/// O(n log n).
fn concordance(prob: &Problem, lp: &[f64]) -> f64 {
    let n = lp.len();
    let mut order: Vec<usize> = (0..n).collect();
    order.sort_by(|&a, &b| lp[a].total_cmp(&lp[b]));
    let mut rank = vec![0usize; n];
    let mut distinct = 0;
    for (pos, &i) in order.iter().enumerate() {
        if pos > 0 && lp[i] != lp[order[pos - 1]] {
            distinct += 1;
        }
        rank[i] = distinct;
    }
    let size = distinct + 1;
    let (mut conc, mut disc, mut tied) = (0.0, 0.0, 0.0);
    for s in &prob.strata {
        let mut tree = vec![0.0; size + 1];
        let add = |tree: &mut Vec<f64>, r: usize, v: f64| {
            let mut i = r + 1;
            while i <= size {
                tree[i] += v;
                i += i & i.wrapping_neg();
            }
        };
        let prefix = |tree: &Vec<f64>, r: usize| -> f64 {
            // Sum over ranks < r.
            let mut i = r;
            let mut acc = 0.0;
            while i > 0 {
                acc += tree[i];
                i -= i & i.wrapping_neg();
            }
            acc
        };
        let mut rem_at = 0;
        let mut total = 0.0;
        let mut i = 0;
        while i < s.by_stop.len() {
            let t = prob.d.stop[s.by_stop[i]];
            let mut j = i;
            let mut deaths = Vec::new();
            while j < s.by_stop.len() && prob.d.stop[s.by_stop[j]] == t {
                let k = s.by_stop[j];
                if prob.d.event[k] {
                    deaths.push(k);
                } else {
                    // Censored at t: still at risk when the deaths at t happen.
                    add(&mut tree, rank[k], prob.w(k));
                    total += prob.w(k);
                }
                j += 1;
            }
            // Everyone who stopped later was added in earlier rounds (add_at);
            // remove those who entered at or after t.
            while rem_at < s.by_entry.len() && prob.entry(s.by_entry[rem_at]) >= t {
                let k = s.by_entry[rem_at];
                if prob.d.stop[k] > t || (prob.d.stop[k] == t && !prob.d.event[k]) {
                    add(&mut tree, rank[k], -prob.w(k));
                    total -= prob.w(k);
                }
                rem_at += 1;
            }
            for &k in &deaths {
                let below = prefix(&tree, rank[k]);
                let upto = prefix(&tree, rank[k] + 1);
                let wk = prob.w(k);
                conc += wk * below;
                tied += wk * (upto - below);
                disc += wk * (total - upto);
            }
            for &k in &deaths {
                if prob.entry(k) < t {
                    add(&mut tree, rank[k], prob.w(k));
                    total += prob.w(k);
                }
            }
            i = j;
        }
    }
    (conc + tied / 2.0) / (conc + disc + tied)
}

/// Fits the model, with Harrell's concordance and the cox.zph test.
pub fn fit(data: &CoxData, ties: Ties, robust: bool) -> Result<CoxFit, CoxError> {
    fit_with(
        data,
        &CoxOptions {
            ties,
            robust,
            diagnostics: true,
        },
    )
}

/// What a fit computes.
#[derive(Debug, Clone, Copy)]
pub struct CoxOptions {
    pub ties: Ties,
    /// A robust (sandwich) variance even without clusters or fractional
    /// weights.
    pub robust: bool,
    /// Harrell's concordance and the cox.zph test. Without them (and
    /// without a robust variance) the rows are never sorted: the fit is the
    /// model only, as lifelines' `fit` gives it; `concordance` is then NaN
    /// and `zph` None.
    pub diagnostics: bool,
}

/// Fits the model with the options given.
pub fn fit_with(data: &CoxData, opts: &CoxOptions) -> Result<CoxFit, CoxError> {
    if !opts.diagnostics && !needs_robust(data, opts.robust) {
        return fit_sorted(data, opts);
    }
    // The sweeps of the diagnostics walk each stratum from the latest stop
    // time back: with the rows stored in that order, they read memory front
    // to back. Nothing returned depends on the row order.
    let n = data.stop.len();
    let mut order: Vec<usize> = (0..n).collect();
    order.sort_by(|&a, &b| {
        let sa = data.strata.as_ref().map(|s| s[a].as_str());
        let sb = data.strata.as_ref().map(|s| s[b].as_str());
        sa.cmp(&sb).then(data.stop[b].total_cmp(&data.stop[a]))
    });
    let pick = |v: &[f64]| order.iter().map(|&i| v[i]).collect::<Vec<f64>>();
    let pick_s = |v: &[String]| order.iter().map(|&i| v[i].clone()).collect::<Vec<String>>();
    let sorted = CoxData {
        stop: pick(&data.stop),
        entry: data.entry.as_deref().map(pick),
        event: order.iter().map(|&i| data.event[i]).collect(),
        columns: data.columns.iter().map(|c| pick(c)).collect(),
        names: data.names.clone(),
        strata: data.strata.as_deref().map(pick_s),
        weights: data.weights.as_deref().map(pick),
        cluster: data.cluster.as_deref().map(pick_s),
    };
    fit_sorted(&sorted, opts).map_err(|e| match e {
        // Report positions in the caller's order.
        CoxError::Interval(i) => CoxError::Interval(order[i - 1] + 1),
        CoxError::Weight(i, w) => CoxError::Weight(order[i - 1] + 1, w),
        other => other,
    })
}

/// As coxph: robust when asked, with a cluster, or with case weights that
/// are not whole numbers (they are then sampling weights, not counts).
fn needs_robust(data: &CoxData, robust: bool) -> bool {
    robust
        || data.cluster.is_some()
        || data
            .weights
            .as_ref()
            .is_some_and(|w| w.iter().any(|v| v.fract() != 0.0))
}

fn fit_sorted(data: &CoxData, opts: &CoxOptions) -> Result<CoxFit, CoxError> {
    let ties = opts.ties;
    let n = data.stop.len();
    if n == 0 {
        return Err(CoxError::Empty);
    }
    if !data.event.iter().any(|e| *e) {
        return Err(CoxError::NoEvents);
    }
    if let Some(e) = &data.entry
        && let Some(i) =
            (0..n).find(|&i| data.stop[i].partial_cmp(&e[i]) != Some(std::cmp::Ordering::Greater))
    {
        return Err(CoxError::Interval(i + 1));
    }
    if let Some(w) = &data.weights
        && let Some(i) = (0..n).find(|&i| w[i].is_nan() || w[i] <= 0.0)
    {
        return Err(CoxError::Weight(i + 1, w[i]));
    }
    let p = data.columns.len();
    // Centre the covariates; a constant or collinear column is named.
    let means: Vec<f64> = data
        .columns
        .par_iter()
        .map(|c| c.iter().sum::<f64>() / n as f64)
        .collect();
    // Centred, in bucket order.
    let times = EventTimes::new(data, &means, ties);
    let mut beta = DVector::zeros(p);
    let null = times.pass(&beta);
    // A constant or collinear column is named, from the weighted
    // cross-product of the rows at risk (the null pass's).
    if p > 0 {
        let xtx = &null.cross;
        // Values whose squares overflow are not collinear: say what they are.
        if let Some(j) = (0..p).find(|&j| !means[j].is_finite() || !xtx[(j, j)].is_finite()) {
            return Err(CoxError::NotFinite(data.names[j].clone()));
        }
        if let Some(j) =
            (0..p).find(|&j| xtx[(j, j)] <= 1e-12 * (1.0 + means[j].abs()).powi(2) * null.at_risk)
        {
            return Err(CoxError::Collinear(data.names[j].clone()));
        }
        if is_singular(xtx) {
            let j = if p == 1 {
                0
            } else {
                worst_column_no_intercept(xtx)
            };
            return Err(CoxError::Collinear(data.names[j].clone()));
        }
    }
    // Newton–Raphson as coxph.fit's C code (survival's coxfit6.c) runs it:
    // each iteration evaluates the likelihood at the proposed β; it has
    // converged when that is finite and |1 − ℓ_best/ℓ_new| ≤ 1e-9; a
    // proposal that is not finite or lowers ℓ is pulled back towards the
    // best β, by 1/2, then 2/3, … (each a new iteration); at most 20
    // iterations, after which the best β is kept. `iterations` counts the
    // evaluations (R's `fit$iter`, which says 21 when it ran out).
    let mut cur = null.clone();
    let mut iterations = 0;
    let mut converged = p == 0;
    let mut halving = 0.0;
    let mut proposed = beta.clone();
    if p > 0 {
        let Some(ch) = cur.info.clone().cholesky() else {
            return Err(CoxError::Collinear(
                data.names[worst_column_no_intercept(&cur.info)].clone(),
            ));
        };
        proposed = &beta + ch.solve(&cur.score);
    }
    while p > 0 && iterations < COX_MAX_ITER {
        iterations += 1;
        let np = times.pass(&proposed);
        let finite = np.loglik.is_finite()
            && np.score.iter().all(|v| v.is_finite())
            && np.info.iter().all(|v| v.is_finite());
        if finite && (1.0 - cur.loglik / np.loglik).abs() <= COX_EPS {
            beta = proposed.clone();
            cur = np;
            converged = true;
            break;
        }
        if !finite || np.loglik < cur.loglik {
            halving += 1.0;
            proposed = (&proposed + &beta * halving) / (halving + 1.0);
            continue;
        }
        halving = 0.0;
        beta = proposed.clone();
        cur = np;
        // The information can become singular as a coefficient runs off to
        // infinity: stop there (coxph's generalised Cholesky stops moving
        // that coefficient); the warnings below say why.
        let Some(ch) = cur.info.clone().cholesky() else {
            break;
        };
        proposed = &beta + ch.solve(&cur.score);
    }
    let info_inv = if p > 0 {
        match cur.info.clone().try_inverse() {
            Some(v) => v,
            // Singular only after moving (identified at β = 0): a coefficient
            // has run off until its information underflowed. coxph inverts
            // the identified part and reports the rest (its generalised
            // inverse); the warnings below say why.
            None if iterations > 0 => cur.info.clone().pseudo_inverse(1e-12).map_err(|_| {
                CoxError::Collinear(data.names[worst_column_no_intercept(&cur.info)].clone())
            })?,
            None => {
                return Err(CoxError::Collinear(
                    data.names[worst_column_no_intercept(&cur.info)].clone(),
                ));
            }
        }
    } else {
        DMatrix::zeros(0, 0)
    };
    let naive: Vec<f64> = (0..p).map(|j| info_inv[(j, j)].sqrt()).collect();
    let use_robust = needs_robust(data, opts.robust);
    // The sweeps over sorted rows (robust variance and diagnostics), only
    // when asked for: each stratum by decreasing stop time and by
    // decreasing entry.
    let prob = (use_robust || opts.diagnostics).then(|| Problem::new(data, &means, ties));
    let (se, var): (Vec<f64>, DMatrix<f64>) =
        if let Some(prob) = prob.as_ref().filter(|_| use_robust && p > 0) {
            let resid = prob.score_residuals(&beta);
            // dfbeta rows: w_i U_i I⁻¹, summed within clusters.
            let mut rows: Vec<DVector<f64>> = Vec::new();
            let mut cluster_row: HashMap<&str, usize> = HashMap::new();
            for (i, u) in resid.iter().enumerate() {
                let db = info_inv.transpose() * DVector::from_fn(p, |j, _| prob.w(i) * u[j]);
                match &data.cluster {
                    Some(c) => {
                        let next = rows.len();
                        let at = *cluster_row.entry(c[i].as_str()).or_insert(next);
                        if at == rows.len() {
                            rows.push(db);
                        } else {
                            rows[at] += db;
                        }
                    }
                    None => rows.push(db),
                }
            }
            let mut v = DMatrix::<f64>::zeros(p, p);
            for r in &rows {
                v += r * r.transpose();
            }
            ((0..p).map(|j| v[(j, j)].sqrt()).collect(), v)
        } else {
            (naive.clone(), info_inv.clone())
        };
    let concordance = match prob.as_ref().filter(|_| opts.diagnostics) {
        Some(prob) => {
            let lp: Vec<f64> = prob
                .x
                .iter()
                .map(|xi| xi.iter().zip(beta.iter()).map(|(a, b)| a * b).sum())
                .collect();
            concordance(prob, &lp)
        }
        None => f64::NAN,
    };
    // Wald's test with the variance reported (robust when robust, as R).
    let wald = if p > 0 {
        var.clone()
            .cholesky()
            .map(|c| beta.dot(&c.solve(&beta)))
            .unwrap_or(f64::NAN)
    } else {
        0.0
    };
    let score = if p > 0 {
        null.info
            .clone()
            .cholesky()
            .map(|c| null.score.dot(&c.solve(&null.score)))
            .unwrap_or(f64::NAN)
    } else {
        0.0
    };
    // coxph.fit's warnings. Converged: a coefficient runs to infinity when
    // one more Newton step, |U(β̂) I(β̂)⁻¹|, still exceeds both eps and
    // sqrt(eps)·|β̂| ("Loglik converged before variable j"). Not converged:
    // say so, and that a coefficient may be infinite when a centred linear
    // predictor exceeds 500 or the step is not finite.
    let step = &info_inv * &cur.score;
    let mut warnings: Vec<String> = Vec::new();
    let nonpositive = (0..n)
        .filter(|&i| data.entry.is_none() && data.stop[i] <= 0.0)
        .count();
    if nonpositive > 0 {
        warnings.push(format!(
            "{nonpositive} observation(s) have a time of 0 or less; kept, as coxph keeps \
             them (only the order of the times enters the partial likelihood)"
        ));
    }
    if p > 0 && converged {
        let infinite: Vec<usize> = (0..p)
            .filter(|&j| {
                !cur.score[j].is_finite()
                    || (step[j].abs() > COX_EPS && step[j].abs() > COX_EPS.sqrt() * beta[j].abs())
            })
            .collect();
        if !infinite.is_empty() {
            warnings.push(format!(
                "Loglik converged before variable {}; coefficient may be infinite \
                 (monotone likelihood: the covariate orders or separates the events)",
                infinite
                    .iter()
                    .map(|&j| format!("{} ('{}')", j + 1, data.names[j]))
                    .collect::<Vec<_>>()
                    .join(", ")
            ));
        }
    } else if p > 0 {
        warnings.push(format!(
            "did not converge in {COX_MAX_ITER} iterations (coxph's rule: relative change in \
             the log partial likelihood below {COX_EPS:e})"
        ));
        let max_lp = times_max_lp(data, &means, &beta);
        if max_lp > 500.0 || step.iter().any(|v| !v.is_finite()) {
            warnings
                .push("one or more coefficients may be infinite (monotone likelihood)".to_string());
        }
    }
    Ok(CoxFit {
        n,
        events: data.event.iter().filter(|e| **e).count(),
        ties,
        loglik: [null.loglik, cur.loglik],
        concordance,
        terms: (0..p)
            .map(|j| Coefficient::new(&data.names[j], beta[j], se[j]))
            .collect(),
        naive_std_error: use_robust.then_some(naive),
        robust: use_robust,
        zph: prob
            .as_ref()
            .filter(|_| p > 0 && opts.diagnostics)
            .map(|prob| prob.zph(&beta, &term_groups(&data.names))),
        tests: Tests {
            likelihood_ratio: Test::new(2.0 * (cur.loglik - null.loglik), p),
            wald: Test::new(wald, p),
            score: Test::new(score, p),
        },
        iterations,
        converged,
        warnings,
    })
}

/// coxph's `control$eps`: convergence when the relative change in the log
/// partial likelihood is at most this.
pub const COX_EPS: f64 = 1e-9;
/// coxph's `control$iter.max`.
pub const COX_MAX_ITER: usize = 20;

/// The largest centred linear predictor, max_i (x_i − x̄)·β (coxph.fit's `lp`).
fn times_max_lp(data: &CoxData, means: &[f64], beta: &DVector<f64>) -> f64 {
    (0..data.stop.len())
        .map(|i| {
            (0..data.columns.len())
                .map(|j| (data.columns[j][i] - means[j]) * beta[j])
                .sum::<f64>()
        })
        .fold(f64::NEG_INFINITY, f64::max)
}

/// Columns grouped into terms as R's `assign` does: the levels `x[a]`,
/// `x[b]` of a categorical covariate are one term `x`.
fn term_groups(names: &[String]) -> Vec<(String, Vec<usize>)> {
    let mut out: Vec<(String, Vec<usize>)> = Vec::new();
    for (j, n) in names.iter().enumerate() {
        let base = match n.find('[') {
            Some(i) if n.ends_with(']') => &n[..i],
            _ => n.as_str(),
        };
        match out.last_mut() {
            Some((b, cols)) if b == base => cols.push(j),
            _ => out.push((base.to_string(), vec![j])),
        }
    }
    out
}

/// [`worst_column`] for a cross-product without an intercept column.
fn worst_column_no_intercept(xtx: &DMatrix<f64>) -> usize {
    let p = xtx.nrows();
    // Pad with a dummy intercept so the shared search (which never drops column 0) applies.
    let padded = DMatrix::from_fn(p + 1, p + 1, |a, b| match (a, b) {
        (0, 0) => 1.0,
        (0, _) | (_, 0) => 0.0,
        _ => xtx[(a - 1, b - 1)],
    });
    worst_column(&padded).saturating_sub(1)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// One binary covariate, no ties: the score test is the log-rank test,
    /// and with Breslow and Efron alike the estimate solves U(β) = 0.
    /// The model-only fit never sorts the rows; with strata, late entry,
    /// case weights and ties it must give the full fit's numbers.
    #[test]
    fn the_model_alone_equals_the_full_fit_with_strata_entry_and_weights() {
        let mut unif = uniforms(12345);
        let n = 600;
        let mut d = CoxData {
            names: vec!["a".into(), "b".into()],
            columns: vec![Vec::new(), Vec::new()],
            entry: Some(Vec::new()),
            strata: Some(Vec::new()),
            weights: Some(Vec::new()),
            ..Default::default()
        };
        for _ in 0..n {
            let (a, b) = (unif() * 2.0 - 1.0, (unif() < 0.4) as u8 as f64);
            let entry = (unif() * 5.0).floor();
            let stop = entry + 1.0 + (unif() * 20.0 * (-0.5 * a - 0.3 * b).exp()).floor();
            d.columns[0].push(a);
            d.columns[1].push(b);
            d.entry.as_mut().unwrap().push(entry);
            d.stop.push(stop);
            d.event.push(unif() < 0.7);
            d.strata
                .as_mut()
                .unwrap()
                .push(if unif() < 0.5 { "x" } else { "y" }.into());
            d.weights
                .as_mut()
                .unwrap()
                .push(1.0 + (unif() * 3.0).floor());
        }
        for ties in [Ties::Efron, Ties::Breslow] {
            let full = fit(&d, ties, false).unwrap();
            let model = fit_with(
                &d,
                &CoxOptions {
                    ties,
                    robust: false,
                    diagnostics: false,
                },
            )
            .unwrap();
            // Rows summed in another order stop Newton at another point
            // within the convergence tolerance: β agrees to ~1e-9.
            let close = |x: f64, y: f64| (x - y).abs() <= 1e-10 * (1.0 + y.abs());
            let near = |x: f64, y: f64| (x - y).abs() <= 1e-8 * (1.0 + y.abs());
            for (m, f) in model.terms.iter().zip(&full.terms) {
                assert!(near(m.estimate, f.estimate), "{ties:?} {m:?} {f:?}");
                assert!(near(m.std_error, f.std_error), "{ties:?} {m:?} {f:?}");
            }
            assert!(close(model.loglik[0], full.loglik[0]));
            assert!(close(model.loglik[1], full.loglik[1]));
            assert!(close(
                model.tests.score.statistic,
                full.tests.score.statistic
            ));
            assert!(
                full.terms[0].estimate > 0.2,
                "the planted effect is found: {:?}",
                full.terms[0]
            );
            assert!(model.concordance.is_nan() && model.zph.is_none());
            assert!(full.concordance > 0.5 && full.zph.is_some());
        }
    }

    /// Uniform draws on [0, 1) from SplitMix64.
    fn uniforms(mut seed: u64) -> impl FnMut() -> f64 {
        move || {
            seed = seed.wrapping_add(0x9E37_79B9_7F4A_7C15);
            let mut z = seed;
            z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
            z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
            ((z ^ (z >> 31)) >> 11) as f64 / (1u64 << 53) as f64
        }
    }

    /// n rows of p covariates (every third binary) with two strata, late
    /// entry, whole-number weights and tied times.
    fn tied_data(n: usize, p: usize, seed: u64) -> CoxData {
        let mut unif = uniforms(seed);
        let mut d = CoxData {
            names: (0..p).map(|j| format!("x{j}")).collect(),
            columns: vec![Vec::new(); p],
            entry: Some(Vec::new()),
            strata: Some(Vec::new()),
            weights: Some(Vec::new()),
            ..Default::default()
        };
        for _ in 0..n {
            let mut lp = 0.0;
            for j in 0..p {
                let v = if j % 3 == 2 {
                    (unif() < 0.4) as u8 as f64
                } else {
                    unif() * 2.0 - 1.0
                };
                lp += 0.3 * v / (1.0 + j as f64);
                d.columns[j].push(v);
            }
            let entry = (unif() * 5.0).floor();
            d.entry.as_mut().unwrap().push(entry);
            d.stop
                .push(entry + 1.0 + (unif() * 20.0 * (-lp).exp()).floor());
            d.event.push(unif() < 0.7);
            let stratum = if unif() < 0.5 { "x" } else { "y" };
            d.strata.as_mut().unwrap().push(stratum.into());
            d.weights
                .as_mut()
                .unwrap()
                .push(1.0 + (unif() * 3.0).floor());
        }
        d
    }

    /// A pass over the rows by event time (one sweep, any thread count)
    /// gives the log-likelihood, score and information of the sorted sweep
    /// over risk sets, with strata, late entry, weights and ties, for 2
    /// covariates, 8 (the scatter's streaming stores) and 13 (no kernel of
    /// fixed size); on 1 and 3 threads to the bit.
    #[test]
    fn a_pass_by_event_time_equals_the_sweep_over_risk_sets() {
        let pool = |n| {
            rayon::ThreadPoolBuilder::new()
                .num_threads(n)
                .build()
                .unwrap()
        };
        for p in [2, 8, 13] {
            let d = tied_data(700, p, 99 + p as u64);
            let means: Vec<f64> = d
                .columns
                .iter()
                .map(|c| c.iter().sum::<f64>() / c.len() as f64)
                .collect();
            let beta = DVector::from_fn(p, |j, _| 0.4 * (j as f64 / p as f64 - 0.4));
            for ties in [Ties::Efron, Ties::Breslow] {
                let pass = EventTimes::new(&d, &means, ties).pass(&beta);
                let prob = Problem::new(&d, &means, ties);
                let (mut l, mut u, mut m) = (0.0, vec![0.0; p], vec![0.0; p * p]);
                prob.contributions(&beta, |_, lt, ut, mt| {
                    l += lt;
                    u.iter_mut().zip(ut).for_each(|(a, b)| *a += b);
                    m.iter_mut().zip(mt).for_each(|(a, b)| *a += b);
                });
                let close = |x: f64, y: f64| (x - y).abs() <= 1e-10 * (1.0 + y.abs());
                assert!(close(pass.loglik, l), "p {p} {ties:?}: {} {l}", pass.loglik);
                for a in 0..p {
                    assert!(close(pass.score[a], u[a]), "p {p} {ties:?} score {a}");
                    for b in 0..p {
                        let (x, y) = (pass.info[(a, b)], m[a * p + b]);
                        assert!(close(x, y), "p {p} {ties:?} info {a},{b}: {x} {y}");
                    }
                }
                let on = |threads| {
                    pool(threads).install(|| EventTimes::new(&d, &means, ties).pass(&beta))
                };
                let (one, three) = (on(1), on(3));
                assert_eq!(one.loglik.to_bits(), three.loglik.to_bits());
                assert_eq!(one.score, three.score);
                assert_eq!(one.info, three.info);
                assert_eq!(one.loglik.to_bits(), pass.loglik.to_bits());
            }
        }
    }

    /// The sweep's kernel gives the same bits compiled for AVX2 or not,
    /// with the covariate count fixed (8) or not (13), with and without
    /// weights.
    #[test]
    fn the_kernel_gives_the_same_bits_on_every_path() {
        for p in [8, 13] {
            let d = tied_data(300, p, 5);
            let x: Vec<f64> = (0..300)
                .flat_map(|i| (0..p).map(move |j| (i * p + j) as f64))
                .map(|k| (k * 0.618).fract() - 0.5)
                .collect();
            let beta: Vec<f64> = (0..p).map(|j| 0.1 * j as f64 - 0.3).collect();
            for w in [None, d.weights.as_deref()] {
                let stride = 1 + p + p * p;
                let (mut plain, mut each) = (vec![0.0; stride], vec![0.0; stride]);
                sum_run(&x, w, 3..290, &beta, &mut plain);
                sum_rows(&x, w, 3..290, &beta, &mut each);
                assert_eq!(plain, each, "p {p}");
                #[cfg(target_arch = "x86_64")]
                if std::is_x86_feature_detected!("avx2") {
                    let mut avx2 = vec![0.0; stride];
                    // SAFETY: the CPU has AVX2, checked just above.
                    unsafe { sum_run_avx2(&x, w, 3..290, &beta, &mut avx2) };
                    assert_eq!(plain, avx2, "p {p}");
                }
            }
        }
    }

    #[test]
    fn score_test_equals_log_rank_without_ties() {
        let stop = vec![1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0, 8.0];
        let event = vec![true, true, false, true, true, true, false, true];
        let g = vec![1.0, 0.0, 1.0, 1.0, 0.0, 1.0, 0.0, 0.0];
        let d = CoxData {
            stop: stop.clone(),
            event: event.clone(),
            columns: vec![g.clone()],
            names: vec!["g".into()],
            ..Default::default()
        };
        let f = fit(&d, Ties::Efron, false).unwrap();
        let gid: Vec<usize> = g.iter().map(|v| *v as usize).collect();
        let lr = crate::survival::log_rank(&stop, &event, &gid, 2);
        assert!(
            (f.tests.score.statistic - lr.chisq).abs() < 1e-10,
            "{} vs {}",
            f.tests.score.statistic,
            lr.chisq
        );
        assert!(f.converged);
        let b = fit(&d, Ties::Breslow, false).unwrap();
        assert!(
            (b.terms[0].estimate - f.terms[0].estimate).abs() < 1e-12,
            "no ties: Breslow = Efron"
        );
    }

    #[test]
    fn constant_and_collinear_covariates_are_named() {
        let d = CoxData {
            stop: vec![1.0, 2.0, 3.0, 4.0],
            event: vec![true; 4],
            columns: vec![vec![1.0, 2.0, 3.0, 5.0], vec![2.0; 4]],
            names: vec!["age".into(), "site".into()],
            ..Default::default()
        };
        assert_eq!(
            fit(&d, Ties::Efron, false).unwrap_err(),
            CoxError::Collinear("site".into())
        );
        let d = CoxData {
            columns: vec![vec![1.0, 2.0, 3.0, 5.0], vec![2.0, 4.0, 6.0, 10.0]],
            names: vec!["age".into(), "age2".into()],
            ..d
        };
        assert_eq!(
            fit(&d, Ties::Efron, false).unwrap_err(),
            CoxError::Collinear("age2".into())
        );
    }

    #[test]
    fn a_separating_covariate_is_warned_about_not_nan() {
        // Everyone with x = 1 dies before everyone with x = 0.
        let d = CoxData {
            stop: vec![1.0, 2.0, 3.0, 4.0, 5.0, 6.0],
            event: vec![true; 6],
            columns: vec![vec![1.0, 1.0, 1.0, 0.0, 0.0, 0.0]],
            names: vec!["x".into()],
            ..Default::default()
        };
        let f = fit(&d, Ties::Efron, false).unwrap();
        assert!(f.terms[0].estimate.is_finite());
        assert_eq!(f.warnings.len(), 1);
        assert!(f.warnings[0].contains("'x'"));
    }
}
