//! The store as a [`CohortSource`]: the programme cohort ([`Cohort`], its
//! sessions streamed through a [`SessionSink`]), the walking days and the
//! follow-up table, decoded from the parts' Parquet columns. The analyses
//! read a store only through this trait, so they never see polars.

use std::collections::HashMap;
use std::path::Path;
use std::sync::Arc;

use chrono::{DateTime, NaiveDate};
use lumbar_model::Table;
use lumbar_model::cohort::{
    Cohort, CohortSource, Outcome, Patient, Session, SessionSink, WalkingDay,
};
use polars::prelude::*;

use crate::error::IngestError;
use crate::{Frame, Store};

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

fn dates(df: &DataFrame, name: &str) -> Result<Vec<Option<NaiveDate>>, LoadError> {
    let c = col(df, name)?
        .cast(&DataType::Int32)
        .map_err(|e| LoadError::Column(name.into(), e))?;
    let ca = c.i32().map_err(|e| LoadError::Column(name.into(), e))?;
    Ok(ca.iter().map(|d| d.and_then(day)).collect())
}

/// A Parquet date (days since 1970-01-01) as a calendar day.
fn day(d: i32) -> Option<NaiveDate> {
    NaiveDate::from_num_days_from_ce_opt(d + 719_163)
}

/// The session columns the analyses read (`pain_before` and `source` are
/// never needed, so they are not decoded; `level`, the ladder's rung, is
/// read for the report's progression).
const SESSION_COLUMNS: [&str; 13] = [
    "patient_id",
    "performed_at",
    "exercise",
    "level",
    "side",
    "sets",
    "reps",
    "hold_s",
    "pain_during",
    "pain_after",
    "pain_persist_min",
    "stopped_for_pain",
    "completed",
];

/// Rows read and decoded at a time: about 200 MB of session columns.
const SLICE_ROWS: usize = 1 << 21;

