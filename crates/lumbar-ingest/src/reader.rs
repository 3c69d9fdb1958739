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

/// Why a CSV record could not be kept whole.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Overflow {
    /// Longer than the line limit: only its line number is known; reading
    /// resumed at the next physical line.
    TooLong,
    /// More fields than kept (the header's width, or the column limit for
    /// the header itself): the count is exact, the fields are not kept.
    TooManyFields,
}

/// One record as [`RecordReader::next`] found it.
#[derive(Debug, Clone, Copy)]
pub(crate) struct RecordInfo {
    /// Physical line the record starts on.
    pub line: u64,
    /// Its fields (counted even when not kept).
    pub fields: u64,
    pub overflow: Option<Overflow>,
}

/// A CSV record reader that holds at most one bounded record: `csv_core`
/// splits the bytes, and this keeps at most `max_bytes` of a record's field
/// bytes and `max_fields` field ends. (The `csv` crate grows its record
/// buffer until the record ends: one line of a gigabyte of commas asked for
/// gigabytes.) A record longer than `max_bytes` is reported as
/// [`Overflow::TooLong`] and reading resumes after the next newline, even
/// inside quotes, so a stray quote costs one bounded record, not the rest of
/// the file. Line numbers are exact: the record's first byte's line, with
/// blank lines and quoted newlines counted.
pub(crate) struct RecordReader {
    text: Box<dyn BufRead + Send>,
    core: csv_core::Reader,
    pub max_bytes: usize,
    pub max_fields: usize,
    data: Vec<u8>,
    ends: Vec<usize>,
    /// Output of records being discarded.
    scratch: Vec<u8>,
    scratch_ends: Vec<usize>,
    /// Field bytes and field count of the last record kept.
    len: usize,
    nfields: usize,
}

impl RecordReader {
    /// Reads `text` split at `delimiter` ('\n' ends a record; a CR before it
    /// stays in the last field, which validation trims); `first_line` is the
    /// line number of the stream's first byte.
    pub fn new(
        text: Box<dyn BufRead + Send>,
        delimiter: u8,
        max_bytes: usize,
        max_fields: usize,
        first_line: u64,
    ) -> RecordReader {
        let mut core = csv_core::ReaderBuilder::new()
            .delimiter(delimiter)
            .terminator(csv_core::Terminator::Any(b'\n'))
            .build();
        core.set_line(first_line);
        RecordReader {
            text,
            core,
            max_bytes: max_bytes.max(1),
            max_fields: max_fields.max(1),
            data: Vec::new(),
            ends: Vec::new(),
            scratch: vec![0; 64 << 10],
            scratch_ends: vec![0; 1024],
            len: 0,
            nfields: 0,
        }
    }

    /// The line the reader is at (for errors).
    pub fn line(&self) -> u64 {
        self.core.line()
    }

    /// The kept fields of the last record (none when it overflowed).
    pub fn fields(&self) -> impl Iterator<Item = &[u8]> {
        let mut from = 0;
        self.ends[..self.nfields].iter().map(move |&to| {
            let f = &self.data[from..to];
            from = to;
            f
        })
    }

    /// All kept field bytes of the last record, and the end of each field.
    fn parts(&self) -> (&[u8], &[usize]) {
        (&self.data[..self.len], &self.ends[..self.nfields])
    }

