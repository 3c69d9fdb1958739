//! Hostile input under a memory cap: every bomb is made here (nothing big is
//! committed) and ingested by a child process limited to 1 GiB of address
//! space (`prlimit --as`). Each either ends with exit 1 and a one-line
//! message naming the file and the limit, or rejects the row and goes on.
//!
//! The child is this test binary re-entered at [`lumbar_child`], which runs
//! the `lumbar` command line from `LUMBAR_CHILD_ARGS` and exits with its
//! code, as `main` does; it reports its peak resident memory on stderr.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::Command;

use flate2::{Compress, Compression, FlushCompress};

use crate::path_str;

/// The address-space cap of every child: the brief's 1 GiB.
const CAP: u64 = 1 << 30;

struct Outcome {
    code: i32,
    stdout: String,
    /// stderr without the peak-memory report line.
    stderr: String,
    peak_kib: u64,
}

/// Runs `lumbar -q ARGS` in a child under `prlimit --as=CAP`.
fn lumbar_capped(args: &[&str]) -> Outcome {
    let exe = std::env::current_exe().expect("own path");
    let out = Command::new("prlimit")
        .arg(format!("--as={CAP}"))
        .arg("--")
        .arg(exe)
        .args([
            "limits::lumbar_child",
            "--exact",
            "--ignored",
            "--nocapture",
            "--test-threads=1",
        ])
        .env("LUMBAR_CHILD_ARGS", args.join("\u{1f}"))
        // As the `lumbar` binary bounds glibc's arenas (main.rs); each
        // reserves 64 MiB of address space.
        .env("MALLOC_ARENA_MAX", "2")
        .output()
        .expect("prlimit runs (util-linux)");
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    let peak_kib = stderr
        .lines()
        .find_map(|l| l.strip_prefix("child peak_kib="))
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or(0);
    Outcome {
        code: out.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: stderr
            .lines()
            .filter(|l| !l.starts_with("child peak_kib="))
            .map(|l| format!("{l}\n"))
            .collect(),
        peak_kib,
    }
}

/// The child's side: not a test of its own (it returns at once without
/// `LUMBAR_CHILD_ARGS`).
#[test]
#[ignore = "the memory-capped child of the tests in this module"]
fn lumbar_child() {
    let Ok(args) = std::env::var("LUMBAR_CHILD_ARGS") else {
        return;
    };
    let mut full = vec!["lumbar".to_string(), "-q".to_string()];
    full.extend(args.split('\u{1f}').map(str::to_string));
    let mut out = Vec::new();
    let code = match lumbar_cli::run(full, &mut out) {
        Ok(c) => i32::from(c),
        Err(e) => {
            // As lumbar_cli::main_with_args prints it.
            eprintln!("lumbar: error: {e:#}");
            1
        }
    };
    std::io::stdout().write_all(&out).expect("stdout");
    std::io::stdout().flush().expect("stdout");
    let peak = std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmHWM:"))
                .and_then(|l| l.split_whitespace().nth(1)?.parse::<u64>().ok())
        })
        .unwrap_or(0);
    eprintln!("child peak_kib={peak}");
    std::process::exit(code);
}

/// A gzip file of `prefix`, then `pattern` repeated to `repeat_bytes`, then
/// `suffix`: the repeated part is one member compressed once and written
/// again and again (gzip allows concatenated members), so a gigabyte costs
/// milliseconds and about a megabyte.
pub(crate) fn gzip_bomb(
    path: &Path,
    prefix: &[u8],
    pattern: u8,
    repeat_bytes: u64,
    suffix: &[u8],
) -> u64 {
    let member = |data: &[u8]| {
        let mut gz = flate2::write::GzEncoder::new(Vec::new(), Compression::best());
        gz.write_all(data).expect("gzip");
        gz.finish().expect("gzip")
    };
    let mut file = std::io::BufWriter::new(std::fs::File::create(path).expect("create"));
    file.write_all(&member(prefix)).expect("write");
    let block = member(&vec![pattern; 1 << 20]);
    let mut left = repeat_bytes;
    while left >= 1 << 20 {
        file.write_all(&block).expect("write");
        left -= 1 << 20;
    }
    file.write_all(&member(
        &[&vec![pattern; left as usize][..], suffix].concat(),
    ))
    .expect("write");
    file.flush().expect("flush");
    std::fs::metadata(path).expect("size").len()
}

