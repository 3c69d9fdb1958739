//! The synthetic cohort generator behind `lumbar generate`.
//!
//! It produces the five canonical tables as records (written as CSV by
//! lumbar-io's `CsvTables`, through [`RecordSink`]): a programme cohort (patients
//! following the regimen for `weeks`, with their sessions, daily walking and
//! weekly outcomes) and a separate walking-risk follow-up cohort shaped like
//! the HUNT study (SPEC §1).
//!
//! # What is planted
//!
//! Programme cohort (per patient, drawn once):
//! * site: `north`, `south`, `east`, `west` (weights 35/30/20/15%), and the
//!   small site `island`, which gets patients 63, 127 and 191 only, so any
//!   cohort of 192 or more has a site with 3 patients (small-cell suppression);
//! * age ~ N(55.3, 15.1) clipped to 18–90, 58.6% women (HUNT's cohort), BMI ~
//!   N(27, 4.5), spinal stenosis 10%;
//! * baseline pain ~ N(5.1, 1.5) on 0–10 (Costa 2012's 51/100), baseline ODI
//!   ~ N(32, 12);
//! * adherence propensity ~ Beta(6, 4) (mean 0.6, so 30–50% non-adherence,
//!   SPEC §1), lowered on days after painful sessions:
//!   `p = propensity · exp(−0.35 · max(0, mean pain_during of the last 3 sessions − 4))`;
//! * response to exercise ~ LogNormal(−0.125, 0.5) (mean 1);
//! * dropout: a daily hazard of 0.002 (about 15% by 12 weeks) after which no
//!   sessions are logged (outcomes still are).
//!
//! Day by day, underlying pain follows [`crate::dynamics`]: the Costa 2012
//! natural course, minus the Hayden 2021 exercise benefit of the cumulative
//! adherent days, plus flares (daily start probability 1/60, +1.5 for 3–7
//! days). On a session day each daily move is done with probability 0.9 and
//! the bridge (≥ 2 days a week) with 0.45; doses fall inside the prescribed
//! range 90% of the time and below it otherwise. Pain during a move is the
//! underlying pain + 0.5 + N(0, 1.2); at ≥ 7 the patient stops 93% of the time
//! (the other 7% are safety events). Pain persists > 20 minutes after 3% of
//! moves done at pain ≥ 5. The hip flexor stretch is logged as one row with
//! side `both` (reps per side), or one side only 5% of the time.
//! NRS pain is measured weekly (week 0 to `weeks`), ODI every 6 weeks and at
//! the end; measurement noise N(0, 0.8) NRS and N(0, 4) ODI points.
//! Walking: a personal median ~ LogNormal(ln 70, 0.4) min/day, day-to-day
//! noise LogNormal(0, 0.35), wear time ~ N(840, 90) min with 8% short
//! (invalid, < 600 min) days.
//!
//! Follow-up cohort (`followup` participants, ids `R…`): HUNT-like age and
//! sex, 7 days of accelerometer walking (log-median 100 min/day falling 0.6%
//! per year of age, SD 0.37 on the log scale, so the reference cut points
//! split it roughly into quarters), follow-up about 4.2 years. The
//! probability of chronic low-back pain at follow-up is log-linear, so the
//! planted values are the adjusted risk ratios a modified Poisson model
//! recovers:
//! `p = 0.16 · RR(category of mean walking over valid days) · 1.08^((age−55)/10) · 1.15^female · 1.05^((bmi−27)/5)`,
//! with RR = 1, 0.87, 0.77, 0.76 for < 78, 78–100, 101–124, ≥ 125 min/day
//! ([`PLANTED_WALKING_RR`]). Event dates follow a constant hazard that gives
//! the same probability over the participant's follow-up.
//!
//! # Determinism
//!
//! Every patient and participant has its own ChaCha8 stream derived from the
//! seed and its index (never from thread identity), and rows are handed on
//! in index order, so the same arguments give byte-identical files whatever
//! the thread count. Values are rounded (pain to halves, minutes to 0.1) before
//! they are written.

use std::io::{self, Write};

