//! Ingest: from the files patients' data arrive in to validated canonical
//! Parquet tables.
//!
//! Every row read ends in exactly one of two places: its canonical table in
//! the [`Store`], or the rejects table with the source file, line, column,
//! value and a reason a person can act on. `read = accepted + rejected` for
//! every file, and the same file ingested twice adds nothing.
//!
//! Formats: CSV (`,` `;` or tab, detected from the header; header names
//! matched case-insensitively; BOM, CRLF, quotes and gzip tolerated), NDJSON
//! and Parquet, detected by content. Rows stream through in batches, so
//! memory does not grow with the file, except for 24 bytes per distinct row
//! kept to find exact duplicates.
//!
//! This crate must not compute statistics or print: it returns reports that
//! the CLI shows.
//!
//! ```no_run
//! use lumbar_io::{ingest, Input, IngestOptions};
//! use lumbar_model::{Regimen, Table};
//! let regimen = Regimen::six_moves();
//! let inputs = [
//!     Input::new(Table::Patients, "datasets/demo/patients.csv.gz"),
//!     Input::new(Table::Sessions, "datasets/demo/sessions.csv.gz"),
//! ];
//! let report = ingest("store".as_ref(), &inputs, &regimen, &IngestOptions::default(), &mut |_| {}).unwrap();
//! for (table, c) in report.tables() {
//!     assert_eq!(c.read, c.accepted + c.rejected);
//! }
//! ```

// Only lumbar-stats (the Cox kernels) and the binary's allocator setting
// need unsafe code; everything else is checked by the compiler.
#![forbid(unsafe_code)]

use std::collections::{BTreeMap, HashMap, HashSet};
use std::path::{Path, PathBuf};

use chrono::NaiveDate;
use lumbar_model::{Kind, Regimen, Table};
use polars::prelude::{BooleanChunked, NewChunkedArray};
use rayon::prelude::*;
use serde::Serialize;

pub mod error;
pub mod fault;
pub mod formats;
pub mod frame;
pub mod limits;
pub mod output;
pub mod parse;
pub mod reader;
pub mod source;
pub mod store;
pub mod table;
pub mod tables_csv;
pub mod validate;

pub use error::IngestError;
pub use frame::Frame;
pub use limits::Limits;
pub use parse::Missing;
pub use reader::Format;
pub use store::{Store, WriterLock, sha256_file};
use table::ParquetSink;
pub use tables_csv::CsvTables;
use validate::{Cell, ExtraKind, Rejection, TableValidator, fingerprint_with};

/// One file to ingest into one table.
#[derive(Debug, Clone)]
pub struct Input {
    pub table: Table,
    pub path: PathBuf,
    /// `None`: detect from the content.
    pub format: Option<Format>,
    /// Whose a single-person export is (Apple Health); `None`: its file name.
    pub patient_id: Option<String>,
    /// A second pass over a file given for another table (FHIR pain scores
    /// of a walking file): it reads only what belongs to this table.
    pub secondary: bool,
}

impl Input {
    pub fn new(table: Table, path: impl Into<PathBuf>) -> Input {
        Input {
            table,
            path: path.into(),
            format: None,
            patient_id: None,
            secondary: false,
        }
    }
}

/// File name endings a folder's table files may have, in the order they
/// are listed: `patients.csv`, `sessions.csv.gz`, `walking.parquet`, ….
pub const TABLE_FILE_ENDINGS: [&str; 6] = ["csv", "csv.gz", "tsv", "ndjson", "jsonl", "parquet"];

/// The table files in `dir`: for each table (in [`Table::ALL`] order), each
/// existing `TABLE.ENDING` file, as an input whose format is detected from
/// its content. Other files are not inputs, so a folder may hold notes or
/// an earlier store beside the tables. Empty when there are none.
pub fn table_files_in(dir: &Path) -> Vec<Input> {
    let mut found = Vec::new();
    for table in Table::ALL {
        for ending in TABLE_FILE_ENDINGS {
            let p = dir.join(format!("{}.{ending}", table.name()));
            if p.is_file() {
                found.push(Input::new(table, p));
            }
        }
    }
    found
}

/// Settings of an ingest run.
#[derive(Debug, Clone)]
pub struct IngestOptions {
    /// Dates after this day are rejected as in the future.
    pub as_of: NaiveDate,
    /// Dates before this day are rejected as implausible (default 1900-01-01).
    pub min_date: NaiveDate,
    /// Rows per Parquet row group.
    pub batch_rows: usize,
    /// Bounds on record length, column count and expansion of compressed input.
    pub limits: Limits,
    /// The spellings of a missing value, in every column.
    pub missing: Missing,
}

