//! A shard's folder of `lumbar report --shard i/n` (its patients' exact
//! tallies and a manifest), and `lumbar merge` of such folders into the
//! report of the unsharded run, byte for byte.
//!
//! ```text
//! OUT/manifest.json   {"command": "report", "shard": "2/8", "buckets": 64,
//!                      "buckets_taken": [8, 16], "inputs": [...],
//!                      "tallies_sha256": "...", ...}
//! OUT/tallies.json    {"shard": "2/8", "current": ClinicTally of the period,
//!                      "previous": the --compare-to period's, or null}
//! ```

use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::Instant;

use anyhow::{Context, Result};
use lumbar_analysis::clinic::ClinicTally;
use lumbar_io::Store;
use lumbar_io::records::read_json;
use lumbar_model::Regimen;
use lumbar_model::atomic::write_atomic;
use lumbar_model::partition::BucketShard;
use lumbar_report::ReportMeta;
use serde::{Deserialize, Serialize};

use super::ReportArgs;

const TALLIES: &str = "tallies.json";
/// Largest shard manifest read (it lists the store's parts).
const MAX_MANIFEST_BYTES: u64 = 256 << 20;
/// Largest tallies file read: a few numbers per patient and programme
/// week (about 60 bytes a patient-week), so a shard of a million patients
/// followed for two years stays below it.
const MAX_TALLIES_BYTES: u64 = 4 << 30;

/// A shard's tallies: of the report's period, and of the earlier period
/// it is compared with.
#[derive(Debug, Serialize, Deserialize)]
pub(super) struct Tallies {
    /// The shard these are of (`1/1` for a whole run), so that a tallies
    /// file moved into another shard's folder is refused.
    pub shard: String,
    pub current: ClinicTally,
    pub previous: Option<ClinicTally>,
}

/// [`ReportMeta`], as a shard records it for the merge.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
struct Meta {
    title: String,
    regimen: String,
    regimen_version: Option<String>,
    exercise_names: Vec<(String, String)>,
    lumbar_version: String,
    report_date: Option<chrono::NaiveDate>,
}

/// A report shard's manifest: what it read and with which options.
#[derive(Debug, Serialize, Deserialize)]
pub(super) struct ShardRun {
    command: String,
    shard: String,
    buckets: u32,
    buckets_taken: [u32; 2],
    store: PathBuf,
    inputs: Vec<serde_json::Value>,
    parameters: serde_json::Value,
    meta: Meta,
    outputs: Vec<String>,
    /// SHA-256 of tallies.json: merge reads no tallies edited since.
    tallies_sha256: String,
    wall_seconds: f64,
}

impl ShardRun {
    pub(super) fn new(
        args: &ReportArgs,
        store: &Store,
        regimen: &Regimen,
        shard: BucketShard,
        buckets: u32,
        meta: &ReportMeta,
    ) -> Result<ShardRun> {
        let taken = shard.buckets(buckets);
        Ok(ShardRun {
            command: "report".into(),
            shard: shard.to_string(),
            buckets,
            buckets_taken: [taken.start, taken.end],
            store: args.store.clone(),
            inputs: crate::commands::shard::inputs(&store.manifest()?),
            parameters: serde_json::json!({
                "regimen": regimen.key,
                "prescriptions": match &args.prescriptions {
                    Some(f) => serde_json::json!({"file": f, "sha256": lumbar_io::sha256_file(f)?}),
                    None => serde_json::Value::Null,
                },
                "site": args.site,
                "from": args.from,
                "to": args.to,
                "compare_to": args.compare_to,
            }),
            meta: Meta {
                title: meta.title.clone(),
                regimen: meta.regimen.clone(),
                regimen_version: meta.regimen_version.clone(),
                exercise_names: meta.exercise_names.clone(),
                lumbar_version: meta.lumbar_version.clone(),
                report_date: meta.report_date,
            },
            outputs: vec![TALLIES.into()],
            tallies_sha256: String::new(),
            wall_seconds: 0.0,
        })
    }
}

