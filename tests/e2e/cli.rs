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
    // The README's first command is `lumbar run datasets/batch-demo.toml`;
    // run that very file with its output folder moved to a temporary one.
    let tmp = tempfile::tempdir().unwrap();
    let datasets = repo_root().join("datasets");
    let text = std::fs::read_to_string(datasets.join("batch-demo.toml")).unwrap();
    let out_dir = tmp.path().join("demo");
    let text = text.replace(
        "out = \"../out/demo\"",
        &format!("out = \"{}\"", out_dir.display()),
    );
    assert!(
        text.contains(&out_dir.display().to_string()),
        "the batch file's `out` line changed"
    );
    let batch = datasets.join(format!("batch-test-{}.toml", std::process::id()));
    std::fs::write(&batch, text).unwrap();
    let result = crate::lumbar_cli_run(&["run", path_str(&batch)]);
    let _ = std::fs::remove_file(&batch);
    let out = result.unwrap();
    for step in [
        "ingest",
        "analyze",
        "risk",
        "report",
        "simulate-graded",
        "simulate-pain",
        "compare",
    ] {
        assert!(out.contains(&format!("ran   {step} (")), "{step}\n{out}");
    }
    let report = out_dir.join("report/result/report.html");
    assert!(
        out.contains(&format!("report: {}", report.display())),
        "{out}"
    );
    let html = std::fs::read_to_string(report).unwrap();
    assert!(html.contains("200</div><div class=\"k\">patients"));
    let compare: serde_json::Value = serde_json::from_slice(
        &std::fs::read(out_dir.join("compare/result/compare.json")).unwrap(),
    )
    .unwrap();
    assert_eq!(compare["paired"], true);
}

/// An OS error is said once, though the error naming the file also keeps
/// it as its source (SPEC §5: one clear line).
#[test]
fn a_missing_file_is_said_once() {
    let tmp = tempfile::tempdir().unwrap();
    let store = tmp.path().join("store");
    let mut out = Vec::new();
    let e = lumbar_cli::run(
        [
            "lumbar",
            "-q",
            "ingest",
            "--out",
            store.to_str().unwrap(),
            "--sessions",
            "/no/such/sessions.csv",
        ],
        &mut out,
    )
    .unwrap_err();
    let line = lumbar_cli::error_line(&e);
    assert!(
        line.starts_with("cannot open /no/such/sessions.csv: "),
        "{line}"
    );
    assert_eq!(line.matches("os error 2").count(), 1, "{line}");
}

/// Completion scripts for the shells people use, and the manual page, made
/// from the same definition as the parser (so they cannot drift from it).
#[test]
fn completions_and_the_man_page_know_every_command() {
    for shell in ["bash", "zsh", "fish"] {
        let (code, script) = lumbar(&["completions", shell]);
        assert_eq!(code, 0);
        for command in ["ingest", "analyze", "calibrate", "replay", "merge", "stats"] {
            assert!(
                script.contains(command),
                "{shell} completions lack {command}"
            );
        }
        assert!(
            script.contains("--shard"),
            "{shell} completions lack analyze's --shard"
        );
    }
    let (_, man) = lumbar(&["man"]);
    assert!(man.contains(".TH lumbar 1"));
    assert!(man.contains("analyze") && man.contains("simulate"));
}

/// A store is the first argument of risk as of analyze and report
/// (`--store` still works), and risk's `--outcome` is also `--event`.
#[test]
fn one_name_per_concept_across_commands() {
    let tmp = tempfile::tempdir().unwrap();
    let store = crate::demo_store(tmp.path());
    let s = path_str(&store);
    let (_, flag) = lumbar(&["risk", "--store", s, "--json"]);
    let (_, positional) = lumbar(&["risk", s, "--json"]);
    let (_, event) = lumbar(&["risk", s, "--event", "event", "--json"]);
    let strip = |t: &str| {
        let mut v: serde_json::Value = serde_json::from_str(t).unwrap();
        v.as_object_mut().map(|o| o.remove("seconds"));
        v
    };
    assert_eq!(strip(&flag), strip(&positional));
    assert_eq!(strip(&flag), strip(&event));
    // Both at once is a usage error (clap's status 2).
    assert_eq!(
        crate::lumbar_cli_run(&["risk", s, "--store", s]),
        Err("exit code 2".into())
    );
}

/// `--regimen` is an option of the commands that read a regimen (generate,
/// ingest, analyze, report) and of no other: `simulate --regimen` (whose
/// scenario names its own) and `stats cox --regimen` are usage errors, not
/// silently ignored.
#[test]
fn the_regimen_option_is_only_where_it_is_used() {
    let tmp = tempfile::tempdir().unwrap();
    let regimen = crate::repo_root().join("datasets/regimens/six-moves.toml");
    let r = path_str(&regimen);
    let out = tmp.path().join("gen");
    let (code, _) = lumbar(&[
        "generate",
        "--patients",
        "5",
        "--weeks",
        "2",
        "--seed",
        "1",
        "--regimen",
        r,
        "--out",
        path_str(&out),
    ]);
    assert_eq!(code, 0);
    for args in [
        vec![
            "simulate",
            "datasets/scenarios/no-exercise.toml",
            "--regimen",
            r,
            "--out",
            "x",
        ],
        vec![
            "stats",
            "km",
            "--regimen",
            r,
            "--data",
            "f.csv",
            "--time",
            "t",
            "--event",
            "e",
        ],
        vec!["--regimen", r, "analyze", "store", "--out", "x"],
    ] {
        assert_eq!(
            crate::lumbar_cli_run(&args),
            Err("exit code 2".into()),
            "{args:?}"
        );
    }
}