use chrono::{Datelike, Duration, NaiveDate, NaiveDateTime, NaiveTime};
use lumbar_model::records::{
    FollowupRecord, OutcomeRecord, PatientRecord, RecordSink, SessionRecord, WalkingDayRecord,
};
use lumbar_model::{Frequency, Regimen, Sides};
use rand::{RngExt, SeedableRng};
use rand_chacha::ChaCha8Rng;
use rayon::prelude::*;
use serde::Serialize;
use statrs::distribution::{Beta, LogNormal, Normal};

use crate::dynamics::{to_nrs, underlying_pain};
use crate::observed::SITES;

/// The reference walking categories of SPEC §1 (lower bounds, min/day) and the
/// risk ratios planted for them, from the HUNT study (JAMA Netw Open 2025).
pub const PLANTED_WALKING_RR: [(f64, f64); 4] =
    [(0.0, 1.0), (78.0, 0.87), (101.0, 0.77), (125.0, 0.76)];
/// Planted risk in the reference category at age 55, male, BMI 27.
pub const PLANTED_BASE_RISK: f64 = 0.16;
/// Planted risk ratio per 10 years of age.
pub const PLANTED_RR_AGE10: f64 = 1.08;
/// Planted risk ratio for women.
pub const PLANTED_RR_FEMALE: f64 = 1.15;
/// Planted risk ratio per 5 kg/m² of BMI.
pub const PLANTED_RR_BMI5: f64 = 1.05;
/// A valid accelerometer day has at least this much wear time (SPEC §3).
pub const VALID_WEAR_MIN: f64 = 600.0;

/// What to generate.
#[derive(Debug, Clone, Serialize)]
pub struct CohortSpec {
    /// Patients in the exercise programme.
    pub patients: usize,
    /// Weeks each patient follows the programme.
    pub weeks: u32,
    /// Participants of the walking-risk follow-up cohort.
    pub followup: usize,
    pub seed: u64,
    /// First possible enrolment date (patients enrol over the next 4 weeks).
    pub start: NaiveDate,
}

impl CohortSpec {
    pub fn new(patients: usize, weeks: u32, seed: u64) -> CohortSpec {
        CohortSpec {
            patients,
            weeks,
            followup: patients * 10,
            seed,
            // ok: a fixed valid calendar date.
            start: NaiveDate::from_ymd_opt(2025, 1, 6).expect("valid date"),
        }
    }
}

/// Rows written per table.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct GeneratedCounts {
    pub patients: u64,
    pub sessions: u64,
    pub walking: u64,
    pub outcomes: u64,
    pub followup: u64,
}

/// Everything generated for one programme patient.
#[derive(Debug, Clone, Default)]
pub struct GeneratedPatient {
    pub patient: Option<PatientRecord>,
    pub sessions: Vec<SessionRecord>,
    pub walking: Vec<WalkingDayRecord>,
    pub outcomes: Vec<OutcomeRecord>,
}

/// Everything generated for one follow-up participant.
#[derive(Debug, Clone)]
pub struct GeneratedParticipant {
    pub followup: FollowupRecord,
    pub walking: Vec<WalkingDayRecord>,
}

const SMALL_SITE: &str = "island";
/// Patients are generated and written in blocks of this many, so memory does
/// not grow with the cohort.
const BLOCK: usize = 512;
/// Stream-space offset that separates follow-up participants from patients.
const FOLLOWUP_STREAM: u64 = 1 << 40;

fn rng_for(seed: u64, stream: u64) -> ChaCha8Rng {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    rng.set_stream(stream);
    rng
}

fn normal(mean: f64, sd: f64) -> Normal {
    // ok: the parameters are constants of this module, all with sd > 0.
    Normal::new(mean, sd).expect("valid normal parameters")
}

fn round1(x: f64) -> f64 {
    (x * 10.0).round() / 10.0
}

