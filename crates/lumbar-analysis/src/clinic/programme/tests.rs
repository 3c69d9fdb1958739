use super::*;
use crate::clinic::{ClinicOptions, ClinicSummary, clinic_summary};
use lumbar_model::cohort::{MemoryCohort, Outcome, Patient};
use std::sync::Arc;

fn d(s: &str) -> NaiveDate {
    NaiveDate::parse_from_str(s, "%Y-%m-%d").unwrap()
}

/// Dead bug (daily) and bridge (2 days a week) only.
fn two_moves() -> Regimen {
    let mut r = Regimen::six_moves();
    r.exercises
        .retain(|e| e.key == "dead_bug" || e.key == "bridge");
    r
}

/// A, B enrolled Monday 6 January 2025, C a week later. A logs both
/// moves on 6–8 January, the dead bug on the 14th, the bridge on the
/// 24th at pain 8 without stopping (a safety event) and the dead bug on
/// 1 February at 7.5, stopped (no event); B logs the dead bug on the
/// 6th and an incomplete one on the 9th; C logs nothing. NRS at
/// enrolment and on 26 January (A, B) or 19 January (C).
fn hand_cohort() -> MemoryCohort {
    let patient = |id: &str, enrolled: &str| Patient {
        id: id.into(),
        site: "north".into(),
        enrolled_on: d(enrolled),
        ..Patient::default()
    };
    let s = |p: usize, day: &str, ex: &str, pain: Option<f64>, stopped: bool, done: bool| Session {
        patient: p,
        performed_at: d(day).and_hms_opt(8, 0, 0).unwrap(),
        exercise: Arc::from(ex),
        level: None,
        side: None,
        sets: None,
        reps: None,
        hold_s: None,
        pain_during: pain,
        pain_after: None,
        pain_persist_min: None,
        stopped_for_pain: Some(stopped),
        completed: Some(done),
    };
    let o = |p: usize, day: &str| Outcome {
        patient: p,
        date: d(day),
        measure: "nrs_pain".into(),
        value: 5.0,
    };
    let mut sessions = Vec::new();
    for day in ["2025-01-06", "2025-01-07", "2025-01-08"] {
        sessions.push(s(0, day, "dead_bug", Some(3.0), false, true));
        sessions.push(s(0, day, "bridge", Some(3.0), false, true));
    }
    sessions.push(s(0, "2025-01-14", "dead_bug", None, false, true));
    sessions.push(s(0, "2025-01-24", "bridge", Some(8.0), false, true));
    sessions.push(s(0, "2025-02-01", "dead_bug", Some(7.5), true, true));
    sessions.push(s(1, "2025-01-06", "dead_bug", None, false, true));
    sessions.push(s(1, "2025-01-09", "dead_bug", None, false, false));
    MemoryCohort {
        cohort: Cohort {
            patients: vec![
                patient("A", "2025-01-06"),
                patient("B", "2025-01-06"),
                patient("C", "2025-01-13"),
            ],
            sessions,
            outcomes: vec![
                o(0, "2025-01-06"),
                o(0, "2025-01-26"),
                o(1, "2025-01-06"),
                o(1, "2025-01-26"),
                o(2, "2025-01-13"),
                o(2, "2025-01-19"),
            ],
        },
        walking: Vec::new(),
    }
}

fn summary(opts: &ClinicOptions) -> ClinicSummary {
    let r = two_moves();
    let rx = Prescriptions::from_regimen(&r);
    match clinic_summary(&hand_cohort(), &r, &rx, opts) {
        Ok(s) => s,
        Err(e) => match e {},
    }
}

fn adherence_rows(s: &ClinicSummary) -> Vec<(u32, usize, u64, u64)> {
    s.adherence_by_week
        .iter()
        .map(|w| (w.week, w.patients, w.scheduled, w.done))
        .collect()
}

fn dropout_rows(s: &ClinicSummary) -> Vec<(u32, usize, usize, usize)> {
    s.dropout
        .iter()
        .map(|w| (w.week, w.at_risk, w.dropped, w.censored))
        .collect()
}

