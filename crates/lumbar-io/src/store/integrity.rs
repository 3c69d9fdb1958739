//! Verifying a store: `lumbar store check`, the reconcile an ingest runs
//! first, and the checksums both rely on.

use std::collections::{BTreeMap, HashMap};

use super::layout::FoundFile;
use super::*;

/// What `lumbar store check` found for one file of the store.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct FileCheck {
    /// Path relative to the store.
    pub path: String,
    /// `manifest`, `part`, `index` or `rejects`.
    pub kind: &'static str,
    /// `None`: ok.
    pub problem: Option<String>,
}

/// Why a manifest entry cannot stay.
enum EntryProblem {
    Missing,
    Damaged(String),
}

impl Store {
    fn rel(&self, path: &Path) -> String {
        path.strip_prefix(&self.root)
            .unwrap_or(path)
            .display()
            .to_string()
    }

    /// An entry's files checked against their recorded checksums
    /// (entries written before checksums: that the data files are there).
    fn check_entry(&self, table: Table, rec: &PartRecord) -> Result<(), EntryProblem> {
        let files = self.files_of(table, rec);
        let missing: Vec<&DataFile> = files.iter().filter(|f| !f.path.is_file()).collect();
        if !files.is_empty() && missing.len() == files.len() {
            return Err(EntryProblem::Missing);
        }
        if let Some(f) = missing.first() {
            return Err(EntryProblem::Damaged(format!(
                "part: {} is missing",
                self.rel(&f.path)
            )));
        }
        let Some(c) = &rec.checksums else {
            return Ok(());
        };
        for f in &files {
            if let Some(sum) = &f.sum {
                check_file_sum(&f.path, sum)
                    .map_err(|p| EntryProblem::Damaged(format!("{}: {p}", self.rel(&f.path))))?;
            }
        }
        let indexes = self
            .indexes_of(table, rec)
            .into_iter()
            .map(|(path, sum)| ("row index", path, sum));
        for (kind, path, sum) in indexes.chain([(
            "rejects",
            self.rejects_path(table, &rec.part),
            c.rejects.clone(),
        )]) {
            if let Some(sum) = sum {
                check_file_sum(&path, &sum)
                    .map_err(|p| EntryProblem::Damaged(format!("{kind}: {p}")))?;
            }
        }
        Ok(())
    }

    /// The manifest entry of a part the manifest lacks, from the record its
    /// data files carry, if they (every bucket file the record names) and
    /// its index and rejects are complete.
    fn adopt(&self, table: Table, part: &str, files: &[FoundFile]) -> Result<PartRecord, String> {
        let mut rec: Option<PartRecord> = None;
        let mut rows = HashMap::new();
        for f in files {
            let own = verify_self(&f.path).map_err(|p| format!("{}: {p}", self.rel(&f.path)))?;
            let r = own.record.ok_or("has no lumbar record")?;
            if r.table != table.name() || r.part != part {
                return Err(format!(
                    "its record names {}/{}, not this file",
                    r.table, r.part
                ));
            }
            if rec.as_ref().is_some_and(|first| *first != r) {
                return Err("its bucket files carry different records".into());
            }
            rows.insert(f.bucket, own.rows);
            rec = Some(r);
        }
        let mut rec = rec.ok_or("has no data file")?;
        match rec.buckets.as_mut() {
            None => {
                let [f] = files else {
                    return Err("a part written whole is in more than one file".into());
                };
                if f.bucket.is_some() {
                    return Err("a part written whole is in a bucket folder".into());
                }
                if rows.get(&None) != Some(&rec.added) {
                    return Err(format!(
                        "its footer counts {} rows where its record says {}",
                        rows.get(&None).copied().unwrap_or(0),
                        rec.added
                    ));
                }
            }
            Some(listed) => {
                if listed.len() != files.len() {
                    return Err(format!(
                        "its record names {} bucket files and {} were found",
                        listed.len(),
                        files.len()
                    ));
                }
                for b in listed.iter_mut() {
                    let found = rows.get(&Some(b.bucket)).ok_or_else(|| {
                        format!(
                            "the file of bucket {} is missing",
                            lumbar_model::partition::bucket_folder(b.bucket)
                        )
                    })?;
                    if *found != b.rows {
                        return Err(format!(
                            "{}: its footer counts {found} rows where its record says {}",
                            lumbar_model::partition::bucket_folder(b.bucket),
                            b.rows
                        ));
                    }
                    let index = self.bucket_index_path(table, b.bucket, part);
                    let sum = b
                        .index
                        .as_ref()
                        .ok_or("its record has no checksum of a bucket's row index")?;
                    check_file_sum(&index, sum)
                        .map_err(|p| format!("{}: {p}", self.rel(&index)))?;
                    let path = self.bucket_path(table, b.bucket, part);
                    b.sum = Some(file_sum(&path).map_err(|e| e.to_string())?);
                }
                if listed.iter().map(|b| b.rows).sum::<u64>() != rec.added {
                    return Err("its bucket files' rows do not add up to its record's".into());
                }
            }
        }
        let whole = rec.buckets.is_none();
        let c = rec.checksums.get_or_insert_with(Checksums::default);
        let mut own = vec![(self.rejects_path(table, part), &c.rejects)];
        if whole {
            own.push((self.index_path(table, part), &c.index));
        }
        for (file, sum) in own {
            let sum = sum
                .as_ref()
                .ok_or("its record has no checksum of its index or rejects")?;
            check_file_sum(&file, sum).map_err(|p| format!("{}: {p}", self.rel(&file)))?;
        }
        if rec.buckets.is_none() {
            c.part = Some(file_sum(&files[0].path).map_err(|e| e.to_string())?);
        }
        Ok(rec)
    }

