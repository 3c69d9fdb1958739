//! Writing result tables: rows of any serialisable struct become a polars
//! frame (columns in field order, types from the values: whole numbers,
//! numbers, booleans, ISO dates and date-times, text), written as Parquet and
//! CSV side by side, each atomically.
//!
//! CSV is opened by spreadsheets, which run a cell that begins with `=`,
//! `+`, `-`, `@`, a tab or a carriage return as a formula (CSV injection).
//! Text cells that begin so are written with a leading `'` in the CSV
//! ([`CsvCells::Escaped`], OWASP's advice); numbers are never changed, and
//! the Parquet file always holds the values as they are. [`CsvCells::Raw`]
//! (`--raw-csv`) writes text unchanged.

use std::path::Path;

use lumbar_model::atomic::PendingPath;
use lumbar_model::records::{ColumnTable, ColumnValues};
use polars::prelude::*;
use serde::Serialize;

use crate::parse::date_to_days;

mod json;
mod rows;
#[cfg(test)]
mod tests;

pub use rows::frame;

/// The columns a table of rows like `prototype` is written with (a row
/// with every optional field present), each with its type in words:
/// `integer`, `number`, `true/false`, `text`, `date`, `date-time`.
pub fn column_types<T: Serialize>(prototype: &T) -> PolarsResult<Vec<(String, &'static str)>> {
    let df = frame(std::slice::from_ref(prototype))?;
    Ok(df
        .columns()
        .iter()
        .map(|c| {
            let kind = match c.dtype() {
                DataType::Int64 | DataType::Int32 | DataType::UInt32 | DataType::UInt64 => {
                    "integer"
                }
                DataType::Float64 | DataType::Float32 => "number",
                DataType::Boolean => "true/false",
                DataType::Date => "date",
                DataType::Datetime(..) => "date-time",
                _ => "text",
            };
            (c.name().to_string(), kind)
        })
        .collect())
}

/// How text cells that a spreadsheet would run as a formula are written to CSV.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum CsvCells {
    /// A leading `'` before text that begins with `=`, `+`, `-`, `@`, tab or CR.
    #[default]
    Escaped,
    /// Text as it is.
    Raw,
}

/// Which files a result table is written as: `NAME.parquet`, `NAME.csv`,
/// `NAME.ndjson` (JSON lines). By default Parquet and CSV, as every
/// command wrote before `--format` chose among them.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, serde::Deserialize)]
pub struct Formats {
    pub parquet: bool,
    pub csv: bool,
    pub json: bool,
}

impl Default for Formats {
    fn default() -> Formats {
        Formats {
            parquet: true,
            csv: true,
            json: false,
        }
    }
}

impl Formats {
    /// The files a table of this name is written as, in this order.
    pub fn files(&self, name: &str) -> Vec<String> {
        let mut out = Vec::new();
        if self.parquet {
            out.push(format!("{name}.parquet"));
        }
        if self.csv {
            out.push(format!("{name}.csv"));
        }
        if self.json {
            out.push(format!("{name}.ndjson"));
        }
        out
    }
}

/// How a result table is written: which files, and how CSV text cells are.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct TableFiles {
    pub formats: Formats,
    pub cells: CsvCells,
}

/// Whether a spreadsheet would take this text cell for a formula (OWASP's
/// list of leading characters).
pub fn looks_like_formula(text: &str) -> bool {
    text.starts_with(['=', '+', '-', '@', '\t', '\r'])
}

/// The frame with every text cell that looks like a formula prefixed by `'`.
fn defuse_formulas(df: &DataFrame) -> PolarsResult<DataFrame> {
    let columns = df
        .columns()
        .iter()
        .map(|c| {
            if c.dtype() != &DataType::String {
                return Ok(c.clone());
            }
            let text = c.str()?;
            if !text.iter().flatten().any(looks_like_formula) {
                return Ok(c.clone());
            }
            let safe: StringChunked = text
                .iter()
                .map(|v| {
                    v.map(|t| {
                        if looks_like_formula(t) {
                            format!("'{t}")
                        } else {
                            t.to_string()
                        }
                    })
                })
                .collect();
            Ok(safe.with_name(c.name().clone()).into_column())
        })
        .collect::<PolarsResult<Vec<Column>>>()?;
    DataFrame::new(df.height(), columns)
}

/// Writes rows as `DIR/NAME.parquet` and `DIR/NAME.csv` (formulas escaped).
pub fn write_rows<T: Serialize>(rows: &[T], dir: &Path, name: &str) -> PolarsResult<()> {
    write_rows_as(rows, dir, name, CsvCells::Escaped)
}

/// Writes rows as `DIR/NAME.parquet` and `DIR/NAME.csv`.
pub fn write_rows_as<T: Serialize>(
    rows: &[T],
    dir: &Path,
    name: &str,
    cells: CsvCells,
) -> PolarsResult<()> {
    write_table_as(&mut frame(rows)?, dir, name, cells)
}

