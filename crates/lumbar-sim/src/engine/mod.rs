//! The day-by-day patient model and the parallel, reproducible run.
//!
//! # One patient, one day
//!
//! At baseline a patient draws, from the scenario's priors ([`Population`]):
//! baseline pain b, natural-course plateau P (Beta, mean 0.506), adherence propensity q, response r, flare rate, daily
//! dropout hazard, capacity c₀ (ladder rungs manageable without extra pain),
//! stenosis, and a personal median of walking minutes. Each day d:
//!
//! 1. **Flares** start with the flare rate and last 3–7 days, adding 1.5.
//! 2. **Underlying pain** (NRS 0–10), with A the cumulative adherent days:
//!    `pain = max(0, b·N(d/7) − E·r·(1 − e^(−A/K))) + flare`, where
//!    `N(t) = P + (1 − P)·e^(−t/τ)` is the natural course fitted to the
//!    persistent-pain cohorts of Costa et al. 2012 (CMAJ 184:E613; 51 → 33
//!    at 6 weeks → 26 at 26 weeks on 0–100: mean P = 0.506, τ = 4.8 weeks;
//!    P varies between patients, SD 0.15, so not everyone recovers alike), and
//!    E is set so that 84 fully adherent days give `exercise_benefit` = 1.5
//!    NRS points for r = 1, the 15/100 extra improvement at 3 months of
//!    Hayden et al. 2021 (Cochrane review of exercise therapy for chronic low
//!    back pain; 95% CI 12–18), with K = 42 days.
//! 3. **Walking minutes**: the personal median × LogNormal(0, 0.35) noise ×
//!    (1 − 0.04 per NRS point of pain above 5).
//! 4. **Dropout**: with the daily hazard the patient leaves the programme
//!    for good (sessions stop; scheduled sessions still count, intention to
//!    treat; pain is still followed).
//! 5. **Exercising today** with probability
//!    `q·exp(−slope·max(0, m − onset))`, m the mean pain during the last 3
//!    sessions: adherence falls with pain during exercise (slope 0.2,
//!    onset 5, as the cohort generator).
//! 6. **Each scheduled item** (daily, or N/week on N days spread over the
//!    week) is done with probability 0.95 and at full dose with 0.95. Pain is
//!    reported on the NRS in halves: before = pain + N(0, 0.7); during =
//!    pain + 0.3 + 1.0·overload + stenosis + N(0, 1.2), where overload =
//!    max(0, rung − capacity) and capacity = c₀ + A/42 grows with adherent
//!    exercise, and stenosis adds 1.5 on stenosis-sensitive ladders (walking)
//!    until substituted; after = before − 0.3 + 0.5·overload + N(0, 0.7).
//! 7. **Safety rules** (always on): at pain during ≥ 7 the patient stops
//!    (with probability 0.93; continuing is a safety event); pain persisting
//!    over 20 min (probability 0.03·(1 + overload) after an item done at pain
//!    ≥ 5) flags the item unsuitable for this patient, and a flagged item is
//!    never advanced.
//! 8. An item **completes** when done at full dose and not stopped; A grows
//!    by the share of today's scheduled items completed.
//! 9. **Rules** ([`crate::rules`]) are checked at the end of the day.
//!
//! All constants above are [`Dynamics`] defaults that a scenario can set.
//!
//! # Reproducibility
//!
//! Each patient has two ChaCha8 streams: a population stream keyed by
//! (seed, run, patient) for the baseline draws and the natural history
//! (flares, walking noise), shared by all scenarios run with the same seed
//! (common random numbers, so `lumbar compare` contrasts the same patients
//! with the same flares), and a course stream keyed by (seed, scenario name,
//! run, patient) for everything the programme touches. PSA draws come from a stream keyed by
//! (seed, draw). Nothing depends on thread identity; tallies are integers
//! ([`crate::tally`]), so any split of the patients gives the same sums.
//!
//! # Speed
//!
//! The day loop takes its words through [`crate::draws::Draws`] (a local
//! block of 32 words, inline samplers), visits the scheduled items as bits
//! of a mask, keeps the week's counts in registers, and uses
//! [`lumbar_stats::numeric::exp`] (inlined, the same bits on every
//! machine) for walking noise, adherence and the exercise benefit. The
//! baseline priors still go through statrs on a `ChaCha8Rng` each: they are
//! drawn once per patient.

