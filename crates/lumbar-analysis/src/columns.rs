//! Model inputs read by column name from any table ([`Columns`]: a user's
//! data file, a store's follow-up cohort): designs, mixed-model data and
//! event indicators, complete cases only as R does by default
//! (`na.action = na.omit`), with errors that name the table, the line and
//! the column. The numerics are lumbar-stats'; this module only finds the
//! columns and says where a bad value is.

use std::path::PathBuf;

use lumbar_model::{ColumnError, Columns};
use lumbar_stats::design::{self, Categorical, Covariate, Design, DesignError};
use lumbar_stats::survival::{self, EventCoding};

#[derive(Debug, thiserror::Error)]
pub enum DataError {
    #[error(transparent)]
    Column(#[from] ColumnError),
    #[error(
        "{path}: column '{column}': reference level '{reference}' does not occur (levels: {levels})"
    )]
    NoReference {
        path: PathBuf,
        column: String,
        reference: String,
        levels: String,
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
    #[error("{path}: {message}")]
    Design { path: PathBuf, message: String },
    #[error(transparent)]
    Formula(#[from] lumbar_stats::formula::FormulaError),
    #[error("{path}: {place}, column '{column}': {reason}")]
    Event {
        path: PathBuf,
        place: String,
        column: String,
        reason: String,
    },
}

impl DataError {
    pub(crate) fn from_design(e: DesignError, t: &dyn Columns) -> DataError {
        let path = t.source().to_path_buf();
        match e {
            DesignError::NoReference {
                column,
                reference,
                levels,
            } => DataError::NoReference {
                path,
                column,
                reference,
                levels,
            },
            DesignError::NotFinite { row, column, value } => DataError::NotFinite {
                path,
                place: t.place(row),
                column,
                value,
            },
            DesignError::TooLarge { row, column, value } => DataError::TooLarge {
                path,
                place: t.place(row),
                column,
                value,
            },
            DesignError::TooWide { .. } => DataError::Design {
                path,
                message: e.to_string(),
            },
        }
    }
}

/// Builds a design from a table. `covariates` lists every covariate in
/// order; those also named in `categorical` are expanded into levels.
/// `extra` are numeric per-row variables (outcome, times) and `labels` text
/// ones (strata, clusters), found in the design by name
/// ([`Design::variable`], [`Design::label`]); all take part in the
/// complete-case filter.
pub fn design(
    t: &dyn Columns,
    covariates: &[String],
    categorical: &[Categorical],
    extra: &[&str],
    labels: &[&str],
) -> Result<Design, DataError> {
    let covs = covariates
        .iter()
        .map(|c| {
            let values = match categorical.iter().find(|k| &k.column == c) {
                Some(k) => Covariate::Categorical {
                    values: t.labels(c)?,
                    reference: k.reference.clone(),
                },
                None => Covariate::Numeric(t.numbers(c)?),
            };
            Ok((c.clone(), values))
        })
        .collect::<Result<Vec<_>, ColumnError>>()?;
    let extras = extra
        .iter()
        .map(|c| Ok((c.to_string(), t.numbers(c)?)))
        .collect::<Result<Vec<_>, ColumnError>>()?;
    let labs = labels
        .iter()
        .map(|c| Ok((c.to_string(), t.labels(c)?)))
        .collect::<Result<Vec<_>, ColumnError>>()?;
    design::from_columns(t.height(), covs, extras, labs).map_err(|e| DataError::from_design(e, t))
}

/// The event indicators of extra variable `column` of a design built from
/// `t` (R's `Surv` codings, [`survival::event_indicator`]); a value outside
/// the coding is an error naming its place in the table.
pub fn events(
    t: &dyn Columns,
    d: &Design,
    column: &str,
) -> Result<(Vec<bool>, EventCoding), DataError> {
    let values = d.variable(column).unwrap_or(&[]);
    let place = |i: usize| t.place(d.kept.get(i).copied().unwrap_or(i));
    survival::event_indicator(values).map_err(|e| DataError::Event {
        path: t.source().to_path_buf(),
        place: place(e.row()),
        column: column.into(),
        reason: e.reason(place),
    })
}

/// The columns of a mixed-model fit, complete cases only; also returns how
/// many rows were dropped for a missing value.
pub fn lmm_data(
    t: &dyn Columns,
    response: &str,
    time: &str,
    group: &str,
    covariates: &[String],
) -> Result<(crate::lmm::LmmData, usize), DataError> {
    let y = t.numbers(response)?;
    let x = t.numbers(time)?;
    let g = t.labels(group)?;
    let covs: Vec<Vec<Option<f64>>> = covariates
        .iter()
        .map(|c| t.numbers(c))
        .collect::<Result<_, _>>()?;
    let mut nums: Vec<(&str, &[Option<f64>])> = vec![(response, &y), (time, &x)];
    nums.extend(
        covariates
            .iter()
            .map(String::as_str)
            .zip(covs.iter().map(Vec::as_slice)),
    );
    let keep: Vec<usize> = (0..t.height())
        .filter(|&i| nums.iter().all(|(_, c)| c[i].is_some()) && g[i].is_some())
        .collect();
    for (name, c) in &nums {
        if let Some(&i) = keep.iter().find(|&&i| c[i].is_some_and(|v| !v.is_finite())) {
            return Err(DataError::NotFinite {
                path: t.source().to_path_buf(),
                place: t.place(i),
                column: name.to_string(),
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
        time: pick(&x),
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
    Ok((data, t.height() - keep.len()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::Path;

    /// A table in memory, as a CSV file would give it.
    struct Csv {
        path: PathBuf,
        cols: Vec<(&'static str, Vec<Option<f64>>)>,
    }

    impl Columns for Csv {
        fn source(&self) -> &Path {
            &self.path
        }
        fn height(&self) -> usize {
            self.cols[0].1.len()
        }
        fn has(&self, name: &str) -> bool {
            self.cols.iter().any(|(n, _)| *n == name)
        }
        fn numbers(&self, name: &str) -> Result<Vec<Option<f64>>, ColumnError> {
            self.cols
                .iter()
                .find(|(n, _)| *n == name)
                .map(|(_, v)| v.clone())
                .ok_or_else(|| ColumnError::NoColumn {
                    path: self.path.clone(),
                    column: name.into(),
                    found: String::new(),
                })
        }
        fn labels(&self, name: &str) -> Result<Vec<Option<String>>, ColumnError> {
            Ok(self
                .numbers(name)?
                .into_iter()
                .map(|v| v.map(|x| x.to_string()))
                .collect())
        }
        fn place(&self, row: usize) -> String {
            format!("line {}", row + 2)
        }
    }

    #[test]
    fn event_errors_name_the_line_in_the_file() {
        let t = Csv {
            path: "f.csv".into(),
            cols: vec![
                (
                    "time",
                    vec![Some(1.0), None, Some(2.0), Some(3.0), Some(4.0)],
                ),
                (
                    "status",
                    vec![Some(1.0), Some(2.0), Some(2.0), Some(0.0), Some(1.0)],
                ),
            ],
        };
        let d = design(&t, &[], &[], &["time", "status"], &[]).unwrap();
        assert_eq!(d.dropped, 1);
        let err = events(&t, &d, "status").unwrap_err().to_string();
        // The 0 is data row 3 (line 5); the first kept 2 is data row 2 (line 4).
        assert!(
            err.starts_with(
                "f.csv: line 5, column 'status': 0 in a column that also holds 2 (at line 4)"
            ),
            "{err}"
        );
        let t = Csv {
            path: "f.csv".into(),
            cols: vec![("status", vec![Some(1.0), Some(3.0)])],
        };
        let d = design(&t, &[], &[], &["status"], &[]).unwrap();
        let err = events(&t, &d, "status").unwrap_err().to_string();
        assert!(err.contains("line 3") && err.contains("3 is not"), "{err}");
    }

    #[test]
    fn event_codings_as_surv_reads_them() {
        let (e, c) = survival::event_indicator(&[1.0, 2.0, 2.0, 1.0]).unwrap();
        assert_eq!(c, EventCoding::OneTwo);
        assert_eq!(e, [false, true, true, false]);
        let (e, c) = survival::event_indicator(&[1.0, 1.0, 0.0, 1.0]).unwrap();
        assert_eq!(c, EventCoding::ZeroOne);
        assert_eq!(e, [true, true, false, true]);
    }
}
