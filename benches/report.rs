//! The clinic report on a large cohort: time and peak memory from the store
//! to the HTML file, with the time of each part, and the file's size.
//!
//! `cargo bench --bench report [-- PATIENTS]` (default 100,000 patients × 12
//! weeks, with as many follow-up participants; the cohort and its store are
//! generated once under benches/data/).

mod common;

use std::time::Instant;

use lumbar_analysis::adherence::AdherenceTally;
use lumbar_analysis::clinic::{ClinicOptions, clinic_summary};
use lumbar_analysis::prescription::Prescriptions;
use lumbar_analysis::safety::SafetyTally;
use lumbar_io::Store;
use lumbar_model::Regimen;
use lumbar_model::cohort::CohortSource;
use lumbar_report::{ReportMeta, render};

fn main() {
    let patients: usize = std::env::args()
        .skip(1)
        .find_map(|a| a.parse().ok())
        .unwrap_or(100_000);
    let regimen = Regimen::six_moves();
    let store_dir = common::generated_store(patients);
    let rx = Prescriptions::from_regimen(&regimen);
    let store = Store::open(&store_dir).expect("store");
    // Where the time goes, part by part (then the whole report, timed alone).
    let mut parts = Vec::new();
    let mut lap = {
        let mut t = Instant::now();
        move |what: &'static str, parts: &mut Vec<(&'static str, f64)>| {
            parts.push((what, t.elapsed().as_secs_f64()));
            t = Instant::now();
        }
    };
    let cohort = store.cohort_without_sessions().expect("cohort");
    lap("patients and outcomes", &mut parts);
    let (tallies, sessions) = store
        .stream_sessions(&cohort.index(), || {
            (
                AdherenceTally::new(&cohort, &rx, 0.7, false),
                SafetyTally::new(&cohort, &regimen),
            )
        })
        .expect("sessions");
    lap("stream the sessions: adherence + safety", &mut parts);
    let (adh, saf) = (tallies.0.finish(), tallies.1.finish());
    lap("finish adherence + safety", &mut parts);
    let risk = lumbar_analysis::risk::store_frame(&store, &Default::default());
    lap("risk frame (follow-up + walking)", &mut parts);
    drop((cohort, adh, saf, risk));
    // The whole report three times (the machine is shared: the median).
    let mut times = Vec::new();
    let mut html = String::new();
    for _ in 0..3 {
        let t = Instant::now();
        let summary =
            clinic_summary(&store, &regimen, &rx, &ClinicOptions::default()).expect("summary");
        let meta = ReportMeta::new("Cohort report", &regimen);
        html = render(&summary, &meta);
        times.push(t.elapsed().as_secs_f64());
    }
    let mut sorted = times.clone();
    sorted.sort_by(f64::total_cmp);
    let total = sorted[1];
    println!(
        "{patients} patients, {sessions} sessions: report in {total:.2} s (median of {times:.2?}), HTML {:.0} KiB, peak memory {:.0} MiB",
        html.len() as f64 / 1024.0,
        common::peak_rss_kib() as f64 / 1024.0
    );
    for (what, secs) in &parts {
        println!("  {what}: {secs:.2} s");
    }
    println!("targets: < 5 s and < 2 MiB");
}
