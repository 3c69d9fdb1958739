//! Row validation against the canonical schema and the regimen.
//!
//! A row arrives as text cells in canonical column order (plus any extra
//! covariate columns of a follow-up table) and leaves as typed [`Cell`]s, or
//! as a [`Rejection`] naming the column, the value and what to do about it.
//! Columns are checked in canonical order and the first problem is reported.

use std::borrow::Cow;
use std::collections::HashMap;

use chrono::NaiveDate;
use lumbar_model::schema::{is_pain_score, measure_range};
use lumbar_model::{Check, Column, Kind, Regimen, Table};

use crate::limits::excerpt;
use crate::parse::{self, Missing};

/// A validated value.
#[derive(Debug, Clone, PartialEq)]
pub enum Cell<'a> {
    Null,
    Str(Cow<'a, str>),
    Int(i64),
    Float(f64),
    Bool(bool),
    /// Days since 1970-01-01.
    Date(i32),
    /// Milliseconds since 1970-01-01T00:00.
    DateTime(i64),
}

impl Cell<'_> {
    fn as_f64(&self) -> Option<f64> {
        match self {
            Cell::Float(x) => Some(*x),
            Cell::Int(i) => Some(*i as f64),
            _ => None,
        }
    }
    fn as_str(&self) -> Option<&str> {
        match self {
            Cell::Str(s) => Some(s),
            _ => None,
        }
    }
    fn as_days(&self) -> Option<i32> {
        match self {
            Cell::Date(d) => Some(*d),
            _ => None,
        }
    }

    /// A tag byte and the value's bytes; strings carry their length so
    /// that ("ab", "c") and ("a", "bc") differ.
    fn encode(&self, buf: &mut Vec<u8>) {
        match self {
            Cell::Null => buf.push(0),
            Cell::Str(s) => {
                buf.push(1);
                buf.extend_from_slice(&(s.len() as u32).to_le_bytes());
                buf.extend_from_slice(s.as_bytes());
            }
            Cell::Int(i) => {
                buf.push(2);
                buf.extend_from_slice(&i.to_le_bytes());
            }
            Cell::Float(x) => {
                buf.push(3);
                // +0.0 and -0.0 are the same value.
                let x = if *x == 0.0 { 0.0f64 } else { *x };
                buf.extend_from_slice(&x.to_bits().to_le_bytes());
            }
            Cell::Bool(b) => buf.extend_from_slice(&[4, *b as u8]),
            Cell::Date(d) => {
                buf.push(5);
                buf.extend_from_slice(&d.to_le_bytes());
            }
            Cell::DateTime(t) => {
                buf.push(6);
                buf.extend_from_slice(&t.to_le_bytes());
            }
        }
    }
}

/// A 128-bit fingerprint of a row's values (not its spelling: `3` and `3.0`,
/// `TRUE` and `1` are the same row): XXH3-128 over a tagged encoding of the
/// cells. A collision between distinct rows is astronomically unlikely.
pub fn fingerprint(cells: &[Cell<'_>]) -> u128 {
    fingerprint_with(cells, &mut Vec::new())
}

/// [`fingerprint`] with a scratch buffer the caller reuses across rows.
pub fn fingerprint_with(cells: &[Cell<'_>], buf: &mut Vec<u8>) -> u128 {
    buf.clear();
    for c in cells {
        c.encode(buf);
    }
    xxhash_rust::xxh3::xxh3_128(buf)
}

/// Why a row was not accepted.
#[derive(Debug, Clone, PartialEq)]
pub struct Rejection {
    /// The column at fault, when one is.
    pub column: Option<String>,
    /// The offending text, when there is one.
    pub value: Option<String>,
    pub reason: String,
}

impl Rejection {
    pub fn row(reason: impl Into<String>) -> Rejection {
        Rejection {
            column: None,
            value: None,
            reason: reason.into(),
        }
    }
    fn cell(column: &str, value: Option<&str>, reason: String) -> Rejection {
        Rejection {
            // A covariate's name comes from the file's header.
            column: Some(excerpt(column)),
            value: value.map(excerpt),
            reason,
        }
    }
}

/// Shortens huge values kept in the rejects table (a field of megabytes
/// should not become a reject of megabytes): at most `max` bytes, cut on a
/// character boundary, with a marker giving the whole length. Messages use
/// [`excerpt`], which also escapes control characters.
pub fn clip(v: &str, max: usize) -> String {
    if v.len() <= max {
        return v.to_string();
    }
    let mut end = max;
    while !v.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}… ({} bytes)", &v[..end], v.len())
}

/// The type of an extra (covariate) column of a follow-up table, inferred
/// from its values.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ExtraKind {
    Float,
    Bool,
    Str,
}

