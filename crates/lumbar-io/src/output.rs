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

use crate::parse::{date_to_days, datetime_to_ms, parse_date, parse_datetime};

/// One serialised cell.
enum Cell {
    Null,
    Int(i64),
    Float(f64),
    Bool(bool),
    Str(String),
}

impl Cell {
    /// The cell as text in a column that also holds text (numbers as JSON
    /// writes them).
    fn into_text(self) -> Option<String> {
        match self {
            Cell::Null => None,
            Cell::Int(i) => Some(i.to_string()),
            Cell::Float(x) => Some(
                serde_json::Number::from_f64(x).map_or_else(|| "null".into(), |n| n.to_string()),
            ),
            Cell::Bool(b) => Some(b.to_string()),
            Cell::Str(s) => Some(s),
        }
    }
}

/// A column being filled, typed by its first value: whole numbers become
/// numbers when a fraction turns up, and anything mixed with text becomes
/// text.
enum Builder {
    Nulls(usize),
    Int(Vec<Option<i64>>),
    Float(Vec<Option<f64>>),
    Bool(Vec<Option<bool>>),
    Str(Vec<Option<String>>),
}

impl Builder {
    fn push(&mut self, cell: Cell) {
        if let Cell::Null = cell {
            match self {
                Builder::Nulls(n) => *n += 1,
                Builder::Int(v) => v.push(None),
                Builder::Float(v) => v.push(None),
                Builder::Bool(v) => v.push(None),
                Builder::Str(v) => v.push(None),
            }
            return;
        }
        match (&mut *self, cell) {
            (Builder::Int(v), Cell::Int(i)) => v.push(Some(i)),
            (Builder::Float(v), Cell::Float(x)) => v.push(Some(x)),
            (Builder::Float(v), Cell::Int(i)) => v.push(Some(i as f64)),
            (Builder::Bool(v), Cell::Bool(b)) => v.push(Some(b)),
            (Builder::Str(v), c) => v.push(c.into_text()),
            (Builder::Nulls(n), c) => {
                let n = *n;
                *self = match c {
                    Cell::Int(i) => Builder::Int(nulls_then(n, i)),
                    Cell::Float(x) => Builder::Float(nulls_then(n, x)),
                    Cell::Bool(b) => Builder::Bool(nulls_then(n, b)),
                    other => Builder::Str(nulls_then_opt(n, other.into_text())),
                };
            }
            (Builder::Int(v), Cell::Float(x)) => {
                let mut f: Vec<Option<f64>> = v.iter().map(|i| i.map(|i| i as f64)).collect();
                f.push(Some(x));
                *self = Builder::Float(f);
            }
            (other, c) => {
                let mut text = other.take_text();
                text.push(c.into_text());
                *self = Builder::Str(text);
            }
        }
    }

    /// The values so far as text (when a column turns out to be mixed).
    fn take_text(&mut self) -> Vec<Option<String>> {
        let cells: Vec<Cell> = match std::mem::replace(self, Builder::Nulls(0)) {
            Builder::Nulls(n) => (0..n).map(|_| Cell::Null).collect(),
            Builder::Int(v) => v
                .into_iter()
                .map(|c| c.map_or(Cell::Null, Cell::Int))
                .collect(),
            Builder::Float(v) => v
                .into_iter()
                .map(|c| c.map_or(Cell::Null, Cell::Float))
                .collect(),
            Builder::Bool(v) => v
                .into_iter()
                .map(|c| c.map_or(Cell::Null, Cell::Bool))
                .collect(),
            Builder::Str(v) => return v,
        };
        cells.into_iter().map(Cell::into_text).collect()
    }

