//! The checks `Scenario::parse` and the overrides share: priors, dynamics,
//! a rule's condition against the horizon, and PSA parameter paths.

use super::*;

/// Whether any patient can have stenosis: a rule testing for it can fire.
pub(super) fn stenosis_possible(population: &Population, psa: &Option<Psa>) -> bool {
    population.stenosis_share > 0.0
        || psa.as_ref().is_some_and(|p| {
            p.parameters
                .iter()
                .any(|q| q.path == "population.stenosis_share")
                || p.joint
                    .iter()
                    .any(|(path, _)| path == "population.stenosis_share")
        })
}

/// `[psa.joint]`: columns of equal length (1 to [`MAX_JOINT_ROWS`]) whose
/// every value is a valid setting of its path, named in no other PSA table.
pub(super) fn joint_of(
    table: &toml::Table,
    independent: &[PsaParameter],
    population: &Population,
    dynamics: &Dynamics,
) -> Result<Vec<JointColumn>, (String, String)> {
    let mut joint = Vec::with_capacity(table.len());
    let mut rows = None;
    for (path, value) in table {
        let key = format!("psa.joint.\"{path}\"");
        if independent.iter().any(|p| &p.path == path) {
            return Err((key, "is also in [psa.parameters]: draw it one way".into()));
        }
        let toml::Value::Array(items) = value else {
            return Err((key, "must be a list of numbers, one per joint draw".into()));
        };
        if items.is_empty() || items.len() > MAX_JOINT_ROWS {
            return Err((
                key,
                format!(
                    "must hold 1 to {MAX_JOINT_ROWS} values, not {}",
                    items.len()
                ),
            ));
        }
        if *rows.get_or_insert(items.len()) != items.len() {
            return Err((
                key,
                format!(
                    "has {} values where the other columns have {}: rows are joint draws",
                    items.len(),
                    rows.unwrap_or(0)
                ),
            ));
        }
        let mut column = Vec::with_capacity(items.len());
        let (mut pop, mut dyn_) = (population.clone(), dynamics.clone());
        for (i, item) in items.iter().enumerate() {
            let x = match item {
                toml::Value::Float(x) => *x,
                toml::Value::Integer(x) => *x as f64,
                _ => return Err((format!("{key}[{i}]"), "must be a number".into())),
            };
            set_parameter(&mut pop, &mut dyn_, path, x).map_err(|e| (format!("{key}[{i}]"), e))?;
            column.push(x);
        }
        joint.push((path.clone(), column));
    }
    Ok(joint)
}

/// Rule `i`'s condition checked against a horizon of `weeks`; the error's
/// key is the full one (`rule[i].when.consecutive`).
pub(super) fn rule_condition(
    i: usize,
    raw: &RawWhen,
    weeks: u32,
    stenosis_possible: bool,
) -> Result<Condition, (String, String)> {
    parse_condition(raw, weeks * 7, stenosis_possible)
        .map_err(|(k, p)| (format!("rule[{i}].{k}"), p))
}

pub(super) fn check_population(p: &Population) -> Result<(), (String, String)> {
    let share = |name: &str, prior: &Prior| -> Result<(), (String, String)> {
        let (lo, hi) = prior.support();
        if lo < 0.0 || hi > 1.0 {
            return Err((
                format!("population.{name}"),
                "is a probability: bound it to 0..1 (`min = 0`, `max = 1`) or use a beta distribution".into(),
            ));
        }
        Ok(())
    };
    share("adherence", &p.adherence)?;
    share("plateau", &p.plateau)?;
    share("flare_rate", &p.flare_rate)?;
    share("dropout", &p.dropout)?;
    let (lo, hi) = p.baseline_pain.support();
    if lo < 0.0 || hi > 10.0 {
        return Err((
            "population.baseline_pain".into(),
            "is pain on 0–10: bound it with `min` and `max` inside 0..10".into(),
        ));
    }
    for (name, prior) in [
        ("response", &p.response),
        ("capacity", &p.capacity),
        ("walking", &p.walking),
    ] {
        if prior.support().0 < 0.0 {
            return Err((
                format!("population.{name}"),
                "must not be negative: add `min = 0` or use a lognormal or gamma distribution"
                    .into(),
            ));
        }
    }
    if !(0.0..=1.0).contains(&p.stenosis_share) {
        return Err((
            "population.stenosis_share".into(),
            format!("{} is not a share between 0 and 1", p.stenosis_share),
        ));
    }
    Ok(())
}