#[test]
fn programme_weeks_dropout_and_months_by_hand() {
    let s = summary(&ClinicOptions::default());
    // Week 0: three patients, 7 dead-bug days + 2 bridge days each
    // (27); done A 3 + min(3, 2), B 1 (the incomplete row is not done).
    // Weeks 1–2: A and B, 9 each; A's dead bug on the 14th, bridge on
    // the 24th. Week 3: A alone (followed to 1 February, day 26: six
    // days, 6 + 2 scheduled), the dead bug done that day.
    assert_eq!(
        adherence_rows(&s),
        [(0, 3, 27, 6), (1, 2, 18, 1), (2, 2, 18, 1), (3, 1, 8, 1)]
    );
    // B: last session day 3, followed to day 20: dropped out in week 0.
    // C: no session, followed 7 days: dropped out in week 0. A: last
    // session on the last day followed: censored in week 3.
    assert_eq!(
        dropout_rows(&s),
        [(0, 3, 2, 0), (1, 1, 0, 0), (2, 1, 0, 0), (3, 1, 0, 1)]
    );
    let months: Vec<_> = s
        .safety_by_month
        .iter()
        .map(|m| {
            (
                m.year,
                m.month,
                m.patients,
                m.sessions,
                m.events,
                m.patients_with_events,
            )
        })
        .collect();
    assert_eq!(months, [(2025, 1, 2, 10, 1, 1), (2025, 2, 1, 1, 0, 0)]);
    // The months add up to the report's totals.
    assert_eq!(months.iter().map(|m| m.3).sum::<usize>(), s.sessions);
    let events: usize = s.safety.iter().map(|r| r.events).sum();
    assert_eq!(months.iter().map(|m| m.4).sum::<usize>(), events);
}

#[test]
fn a_window_cuts_weeks_follow_up_and_months_alike() {
    let s = summary(&ClinicOptions {
        to: Some(d("2025-01-20")),
        ..Default::default()
    });
    // Followed to the 20th (day 14): week 2 is one day (1 + 1 each
    // for A and B), nothing done in it.
    assert_eq!(
        adherence_rows(&s),
        [(0, 3, 27, 6), (1, 2, 18, 1), (2, 2, 4, 0)]
    );
    // A's last session in the window is day 8, six days before the
    // window's end: censored in week 2.
    assert_eq!(dropout_rows(&s), [(0, 3, 2, 0), (1, 1, 0, 0), (2, 1, 0, 1)]);
    let jan = &s.safety_by_month[0];
    assert_eq!(
        (jan.sessions, jan.events, s.safety_by_month.len()),
        (9, 0, 1)
    );
}

/// A session of `ex` with a logged dose and level.
fn dosed(
    p: usize,
    day: &str,
    ex: &str,
    dose: (Option<f64>, Option<f64>, Option<f64>),
    level: Option<&str>,
) -> Session {
    Session {
        patient: p,
        performed_at: d(day).and_hms_opt(9, 0, 0).unwrap(),
        exercise: Arc::from(ex),
        level: level.map(Arc::from),
        side: None,
        sets: dose.0,
        reps: dose.1,
        hold_s: dose.2,
        pain_during: None,
        pain_after: None,
        pain_persist_min: None,
        stopped_for_pain: None,
        completed: Some(true),
    }
}

