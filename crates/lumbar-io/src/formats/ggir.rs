//! GGIR part 5 day summaries (`part5_daysummary_*.csv`): one row per
//! participant-day. GGIR puts its intensity thresholds and bout lengths in
//! the column names, so columns are found by pattern:
//!
//! * participant: `ID`; day: `calendar_date` (ISO, as GGIR writes it);
//! * walking (moderate-to-vigorous) minutes: `dur_day_total_MOD*` +
//!   `dur_day_total_VIG*` (the first column matching each, e.g.
//!   `dur_day_total_MOD_min` or `dur_day_total_MOD_100_400_min`); when the
//!   file has no such totals, the sum of the bouted MVPA columns
//!   `dur_day_MVPA_bts_*` (e.g. `dur_day_MVPA_bts_10_min`,
//!   `dur_day_MVPA_bts_5_10_min`), which partition MVPA by bout length;
//! * valid wear time: `dur_day_spt_min` × (1 − `nonwear_perc_day_spt`/100)
//!   (the waking day plus sleep period, less its non-wear), or
//!   `dur_day_min` × (1 − `nonwear_perc_day`/100), else unknown.
//!
//! `NA` (GGIR's missing value) and the run's other missing-value spellings
//! are missing. Each data row is one row read; `source` is `ggir`. Rows are
//! read as they are validated (a record at a time, bounded like CSV).

use std::path::{Path, PathBuf};

use lumbar_model::Table;

use super::walking_cells;
use crate::error::IngestError;
use crate::limits::{Limits, excerpt};
use crate::parse::Missing;
use crate::source::{
    ColumnMap, Overflow, OwnedChunk, OwnedRow, RawChunk, Reading, RecordReader, RowSource,
    identity_map, normalise_name, open_text, sniff_delimiter, too_long,
};
use crate::validate::Rejection;

/// Whether a header line looks like a GGIR part 5 day summary.
pub fn sniff(header: &str) -> bool {
    let h = header.to_ascii_lowercase();
    h.contains("calendar_date") && h.contains("dur_day")
}

struct Columns {
    id: usize,
    date: usize,
    moderate: Option<usize>,
    vigorous: Option<usize>,
    bouts: Vec<usize>,
    wear: Option<(usize, usize)>,
}

fn find_columns(names: &[String], path: &Path) -> Result<Columns, IngestError> {
    let exact = |n: &str| names.iter().position(|x| x == n);
    let first = |prefix: &str| names.iter().position(|x| x.starts_with(prefix));
    let missing = |what: &str| IngestError::Header {
        path: path.to_path_buf(),
        problem: format!(
            "a GGIR part 5 day summary needs {what}; found: {}",
            excerpt(&names.join(", "))
        ),
    };
    let id = exact("id").ok_or_else(|| missing("an ID column"))?;
    let date = exact("calendar_date").ok_or_else(|| missing("a calendar_date column"))?;
    let moderate = first("dur_day_total_mod");
    let vigorous = first("dur_day_total_vig");
    let bouts: Vec<usize> = (0..names.len())
        .filter(|&i| names[i].starts_with("dur_day_mvpa_bts"))
        .collect();
    if moderate.is_none() && vigorous.is_none() && bouts.is_empty() {
        return Err(missing(
            "MVPA minutes: dur_day_total_MOD*/dur_day_total_VIG* or dur_day_MVPA_bts_* columns",
        ));
    }
    let wear = match (exact("dur_day_spt_min"), exact("nonwear_perc_day_spt")) {
        (Some(d), Some(p)) => Some((d, p)),
        _ => match (exact("dur_day_min"), exact("nonwear_perc_day")) {
            (Some(d), Some(p)) => Some((d, p)),
            _ => None,
        },
    };
    Ok(Columns {
        id,
        date,
        moderate,
        vigorous,
        bouts,
        wear,
    })
}

/// A number cell: `None` for a missing value (empty, `NA`, …), or why it
/// is not a number.
fn number(
    fields: &[&str],
    i: usize,
    names: &[String],
    missing: &Missing,
) -> Result<Option<f64>, Rejection> {
    let raw = fields.get(i).copied().unwrap_or("").trim();
    if missing.is_missing(raw) || raw.eq_ignore_ascii_case("na") || raw.eq_ignore_ascii_case("nan")
    {
        return Ok(None);
    }
    match raw.parse::<f64>() {
        Ok(v) if v.is_finite() && v >= 0.0 => Ok(Some(v)),
        _ => Err(Rejection {
            column: Some(excerpt(&names[i])),
            value: Some(excerpt(raw)),
            reason: "expected a number of minutes ≥ 0".into(),
        }),
    }
}