/// The earliest date ingest accepts by default: no one in these tables was
/// enrolled, measured or followed up before 1900.
pub const DEFAULT_MIN_DATE: NaiveDate = match NaiveDate::from_ymd_opt(1900, 1, 1) {
    Some(d) => d,
    None => NaiveDate::MIN,
};

impl Default for IngestOptions {
    fn default() -> Self {
        IngestOptions {
            as_of: chrono::Utc::now().date_naive(),
            min_date: DEFAULT_MIN_DATE,
            batch_rows: 65_536,
            limits: Limits::default(),
            missing: Missing::default(),
        }
    }
}

/// Row counts. `accepted` includes rows that were already in the store
/// (`accepted − added` of them), which are not stored twice.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct Counts {
    pub read: u64,
    pub accepted: u64,
    pub rejected: u64,
    pub added: u64,
}

impl Counts {
    fn add(&mut self, o: &Counts) {
        self.read += o.read;
        self.accepted += o.accepted;
        self.rejected += o.rejected;
        self.added += o.added;
    }
}

/// What happened to one file.
#[derive(Debug, Clone, Serialize)]
pub struct FileReport {
    pub table: String,
    pub path: PathBuf,
    pub sha256: String,
    pub format: Format,
    #[serde(flatten)]
    pub counts: Counts,
    /// The same content was ingested before; the store is unchanged.
    pub already_ingested: bool,
    /// Columns of the file this table does not keep.
    pub ignored_columns: Vec<String>,
    /// Extra columns kept as covariates (follow-up tables).
    pub covariates: Vec<String>,
    /// Most frequent reject reasons (first 5), with counts.
    pub top_reasons: Vec<(String, u64)>,
}

/// What happened to every file of a run.
#[derive(Debug, Clone, Default, Serialize)]
pub struct IngestReport {
    pub files: Vec<FileReport>,
    /// Notes for the person running it (e.g. checks that could not be made).
    pub notes: Vec<String>,
    /// What bringing the store's manifest and parts into agreement did
    /// before this run wrote (one line each; see [`Store::reconcile`]).
    pub repairs: Vec<String>,
}

impl IngestReport {
    /// Counts summed per table, in canonical table order.
    pub fn tables(&self) -> BTreeMap<Table, Counts> {
        let mut m: BTreeMap<Table, Counts> = BTreeMap::new();
        for f in &self.files {
            if let Some(t) = Table::from_name(&f.table) {
                m.entry(t).or_default().add(&f.counts);
            }
        }
        m
    }
}

/// Patient ids known to the store and this run, for the "unknown patient" check.
struct Known {
    patients: HashSet<String>,
    participants: HashSet<String>,
}

/// Inputs that are streams (a pipe, `/dev/stdin`, a shell's `<(zcat …)`),
/// copied into `STORE/_spool/` before anything reads them: detection, the
/// content hash and the rows each read the file, which a stream gives only
/// once. A copy keeps the stream's file name (so an Apple Health export's
/// name still says whose it is), is bounded by the `max_expanded` limit,
/// and is removed with the spool when the ingest ends, however it ends.
struct Spool {
    dir: PathBuf,
    copies: Vec<(PathBuf, PathBuf)>,
}

impl Spool {
    fn streams(store: &Store, inputs: &[Input], limits: &Limits) -> Result<Spool, IngestError> {
        let dir = store.root().join("_spool");
        // A crash may have left an earlier spool: the writer lock is held,
        // so nothing else uses it.
        if dir.exists() {
            std::fs::remove_dir_all(&dir).map_err(|e| IngestError::io(&dir, e))?;
        }
        let mut spool = Spool {
            dir,
            copies: Vec::new(),
        };
        for input in inputs {
            let is_file = std::fs::metadata(&input.path).is_ok_and(|m| m.is_file());
            if is_file || spool.path_of(&input.path).is_some() {
                continue; // a regular file, or a stream already copied
            }
            let Ok(mut stream) = std::fs::File::open(&input.path) else {
                continue; // the reader says why it cannot be opened
            };
            let name = input
                .path
                .file_name()
                .map(|n| n.to_os_string())
                .unwrap_or_else(|| "stream".into());
            let copy = spool.dir.join(spool.copies.len().to_string()).join(name);
            let parent = copy.parent().unwrap_or(&spool.dir);
            std::fs::create_dir_all(parent).map_err(|e| IngestError::io(parent, e))?;
            let mut out = std::fs::File::create(&copy).map_err(|e| IngestError::io(&copy, e))?;
            let max = limits.max_expanded;
            let copied = std::io::copy(&mut std::io::Read::take(&mut stream, max + 1), &mut out)
                .map_err(|e| IngestError::io(&input.path, e))?;
            if copied > max {
                return Err(IngestError::Header {
                    path: input.path.clone(),
                    problem: format!(
                        "a stream is copied into the store before it is read, and this one is longer than the max_expanded limit ({}); give it as a file, or raise the limit",
                        limits::bytes_words(max)
                    ),
                });
            }
            spool.copies.push((input.path.clone(), copy));
        }
        Ok(spool)
    }

