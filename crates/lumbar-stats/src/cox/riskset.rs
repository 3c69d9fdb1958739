//! The tests' reference sweep: each stratum's risk sets by decreasing
//! time, as survival's agfit/coxfit C code walks them, with the
//! per-event-time contributions and the score residuals that the passes,
//! cox.zph's sums and the robust variance on the passes' layout are
//! tested against.

use std::collections::HashMap;

use nalgebra::DVector;

use super::TieTerms;
use super::{CoxData, Ties, stratum_ids};

/// One stratum's observations in order of decreasing stop time, with the
/// event times and the observations in order of decreasing entry.
pub(super) struct Stratum {
    pub(super) by_stop: Vec<usize>,
    pub(super) by_entry: Vec<usize>,
}

pub(super) struct Problem<'a> {
    pub(super) d: &'a CoxData,
    /// Centred, by observation: row k at `k p..(k + 1) p` (one buffer,
    /// not a vector a row: a million allocations were a tenth of the fit).
    pub(super) x: Vec<f64>,
    pub(super) p: usize,
    pub(super) strata: Vec<Stratum>,
    pub(super) ties: Ties,
}

impl<'a> Problem<'a> {
    /// The rows sorted for the sweeps: each stratum by decreasing stop time
    /// and by decreasing entry, the covariates centred on `means` as for
    /// the passes, in the data's order.
    pub(super) fn new(data: &'a CoxData, means: &[f64], ties: Ties) -> Problem<'a> {
        let (n, p) = (data.stop.len(), data.columns.len());
        let mut x = vec![0.0; n * p];
        for (j, c) in data.columns.iter().enumerate() {
            for (i, v) in c.iter().enumerate() {
                x[i * p + j] = v - means[j];
            }
        }
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
            x,
            p,
            strata,
            ties,
        }
    }

    /// The centred covariates of observation `k`.
    pub(super) fn xi(&self, k: usize) -> &[f64] {
        &self.x[k * self.p..(k + 1) * self.p]
    }

    pub(super) fn w(&self, i: usize) -> f64 {
        self.d.weights.as_ref().map_or(1.0, |w| w[i])
    }
    /// `exp(x_i β)` of every observation (centred covariates).
    pub(super) fn risk_scores(&self, beta: &DVector<f64>) -> Vec<f64> {
        (0..self.d.stop.len())
            .map(|k| {
                let xi = self.xi(k);
                xi.iter()
                    .zip(beta.iter())
                    .map(|(a, b)| a * b)
                    .sum::<f64>()
                    .exp()
            })
            .collect()
    }

    pub(super) fn entry(&self, i: usize) -> f64 {
        self.d.entry.as_ref().map_or(f64::NEG_INFINITY, |e| e[i])
    }

