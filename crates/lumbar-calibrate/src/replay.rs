//! Replay: a clinic's own patients under another progression rule
//! (`lumbar replay`).
//!
//! # Contract
//!
//! `replay(cohort, calibrated, alternative, settings)` simulates every
//! patient of `cohort` who has a baseline pain twice for each of
//! `settings.draws` posterior draws, once under the calibrated scenario's
//! programme (the rule the clinic used) and once under `alternative`'s
//! (its items and rules; the population and dynamics are the posterior
//! draw's), on the same random numbers. Returns, per site and for the
//! cohort, per week: pain, responders, adherence, safety events and
//! dropout under each rule, and the difference with a 90% interval; and
//! each patient's effective sample size. Deterministic given the seed at
//! any thread count (each draw and patient has its own stream).
//!
//! # Method
//!
//! * **What a patient keeps.** Baseline pain (the patients table's, else
//!   the week-0 NRS), stenosis and site, taken as the model's values.
//!   Enrolment and follow-up enter through the history below.
//! * **What is drawn.** The latent traits (natural-course plateau,
//!   adherence propensity, response, flare rate, dropout hazard, capacity,
//!   walking median): for posterior draw θ_d, `candidates` trait vectors
//!   from the population of θ_d, importance-weighted by the likelihood of
//!   the patient's own logged history, and one kept by its weight
//!   (sampling–importance–resampling, Rubin 1988, in *Bayesian Statistics
//!   3*: 395–402). The patient's effective sample size, (Σw)²/Σw², says how
//!   much their history narrowed the population (1 = one candidate
//!   explains it; `candidates` = the history says nothing).
//! * **The likelihood** is the simulator's own model of what was logged,
//!   over the days the patient was followed (enrolment to the store's last
//!   date, at most the horizon):
//!   - *adherence and dropout*: each day the patient may leave with the
//!     dropout hazard h (for good); a patient still in exercises on a
//!     scheduled day with p = a·exp(−slope·max(0, r − onset)), r the mean
//!     pain during their last three logged exercise days (as the engine's
//!     `adherence_pain_slope`). The sequence of logged exercise days is
//!     scored by the forward recursion over (in, left); a day with
//!     sessions counts as scheduled;
//!   - *pain*: each measured NRS on day t ≥ 1 is normal around the model's
//!     underlying pain b·(π + (1 − π)e^(−t/7τ)) − benefit, the benefit from
//!     the patient's own completed sessions, with SD √(0.8² + 0.5²/12)
//!     (the measurement error of [`lumbar_sim::observed::NRS_ERROR_SD`] and
//!     rounding to halves), a mixture with the flare's extra pain at the
//!     stationary share of flare days. Clamping at 0 and 10 is ignored.
//!
//!   Capacity and walking are not conditioned (drawn from the population).
//! * **Pairing.** Both rules simulate patient i of draw d on the same
//!   streams (the course streams keyed by one replay key, not the
//!   scenario's name), so where the rules agree the courses agree.
//! * **Intervals.** The per-draw differences vary with θ_d (posterior), the
//!   kept traits (the patients' conditional uncertainty) and the course
//!   (Monte Carlo); a difference's interval is their 5% and 95% quantiles
//!   over the draws, its estimate their mean.

use chrono::NaiveDate;
use lumbar_model::cohort::Cohort;
use lumbar_sim::engine::{
    FixedPatient, RunParams, Traits, plan_runs, scheduled_on, simulate_fixed,
};
use lumbar_sim::observed::NRS_ERROR_SD;
use lumbar_sim::scenario::{Dynamics, Scenario};
use lumbar_sim::tally::{Tally, WeekTally};
use rand::{RngExt, SeedableRng};
use rayon::prelude::*;
use serde::Serialize;

use crate::{CalibrateError, weighted_quantile};

/// How to replay.
#[derive(Debug, Clone, Copy)]
pub struct ReplaySettings {
    /// Posterior draws (rows of the calibrated scenario's `[psa.joint]`,
    /// in turn).
    pub draws: u32,
    /// Trait candidates per patient and draw.
    pub candidates: usize,
    pub seed: u64,
}

/// One logged day of a patient.
#[derive(Debug, Clone, Copy, Default)]
struct DayLog {
    exercised: bool,
    completed: u32,
    during_sum: f64,
    during_n: u32,
}

/// What a patient's traits are conditioned on.
#[derive(Debug, Clone)]
pub struct History {
    pub id: String,
    pub site: usize,
    pub baseline_pain: f64,
    pub stenosis: bool,
    /// Days followed: enrolment to the store's last date, at most the horizon.
    days: Vec<DayLog>,
    /// Measured NRS on day ≥ 1: (day, value).
    nrs: Vec<(u32, f64)>,
}