    fn path_of(&self, given: &Path) -> Option<&PathBuf> {
        self.copies.iter().find(|(g, _)| g == given).map(|(_, c)| c)
    }
}

impl Drop for Spool {
    fn drop(&mut self) {
        // Also after a failed copy, which is not yet in `copies`.
        if self.dir.exists() {
            let _ = std::fs::remove_dir_all(&self.dir);
        }
    }
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

/// One file's ingest as decided before any row is read.
struct FilePlan<'a> {
    input: &'a Input,
    /// Where the bytes are read (see [`ingest_file`]).
    read_path: PathBuf,
    format: Format,
    source: Box<dyn reader::RowSource>,
    /// Extra columns kept (followup covariates), with the type inferred
    /// from all their values.
    extras: Vec<(String, ExtraKind)>,
    validator: TableValidator<'a>,
    /// The accepted rows' columns: the table's, then the extras.
    columns: Vec<(String, Kind)>,
    /// Patients and followup: one row per id, checked against the store's.
    keyed: bool,
    /// Sessions, walking, outcomes: the id must name a known person.
    check_ids: bool,
}

/// Step 1: detects the format, opens the source, infers the extra
/// columns' types (a pass over the file, only when it has extra columns)
/// and decides which identity checks apply.
fn plan_file<'a>(
    run: &Run<'a>,
    input: &'a Input,
    read_path: &Path,
    known: &Known,
    notes: &mut Vec<String>,
) -> Result<FilePlan<'a>, IngestError> {
    let Run {
        store,
        regimen,
        opts,
    } = *run;
    let table = input.table;
    let format = match input.format {
        Some(f) => f,
        None => reader::detect(read_path)?,
    };
    let reading = reader::Reading {
        limits: opts.limits,
        missing: &opts.missing,
    };
    let source = reader::open_input_with(
        read_path,
        format,
        table,
        input.patient_id.as_deref(),
        !input.secondary,
        &reading,
    )?;
    let extras: Vec<(String, ExtraKind)> = if source.map().extra_names.is_empty() {
        Vec::new()
    } else {
        let mut scan = reader::open_input_with(read_path, format, table, None, true, &reading)?;
        reader::infer_extra_kinds_with(&mut *scan, &opts.missing)?
    };
    let validator = TableValidator::new(table, extras.clone(), regimen, opts.as_of)
        .with_min_date(opts.min_date)
        .with_missing(opts.missing.clone());
    store.prepare_dirs(table)?;
    let keyed = matches!(table, Table::Patients | Table::Followup);
    let check_ids = match table {
        Table::Sessions => !known.patients.is_empty(),
        Table::Walking | Table::Outcomes => {
            !known.patients.is_empty() || !known.participants.is_empty()
        }
        _ => false,
    };
    if !check_ids && !keyed {
        notes.push(format!(
            "{}: no patients are known yet, so patient_id was not checked against the patients table",
            input.path.display()
        ));
    }
    let mut columns: Vec<(String, Kind)> = table
        .columns()
        .iter()
        .map(|c| (c.name.to_string(), c.kind))
        .collect();
    for (name, kind) in &extras {
        columns.push((
            name.clone(),
            match kind {
                ExtraKind::Float => Kind::Float,
                ExtraKind::Bool => Kind::Bool,
                ExtraKind::Str => Kind::Str,
            },
        ));
    }
    Ok(FilePlan {
        input,
        read_path: read_path.to_path_buf(),
        format,
        source,
        extras,
        validator,
        columns,
        keyed,
        check_ids,
    })
}

