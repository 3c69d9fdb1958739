//! Reading a data file (CSV or Parquet, detected by content) for the
//! `lumbar stats` commands, and pulling complete-case columns out of it as R
//! does by default (`na.action = na.omit`): a row with a missing value in any
//! column used is dropped and counted.
//!
//! Missing values are read as R, pandas and Excel write them: the tokens of
//! [`DEFAULT_NA`] (or the caller's list) become nulls when the file is read,
//! in every column and whatever its type, so a missing value is never a
//! number, a group, a level or a stratum.

use std::path::{Path, PathBuf};

use polars::prelude::*;

#[derive(Debug, thiserror::Error)]
pub enum DataError {
    #[error("cannot open {path}: {source}")]
    Open {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{path}: {source}")]
    Read { path: PathBuf, source: PolarsError },
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
    #[error("{path}: {place}, column '{column}': {value} is not a finite number")]
    NotFinite {
        path: PathBuf,
        place: String,
        column: String,
        value: f64,
    },
    #[error(
        "{path}: {place}, column '{column}': {value:e} is too large to fit \
         (its square overflows; magnitudes above 1e150 are refused)"
    )]
    TooLarge {
        path: PathBuf,
        place: String,
        column: String,
        value: f64,
    },
    #[error("{path}: {place}, column '{column}': {reason}")]
    Event {
        path: PathBuf,
        place: String,
        column: String,
        reason: String,
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

/// Where data row `row` (0-based, header excluded) is in the file, as a
/// person finds it: "line N" in a CSV (the header is line 1; a record is
/// assumed to hold no quoted newline), "row N" in Parquet.
pub fn place(path: &Path, row: usize) -> String {
    let mut magic = [0u8; 4];
    let parquet = std::fs::File::open(path)
        .and_then(|mut f| std::io::Read::read(&mut f, &mut magic))
        .map(|n| n == 4 && &magic == b"PAR1")
        .unwrap_or(false);
    if parquet {
        format!("row {}", row + 1)
    } else {
        format!("line {}", row + 2)
    }
}

/// Reads a whole CSV (any of `,` `;` tab) or Parquet file, with the default
/// missing-value tokens.
pub fn read_frame(path: &Path) -> Result<DataFrame, DataError> {
    read_frame_with(path, &default_na())
}

/// Reads a whole CSV or Parquet file; cells equal (after trimming blanks)
/// to one of `na` are null, and so are NaN doubles (R writes a missing
/// double as `NA` but computes NaN; both are missing to `na.omit`).
pub fn read_frame_with(path: &Path, na: &[String]) -> Result<DataFrame, DataError> {
    let df = read_raw(path, na)?;
    null_missing(df, na).map_err(|source| DataError::Read {
        path: path.into(),
        source,
    })
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

fn read_raw(path: &Path, na: &[String]) -> Result<DataFrame, DataError> {
    let mut magic = [0u8; 4];
    let mut f = std::fs::File::open(path).map_err(|source| DataError::Open {
        path: path.into(),
        source,
    })?;
    let is_parquet = std::io::Read::read(&mut f, &mut magic)
        .map(|n| n == 4 && &magic == b"PAR1")
        .unwrap_or(false);
    let err = |source| DataError::Read {
        path: path.into(),
        source,
    };
    if is_parquet {
        return ParquetReader::new(std::fs::File::open(path).map_err(|source| {
            DataError::Open {
                path: path.into(),
                source,
            }
        })?)
        .finish()
        .map_err(err);
    }
    let head = std::fs::read(path).map_err(|source| DataError::Open {
        path: path.into(),
        source,
    })?;
    let first = head.split(|&b| b == b'\n').next().unwrap_or(&[]);
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
        .try_into_reader_with_file_path(Some(path.to_path_buf()))
        .and_then(|r| r.finish())
        .map_err(err)
}

/// A column as f64 with nulls; booleans become 0/1 and `true`/`false` text too.
pub fn numeric(df: &DataFrame, path: &Path, name: &str) -> Result<Vec<Option<f64>>, DataError> {
    let col = column(df, path, name)?;
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
                    .map_err(|_| DataError::NotNumeric {
                        path: path.into(),
                        column: name.into(),
                        value: format!("{t}' at {}", place(path, row)),
                    }),
            })
            .collect();
    }
    let cast = col
        .cast(&DataType::Float64)
        .map_err(|source| DataError::Read {
            path: path.into(),
            source,
        })?;
    let ca = cast.f64().map_err(|source| DataError::Read {
        path: path.into(),
        source,
    })?;
    Ok(ca.iter().map(|v| v.filter(|x| !x.is_nan())).collect())
}