/// Generates one programme patient.
pub fn generate_patient(spec: &CohortSpec, regimen: &Regimen, index: usize) -> GeneratedPatient {
    let mut rng = rng_for(spec.seed, index as u64);
    let id = format!("P{:05}", index + 1);
    let site = if index % 64 == 63 && index < 192 {
        SMALL_SITE
    } else {
        let u: f64 = rng.random();
        let mut acc = 0.0;
        let mut chosen = SITES[SITES.len() - 1].0;
        for (s, w) in SITES {
            acc += w;
            if u < acc {
                chosen = s;
                break;
            }
        }
        chosen
    };
    let age = rng.sample(normal(55.3, 15.1)).clamp(18.0, 90.0).round();
    let female = rng.random_bool(0.586);
    let bmi = round1(rng.sample(normal(27.0, 4.5)).clamp(16.0, 55.0));
    let stenosis = rng.random_bool(0.10);
    let true_baseline = rng.sample(normal(5.1, 1.5)).clamp(2.0, 10.0);
    let baseline_odi_true = rng.sample(normal(32.0, 12.0)).clamp(4.0, 90.0);
    // ok: constant, valid parameters.
    let propensity: f64 = rng.sample(Beta::new(8.0, 3.0).expect("valid beta"));
    let response: f64 = rng.sample(LogNormal::new(-0.125, 0.5).expect("valid lognormal"));
    let walk_median = rng.sample(LogNormal::new(70f64.ln(), 0.4).expect("valid lognormal"));
    let enrolled = spec.start + Duration::days(rng.random_range(0..28));
    let birth_year = enrolled.year() - age as i32;

    let days = spec.weeks * 7;
    let mut sessions = Vec::new();
    let mut walking = Vec::with_capacity(days as usize);
    let mut outcomes = Vec::new();
    let mut adherent_days = 0.0;
    let mut recent_during: [f64; 3] = [0.0; 3];
    let mut recent_n = 0usize;
    let mut flare_left = 0u32;
    let mut dropped = false;
    let noise_nrs = normal(0.0, 0.8);
    let noise_during = normal(0.0, 1.2);
    let noise_before = normal(0.0, 0.7);
    let noise_odi = normal(0.0, 4.0);
    let wear = normal(840.0, 90.0);
    // ok: constant, valid parameters.
    let walk_noise = LogNormal::new(0.0, 0.35).expect("valid lognormal");
    let safety = regimen.safety;
    let mut baseline_pain = None;
    let mut baseline_odi = None;

    for day in 0..=days {
        let date = enrolled + Duration::days(day as i64);
        if flare_left > 0 {
            flare_left -= 1;
        } else if rng.random_bool(1.0 / 60.0) {
            flare_left = rng.random_range(3..=7);
        }
        let flare = if flare_left > 0 { 1.5 } else { 0.0 };
        let pain = underlying_pain(true_baseline, day, adherent_days, response) + flare;

        // Outcomes: NRS weekly, ODI every 6 weeks and at the end.
        if day % 7 == 0 {
            let week = day / 7;
            let nrs = to_nrs(pain + rng.sample(noise_nrs));
            outcomes.push(OutcomeRecord {
                patient_id: id.clone(),
                date,
                measure: "nrs_pain",
                value: nrs,
            });
            if week == 0 {
                baseline_pain = Some(nrs);
            }
            if week % 6 == 0 || week == spec.weeks {
                let odi = (baseline_odi_true * pain / true_baseline + rng.sample(noise_odi))
                    .round()
                    .clamp(0.0, 100.0);
                outcomes.push(OutcomeRecord {
                    patient_id: id.clone(),
                    date,
                    measure: "odi",
                    value: odi,
                });
                if week == 0 {
                    baseline_odi = Some(odi);
                }
            }
        }
        if day == days {
            break; // the last day is the final assessment only
        }

        // Walking, every day of the programme.
        let short_day = rng.random_bool(0.08);
        let wear_min = if short_day {
            rng.random_range(200.0..VALID_WEAR_MIN).round()
        } else {
            rng.sample(wear).clamp(VALID_WEAR_MIN, 1080.0).round()
        };
        let walking_min = (walk_median * rng.sample(walk_noise) * wear_min / 840.0)
            .min(wear_min)
            .round();
        let steps = (walking_min * 105.0 + rng.random_range(500.0..2500.0)).round() as u32;
        walking.push(WalkingDayRecord {
            patient_id: id.clone(),
            date,
            walking_min,
            steps: Some(steps),
            wear_min: Some(wear_min),
            mean_met: None,
            source: "accel",
        });

        // Exercise.
        if !dropped && rng.random_bool(0.0015) {
            dropped = true;
        }
        if dropped {
            continue;
        }
        let recent = if recent_n == 0 {
            0.0
        } else {
            recent_during[..recent_n.min(3)].iter().sum::<f64>() / recent_n.min(3) as f64
        };
        let p_today = propensity * (-0.2 * (recent - 5.0).max(0.0)).exp();
        if !rng.random_bool(p_today.clamp(0.0, 1.0)) {
            continue;
        }
        let start_min = rng.random_range(7 * 60..20 * 60);
        let mut at = NaiveDateTime::new(date, NaiveTime::MIN) + Duration::minutes(start_min);
        let mut done_share = 0.0;
        let mut scheduled = 0.0;
        let mut session_during = Vec::new();
        for ex in &regimen.exercises {
            let p_do = match ex.frequency {
                Frequency::Daily => 0.9,
                Frequency::DaysPerWeek(_) => 0.45,
            };
            if ex.frequency == Frequency::Daily {
                scheduled += 1.0;
            }
            if !rng.random_bool(p_do) {
                continue;
            }
            let full = rng.random_bool(0.9);
            let dose = |rng: &mut ChaCha8Rng, r: lumbar_model::DoseRange| -> f64 {
                if full {
                    rng.random_range(r.min as i64..=r.max as i64) as f64
                } else {
                    (r.min - rng.random_range(1..=2) as f64).max(1.0)
                }
            };
            let mut reps = dose(&mut rng, ex.reps);
            let sets = dose(&mut rng, ex.sets);
            let hold = ex.hold_s.map(|h| {
                if full {
                    rng.random_range(h.min as i64..=h.max as i64) as f64
                } else {
                    (h.min * 0.6).round().max(1.0)
                }
            });
            let before = to_nrs(pain + rng.sample(noise_before));
            let during = to_nrs(pain + 0.3 + rng.sample(noise_during));
            let stopped = during >= safety.stop_pain_during && rng.random_bool(0.93);
            if stopped {
                reps = (reps / 2.0).floor().max(1.0);
            }
            let after = to_nrs(before - 0.3 + rng.sample(noise_before));
            let persist = if during >= 5.0 && rng.random_bool(0.03) {
                rng.random_range(21..=90) as f64
            } else if rng.random_bool(0.2) {
                rng.random_range(1..=15) as f64
            } else {
                0.0
            };
            let side = match ex.sides {
                Sides::Each => Some(if rng.random_bool(0.95) {
                    "both"
                } else if rng.random_bool(0.5) {
                    "left"
                } else {
                    "right"
                }),
                Sides::Alternating => Some("alternating"),
                Sides::None => None,
            };
            session_during.push(during);
            if ex.frequency == Frequency::Daily && !stopped {
                done_share += if full { 1.0 } else { 0.6 };
            }
            sessions.push(SessionRecord {
                patient_id: id.clone(),
                performed_at: at,
                exercise: ex.key.clone(),
                level: None,
                side,
                sets: Some(sets as u32),
                reps: Some(reps as u32),
                hold_s: hold,
                pain_before: Some(before),
                pain_during: Some(during),
                pain_after: Some(after),
                pain_persist_min: Some(persist),
                stopped_for_pain: Some(stopped),
                completed: Some(!stopped),
                source: "app",
            });
            at += Duration::minutes(3);
        }
        if !session_during.is_empty() {
            let m = session_during.iter().sum::<f64>() / session_during.len() as f64;
            recent_during.rotate_right(1);
            recent_during[0] = m;
            recent_n += 1;
        }
        if scheduled > 0.0 {
            adherent_days += done_share / scheduled;
        }
    }

    GeneratedPatient {
        patient: Some(PatientRecord {
            patient_id: id,
            site: site.to_string(),
            sex: if female { "female" } else { "male" },
            birth_year: Some(birth_year),
            age: Some(age),
            bmi: Some(bmi),
            enrolled_on: enrolled,
            stenosis,
            baseline_pain,
            baseline_odi,
            regimen: regimen.key.clone(),
        }),
        sessions,
        walking,
        outcomes,
    }
}

