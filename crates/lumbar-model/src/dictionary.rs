//! What each column of the canonical input tables means, with its unit:
//! the words of `docs/tables.md` (made by `lumbar tables`, whose test fails
//! when a column has no entry here or the file drifts from what it makes).
//! Types, requiredness and value rules come from [`crate::schema`] itself.

/// (table, column, unit, meaning) of every canonical column.
pub const INPUT_COLUMNS: &[(&str, &str, &str, &str)] = &[
    (
        "patients",
        "patient_id",
        "",
        "The patient's pseudonymous id, the key every other table refers to; never printed in a clinic report.",
    ),
    (
        "patients",
        "site",
        "",
        "The clinic or site the patient is followed at; reports group and suppress by it.",
    ),
    ("patients", "sex", "", "Recorded sex."),
    (
        "patients",
        "birth_year",
        "year",
        "Year of birth (not after the as-of year).",
    ),
    ("patients", "age", "years", "Age at enrolment."),
    ("patients", "bmi", "kg/m²", "Body-mass index at enrolment."),
    (
        "patients",
        "enrolled_on",
        "date",
        "Day the patient entered the programme; nothing is scheduled before it.",
    ),
    (
        "patients",
        "stenosis",
        "",
        "Lumbar spinal stenosis recorded (the simulator's walking rules and a replay keep it).",
    ),
    (
        "patients",
        "baseline_pain",
        "NRS 0–10",
        "Pain at enrolment.",
    ),
    (
        "patients",
        "baseline_odi",
        "ODI 0–100",
        "Oswestry Disability Index at enrolment.",
    ),
    (
        "patients",
        "regimen",
        "",
        "Key of the regimen the patient follows; a row naming another regimen than the one loaded is rejected.",
    ),
    (
        "followup",
        "patient_id",
        "",
        "The participant's id in the follow-up study (a different cohort from the programme's patients).",
    ),
    (
        "followup",
        "baseline_date",
        "date",
        "Start of the participant's follow-up.",
    ),
    (
        "followup",
        "end_date",
        "date",
        "End of follow-up (the event or censoring).",
    ),
    (
        "followup",
        "event",
        "",
        "Chronic low-back pain at follow-up (true) or not.",
    ),
    (
        "followup",
        "event_date",
        "date",
        "Day the event was recorded, when it happened.",
    ),
    ("sessions", "patient_id", "", "Whose session this is."),
    (
        "sessions",
        "performed_at",
        "date-time",
        "When the exercise was done (local time, or converted to UTC from an offset).",
    ),
    (
        "sessions",
        "exercise",
        "",
        "The move of the regimen's catalogue (its key).",
    ),
    (
        "sessions",
        "level",
        "",
        "The rung of the move's ladder the patient was on, where levels are logged.",
    ),
    (
        "sessions",
        "side",
        "",
        "Which side a one-sided move was done on.",
    ),
    (
        "sessions",
        "sets",
        "sets",
        "Sets done (a missing value counts as prescribed).",
    ),
    (
        "sessions",
        "reps",
        "repetitions",
        "Repetitions per set (missing: as prescribed).",
    ),
    (
        "sessions",
        "hold_s",
        "seconds",
        "Hold per repetition, for moves held (missing: as prescribed).",
    ),
    (
        "sessions",
        "pain_before",
        "NRS 0–10",
        "Pain just before the exercise.",
    ),
    (
        "sessions",
        "pain_during",
        "NRS 0–10",
        "Worst pain during the exercise; at or above the stop level with the exercise continued, a safety event.",
    ),
    (
        "sessions",
        "pain_after",
        "NRS 0–10",
        "Pain just after the exercise.",
    ),
    (
        "sessions",
        "pain_persist_min",
        "minutes",
        "How long pain persisted after the exercise; past the regimen's limit the exercise is flagged unsuitable.",
    ),
    (
        "sessions",
        "stopped_for_pain",
        "",
        "The patient stopped the exercise because of pain.",
    ),
    (
        "sessions",
        "completed",
        "",
        "The session was completed (false: it does not count as done).",
    ),
    (
        "sessions",
        "source",
        "",
        "Where the row came from (app, paper diary, ...).",
    ),
    ("walking", "patient_id", "", "Whose day this is."),
    ("walking", "date", "date", "The calendar day."),
    (
        "walking",
        "walking_min",
        "minutes",
        "Minutes walked that day (not more than wear_min).",
    ),
    (
        "walking",
        "steps",
        "steps",
        "Steps that day, where counted.",
    ),
    (
        "walking",
        "wear_min",
        "minutes",
        "Minutes the device was worn; days below the valid-day threshold are left out of exposure.",
    ),
    (
        "walking",
        "mean_met",
        "MET",
        "Mean metabolic equivalent over the worn time, where a device reports it.",
    ),
    (
        "walking",
        "source",
        "",
        "The device or export the day came from.",
    ),
    ("outcomes", "patient_id", "", "Whose measurement this is."),
    ("outcomes", "date", "date", "Day of the measurement."),
    (
        "outcomes",
        "measure",
        "",
        "nrs_pain (0–10), odi (0–100), rmdq (0–24) or ears (0–24).",
    ),
    ("outcomes", "value", "the measure's scale", "The score."),
];

/// The unit and meaning of a canonical column, if documented.
pub fn input_column(table: &str, column: &str) -> Option<(&'static str, &'static str)> {
    INPUT_COLUMNS
        .iter()
        .find(|(t, c, _, _)| *t == table && *c == column)
        .map(|(_, _, u, m)| (*u, *m))
}

/// (column, type, meaning) of the store's rejects table (`STORE/rejects/`,
/// and `lumbar store rejects`).
pub const REJECT_COLUMNS: &[(&str, &str, &str)] = &[
    ("table", "text", "The canonical table the row was for."),
    ("source", "text", "The file the row was read from."),
    (
        "line",
        "integer",
        "The physical line where the row starts (1 = the header).",
    ),
    ("column", "text", "The column at fault, when one is."),
    (
        "value",
        "text",
        "The offending text, when there is one (at most 200 characters).",
    ),
    (
        "reason",
        "text",
        "Why the row was not accepted, in words a person can act on; the first problem found, in column order.",
    ),
];
