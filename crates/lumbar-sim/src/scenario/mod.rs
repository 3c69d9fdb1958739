//! Scenario files: what to simulate.
//!
//! A scenario (TOML) names the regimen file, the programme (which of its
//! exercises, which ladders and where each starts), the progression rules
//! ([`crate::rules`]), the population priors ([`crate::prior`]), the dynamics
//! parameters ([`Dynamics`]), the horizon, cohort size, replications, seed,
//! and probabilistic-sensitivity draws over any of these parameters. See
//! `datasets/scenarios/` for complete examples. Every error names the key.
//!
//! The regimen's safety rules are always on: a scenario has no key to change
//! them (a `[safety]` table is an error), and rules cannot advance an item
//! flagged unsuitable.

use std::collections::HashSet;
use std::path::{Path, PathBuf};

use lumbar_model::{Frequency, Regimen};
use serde::{Deserialize, Serialize};

mod checks;
mod sizes;
pub use checks::set_parameter;
use checks::{check_dynamics, check_population, joint_of, rule_condition, stenosis_possible};
pub use sizes::{MAX_PATIENTS, MAX_RUN_WEEKS, MAX_RUNS, MAX_WEEKS, check_size};

use crate::prior::{Dist, Prior, RawPrior};
use crate::rules::{
    Action, Condition, ProgressionRule, RawRule, RawTargets, RawWhen, parse_condition,
};

/// What went wrong loading a scenario; always names the key.
#[derive(Debug, thiserror::Error)]
pub enum ScenarioError {
    #[error("cannot read scenario file {path}: {source}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("scenario {origin}: {message}")]
    Syntax { origin: String, message: String },
    #[error("scenario {origin}: `{key}`: {problem}")]
    Invalid {
        origin: String,
        key: String,
        problem: String,
    },
    /// A setting changed after loading ([`Scenario::with_weeks`] and the
    /// like) is out of range; `key` is the scenario key.
    #[error("overriding `{key}`: {problem}")]
    Override { key: &'static str, problem: String },
    #[error("scenario {origin}: regimen: {source}")]
    Regimen {
        origin: String,
        source: lumbar_model::RegimenError,
    },
}

/// One thing a patient is prescribed: a regimen exercise or a ladder.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Item {
    pub key: String,
    #[serde(serialize_with = "as_text")]
    pub frequency: Frequency,
    /// Rungs of the ladder (1 for a plain exercise).
    pub rungs: u8,
    /// Starting rung.
    pub start: u8,
    /// The highest rung that is not optional (the programme's usual top).
    pub top: u8,
    pub is_ladder: bool,
    /// Whether the ladder offers an alternative (so `substitute` can act),
    /// and whether its rungs hurt patients with stenosis (an alternative
    /// `when = "stenosis"`, as walking on the aerobic ladder).
    pub has_alternative: bool,
    pub stenosis_sensitive: bool,
}

/// The population priors: each patient draws one value of each at baseline.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Population {
    /// Underlying pain at baseline, NRS 0–10.
    pub baseline_pain: Prior,
    /// The patient's natural-course plateau, as a share of baseline pain
    /// (Costa 2012's pooled mean 0.506; patients differ around it).
    pub plateau: Prior,
    /// Probability of exercising on a given day, before pain lowers it.
    pub adherence: Prior,
    /// Multiplier of the exercise benefit (1 = average responder).
    pub response: Prior,
    /// Daily probability that a flare starts.
    pub flare_rate: Prior,
    /// Daily probability of leaving the programme for good.
    pub dropout: Prior,
    /// Ladder rungs the patient can do without extra pain at baseline.
    pub capacity: Prior,
    /// Personal median walking minutes per day.
    pub walking: Prior,
    /// Share of patients with spinal stenosis.
    pub stenosis_share: f64,
}