use std::ops::Range;

use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use rayon::prelude::*;
use sha2::{Digest, Sha256};

use lumbar_model::records::RecordSink;
use lumbar_stats::numeric::exp;

use crate::draws::{Draws, unit};

use crate::observed::{CohortBlock, CohortOptions, ItemDone, Layout, PatientLog};
use crate::prior::{Prior, Sampler};
use crate::progression::Programme;
use crate::rules::SessionOutcome;
use crate::scenario::{Dynamics, Population, Scenario, set_parameter};
use crate::tally::Tally;

/// Patients are simulated, and trajectories written, in blocks of this many;
/// shards split the cohort on block boundaries.
pub const BLOCK: u64 = 1024;

#[derive(Debug, thiserror::Error)]
pub enum SimError {
    #[error("PSA draw {draw}: parameter `{path}` drew {value}: {problem}")]
    Psa {
        draw: u32,
        path: String,
        value: f64,
        problem: String,
    },
    #[error("writing trajectories: {0}")]
    Trajectories(String),
    #[error("writing the cohort's tables: {0}")]
    Tables(String),
    #[error("shard {0}: {1}")]
    Shard(String, String),
    #[error("`{key}` {problem}")]
    Size { key: &'static str, problem: String },
}

pub use fixed::{FixedPatient, Traits, simulate_fixed};
pub use shard::Shard;
use trajectory::DayRecord;
pub use trajectory::{TrajectoryBlock, TrajectorySink};

mod fixed;
mod shard;
mod trajectory;

/// The parameters of one run (a PSA draw × a replication).
#[derive(Debug, Clone)]
pub struct RunParams {
    pub run: u32,
    pub draw: u32,
    pub replication: u32,
    pub population: Population,
    pub dynamics: Dynamics,
    /// The PSA values drawn, in the scenario's order.
    pub drawn: Vec<(String, f64)>,
}

/// The runs of a scenario with their parameters (PSA draws applied).
pub fn plan_runs(s: &Scenario) -> Result<Vec<RunParams>, SimError> {
    // Sizes are checked when a scenario is parsed; this guards one built or
    // changed by hand before anything is allocated for it.
    s.check_size()
        .map_err(|(key, problem)| SimError::Size { key, problem })?;
    let draws = s.psa.as_ref().map_or(1, |p| p.draws);
    let mut runs = Vec::with_capacity(s.runs() as usize);
    for draw in 0..draws {
        let mut population = s.population.clone();
        let mut dynamics = s.dynamics.clone();
        let mut drawn = Vec::new();
        if let Some(psa) = &s.psa {
            let mut rng = stream(s.seed, 0, draw as u64, PURPOSE_PSA, 0);
            for p in &psa.parameters {
                let value = p
                    .prior
                    .sampler()
                    .map(|smp| smp.draw(&mut rng, p.prior.min, p.prior.max))
                    .map_err(|problem| SimError::Psa {
                        draw,
                        path: p.path.clone(),
                        value: f64::NAN,
                        problem,
                    })?;
                set_parameter(&mut population, &mut dynamics, &p.path, value).map_err(
                    |problem| SimError::Psa {
                        draw,
                        path: p.path.clone(),
                        value,
                        problem,
                    },
                )?;
                drawn.push((p.path.clone(), value));
            }
            for (path, column) in &psa.joint {
                let value = column[draw as usize % column.len()];
                set_parameter(&mut population, &mut dynamics, path, value).map_err(|problem| {
                    SimError::Psa {
                        draw,
                        path: path.clone(),
                        value,
                        problem,
                    }
                })?;
                drawn.push((path.clone(), value));
            }
        }
        for replication in 0..s.replications {
            runs.push(RunParams {
                run: draw * s.replications + replication,
                draw,
                replication,
                population: population.clone(),
                dynamics: dynamics.clone(),
                drawn: drawn.clone(),
            });
        }
    }
    Ok(runs)
}

const PURPOSE_POPULATION: u64 = 0x706f_7075_6c61_7469; // "populati"
const PURPOSE_COURSE: u64 = 0x636f_7572_7365_0000; // "course"
const PURPOSE_PSA: u64 = 0x7073_6100_0000_0000; // "psa"
/// What the clinic would have logged ([`crate::observed`]): draws the
/// engine never makes, so recording changes none of its own.
const PURPOSE_OBSERVED: u64 = 0x6f62_7365_7276_6564; // "observed"

/// A ChaCha8 stream keyed by four 64-bit words (the 256-bit key) and
/// selected by `stream` (the patient index): distinct inputs, distinct
/// streams, with no hashing that could collide.
fn stream(seed: u64, scenario: u64, run: u64, purpose: u64, index: u64) -> ChaCha8Rng {
    let mut key = [0u8; 32];
    key[..8].copy_from_slice(&seed.to_le_bytes());
    key[8..16].copy_from_slice(&scenario.to_le_bytes());
    key[16..24].copy_from_slice(&run.to_le_bytes());
    key[24..].copy_from_slice(&purpose.to_le_bytes());
    let mut rng = ChaCha8Rng::from_seed(key);
    rng.set_stream(index);
    rng
}

/// The 64-bit identity of a scenario in its course streams: the first 8
/// bytes of SHA-256 of its name.
pub fn scenario_id(name: &str) -> u64 {
    let h = Sha256::digest(name.as_bytes());
    let mut b = [0u8; 8];
    b.copy_from_slice(&h[..8]);
    u64::from_le_bytes(b)
}

/// Everything fixed for one run, precomputed.
struct RunContext<'a> {
    s: &'a Scenario,
    params: &'a RunParams,
    scenario_id: u64,
    samplers: [(Sampler, f64, f64); 8],
    /// `e^(−(d/7)/τ)` for d = 0..=days.
    decay: Vec<f64>,
    /// E: the saturating benefit's maximum, NRS points for r = 1.
    benefit_max: f64,
    /// Per day of the week, the items scheduled on it (bit i: item i).
    scheduled_on: [u64; 7],
    /// Items whose pain rises with stenosis (walking), as bits.
    stenosis_sensitive: u64,
    ladders: Vec<usize>,
    /// Per item, its index among the ladders.
    ladder_of: Vec<Option<usize>>,
}

