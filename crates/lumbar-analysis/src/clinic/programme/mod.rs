//! The report's figures over programme weeks and calendar months (issue 21,
//! item 2): adherence by programme week, dropout, and safety events per 100
//! sessions by month. They come from the report's one pass over the
//! sessions: each patient's rows are held only until the patient is done
//! (their done days and months), then folded into tallies per week and a
//! few integers per patient-month, so the pass never holds every session.
//!
//! Programme week w of a patient is days 7w … 7w + 6 after their programme
//! start (enrolment, or the store's first observed day if later), as for
//! pain and ODI. Figures stop at [`MAX_WEEKS`].
//!
//! - **Adherence by programme week**: over the patients with something
//!   scheduled in week w (in the window), the scheduled days of their
//!   prescribed moves in that week and the days done, pooled: done /
//!   scheduled. The rules are [`crate::adherence`]'s with the programme
//!   week in place of the ISO week: a daily move is scheduled on every day
//!   of the week inside the patient's schedule, a move of N days a week on
//!   N of them (fewer if the schedule has fewer), and done days count up to
//!   what was scheduled.
//! - **Dropout**: a patient has dropped out in the programme week of their
//!   last logged session (week 0 if they logged none) when at least 7 days
//!   of their follow-up follow it with no session; otherwise their last
//!   session falls in the final 7 days of their follow-up and they are
//!   censored at its end: at the end of their programme (their last
//!   outcome or session), at the data cut-off, or at the window's end (the
//!   rule of [`crate::targets`]' `still_logging_week_W`). Every patient
//!   covered is at risk from week 0. [`pooled`] gives the Kaplan–Meier
//!   estimate on intervals of weeks.
//! - **Safety by month**: per calendar month of the window, the patients
//!   logging, their sessions (rows, any move), the safety events (as the
//!   report's safety table counts them: the regimen's moves, continued at
//!   the stop level) and the patients with one.
//! - **Dose**: per regimen move, the sessions inside the window with a
//!   full dose logged (sets and reps, and the hold for a move with one), by
//!   where sets × reps × hold falls against the patient's prescription's
//!   range of the same product: below, inside, above; with the patients
//!   who had each.
//! - **Ladders**: where levels are logged (a session's `level`, a rung of
//!   one of the regimen's ladders), per ladder and programme week, the
//!   patients followed in the week who had logged the ladder by its end
//!   (inside the window), by the highest rung reached by then.

use std::collections::{BTreeMap, HashMap};

use chrono::{Datelike, NaiveDate};
use lumbar_model::cohort::{Cohort, Session};
use lumbar_model::{Exercise, Frequency, Regimen, SafetyRules};
use serde::{Deserialize, Serialize};

use crate::prescription::Prescriptions;

/// Programme weeks shown at most (two years): a patient still at risk at
/// the last of them is censored there, and later weeks are left out.
pub const MAX_WEEKS: u32 = 104;

/// Adherence in one programme week, pooled over the patients scheduled in it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AdherenceWeek {
    pub week: u32,
    /// Patients with something scheduled in the week.
    pub patients: usize,
    /// Days scheduled, summed over the patients' prescribed moves.
    pub scheduled: u64,
    /// Of those, days done.
    pub done: u64,
}

impl AdherenceWeek {
    /// Scheduled sessions done: `done / scheduled`.
    pub fn share(&self) -> f64 {
        self.done as f64 / self.scheduled.max(1) as f64
    }
}

/// One programme week of the dropout table.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DropoutWeek {
    pub week: u32,
    /// Patients neither dropped out nor censored before the week.
    pub at_risk: usize,
    /// Patients whose last session was in this week and who dropped out.
    pub dropped: usize,
    /// Patients whose follow-up ended in this week (still logging).
    pub censored: usize,
}