    /// Moves a file under `STORE/_quarantine/` (same relative path; a number
    /// appended when that name is taken), where no reader looks.
    fn quarantine(&self, path: &Path) -> Result<(), IngestError> {
        let rel = path.strip_prefix(&self.root).unwrap_or(path);
        let base = self.root.join("_quarantine").join(rel);
        let mut dest = base.clone();
        for n in 1..1000 {
            if !dest.exists() {
                break;
            }
            dest = PathBuf::from(format!("{}.{n}", base.display()));
        }
        let io = |e| IngestError::io(path, e);
        if let Some(dir) = dest.parent() {
            std::fs::create_dir_all(dir).map_err(io)?;
        }
        fault::step("move a file to quarantine").map_err(io)?;
        std::fs::rename(path, &dest).map_err(io)?;
        if let Ok(mut s) = self.verified.lock() {
            s.remove(path);
        }
        Ok(())
    }

    fn quarantine_part(&self, table: Table, part: &str) -> Result<(), IngestError> {
        let mut files = vec![
            self.part_path(table, part),
            self.index_path(table, part),
            self.rejects_path(table, part),
        ];
        for dir in self.bucket_dirs(table) {
            files.push(dir.join(format!("{part}.parquet")));
        }
        for dir in self.index_bucket_dirs(table) {
            files.push(dir.join(format!("{part}.fp")));
        }
        for p in files {
            if p.exists() {
                self.quarantine(&p)?;
            }
        }
        Ok(())
    }

    /// Temporary files of interrupted writers (`.NAME.PID.tmp`); under the
    /// writer lock, none of them belongs to a live writer.
    fn remove_temporaries(&self) -> Result<usize, IngestError> {
        let mut dirs = vec![self.root.clone(), self.root.join("rejects")];
        for t in Table::ALL {
            dirs.push(self.root.join(t.name()));
            dirs.push(self.root.join("_index").join(t.name()));
            dirs.extend(self.bucket_dirs(t));
            dirs.extend(self.index_bucket_dirs(t));
        }
        let mut n = 0;
        for d in dirs {
            let Ok(rd) = std::fs::read_dir(&d) else {
                continue;
            };
            for e in rd.flatten() {
                let name = e.file_name().to_string_lossy().into_owned();
                if name.starts_with('.') && name.ends_with(".tmp") {
                    let p = e.path();
                    std::fs::remove_file(&p).map_err(|e| IngestError::io(&p, e))?;
                    n += 1;
                }
            }
        }
        Ok(n)
    }

