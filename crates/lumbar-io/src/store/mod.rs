//! The store: a folder of canonical Parquet tables, one writer at a time.
//!
//! ```text
//! STORE/
//!   manifest.json                        what the store holds: its bucket count, one entry
//!                                        per part with source, sha256, counts and the
//!                                        checksums of its files
//!   _writer.lock                         the writer's advisory lock (pid and command inside)
//!   patients/bucket=007/part-<sha256[..16]>.parquet
//!                                        one file per ingested source file and bucket of
//!                                        patients it has rows in (see [`layout`])
//!   sessions/bucket=…/ walking/ outcomes/ followup/
//!   rejects/<table>-part-<sha…>.parquet  the rows that were not accepted, and why
//!   _index/<table>/bucket=…/part-….fp    row fingerprints of each bucket file (for dedup)
//!   _quarantine/…                        damaged or orphaned files, moved aside by ingest
//! ```
//!
//! A store written before buckets has one file per part instead
//! (`sessions/part-….parquet`, `_index/sessions/part-….fp`); it reads as it
//! is, and `lumbar store migrate` partitions it.
//!
//! A table is the union of the files **the manifest lists**: a file the
//! manifest does not name (an ingest killed between a file's rename and the
//! manifest's) is never read as data. [`Store::read_table`] and the other
//! readers verify each file against the whole-file SHA-256 recorded in the
//! manifest before the first read of it, and a mismatch is an error naming
//! the file. `pl.scan_parquet("STORE/sessions", hive_partitioning=True)` in
//! Python, DuckDB's `read_parquet('STORE/sessions/*/*.parquet',
//! hive_partitioning = true)` and `arrow::open_dataset("STORE/sessions")`
//! in R read a table; after a completed ingest the folders hold exactly the
//! listed files. `_index`, `_quarantine` and `_writer.lock` start with `_`,
//! and temporary files with `.`, which Arrow's dataset readers skip.
//!
//! Each data file also carries its part's own record in its Parquet
//! key-value metadata (`lumbar.part`: the manifest entry without the data
//! files' own checksums, and `lumbar.checksum`: the SHA-256 of the file's
//! bytes before the page indexes and footer), so [`Store::reconcile`] can
//! rebuild a lost manifest entry from the files alone and tell a complete
//! part from a damaged one.
//!
//! A part is named by the content hash of its source, so ingesting the same
//! file again finds its manifest entry and changes nothing; rows already
//! stored by another part are not stored twice.

use std::collections::HashSet;
use std::fs::{File, OpenOptions};
use std::io::{Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use fs4::{FileExt, TryLockError};
use lumbar_model::Table;
use lumbar_model::atomic::AtomicFile;
use polars::prelude::*;
use sha2::{Digest, Sha256};

use crate::error::IngestError;
use crate::fault;

mod cohort;
mod index;
mod integrity;
pub mod layout;
mod lock;
mod migrate;
pub use cohort::LoadError;
pub use index::{IndexWriter, PartIndex};
use integrity::check_file_sum;
pub use integrity::{FileCheck, file_sum};
pub use layout::{BucketFile, DataFile, PartRows};
pub use lock::WriterLock;
pub use migrate::Migration;

/// Parquet key-value metadata key of a part's own record (a [`PartRecord`]
/// as JSON, without the part's own whole-file checksum).
pub const KEY_PART: &str = "lumbar.part";
/// Key of the checksum of a store file's bytes before its page indexes and
/// footer (a [`FileSum`] as JSON).
pub const KEY_CHECKSUM: &str = "lumbar.checksum";
/// Key naming the part a rejects file belongs to.
pub const KEY_REJECTS_OF: &str = "lumbar.rejects_of";

/// Largest manifest read (a store of a million parts stays below it).
const MAX_MANIFEST_BYTES: u64 = 256 << 20;
/// Largest Parquet footer read when a part is checked by its own record.
const MAX_FOOTER_BYTES: u64 = 64 << 20;
/// Largest lock-file content read (pid and command).
const MAX_HOLDER_BYTES: u64 = 4096;

/// A SHA-256 over a file's first `bytes` bytes (the whole file in the
/// manifest; in a part's own `lumbar.checksum`, the bytes before its page
/// indexes and footer).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct FileSum {
    pub sha256: String,
    pub bytes: u64,
}