/// Weeks `first_week` … `last_week` of the dropout curve, as one step.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DropoutInterval {
    pub first_week: u32,
    pub last_week: u32,
    /// At risk at the start of `first_week`.
    pub at_risk: usize,
    pub dropped: usize,
    pub censored: usize,
    /// Kaplan–Meier: the share still logging at the end of `last_week`.
    pub still_logging: f64,
}

/// Safety in one calendar month.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SafetyMonth {
    pub year: i32,
    /// 1 … 12.
    pub month: u32,
    /// Patients with a session in the month.
    pub patients: usize,
    /// Sessions (logged rows, any move) in the month.
    pub sessions: usize,
    pub events: usize,
    pub patients_with_events: usize,
}

impl SafetyMonth {
    /// Safety events per 100 sessions.
    pub fn per_100(&self) -> f64 {
        100.0 * self.events as f64 / self.sessions.max(1) as f64
    }
}

/// Prescribed against performed dose of one exercise: the sessions of the
/// patients covered (inside the window) with a full dose logged, by where
/// sets × reps × hold (seconds; reps alone for a move without a hold)
/// falls against the patient's prescription's range of the same product
/// (the lower ends multiplied, the upper ends multiplied).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DoseByExercise {
    pub exercise: String,
    /// Patients with a session of the move with a full dose logged.
    pub patients: usize,
    /// Sessions below, inside and above the range.
    pub sessions: [usize; 3],
    /// Patients with a session below, inside and above the range.
    pub patients_by: [usize; 3],
}

impl DoseByExercise {
    /// Sessions with a full dose logged.
    pub fn total(&self) -> usize {
        self.sessions.iter().sum()
    }
}

/// Where a logged dose falls against its prescription: below, inside or
/// above the range (indices of [`DoseByExercise::sessions`]).
pub const BELOW: usize = 0;
pub const IN_RANGE: usize = 1;
pub const ABOVE: usize = 2;

/// Progression along one ladder: by programme week, the patients followed
/// in the week who had logged a rung of the ladder by its end, by the
/// highest rung they had reached.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LadderProgress {
    pub ladder: String,
    /// Rung names, easiest first.
    pub rungs: Vec<String>,
    pub weeks: Vec<LadderWeek>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LadderWeek {
    pub week: u32,
    /// Patients followed in the week who had logged the ladder by its end.
    pub patients: usize,
    /// Of those, by the highest rung reached (one entry per rung).
    pub at_rung: Vec<usize>,
}

/// The Kaplan–Meier estimate on intervals of programme weeks: weeks are
/// pooled from the first on until the interval's dropouts and censored
/// patients are each 0 or at least `min`, and so are the patients left
/// (the rule a share of the report must meet to be shown), or the weeks
/// run out. Each interval is one step, `1 − dropped / at_risk`: censoring
/// inside an interval is taken to come at its end (for one week, as
/// Kaplan–Meier has it for ties), so the curve is a function of the
/// intervals' counts alone and shows nothing of the weeks pooled.
pub fn pooled(weeks: &[DropoutWeek], min: usize) -> Vec<DropoutInterval> {
    let small = |n: usize| n > 0 && n < min;
    let mut out = Vec::new();
    let mut surv = 1.0;
    let mut i = 0;
    while i < weeks.len() {
        let at_risk = weeks[i].at_risk;
        if at_risk == 0 {
            break;
        }
        let (mut dropped, mut censored) = (0, 0);
        let mut j = i;
        loop {
            dropped += weeks[j].dropped;
            censored += weeks[j].censored;
            let ok = !small(dropped)
                && !small(censored)
                && !small(at_risk - dropped)
                && !small(at_risk - censored);
            if ok || j + 1 == weeks.len() {
                break;
            }
            j += 1;
        }
        surv *= 1.0 - dropped as f64 / at_risk as f64;
        out.push(DropoutInterval {
            first_week: weeks[i].week,
            last_week: weeks[j].week,
            at_risk,
            dropped,
            censored,
            still_logging: surv,
        });
        i = j + 1;
    }
    out
}

