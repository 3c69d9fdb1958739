//! One module per subcommand: its argument struct, the one library request
//! it makes, and its rendering.

use std::path::Path;

use anyhow::{Context, Result};
use lumbar_model::atomic::StagedDir;

pub mod analyze;
pub mod batch;
pub mod calibrate;
mod cohort_tables;
pub mod compare;
mod generate;
mod ingest;
pub mod replay;
pub mod report;
pub mod risk;
mod shard;
mod sim_io;
pub mod simulate;
pub mod stats;
pub mod store;
pub mod tables;

pub use generate::{GenerateArgs, generate};
pub use ingest::{FormatArg, IngestArgs, IngestCheckArgs, ingest};

/// The files a result table can be written as.
#[derive(clap::ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum FileFormat {
    Csv,
    Parquet,
    Json,
}

/// Parquet alone: the default of the simulator's, calibration's and
/// replay's tables (each has its JSON document beside it).
pub const PARQUET_ONLY: lumbar_io::output::Formats = lumbar_io::output::Formats {
    parquet: true,
    csv: false,
    json: false,
};

/// `--format csv,parquet,json` of the commands that write result tables
/// into a folder (analyze, risk, store rejects; simulate, calibrate and
/// replay, whose default is Parquet alone).
#[derive(clap::Args, Debug, Clone, Default)]
pub struct TableFormatArg {
    /// Write each result table as these files (repeat or separate by
    /// commas): parquet, csv, json (JSON lines, TABLE.ndjson). Default:
    /// parquet and csv.
    #[arg(long = "format", value_enum, value_delimiter = ',', value_name = "FMT")]
    pub format: Vec<FileFormat>,
}

impl TableFormatArg {
    /// The formats asked for, or the default (Parquet and CSV).
    pub fn formats(&self) -> lumbar_io::output::Formats {
        self.formats_or(Default::default())
    }

    /// The formats asked for, or `default`: the simulator's, calibration's
    /// and replay's tables are Parquet alone unless asked.
    pub fn formats_or(&self, default: lumbar_io::output::Formats) -> lumbar_io::output::Formats {
        if self.format.is_empty() {
            return default;
        }
        lumbar_io::output::Formats {
            parquet: self.format.contains(&FileFormat::Parquet),
            csv: self.format.contains(&FileFormat::Csv),
            json: self.format.contains(&FileFormat::Json),
        }
    }
}

/// Runs `work` on a pool of `threads` workers, or on rayon's global pool
/// (all cores) when none is asked for.
pub(crate) fn on_threads<T: Send>(
    threads: Option<usize>,
    work: impl FnOnce() -> Result<T> + Send,
) -> Result<T> {
    match threads {
        Some(t) => rayon::ThreadPoolBuilder::new()
            .num_threads(t.max(1))
            .build()?
            .install(work),
        None => work(),
    }
}

/// Starts a result folder that replaces `dir` whole once the command has
/// succeeded (a failure leaves the previous results as they were).
pub(crate) fn result_dir(dir: &Path) -> Result<StagedDir> {
    StagedDir::begin(dir).with_context(|| format!("cannot write results into {}", dir.display()))
}