const SESSIONS_HEADER: &str = "patient_id,performed_at,exercise,level,side,sets,reps,hold_s,pain_before,pain_during,pain_after,pain_persist_min,stopped_for_pain,completed,source\n";
const SESSION_ROW: &str = "P1,2025-02-03T08:00,bridge,,,2,12,5,3,4.5,3,0,false,true,app\n";
const PATIENTS_HEADER: &str = "patient_id,site,enrolled_on\n";

fn ingest_args<'a>(store: &'a Path, table_flag: &'a str, file: &'a Path) -> Vec<&'a str> {
    vec![
        "ingest",
        "--out",
        path_str(store),
        table_flag,
        path_str(file),
        "--as-of",
        "2026-01-01",
        "--json",
    ]
}

/// The one-line failure every capped bomb that stops the file must end in.
fn assert_one_line_failure(o: &Outcome, file: &Path, needle: &str) {
    let name = file.file_name().unwrap().to_string_lossy();
    assert_eq!(o.code, 1, "exit code; stderr: {}", o.stderr);
    let lines: Vec<&str> = o.stderr.lines().collect();
    assert_eq!(lines.len(), 1, "one line on stderr: {:?}", o.stderr);
    let line = lines[0];
    assert!(line.starts_with("lumbar: error: "), "{line}");
    assert!(line.contains(&*name), "the message names the file: {line}");
    assert!(line.contains(needle), "{needle:?} not in: {line}");
    assert!(line.len() < 600, "a {}-byte message", line.len());
    assert!(
        !line.chars().any(|c| c.is_control()),
        "raw control characters: {line:?}"
    );
    assert!(
        o.peak_kib > 0 && o.peak_kib < 1 << 20,
        "peak {} KiB",
        o.peak_kib
    );
}

fn file_counts(o: &Outcome) -> serde_json::Value {
    let json = o
        .stdout
        .find('{')
        .map(|i| &o.stdout[i..])
        .unwrap_or_else(|| panic!("no JSON: {} / {}", o.stdout, o.stderr));
    let v: serde_json::Value = serde_json::from_str(json).expect("json");
    v["files"][0].clone()
}

#[test]
fn a_gigabyte_of_commas_in_a_megabyte_of_gzip_stops_at_the_expansion_limit() {
    let tmp = tempfile::tempdir().unwrap();
    let file = tmp.path().join("sessions.csv.gz");
    // Header, a good row, then 1 GiB + 1 MiB of commas on one line: past
    // max(1 GiB, 200 × ~1 MB).
    let size = gzip_bomb(
        &file,
        format!("{SESSIONS_HEADER}{SESSION_ROW}").as_bytes(),
        b',',
        (1 << 30) + (1 << 20),
        b"\n",
    );
    assert!(size < 4 << 20, "the bomb is {size} bytes");
    let o = lumbar_capped(&ingest_args(&tmp.path().join("store"), "--sessions", &file));
    assert_one_line_failure(&o, &file, "gzip data expands beyond 1 GiB");
    eprintln!("commas bomb: peak {} KiB", o.peak_kib);
}

