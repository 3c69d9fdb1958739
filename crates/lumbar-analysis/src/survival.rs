//! Kaplan–Meier curves and the log-rank test, as R's `survfit` and
//! `survdiff` compute them.
//!
//! Kaplan–Meier (Kaplan & Meier 1958): at each distinct time with `d`
//! events among `n` at risk (weighted counts when weights are given),
//! `S(t) = Π (1 − d/n)`. Standard error of the cumulative hazard by
//! Greenwood's formula, `se = sqrt(Σ d / (n (n − d)))` (R's `std.err`), and
//! the 95% interval on the log scale, R's default `conf.type = "log"`:
//! `S · exp(∓ 1.959964 · se)`, the upper limit capped at 1. Events at a time
//! precede censorings at that time.
//!
//! Log-rank (Mantel 1966; R's `survdiff` with rho = 0): at each event time,
//! for each group g, `O_g − E_g` with `E_g = d n_g / n`, and the variance
//! `V_gh = d (n − d)/(n − 1) · n_g/n · (δ_gh − n_h/n)`; the statistic is
//! `(O − E)ᵀ V⁻ (O − E)` over the first G − 1 groups, chi-squared on G − 1
//! degrees of freedom.

use std::collections::BTreeMap;

use nalgebra::{DMatrix, DVector};
use serde::Serialize;
use statrs::distribution::{ChiSquared, ContinuousCDF};

use crate::poisson::Z_975;

/// One step of a Kaplan–Meier curve.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct KmStep {
    pub time: f64,
    pub n_risk: f64,
    pub n_event: f64,
    pub n_censor: f64,
    pub surv: f64,
    pub std_err: f64,
    pub lower: f64,
    pub upper: f64,
}

#[derive(Debug, Clone, Serialize)]
pub struct KmCurve {
    pub group: Option<String>,
    pub n: usize,
    pub events: f64,
    /// Median survival: the first time the curve is at or below 0.5.
    pub median: Option<f64>,
    pub steps: Vec<KmStep>,
}

#[derive(Debug, Clone, Serialize)]
pub struct LogRank {
    pub chisq: f64,
    pub df: usize,
    pub p_value: f64,
    pub observed: Vec<f64>,
    pub expected: Vec<f64>,
}

/// Kaplan–Meier estimate of one group.
pub fn kaplan_meier(
    time: &[f64],
    event: &[bool],
    weight: Option<&[f64]>,
    group: Option<String>,
) -> KmCurve {
    let w = |i: usize| weight.map_or(1.0, |w| w[i]);
    let mut order: Vec<usize> = (0..time.len()).collect();
    order.sort_by(|&a, &b| time[a].total_cmp(&time[b]));
    let mut at_risk: f64 = (0..time.len()).map(w).sum();
    let (mut surv, mut cumvar) = (1.0, 0.0);
    let mut steps = Vec::new();
    let mut i = 0;
    while i < order.len() {
        let t = time[order[i]];
        let (mut d, mut c) = (0.0, 0.0);
        let mut j = i;
        while j < order.len() && time[order[j]] == t {
            if event[order[j]] {
                d += w(order[j]);
            } else {
                c += w(order[j]);
            }
            j += 1;
        }
        if d > 0.0 {
            surv *= 1.0 - d / at_risk;
            cumvar += if at_risk > d {
                d / (at_risk * (at_risk - d))
            } else {
                f64::INFINITY
            };
        }
        let se = cumvar.sqrt();
        steps.push(KmStep {
            time: t,
            n_risk: at_risk,
            n_event: d,
            n_censor: c,
            surv,
            std_err: se,
            lower: if surv > 0.0 {
                surv * (-Z_975 * se).exp()
            } else {
                f64::NAN
            },
            upper: if surv > 0.0 {
                (surv * (Z_975 * se).exp()).min(1.0)
            } else {
                f64::NAN
            },
        });
        at_risk -= d + c;
        i = j;
    }
    KmCurve {
        group,
        n: time.len(),
        events: (0..time.len()).filter(|&i| event[i]).map(w).sum(),
        median: steps.iter().find(|s| s.surv <= 0.5).map(|s| s.time),
        steps,
    }
}

/// Kaplan–Meier curves per group (in sorted group order) and, with two or
/// more groups, the log-rank test.
pub fn by_group(
    time: &[f64],
    event: &[bool],
    groups: Option<&[String]>,
) -> (Vec<KmCurve>, Option<LogRank>) {
    let Some(groups) = groups else {
        return (vec![kaplan_meier(time, event, None, None)], None);
    };
    let mut idx: BTreeMap<&str, Vec<usize>> = BTreeMap::new();
    for (i, g) in groups.iter().enumerate() {
        idx.entry(g.as_str()).or_default().push(i);
    }
    let curves = idx
        .iter()
        .map(|(g, rows)| {
            let t: Vec<f64> = rows.iter().map(|&i| time[i]).collect();
            let e: Vec<bool> = rows.iter().map(|&i| event[i]).collect();
            kaplan_meier(&t, &e, None, Some(g.to_string()))
        })
        .collect();
    let names: Vec<&str> = idx.keys().copied().collect();
    let gid: Vec<usize> = groups
        .iter()
        .map(|g| names.iter().position(|n| *n == g.as_str()).unwrap_or(0))
        .collect();
    let test = (names.len() > 1).then(|| log_rank(time, event, &gid, names.len()));
    (curves, test)
}