/// A column as text labels with nulls (numbers are formatted).
pub fn labels(df: &DataFrame, path: &Path, name: &str) -> Result<Vec<Option<String>>, DataError> {
    let col = column(df, path, name)?;
    let cast = col
        .cast(&DataType::String)
        .map_err(|source| DataError::Read {
            path: path.into(),
            source,
        })?;
    let ca = cast.str().map_err(|source| DataError::Read {
        path: path.into(),
        source,
    })?;
    Ok(ca
        .iter()
        .map(|v| v.filter(|s| !s.trim().is_empty()).map(str::to_string))
        .collect())
}

fn column<'a>(df: &'a DataFrame, path: &Path, name: &str) -> Result<&'a Column, DataError> {
    df.column(name).map_err(|_| DataError::NoColumn {
        path: path.into(),
        column: name.into(),
        found: df
            .get_column_names()
            .iter()
            .map(|c| c.as_str())
            .collect::<Vec<_>>()
            .join(", "),
    })
}

/// Indices of rows where every given column has a value.
pub fn complete_rows(
    columns: &[&[Option<f64>]],
    labels: &[&[Option<String>]],
    n: usize,
) -> Vec<usize> {
    (0..n)
        .filter(|&i| {
            columns.iter().all(|c| c[i].is_some()) && labels.iter().all(|c| c[i].is_some())
        })
        .collect()
}

/// The columns of a mixed-model fit, complete cases only; also returns how
/// many rows were dropped for a missing value.
pub fn lmm_data(
    df: &DataFrame,
    path: &Path,
    response: &str,
    time: &str,
    group: &str,
    covariates: &[String],
) -> Result<(crate::lmm::LmmData, usize), DataError> {
    let y = numeric(df, path, response)?;
    let t = numeric(df, path, time)?;
    let g = labels(df, path, group)?;
    let covs: Vec<Vec<Option<f64>>> = covariates
        .iter()
        .map(|c| numeric(df, path, c))
        .collect::<Result<_, _>>()?;
    let mut nums: Vec<&[Option<f64>]> = vec![&y, &t];
    nums.extend(covs.iter().map(|c| c.as_slice()));
    let keep = complete_rows(&nums, &[&g], df.height());
    let mut names = vec![response, time];
    names.extend(covariates.iter().map(String::as_str));
    for (c, name) in nums.iter().zip(names) {
        if let Some(&i) = keep.iter().find(|&&i| c[i].is_some_and(|v| !v.is_finite())) {
            return Err(DataError::NotFinite {
                path: path.into(),
                place: place(path, i),
                column: name.into(),
                value: c[i].unwrap_or(f64::NAN),
            });
        }
    }
    let pick = |c: &[Option<f64>]| {
        keep.iter()
            .map(|&i| c[i].unwrap_or(f64::NAN))
            .collect::<Vec<f64>>()
    };
    let data = crate::lmm::LmmData {
        response: pick(&y),
        time: pick(&t),
        group: keep
            .iter()
            .map(|&i| g[i].clone().unwrap_or_default())
            .collect(),
        covariates: covariates
            .iter()
            .cloned()
            .zip(covs.iter().map(|c| pick(c)))
            .collect(),
        time_name: time.to_string(),
    };
    Ok((data, df.height() - keep.len()))
}

/// How an event column was coded.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
pub enum EventCoding {
    /// 0 = censored, 1 = event (also `false`/`true`).
    #[serde(rename = "0/1")]
    ZeroOne,
    /// R's `Surv` coding: 1 = censored, 2 = event.
    #[serde(rename = "1/2")]
    OneTwo,
}

