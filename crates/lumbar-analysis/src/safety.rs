//! Safety (SPEC §1 and §3): exercises continued at pain ≥ the stop level
//! (events), and exercises unsuitable for a patient because pain persisted
//! more than the regimen's limit after finishing (flags, with the first date).
//!
//! A session row is "continued" when `stopped_for_pain` is false, or, when
//! that is missing, when it was not marked incomplete.

use std::collections::BTreeMap;

use chrono::{NaiveDate, NaiveDateTime};
use lumbar_model::Regimen;
use serde::{Deserialize, Serialize};

use std::sync::Arc;

use lumbar_model::cohort::{Cohort, Session, SessionSink};

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct SafetyEvent {
    pub patient_id: String,
    pub site: String,
    pub performed_at: NaiveDateTime,
    pub exercise: String,
    pub pain_during: f64,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct UnsuitableFlag {
    pub patient_id: String,
    pub site: String,
    pub exercise: String,
    pub first_date: NaiveDate,
    /// Sessions of this exercise with pain persisting past the limit.
    pub episodes: u32,
}

#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct SafetyCount {
    /// `patient`, `site` or `cohort`.
    pub level: String,
    pub group: String,
    pub site: String,
    pub events: u32,
    pub unsuitable_flags: u32,
    pub patients_with_events: u32,
}

/// Events and flags, each with its patient's index in the cohort.
pub type PatientsSafety = (Vec<(usize, SafetyEvent)>, Vec<(usize, UnsuitableFlag)>);

#[derive(Debug, Clone, Default, Serialize)]
pub struct Safety {
    pub events: Vec<SafetyEvent>,
    pub flags: Vec<UnsuitableFlag>,
    pub counts: Vec<SafetyCount>,
}

pub fn safety(cohort: &Cohort, regimen: &Regimen) -> Safety {
    let mut tally = SafetyTally::new(cohort, regimen);
    cohort.feed_sessions(&mut tally);
    tally.finish()
}

/// Safety from a stream of sessions (a [`SessionSink`]), so that the clinic
/// report and `lumbar analyze` apply the same rules in one pass over the
/// store's columns.
pub struct SafetyTally<'a> {
    cohort: &'a Cohort,
    rules: lumbar_model::SafetyRules,
    /// With the patient's index, to put them in cohort and time order.
    events: Vec<(usize, SafetyEvent)>,
    /// First date and episodes per patient and move.
    flags: BTreeMap<(usize, Arc<str>), (NaiveDate, u32)>,
}

impl<'a> SafetyTally<'a> {
    pub fn new(cohort: &'a Cohort, regimen: &Regimen) -> SafetyTally<'a> {
        SafetyTally {
            cohort,
            rules: regimen.safety,
            events: Vec::new(),
            flags: BTreeMap::new(),
        }
    }
}

impl SessionSink for SafetyTally<'_> {
    fn session(&mut self, s: &Session) {
        if let Some(d) = s.pain_during
            && self.rules.is_safety_event(d, !s.continued())
        {
            let p = &self.cohort.patients[s.patient];
            self.events.push((
                s.patient,
                SafetyEvent {
                    patient_id: p.id.clone(),
                    site: p.site.clone(),
                    performed_at: s.performed_at,
                    exercise: s.exercise.to_string(),
                    pain_during: d,
                },
            ));
        }
        if s.pain_persist_min
            .is_some_and(|m| self.rules.is_unsuitable(m))
        {
            let e = self
                .flags
                .entry((s.patient, s.exercise.clone()))
                .or_insert((s.performed_at.date(), 0));
            e.0 = e.0.min(s.performed_at.date());
            e.1 += 1;
        }
    }

    fn merge(&mut self, later: Self) {
        self.events.extend(later.events);
        for (k, (first, n)) in later.flags {
            let e = self.flags.entry(k).or_insert((first, 0));
            e.0 = e.0.min(first);
            e.1 += n;
        }
    }
}

impl SafetyTally<'_> {
    /// The events and flags of the patients before `bound` (by cohort
    /// index), each with its patient: events by patient and time (stable,
    /// so rows of one time keep their order), flags by patient and move;
    /// the tally keeps the others.
    pub fn take_before(&mut self, bound: usize) -> PatientsSafety {
        self.events.sort_by_key(|(p, e)| (*p, e.performed_at));
        let split = self.events.partition_point(|(p, _)| *p < bound);
        let later = self.events.split_off(split);
        let events = std::mem::replace(&mut self.events, later);
        let later = self.flags.split_off(&(bound, Arc::from("")));
        let flags = std::mem::replace(&mut self.flags, later)
            .into_iter()
            .map(|((pi, ex), (first, n))| {
                let p = &self.cohort.patients[pi];
                let flag = UnsuitableFlag {
                    patient_id: p.id.clone(),
                    site: p.site.clone(),
                    exercise: ex.to_string(),
                    first_date: first,
                    episodes: n,
                };
                (pi, flag)
            })
            .collect();
        (events, flags)
    }

    /// Events by patient and time, flags by patient and move, and the
    /// counts per patient, site and cohort, whatever order the sessions came.
    pub fn finish(mut self) -> Safety {
        let cohort = self.cohort;
        let (events, flags) = self.take_before(usize::MAX);
        let mut out = Safety {
            events: events.into_iter().map(|(_, e)| e).collect(),
            flags: flags.into_iter().map(|(_, f)| f).collect(),
            ..Default::default()
        };
        // Counts per patient (every patient, zeros included), site and cohort.
        let mut per_patient = vec![(0u32, 0u32); cohort.patients.len()];
        let index = cohort.index();
        for e in &out.events {
            per_patient[index[e.patient_id.as_str()]].0 += 1;
        }
        for f in &out.flags {
            per_patient[index[f.patient_id.as_str()]].1 += 1;
        }
        out.counts = counts(
            cohort
                .patients
                .iter()
                .zip(per_patient)
                .map(|(p, (ev, fl))| (p.id.as_str(), p.site.as_str(), ev, fl)),
        );
        out
    }
}

