//! Where a part's rows are on disk.
//!
//! A store created by this version partitions every table by a stable hash
//! of `patient_id` ([`lumbar_model::partition::bucket_of`]) into the number
//! of buckets its manifest records: an ingested file becomes one Parquet
//! file per bucket it has rows in, in hive-style folders,
//!
//! ```text
//! sessions/bucket=007/part-<sha256[..16]>.parquet
//! ```
//!
//! so that a shard reads only its own buckets' files and polars, DuckDB,
//! Arrow and Spark read `bucket` as a column of the folder. A store written
//! before buckets keeps one file per part (`sessions/part-….parquet`) and
//! is read as it is, and written to in the same layout, until `lumbar store
//! migrate` partitions it.
//!
//! Each bucket file carries the part's own record (with the bucket list,
//! but without the files' whole-file checksums, which are only known once
//! they are written), so a lost manifest entry is rebuilt only when every
//! bucket file the record names is there and complete.

use std::collections::BTreeMap;

use lumbar_model::Kind;
use lumbar_model::partition::{bucket_folder, bucket_of, parse_bucket_folder};

use super::*;
use crate::table::ParquetSink;

/// One bucket's file of a part.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct BucketFile {
    pub bucket: u32,
    pub rows: u64,
    /// The whole file's checksum; absent in the part's own record, which
    /// is written inside the file.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sum: Option<FileSum>,
    /// Sessions: the earliest and latest `performed_at` of the file's rows
    /// (ms since 1970), so that a shard that skips the file still knows the
    /// store's first and last session.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub span_ms: Option<[i64; 2]>,
}

/// A data file of a listed part.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DataFile {
    pub path: PathBuf,
    /// `None`: a part written before buckets (its rows of every bucket).
    pub bucket: Option<u32>,
    /// See [`BucketFile::span_ms`].
    pub span_ms: Option<[i64; 2]>,
    /// The checksum the manifest holds for the file.
    pub(super) sum: Option<FileSum>,
}

/// A data file found in a table's folder.
#[derive(Debug, Clone)]
pub(super) struct FoundFile {
    pub(super) path: PathBuf,
    pub(super) bucket: Option<u32>,
    pub(super) part: String,
}

impl Store {
    /// The file of one bucket of a part.
    pub fn bucket_path(&self, table: Table, bucket: u32, part: &str) -> PathBuf {
        self.root
            .join(table.name())
            .join(bucket_folder(bucket))
            .join(format!("{part}.parquet"))
    }

    /// The data files of one manifest entry.
    pub(super) fn files_of(&self, table: Table, rec: &PartRecord) -> Vec<DataFile> {
        match &rec.buckets {
            None => vec![DataFile {
                path: self.part_path(table, &rec.part),
                bucket: None,
                span_ms: None,
                sum: rec.checksums.as_ref().and_then(|c| c.part.clone()),
            }],
            Some(files) => files
                .iter()
                .map(|f| DataFile {
                    path: self.bucket_path(table, f.bucket, &rec.part),
                    bucket: Some(f.bucket),
                    span_ms: f.span_ms,
                    sum: f.sum.clone(),
                })
                .collect(),
        }
    }

    /// The data files of a table's listed parts: by bucket (parts written
    /// before buckets first), then by name. Every reader of the store takes
    /// patients in this order.
    pub fn data_files(&self, table: Table) -> Result<Vec<DataFile>, IngestError> {
        let m = self.listing()?;
        let mut v: Vec<DataFile> = m
            .parts
            .iter()
            .filter(|r| r.table == table.name())
            .flat_map(|r| self.files_of(table, r))
            .collect();
        v.sort_by(|a, b| (a.bucket, &a.path).cmp(&(b.bucket, &b.path)));
        v.dedup_by(|a, b| a.path == b.path);
        Ok(v)
    }

    /// Every Parquet file in a table's folder and its `bucket=NNN` folders
    /// (hidden, temporary ones left out), in path order.
    pub(super) fn found_files(&self, table: Table) -> Vec<FoundFile> {
        let dir = self.root.join(table.name());
        let mut out: Vec<FoundFile> = list_parquet(&dir)
            .into_iter()
            .map(|path| FoundFile {
                part: stem(&path),
                path,
                bucket: None,
            })
            .collect();
        for sub in self.bucket_dirs(table) {
            let Some(bucket) = sub
                .file_name()
                .and_then(|n| parse_bucket_folder(&n.to_string_lossy()))
            else {
                continue;
            };
            out.extend(list_parquet(&sub).into_iter().map(|path| FoundFile {
                part: stem(&path),
                path,
                bucket: Some(bucket),
            }));
        }
        out
    }

    /// A table's `bucket=NNN` folders, in name order.
    pub(super) fn bucket_dirs(&self, table: Table) -> Vec<PathBuf> {
        let mut v: Vec<PathBuf> = std::fs::read_dir(self.root.join(table.name()))
            .map(|rd| {
                rd.filter_map(|e| e.ok().map(|e| e.path()))
                    .filter(|p| {
                        p.is_dir()
                            && p.file_name().is_some_and(|n| {
                                parse_bucket_folder(&n.to_string_lossy()).is_some()
                            })
                    })
                    .collect()
            })
            .unwrap_or_default();
        v.sort();
        v
    }

