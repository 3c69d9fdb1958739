//! What a clinic would have logged about a simulated patient: the canonical
//! tables (patients, sessions, walking, outcomes) written from inside the
//! day-by-day model of [`crate::engine`], so that the data lumbar makes is
//! the data its simulator runs on (`lumbar simulate --cohort-tables`).
//!
//! The engine tells a [`PatientLog`] each day's underlying pain and walking
//! and each item it simulated (rung, full dose or not, the three pain
//! reports, persistence, stopped, completed); the log adds what the engine
//! does not model, from a stream of its own keyed by (seed, run, patient),
//! so recording changes none of the engine's draws or tallies:
//!
//! * the patient row: site (`north`, `south`, `east`, `west`, 35/30/20/15%),
//!   age ~ N(55.3, 15.1) clipped to 18–90, 58.6% women, BMI ~ N(27, 4.5),
//!   enrolment on one of the 28 days from [`CohortOptions::start`] (or
//!   given dates, with nothing logged after a cut-off: a clinic's own
//!   enrolment and follow-up, as calibration simulates it); the engine's
//!   stenosis;
//! * doses: at full dose, sets, reps and hold uniform in the prescribed
//!   range; otherwise one or two below its lower end (hold 60% of it); a
//!   ladder rung has no prescribed dose, so none is logged;
//! * the session's clock time: a start between 07:00 and 20:00, 3 minutes
//!   per item; sides as the regimen says (`both` for a two-sided move, 5%
//!   of the time one side only);
//! * walking: the engine's minutes on a wear time ~ N(840, 90) clipped to
//!   600–1080, with 8% short (invalid) days of 200–599 minutes, and steps
//!   about 105 a minute;
//! * outcomes: NRS each week (underlying pain + N(0, 0.8), halves, 0–10)
//!   and ODI at weeks 0, 6, 12, … and the last (`ODI₀ · pain / pain₀ +
//!   N(0, 4)`, ODI₀ ~ N(32, 12) clipped to 4–90), the patient's
//!   `baseline_pain` and `baseline_odi` being the week-0 values.

use std::sync::Arc;

use chrono::{Datelike, Duration, NaiveDate, NaiveDateTime, NaiveTime};
use lumbar_model::records::{
    OutcomeRecord, PatientRecord, RecordSink, SessionRecord, WalkingDayRecord,
};
use lumbar_model::{DoseRange, Regimen, Sides};

use crate::draws::Draws;
use crate::scenario::Scenario;

