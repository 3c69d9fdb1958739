//! The clinic report (small cells, no identifiers, a site of its own) and
//! batch runs (skip when unchanged, rerun what changed, name the failing step).

use std::path::Path;

use polars::prelude::*;

use crate::{demo_store, lumbar, lumbar_err, path_str, repo_root};

fn ids(store: &Path, table: &str) -> Vec<String> {
    let mut out = Vec::new();
    for p in crate::parquet_files(&store.join(table)) {
        let df = ParquetReader::new(std::fs::File::open(&p).unwrap())
            .finish()
            .unwrap();
        let c = df.column("patient_id").unwrap().str().unwrap().clone();
        out.extend(c.iter().flatten().map(String::from));
    }
    out
}

#[test]
fn report_suppresses_small_cells_and_shows_no_identifiers() {
    let tmp = tempfile::tempdir().unwrap();
    let store = demo_store(tmp.path());
    let html_path = tmp.path().join("report.html");
    let (_, text) = lumbar(&[
        "report",
        path_str(&store),
        "-o",
        path_str(&html_path),
        "--date",
        "2026-12-04",
    ]);
    assert!(text.contains("200 patients"), "{text}");
    let html = std::fs::read_to_string(&html_path).unwrap();
    // How current it is: the data's cut-off (the demo's latest session) and
    // the report's date.
    assert!(html.contains(" · data to 2025-04-26 (the latest session) · reported 2026-12-04 · "));
    // The period (the data's span without a window), the sites and the
    // regimen with its version; then the one-page summary before all else.
    assert!(html.contains("<dt>period</dt><dd>2025-01-06 to 2025-04-26</dd>"));
    assert!(html.contains("<dt>sites</dt><dd>east, island, north, south, west</dd>"));
    assert!(html.contains("chronic low-back pain (version 1.0)</dd>"));
    let summary = html.find("<section id=\"summary\">").expect("a first page");
    assert!(summary < html.find("<table id=\"sites\">").unwrap());

    // Self-contained: no scripts, no external fetches.
    // (The only URL is SVG's namespace name, which is never fetched.)
    let without_ns = html.replace("http://www.w3.org/2000/svg", "");
    for bad in [
        "<script", "http://", "https://", "@import", "url(", "<img", "<link",
    ] {
        assert!(!without_ns.contains(bad), "found {bad}");
    }
    // The island site has 3 patients: its count is <5 and its adherence is
    // not shown; with one small site, the next smallest (west) is hidden too.
    assert!(
        html.contains("<tr><td>island</td><td>&lt;5</td></tr>"),
        "island row"
    );
    assert!(
        html.contains("<tr><td>west</td><td>–</td></tr>"),
        "complementary suppression"
    );
    assert!(
        html.contains("<tr><td>island</td><td>&lt;5</td><td>–</td><td>–</td></tr>"),
        "island adherence"
    );
    // No identifier of any patient or follow-up participant anywhere.
    let mut all = ids(&store, "patients");
    all.extend(ids(&store, "followup"));
    assert!(all.len() >= 2200);
    for id in &all {
        assert!(!html.contains(id.as_str()), "identifier {id} in the report");
    }
    // Real numbers: the walking-risk table and the pain chart are there.
    // Titled as the study it is, and said to be another cohort.
    assert!(html.contains("The follow-up study: walking and the risk of chronic low-back pain"));
    assert!(html.contains("A different cohort from the programme's patients above"));
    assert!(html.contains("1 (reference)"));
    assert!(html.contains("<polyline"));
    assert!(html.len() < 2 * 1024 * 1024);

    // The island's own report: 3 patients, so nothing but suppressed counts.
    let island = tmp.path().join("island.html");
    lumbar(&[
        "report",
        path_str(&store),
        "-o",
        path_str(&island),
        "--site",
        "island",
    ]);
    let h = std::fs::read_to_string(&island).unwrap();
    assert!(
        h.contains("<div class=\"v\">&lt;5</div><div class=\"k\">patients</div>"),
        "island card"
    );
    assert!(!h.contains("median follow-up"));
    assert!(
        !h.contains("Pain over the programme"),
        "no pain chart for 3 patients"
    );
    assert!(!h.contains("pain responders"));
    let e = lumbar_err(&[
        "report",
        path_str(&store),
        "-o",
        path_str(&island),
        "--site",
        "atlantis",
    ]);
    assert!(e.contains("no patients at site \"atlantis\""), "{e}");
}

