//! Generate a cohort, corrupt a copy in many distinct ways, ingest it, and
//! check every reject: its line, column and reason, and that
//! read = accepted + rejected.

use std::collections::BTreeSet;
use std::path::Path;

use lumbar_io::{IngestOptions, Input, Store, ingest};
use lumbar_model::{Regimen, Table};
use polars::prelude::*;

use crate::{lumbar, path_str};

fn read_csv(path: &Path) -> (String, Vec<Vec<String>>) {
    let text = std::fs::read_to_string(path).unwrap();
    let mut lines = text.lines();
    let header = lines.next().unwrap().to_string();
    let rows = lines
        .map(|l| l.split(',').map(str::to_string).collect())
        .collect();
    (header, rows)
}

fn col(header: &str, name: &str) -> usize {
    header.split(',').position(|h| h == name).unwrap()
}

/// Writes rows back with the given delimiter and line ending (and a BOM).
fn write_csv(path: &Path, header: &str, rows: &[Vec<u8>], delim: u8, crlf: bool) {
    let mut out = Vec::new();
    out.extend_from_slice(&[0xEF, 0xBB, 0xBF]);
    out.extend(header.bytes().map(|b| if b == b',' { delim } else { b }));
    let eol: &[u8] = if crlf { b"\r\n" } else { b"\n" };
    out.extend_from_slice(eol);
    for r in rows {
        out.extend_from_slice(r);
        out.extend_from_slice(eol);
    }
    std::fs::write(path, out).unwrap();
}

fn join(fields: &[String], delim: u8) -> Vec<u8> {
    fields.join(&(delim as char).to_string()).into_bytes()
}

fn rejects_of(store: &Store, table: &str) -> BTreeSet<(i64, String, String)> {
    let df = store.read_rejects().unwrap().expect("rejects exist");
    let t = df.column("table").unwrap().str().unwrap();
    let line = df.column("line").unwrap().i64().unwrap();
    let column = df.column("column").unwrap().str().unwrap();
    let reason = df.column("reason").unwrap().str().unwrap();
    (0..df.height())
        .filter(|&i| t.get(i) == Some(table))
        .map(|i| {
            (
                line.get(i).unwrap(),
                column.get(i).unwrap_or("").to_string(),
                reason.get(i).unwrap().to_string(),
            )
        })
        .collect()
}

/// Asserts that the reject at `line` is for `column` with a reason containing `needle`.
fn expect(rejects: &BTreeSet<(i64, String, String)>, line: i64, column: &str, needle: &str) {
    let found = rejects.iter().find(|r| r.0 == line);
    match found {
        Some((_, c, reason)) => {
            assert_eq!(c, column, "line {line}: {reason}");
            assert!(
                reason.contains(needle),
                "line {line}: '{reason}' lacks '{needle}'"
            );
        }
        None => panic!("no reject at line {line}; rejects: {rejects:#?}"),
    }
}