    /// The next record, or `None` at the end of the input.
    pub fn next(&mut self) -> std::io::Result<Option<RecordInfo>> {
        use csv_core::ReadRecordResult::*;
        let (mut outlen, mut endlen) = (0usize, 0usize);
        let mut fields = 0u64;
        // Bytes of this record so far (its newline included).
        let mut bytes = 0usize;
        let mut start: Option<u64> = None;
        let mut overflow: Option<Overflow> = None;
        self.len = 0;
        self.nfields = 0;
        loop {
            if overflow == Some(Overflow::TooLong) {
                // Skip to the end of the physical line, then start afresh.
                let line = self.core.line();
                let input = self.text.fill_buf()?;
                if input.is_empty() {
                    // The record ends with the file: nothing is left of it.
                    self.core.reset();
                    self.core.set_line(line);
                    break;
                }
                match input.iter().position(|&b| b == b'\n') {
                    Some(i) => {
                        self.text.consume(i + 1);
                        self.core.reset();
                        self.core.set_line(line + 1);
                        break;
                    }
                    None => {
                        let n = input.len();
                        self.text.consume(n);
                        continue;
                    }
                }
            }
            let keeping = overflow.is_none();
            if keeping && outlen == self.data.len() {
                // One byte more than the limit: a full buffer means "over".
                if self.data.len() > self.max_bytes {
                    overflow = Some(Overflow::TooLong);
                    continue;
                }
                let n = (self.data.len() * 2).max(4096).min(self.max_bytes + 1);
                self.data.resize(n, 0);
            }
            if keeping && endlen == self.ends.len() {
                if self.ends.len() > self.max_fields {
                    overflow = Some(Overflow::TooManyFields);
                } else {
                    let n = (self.ends.len() * 2).max(16).min(self.max_fields + 1);
                    self.ends.resize(n, 0);
                }
            }
            let keeping = overflow.is_none();
            let line_before = self.core.line();
            let input = self.text.fill_buf()?;
            let mut skipped = 0;
            if start.is_none() {
                // The DFA skips newlines before a record: the record starts
                // at the first other byte.
                skipped = input.iter().take_while(|&&b| b == b'\n').count();
                if skipped < input.len() {
                    start = Some(line_before + skipped as u64);
                }
            }
            let (res, nin, nout, nend) = if keeping {
                self.core
                    .read_record(input, &mut self.data[outlen..], &mut self.ends[endlen..])
            } else {
                self.core
                    .read_record(input, &mut self.scratch, &mut self.scratch_ends)
            };
            self.text.consume(nin);
            if start.is_some() {
                bytes += nin.saturating_sub(skipped);
            }
            fields += nend as u64;
            if keeping {
                outlen += nout;
                endlen += nend;
            }
            match res {
                End => return Ok(None),
                Record => {
                    if bytes > self.max_bytes + 1 {
                        overflow = Some(Overflow::TooLong);
                    }
                    break;
                }
                InputEmpty | OutputFull | OutputEndsFull => {
                    // The newline is not part of the record's length.
                    if bytes > self.max_bytes + 1 {
                        overflow = Some(Overflow::TooLong);
                    }
                }
            }
        }
        if overflow.is_none() {
            self.len = outlen;
            self.nfields = endlen;
        }
        Ok(Some(RecordInfo {
            line: start.unwrap_or_else(|| self.core.line()),
            fields,
            overflow,
        }))
    }
}

/// Looks at the first line (the buffered part of it) without consuming it:
/// the delimiter, and how many blank lines come before the header.
fn peek_header_line(text: &mut dyn BufRead, path: &Path) -> Result<u8, IngestError> {
    let head = text.fill_buf().map_err(|e| IngestError::io(path, e))?;
    let mut rest = head;
    loop {
        let end = rest.iter().position(|&b| b == b'\n').unwrap_or(rest.len());
        let line = &rest[..end];
        if !line.iter().all(u8::is_ascii_whitespace) || end == rest.len() {
            return Ok(sniff_delimiter(line));
        }
        rest = &rest[end + 1..];
    }
}

pub struct CsvSource {
    path: PathBuf,
    reader: RecordReader,
    map: ColumnMap,
    layout: std::sync::Arc<CsvLayout>,
    max_line: usize,
}

/// Where each field of a CSV record goes.
struct CsvLayout {
    /// Map from file column to canonical (true, idx) or extra (false, idx) slot.
    slots: Vec<Option<(bool, usize)>>,
    /// Normalised header names, by file column.
    names: Vec<String>,
}

/// Records of a chunk stored flat (all field bytes in one buffer), so a
/// chunk costs a handful of allocations rather than two per row.
struct CsvChunk {
    data: Vec<u8>,
    /// End offset in `data` of every field, row after row.
    ends: Vec<usize>,
    /// Per row: offset of its first byte in `data`, index of its first field in `ends`, field count.
    rows: Vec<(usize, usize, usize)>,
    lines: Vec<u64>,
    /// Rows rejected while reading (too long, too many fields), by row index.
    problems: Vec<(usize, Rejection)>,
    layout: std::sync::Arc<CsvLayout>,
}

impl CsvChunk {
    fn new(capacity: usize, layout: std::sync::Arc<CsvLayout>) -> CsvChunk {
        let width = layout.slots.len();
        // Room for typical rows; a wide header must not reserve width ×
        // rows up front (20,000 columns asked for 21 GB for one row).
        CsvChunk {
            data: Vec::with_capacity((capacity * 16 * width.max(1)).min(CHUNK_BYTES / 4)),
            ends: Vec::with_capacity((capacity * width).min(1 << 20)),
            rows: Vec::with_capacity(capacity),
            lines: Vec::with_capacity(capacity),
            problems: Vec::new(),
            layout,
        }
    }

    fn push(&mut self, data: &[u8], ends: &[usize], line: u64) {
        let base = self.data.len();
        self.rows.push((base, self.ends.len(), ends.len()));
        self.data.extend_from_slice(data);
        self.ends.extend(ends.iter().map(|e| base + e));
        self.lines.push(line);
    }

    fn push_rejected(&mut self, r: Rejection, line: u64) {
        self.problems.push((self.rows.len(), r));
        self.rows.push((self.data.len(), self.ends.len(), 0));
        self.lines.push(line);
    }

    fn fields(&self, i: usize) -> impl Iterator<Item = &[u8]> {
        let (start, first, n) = self.rows[i];
        let ends = &self.ends[first..first + n];
        let mut from = start;
        ends.iter().map(move |&to| {
            let f = &self.data[from..to];
            from = to;
            f
        })
    }
}