#[test]
fn a_line_over_the_limit_is_rejected_and_the_next_rows_are_read() {
    let tmp = tempfile::tempdir().unwrap();
    let file = tmp.path().join("patients.csv.gz");
    // A good row, 300 MB of commas on one line (within the expansion
    // limit), then another good row.
    gzip_bomb(
        &file,
        format!("{PATIENTS_HEADER}P1,s,2025-01-01\n").as_bytes(),
        b',',
        300 << 20,
        b"\nP2,s,2025-01-02\n",
    );
    let o = lumbar_capped(&ingest_args(&tmp.path().join("store"), "--patients", &file));
    assert_eq!(o.code, 0, "{}", o.stderr);
    let f = file_counts(&o);
    assert_eq!(
        (
            f["read"].as_u64(),
            f["accepted"].as_u64(),
            f["rejected"].as_u64()
        ),
        (Some(3), Some(2), Some(1)),
        "{f}"
    );
    let reasons = f["top_reasons"].to_string();
    // (The summary groups line numbers away; the limit's own number stays.)
    assert!(
        reasons.contains("line longer than 1 MiB (the max_line limit)"),
        "{reasons}"
    );
    assert!(o.peak_kib < 512 << 10, "peak {} KiB", o.peak_kib);
    eprintln!("300 MB line: peak {} KiB", o.peak_kib);
}

#[test]
fn wide_and_endless_headers_are_one_line_errors() {
    let tmp = tempfile::tempdir().unwrap();
    // 1,000,000 columns: the header line alone is over 1 MiB.
    let million = tmp.path().join("followup_million.csv");
    let names: Vec<String> = (0..1_000_000).map(|i| format!("c{i}")).collect();
    std::fs::write(&million, format!("patient_id,{}\nR1\n", names.join(","))).unwrap();
    let o = lumbar_capped(&ingest_args(&tmp.path().join("s1"), "--followup", &million));
    assert_one_line_failure(&o, &million, "longer than 1 MiB");
    // With a longer line allowed, the column count stops it, counted exactly.
    let s2 = tmp.path().join("s2");
    let mut args = ingest_args(&s2, "--followup", &million);
    args.extend(["--max-line", "64MiB"]);
    let o = lumbar_capped(&args);
    assert_one_line_failure(&o, &million, "1000001 columns, more than the 4096");
    // 20,000 columns and one row: refused before anything is reserved.
    let wide = tmp.path().join("followup_wide.csv");
    let names: Vec<String> = (0..20_000).map(|i| format!("c{i}")).collect();
    std::fs::write(&wide, format!("patient_id,{}\nR1\n", names.join(","))).unwrap();
    let o = lumbar_capped(&ingest_args(&tmp.path().join("s3"), "--followup", &wide));
    assert_one_line_failure(&o, &wide, "20001 columns, more than the 4096");
    // 200 MB with no line break: a short message, not 200 MB of it.
    let blob = tmp.path().join("patients_blob.csv.gz");
    gzip_bomb(&blob, b"", b'x', 200 << 20, b"");
    let o = lumbar_capped(&ingest_args(&tmp.path().join("s4"), "--patients", &blob));
    assert_one_line_failure(&o, &blob, "longer than 1 MiB");
}

/// One entry of a hand-written zip.
struct Entry {
    name: Vec<u8>,
    /// 0 stored, 8 deflate.
    method: u16,
    /// The uncompressed size the archive claims.
    declared: u32,
    data: Vec<u8>,
}

impl Entry {
    fn new(name: &[u8], method: u16, declared: u32, data: Vec<u8>) -> Entry {
        Entry {
            name: name.to_vec(),
            method,
            declared,
            data,
        }
    }
}