#[test]
fn corrupted_cohort_is_ingested_with_exact_rejects() {
    let tmp = tempfile::tempdir().unwrap();
    let clean = tmp.path().join("clean");
    let bad = tmp.path().join("bad");
    std::fs::create_dir_all(&bad).unwrap();
    lumbar(&[
        "generate",
        "--patients",
        "30",
        "--weeks",
        "3",
        "--followup",
        "60",
        "--seed",
        "7",
        "--out",
        path_str(&clean),
    ]);

    // --- sessions: 15 corruptions, written with ';', CRLF and a BOM -------------
    let (h, mut rows) = read_csv(&clean.join("sessions.csv"));
    let n_sessions = rows.len();
    assert!(n_sessions > 100, "{n_sessions}");
    let set = |rows: &mut Vec<Vec<String>>, r: usize, name: &str, v: &str| {
        rows[r - 1][col(&h, name)] = v.to_string()
    };
    set(&mut rows, 1, "exercise", "jumping_jack");
    set(&mut rows, 2, "pain_during", "11");
    set(&mut rows, 3, "reps", "-3");
    set(&mut rows, 4, "sets", "500");
    set(&mut rows, 5, "performed_at", "03/02/2025 08:00");
    set(&mut rows, 6, "performed_at", "2031-01-01T08:00");
    set(&mut rows, 7, "patient_id", "");
    set(&mut rows, 8, "patient_id", "P99999");
    set(&mut rows, 9, "reps", "ten");
    set(&mut rows, 10, "pain_after", "3.3");
    set(&mut rows, 11, "exercise", "full_sit_up");
    set(&mut rows, 14, "side", "up");
    let mut raw: Vec<Vec<u8>> = rows.iter().map(|r| join(r, b';')).collect();
    raw[11] = join(&rows[11][..10], b';'); // row 12 truncated
    let src = col(&h, "source");
    let mut r13 = rows[12].clone();
    r13[src] = "XX".into();
    raw[12] = join(&r13, b';')
        .into_iter()
        .map(|b| if b == b'X' { 0xFF } else { b })
        .collect(); // row 13: invalid UTF-8
    raw.push(raw[19].clone()); // exact duplicate of row 20 (line 21)
    write_csv(&bad.join("sessions.csv"), &h, &raw, b';', true);

    // --- walking: 3 ---------------------------------------------------------------
    let (h, mut rows) = read_csv(&clean.join("walking.csv"));
    let n_walking = rows.len();
    // Participant R000001's follow-up row is corrupted below, so their
    // accelerometer days name a participant the store does not know.
    let orphan_days = rows.iter().filter(|r| r[0] == "R000001").count();
    assert_eq!(orphan_days, 7);
    let wear: f64 = rows[0][col(&h, "wear_min")].parse().unwrap();
    rows[0][col(&h, "walking_min")] = format!("{}", wear + 10.0);
    rows[1][col(&h, "date")] = "2025-13-01".into();
    rows[2][col(&h, "walking_min")] = "NaN".into();
    write_csv(
        &bad.join("walking.csv"),
        &h,
        &rows.iter().map(|r| join(r, b',')).collect::<Vec<_>>(),
        b',',
        false,
    );

    // --- outcomes: 3 ----------------------------------------------------------------
    let (h, mut rows) = read_csv(&clean.join("outcomes.csv"));
    let n_outcomes = rows.len();
    assert_eq!(rows[0][col(&h, "measure")], "nrs_pain");
    assert_eq!(rows[1][col(&h, "measure")], "odi");
    rows[0][col(&h, "value")] = "14".into();
    rows[1][col(&h, "value")] = "140".into();
    rows[2][col(&h, "measure")] = "vas".into();
    write_csv(
        &bad.join("outcomes.csv"),
        &h,
        &rows.iter().map(|r| join(r, b'\t')).collect::<Vec<_>>(),
        b'\t',
        false,
    );

    // --- patients: 2 (an id defined twice, an exact duplicate) ------------------------
    let (h, mut rows) = read_csv(&clean.join("patients.csv"));
    let n_patients = rows.len();
    let mut twin = rows[0].clone();
    twin[col(&h, "site")] = "elsewhere".into();
    rows.push(twin);
    rows.push(rows[2].clone());
    write_csv(
        &bad.join("patients.csv"),
        &h,
        &rows.iter().map(|r| join(r, b',')).collect::<Vec<_>>(),
        b',',
        false,
    );

    // --- followup: 1 ---------------------------------------------------------------------
    let (h, mut rows) = read_csv(&clean.join("followup.csv"));
    let n_followup = rows.len();
    rows[0][col(&h, "end_date")] = "2000-01-01".into();
    write_csv(
        &bad.join("followup.csv"),
        &h,
        &rows.iter().map(|r| join(r, b',')).collect::<Vec<_>>(),
        b',',
        false,
    );

    // --- ingest -------------------------------------------------------------------------
    let store_dir = tmp.path().join("store");
    let regimen = Regimen::six_moves();
    let opts = IngestOptions {
        as_of: chrono::NaiveDate::from_ymd_opt(2026, 1, 1).unwrap(),
        ..IngestOptions::default()
    };
    let inputs: Vec<Input> = ["sessions", "walking", "outcomes", "patients", "followup"]
        .iter()
        .map(|t| Input::new(Table::from_name(t).unwrap(), bad.join(format!("{t}.csv"))))
        .collect();
    let report = ingest(&store_dir, &inputs, &regimen, &opts, &mut |_| {}).unwrap();
    let tables = report.tables();
    let expected = [
        (Table::Patients, n_patients + 2, 2),
        (Table::Followup, n_followup, 1),
        (Table::Sessions, n_sessions + 1, 15),
        (Table::Walking, n_walking, 3 + orphan_days as u64),
        (Table::Outcomes, n_outcomes, 3),
    ];
    for (t, read, rejected) in expected {
        let c = tables[&t];
        assert_eq!(c.read, read as u64, "{t} read");
        assert_eq!(c.rejected, rejected, "{t} rejected");
        assert_eq!(
            c.read,
            c.accepted + c.rejected,
            "{t}: read = accepted + rejected"
        );
        assert_eq!(
            c.added, c.accepted,
            "{t}: a new store adds every accepted row"
        );
    }
    // Patients were ingested first, whatever the order given.
    assert_eq!(report.files[0].table, "patients");
    assert_eq!(report.files[1].table, "followup");

    let store = Store::open(&store_dir).unwrap();
    let s = rejects_of(&store, "sessions");
    assert_eq!(s.len(), 15, "{s:#?}");
    expect(&s, 2, "exercise", "not in regimen 'six-moves'");
    expect(&s, 3, "pain_during", "outside the 0–10 pain scale");
    expect(&s, 4, "reps", "negative");
    expect(&s, 5, "sets", "implausible");
    expect(&s, 6, "performed_at", "ISO 8601");
    expect(&s, 7, "performed_at", "in the future");
    expect(&s, 8, "patient_id", "required but empty");
    expect(&s, 9, "patient_id", "not in the patients table");
    expect(&s, 10, "reps", "not a whole number");
    expect(&s, 11, "pain_after", "steps of 0.5");
    expect(
        &s,
        12,
        "exercise",
        "excluded by the regimen's sit_up ladder",
    );
    expect(&s, 13, "", "expected 15 fields as in the header, found 10");
    expect(&s, 14, "source", "not valid UTF-8");
    expect(&s, 15, "side", "not one of");
    expect(&s, n_sessions as i64 + 2, "", "exact duplicate of line 21");

    let w = rejects_of(&store, "walking");
    expect(&w, 2, "walking_min", "exceeds the day's wear time");
    expect(&w, 3, "date", "not a real calendar date");
    // NaN is a missing value (SPEC §3), and walking_min is required.
    expect(
        &w,
        4,
        "walking_min",
        "required but missing ('NaN' means no value)",
    );
    let orphans = w
        .iter()
        .filter(|r| {
            r.2.contains("'R000001' is in neither the patients nor the followup table")
        })
        .count();
    assert_eq!(orphans, orphan_days);
    let o = rejects_of(&store, "outcomes");
    expect(&o, 2, "value", "nrs_pain value 14 is outside 0–10");
    expect(&o, 3, "value", "odi value 140 is outside 0–100");
    expect(&o, 4, "measure", "not one of");
    let p = rejects_of(&store, "patients");
    expect(
        &p,
        n_patients as i64 + 2,
        "patient_id",
        "already defined at line 2",
    );
    expect(&p, n_patients as i64 + 3, "", "exact duplicate of line 4");
    let f = rejects_of(&store, "followup");
    expect(&f, 2, "end_date", "before baseline_date");

    // The canonical tables hold exactly the accepted rows, with canonical types.
    let sessions = store.read_table(Table::Sessions).unwrap().unwrap();
    assert_eq!(sessions.height() as u64, tables[&Table::Sessions].accepted);
    assert_eq!(
        sessions.column("performed_at").unwrap().dtype(),
        &DataType::Datetime(TimeUnit::Milliseconds, None)
    );
    assert_eq!(sessions.column("reps").unwrap().dtype(), &DataType::Int64);
    let followup = store.read_table(Table::Followup).unwrap().unwrap();
    assert_eq!(
        followup.column("age").unwrap().dtype(),
        &DataType::Float64,
        "covariates keep their type"
    );
    assert_eq!(followup.column("sex").unwrap().dtype(), &DataType::String);

    // Re-ingesting the same files changes nothing.
    let again = ingest(&store_dir, &inputs, &regimen, &opts, &mut |_| {}).unwrap();
    for f in &again.files {
        assert!(f.already_ingested, "{}", f.path.display());
        assert_eq!(f.counts.added, 0);
    }
    for (t, c) in again.tables() {
        assert_eq!(
            c,
            Counts {
                added: 0,
                ..tables[&t]
            },
            "{t}"
        );
    }
    assert_eq!(
        store.read_table(Table::Sessions).unwrap().unwrap().height(),
        sessions.height()
    );
    assert_eq!(store.reject_parts().unwrap().len(), 5);

    // A cumulative export that overlaps what is stored adds only the new rows:
    // the clean file holds the 14 rows that were corrupted and every stored row.
    let clean_inputs = [Input::new(Table::Sessions, clean.join("sessions.csv"))];
    let overlap = ingest(&store_dir, &clean_inputs, &regimen, &opts, &mut |_| {}).unwrap();
    let c = overlap.tables()[&Table::Sessions];
    assert_eq!(
        (c.read, c.accepted, c.rejected, c.added),
        (n_sessions as u64, n_sessions as u64, 0, 14)
    );
    assert_eq!(
        store.read_table(Table::Sessions).unwrap().unwrap().height(),
        n_sessions
    );
}

