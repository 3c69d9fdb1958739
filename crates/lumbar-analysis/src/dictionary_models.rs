//! What each column of the model tables means, with its unit: `lumbar
//! risk --out`'s tables (incidence, rr_crude, rr_adjusted, rr_spline,
//! hr_cox) and `lumbar stats … --out`'s (coefficients, fixed_effects,
//! curves). The words of `docs/tables.md` beside [`crate::dictionary`]'s
//! for `lumbar analyze`; the columns themselves come from the result types
//! (serialised), not from this list, and `lumbar tables` writes a column
//! without an entry here as "(undocumented)", which a test refuses.

/// The tables of fitted coefficients ([`lumbar_stats::linalg::Coefficient`]
/// rows): `z` and `p_value` mean the same in each, so they are listed once
/// ([`COEFFICIENT_COLUMNS`]); the other columns differ by model.
pub const COEFFICIENT_TABLES: [&str; 4] = ["rr_crude", "rr_adjusted", "hr_cox", "coefficients"];

/// (column, unit, meaning) of every coefficient table.
pub const COEFFICIENT_COLUMNS: &[(&str, &str, &str)] = &[
    ("z", "", "Wald statistic, estimate / std_error."),
    (
        "p_value",
        "probability 0–1",
        "Two-sided Wald p-value, 2(1 − Φ(|z|)).",
    ),
];