/// The checksums of the three files of a part (whole files).
#[derive(Debug, Clone, Default, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Checksums {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub part: Option<FileSum>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub index: Option<FileSum>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rejects: Option<FileSum>,
}

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
    /// Absent in stores written before checksums: such parts are read unverified.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub checksums: Option<Checksums>,
    /// The part's files, one per bucket of patients it has rows in (see
    /// [`layout`]); absent for a part written before buckets, which is one
    /// file (`checksums.part`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub buckets: Option<Vec<BucketFile>>,
    /// The store's bucket count the part was cut by (so that a manifest
    /// rebuilt from the parts' own records gets it back).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub bucket_count: Option<u32>,
}

#[derive(Debug, Clone, Default, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Manifest {
    /// Buckets of patients (by [`lumbar_model::partition::bucket_of`]),
    /// fixed when the store is created; absent in stores written before
    /// buckets, which shard as [`lumbar_model::partition::DEFAULT_BUCKETS`].
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub buckets: Option<u32>,
    pub parts: Vec<PartRecord>,
}

impl Manifest {
    /// What a manifest must hold before anything is read or written by it:
    /// part names as lumbar makes them (they become paths), a bucket count
    /// in range whenever a part is cut into buckets, bucket numbers below
    /// it, and the checksums every bucket file is written with (they bound
    /// what is read).
    fn check(&self) -> Result<(), String> {
        use lumbar_model::partition::MAX_BUCKETS;
        if let Some(b) = self.buckets
            && !(1..=MAX_BUCKETS).contains(&b)
        {
            return Err(format!("a bucket count of {b}, outside 1..={MAX_BUCKETS}"));
        }
        for rec in &self.parts {
            let hex = rec.part.strip_prefix("part-").unwrap_or("");
            if hex.len() != 16 || !hex.bytes().all(|c| c.is_ascii_hexdigit()) {
                return Err(format!(
                    "a part named {:?}, not part-<16 hex digits>",
                    crate::limits::excerpt(&rec.part)
                ));
            }
            let Some(files) = &rec.buckets else {
                continue;
            };
            let Some(count) = self.buckets else {
                return Err(format!(
                    "part {} is cut into buckets but the store has no bucket count",
                    rec.part
                ));
            };
            if rec.bucket_count.is_some_and(|c| c != count) {
                return Err(format!(
                    "part {} was cut into {} buckets, the store into {count}",
                    rec.part,
                    rec.bucket_count.unwrap_or(0)
                ));
            }
            let mut seen = HashSet::new();
            for f in files {
                if f.bucket >= count || !seen.insert(f.bucket) {
                    return Err(format!(
                        "part {} lists bucket {} twice or beyond the store's {count}",
                        rec.part, f.bucket
                    ));
                }
                if f.sum.is_none() || f.index.is_none() {
                    return Err(format!(
                        "part {} lists bucket {} without its checksums",
                        rec.part, f.bucket
                    ));
                }
            }
        }
        Ok(())
    }

    /// The buckets shards of this store take.
    pub fn buckets(&self) -> u32 {
        self.buckets
            .filter(|b| (1..=lumbar_model::partition::MAX_BUCKETS).contains(b))
            .unwrap_or(lumbar_model::partition::DEFAULT_BUCKETS)
    }
}

/// A store folder.
#[derive(Debug, Clone)]
pub struct Store {
    root: PathBuf,
    /// Files verified against the manifest by this handle: each is hashed
    /// once, before its first read.
    verified: Arc<Mutex<HashSet<PathBuf>>>,
    /// A reader's snapshot (see [`Store::snapshot`]): the manifest as read
    /// when it was taken. `None`: the manifest is read at each call.
    snapshot: Option<Arc<Manifest>>,
}

