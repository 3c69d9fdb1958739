//! Adherence to the prescribed regimen (SPEC §3).
//!
//! For each patient, every exercise of the regimen is scheduled from the
//! programme start to the last follow-up (the patient's latest outcome or
//! session of a prescribed move); days outside that window are not
//! scheduled, and sessions outside it are not counted. The programme start
//! is the later of enrolment and the first day observed in the store (the
//! earliest session or outcome), so an absurd enrolment date (0001-01-01)
//! schedules no weeks the store cannot have seen, and no patient is
//! scheduled more than [`MAX_SCHEDULED_WEEKS`]. A date window
//! ([`AdherenceTally::within`]) narrows scheduled and done days alike;
//! a patient with nothing scheduled is left out and counted
//! ([`Adherence::unscheduled`]).
//!
//! Per patient × exercise × ISO week:
//! - `scheduled`: days of the week inside the window for a daily move; for
//!   "at least N days a week", N, or the days inside the window if fewer
//!   (a partial first or last week asks no more days than it has);
//! - `done`: distinct days in the window with the move done (a row whose
//!   `completed` is false does not count; missing counts as done), at most
//!   `scheduled`: the bridge done on 3 days of a 2-day week is 2 of 2;
//! - `session_adherence = done / scheduled`;
//! - `dose_adherence`: the mean, over the days done, of the day's performed
//!   dose over the prescribed dose, capped at 1. The dose is the volume
//!   sets × reps × hold (seconds, where the move has a hold) against the
//!   lower ends of the prescribed ranges; a missing component is taken as
//!   prescribed. For a move done per side, each side's volume is compared
//!   with the prescription and the day's share is the mean of the two sides
//!   (a row with side `both` or no side counts for both).
//!
//! Per patient, the sums over exercises and weeks: `done / scheduled`, the
//! mean dose share over all days done, and `adherent` when session adherence
//! reaches the threshold (0.70 by default, the MiSpEx convention). Per site
//! and for the cohort: median and quartiles (R's type 7) of patients'
//! session adherence and the share adherent.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

use chrono::{Datelike, Duration, NaiveDate};
use lumbar_model::records::{ColumnTable, ColumnValues};
use lumbar_model::{Exercise, Frequency, Regimen, Sides};

use crate::prescription::Prescriptions;
use serde::{Deserialize, Serialize};

use crate::describe::quantile;
use lumbar_model::cohort::{Cohort, Session, SessionSink};

#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct WeekAdherence {
    pub patient_id: String,
    pub site: String,
    pub exercise: String,
    pub iso_year: i32,
    pub iso_week: u32,
    /// Monday of the ISO week.
    pub week_start: NaiveDate,
    pub scheduled: u32,
    pub done: u32,
    pub session_adherence: f64,
    pub dose_adherence: Option<f64>,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct PatientAdherence {
    pub patient_id: String,
    pub site: String,
    pub scheduled: u32,
    pub done: u32,
    pub session_adherence: f64,
    pub dose_adherence: Option<f64>,
    pub adherent: bool,
}

/// One move and ISO week of one patient, without the patient: what a
/// shard of `lumbar analyze` keeps of a [`WeekAdherence`] row, which
/// [`WeekTally::row`] rebuilds by the same rules as the tally.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(into = "WeekTallyArray", from = "WeekTallyArray")]
pub struct WeekTally {
    /// Shared by a patient's weeks of one move.
    pub exercise: Arc<str>,
    /// Monday of the ISO week.
    pub week_start: NaiveDate,
    pub scheduled: u32,
    pub done: u32,
    pub dose_adherence: Option<f64>,
}

/// A [`WeekTally`] as JSON: an array `[move, "YYYY-MM-DD", scheduled,
/// done, dose]`, a third of the bytes of an object (a shard of a registry
/// writes one per patient, move and week).
#[derive(Serialize, Deserialize)]
struct WeekTallyArray(Arc<str>, NaiveDate, u32, u32, Option<f64>);

