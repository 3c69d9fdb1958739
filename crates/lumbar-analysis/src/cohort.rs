//! The programme cohort as plain Rust values, loaded from a store: patients,
//! their exercise sessions and their patient-reported outcomes.

use std::collections::HashMap;

use chrono::{DateTime, NaiveDate, NaiveDateTime};
use lumbar_ingest::{IngestError, Store};
use lumbar_model::Table;
use polars::prelude::*;

/// A patient of the programme.
#[derive(Debug, Clone, PartialEq)]
pub struct Patient {
    pub id: String,
    pub site: String,
    pub enrolled_on: NaiveDate,
}

/// One exercise performed (or attempted).
#[derive(Debug, Clone, PartialEq)]
pub struct Session {
    /// Index into [`Cohort::patients`].
    pub patient: usize,
    pub performed_at: NaiveDateTime,
    pub exercise: String,
    pub side: Option<String>,
    pub sets: Option<f64>,
    pub reps: Option<f64>,
    pub hold_s: Option<f64>,
    pub pain_during: Option<f64>,
    pub pain_after: Option<f64>,
    pub pain_persist_min: Option<f64>,
    pub stopped_for_pain: Option<bool>,
    pub completed: Option<bool>,
}

/// A patient-reported outcome.
#[derive(Debug, Clone, PartialEq)]
pub struct Outcome {
    pub patient: usize,
    pub date: NaiveDate,
    pub measure: String,
    pub value: f64,
}

/// Patients with their sessions and outcomes. Rows naming a patient who is
/// not in the patients table are not part of the cohort.
#[derive(Debug, Clone, Default)]
pub struct Cohort {
    pub patients: Vec<Patient>,
    pub sessions: Vec<Session>,
    pub outcomes: Vec<Outcome>,
}

#[derive(Debug, thiserror::Error)]
pub enum LoadError {
    #[error(transparent)]
    Store(#[from] IngestError),
    #[error("the store has no {0} table; ingest one first")]
    Missing(&'static str),
    #[error("column {0}: {1}")]
    Column(String, PolarsError),
}

fn col<'a>(df: &'a DataFrame, name: &str) -> Result<&'a Column, LoadError> {
    df.column(name)
        .map_err(|e| LoadError::Column(name.to_string(), e))
}

fn strs(df: &DataFrame, name: &str) -> Result<Vec<Option<String>>, LoadError> {
    let c = col(df, name)?;
    let ca = c.str().map_err(|e| LoadError::Column(name.into(), e))?;
    Ok(ca.iter().map(|v| v.map(str::to_string)).collect())
}

fn floats(df: &DataFrame, name: &str) -> Result<Vec<Option<f64>>, LoadError> {
    let c = col(df, name)?
        .cast(&DataType::Float64)
        .map_err(|e| LoadError::Column(name.into(), e))?;
    let ca = c.f64().map_err(|e| LoadError::Column(name.into(), e))?;
    Ok(ca.iter().collect())
}

fn bools(df: &DataFrame, name: &str) -> Result<Vec<Option<bool>>, LoadError> {
    let c = col(df, name)?;
    let ca = c.bool().map_err(|e| LoadError::Column(name.into(), e))?;
    Ok(ca.iter().collect())
}

fn dates(df: &DataFrame, name: &str) -> Result<Vec<Option<NaiveDate>>, LoadError> {
    let c = col(df, name)?
        .cast(&DataType::Int32)
        .map_err(|e| LoadError::Column(name.into(), e))?;
    let ca = c.i32().map_err(|e| LoadError::Column(name.into(), e))?;
    Ok(ca
        .iter()
        .map(|d| d.and_then(|d| NaiveDate::from_num_days_from_ce_opt(d + 719_163)))
        .collect())
}

fn datetimes(df: &DataFrame, name: &str) -> Result<Vec<Option<NaiveDateTime>>, LoadError> {
    let c = col(df, name)?
        .cast(&DataType::Int64)
        .map_err(|e| LoadError::Column(name.into(), e))?;
    let ca = c.i64().map_err(|e| LoadError::Column(name.into(), e))?;
    Ok(ca
        .iter()
        .map(|ms| {
            ms.and_then(DateTime::from_timestamp_millis)
                .map(|t| t.naive_utc())
        })
        .collect())
}

