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
use serde::{Deserialize, Serialize};

use crate::adherence::AdherenceTally;
use crate::describe::quantile;
use crate::prescription::Prescriptions;
use crate::risk::{Cuts, ExposureRules, HUNT_CUTS, RiskSpec, walking_exposure};
use crate::safety::SafetyTally;
use crate::trends::Responder;
use lumbar_model::cohort::{Cohort, CohortSource, Patient, Session, SessionSink, WalkingDay};
use lumbar_model::partition::BucketShard;

/// Which patients and dates the report covers.
#[derive(Debug, Clone)]
pub struct ClinicOptions {
    pub site: Option<String>,
    pub from: Option<NaiveDate>,
    pub to: Option<NaiveDate>,
    pub adherent: f64,
    pub responder: Responder,
    /// The shard of the store's patients ([`BucketShard::WHOLE`]: all).
    pub shard: BucketShard,
    /// The store's bucket count (what `shard` cuts).
    pub buckets: u32,
}

impl Default for ClinicOptions {
    fn default() -> Self {
        ClinicOptions {
            site: None,
            from: None,
            to: None,
            adherent: 0.7,
            responder: Responder::default(),
            shard: BucketShard::WHOLE,
            buckets: 1,
        }
    }
}

/// Median and quartiles (type 7) of a group, with its size.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
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
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct GroupAdherence {
    pub group: String,
    pub spread: Spread,
    /// Patients at or above the adherence threshold.
    pub adherent: usize,
}

/// One programme week of a measure.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct WeekMeasure {
    pub week: u32,
    pub spread: Spread,
    pub responders: usize,
}

/// Safety by exercise.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SafetyByExercise {
    pub exercise: String,
    pub events: usize,
    pub patients_with_events: usize,
    pub patients_flagged: usize,
}

/// One walking category of the risk table.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RiskRow {
    pub category: String,
    pub participants: usize,
    pub events: usize,
    #[serde(with = "any_f64")]
    pub risk: f64,
    /// Adjusted risk ratio with its 95% CI (None for the reference).
    #[serde(with = "any_f64::triple")]
    pub rr: Option<(f64, f64, f64)>,
}

/// A number that may not be finite, in JSON (which has no NaN or
/// infinity, and serde_json would write `null`, which does not read back
/// as a number): finite values as numbers, the others as "NaN", "inf" and
/// "-inf". A risk ratio from a fit on the edge can be infinite, and a
/// shard's tallies must read back as they were written.
mod any_f64 {
    use serde::{Deserialize, Deserializer, Serializer};

    #[derive(Deserialize)]
    #[serde(untagged)]
    enum Number {
        Finite(f64),
        Text(String),
    }