impl From<WeekTally> for WeekTallyArray {
    fn from(w: WeekTally) -> Self {
        WeekTallyArray(
            w.exercise,
            w.week_start,
            w.scheduled,
            w.done,
            w.dose_adherence,
        )
    }
}

impl From<WeekTallyArray> for WeekTally {
    fn from(a: WeekTallyArray) -> Self {
        WeekTally {
            exercise: a.0,
            week_start: a.1,
            scheduled: a.2,
            done: a.3,
            dose_adherence: a.4,
        }
    }
}

impl WeekTally {
    /// The table row of this week for the patient.
    pub fn row(&self, patient_id: &str, site: &str) -> WeekAdherence {
        let (iso_year, iso_week) = self.iso();
        WeekAdherence {
            patient_id: patient_id.into(),
            site: site.into(),
            exercise: self.exercise.to_string(),
            iso_year,
            iso_week,
            week_start: self.week_start,
            scheduled: self.scheduled,
            done: self.done,
            session_adherence: self.session_adherence(),
            dose_adherence: self.dose_adherence,
        }
    }

    /// The ISO year and week.
    pub fn iso(&self) -> (i32, u32) {
        let iso = self.week_start.iso_week();
        (iso.year(), iso.week())
    }

    /// `done / scheduled`.
    pub fn session_adherence(&self) -> f64 {
        self.done as f64 / self.scheduled as f64
    }
}

/// Weekly rows of several patients held column-wise, for a table writer:
/// the columns of [`WeekAdherence`], in its order and with its values,
/// without a string per row.
#[derive(Debug, Default)]
pub struct WeeklyColumns {
    patients: Vec<(String, String)>,
    /// Each row's patient (into `patients`) and week.
    rows: Vec<(usize, WeekTally)>,
}

impl WeeklyColumns {
    /// Adds a patient's weeks.
    pub fn push(&mut self, patient_id: String, site: String, weeks: Vec<WeekTally>) {
        if weeks.is_empty() {
            return;
        }
        let k = self.patients.len();
        self.patients.push((patient_id, site));
        self.rows.extend(weeks.into_iter().map(|w| (k, w)));
    }

    /// Rows held.
    pub fn len(&self) -> usize {
        self.rows.len()
    }

    pub fn is_empty(&self) -> bool {
        self.rows.is_empty()
    }

    pub fn clear(&mut self) {
        self.patients.clear();
        self.rows.clear();
    }

    /// The rows as columns (named and ordered as [`WeekAdherence`]'s fields).
    pub fn columns(&self) -> ColumnTable<'_> {
        let rows = &self.rows;
        let text = |f: fn(&(String, String)) -> &str| {
            ColumnValues::Str(rows.iter().map(|(k, _)| f(&self.patients[*k])).collect())
        };
        let int = |f: fn(&WeekTally) -> i64| {
            ColumnValues::I64(rows.iter().map(|(_, w)| f(w)).collect::<Vec<_>>().into())
        };
        vec![
            ("patient_id".into(), text(|p| p.0.as_str())),
            ("site".into(), text(|p| p.1.as_str())),
            (
                "exercise".into(),
                ColumnValues::Str(rows.iter().map(|(_, w)| &*w.exercise).collect()),
            ),
            ("iso_year".into(), int(|w| i64::from(w.iso().0))),
            ("iso_week".into(), int(|w| i64::from(w.iso().1))),
            (
                "week_start".into(),
                ColumnValues::Date(
                    rows.iter()
                        .map(|(_, w)| w.week_start)
                        .collect::<Vec<_>>()
                        .into(),
                ),
            ),
            ("scheduled".into(), int(|w| i64::from(w.scheduled))),
            ("done".into(), int(|w| i64::from(w.done))),
            (
                "session_adherence".into(),
                ColumnValues::F64(
                    rows.iter()
                        .map(|(_, w)| w.session_adherence())
                        .collect::<Vec<_>>()
                        .into(),
                ),
            ),
            (
                "dose_adherence".into(),
                ColumnValues::OptF64(
                    rows.iter()
                        .map(|(_, w)| w.dose_adherence)
                        .collect::<Vec<_>>()
                        .into(),
                ),
            ),
        ]
    }
}

