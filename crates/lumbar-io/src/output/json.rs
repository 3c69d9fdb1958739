//! Tables as JSON lines (`TABLE.ndjson`): one object per row, keys in
//! column order, for readers that want JSON (pandas' `read_json(lines=True)`,
//! R's `jsonlite::stream_in`, DuckDB's `read_json`). A missing value and a
//! NaN are `null`, dates ISO 8601 text, booleans `true`/`false`. Written a
//! frame at a time, so a table of any length is never held whole as text.

use std::io::Write;

use polars::prelude::*;

/// Appends `df`'s rows to `out` as JSON lines.
pub(super) fn write_lines(df: &DataFrame, out: &mut dyn Write) -> PolarsResult<()> {
    let names: Vec<String> = df
        .columns()
        .iter()
        .map(|c| serde_json::to_string(c.name().as_str()).unwrap_or_else(|_| "\"\"".into()))
        .collect();
    let cells: Vec<Vec<String>> = df
        .columns()
        .iter()
        .map(cells)
        .collect::<PolarsResult<_>>()?;
    let mut line = String::new();
    for row in 0..df.height() {
        line.clear();
        line.push('{');
        for (i, (name, col)) in names.iter().zip(&cells).enumerate() {
            if i > 0 {
                line.push(',');
            }
            line.push_str(name);
            line.push(':');
            line.push_str(col.get(row).map_or("null", String::as_str));
        }
        line.push_str("}\n");
        out.write_all(line.as_bytes())?;
    }
    Ok(())
}

/// One column's cells, each already JSON.
fn cells(c: &Column) -> PolarsResult<Vec<String>> {
    let null = || "null".to_string();
    Ok(match c.dtype() {
        DataType::Boolean => c
            .bool()?
            .iter()
            .map(|v| v.map_or_else(null, |b| b.to_string()))
            .collect(),
        DataType::String => c
            .str()?
            .iter()
            .map(|v| {
                v.map_or_else(null, |s| {
                    serde_json::to_string(s).unwrap_or_else(|_| null())
                })
            })
            .collect(),
        DataType::Float64 | DataType::Float32 => c
            .cast(&DataType::Float64)?
            .f64()?
            .iter()
            .map(|v| match v {
                // serde_json writes the shortest text that reads back as
                // the same double.
                Some(x) if x.is_finite() => {
                    serde_json::Number::from_f64(x).map_or_else(null, |n| n.to_string())
                }
                _ => null(),
            })
            .collect(),
        DataType::Date | DataType::Datetime(..) => c
            .cast(&DataType::String)?
            .str()?
            .iter()
            .map(|v| {
                v.map_or_else(null, |s| {
                    serde_json::to_string(s).unwrap_or_else(|_| null())
                })
            })
            .collect(),
        dt if dt.is_integer() => c
            .cast(&DataType::Int64)?
            .i64()?
            .iter()
            .map(|v| v.map_or_else(null, |x| x.to_string()))
            .collect(),
        _ => c
            .cast(&DataType::String)?
            .str()?
            .iter()
            .map(|v| {
                v.map_or_else(null, |s| {
                    serde_json::to_string(s).unwrap_or_else(|_| null())
                })
            })
            .collect(),
    })
}
