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
    /// Each term's label (R's: `age`, `factor(ecog)`, `age:sex`) and its
    /// columns, for tests of a whole term (cox.zph pools a factor's columns).
    pub terms: Vec<(String, Vec<usize>)>,
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
    #[error(
        "the term {term} makes the design wider than {limit} columns (a factor with a level per row?)"
    )]
    TooWide { term: String, limit: usize },
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
    let terms = Terms {
        terms: (0..covariates.len()).map(|i| vec![i]).collect(),
        variables: covariates,
        intercept: true,
        naming: Naming::Bracket,
    };
    from_terms(rows, terms, extra, labels)
}

/// How a categorical level's column is named.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Naming {
    /// `COL[LEVEL]`: lumbar's flags (`--categorical`).
    Bracket,
    /// `LABELLEVEL`, as R's `model.matrix` names it (`sexM`,
    /// `factor(ph.ecog)1`): a formula's terms.
    R,
}

/// A model's terms over named variables, for [`from_terms`].
#[derive(Debug, Clone)]
pub struct Terms {
    /// Each variable's label (what its columns are named by) and values.
    pub variables: Vec<(String, Covariate)>,
    /// Each term, as indices into `variables` in the term's order: one
    /// index for a main effect, several for an interaction.
    pub terms: Vec<Vec<usize>>,
    /// Whether the model has an intercept. It decides how factors are
    /// coded; the intercept's own column is not part of the design.
    pub intercept: bool,
    pub naming: Naming,
}

/// Design matrices wider than this are refused (a factor with a level per
/// row would otherwise allocate rows × rows numbers).
pub const MAX_DESIGN_COLUMNS: usize = 2000;

