//! Model matrices, as R's `model.matrix` builds them for
//! the formulas lumbar fits: numeric columns as they are, categorical columns
//! as treatment contrasts (one 0/1 column per level but the reference,
//! named `COL[LEVEL]`), and complete cases only (R's default
//! `na.action = na.omit`), with the number of dropped rows.

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
    /// The names of `extra`, in order.
    pub extra_names: Vec<String>,
    /// The names of `labels`, in order.
    pub label_names: Vec<String>,
}

/// A covariate's values as read from a table (`None`: missing), before
/// the design expands it.
#[derive(Debug, Clone)]
pub enum Covariate {
    Numeric(Vec<Option<f64>>),
    /// Expanded into treatment contrasts against `reference` (default: the
    /// first level in R's order, [`sort_levels`]).
    Categorical {
        values: Vec<Option<String>>,
        reference: Option<String>,
    },
}

/// Why a design cannot be built. `row` is the table's 0-based data row.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum DesignError {
    #[error("column '{column}': reference level '{reference}' does not occur (levels: {levels})")]
    NoReference {
        column: String,
        reference: String,
        levels: String,
    },
    #[error("row {row}, column '{column}': {value} is not a finite number")]
    NotFinite {
        row: usize,
        column: String,
        value: f64,
    },
    #[error(
        "row {row}, column '{column}': {value:e} is too large to fit \
         (its square overflows; magnitudes above 1e150 are refused)"
    )]
    TooLarge {
        row: usize,
        column: String,
        value: f64,
    },
}

/// Builds a design from named columns of `rows` rows: `covariates` in
/// order (numeric as they are, categorical as treatment contrasts named
/// `COL[LEVEL]`), `extra` numeric per-row variables (outcome, times) and
/// `labels` text ones (strata, clusters). A row missing any of them is
/// dropped and counted (R's `na.omit`); an infinite value of a kept row is
/// an error (R keeps `Inf`, then coxph and glm refuse it), and so is a
/// covariate above [`MAX_COVARIATE`].
pub fn from_columns(
    rows: usize,
    covariates: Vec<(String, Covariate)>,
    extra: Vec<(String, Vec<Option<f64>>)>,
    labels: Vec<(String, Vec<Option<String>>)>,
) -> Result<Design, DesignError> {
    // The contrast levels (all but the reference) of each covariate, in
    // R's order; none for a numeric one.
    let mut contrasts: Vec<Vec<String>> = Vec::with_capacity(covariates.len());
    for (name, c) in &covariates {
        match c {
            Covariate::Numeric(_) => contrasts.push(Vec::new()),
            Covariate::Categorical { values, reference } => {
                let mut levels: Vec<String> = values.iter().flatten().cloned().collect();
                levels.sort();
                levels.dedup();
                sort_levels(&mut levels);
                let reference = match reference {
                    Some(r) if levels.contains(r) => r.clone(),
                    Some(r) => {
                        return Err(DesignError::NoReference {
                            column: name.clone(),
                            reference: r.clone(),
                            levels: levels.join(", "),
                        });
                    }
                    None => levels.first().cloned().unwrap_or_default(),
                };
                levels.retain(|l| *l != reference);
                contrasts.push(levels);
            }
        }
    }
    let present = |c: &Covariate, i: usize| match c {
        Covariate::Numeric(v) => v[i].is_some(),
        Covariate::Categorical { values, .. } => values[i].is_some(),
    };
    let keep: Vec<usize> = (0..rows)
        .filter(|&i| {
            covariates.iter().all(|(_, c)| present(c, i))
                && extra.iter().all(|(_, v)| v[i].is_some())
                && labels.iter().all(|(_, v)| v[i].is_some())
        })
        .collect();
    let numeric = covariates
        .iter()
        .filter_map(|(name, c)| match c {
            Covariate::Numeric(v) => Some((v, name, true)),
            Covariate::Categorical { .. } => None,
        })
        .chain(extra.iter().map(|(name, v)| (v, name, false)));
    for (v, name, covariate) in numeric {
        for &i in &keep {
            let x = v[i].unwrap_or(0.0);
            if !x.is_finite() {
                return Err(DesignError::NotFinite {
                    row: i,
                    column: name.clone(),
                    value: x,
                });
            }
            if covariate && x.abs() > MAX_COVARIATE {
                return Err(DesignError::TooLarge {
                    row: i,
                    column: name.clone(),
                    value: x,
                });
            }
        }
    }
    let mut d = Design {
        dropped: rows - keep.len(),
        rows: keep.len(),
        ..Default::default()
    };
    for ((name, c), levels) in covariates.iter().zip(&contrasts) {
        match c {
            Covariate::Categorical { values, .. } => {
                for level in levels {
                    d.names.push(format!("{name}[{level}]"));
                    d.columns.push(
                        keep.iter()
                            .map(|&i| f64::from(u8::from(values[i].as_deref() == Some(level))))
                            .collect(),
                    );
                }
            }
            Covariate::Numeric(v) => {
                d.names.push(name.clone());
                d.columns
                    .push(keep.iter().map(|&i| v[i].unwrap_or(f64::NAN)).collect());
            }
        }
    }
    for (name, v) in &extra {
        d.extra_names.push(name.clone());
        d.extra
            .push(keep.iter().map(|&i| v[i].unwrap_or(f64::NAN)).collect());
    }
    for (name, v) in &labels {
        d.label_names.push(name.clone());
        d.labels.push(
            keep.iter()
                .map(|&i| v[i].clone().unwrap_or_default())
                .collect(),
        );
    }
    d.kept = keep;
    Ok(d)
}