/// Rows per row group of a [`TableWriter`] fed a chunk at a time (analyze's weekly table).
pub const STREAM_CHUNK_ROWS: usize = 1 << 16;

/// A table written as `DIR/NAME.parquet`, `DIR/NAME.csv` and/or
/// `DIR/NAME.ndjson` a frame at a time (a row group each), so a table of
/// any length is never held whole. The files appear at
/// [`TableWriter::finish`], atomically; dropped unfinished, none does.
/// Every frame is cast to the writer's schema.
pub struct TableWriter {
    schema: Schema,
    cells: CsvCells,
    parquet: Option<(
        PendingPath,
        polars::io::parquet::write::BatchedWriter<std::fs::File>,
    )>,
    csv: Option<(
        PendingPath,
        polars::io::csv::write::BatchedWriter<std::fs::File>,
    )>,
    json: Option<(PendingPath, std::io::BufWriter<std::fs::File>)>,
}

impl TableWriter {
    /// Parquet and CSV, as [`TableWriter::create_with`] with the default formats.
    pub fn create(schema: Schema, dir: &Path, name: &str, cells: CsvCells) -> PolarsResult<Self> {
        TableWriter::create_with(
            schema,
            dir,
            name,
            TableFiles {
                cells,
                formats: Formats::default(),
            },
        )
    }

    pub fn create_with(
        schema: Schema,
        dir: &Path,
        name: &str,
        files: TableFiles,
    ) -> PolarsResult<Self> {
        std::fs::create_dir_all(dir)?;
        let f = files.formats;
        let parquet = if f.parquet {
            let pq = PendingPath::new(&dir.join(format!("{name}.parquet")));
            let w = ParquetWriter::new(std::fs::File::create(pq.temp())?).batched(&schema)?;
            Some((pq, w))
        } else {
            None
        };
        let csv = if f.csv {
            let csv = PendingPath::new(&dir.join(format!("{name}.csv")));
            let w = CsvWriter::new(std::fs::File::create(csv.temp())?).batched(&schema)?;
            Some((csv, w))
        } else {
            None
        };
        let json = if f.json {
            let j = PendingPath::new(&dir.join(format!("{name}.ndjson")));
            let w = std::io::BufWriter::new(std::fs::File::create(j.temp())?);
            Some((j, w))
        } else {
            None
        };
        Ok(TableWriter {
            schema,
            cells: files.cells,
            parquet,
            csv,
            json,
        })
    }

    /// A writer of column tables shaped as `prototype` (its columns may be
    /// empty: only their names and kinds count).
    pub fn for_columns(
        prototype: ColumnTable<'_>,
        dir: &Path,
        name: &str,
        files: TableFiles,
    ) -> PolarsResult<Self> {
        let schema = columns_frame(prototype)?.schema().as_ref().clone();
        TableWriter::create_with(schema, dir, name, files)
    }

    /// Writes a producer's columns as the next row group.
    pub fn write_columns(&mut self, columns: ColumnTable<'_>) -> PolarsResult<()> {
        self.write_frame(columns_frame(columns)?)
    }

    pub fn write_frame(&mut self, df: DataFrame) -> PolarsResult<()> {
        if df.height() == 0 {
            return Ok(());
        }
        let columns = df
            .columns()
            .iter()
            .zip(self.schema.iter())
            .map(|(c, (_, dtype))| {
                if c.dtype() == dtype {
                    Ok(c.clone())
                } else {
                    c.cast(dtype)
                }
            })
            .collect::<PolarsResult<Vec<Column>>>()?;
        let df = DataFrame::new(df.height(), columns)?;
        if let Some((_, w)) = &mut self.parquet {
            w.write_batch(&df)?;
        }
        if let Some((_, w)) = &mut self.json {
            json::write_lines(&df, w)?;
        }
        if let Some((_, w)) = &mut self.csv {
            match self.cells {
                CsvCells::Escaped => w.write_batch(&defuse_formulas(&df)?)?,
                CsvCells::Raw => w.write_batch(&df)?,
            }
        }
        Ok(())
    }

    /// Ends the files and puts them in place.
    pub fn finish(self) -> PolarsResult<()> {
        let TableWriter {
            parquet, csv, json, ..
        } = self;
        if let Some((path, w)) = parquet {
            w.finish()?;
            drop(w);
            path.commit()?;
        }
        if let Some((path, mut w)) = csv {
            w.finish()?;
            drop(w);
            path.commit()?;
        }
        if let Some((path, mut w)) = json {
            std::io::Write::flush(&mut w)?;
            w.into_inner().map_err(|e| e.into_error())?.sync_all()?;
            path.commit()?;
        }
        Ok(())
    }
}

