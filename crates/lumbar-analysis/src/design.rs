//! Model matrices from a data file, as R's `model.matrix` builds them for
//! the formulas lumbar fits: numeric columns as they are, categorical columns
//! as treatment contrasts (one 0/1 column per level but the reference,
//! named `COL[LEVEL]`), and complete cases only (R's default
//! `na.action = na.omit`), with the number of dropped rows.

use std::path::Path;

use polars::prelude::DataFrame;

use crate::data::{self, DataError};

/// A categorical covariate and, optionally, its reference level (otherwise
/// the first level in sorted order, as R orders a character column's levels).
#[derive(Debug, Clone, PartialEq)]
pub struct Categorical {
    pub column: String,
    pub reference: Option<String>,
}

impl Categorical {
    /// Parses `x` or `x:REF`.
    pub fn parse(spec: &str) -> Categorical {
        match spec.split_once(':') {
            Some((c, r)) => Categorical {
                column: c.trim().into(),
                reference: Some(r.trim().into()),
            },
            None => Categorical {
                column: spec.trim().into(),
                reference: None,
            },
        }
    }
}

/// Parses `x` / `x:REF` specs and returns them with the covariate list,
/// where a categorical column not already listed is added at the end.
pub fn covariates_with(
    covariates: &[String],
    categorical: &[String],
) -> (Vec<String>, Vec<Categorical>) {
    let cats: Vec<Categorical> = categorical.iter().map(|c| Categorical::parse(c)).collect();
    let mut all = covariates.to_vec();
    for c in &cats {
        if !all.contains(&c.column) {
            all.push(c.column.clone());
        }
    }
    (all, cats)
}

/// Columns of a design, complete cases only.
#[derive(Debug, Clone, Default)]
pub struct Design {
    /// Column names: covariates, or `COL[LEVEL]` for a categorical level.
    pub names: Vec<String>,
    /// Values by column, one per kept row.
    pub columns: Vec<Vec<f64>>,
    /// Extra per-row numeric variables (outcome, time, …), kept rows only.
    pub extra: Vec<Vec<f64>>,
    /// Per-row labels (strata, clusters), kept rows only.
    pub labels: Vec<Vec<String>>,
    /// Rows dropped for a missing value in a column used.
    pub dropped: usize,
    pub rows: usize,
    /// The file's 0-based data row of each kept row (for messages naming a row).
    pub kept: Vec<usize>,
}

/// Covariates larger than this are refused: their squares (in XᵀX, in the
/// Cox information) would overflow a double.
pub const MAX_COVARIATE: f64 = 1e150;

impl Design {
    /// Drops the kept rows `drop` says to, from every column, and counts
    /// them with the rows dropped for missing values (as R's `Surv` turns
    /// an empty interval into NA, which `na.omit` then drops).
    pub fn drop_rows(&mut self, drop: impl Fn(usize) -> bool) -> usize {
        let keep: Vec<usize> = (0..self.rows).filter(|&i| !drop(i)).collect();
        let gone = self.rows - keep.len();
        if gone == 0 {
            return 0;
        }
        let pick = |v: &Vec<f64>| keep.iter().map(|&i| v[i]).collect::<Vec<f64>>();
        self.columns = self.columns.iter().map(pick).collect();
        self.extra = self.extra.iter().map(pick).collect();
        self.labels = self
            .labels
            .iter()
            .map(|v| keep.iter().map(|&i| v[i].clone()).collect())
            .collect();
        self.kept = keep.iter().map(|&i| self.kept[i]).collect();
        self.rows = keep.len();
        self.dropped += gone;
        gone
    }
}

/// Orders levels as R would: numerically when all parse as numbers.
fn sort_levels(levels: &mut [String]) {
    if levels.iter().all(|l| l.parse::<f64>().is_ok()) {
        levels.sort_by(|a, b| {
            a.parse::<f64>()
                .unwrap_or(0.0)
                .total_cmp(&b.parse::<f64>().unwrap_or(0.0))
        });
    } else {
        levels.sort();
    }
}