fn write_batch(dir: &Path, adherent: &str, covariates: &str) -> std::path::PathBuf {
    let root = repo_root();
    let text = format!(
        r#"
out = "out"
regimen = "{regimen}"
[[cohort]]
name = "demo"
data = "{demo}"
[[step]]
name = "ingest"
run = "ingest"
cohort = "demo"
as_of = "2026-01-01"
[[step]]
name = "analyze"
run = "analyze"
cohort = "demo"
adherent = {adherent}
[[step]]
name = "risk"
run = "risk"
cohort = "demo"
covariates = [{covariates}]
[[step]]
name = "report"
run = "report"
cohort = "demo"
[[step]]
name = "sim"
run = "simulate"
scenario = "{scen}"
patients = 300
weeks = 4
"#,
        regimen = root.join("datasets/regimens/six-moves.toml").display(),
        demo = root.join("datasets/demo").display(),
        scen = root
            .join("datasets/scenarios/graded-activity.toml")
            .display(),
    );
    let p = dir.join("batch.toml");
    std::fs::write(&p, text).unwrap();
    p
}

#[test]
fn batch_skips_what_has_not_changed_and_names_a_failing_step() {
    let tmp = tempfile::tempdir().unwrap();
    let b = write_batch(tmp.path(), "0.7", "\"age\"");
    let (_, first) = lumbar(&["run", path_str(&b)]);
    for step in ["ingest", "analyze", "risk", "report", "sim"] {
        assert!(
            first.contains(&format!("ran   {step} (")),
            "{step}\n{first}"
        );
    }
    assert!(first.contains("report: "), "{first}");
    // Each step says what it found, under its line; a skipped one says it again.
    for headline in [
        "      patients: read ",
        "      sessions: read ",
        "(rejected rows and reasons: ",
        "      adherence: median ",
        "      pain model: ",
        "      adjusted risk ratio ",
        "report.html (",
    ] {
        assert!(first.contains(headline), "{headline}\n{first}");
    }
    let m: serde_json::Value =
        serde_json::from_slice(&std::fs::read(tmp.path().join("out/sim/manifest.json")).unwrap())
            .unwrap();
    assert_eq!(m["seed"], 20251125);
    assert_eq!(m["inputs"][1]["sha256"].as_str().unwrap().len(), 64);
    assert!(m["wall_seconds"].as_f64().unwrap() >= 0.0);

    let (_, second) = lumbar(&["run", path_str(&b)]);
    assert_eq!(second.matches("skip  ").count(), 5, "{second}");
    assert!(second.contains("      adherence: median "), "{second}");

    // --out puts every step under another folder, relative to the current one.
    let elsewhere = tmp.path().join("elsewhere");
    let (_, moved) = lumbar(&["run", path_str(&b), "--out", path_str(&elsewhere)]);
    assert!(
        moved.contains(&format!("outputs: {}", elsewhere.display())),
        "{moved}"
    );
    assert!(
        elsewhere
            .join("analyze/result/adherence_patients.parquet")
            .exists()
    );

    // A changed parameter reruns that step only.
    write_batch(tmp.path(), "0.8", "\"age\"");
    let (_, third) = lumbar(&["run", path_str(&b)]);
    assert!(third.contains("ran   analyze ("), "{third}");
    assert_eq!(third.matches("skip  ").count(), 4, "{third}");

    // A failing step stops the run with its name.
    write_batch(tmp.path(), "0.8", "\"shoe_size\"");
    let e = lumbar_err(&["run", path_str(&b)]);
    assert!(e.starts_with("step 3 \"risk\" (risk) failed:"), "{e}");
    assert!(e.contains("shoe_size"), "{e}");
}

