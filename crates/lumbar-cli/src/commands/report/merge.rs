//! `lumbar merge` of the folders of `lumbar report --shard i/n` into the
//! report of the unsharded run, byte for byte.

use std::io::Write;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};
use lumbar_io::records::read_json;
use lumbar_report::ReportMeta;

use super::shards::{MAX_MANIFEST_BYTES, MAX_TALLIES_BYTES, ShardRun, TALLIES, Tallies};

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
    // A shard of another lumbar may tally otherwise: said first, plainly.
    let version = env!("CARGO_PKG_VERSION");
    if let Some((dir, m)) = runs.iter().find(|(_, m)| m.meta.lumbar_version != version) {
        bail!(
            "{} was tallied by lumbar {}, this is {version}: run the shards again with this one",
            dir.display(),
            m.meta.lumbar_version
        );
    }
    let shards: Vec<(&Path, &str)> = runs
        .iter()
        .map(|(d, m)| (d.as_path(), m.shard.as_str()))
        .collect();
    let count = crate::commands::shard::check_cover(&shards, |k| {
        let (a, b) = (&runs[0].1, &runs[k].1);
        if a.command != b.command || a.buckets != b.buckets {
            Some("command or bucket count")
        } else if a.inputs != b.inputs {
            Some("store contents")
        } else if a.parameters != b.parameters {
            Some("regimen, prescriptions, site or periods")
        } else if a.meta != b.meta {
            Some("title or report date")
        } else {
            None
        }
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
            bail!(
                "{} is not the file its shard wrote (its SHA-256 differs from manifest.json's): run the shard again",
                file.display()
            );
        }
        let t: Tallies = read_json(&file, MAX_TALLIES_BYTES)
            .with_context(|| format!("cannot read the tallies of {}", dir.display()))?;
        if t.shard != m.shard {
            bail!(
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
        bail!("no shard folders given");
    };
    let m = &runs[0].1;
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
