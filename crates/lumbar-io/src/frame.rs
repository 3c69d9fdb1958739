//! A user's data file read whole, by column name: the CSV (any of `,` `;`
//! tab) or Parquet file that `lumbar stats`, `risk --data` and a
//! prescriptions file are read from, detected by content. [`Frame`]
//! implements [`lumbar_model::Columns`], so the analyses that read it never
//! see polars.
//!
//! Missing values are read as R, pandas and Excel write them: the tokens of
//! [`DEFAULT_NA`] (or the caller's list) become nulls when the file is read,
//! in every column and whatever its type, so a missing value is never a
//! number, a group, a level or a stratum.

use std::io::Read;
use std::path::{Path, PathBuf};

use lumbar_model::{ColumnError, Columns};
use polars::prelude::*;

/// Why a data file could not be read.
///
/// The cause is part of the message, not an error `source`, so the CLI,
/// which prints a chain of sources, says it once.
#[derive(Debug, thiserror::Error)]
pub enum FrameError {
    #[error("cannot open {path}: {error}")]
    Open {
        path: PathBuf,
        error: std::io::Error,
    },
    #[error("{path}: {error}")]
    Read { path: PathBuf, error: PolarsError },
    /// A CSV that cannot be read as a table, with the place of the first
    /// fault (a row of another width, text that is not UTF-8, a quote never
    /// closed).
    #[error("{path}: {place}: {problem}")]
    Csv {
        path: PathBuf,
        place: String,
        problem: String,
    },
}

/// Cells read as missing unless `--na` says otherwise: R's `NA` (and `NaN`
/// for a double), pandas' `nan`/`NaN`, SQL's and JSON's `NULL`/`null`,
/// SAS/Stata's `.`, and the empty cell Excel and `write.csv(na = "")` write.
pub const DEFAULT_NA: &[&str] = &["NA", "NaN", "nan", "NULL", "null", ".", ""];

/// The default missing-value tokens as owned strings.
pub fn default_na() -> Vec<String> {
    DEFAULT_NA.iter().map(|s| s.to_string()).collect()
}

/// A whole data file in memory.
pub struct Frame {
    df: DataFrame,
    path: PathBuf,
    parquet: bool,
}

impl Frame {
    /// Reads a whole CSV or Parquet file with the default missing-value
    /// tokens.
    pub fn read(path: &Path) -> Result<Frame, FrameError> {
        Frame::read_with(path, &default_na())
    }

    /// Reads a whole CSV or Parquet file; cells equal (after trimming
    /// blanks) to one of `na` are null, and so are NaN doubles (R writes a
    /// missing double as `NA` but computes NaN; both are missing to
    /// `na.omit`). The file is opened once.
    pub fn read_with(path: &Path, na: &[String]) -> Result<Frame, FrameError> {
        let open_err = |error| FrameError::Open {
            path: path.into(),
            error,
        };
        let read_err = |error| FrameError::Read {
            path: path.into(),
            error,
        };
        let mut bytes = Vec::new();
        std::fs::File::open(path)
            .and_then(|mut f| f.read_to_end(&mut bytes))
            .map_err(open_err)?;
        let parquet = bytes.starts_with(b"PAR1");
        let df = if parquet {
            ParquetReader::new(std::io::Cursor::new(bytes))
                .finish()
                .map_err(read_err)?
        } else {
            match read_csv(&bytes, na) {
                Ok(df) => df,
                // polars says what went wrong in its own words (and may
                // quote the rest of the file): find the first fault
                // ourselves, by line, as ingest names it.
                Err(e) => {
                    return Err(match csv_fault(&bytes) {
                        Some((place, problem)) => FrameError::Csv {
                            path: path.into(),
                            place,
                            problem,
                        },
                        None => read_err(e),
                    });
                }
            }
        };
        let df = null_missing(df, na).map_err(read_err)?;
        Ok(Frame {
            df,
            path: path.into(),
            parquet,
        })
    }