    fn into_column(self, name: &str) -> PolarsResult<Column> {
        let n = PlSmallStr::from_str(name);
        let series = match self {
            Builder::Nulls(len) => Series::new(n, vec![None::<String>; len]),
            Builder::Int(v) => Series::new(n, v),
            Builder::Float(v) => Series::new(n, v),
            Builder::Bool(v) => Series::new(n, v),
            Builder::Str(v) => {
                let present: Vec<&str> = v.iter().flatten().map(String::as_str).collect();
                if !present.is_empty()
                    && present
                        .iter()
                        .all(|s| s.len() == 10 && parse_date(s).is_ok())
                {
                    Series::new(
                        n,
                        v.iter()
                            .map(|s| {
                                s.as_deref()
                                    .and_then(|s| parse_date(s).ok())
                                    .map(date_to_days)
                            })
                            .collect::<Vec<_>>(),
                    )
                    .cast(&DataType::Date)?
                } else if !present.is_empty()
                    && present
                        .iter()
                        .all(|s| s.len() >= 16 && parse_datetime(s).is_ok())
                {
                    Series::new(
                        n,
                        v.iter()
                            .map(|s| {
                                s.as_deref()
                                    .and_then(|s| parse_datetime(s).ok())
                                    .map(datetime_to_ms)
                            })
                            .collect::<Vec<_>>(),
                    )
                    .cast(&DataType::Datetime(TimeUnit::Milliseconds, None))?
                } else {
                    Series::new(n, v)
                }
            }
        };
        Ok(series.into_column())
    }
}

fn nulls_then<T>(n: usize, value: T) -> Vec<Option<T>> {
    nulls_then_opt(n, Some(value))
}

fn nulls_then_opt<T>(n: usize, value: Option<T>) -> Vec<Option<T>> {
    let mut v: Vec<Option<T>> = Vec::with_capacity(n + 1);
    v.extend((0..n).map(|_| None));
    v.push(value);
    v
}

/// Why a value is not one cell: it is a list, a map or a nested struct (it
/// is then written as its JSON text).
#[derive(Debug)]
struct NotACell;

impl std::fmt::Display for NotACell {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("not a single value")
    }
}

impl std::error::Error for NotACell {}

impl serde::ser::Error for NotACell {
    fn custom<M: std::fmt::Display>(_: M) -> Self {
        NotACell
    }
}

/// Whole numbers that fit an i64 losslessly are whole-number cells.
macro_rules! whole_numbers {
    ($($f:ident($t:ty)),* $(,)?) => {$(
        fn $f(self, v: $t) -> Result<Cell, NotACell> {
            Ok(Cell::Int(v.into()))
        }
    )*};
}

/// Serialises one field's value into a [`Cell`]. As serde_json writes them:
/// non-finite numbers are null, unit variants their (renamed) name.
struct CellSerializer;

type Impossible = serde::ser::Impossible<Cell, NotACell>;

impl serde::Serializer for CellSerializer {
    type Ok = Cell;
    type Error = NotACell;
    type SerializeSeq = Impossible;
    type SerializeTuple = Impossible;
    type SerializeTupleStruct = Impossible;
    type SerializeTupleVariant = Impossible;
    type SerializeMap = Impossible;
    type SerializeStruct = Impossible;
    type SerializeStructVariant = Impossible;

