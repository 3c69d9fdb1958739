//! The order-dependent decisions of an ingest, taken a bucket at a time.
//!
//! Whether a valid row is added depends on the rows before it with the
//! same fingerprint (an exact duplicate) or, in the patients and followup
//! tables, the same id (a conflicting definition), and on the rows stored
//! already. Every one of those rows has the same patient, so the same
//! bucket: while the file streams past, each valid row's line, fingerprint
//! (and id) is spilled to its bucket's file on disk; then each bucket's
//! rows are decided in line order against that bucket's stored
//! fingerprints alone. The decisions are those of one pass over the file
//! in order, and memory holds one bucket's fingerprints, not the table's.

use std::fs::File;
use std::io::{BufReader, BufWriter, Read, Write};

use lumbar_model::partition::bucket_folder;

use super::*;
use crate::store::layout::Destination;

/// A valid row's order-dependent facts, as spilled.
pub(super) struct Pending {
    pub(super) line: u64,
    pub(super) fp: u128,
    pub(super) id: Option<String>,
}

/// Per destination, the spill file of its valid rows (removed when dropped).
pub(super) struct Spills {
    dir: PathBuf,
    files: BTreeMap<Destination, (PathBuf, BufWriter<File>, usize)>,
}

/// Bytes of a spilled row before its id: line, fingerprint, id length.
const HEAD: usize = 8 + 16 + 4;
/// The id length of a row without an id.
const NO_ID: u32 = u32::MAX;

impl Spills {
    /// Spills under the table's folder (named as temporary files, which the
    /// store's reconcile removes if a crash leaves them).
    pub(super) fn new(store: &Store, table: Table) -> Spills {
        Spills {
            dir: store.root().join(table.name()),
            files: BTreeMap::new(),
        }
    }

    pub(super) fn push(&mut self, dest: Destination, row: &Pending) -> std::io::Result<()> {
        if !self.files.contains_key(&dest) {
            let dir = match dest {
                None => self.dir.clone(),
                Some(b) => self.dir.join(bucket_folder(b)),
            };
            std::fs::create_dir_all(&dir)?;
            let path = dir.join(format!(".spill.{}.tmp", std::process::id()));
            let f = File::create(&path)?;
            self.files
                .insert(dest, (path, BufWriter::with_capacity(64 << 10, f), 0));
        }
        let Some((_, w, n)) = self.files.get_mut(&dest) else {
            return Err(std::io::Error::other("a spill file was not opened"));
        };
        let mut head = [0u8; HEAD];
        head[..8].copy_from_slice(&row.line.to_le_bytes());
        head[8..24].copy_from_slice(&row.fp.to_le_bytes());
        let len = row.id.as_ref().map_or(NO_ID, |id| id.len() as u32);
        head[24..].copy_from_slice(&len.to_le_bytes());
        w.write_all(&head)?;
        if let Some(id) = &row.id {
            w.write_all(id.as_bytes())?;
        }
        *n += 1;
        Ok(())
    }

    /// Takes every destination's spill, in destination order, to be read
    /// on its own (each removes its file when dropped).
    pub(super) fn take_all(&mut self) -> Vec<(Destination, Spill)> {
        std::mem::take(&mut self.files)
            .into_iter()
            .map(|(dest, (path, writer, rows))| {
                (
                    dest,
                    Spill {
                        path,
                        writer: Some(writer),
                        rows,
                    },
                )
            })
            .collect()
    }
}

/// One destination's spilled rows.
pub(super) struct Spill {
    path: PathBuf,
    writer: Option<BufWriter<File>>,
    rows: usize,
}

impl Spill {
    /// The rows spilled.
    pub(super) fn rows(&self) -> usize {
        self.rows
    }

    /// Reads the rows back in line order (then removes the file).
    pub(super) fn read(
        mut self,
        mut each: impl FnMut(Pending) -> Result<(), IngestError>,
    ) -> Result<usize, IngestError> {
        let path = self.path.clone();
        let io = |e| IngestError::io(&path, e);
        if let Some(w) = self.writer.take() {
            drop(w.into_inner().map_err(|e| io(e.into_error()))?);
        }
        let mut r = BufReader::with_capacity(64 << 10, File::open(&path).map_err(io)?);
        let mut head = [0u8; HEAD];
        for _ in 0..self.rows {
            r.read_exact(&mut head).map_err(io)?;
            let line = u64::from_le_bytes(head[..8].try_into().unwrap_or_default());
            let fp = u128::from_le_bytes(head[8..24].try_into().unwrap_or_default());
            let len = u32::from_le_bytes(head[24..].try_into().unwrap_or_default());
            let id = if len == NO_ID {
                None
            } else {
                let mut b = vec![0u8; len as usize];
                r.read_exact(&mut b).map_err(io)?;
                Some(String::from_utf8_lossy(&b).into_owned())
            };
            each(Pending { line, fp, id })?;
        }
        Ok(self.rows)
    }
}