    /// Brings the manifest and the folder into agreement before an ingest
    /// writes: removes writers' temporary files; moves to `_quarantine/` a
    /// listed part whose part, index or rejects file fails its checksum (its
    /// entry is dropped, so its source can be ingested again) and any part,
    /// index or rejects file no complete entry owns; adds a complete part the
    /// manifest lacks, from the part's own record; rebuilds a missing or
    /// unreadable manifest. Returns one line per thing done.
    pub fn reconcile(&self, _writer: &WriterLock) -> Result<Vec<String>, IngestError> {
        let mut said = Vec::new();
        let removed = self.remove_temporaries()?;
        if removed > 0 {
            said.push(format!(
                "removed {removed} temporary file(s) left by an interrupted ingest"
            ));
        }
        let manifest_path = self.manifest_path();
        let had_manifest = manifest_path.exists();
        let mut rebuilt = !had_manifest;
        let mut dirty = false;
        let (listed, buckets) = match self.read_manifest() {
            Ok(m) => (m.parts, m.buckets),
            Err(e) => {
                self.quarantine(&manifest_path)?;
                said.push(format!(
                    "manifest.json could not be read ({e}): moved to _quarantine/, rebuilt from the parts"
                ));
                rebuilt = true;
                (Vec::new(), None)
            }
        };
        let mut kept: Vec<PartRecord> = Vec::with_capacity(listed.len());
        for rec in listed {
            let Some(table) = Table::from_name(&rec.table) else {
                kept.push(rec); // a later version's table: not ours to judge
                continue;
            };
            if kept
                .iter()
                .any(|k| k.table == rec.table && k.part == rec.part)
            {
                dirty = true; // a duplicate entry
                continue;
            }
            match self.check_entry(table, &rec) {
                Ok(()) => kept.push(rec),
                Err(EntryProblem::Missing) => {
                    dirty = true;
                    said.push(format!(
                        "{}/{}: listed but its data files are missing: entry removed (ingest {} again to restore its rows)",
                        rec.table, rec.part, rec.source
                    ));
                }
                Err(EntryProblem::Damaged(problem)) => {
                    dirty = true;
                    self.quarantine_part(table, &rec.part)?;
                    said.push(format!(
                        "{}/{}: its data files, row index and rejects moved to _quarantine/ (damaged {problem}); ingest {} again to restore its rows",
                        rec.table, rec.part, rec.source
                    ));
                }
            }
        }
        let mut adopted = 0usize;
        for table in Table::ALL {
            for (part, files) in self.unowned(table, &kept) {
                dirty = true;
                if kept
                    .iter()
                    .any(|r| r.table == table.name() && r.part == part)
                {
                    // Files of a listed part that its entry does not name (a
                    // migration interrupted before or after its manifest).
                    for f in files {
                        self.quarantine(&f.path)?;
                        said.push(format!(
                            "{}: not one of the files the manifest lists for its part: moved to _quarantine/",
                            self.rel(&f.path)
                        ));
                    }
                    continue;
                }
                let shown = self.rel(&files[0].path);
                match self.adopt(table, &part, &files) {
                    Ok(rec) => {
                        if !rebuilt {
                            said.push(format!(
                                "{shown}: a complete part the manifest did not list (from {}, {} rows): added",
                                rec.source, rec.added
                            ));
                        }
                        adopted += 1;
                        kept.push(rec);
                    }
                    Err(problem) => {
                        self.quarantine_part(table, &part)?;
                        said.push(format!(
                            "{shown}: not listed and not complete ({problem}): moved to _quarantine/"
                        ));
                    }
                }
            }
        }
        for path in self.orphans(&kept, &[]) {
            self.quarantine(&path)?;
            said.push(format!(
                "{}: belongs to no listed part (left by an interrupted ingest): moved to _quarantine/",
                self.rel(&path)
            ));
        }
        if rebuilt && (adopted > 0 || had_manifest) {
            if !had_manifest {
                said.push(format!(
                    "manifest.json was missing: rebuilt from {adopted} part(s)"
                ));
            }
            dirty = true;
        }
        if dirty {
            // A rebuilt manifest gets the count back from the parts' own records.
            let buckets = buckets.or_else(|| kept.iter().find_map(|r| r.bucket_count));
            self.write_manifest(&Manifest {
                buckets,
                parts: kept,
            })?;
        }
        Ok(said)
    }

    /// Index and rejects files that belong neither to an entry nor to one of
    /// the `unlisted` part files (table, part name).
    fn orphans(&self, entries: &[PartRecord], unlisted: &[(Table, String)]) -> Vec<PathBuf> {
        let mut owned: HashSet<PathBuf> = HashSet::new();
        for r in entries {
            if let Some(t) = Table::from_name(&r.table) {
                owned.extend(self.indexes_of(t, r).into_iter().map(|(p, _)| p));
                owned.insert(self.rejects_path(t, &r.part));
            }
        }
        // A part not listed yet (being judged) owns all its possible indexes.
        for (t, part) in unlisted {
            owned.insert(self.index_path(*t, part));
            owned.insert(self.rejects_path(*t, part));
            for dir in self.index_bucket_dirs(*t) {
                owned.insert(dir.join(format!("{part}.fp")));
            }
        }
        let mut files = list_parquet(&self.root.join("rejects"));
        for t in Table::ALL {
            files.extend(list_files(&self.root.join("_index").join(t.name()), "fp"));
            for dir in self.index_bucket_dirs(t) {
                files.extend(list_files(&dir, "fp"));
            }
        }
        files.retain(|f| !owned.contains(f));
        files
    }

