//! FHIR R4 Observations: NDJSON (a Bulk Data export, one resource per line)
//! or a JSON `Bundle` (its `entry[].resource`).
//!
//! | LOINC | meaning | goes to |
//! |---|---|---|
//! | 41950-7 | number of steps in 24 hours | walking `steps` |
//! | 55423-8 | number of steps (pedometer) | walking `steps` |
//! | 68516-4 | minutes of moderate-to-vigorous activity per day | walking `walking_min` |
//! | 82290-8 | minutes of moderate-to-vigorous activity per week | walking `walking_min` = value / 7 on the effective day |
//! | 72514-3 | pain severity, 0–10 numeric rating | outcomes `nrs_pain` |
//!
//! `subject.reference` (`Patient/123`) gives the patient id (`123`); the day
//! is the date of `effectiveDateTime` (or `effectivePeriod.start`) as
//! written. Walking observations of one patient and day are combined into
//! one row: steps summed, daily minutes summed (weekly minutes / 7 only when
//! the day has no daily minutes), minutes estimated from steps at 100 per
//! minute when there are none (`source` says which).
//!
//! Rows read: each Observation is read once, by the pass of the table it
//! belongs to. The *primary* pass (the table the file was given for) also
//! reads everything else — other resource types, unknown codes, broken
//! lines — and rejects it with the reason, so nothing is dropped silently.

use std::collections::BTreeMap;
use std::io::{BufRead, Read};
use std::path::Path;

use lumbar_model::Table;
use serde_json::Value;

use super::{STEPS_PER_WALKING_MINUTE, walking_cells};
use crate::error::IngestError;
use crate::limits::{Limits, excerpt};
use crate::source::{OwnedRow, open_text, too_long};
use crate::validate::Rejection;

const LOINC: &str = "http://loinc.org";
/// Longest Bundle document read whole (NDJSON lines are bounded by
/// `Limits::max_line`): parsed JSON takes several times its text, so a
/// 64 MiB Bundle can already cost hundreds of megabytes.
const MAX_BUNDLE: u64 = 64 << 20;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Steps,
    MinutesDay,
    MinutesWeek,
    Pain,
}

fn kind_of(code: &str) -> Option<Kind> {
    Some(match code {
        "41950-7" | "55423-8" => Kind::Steps,
        "68516-4" => Kind::MinutesDay,
        "82290-8" => Kind::MinutesWeek,
        "72514-3" => Kind::Pain,
        _ => return None,
    })
}

/// Whether text starts like FHIR JSON.
pub fn sniff(head: &str) -> bool {
    head.trim_start().starts_with('{') && head.contains("\"resourceType\"")
}

fn reject(reason: impl Into<String>, column: Option<&str>, value: Option<String>) -> Rejection {
    Rejection {
        column: column.map(String::from),
        value,
        reason: reason.into(),
    }
}

/// One Observation understood.
struct Obs {
    kind: Kind,
    patient: String,
    date: String,
    value: f64,
}

fn observation(v: &Value) -> Result<Obs, Rejection> {
    let rt = v.get("resourceType").and_then(Value::as_str).unwrap_or("");
    if rt != "Observation" {
        return Err(reject(
            format!(
                "a {} resource, not an Observation",
                if rt.is_empty() {
                    "typeless".to_string()
                } else {
                    excerpt(rt)
                }
            ),
            Some("resourceType"),
            Some(excerpt(rt)),
        ));
    }
    if v.get("status").and_then(Value::as_str) == Some("entered-in-error") {
        return Err(reject("status entered-in-error", Some("status"), None));
    }
    let codings = v
        .pointer("/code/coding")
        .and_then(Value::as_array)
        .ok_or_else(|| reject("no code.coding", Some("code"), None))?;
    let mut codes = Vec::new();
    let mut kind = None;
    for c in codings {
        let code = c.get("code").and_then(Value::as_str).unwrap_or("");
        let system = c.get("system").and_then(Value::as_str).unwrap_or("");
        codes.push(format!("{system}|{code}"));
        if system == LOINC
            && let Some(k) = kind_of(code)
        {
            kind = Some(k);
            break;
        }
    }
    let kind = kind.ok_or_else(|| {
        reject(
            "no LOINC code lumbar maps (steps 41950-7, 55423-8; activity minutes 68516-4 per day, 82290-8 per week; pain 72514-3)",
            Some("code"),
            Some(excerpt(&codes.join(", "))),
        )
    })?;
    let reference = v
        .pointer("/subject/reference")
        .and_then(Value::as_str)
        .ok_or_else(|| reject("no subject.reference", Some("subject"), None))?;
    let patient = reference
        .rsplit(['/', ':'])
        .next()
        .unwrap_or("")
        .to_string();
    if patient.is_empty() {
        return Err(reject(
            "subject.reference names no patient",
            Some("subject"),
            Some(excerpt(reference)),
        ));
    }
    let when = v
        .get("effectiveDateTime")
        .or_else(|| v.pointer("/effectivePeriod/start"))
        .or_else(|| v.get("effectiveInstant"))
        .and_then(Value::as_str)
        .ok_or_else(|| {
            reject(
                "no effectiveDateTime or effectivePeriod.start",
                Some("effectiveDateTime"),
                None,
            )
        })?;
    let date = when.get(..10).unwrap_or(when).to_string();
    let value = v
        .pointer("/valueQuantity/value")
        .or_else(|| v.get("valueInteger"))
        .or_else(|| v.get("valueDecimal"))
        .ok_or_else(|| reject("no valueQuantity.value", Some("valueQuantity"), None))?;
    let value = value.as_f64().ok_or_else(|| {
        reject(
            "the value is not a number",
            Some("valueQuantity"),
            Some(excerpt(&value.to_string())),
        )
    })?;
    if !value.is_finite() || value < 0.0 {
        return Err(reject(
            "the value must be a number ≥ 0",
            Some("valueQuantity"),
            Some(value.to_string()),
        ));
    }
    Ok(Obs {
        kind,
        patient,
        date,
        value,
    })
}