/// The figures of [`ProgrammeCounts::figures`].
pub(super) struct ProgrammeFigures {
    pub adherence_by_week: Vec<AdherenceWeek>,
    pub dropout: Vec<DropoutWeek>,
    pub safety_by_month: Vec<SafetyMonth>,
    pub dose: Vec<DoseByExercise>,
    pub ladders: Vec<LadderProgress>,
}

/// The programme figures as exact tallies over a set of patients (a
/// shard's, or the sum of shards' by [`ProgrammeCounts::add`]): integers
/// by week, month, move and rung, before the steps that need every patient
/// (weeks without patients dropped, patients at risk counted down). Sums
/// of integers over disjoint patients, so shards add up to the whole run.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub(super) struct ProgrammeCounts {
    /// By programme week: (patients scheduled, days scheduled).
    scheduled: Vec<(usize, u64)>,
    /// By programme week: days done (may run past `scheduled`; those weeks
    /// are not shown).
    done: Vec<u64>,
    /// By programme week of leaving: (dropped out, censored).
    exits: Vec<(usize, usize)>,
    /// By month (year · 12 + month0).
    months: BTreeMap<i32, SafetyMonth>,
    /// One row per regimen move.
    dose: Vec<DoseByExercise>,
    /// One per regimen ladder, a row for every week up to the last counted.
    ladders: Vec<LadderProgress>,
}

/// `a[i] += b[i]`, `a` grown to `b`'s length with `zero`.
fn add_by_index<T: Clone>(a: &mut Vec<T>, b: Vec<T>, zero: T, add: impl Fn(&mut T, T)) {
    if a.len() < b.len() {
        a.resize(b.len(), zero);
    }
    for (x, y) in a.iter_mut().zip(b) {
        add(x, y);
    }
}

impl ProgrammeCounts {
    /// The regimen's moves, and each ladder's rungs, counted: tallies of
    /// one regimen have the same.
    pub(super) fn shape(&self) -> (usize, Vec<usize>) {
        (
            self.dose.len(),
            self.ladders.iter().map(|l| l.rungs.len()).collect(),
        )
    }

    /// Adds another set of patients' counts (disjoint from these).
    pub(super) fn add(&mut self, other: ProgrammeCounts) {
        add_by_index(&mut self.scheduled, other.scheduled, (0, 0), |a, b| {
            a.0 += b.0;
            a.1 += b.1;
        });
        add_by_index(&mut self.done, other.done, 0, |a, b| *a += b);
        add_by_index(&mut self.exits, other.exits, (0, 0), |a, b| {
            a.0 += b.0;
            a.1 += b.1;
        });
        for (m, row) in other.months {
            match self.months.entry(m) {
                std::collections::btree_map::Entry::Vacant(v) => {
                    v.insert(row);
                }
                std::collections::btree_map::Entry::Occupied(mut o) => {
                    let r = o.get_mut();
                    r.patients += row.patients;
                    r.sessions += row.sessions;
                    r.events += row.events;
                    r.patients_with_events += row.patients_with_events;
                }
            }
        }
        for (a, b) in self.dose.iter_mut().zip(other.dose) {
            a.patients += b.patients;
            for c in 0..3 {
                a.sessions[c] += b.sessions[c];
                a.patients_by[c] += b.patients_by[c];
            }
        }
        for (a, b) in self.ladders.iter_mut().zip(other.ladders) {
            let rungs = a.rungs.len();
            let zero = LadderWeek {
                week: 0,
                patients: 0,
                at_rung: vec![0; rungs],
            };
            add_by_index(&mut a.weeks, b.weeks, zero, |x, y| {
                x.week = y.week;
                x.patients += y.patients;
                for (n, m) in x.at_rung.iter_mut().zip(y.at_rung) {
                    *n += m;
                }
            });
        }
    }

