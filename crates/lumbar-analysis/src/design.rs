//! Model matrices from a data file: the frame-reading half of
//! [`lumbar_stats::design`], whose types and level order it re-exports so
//! `lumbar_analysis::design::*` paths keep working. Numeric columns as they
//! are, categorical columns as treatment contrasts (one 0/1 column per level
//! but the reference, named `COL[LEVEL]`), and complete cases only (R's
//! default `na.action = na.omit`), with the number of dropped rows.

use std::path::Path;

use polars::prelude::DataFrame;

pub use lumbar_stats::design::*;

use crate::data::{self, DataError};

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
