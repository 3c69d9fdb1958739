//! Rows of any serialisable struct as a polars frame: each row is
//! serialised straight into typed column builders (whole numbers, numbers,
//! booleans, ISO dates and date-times, text), with no JSON value per row.

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
