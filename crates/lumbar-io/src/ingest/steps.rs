//! One file's ingest in three steps: plan, check, commit.

use super::*;

/// One file's ingest as decided before any row is read.
pub(super) struct FilePlan<'a> {
    pub(super) input: &'a Input,
    pub(super) format: Format,
    pub(super) source: Box<dyn reader::RowSource>,
    /// Extra columns kept (followup covariates), with the type inferred
    /// from all their values.
    pub(super) extras: Vec<(String, ExtraKind)>,
    pub(super) validator: TableValidator<'a>,
    /// The accepted rows' columns: the table's, then the extras.
    pub(super) columns: Vec<(String, Kind)>,
    /// Patients and followup: one row per id, checked against the store's.
    pub(super) keyed: bool,
    /// Sessions, walking, outcomes: the id must name a known person.
    pub(super) check_ids: bool,
    /// The store's buckets of patients (`None`: a store written before
    /// buckets, whose parts stay whole until `lumbar store migrate`).
    pub(super) buckets: Option<u32>,
}

/// Step 1: detects the format, opens the source, infers the extra
/// columns' types (a pass over the file, only when it has extra columns)
/// and decides which identity checks apply.
pub(super) fn plan_file<'a>(
    run: &Run<'a>,
    input: &'a Input,
    read_path: &Path,
    known: &Known,
    notes: &mut Vec<String>,
) -> Result<FilePlan<'a>, IngestError> {
    let Run {
        store,
        regimen,
        opts,
    } = *run;
    let table = input.table;
    let format = match input.format {
        Some(f) => f,
        None => reader::detect(read_path)?,
    };
    let reading = reader::Reading {
        limits: opts.limits,
        missing: &opts.missing,
    };
    let source = reader::open_input_with(
        read_path,
        format,
        table,
        input.patient_id.as_deref(),
        !input.secondary,
        &reading,
    )?;
    let extras: Vec<(String, ExtraKind)> = if source.map().extra_names.is_empty() {
        Vec::new()
    } else {
        let mut scan = reader::open_input_with(read_path, format, table, None, true, &reading)?;
        reader::infer_extra_kinds_with(&mut *scan, &opts.missing)?
    };
    let validator = TableValidator::new(table, extras.clone(), regimen, opts.as_of)
        .with_min_date(opts.min_date)
        .with_missing(opts.missing.clone());
    store.prepare_dirs(table)?;
    let buckets = store.layout_for_writing(opts.buckets)?;
    if buckets.is_none() {
        notes.push(format!(
            "{}: the store was written before tables were partitioned by patient, so this part is one file too; `lumbar store migrate {}` partitions the store",
            input.path.display(),
            store.root().display()
        ));
    }
    let keyed = matches!(table, Table::Patients | Table::Followup);
    let check_ids = match table {
        Table::Sessions => !known.patients.is_empty(),
        Table::Walking | Table::Outcomes => {
            !known.patients.is_empty() || !known.participants.is_empty()
        }
        _ => false,
    };
    if !check_ids && !keyed {
        notes.push(format!(
            "{}: no patients are known yet, so patient_id was not checked against the patients table",
            input.path.display()
        ));
    }
    let mut columns: Vec<(String, Kind)> = table
        .columns()
        .iter()
        .map(|c| (c.name.to_string(), c.kind))
        .collect();
    for (name, kind) in &extras {
        columns.push((
            name.clone(),
            match kind {
                ExtraKind::Float => Kind::Float,
                ExtraKind::Bool => Kind::Bool,
                ExtraKind::Str => Kind::Str,
            },
        ));
    }
    Ok(FilePlan {
        input,
        format,
        source,
        extras,
        validator,
        columns,
        keyed,
        check_ids,
        buckets,
    })
}

/// What the rows of one file came to.
pub(super) struct Checked {
    pub(super) counts: Counts,
    /// Ids of the rows this file adds to the store (patients, followup).
    pub(super) new_ids: Vec<String>,
    /// Rejects per kind of reason.
    pub(super) reasons: HashMap<String, u64>,
    /// The accepted rows, their fingerprints and the rejected rows, in
    /// their pending files.
    pub(super) sink: PartRows,
    pub(super) index: PartIndex,
    pub(super) rejects: ParquetSink,
}

