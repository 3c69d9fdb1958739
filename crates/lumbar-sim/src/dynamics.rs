//! Patient dynamics shared by the cohort generator and the simulator, with
//! the sources of their defaults.
//!
//! Underlying pain on day `d` (NRS 0–10) for a patient with baseline `b`:
//!
//! ```text
//! pain(d) = max(0, b · natural(d / 7) − exercise(adherent_days, response)) + flare(d)
//! ```
//!
//! * **Natural course** — persistent back pain falls with or without
//!   treatment. Costa et al. 2012 (CMAJ 184:E613, pooled persistent-pain
//!   cohorts) report mean pain 51 → 33 at 6 weeks → 26 at 26 weeks on 0–100.
//!   An exponential approach to a plateau, `natural(t) = P + (1 − P)·e^(−t/τ)`
//!   with P = 0.506 and τ = 4.8 weeks, passes through all three points
//!   (51 → 33.0 at 6 weeks → 25.9 at 26 weeks).
//! * **Exercise** — adherent exercise improves pain by about 15/100 more than
//!   no exercise at 3 months (Hayden et al. 2021, Cochrane review of exercise
//!   therapy for chronic low-back pain, 95% CI 12–18). The benefit saturates
//!   with cumulative adherent exercise days `A`:
//!   `exercise(A, r) = E·r·(1 − e^(−A/K))`, K = 42 days, and E = 1.735 NRS
//!   points so that 84 fully adherent days give 1.5 points for the average
//!   responder (r = 1).
//! * **Flares** start with a small daily probability and add a fixed amount
//!   for a few days.

/// Plateau of the natural course, as a share of baseline pain (Costa 2012 fit).
pub const NATURAL_PLATEAU: f64 = 0.506;
/// Time constant of the natural course, in weeks (Costa 2012 fit).
pub const NATURAL_TAU_WEEKS: f64 = 4.8;
/// Maximum extra improvement from exercise, NRS points, for response 1.
pub const EXERCISE_MAX: f64 = 1.735;
/// Cumulative adherent exercise days at which 63% of the benefit is reached.
pub const EXERCISE_K_DAYS: f64 = 42.0;

/// Share of baseline pain remaining after `weeks` with no exercise.
pub fn natural_course(weeks: f64) -> f64 {
    NATURAL_PLATEAU + (1.0 - NATURAL_PLATEAU) * (-weeks / NATURAL_TAU_WEEKS).exp()
}

/// Extra pain reduction (NRS points) from `adherent_days` of exercise for a
/// patient whose individual response multiplier is `response`.
pub fn exercise_benefit(adherent_days: f64, response: f64) -> f64 {
    EXERCISE_MAX * response * (1.0 - (-adherent_days / EXERCISE_K_DAYS).exp())
}

/// Underlying pain on a given day, before flares and measurement noise.
pub fn underlying_pain(baseline: f64, day: u32, adherent_days: f64, response: f64) -> f64 {
    (baseline * natural_course(day as f64 / 7.0) - exercise_benefit(adherent_days, response))
        .max(0.0)
}

/// Rounds a pain value to the NRS grid (halves) and clamps it to 0–10.
pub fn to_nrs(x: f64) -> f64 {
    ((x * 2.0).round() / 2.0).clamp(0.0, 10.0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn natural_course_passes_through_costa_2012() {
        // 51/100 at baseline, 33 at 6 weeks, 26 at 26 weeks: within 1 point.
        assert!((51.0 * natural_course(0.0) - 51.0).abs() < 1e-12);
        assert!((51.0 * natural_course(6.0) - 33.0).abs() < 1.0);
        assert!((51.0 * natural_course(26.0) - 26.0).abs() < 1.0);
    }

    #[test]
    fn full_adherence_for_12_weeks_adds_hayden_2021_benefit() {
        // 15/100 = 1.5 NRS points at 3 months, Hayden 2021 95% CI 12–18.
        let b = exercise_benefit(84.0, 1.0);
        assert!((b - 1.5).abs() < 0.01, "{b}");
        assert!(exercise_benefit(0.0, 1.0) == 0.0);
        assert!(exercise_benefit(42.0, 1.0) < b);
    }

    #[test]
    fn nrs_rounding() {
        assert_eq!(to_nrs(3.26), 3.5);
        assert_eq!(to_nrs(3.24), 3.0);
        assert_eq!(to_nrs(-1.0), 0.0);
        assert_eq!(to_nrs(12.0), 10.0);
    }
}