impl<'a> RunContext<'a> {
    fn new(s: &'a Scenario, params: &'a RunParams) -> Result<RunContext<'a>, SimError> {
        let p = &params.population;
        let d = &params.dynamics;
        let sampler = |name: &str, prior: &Prior| {
            prior
                .sampler()
                .map(|smp| (smp, prior.min, prior.max))
                .map_err(|problem| SimError::Psa {
                    draw: params.draw,
                    path: format!("population.{name}"),
                    value: f64::NAN,
                    problem,
                })
        };
        let samplers = [
            sampler("baseline_pain", &p.baseline_pain)?,
            sampler("plateau", &p.plateau)?,
            sampler("adherence", &p.adherence)?,
            sampler("response", &p.response)?,
            sampler("flare_rate", &p.flare_rate)?,
            sampler("dropout", &p.dropout)?,
            sampler("capacity", &p.capacity)?,
            sampler("walking", &p.walking)?,
        ];
        let decay = (0..=s.days())
            .map(|day| (-(day as f64 / 7.0) / d.natural_tau_weeks).exp())
            .collect();
        let benefit_max = d.exercise_benefit / (1.0 - (-84.0 / d.exercise_k_days).exp());
        let scheduled_on = scheduled_on(s);
        let mut stenosis_sensitive = 0u64;
        for (i, it) in s.items.iter().enumerate() {
            stenosis_sensitive |= (it.stenosis_sensitive as u64) << i;
        }
        let ladders: Vec<usize> = (0..s.items.len())
            .filter(|&i| s.items[i].is_ladder)
            .collect();
        let mut ladder_of = vec![None; s.items.len()];
        for (li, &i) in ladders.iter().enumerate() {
            ladder_of[i] = Some(li);
        }
        Ok(RunContext {
            s,
            params,
            scenario_id: scenario_id(&s.name),
            samplers,
            decay,
            benefit_max,
            scheduled_on,
            stenosis_sensitive,
            ladders,
            ladder_of,
        })
    }
}