/// The analyses stream sessions from the store in slices on several threads
/// and merge them. With each patient's rows split in two (odd and even rows
/// of the demo sessions, ingested as two files), no slice sees a patient
/// whole: adherence and safety must still equal those of the cohort loaded
/// and sorted in memory, on 1, 2 and 3 threads, read 60, 500 or all rows at
/// a time.
#[test]
fn streamed_adherence_and_safety_equal_the_in_memory_ones_on_any_threads() {
    use lumbar_analysis::adherence::{AdherenceTally, adherence_with};
    use lumbar_analysis::prescription::Prescriptions;
    use lumbar_analysis::safety::{SafetyTally, safety};
    use lumbar_model::cohort::CohortSource;
    use std::io::{BufRead, Write};

    let tmp = tempfile::tempdir().unwrap();
    let demo = repo_root().join("datasets/demo");
    let gz = std::fs::File::open(demo.join("sessions.csv.gz")).unwrap();
    let lines: Vec<String> = std::io::BufReader::new(flate2::read::GzDecoder::new(gz))
        .lines()
        .map(Result::unwrap)
        .collect();
    let (odd, even) = (tmp.path().join("odd.csv"), tmp.path().join("even.csv"));
    let (mut a, mut b) = (
        std::fs::File::create(&odd).unwrap(),
        std::fs::File::create(&even).unwrap(),
    );
    writeln!(a, "{}", lines[0]).unwrap();
    writeln!(b, "{}", lines[0]).unwrap();
    // Levels (issue 21, item 2): each bridge row logs a push-up rung, the
    // wall before 15 February and the knees from then on (the demo logs
    // none), for the ladder figures to be read from the store too.
    let lines: Vec<String> = lines
        .into_iter()
        .map(|l| {
            let mut f: Vec<&str> = l.split(',').collect();
            if f.len() > 3 && f[2] == "bridge" {
                f[3] = if f[1] < "2025-02-15" {
                    "wall_push_up"
                } else {
                    "knee_push_up"
                };
            }
            f.join(",")
        })
        .collect();
    for (i, l) in lines[1..].iter().enumerate() {
        writeln!(if i % 2 == 0 { &mut a } else { &mut b }, "{l}").unwrap();
    }
    drop((a, b));
    let store_dir = tmp.path().join("store");
    let patients = demo.join("patients.csv.gz");
    let outcomes = demo.join("outcomes.csv.gz");
    for sessions in [&odd, &even] {
        lumbar(&[
            "ingest",
            "--patients",
            path_str(&patients),
            "--outcomes",
            path_str(&outcomes),
            "--sessions",
            path_str(sessions),
            "--out",
            path_str(&store_dir),
            "--as-of",
            "2026-01-01",
        ]);
    }
    let store = lumbar_io::Store::open(&store_dir).unwrap();
    let regimen = lumbar_model::Regimen::six_moves();
    let rx = Prescriptions::from_regimen(&regimen);
    let cohort = store.cohort().unwrap();
    assert_eq!(cohort.sessions.len(), lines.len() - 1);
    let want_adh = adherence_with(&cohort, &rx, 0.7);
    let want_saf = safety(&cohort, &regimen);
    assert!(want_adh.patients.iter().any(|p| p.done > 0));
    assert!(!want_saf.events.is_empty());

    let lean = store.cohort_without_sessions().unwrap();
    for (threads, slice) in [(1, 60), (2, 500), (3, usize::MAX), (3, 60), (1, usize::MAX)] {
        let pool = rayon::ThreadPoolBuilder::new()
            .num_threads(threads)
            .build()
            .unwrap();
        let ((adh, saf), n) = pool.install(|| {
            store
                .stream_sessions_sliced(
                    &lean.index(),
                    || {
                        (
                            AdherenceTally::new(&lean, &rx, 0.7, true),
                            SafetyTally::new(&lean, &regimen),
                        )
                    },
                    slice,
                )
                .unwrap()
        });
        let how = format!("{threads} threads, slices of {slice}");
        assert_eq!(n, cohort.sessions.len(), "{how}");
        let (adh, saf) = (adh.finish(), saf.finish());
        assert!(adh.weeks == want_adh.weeks, "weekly adherence, {how}");
        assert!(
            adh.patients == want_adh.patients,
            "patients' adherence, {how}"
        );
        assert!(
            adh.exercises == want_adh.exercises,
            "adherence per move, {how}"
        );
        assert!(saf.events == want_saf.events, "safety events, {how}");
        assert!(saf.flags == want_saf.flags, "unsuitable flags, {how}");
        assert!(saf.counts == want_saf.counts, "safety counts, {how}");
    }

    // The report's figures by programme week and month (issue 21, item 2)
    // are folded per patient from the same stream: the store (patients
    // split across its two parts) on 1 and 3 threads gives what the cohort
    // in memory gives.
    use lumbar_analysis::clinic::{ClinicOptions, clinic_summary};
    let memory = lumbar_model::cohort::MemoryCohort {
        cohort: cohort.clone(),
        walking: Vec::new(),
    };
    for opts in [
        ClinicOptions::default(),
        ClinicOptions {
            from: chrono::NaiveDate::from_ymd_opt(2025, 2, 5),
            to: chrono::NaiveDate::from_ymd_opt(2025, 3, 13),
            ..Default::default()
        },
    ] {
        let want = clinic_summary(&memory, &regimen, &rx, &opts).unwrap();
        assert!(want.dropout.iter().any(|w| w.dropped > 0));
        for threads in [1, 3] {
            let pool = rayon::ThreadPoolBuilder::new()
                .num_threads(threads)
                .build()
                .unwrap();
            let got = pool
                .install(|| clinic_summary(&store, &regimen, &rx, &opts))
                .unwrap();
            assert_eq!(got.adherence_by_week, want.adherence_by_week, "{threads}");
            assert_eq!(got.dropout, want.dropout, "{threads}");
            assert_eq!(got.safety_by_month, want.safety_by_month, "{threads}");
            // Dose and the ladders' rungs, with the level column read from
            // the store's parts.
            assert_eq!(got.dose, want.dose, "{threads}");
            assert_eq!(got.ladders, want.ladders, "{threads}");
            assert!(
                got.dose
                    .iter()
                    .any(|r| r.sessions[0] > 0 && r.sessions[1] > 0)
            );
            assert_eq!(got.ladders.len(), 1, "the push-up ladder alone");
            assert!(got.ladders[0].weeks.iter().any(|w| w.at_rung[2] > 0));
            let events: usize = got.safety.iter().map(|r| r.events).sum();
            let months = &got.safety_by_month;
            assert_eq!(months.iter().map(|m| m.events).sum::<usize>(), events);
            assert_eq!(
                months.iter().map(|m| m.sessions).sum::<usize>(),
                got.sessions
            );
            assert_eq!(got.dropout[0].at_risk, got.patients);
        }
    }
}

