//! The ingest pipeline: the inputs ordered so each row can be checked
//! against the people it names, streams spooled, and each file taken
//! through [`steps`]' plan, check and commit.

use super::*;

mod dedup;
mod rows;
mod spool;
mod steps;
use crate::store::layout::Destination;
use dedup::{Decider, Pending, Spills};
use rows::*;
use spool::Spool;
use steps::{check_rows, commit_file, plan_file};

/// Patient ids known to the store and this run, for the "unknown patient" check.
struct Known {
    patients: HashSet<String>,
    participants: HashSet<String>,
    /// No ids (the tables whose rows define none).
    none: HashSet<String>,
}

/// Ingests the inputs into the store at `root`: patients first, then the
/// follow-up registry, then sessions, walking and outcomes, so that rows can
/// be checked against the patients they name. `progress` is called with the
/// running count of rows read. Waits for the store's writer lock when
/// another process holds it (see [`ingest_locked`] to say so, or not wait).
pub fn ingest(
    root: &Path,
    inputs: &[Input],
    regimen: &Regimen,
    opts: &IngestOptions,
    progress: &mut dyn FnMut(u64),
) -> Result<IngestReport, IngestError> {
    let lock = WriterLock::acquire(root, true, &mut |_| {})?;
    ingest_locked(&lock, inputs, regimen, opts, progress)
}

/// [`ingest`] into the store whose writer lock is held: first reconciles
/// the manifest with the parts (the report's `repairs` say what that did).
pub fn ingest_locked(
    lock: &WriterLock,
    inputs: &[Input],
    regimen: &Regimen,
    opts: &IngestOptions,
    progress: &mut dyn FnMut(u64),
) -> Result<IngestReport, IngestError> {
    let store = lock.store().clone();
    let repairs = store.reconcile(lock)?;
    let spool = Spool::streams(&store, inputs, &opts.limits)?;
    let read_path = |i: &Input| spool.path_of(&i.path).unwrap_or(&i.path).to_path_buf();
    // A FHIR file given for walking also holds pain scores: read it again
    // for the outcomes table (that pass reads only pain observations).
    // (The format detected here is kept, so the file is not sniffed twice.)
    let mut all: Vec<Input> = inputs.to_vec();
    for k in 0..inputs.len() {
        if all[k].table == Table::Walking && !all[k].secondary {
            let format = match all[k].format {
                Some(f) => f,
                None => reader::detect(&read_path(&all[k]))
                    .map_err(|e| e.shown_as(&read_path(&all[k]), &all[k].path))?,
            };
            all[k].format = Some(format);
            if format == Format::Fhir {
                let mut pain = all[k].clone();
                pain.table = Table::Outcomes;
                pain.secondary = true;
                all.push(pain);
            }
        }
    }
    let mut ordered: Vec<&Input> = all.iter().collect();
    ordered.sort_by_key(|i| i.table);
    let mut known = Known {
        patients: store.ids(Table::Patients)?,
        participants: store.ids(Table::Followup)?,
        none: HashSet::new(),
    };
    let mut report = IngestReport {
        repairs,
        ..IngestReport::default()
    };
    let run = Run {
        store: &store,
        regimen,
        opts,
    };
    let mut rows_before = 0u64;
    for input in ordered {
        let mut file_progress = |n: u64| progress(rows_before + n);
        let file = ingest_file(
            &run,
            input,
            &read_path(input),
            &mut known,
            &mut file_progress,
            &mut report.notes,
        )?;
        rows_before += file.counts.read;
        report.files.push(file);
    }
    Ok(report)
}

/// Ingests one file in three steps: [`plan_file`] (format, source,
/// columns and checks, before any row is read), [`check_rows`] (every row
/// validated, deduplicated and written to pending Parquet) and
/// [`commit_file`] (the part and its manifest entry, unless the same
/// content is already stored). `read_path` is where the bytes are (a
/// spooled copy of a stream); errors, rejects and reports name
/// `input.path`, what the user gave.
fn ingest_file(
    run: &Run<'_>,
    input: &Input,
    read_path: &Path,
    known: &mut Known,
    progress: &mut dyn FnMut(u64),
    notes: &mut Vec<String>,
) -> Result<FileReport, IngestError> {
    (|| {
        // The content hash names the part; it is computed on another thread
        // while the rows are validated, and known by the time they are
        // written. (A second read of a regular file, from the page cache and
        // in parallel: faster than hashing on the reader's thread.)
        let hashing = {
            let path = read_path.to_path_buf();
            std::thread::spawn(move || sha256_file(&path))
        };
        let mut plan = plan_file(run, input, read_path, known, notes)?;
        let checked = check_rows(run, &mut plan, known, progress)?;
        let sha256 = hashing.join().map_err(|_| IngestError::Store {
            path: read_path.to_path_buf(),
            problem: "hashing the file failed".into(),
        })??;
        commit_file(run, plan, checked, sha256, known)
    })()
    .map_err(|e| e.shown_as(read_path, &input.path))
}

/// What every file of one ingest shares.
struct Run<'a> {
    store: &'a Store,
    regimen: &'a Regimen,
    opts: &'a IngestOptions,
}
