//! `lumbar run BATCH.toml`: a list of steps (ingest, analyze, risk, report,
//! simulate, compare) over one or more cohorts, each skipped when its inputs
//! and parameters have not changed.
//!
//! ```toml
//! out = "../out/demo"                 # every output goes under here
//! regimen = "regimens/six-moves.toml" # optional
//!
//! [[cohort]]
//! name = "demo"
//! data = "demo"                       # a folder of canonical tables
//!
//! [[step]]
//! name = "analyze"                    # also the step's folder: OUT/analyze/
//! run = "analyze"
//! cohort = "demo"
//! adherent = 0.7                      # any option of the command, as --adherent 0.7
//! ```
//!
//! Paths are relative to the batch file. Each step writes its results to
//! `OUT/STEP/result/` and `OUT/STEP/manifest.json` (inputs with SHA-256,
//! parameters, seed, lumbar version, wall time, and the step's key: the
//! SHA-256 of all of these but the time). A step whose key equals the one in
//! its manifest, with its result folder present, is skipped. Cohort steps
//! read the store written by the cohort's `ingest` step, which must come
//! first; `compare` names two `simulate` steps.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::Instant;

use anyhow::{Context, Result, anyhow, bail};
use clap::Args;
use lumbar_model::atomic::{StagedDir, plain_component, write_atomic};
use serde::Deserialize;
use sha2::{Digest, Sha256};

#[derive(Args, Debug)]
pub struct BatchArgs {
    /// The batch file (TOML), e.g. datasets/batch-demo.toml.
    pub batch: PathBuf,
    /// Run every step, even those whose inputs have not changed.
    #[arg(long)]
    pub force: bool,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Batch {
    out: String,
    regimen: Option<String>,
    #[serde(default)]
    cohort: Vec<CohortDef>,
    #[serde(default)]
    step: Vec<toml::Table>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct CohortDef {
    name: String,
    data: String,
}

const KINDS: [&str; 6] = ["ingest", "analyze", "risk", "report", "simulate", "compare"];

fn sha256_bytes(b: &[u8]) -> String {
    let h = Sha256::digest(b);
    h.iter().map(|x| format!("{x:02x}")).collect()
}

fn file_hash(p: &Path) -> Result<String> {
    lumbar_io::sha256_file(p).map_err(|e| anyhow!("{e}"))
}

/// Every file under `dir`, sorted, with its hash (for a folder input).
fn tree_hashes(dir: &Path) -> Result<Vec<(String, String)>> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        let entries =
            std::fs::read_dir(&d).with_context(|| format!("cannot open {}", d.display()))?;
        for e in entries {
            let p = e?.path();
            if p.is_dir() {
                stack.push(p);
            } else {
                out.push((p.display().to_string(), file_hash(&p)?));
            }
        }
    }
    out.sort();
    Ok(out)
}

/// Removes `.` and folds `dir/..` without touching the disk, so printed
/// paths read `out/demo` rather than `datasets/../out/demo`.
fn tidy(p: &Path) -> PathBuf {
    use std::path::Component;
    let mut out: Vec<Component> = Vec::new();
    for c in p.components() {
        match c {
            Component::CurDir => {}
            Component::ParentDir if matches!(out.last(), Some(Component::Normal(_))) => {
                out.pop();
            }
            other => out.push(other),
        }
    }
    if out.is_empty() {
        PathBuf::from(".")
    } else {
        out.iter().collect()
    }
}

fn flag_args(params: &toml::Table, skip: &[&str], step: &str) -> Result<Vec<String>> {
    let mut args = Vec::new();
    for (k, v) in params {
        if skip.contains(&k.as_str()) {
            continue;
        }
        let flag = format!("--{}", k.replace('_', "-"));
        match v {
            toml::Value::Boolean(true) => args.push(flag),
            toml::Value::Boolean(false) => {}
            toml::Value::String(s) => args.extend([flag, s.clone()]),
            toml::Value::Integer(i) => args.extend([flag, i.to_string()]),
            toml::Value::Float(f) => args.extend([flag, f.to_string()]),
            toml::Value::Array(a) => {
                let items: Vec<String> = a
                    .iter()
                    .map(|x| match x {
                        toml::Value::String(s) => s.clone(),
                        other => other.to_string(),
                    })
                    .collect();
                args.extend([flag, items.join(",")]);
            }
            other => bail!("step {step:?}: `{k}` = {other} is not a value a command option takes"),
        }
    }
    Ok(args)
}

/// `arg` with the result folder `from` (or a path inside it) moved to `to`.
fn restage(arg: &str, from: &Path, to: &Path) -> String {
    let from = from.display().to_string();
    match arg.strip_prefix(&from) {
        Some(rest) if rest.is_empty() || rest.starts_with(std::path::MAIN_SEPARATOR) => {
            format!("{}{rest}", to.display())
        }
        _ => arg.to_string(),
    }
}