/// Without a follow-up table the report has no walking-risk section at all
/// (it would describe another cohort's absence).
#[test]
fn a_store_without_follow_up_has_no_risk_section() {
    let tmp = tempfile::tempdir().unwrap();
    let store = tmp.path().join("store");
    let demo = repo_root().join("datasets/demo");
    let table = |name: &str| {
        demo.join(format!("{name}.csv.gz"))
            .to_str()
            .unwrap()
            .to_string()
    };
    lumbar(&[
        "ingest",
        "--out",
        path_str(&store),
        "--patients",
        &table("patients"),
        "--sessions",
        &table("sessions"),
        "--outcomes",
        &table("outcomes"),
        "--as-of",
        "2026-01-01",
    ]);
    let html_path = tmp.path().join("report.html");
    lumbar(&["report", path_str(&store), "-o", path_str(&html_path)]);
    let html = std::fs::read_to_string(&html_path).unwrap();
    assert!(html.contains("Adherence to the home programme"));
    assert!(
        !html.contains("follow-up study"),
        "a risk section without follow-up data"
    );
}

use programme_attack::attack_programme;

// Shared with lumbar-report's attack on generated cohorts.
#[path = "../../crates/lumbar-report/tests/support/programme_attack.rs"]
mod programme_attack;

/// The attacker above works: months whose events are hidden in the table
/// alone come out of the tile by subtraction.
#[test]
fn the_programme_attacker_recovers_a_month_hidden_in_its_table_only() {
    let html = "<div class=\"card\"><div class=\"v\">50</div><div class=\"k\">patients</div></div>\
        <div class=\"card\"><div class=\"v\">12</div><div class=\"k\">sessions continued at pain ≥ 7</div></div>\
        <table id=\"adherence-week\"><tbody><tr><td>0</td><td>50</td><td>60%</td></tr></tbody></table>\
        <table id=\"dropout-weeks\"><tbody><tr><td>0–3</td><td>50</td><td>5</td><td>45</td><td>90%</td></tr></tbody></table>\
        <table id=\"safety-month\"><tbody><tr><td>Jan</td><td>50</td><td>900</td><td>9</td><td>7</td><td>1.00</td></tr>\
        <tr><td>Feb</td><td>40</td><td>800</td><td>–</td><td>&lt;5</td><td>–</td></tr></tbody>\
        <tfoot><tr><td>all months</td><td></td><td>1700</td><td>12</td><td></td><td>0.71</td></tr></tfoot></table>";
    let (recovered, _) = attack_programme(html, false);
    assert!(
        recovered
            .iter()
            .any(|(at, v)| at == "safety-month/Feb/events" && *v == 3),
        "{recovered:?}"
    );
}

