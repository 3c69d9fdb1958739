use super::*;
use chrono::NaiveDateTime;
use lumbar_model::cohort::{Outcome, Patient, Session};

fn at(d: &str) -> NaiveDateTime {
    NaiveDateTime::parse_from_str(&format!("{d} 08:00"), "%Y-%m-%d %H:%M").unwrap()
}

fn session(
    patient: usize,
    d: &str,
    exercise: &str,
    side: Option<&str>,
    sets: f64,
    reps: f64,
    hold: Option<f64>,
) -> Session {
    Session {
        patient,
        performed_at: at(d),
        exercise: exercise.into(),
        level: None,
        side: side.map(std::sync::Arc::from),
        sets: Some(sets),
        reps: Some(reps),
        hold_s: hold,
        pain_during: Some(3.0),
        pain_after: Some(2.0),
        pain_persist_min: Some(0.0),
        stopped_for_pain: Some(false),
        completed: Some(true),
    }
}

fn patient(id: &str, enrolled: &str) -> Patient {
    Patient {
        id: id.into(),
        site: "north".into(),
        enrolled_on: enrolled.parse().unwrap(),
        ..Patient::default()
    }
}

/// P1: enrolled Monday 2025-01-06, followed to Sunday 2025-01-19 (two
/// ISO weeks). P2: enrolled Wednesday 2025-01-08, followed to Sunday
/// 2025-01-12 (a partial week).
fn small_cohort() -> Cohort {
    let mut sessions = Vec::new();
    for d in [
        "2025-01-06",
        "2025-01-07",
        "2025-01-08",
        "2025-01-09",
        "2025-01-10",
    ] {
        sessions.push(session(
            0,
            d,
            "hip_flexor_stretch",
            Some("both"),
            1.0,
            4.0,
            Some(20.0),
        ));
    }
    // Week 2: one side only, then both sides below the rep range.
    sessions.push(session(
        0,
        "2025-01-13",
        "hip_flexor_stretch",
        Some("left"),
        1.0,
        3.0,
        Some(20.0),
    ));
    sessions.push(session(
        0,
        "2025-01-14",
        "hip_flexor_stretch",
        Some("both"),
        1.0,
        2.0,
        Some(20.0),
    ));
    // Attempted but not completed: not a day done.
    let mut stopped = session(
        0,
        "2025-01-15",
        "hip_flexor_stretch",
        Some("both"),
        1.0,
        1.0,
        Some(20.0),
    );
    stopped.completed = Some(false);
    sessions.push(stopped);
    // The bridge on 2 days of week 1 and 1 day of week 2.
    sessions.push(session(
        0,
        "2025-01-07",
        "bridge",
        None,
        2.0,
        12.0,
        Some(5.0),
    ));
    sessions.push(session(
        0,
        "2025-01-09",
        "bridge",
        None,
        2.0,
        12.0,
        Some(5.0),
    ));
    sessions.push(session(
        0,
        "2025-01-16",
        "bridge",
        None,
        2.0,
        10.0,
        Some(5.0),
    ));
    // P2: a session the day before enrolment does not count.
    sessions.push(session(
        1,
        "2025-01-07",
        "hip_flexor_stretch",
        Some("both"),
        1.0,
        3.0,
        Some(20.0),
    ));
    sessions.push(session(
        1,
        "2025-01-08",
        "hip_flexor_stretch",
        Some("both"),
        1.0,
        3.0,
        Some(20.0),
    ));
    // Bridge on 3 days of a week asking for 2: full, not more.
    for d in ["2025-01-08", "2025-01-09", "2025-01-10"] {
        sessions.push(session(1, d, "bridge", None, 2.0, 10.0, Some(5.0)));
    }
    let outcome = |patient, d: &str| Outcome {
        patient,
        date: d.parse().unwrap(),
        measure: "nrs_pain".into(),
        value: 5.0,
    };
    Cohort {
        patients: vec![patient("P1", "2025-01-06"), patient("P2", "2025-01-08")],
        sessions,
        outcomes: vec![
            outcome(0, "2025-01-06"),
            outcome(0, "2025-01-19"),
            outcome(1, "2025-01-12"),
        ],
    }
}

