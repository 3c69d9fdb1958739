//! The numbers of a clinic's cohort report, for one site or the whole
//! service and an optional date window: cohort size and follow-up,
//! adherence (distribution, share adherent by site and by exercise), pain
//! and ODI over programme weeks (median, IQR, responders), safety events
//! and unsuitable-exercise flags by exercise, walking minutes, and the
//! walking-risk table when a follow-up cohort exists.
//!
//! Every group carries its patient count so that the report can suppress
//! small cells; nothing here names a patient.
//!
//! Programme week w of a patient is days 7w … 7w+6 after their programme
//! start (enrolment, or the store's first observed day if that is later);
//! a patient's value in a week is their first measurement in it, and the
//! baseline is their first measurement of the measure (before the window
//! too). Responders use the same rule as `lumbar analyze`
//! ([`crate::trends::Responder`]).
//!
//! A date window (`from`, `to`) restricts scheduled days and done days
//! alike, each patient's cut to their own programme start and last
//! follow-up ([`AdherenceTally::within`]). The report covers the patients
//! with something scheduled in it; the others are counted in
//! [`ClinicSummary::left_out`] and are in no other figure.
//!
//! Adherence by programme week, dropout, safety by month, prescribed
//! against performed dose and ladder progression are in [`programme`]; the programme as the regimen describes it, in CERT's
//! terms, in [`delivered`].

mod delivered;
mod programme;

pub use delivered::{Delivered, DeliveredExercise, DeliveredLadder};
use programme::ProgrammeTally;
pub use programme::{
    ABOVE, AdherenceWeek, BELOW, DoseByExercise, DropoutInterval, DropoutWeek, IN_RANGE,
    LadderProgress, LadderWeek, MAX_WEEKS, SafetyMonth, pooled,
};

use std::collections::{BTreeMap, HashSet};

use chrono::NaiveDate;
use lumbar_model::Regimen;
use serde::Serialize;

use crate::adherence::AdherenceTally;
use crate::describe::quantile;
use crate::prescription::Prescriptions;
use crate::risk::{Cuts, ExposureRules, HUNT_CUTS, RiskSpec, walking_exposure};
use crate::safety::SafetyTally;
use crate::trends::Responder;
use lumbar_model::cohort::{Cohort, CohortSource, Session, SessionSink, WalkingDay};

/// Which patients and dates the report covers.
#[derive(Debug, Clone)]
pub struct ClinicOptions {
    pub site: Option<String>,
    pub from: Option<NaiveDate>,
    pub to: Option<NaiveDate>,
    pub adherent: f64,
    pub responder: Responder,
}

impl Default for ClinicOptions {
    fn default() -> Self {
        ClinicOptions {
            site: None,
            from: None,
            to: None,
            adherent: 0.7,
            responder: Responder::default(),
        }
    }
}

/// Median and quartiles (type 7) of a group, with its size.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Spread {
    pub patients: usize,
    pub median: f64,
    pub q1: f64,
    pub q3: f64,
}

impl Spread {
    fn of(mut v: Vec<f64>) -> Option<Spread> {
        if v.is_empty() {
            return None;
        }
        v.sort_by(f64::total_cmp);
        Some(Spread {
            patients: v.len(),
            median: quantile(&v, 0.5),
            q1: quantile(&v, 0.25),
            q3: quantile(&v, 0.75),
        })
    }
}

/// Adherence of one group (a site, an exercise, the cohort).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct GroupAdherence {
    pub group: String,
    pub spread: Spread,
    /// Patients at or above the adherence threshold.
    pub adherent: usize,
}

/// One programme week of a measure.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct WeekMeasure {
    pub week: u32,
    pub spread: Spread,
    pub responders: usize,
}

/// Safety by exercise.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SafetyByExercise {
    pub exercise: String,
    pub events: usize,
    pub patients_with_events: usize,
    pub patients_flagged: usize,
}

