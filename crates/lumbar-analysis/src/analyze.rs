//! `lumbar analyze`'s tables for a whole store or for one shard of it, and
//! shards put back together.
//!
//! A run reduces each patient to a [`PatientPart`]: their adherence row
//! and weekly tallies, safety events and flags, trend rows and the sums of
//! their NRS scores that the pain model needs (all exact: integers, the
//! rows themselves, or sums taken within the patient). [`finish`] turns
//! parts into the result tables. Whatever the cut into shards, it sees the
//! same parts in the same order (the store's patients table), and every
//! figure over patients (site quartiles, counts, the pain model's sums
//! over patients) is taken in that order, so sharded and whole runs give
//! the same bits. A whole run is one shard of one: the same two steps.
//!
//! A shard takes whole buckets of patients ([`lumbar_model::partition`]):
//! it reads every patient and outcome row but keeps only its own, and its
//! sessions alone reach the tallies. What a shard must know of the whole
//! store, it is told by the source: the first day observed (the earliest
//! outcome here, the earliest session through
//! [`lumbar_model::cohort::SessionSink::sessions_span`]), which bounds
//! every patient's schedule.

use lumbar_model::Regimen;
use lumbar_model::cohort::{Cohort, CohortSource};
use lumbar_model::partition::BucketShard;
use serde::{Deserialize, Serialize};

use crate::adherence::{
    self, Adherence, AdherenceTally, PatientAdherence, WeekAdherence, WeekTally,
};
use crate::lmm::{GroupSums, LmmError, LmmFit};
use crate::prescription::Prescriptions;
use crate::safety::{self, Safety, SafetyEvent, SafetyTally, UnsuitableFlag};
use crate::trends::{self, Responder, Trend};

/// What to analyse: the rules, and which patients.
pub struct Request<'a> {
    pub regimen: &'a Regimen,
    pub prescriptions: &'a Prescriptions,
    /// Session adherence at or above which a patient is adherent.
    pub adherent: f64,
    pub responder: Responder,
    /// The shard of the store's buckets (the whole store: [`BucketShard::WHOLE`]).
    pub shard: BucketShard,
    pub buckets: u32,
}

/// One patient's share of every table.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PatientPart {
    /// The patient's place in the store's patients table.
    pub index: usize,
    pub id: String,
    pub site: String,
    /// `None`: nothing was scheduled (the patient is in no adherence table).
    pub adherence: Option<PatientAdherence>,
    pub weeks: Vec<WeekTally>,
    pub events: Vec<SafetyEvent>,
    pub flags: Vec<UnsuitableFlag>,
    pub trends: Vec<Trend>,
    /// The patient's NRS sums for the pain model (`None`: no NRS).
    pub nrs: Option<GroupSums>,
}

/// A shard's parts, in patients-table order.
#[derive(Debug, Clone, Default)]
pub struct Partial {
    /// Patients in the whole store.
    pub patients_total: usize,
    pub parts: Vec<PatientPart>,
    /// Sessions and outcome rows of this shard's patients.
    pub sessions: usize,
    pub outcomes: usize,
}

/// The result tables of `lumbar analyze`.
#[derive(Debug)]
pub struct Tables {
    /// Without its weekly rows: [`Tables::weekly`] makes them, a patient
    /// at a time, from `weeks`.
    pub adherence: Adherence,
    /// Each patient's id, site and week tallies, in patients-table order.
    pub weeks: Vec<(String, String, Vec<WeekTally>)>,
    pub safety: Safety,
    pub trends: Vec<Trend>,
    pub pain_model: Result<LmmFit, LmmError>,
}

/// Why parts do not make a whole.
#[derive(Debug, thiserror::Error, PartialEq)]
pub enum CoverError {
    #[error("patient {index} of the store is in no shard (are all the shards given?)")]
    Missing { index: usize },
    #[error("patient {index} of the store is in two shards (is a shard given twice?)")]
    Twice { index: usize },
    #[error("a shard holds patient {index}, but the store has {total} patients")]
    Beyond { index: usize, total: usize },
}

