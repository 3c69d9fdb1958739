//! A multi-gigabyte Apple Health export: lumbar's ingest (stream, aggregate
//! per day and source, validate, write Parquet) against a plain quick-xml
//! pass that only counts `<Record>` elements (the I/O + parse ceiling). Each
//! runs in its own child process so each has its own peak memory; the file
//! is read once before (so both find it in the page cache alike).
//!
//! `cargo bench --bench apple [-- MEGABYTES]` (default 2048; the export is
//! generated once under benches/data/).

use std::io::{BufRead, BufReader, BufWriter, Write};
use std::path::{Path, PathBuf};
use std::time::Instant;

mod common;

use lumbar_io::{Format, IngestOptions, Input, ingest};
use lumbar_model::{Regimen, Table};
use quick_xml::Reader;
use quick_xml::events::Event;

/// Writes an export of about `mb` megabytes: two years of a phone and a
/// watch (steps every few minutes from each, exercise minutes, heart rate
/// that lumbar ignores, and food correlations), with Apple's inline DTD.
fn generate(path: &Path, mb: u64) {
    let f = std::fs::File::create(path).expect("create export");
    let mut w = BufWriter::with_capacity(1 << 20, f);
    writeln!(w, "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<!DOCTYPE HealthData [\n<!ELEMENT HealthData (ExportDate,Me,(Record|Correlation|Workout)*)>\n<!ATTLIST Record type CDATA #REQUIRED sourceName CDATA #REQUIRED value CDATA #IMPLIED>\n]>\n<HealthData locale=\"en_GB\">\n <ExportDate value=\"2025-01-01 09:00:00 +0100\"/>").expect("write");
    let target = mb << 20;
    let mut written = 0u64;
    let mut i = 0u64;
    let day0 = chrono::NaiveDate::from_ymd_opt(2023, 1, 1).expect("date");
    while written < target {
        let day = day0 + chrono::Duration::days(((i / 400) % 730) as i64);
        let minute = i % 400 * 3;
        let (h, m) = (minute / 60 % 24, minute % 60);
        let src = if i.is_multiple_of(2) {
            "Anna’s iPhone"
        } else {
            "Anna’s Apple Watch"
        };
        let line = match i % 10 {
            0..=5 => format!(
                " <Record type=\"HKQuantityTypeIdentifierStepCount\" sourceName=\"{src}\" sourceVersion=\"17.2\" unit=\"count\" creationDate=\"{day} {h:02}:{m:02}:30 +0100\" startDate=\"{day} {h:02}:{m:02}:00 +0100\" endDate=\"{day} {h:02}:{m:02}:59 +0100\" value=\"{}\"/>\n",
                20 + i % 90
            ),
            6 => format!(
                " <Record type=\"HKQuantityTypeIdentifierAppleExerciseTime\" sourceName=\"{src}\" unit=\"min\" creationDate=\"{day} {h:02}:{m:02}:30 +0100\" startDate=\"{day} {h:02}:{m:02}:00 +0100\" endDate=\"{day} {h:02}:{m:02}:59 +0100\" value=\"1\"/>\n"
            ),
            7 | 8 => format!(
                " <Record type=\"HKQuantityTypeIdentifierHeartRate\" sourceName=\"{src}\" unit=\"count/min\" startDate=\"{day} {h:02}:{m:02}:00 +0100\" endDate=\"{day} {h:02}:{m:02}:00 +0100\" value=\"72\">\n  <MetadataEntry key=\"HKMetadataKeyHeartRateMotionContext\" value=\"0\"/>\n </Record>\n"
            ),
            _ => format!(
                " <Correlation type=\"HKCorrelationTypeIdentifierFood\" startDate=\"{day} 12:00:00 +0100\" endDate=\"{day} 12:00:00 +0100\">\n  <Record type=\"HKQuantityTypeIdentifierStepCount\" sourceName=\"{src}\" startDate=\"{day} 12:00:00 +0100\" endDate=\"{day} 12:00:00 +0100\" value=\"9999\"/>\n </Correlation>\n"
            ),
        };
        w.write_all(line.as_bytes()).expect("write");
        written += line.len() as u64;
        i += 1;
    }
    writeln!(w, "</HealthData>").expect("write");
    w.flush().expect("flush");
}

fn child(mode: &str, export: &Path, dir: &Path) {
    let t = Instant::now();
    let rows = match mode {
        "quick-xml" => {
            let mut r = Reader::from_reader(BufReader::with_capacity(
                1 << 20,
                std::fs::File::open(export).expect("open"),
            ));
            let mut buf = Vec::with_capacity(4096);
            let mut records = 0u64;
            loop {
                match r.read_event_into(&mut buf).expect("xml") {
                    Event::Start(e) | Event::Empty(e) if e.name().as_ref() == b"Record" => {
                        records += 1
                    }
                    Event::Eof => break,
                    _ => {}
                }
                buf.clear();
            }
            records
        }
        _ => {
            let store = dir.join("store");
            let _ = std::fs::remove_dir_all(&store);
            let mut input = Input::new(Table::Walking, export);
            input.format = Some(Format::Apple);
            input.patient_id = Some("P00001".into());
            let opts = IngestOptions {
                as_of: chrono::NaiveDate::from_ymd_opt(2026, 1, 1).expect("date"),
                ..Default::default()
            };
            let r = ingest(&store, &[input], &Regimen::six_moves(), &opts, &mut |_| {})
                .expect("ingest");
            let c = r.tables()[&Table::Walking];
            assert_eq!(c.read, c.accepted + c.rejected);
            c.read
        }
    };
    common::report_child(t.elapsed().as_secs_f64(), rows);
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    if let Some(i) = args.iter().position(|a| a == "--child") {
        child(
            &args[i + 1],
            Path::new(&args[i + 2]),
            Path::new(&args[i + 3]),
        );
        return;
    }
    let mb: u64 = args
        .iter()
        .skip(1)
        .find_map(|a| a.parse().ok())
        .unwrap_or(2048);
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join(format!("benches/data/apple-{mb}"));
    std::fs::create_dir_all(&dir).expect("data dir");
    let export = dir.join("export.xml");
    if !export.exists() {
        eprintln!("generating a {mb} MB export…");
        generate(&export, mb);
    }
    let size = std::fs::metadata(&export).expect("size").len() as f64 / (1 << 20) as f64;
    // Warm the page cache so both passes read from memory alike.
    let mut f = BufReader::new(std::fs::File::open(&export).expect("open"));
    while !f.fill_buf().expect("read").is_empty() {
        let n = f.buffer().len();
        f.consume(n);
    }
    let paths = [export.to_str().expect("path"), dir.to_str().expect("path")];
    let (tq, records, mq) = common::run_child(&["quick-xml", paths[0], paths[1]]);
    let (tl, days, ml) = common::run_child(&["lumbar", paths[0], paths[1]]);
    println!("Apple Health export: {size:.0} MiB, {records} records");
    println!(
        "quick-xml, counting records only: {tq:.1} s, {:.0} MiB/s, peak {:.0} MiB",
        size / tq,
        mq as f64 / 1024.0
    );
    println!(
        "lumbar ingest (aggregate, validate, write Parquet): {tl:.1} s, {:.0} MiB/s, peak {:.0} MiB, {days} days; {:.2}× the ceiling's throughput",
        size / tl,
        ml as f64 / 1024.0,
        tq / tl
    );
    println!("target: peak memory < 200 MiB");
}
