//! Reading rows out of files: format detection, CSV (any of `,` `;` tab,
//! BOM, CRLF, quotes, gzip), NDJSON and Parquet.
//!
//! Every source hands rows to a callback as text cells already arranged in
//! canonical column order, with the row's line number (for Parquet, its
//! 1-based row number). A row that cannot even be split into cells (invalid
//! UTF-8, wrong field count, broken JSON) arrives as a [`Rejection`]; only
//! problems that stop the whole file (cannot open, no header, a required
//! column missing, an I/O error) are errors.

use std::collections::HashMap;
use std::fs::File;
use std::io::{BufRead, BufReader, Read};
use std::path::{Path, PathBuf};

use lumbar_model::{Column, Table};
use polars::prelude::*;

use crate::IngestError;
use crate::limits::{Inflated, Limits, excerpt};
use crate::parse::Missing;
use crate::validate::{ExtraKind, Rejection};

mod record;
pub(crate) use record::{Overflow, RecordReader};

/// The file formats ingest reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Format {
    Csv,
    Ndjson,
    Parquet,
    /// Apple Health `export.xml` or `export.zip` (walking).
    Apple,
    /// GGIR part 5 day summary CSV (walking).
    Ggir,
    /// FHIR R4 Observations, NDJSON or a Bundle (walking and pain).
    Fhir,
}

impl Format {
    pub fn name(self) -> &'static str {
        match self {
            Format::Csv => "csv",
            Format::Ndjson => "ndjson",
            Format::Parquet => "parquet",
            Format::Apple => "apple",
            Format::Ggir => "ggir",
            Format::Fhir => "fhir",
        }
    }

    /// Formats that aggregate or map their records rather than carrying
    /// the table's columns (and the tables each can fill).
    pub fn tables(self) -> &'static [Table] {
        match self {
            Format::Apple | Format::Ggir => &[Table::Walking],
            Format::Fhir => &[Table::Walking, Table::Outcomes],
            _ => &Table::ALL,
        }
    }
}

/// Rows per slice when reading Parquet, so memory does not grow with the file.
const PARQUET_SLICE: usize = 65_536;
/// A chunk of rows ends early once its text reaches this many bytes, so
/// long (but allowed) records do not make 65,536-row chunks of gigabytes.
const CHUNK_BYTES: usize = 16 << 20;

/// What a reader needs besides the file: the size limits and the spellings
/// of a missing value.
#[derive(Debug, Clone, Copy)]
pub struct Reading<'a> {
    pub limits: Limits,
    pub missing: &'a Missing,
}

fn open(path: &Path) -> Result<File, IngestError> {
    File::open(path).map_err(|source| IngestError::Open {
        path: path.to_path_buf(),
        source,
    })
}

/// Opens a text file, transparently gunzipping it when it starts with the
/// gzip magic bytes (inflating at most [`Limits::expanded_limit`] of the
/// file's size), and skips a UTF-8 byte-order mark.
pub(crate) fn open_text(
    path: &Path,
    limits: &Limits,
) -> Result<Box<dyn BufRead + Send>, IngestError> {
    let file = open(path)?;
    let compressed = file.metadata().map(|m| m.len()).unwrap_or(0);
    let mut file = BufReader::with_capacity(1 << 20, file);
    let magic = file.fill_buf().map_err(|e| IngestError::io(path, e))?;
    let mut reader: Box<dyn BufRead + Send> = if magic.starts_with(&[0x1f, 0x8b]) {
        Box::new(BufReader::with_capacity(
            1 << 20,
            Inflated::new(
                flate2::bufread::MultiGzDecoder::new(file),
                limits,
                compressed,
                "gzip data",
            ),
        ))
    } else {
        Box::new(file)
    };
    let head = reader.fill_buf().map_err(|e| IngestError::io(path, e))?;
    if head.starts_with(&[0xEF, 0xBB, 0xBF]) {
        reader.consume(3);
    }
    Ok(reader)
}

