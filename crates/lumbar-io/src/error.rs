//! The error of a file that cannot be ingested or a store that cannot be
//! read (a row-level problem is a reject, not an error). Every variant names
//! the file; messages name settings, never a front end's flags.

use std::path::{Path, PathBuf};

/// A file that cannot be ingested at all (a row-level problem is a reject,
/// not an error).
#[derive(Debug, thiserror::Error)]
pub enum IngestError {
    #[error("cannot open {path}: {source}")]
    Open {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{path}: {problem}")]
    Header { path: PathBuf, problem: String },
    #[error("{path}, line {line}: {problem}")]
    Read {
        path: PathBuf,
        line: u64,
        problem: String,
    },
    #[error("{path}: {source}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{path}: {problem}")]
    Store { path: PathBuf, problem: String },
    #[error("{path}: {source}")]
    Polars {
        path: PathBuf,
        source: polars::error::PolarsError,
    },
}

impl IngestError {
    pub fn io(path: &Path, source: std::io::Error) -> Self {
        IngestError::Io {
            path: path.to_path_buf(),
            source,
        }
    }
    pub fn polars(path: &Path, source: polars::error::PolarsError) -> Self {
        IngestError::Polars {
            path: path.to_path_buf(),
            source,
        }
    }

    /// The same error naming `shown` where it named `read` (a stream's
    /// spooled copy is reported as the stream the user gave).
    pub(crate) fn shown_as(mut self, read: &Path, shown: &Path) -> Self {
        let (IngestError::Open { path, .. }
        | IngestError::Header { path, .. }
        | IngestError::Read { path, .. }
        | IngestError::Io { path, .. }
        | IngestError::Store { path, .. }
        | IngestError::Polars { path, .. }) = &mut self;
        if path == read {
            *path = shown.to_path_buf();
        }
        self
    }
}