    /// Verifies every file of the store, as SQLite's `integrity_check` does:
    /// the manifest; each listed part, row index and rejects file against its
    /// recorded whole-file checksum; and any part, index or rejects file the
    /// manifest does not list (a problem: it is not read; the next ingest
    /// adds a complete part and quarantines the rest).
    pub fn check(&self) -> Vec<FileCheck> {
        let mut out = Vec::new();
        let entries = match self.read_manifest() {
            Ok(m) => {
                let problem = (!self.manifest_path().exists() && self.has_files())
                    .then(|| "missing: the next ingest rebuilds it from the parts".to_string());
                out.push(FileCheck {
                    path: "manifest.json".into(),
                    kind: "manifest",
                    problem,
                });
                m.parts
            }
            Err(e) => {
                out.push(FileCheck {
                    path: "manifest.json".into(),
                    kind: "manifest",
                    problem: Some(e.to_string()),
                });
                Vec::new()
            }
        };
        for rec in &entries {
            let Some(table) = Table::from_name(&rec.table) else {
                continue;
            };
            let c = rec.checksums.clone().unwrap_or_default();
            let data = self
                .files_of(table, rec)
                .into_iter()
                .map(|f| ("part", f.path, f.sum));
            let indexes = self
                .indexes_of(table, rec)
                .into_iter()
                .map(|(p, sum)| ("index", p, sum));
            for (kind, path, sum) in data.chain(indexes).chain([(
                "rejects",
                self.rejects_path(table, &rec.part),
                c.rejects,
            )]) {
                let problem = match &sum {
                    Some(sum) => check_file_sum(&path, sum).err(),
                    None if path.is_file() => None, // written before checksums
                    None => Some("missing".to_string()),
                };
                out.push(FileCheck {
                    path: self.rel(&path),
                    kind,
                    problem,
                });
            }
        }
        let mut unlisted = Vec::new();
        let mut unlisted_parts = Vec::new();
        for table in Table::ALL {
            for (part, files) in self.unowned(table, &entries) {
                let listed = entries
                    .iter()
                    .any(|r| r.table == table.name() && r.part == part);
                let why = if listed {
                    "a file of a listed part that its entry does not name; the next ingest moves it to _quarantine/".to_string()
                } else {
                    unlisted_parts.push((table, part.clone()));
                    match self.adopt(table, &part, &files) {
                        Ok(_) => "complete".to_string(),
                        Err(p) => format!("damaged: {p}"),
                    }
                };
                for f in files {
                    unlisted.push(FileCheck {
                        path: self.rel(&f.path),
                        kind: "part",
                        problem: Some(if listed {
                            why.clone()
                        } else {
                            format!(
                                "not listed in the manifest, so not read ({why}); the next ingest adds a complete part and quarantines a damaged one"
                            )
                        }),
                    });
                }
            }
        }
        out.extend(unlisted);
        for path in self.orphans(&entries, &unlisted_parts) {
            out.push(FileCheck {
                kind: if path.extension().is_some_and(|e| e == "fp") {
                    "index"
                } else {
                    "rejects"
                },
                path: self.rel(&path),
                problem: Some(
                    "belongs to no listed part; the next ingest moves it to _quarantine/".into(),
                ),
            });
        }
        out
    }

    fn has_files(&self) -> bool {
        Table::ALL.iter().any(|t| !self.found_files(*t).is_empty())
    }

    /// The data files in a table's folders that no entry names, by part.
    fn unowned(&self, table: Table, entries: &[PartRecord]) -> BTreeMap<String, Vec<FoundFile>> {
        let owned: HashSet<PathBuf> = entries
            .iter()
            .filter(|r| r.table == table.name())
            .flat_map(|r| self.files_of(table, r))
            .map(|f| f.path)
            .collect();
        let mut by_part: BTreeMap<String, Vec<FoundFile>> = BTreeMap::new();
        for f in self.found_files(table) {
            if !owned.contains(&f.path) {
                by_part.entry(f.part.clone()).or_default().push(f);
            }
        }
        by_part
    }
}

/// What a part says of itself: its record, its footer's row count, and
/// that its data bytes match its own checksum.
struct SelfCheck {
    record: Option<PartRecord>,
    rows: u64,
}

