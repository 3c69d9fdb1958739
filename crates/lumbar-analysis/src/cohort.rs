//! The programme cohort as plain Rust values, loaded from a store: patients,
//! their exercise sessions and their patient-reported outcomes.

use std::collections::HashMap;
use std::sync::Arc;

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
    /// Interned: a cohort has a handful of distinct moves and sides, so
    /// millions of sessions share a few strings.
    pub exercise: Arc<str>,
    pub side: Option<Arc<str>>,
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
    #[error("{0}")]
    Data(String),
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
        let ids_owned: Vec<String> = cohort.patients.iter().map(|p| p.id.clone()).collect();
        let index: HashMap<&str, usize> = ids_owned
            .iter()
            .enumerate()
            .map(|(i, id)| (id.as_str(), i))
            .collect();
        if let Some(s) = store.read_table(Table::Sessions)? {
            // Straight from the columns, without a String per cell: ids are
            // looked up once per run of equal ids (rows come grouped by
            // patient), moves and sides are interned.
            let text = |name: &str| -> Result<StringChunked, LoadError> {
                Ok(col(&s, name)?
                    .str()
                    .map_err(|e| LoadError::Column(name.into(), e))?
                    .clone())
            };
            let (pid, ex, side) = (text("patient_id")?, text("exercise")?, text("side")?);
            // Every column is walked by its own iterator in lock-step: no
            // per-column Vec of millions of options in between, and no
            // `get(i)`, which searches the chunks on every call.
            let cast = |name: &str, to: &DataType| -> Result<Column, LoadError> {
                col(&s, name)?
                    .cast(to)
                    .map_err(|e| LoadError::Column(name.into(), e))
            };
            let at_c = cast("performed_at", &DataType::Int64)?;
            let at = at_c
                .i64()
                .map_err(|e| LoadError::Column("performed_at".into(), e))?;
            let names = [
                "sets",
                "reps",
                "hold_s",
                "pain_during",
                "pain_after",
                "pain_persist_min",
            ];
            let mut num_cols = Vec::with_capacity(names.len());
            for n in names {
                num_cols.push(cast(n, &DataType::Float64)?);
            }
            let mut nums = Vec::with_capacity(names.len());
            for (c, n) in num_cols.iter().zip(names) {
                nums.push(c.f64().map_err(|e| LoadError::Column(n.into(), e))?);
            }
            let bool_col = |name: &str| -> Result<&BooleanChunked, LoadError> {
                col(&s, name)?
                    .bool()
                    .map_err(|e| LoadError::Column(name.into(), e))
            };
            let (stopped, completed) = (bool_col("stopped_for_pain")?, bool_col("completed")?);
            // Moves and sides are few: intern them by their text.
            let mut interned: Vec<Arc<str>> = Vec::new();
            let mut intern = |t: &str| -> Arc<str> {
                if let Some(a) = interned.iter().find(|a| &***a == t) {
                    return a.clone();
                }
                let a: Arc<str> = Arc::from(t);
                interned.push(a.clone());
                a
            };
            let mut last: Option<(&str, Option<usize>)> = None;
            cohort.sessions.reserve(s.height());
            let (mut i_pid, mut i_ex, mut i_side, mut i_at) =
                (pid.iter(), ex.iter(), side.iter(), at.iter());
            let mut i_num: Vec<_> = nums.iter().map(|c| c.iter()).collect();
            let (mut i_stop, mut i_done) = (stopped.iter(), completed.iter());
            for _ in 0..s.height() {
                let (id, e, sd, t) = (
                    i_pid.next().flatten(),
                    i_ex.next().flatten(),
                    i_side.next().flatten(),
                    i_at.next().flatten(),
                );
                let mut v = [None; 6];
                for (slot, it) in v.iter_mut().zip(i_num.iter_mut()) {
                    *slot = it.next().flatten();
                }
                let (stop, done) = (i_stop.next().flatten(), i_done.next().flatten());
                let (Some(id), Some(t), Some(e)) =
                    (id, t.and_then(DateTime::from_timestamp_millis), e)
                else {
                    continue;
                };
                let patient = match last {
                    Some((prev, p)) if prev == id => p,
                    _ => {
                        let p = index.get(id).copied();
                        last = Some((id, p));
                        p
                    }
                };
                let Some(patient) = patient else {
                    continue;
                };
                cohort.sessions.push(Session {
                    patient,
                    performed_at: t.naive_utc(),
                    exercise: intern(e),
                    side: sd.map(&mut intern),
                    sets: v[0],
                    reps: v[1],
                    hold_s: v[2],
                    pain_during: v[3],
                    pain_after: v[4],
                    pain_persist_min: v[5],
                    stopped_for_pain: stop,
                    completed: done,
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
        // (Already in order when the store holds one export: skip the sort.)
        if !cohort
            .sessions
            .is_sorted_by_key(|s| (s.patient, s.performed_at))
        {
            cohort.sessions.sort_by_key(|s| (s.patient, s.performed_at));
        }
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
