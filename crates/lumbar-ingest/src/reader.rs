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

/// Longest NDJSON line kept; longer lines are rejected without being buffered.
const MAX_LINE: usize = 16 << 20;
/// Rows per slice when reading Parquet, so memory does not grow with the file.
const PARQUET_SLICE: usize = 65_536;

fn open(path: &Path) -> Result<File, IngestError> {
    File::open(path).map_err(|source| IngestError::Open {
        path: path.to_path_buf(),
        source,
    })
}

/// Opens a text file, transparently gunzipping it when it starts with the
/// gzip magic bytes, and skips a UTF-8 byte-order mark.
pub(crate) fn open_text(path: &Path) -> Result<Box<dyn BufRead + Send>, IngestError> {
    let mut file = BufReader::with_capacity(1 << 20, open(path)?);
    let magic = file.fill_buf().map_err(|e| IngestError::io(path, e))?;
    let mut reader: Box<dyn BufRead + Send> = if magic.starts_with(&[0x1f, 0x8b]) {
        Box::new(BufReader::with_capacity(
            1 << 20,
            flate2::bufread::MultiGzDecoder::new(file),
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
    let mut text = open_text(path)?;
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
    /// Matches a header to a table's columns. Fatal: duplicated names and
    /// missing required columns.
    pub fn build(table: Table, header: &[String], path: &Path) -> Result<ColumnMap, IngestError> {
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
                        "column '{n}' appears twice (columns {} and {}); rename or remove one",
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
                            names.join(", ")
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
                    n.clone()
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

/// Opens a source of the given format.
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
    use crate::formats::{PreparedSource, apple, fhir, ggir};
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
        Format::Csv => Box::new(CsvSource::open(path, table)?),
        Format::Ndjson => Box::new(NdjsonSource::open(path, table)?),
        Format::Parquet => Box::new(ParquetSource::open(path, table)?),
        Format::Apple => {
            let id = match patient {
                Some(p) => p.to_string(),
                None => apple_patient_from_name(path)?,
            };
            Box::new(PreparedSource::new(table, apple::read(path, &id)?))
        }
        Format::Ggir => Box::new(PreparedSource::new(table, ggir::read(path)?)),
        Format::Fhir => Box::new(PreparedSource::new(
            table,
            fhir::read(path, table, primary)?,
        )),
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

pub struct CsvSource {
    path: PathBuf,
    reader: csv::Reader<Box<dyn BufRead + Send>>,
    map: ColumnMap,
    layout: std::sync::Arc<CsvLayout>,
    next_line: u64,
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
    layout: std::sync::Arc<CsvLayout>,
}

impl CsvChunk {
    fn new(capacity: usize, layout: std::sync::Arc<CsvLayout>) -> CsvChunk {
        let width = layout.slots.len();
        CsvChunk {
            data: Vec::with_capacity(capacity * 16 * width.max(1)),
            ends: Vec::with_capacity(capacity * width),
            rows: Vec::with_capacity(capacity),
            lines: Vec::with_capacity(capacity),
            layout,
        }
    }

    fn push(&mut self, record: &csv::ByteRecord, line: u64) {
        self.rows
            .push((self.data.len(), self.ends.len(), record.len()));
        for field in record.iter() {
            self.data.extend_from_slice(field);
            self.ends.push(self.data.len());
        }
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
        let n = self.rows[i].2;
        let width = self.layout.slots.len();
        if n != width {
            return Err(Rejection::row(format!(
                "expected {width} fields as in the header, found {n} (a truncated line, a wrong delimiter or an unquoted delimiter inside a value)"
            )));
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
                        column: Some(name.clone()),
                        value: Some(
                            String::from_utf8_lossy(&field[..field.len().min(200)]).into_owned(),
                        ),
                        reason: format!(
                            "{name} is not valid UTF-8 (bad byte at offset {} of the value); save the file as UTF-8",
                            e.valid_up_to()
                        ),
                    });
                }
            }
        }
        Ok(())
    }
}

impl CsvSource {
    pub fn open(path: &Path, table: Table) -> Result<CsvSource, IngestError> {
        let mut text = open_text(path)?;
        let mut first = Vec::new();
        // Read the header line ourselves to pick the delimiter, then hand the
        // csv reader the line followed by the rest of the stream.
        loop {
            first.clear();
            let n = text
                .read_until(b'\n', &mut first)
                .map_err(|e| IngestError::io(path, e))?;
            if n == 0 {
                return Err(IngestError::Header {
                    path: path.to_path_buf(),
                    problem: "the file is empty: no header line".into(),
                });
            }
            if !first.iter().all(|b| b.is_ascii_whitespace()) {
                break;
            }
        }
        let delimiter = sniff_delimiter(&first);
        let stream: Box<dyn BufRead + Send> = Box::new(std::io::Cursor::new(first).chain(text));
        let mut reader = csv::ReaderBuilder::new()
            // '\n' alone ends a record (a CR before it stays in the last field,
            // which validation trims): this keeps csv's line counter exact for
            // CRLF files, see `for_each_row`.
            .terminator(csv::Terminator::Any(b'\n'))
            .delimiter(delimiter)
            .flexible(true)
            .has_headers(true)
            .buffer_capacity(1 << 20)
            .from_reader(stream);
        let header = reader
            .byte_headers()
            .map_err(|e| IngestError::io(path, e.into()))?;
        let mut names = Vec::with_capacity(header.len());
        for (i, h) in header.iter().enumerate() {
            match std::str::from_utf8(h) {
                Ok(s) => names.push(s.to_string()),
                Err(_) => {
                    return Err(IngestError::Header {
                        path: path.to_path_buf(),
                        problem: format!("header column {} is not valid UTF-8", i + 1),
                    });
                }
            }
        }
        let map = ColumnMap::build(table, &names, path)?;
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
        let next_line = reader.position().line();
        Ok(CsvSource {
            path: path.to_path_buf(),
            reader,
            map,
            layout: std::sync::Arc::new(CsvLayout {
                slots,
                names: names.iter().map(|n| normalise_name(n)).collect(),
            }),
            next_line,
        })
    }
}

impl RowSource for CsvSource {
    fn map(&self) -> &ColumnMap {
        &self.map
    }

    fn next_chunk(&mut self, max: usize) -> Result<Option<Box<dyn RawChunk>>, IngestError> {
        let mut chunk = CsvChunk::new(max, self.layout.clone());
        let mut record = csv::ByteRecord::new();
        while chunk.rows.len() < max {
            let more =
                self.reader
                    .read_byte_record(&mut record)
                    .map_err(|e| IngestError::Read {
                        path: self.path.clone(),
                        line: self.next_line,
                        problem: e.to_string(),
                    })?;
            if !more {
                break;
            }
            // The csv crate stamps a record with the position *before*
            // skipping blank lines, so its line can be early. The line after
            // the record is exact; subtract the newlines inside the record
            // (quoted values) and its terminator. A last record with no final
            // newline has no terminator: that is the case where the result
            // would fall before the first line the record could start on.
            let end_line = self.reader.position().line();
            let inner = record.as_slice().iter().filter(|&&b| b == b'\n').count() as u64;
            let mut line = end_line.saturating_sub(inner + 1);
            if line < self.next_line {
                line += 1;
            }
            self.next_line = end_line;
            // A line of only spaces (or a lone CR) is a blank line, not a row.
            if record.len() == 1
                && record
                    .get(0)
                    .is_some_and(|b| b.iter().all(u8::is_ascii_whitespace))
            {
                continue;
            }
            chunk.push(&record, line);
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
}

impl NdjsonSource {
    pub fn open(path: &Path, table: Table) -> Result<NdjsonSource, IngestError> {
        // The "header" of NDJSON is the set of keys: canonical ones always, and
        // for tables with covariates every key seen in the file (one pre-scan).
        let mut header: Vec<String> = table.columns().iter().map(|c| c.name.to_string()).collect();
        if table.keeps_extra_columns() {
            let mut seen: std::collections::HashSet<String> = header.iter().cloned().collect();
            let mut text = open_text(path)?;
            let mut buf = Vec::new();
            loop {
                buf.clear();
                let n =
                    read_line_capped(&mut *text, &mut buf).map_err(|e| IngestError::io(path, e))?;
                if n == 0 {
                    break;
                }
                if let Ok(serde_json::Value::Object(m)) = serde_json::from_slice(&buf) {
                    for k in m.keys() {
                        let k = normalise_name(k);
                        if seen.insert(k.clone()) {
                            header.push(k);
                        }
                    }
                }
            }
        }
        let mut map = ColumnMap::build(table, &header, path)?;
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
        })
    }
}

/// Reads one line into `buf`; a line longer than [`MAX_LINE`] is consumed
/// but only its first bytes kept (the caller sees `buf.len() == MAX_LINE`).
fn read_line_capped(r: &mut dyn BufRead, buf: &mut Vec<u8>) -> std::io::Result<usize> {
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
        let room = MAX_LINE.saturating_sub(buf.len());
        buf.extend_from_slice(&chunk[..take.min(room)]);
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
    fn parse_line(&self, buf: &[u8], n: usize) -> OwnedRow {
        if n > MAX_LINE {
            return Err(Rejection::row(format!(
                "line is {n} bytes long, over the {MAX_LINE}-byte limit"
            )));
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
                        value: Some(crate::validate::clip(&other.to_string(), 200)),
                        reason: format!(
                            "'{key}' holds a nested JSON value; a plain string, number or boolean is expected"
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
            self.text = Some(open_text(&self.path)?);
        }
        let mut rows = Vec::new();
        let mut lines = Vec::new();
        let mut buf = Vec::new();
        while rows.len() < max {
            buf.clear();
            let Some(text) = self.text.as_mut() else {
                break;
            };
            let n = read_line_capped(&mut **text, &mut buf).map_err(|e| IngestError::Read {
                path: self.path.clone(),
                line: self.line + 1,
                problem: e.to_string(),
            })?;
            if n == 0 {
                break;
            }
            self.line += 1;
            if buf.iter().all(u8::is_ascii_whitespace) {
                continue;
            }
            rows.push(self.parse_line(&buf, n));
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
}

impl ParquetSource {
    pub fn open(path: &Path, table: Table) -> Result<ParquetSource, IngestError> {
        let mut reader = ParquetReader::new(open(path)?);
        let bad = |e: PolarsError| IngestError::Header {
            path: path.to_path_buf(),
            problem: format!("not a readable Parquet file: {e}"),
        };
        let schema = reader.schema().map_err(bad)?;
        let rows = reader.num_rows().map_err(bad)?;
        let file_names: Vec<String> = schema.iter_names().map(|n| n.to_string()).collect();
        let map = ColumnMap::build(table, &file_names, path)?;
        Ok(ParquetSource {
            path: path.to_path_buf(),
            map,
            file_names,
            rows,
            offset: 0,
        })
    }
}

struct ParquetChunk {
    columns: Vec<StringChunked>,
    /// (canonical?, slot) of each column.
    slots: Vec<(bool, usize)>,
    offset: u64,
    rows: usize,
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
        for (&at, col) in self.slots.iter().zip(&self.columns) {
            put(canonical, extra, at, col.get(i));
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
        })))
    }
}

/// Infers the type of each extra column from all its values: a number column
/// when every present value is a finite number, boolean when every one is a
/// boolean word, otherwise text.
pub fn infer_extra_kinds(
    source: &mut dyn RowSource,
) -> Result<Vec<(String, ExtraKind)>, IngestError> {
    let names = source.map().extra_names.clone();
    let mut numeric = vec![true; names.len()];
    let mut boolean = vec![true; names.len()];
    let mut any = vec![false; names.len()];
    for_each_row(source, &mut |_, row| {
        if let Ok((_, extra)) = row {
            for (j, v) in extra.iter().enumerate() {
                let Some(t) = v.filter(|t| !crate::parse::is_missing(t)) else {
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

    #[test]
    fn header_names_are_matched_loosely() {
        assert_eq!(normalise_name(" Patient ID "), "patient_id");
        assert_eq!(normalise_name("\u{feff}Pain-During"), "pain_during");
    }
}
