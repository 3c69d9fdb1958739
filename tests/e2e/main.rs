//! End-to-end tests of lumbar, in one binary (each test binary links polars
//! again, so they share this one).

mod attack;
mod calibrate;
mod cli;
mod corpus;
mod determinism;
mod formula;
mod hostile;
mod ingest_corrupted;
mod limits;
mod lmm;
mod outputs;
mod partition;
mod report;
mod report_windows;
mod risk;
mod shards;
mod simulate;
mod store;
mod survival;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// Runs the `lumbar` command line in-process and returns (exit code, stdout).
pub fn lumbar(args: &[&str]) -> (u8, String) {
    let mut out = Vec::new();
    let mut full = vec!["lumbar", "-q"];
    full.extend_from_slice(args);
    let code = match lumbar_cli::run(full, &mut out) {
        Ok(c) => c,
        Err(e) => panic!("lumbar {args:?} failed: {e:#}"),
    };
    (code, String::from_utf8(out).expect("utf-8 output"))
}

/// Runs the command line; stdout, or the error with its causes.
pub fn lumbar_cli_run(args: &[&str]) -> Result<String, String> {
    let mut out = Vec::new();
    let mut full = vec!["lumbar", "-q"];
    full.extend_from_slice(args);
    match lumbar_cli::run(full, &mut out) {
        Ok(0) => Ok(String::from_utf8_lossy(&out).into_owned()),
        Ok(c) => Err(format!("exit code {c}")),
        Err(e) => Err(format!("{e:#}")),
    }
}

/// Runs the command line expecting an error; returns its message.
pub fn lumbar_err(args: &[&str]) -> String {
    let mut out = Vec::new();
    let mut full = vec!["lumbar", "-q"];
    full.extend_from_slice(args);
    match lumbar_cli::run(full, &mut out) {
        Ok(c) => panic!("lumbar {args:?} succeeded with code {c}"),
        Err(e) => format!("{e:#}"),
    }
}

pub fn path_str(p: &Path) -> &str {
    p.to_str().expect("utf-8 temp path")
}

/// The repository root (tests run with the package root as working dir).
pub fn repo_root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// Every file under `dir` (recursively), by relative path.
pub fn tree(dir: &Path) -> BTreeMap<String, Vec<u8>> {
    let mut out = BTreeMap::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).unwrap() {
            let p = e.unwrap().path();
            if p.is_dir() {
                stack.push(p);
            } else {
                let rel = p.strip_prefix(dir).unwrap().to_string_lossy().into_owned();
                out.insert(rel, std::fs::read(&p).unwrap());
            }
        }
    }
    out
}

/// The Parquet files under `dir`, its `bucket=NNN` folders included
/// (hidden temporary files left out), in path order.
pub fn parquet_files(dir: &Path) -> Vec<PathBuf> {
    let mut out: Vec<PathBuf> = tree(dir)
        .into_keys()
        .filter(|rel| rel.ends_with(".parquet") && !rel.split('/').any(|c| c.starts_with('.')))
        .map(|rel| dir.join(rel))
        .collect();
    out.sort();
    out
}

/// The bundled demo cohort ingested into `DIR/store` (dates judged as of
/// 2026-01-01); the store's path.
pub fn demo_store(dir: &Path) -> PathBuf {
    demo_store_with(dir, &[])
}

/// [`demo_store`] with more `ingest` arguments (`--buckets 8`).
pub fn demo_store_with(dir: &Path, extra: &[&str]) -> PathBuf {
    let store = dir.join("store");
    let demo = repo_root().join("datasets/demo");
    let mut args = vec![
        "ingest",
        "--dir",
        path_str(&demo),
        "--out",
        path_str(&store),
        "--as-of",
        "2026-01-01",
    ];
    args.extend_from_slice(extra);
    lumbar(&args);
    store
}
