//! A step's inputs as (path, SHA-256): what its key is made of.

use std::path::Path;

use anyhow::{Context, Result, anyhow};
use sha2::{Digest, Sha256};

pub(super) fn sha256_bytes(b: &[u8]) -> String {
    let h = Sha256::digest(b);
    h.iter().map(|x| format!("{x:02x}")).collect()
}

pub(super) fn file_hash(p: &Path) -> Result<String> {
    lumbar_io::sha256_file(p).map_err(|e| anyhow!("{e}"))
}

/// Every file under `dir`, sorted, with its hash (for a folder input).
pub(super) fn tree_hashes(dir: &Path) -> Result<Vec<(String, String)>> {
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