    /// How the next part of this store is written: `Some(buckets)` for a
    /// partitioned store (a new one becomes partitioned into `wanted`
    /// buckets), `None` for a store written before buckets that still holds
    /// unpartitioned parts (until `lumbar store migrate`).
    pub fn layout_for_writing(&self, wanted: u32) -> Result<Option<u32>, IngestError> {
        let m = self.read_manifest()?;
        Ok(match m.buckets {
            Some(b) => Some(b),
            None if m.parts.is_empty() => Some(wanted),
            None => None,
        })
    }

    /// Records the bucket count of a store that has none yet.
    pub fn set_buckets(&self, buckets: u32) -> Result<(), IngestError> {
        let mut m = self.read_manifest()?;
        if m.buckets == Some(buckets) {
            return Ok(());
        }
        m.buckets = Some(buckets);
        self.write_manifest(&m)
    }
}

/// The rows of a part on their way to disk: one pending file (a store
/// written before buckets), or one per bucket.
pub enum PartRows {
    Whole(ParquetSink),
    Bucketed(BucketSinks),
}

impl PartRows {
    /// Pending files for a part of `table` with these columns; `buckets`
    /// from [`Store::layout_for_writing`].
    pub fn create(
        store: &Store,
        table: Table,
        columns: Vec<(String, Kind)>,
        batch: usize,
        buckets: Option<u32>,
    ) -> PartRows {
        match buckets {
            None => PartRows::Whole(ParquetSink::create(
                &store.part_path(table, "pending"),
                columns,
                batch,
            )),
            Some(buckets) => {
                PartRows::Bucketed(BucketSinks::new(store, table, columns, batch, buckets))
            }
        }
    }

    /// Adds accepted rows (with the part's columns).
    pub fn push_frame(&mut self, df: DataFrame) -> PolarsResult<()> {
        match self {
            PartRows::Whole(s) => s.push_frame(df),
            PartRows::Bucketed(b) => b.push_frame(df),
        }
    }
}

/// One pending file per bucket of patients, opened as the bucket's first
/// row arrives.
pub struct BucketSinks {
    root: PathBuf,
    table: Table,
    columns: Vec<(String, Kind)>,
    batch: usize,
    buckets: u32,
    sinks: BTreeMap<u32, (ParquetSink, Option<[i64; 2]>)>,
}

impl BucketSinks {
    pub(super) fn new(
        store: &Store,
        table: Table,
        columns: Vec<(String, Kind)>,
        batch: usize,
        buckets: u32,
    ) -> BucketSinks {
        BucketSinks {
            root: store.root.clone(),
            table,
            columns,
            // The rows of a batch spread over the buckets: a row group of
            // each bucket is a share of it (16 times the even share, so
            // that 64 buckets keep row groups of 16,384 rows and the
            // buffered rows stay within 16 batches).
            batch: (batch.saturating_mul(16) / buckets.max(1) as usize)
                .clamp(batch.min(4096), batch.max(1)),
            buckets: buckets.max(1),
            sinks: BTreeMap::new(),
        }
    }

    pub(super) fn push_frame(&mut self, df: DataFrame) -> PolarsResult<()> {
        if df.height() == 0 {
            return Ok(());
        }
        let ids = df.column("patient_id")?.str()?.clone();
        let of: Vec<u32> = ids
            .iter()
            .map(|id| bucket_of(id.unwrap_or(""), self.buckets))
            .collect();
        let first = of[0];
        if of.iter().all(|&b| b == first) {
            return self.push_bucket(first, df);
        }
        let mut rows: BTreeMap<u32, Vec<IdxSize>> = BTreeMap::new();
        for (i, &b) in of.iter().enumerate() {
            rows.entry(b).or_default().push(i as IdxSize);
        }
        for (b, idx) in rows {
            let part = df.take(&IdxCa::from_vec("idx".into(), idx))?;
            self.push_bucket(b, part)?;
        }
        Ok(())
    }

    fn push_bucket(&mut self, bucket: u32, df: DataFrame) -> PolarsResult<()> {
        let span = if self.table == Table::Sessions {
            let t = df.column("performed_at")?.cast(&DataType::Int64)?;
            let t = t.i64()?;
            t.min().zip(t.max()).map(|(lo, hi)| [lo, hi])
        } else {
            None
        };
        let (sink, have) = match self.sinks.entry(bucket) {
            std::collections::btree_map::Entry::Occupied(e) => e.into_mut(),
            std::collections::btree_map::Entry::Vacant(e) => {
                let dir = self
                    .root
                    .join(self.table.name())
                    .join(bucket_folder(bucket));
                std::fs::create_dir_all(&dir)?;
                e.insert((
                    ParquetSink::for_frames(
                        &dir.join("pending.parquet"),
                        self.columns.clone(),
                        self.batch,
                    ),
                    None,
                ))
            }
        };
        if let Some([lo, hi]) = span {
            *have = Some(match *have {
                None => [lo, hi],
                Some([a, b]) => [a.min(lo), b.max(hi)],
            });
        }
        sink.push_frame(df)
    }

    /// The buckets with rows, their sinks and their rows' span.
    pub(super) fn into_files(self) -> Vec<(BucketFile, ParquetSink)> {
        self.sinks
            .into_iter()
            .map(|(bucket, (sink, span_ms))| {
                (
                    BucketFile {
                        bucket,
                        rows: sink.rows,
                        sum: None,
                        span_ms,
                    },
                    sink,
                )
            })
            .collect()
    }
}