/// Destinations decided at once (see [`check_rows`]), while their sets
/// fit in [`DECIDE_BYTES`] together.
const DECIDE_AT_ONCE: usize = 4;
const DECIDE_BYTES: u64 = 256 << 20;

/// About the memory deciding one destination takes: its stored
/// fingerprints (16 bytes each in the index file) in a hash set, and its
/// spilled rows' in the map of those seen, at about twice their size in a
/// hash table (a 1,000,000-patient store has ~4.4 M a bucket: one at a time).
fn decision_bytes(index_bytes: u64, spilled_rows: usize) -> u64 {
    // Saturating: the sizes come from the manifest, which a damaged store
    // may get wrong.
    index_bytes
        .saturating_mul(2)
        .saturating_add((spilled_rows as u64).saturating_mul(48))
}

/// How many destinations to decide at a time, in order: consecutive
/// groups of at most `at_once` whose `needs` (bytes, see
/// [`decision_bytes`]) add up to at most `budget`, and one alone when it
/// needs more (a destination is decided however big).
fn decision_groups(needs: &[u64], at_once: usize, budget: u64) -> Vec<usize> {
    let mut groups = Vec::new();
    let (mut len, mut bytes) = (0usize, 0u64);
    for &need in needs {
        if len > 0 && (len == at_once || bytes.saturating_add(need) > budget) {
            groups.push(len);
            (len, bytes) = (0, 0);
        }
        len += 1;
        bytes = bytes.saturating_add(need);
    }
    if len > 0 {
        groups.push(len);
    }
    groups
}

