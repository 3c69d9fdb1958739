//! `lumbar analyze`'s result tables, written from serialised rows: each
//! table's columns and types are those of a prototype row of its type with
//! every optional field present, through the same serialisation the
//! writers use (`lumbar_io::output::column_types`).

use anyhow::Result;
use chrono::NaiveDate;
use lumbar_analysis::adherence::{GroupAdherence, PatientAdherence, WeekTally};
use lumbar_analysis::dictionary::output_column;
use lumbar_analysis::safety::{SafetyCount, SafetyEvent, UnsuitableFlag};
use lumbar_analysis::trends::Trend;
use lumbar_io::output::column_types;

use super::{Chapter, Section, Words};

pub(super) fn chapter() -> Result<Chapter> {
    Ok(Chapter {
        title: "`lumbar analyze` results",
        intro: "Each table is written as `NAME.parquet` and `NAME.csv` in the output folder \
                (`--format` chooses among parquet, csv and json, JSON lines as `NAME.ndjson`), \
                with `pain_model.json` (the mixed model, as lme4 reports it) and `manifest.json`.",
        sections: analyze()?,
    })
}

/// Each analyze table's columns, from a row of its type with every field present.
fn analyze() -> Result<Vec<Section>> {
    let day = NaiveDate::default();
    let (p, s) = ("patient", "site");
    let week = WeekTally {
        exercise: "move".into(),
        week_start: day,
        scheduled: 1,
        done: 1,
        dose_adherence: Some(1.0),
    };
    let w: Words = output_column;
    Ok(vec![
        Section::new("adherence_weekly", "", column_types(&week.row(p, s))?, w),
        Section::new(
            "adherence_patients",
            "",
            column_types(&PatientAdherence {
                patient_id: p.into(),
                site: s.into(),
                scheduled: 1,
                done: 1,
                session_adherence: 1.0,
                dose_adherence: Some(1.0),
                adherent: true,
            })?,
            w,
        ),
        Section::new(
            "adherence_groups",
            "",
            column_types(&GroupAdherence {
                level: "site".into(),
                group: s.into(),
                patients: 1,
                median: 1.0,
                q1: 1.0,
                q3: 1.0,
                share_adherent: 1.0,
            })?,
            w,
        ),
        Section::new(
            "safety_events",
            "",
            column_types(&SafetyEvent {
                patient_id: p.into(),
                site: s.into(),
                performed_at: day.and_hms_opt(9, 0, 0).unwrap_or_default(),
                exercise: "move".into(),
                pain_during: 7.0,
            })?,
            w,
        ),
        Section::new(
            "safety_flags",
            "",
            column_types(&UnsuitableFlag {
                patient_id: p.into(),
                site: s.into(),
                exercise: "move".into(),
                first_date: day,
                episodes: 1,
            })?,
            w,
        ),
        Section::new(
            "safety_counts",
            "",
            column_types(&SafetyCount {
                level: "site".into(),
                group: s.into(),
                site: s.into(),
                events: 1,
                unsuitable_flags: 1,
                patients_with_events: 1,
            })?,
            w,
        ),
        Section::new(
            "trends",
            "",
            column_types(&Trend {
                patient_id: p.into(),
                site: s.into(),
                measure: "nrs_pain".into(),
                n: 2,
                baseline_date: day,
                baseline: 5.0,
                last_date: day,
                last: 3.0,
                change: -2.0,
                percent_change: Some(-40.0),
                slope_per_week: Some(-0.5),
                slope_se: Some(0.1),
                theil_sen_per_week: Some(-0.5),
                responder: true,
                weeks_to_sustained_response: Some(4.0),
            })?,
            w,
        ),
    ])
}
