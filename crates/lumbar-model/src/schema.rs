//! The canonical tables of SPEC §2, as data: column names, types and the rule
//! each value must satisfy. The ingest crate enforces these; the generator
//! writes them; analyses read them.

use std::fmt;

/// The canonical tables, in the order they are ingested: patients first (the
/// other tables refer to them), then the follow-up registry, then the rest.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Table {
    Patients,
    Followup,
    Sessions,
    Walking,
    Outcomes,
}

/// The storage type of a column.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Str,
    Int,
    Float,
    Bool,
    /// ISO 8601 calendar date.
    Date,
    /// ISO 8601 date and time; naive (local, time zone in the dataset
    /// manifest) or with an offset, which is converted to UTC.
    DateTime,
}

/// The rule a present value must satisfy beyond its type.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Check {
    Any,
    /// A 0–10 numeric rating scale score, integers or halves (SPEC §1).
    Pain,
    /// Inclusive bounds; values outside are impossible or absurd.
    Range {
        min: f64,
        max: f64,
    },
    /// One of these words, case-insensitively; stored in this spelling.
    OneOf(&'static [&'static str]),
    /// A move of the regimen's catalogue.
    Move,
    /// A rung of one of the regimen's ladders.
    Rung,
    /// Not after the ingest's reference date ("today" unless set).
    NotFuture,
}

/// One column of a canonical table.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Column {
    pub name: &'static str,
    pub kind: Kind,
    /// A required column must be in the file and have a value in every row.
    pub required: bool,
    pub check: Check,
}

const fn col(name: &'static str, kind: Kind, required: bool, check: Check) -> Column {
    Column {
        name,
        kind,
        required,
        check,
    }
}

/// Outcome measures of SPEC §2 and the range of each.
pub const MEASURES: &[&str] = &["nrs_pain", "odi", "rmdq", "ears"];

/// Bounds of an outcome measure's value: NRS 0–10 in halves, Oswestry 0–100,
/// Roland-Morris 0–24 (24 yes/no items), EARS 0–24 (6 items scored 0–4).
pub fn measure_range(measure: &str) -> Option<(f64, f64)> {
    match measure {
        "nrs_pain" => Some((0.0, 10.0)),
        "odi" => Some((0.0, 100.0)),
        "rmdq" | "ears" => Some((0.0, 24.0)),
        _ => None,
    }
}

use Check::*;
use Kind::*;

const PATIENTS: &[Column] = &[
    col("patient_id", Str, true, Any),
    col("site", Str, true, Any),
    col(
        "sex",
        Str,
        false,
        OneOf(&["female", "male", "other", "unknown"]),
    ),
    col(
        "birth_year",
        Int,
        false,
        Range {
            min: 1900.0,
            max: 2100.0,
        },
    ),
    col(
        "age",
        Float,
        false,
        Range {
            min: 0.0,
            max: 120.0,
        },
    ),
    col(
        "bmi",
        Float,
        false,
        Range {
            min: 10.0,
            max: 80.0,
        },
    ),
    col("enrolled_on", Date, true, NotFuture),
    col("stenosis", Bool, false, Any),
    col("baseline_pain", Float, false, Pain),
    col(
        "baseline_odi",
        Float,
        false,
        Range {
            min: 0.0,
            max: 100.0,
        },
    ),
    col("regimen", Str, false, Any),
];

const SESSIONS: &[Column] = &[
    col("patient_id", Str, true, Any),
    col("performed_at", DateTime, true, NotFuture),
    col("exercise", Str, true, Move),
    col("level", Str, false, Rung),
    col(
        "side",
        Str,
        false,
        OneOf(&["left", "right", "both", "alternating"]),
    ),
    col(
        "sets",
        Int,
        false,
        Range {
            min: 0.0,
            max: 20.0,
        },
    ),
    col(
        "reps",
        Int,
        false,
        Range {
            min: 0.0,
            max: 200.0,
        },
    ),
    col(
        "hold_s",
        Float,
        false,
        Range {
            min: 0.0,
            max: 600.0,
        },
    ),
    col("pain_before", Float, false, Pain),
    col("pain_during", Float, false, Pain),
    col("pain_after", Float, false, Pain),
    // A week: longer than that is not "pain after an exercise".
    col(
        "pain_persist_min",
        Float,
        false,
        Range {
            min: 0.0,
            max: 10080.0,
        },
    ),
    col("stopped_for_pain", Bool, false, Any),
    col("completed", Bool, false, Any),
    col("source", Str, false, Any),
];

