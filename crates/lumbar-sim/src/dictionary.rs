//! What each column of the simulator's result tables means, with its unit:
//! `summary.parquet` and the trajectory files of `lumbar simulate`, and
//! `lumbar compare`'s differences; and what each `metric` of the summary
//! is. The words of `docs/tables.md` (made by `lumbar tables`, whose test
//! fails when a column has no entry here or the file drifts). The columns
//! themselves come from [`crate::summary::columns`],
//! [`crate::engine::TrajectoryBlock::columns`] and
//! [`crate::summary::Difference`], not from this list. `KEY` stands for a
//! ladder's key (`rung_KEY`, `top_rung_share[KEY]`).

/// (table, column, unit, meaning).
pub const OUTPUT_COLUMNS: &[(&str, &str, &str, &str)] = &[
    // summary.parquet: one row per week and metric, then the whole-run metrics.
    ("summary", "scenario", "", "The scenario's `name`."),
    (
        "summary",
        "week",
        "weeks",
        "Programme week w, 0 (baseline) to the horizon: pain, responders and dropout are taken on day 7w, exercise counts over the seven days before it. Empty for whole-run metrics.",
    ),
    (
        "summary",
        "metric",
        "",
        "What the row measures (see the metrics below); its unit is the metric's.",
    ),
    (
        "summary",
        "estimate",
        "the metric's",
        "Mean over runs (PSA draws × replications) of each run's value. Empty when no run has a value.",
    ),
    (
        "summary",
        "lower",
        "the metric's",
        "2.5% quantile of the runs' values (R's type 7): the spread across runs, not a confidence interval of the mean. Empty with fewer than two runs.",
    ),
    (
        "summary",
        "upper",
        "the metric's",
        "97.5% quantile of the runs' values (R's type 7). Empty with fewer than two runs.",
    ),
    (
        "summary",
        "runs",
        "runs",
        "Runs that gave a value (a share of no patients gives none).",
    ),
    // trajectories/run-RRRR-from-PPPPPPPPPP.parquet: one row per patient-day.
    (
        "trajectories",
        "run",
        "",
        "Run index from 0 (PSA draw × replication), as in the file's name.",
    ),
    (
        "trajectories",
        "patient",
        "",
        "Patient index from 0; with the same seed and run, the same patient (baseline draws, flares, walking noise) in every scenario with the same priors.",
    ),
    (
        "trajectories",
        "day",
        "days",
        "Day since enrolment, 0 to 7 × weeks; the last day has only its pain (nothing else is simulated on it).",
    ),
    (
        "trajectories",
        "pain",
        "NRS points",
        "Underlying pain that day, not rounded: baseline × natural course − exercise benefit (at least 0), plus the flare's extra pain on flare days, so up to 10 + `flare_pain`. Reported scores add noise and round to halves.",
    ),
    (
        "trajectories",
        "flare",
        "",
        "A flare is under way (3–7 days, adding `dynamics.flare_pain`, 1.5 by default).",
    ),
    (
        "trajectories",
        "walking_min",
        "minutes",
        "Walking that day, to 0.1 min (empty on the last day).",
    ),
    (
        "trajectories",
        "exercised",
        "",
        "The patient set out to exercise (something was scheduled, the patient had not dropped out and chose to); each item is then done or not.",
    ),
    (
        "trajectories",
        "scheduled",
        "items",
        "Programme items scheduled that day, still counted after dropout (intention to treat).",
    ),
    (
        "trajectories",
        "completed",
        "items",
        "Items completed that day: done at full dose and not stopped for pain.",
    ),
    (
        "trajectories",
        "safety_events",
        "items",
        "Items continued at pain during at or above the regimen's stop threshold (7 by default).",
    ),
    (
        "trajectories",
        "dropped",
        "",
        "The patient has left the programme for good (pain is still followed).",
    ),
    (
        "trajectories",
        "rung_KEY",
        "rung",
        "One column per ladder: its rung at the end of the day, from 0 (the ladder's first rung); empty once a rule dropped the item. A substitution is not shown.",
    ),
    // lumbar compare --out: differences.csv / differences.parquet, B − A.
    (
        "differences",
        "week",
        "weeks",
        "Programme week, as in summary (empty for whole-run metrics). Only weeks and metrics both results have.",
    ),
    (
        "differences",
        "metric",
        "",
        "What the row measures (see the simulator's metrics); its unit is the metric's.",
    ),
    (
        "differences",
        "a",
        "the metric's",
        "Scenario A's estimate (the first folder; mean over its runs).",
    ),
    (
        "differences",
        "b",
        "the metric's",
        "Scenario B's estimate (the second folder).",
    ),
    ("differences", "difference", "the metric's", "b − a."),
    (
        "differences",
        "lower",
        "the metric's",
        "Lower end, as `interval` says: paired runs, the 2.5% quantile of the runs' differences (their spread, not a confidence interval of the mean); independent runs, difference − 1.96·√(s²_A + s²_B) from the run-to-run SDs; patients (one run each), difference − 1.96·SE, normal approximation; none, empty.",
    ),
    (
        "differences",
        "upper",
        "the metric's",
        "Upper end, as for lower (the 97.5% quantile of paired differences, or difference + 1.96 × the same SD or SE).",
    ),
    (
        "differences",
        "interval",
        "",
        "How lower and upper were made: `paired runs` (same seed and runs: common random numbers), `independent runs`, `patients` (one run each: pain_mean, responder, dropout and adherent shares only) or `none`.",
    ),
    (
        "differences",
        "mc_se",
        "the metric's",
        "Monte Carlo standard error of difference: SD of the paired differences / √R; √(s²_A/R_A + s²_B/R_B) over independent runs; the patient-level SE with one run each. Empty with none.",
    ),
];

