//! `lumbar stats …`: models on any CSV or Parquet file.

use std::io::Write;
use std::path::PathBuf;

use anyhow::Result;
use clap::Args;
use lumbar_io::Frame;
use lumbar_io::frame::default_na;

mod cox;
mod km;
mod lmm;
mod plot;
mod poisson;
mod summary;

pub use cox::{CoxArgs, cox};
pub use km::{KmArgs, km};
pub use lmm::{LmmArgs, lmm};
pub use plot::PlotArg;
pub use poisson::{PoissonArgs, poisson};

/// The cells a data file's reader takes as missing.
#[derive(Args, Debug, Clone, Default)]
pub struct NaArg {
    /// Cells read as missing, comma-separated, replacing the default list:
    /// NA, NaN, nan, NULL, null, . and the empty cell (R, pandas, Excel).
    #[arg(
        long,
        value_name = "TOKENS",
        value_delimiter = ',',
        allow_hyphen_values = true
    )]
    pub na: Option<Vec<String>>,
}

impl NaArg {
    pub fn tokens(&self) -> Vec<String> {
        self.na.clone().unwrap_or_else(default_na)
    }

    /// Reads a data file with these tokens as missing.
    pub fn read(&self, path: &std::path::Path) -> Result<Frame> {
        Ok(Frame::read_with(path, &self.tokens())?)
    }
}

/// The confidence level of the intervals (`--conf-level`, R's `conf.int`).
#[derive(Args, Debug, Clone)]
pub struct ConfLevel {
    /// Confidence level of the intervals, between 0 and 1 (R's conf.int).
    #[arg(long, value_name = "P", default_value_t = 0.95)]
    pub conf_level: f64,
}

impl ConfLevel {
    /// The level, checked.
    pub fn get(&self) -> Result<f64> {
        let l = self.conf_level;
        anyhow::ensure!(
            l > 0.0 && l < 1.0,
            "--conf-level {l}: give a level between 0 and 1, such as 0.95"
        );
        Ok(l)
    }

    /// The terms with their intervals at this level.
    pub fn apply(
        &self,
        terms: &[lumbar_stats::poisson::Coefficient],
    ) -> Vec<lumbar_stats::poisson::Coefficient> {
        terms
            .iter()
            .map(|t| t.at_level(self.conf_level).unwrap_or_else(|| t.clone()))
            .collect()
    }
}

/// `--bootstrap B [--seed S]`: the coefficients bootstrapped.
#[derive(Args, Debug, Clone)]
pub struct BootArg {
    /// Bootstrap the coefficients with B case resamples (of clusters or
    /// patients when the model has them): percentile and BCa intervals, as
    /// R's boot; the same numbers at any thread count.
    #[arg(long, value_name = "B")]
    pub bootstrap: Option<usize>,
    /// Seed of the bootstrap's resamples.
    #[arg(long, value_name = "S", default_value_t = 1, requires = "bootstrap")]
    pub seed: u64,
}

impl BootArg {
    /// The resampling asked for, at confidence `level`.
    pub fn spec(&self, level: f64) -> Option<lumbar_stats::bootstrap::BootstrapSpec> {
        self.bootstrap
            .map(|resamples| lumbar_stats::bootstrap::BootstrapSpec {
                resamples,
                seed: self.seed,
                level,
            })
    }
}

/// The data file's name as a summary's `data =` shows it (R shows the
/// data frame's name; here the file's stem).
pub fn data_name(path: &std::path::Path) -> String {
    path.file_stem().map_or_else(
        || path.display().to_string(),
        |s| s.to_string_lossy().into_owned(),
    )
}

/// Prints each warning on its own line, as R prints them after a fit.
pub fn print_warnings(warnings: &[String], out: &mut dyn Write) -> Result<()> {
    for w in warnings {
        writeln!(out, "warning: {w}")?;
    }
    Ok(())
}