#[test]
fn doses_against_the_range_and_rungs_reached_by_hand() {
    let mut c = hand_cohort();
    let none = (None, None, None);
    c.cohort.sessions.extend([
        // Dead bug: 2–3 sets of 10, no hold (20–30). A: 2 × 10 in,
        // 1 × 10 below, 3 × 12 above, one without reps (not counted);
        // B: 2 × 10 in.
        dosed(
            0,
            "2025-01-15",
            "dead_bug",
            (Some(2.0), Some(10.0), None),
            None,
        ),
        dosed(
            0,
            "2025-01-16",
            "dead_bug",
            (Some(1.0), Some(10.0), None),
            None,
        ),
        dosed(
            0,
            "2025-01-17",
            "dead_bug",
            (Some(3.0), Some(12.0), None),
            None,
        ),
        dosed(0, "2025-01-18", "dead_bug", (Some(3.0), None, None), None),
        dosed(
            1,
            "2025-01-07",
            "dead_bug",
            (Some(2.0), Some(10.0), None),
            None,
        ),
        // Bridge: 2 sets of 10–15 held 5 s (100–150). A: 2 × 10 × 5 in;
        // one without its hold (not counted).
        dosed(
            0,
            "2025-01-18",
            "bridge",
            (Some(2.0), Some(10.0), Some(5.0)),
            None,
        ),
        dosed(
            0,
            "2025-01-19",
            "bridge",
            (Some(2.0), Some(10.0), None),
            None,
        ),
        // Push-ups: A on the wall in week 0, on the knees in week 1
        // (day 9); B at the countertop in week 0 (day 2).
        dosed(0, "2025-01-06", "wall_push_up", none, Some("wall_push_up")),
        dosed(0, "2025-01-15", "knee_push_up", none, Some("knee_push_up")),
        dosed(
            1,
            "2025-01-08",
            "countertop_push_up",
            none,
            Some("countertop_push_up"),
        ),
    ]);
    c.cohort
        .sessions
        .sort_by_key(|s| (s.patient, s.performed_at));
    let r = two_moves();
    let rx = Prescriptions::from_regimen(&r);
    let s = match clinic_summary(&c, &r, &rx, &ClinicOptions::default()) {
        Ok(s) => s,
        Err(e) => match e {},
    };
    let dose: Vec<_> = s
        .dose
        .iter()
        .map(|x| (x.exercise.as_str(), x.patients, x.sessions, x.patients_by))
        .collect();
    assert_eq!(
        dose,
        [
            ("dead_bug", 2, [1, 2, 1], [1, 2, 1]),
            ("bridge", 1, [0, 1, 0], [0, 1, 0])
        ]
    );
    // A followed to 1 February (weeks 0–3), B to 26 January (0–2).
    assert_eq!(s.ladders.len(), 1);
    let push = &s.ladders[0];
    assert_eq!(push.ladder, "Push-up");
    let weeks: Vec<_> = push
        .weeks
        .iter()
        .map(|w| (w.week, w.patients, w.at_rung.clone()))
        .collect();
    assert_eq!(
        weeks,
        [
            (0, 2, vec![1, 1, 0, 0]),
            (1, 2, vec![0, 1, 1, 0]),
            (2, 2, vec![0, 1, 1, 0]),
            (3, 1, vec![0, 0, 1, 0])
        ]
    );
    // A window from 13 January: A's wall push-up is before it, so A's
    // ladder starts in week 1 on the knees.
    let s = match clinic_summary(
        &c,
        &r,
        &rx,
        &ClinicOptions {
            from: Some(d("2025-01-13")),
            ..Default::default()
        },
    ) {
        Ok(s) => s,
        Err(e) => match e {},
    };
    let w: Vec<_> = s.ladders[0]
        .weeks
        .iter()
        .map(|w| (w.week, w.patients, w.at_rung.clone()))
        .collect();
    assert_eq!(
        w,
        [
            (1, 1, vec![0, 0, 1, 0]),
            (2, 1, vec![0, 0, 1, 0]),
            (3, 1, vec![0, 0, 1, 0])
        ]
    );
    // B's week-0 dose is before the window.
    assert_eq!(s.dose[0].sessions, [1, 1, 1]);
}

fn week(week: u32, at_risk: usize, dropped: usize, censored: usize) -> DropoutWeek {
    DropoutWeek {
        week,
        at_risk,
        dropped,
        censored,
    }
}

#[test]
fn weeks_with_few_dropouts_are_pooled_into_one_step() {
    // 40 at risk; weeks 0–1 lose 3 then 2 (pooled: 5 of 40), week 2
    // none, week 3 censors the 35 left.
    let weeks = [
        week(0, 40, 3, 0),
        week(1, 37, 2, 0),
        week(2, 35, 0, 0),
        week(3, 35, 0, 35),
    ];
    let p = pooled(&weeks, 5);
    assert_eq!(p.len(), 3);
    assert_eq!((p[0].first_week, p[0].last_week), (0, 1));
    assert_eq!((p[0].at_risk, p[0].dropped, p[0].censored), (40, 5, 0));
    assert!((p[0].still_logging - 35.0 / 40.0).abs() < 1e-12);
    assert_eq!((p[1].first_week, p[1].last_week, p[1].at_risk), (2, 2, 35));
    assert!((p[1].still_logging - 35.0 / 40.0).abs() < 1e-12);
    assert_eq!((p[2].at_risk, p[2].dropped, p[2].censored), (35, 0, 35));
}

#[test]
fn the_tail_that_never_reaches_five_is_one_last_interval() {
    let weeks = [week(0, 8, 5, 0), week(1, 3, 1, 0), week(2, 2, 0, 2)];
    let p = pooled(&weeks, 5);
    // Week 0: 5 dropped but 3 left (1–4): pooled on to the end.
    assert_eq!(p.len(), 1);
    assert_eq!((p[0].first_week, p[0].last_week), (0, 2));
    assert_eq!((p[0].dropped, p[0].censored), (6, 2));
}
