//! `lumbar ingest`'s arguments, and their one conversion into a library
//! request: the inputs and the [`IngestOptions`].

use std::path::{Path, PathBuf};

use anyhow::Result;
use clap::Args;
use lumbar_io::{Format, IngestOptions, Input};
use lumbar_model::Table;

#[derive(Args, Debug)]
pub struct IngestArgs {
    #[command(flatten)]
    pub regimen: crate::RegimenArg,
    /// Store folder that receives the canonical tables (created if missing).
    #[arg(short, long, value_name = "STORE")]
    pub out: PathBuf,
    /// Patients table file(s).
    #[arg(long, value_name = "F")]
    pub patients: Vec<PathBuf>,
    /// Exercise-session file(s).
    #[arg(long, value_name = "F")]
    pub sessions: Vec<PathBuf>,
    /// Walking (patient-day) file(s).
    #[arg(long, value_name = "F")]
    pub walking: Vec<PathBuf>,
    /// Patient-reported outcome file(s).
    #[arg(long, value_name = "F")]
    pub outcomes: Vec<PathBuf>,
    /// Follow-up (risk cohort) file(s); extra columns are kept as covariates.
    #[arg(long, value_name = "F")]
    pub followup: Vec<PathBuf>,
    /// A folder holding any of patients, sessions, walking, outcomes, followup
    /// as .csv, .csv.gz, .ndjson or .parquet (as `lumbar generate` writes them).
    #[arg(long, value_name = "DIR")]
    pub dir: Option<PathBuf>,
    /// Input format; by default detected from each file's content.
    #[arg(long, value_enum, default_value_t = FormatArg::Auto)]
    pub format: FormatArg,
    /// Format of the --walking files (default: detected from the content):
    /// apple (export.xml or export.zip), ggir (part 5 day summary), fhir
    /// (Observation NDJSON or Bundle; pain scores go to outcomes), csv,
    /// parquet, ndjson.
    #[arg(long, value_enum, value_name = "FORMAT")]
    pub walking_format: Option<WalkingFormatArg>,
    /// Whose the Apple Health exports are (default: each file's name, e.g. P00042.zip).
    #[arg(long, value_name = "ID")]
    pub patient_id: Option<String>,
    /// Reject dates after this day (default: today).
    #[arg(long, value_name = "YYYY-MM-DD")]
    pub as_of: Option<chrono::NaiveDate>,
    #[command(flatten)]
    pub checks: IngestCheckArgs,
    /// Print one JSON object on stdout instead of a table.
    #[arg(long)]
    pub json: bool,
    /// Fail at once when another ingest is writing the store, instead of waiting for it.
    #[arg(long)]
    pub no_wait: bool,
    /// Buckets of patients a new store is partitioned into (folders
    /// TABLE/bucket=NNN/); fixed when the store is created, ignored after.
    /// A shard of `analyze --shard` takes whole buckets, so at most this many shards.
    #[arg(long, value_name = "N", default_value_t = lumbar_model::partition::DEFAULT_BUCKETS,
          value_parser = clap::value_parser!(u32).range(1..=i64::from(lumbar_model::partition::MAX_BUCKETS)))]
    pub buckets: u32,
}

/// What ingest accepts: dates, missing-value words and the size limits.
#[derive(Args, Debug, Clone)]
pub struct IngestCheckArgs {
    /// Reject dates before this day, in every date column.
    #[arg(long, value_name = "YYYY-MM-DD", default_value = "1900-01-01")]
    pub min_date: chrono::NaiveDate,
    /// Words that mean "missing" in every column, comma-separated (an empty
    /// cell always does); `--na ''` leaves only empty cells missing.
    #[arg(long, value_name = "LIST", default_value_t = lumbar_io::parse::DEFAULT_MISSING.join(","))]
    pub na: String,
    /// Longest record (CSV record, NDJSON line, XML element) and so longest
    /// value; longer rows are rejected. Bytes, or with KiB/MiB/GiB.
    #[arg(long, value_name = "SIZE", default_value = "1MiB", value_parser = parse_size)]
    pub max_line: u64,
    /// Most columns a header may have.
    #[arg(long, value_name = "N", default_value_t = lumbar_io::limits::DEFAULT_MAX_COLUMNS)]
    pub max_columns: usize,
    /// Compressed input (gzip, zip) may always expand to this size ...
    #[arg(long, value_name = "SIZE", default_value = "1GiB", value_parser = parse_size)]
    pub max_expanded: u64,
    /// ... or to this many times its compressed size, if that is more.
    #[arg(long, value_name = "N", default_value_t = lumbar_io::limits::DEFAULT_MAX_RATIO)]
    pub max_ratio: u64,
    /// Most entries a zip (Apple Health export) may list.
    #[arg(long, value_name = "N", default_value_t = lumbar_io::limits::DEFAULT_MAX_ZIP_ENTRIES)]
    pub max_zip_entries: usize,
}