/// Per day since enrolment mod 7, the scenario's items scheduled on it
/// (bit i: item i): an item N days a week is on days ⌊k·7/N⌋, k < N.
pub fn scheduled_on(s: &Scenario) -> [u64; 7] {
    let mut on = [0u64; 7];
    for (i, it) in s.items.iter().enumerate() {
        let n = it.frequency.days_per_week().clamp(1, 7) as u32;
        for k in 0..n {
            on[(k * 7 / n) as usize] |= 1 << i;
        }
    }
    on
}

/// Pain as reported: clamped to 0–10 and rounded to the nearest half
/// (halves up). The same as [`crate::dynamics::to_nrs`] up to ties, but with
/// a truncating cast instead of libm's `round`, which is a function call on
/// baseline x86-64 (no SSE4.1) and was 15% of the simulator's time.
#[inline]
fn to_nrs(x: f64) -> f64 {
    let c = x.clamp(0.0, 10.0);
    ((c * 2.0 + 0.5) as u32) as f64 * 0.5
}

/// A week's exercise counts, kept in registers through the week and added
/// to the run's tally (with the week's adherence) when it ends.
#[derive(Default)]
struct WeekCounts {
    scheduled: u64,
    completed: u64,
    safety_events: u64,
    unsuitable: u64,
    walking_sum: u64,
    walking_days: u64,
}

impl WeekCounts {
    fn add_to(&mut self, w: &mut crate::tally::WeekTally) {
        // Adherent: at least 70% of the week's scheduled sessions completed.
        if self.scheduled > 0 {
            w.with_schedule += 1;
            w.adherent += (self.completed as f64 >= 0.7 * self.scheduled as f64) as u64;
        }
        w.scheduled += self.scheduled;
        w.completed += self.completed;
        w.safety_events += self.safety_events;
        w.unsuitable += self.unsuitable;
        w.walking_sum += self.walking_sum;
        w.walking_days += self.walking_days;
        *self = WeekCounts::default();
    }
}

/// A patient's two day-by-day streams (natural history, course), restarted
/// for each patient so that their blocks are allocated once per block of
/// patients.
fn new_streams() -> [Draws; 2] {
    [(); 2].map(|_| Draws::new(ChaCha8Rng::from_seed([0; 32])))
}

