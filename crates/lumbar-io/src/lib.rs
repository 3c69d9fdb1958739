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
//! memory grows with the file only through the 24-byte fingerprint of each
//! distinct row kept to find exact duplicates (with its bookkeeping, about
//! 78 bytes a row at the peak: 2.1 GiB for 27.6 million session rows).
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
use rayon::prelude::*;
use serde::Serialize;

pub mod error;
pub mod fault;
pub mod formats;
pub mod frame;
mod ingest;
pub mod limits;
pub mod output;
pub mod parse;
pub mod reader;
pub mod records;
pub mod source;
pub mod store;
pub mod table;
pub mod tables_csv;
pub mod validate;

pub use error::IngestError;
pub use frame::Frame;
pub use ingest::{ingest, ingest_locked};
pub use limits::Limits;
pub use parse::Missing;
pub use reader::Format;
use store::{IndexWriter, PartIndex, PartRows};
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
    /// Buckets of patients of a store this ingest creates (a store's count
    /// is fixed when it is created; see [`store::layout`]).
    pub buckets: u32,
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
            buckets: lumbar_model::partition::DEFAULT_BUCKETS,
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
