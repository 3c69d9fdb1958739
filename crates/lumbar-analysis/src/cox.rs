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
//! falls, to a relative change below 1e-12. Covariates are centred first, as
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
struct Pass {
    loglik: f64,
    score: DVector<f64>,
    info: DMatrix<f64>,
}

impl<'a> Problem<'a> {
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

/// The rows of a fit indexed by the event times they are at risk at, for
/// the Newton passes. No sort of the rows is needed, and a pass costs
/// O(n p²) flops in two sweeps over contiguous memory that split across
/// threads, whatever the ties.
///
/// Number the distinct event times of every stratum, stratum after
/// stratum; row i is at risk at those in `[lo_i, hi_i)` (entry_i < τ ≤
/// stop_i). Then, for the coefficients `c_k` of event time k,
/// `Σ_k c_k S2(τ_k) = Σ_i w_i r_i x_i x_iᵀ (C[hi_i] − C[lo_i])` with `C` the
/// prefix sums of `c`: the S2 terms of the information are one weighted
/// Gram matrix. `S0`, `S1` at each event time are suffix sums, within the
/// stratum, of each row's `w r` and `w r x` placed at `hi_i − 1` (and taken
/// off again at `lo_i − 1` for a late entry).
struct EventTimes {
    p: usize,
    /// Centred covariates, row-major n × p.
    x: Vec<f64>,
    weights: Option<Vec<f64>>,
    lo: Vec<u32>,
    hi: Vec<u32>,
    event: Vec<bool>,
    /// Event times in all: k = 0..m.
    m: usize,
    /// Whether event time k is the first (earliest) of its stratum.
    first_in_stratum: Vec<bool>,
    /// Deaths and their summed weight at each event time.
    deaths: Vec<f64>,
    death_weight: Vec<f64>,
    /// Σ over deaths of w x (the score's first term; ℓ's is βᵀ of it).
    death_wx: Vec<f64>,
    ties: Ties,
    /// Row chunks of the first sweep (each keeps m × (2 + 2p) sums).
    chunks: usize,
}

impl EventTimes {
    fn new(data: &CoxData, x: Vec<f64>, p: usize, ties: Ties) -> EventTimes {
        let n = data.stop.len();
        let stratum: Vec<u32> = match &data.strata {
            Some(s) => {
                let mut ids: HashMap<&str, u32> = HashMap::new();
                s.iter()
                    .map(|l| {
                        let next = ids.len() as u32;
                        *ids.entry(l.as_str()).or_insert(next)
                    })
                    .collect()
            }
            None => vec![0; n],
        };
        let strata = stratum.iter().max().map_or(0, |m| *m as usize + 1);
        // Distinct event times per stratum, ascending.
        let mut times: Vec<Vec<f64>> = vec![Vec::new(); strata];
        {
            let mut seen: Vec<std::collections::HashSet<u64>> = vec![Default::default(); strata];
            for i in 0..n {
                if data.event[i] && seen[stratum[i] as usize].insert(data.stop[i].to_bits()) {
                    times[stratum[i] as usize].push(data.stop[i]);
                }
            }
        }
        let mut offset = vec![0usize; strata + 1];
        for (s, t) in times.iter_mut().enumerate() {
            t.sort_by(f64::total_cmp);
            offset[s + 1] = offset[s] + t.len();
        }
        let m = offset[strata];
        let mut first_in_stratum = vec![false; m];
        for s in 0..strata {
            if offset[s] < offset[s + 1] {
                first_in_stratum[offset[s]] = true;
            }
        }
        // Each row's place among its stratum's event times. Times repeat
        // (days): search once per distinct (stratum, time), then look rows
        // up by hash; a binary search per row was most of the setup.
        let place = |values: &[f64]| -> Vec<u32> {
            let mut slot: HashMap<(u32, u64), u32, BuildFx> = HashMap::default();
            let mut distinct: Vec<(u32, f64)> = Vec::new();
            let ids: Vec<u32> = (0..n)
                .map(|i| {
                    let next = distinct.len() as u32;
                    *slot
                        .entry((stratum[i], values[i].to_bits()))
                        .or_insert_with(|| {
                            distinct.push((stratum[i], values[i]));
                            next
                        })
                })
                .collect();
            let at: Vec<u32> = distinct
                .iter()
                .map(|&(s, v)| {
                    let s = s as usize;
                    (offset[s] + times[s].partition_point(|&t| t <= v)) as u32
                })
                .collect();
            ids.into_iter().map(|id| at[id as usize]).collect()
        };
        let hi = place(&data.stop);
        let lo = match data.entry.as_deref() {
            Some(e) => place(e),
            None => (0..n).map(|i| offset[stratum[i] as usize] as u32).collect(),
        };
        let w = |i: usize| data.weights.as_ref().map_or(1.0, |w| w[i]);
        let (mut deaths, mut death_weight) = (vec![0.0; m], vec![0.0; m]);
        let mut death_wx = vec![0.0; p];
        for i in 0..n {
            if data.event[i] {
                let k = hi[i] as usize - 1;
                deaths[k] += 1.0;
                death_weight[k] += w(i);
                for a in 0..p {
                    death_wx[a] += w(i) * x[i * p + a];
                }
            }
        }
        // Enough chunks to share the rows between threads, few enough
        // that their per-event-time sums stay within about 64 MiB.
        let per_chunk = (m * (2 + 2 * p) * 8).max(1);
        let chunks = (n / 65_536).clamp(1, 8).min((64 << 20) / per_chunk).max(1);
        EventTimes {
            p,
            x,
            weights: data.weights.clone(),
            lo,
            hi,
            event: data.event.clone(),
            m,
            first_in_stratum,
            deaths,
            death_weight,
            death_wx,
            ties,
            chunks,
        }
    }

