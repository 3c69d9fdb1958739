//! CSV (any delimiter, quoted fields, gzip) through the bounded [`RecordReader`].

use std::io::BufRead;
use std::path::{Path, PathBuf};

use lumbar_model::Table;

use crate::error::IngestError;
use crate::limits::{Limits, excerpt};
use crate::source::*;
use crate::validate::Rejection;

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
    /// The field bytes while the chunk fills; moved to `text` when they
    /// are valid UTF-8 as a whole (see [`CsvChunk::seal`]).
    data: Vec<u8>,
    text: String,
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
            text: String::new(),
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

    /// Checks the chunk's bytes as UTF-8 once, on the reader's thread,
    /// rather than field by field on the validating ones: when the whole
    /// is valid, a field is valid exactly when it starts and ends on
    /// character boundaries, which [`str::get`] checks.
    fn seal(&mut self) {
        match String::from_utf8(std::mem::take(&mut self.data)) {
            Ok(text) => self.text = text,
            Err(e) => self.data = e.into_bytes(),
        }
    }

    /// Each field of row `i` as text, or its bytes when they are not UTF-8.
    fn fields(&self, i: usize) -> impl Iterator<Item = Result<&str, &[u8]>> {
        let (start, first, n) = self.rows[i];
        let ends = &self.ends[first..first + n];
        let mut from = start;
        ends.iter().map(move |&to| {
            let span = from..to;
            from = to;
            match self.text.get(span.clone()) {
                Some(s) if !self.text.is_empty() => Ok(s),
                _ => {
                    let bytes = if self.text.is_empty() {
                        &self.data[span]
                    } else {
                        &self.text.as_bytes()[span]
                    };
                    std::str::from_utf8(bytes).map_err(|_| bytes)
                }
            }
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
            match field {
                Ok(s) => put(canonical, extra, (is_canon, slot), Some(s)),
                Err(field) => {
                    let e = match std::str::from_utf8(field) {
                        Err(e) => e.valid_up_to(),
                        Ok(_) => 0,
                    };
                    let name = &self.layout.names[j];
                    return Err(Rejection {
                        column: Some(excerpt(name)),
                        value: Some(crate::limits::excerpt_bytes(field)),
                        reason: format!(
                            "{} is not valid UTF-8 (bad byte at offset {} of the value); save the file as UTF-8",
                            excerpt(name),
                            e
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
                            "the header line (line {}) is longer than {} (max_line): not a table, or no line breaks",
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
                        line: self.reader.line(),
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
        chunk.seal();
        Ok(Some(Box::new(chunk)))
    }
}

// ---- NDJSON -----------------------------------------------------------------