impl Drop for Spill {
    fn drop(&mut self) {
        drop(self.writer.take());
        let _ = std::fs::remove_file(&self.path);
    }
}

impl Drop for Spills {
    fn drop(&mut self) {
        for (path, _, _) in self.files.values() {
            let _ = std::fs::remove_file(path);
        }
    }
}

/// What the decisions on one destination's rows came to, in line order.
#[derive(Default)]
pub(super) struct Decided {
    /// Per row: whether it is added to the store.
    pub(super) keep: Vec<bool>,
    /// The fingerprints of the rows added.
    pub(super) added: Vec<u128>,
    /// The ids the added rows define (patients, followup).
    pub(super) new_ids: Vec<String>,
    /// Accepted rows (added, or already stored).
    pub(super) accepted: u64,
    pub(super) rejected: Vec<(u64, Rejection)>,
}

impl Decider<'_> {
    /// Decides every row of one destination's spill.
    pub(super) fn decide_all(mut self, spill: Spill) -> Result<Decided, IngestError> {
        let mut out = Decided {
            keep: Vec::with_capacity(spill.rows),
            ..Decided::default()
        };
        // Every row's fingerprint is inserted once: no rehashing as it grows.
        self.seen.reserve(spill.rows);
        spill.read(|row| {
            let (line, fp) = (row.line, row.fp);
            let id = row.id.clone();
            match self.decide(row) {
                Decision::Add => {
                    out.accepted += 1;
                    out.keep.push(true);
                    out.added.push(fp);
                    out.new_ids.extend(id);
                }
                Decision::Stored => {
                    out.accepted += 1;
                    out.keep.push(false);
                }
                Decision::Reject(r) => {
                    out.keep.push(false);
                    out.rejected.push((line, r));
                }
            }
            Ok(())
        })?;
        Ok(out)
    }
}

/// What one destination's decisions came to.
enum Decision {
    /// Accepted and new: stored.
    Add,
    /// Accepted, already stored.
    Stored,
    Reject(Rejection),
}

/// The decisions of one destination's rows, in line order.
pub(super) struct Decider<'a> {
    /// Fingerprints of the rows stored in this destination, and of parts
    /// written whole (every destination's rows).
    pub(super) stored: HashSet<u128, store::FingerprintHasher>,
    pub(super) whole: &'a HashSet<u128, store::FingerprintHasher>,
    /// Ids the store already defines (patients, followup).
    pub(super) stored_ids: &'a HashSet<String>,
    /// First line of each fingerprint and id seen in this file.
    pub(super) seen: HashMap<u128, u64, store::FingerprintHasher>,
    pub(super) seen_ids: HashMap<String, u64>,
}

impl Decider<'_> {
    fn decide(&mut self, row: Pending) -> Decision {
        match self.seen.entry(row.fp) {
            std::collections::hash_map::Entry::Occupied(first) => {
                return Decision::Reject(Rejection::row(format!(
                    "exact duplicate of line {}",
                    first.get()
                )));
            }
            std::collections::hash_map::Entry::Vacant(slot) => {
                slot.insert(row.line);
            }
        }
        if let Some(id) = &row.id {
            if let Some(first) = self.seen_ids.get(id) {
                return Decision::Reject(Rejection {
                    column: Some("patient_id".into()),
                    value: Some(limits::excerpt(id)),
                    reason: format!(
                        "patient_id '{}' is already defined at line {first} with other values",
                        limits::excerpt(id)
                    ),
                });
            }
            self.seen_ids.insert(id.clone(), row.line);
        }
        if self.stored.contains(&row.fp) || self.whole.contains(&row.fp) {
            return Decision::Stored;
        }
        if let Some(id) = &row.id
            && self.stored_ids.contains(id)
        {
            return Decision::Reject(Rejection {
                column: Some("patient_id".into()),
                value: Some(limits::excerpt(id)),
                reason: format!(
                    "patient_id '{}' is already in the store with other values; correct the file or start a new store",
                    limits::excerpt(id)
                ),
            });
        }
        Decision::Add
    }
}
