//! `lumbar store migrate`: a store written before buckets, partitioned by
//! patient in place.
//!
//! Each whole part is read a slice at a time and written again as bucket
//! files carrying its record; then its manifest entry names them, then the
//! whole file is removed. A crash leaves either the old entry (the new
//! bucket files are no entry's and the next ingest or migrate moves them
//! to `_quarantine/`) or the new one (the old file is then no entry's and
//! goes the same way), never a part read twice or lost. Row fingerprints
//! and rejects do not move: they belong to the part, not to a bucket.

use super::layout::BucketSinks;
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
        let buckets = manifest
            .buckets
            .unwrap_or(wanted)
            .clamp(1, lumbar_model::partition::MAX_BUCKETS);
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
            let path = self.part_path(table, &rec.part);
            let rows = self.part_rows(&path)?; // verified against the manifest first
            // Bucket sinks open on their first frame, whose schema they
            // keep: the part's own columns, extras included.
            let mut sinks = BucketSinks::new(self, table, Vec::new(), batch_rows, buckets);
            let mut at = 0;
            while at < rows {
                let len = MIGRATE_SLICE_ROWS.min(rows - at);
                let df = read_parquet(&path, None, Some((at, len)))?;
                sinks
                    .push_frame(df)
                    .map_err(|e| IngestError::polars(&path, e))?;
                at += len;
            }
            let mut new = rec.clone();
            self.commit_buckets(table, &mut new, sinks)?;
            self.record(new)?;
            fault::step("remove a migrated part").map_err(|e| IngestError::io(&path, e))?;
            std::fs::remove_file(&path).map_err(|e| IngestError::io(&path, e))?;
            if let Ok(mut s) = self.verified.lock() {
                s.remove(&path);
            }
            done.parts += 1;
            done.rows += rows as u64;
        }
        Ok(done)
    }
}