    /// A table already in memory (a store's, with derived columns), named
    /// `source` in messages; its rows are "row N".
    pub fn from_table(df: DataFrame, source: &Path) -> Frame {
        Frame {
            df,
            path: source.into(),
            parquet: true,
        }
    }

    fn column(&self, name: &str) -> Result<&Column, ColumnError> {
        self.df.column(name).map_err(|_| ColumnError::NoColumn {
            path: self.path.clone(),
            column: name.into(),
            found: self
                .df
                .get_column_names()
                .iter()
                .map(|c| c.as_str())
                .collect::<Vec<_>>()
                .join(", "),
        })
    }

    fn polars_err(&self, source: PolarsError) -> ColumnError {
        ColumnError::Read {
            path: self.path.clone(),
            message: source.to_string(),
        }
    }
}

impl Columns for Frame {
    fn source(&self) -> &Path {
        &self.path
    }

    fn height(&self) -> usize {
        self.df.height()
    }

    fn has(&self, name: &str) -> bool {
        self.df.column(name).is_ok()
    }

    /// Booleans become 0/1 and `true`/`false` text too.
    fn numbers(&self, name: &str) -> Result<Vec<Option<f64>>, ColumnError> {
        let col = self.column(name)?;
        if let Ok(s) = col.str() {
            return s
                .iter()
                .enumerate()
                .map(|(row, v)| match v.map(str::trim) {
                    None | Some("") => Ok(None),
                    Some(t) if t.eq_ignore_ascii_case("true") => Ok(Some(1.0)),
                    Some(t) if t.eq_ignore_ascii_case("false") => Ok(Some(0.0)),
                    // A NaN cannot enter any sum: missing, whatever `--na` lists.
                    Some(t) => t
                        .parse::<f64>()
                        .map(|x| (!x.is_nan()).then_some(x))
                        .map_err(|_| ColumnError::NotNumeric {
                            path: self.path.clone(),
                            column: name.into(),
                            value: format!("{t}' at {}", self.place(row)),
                        }),
                })
                .collect();
        }
        let cast = col
            .cast(&DataType::Float64)
            .map_err(|e| self.polars_err(e))?;
        let ca = cast.f64().map_err(|e| self.polars_err(e))?;
        Ok(ca.iter().map(|v| v.filter(|x| !x.is_nan())).collect())
    }

    /// Numbers are formatted as polars casts them to text.
    fn labels(&self, name: &str) -> Result<Vec<Option<String>>, ColumnError> {
        let col = self.column(name)?;
        let cast = col
            .cast(&DataType::String)
            .map_err(|e| self.polars_err(e))?;
        let ca = cast.str().map_err(|e| self.polars_err(e))?;
        Ok(ca
            .iter()
            .map(|v| v.filter(|s| !s.trim().is_empty()).map(str::to_string))
            .collect())
    }

    /// "line N" in a CSV (the header is line 1; a record is assumed to hold
    /// no quoted newline), "row N" in Parquet.
    fn place(&self, row: usize) -> String {
        if self.parquet {
            format!("row {}", row + 1)
        } else {
            format!("line {}", row + 2)
        }
    }
}

/// Nulls the missing-value tokens of text columns (a Parquet file's, or a
/// CSV column polars kept as text, where a token may carry blanks) and the
/// NaNs of float columns.
fn null_missing(mut df: DataFrame, na: &[String]) -> PolarsResult<DataFrame> {
    let names: Vec<PlSmallStr> = df.get_column_names().into_iter().cloned().collect();
    for name in names {
        let col = df.column(&name)?;
        let replaced: Option<Series> = match col.dtype() {
            DataType::String => {
                let ca = col.str()?;
                let hit = |v: &str| na.iter().any(|t| t == v.trim());
                ca.iter().any(|v| v.is_some_and(hit)).then(|| {
                    Series::new(
                        name.clone(),
                        ca.iter()
                            .map(|v| v.filter(|v| !hit(v)))
                            .collect::<Vec<Option<&str>>>(),
                    )
                })
            }
            DataType::Float64 | DataType::Float32 => {
                let cast = col.cast(&DataType::Float64)?;
                let ca = cast.f64()?;
                ca.iter().any(|v| v.is_some_and(f64::is_nan)).then(|| {
                    Series::new(
                        name.clone(),
                        ca.iter()
                            .map(|v| v.filter(|x| !x.is_nan()))
                            .collect::<Vec<Option<f64>>>(),
                    )
                })
            }
            _ => None,
        };
        if let Some(s) = replaced {
            df.with_column(s.into_column())?;
        }
    }
    Ok(df)
}

