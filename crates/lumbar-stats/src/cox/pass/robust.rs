//! The robust (sandwich) variance of a Cox fit, on the layout of the
//! Newton passes (Lin & Wei 1989; R's `coxph(robust = TRUE)`, `cluster`,
//! and coxph's default when case weights are not whole numbers).
//!
//! Contract. Inputs: the fit's [`EventTimes`] (centred rows in bucket
//! order), β̂, the inverse information `I⁻¹` at β̂, and cluster labels by
//! row in the data's order, or none. Output: `V = I⁻¹ᵀ (Σ_c s_c s_cᵀ) I⁻¹`
//! with `s_c = Σ_{i ∈ c} w_i U_i`, each row its own cluster when there are
//! no labels: R's `crossprod(rowsum(dfbeta, cluster))` with `dfbeta = w U
//! I⁻¹`, the same matrix summed in another order. Preconditions: at least
//! one covariate; the layout built from the data the labels belong to.
//!
//! Score residuals (Therneau & Grambsch 2000, §4.6; survival's
//! `coxscore2.c` and `agscore3.c`):
//! `U_i = δ_i (x_i − ā(t_i)) − r_i Σ_τ c_iτ h_τ (x_i − a_τ)` over the
//! event times τ in `(entry_i, stop_i]` of i's stratum. Each event time
//! has partial terms k, one for Breslow and d for Efron's d tied deaths,
//! with `den_k = S0 − (k/d) D0`, mean `a_k = (S1 − (k/d) D1)/den_k`,
//! hazard `h_k = (w̄ or w̄/d)/den_k`, weight `c = 1 − k/d` on the dying (1
//! on the rest); ā is the mean of the a_k.
//!
//! On the layout, row i is at risk at the event times `[lo_i, hi_i)` and
//! sits in bucket `hi_i − 1`. With `H_k`, `G_k` the sums of `Σ_k h` and
//! `Σ_k h a` over the event times of its stratum up to k, the risk-set
//! term is `r_i (x_i (H_{hi−1} − H_{lo−1}) − (G_{hi−1} − G_{lo−1}))`: the
//! bucket's part for every row (from its unit, `H_{first−1} = 0`), the
//! late part for the rows that enter late (from their late unit), as the
//! passes add the buckets' sums and take away the late entries'. A death
//! counts at its own time with `c`, so its bucket part loses `Σ_k h (k/d)`
//! and `Σ_k h (k/d) a_k`.
//!
//! Cost: one more pass at β̂ (S0, S1, D0, D1 per event time), O(deaths ·
//! p) for the partial terms, O(n p) for the residuals and O(n p²) for the
//! meat. The pass, the partial terms, the bucket rows' residuals and the
//! meat without clusters run on every thread, in fixed chunks summed in
//! order; the cumulative sums, the late entries' parts and the cluster
//! sums in one thread: the same bits at any thread count. (The
//! residuals summed each death's partial terms once per death before:
//! O(d² p) at a time of d tied deaths, 108 s at a million rows.)

use nalgebra::{DMatrix, DVector};
use rayon::prelude::*;

use super::super::label_ids;
use super::{EventTimes, Ties, huge_vec};
use crate::numeric::exp;

/// Rows a chunk of the meat's sum: fixed, so the sum's order is.
const MEAT_ROWS: usize = 8_192;

impl EventTimes {
    /// The robust variance at β̂ (see the module's contract).
    pub(in crate::cox) fn robust_variance(
        &self,
        beta: &DVector<f64>,
        info_inv: &DMatrix<f64>,
        cluster: Option<&[String]>,
    ) -> DMatrix<f64> {
        let p = self.p;
        let resid = self.score_residuals(beta);
        let w = |r: usize| self.weights.as_ref().map_or(1.0, |w| w[r]);
        let add_outer = |meat: &mut [f64], s: &[f64], scale: f64| {
            for (row, &sa) in meat.chunks_exact_mut(p).zip(s) {
                let sa = scale * sa;
                for (v, &sb) in row.iter_mut().zip(s) {
                    *v += sa * sb;
                }
            }
        };
        let mut meat = vec![0.0; p * p];
        match cluster {
            None => {
                let parts: Vec<Vec<f64>> = resid
                    .par_chunks(MEAT_ROWS * p)
                    .enumerate()
                    .map(|(c, chunk)| {
                        let mut part = vec![0.0; p * p];
                        for (r, u) in chunk.chunks_exact(p).enumerate() {
                            let wr = w(c * MEAT_ROWS + r);
                            add_outer(&mut part, u, wr * wr);
                        }
                        part
                    })
                    .collect();
                for part in parts {
                    meat.iter_mut().zip(part).for_each(|(a, b)| *a += b);
                }
            }
            Some(labels) => {
                // Clusters numbered as they first appear in the data; a
                // row at risk at no event time has no residual.
                let (ids, count) = label_ids(labels);
                let mut sums = vec![0.0; count * p];
                for (&c, &r) in ids.iter().zip(&self.place) {
                    if r == u32::MAX {
                        continue;
                    }
                    let (c, r) = (c as usize, r as usize);
                    let wr = w(r);
                    for (s, u) in sums[c * p..(c + 1) * p]
                        .iter_mut()
                        .zip(&resid[r * p..(r + 1) * p])
                    {
                        *s += wr * u;
                    }
                }
                for s in sums.chunks_exact(p) {
                    add_outer(&mut meat, s, 1.0);
                }
            }
        }
        let meat = DMatrix::from_row_slice(p, p, &meat);
        info_inv.transpose() * meat * info_inv
    }

