//! `lumbar report`: the clinic's cohort report as one HTML file.

use std::io::Write;
use std::path::PathBuf;

use anyhow::{Context, Result, bail};
use clap::Args;
use lumbar_analysis::clinic::{ClinicOptions, clinic_summary};
use lumbar_analysis::prescription::Prescriptions;
use lumbar_io::Store;
use lumbar_model::Regimen;
use lumbar_model::atomic::write_atomic;
use lumbar_report::{ReportMeta, render};

#[derive(Args, Debug)]
pub struct ReportArgs {
    #[command(flatten)]
    pub regimen: crate::RegimenArg,
    /// Store folder made by `lumbar ingest`.
    pub store: PathBuf,
    /// The HTML file to write.
    #[arg(short, long, value_name = "FILE")]
    pub out: PathBuf,
    /// Only this site's patients.
    #[arg(long)]
    pub site: Option<String>,
    /// Only days from this one: scheduled days, sessions and measurements
    /// alike (patients with nothing scheduled in the window are left out and counted).
    #[arg(long, value_name = "YYYY-MM-DD")]
    pub from: Option<chrono::NaiveDate>,
    /// Only days up to this one (inclusive), as for --from.
    #[arg(long, value_name = "YYYY-MM-DD")]
    pub to: Option<chrono::NaiveDate>,
    /// Per-patient prescriptions (as for `lumbar analyze`).
    #[arg(long, value_name = "F")]
    pub prescriptions: Option<PathBuf>,
    /// Report title.
    #[arg(long, default_value = "Back-pain exercise programme: cohort report")]
    pub title: String,
    /// The report date the header shows (default: today).
    #[arg(long, value_name = "YYYY-MM-DD")]
    pub date: Option<chrono::NaiveDate>,
}

pub fn report(args: &ReportArgs, regimen: &Regimen, out: &mut dyn Write) -> Result<u8> {
    if let (Some(f), Some(t)) = (args.from, args.to)
        && f > t
    {
        bail!("--from {f} is after --to {t}");
    }
    let store = Store::open(&args.store)?.snapshot()?;
    let rx = match &args.prescriptions {
        Some(f) => Prescriptions::load(regimen, &lumbar_io::Frame::read(f)?)?,
        None => Prescriptions::from_regimen(regimen),
    };
    let opts = ClinicOptions {
        site: args.site.clone(),
        from: args.from,
        to: args.to,
        ..Default::default()
    };
    let summary = clinic_summary(&store, regimen, &rx, &opts)?;
    if let Some(site) = &args.site
        && summary.patients + summary.left_out == 0
    {
        bail!("no patients at site {site:?} in {}", args.store.display());
    }
    let mut meta = ReportMeta::new(&args.title, regimen);
    meta.report_date = Some(
        args.date
            .unwrap_or_else(|| chrono::Local::now().date_naive()),
    );
    let html = render(&summary, &meta);
    if let Some(dir) = args.out.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
    }
    write_atomic(&args.out, html.as_bytes())
        .with_context(|| format!("cannot write {}", args.out.display()))?;
    writeln!(
        out,
        "report: {} ({} patients{}, {:.0} KiB)",
        args.out.display(),
        summary.patients,
        if summary.left_out > 0 {
            format!(
                "; {} with nothing scheduled in the window left out",
                summary.left_out
            )
        } else {
            String::new()
        },
        html.len() as f64 / 1024.0
    )?;
    Ok(0)
}
