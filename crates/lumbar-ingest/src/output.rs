//! Writing result tables: rows of any serialisable struct become a polars
//! frame (columns in field order, types from the values: whole numbers,
//! numbers, booleans, ISO dates and date-times, text), written as Parquet and
//! CSV side by side, each atomically.

use std::path::Path;

use lumbar_model::atomic::PendingPath;
use polars::prelude::*;
use serde::Serialize;
use serde_json::Value;

use crate::parse::{date_to_days, datetime_to_ms, parse_date, parse_datetime};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum ColKind {
    Int,
    Float,
    Bool,
    Date,
    DateTime,
    Str,
}

fn kind_of(values: &[&Value]) -> ColKind {
    let present: Vec<&&Value> = values.iter().filter(|v| !v.is_null()).collect();
    if present.is_empty() {
        return ColKind::Str;
    }
    if present.iter().all(|v| v.is_i64() || v.is_u64()) {
        return ColKind::Int;
    }
    if present.iter().all(|v| v.is_number()) {
        return ColKind::Float;
    }
    if present.iter().all(|v| v.is_boolean()) {
        return ColKind::Bool;
    }
    let strs: Vec<&str> = present.iter().filter_map(|v| v.as_str()).collect();
    if strs.len() == present.len() {
        if strs.iter().all(|s| s.len() == 10 && parse_date(s).is_ok()) {
            return ColKind::Date;
        }
        if strs
            .iter()
            .all(|s| s.len() >= 16 && parse_datetime(s).is_ok())
        {
            return ColKind::DateTime;
        }
    }
    ColKind::Str
}

/// Rows of a serialisable struct as a frame.
pub fn frame<T: Serialize>(rows: &[T]) -> PolarsResult<DataFrame> {
    let values: Vec<Value> = rows
        .iter()
        .map(|r| serde_json::to_value(r).map_err(|e| polars_err!(ComputeError: "{e}")))
        .collect::<PolarsResult<_>>()?;
    let Some(Value::Object(first)) = values.first() else {
        return Ok(DataFrame::empty());
    };
    let names: Vec<String> = first.keys().cloned().collect();
    let mut columns = Vec::with_capacity(names.len());
    for name in &names {
        let col: Vec<&Value> = values
            .iter()
            .map(|v| v.get(name).unwrap_or(&Value::Null))
            .collect();
        let n = PlSmallStr::from_str(name);
        let series = match kind_of(&col) {
            ColKind::Int => Series::new(n, col.iter().map(|v| v.as_i64()).collect::<Vec<_>>()),
            ColKind::Float => Series::new(n, col.iter().map(|v| v.as_f64()).collect::<Vec<_>>()),
            ColKind::Bool => Series::new(n, col.iter().map(|v| v.as_bool()).collect::<Vec<_>>()),
            ColKind::Date => Series::new(
                n,
                col.iter()
                    .map(|v| {
                        v.as_str()
                            .and_then(|s| parse_date(s).ok())
                            .map(date_to_days)
                    })
                    .collect::<Vec<_>>(),
            )
            .cast(&DataType::Date)?,
            ColKind::DateTime => Series::new(
                n,
                col.iter()
                    .map(|v| {
                        v.as_str()
                            .and_then(|s| parse_datetime(s).ok())
                            .map(datetime_to_ms)
                    })
                    .collect::<Vec<_>>(),
            )
            .cast(&DataType::Datetime(TimeUnit::Milliseconds, None))?,
            ColKind::Str => Series::new(
                n,
                col.iter()
                    .map(|v| match v {
                        Value::Null => None,
                        Value::String(s) => Some(s.clone()),
                        other => Some(other.to_string()),
                    })
                    .collect::<Vec<_>>(),
            ),
        };
        columns.push(series.into_column());
    }
    DataFrame::new(values.len(), columns)
}

/// Writes rows as `DIR/NAME.parquet` and `DIR/NAME.csv`.
pub fn write_rows<T: Serialize>(rows: &[T], dir: &Path, name: &str) -> PolarsResult<()> {
    write_table(&mut frame(rows)?, dir, name)
}

/// Writes `DIR/NAME.parquet` and `DIR/NAME.csv`, each atomically.
pub fn write_table(df: &mut DataFrame, dir: &Path, name: &str) -> PolarsResult<()> {
    std::fs::create_dir_all(dir)?;
    let pq = PendingPath::new(&dir.join(format!("{name}.parquet")));
    ParquetWriter::new(std::fs::File::create(pq.temp())?).finish(df)?;
    pq.commit()?;
    let csv = PendingPath::new(&dir.join(format!("{name}.csv")));
    CsvWriter::new(std::fs::File::create(csv.temp())?).finish(df)?;
    csv.commit()?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

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
}