#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct GroupAdherence {
    /// `site` or `cohort`.
    pub level: String,
    /// The site, or `all`.
    pub group: String,
    pub patients: usize,
    pub median: f64,
    pub q1: f64,
    pub q3: f64,
    pub share_adherent: f64,
}

#[derive(Debug, Clone, Default, Serialize)]
pub struct Adherence {
    /// Per patient × move × ISO week (empty when the tally was asked not to
    /// keep them).
    pub weeks: Vec<WeekAdherence>,
    pub patients: Vec<PatientAdherence>,
    pub groups: Vec<GroupAdherence>,
    /// Per patient × move over the whole window, patients in cohort order.
    #[serde(skip)]
    pub exercises: Vec<ExerciseTotal>,
    /// Per patient with something scheduled, in cohort order: their index
    /// in the cohort and the first and last day scheduled.
    #[serde(skip)]
    pub spans: Vec<(usize, NaiveDate, NaiveDate)>,
    /// Patients with nothing scheduled (in the window, if there is one):
    /// they are in none of the tables above.
    #[serde(skip)]
    pub unscheduled: usize,
    /// The first day observed in the store, where it was told: no patient's
    /// programme starts before it.
    #[serde(skip)]
    pub observed_from: Option<NaiveDate>,
}

/// The most weeks one patient is scheduled: 100 years. Only a store whose
/// own dates span more than that reaches it (ingest refuses dates before
/// 1900); the schedule then ends at the last follow-up and starts this
/// many weeks before, so memory stays bounded whatever the dates.
pub const MAX_SCHEDULED_WEEKS: i64 = 5_218;

/// Done and scheduled days of one patient and move over the whole window.
#[derive(Debug, Clone, PartialEq)]
pub struct ExerciseTotal {
    /// Index into the cohort's patients.
    pub patient: usize,
    pub exercise: String,
    pub scheduled: u32,
    pub done: u32,
}

/// One day a move was done (days from the common era), with the volume per
/// side (left, right); a move that is not sided keeps its volume in both.
#[derive(Debug, Clone, Copy)]
struct DoneDay {
    day: i32,
    left: f64,
    right: f64,
}

/// The volume of one logged row against the prescription's lower ends.
fn volume(ex: &Exercise, sets: Option<f64>, reps: Option<f64>, hold: Option<f64>) -> f64 {
    let mut v = sets.unwrap_or(ex.sets.min) * reps.unwrap_or(ex.reps.min);
    if let Some(h) = ex.hold_s {
        v *= hold.unwrap_or(h.min);
    }
    v
}

fn prescribed_volume(ex: &Exercise) -> f64 {
    ex.sets.min * ex.reps.min * ex.hold_s.map(|h| h.min).unwrap_or(1.0)
}

/// A day's dose share: performed volume over prescribed, capped at 1, the
/// mean of the two sides for a move done per side.
fn share(ex: &Exercise, d: &DoneDay) -> f64 {
    let p = prescribed_volume(ex);
    match ex.sides {
        Sides::Each => 0.5 * ((d.left / p).min(1.0) + (d.right / p).min(1.0)),
        _ => (d.left / p).min(1.0),
    }
}

/// Computes adherence for every patient of the cohort, everyone on the
/// regimen's defaults.
pub fn adherence(cohort: &Cohort, regimen: &Regimen, threshold: f64) -> Adherence {
    adherence_with(cohort, &Prescriptions::from_regimen(regimen), threshold)
}

/// Computes adherence for every patient of the cohort, each on their own
/// prescription.
pub fn adherence_with(cohort: &Cohort, rx: &Prescriptions, threshold: f64) -> Adherence {
    let mut tally = AdherenceTally::new(cohort, rx, threshold, true);
    cohort.feed_sessions(&mut tally);
    tally.finish()
}

