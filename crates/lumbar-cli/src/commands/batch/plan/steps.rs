//! Each kind of step as the command line it runs: its arguments, and the
//! inputs whose hashes make its key.

use std::path::PathBuf;

use anyhow::{Context, Result, anyhow};

use super::super::argv::flag_args;
use super::super::inputs::{file_hash, tree_hashes};
use super::Planner;

impl Planner {
    /// Adds step `name`'s command to `argv` and what it reads to `inputs`;
    /// returns the file its standard output is kept in (compare's JSON).
    pub(super) fn command(
        &mut self,
        kind: &str,
        step: &toml::Table,
        label: &str,
        name: &str,
        inputs: &mut Vec<(String, String)>,
        argv: &mut Vec<String>,
    ) -> Result<Option<PathBuf>> {
        let result = &self.out_dir.join(name).join("result");
        let cohort_name = step.get("cohort").and_then(|v| v.as_str());
        let mut capture = None;
        match kind {
            "ingest" => {
                let c = cohort_name
                    .ok_or_else(|| anyhow!("{label}: ingest needs `cohort = \"NAME\"`"))?;
                let def = self
                    .batch
                    .cohort
                    .iter()
                    .find(|d| d.name == c)
                    .ok_or_else(|| anyhow!("{label}: no [[cohort]] named {c:?}"))?;
                let data = self.at(&def.data);
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
                argv.extend(flag_args(step, &["name", "run", "cohort"], name)?);
                self.stores.push((c.to_string(), store));
            }
            "analyze" | "risk" | "report" => {
                let store = self.store_of(label, kind, cohort_name)?;
                let manifest = store.join("manifest.json");
                inputs.push((
                    manifest.display().to_string(),
                    file_hash(&manifest).unwrap_or_default(),
                ));
                let store = store.display().to_string();
                let out = result.display().to_string();
                match kind {
                    "analyze" => argv.extend(["analyze".into(), store, "--out".into(), out]),
                    "risk" => {
                        argv.extend(["risk".into(), "--store".into(), store, "--out".into(), out])
                    }
                    _ => {
                        let html = result.join("report.html");
                        argv.extend([
                            "report".into(),
                            store,
                            "-o".into(),
                            html.display().to_string(),
                        ]);
                        self.report = Some(html);
                    }
                }
                argv.extend(flag_args(step, &["name", "run", "cohort"], name)?);
            }
            "simulate" => {
                let scen = step
                    .get("scenario")
                    .and_then(|v| v.as_str())
                    .ok_or_else(|| anyhow!("{label}: simulate needs `scenario = \"FILE\"`"))?;
                let scen = self.at(scen);
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
                argv.extend(flag_args(step, &["name", "run", "scenario"], name)?);
                self.sims.push((name.to_string(), result.to_path_buf()));
            }
            _ => {
                let sim = |key: &str| -> Result<PathBuf> {
                    let s = step.get(key).and_then(|v| v.as_str()).ok_or_else(|| {
                        anyhow!("{label}: compare needs `{key} = \"SIMULATE STEP\"`")
                    })?;
                    self.sims
                        .iter()
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
                argv.extend(flag_args(step, &["name", "run", "a", "b"], name)?);
                capture = Some(result.join("compare.json"));
            }
        }
        Ok(capture)
    }
}
