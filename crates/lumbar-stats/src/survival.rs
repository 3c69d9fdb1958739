//! Kaplan–Meier curves and the log-rank test, as R's `survfit` and
//! `survdiff` compute them.
//!
//! Kaplan–Meier (Kaplan & Meier 1958): at each distinct time with `d`
//! events among `n` at risk (weighted counts when weights are given),
//! `S(t) = Π (1 − d/n)`. Standard error of log S (of the cumulative hazard)
//! by Greenwood's formula, `se_log = sqrt(Σ d / (n (n − d)))` (the
//! `std.err` stored in a survfit object, here `std_err_log`), and the SE of
//! S itself, `S · se_log` (the `std.err` that `summary.survfit` prints, here
//! `std_err`). The 95% interval on the log scale, R's default
//! `conf.type = "log"`: `S · exp(∓ 1.959964 · se_log)`, the upper limit
//! capped at 1. Events at a time precede censorings at that time.
//!
//! Quantiles as survival's `quantile.survfit` (its `findq`): the q-quantile
//! is the first time the curve is at or below 1 − q, except where the curve
//! equals 1 − q (within sqrt(ε)) over an interval: then the midpoint of that
//! interval (to the last follow-up time when the curve ends there). The
//! confidence interval of a quantile is where the interval's limits cross
//! 1 − q by the same rule (Brookmeyer & Crowley 1982), so the median's CI
//! is survfit's `0.95LCL`/`0.95UCL`. Survival at chosen times is the step
//! in force at each time, with the number still at risk then, as
//! `summary(fit, times =, extend = TRUE)`.
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

use crate::linalg::Z_975;

/// How an event column was coded.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum EventCoding {
    /// 0 = censored, 1 = event (also `false`/`true`).
    #[serde(rename = "0/1")]
    ZeroOne,
    /// R's `Surv` coding: 1 = censored, 2 = event.
    #[serde(rename = "1/2")]
    OneTwo,
}

/// A value outside its event column's coding; rows are indices into the
/// values given to [`event_indicator`].
#[derive(Debug, Clone, PartialEq)]
pub enum EventError {
    /// A 0 at `row` in a column that holds a 2 at `two`.
    Mixed { row: usize, two: usize },
    /// A value that is none of 0, 1, 2.
    Value { row: usize, value: f64 },
}

impl EventError {
    /// The value's index.
    pub fn row(&self) -> usize {
        match self {
            EventError::Mixed { row, .. } | EventError::Value { row, .. } => *row,
        }
    }

    /// What is wrong, naming another row (the 2 a 0 conflicts with) by
    /// `place`.
    pub fn reason(&self, place: impl Fn(usize) -> String) -> String {
        match self {
            EventError::Mixed { two, .. } => format!(
                "0 in a column that also holds 2 (at {}): code events 0/1 or R's 1/2 \
                 (1 = censored, 2 = event), not both",
                place(*two)
            ),
            EventError::Value { value, .. } => format!(
                "event value {value} is not 0/1, true/false or R's 1/2 (1 = censored, 2 = event)"
            ),
        }
    }
}

/// Event indicators from an event column, as R's `Surv(time, status)` reads
/// a numeric status: 0/1 (and `true`/`false`, read as 1/0), or 1/2 when the
/// largest value is 2 (1 = censored, 2 = event). A column of only 1s is all
/// events, as in `Surv`. Unlike `Surv`, which turns any other value into NA
/// with a warning, a value outside the coding (a 0 beside a 2, a 3, 0.5) is
/// an error naming its index.
pub fn event_indicator(values: &[f64]) -> Result<(Vec<bool>, EventCoding), EventError> {
    let two = values.iter().position(|&v| v == 2.0);
    let coding = match two {
        Some(_) => EventCoding::OneTwo,
        None => EventCoding::ZeroOne,
    };
    let events = values
        .iter()
        .enumerate()
        .map(|(row, &v)| match (coding, v) {
            (EventCoding::ZeroOne, 0.0) | (EventCoding::OneTwo, 1.0) => Ok(false),
            (EventCoding::ZeroOne, 1.0) | (EventCoding::OneTwo, 2.0) => Ok(true),
            (EventCoding::OneTwo, 0.0) => Err(EventError::Mixed {
                row,
                two: two.unwrap_or(0),
            }),
            _ => Err(EventError::Value { row, value: v }),
        })
        .collect::<Result<Vec<bool>, EventError>>()?;
    Ok((events, coding))
}

