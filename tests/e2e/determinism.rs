//! The generator gives the same bytes for the same arguments, whatever the
//! thread count, and the committed demo is exactly what its command makes.

use std::path::Path;

use lumbar_io::CsvTables;
use lumbar_model::Regimen;
use lumbar_sim::synthetic::{CohortSpec, generate};

use crate::repo_root;

fn generate_with_threads(threads: usize, spec: &CohortSpec, dir: &Path, gzip: bool) {
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(threads)
        .build()
        .unwrap();
    let mut tables = CsvTables::create(dir, gzip).unwrap();
    pool.install(|| generate(spec, &Regimen::six_moves(), &mut tables, |_, _| {}).unwrap());
    tables.commit().unwrap();
}

fn files(dir: &Path) -> Vec<(String, Vec<u8>)> {
    let mut v: Vec<(String, Vec<u8>)> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.to_string_lossy().contains(".csv"))
        .map(|p| {
            (
                p.file_name().unwrap().to_string_lossy().into_owned(),
                std::fs::read(&p).unwrap(),
            )
        })
        .collect();
    v.sort();
    v
}

#[test]
fn same_seed_same_bytes_at_any_thread_count() {
    let tmp = tempfile::tempdir().unwrap();
    // More patients than one generation block, so blocks and threads both vary.
    let mut spec = CohortSpec::new(600, 2, 99);
    spec.followup = 700;
    generate_with_threads(1, &spec, &tmp.path().join("t1"), false);
    generate_with_threads(3, &spec, &tmp.path().join("t3"), false);
    let a = files(&tmp.path().join("t1"));
    let b = files(&tmp.path().join("t3"));
    assert_eq!(a.len(), 5);
    for ((na, ba), (nb, bb)) in a.iter().zip(&b) {
        assert_eq!(na, nb);
        assert!(ba == bb, "{na} differs between 1 and 3 threads");
    }
    spec.seed = 100;
    generate_with_threads(2, &spec, &tmp.path().join("other"), false);
    let c = files(&tmp.path().join("other"));
    assert!(a[3].1 != c[3].1, "another seed gives other sessions");
}

#[test]
fn committed_demo_is_what_its_command_generates() {
    // datasets/demo/README.md gives this command.
    let tmp = tempfile::tempdir().unwrap();
    let spec = CohortSpec::new(200, 12, 20250613);
    generate_with_threads(2, &spec, tmp.path(), true);
    let made = files(tmp.path());
    let committed = files(&repo_root().join("datasets/demo"));
    assert_eq!(made.len(), committed.len());
    for ((n1, b1), (n2, b2)) in made.iter().zip(&committed) {
        assert_eq!(n1, n2);
        assert!(
            b1 == b2,
            "datasets/demo/{n1} is not what `lumbar generate` makes; regenerate it"
        );
    }
}
