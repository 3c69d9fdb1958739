//! The programme cohort as the analyses see it: patients, their exercise
//! sessions and their patient-reported outcomes, and [`SessionSink`], the
//! way sessions reach an analysis one at a time. These are lumbar's one set
//! of domain types for patients and sessions; lumbar-io's store readers
//! produce them, the analyses consume them. ([`crate::records`] is the
//! other side: a canonical table line as a writer spells it out.)

use std::collections::HashMap;
use std::sync::Arc;

use chrono::{NaiveDate, NaiveDateTime};

use crate::Columns;

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

/// A patient-day of walking, as the analyses read it.
#[derive(Debug, Clone, PartialEq)]
pub struct WalkingDay {
    /// Shared between a patient's consecutive days.
    pub patient_id: Arc<str>,
    pub date: Option<NaiveDate>,
    pub walking_min: Option<f64>,
    pub wear_min: Option<f64>,
}

/// Receives a cohort's sessions one at a time. Sessions of one patient may
/// arrive in any order, but once `patient_done` is called for a patient none
/// of theirs follow, so a sink can finish that patient and free what it held:
/// the analyses of a large store never hold every session at once.
///
/// [`CohortSource::stream_sessions`] gives slices of the store to sinks on several threads
/// and merges them: a patient whose rows are split between slices is never
/// `patient_done` in either, and is finished after the merge.
pub trait SessionSink: Send {
    /// The days of the earliest and the latest session in the store (of
    /// any patient), told once, before any session: the store's observed
    /// span bounds what a sink schedules.
    fn sessions_span(&mut self, _first: NaiveDate, _last: NaiveDate) {}
    fn session(&mut self, s: &Session);
    /// No more sessions of this patient follow.
    fn patient_done(&mut self, _patient: usize) {}
    /// Takes in what a sink of the same kind gathered from later rows.
    fn merge(&mut self, later: Self)
    where
        Self: Sized;
}

/// Two sinks fed by one pass.
impl<A: SessionSink, B: SessionSink> SessionSink for (A, B) {
    fn sessions_span(&mut self, first: NaiveDate, last: NaiveDate) {
        self.0.sessions_span(first, last);
        self.1.sessions_span(first, last);
    }
    fn session(&mut self, s: &Session) {
        self.0.session(s);
        self.1.session(s);
    }
    fn patient_done(&mut self, patient: usize) {
        self.0.patient_done(patient);
        self.1.patient_done(patient);
    }
    fn merge(&mut self, later: Self) {
        self.0.merge(later.0);
        self.1.merge(later.1);
    }
}

/// Where the analyses read a cohort from: lumbar-io's `Store` implements
/// it over the canonical Parquet tables; tests and the simulator may
/// implement it over cohorts in memory. Every analysis of a cohort takes
/// one, so none of them knows how or where rows are kept.
pub trait CohortSource: Sync {
    /// Why reading failed (a damaged part, a missing table).
    type Error: std::error::Error + Send + Sync + 'static;
    /// The follow-up study's table, by column name.
    type Followup: Columns + Send;

    /// Patients and outcomes, sorted by (patient, date, measure); the
    /// sessions stay behind for [`CohortSource::stream_sessions`].
    fn cohort_without_sessions(&self) -> Result<Cohort, Self::Error>;

    /// Streams the sessions of the patients in `index` (id → index into
    /// [`Cohort::patients`]) through sinks made by `make`, which the source
    /// may run on several threads over pieces of whole patient runs and
    /// merge in row order; returns the merged sink and the sessions it saw.
    /// Sessions of other patients are skipped. The result must not depend
    /// on the number of threads.
    fn stream_sessions<S: SessionSink>(
        &self,
        index: &HashMap<&str, usize>,
        make: impl Fn() -> S + Sync,
    ) -> Result<(S, usize), Self::Error>;

    /// The walking days (grouped by patient), or `None` without a walking
    /// table.
    fn walking_days(&self) -> Result<Option<Vec<WalkingDay>>, Self::Error>;

    /// The follow-up table, or `None` without one.
    fn followup(&self) -> Result<Option<Self::Followup>, Self::Error>;

    /// Patients, sessions (in (patient, time) order) and outcomes, all in
    /// memory: for small cohorts and tests; the analyses stream instead.
    fn cohort(&self) -> Result<Cohort, Self::Error> {
        struct Collect(Vec<Session>);
        impl SessionSink for Collect {
            fn session(&mut self, s: &Session) {
                self.0.push(s.clone());
            }
            fn merge(&mut self, later: Self) {
                self.0.extend(later.0);
            }
        }
        let mut cohort = self.cohort_without_sessions()?;
        let (all, _) = self.stream_sessions(&cohort.index(), || Collect(Vec::new()))?;
        cohort.sessions = all.0;
        // Stores are unions of parts: put rows in time order once, here.
        // (Already in order when the store holds one export: skip the sort.)
        if !cohort
            .sessions
            .is_sorted_by_key(|s| (s.patient, s.performed_at))
        {
            cohort.sessions.sort_by_key(|s| (s.patient, s.performed_at));
        }
        Ok(cohort)
    }
}

impl Cohort {
    /// Feeds the sessions held in memory to a sink, each patient's
    /// together (they are sorted by patient).
    pub fn feed_sessions(&self, sink: &mut impl SessionSink) {
        let days = self.sessions.iter().map(|s| s.performed_at.date());
        if let (Some(first), Some(last)) = (days.clone().min(), days.max()) {
            sink.sessions_span(first, last);
        }
        let mut order: Vec<&Session> = self.sessions.iter().collect();
        if !order.is_sorted_by_key(|s| s.patient) {
            order.sort_by_key(|s| s.patient); // stable: time order kept
        }
        let mut current = None;
        for s in order {
            if let Some(p) = current
                && p != s.patient
            {
                sink.patient_done(p);
            }
            current = Some(s.patient);
            sink.session(s);
        }
        if let Some(p) = current {
            sink.patient_done(p);
        }
    }

    /// Patient index by id.
    pub fn index(&self) -> HashMap<&str, usize> {
        self.patients
            .iter()
            .enumerate()
            .map(|(i, p)| (p.id.as_str(), i))
            .collect()
    }
}