impl RawChunk for CsvChunk {
    fn len(&self) -> usize {
        self.rows.len()
    }
    fn line(&self, i: usize) -> u64 {
        self.lines[i]
    }
    fn cells<'a>(
        &'a self,
        i: usize,
        canonical: &mut [Option<&'a str>],
        extra: &mut [Option<&'a str>],
    ) -> Result<(), Rejection> {
        if let Ok(k) = self.problems.binary_search_by_key(&i, |p| p.0) {
            return Err(self.problems[k].1.clone());
        }
        let n = self.rows[i].2;
        let width = self.layout.slots.len();
        if n != width {
            return Err(field_count(width, n as u64));
        }
        for (j, field) in self.fields(i).enumerate() {
            let Some((is_canon, slot)) = self.layout.slots[j] else {
                continue;
            };
            match std::str::from_utf8(field) {
                Ok(s) => put(canonical, extra, (is_canon, slot), Some(s)),
                Err(e) => {
                    let name = &self.layout.names[j];
                    return Err(Rejection {
                        column: Some(excerpt(name)),
                        value: Some(crate::limits::excerpt_bytes(field)),
                        reason: format!(
                            "{} is not valid UTF-8 (bad byte at offset {} of the value); save the file as UTF-8",
                            excerpt(name),
                            e.valid_up_to()
                        ),
                    });
                }
            }
        }
        Ok(())
    }
}

/// The reject of a row whose field count differs from the header's.
fn field_count(width: usize, n: u64) -> Rejection {
    Rejection::row(format!(
        "expected {width} fields as in the header, found {n} (a truncated line, a wrong delimiter or an unquoted delimiter inside a value)"
    ))
}

/// The reject of a record over the line limit.
pub(crate) fn too_long(max_line: usize) -> Rejection {
    Rejection::row(format!(
        "line longer than {} (the --max-line limit); the rest of the line was skipped",
        crate::limits::bytes_words(max_line as u64)
    ))
}

impl CsvSource {
    pub fn open(path: &Path, table: Table) -> Result<CsvSource, IngestError> {
        CsvSource::open_with(path, table, &Limits::default())
    }

    pub fn open_with(path: &Path, table: Table, limits: &Limits) -> Result<CsvSource, IngestError> {
        let mut text = open_text(path, limits)?;
        let delimiter = peek_header_line(&mut *text, path)?;
        let mut reader = RecordReader::new(text, delimiter, limits.max_line, limits.max_columns, 1);
        let read_err = |line: u64, e: std::io::Error| IngestError::Read {
            path: path.to_path_buf(),
            line,
            problem: e.to_string(),
        };
        // The header is the first record that is not a blank line.
        let header = loop {
            let Some(info) = reader.next().map_err(|e| read_err(1, e))? else {
                return Err(IngestError::Header {
                    path: path.to_path_buf(),
                    problem: "the file is empty: no header line".into(),
                });
            };
            match info.overflow {
                Some(Overflow::TooLong) => {
                    return Err(IngestError::Header {
                        path: path.to_path_buf(),
                        problem: format!(
                            "the header line (line {}) is longer than {} (--max-line): not a table, or no line breaks",
                            info.line,
                            limits.line_words()
                        ),
                    });
                }
                Some(Overflow::TooManyFields) => {
                    return Err(too_many_columns(
                        path,
                        usize::try_from(info.fields).unwrap_or(usize::MAX),
                        limits.max_columns,
                    ));
                }
                None => {}
            }
            let blank = info.fields == 1
                && reader
                    .fields()
                    .next()
                    .is_some_and(|b| b.iter().all(u8::is_ascii_whitespace));
            if !blank {
                break info;
            }
        };
        let mut names = Vec::with_capacity(header.fields as usize);
        for (i, h) in reader.fields().enumerate() {
            match std::str::from_utf8(h) {
                Ok(s) => names.push(s.to_string()),
                Err(_) => {
                    return Err(IngestError::Header {
                        path: path.to_path_buf(),
                        problem: format!(
                            "header column {} ('{}') is not valid UTF-8",
                            i + 1,
                            crate::limits::excerpt_bytes(h)
                        ),
                    });
                }
            }
        }
        let map = ColumnMap::build(table, &names, path, limits.max_columns)?;
        let mut slots = vec![None; map.width];
        for (ci, at) in map.canonical.iter().enumerate() {
            if let Some(i) = at {
                slots[*i] = Some((true, ci));
            }
        }
        for (ei, at) in map.extra.iter().enumerate() {
            if let Some(i) = at {
                slots[*i] = Some((false, ei));
            }
        }
        // Rows may not be wider than the header: a wider one is rejected,
        // its fields counted but not kept.
        reader.max_fields = map.width;
        Ok(CsvSource {
            path: path.to_path_buf(),
            reader,
            map,
            layout: std::sync::Arc::new(CsvLayout {
                slots,
                names: names.iter().map(|n| normalise_name(n)).collect(),
            }),
            max_line: limits.max_line,
        })
    }
}

impl RowSource for CsvSource {
    fn map(&self) -> &ColumnMap {
        &self.map
    }