/// The planted risk ratio of a mean walking volume (min/day).
pub fn planted_walking_rr(mean_walking_min: f64) -> f64 {
    let mut rr = 1.0;
    for (lower, r) in PLANTED_WALKING_RR {
        if mean_walking_min >= lower {
            rr = r;
        }
    }
    rr
}

/// Generates one participant of the walking-risk follow-up cohort.
pub fn generate_participant(spec: &CohortSpec, index: usize) -> GeneratedParticipant {
    let mut rng = rng_for(spec.seed, FOLLOWUP_STREAM + index as u64);
    let id = format!("R{:06}", index + 1);
    let age = rng.sample(normal(55.3, 15.1)).clamp(20.0, 95.0).round();
    let female = rng.random_bool(0.586);
    let bmi = round1(rng.sample(normal(27.0, 4.0)).clamp(16.0, 55.0));
    let log_median = 100f64.ln() - 0.006 * (age - 55.0);
    let personal = (log_median + rng.sample(normal(0.0, 0.37))).exp();
    // ok: constant, valid parameters.
    let day_noise = LogNormal::new(0.0, 0.25).expect("valid lognormal");
    // HUNT4 measured 2017–2019; follow-up about 4.2 years.
    // ok: a fixed valid calendar date.
    let first = NaiveDate::from_ymd_opt(2017, 9, 1).expect("valid date");
    let baseline = first + Duration::days(rng.random_range(0..600));
    let mut walking = Vec::with_capacity(7);
    let (mut sum, mut valid) = (0.0, 0u32);
    for d in 0..7 {
        let wear_min = if rng.random_bool(0.06) {
            rng.random_range(120.0..VALID_WEAR_MIN).round()
        } else {
            rng.sample(normal(900.0, 80.0))
                .clamp(VALID_WEAR_MIN, 1200.0)
                .round()
        };
        let walking_min =
            round1((personal * rng.sample(day_noise) * wear_min / 900.0).min(wear_min));
        if wear_min >= VALID_WEAR_MIN {
            sum += walking_min;
            valid += 1;
        }
        walking.push(WalkingDayRecord {
            patient_id: id.clone(),
            date: baseline + Duration::days(d),
            walking_min,
            steps: None,
            wear_min: Some(wear_min),
            mean_met: Some(
                (rng.sample(normal(3.15, 0.12)).clamp(2.0, 6.0) * 100.0).round() / 100.0,
            ),
            source: "accel",
        });
    }
    let mean_walk = if valid > 0 {
        sum / valid as f64
    } else {
        f64::NAN
    };
    let rr_walk = if mean_walk.is_nan() {
        1.0
    } else {
        planted_walking_rr(mean_walk)
    };
    let p = (PLANTED_BASE_RISK
        * rr_walk
        * PLANTED_RR_AGE10.powf((age - 55.0) / 10.0)
        * if female { PLANTED_RR_FEMALE } else { 1.0 }
        * PLANTED_RR_BMI5.powf((bmi - 27.0) / 5.0))
    .min(0.95);
    let years = rng.sample(normal(4.2, 0.3)).clamp(3.0, 5.5);
    let f_days = (years * 365.25).round();
    let end = baseline + Duration::days(f_days as i64);
    let event = rng.random_bool(p);
    let event_date = if event {
        // Constant hazard λ with 1 − e^(−λF) = p; the event time given an
        // event in [0, F] is T = −ln(1 − u·p)/λ (inverse CDF of the truncated
        // exponential).
        let lambda = -(1.0 - p).ln() / f_days;
        let u: f64 = rng.random();
        let t = (-(1.0 - u * p).ln() / lambda).floor().clamp(1.0, f_days);
        Some(baseline + Duration::days(t as i64))
    } else {
        None
    };
    GeneratedParticipant {
        followup: FollowupRecord {
            patient_id: id,
            baseline_date: baseline,
            end_date: end,
            event,
            event_date,
            age,
            sex: if female { "female" } else { "male" },
            bmi,
        },
        walking,
    }
}

