//! Patients given rather than drawn: a replay's real patients, each with
//! their own baseline pain and stenosis and latent traits chosen for them
//! (`lumbar replay`), simulated by the same day loop as every other run.

use rand::Rng;

use super::{RunContext, RunParams, SimError, Tally, ladder_keys, new_streams, simulate_patient};
use crate::progression::Programme;
use crate::scenario::{Population, Scenario};

/// A patient's latent traits: the population's draws besides baseline pain.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Traits {
    pub plateau: f64,
    /// The daily probability of exercising before pain lowers it.
    pub adherence: f64,
    pub response: f64,
    pub flare_rate: f64,
    /// The daily probability of leaving the programme.
    pub dropout: f64,
    pub capacity: f64,
    pub walking: f64,
}

impl Traits {
    /// One patient's traits drawn from `population` with `rng`, clamped to
    /// each prior's bounds as the engine's draws are.
    pub fn draw<R: Rng + ?Sized>(population: &Population, rng: &mut R) -> Result<Traits, String> {
        let mut one = |p: &crate::prior::Prior| -> Result<f64, String> {
            Ok(p.sampler()?.draw(rng, p.min, p.max))
        };
        Ok(Traits {
            plateau: one(&population.plateau)?,
            adherence: one(&population.adherence)?,
            response: one(&population.response)?,
            flare_rate: one(&population.flare_rate)?,
            dropout: one(&population.dropout)?,
            capacity: one(&population.capacity)?,
            walking: one(&population.walking)?,
        })
    }
}

/// One replayed patient.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct FixedPatient {
    /// Underlying pain at enrolment (NRS).
    pub baseline_pain: f64,
    pub stenosis: bool,
    pub traits: Traits,
    /// The tally the patient is counted in (a site), below `groups`.
    pub group: usize,
}

impl FixedPatient {
    /// The engine's eight baseline draws, in its order.
    pub(super) fn draws(&self) -> [f64; 8] {
        let t = &self.traits;
        [
            self.baseline_pain,
            t.plateau,
            t.adherence,
            t.response,
            t.flare_rate,
            t.dropout,
            t.capacity,
            t.walking,
        ]
    }
}

/// Simulates `patients` under scenario `s` with the run's parameters
/// `params` (patient i on the streams of index i of run `params.run`),
/// on this thread, into one tally per group.
///
/// The course streams are keyed by `pairing` instead of the scenario's
/// name: two scenarios simulated with the same key, run and patients draw
/// the same random numbers wherever their courses agree (the natural
/// history always), so their difference is paired.
pub fn simulate_fixed(
    s: &Scenario,
    params: &RunParams,
    patients: &[FixedPatient],
    groups: usize,
    pairing: u64,
) -> Result<Vec<Tally>, SimError> {
    let mut cx = RunContext::new(s, params)?;
    cx.scenario_id = pairing;
    let ladders = ladder_keys(s);
    let mut tallies: Vec<Tally> = (0..groups).map(|_| Tally::new(s.weeks, &ladders)).collect();
    let mut prog = Programme::new(s);
    let mut streams = new_streams();
    for (i, f) in patients.iter().enumerate() {
        let Some(tally) = tallies.get_mut(f.group) else {
            continue;
        };
        simulate_patient(
            &cx,
            i as u64,
            tally,
            &mut prog,
            &mut streams,
            None,
            None,
            Some(f),
        );
    }
    Ok(tallies)
}
