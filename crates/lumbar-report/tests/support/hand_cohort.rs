//! A small cohort whose report figures are worked out by hand (issue 21):
//! ten patients of site `north` enrolled on Monday 6 January 2025 on the
//! dead bug alone (daily), their pain measured on the 6th and on the 27th
//! (day 21, programme week 3).
//!
//! - Patients 0–4 log the dead bug every day from the 6th to the 27th (22
//!   sessions each, 110), the first at pain 8 without stopping (a safety
//!   event each: 5 events among 5 patients); their pain falls from 6 to 3
//!   (responders).
//! - Patients 5–9 log it on the 6th to the 12th only (7 each, 35) and then
//!   stop logging (dropouts in week 0); their pain stays at 6.
//!
//! So: 10 patients; adherence 22/22 for five and 7/22 for five (50%
//! adherent); responders at week 3, 5 of 10 (50%); 5 safety events in 145
//! sessions (3.45 per 100); dropout: 5 of 10 in week 0, the other five
//! censored in week 3 (50% still logging from the end of week 0 on).

use std::sync::Arc;

use chrono::NaiveDate;
use lumbar_analysis::clinic::{ClinicOptions, ClinicSummary, clinic_summary};
use lumbar_analysis::prescription::Prescriptions;
use lumbar_model::Regimen;
use lumbar_model::cohort::{Cohort, MemoryCohort, Outcome, Patient, Session};

pub fn d(s: &str) -> NaiveDate {
    NaiveDate::parse_from_str(s, "%Y-%m-%d").unwrap()
}

/// The six moves cut to the dead bug (daily, 2–3 sets of 10).
pub fn dead_bug_only() -> Regimen {
    let mut r = Regimen::six_moves();
    r.exercises.retain(|e| e.key == "dead_bug");
    r
}

/// One logged dead bug of patient `p`, `day` days after 6 January.
pub fn session(p: usize, day: i64, pain: f64) -> Session {
    Session {
        patient: p,
        performed_at: (d("2025-01-06") + chrono::Duration::days(day))
            .and_hms_opt(8, 0, 0)
            .unwrap(),
        exercise: Arc::from("dead_bug"),
        level: None,
        side: None,
        sets: Some(2.0),
        reps: Some(10.0),
        hold_s: None,
        pain_during: Some(pain),
        pain_after: None,
        pain_persist_min: None,
        stopped_for_pain: Some(false),
        completed: Some(true),
    }
}

pub fn cohort() -> MemoryCohort {
    let patients = (0..10)
        .map(|i| Patient {
            id: format!("H{i:02}"),
            site: "north".into(),
            enrolled_on: d("2025-01-06"),
            ..Patient::default()
        })
        .collect();
    let mut sessions = Vec::new();
    let mut outcomes = Vec::new();
    for p in 0..10 {
        let days = if p < 5 { 22 } else { 7 };
        for day in 0..days {
            let pain = if p < 5 && day == 0 { 8.0 } else { 3.0 };
            sessions.push(session(p, day, pain));
        }
        let o = |date: &str, value: f64| Outcome {
            patient: p,
            date: d(date),
            measure: "nrs_pain".into(),
            value,
        };
        outcomes.push(o("2025-01-06", 6.0));
        outcomes.push(o("2025-01-27", if p < 5 { 3.0 } else { 6.0 }));
    }
    MemoryCohort {
        cohort: Cohort {
            patients,
            sessions,
            outcomes,
        },
        walking: Vec::new(),
    }
}

/// The clinic summary of `c` on `regimen` with `opts`.
pub fn summary_of(c: &MemoryCohort, regimen: &Regimen, opts: &ClinicOptions) -> ClinicSummary {
    let rx = Prescriptions::from_regimen(regimen);
    match clinic_summary(c, regimen, &rx, opts) {
        Ok(s) => s,
        Err(e) => match e {},
    }
}