/// One step of a Kaplan–Meier curve.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct KmStep {
    pub time: f64,
    pub n_risk: f64,
    pub n_event: f64,
    pub n_censor: f64,
    pub surv: f64,
    /// SE of S(t) (`summary.survfit`'s `std.err`).
    pub std_err: f64,
    /// SE of log S(t) (the survfit object's `std.err`).
    pub std_err_log: f64,
    pub lower: f64,
    pub upper: f64,
}

/// A quantile of survival time with its 95% CI (None: not reached).
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct KmQuantile {
    /// The probability of the event by then (0.5 = the median).
    pub prob: f64,
    pub time: Option<f64>,
    pub lower: Option<f64>,
    pub upper: Option<f64>,
}

/// The curve at a chosen time, as `summary(fit, times = t)`.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct KmAtTime {
    pub time: f64,
    pub n_risk: f64,
    pub surv: f64,
    pub std_err: f64,
    pub lower: f64,
    pub upper: f64,
}

/// The quantiles each curve reports.
pub const KM_PROBS: [f64; 3] = [0.25, 0.5, 0.75];

#[derive(Debug, Clone, Serialize)]
pub struct KmCurve {
    pub group: Option<String>,
    pub n: usize,
    pub events: f64,
    /// Median survival by survfit's rule (see [`KmCurve::quantile`]).
    pub median: Option<f64>,
    /// The median's 95% CI (survfit's `0.95LCL`, `0.95UCL`).
    pub median_lower: Option<f64>,
    pub median_upper: Option<f64>,
    /// The quartiles of [`KM_PROBS`], with CIs.
    pub quantiles: Vec<KmQuantile>,
    /// Survival at the times asked for (empty unless asked).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub at_times: Vec<KmAtTime>,
    pub steps: Vec<KmStep>,
}

/// survival's `findq`: where the step function through `(x, y)` (y the
/// cumulative probability 1 − S, non-decreasing, starting at (first time,
/// 0)) reaches `p`; the midpoint where it equals `p` over an interval.
/// `xmax` is the last follow-up time. Points with a NaN `y` are skipped.
fn findq(x: &[f64], y: &[f64], p: f64, xmax: f64) -> Option<f64> {
    // sqrt(.Machine$double.eps), quantile.survfit's `tolerance`.
    const TOL: f64 = 1.490_116_119_384_765_6e-8;
    let mut xs = Vec::with_capacity(x.len());
    let mut ys: Vec<f64> = Vec::with_capacity(y.len());
    // `duplicated(y)` keeps each value's first time; a set of the values
    // seen (0 and −0 one value, as R's) keeps that O(n) (a search of the
    // kept values made a 20,000-row curve take seconds).
    let mut seen = std::collections::HashSet::with_capacity(y.len());
    for (&xi, &yi) in x.iter().zip(y) {
        if !yi.is_nan() && seen.insert((yi + 0.0).to_bits()) {
            xs.push(xi);
            ys.push(yi);
        }
    }
    let top = ys.iter().cloned().fold(f64::NEG_INFINITY, f64::max);
    if ys.is_empty() || top < p {
        return None;
    }
    if p == 0.0 {
        return Some(xs[0]);
    }
    let first = |shift: f64| ys.iter().position(|&v| v + shift >= p);
    let i1 = first(TOL)?;
    let last = ys[ys.len() - 1];
    if (p - last).abs() < TOL {
        return Some((xs[i1] + xmax) / 2.0);
    }
    let i2 = first(-TOL)?;
    Some((xs[i1] + xs[i2]) / 2.0)
}

impl KmCurve {
    /// The `prob` quantile of survival time (0.5: the median) and its 95%
    /// CI, by `quantile.survfit`'s rule.
    pub fn quantile(&self, prob: f64) -> KmQuantile {
        // survfit's `start.time` is 0 unless given: the curve starts at (0, 1).
        let mut x = vec![0.0];
        x.extend(self.steps.iter().map(|s| s.time));
        let xmax = x[x.len() - 1];
        let curve = |f: &dyn Fn(&KmStep) -> f64| {
            let mut y = vec![0.0];
            y.extend(self.steps.iter().map(|s| 1.0 - f(s)));
            y
        };
        KmQuantile {
            prob,
            time: findq(&x, &curve(&|s| s.surv), prob, xmax),
            lower: findq(&x, &curve(&|s| s.lower), prob, xmax),
            upper: findq(&x, &curve(&|s| s.upper), prob, xmax),
        }
    }