/// What one patient's adherence came to, kept until [`AdherenceTally::finish`]
/// puts patients back in cohort order.
#[derive(Default)]
struct PatientResult {
    /// First and last day scheduled (None: nothing was).
    span: Option<(NaiveDate, NaiveDate)>,
    weeks: Vec<WeekTally>,
    exercises: Vec<ExerciseTotal>,
    scheduled: u32,
    done: u32,
    dose_sum: f64,
    dose_n: u32,
}

/// Adherence computed from a stream of sessions (a [`SessionSink`]): each
/// patient's done days are held only until the patient is done, so a store
/// of any size is summarised in one pass. [`adherence_with`] feeds it the
/// sessions of a loaded cohort; the clinic report feeds it straight from the
/// store's columns. One implementation of the rules serves both.
pub struct AdherenceTally<'a> {
    cohort: &'a Cohort,
    rx: &'a Prescriptions,
    threshold: f64,
    /// Keep the rows per patient × move × ISO week (`lumbar analyze` writes
    /// them; the report needs only the totals).
    keep_weeks: bool,
    /// The last day followed before any session: the enrolment day, or the
    /// latest outcome (one list shared by every piece of a stream)…
    base_last: Arc<[NaiveDate]>,
    /// …and the latest session of a prescribed move, where later.
    last: HashMap<usize, NaiveDate>,
    /// Done days per prescribed move of the patient of the latest session
    /// (sessions come grouped by patient, so this is nearly always the one)…
    streaming: Option<(usize, Vec<Vec<DoneDay>>)>,
    /// …and of other patients not yet done.
    open: HashMap<usize, Vec<Vec<DoneDay>>>,
    /// The patient of the previous session with their prescription, so that
    /// the prescription is looked up once per patient, not per session.
    current: Option<(usize, &'a [Exercise])>,
    /// Patients closed and not yet taken (a piece of a stream holds only
    /// its own, so making and merging pieces costs nothing per patient).
    results: HashMap<usize, PatientResult>,
    /// The first day observed in the store (session or outcome): no patient
    /// is scheduled before it.
    observed_from: Option<NaiveDate>,
    /// The date window, inclusive at both ends.
    from: Option<NaiveDate>,
    to: Option<NaiveDate>,
}

