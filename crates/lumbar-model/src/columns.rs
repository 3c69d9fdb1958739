//! A table read by column name: how an analysis reads a user's data file
//! (`lumbar stats`, `risk --data`, a prescriptions file) or a store's
//! follow-up table without knowing its format. lumbar-io's `Frame`
//! implements it over CSV and Parquet; an analysis that adds derived
//! columns (the walking exposure of a follow-up cohort) implements it over
//! another table.

use std::path::{Path, PathBuf};

/// Why a column could not be read.
#[derive(Debug, Clone, thiserror::Error)]
pub enum ColumnError {
    #[error("{path}: no column '{column}' (columns: {found})")]
    NoColumn {
        path: PathBuf,
        column: String,
        found: String,
    },
    #[error("{path}: column '{column}' is not numeric (first value that is not: '{value}')")]
    NotNumeric {
        path: PathBuf,
        column: String,
        value: String,
    },
    /// The table's own reader failed on this column (the message names it).
    #[error("{path}: {message}")]
    Read { path: PathBuf, message: String },
}

/// Named columns of equal length, each read as numbers or as labels.
///
/// Missing cells are `None` in both readings. `numbers` reads booleans and
/// the text `true`/`false` as 1/0 and never returns NaN (a NaN is missing);
/// `labels` formats numbers as the table's reader does and treats a blank
/// cell as missing.
pub trait Columns {
    /// The file (or table) the columns come from, for messages.
    fn source(&self) -> &Path;
    /// The number of data rows.
    fn height(&self) -> usize;
    /// Whether the table has this column.
    fn has(&self, name: &str) -> bool;
    /// A column as numbers.
    fn numbers(&self, name: &str) -> Result<Vec<Option<f64>>, ColumnError>;
    /// A column as text labels.
    fn labels(&self, name: &str) -> Result<Vec<Option<String>>, ColumnError>;
    /// Where data row `row` (0-based) is, as a person finds it in the
    /// source: "line 12" in a CSV, "row 11" in Parquet.
    fn place(&self, row: usize) -> String;
}