fn week<'a>(a: &'a Adherence, id: &str, ex: &str, iso_week: u32) -> &'a WeekAdherence {
    a.weeks
        .iter()
        .find(|w| w.patient_id == id && w.exercise == ex && w.iso_week == iso_week)
        .unwrap()
}

#[test]
fn hand_computed_weekly_adherence() {
    let r = Regimen::six_moves();
    let a = adherence(&small_cohort(), &r, 0.70);
    // A daily move done 5 of 7 days at full dose.
    let w = week(&a, "P1", "hip_flexor_stretch", 2);
    assert_eq!((w.scheduled, w.done), (7, 5));
    assert!((w.session_adherence - 5.0 / 7.0).abs() < 1e-12);
    assert_eq!(w.dose_adherence, Some(1.0));
    // One side only (0.5) and both sides at 2 of 3 reps (2/3).
    let w = week(&a, "P1", "hip_flexor_stretch", 3);
    assert_eq!((w.scheduled, w.done), (7, 2));
    assert!((w.dose_adherence.unwrap() - (0.5 + 2.0 / 3.0) / 2.0).abs() < 1e-12);
    // The bridge: 2 of 2 days, then 1 of 2.
    let w = week(&a, "P1", "bridge", 2);
    assert_eq!((w.scheduled, w.done, w.session_adherence), (2, 2, 1.0));
    let w = week(&a, "P1", "bridge", 3);
    assert_eq!((w.scheduled, w.done, w.session_adherence), (2, 1, 0.5));
    // A move never done: scheduled, not done, no dose.
    let w = week(&a, "P1", "dead_bug", 2);
    assert_eq!((w.scheduled, w.done, w.dose_adherence), (7, 0, None));
    // P2's partial first week: Wednesday to Sunday is 5 days; the day
    // before enrolment is neither scheduled nor counted.
    let w = week(&a, "P2", "hip_flexor_stretch", 2);
    assert_eq!((w.scheduled, w.done), (5, 1));
    let w = week(&a, "P2", "bridge", 2);
    assert_eq!((w.scheduled, w.done, w.session_adherence), (2, 2, 1.0));
    assert!(
        a.weeks
            .iter()
            .all(|w| w.patient_id != "P2" || w.iso_week == 2)
    );
}

#[test]
fn hand_computed_patient_and_group_adherence() {
    let r = Regimen::six_moves();
    let a = adherence(&small_cohort(), &r, 0.70);
    let p1 = a.patients.iter().find(|p| p.patient_id == "P1").unwrap();
    // 5 daily moves × 14 days + the bridge 2 + 2 = 74 scheduled; done:
    // hip flexor 5 + 2, bridge 2 + 1 = 10.
    assert_eq!((p1.scheduled, p1.done), (74, 10));
    assert!(!p1.adherent);
    // Dose over the 10 days done: 5 full hip flexor days, 0.5, 2/3,
    // two full bridges and one at 10 of 10–15 reps (full).
    let expected = (5.0 + 0.5 + 2.0 / 3.0 + 3.0) / 10.0;
    assert!((p1.dose_adherence.unwrap() - expected).abs() < 1e-12);
    let p2 = a.patients.iter().find(|p| p.patient_id == "P2").unwrap();
    // 5 daily moves × 5 days + bridge 2 = 27; done 1 + 2 = 3.
    assert_eq!((p2.scheduled, p2.done), (27, 3));
    let cohort = a.groups.iter().find(|g| g.level == "cohort").unwrap();
    assert_eq!(cohort.patients, 2);
    let (s1, s2) = (10.0 / 74.0, 3.0 / 27.0);
    assert!((cohort.median - (s1 + s2) / 2.0).abs() < 1e-12);
    assert_eq!(cohort.share_adherent, 0.0);
}