/// The log-rank test of `k` groups (`gid[i]` in 0..k).
pub fn log_rank(time: &[f64], event: &[bool], gid: &[usize], k: usize) -> LogRank {
    let mut order: Vec<usize> = (0..time.len()).collect();
    order.sort_by(|&a, &b| time[a].total_cmp(&time[b]));
    let mut n_g = vec![0.0; k];
    for &g in gid {
        n_g[g] += 1.0;
    }
    let mut observed = vec![0.0; k];
    let mut expected = vec![0.0; k];
    let mut v = DMatrix::<f64>::zeros(k, k);
    let mut i = 0;
    while i < order.len() {
        let t = time[order[i]];
        let mut d_g = vec![0.0; k];
        let mut leaving = vec![0.0; k];
        let mut j = i;
        while j < order.len() && time[order[j]] == t {
            let r = order[j];
            leaving[gid[r]] += 1.0;
            if event[r] {
                d_g[gid[r]] += 1.0;
            }
            j += 1;
        }
        let d: f64 = d_g.iter().sum();
        let n: f64 = n_g.iter().sum();
        if d > 0.0 && n > 0.0 {
            for g in 0..k {
                observed[g] += d_g[g];
                expected[g] += d * n_g[g] / n;
                if n > 1.0 {
                    for h in 0..k {
                        let delta = if g == h { 1.0 } else { 0.0 };
                        v[(g, h)] += d * (n - d) / (n - 1.0) * n_g[g] / n * (delta - n_g[h] / n);
                    }
                }
            }
        }
        for g in 0..k {
            n_g[g] -= leaving[g];
        }
        i = j;
    }
    let m = k - 1;
    let diff = DVector::from_fn(m, |g, _| observed[g] - expected[g]);
    let vm = DMatrix::from_fn(m, m, |a, b| v[(a, b)]);
    let chisq = vm
        .clone()
        .cholesky()
        .map(|c| diff.dot(&c.solve(&diff)))
        .or_else(|| {
            vm.pseudo_inverse(1e-12)
                .ok()
                .map(|p| diff.dot(&(p * &diff)))
        })
        .unwrap_or(f64::NAN);
    let p_value = ChiSquared::new(m as f64)
        .map(|c| c.sf(chisq))
        .unwrap_or(f64::NAN);
    LogRank {
        chisq,
        df: m,
        p_value,
        observed,
        expected,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A hand-computed curve: times 1, 2, 2+, 3, 4+ with events at 1, 2, 3.
    #[test]
    fn km_by_hand() {
        let t = [1.0, 2.0, 2.0, 3.0, 4.0];
        let e = [true, true, false, true, false];
        let km = kaplan_meier(&t, &e, None, None);
        let s: Vec<f64> = km.steps.iter().map(|s| s.surv).collect();
        // 4/5, then 4/5 · 3/4 = 3/5 (the censoring at 2 comes after the event), then 3/5 · 1/2.
        assert_eq!(s.len(), 4);
        assert!((s[0] - 0.8).abs() < 1e-12);
        assert!((s[1] - 0.6).abs() < 1e-12);
        assert!((s[2] - 0.3).abs() < 1e-12);
        assert_eq!(km.steps[1].n_risk, 4.0);
        assert_eq!(km.steps[2].n_risk, 2.0);
        // Greenwood at time 3: 1/(5·4) + 1/(4·3) + 1/(2·1).
        let v: f64 = 1.0 / 20.0 + 1.0 / 12.0 + 0.5;
        assert!((km.steps[2].std_err - v.sqrt()).abs() < 1e-12);
        assert_eq!(km.median, Some(3.0));
    }

    /// Two groups with identical data give a zero statistic; a clear
    /// difference gives the hand-computed value.
    #[test]
    fn log_rank_by_hand() {
        // Group 0 dies at 1 and 2; group 1 at 3 and 4.
        let t = [1.0, 2.0, 3.0, 4.0];
        let e = [true; 4];
        let r = log_rank(&t, &e, &[0, 0, 1, 1], 2);
        // O0 = 2; E0 = 2/4 + 1/3 = 5/6; V = 1·3/3·(2/4)(2/4) + 1·2/2·(1/3)(2/3) = 1/4 + 2/9.
        let v: f64 = 0.25 + 2.0 / 9.0;
        let expected = (2.0 - 5.0 / 6.0f64).powi(2) / v;
        assert!((r.chisq - expected).abs() < 1e-12, "{}", r.chisq);
        assert_eq!(r.df, 1);
        let same = log_rank(&[1.0, 1.0, 2.0, 2.0], &[true; 4], &[0, 1, 0, 1], 2);
        assert!(same.chisq.abs() < 1e-12);
    }
}