    fn next_chunk(&mut self, max: usize) -> Result<Option<Box<dyn RawChunk>>, IngestError> {
        let mut chunk = CsvChunk::new(max, self.layout.clone());
        while chunk.rows.len() < max && chunk.data.len() < CHUNK_BYTES {
            let info = match self.reader.next() {
                Ok(Some(info)) => info,
                Ok(None) => break,
                Err(e) => {
                    return Err(IngestError::Read {
                        path: self.path.clone(),
                        line: self.reader.core.line(),
                        problem: e.to_string(),
                    });
                }
            };
            match info.overflow {
                Some(Overflow::TooLong) => {
                    chunk.push_rejected(too_long(self.max_line), info.line);
                    continue;
                }
                Some(Overflow::TooManyFields) => {
                    chunk.push_rejected(field_count(self.map.width, info.fields), info.line);
                    continue;
                }
                None => {}
            }
            // A line of only spaces (or a lone CR) is a blank line, not a row.
            if info.fields == 1
                && self
                    .reader
                    .fields()
                    .next()
                    .is_some_and(|b| b.iter().all(u8::is_ascii_whitespace))
            {
                continue;
            }
            let (data, ends) = self.reader.parts();
            chunk.push(data, ends, info.line);
        }
        if chunk.rows.is_empty() {
            return Ok(None);
        }
        Ok(Some(Box::new(chunk)))
    }
}

// ---- NDJSON -----------------------------------------------------------------

pub struct NdjsonSource {
    path: PathBuf,
    table: Table,
    map: ColumnMap,
    slot_of: HashMap<String, (bool, usize)>,
    text: Option<Box<dyn BufRead + Send>>,
    line: u64,
    limits: Limits,
}

impl NdjsonSource {
    pub fn open(path: &Path, table: Table) -> Result<NdjsonSource, IngestError> {
        NdjsonSource::open_with(path, table, &Limits::default())
    }

    pub fn open_with(
        path: &Path,
        table: Table,
        limits: &Limits,
    ) -> Result<NdjsonSource, IngestError> {
        // The "header" of NDJSON is the set of keys: canonical ones always, and
        // for tables with covariates every key seen in the file (one pre-scan).
        let mut header: Vec<String> = table.columns().iter().map(|c| c.name.to_string()).collect();
        if table.keeps_extra_columns() {
            let mut seen: std::collections::HashSet<String> = header.iter().cloned().collect();
            let mut text = open_text(path, limits)?;
            let mut buf = Vec::new();
            let mut line = 0u64;
            loop {
                buf.clear();
                let n = read_line_capped(&mut *text, &mut buf, limits.max_line).map_err(|e| {
                    IngestError::Read {
                        path: path.to_path_buf(),
                        line: line + 1,
                        problem: e.to_string(),
                    }
                })?;
                if n == 0 {
                    break;
                }
                line += 1;
                if buf.len() > limits.max_line {
                    continue; // rejected when the rows are read
                }
                if let Ok(serde_json::Value::Object(m)) = serde_json::from_slice(&buf) {
                    for k in m.keys() {
                        let k = normalise_name(k);
                        if seen.insert(k.clone()) {
                            header.push(k);
                            if header.len() > limits.max_columns {
                                return Err(IngestError::Header {
                                    path: path.to_path_buf(),
                                    problem: format!(
                                        "the objects name more than {} different keys (by line {line}), the --max-columns limit",
                                        limits.max_columns
                                    ),
                                });
                            }
                        }
                    }
                }
            }
        }
        let mut map = ColumnMap::build(table, &header, path, limits.max_columns)?;
        map.ignored.clear();
        let mut slot_of = HashMap::new();
        for (ci, c) in table.columns().iter().enumerate() {
            slot_of.insert(c.name.to_string(), (true, ci));
        }
        for (ei, n) in map.extra_names.iter().enumerate() {
            slot_of.insert(n.clone(), (false, ei));
        }
        Ok(NdjsonSource {
            path: path.to_path_buf(),
            table,
            map,
            slot_of,
            text: None,
            line: 0,
            limits: *limits,
        })
    }
}

/// Reads one line into `buf` without its newline; a line longer than `max`
/// bytes is consumed but only its first `max + 1` bytes kept (so the caller
/// sees `buf.len() > max`). Returns the bytes consumed (0 at the end).
pub(crate) fn read_line_capped(
    r: &mut dyn BufRead,
    buf: &mut Vec<u8>,
    max: usize,
) -> std::io::Result<usize> {
    let mut total = 0;
    loop {
        let chunk = r.fill_buf()?;
        if chunk.is_empty() {
            return Ok(total);
        }
        let (take, done) = match chunk.iter().position(|&b| b == b'\n') {
            Some(i) => (i + 1, true),
            None => (chunk.len(), false),
        };
        let content = if done { take - 1 } else { take };
        let room = (max + 1).saturating_sub(buf.len());
        buf.extend_from_slice(&chunk[..content.min(room)]);
        r.consume(take);
        total += take;
        if done {
            return Ok(total);
        }
    }
}

/// A row as owned cells: (canonical?, slot, text) for each present value.
pub(crate) type OwnedRow = Result<Vec<(bool, usize, String)>, Rejection>;

/// Rows whose text is owned rather than borrowed from a read buffer: NDJSON
/// values, and the rows the walking-format readers make.
pub(crate) struct OwnedChunk {
    pub(crate) rows: Vec<OwnedRow>,
    pub(crate) lines: Vec<u64>,
}

impl RawChunk for OwnedChunk {
    fn len(&self) -> usize {
        self.rows.len()
    }
    fn line(&self, i: usize) -> u64 {
        self.lines[i]
    }
    fn cells<'a>(
        &'a self,
        i: usize,
        canonical: &mut [Option<&'a str>],
        extra: &mut [Option<&'a str>],
    ) -> Result<(), Rejection> {
        let row = self.rows[i].as_ref().map_err(Clone::clone)?;
        for (is_canon, slot, t) in row {
            put(canonical, extra, (*is_canon, *slot), Some(t));
        }
        Ok(())
    }
}

impl NdjsonSource {
    /// Splits one line into (slot, text) pairs, or says why it cannot be.
    fn parse_line(&self, buf: &[u8]) -> OwnedRow {
        if buf.len() > self.limits.max_line {
            return Err(too_long(self.limits.max_line));
        }
        let value: serde_json::Value = match serde_json::from_slice(buf) {
            Ok(v) => v,
            Err(e) => {
                return Err(Rejection::row(if std::str::from_utf8(buf).is_err() {
                    "line is not valid UTF-8; save the file as UTF-8".to_string()
                } else {
                    format!("invalid JSON at column {}: {e}", e.column())
                }));
            }
        };
        let serde_json::Value::Object(obj) = value else {
            return Err(Rejection::row(format!(
                "line is JSON but not an object (one {} row per line expected)",
                self.table
            )));
        };
        let mut texts = Vec::with_capacity(obj.len());
        for (k, v) in obj {
            let key = normalise_name(&k);
            let Some(&(is_canon, slot)) = self.slot_of.get(&key) else {
                continue;
            };
            let t = match v {
                serde_json::Value::Null => continue,
                serde_json::Value::String(s) => s,
                serde_json::Value::Number(n) => n.to_string(),
                serde_json::Value::Bool(b) => b.to_string(),
                other => {
                    return Err(Rejection {
                        column: Some(key.clone()),
                        value: Some(excerpt(&other.to_string())),
                        reason: format!(
                            "'{}' holds a nested JSON value; a plain string, number or boolean is expected",
                            excerpt(&key)
                        ),
                    });
                }
            };
            texts.push((is_canon, slot, t));
        }
        Ok(texts)
    }
}

impl RowSource for NdjsonSource {
    fn map(&self) -> &ColumnMap {
        &self.map
    }

