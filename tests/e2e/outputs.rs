//! What lumbar writes, and where: names that become paths stay inside the
//! output folder, result folders are replaced whole or not at all, CSV cells
//! cannot run as spreadsheet formulas, a closed stdout ends quietly, and
//! `compare` says what it pairs.

use std::path::{Path, PathBuf};

use crate::{lumbar, lumbar_err, path_str, repo_root};

/// A small generated cohort in `tmp/cohort`.
fn small_cohort(tmp: &Path) -> PathBuf {
    let cohort = tmp.join("cohort");
    lumbar(&[
        "generate",
        "--patients",
        "12",
        "--weeks",
        "2",
        "--followup",
        "5",
        "--seed",
        "3",
        "--out",
        path_str(&cohort),
    ]);
    cohort
}

/// `cohort` ingested into `tmp/store`.
fn ingest_into_store(tmp: &Path, cohort: &Path) -> PathBuf {
    let store = tmp.join("store");
    lumbar(&[
        "ingest",
        "--out",
        path_str(&store),
        "--dir",
        path_str(cohort),
        "--as-of",
        "2030-01-01",
    ]);
    store
}

/// A small generated cohort ingested into a store: (tmp, cohort folder, store).
fn small_store() -> (tempfile::TempDir, PathBuf, PathBuf) {
    let tmp = tempfile::tempdir().unwrap();
    let cohort = small_cohort(tmp.path());
    let store = ingest_into_store(tmp.path(), &cohort);
    (tmp, cohort, store)
}

fn names_in(dir: &Path) -> Vec<String> {
    let mut v: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect();
    v.sort();
    v
}

#[test]
fn batch_step_and_cohort_names_cannot_leave_the_output_folder() {
    let tmp = tempfile::tempdir().unwrap();
    let victim = tmp.path().join("victim");
    std::fs::create_dir_all(victim.join("result")).unwrap();
    std::fs::write(victim.join("result/precious.txt"), b"keep").unwrap();
    let demo = repo_root().join("datasets/demo");
    for (name, want) in [
        ("../victim", "contains a path separator"),
        ("../../victim", "contains a path separator"),
        (path_str(&victim), "contains a path separator"),
        ("..", "is . or .."),
        ("", "is empty"),
        (".hidden", "starts with a dot"),
    ] {
        let batch = tmp.path().join("b.toml");
        std::fs::write(
            &batch,
            format!(
                "out = \"out\"\n[[cohort]]\nname = \"demo\"\ndata = \"{}\"\n[[step]]\nname = {name:?}\nrun = \"ingest\"\ncohort = \"demo\"\n",
                path_str(&demo)
            ),
        )
        .unwrap();
        let e = lumbar_err(&["run", path_str(&batch)]);
        assert!(
            e.contains("`name` must be one plain folder name"),
            "{name}: {e}"
        );
        assert!(e.contains(want), "{name}: {e}");
    }
    let batch = tmp.path().join("c.toml");
    std::fs::write(
        &batch,
        "out = \"out\"\n[[cohort]]\nname = \"a/b\"\ndata = \"x\"\n",
    )
    .unwrap();
    let e = lumbar_err(&["run", path_str(&batch)]);
    assert!(e.contains("[[cohort]] `name` \"a/b\""), "{e}");
    assert_eq!(
        std::fs::read(victim.join("result/precious.txt")).unwrap(),
        b"keep"
    );
    assert!(!tmp.path().join("out").exists(), "nothing was written");
}