/// Writes the shard's tallies and manifest into `dir`, in place at once.
pub(super) fn write_shard(
    dir: &Path,
    mut run: ShardRun,
    tallies: &Tallies,
    started: Instant,
    out: &mut dyn Write,
) -> Result<u8> {
    let staged = crate::commands::result_dir(dir)?;
    write_atomic(
        &staged.path().join(TALLIES),
        serde_json::to_string(tallies)?.as_bytes(),
    )
    .with_context(|| format!("cannot write {TALLIES} into {}", dir.display()))?;
    run.tallies_sha256 = lumbar_io::sha256_file(&staged.path().join(TALLIES))?;
    run.wall_seconds = started.elapsed().as_secs_f64();
    write_atomic(
        &staged.path().join("manifest.json"),
        serde_json::to_string_pretty(&run)?.as_bytes(),
    )?;
    staged
        .commit()
        .with_context(|| format!("cannot put the tallies in place at {}", dir.display()))?;
    let t = &tallies.current;
    writeln!(
        out,
        "shard {}: {} patients covered, {} sessions (buckets {}–{} of {})",
        run.shard,
        t.patients,
        t.sessions,
        run.buckets_taken[0],
        run.buckets_taken[1].saturating_sub(1),
        run.buckets
    )?;
    writeln!(
        out,
        "partial tallies: {} (put the shards together with `lumbar merge … --out REPORT.html`)",
        dir.display()
    )?;
    Ok(0)
}

/// Whether a result folder is a shard of `lumbar report`.
pub fn is_report(dir: &Path) -> bool {
    crate::commands::shard::command_of(dir).as_deref() == Some("report")
}

/// `lumbar merge` of report shards: checks they are the shards 1..n of one
/// run, adds their tallies and writes the report the unsharded run writes.
pub fn merge_reports(dirs: &[PathBuf], report: &Path, out: &mut dyn Write) -> Result<u8> {
    let mut runs: Vec<(&PathBuf, ShardRun)> = Vec::with_capacity(dirs.len());
    for dir in dirs {
        let m: ShardRun =
            read_json(&dir.join("manifest.json"), MAX_MANIFEST_BYTES).with_context(|| {
                format!(
                    "{} is not a shard of `lumbar report --shard`",
                    dir.display()
                )
            })?;
        runs.push((dir, m));
    }
    let shards: Vec<(&Path, &str)> = runs
        .iter()
        .map(|(d, m)| (d.as_path(), m.shard.as_str()))
        .collect();
    let count = crate::commands::shard::check_cover(&shards, |k| {
        let (a, b) = (&runs[0].1, &runs[k].1);
        a.command == b.command
            && a.buckets == b.buckets
            && a.inputs == b.inputs
            && a.parameters == b.parameters
            && a.meta == b.meta
    })?;
    // Added in shard order (the sum does not depend on it).
    runs.sort_by_key(|(_, m)| {
        m.shard
            .split_once('/')
            .and_then(|(i, _)| i.parse::<u32>().ok())
    });
    let mut sum: Option<Tallies> = None;
    for (dir, m) in &runs {
        let file = dir.join(TALLIES);
        let sha = lumbar_io::sha256_file(&file)
            .with_context(|| format!("cannot read the tallies of {}", dir.display()))?;
        if sha != m.tallies_sha256 {
            anyhow::bail!(
                "{} is not the file its shard wrote (its SHA-256 differs from manifest.json's): run the shard again",
                file.display()
            );
        }
        let t: Tallies = read_json(&file, MAX_TALLIES_BYTES)
            .with_context(|| format!("cannot read the tallies of {}", dir.display()))?;
        if t.shard != m.shard {
            anyhow::bail!(
                "{} holds shard {}'s tallies, but its manifest says shard {}",
                file.display(),
                t.shard,
                m.shard
            );
        }
        let added = match &mut sum {
            None => {
                sum = Some(t);
                Ok(())
            }
            Some(s) => {
                s.current
                    .add(t.current)
                    .and_then(|()| match (&mut s.previous, t.previous) {
                        (Some(a), Some(b)) => a.add(b),
                        (None, None) => Ok(()),
                        _ => Err(lumbar_analysis::clinic::TallyMismatch::PERIODS),
                    })
            }
        };
        added.with_context(|| format!("{} does not add to the shards before it", dir.display()))?;
    }
    let Some(tallies) = sum else {
        anyhow::bail!("no shard folders given");
    };
    let m = &runs[0].1;
    let version = env!("CARGO_PKG_VERSION");
    if m.meta.lumbar_version != version {
        anyhow::bail!(
            "the shards were tallied by lumbar {}, this is {version}: run them again with this one",
            m.meta.lumbar_version
        );
    }
    let meta = ReportMeta {
        title: m.meta.title.clone(),
        regimen: m.meta.regimen.clone(),
        regimen_version: m.meta.regimen_version.clone(),
        exercise_names: m.meta.exercise_names.clone(),
        lumbar_version: m.meta.lumbar_version.clone(),
        report_date: m.meta.report_date,
    };
    writeln!(
        out,
        "merged {count} shards of the report on {}",
        m.store.display()
    )?;
    super::write_report(report, tallies, &meta, &m.store, out)
}
