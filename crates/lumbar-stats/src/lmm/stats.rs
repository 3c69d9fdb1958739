//! The criterion's data: each group reduced to its sufficient statistics,
//! and groups with the same `Z_iᵀZ_i` summed into one *pattern*.
//!
//! # Contract
//!
//! [`Stats::build`] reads the observations once; [`Stats::from_groups`]
//! takes each group's `Z_iᵀZ_i` (q×q), `Z_iᵀX_i` (q×p) and `Z_iᵀy_i` (q),
//! in group order. Both check that `X` alone has full column rank (else the
//! criterion's `R_X` would be singular at every θ) and return the
//! [`LmmError`] naming the column to drop.
//!
//! # Why patterns
//!
//! With `W_i = [Z_iᵀX_i | Z_iᵀy_i]` (q × (p+1)) and `P_i = Λ M_i⁻¹ Λᵀ`
//! (see [`super::criterion`]), the criterion sees the data only through
//!
//! ```text
//! S(θ) = [XᵀX Xᵀy; yᵀX yᵀy] − Σ_i W_iᵀ P_i W_i,      ℓ(θ) = Σ_i log det M_i
//! ```
//!
//! and `P_i`, `M_i` depend on the group only through `A_i = Z_iᵀZ_i`. So
//! `Σ_i W_iᵀ P_i W_i = Σ_patterns Σ_{r≤s} P[r,s] · O^{rs}` with the
//! θ-free moments `O^{rs} = Σ_{i in pattern} (W_i[r]ᵀW_i[s] + W_i[s]ᵀW_i[r])`
//! (`W_i[r]ᵀW_i[r]` when `r = s`), summed once here. Groups seen at the
//! same times (a trial's visit schedule) share `A_i` exactly, so an
//! evaluation costs O(distinct schedules) instead of O(groups); with no two
//! groups alike it costs what a per-group pass does. Exact: only the order
//! of summation changes.

// Index loops mirror the matrix formulas above.
#![allow(clippy::needless_range_loop)]

use std::collections::HashMap;

use nalgebra::DMatrix;

use super::{LmmData, LmmError, RandomEffects};

/// Packed upper triangle of a symmetric `d×d` matrix, by rows.
pub(super) fn packed_len(d: usize) -> usize {
    d * (d + 1) / 2
}

/// The index of `(a, b)`, `a ≤ b`, in [`packed_len`] storage.
pub(super) fn packed_index(d: usize, a: usize, b: usize) -> usize {
    a * d + b - a * (a + 1) / 2
}

/// The criterion's data, struct-of-arrays over patterns.
pub(super) struct Stats {
    /// Random effects per group (1 or 2) and fixed effects.
    pub q: usize,
    pub p: usize,
    /// Observations and groups.
    pub n: usize,
    pub groups: usize,
    /// Distinct `Z_iᵀZ_i`.
    pub patterns: usize,
    /// Per pattern: the unique entries of `ZᵀZ` (`a00` or `a00, a01, a11`).
    pub ztz: Vec<f64>,
    /// Per pattern: how many groups share it.
    pub count: Vec<f64>,
    /// Per pattern: `q(q+1)/2` packed `(p+1)×(p+1)` moments `O^{rs}`,
    /// `rs` in the order `00` (, `01`, `11`).
    pub moments: Vec<f64>,
    /// `[XᵀX Xᵀy; yᵀX yᵀy]`, packed.
    pub s0: Vec<f64>,
}