/// How simulated patients become a clinic's tables.
#[derive(Debug, Clone)]
pub struct CohortOptions {
    /// First possible enrolment day (patients enrol over the next 4 weeks).
    pub start: NaiveDate,
    /// Log walking days (calibration, whose targets read none, does not;
    /// their draws are made either way, so nothing else changes).
    pub walking: bool,
    /// Patient i enrols on `enrolment[i mod len]` instead of a day drawn
    /// from `start`'s four weeks (calibration: the observed cohort's dates).
    pub enrolment: Option<std::sync::Arc<[NaiveDate]>>,
    /// Nothing dated after this day is logged (calibration: the observed
    /// cohort's last session day, so follow-up ends where the clinic's did).
    pub cutoff: Option<NaiveDate>,
    /// Patient ids: the prefix and the digits of the patient's number
    /// (`S000001`; `lumbar generate` writes `P00001`).
    pub ids: (&'static str, usize),
    /// A site of exactly three patients (numbers 64, 128 and 192) that
    /// reports must suppress (`lumbar generate`'s `island`).
    pub small_site: Option<&'static str>,
}

impl Default for CohortOptions {
    fn default() -> Self {
        CohortOptions {
            // ok: a fixed valid calendar date.
            start: NaiveDate::from_ymd_opt(2025, 1, 6).expect("valid date"),
            walking: true,
            enrolment: None,
            cutoff: None,
            ids: ("S", 6),
            small_site: None,
        }
    }
}

/// The SD of a measured NRS around the underlying pain (test–retest
/// variation of the NRS is about 0.8–1 point: Childs, Piva & Fritz 2005,
/// Spine 30:1331). `lumbar replay`'s likelihood assumes the same.
pub const NRS_ERROR_SD: f64 = 0.8;

/// The sites and their shares of patients (the generator's too).
pub(crate) const SITES: [(&str, f64); 4] = [
    ("north", 0.35),
    ("south", 0.30),
    ("east", 0.20),
    ("west", 0.15),
];

/// What a session row logs of one item: its exercise key, level, sides
/// and prescribed dose.
#[derive(Debug, Clone)]
struct Move {
    exercise: Arc<str>,
    level: Option<Arc<str>>,
    sides: Sides,
    sets: Option<DoseRange>,
    reps: Option<DoseRange>,
    hold_s: Option<DoseRange>,
}

/// Per item of the scenario, what each of its rungs logs as, and what its
/// substitute logs as (with and without stenosis).
#[derive(Debug, Clone)]
pub struct Layout {
    rungs: Vec<Vec<Move>>,
    substitute: Vec<[Option<Move>; 2]>,
}

impl Layout {
    pub fn new(s: &Scenario) -> Layout {
        let r = &s.regimen;
        let plain = |key: &str, level: Option<Arc<str>>| -> Move {
            match r.exercise(key) {
                Some(e) => Move {
                    exercise: key.into(),
                    level,
                    sides: e.sides,
                    sets: Some(e.sets),
                    reps: Some(e.reps),
                    hold_s: e.hold_s,
                },
                None => Move {
                    exercise: key.into(),
                    level,
                    sides: Sides::None,
                    sets: None,
                    reps: None,
                    hold_s: None,
                },
            }
        };
        let mut rungs = Vec::with_capacity(s.items.len());
        let mut substitute = Vec::with_capacity(s.items.len());
        for item in &s.items {
            match r.ladder(&item.key).filter(|_| item.is_ladder) {
                Some(l) => {
                    rungs.push(
                        l.rungs
                            .iter()
                            .map(|g| plain(&g.key, Some(g.key.as_str().into())))
                            .collect(),
                    );
                    let alt = |stenosis: bool| {
                        let pick = l
                            .alternatives
                            .iter()
                            .find(|a| a.when.as_deref() == Some("stenosis") && stenosis)
                            .or_else(|| l.alternatives.iter().find(|a| a.when.is_none()))
                            .or(l.alternatives.first());
                        pick.map(|a| plain(&a.key, Some(a.key.as_str().into())))
                    };
                    substitute.push([alt(false), alt(true)]);
                }
                None => {
                    rungs.push(vec![plain(&item.key, None)]);
                    substitute.push([None, None]);
                }
            }
        }
        Layout { rungs, substitute }
    }
}

/// One item as the engine simulated it.
#[derive(Debug, Clone, Copy)]
pub struct ItemDone {
    pub item: usize,
    pub rung: u8,
    pub substituted: bool,
    pub full: bool,
    pub before: f64,
    pub during: f64,
    pub after: f64,
    pub persist_min: f64,
    pub stopped: bool,
    pub completed: bool,
}

/// The tables of one block of patients, in patient order.
#[derive(Debug, Clone, Default)]
pub struct CohortBlock {
    pub patients: Vec<PatientRecord>,
    pub sessions: Vec<SessionRecord>,
    pub walking: Vec<WalkingDayRecord>,
    pub outcomes: Vec<OutcomeRecord>,
}

impl CohortBlock {
    /// Hands the block on, table by table.
    pub fn write_to(&self, sink: &mut dyn RecordSink) -> std::io::Result<()> {
        for p in &self.patients {
            sink.patient(p)?;
        }
        for s in &self.sessions {
            sink.session(s)?;
        }
        for w in &self.walking {
            sink.walking(w)?;
        }
        for o in &self.outcomes {
            sink.outcome(o)?;
        }
        Ok(())
    }
}

/// Records one patient at a time into a [`CohortBlock`].
pub struct PatientLog<'a> {
    layout: &'a Layout,
    regimen: &'a Regimen,
    weeks: u32,
    start: NaiveDate,
    walking: bool,
    enrolment: Option<std::sync::Arc<[NaiveDate]>>,
    cutoff: NaiveDate,
    ids: (&'static str, usize),
    small_site: Option<&'static str>,
    rng: Draws,
    pub block: CohortBlock,
    // The patient being recorded.
    id: Arc<str>,
    enrolled: NaiveDate,
    stenosis: bool,
    odi0: f64,
    pain0: f64,
    patient_row: usize,
    /// The clock of today's session, once the first item is logged.
    at: Option<NaiveDateTime>,
}

fn round1(x: f64) -> f64 {
    (x * 10.0).round() / 10.0
}

/// NRS as reported: clamped to 0–10, in halves.
fn nrs(x: f64) -> f64 {
    (x.clamp(0.0, 10.0) * 2.0).round() / 2.0
}

impl<'a> PatientLog<'a> {
    pub fn new(layout: &'a Layout, s: &'a Scenario, opts: &CohortOptions, rng: Draws) -> Self {
        PatientLog {
            layout,
            regimen: &s.regimen,
            weeks: s.weeks,
            start: opts.start,
            walking: opts.walking,
            enrolment: opts.enrolment.clone().filter(|e| !e.is_empty()),
            cutoff: opts.cutoff.unwrap_or(NaiveDate::MAX),
            ids: opts.ids,
            small_site: opts.small_site,
            rng,
            block: CohortBlock::default(),
            id: "".into(),
            enrolled: opts.start,
            stenosis: false,
            odi0: 0.0,
            pain0: 0.0,
            patient_row: 0,
            at: None,
        }
    }

