//! `lumbar analyze` on a registry-sized store: time and peak memory of the
//! whole run, of each shard of a split and of their merge, each in a
//! process of its own (issue 18: 100,000 patients in < 5 s and 1.5 GiB;
//! 1,000,000 patients in < 4 GiB), then the clinic report whole and as
//! shards with their merge (checked byte for byte).
//!
//! `cargo bench --bench analyze [-- PATIENTS [SHARDS] [--report-only]]` (default 100,000
//! patients × 12 weeks, 4 shards; the programme tables of the report
//! bench's cohort, generated and ingested once under
//! benches/data/programme-PATIENTS/). The merged folder is checked
//! against the whole run's, file by file.

mod common;

use std::path::Path;
use std::time::Instant;

fn lumbar(args: &[&str]) {
    let mut full = vec!["lumbar", "-q"];
    full.extend_from_slice(args);
    let mut out = Vec::new();
    match lumbar_cli::run(full, &mut out) {
        Ok(0) => {}
        other => panic!("lumbar {args:?}: {other:?}"),
    }
}

fn main() {
    let args: Vec<String> = std::env::args()
        .skip(1)
        .filter(|a| a != "--bench")
        .collect();
    if args.first().map(String::as_str) == Some("--child") {
        let a: Vec<&str> = args[1..].iter().map(String::as_str).collect();
        let t = Instant::now();
        lumbar(&a);
        common::report_child(t.elapsed().as_secs_f64(), 0);
        return;
    }
    // `--report-only`: the clinic report alone (whole and sharded).
    let report_only = args.iter().any(|a| a == "--report-only");
    let args: Vec<&String> = args.iter().filter(|a| !a.starts_with("--")).collect();
    let patients: usize = args.first().and_then(|a| a.parse().ok()).unwrap_or(100_000);
    let shards: u32 = args.get(1).and_then(|a| a.parse().ok()).unwrap_or(4);
    let store = common::generated_programme_store(patients);
    let s = store.to_str().expect("utf-8 path");
    let tmp = tempfile::tempdir().expect("temp dir");
    let dir = |name: &str| tmp.path().join(name).to_str().expect("utf-8").to_string();

    if !report_only {
        analyses(s, patients, shards, &dir);
    }
    report(s, shards, &dir);
}

/// Each shard in a process of its own: their folders, the slowest and
/// the largest peak.
fn sharded(
    command: &str,
    store: &str,
    shards: u32,
    extra: &[&str],
    dir: &dyn Fn(&str) -> String,
) -> (Vec<String>, f64, u64) {
    let mut parts = Vec::new();
    let (mut slowest, mut largest) = (0.0f64, 0u64);
    for i in 1..=shards {
        let d = dir(&format!("{command}-shard-{i}"));
        let shard = format!("{i}/{shards}");
        let mut args = vec![command, store, "--shard", &shard, "--out", &d];
        args.extend_from_slice(extra);
        let (secs, _, peak) = common::run_child(&args);
        slowest = slowest.max(secs);
        largest = largest.max(peak);
        parts.push(d);
    }
    (parts, slowest, largest)
}

fn mib(kib: u64) -> f64 {
    kib as f64 / 1024.0
}

/// `lumbar analyze` whole, in shards and merged (checked file by file).
fn analyses(s: &str, patients: usize, shards: u32, dir: &dyn Fn(&str) -> String) {
    let whole = dir("whole");
    let (secs, _, peak) = common::run_child(&["analyze", s, "--out", &whole]);
    println!(
        "{patients} patients, whole store: {secs:.2} s, peak {:.0} MiB",
        mib(peak)
    );
    let (parts, slowest, largest) = sharded("analyze", s, shards, &[], dir);
    println!(
        "  {shards} shards: the slowest {slowest:.2} s, the largest peak {:.0} MiB",
        mib(largest)
    );
    let merged = dir("merged");
    let mut merge: Vec<&str> = vec!["merge"];
    merge.extend(parts.iter().map(String::as_str));
    merge.extend(["--out", &merged]);
    let (secs, _, peak) = common::run_child(&merge);
    println!("  merge: {secs:.2} s, peak {:.0} MiB", mib(peak));
    for entry in std::fs::read_dir(&whole).expect("whole run") {
        let name = entry.expect("entry").file_name();
        if name == "manifest.json" {
            continue;
        }
        let (a, b) = (
            Path::new(&whole).join(&name),
            Path::new(&merged).join(&name),
        );
        assert!(
            std::fs::read(&a).ok() == std::fs::read(&b).ok(),
            "{} differs between the merged shards and the whole run",
            name.to_string_lossy()
        );
    }
    println!(
        "  merged = whole run, byte for byte; targets (100,000 patients): < 5 s and < 1.5 GiB"
    );
}

/// The clinic report whole, and as shards with their merge (checked byte
/// for byte).
fn report(s: &str, shards: u32, dir: &dyn Fn(&str) -> String) {
    // The clinic report on the same store (target for 1,000,000 patients:
    // < 30 s), in one process and as shards and their merge (a job array's
    // wall time is its slowest task, then the merge).
    let date = ["--date", "2026-12-07"];
    let html = dir("report.html");
    let (secs, _, peak) = common::run_child(&["report", s, "-o", &html, date[0], date[1]]);
    println!("  clinic report: {secs:.2} s, peak {:.0} MiB", mib(peak));
    let (parts, slowest, largest) = sharded("report", s, shards, &date, dir);
    let merged = dir("report-merged.html");
    let mut merge: Vec<&str> = vec!["merge"];
    merge.extend(parts.iter().map(String::as_str));
    merge.extend(["--out", &merged]);
    let (secs, _, peak) = common::run_child(&merge);
    assert!(
        std::fs::read(&html).ok() == std::fs::read(&merged).ok(),
        "the merged report differs from the whole run's"
    );
    println!(
        "  report in {shards} shards: the slowest {slowest:.2} s, the largest peak {:.0} MiB; \
         merge {secs:.2} s, peak {:.0} MiB; merged = whole report, byte for byte",
        mib(largest),
        mib(peak)
    );
}