impl Stats {
    /// The unique `(r, s)`, `r ≤ s`, of a q×q symmetric matrix, in storage order.
    pub fn pairs(&self) -> &'static [(usize, usize)] {
        if self.q == 1 {
            &[(0, 0)]
        } else {
            &[(0, 0), (0, 1), (1, 1)]
        }
    }

    /// Reads the observations once: per group `ZᵀZ`, `ZᵀX`, `Zᵀy`, and
    /// `XᵀX`, `Xᵀy`, `yᵀy`; `X = [1, t, covariates…]`, `Z = [1, t]` or `[1]`.
    /// Also returns the fixed effects' names.
    pub fn build(data: &LmmData, re: RandomEffects) -> Result<(Stats, Vec<String>), LmmError> {
        let n = data.response.len();
        if n == 0 {
            return Err(LmmError::Empty);
        }
        for len in [data.time.len(), data.group.len()]
            .into_iter()
            .chain(data.covariates.iter().map(|c| c.1.len()))
        {
            if len != n {
                return Err(LmmError::Length(n, len));
            }
        }
        let q = q_of(re);
        let p = 2 + data.covariates.len();
        if n <= p {
            return Err(LmmError::TooFew { n, p });
        }
        // Runs of consecutive rows with one label (the usual long layout
        // has one run per group), and each run's group, numbered in order of
        // first appearance: one hash per run, into a table sized at once
        // (growing it rehashed a million labels several times over). The
        // size is capped for rows in no order, where runs overcount groups.
        let mut run_end: Vec<usize> = Vec::new();
        for k in 1..n {
            if data.group[k] != data.group[k - 1] {
                run_end.push(k);
            }
        }
        run_end.push(n);
        let mut index: HashMap<&str, usize> = HashMap::with_capacity(run_end.len().min(1 << 20));
        let mut run_group = Vec::with_capacity(run_end.len());
        let mut start = 0;
        for &end in &run_end {
            let next = index.len();
            run_group.push(*index.entry(data.group[start].as_str()).or_insert(next));
            start = end;
        }
        let groups = index.len();
        drop(index);
        let d = p + 1;
        let t_len = packed_len(d);
        let mut ztz = vec![0.0; groups * q * q];
        let mut ztx = vec![0.0; groups * q * p];
        let mut zty = vec![0.0; groups * q];
        let mut s0 = vec![0.0; t_len];
        let mut s0_err = vec![0.0; t_len];
        // One run's sums: Σ t, Σ t² (ZᵀZ's entries besides the count), Σ x,
        // Σ t·x (ZᵀX and, with x's last entry y, Zᵀy), and Σ x xᵀ.
        let mut x = vec![0.0; d];
        let mut sx = vec![0.0; d];
        let mut stx = vec![0.0; d];
        let mut sxx = vec![0.0; t_len];
        let mut start = 0;
        for (&end, &g) in run_end.iter().zip(&run_group) {
            let (mut st, mut stt) = (0.0, 0.0);
            sx.fill(0.0);
            stx.fill(0.0);
            sxx.fill(0.0);
            for k in start..end {
                let t = data.time[k];
                x[0] = 1.0;
                x[1] = t;
                for (j, c) in data.covariates.iter().enumerate() {
                    x[2 + j] = c.1[k];
                }
                x[p] = data.response[k];
                st += t;
                stt += t * t;
                for a in 0..d {
                    sx[a] += x[a];
                    stx[a] += t * x[a];
                }
                let mut i = 0;
                for a in 0..d {
                    for b in a..d {
                        sxx[i] += x[a] * x[b];
                        i += 1;
                    }
                }
            }
            let count = (end - start) as f64;
            if q == 1 {
                ztz[g] += count;
                for j in 0..p {
                    ztx[g * p + j] += sx[j];
                }
                zty[g] += sx[p];
            } else {
                for (e, v) in ztz[g * 4..g * 4 + 4].iter_mut().zip([count, st, st, stt]) {
                    *e += v;
                }
                for j in 0..p {
                    ztx[g * 2 * p + j] += sx[j];
                    ztx[g * 2 * p + p + j] += stx[j];
                }
                zty[g * 2] += sx[p];
                zty[g * 2 + 1] += stx[p];
            }
            for i in 0..t_len {
                two_sum(&mut s0[i], &mut s0_err[i], sxx[i]);
            }
            start = end;
        }
        for (s, e) in s0.iter_mut().zip(&s0_err) {
            *s += e;
        }
        let mut names = vec!["(Intercept)".to_string(), data.time_name.clone()];
        names.extend(data.covariates.iter().map(|c| c.0.clone()));
        let stats = Stats::from_groups(q, p, n, &ztz, &ztx, &zty, s0, &names)?;
        Ok((stats, names))
    }

    /// The patterns from each group's `ZᵀZ` (q×q), `ZᵀX` (q×p) and `Zᵀy`
    /// (q), in group order, and `s0 = [XᵀX Xᵀy; yᵀX yᵀy]` packed; checks
    /// that `XᵀX` has full rank (`names` name its columns).
    #[allow(clippy::too_many_arguments)]
    pub fn from_groups(
        q: usize,
        p: usize,
        n: usize,
        ztz: &[f64],
        ztx: &[f64],
        zty: &[f64],
        s0: Vec<f64>,
        names: &[String],
    ) -> Result<Stats, LmmError> {
        let d = p + 1;
        let xtx = DMatrix::from_fn(p, p, |a, b| s0[packed_index(d, a.min(b), a.max(b))]);
        if xtx.clone().cholesky().is_none() || min_pivot(&xtx) < 1e-10 * xtx.diagonal().max() {
            let worst = worst_column(&xtx);
            return Err(LmmError::Collinear(names[worst].clone()));
        }
        let groups = zty.len() / q;
        let pairs: &[(usize, usize)] = if q == 1 {
            &[(0, 0)]
        } else {
            &[(0, 0), (0, 1), (1, 1)]
        };
        let nrs = pairs.len();
        let t_len = packed_len(d);
        // Patterns keyed by the bits of ZᵀZ's unique entries, in order of
        // first appearance.
        let mut index: HashMap<[u64; 3], usize> = HashMap::new();
        let mut stats = Stats {
            q,
            p,
            n,
            groups,
            patterns: 0,
            ztz: Vec::new(),
            count: Vec::new(),
            moments: Vec::new(),
            s0,
        };
        // The moments' rounding errors, added back at the end.
        let mut moments_err: Vec<f64> = Vec::new();
        let mut w = vec![0.0; q * d];
        let mut last: Option<([u64; 3], usize)> = None;
        for g in 0..groups {
            let a = &ztz[g * q * q..(g + 1) * q * q];
            let mut key = [0u64; 3];
            for (slot, &(r, s)) in key.iter_mut().zip(pairs) {
                *slot = a[r * q + s].to_bits();
            }
            let id = match last {
                Some((k, id)) if k == key => id,
                _ => {
                    let next = index.len();
                    let id = *index.entry(key).or_insert(next);
                    if id == next {
                        stats.ztz.extend(pairs.iter().map(|&(r, s)| a[r * q + s]));
                        stats.count.push(0.0);
                        stats.moments.resize((next + 1) * nrs * t_len, 0.0);
                        moments_err.resize((next + 1) * nrs * t_len, 0.0);
                    }
                    last = Some((key, id));
                    id
                }
            };
            stats.count[id] += 1.0;
            for r in 0..q {
                w[r * d..r * d + p].copy_from_slice(&ztx[(g * q + r) * p..(g * q + r + 1) * p]);
                w[r * d + p] = zty[g * q + r];
            }
            let range = id * nrs * t_len..(id + 1) * nrs * t_len;
            let (o, oe) = (&mut stats.moments[range.clone()], &mut moments_err[range]);
            for (m, &(r, s)) in pairs.iter().enumerate() {
                let (wr, ws) = (&w[r * d..(r + 1) * d], &w[s * d..(s + 1) * d]);
                let mut t = m * t_len;
                for a in 0..d {
                    for b in a..d {
                        let v = if r == s {
                            wr[a] * wr[b]
                        } else {
                            wr[a] * ws[b] + ws[a] * wr[b]
                        };
                        two_sum(&mut o[t], &mut oe[t], v);
                        t += 1;
                    }
                }
            }
        }
        for (o, e) in stats.moments.iter_mut().zip(&moments_err) {
            *o += e;
        }
        stats.patterns = index.len();
        Ok(stats)
    }
}

