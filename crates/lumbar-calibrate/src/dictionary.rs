//! What each column of `lumbar calibrate`'s `posterior.parquet` and
//! `lumbar replay`'s `replay.parquet` and `patients.parquet` means, with
//! its unit, and what each replay `measure` is: the words of
//! `docs/tables.md` (made by `lumbar tables`, whose test fails when a
//! column has no entry here or the file drifts). `PARAMETER` stands for
//! each fitted parameter's column of the posterior.

use crate::replay::MEASURES;

/// (table, column, unit, meaning).
pub const OUTPUT_COLUMNS: &[(&str, &str, &str, &str)] = &[
    // calibrate: posterior.parquet, one row per draw.
    (
        "posterior",
        "PARAMETER",
        "the parameter's",
        "One column per fitted parameter, named by its path in the scenario's `[calibration.parameters]` (such as `dynamics.exercise_benefit`): the draw's value. ABC-SMC: the last generation's particles; simulated moments: 1000 draws of the estimate's normal approximation on the priors' quantile scale.",
    ),
    (
        "posterior",
        "weight",
        "share 0–1",
        "The draw's weight; the weights sum to 1 (equal for simulated moments).",
    ),
    (
        "posterior",
        "distance",
        "",
        "The particle's distance D = Σ ((simulated − observed target) / SE)² (ABC-SMC); NaN for simulated moments' draws.",
    ),
    // replay: replay.parquet, one row per site (then all), week and measure.
    (
        "replay",
        "site",
        "",
        "A site of the store, or `all` for the whole cohort.",
    ),
    (
        "replay",
        "week",
        "weeks",
        "Programme week w, 0 to the calibrated scenario's horizon: pain, responders and dropout on day 7w, exercise counts over the seven days before it. Week 0 has pain and dropped only.",
    ),
    (
        "replay",
        "measure",
        "",
        "What the row measures (see the replay's measures below); its unit is the measure's.",
    ),
    (
        "replay",
        "observed_rule",
        "the measure's",
        "Mean over posterior draws of the measure with the patients under the calibrated scenario's programme (the rule the clinic used). NaN when no draw has a value.",
    ),
    (
        "replay",
        "alternative",
        "the measure's",
        "The same under the programme of `--scenario` (its items and rules; population and dynamics the draw's).",
    ),
    (
        "replay",
        "difference",
        "the measure's",
        "Mean over draws of alternative − observed_rule, each draw paired (the same patients, traits and random numbers under both rules).",
    ),
    (
        "replay",
        "lower",
        "the measure's",
        "5% quantile over draws of the paired difference (the 90% interval's lower end).",
    ),
    (
        "replay",
        "upper",
        "the measure's",
        "95% quantile over draws of the paired difference (the 90% interval's upper end).",
    ),
    // replay: patients.parquet, one row per replayed patient.
    (
        "patients",
        "patient_id",
        "",
        "A replayed patient (those without a baseline pain are left out).",
    ),
    ("patients", "site", "", "The patient's site."),
    (
        "patients",
        "ess_mean",
        "candidates",
        "Effective sample size (Σw)²/Σw² of the patient's trait candidates, weighted by the likelihood of their logged history, mean over draws: 1 = the history picks one candidate, `--candidates` = it says nothing.",
    ),
    (
        "patients",
        "ess_min",
        "candidates",
        "The smallest effective sample size over draws.",
    ),
];

/// (measure, unit, meaning) of replay.parquet's `measure`, in
/// [`MEASURES`]' order.
pub const MEASURE_WORDS: [(&str, &str, &str); 5] = [
    (
        MEASURES[0],
        "NRS points",
        "Mean underlying pain on day 7w over the patients (the simulator's pain_mean).",
    ),
    (
        MEASURES[1],
        "share 0–1",
        "Patients whose pain on day 7w is at most 70% of their day-0 pain.",
    ),
    (
        MEASURES[2],
        "share 0–1",
        "Items completed / items scheduled over the week (intention to treat); NaN with nothing scheduled.",
    ),
    (
        MEASURES[3],
        "per 100 patients",
        "Sessions continued at pain during ≥ the stop threshold in the week, per 100 patients.",
    ),
    (
        MEASURES[4],
        "share 0–1",
        "Patients who had left the programme by day 7w.",
    ),
];

/// The unit and meaning of a result column, if documented.
pub fn output_column(table: &str, column: &str) -> Option<(&'static str, &'static str)> {
    OUTPUT_COLUMNS
        .iter()
        .find(|(t, c, _, _)| *t == table && *c == column)
        .map(|(_, _, u, m)| (*u, *m))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The words follow the measures the replay writes, in their order.
    #[test]
    fn every_measure_has_words() {
        let named: Vec<&str> = MEASURE_WORDS.iter().map(|(m, _, _)| *m).collect();
        assert_eq!(named, MEASURES);
    }
}