const WALKING: &[Column] = &[
    col("patient_id", Str, true, Any),
    col("date", Date, true, NotFuture),
    col(
        "walking_min",
        Float,
        true,
        Range {
            min: 0.0,
            max: 1440.0,
        },
    ),
    col(
        "steps",
        Int,
        false,
        Range {
            min: 0.0,
            max: 150000.0,
        },
    ),
    col(
        "wear_min",
        Float,
        false,
        Range {
            min: 0.0,
            max: 1440.0,
        },
    ),
    col(
        "mean_met",
        Float,
        false,
        Range {
            min: 1.0,
            max: 20.0,
        },
    ),
    col("source", Str, false, Any),
];

const OUTCOMES: &[Column] = &[
    col("patient_id", Str, true, Any),
    col("date", Date, true, NotFuture),
    col("measure", Str, true, OneOf(MEASURES)),
    col("value", Float, true, Any),
];

const FOLLOWUP: &[Column] = &[
    col("patient_id", Str, true, Any),
    col("baseline_date", Date, true, NotFuture),
    col("end_date", Date, true, NotFuture),
    col("event", Bool, true, Any),
    col("event_date", Date, false, NotFuture),
];

impl Table {
    pub const ALL: [Table; 5] = [
        Table::Patients,
        Table::Followup,
        Table::Sessions,
        Table::Walking,
        Table::Outcomes,
    ];

    /// The table's name: its CLI flag, its folder in a store, its CSV file stem.
    pub fn name(self) -> &'static str {
        match self {
            Table::Patients => "patients",
            Table::Sessions => "sessions",
            Table::Walking => "walking",
            Table::Outcomes => "outcomes",
            Table::Followup => "followup",
        }
    }

    pub fn from_name(name: &str) -> Option<Table> {
        Table::ALL.into_iter().find(|t| t.name() == name)
    }

    /// The canonical columns, in canonical order.
    pub fn columns(self) -> &'static [Column] {
        match self {
            Table::Patients => PATIENTS,
            Table::Sessions => SESSIONS,
            Table::Walking => WALKING,
            Table::Outcomes => OUTCOMES,
            Table::Followup => FOLLOWUP,
        }
    }

    /// Whether columns beyond the canonical ones are kept. Follow-up tables
    /// carry the covariates of a risk analysis as extra columns (SPEC §2).
    pub fn keeps_extra_columns(self) -> bool {
        self == Table::Followup
    }

    /// Whether rows must name a patient of the patients table (`true`) or may
    /// also name a participant of the follow-up registry (`false`): walking
    /// and outcomes are measured on risk-cohort participants too.
    pub fn needs_enrolled_patient(self) -> bool {
        self == Table::Sessions
    }
}

impl fmt::Display for Table {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// Whether a number is a valid NRS pain score: 0 to 10 in steps of 0.5.
pub fn is_pain_score(x: f64) -> bool {
    (0.0..=10.0).contains(&x) && (x * 2.0).fract() == 0.0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pain_scores_are_halves_from_0_to_10() {
        for ok in [0.0, 0.5, 3.0, 6.5, 10.0] {
            assert!(is_pain_score(ok), "{ok}");
        }
        for bad in [-0.5, 10.5, 3.3, f64::NAN, f64::INFINITY] {
            assert!(!is_pain_score(bad), "{bad}");
        }
    }

    #[test]
    fn every_table_starts_with_patient_id_and_names_are_unique() {
        for t in Table::ALL {
            let cols = t.columns();
            assert_eq!(cols[0].name, "patient_id");
            let mut names: Vec<_> = cols.iter().map(|c| c.name).collect();
            names.sort();
            names.dedup();
            assert_eq!(names.len(), cols.len(), "{t}");
            assert_eq!(Table::from_name(t.name()), Some(t));
        }
    }

    #[test]
    fn measure_ranges() {
        assert_eq!(measure_range("odi"), Some((0.0, 100.0)));
        assert_eq!(measure_range("rmdq"), Some((0.0, 24.0)));
        assert_eq!(measure_range("vas"), None);
    }
}
