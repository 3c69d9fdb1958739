//! Shards of the report add up to the whole run, bit for bit.

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
