//! Calibration targets: summaries of a cohort that a simulator's cohort can
//! be held against, each with its sampling standard error, computed by the
//! same code for an observed store and a simulated cohort (anything that is
//! a [`CohortSource`]). Issue 17, item 2 (first targets).
//!
//! Weeks are programme weeks: week w is days 7w … 7w + 6 after the
//! patient's enrolment.
//!
//! * `nrs_mean_week_W`, `nrs_sd_week_W`: the NRS pain scores measured on
//!   day 7W. SE of the mean s/√n; SE of the SD s/√(2(n − 1)) (its normal-
//!   theory large-sample value).
//! * `nrs_change_week_W` (W ≥ 1): the mean within-patient change of NRS
//!   from week 0 to week W, over patients measured at both; SE s/√n.
//! * `safety_events_per_100_sessions`: exercises continued at pain during ≥
//!   the regimen's stop level, per 100 logged exercises. A ratio of sums
//!   over patients, so its SE is the cluster (patient) linearisation of a
//!   ratio estimator (Cochran 1977, *Sampling Techniques*, §6.4):
//!   `SE(R) = √(m/(m − 1) · Σ (e_i − R·n_i)²) / Σ n_i`, × 100.
//! * `unsuitable_share`: of the (patient, exercise) pairs ever logged, the
//!   share flagged unsuitable (pain persisting past the regimen's limit);
//!   the same ratio SE with patients as clusters.
//! * `exercise_days_share_week_W` (W = 0 … horizon − 1): the mean over
//!   patients followed through week W of the share of its 7 days with a
//!   logged session; SE s/√n.
//! * `next_day_exercise_after_painful_minus_other`: the share of days
//!   after a session day with mean pain during ≥ 5 on which the patient
//!   logs a session again, minus the same share after other session days
//!   (the fall of adherence after painful sessions); the SE of a
//!   difference of two cluster ratios, linearised per patient.
//! * `still_logging_week_W` (W = 1 … the horizon): Kaplan–Meier of the
//!   last logged session (days after enrolment), a patient's last day of
//!   follow-up (the horizon, or the data's last session day if earlier)
//!   censoring it; Greenwood's SE. A patient whose last session falls in
//!   the final week of their follow-up is censored there, not a dropout.
//! * `exercise_days_share_q25|q50|q75_weeks_A_B`: the quartiles over
//!   patients followed through weeks A … B (blocks of four programme
//!   weeks) of the share of those days with a logged session, by Harrell
//!   & Davis (1982). Weekly quartiles of a 0–7 count are mostly ties, and
//!   a sample quantile of tied values jumps in steps of 1/28 and has a
//!   degenerate bootstrap SE; the Harrell–Davis estimate over blocks of
//!   28 days moves smoothly and carries adherence's spread over time.
//! * `nrs_lmm_slope`, `nrs_lmm_slope_sd`: the mixed model
//!   `nrs ~ week + (week | patient)` by REML (as lme4) over the NRS of
//!   programme weeks 0 … horizon: the mean slope (SE: the model's) and the
//!   SD of the patients' slopes.
//! * `ladder_rung_week_W`: over patients logging a rung of a regimen
//!   ladder in week W, the mean of their rung positions that week
//!   (0 = the easiest rung); SE s/√n. A move that is also a ladder's first
//!   rung (abdominal bracing) counts as rung 0, so a programme without
//!   ladders gives rungs of 0 without spread: an SE of 0, a target that
//!   calibration leaves out.
//!
//! A target whose SE has no closed form here (the quartiles, the slopes'
//! SD) carries `se = NaN`; calibration takes its SE from the bootstrap of
//! patients it makes for the targets' covariance.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

use chrono::NaiveDate;
use lumbar_model::Regimen;
use lumbar_model::cohort::{Cohort, CohortSource, Session, SessionSink};
use serde::Serialize;

use crate::describe::harrell_davis;
use crate::lmm::{self, LmmData, Method, RandomEffects};
use crate::survival::kaplan_meier;

/// One summary with its standard error.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Target {
    pub name: String,
    pub observed: f64,
    pub se: f64,
    /// Patients (or measurements) it rests on.
    pub n: usize,
}

