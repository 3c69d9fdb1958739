//! `lumbar ingest`'s output: the per-file table with the commonest reject
//! reasons, the read = accepted + rejected lines and the notes, or one JSON
//! object.

use std::io::Write;

use anyhow::Result;
use lumbar_io::IngestReport;

use super::IngestArgs;

pub(super) fn report(args: &IngestArgs, report: &IngestReport, out: &mut dyn Write) -> Result<()> {
    let tables: serde_json::Map<String, serde_json::Value> = report
        .tables()
        .into_iter()
        .map(|(t, c)| {
            (
                t.name().to_string(),
                serde_json::to_value(c).unwrap_or_default(),
            )
        })
        .collect();
    if args.json {
        let doc = serde_json::json!({
            "store": args.out,
            "tables": tables,
            "files": report.files,
            "notes": report.notes,
            "repairs": report.repairs,
        });
        writeln!(out, "{}", serde_json::to_string_pretty(&doc)?)?;
        return Ok(());
    }
    for r in &report.repairs {
        writeln!(out, "store: {r}")?;
    }
    writeln!(
        out,
        "{:<9} {:>9} {:>9} {:>9} {:>9}  file",
        "table", "read", "accepted", "rejected", "added"
    )?;
    for f in &report.files {
        let c = f.counts;
        writeln!(
            out,
            "{:<9} {:>9} {:>9} {:>9} {:>9}  {}{}",
            f.table,
            c.read,
            c.accepted,
            c.rejected,
            c.added,
            f.path.display(),
            if f.already_ingested {
                "  (already ingested: unchanged)"
            } else {
                ""
            }
        )?;
        for (reason, n) in &f.top_reasons {
            writeln!(out, "{:>11} × {reason}", n)?;
        }
        if !f.ignored_columns.is_empty() {
            writeln!(
                out,
                "            ignored columns: {}",
                lumbar_io::limits::excerpt(&f.ignored_columns.join(", "))
            )?;
        }
    }
    writeln!(out)?;
    for (t, c) in report.tables() {
        writeln!(
            out,
            "{t}: read {} = accepted {} + rejected {}",
            c.read, c.accepted, c.rejected
        )?;
    }
    for n in &report.notes {
        writeln!(out, "note: {n}")?;
    }
    writeln!(
        out,
        "store: {} (rejected rows and reasons: {}/rejects/)",
        args.out.display(),
        args.out.display()
    )?;
    Ok(())
}
