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
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Patient {
    pub id: String,
    pub site: String,
    pub enrolled_on: NaiveDate,
    /// Spinal stenosis, as the patients table records it (what a replay
    /// keeps of the patient; the analyses do not read it).
    pub stenosis: Option<bool>,
    /// Pain (NRS) and ODI at enrolment, as the patients table records them.
    pub baseline_pain: Option<f64>,
    pub baseline_odi: Option<f64>,
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
    /// The rung of the move's ladder the patient was on (`level`), where
    /// levels are logged; interned like the move (a pointer per session).
    pub level: Option<Arc<str>>,
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

impl Session {
    /// Whether the patient went on with the exercise: `stopped_for_pain`
    /// when logged, else not logged as incomplete (a session without
    /// either flag counts as continued, as the safety rules read it).
    pub fn continued(&self) -> bool {
        match self.stopped_for_pain {
            Some(stopped) => !stopped,
            None => self.completed != Some(false),
        }
    }
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
    /// No more sessions of this patient follow (a source may say so before
    /// any session, for a patient who has none).
    fn patient_done(&mut self, _patient: usize) {}
    /// Called on the merged sink each time a slice of the source has been
    /// merged into it, in row order: a sink may hand on the patients it has
    /// finished and free them.
    fn flush(&mut self) {}
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
    fn flush(&mut self) {
        self.0.flush();
        self.1.flush();
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

/// A cohort held in memory: what a simulator's records become
/// ([`CohortBuilder`]), analysed by the same code as a store.
#[derive(Debug, Clone, Default)]
pub struct MemoryCohort {
    /// Sessions sorted by (patient, time).
    pub cohort: Cohort,
    pub walking: Vec<WalkingDay>,
}

/// A follow-up study a memory cohort does not have.
#[derive(Debug, Clone)]
pub struct NoFollowup;

impl Columns for NoFollowup {
    fn source(&self) -> &std::path::Path {
        std::path::Path::new("memory")
    }
    fn height(&self) -> usize {
        0
    }
    fn has(&self, _name: &str) -> bool {
        false
    }
    fn numbers(&self, name: &str) -> Result<Vec<Option<f64>>, crate::ColumnError> {
        Err(crate::ColumnError::NoColumn {
            path: "memory".into(),
            column: name.into(),
            found: String::new(),
        })
    }
    fn labels(&self, name: &str) -> Result<Vec<Option<String>>, crate::ColumnError> {
        self.numbers(name).map(|_| Vec::new())
    }
    fn place(&self, row: usize) -> String {
        format!("row {}", row + 1)
    }
}

impl CohortSource for MemoryCohort {
    type Error = std::convert::Infallible;
    type Followup = NoFollowup;

    fn cohort_without_sessions(&self) -> Result<Cohort, Self::Error> {
        Ok(Cohort {
            patients: self.cohort.patients.clone(),
            sessions: Vec::new(),
            outcomes: self.cohort.outcomes.clone(),
        })
    }

    /// One sink, fed each patient's sessions together (the cohort is small
    /// enough to be in memory, so one thread suffices).
    fn stream_sessions<S: SessionSink>(
        &self,
        index: &HashMap<&str, usize>,
        make: impl Fn() -> S + Sync,
    ) -> Result<(S, usize), Self::Error> {
        let mut sink = make();
        // Indices of `index` may differ from this cohort's: map by id.
        let to: Vec<Option<usize>> = self
            .cohort
            .patients
            .iter()
            .map(|p| index.get(p.id.as_str()).copied())
            .collect();
        let days = self.cohort.sessions.iter().map(|s| s.performed_at.date());
        if let (Some(first), Some(last)) = (days.clone().min(), days.max()) {
            sink.sessions_span(first, last);
        }
        let mut n = 0;
        let mut current = None;
        for s in &self.cohort.sessions {
            let Some(p) = to[s.patient] else { continue };
            if let Some(c) = current
                && c != p
            {
                sink.patient_done(c);
            }
            current = Some(p);
            if p == s.patient {
                sink.session(s); // the usual case: `index` is this cohort's own
            } else {
                let mut s = s.clone();
                s.patient = p;
                sink.session(&s);
            }
            n += 1;
        }
        if let Some(c) = current {
            sink.patient_done(c);
        }
        Ok((sink, n))
    }

    fn walking_days(&self) -> Result<Option<Vec<WalkingDay>>, Self::Error> {
        Ok((!self.walking.is_empty()).then(|| self.walking.clone()))
    }

    fn followup(&self) -> Result<Option<NoFollowup>, Self::Error> {
        Ok(None)
    }
}

/// Builds a [`MemoryCohort`] from records, as a writer would receive them
/// (patients before the rows that name them; a patient's sessions in time
/// order). Rows naming an unknown patient are not part of the cohort.
#[derive(Debug, Default)]
pub struct CohortBuilder {
    cohort: MemoryCohort,
    index: HashMap<String, usize>,
    interned: Vec<Arc<str>>,
    /// The patient the last row named: rows come grouped by patient, so
    /// most lookups are a string compare, not a hash.
    last: Option<usize>,
    without_walking: bool,
}

impl CohortBuilder {
    /// A builder that drops walking days (calibration's targets read none),
    /// with room for `patients`, `sessions` and `outcomes` rows reserved
    /// at once: growing by doubling copied the sessions about twice over
    /// and was a fifth of a simulated cohort's time.
    pub fn without_walking(patients: usize, sessions: usize, outcomes: usize) -> CohortBuilder {
        let mut b = CohortBuilder {
            without_walking: true,
            ..CohortBuilder::default()
        };
        let c = &mut b.cohort.cohort;
        c.patients.reserve(patients);
        c.sessions.reserve(sessions);
        c.outcomes.reserve(outcomes);
        b.index.reserve(patients);
        b
    }

    fn patient_of(&mut self, id: &str) -> Option<usize> {
        if let Some(i) = self.last
            && self.cohort.cohort.patients[i].id == id
        {
            return Some(i);
        }
        let i = *self.index.get(id)?;
        self.last = Some(i);
        Some(i)
    }

    /// `intern` for a string already shared: a producer that hands the
    /// same `Arc` for every row of a move is matched by pointer.
    fn intern_shared(&mut self, t: &Arc<str>) -> Arc<str> {
        if let Some(a) = self.interned.iter().find(|a| Arc::ptr_eq(a, t)) {
            return a.clone();
        }
        if let Some(a) = self.interned.iter().find(|a| ***a == **t) {
            return a.clone();
        }
        self.interned.push(t.clone());
        t.clone()
    }

    fn intern(&mut self, t: &str) -> Arc<str> {
        if let Some(a) = self.interned.iter().find(|a| &***a == t) {
            return a.clone();
        }
        let a: Arc<str> = Arc::from(t);
        self.interned.push(a.clone());
        a
    }

    /// The cohort, its sessions and outcomes in (patient, time) order.
    pub fn finish(mut self) -> MemoryCohort {
        let c = &mut self.cohort.cohort;
        // Rows usually come in order (the simulator's do): check first.
        if !c.sessions.is_sorted_by_key(|s| (s.patient, s.performed_at)) {
            c.sessions.sort_by_key(|s| (s.patient, s.performed_at));
        }
        let key = |o: &Outcome| (o.patient, o.date);
        if !c
            .outcomes
            .is_sorted_by(|a, b| (key(a), &a.measure) <= (key(b), &b.measure))
        {
            c.outcomes.sort_by(|a, b| {
                (a.patient, a.date, &a.measure).cmp(&(b.patient, b.date, &b.measure))
            });
        }
        self.cohort
    }
}

impl crate::records::RecordSink for CohortBuilder {
    fn patient(&mut self, r: &crate::records::PatientRecord) -> std::io::Result<()> {
        self.index
            .insert(r.patient_id.clone(), self.cohort.cohort.patients.len());
        self.cohort.cohort.patients.push(Patient {
            id: r.patient_id.clone(),
            site: r.site.clone(),
            enrolled_on: r.enrolled_on,
            stenosis: Some(r.stenosis),
            baseline_pain: r.baseline_pain,
            baseline_odi: r.baseline_odi,
        });
        Ok(())
    }
    fn session(&mut self, r: &crate::records::SessionRecord) -> std::io::Result<()> {
        let Some(patient) = self.patient_of(&r.patient_id) else {
            return Ok(());
        };
        let exercise = self.intern_shared(&r.exercise);
        let side = r.side.map(|s| self.intern(s));
        let level = r.level.as_ref().map(|l| self.intern_shared(l));
        self.cohort.cohort.sessions.push(Session {
            patient,
            performed_at: r.performed_at,
            exercise,
            level,
            side,
            sets: r.sets.map(f64::from),
            reps: r.reps.map(f64::from),
            hold_s: r.hold_s,
            pain_during: r.pain_during,
            pain_after: r.pain_after,
            pain_persist_min: r.pain_persist_min,
            stopped_for_pain: r.stopped_for_pain,
            completed: r.completed,
        });
        Ok(())
    }
    fn walking(&mut self, r: &crate::records::WalkingDayRecord) -> std::io::Result<()> {
        if self.without_walking {
            return Ok(());
        }
        let id: Arc<str> = match self.cohort.walking.last() {
            Some(w) if *w.patient_id == *r.patient_id => w.patient_id.clone(),
            _ => r.patient_id.clone(),
        };
        self.cohort.walking.push(WalkingDay {
            patient_id: id,
            date: Some(r.date),
            walking_min: Some(r.walking_min),
            wear_min: r.wear_min,
        });
        Ok(())
    }
    fn outcome(&mut self, r: &crate::records::OutcomeRecord) -> std::io::Result<()> {
        if let Some(patient) = self.patient_of(&r.patient_id) {
            self.cohort.cohort.outcomes.push(Outcome {
                patient,
                date: r.date,
                measure: r.measure.to_string(),
                value: r.value,
            });
        }
        Ok(())
    }
    fn followup(&mut self, _r: &crate::records::FollowupRecord) -> std::io::Result<()> {
        Ok(())
    }
}