/// A zip archive written by hand (the zip crate is not a dependency here).
/// CRCs are 0: they are checked only at the end of an entry, which these
/// tests never reach.
fn zip_bytes(entries: &[Entry]) -> Vec<u8> {
    let mut out = Vec::new();
    let mut central = Vec::new();
    let le16 = |v: &mut Vec<u8>, x: u16| v.extend_from_slice(&x.to_le_bytes());
    let le32 = |v: &mut Vec<u8>, x: u32| v.extend_from_slice(&x.to_le_bytes());
    for Entry {
        name,
        method,
        declared: size,
        data,
    } in entries
    {
        let crc = &0u32;
        let offset = out.len() as u32;
        le32(&mut out, 0x0403_4b50);
        for x in [20u16, 0, *method, 0, 0] {
            le16(&mut out, x);
        }
        for x in [*crc, data.len() as u32, *size] {
            le32(&mut out, x);
        }
        le16(&mut out, name.len() as u16);
        le16(&mut out, 0);
        out.extend_from_slice(name);
        out.extend_from_slice(data);
        le32(&mut central, 0x0201_4b50);
        for x in [20u16, 20, 0, *method, 0, 0] {
            le16(&mut central, x);
        }
        for x in [*crc, data.len() as u32, *size] {
            le32(&mut central, x);
        }
        for x in [name.len() as u16, 0, 0, 0, 0] {
            le16(&mut central, x);
        }
        le32(&mut central, 0);
        le32(&mut central, offset);
        central.extend_from_slice(name);
    }
    let cd_offset = out.len() as u32;
    out.extend_from_slice(&central);
    le32(&mut out, 0x0605_4b50);
    for x in [0u16, 0, entries.len() as u16, entries.len() as u16] {
        le16(&mut out, x);
    }
    le32(&mut out, central.len() as u32);
    le32(&mut out, cd_offset);
    le16(&mut out, 0);
    out
}

/// Raw deflate of `head`, then `pattern` repeated `blocks` MiB, then `tail`:
/// one MiB compressed with a sync flush (byte-aligned, no reference before
/// its start) and repeated, so 1.5 GiB costs about 1.5 MB.
fn deflate_bomb(head: &[u8], pattern: u8, blocks: usize, tail: &[u8]) -> Vec<u8> {
    let chunk = |c: &mut Compress, data: &[u8], flush: FlushCompress| {
        let mut out = Vec::with_capacity(data.len() / 2 + 1024);
        c.compress_vec(data, &mut out, flush).expect("deflate");
        out
    };
    let mut out = chunk(
        &mut Compress::new(Compression::best(), false),
        head,
        FlushCompress::Sync,
    );
    let block = chunk(
        &mut Compress::new(Compression::best(), false),
        &vec![pattern; 1 << 20],
        FlushCompress::Sync,
    );
    for _ in 0..blocks {
        out.extend_from_slice(&block);
    }
    out.extend(chunk(
        &mut Compress::new(Compression::best(), false),
        tail,
        FlushCompress::Finish,
    ));
    out
}

#[test]
fn zip_bombs_entry_floods_and_hostile_names_are_refused_briefly() {
    let tmp = tempfile::tempdir().unwrap();
    // 50,000 empty entries with control characters in their names.
    let flood = tmp.path().join("P1_flood.zip");
    let entries: Vec<_> = (0..50_000)
        .map(|i| {
            Entry::new(
                format!("dir/\u{1b}[2J\r{i}.txt").as_bytes(),
                0,
                0,
                Vec::new(),
            )
        })
        .collect();
    std::fs::write(&flood, zip_bytes(&entries)).unwrap();
    let o = lumbar_capped(&ingest_args(&tmp.path().join("s1"), "--walking", &flood));
    assert_one_line_failure(&o, &flood, "a zip of 50000 entries, more than the 10000");
    // A few such names and no export.xml: counted, quoted escaped.
    let few = tmp.path().join("P1_few.zip");
    std::fs::write(&few, zip_bytes(&entries[..5])).unwrap();
    let o = lumbar_capped(&ingest_args(&tmp.path().join("s2"), "--walking", &few));
    assert_one_line_failure(&o, &few, "it holds 5 entries: ");
    assert!(o.stderr.contains("\\u{1b}[2J\\r0.txt"), "{}", o.stderr);
    // export.xml of 1.5 GiB of whitespace between two tags, declared
    // honestly: refused from the directory, nothing inflated.
    let head = b"<?xml version=\"1.0\"?>\n<HealthData>";
    let data = deflate_bomb(head, b' ', 1536, b"</HealthData>\n");
    let declared = (head.len() + (1536 << 20) + 14) as u32;
    let honest = tmp.path().join("P1_honest.zip");
    std::fs::write(
        &honest,
        zip_bytes(&[Entry::new(
            b"apple_health_export/export.xml",
            8,
            declared,
            data.clone(),
        )]),
    )
    .unwrap();
    let o = lumbar_capped(&ingest_args(&tmp.path().join("s3"), "--walking", &honest));
    assert_one_line_failure(&o, &honest, "says it expands to 1.5 GiB");
    // The same entry declaring 1,000 MiB (within the limit, and a lie):
    // the whitespace is one XML event, cut off at the line limit.
    let liar = tmp.path().join("P1_liar.zip");
    std::fs::write(
        &liar,
        zip_bytes(&[Entry::new(
            b"apple_health_export/export.xml",
            8,
            1000 << 20,
            data,
        )]),
    )
    .unwrap();
    let o = lumbar_capped(&ingest_args(&tmp.path().join("s4"), "--walking", &liar));
    assert_one_line_failure(&o, &liar, "an XML element or text longer than 1 MiB");
    eprintln!("1.5 GiB of whitespace in a zip: peak {} KiB", o.peak_kib);
}