/// Builds a design from a frame. `covariates` lists every covariate in
/// order; those also named in `categorical` are expanded into levels.
/// `extra` are numeric per-row variables (outcome, times) and `labels` text
/// ones (strata, clusters); all take part in the complete-case filter.
pub fn build(
    df: &DataFrame,
    path: &Path,
    covariates: &[String],
    categorical: &[Categorical],
    extra: &[&str],
    labels: &[&str],
) -> Result<Design, DataError> {
    let n = df.height();
    enum Col {
        Num(Vec<Option<f64>>),
        Cat(Vec<Option<String>>, Vec<String>, String),
    }
    let mut cols = Vec::with_capacity(covariates.len());
    for c in covariates {
        match categorical.iter().find(|k| &k.column == c) {
            Some(k) => {
                let v = data::labels(df, path, c)?;
                let mut levels: Vec<String> = v.iter().flatten().cloned().collect();
                levels.sort();
                levels.dedup();
                sort_levels(&mut levels);
                let reference = match &k.reference {
                    Some(r) if levels.contains(r) => r.clone(),
                    Some(r) => {
                        return Err(DataError::NotNumeric {
                            path: path.into(),
                            column: c.clone(),
                            value: format!(
                                "reference level '{r}' does not occur (levels: {})",
                                levels.join(", ")
                            ),
                        });
                    }
                    None => levels.first().cloned().unwrap_or_default(),
                };
                cols.push(Col::Cat(v, levels, reference));
            }
            None => cols.push(Col::Num(data::numeric(df, path, c)?)),
        }
    }
    let extras: Vec<Vec<Option<f64>>> = extra
        .iter()
        .map(|c| data::numeric(df, path, c))
        .collect::<Result<_, _>>()?;
    let labs: Vec<Vec<Option<String>>> = labels
        .iter()
        .map(|c| data::labels(df, path, c))
        .collect::<Result<_, _>>()?;
    let keep: Vec<usize> = (0..n)
        .filter(|&i| {
            cols.iter().all(|c| match c {
                Col::Num(v) => v[i].is_some(),
                Col::Cat(v, _, _) => v[i].is_some(),
            }) && extras.iter().all(|v| v[i].is_some())
                && labs.iter().all(|v| v[i].is_some())
        })
        .collect();
    // An infinite value is not missing (R keeps `Inf`, then coxph and glm
    // refuse it): name it rather than let it reach a fit as "collinear".
    let numeric_cols = cols
        .iter()
        .zip(covariates)
        .filter_map(|(c, name)| match c {
            Col::Num(v) => Some((v, name.as_str(), true)),
            Col::Cat(..) => None,
        })
        .chain(extras.iter().zip(extra).map(|(v, name)| (v, *name, false)));
    for (v, name, covariate) in numeric_cols {
        for &i in &keep {
            let x = v[i].unwrap_or(0.0);
            if !x.is_finite() {
                return Err(DataError::NotFinite {
                    path: path.into(),
                    place: data::place(path, i),
                    column: name.into(),
                    value: x,
                });
            }
            if covariate && x.abs() > MAX_COVARIATE {
                return Err(DataError::TooLarge {
                    path: path.into(),
                    place: data::place(path, i),
                    column: name.into(),
                    value: x,
                });
            }
        }
    }
    let mut d = Design {
        dropped: n - keep.len(),
        rows: keep.len(),
        kept: keep.clone(),
        ..Default::default()
    };
    for (c, name) in cols.iter().zip(covariates) {
        match c {
            Col::Num(v) => {
                d.names.push(name.clone());
                d.columns
                    .push(keep.iter().map(|&i| v[i].unwrap_or(f64::NAN)).collect());
            }
            Col::Cat(v, levels, reference) => {
                for l in levels.iter().filter(|l| *l != reference) {
                    d.names.push(format!("{name}[{l}]"));
                    d.columns.push(
                        keep.iter()
                            .map(|&i| {
                                if v[i].as_deref() == Some(l.as_str()) {
                                    1.0
                                } else {
                                    0.0
                                }
                            })
                            .collect(),
                    );
                }
            }
        }
    }
    d.extra = extras
        .iter()
        .map(|v| keep.iter().map(|&i| v[i].unwrap_or(f64::NAN)).collect())
        .collect();
    d.labels = labs
        .iter()
        .map(|v| {
            keep.iter()
                .map(|&i| v[i].clone().unwrap_or_default())
                .collect()
        })
        .collect();
    Ok(d)
}