/// One walking category of the risk table.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RiskRow {
    pub category: String,
    pub participants: usize,
    pub events: usize,
    pub risk: f64,
    /// Adjusted risk ratio with its 95% CI (None for the reference).
    pub rr: Option<(f64, f64, f64)>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RiskTable {
    pub rows: Vec<RiskRow>,
    pub adjusted_for: Vec<String>,
    pub excluded: usize,
}

/// Everything the clinic report shows.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ClinicSummary {
    /// The day of the store's latest session (any patient's): the data
    /// cut-off. `None` when the store has no sessions.
    pub data_cutoff: Option<NaiveDate>,
    /// The day of the store's earliest session (any patient's): with the
    /// cut-off, the data's span, the period a report without a window
    /// covers. `None` when the store has no sessions.
    pub data_from: Option<NaiveDate>,
    pub site: Option<String>,
    pub from: Option<NaiveDate>,
    pub to: Option<NaiveDate>,
    /// Patients covered: those with something scheduled (in the window).
    pub patients: usize,
    /// Patients of the site(s) with nothing scheduled in the window
    /// (enrolled after it or followed up before it): in no other figure.
    pub left_out: usize,
    pub sites: Vec<(String, usize)>,
    pub enrolled: Option<(NaiveDate, NaiveDate)>,
    /// Weeks followed per patient: from the first to the last day
    /// scheduled (in the window).
    pub followup_weeks: Option<Spread>,
    pub sessions: usize,
    /// Patients by session adherence in tenths: [0, 10%), …, [90, 100%]
    /// (bin ⌊10 · done / scheduled⌋, in integers, so that with a threshold
    /// of 70% the adherent are exactly the last three bins).
    pub adherence_histogram: [usize; 10],
    pub adherence: Option<GroupAdherence>,
    pub adherence_threshold: f64,
    pub adherence_by_site: Vec<GroupAdherence>,
    pub adherence_by_exercise: Vec<GroupAdherence>,
    pub pain: Vec<WeekMeasure>,
    pub odi: Vec<WeekMeasure>,
    pub safety: Vec<SafetyByExercise>,
    /// Distinct patients with a safety event in any exercise.
    pub patients_with_events: usize,
    pub stop_pain_during: f64,
    pub unsuitable_persist_min: f64,
    /// Patients by mean walking minutes per valid day, in 20-minute bins
    /// (the last bin is 200 and over).
    pub walking_histogram: Vec<usize>,
    pub walking: Option<Spread>,
    pub risk: Option<RiskTable>,
    /// Why the risk table is absent, when the store has a follow-up table.
    pub risk_note: Option<String>,
    /// Scheduled sessions done, by programme week (weeks with a patient
    /// scheduled; see [`programme`]).
    pub adherence_by_week: Vec<AdherenceWeek>,
    /// Patients at risk, dropped out and censored, by programme week from
    /// week 0 (every patient covered is at risk in it).
    pub dropout: Vec<DropoutWeek>,
    /// Sessions and safety events by calendar month of the window.
    pub safety_by_month: Vec<SafetyMonth>,
    /// Prescribed against performed dose, per regimen move.
    pub dose: Vec<DoseByExercise>,
    /// Ladder rungs reached by programme week, for the ladders whose levels
    /// are logged.
    pub ladders: Vec<LadderProgress>,
    /// The programme as the regimen describes it (CERT).
    pub delivered: Delivered,
}

/// Programme patients of one site, with their sessions and outcomes inside
/// the window. (The report itself keeps every outcome of the site's
/// patients, [`site_only`], and windows them where it counts them.)
pub fn filter(cohort: Cohort, opts: &ClinicOptions) -> Cohort {
    if opts.site.is_none() && opts.from.is_none() && opts.to.is_none() {
        return cohort;
    }
    let keep: Vec<bool> = cohort
        .patients
        .iter()
        .map(|p| opts.site.as_ref().is_none_or(|s| &p.site == s))
        .collect();
    let mut new_index = vec![usize::MAX; cohort.patients.len()];
    let mut out = Cohort::default();
    for (i, p) in cohort.patients.iter().enumerate() {
        if keep[i] {
            new_index[i] = out.patients.len();
            out.patients.push(p.clone());
        }
    }
    let inside = |d: NaiveDate| opts.from.is_none_or(|f| d >= f) && opts.to.is_none_or(|t| d <= t);
    out.sessions = cohort
        .sessions
        .iter()
        .filter(|s| keep[s.patient] && inside(s.performed_at.date()))
        .map(|s| {
            let mut s = s.clone();
            s.patient = new_index[s.patient];
            s
        })
        .collect();
    out.outcomes = cohort
        .outcomes
        .iter()
        .filter(|o| keep[o.patient] && inside(o.date))
        .map(|o| {
            let mut o = o.clone();
            o.patient = new_index[o.patient];
            o
        })
        .collect();
    out
}

