//! `lumbar tables`: the data dictionary (docs/tables.md) — every column of
//! the canonical input tables, the store's rejects and every result table
//! a command writes (analyze, risk, stats, simulate, compare, calibrate,
//! replay), with its type, unit and meaning. Types and value rules come
//! from the schemas and the result types themselves ([`analyze`] and
//! [`models`] for serialised rows, [`runs`] for the simulator's and the
//! calibration's column tables); the words from each crate's dictionary (`lumbar_model`,
//! `lumbar_analysis`, `lumbar_sim`, `lumbar_calibrate`). A column without
//! words is written as "(undocumented)", which a test refuses.

use std::fmt::Write as _;
use std::io::Write;

use anyhow::Result;
use lumbar_model::dictionary::{REJECT_COLUMNS, input_column};
use lumbar_model::{Check, Kind, Table};

mod analyze;
mod models;
mod runs;

pub fn tables(out: &mut dyn Write) -> Result<u8> {
    out.write_all(dictionary()?.as_bytes())?;
    Ok(0)
}

/// A column's name and its type in words (`integer`, `number`, …).
type Columns = Vec<(String, &'static str)>;

/// Where a table's words are: `(table, column) → (unit, meaning)`.
type Words = fn(&str, &str) -> Option<(&'static str, &'static str)>;

/// A value of a column, its unit and its meaning.
type Value = (&'static str, &'static str, &'static str);

/// One result table of a chapter.
struct Section {
    /// The table's name, its heading and the key of its words.
    name: &'static str,
    /// Which command or file, under the heading (may be empty).
    note: &'static str,
    columns: Columns,
    words: Words,
    /// The values of a column whose unit depends on them (the summary's
    /// `metric`, the replay's `measure`): its name and (value, unit,
    /// meaning) rows.
    values: Option<(&'static str, Vec<Value>)>,
}

impl Section {
    fn new(name: &'static str, note: &'static str, columns: Columns, words: Words) -> Section {
        Section {
            name,
            note,
            columns,
            words,
            values: None,
        }
    }
}

/// The result tables of one command (or a few related ones).
struct Chapter {
    title: &'static str,
    intro: &'static str,
    sections: Vec<Section>,
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
         In the result tables of analyze, risk, stats and compare a number that is not finite (NaN, ±∞) is \
         written as missing; the simulator's, calibration's and replay's tables keep NaN as NaN. \
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
    md.push_str("\n## The store's rejects\n\n`STORE/rejects/*.parquet`, and `lumbar store rejects STORE --out DIR` as CSV: one row per row not accepted. Within a file's rejects, the rows that broke a rule come first, in line order, then the duplicates and conflicting patient ids, bucket by bucket (they are decided a bucket of patients at a time); sort by `line` for file order.\n\n| column | type | meaning |\n|---|---|---|\n");
    for (c, t, m) in REJECT_COLUMNS {
        let _ = writeln!(md, "| `{c}` | {t} | {m} |");
    }
    let mut chapters = vec![analyze::chapter()?];
    chapters.extend(models::chapters()?);
    chapters.extend(runs::chapters()?);
    for chapter in chapters {
        let _ = write!(md, "\n## {}\n\n{}\n", chapter.title, chapter.intro);
        for s in chapter.sections {
            section(&mut md, &s);
        }
    }
    Ok(md)
}

/// One result table: its columns, then the values of a column if listed.
fn section(md: &mut String, s: &Section) {
    let _ = write!(md, "\n### {}\n\n", s.name);
    if !s.note.is_empty() {
        let _ = write!(md, "{}\n\n", s.note);
    }
    md.push_str("| column | type | unit | meaning |\n|---|---|---|---|\n");
    for (c, t) in &s.columns {
        let (unit, meaning) = (s.words)(s.name, c).unwrap_or(("", "(undocumented)"));
        let (unit, meaning) = (cell(unit), cell(meaning));
        let _ = writeln!(md, "| `{c}` | {t} | {unit} | {meaning} |");
    }
    if let Some((column, values)) = &s.values {
        let _ = write!(
            md,
            "\nThe values of `{column}`:\n\n| {column} | unit | meaning |\n|---|---|---|\n"
        );
        for (v, unit, meaning) in values {
            let (unit, meaning) = (cell(unit), cell(meaning));
            let _ = writeln!(md, "| `{v}` | {unit} | {meaning} |");
        }
    }
}

/// Words as a Markdown table cell: a `|` (as in |z|) would end the cell.
fn cell(words: &str) -> String {
    words.replace('|', "\\|")
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