/// Simulates one patient of one run into `tally` (and `traj`). Returns the
/// 32-bit random words the patient drew.
// The day loop's state and its three optional companions (trajectory,
// clinic log, given patient) are separate borrows: a struct of them would
// only move the eight names one level down.
#[allow(clippy::too_many_arguments)]
fn simulate_patient(
    cx: &RunContext<'_>,
    patient: u64,
    tally: &mut Tally,
    prog: &mut Programme<'_>,
    streams: &mut [Draws; 2],
    mut traj: Option<&mut TrajectoryBlock>,
    mut log: Option<&mut PatientLog<'_>>,
    fixed: Option<&FixedPatient>,
) -> u64 {
    let s = cx.s;
    let d = &cx.params.dynamics;
    let run = cx.params.run as u64;
    let stop = s.regimen.safety.stop_pain_during;

    // Baseline draws: each prior from its own stream, so that changing one
    // prior (or fixing it) leaves every other draw of the patient unchanged.
    let mut words = 0u64;
    let mut baseline_draws = [0.0f64; 8];
    match fixed {
        // A replayed patient: their own baseline, and traits given to them.
        Some(f) => baseline_draws = f.draws(),
        None => {
            for (k, slot) in baseline_draws.iter_mut().enumerate() {
                let (smp, lo, hi) = &cx.samplers[k];
                let mut r = stream(s.seed, k as u64 + 1, run, PURPOSE_POPULATION, patient);
                *slot = smp.draw(&mut r, *lo, *hi);
                words += r.get_word_pos() as u64;
            }
        }
    }
    let [
        baseline,
        plateau,
        propensity,
        response,
        flare_rate,
        hazard,
        capacity0,
        walk_median,
    ] = baseline_draws;
    // The natural history (stenosis, flares, walking noise): shared by all
    // scenarios with this seed.
    let [pop, rng] = streams;
    pop.restart(stream(s.seed, 0, run, PURPOSE_POPULATION, patient));
    // Drawn whether or not it is fixed, so the stream stays aligned.
    let drawn_stenosis = pop.uniform() < cx.params.population.stenosis_share;
    let stenosis = fixed.map_or(drawn_stenosis, |f| f.stenosis);
    if let Some(l) = log.as_deref_mut() {
        let own = stream(s.seed, 0, run, PURPOSE_OBSERVED, patient);
        l.start(patient, own, stenosis, baseline);
    }

    rng.restart(stream(s.seed, cx.scenario_id, run, PURPOSE_COURSE, patient));
    let has_items = !s.items.is_empty();
    let has_rules = !s.rules.is_empty();
    let sensitive = if stenosis { cx.stenosis_sensitive } else { 0 };
    prog.reset();
    for (li, &i) in cx.ladders.iter().enumerate() {
        if prog.items[i].reached_top {
            tally.ladders[li].reached[0] += 1;
        }
    }

    let days = s.days();
    let mut adherent_days = 0.0f64;
    let mut benefit = 0.0f64;
    let mut flare_left = 0u32;
    let mut dropped = false;
    let mut recent = [0.0f64; 3];
    let mut recent_n = 0usize;
    let mut pain0 = 0.0;
    let mut counts = WeekCounts::default();

    for day in 0..=days {
        if flare_left > 0 {
            flare_left -= 1;
        } else if pop.chance(flare_rate) {
            flare_left = pop.between(d.flare_min_days, d.flare_max_days);
        }
        let flare = flare_left > 0;
        let natural = plateau + (1.0 - plateau) * cx.decay[day as usize];
        let pain = (baseline * natural - benefit).max(0.0) + if flare { d.flare_pain } else { 0.0 };

        if day % 7 == 0 {
            let w = &mut tally.weeks[(day / 7) as usize];
            w.pain(pain);
            if day == 0 {
                pain0 = pain;
            } else if pain0 > 0.0 && pain <= 0.7 * pain0 {
                w.responders += 1;
            }
            if dropped {
                w.dropped += 1;
            }
        }
        if day == days {
            if let Some(l) = log.as_deref_mut() {
                l.day(day, pain, None);
            }
            if let Some(t) = traj.as_deref_mut() {
                t.push(
                    cx,
                    prog,
                    patient,
                    day,
                    DayRecord {
                        pain,
                        flare,
                        walking: f64::NAN,
                        exercised: false,
                        scheduled: 0,
                        completed: 0,
                        safety_events: 0,
                        dropped,
                    },
                );
            }
            break;
        }
        let week = (day / 7 + 1) as usize;

        // Walking minutes to 0.1 min (non-negative, so rounding half up is
        // a truncating cast).
        let noise = exp(0.35 * pop.normal());
        let tenths = (walk_median * noise * (1.0 - 0.04 * (pain - 5.0).max(0.0)).max(0.0) * 10.0
            + 0.5) as u64;
        let walking = tenths as f64 / 10.0;
        counts.walking_sum += tenths;
        counts.walking_days += 1;
        if let Some(l) = log.as_deref_mut() {
            l.day(day, pain, Some(walking));
        }

        let (exercised, scheduled, completed, safety_events) = 'day: {
            if !has_items {
                break 'day (false, 0, 0, 0);
            }
            if !dropped && rng.chance(hazard) {
                dropped = true;
            }
            let today = cx.scheduled_on[(day % 7) as usize] & prog.active_items();
            let scheduled = today.count_ones();
            prog.start_day();
            counts.scheduled += scheduled as u64;
            if dropped {
                break 'day (false, scheduled, 0, 0);
            }

            let mean_recent = if recent_n == 0 {
                0.0
            } else {
                recent[..recent_n].iter().sum::<f64>() / recent_n as f64
            };
            let excess = (mean_recent - d.adherence_pain_onset).max(0.0);
            let p_today = if excess > 0.0 {
                propensity * exp(-d.adherence_pain_slope * excess)
            } else {
                propensity
            };
            let exercised = scheduled > 0 && rng.chance(p_today);
            let mut completed = 0u32;
            let mut safety_events = 0u32;
            if exercised {
                let capacity = capacity0 + adherent_days / d.capacity_gain_days;
                let mut during_sum = 0.0;
                let mut sessions = 0u32;
                let mut left = today;
                while left != 0 {
                    let i = left.trailing_zeros() as usize;
                    left &= left - 1;
                    if !rng.chance(d.do_item) {
                        continue;
                    }
                    // The dose and the three pain reports' deviates.
                    let [w_full, w_before, w_during, w_after] = rng.words::<4>();
                    let st = prog.items[i];
                    let full = unit(w_full) < d.full_dose;
                    let overload = if st.substituted {
                        0.0
                    } else {
                        (st.rung as f64 - capacity).max(0.0)
                    };
                    let sten = if (sensitive >> i) & 1 == 1 && !st.substituted {
                        d.stenosis_pain
                    } else {
                        0.0
                    };
                    let before = to_nrs(pain + 0.7 * rng.normal_from(w_before));
                    let during = to_nrs(
                        pain + 0.3
                            + d.overload_pain * overload
                            + sten
                            + 1.2 * rng.normal_from(w_during),
                    );
                    let at_stop = during >= stop;
                    let stopped = at_stop && rng.chance(d.obey_stop);
                    safety_events += (at_stop && !stopped) as u32;
                    let after = to_nrs(
                        before - 0.3
                            + 0.5 * d.overload_pain * overload
                            + 0.7 * rng.normal_from(w_after),
                    );
                    let persist = if during >= 5.0
                        && rng.chance((d.persist_share * (1.0 + overload)).min(1.0))
                    {
                        rng.between(21, 90) as f64
                    } else if rng.chance(0.2) {
                        rng.between(1, 15) as f64
                    } else {
                        0.0
                    };
                    let done = full && !stopped;
                    if let Some(l) = log.as_deref_mut() {
                        l.item(
                            day,
                            &ItemDone {
                                item: i,
                                rung: st.rung,
                                substituted: st.substituted,
                                full,
                                before,
                                during,
                                after,
                                persist_min: persist,
                                stopped,
                                completed: done,
                            },
                        );
                    }
                    completed += done as u32;
                    during_sum += during;
                    sessions += 1;
                    let outcome = SessionOutcome {
                        completed: done,
                        pain_before: before,
                        pain_during: during,
                        pain_after: after,
                        pain_persist_min: persist,
                    };
                    counts.unsuitable += prog.record(i, &outcome) as u64;
                }
                if sessions > 0 {
                    recent.rotate_right(1);
                    recent[0] = during_sum / sessions as f64;
                    recent_n = (recent_n + 1).min(3);
                }
            }
            counts.completed += completed as u64;
            counts.safety_events += safety_events as u64;
            if scheduled > 0 && completed > 0 {
                adherent_days += completed as f64 / scheduled as f64;
                benefit =
                    cx.benefit_max * response * (1.0 - exp(-adherent_days / d.exercise_k_days));
            }
            if has_rules {
                let ladder_of = &cx.ladder_of;
                let reached = &mut tally.ladders;
                prog.end_of_day(
                    day,
                    stenosis,
                    |_| {},
                    |i| {
                        if let Some(li) = ladder_of[i] {
                            reached[li].reached[(day + 1) as usize] += 1;
                        }
                    },
                );
            }
            (exercised, scheduled, completed, safety_events)
        };
        // The week w = days 7(w − 1) … 7w − 1 ends (the horizon is whole weeks).
        if day % 7 == 6 {
            counts.add_to(&mut tally.weeks[week]);
        }
        if let Some(t) = traj.as_deref_mut() {
            t.push(
                cx,
                prog,
                patient,
                day,
                DayRecord {
                    pain,
                    flare,
                    walking,
                    exercised,
                    scheduled,
                    completed,
                    safety_events,
                    dropped,
                },
            );
        }
    }
    for (li, &i) in cx.ladders.iter().enumerate() {
        if !prog.items[i].reached_top {
            tally.ladders[li].never += 1;
        }
    }
    words + pop.words_used() + rng.words_used()
}