    fn next_chunk(&mut self, max: usize) -> Result<Option<Box<dyn RawChunk>>, IngestError> {
        if self.text.is_none() {
            self.text = Some(open_text(&self.path, &self.limits)?);
        }
        let mut rows = Vec::new();
        let mut lines = Vec::new();
        let mut buf = Vec::new();
        let mut bytes = 0usize;
        while rows.len() < max && bytes < CHUNK_BYTES {
            buf.clear();
            let Some(text) = self.text.as_mut() else {
                break;
            };
            let max_line = self.limits.max_line;
            let n = read_line_capped(&mut **text, &mut buf, max_line).map_err(|e| {
                IngestError::Read {
                    path: self.path.clone(),
                    line: self.line + 1,
                    problem: e.to_string(),
                }
            })?;
            if n == 0 {
                break;
            }
            self.line += 1;
            if buf.iter().all(u8::is_ascii_whitespace) {
                continue;
            }
            bytes += buf.len();
            rows.push(self.parse_line(&buf));
            lines.push(self.line);
        }
        if rows.is_empty() {
            return Ok(None);
        }
        Ok(Some(Box::new(OwnedChunk { rows, lines })))
    }
}

// ---- Parquet ----------------------------------------------------------------

pub struct ParquetSource {
    path: PathBuf,
    map: ColumnMap,
    file_names: Vec<String>,
    rows: usize,
    offset: usize,
    max_line: usize,
}

impl ParquetSource {
    pub fn open(path: &Path, table: Table) -> Result<ParquetSource, IngestError> {
        ParquetSource::open_with(path, table, &Limits::default())
    }

