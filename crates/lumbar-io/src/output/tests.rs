use super::*;
use serde_json::Value;

use crate::parse::{datetime_to_ms, parse_date, parse_datetime};

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

/// A table written a frame at a time, whose optional column is empty in
/// the first frame only, is one table of the schema's types, row for row
/// as the unchunked writer's.
#[test]
fn a_table_writer_keeps_its_schema_across_frames() {
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
    let schema = frame(std::slice::from_ref(&proto))
        .unwrap()
        .schema()
        .as_ref()
        .clone();
    let streamed = |name: &str, rows: Vec<Row>, cells| {
        let mut w = TableWriter::create(schema.clone(), dir.path(), name, cells).unwrap();
        for chunk in rows.chunks(STREAM_CHUNK_ROWS) {
            w.write_frame(frame(chunk).unwrap()).unwrap();
        }
        w.finish().unwrap();
    };
    streamed("s", (0..total).map(make).collect(), CsvCells::Escaped);
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
    streamed("e", Vec::new(), CsvCells::Raw);
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
                (Value::String(s), AnyValue::Date(d)) => parse_date(s).map(date_to_days) == Ok(*d),
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