/// Reads a day summary into walking rows (all of them; ingest streams
/// them through [`GgirSource`]).
pub fn read(path: &Path) -> Result<Vec<OwnedRow>, IngestError> {
    let missing = Missing::default();
    let reading = Reading {
        limits: Limits::default(),
        missing: &missing,
    };
    let mut source = GgirSource::open(path, &reading)?;
    let mut rows = Vec::new();
    while let Some(row) = source.next_row()? {
        rows.push(row);
    }
    Ok(rows)
}

/// A GGIR day summary read a record at a time.
pub struct GgirSource {
    path: PathBuf,
    reader: RecordReader,
    names: Vec<String>,
    cols: Columns,
    missing: Missing,
    map: ColumnMap,
    max_line: usize,
}

impl GgirSource {
    pub fn open(path: &Path, reading: &Reading<'_>) -> Result<GgirSource, IngestError> {
        let limits = &reading.limits;
        let mut text = open_text(path, limits)?;
        let head = std::io::BufRead::fill_buf(&mut text).map_err(|e| IngestError::io(path, e))?;
        let first_line = head.split(|&b| b == b'\n').next().unwrap_or(&[]);
        let delimiter = sniff_delimiter(first_line);
        let mut reader = RecordReader::new(text, delimiter, limits.max_line, limits.max_columns, 1);
        let header_problem = |problem: String| IngestError::Header {
            path: path.to_path_buf(),
            problem,
        };
        let info = reader
            .next()
            .map_err(|e| header_problem(format!("cannot read the header: {e}")))?
            .ok_or_else(|| header_problem("the file is empty: no header line".into()))?;
        match info.overflow {
            Some(Overflow::TooLong) => {
                return Err(header_problem(format!(
                    "the header line is longer than {} (max_line)",
                    limits.line_words()
                )));
            }
            Some(Overflow::TooManyFields) => {
                return Err(header_problem(format!(
                    "the header has {} columns, more than the {} allowed (max_columns)",
                    info.fields, limits.max_columns
                )));
            }
            None => {}
        }
        let names: Vec<String> = reader
            .fields()
            .map(|f| normalise_name(&String::from_utf8_lossy(f)))
            .collect();
        let cols = find_columns(&names, path)?;
        reader.max_fields = names.len();
        Ok(GgirSource {
            path: path.to_path_buf(),
            reader,
            names,
            cols,
            missing: reading.missing.clone(),
            map: identity_map(Table::Walking),
            max_line: limits.max_line,
        })
    }

    /// The next day (its line and cells, or why it has none).
    fn next_row(&mut self) -> Result<Option<OwnedRow>, IngestError> {
        loop {
            let info = match self.reader.next() {
                Ok(Some(info)) => info,
                Ok(None) => return Ok(None),
                Err(e) => {
                    return Err(IngestError::Read {
                        path: self.path.clone(),
                        line: self.reader.line(),
                        problem: e.to_string(),
                    });
                }
            };
            let cells = match info.overflow {
                Some(Overflow::TooLong) => Err(too_long(self.max_line)),
                Some(Overflow::TooManyFields) => Err(Rejection::row(format!(
                    "expected {} fields as in the header, found {}",
                    self.names.len(),
                    info.fields
                ))),
                None => {
                    let fields: Vec<&[u8]> = self.reader.fields().collect();
                    if fields.len() == 1 && fields[0].iter().all(u8::is_ascii_whitespace) {
                        continue; // a blank line
                    }
                    match fields
                        .iter()
                        .map(|f| std::str::from_utf8(f))
                        .collect::<Result<Vec<&str>, _>>()
                    {
                        Ok(text) => day(&text, &self.cols, &self.names, &self.missing),
                        Err(_) => Err(Rejection::row(
                            "the row is not valid UTF-8; save the file as UTF-8",
                        )),
                    }
                }
            };
            return Ok(Some(OwnedRow {
                line: info.line,
                cells,
            }));
        }
    }
}

impl RowSource for GgirSource {
    fn map(&self) -> &ColumnMap {
        &self.map
    }

