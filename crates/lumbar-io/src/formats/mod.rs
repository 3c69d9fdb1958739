//! One peer module per input format, each over the primitives of
//! `crate::source` and none importing another: the table formats
//! ([`csv`], [`ndjson`], [`parquet`]) and walking data as it really
//! arrives ([`apple`] Health exports, [`ggir`] part-5 day summaries and
//! [`fhir`] R4 Observations). Each reader turns its format into rows of a
//! canonical table (text cells in canonical column order, with the line
//! they came from), so validation, rejects and the `read = accepted +
//! rejected` accounting are the same for all. Which one reads a file is
//! decided above them, in `crate::reader`.
//!
//! What counts as a row read differs by format and is said in each module:
//! a GGIR row is a day; an Apple Health *day* (its records aggregated) or a
//! record that cannot be used; a FHIR Observation.

pub mod apple;
pub mod csv;
pub mod fhir;
pub mod ggir;
pub mod ndjson;
pub mod parquet;

#[cfg(test)]
use lumbar_model::Table;

/// A walking row in canonical order.
pub fn walking_cells(
    patient: &str,
    date: &str,
    walking_min: f64,
    steps: Option<f64>,
    wear_min: Option<f64>,
    source: &str,
) -> Vec<Option<String>> {
    let num = |x: f64| {
        let r = (x * 10.0).round() / 10.0;
        if r.fract() == 0.0 {
            format!("{r:.0}")
        } else {
            format!("{r}")
        }
    };
    vec![
        Some(patient.to_string()),
        Some(date.to_string()),
        Some(num(walking_min)),
        steps.map(|s| format!("{:.0}", s.round())),
        wear_min.map(num),
        None,
        Some(source.to_string()),
    ]
}

/// Steps per minute of walking used to estimate walking minutes from steps
/// when no minutes are recorded: 100 steps/min is the cadence of moderate
/// walking in adults (Tudor-Locke et al. 2018, Br J Sports Med 52:776), so
/// `walking_min = steps / 100`. Estimated values are marked in `source`.
pub const STEPS_PER_WALKING_MINUTE: f64 = 100.0;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn walking_cells_follow_the_schema_order() {
        let names: Vec<&str> = Table::Walking.columns().iter().map(|c| c.name).collect();
        assert_eq!(
            names,
            [
                "patient_id",
                "date",
                "walking_min",
                "steps",
                "wear_min",
                "mean_met",
                "source"
            ]
        );
        let c = walking_cells("P1", "2024-03-10", 42.04, Some(4203.6), None, "apple");
        assert_eq!(c[2].as_deref(), Some("42"));
        assert_eq!(c[3].as_deref(), Some("4204"));
        assert_eq!(c[4], None);
    }
}