    /// Calls `each` for every event time of every stratum with the risk-set
    /// sums and the deaths there; observations are added as the sweep goes
    /// back in time and removed once their entry is at or after the time.
    /// Without `second`, S2 and D2 are not summed (zero): the score
    /// residuals need only the first moments, and S2 is p² of the p² + p
    /// multiply-adds a row.
    pub(super) fn sweep(
        &self,
        beta: &DVector<f64>,
        second: bool,
        mut each: impl FnMut(&RiskSet, &[usize]),
    ) {
        let p = self.p;
        let r = self.risk_scores(beta);
        for s in &self.strata {
            let mut rs = RiskSet::new(p);
            rs.second = second;
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
                    rs.add(self.xi(k), self.w(k) * r[k], 1.0);
                    add += 1;
                }
                // Anyone whose entry is at or after t is not at risk at t.
                while rem < s.by_entry.len() && self.entry(s.by_entry[rem]) >= t {
                    let k = s.by_entry[rem];
                    if self.d.stop[k] >= t {
                        // Only remove what was added.
                        rs.add(self.xi(k), self.w(k) * r[k], -1.0);
                    }
                    rem += 1;
                }
                if !deaths.is_empty() {
                    rs.deaths.clear();
                    rs.death_sums(|k| self.xi(k), &deaths, |k| self.w(k) * r[k]);
                    each(&rs, &deaths);
                }
                i = j;
            }
        }
    }

    /// Calls `each(t, ℓ_t, u_t, M_t)` with every event time's contribution
    /// to the log-likelihood, the score and the information (the reference
    /// the passes and cox.zph's sums are tested against).
    pub(super) fn contributions(
        &self,
        beta: &DVector<f64>,
        mut each: impl FnMut(f64, f64, &[f64], &[f64]),
    ) {
        let p = self.p;
        let ties = self.ties;
        let mut u = vec![0.0; p];
        let mut m = vec![0.0; p * p];
        self.sweep(beta, true, |rs, deaths| {
            u.iter_mut().for_each(|v| *v = 0.0);
            m.iter_mut().for_each(|v| *v = 0.0);
            let mut l = 0.0;
            let d = deaths.len() as f64;
            let wsum: f64 = deaths.iter().map(|&k| self.w(k)).sum();
            for &k in deaths {
                let w = self.w(k);
                let xb: f64 = self.xi(k).iter().zip(beta.iter()).map(|(a, b)| a * b).sum();
                l += w * xb;
                for a in 0..p {
                    u[a] += w * self.xi(k)[a];
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

    /// Per-observation score residuals (unweighted), n × p row-major:
    /// observation i's at `i p..(i + 1) p`.
    ///
    /// `U_i = δ_i (x_i − ā(t_i)) − r_i Σ_τ c_iτ h_τ (x_i − a_τ)` over the
    /// event times τ in (entry_i, stop_i] of i's stratum (Therneau &
    /// Grambsch 2000, §4.6; survival's `coxscore2`/`agscore3`): each event
    /// time contributes partial terms k, one for Breslow and d for Efron's
    /// d tied deaths, with `den_k = S0 − (k/d) D0`, mean `a_k = (S1 −
    /// (k/d) D1)/den_k`, hazard `h_k = (w̄ or w̄/d)/den_k`, and weight
    /// `c = 1 − k/d` on the dying (1 on the rest); ā is the mean of the a_k.
    /// Each event time's sums over k are taken once and each observation's
    /// sum over its times is a difference of cumulative sums, so the cost
    /// is O((n + deaths) p): summing the k for each death was O(d² p) at a
    /// time of d tied deaths (108 s at a million rows with ~2,300 deaths a
    /// day).
    pub(super) fn score_residuals(&self, beta: &DVector<f64>) -> Vec<f64> {
        let p = self.p;
        let n = self.d.stop.len();
        let r = self.risk_scores(beta);
        let mut resid = vec![0.0; n * p];
        let ties = self.ties;
        /// One event time's partial terms, summed over k.
        struct EventTerms {
            t: f64,
            stratum: usize,
            deaths: Vec<usize>,
            /// The mean of the a_k, on which a death's x is centred.
            abar: Vec<f64>,
            /// Σ h_k and Σ h_k a_k: the terms of everyone at risk.
            h: f64,
            g: Vec<f64>,
            /// Σ h_k (1 − c) and Σ h_k (1 − c) a_k: what a death at this
            /// time does not count (it is at risk with weight c).
            h_own: f64,
            g_own: Vec<f64>,
        }
        let mut events: Vec<EventTerms> = Vec::new();
        let mut stratum_of = vec![0usize; n];
        for (si, s) in self.strata.iter().enumerate() {
            for &k in &s.by_stop {
                stratum_of[k] = si;
            }
        }
        let mut a = vec![0.0; p];
        self.sweep(beta, false, |rs, deaths| {
            let d = deaths.len() as f64;
            let wsum: f64 = deaths.iter().map(|&k| self.w(k)).sum();
            let parts = match ties {
                Ties::Breslow => 1,
                Ties::Efron => deaths.len(),
            };
            let mut e = EventTerms {
                t: self.d.stop[deaths[0]],
                stratum: stratum_of[deaths[0]],
                deaths: deaths.to_vec(),
                abar: vec![0.0; p],
                h: 0.0,
                g: vec![0.0; p],
                h_own: 0.0,
                g_own: vec![0.0; p],
            };
            for k in 0..parts {
                // f = k/d = 1 − c: the share of the dying already removed.
                let f = match ties {
                    Ties::Breslow => 0.0,
                    Ties::Efron => k as f64 / d,
                };
                let den = rs.s0 - f * rs.d0;
                let hk = match ties {
                    Ties::Breslow => wsum / den,
                    Ties::Efron => wsum / d / den,
                };
                for (aj, (s1, d1)) in a.iter_mut().zip(rs.s1.iter().zip(&rs.d1)) {
                    *aj = (s1 - f * d1) / den;
                }
                e.h += hk;
                e.h_own += hk * f;
                for j in 0..p {
                    e.abar[j] += a[j];
                    e.g[j] += hk * a[j];
                    e.g_own[j] += hk * f * a[j];
                }
            }
            e.abar.iter_mut().for_each(|v| *v /= parts as f64);
            events.push(e);
        });
        // Deaths: x_i − ā.
        for e in &events {
            for &k in &e.deaths {
                for j in 0..p {
                    resid[k * p + j] += self.xi(k)[j] - e.abar[j];
                }
            }
        }
        // Risk-set terms: cumulative sums over event times, per stratum.
        let mut death_at = vec![usize::MAX; n];
        let mut per_stratum: HashMap<usize, Vec<&EventTerms>> = HashMap::new();
        for e in &events {
            per_stratum.entry(e.stratum).or_default().push(e);
        }
        let mut g = vec![0.0; p];
        for (si, mut evs) in per_stratum {
            evs.sort_by(|a, b| a.t.total_cmp(&b.t));
            // H(τ) = Σ h, G(τ) = Σ g over the event times up to τ, G flat
            // ((m + 1) × p).
            let m = evs.len();
            let mut hc = vec![0.0; m + 1];
            let mut gc = vec![0.0; (m + 1) * p];
            for (idx, e) in evs.iter().enumerate() {
                hc[idx + 1] = hc[idx] + e.h;
                for j in 0..p {
                    gc[(idx + 1) * p + j] = gc[idx * p + j] + e.g[j];
                }
            }
            let times: Vec<f64> = evs.iter().map(|e| e.t).collect();
            // Each death's event time (an index into `evs`); observations
            // are in one stratum each, so one array serves all strata.
            for (idx, e) in evs.iter().enumerate() {
                for &k in &e.deaths {
                    death_at[k] = idx;
                }
            }
            for &i in &self.strata[si].by_stop {
                // Event times τ with entry_i < τ ≤ stop_i.
                let hi = times.partition_point(|&t| t <= self.d.stop[i]);
                let lo = times.partition_point(|&t| t <= self.entry(i));
                if hi <= lo {
                    continue;
                }
                let mut h = hc[hi] - hc[lo];
                for (j, gj) in g.iter_mut().enumerate() {
                    *gj = gc[hi * p + j] - gc[lo * p + j];
                }
                if death_at[i] != usize::MAX {
                    // At its own death time the observation counts with c.
                    let own = evs[death_at[i]];
                    h -= own.h_own;
                    for (gj, o) in g.iter_mut().zip(&own.g_own) {
                        *gj -= o;
                    }
                }
                for j in 0..p {
                    resid[i * p + j] -= r[i] * (self.xi(i)[j] * h - g[j]);
                }
            }
        }
        resid
    }
}

/// Weighted sums over a risk set and over the deaths at one time.
pub(super) struct RiskSet {
    pub(super) p: usize,
    /// Whether S2 and D2 are summed (see [`Problem::sweep`]).
    pub(super) second: bool,
    pub(super) s0: f64,
    pub(super) s1: Vec<f64>,
    pub(super) s2: Vec<f64>,
    pub(super) d0: f64,
    pub(super) d1: Vec<f64>,
    pub(super) d2: Vec<f64>,
    pub(super) deaths: Vec<usize>,
}

impl RiskSet {
    pub(super) fn new(p: usize) -> RiskSet {
        RiskSet {
            p,
            second: true,
            s0: 0.0,
            s1: vec![0.0; p],
            s2: vec![0.0; p * p],
            d0: 0.0,
            d1: vec![0.0; p],
            d2: vec![0.0; p * p],
            deaths: Vec::new(),
        }
    }

    pub(super) fn add(&mut self, x: &[f64], wr: f64, sign: f64) {
        let v = sign * wr;
        self.s0 += v;
        if !self.second {
            for (s1a, &xa) in self.s1.iter_mut().zip(x) {
                *s1a += v * xa;
            }
            return;
        }
        // Upper triangle only; `symmetrize` fills the rest when it is read.
        for a in 0..self.p {
            self.s1[a] += v * x[a];
            let va = v * x[a];
            for b in a..self.p {
                self.s2[a * self.p + b] += va * x[b];
            }
        }
    }

    pub(super) fn death_sums<'x>(
        &mut self,
        x: impl Fn(usize) -> &'x [f64],
        deaths: &[usize],
        wr: impl Fn(usize) -> f64,
    ) {
        self.d0 = 0.0;
        self.d1.iter_mut().for_each(|v| *v = 0.0);
        self.d2.iter_mut().for_each(|v| *v = 0.0);
        for &k in deaths {
            let v = wr(k);
            self.d0 += v;
            let xk = x(k);
            if !self.second {
                for (d1a, &xa) in self.d1.iter_mut().zip(xk) {
                    *d1a += v * xa;
                }
                continue;
            }
            for a in 0..self.p {
                self.d1[a] += v * xk[a];
                let va = v * xk[a];
                for b in a..self.p {
                    self.d2[a * self.p + b] += va * xk[b];
                }
            }
        }
        self.symmetrize();
    }

    /// Copies the upper triangles of S2 and D2 to their lower ones.
    pub(super) fn symmetrize(&mut self) {
        let p = self.p;
        for a in 0..p {
            for b in 0..a {
                self.s2[a * p + b] = self.s2[b * p + a];
                self.d2[a * p + b] = self.d2[b * p + a];
            }
        }
    }
}
