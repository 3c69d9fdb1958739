//! Reading a data file (CSV or Parquet, detected by content) for the
//! `lumbar stats` commands, and pulling complete-case columns out of it as R
//! does by default (`na.action = na.omit`): a row with a missing value in any
//! column used is dropped and counted.

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
}

/// Reads a whole CSV (any of `,` `;` tab) or Parquet file.
pub fn read_frame(path: &Path) -> Result<DataFrame, DataError> {
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
    CsvReadOptions::default()
        .with_has_header(true)
        .with_infer_schema_length(None)
        .map_parse_options(|o| o.with_separator(sep))
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
            .map(|v| match v.map(str::trim) {
                None | Some("") => Ok(None),
                Some(t) if t.eq_ignore_ascii_case("true") => Ok(Some(1.0)),
                Some(t) if t.eq_ignore_ascii_case("false") => Ok(Some(0.0)),
                Some(t) if t.eq_ignore_ascii_case("na") => Ok(None),
                Some(t) => t
                    .parse::<f64>()
                    .map(Some)
                    .map_err(|_| DataError::NotNumeric {
                        path: path.into(),
                        column: name.into(),
                        value: t.into(),
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
