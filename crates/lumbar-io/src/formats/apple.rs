//! Apple Health exports: `export.xml`, or the `export.zip` that holds it,
//! streamed with a pull parser (quick-xml) in constant memory: only one
//! running total per day and source is kept, never the records.
//!
//! * Records of `HKQuantityTypeIdentifierStepCount` and
//!   `HKQuantityTypeIdentifierAppleExerciseTime` (minutes) are summed per
//!   local calendar day (the date of `startDate` as written, which carries
//!   the phone's offset, e.g. `2024-03-10 23:30:00 +0100` is 10 March) and
//!   per `sourceName`. A record that spans midnight counts on its start day.
//! * A phone and a watch both record the same walk, so the day's value is
//!   the **largest source's total**, not the sum over sources.
//! * Records inside `<Correlation>` repeat records that also appear on their
//!   own, and are skipped. The inline DTD is skipped; entities are never
//!   expanded (an attribute that needs one rejects its record).
//! * Walking minutes are the day's exercise minutes when the export has any
//!   (`source` = `apple:exercise`), else estimated from steps at 100 steps
//!   per minute (`apple:steps-estimate`, see
//!   [`super::STEPS_PER_WALKING_MINUTE`]). Distance records
//!   (`HKQuantityTypeIdentifierDistanceWalkingRunning`) are read and checked
//!   but the walking table has no distance column.
//! * Rows read: one per day, plus one per unusable record (a bad date or
//!   value), which is rejected with its line. Records of other types are not
//!   walking data and are not counted.
//!
//! An export names no patient: the patient id is given by the caller
//! (`lumbar ingest --patient-id`), or taken from the file name.

use std::collections::{BTreeMap, HashMap};
use std::fs::File;
use std::io::{BufRead, BufReader, Read, Seek};
use std::path::Path;

use quick_xml::Reader;
use quick_xml::events::Event;

use super::{STEPS_PER_WALKING_MINUTE, walking_cells};
use crate::error::IngestError;
use crate::limits::{Bounded, Inflated, Limits, bytes_words, excerpt};
use crate::source::OwnedRow;
use crate::validate::Rejection;

const STEPS: &[u8] = b"HKQuantityTypeIdentifierStepCount";
const EXERCISE: &[u8] = b"HKQuantityTypeIdentifierAppleExerciseTime";
const DISTANCE: &[u8] = b"HKQuantityTypeIdentifierDistanceWalkingRunning";

