//! Pieces the bench binaries share: peak memory, running a measurement
//! in a child process of the same binary so that each has its own peak,
//! and repeated timings in one process.

#![allow(dead_code)] // each bench uses some of these

use std::path::{Path, PathBuf};
use std::process::Command;

use lumbar_io::{CsvTables, IngestOptions, Input};
use lumbar_model::{Regimen, Table};
use lumbar_sim::synthetic::{CohortSpec, generate};

/// The store of a generated cohort of `patients` × 12 weeks (seed 11, with
/// as many follow-up participants), generated and ingested once under
/// `benches/data/report-PATIENTS/store` and shared by the benches.
pub fn generated_store(patients: usize) -> PathBuf {
    let all = [
        Table::Patients,
        Table::Followup,
        Table::Sessions,
        Table::Walking,
        Table::Outcomes,
    ];
    store_of(patients, "report", &all)
}

/// The same cohort's programme tables only (patients, sessions, outcomes),
/// under `benches/data/programme-PATIENTS/store`: what `analyze` reads.
pub fn generated_programme_store(patients: usize) -> PathBuf {
    store_of(
        patients,
        "programme",
        &[Table::Patients, Table::Sessions, Table::Outcomes],
    )
}

fn store_of(patients: usize, kind: &str, tables: &[Table]) -> PathBuf {
    let regimen = Regimen::six_moves();
    let data =
        Path::new(env!("CARGO_MANIFEST_DIR")).join(format!("benches/data/{kind}-{patients}"));
    let store_dir = data.join("store");
    if !store_dir.join("manifest.json").exists() {
        eprintln!("generating and ingesting {patients} patients (once)…");
        let mut spec = CohortSpec::new(patients, 12, 11);
        spec.followup = if tables.contains(&Table::Followup) {
            patients
        } else {
            0
        };
        let csv = data.join("csv");
        let mut csv_tables = CsvTables::create(&csv, false).expect("create the tables");
        generate(&spec, &regimen, &mut csv_tables, |_, _| {}).expect("generate");
        csv_tables.commit().expect("commit the tables");
        let inputs: Vec<Input> = tables
            .iter()
            .map(|&t| Input::new(t, csv.join(format!("{}.csv", t.name()))))
            .collect();
        let opts = IngestOptions {
            as_of: chrono::NaiveDate::from_ymd_opt(2026, 1, 1).expect("date"),
            ..Default::default()
        };
        let t = std::time::Instant::now();
        let r =
            lumbar_io::ingest(&store_dir, &inputs, &regimen, &opts, &mut |_| {}).expect("ingest");
        let rows: u64 = r.files.iter().map(|f| f.counts.read).sum();
        // Generation streams its CSV, so the peak is ingest's.
        eprintln!(
            "ingested {rows} rows in {:.1} s ({:.2} M rows/s), peak memory {:.0} MiB",
            t.elapsed().as_secs_f64(),
            rows as f64 / t.elapsed().as_secs_f64() / 1e6,
            peak_rss_kib() as f64 / 1024.0
        );
        let _ = std::fs::remove_dir_all(&csv);
    }
    store_dir
}

/// Peak resident memory of this process (VmHWM), KiB; 0 where unknown.
pub fn peak_rss_kib() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmHWM:"))
                .and_then(|l| l.split_whitespace().nth(1)?.parse().ok())
        })
        .unwrap_or(0)
}

/// What a child prints as its last line: seconds, rows and its peak memory.
pub fn report_child(seconds: f64, rows: u64) {
    println!(
        "{{\"seconds\":{seconds},\"rows\":{rows},\"peak_kib\":{}}}",
        peak_rss_kib()
    );
}

/// Runs this binary again with `--child ARGS…` and reads what it reported:
/// (seconds, rows, peak KiB).
pub fn run_child(args: &[&str]) -> (f64, u64, u64) {
    let exe = std::env::current_exe().expect("own path");
    let out = Command::new(exe)
        .arg("--child")
        .args(args)
        .output()
        .expect("child runs");
    assert!(
        out.status.success(),
        "{args:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8_lossy(&out.stdout);
    let line = text.lines().last().expect("child output");
    let v: serde_json::Value = serde_json::from_str(line).expect("child json");
    (
        v["seconds"].as_f64().expect("seconds"),
        v["rows"].as_u64().expect("rows"),
        v["peak_kib"].as_u64().expect("peak"),
    )
}

/// Runs `f` `runs` times: the last result, and the times in seconds,
/// fastest first (the machines are shared and noisy, so a bench reports
/// the best and the median).
pub fn timings<T>(runs: usize, mut f: impl FnMut() -> T) -> (T, Vec<f64>) {
    let mut times = Vec::with_capacity(runs);
    let mut last = None;
    for _ in 0..runs.max(1) {
        let t = std::time::Instant::now();
        last = Some(f());
        times.push(t.elapsed().as_secs_f64());
    }
    times.sort_by(f64::total_cmp);
    (last.expect("at least one run"), times)
}