impl Default for IngestCheckArgs {
    /// The flags' defaults (parsed from an empty command line, so they
    /// cannot drift from the `--help` text).
    fn default() -> Self {
        #[derive(clap::Parser)]
        struct Defaults {
            #[command(flatten)]
            checks: IngestCheckArgs,
        }
        <Defaults as clap::Parser>::parse_from(["lumbar"]).checks
    }
}

/// A size in bytes: `1048576`, `64KiB`, `1MiB`, `2GiB` (also `K`/`M`/`G`, `KB`/`MB`/`GB` as binary units).
fn parse_size(text: &str) -> Result<u64, String> {
    let t = text.trim();
    let split = t.find(|c: char| !c.is_ascii_digit()).unwrap_or(t.len());
    let (digits, unit) = t.split_at(split);
    let n: u64 = digits
        .parse()
        .map_err(|_| format!("'{text}' is not a size (e.g. 1048576, 64KiB, 1MiB, 2GiB)"))?;
    let shift = match unit.trim().to_ascii_lowercase().as_str() {
        "" | "b" => 0,
        "k" | "kb" | "kib" => 10,
        "m" | "mb" | "mib" => 20,
        "g" | "gb" | "gib" => 30,
        _ => return Err(format!("'{text}': unknown unit (use KiB, MiB or GiB)")),
    };
    let size = n
        .checked_mul(1u64 << shift)
        .filter(|&s| s > 0)
        .ok_or_else(|| format!("'{text}' is not a size above zero that fits in 64 bits"))?;
    Ok(size)
}

#[derive(clap::ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum WalkingFormatArg {
    Apple,
    Ggir,
    Fhir,
    Csv,
    Parquet,
    Ndjson,
}

#[derive(clap::ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum FormatArg {
    Auto,
    Csv,
    Ndjson,
    Parquet,
}

fn table_files_in(dir: &Path) -> Result<Vec<Input>> {
    let found = lumbar_io::table_files_in(dir);
    if found.is_empty() {
        anyhow::bail!(
            "no table files in {} (expected e.g. patients.csv, sessions.csv.gz)",
            dir.display()
        );
    }
    Ok(found)
}

impl IngestArgs {
    /// The files to ingest (each with its table, format and, for Apple
    /// Health, whose it is) and the options, from the flags.
    pub fn request(&self) -> Result<(Vec<Input>, IngestOptions)> {
        let args = self;
        let mut inputs: Vec<Input> = Vec::new();
        if let Some(dir) = &args.dir {
            inputs.extend(table_files_in(dir)?);
        }
        for (table, files) in [
            (Table::Patients, &args.patients),
            (Table::Sessions, &args.sessions),
            (Table::Walking, &args.walking),
            (Table::Outcomes, &args.outcomes),
            (Table::Followup, &args.followup),
        ] {
            inputs.extend(files.iter().map(|f| Input::new(table, f.clone())));
        }
        if inputs.is_empty() {
            anyhow::bail!(
                "nothing to ingest: give --dir or at least one of --patients/--sessions/--walking/--outcomes/--followup"
            );
        }
        let format = match args.format {
            FormatArg::Auto => None,
            FormatArg::Csv => Some(Format::Csv),
            FormatArg::Ndjson => Some(Format::Ndjson),
            FormatArg::Parquet => Some(Format::Parquet),
        };
        for i in &mut inputs {
            i.format = format;
            if i.table == Table::Walking {
                if let Some(w) = args.walking_format {
                    i.format = Some(match w {
                        WalkingFormatArg::Apple => Format::Apple,
                        WalkingFormatArg::Ggir => Format::Ggir,
                        WalkingFormatArg::Fhir => Format::Fhir,
                        WalkingFormatArg::Csv => Format::Csv,
                        WalkingFormatArg::Parquet => Format::Parquet,
                        WalkingFormatArg::Ndjson => Format::Ndjson,
                    });
                }
                i.patient_id = args.patient_id.clone();
            }
        }
        let mut opts = IngestOptions::default();
        if let Some(d) = args.as_of {
            opts.as_of = d;
        }
        let checks = &args.checks;
        if checks.min_date > opts.as_of {
            anyhow::bail!(
                "--min-date {} is after --as-of {}: no date could be accepted",
                checks.min_date,
                opts.as_of
            );
        }
        opts.min_date = checks.min_date;
        opts.buckets = args.buckets;
        opts.missing = lumbar_io::Missing::new(checks.na.split(',').map(str::to_string));
        opts.limits = lumbar_io::Limits {
            max_line: usize::try_from(checks.max_line).unwrap_or(usize::MAX),
            max_columns: checks.max_columns.max(1),
            max_expanded: checks.max_expanded,
            max_ratio: checks.max_ratio,
            max_zip_entries: checks.max_zip_entries,
        };
        Ok((inputs, opts))
    }
}