    /// The curve at time `t`, as `summary(fit, times = t, extend = TRUE)`:
    /// the step in force (S = 1 before the first time) and the number still
    /// at risk at `t` (follow-up ≥ t).
    pub fn at(&self, t: f64) -> KmAtTime {
        let step = self.steps.iter().rev().find(|s| s.time <= t);
        let n_risk = self
            .steps
            .iter()
            .find(|s| s.time >= t)
            .map_or(0.0, |s| s.n_risk);
        match step {
            Some(s) => KmAtTime {
                time: t,
                n_risk,
                surv: s.surv,
                std_err: s.std_err,
                lower: s.lower,
                upper: s.upper,
            },
            None => KmAtTime {
                time: t,
                n_risk,
                surv: 1.0,
                std_err: 0.0,
                lower: 1.0,
                upper: 1.0,
            },
        }
    }

    /// Adds survival at the given times.
    pub fn with_times(mut self, times: &[f64]) -> KmCurve {
        self.at_times = times.iter().map(|&t| self.at(t)).collect();
        self
    }
}

#[derive(Debug, Clone, Serialize)]
pub struct LogRank {
    pub chisq: f64,
    pub df: usize,
    pub p_value: f64,
    pub observed: Vec<f64>,
    pub expected: Vec<f64>,
}

/// Kaplan–Meier estimate of one group, with 95% intervals.
pub fn kaplan_meier(
    time: &[f64],
    event: &[bool],
    weight: Option<&[f64]>,
    group: Option<String>,
) -> KmCurve {
    kaplan_meier_at(time, event, weight, group, 0.95)
}

/// The normal quantile of a two-sided interval at `level` (R's
/// `qnorm(1 - (1 - conf.int) / 2)`); 1.959964 at 0.95.
fn z_of(level: f64) -> f64 {
    if level == 0.95 {
        return Z_975;
    }
    statrs::distribution::Normal::new(0.0, 1.0)
        .map(|n| statrs::distribution::ContinuousCDF::inverse_cdf(&n, 0.5 + level / 2.0))
        .unwrap_or(Z_975)
}

/// Kaplan–Meier estimate of one group with intervals at confidence
/// `level` (survfit's `conf.int`, log scale), quantile intervals included.
pub fn kaplan_meier_at(
    time: &[f64],
    event: &[bool],
    weight: Option<&[f64]>,
    group: Option<String>,
    level: f64,
) -> KmCurve {
    let z = z_of(level);
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
            // 0 · ∞ once the curve reaches 0: R's NaN.
            std_err: surv * se,
            std_err_log: se,
            lower: if surv > 0.0 {
                surv * (-z * se).exp()
            } else {
                f64::NAN
            },
            upper: if surv > 0.0 {
                (surv * (z * se).exp()).min(1.0)
            } else {
                f64::NAN
            },
        });
        at_risk -= d + c;
        i = j;
    }
    let mut curve = KmCurve {
        group,
        n: time.len(),
        events: (0..time.len()).filter(|&i| event[i]).map(w).sum(),
        median: None,
        median_lower: None,
        median_upper: None,
        quantiles: Vec::new(),
        at_times: Vec::new(),
        steps,
    };
    curve.quantiles = KM_PROBS.iter().map(|&p| curve.quantile(p)).collect();
    let m = curve.quantile(0.5);
    (curve.median, curve.median_lower, curve.median_upper) = (m.time, m.lower, m.upper);
    curve
}

/// Kaplan–Meier curves per group (in sorted group order) and, with two or
/// more groups, the log-rank test.
pub fn by_group(
    time: &[f64],
    event: &[bool],
    groups: Option<&[String]>,
) -> (Vec<KmCurve>, Option<LogRank>) {
    by_group_at(time, event, groups, 0.95)
}

