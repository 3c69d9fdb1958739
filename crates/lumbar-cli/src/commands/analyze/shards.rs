//! A shard's folder of `lumbar analyze --shard i/n` (its patients' parts,
//! one per line, and a manifest), and `lumbar merge` of such folders into
//! the result folder of the unsharded run, byte for byte.
//!
//! ```text
//! OUT/manifest.json      {"command": "analyze", "shard": "2/8", "buckets": 64,
//!                         "buckets_taken": [8, 16], "run": {...}, ...}
//! OUT/patients.ndjson    one lumbar_analysis::analyze::PatientPart per line
//! ```

use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::Instant;

use anyhow::{Context, Result};
use lumbar_analysis::analyze::{Counts, PatientPart, Request};
use lumbar_io::Store;
use lumbar_io::records::{RecordsReader, RecordsWriter, read_json};
use lumbar_model::atomic::write_atomic;
use serde::{Deserialize, Serialize};

use super::tables::{self, Run};

const PARTS: &str = "patients.ndjson";
/// Largest shard manifest read (it lists the store's parts).
const MAX_MANIFEST_BYTES: u64 = 256 << 20;
/// Longest line of a parts file: one patient's weeks, events and flags.
/// A patient scheduled for the longest schedule allowed, with a session
/// every day, stays well below it.
const MAX_PART_BYTES: usize = 256 << 20;

#[derive(Debug, Serialize, Deserialize)]
struct ShardManifest {
    command: String,
    shard: String,
    buckets: u32,
    buckets_taken: [u32; 2],
    run: Run,
    outputs: Vec<String>,
    wall_seconds: f64,
}

/// Streams the shard's parts into `dir` and writes its manifest, in place
/// at once.
pub(super) fn write_shard(
    store: &Store,
    request: &Request,
    dir: &Path,
    mut run: Run,
    buckets: u32,
    started: Instant,
    out: &mut dyn Write,
) -> Result<u8> {
    let shard = request.shard;
    let staged = super::super::result_dir(dir)?;
    let mut parts = RecordsWriter::create(&staged.path().join(PARTS))
        .with_context(|| format!("cannot write {PARTS} into {}", dir.display()))?;
    run.counts = super::stream_to(store, request, |part| Ok(parts.write(&part)?))?;
    parts
        .finish()
        .with_context(|| format!("cannot write {PARTS} into {}", dir.display()))?;
    let taken = shard.buckets(buckets);
    let manifest = ShardManifest {
        command: "analyze".into(),
        shard: shard.to_string(),
        buckets,
        buckets_taken: [taken.start, taken.end],
        run: run.clone(),
        outputs: vec![PARTS.into()],
        wall_seconds: started.elapsed().as_secs_f64(),
    };
    write_atomic(
        &staged.path().join("manifest.json"),
        serde_json::to_string_pretty(&manifest)?.as_bytes(),
    )?;
    staged
        .commit()
        .with_context(|| format!("cannot put the results in place at {}", dir.display()))?;
    let c = run.counts;
    writeln!(
        out,
        "shard {shard}: {} of {} patients (buckets {}–{} of {buckets}), {} sessions, {} outcome measurements",
        c.patients,
        c.patients_total,
        taken.start,
        taken.end.saturating_sub(1),
        c.sessions,
        c.outcomes
    )?;
    writeln!(
        out,
        "partial results: {} (put the {} shards together with `lumbar merge`)",
        dir.display(),
        shard.count
    )?;
    Ok(0)
}

/// Whether a result folder is a shard of `lumbar analyze` (else, of a simulation).
pub fn is_analysis(dir: &Path) -> bool {
    crate::commands::shard::command_of(dir).as_deref() == Some("analyze")
}

/// `lumbar merge` of analysis shards: checks they are the shards 1..n of
/// one run, then finishes and writes the tables as the unsharded run does.
pub fn merge_analysis(dirs: &[PathBuf], out_dir: &Path, out: &mut dyn Write) -> Result<u8> {
    let started = Instant::now();
    let mut shards: Vec<(&PathBuf, ShardManifest)> = Vec::with_capacity(dirs.len());
    for dir in dirs {
        let m: ShardManifest = read_json(&dir.join("manifest.json"), MAX_MANIFEST_BYTES)
            .with_context(|| {
                format!(
                    "{} is not a shard of `lumbar analyze --shard`",
                    dir.display()
                )
            })?;
        shards.push((dir, m));
    }
    let folders: Vec<(&Path, &str)> = shards
        .iter()
        .map(|(d, m)| (d.as_path(), m.shard.as_str()))
        .collect();
    let count = crate::commands::shard::check_cover(&folders, |k| {
        let (a, b) = (&shards[0].1, &shards[k].1);
        if a.command != b.command || a.buckets != b.buckets {
            Some("command or bucket count")
        } else if a.run.inputs != b.run.inputs
            || a.run.counts.patients_total != b.run.counts.patients_total
        {
            Some("store contents")
        } else if a.run.parameters != b.run.parameters {
            Some("parameters")
        } else {
            None
        }
    })?;
    let first = &shards[0].1;
    let total = first.run.counts.patients_total;
    let mut run = first.run.clone();
    run.counts = Counts {
        patients_total: total,
        ..Default::default()
    };
    // The shards' parts, merged by index (each file is in index order).
    let mut readers = Vec::with_capacity(shards.len());
    for (dir, m) in &shards {
        let reader = RecordsReader::<PatientPart>::open(&dir.join(PARTS), total, MAX_PART_BYTES)?;
        readers.push(reader.peekable());
        run.counts.patients += m.run.counts.patients;
        run.counts.sessions += m.run.counts.sessions;
        run.counts.outcomes += m.run.counts.outcomes;
    }
    let mut output = tables::Output::begin(out_dir, &run.parameters)?;
    loop {
        // A reader's error is its own item: surface it before choosing.
        let mut next: Option<(usize, usize)> = None;
        for (k, r) in readers.iter_mut().enumerate() {
            match r.peek() {
                None => {}
                Some(Err(_)) => {
                    if let Some(Err(e)) = r.next() {
                        return Err(e.into());
                    }
                }
                Some(Ok(p)) if next.is_none_or(|(_, i)| p.index < i) => {
                    next = Some((k, p.index));
                }
                Some(Ok(_)) => {}
            }
        }
        let Some((k, _)) = next else { break };
        if let Some(Ok(part)) = readers[k].next() {
            output.add(part).map_err(|e| anyhow::anyhow!("{e}"))?;
        }
    }
    let t = output.finish(out_dir, &run, started)?;
    writeln!(
        out,
        "merged {count} shards of the analysis of {}",
        run.store.display()
    )?;
    tables::print_summary(&run, &t, out_dir, out)?;
    Ok(0)
}