/// What the rows of one file came to.
struct Checked {
    counts: Counts,
    /// Fingerprints and ids of the rows this file adds to the store.
    new_fps: Vec<u128>,
    new_ids: Vec<String>,
    /// Rejects per kind of reason.
    reasons: HashMap<String, u64>,
    /// The accepted and the rejected rows, in their pending files.
    sink: ParquetSink,
    rejects: ParquetSink,
}

/// Step 2: reads, validates and deduplicates every row. A reader thread
/// parses the next chunk while the pool validates this one; the
/// order-dependent decisions (duplicates) are then taken in file order on
/// this thread, and the accepted rows go to a pending part.
fn check_rows(
    run: &Run<'_>,
    plan: &mut FilePlan<'_>,
    known: &Known,
    progress: &mut dyn FnMut(u64),
) -> Result<Checked, IngestError> {
    let Run { store, opts, .. } = *run;
    let table = plan.input.table;
    let path = &plan.input.path;
    let stored = store.fingerprints(table)?; // a set keyed by FingerprintHasher
    let stored_ids: HashSet<String> = match table {
        Table::Patients => known.patients.clone(),
        Table::Followup => known.participants.clone(),
        _ => HashSet::new(),
    };
    let mut sink = ParquetSink::create(
        &store.part_path(table, "pending"),
        plan.columns.clone(),
        opts.batch_rows,
    );
    let reject_columns = ["table", "source", "line", "column", "value", "reason"]
        .iter()
        .map(|n| {
            (
                n.to_string(),
                if *n == "line" { Kind::Int } else { Kind::Str },
            )
        })
        .collect();
    let mut rejects = ParquetSink::create(
        &store.rejects_path(table, "pending"),
        reject_columns,
        opts.batch_rows,
    );
    let source_name = path.display().to_string();

    let mut counts = Counts::default();
    let mut seen: HashMap<u128, u64, store::FingerprintHasher> = HashMap::default();
    // Room for the expected rows up front: growing a map of millions of
    // entries rehashes it several times.
    let size_hint = std::fs::metadata(&plan.read_path)
        .map(|m| m.len() / 64)
        .unwrap_or(0);
    // At most 4 M entries (~130 MB): the file's size comes from input, and
    // 50 M asked for 1.7 GB up front for a 3 GB file of anything.
    seen.reserve(size_hint.min(4_000_000) as usize);
    let mut seen_ids: HashMap<String, u64> = HashMap::new();
    let mut new_fps: Vec<u128> = Vec::new();
    let mut new_ids: Vec<String> = Vec::new();
    let mut reasons: HashMap<String, u64> = HashMap::new();
    let write_err = |e: polars::error::PolarsError| IngestError::polars(path, e);
    let check = RowCheck {
        validator: &plan.validator,
        table,
        check_ids: plan.check_ids,
        keyed: plan.keyed,
        known,
        columns: &plan.columns,
    };

    let mut reject = |line: u64, r: Rejection, counts: &mut Counts, rejects: &mut ParquetSink| {
        counts.rejected += 1;
        *reasons.entry(reason_kind(&r)).or_default() += 1;
        let cells = [
            Cell::Str(table.name().into()),
            Cell::Str(source_name.as_str().into()),
            Cell::Int(line as i64),
            r.column.map(|c| Cell::Str(c.into())).unwrap_or(Cell::Null),
            r.value.map(|v| Cell::Str(v.into())).unwrap_or(Cell::Null),
            Cell::Str(r.reason.into()),
        ];
        rejects.push(&cells)
    };

    std::thread::scope(|scope| -> Result<(), IngestError> {
        let (tx, rx) =
            std::sync::mpsc::sync_channel::<Result<Box<dyn reader::RawChunk>, IngestError>>(2);
        let source = &mut plan.source;
        scope.spawn(move || {
            loop {
                match source.next_chunk(CHUNK_ROWS) {
                    Ok(Some(chunk)) => {
                        if tx.send(Ok(chunk)).is_err() {
                            return;
                        }
                    }
                    Ok(None) => return,
                    Err(e) => {
                        let _ = tx.send(Err(e));
                        return;
                    }
                }
            }
        });
        for chunk in rx {
            let chunk = chunk?;
            let parts: Vec<PartOut> = (0..chunk.len().div_ceil(PART_ROWS))
                .into_par_iter()
                .map(|k| {
                    check.part(
                        &*chunk,
                        k * PART_ROWS,
                        ((k + 1) * PART_ROWS).min(chunk.len()),
                    )
                })
                .collect::<Result<_, _>>()
                .map_err(write_err)?;
            for part in parts {
                let mut keep: Vec<bool> = Vec::with_capacity(part.frame.height());
                for row in part.rows {
                    counts.read += 1;
                    let (line, fp, id) = match row {
                        RowOut::Rejected(line, r) => {
                            reject(line, r, &mut counts, &mut rejects).map_err(write_err)?;
                            continue;
                        }
                        RowOut::Valid { line, fp, id } => (line, fp, id),
                    };
                    let decision: Result<bool, Rejection> = (|| {
                        match seen.entry(fp) {
                            std::collections::hash_map::Entry::Occupied(first) => {
                                return Err(Rejection::row(format!(
                                    "exact duplicate of line {}",
                                    first.get()
                                )));
                            }
                            std::collections::hash_map::Entry::Vacant(slot) => {
                                slot.insert(line);
                            }
                        }
                        if let Some(id) = &id {
                            if let Some(first) = seen_ids.get(id) {
                                return Err(Rejection {
                                    column: Some("patient_id".into()),
                                    value: Some(limits::excerpt(id)),
                                    reason: format!(
                                        "patient_id '{}' is already defined at line {first} with other values",
                                        limits::excerpt(id)
                                    ),
                                });
                            }
                            seen_ids.insert(id.clone(), line);
                        }
                        if stored.contains(&fp) {
                            return Ok(false); // accepted, already stored
                        }
                        if let Some(id) = &id
                            && stored_ids.contains(id)
                        {
                            return Err(Rejection {
                                column: Some("patient_id".into()),
                                value: Some(limits::excerpt(id)),
                                reason: format!(
                                    "patient_id '{}' is already in the store with other values; correct the file or start a new store",
                                    limits::excerpt(id)
                                ),
                            });
                        }
                        Ok(true)
                    })();
                    match decision {
                        Ok(add) => {
                            counts.accepted += 1;
                            keep.push(add);
                            if add {
                                counts.added += 1;
                                new_fps.push(fp);
                                if let Some(id) = id {
                                    new_ids.push(id);
                                }
                            }
                        }
                        Err(r) => {
                            keep.push(false);
                            reject(line, r, &mut counts, &mut rejects).map_err(write_err)?;
                        }
                    }
                }
                let frame = if keep.iter().all(|k| *k) {
                    part.frame
                } else {
                    let mask = BooleanChunked::from_slice("keep".into(), &keep);
                    part.frame.filter(&mask).map_err(write_err)?
                };
                sink.push_frame(frame).map_err(write_err)?;
            }
            progress(counts.read);
        }
        Ok(())
    })?;
    progress(counts.read);
    Ok(Checked {
        counts,
        new_fps,
        new_ids,
        reasons,
        sink,
        rejects,
    })
}