/// Rows written as [`TableFiles`] says, each file atomically.
pub fn write_rows_to<T: Serialize>(
    rows: &[T],
    dir: &Path,
    name: &str,
    files: TableFiles,
) -> PolarsResult<()> {
    write_table_to(frame(rows)?, dir, name, files)
}

/// A producer's column table (types as given) written as [`TableFiles`]
/// says, each file atomically.
pub fn write_columns_to(
    columns: ColumnTable<'_>,
    dir: &Path,
    name: &str,
    files: TableFiles,
) -> PolarsResult<()> {
    write_table_to(columns_frame(columns)?, dir, name, files)
}

/// A table written as [`TableFiles`] says, each file atomically.
pub fn write_table_to(
    df: DataFrame,
    dir: &Path,
    name: &str,
    files: TableFiles,
) -> PolarsResult<()> {
    let mut w = TableWriter::create_with(df.schema().as_ref().clone(), dir, name, files)?;
    w.write_frame(df)?;
    w.finish()
}

/// Writes `DIR/NAME.parquet` and `DIR/NAME.csv` (formulas escaped), each atomically.
pub fn write_table(df: &mut DataFrame, dir: &Path, name: &str) -> PolarsResult<()> {
    write_table_as(df, dir, name, CsvCells::Escaped)
}

/// Writes `DIR/NAME.parquet` and `DIR/NAME.csv`, each atomically.
pub fn write_table_as(
    df: &mut DataFrame,
    dir: &Path,
    name: &str,
    cells: CsvCells,
) -> PolarsResult<()> {
    write_table_files(df, dir, name, cells)
}

fn write_table_files(
    df: &mut DataFrame,
    dir: &Path,
    name: &str,
    cells: CsvCells,
) -> PolarsResult<()> {
    std::fs::create_dir_all(dir)?;
    let pq = PendingPath::new(&dir.join(format!("{name}.parquet")));
    ParquetWriter::new(std::fs::File::create(pq.temp())?).finish(df)?;
    pq.commit()?;
    let csv = PendingPath::new(&dir.join(format!("{name}.csv")));
    let file = std::fs::File::create(csv.temp())?;
    match cells {
        CsvCells::Escaped => CsvWriter::new(file).finish(&mut defuse_formulas(df)?)?,
        CsvCells::Raw => CsvWriter::new(file).finish(df)?,
    }
    csv.commit()?;
    Ok(())
}

/// Writes a producer's column table as one Parquet file at `path`,
/// atomically, with no CSV beside it (the simulator's summary and
/// trajectory files). Column types are the [`ColumnValues`]' own, so a
/// `u32` column stays UInt32.
pub fn write_parquet_columns(columns: ColumnTable<'_>, path: &Path) -> PolarsResult<()> {
    let mut df = columns_frame(columns)?;
    let pending = PendingPath::new(path);
    ParquetWriter::new(std::fs::File::create(pending.temp())?).finish(&mut df)?;
    pending.commit()?;
    Ok(())
}

/// A producer's column table as a frame, each column typed as its values
/// (`I64` Int64, `Date` Date, and so on).
pub fn columns_frame(columns: ColumnTable<'_>) -> PolarsResult<DataFrame> {
    let height = columns.first().map_or(0, |(_, v)| values_len(v));
    let columns = columns
        .into_iter()
        .map(|(name, v)| {
            let name = PlSmallStr::from(name);
            Ok(match v {
                ColumnValues::U32(x) => Column::new(name, x.as_ref()),
                ColumnValues::OptU32(x) => Column::new(name, x.as_ref()),
                ColumnValues::U64(x) => Column::new(name, x.as_ref()),
                ColumnValues::I64(x) => Column::new(name, x.as_ref()),
                ColumnValues::F64(x) => Column::new(name, x.as_ref()),
                ColumnValues::OptF64(x) => Column::new(name, x.as_ref()),
                ColumnValues::Bool(x) => Column::new(name, x.as_ref()),
                ColumnValues::Str(x) => Column::new(name, x),
                ColumnValues::Date(x) => {
                    let days: Vec<i32> = x.iter().map(|d| date_to_days(*d)).collect();
                    Column::new(name, days).cast(&DataType::Date)?
                }
            })
        })
        .collect::<PolarsResult<Vec<Column>>>()?;
    DataFrame::new(height, columns)
}

fn values_len(v: &ColumnValues<'_>) -> usize {
    match v {
        ColumnValues::U32(x) => x.len(),
        ColumnValues::OptU32(x) => x.len(),
        ColumnValues::U64(x) => x.len(),
        ColumnValues::I64(x) => x.len(),
        ColumnValues::Date(x) => x.len(),
        ColumnValues::F64(x) => x.len(),
        ColumnValues::OptF64(x) => x.len(),
        ColumnValues::Bool(x) => x.len(),
        ColumnValues::Str(x) => x.len(),
    }
}