impl<'a> AdherenceTally<'a> {
    pub fn new(
        cohort: &'a Cohort,
        rx: &'a Prescriptions,
        threshold: f64,
        keep_weeks: bool,
    ) -> AdherenceTally<'a> {
        let mut last: Vec<NaiveDate> = cohort.patients.iter().map(|p| p.enrolled_on).collect();
        let mut observed_from: Option<NaiveDate> = None;
        for o in &cohort.outcomes {
            last[o.patient] = last[o.patient].max(o.date);
            observed_from = Some(observed_from.map_or(o.date, |f| f.min(o.date)));
        }
        AdherenceTally {
            observed_from,
            from: None,
            to: None,
            cohort,
            rx,
            threshold,
            keep_weeks,
            base_last: last.into(),
            last: HashMap::new(),
            streaming: None,
            open: HashMap::new(),
            current: None,
            results: HashMap::new(),
        }
    }

    /// An empty tally with the same rules, cohort and window, for another
    /// piece of the same stream: costs nothing per patient (the cohort's
    /// outcomes are read once, by [`AdherenceTally::new`]).
    pub fn fresh(&self) -> AdherenceTally<'a> {
        AdherenceTally {
            observed_from: self.observed_from,
            from: self.from,
            to: self.to,
            cohort: self.cohort,
            rx: self.rx,
            threshold: self.threshold,
            keep_weeks: self.keep_weeks,
            base_last: self.base_last.clone(),
            last: HashMap::new(),
            streaming: None,
            open: HashMap::new(),
            current: None,
            results: HashMap::new(),
        }
    }

    /// The last day patient `pi` is followed.
    fn last_day(&self, pi: usize) -> NaiveDate {
        let base = self.base_last[pi];
        self.last.get(&pi).map_or(base, |&d| d.max(base))
    }

    /// Schedules and counts only the days from `from` to `to` (inclusive;
    /// `None` leaves that end open). Sessions outside still mark the last
    /// follow-up, so a window ending before it schedules to the window's end.
    pub fn within(mut self, from: Option<NaiveDate>, to: Option<NaiveDate>) -> Self {
        self.from = from;
        self.to = to;
        self
    }

    /// Notes that the store holds data from `day` (no patient is scheduled
    /// before the first day observed). The streams call it through
    /// [`SessionSink::sessions_span`]; callers holding other tables may too.
    pub fn observe(&mut self, day: NaiveDate) {
        self.observed_from = Some(self.observed_from.map_or(day, |f| f.min(day)));
    }

    /// The days a patient is scheduled: from the latest of enrolment, the
    /// first day observed and the window's start, to the earlier of the last
    /// follow-up and the window's end, at most [`MAX_SCHEDULED_WEEKS`] long;
    /// `None` when that is empty.
    fn schedule(&self, pi: usize) -> Option<(NaiveDate, NaiveDate)> {
        let p = &self.cohort.patients[pi];
        let last = self.last_day(pi);
        let end = self.to.map_or(last, |t| t.min(last));
        let start = [Some(p.enrolled_on), self.observed_from, self.from]
            .into_iter()
            .flatten()
            .max()
            .unwrap_or(p.enrolled_on);
        let earliest = end
            .checked_sub_signed(Duration::weeks(MAX_SCHEDULED_WEEKS))
            .unwrap_or(NaiveDate::MIN);
        let start = start.max(earliest);
        (start <= end).then_some((start, end))
    }

    fn prescription(&mut self, patient: usize) -> &'a [Exercise] {
        match self.current {
            Some((p, exs)) if p == patient => exs,
            _ => {
                let exs = self.rx.for_patient(&self.cohort.patients[patient].id);
                self.current = Some((patient, exs));
                exs
            }
        }
    }

    /// Schedules a patient's window week by week against their done days.
    fn close(&mut self, pi: usize, mut days: Vec<Vec<DoneDay>>) {
        let exs = self.prescription(pi);
        let mut r = PatientResult::default();
        let Some((start, last)) = self.schedule(pi) else {
            self.results.insert(pi, r);
            return;
        };
        r.span = Some((start, last));
        let first_monday = start - Duration::days(start.weekday().num_days_from_monday() as i64);
        days.resize_with(exs.len(), Vec::new);
        for (ex, dd) in exs.iter().zip(days.iter_mut()) {
            let key: Arc<str> = ex.key.as_str().into();
            // Rows of one day may arrive apart: sort (stable) and merge.
            if !dd.is_sorted_by_key(|d| d.day) {
                dd.sort_by_key(|d| d.day);
            }
            dd.dedup_by(|later, kept| {
                let same = later.day == kept.day;
                if same {
                    kept.left += later.left;
                    kept.right += later.right;
                }
                same
            });
            let (mut ex_sched, mut ex_done) = (0u32, 0u32);
            let mut next = 0usize;
            let mut monday = first_monday;
            while monday <= last {
                let sunday = monday + Duration::days(6);
                let from = monday.max(start);
                let to = sunday.min(last);
                let in_window = ((to - from).num_days() + 1) as u32;
                let scheduled = match ex.frequency {
                    Frequency::Daily => in_window,
                    Frequency::DaysPerWeek(n) => (n as u32).min(in_window),
                };
                let (from_d, to_d) = (from.num_days_from_ce(), to.num_days_from_ce());
                let mut done = 0u32;
                let (mut wsum, mut wn) = (0.0, 0u32);
                while next < dd.len() && dd[next].day < from_d {
                    next += 1;
                }
                while next < dd.len() && dd[next].day <= to_d {
                    done += 1;
                    wsum += share(ex, &dd[next]);
                    wn += 1;
                    next += 1;
                }
                let done_capped = done.min(scheduled);
                if self.keep_weeks {
                    r.weeks.push(WeekTally {
                        exercise: key.clone(),
                        week_start: monday,
                        scheduled,
                        done: done_capped,
                        dose_adherence: (wn > 0).then(|| wsum / wn as f64),
                    });
                }
                ex_sched += scheduled;
                ex_done += done_capped;
                r.dose_sum += wsum;
                r.dose_n += wn;
                monday += Duration::days(7);
            }
            r.scheduled += ex_sched;
            r.done += ex_done;
            r.exercises.push(ExerciseTotal {
                patient: pi,
                exercise: ex.key.clone(),
                scheduled: ex_sched,
                done: ex_done,
            });
        }
        self.results.insert(pi, r);
    }

    /// Every patient's adherence, in cohort order (patients without a
    /// session are scheduled with nothing done), and the per-site and cohort
    /// summaries.
    pub fn finish(self) -> Adherence {
        let cohort = self.cohort;
        let (mut out, weeks) = self.finish_weeks_apart();
        for (p, ws) in cohort.patients.iter().zip(weeks) {
            out.weeks.extend(ws.iter().map(|w| w.row(&p.id, &p.site)));
        }
        out
    }

    /// As [`AdherenceTally::finish`], with the weekly rows left out of the
    /// result and given instead as each patient's week tallies (one list per
    /// patient of the cohort, in its order): a registry's weekly table is
    /// then never held as rows.
    pub fn finish_weeks_apart(mut self) -> (Adherence, Vec<Vec<WeekTally>>) {
        self.close_from(0);
        let mut weeks = vec![Vec::new(); self.cohort.patients.len()];
        let mut out = Adherence {
            observed_from: self.observed_from,
            ..Default::default()
        };
        for (pi, patient_weeks) in weeks.iter_mut().enumerate() {
            let Some(mut r) = self.results.remove(&pi) else {
                continue;
            };
            let exercises = std::mem::take(&mut r.exercises);
            let span = r.span.filter(|_| r.scheduled > 0);
            let (row, w) = self.settle(pi, r);
            let (Some(row), Some((first, last))) = (row, span) else {
                out.unscheduled += 1;
                continue;
            };
            out.spans.push((pi, first, last));
            out.patients.push(row);
            *patient_weeks = w;
            out.exercises.extend(exercises);
        }
        out.groups = groups(&out.patients);
        (out, weeks)
    }

    /// Closes every patient from `from` on who is not closed yet: those
    /// whose rows were split between slices or came last, and those with
    /// nothing logged.
    pub fn close_from(&mut self, from: usize) {
        let mut open: Vec<(usize, Vec<Vec<DoneDay>>)> = self.open.drain().collect();
        open.extend(self.streaming.take());
        open.sort_by_key(|o| o.0);
        for (pi, days) in open {
            if pi >= from {
                self.close(pi, days);
            }
        }
        for pi in from..self.cohort.patients.len() {
            if !self.results.contains_key(&pi) {
                self.close(pi, Vec::new());
            }
        }
    }

    /// Whether patient `pi` is closed (no session of theirs can follow) and
    /// not yet taken.
    pub fn is_closed(&self, pi: usize) -> bool {
        self.results.contains_key(&pi)
    }

    /// Patient `pi`'s adherence row (`None` when nothing was scheduled) and
    /// week tallies, once the patient is closed; `None` while sessions of
    /// theirs may still come (and after they were taken).
    pub fn take_patient(
        &mut self,
        pi: usize,
    ) -> Option<(Option<PatientAdherence>, Vec<WeekTally>)> {
        let r = self.results.remove(&pi)?;
        Some(self.settle(pi, r))
    }

    /// A closed patient's row (none when nothing was scheduled) and weeks.
    fn settle(&self, pi: usize, r: PatientResult) -> (Option<PatientAdherence>, Vec<WeekTally>) {
        if r.span.is_none() || r.scheduled == 0 {
            return (None, Vec::new());
        }
        let p = &self.cohort.patients[pi];
        let sa = r.done as f64 / r.scheduled as f64;
        let row = PatientAdherence {
            patient_id: p.id.clone(),
            site: p.site.clone(),
            scheduled: r.scheduled,
            done: r.done,
            session_adherence: sa,
            dose_adherence: (r.dose_n > 0).then(|| r.dose_sum / r.dose_n as f64),
            adherent: sa >= self.threshold - 1e-12,
        };
        (Some(row), r.weeks)
    }
}