#[test]
fn result_folders_are_replaced_whole_or_left_as_they_were() {
    let (tmp, _, store) = small_store();
    let res = tmp.path().join("results");
    lumbar(&["analyze", path_str(&store), "--out", path_str(&res)]);
    assert!(res.join(".lumbar-result").is_file());
    let before = std::fs::read(res.join("adherence_weekly.csv")).unwrap();
    let manifest = std::fs::read(res.join("manifest.json")).unwrap();

    // A run that fails (the store's sessions part is garbage) leaves the
    // previous results exactly as they were, and no staging folder.
    let broken = tmp.path().join("broken");
    copy_tree(&store, &broken);
    let sessions = broken.join("sessions");
    for part in crate::parquet_files(&sessions) {
        std::fs::write(part, b"not parquet at all").unwrap();
    }
    lumbar_err(&["analyze", path_str(&broken), "--out", path_str(&res)]);
    assert_eq!(
        std::fs::read(res.join("adherence_weekly.csv")).unwrap(),
        before
    );
    assert_eq!(std::fs::read(res.join("manifest.json")).unwrap(), manifest);
    assert_eq!(
        names_in(tmp.path()),
        ["broken", "cohort", "results", "store"]
    );
    assert_eq!(names_in(&res).len(), 17, "{:?}", names_in(&res));

    // A run that succeeds replaces the folder whole: a file of an earlier
    // run that this one does not write is gone.
    std::fs::write(res.join("rr_old.csv"), b"stale").unwrap();
    lumbar(&["analyze", path_str(&store), "--out", path_str(&res)]);
    assert!(!res.join("rr_old.csv").exists());
    assert_eq!(
        std::fs::read(res.join("adherence_weekly.csv")).unwrap(),
        before
    );

    // A run killed half-way through its writes (here by the file-size limit:
    // SIGXFSZ on the first table over 256 KiB) leaves the previous results
    // whole; the next run tidies the dead run's staging folder away.
    let demo = tmp.path().join("demo-store");
    lumbar(&[
        "ingest",
        "--out",
        path_str(&demo),
        "--dir",
        path_str(&repo_root().join("datasets/demo")),
        "--as-of",
        "2026-01-01",
    ]);
    let big = tmp.path().join("big");
    lumbar(&["analyze", path_str(&demo), "--out", path_str(&big)]);
    let weekly = std::fs::read(big.join("adherence_weekly.parquet")).unwrap();
    assert!(
        weekly.len() > 300_000
            || std::fs::metadata(big.join("adherence_weekly.csv"))
                .unwrap()
                .len()
                > 300_000
    );
    let killed = std::process::Command::new("sh")
        .arg("-c")
        .arg(format!(
            "ulimit -f 512; exec {} -q analyze {} --out {}",
            path_str(&lumbar_exe()),
            path_str(&demo),
            path_str(&big)
        ))
        .output()
        .unwrap();
    assert!(!killed.status.success(), "{killed:?}");
    assert_eq!(
        std::fs::read(big.join("adherence_weekly.parquet")).unwrap(),
        weekly
    );
    assert_eq!(
        names_in(&big),
        names_in(&res)
            .into_iter()
            .filter(|n| n != "rr_old.csv")
            .collect::<Vec<_>>()
    );
    assert!(
        names_in(tmp.path())
            .iter()
            .any(|n| n.starts_with(".big.staging-")),
        "the killed run's staging folder is left: {:?}",
        names_in(tmp.path())
    );
    lumbar(&["analyze", path_str(&demo), "--out", path_str(&big)]);
    assert!(
        !names_in(tmp.path()).iter().any(|n| n.starts_with('.')),
        "{:?}",
        names_in(tmp.path())
    );

    // A folder of the user's is never replaced.
    let mine = tmp.path().join("mine");
    std::fs::create_dir_all(&mine).unwrap();
    std::fs::write(mine.join("thesis.docx"), b"precious").unwrap();
    let e = lumbar_err(&["analyze", path_str(&store), "--out", path_str(&mine)]);
    assert!(e.contains("holds files lumbar did not write"), "{e}");
    assert_eq!(names_in(&mine), ["thesis.docx"]);

    // The same rule for risk, simulate and merge.
    let e = lumbar_err(&[
        "risk",
        "--store",
        path_str(&store),
        "--out",
        path_str(&mine),
    ]);
    assert!(e.contains("holds files lumbar did not write"), "{e}");
    let scen = repo_root().join("datasets/scenarios/graded-activity.toml");
    let e = lumbar_err(&[
        "simulate",
        path_str(&scen),
        "--patients",
        "10",
        "--out",
        path_str(&mine),
    ]);
    assert!(e.contains("holds files lumbar did not write"), "{e}");
    assert_eq!(names_in(&mine), ["thesis.docx"]);
}