#[derive(Default)]
struct WalkDay {
    line: u64,
    steps: Option<f64>,
    daily: Option<f64>,
    weekly: Option<f64>,
}

/// Reads the rows of `table` (walking or outcomes). `primary`: this pass
/// also rejects what belongs to no table.
pub fn read(path: &Path, table: Table, primary: bool) -> Result<Vec<OwnedRow>, IngestError> {
    read_with(path, table, primary, &Limits::default())
}

/// [`read`] within `limits` (line length, gzip expansion).
pub fn read_with(
    path: &Path,
    table: Table,
    primary: bool,
    limits: &Limits,
) -> Result<Vec<OwnedRow>, IngestError> {
    read_from(open_text(path, limits)?, path, table, primary, limits)
}

/// Reads FHIR JSON held in memory (tests and fuzzing).
pub fn read_bytes(bytes: &[u8], table: Table, primary: bool) -> Result<Vec<OwnedRow>, IngestError> {
    read_from(
        bytes,
        Path::new("(bytes)"),
        table,
        primary,
        &Limits::default(),
    )
}

fn read_from<R: BufRead>(
    text: R,
    path: &Path,
    table: Table,
    primary: bool,
    limits: &Limits,
) -> Result<Vec<OwnedRow>, IngestError> {
    let mut rows = Vec::new();
    read_into(text, path, table, primary, limits, &mut |r| {
        rows.push(r);
        true
    })?;
    rows.sort_by_key(|r| r.line);
    Ok(rows)
}

/// Streams the rows of `table` to `emit` as each line is read (rejects and
/// pain scores at once, walking days at the end, since a day gathers
/// observations from anywhere in the file); only the days are held, never
/// the resources. Stops early when `emit` returns false.
pub(crate) fn read_into<R: BufRead>(
    mut text: R,
    path: &Path,
    table: Table,
    primary: bool,
    limits: &Limits,
    emit: &mut dyn FnMut(OwnedRow) -> bool,
) -> Result<(), IngestError> {
    let max_line = limits.max_line;
    let mut fold = Fold {
        table,
        primary,
        days: BTreeMap::new(),
        emit,
        open: true,
    };
    // NDJSON when the first line is a whole JSON object; else one document.
    let mut first = Vec::new();
    let n = (&mut text)
        .take(max_line as u64)
        .read_until(b'\n', &mut first)
        .map_err(|e| IngestError::io(path, e))?;
    let first_is_object = serde_json::from_slice::<Value>(&first).is_ok_and(|v| v.is_object());
    if n == 0 || first.iter().all(u8::is_ascii_whitespace) {
        return Ok(());
    }
    if first_is_object {
        let mut line_no = 1u64;
        let mut line = first;
        loop {
            if !line.iter().all(u8::is_ascii_whitespace) {
                let parsed = match std::str::from_utf8(&line) {
                    Err(e) => Err(Rejection::row(format!(
                        "invalid UTF-8 at byte {} of the line",
                        e.valid_up_to()
                    ))),
                    Ok(s) => serde_json::from_str::<Value>(s)
                        .map_err(|e| Rejection::row(format!("not a JSON object: {e}"))),
                };
                fold.resource(line_no, parsed, false);
            }
            if !fold.open {
                return Ok(());
            }
            line.clear();
            let n = (&mut text)
                .take(max_line as u64 + 1)
                .read_until(b'\n', &mut line)
                .map_err(|e| IngestError::io(path, e))?;
            if n == 0 {
                break;
            }
            line_no += 1;
            if line.len() > max_line && !line.ends_with(b"\n") {
                fold.resource(line_no, Err(too_long(max_line)), false);
                // Skip the rest of the oversized line.
                let mut sink = Vec::new();
                loop {
                    sink.clear();
                    let k = (&mut text)
                        .take(1 << 20)
                        .read_until(b'\n', &mut sink)
                        .map_err(|e| IngestError::io(path, e))?;
                    if k == 0 || sink.ends_with(b"\n") {
                        break;
                    }
                }
                line.clear();
            }
        }
    } else {
        let mut all = first;
        (&mut text)
            .take(MAX_BUNDLE)
            .read_to_end(&mut all)
            .map_err(|e| IngestError::io(path, e))?;
        if all.len() as u64 >= MAX_BUNDLE {
            return Err(IngestError::Header {
                path: path.to_path_buf(),
                problem: format!(
                    "a JSON document over {}: export it as NDJSON (FHIR Bulk Data) instead",
                    crate::limits::bytes_words(MAX_BUNDLE)
                ),
            });
        }
        let doc: Value = serde_json::from_slice(&all).map_err(|e| IngestError::Header {
            path: path.to_path_buf(),
            problem: format!(
                "not FHIR JSON: {e} (line {}, column {})",
                e.line(),
                e.column()
            ),
        })?;
        drop(all);
        fold.resource(1, Ok(doc), true);
    }
    fold.finish();
    Ok(())
}

