//! `lumbar simulate`, `merge` and `compare` on real runs: byte-identical
//! output at any thread count and for any shard split, the CLI contract, and
//! clear errors.

use std::path::Path;

use polars::prelude::*;
use serde_json::Value;

use crate::{lumbar, lumbar_err, path_str, repo_root, tree};

/// A small scenario: 2 runs, rules of both kinds, every ladder action.
fn small_scenario(dir: &Path) -> std::path::PathBuf {
    let regimen = repo_root().join("datasets/regimens/six-moves.toml");
    let text = format!(
        r#"
name = "small"
regimen = "{}"
weeks = 3
patients = 2600
replications = 2
seed = 5

[programme]
exercises = "all"
ladder = [{{ key = "push_up", frequency = "3/week" }}, {{ key = "aerobic" }}]

[[rule]]
name = "step back"
applies_to = "ladders"
when.session = {{ pain_during = ">= 7" }}
then = "step_back"

[[rule]]
name = "advance"
applies_to = "ladders"
when.consecutive = 2
when.session = {{ completed = true, pain_after = "<= 4" }}
then = "advance"
"#,
        regimen.display()
    );
    let path = dir.join("small.toml");
    std::fs::write(&path, text).unwrap();
    path
}

#[test]
fn same_bytes_at_any_thread_count_and_shard_split() {
    let tmp = tempfile::tempdir().unwrap();
    let scen = small_scenario(tmp.path());
    let s = path_str(&scen);
    let whole = tmp.path().join("whole");
    lumbar(&[
        "simulate",
        s,
        "--threads",
        "1",
        "--trajectories",
        "--out",
        path_str(&whole),
    ]);
    let three = tmp.path().join("three");
    lumbar(&[
        "simulate",
        s,
        "--threads",
        "3",
        "--trajectories",
        "--out",
        path_str(&three),
    ]);
    let a = tree(&whole);
    assert_eq!(a, tree(&three), "1 and 3 threads differ");
    for name in [
        "summary.parquet",
        "summary.json",
        "manifest.json",
        "tally.json",
    ] {
        assert!(a.contains_key(name), "{name} missing");
    }
    // 2600 patients = 3 blocks: 2 runs × 3 block files.
    let traj: Vec<&String> = a
        .keys()
        .filter(|k| k.starts_with("trajectories/"))
        .collect();
    assert_eq!(traj.len(), 6, "{traj:?}");

    let mut parts = Vec::new();
    for i in 1..=3 {
        let d = tmp.path().join(format!("shard{i}"));
        lumbar(&[
            "simulate",
            s,
            "--shard",
            &format!("{i}/3"),
            "--trajectories",
            "--out",
            path_str(&d),
        ]);
        let m: Value =
            serde_json::from_slice(&std::fs::read(d.join("manifest.json")).unwrap()).unwrap();
        assert_eq!(m["shard"], format!("{i}/3"));
        parts.push(d);
    }
    let merged = tmp.path().join("merged");
    let mut args = vec!["merge".to_string()];
    // In any order: merge sorts shards by their patients.
    for d in parts.iter().rev() {
        args.push(path_str(d).to_string());
    }
    args.extend(["--out".to_string(), path_str(&merged).to_string()]);
    let argv: Vec<&str> = args.iter().map(String::as_str).collect();
    let (_, text) = lumbar(&argv);
    assert!(
        text.contains("merged 3 shards of small (2600 patients)"),
        "{text}"
    );
    assert_eq!(
        a,
        tree(&merged),
        "merged shards differ from the unsharded run"
    );

    // A missing shard is named, not silently summed.
    let e = lumbar_err(&[
        "merge",
        path_str(&parts[0]),
        path_str(&parts[2]),
        "--out",
        path_str(&tmp.path().join("bad")),
    ]);
    assert!(e.contains("patients 1024..2048 are missing"), "{e}");

    // The trajectories: one row per patient-day plus the final assessment.
    let mut rows = 0;
    // Run 0's day-0 pain over all its trajectory files, to check against the tally.
    let mut day0_pains = Vec::new();
    for (name, bytes) in a.iter().filter(|(k, _)| k.starts_with("trajectories/")) {
        let df = ParquetReader::new(std::io::Cursor::new(bytes.clone()))
            .finish()
            .unwrap();
        rows += df.height();
        if name.contains("run-0000-") {
            let day = df.column("day").unwrap().u32().unwrap().clone();
            let pain = df.column("pain").unwrap().f64().unwrap().clone();
            day0_pains.extend(
                day.iter()
                    .zip(pain.iter())
                    .filter(|(d, _)| *d == Some(0))
                    .map(|(_, p)| p.unwrap()),
            );
            assert!(df.column("rung_push_up").is_ok());
        }
    }
    assert_eq!(rows, 2 * 2600 * 22);
    // The summary's week-0 tally and the trajectories are two records of the
    // same patients: the tally's mean (pain in 1e-4 units) is the mean of the
    // trajectories' day-0 pain, to the quantisation.
    assert_eq!(day0_pains.len(), 2600);
    let tally: Value = serde_json::from_slice(&a["tally.json"]).unwrap();
    let week0 = &tally["tallies"][0]["weeks"][0];
    let tally_mean =
        week0["pain_sum"].as_f64().unwrap() / 1e4 / week0["patients"].as_f64().unwrap();
    let traj_mean = day0_pains.iter().sum::<f64>() / day0_pains.len() as f64;
    assert!(
        (tally_mean - traj_mean).abs() < 1e-4,
        "{tally_mean} vs {traj_mean}"
    );
}

