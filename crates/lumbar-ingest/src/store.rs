//! The store: a folder of canonical Parquet tables.
//!
//! ```text
//! STORE/
//!   manifest.json                       what was ingested: source, sha256, counts
//!   patients/part-<sha256[..16]>.parquet one part per ingested source file
//!   sessions/part-….parquet
//!   walking/ outcomes/ followup/
//!   rejects/part-<table>-<sha…>.parquet  the rows that were not accepted, and why
//!   _index/<table>/part-….fp             row fingerprints of each part (for dedup)
//! ```
//!
//! A table is the union of its parts: `pl.read_parquet("STORE/sessions/*.parquet")`
//! in Python, `arrow::open_dataset("STORE/sessions")` in R, or
//! [`Store::read_table`] here. A part is named by the content hash of its
//! source, so ingesting the same file again finds its part and changes
//! nothing; rows already stored by another part are not stored twice.
//! `_index` starts with `_`, which Arrow's dataset readers skip.

use std::collections::HashSet;
use std::io::{Read, Write};
use std::path::{Path, PathBuf};

use lumbar_model::Table;
use lumbar_model::atomic::{AtomicFile, write_atomic};
use polars::prelude::*;
use sha2::{Digest, Sha256};

use crate::IngestError;

/// The manifest entry of one ingested source file.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct PartRecord {
    pub table: String,
    pub part: String,
    pub source: String,
    pub sha256: String,
    pub format: String,
    pub read: u64,
    pub accepted: u64,
    pub added: u64,
    pub rejected: u64,
    pub regimen: String,
    pub as_of: String,
    pub lumbar_version: String,
}

#[derive(Debug, Clone, Default, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Manifest {
    pub parts: Vec<PartRecord>,
}

/// A store folder.
#[derive(Debug, Clone)]
pub struct Store {
    root: PathBuf,
}

impl Store {
    /// Opens a store, creating its folder when missing.
    pub fn create(root: &Path) -> Result<Store, IngestError> {
        std::fs::create_dir_all(root).map_err(|e| IngestError::io(root, e))?;
        Ok(Store {
            root: root.to_path_buf(),
        })
    }

    /// Opens an existing store.
    pub fn open(root: &Path) -> Result<Store, IngestError> {
        if !root.is_dir() {
            return Err(IngestError::Store {
                path: root.to_path_buf(),
                problem: "no such store folder; create one with `lumbar ingest --out`".into(),
            });
        }
        Ok(Store {
            root: root.to_path_buf(),
        })
    }

    pub fn root(&self) -> &Path {
        &self.root
    }

    pub fn part_path(&self, table: Table, part: &str) -> PathBuf {
        self.root.join(table.name()).join(format!("{part}.parquet"))
    }

    pub fn index_path(&self, table: Table, part: &str) -> PathBuf {
        self.root
            .join("_index")
            .join(table.name())
            .join(format!("{part}.fp"))
    }

    pub fn rejects_path(&self, table: Table, part: &str) -> PathBuf {
        self.root
            .join("rejects")
            .join(format!("{}-{part}.parquet", table.name()))
    }

    pub fn prepare_dirs(&self, table: Table) -> Result<(), IngestError> {
        for d in [
            self.root.join(table.name()),
            self.root.join("_index").join(table.name()),
            self.root.join("rejects"),
        ] {
            std::fs::create_dir_all(&d).map_err(|e| IngestError::io(&d, e))?;
        }
        Ok(())
    }

    /// The parts of a table, in name order.
    pub fn parts(&self, table: Table) -> Vec<PathBuf> {
        list_parquet(&self.root.join(table.name()))
    }

    /// The reject parts, in name order.
    pub fn reject_parts(&self) -> Vec<PathBuf> {
        list_parquet(&self.root.join("rejects"))
    }

    /// A whole table (all parts stacked), or `None` when it has no parts.
    pub fn read_table(&self, table: Table) -> Result<Option<DataFrame>, IngestError> {
        read_stacked(&self.parts(table))
    }

    /// Rows `offset .. offset + len` (all of them with `None`) of some
    /// columns of one part: large tables are read a slice at a time.
    pub fn read_part(
        &self,
        part: &Path,
        columns: &[&str],
        slice: Option<(usize, usize)>,
    ) -> Result<DataFrame, IngestError> {
        let columns = columns.iter().map(|c| c.to_string()).collect();
        read_parquet(part, Some(columns), slice)
    }

    /// The number of rows of one part, from its footer.
    pub fn part_rows(&self, part: &Path) -> Result<usize, IngestError> {
        let f = std::fs::File::open(part).map_err(|source| IngestError::Open {
            path: part.to_path_buf(),
            source,
        })?;
        ParquetReader::new(f)
            .num_rows()
            .map_err(|e| IngestError::polars(part, e))
    }

    /// The whole rejects table, or `None` when nothing was rejected yet.
    pub fn read_rejects(&self) -> Result<Option<DataFrame>, IngestError> {
        read_stacked(&self.reject_parts())
    }

    /// Fingerprints of every stored row of a table.
    pub fn fingerprints(
        &self,
        table: Table,
    ) -> Result<HashSet<u128, FingerprintHasher>, IngestError> {
        let mut set = HashSet::default();
        for part in self.parts(table) {
            let stem = part
                .file_stem()
                .map(|s| s.to_string_lossy().into_owned())
                .unwrap_or_default();
            let idx = self.index_path(table, &stem);
            let mut bytes = Vec::new();
            match std::fs::File::open(&idx) {
                Ok(mut f) => f
                    .read_to_end(&mut bytes)
                    .map_err(|e| IngestError::io(&idx, e))?,
                Err(e) => {
                    return Err(IngestError::Store {
                        path: idx,
                        problem: format!(
                            "the row index of {} is missing ({e}); re-create the store",
                            part.display()
                        ),
                    });
                }
            };
            for chunk in bytes.chunks_exact(16) {
                let mut b = [0u8; 16];
                b.copy_from_slice(chunk);
                set.insert(u128::from_le_bytes(b));
            }
        }
        Ok(set)
    }