/// The cohort's patients with what they logged over `weeks`; the site
/// names (sorted); and the patients left out (no baseline pain).
pub fn histories(cohort: &Cohort, weeks: u32) -> (Vec<History>, Vec<String>, usize) {
    let horizon = weeks as i64 * 7;
    let last = cohort
        .sessions
        .iter()
        .map(|s| s.performed_at.date())
        .chain(cohort.outcomes.iter().map(|o| o.date))
        .max();
    let mut sites: Vec<String> = cohort.patients.iter().map(|p| p.site.clone()).collect();
    sites.sort();
    sites.dedup();
    let day_of = |enrolled: NaiveDate, d: NaiveDate| (d - enrolled).num_days();
    let mut all: Vec<Option<History>> = cohort
        .patients
        .iter()
        .map(|p| {
            let followed = last.map_or(0, |l| (day_of(p.enrolled_on, l) + 1).clamp(0, horizon));
            Some(History {
                id: p.id.clone(),
                site: sites.binary_search(&p.site).unwrap_or(0),
                baseline_pain: p.baseline_pain.unwrap_or(f64::NAN),
                stenosis: p.stenosis.unwrap_or(false),
                days: vec![DayLog::default(); followed as usize],
                nrs: Vec::new(),
            })
        })
        .collect();
    for s in &cohort.sessions {
        let Some(Some(h)) = all.get_mut(s.patient) else {
            continue;
        };
        let day = day_of(
            cohort.patients[s.patient].enrolled_on,
            s.performed_at.date(),
        );
        if let Some(d) = usize::try_from(day).ok().and_then(|i| h.days.get_mut(i)) {
            d.exercised = true;
            d.completed += (s.completed == Some(true)) as u32;
            if let Some(p) = s.pain_during {
                d.during_sum += p;
                d.during_n += 1;
            }
        }
    }
    for o in cohort.outcomes.iter().filter(|o| o.measure == "nrs_pain") {
        let Some(Some(h)) = all.get_mut(o.patient) else {
            continue;
        };
        let day = day_of(cohort.patients[o.patient].enrolled_on, o.date);
        if day == 0 && h.baseline_pain.is_nan() {
            h.baseline_pain = o.value;
        } else if day >= 1 && (day as usize) < h.days.len() {
            // Only days followed are scored (the likelihood walks them in order).
            h.nrs.push((day as u32, o.value));
        }
    }
    for h in all.iter_mut().flatten() {
        h.nrs.sort_by_key(|&(day, _)| day);
    }
    let mut skipped = 0;
    for h in all.iter_mut() {
        if h.as_ref().is_some_and(|h| !h.baseline_pain.is_finite()) {
            *h = None;
            skipped += 1;
        }
    }
    (all.into_iter().flatten().collect(), sites, skipped)
}

/// The log-likelihood of a patient's history given traits `t` under
/// dynamics `d` (see the module's doc). `items_on[k]`: the items
/// scheduled on day k mod 7.
fn log_likelihood(h: &History, t: &Traits, d: &Dynamics, items_on: &[u32; 7]) -> f64 {
    let benefit_max = d.exercise_benefit / (1.0 - (-84.0 / d.exercise_k_days).exp());
    let mean_flare = 0.5 * (d.flare_min_days + d.flare_max_days) as f64;
    let flare_share = t.flare_rate * mean_flare / (1.0 + t.flare_rate * mean_flare);
    let var = NRS_ERROR_SD * NRS_ERROR_SD + 0.25 / 12.0;
    let (mut ll, mut alive, mut left) = (0.0f64, 1.0f64, 0.0f64);
    let mut recent = [0.0f64; 3];
    let mut recent_n = 0usize;
    let mut adherent_days = 0.0f64;
    let mut benefit = 0.0f64;
    let mut nrs = h.nrs.iter().peekable();
    for (day, log) in h.days.iter().enumerate() {
        // The NRS measured today, from the underlying pain before today's sessions.
        while let Some(&&(at, y)) = nrs.peek() {
            if at as usize > day {
                break;
            }
            if at as usize == day {
                let natural = t.plateau
                    + (1.0 - t.plateau) * (-(day as f64 / 7.0) / d.natural_tau_weeks).exp();
                let mu = (h.baseline_pain * natural - benefit).max(0.0);
                let dens = |m: f64| (-(y - m) * (y - m) / (2.0 * var)).exp();
                let p = (1.0 - flare_share) * dens(mu) + flare_share * dens(mu + d.flare_pain);
                ll += p.max(1e-300).ln() - 0.5 * (2.0 * std::f64::consts::PI * var).ln();
            }
            nrs.next();
        }
        let scheduled = items_on[day % 7];
        let mean_recent = if recent_n == 0 {
            0.0
        } else {
            recent[..recent_n].iter().sum::<f64>() / recent_n as f64
        };
        let excess = (mean_recent - d.adherence_pain_onset).max(0.0);
        let p = (t.adherence * (-d.adherence_pain_slope * excess).exp()).clamp(0.0, 1.0);
        let stay = alive * (1.0 - t.dropout);
        let (a, b) = if log.exercised {
            (stay * p, 0.0)
        } else if scheduled > 0 {
            (stay * (1.0 - p), left + alive * t.dropout)
        } else {
            (stay, left + alive * t.dropout)
        };
        let scale = a + b;
        if scale <= 0.0 {
            return f64::NEG_INFINITY;
        }
        ll += scale.ln();
        (alive, left) = (a / scale, b / scale);
        if log.during_n > 0 {
            recent.rotate_right(1);
            recent[0] = log.during_sum / log.during_n as f64;
            recent_n = (recent_n + 1).min(3);
        }
        if log.completed > 0 {
            let of = scheduled.max(log.completed) as f64;
            adherent_days += log.completed as f64 / of;
            benefit = benefit_max * t.response * (1.0 - (-adherent_days / d.exercise_k_days).exp());
        }
    }
    ll
}