#[test]
fn simulate_json_and_compare() {
    let tmp = tempfile::tempdir().unwrap();
    let scen = repo_root().join("datasets/scenarios");
    let graded = tmp.path().join("graded");
    let control = tmp.path().join("control");
    let (_, g) = lumbar(&[
        "simulate",
        path_str(&scen.join("graded-activity.toml")),
        "--patients",
        "1500",
        "--weeks",
        "6",
        "--json",
        "--out",
        path_str(&graded),
    ]);
    let g: Value = serde_json::from_str(&g).unwrap();
    assert_eq!(g["scenario"], "graded-activity");
    assert_eq!(g["patients"], 1500);
    assert_eq!(g["runs"], 10);
    let metrics = g["metrics"].as_array().unwrap();
    let find = |w: u64, m: &str| {
        metrics
            .iter()
            .find(|r| r["week"] == w && r["metric"] == m)
            .unwrap_or_else(|| panic!("{m} at week {w}"))
            .clone()
    };
    let p6 = find(6, "pain_mean");
    let (e, lo, hi) = (
        p6["estimate"].as_f64().unwrap(),
        p6["lower"].as_f64().unwrap(),
        p6["upper"].as_f64().unwrap(),
    );
    assert!(lo < e && e < hi && e < find(0, "pain_mean")["estimate"].as_f64().unwrap());
    assert_eq!(p6["runs"], 10);
    let m: Value =
        serde_json::from_slice(&std::fs::read(graded.join("manifest.json")).unwrap()).unwrap();
    assert_eq!(m["run"]["overrides"]["patients"], 1500);
    assert_eq!(m["run"]["seed"], 20251125);
    assert_eq!(m["run"]["scenario_sha256"].as_str().unwrap().len(), 64);
    assert!(m["shard"].is_null());

    lumbar(&[
        "simulate",
        path_str(&scen.join("no-exercise.toml")),
        "--patients",
        "1500",
        "--weeks",
        "6",
        "--out",
        path_str(&control),
    ]);
    let (_, c) = lumbar(&["compare", path_str(&control), path_str(&graded), "--json"]);
    let c: Value = serde_json::from_str(&c).unwrap();
    assert_eq!(c["paired"], true);
    let d = c["differences"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["week"] == 6 && r["metric"] == "pain_mean")
        .unwrap();
    // Exercise lowers pain: B − A < 0, and the paired interval excludes 0.
    assert!(d["difference"].as_f64().unwrap() < 0.0, "{d}");
    assert!(d["upper"].as_f64().unwrap() < 0.0, "{d}");
    assert_eq!(d["interval"], "paired runs");
    let week0 = c["differences"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["week"] == 0 && r["metric"] == "pain_mean")
        .unwrap();
    // Common random numbers: the same patients at baseline.
    assert_eq!(week0["difference"].as_f64().unwrap(), 0.0);
    let (_, table) = lumbar(&["compare", path_str(&control), path_str(&graded)]);
    assert!(
        table.contains("B − A: graded-activity (10 runs) − no-exercise (10 runs); paired by run"),
        "{table}"
    );

    // A tally file that does not match its header is refused, not indexed.
    let tally_path = graded.join("tally.json");
    let mut t: Value = serde_json::from_slice(&std::fs::read(&tally_path).unwrap()).unwrap();
    t["tallies"][3]["weeks"].as_array_mut().unwrap().pop();
    std::fs::write(&tally_path, serde_json::to_vec(&t).unwrap()).unwrap();
    let e = lumbar_err(&["compare", path_str(&control), path_str(&graded)]);
    assert!(
        e.contains("does not match its own header (10 runs of 6 weeks)"),
        "{e}"
    );
}