    fn serialize_bool(self, v: bool) -> Result<Cell, NotACell> {
        Ok(Cell::Bool(v))
    }
    whole_numbers!(
        serialize_i8(i8),
        serialize_i16(i16),
        serialize_i32(i32),
        serialize_i64(i64),
        serialize_u8(u8),
        serialize_u16(u16),
        serialize_u32(u32),
    );
    fn serialize_u64(self, v: u64) -> Result<Cell, NotACell> {
        Ok(i64::try_from(v).map_or(Cell::Float(v as f64), Cell::Int))
    }
    fn serialize_f32(self, v: f32) -> Result<Cell, NotACell> {
        self.serialize_f64(v.into())
    }
    fn serialize_f64(self, v: f64) -> Result<Cell, NotACell> {
        Ok(if v.is_finite() {
            Cell::Float(v)
        } else {
            Cell::Null
        })
    }
    fn serialize_char(self, v: char) -> Result<Cell, NotACell> {
        Ok(Cell::Str(v.to_string()))
    }
    fn serialize_str(self, v: &str) -> Result<Cell, NotACell> {
        Ok(Cell::Str(v.to_string()))
    }
    fn serialize_bytes(self, _: &[u8]) -> Result<Cell, NotACell> {
        Err(NotACell)
    }
    fn serialize_none(self) -> Result<Cell, NotACell> {
        Ok(Cell::Null)
    }
    fn serialize_some<T: ?Sized + Serialize>(self, value: &T) -> Result<Cell, NotACell> {
        value.serialize(self)
    }
    fn serialize_unit(self) -> Result<Cell, NotACell> {
        Ok(Cell::Null)
    }
    fn serialize_unit_struct(self, _: &'static str) -> Result<Cell, NotACell> {
        Ok(Cell::Null)
    }
    fn serialize_unit_variant(
        self,
        _: &'static str,
        _: u32,
        variant: &'static str,
    ) -> Result<Cell, NotACell> {
        Ok(Cell::Str(variant.to_string()))
    }
    fn serialize_newtype_struct<T: ?Sized + Serialize>(
        self,
        _: &'static str,
        value: &T,
    ) -> Result<Cell, NotACell> {
        value.serialize(self)
    }
    fn serialize_newtype_variant<T: ?Sized + Serialize>(
        self,
        _: &'static str,
        _: u32,
        _: &'static str,
        _: &T,
    ) -> Result<Cell, NotACell> {
        Err(NotACell)
    }
    fn serialize_seq(self, _: Option<usize>) -> Result<Impossible, NotACell> {
        Err(NotACell)
    }
    fn serialize_tuple(self, _: usize) -> Result<Impossible, NotACell> {
        Err(NotACell)
    }
    fn serialize_tuple_struct(self, _: &'static str, _: usize) -> Result<Impossible, NotACell> {
        Err(NotACell)
    }
    fn serialize_tuple_variant(
        self,
        _: &'static str,
        _: u32,
        _: &'static str,
        _: usize,
    ) -> Result<Impossible, NotACell> {
        Err(NotACell)
    }
    fn serialize_map(self, _: Option<usize>) -> Result<Impossible, NotACell> {
        Err(NotACell)
    }
    fn serialize_struct(self, _: &'static str, _: usize) -> Result<Impossible, NotACell> {
        Err(NotACell)
    }
    fn serialize_struct_variant(
        self,
        _: &'static str,
        _: u32,
        _: &'static str,
        _: usize,
    ) -> Result<Impossible, NotACell> {
        Err(NotACell)
    }
}

/// The fields of one row, cell by cell into the columns.
struct RowFields<'a> {
    names: &'a mut Vec<&'static str>,
    columns: &'a mut Vec<Builder>,
    first_row: bool,
    /// Which columns this row filled (a field skipped when empty is null).
    filled: &'a mut Vec<bool>,
    next: usize,
}

impl serde::ser::SerializeStruct for RowFields<'_> {
    type Ok = ();
    type Error = serde_json::Error;

    fn serialize_field<T: ?Sized + Serialize>(
        &mut self,
        key: &'static str,
        value: &T,
    ) -> Result<(), serde_json::Error> {
        let cell = match value.serialize(CellSerializer) {
            Ok(cell) => cell,
            // A list or a nested struct: its JSON text.
            Err(NotACell) => Cell::Str(serde_json::to_string(value)?),
        };
        if self.first_row {
            self.names.push(key);
            self.columns.push(Builder::Nulls(0));
            self.filled.push(false);
        }
        // Fields come in declaration order: look further only if not.
        let at = if self.names.get(self.next) == Some(&key) {
            Some(self.next)
        } else {
            self.names.iter().position(|n| *n == key)
        };
        if let Some(at) = at {
            if !self.filled[at] {
                self.columns[at].push(cell);
                self.filled[at] = true;
            }
            self.next = at + 1;
        }
        Ok(())
    }

    fn end(self) -> Result<(), serde_json::Error> {
        for (col, filled) in self.columns.iter_mut().zip(self.filled.iter_mut()) {
            if !*filled {
                col.push(Cell::Null);
            }
            *filled = false;
        }
        Ok(())
    }
}

/// Serialises a row: only a struct (or a map-like struct) is a row.
struct RowSerializer<'a>(RowFields<'a>);