    pub fn open_with(
        path: &Path,
        table: Table,
        limits: &Limits,
    ) -> Result<ParquetSource, IngestError> {
        let file = open(path)?;
        let compressed = file.metadata().map(|m| m.len()).unwrap_or(0);
        let mut reader = ParquetReader::new(file);
        let bad = |e: PolarsError| IngestError::Header {
            path: path.to_path_buf(),
            problem: format!("not a readable Parquet file: {}", excerpt(&e.to_string())),
        };
        // The footer says how large the data is once decompressed: a file
        // that claims more than the expansion limit is refused before any
        // of it is decoded.
        let expanded: u64 = reader
            .get_metadata()
            .map_err(bad)?
            .row_groups
            .iter()
            .map(|g| g.total_byte_size() as u64)
            .sum();
        let allowed = limits.expanded_limit(compressed);
        if expanded > allowed {
            return Err(IngestError::Header {
                path: path.to_path_buf(),
                problem: format!(
                    "its data expand to {} ({} on disk), over the {} limit (--max-expanded, --max-ratio)",
                    crate::limits::bytes_words(expanded),
                    crate::limits::bytes_words(compressed),
                    crate::limits::bytes_words(allowed)
                ),
            });
        }
        let schema = reader.schema().map_err(bad)?;
        let rows = reader.num_rows().map_err(bad)?;
        if schema.len() > limits.max_columns {
            return Err(too_many_columns(path, schema.len(), limits.max_columns));
        }
        let file_names: Vec<String> = schema.iter_names().map(|n| n.to_string()).collect();
        let map = ColumnMap::build(table, &file_names, path, limits.max_columns)?;
        Ok(ParquetSource {
            path: path.to_path_buf(),
            map,
            file_names,
            rows,
            offset: 0,
            max_line: limits.max_line,
        })
    }
}

struct ParquetChunk {
    columns: Vec<StringChunked>,
    /// (canonical?, slot) of each column.
    slots: Vec<(bool, usize)>,
    offset: u64,
    rows: usize,
    /// Longest value kept (as for a CSV record).
    max_line: usize,
}

impl RawChunk for ParquetChunk {
    fn len(&self) -> usize {
        self.rows
    }
    fn line(&self, i: usize) -> u64 {
        self.offset + i as u64 + 1
    }
    fn cells<'a>(
        &'a self,
        i: usize,
        canonical: &mut [Option<&'a str>],
        extra: &mut [Option<&'a str>],
    ) -> Result<(), Rejection> {
        let mut total = 0usize;
        for (&at, col) in self.slots.iter().zip(&self.columns) {
            let v = col.get(i);
            total += v.map_or(0, str::len);
            put(canonical, extra, at, v);
        }
        if total > self.max_line {
            return Err(Rejection::row(format!(
                "the row's values are longer than {} together (the --max-line limit)",
                crate::limits::bytes_words(self.max_line as u64)
            )));
        }
        Ok(())
    }
}

impl RowSource for ParquetSource {
    fn map(&self) -> &ColumnMap {
        &self.map
    }

    fn next_chunk(&mut self, max: usize) -> Result<Option<Box<dyn RawChunk>>, IngestError> {
        if self.offset >= self.rows {
            return Ok(None);
        }
        let wanted: Vec<(bool, usize, String)> = self
            .map
            .canonical
            .iter()
            .enumerate()
            .filter_map(|(ci, at)| at.map(|i| (true, ci, self.file_names[i].clone())))
            .chain(
                self.map
                    .extra
                    .iter()
                    .enumerate()
                    .filter_map(|(ei, at)| at.map(|i| (false, ei, self.file_names[i].clone()))),
            )
            .collect();
        let offset = self.offset;
        let len = max.min(PARQUET_SLICE).min(self.rows - offset);
        let read_err = |problem: String| IngestError::Read {
            path: self.path.clone(),
            line: offset as u64 + 1,
            problem,
        };
        let df = ParquetReader::new(open(&self.path)?)
            .with_columns(Some(wanted.iter().map(|w| w.2.clone()).collect()))
            .with_slice(Some((offset, len)))
            .finish()
            .map_err(|e| read_err(e.to_string()))?;
        let mut columns = Vec::with_capacity(wanted.len());
        for (_, _, name) in &wanted {
            let col = df
                .column(name)
                .and_then(|c| c.cast(&DataType::String))
                .and_then(|c| c.str().cloned())
                .map_err(|e| read_err(format!("column '{name}' cannot be read as text: {e}")))?;
            columns.push(col);
        }
        self.offset += len;
        Ok(Some(Box::new(ParquetChunk {
            columns,
            slots: wanted.iter().map(|w| (w.0, w.1)).collect(),
            offset: offset as u64,
            rows: df.height(),
            max_line: self.max_line,
        })))
    }
}

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
mod tests {
    use super::*;

    #[test]
    fn delimiter_sniffing() {
        assert_eq!(sniff_delimiter(b"a,b,c\n"), b',');
        assert_eq!(sniff_delimiter(b"a;b;c\r\n"), b';');
        assert_eq!(sniff_delimiter(b"a\tb\tc\n"), b'\t');
        assert_eq!(sniff_delimiter(b"\"a,x\";b;c\n"), b';');
    }

