//! `lumbar analyze`'s tables for a whole store or for one shard of it, and
//! shards put back together.
//!
//! A run reduces each patient to a [`PatientPart`]: their adherence row
//! and weekly tallies, safety events and flags, trend rows and the sums of
//! their NRS scores that the pain model needs (all exact: integers, the
//! rows themselves, or sums taken within the patient). [`stream_parts`]
//! hands the parts on in patients-table order as the store's sessions
//! stream past, so a caller can write them out and forget them: memory
//! holds the patients and outcomes, the slice of sessions being read and
//! the patients not yet finished, not the result tables. A
//! [`TablesBuilder`] takes parts in that order and keeps only what the
//! tables over patients need (one adherence row, a few trend rows and six
//! sums per patient). Whatever the cut into shards, it sees the same parts
//! in the same order, and every figure over patients (site quartiles,
//! counts, the pain model's sums over patients) is taken in that order, so
//! sharded and whole runs give the same bits. A whole run is one shard of
//! one: the same two steps.
//!
//! A shard takes whole buckets of patients ([`lumbar_model::partition`]):
//! it reads every patient and outcome row but keeps only its own, and its
//! sessions alone reach the tallies. What a shard must know of the whole
//! store, it is told by the source: the first day observed (the earliest
//! outcome here, the earliest session through
//! [`lumbar_model::cohort::SessionSink::sessions_span`]), which bounds
//! every patient's schedule.

use std::sync::Mutex;

use chrono::NaiveDate;
use lumbar_model::Regimen;
use lumbar_model::cohort::{Cohort, CohortSource, Session, SessionSink};
use lumbar_model::partition::BucketShard;
use serde::{Deserialize, Serialize};

use crate::adherence::{self, Adherence, AdherenceTally, PatientAdherence, WeekTally};
use crate::lmm::{GroupSums, LmmError, LmmFit};
use crate::prescription::Prescriptions;
use crate::safety::{self, Safety, SafetyEvent, SafetyTally, UnsuitableFlag};
use crate::trends::{self, OutcomesByPatient, Responder, Trend};

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

/// What a run read.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize)]
pub struct Counts {
    /// Patients in the whole store.
    pub patients_total: usize,
    /// Patients of the shard (all of them for a whole run).
    pub patients: usize,
    /// Sessions and outcome rows of the shard's patients.
    pub sessions: usize,
    pub outcomes: usize,
}

/// Why a part could not be handed on (the caller's writer failed).
pub type EmitError = Box<dyn std::error::Error + Send + Sync>;

/// Why [`stream_parts`] stopped.
#[derive(Debug, thiserror::Error)]
pub enum PartsError<E: std::error::Error + 'static> {
    #[error(transparent)]
    Source(E),
    #[error(transparent)]
    Emit(EmitError),
}

