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
    // Text, and anything shown as text (dates, date-times, the rest): a
    // JSON string each.
    let text = |c: &Column| -> PolarsResult<Vec<String>> {
        Ok(c.cast(&DataType::String)?
            .str()?
            .iter()
            .map(|v| {
                v.map_or_else(null, |s| {
                    serde_json::to_string(s).unwrap_or_else(|_| null())
                })
            })
            .collect())
    };
    Ok(match c.dtype() {
        DataType::Boolean => c
            .bool()?
            .iter()
            .map(|v| v.map_or_else(null, |b| b.to_string()))
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
        dt if dt.is_integer() => c
            .cast(&DataType::Int64)?
            .i64()?
            .iter()
            .map(|v| v.map_or_else(null, |x| x.to_string()))
            .collect(),
        _ => text(c)?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Each kind of cell as JSON reads it back: numbers exact (the
    /// shortest round-trip text), NaN and missing as null, text escaped,
    /// dates as ISO text.
    #[test]
    fn cells_as_json_reads_them() {
        let day = chrono::NaiveDate::from_ymd_opt(2026, 1, 5).unwrap_or_default();
        let df = DataFrame::new(
            3,
            vec![
                Column::new("n".into(), [Some(1i64), None, Some(-3)]),
                Column::new("x".into(), [0.1f64, f64::NAN, 1e300]),
                Column::new("ok".into(), [true, false, true]),
                Column::new("s".into(), ["a\"b", "é\n", "=1"]),
                Column::new("d".into(), [day, day, day]),
            ],
        )
        .unwrap();
        let mut out = Vec::new();
        write_lines(&df, &mut out).unwrap();
        let text = String::from_utf8(out).unwrap();
        let rows: Vec<serde_json::Value> = text
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect();
        assert_eq!(rows.len(), 3);
        assert_eq!(rows[0]["n"], 1);
        assert!(rows[1]["n"].is_null() && rows[1]["x"].is_null());
        assert_eq!(rows[0]["x"].as_f64(), Some(0.1));
        assert_eq!(rows[2]["x"].as_f64(), Some(1e300));
        assert_eq!(rows[1]["ok"], false);
        assert_eq!(rows[0]["s"], "a\"b");
        assert_eq!(rows[1]["s"], "é\n");
        // JSON lines are not for spreadsheets: text is kept as it is.
        assert_eq!(rows[2]["s"], "=1");
        assert_eq!(rows[0]["d"], "2026-01-05");
        assert!(text.starts_with("{\"n\":1,\"x\":0.1,"), "{text}");
    }
}
