//! The command line's contract: help, regimen display, JSON output, errors.

use crate::{lumbar, lumbar_err, path_str, repo_root};

#[test]
fn regimen_show_prints_the_six_moves_from_the_data_file() {
    let file = repo_root().join("datasets/regimens/six-moves.toml");
    let (code, out) = lumbar(&["regimen", "show", path_str(&file)]);
    assert_eq!(code, 0);
    for key in [
        "hip_flexor_stretch",
        "thoracic_spine_stretch",
        "abdominal_bracing",
        "dead_bug",
        "bridge",
        "prone_trunk_lift",
    ] {
        assert!(out.contains(key), "{key} missing:\n{out}");
    }
    assert!(out.contains("3–5 per side"), "{out}");
    assert!(
        out.contains("wall_push_up → countertop_push_up → knee_push_up → (full_push_up)"),
        "{out}"
    );
}

#[test]
fn a_malformed_regimen_names_the_key() {
    let tmp = tempfile::tempdir().unwrap();
    let text = std::fs::read_to_string(repo_root().join("datasets/regimens/six-moves.toml"))
        .unwrap()
        .replace("reps = [10, 15]", "reps = [15, 10]");
    let f = tmp.path().join("bad.toml");
    std::fs::write(&f, text).unwrap();
    let e = lumbar_err(&["regimen", "show", path_str(&f)]);
    assert!(e.contains("`exercise.bridge.reps`"), "{e}");
    assert!(e.contains("lower end 15 is above the upper end 10"), "{e}");
}

#[test]
fn ingest_json_contract_and_errors() {
    let tmp = tempfile::tempdir().unwrap();
    let cohort_dir = tmp.path().join("gen");
    lumbar(&[
        "generate",
        "--patients",
        "6",
        "--weeks",
        "1",
        "--followup",
        "5",
        "--seed",
        "1",
        "--out",
        path_str(&cohort_dir),
    ]);
    let store = tmp.path().join("store");
    let (code, out) = lumbar(&[
        "ingest",
        "--out",
        path_str(&store),
        "--patients",
        path_str(&cohort_dir.join("patients.csv")),
        "--sessions",
        path_str(&cohort_dir.join("sessions.csv")),
        "--json",
    ]);
    assert_eq!(code, 0);
    let doc: serde_json::Value = serde_json::from_str(&out).unwrap();
    let s = &doc["tables"]["sessions"];
    assert!(s["read"].as_u64().unwrap() > 0);
    assert_eq!(s["read"], s["accepted"]);
    assert_eq!(s["rejected"], 0);
    assert_eq!(doc["tables"]["patients"]["read"], 6);
    assert!(
        doc["tables"].get("walking").is_none(),
        "only the tables given"
    );

    // A file that cannot be opened: an error naming it.
    let missing = tmp.path().join("nope.csv");
    let e = lumbar_err(&[
        "ingest",
        "--out",
        path_str(&store),
        "--sessions",
        path_str(&missing),
    ]);
    assert!(e.contains("cannot open") && e.contains("nope.csv"), "{e}");
    // A file without a required column: an error naming the column.
    let f = tmp.path().join("walk.csv");
    std::fs::write(&f, "patient_id,date\nP00001,2025-01-01\n").unwrap();
    let e = lumbar_err(&[
        "ingest",
        "--out",
        path_str(&store),
        "--walking",
        path_str(&f),
    ]);
    assert!(
        e.contains("required column 'walking_min'") && e.contains("walk.csv"),
        "{e}"
    );
    // Duplicated headers.
    std::fs::write(
        &f,
        "patient_id,date,walking_min,Date\nP00001,2025-01-01,3,2025-01-01\n",
    )
    .unwrap();
    let e = lumbar_err(&[
        "ingest",
        "--out",
        path_str(&store),
        "--walking",
        path_str(&f),
    ]);
    assert!(
        e.contains("column 'date' appears twice (columns 2 and 4)"),
        "{e}"
    );
    // An empty file.
    std::fs::write(&f, "").unwrap();
    let e = lumbar_err(&[
        "ingest",
        "--out",
        path_str(&store),
        "--walking",
        path_str(&f),
    ]);
    assert!(e.contains("empty"), "{e}");
}

#[test]
fn the_readme_main_command_runs_on_the_bundled_demo() {
    let tmp = tempfile::tempdir().unwrap();
    let store = tmp.path().join("store");
    let demo = repo_root().join("datasets/demo");
    let (code, out) = lumbar(&[
        "ingest",
        "--dir",
        path_str(&demo),
        "--out",
        path_str(&store),
        "--as-of",
        "2026-01-01",
    ]);
    assert_eq!(code, 0);
    for line in [
        "patients: read 200 = accepted 200 + rejected 0",
        "followup: read 2000 = accepted 2000 + rejected 0",
    ] {
        assert!(out.contains(line), "{line}\n{out}");
    }
}