/// What the resources read so far have made: rows sent on, walking days
/// still being summed.
struct Fold<'e> {
    table: Table,
    primary: bool,
    days: BTreeMap<(String, String), WalkDay>,
    emit: &'e mut dyn FnMut(OwnedRow) -> bool,
    /// False once the receiver has gone.
    open: bool,
}

impl Fold<'_> {
    fn send(&mut self, line: u64, cells: Result<Vec<Option<String>>, Rejection>) {
        if self.open {
            self.open = (self.emit)(OwnedRow { line, cells });
        }
    }

    /// One resource (or broken line). Bundles (a whole document, or one
    /// NDJSON line) stand for their entries; a Bundle without entries holds
    /// nothing. Entries have no line of their own: a document's entries are
    /// numbered 1, 2, …; an NDJSON line's entries keep the line.
    fn resource(&mut self, line: u64, r: Result<Value, Rejection>, whole_document: bool) {
        match r {
            Ok(mut v) if v.get("resourceType").and_then(Value::as_str) == Some("Bundle") => {
                let entries = match v.get_mut("entry").map(Value::take) {
                    Some(Value::Array(entries)) => entries,
                    _ => Vec::new(),
                };
                for (i, mut e) in entries.into_iter().enumerate() {
                    let at = if whole_document { (i + 1) as u64 } else { line };
                    let r = match e.get_mut("resource").map(Value::take) {
                        Some(r) => Ok(r),
                        None => Err(Rejection::row(format!(
                            "Bundle entry {} has no resource",
                            i + 1
                        ))),
                    };
                    self.observation(at, r);
                }
            }
            other => self.observation(line, other),
        }
    }

    fn observation(&mut self, line: u64, r: Result<Value, Rejection>) {
        let obs = r.and_then(|v| observation(&v));
        match obs {
            Err(rej) => {
                if self.primary {
                    self.send(line, Err(rej));
                }
            }
            Ok(o) if o.kind == Kind::Pain => {
                if self.table == Table::Outcomes {
                    if o.value > 10.0 {
                        self.send(
                            line,
                            Err(reject(
                                "pain above 10 on the 0–10 scale",
                                Some("valueQuantity"),
                                Some(o.value.to_string()),
                            )),
                        );
                        return;
                    }
                    self.send(
                        line,
                        Ok(vec![
                            Some(o.patient),
                            Some(o.date),
                            Some("nrs_pain".into()),
                            Some(o.value.to_string()),
                        ]),
                    );
                }
            }
            Ok(o) => {
                if self.table == Table::Walking {
                    let d = self
                        .days
                        .entry((o.patient, o.date))
                        .or_insert_with(|| WalkDay {
                            line,
                            ..Default::default()
                        });
                    let add =
                        |slot: &mut Option<f64>, v: f64| *slot = Some(slot.unwrap_or(0.0) + v);
                    match o.kind {
                        Kind::Steps => add(&mut d.steps, o.value),
                        Kind::MinutesDay => add(&mut d.daily, o.value),
                        _ => add(&mut d.weekly, o.value),
                    }
                }
            }
        }
    }

    /// The walking days, in the order of their first observation.
    fn finish(mut self) {
        let mut days: Vec<((String, String), WalkDay)> =
            std::mem::take(&mut self.days).into_iter().collect();
        days.sort_by_key(|d| d.1.line);
        for ((patient, date), d) in days {
            let (minutes, source) = match (d.daily, d.weekly, d.steps) {
                (Some(m), _, _) => (m, "fhir:68516-4"),
                (None, Some(w), _) => (w / 7.0, "fhir:82290-8/7"),
                (None, None, Some(s)) => (s / STEPS_PER_WALKING_MINUTE, "fhir:steps-estimate"),
                (None, None, None) => continue,
            };
            self.send(
                d.line,
                Ok(walking_cells(
                    &patient, &date, minutes, d.steps, None, source,
                )),
            );
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn obs(code: &str, patient: &str, when: &str, value: &str) -> String {
        format!(
            r#"{{"resourceType":"Observation","status":"final","code":{{"coding":[{{"system":"http://loinc.org","code":"{code}"}}]}},"subject":{{"reference":"Patient/{patient}"}},"effectiveDateTime":"{when}","valueQuantity":{{"value":{value}}}}}"#
        )
    }

    #[test]
    fn ndjson_maps_codes_to_tables_and_rejects_the_rest() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("Observation.ndjson");
        let lines = [
            obs("41950-7", "P1", "2024-03-10T20:00:00+01:00", "6000"),
            obs("55423-8", "P1", "2024-03-10", "500"),
            obs("68516-4", "P1", "2024-03-10", "35"),
            obs("82290-8", "P2", "2024-03-10", "140"),
            obs("41950-7", "P3", "2024-03-11", "4200"),
            obs("72514-3", "P1", "2024-03-10", "6"),
            obs("8867-4", "P1", "2024-03-10", "70"),
            r#"{"resourceType":"Patient","id":"P1"}"#.to_string(),
            "{not json".to_string(),
            obs("72514-3", "P1", "2024-03-11", "12"),
        ];
        std::fs::write(&p, lines.join("\n")).unwrap();
        let walking = read(&p, Table::Walking, true).unwrap();
        let ok: Vec<&Vec<Option<String>>> = walking
            .iter()
            .filter_map(|r| r.cells.as_ref().ok())
            .collect();
        assert_eq!(ok.len(), 3);
        // P1 on the 10th: steps 6500, daily minutes 35.
        assert_eq!(ok[0][0].as_deref(), Some("P1"));
        assert_eq!(ok[0][2].as_deref(), Some("35"));
        assert_eq!(ok[0][3].as_deref(), Some("6500"));
        assert_eq!(ok[0][6].as_deref(), Some("fhir:68516-4"));
        // P2: 140 minutes a week = 20 a day.
        assert_eq!(ok[1][2].as_deref(), Some("20"));
        // P3: estimated from steps.
        assert_eq!(ok[2][2].as_deref(), Some("42"));
        assert_eq!(ok[2][6].as_deref(), Some("fhir:steps-estimate"));
        let bad: Vec<(u64, String)> = walking
            .iter()
            .filter_map(|r| r.cells.as_ref().err().map(|e| (r.line, e.reason.clone())))
            .collect();
        assert_eq!(bad.len(), 3, "{bad:?}");
        assert_eq!(bad[0].0, 7);
        assert!(bad[0].1.contains("no LOINC code lumbar maps"));
        assert!(bad[1].1.contains("a Patient resource"));
        assert!(bad[2].1.contains("not a JSON object"));
        // The outcomes pass reads the pain scores only.
        let outcomes = read(&p, Table::Outcomes, false).unwrap();
        assert_eq!(outcomes.len(), 2);
        assert_eq!(outcomes[0].cells.as_ref().unwrap()[3].as_deref(), Some("6"));
        assert!(
            outcomes[1]
                .cells
                .as_ref()
                .unwrap_err()
                .reason
                .contains("above 10")
        );
    }

    #[test]
    fn bundles_are_read_by_entry() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("bundle.json");
        let text = format!(
            "{{\n \"resourceType\": \"Bundle\",\n \"entry\": [\n  {{\"resource\": {}}},\n  {{\"fullUrl\": \"x\"}}\n ]\n}}\n",
            obs("68516-4", "P9", "2024-01-02", "15")
        );
        std::fs::write(&p, text).unwrap();
        let rows = read(&p, Table::Walking, true).unwrap();
        assert_eq!(rows.len(), 2);
        assert_eq!(rows[0].cells.as_ref().unwrap()[2].as_deref(), Some("15"));
        assert!(
            rows[1]
                .cells
                .as_ref()
                .unwrap_err()
                .reason
                .contains("entry 2 has no resource")
        );
    }
}