/// A patient's stream for draw d: (seed, draw, patient) as a ChaCha8 key.
fn patient_rng(seed: u64, draw: u32, patient: usize) -> rand_chacha::ChaCha8Rng {
    let mut key = [0u8; 32];
    key[..8].copy_from_slice(&seed.to_le_bytes());
    key[8..16].copy_from_slice(&(draw as u64).to_le_bytes());
    key[16..24].copy_from_slice(&(patient as u64).to_le_bytes());
    key[24..].copy_from_slice(b"replay\0\0");
    rand_chacha::ChaCha8Rng::from_seed(key)
}

/// The course streams' key of both rules: one key, so the runs pair.
const PAIRING: u64 = 0x7265_706c_6179_0000; // "replay"

/// The measures of a week, from a tally's week.
pub const MEASURES: [&str; 5] = [
    "pain",
    "responders",
    "adherence",
    "safety_events_per_100_patients",
    "dropped",
];

fn measures(w: &WeekTally) -> [f64; 5] {
    let n = w.patients as f64;
    let per = |x: u64| if n > 0.0 { x as f64 / n } else { f64::NAN };
    [
        if n > 0.0 {
            w.pain_sum as f64 / 1e4 / n
        } else {
            f64::NAN
        },
        per(w.responders),
        if w.scheduled > 0 {
            w.completed as f64 / w.scheduled as f64
        } else {
            f64::NAN
        },
        100.0 * per(w.safety_events),
        per(w.dropped),
    ]
}

/// One row of the replay: a site (or `all`), a week and a measure.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct ReplayRow {
    pub site: String,
    pub week: u32,
    pub measure: String,
    pub observed_rule: f64,
    pub alternative: f64,
    pub difference: f64,
    pub lower: f64,
    pub upper: f64,
}

/// A replayed patient's effective sample size: the mean over draws, and
/// the smallest.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct PatientFit {
    pub patient_id: String,
    pub site: String,
    pub ess_mean: f64,
    pub ess_min: f64,
}

#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct SiteSize {
    pub site: String,
    pub patients: usize,
}

#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct ReplayDiagnostics {
    pub draws: u32,
    pub candidates: usize,
    pub patients: usize,
    pub skipped_no_baseline: usize,
    pub patient_days: u64,
    pub seconds: f64,
}

/// The replay's result (`replay.json`'s content, less the patients).
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct Replay {
    pub sites: Vec<SiteSize>,
    pub rows: Vec<ReplayRow>,
    #[serde(skip)]
    pub patients: Vec<PatientFit>,
    pub diagnostics: ReplayDiagnostics,
}

