//! `lumbar generate`: a synthetic programme cohort and follow-up cohort as
//! the canonical tables (CSV), from the simulator's generator.

use std::io::Write;
use std::path::PathBuf;

use anyhow::{Context, Result};
use clap::Args;
use lumbar_io::CsvTables;
use lumbar_model::Regimen;
use lumbar_sim::synthetic::{CohortSpec, describe, generate as generate_cohort};

use crate::Ui;

#[derive(Args, Debug)]
pub struct GenerateArgs {
    #[command(flatten)]
    pub regimen: crate::RegimenArg,
    /// Patients in the exercise programme.
    #[arg(long, default_value_t = 200)]
    pub patients: usize,
    /// Weeks of follow-up in the programme.
    #[arg(long, default_value_t = 12)]
    pub weeks: u32,
    /// Participants of the walking-risk follow-up cohort (default: 10 per patient).
    #[arg(long)]
    pub followup: Option<usize>,
    /// Master seed: the same seed and sizes give byte-identical files.
    #[arg(long, default_value_t = 20250613)]
    pub seed: u64,
    /// Write gzip-compressed tables (`*.csv.gz`), as the bundled demo is.
    #[arg(long)]
    pub gzip: bool,
    /// Output folder (created if missing).
    #[arg(short, long)]
    pub out: PathBuf,
}

pub fn generate(
    args: &GenerateArgs,
    regimen: &Regimen,
    ui: &Ui,
    out: &mut dyn Write,
) -> Result<u8> {
    let mut spec = CohortSpec::new(args.patients, args.weeks, args.seed);
    if let Some(f) = args.followup {
        spec.followup = f;
    }
    let bar = ui.progress((spec.patients + spec.followup) as u64, "generate");
    let cannot = || format!("cannot write the cohort into {}", args.out.display());
    let mut tables = CsvTables::create(&args.out, args.gzip).with_context(cannot)?;
    let counts = generate_cohort(&spec, regimen, &mut tables, |done, _| {
        bar.set_position(done as u64)
    })
    .with_context(cannot)?;
    tables.commit().with_context(cannot)?;
    bar.finish_and_clear();
    describe(&spec, &counts, &mut *out)?;
    writeln!(out, "written to {}", args.out.display())?;
    Ok(0)
}
