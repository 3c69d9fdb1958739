//! A formula's variables read from a table: R's `model.frame` followed by
//! `model.matrix`, for lumbar's three models. The parsing is
//! [`lumbar_stats::formula`]'s and the expansion into columns
//! [`lumbar_stats::design::from_terms`]'; this module reads each variable
//! from a [`Columns`] table the way R would: a text column is categorical
//! without `factor()`, `factor(x)` of a numeric column is categorical with
//! levels in numeric order, `log(x)` of a negative value is missing (R's
//! NaN, which `na.omit` drops), and `status == 2` is 1 or 0.

use lumbar_model::{ColumnError, Columns};
use lumbar_stats::cox::CoxData;
use lumbar_stats::design::{self, Covariate, Design, Naming, Terms};
use lumbar_stats::formula::{Formula, Kind, Response, Variable};
use lumbar_stats::lmm::{LmmData, RandomEffects};

use crate::columns::{self, DataError};

/// A variable's values as numbers (a response, a time, an event).
pub fn numbers(t: &dyn Columns, v: &Variable) -> Result<Vec<Option<f64>>, ColumnError> {
    match &v.kind {
        Kind::Plain | Kind::Factor => t.numbers(&v.column),
        Kind::Transform(f) => Ok(t
            .numbers(&v.column)?
            .into_iter()
            .map(|x| x.map(|x| f.apply(x)).filter(|y| !y.is_nan()))
            .collect()),
        Kind::Equals(value) => match value.parse::<f64>() {
            Ok(target) => Ok(t
                .numbers(&v.column)?
                .into_iter()
                .map(|x| x.map(|x| f64::from(u8::from(x == target))))
                .collect()),
            Err(_) => Ok(t
                .labels(&v.column)?
                .into_iter()
                .map(|x| x.map(|x| f64::from(u8::from(x == *value))))
                .collect()),
        },
    }
}

/// A variable's values as labels (a stratum, a cluster, a group).
pub fn labels(t: &dyn Columns, v: &Variable) -> Result<Vec<Option<String>>, ColumnError> {
    t.labels(&v.column)
}

/// A fixed-effect variable: numeric, or categorical when written
/// `factor(x)` or when its column holds text.
fn covariate(t: &dyn Columns, v: &Variable) -> Result<Covariate, ColumnError> {
    let categorical = || {
        Ok(Covariate::Categorical {
            values: t.labels(&v.column)?,
            reference: None,
        })
    };
    match &v.kind {
        Kind::Factor => categorical(),
        Kind::Plain => match t.numbers(&v.column) {
            Ok(x) => Ok(Covariate::Numeric(x)),
            Err(ColumnError::NotNumeric { .. }) => categorical(),
            Err(e) => Err(e),
        },
        Kind::Transform(_) | Kind::Equals(_) => Ok(Covariate::Numeric(numbers(t, v)?)),
    }
}

/// The design of a formula's fixed-effect terms over table `t`, with
/// `extra` numeric variables and `labels` text ones (named by their
/// labels, [`Variable::label`]) taking part in the complete-case filter.
/// Coefficients are named as R names them (`sexM`, `factor(ecog)1`,
/// `age:sexM`).
pub fn design(
    t: &dyn Columns,
    f: &Formula,
    extra: &[&Variable],
    labels: &[&Variable],
) -> Result<Design, DataError> {
    let vars = f.variables();
    let variables = vars
        .iter()
        .map(|v| Ok((v.label(), covariate(t, v)?)))
        .collect::<Result<Vec<_>, ColumnError>>()?;
    let terms = f
        .terms
        .iter()
        .map(|term| {
            term.variables
                .iter()
                .filter_map(|v| vars.iter().position(|w| w.label() == v.label()))
                .collect()
        })
        .collect();
    let extras = extra
        .iter()
        .map(|v| Ok((v.label(), numbers(t, v)?)))
        .collect::<Result<Vec<_>, ColumnError>>()?;
    let labs = labels
        .iter()
        .map(|v| Ok((v.label(), self::labels(t, v)?)))
        .collect::<Result<Vec<_>, ColumnError>>()?;
    let spec = Terms {
        variables,
        terms,
        intercept: f.intercept,
        naming: Naming::R,
    };
    design::from_terms(t.height(), spec, extras, labs).map_err(|e| DataError::from_design(e, t))
}

