//! Typed rows of the canonical tables, for code that produces them (the
//! generator) and tests. Field order is the canonical column order of
//! [`crate::schema`], so serialising a row gives a canonical CSV record.

use chrono::{NaiveDate, NaiveDateTime};
use serde::Serialize;

/// A patient of the exercise programme.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Patient {
    pub patient_id: String,
    pub site: String,
    pub sex: &'static str,
    pub birth_year: Option<i32>,
    pub age: Option<f64>,
    pub bmi: Option<f64>,
    pub enrolled_on: NaiveDate,
    pub stenosis: bool,
    pub baseline_pain: Option<f64>,
    pub baseline_odi: Option<f64>,
    pub regimen: String,
}

/// One exercise performed (or attempted) in a session.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Session {
    pub patient_id: String,
    pub performed_at: NaiveDateTime,
    pub exercise: String,
    pub level: Option<String>,
    pub side: Option<&'static str>,
    pub sets: Option<u32>,
    pub reps: Option<u32>,
    pub hold_s: Option<f64>,
    pub pain_before: Option<f64>,
    pub pain_during: Option<f64>,
    pub pain_after: Option<f64>,
    pub pain_persist_min: Option<f64>,
    pub stopped_for_pain: Option<bool>,
    pub completed: Option<bool>,
    pub source: &'static str,
}

/// A patient-day of walking.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct WalkingDay {
    pub patient_id: String,
    pub date: NaiveDate,
    pub walking_min: f64,
    pub steps: Option<u32>,
    pub wear_min: Option<f64>,
    pub mean_met: Option<f64>,
    pub source: &'static str,
}

/// A patient-reported outcome at a date.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Outcome {
    pub patient_id: String,
    pub date: NaiveDate,
    pub measure: &'static str,
    pub value: f64,
}
