//! Walking data as it really arrives: Apple Health exports, GGIR part-5 day
//! summaries and FHIR R4 Observations. Each reader turns its format into
//! rows of a canonical table (text cells in canonical column order, with
//! the line they came from), so validation, rejects and the
//! `read = accepted + rejected` accounting are the same as for CSV.
//!
//! What counts as a row read differs by format and is said in each module:
//! a GGIR row is a day; an Apple Health *day* (its records aggregated) or a
//! record that cannot be used; a FHIR Observation.

pub mod apple;
pub mod fhir;
pub mod ggir;

use lumbar_model::Table;

use crate::IngestError;
use crate::reader::{ColumnMap, OwnedChunk, RawChunk, RowSource};
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

/// A walking row in canonical order.
pub fn walking_cells(
    patient: &str,
    date: &str,
    walking_min: f64,
    steps: Option<f64>,
    wear_min: Option<f64>,
    source: &str,
) -> Vec<Option<String>> {
    let num = |x: f64| {
        let r = (x * 10.0).round() / 10.0;
        if r.fract() == 0.0 {
            format!("{r:.0}")
        } else {
            format!("{r}")
        }
    };
    vec![
        Some(patient.to_string()),
        Some(date.to_string()),
        Some(num(walking_min)),
        steps.map(|s| format!("{:.0}", s.round())),
        wear_min.map(num),
        None,
        Some(source.to_string()),
    ]
}

/// Steps per minute of walking used to estimate walking minutes from steps
/// when no minutes are recorded: 100 steps/min is the cadence of moderate
/// walking in adults (Tudor-Locke et al. 2018, Br J Sports Med 52:776), so
/// `walking_min = steps / 100`. Estimated values are marked in `source`.
pub const STEPS_PER_WALKING_MINUTE: f64 = 100.0;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn walking_cells_follow_the_schema_order() {
        let names: Vec<&str> = Table::Walking.columns().iter().map(|c| c.name).collect();
        assert_eq!(
            names,
            [
                "patient_id",
                "date",
                "walking_min",
                "steps",
                "wear_min",
                "mean_met",
                "source"
            ]
        );
        let c = walking_cells("P1", "2024-03-10", 42.04, Some(4203.6), None, "apple");
        assert_eq!(c[2].as_deref(), Some("42"));
        assert_eq!(c[3].as_deref(), Some("4204"));
        assert_eq!(c[4], None);
    }
}