impl Default for Population {
    /// The priors of any scenario that sets none, `lumbar generate`'s
    /// programme cohort included (sources in [`crate::engine`]'s docs).
    fn default() -> Self {
        Population {
            baseline_pain: Prior::clamped(Dist::Normal { mean: 5.1, sd: 1.5 }, 2.0, 10.0),
            // Mean 0.506 (Costa 2012), SD 0.15.
            plateau: Prior::new(Dist::Beta { a: 5.06, b: 4.94 }),
            adherence: Prior::new(Dist::Beta { a: 8.0, b: 3.0 }),
            response: Prior::new(Dist::LogNormal {
                mu: -0.125,
                sigma: 0.5,
            }),
            flare_rate: Prior::fixed(1.0 / 60.0),
            dropout: Prior::clamped(
                Dist::LogNormal {
                    mu: (0.0015f64).ln(),
                    sigma: 0.5,
                },
                0.0,
                1.0,
            ),
            capacity: Prior::clamped(Dist::Normal { mean: 0.5, sd: 0.5 }, 0.0, 10.0),
            walking: Prior::new(Dist::LogNormal {
                mu: 70f64.ln(),
                sigma: 0.4,
            }),
            stenosis_share: 0.10,
        }
    }
}

/// Parameters of the day-by-day patient model ([`crate::engine`] documents
/// each with its source). All can be set in `[dynamics]` and drawn in PSA.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Dynamics {
    /// Costa 2012 natural course: time constant in weeks.
    pub natural_tau_weeks: f64,
    /// Hayden 2021: extra NRS improvement after 84 fully adherent days (r = 1).
    pub exercise_benefit: f64,
    /// Adherent days at which 63% of the exercise benefit is reached.
    pub exercise_k_days: f64,
    /// Mean pain during the last 3 sessions above which adherence falls…
    pub adherence_pain_onset: f64,
    /// …by this factor per NRS point (`exp(−slope · excess)`).
    pub adherence_pain_slope: f64,
    /// Adherent days that add one rung of capacity.
    pub capacity_gain_days: f64,
    /// Extra pain during an item per rung above the patient's capacity.
    pub overload_pain: f64,
    /// Extra pain during stenosis-sensitive items for patients with stenosis.
    pub stenosis_pain: f64,
    /// Probability that a patient stops at pain ≥ the safety threshold.
    pub obey_stop: f64,
    /// Probability that a scheduled item is done on an exercise day.
    pub do_item: f64,
    /// Probability that the full prescribed dose is done.
    pub full_dose: f64,
    /// Probability that pain persists > 20 min after an item done at pain ≥ 5
    /// (multiplied by 1 + rungs of overload).
    pub persist_share: f64,
    /// Pain added during a flare, NRS points.
    pub flare_pain: f64,
    /// Shortest and longest flare, days.
    pub flare_min_days: u32,
    pub flare_max_days: u32,
}

impl Default for Dynamics {
    fn default() -> Self {
        Dynamics {
            natural_tau_weeks: crate::dynamics::NATURAL_TAU_WEEKS,
            exercise_benefit: 1.5,
            exercise_k_days: crate::dynamics::EXERCISE_K_DAYS,
            adherence_pain_onset: 5.0,
            adherence_pain_slope: 0.2,
            capacity_gain_days: 42.0,
            overload_pain: 1.0,
            stenosis_pain: 1.5,
            obey_stop: 0.93,
            do_item: 0.95,
            full_dose: 0.95,
            persist_share: 0.03,
            flare_pain: 1.5,
            flare_min_days: 3,
            flare_max_days: 7,
        }
    }
}

/// One uncertain parameter and the distribution of its PSA draws.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct PsaParameter {
    /// `dynamics.NAME`, `population.stenosis_share` or `population.PRIOR.PARAM`.
    pub path: String,
    pub prior: Prior,
}

/// Probabilistic sensitivity analysis: `draws` parameter sets, each run
/// `replications` times.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Psa {
    pub draws: u32,
    /// Drawn independently, each from its distribution.
    pub parameters: Vec<PsaParameter>,
    /// Drawn jointly (`[psa.joint]`): path → column of values, all columns
    /// the same length; draw d takes row d mod rows. How a calibrated
    /// scenario carries its posterior draws with their correlation.
    pub joint: Vec<JointColumn>,
}

/// One column of `[psa.joint]`: a path and its value in each joint draw.
pub type JointColumn = (String, Vec<f64>);

/// The most rows `[psa.joint]` may hold (each checked as a setting).
pub const MAX_JOINT_ROWS: usize = 100_000;