    /// The report's figures from the counts of every patient.
    pub(super) fn figures(self) -> ProgrammeFigures {
        let mut weeks: Vec<AdherenceWeek> = self
            .scheduled
            .iter()
            .enumerate()
            .map(|(w, &(patients, scheduled))| AdherenceWeek {
                week: w as u32,
                patients,
                scheduled,
                done: self.done.get(w).copied().unwrap_or(0),
            })
            .collect();
        weeks.retain(|w| w.patients > 0);
        let mut at_risk: usize = self.exits.iter().map(|e| e.0 + e.1).sum();
        let dropout = self
            .exits
            .iter()
            .enumerate()
            .map(|(w, &(dropped, censored))| {
                let row = DropoutWeek {
                    week: w as u32,
                    at_risk,
                    dropped,
                    censored,
                };
                at_risk -= dropped + censored;
                row
            })
            .collect();
        let mut ladders = self.ladders;
        for l in &mut ladders {
            l.weeks.retain(|w| w.patients > 0);
        }
        ladders.retain(|l| !l.weeks.is_empty());
        ProgrammeFigures {
            adherence_by_week: weeks,
            dropout,
            safety_by_month: self.months.into_values().collect(),
            dose: self.dose,
            ladders,
        }
    }
}

/// What one patient's rows leave until the patient is done.
#[derive(Debug, Default)]
struct Held {
    /// (prescribed move's slot, day from the common era) of each row that
    /// counts as done: completed (or not said), on or after enrolment,
    /// inside the window.
    done: Vec<(usize, i32)>,
    /// (year · 12 + month0, sessions, events) inside the window.
    months: Vec<(i32, u32, u32)>,
    /// The latest session day up to the window's end.
    last: Option<NaiveDate>,
    /// (regimen move, where the dose fell) of each session inside the
    /// window with a full dose logged.
    dose: Vec<(u8, u8)>,
    /// (ladder, rung, day from the common era) of each session inside the
    /// window that logs a rung.
    levels: Vec<(u8, u8, i32)>,
}

impl Held {
    fn join(&mut self, other: Held) {
        self.done.extend(other.done);
        self.months.extend(other.months);
        self.last = self.last.max(other.last);
        self.dose.extend(other.dose);
        self.levels.extend(other.levels);
    }
}

/// Where sets × reps × hold falls against the prescribed move's range of
/// the same product, or `None` when a part of the dose is not logged.
fn dose_class(e: &Exercise, s: &Session) -> Option<u8> {
    let (sets, reps) = (s.sets?, s.reps?);
    let (mut dose, mut lo, mut hi) = (
        sets * reps,
        e.sets.min * e.reps.min,
        e.sets.max * e.reps.max,
    );
    if let Some(h) = e.hold_s {
        dose *= s.hold_s?;
        lo *= h.min;
        hi *= h.max;
    }
    // A tolerance for products of decimals (2.5 × 4 is 10).
    let eps = 1e-9 * hi.max(1.0);
    Some(if dose < lo - eps {
        BELOW as u8
    } else if dose > hi + eps {
        ABOVE as u8
    } else {
        IN_RANGE as u8
    })
}

