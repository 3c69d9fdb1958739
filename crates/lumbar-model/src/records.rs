//! Records: one line of a canonical table as a writer produces it (the
//! generator, tests), with every column as text-ready values. Field order
//! is the canonical column order of [`crate::schema`], so serialising a
//! record gives a canonical CSV line. The analyses read the narrower domain
//! types of [`crate::cohort`] instead.

use std::borrow::Cow;
use std::sync::Arc;

use chrono::{NaiveDate, NaiveDateTime};
use serde::{Serialize, Serializer};

/// Writes whole numbers without a trailing `.0` (`20`, not `20.0`), so CSV
/// files stay small and read as a person would write them.
pub fn compact_f64<S: Serializer>(x: &f64, s: S) -> Result<S::Ok, S::Error> {
    if x.fract() == 0.0 && x.abs() < 1e15 {
        s.serialize_i64(*x as i64)
    } else {
        s.serialize_f64(*x)
    }
}

fn compact_opt<S: Serializer>(x: &Option<f64>, s: S) -> Result<S::Ok, S::Error> {
    match x {
        Some(v) => compact_f64(v, s),
        None => s.serialize_none(),
    }
}

/// ISO 8601 to the minute: session logs carry no seconds.
fn minutes<S: Serializer>(t: &NaiveDateTime, s: S) -> Result<S::Ok, S::Error> {
    s.collect_str(&t.format("%Y-%m-%dT%H:%M"))
}

/// A patient of the exercise programme.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct PatientRecord {
    pub patient_id: String,
    pub site: String,
    pub sex: &'static str,
    pub birth_year: Option<i32>,
    #[serde(serialize_with = "compact_opt")]
    pub age: Option<f64>,
    #[serde(serialize_with = "compact_opt")]
    pub bmi: Option<f64>,
    pub enrolled_on: NaiveDate,
    pub stenosis: bool,
    #[serde(serialize_with = "compact_opt")]
    pub baseline_pain: Option<f64>,
    #[serde(serialize_with = "compact_opt")]
    pub baseline_odi: Option<f64>,
    pub regimen: String,
}

/// One exercise performed (or attempted) in a session.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SessionRecord {
    /// Shared (an `Arc`): a patient's sessions carry one id, and a cohort
    /// a handful of moves, without a copy per row.
    pub patient_id: Arc<str>,
    #[serde(serialize_with = "minutes")]
    pub performed_at: NaiveDateTime,
    pub exercise: Arc<str>,
    pub level: Option<Arc<str>>,
    pub side: Option<&'static str>,
    pub sets: Option<u32>,
    pub reps: Option<u32>,
    #[serde(serialize_with = "compact_opt")]
    pub hold_s: Option<f64>,
    #[serde(serialize_with = "compact_opt")]
    pub pain_before: Option<f64>,
    #[serde(serialize_with = "compact_opt")]
    pub pain_during: Option<f64>,
    #[serde(serialize_with = "compact_opt")]
    pub pain_after: Option<f64>,
    #[serde(serialize_with = "compact_opt")]
    pub pain_persist_min: Option<f64>,
    pub stopped_for_pain: Option<bool>,
    pub completed: Option<bool>,
    pub source: &'static str,
}

/// A patient-day of walking.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct WalkingDayRecord {
    pub patient_id: Arc<str>,
    pub date: NaiveDate,
    #[serde(serialize_with = "compact_f64")]
    pub walking_min: f64,
    pub steps: Option<u32>,
    #[serde(serialize_with = "compact_opt")]
    pub wear_min: Option<f64>,
    #[serde(serialize_with = "compact_opt")]
    pub mean_met: Option<f64>,
    pub source: &'static str,
}

/// A patient-reported outcome at a date.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct OutcomeRecord {
    pub patient_id: Arc<str>,
    pub date: NaiveDate,
    pub measure: &'static str,
    #[serde(serialize_with = "compact_f64")]
    pub value: f64,
}

/// A participant of the walking-risk follow-up study.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct FollowupRecord {
    pub patient_id: String,
    pub baseline_date: NaiveDate,
    pub end_date: NaiveDate,
    pub event: bool,
    pub event_date: Option<NaiveDate>,
    #[serde(serialize_with = "compact_f64")]
    pub age: f64,
    pub sex: &'static str,
    #[serde(serialize_with = "compact_f64")]
    pub bmi: f64,
}

/// Where a producer of records (the synthetic generator) puts them: one
/// method per canonical table, called in the order the rows are to be
/// written. lumbar-io's `CsvTables` writes them as the canonical CSV files.
pub trait RecordSink {
    fn patient(&mut self, r: &PatientRecord) -> std::io::Result<()>;
    fn session(&mut self, r: &SessionRecord) -> std::io::Result<()>;
    fn walking(&mut self, r: &WalkingDayRecord) -> std::io::Result<()>;
    fn outcome(&mut self, r: &OutcomeRecord) -> std::io::Result<()>;
    fn followup(&mut self, r: &FollowupRecord) -> std::io::Result<()>;
}

/// One column of a result table, typed as it is to be stored (Parquet
/// types follow the Rust ones: `u32` is UInt32, `None` is null), borrowed
/// where the producer already holds it column-wise.
#[derive(Debug, Clone, PartialEq)]
pub enum ColumnValues<'a> {
    U32(Cow<'a, [u32]>),
    OptU32(Cow<'a, [Option<u32>]>),
    U64(Cow<'a, [u64]>),
    I64(Cow<'a, [i64]>),
    F64(Cow<'a, [f64]>),
    OptF64(Cow<'a, [Option<f64>]>),
    Bool(Cow<'a, [bool]>),
    Str(Vec<&'a str>),
    Date(Cow<'a, [chrono::NaiveDate]>),
}

/// A producer's result table column by column (the simulator's summaries
/// and trajectories), for lumbar-io to write without knowing the producer.
pub type ColumnTable<'a> = Vec<(String, ColumnValues<'a>)>;
