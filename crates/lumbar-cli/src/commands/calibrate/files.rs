//! The files of a calibration beside fit.json: the calibrated scenario
//! and the posterior's draws.

use anyhow::{Context, Result};
use lumbar_sim::scenario::Scenario;

/// The scenario file with each fitted parameter set to its estimate (a
/// `population.PRIOR.PARAM` path sets that prior's parameter, and the
/// `[calibration]` table is kept, so the file can be fitted again).
pub(super) fn calibrated_toml(
    scenario: &std::path::Path,
    loaded: &Scenario,
    fit: &lumbar_calibrate::Fit,
) -> Result<String> {
    // A population prior is written whole (its distribution with the
    // fitted parameter), since the file may not name it.
    let mut fitted = loaded.clone();
    for p in &fit.parameters {
        fitted = fitted.with_parameter(&p.name, p.estimate)?;
    }
    let population = toml::Value::try_from(&fitted.population)?;
    let text = std::fs::read_to_string(scenario)
        .with_context(|| format!("cannot read {}", scenario.display()))?;
    let mut doc: toml::Table =
        toml::from_str(&text).with_context(|| format!("{} is not TOML", scenario.display()))?;
    // The regimen is named relative to the scenario's folder: say where it
    // is from wherever the calibrated file is read.
    if let Some(toml::Value::String(r)) = doc.get("regimen")
        && std::path::Path::new(r).is_relative()
    {
        let base = scenario.parent().unwrap_or(std::path::Path::new("."));
        let at = std::fs::canonicalize(base.join(r)).unwrap_or_else(|_| base.join(r));
        doc.insert(
            "regimen".into(),
            toml::Value::String(at.display().to_string()),
        );
    }
    for p in &fit.parameters {
        let keys: Vec<&str> = p.name.split('.').collect();
        if let ["population", prior, _] = keys.as_slice()
            && let Some(whole) = population.get(*prior)
        {
            let table = doc
                .entry("population")
                .or_insert_with(|| toml::Value::Table(toml::Table::new()))
                .as_table_mut()
                .context("`population` is not a table in the scenario")?;
            table.insert(prior.to_string(), whole.clone());
            continue;
        }
        let (last, path) = keys.split_last().context("an empty parameter path")?;
        let mut table = &mut doc;
        for k in path {
            table = table
                .entry(k.to_string())
                .or_insert_with(|| toml::Value::Table(toml::Table::new()))
                .as_table_mut()
                .with_context(|| format!("`{}`: `{k}` is not a table in the scenario", p.name))?;
        }
        table.insert(last.to_string(), toml::Value::Float(p.estimate));
    }
    // The posterior's draws as the scenario's PSA, with their correlation:
    // `lumbar simulate calibrated.toml` then carries the fit's uncertainty.
    let rows = fit.posterior.resampled(PSA_DRAWS);
    let mut joint = toml::Table::new();
    for (j, name) in fit.posterior.names.iter().enumerate() {
        joint.insert(
            name.clone(),
            toml::Value::Array(rows.iter().map(|r| toml::Value::Float(r[j])).collect()),
        );
    }
    let mut psa = toml::Table::new();
    psa.insert("draws".into(), toml::Value::Integer(PSA_DRAWS as i64));
    psa.insert("joint".into(), toml::Value::Table(joint));
    doc.insert("psa".into(), toml::Value::Table(psa));
    Ok(format!(
        "# {} calibrated by `lumbar calibrate` (see fit.json beside it)\n\
         # [psa.joint]: {PSA_DRAWS} draws of the posterior, resampled by weight\n{}",
        scenario.display(),
        toml::to_string(&doc)?
    ))
}

/// Draws of the posterior a calibrated scenario's `[psa]` carries.
const PSA_DRAWS: usize = 200;

/// `posterior.parquet` (and .csv / .ndjson as asked): a row per draw, a
/// column per parameter, then its weight and distance.
pub(super) fn write_posterior(
    p: &lumbar_calibrate::Posterior,
    dir: &std::path::Path,
    formats: lumbar_io::output::Formats,
) -> Result<()> {
    use lumbar_model::records::ColumnValues;
    let mut columns: lumbar_model::records::ColumnTable<'_> = p
        .names
        .iter()
        .enumerate()
        .map(|(j, name)| {
            let col: Vec<f64> = p.draws.iter().map(|d| d[j]).collect();
            (name.clone(), ColumnValues::F64(col.into()))
        })
        .collect();
    columns.push((
        "weight".into(),
        ColumnValues::F64(p.weights.as_slice().into()),
    ));
    columns.push((
        "distance".into(),
        ColumnValues::F64(p.distances.as_slice().into()),
    ));
    let files = lumbar_io::output::TableFiles {
        formats,
        cells: lumbar_io::output::CsvCells::Escaped,
    };
    lumbar_io::output::write_columns_to(columns, dir, "posterior", files)
        .with_context(|| format!("cannot write the posterior into {}", dir.display()))
}