impl SessionSink for AdherenceTally<'_> {
    fn sessions_span(&mut self, first: NaiveDate, _last: NaiveDate) {
        self.observe(first);
    }

    fn session(&mut self, s: &Session) {
        let exs = self.prescription(s.patient);
        let Some(slot) = exs.iter().position(|e| *e.key == *s.exercise) else {
            return; // a move not prescribed: neither scheduled nor counted
        };
        let date = s.performed_at.date();
        let last = self.last.entry(s.patient).or_insert(date);
        *last = (*last).max(date);
        if s.completed == Some(false) || date < self.cohort.patients[s.patient].enrolled_on {
            return;
        }
        let ex = &exs[slot];
        let v = volume(ex, s.sets, s.reps, s.hold_s);
        let (left, right) = match (ex.sides, s.side.as_deref()) {
            (Sides::Each, Some("left")) => (v, 0.0),
            (Sides::Each, Some("right")) => (0.0, v),
            _ => (v, v),
        };
        if self.streaming.as_ref().is_none_or(|(p, _)| *p != s.patient) {
            let days = self.open.remove(&s.patient).unwrap_or_default();
            if let Some((p, d)) = self.streaming.replace((s.patient, days)) {
                self.open.insert(p, d);
            }
        }
        let Some((_, days)) = self.streaming.as_mut() else {
            return;
        };
        if days.len() < exs.len() {
            days.resize_with(exs.len(), Vec::new);
        }
        let day = date.num_days_from_ce();
        match days[slot].last_mut() {
            Some(d) if d.day == day => {
                d.left += left;
                d.right += right;
            }
            _ => days[slot].push(DoneDay { day, left, right }),
        }
    }

    fn merge(&mut self, later: Self) {
        for (p, d) in later.last {
            let mine = self.last.entry(p).or_insert(d);
            *mine = (*mine).max(d);
        }
        if let Some((p, days)) = self.streaming.take() {
            self.open.insert(p, days);
        }
        // A patient whose rows were split between the two: their days join.
        for (p, days) in later.open.into_iter().chain(later.streaming) {
            let mine = self.open.entry(p).or_default();
            if mine.len() < days.len() {
                mine.resize_with(days.len(), Vec::new);
            }
            for (m, d) in mine.iter_mut().zip(days) {
                m.extend(d);
            }
        }
        self.results.extend(later.results);
    }

    fn patient_done(&mut self, patient: usize) {
        let days = match self.streaming.take_if(|(p, _)| *p == patient) {
            Some((_, days)) => days,
            None => self.open.remove(&patient).unwrap_or_default(),
        };
        self.close(patient, days);
    }
}