#[test]
fn simulate_errors_are_clear() {
    let tmp = tempfile::tempdir().unwrap();
    let scen = repo_root().join("datasets/scenarios/graded-activity.toml");
    let e = lumbar_err(&[
        "simulate",
        path_str(&scen),
        "--shard",
        "4/3",
        "--out",
        path_str(tmp.path()),
    ]);
    assert!(e.contains("--shard \"4/3\": need 1 ≤ i ≤ n"), "{e}");
    let bad = tmp.path().join("bad.toml");
    std::fs::write(&bad, "name = \"x\"\nweeks = 4\npatients = 10\nseed = 1\n[programme]\nexercises = [\"plank_jack\"]\n").unwrap();
    let e = lumbar_err(&["simulate", path_str(&bad), "--out", path_str(tmp.path())]);
    assert!(
        e.contains("`programme.exercises`: unknown exercise `plank_jack`"),
        "{e}"
    );
    let e = lumbar_err(&["compare", path_str(tmp.path()), path_str(tmp.path())]);
    assert!(e.contains("a `lumbar simulate` result folder?"), "{e}");
    // A shorter horizon makes a 14-day rule impossible only when it is: 1 week.
    let e = lumbar_err(&[
        "simulate",
        path_str(&scen),
        "--weeks",
        "1",
        "--out",
        path_str(tmp.path()),
    ]);
    assert!(e.contains("days_since_change"), "{e}");
}