/// Step 3: commits the part, its fingerprints and rejects and the manifest
/// entry, unless a part of the same content is already listed; then the
/// ids it added become known to the files that follow.
fn commit_file(
    run: &Run<'_>,
    plan: FilePlan<'_>,
    checked: Checked,
    sha256: String,
    known: &mut Known,
) -> Result<FileReport, IngestError> {
    let Run {
        store,
        regimen,
        opts,
    } = *run;
    let (table, path) = (plan.input.table, &plan.input.path);
    let Checked {
        mut counts,
        new_fps,
        new_ids,
        reasons,
        sink,
        rejects,
    } = checked;
    let part = format!("part-{}", &sha256[..16]);
    // The manifest, not the folder, says what was ingested: a part left
    // unlisted by a crash was adopted or quarantined by the reconcile.
    let already_ingested = store.has_part(table, &part)?;
    if already_ingested {
        // Same content as a part already stored: leave the store as it is.
        counts.added = 0;
        drop(sink);
        drop(rejects);
    } else {
        let record = store::PartRecord {
            table: table.name().into(),
            part: part.clone(),
            source: path.display().to_string(),
            sha256: sha256.clone(),
            format: plan.format.name().into(),
            read: counts.read,
            accepted: counts.accepted,
            added: counts.added,
            rejected: counts.rejected,
            regimen: regimen.key.clone(),
            as_of: opts.as_of.to_string(),
            lumbar_version: env!("CARGO_PKG_VERSION").into(),
            checksums: None,
        };
        store.commit_part(table, record, &new_fps, rejects, sink)?;
    }
    match table {
        Table::Patients => known.patients.extend(new_ids),
        Table::Followup => known.participants.extend(new_ids),
        _ => {}
    }
    let mut top: Vec<(String, u64)> = reasons.into_iter().collect();
    top.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(&b.0)));
    top.truncate(5);
    Ok(FileReport {
        table: table.name().into(),
        path: path.clone(),
        sha256,
        format: plan.format,
        counts,
        already_ingested,
        ignored_columns: plan.source.map().ignored.clone(),
        covariates: plan.extras.into_iter().map(|e| e.0).collect(),
        top_reasons: top,
    })
}