/// Per patient: exercises logged, safety events, the exercises done and
/// flagged, and the last day with a session.
#[derive(Debug, Clone, Default)]
struct PatientTally {
    sessions: u64,
    events: u64,
    /// Distinct exercises (a patient has a handful: a list beats a hash).
    done: Vec<Arc<str>>,
    flagged: Vec<Arc<str>>,
    last_day: Option<i64>,
    days: Days,
    /// Per programme week: (sum, count) of the rung positions logged.
    rungs: BTreeMap<i64, (f64, u32)>,
}

/// Adds `x` to a list of distinct exercises.
fn add_distinct(v: &mut Vec<Arc<str>>, x: &Arc<str>) {
    if !v.iter().any(|e| Arc::ptr_eq(e, x) || **e == **x) {
        v.push(x.clone());
    }
}

/// Per day after enrolment with a session, in day order: (day, sum and
/// count of pain during). Sessions come in time order, so a day is
/// almost always the last one or a new last one.
#[derive(Debug, Clone, Default)]
struct Days(Vec<(i64, f64, u32)>);

impl Days {
    fn entry(&mut self, day: i64) -> &mut (i64, f64, u32) {
        let v = &mut self.0;
        let at = match v.last() {
            Some(l) if l.0 == day => v.len() - 1,
            Some(l) if l.0 > day => match v.binary_search_by_key(&day, |e| e.0) {
                Ok(i) => i,
                Err(i) => {
                    v.insert(i, (day, 0.0, 0));
                    i
                }
            },
            _ => {
                v.push((day, 0.0, 0));
                v.len() - 1
            }
        };
        &mut v[at]
    }
    /// Days with a session in `from..to`.
    fn count_in(&self, from: i64, to: i64) -> usize {
        let v = &self.0;
        v.partition_point(|e| e.0 < to) - v.partition_point(|e| e.0 < from)
    }
    fn contains(&self, day: i64) -> bool {
        self.0.binary_search_by_key(&day, |e| e.0).is_ok()
    }
}

/// The session part of the targets, as a sink.
struct TargetTally<'a> {
    cohort: &'a Cohort,
    rules: lumbar_model::SafetyRules,
    /// A ladder rung's key and its position on its ladder.
    rung_of: &'a [(&'a str, usize)],
    /// By patient index.
    patients: Vec<PatientTally>,
    /// The latest session day in the data (the cut-off).
    cutoff: Option<NaiveDate>,
}

impl SessionSink for TargetTally<'_> {
    fn sessions_span(&mut self, _first: NaiveDate, last: NaiveDate) {
        self.cutoff = Some(last);
    }
    fn session(&mut self, s: &Session) {
        let enrolled = self.cohort.patients[s.patient].enrolled_on;
        let p = &mut self.patients[s.patient];
        p.sessions += 1;
        if let Some(d) = s.pain_during {
            p.events += self.rules.is_safety_event(d, !s.continued()) as u64;
        }
        add_distinct(&mut p.done, &s.exercise);
        if s.pain_persist_min
            .is_some_and(|m| self.rules.is_unsuitable(m))
        {
            add_distinct(&mut p.flagged, &s.exercise);
        }
        let day = (s.performed_at.date() - enrolled).num_days();
        p.last_day = Some(p.last_day.map_or(day, |d| d.max(day)));
        let e = p.days.entry(day);
        if let Some(d) = s.pain_during {
            e.1 += d;
            e.2 += 1;
        }
        if let Some(&(_, r)) = self.rung_of.iter().find(|(k, _)| *k == &*s.exercise) {
            let e = p.rungs.entry(day.div_euclid(7)).or_insert((0.0, 0));
            e.0 += r as f64;
            e.1 += 1;
        }
    }
    fn merge(&mut self, later: Self) {
        for (p, v) in self.patients.iter_mut().zip(later.patients) {
            if v.sessions == 0 {
                continue;
            }
            p.sessions += v.sessions;
            p.events += v.events;
            for x in &v.done {
                add_distinct(&mut p.done, x);
            }
            for x in &v.flagged {
                add_distinct(&mut p.flagged, x);
            }
            for (d, sum, n) in v.days.0 {
                let e = p.days.entry(d);
                e.1 += sum;
                e.2 += n;
            }
            for (w, (sum, n)) in v.rungs {
                let e = p.rungs.entry(w).or_insert((0.0, 0));
                e.0 += sum;
                e.1 += n;
            }
            p.last_day = match (p.last_day, v.last_day) {
                (Some(a), Some(b)) => Some(a.max(b)),
                (a, b) => a.or(b),
            };
        }
        self.cutoff = self.cutoff.max(later.cutoff);
    }
}