/// Why a record cannot be used: reason, attribute, its text.
type Problem = (String, &'static str, Option<String>);

#[derive(Default, Clone, Copy)]
struct Totals {
    steps: f64,
    has_steps: bool,
    exercise_min: f64,
    has_exercise: bool,
}

#[derive(Default)]
struct Day {
    first_line: u64,
    by_source: HashMap<String, Totals>,
}

/// Whether the file looks like an Apple Health export: a zip, or XML (the
/// only XML lumbar reads, so any XML is read as one and a wrong root is
/// reported as such).
pub fn sniff(head: &[u8]) -> bool {
    head.starts_with(b"PK\x03\x04")
        || head.starts_with(b"<?xml")
        || head.starts_with(b"<!DOCTYPE")
        || head.starts_with(b"<HealthData")
}

fn header_error(path: &Path, problem: impl Into<String>) -> IngestError {
    IngestError::Header {
        path: path.to_path_buf(),
        problem: problem.into(),
    }
}

/// Reads an export into walking rows (one per day) and rejected records:
/// a zip's `export.xml` entry (decompressed as it is parsed), or the XML
/// file itself.
pub fn read(path: &Path, patient: &str) -> Result<Vec<OwnedRow>, IngestError> {
    read_with(path, patient, &Limits::default())
}

/// [`read`] within `limits`: a zip lists at most `max_zip_entries` entries
/// and its export.xml inflates to at most the expansion limit; an XML event
/// (element or text) is at most `max_line` bytes.
pub fn read_with(
    path: &Path,
    patient: &str,
    limits: &Limits,
) -> Result<Vec<OwnedRow>, IngestError> {
    let mut rows = Vec::new();
    read_into(path, patient, limits, &mut |r| {
        rows.push(r);
        true
    })?;
    rows.sort_by_key(|r| r.line);
    Ok(rows)
}

/// [`read_with`] streaming: unusable records go to `emit` as they are
/// found, the days at the end (in the order of their first record); stops
/// early when `emit` returns false.
pub fn read_into(
    path: &Path,
    patient: &str,
    limits: &Limits,
    emit: &mut dyn FnMut(OwnedRow) -> bool,
) -> Result<(), IngestError> {
    let mut file = File::open(path).map_err(|source| IngestError::Open {
        path: path.to_path_buf(),
        source,
    })?;
    let mut magic = [0u8; 4];
    let n = file
        .read(&mut magic)
        .map_err(|e| IngestError::io(path, e))?;
    file.rewind().map_err(|e| IngestError::io(path, e))?;
    if n == 4 && &magic == b"PK\x03\x04" {
        let mut zip = zip::ZipArchive::new(file).map_err(|e| {
            header_error(
                path,
                format!(
                    "starts like a zip but is not a readable one ({})",
                    excerpt(&e.to_string())
                ),
            )
        })?;
        if zip.len() > limits.max_zip_entries {
            return Err(header_error(
                path,
                format!(
                    "a zip of {} entries, more than the {} an Apple Health export holds (max_zip_entries)",
                    zip.len(),
                    limits.max_zip_entries
                ),
            ));
        }
        // Entry names are only compared and quoted, never made into paths.
        let names: Vec<String> = zip
            .file_names()
            .filter_map(|n| n.ok().map(|c| c.into_owned()))
            .collect();
        let Some(index) = names
            .iter()
            .find(|n| n.ends_with("export.xml") && !n.ends_with("export_cda.xml"))
            .and_then(|n| zip.index_for_name(n))
        else {
            let shown: Vec<String> = names
                .iter()
                .take(3)
                .map(|n| format!("'{}'", excerpt(n)))
                .collect();
            return Err(header_error(
                path,
                format!(
                    "a zip without an Apple Health export.xml inside (it holds {} entries{}{})",
                    names.len(),
                    if shown.is_empty() { "" } else { ": " },
                    excerpt(&shown.join(", ")) + if names.len() > 3 { ", …" } else { "" }
                ),
            ));
        };
        let entry = zip.by_index(index).map_err(|e| {
            header_error(
                path,
                format!(
                    "cannot read export.xml in the zip ({})",
                    excerpt(&e.to_string())
                ),
            )
        })?;
        let (declared, compressed) = (entry.size(), entry.compressed_size());
        let allowed = limits.expanded_limit(compressed);
        if declared > allowed {
            return Err(header_error(
                path,
                format!(
                    "its export.xml says it expands to {} ({} compressed), over the {} limit (max_expanded, max_ratio)",
                    bytes_words(declared),
                    bytes_words(compressed),
                    bytes_words(allowed)
                ),
            ));
        }
        // The declared size is not trusted: the inflated bytes are counted.
        let entry = Inflated::new(entry, limits, compressed, "the zip entry export.xml");
        return read_events(
            BufReader::with_capacity(1 << 20, entry),
            path,
            patient,
            limits,
            emit,
        );
    }
    read_events(
        BufReader::with_capacity(1 << 20, file),
        path,
        patient,
        limits,
        emit,
    )
}

/// Newlines inside an event's raw bytes, so every event's line is known.
fn newlines(event: &Event<'_>) -> u64 {
    let bytes: &[u8] = match event {
        Event::Start(e) | Event::Empty(e) => e,
        Event::End(e) => e,
        Event::Text(t) | Event::Comment(t) | Event::DocType(t) => t,
        Event::CData(c) => c,
        Event::Decl(d) => d,
        Event::PI(p) => p,
        _ => &[],
    };
    bytes.iter().filter(|&&c| c == b'\n').count() as u64
}

/// `YYYY-MM-DD HH:MM:SS ±HHMM` → the local date `YYYY-MM-DD`.
#[cfg(test)]
fn local_date(text: &str) -> Option<String> {
    local_date_key(text).map(|k| String::from_utf8_lossy(&k).into_owned())
}

/// The local date's 10 bytes, checked by hand: chrono's format parser per
/// record was a large share of the time on multi-gigabyte exports.
fn local_date_key(text: &str) -> Option<[u8; 10]> {
    let b = text.as_bytes();
    let shape = b.len() == 25
        && b[4] == b'-'
        && b[7] == b'-'
        && b[10] == b' '
        && b[13] == b':'
        && b[16] == b':'
        && b[19] == b' '
        && (b[20] == b'+' || b[20] == b'-');
    if !shape {
        return None;
    }
    let num = |r: std::ops::Range<usize>| -> Option<u32> {
        b[r].iter().try_fold(0u32, |acc, &c| {
            c.is_ascii_digit().then(|| acc * 10 + (c - b'0') as u32)
        })
    };
    let (y, m, d) = (num(0..4)?, num(5..7)?, num(8..10)?);
    chrono::NaiveDate::from_ymd_opt(y as i32, m, d)?;
    if num(11..13)? > 23 || num(14..16)? > 59 || num(17..19)? > 60 {
        return None;
    }
    num(21..25)?;
    let mut key = [0u8; 10];
    key.copy_from_slice(&b[..10]);
    Some(key)
}

fn read_from<R: BufRead>(
    input: R,
    path: &Path,
    patient: &str,
    limits: &Limits,
) -> Result<Vec<OwnedRow>, IngestError> {
    let mut rows = Vec::new();
    read_events(input, path, patient, limits, &mut |r| {
        rows.push(r);
        true
    })?;
    rows.sort_by_key(|r| r.line);
    Ok(rows)
}

/// Sources kept per day: a phone, a watch and a few apps; a file naming
/// thousands would otherwise grow one total per name.
const MAX_SOURCES_PER_DAY: usize = 64;

/// Rejects are handed on in batches of this many.
const REJECT_BATCH: usize = 1024;

fn read_events<R: BufRead>(
    input: R,
    path: &Path,
    patient: &str,
    limits: &Limits,
    emit: &mut dyn FnMut(OwnedRow) -> bool,
) -> Result<(), IngestError> {
    // quick-xml grows its buffer until an event ends: a gigabyte of
    // whitespace between two tags was one gigabyte-long event.
    let input = Bounded::new(input, limits, |l| {
        format!(
            "an XML element or text longer than {} (max_line)",
            l.line_words()
        )
    });
    let mut reader = Reader::from_reader(input);
    reader.config_mut().trim_text(false);
    let mut buf = Vec::with_capacity(4096);
    let mut line: u64 = 1;
    let mut depth: u32 = 0;
    let mut correlation_depth: Option<u32> = None;
    let mut saw_root = false;
    let mut days: BTreeMap<[u8; 10], Day> = BTreeMap::new();
    let mut rejects: Vec<OwnedRow> = Vec::new();
    loop {
        if rejects.len() >= REJECT_BATCH {
            for r in rejects.drain(..) {
                if !emit(r) {
                    return Ok(());
                }
            }
        }
        buf.clear();
        // Each event is counted from zero; keep the buffer from holding on
        // to the memory of one long event.
        if buf.capacity() > 1 << 16 {
            buf = Vec::with_capacity(4096);
        }
        reader.get_mut().reset();
        let at_line = line;
        let event = reader.read_event_into(&mut buf).map_err(|e| {
            let problem = match &e {
                quick_xml::Error::Io(io) => io.to_string(),
                e => excerpt(&e.to_string()),
            };
            header_error(
                path,
                format!(
                    "malformed XML at line {line} (byte {}): {problem}",
                    reader.error_position()
                ),
            )
        })?;
        line += newlines(&event);
        let (start, is_empty) = match &event {
            Event::Start(e) => (Some(e.clone()), false),
            Event::Empty(e) => (Some(e.clone()), true),
            Event::End(_) => {
                if correlation_depth == Some(depth) {
                    correlation_depth = None;
                }
                depth = depth.saturating_sub(1);
                continue;
            }
            Event::Eof => break,
            _ => continue,
        };
        let Some(e) = start else { continue };
        if !is_empty {
            depth += 1;
        }
        let name = e.name();
        if !saw_root {
            if name.as_ref() != b"HealthData" {
                return Err(header_error(
                    path,
                    format!(
                        "not an Apple Health export: the root element is <{}>, not <HealthData>",
                        crate::limits::excerpt_bytes(name.as_ref())
                    ),
                ));
            }
            saw_root = true;
            continue;
        }
        match name.as_ref() {
            b"Correlation" if !is_empty && correlation_depth.is_none() => {
                correlation_depth = Some(depth);
            }
            b"Record" if correlation_depth.is_none() => {
                let reject =
                    |reason: String, column: Option<&str>, value: Option<String>| OwnedRow {
                        line: at_line,
                        cells: Err(Rejection {
                            column: column.map(String::from),
                            value,
                            reason,
                        }),
                    };
                // One pass over the attributes, keeping the four it needs
                // undecoded; records of other types cost no allocation.
                let mut wanted: [Option<quick_xml::events::attributes::Attribute<'_>>; 4] =
                    [None, None, None, None];
                let mut broken = None;
                for a in e.attributes().with_checks(false) {
                    match a {
                        Ok(a) => {
                            let slot = match a.key.as_ref() {
                                b"type" => 0,
                                b"sourceName" => 1,
                                b"startDate" => 2,
                                b"value" => 3,
                                _ => continue,
                            };
                            wanted[slot] = Some(a);
                        }
                        Err(err) => {
                            broken = Some(format!("malformed attribute: {err}"));
                            break;
                        }
                    }
                }
                let Some(kind) = wanted[0].as_ref().map(|a| a.value.clone()) else {
                    if let Some(reason) = broken {
                        rejects.push(reject(reason, None, None));
                    }
                    continue;
                };
                let kind_b: &[u8] = &kind;
                if kind_b != STEPS && kind_b != EXERCISE && kind_b != DISTANCE {
                    continue;
                }
                if let Some(reason) = broken {
                    rejects.push(reject(reason, None, None));
                    continue;
                }
                let decode = |slot: usize, name: &str| -> Result<Option<String>, String> {
                    match &wanted[slot] {
                        None => Ok(None),
                        Some(a) => a.unescape_value().map(|v| Some(v.into_owned())).map_err(|err| {
                            format!("attribute {name} cannot be read ({err}); entities are not expanded")
                        }),
                    }
                };
                let fields = (|| -> Result<(String, [u8; 10], f64), Problem> {
                    let source = decode(1, "sourceName")
                        .map_err(|r| (r, "sourceName", None))?
                        .unwrap_or_else(|| "(unnamed source)".into());
                    let start = decode(2, "startDate")
                        .map_err(|r| (r, "startDate", None))?
                        .ok_or(("the record has no startDate".to_string(), "startDate", None))?;
                    let date = local_date_key(&start).ok_or((
                        "startDate is not 'YYYY-MM-DD HH:MM:SS +HHMM' as Apple Health writes it"
                            .to_string(),
                        "startDate",
                        Some(excerpt(&start)),
                    ))?;
                    let text = decode(3, "value").map_err(|r| (r, "value", None))?.ok_or((
                        "the record has no value".to_string(),
                        "value",
                        None,
                    ))?;
                    let v: f64 = text.trim().parse().map_err(|_| {
                        (
                            "value is not a number".to_string(),
                            "value",
                            Some(excerpt(&text)),
                        )
                    })?;
                    if !v.is_finite() || v < 0.0 {
                        return Err((
                            "value must be a finite number ≥ 0".to_string(),
                            "value",
                            Some(excerpt(&text)),
                        ));
                    }
                    if kind_b == EXERCISE && v > 1440.0 {
                        return Err((
                            "exercise minutes above 1440 in one record".to_string(),
                            "value",
                            Some(excerpt(&text)),
                        ));
                    }
                    Ok((source, date, v))
                })();
                match fields {
                    Err((reason, column, value)) => {
                        rejects.push(reject(reason, Some(column), value))
                    }
                    Ok((source, date, v)) => {
                        let day = days.entry(date).or_insert_with(|| Day {
                            first_line: at_line,
                            ..Default::default()
                        });
                        if day.by_source.len() >= MAX_SOURCES_PER_DAY
                            && !day.by_source.contains_key(source.as_str())
                        {
                            rejects.push(reject(
                                format!(
                                    "more than {MAX_SOURCES_PER_DAY} sources record this day; this record's source is not counted"
                                ),
                                Some("sourceName"),
                                Some(excerpt(&source)),
                            ));
                            continue;
                        }
                        let t = match day.by_source.get_mut(source.as_str()) {
                            Some(t) => t,
                            None => day.by_source.entry(source).or_default(),
                        };
                        if kind_b == STEPS {
                            t.steps += v;
                            t.has_steps = true;
                        } else if kind_b == EXERCISE {
                            t.exercise_min += v;
                            t.has_exercise = true;
                        }
                    }
                }
            }
            _ => {}
        }
    }
    if !saw_root {
        return Err(header_error(
            path,
            "no <HealthData> element: the file is empty or not an Apple Health export",
        ));
    }
    if depth > 0 {
        return Err(header_error(
            path,
            format!(
                "the file ends inside an element at line {line} (truncated export?); nothing was ingested from it"
            ),
        ));
    }
    for r in rejects {
        if !emit(r) {
            return Ok(());
        }
    }
    let mut rows = Vec::with_capacity(days.len());
    for (key, day) in days {
        let date = String::from_utf8_lossy(&key).into_owned();
        let steps = day
            .by_source
            .values()
            .filter(|t| t.has_steps)
            .map(|t| t.steps)
            .fold(None, |m: Option<f64>, s| Some(m.map_or(s, |m| m.max(s))));
        let exercise = day
            .by_source
            .values()
            .filter(|t| t.has_exercise)
            .map(|t| t.exercise_min)
            .fold(None, |m: Option<f64>, s| Some(m.map_or(s, |m| m.max(s))));
        let (minutes, source) = match (exercise, steps) {
            (Some(m), _) => (m, "apple:exercise"),
            (None, Some(s)) => (s / STEPS_PER_WALKING_MINUTE, "apple:steps-estimate"),
            (None, None) => continue, // distance only: nothing the table holds
        };
        rows.push(OwnedRow {
            line: day.first_line,
            cells: Ok(walking_cells(
                patient,
                &date,
                minutes.min(1440.0),
                steps,
                None,
                source,
            )),
        });
    }
    rows.sort_by_key(|r| r.line);
    for r in rows {
        if !emit(r) {
            break;
        }
    }
    Ok(())
}

/// Reads an export held in memory (tests and fuzzing).
pub fn read_bytes(bytes: &[u8], patient: &str) -> Result<Vec<OwnedRow>, IngestError> {
    read_from(bytes, Path::new("(bytes)"), patient, &Limits::default())
}

#[cfg(test)]
mod tests {
    use super::*;

    const EXPORT: &str = r#"<?xml version="1.0" encoding="UTF-8"?>
<!DOCTYPE HealthData [
<!ELEMENT HealthData (ExportDate,Me,(Record|Correlation|Workout)*)>
<!ATTLIST Record type CDATA #REQUIRED>
]>
<HealthData locale="en_GB">
 <ExportDate value="2024-03-12 09:00:00 +0100"/>
 <Me HKCharacteristicTypeIdentifierDateOfBirth="1970-01-01"/>
 <Record type="HKQuantityTypeIdentifierStepCount" sourceName="iPhone" unit="count" startDate="2024-03-10 08:00:00 +0100" endDate="2024-03-10 08:30:00 +0100" value="3000"/>
 <Record type="HKQuantityTypeIdentifierStepCount" sourceName="iPhone" unit="count" startDate="2024-03-10 18:00:00 +0100" endDate="2024-03-10 18:30:00 +0100" value="2000"/>
 <Record type="HKQuantityTypeIdentifierStepCount" sourceName="Watch" unit="count" startDate="2024-03-10 08:00:00 +0100" endDate="2024-03-10 08:30:00 +0100" value="4500"/>
 <Record type="HKQuantityTypeIdentifierStepCount" sourceName="Watch" unit="count" startDate="2024-03-10 23:50:00 -0500" endDate="2024-03-11 00:10:00 -0500" value="100">
  <MetadataEntry key="HKTimeZone" value="America/New_York"/>
 </Record>
 <Record type="HKQuantityTypeIdentifierStepCount" sourceName="iPhone" unit="count" startDate="2024-03-11 07:00:00 +0100" endDate="2024-03-11 07:30:00 +0100" value="1234"/>
 <Record type="HKQuantityTypeIdentifierAppleExerciseTime" sourceName="Watch" unit="min" startDate="2024-03-11 07:00:00 +0100" endDate="2024-03-11 07:01:00 +0100" value="25"/>
 <Record type="HKQuantityTypeIdentifierHeartRate" sourceName="Watch" unit="count/min" startDate="2024-03-11 07:00:00 +0100" endDate="2024-03-11 07:00:00 +0100" value="70"/>
 <Correlation type="HKCorrelationTypeIdentifierFood" startDate="2024-03-11 12:00:00 +0100" endDate="2024-03-11 12:00:00 +0100">
  <Record type="HKQuantityTypeIdentifierStepCount" sourceName="iPhone" unit="count" startDate="2024-03-11 12:00:00 +0100" endDate="2024-03-11 12:00:00 +0100" value="9999"/>
 </Correlation>
 <Record type="HKQuantityTypeIdentifierStepCount" sourceName="iPhone" unit="count" startDate="11/03/2024 08:00" endDate="2024-03-11 08:00:00 +0100" value="10"/>
 <Record type="HKQuantityTypeIdentifierStepCount" sourceName="iPhone" unit="count" startDate="2024-03-11 09:00:00 +0100" endDate="2024-03-11 09:00:00 +0100" value="-5"/>
</HealthData>
"#;

    #[test]
    fn days_take_the_largest_source_and_skip_correlations() {
        let rows = read_bytes(EXPORT.as_bytes(), "P1").unwrap();
        let ok: Vec<&Vec<Option<String>>> =
            rows.iter().filter_map(|r| r.cells.as_ref().ok()).collect();
        assert_eq!(ok.len(), 2);
        // 10 March: iPhone 5000, Watch 4500 + 100 (its local date is the 10th
        // in New York) = 4600; the largest source wins: 5000 steps, 50 minutes.
        assert_eq!(ok[0][1].as_deref(), Some("2024-03-10"));
        assert_eq!(ok[0][3].as_deref(), Some("5000"));
        assert_eq!(ok[0][2].as_deref(), Some("50"));
        assert_eq!(ok[0][6].as_deref(), Some("apple:steps-estimate"));
        // 11 March: exercise minutes recorded (25), the food correlation's
        // 9999 steps not counted again.
        assert_eq!(ok[1][1].as_deref(), Some("2024-03-11"));
        assert_eq!(ok[1][2].as_deref(), Some("25"));
        assert_eq!(ok[1][3].as_deref(), Some("1234"));
        assert_eq!(ok[1][6].as_deref(), Some("apple:exercise"));
        // Two bad records, rejected with their lines and columns.
        let bad: Vec<(&u64, &Rejection)> = rows
            .iter()
            .filter_map(|r| r.cells.as_ref().err().map(|e| (&r.line, e)))
            .collect();
        assert_eq!(bad.len(), 2);
        assert_eq!(*bad[0].0, 21);
        assert_eq!(bad[0].1.column.as_deref(), Some("startDate"));
        assert_eq!(*bad[1].0, 22);
        assert!(bad[1].1.reason.contains("≥ 0"), "{:?}", bad[1].1);
        // Days carry the line of their first record.
        assert_eq!(rows.iter().find(|r| r.cells.is_ok()).unwrap().line, 9);
    }

    #[test]
    fn broken_exports_are_errors_naming_the_place() {
        let truncated = &EXPORT[..EXPORT.len() / 2];
        let e = read_bytes(truncated.as_bytes(), "P1")
            .unwrap_err()
            .to_string();
        assert!(e.contains("line"), "{e}");
        let e = read_bytes(b"<?xml version=\"1.0\"?><Other/>", "P1")
            .unwrap_err()
            .to_string();
        assert!(e.contains("root element is <Other>"), "{e}");
        let e = read_bytes(b"", "P1").unwrap_err().to_string();
        assert!(e.contains("no <HealthData>"), "{e}");
        // An entity is never expanded: the record is rejected, not exploded.
        let lol = r#"<?xml version="1.0"?><!DOCTYPE HealthData [<!ENTITY a "aaaaaaaaaa"><!ENTITY b "&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;">]>
<HealthData><Record type="HKQuantityTypeIdentifierStepCount" sourceName="&b;" startDate="2024-03-10 08:00:00 +0100" value="1"/></HealthData>"#;
        let rows = read_bytes(lol.as_bytes(), "P1").unwrap();
        assert_eq!(rows.len(), 1);
        assert!(
            rows[0]
                .cells
                .as_ref()
                .unwrap_err()
                .reason
                .contains("entities are not expanded")
        );
    }

    #[test]
    fn sources_per_day_are_bounded() {
        let records: String = (0..70)
            .map(|i| format!(r#"<Record type="HKQuantityTypeIdentifierStepCount" sourceName="app{i}" startDate="2024-03-10 08:00:00 +0100" value="{}"/>"#, 100 + i))
            .collect::<Vec<_>>()
            .join("\n");
        let xml = format!("<HealthData>\n{records}\n</HealthData>\n");
        let rows = read_bytes(xml.as_bytes(), "P1").unwrap();
        let bad: Vec<&Rejection> = rows.iter().filter_map(|r| r.cells.as_ref().err()).collect();
        assert_eq!(bad.len(), 6);
        assert_eq!(bad[0].value.as_deref(), Some("app64"));
        // The day is the largest of the 64 sources kept (app63: 163 steps).
        let day = rows.iter().find_map(|r| r.cells.as_ref().ok()).unwrap();
        assert_eq!(day[3].as_deref(), Some("163"));
    }

    #[test]
    fn local_dates() {
        assert_eq!(
            local_date("2024-03-10 23:30:00 +0100").as_deref(),
            Some("2024-03-10")
        );
        assert_eq!(local_date("2024-02-30 23:30:00 +0100"), None);
        assert_eq!(local_date("2024-03-10T23:30:00Z"), None);
        assert_eq!(local_date("2024-03-10 25:30:00 +0100"), None);
    }
}
