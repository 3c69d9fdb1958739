//! Parquet, read a slice of rows at a time, bounded by its footer.

use std::path::{Path, PathBuf};

use lumbar_model::Table;
use polars::prelude::*;

use crate::error::IngestError;
use crate::limits::{Limits, excerpt};
use crate::source::*;
use crate::validate::Rejection;

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
                    "its data expand to {} ({} on disk), over the {} limit (max_expanded, max_ratio)",
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
                "the row's values are longer than {} together (the max_line limit)",
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