/// One stratum label per kept row from several strata variables, as R's
/// `strata(a, b)` names them (`a=1, b=x`); one variable's labels as they
/// are.
pub fn strata_labels(d: &Design, strata: &[Variable]) -> Option<Vec<String>> {
    match strata {
        [] => None,
        [one] => d.label(&one.label()).map(<[String]>::to_vec),
        many => {
            let cols: Vec<&[String]> = many.iter().filter_map(|v| d.label(&v.label())).collect();
            Some(
                (0..d.rows)
                    .map(|i| {
                        many.iter()
                            .zip(&cols)
                            .map(|(v, c)| format!("{}={}", v.column, c[i]))
                            .collect::<Vec<_>>()
                            .join(", ")
                    })
                    .collect(),
            )
        }
    }
}

/// The data of a Cox fit and what was dropped on the way.
#[derive(Debug, Clone)]
pub struct CoxFrame {
    pub data: CoxData,
    /// Rows dropped for a missing value or an empty interval.
    pub dropped: usize,
    /// What R would have warned about (empty intervals made NA).
    pub warnings: Vec<String>,
    /// The model as R writes it, for the summary's `Call:`.
    pub formula: String,
}

/// A Cox model's data from a formula (`Surv(time, event) ~ terms +
/// strata(…) + cluster(…)`, or `Surv(start, stop, event)`) over table
/// `t`, with an optional case-weight column (R's `weights =`).
pub fn cox_frame(
    t: &dyn Columns,
    f: &Formula,
    weights: Option<&str>,
) -> Result<CoxFrame, DataError> {
    let Response::Surv {
        start, stop, event, ..
    } = &f.response
    else {
        return Err(f
            .error(
                0,
                "a Cox model's response is Surv(time, event) or Surv(start, stop, event)",
            )
            .into());
    };
    if let Some(r) = f.random.first() {
        return Err(f
            .error(r.at, "a Cox model has no random-effects terms")
            .into());
    }
    let weight = weights.map(|w| Variable {
        column: w.into(),
        kind: Kind::Plain,
        at: 0,
    });
    let mut extra: Vec<&Variable> = vec![stop, event];
    extra.extend(start.as_ref());
    extra.extend(weight.as_ref());
    let mut labels: Vec<&Variable> = f.strata.iter().collect();
    labels.extend(f.cluster.as_ref());
    let mut d = design(t, f, &extra, &labels)?;
    check_cox_size(t, d.rows, d.columns.len())?;
    let mut warnings = Vec::new();
    if let Some(start) = start {
        warnings.extend(drop_empty_intervals(&mut d, &start.label(), &stop.label()));
    }
    let event = columns::events(t, &d, &event.label())?.0;
    let data = CoxData {
        stop: d.variable(&stop.label()).unwrap_or(&[]).to_vec(),
        entry: start
            .as_ref()
            .and_then(|s| d.variable(&s.label()))
            .map(<[f64]>::to_vec),
        event,
        strata: strata_labels(&d, &f.strata),
        weights: weight
            .as_ref()
            .and_then(|w| d.variable(&w.label()))
            .map(<[f64]>::to_vec),
        cluster: f
            .cluster
            .as_ref()
            .and_then(|c| d.label(&c.label()))
            .map(<[String]>::to_vec),
        names: d.names,
        columns: d.columns,
        terms: Some(
            d.terms
                .iter()
                .filter(|(_, c)| !c.is_empty())
                .cloned()
                .collect(),
        ),
    };
    Ok(CoxFrame {
        data,
        dropped: d.dropped,
        warnings,
        formula: f.written(),
    })
}