/// The patients of one site (all of them without `--site`), with all their
/// sessions and outcomes.
pub fn site_only(cohort: Cohort, site: Option<&str>) -> Cohort {
    match site {
        None => cohort,
        Some(_) => filter(
            cohort,
            &ClinicOptions {
                site: site.map(String::from),
                ..Default::default()
            },
        ),
    }
}

#[cfg(test)]
fn weekly(cohort: &Cohort, measure: &str, rule: &Responder) -> Vec<WeekMeasure> {
    let start: Vec<Option<NaiveDate>> = cohort
        .patients
        .iter()
        .map(|p| Some(p.enrolled_on))
        .collect();
    weekly_in(cohort, measure, rule, &start, &ClinicOptions::default())
}

/// Pain or ODI by programme week over the patients whose `start` is
/// `Some`, counting values inside the window; the baseline is the first
/// value, inside the window or not.
fn weekly_in(
    cohort: &Cohort,
    measure: &str,
    rule: &Responder,
    start: &[Option<NaiveDate>],
    opts: &ClinicOptions,
) -> Vec<WeekMeasure> {
    let inside = |d: NaiveDate| opts.from.is_none_or(|f| d >= f) && opts.to.is_none_or(|t| d <= t);
    // One pass over outcomes in (patient, date) order: the first value of
    // each patient's measure is the baseline, the first in each programme
    // week is that week's value.
    let mut ordered: Vec<&lumbar_model::cohort::Outcome> = cohort
        .outcomes
        .iter()
        .filter(|o| o.measure == measure)
        .collect();
    if !ordered.is_sorted_by_key(|o| (o.patient, o.date)) {
        ordered.sort_by_key(|o| (o.patient, o.date)); // stable
    }
    let mut weeks: BTreeMap<u32, (Vec<f64>, usize)> = BTreeMap::new();
    // (patient, baseline, last week recorded)
    let mut current: Option<(usize, f64, u32)> = None;
    for o in ordered {
        let Some(start) = start[o.patient] else {
            continue;
        };
        let days = (o.date - start).num_days();
        if days < 0 {
            continue;
        }
        let week = (days / 7) as u32;
        if !matches!(current, Some((p, _, _)) if p == o.patient) && !inside(o.date) {
            // The baseline, before the window: kept, not counted (and no
            // week marked, so the window's first value counts).
            current = Some((o.patient, o.value, u32::MAX));
            continue;
        }
        if !inside(o.date) {
            continue;
        }
        let baseline = match current {
            Some((p, b, last)) if p == o.patient => {
                if week == last {
                    continue; // not the first value of the week
                }
                b
            }
            _ => o.value,
        };
        current = Some((o.patient, baseline, week));
        let e = weeks.entry(week).or_default();
        e.0.push(o.value);
        if week > 0 && rule.is_response(measure, baseline, o.value) {
            e.1 += 1;
        }
    }
    weeks
        .into_iter()
        .filter_map(|(week, (v, responders))| {
            Some(WeekMeasure {
                week,
                spread: Spread::of(v)?,
                responders,
            })
        })
        .collect()
}