    /// The score residuals (unweighted) of the rows in the layout's order,
    /// `kept × p` row-major; [`EventTimes::place`] says where a row of the
    /// data is.
    pub(in crate::cox) fn score_residuals(&self, beta: &DVector<f64>) -> Vec<f64> {
        let p = self.p;
        let beta: Vec<f64> = beta.iter().copied().collect();
        let terms = self.cumulative_terms(&beta);
        let x = self.rows();
        let mut resid = huge_vec(x.len(), 0.0);
        // The units are the rows' runs in order: each its slice of the
        // residuals, filled on any thread.
        let mut runs = Vec::with_capacity(self.units.len());
        let mut rest = resid.as_mut_slice();
        for u in &self.units {
            let (run, tail) = rest.split_at_mut((u.end - u.start) as usize * p);
            runs.push((u, run));
            rest = tail;
        }
        let eta = |xi: &[f64]| xi.iter().zip(&beta).map(|(a, b)| a * b).sum::<f64>();
        runs.into_par_iter().for_each(|(u, run)| {
            let k = u.k as usize;
            let t = terms.at(k);
            // A death's own time counts with c: 1 to take its part off.
            let own = if u.death { 1.0 } else { 0.0 };
            let h = t.h - own * t.h_own;
            for (r, out) in (u.start as usize..u.end as usize).zip(run.chunks_exact_mut(p)) {
                let xi = &x[r * p..(r + 1) * p];
                let risk = exp(eta(xi));
                for j in 0..p {
                    let g = t.g[j] - own * t.g_own[j];
                    let mut v = -risk * (xi[j] * h - g);
                    if u.death {
                        v += xi[j] - t.abar[j];
                    }
                    out[j] = v;
                }
            }
        });
        // A late entry is not at risk up to the event time before its
        // entry: it gives back that part.
        for u in &self.late_units {
            let t = terms.at(u.k as usize);
            for &r in &self.late[u.start as usize..u.end as usize] {
                let r = r as usize;
                let xi = &x[r * p..(r + 1) * p];
                let risk = exp(eta(xi));
                for j in 0..p {
                    resid[r * p + j] += risk * (xi[j] * t.h - t.g[j]);
                }
            }
        }
        resid
    }

    /// Each event time's partial terms summed over k, with `h` and `g`
    /// summed over the event times of its stratum up to it.
    fn cumulative_terms(&self, beta: &[f64]) -> EventTerms {
        let (p, m) = (self.p, self.m);
        let sw = self.sweep(beta);
        let stride = 3 * p + 2;
        let mut values = vec![0.0; m * stride];
        values
            .par_chunks_mut(stride)
            .enumerate()
            .for_each(|(k, out)| {
                let (s0, d0) = (sw.s0[k], sw.d0[k]);
                let (s1, d1) = (&sw.s1[k * p..(k + 1) * p], &sw.d1[k * p..(k + 1) * p]);
                let (d, wsum) = (self.deaths[k], self.death_weight[k]);
                let parts = match self.ties {
                    Ties::Breslow => 1,
                    Ties::Efron => d as usize,
                };
                let (head, g_own) = out.split_at_mut(2 + 2 * p);
                let (hs, rest) = head.split_at_mut(2);
                let (abar, g) = rest.split_at_mut(p);
                for part in 0..parts {
                    // f = k/d = 1 − c: the share of the dying already removed.
                    let f = match self.ties {
                        Ties::Breslow => 0.0,
                        Ties::Efron => part as f64 / d,
                    };
                    let den = s0 - f * d0;
                    let hk = match self.ties {
                        Ties::Breslow => wsum / den,
                        Ties::Efron => wsum / d / den,
                    };
                    hs[0] += hk;
                    hs[1] += hk * f;
                    for j in 0..p {
                        let a = (s1[j] - f * d1[j]) / den;
                        abar[j] += a;
                        g[j] += hk * a;
                        g_own[j] += hk * f * a;
                    }
                }
                abar.iter_mut().for_each(|v| *v /= parts as f64);
            });
        // H and G: running sums within each stratum.
        for k in 1..m {
            if self.first[k] as usize != k {
                let (before, here) = values.split_at_mut(k * stride);
                let prev = &before[(k - 1) * stride..];
                here[0] += prev[0];
                for j in 0..p {
                    here[2 + p + j] += prev[2 + p + j];
                }
            }
        }
        EventTerms { p, stride, values }
    }
}