/// Detects the format by content (Parquet magic, a JSON object on the first
/// line), falling back to the extension, then to CSV.
pub fn detect(path: &Path) -> Result<Format, IngestError> {
    let mut magic = [0u8; 4];
    let n = open(path)?
        .read(&mut magic)
        .map_err(|e| IngestError::io(path, e))?;
    if n == 4 && &magic == b"PAR1" {
        return Ok(Format::Parquet);
    }
    if n == 4 && &magic == b"PK\x03\x04" {
        return Ok(Format::Apple); // a zip: only Apple Health exports come zipped
    }
    let mut text = open_text(path, &Limits::default())?;
    let head = text.fill_buf().map_err(|e| IngestError::io(path, e))?;
    let start = head
        .iter()
        .position(|b| !b.is_ascii_whitespace())
        .unwrap_or(head.len());
    if crate::formats::apple::sniff(&head[start..]) {
        return Ok(Format::Apple);
    }
    let head_text = String::from_utf8_lossy(&head[..head.len().min(64 << 10)]);
    if crate::formats::fhir::sniff(&head_text) {
        return Ok(Format::Fhir);
    }
    if head.get(start) == Some(&b'{') {
        return Ok(Format::Ndjson);
    }
    if crate::formats::ggir::sniff(head_text.lines().next().unwrap_or("")) {
        return Ok(Format::Ggir);
    }
    let name = path.to_string_lossy().to_ascii_lowercase();
    if name.ends_with(".ndjson") || name.ends_with(".jsonl") || name.ends_with(".json") {
        return Ok(Format::Ndjson);
    }
    Ok(Format::Csv)
}

/// Header name as lumbar matches it: trimmed, lowercase, spaces and hyphens as `_`.
pub fn normalise_name(name: &str) -> String {
    name.trim()
        .trim_start_matches('\u{feff}')
        .chars()
        .map(|c| match c {
            ' ' | '-' => '_',
            c => c.to_ascii_lowercase(),
        })
        .collect()
}

/// Where each canonical and extra column sits in the file's header.
#[derive(Debug, Clone)]
pub struct ColumnMap {
    pub canonical: Vec<Option<usize>>,
    pub extra: Vec<Option<usize>>,
    pub extra_names: Vec<String>,
    /// Columns found in the file that this table does not keep.
    pub ignored: Vec<String>,
    pub width: usize,
}

impl ColumnMap {
    /// Matches a header to a table's columns. Fatal: more than
    /// `max_columns` names, duplicated names and missing required columns.
    pub fn build(
        table: Table,
        header: &[String],
        path: &Path,
        max_columns: usize,
    ) -> Result<ColumnMap, IngestError> {
        if header.len() > max_columns {
            return Err(too_many_columns(path, header.len(), max_columns));
        }
        let names: Vec<String> = header.iter().map(|h| normalise_name(h)).collect();
        let mut seen: HashMap<&str, usize> = HashMap::new();
        for (i, n) in names.iter().enumerate() {
            if n.is_empty() {
                continue;
            }
            if let Some(j) = seen.insert(n, i) {
                return Err(IngestError::Header {
                    path: path.to_path_buf(),
                    problem: format!(
                        "column '{}' appears twice (columns {} and {}); rename or remove one",
                        excerpt(n),
                        j + 1,
                        i + 1
                    ),
                });
            }
        }
        let columns: &[Column] = table.columns();
        let mut canonical = Vec::with_capacity(columns.len());
        for c in columns {
            let at = seen.get(c.name).copied();
            if at.is_none() && c.required {
                return Err(IngestError::Header {
                    path: path.to_path_buf(),
                    problem: format!(
                        "required column '{}' of the {table} table is missing (found: {})",
                        c.name,
                        if names.is_empty() {
                            "nothing".to_string()
                        } else {
                            excerpt(&names.join(", "))
                        }
                    ),
                });
            }
            canonical.push(at);
        }
        let mut extra = Vec::new();
        let mut extra_names = Vec::new();
        let mut ignored = Vec::new();
        for (i, n) in names.iter().enumerate() {
            if columns.iter().any(|c| c.name == n) {
                continue;
            }
            if table.keeps_extra_columns() && !n.is_empty() {
                extra.push(Some(i));
                extra_names.push(n.clone());
            } else {
                ignored.push(if n.is_empty() {
                    format!("(unnamed column {})", i + 1)
                } else {
                    excerpt(n)
                });
            }
        }
        Ok(ColumnMap {
            canonical,
            extra,
            extra_names,
            ignored,
            width: names.len(),
        })
    }
}