    fn pass(&self, beta: &DVector<f64>) -> Pass {
        let (p, m, n) = (self.p, self.m, self.event.len());
        let w = |i: usize| self.weights.as_ref().map_or(1.0, |w| w[i]);
        let beta: Vec<f64> = beta.iter().copied().collect();
        // Sweep 1: w r per row, and each row's w r, w r x placed at its last
        // event time (less at the one before its entry), deaths apart.
        let rows_per = n.div_ceil(self.chunks);
        let mut wr = vec![0.0; n];
        struct Sums {
            s0: Vec<f64>,
            s1: Vec<f64>,
            d0: Vec<f64>,
            d1: Vec<f64>,
        }
        let zeros = || Sums {
            s0: vec![0.0; m],
            s1: vec![0.0; m * p],
            d0: vec![0.0; m],
            d1: vec![0.0; m * p],
        };
        let parts: Vec<Sums> = wr
            .par_chunks_mut(rows_per)
            .enumerate()
            .map(|(c, out)| {
                let mut s = zeros();
                for (j, o) in out.iter_mut().enumerate() {
                    let i = c * rows_per + j;
                    let xi = &self.x[i * p..(i + 1) * p];
                    let eta: f64 = xi.iter().zip(&beta).map(|(a, b)| a * b).sum();
                    let v = w(i) * eta.exp();
                    *o = v;
                    let (lo, hi) = (self.lo[i] as usize, self.hi[i] as usize);
                    if hi == lo {
                        continue; // at risk at no event time
                    }
                    let put = |k: usize, v: f64, s0: &mut [f64], s1: &mut [f64]| {
                        s0[k] += v;
                        for (acc, xa) in s1[k * p..(k + 1) * p].iter_mut().zip(xi) {
                            *acc += v * xa;
                        }
                    };
                    put(hi - 1, v, &mut s.s0, &mut s.s1);
                    if lo > 0 && !self.first_in_stratum[lo] {
                        put(lo - 1, -v, &mut s.s0, &mut s.s1);
                    }
                    if self.event[i] {
                        put(hi - 1, v, &mut s.d0, &mut s.d1);
                    }
                }
                s
            })
            .collect();
        // Chunk sums added in chunk order.
        let mut t = zeros();
        for s in parts {
            for (a, b) in [
                (&mut t.s0, s.s0),
                (&mut t.s1, s.s1),
                (&mut t.d0, s.d0),
                (&mut t.d1, s.d1),
            ] {
                a.iter_mut().zip(b).for_each(|(a, b)| *a += b);
            }
        }
        // Suffix sums within each stratum: S0, S1 at each event time.
        for k in (0..m.saturating_sub(1)).rev() {
            if !self.first_in_stratum[k + 1] {
                t.s0[k] += t.s0[k + 1];
                let (head, tail) = t.s1.split_at_mut((k + 1) * p);
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
        for k in 0..m {
            let (s1, d1) = (&t.s1[k * p..(k + 1) * p], &t.d1[k * p..(k + 1) * p]);
            let c = TieTerms::new(
                self.ties,
                t.s0[k],
                t.d0[k],
                self.deaths[k],
                self.death_weight[k],
            );
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
        // Sweep 2: the S2 and D2 terms, one weighted Gram matrix (upper
        // triangle), in fixed chunks summed in order.
        let grams: Vec<Vec<f64>> = wr
            .par_chunks(32_768)
            .enumerate()
            .map(|(c, chunk)| {
                let mut g = vec![0.0; p * p];
                for (j, &v) in chunk.iter().enumerate() {
                    let i = c * 32_768 + j;
                    let (lo, hi) = (self.lo[i] as usize, self.hi[i] as usize);
                    if hi == lo {
                        continue;
                    }
                    let mut c = cum[hi] - cum[lo];
                    if self.event[i] {
                        c -= c11s[hi - 1];
                    }
                    let v = v * c;
                    let xi = &self.x[i * p..(i + 1) * p];
                    // The full square: contiguous rows that vectorise beat
                    // the triangle's half the flops.
                    for (ga, xa) in g.chunks_exact_mut(p).zip(xi) {
                        let va = v * xa;
                        for (gab, xb) in ga.iter_mut().zip(xi) {
                            *gab += va * xb;
                        }
                    }
                }
                g
            })
            .collect();
        for g in grams {
            for a in 0..p {
                for b in 0..p {
                    info[(a, b)] += g[a * p + b];
                }
            }
        }
        Pass {
            loglik,
            score,
            info,
        }
    }
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
    c02: f64,
    c12: f64,
    c22: f64,
}

impl TieTerms {
    /// `deaths` tied deaths of summed weight `wsum`, with the risk set's S0
    /// and the deaths' D0.
    fn new(ties: Ties, s0: f64, d0: f64, deaths: f64, wsum: f64) -> TieTerms {
        let mut t = TieTerms {
            log_den: 0.0,
            c01: 0.0,
            c11: 0.0,
            c02: 0.0,
            c12: 0.0,
            c22: 0.0,
        };
        let mut add = |f: f64, wt: f64| {
            let den = s0 - f * d0;
            t.log_den += wt * den.ln();
            t.c01 += wt / den;
            t.c11 += wt * f / den;
            t.c02 += wt / (den * den);
            t.c12 += wt * f / (den * den);
            t.c22 += wt * f * f / (den * den);
        };
        match ties {
            Ties::Breslow => add(0.0, wsum),
            Ties::Efron => {
                for j in 0..deaths as usize {
                    add(j as f64 / deaths, wsum / deaths);
                }
            }
        }
        t
    }

    /// Entry (a, b) of Σ wt a_j a_jᵀ, from S1 and D1.
    fn outer(&self, s1: &[f64], d1: &[f64], a: usize, b: usize) -> f64 {
        self.c02 * s1[a] * s1[b] - self.c12 * (s1[a] * d1[b] + d1[a] * s1[b])
            + self.c22 * d1[a] * d1[b]
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
        .iter()
        .map(|c| c.iter().sum::<f64>() / n as f64)
        .collect();
    // Row-major: a row's covariates are read together by every sweep.
    let mut x = vec![0.0; n * p];
    if p > 0 {
        // Centre and take XᵀX in one pass over the rows (not p² passes), in
        // fixed chunks summed in order.
        const ROWS: usize = 32_768;
        let parts: Vec<Vec<f64>> = x
            .par_chunks_mut(ROWS * p)
            .enumerate()
            .map(|(c, rows)| {
                let mut g = vec![0.0; p * p];
                for (r, xi) in rows.chunks_exact_mut(p).enumerate() {
                    let i = c * ROWS + r;
                    for (j, v) in xi.iter_mut().enumerate() {
                        *v = data.columns[j][i] - means[j];
                    }
                    for (ga, xa) in g.chunks_exact_mut(p).zip(xi.iter()) {
                        for (gab, xb) in ga.iter_mut().zip(xi.iter()) {
                            *gab += xa * xb;
                        }
                    }
                }
                g
            })
            .collect();
        let mut xtx = DMatrix::<f64>::zeros(p, p);
        for g in parts {
            for a in 0..p {
                for b in 0..p {
                    xtx[(a, b)] += g[a * p + b];
                }
            }
        }
        if let Some(j) =
            (0..p).find(|&j| xtx[(j, j)] <= 1e-12 * (1.0 + means[j].abs()).powi(2) * n as f64)
        {
            return Err(CoxError::Collinear(data.names[j].clone()));
        }
        if is_singular(&xtx) {
            let j = if p == 1 {
                0
            } else {
                worst_column_no_intercept(&xtx)
            };
            return Err(CoxError::Collinear(data.names[j].clone()));
        }
    }
    let times = EventTimes::new(data, x, p, ties);

    let mut beta = DVector::zeros(p);
    let null = times.pass(&beta);
    let mut cur = Pass {
        loglik: null.loglik,
        score: null.score.clone(),
        info: null.info.clone(),
    };
    let mut iterations = 0;
    let mut converged = p == 0;
    while iterations < 50 && p > 0 {
        iterations += 1;
        let Some(ch) = cur.info.clone().cholesky() else {
            return Err(CoxError::Collinear(
                data.names[worst_column_no_intercept(&cur.info)].clone(),
            ));
        };
        let step = ch.solve(&cur.score);
        let mut next = &beta + &step;
        let mut np = times.pass(&next);
        let mut halvings = 0;
        while (np.loglik.is_nan() || np.loglik < cur.loglik) && halvings < 40 {
            next = (&next + &beta) * 0.5;
            np = times.pass(&next);
            halvings += 1;
        }
        let change = (np.loglik - cur.loglik).abs() / (np.loglik.abs() + 1e-10);
        beta = next;
        cur = np;
        if change < 1e-12 && halvings == 0 {
            converged = true;
            break;
        }
    }
    let info_inv = if p > 0 {
        cur.info.clone().try_inverse().ok_or_else(|| {
            CoxError::Collinear(data.names[worst_column_no_intercept(&cur.info)].clone())
        })?
    } else {
        DMatrix::zeros(0, 0)
    };
    let naive: Vec<f64> = (0..p).map(|j| info_inv[(j, j)].sqrt()).collect();
    let use_robust = needs_robust(data, opts.robust);
    // The sweeps over sorted rows (robust variance and diagnostics), only
    // when asked for: each stratum by decreasing stop time and by
    // decreasing entry.
    let prob = (use_robust || opts.diagnostics).then(|| {
        let mut groups: Vec<Vec<usize>> = Vec::new();
        match &data.strata {
            Some(s) => {
                let mut idx: HashMap<&str, usize> = HashMap::new();
                for (i, label) in s.iter().enumerate() {
                    let g = *idx.entry(label.as_str()).or_insert_with(|| {
                        groups.push(Vec::new());
                        groups.len() - 1
                    });
                    groups[g].push(i);
                }
            }
            None => groups.push((0..n).collect()),
        }
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
            x: if p > 0 {
                times.x.chunks_exact(p).map(<[f64]>::to_vec).collect()
            } else {
                vec![Vec::new(); n]
            },
            p,
            strata,
            ties,
        }
    });
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
    // A coefficient running to infinity (R's coxph.fit check): the log-
    // likelihood has converged but a Newton step would still move the
    // coefficient by more than sqrt(ε)(1 + |β|).
    let step = &info_inv * &cur.score;
    let warnings = (0..p)
        .filter(|&j| step[j].abs() > 3.16e-5 * (1.0 + beta[j].abs()))
        .map(|j| {
            format!(
                "the coefficient of '{}' may be infinite (monotone likelihood)",
                data.names[j]
            )
        })
        .collect();
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
        let mut seed = 12345u64;
        let mut unif = || {
            // SplitMix64.
            seed = seed.wrapping_add(0x9E37_79B9_7F4A_7C15);
            let mut z = seed;
            z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
            z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
            ((z ^ (z >> 31)) >> 11) as f64 / (1u64 << 53) as f64
        };
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