/// The report's one pass over the sessions of the patients kept: every
/// session to adherence (sessions outside the window still mark the last
/// follow-up), those inside the window to safety and the counts.
struct ClinicSessions<'a> {
    adherence: AdherenceTally<'a>,
    safety: SafetyTally<'a>,
    programme: ProgrammeTally<'a>,
    /// Sessions inside the window, per patient.
    count: Vec<usize>,
    opts: &'a ClinicOptions,
    /// The days of the store's earliest and latest session (any patient's).
    earliest: Option<NaiveDate>,
    latest: Option<NaiveDate>,
}

impl SessionSink for ClinicSessions<'_> {
    fn sessions_span(&mut self, first: NaiveDate, last: NaiveDate) {
        self.adherence.sessions_span(first, last);
        self.programme.sessions_span(first);
        self.latest = self.latest.max(Some(last));
        self.earliest = Some(self.earliest.map_or(first, |e| e.min(first)));
    }

    fn session(&mut self, s: &Session) {
        self.adherence.session(s);
        self.programme.session(s);
        let d = s.performed_at.date();
        if self.opts.from.is_some_and(|f| d < f) || self.opts.to.is_some_and(|t| d > t) {
            return;
        }
        self.count[s.patient] += 1;
        self.safety.session(s);
    }

    fn patient_done(&mut self, patient: usize) {
        self.adherence.patient_done(patient);
        self.safety.patient_done(patient);
        self.programme.patient_done(patient);
    }

    fn merge(&mut self, later: Self) {
        self.adherence.merge(later.adherence);
        self.safety.merge(later.safety);
        self.programme.merge(later.programme);
        self.latest = self.latest.max(later.latest);
        self.earliest = match (self.earliest, later.earliest) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        };
        for (a, b) in self.count.iter_mut().zip(later.count) {
            *a += b;
        }
    }
}

/// Computes the report's numbers from a store.
pub fn clinic_summary<S: CohortSource>(
    store: &S,
    regimen: &Regimen,
    rx: &Prescriptions,
    opts: &ClinicOptions,
) -> Result<ClinicSummary, S::Error> {
    // The follow-up cohort's risk table needs nothing of the programme: it
    // is computed on a thread of its own while the sessions stream.
    std::thread::scope(|scope| {
        let side = scope.spawn(|| follow_up_risk(store));
        programme_summary(store, regimen, rx, opts, || {
            side.join()
                .unwrap_or_else(|panic| std::panic::resume_unwind(panic))
        })
    })
}

/// The walking table, the risk table and why it is absent.
type FollowUp = (Option<Vec<WalkingDay>>, Option<RiskTable>, Option<String>);

/// The walking table (for the programme's walking) and the walking-risk
/// table of the follow-up cohort (not filtered by site: it is a separate
/// population), or why there is none.
fn follow_up_risk<S: CohortSource>(store: &S) -> Result<FollowUp, S::Error> {
    let walking_table = store.walking_days()?;
    let followup = store.followup()?;
    let frame = match (followup, &walking_table) {
        (Some(f), Some(w)) => Some(crate::risk::followup_frame(f, w, &ExposureRules::default())),
        _ => None,
    };
    let (risk, risk_note) = match frame {
        None => (None, None),
        Some(Err(e)) => (None, Some(e.to_string())),
        Some(Ok(followup)) => {
            let excluded = followup.excluded();
            let present = |c: &str| lumbar_model::Columns::has(&followup, c);
            let covariates: Vec<String> = ["age", "sex", "bmi"]
                .into_iter()
                .filter(|c| present(c))
                .map(String::from)
                .collect();
            let categorical = if present("sex") {
                vec![lumbar_stats::design::Categorical {
                    column: "sex".into(),
                    reference: None,
                }]
            } else {
                Vec::new()
            };
            let spec = RiskSpec {
                exposure: "walking_min".into(),
                cuts: Cuts::Points(HUNT_CUTS.to_vec()),
                reference: None,
                outcome: "event".into(),
                time: None,
                person_years: None,
                covariates: covariates.clone(),
                categorical,
                knots: 4,
                reference_value: None,
            };
            match crate::risk::analyze(&followup, &spec) {
                Err(e) => (None, Some(e.to_string())),
                Ok(r) => {
                    let rows = r
                        .incidence
                        .iter()
                        .map(|inc| {
                            let term = format!("walking_min[{}]", inc.category);
                            let rr = r
                                .poisson
                                .terms
                                .iter()
                                .find(|t| t.term == term)
                                .map(|t| (t.exp_estimate, t.conf_low, t.conf_high));
                            RiskRow {
                                category: inc.category.clone(),
                                participants: inc.n,
                                events: inc.events,
                                risk: inc.risk,
                                rr,
                            }
                        })
                        .collect();
                    (
                        Some(RiskTable {
                            rows,
                            adjusted_for: covariates,
                            excluded: excluded + r.exposure.dropped,
                        }),
                        None,
                    )
                }
            }
        }
    };

    Ok((walking_table, risk, risk_note))
}