/// Generates the cohort into `sink`, table by table in index order: the
/// programme patients (each with their sessions, walking days and outcomes)
/// and then the follow-up participants (with their walking days). Calls
/// `progress(done, total)` after each block.
///
/// Patients are generated in parallel in blocks and handed on in index
/// order, so memory stays bounded and the rows do not depend on the thread
/// count.
pub fn generate(
    spec: &CohortSpec,
    regimen: &Regimen,
    sink: &mut impl RecordSink,
    mut progress: impl FnMut(usize, usize),
) -> io::Result<GeneratedCounts> {
    let mut counts = GeneratedCounts::default();
    let total = spec.patients + spec.followup;
    let mut done = 0;
    for start in (0..spec.patients).step_by(BLOCK) {
        let end = (start + BLOCK).min(spec.patients);
        let block: Vec<GeneratedPatient> = (start..end)
            .into_par_iter()
            .map(|i| generate_patient(spec, regimen, i))
            .collect();
        for rec in block {
            if let Some(p) = rec.patient {
                sink.patient(&p)?;
                counts.patients += 1;
            }
            for s in &rec.sessions {
                sink.session(s)?;
            }
            counts.sessions += rec.sessions.len() as u64;
            for d in &rec.walking {
                sink.walking(d)?;
            }
            counts.walking += rec.walking.len() as u64;
            for o in &rec.outcomes {
                sink.outcome(o)?;
            }
            counts.outcomes += rec.outcomes.len() as u64;
        }
        done += end - start;
        progress(done, total);
    }
    for start in (0..spec.followup).step_by(BLOCK) {
        let end = (start + BLOCK).min(spec.followup);
        let block: Vec<GeneratedParticipant> = (start..end)
            .into_par_iter()
            .map(|i| generate_participant(spec, i))
            .collect();
        for rec in block {
            sink.followup(&rec.followup)?;
            counts.followup += 1;
            for d in &rec.walking {
                sink.walking(d)?;
            }
            counts.walking += rec.walking.len() as u64;
        }
        done += end - start;
        progress(done, total);
    }
    Ok(counts)
}