/// Reduces the request's patients to their parts. Reads every patient and
/// outcome row of the source, keeps the shard's, and streams the
/// shard's sessions.
pub fn partial<S: CohortSource>(source: &S, req: &Request) -> Result<Partial, S::Error> {
    let full = source.cohort_without_sessions()?;
    let patients_total = full.patients.len();
    let first_outcome = full.outcomes.iter().map(|o| o.date).min();
    let (cohort, rows) = restrict(full, |id| req.shard.takes(id, req.buckets));
    let (tallies, sessions) = source.stream_sessions(&cohort.index(), || {
        let mut a = AdherenceTally::new(&cohort, req.prescriptions, req.adherent, true);
        if let Some(day) = first_outcome {
            a.observe(day);
        }
        (a, SafetyTally::new(&cohort, req.regimen))
    })?;
    let ((adh, weeks), saf) = (tallies.0.finish_weeks_apart(), tallies.1.finish());
    let trend_rows = trends::trends(&cohort, &req.responder);
    let sums = trends::pain_sums(&cohort);

    let mut parts: Vec<PatientPart> = cohort
        .patients
        .iter()
        .zip(&rows)
        .map(|(p, &index)| PatientPart {
            index,
            id: p.id.clone(),
            site: p.site.clone(),
            adherence: None,
            weeks: Vec::new(),
            events: Vec::new(),
            flags: Vec::new(),
            trends: Vec::new(),
            nrs: None,
        })
        .collect();
    // Every row below names a patient of `cohort`; a name not found would
    // be a bug of the tallies, and its row is dropped rather than panicking.
    let index = cohort.index();
    let slot = |id: &str| index.get(id).copied();
    for (row, &(pi, _, _)) in adh.patients.into_iter().zip(&adh.spans) {
        parts[pi].adherence = Some(row);
    }
    for (part, w) in parts.iter_mut().zip(weeks) {
        part.weeks = w;
    }
    for e in saf.events {
        if let Some(k) = slot(&e.patient_id) {
            parts[k].events.push(e);
        }
    }
    for f in saf.flags {
        if let Some(k) = slot(&f.patient_id) {
            parts[k].flags.push(f);
        }
    }
    for t in trend_rows {
        if let Some(k) = slot(&t.patient_id) {
            parts[k].trends.push(t);
        }
    }
    for (part, s) in parts.iter_mut().zip(sums) {
        part.nrs = (s.n > 0).then_some(s);
    }
    Ok(Partial {
        patients_total,
        parts,
        sessions,
        outcomes: cohort.outcomes.len(),
    })
}

/// The patients whose id `keep` takes, in their order, with their outcomes
/// (re-indexed); and each kept patient's place in the whole cohort.
fn restrict(full: Cohort, keep: impl Fn(&str) -> bool) -> (Cohort, Vec<usize>) {
    let mut new_index = vec![usize::MAX; full.patients.len()];
    let mut rows = Vec::new();
    let mut patients = Vec::new();
    for (i, p) in full.patients.into_iter().enumerate() {
        if keep(&p.id) {
            new_index[i] = patients.len();
            rows.push(i);
            patients.push(p);
        }
    }
    let outcomes = full
        .outcomes
        .into_iter()
        .filter_map(|mut o| {
            let k = *new_index.get(o.patient)?;
            (k != usize::MAX).then(|| {
                o.patient = k;
                o
            })
        })
        .collect();
    let cohort = Cohort {
        patients,
        sessions: Vec::new(),
        outcomes,
    };
    (cohort, rows)
}

/// The tables from the parts of every patient of the store (from one or
/// more shards, in any order): each patient exactly once.
pub fn finish(patients_total: usize, mut parts: Vec<PatientPart>) -> Result<Tables, CoverError> {
    parts.sort_by_key(|p| p.index);
    for (k, p) in parts.iter().enumerate() {
        if p.index >= patients_total {
            return Err(CoverError::Beyond {
                index: p.index,
                total: patients_total,
            });
        }
        if p.index < k {
            return Err(CoverError::Twice { index: p.index });
        }
        if p.index > k {
            return Err(CoverError::Missing { index: k });
        }
    }
    if parts.len() < patients_total {
        return Err(CoverError::Missing { index: parts.len() });
    }
    let counts = safety::counts(parts.iter().map(|p| {
        (
            p.id.as_str(),
            p.site.as_str(),
            p.events.len() as u32,
            p.flags.len() as u32,
        )
    }));
    let sums: Vec<GroupSums> = parts.iter().filter_map(|p| p.nrs).collect();
    let mut adherence = Adherence::default();
    let mut safety = Safety {
        counts,
        ..Default::default()
    };
    let mut trend_rows = Vec::new();
    let mut weeks = Vec::with_capacity(parts.len());
    for p in parts {
        adherence.patients.extend(p.adherence);
        safety.events.extend(p.events);
        safety.flags.extend(p.flags);
        trend_rows.extend(p.trends);
        if !p.weeks.is_empty() {
            weeks.push((p.id, p.site, p.weeks));
        }
    }
    adherence.groups = adherence::groups(&adherence.patients);
    // As trends::trends orders them: by measure, then patient id.
    trend_rows.sort_by(|a, b| (&a.measure, &a.patient_id).cmp(&(&b.measure, &b.patient_id)));
    Ok(Tables {
        adherence,
        weeks,
        safety,
        trends: trend_rows,
        pain_model: trends::pain_model_from(&sums),
    })
}

impl Tables {
    /// The weekly adherence rows (patient × move × ISO week), in patients-table
    /// order, made as they are asked for.
    pub fn weekly(&self) -> impl Iterator<Item = WeekAdherence> + '_ {
        self.weeks
            .iter()
            .flat_map(|(id, site, ws)| ws.iter().map(move |w| w.row(id, site)))
    }
}
