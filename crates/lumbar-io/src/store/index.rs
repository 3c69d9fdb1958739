//! Row fingerprints: how ingest knows a row is already stored.
//!
//! Each part has a row index, 16 bytes per stored row (its fingerprint,
//! little-endian), row `i` of a data file being fingerprint `i` of its
//! index: `_index/TABLE/part-….fp` for a part written whole, and one per
//! bucket file, `_index/TABLE/bucket=NNN/part-….fp`, for a partitioned one.
//! A row's fingerprint covers its patient, so its duplicates are in the
//! same bucket: ingest checks a partitioned store a bucket at a time, and
//! never holds more than one bucket's fingerprints.

use std::collections::BTreeMap;
use std::io::BufWriter;

use lumbar_model::atomic::PendingPath;
use lumbar_model::partition::bucket_folder;

use super::*;

/// A row index being written, under a temporary name until committed.
pub struct IndexWriter {
    pending: PendingPath,
    file: Option<BufWriter<File>>,
    sha: Sha256,
    bytes: u64,
}

impl IndexWriter {
    /// A new index to be committed at `target` (or another name in the
    /// same folder, see [`IndexWriter::commit_as`]); creates the folder.
    pub fn create(target: &Path) -> Result<IndexWriter, IngestError> {
        let io = |e| IngestError::io(target, e);
        if let Some(dir) = target.parent() {
            std::fs::create_dir_all(dir).map_err(io)?;
        }
        fault::step("create the row index").map_err(io)?;
        let pending = PendingPath::new(target);
        let file = File::create(pending.temp()).map_err(io)?;
        Ok(IndexWriter {
            pending,
            file: Some(BufWriter::with_capacity(64 << 10, file)),
            sha: Sha256::new(),
            bytes: 0,
        })
    }

    pub fn push(&mut self, fps: &[u128]) -> Result<(), IngestError> {
        let path = self.pending.temp().to_path_buf();
        let io = |e| IngestError::io(&path, e);
        let Some(f) = self.file.as_mut() else {
            return Err(io(std::io::Error::other(
                "the row index was already closed",
            )));
        };
        let mut buf = Vec::with_capacity(fps.len().min(1 << 16) * 16);
        for chunk in fps.chunks(1 << 16) {
            buf.clear();
            for fp in chunk {
                buf.extend_from_slice(&fp.to_le_bytes());
            }
            fault::step("write the row index").map_err(io)?;
            f.write_all(&buf).map_err(io)?;
            self.sha.update(&buf);
            self.bytes += buf.len() as u64;
        }
        Ok(())
    }

    /// Syncs the index and renames it to `target`; its checksum.
    pub fn commit_as(mut self, target: &Path) -> Result<FileSum, IngestError> {
        let io = |e| IngestError::io(target, e);
        fault::step("sync and rename the row index").map_err(io)?;
        if let Some(f) = self.file.take() {
            f.into_inner().map_err(|e| io(e.into_error()))?;
        }
        self.pending.retarget(target);
        self.pending.commit().map_err(io)?;
        Ok(FileSum {
            sha256: hex(&self.sha.clone().finalize()),
            bytes: self.bytes,
        })
    }
}

/// The row indexes of a part on their way to disk: one for a part written
/// whole, one per bucket file (by bucket) for a partitioned one.
pub enum PartIndex {
    Whole(IndexWriter),
    Bucketed(BTreeMap<u32, IndexWriter>),
}

impl Store {
    /// The row index of one bucket file of a part.
    pub fn bucket_index_path(&self, table: Table, bucket: u32, part: &str) -> PathBuf {
        self.root
            .join("_index")
            .join(table.name())
            .join(bucket_folder(bucket))
            .join(format!("{part}.fp"))
    }

    /// The row indexes of a listed part with the checksums the manifest holds.
    pub(super) fn indexes_of(
        &self,
        table: Table,
        rec: &PartRecord,
    ) -> Vec<(PathBuf, Option<FileSum>)> {
        match &rec.buckets {
            None => vec![(
                self.index_path(table, &rec.part),
                rec.checksums.as_ref().and_then(|c| c.index.clone()),
            )],
            Some(files) => files
                .iter()
                .map(|f| {
                    (
                        self.bucket_index_path(table, f.bucket, &rec.part),
                        f.index.clone(),
                    )
                })
                .collect(),
        }
    }

    /// Fingerprints of the stored rows of a table (of the listed parts,
    /// each index checked against its recorded checksum): of one bucket's
    /// files; of every part with `None`. (Parts written whole, in a store
    /// whose migration was interrupted, are in
    /// [`Store::whole_fingerprints`].)
    pub fn fingerprints_in(
        &self,
        table: Table,
        bucket: Option<u32>,
    ) -> Result<HashSet<u128, FingerprintHasher>, IngestError> {
        self.load_indexes(table, |rec| match (&rec.buckets, bucket) {
            (None, Some(_)) => Vec::new(),
            (None, None) => self.indexes_of(table, rec),
            (Some(files), _) => files
                .iter()
                .filter(|f| bucket.is_none_or(|b| b == f.bucket))
                .map(|f| {
                    (
                        self.bucket_index_path(table, f.bucket, &rec.part),
                        f.index.clone(),
                    )
                })
                .collect(),
        })
    }

