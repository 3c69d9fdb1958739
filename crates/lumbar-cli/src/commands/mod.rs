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

/// Starts a result folder that replaces `dir` whole once the command has
/// succeeded (a failure leaves the previous results as they were).
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

pub(crate) fn result_dir(dir: &Path) -> Result<StagedDir> {
    StagedDir::begin(dir).with_context(|| format!("cannot write results into {}", dir.display()))
}