/// A CSV whose separator is the one of `,` `;` tab its header holds most.
/// The first fault of a CSV that polars could not read: its place ("line
/// N") and what is wrong, from the csv crate's strict reading (records of
/// one width, UTF-8 text); `None` when it finds none.
fn csv_fault(bytes: &[u8]) -> Option<(String, String)> {
    let first = bytes.split(|&b| b == b'\n').next().unwrap_or(&[]);
    let count = |c: u8| first.iter().filter(|&&b| b == c).count();
    let sep = [b',', b';', b'\t']
        .into_iter()
        .max_by_key(|&c| count(c))
        .unwrap_or(b',');
    let mut reader = csv::ReaderBuilder::new()
        .delimiter(sep)
        .has_headers(false)
        .from_reader(bytes);
    let mut width = None;
    let mut record = csv::StringRecord::new();
    loop {
        match reader.read_record(&mut record) {
            Ok(false) => break,
            Ok(true) => {
                let line = record.position().map_or(0, csv::Position::line);
                let w = *width.get_or_insert(record.len());
                if record.len() != w {
                    return Some((
                        format!("line {line}"),
                        format!("a row of {} fields where the header has {w}", record.len()),
                    ));
                }
            }
            Err(e) => {
                let line = e.position().map_or(0, csv::Position::line);
                let problem = match e.kind() {
                    csv::ErrorKind::Utf8 { err, .. } => {
                        format!("column {} holds text that is not UTF-8", err.field() + 1)
                    }
                    csv::ErrorKind::UnequalLengths {
                        expected_len, len, ..
                    } => format!("a row of {len} fields where the header has {expected_len}"),
                    _ => e
                        .to_string()
                        .lines()
                        .next()
                        .unwrap_or("")
                        .chars()
                        .take(200)
                        .collect(),
                };
                return Some((format!("line {line}"), problem));
            }
        }
    }
    // A quote opened and never closed runs to the end of the file.
    let quotes = bytes.iter().filter(|&&b| b == b'"').count();
    if quotes % 2 == 1 {
        let at = bytes.iter().rposition(|&b| b == b'"').unwrap_or(0);
        let line = bytes[..at].iter().filter(|&&b| b == b'\n').count() + 1;
        return Some((
            format!("line {line}"),
            "a quote that is never closed".into(),
        ));
    }
    None
}

