//! Which slice of the patients a run takes: `--shard i/n`, or a Slurm job
//! array's `SLURM_ARRAY_TASK_ID` / `SLURM_ARRAY_TASK_COUNT` when set.

use std::collections::BTreeMap;
use std::path::Path;

use anyhow::{Context, Result, bail};
use lumbar_sim::engine::Shard;

/// The shard asked for: `--shard i/n` when given, else the Slurm array
/// task's, else none.
pub(super) fn requested(flag: Option<&str>) -> Result<Option<Shard>> {
    match flag {
        Some(s) => Shard::parse(s)
            .map(Some)
            .map_err(|e| anyhow::anyhow!("--shard {e}")),
        None => from_env(),
    }
}

/// The shard of a store's `buckets` buckets asked for (`--shard i/n`, or
/// the Slurm array task's); the whole store when none is.
pub(super) fn of_buckets(
    flag: Option<&str>,
    buckets: u32,
) -> Result<lumbar_model::partition::BucketShard> {
    use lumbar_model::partition::BucketShard;
    Ok(match requested(flag)? {
        None => BucketShard::WHOLE,
        Some(s) => BucketShard::new(s.index, s.count, buckets).with_context(|| {
            format!("shard {s}: the store has {buckets} buckets of patients, so at most {buckets} shards")
        })?,
    })
}

/// The command whose shard a result folder holds (`analyze`, `report`),
/// from its manifest; `None` when it has none that says.
pub(super) fn command_of(dir: &Path) -> Option<String> {
    #[derive(serde::Deserialize)]
    struct Command {
        command: String,
    }
    // A manifest lists the store's parts: bounded as the merges bound it.
    lumbar_io::records::read_json::<Command>(&dir.join("manifest.json"), 256 << 20)
        .ok()
        .map(|m| m.command)
}

/// What a shard read, for `lumbar merge` to check that every shard read
/// the same store: each part's table, source, checksum and rows.
pub(super) fn inputs(manifest: &lumbar_io::store::Manifest) -> Vec<serde_json::Value> {
    manifest
        .parts
        .iter()
        .map(|p| serde_json::json!({"table": p.table, "source": p.source, "sha256": p.sha256, "rows": p.accepted}))
        .collect()
}

/// Checks that `shards` (each folder with the `i/n` its manifest states)
/// are the shards 1…n of one run, each once, where `differ(k)` names what
/// differs between shard `k`'s run and the first's (`None`: the same run);
/// returns n.
pub(super) fn check_cover(
    shards: &[(&Path, &str)],
    differ: impl Fn(usize) -> Option<&'static str>,
) -> Result<u32> {
    let parse = |dir: &Path, text: &str| {
        Shard::parse(text)
            .map_err(|e| anyhow::anyhow!("{}: manifest.json's shard {e}", dir.display()))
    };
    let Some(&(first_dir, first)) = shards.first() else {
        bail!("no shard folders given");
    };
    let count = parse(first_dir, first)?.count;
    // By index: a manifest's shard count is not trusted to size anything.
    let mut seen: BTreeMap<u32, &Path> = BTreeMap::new();
    for (k, &(dir, text)) in shards.iter().enumerate() {
        let s = parse(dir, text)?;
        let what = if s.count != count {
            Some("shard counts")
        } else {
            differ(k)
        };
        if let Some(what) = what {
            bail!(
                "{} and {} are shards of different runs ({what} differ)",
                first_dir.display(),
                dir.display()
            );
        }
        if let Some(other) = seen.insert(s.index, dir) {
            bail!(
                "{} and {} are both shard {s}",
                other.display(),
                dir.display()
            );
        }
    }
    // The first gap is at most one past the shards given.
    if let Some(missing) = (1..=count).find(|i| !seen.contains_key(i)) {
        bail!("shard {missing}/{count} is missing");
    }
    Ok(count)
}

fn from_env() -> Result<Option<Shard>> {
    let var = |k: &str| std::env::var(k).ok();
    from_slurm(
        var("SLURM_ARRAY_TASK_ID"),
        var("SLURM_ARRAY_TASK_COUNT"),
        var("SLURM_ARRAY_TASK_MIN"),
    )
}

/// The shard of a Slurm array task: index = TASK_ID − TASK_MIN + 1 (TASK_MIN
/// is 0 when unset, as with `--array=0-7`), count = TASK_COUNT.
fn from_slurm(
    id: Option<String>,
    count: Option<String>,
    min: Option<String>,
) -> Result<Option<Shard>> {
    let (Some(id), Some(count)) = (id, count) else {
        return Ok(None);
    };
    let min: u64 = match min {
        None => 0,
        Some(m) => m
            .parse()
            .with_context(|| format!("SLURM_ARRAY_TASK_MIN={m} is not a number"))?,
    };
    let id: u64 = id
        .parse()
        .with_context(|| format!("SLURM_ARRAY_TASK_ID={id} is not a number"))?;
    let index = id
        .checked_sub(min)
        .map(|i| i + 1)
        .with_context(|| format!("SLURM_ARRAY_TASK_ID={id} is below SLURM_ARRAY_TASK_MIN={min}"))?;
    Shard::parse(&format!("{index}/{count}"))
        .map(Some)
        .map_err(|e| anyhow::anyhow!("from SLURM_ARRAY_TASK_ID/COUNT: {e}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slurm_array_tasks_map_to_shards() {
        let s = |v: &str| Some(v.to_string());
        let shard = from_slurm(s("0"), s("4"), None).unwrap().unwrap();
        assert_eq!((shard.index, shard.count), (1, 4));
        let shard = from_slurm(s("8"), s("8"), s("1")).unwrap().unwrap();
        assert_eq!((shard.index, shard.count), (8, 8));
        assert!(from_slurm(None, s("4"), None).unwrap().is_none());
        let e = from_slurm(s("4"), s("4"), None).unwrap_err().to_string();
        assert!(e.contains("need 1 ≤ i ≤ n"), "{e}");
        let e = from_slurm(s("x"), s("4"), None).unwrap_err().to_string();
        assert!(e.contains("SLURM_ARRAY_TASK_ID=x is not a number"), "{e}");
    }
}
