//! `lumbar store check`: every file of a store against its checksum, one
//! line per file (as SQLite's `integrity_check`), exit 0 when all are ok;
//! `lumbar store rejects`: the rows ingest did not accept, with their
//! reasons, as CSV (and Parquet) for a spreadsheet or R.

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
}

#[derive(Args, Debug)]
pub struct RejectsArgs {
    /// The store folder.
    pub store: PathBuf,
    /// Output folder for rejects.csv and rejects.parquet.
    #[arg(short, long)]
    pub out: PathBuf,
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
    }
}

fn rejects(args: &RejectsArgs, out: &mut dyn Write) -> Result<u8> {
    let store = Store::open(&args.store)?.snapshot()?;
    let Some(mut table) = store.read_rejects()? else {
        writeln!(out, "no rows of {} were rejected", args.store.display())?;
        return Ok(0);
    };
    let cells = if args.raw_csv {
        lumbar_io::output::CsvCells::Raw
    } else {
        lumbar_io::output::CsvCells::Escaped
    };
    let staged = super::result_dir(&args.out)?;
    lumbar_io::output::write_table_as(&mut table, staged.path(), "rejects", cells)?;
    staged.commit()?;
    writeln!(
        out,
        "{} rejected rows written to {}",
        table.height(),
        args.out.join("rejects.csv").display()
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