    fn records(
        text: &[u8],
        max_bytes: usize,
        max_fields: usize,
    ) -> Vec<(u64, u64, Option<Overflow>, Vec<String>)> {
        let stream: Box<dyn BufRead + Send> = Box::new(std::io::Cursor::new(text.to_vec()));
        let mut r = RecordReader::new(stream, b',', max_bytes, max_fields, 1);
        let mut out = Vec::new();
        while let Some(info) = r.next().unwrap() {
            let fields = r
                .fields()
                .map(|f| String::from_utf8_lossy(f).into_owned())
                .collect();
            out.push((info.line, info.fields, info.overflow, fields));
        }
        out
    }

    #[test]
    fn record_lines_are_exact_with_blank_lines_crlf_and_quoted_newlines() {
        let got = records(b"a,b\r\n\n\n1,\"x\ny\"\r\n2,z\n\n3,w", 100, 10);
        let lines: Vec<u64> = got.iter().map(|r| r.0).collect();
        assert_eq!(lines, [1, 4, 6, 8]);
        assert_eq!(got[1].3, ["1", "x\ny\r"]);
        assert_eq!(got[3].3, ["3", "w"]);
    }

    #[test]
    fn a_long_record_is_skipped_to_the_next_line_holding_only_the_limit() {
        // A 2 MB line of commas between two good lines, with a 1 KiB limit.
        let mut text = b"a,b\n".to_vec();
        text.extend(std::iter::repeat_n(b',', 2_000_000));
        text.extend_from_slice(b"\nc,d\n\"open quote,");
        text.extend(std::iter::repeat_n(b'x', 3000));
        text.extend_from_slice(b"\ne,f\n");
        let got = records(&text, 1024, 4);
        let summary: Vec<(u64, Option<Overflow>)> = got.iter().map(|r| (r.0, r.2)).collect();
        assert_eq!(
            summary,
            [
                (1, None),
                (2, Some(Overflow::TooLong)),
                (3, None),
                (4, Some(Overflow::TooLong)),
                (5, None)
            ]
        );
        assert_eq!(got[2].3, ["c", "d"]);
        // Resynchronised after the runaway quote: the next line is a record.
        assert_eq!(got[4].3, ["e", "f"]);
        // Exactly at the limit is allowed, one byte over is not.
        let ok = records(
            &[vec![b'x'; 1024], b"\n".to_vec(), vec![b'y'; 1025]].concat(),
            1024,
            4,
        );
        assert_eq!(ok[0].2, None);
        assert_eq!(ok[0].3[0].len(), 1024);
        assert_eq!(ok[1].2, Some(Overflow::TooLong));
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig::with_cases(256))]

        /// Within the limits the bounded reader splits exactly as the csv
        /// crate does (same fields, blank lines skipped), whatever the bytes.
        #[test]
        fn splits_as_the_csv_crate_does(
            pieces in proptest::collection::vec(proptest::prop_oneof![
                proptest::strategy::Just(b",".to_vec()),
                proptest::strategy::Just(b"\"".to_vec()),
                proptest::strategy::Just(b"\n".to_vec()),
                proptest::strategy::Just(b"\r\n".to_vec()),
                proptest::strategy::Just(b"ab".to_vec()),
                proptest::strategy::Just(b" ".to_vec()),
                proptest::collection::vec(proptest::prelude::any::<u8>(), 0..4),
            ], 0..40)
        ) {
            let text = pieces.concat();
            let mut theirs = csv::ReaderBuilder::new()
                .terminator(csv::Terminator::Any(b'\n'))
                .flexible(true)
                .has_headers(false)
                .from_reader(&text[..]);
            let mut expected = Vec::new();
            let mut record = csv::ByteRecord::new();
            while theirs.read_byte_record(&mut record).unwrap() {
                expected.push(record.iter().map(<[u8]>::to_vec).collect::<Vec<_>>());
            }
            let stream: Box<dyn BufRead + Send> = Box::new(std::io::Cursor::new(text.clone()));
            let mut ours = RecordReader::new(stream, b',', 1 << 20, 1000, 1);
            let mut got = Vec::new();
            while let Some(info) = ours.next().unwrap() {
                proptest::prop_assert!(info.overflow.is_none());
                got.push(ours.fields().map(<[u8]>::to_vec).collect::<Vec<_>>());
            }
            proptest::prop_assert_eq!(got, expected);
        }
    }

    #[test]
    fn wide_records_are_counted_but_not_kept() {
        let got = records(b"a,b,c,d,e,f\n1,2\n", 1 << 20, 3);
        assert_eq!(got[0].1, 6);
        assert_eq!(got[0].2, Some(Overflow::TooManyFields));
        assert!(got[0].3.is_empty());
        assert_eq!((got[1].0, got[1].1, got[1].2), (2, 2, None));
    }

    fn write(dir: &Path, name: &str, bytes: &[u8]) -> PathBuf {
        let p = dir.join(name);
        std::fs::write(&p, bytes).unwrap();
        p
    }

