//! What each column of `lumbar analyze`'s result tables means, with its
//! unit: the words of `docs/tables.md` (made by `lumbar tables`, whose test
//! fails when a column has no entry here or the file drifts). The columns
//! themselves come from the result types (serialised), not from this list.

/// (table, column, unit, meaning).
pub const OUTPUT_COLUMNS: &[(&str, &str, &str, &str)] = &[
    ("adherence_weekly", "patient_id", "", "The patient."),
    ("adherence_weekly", "site", "", "The patient's site."),
    ("adherence_weekly", "exercise", "", "The prescribed move."),
    (
        "adherence_weekly",
        "iso_year",
        "",
        "ISO 8601 week-numbering year of the week.",
    ),
    (
        "adherence_weekly",
        "iso_week",
        "",
        "ISO week number (1–53).",
    ),
    (
        "adherence_weekly",
        "week_start",
        "date",
        "Monday of the ISO week.",
    ),
    (
        "adherence_weekly",
        "scheduled",
        "days",
        "Days the move was scheduled that week (inside the patient's window).",
    ),
    (
        "adherence_weekly",
        "done",
        "days",
        "Distinct days done, at most scheduled.",
    ),
    (
        "adherence_weekly",
        "session_adherence",
        "share 0–1",
        "done / scheduled.",
    ),
    (
        "adherence_weekly",
        "dose_adherence",
        "share 0–1",
        "Mean over the days done of the performed dose over the prescribed, capped at 1 (empty: nothing done).",
    ),
    (
        "adherence_patients",
        "patient_id",
        "",
        "The patient (only patients with something scheduled).",
    ),
    ("adherence_patients", "site", "", "The patient's site."),
    (
        "adherence_patients",
        "scheduled",
        "days",
        "Move-days scheduled over the whole window.",
    ),
    (
        "adherence_patients",
        "done",
        "days",
        "Move-days done (each week at most as scheduled).",
    ),
    (
        "adherence_patients",
        "session_adherence",
        "share 0–1",
        "done / scheduled.",
    ),
    (
        "adherence_patients",
        "dose_adherence",
        "share 0–1",
        "Mean dose share over all days done.",
    ),
    (
        "adherence_patients",
        "adherent",
        "",
        "session_adherence at or above the threshold (0.70 by default).",
    ),
    ("adherence_groups", "level", "", "site or cohort."),
    ("adherence_groups", "group", "", "The site, or all."),
    (
        "adherence_groups",
        "patients",
        "patients",
        "Patients with something scheduled.",
    ),
    (
        "adherence_groups",
        "median",
        "share 0–1",
        "Median of patients' session adherence (R's quantile type 7).",
    ),
    (
        "adherence_groups",
        "q1",
        "share 0–1",
        "First quartile (type 7).",
    ),
    (
        "adherence_groups",
        "q3",
        "share 0–1",
        "Third quartile (type 7).",
    ),
    (
        "adherence_groups",
        "share_adherent",
        "share 0–1",
        "Share of patients adherent.",
    ),
    ("safety_events", "patient_id", "", "The patient."),
    ("safety_events", "site", "", "The patient's site."),
    (
        "safety_events",
        "performed_at",
        "date-time",
        "When the session was.",
    ),
    ("safety_events", "exercise", "", "The move."),
    (
        "safety_events",
        "pain_during",
        "NRS 0–10",
        "Pain during, at or above the stop level, with the exercise continued.",
    ),
    ("safety_flags", "patient_id", "", "The patient."),
    ("safety_flags", "site", "", "The patient's site."),
    (
        "safety_flags",
        "exercise",
        "",
        "The move flagged unsuitable for this patient.",
    ),
    (
        "safety_flags",
        "first_date",
        "date",
        "First day pain persisted past the regimen's limit after it.",
    ),
    (
        "safety_flags",
        "episodes",
        "sessions",
        "Sessions of the move with pain persisting past the limit.",
    ),
    ("safety_counts", "level", "", "patient, site or cohort."),
    (
        "safety_counts",
        "group",
        "",
        "The patient, the site, or all.",
    ),
    (
        "safety_counts",
        "site",
        "",
        "The site (all for the cohort).",
    ),
    ("safety_counts", "events", "sessions", "Safety events."),
    (
        "safety_counts",
        "unsuitable_flags",
        "patient-moves",
        "Moves flagged unsuitable.",
    ),
    (
        "safety_counts",
        "patients_with_events",
        "patients",
        "Patients with at least one safety event.",
    ),
    ("trends", "patient_id", "", "The patient."),
    ("trends", "site", "", "The patient's site."),
    ("trends", "measure", "", "nrs_pain or odi."),
    (
        "trends",
        "n",
        "measurements",
        "Measurements of the patient.",
    ),
    (
        "trends",
        "baseline_date",
        "date",
        "Date of the first measurement (the baseline).",
    ),
    (
        "trends",
        "baseline",
        "the measure's scale",
        "The first measurement.",
    ),
    (
        "trends",
        "last_date",
        "date",
        "Date of the last measurement.",
    ),
    (
        "trends",
        "last",
        "the measure's scale",
        "The last measurement.",
    ),
    (
        "trends",
        "change",
        "the measure's scale",
        "last − baseline (negative: better).",
    ),
    (
        "trends",
        "percent_change",
        "%",
        "100 · change / baseline (empty when the baseline is 0).",
    ),
    (
        "trends",
        "slope_per_week",
        "points per week",
        "OLS slope of the measure on weeks since baseline.",
    ),
    (
        "trends",
        "slope_se",
        "points per week",
        "Its standard error.",
    ),
    (
        "trends",
        "theil_sen_per_week",
        "points per week",
        "Theil–Sen slope (the median of pairwise slopes).",
    ),
    (
        "trends",
        "responder",
        "",
        "Improved by at least 2 NRS or 10 ODI points, or 30% of baseline, from first to last.",
    ),
    (
        "trends",
        "weeks_to_sustained_response",
        "weeks",
        "Weeks from baseline to the first measurement from which every one is a response (empty: none).",
    ),
];

/// The unit and meaning of a result column, if documented.
pub fn output_column(table: &str, column: &str) -> Option<(&'static str, &'static str)> {
    OUTPUT_COLUMNS
        .iter()
        .find(|(t, c, _, _)| *t == table && *c == column)
        .map(|(_, _, u, m)| (*u, *m))
}