/// The result tables of `lumbar analyze`, but for the weekly rows, which
/// went out with the parts.
#[derive(Debug)]
pub struct Tables {
    /// Without weekly rows (`weeks` is empty).
    pub adherence: Adherence,
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

/// Reduces the request's patients to their parts and hands each to `emit`
/// in patients-table order, as soon as the stream is past the patient's
/// last session. Reads every patient and outcome row of the source, keeps
/// the shard's, and streams the shard's sessions.
pub fn stream_parts<S: CohortSource>(
    source: &S,
    req: &Request,
    emit: &mut (dyn FnMut(PatientPart) -> Result<(), EmitError> + Send),
) -> Result<Counts, PartsError<S::Error>> {
    let full = source
        .cohort_without_sessions()
        .map_err(PartsError::Source)?;
    let patients_total = full.patients.len();
    let first_outcome = full.outcomes.iter().map(|o| o.date).min();
    let (cohort, rows) = restrict(full, |id| req.shard.takes(id, req.buckets));
    let outlet = Outlet {
        cohort: &cohort,
        rows: &rows,
        outcomes: OutcomesByPatient::new(&cohort),
        responder: req.responder,
        emit: Mutex::new((emit, None)),
    };
    let mut adherence = AdherenceTally::new(&cohort, req.prescriptions, req.adherent, true);
    if let Some(day) = first_outcome {
        adherence.observe(day);
    }
    let make = || PartSink {
        tallies: (adherence.fresh(), SafetyTally::new(&cohort, req.regimen)),
        outlet: &outlet,
        next: 0,
    };
    let (mut sink, sessions) = source
        .stream_sessions(&cohort.index(), make)
        .map_err(PartsError::Source)?;
    sink.hand_on(true);
    let failed = outlet
        .emit
        .into_inner()
        .unwrap_or_else(|e| e.into_inner())
        .1;
    if let Some(e) = failed {
        return Err(PartsError::Emit(e));
    }
    Ok(Counts {
        patients_total,
        patients: cohort.patients.len(),
        sessions,
        outcomes: cohort.outcomes.len(),
    })
}

/// What every sink of one stream shares: the cohort, and where parts go.
struct Outlet<'a, 'e> {
    cohort: &'a Cohort,
    /// Each patient's place in the whole store.
    rows: &'a [usize],
    outcomes: OutcomesByPatient<'a>,
    responder: Responder,
    /// The caller's sink, and its first error (after which nothing more is
    /// handed on).
    #[allow(clippy::type_complexity)]
    emit: Mutex<(
        &'e mut (dyn FnMut(PatientPart) -> Result<(), EmitError> + Send),
        Option<EmitError>,
    )>,
}

/// The adherence and safety tallies of a stream, handing on finished
/// patients from the merged sink ([`SessionSink::flush`]); the sinks of
/// pieces only tally.
struct PartSink<'a, 'e> {
    /// Adherence and safety, fed together.
    tallies: (AdherenceTally<'a>, SafetyTally<'a>),
    outlet: &'a Outlet<'a, 'e>,
    /// The next patient to hand on.
    next: usize,
}

impl PartSink<'_, '_> {
    /// Hands on the patients from `next` that are finished (all of them,
    /// closing those still open, when `all`).
    fn hand_on(&mut self, all: bool) {
        let out = self.outlet;
        let n = out.cohort.patients.len();
        if all {
            self.tallies.0.close_from(self.next);
        }
        let mut end = self.next;
        while end < n && self.tallies.0.is_closed(end) {
            end += 1;
        }
        if end == self.next {
            return;
        }
        let (events, flags) = self.tallies.1.take_before(end);
        let (mut events, mut flags) = (events.into_iter().peekable(), flags.into_iter().peekable());
        let mut emit = out.emit.lock().unwrap_or_else(|e| e.into_inner());
        for k in self.next..end {
            let (adherence, weeks) = self.tallies.0.take_patient(k).unwrap_or_default();
            let p = &out.cohort.patients[k];
            let part = PatientPart {
                index: out.rows[k],
                id: p.id.clone(),
                site: p.site.clone(),
                adherence,
                weeks,
                events: std::iter::from_fn(|| events.next_if(|e| e.0 == k).map(|e| e.1)).collect(),
                flags: std::iter::from_fn(|| flags.next_if(|f| f.0 == k).map(|f| f.1)).collect(),
                trends: trends::patient_trends(p, out.outcomes.of(k), &out.responder),
                nrs: Some(trends::patient_sums(out.outcomes.of(k))).filter(|s| s.n > 0),
            };
            if emit.1.is_none()
                && let Err(e) = (emit.0)(part)
            {
                emit.1 = Some(e);
            }
        }
        self.next = end;
    }
}

impl SessionSink for PartSink<'_, '_> {
    fn sessions_span(&mut self, first: NaiveDate, last: NaiveDate) {
        self.tallies.sessions_span(first, last);
    }
    fn session(&mut self, s: &Session) {
        self.tallies.session(s);
    }
    fn patient_done(&mut self, patient: usize) {
        self.tallies.patient_done(patient);
    }
    fn merge(&mut self, later: Self) {
        self.tallies.merge(later.tallies);
    }
    fn flush(&mut self) {
        self.hand_on(false);
    }
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

/// The tables over patients, from every patient's part in patients-table
/// order (of one run, or merged from shards): each patient exactly once.
/// The weekly tallies are the caller's to write (take them out first);
/// the rest is kept, a few rows per patient.
#[derive(Debug, Default)]
pub struct TablesBuilder {
    next: usize,
    adherence: Vec<PatientAdherence>,
    events: Vec<SafetyEvent>,
    flags: Vec<UnsuitableFlag>,
    /// Per patient: id, site, events, flags (the safety counts).
    counts: Vec<(String, String, u32, u32)>,
    trends: Vec<Trend>,
    sums: Vec<GroupSums>,
}

impl TablesBuilder {
    /// Takes the next patient's part; parts must come in index order.
    pub fn add(&mut self, part: PatientPart) -> Result<(), CoverError> {
        if part.index < self.next {
            return Err(CoverError::Twice { index: part.index });
        }
        if part.index > self.next {
            return Err(CoverError::Missing { index: self.next });
        }
        self.next += 1;
        let counts = (part.events.len() as u32, part.flags.len() as u32);
        self.counts.push((part.id, part.site, counts.0, counts.1));
        self.adherence.extend(part.adherence);
        self.events.extend(part.events);
        self.flags.extend(part.flags);
        self.trends.extend(part.trends);
        self.sums.extend(part.nrs);
        Ok(())
    }