macro_rules! not_a_row {
    ($($f:ident($($t:ty),*)),* $(,)?) => {$(
        fn $f(self, $(_: $t),*) -> Result<(), serde_json::Error> {
            Err(serde::ser::Error::custom("a result row must be a struct"))
        }
    )*};
}

impl<'a> serde::Serializer for RowSerializer<'a> {
    type Ok = ();
    type Error = serde_json::Error;
    type SerializeSeq = serde::ser::Impossible<(), serde_json::Error>;
    type SerializeTuple = serde::ser::Impossible<(), serde_json::Error>;
    type SerializeTupleStruct = serde::ser::Impossible<(), serde_json::Error>;
    type SerializeTupleVariant = serde::ser::Impossible<(), serde_json::Error>;
    type SerializeMap = serde::ser::Impossible<(), serde_json::Error>;
    type SerializeStruct = RowFields<'a>;
    type SerializeStructVariant = serde::ser::Impossible<(), serde_json::Error>;

    fn serialize_struct(
        self,
        _: &'static str,
        _: usize,
    ) -> Result<RowFields<'a>, serde_json::Error> {
        Ok(self.0)
    }

    not_a_row!(
        serialize_bool(bool),
        serialize_i8(i8),
        serialize_i16(i16),
        serialize_i32(i32),
        serialize_i64(i64),
        serialize_u8(u8),
        serialize_u16(u16),
        serialize_u32(u32),
        serialize_u64(u64),
        serialize_f32(f32),
        serialize_f64(f64),
        serialize_char(char),
        serialize_str(&str),
        serialize_bytes(&[u8]),
        serialize_none(),
        serialize_unit(),
        serialize_unit_struct(&'static str),
        serialize_unit_variant(&'static str, u32, &'static str),
    );

    fn serialize_some<T: ?Sized + Serialize>(self, value: &T) -> Result<(), serde_json::Error> {
        value.serialize(self)
    }
    fn serialize_newtype_struct<T: ?Sized + Serialize>(
        self,
        _: &'static str,
        value: &T,
    ) -> Result<(), serde_json::Error> {
        value.serialize(self)
    }
    fn serialize_newtype_variant<T: ?Sized + Serialize>(
        self,
        _: &'static str,
        _: u32,
        _: &'static str,
        _: &T,
    ) -> Result<(), serde_json::Error> {
        Err(serde::ser::Error::custom("a result row must be a struct"))
    }
    fn serialize_seq(self, _: Option<usize>) -> Result<Self::SerializeSeq, serde_json::Error> {
        Err(serde::ser::Error::custom("a result row must be a struct"))
    }
    fn serialize_tuple(self, _: usize) -> Result<Self::SerializeTuple, serde_json::Error> {
        Err(serde::ser::Error::custom("a result row must be a struct"))
    }
    fn serialize_tuple_struct(
        self,
        _: &'static str,
        _: usize,
    ) -> Result<Self::SerializeTupleStruct, serde_json::Error> {
        Err(serde::ser::Error::custom("a result row must be a struct"))
    }
    fn serialize_tuple_variant(
        self,
        _: &'static str,
        _: u32,
        _: &'static str,
        _: usize,
    ) -> Result<Self::SerializeTupleVariant, serde_json::Error> {
        Err(serde::ser::Error::custom("a result row must be a struct"))
    }
    fn serialize_map(self, _: Option<usize>) -> Result<Self::SerializeMap, serde_json::Error> {
        Err(serde::ser::Error::custom("a result row must be a struct"))
    }
    fn serialize_struct_variant(
        self,
        _: &'static str,
        _: u32,
        _: &'static str,
        _: usize,
    ) -> Result<Self::SerializeStructVariant, serde_json::Error> {
        Err(serde::ser::Error::custom("a result row must be a struct"))
    }
}