/// Replays the cohort's patients under the alternative rule (see the module's doc).
pub fn replay(
    cohort: &Cohort,
    calibrated: &Scenario,
    alternative: &Scenario,
    settings: &ReplaySettings,
) -> Result<Replay, CalibrateError> {
    let started = std::time::Instant::now();
    let draws = settings.draws.max(1);
    let k = settings.candidates.max(1);
    let observed_rule = calibrated.with_seed(settings.seed)?;
    let alternative = alternative
        .with_weeks(calibrated.weeks)?
        .with_seed(settings.seed)?;
    let (hist, sites, skipped) = histories(cohort, calibrated.weeks);
    let groups = sites.len();
    // The posterior draws: the calibrated scenario's PSA rows in turn (or
    // its point values in every draw when it has none).
    let mut s = observed_rule.clone();
    s.replications = 1;
    if let Some(p) = s.psa.as_mut() {
        p.draws = draws;
    }
    let planned = plan_runs(&s)?;
    let runs: Vec<RunParams> = (0..draws)
        .map(|d| RunParams {
            run: d,
            draw: d,
            ..planned[d as usize % planned.len()].clone()
        })
        .collect();
    let items_on = scheduled_on(&observed_rule).map(|bits| bits.count_ones());
    type DrawResult = (Vec<[[f64; 5]; 2]>, Vec<f64>);
    // Draws in chunks, so that memory holds a chunk's per-patient ESS, not
    // draws × patients of them; each patient's ESS is summed as it comes.
    let mut results: Vec<Vec<[[f64; 5]; 2]>> = Vec::with_capacity(runs.len());
    let mut ess_sum = vec![0.0f64; hist.len()];
    let mut ess_min = vec![f64::INFINITY; hist.len()];
    for chunk in runs.chunks(64) {
        let per_draw: Vec<Result<DrawResult, CalibrateError>> = chunk
            .par_iter()
            .map(|params| {
                let mut ess = Vec::with_capacity(hist.len());
                let mut fixed = Vec::with_capacity(hist.len());
                let mut cands = Vec::with_capacity(k);
                let mut ll = Vec::with_capacity(k);
                for (i, h) in hist.iter().enumerate() {
                    let mut rng = patient_rng(settings.seed, params.draw, i);
                    cands.clear();
                    ll.clear();
                    for _ in 0..k {
                        let t = Traits::draw(&params.population, &mut rng)
                            .map_err(CalibrateError::Replay)?;
                        ll.push(log_likelihood(h, &t, &params.dynamics, &items_on));
                        cands.push(t);
                    }
                    let top = ll.iter().cloned().fold(f64::NEG_INFINITY, f64::max);
                    let w: Vec<f64> = if top.is_finite() {
                        ll.iter().map(|l| (l - top).exp()).collect()
                    } else {
                        vec![1.0; k] // nothing explains the history: the population
                    };
                    let (sw, sw2) = w.iter().fold((0.0, 0.0), |(a, b), x| (a + x, b + x * x));
                    ess.push(if top.is_finite() { sw * sw / sw2 } else { 0.0 });
                    let mut at = rng.random::<f64>() * sw;
                    let mut pick = k - 1;
                    for (j, x) in w.iter().enumerate() {
                        if at < *x {
                            pick = j;
                            break;
                        }
                        at -= x;
                    }
                    fixed.push(FixedPatient {
                        baseline_pain: h.baseline_pain,
                        stenosis: h.stenosis,
                        traits: cands[pick],
                        group: h.site,
                    });
                }
                let a = simulate_fixed(&observed_rule, params, &fixed, groups, PAIRING)?;
                let b = simulate_fixed(&alternative, params, &fixed, groups, PAIRING)?;
                // Per group (the sites, then all) and week: both rules' measures.
                let total = |t: &[Tally]| {
                    let mut all = t[0].clone();
                    for x in &t[1..] {
                        all.add(x);
                    }
                    all
                };
                let (mut a, mut b) = (a, b);
                if groups > 0 {
                    let (ta, tb) = (total(&a), total(&b));
                    a.push(ta);
                    b.push(tb);
                }
                let mut out = Vec::new();
                for (ga, gb) in a.iter().zip(&b) {
                    for (wa, wb) in ga.weeks.iter().zip(&gb.weeks) {
                        out.push([measures(wa), measures(wb)]);
                    }
                }
                Ok((out, ess))
            })
            .collect();
        for r in per_draw {
            let (rows, ess) = r?;
            for (i, e) in ess.into_iter().enumerate() {
                ess_sum[i] += e;
                ess_min[i] = ess_min[i].min(e);
            }
            results.push(rows);
        }
    }
    let weeks = calibrated.weeks as usize + 1;
    let mut names = sites.clone();
    names.push("all".into());
    let mut rows = Vec::new();
    let eq = vec![1.0; results.len()];
    for (g, site) in names
        .iter()
        .enumerate()
        .take(if groups > 0 { groups + 1 } else { 0 })
    {
        for w in 0..weeks {
            for (m, measure) in MEASURES.iter().enumerate() {
                if w == 0 && m != 0 && m != 4 {
                    continue; // week 0 has no sessions and no responders yet
                }
                let at = g * weeks + w;
                let va: Vec<f64> = results.iter().map(|r| r[at][0][m]).collect();
                let vb: Vec<f64> = results.iter().map(|r| r[at][1][m]).collect();
                let diff: Vec<f64> = va.iter().zip(&vb).map(|(a, b)| b - a).collect();
                let mean = |v: &[f64]| {
                    let f: Vec<f64> = v.iter().copied().filter(|x| x.is_finite()).collect();
                    if f.is_empty() {
                        f64::NAN
                    } else {
                        f.iter().sum::<f64>() / f.len() as f64
                    }
                };
                rows.push(ReplayRow {
                    site: site.clone(),
                    week: w as u32,
                    measure: measure.to_string(),
                    observed_rule: mean(&va),
                    alternative: mean(&vb),
                    difference: mean(&diff),
                    lower: weighted_quantile(&diff, &eq, 0.05),
                    upper: weighted_quantile(&diff, &eq, 0.95),
                });
            }
        }
    }
    let patients = hist
        .iter()
        .enumerate()
        .map(|(i, h)| PatientFit {
            patient_id: h.id.clone(),
            site: sites[h.site].clone(),
            ess_mean: ess_sum[i] / draws as f64,
            ess_min: ess_min[i],
        })
        .collect();
    let site_sizes = sites
        .iter()
        .enumerate()
        .map(|(g, s)| SiteSize {
            site: s.clone(),
            patients: hist.iter().filter(|h| h.site == g).count(),
        })
        .collect();
    Ok(Replay {
        sites: site_sizes,
        rows,
        patients,
        diagnostics: ReplayDiagnostics {
            draws,
            candidates: k,
            patients: hist.len(),
            skipped_no_baseline: skipped,
            patient_days: 2 * draws as u64 * hist.len() as u64 * (calibrated.days() as u64 + 1),
            seconds: started.elapsed().as_secs_f64(),
        },
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn traits(adherence: f64, dropout: f64) -> Traits {
        Traits {
            plateau: 0.5,
            adherence,
            response: 1.0,
            flare_rate: 0.0,
            dropout,
            capacity: 1.0,
            walking: 30.0,
        }
    }

    fn history(exercised: &[bool]) -> History {
        History {
            id: "p".into(),
            site: 0,
            baseline_pain: 6.0,
            stenosis: false,
            days: exercised
                .iter()
                .map(|&e| DayLog {
                    exercised: e,
                    ..DayLog::default()
                })
                .collect(),
            nrs: Vec::new(),
        }
    }

    #[test]
    fn the_adherence_likelihood_is_the_closed_form() {
        let d = Dynamics::default();
        let every_day = [1u32; 7];
        // No dropout: a Bernoulli sequence, p^3 (1 − p)^2.
        let h = history(&[true, false, true, true, false]);
        let ll = log_likelihood(&h, &traits(0.7, 0.0), &d, &every_day);
        assert!((ll - (0.7f64.powi(3) * 0.3f64.powi(2)).ln()).abs() < 1e-12);
        // With a hazard h: the last exercise day is day 1 of 3, then the
        // patient either left (on day 2) or stayed and did not exercise.
        let (p, q) = (0.6, 0.1);
        let h = history(&[true, true, false]);
        let ll = log_likelihood(&h, &traits(p, q), &d, &every_day);
        let stay = 1.0 - q;
        let want = (stay * p) * (stay * p) * (q + stay * (1.0 - p));
        assert!((ll - want.ln()).abs() < 1e-12, "{ll} vs {}", want.ln());
        // A day with nothing scheduled and nothing logged costs only the hazard.
        let none = [0u32; 7];
        let h = history(&[false, false]);
        let ll = log_likelihood(&h, &traits(p, q), &d, &none);
        assert!(ll.abs() < 1e-12, "{ll}");
    }

    #[test]
    fn the_pain_likelihood_is_normal_around_the_natural_course() {
        let d = Dynamics::default();
        let mut h = history(&[false; 8]);
        h.nrs = vec![(7, 4.5)];
        let t = traits(0.0, 0.0);
        let ll = log_likelihood(&h, &t, &d, &[0u32; 7]);
        let mu = 6.0 * (0.5 + 0.5 * (-1.0 / d.natural_tau_weeks).exp());
        let var = 0.64 + 0.25 / 12.0;
        let want =
            -(4.5 - mu) * (4.5 - mu) / (2.0 * var) - 0.5 * (2.0 * std::f64::consts::PI * var).ln();
        assert!((ll - want).abs() < 1e-12, "{ll} vs {want}");
    }
}