    /// Writes the fingerprints of a new part.
    pub fn write_index(&self, table: Table, part: &str, fps: &[u128]) -> Result<(), IngestError> {
        let path = self.index_path(table, part);
        let mut f = AtomicFile::create(&path).map_err(|e| IngestError::io(&path, e))?;
        for fp in fps {
            f.write_all(&fp.to_le_bytes())
                .map_err(|e| IngestError::io(&path, e))?;
        }
        f.commit().map_err(|e| IngestError::io(&path, e))
    }

    /// The patient ids stored in a table (patients or followup).
    pub fn ids(&self, table: Table) -> Result<HashSet<String>, IngestError> {
        let mut ids = HashSet::new();
        for part in self.parts(table) {
            let df = read_parquet(&part, Some(vec!["patient_id".to_string()]), None)?;
            let col = df
                .column("patient_id")
                .and_then(|c| c.str().cloned())
                .map_err(|e| IngestError::polars(&part, e))?;
            ids.extend(col.iter().flatten().map(str::to_string));
        }
        Ok(ids)
    }

    pub fn manifest(&self) -> Result<Manifest, IngestError> {
        let path = self.root.join("manifest.json");
        match std::fs::read(&path) {
            Ok(bytes) => serde_json::from_slice(&bytes).map_err(|e| IngestError::Store {
                path,
                problem: format!("manifest is not valid: {e}"),
            }),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(Manifest::default()),
            Err(e) => Err(IngestError::io(&path, e)),
        }
    }

    /// Adds or replaces the manifest entry of a part.
    pub fn record(&self, rec: PartRecord) -> Result<(), IngestError> {
        let mut m = self.manifest()?;
        m.parts
            .retain(|p| !(p.table == rec.table && p.part == rec.part));
        m.parts.push(rec);
        let path = self.root.join("manifest.json");
        let bytes = serde_json::to_vec_pretty(&m).map_err(|e| IngestError::Store {
            path: path.clone(),
            problem: e.to_string(),
        })?;
        write_atomic(&path, &bytes).map_err(|e| IngestError::io(&path, e))
    }
}

fn list_parquet(dir: &Path) -> Vec<PathBuf> {
    let mut v: Vec<PathBuf> = std::fs::read_dir(dir)
        .map(|rd| {
            rd.filter_map(|e| e.ok().map(|e| e.path()))
                .filter(|p| {
                    p.extension().is_some_and(|x| x == "parquet")
                        && !p
                            .file_name()
                            .is_some_and(|n| n.to_string_lossy().starts_with('.'))
                })
                .collect()
        })
        .unwrap_or_default();
    v.sort();
    v
}

fn read_parquet(
    path: &Path,
    columns: Option<Vec<String>>,
    slice: Option<(usize, usize)>,
) -> Result<DataFrame, IngestError> {
    let f = std::fs::File::open(path).map_err(|source| IngestError::Open {
        path: path.to_path_buf(),
        source,
    })?;
    ParquetReader::new(f)
        .with_columns(columns)
        .with_slice(slice)
        .finish()
        .map_err(|e| IngestError::polars(path, e))
}

fn read_stacked(parts: &[PathBuf]) -> Result<Option<DataFrame>, IngestError> {
    let mut out: Option<DataFrame> = None;
    for p in parts {
        let df = read_parquet(p, None, None)?;
        out = Some(match out {
            None => df,
            Some(mut acc) => {
                acc.vstack_mut(&df).map_err(|e| IngestError::polars(p, e))?;
                acc
            }
        });
    }
    Ok(out)
}

/// SHA-256 of a file's bytes, as lowercase hex.
pub fn sha256_file(path: &Path) -> Result<String, IngestError> {
    let mut f = std::fs::File::open(path).map_err(|source| IngestError::Open {
        path: path.to_path_buf(),
        source,
    })?;
    let mut h = Sha256::new();
    let mut buf = vec![0u8; 1 << 20];
    loop {
        let n = f.read(&mut buf).map_err(|e| IngestError::io(path, e))?;
        if n == 0 {
            break;
        }
        h.update(&buf[..n]);
    }
    Ok(h.finalize().iter().map(|b| format!("{b:02x}")).collect())
}

/// Row fingerprints are already uniformly distributed hashes, so sets and
/// maps of them need no second hash: this hasher takes the low 64 bits.
#[derive(Debug, Clone, Copy, Default)]
pub struct FingerprintHasher;

impl std::hash::BuildHasher for FingerprintHasher {
    type Hasher = LowBits;
    fn build_hasher(&self) -> LowBits {
        LowBits(0)
    }
}

/// See [`FingerprintHasher`].
#[derive(Debug, Clone, Copy, Default)]
pub struct LowBits(u64);

impl std::hash::Hasher for LowBits {
    fn finish(&self) -> u64 {
        self.0
    }
    fn write(&mut self, bytes: &[u8]) {
        // Only reached for non-u128 keys; fold the bytes in.
        for &b in bytes {
            self.0 = self.0.rotate_left(8) ^ b as u64;
        }
    }
    fn write_u128(&mut self, v: u128) {
        self.0 = v as u64;
    }
}
