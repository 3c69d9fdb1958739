use super::*;
use lumbar_model::cohort::{Outcome, Patient, Session};

#[test]
fn a_personal_prescription_changes_what_is_scheduled() {
    // P1 does the hip flexor stretch Monday to Friday of one ISO week.
    let d0 = NaiveDate::from_ymd_opt(2025, 1, 6).unwrap();
    let sessions = (0..5)
        .map(|k| Session {
            patient: 0,
            performed_at: (d0 + Duration::days(k)).and_hms_opt(8, 0, 0).unwrap(),
            exercise: "hip_flexor_stretch".into(),
            level: None,
            side: Some("both".into()),
            sets: Some(1.0),
            reps: Some(4.0),
            hold_s: Some(20.0),
            pain_during: None,
            pain_after: None,
            pain_persist_min: None,
            stopped_for_pain: None,
            completed: None,
        })
        .collect();
    let cohort = Cohort {
        patients: vec![Patient {
            id: "P1".into(),
            site: "north".into(),
            enrolled_on: d0,
            ..Patient::default()
        }],
        sessions,
        outcomes: vec![Outcome {
            patient: 0,
            date: d0 + Duration::days(6),
            measure: "nrs_pain".into(),
            value: 4.0,
        }],
    };
    let dir = std::env::temp_dir().join(format!("lumbar-adh-rx-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let f = dir.join("rx.csv");
    // The hip flexor twice a week at 6–8 reps; no bridge.
    std::fs::write(
        &f,
        "patient_id,exercise,frequency,reps\nP1,hip_flexor_stretch,2/week,6-8\nP1,bridge,none,\n",
    )
    .unwrap();
    let rx =
        Prescriptions::load(&Regimen::six_moves(), &lumbar_io::Frame::read(&f).unwrap()).unwrap();
    let _ = std::fs::remove_dir_all(&dir);
    let a = adherence_with(&cohort, &rx, 0.7);
    let hip = a
        .weeks
        .iter()
        .find(|w| w.exercise == "hip_flexor_stretch")
        .unwrap();
    assert_eq!(
        (hip.scheduled, hip.done, hip.session_adherence),
        (2, 2, 1.0)
    );
    // 4 reps against a prescribed 6: two thirds of the dose.
    assert!((hip.dose_adherence.unwrap() - 4.0 / 6.0).abs() < 1e-12);
    assert!(a.weeks.iter().all(|w| w.exercise != "bridge"));
    // Four other daily moves × 7 days + the hip flexor's 2.
    assert_eq!(a.patients[0].scheduled, 4 * 7 + 2);
}
