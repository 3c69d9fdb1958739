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
use polars::prelude::{BooleanChunked, NewChunkedArray};

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
    /// The checksum of the file's row index (`_index/TABLE/bucket=NNN/`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub index: Option<FileSum>,
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
        bucket_dirs_in(&self.root.join(table.name()))
    }

    /// The `bucket=NNN` folders of a table's row indexes.
    pub(super) fn index_bucket_dirs(&self, table: Table) -> Vec<PathBuf> {
        bucket_dirs_in(&self.root.join("_index").join(table.name()))
    }

    /// How the next part of this store is written: `Some(buckets)` for a
    /// partitioned store (a new one becomes partitioned into `wanted`
    /// buckets), `None` for a store written before buckets that still holds
    /// unpartitioned parts (until `lumbar store migrate`).
    pub fn layout_for_writing(&self, wanted: u32) -> Result<Option<u32>, IngestError> {
        let max = lumbar_model::partition::MAX_BUCKETS;
        if !(1..=max).contains(&wanted) {
            return Err(IngestError::Store {
                path: self.root.clone(),
                problem: format!("{wanted} buckets asked for; a store has 1 to {max}"),
            });
        }
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

/// The `bucket=NNN` folders of a folder, in name order.
fn bucket_dirs_in(dir: &Path) -> Vec<PathBuf> {
    let mut v: Vec<PathBuf> = std::fs::read_dir(dir)
        .map(|rd| {
            rd.filter_map(|e| e.ok().map(|e| e.path()))
                .filter(|p| {
                    p.is_dir()
                        && p.file_name()
                            .is_some_and(|n| parse_bucket_folder(&n.to_string_lossy()).is_some())
                })
                .collect()
        })
        .unwrap_or_default();
    v.sort();
    v
}

/// Where a part's rows go: its one file (`None`, a store written before
/// buckets) or one bucket's file.
pub type Destination = Option<u32>;

/// The destination of a row of this patient in a part of a store of
/// `buckets` (`None`: written whole).
pub fn destination_of(buckets: Option<u32>, patient_id: &str) -> Destination {
    buckets.map(|b| bucket_of(patient_id, b))
}

/// A frame cut by destination (`to`: one per row), each piece in row order.
pub fn split(df: DataFrame, to: &[Destination]) -> PolarsResult<Vec<(Destination, DataFrame)>> {
    let Some(&first) = to.first() else {
        return Ok(Vec::new());
    };
    if to.iter().all(|&d| d == first) {
        return Ok(vec![(first, df)]);
    }
    let mut rows: BTreeMap<Destination, Vec<IdxSize>> = BTreeMap::new();
    for (i, &d) in to.iter().enumerate() {
        rows.entry(d).or_default().push(i as IdxSize);
    }
    // Column by column on this thread: `DataFrame::take` hands each column
    // to polars' thread pool, which from inside a validating thread costs
    // more in hand-offs than the gather of a few hundred rows.
    rows.into_iter()
        .map(|(d, idx)| {
            let idx = IdxCa::from_vec("idx".into(), idx);
            let columns = df
                .columns()
                .iter()
                .map(|c| c.take(&idx))
                .collect::<PolarsResult<Vec<_>>>()?;
            Ok((d, DataFrame::new(idx.len(), columns)?))
        })
        .collect()
}

/// The rows of a part on their way to disk: one pending file for a part
/// written whole, or one per bucket, opened as its first row arrives.
pub struct PartRows {
    root: PathBuf,
    table: Table,
    columns: Vec<(String, Kind)>,
    /// Rows per row group of each file.
    batch: usize,
    /// `None`: the part is written whole.
    buckets: Option<u32>,
    sinks: BTreeMap<Destination, (ParquetSink, Option<[i64; 2]>)>,
}

impl PartRows {
    /// Pending files for a part of `table` with these columns (a part
    /// written whole with no rows still gets a file with them); `buckets`
    /// from [`Store::layout_for_writing`].
    pub fn create(
        store: &Store,
        table: Table,
        columns: Vec<(String, Kind)>,
        batch: usize,
        buckets: Option<u32>,
    ) -> PartRows {
        let batch = match buckets {
            None => batch.max(1),
            // The rows of a batch spread over the buckets: a row group of
            // each bucket is a share of it (16 times the even share, so
            // that 64 buckets keep row groups of 16,384 rows and the
            // buffered rows stay within 16 batches).
            Some(b) => {
                (batch.saturating_mul(16) / b.max(1) as usize).clamp(batch.min(4096), batch.max(1))
            }
        };
        PartRows {
            root: store.root.clone(),
            table,
            columns,
            batch,
            buckets: buckets.map(|b| b.max(1)),
            sinks: BTreeMap::new(),
        }
    }

    /// The bucket count of a partitioned part.
    pub fn buckets(&self) -> Option<u32> {
        self.buckets
    }

    /// The destination of each row of a frame, by its `patient_id`.
    pub fn destinations(&self, df: &DataFrame) -> PolarsResult<Vec<Destination>> {
        let ids = df.column("patient_id")?.str()?;
        Ok(ids
            .iter()
            .map(|id| destination_of(self.buckets, id.unwrap_or("")))
            .collect())
    }

    /// Adds accepted rows (with the part's columns), each to its
    /// destination (`to`: one per row, from [`PartRows::destinations`]).
    pub fn push_split(&mut self, df: DataFrame, to: &[Destination]) -> PolarsResult<()> {
        for (dest, piece) in split(df, to)? {
            self.push_piece(dest, piece)?;
        }
        Ok(())
    }

    fn pending_path(&self, dest: Destination) -> PathBuf {
        let dir = self.root.join(self.table.name());
        match dest {
            None => dir.join("pending.parquet"),
            Some(b) => dir.join(bucket_folder(b)).join("pending.parquet"),
        }
    }

    /// Adds rows that all go to `dest`.
    pub fn push_piece(&mut self, dest: Destination, df: DataFrame) -> PolarsResult<()> {
        if df.height() == 0 {
            return Ok(());
        }
        let span = if self.table == Table::Sessions && dest.is_some() {
            let t = df.column("performed_at")?.cast(&DataType::Int64)?;
            let t = t.i64()?;
            t.min().zip(t.max()).map(|(lo, hi)| [lo, hi])
        } else {
            None
        };
        if !self.sinks.contains_key(&dest) {
            let path = self.pending_path(dest);
            if let Some(dir) = path.parent() {
                std::fs::create_dir_all(dir)?;
            }
            let sink = ParquetSink::for_frames(&path, self.columns.clone(), self.batch);
            self.sinks.insert(dest, (sink, None));
        }
        let Some((sink, have)) = self.sinks.get_mut(&dest) else {
            return Err(polars_err!(ComputeError: "a part's pending file was not opened"));
        };
        if let Some([lo, hi]) = span {
            *have = Some(match *have {
                None => [lo, hi],
                Some([a, b]) => [a.min(lo), b.max(hi)],
            });
        }
        sink.push_frame(df)
    }

    /// Keeps only the rows of a destination whose `keep` is true (one per
    /// row pushed there, in order): the pending file is closed, read back a
    /// slice at a time and written again without the others (a destination
    /// left with no rows is dropped). Nothing is done when all are kept, so
    /// a file without duplicates is written once.
    pub fn retain(&mut self, dest: Destination, keep: &[bool]) -> Result<(), IngestError> {
        if keep.iter().all(|k| *k) {
            return Ok(());
        }
        let Some((sink, _)) = self.sinks.remove(&dest) else {
            return Ok(());
        };
        if !keep.iter().any(|k| *k) {
            return Ok(()); // dropped: its temporary file goes with it
        }
        let pending = self.pending_path(dest);
        let scratch = pending.with_file_name(format!(".retain.{}.tmp", std::process::id()));
        let polars = |e| IngestError::polars(&pending, e);
        sink.commit_as(&scratch, Vec::new()).map_err(polars)?;
        let result = (|| {
            let rows = keep.len();
            let mut at = 0;
            while at < rows {
                let len = RETAIN_SLICE_ROWS.min(rows - at);
                let df = read_parquet(&scratch, None, Some((at, len)))?;
                let mask = BooleanChunked::from_slice("keep".into(), &keep[at..at + len]);
                let kept = df.filter(&mask).map_err(polars)?;
                self.push_piece(dest, kept).map_err(polars)?;
                at += len;
            }
            Ok(())
        })();
        let _ = std::fs::remove_file(&scratch);
        result
    }

    /// The files to commit: for a part written whole its one sink (an
    /// empty file with the part's columns when no row came), for a
    /// partitioned part each bucket with rows, with its sink.
    pub(super) fn into_files(mut self) -> (Option<ParquetSink>, Vec<(BucketFile, ParquetSink)>) {
        if self.buckets.is_none() {
            let whole = self.sinks.remove(&None).map(|(s, _)| s).unwrap_or_else(|| {
                ParquetSink::create(&self.pending_path(None), self.columns.clone(), self.batch)
            });
            return (Some(whole), Vec::new());
        }
        let files = self
            .sinks
            .into_iter()
            .filter_map(|(dest, (sink, span_ms))| {
                Some((
                    BucketFile {
                        bucket: dest?,
                        rows: sink.rows,
                        sum: None,
                        span_ms,
                        index: None,
                    },
                    sink,
                ))
            })
            .collect();
        (None, files)
    }
}

/// Rows read back at a time when a pending file is written again without
/// its duplicates.
const RETAIN_SLICE_ROWS: usize = 1 << 18;