pub(super) fn check_dynamics(d: &Dynamics) -> Result<(), (String, String)> {
    let fail = |k: &str, p: &str| Err((format!("dynamics.{k}"), p.to_string()));
    for (k, v) in [
        ("natural_tau_weeks", d.natural_tau_weeks),
        ("exercise_k_days", d.exercise_k_days),
        ("capacity_gain_days", d.capacity_gain_days),
    ] {
        if !(v.is_finite() && v > 0.0) {
            return fail(k, "must be a positive number");
        }
    }
    for (k, v) in [
        ("exercise_benefit", d.exercise_benefit),
        ("adherence_pain_slope", d.adherence_pain_slope),
        ("overload_pain", d.overload_pain),
        ("stenosis_pain", d.stenosis_pain),
        ("flare_pain", d.flare_pain),
        ("adherence_pain_onset", d.adherence_pain_onset),
    ] {
        if !(v.is_finite() && v >= 0.0) {
            return fail(k, "must be a number ≥ 0");
        }
    }
    for (k, v) in [
        ("obey_stop", d.obey_stop),
        ("do_item", d.do_item),
        ("full_dose", d.full_dose),
        ("persist_share", d.persist_share),
    ] {
        if !(0.0..=1.0).contains(&v) {
            return fail(k, "is a probability, 0 to 1");
        }
    }
    if d.flare_min_days == 0 || d.flare_min_days > d.flare_max_days {
        return fail(
            "flare_min_days",
            "flares last at least 1 day and flare_min_days ≤ flare_max_days",
        );
    }
    Ok(())
}

/// Sets one parameter by its PSA path; the error says what is wrong.
pub fn set_parameter(
    population: &mut Population,
    dynamics: &mut Dynamics,
    path: &str,
    value: f64,
) -> Result<(), String> {
    let parts: Vec<&str> = path.split('.').collect();
    match parts.as_slice() {
        ["dynamics", name] => {
            let mut v = serde_json::to_value(&*dynamics).map_err(|e| e.to_string())?;
            let slot = v
                .get_mut(*name)
                .ok_or_else(|| format!("unknown parameter `{path}`: [dynamics] has no `{name}`"))?;
            *slot = if slot.is_u64() {
                serde_json::Value::from(value.round().max(0.0) as u64)
            } else {
                serde_json::Value::from(value)
            };
            *dynamics = serde_json::from_value(v).map_err(|e| e.to_string())?;
            check_dynamics(dynamics).map_err(|(_, p)| format!("{value} is not allowed: {p}"))
        }
        ["population", "stenosis_share"] => {
            population.stenosis_share = value;
            check_population(population).map_err(|(_, p)| format!("{value} is not allowed: {p}"))
        }
        ["population", prior, param] => {
            let slot = match *prior {
                "baseline_pain" => &mut population.baseline_pain,
                "plateau" => &mut population.plateau,
                "adherence" => &mut population.adherence,
                "response" => &mut population.response,
                "flare_rate" => &mut population.flare_rate,
                "dropout" => &mut population.dropout,
                "capacity" => &mut population.capacity,
                "walking" => &mut population.walking,
                _ => return Err(format!("unknown parameter `{path}`: no prior `{prior}`")),
            };
            let p = slot.parameter(param).ok_or_else(|| {
                format!("unknown parameter `{path}`: this prior has no `{param}`")
            })?;
            *p = value;
            slot.sampler()
                .map_err(|e| format!("{value} is not allowed: {e}"))?;
            check_population(population).map_err(|(_, p)| format!("{value} is not allowed: {p}"))
        }
        _ => Err(format!(
            "unknown parameter `{path}`; use dynamics.NAME, population.stenosis_share or population.PRIOR.PARAM"
        )),
    }
}