/// Per event time, `stride = 3p + 2` values: `[H, h_own, ā.., G..,
/// g_own..]`, H and G summed over the stratum's event times up to it.
struct EventTerms {
    p: usize,
    stride: usize,
    values: Vec<f64>,
}

/// One event time's [`EventTerms`].
struct Terms<'a> {
    h: f64,
    h_own: f64,
    abar: &'a [f64],
    g: &'a [f64],
    g_own: &'a [f64],
}

impl EventTerms {
    fn at(&self, k: usize) -> Terms<'_> {
        let p = self.p;
        let v = &self.values[k * self.stride..(k + 1) * self.stride];
        Terms {
            h: v[0],
            h_own: v[1],
            abar: &v[2..2 + p],
            g: &v[2 + p..2 + 2 * p],
            g_own: &v[2 + 2 * p..],
        }
    }
}

#[cfg(test)]
impl EventTimes {
    /// Where data row `i` is in the layout (none for a row at risk at no
    /// event time).
    fn place(&self, i: usize) -> Option<usize> {
        let r = self.place[i];
        (r != u32::MAX).then_some(r as usize)
    }
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use nalgebra::{DMatrix, DVector};

    use super::super::super::riskset::Problem;
    use super::super::super::tests::{column_means, pool, tied_data};
    use super::*;

    /// On the passes' layout the score residuals are the reference
    /// sweep's (which a test in `cox` checks against their definition),
    /// row by row, with strata, late entry, weights and both tie methods,
    /// for 2, 8 and 13 covariates, and without weights or late entry; the variance, with and without
    /// clusters, is the cross-product of the reference's dfbeta rows
    /// summed within clusters, as R forms it; and the same bits on 1 and
    /// 3 threads.
    #[test]
    fn robust_variance_on_the_layout_equals_the_reference_sweeps() {
        let close = |x: f64, y: f64, scale: f64| (x - y).abs() <= 1e-10 * (1.0 + scale);
        for (p, weighted, late) in [
            (2, true, true),
            (8, true, true),
            (13, true, true),
            (3, false, true),
            (3, true, false),
            (3, false, false),
        ] {
            let mut d = tied_data(500, p, 11 + p as u64);
            if !weighted {
                d.weights = None;
            }
            if !late {
                d.entry = None;
            }
            let n = d.stop.len();
            let means = column_means(&d);
            let beta = DVector::from_fn(p, |j, _| 0.3 * (j as f64 / p as f64 - 0.4));
            // A symmetric positive-definite stand-in for I⁻¹.
            let info_inv = DMatrix::from_fn(
                p,
                p,
                |a, b| if a == b { 1.0 + 0.1 * a as f64 } else { 0.05 },
            );
            let labels: Vec<String> = (0..n).map(|i| format!("c{}", (i * 7) % 37)).collect();
            for ties in [Ties::Efron, Ties::Breslow] {
                let times = EventTimes::new(&d, &means, ties);
                let got = times.score_residuals(&beta);
                let prob = Problem::new(&d, &means, ties);
                let want = prob.score_residuals(&beta);
                let mut left_out = 0;
                for i in 0..n {
                    let w = &want[i * p..(i + 1) * p];
                    let Some(r) = times.place(i) else {
                        left_out += 1;
                        assert!(w.iter().all(|v| *v == 0.0), "row {i} left out: {w:?}");
                        continue;
                    };
                    for (j, (x, y)) in got[r * p..(r + 1) * p].iter().zip(w).enumerate() {
                        assert!(
                            close(*x, *y, y.abs()),
                            "{ties:?} p {p} row {i} {j}: {x} {y}"
                        );
                    }
                }
                assert!(left_out < n / 10, "{left_out} rows left out");
                for cluster in [None, Some(&labels[..])] {
                    let v = times.robust_variance(&beta, &info_inv, cluster);
                    // R: crossprod(rowsum(w U I⁻¹, cluster)).
                    let mut sums: Vec<DVector<f64>> = Vec::new();
                    let mut at: HashMap<&str, usize> = HashMap::new();
                    for i in 0..n {
                        let u = DVector::from_column_slice(&want[i * p..(i + 1) * p]);
                        let dfbeta = info_inv.transpose() * u * prob.w(i);
                        let c = match cluster {
                            Some(l) => *at.entry(l[i].as_str()).or_insert(sums.len()),
                            None => i,
                        };
                        if c == sums.len() {
                            sums.push(DVector::zeros(p));
                        }
                        sums[c] += dfbeta;
                    }
                    let reference = sums
                        .iter()
                        .fold(DMatrix::zeros(p, p), |m, s| m + s * s.transpose());
                    let scale = reference.diagonal().max();
                    for (x, y) in v.iter().zip(reference.iter()) {
                        assert!(close(*x, *y, scale), "{ties:?} p {p}: {x} {y}");
                    }
                    let on = |threads| {
                        pool(threads).install(|| {
                            EventTimes::new(&d, &means, ties)
                                .robust_variance(&beta, &info_inv, cluster)
                        })
                    };
                    assert_eq!(on(1), on(3), "{ties:?} p {p}");
                    assert_eq!(on(1), v);
                }
            }
        }
    }
}