    /// Starts patient `index` (its own stream `rng`), with the engine's
    /// stenosis and underlying baseline pain.
    pub fn start(&mut self, index: u64, rng: rand_chacha::ChaCha8Rng, stenosis: bool, pain0: f64) {
        self.rng.restart(rng);
        let g = &mut self.rng;
        let u = g.uniform();
        let mut acc = 0.0;
        let mut site = SITES[SITES.len() - 1].0;
        for (name, w) in SITES {
            acc += w;
            if u < acc {
                site = name;
                break;
            }
        }
        if let Some(small) = self.small_site
            && (index + 1).is_multiple_of(64)
            && index < 192
        {
            site = small;
        }
        let age = (55.3 + 15.1 * g.normal()).clamp(18.0, 90.0).round();
        let female = g.chance(0.586);
        let bmi = round1((27.0 + 4.5 * g.normal()).clamp(16.0, 55.0));
        self.enrolled = self.start + Duration::days(g.between(0, 27) as i64);
        if let Some(e) = &self.enrolment {
            // The drawn day is still drawn: the stream stays the same.
            self.enrolled = e[(index % e.len() as u64) as usize];
        }
        self.odi0 = (32.0 + 12.0 * g.normal()).clamp(4.0, 90.0);
        self.pain0 = pain0.max(0.1);
        self.stenosis = stenosis;
        let (prefix, digits) = self.ids;
        self.id = format!("{prefix}{:0digits$}", index + 1).into();
        self.patient_row = self.block.patients.len();
        self.block.patients.push(PatientRecord {
            patient_id: self.id.to_string(),
            site: site.to_string(),
            sex: if female { "female" } else { "male" },
            birth_year: Some(self.enrolled.year() - age as i32),
            age: Some(age),
            bmi: Some(bmi),
            enrolled_on: self.enrolled,
            stenosis,
            baseline_pain: None,
            baseline_odi: None,
            regimen: self.regimen.key.clone(),
        });
    }

    fn date(&self, day: u32) -> NaiveDate {
        self.enrolled + Duration::days(day as i64)
    }

