//! Every patient-day of a run, as columns a block of patients at a time,
//! for the caller's [`TrajectorySink`].

use lumbar_model::records::{ColumnTable, ColumnValues};

use super::{Programme, RunContext};

/// One patient-day of a trajectory, as columns; a block of patients at a time.
#[derive(Debug, Clone, Default)]
pub struct TrajectoryBlock {
    pub run: u32,
    pub first_patient: u64,
    pub patient: Vec<u64>,
    pub day: Vec<u32>,
    pub pain: Vec<f64>,
    pub flare: Vec<bool>,
    pub walking_min: Vec<f64>,
    pub exercised: Vec<bool>,
    pub scheduled: Vec<u32>,
    pub completed: Vec<u32>,
    pub safety_events: Vec<u32>,
    pub dropped: Vec<bool>,
    /// Ladder keys and, per ladder, the rung of each row (None once dropped).
    pub ladder_keys: Vec<String>,
    pub rungs: Vec<Vec<Option<u32>>>,
}

impl TrajectoryBlock {
    pub fn len(&self) -> usize {
        self.day.len()
    }

    pub fn is_empty(&self) -> bool {
        self.day.is_empty()
    }

    /// The block as the columns of its trajectory file: `run`, `patient`,
    /// `day`, `pain`, `flare`, `walking_min` (null on days without a
    /// value), `exercised`, `scheduled`, `completed`, `safety_events`,
    /// `dropped`, then `rung_KEY` per ladder.
    pub fn columns(&self) -> ColumnTable<'_> {
        use std::borrow::Cow::{Borrowed, Owned};
        let n = self.len();
        let walking = self.walking_min.iter().map(|w| (!w.is_nan()).then_some(*w));
        let mut cols = vec![
            (
                "run".to_string(),
                ColumnValues::U32(Owned(vec![self.run; n])),
            ),
            ("patient".into(), ColumnValues::U64(Borrowed(&self.patient))),
            ("day".into(), ColumnValues::U32(Borrowed(&self.day))),
            ("pain".into(), ColumnValues::F64(Borrowed(&self.pain))),
            ("flare".into(), ColumnValues::Bool(Borrowed(&self.flare))),
            (
                "walking_min".into(),
                ColumnValues::OptF64(Owned(walking.collect())),
            ),
            (
                "exercised".into(),
                ColumnValues::Bool(Borrowed(&self.exercised)),
            ),
            (
                "scheduled".into(),
                ColumnValues::U32(Borrowed(&self.scheduled)),
            ),
            (
                "completed".into(),
                ColumnValues::U32(Borrowed(&self.completed)),
            ),
            (
                "safety_events".into(),
                ColumnValues::U32(Borrowed(&self.safety_events)),
            ),
            (
                "dropped".into(),
                ColumnValues::Bool(Borrowed(&self.dropped)),
            ),
        ];
        for (k, r) in self.ladder_keys.iter().zip(&self.rungs) {
            cols.push((format!("rung_{k}"), ColumnValues::OptU32(Borrowed(r))));
        }
        cols
    }
}

/// Where trajectory blocks go (the CLI writes each as a Parquet file).
pub trait TrajectorySink: Sync {
    fn write(&self, block: &TrajectoryBlock) -> Result<(), String>;
}

/// What a trajectory row says about one patient-day.
pub(super) struct DayRecord {
    pub(super) pain: f64,
    pub(super) flare: bool,
    pub(super) walking: f64,
    pub(super) exercised: bool,
    pub(super) scheduled: u32,
    pub(super) completed: u32,
    pub(super) safety_events: u32,
    pub(super) dropped: bool,
}

impl TrajectoryBlock {
    pub(super) fn push(
        &mut self,
        cx: &RunContext<'_>,
        prog: &Programme<'_>,
        patient: u64,
        day: u32,
        r: DayRecord,
    ) {
        self.patient.push(patient);
        self.day.push(day);
        self.pain.push(r.pain);
        self.flare.push(r.flare);
        self.walking_min.push(r.walking);
        self.exercised.push(r.exercised);
        self.scheduled.push(r.scheduled);
        self.completed.push(r.completed);
        self.safety_events.push(r.safety_events);
        self.dropped.push(r.dropped);
        for (li, &i) in cx.ladders.iter().enumerate() {
            let st = prog.items[i];
            self.rungs[li].push(st.active.then_some(st.rung as u32));
        }
    }
}