impl Cohort {
    /// Loads patients, sessions and outcomes from a store.
    pub fn load(store: &Store) -> Result<Cohort, LoadError> {
        let p = store
            .read_table(Table::Patients)?
            .ok_or(LoadError::Missing("patients"))?;
        let ids = strs(&p, "patient_id")?;
        let sites = strs(&p, "site")?;
        let enrolled = dates(&p, "enrolled_on")?;
        let mut patients = Vec::with_capacity(p.height());
        for i in 0..p.height() {
            if let (Some(id), Some(site), Some(e)) = (&ids[i], &sites[i], enrolled[i]) {
                patients.push(Patient {
                    id: id.clone(),
                    site: site.clone(),
                    enrolled_on: e,
                });
            }
        }
        let mut cohort = Cohort {
            patients,
            ..Default::default()
        };
        let index: HashMap<String, usize> = cohort
            .patients
            .iter()
            .enumerate()
            .map(|(i, p)| (p.id.clone(), i))
            .collect();
        if let Some(s) = store.read_table(Table::Sessions)? {
            let pid = strs(&s, "patient_id")?;
            let at = datetimes(&s, "performed_at")?;
            let ex = strs(&s, "exercise")?;
            let side = strs(&s, "side")?;
            let sets = floats(&s, "sets")?;
            let reps = floats(&s, "reps")?;
            let hold = floats(&s, "hold_s")?;
            let during = floats(&s, "pain_during")?;
            let after = floats(&s, "pain_after")?;
            let persist = floats(&s, "pain_persist_min")?;
            let stopped = bools(&s, "stopped_for_pain")?;
            let completed = bools(&s, "completed")?;
            for i in 0..s.height() {
                let (Some(id), Some(t), Some(e)) = (&pid[i], at[i], &ex[i]) else {
                    continue;
                };
                let Some(&patient) = index.get(id.as_str()) else {
                    continue;
                };
                cohort.sessions.push(Session {
                    patient,
                    performed_at: t,
                    exercise: e.clone(),
                    side: side[i].clone(),
                    sets: sets[i],
                    reps: reps[i],
                    hold_s: hold[i],
                    pain_during: during[i],
                    pain_after: after[i],
                    pain_persist_min: persist[i],
                    stopped_for_pain: stopped[i],
                    completed: completed[i],
                });
            }
        }
        if let Some(o) = store.read_table(Table::Outcomes)? {
            let pid = strs(&o, "patient_id")?;
            let date = dates(&o, "date")?;
            let measure = strs(&o, "measure")?;
            let value = floats(&o, "value")?;
            for i in 0..o.height() {
                let (Some(id), Some(d), Some(m), Some(v)) =
                    (&pid[i], date[i], &measure[i], value[i])
                else {
                    continue;
                };
                if let Some(&patient) = index.get(id.as_str()) {
                    cohort.outcomes.push(Outcome {
                        patient,
                        date: d,
                        measure: m.clone(),
                        value: v,
                    });
                }
            }
        }
        // Stores are unions of parts: put rows in time order once, here.
        cohort.sessions.sort_by_key(|s| (s.patient, s.performed_at));
        cohort
            .outcomes
            .sort_by(|a, b| (a.patient, a.date, &a.measure).cmp(&(b.patient, b.date, &b.measure)));
        Ok(cohort)
    }

    /// Patient index by id.
    pub fn index(&self) -> HashMap<&str, usize> {
        self.patients
            .iter()
            .enumerate()
            .map(|(i, p)| (p.id.as_str(), i))
            .collect()
    }

    /// The last day a patient is followed: their latest outcome or session
    /// of a move for which `prescribed(patient, move)` is true, and at least the enrolment
    /// day. (Logging a move that is not prescribed does not extend the
    /// prescription.)
    pub fn last_followup(&self, prescribed: impl Fn(usize, &str) -> bool) -> Vec<NaiveDate> {
        let mut last: Vec<NaiveDate> = self.patients.iter().map(|p| p.enrolled_on).collect();
        for s in self
            .sessions
            .iter()
            .filter(|s| prescribed(s.patient, &s.exercise))
        {
            last[s.patient] = last[s.patient].max(s.performed_at.date());
        }
        for o in &self.outcomes {
            last[o.patient] = last[o.patient].max(o.date);
        }
        last
    }
}
