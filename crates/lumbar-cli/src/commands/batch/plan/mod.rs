//! The batch file and what each of its steps runs: parsing `BATCH.toml`,
//! resolving its paths, and turning a step into the command line it runs,
//! its inputs (each with its SHA-256) and its key. Nothing here runs a
//! command or writes a file; [`super::run_batch`] does.

use std::collections::HashSet;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result, anyhow, bail};
use lumbar_model::atomic::plain_component;
use serde::Deserialize;

use super::argv::tidy;
use super::inputs::{file_hash, sha256_bytes};

mod steps;

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

/// One step, ready to run: what it runs, from what, and where to.
pub(super) struct StepPlan {
    pub name: String,
    pub kind: String,
    /// `step N "NAME"`, the prefix of every message about the step.
    pub label: String,
    /// OUT/NAME: holds `manifest.json` and `result/`.
    pub dir: PathBuf,
    pub result: PathBuf,
    /// (path, SHA-256) of every input; empty hash for one not there yet.
    pub inputs: Vec<(String, String)>,
    /// `lumbar -q COMMAND ... [--regimen R]`, with paths into `result`.
    pub argv: Vec<String>,
    /// Where the command's stdout is kept (compare's JSON), if anywhere.
    pub capture: Option<PathBuf>,
    /// The step's own table as JSON, kept in its manifest.
    pub parameters: serde_json::Value,
    /// SHA-256 of kind, parameters, inputs, version and command line.
    pub key: String,
}

/// Plans the steps of one batch file in order. A step may name what an
/// earlier one made (a cohort's store, a simulation), so steps are planned
/// one at a time, each after the one before it has run: an input's hash is
/// taken when its step comes.
pub(super) struct Planner {
    file: PathBuf,
    batch: Batch,
    base: PathBuf,
    out_dir: PathBuf,
    regimen: Option<PathBuf>,
    stores: Vec<(String, PathBuf)>,
    sims: Vec<(String, PathBuf)>,
    names: HashSet<String>,
    /// The last report step's HTML file, to print at the end.
    pub report: Option<PathBuf>,
}

impl Planner {
    /// The plan of a batch file; `out` (relative to the current folder)
    /// replaces the file's own `out`.
    pub fn open(file: &Path, out: Option<&Path>) -> Result<Planner> {
        let text = std::fs::read_to_string(file)
            .with_context(|| format!("cannot open batch file {}", file.display()))?;
        let batch: Batch = toml::from_str(&text).map_err(|e| {
            anyhow!(
                "batch {}: {}",
                file.display(),
                lumbar_model::toml_error::describe(&text, &e)
            )
        })?;
        let base = file.parent().map(Path::to_path_buf).unwrap_or_default();
        for c in &batch.cohort {
            plain_component(&c.name).map_err(|problem| {
                anyhow!(
                    "batch {}: [[cohort]] `name` {:?} {problem}",
                    file.display(),
                    c.name
                )
            })?;
        }
        let mut planner = Planner {
            file: file.to_path_buf(),
            base,
            out_dir: PathBuf::new(),
            regimen: None,
            stores: Vec::new(),
            sims: Vec::new(),
            names: HashSet::new(),
            report: None,
            batch,
        };
        planner.out_dir = match out {
            Some(dir) => tidy(dir),
            None => planner.at(&planner.batch.out),
        };
        planner.regimen = planner.batch.regimen.as_deref().map(|r| planner.at(r));
        Ok(planner)
    }

    /// A path of the batch file, relative to the file's folder.
    fn at(&self, p: &str) -> PathBuf {
        let p = Path::new(p);
        tidy(&if p.is_relative() {
            self.base.join(p)
        } else {
            p.to_path_buf()
        })
    }

    pub fn out_dir(&self) -> &Path {
        &self.out_dir
    }

    pub fn len(&self) -> usize {
        self.batch.step.len()
    }

    fn store_of(&self, label: &str, kind: &str, cohort: Option<&str>) -> Result<PathBuf> {
        let c = cohort.ok_or_else(|| anyhow!("{label}: `{kind}` needs `cohort = \"NAME\"`"))?;
        self.stores
            .iter()
            .find(|(n, _)| n == c)
            .map(|(_, p)| p.clone())
            .ok_or_else(|| anyhow!("{label}: cohort {c:?} has no ingest step before this one"))
    }

    /// Step `i` (0-based) as the command it runs.
    pub fn plan(&mut self, i: usize) -> Result<StepPlan> {
        let step = self.batch.step[i].clone();
        let file = self.file.display().to_string();
        let name = step
            .get("name")
            .and_then(|v| v.as_str())
            .ok_or_else(|| anyhow!("batch {file}: step {} has no `name`", i + 1))?
            .to_string();
        let label = format!("step {} {name:?}", i + 1);
        // The name becomes OUT/NAME: one plain folder name, never a way out of OUT.
        plain_component(&name)
            .map_err(|problem| anyhow!("batch {file}: {label}: `name` {problem}"))?;
        if !self.names.insert(name.clone()) {
            bail!("{label}: the name is used twice; each step needs its own folder");
        }
        let kind = step
            .get("run")
            .and_then(|v| v.as_str())
            .ok_or_else(|| anyhow!("{label}: no `run` (one of {})", KINDS.join(", ")))?
            .to_string();
        if !KINDS.contains(&kind.as_str()) {
            bail!(
                "{label}: `run = {kind:?}` is not one of {}",
                KINDS.join(", ")
            );
        }
        let dir = self.out_dir.join(&name);
        let result = dir.join("result");
        let mut inputs: Vec<(String, String)> = Vec::new();
        if let Some(r) = &self.regimen {
            inputs.push((r.display().to_string(), file_hash(r)?));
        }
        let mut argv: Vec<String> = vec!["lumbar".into(), "-q".into()];
        let capture = self.command(&kind, &step, &label, &name, &mut inputs, &mut argv)?;
        // Only the steps that read a regimen take one.
        if let Some(r) = &self.regimen
            && ["ingest", "analyze", "report"].contains(&kind.as_str())
        {
            argv.extend(["--regimen".into(), r.display().to_string()]);
        }
        let parameters = serde_json::to_value(&step)?;
        let key = sha256_bytes(
            serde_json::to_string(&serde_json::json!({
                "run": kind, "parameters": parameters, "inputs": inputs,
                "lumbar_version": env!("CARGO_PKG_VERSION"), "args": argv,
            }))?
            .as_bytes(),
        );
        Ok(StepPlan {
            name,
            kind,
            label,
            dir,
            result,
            inputs,
            argv,
            capture,
            parameters,
            key,
        })
    }
}