/// Median and quartiles (type 7) and the share adherent, per site and for
/// the cohort, of patients' rows (in any order: the figures are of sets).
pub fn groups(patients: &[PatientAdherence]) -> Vec<GroupAdherence> {
    let mut out = Vec::new();
    let mut by_site: BTreeMap<&str, Vec<&PatientAdherence>> = BTreeMap::new();
    for p in patients {
        by_site.entry(p.site.as_str()).or_default().push(p);
    }
    let summarise = |level: &str, group: &str, ps: &[&PatientAdherence]| {
        let mut v: Vec<f64> = ps.iter().map(|p| p.session_adherence).collect();
        v.sort_by(f64::total_cmp);
        GroupAdherence {
            level: level.into(),
            group: group.into(),
            patients: v.len(),
            median: quantile(&v, 0.5),
            q1: quantile(&v, 0.25),
            q3: quantile(&v, 0.75),
            share_adherent: ps.iter().filter(|p| p.adherent).count() as f64
                / ps.len().max(1) as f64,
        }
    };
    for (site, ps) in &by_site {
        out.push(summarise("site", site, ps));
    }
    let all: Vec<&PatientAdherence> = patients.iter().collect();
    if !all.is_empty() {
        out.push(summarise("cohort", "all", &all));
    }
    out
}

#[cfg(test)]
mod tests;

#[cfg(test)]
mod prescription_tests;
