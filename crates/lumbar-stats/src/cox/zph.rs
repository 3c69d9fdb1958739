//! The test of proportional hazards of R's `cox.zph`.

use nalgebra::{DMatrix, DVector};

use super::riskset::Problem;
use super::{Test, Zph, ZphTest};

impl Problem<'_> {
    /// The Kaplan–Meier steps `(time, S(time))` at each event time of
    /// unweighted (start, stop] data, strata ignored: at risk at `t` are
    /// the rows with `start < t ≤ stop` (everyone entered at −∞ without
    /// `entry`).
    ///
    /// Without sorting the rows again: the distinct event times come from
    /// each stratum's rows by decreasing stop time, and each row is counted
    /// at the event times up to its stop (and taken off at those up to its
    /// entry) through one binary search among them and a running sum.
    fn km_times(&self) -> Vec<(f64, f64)> {
        let (stop, event) = (&self.d.stop, &self.d.event);
        let mut times: Vec<f64> = Vec::new();
        for s in &self.strata {
            let first = times.len();
            for &k in &s.by_stop {
                // Decreasing within the stratum: a repeat is the last pushed.
                if event[k] && (times.len() == first || times[times.len() - 1] != stop[k]) {
                    times.push(stop[k]);
                }
            }
        }
        times.sort_unstable_by(f64::total_cmp);
        times.dedup();
        let m = times.len();
        // upto(v): how many event times t have t ≤ v, the first ones.
        let upto = |v: f64| times.partition_point(|&t| t <= v);
        // at_risk[k] counts rows with stop ≥ t_k less those with entry ≥
        // t_k, from rows counted at the index just past their last time.
        let mut at_risk = vec![0i64; m + 1];
        let mut deaths = vec![0usize; m];
        for (i, &v) in stop.iter().enumerate() {
            let at = upto(v);
            at_risk[at] += 1;
            if event[i] && at > 0 {
                deaths[at - 1] += 1;
            }
        }
        if let Some(entry) = &self.d.entry {
            for &e in entry {
                at_risk[upto(e)] -= 1;
            }
        }
        let mut out = Vec::with_capacity(m);
        let mut surv = 1.0;
        let mut n_at = vec![0i64; m];
        // Rows counted at index `at` are at risk at t_0..t_{at−1}.
        let mut running = 0i64;
        for k in (0..m).rev() {
            running += at_risk[k + 1];
            n_at[k] = running;
        }
        for k in 0..m {
            if n_at[k] > 0 {
                surv *= 1.0 - deaths[k] as f64 / n_at[k] as f64;
            }
            out.push((times[k], surv));
        }
        out
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
    pub(super) fn zph(&self, beta: &DVector<f64>, terms: &[(String, Vec<usize>)]) -> Zph {
        let p = self.p;
        let n = self.d.stop.len();
        // Left-continuous KM of everyone (survfitKM on the model's Surv:
        // with (start, stop] data its risk sets hold the rows entered
        // before t, as R's cox.zph computes it).
        let km = self.km_times();
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
