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
mod poisson;

pub use cox::{CoxArgs, cox};
pub use km::{KmArgs, km};
pub use lmm::{LmmArgs, lmm};
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
