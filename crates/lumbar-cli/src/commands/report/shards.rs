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
use lumbar_model::Regimen;
use lumbar_model::atomic::write_atomic;
use lumbar_model::partition::BucketShard;
use lumbar_report::ReportMeta;
use serde::{Deserialize, Serialize};

use super::ReportArgs;

pub(super) const TALLIES: &str = "tallies.json";
/// Largest shard manifest read (it lists the store's parts).
pub(super) const MAX_MANIFEST_BYTES: u64 = 256 << 20;
/// Largest tallies file read: about 20 bytes a number, a few numbers per
/// patient and one per patient-week with a pain or ODI value, so some 100
/// million patient-weeks a shard (a million patients × 12 weeks take 2 ×
/// 12 million); a larger registry takes more shards.
pub(super) const MAX_TALLIES_BYTES: u64 = 4 << 30;

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
pub(super) struct Meta {
    pub(super) title: String,
    pub(super) regimen: String,
    pub(super) regimen_version: Option<String>,
    pub(super) exercise_names: Vec<(String, String)>,
    pub(super) lumbar_version: String,
    pub(super) report_date: Option<chrono::NaiveDate>,
}

/// A report shard's manifest: what it read and with which options.
#[derive(Debug, Serialize, Deserialize)]
pub(super) struct ShardRun {
    pub(super) command: String,
    pub(super) shard: String,
    pub(super) buckets: u32,
    pub(super) buckets_taken: [u32; 2],
    pub(super) store: PathBuf,
    pub(super) inputs: Vec<serde_json::Value>,
    pub(super) parameters: serde_json::Value,
    pub(super) meta: Meta,
    pub(super) outputs: Vec<String>,
    /// SHA-256 of tallies.json: merge reads no tallies edited since.
    pub(super) tallies_sha256: String,
    pub(super) wall_seconds: f64,
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
        // Every rule the tallies depend on, not only the regimen's key.
        let regimen_digest = {
            use sha2::Digest;
            format!(
                "{:x}",
                sha2::Sha256::digest(format!("{regimen:?}").as_bytes())
            )
        };
        Ok(ShardRun {
            command: "report".into(),
            shard: shard.to_string(),
            buckets,
            buckets_taken: [taken.start, taken.end],
            store: args.store.clone(),
            inputs: crate::commands::shard::inputs(&store.manifest()?),
            parameters: serde_json::json!({
                "regimen": regimen.key,
                "regimen_sha256": regimen_digest,
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