/// The rejected rows leave the store as CSV too, for a spreadsheet or R:
/// one line per row with its source, line, column, value and reason, and a
/// value that a spreadsheet would run kept from running.
#[test]
fn rejects_are_written_as_csv() {
    let tmp = tempfile::tempdir().unwrap();
    let csv = tmp.path().join("sessions.csv");
    std::fs::write(
        &csv,
        "patient_id,performed_at,exercise,sets,reps\n\
         P1,2025-01-06T08:00,bridge,2,10\n\
         P1,2025-01-07T08:00,bridge,=1+1,10\n\
         P1,2025-13-45T08:00,bridge,2,10\n",
    )
    .unwrap();
    let store = tmp.path().join("store");
    lumbar(&[
        "ingest",
        "--out",
        path_str(&store),
        "--sessions",
        path_str(&csv),
        "--as-of",
        "2026-01-01",
    ]);
    let dir = tmp.path().join("rejects");
    let (_, said) = lumbar(&[
        "store",
        "rejects",
        path_str(&store),
        "--out",
        path_str(&dir),
    ]);
    assert!(said.starts_with("2 rejected rows written to "), "{said}");
    let text = std::fs::read_to_string(dir.join("rejects.csv")).unwrap();
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines[0], "table,source,line,column,value,reason");
    assert_eq!(lines.len(), 3, "{text}");
    assert!(
        lines
            .iter()
            .any(|l| l.contains(",4,performed_at,2025-13-45T08:00,")),
        "{text}"
    );
    assert!(
        lines.iter().any(|l| l.contains(",3,sets,'=1+1,")),
        "a formula must not run: {text}"
    );
    assert!(dir.join("rejects.parquet").exists());
}