/// Checks a store Parquet file by its own `lumbar.checksum` (used when the
/// manifest has no entry for it). The footer is read only after its length
/// is checked against the file's, and parsing it cannot take the process
/// down.
fn verify_self(path: &Path) -> Result<SelfCheck, String> {
    let mut f = File::open(path).map_err(|e| format!("cannot be opened: {e}"))?;
    let len = f.metadata().map_err(|e| e.to_string())?.len();
    if len < 12 {
        return Err(format!("truncated ({len} bytes)"));
    }
    let mut tail = [0u8; 8];
    f.seek(SeekFrom::End(-8))
        .and_then(|_| f.read_exact(&mut tail))
        .map_err(|e| e.to_string())?;
    if &tail[4..] != b"PAR1" {
        return Err("truncated or not Parquet (no footer magic)".into());
    }
    let footer = u32::from_le_bytes([tail[0], tail[1], tail[2], tail[3]]) as u64;
    if footer > len - 12 || footer > MAX_FOOTER_BYTES {
        return Err(format!(
            "damaged footer (length {footer} in a {len}-byte file)"
        ));
    }
    let meta = std::panic::catch_unwind(|| {
        let f = File::open(path).map_err(|e| e.to_string())?;
        let mut r = ParquetReader::new(f);
        let m = r.get_metadata().map_err(|e| e.to_string())?;
        let kv: Vec<(String, String)> = m
            .key_value_metadata
            .iter()
            .flatten()
            .filter_map(|kv| Some((kv.key.clone(), kv.value.clone()?)))
            .collect();
        Ok::<_, String>((m.num_rows as u64, kv))
    })
    .map_err(|_| "damaged footer (it could not be parsed)".to_string())?
    .map_err(|e| format!("damaged footer: {e}"))?;
    let (rows, kv) = meta;
    let get = |k: &str| kv.iter().find(|(key, _)| key == k).map(|(_, v)| v.as_str());
    let sum: FileSum = get(KEY_CHECKSUM)
        .ok_or("has no lumbar checksum")
        .and_then(|v| serde_json::from_str(v).map_err(|_| "has an unreadable lumbar checksum"))?;
    if sum.bytes > len - 8 - footer {
        return Err("its checksum covers more bytes than the file has before its footer".into());
    }
    let got = sha256_prefix(path, sum.bytes).map_err(|e| e.to_string())?;
    if got != sum.sha256 {
        return Err("content checksum mismatch (its data bytes changed)".into());
    }
    let record = match get(KEY_PART) {
        Some(v) => Some(serde_json::from_str(v).map_err(|_| "has an unreadable lumbar record")?),
        None => None,
    };
    Ok(SelfCheck { record, rows })
}

/// A file against a whole-file checksum: size first (a truncated file is
/// named as such without reading it), then SHA-256.
pub(super) fn check_file_sum(path: &Path, sum: &FileSum) -> Result<(), String> {
    let len = match std::fs::metadata(path) {
        Ok(m) => m.len(),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Err("missing".into()),
        Err(e) => return Err(format!("cannot be read: {e}")),
    };
    if len != sum.bytes {
        return Err(format!(
            "{len} bytes where {} were written (truncated or overwritten)",
            sum.bytes
        ));
    }
    let got = sha256_prefix(path, len).map_err(|e| format!("cannot be read: {e}"))?;
    if got != sum.sha256 {
        return Err(format!(
            "checksum mismatch (SHA-256 {}…, recorded {}…)",
            &got[..12],
            sum.sha256.get(..12).unwrap_or(&sum.sha256)
        ));
    }
    Ok(())
}

/// The whole-file checksum of a file.
pub fn file_sum(path: &Path) -> std::io::Result<FileSum> {
    let bytes = std::fs::metadata(path)?.len();
    Ok(FileSum {
        sha256: sha256_prefix(path, bytes)?,
        bytes,
    })
}

/// SHA-256 of a file's first `n` bytes, as lowercase hex.
fn sha256_prefix(path: &Path, n: u64) -> std::io::Result<String> {
    let mut f = File::open(path)?.take(n);
    let mut h = Sha256::new();
    let mut buf = vec![0u8; 1 << 20];
    let mut seen = 0u64;
    loop {
        let k = f.read(&mut buf)?;
        if k == 0 {
            break;
        }
        h.update(&buf[..k]);
        seen += k as u64;
    }
    if seen != n {
        return Err(std::io::Error::new(
            std::io::ErrorKind::UnexpectedEof,
            format!("{seen} bytes where {n} were expected"),
        ));
    }
    Ok(hex(&h.finalize()))
}
