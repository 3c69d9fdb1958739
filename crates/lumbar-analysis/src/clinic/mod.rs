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
//! The code: `pass` is the report's one pass over a store (the patients
//! of a site and shard, their sessions streamed into the tallies, their
//! outcomes and walking, the follow-up risk table beside it); `tally` is
//! [`ClinicTally`], the exact tallies shards add up and
//! [`ClinicTally::summary`] turns into this module's figures; `any_f64`
//! writes numbers that may not be finite into a shard's JSON.
//!
//! Adherence by programme week, dropout, safety by month, prescribed
//! against performed dose and ladder progression are in [`programme`]; the programme as the regimen describes it, in CERT's
//! terms, in [`delivered`].

mod any_f64;
mod delivered;
mod pass;
mod programme;
#[cfg(test)]
mod shard_tests;
mod tally;

pub use delivered::{Delivered, DeliveredExercise, DeliveredLadder};
#[cfg(test)]
use pass::weekly_in;
pub use pass::{clinic_summary, clinic_tally};
use programme::ProgrammeTally;
pub use programme::{
    ABOVE, AdherenceWeek, BELOW, DoseByExercise, DropoutInterval, DropoutWeek, IN_RANGE,
    LadderProgress, LadderWeek, MAX_WEEKS, SafetyMonth, pooled,
};
pub use tally::{ClinicTally, FollowUpRisk, TallyMismatch};

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

#[cfg(test)]
fn weekly(cohort: &Cohort, measure: &str, rule: &Responder) -> Vec<WeekMeasure> {
    let start: Vec<Option<NaiveDate>> = cohort
        .patients
        .iter()
        .map(|p| Some(p.enrolled_on))
        .collect();
    let weeks = weekly_in(cohort, measure, rule, &start, &ClinicOptions::default());
    tally::by_week(weeks)
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