/// Rows of a serialisable struct as a frame: columns in field order, typed
/// by their values (whole numbers, numbers, booleans, ISO dates and
/// date-times, text). Each row is serialised straight into the columns: no
/// JSON value per row (which took 17 GB for 7 million weekly adherence rows).
pub fn frame<T: Serialize>(rows: &[T]) -> PolarsResult<DataFrame> {
    let (mut names, mut columns, mut filled) = (Vec::new(), Vec::new(), Vec::new());
    for (i, r) in rows.iter().enumerate() {
        r.serialize(RowSerializer(RowFields {
            names: &mut names,
            columns: &mut columns,
            first_row: i == 0,
            filled: &mut filled,
            next: 0,
        }))
        .map_err(|e| polars_err!(ComputeError: "{e}"))?;
    }
    if rows.is_empty() {
        return Ok(DataFrame::empty());
    }
    let columns = names
        .iter()
        .zip(columns)
        .map(|(n, b)| b.into_column(n))
        .collect::<PolarsResult<Vec<Column>>>()?;
    DataFrame::new(rows.len(), columns)
}

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

/// Rows per row group of [`write_rows_streamed`].
pub const STREAM_CHUNK_ROWS: usize = 1 << 16;

/// Writes rows as `DIR/NAME.parquet` and `DIR/NAME.csv`, each atomically,
/// through a [`RowsWriter`].
pub fn write_rows_streamed<T: Serialize>(
    prototype: &T,
    rows: impl Iterator<Item = T>,
    dir: &Path,
    name: &str,
    cells: CsvCells,
) -> PolarsResult<()> {
    let mut w = RowsWriter::create(prototype, dir, name, cells)?;
    for r in rows {
        w.push(r)?;
    }
    w.finish()
}

/// A table written as `DIR/NAME.parquet` and `DIR/NAME.csv` a frame at a
/// time (a row group each), so a table of any length is never held whole.
/// Both files appear at [`TableWriter::finish`], atomically; dropped
/// unfinished, neither does. Every frame is cast to the writer's schema.
pub struct TableWriter {
    schema: Schema,
    cells: CsvCells,
    parquet: (
        PendingPath,
        polars::io::parquet::write::BatchedWriter<std::fs::File>,
    ),
    csv: (
        PendingPath,
        polars::io::csv::write::BatchedWriter<std::fs::File>,
    ),
}

impl TableWriter {
    pub fn create(schema: Schema, dir: &Path, name: &str, cells: CsvCells) -> PolarsResult<Self> {
        std::fs::create_dir_all(dir)?;
        let pq = PendingPath::new(&dir.join(format!("{name}.parquet")));
        let csv = PendingPath::new(&dir.join(format!("{name}.csv")));
        let pq_writer = ParquetWriter::new(std::fs::File::create(pq.temp())?).batched(&schema)?;
        let csv_writer = CsvWriter::new(std::fs::File::create(csv.temp())?).batched(&schema)?;
        Ok(TableWriter {
            schema,
            cells,
            parquet: (pq, pq_writer),
            csv: (csv, csv_writer),
        })
    }

    /// A writer of column tables shaped as `prototype` (its columns may be
    /// empty: only their names and kinds count).
    pub fn for_columns(
        prototype: ColumnTable<'_>,
        dir: &Path,
        name: &str,
        cells: CsvCells,
    ) -> PolarsResult<Self> {
        let schema = columns_frame(prototype)?.schema().as_ref().clone();
        TableWriter::create(schema, dir, name, cells)
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
        self.parquet.1.write_batch(&df)?;
        match self.cells {
            CsvCells::Escaped => self.csv.1.write_batch(&defuse_formulas(&df)?),
            CsvCells::Raw => self.csv.1.write_batch(&df),
        }
    }

    /// Ends both files and puts them in place.
    pub fn finish(mut self) -> PolarsResult<()> {
        self.parquet.1.finish()?;
        self.csv.1.finish()?;
        let TableWriter { parquet, csv, .. } = self;
        drop((parquet.1, csv.1));
        parquet.0.commit()?;
        csv.0.commit()?;
        Ok(())
    }
}

/// Rows written through a [`TableWriter`] as they come,
/// [`STREAM_CHUNK_ROWS`] at a time. The columns take the types of
/// `prototype`, a row with every optional field present, so that a chunk
/// whose optional column happens to be empty is typed as the rest.
pub struct RowsWriter<T> {
    table: TableWriter,
    chunk: Vec<T>,
}

