//! Rows made up front or streamed by an aggregating reader (Apple Health,
//! GGIR, FHIR), handed on as owned chunks.

use lumbar_model::Table;

use super::{ColumnMap, OwnedChunk, RawChunk, RowSource};
use crate::error::IngestError;
use crate::validate::Rejection;

/// One row of canonical cells, or why there is none.
#[derive(Debug, Clone)]
pub struct OwnedRow {
    pub line: u64,
    pub cells: Result<Vec<Option<String>>, Rejection>,
}

/// The identity map of a table's own columns (these readers emit cells in
/// canonical order already).
pub fn identity_map(table: Table) -> ColumnMap {
    let n = table.columns().len();
    ColumnMap {
        canonical: (0..n).map(Some).collect(),
        extra: Vec::new(),
        extra_names: Vec::new(),
        ignored: Vec::new(),
        width: n,
    }
}

/// Rows made by an aggregating reader and handed out in chunks: made up
/// front ([`PreparedSource::new`]), or streamed from a reader running on a
/// thread of its own ([`PreparedSource::streamed`]), so a file of millions
/// of unusable records is never held as millions of rejects.
pub struct PreparedSource {
    map: ColumnMap,
    rows: Rows,
}

enum Rows {
    Made(std::vec::IntoIter<OwnedRow>),
    Streamed(std::sync::mpsc::Receiver<Result<OwnedRow, IngestError>>),
}

/// Rows a streaming reader may run ahead of validation.
const STREAM_AHEAD: usize = 8192;

impl PreparedSource {
    pub fn new(table: Table, rows: Vec<OwnedRow>) -> PreparedSource {
        PreparedSource {
            map: identity_map(table),
            rows: Rows::Made(rows.into_iter()),
        }
    }

    /// Runs `read` on a thread; each row it emits waits in a bounded queue
    /// (emit returns false once this source is dropped, and the reader
    /// stops). An error of the reader ends the rows with that error.
    pub fn streamed<F>(table: Table, read: F) -> PreparedSource
    where
        F: FnOnce(&mut dyn FnMut(OwnedRow) -> bool) -> Result<(), IngestError> + Send + 'static,
    {
        let (tx, rx) = std::sync::mpsc::sync_channel(STREAM_AHEAD);
        std::thread::spawn(move || {
            let result = read(&mut |row| tx.send(Ok(row)).is_ok());
            if let Err(e) = result {
                let _ = tx.send(Err(e));
            }
        });
        PreparedSource {
            map: identity_map(table),
            rows: Rows::Streamed(rx),
        }
    }

    fn next_row(&mut self) -> Result<Option<OwnedRow>, IngestError> {
        match &mut self.rows {
            Rows::Made(rows) => Ok(rows.next()),
            Rows::Streamed(rx) => rx.recv().ok().transpose(),
        }
    }
}

impl RowSource for PreparedSource {
    fn map(&self) -> &ColumnMap {
        &self.map
    }

    fn next_chunk(&mut self, max: usize) -> Result<Option<Box<dyn RawChunk>>, IngestError> {
        let mut chunk = OwnedChunk {
            rows: Vec::new(),
            lines: Vec::new(),
        };
        let mut taken = Vec::new();
        while taken.len() < max.max(1) {
            match self.next_row()? {
                Some(r) => taken.push(r),
                None => break,
            }
        }
        for r in taken {
            chunk.lines.push(r.line);
            // Canonical cells in order: slot i holds column i when present.
            chunk.rows.push(r.cells.map(|cells| {
                cells
                    .into_iter()
                    .enumerate()
                    .filter_map(|(i, c)| c.map(|c| (true, i, c)))
                    .collect()
            }));
        }
        Ok((!chunk.rows.is_empty()).then(|| Box::new(chunk) as Box<dyn RawChunk>))
    }
}
