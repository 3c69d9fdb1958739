//! The bad-input corpus (tests/corpus, made by make_corpus.py): every file
//! is ingested through the CLI. None may panic; each either fails with a
//! message naming the file, or is ingested with read = accepted + rejected
//! and every rejected row carrying its line.

use std::path::{Path, PathBuf};

use polars::prelude::SerReader;
use serde_json::Value;

use crate::{path_str, repo_root};

fn corpus() -> Vec<(String, PathBuf)> {
    let root = repo_root().join("tests/corpus");
    let mut out = Vec::new();
    for dir in std::fs::read_dir(&root).unwrap() {
        let dir = dir.unwrap().path();
        if !dir.is_dir() {
            continue;
        }
        let table = dir.file_name().unwrap().to_string_lossy().into_owned();
        for f in std::fs::read_dir(&dir).unwrap() {
            out.push((table.clone(), f.unwrap().path()));
        }
    }
    out.sort();
    out
}

fn ingest(table: &str, file: &Path, store: &Path) -> Result<String, String> {
    let args = vec![
        "lumbar".to_string(),
        "-q".into(),
        "ingest".into(),
        "--out".into(),
        path_str(store).into(),
        format!("--{table}"),
        path_str(file).into(),
        "--patient-id".into(),
        "P00001".into(),
        "--as-of".into(),
        "2026-01-01".into(),
        "--json".into(),
    ];
    let mut out = Vec::new();
    match lumbar_cli::run(&args, &mut out) {
        Ok(0) => Ok(String::from_utf8_lossy(&out).into_owned()),
        Ok(c) => Err(format!("exit code {c}")),
        Err(e) => Err(format!("{e:#}")),
    }
}

#[test]
fn every_malformed_input_is_handled() {
    let files = corpus();
    assert!(files.len() >= 50, "the corpus has {} files", files.len());
    let tmp = tempfile::tempdir().unwrap();
    let mut formats = std::collections::BTreeSet::new();
    let mut failures = Vec::new();
    for (k, (table, file)) in files.iter().enumerate() {
        let name = file.file_name().unwrap().to_string_lossy().into_owned();
        formats.insert(name.split(['_', '.']).next().unwrap_or("").to_string());
        let store = tmp.path().join(format!("store{k}"));
        let result = std::panic::catch_unwind(|| ingest(table, file, &store));
        match result {
            Err(_) => failures.push(format!("{name}: PANIC")),
            Ok(Err(msg)) => {
                if !msg.contains(&name) {
                    failures.push(format!("{name}: the error does not name the file: {msg}"));
                }
            }
            Ok(Ok(json)) => {
                let v: Value = serde_json::from_str(&json).unwrap();
                for f in v["files"].as_array().unwrap() {
                    let c = f;
                    let (read, acc, rej) = (
                        c["read"].as_u64().unwrap(),
                        c["accepted"].as_u64().unwrap(),
                        c["rejected"].as_u64().unwrap(),
                    );
                    if read != acc + rej {
                        failures.push(format!(
                            "{name}: read {read} ≠ accepted {acc} + rejected {rej}"
                        ));
                    }
                }
                // Every reject names its line (≥ 1) and a reason.
                let rejects = store.join("rejects");
                if rejects.exists() {
                    for part in std::fs::read_dir(&rejects).unwrap() {
                        let p = part.unwrap().path();
                        let df =
                            polars::prelude::ParquetReader::new(std::fs::File::open(&p).unwrap())
                                .finish()
                                .unwrap();
                        let lines = df
                            .column("line")
                            .unwrap()
                            .cast(&polars::prelude::DataType::Int64)
                            .unwrap();
                        if lines.i64().unwrap().iter().any(|l| l.is_none_or(|l| l < 1)) {
                            failures.push(format!("{name}: a reject without a line"));
                        }
                        let reasons = df.column("reason").unwrap().str().unwrap().clone();
                        if reasons.iter().any(|r| r.is_none_or(|r| r.len() < 8)) {
                            failures.push(format!("{name}: a reject without a reason"));
                        }
                    }
                }
            }
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
    // Every format is in the corpus.
    for f in ["apple", "fhir", "ggir", "ndjson", "parquet"] {
        assert!(formats.contains(f), "no {f} input in the corpus");
    }
}

#[test]
fn each_walking_format_is_detected_and_accounted() {
    let tmp = tempfile::tempdir().unwrap();
    let corpus = repo_root().join("tests/corpus/walking");
    // Detected by content: an Apple export with a bad record, a GGIR file
    // with an NA day, a FHIR file whose pain score goes to outcomes.
    for (file, table, read, rejected, source) in [
        ("apple_negative_nan_values.xml", "walking", 5, 4, "apple"),
        ("ggir_na_everywhere.csv", "walking", 2, 1, "ggir"),
        ("fhir_pain_out_of_range.ndjson", "outcomes", 2, 1, "fhir"),
        ("fhir_unknown_codes.ndjson", "walking", 3, 2, "fhir"),
    ] {
        let store = tmp.path().join(file);
        let json = ingest("walking", &corpus.join(file), &store).unwrap();
        let v: Value = serde_json::from_str(&json).unwrap();
        let f = v["files"]
            .as_array()
            .unwrap()
            .iter()
            .find(|f| f["table"] == table)
            .unwrap_or_else(|| panic!("{file}: no {table} in {v}"));
        assert_eq!(f["read"], read, "{file}: {f}");
        assert_eq!(f["rejected"], rejected, "{file}: {f}");
        assert_eq!(f["format"], source, "{file}");
    }
}