#[test]
fn a_window_narrows_scheduled_and_done_days_alike() {
    let cohort = small_cohort();
    let rx = Prescriptions::from_regimen(&Regimen::six_moves());
    let day = |s: &str| Some(s.parse::<NaiveDate>().unwrap());
    // Wednesday 8 to Tuesday 14 January: 5 days of ISO week 2, 2 of week 3.
    let mut tally =
        AdherenceTally::new(&cohort, &rx, 0.7, true).within(day("2025-01-08"), day("2025-01-14"));
    cohort.feed_sessions(&mut tally);
    let a = tally.finish();
    // P1's hip flexor on the 8th, 9th, 10th, 13th (one side) and 14th.
    let w = week(&a, "P1", "hip_flexor_stretch", 2);
    assert_eq!((w.scheduled, w.done), (5, 3));
    let w = week(&a, "P1", "hip_flexor_stretch", 3);
    assert_eq!((w.scheduled, w.done), (2, 2));
    // The bridge: 2 asked in each cut week; the 7th is before the window,
    // the 16th after it.
    let w = week(&a, "P1", "bridge", 2);
    assert_eq!((w.scheduled, w.done), (2, 1));
    let w = week(&a, "P1", "bridge", 3);
    assert_eq!((w.scheduled, w.done), (2, 0));
    let p1 = a.patients.iter().find(|p| p.patient_id == "P1").unwrap();
    assert_eq!((p1.scheduled, p1.done), (5 * 7 + 4, 6));
    // P2 (8th to 12th) lies inside the window: as without it.
    let p2 = a.patients.iter().find(|p| p.patient_id == "P2").unwrap();
    assert_eq!((p2.scheduled, p2.done), (27, 3));
    assert_eq!(a.unscheduled, 0);

    // A window before P2's enrolment: P2 is left out and counted; P1
    // is scheduled on the 6th and 7th only.
    let mut tally =
        AdherenceTally::new(&cohort, &rx, 0.7, false).within(day("2025-01-01"), day("2025-01-07"));
    cohort.feed_sessions(&mut tally);
    let a = tally.finish();
    assert_eq!(a.unscheduled, 1);
    assert_eq!(a.patients.len(), 1);
    assert_eq!(
        (a.patients[0].scheduled, a.patients[0].done),
        (5 * 2 + 2, 3)
    );
}

#[test]
fn no_week_before_the_first_day_observed() {
    // P1 enrolled on 0001-01-01: scheduled from the first session (the
    // 6th of January 2025), as if enrolled that day.
    let mut ancient = small_cohort();
    ancient.patients[0].enrolled_on = NaiveDate::from_ymd_opt(1, 1, 1).unwrap();
    let r = Regimen::six_moves();
    let a = adherence(&ancient, &r, 0.7);
    let b = adherence(&small_cohort(), &r, 0.7);
    assert_eq!(a.weeks, b.weeks);
    assert_eq!(a.patients, b.patients);
}

#[test]
fn threshold_is_inclusive() {
    let r = Regimen::six_moves();
    let a = adherence(&small_cohort(), &r, 10.0 / 74.0);
    assert!(a.patients[0].adherent);
}

use proptest::prelude::*;

proptest! {
    #![proptest_config(ProptestConfig::with_cases(32))]
    /// Sessions of a move that is not prescribed (a ladder rung, the
    /// posture, walking) change no adherence figure.
    #[test]
    fn unprescribed_moves_change_nothing(
        extra in proptest::collection::vec((0usize..2, 0i64..14, 0usize..4, 1u32..30), 0..40)
    ) {
        let r = Regimen::six_moves();
        let base = small_cohort();
        let before = adherence(&base, &r, 0.70);
        let mut more = base.clone();
        for (p, day, m, reps) in extra {
            let d = (chrono::NaiveDate::from_ymd_opt(2025, 1, 6).unwrap() + Duration::days(day)).to_string();
            let ex = ["wall_push_up", "walking", "wall_stand", "recumbent_bike"][m];
            more.sessions.push(session(p, &d, ex, None, 1.0, reps as f64, None));
        }
        let after = adherence(&more, &r, 0.70);
        prop_assert_eq!(before.weeks, after.weeks);
        prop_assert_eq!(before.patients, after.patients);
        prop_assert_eq!(before.groups, after.groups);
    }
}
