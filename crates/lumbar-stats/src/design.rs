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