/// The day (since 1970-01-01) of a date or date-time cell.
fn day_of(cell: &Cell<'_>) -> Option<i32> {
    match cell {
        Cell::Date(d) => Some(*d),
        Cell::DateTime(ms) => i32::try_from(ms.div_euclid(86_400_000)).ok(),
        _ => None,
    }
}

/// Every move a session may name ([`Regimen::is_known_move`]), with
/// whether it is a rung ([`Regimen::is_rung`]).
fn moves_of(regimen: &Regimen) -> HashMap<&str, bool, FxBuild> {
    let mut moves: HashMap<&str, bool, FxBuild> = HashMap::default();
    for e in &regimen.exercises {
        moves.insert(e.key.as_str(), false);
    }
    if let Some(p) = &regimen.posture {
        moves.insert(p.key.as_str(), false);
    }
    for l in &regimen.ladders {
        for r in l.rungs.iter().chain(&l.alternatives) {
            moves.insert(r.key.as_str(), true);
        }
    }
    moves
}

/// Validates rows of one table.
pub struct TableValidator<'r> {
    pub table: Table,
    pub columns: &'static [Column],
    pub extras: Vec<(String, ExtraKind)>,
    regimen: &'r Regimen,
    as_of: NaiveDate,
    as_of_days: i32,
    min_date: NaiveDate,
    min_days: i32,
    missing: Missing,
    /// The moves a session may name, and whether each is a rung (or an
    /// alternative) of a ladder: looked up once a row, so hashed rather
    /// than scanned through the regimen's lists.
    moves: HashMap<&'r str, bool, FxBuild>,
}

/// A fast hash for the few short keys a validator looks up on every row
/// (not exposed to input that could choose collisions in bulk: the keys
/// are the regimen's own, and a miss costs one probe).
type FxBuild = std::hash::BuildHasherDefault<rustc_hash::FxHasher>;

impl<'r> TableValidator<'r> {
    pub fn new(
        table: Table,
        extras: Vec<(String, ExtraKind)>,
        regimen: &'r Regimen,
        as_of: NaiveDate,
    ) -> Self {
        TableValidator {
            table,
            columns: table.columns(),
            extras,
            regimen,
            as_of,
            as_of_days: parse::date_to_days(as_of),
            min_date: crate::DEFAULT_MIN_DATE,
            min_days: parse::date_to_days(crate::DEFAULT_MIN_DATE),
            missing: Missing::default(),
            moves: moves_of(regimen),
        }
    }

    /// Rejects dates before `min_date` (default 1900-01-01) in every date
    /// and date-time column.
    pub fn with_min_date(mut self, min_date: NaiveDate) -> Self {
        self.min_date = min_date;
        self.min_days = parse::date_to_days(min_date);
        self
    }

    /// The spellings of a missing value (default [`parse::DEFAULT_MISSING`]).
    pub fn with_missing(mut self, missing: Missing) -> Self {
        self.missing = missing;
        self
    }

    /// Validates one row given as text cells: `canonical[i]` for the i-th
    /// canonical column and `extra[j]` for the j-th extra column (`None` when
    /// the column is absent from the file or the cell is empty).
    pub fn validate<'a>(
        &self,
        canonical: &[Option<&'a str>],
        extra: &[Option<&'a str>],
    ) -> Result<Vec<Cell<'a>>, Rejection> {
        let mut cells = Vec::with_capacity(self.columns.len() + self.extras.len());
        self.validate_into(canonical, extra, &mut cells)?;
        Ok(cells)
    }