/// (metric, unit, meaning) of the summary's and the differences' `metric`.
pub const METRICS: &[(&str, &str, &str)] = &[
    (
        "pain_mean",
        "NRS points",
        "Mean underlying pain on day 7w over all patients (dropouts too).",
    ),
    ("pain_sd", "NRS points", "Its SD across patients (n − 1)."),
    (
        "pain_p10",
        "NRS points",
        "10th percentile of pain on day 7w, to 0.01 (the smallest value with at least 10% at or below it; capped at 10).",
    ),
    ("pain_p25", "NRS points", "25th percentile, as pain_p10."),
    ("pain_median", "NRS points", "Median, as pain_p10."),
    ("pain_p75", "NRS points", "75th percentile, as pain_p10."),
    ("pain_p90", "NRS points", "90th percentile, as pain_p10."),
    (
        "dropout_share",
        "share 0–1",
        "Patients who had left the programme by day 7w.",
    ),
    (
        "responder_share",
        "share 0–1",
        "Patients whose pain on day 7w is at most 70% of their day-0 pain (IMMPACT's 30% improvement). Weeks 1 on.",
    ),
    (
        "adherence",
        "share 0–1",
        "Items completed / items scheduled over the week, dropouts' scheduled items included (intention to treat). Weeks 1 on.",
    ),
    (
        "adherent_share",
        "share 0–1",
        "Of the patients with something scheduled in the week, those who completed at least 70% of it (MiSpEx). Weeks 1 on.",
    ),
    (
        "safety_events_per_100",
        "per 100 patients",
        "Sessions continued at pain during ≥ the stop threshold in the week, per 100 patients. Weeks 1 on.",
    ),
    (
        "unsuitable_per_100",
        "per 100 patients",
        "Items newly flagged unsuitable in the week (pain persisting over 20 min), per 100 patients. Weeks 1 on.",
    ),
    (
        "walking_min_mean",
        "minutes per day",
        "Mean walking minutes per patient-day over the week. Weeks 1 on.",
    ),
    (
        "top_rung_share[KEY]",
        "share 0–1",
        "Whole run (no week): patients who reached ladder KEY's top rung (its highest non-optional one) by the horizon, those starting there included.",
    ),
    (
        "top_rung_median_days[KEY]",
        "days",
        "Whole run: median day of reaching ladder KEY's top rung, never counting as later than any day; empty when fewer than half reach it.",
    ),
];

/// The unit and meaning of a result column, if documented.
pub fn output_column(table: &str, column: &str) -> Option<(&'static str, &'static str)> {
    OUTPUT_COLUMNS
        .iter()
        .find(|(t, c, _, _)| *t == table && *c == column)
        .map(|(_, _, u, m)| (*u, *m))
}

/// The unit and meaning of a metric; a ladder's metric by its `[KEY]` form.
pub fn metric(name: &str) -> Option<(&'static str, &'static str)> {
    // `top_rung_share[push_up]` is listed once, as `top_rung_share[KEY]`.
    let general = match name.split_once('[') {
        Some((stem, _)) if name.ends_with(']') => format!("{stem}[KEY]"),
        _ => name.to_string(),
    };
    METRICS
        .iter()
        .find(|(m, _, _)| *m == general)
        .map(|(_, u, m)| (*u, *m))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::TrajectoryBlock;
    use crate::tally::Tally;

    /// Every column the simulator writes, and every metric a run gives,
    /// has words here.
    #[test]
    fn every_column_and_metric_has_words() {
        let block = TrajectoryBlock {
            ladder_keys: vec!["KEY".into()],
            rungs: vec![Vec::new()],
            ..Default::default()
        };
        for (name, _) in block.columns() {
            assert!(output_column("trajectories", &name).is_some(), "{name}");
        }
        for (name, _) in crate::summary::columns(&[]) {
            assert!(output_column("summary", &name).is_some(), "{name}");
        }
        let diff = crate::summary::Difference {
            week: Some(1),
            metric: "pain_mean".into(),
            a: None,
            b: None,
            difference: None,
            lower: None,
            upper: None,
            interval: "none",
            mc_se: None,
        };
        let row = serde_json::to_value(&diff).expect("a difference serialises");
        for name in row.as_object().expect("an object").keys() {
            assert!(output_column("differences", name).is_some(), "{name}");
        }
        let mut t = Tally::new(2, &["push_up".into()]);
        t.weeks[1].scheduled = 1;
        for (_, name, _) in crate::summary::run_values(&t) {
            assert!(metric(&name).is_some(), "{name}");
        }
    }
}