fn programme_summary<S: CohortSource>(
    store: &S,
    regimen: &Regimen,
    rx: &Prescriptions,
    opts: &ClinicOptions,
    side: impl FnOnce() -> Result<FollowUp, S::Error>,
) -> Result<ClinicSummary, S::Error> {
    // Sessions are streamed from the store's columns, never held: one pass
    // feeds adherence, safety and the session counts.
    let all = store.cohort_without_sessions()?;
    // The store's first observed day counts every patient's outcomes, not
    // only this site's (sessions: the stream tells every sink).
    let first_outcome = all.outcomes.iter().map(|o| o.date).min();
    let cohort = site_only(all, opts.site.as_deref());
    let mut adherence =
        AdherenceTally::new(&cohort, rx, opts.adherent, false).within(opts.from, opts.to);
    if let Some(d) = first_outcome {
        adherence.observe(d);
    }
    let (sessions, _) = store.stream_sessions(&cohort.index(), || ClinicSessions {
        adherence: adherence.fresh(),
        safety: SafetyTally::new(&cohort, regimen),
        programme: ProgrammeTally::new(&cohort, rx, regimen, opts.from, opts.to, first_outcome),
        count: vec![0; cohort.patients.len()],
        opts,
        earliest: None,
        latest: None,
    })?;
    let ClinicSessions {
        adherence: adh,
        safety: saf,
        programme,
        count,
        earliest: data_from,
        latest: data_cutoff,
        ..
    } = sessions;
    let (adh, saf) = (adh.finish(), saf.finish());
    let figures = programme.finish(&adh.spans);

    // The patients covered: something scheduled (in the window). Their
    // programme start is the first day the schedule could have: enrolment
    // or the store's first observed day.
    let mut covered: Vec<Option<(NaiveDate, NaiveDate)>> = vec![None; cohort.patients.len()];
    for &(pi, first, last) in &adh.spans {
        covered[pi] = Some((first, last));
    }
    let start: Vec<Option<NaiveDate>> = (0..cohort.patients.len())
        .map(|pi| {
            let enrolled = cohort.patients[pi].enrolled_on;
            covered[pi].map(|_| adh.observed_from.map_or(enrolled, |f| f.max(enrolled)))
        })
        .collect();
    let kept: Vec<&lumbar_model::cohort::Patient> = cohort
        .patients
        .iter()
        .zip(&covered)
        .filter_map(|(p, c)| c.map(|_| p))
        .collect();
    let kept_ids: HashSet<&str> = kept.iter().map(|p| p.id.as_str()).collect();
    let session_count: usize = count
        .iter()
        .zip(&covered)
        .filter_map(|(n, c)| c.map(|_| *n))
        .sum();

    let mut sites: BTreeMap<String, usize> = BTreeMap::new();
    for p in &kept {
        *sites.entry(p.site.clone()).or_default() += 1;
    }
    let enrolled = kept
        .iter()
        .map(|p| p.enrolled_on)
        .min()
        .zip(kept.iter().map(|p| p.enrolled_on).max());
    let followup_weeks = Spread::of(
        adh.spans
            .iter()
            .map(|(_, first, last)| (*last - *first).num_days() as f64 / 7.0)
            .collect(),
    );

    let mut histogram = [0usize; 10];
    for p in &adh.patients {
        // Integers: ⌊10 · done / scheduled⌋, the last bin closed at 100%.
        let bin = (10 * p.done as u64)
            .checked_div(p.scheduled as u64)
            .unwrap_or(0);
        histogram[(bin as usize).min(9)] += 1;
    }
    let group = |name: String, v: Vec<f64>| -> Option<GroupAdherence> {
        let adherent = v.iter().filter(|&&x| x >= opts.adherent - 1e-12).count();
        Some(GroupAdherence {
            group: name,
            spread: Spread::of(v)?,
            adherent,
        })
    };
    let adherence = group(
        "all".into(),
        adh.patients.iter().map(|p| p.session_adherence).collect(),
    );
    let mut by_site: BTreeMap<&str, Vec<f64>> = BTreeMap::new();
    for p in &adh.patients {
        by_site
            .entry(&p.site)
            .or_default()
            .push(p.session_adherence);
    }
    let adherence_by_site = by_site
        .into_iter()
        .filter_map(|(s, v)| group(s.to_string(), v))
        .collect();
    // Per patient and exercise: done / scheduled over all weeks.
    let mut by_ex: Vec<(String, Vec<f64>)> = regimen
        .exercises
        .iter()
        .map(|e| (e.key.clone(), Vec::new()))
        .collect();
    for t in &adh.exercises {
        if t.scheduled > 0
            && let Some(slot) = by_ex.iter_mut().find(|(k, _)| *k == t.exercise)
        {
            slot.1.push(t.done as f64 / t.scheduled as f64);
        }
    }
    let adherence_by_exercise = by_ex.into_iter().filter_map(|(k, v)| group(k, v)).collect();

    let mut safety: Vec<SafetyByExercise> = regimen
        .exercises
        .iter()
        .map(|e| SafetyByExercise {
            exercise: e.key.clone(),
            events: 0,
            patients_with_events: 0,
            patients_flagged: 0,
        })
        .collect();
    let mut with_events: HashSet<(&str, &str)> = HashSet::new();
    let mut any_event: HashSet<&str> = HashSet::new();
    for e in saf
        .events
        .iter()
        .filter(|e| kept_ids.contains(e.patient_id.as_str()))
    {
        if let Some(row) = safety.iter_mut().find(|r| r.exercise == e.exercise) {
            row.events += 1;
            any_event.insert(&e.patient_id);
            if with_events.insert((&e.exercise, &e.patient_id)) {
                row.patients_with_events += 1;
            }
        }
    }
    for f in saf
        .flags
        .iter()
        .filter(|f| kept_ids.contains(f.patient_id.as_str()))
    {
        if let Some(row) = safety.iter_mut().find(|r| r.exercise == f.exercise) {
            row.patients_flagged += 1;
        }
    }

    // Walking of the programme patients.
    let mut walking_histogram = vec![0usize; 11];
    let mut walking = None;
    // Read once (by the side thread): the programme's walking here, the
    // follow-up cohort's in the risk table.
    let (walking_table, risk, risk_note) = side()?;
    if let Some(w) = &walking_table {
        let ids = &kept_ids;
        let inside = |d: Option<NaiveDate>| {
            d.is_some_and(|d| opts.from.is_none_or(|f| d >= f) && opts.to.is_none_or(|t| d <= t))
        };
        // Rows come grouped by patient: look each run's id up once.
        let mut member: Option<(&str, bool)> = None;
        let rows = w.iter().filter_map(|d| {
            let id = &*d.patient_id;
            let is_member = match member {
                Some((prev, is)) if prev == id => is,
                _ => {
                    let is = ids.contains(id);
                    member = Some((id, is));
                    is
                }
            };
            (is_member && inside(d.date)).then_some((id, d.walking_min?, d.wear_min))
        });
        let (exposure, _) = walking_exposure(rows, &ExposureRules::default());
        for e in &exposure {
            walking_histogram[((e.mean_walking_min / 20.0).floor() as usize).min(10)] += 1;
        }
        walking = Spread::of(exposure.iter().map(|e| e.mean_walking_min).collect());
    }

    Ok(ClinicSummary {
        data_cutoff,
        data_from,
        site: opts.site.clone(),
        from: opts.from,
        to: opts.to,
        patients: kept.len(),
        left_out: adh.unscheduled,
        sites: sites.into_iter().collect(),
        enrolled,
        followup_weeks,
        sessions: session_count,
        adherence_histogram: histogram,
        adherence,
        adherence_threshold: opts.adherent,
        adherence_by_site,
        adherence_by_exercise,
        pain: weekly_in(&cohort, "nrs_pain", &opts.responder, &start, opts),
        odi: weekly_in(&cohort, "odi", &opts.responder, &start, opts),
        safety,
        patients_with_events: any_event.len(),
        stop_pain_during: regimen.safety.stop_pain_during,
        unsuitable_persist_min: regimen.safety.unsuitable_persist_min,
        walking_histogram,
        walking,
        risk,
        risk_note,
        adherence_by_week: figures.adherence_by_week,
        dropout: figures.dropout,
        safety_by_month: figures.safety_by_month,
        dose: figures.dose,
        ladders: figures.ladders,
        delivered: Delivered::of(regimen, opts.adherent),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use lumbar_model::cohort::{Outcome, Patient};

    fn d(s: &str) -> NaiveDate {
        NaiveDate::parse_from_str(s, "%Y-%m-%d").unwrap()
    }

    /// Three patients enrolled on 6 January, NRS measured by hand-picked days.
    fn cohort() -> Cohort {
        let patient = |id: &str, site: &str| Patient {
            id: id.into(),
            site: site.into(),
            enrolled_on: d("2025-01-06"),
            ..Patient::default()
        };
        let o = |p: usize, date: &str, value: f64| Outcome {
            patient: p,
            date: d(date),
            measure: "nrs_pain".into(),
            value,
        };
        Cohort {
            patients: vec![patient("A", "a"), patient("B", "b"), patient("C", "b")],
            sessions: Vec::new(),
            outcomes: vec![
                o(0, "2025-01-06", 6.0),
                o(0, "2025-01-13", 4.0), // −2 points: responder
                o(0, "2025-01-14", 3.0), // a second value in week 1: not used
                o(1, "2025-01-06", 5.0),
                o(1, "2025-01-13", 4.5), // −10%: not a responder
                o(2, "2025-01-06", 8.0),
                o(2, "2025-01-15", 5.5), // day 9 is week 1; −31%: responder
            ],
        }
    }

    #[test]
    fn weekly_pain_median_iqr_and_responders_by_hand() {
        let w = weekly(&cohort(), "nrs_pain", &Responder::default());
        assert_eq!(w.len(), 2);
        // Week 0: 5, 6, 8 → median 6, quartiles (type 7) 5.5 and 7.
        assert_eq!((w[0].week, w[0].spread.patients), (0, 3));
        assert_eq!(
            (w[0].spread.median, w[0].spread.q1, w[0].spread.q3),
            (6.0, 5.5, 7.0)
        );
        assert_eq!(w[0].responders, 0);
        // Week 1: 4, 4.5, 5.5 → median 4.5; two responders.
        assert_eq!(w[1].spread.median, 4.5);
        assert_eq!(w[1].responders, 2);
    }

    #[test]
    fn filters_keep_one_site_and_a_window() {
        let site = ClinicOptions {
            site: Some("b".into()),
            ..Default::default()
        };
        let c = filter(cohort(), &site);
        assert_eq!(c.patients.len(), 2);
        let w = weekly(&c, "nrs_pain", &Responder::default());
        assert_eq!(w[0].spread.median, 6.5); // 5 and 8, re-indexed patients
        let window = ClinicOptions {
            to: Some(d("2025-01-13")),
            ..Default::default()
        };
        let w = weekly(
            &filter(cohort(), &window),
            "nrs_pain",
            &Responder::default(),
        );
        assert_eq!(w[1].spread.patients, 2); // C's 15 January value is after the window
    }
}