/// A table of terms with ratio-scale estimates and 95% CIs.
pub fn print_terms(
    terms: &[lumbar_stats::poisson::Coefficient],
    ratio: &str,
    out: &mut dyn Write,
) -> Result<()> {
    writeln!(
        out,
        "{:<22} {:>10} {:>10} {:>8} {:>10} {:>8} {:>17}",
        "term", "estimate", "std.error", "z", "p", ratio, "95% CI"
    )?;
    for t in terms {
        writeln!(
            out,
            "{:<22} {:>10.5} {:>10.5} {:>8.3} {:>10.3e} {:>8.4} {:>8.4}–{:<8.4}",
            t.term,
            t.estimate,
            t.std_error,
            t.z,
            t.p_value,
            t.exp_estimate,
            t.conf_low,
            t.conf_high
        )?;
    }
    Ok(())
}

/// The columns every survival command reads.
#[derive(Args, Debug)]
pub struct SurvivalColumns {
    /// Data file (CSV or Parquet).
    #[arg(long, value_name = "F")]
    pub data: PathBuf,
    /// Follow-up (stop) time column.
    #[arg(long, value_name = "COL")]
    pub time: String,
    /// Event column: 0/1, true/false, or R's 1/2 (1 = censored, 2 = event);
    /// `--outcome` (as risk says) and `--status` (as R's Surv) are the same.
    #[arg(long, value_name = "COL", visible_aliases = ["outcome", "status"])]
    pub event: String,
    #[command(flatten)]
    pub na: NaArg,
}

use super::FileFormat;

/// Where a model's results go as files, beside what it prints.
#[derive(Args, Debug, Clone, Default)]
pub struct TableOut {
    /// Also write the results into this folder: the table (coefficients;
    /// for km, every step of every curve; for compare, the differences) as
    /// TABLE.csv and TABLE.parquet, and the whole result (what --json
    /// prints) as JSON (fit.json; comparison.json).
    #[arg(long, value_name = "DIR")]
    pub out: Option<PathBuf>,
    /// Only these of --out's files (repeat or separate by commas): csv,
    /// parquet, json.
    #[arg(long, value_enum, value_delimiter = ',', requires = "out")]
    pub format: Vec<FileFormat>,
}

impl TableOut {
    /// Writes the table `name` and `doc` as `DOC_NAME.json`, as asked, the
    /// folder in place at once.
    pub(super) fn write<T: serde::Serialize>(
        &self,
        name: &str,
        rows: &[T],
        doc_name: &str,
        doc: &serde_json::Value,
    ) -> Result<()> {
        self.write_with(name, rows, None, doc_name, doc)
    }

    /// As [`TableOut::write`], with the bootstrap's intervals as a second
    /// table (`bootstrap.csv` / `.parquet`) when there are any.
    pub(super) fn write_with<T: serde::Serialize>(
        &self,
        name: &str,
        rows: &[T],
        boot: Option<&lumbar_stats::bootstrap::Bootstrap>,
        doc_name: &str,
        doc: &serde_json::Value,
    ) -> Result<()> {
        let Some(dir) = &self.out else { return Ok(()) };
        let wants = |f| self.format.is_empty() || self.format.contains(&f);
        let staged = super::result_dir(dir)?;
        let formats = lumbar_io::output::Formats {
            parquet: wants(FileFormat::Parquet),
            csv: wants(FileFormat::Csv),
            // JSON is the whole result (fit.json), below.
            json: false,
        };
        if formats.parquet || formats.csv {
            let files = lumbar_io::output::TableFiles {
                formats,
                cells: lumbar_io::output::CsvCells::Escaped,
            };
            lumbar_io::output::write_rows_to(rows, staged.path(), name, files)?;
            if let Some(b) = boot {
                lumbar_io::output::write_rows_to(&b.terms, staged.path(), "bootstrap", files)?;
            }
        }
        if wants(FileFormat::Json) {
            lumbar_model::atomic::write_atomic(
                &staged.path().join(format!("{doc_name}.json")),
                serde_json::to_string_pretty(doc)?.as_bytes(),
            )?;
        }
        staged.commit()?;
        Ok(())
    }
}