impl Store {
    fn at(root: &Path) -> Store {
        Store {
            root: root.to_path_buf(),
            verified: Arc::default(),
            snapshot: None,
        }
    }

    /// Opens a store, creating its folder when missing.
    pub fn create(root: &Path) -> Result<Store, IngestError> {
        std::fs::create_dir_all(root).map_err(|e| IngestError::io(root, e))?;
        Ok(Store::at(root))
    }

    /// A handle that reads by the manifest as it is now, whatever a writer
    /// adds later: every table it reads comes from the same ingests (an
    /// analysis reads patients, then streams sessions).
    pub fn snapshot(&self) -> Result<Store, IngestError> {
        Ok(Store {
            root: self.root.clone(),
            verified: self.verified.clone(),
            snapshot: Some(Arc::new(self.read_manifest()?)),
        })
    }

    /// Opens an existing store.
    pub fn open(root: &Path) -> Result<Store, IngestError> {
        if !root.is_dir() {
            return Err(IngestError::Store {
                path: root.to_path_buf(),
                problem: "no such store folder; ingesting into it creates one".into(),
            });
        }
        Ok(Store::at(root))
    }

    pub fn root(&self) -> &Path {
        &self.root
    }

    pub fn manifest_path(&self) -> PathBuf {
        self.root.join("manifest.json")
    }

    pub fn lock_path(&self) -> PathBuf {
        self.root.join("_writer.lock")
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
        fault::step("create the table's folders").map_err(|e| IngestError::io(&self.root, e))?;
        for d in [
            self.root.join(table.name()),
            self.root.join("_index").join(table.name()),
            self.root.join("rejects"),
        ] {
            std::fs::create_dir_all(&d).map_err(|e| IngestError::io(&d, e))?;
        }
        Ok(())
    }

    /// The data files of a table's listed parts, in the order of
    /// [`Store::data_files`].
    pub fn parts(&self, table: Table) -> Result<Vec<PathBuf>, IngestError> {
        Ok(self
            .data_files(table)?
            .into_iter()
            .map(|f| f.path)
            .collect())
    }

    /// The reject parts of the manifest's parts, in name order.
    pub fn reject_parts(&self) -> Result<Vec<PathBuf>, IngestError> {
        let m = self.listing()?;
        let mut v: Vec<PathBuf> = m
            .parts
            .iter()
            .filter_map(|r| Some(self.rejects_path(Table::from_name(&r.table)?, &r.part)))
            .collect();
        v.sort();
        v.dedup();
        Ok(v)
    }

    /// Whether the manifest lists the part (the file it was made from was ingested).
    pub fn has_part(&self, table: Table, part: &str) -> Result<bool, IngestError> {
        Ok(self
            .listing()?
            .parts
            .iter()
            .any(|r| r.table == table.name() && r.part == part))
    }

    /// A whole table (all parts stacked), or `None` when it has no parts.
    pub fn read_table(&self, table: Table) -> Result<Option<DataFrame>, IngestError> {
        self.read_stacked(&self.parts(table)?)
    }

    /// Rows `offset .. offset + len` (all of them with `None`) of some
    /// columns of one part: large tables are read a slice at a time. The
    /// part is verified against the manifest before its first read.
    pub fn read_part(
        &self,
        part: &Path,
        columns: &[&str],
        slice: Option<(usize, usize)>,
    ) -> Result<DataFrame, IngestError> {
        self.verify_for_read(part)?;
        let columns = columns.iter().map(|c| c.to_string()).collect();
        read_parquet(part, Some(columns), slice)
    }

    /// The number of rows of one part, from its footer (verified first).
    pub fn part_rows(&self, part: &Path) -> Result<usize, IngestError> {
        self.verify_for_read(part)?;
        let f = File::open(part).map_err(|source| IngestError::Open {
            path: part.to_path_buf(),
            source,
        })?;
        ParquetReader::new(f)
            .num_rows()
            .map_err(|e| IngestError::polars(part, e))
    }