    /// Fingerprints of the rows of a table's parts written whole (rows of
    /// every bucket in one index): loaded once by an ingest into a store
    /// that still has such parts, beside each bucket's.
    pub fn whole_fingerprints(
        &self,
        table: Table,
    ) -> Result<HashSet<u128, FingerprintHasher>, IngestError> {
        self.load_indexes(table, |rec| match rec.buckets {
            None => self.indexes_of(table, rec),
            Some(_) => Vec::new(),
        })
    }

    /// The fingerprints of the index files `pick` chooses of each listed
    /// part of a table.
    fn load_indexes(
        &self,
        table: Table,
        pick: impl Fn(&PartRecord) -> Vec<(PathBuf, Option<FileSum>)>,
    ) -> Result<HashSet<u128, FingerprintHasher>, IngestError> {
        let mut set = HashSet::default();
        for rec in self
            .listing()?
            .parts
            .iter()
            .filter(|r| r.table == table.name())
        {
            for (idx, sum) in pick(rec) {
                load_index(&idx, sum.as_ref(), &rec.part, &mut set)?;
            }
        }
        Ok(set)
    }

    /// The bytes of the row indexes [`Store::fingerprints_in`] would load,
    /// by bucket, and for `None` all of them (as the manifest records them;
    /// 0 where it does not): so that the memory their sets take can be
    /// known before loading them.
    pub fn index_bytes(
        &self,
        table: Table,
    ) -> Result<std::collections::HashMap<Option<u32>, u64>, IngestError> {
        let mut bytes: std::collections::HashMap<Option<u32>, u64> = Default::default();
        for rec in self
            .listing()?
            .parts
            .iter()
            .filter(|r| r.table == table.name())
        {
            match &rec.buckets {
                None => {
                    let sum = rec.checksums.as_ref().and_then(|c| c.index.as_ref());
                    *bytes.entry(None).or_default() += sum.map_or(0, |s| s.bytes);
                }
                Some(files) => {
                    for f in files {
                        let n = f.index.as_ref().map_or(0, |s| s.bytes);
                        *bytes.entry(Some(f.bucket)).or_default() += n;
                        *bytes.entry(None).or_default() += n;
                    }
                }
            }
        }
        Ok(bytes)
    }

    /// Fingerprints of every stored row of a table.
    pub fn fingerprints(
        &self,
        table: Table,
    ) -> Result<HashSet<u128, FingerprintHasher>, IngestError> {
        self.fingerprints_in(table, None)
    }

    /// Writes the fingerprints of a new part written whole; returns the file's checksum.
    pub fn write_index(
        &self,
        table: Table,
        part: &str,
        fps: &[u128],
    ) -> Result<FileSum, IngestError> {
        let path = self.index_path(table, part);
        let mut w = IndexWriter::create(&path)?;
        w.push(fps)?;
        w.commit_as(&path)
    }
}

/// Adds the fingerprints of one index file to `set`, after checking its
/// size (before reading: a damaged index is not loaded whole) and checksum.
fn load_index(
    idx: &Path,
    sum: Option<&FileSum>,
    part: &str,
    set: &mut HashSet<u128, FingerprintHasher>,
) -> Result<(), IngestError> {
    if let (Some(s), Ok(m)) = (sum, std::fs::metadata(idx))
        && m.len() != s.bytes
    {
        return Err(IngestError::Store {
            path: idx.to_path_buf(),
            problem: format!(
                "the row index of part {part} is {} bytes where {} were written; the next ingest moves the part to _quarantine/",
                m.len(),
                s.bytes
            ),
        });
    }
    let bytes = match std::fs::read(idx) {
        Ok(b) => b,
        Err(e) => {
            return Err(IngestError::Store {
                path: idx.to_path_buf(),
                problem: format!(
                    "the row index of part {part} is missing ({e}); the next ingest moves the part to _quarantine/"
                ),
            });
        }
    };
    let damaged = match sum {
        Some(s) => bytes.len() as u64 != s.bytes || sha256_hex(&bytes) != s.sha256,
        None => bytes.len() % 16 != 0,
    };
    if damaged {
        return Err(IngestError::Store {
            path: idx.to_path_buf(),
            problem: format!(
                "the row index of part {part} does not match its checksum; run `lumbar store check`"
            ),
        });
    }
    set.reserve(bytes.len() / 16);
    for chunk in bytes.chunks_exact(16) {
        let mut b = [0u8; 16];
        b.copy_from_slice(chunk);
        set.insert(u128::from_le_bytes(b));
    }
    Ok(())
}