/// A Cox fit's diagnostics hold a p × p information term per event time,
/// so rows × p² numbers; more than this is refused before it exhausts
/// memory (3,000 rows with a 1,000-level factor would need 24 GB).
pub const MAX_COX_CELLS: usize = 1 << 28;

/// Refuses a Cox design too large to fit here, with what to do instead.
pub fn check_cox_size(t: &dyn Columns, rows: usize, columns: usize) -> Result<(), DataError> {
    if rows.saturating_mul(columns.saturating_mul(columns)) > MAX_COX_CELLS {
        return Err(DataError::Design {
            path: t.source().to_path_buf(),
            message: format!(
                "a Cox model of {columns} columns on {rows} rows is too large to fit here \
                 (rows × columns² above {MAX_COX_CELLS}); a factor with many levels is \
                 better a stratum (strata(x)) or a cluster (cluster(x))"
            ),
        });
    }
    Ok(())
}

/// Drops rows whose interval (start, stop] is empty, as R's `Surv`
/// turns them into NA ("Stop time must be > start time, NA created") and
/// `na.omit` then drops them; says how many went.
pub fn drop_empty_intervals(d: &mut Design, start: &str, stop: &str) -> Option<String> {
    let stop = d.variable(stop).unwrap_or(&[]).to_vec();
    let entry = d.variable(start).unwrap_or(&[]).to_vec();
    let gone = d.drop_rows(|i| stop[i] <= entry[i]);
    (gone > 0).then(|| {
        format!(
            "{gone} row(s) with stop time <= entry time dropped (as R's Surv: \
             \"Stop time must be > start time, NA created\")"
        )
    })
}

/// The data of a mixed-model fit from a formula (lme4's `y ~ x + … +
/// (x | g)` or `(1 | g)`), with the fixed-effect names in the formula's
/// order for the caller to put the fit's terms back into.
#[derive(Debug, Clone)]
pub struct LmmFrame {
    pub data: LmmData,
    pub random: RandomEffects,
    pub dropped: usize,
    /// The fixed effects' names in R's order, `(Intercept)` first.
    pub order: Vec<String>,
    pub formula: String,
}

/// Reads a mixed model's formula: one random-effects term `(1 | g)`,
/// `(x | g)` or `(1 + x | g)`, whose slope (if any) is a numeric fixed
/// term too. lumbar fits the model `y ~ x + covariates + (1 + x | g)`,
/// so other shapes are refused with the character they start at.
pub fn lmm_frame(t: &dyn Columns, f: &Formula) -> Result<LmmFrame, DataError> {
    let Response::Variable(y) = &f.response else {
        return Err(f.error(0, "a mixed model's response is one column").into());
    };
    let r = match f.random.as_slice() {
        [r] => r,
        [] => {
            return Err(f
                .error(f.text.chars().count(), "a mixed model needs a random-effects term such as (1 | patient) or (week | patient)")
                .into());
        }
        [_, second, ..] => {
            return Err(f
                .error(
                    second.at,
                    "one random-effects term is fitted here (lme4's (1 + x | g)); this is a second",
                )
                .into());
        }
    };
    if !f.strata.is_empty() || f.cluster.is_some() {
        let at = f.strata.first().or(f.cluster.as_ref()).map_or(0, |v| v.at);
        return Err(f
            .error(at, "strata and cluster belong to Cox models")
            .into());
    }
    if !f.intercept {
        return Err(f
            .error(
                0,
                "a mixed model here keeps its fixed intercept (no - 1 or + 0)",
            )
            .into());
    }
    if !r.intercept {
        return Err(f
            .error(
                r.at,
                "the random effects here include an intercept (no 0 + before '|')",
            )
            .into());
    }
    // The time variable: the random slope's, or else the first numeric
    // main effect (lumbar's model always has a fixed slope on it).
    let time = match r.slopes.as_slice() {
        [] => None,
        [x] if f.terms.iter().any(|t| t.variables.len() == 1 && t.variables[0].label() == x.label()) => Some(x.clone()),
        [x] => return Err(f.error(x.at, format!("the random slope's variable {} must be a fixed term too (add + {} before the '(')", x.label(), x.label())).into()),
        [_, x, ..] => return Err(f.error(x.at, "one random slope is fitted here").into()),
    };
    let d = design(t, f, &[y], &[&r.group])?;
    let time_name = match &time {
        Some(x) => x.label(),
        None => d.names.first().cloned().ok_or_else(|| {
            DataError::from(f.error(
                f.text.chars().count(),
                "a mixed model here needs at least one fixed term besides the intercept",
            ))
        })?,
    };
    let at = d.names.iter().position(|n| *n == time_name).unwrap_or(0);
    let mut covariates: Vec<(String, Vec<f64>)> = d
        .names
        .iter()
        .cloned()
        .zip(d.columns.iter().cloned())
        .collect();
    let (_, time_col) = covariates.remove(at);
    let mut order = vec!["(Intercept)".to_string()];
    order.extend(d.names.iter().cloned());
    Ok(LmmFrame {
        data: LmmData {
            response: d.variable(&y.label()).unwrap_or(&[]).to_vec(),
            time: time_col,
            group: d.label(&r.group.label()).unwrap_or(&[]).to_vec(),
            covariates,
            time_name,
        },
        random: if time.is_some() {
            RandomEffects::Slope
        } else {
            RandomEffects::Intercept
        },
        dropped: d.dropped,
        order,
        formula: f.written(),
    })
}