/// Rows read per chunk (one chunk is validated while the next is read).
const CHUNK_ROWS: usize = 65_536;
/// Rows per parallel validation task.
const PART_ROWS: usize = 8_192;

/// The outcome of the order-independent checks of one row.
enum RowOut {
    Valid {
        line: u64,
        fp: u128,
        id: Option<String>,
    },
    Rejected(u64, Rejection),
}

/// The valid rows of a slice of a chunk, as a frame, and every row's outcome.
struct PartOut {
    frame: polars::prelude::DataFrame,
    rows: Vec<RowOut>,
}

/// The checks that need no knowledge of other rows: run in parallel.
struct RowCheck<'a> {
    validator: &'a TableValidator<'a>,
    table: Table,
    check_ids: bool,
    keyed: bool,
    known: &'a Known,
    columns: &'a [(String, Kind)],
}

impl RowCheck<'_> {
    fn row<'c>(
        &self,
        chunk: &'c dyn reader::RawChunk,
        i: usize,
        cells: &mut Vec<Cell<'c>>,
        scratch: &mut Vec<u8>,
    ) -> Result<(u128, Option<String>), Rejection> {
        let mut canonical = [None; 32];
        let mut extra = vec![None; self.validator.extras.len()];
        let nc = self.validator.columns.len();
        chunk.cells(i, &mut canonical[..nc], &mut extra)?;
        self.validator
            .validate_into(&canonical[..nc], &extra, cells)?;
        let id: &str = match &cells[0] {
            Cell::Str(s) => s,
            _ => "",
        };
        if self.check_ids {
            let ok = match self.table {
                Table::Sessions => self.known.patients.contains(id),
                _ => self.known.patients.contains(id) || self.known.participants.contains(id),
            };
            if !ok {
                return Err(Rejection {
                    column: Some("patient_id".into()),
                    value: Some(limits::excerpt(id)),
                    reason: if self.table == Table::Sessions {
                        format!(
                            "patient_id '{}' is not in the patients table; ingest the patient's row first",
                            limits::excerpt(id)
                        )
                    } else {
                        format!(
                            "patient_id '{}' is in neither the patients nor the followup table",
                            limits::excerpt(id)
                        )
                    },
                });
            }
        }
        let id = self.keyed.then(|| id.to_string());
        let fp = fingerprint_with(cells, scratch);
        Ok((fp, id))
    }

    fn part(
        &self,
        chunk: &dyn reader::RawChunk,
        from: usize,
        to: usize,
    ) -> polars::prelude::PolarsResult<PartOut> {
        let mut builder = table::TableBuilder::new(self.columns.to_vec(), to - from);
        let mut rows = Vec::with_capacity(to - from);
        let mut cells = Vec::with_capacity(self.columns.len());
        let mut scratch = Vec::with_capacity(256);
        for i in from..to {
            let line = chunk.line(i);
            match self.row(chunk, i, &mut cells, &mut scratch) {
                Ok((fp, id)) => {
                    builder.push(&cells);
                    rows.push(RowOut::Valid { line, fp, id });
                }
                Err(r) => rows.push(RowOut::Rejected(line, r)),
            }
        }
        Ok(PartOut {
            frame: builder.take()?,
            rows,
        })
    }
}

/// A reason with the row-specific parts (values, line numbers) removed, for
/// summarising which kinds of problems a file has.
fn reason_kind(r: &Rejection) -> String {
    let mut s = r.reason.clone();
    if let Some(v) = &r.value
        && !v.is_empty()
    {
        s = s.replace(v.as_str(), "…");
    }
    // Line numbers of duplicates differ row to row.
    let digits_removed: String = s
        .split(' ')
        .map(|w| {
            if w.chars().all(|c| c.is_ascii_digit()) && !w.is_empty() {
                "N"
            } else {
                w
            }
        })
        .collect::<Vec<_>>()
        .join(" ");
    digits_removed
}

