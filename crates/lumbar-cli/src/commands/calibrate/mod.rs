//! `lumbar calibrate STORE --scenario S.toml --out DIR`: the scenario's
//! `[calibration.parameters]` fitted to a clinic's cohort (lumbar-calibrate),
//! written as `fit.json`, `calibrated.toml` (the scenario file with the
//! estimates and the posterior draws as its `[psa]`), `posterior.parquet`
//! (draws and weights), `fit.svg` (observed against simulated targets) and
//! `manifest.json`.

use std::io::Write;
use std::path::PathBuf;

use anyhow::{Context, Result};
use clap::Args;
use lumbar_calibrate::{AbcSettings, Settings, fit_abc, fit_moments, observe};
use lumbar_io::Store;
use lumbar_model::atomic::write_atomic;
use lumbar_model::cohort::CohortSource;
use lumbar_sim::scenario::Scenario;

mod files;
use files::{calibrated_toml, write_posterior};

#[derive(Args, Debug)]
pub struct CalibrateArgs {
    /// Store written by `lumbar ingest` (the clinic's cohort).
    pub store: PathBuf,
    /// Scenario whose `[calibration.parameters]` are fitted (the keys and
    /// prior syntax of `[psa.parameters]`).
    #[arg(long)]
    pub scenario: PathBuf,
    /// abc-smc: a posterior by sequential Monte Carlo ABC with adaptive
    /// tolerances (Beaumont et al. 2009), run until the tolerance stops
    /// shrinking. simulated-moments: a fast point estimate, Nelder–Mead on
    /// the same distance with common random numbers, intervals from the
    /// minimum-distance sandwich and replicate searches.
    #[arg(long, default_value = "abc-smc", value_parser = ["abc-smc", "simulated-moments"])]
    pub method: String,
    /// Most simulated cohorts in all (default: 30 per particle for abc-smc,
    /// 150 for simulated-moments).
    #[arg(long)]
    pub budget: Option<usize>,
    /// ABC-SMC's particles: the posterior's draws.
    #[arg(long, default_value_t = 200, value_parser = clap::value_parser!(u32).range(2..=100_000))]
    pub particles: u32,
    /// simulated-moments: searches with seeds seed, seed + 1, …: their mean
    /// is the estimate and their spread the simulation's share of its
    /// uncertainty.
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
    #[command(flatten)]
    pub format: super::TableFormatArg,
}

pub fn calibrate(args: &CalibrateArgs, ui: &crate::Ui, out: &mut dyn Write) -> Result<u8> {
    let abc = args.method == "abc-smc";
    let particles = args.particles as usize;
    let budget = args
        .budget
        .unwrap_or(if abc { 30 * particles } else { 150 });
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
            budget,
            seed,
            patients: patients.max(1),
            replicates: args.replicates,
        };
        let fit = if abc {
            // One bar per generation: its slots fill as their moves are accepted.
            let bar = std::sync::Mutex::new(ui.progress(particles as u64, "generation 0"));
            let progress = |g: &lumbar_calibrate::Generation| {
                if let Ok(mut b) = bar.lock() {
                    b.finish_and_clear();
                    ui.note(&format!(
                        "generation {:>2}: tolerance {:>10.3}, {} simulated cohorts, ESS {:.0}",
                        g.index, g.tolerance, g.simulations, g.ess
                    ));
                    *b = ui.progress(particles as u64, &format!("generation {}", g.index + 1));
                }
            };
            let settings_abc = AbcSettings {
                particles,
                ..AbcSettings::default()
            };
            let fit = fit_abc(&scenario, &observed, &settings, &settings_abc, &progress)?;
            if let Ok(b) = bar.lock() {
                b.finish_and_clear();
            }
            fit
        } else {
            fit_moments(&scenario, &observed, &settings)?
        };
        Ok((fit, settings))
    };
    let (fit, settings) = super::on_threads(args.threads, run)?;
    let staged = super::result_dir(&args.out)?;
    let dir = staged.path();
    let json = serde_json::to_string_pretty(&fit)? + "\n";
    write_atomic(&dir.join("fit.json"), json.as_bytes())?;
    let calibrated = calibrated_toml(&args.scenario, &scenario, &fit)?;
    write_atomic(&dir.join("calibrated.toml"), calibrated.as_bytes())?;
    write_atomic(
        &dir.join("fit.svg"),
        lumbar_calibrate::svg::fit_svg(&fit).as_bytes(),
    )?;
    write_posterior(
        &fit.posterior,
        dir,
        args.format.formats_or(super::PARQUET_ONLY),
    )?;
    let manifest = serde_json::json!({
        "command": "calibrate",
        "lumbar_version": env!("CARGO_PKG_VERSION"),
        "store_inputs": serde_json::to_value(store.manifest()?.parts)?,
        "scenario": args.scenario,
        "scenario_sha256": lumbar_io::sha256_file(&args.scenario)?,
        "method": args.method, "budget": budget, "particles": if abc { Some(particles) } else { None }, "seed": settings.seed, "bootstrap": args.bootstrap, "replicates": args.replicates,
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