/// The error for a header of more than `max` columns.
fn too_many_columns(path: &Path, found: usize, max: usize) -> IngestError {
    IngestError::Header {
        path: path.to_path_buf(),
        problem: format!(
            "the header has {found} columns, more than the {max} allowed (--max-columns); is this a table lumbar reads?"
        ),
    }
}

/// A batch of rows read from a file, owned, so it can be validated on
/// another thread while the next batch is read.
pub trait RawChunk: Send + Sync {
    fn len(&self) -> usize;
    fn is_empty(&self) -> bool {
        self.len() == 0
    }
    /// The line (CSV, NDJSON) or 1-based row number (Parquet) of row `i`.
    fn line(&self, i: usize) -> u64;
    /// Puts row `i`'s text cells into `canonical` and `extra` (all `None`
    /// on entry), or says why the row cannot be split into cells.
    fn cells<'a>(
        &'a self,
        i: usize,
        canonical: &mut [Option<&'a str>],
        extra: &mut [Option<&'a str>],
    ) -> Result<(), Rejection>;
}

/// Puts a cell in its canonical (`true`) or extra (`false`) slot.
fn put<'a>(
    canonical: &mut [Option<&'a str>],
    extra: &mut [Option<&'a str>],
    (is_canon, slot): (bool, usize),
    value: Option<&'a str>,
) {
    if is_canon {
        canonical[slot] = value;
    } else {
        extra[slot] = value;
    }
}

/// A source of row batches in canonical column order.
pub trait RowSource: Send {
    fn map(&self) -> &ColumnMap;
    /// The next batch of at most `max` rows; `None` at the end of the file.
    fn next_chunk(&mut self, max: usize) -> Result<Option<Box<dyn RawChunk>>, IngestError>;
}

/// Opens a source of the given format (default limits and missing values).
pub fn open_source(
    path: &Path,
    format: Format,
    table: Table,
) -> Result<Box<dyn RowSource>, IngestError> {
    open_input(path, format, table, None, true)
}

/// Opens a source; `patient` names the person of a single-person export
/// (Apple Health), `primary` says whether a multi-table format's pass also
/// rejects what belongs to no table (see [`crate::formats::fhir`]).
pub fn open_input(
    path: &Path,
    format: Format,
    table: Table,
    patient: Option<&str>,
    primary: bool,
) -> Result<Box<dyn RowSource>, IngestError> {
    let missing = Missing::default();
    let reading = Reading {
        limits: Limits::default(),
        missing: &missing,
    };
    open_input_with(path, format, table, patient, primary, &reading)
}

/// [`open_input`] with the run's limits and missing-value spellings.
pub fn open_input_with(
    path: &Path,
    format: Format,
    table: Table,
    patient: Option<&str>,
    primary: bool,
    reading: &Reading<'_>,
) -> Result<Box<dyn RowSource>, IngestError> {
    use crate::formats::{PreparedSource, apple, fhir, ggir};
    let limits = &reading.limits;
    if !format.tables().contains(&table) {
        return Err(IngestError::Header {
            path: path.to_path_buf(),
            problem: format!(
                "{} data cannot fill the {table} table; give the file with --{}",
                format.name(),
                format.tables()[0]
            ),
        });
    }
    Ok(match format {
        Format::Csv => Box::new(CsvSource::open_with(path, table, limits)?),
        Format::Ndjson => Box::new(NdjsonSource::open_with(path, table, limits)?),
        Format::Parquet => Box::new(ParquetSource::open_with(path, table, limits)?),
        // The aggregating readers run on a thread of their own and hand
        // rows on as they go, so their rejects are never all held.
        Format::Apple => {
            let id = match patient {
                Some(p) => p.to_string(),
                None => apple_patient_from_name(path)?,
            };
            let (path, limits) = (path.to_path_buf(), *limits);
            Box::new(PreparedSource::streamed(table, move |emit| {
                apple::read_into(&path, &id, &limits, emit)
            }))
        }
        Format::Ggir => Box::new(ggir::GgirSource::open(path, reading)?),
        Format::Fhir => {
            let text = open_text(path, limits)?;
            let (path, limits) = (path.to_path_buf(), *limits);
            Box::new(PreparedSource::streamed(table, move |emit| {
                fhir::read_into(text, &path, table, primary, &limits, emit)
            }))
        }
    })
}

/// An Apple Health export names no one: the file's name must (P00042.zip),
/// unless `--patient-id` is given.
fn apple_patient_from_name(path: &Path) -> Result<String, IngestError> {
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let stem = name.split('.').next().unwrap_or("").to_string();
    if stem.is_empty()
        || stem.eq_ignore_ascii_case("export")
        || stem.eq_ignore_ascii_case("export_cda")
    {
        return Err(IngestError::Header {
            path: path.to_path_buf(),
            problem: "an Apple Health export does not say whose it is: give --patient-id ID, or name the file after the patient (P00042.zip)".into(),
        });
    }
    Ok(stem)
}

/// A row's text cells (canonical, extra), or why it has none.
pub type RowCells<'a, 'b> = Result<(&'b [Option<&'a str>], &'b [Option<&'a str>]), Rejection>;

