//! Which format a file is ([`detect`]) and the source that reads it
//! ([`open_input_with`]): the top of the reading layers, over the formats
//! (`crate::formats`, one peer module each) and their primitives
//! (`crate::source`, re-exported here).
//!
//! Every source hands rows to a callback as text cells already arranged in
//! canonical column order, with the row's line number (for Parquet, its
//! 1-based row number). A row that cannot even be split into cells (invalid
//! UTF-8, wrong field count, broken JSON) arrives as a [`Rejection`]; only
//! problems that stop the whole file (cannot open, no header, a required
//! column missing, an I/O error) are errors.

use std::io::{BufRead, Read};
use std::path::Path;

use lumbar_model::Table;

use crate::error::IngestError;
use crate::limits::Limits;
use crate::parse::Missing;
use crate::source::{open, open_text};
use crate::validate::ExtraKind;
#[cfg(doc)]
use crate::validate::Rejection;

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
    use crate::formats::{apple, fhir, ggir};
    use crate::source::PreparedSource;
    let limits = &reading.limits;
    if !format.tables().contains(&table) {
        return Err(IngestError::Header {
            path: path.to_path_buf(),
            problem: format!(
                "{} data cannot fill the {table} table; give it as the {} table",
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
            problem: "an Apple Health export does not say whose it is: give the patient's id (patient_id), or name the file after the patient (P00042.zip)".into(),
        });
    }
    Ok(stem)
}

pub use crate::formats::csv::CsvSource;
pub use crate::formats::ndjson::NdjsonSource;
pub use crate::formats::parquet::ParquetSource;
pub use crate::source::{
    ColumnMap, RawChunk, Reading, RowCells, RowSource, for_each_row, normalise_name,
};

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
mod tests;