fn copy_tree(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for e in std::fs::read_dir(from).unwrap().flatten() {
        let target = to.join(e.file_name());
        if e.file_type().unwrap().is_dir() {
            copy_tree(&e.path(), &target);
        } else {
            std::fs::copy(e.path(), &target).unwrap();
        }
    }
}

#[test]
fn csv_cells_cannot_run_as_formulas() {
    let tmp = tempfile::tempdir().unwrap();
    let cohort = small_cohort(tmp.path());
    // Every site becomes a formula an attacker could plant in a clinic's export.
    let patients = cohort.join("patients.csv");
    let text = std::fs::read_to_string(&patients).unwrap();
    let mut lines: Vec<String> = text.lines().map(str::to_string).collect();
    for l in lines.iter_mut().skip(1) {
        let mut cells: Vec<&str> = l.split(',').collect();
        cells[1] = "\"=HYPERLINK(\"\"http://evil.invalid\"\",\"\"x\"\")\"";
        *l = cells.join(",");
    }
    std::fs::write(&patients, lines.join("\n") + "\n").unwrap();
    let store = ingest_into_store(tmp.path(), &cohort);
    let res = tmp.path().join("res");
    lumbar(&["analyze", path_str(&store), "--out", path_str(&res)]);
    let groups = std::fs::read_to_string(res.join("adherence_groups.csv")).unwrap();
    assert!(
        groups.contains("'=HYPERLINK(\"\"http://evil.invalid\"\""),
        "{groups}"
    );
    assert!(
        !groups.lines().any(|l| l
            .split(',')
            .any(|c| c.starts_with('=') || c.starts_with("\"="))),
        "{groups}"
    );
    let raw = tmp.path().join("raw");
    lumbar(&[
        "analyze",
        path_str(&store),
        "--out",
        path_str(&raw),
        "--raw-csv",
    ]);
    let groups = std::fs::read_to_string(raw.join("adherence_groups.csv")).unwrap();
    assert!(groups.contains("\"=HYPERLINK("), "{groups}");
}

/// The `lumbar` binary of this build (built on demand when the test binary
/// was built without it, as `cargo test -p lumbar-suite` does).
pub fn lumbar_exe() -> PathBuf {
    let exe = std::env::current_exe().unwrap();
    let bin = exe
        .parent()
        .and_then(Path::parent)
        .unwrap()
        .join(format!("lumbar{}", std::env::consts::EXE_SUFFIX));
    static BUILT: std::sync::Once = std::sync::Once::new();
    BUILT.call_once(|| {
        let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
        let status = std::process::Command::new(cargo)
            .args(["build", "-q", "-p", "lumbar-cli", "--bin", "lumbar"])
            .current_dir(repo_root())
            .status()
            .unwrap();
        assert!(status.success(), "cannot build the lumbar binary");
    });
    assert!(bin.is_file(), "{} missing", bin.display());
    bin
}

#[test]
fn a_closed_stdout_ends_quietly_with_the_sigpipe_status() {
    let (reader, writer) = std::io::pipe().unwrap();
    drop(reader); // the reader has gone, as `| head` does once it has its lines
    let out = std::process::Command::new(lumbar_exe())
        .args(["regimen", "show"])
        .stdout(writer)
        .stderr(std::process::Stdio::piped())
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(141), "{out:?}");
    assert_eq!(
        String::from_utf8_lossy(&out.stderr),
        "",
        "nothing on stderr"
    );
}