use lumbar_io::Counts;

#[test]
fn the_same_rows_as_ndjson_and_parquet_give_the_same_table() {
    let tmp = tempfile::tempdir().unwrap();
    let cohort_dir = tmp.path().join("gen");
    lumbar(&[
        "generate",
        "--patients",
        "8",
        "--weeks",
        "2",
        "--followup",
        "10",
        "--seed",
        "3",
        "--out",
        path_str(&cohort_dir),
    ]);
    let regimen = Regimen::six_moves();
    let opts = IngestOptions::default();
    let csv_store = tmp.path().join("csv");
    let inputs = [
        Input::new(Table::Patients, cohort_dir.join("patients.csv")),
        Input::new(Table::Sessions, cohort_dir.join("sessions.csv")),
    ];
    ingest(&csv_store, &inputs, &regimen, &opts, &mut |_| {}).unwrap();
    let from_csv = Store::open(&csv_store)
        .unwrap()
        .read_table(Table::Sessions)
        .unwrap()
        .unwrap();

    // The stored table as one Parquet file, and an NDJSON rendering of the CSV.
    let part = tmp.path().join("sessions.parquet");
    polars::prelude::ParquetWriter::new(std::fs::File::create(&part).unwrap())
        .finish(&mut from_csv.clone())
        .unwrap();
    let (h, rows) = read_csv(&cohort_dir.join("sessions.csv"));
    let names: Vec<&str> = h.split(',').collect();
    let mut nd = String::new();
    for r in &rows {
        let obj: serde_json::Map<String, serde_json::Value> = names
            .iter()
            .zip(r)
            .filter(|(_, v)| !v.is_empty())
            .map(|(k, v)| {
                let val = v
                    .parse::<f64>()
                    .map(serde_json::Value::from)
                    .unwrap_or_else(|_| match v.as_str() {
                        "true" => serde_json::Value::Bool(true),
                        "false" => serde_json::Value::Bool(false),
                        _ => serde_json::Value::from(v.clone()),
                    });
                (k.to_uppercase(), val) // header names match case-insensitively
            })
            .collect();
        nd.push_str(&serde_json::to_string(&obj).unwrap());
        nd.push('\n');
    }
    std::fs::write(tmp.path().join("sessions.ndjson"), nd).unwrap();

    for (name, file) in [
        ("parquet", part),
        ("ndjson", tmp.path().join("sessions.ndjson")),
    ] {
        let store = tmp.path().join(name);
        let inputs = [
            Input::new(Table::Patients, cohort_dir.join("patients.csv")),
            Input::new(Table::Sessions, file),
        ];
        let r = ingest(&store, &inputs, &regimen, &opts, &mut |_| {}).unwrap();
        assert_eq!(r.files[1].format.name(), name, "{name} detected by content");
        assert_eq!(
            r.files[1].counts.rejected, 0,
            "{name}: {:?}",
            r.files[1].top_reasons
        );
        let t = Store::open(&store)
            .unwrap()
            .read_table(Table::Sessions)
            .unwrap()
            .unwrap();
        assert!(t.equals_missing(&from_csv), "{name} differs from csv");
    }
}
