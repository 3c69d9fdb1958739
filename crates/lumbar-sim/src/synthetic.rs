//! The synthetic cohort generator behind `lumbar generate`.
//!
//! It produces the five canonical tables as records (written as CSV by
//! lumbar-io's `CsvTables`, through [`RecordSink`]): a programme cohort (patients
//! following the regimen for `weeks`, with their sessions, daily walking and
//! weekly outcomes) and a separate walking-risk follow-up cohort shaped like
//! the HUNT study (SPEC §1).
//!
//! # The programme cohort is the simulator's
//!
//! The programme patients are [`crate::engine`]'s, logged by
//! [`crate::observed`] exactly as `lumbar simulate --cohort-tables` logs
//! them: one patient model for the data lumbar makes and the data its
//! simulator runs on, so a calibration fitted to a generated cohort
//! fits the simulator's own parameters. The scenario is
//! [`programme_scenario`]: the regimen's exercises at their prescribed
//! doses, no progression rules, the default population priors and
//! dynamics of [`crate::scenario`] (sources there and in
//! [`crate::dynamics`]). Ids are `P00001…`; the small site `island` gets
//! patients 64, 128 and 192 only, so any cohort of 192 or more has a site
//! with 3 patients (small-cell suppression); every other site is drawn
//! (north, south, east, west: 35/30/20/15%).
//!
//! # What is planted in the follow-up cohort
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
//! seed and its index (never from thread identity; the patients' are the
//! engine's), and rows are handed on in index order, so the same arguments give byte-identical files whatever
//! the thread count. Values are rounded (pain to halves, minutes to 0.1) before
//! they are written.

use std::io::{self, Write};

use chrono::{Duration, NaiveDate};
use lumbar_model::Regimen;
use lumbar_model::records::{
    FollowupRecord, OutcomeRecord, PatientRecord, RecordSink, SessionRecord, WalkingDayRecord,
};
use rand::{RngExt, SeedableRng};
use rand_chacha::ChaCha8Rng;
use rayon::prelude::*;
use serde::Serialize;
use statrs::distribution::{LogNormal, Normal};

use crate::engine::{SimError, simulate_cohort};
use crate::observed::CohortOptions;
use crate::scenario::{Scenario, ScenarioError};

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
    let shared: std::sync::Arc<str> = id.as_str().into();
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
            patient_id: shared.clone(),
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

/// The scenario of `lumbar generate`'s programme cohort: `regimen`'s
/// exercises at their doses for `weeks`, `patients` of them, `seed`.
pub fn programme_scenario(
    regimen: &Regimen,
    patients: usize,
    weeks: u32,
    seed: u64,
) -> Result<Scenario, ScenarioError> {
    let text = format!(
        "name = \"programme\"\n\
         description = \"lumbar generate: the regimen's exercises at their prescribed doses\"\n\
         weeks = {weeks}\npatients = {patients}\nseed = {seed}\n\
         [programme]\nexercises = \"all\"\n"
    );
    Scenario::for_regimen(&text, "lumbar generate's programme", regimen.clone())
}

/// Counts the rows handed on to the sink it wraps.
struct Counting<'a, S: RecordSink> {
    sink: &'a mut S,
    counts: GeneratedCounts,
}

impl<S: RecordSink> RecordSink for Counting<'_, S> {
    fn patient(&mut self, r: &PatientRecord) -> io::Result<()> {
        self.counts.patients += 1;
        self.sink.patient(r)
    }
    fn session(&mut self, r: &SessionRecord) -> io::Result<()> {
        self.counts.sessions += 1;
        self.sink.session(r)
    }
    fn walking(&mut self, r: &WalkingDayRecord) -> io::Result<()> {
        self.counts.walking += 1;
        self.sink.walking(r)
    }
    fn outcome(&mut self, r: &OutcomeRecord) -> io::Result<()> {
        self.counts.outcomes += 1;
        self.sink.outcome(r)
    }
    fn followup(&mut self, r: &FollowupRecord) -> io::Result<()> {
        self.counts.followup += 1;
        self.sink.followup(r)
    }
}