/// Calls `f` with every row of a source, in order (for small passes such as
/// type inference; ingest itself validates chunks in parallel).
pub fn for_each_row(
    source: &mut dyn RowSource,
    f: &mut dyn FnMut(u64, RowCells<'_, '_>),
) -> Result<(), IngestError> {
    let (nc, ne) = (source.map().canonical.len(), source.map().extra.len());
    while let Some(chunk) = source.next_chunk(8192)? {
        for i in 0..chunk.len() {
            let mut canonical = vec![None; nc];
            let mut extra = vec![None; ne];
            match chunk.cells(i, &mut canonical, &mut extra) {
                Ok(()) => f(chunk.line(i), Ok((&canonical, &extra))),
                Err(r) => f(chunk.line(i), Err(r)),
            }
        }
    }
    Ok(())
}

// ---- CSV --------------------------------------------------------------------

/// Picks the delimiter that splits the header line most often (outside quotes).
pub(crate) fn sniff_delimiter(header: &[u8]) -> u8 {
    let mut counts = [0usize; 3];
    let mut quoted = false;
    for &b in header {
        match b {
            b'"' => quoted = !quoted,
            b',' if !quoted => counts[0] += 1,
            b';' if !quoted => counts[1] += 1,
            b'\t' if !quoted => counts[2] += 1,
            _ => {}
        }
    }
    let delims = [b',', b';', b'\t'];
    let mut best = 0;
    for i in 1..3 {
        if counts[i] > counts[best] {
            best = i;
        }
    }
    delims[best]
}

mod csv_source;
mod ndjson_source;
mod parquet_source;
pub use csv_source::CsvSource;
pub(crate) use csv_source::too_long;
pub use ndjson_source::NdjsonSource;
pub(crate) use ndjson_source::OwnedChunk;
pub use parquet_source::ParquetSource;

/// Infers the type of each extra column from all its values: a number column
/// when every present value is a finite number, boolean when every one is a
/// boolean word, otherwise text.
pub fn infer_extra_kinds(
    source: &mut dyn RowSource,
) -> Result<Vec<(String, ExtraKind)>, IngestError> {
    infer_extra_kinds_with(source, &Missing::default())
}

/// [`infer_extra_kinds`] with the run's spellings of a missing value, which
/// never count against a type (`NA` does not make a number column text).
pub fn infer_extra_kinds_with(
    source: &mut dyn RowSource,
    missing: &Missing,
) -> Result<Vec<(String, ExtraKind)>, IngestError> {
    let names = source.map().extra_names.clone();
    let mut numeric = vec![true; names.len()];
    let mut boolean = vec![true; names.len()];
    let mut any = vec![false; names.len()];
    for_each_row(source, &mut |_, row| {
        if let Ok((_, extra)) = row {
            for (j, v) in extra.iter().enumerate() {
                let Some(t) = v.filter(|t| !missing.is_missing(t)) else {
                    continue;
                };
                any[j] = true;
                if numeric[j] && crate::parse::parse_f64(t).is_err() {
                    numeric[j] = false;
                }
                if boolean[j] && crate::parse::parse_bool(t).is_err() {
                    boolean[j] = false;
                }
            }
        }
    })?;
    Ok(names
        .into_iter()
        .enumerate()
        .map(|(j, n)| {
            let kind = if !any[j] {
                ExtraKind::Str
            } else if numeric[j] {
                ExtraKind::Float
            } else if boolean[j] {
                ExtraKind::Bool
            } else {
                ExtraKind::Str
            };
            (n, kind)
        })
        .collect())
}

#[cfg(test)]
mod tests;