impl Store {
    /// [`CohortSource::stream_sessions`] reading about `slice_rows` rows at a time (a run of
    /// one patient's rows is never cut; tests use small slices).
    pub fn stream_sessions_sliced<S: SessionSink>(
        &self,
        index: &HashMap<&str, usize>,
        make: impl Fn() -> S + Sync,
        slice_rows: usize,
    ) -> Result<(S, usize), LoadError> {
        let slice_rows = slice_rows.max(1);
        // The earliest and latest session time (ms), of any patient.
        let mut span: Option<(i64, i64)> = None;
        // A bucket file none of the index's patients are in is not read (a
        // shard reads its own buckets); its recorded span still counts.
        let buckets = self.listing()?.buckets(); // the snapshot, not a copy of it
        let wanted: std::collections::HashSet<u32> = index
            .keys()
            .map(|id| lumbar_model::partition::bucket_of(id, buckets))
            .collect();
        let mut parts = Vec::new();
        for f in self.data_files(Table::Sessions)? {
            match (f.bucket, f.span_ms) {
                (Some(b), Some([lo, hi])) if !wanted.contains(&b) => {
                    span = Some(span.map_or((lo, hi), |(a, b)| (a.min(lo), b.max(hi))));
                }
                _ => parts.push(f.path),
            }
        }
        let patients = index.values().copied().max().map_or(0, |m| m + 1);
        // Runs of equal ids: (end row, patient), rows numbered across parts; a
        // part always starts a run. With the first and last run of each patient.
        let mut runs: Vec<(usize, Option<usize>)> = Vec::new();
        let (mut first_run, mut last_run) = (vec![usize::MAX; patients], vec![0; patients]);
        let mut part_start = Vec::with_capacity(parts.len() + 1);
        let mut row = 0usize;
        for part in &parts {
            part_start.push(row);
            let rows = self.part_rows(part)?;
            let mut prev: Option<String> = None;
            let mut at = 0;
            while at < rows {
                let len = slice_rows.min(rows - at);
                let df = self.read_part(part, &["patient_id", "performed_at"], Some((at, len)))?;
                let times = col(&df, "performed_at")?
                    .cast(&DataType::Int64)
                    .map_err(|e| LoadError::Column("performed_at".into(), e))?;
                let times = times
                    .i64()
                    .map_err(|e| LoadError::Column("performed_at".into(), e))?;
                if let (Some(lo), Some(hi)) = (times.min(), times.max()) {
                    span = Some(span.map_or((lo, hi), |(a, b)| (a.min(lo), b.max(hi))));
                }
                let ids = col(&df, "patient_id")?
                    .str()
                    .map_err(|e| LoadError::Column("patient_id".into(), e))?;
                for arr in ids.downcast_iter() {
                    for id in arr.iter() {
                        let same = match (&prev, runs.last()) {
                            _ if row == part_start[part_start.len() - 1] => false,
                            (Some(p), Some(_)) => id == Some(p.as_str()),
                            (None, Some(run)) => id.is_none() && run.1.is_none(),
                            (_, None) => false,
                        };
                        if same {
                            if let Some(run) = runs.last_mut() {
                                run.0 = row + 1;
                            }
                        } else {
                            let patient = id.and_then(|id| index.get(id).copied());
                            if let Some(p) = patient {
                                first_run[p] = first_run[p].min(runs.len());
                                last_run[p] = runs.len();
                            }
                            runs.push((row + 1, patient));
                            prev = id.map(str::to_string);
                        }
                        row += 1;
                    }
                }
                at += len;
            }
        }
        part_start.push(row);
        let day = |ms: i64| DateTime::from_timestamp_millis(ms).map(|t| t.date_naive());
        let span = span.and_then(|(lo, hi)| day(lo).zip(day(hi)));
        let make = || {
            let mut sink = make();
            if let Some((first, last)) = span {
                sink.sessions_span(first, last);
            }
            sink
        };

        let mut total = make();
        // Patients without a session are done before the first: a sink that
        // hands on finished patients in order is not held up by them.
        let mut without: Vec<usize> = index
            .values()
            .copied()
            .filter(|&p| first_run[p] == usize::MAX)
            .collect();
        without.sort_unstable();
        for p in without {
            total.patient_done(p);
        }
        let mut streamed = 0usize;
        let mut run = 0usize;
        for (pi, part) in parts.iter().enumerate() {
            let end_of_part = part_start[pi + 1];
            while run < runs.len() && runs[run].0 <= end_of_part {
                // A slice of whole runs of this part.
                let start = if run == 0 { 0 } else { runs[run - 1].0 };
                let mut to = run + 1;
                while to < runs.len()
                    && runs[to].0 <= end_of_part
                    && runs[to].0 - start <= slice_rows
                {
                    to += 1;
                }
                let len = runs[to - 1].0 - start;
                let df = self.read_part(
                    part,
                    &SESSION_COLUMNS[1..],
                    Some((start - part_start[pi], len)),
                )?;
                if df.height() != len {
                    return Err(LoadError::Data(format!(
                        "{}: {} rows read at row {} where the file's footer promises {len}; the part is damaged, re-ingest it",
                        part.display(),
                        df.height(),
                        start - part_start[pi] + 1,
                    )));
                }
                let (sink, n, unfinished) =
                    stream_slice(&df, start, &runs[..to], run, &first_run, &last_run, &make)?;
                total.merge(sink);
                for p in unfinished {
                    total.patient_done(p);
                }
                total.flush();
                streamed += n;
                run = to;
            }
        }
        Ok((total, streamed))
    }
}

impl CohortSource for Store {
    type Error = LoadError;
    type Followup = Frame;

    /// Streams the stored sessions of the patients in `index` (id → patient
    /// index) through sinks made by `make`, straight from the Parquet columns,
    /// and returns the merged sink with how many sessions it saw. Rows of other
    /// patients, or without a patient, a time or a move, are not part of the
    /// cohort and are skipped.
    ///
    /// First the patient ids of every part are read (a slice at a time) into
    /// runs of equal ids. Then each part is read in slices of whole runs of
    /// about 2 million rows; a slice is cut, at changes of patient, into two
    /// pieces per thread, each piece with its own sink, and the sinks are merged
    /// in row order. Memory holds one decoded slice, whatever the store's size,
    /// and the result does not depend on the number of threads.
    fn stream_sessions<S: SessionSink>(
        &self,
        index: &HashMap<&str, usize>,
        make: impl Fn() -> S + Sync,
    ) -> Result<(S, usize), LoadError> {
        self.stream_sessions_sliced(index, make, SLICE_ROWS)
    }