impl<T: Serialize> RowsWriter<T> {
    pub fn create(prototype: &T, dir: &Path, name: &str, cells: CsvCells) -> PolarsResult<Self> {
        let schema = frame(std::slice::from_ref(prototype))?
            .schema()
            .as_ref()
            .clone();
        Ok(RowsWriter {
            table: TableWriter::create(schema, dir, name, cells)?,
            chunk: Vec::with_capacity(STREAM_CHUNK_ROWS),
        })
    }

    pub fn push(&mut self, row: T) -> PolarsResult<()> {
        self.chunk.push(row);
        if self.chunk.len() == STREAM_CHUNK_ROWS {
            self.write_chunk()?;
        }
        Ok(())
    }

    fn write_chunk(&mut self) -> PolarsResult<()> {
        if self.chunk.is_empty() {
            return Ok(());
        }
        let df = frame(&self.chunk)?;
        self.chunk.clear();
        self.table.write_frame(df)
    }

    /// Writes what is left and puts both files in place.
    pub fn finish(mut self) -> PolarsResult<()> {
        self.write_chunk()?;
        self.table.finish()
    }
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
    write_table_files(df, dir, name, cells, (true, true))
}

/// Rows as `DIR/NAME.parquet` and/or `DIR/NAME.csv` (`(parquet, csv)`), each atomically.
pub fn write_rows_files<T: Serialize>(
    rows: &[T],
    dir: &Path,
    name: &str,
    cells: CsvCells,
    which: (bool, bool),
) -> PolarsResult<()> {
    write_table_files(&mut frame(rows)?, dir, name, cells, which)
}

