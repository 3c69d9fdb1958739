//! `lumbar tables`: the data dictionary (docs/tables.md) — every column of
//! the canonical input tables, the store's rejects and `lumbar analyze`'s
//! results, with its type, unit and meaning. Types and value rules come
//! from the schemas and the result types themselves; the words from
//! `lumbar_model::dictionary` and `lumbar_analysis::dictionary`. A column
//! without words is written as "(undocumented)", which a test refuses.

use std::fmt::Write as _;
use std::io::Write;

use anyhow::Result;
use chrono::NaiveDate;
use lumbar_analysis::adherence::{GroupAdherence, PatientAdherence, WeekTally};
use lumbar_analysis::dictionary::output_column;
use lumbar_analysis::safety::{SafetyCount, SafetyEvent, UnsuitableFlag};
use lumbar_analysis::trends::Trend;
use lumbar_model::dictionary::{REJECT_COLUMNS, input_column};
use lumbar_model::{Check, Kind, Table};

pub fn tables(out: &mut dyn Write) -> Result<u8> {
    out.write_all(dictionary()?.as_bytes())?;
    Ok(0)
}

/// The whole dictionary as Markdown.
pub fn dictionary() -> Result<String> {
    let mut md = String::new();
    md.push_str(
        "# lumbar's tables\n\n\
         Every column of the tables lumbar reads and writes. Made by `lumbar tables > docs/tables.md`; \
         a test fails when this file and the code disagree.\n\n\
         In CSV, booleans are written `true`/`false` (R's `read.csv` and pandas read them as logicals), \
         dates as `YYYY-MM-DD`, date-times as `YYYY-MM-DDTHH:MM:SS`, and a missing value as an empty cell. \
         A text cell that begins with `=`, `+`, `-`, `@`, tab or CR gets a leading `'` in CSV \
         (unless `--raw-csv`), so a spreadsheet shows it instead of running it; Parquet holds values unchanged.\n\n\
         ## Input tables\n\n\
         What `lumbar ingest` accepts (CSV, NDJSON or Parquet; header names matched case-insensitively). \
         A required column must be present with a value in every row; a row breaking a rule goes to the rejects.\n",
    );
    for table in Table::ALL {
        let _ = write!(
            md,
            "\n### {}\n\n| column | type | required | rule | unit | meaning |\n|---|---|---|---|---|---|\n",
            table.name()
        );
        for c in table.columns() {
            let (unit, meaning) =
                input_column(table.name(), c.name).unwrap_or(("", "(undocumented)"));
            let _ = writeln!(
                md,
                "| `{}` | {} | {} | {} | {unit} | {meaning} |",
                c.name,
                kind(c.kind),
                if c.required { "yes" } else { "no" },
                rule(c.check)
            );
        }
    }
    md.push_str("\n## The store's rejects\n\n`STORE/rejects/*.parquet`, and `lumbar store rejects STORE --out DIR` as CSV: one row per row not accepted.\n\n| column | type | meaning |\n|---|---|---|\n");
    for (c, t, m) in REJECT_COLUMNS {
        let _ = writeln!(md, "| `{c}` | {t} | {m} |");
    }
    md.push_str("\n## `lumbar analyze` results\n\nEach table is written as `NAME.parquet` and `NAME.csv` in the output folder, with `pain_model.json` (the mixed model, as lme4 reports it) and `manifest.json`.\n");
    for (name, columns) in outputs()? {
        let _ = write!(
            md,
            "\n### {name}\n\n| column | type | unit | meaning |\n|---|---|---|---|\n"
        );
        for (c, t) in columns {
            let (unit, meaning) = output_column(name, &c).unwrap_or(("", "(undocumented)"));
            let _ = writeln!(md, "| `{c}` | {t} | {unit} | {meaning} |");
        }
    }
    Ok(md)
}

type Columns = Vec<(String, &'static str)>;

/// Each result table's columns, from a row of its type with every field present.
fn outputs() -> Result<Vec<(&'static str, Columns)>> {
    use lumbar_io::output::column_types;
    let day = NaiveDate::default();
    let (p, s) = ("patient", "site");
    let week = WeekTally {
        exercise: "move".into(),
        week_start: day,
        scheduled: 1,
        done: 1,
        dose_adherence: Some(1.0),
    };
    Ok(vec![
        ("adherence_weekly", column_types(&week.row(p, s))?),
        (
            "adherence_patients",
            column_types(&PatientAdherence {
                patient_id: p.into(),
                site: s.into(),
                scheduled: 1,
                done: 1,
                session_adherence: 1.0,
                dose_adherence: Some(1.0),
                adherent: true,
            })?,
        ),
        (
            "adherence_groups",
            column_types(&GroupAdherence {
                level: "site".into(),
                group: s.into(),
                patients: 1,
                median: 1.0,
                q1: 1.0,
                q3: 1.0,
                share_adherent: 1.0,
            })?,
        ),
        (
            "safety_events",
            column_types(&SafetyEvent {
                patient_id: p.into(),
                site: s.into(),
                performed_at: day.and_hms_opt(9, 0, 0).unwrap_or_default(),
                exercise: "move".into(),
                pain_during: 7.0,
            })?,
        ),
        (
            "safety_flags",
            column_types(&UnsuitableFlag {
                patient_id: p.into(),
                site: s.into(),
                exercise: "move".into(),
                first_date: day,
                episodes: 1,
            })?,
        ),
        (
            "safety_counts",
            column_types(&SafetyCount {
                level: "site".into(),
                group: s.into(),
                site: s.into(),
                events: 1,
                unsuitable_flags: 1,
                patients_with_events: 1,
            })?,
        ),
        (
            "trends",
            column_types(&Trend {
                patient_id: p.into(),
                site: s.into(),
                measure: "nrs_pain".into(),
                n: 2,
                baseline_date: day,
                baseline: 5.0,
                last_date: day,
                last: 3.0,
                change: -2.0,
                percent_change: Some(-40.0),
                slope_per_week: Some(-0.5),
                slope_se: Some(0.1),
                theil_sen_per_week: Some(-0.5),
                responder: true,
                weeks_to_sustained_response: Some(4.0),
            })?,
        ),
    ])
}

fn kind(k: Kind) -> &'static str {
    match k {
        Kind::Str => "text",
        Kind::Int => "integer",
        Kind::Float => "number",
        Kind::Bool => "true/false",
        Kind::Date => "date",
        Kind::DateTime => "date-time",
    }
}

fn rule(c: Check) -> String {
    match c {
        Check::Any => String::new(),
        Check::Pain => "0–10 in steps of 0.5".into(),
        Check::Range { min, max } => format!("{min}–{max}"),
        Check::OneOf(words) => format!("one of {}", words.join(", ")),
        Check::Move => "a move of the regimen".into(),
        Check::Rung => "a rung of the move's ladder".into(),
        Check::NotFuture => "not after the as-of day".into(),
    }
}
