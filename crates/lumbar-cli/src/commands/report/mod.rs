//! `lumbar report`: the clinic's cohort report as one HTML file.

use std::io::Write;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};
use clap::Args;
use lumbar_analysis::clinic::{ClinicOptions, ClinicTally, clinic_tally};
use lumbar_analysis::prescription::Prescriptions;
use lumbar_io::Store;
use lumbar_model::Regimen;
use lumbar_model::atomic::write_atomic;
use lumbar_report::{ReportMeta, render_compared};

mod merge;
mod shards;
pub use merge::{is_report, merge_reports};

#[derive(Args, Debug)]
pub struct ReportArgs {
    #[command(flatten)]
    pub regimen: crate::RegimenArg,
    /// Store folder made by `lumbar ingest`.
    pub store: PathBuf,
    /// The HTML file to write (with --shard: the shard's folder).
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
    /// Shows each headline figure beside the same figure for this earlier
    /// period (same store and site), with the change, e.g.
    /// 2025-01-01..2025-03-31. It must end before --from: periods that
    /// overlap would let a reader subtract one from the other.
    #[arg(long, value_name = "FROM..TO", value_parser = parse_period)]
    pub compare_to: Option<(chrono::NaiveDate, chrono::NaiveDate)>,
    /// Tally one shard of the store's patients, i of n (whole buckets; in
    /// a Slurm job array, the array task's when not given and --out is not
    /// an .html file): --out is then a folder of exact partial tallies, and
    /// `lumbar merge` of the n folders writes the report, byte-identical to
    /// the unsharded one.
    #[arg(long, value_name = "i/n")]
    pub shard: Option<String>,
}

/// `FROM..TO`: two days, the first not after the second.
fn parse_period(text: &str) -> Result<(chrono::NaiveDate, chrono::NaiveDate), String> {
    let (a, b) = text.split_once("..").ok_or_else(|| {
        format!("'{text}' is not a period: write FROM..TO, e.g. 2025-01-01..2025-03-31")
    })?;
    let day = |t: &str| {
        chrono::NaiveDate::parse_from_str(t.trim(), "%Y-%m-%d")
            .map_err(|_| format!("'{}' in '{text}' is not a date (YYYY-MM-DD)", t.trim()))
    };
    let (from, to) = (day(a)?, day(b)?);
    if from > to {
        return Err(format!("{from} is after {to}"));
    }
    Ok((from, to))
}

pub fn report(args: &ReportArgs, regimen: &Regimen, out: &mut dyn Write) -> Result<u8> {
    if let (Some(f), Some(t)) = (args.from, args.to)
        && f > t
    {
        bail!("--from {f} is after --to {t}");
    }
    // A previous period must end before this one begins: overlapping
    // periods share days whose counts a reader could get by subtracting
    // one period's figures from the other's.
    if let Some((_, prev_to)) = args.compare_to {
        match args.from {
            None => bail!(
                "--compare-to needs --from: the report's period must begin after the previous period ends"
            ),
            Some(f) if prev_to >= f => bail!(
                "--compare-to must end before --from {f} (it ends {prev_to}): the periods would overlap"
            ),
            Some(_) => {}
        }
    }
    let started = std::time::Instant::now();
    let store = Store::open(&args.store)?.snapshot()?;
    let buckets = store.manifest()?.buckets();
    // A Slurm array task's shard only when the output is not a report
    // file: a per-site array of whole reports stays whole.
    let shard = match (&args.shard, is_html(&args.out)) {
        (None, true) => lumbar_model::partition::BucketShard::WHOLE,
        (flag, _) => super::shard::of_buckets(flag.as_deref(), buckets)?,
    };
    let rx = match &args.prescriptions {
        Some(f) => Prescriptions::load(regimen, &lumbar_io::Frame::read(f)?)?,
        None => Prescriptions::from_regimen(regimen),
    };
    let opts = ClinicOptions {
        site: args.site.clone(),
        from: args.from,
        to: args.to,
        shard,
        buckets,
        ..Default::default()
    };
    let current = clinic_tally(&store, regimen, &rx, &opts)?;
    let previous = match args.compare_to {
        Some((from, to)) => Some(clinic_tally(
            &store,
            regimen,
            &rx,
            &ClinicOptions {
                from: Some(from),
                to: Some(to),
                ..opts.clone()
            },
        )?),
        None => None,
    };
    let mut meta = ReportMeta::new(&args.title, regimen);
    meta.report_date = Some(
        args.date
            .unwrap_or_else(|| chrono::Local::now().date_naive()),
    );
    let tallies = shards::Tallies {
        shard: shard.to_string(),
        current,
        previous,
    };
    if shard.count > 1 {
        let run = shards::ShardRun::new(args, &store, regimen, shard, buckets, &meta)?;
        return shards::write_shard(&args.out, run, &tallies, started, out);
    }
    write_report(&args.out, tallies, &meta, &args.store, out)
}

/// Whether `out` names an HTML file (`.html`, `.htm`, any case).
fn is_html(out: &Path) -> bool {
    out.extension()
        .is_some_and(|e| e.eq_ignore_ascii_case("html") || e.eq_ignore_ascii_case("htm"))
}

/// Renders the report of every patient's tallies and writes it to `path`.
fn write_report(
    path: &Path,
    tallies: shards::Tallies,
    meta: &ReportMeta,
    store: &Path,
    out: &mut dyn Write,
) -> Result<u8> {
    let summary = tallies.current.summary();
    if let Some(site) = &summary.site
        && summary.patients + summary.left_out == 0
    {
        bail!("no patients at site {site:?} in {}", store.display());
    }
    let previous = tallies.previous.map(ClinicTally::summary);
    let html = render_compared(&summary, previous.as_ref(), meta);
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
    }
    write_atomic(path, html.as_bytes())
        .with_context(|| format!("cannot write {}", path.display()))?;
    writeln!(
        out,
        "report: {} ({} patients{}, {:.0} KiB)",
        path.display(),
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

#[cfg(test)]
mod tests {
    use super::{is_html, parse_period};
    use std::path::Path;

    /// A Slurm array task's shard applies to a folder, not to a report file.
    #[test]
    fn an_html_output_is_a_whole_report() {
        assert!(is_html(Path::new("out/north.html")));
        assert!(is_html(Path::new("NORTH.HTM")));
        assert!(!is_html(Path::new("runs/report/shard-3")));
        assert!(!is_html(Path::new("report.html.d")));
    }

    #[test]
    fn a_period_is_two_days_in_order() {
        let d = |s: &str| chrono::NaiveDate::parse_from_str(s, "%Y-%m-%d").unwrap();
        assert_eq!(
            parse_period("2025-01-01..2025-03-31"),
            Ok((d("2025-01-01"), d("2025-03-31")))
        );
        assert_eq!(
            parse_period("2025-03-02..2025-01-06").unwrap_err(),
            "2025-03-02 is after 2025-01-06"
        );
        assert!(
            parse_period("2025-01-01")
                .unwrap_err()
                .contains("write FROM..TO")
        );
        assert!(
            parse_period("2025-01-01..March")
                .unwrap_err()
                .contains("'March'")
        );
    }
}