#[test]
fn compare_pairs_runs_only_when_they_share_seed_draw_and_replication() {
    let tmp = tempfile::tempdir().unwrap();
    let scen = repo_root().join("datasets/scenarios");
    // The shipped graded-activity scenario without its PSA: 10 replications.
    let text = std::fs::read_to_string(scen.join("graded-activity.toml")).unwrap();
    let cut = text.find("[psa]").unwrap();
    let text = text[..cut].replace("replications = 1", "replications = 10");
    let reps = tmp.path().join("graded-replications.toml");
    std::fs::write(
        &reps,
        text.replace(
            "../regimens",
            path_str(&repo_root().join("datasets/regimens")),
        ),
    )
    .unwrap();
    let run = |scenario: &Path, out: &str| {
        let dir = tmp.path().join(out);
        lumbar(&[
            "simulate",
            path_str(scenario),
            "--patients",
            "300",
            "--weeks",
            "4",
            "--out",
            path_str(&dir),
        ]);
        dir
    };
    let psa = run(&scen.join("pain-contingent.toml"), "pain");
    let replications = run(&reps, "graded-reps");
    let graded = run(&scen.join("graded-activity.toml"), "graded");

    // PSA draws against replications: as many runs, but not the same draws.
    let (_, c) = lumbar(&["compare", path_str(&replications), path_str(&psa), "--json"]);
    let c: serde_json::Value = serde_json::from_str(&c).unwrap();
    assert_eq!(c["paired"], false);
    assert_eq!(c["a"]["runs"], 10);
    assert_eq!(c["b"]["runs"], 10);
    let pain4 = c["differences"]
        .as_array()
        .unwrap()
        .iter()
        .find(|d| d["week"] == 4 && d["metric"] == "pain_mean")
        .unwrap()
        .clone();
    assert_eq!(pain4["interval"], "independent runs");
    assert!(pain4["mc_se"].as_f64().unwrap() > 0.0, "{pain4}");
    let (_, table) = lumbar(&["compare", path_str(&replications), path_str(&psa)]);
    assert!(table.contains("(10 runs)"), "{table}");
    assert!(
        table.contains(
            "not paired, runs are made differently (0 PSA draws × 10 replications vs 10 × 1)"
        ),
        "{table}"
    );
    assert!(table.contains("MC SE"), "{table}");

    // The shipped scenarios share their PSA design: paired, with the Monte
    // Carlo standard error of the mean paired difference.
    let (_, c) = lumbar(&["compare", path_str(&graded), path_str(&psa), "--json"]);
    let c: serde_json::Value = serde_json::from_str(&c).unwrap();
    assert_eq!(c["paired"], true);
    let d = c["differences"]
        .as_array()
        .unwrap()
        .iter()
        .find(|d| d["week"] == 4 && d["metric"] == "pain_mean")
        .unwrap();
    assert_eq!(d["interval"], "paired runs");
    let se = d["mc_se"].as_f64().unwrap();
    let half = (d["upper"].as_f64().unwrap() - d["lower"].as_f64().unwrap()) / 2.0;
    // The SE of a mean over 10 runs is well below the runs' own spread.
    assert!(se > 0.0 && se < half, "se {se}, half-width {half}");
}

