//! The test of proportional hazards of R's `cox.zph`.

use nalgebra::{DMatrix, DVector};

use super::riskset::Problem;
use super::{Test, Zph, ZphTest};

/// The Kaplan–Meier steps `(time, S(time))` at each event time of
/// unweighted (start, stop] data: at risk at `t` are the rows with
/// `start < t ≤ stop` (everyone entered at −∞ without `entry`).
fn km_times(stop: &[f64], entry: Option<&[f64]>, event: &[bool]) -> Vec<(f64, f64)> {
    let mut stops: Vec<f64> = stop.to_vec();
    stops.sort_by(f64::total_cmp);
    let mut entries: Vec<f64> = entry.map(<[f64]>::to_vec).unwrap_or_default();
    entries.sort_by(f64::total_cmp);
    let mut deaths: Vec<f64> = stop
        .iter()
        .zip(event)
        .filter(|(_, e)| **e)
        .map(|(t, _)| *t)
        .collect();
    deaths.sort_by(f64::total_cmp);
    let mut out = Vec::new();
    let mut surv = 1.0;
    let mut i = 0;
    while i < deaths.len() {
        let t = deaths[i];
        let mut j = i;
        while j < deaths.len() && deaths[j] == t {
            j += 1;
        }
        // stop ≥ t, less those not yet entered (start ≥ t).
        let at_risk = (stops.len() - stops.partition_point(|&s| s < t))
            - (entries.len() - entries.partition_point(|&s| s < t));
        if at_risk > 0 {
            surv *= 1.0 - (j - i) as f64 / at_risk as f64;
        }
        out.push((t, surv));
        i = j;
    }
    out
}

impl Problem<'_> {
    /// The test of proportional hazards of R's `cox.zph` (survival ≥ 3.0,
    /// default transform "km"): a score test, at β̂, for adding
    /// `x · g(t)` to the model, with `g(t) = 1 − KM(t−)` from the
    /// Kaplan–Meier of all the data (unweighted, strata ignored), centred by
    /// its mean over the events. With `u_t`, `M_t` the score and
    /// information contributions of event time t, the augmented score is
    /// `(0, Σ g u_t)` and the information `[[Σ M_t, Σ g M_t], [Σ g M_t, Σ g² M_t]]`;
    /// each term is tested with the β block and its own columns, the global
    /// test with all.
    pub(super) fn zph(&self, beta: &DVector<f64>, terms: &[(String, Vec<usize>)]) -> Zph {
        let p = self.p;
        let n = self.d.stop.len();
        // Left-continuous KM of everyone (survfitKM on the model's Surv:
        // with (start, stop] data its risk sets hold the rows entered
        // before t, as R's cox.zph computes it).
        let km = km_times(&self.d.stop, self.d.entry.as_deref(), &self.d.event);
        let g_of = |t: f64| -> f64 {
            // S(t−): the survival just before t.
            let idx = km.partition_point(|s| s.0 < t);
            1.0 - if idx == 0 { 1.0 } else { km[idx - 1].1 }
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
}