/// How to run.
#[derive(Debug, Clone, Copy)]
pub struct RunOptions {
    pub shard: Shard,
}

/// The result of simulating a slice of the cohort: one tally per run.
#[derive(Debug, Clone)]
pub struct Simulated {
    pub patients: Range<u64>,
    pub runs: Vec<RunParams>,
    pub tallies: Vec<Tally>,
}

/// Keys of the programme's ladders, in item order.
pub fn ladder_keys(s: &Scenario) -> Vec<String> {
    s.items
        .iter()
        .filter(|i| i.is_ladder)
        .map(|i| i.key.clone())
        .collect()
}

/// Simulates every run of the scenario over this shard's patients, in
/// parallel over blocks of patients on rayon's current pool. `progress` is
/// called with the number of patient-runs finished by each block.
pub fn simulate(
    s: &Scenario,
    opts: RunOptions,
    sink: Option<&dyn TrajectorySink>,
    progress: &(dyn Fn(u64) + Sync),
) -> Result<Simulated, SimError> {
    let runs = plan_runs(s)?;
    let range = opts.shard.patients(s.patients);
    let ladders = ladder_keys(s);
    let blocks: Vec<u64> = (range.start..range.end).step_by(BLOCK as usize).collect();
    let mut tallies = Vec::with_capacity(runs.len());
    for params in &runs {
        let cx = RunContext::new(s, params)?;
        // At most ~16 accumulators per thread, whatever the cohort size:
        // memory grows with threads × weeks, not with patients. Sixteen
        // pieces per thread, not four, so that a thread slowed by a
        // neighbour on a shared machine leaves less for the others to wait on.
        let min_len = (blocks.len() / (rayon::current_num_threads() * 16)).max(1);
        let tally = blocks
            .par_iter()
            .with_min_len(min_len)
            .try_fold(
                || Tally::new(s.weeks, &ladders),
                |mut acc, &start| {
                    let end = (start + BLOCK).min(range.end);
                    let mut prog = Programme::new(s);
                    let mut traj = sink.map(|_| TrajectoryBlock {
                        run: params.run,
                        first_patient: start,
                        ladder_keys: ladders.clone(),
                        rungs: vec![Vec::new(); ladders.len()],
                        ..Default::default()
                    });
                    let mut streams = new_streams();
                    for p in start..end {
                        simulate_patient(
                            &cx,
                            p,
                            &mut acc,
                            &mut prog,
                            &mut streams,
                            traj.as_mut(),
                            None,
                            None,
                        );
                    }
                    if let (Some(sink), Some(t)) = (sink, &traj) {
                        sink.write(t).map_err(SimError::Trajectories)?;
                    }
                    progress(end - start);
                    Ok(acc)
                },
            )
            .try_reduce(
                || Tally::new(s.weeks, &ladders),
                |mut a, b| {
                    a.add(&b);
                    Ok(a)
                },
            )?;
        tallies.push(tally);
    }
    Ok(Simulated {
        patients: range,
        runs,
        tallies,
    })
}