/// The safety counts of each patient (id, site, events, unsuitable flags;
/// in the order given, every patient of the cohort), then per site (in
/// site order) and for the cohort.
pub fn counts<'a>(
    patients: impl Iterator<Item = (&'a str, &'a str, u32, u32)>,
) -> Vec<SafetyCount> {
    let mut out = Vec::new();
    {
        let mut sites: BTreeMap<&str, (u32, u32, u32)> = BTreeMap::new();
        let mut total = (0, 0, 0);
        for (id, site, ev, fl) in patients {
            out.push(SafetyCount {
                level: "patient".into(),
                group: id.into(),
                site: site.into(),
                events: ev,
                unsuitable_flags: fl,
                patients_with_events: (ev > 0) as u32,
            });
            let s = sites.entry(site).or_default();
            for acc in [s, &mut total] {
                acc.0 += ev;
                acc.1 += fl;
                acc.2 += (ev > 0) as u32;
            }
        }
        for (site, (ev, fl, pw)) in sites {
            out.push(SafetyCount {
                level: "site".into(),
                group: site.into(),
                site: site.into(),
                events: ev,
                unsuitable_flags: fl,
                patients_with_events: pw,
            });
        }
        out.push(SafetyCount {
            level: "cohort".into(),
            group: "all".into(),
            site: "all".into(),
            events: total.0,
            unsuitable_flags: total.1,
            patients_with_events: total.2,
        });
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use lumbar_model::cohort::{Patient, Session};

    fn s(
        patient: usize,
        day: u32,
        during: f64,
        stopped: Option<bool>,
        completed: Option<bool>,
        persist: f64,
    ) -> Session {
        Session {
            patient,
            performed_at: NaiveDate::from_ymd_opt(2025, 1, day)
                .unwrap()
                .and_hms_opt(8, 0, 0)
                .unwrap(),
            exercise: "bridge".into(),
            level: None,
            side: None,
            sets: Some(2.0),
            reps: Some(10.0),
            hold_s: Some(5.0),
            pain_during: Some(during),
            pain_after: None,
            pain_persist_min: Some(persist),
            stopped_for_pain: stopped,
            completed,
        }
    }

    #[test]
    fn events_flags_and_counts() {
        let p = |id: &str, site: &str| Patient {
            id: id.into(),
            site: site.into(),
            enrolled_on: NaiveDate::from_ymd_opt(2025, 1, 1).unwrap(),
            ..Patient::default()
        };
        let cohort = Cohort {
            patients: vec![p("P1", "north"), p("P2", "north"), p("P3", "south")],
            sessions: vec![
                s(0, 2, 7.0, Some(false), Some(true), 0.0), // event: continued at 7
                s(0, 3, 8.0, Some(true), Some(false), 0.0), // stopped: not an event
                s(0, 4, 6.5, Some(false), Some(true), 0.0), // discomfort below 7
                s(1, 5, 9.0, None, Some(true), 25.0), // unknown stop, completed: event; persisted: flag
                s(1, 9, 4.0, Some(false), Some(true), 21.0), // second episode, later
                s(1, 6, 3.0, Some(false), Some(true), 20.0), // exactly 20 min: not over the limit
                s(2, 7, 7.5, None, Some(false), 0.0), // unknown stop, not completed: no event
            ],
            outcomes: vec![],
        };
        let out = safety(&cohort, &Regimen::six_moves());
        assert_eq!(out.events.len(), 2);
        assert_eq!(out.flags.len(), 1);
        assert_eq!(out.flags[0].patient_id, "P2");
        assert_eq!(out.flags[0].episodes, 2);
        assert_eq!(
            out.flags[0].first_date,
            NaiveDate::from_ymd_opt(2025, 1, 5).unwrap()
        );
        let count = |level: &str, group: &str| {
            out.counts
                .iter()
                .find(|c| c.level == level && c.group == group)
                .unwrap()
                .clone()
        };
        assert_eq!(count("patient", "P1").events, 1);
        assert_eq!(count("patient", "P3").events, 0);
        let north = count("site", "north");
        assert_eq!(
            (
                north.events,
                north.unsuitable_flags,
                north.patients_with_events
            ),
            (2, 1, 2)
        );
        let all = count("cohort", "all");
        assert_eq!(
            (all.events, all.unsuitable_flags, all.patients_with_events),
            (2, 1, 2)
        );
    }
}