/// (table, column, unit, meaning).
pub const MODEL_COLUMNS: &[(&str, &str, &str, &str)] = &[
    // `lumbar risk`: incidence by exposure category.
    (
        "incidence",
        "category",
        "",
        "Exposure category, left-closed: by default the HUNT cut points (`<78`, `78-100`, `101-124`, `>=125` for `walking_min`), else `--cuts` or `--quantiles` groups. Every category has a row, empty ones too.",
    ),
    (
        "incidence",
        "n",
        "participants",
        "Participants in the category (complete rows of exposure, outcome and covariates; with a store, those with enough valid walking days).",
    ),
    (
        "incidence",
        "events",
        "participants",
        "Participants in the category with the outcome (1 or true).",
    ),
    (
        "incidence",
        "risk",
        "share 0–1",
        "Cumulative incidence, events / n (0 for an empty category).",
    ),
    (
        "incidence",
        "person_years",
        "years",
        "Person-years summed over the category: `--person-years`, else `--time`; with a store, `followup_years` (end_date − baseline_date, years of 365.25 days). Empty without either.",
    ),
    (
        "incidence",
        "rate_per_1000py",
        "per 1,000 person-years",
        "Incidence rate, 1000 × events / person_years (empty without person-years).",
    ),
    (
        "incidence",
        "rate_low",
        "per 1,000 person-years",
        "Lower end of the rate's exact 95% Poisson interval (Garwood 1936; 0 with no events).",
    ),
    (
        "incidence",
        "rate_high",
        "per 1,000 person-years",
        "Upper end of the rate's exact 95% Poisson interval (Garwood 1936).",
    ),
    // `lumbar risk`: crude risk ratios (modified Poisson, Zou 2004).
    (
        "rr_crude",
        "term",
        "",
        "`(Intercept)`, then `EXPOSURE[CATEGORY]` for each category other than the reference that has participants.",
    ),
    (
        "rr_crude",
        "estimate",
        "log scale",
        "Log risk ratio against the reference category, from modified Poisson regression on the categories alone (intercept: the log risk in the reference category).",
    ),
    (
        "rr_crude",
        "std_error",
        "log scale",
        "Robust (HC0 sandwich) standard error of the estimate.",
    ),
    (
        "rr_crude",
        "exp_estimate",
        "ratio",
        "Crude risk ratio against the reference category (intercept: the reference category's risk, share 0–1).",
    ),
    (
        "rr_crude",
        "conf_low",
        "ratio",
        "Lower end of the Wald 95% interval, exp(estimate − 1.959964 · std_error).",
    ),
    (
        "rr_crude",
        "conf_high",
        "ratio",
        "Upper end of the Wald 95% interval, exp(estimate + 1.959964 · std_error).",
    ),
    // `lumbar risk`: adjusted risk ratios.
    (
        "rr_adjusted",
        "term",
        "",
        "`(Intercept)`, the exposure categories as in rr_crude, then the covariates (a categorical one's levels as `COLUMN[LEVEL]`).",
    ),
    (
        "rr_adjusted",
        "estimate",
        "log scale",
        "Log risk ratio, from modified Poisson regression on the exposure categories and `--covariates`/`--categorical`: against the reference category, or per unit of a covariate (intercept: the log risk in the reference category with every covariate at 0).",
    ),
    (
        "rr_adjusted",
        "std_error",
        "log scale",
        "Robust (HC0 sandwich) standard error of the estimate.",
    ),
    (
        "rr_adjusted",
        "exp_estimate",
        "ratio",
        "Adjusted risk ratio (intercept: the risk with every term at 0).",
    ),
    (
        "rr_adjusted",
        "conf_low",
        "ratio",
        "Lower end of the Wald 95% interval, exp(estimate − 1.959964 · std_error).",
    ),
    (
        "rr_adjusted",
        "conf_high",
        "ratio",
        "Upper end of the Wald 95% interval, exp(estimate + 1.959964 · std_error).",
    ),
    // `lumbar risk`: the restricted cubic spline's dose–response curve.
    (
        "rr_spline",
        "exposure",
        "exposure's unit",
        "Exposure value (min/day for `walking_min`): 41 evenly spaced points from the exposure's 5th to its 95th percentile.",
    ),
    (
        "rr_spline",
        "rr",
        "ratio",
        "Risk ratio at this exposure against the reference value (`--reference-value`, else the first cut point, else the median), from a restricted cubic spline (Harrell, `--knots` knots) fitted by modified Poisson with the covariates.",
    ),
    (
        "rr_spline",
        "conf_low",
        "ratio",
        "Lower end of the pointwise 95% interval (robust covariance).",
    ),
    (
        "rr_spline",
        "conf_high",
        "ratio",
        "Upper end of the pointwise 95% interval (robust covariance).",
    ),
    // `lumbar risk --time`: the Cox model.
    (
        "hr_cox",
        "term",
        "",
        "The exposure categories as in rr_crude, then the covariates (a Cox model has no intercept).",
    ),
    (
        "hr_cox",
        "estimate",
        "log scale",
        "Log hazard ratio from a Cox model of `--time` and the outcome (Efron ties) on the exposure categories and covariates.",
    ),
    (
        "hr_cox",
        "std_error",
        "log scale",
        "Model-based standard error of the estimate.",
    ),
    (
        "hr_cox",
        "exp_estimate",
        "ratio",
        "Hazard ratio against the reference category, or per unit of a covariate.",
    ),
    (
        "hr_cox",
        "conf_low",
        "ratio",
        "Lower end of the Wald 95% interval, exp(estimate − 1.959964 · std_error).",
    ),
    (
        "hr_cox",
        "conf_high",
        "ratio",
        "Upper end of the Wald 95% interval, exp(estimate + 1.959964 · std_error).",
    ),
    // `lumbar stats cox|poisson --out`.
    (
        "coefficients",
        "term",
        "",
        "The model's term as R names it (`(Intercept)` for poisson; a factor's level as `factor(x)LEVEL` with a formula, `x[LEVEL]` with `--categorical`; interactions as `a:b`).",
    ),
    (
        "coefficients",
        "estimate",
        "log scale",
        "Coefficient: log hazard ratio (cox) or log risk ratio (poisson), per unit of the term.",
    ),
    (
        "coefficients",
        "std_error",
        "log scale",
        "Standard error of the estimate: cox model-based, or robust with `--robust` or a `cluster()` term (fit.json's `naive_std_error` then has the model-based); poisson the sandwich of `--robust` (HC0 by default).",
    ),
    (
        "coefficients",
        "exp_estimate",
        "ratio",
        "exp(estimate): the hazard ratio (cox) or risk ratio (poisson; for the intercept, the risk with every term at 0).",
    ),
    (
        "coefficients",
        "conf_low",
        "ratio",
        "Lower end of the Wald interval at `--conf-level` (0.95 by default), exp(estimate − z · std_error).",
    ),
    (
        "coefficients",
        "conf_high",
        "ratio",
        "Upper end of the Wald interval at `--conf-level` (0.95 by default), exp(estimate + z · std_error).",
    ),
    // `lumbar stats lmm --out`.
    (
        "fixed_effects",
        "term",
        "",
        "Fixed-effect term: `(Intercept)`, then the others in the formula's order (R's names), or the time and covariates with flags.",
    ),
    (
        "fixed_effects",
        "estimate",
        "response's unit per unit of the term",
        "Fixed-effect coefficient of the linear mixed model (REML by default, `--method ml`), as lme4 reports it.",
    ),
    (
        "fixed_effects",
        "std_error",
        "as estimate",
        "Standard error of the estimate.",
    ),
    (
        "fixed_effects",
        "t",
        "",
        "t value, estimate / std_error (lme4 gives no p-value, nor does lumbar).",
    ),
    // `lumbar stats km --out`: every step of every curve.
    (
        "curves",
        "group",
        "",
        "The curve: the `--group` column's value, or `all` without `--group`.",
    ),
    (
        "curves",
        "time",
        "the time column's unit",
        "A distinct follow-up time in this group (with an event, a censoring or both), ascending.",
    ),
    (
        "curves",
        "n_risk",
        "observations",
        "At risk just before this time.",
    ),
    ("curves", "n_event", "observations", "Events at this time."),
    (
        "curves",
        "n_censor",
        "observations",
        "Censored at this time (after the events at it).",
    ),
    (
        "curves",
        "surv",
        "probability 0–1",
        "Kaplan–Meier survival S(t) just after this time.",
    ),
    (
        "curves",
        "std_err",
        "probability 0–1",
        "Standard error of S(t), S · Greenwood's SE of log S (what R's `summary.survfit` prints as `std.err`; missing once S is 0).",
    ),
    (
        "curves",
        "lower",
        "probability 0–1",
        "Lower end of the interval at `--conf-level` (0.95 by default) on the log scale, S · exp(−z · SE(log S)) (R's `conf.type = \"log\"`; missing once S is 0, R's NA).",
    ),
    (
        "curves",
        "upper",
        "probability 0–1",
        "Upper end of the interval on the log scale, S · exp(z · SE(log S)) capped at 1 (missing once S is 0).",
    ),
    (
        "bootstrap",
        "term",
        "",
        "The coefficient, as in the coefficients / fixed_effects table (the intercept too for Poisson and the mixed model).",
    ),
    (
        "bootstrap",
        "estimate",
        "log scale for Cox and Poisson",
        "The coefficient fitted on all the data.",
    ),
    (
        "bootstrap",
        "bias",
        "as estimate",
        "Mean of the bootstrap replicates minus the estimate (R's boot `bias`).",
    ),
    (
        "bootstrap",
        "std_error",
        "as estimate",
        "Standard deviation of the replicates (boot's `std. error`).",
    ),
    (
        "bootstrap",
        "percentile_low",
        "as estimate",
        "Lower limit of the percentile interval at --conf-level (boot's perc.ci: order statistics interpolated on the normal scale).",
    ),
    (
        "bootstrap",
        "percentile_high",
        "as estimate",
        "Upper limit of the percentile interval.",
    ),
    (
        "bootstrap",
        "bca_low",
        "as estimate",
        "Lower limit of the BCa interval (boot's bca.ci); exp() of it is the ratio scale.",
    ),
    (
        "bootstrap",
        "bca_high",
        "as estimate",
        "Upper limit of the BCa interval.",
    ),
    (
        "bootstrap",
        "acceleration",
        "",
        "BCa's acceleration a = ΣL³ / (6 (ΣL²)^1.5), L the jackknife influence values (delete-one units, or 200 groups of them).",
    ),
    (
        "bootstrap",
        "bias_correction",
        "",
        "BCa's bias correction w = Φ⁻¹(share of replicates below the estimate).",
    ),
];

/// The unit and meaning of a model table's column, if documented.
pub fn model_column(table: &str, column: &str) -> Option<(&'static str, &'static str)> {
    MODEL_COLUMNS
        .iter()
        .find(|(t, c, _, _)| *t == table && *c == column)
        .map(|(_, _, u, m)| (*u, *m))
        .or_else(|| {
            COEFFICIENT_TABLES
                .contains(&table)
                .then(|| {
                    COEFFICIENT_COLUMNS
                        .iter()
                        .find(|(c, _, _)| *c == column)
                        .map(|(_, u, m)| (*u, *m))
                })
                .flatten()
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Each coefficient table has words for every column a fitted
    /// coefficient is written with.
    #[test]
    fn every_coefficient_column_has_words() {
        let c = lumbar_stats::linalg::Coefficient::new("x", 0.5, 0.1);
        let row = serde_json::to_value(&c).expect("a coefficient serialises");
        let columns = row.as_object().expect("a coefficient is an object");
        for table in COEFFICIENT_TABLES {
            for column in columns.keys() {
                assert!(
                    model_column(table, column).is_some(),
                    "{table}.{column} has no words"
                );
            }
        }
    }
}