/// Covariates larger than this are refused: their squares (in XᵀX, in the
/// Cox information) would overflow a double.
pub const MAX_COVARIATE: f64 = 1e150;

impl Design {
    /// The kept rows of extra variable `name`.
    pub fn variable(&self, name: &str) -> Option<&[f64]> {
        let i = self.extra_names.iter().position(|n| n == name)?;
        self.extra.get(i).map(Vec::as_slice)
    }

    /// The kept rows of label variable `name`.
    pub fn label(&self, name: &str) -> Option<&[String]> {
        let i = self.label_names.iter().position(|n| n == name)?;
        self.labels.get(i).map(Vec::as_slice)
    }

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
pub fn sort_levels(levels: &mut [String]) {
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

#[cfg(test)]
mod tests {
    use super::*;

    /// Treatment contrasts against the first level in R's order, complete
    /// cases only, named extras; an infinite kept value names its row.
    #[test]
    fn contrasts_complete_cases_and_named_variables() {
        let d = from_columns(
            4,
            vec![
                (
                    "age".into(),
                    Covariate::Numeric(vec![Some(50.0), None, Some(60.0), Some(70.0)]),
                ),
                (
                    "ecog".into(),
                    Covariate::Categorical {
                        values: ["2", "1", "10", "1"].map(|s| Some(s.to_string())).to_vec(),
                        reference: None,
                    },
                ),
            ],
            vec![(
                "time".into(),
                vec![Some(1.0), Some(2.0), Some(3.0), Some(4.0)],
            )],
            vec![],
        )
        .unwrap();
        assert_eq!(d.names, ["age", "ecog[2]", "ecog[10]"]);
        assert_eq!(d.columns[1], [1.0, 0.0, 0.0]);
        assert_eq!(d.columns[2], [0.0, 1.0, 0.0]);
        assert_eq!((d.rows, d.dropped, d.kept.clone()), (3, 1, vec![0, 2, 3]));
        assert_eq!(d.variable("time"), Some(&[1.0, 3.0, 4.0][..]));
        assert_eq!(d.variable("x"), None);
        let err = from_columns(
            2,
            vec![],
            vec![("t".into(), vec![Some(1.0), Some(f64::INFINITY)])],
            vec![],
        )
        .unwrap_err();
        assert_eq!(
            err,
            DesignError::NotFinite {
                row: 1,
                column: "t".into(),
                value: f64::INFINITY
            }
        );
    }
}