    /// The tables, once every patient of the store's `total` was added.
    pub fn finish(self, total: usize) -> Result<Tables, CoverError> {
        if self.next < total {
            return Err(CoverError::Missing { index: self.next });
        }
        if self.next > total {
            return Err(CoverError::Beyond {
                index: self.next - 1,
                total,
            });
        }
        let counts = safety::counts(
            self.counts
                .iter()
                .map(|(id, site, ev, fl)| (id.as_str(), site.as_str(), *ev, *fl)),
        );
        let mut trends = self.trends;
        // As trends::trends orders them: by measure, then patient id.
        trends.sort_by(|a, b| (&a.measure, &a.patient_id).cmp(&(&b.measure, &b.patient_id)));
        let groups = adherence::groups(&self.adherence);
        Ok(Tables {
            adherence: Adherence {
                patients: self.adherence,
                groups,
                ..Default::default()
            },
            safety: Safety {
                events: self.events,
                flags: self.flags,
                counts,
            },
            trends,
            pain_model: trends::pain_model_from(&self.sums),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use lumbar_model::cohort::{MemoryCohort, Outcome, Patient};

    fn day(n: i64) -> NaiveDate {
        NaiveDate::from_ymd_opt(2025, 1, 6).unwrap() + chrono::Duration::days(n)
    }

    /// A cohort of 40 patients with sessions, a few painful, NRS weekly;
    /// patient 7 has no sessions at all.
    fn cohort() -> MemoryCohort {
        let mut c = Cohort::default();
        for i in 0..40 {
            c.patients.push(Patient {
                id: format!("P{i:03}"),
                site: ["north", "south", "east"][i % 3].into(),
                enrolled_on: day(i as i64 % 5),
                ..Default::default()
            });
            for w in 0..6 {
                c.outcomes.push(Outcome {
                    patient: i,
                    date: day(7 * w + i as i64 % 5),
                    measure: "nrs_pain".into(),
                    value: (7.0 - 0.5 * w as f64 - (i % 4) as f64 * 0.5).max(0.0),
                });
            }
            if i == 7 {
                continue;
            }
            for d in 0..35 {
                if (d + i) % 3 == 0 {
                    continue;
                }
                c.sessions.push(Session {
                    patient: i,
                    performed_at: day(d as i64).and_hms_opt(9, 0, 0).unwrap(),
                    exercise: "bridge".into(),
                    level: None,
                    side: None,
                    sets: Some(2.0),
                    reps: Some(10.0),
                    hold_s: None,
                    pain_during: Some(if (d + i) % 11 == 0 { 8.0 } else { 2.0 }),
                    pain_after: None,
                    pain_persist_min: Some(if (d * i) % 17 == 1 { 30.0 } else { 0.0 }),
                    stopped_for_pain: Some(false),
                    completed: Some(true),
                });
            }
        }
        MemoryCohort {
            cohort: c,
            walking: Vec::new(),
        }
    }

    /// Streams the parts of `source` (the shard of 8 buckets) into `emit`.
    fn stream(
        source: &MemoryCohort,
        shard: BucketShard,
        emit: &mut (dyn FnMut(PatientPart) -> Result<(), EmitError> + Send),
    ) -> Result<Counts, PartsError<std::convert::Infallible>> {
        let regimen = Regimen::six_moves();
        let rx = Prescriptions::from_regimen(&regimen);
        let req = Request {
            regimen: &regimen,
            prescriptions: &rx,
            adherent: 0.7,
            responder: Responder::default(),
            shard,
            buckets: 8,
        };
        stream_parts(source, &req, emit)
    }

    fn run(source: &MemoryCohort, shard: BucketShard) -> (Counts, Vec<PatientPart>) {
        let mut parts = Vec::new();
        let counts = stream(source, shard, &mut |p| {
            parts.push(p);
            Ok(())
        })
        .unwrap();
        (counts, parts)
    }

    /// The parts of three shards, merged in index order, give the tables of
    /// the whole run, and those are the tallies' own (adherence, safety,
    /// trends and the pain model computed the usual way).
    #[test]
    fn shards_merge_to_the_whole_and_the_whole_is_the_tallies() {
        let source = cohort();
        let (counts, whole) = run(&source, BucketShard::WHOLE);
        assert_eq!((counts.patients_total, counts.patients), (40, 40));
        assert_eq!(
            whole.iter().map(|p| p.index).collect::<Vec<_>>(),
            (0..40).collect::<Vec<_>>()
        );
        let mut shards: Vec<PatientPart> = (1..=3)
            .flat_map(|i| run(&source, BucketShard::new(i, 3, 8).unwrap()).1)
            .collect();
        shards.sort_by_key(|p| p.index);
        assert_eq!(shards, whole);

        let mut b = TablesBuilder::default();
        for p in whole.clone() {
            b.add(p).unwrap();
        }
        let t = b.finish(40).unwrap();
        let regimen = Regimen::six_moves();
        let c = &source.cohort;
        let adh = adherence::adherence(c, &regimen, 0.7);
        let saf = safety::safety(c, &regimen);
        assert_eq!(t.adherence.patients, adh.patients);
        assert_eq!(t.adherence.groups, adh.groups);
        assert_eq!(t.safety.events, saf.events);
        assert_eq!(t.safety.flags, saf.flags);
        assert_eq!(t.safety.counts, saf.counts);
        assert!(!saf.events.is_empty() && !saf.flags.is_empty());
        assert_eq!(t.trends, trends::trends(c, &Responder::default()));
        let (a, b) = (t.pain_model.unwrap(), trends::pain_model(c).unwrap());
        assert_eq!(a.fixed[1].estimate.to_bits(), b.fixed[1].estimate.to_bits());
        let weeks: Vec<_> = whole
            .iter()
            .flat_map(|p| p.weeks.iter().map(|w| w.row(&p.id, &p.site)))
            .collect();
        assert_eq!(weeks, adh.weeks);

        // Out of order, twice, or short: refused.
        let mut b = TablesBuilder::default();
        b.add(whole[0].clone()).unwrap();
        assert_eq!(b.add(whole[0].clone()), Err(CoverError::Twice { index: 0 }));
        assert_eq!(
            b.add(whole[2].clone()),
            Err(CoverError::Missing { index: 1 })
        );
        assert_eq!(b.finish(40).unwrap_err(), CoverError::Missing { index: 1 });
    }

    /// A failing writer stops the stream with its error.
    #[test]
    fn a_failing_writer_is_reported() {
        let mut seen = 0;
        let e = stream(&cohort(), BucketShard::WHOLE, &mut |_| {
            seen += 1;
            if seen == 3 {
                Err("disk full".into())
            } else {
                Ok(())
            }
        })
        .unwrap_err();
        assert_eq!(e.to_string(), "disk full");
        assert_eq!(seen, 3);
    }
}