fn write_table_files(
    df: &mut DataFrame,
    dir: &Path,
    name: &str,
    cells: CsvCells,
    (parquet, csv): (bool, bool),
) -> PolarsResult<()> {
    std::fs::create_dir_all(dir)?;
    if parquet {
        let pq = PendingPath::new(&dir.join(format!("{name}.parquet")));
        ParquetWriter::new(std::fs::File::create(pq.temp())?).finish(df)?;
        pq.commit()?;
    }
    if !csv {
        return Ok(());
    }
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

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::Value;

    #[derive(Serialize, Clone, Copy)]
    #[serde(rename_all = "lowercase")]
    enum Kind {
        Efron,
        BreslowTies,
    }

    #[derive(Serialize)]
    struct Wide {
        text: String,
        count: u32,
        big: u64,
        signed: i64,
        share: f64,
        not_a_number: f64,
        flag: Option<bool>,
        kind: Kind,
        day: chrono::NaiveDate,
        at: chrono::NaiveDateTime,
        interval: Option<(f64, f64, f64)>,
        list: Vec<u32>,
        #[serde(skip_serializing_if = "Option::is_none")]
        sometimes: Option<f64>,
        mixed: Value,
        label: Value,
    }

    /// A table longer than one chunk, whose optional column is empty in the
    /// first chunk only, is one table of the prototype's types, row for row
    /// as the unchunked writer's.
    #[test]
    fn streamed_rows_keep_the_prototype_types_across_chunks() {
        #[derive(Serialize)]
        struct Row {
            id: String,
            n: u32,
            dose: Option<f64>,
        }
        let make = |k: usize| Row {
            id: format!("=P{k}"),
            n: k as u32,
            dose: (k > STREAM_CHUNK_ROWS).then_some(k as f64 / 7.0),
        };
        let total = STREAM_CHUNK_ROWS + 1000;
        let dir = tempfile::tempdir().unwrap();
        let proto = Row {
            id: "p".into(),
            n: 0,
            dose: Some(0.0),
        };
        write_rows_streamed(
            &proto,
            (0..total).map(make),
            dir.path(),
            "s",
            CsvCells::Escaped,
        )
        .unwrap();
        let rows: Vec<Row> = (0..total).map(make).collect();
        write_rows_as(&rows, dir.path(), "w", CsvCells::Escaped).unwrap();
        let read = |name: &str| {
            ParquetReader::new(std::fs::File::open(dir.path().join(name)).unwrap())
                .finish()
                .unwrap()
        };
        let (s, w) = (read("s.parquet"), read("w.parquet"));
        assert_eq!(s.height(), total);
        assert_eq!(s.schema(), w.schema());
        assert!(s.equals_missing(&w));
        let (cs, cw) = (
            std::fs::read_to_string(dir.path().join("s.csv")).unwrap(),
            std::fs::read_to_string(dir.path().join("w.csv")).unwrap(),
        );
        assert_eq!(cs, cw);
        assert!(
            cs.lines().nth(1).unwrap().starts_with("'=P0,0,"),
            "{}",
            &cs[..40]
        );
        // No rows: the prototype's columns, and a header line.
        write_rows_streamed(&proto, std::iter::empty(), dir.path(), "e", CsvCells::Raw).unwrap();
        assert_eq!(read("e.parquet").width(), 3);
        assert_eq!(
            std::fs::read_to_string(dir.path().join("e.csv"))
                .unwrap()
                .trim(),
            "id,n,dose"
        );
    }

    #[test]
    fn each_cell_holds_what_the_rows_json_holds() {
        let d = chrono::NaiveDate::from_ymd_opt(2025, 1, 6).unwrap();
        let rows: Vec<Wide> = (0..7u32)
            .map(|i| Wide {
                text: format!("p{i}"),
                count: i,
                big: (1u64 << 40) + i as u64,
                signed: -(i as i64),
                share: i as f64 / 3.0,
                not_a_number: if i % 3 == 0 { f64::NAN } else { i as f64 },
                flag: (i % 2 == 0).then_some(i % 4 == 0),
                kind: if i % 2 == 0 {
                    Kind::Efron
                } else {
                    Kind::BreslowTies
                },
                day: d + chrono::Duration::days(i as i64),
                at: d.and_hms_opt(8, i, 0).unwrap(),
                interval: (i > 2).then_some((1.0, 0.5, 2.0 + i as f64)),
                list: (0..i).collect(),
                sometimes: (i % 3 == 1).then_some(2.5),
                mixed: match i % 2 {
                    0 => Value::from(i),
                    _ => Value::from(i as f64 + 0.5),
                },
                label: match i % 3 {
                    0 => Value::from(i),
                    1 => Value::Bool(true),
                    _ => Value::from("text"),
                },
            })
            .collect();
        let new = frame(&rows).unwrap();
        let names: Vec<&str> = new.get_column_names().iter().map(|c| c.as_str()).collect();
        // `sometimes` is skipped in the first row, so it is not a column.
        assert_eq!(
            names,
            [
                "text",
                "count",
                "big",
                "signed",
                "share",
                "not_a_number",
                "flag",
                "kind",
                "day",
                "at",
                "interval",
                "list",
                "mixed",
                "label"
            ]
        );
        // Every cell is what the row's JSON value holds: numbers equal (NaN
        // as null), dates and date-times as written, anything else as its
        // JSON text.
        for (r, row) in rows.iter().enumerate() {
            let json = serde_json::to_value(row).unwrap();
            for col in new.columns() {
                let want = &json[col.name().as_str()];
                let got = col.get(r).unwrap();
                let same = match (want, &got) {
                    (Value::Null, AnyValue::Null) => true,
                    (Value::Number(n), AnyValue::Int64(i)) => n.as_i64() == Some(*i),
                    (Value::Number(n), AnyValue::Float64(x)) => n.as_f64() == Some(*x),
                    (Value::Bool(b), AnyValue::Boolean(g)) => b == g,
                    (Value::String(s), AnyValue::Date(d)) => {
                        parse_date(s).map(date_to_days) == Ok(*d)
                    }
                    (Value::String(s), AnyValue::Datetime(ms, ..)) => {
                        parse_datetime(s).map(datetime_to_ms) == Ok(*ms)
                    }
                    (Value::String(s), AnyValue::String(g)) => s == g,
                    (other, AnyValue::String(g)) => {
                        let text = other.to_string();
                        text == *g
                    }
                    _ => false,
                };
                assert!(same, "row {r}, {}: {want} vs {got:?}", col.name());
            }
        }
        // Whole numbers that meet a fraction become numbers; with text, text.
        assert_eq!(new.column("mixed").unwrap().dtype(), &DataType::Float64);
        assert_eq!(new.column("label").unwrap().dtype(), &DataType::String);
        assert_eq!(new.column("not_a_number").unwrap().null_count(), 3);
        // Beyond i64 (a JSON value would not convert): a number.
        #[derive(Serialize)]
        struct Huge {
            n: u64,
        }
        let f = frame(&[Huge { n: u64::MAX }]).unwrap();
        assert_eq!(
            f.column("n").unwrap().f64().unwrap().get(0),
            Some(u64::MAX as f64)
        );
    }

    #[derive(Serialize)]
    struct Row {
        id: String,
        n: u32,
        share: f64,
        ok: bool,
        day: chrono::NaiveDate,
        maybe: Option<f64>,
    }

    #[test]
    fn struct_rows_become_typed_columns_in_field_order() {
        let d = chrono::NaiveDate::from_ymd_opt(2025, 1, 6).unwrap();
        let rows = [
            Row {
                id: "a".into(),
                n: 1,
                share: 0.5,
                ok: true,
                day: d,
                maybe: None,
            },
            Row {
                id: "b".into(),
                n: 2,
                share: 1.0,
                ok: false,
                day: d,
                maybe: Some(2.5),
            },
        ];
        let df = frame(&rows).unwrap();
        let names: Vec<&str> = df.get_column_names().iter().map(|c| c.as_str()).collect();
        assert_eq!(names, ["id", "n", "share", "ok", "day", "maybe"]);
        let types: Vec<DataType> = df.dtypes();
        assert_eq!(
            types,
            [
                DataType::String,
                DataType::Int64,
                DataType::Float64,
                DataType::Boolean,
                DataType::Date,
                DataType::Float64
            ]
        );
        assert_eq!(df.column("maybe").unwrap().null_count(), 1);
    }

    #[test]
    fn formulas_are_defused_in_csv_only() {
        #[derive(Serialize)]
        struct Row {
            site: String,
            change: f64,
        }
        let rows = vec![
            Row {
                site: "=HYPERLINK(\"http://x\",\"y\")".into(),
                change: -1.5,
            },
            Row {
                site: "@SUM(A1)".into(),
                change: 2.0,
            },
            Row {
                site: "north".into(),
                change: -0.25,
            },
            Row {
                site: "-2+3".into(),
                change: 0.0,
            },
            Row {
                site: "\tx".into(),
                change: 0.0,
            },
        ];
        let dir = std::env::temp_dir().join(format!("lumbar-out-csvinj-{}", std::process::id()));
        write_rows(&rows, &dir, "t").unwrap();
        let csv = std::fs::read_to_string(dir.join("t.csv")).unwrap();
        let lines: Vec<&str> = csv.lines().collect();
        assert_eq!(lines[1], "\"'=HYPERLINK(\"\"http://x\"\",\"\"y\"\")\",-1.5");
        assert_eq!(lines[2], "'@SUM(A1),2.0");
        assert_eq!(lines[3], "north,-0.25", "numbers and plain text unchanged");
        assert_eq!(lines[4], "'-2+3,0.0");
        assert!(
            lines[5].starts_with("\"'\tx\"") || lines[5].starts_with("'\tx"),
            "{:?}",
            lines[5]
        );
        // Parquet keeps the values as they are.
        let pq = ParquetReader::new(std::fs::File::open(dir.join("t.parquet")).unwrap())
            .finish()
            .unwrap();
        assert_eq!(
            pq.column("site").unwrap().str().unwrap().get(1),
            Some("@SUM(A1)")
        );
        write_rows_as(&rows, &dir, "raw", CsvCells::Raw).unwrap();
        let raw = std::fs::read_to_string(dir.join("raw.csv")).unwrap();
        assert_eq!(raw.lines().nth(2), Some("@SUM(A1),2.0"));
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