/// Why a cohort could not be generated.
#[derive(Debug, thiserror::Error)]
pub enum GenerateError {
    #[error(transparent)]
    Scenario(#[from] ScenarioError),
    #[error(transparent)]
    Sim(#[from] SimError),
    #[error(transparent)]
    Io(#[from] io::Error),
}

/// Generates the cohort into `sink`, table by table in index order: the
/// programme patients (each with their sessions, walking days and
/// outcomes: [`crate::engine::simulate_cohort`] on [`programme_scenario`])
/// and then the follow-up participants (with their walking days). Calls
/// `progress(done, total)` as blocks finish.
///
/// Both are made in parallel in blocks and handed on in index order, so
/// memory stays bounded and the rows do not depend on the thread count.
pub fn generate(
    spec: &CohortSpec,
    regimen: &Regimen,
    sink: &mut impl RecordSink,
    mut progress: impl FnMut(usize, usize) + Send,
) -> Result<GeneratedCounts, GenerateError> {
    let total = spec.patients + spec.followup;
    let mut out = Counting {
        sink,
        counts: GeneratedCounts::default(),
    };
    if spec.patients > 0 {
        let scenario = programme_scenario(regimen, spec.patients, spec.weeks, spec.seed)?;
        let opts = CohortOptions {
            start: spec.start,
            ids: ("P", 5),
            small_site: Some(SMALL_SITE),
            ..CohortOptions::default()
        };
        let done = std::sync::atomic::AtomicUsize::new(0);
        let progress_at = std::sync::Mutex::new(&mut progress);
        simulate_cohort(&scenario, &opts, &mut out, &|n| {
            let d = done.fetch_add(n as usize, std::sync::atomic::Ordering::Relaxed) + n as usize;
            if let Ok(mut p) = progress_at.lock() {
                p(d, total);
            }
        })?;
    }
    let mut done = spec.patients;
    for start in (0..spec.followup).step_by(BLOCK) {
        let end = (start + BLOCK).min(spec.followup);
        let block: Vec<GeneratedParticipant> = (start..end)
            .into_par_iter()
            .map(|i| generate_participant(spec, i))
            .collect();
        for rec in block {
            out.followup(&rec.followup)?;
            for d in &rec.walking {
                out.walking(d)?;
            }
        }
        done += end - start;
        progress(done, total);
    }
    Ok(out.counts)
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

    /// A memory sink for tests.
    #[derive(Default)]
    struct Rows {
        patients: Vec<PatientRecord>,
        sessions: Vec<SessionRecord>,
        outcomes: Vec<OutcomeRecord>,
    }
    impl RecordSink for Rows {
        fn patient(&mut self, r: &PatientRecord) -> io::Result<()> {
            self.patients.push(r.clone());
            Ok(())
        }
        fn session(&mut self, r: &SessionRecord) -> io::Result<()> {
            self.sessions.push(r.clone());
            Ok(())
        }
        fn walking(&mut self, _: &WalkingDayRecord) -> io::Result<()> {
            Ok(())
        }
        fn outcome(&mut self, r: &OutcomeRecord) -> io::Result<()> {
            self.outcomes.push(r.clone());
            Ok(())
        }
        fn followup(&mut self, _: &FollowupRecord) -> io::Result<()> {
            Ok(())
        }
    }

    #[test]
    fn the_programme_cohort_is_the_simulators_with_a_small_site() {
        let r = Regimen::six_moves();
        let mut spec = CohortSpec::new(300, 2, 1);
        spec.followup = 0;
        let mut rows = Rows::default();
        let counts = generate(&spec, &r, &mut rows, |_, _| {}).unwrap();
        assert_eq!(counts.patients, 300);
        assert_eq!(counts.sessions as usize, rows.sessions.len());
        let island: Vec<&str> = rows
            .patients
            .iter()
            .filter(|p| p.site == SMALL_SITE)
            .map(|p| p.patient_id.as_str())
            .collect();
        assert_eq!(island, ["P00064", "P00128", "P00192"]);
        // The same rows as `lumbar simulate --cohort-tables` of its scenario.
        let s = programme_scenario(&r, 300, 2, 1).unwrap();
        let mut direct = Rows::default();
        let opts = CohortOptions {
            start: spec.start,
            ids: ("P", 5),
            small_site: Some(SMALL_SITE),
            ..CohortOptions::default()
        };
        simulate_cohort(&s, &opts, &mut direct, &|_| {}).unwrap();
        assert_eq!(rows.sessions, direct.sessions);
        assert_eq!(rows.outcomes, direct.outcomes);
        // Weekly NRS, weeks 0 … 2, for every patient.
        assert_eq!(
            rows.outcomes
                .iter()
                .filter(|o| o.measure == "nrs_pain")
                .count(),
            900
        );
        // The seed matters.
        let mut other = Rows::default();
        generate(
            &CohortSpec {
                seed: 2,
                ..spec.clone()
            },
            &r,
            &mut other,
            |_, _| {},
        )
        .unwrap();
        assert_ne!(rows.sessions, other.sessions);
    }

    #[test]
    fn a_clinics_enrolment_dates_and_cut_off_are_kept() {
        let r = Regimen::six_moves();
        let s = programme_scenario(&r, 3, 4, 9).unwrap();
        let day = |d: u32| NaiveDate::from_ymd_opt(2024, 3, d).unwrap();
        let opts = CohortOptions {
            enrolment: Some(vec![day(1), day(10)].into()),
            cutoff: Some(day(20)),
            ..CohortOptions::default()
        };
        let mut rows = Rows::default();
        simulate_cohort(&s, &opts, &mut rows, &|_| {}).unwrap();
        let enrolled: Vec<NaiveDate> = rows.patients.iter().map(|p| p.enrolled_on).collect();
        // Patient i takes date i mod 2.
        assert_eq!(enrolled, [day(1), day(10), day(1)]);
        assert!(
            rows.sessions
                .iter()
                .all(|x| x.performed_at.date() <= day(20))
        );
        assert!(rows.outcomes.iter().all(|o| o.date <= day(20)));
        // Patient 2 (enrolled on the 10th) has NRS on days 0 and 7 only.
        let late = rows
            .outcomes
            .iter()
            .filter(|o| &*o.patient_id == "S000002" && o.measure == "nrs_pain")
            .count();
        assert_eq!(late, 2);
    }
}
