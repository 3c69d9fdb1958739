//! `lumbar store migrate`: a store written before buckets, partitioned by
//! patient in place.
//!
//! Each whole part is read a slice at a time and written again as bucket
//! files carrying its record; then its manifest entry names them, then the
//! whole file is removed. A crash leaves either the old entry (the new
//! bucket files are no entry's and the next ingest or migrate moves them
//! to `_quarantine/`) or the new one (the old file is then no entry's and
//! goes the same way), never a part read twice or lost. The part's row
//! index is split with its rows (row `i` is fingerprint `i`) into one index
//! per bucket file; its rejects stay as they are. A reader holding a
//! snapshot taken before the migration fails on the removed files (and
//! says which): migrate under the writer lock, between analyses.

use std::collections::BTreeMap;

use super::*;

/// Rows read from a whole part at a time.
const MIGRATE_SLICE_ROWS: usize = 1 << 20;

/// What a migration did.
#[derive(Debug, Clone, Default, PartialEq, serde::Serialize)]
pub struct Migration {
    /// The store's buckets of patients.
    pub buckets: u32,
    /// Parts rewritten as bucket files, and their rows.
    pub parts: usize,
    pub rows: u64,
    /// What the reconcile before it repaired (see [`Store::reconcile`]).
    pub repairs: Vec<String>,
}

impl Store {
    /// Partitions every whole part into the store's buckets (`wanted` when
    /// the store has no count yet). `batch_rows` as for ingest.
    pub fn migrate(
        &self,
        lock: &WriterLock,
        wanted: u32,
        batch_rows: usize,
    ) -> Result<Migration, IngestError> {
        let repairs = self.reconcile(lock)?;
        let manifest = self.read_manifest()?;
        let max = lumbar_model::partition::MAX_BUCKETS;
        let buckets = manifest.buckets.unwrap_or(wanted);
        if !(1..=max).contains(&buckets) {
            return Err(IngestError::Store {
                path: self.root.clone(),
                problem: format!("{buckets} buckets asked for; a store has 1 to {max}"),
            });
        }
        self.set_buckets(buckets)?;
        let mut done = Migration {
            buckets,
            repairs,
            ..Migration::default()
        };
        for rec in manifest.parts.iter().filter(|r| r.buckets.is_none()) {
            let Some(table) = Table::from_name(&rec.table) else {
                continue; // a later version's table: not ours to rewrite
            };
            let rows = self.migrate_part(table, rec, buckets, batch_rows)?;
            done.parts += 1;
            done.rows += rows as u64;
        }
        Ok(done)
    }

    /// One whole part rewritten as bucket files with their row indexes
    /// (row `i` of the part is fingerprint `i` of its index, so the index
    /// splits with the rows); returns its rows.
    fn migrate_part(
        &self,
        table: Table,
        rec: &PartRecord,
        buckets: u32,
        batch_rows: usize,
    ) -> Result<usize, IngestError> {
        let path = self.part_path(table, &rec.part);
        let rows = self.part_rows(&path)?; // verified against the manifest first
        let index_path = self.index_path(table, &rec.part);
        let index_sum = rec.checksums.as_ref().and_then(|c| c.index.clone());
        if let Some(sum) = &index_sum {
            check_file_sum(&index_path, sum).map_err(|problem| IngestError::Store {
                path: index_path.clone(),
                problem,
            })?;
        }
        let index_io = |e| IngestError::io(&index_path, e);
        let index_len = std::fs::metadata(&index_path).map_err(index_io)?.len();
        if index_len != rows as u64 * 16 {
            return Err(IngestError::Store {
                path: index_path.clone(),
                problem: format!(
                    "{index_len} bytes for a part of {rows} rows (16 per row); run `lumbar store check`"
                ),
            });
        }
        let mut index = std::io::BufReader::new(File::open(&index_path).map_err(index_io)?);
        // Bucket sinks open on their first frame, whose schema they keep:
        // the part's own columns, extras included.
        let mut out = PartRows::create(self, table, Vec::new(), batch_rows, Some(buckets));
        let mut indexes: BTreeMap<u32, IndexWriter> = BTreeMap::new();
        let mut at = 0;
        let mut bytes = Vec::new();
        while at < rows {
            let len = MIGRATE_SLICE_ROWS.min(rows - at);
            let df = read_parquet(&path, None, Some((at, len)))?;
            let to = out
                .destinations(&df)
                .map_err(|e| IngestError::polars(&path, e))?;
            bytes.resize(len * 16, 0);
            index.read_exact(&mut bytes).map_err(index_io)?;
            let mut by_bucket: BTreeMap<u32, Vec<u128>> = BTreeMap::new();
            for (d, fp) in to.iter().zip(bytes.chunks_exact(16)) {
                let mut b = [0u8; 16];
                b.copy_from_slice(fp);
                by_bucket
                    .entry(d.unwrap_or(0))
                    .or_default()
                    .push(u128::from_le_bytes(b));
            }
            for (b, fps) in by_bucket {
                let w = match indexes.entry(b) {
                    std::collections::btree_map::Entry::Occupied(e) => e.into_mut(),
                    std::collections::btree_map::Entry::Vacant(e) => e.insert(IndexWriter::create(
                        &self.bucket_index_path(table, b, &rec.part),
                    )?),
                };
                w.push(&fps)?;
            }
            out.push_split(df, &to)
                .map_err(|e| IngestError::polars(&path, e))?;
            at += len;
        }
        let (_, mut files) = out.into_files();
        for (file, _) in &mut files {
            let target = self.bucket_index_path(table, file.bucket, &rec.part);
            let w = match indexes.remove(&file.bucket) {
                Some(w) => w,
                None => IndexWriter::create(&target)?,
            };
            file.index = Some(w.commit_as(&target)?);
        }
        let mut new = rec.clone();
        new.bucket_count = Some(buckets);
        if let Some(c) = new.checksums.as_mut() {
            c.index = None; // the whole index gives way to the buckets'
        }
        self.commit_buckets(table, &mut new, files)?;
        self.record(new)?;
        for old in [&path, &index_path] {
            fault::step("remove a migrated part").map_err(|e| IngestError::io(old, e))?;
            std::fs::remove_file(old).map_err(|e| IngestError::io(old, e))?;
            if let Ok(mut s) = self.verified.lock() {
                s.remove(old);
            }
        }
        Ok(rows)
    }
}
