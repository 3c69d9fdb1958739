//! `lumbar ingest`: a clinic's files into the store, every row accepted or
//! rejected with a reason.

use std::io::Write;

use anyhow::Result;
use lumbar_model::Regimen;

use crate::Ui;

mod args;
mod render;
pub use args::{FormatArg, IngestArgs, IngestCheckArgs};

pub fn ingest(args: &IngestArgs, regimen: &Regimen, ui: &Ui, out: &mut dyn Write) -> Result<u8> {
    let (inputs, opts) = args.request()?;
    // One writer per store: said even when quiet, since it explains the wait.
    let lock = lumbar_io::WriterLock::acquire(&args.out, !args.no_wait, &mut |holder| {
        let _ = writeln!(
            std::io::stderr(),
            "waiting for the store's lock held by {holder}"
        );
    })?;
    let bar = ui.spinner("ingest");
    let report = lumbar_io::ingest_locked(&lock, &inputs, regimen, &opts, &mut |n| {
        bar.set_message(format!("{n} rows"))
    })?;
    drop(lock);
    bar.finish_and_clear();
    render::report(args, &report, out)?;
    Ok(0)
}