/// `sum += x`, with the rounding error of the addition added to `err`
/// (Knuth's TwoSum; Higham 2002, *Accuracy and Stability of Numerical
/// Algorithms*, §4.3): the sums over hundreds of thousands of groups that
/// the criterion subtracts from one another stay exact to about one
/// rounding, which at n = 600,000 is the difference between a criterion
/// good to 1e-8 and one good to 1e-6.
pub(super) fn two_sum(sum: &mut f64, err: &mut f64, x: f64) {
    let t = *sum + x;
    let bp = t - *sum;
    *err += (*sum - (t - bp)) + (x - bp);
    *sum = t;
}

/// Random effects per group.
pub(super) fn q_of(re: RandomEffects) -> usize {
    match re {
        RandomEffects::Intercept => 1,
        RandomEffects::Slope => 2,
    }
}

/// The smallest squared pivot of `m`'s Cholesky factor (0 when it fails).
pub(super) fn min_pivot(m: &DMatrix<f64>) -> f64 {
    m.clone()
        .cholesky()
        .map(|c| {
            c.l()
                .diagonal()
                .iter()
                .fold(f64::INFINITY, |a, &v| a.min(v * v))
        })
        .unwrap_or(0.0)
}

/// The column whose removal makes XᵀX best conditioned: the one to name.
pub(super) fn worst_column(m: &DMatrix<f64>) -> usize {
    let p = m.nrows();
    let mut best = (p - 1, f64::NEG_INFINITY);
    for drop in (1..p).rev() {
        let keep: Vec<usize> = (0..p).filter(|&j| j != drop).collect();
        let sub = DMatrix::from_fn(keep.len(), keep.len(), |i, j| m[(keep[i], keep[j])]);
        let piv = min_pivot(&sub) / sub.diagonal().max().max(1e-300);
        if piv > best.1 {
            best = (drop, piv);
        }
    }
    best.0
}
