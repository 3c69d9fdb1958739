//! The store partitioned by patient: every row in its bucket's hive folder,
//! a shard that reads only its own buckets' files, and a store written
//! before buckets that still reads and is migrated in place.

use std::path::{Path, PathBuf};

use lumbar_io::Store;
use lumbar_io::store::Manifest;
use lumbar_model::Table;
use lumbar_model::partition::{BucketShard, bucket_of, parse_bucket_folder};
use polars::prelude::*;

use crate::{
    demo_store, demo_store_with, lumbar, lumbar_err, parquet_files, path_str, repo_root, tree,
};

const TABLES: [Table; 5] = [
    Table::Patients,
    Table::Sessions,
    Table::Walking,
    Table::Outcomes,
    Table::Followup,
];

fn read(path: &Path) -> DataFrame {
    ParquetReader::new(std::fs::File::open(path).unwrap())
        .finish()
        .unwrap()
}

/// The bucket a data file's folder names (`None`: a part written whole).
fn folder_bucket(path: &Path) -> Option<u32> {
    parse_bucket_folder(path.parent()?.file_name()?.to_str()?)
}

/// A table's rows in a fixed order, whatever the order of the files.
fn sorted(store: &Path, table: Table) -> DataFrame {
    let df = Store::open(store)
        .unwrap()
        .read_table(table)
        .unwrap()
        .unwrap();
    let by: Vec<PlSmallStr> = df.get_column_names_owned();
    df.sort(by, SortMultipleOptions::default().with_nulls_last(true))
        .unwrap()
}

fn store_check(store: &Path) -> (u8, String) {
    let mut out = Vec::new();
    let code = lumbar_cli::run(
        ["lumbar", "-q", "store", "check", path_str(store)],
        &mut out,
    )
    .unwrap();
    (code, String::from_utf8(out).unwrap())
}

#[test]
fn a_new_store_puts_every_row_in_its_patients_bucket_folder() {
    let tmp = tempfile::tempdir().unwrap();
    let store = demo_store_with(tmp.path(), &["--buckets", "8"]);
    let demo = repo_root().join("datasets/demo");
    let m = Store::open(&store).unwrap().manifest().unwrap();
    assert_eq!(m.buckets, Some(8));
    for table in TABLES {
        let files = parquet_files(&store.join(table.name()));
        let mut rows = 0;
        let mut seen = std::collections::BTreeSet::new();
        for f in &files {
            let b = folder_bucket(f)
                .unwrap_or_else(|| panic!("{} not in a bucket folder", f.display()));
            assert!(b < 8, "{}", f.display());
            seen.insert(b);
            let df = read(f);
            rows += df.height();
            for id in df.column("patient_id").unwrap().str().unwrap().iter() {
                assert_eq!(
                    bucket_of(id.unwrap(), 8),
                    b,
                    "{} in {}",
                    id.unwrap(),
                    f.display()
                );
            }
        }
        // 200 patients fill all 8 buckets of every table.
        assert_eq!(seen.len(), 8, "{}: {seen:?}", table.name());
        let whole = Store::open(&store)
            .unwrap()
            .read_table(table)
            .unwrap()
            .unwrap();
        assert_eq!(rows, whole.height(), "{}", table.name());
    }
    assert_eq!(store_check(&store).0, 0);
    // The count is the store's: a later ingest asking for another keeps it.
    lumbar(&[
        "ingest",
        "--sessions",
        path_str(&demo.join("sessions.csv.gz")),
        "--out",
        path_str(&store),
        "--as-of",
        "2026-01-01",
        "--buckets",
        "16",
    ]);
    assert_eq!(
        Store::open(&store).unwrap().manifest().unwrap().buckets,
        Some(8)
    );
}

#[test]
fn a_shard_reads_only_its_own_buckets_session_files() {
    let tmp = tempfile::tempdir().unwrap();
    let store = demo_store(tmp.path());
    let s = path_str(&store);
    let first = tmp.path().join("first");
    lumbar(&["analyze", s, "--shard", "1/4", "--out", path_str(&first)]);
    // Every sessions file of the other shards' buckets made unreadable.
    let buckets = Store::open(&store).unwrap().manifest().unwrap().buckets();
    let mine = BucketShard::new(1, 4, buckets).unwrap().buckets(buckets);
    let mut spoiled = 0;
    for f in parquet_files(&store.join("sessions")) {
        if !mine.contains(&folder_bucket(&f).unwrap()) {
            std::fs::write(&f, b"not parquet at all").unwrap();
            spoiled += 1;
        }
    }
    assert!(spoiled > 10, "{spoiled}");
    let again = tmp.path().join("again");
    lumbar(&["analyze", s, "--shard", "1/4", "--out", path_str(&again)]);
    let without_manifest = |d: &Path| {
        let mut t = tree(d);
        t.remove("manifest.json");
        t
    };
    assert_eq!(without_manifest(&again), without_manifest(&first));
    // The whole store does read them, and says which is damaged.
    let e = lumbar_err(&["analyze", s, "--out", path_str(&tmp.path().join("whole"))]);
    assert!(e.contains("bucket=") && e.contains("damaged"), "{e}");
}