    /// The whole rejects table, or `None` when nothing was rejected yet.
    pub fn read_rejects(&self) -> Result<Option<DataFrame>, IngestError> {
        self.read_stacked(&self.reject_parts()?)
    }

    fn read_stacked(&self, parts: &[PathBuf]) -> Result<Option<DataFrame>, IngestError> {
        let mut out: Option<DataFrame> = None;
        for p in parts {
            self.verify_for_read(p)?;
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

    /// Checks a part (or rejects part) against the whole-file checksum the
    /// manifest holds for it, once per handle. A file the manifest does not
    /// list is refused: only listed parts are data.
    fn verify_for_read(&self, path: &Path) -> Result<(), IngestError> {
        if self
            .verified
            .lock()
            .map(|s| s.contains(path))
            .unwrap_or(false)
        {
            return Ok(());
        }
        let m = self.listing()?;
        // Only a file named after a part can be one of its files.
        let name = stem(path);
        let found = m.parts.iter().find_map(|r| {
            if !name.ends_with(r.part.as_str()) {
                return None;
            }
            let table = Table::from_name(&r.table)?;
            if self.rejects_path(table, &r.part) == path {
                let sum = r.checksums.as_ref().and_then(|c| c.rejects.clone());
                return Some((r, sum));
            }
            self.files_of(table, r)
                .into_iter()
                .find(|f| f.path == path)
                .map(|f| (r, f.sum))
        });
        let Some((rec, sum)) = found else {
            return Err(IngestError::Store {
                path: path.to_path_buf(),
                problem: "is not a part the store's manifest lists, so it is not read".into(),
            });
        };
        if let Some(sum) = &sum
            && let Err(problem) = check_file_sum(path, sum)
        {
            return Err(IngestError::Store {
                path: path.to_path_buf(),
                problem: format!(
                    "{problem}: the part is damaged and none of it was read; `lumbar store check {}` lists the damage, and the next ingest moves it to _quarantine/ so {} can be ingested again",
                    self.root.display(),
                    rec.source
                ),
            });
        }
        if let Ok(mut s) = self.verified.lock() {
            s.insert(path.to_path_buf());
        }
        Ok(())
    }

    /// The patient ids stored in a table (patients or followup).
    pub fn ids(&self, table: Table) -> Result<HashSet<String>, IngestError> {
        let mut ids = HashSet::new();
        for part in self.parts(table)? {
            let df = self.read_part(&part, &["patient_id"], None)?;
            let col = df
                .column("patient_id")
                .and_then(|c| c.str().cloned())
                .map_err(|e| IngestError::polars(&part, e))?;
            ids.extend(col.iter().flatten().map(str::to_string));
        }
        Ok(ids)
    }

    /// The manifest this handle reads by (its snapshot, or the file as it is
    /// now); empty when the store has none yet.
    pub fn manifest(&self) -> Result<Manifest, IngestError> {
        Ok((*self.listing()?).clone())
    }

    fn listing(&self) -> Result<Arc<Manifest>, IngestError> {
        match &self.snapshot {
            Some(m) => Ok(m.clone()),
            None => self.read_manifest().map(Arc::new),
        }
    }

    /// The manifest file as it is now.
    fn read_manifest(&self) -> Result<Manifest, IngestError> {
        let path = self.manifest_path();
        let bytes = match read_bounded(&path, MAX_MANIFEST_BYTES) {
            Ok(b) => b,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Manifest::default()),
            Err(e) => return Err(IngestError::io(&path, e)),
        };
        let m: Manifest = serde_json::from_slice(&bytes)
            .map_err(|e| e.to_string())
            .and_then(|m: Manifest| m.check().map(|()| m))
            .map_err(|e| IngestError::Store {
                path,
                problem: format!(
                    "manifest is not valid: {e}; the next ingest rebuilds it from the parts"
                ),
            })?;
        Ok(m)
    }

    /// Adds or replaces the manifest entry of a part.
    pub fn record(&self, rec: PartRecord) -> Result<(), IngestError> {
        let mut m = self.read_manifest()?;
        m.parts
            .retain(|p| !(p.table == rec.table && p.part == rec.part));
        m.parts.push(rec);
        self.write_manifest(&m)
    }

    fn write_manifest(&self, m: &Manifest) -> Result<(), IngestError> {
        let path = self.manifest_path();
        let io = |e| IngestError::io(&path, e);
        let bytes = serde_json::to_vec_pretty(m).map_err(|e| IngestError::Store {
            path: path.clone(),
            problem: e.to_string(),
        })?;
        fault::step("create the manifest").map_err(io)?;
        let mut f = AtomicFile::create(&path).map_err(io)?;
        fault::step("write the manifest").map_err(io)?;
        f.write_all(&bytes).map_err(io)?;
        fault::step("sync and rename the manifest").map_err(io)?;
        f.commit().map_err(io)
    }

    /// Commits a part's files and its manifest entry, in the order that
    /// makes each crash point recoverable: the row indexes and the rejects,
    /// then the data files (whose own record names the indexes' and
    /// rejects' checksums and every bucket file: from here on
    /// [`Store::reconcile`] can adopt the part), then the manifest.
    pub fn commit_part(
        &self,
        table: Table,
        mut record: PartRecord,
        index: PartIndex,
        rejects: crate::table::ParquetSink,
        rows: PartRows,
    ) -> Result<(), IngestError> {
        let part = record.part.clone();
        let (whole, files) = rows.into_files();
        let mut index_sum = None;
        let mut files: Vec<(BucketFile, crate::table::ParquetSink)> = files;
        match index {
            PartIndex::Whole(w) => index_sum = Some(w.commit_as(&self.index_path(table, &part))?),
            PartIndex::Bucketed(mut by_bucket) => {
                for (file, _) in &mut files {
                    let path = self.bucket_index_path(table, file.bucket, &part);
                    let w = match by_bucket.remove(&file.bucket) {
                        Some(w) => w,
                        None => IndexWriter::create(&path)?,
                    };
                    file.index = Some(w.commit_as(&path)?);
                }
            }
        }
        let rejects_path = self.rejects_path(table, &part);
        let rejects = rejects
            .commit_as(&rejects_path, vec![(KEY_REJECTS_OF.into(), part.clone())])
            .map_err(|e| IngestError::polars(&rejects_path, e))?;
        record.checksums = Some(Checksums {
            part: None,
            index: index_sum,
            rejects: Some(rejects),
        });
        match whole {
            Some(rows) => {
                let part_path = self.part_path(table, &part);
                record.buckets = None;
                let own = serde_json::to_string(&record).map_err(|e| IngestError::Store {
                    path: part_path.clone(),
                    problem: e.to_string(),
                })?;
                let sum = rows
                    .commit_as(&part_path, vec![(KEY_PART.into(), own)])
                    .map_err(|e| IngestError::polars(&part_path, e))?;
                if let Some(c) = record.checksums.as_mut() {
                    c.part = Some(sum);
                }
            }
            None => self.commit_buckets(table, &mut record, files)?,
        }
        self.record(record)
    }

    /// Writes a part's bucket files (their row indexes written), each with
    /// the part's own record (its bucket list without the files' own
    /// checksums), and puts the list with the checksums in `record`.
    pub(crate) fn commit_buckets(
        &self,
        table: Table,
        record: &mut PartRecord,
        files: Vec<(BucketFile, crate::table::ParquetSink)>,
    ) -> Result<(), IngestError> {
        record.buckets = Some(files.iter().map(|(f, _)| f.clone()).collect());
        if let Some(c) = record.checksums.as_mut() {
            c.part = None;
        }
        let dir = self.root.join(table.name());
        let own = serde_json::to_string(&*record).map_err(|e| IngestError::Store {
            path: dir.clone(),
            problem: e.to_string(),
        })?;
        // Several files at once: each commit waits for its writer thread to
        // encode the last row group and then for the disk (fsync), so one
        // file at a time left the cores idle (0.4 s of a 5 s ingest of 64
        // buckets). A failure leaves the files already moved into place
        // unlisted, as a crash would, for the reconcile.
        const COMMITTERS: usize = 8;
        let part = &record.part;
        let mut groups: Vec<Vec<(usize, BucketFile, crate::table::ParquetSink)>> =
            (0..COMMITTERS).map(|_| Vec::new()).collect();
        for (k, (file, sink)) in files.into_iter().enumerate() {
            groups[k % COMMITTERS].push((k, file, sink));
        }
        let mut done: Vec<(usize, Result<BucketFile, IngestError>)> = std::thread::scope(|s| {
            let committers: Vec<_> = groups
                .into_iter()
                .map(|group| {
                    let own = &own;
                    s.spawn(move || {
                        group
                            .into_iter()
                            .map(|(k, mut file, sink)| {
                                let path = self.bucket_path(table, file.bucket, part);
                                let sum = sink
                                    .commit_as(&path, vec![(KEY_PART.into(), own.clone())])
                                    .map_err(|e| IngestError::polars(&path, e));
                                (
                                    k,
                                    sum.map(|sum| {
                                        file.sum = Some(sum);
                                        file
                                    }),
                                )
                            })
                            .collect::<Vec<_>>()
                    })
                })
                .collect();
            committers
                .into_iter()
                .flat_map(|c| {
                    c.join().unwrap_or_else(|_| {
                        vec![(
                            usize::MAX,
                            Err(IngestError::Store {
                                path: dir.clone(),
                                problem: "a thread committing the part's files panicked".into(),
                            }),
                        )]
                    })
                })
                .collect()
        });
        done.sort_by_key(|(k, _)| *k);
        record.buckets = Some(
            done.into_iter()
                .map(|(_, file)| file)
                .collect::<Result<Vec<_>, _>>()?,
        );
        Ok(())
    }
}

fn read_bounded(path: &Path, max: u64) -> std::io::Result<Vec<u8>> {
    let f = File::open(path)?;
    let len = f.metadata()?.len();
    if len > max {
        return Err(std::io::Error::other(format!(
            "{len} bytes, more than the {max} a store file of this kind may have"
        )));
    }
    let mut bytes = Vec::with_capacity(len as usize);
    f.take(max).read_to_end(&mut bytes)?;
    Ok(bytes)
}

pub(crate) fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn sha256_hex(bytes: &[u8]) -> String {
    hex(&Sha256::digest(bytes))
}

fn stem(path: &Path) -> String {
    path.file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_default()
}

fn list_parquet(dir: &Path) -> Vec<PathBuf> {
    list_files(dir, "parquet")
}

/// Files of a folder with an extension, hidden (temporary) ones left out, in name order.
fn list_files(dir: &Path, ext: &str) -> Vec<PathBuf> {
    let mut v: Vec<PathBuf> = std::fs::read_dir(dir)
        .map(|rd| {
            rd.filter_map(|e| e.ok().map(|e| e.path()))
                .filter(|p| {
                    p.extension().is_some_and(|x| x == ext)
                        && p.is_file()
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
    let f = File::open(path).map_err(|source| IngestError::Open {
        path: path.to_path_buf(),
        source,
    })?;
    ParquetReader::new(f)
        .with_columns(columns)
        .with_slice(slice)
        .finish()
        .map_err(|e| IngestError::polars(path, e))
}

/// SHA-256 of a file's bytes, as lowercase hex.
pub fn sha256_file(path: &Path) -> Result<String, IngestError> {
    let mut f = File::open(path).map_err(|source| IngestError::Open {
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
    Ok(hex(&h.finalize()))
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