pub fn run_batch(args: &BatchArgs, quiet: bool, out: &mut dyn Write) -> Result<u8> {
    let text = std::fs::read_to_string(&args.batch)
        .with_context(|| format!("cannot open batch file {}", args.batch.display()))?;
    let batch: Batch = toml::from_str(&text).map_err(|e| {
        anyhow!(
            "batch {}: {}",
            args.batch.display(),
            e.to_string().trim_end().replace('\n', " ")
        )
    })?;
    let base = args
        .batch
        .parent()
        .map(Path::to_path_buf)
        .unwrap_or_default();
    let at = |p: &str| -> PathBuf {
        let p = Path::new(p);
        tidy(&if p.is_relative() {
            base.join(p)
        } else {
            p.to_path_buf()
        })
    };
    for c in &batch.cohort {
        plain_component(&c.name).map_err(|problem| {
            anyhow!(
                "batch {}: [[cohort]] `name` {:?} {problem}",
                args.batch.display(),
                c.name
            )
        })?;
    }
    let out_dir = at(&batch.out);
    let regimen = batch.regimen.as_deref().map(at);
    let version = env!("CARGO_PKG_VERSION");
    let mut stores: Vec<(String, PathBuf)> = Vec::new();
    let mut sims: Vec<(String, PathBuf)> = Vec::new();
    let mut report_path = None;
    let mut names = std::collections::HashSet::new();

    for (i, step) in batch.step.iter().enumerate() {
        let name = step
            .get("name")
            .and_then(|v| v.as_str())
            .ok_or_else(|| {
                anyhow!(
                    "batch {}: step {} has no `name`",
                    args.batch.display(),
                    i + 1
                )
            })?
            .to_string();
        let label = format!("step {} {name:?}", i + 1);
        // The name becomes OUT/NAME: one plain folder name, never a way out of OUT.
        plain_component(&name).map_err(|problem| {
            anyhow!("batch {}: {label}: `name` {problem}", args.batch.display())
        })?;
        if !names.insert(name.clone()) {
            bail!("{label}: the name is used twice; each step needs its own folder");
        }
        let kind = step
            .get("run")
            .and_then(|v| v.as_str())
            .ok_or_else(|| anyhow!("{label}: no `run` (one of {})", KINDS.join(", ")))?;
        if !KINDS.contains(&kind) {
            bail!(
                "{label}: `run = {kind:?}` is not one of {}",
                KINDS.join(", ")
            );
        }
        let dir = out_dir.join(&name);
        let result = dir.join("result");
        let cohort_name = step.get("cohort").and_then(|v| v.as_str());
        let mut inputs: Vec<(String, String)> = Vec::new();
        if let Some(r) = &regimen {
            inputs.push((r.display().to_string(), file_hash(r)?));
        }
        let mut argv: Vec<String> = vec!["lumbar".into(), "-q".into()];
        if let Some(r) = &regimen {
            argv.extend(["--regimen".into(), r.display().to_string()]);
        }
        let store_of = |c: Option<&str>| -> Result<PathBuf> {
            let c = c.ok_or_else(|| anyhow!("{label}: `{kind}` needs `cohort = \"NAME\"`"))?;
            stores
                .iter()
                .find(|(n, _)| n == c)
                .map(|(_, p)| p.clone())
                .ok_or_else(|| anyhow!("{label}: cohort {c:?} has no ingest step before this one"))
        };
        let mut capture = None;
        match kind {
            "ingest" => {
                let c = cohort_name
                    .ok_or_else(|| anyhow!("{label}: ingest needs `cohort = \"NAME\"`"))?;
                let def = batch
                    .cohort
                    .iter()
                    .find(|d| d.name == c)
                    .ok_or_else(|| anyhow!("{label}: no [[cohort]] named {c:?}"))?;
                let data = at(&def.data);
                inputs
                    .extend(tree_hashes(&data).with_context(|| format!("{label}: cohort {c:?}"))?);
                let store = result.join("store");
                argv.extend([
                    "ingest".into(),
                    "--out".into(),
                    store.display().to_string(),
                    "--dir".into(),
                    data.display().to_string(),
                ]);
                argv.extend(flag_args(step, &["name", "run", "cohort"], &name)?);
                stores.push((c.to_string(), store));
            }
            "analyze" | "risk" | "report" => {
                let store = store_of(cohort_name)?;
                let manifest = store.join("manifest.json");
                inputs.push((
                    manifest.display().to_string(),
                    file_hash(&manifest).unwrap_or_default(),
                ));
                match kind {
                    "analyze" => argv.extend([
                        "analyze".into(),
                        store.display().to_string(),
                        "--out".into(),
                        result.display().to_string(),
                    ]),
                    "risk" => argv.extend([
                        "risk".into(),
                        "--store".into(),
                        store.display().to_string(),
                        "--out".into(),
                        result.display().to_string(),
                    ]),
                    _ => {
                        let html = result.join("report.html");
                        argv.extend([
                            "report".into(),
                            store.display().to_string(),
                            "-o".into(),
                            html.display().to_string(),
                        ]);
                        report_path = Some(html);
                    }
                }
                argv.extend(flag_args(step, &["name", "run", "cohort"], &name)?);
            }
            "simulate" => {
                let scen = step
                    .get("scenario")
                    .and_then(|v| v.as_str())
                    .ok_or_else(|| anyhow!("{label}: simulate needs `scenario = \"FILE\"`"))?;
                let scen = at(scen);
                inputs.push((
                    scen.display().to_string(),
                    file_hash(&scen).with_context(|| format!("{label}: scenario"))?,
                ));
                argv.extend([
                    "simulate".into(),
                    scen.display().to_string(),
                    "--out".into(),
                    result.display().to_string(),
                ]);
                argv.extend(flag_args(step, &["name", "run", "scenario"], &name)?);
                sims.push((name.clone(), result.clone()));
            }
            _ => {
                let sim = |key: &str| -> Result<PathBuf> {
                    let s = step.get(key).and_then(|v| v.as_str()).ok_or_else(|| {
                        anyhow!("{label}: compare needs `{key} = \"SIMULATE STEP\"`")
                    })?;
                    sims.iter()
                        .find(|(n, _)| n == s)
                        .map(|(_, p)| p.clone())
                        .ok_or_else(|| {
                            anyhow!("{label}: {s:?} is not a simulate step before this one")
                        })
                };
                let (a, b) = (sim("a")?, sim("b")?);
                for p in [&a, &b] {
                    let t = p.join("tally.json");
                    inputs.push((t.display().to_string(), file_hash(&t).unwrap_or_default()));
                }
                argv.extend([
                    "compare".into(),
                    a.display().to_string(),
                    b.display().to_string(),
                    "--json".into(),
                ]);
                argv.extend(flag_args(step, &["name", "run", "a", "b"], &name)?);
                capture = Some(result.join("compare.json"));
            }
        }
        let parameters = serde_json::to_value(step)?;
        let key = sha256_bytes(
            serde_json::to_string(&serde_json::json!({
                "run": kind, "parameters": parameters, "inputs": inputs, "lumbar_version": version,
                "args": argv,
            }))?
            .as_bytes(),
        );
        let manifest_path = dir.join("manifest.json");
        let previous: Option<serde_json::Value> = std::fs::read(&manifest_path)
            .ok()
            .and_then(|b| serde_json::from_slice(&b).ok());
        if !args.force
            && result.exists()
            && previous
                .as_ref()
                .and_then(|m| m.get("key"))
                .and_then(|k| k.as_str())
                == Some(key.as_str())
        {
            writeln!(
                out,
                "skip  {name} ({kind}): inputs and parameters unchanged"
            )?;
            continue;
        }
        // The step runs into a staging folder that replaces OUT/NAME/result
        // only when it succeeded: a failed step leaves the previous results.
        let staged = StagedDir::begin(&result)
            .with_context(|| format!("{label}: cannot prepare {}", result.display()))?;
        let started = Instant::now();
        let mut buf = Vec::new();
        let staged_argv: Vec<String> = argv
            .iter()
            .map(|a| restage(a, &result, staged.path()))
            .collect();
        let code = crate::run(&staged_argv, &mut buf)
            .map_err(|e| anyhow!("{label} ({kind}) failed: {e:#}"))?;
        if code != 0 {
            bail!(
                "{label} ({kind}) failed with exit code {code}: {}",
                argv[2..].join(" ")
            );
        }
        if let Some(c) = &capture {
            write_atomic(
                Path::new(&restage(&c.display().to_string(), &result, staged.path())),
                &buf,
            )?;
        }
        staged
            .commit()
            .with_context(|| format!("{label}: cannot put {} in place", result.display()))?;
        let wall = started.elapsed().as_secs_f64();
        let seed = step.get("seed").and_then(|v| v.as_integer()).or_else(|| {
            // A simulation's seed comes from its scenario unless overridden.
            let t = std::fs::read(result.join("manifest.json")).ok()?;
            let m: serde_json::Value = serde_json::from_slice(&t).ok()?;
            m.get("run")?.get("seed")?.as_i64()
        });
        let manifest = serde_json::json!({
            "step": name,
            "run": kind,
            "key": key,
            "inputs": inputs.iter().map(|(p, h)| serde_json::json!({"path": p, "sha256": h})).collect::<Vec<_>>(),
            "parameters": parameters,
            "command": argv[2..].join(" "),
            "seed": seed,
            "lumbar_version": version,
            "wall_seconds": wall,
            "result": result,
        });
        write_atomic(
            &manifest_path,
            serde_json::to_string_pretty(&manifest)?.as_bytes(),
        )?;
        writeln!(out, "ran   {name} ({kind}) in {wall:.1} s")?;
        if !quiet {
            let _ = out.flush();
        }
    }
    writeln!(out, "outputs: {}", out_dir.display())?;
    if let Some(r) = report_path {
        writeln!(out, "report: {}", r.display())?;
    }
    Ok(0)
}
