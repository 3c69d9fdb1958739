//! How big a scenario may be, and the overrides a command line applies
//! (each checked against those limits).

use super::*;

/// The longest horizon a scenario may ask for (10 years).
pub const MAX_WEEKS: u32 = 520;

/// The largest cohort of one run: a billion patients (about 6 hours a run
/// of 12 weeks on two cores at this machine's 4.7 M patient-days/s).
pub const MAX_PATIENTS: u64 = 1_000_000_000;

/// The most runs (PSA draws × replications) a scenario may ask for.
pub const MAX_RUNS: u32 = 10_000;

/// The most run-weeks, runs × (weeks + 1): every run's weekly tallies are
/// held until the end (a week's pain histogram alone is 8 KiB), so this
/// bounds them to about 0.5 GiB; e.g. 5,041 runs of 12 weeks.
pub const MAX_RUN_WEEKS: u64 = 65_536;

/// Checks a cohort size, horizon and number of runs against the maxima
/// above (in checked arithmetic: sizes come from the user); the error names
/// the key at fault and the limit.
pub fn check_size(
    patients: u64,
    weeks: u32,
    psa_draws: Option<u32>,
    replications: u32,
) -> Result<(), (&'static str, String)> {
    if patients == 0 || patients > MAX_PATIENTS {
        return Err((
            "patients",
            format!("must be 1 to {MAX_PATIENTS}, not {patients}"),
        ));
    }
    if weeks == 0 || weeks > MAX_WEEKS {
        return Err(("weeks", format!("must be 1 to {MAX_WEEKS}, not {weeks}")));
    }
    if replications == 0 || replications > MAX_RUNS {
        return Err((
            "replications",
            format!("must be 1 to {MAX_RUNS}, not {replications}"),
        ));
    }
    if let Some(d) = psa_draws
        && (d == 0 || d > MAX_RUNS)
    {
        return Err(("psa.draws", format!("must be 1 to {MAX_RUNS}, not {d}")));
    }
    let runs = u64::from(psa_draws.unwrap_or(1)) * u64::from(replications);
    if runs > u64::from(MAX_RUNS) {
        return Err((
            "replications",
            format!("PSA draws × replications = {runs} runs; at most {MAX_RUNS} are allowed"),
        ));
    }
    let run_weeks = runs * (u64::from(weeks) + 1);
    if run_weeks > MAX_RUN_WEEKS {
        return Err((
            "replications",
            format!(
                "{runs} runs × {} weeks (with week 0) = {run_weeks} run-weeks; at most {MAX_RUN_WEEKS} are held in memory (fewer runs or a shorter horizon)",
                weeks + 1
            ),
        ));
    }
    Ok(())
}

impl Scenario {
    /// The scenario over `weeks` weeks instead, checked as if the file had
    /// said `weeks = …`: the sizes (runs × weeks) and every rule's
    /// condition against the new horizon, with the errors parsing gives.
    /// Only a horizon outside 1 to [`MAX_WEEKS`] is an
    /// [`ScenarioError::Override`].
    pub fn with_weeks(&self, weeks: u32) -> Result<Scenario, ScenarioError> {
        if weeks == 0 || weeks > MAX_WEEKS {
            return Err(ScenarioError::Override {
                key: "weeks",
                problem: format!("must be 1 to {MAX_WEEKS}"),
            });
        }
        let invalid = |key: String, problem: String| ScenarioError::Invalid {
            origin: self.origin.clone(),
            key,
            problem,
        };
        let mut s = self.clone();
        s.weeks = weeks;
        s.check_size()
            .map_err(|(key, problem)| invalid(key.to_string(), problem))?;
        let stenosis_possible = stenosis_possible(&s.population, &s.psa);
        for (i, (rule, raw)) in s.rules.iter_mut().zip(&self.raw_conditions).enumerate() {
            rule.when =
                rule_condition(i, raw, weeks, stenosis_possible).map_err(|(k, p)| invalid(k, p))?;
        }
        Ok(s)
    }

    /// The scenario with `patients` per run, within [`MAX_PATIENTS`].
    pub fn with_patients(&self, patients: u64) -> Result<Scenario, ScenarioError> {
        let mut s = self.clone();
        s.patients = patients;
        s.checked_override()
    }

    /// The scenario with another master seed.
    /// The scenario with parameter `path` (a PSA or calibration path such
    /// as `dynamics.exercise_benefit` or `population.adherence.a`) set to
    /// `value`, checked as a PSA draw is.
    pub fn with_parameter(&self, path: &str, value: f64) -> Result<Scenario, ScenarioError> {
        let mut s = self.clone();
        crate::scenario::set_parameter(&mut s.population, &mut s.dynamics, path, value).map_err(
            |problem| ScenarioError::Invalid {
                origin: s.origin.clone(),
                key: path.to_string(),
                problem,
            },
        )?;
        Ok(s)
    }

    pub fn with_seed(&self, seed: u64) -> Result<Scenario, ScenarioError> {
        let mut s = self.clone();
        s.seed = seed;
        s.checked_override()
    }

    fn checked_override(self) -> Result<Scenario, ScenarioError> {
        self.check_size()
            .map_err(|(key, problem)| ScenarioError::Override { key, problem })?;
        Ok(self)
    }

    /// Runs in all: PSA draws × replications (at most [`MAX_RUNS`], checked
    /// when the scenario is parsed; saturating should a caller build one
    /// by hand).
    pub fn runs(&self) -> u32 {
        self.psa
            .as_ref()
            .map_or(1, |p| p.draws)
            .saturating_mul(self.replications)
    }

    /// Checks the sizes against the maxima ([`check_size`]), e.g. after a
    /// command line changed them.
    pub fn check_size(&self) -> Result<(), (&'static str, String)> {
        check_size(
            self.patients,
            self.weeks,
            self.psa.as_ref().map(|p| p.draws),
            self.replications,
        )
    }

    /// The days simulated (the final assessment day is `days()`).
    pub fn days(&self) -> u32 {
        self.weeks * 7
    }
}