/// Rewrites a partitioned store as a store written before buckets: one
/// file per part, no bucket count (the parts' whole-file checksums absent,
/// as in stores written before checksums).
fn unpartition(store: &Path) {
    let path = store.join("manifest.json");
    let mut m: Manifest = serde_json::from_slice(&std::fs::read(&path).unwrap()).unwrap();
    let handle = Store::open(store).unwrap();
    for rec in &mut m.parts {
        let table = Table::from_name(&rec.table).unwrap();
        let files: Vec<(PathBuf, PathBuf)> = rec
            .buckets
            .take()
            .unwrap()
            .iter()
            .map(|b| {
                (
                    handle.bucket_path(table, b.bucket, &rec.part),
                    handle.bucket_index_path(table, b.bucket, &rec.part),
                )
            })
            .collect();
        // Row i of the part is fingerprint i of its index, bucket after bucket.
        let mut index = Vec::new();
        let mut whole: Option<DataFrame> = None;
        for (f, idx) in &files {
            index.extend(std::fs::read(idx).unwrap());
            std::fs::remove_file(idx).unwrap();
            let df = read(f);
            whole = Some(match whole {
                None => df,
                Some(mut w) => {
                    w.vstack_mut(&df).unwrap();
                    w
                }
            });
            std::fs::remove_file(f).unwrap();
        }
        let index_path = handle.index_path(table, &rec.part);
        std::fs::write(&index_path, &index).unwrap();
        let mut whole = whole.unwrap();
        let target = store
            .join(table.name())
            .join(format!("{}.parquet", rec.part));
        ParquetWriter::new(std::fs::File::create(&target).unwrap())
            .finish(&mut whole)
            .unwrap();
        if let Some(c) = rec.checksums.as_mut() {
            c.part = None;
            c.index = Some(lumbar_io::store::file_sum(&index_path).unwrap());
        }
    }
    m.buckets = None;
    std::fs::write(&path, serde_json::to_vec_pretty(&m).unwrap()).unwrap();
    for table in TABLES {
        for dir in [
            store.join(table.name()),
            store.join("_index").join(table.name()),
        ] {
            for d in std::fs::read_dir(dir).unwrap().flatten() {
                if d.path().is_dir() {
                    std::fs::remove_dir(d.path()).unwrap();
                }
            }
        }
    }
}

/// Every CSV table of an analysis, its lines sorted (patients come in
/// bucket order from a partitioned store, in file order from a whole one).
fn sorted_tables(dir: &Path) -> Vec<(String, Vec<String>)> {
    tree(dir)
        .into_iter()
        .filter(|(name, _)| name.ends_with(".csv"))
        .map(|(name, bytes)| {
            let mut v: Vec<String> = String::from_utf8(bytes)
                .unwrap()
                .lines()
                .map(str::to_string)
                .collect();
            v.sort();
            (name, v)
        })
        .collect()
}