/// The report pass's part for these figures (a piece of the stream, or
/// all of it after the merges).
pub(super) struct ProgrammeTally<'a> {
    cohort: &'a Cohort,
    rx: &'a Prescriptions,
    rules: SafetyRules,
    /// The regimen's moves: the safety table counts events of these only.
    moves: Vec<&'a str>,
    from: Option<NaiveDate>,
    to: Option<NaiveDate>,
    /// The store's first observed day: programme starts are not before it.
    observed_from: Option<NaiveDate>,
    /// The patient of the previous row with their prescription.
    current: Option<(usize, &'a [Exercise])>,
    /// What the patient of the latest row left (rows come grouped by
    /// patient)…
    streaming: Option<(usize, Held)>,
    /// …and other patients not yet done (split between pieces).
    open: HashMap<usize, Held>,
    /// Done days by programme week, each patient's move and week counted
    /// up to its schedule.
    done: Vec<u64>,
    /// (patient, month, sessions, events) of the patients done; a patient
    /// split between pieces may have two rows of a month.
    months: Vec<(usize, i32, u32, u32)>,
    /// (patient, latest session day up to the window's end).
    last: Vec<(usize, NaiveDate)>,
    /// Each rung key with its (ladder, rung) position.
    rungs: Vec<(&'a str, u8, u8)>,
    ladders: &'a [lumbar_model::Ladder],
    /// (patient, move, sessions below / in / above) of the patients done.
    dose: Vec<(u32, u8, [u32; 3])>,
    /// (patient, ladder, programme week, highest rung from then on) of the
    /// patients done: the weeks where their highest rung rose.
    reached: Vec<(u32, u8, u32, u8)>,
}

impl<'a> ProgrammeTally<'a> {
    pub(super) fn new(
        cohort: &'a Cohort,
        rx: &'a Prescriptions,
        regimen: &'a Regimen,
        from: Option<NaiveDate>,
        to: Option<NaiveDate>,
        observed_from: Option<NaiveDate>,
    ) -> Self {
        ProgrammeTally {
            cohort,
            rx,
            rules: regimen.safety,
            moves: regimen.exercises.iter().map(|e| e.key.as_str()).collect(),
            from,
            to,
            observed_from,
            current: None,
            streaming: None,
            open: HashMap::new(),
            done: Vec::new(),
            months: Vec::new(),
            last: Vec::new(),
            rungs: regimen
                .ladders
                .iter()
                .enumerate()
                .flat_map(|(l, ladder)| {
                    ladder
                        .rungs
                        .iter()
                        .enumerate()
                        .map(move |(r, rung)| (rung.key.as_str(), l as u8, r as u8))
                })
                .collect(),
            ladders: &regimen.ladders,
            dose: Vec::new(),
            reached: Vec::new(),
        }
    }

    pub(super) fn sessions_span(&mut self, first: NaiveDate) {
        self.observed_from = Some(self.observed_from.map_or(first, |f| f.min(first)));
    }

    /// The first day of patient `pi`'s programme.
    fn start(&self, pi: usize) -> NaiveDate {
        let enrolled = self.cohort.patients[pi].enrolled_on;
        self.observed_from.map_or(enrolled, |f| f.max(enrolled))
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

    fn held(&mut self, patient: usize) -> &mut Held {
        if self.streaming.as_ref().is_none_or(|(p, _)| *p != patient) {
            let held = self.open.remove(&patient).unwrap_or_default();
            if let Some((p, h)) = self.streaming.replace((patient, held)) {
                self.open.insert(p, h);
            }
        }
        // Just put there.
        &mut self.streaming.get_or_insert_with(Default::default).1
    }

    pub(super) fn session(&mut self, s: &Session) {
        let day = s.performed_at.date();
        if self.to.is_some_and(|t| day > t) {
            return; // after the window: neither logged nor done for it
        }
        let inside = self.from.is_none_or(|f| day >= f);
        // The move's place in the patient's prescription and among the
        // regimen's moves, each found once per row (the name compares were
        // a tenth of the report's pass).
        let (rx_at, move_at) = if inside {
            let rx = self.prescription(s.patient);
            (
                rx.iter().position(|e| *e.key == *s.exercise),
                self.moves.iter().position(|m| **m == *s.exercise),
            )
        } else {
            (None, None)
        };
        let slot = rx_at.filter(|_| {
            s.completed != Some(false) && day >= self.cohort.patients[s.patient].enrolled_on
        });
        // The dose against the patient's prescription of the move, for the
        // regimen's moves (the report's rows).
        let dose = match (move_at, rx_at) {
            (Some(mv), Some(at)) => {
                dose_class(&self.prescription(s.patient)[at], s).map(|c| (mv as u8, c))
            }
            _ => None,
        };
        let level = match (&s.level, inside) {
            (Some(l), true) => self
                .rungs
                .iter()
                .find(|(k, _, _)| **k == **l)
                .map(|&(_, ladder, rung)| (ladder, rung, day.num_days_from_ce())),
            _ => None,
        };
        let event = move_at.is_some()
            && s.pain_during
                .is_some_and(|d| self.rules.is_safety_event(d, !s.continued()));
        let held = self.held(s.patient);
        held.last = held.last.max(Some(day));
        if let Some(slot) = slot {
            held.done.push((slot, day.num_days_from_ce()));
        }
        held.dose.extend(dose);
        held.levels.extend(level);
        if inside {
            let month = day.year() * 12 + day.month0() as i32;
            match held.months.last_mut() {
                Some(m) if m.0 == month => {
                    m.1 += 1;
                    m.2 += u32::from(event);
                }
                _ => held.months.push((month, 1, u32::from(event))),
            }
        }
    }

    pub(super) fn patient_done(&mut self, patient: usize) {
        let held = match self.streaming.take_if(|(p, _)| *p == patient) {
            Some((_, h)) => h,
            None => self.open.remove(&patient).unwrap_or_default(),
        };
        self.fold(patient, held);
    }

    /// A patient's held rows into the tallies.
    fn fold(&mut self, pi: usize, mut held: Held) {
        if let Some(d) = held.last {
            self.last.push((pi, d));
        }
        for (m, n, e) in held.months {
            self.months.push((pi, m, n, e));
        }
        self.fold_dose(pi, &mut held.dose);
        self.fold_levels(pi, &mut held.levels);
        if held.done.is_empty() {
            return;
        }
        let exs = self.prescription(pi);
        let start = self.start(pi).num_days_from_ce();
        held.done.sort_unstable();
        held.done.dedup();
        // Runs of one move and programme week: distinct days, at most the
        // days the move is scheduled in a week (a done day is inside the
        // patient's schedule, so no more than the week's days in it).
        let week = |day: i32| ((day - start) / 7) as usize;
        let mut i = 0;
        while i < held.done.len() {
            let (slot, day) = held.done[i];
            let w = week(day);
            let mut j = i;
            while j < held.done.len() && held.done[j].0 == slot && week(held.done[j].1) == w {
                j += 1;
            }
            let cap = match exs.get(slot).map(|e| e.frequency) {
                Some(Frequency::DaysPerWeek(n)) => u64::from(n),
                _ => 7,
            };
            if w < MAX_WEEKS as usize {
                if self.done.len() <= w {
                    self.done.resize(w + 1, 0);
                }
                self.done[w] += ((j - i) as u64).min(cap);
            }
            i = j;
        }
    }

    /// A patient's doses into one row per move.
    fn fold_dose(&mut self, pi: usize, dose: &mut [(u8, u8)]) {
        dose.sort_unstable();
        for run in dose.chunk_by(|a, b| a.0 == b.0) {
            let mut n = [0u32; 3];
            for &(_, c) in run {
                n[c as usize] += 1;
            }
            self.dose.push((pi as u32, run[0].0, n));
        }
    }

    /// A patient's logged rungs into the programme weeks where the highest
    /// rung of each ladder rose.
    fn fold_levels(&mut self, pi: usize, levels: &mut [(u8, u8, i32)]) {
        if levels.is_empty() {
            return;
        }
        let start = self.start(pi).num_days_from_ce();
        levels.sort_unstable_by_key(|&(l, _, day)| (l, day));
        for run in levels.chunk_by(|a, b| a.0 == b.0) {
            let mut top: Option<u8> = None;
            for &(ladder, rung, day) in run {
                // Rungs logged before the programme start count from week 0.
                let week = ((day - start).max(0) / 7) as u32;
                if top.is_none_or(|t| rung > t) {
                    top = Some(rung);
                    match self.reached.last_mut() {
                        Some(r) if r.0 == pi as u32 && r.1 == ladder && r.2 == week => r.3 = rung,
                        _ => self.reached.push((pi as u32, ladder, week, rung)),
                    }
                }
            }
        }
    }

    pub(super) fn merge(&mut self, later: Self) {
        if let Some((p, h)) = self.streaming.take() {
            self.open.insert(p, h);
        }
        for (p, h) in later.open.into_iter().chain(later.streaming) {
            self.open.entry(p).or_default().join(h);
        }
        if self.done.len() < later.done.len() {
            self.done.resize(later.done.len(), 0);
        }
        for (a, b) in self.done.iter_mut().zip(later.done) {
            *a += b;
        }
        self.months.extend(later.months);
        self.last.extend(later.last);
        self.dose.extend(later.dose);
        self.reached.extend(later.reached);
        self.observed_from = match (self.observed_from, later.observed_from) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        };
    }

    /// The counts over the patients covered: `spans` holds each one's
    /// index and first and last day scheduled (adherence's), in the window.
    pub(super) fn finish(mut self, spans: &[(usize, NaiveDate, NaiveDate)]) -> ProgrammeCounts {
        let open: Vec<(usize, Held)> = self.open.drain().chain(self.streaming.take()).collect();
        for (p, h) in open {
            self.fold(p, h);
        }
        let mut covered = vec![false; self.cohort.patients.len()];
        for &(pi, _, _) in spans {
            covered[pi] = true;
        }

        // Adherence: what was scheduled, week by week, from the spans.
        let mut weeks: Vec<(usize, u64)> = Vec::new();
        let mut last_seen: Vec<Option<NaiveDate>> = vec![None; self.cohort.patients.len()];
        for &(pi, d) in &self.last {
            last_seen[pi] = last_seen[pi].max(Some(d));
        }
        let mut exits: Vec<(u32, bool)> = Vec::with_capacity(spans.len());
        for &(pi, first, last) in spans {
            let start = self.start(pi);
            let exs = self.prescription(pi);
            let days = |d: NaiveDate| (d - start).num_days();
            let (w0, w1) = (days(first) / 7, days(last) / 7);
            for w in w0.max(0)..=w1.min(MAX_WEEKS as i64 - 1) {
                let a = days(first).max(7 * w);
                let b = days(last).min(7 * w + 6);
                let inside = (b - a + 1).max(0) as u64;
                let scheduled: u64 = exs
                    .iter()
                    .map(|e| match e.frequency {
                        Frequency::Daily => inside,
                        Frequency::DaysPerWeek(n) => u64::from(n).min(inside),
                    })
                    .sum();
                let w = w as usize;
                if weeks.len() <= w {
                    weeks.resize(w + 1, (0, 0));
                }
                weeks[w].0 += 1;
                weeks[w].1 += scheduled;
            }
            // Dropout: the last session against the end of follow-up.
            let end = days(last);
            let logged = last_seen[pi]
                .map(days)
                .filter(|&d| d >= 0)
                .map(|d| d.min(end));
            let dropped = end - logged.unwrap_or(-1) >= 7;
            let week = if dropped {
                logged.unwrap_or(0) / 7
            } else {
                end / 7
            };
            let capped = week.clamp(0, MAX_WEEKS as i64 - 1) as u32;
            exits.push((capped, dropped && capped as i64 == week));
        }
        let top = exits
            .iter()
            .map(|e| e.0)
            .max()
            .map_or(0, |w| w as usize + 1);
        let mut dropout: Vec<(usize, usize)> = vec![(0, 0); top];
        for &(w, dropped) in &exits {
            let row = &mut dropout[w as usize];
            if dropped {
                row.0 += 1;
            } else {
                row.1 += 1;
            }
        }

        // Months: one row per patient and month, then the tallies.
        self.months.sort_unstable();
        let mut by_month: BTreeMap<i32, SafetyMonth> = BTreeMap::new();
        let mut i = 0;
        while i < self.months.len() {
            let (pi, m, _, _) = self.months[i];
            let (mut n, mut e) = (0u32, 0u32);
            while i < self.months.len() && self.months[i].0 == pi && self.months[i].1 == m {
                n += self.months[i].2;
                e += self.months[i].3;
                i += 1;
            }
            if !covered[pi] {
                continue;
            }
            let row = by_month.entry(m).or_insert(SafetyMonth {
                year: m.div_euclid(12),
                month: m.rem_euclid(12) as u32 + 1,
                patients: 0,
                sessions: 0,
                events: 0,
                patients_with_events: 0,
            });
            row.patients += 1;
            row.sessions += n as usize;
            row.events += e as usize;
            row.patients_with_events += usize::from(e > 0);
        }

        // Dose: one row per patient and move (a patient's rows are folded
        // once, but sum them all the same), over the patients covered.
        self.dose.sort_unstable_by_key(|r| (r.1, r.0));
        let mut dose: Vec<DoseByExercise> = self
            .moves
            .iter()
            .map(|m| DoseByExercise {
                exercise: m.to_string(),
                patients: 0,
                sessions: [0; 3],
                patients_by: [0; 3],
            })
            .collect();
        for run in self.dose.chunk_by(|a, b| (a.0, a.1) == (b.0, b.1)) {
            let (pi, mv) = (run[0].0 as usize, run[0].1 as usize);
            if !covered[pi] {
                continue;
            }
            let Some(row) = dose.get_mut(mv) else {
                continue;
            };
            let n = run.iter().fold([0u32; 3], |acc, r| {
                [acc[0] + r.2[0], acc[1] + r.2[1], acc[2] + r.2[2]]
            });
            row.patients += 1;
            for (c, &k) in n.iter().enumerate() {
                row.sessions[c] += k as usize;
                row.patients_by[c] += usize::from(k > 0);
            }
        }

        // Ladders: each covered patient in each week of their follow-up,
        // from the week they first logged the ladder, at their highest rung
        // by the week's end.
        let mut span_weeks: Vec<Option<(u32, u32)>> = vec![None; self.cohort.patients.len()];
        for &(pi, first, last) in spans {
            let start = self.start(pi);
            let w = |d: NaiveDate| ((d - start).num_days().max(0) / 7) as u32;
            span_weeks[pi] = Some((w(first), w(last).min(MAX_WEEKS - 1)));
        }
        let mut ladders: Vec<LadderProgress> = self
            .ladders
            .iter()
            .map(|l| LadderProgress {
                ladder: l.name.clone(),
                rungs: l.rungs.iter().map(|r| r.name.clone()).collect(),
                weeks: Vec::new(),
            })
            .collect();
        self.reached.sort_unstable();
        for run in self.reached.chunk_by(|a, b| (a.0, a.1) == (b.0, b.1)) {
            let (pi, l) = (run[0].0 as usize, run[0].1 as usize);
            let (Some((w0, w1)), Some(progress)) = (span_weeks[pi], ladders.get_mut(l)) else {
                continue;
            };
            let rungs = progress.rungs.len();
            for w in w0.max(run[0].2)..=w1 {
                let Some(top) = run.iter().take_while(|r| r.2 <= w).last().map(|r| r.3) else {
                    continue;
                };
                let w = w as usize;
                while progress.weeks.len() <= w {
                    progress.weeks.push(LadderWeek {
                        week: progress.weeks.len() as u32,
                        patients: 0,
                        at_rung: vec![0; rungs],
                    });
                }
                progress.weeks[w].patients += 1;
                if let Some(n) = progress.weeks[w].at_rung.get_mut(top as usize) {
                    *n += 1;
                }
            }
        }
        ProgrammeCounts {
            scheduled: weeks,
            done: std::mem::take(&mut self.done),
            exits: dropout,
            months: by_month,
            dose,
            ladders,
        }
    }
}

#[cfg(test)]
mod tests;