#[test]
fn absurd_dates_and_missing_words_in_a_followup_file() {
    let tmp = tempfile::tempdir().unwrap();
    let file: PathBuf = tmp.path().join("followup.csv");
    std::fs::write(
        &file,
        "patient_id,baseline_date,end_date,event,event_date,bmi,smoker\n\
         R1,2020-01-01,2024-01-01,false,NA,27.5,yes\n\
         R2,0001-01-01,2024-01-01,false,,NaN,no\n\
         R3,2020-01-01,2024-01-01,NULL,,.,null\n\
         R4,2020-01-01,2024-01-01,true,2022-05-01,nan,NA\n\
         R5,2020-01-01,2024-01-01,false,,31,\n",
    )
    .unwrap();
    let store = tmp.path().join("store");
    let (code, out) = crate::lumbar(&ingest_args(&store, "--followup", &file));
    assert_eq!(code, 0);
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    let f = &v["files"][0];
    assert_eq!(
        (
            f["read"].as_u64(),
            f["accepted"].as_u64(),
            f["rejected"].as_u64()
        ),
        (Some(5), Some(3), Some(2)),
        "{f}"
    );
    let reasons = f["top_reasons"].to_string();
    assert!(reasons.contains("is before 1900-01-01"), "{reasons}");
    assert!(
        reasons.contains("event is required but missing"),
        "{reasons}"
    );
    // NA, NaN, nan and . did not make bmi text: it is stored as numbers.
    let df = lumbar_io::Store::open(&store)
        .unwrap()
        .read_table(lumbar_model::Table::Followup)
        .unwrap()
        .expect("a followup table")
        .sort(["patient_id"], Default::default())
        .unwrap();
    let bmi = df.column("bmi").unwrap();
    assert_eq!(bmi.dtype(), &polars::prelude::DataType::Float64);
    let values: Vec<Option<f64>> = bmi.f64().unwrap().iter().collect();
    assert_eq!(values, [Some(27.5), None, Some(31.0)]);
    let smoker = df.column("smoker").unwrap();
    assert_eq!(smoker.dtype(), &polars::prelude::DataType::Boolean);
    // --na replaces the words: "." is then a value, and bmi is text.
    let store2 = tmp.path().join("store2");
    let mut args = ingest_args(&store2, "--followup", &file);
    args.extend(["--na", "NA"]);
    let (code, out) = crate::lumbar(&args);
    assert_eq!(code, 0);
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    let f = &v["files"][0];
    // NULL is now a value: R3's event is rejected as not a boolean.
    assert!(
        f["top_reasons"].to_string().contains("is not true/false"),
        "{f}"
    );
    let df = lumbar_io::Store::open(&store2)
        .unwrap()
        .read_table(lumbar_model::Table::Followup)
        .unwrap()
        .expect("a followup table");
    assert_eq!(
        df.column("bmi").unwrap().dtype(),
        &polars::prelude::DataType::String,
        "with only NA missing, NaN and . are text"
    );
}