    /// The day's outcomes (NRS weekly, ODI six-weekly and at the end) from
    /// the underlying pain, and, before the last day, the walking day.
    pub fn day(&mut self, day: u32, pain: f64, walking_min: Option<f64>) {
        self.at = None;
        let date = self.date(day);
        if date > self.cutoff {
            return;
        }
        if day.is_multiple_of(7) {
            let week = day / 7;
            let value = nrs(pain + NRS_ERROR_SD * self.rng.normal());
            self.outcome(date, "nrs_pain", value);
            if week == 0 {
                self.block.patients[self.patient_row].baseline_pain = Some(value);
            }
            if week.is_multiple_of(6) || week == self.weeks {
                let odi = (self.odi0 * pain / self.pain0 + 4.0 * self.rng.normal())
                    .round()
                    .clamp(0.0, 100.0);
                self.outcome(date, "odi", odi);
                if week == 0 {
                    self.block.patients[self.patient_row].baseline_odi = Some(odi);
                }
            }
        }
        let Some(minutes) = walking_min else {
            return;
        };
        let g = &mut self.rng;
        let wear = if g.chance(0.08) {
            g.between(200, 599) as f64
        } else {
            (840.0 + 90.0 * g.normal()).clamp(600.0, 1080.0).round()
        };
        let walking = round1(minutes.min(wear));
        let steps = (walking * 105.0).round() as u32 + g.between(0, 2000);
        if !self.walking {
            return;
        }
        self.block.walking.push(WalkingDayRecord {
            patient_id: self.id.clone(),
            date,
            walking_min: walking,
            steps: Some(steps),
            wear_min: Some(wear),
            mean_met: None,
            source: "accel",
        });
    }

    /// One item done on day `day`.
    pub fn item(&mut self, day: u32, done: &ItemDone) {
        let layout = self.layout;
        let m = if done.substituted {
            layout.substitute[done.item][self.stenosis as usize].as_ref()
        } else {
            let rungs = &layout.rungs[done.item];
            rungs.get(done.rung as usize).or(rungs.last())
        };
        let Some(m) = m else {
            return;
        };
        let date = self.date(day);
        if date > self.cutoff {
            return;
        }
        let g = &mut self.rng;
        let at = match self.at {
            Some(t) => t + Duration::minutes(3),
            None => {
                let minute = g.between(7 * 60, 20 * 60 - 1) as i64;
                NaiveDateTime::new(date, NaiveTime::MIN) + Duration::minutes(minute)
            }
        };
        self.at = Some(at);
        let dose = |r: Option<DoseRange>, g: &mut Draws| -> Option<f64> {
            let r = r?;
            Some(if done.full {
                g.between(r.min as u32, r.max.max(r.min) as u32) as f64
            } else {
                (r.min - g.between(1, 2) as f64).max(1.0)
            })
        };
        let sets = dose(m.sets, g);
        let mut reps = dose(m.reps, g);
        let hold_s = m.hold_s.map(|h| {
            if done.full {
                g.between(h.min as u32, h.max.max(h.min) as u32) as f64
            } else {
                (h.min * 0.6).round().max(1.0)
            }
        });
        if done.stopped {
            reps = reps.map(|r| (r / 2.0).floor().max(1.0));
        }
        let side = match m.sides {
            Sides::Each => Some(if g.chance(0.95) {
                "both"
            } else if g.chance(0.5) {
                "left"
            } else {
                "right"
            }),
            Sides::Alternating => Some("alternating"),
            Sides::None => None,
        };
        self.block.sessions.push(SessionRecord {
            patient_id: self.id.clone(),
            performed_at: at,
            exercise: m.exercise.clone(),
            level: m.level.clone(),
            side,
            sets: sets.map(|x| x as u32),
            reps: reps.map(|x| x as u32),
            hold_s,
            pain_before: Some(done.before),
            pain_during: Some(done.during),
            pain_after: Some(done.after),
            pain_persist_min: Some(done.persist_min),
            stopped_for_pain: Some(done.stopped),
            completed: Some(done.completed),
            source: "app",
        });
    }

    fn outcome(&mut self, date: NaiveDate, measure: &'static str, value: f64) {
        self.block.outcomes.push(OutcomeRecord {
            patient_id: self.id.clone(),
            date,
            measure,
            value,
        });
    }
}
