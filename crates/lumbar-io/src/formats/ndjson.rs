//! NDJSON: one JSON object a line, each line bounded.

use std::collections::HashMap;
use std::io::BufRead;
use std::path::{Path, PathBuf};

use lumbar_model::Table;

use crate::error::IngestError;
use crate::limits::{Limits, excerpt};
use crate::source::*;
use crate::validate::Rejection;

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
                                        "the objects name more than {} different keys (by line {line}), the max_columns limit",
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

impl NdjsonSource {
    /// Splits one line into (slot, text) pairs, or says why it cannot be.
    fn parse_line(&self, buf: &[u8]) -> OwnedCells {
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