    #[test]
    fn csv_headers_over_the_limits_are_one_line_errors() {
        let dir = tempfile::tempdir().unwrap();
        let limits = Limits::default();
        let wide: Vec<String> = (0..20_000).map(|i| format!("c{i}")).collect();
        let p = write(
            dir.path(),
            "wide.csv",
            format!("{}\n1\n", wide.join(",")).as_bytes(),
        );
        let e = CsvSource::open_with(&p, Table::Patients, &limits)
            .err()
            .unwrap()
            .to_string();
        assert!(
            e.contains("wide.csv") && e.contains("20000 columns, more than the 4096"),
            "{e}"
        );
        // No line breaks at all: the header is refused after 1 MiB, and the
        // message quotes none of it.
        let p = write(dir.path(), "blob.csv", &vec![b'x'; 3 << 20]);
        let e = CsvSource::open_with(&p, Table::Patients, &limits)
            .err()
            .unwrap()
            .to_string();
        assert!(e.contains("longer than 1 MiB"), "{e}");
        assert!(e.len() < 300 && !e.contains('\n'), "{e}");
        // A header naming control characters is quoted escaped.
        let p = write(dir.path(), "ctl.csv", b"patient_id,\x1b[31msite\n");
        let e = CsvSource::open_with(&p, Table::Patients, &limits)
            .err()
            .unwrap()
            .to_string();
        assert!(e.contains("\\u{1b}[31msite"), "{e}");
        assert!(!e.contains('\x1b'), "{e}");
    }

    #[test]
    fn a_wide_header_does_not_reserve_memory_per_column_and_row() {
        let dir = tempfile::tempdir().unwrap();
        let mut header: Vec<String> = Table::Sessions
            .columns()
            .iter()
            .map(|c| c.name.to_string())
            .collect();
        header.extend((0..4000).map(|i| format!("x{i}")));
        let row = vec!["1"; header.len()].join(",");
        let p = write(
            dir.path(),
            "w.csv",
            format!("{}\n{row}\n", header.join(",")).as_bytes(),
        );
        let mut src = CsvSource::open_with(&p, Table::Sessions, &Limits::default()).unwrap();
        let chunk = src.next_chunk(65_536).unwrap().unwrap();
        assert_eq!(chunk.len(), 1);
    }

    #[test]
    fn gzip_bombs_stop_at_the_expansion_limit() {
        use std::io::Write;
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("bomb.csv.gz");
        let mut gz = flate2::write::GzEncoder::new(
            std::fs::File::create(&p).unwrap(),
            flate2::Compression::best(),
        );
        gz.write_all(b"patient_id,site,enrolled_on\n").unwrap();
        for _ in 0..16 {
            gz.write_all(&[b'\n'; 1 << 20]).unwrap();
        }
        gz.finish().unwrap();
        let limits = Limits {
            max_expanded: 4 << 20,
            max_ratio: 10,
            ..Limits::default()
        };
        let mut src = CsvSource::open_with(&p, Table::Patients, &limits).unwrap();
        let e = loop {
            match src.next_chunk(1000) {
                Ok(Some(_)) => continue,
                Ok(None) => panic!("the bomb was read whole"),
                Err(e) => break e.to_string(),
            }
        };
        assert!(
            e.contains("bomb.csv.gz") && e.contains("gzip data expands beyond 4 MiB"),
            "{e}"
        );
        assert!(!e.contains('\n'), "{e}");
    }

    #[test]
    fn ndjson_lines_over_the_limit_are_rejected_and_reading_goes_on() {
        let dir = tempfile::tempdir().unwrap();
        let mut text =
            br#"{"patient_id":"P1","date":"2025-01-01","measure":"odi","value":"5"}"#.to_vec();
        text.push(b'\n');
        text.extend_from_slice(br#"{"patient_id":""#);
        text.extend(std::iter::repeat_n(b'x', 5000));
        text.extend_from_slice(b"\"}\n");
        text.extend_from_slice(
            br#"{"patient_id":"P2","date":"2025-01-01","measure":"odi","value":"6"}"#,
        );
        let p = write(dir.path(), "o.ndjson", &text);
        let limits = Limits {
            max_line: 4096,
            ..Limits::default()
        };
        let mut src = NdjsonSource::open_with(&p, Table::Outcomes, &limits).unwrap();
        let chunk = src.next_chunk(100).unwrap().unwrap();
        assert_eq!(chunk.len(), 3);
        let (mut c, mut e) = (vec![None; 4], vec![]);
        let r = chunk.cells(1, &mut c, &mut e).unwrap_err();
        assert!(r.reason.contains("line longer than 4 KiB"), "{r:?}");
        assert_eq!(chunk.line(2), 3);
        let mut c = vec![None; 4];
        chunk.cells(2, &mut c, &mut e).unwrap();
        assert_eq!(c[0], Some("P2"));
    }

    #[test]
    fn header_names_are_matched_loosely() {
        assert_eq!(normalise_name(" Patient ID "), "patient_id");
        assert_eq!(normalise_name("\u{feff}Pain-During"), "pain_during");
    }
}