/// Step 2: reads, validates and deduplicates every row. A reader thread
/// parses the next chunk while the pool validates this one; the valid rows
/// go to their bucket's pending file and their line and fingerprint to its
/// spill. Then the order-dependent decisions (duplicates, conflicting ids)
/// are taken a bucket at a time ([`dedup`]), and rows not added are taken
/// out of the pending files.
pub(super) fn check_rows(
    run: &Run<'_>,
    plan: &mut FilePlan<'_>,
    known: &Known,
    progress: &mut dyn FnMut(u64),
) -> Result<Checked, IngestError> {
    let Run { store, opts, .. } = *run;
    let table = plan.input.table;
    let path = &plan.input.path;
    let stored_ids: &HashSet<String> = match table {
        Table::Patients => &known.patients,
        Table::Followup => &known.participants,
        _ => &known.none,
    };
    let mut sink = PartRows::create(
        store,
        table,
        plan.columns.clone(),
        opts.batch_rows,
        plan.buckets,
    );
    let reject_columns = ["table", "source", "line", "column", "value", "reason"]
        .iter()
        .map(|n| {
            (
                n.to_string(),
                if *n == "line" { Kind::Int } else { Kind::Str },
            )
        })
        .collect();
    let mut rejects = ParquetSink::create(
        &store.rejects_path(table, "pending"),
        reject_columns,
        opts.batch_rows,
    );
    let source_name = path.display().to_string();

    let mut counts = Counts::default();
    let mut spills = Spills::new(store, table);
    let mut reasons: HashMap<String, u64> = HashMap::new();
    let write_err = |e: polars::error::PolarsError| IngestError::polars(path, e);
    let check = RowCheck {
        validator: &plan.validator,
        table,
        check_ids: plan.check_ids,
        keyed: plan.keyed,
        known,
        columns: &plan.columns,
        buckets: plan.buckets,
    };

    let mut reject = |line: u64, r: Rejection, counts: &mut Counts, rejects: &mut ParquetSink| {
        counts.rejected += 1;
        *reasons.entry(reason_kind(&r)).or_default() += 1;
        let cells = [
            Cell::Str(table.name().into()),
            Cell::Str(source_name.as_str().into()),
            Cell::Int(line as i64),
            r.column.map(|c| Cell::Str(c.into())).unwrap_or(Cell::Null),
            r.value.map(|v| Cell::Str(v.into())).unwrap_or(Cell::Null),
            Cell::Str(r.reason.into()),
        ];
        rejects.push(&cells)
    };

    std::thread::scope(|scope| -> Result<(), IngestError> {
        let (tx, rx) =
            std::sync::mpsc::sync_channel::<Result<Box<dyn reader::RawChunk>, IngestError>>(2);
        let source = &mut plan.source;
        scope.spawn(move || {
            loop {
                match source.next_chunk(CHUNK_ROWS) {
                    Ok(Some(chunk)) => {
                        if tx.send(Ok(chunk)).is_err() {
                            return;
                        }
                    }
                    Ok(None) => return,
                    Err(e) => {
                        let _ = tx.send(Err(e));
                        return;
                    }
                }
            }
        });
        for chunk in rx {
            let chunk = chunk?;
            let parts: Vec<PartOut> = (0..chunk.len().div_ceil(PART_ROWS))
                .into_par_iter()
                .map(|k| {
                    check.part(
                        &*chunk,
                        k * PART_ROWS,
                        ((k + 1) * PART_ROWS).min(chunk.len()),
                    )
                })
                .collect::<Result<_, _>>()
                .map_err(write_err)?;
            for part in parts {
                for row in part.rows {
                    counts.read += 1;
                    match row {
                        RowOut::Rejected(line, r) => {
                            reject(line, r, &mut counts, &mut rejects).map_err(write_err)?;
                        }
                        RowOut::Valid { line, fp, id, dest } => {
                            spills
                                .push(dest, &Pending { line, fp, id })
                                .map_err(|e| IngestError::io(path, e))?;
                        }
                    }
                }
                for (dest, piece) in part.pieces {
                    sink.push_piece(dest, piece).map_err(write_err)?;
                }
            }
            progress(counts.read);
        }
        Ok(())
    })?;
    progress(counts.read);

    // The decisions, a destination (bucket) at a time.
    let mut new_ids: Vec<String> = Vec::new();
    let mut indexes: BTreeMap<u32, IndexWriter> = BTreeMap::new();
    let mut whole_index = match sink.buckets() {
        None => Some(IndexWriter::create(&store.index_path(table, "pending"))?),
        Some(_) => None,
    };
    // A partitioned store whose migration was interrupted still has parts
    // written whole: their fingerprints are loaded once, not per bucket.
    let whole = match sink.buckets() {
        Some(_) => store.whole_fingerprints(table)?,
        None => HashSet::default(),
    };
    // Destinations are independent, so a few are decided at once (each
    // holds its stored fingerprints while it runs); the outcomes are then
    // applied in destination order, so the rejects and ids come out as
    // from one pass.
    let index_bytes = store.index_bytes(table)?;
    let spilled = spills.take_all();
    let needs: Vec<u64> = spilled
        .iter()
        .map(|(dest, spill)| {
            decision_bytes(index_bytes.get(dest).copied().unwrap_or(0), spill.rows())
        })
        .collect();
    let mut spilled = spilled.into_iter();
    for len in decision_groups(&needs, DECIDE_AT_ONCE, DECIDE_BYTES) {
        let group: Vec<(Destination, dedup::Spill)> = spilled.by_ref().take(len).collect();
        let decided: Vec<(Destination, Result<dedup::Decided, IngestError>)> = group
            .into_par_iter()
            .map(|(dest, spill)| {
                let decided = store.fingerprints_in(table, dest).and_then(|stored| {
                    Decider {
                        stored,
                        whole: &whole,
                        stored_ids,
                        seen: HashMap::default(),
                        seen_ids: HashMap::new(),
                    }
                    .decide_all(spill)
                });
                (dest, decided)
            })
            .collect();
        for (dest, decided) in decided {
            let decided = decided?;
            counts.accepted += decided.accepted;
            counts.added += decided.added.len() as u64;
            new_ids.extend(decided.new_ids);
            for (line, r) in decided.rejected {
                reject(line, r, &mut counts, &mut rejects).map_err(write_err)?;
            }
            sink.retain(dest, &decided.keep)?;
            let added = decided.added;
            match (dest, whole_index.as_mut()) {
                (_, Some(w)) => w.push(&added)?,
                (Some(b), None) if !added.is_empty() => {
                    let mut w = IndexWriter::create(&store.bucket_index_path(table, b, "pending"))?;
                    w.push(&added)?;
                    indexes.insert(b, w);
                }
                _ => {}
            }
        }
    }
    let index = match whole_index {
        Some(w) => PartIndex::Whole(w),
        None => PartIndex::Bucketed(indexes),
    };
    Ok(Checked {
        counts,
        new_ids,
        reasons,
        sink,
        index,
        rejects,
    })
}