    pub fn serialize<S: Serializer>(v: &f64, s: S) -> Result<S::Ok, S::Error> {
        match *v {
            v if v.is_finite() => s.serialize_f64(v),
            v if v.is_nan() => s.serialize_str("NaN"),
            v if v > 0.0 => s.serialize_str("inf"),
            _ => s.serialize_str("-inf"),
        }
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<f64, D::Error> {
        match Number::deserialize(d)? {
            Number::Finite(v) => Ok(v),
            Number::Text(t) => match t.as_str() {
                "NaN" => Ok(f64::NAN),
                "inf" => Ok(f64::INFINITY),
                "-inf" => Ok(f64::NEG_INFINITY),
                other => Err(serde::de::Error::custom(format!(
                    "'{other}' is not a number"
                ))),
            },
        }
    }

    /// An optional triple of such numbers.
    pub mod triple {
        use serde::{Deserialize, Deserializer, Serialize, Serializer};

        #[derive(Serialize, Deserialize)]
        struct Triple(
            #[serde(with = "super")] f64,
            #[serde(with = "super")] f64,
            #[serde(with = "super")] f64,
        );

        pub fn serialize<S: Serializer>(
            v: &Option<(f64, f64, f64)>,
            s: S,
        ) -> Result<S::Ok, S::Error> {
            v.map(|(a, b, c)| Triple(a, b, c)).serialize(s)
        }

        pub fn deserialize<'de, D: Deserializer<'de>>(
            d: D,
        ) -> Result<Option<(f64, f64, f64)>, D::Error> {
            Ok(Option::<Triple>::deserialize(d)?.map(|Triple(a, b, c)| (a, b, c)))
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RiskTable {
    pub rows: Vec<RiskRow>,
    pub adjusted_for: Vec<String>,
    pub excluded: usize,
}

/// Everything the clinic report shows.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
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
/// patients, [`patients_only`], and windows them where it counts them.)
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

/// The patients `keep` takes, in their order, with all their sessions and
/// outcomes (re-indexed).
fn patients_only(cohort: Cohort, keep: impl Fn(&Patient) -> bool) -> Cohort {
    let mut new_index = vec![usize::MAX; cohort.patients.len()];
    let mut patients = Vec::new();
    for (i, p) in cohort.patients.into_iter().enumerate() {
        if keep(&p) {
            new_index[i] = patients.len();
            patients.push(p);
        }
    }
    if patients.len() == new_index.len() {
        return Cohort { patients, ..cohort };
    }
    let moved = |p: usize| new_index.get(p).copied().filter(|&k| k != usize::MAX);
    Cohort {
        patients,
        sessions: cohort
            .sessions
            .into_iter()
            .filter_map(|mut s| {
                s.patient = moved(s.patient)?;
                Some(s)
            })
            .collect(),
        outcomes: cohort
            .outcomes
            .into_iter()
            .filter_map(|mut o| {
                o.patient = moved(o.patient)?;
                Some(o)
            })
            .collect(),
    }
}

#[cfg(test)]
fn weekly(cohort: &Cohort, measure: &str, rule: &Responder) -> Vec<WeekMeasure> {
    let start: Vec<Option<NaiveDate>> = cohort
        .patients
        .iter()
        .map(|p| Some(p.enrolled_on))
        .collect();
    let weeks = weekly_in(cohort, measure, rule, &start, &ClinicOptions::default());
    ClinicTally::weekly(weeks)
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
) -> BTreeMap<u32, (Vec<f64>, usize)> {
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

/// Computes the report's numbers from a store (every shard's tally, added).
pub fn clinic_summary<S: CohortSource>(
    store: &S,
    regimen: &Regimen,
    rx: &Prescriptions,
    opts: &ClinicOptions,
) -> Result<ClinicSummary, S::Error> {
    clinic_tally(store, regimen, rx, opts).map(ClinicTally::summary)
}

/// The report's numbers over the patients of `opts.shard` as exact
/// tallies ([`ClinicTally`]): what `lumbar report --shard i/n` writes.
pub fn clinic_tally<S: CohortSource>(
    store: &S,
    regimen: &Regimen,
    rx: &Prescriptions,
    opts: &ClinicOptions,
) -> Result<ClinicTally, S::Error> {
    // The follow-up cohort's risk table needs nothing of the programme: it
    // is computed on a thread of its own while the sessions stream, by the
    // first shard only (it is about another cohort, not the shard's).
    let risk = opts.shard.index == 1;
    std::thread::scope(|scope| {
        let side = scope.spawn(|| follow_up_risk(store, risk));
        programme_tally(store, regimen, rx, opts, || {
            side.join()
                .unwrap_or_else(|panic| std::panic::resume_unwind(panic))
        })
    })
}

/// The walking table, and the risk table or why it is absent (`None`
/// when not asked for).
type FollowUp = (Option<Vec<WalkingDay>>, Option<FollowUpRisk>);

/// The walking table (for the programme's walking) and the walking-risk
/// table of the follow-up cohort (not filtered by site: it is a separate
/// population), or why there is none.
fn follow_up_risk<S: CohortSource>(store: &S, wanted: bool) -> Result<FollowUp, S::Error> {
    let walking_table = store.walking_days()?;
    if !wanted {
        return Ok((walking_table, None));
    }
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

    Ok((walking_table, Some(FollowUpRisk { risk, risk_note })))
}

/// The risk table of the follow-up cohort, or why there is none.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FollowUpRisk {
    pub risk: Option<RiskTable>,
    pub risk_note: Option<String>,
}

/// The report's numbers over a set of patients (one shard's, or the sum of
/// disjoint shards' by [`ClinicTally::add`]) as exact tallies: integer
/// counts, and each patient's own values where the report shows quartiles
/// (a median is not a sum). [`ClinicTally::summary`] makes the figures;
/// every step of it is a sum of integers or sorts its values first, so the
/// summary of the shards added is the whole run's, bit for bit.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ClinicTally {
    /// The store's first and last session days (the same in every shard).
    pub data_from: Option<NaiveDate>,
    pub data_cutoff: Option<NaiveDate>,
    pub site: Option<String>,
    pub from: Option<NaiveDate>,
    pub to: Option<NaiveDate>,
    pub patients: usize,
    pub left_out: usize,
    pub sites: BTreeMap<String, usize>,
    pub enrolled: Option<(NaiveDate, NaiveDate)>,
    /// Per patient covered: weeks from the first to the last day scheduled.
    pub followup_weeks: Vec<f64>,
    pub sessions: usize,
    pub adherence_histogram: [usize; 10],
    pub adherence_threshold: f64,
    /// Per site: each covered patient's session adherence.
    pub adherence_by_site: BTreeMap<String, Vec<f64>>,
    /// Per regimen move: each patient's done / scheduled.
    pub adherence_by_exercise: Vec<(String, Vec<f64>)>,
    /// By programme week: the first value of each patient, and the responders.
    pub pain: BTreeMap<u32, (Vec<f64>, usize)>,
    pub odi: BTreeMap<u32, (Vec<f64>, usize)>,
    pub safety: Vec<SafetyByExercise>,
    pub patients_with_events: usize,
    pub walking_histogram: Vec<usize>,
    /// Per patient with walking data: mean walking minutes a day.
    pub walking: Vec<f64>,
    /// The first shard's (the follow-up cohort is not split).
    pub follow_up: Option<FollowUpRisk>,
    programme: programme::ProgrammeCounts,
    pub delivered: Delivered,
}

/// Why two tallies do not add up to one report.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("the shards are of different reports: {0} differ")]
pub struct TallyMismatch(&'static str);

impl TallyMismatch {
    /// One tally compares with an earlier period, the other does not.
    pub const PERIODS: TallyMismatch = TallyMismatch("compared periods");
}

impl ClinicTally {
    /// Adds the tally of other patients (another shard of the same report).
    pub fn add(&mut self, other: ClinicTally) -> Result<(), TallyMismatch> {
        let same =
            |ok: bool, what: &'static str| if ok { Ok(()) } else { Err(TallyMismatch(what)) };
        same(
            (&self.site, self.from, self.to) == (&other.site, other.from, other.to),
            "site or window",
        )?;
        same(
            self.adherence_threshold == other.adherence_threshold
                && self.delivered == other.delivered,
            "regimen or adherence threshold",
        )?;
        same(
            self.adherence_by_exercise.len() == other.adherence_by_exercise.len()
                && self.safety.len() == other.safety.len()
                && self.walking_histogram.len() == other.walking_histogram.len()
                && self.programme.shape() == other.programme.shape(),
            "regimen moves",
        )?;
        self.data_from = min_some(self.data_from, other.data_from);
        self.data_cutoff = self.data_cutoff.max(other.data_cutoff);
        self.patients += other.patients;
        self.left_out += other.left_out;
        for (site, n) in other.sites {
            *self.sites.entry(site).or_default() += n;
        }
        self.enrolled = match (self.enrolled, other.enrolled) {
            (Some(a), Some(b)) => Some((a.0.min(b.0), a.1.max(b.1))),
            (a, b) => a.or(b),
        };
        self.followup_weeks.extend(other.followup_weeks);
        self.sessions += other.sessions;
        for (a, b) in self
            .adherence_histogram
            .iter_mut()
            .zip(other.adherence_histogram)
        {
            *a += b;
        }
        for (site, v) in other.adherence_by_site {
            self.adherence_by_site.entry(site).or_default().extend(v);
        }
        for (a, b) in self
            .adherence_by_exercise
            .iter_mut()
            .zip(other.adherence_by_exercise)
        {
            a.1.extend(b.1);
        }
        for (mine, theirs) in [(&mut self.pain, other.pain), (&mut self.odi, other.odi)] {
            for (week, (v, responders)) in theirs {
                let e = mine.entry(week).or_default();
                e.0.extend(v);
                e.1 += responders;
            }
        }
        for (a, b) in self.safety.iter_mut().zip(other.safety) {
            a.events += b.events;
            a.patients_with_events += b.patients_with_events;
            a.patients_flagged += b.patients_flagged;
        }
        self.patients_with_events += other.patients_with_events;
        for (a, b) in self
            .walking_histogram
            .iter_mut()
            .zip(other.walking_histogram)
        {
            *a += b;
        }
        self.walking.extend(other.walking);
        if self.follow_up.is_none() {
            self.follow_up = other.follow_up;
        }
        self.programme.add(other.programme);
        Ok(())
    }

    /// The report's figures.
    pub fn summary(self) -> ClinicSummary {
        let threshold = self.adherence_threshold;
        let group = |name: String, v: Vec<f64>| -> Option<GroupAdherence> {
            let adherent = v.iter().filter(|&&x| x >= threshold - 1e-12).count();
            Some(GroupAdherence {
                group: name,
                spread: Spread::of(v)?,
                adherent,
            })
        };
        let adherence = group(
            "all".into(),
            self.adherence_by_site.values().flatten().copied().collect(),
        );
        let follow_up = self.follow_up.unwrap_or(FollowUpRisk {
            risk: None,
            risk_note: None,
        });
        let figures = self.programme.figures();
        ClinicSummary {
            data_cutoff: self.data_cutoff,
            data_from: self.data_from,
            site: self.site,
            from: self.from,
            to: self.to,
            patients: self.patients,
            left_out: self.left_out,
            sites: self.sites.into_iter().collect(),
            enrolled: self.enrolled,
            followup_weeks: Spread::of(self.followup_weeks),
            sessions: self.sessions,
            adherence_histogram: self.adherence_histogram,
            adherence,
            adherence_threshold: threshold,
            adherence_by_site: self
                .adherence_by_site
                .into_iter()
                .filter_map(|(s, v)| group(s, v))
                .collect(),
            adherence_by_exercise: self
                .adherence_by_exercise
                .into_iter()
                .filter_map(|(k, v)| group(k, v))
                .collect(),
            pain: Self::weekly(self.pain),
            odi: Self::weekly(self.odi),
            safety: self.safety,
            patients_with_events: self.patients_with_events,
            stop_pain_during: self.delivered.stop_pain_during,
            unsuitable_persist_min: self.delivered.unsuitable_persist_min,
            walking_histogram: self.walking_histogram,
            walking: Spread::of(self.walking),
            risk: follow_up.risk,
            risk_note: follow_up.risk_note,
            adherence_by_week: figures.adherence_by_week,
            dropout: figures.dropout,
            safety_by_month: figures.safety_by_month,
            dose: figures.dose,
            ladders: figures.ladders,
            delivered: self.delivered,
        }
    }
}

impl ClinicTally {
    /// Median, quartiles and responders of each programme week.
    fn weekly(weeks: BTreeMap<u32, (Vec<f64>, usize)>) -> Vec<WeekMeasure> {
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
}

fn min_some(a: Option<NaiveDate>, b: Option<NaiveDate>) -> Option<NaiveDate> {
    match (a, b) {
        (Some(a), Some(b)) => Some(a.min(b)),
        (a, b) => a.or(b),
    }
}

fn programme_tally<S: CohortSource>(
    store: &S,
    regimen: &Regimen,
    rx: &Prescriptions,
    opts: &ClinicOptions,
    side: impl FnOnce() -> Result<FollowUp, S::Error>,
) -> Result<ClinicTally, S::Error> {
    // Sessions are streamed from the store's columns, never held: one pass
    // feeds adherence, safety and the session counts.
    let all = store.cohort_without_sessions()?;
    // The store's first observed day counts every patient's outcomes, not
    // only this site's (sessions: the stream tells every sink).
    let first_outcome = all.outcomes.iter().map(|o| o.date).min();
    // The site's patients of the shard's buckets.
    let cohort = patients_only(all, |p| {
        opts.site.as_ref().is_none_or(|s| &p.site == s) && opts.shard.takes(&p.id, opts.buckets)
    });
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
    let programme = programme.finish(&adh.spans);

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
    let followup_weeks = adh
        .spans
        .iter()
        .map(|(_, first, last)| (*last - *first).num_days() as f64 / 7.0)
        .collect();

    let mut histogram = [0usize; 10];
    for p in &adh.patients {
        // Integers: ⌊10 · done / scheduled⌋, the last bin closed at 100%.
        let bin = (10 * p.done as u64)
            .checked_div(p.scheduled as u64)
            .unwrap_or(0);
        histogram[(bin as usize).min(9)] += 1;
    }
    let mut adherence_by_site: BTreeMap<String, Vec<f64>> = BTreeMap::new();
    for p in &adh.patients {
        match adherence_by_site.get_mut(&p.site) {
            Some(v) => v.push(p.session_adherence),
            None => {
                adherence_by_site.insert(p.site.clone(), vec![p.session_adherence]);
            }
        }
    }
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
    let mut walking = Vec::new();
    // Read once (by the side thread): the programme's walking here, the
    // follow-up cohort's in the risk table.
    let (walking_table, follow_up) = side()?;
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
        walking = exposure.iter().map(|e| e.mean_walking_min).collect();
    }

    Ok(ClinicTally {
        data_from,
        data_cutoff,
        site: opts.site.clone(),
        from: opts.from,
        to: opts.to,
        patients: kept.len(),
        left_out: adh.unscheduled,
        sites,
        enrolled,
        followup_weeks,
        sessions: session_count,
        adherence_histogram: histogram,
        adherence_threshold: opts.adherent,
        adherence_by_site,
        adherence_by_exercise: by_ex,
        pain: weekly_in(&cohort, "nrs_pain", &opts.responder, &start, opts),
        odi: weekly_in(&cohort, "odi", &opts.responder, &start, opts),
        safety,
        patients_with_events: any_event.len(),
        walking_histogram,
        walking,
        follow_up,
        programme,
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

/// Shards of the report add up to the whole run, bit for bit.
#[cfg(test)]
mod shard_tests {
    use super::*;
    use lumbar_model::cohort::{MemoryCohort, Outcome, Patient};

    fn day(n: i64) -> NaiveDate {
        NaiveDate::from_ymd_opt(2025, 1, 6).unwrap() + chrono::Days::new(n as u64)
    }

    /// 60 patients on three sites, enrolled over a month: bridges with
    /// doses (some below or above the range), ladder rungs, painful
    /// sessions, people who stop logging, weekly NRS and ODI, walking.
    fn cohort() -> MemoryCohort {
        let mut c = Cohort::default();
        let mut walking = Vec::new();
        for i in 0..60usize {
            let id = format!("P{i:03}");
            let start = (i % 29) as i64;
            c.patients.push(Patient {
                id: id.clone(),
                site: ["north", "south", "east"][i % 3].into(),
                enrolled_on: day(start),
                ..Default::default()
            });
            for w in 0..(4 + i % 9) as i64 {
                for (measure, base) in [("nrs_pain", 7.0), ("odi", 40.0)] {
                    c.outcomes.push(Outcome {
                        patient: i,
                        date: day(start + 7 * w + (i % 3) as i64),
                        measure: measure.into(),
                        value: base - (w as f64) * (0.3 + (i % 5) as f64 * 0.2),
                    });
                }
            }
            let last = 10 + (i * 7) % 60;
            for d in 0..last {
                if (d + i) % 3 == 0 {
                    continue;
                }
                let (exercise, level) = match d % 4 {
                    0 => ("bridge", None),
                    1 => (
                        "push_up",
                        Some(["wall_push_up", "knee_push_up"][(d / 20) % 2]),
                    ),
                    2 => ("dead_bug", None),
                    _ => ("sit_up", Some("abdominal_crunch")),
                };
                c.sessions.push(Session {
                    patient: i,
                    performed_at: day(start + d as i64).and_hms_opt(9, 0, 0).unwrap(),
                    exercise: exercise.into(),
                    level: level.map(Into::into),
                    side: None,
                    sets: Some(1.0 + (d % 3) as f64),
                    reps: Some(8.0 + (i % 5) as f64),
                    hold_s: Some(5.0),
                    pain_during: Some(if (d + i) % 13 == 0 { 8.0 } else { 2.0 }),
                    pain_after: None,
                    pain_persist_min: Some(if (d * i) % 17 == 1 { 30.0 } else { 0.0 }),
                    stopped_for_pain: Some(false),
                    completed: Some(d % 7 != 5),
                });
            }
            let id: std::sync::Arc<str> = id.into();
            for d in 0..(5 + i % 20) as i64 {
                walking.push(WalkingDay {
                    patient_id: id.clone(),
                    date: Some(day(start + d)),
                    walking_min: Some(10.0 + ((i * 31 + d as usize * 7) % 190) as f64),
                    wear_min: Some(800.0),
                });
            }
        }
        MemoryCohort { cohort: c, walking }
    }

    #[test]
    fn shards_add_up_to_the_whole_report() {
        let source = cohort();
        let regimen = Regimen::six_moves();
        let rx = Prescriptions::from_regimen(&regimen);
        for (site, from, to) in [
            (None, None, None),
            (Some("south"), None, None),
            (None, Some(day(20)), Some(day(50))),
        ] {
            let opts = ClinicOptions {
                site: site.map(String::from),
                from,
                to,
                buckets: 8,
                ..Default::default()
            };
            let Ok(whole) = clinic_summary(&source, &regimen, &rx, &opts);
            assert!(whole.patients > 10 && !whole.pain.is_empty() && !whole.dropout.is_empty());
            assert!(whole.walking.is_some() && !whole.ladders.is_empty());
            for n in [2, 3, 8] {
                let mut sum: Option<ClinicTally> = None;
                // Any order of shards gives the same sum.
                for i in (1..=n).rev() {
                    let shard = ClinicOptions {
                        shard: BucketShard::new(i, n, 8).unwrap(),
                        ..opts.clone()
                    };
                    let Ok(t) = clinic_tally(&source, &regimen, &rx, &shard);
                    // What a shard writes and its merge reads back.
                    let json = serde_json::to_string(&t).unwrap();
                    let t: ClinicTally = serde_json::from_str(&json).unwrap();
                    match &mut sum {
                        None => sum = Some(t),
                        Some(s) => s.add(t).unwrap(),
                    }
                }
                assert_eq!(
                    sum.unwrap().summary(),
                    whole,
                    "{n} shards, {site:?} {from:?}"
                );
            }
        }
    }

    /// A risk ratio that is not finite reads back as it was written.
    #[test]
    fn a_risk_row_that_is_not_finite_round_trips() {
        let row = RiskRow {
            category: "<78".into(),
            participants: 3,
            events: 0,
            risk: 0.25,
            rr: Some((f64::INFINITY, f64::NAN, f64::NEG_INFINITY)),
        };
        let json = serde_json::to_string(&row).unwrap();
        assert!(json.contains(r#""rr":["inf","NaN","-inf"]"#), "{json}");
        let back: RiskRow = serde_json::from_str(&json).unwrap();
        let (a, b, c) = back.rr.unwrap();
        assert!(a == f64::INFINITY && b.is_nan() && c == f64::NEG_INFINITY);
        assert_eq!(back.risk, 0.25);
        let none = RiskRow { rr: None, ..row };
        let back: RiskRow = serde_json::from_str(&serde_json::to_string(&none).unwrap()).unwrap();
        assert_eq!(back, none);
        assert!(serde_json::from_str::<RiskRow>(&json.replace("\"NaN\"", "\"many\"")).is_err());
    }

    #[test]
    fn tallies_of_other_reports_do_not_add() {
        let source = cohort();
        let regimen = Regimen::six_moves();
        let rx = Prescriptions::from_regimen(&regimen);
        let tally = |opts: &ClinicOptions| match clinic_tally(&source, &regimen, &rx, opts) {
            Ok(t) => t,
            Err(e) => match e {},
        };
        let mut a = tally(&ClinicOptions::default());
        let b = tally(&ClinicOptions {
            site: Some("north".into()),
            ..Default::default()
        });
        assert_eq!(
            a.add(b).unwrap_err().to_string(),
            "the shards are of different reports: site or window differ"
        );
    }
}