/// A validated scenario.
#[derive(Debug, Clone, Serialize)]
pub struct Scenario {
    pub name: String,
    pub description: String,
    #[serde(skip)]
    pub regimen: Regimen,
    pub regimen_key: String,
    pub weeks: u32,
    pub patients: u64,
    pub replications: u32,
    pub seed: u64,
    pub items: Vec<Item>,
    pub rules: Vec<ProgressionRule>,
    pub population: Population,
    pub dynamics: Dynamics,
    pub psa: Option<Psa>,
    /// The parameters `lumbar calibrate` fits, with their priors
    /// (`[calibration.parameters]`, the keys and syntax of PSA's).
    pub calibration: Vec<PsaParameter>,
    /// Where it was parsed from, for errors of later overrides.
    #[serde(skip)]
    origin: String,
    /// Each rule's condition as written, so that a new horizon can be
    /// checked against it as parsing would.
    #[serde(skip)]
    raw_conditions: Vec<RawWhen>,
}

#[derive(Deserialize)]
#[serde(untagged)]
enum RawExercises {
    Word(String),
    List(Vec<String>),
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawLadderItem {
    key: String,
    start: Option<String>,
    frequency: Option<String>,
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct RawProgramme {
    exercises: Option<RawExercises>,
    #[serde(default)]
    ladder: Vec<RawLadderItem>,
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct RawPopulation {
    baseline_pain: Option<RawPrior>,
    plateau: Option<RawPrior>,
    adherence: Option<RawPrior>,
    response: Option<RawPrior>,
    flare_rate: Option<RawPrior>,
    dropout: Option<RawPrior>,
    capacity: Option<RawPrior>,
    walking: Option<RawPrior>,
    stenosis_share: Option<f64>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawPsa {
    draws: u32,
    #[serde(default)]
    parameters: toml::Table,
    #[serde(default)]
    joint: toml::Table,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawCalibration {
    #[serde(default)]
    parameters: toml::Table,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawScenario {
    name: String,
    #[serde(default)]
    description: String,
    regimen: Option<String>,
    weeks: u32,
    patients: u64,
    #[serde(default = "one")]
    replications: u32,
    seed: u64,
    #[serde(default)]
    programme: RawProgramme,
    #[serde(default)]
    rule: Vec<RawRule>,
    #[serde(default)]
    population: RawPopulation,
    #[serde(default)]
    dynamics: Dynamics,
    psa: Option<RawPsa>,
    calibration: Option<RawCalibration>,
    safety: Option<toml::Value>,
}

fn as_text<S: serde::Serializer>(f: &Frequency, s: S) -> Result<S::Ok, S::Error> {
    s.collect_str(f)
}

fn one() -> u32 {
    1
}

impl Scenario {
    /// Loads a scenario file; its `regimen` path is taken relative to the
    /// scenario file, and the shipped six-move regimen is used when absent.
    pub fn load(path: &Path) -> Result<Scenario, ScenarioError> {
        let text = std::fs::read_to_string(path).map_err(|source| ScenarioError::Io {
            path: path.to_path_buf(),
            source,
        })?;
        Self::parse(&text, &path.display().to_string(), path.parent())
    }

    /// Parses a scenario from text; a relative `regimen` path is resolved
    /// against `base` (the shipped regimen when `regimen` is absent).
    pub fn parse(text: &str, origin: &str, base: Option<&Path>) -> Result<Scenario, ScenarioError> {
        Self::parse_with(text, origin, base, None)
    }

    /// Parses a scenario from text for a regimen already loaded (the text
    /// must then have no `regimen` key): `lumbar generate`'s programme.
    pub fn for_regimen(
        text: &str,
        origin: &str,
        regimen: Regimen,
    ) -> Result<Scenario, ScenarioError> {
        Self::parse_with(text, origin, None, Some(regimen))
    }

    fn parse_with(
        text: &str,
        origin: &str,
        base: Option<&Path>,
        given: Option<Regimen>,
    ) -> Result<Scenario, ScenarioError> {
        let raw: RawScenario = toml::from_str(text).map_err(|e| ScenarioError::Syntax {
            origin: origin.to_string(),
            message: lumbar_model::toml_error::describe(text, &e),
        })?;
        let invalid = |key: &str, problem: String| ScenarioError::Invalid {
            origin: origin.to_string(),
            key: key.to_string(),
            problem,
        };
        if raw.safety.is_some() {
            return Err(invalid(
                "safety",
                "the safety rules are always on and come from the regimen; a scenario cannot change or switch them off".into(),
            ));
        }
        let regimen = match (given, &raw.regimen) {
            (Some(_), Some(_)) => {
                return Err(invalid(
                    "regimen",
                    "the regimen is given; the scenario must not name one".into(),
                ));
            }
            (Some(r), None) => r,
            (None, None) => Regimen::six_moves(),
            (None, Some(p)) => {
                let p = Path::new(p);
                let full = match base {
                    Some(b) if p.is_relative() => b.join(p),
                    _ => p.to_path_buf(),
                };
                Regimen::load(&full).map_err(|source| ScenarioError::Regimen {
                    origin: origin.to_string(),
                    source,
                })?
            }
        };
        if raw.name.trim().is_empty() {
            return Err(invalid("name", "must not be empty".into()));
        }
        check_size(
            raw.patients,
            raw.weeks,
            raw.psa.as_ref().map(|p| p.draws),
            raw.replications,
        )
        .map_err(|(key, problem)| invalid(key, problem))?;

        // The programme.
        let mut items = Vec::new();
        let exercise_keys: Vec<String> = match &raw.programme.exercises {
            None => Vec::new(),
            Some(RawExercises::Word(w)) if w == "all" => {
                regimen.exercises.iter().map(|e| e.key.clone()).collect()
            }
            Some(RawExercises::Word(w)) => {
                return Err(invalid(
                    "programme.exercises",
                    format!("\"{w}\" is neither \"all\" nor a list of exercise keys"),
                ));
            }
            Some(RawExercises::List(l)) => l.clone(),
        };
        let mut seen = HashSet::new();
        for key in exercise_keys {
            let Some(ex) = regimen.exercise(&key) else {
                return Err(invalid(
                    "programme.exercises",
                    format!(
                        "unknown exercise `{key}`; the regimen {} has {}",
                        regimen.key,
                        regimen
                            .exercises
                            .iter()
                            .map(|e| e.key.as_str())
                            .collect::<Vec<_>>()
                            .join(", ")
                    ),
                ));
            };
            if !seen.insert(key.clone()) {
                return Err(invalid(
                    "programme.exercises",
                    format!("`{key}` is listed twice"),
                ));
            }
            items.push(Item {
                key,
                frequency: ex.frequency,
                rungs: 1,
                start: 0,
                top: 0,
                is_ladder: false,
                has_alternative: false,
                stenosis_sensitive: false,
            });
        }
        for (i, l) in raw.programme.ladder.iter().enumerate() {
            let at = format!("programme.ladder[{i}]");
            let Some(ladder) = regimen.ladder(&l.key) else {
                return Err(invalid(
                    &format!("{at}.key"),
                    format!(
                        "unknown ladder `{}`; the regimen {} has {}",
                        l.key,
                        regimen.key,
                        regimen
                            .ladders
                            .iter()
                            .map(|l| l.key.as_str())
                            .collect::<Vec<_>>()
                            .join(", ")
                    ),
                ));
            };
            if !seen.insert(l.key.clone()) {
                return Err(invalid(
                    &format!("{at}.key"),
                    format!("`{}` is listed twice", l.key),
                ));
            }
            for r in &ladder.rungs {
                if seen.contains(&r.key) {
                    return Err(invalid(
                        &format!("{at}.key"),
                        format!(
                            "its rung `{}` is also in programme.exercises; list it once",
                            r.key
                        ),
                    ));
                }
            }
            if ladder.rungs.len() > 32 {
                return Err(invalid(
                    &format!("{at}.key"),
                    "a ladder may have at most 32 rungs".into(),
                ));
            }
            let start = match &l.start {
                None => 0,
                Some(s) => ladder.rung_index(s).ok_or_else(|| {
                    invalid(
                        &format!("{at}.start"),
                        format!(
                            "`{s}` is not a rung of {}; its rungs are {}",
                            l.key,
                            ladder
                                .rungs
                                .iter()
                                .map(|r| r.key.as_str())
                                .collect::<Vec<_>>()
                                .join(", ")
                        ),
                    )
                })?,
            };
            let frequency = match &l.frequency {
                None => Frequency::Daily,
                Some(f) => {
                    Frequency::parse(f).map_err(|p| invalid(&format!("{at}.frequency"), p))?
                }
            };
            let top = ladder
                .rungs
                .iter()
                .rposition(|r| !r.optional)
                .unwrap_or(ladder.rungs.len() - 1);
            items.push(Item {
                key: l.key.clone(),
                frequency,
                rungs: ladder.rungs.len() as u8,
                start: start as u8,
                top: top as u8,
                is_ladder: true,
                has_alternative: !ladder.alternatives.is_empty(),
                stenosis_sensitive: ladder
                    .alternatives
                    .iter()
                    .any(|a| a.when.as_deref() == Some("stenosis")),
            });
        }
        if items.len() > 64 {
            return Err(invalid("programme", "at most 64 items".into()));
        }

        // The population.
        let mut population = Population::default();
        {
            let p = &raw.population;
            let slots: [(&str, &Option<RawPrior>, &mut Prior); 8] = [
                (
                    "baseline_pain",
                    &p.baseline_pain,
                    &mut population.baseline_pain,
                ),
                ("plateau", &p.plateau, &mut population.plateau),
                ("adherence", &p.adherence, &mut population.adherence),
                ("response", &p.response, &mut population.response),
                ("flare_rate", &p.flare_rate, &mut population.flare_rate),
                ("dropout", &p.dropout, &mut population.dropout),
                ("capacity", &p.capacity, &mut population.capacity),
                ("walking", &p.walking, &mut population.walking),
            ];
            for (name, raw_prior, slot) in slots {
                if let Some(rp) = raw_prior {
                    *slot = Prior::from_raw(rp)
                        .map_err(|e| invalid(&format!("population.{name}"), e))?;
                }
            }
            if let Some(s) = p.stenosis_share {
                population.stenosis_share = s;
            }
        }
        check_population(&population).map_err(|(k, e)| invalid(&k, e))?;
        check_dynamics(&raw.dynamics).map_err(|(k, e)| invalid(&k, e))?;

        // PSA and calibration: parameter paths with priors.
        let parameters_of = |table: &toml::Table, section: &str| {
            let mut parameters = Vec::new();
            for (path, value) in table {
                let key = format!("{section}.parameters.\"{path}\"");
                let raw_prior: RawPrior = value
                    .clone()
                    .try_into()
                    .map_err(|e: toml::de::Error| invalid(&key, e.message().to_string()))?;
                let prior = Prior::from_raw(&raw_prior).map_err(|e| invalid(&key, e))?;
                // A central value of the draws must be a valid setting.
                let mut trial = (population.clone(), raw.dynamics.clone());
                set_parameter(&mut trial.0, &mut trial.1, path, prior.central())
                    .map_err(|e| invalid(&key, e))?;
                parameters.push(PsaParameter {
                    path: path.clone(),
                    prior,
                });
            }
            Ok::<_, ScenarioError>(parameters)
        };
        let calibration = match &raw.calibration {
            None => Vec::new(),
            Some(c) => parameters_of(&c.parameters, "calibration")?,
        };
        let psa = match &raw.psa {
            None => None,
            Some(rp) => {
                let parameters = parameters_of(&rp.parameters, "psa")?;
                let joint = joint_of(&rp.joint, &parameters, &population, &raw.dynamics)
                    .map_err(|(k, e)| invalid(&k, e))?;
                if parameters.is_empty() && joint.is_empty() {
                    return Err(invalid(
                        "psa.parameters",
                        "name at least one parameter to draw, e.g. \"dynamics.exercise_benefit\" = { dist = \"normal\", mean = 1.5, sd = 0.15 }".into(),
                    ));
                }
                Some(Psa {
                    draws: rp.draws,
                    parameters,
                    joint,
                })
            }
        };

        // The rules.
        let stenosis_possible = stenosis_possible(&population, &psa);
        if raw.rule.len() > 64 {
            return Err(invalid("rule", "at most 64 rules".into()));
        }
        let mut rules = Vec::new();
        let mut names = HashSet::new();
        for (i, r) in raw.rule.iter().enumerate() {
            let at = format!("rule[{i}]");
            if r.name.trim().is_empty() {
                return Err(invalid(&format!("{at}.name"), "must not be empty".into()));
            }
            if !names.insert(r.name.clone()) {
                return Err(invalid(
                    &format!("{at}.name"),
                    format!("\"{}\" is used twice", r.name),
                ));
            }
            let then = Action::parse(&r.then).map_err(|p| invalid(&format!("{at}.then"), p))?;
            let when = rule_condition(i, &r.when, raw.weeks, stenosis_possible)
                .map_err(|(k, p)| invalid(&k, p))?;
            let words: Vec<String> = match &r.applies_to {
                RawTargets::One(s) => vec![s.clone()],
                RawTargets::Many(v) => v.clone(),
            };
            let mut targets = Vec::new();
            for w in &words {
                match w.as_str() {
                    "all" => targets.extend(0..items.len()),
                    "ladders" => targets.extend((0..items.len()).filter(|&j| items[j].is_ladder)),
                    "exercises" => {
                        targets.extend((0..items.len()).filter(|&j| !items[j].is_ladder))
                    }
                    key => match items.iter().position(|it| it.key == key) {
                        Some(j) => targets.push(j),
                        None if regimen.exercise(key).is_some()
                            || regimen.ladder(key).is_some() =>
                        {
                            return Err(invalid(
                                &format!("{at}.applies_to"),
                                format!(
                                    "`{key}` is not in this scenario's programme, so this rule would never fire"
                                ),
                            ));
                        }
                        None => {
                            return Err(invalid(
                                &format!("{at}.applies_to"),
                                format!("unknown exercise or ladder `{key}`"),
                            ));
                        }
                    },
                }
            }
            targets.sort_unstable();
            targets.dedup();
            // Keep only the items the action can change.
            let can_act = |it: &Item| match then {
                Action::Advance | Action::StepBack => it.is_ladder && it.rungs > 1,
                Action::Substitute => it.has_alternative,
                Action::Hold | Action::Drop => true,
            };
            let explicit = words
                .iter()
                .all(|w| !matches!(w.as_str(), "all" | "ladders" | "exercises"));
            if explicit && let Some(&j) = targets.iter().find(|&&j| !can_act(&items[j])) {
                let why = match then {
                    Action::Substitute => "has no alternative to substitute",
                    _ => "has no ladder rung to move to",
                };
                return Err(invalid(
                    &format!("{at}.applies_to"),
                    format!("`{}` {why}, so this rule would never fire", items[j].key),
                ));
            }
            targets.retain(|&j| can_act(&items[j]));
            if targets.is_empty() {
                return Err(invalid(
                    &format!("{at}.applies_to"),
                    format!(
                        "no item of this scenario's programme can `{}`, so this rule would never fire",
                        r.then
                    ),
                ));
            }
            if then == Action::Advance
                && let Some(s) = &when.session
                && let Some(b) = s.pain_during
                && b.lo >= regimen.safety.stop_pain_during
            {
                return Err(invalid(
                    &format!("{at}.when.session.pain_during"),
                    format!(
                        "advancing on pain during ≥ {} contradicts the safety rule (stop at {})",
                        b.lo, regimen.safety.stop_pain_during
                    ),
                ));
            }
            rules.push(ProgressionRule {
                name: r.name.clone(),
                targets,
                when,
                then,
            });
        }

        Ok(Scenario {
            name: raw.name,
            description: raw.description,
            regimen_key: regimen.key.clone(),
            regimen,
            weeks: raw.weeks,
            patients: raw.patients,
            replications: raw.replications,
            seed: raw.seed,
            items,
            rules,
            population,
            dynamics: raw.dynamics,
            psa,
            calibration,
            origin: origin.to_string(),
            raw_conditions: raw.rule.into_iter().map(|r| r.when).collect(),
        })
    }
}

#[cfg(test)]
mod tests;