    fn next_chunk(&mut self, max: usize) -> Result<Option<Box<dyn RawChunk>>, IngestError> {
        let mut chunk = OwnedChunk {
            rows: Vec::new(),
            lines: Vec::new(),
        };
        while chunk.rows.len() < max.max(1) {
            let Some(OwnedRow { line, cells }) = self.next_row()? else {
                break;
            };
            chunk.lines.push(line);
            chunk.rows.push(cells.map(|cells| {
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

fn day(
    r: &[&str],
    c: &Columns,
    names: &[String],
    missing: &Missing,
) -> Result<Vec<Option<String>>, Rejection> {
    let id = r.get(c.id).copied().unwrap_or("").trim();
    let date = r.get(c.date).copied().unwrap_or("").trim();
    let total = |cols: &[usize]| -> Result<Option<f64>, Rejection> {
        let mut sum = None;
        for &i in cols {
            if let Some(v) = number(r, i, names, missing)? {
                sum = Some(sum.unwrap_or(0.0) + v);
            }
        }
        Ok(sum)
    };
    let totals: Vec<usize> = c.moderate.into_iter().chain(c.vigorous).collect();
    let minutes = if totals.is_empty() {
        total(&c.bouts)?
    } else {
        total(&totals)?
    };
    let Some(minutes) = minutes else {
        return Err(Rejection {
            column: Some(excerpt(
                &names[totals.first().or(c.bouts.first()).copied().unwrap_or(c.id)],
            )),
            value: Some("NA".into()),
            reason: "no MVPA minutes for this day (NA)".into(),
        });
    };
    let wear = match c.wear {
        Some((d, p)) => match (number(r, d, names, missing)?, number(r, p, names, missing)?) {
            (Some(d), Some(p)) if p <= 100.0 => Some(d * (1.0 - p / 100.0)),
            (Some(_), Some(p)) => {
                return Err(Rejection {
                    column: Some(excerpt(&names[c.wear.map_or(0, |w| w.1)])),
                    value: Some(p.to_string()),
                    reason: "a non-wear percentage above 100".into(),
                });
            }
            _ => None,
        },
        None => None,
    };
    let mut cells = walking_cells(id, date, minutes, None, wear, "ggir");
    if id.is_empty() {
        cells[0] = None;
    }
    if date.is_empty() {
        cells[1] = None;
    }
    Ok(cells)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn columns_by_pattern_and_wear_from_non_wear() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("part5_daysummary_MM_L40M100V400_T5A5.csv");
        std::fs::write(
            &p,
            "ID,filename,calendar_date,weekday,dur_day_total_IN_min,dur_day_total_LIG_min,dur_day_total_MOD_100_400_min,dur_day_total_VIG_400_min,dur_day_MVPA_bts_10_min,dur_day_spt_min,nonwear_perc_day_spt\n\
             S01,a.bin,2023-05-01,Monday,600,200,45.5,4.5,30,1440,10\n\
             S01,a.bin,2023-05-02,Tuesday,600,200,NA,NA,NA,1440,0\n\
             S01,a.bin,2023-05-03,Wednesday,600,200,-3,1,5,1440,0\n",
        )
        .unwrap();
        let rows = read(&p).unwrap();
        assert_eq!(rows.len(), 3);
        let c = rows[0].cells.as_ref().unwrap();
        assert_eq!(c[0].as_deref(), Some("S01"));
        assert_eq!(c[1].as_deref(), Some("2023-05-01"));
        assert_eq!(c[2].as_deref(), Some("50"));
        assert_eq!(c[4].as_deref(), Some("1296"));
        assert_eq!(rows[0].line, 2);
        let r = rows[1].cells.as_ref().unwrap_err();
        assert!(r.reason.contains("no MVPA minutes"), "{r:?}");
        let r = rows[2].cells.as_ref().unwrap_err();
        assert_eq!(r.column.as_deref(), Some("dur_day_total_mod_100_400_min"));
        assert_eq!(rows[2].line, 4);
        // Bouted MVPA when there are no totals.
        std::fs::write(&p, "ID;calendar_date;dur_day_MVPA_bts_10_min;dur_day_MVPA_bts_5_10_min\nS02;2023-05-01;20;7\n").unwrap();
        let rows = read(&p).unwrap();
        assert_eq!(rows[0].cells.as_ref().unwrap()[2].as_deref(), Some("27"));
        std::fs::write(&p, "ID,calendar_date,steps\nS02,2023-05-01,20\n").unwrap();
        let e = read(&p).unwrap_err().to_string();
        assert!(e.contains("needs MVPA minutes"), "{e}");
    }
}