/// A ratio of sums over clusters, Σ y_i / Σ x_i, with its linearised
/// cluster SE (see the module's doc). `None` when Σ x = 0.
fn ratio(pairs: &[(f64, f64)]) -> Option<(f64, f64)> {
    let (sy, sx): (f64, f64) = pairs
        .iter()
        .fold((0.0, 0.0), |(a, b), (y, x)| (a + y, b + x));
    if sx <= 0.0 {
        return None;
    }
    let r = sy / sx;
    let m = pairs.len() as f64;
    let ss: f64 = pairs.iter().map(|(y, x)| (y - r * x).powi(2)).sum();
    let se = if m > 1.0 {
        (m / (m - 1.0) * ss).sqrt() / sx
    } else {
        f64::NAN
    };
    Some((r, se))
}

/// The mean of `v` and its SE s/√n; `None` under two values.
fn mean_se(v: &[f64]) -> Option<(f64, f64)> {
    let n = v.len();
    if n < 2 {
        return None;
    }
    let mean = v.iter().sum::<f64>() / n as f64;
    let sd = (v.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / (n - 1) as f64).sqrt();
    Some((mean, sd / (n as f64).sqrt()))
}

/// The targets of a cohort over `weeks` programme weeks.
pub fn targets<S: CohortSource>(
    source: &S,
    regimen: &Regimen,
    weeks: u32,
) -> Result<Vec<Target>, S::Error> {
    let cohort = source.cohort_without_sessions()?;
    let rung_of: Vec<(&str, usize)> = regimen
        .ladders
        .iter()
        .flat_map(|l| l.rungs.iter().enumerate().map(|(i, r)| (r.key.as_str(), i)))
        .collect();
    let (tally, _) = source.stream_sessions(&cohort.index(), || TargetTally {
        cohort: &cohort,
        rules: regimen.safety,
        rung_of: &rung_of,
        patients: vec![PatientTally::default(); cohort.patients.len()],
        cutoff: None,
    })?;
    let mut out = Vec::new();

    // Weekly NRS.
    let mut by_week: Vec<Vec<f64>> = vec![Vec::new(); weeks as usize + 1];
    for o in cohort.outcomes.iter().filter(|o| o.measure == "nrs_pain") {
        let days = (o.date - cohort.patients[o.patient].enrolled_on).num_days();
        if days >= 0 && days % 7 == 0 && days / 7 <= weeks as i64 {
            by_week[(days / 7) as usize].push(o.value);
        }
    }
    for (w, v) in by_week.iter().enumerate() {
        let n = v.len();
        if n < 2 {
            continue;
        }
        let mean = v.iter().sum::<f64>() / n as f64;
        let sd = (v.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / (n - 1) as f64).sqrt();
        out.push(Target {
            name: format!("nrs_mean_week_{w}"),
            observed: mean,
            se: sd / (n as f64).sqrt(),
            n,
        });
        out.push(Target {
            name: format!("nrs_sd_week_{w}"),
            observed: sd,
            se: sd / (2.0 * (n - 1) as f64).sqrt(),
            n,
        });
    }

    // Weekly change from week 0, within patients: free of the cohort's
    // draw of baseline levels, so it speaks to the course and the benefit.
    let mut per_patient: HashMap<usize, Vec<(i64, f64)>> = HashMap::new();
    for o in cohort.outcomes.iter().filter(|o| o.measure == "nrs_pain") {
        let days = (o.date - cohort.patients[o.patient].enrolled_on).num_days();
        if days >= 0 && days % 7 == 0 && days / 7 <= weeks as i64 {
            per_patient
                .entry(o.patient)
                .or_default()
                .push((days / 7, o.value));
        }
    }
    let mut patients: Vec<&usize> = per_patient.keys().collect();
    patients.sort();
    for w in 1..=weeks as i64 {
        let diffs: Vec<f64> = patients
            .iter()
            .filter_map(|p| {
                let v = &per_patient[*p];
                let at = |k: i64| v.iter().find(|(x, _)| *x == k).map(|(_, y)| *y);
                Some(at(w)? - at(0)?)
            })
            .collect();
        let n = diffs.len();
        if n < 2 {
            continue;
        }
        let mean = diffs.iter().sum::<f64>() / n as f64;
        let sd = (diffs.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / (n - 1) as f64).sqrt();
        out.push(Target {
            name: format!("nrs_change_week_{w}"),
            observed: mean,
            se: sd / (n as f64).sqrt(),
            n,
        });
    }

    // Sessions: safety events and unsuitable moves, patients as clusters.
    // Patients with sessions, in index order (sums in a fixed order: the
    // same bits on any threads).
    let per: Vec<(usize, &PatientTally)> = tally
        .patients
        .iter()
        .enumerate()
        .filter(|(_, p)| p.sessions > 0)
        .collect();
    let events: Vec<(f64, f64)> = per
        .iter()
        .map(|(_, p)| (p.events as f64, p.sessions as f64))
        .collect();
    if let Some((r, se)) = ratio(&events) {
        out.push(Target {
            name: "safety_events_per_100_sessions".into(),
            observed: 100.0 * r,
            se: 100.0 * se,
            n: per.len(),
        });
    }
    let flags: Vec<(f64, f64)> = per
        .iter()
        .map(|(_, p)| (p.flagged.len() as f64, p.done.len() as f64))
        .collect();
    if let Some((r, se)) = ratio(&flags) {
        out.push(Target {
            name: "unsuitable_share".into(),
            observed: r,
            se,
            n: per.len(),
        });
    }

    // Exercise days per programme week, and the next day after a painful
    // session, over each patient's follow-up.
    let follow_of = |i: usize| -> i64 {
        let horizon = 7 * weeks as i64;
        match tally.cutoff {
            Some(c) => ((c - cohort.patients[i].enrolled_on).num_days() + 1).min(horizon),
            None => horizon,
        }
    };
    for w in 0..weeks as i64 {
        let shares: Vec<f64> = (0..cohort.patients.len())
            .filter(|&i| follow_of(i) >= 7 * (w + 1))
            .map(|i| tally.patients[i].days.count_in(7 * w, 7 * (w + 1)) as f64 / 7.0)
            .collect();
        let n = shares.len();
        if n < 2 {
            continue;
        }
        let mean = shares.iter().sum::<f64>() / n as f64;
        let sd = (shares.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / (n - 1) as f64).sqrt();
        out.push(Target {
            name: format!("exercise_days_share_week_{w}"),
            observed: mean,
            se: sd / (n as f64).sqrt(),
            n,
        });
    }
    // Per patient: (next day exercised, days) after a session whose mean
    // pain during was ≥ 5, and after one below 5.
    let mut after: Vec<[(f64, f64); 2]> = Vec::new();
    for (i, p) in &per {
        let follow = follow_of(*i);
        let mut a = [(0.0, 0.0); 2];
        for &(d, sum, n) in &p.days.0 {
            if n == 0 || d + 1 >= follow {
                continue;
            }
            let painful = (sum / n as f64 >= 5.0) as usize;
            a[painful].0 += p.days.contains(d + 1) as u8 as f64;
            a[painful].1 += 1.0;
        }
        after.push(a);
    }
    let (y0, x0): (f64, f64) = after
        .iter()
        .fold((0.0, 0.0), |s, a| (s.0 + a[0].0, s.1 + a[0].1));
    let (y1, x1): (f64, f64) = after
        .iter()
        .fold((0.0, 0.0), |s, a| (s.0 + a[1].0, s.1 + a[1].1));
    if x0 > 0.0 && x1 > 0.0 && after.len() > 1 {
        // A difference of two ratios with patients as clusters: each
        // patient's linearised contribution to both (Cochran 1977, §6.4).
        let (r0, r1) = (y0 / x0, y1 / x1);
        let m = after.len() as f64;
        let ss: f64 = after
            .iter()
            .map(|a| ((a[1].0 - r1 * a[1].1) / x1 - (a[0].0 - r0 * a[0].1) / x0).powi(2))
            .sum();
        out.push(Target {
            name: "next_day_exercise_after_painful_minus_other".into(),
            observed: r1 - r0,
            se: (m / (m - 1.0) * ss).sqrt(),
            n: after.len(),
        });
    }

    // Quartiles of adherence over blocks of four weeks.
    for a in (0..weeks as i64).step_by(4) {
        let b = (a + 3).min(weeks as i64 - 1);
        let mut shares: Vec<f64> = (0..cohort.patients.len())
            .filter(|&i| follow_of(i) >= 7 * (b + 1))
            .map(|i| {
                tally.patients[i].days.count_in(7 * a, 7 * (b + 1)) as f64
                    / (7 * (b - a + 1)) as f64
            })
            .collect();
        if shares.len() < 4 {
            continue;
        }
        shares.sort_by(f64::total_cmp);
        for (q, label) in [(0.25, "q25"), (0.5, "q50"), (0.75, "q75")] {
            out.push(Target {
                name: format!("exercise_days_share_{label}_weeks_{a}_{b}"),
                observed: harrell_davis(&shares, q),
                se: f64::NAN,
                n: shares.len(),
            });
        }
    }

    // Rungs over time, where ladder rungs are logged.
    for w in 0..weeks as i64 {
        let v: Vec<f64> = per
            .iter()
            .filter_map(|(_, p)| p.rungs.get(&w).map(|&(sum, n)| sum / n as f64))
            .collect();
        if let Some((mean, se)) = mean_se(&v) {
            out.push(Target {
                name: format!("ladder_rung_week_{w}"),
                observed: mean,
                se,
                n: v.len(),
            });
        }
    }

    // The mixed model of NRS over programme weeks.
    let mut d = LmmData {
        time_name: "week".into(),
        ..Default::default()
    };
    for o in cohort.outcomes.iter().filter(|o| o.measure == "nrs_pain") {
        let days = (o.date - cohort.patients[o.patient].enrolled_on).num_days();
        if (0..=7 * weeks as i64).contains(&days) {
            d.response.push(o.value);
            d.time.push(days as f64 / 7.0);
            d.group.push(cohort.patients[o.patient].id.clone());
        }
    }
    if let Ok(fit) = lmm::fit(&d, Method::Reml, RandomEffects::Slope) {
        let slope = fit.fixed.iter().find(|f| f.term == "week");
        if let (Some(slope), Some(sd)) = (slope, fit.random.sd_slope) {
            out.push(Target {
                name: "nrs_lmm_slope".into(),
                observed: slope.estimate,
                se: slope.std_error,
                n: fit.n_groups,
            });
            out.push(Target {
                name: "nrs_lmm_slope_sd".into(),
                observed: sd,
                se: f64::NAN,
                n: fit.n_groups,
            });
        }
    }

    // Still logging: the last session, censored at the end of follow-up.
    let horizon = 7 * weeks as i64;
    let (mut time, mut event) = (Vec::new(), Vec::new());
    for (i, p) in cohort.patients.iter().enumerate() {
        let follow = match tally.cutoff {
            Some(c) => ((c - p.enrolled_on).num_days()).min(horizon),
            None => horizon,
        };
        if follow <= 0 {
            continue;
        }
        let last = tally
            .patients
            .get(i)
            .and_then(|t| t.last_day)
            .unwrap_or(0)
            .min(follow);
        let dropped = last < follow - 7;
        time.push(if dropped { last as f64 } else { follow as f64 });
        event.push(dropped);
    }
    if !time.is_empty() {
        let km = kaplan_meier(&time, &event, None, None);
        for w in 1..=weeks {
            let at = km.at(7.0 * w as f64);
            out.push(Target {
                name: format!("still_logging_week_{w}"),
                observed: at.surv,
                se: at.std_err,
                n: time.len(),
            });
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use lumbar_model::cohort::MemoryCohort;

    /// A cohort by hand: `n` patients enrolled on one day, patient i
    /// logging `wall_push_up` (rung 0) on days 0..days[i] and
    /// `knee_push_up` (rung 2) on day 7 when i is odd.
    fn by_hand(days: &[i64]) -> MemoryCohort {
        let day0 = NaiveDate::from_ymd_opt(2025, 1, 6).unwrap();
        let at = |d: i64| {
            (day0 + chrono::Duration::days(d))
                .and_hms_opt(9, 0, 0)
                .unwrap()
        };
        let session = |patient: usize, d: i64, exercise: &str| Session {
            patient,
            performed_at: at(d),
            exercise: exercise.into(),
            level: None,
            side: None,
            sets: None,
            reps: None,
            hold_s: None,
            pain_during: Some(3.0),
            pain_after: None,
            pain_persist_min: Some(0.0),
            stopped_for_pain: Some(false),
            completed: Some(true),
        };
        let mut c = Cohort::default();
        for (i, &n) in days.iter().enumerate() {
            c.patients.push(lumbar_model::cohort::Patient {
                id: format!("P{i}"),
                site: "north".into(),
                enrolled_on: day0,
                ..Default::default()
            });
            for d in 0..n {
                c.sessions.push(session(i, d, "wall_push_up"));
                if d == 7 && i % 2 == 1 {
                    c.sessions.push(session(i, d, "knee_push_up"));
                }
            }
        }
        // One later session fixes the cut-off past the four weeks.
        c.sessions.push(session(0, 40, "wall_push_up"));
        MemoryCohort {
            cohort: c,
            walking: Vec::new(),
        }
    }

    #[test]
    fn quartiles_and_rungs_by_hand() {
        let days = [28, 21, 14, 7, 28, 21, 14, 7];
        let c = by_hand(&days);
        let Ok(t) = targets(&c, &Regimen::six_moves(), 6);
        let get = |name: &str| t.iter().find(|x| x.name == name).unwrap();
        // Weeks 0–3: shares 1, ¾, ½, ¼ twice over; the Harrell–Davis median.
        let mut shares: Vec<f64> = days.iter().map(|&d| d as f64 / 28.0).collect();
        shares.sort_by(f64::total_cmp);
        let q50 = get("exercise_days_share_q50_weeks_0_3");
        assert!((q50.observed - harrell_davis(&shares, 0.5)).abs() < 1e-15);
        assert!(q50.se.is_nan(), "left to the bootstrap");
        assert_eq!(q50.n, 8);
        // By symmetry of the shares the median is their mean, 0.625.
        assert!((q50.observed - 0.625).abs() < 1e-12);
        // Week 1 (days 7–13): the six patients logging then; patients 1
        // and 5 log rung 0 seven times and rung 2 once (mean 0.25), the
        // others rung 0 only.
        let r = get("ladder_rung_week_1");
        assert_eq!(r.n, 6);
        assert!((r.observed - 0.5 / 6.0).abs() < 1e-15);
        let sd =
            ((2.0 * (0.25f64 - 0.5 / 6.0).powi(2) + 4.0 * (0.5f64 / 6.0).powi(2)) / 5.0).sqrt();
        assert!((r.se - sd / 6f64.sqrt()).abs() < 1e-15);
        // Week 0: rung 0 for everyone, no spread.
        assert_eq!(get("ladder_rung_week_0").se, 0.0);
    }

    #[test]
    fn a_ratio_of_sums_has_the_cluster_linearised_se() {
        // Three patients: events / sessions 1/10, 0/10, 2/20: R = 3/40.
        let (r, se) = ratio(&[(1.0, 10.0), (0.0, 10.0), (2.0, 20.0)]).unwrap();
        assert!((r - 0.075).abs() < 1e-15);
        // Residuals e − R·n: 0.25, −0.75, 0.5; Σ² = 0.875; √(3/2 · 0.875)/40.
        let want = (1.5f64 * 0.875).sqrt() / 40.0;
        assert!((se - want).abs() < 1e-15, "{se} {want}");
        assert!(ratio(&[(0.0, 0.0)]).is_none());
    }

    #[test]
    fn equal_clusters_give_the_binomial_se_up_to_the_small_sample_factor() {
        // 100 patients, one exercise each, 20 flagged: R = 0.2 and the
        // cluster SE is √(m/(m−1)) · √(R(1−R)/m).
        let pairs: Vec<(f64, f64)> = (0..100).map(|i| ((i < 20) as u8 as f64, 1.0)).collect();
        let (r, se) = ratio(&pairs).unwrap();
        let binomial = (0.2f64 * 0.8 / 100.0).sqrt() * (100.0f64 / 99.0).sqrt();
        assert!((r - 0.2).abs() < 1e-15);
        assert!((se - binomial).abs() < 1e-12, "{se} {binomial}");
    }
}