fn read_csv(bytes: &[u8], na: &[String]) -> PolarsResult<DataFrame> {
    let first = bytes.split(|&b| b == b'\n').next().unwrap_or(&[]);
    let count = |c: u8| first.iter().filter(|&&b| b == c).count();
    let sep = [b',', b';', b'\t']
        .into_iter()
        .max_by_key(|&c| count(c))
        .unwrap_or(b',');
    // The tokens are nulls while polars infers the types, so a numeric
    // column with `NA` cells is read as numbers.
    let tokens: Vec<PlSmallStr> = na
        .iter()
        .filter(|t| !t.is_empty())
        .map(|t| PlSmallStr::from(t.as_str()))
        .collect();
    CsvReadOptions::default()
        .with_has_header(true)
        .with_infer_schema_length(None)
        .map_parse_options(|o| {
            o.with_separator(sep)
                .with_missing_is_null(true)
                .with_null_values(
                    (!tokens.is_empty()).then(|| NullValues::AllColumns(tokens.clone())),
                )
        })
        .into_reader_with_file_handle(std::io::Cursor::new(bytes))
        .finish()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn write(name: &str, text: &str) -> PathBuf {
        let dir = std::env::temp_dir().join(format!("lumbar-frame-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let p = dir.join(name);
        std::fs::write(&p, text).unwrap();
        p
    }

    /// A CSV polars cannot read is named by line and what is wrong, not in
    /// polars' words (nor by quoting the rest of the file).
    #[test]
    fn a_broken_csv_is_named_by_its_line() {
        let err = |name: &str, bytes: &[u8]| {
            let dir = std::env::temp_dir().join(format!("lumbar-frame-{}", std::process::id()));
            std::fs::create_dir_all(&dir).unwrap();
            let p = dir.join(name);
            std::fs::write(&p, bytes).unwrap();
            Frame::read(&p)
                .err()
                .map(|e| e.to_string())
                .unwrap_or_default()
        };
        let e = err("ragged.csv", b"t,s,x\n1,1,2\n2,0,1,5,6\n3,1,1\n");
        assert!(
            e.ends_with("ragged.csv: line 3: a row of 5 fields where the header has 3"),
            "{e}"
        );
        let e = err("utf.csv", b"t,s,x\n1,1,2\n2,0,\xff\n");
        assert!(
            e.ends_with("utf.csv: line 3: column 3 holds text that is not UTF-8"),
            "{e}"
        );
        let e = err("quote.csv", b"t,s,x\n1,1,2\n2,0,\"1\n3,1,1\n4,1,1\n");
        assert!(
            e.ends_with("quote.csv: line 3: a quote that is never closed"),
            "{e}"
        );
    }

    /// Every default token is missing, in a numeric and in a text column,
    /// and the numeric column stays numeric.
    #[test]
    fn r_pandas_and_excel_missing_values_are_null() {
        let p = write(
            "na.csv",
            "x,g\n1,a\nNA,NA\nNaN,NaN\nnan,nan\nNULL,NULL\nnull,null\n.,.\n,\n2.5,b\n",
        );
        let f = Frame::read(&p).unwrap();
        let x = f.numbers("x").unwrap();
        assert_eq!(x.iter().flatten().count(), 2, "{x:?}");
        assert_eq!(x[8], Some(2.5));
        let g = f.labels("g").unwrap();
        let present: Vec<&str> = g.iter().flatten().map(String::as_str).collect();
        assert_eq!(present, ["a", "b"]);
        // With --na NA only, "." is a value: the column is text and "." is not a number.
        let f = Frame::read_with(&p, &["NA".to_string()]).unwrap();
        let g = f.labels("g").unwrap();
        assert!(g.iter().flatten().any(|v| v == "."));
        let err = f.numbers("x").unwrap_err().to_string();
        // NaN and nan parse as (missing) numbers; NULL is the first that does not.
        assert!(err.contains("'NULL' at line 6"), "{err}");
    }

    /// The cause is said once: in the message, not again as a source the
    /// CLI would print after it.
    #[test]
    fn a_missing_file_is_named_once() {
        let e = Frame::read(Path::new("/nonexistent/lumbar.csv"))
            .err()
            .unwrap();
        assert!(std::error::Error::source(&e).is_none());
        let text = e.to_string();
        assert!(
            text.starts_with("cannot open /nonexistent/lumbar.csv: "),
            "{text}"
        );
        assert_eq!(text.matches("os error").count(), 1, "{text}");
    }

    /// A semicolon file is read by its header's separator; a missing column
    /// names the columns there are.
    #[test]
    fn separator_from_the_header_and_missing_columns_named() {
        let p = write("semi.csv", "a;b\n1;x\n2;y\n");
        let f = Frame::read(&p).unwrap();
        assert_eq!(f.height(), 2);
        assert_eq!(f.numbers("a").unwrap(), [Some(1.0), Some(2.0)]);
        assert_eq!(f.place(0), "line 2");
        let err = f.numbers("c").unwrap_err().to_string();
        assert!(err.ends_with("no column 'c' (columns: a, b)"), "{err}");
    }
}
