//! `lumbar calibrate STORE --scenario S.toml --out DIR`: the scenario's
//! `[calibration.parameters]` fitted to a clinic's cohort (lumbar-calibrate),
//! written as `fit.json`, `calibrated.toml` (the scenario file with the
//! estimates) and `manifest.json`.

use std::io::Write;
use std::path::PathBuf;

use anyhow::{Context, Result};
use clap::Args;
use lumbar_calibrate::{Settings, fit_moments, observe};
use lumbar_io::Store;
use lumbar_model::atomic::write_atomic;
use lumbar_model::cohort::CohortSource;
use lumbar_sim::scenario::Scenario;

#[derive(Args, Debug)]
pub struct CalibrateArgs {
    /// Store written by `lumbar ingest` (the clinic's cohort).
    pub store: PathBuf,
    /// Scenario whose `[calibration.parameters]` are fitted (the keys and
    /// prior syntax of `[psa.parameters]`).
    #[arg(long)]
    pub scenario: PathBuf,
    /// simulated-moments: Nelder–Mead on the SE-standardised distance with
    /// common random numbers, intervals from the minimum-distance sandwich
    /// and replicate searches. (ABC-SMC is to come.)
    #[arg(long, default_value = "simulated-moments", value_parser = ["simulated-moments"])]
    pub method: String,
    /// Most simulated cohorts the searches may use together.
    #[arg(long, default_value_t = 150)]
    pub budget: usize,
    /// Searches with seeds seed, seed + 1, …: their mean is the estimate
    /// and their spread the simulation's share of its uncertainty.
    #[arg(long, default_value_t = 3)]
    pub replicates: usize,
    /// Bootstrap resamples of the clinic's patients for the targets'
    /// covariance (the intervals' sandwich).
    #[arg(long, default_value_t = 100)]
    pub bootstrap: usize,
    /// Seed of every simulated cohort and of the bootstrap (default: the scenario's).
    #[arg(long)]
    pub seed: Option<u64>,
    /// Worker threads (default: all cores).
    #[arg(long)]
    pub threads: Option<usize>,
    /// Output folder.
    #[arg(short, long)]
    pub out: PathBuf,
    /// Print fit.json on stdout instead of a table.
    #[arg(long)]
    pub json: bool,
}

pub fn calibrate(args: &CalibrateArgs, out: &mut dyn Write) -> Result<u8> {
    let scenario = Scenario::load(&args.scenario)?;
    let store = Store::open(&args.store)?.snapshot()?;
    let run = || -> Result<_> {
        let cohort = store.cohort()?;
        let patients = cohort.patients.len() as u64;
        let seed = args.seed.unwrap_or(scenario.seed);
        let observed = observe(
            cohort,
            &scenario.regimen,
            scenario.weeks,
            args.bootstrap,
            seed,
        );
        let settings = Settings {
            budget: args.budget,
            seed,
            patients: patients.max(1),
            replicates: args.replicates,
        };
        Ok((fit_moments(&scenario, &observed, &settings)?, settings))
    };
    let (fit, settings) = match args.threads {
        Some(t) => rayon::ThreadPoolBuilder::new()
            .num_threads(t.max(1))
            .build()?
            .install(run)?,
        None => run()?,
    };
    let staged = super::result_dir(&args.out)?;
    let dir = staged.path();
    let json = serde_json::to_string_pretty(&fit)? + "\n";
    write_atomic(&dir.join("fit.json"), json.as_bytes())?;
    let calibrated = calibrated_toml(&args.scenario, &scenario, &fit)?;
    write_atomic(&dir.join("calibrated.toml"), calibrated.as_bytes())?;
    let manifest = serde_json::json!({
        "command": "calibrate",
        "lumbar_version": env!("CARGO_PKG_VERSION"),
        "store_inputs": serde_json::to_value(store.manifest()?.parts)?,
        "scenario": args.scenario,
        "scenario_sha256": lumbar_io::sha256_file(&args.scenario)?,
        "method": args.method, "budget": args.budget, "seed": settings.seed, "bootstrap": args.bootstrap, "replicates": args.replicates,
        "patients": settings.patients,
    });
    write_atomic(
        &dir.join("manifest.json"),
        (serde_json::to_string_pretty(&manifest)? + "\n").as_bytes(),
    )?;
    staged
        .commit()
        .with_context(|| format!("cannot put the results in place at {}", args.out.display()))?;
    if args.json {
        write!(out, "{json}")?;
        return Ok(0);
    }
    writeln!(
        out,
        "{:<36} {:>10} {:>21}  identified",
        "parameter", "estimate", "90% interval"
    )?;
    for p in &fit.parameters {
        writeln!(
            out,
            "{:<36} {:>10.4} {:>10.4}–{:<10.4}  {}",
            p.name,
            p.estimate,
            p.lower,
            p.upper,
            if p.identified {
                "yes"
            } else {
                "no: the targets do not narrow its prior"
            }
        )?;
    }
    let d = &fit.diagnostics;
    writeln!(
        out,
        "\n{} targets, distance {:.2} after {} simulated cohorts ({:.1} s){}",
        d.targets_used,
        d.distance,
        d.simulations,
        d.seconds,
        if d.converged {
            ""
        } else {
            "; the search ran out of budget"
        }
    )?;
    writeln!(out, "results: {}", args.out.display())?;
    Ok(0)
}

/// The scenario file with each fitted parameter set to its estimate (a
/// `population.PRIOR.PARAM` path sets that prior's parameter, and the
/// `[calibration]` table is kept, so the file can be fitted again).
fn calibrated_toml(
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
    Ok(format!(
        "# {} calibrated by `lumbar calibrate` (see fit.json beside it)\n{}",
        scenario.display(),
        toml::to_string(&doc)?
    ))
}