#[test]
fn a_store_written_before_buckets_still_reads_and_migrates_in_place() {
    let tmp = tempfile::tempdir().unwrap();
    let store = demo_store(tmp.path());
    let s = path_str(&store);
    let before = tmp.path().join("before");
    lumbar(&["analyze", s, "--out", path_str(&before)]);
    let rows: Vec<DataFrame> = TABLES.iter().map(|t| sorted(&store, *t)).collect();

    unpartition(&store);
    assert!(
        parquet_files(&store)
            .iter()
            .all(|f| folder_bucket(f).is_none())
    );
    assert_eq!(store_check(&store).0, 0, "{}", store_check(&store).1);
    // It reads as it is: the same analysis (rows in another order).
    let old = tmp.path().join("old");
    lumbar(&["analyze", s, "--out", path_str(&old)]);
    assert_eq!(sorted_tables(&old), sorted_tables(&before));
    // An ingest into it keeps its layout, and says how to change it.
    let extra = tmp.path().join("extra.csv");
    std::fs::write(
        &extra,
        "patient_id,performed_at,exercise,level,side,sets,reps,hold_s,pain_before,pain_during,pain_after,pain_persist_min,stopped_for_pain,completed,source\n\
         P00001,2025-01-28T07:47,hip_flexor_stretch,,both,1,5,20,3,4.5,3,0,false,true,app\n",
    )
    .unwrap();
    let (_, said) = lumbar(&[
        "ingest",
        "--sessions",
        path_str(&extra),
        "--out",
        s,
        "--as-of",
        "2026-01-01",
    ]);
    assert!(said.contains("lumbar store migrate"), "{said}");
    assert!(
        parquet_files(&store.join("sessions"))
            .iter()
            .all(|f| folder_bucket(f).is_none())
    );

    let (code, said) = lumbar(&["store", "migrate", s]);
    assert_eq!(code, 0);
    assert!(
        said.contains("partitioned into 64 buckets of patients"),
        "{said}"
    );
    let m = Store::open(&store).unwrap().manifest().unwrap();
    assert_eq!(m.buckets, Some(64));
    assert!(m.parts.iter().all(|p| p.buckets.is_some()));
    let files = parquet_files(&store);
    assert!(
        files
            .iter()
            .filter(|f| !f.starts_with(store.join("rejects")))
            .all(|f| folder_bucket(f).is_some()),
        "{files:?}"
    );
    assert_eq!(store_check(&store).0, 0, "{}", store_check(&store).1);
    // The same rows, and the same analysis.
    for (t, want) in TABLES.iter().zip(&rows) {
        assert!(sorted(&store, *t).equals_missing(want), "{}", t.name());
    }
    let after = tmp.path().join("after");
    lumbar(&["analyze", s, "--out", path_str(&after)]);
    assert_eq!(sorted_tables(&after), sorted_tables(&before));
    let (_, said) = lumbar(&["store", "migrate", s]);
    assert!(said.contains("nothing to do"), "{said}");
    // The row indexes moved with their rows: a stored row in a new file is
    // found in its bucket's index, and a new one is added.
    let again = tmp.path().join("again.csv");
    let stored_row = std::fs::read_to_string(&extra).unwrap();
    std::fs::write(
        &again,
        format!(
            "{stored_row}P00001,2025-01-28T07:48,hip_flexor_stretch,,both,1,5,20,3,4.5,3,0,false,true,app\n"
        ),
    )
    .unwrap();
    let (_, json) = lumbar(&[
        "ingest",
        "--sessions",
        path_str(&again),
        "--out",
        s,
        "--as-of",
        "2026-01-01",
        "--json",
    ]);
    let v: serde_json::Value = serde_json::from_str(&json).unwrap();
    let file = &v["files"][0];
    assert_eq!(
        (file["accepted"].as_u64(), file["added"].as_u64()),
        (Some(2), Some(1)),
        "{v}"
    );
}

#[test]
fn a_rebuilt_manifest_gets_the_bucket_count_back_and_a_hostile_one_is_refused() {
    let tmp = tempfile::tempdir().unwrap();
    let store = tmp.path().join("store");
    let demo = repo_root().join("datasets/demo");
    let s = path_str(&store);
    let ingest = |extra: &[&str]| {
        let mut args = vec![
            "ingest",
            "--dir",
            path_str(&demo),
            "--out",
            s,
            "--as-of",
            "2026-01-01",
        ];
        args.extend_from_slice(extra);
        lumbar(&args)
    };
    ingest(&["--buckets", "16"]);
    let want = Store::open(&store).unwrap().manifest().unwrap();
    assert_eq!(want.buckets, Some(16));
    // Lost: rebuilt from the parts' own records, count included.
    std::fs::remove_file(store.join("manifest.json")).unwrap();
    let (_, said) = ingest(&[]);
    assert!(said.contains("rebuilt from"), "{said}");
    let m = Store::open(&store).unwrap().manifest().unwrap();
    assert_eq!(m.buckets, Some(16));
    assert_eq!(m.parts.len(), want.parts.len());
    assert_eq!(store_check(&store).0, 0);

    // Hostile: a part name that would be a path out of the store, a bucket
    // beyond the count, a count out of range. Each is refused before any
    // file is read, and nothing outside the store is touched.
    let outside = tmp.path().join("outside.parquet");
    std::fs::write(&outside, b"not the store's").unwrap();
    let text = std::fs::read_to_string(store.join("manifest.json")).unwrap();
    let part = &m.parts[0].part;
    for (what, bad) in [
        (
            "part name",
            text.replacen(part.as_str(), "../../outside", 1),
        ),
        (
            "bucket number",
            text.replacen("\"bucket\": ", "\"bucket\": 900", 1),
        ),
        (
            "count",
            text.replacen("\"buckets\": 16", "\"buckets\": 100000", 1),
        ),
    ] {
        assert_ne!(bad, text, "{what}: the manifest was changed");
        std::fs::write(store.join("manifest.json"), &bad).unwrap();
        let e = lumbar_err(&["analyze", s, "--out", path_str(&tmp.path().join("out"))]);
        assert!(e.contains("manifest is not valid"), "{what}: {e}");
        let (code, report) = store_check(&store);
        assert_eq!(code, 1, "{what}: {report}");
        // A writer (ingest, migrate) sets it aside and rebuilds it from the parts.
        let (_, said) = lumbar(&["store", "migrate", s]);
        assert!(
            said.contains("manifest.json could not be read"),
            "{what}: {said}"
        );
        assert_eq!(store_check(&store).0, 0, "{what}");
        assert_eq!(
            Store::open(&store).unwrap().manifest().unwrap().buckets,
            Some(16)
        );
        assert_eq!(std::fs::read(&outside).unwrap(), b"not the store's");
        std::fs::write(store.join("manifest.json"), &text).unwrap();
    }
}