/// `simulate --cohort-tables`: the simulated patients as a clinic's tables.
/// `lumbar ingest` accepts every row; the tables hold what the engine
/// simulated (ladder rungs as levels, the three pains, doses), do not
/// depend on the thread count, and writing them changes no simulated
/// result.
#[test]
fn simulated_patients_are_tables_ingest_accepts_whole() {
    let tmp = tempfile::tempdir().unwrap();
    let scenario = crate::repo_root().join("datasets/scenarios/graded-activity.toml");
    let run = |threads: &str, tables: Option<&Path>, out: &str| {
        let out = tmp.path().join(out);
        let mut args = vec![
            "simulate",
            path_str(&scenario),
            "--patients",
            "300",
            "--threads",
            threads,
            "--out",
            path_str(&out),
        ];
        if let Some(t) = tables {
            args.extend(["--cohort-tables", path_str(t)]);
        }
        lumbar(&args);
        std::fs::read(out.join("tally.json")).unwrap()
    };
    let (t1, t2) = (tmp.path().join("tables-1"), tmp.path().join("tables-2"));
    let with = run("1", Some(&t1), "with");
    run("2", Some(&t2), "with-2");
    let without = run("2", None, "without");
    assert!(with == without, "writing the tables changed the simulation");
    for name in ["patients", "sessions", "walking", "outcomes", "followup"] {
        let f = format!("{name}.csv");
        let (a, b) = (
            std::fs::read(t1.join(&f)).unwrap(),
            std::fs::read(t2.join(&f)).unwrap(),
        );
        assert!(a == b, "{f} differs between 1 and 2 threads");
    }

    let store = tmp.path().join("store");
    let (_, json) = lumbar(&[
        "ingest",
        "--dir",
        path_str(&t1),
        "--out",
        path_str(&store),
        "--as-of",
        "2030-01-01",
        "--json",
    ]);
    let doc: serde_json::Value = serde_json::from_str(&json).unwrap();
    for (table, c) in doc["tables"].as_object().unwrap() {
        assert_eq!(c["rejected"], 0, "{table}: {}", doc["files"]);
        assert_eq!(c["read"], c["accepted"], "{table}");
    }
    let count = |t: &str| doc["tables"][t]["accepted"].as_u64().unwrap_or(0);
    assert_eq!(count("patients"), 300);
    assert_eq!(count("walking"), 300 * 84);
    // NRS weeks 0..=12 and ODI at weeks 0, 6, 12.
    assert_eq!(count("outcomes"), 300 * (13 + 3));
    assert!(count("sessions") > 300 * 20, "{}", count("sessions"));

    let s = lumbar_io::Store::open(&store).unwrap();
    let sessions = s
        .read_table(lumbar_model::Table::Sessions)
        .unwrap()
        .unwrap();
    let levels = sessions.column("level").unwrap().str().unwrap().clone();
    let level_names: std::collections::BTreeSet<&str> = levels.iter().flatten().collect();
    // The graded rule advances a rung every 14 days: several push-up rungs appear.
    assert!(level_names.contains("wall_push_up"), "{level_names:?}");
    assert!(level_names.len() >= 4, "{level_names:?}");
    // The calibration targets of the ingested tables against what the
    // simulator counted: the same safety events, one by one, and weekly
    // NRS means (measured with noise, in halves) near the underlying pain.
    let regimen = lumbar_model::Regimen::six_moves();
    let targets = lumbar_analysis::targets::targets(&s, &regimen, 12).unwrap();
    let target = |name: &str| targets.iter().find(|t| t.name == name).unwrap().clone();
    let tally: Value =
        serde_json::from_slice(&std::fs::read(tmp.path().join("with/tally.json")).unwrap())
            .unwrap();
    let simulated_events: u64 = tally["tallies"][0]["weeks"]
        .as_array()
        .unwrap()
        .iter()
        .map(|w| w["safety_events"].as_u64().unwrap())
        .sum();
    let per100 = target("safety_events_per_100_sessions");
    let logged = (per100.observed * sessions.height() as f64 / 100.0).round() as u64;
    assert_eq!(logged, simulated_events);
    assert!(simulated_events > 0);
    let summary: Value =
        serde_json::from_slice(&std::fs::read(tmp.path().join("with/summary.json")).unwrap())
            .unwrap();
    for w in [0u64, 6, 12] {
        let pain = summary["metrics"]
            .as_array()
            .unwrap()
            .iter()
            .find(|m| m["metric"] == "pain_mean" && m["week"] == w)
            .unwrap()["estimate"]
            .as_f64()
            .unwrap();
        let nrs = target(&format!("nrs_mean_week_{w}"));
        assert_eq!(nrs.n, 300);
        assert!(
            (nrs.observed - pain).abs() < 4.0 * nrs.se + 0.15,
            "week {w}: NRS {} ± {} against the simulated {pain}",
            nrs.observed,
            nrs.se
        );
    }
    // Adherence falls after painful sessions in the engine (slope 0.2 per
    // point of mean pain during above 5): the target sees it.
    let fall = target("next_day_exercise_after_painful_minus_other");
    assert!(fall.observed + 2.0 * fall.se < 0.0, "{fall:?}");
    let logging: Vec<f64> = (1..=12)
        .map(|w| target(&format!("still_logging_week_{w}")).observed)
        .collect();
    assert!(
        logging.windows(2).all(|p| p[1] <= p[0]) && logging[11] > 0.3,
        "{logging:?}"
    );
    let during = sessions
        .column("pain_during")
        .unwrap()
        .f64()
        .unwrap()
        .clone();
    assert!(
        during
            .iter()
            .flatten()
            .all(|p| (0.0..=10.0).contains(&p) && (p * 2.0).fract() == 0.0)
    );
}