/// Simulates the scenario's patients once (its first run: PSA draw 0, or
/// the point values) and hands what a clinic would have logged about them
/// ([`crate::observed`]) to `sink`, in patient order, a few blocks of
/// patients at a time (simulated in parallel; memory holds those blocks
/// only). The engine's draws are those of [`simulate`]'s first run, so
/// the logged patients are the simulated ones. Returns the patients.
pub fn simulate_cohort(
    s: &Scenario,
    opts: &CohortOptions,
    sink: &mut dyn RecordSink,
    progress: &(dyn Fn(u64) + Sync),
) -> Result<u64, SimError> {
    let runs = plan_runs(s)?;
    let cx = RunContext::new(s, &runs[0])?;
    let ladders = ladder_keys(s);
    let layout = Layout::new(s);
    let blocks: Vec<u64> = (0..s.patients).step_by(BLOCK as usize).collect();
    let at_once = 4 * rayon::current_num_threads().max(1);
    for group in blocks.chunks(at_once) {
        let done: Vec<CohortBlock> = group
            .par_iter()
            .map(|&start| {
                let end = (start + BLOCK).min(s.patients);
                let mut tally = Tally::new(s.weeks, &ladders);
                let mut prog = Programme::new(s);
                let mut streams = new_streams();
                let log_rng = Draws::new(ChaCha8Rng::from_seed([0; 32]));
                let mut log = PatientLog::new(&layout, s, opts, log_rng);
                // About half the patient-day-items are logged sessions
                // (the demo's 55%): reserved, the block is not copied as
                // it grows.
                log.block
                    .sessions
                    .reserve(((end - start) as usize * s.days() as usize * s.items.len()) / 2);
                for p in start..end {
                    simulate_patient(
                        &cx,
                        p,
                        &mut tally,
                        &mut prog,
                        &mut streams,
                        None,
                        Some(&mut log),
                        None,
                    );
                }
                progress(end - start);
                log.block
            })
            .collect();
        for b in &done {
            b.write_to(sink)
                .map_err(|e| SimError::Tables(e.to_string()))?;
        }
    }
    Ok(s.patients)
}

/// Random 32-bit words one patient-day draws, measured on real patients
/// (the ChaCha8 word positions after each patient, baseline draws included,
/// divided by the days simulated). For the benchmark's generator-bound limit.
pub fn words_per_patient_day(s: &Scenario, patients: u64) -> Result<f64, SimError> {
    let runs = plan_runs(s)?;
    let cx = RunContext::new(s, &runs[0])?;
    let ladders = ladder_keys(s);
    let mut tally = Tally::new(s.weeks, &ladders);
    let mut prog = Programme::new(s);
    let mut words = 0u64;
    let mut streams = new_streams();
    for p in 0..patients {
        words += simulate_patient(
            &cx,
            p,
            &mut tally,
            &mut prog,
            &mut streams,
            None,
            None,
            None,
        );
    }
    Ok(words as f64 / (patients as f64 * s.days() as f64))
}

#[cfg(test)]
mod tests {
    #[test]
    fn fast_nrs_rounding_agrees_with_the_generator() {
        for i in -400..1600 {
            let x = i as f64 * 0.01 + 0.003;
            assert_eq!(super::to_nrs(x), crate::dynamics::to_nrs(x), "{x}");
        }
        assert_eq!(super::to_nrs(f64::NAN), 0.0);
    }
}