#[cfg(test)]
mod no_panic {
    //! Property tests: no line of input makes ingest panic, and every row read
    //! is accounted for.

    use super::*;
    use proptest::prelude::*;

    const HEADER: &str = "patient_id,performed_at,exercise,level,side,sets,reps,hold_s,pain_before,pain_during,pain_after,pain_persist_min,stopped_for_pain,completed,source\n";
    const GOOD: &str = "P1,2025-02-03T08:00,bridge,,,2,12,5,3,4.5,3,0,false,true,app\n";

    fn run(file_bytes: &[u8], name: &str) -> IngestReport {
        let dir = tempfile_dir();
        let path = dir.join(name);
        std::fs::write(&path, file_bytes).unwrap();
        let opts = IngestOptions {
            as_of: NaiveDate::from_ymd_opt(2026, 1, 1).unwrap(),
            batch_rows: 7,
            ..IngestOptions::default()
        };
        let r = ingest(
            &dir.join("store"),
            &[Input::new(Table::Sessions, &path)],
            &Regimen::six_moves(),
            &opts,
            &mut |_| {},
        );
        let _ = std::fs::remove_dir_all(&dir);
        match r {
            Ok(r) => r,
            Err(e) => panic!("a bad line made the whole file fail: {e}"),
        }
    }

    fn tempfile_dir() -> PathBuf {
        use std::sync::atomic::{AtomicU64, Ordering};
        static N: AtomicU64 = AtomicU64::new(0);
        let d = std::env::temp_dir().join(format!(
            "lumbar-prop-{}-{}",
            std::process::id(),
            N.fetch_add(1, Ordering::Relaxed)
        ));
        std::fs::create_dir_all(&d).unwrap();
        d
    }

    /// Lines built from pieces that hit the parsers' edges, plus raw bytes.
    fn nasty_line() -> impl Strategy<Value = Vec<u8>> {
        let piece = prop_oneof![
            Just(b"P1".to_vec()),
            Just(b"2025-02-03T08:00".to_vec()),
            Just(b"2025-02-30".to_vec()),
            Just(b"9999-99-99T99:99:99+99:99".to_vec()),
            Just(b"bridge".to_vec()),
            Just(b"-1e308".to_vec()),
            Just(b"NaN".to_vec()),
            Just(b"\"".to_vec()),
            Just(b",".to_vec()),
            Just(b"\r".to_vec()),
            Just(b"\xff\xfe".to_vec()),
            Just("é".as_bytes().to_vec()),
            proptest::collection::vec(any::<u8>(), 0..12),
        ];
        proptest::collection::vec(piece, 0..40).prop_map(|v| v.concat())
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(48))]

        #[test]
        fn no_csv_line_makes_ingest_panic(line in nasty_line()) {
            let mut bytes = format!("{HEADER}{GOOD}").into_bytes();
            bytes.extend_from_slice(&line);
            let r = run(&bytes, "s.csv");
            let c = r.tables()[&Table::Sessions];
            prop_assert_eq!(c.read, c.accepted + c.rejected);
            prop_assert!(c.accepted >= 1, "the good row before the bad line is kept");
        }

        #[test]
        fn no_ndjson_line_makes_ingest_panic(line in nasty_line()) {
            let mut bytes = br#"{"patient_id":"P1","performed_at":"2025-02-03T08:00","exercise":"bridge","reps":12}"#.to_vec();
            bytes.push(b'\n');
            bytes.extend_from_slice(&line);
            let r = run(&bytes, "s.ndjson");
            let c = r.tables()[&Table::Sessions];
            prop_assert_eq!(c.read, c.accepted + c.rejected);
            prop_assert!(c.accepted >= 1);
        }

        #[test]
        fn the_validator_never_panics(cells in proptest::collection::vec(proptest::option::of(".{0,12}"), 15)) {
            let regimen = Regimen::six_moves();
            let v = TableValidator::new(Table::Sessions, vec![], &regimen, NaiveDate::from_ymd_opt(2026, 1, 1).unwrap());
            let refs: Vec<Option<&str>> = cells.iter().map(|c| c.as_deref()).collect();
            let _ = v.validate(&refs, &[]);
        }
    }
}