/// Issue 21, item 2: the new sections' cells (weeks where few patients
/// remain, months with few sessions or events, dropout's at-risk chain)
/// cannot be worked out by subtraction within them or across the tables
/// they add up with, for the whole demo, a site and date windows; and the
/// dropout curve shows no step that rests on a hidden count.
#[test]
fn no_hidden_cell_of_the_programme_week_sections_can_be_worked_out() {
    let tmp = tempfile::tempdir().unwrap();
    let store = demo_store(tmp.path());
    let mut hidden = 0;
    for (name, extra) in [
        ("all", vec![]),
        ("west", vec!["--site", "west"]),
        ("north", vec!["--site", "north"]),
        ("march", vec!["--from", "2025-03-03", "--to", "2025-03-30"]),
        ("cut", vec!["--from", "2025-02-05", "--to", "2025-03-13"]),
        ("late", vec!["--from", "2025-04-01", "--to", "2025-06-30"]),
        ("west early", vec!["--site", "west", "--to", "2025-02-20"]),
    ] {
        let out = tmp.path().join(format!("{name}.html"));
        let mut args = vec!["report", path_str(&store), "-o", path_str(&out)];
        args.extend(extra.iter().copied());
        lumbar(&args);
        let html = std::fs::read_to_string(&out).unwrap();
        assert!(html.len() < 2 * 1024 * 1024);
        // Without --from every patient covered is scheduled in week 0.
        let (recovered, n) = attack_programme(&html, extra.contains(&"--from"));
        assert!(recovered.is_empty(), "{name}: recovered {recovered:?}");
        hidden += n;
        // A still-logging share is shown only while every at-risk and
        // dropped-out count up to it is.
        let Some((rows, _)) = crate::attack::table(&html, "dropout-weeks") else {
            // A report of fewer than 5 patients shows no figure at all.
            assert!(
                html.contains("id=\"too-few\"") || html.contains("id=\"empty\""),
                "{name}"
            );
            continue;
        };
        let mut clean = true;
        for row in &rows {
            clean &=
                !["<5", "–"].contains(&row[1].as_str()) && !["<5", "–"].contains(&row[2].as_str());
            if !clean {
                assert_eq!(row[4], "–", "{name}: a step after a hidden count: {row:?}");
            }
        }
    }
    assert!(hidden > 5, "the sections hide cells: {hidden}");
}