/// docs/tables.md is what `lumbar tables` makes from the schemas and the
/// result types: a new column without words, or a file left behind by a
/// change, fails here. And each table a command writes (analyze, risk,
/// stats, simulate, compare, calibrate, replay, each run small) has
/// exactly the columns the dictionary lists for it, in its order.
#[test]
fn the_data_dictionary_is_current_and_complete() {
    let (_, made) = lumbar(&["tables"]);
    assert!(
        !made.contains("(undocumented)"),
        "a column has no words in the dictionaries of lumbar-model, lumbar-analysis, lumbar-sim or lumbar-calibrate"
    );
    let committed = std::fs::read_to_string(repo_root().join("docs/tables.md")).unwrap();
    assert!(
        committed == made,
        "docs/tables.md is stale: run `lumbar tables > docs/tables.md`"
    );
    let tmp = tempfile::tempdir().unwrap();
    let at = |name: &str| tmp.path().join(name);
    let store = crate::demo_store(tmp.path());
    let s = path_str(&store);
    let check = |chapter: &str, dir: &str, tables: &[&str]| {
        for table in tables {
            let written = parquet_columns(&at(dir).join(format!("{table}.parquet")));
            assert_listed(&made, chapter, table, &written);
        }
    };
    lumbar(&["analyze", s, "--out", path_str(&at("analysis"))]);
    check(
        "`lumbar analyze`",
        "analysis",
        &[
            "adherence_weekly",
            "adherence_patients",
            "adherence_groups",
            "safety_events",
            "safety_flags",
            "safety_counts",
            "trends",
        ],
    );
    lumbar(&[
        "risk",
        s,
        "--time",
        "time_years",
        "--out",
        path_str(&at("risk")),
    ]);
    check(
        "`lumbar risk`",
        "risk",
        &[
            "incidence",
            "rr_crude",
            "rr_adjusted",
            "rr_spline",
            "hr_cox",
        ],
    );

    let fixtures = repo_root().join("tests/fixtures/formula");
    let (lung, trial) = (fixtures.join("lung.csv"), fixtures.join("trial.csv"));
    let (lung, trial) = (path_str(&lung), path_str(&trial));
    for (model, data, formula) in [
        ("cox", lung, "Surv(time, status) ~ age + factor(sex)"),
        ("poisson", lung, "status == 2 ~ age + factor(sex)"),
        ("lmm", trial, "pain ~ week + (1 | patient)"),
    ] {
        let out = at(model);
        lumbar(&[
            "stats",
            model,
            "--data",
            data,
            "-f",
            formula,
            "--out",
            path_str(&out),
        ]);
    }
    let km = [
        "stats", "km", "--data", lung, "--time", "time", "--event", "status", "--group", "sex",
    ];
    lumbar(&[&km[..], &["--out", path_str(&at("km"))]].concat());
    check("`lumbar stats`", "cox", &["coefficients"]);
    check("`lumbar stats`", "poisson", &["coefficients"]);
    check("`lumbar stats`", "lmm", &["fixed_effects"]);
    check("`lumbar stats`", "km", &["curves"]);

    // Two tiny runs of scenarios with ladders, and their comparison.
    let scenario = |name: &str| repo_root().join(format!("datasets/scenarios/{name}.toml"));
    let graded = scenario("graded-activity");
    let simulate = |scenario: &std::path::Path, out: &str, more: &[&str]| {
        let args = [
            "simulate",
            path_str(scenario),
            "--patients",
            "20",
            "--weeks",
            "2",
        ];
        lumbar(&[&args[..], more, &["--out", path_str(&at(out))]].concat());
    };
    simulate(&graded, "graded", &["--trajectories"]);
    simulate(&scenario("pain-contingent"), "pain", &[]);
    let (a, b) = (at("graded"), at("pain"));
    lumbar(&[
        "compare",
        path_str(&a),
        path_str(&b),
        "--out",
        path_str(&at("compare")),
    ]);
    let chapter = "`lumbar simulate`";
    check(chapter, "graded", &["summary"]);
    check(chapter, "compare", &["differences"]);
    let trajectories = std::fs::read_dir(a.join("trajectories")).unwrap();
    for file in trajectories {
        let written = parquet_columns(&file.unwrap().path());
        assert!(written.iter().any(|c| c == "rung_push_up"), "{written:?}");
        // Each ladder's column (rung_push_up, …) by the placeholder rung_KEY.
        let mut general: Vec<String> = written
            .iter()
            .map(|c| match c.strip_prefix("rung_") {
                Some(_) => "rung_KEY".to_string(),
                None => c.clone(),
            })
            .collect();
        general.dedup();
        assert_listed(&made, chapter, "trajectories", &general);
    }

    // A calibration and a replay, as small as they run.
    let cal = at("calibrated");
    lumbar(&[
        "calibrate",
        s,
        "--scenario",
        path_str(&scenario("clinic-calibration")),
        "--method",
        "simulated-moments",
        "--budget",
        "6",
        "--replicates",
        "1",
        "--bootstrap",
        "4",
        "--out",
        path_str(&cal),
    ]);
    lumbar(&[
        "replay",
        s,
        "--calibrated",
        path_str(&cal),
        "--scenario",
        path_str(&scenario("pain-contingent")),
        "--draws",
        "2",
        "--candidates",
        "2",
        "--out",
        path_str(&at("replay")),
    ]);
    let chapter = "`lumbar calibrate`";
    check(chapter, "replay", &["replay", "patients"]);
    let fit: serde_json::Value =
        serde_json::from_slice(&std::fs::read(cal.join("fit.json")).unwrap()).unwrap();
    let fitted: Vec<&str> = fit["parameters"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["name"].as_str().unwrap())
        .collect();
    let written = parquet_columns(&cal.join("posterior.parquet"));
    assert_eq!(
        written[..fitted.len()],
        fitted,
        "a column per parameter first"
    );
    // The fitted parameters' columns by the placeholder PARAMETER.
    let mut general: Vec<String> = written
        .iter()
        .map(|c| match fitted.contains(&c.as_str()) {
            true => "PARAMETER".to_string(),
            false => c.clone(),
        })
        .collect();
    general.dedup();
    assert_listed(&made, chapter, "posterior", &general);
}

/// A Parquet file's column names, in order.
fn parquet_columns(path: &std::path::Path) -> Vec<String> {
    use polars::prelude::{ParquetReader, SerReader};
    let file = std::fs::File::open(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let df = ParquetReader::new(file).finish().unwrap();
    df.get_column_names()
        .iter()
        .map(|c| c.to_string())
        .collect()
}

/// Fails unless `written` are the columns docs/tables.md lists for `table`
/// in the chapter whose heading begins with `chapter`, in the same order.
fn assert_listed(made: &str, chapter: &str, table: &str, written: &[String]) {
    let start = made
        .find(&format!("\n## {chapter}"))
        .unwrap_or_else(|| panic!("no chapter {chapter}"))
        + 1;
    let text = &made[start..];
    let text = &text[..text[3..].find("\n## ").map_or(text.len(), |e| e + 3)];
    let at = text
        .find(&format!("\n### {table}\n"))
        .unwrap_or_else(|| panic!("no table {table} under {chapter}"));
    // The section's first table lists its columns, one `| `name` | …` row each.
    let listed: Vec<&str> = text[at + 1..]
        .lines()
        .skip_while(|l| !l.starts_with("| column |"))
        .skip(2)
        .take_while(|l| l.starts_with("| `"))
        .filter_map(|l| l[3..].split('`').next())
        .collect();
    assert_eq!(
        written, listed,
        "{chapter} {table}: the columns written (left) are not those docs/tables.md lists (right)"
    );
}