/// The data of a regression with an intercept (the modified Poisson):
/// outcome, design, and what was dropped.
#[derive(Debug, Clone)]
pub struct GlmFrame {
    pub outcome: Vec<f64>,
    pub design: Design,
    pub formula: String,
}

/// Reads `y ~ terms` for a regression that always has an intercept.
pub fn glm_frame(t: &dyn Columns, f: &Formula) -> Result<GlmFrame, DataError> {
    let Response::Variable(y) = &f.response else {
        return Err(f
            .error(
                0,
                "this model's response is one column (Surv(…) is for Cox models)",
            )
            .into());
    };
    if let Some(r) = f.random.first() {
        return Err(f
            .error(
                r.at,
                "random-effects terms belong to mixed models (stats lmm)",
            )
            .into());
    }
    if let Some(v) = f.strata.first().or(f.cluster.as_ref()) {
        return Err(f
            .error(v.at, "strata and cluster belong to Cox models")
            .into());
    }
    if !f.intercept {
        return Err(f
            .error(0, "this model keeps its intercept (no - 1 or + 0)")
            .into());
    }
    let d = design(t, f, &[y], &[])?;
    Ok(GlmFrame {
        outcome: d.variable(&y.label()).unwrap_or(&[]).to_vec(),
        design: d,
        formula: f.written(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::{Path, PathBuf};

    /// A table in memory with text and numeric columns.
    struct Table {
        path: PathBuf,
        cols: Vec<(&'static str, Vec<Option<&'static str>>)>,
    }

    impl Columns for Table {
        fn source(&self) -> &Path {
            &self.path
        }
        fn height(&self) -> usize {
            self.cols[0].1.len()
        }
        fn has(&self, name: &str) -> bool {
            self.cols.iter().any(|(n, _)| *n == name)
        }
        fn labels(&self, name: &str) -> Result<Vec<Option<String>>, ColumnError> {
            self.cols
                .iter()
                .find(|(n, _)| *n == name)
                .map(|(_, v)| v.iter().map(|x| x.map(str::to_string)).collect())
                .ok_or_else(|| ColumnError::NoColumn {
                    path: self.path.clone(),
                    column: name.into(),
                    found: String::new(),
                })
        }
        fn numbers(&self, name: &str) -> Result<Vec<Option<f64>>, ColumnError> {
            self.labels(name)?
                .into_iter()
                .map(|x| match x {
                    None => Ok(None),
                    Some(s) => s.parse().map(Some).map_err(|_| ColumnError::NotNumeric {
                        path: self.path.clone(),
                        column: name.into(),
                        value: s,
                    }),
                })
                .collect()
        }
        fn place(&self, row: usize) -> String {
            format!("line {}", row + 2)
        }
    }

    fn table() -> Table {
        Table {
            path: "t.csv".into(),
            cols: vec![
                (
                    "y",
                    vec![Some("1"), Some("0"), Some("1"), Some("0"), Some("1"), None],
                ),
                (
                    "x",
                    vec![
                        Some("2"),
                        Some("4"),
                        Some("-1"),
                        Some("8"),
                        Some("1"),
                        Some("3"),
                    ],
                ),
                (
                    "arm",
                    vec![
                        Some("b"),
                        Some("a"),
                        Some("c"),
                        Some("a"),
                        Some("b"),
                        Some("c"),
                    ],
                ),
                (
                    "ecog",
                    vec![
                        Some("2"),
                        Some("10"),
                        Some("1"),
                        Some("1"),
                        Some("2"),
                        Some("1"),
                    ],
                ),
            ],
        }
    }

    /// R's `model.matrix(~ x * arm + factor(ecog), na.omit(d))`: text is a
    /// factor, factor() of numbers sorts numerically, interactions take
    /// the first variable fastest, names as R gives them.
    #[test]
    fn columns_and_names_as_model_matrix() {
        let t = table();
        let f = Formula::parse("y ~ x * arm + factor(ecog)").unwrap();
        let Response(y) = response(&f);
        let d = design(&t, &f, &[&y], &[]).unwrap();
        assert_eq!(
            d.names,
            [
                "x",
                "armb",
                "armc",
                "factor(ecog)2",
                "factor(ecog)10",
                "x:armb",
                "x:armc"
            ]
        );
        assert_eq!((d.rows, d.dropped), (5, 1));
        assert_eq!(d.columns[1], [1.0, 0.0, 0.0, 0.0, 1.0]);
        assert_eq!(d.columns[4], [0.0, 1.0, 0.0, 0.0, 0.0]);
        assert_eq!(d.columns[5], [2.0, 0.0, 0.0, 0.0, 1.0]);
        assert_eq!(d.columns[6], [0.0, 0.0, -1.0, 0.0, 0.0]);
        // Without the main effect of arm, arm is coded by an indicator per
        // level in x:arm (R's rule); arm:ecog crosses two factors.
        let f = Formula::parse("y ~ x + x:arm").unwrap();
        let d = design(&t, &f, &[], &[]).unwrap();
        assert_eq!(d.names, ["x", "x:armb", "x:armc"]);
        let f = Formula::parse("y ~ x:arm").unwrap();
        let d = design(&t, &f, &[], &[]).unwrap();
        assert_eq!(d.names, ["x:arma", "x:armb", "x:armc"]);
        let f = Formula::parse("y ~ arm:factor(ecog)").unwrap();
        let d = design(&t, &f, &[], &[]).unwrap();
        assert_eq!(d.names.len(), 9);
        assert_eq!(d.names[0], "arma:factor(ecog)1");
        assert_eq!(d.names[1], "armb:factor(ecog)1");
    }

    /// log of a negative value is missing (dropped), `== value` is 0/1.
    #[test]
    fn transforms_and_comparisons() {
        let t = table();
        let f = Formula::parse("Surv(x, ecog == 1) ~ log(x)").unwrap();
        let lumbar_stats::formula::Response::Surv { event, .. } = &f.response else {
            panic!()
        };
        let d = design(&t, &f, &[event], &[]).unwrap();
        assert_eq!(d.rows, 5);
        assert_eq!(d.kept, [0, 1, 3, 4, 5]);
        assert_eq!(
            d.variable("ecog == 1"),
            Some(&[0.0, 0.0, 1.0, 0.0, 1.0][..])
        );
        assert!((d.columns[0][0] - 2f64.ln()).abs() < 1e-15);
    }

    struct Response(Variable);

    fn response(f: &Formula) -> Response {
        match &f.response {
            lumbar_stats::formula::Response::Variable(v) => Response(v.clone()),
            lumbar_stats::formula::Response::Surv { stop, .. } => Response(stop.clone()),
        }
    }
}