/// Writes a short README of what was generated and how.
pub fn describe(
    spec: &CohortSpec,
    counts: &GeneratedCounts,
    mut out: impl Write,
) -> io::Result<()> {
    writeln!(
        out,
        "{} patients × {} weeks (sessions {}, walking days {}, outcomes {}), {} follow-up participants, seed {}",
        counts.patients,
        spec.weeks,
        counts.sessions,
        counts.walking,
        counts.outcomes,
        counts.followup,
        spec.seed
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn planted_rr_uses_left_closed_reference_cut_points() {
        assert_eq!(planted_walking_rr(77.9), 1.0);
        assert_eq!(planted_walking_rr(78.0), 0.87);
        assert_eq!(planted_walking_rr(100.9), 0.87);
        assert_eq!(planted_walking_rr(101.0), 0.77);
        assert_eq!(planted_walking_rr(125.0), 0.76);
    }

    #[test]
    fn a_patient_is_the_same_whatever_else_is_generated() {
        let r = Regimen::six_moves();
        let a = generate_patient(&CohortSpec::new(10, 4, 7), &r, 3);
        let b = generate_patient(&CohortSpec::new(500, 4, 7), &r, 3);
        assert_eq!(a.sessions, b.sessions);
        assert_eq!(a.patient, b.patient);
        let c = generate_patient(&CohortSpec::new(10, 4, 8), &r, 3);
        assert_ne!(a.sessions, c.sessions, "the seed must matter");
    }

    #[test]
    fn the_small_site_has_three_patients() {
        let r = Regimen::six_moves();
        let spec = CohortSpec::new(300, 1, 1);
        let n = (0..300)
            .filter(|&i| generate_patient(&spec, &r, i).patient.unwrap().site == SMALL_SITE)
            .count();
        assert_eq!(n, 3);
    }
}