/// [`by_group`] with intervals at confidence `level`.
pub fn by_group_at(
    time: &[f64],
    event: &[bool],
    groups: Option<&[String]>,
    level: f64,
) -> (Vec<KmCurve>, Option<LogRank>) {
    let Some(groups) = groups else {
        return (vec![kaplan_meier_at(time, event, None, None, level)], None);
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
            kaplan_meier_at(&t, &e, None, Some(g.to_string()), level)
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
    // The variance is V = diag(Σ_t b_t n_g(t)) − Σ_t a_t n(t) n(t)ᵀ with
    // w_t = d(n − d)/(n − 1), b_t = w_t/n, a_t = w_t/n² (survdiff's). The
    // outer-product sum is taken pair by pair over the intervals where both
    // groups' numbers at risk are constant, with prefix sums of a_t: O(k·n)
    // rather than O(k² · event times), which made 400 groups of 20,000 rows
    // take a minute.
    let mut order: Vec<usize> = (0..time.len()).collect();
    order.sort_by(|&a, &b| time[a].total_cmp(&time[b]));
    let mut n_g = vec![0.0; k];
    for &g in gid {
        n_g[g] += 1.0;
    }
    let mut observed = vec![0.0; k];
    let mut expected = vec![0.0; k];
    let mut diag = vec![0.0; k];
    // Prefix sums of a_t over the distinct times, and each group's numbers
    // at risk as (first time index, value) segments.
    let mut prefix = vec![0.0];
    let mut segments: Vec<Vec<(usize, f64)>> = n_g.iter().map(|&n| vec![(0, n)]).collect();
    let mut d_g = vec![0.0; k];
    let mut leaving = vec![0.0; k];
    let mut touched: Vec<usize> = Vec::new();
    let mut i = 0;
    let mut ti = 0;
    while i < order.len() {
        let t = time[order[i]];
        let mut j = i;
        while j < order.len() && time[order[j]] == t {
            let r = order[j];
            let g = gid[r];
            if leaving[g] == 0.0 {
                touched.push(g);
            }
            leaving[g] += 1.0;
            if event[r] {
                d_g[g] += 1.0;
            }
            j += 1;
        }
        let d: f64 = touched.iter().map(|&g| d_g[g]).sum();
        let n: f64 = n_g.iter().sum();
        let mut a = 0.0;
        if d > 0.0 && n > 0.0 {
            for &g in &touched {
                observed[g] += d_g[g];
            }
            for g in 0..k {
                expected[g] += d * n_g[g] / n;
            }
            if n > 1.0 {
                let w = d * (n - d) / (n - 1.0);
                for g in 0..k {
                    diag[g] += w / n * n_g[g];
                }
                a = w / (n * n);
            }
        }
        prefix.push(prefix[ti] + a);
        ti += 1;
        for &g in &touched {
            n_g[g] -= leaving[g];
            segments[g].push((ti, n_g[g]));
            leaving[g] = 0.0;
            d_g[g] = 0.0;
        }
        touched.clear();
        i = j;
    }
    let total = ti;
    let mut v = DMatrix::<f64>::zeros(k, k);
    for g in 0..k {
        for h in g..k {
            // Walk the union of both groups' breakpoints.
            let (sg, sh) = (&segments[g], &segments[h]);
            let (mut x, mut y) = (0, 0);
            let mut acc = 0.0;
            let mut from = 0;
            while from < total {
                while x + 1 < sg.len() && sg[x + 1].0 <= from {
                    x += 1;
                }
                while y + 1 < sh.len() && sh[y + 1].0 <= from {
                    y += 1;
                }
                let next_g = sg.get(x + 1).map_or(total, |s| s.0);
                let next_h = sh.get(y + 1).map_or(total, |s| s.0);
                let to = next_g.min(next_h).min(total);
                acc += sg[x].1 * sh[y].1 * (prefix[to] - prefix[from]);
                from = to;
            }
            v[(g, h)] = -acc;
            v[(h, g)] = -acc;
        }
        v[(g, g)] += diag[g];
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
        assert!((km.steps[2].std_err_log - v.sqrt()).abs() < 1e-12);
        assert!((km.steps[2].std_err - 0.3 * v.sqrt()).abs() < 1e-12);
        assert_eq!(km.median, Some(3.0));
    }

    /// survfit's midpoint rule: 4 deaths at 1..4 among 4 make the curve
    /// 0.75, 0.5, 0.25, 0; it equals 0.5 on [2, 3), so the median is 2.5
    /// (the first time at or below 0.5 would say 2). A curve that ends at
    /// 0.5 (censored at 5) takes the midpoint with the last time.
    #[test]
    fn quantiles_take_the_midpoint_where_the_curve_is_flat_at_the_level() {
        let km = kaplan_meier(&[1.0, 2.0, 3.0, 4.0], &[true; 4], None, None);
        assert_eq!(km.median, Some(2.5));
        assert_eq!(km.quantiles[0].time, Some(1.5));
        assert_eq!(km.quantiles[2].time, Some(3.5));
        let km = kaplan_meier(
            &[1.0, 2.0, 5.0, 5.0],
            &[true, false, false, false],
            None,
            None,
        );
        // 0.75 from time 1 on: the 25% quantile is where 1 − S reaches 0.25 and stays.
        assert_eq!(km.quantile(0.25).time, Some((1.0 + 5.0) / 2.0));
        assert_eq!(km.median, None);
        let at = km.at(3.0);
        assert_eq!((at.surv, at.n_risk), (0.75, 2.0));
        let before = km.at(0.5);
        assert_eq!(
            (before.surv, before.n_risk, before.std_err),
            (1.0, 4.0, 0.0)
        );
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

    /// The log-rank variance by pairs of constant intervals equals
    /// survdiff's sum over every event time (the formula term by term),
    /// with ties, groups that run out early and a group of one row.
    #[test]
    // The oracle mirrors survdiff's index formulas.
    #[allow(clippy::needless_range_loop)]
    fn log_rank_variance_equals_the_sum_over_event_times() {
        let mut state = 12345u64;
        let mut unif = move || {
            state = state
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            (state >> 11) as f64 / (1u64 << 53) as f64
        };
        let n = 300;
        let k = 7;
        let time: Vec<f64> = (0..n).map(|_| (unif() * 40.0).floor()).collect();
        let event: Vec<bool> = (0..n).map(|_| unif() < 0.6).collect();
        let mut gid: Vec<usize> = (0..n).map(|_| (unif() * (k - 1) as f64) as usize).collect();
        gid[17] = k - 1;
        let fast = log_rank(&time, &event, &gid, k);
        // survdiff's sums, event time by event time.
        let mut order: Vec<usize> = (0..n).collect();
        order.sort_by(|&a, &b| time[a].total_cmp(&time[b]));
        let mut n_g = vec![0.0; k];
        gid.iter().for_each(|&g| n_g[g] += 1.0);
        let (mut o, mut e) = (vec![0.0; k], vec![0.0; k]);
        let mut v = DMatrix::<f64>::zeros(k, k);
        let mut i = 0;
        while i < n {
            let t = time[order[i]];
            let (mut d_g, mut out) = (vec![0.0; k], vec![0.0; k]);
            let mut j = i;
            while j < n && time[order[j]] == t {
                out[gid[order[j]]] += 1.0;
                if event[order[j]] {
                    d_g[gid[order[j]]] += 1.0;
                }
                j += 1;
            }
            let (d, m): (f64, f64) = (d_g.iter().sum(), n_g.iter().sum());
            if d > 0.0 && m > 1.0 {
                for g in 0..k {
                    o[g] += d_g[g];
                    e[g] += d * n_g[g] / m;
                    for h in 0..k {
                        let delta = if g == h { 1.0 } else { 0.0 };
                        v[(g, h)] += d * (m - d) / (m - 1.0) * n_g[g] / m * (delta - n_g[h] / m);
                    }
                }
            }
            for g in 0..k {
                n_g[g] -= out[g];
            }
            i = j;
        }
        let m = k - 1;
        let diff = DVector::from_fn(m, |g, _| o[g] - e[g]);
        let vm = DMatrix::from_fn(m, m, |a, b| v[(a, b)]);
        let chisq = diff.dot(&vm.cholesky().unwrap().solve(&diff));
        assert!(
            (fast.chisq - chisq).abs() < 1e-9 * chisq,
            "{} vs {chisq}",
            fast.chisq
        );
        for g in 0..k {
            assert!((fast.expected[g] - e[g]).abs() < 1e-9 * e[g].max(1.0));
        }
    }
}
