//! The test of proportional hazards of R's `cox.zph`.

use nalgebra::{DMatrix, DVector};

use super::pass::EventTimes;
#[cfg(test)]
use super::riskset::Problem;
use super::{CoxData, Test, Zph, ZphTest};

/// The Kaplan–Meier steps `(time, S(time))` at each event time of
/// unweighted (start, stop] data, strata ignored: at risk at `t` are the
/// rows with `start < t ≤ stop` (everyone entered at −∞ without `entry`).
///
/// Each row is counted at the event times up to its stop (and taken off
/// at those up to its entry) through one binary search among them and a
/// running sum.
fn km_steps(data: &CoxData) -> Vec<(f64, f64)> {
    let (stop, event) = (&data.stop, &data.event);
    let mut times: Vec<f64> = stop
        .iter()
        .zip(event)
        .filter(|(_, e)| **e)
        .map(|(t, _)| *t)
        .collect();
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
    if let Some(entry) = &data.entry {
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

/// `g(t) = 1 − KM(t−)`, the survival just before t.
fn g_of(km: &[(f64, f64)], t: f64) -> f64 {
    let idx = km.partition_point(|s| s.0 < t);
    1.0 - if idx == 0 { 1.0 } else { km[idx - 1].1 }
}

/// The test of proportional hazards of R's `cox.zph` (survival ≥ 3.0,
/// default transform "km"): a score test, at β̂, for adding `x · g(t)` to
/// the model, with `g(t) = 1 − KM(t−)` from the Kaplan–Meier of all the
/// data (unweighted, strata ignored; with (start, stop] data its risk sets
/// hold the rows entered before t, as R's cox.zph computes it), centred by
/// its mean over the events. With `u_t`, `M_t` the score and information
/// contributions of event time t, the augmented score is `(0, Σ g u_t)`
/// and the information `[[Σ M_t, Σ g M_t], [Σ g M_t, Σ g² M_t]]`; each
/// term is tested with the β block and its own columns, the global test
/// with all.
///
/// The sums come from one more pass over the fit's event-time layout
/// ([`EventTimes::weighted`]): g is a weight per event time, so no second
/// sweep over the rows' risk sets is needed.
pub(super) fn zph(
    times: &EventTimes,
    data: &CoxData,
    beta: &DVector<f64>,
    terms: &[(String, Vec<usize>)],
) -> Zph {
    let km = km_steps(data);
    let m = times.event_times();
    let raw: Vec<f64> = (0..m).map(|k| g_of(&km, times.time(k))).collect();
    let events: f64 = (0..m).map(|k| times.deaths_at(k)).sum();
    let gbar = (0..m).map(|k| times.deaths_at(k) * raw[k]).sum::<f64>() / events.max(1.0);
    let g: Vec<f64> = raw.iter().map(|v| v - gbar).collect();
    let sums = times.weighted(beta, &g);
    let p = beta.len();
    let mut u = DVector::<f64>::zeros(2 * p);
    let mut info = DMatrix::<f64>::zeros(2 * p, 2 * p);
    for a in 0..p {
        u[p + a] = sums.gu[a];
        for b in 0..p {
            info[(a, b)] = sums.info[(a, b)];
            info[(a, p + b)] = sums.gm[(a, b)];
            info[(p + a, b)] = sums.gm[(a, b)];
            info[(p + a, p + b)] = sums.ggm[(a, b)];
        }
    }
    tests(p, &u, &info, terms)
}

/// Each term's score test and the global one, from the augmented score
/// and information.
fn tests(p: usize, u: &DVector<f64>, info: &DMatrix<f64>, terms: &[(String, Vec<usize>)]) -> Zph {
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

#[cfg(test)]
impl Problem<'_> {
    /// [`zph`] from the reference sweep over the risk sets, event time by
    /// event time (what the pass's sums are tested against).
    pub(super) fn zph_reference(&self, beta: &DVector<f64>, terms: &[(String, Vec<usize>)]) -> Zph {
        let p = self.p;
        let n = self.d.stop.len();
        let km = km_steps(self.d);
        let events: Vec<usize> = (0..n).filter(|&i| self.d.event[i]).collect();
        let gbar = events
            .iter()
            .map(|&i| g_of(&km, self.d.stop[i]))
            .sum::<f64>()
            / events.len().max(1) as f64;
        let q = 2 * p;
        let mut u = DVector::<f64>::zeros(q);
        let mut info = DMatrix::<f64>::zeros(q, q);
        self.contributions(beta, |t, _, ut, mt| {
            let g = g_of(&km, t) - gbar;
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
        tests(p, &u, &info, terms)
    }
}
