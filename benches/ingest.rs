//! Ingest throughput and peak memory beside polars doing the raw read.
//!
//! `cargo bench --bench ingest [-- ROWS]` (default 5,000,000 session rows):
//! 1. generates a sessions CSV of about ROWS rows with `lumbar generate`
//!    (cached under `benches/data/`, which git ignores);
//! 2. in child processes, one at a time, so each has its own peak memory:
//!    - *polars raw*: `CsvReader` reads the whole file (schema inferred, no
//!      validation) and `ParquetWriter` writes it: the I/O + parse ceiling;
//!    - *lumbar ingest*: patients, then the sessions file, fully validated,
//!      into a fresh store;
//! 3. prints rows/s, peak resident memory (VmHWM) and the ratio, from the
//!    same run. Each contender runs twice, alternating; the faster run counts.

mod common;

use std::path::{Path, PathBuf};
use std::time::Instant;

use lumbar_io::{CsvTables, IngestOptions, Input, ingest};
use lumbar_model::{Regimen, Table};
use lumbar_sim::synthetic::{CohortSpec, generate};
use polars::prelude::*;

fn child(mode: &str, dir: &Path) {
    let sessions = dir.join("sessions.csv");
    let t = Instant::now();
    let rows = match mode {
        "polars" => {
            let mut df = CsvReadOptions::default()
                .with_has_header(true)
                .try_into_reader_with_file_path(Some(sessions.clone()))
                .and_then(|r| r.finish())
                .expect("polars reads the file");
            let out = dir.join("polars-raw.parquet");
            let f = std::fs::File::create(&out).expect("create output");
            // The codec the store writes, so both do the same work.
            ParquetWriter::new(f)
                .with_compression(ParquetCompression::Lz4Raw)
                .finish(&mut df)
                .expect("polars writes parquet");
            df.height() as u64
        }
        "lumbar" => {
            let store = dir.join("store");
            let _ = std::fs::remove_dir_all(&store);
            let regimen = Regimen::six_moves();
            let opts = IngestOptions::default();
            // Patients first (not timed) so the unknown-patient check runs.
            ingest(
                &store,
                &[Input::new(Table::Patients, dir.join("patients.csv"))],
                &regimen,
                &opts,
                &mut |_| {},
            )
            .expect("patients ingest");
            let t0 = Instant::now();
            let r = ingest(
                &store,
                &[Input::new(Table::Sessions, sessions.clone())],
                &regimen,
                &opts,
                &mut |_| {},
            )
            .expect("sessions ingest");
            let c = r.tables()[&Table::Sessions];
            assert_eq!(c.read, c.accepted + c.rejected);
            common::report_child(t0.elapsed().as_secs_f64(), c.read);
            return;
        }
        _ => panic!("unknown mode {mode}"),
    };
    common::report_child(t.elapsed().as_secs_f64(), rows);
}

fn run_child(mode: &str, dir: &Path) -> (f64, u64, u64) {
    common::run_child(&[mode, dir.to_str().expect("utf-8 path")])
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    if let Some(i) = args.iter().position(|a| a == "--child") {
        child(&args[i + 1], Path::new(&args[i + 2]));
        return;
    }
    let target_rows: u64 = args
        .iter()
        .skip(1)
        .find_map(|a| a.parse().ok())
        .unwrap_or(5_000_000);
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("benches/data")
        .join(format!("ingest-{target_rows}"));
    if !dir.join("sessions.csv").exists() {
        // The demo averages ~279 session rows per patient over 12 weeks.
        let patients = (target_rows / 279).max(1) as usize;
        let mut spec = CohortSpec::new(patients, 12, 5);
        spec.followup = 0;
        eprintln!(
            "generating {patients} patients × 12 weeks into {}",
            dir.display()
        );
        let mut tables = CsvTables::create(&dir, false).expect("create the tables");
        generate(&spec, &Regimen::six_moves(), &mut tables, |_, _| {}).expect("generate");
        tables.commit().expect("commit the tables");
    }
    let size = std::fs::metadata(dir.join("sessions.csv"))
        .map(|m| m.len())
        .unwrap_or(0);
    let mut best: [(f64, u64, u64); 2] = [(f64::INFINITY, 0, 0); 2];
    for _round in 0..2 {
        for (k, mode) in ["polars", "lumbar"].iter().enumerate() {
            let r = run_child(mode, &dir);
            eprintln!(
                "{mode}: {:.2} s, {} rows, peak {} MiB",
                r.0,
                r.1,
                r.2 / 1024
            );
            if r.0 < best[k].0 {
                best[k] = r;
            }
        }
    }
    let [(pt, pr, pm), (lt, lr, lm)] = best;
    println!(
        "sessions CSV: {lr} rows, {:.0} MiB",
        size as f64 / 1048576.0
    );
    println!("| | rows/s | peak memory |");
    println!("|---|---|---|");
    println!(
        "| polars read CSV + write Parquet, no validation | {:.0} | {} MiB |",
        pr as f64 / pt,
        pm / 1024
    );
    println!(
        "| lumbar ingest (validate, dedupe, Parquet + rejects) | {:.0} | {} MiB |",
        lr as f64 / lt,
        lm / 1024
    );
    println!(
        "throughput ratio lumbar / polars raw: {:.2}×",
        (lr as f64 / lt) / (pr as f64 / pt)
    );
}
