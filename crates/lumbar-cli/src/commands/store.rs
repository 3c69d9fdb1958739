//! `lumbar store check`: every file of a store against its checksum, one
//! line per file (as SQLite's `integrity_check`), exit 0 when all are ok;
//! `lumbar store rejects`: the rows ingest did not accept, with their
//! reasons, as CSV (and Parquet) for a spreadsheet or R; `lumbar store
//! migrate`: a store written before buckets, partitioned by patient.

use std::io::Write;
use std::path::PathBuf;

use anyhow::Result;
use clap::{Args, Subcommand};
use lumbar_io::Store;

#[derive(Subcommand, Debug)]
pub enum StoreAction {
    /// Verify the manifest, each part, row index and rejects file; exit 1 when any has a problem.
    Check(CheckArgs),
    /// Write the rejected rows (source file, line, column, value, reason) as DIR/rejects.csv and .parquet.
    #[command(
        after_help = "Example:\n  lumbar store rejects out/store --out out/rejects   # then open out/rejects/rejects.csv"
    )]
    Rejects(RejectsArgs),
    /// Partition a store written before buckets by patient (TABLE/bucket=NNN/ folders), in place.
    #[command(
        after_help = "A store keeps its bucket count once it has one; --buckets sets it for a store that has none.\nExample:\n  lumbar store migrate out/store"
    )]
    Migrate(MigrateArgs),
}

#[derive(Args, Debug)]
pub struct MigrateArgs {
    /// The store folder.
    pub store: PathBuf,
    /// Buckets of patients, when the store has no count yet.
    #[arg(long, value_name = "N", default_value_t = lumbar_model::partition::DEFAULT_BUCKETS,
          value_parser = clap::value_parser!(u32).range(1..=i64::from(lumbar_model::partition::MAX_BUCKETS)))]
    pub buckets: u32,
    /// Fail at once when another process is writing the store, instead of waiting for it.
    #[arg(long)]
    pub no_wait: bool,
}

#[derive(Args, Debug)]
pub struct RejectsArgs {
    /// The store folder.
    pub store: PathBuf,
    /// Output folder for rejects.csv and rejects.parquet (and rejects.ndjson with --format json).
    #[arg(short, long)]
    pub out: PathBuf,
    #[command(flatten)]
    pub format: super::TableFormatArg,
    /// Write text cells as they are (by default a cell beginning with =, +,
    /// -, @, tab or CR gets a leading ' so a spreadsheet does not run it).
    #[arg(long)]
    pub raw_csv: bool,
}

#[derive(Args, Debug)]
pub struct CheckArgs {
    /// The store folder.
    pub store: PathBuf,
    /// Print one JSON object on stdout instead of lines.
    #[arg(long)]
    pub json: bool,
}

pub fn store(action: &StoreAction, out: &mut dyn Write) -> Result<u8> {
    match action {
        StoreAction::Check(args) => check(args, out),
        StoreAction::Rejects(args) => rejects(args, out),
        StoreAction::Migrate(args) => migrate(args, out),
    }
}

fn migrate(args: &MigrateArgs, out: &mut dyn Write) -> Result<u8> {
    Store::open(&args.store)?;
    let lock = lumbar_io::WriterLock::acquire(&args.store, !args.no_wait, &mut |_| {})?;
    let done = lock.store().migrate(
        &lock,
        args.buckets,
        lumbar_io::IngestOptions::default().batch_rows,
    )?;
    for r in &done.repairs {
        writeln!(out, "repaired: {r}")?;
    }
    if done.parts == 0 {
        writeln!(
            out,
            "{} is already partitioned into {} buckets of patients; nothing to do",
            args.store.display(),
            done.buckets
        )?;
    } else {
        writeln!(
            out,
            "{} part(s), {} rows, partitioned into {} buckets of patients (TABLE/bucket=NNN/)",
            done.parts, done.rows, done.buckets
        )?;
    }
    Ok(0)
}

fn rejects(args: &RejectsArgs, out: &mut dyn Write) -> Result<u8> {
    let store = Store::open(&args.store)?.snapshot()?;
    let Some(table) = store.read_rejects()? else {
        writeln!(out, "no rows of {} were rejected", args.store.display())?;
        return Ok(0);
    };
    let files = lumbar_io::output::TableFiles {
        formats: args.format.formats(),
        cells: if args.raw_csv {
            lumbar_io::output::CsvCells::Raw
        } else {
            lumbar_io::output::CsvCells::Escaped
        },
    };
    let rows = table.height();
    let staged = super::result_dir(&args.out)?;
    lumbar_io::output::write_table_to(table, staged.path(), "rejects", files)?;
    staged.commit()?;
    let written: Vec<String> = files
        .formats
        .files("rejects")
        .iter()
        .map(|f| args.out.join(f).display().to_string())
        .collect();
    writeln!(
        out,
        "{rows} rejected rows written to {}",
        written.join(", ")
    )?;
    Ok(0)
}

fn check(args: &CheckArgs, out: &mut dyn Write) -> Result<u8> {
    let store = Store::open(&args.store)?;
    let files = store.check();
    let problems = files.iter().filter(|f| f.problem.is_some()).count();
    if args.json {
        let doc = serde_json::json!({
            "store": args.store,
            "ok": problems == 0,
            "checked": files.len(),
            "problems": problems,
            "files": files.iter().map(|f| serde_json::json!({
                "path": f.path,
                "kind": f.kind,
                "status": if f.problem.is_some() { "problem" } else { "ok" },
                "problem": f.problem,
            })).collect::<Vec<_>>(),
        });
        writeln!(out, "{}", serde_json::to_string_pretty(&doc)?)?;
    } else {
        for f in &files {
            match &f.problem {
                None => writeln!(out, "ok       {}", f.path)?,
                Some(p) => writeln!(out, "problem  {}: {p}", f.path)?,
            }
        }
        writeln!(
            out,
            "{} file(s) checked: {} ok, {problems} with a problem",
            files.len(),
            files.len() - problems
        )?;
    }
    Ok(if problems == 0 { 0 } else { 1 })
}