/// Step 3: commits the part, its fingerprints and rejects and the manifest
/// entry, unless a part of the same content is already listed; then the
/// ids it added become known to the files that follow.
pub(super) fn commit_file(
    run: &Run<'_>,
    plan: FilePlan<'_>,
    checked: Checked,
    sha256: String,
    known: &mut Known,
) -> Result<FileReport, IngestError> {
    let Run {
        store,
        regimen,
        opts,
    } = *run;
    let (table, path) = (plan.input.table, &plan.input.path);
    let Checked {
        mut counts,
        new_ids,
        reasons,
        sink,
        index,
        rejects,
    } = checked;
    let part = format!("part-{}", &sha256[..16]);
    // The manifest, not the folder, says what was ingested: a part left
    // unlisted by a crash was adopted or quarantined by the reconcile.
    let already_ingested = store.has_part(table, &part)?;
    if already_ingested {
        // Same content as a part already stored: leave the store as it is.
        counts.added = 0;
        drop(sink);
        drop(index);
        drop(rejects);
    } else {
        let record = store::PartRecord {
            table: table.name().into(),
            part: part.clone(),
            source: path.display().to_string(),
            sha256: sha256.clone(),
            format: plan.format.name().into(),
            read: counts.read,
            accepted: counts.accepted,
            added: counts.added,
            rejected: counts.rejected,
            regimen: regimen.key.clone(),
            as_of: opts.as_of.to_string(),
            lumbar_version: env!("CARGO_PKG_VERSION").into(),
            checksums: None,
            buckets: None,
            bucket_count: plan.buckets,
        };
        if let Some(b) = plan.buckets {
            store.set_buckets(b)?;
        }
        store.commit_part(table, record, index, rejects, sink)?;
    }
    match table {
        Table::Patients => known.patients.extend(new_ids),
        Table::Followup => known.participants.extend(new_ids),
        _ => {}
    }
    let mut top: Vec<(String, u64)> = reasons.into_iter().collect();
    top.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(&b.0)));
    top.truncate(5);
    Ok(FileReport {
        table: table.name().into(),
        path: path.clone(),
        sha256,
        format: plan.format,
        counts,
        already_ingested,
        ignored_columns: plan.source.map().ignored.clone(),
        covariates: plan.extras.into_iter().map(|e| e.0).collect(),
        top_reasons: top,
    })
}

#[cfg(test)]
mod decision_group_tests {
    use super::decision_groups;

    #[test]
    fn small_destinations_go_four_at_a_time_and_big_ones_alone() {
        assert_eq!(decision_groups(&[], 4, 100), Vec::<usize>::new());
        assert_eq!(decision_groups(&[1; 10], 4, 100), vec![4, 4, 2]);
        // 60 + 60 > 100: the second starts a group; 500 is over the budget
        // on its own and is still decided, alone.
        assert_eq!(
            decision_groups(&[60, 60, 500, 10, 10, 90], 4, 100),
            vec![1, 1, 1, 2, 1]
        );
        assert_eq!(
            decision_groups(&[u64::MAX, u64::MAX, 1], 4, 100),
            vec![1, 1, 1]
        );
    }

    #[test]
    fn every_destination_is_in_one_group_within_the_limits() {
        let needs: Vec<u64> = (0..200u64).map(|i| (i * 7919) % 130).collect();
        for at_once in 1..6 {
            let groups = decision_groups(&needs, at_once, 200);
            assert_eq!(groups.iter().sum::<usize>(), needs.len());
            let mut start = 0;
            for len in groups {
                let group = &needs[start..start + len];
                assert!(len >= 1 && len <= at_once);
                assert!(len == 1 || group.iter().sum::<u64>() <= 200, "{group:?}");
                start += len;
            }
        }
    }
}