    /// Loads patients and outcomes, leaving the sessions in the store for
    /// [`CohortSource::stream_sessions`].
    fn cohort_without_sessions(&self) -> Result<Cohort, LoadError> {
        let p = self
            .read_table(Table::Patients)?
            .ok_or(LoadError::Missing("patients"))?;
        let ids = strs(&p, "patient_id")?;
        let sites = strs(&p, "site")?;
        let enrolled = dates(&p, "enrolled_on")?;
        // Optional columns: a store of an older schema may lack them.
        let stenosis: Vec<Option<bool>> = match p.column("stenosis") {
            Ok(c) => c
                .bool()
                .map_err(|e| LoadError::Column("stenosis".into(), e))?
                .iter()
                .collect(),
            Err(_) => vec![None; p.height()],
        };
        let floats = |name: &str| -> Result<Vec<Option<f64>>, LoadError> {
            match p.column(name) {
                Ok(c) => Ok(c
                    .cast(&DataType::Float64)
                    .map_err(|e| LoadError::Column(name.into(), e))?
                    .f64()
                    .map_err(|e| LoadError::Column(name.into(), e))?
                    .iter()
                    .collect()),
                Err(_) => Ok(vec![None; p.height()]),
            }
        };
        let (pain0, odi0) = (floats("baseline_pain")?, floats("baseline_odi")?);
        let mut patients = Vec::with_capacity(p.height());
        for i in 0..p.height() {
            if let (Some(id), Some(site), Some(e)) = (&ids[i], &sites[i], enrolled[i]) {
                patients.push(Patient {
                    id: id.clone(),
                    site: site.clone(),
                    enrolled_on: e,
                    stenosis: stenosis[i],
                    baseline_pain: pain0[i],
                    baseline_odi: odi0[i],
                });
            }
        }
        let mut cohort = Cohort {
            patients,
            ..Default::default()
        };
        if let Some(o) = self.read_table(Table::Outcomes)? {
            let index = cohort.index();
            let err = |name: &str| {
                let name = name.to_string();
                move |e| LoadError::Column(name, e)
            };
            let pid = col(&o, "patient_id")?.str().map_err(err("patient_id"))?;
            let measure = col(&o, "measure")?.str().map_err(err("measure"))?;
            let date_c = col(&o, "date")?
                .cast(&DataType::Int32)
                .map_err(err("date"))?;
            let value_c = col(&o, "value")?
                .cast(&DataType::Float64)
                .map_err(err("value"))?;
            let (date, value) = (
                date_c.i32().map_err(err("date"))?,
                value_c.f64().map_err(err("value"))?,
            );
            let mut outcomes = Vec::with_capacity(o.height());
            // Rows come grouped by patient: each run's id is looked up once.
            let mut last: Option<(&str, Option<usize>)> = None;
            let rows = pid
                .iter()
                .zip(measure.iter())
                .zip(date.iter())
                .zip(value.iter());
            for (((id, m), d), v) in rows {
                let (Some(id), Some(d), Some(m), Some(v)) = (id, d.and_then(day), m, v) else {
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
                if let Some(patient) = patient {
                    outcomes.push(Outcome {
                        patient,
                        date: d,
                        measure: m.to_string(),
                        value: v,
                    });
                }
            }
            cohort.outcomes = outcomes;
        }
        let key = |o: &Outcome| (o.patient, o.date);
        if !cohort
            .outcomes
            .is_sorted_by(|a, b| (key(a), &a.measure) <= (key(b), &b.measure))
        {
            cohort.outcomes.sort_by(|a, b| {
                (a.patient, a.date, &a.measure).cmp(&(b.patient, b.date, &b.measure))
            });
        }
        Ok(cohort)
    }

    /// The walking days of the store (rows without a patient are not part
    /// of any analysis and are left out), or `None` without a walking
    /// table. A patient's consecutive days share one id.
    fn walking_days(&self) -> Result<Option<Vec<WalkingDay>>, LoadError> {
        let Some(w) = self.read_table(Table::Walking)? else {
            return Ok(None);
        };
        let cast = |name: &str, to: &DataType| {
            col(&w, name)?
                .cast(to)
                .map_err(|e| LoadError::Column(name.into(), e))
        };
        let err = |name: &'static str| move |e| LoadError::Column(name.into(), e);
        let (pid_c, min_c, wear_c, date_c) = (
            cast("patient_id", &DataType::String)?,
            cast("walking_min", &DataType::Float64)?,
            cast("wear_min", &DataType::Float64)?,
            cast("date", &DataType::Int32)?,
        );
        let (pid, minutes, wear, days) = (
            pid_c.str().map_err(err("patient_id"))?,
            min_c.f64().map_err(err("walking_min"))?,
            wear_c.f64().map_err(err("wear_min"))?,
            date_c.i32().map_err(err("date"))?,
        );
        let mut out = Vec::with_capacity(w.height());
        let mut last: Option<Arc<str>> = None;
        // Zipped iterators: `get(i)` on a many-chunk column searches the
        // chunks on every call.
        let rows = pid
            .iter()
            .zip(minutes.iter())
            .zip(wear.iter())
            .zip(days.iter());
        for (((id, m), wear), d) in rows {
            let Some(id) = id else { continue };
            let patient_id = match &last {
                Some(p) if &**p == id => p.clone(),
                _ => {
                    let p: Arc<str> = Arc::from(id);
                    last = Some(p.clone());
                    p
                }
            };
            out.push(WalkingDay {
                patient_id,
                date: d.and_then(day),
                walking_min: m,
                wear_min: wear,
            });
        }
        Ok(Some(out))
    }

    /// The follow-up table as named columns, or `None` without one.
    fn followup(&self) -> Result<Option<Frame>, LoadError> {
        Ok(self
            .read_table(Table::Followup)?
            .map(|df| Frame::from_table(df, Path::new("followup"))))
    }
}

/// The sessions of runs `from..runs.len()`, whose rows start at `start` and
/// are the rows of `df`: sinks on pieces in parallel, merged in row order.
/// Returns the merged sink, the sessions seen, and the patients whose last
/// run is here but who were split between pieces (to be finished by the
/// caller, after the merge).
fn stream_slice<S: SessionSink>(
    df: &DataFrame,
    start: usize,
    runs: &[(usize, Option<usize>)],
    from: usize,
    first_run: &[usize],
    last_run: &[usize],
    make: &(impl Fn() -> S + Sync),
) -> Result<(S, usize, Vec<usize>), LoadError> {
    let err = |name: &str| {
        let name = name.to_string();
        move |e| LoadError::Column(name, e)
    };
    let cast = |name: &str, to: &DataType| -> Result<Column, LoadError> {
        col(df, name)?.cast(to).map_err(err(name))
    };
    let text = |name: &str| -> Result<StringChunked, LoadError> {
        Ok(col(df, name)?.str().map_err(err(name))?.clone())
    };
    let mut ex = text("exercise")?;
    let mut side = text("side")?;
    // A part whose levels are all empty may store the column untyped. Most
    // stores log no level: then the column is not walked at all (nor can it
    // make the others be copied into one chunk).
    let mut level = cast("level", &DataType::String)?
        .str()
        .map_err(err("level"))?
        .clone();
    let has_level = level.null_count() < level.len();
    let mut at = cast("performed_at", &DataType::Int64)?
        .i64()
        .map_err(err("performed_at"))?
        .clone();
    let mut nums = Vec::with_capacity(6);
    for n in &SESSION_COLUMNS[5..11] {
        nums.push(cast(n, &DataType::Float64)?.f64().map_err(err(n))?.clone());
    }
    let bools = |name: &str| -> Result<BooleanChunked, LoadError> {
        Ok(col(df, name)?.bool().map_err(err(name))?.clone())
    };
    let (mut stopped, mut completed) = (bools("stopped_for_pain")?, bools("completed")?);
    // The columns are walked chunk by chunk in lock-step, with typed access
    // (a chunked array's own iterator is a boxed one, called per cell).
    // Columns of one Parquet read share their chunks; if not, make them one.
    let lengths: Vec<usize> = ex.chunk_lengths().collect();
    let same = |c: Vec<usize>| c == lengths;
    let aligned = same(side.chunk_lengths().collect())
        && (!has_level || same(level.chunk_lengths().collect()))
        && same(at.chunk_lengths().collect())
        && nums.iter().all(|c| same(c.chunk_lengths().collect()))
        && same(stopped.chunk_lengths().collect())
        && same(completed.chunk_lengths().collect());
    if !aligned {
        ex.rechunk_mut();
        side.rechunk_mut();
        if has_level {
            level.rechunk_mut();
        }
        at.rechunk_mut();
        nums.iter_mut().for_each(|c| c.rechunk_mut());
        stopped.rechunk_mut();
        completed.rechunk_mut();
    }

    // Pieces of whole runs, about equal in rows.
    let rows = runs.last().map_or(start, |r| r.0) - start;
    let pieces = 2 * rayon::current_num_threads().max(1);
    let mut cuts = vec![from]; // run indices
    for i in from..runs.len() {
        if (runs[i].0 - start) * pieces >= rows * (cuts.len()) && i + 1 < runs.len() {
            cuts.push(i + 1);
        }
    }
    cuts.push(runs.len());
    cuts.dedup();

    let starts: Vec<usize> = std::iter::once(0)
        .chain(ex.chunk_lengths().scan(0, |acc, l| {
            *acc += l;
            Some(*acc)
        }))
        .collect();
    let a_ex: Vec<_> = ex.downcast_iter().collect();
    let a_side: Vec<_> = side.downcast_iter().collect();
    let a_level: Vec<_> = if has_level {
        level.downcast_iter().collect()
    } else {
        Vec::new()
    };
    let a_at: Vec<_> = at.downcast_iter().collect();
    let a_num: Vec<Vec<_>> = nums.iter().map(|c| c.downcast_iter().collect()).collect();
    let a_stop: Vec<_> = stopped.downcast_iter().collect();
    let a_done: Vec<_> = completed.downcast_iter().collect();
    // A primitive cell, None where the validity bitmap says null.
    macro_rules! opt {
        ($a:expr, $i:expr) => {
            $a.validity()
                .is_none_or(|v| v.get_bit($i))
                .then(|| $a.values()[$i])
        };
    }
    let piece = |from_run: usize, to_run: usize| -> (S, usize) {
        let mut sink = make();
        let mut streamed = 0usize;
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
        for run in from_run..to_run {
            let (end, Some(patient)) = runs[run] else {
                continue;
            };
            let end = end - start;
            let mut row = if run == from {
                0
            } else {
                runs[run - 1].0 - start
            };
            while row < end {
                // The chunk holding `row`, and the rows of the run in it.
                let k = starts.partition_point(|&s| s <= row) - 1;
                let (lo, hi) = (row - starts[k], end.min(starts[k + 1]) - starts[k]);
                let num: Vec<_> = a_num.iter().map(|c| c[k]).collect();
                for i in lo..hi {
                    let (Some(e), Some(t)) = (
                        a_ex[k].get(i),
                        opt!(a_at[k], i).and_then(DateTime::from_timestamp_millis),
                    ) else {
                        continue;
                    };
                    sink.session(&Session {
                        patient,
                        performed_at: t.naive_utc(),
                        exercise: intern(e),
                        level: a_level.get(k).and_then(|a| a.get(i)).map(&mut intern),
                        side: a_side[k].get(i).map(&mut intern),
                        sets: opt!(num[0], i),
                        reps: opt!(num[1], i),
                        hold_s: opt!(num[2], i),
                        pain_during: opt!(num[3], i),
                        pain_after: opt!(num[4], i),
                        pain_persist_min: opt!(num[5], i),
                        stopped_for_pain: a_stop[k].get(i),
                        completed: a_done[k].get(i),
                    });
                    streamed += 1;
                }
                row = starts[k] + hi;
            }
            if last_run[patient] == run && first_run[patient] >= from_run {
                sink.patient_done(patient);
            }
        }
        (sink, streamed)
    };
    use rayon::prelude::*;
    let done: Vec<(S, usize)> = cuts.par_windows(2).map(|w| piece(w[0], w[1])).collect();
    let mut done = done.into_iter();
    let (mut sink, mut streamed) = done.next().unwrap_or_else(|| (make(), 0));
    for (later, n) in done {
        sink.merge(later);
        streamed += n;
    }
    // Patients whose last run is here but who were not whole in one piece.
    let mut unfinished = Vec::new();
    for w in cuts.windows(2) {
        for (run, r) in runs.iter().enumerate().take(w[1]).skip(w[0]) {
            if let Some(p) = r.1
                && last_run[p] == run
                && first_run[p] < w[0]
            {
                unfinished.push(p);
            }
        }
    }
    Ok((sink, streamed, unfinished))
}
