//! The primitives every format's reader is built from: opening a file
//! (gzip and BOM handled, inflation bounded), a [`ColumnMap`] from a header
//! to a table's columns, the [`RowSource`] and [`RawChunk`] traits that
//! hand rows on in canonical column order with their line numbers, owned
//! chunks and the [`PreparedSource`] of the aggregating readers, and the
//! bounded record and line readers. The formats (`crate::formats`) are
//! peers over these; detection and dispatch (`crate::reader`) sit on top.

use std::collections::HashMap;
use std::fs::File;
use std::io::{BufRead, BufReader};
use std::path::Path;

use lumbar_model::{Column, Table};

use crate::error::IngestError;
use crate::limits::{Inflated, Limits, excerpt};
use crate::parse::Missing;
use crate::validate::Rejection;

mod prepared;
mod record;
pub use prepared::{OwnedRow, PreparedSource, identity_map};
pub(crate) use record::{Overflow, RecordReader};

/// Rows per slice when reading Parquet, so memory does not grow with the file.
pub(crate) const PARQUET_SLICE: usize = 65_536;
/// A chunk of rows ends early once its text reaches this many bytes, so
/// long (but allowed) records do not make 65,536-row chunks of gigabytes.
pub(crate) const CHUNK_BYTES: usize = 16 << 20;

/// What a reader needs besides the file: the size limits and the spellings
/// of a missing value.
#[derive(Debug, Clone, Copy)]
pub struct Reading<'a> {
    pub limits: Limits,
    pub missing: &'a Missing,
}

pub(crate) fn open(path: &Path) -> Result<File, IngestError> {
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
pub(crate) fn too_many_columns(path: &Path, found: usize, max: usize) -> IngestError {
    IngestError::Header {
        path: path.to_path_buf(),
        problem: format!(
            "the header has {found} columns, more than the {max} allowed (max_columns); is this a table lumbar reads?"
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
pub(crate) fn put<'a>(
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

/// The reject of a record over the line limit.
pub(crate) fn too_long(max_line: usize) -> Rejection {
    Rejection::row(format!(
        "line longer than {} (the max_line limit); the rest of the line was skipped",
        crate::limits::bytes_words(max_line as u64)
    ))
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
pub(crate) type OwnedCells = Result<Vec<(bool, usize, String)>, Rejection>;

/// Rows whose text is owned rather than borrowed from a read buffer: NDJSON
/// values, and the rows the walking-format readers make.
pub(crate) struct OwnedChunk {
    pub(crate) rows: Vec<OwnedCells>,
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
