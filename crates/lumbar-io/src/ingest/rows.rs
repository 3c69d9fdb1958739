//! Rows of a chunk validated in parallel pieces: cells, identity checks
//! and fingerprints, and the reasons summarised.

use super::*;
use crate::store::layout::{Destination, destination_of, split};

/// Rows read per chunk (one chunk is validated while the next is read).
pub(super) const CHUNK_ROWS: usize = 65_536;
/// Rows per parallel validation task.
pub(super) const PART_ROWS: usize = 16_384;

/// The outcome of the order-independent checks of one row.
pub(super) enum RowOut {
    Valid {
        line: u64,
        fp: u128,
        id: Option<String>,
        /// Where the row goes (its patient's bucket).
        dest: Destination,
    },
    Rejected(u64, Rejection),
}

/// The valid rows of a slice of a chunk, as frames by destination (cut
/// here, on the validating threads), and every row's outcome.
pub(super) struct PartOut {
    pub(super) pieces: Vec<(Destination, polars::prelude::DataFrame)>,
    pub(super) rows: Vec<RowOut>,
}

/// The checks that need no knowledge of other rows: run in parallel.
pub(super) struct RowCheck<'a> {
    pub(super) validator: &'a TableValidator<'a>,
    pub(super) table: Table,
    pub(super) check_ids: bool,
    pub(super) keyed: bool,
    pub(super) known: &'a Known,
    pub(super) columns: &'a [(String, Kind)],
    /// The store's buckets (`None`: parts are written whole).
    pub(super) buckets: Option<u32>,
}

impl RowCheck<'_> {
    fn row<'c>(
        &self,
        chunk: &'c dyn reader::RawChunk,
        i: usize,
        cells: &mut Vec<Cell<'c>>,
        scratch: &mut Vec<u8>,
    ) -> Result<(u128, Option<String>, Destination), Rejection> {
        let mut canonical = [None; 32];
        let mut extra = vec![None; self.validator.extras.len()];
        let nc = self.validator.columns.len();
        chunk.cells(i, &mut canonical[..nc], &mut extra)?;
        self.validator
            .validate_into(&canonical[..nc], &extra, cells)?;
        let id: &str = match &cells[0] {
            Cell::Str(s) => s,
            _ => "",
        };
        if self.check_ids {
            let ok = match self.table {
                Table::Sessions => self.known.patients.contains(id),
                _ => self.known.patients.contains(id) || self.known.participants.contains(id),
            };
            if !ok {
                return Err(Rejection {
                    column: Some("patient_id".into()),
                    value: Some(limits::excerpt(id)),
                    reason: if self.table == Table::Sessions {
                        format!(
                            "patient_id '{}' is not in the patients table; ingest the patient's row first",
                            limits::excerpt(id)
                        )
                    } else {
                        format!(
                            "patient_id '{}' is in neither the patients nor the followup table",
                            limits::excerpt(id)
                        )
                    },
                });
            }
        }
        let dest = destination_of(self.buckets, id);
        let id = self.keyed.then(|| id.to_string());
        let fp = fingerprint_with(cells, scratch);
        Ok((fp, id, dest))
    }

    pub(super) fn part(
        &self,
        chunk: &dyn reader::RawChunk,
        from: usize,
        to: usize,
    ) -> polars::prelude::PolarsResult<PartOut> {
        let mut builder = table::TableBuilder::new(self.columns.to_vec(), to - from);
        let mut rows = Vec::with_capacity(to - from);
        let mut dests = Vec::with_capacity(to - from);
        let mut cells = Vec::with_capacity(self.columns.len());
        let mut scratch = Vec::with_capacity(256);
        for i in from..to {
            let line = chunk.line(i);
            match self.row(chunk, i, &mut cells, &mut scratch) {
                Ok((fp, id, dest)) => {
                    builder.push(&cells);
                    dests.push(dest);
                    rows.push(RowOut::Valid { line, fp, id, dest });
                }
                Err(r) => rows.push(RowOut::Rejected(line, r)),
            }
        }
        Ok(PartOut {
            pieces: split(builder.take()?, &dests)?,
            rows,
        })
    }
}

/// A reason with the row-specific parts (values, line numbers) removed, for
/// summarising which kinds of problems a file has.
pub(super) fn reason_kind(r: &Rejection) -> String {
    let mut s = r.reason.clone();
    if let Some(v) = &r.value
        && !v.is_empty()
    {
        s = s.replace(v.as_str(), "…");
    }
    // Line numbers (of the row a duplicate repeats) differ row to row; other
    // numbers are the rule's own (ISO 8601, a maximum of 10) and stay.
    let words: Vec<&str> = s.split(' ').collect();
    let mut out: Vec<String> = Vec::with_capacity(words.len());
    for (k, w) in words.iter().enumerate() {
        let number = w.trim_end_matches([',', '.', ';', ')']);
        let after_line = k > 0
            && matches!(
                words[k - 1].to_ascii_lowercase().as_str(),
                "line" | "lines" | "row" | "rows"
            );
        if after_line && !number.is_empty() && number.chars().all(|c| c.is_ascii_digit()) {
            out.push(format!("N{}", &w[number.len()..]));
        } else {
            out.push(w.to_string());
        }
    }
    out.join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn kind(reason: &str, value: Option<&str>) -> String {
        reason_kind(&Rejection {
            reason: reason.into(),
            value: value.map(str::to_string),
            column: None,
        })
    }

    /// Reasons are grouped without their values and line numbers, and
    /// keep the rule's own numbers as written.
    #[test]
    fn reason_kinds_keep_the_rules_numbers() {
        assert_eq!(
            kind(
                "'28/01/2025' is not an ISO 8601 date-time (YYYY-MM-DDTHH:MM[:SS])",
                Some("28/01/2025")
            ),
            "'…' is not an ISO 8601 date-time (YYYY-MM-DDTHH:MM[:SS])"
        );
        assert_eq!(
            kind("exact duplicate of line 1234", None),
            "exact duplicate of line N"
        );
        assert_eq!(
            kind("as on line 7, but other values", None),
            "as on line N, but other values"
        );
        assert_eq!(
            kind("12 is above the maximum 10", Some("12")),
            "… is above the maximum 10"
        );
    }
}