/// Builds a design from terms (main effects and interactions), as R's
/// `model.matrix` does with treatment contrasts.
///
/// Complete cases over every variable, extra and label (R's `na.omit`);
/// a factor's levels are those of the kept rows (`drop.unused.levels`), in
/// R's order ([`sort_levels`]). A term's columns are the products of its
/// variables' columns, the first variable varying fastest, named by the
/// variables' column names joined with `:`. Within a term, a categorical
/// variable `F` is coded by contrasts (all levels but the reference) when
/// the term without `F` is also in the model (the intercept standing for
/// the empty term), and by an indicator for every level otherwise: R's
/// rule (Chambers & Hastie 1992, §2.4.1), so `x + x:f` has `x:fB, x:fC`
/// and `x:f` alone `x:fA, x:fB, x:fC`.
pub fn from_terms(
    rows: usize,
    terms: Terms,
    extra: Vec<(String, Vec<Option<f64>>)>,
    labels: Vec<(String, Vec<Option<String>>)>,
) -> Result<Design, DesignError> {
    let Terms {
        variables,
        terms,
        intercept,
        naming,
    } = terms;
    let used: Vec<bool> = (0..variables.len())
        .map(|i| terms.iter().any(|t| t.contains(&i)))
        .collect();
    let present = |c: &Covariate, i: usize| match c {
        Covariate::Numeric(v) => v[i].is_some(),
        Covariate::Categorical { values, .. } => values[i].is_some(),
    };
    let keep: Vec<usize> = (0..rows)
        .filter(|&i| {
            variables
                .iter()
                .zip(&used)
                .all(|((_, c), &u)| !u || present(c, i))
                && extra.iter().all(|(_, v)| v[i].is_some())
                && labels.iter().all(|(_, v)| v[i].is_some())
        })
        .collect();
    // Each categorical variable's levels among the kept rows, in R's
    // order, with its reference first.
    let mut levels: Vec<Vec<String>> = Vec::with_capacity(variables.len());
    for ((name, c), &u) in variables.iter().zip(&used) {
        match c {
            Covariate::Categorical { values, reference } if u => {
                let mut l: Vec<String> = keep.iter().filter_map(|&i| values[i].clone()).collect();
                l.sort();
                l.dedup();
                sort_levels(&mut l);
                if let Some(r) = reference {
                    let Some(at) = l.iter().position(|x| x == r) else {
                        return Err(DesignError::NoReference {
                            column: name.clone(),
                            reference: r.clone(),
                            levels: l.join(", "),
                        });
                    };
                    let r = l.remove(at);
                    l.insert(0, r);
                }
                levels.push(l);
            }
            _ => levels.push(Vec::new()),
        }
    }
    let numeric = variables
        .iter()
        .zip(&used)
        .filter_map(|((name, c), &u)| match c {
            Covariate::Numeric(v) if u => Some((v, name, true)),
            _ => None,
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
    // The columns each variable contributes within each term: numeric
    // variables one, categorical ones their contrasts or indicators.
    let has_term = |set: &[usize]| {
        if set.is_empty() {
            return intercept;
        }
        terms
            .iter()
            .any(|t| t.len() == set.len() && set.iter().all(|v| t.contains(v)))
    };
    let mut plan: Vec<Vec<(usize, Option<Vec<String>>)>> = Vec::with_capacity(terms.len());
    let mut width = 0usize;
    for t in &terms {
        let mut parts = Vec::with_capacity(t.len());
        let mut n = 1usize;
        for &v in t {
            match &variables[v].1 {
                Covariate::Numeric(_) => parts.push((v, None)),
                Covariate::Categorical { .. } => {
                    let rest: Vec<usize> = t.iter().copied().filter(|&w| w != v).collect();
                    let l = if has_term(&rest) {
                        levels[v].iter().skip(1).cloned().collect()
                    } else {
                        levels[v].clone()
                    };
                    n = n.saturating_mul(l.len());
                    parts.push((v, Some(l)));
                }
            }
        }
        width = width.saturating_add(n);
        if width > MAX_DESIGN_COLUMNS {
            return Err(DesignError::TooWide {
                term: t
                    .iter()
                    .map(|&v| variables[v].0.as_str())
                    .collect::<Vec<_>>()
                    .join(":"),
                limit: MAX_DESIGN_COLUMNS,
            });
        }
        plan.push(parts);
    }
    let mut d = Design {
        dropped: rows - keep.len(),
        rows: keep.len(),
        ..Default::default()
    };
    for (parts, term) in plan.into_iter().zip(&terms) {
        let label = term
            .iter()
            .map(|&v| variables[v].0.as_str())
            .collect::<Vec<_>>()
            .join(":");
        // Columns built up variable by variable; each new variable's
        // columns form the outer loop, so the first varies fastest.
        let mut cols: Vec<(String, Vec<f64>)> = vec![(String::new(), vec![1.0; keep.len()])];
        for (v, coding) in parts {
            let (label, c) = &variables[v];
            let mut next = Vec::new();
            let own: Vec<(String, Vec<f64>)> = match (c, coding) {
                (Covariate::Numeric(x), _) => vec![(
                    label.clone(),
                    keep.iter().map(|&i| x[i].unwrap_or(f64::NAN)).collect(),
                )],
                (Covariate::Categorical { values, .. }, Some(ls)) => ls
                    .iter()
                    .map(|level| {
                        let name = match naming {
                            Naming::Bracket => format!("{label}[{level}]"),
                            Naming::R => format!("{label}{level}"),
                        };
                        let col = keep
                            .iter()
                            .map(|&i| f64::from(u8::from(values[i].as_deref() == Some(level))))
                            .collect();
                        (name, col)
                    })
                    .collect(),
                (Covariate::Categorical { .. }, None) => Vec::new(),
            };
            for (oname, ocol) in &own {
                for (name, col) in &cols {
                    let joined = if name.is_empty() {
                        oname.clone()
                    } else {
                        format!("{name}:{oname}")
                    };
                    next.push((joined, col.iter().zip(ocol).map(|(a, b)| a * b).collect()));
                }
            }
            cols = next;
        }
        let first = d.columns.len();
        for (name, col) in cols {
            d.names.push(name);
            d.columns.push(col);
        }
        d.terms.push((label, (first..d.columns.len()).collect()));
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

/// Orders levels as R's `factor()` does: numerically when all parse as
/// numbers, else as R sorts text in a UTF-8 locale ([`r_collate`]).
pub fn sort_levels(levels: &mut [String]) {
    if levels.iter().all(|l| l.parse::<f64>().is_ok()) {
        levels.sort_by(|a, b| {
            a.parse::<f64>()
                .unwrap_or(0.0)
                .total_cmp(&b.parse::<f64>().unwrap_or(0.0))
        });
    } else {
        levels.sort_by(|a, b| r_collate(a, b));
    }
}

/// ASCII punctuation and symbols in the order of the Unicode Collation
/// Algorithm's default table (DUCET, as ICU's root locale uses it, with
/// punctuation not ignorable): all of them sort before digits, and digits
/// before letters.
const SYMBOL_ORDER: &str = " _-,;:!?.'\"()[]{}@*/\\&#%`^+<=>|~$";

/// Text compared as R compares it in a UTF-8 locale, where R collates with
/// ICU's root locale (R's `sort(c("b", "B", "a", ">=125", "101-124"))`
/// gives `">=125" "101-124" "a" "b" "B"`, and `"éclair"` sorts before
/// `"Zeta"`): first by characters with accents and case ignored (symbols,
/// then digits one by one, then letters by their base letter, then the
/// rest by code point), then by accents (none first), then lower case
/// before upper case, then by bytes. (Under `LC_COLLATE=C`, R sorts by
/// bytes instead.)
pub fn r_collate(a: &str, b: &str) -> std::cmp::Ordering {
    use unicode_normalization::UnicodeNormalization;
    use unicode_normalization::char::is_combining_mark;
    // Each character's (primary, accents) keys: the base letter of its
    // canonical decomposition, and its combining marks.
    fn keys(s: &str) -> (Vec<(u8, u32)>, Vec<u32>) {
        let mut primary = Vec::new();
        let mut accents = Vec::new();
        for c in s.chars() {
            let mut parts = std::iter::once(c).nfd();
            let base = parts.next().unwrap_or(c);
            let marks: u32 = parts
                .filter(|m| is_combining_mark(*m))
                .map(|m| m as u32)
                .sum();
            let key = if let Some(i) = SYMBOL_ORDER.find(base) {
                (0, i as u32)
            } else if base.is_ascii_digit() {
                (1, base as u32)
            } else if base.is_alphabetic() {
                (2, base.to_lowercase().next().unwrap_or(base) as u32)
            } else {
                (3, base as u32)
            };
            primary.push(key);
            accents.push(marks);
        }
        (primary, accents)
    }
    let (pa, aa) = keys(a);
    let (pb, ab) = keys(b);
    let case = |s: &str| s.chars().map(char::is_uppercase).collect::<Vec<_>>();
    pa.cmp(&pb)
        .then_with(|| aa.cmp(&ab))
        .then_with(|| case(a).cmp(&case(b)))
        .then_with(|| a.cmp(b))
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
        // Text levels in R's (ICU's) order, whatever their bytes say.
        let mut l: Vec<String> = ["b", "78-100", "B", ">=125", "<78", "a", "101-124"]
            .map(String::from)
            .to_vec();
        sort_levels(&mut l);
        assert_eq!(l, ["<78", ">=125", "101-124", "78-100", "a", "b", "B"]);
        // R (C.UTF-8, ICU): sort(c("Zeta", "éclair", "Ωmega", "B", "ä", "e", "a"))
        // is "a" "ä" "B" "e" "éclair" "Zeta" "Ωmega".
        let mut l: Vec<String> = ["Zeta", "éclair", "Ωmega", "B", "ä", "e", "a"]
            .map(String::from)
            .to_vec();
        sort_levels(&mut l);
        assert_eq!(l, ["a", "ä", "B", "e", "éclair", "Zeta", "Ωmega"]);
        // Accents before case: sort(c("é", "e", "E", "É", "f")).
        let mut l: Vec<String> = ["é", "e", "E", "É", "f"].map(String::from).to_vec();
        sort_levels(&mut l);
        assert_eq!(l, ["e", "E", "é", "É", "f"]);
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