/// Event indicators from an event column, as R's `Surv(time, status)` reads
/// a numeric status: 0/1 (and `true`/`false`, read as 1/0), or 1/2 when the
/// largest value is 2 (1 = censored, 2 = event). A column of only 1s is all
/// events, as in `Surv`. Unlike `Surv`, which turns any other value into NA
/// with a warning, a value outside the coding (a 0 beside a 2, a 3, 0.5) is
/// an error naming its place. `kept[i]` is the file's data row of value i.
pub fn event_indicator(
    values: &[f64],
    kept: &[usize],
    path: &Path,
    column: &str,
) -> Result<(Vec<bool>, EventCoding), DataError> {
    let two = values.iter().position(|&v| v == 2.0);
    let coding = if two.is_some() {
        EventCoding::OneTwo
    } else {
        EventCoding::ZeroOne
    };
    let err = |i: usize, reason: String| DataError::Event {
        path: path.into(),
        place: place(path, kept.get(i).copied().unwrap_or(i)),
        column: column.into(),
        reason,
    };
    values
        .iter()
        .enumerate()
        .map(|(i, &v)| match (coding, v) {
            (EventCoding::ZeroOne, 0.0) | (EventCoding::OneTwo, 1.0) => Ok(false),
            (EventCoding::ZeroOne, 1.0) | (EventCoding::OneTwo, 2.0) => Ok(true),
            (EventCoding::OneTwo, 0.0) => Err(err(
                i,
                format!(
                    "0 in a column that also holds 2 (at {}): code events 0/1 or R's 1/2 \
                     (1 = censored, 2 = event), not both",
                    place(path, two.and_then(|t| kept.get(t).copied()).unwrap_or(0))
                ),
            )),
            _ => Err(err(
                i,
                format!(
                    "event value {v} is not 0/1, true/false or R's 1/2 (1 = censored, 2 = event)"
                ),
            )),
        })
        .collect::<Result<Vec<bool>, DataError>>()
        .map(|e| (e, coding))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn write(name: &str, text: &str) -> PathBuf {
        let dir = std::env::temp_dir().join(format!("lumbar-data-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let p = dir.join(name);
        std::fs::write(&p, text).unwrap();
        p
    }

    /// Every default token is missing, in a numeric and in a text column,
    /// and the numeric column stays numeric.
    #[test]
    fn r_pandas_and_excel_missing_values_are_null() {
        let p = write(
            "na.csv",
            "x,g\n1,a\nNA,NA\nNaN,NaN\nnan,nan\nNULL,NULL\nnull,null\n.,.\n,\n2.5,b\n",
        );
        let df = read_frame(&p).unwrap();
        let x = numeric(&df, &p, "x").unwrap();
        assert_eq!(x.iter().flatten().count(), 2, "{x:?}");
        assert_eq!(x[8], Some(2.5));
        let g = labels(&df, &p, "g").unwrap();
        let present: Vec<&str> = g.iter().flatten().map(String::as_str).collect();
        assert_eq!(present, ["a", "b"]);
        // With --na NA only, "." is a value: the column is text and "." is not a number.
        let df = read_frame_with(&p, &["NA".to_string()]).unwrap();
        let g = labels(&df, &p, "g").unwrap();
        assert!(g.iter().flatten().any(|v| v == "."));
        assert!(numeric(&df, &p, "x").is_err());
    }

    #[test]
    fn event_codings_as_surv_reads_them() {
        let p = PathBuf::from("f.csv");
        let kept = [0, 1, 2, 3];
        let (e, c) = event_indicator(&[1.0, 2.0, 2.0, 1.0], &kept, &p, "status").unwrap();
        assert_eq!(c, EventCoding::OneTwo);
        assert_eq!(e, [false, true, true, false]);
        let (e, c) = event_indicator(&[1.0, 1.0, 0.0, 1.0], &kept, &p, "status").unwrap();
        assert_eq!(c, EventCoding::ZeroOne);
        assert_eq!(e, [true, true, false, true]);
        let err = event_indicator(&[1.0, 2.0, 0.0, 1.0], &[0, 1, 5, 6], &p, "status")
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("line 7") && err.contains("also holds 2"),
            "{err}"
        );
        let err = event_indicator(&[1.0, 3.0], &kept, &p, "status")
            .unwrap_err()
            .to_string();
        assert!(err.contains("line 3") && err.contains("3 is not"), "{err}");
    }
}
