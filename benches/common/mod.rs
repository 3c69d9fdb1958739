//! Pieces the bench binaries share: peak memory, running a measurement
//! in a child process of the same binary so that each has its own peak,
//! and repeated timings in one process.

#![allow(dead_code)] // each bench uses some of these

use std::process::Command;

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