/// `--format` picks the files each result table is written as, for
/// analyze, risk and store rejects alike: only those asked for, the JSON
/// lines one object per row of the Parquet table, a sharded run merged
/// into the same files.
#[test]
fn result_tables_in_the_formats_asked_for() {
    let (tmp, _, store) = small_store();
    let s = path_str(&store);
    let json_only = tmp.path().join("json");
    lumbar(&[
        "analyze",
        s,
        "--out",
        path_str(&json_only),
        "--format",
        "json",
    ]);
    let names = names_in(&json_only);
    assert!(
        names.contains(&"adherence_weekly.ndjson".to_string()),
        "{names:?}"
    );
    assert!(
        !names
            .iter()
            .any(|n| n.ends_with(".csv") || n.ends_with(".parquet")),
        "{names:?}"
    );
    let both = tmp.path().join("both");
    lumbar(&[
        "analyze",
        s,
        "--out",
        path_str(&both),
        "--format",
        "parquet,json",
    ]);
    let weekly = std::fs::read_to_string(both.join("adherence_weekly.ndjson")).unwrap();
    let rows: Vec<serde_json::Value> = weekly
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let parquet = lumbar_io::Frame::read(&both.join("adherence_weekly.parquet")).unwrap();
    assert_eq!(rows.len(), lumbar_model::Columns::height(&parquet));
    assert!(rows.len() > 10);
    let first = rows[0].as_object().unwrap();
    assert!(
        first.contains_key("patient_id") && first["patient_id"].is_string(),
        "{first:?}"
    );
    assert_eq!(
        std::fs::read_to_string(json_only.join("trends.ndjson")).unwrap(),
        std::fs::read_to_string(both.join("trends.ndjson")).unwrap()
    );
    let manifest: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(both.join("manifest.json")).unwrap())
            .unwrap();
    assert!(
        manifest["outputs"]
            .as_array()
            .unwrap()
            .iter()
            .any(|o| o == "trends.ndjson")
    );
    // Shards carry the formats to merge.
    let (a, b, merged) = (
        tmp.path().join("s1"),
        tmp.path().join("s2"),
        tmp.path().join("m"),
    );
    lumbar(&[
        "analyze",
        s,
        "--out",
        path_str(&a),
        "--shard",
        "1/2",
        "--format",
        "json",
    ]);
    lumbar(&[
        "analyze",
        s,
        "--out",
        path_str(&b),
        "--shard",
        "2/2",
        "--format",
        "json",
    ]);
    lumbar(&[
        "merge",
        path_str(&a),
        path_str(&b),
        "--out",
        path_str(&merged),
    ]);
    assert_eq!(
        std::fs::read_to_string(merged.join("adherence_weekly.ndjson")).unwrap(),
        std::fs::read_to_string(json_only.join("adherence_weekly.ndjson")).unwrap()
    );
    let risk = tmp.path().join("risk");
    lumbar(&["risk", s, "--out", path_str(&risk), "--format", "csv"]);
    assert!(
        names_in(&risk).iter().all(|n| !n.ends_with(".parquet")),
        "{:?}",
        names_in(&risk)
    );
    assert!(risk.join("rr_adjusted.csv").exists());
}

/// The simulator's summary takes `--format` too (Parquet alone by
/// default); shards record it and their merge writes the same files, equal
/// to the unsharded run's.
#[test]
fn simulation_tables_in_the_formats_asked_for() {
    let tmp = tempfile::tempdir().unwrap();
    let scenario = repo_root().join("datasets/scenarios/no-exercise.toml");
    let sc = path_str(&scenario);
    let run = |out: &Path, extra: &[&str]| {
        let mut args = vec![
            "simulate",
            sc,
            "--patients",
            "40",
            "--weeks",
            "3",
            "--out",
            path_str(out),
        ];
        args.extend_from_slice(extra);
        lumbar(&args);
    };
    let plain = tmp.path().join("plain");
    run(&plain, &[]);
    assert!(names_in(&plain).contains(&"summary.parquet".to_string()));
    assert!(
        !names_in(&plain)
            .iter()
            .any(|n| n.ends_with(".csv") || n.ends_with(".ndjson"))
    );
    let whole = tmp.path().join("whole");
    run(&whole, &["--format", "csv,json"]);
    let names = names_in(&whole);
    assert!(
        names.contains(&"summary.csv".to_string()) && names.contains(&"summary.ndjson".to_string()),
        "{names:?}"
    );
    assert!(!names.contains(&"summary.parquet".to_string()), "{names:?}");
    let (a, b, m) = (
        tmp.path().join("a"),
        tmp.path().join("b"),
        tmp.path().join("m"),
    );
    run(&a, &["--format", "csv,json", "--shard", "1/2"]);
    run(&b, &["--format", "csv,json", "--shard", "2/2"]);
    lumbar(&["merge", path_str(&a), path_str(&b), "--out", path_str(&m)]);
    for f in ["summary.csv", "summary.ndjson"] {
        assert_eq!(
            std::fs::read_to_string(m.join(f)).unwrap(),
            std::fs::read_to_string(whole.join(f)).unwrap(),
            "{f}"
        );
    }
}