    /// [`TableValidator::validate`] into a buffer the caller reuses across rows.
    pub fn validate_into<'a>(
        &self,
        canonical: &[Option<&'a str>],
        extra: &[Option<&'a str>],
        cells: &mut Vec<Cell<'a>>,
    ) -> Result<(), Rejection> {
        cells.clear();
        for (col, raw) in self.columns.iter().zip(canonical) {
            cells.push(self.cell(col, *raw)?);
        }
        for ((name, kind), raw) in self.extras.iter().zip(extra) {
            let cell = match raw.filter(|t| !self.missing.is_missing(t)) {
                None => Cell::Null,
                Some(t) => match kind {
                    ExtraKind::Float => Cell::Float(
                        parse::parse_f64(t).map_err(|r| Rejection::cell(name, Some(t), r))?,
                    ),
                    ExtraKind::Bool => Cell::Bool(
                        parse::parse_bool(t).map_err(|r| Rejection::cell(name, Some(t), r))?,
                    ),
                    ExtraKind::Str => Cell::Str(Cow::Borrowed(t.trim_ascii())),
                },
            };
            cells.push(cell);
        }
        self.row_rules(cells, canonical)?;
        Ok(())
    }

    fn cell<'a>(&self, col: &Column, raw: Option<&'a str>) -> Result<Cell<'a>, Rejection> {
        let text = match raw.filter(|t| !self.missing.is_missing(t)) {
            Some(t) => t.trim_ascii(),
            None if col.required => {
                let reason = match raw.map(str::trim_ascii).filter(|t| !t.is_empty()) {
                    Some(t) => format!(
                        "{} is required but missing ('{}' means no value); fill it in or drop the row",
                        col.name,
                        excerpt(t)
                    ),
                    None => format!("{} is required but empty", col.name),
                };
                return Err(Rejection::cell(col.name, raw, reason));
            }
            None => return Ok(Cell::Null),
        };
        let bad = |reason: String| Rejection::cell(col.name, Some(text), reason);
        let cell = match col.kind {
            Kind::Str => Cell::Str(Cow::Borrowed(text)),
            Kind::Int => {
                Cell::Int(parse::parse_int(text).map_err(|r| bad(format!("{}: {r}", col.name)))?)
            }
            Kind::Float => {
                Cell::Float(parse::parse_f64(text).map_err(|r| bad(format!("{}: {r}", col.name)))?)
            }
            Kind::Bool => {
                Cell::Bool(parse::parse_bool(text).map_err(|r| bad(format!("{}: {r}", col.name)))?)
            }
            Kind::Date => Cell::Date(
                parse::parse_date_days(text).map_err(|r| bad(format!("{}: {r}", col.name)))?,
            ),
            Kind::DateTime => Cell::DateTime(
                parse::parse_datetime_ms(text).map_err(|r| bad(format!("{}: {r}", col.name)))?,
            ),
        };
        if let Some(days) = day_of(&cell)
            && days < self.min_days
        {
            return Err(bad(format!(
                "{} {} is before {}: not a plausible date for these data (a placeholder such as 0001-01-01, or a typo in the year?); correct it, leave it empty if the column is optional, or lower min_date",
                col.name,
                excerpt(text),
                self.min_date
            )));
        }
        self.check(col, text, cell)
    }

    fn check<'a>(
        &self,
        col: &Column,
        text: &'a str,
        cell: Cell<'a>,
    ) -> Result<Cell<'a>, Rejection> {
        let bad = |reason: String| Rejection::cell(col.name, Some(text), reason);
        match col.check {
            Check::Any => Ok(cell),
            Check::Pain => {
                let x = cell.as_f64().unwrap_or(f64::NAN);
                if is_pain_score(x) {
                    Ok(cell)
                } else if (0.0..=10.0).contains(&x) {
                    Err(bad(format!(
                        "{} {} is not on the 0–10 scale in steps of 0.5 (round it to the nearest half)",
                        col.name,
                        excerpt(text)
                    )))
                } else {
                    Err(bad(format!(
                        "{} {} is outside the 0–10 pain scale",
                        col.name,
                        excerpt(text)
                    )))
                }
            }
            Check::Range { min, max } => {
                let x = cell.as_f64().unwrap_or(f64::NAN);
                if x < 0.0 && min >= 0.0 {
                    Err(bad(format!("{} {} is negative", col.name, excerpt(text))))
                } else if !(x >= min && x <= max) {
                    Err(bad(format!(
                        "{} {} is implausible: expected {min}–{max}",
                        col.name,
                        excerpt(text)
                    )))
                } else {
                    Ok(cell)
                }
            }
            Check::OneOf(words) => {
                // Compared case-blind in place: this runs on most session
                // rows, so no lowered copy of the text is made.
                let t = match (col.name, text) {
                    ("sex", "f" | "F") => "female",
                    ("sex", "m" | "M") => "male",
                    _ => text,
                };
                match words.iter().find(|w| w.eq_ignore_ascii_case(t)) {
                    Some(w) => Ok(Cell::Str(Cow::Borrowed(w))),
                    None => Err(bad(format!(
                        "{} '{}' is not one of: {}",
                        col.name,
                        excerpt(text),
                        words.join(", ")
                    ))),
                }
            }
            Check::Move => {
                if self.moves.contains_key(text) {
                    Ok(cell)
                } else if let Some(l) = self.regimen.excluded_by(text) {
                    let allowed: Vec<&str> = l.rungs.iter().map(|r| r.key.as_str()).collect();
                    Err(bad(format!(
                        "exercise '{}' is excluded by the regimen's {} ladder (use {})",
                        excerpt(text),
                        l.key,
                        allowed.join(" or ")
                    )))
                } else {
                    Err(bad(format!(
                        "exercise '{}' is not in regimen '{}' (see `lumbar regimen show` for its keys)",
                        excerpt(text),
                        self.regimen.key
                    )))
                }
            }
            Check::Rung => {
                if self.moves.get(text).copied().unwrap_or(false) {
                    Ok(cell)
                } else {
                    Err(bad(format!(
                        "level '{}' is not a rung of any ladder in regimen '{}'",
                        excerpt(text),
                        self.regimen.key
                    )))
                }
            }
            Check::NotFuture => {
                let Some(days) = day_of(&cell) else {
                    return Ok(cell);
                };
                if days > self.as_of_days {
                    Err(bad(format!(
                        "{} {} is in the future (after {}); check the date or set as_of to the day the data were exported",
                        col.name,
                        excerpt(text),
                        self.as_of
                    )))
                } else {
                    Ok(cell)
                }
            }
        }
    }

    /// Rules across columns of one row.
    fn row_rules(&self, cells: &[Cell<'_>], raw: &[Option<&str>]) -> Result<(), Rejection> {
        let idx = |name: &str| self.columns.iter().position(|c| c.name == name);
        let get = |name: &str| idx(name).map(|i| &cells[i]);
        let raw_of = |name: &str| idx(name).and_then(|i| raw[i]).map(excerpt);
        match self.table {
            Table::Patients => {
                if let Some(Cell::Str(r)) = get("regimen")
                    && r.as_ref() != self.regimen.key
                {
                    return Err(Rejection {
                        column: Some("regimen".into()),
                        value: Some(excerpt(r)),
                        reason: format!(
                            "regimen '{}' is not the one loaded ('{}'); load that regimen's file",
                            excerpt(r),
                            self.regimen.key
                        ),
                    });
                }
                if let Some(Cell::Int(y)) = get("birth_year")
                    && *y > chrono::Datelike::year(&self.as_of) as i64
                {
                    return Err(Rejection {
                        column: Some("birth_year".into()),
                        value: raw_of("birth_year"),
                        reason: format!("birth_year {y} is in the future"),
                    });
                }
            }
            Table::Walking => {
                if let (Some(w), Some(wear)) = (
                    get("walking_min").and_then(Cell::as_f64),
                    get("wear_min").and_then(Cell::as_f64),
                ) && w > wear
                {
                    return Err(Rejection {
                        column: Some("walking_min".into()),
                        value: raw_of("walking_min"),
                        reason: format!(
                            "walking_min {w} exceeds the day's wear time wear_min {wear}"
                        ),
                    });
                }
            }
            Table::Outcomes => {
                let measure = get("measure").and_then(Cell::as_str).unwrap_or("");
                let value = get("value").and_then(Cell::as_f64).unwrap_or(f64::NAN);
                if let Some((lo, hi)) = measure_range(measure) {
                    let halves = measure != "nrs_pain" || (value * 2.0).fract() == 0.0;
                    if !(value >= lo && value <= hi && halves) {
                        return Err(Rejection {
                            column: Some("value".into()),
                            value: raw_of("value"),
                            reason: if halves {
                                format!("{measure} value {value} is outside {lo}–{hi}")
                            } else {
                                format!("{measure} value {value} is not in steps of 0.5")
                            },
                        });
                    }
                }
            }
            Table::Followup => {
                let base = get("baseline_date").and_then(Cell::as_days);
                let end = get("end_date").and_then(Cell::as_days);
                let event = matches!(get("event"), Some(Cell::Bool(true)));
                let event_date = get("event_date").and_then(Cell::as_days);
                if let (Some(b), Some(e)) = (base, end)
                    && e < b
                {
                    return Err(Rejection {
                        column: Some("end_date".into()),
                        value: raw_of("end_date"),
                        reason: "end_date is before baseline_date".into(),
                    });
                }
                if let Some(ed) = event_date {
                    if !event {
                        return Err(Rejection {
                            column: Some("event_date".into()),
                            value: raw_of("event_date"),
                            reason: "event_date is given but event is false".into(),
                        });
                    }
                    if base.is_some_and(|b| ed < b) || end.is_some_and(|e| ed > e) {
                        return Err(Rejection {
                            column: Some("event_date".into()),
                            value: raw_of("event_date"),
                            reason: "event_date is outside baseline_date–end_date".into(),
                        });
                    }
                }
            }
            Table::Sessions => {}
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn v(table: Table) -> TableValidator<'static> {
        static REGIMEN: std::sync::OnceLock<Regimen> = std::sync::OnceLock::new();
        let r = REGIMEN.get_or_init(Regimen::six_moves);
        TableValidator::new(
            table,
            vec![],
            r,
            NaiveDate::from_ymd_opt(2026, 1, 1).unwrap(),
        )
    }

    /// A valid session row with one cell replaced.
    fn session(col: &str, value: &'static str) -> Result<Vec<Cell<'static>>, Rejection> {
        let names: Vec<&str> = Table::Sessions.columns().iter().map(|c| c.name).collect();
        let mut row: Vec<Option<&'static str>> = vec![
            Some("P1"),
            Some("2025-02-03T08:00"),
            Some("bridge"),
            None,
            None,
            Some("2"),
            Some("12"),
            Some("5"),
            Some("3"),
            Some("4.5"),
            Some("3"),
            Some("0"),
            Some("false"),
            Some("true"),
            Some("app"),
        ];
        let i = names.iter().position(|n| *n == col).unwrap();
        row[i] = Some(value);
        v(Table::Sessions).validate(&row, &[])
    }

    fn reason(r: Result<Vec<Cell<'static>>, Rejection>) -> String {
        let r = r.unwrap_err();
        format!("{:?}|{}", r.column, r.reason)
    }

    #[test]
    fn a_valid_session_row() {
        let cells = session("source", "app").unwrap();
        assert_eq!(cells[2], Cell::Str("bridge".into()));
        assert_eq!(cells[5], Cell::Int(2));
        assert_eq!(cells[9], Cell::Float(4.5));
        assert_eq!(cells[12], Cell::Bool(false));
    }

    #[test]
    fn session_rejections_name_column_and_reason() {
        assert!(reason(session("exercise", "jumping_jack")).contains("not in regimen 'six-moves'"));
        assert!(
            reason(session("exercise", "full_sit_up"))
                .contains("excluded by the regimen's sit_up ladder")
        );
        assert!(reason(session("pain_during", "11")).contains("outside the 0–10"));
        assert!(reason(session("pain_during", "3.3")).contains("steps of 0.5"));
        assert!(reason(session("reps", "-3")).contains("negative"));
        assert!(reason(session("sets", "500")).contains("implausible"));
        assert!(reason(session("performed_at", "03/02/2025 08:00")).contains("ISO 8601"));
        assert!(reason(session("performed_at", "2027-01-01T08:00")).contains("future"));
        assert!(reason(session("patient_id", "")).contains("required"));
        assert!(reason(session("reps", "ten")).contains("not a whole number"));
        assert!(reason(session("side", "up")).contains("not one of"));
        assert!(reason(session("level", "moon_plank")).contains("not a rung"));
        assert!(session("level", "wall_push_up").is_ok());
        assert!(session("exercise", "wall_stand").is_ok());
    }

    #[test]
    fn cross_column_rules() {
        let w = v(Table::Walking);
        let e = w
            .validate(
                &[
                    Some("P1"),
                    Some("2025-01-01"),
                    Some("700"),
                    None,
                    Some("600"),
                    None,
                    None,
                ],
                &[],
            )
            .unwrap_err();
        assert!(e.reason.contains("exceeds"), "{e:?}");
        let o = v(Table::Outcomes);
        assert!(
            o.validate(
                &[Some("P1"), Some("2025-01-01"), Some("odi"), Some("140")],
                &[]
            )
            .is_err()
        );
        assert!(
            o.validate(
                &[
                    Some("P1"),
                    Some("2025-01-01"),
                    Some("nrs_pain"),
                    Some("4.2")
                ],
                &[]
            )
            .is_err()
        );
        assert!(
            o.validate(
                &[Some("P1"), Some("2025-01-01"), Some("ODI"), Some("40")],
                &[]
            )
            .is_ok()
        );
        let f = v(Table::Followup);
        let row = |b, e, ev, ed| [Some("R1"), Some(b), Some(e), Some(ev), ed];
        assert!(
            f.validate(
                &row("2020-01-01", "2024-01-01", "true", Some("2022-01-01")),
                &[]
            )
            .is_ok()
        );
        assert!(
            f.validate(&row("2020-01-01", "2019-01-01", "false", None), &[])
                .unwrap_err()
                .reason
                .contains("before")
        );
        assert!(
            f.validate(
                &row("2020-01-01", "2024-01-01", "false", Some("2022-01-01")),
                &[]
            )
            .unwrap_err()
            .reason
            .contains("event is false")
        );
        assert!(
            f.validate(
                &row("2020-01-01", "2024-01-01", "true", Some("2025-01-01")),
                &[]
            )
            .unwrap_err()
            .reason
            .contains("outside")
        );
    }

    #[test]
    fn dates_before_the_lower_bound_are_rejected_in_every_date_column() {
        // One date column of each table at a time, at 0001-01-01.
        let rows: [(Table, Vec<Option<&str>>, &str); 5] = [
            (
                Table::Patients,
                vec![
                    Some("P1"),
                    Some("s"),
                    None,
                    None,
                    None,
                    None,
                    Some("0001-01-01"),
                    None,
                    None,
                    None,
                    None,
                ],
                "enrolled_on",
            ),
            (
                Table::Walking,
                vec![
                    Some("P1"),
                    Some("1899-12-31"),
                    Some("30"),
                    None,
                    None,
                    None,
                    None,
                ],
                "date",
            ),
            (
                Table::Outcomes,
                vec![Some("P1"), Some("0001-01-01"), Some("odi"), Some("30")],
                "date",
            ),
            (
                Table::Followup,
                vec![
                    Some("R1"),
                    Some("2020-01-01"),
                    Some("1800-01-01"),
                    Some("false"),
                    None,
                ],
                "end_date",
            ),
            (
                Table::Sessions,
                vec![
                    Some("P1"),
                    Some("0001-01-01T08:00"),
                    Some("bridge"),
                    None,
                    None,
                    None,
                    None,
                    None,
                    None,
                    None,
                    None,
                    None,
                    None,
                    None,
                    None,
                ],
                "performed_at",
            ),
        ];
        for (table, row, col) in rows {
            let e = v(table).validate(&row, &[]).unwrap_err();
            assert_eq!(e.column.as_deref(), Some(col), "{table}: {e:?}");
            assert!(
                e.reason.contains("is before 1900-01-01") && e.reason.contains("min_date"),
                "{e:?}"
            );
        }
        // The bound itself is accepted, and it can be moved.
        let w = |d: &'static str| vec![Some("P1"), Some(d), Some("30"), None, None, None, None];
        assert!(v(Table::Walking).validate(&w("1900-01-01"), &[]).is_ok());
        let later = v(Table::Walking).with_min_date(NaiveDate::from_ymd_opt(2020, 1, 1).unwrap());
        assert!(
            later
                .validate(&w("2019-12-31"), &[])
                .unwrap_err()
                .reason
                .contains("before 2020-01-01")
        );
    }

    #[test]
    fn missing_words_are_missing_in_every_column() {
        // Optional columns: null.
        for na in ["NA", "NaN", "nan", "NULL", "null", ".", ""] {
            let cells = session("pain_after", na).unwrap();
            assert_eq!(cells[10], Cell::Null, "{na:?}");
            let cells = session("completed", na).unwrap();
            assert_eq!(cells[13], Cell::Null, "{na:?}");
        }
        // Required columns: a reject saying the value is missing.
        let e = session("exercise", "NA").unwrap_err();
        assert!(
            e.reason
                .contains("required but missing ('NA' means no value)"),
            "{e:?}"
        );
        let e = session("performed_at", ".").unwrap_err();
        assert!(e.reason.contains("required but missing"), "{e:?}");
        // Extra (covariate) columns too, and --na replaces the words.
        let regimen = Regimen::six_moves();
        let f = TableValidator::new(
            Table::Followup,
            vec![("bmi".into(), ExtraKind::Float)],
            &regimen,
            NaiveDate::from_ymd_opt(2026, 1, 1).unwrap(),
        );
        let row = [
            Some("R1"),
            Some("2020-01-01"),
            Some("2024-01-01"),
            Some("false"),
            None,
        ];
        assert_eq!(f.validate(&row, &[Some("NaN")]).unwrap()[5], Cell::Null);
        let f = f.with_missing(Missing::new(["-99".to_string()]));
        assert_eq!(f.validate(&row, &[Some("-99")]).unwrap()[5], Cell::Null);
        assert!(
            f.validate(&row, &[Some("NA")]).is_err(),
            "NA is a value once --na drops it"
        );
    }

    #[test]
    fn messages_quote_at_most_an_escaped_excerpt() {
        let huge: &'static str =
            Box::leak(format!("\u{1b}[2J{}", "x".repeat(1 << 20)).into_boxed_str());
        let e = session("exercise", huge).unwrap_err();
        assert!(e.reason.len() < 400, "{} bytes", e.reason.len());
        assert!(
            e.reason.contains("\\u{1b}[2J") && !e.reason.contains('\u{1b}'),
            "{}",
            &e.reason[..80]
        );
        let value = e.value.unwrap();
        assert!(
            value.ends_with(&format!("… ({} bytes)", huge.len())),
            "{value}"
        );
        assert!(value.chars().count() < 240);
    }

    #[test]
    fn fingerprint_ignores_spelling_but_not_values() {
        let a = session("sets", "2").unwrap();
        let b = session("sets", "2.0").unwrap();
        let c = session("sets", "3").unwrap();
        assert_eq!(fingerprint(&a), fingerprint(&b));
        assert_ne!(fingerprint(&a), fingerprint(&c));
    }

    #[test]
    fn clip_keeps_char_boundaries() {
        let s = "é".repeat(300);
        let c = clip(&s, 201);
        assert!(c.starts_with(&"é".repeat(100)));
        assert!(c.ends_with("(600 bytes)"));
    }
}
