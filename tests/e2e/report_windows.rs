//! The clinic report's date windows and its disclosure control, end to end
//! on the demo store: windowed adherence equals `analyze`'s weekly table and
//! a direct count of the sessions; an attacker reading the HTML recovers no
//! hidden cell; absurd enrolment dates schedule no more weeks than the
//! store has seen.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::path::{Path, PathBuf};

use chrono::{Datelike, Duration, NaiveDate};
use lumbar_analysis::clinic::{ClinicOptions, ClinicSummary, clinic_summary};
use lumbar_analysis::describe::quantile;
use lumbar_analysis::prescription::Prescriptions;
use lumbar_model::cohort::{Cohort, CohortSource};
use lumbar_model::{Frequency, Regimen};
use polars::prelude::*;

use crate::attack::attack;
use crate::{lumbar, path_str, repo_root};

fn d(s: &str) -> NaiveDate {
    s.parse().unwrap()
}

fn demo_store(dir: &Path) -> PathBuf {
    let store = dir.join("store");
    lumbar(&[
        "ingest",
        "--dir",
        path_str(&repo_root().join("datasets/demo")),
        "--out",
        path_str(&store),
        "--as-of",
        "2026-01-01",
    ]);
    store
}

/// Done and scheduled days per patient (cohort index) in `[from, to]`,
/// counted straight from the sessions: each move's ISO weeks cut to the
/// patient's programme (enrolment or the store's first day, to the last
/// session of a prescribed move or outcome) and the window; a daily move
/// asks every day, "N days a week" at most N; a day counts once, only if
/// not marked incomplete.
fn direct_count(
    cohort: &Cohort,
    regimen: &Regimen,
    from: NaiveDate,
    to: NaiveDate,
) -> BTreeMap<usize, (u32, u32)> {
    let keys: BTreeSet<&str> = regimen.exercises.iter().map(|e| e.key.as_str()).collect();
    let first_day = cohort
        .sessions
        .iter()
        .map(|s| s.performed_at.date())
        .chain(cohort.outcomes.iter().map(|o| o.date))
        .min()
        .unwrap();
    let mut last: Vec<NaiveDate> = cohort.patients.iter().map(|p| p.enrolled_on).collect();
    for s in &cohort.sessions {
        if keys.contains(&*s.exercise) {
            last[s.patient] = last[s.patient].max(s.performed_at.date());
        }
    }
    for o in &cohort.outcomes {
        last[o.patient] = last[o.patient].max(o.date);
    }
    let mut done_days: HashMap<(usize, &str), BTreeSet<NaiveDate>> = HashMap::new();
    for s in &cohort.sessions {
        if s.completed != Some(false) && keys.contains(&*s.exercise) {
            done_days
                .entry((s.patient, &*s.exercise))
                .or_default()
                .insert(s.performed_at.date());
        }
    }
    let mut out = BTreeMap::new();
    for (pi, p) in cohort.patients.iter().enumerate() {
        let start = p.enrolled_on.max(first_day).max(from);
        let end = last[pi].min(to);
        if start > end {
            continue;
        }
        let (mut done, mut sched) = (0u32, 0u32);
        for ex in &regimen.exercises {
            let days = done_days.get(&(pi, ex.key.as_str()));
            // Days of the programme in the window, by ISO week.
            let mut weeks: BTreeMap<(i32, u32), (u32, u32)> = BTreeMap::new();
            let mut day = start;
            while day <= end {
                let w = weeks
                    .entry((day.iso_week().year(), day.iso_week().week()))
                    .or_default();
                w.0 += 1;
                if days.is_some_and(|ds| ds.contains(&day)) {
                    w.1 += 1;
                }
                day += Duration::days(1);
            }
            for (in_window, done_in_week) in weeks.values() {
                let asked = match ex.frequency {
                    Frequency::Daily => *in_window,
                    Frequency::DaysPerWeek(n) => (n as u32).min(*in_window),
                };
                sched += asked;
                done += (*done_in_week).min(asked);
            }
        }
        out.insert(pi, (done, sched));
    }
    out
}

/// Done and scheduled per patient from `analyze`'s weekly table, over the
/// ISO weeks starting in `[from, to]`.
fn from_weekly_table(
    weekly: &DataFrame,
    index: &HashMap<&str, usize>,
    from: NaiveDate,
    to: NaiveDate,
) -> BTreeMap<usize, (u32, u32)> {
    let ids = weekly.column("patient_id").unwrap().str().unwrap().clone();
    let starts = weekly
        .column("week_start")
        .unwrap()
        .cast(&DataType::Int32)
        .unwrap();
    let starts = starts.i32().unwrap();
    let num = |c: &str| {
        weekly
            .column(c)
            .unwrap()
            .cast(&DataType::Int64)
            .unwrap()
            .i64()
            .unwrap()
            .clone()
    };
    let (sched, done) = (num("scheduled"), num("done"));
    let epoch = d("1970-01-01");
    let mut out: BTreeMap<usize, (u32, u32)> = BTreeMap::new();
    for i in 0..weekly.height() {
        let monday = epoch + Duration::days(starts.get(i).unwrap() as i64);
        if monday < from || monday > to {
            continue;
        }
        let e = out.entry(index[ids.get(i).unwrap()]).or_default();
        e.0 += done.get(i).unwrap() as u32;
        e.1 += sched.get(i).unwrap() as u32;
    }
    out.retain(|_, (_, s)| *s > 0);
    out
}

/// The report's adherence figures (cohort spread, adherent, histogram, by
/// site) as they follow from per-patient done and scheduled days.
fn check_figures(
    s: &ClinicSummary,
    cohort: &Cohort,
    per_patient: &BTreeMap<usize, (u32, u32)>,
    how: &str,
) {
    assert_eq!(s.patients, per_patient.len(), "patients covered, {how}");
    assert_eq!(
        s.left_out,
        cohort.patients.len() - per_patient.len(),
        "patients left out, {how}"
    );
    let share = |(done, sched): (u32, u32)| done as f64 / sched as f64;
    let mut all: Vec<f64> = per_patient.values().map(|&x| share(x)).collect();
    all.sort_by(f64::total_cmp);
    let a = s.adherence.as_ref().expect("adherence");
    assert_eq!(a.spread.patients, all.len(), "{how}");
    for (got, p) in [
        (a.spread.median, 0.5),
        (a.spread.q1, 0.25),
        (a.spread.q3, 0.75),
    ] {
        assert!(
            (got - quantile(&all, p)).abs() < 1e-12,
            "quantile {p}, {how}"
        );
    }
    let adherent = per_patient
        .values()
        .filter(|(done, sched)| 10 * done >= 7 * sched)
        .count();
    assert_eq!(a.adherent, adherent, "adherent, {how}");
    let mut histogram = [0usize; 10];
    for (done, sched) in per_patient.values() {
        histogram[((10 * done / sched) as usize).min(9)] += 1;
    }
    assert_eq!(s.adherence_histogram, histogram, "histogram, {how}");
    for g in &s.adherence_by_site {
        let mut v: Vec<f64> = per_patient
            .iter()
            .filter(|(pi, _)| cohort.patients[**pi].site == g.group)
            .map(|(_, &x)| share(x))
            .collect();
        v.sort_by(f64::total_cmp);
        assert_eq!(g.spread.patients, v.len(), "site {}, {how}", g.group);
        assert!((g.spread.median - quantile(&v, 0.5)).abs() < 1e-12);
    }
}

fn html_tile(html: &str, label_prefix: &str) -> Option<String> {
    crate::attack::cards(html)
        .into_iter()
        .find(|(k, _)| k.starts_with(label_prefix))
        .map(|(_, v)| v)
}

#[test]
fn windowed_adherence_equals_the_weekly_table_and_a_direct_count() {
    let tmp = tempfile::tempdir().unwrap();
    let store_dir = demo_store(tmp.path());
    let analysis = tmp.path().join("analysis");
    lumbar(&[
        "analyze",
        path_str(&store_dir),
        "--out",
        path_str(&analysis),
    ]);
    let weekly =
        ParquetReader::new(std::fs::File::open(analysis.join("adherence_weekly.parquet")).unwrap())
            .finish()
            .unwrap();
    let store = lumbar_io::Store::open(&store_dir).unwrap();
    let regimen = Regimen::six_moves();
    let rx = Prescriptions::from_regimen(&regimen);
    let cohort = store.cohort().unwrap();
    let index = cohort.index();
    let summary = |from: &str, to: &str| {
        let opts = ClinicOptions {
            from: Some(d(from)),
            to: Some(d(to)),
            ..Default::default()
        };
        clinic_summary(&store, &regimen, &rx, &opts).unwrap()
    };

    // Four whole ISO weeks (the window): the weekly table, the
    // direct count and the report agree; 30% adherent, median 62%.
    let (from, to) = (d("2025-03-03"), d("2025-03-30"));
    let s = summary("2025-03-03", "2025-03-30");
    let direct = direct_count(&cohort, &regimen, from, to);
    assert_eq!(direct, from_weekly_table(&weekly, &index, from, to));
    check_figures(&s, &cohort, &direct, "2025-03-03 to 2025-03-30");
    let a = s.adherence.as_ref().unwrap();
    assert_eq!(
        (
            (100.0 * a.adherent as f64 / a.spread.patients as f64).round(),
            (100.0 * a.spread.median).round()
        ),
        (30.0, 62.0)
    );
    let html_path = tmp.path().join("march.html");
    lumbar(&[
        "report",
        path_str(&store_dir),
        "-o",
        path_str(&html_path),
        "--from",
        "2025-03-03",
        "--to",
        "2025-03-30",
    ]);
    let html = std::fs::read_to_string(&html_path).unwrap();
    assert_eq!(
        html_tile(&html, "adherent (").as_deref(),
        Some("30%"),
        "the tile"
    );
    assert!(html.contains("adherent (≥ 70% of sessions), 2025-03-03 to 2025-03-30"));
    assert!(html.contains("<h2>Safety, 2025-03-03 to 2025-03-30</h2>"));

    // Windows that cut ISO weeks: the cut weeks from the sessions, the whole
    // weeks between from the weekly table, and the report on the lot.
    for (from, to) in [("2025-02-05", "2025-03-13"), ("2025-01-08", "2025-01-16")] {
        let (f, t) = (d(from), d(to));
        let s = summary(from, to);
        let direct = direct_count(&cohort, &regimen, f, t);
        let first_sunday = f + Duration::days(6 - f.weekday().num_days_from_monday() as i64);
        let last_monday = t - Duration::days(t.weekday().num_days_from_monday() as i64);
        let mut pieced = from_weekly_table(
            &weekly,
            &index,
            first_sunday + Duration::days(1),
            last_monday - Duration::days(1),
        );
        for edge in [
            direct_count(&cohort, &regimen, f, first_sunday),
            direct_count(&cohort, &regimen, last_monday, t),
        ] {
            for (pi, (done, sched)) in edge {
                let e = pieced.entry(pi).or_default();
                e.0 += done;
                e.1 += sched;
            }
        }
        assert_eq!(pieced, direct, "{from} to {to}");
        check_figures(&s, &cohort, &direct, &format!("{from} to {to}"));
    }

    // A window reaching before enrolment: patients enrolled after it ends
    // are left out and counted; those enrolled in it from their enrolment.
    let (f, t) = (d("2024-12-02"), d("2025-01-12"));
    let s = summary("2024-12-02", "2025-01-12");
    let direct = direct_count(&cohort, &regimen, f, t);
    let enrolled_by_end = cohort
        .patients
        .iter()
        .filter(|p| p.enrolled_on <= t)
        .count();
    assert_eq!(direct.len(), enrolled_by_end);
    assert!(s.left_out > 0 && s.patients > 0);
    assert_eq!(direct, from_weekly_table(&weekly, &index, f, t));
    check_figures(&s, &cohort, &direct, "before enrolment");

    // An empty window says so: no 0% anywhere.
    let s = summary("2024-01-01", "2024-12-31");
    assert_eq!((s.patients, s.left_out), (0, cohort.patients.len()));
    assert!(s.adherence.is_none());
    let empty = tmp.path().join("empty.html");
    let (_, text) = lumbar(&[
        "report",
        path_str(&store_dir),
        "-o",
        path_str(&empty),
        "--from",
        "2024-01-01",
        "--to",
        "2024-12-31",
    ]);
    assert!(
        text.contains("200 with nothing scheduled in the window left out"),
        "{text}"
    );
    let html = std::fs::read_to_string(&empty).unwrap();
    assert!(html.contains("No patient had anything scheduled 2024-01-01 to 2024-12-31"));
    assert!(crate::attack::cards(&html).is_empty(), "no tiles");
    assert!(!html.contains(">0%<") && !html.contains("adherence-histogram"));
    assert!(html.contains("200 patients had nothing scheduled 2024-01-01 to 2024-12-31"));
}

/// Runs the attacker on a report and fails on any hidden cell it recovers.
fn assert_unbreakable(html: &str, how: &str) -> crate::attack::Attack {
    let a = attack(html);
    assert!(a.recovered.is_empty(), "{how}: recovered {:?}", a.recovered);
    // A report of fewer than 5 patients shows no count at all.
    assert!(
        a.shown > 0 || html.contains("id=\"too-few\""),
        "{how}: the attacker read nothing"
    );
    a
}

#[test]
fn no_hidden_cell_of_the_demo_report_can_be_worked_out() {
    let tmp = tempfile::tempdir().unwrap();
    let store = demo_store(tmp.path());
    let mut hidden_total = 0;
    for (name, extra) in [
        ("all", vec![]),
        ("island", vec!["--site", "island"]),
        ("west", vec!["--site", "west"]),
        ("march", vec!["--from", "2025-03-03", "--to", "2025-03-30"]),
        (
            "one week",
            vec!["--from", "2025-01-15", "--to", "2025-01-21"],
        ),
        ("cut", vec!["--from", "2025-02-05", "--to", "2025-03-13"]),
        ("late", vec!["--from", "2025-04-01", "--to", "2025-06-30"]),
        (
            "west in march",
            vec![
                "--site",
                "west",
                "--from",
                "2025-03-03",
                "--to",
                "2025-03-09",
            ],
        ),
    ] {
        let out = tmp.path().join(format!("{name}.html"));
        let mut args = vec!["report", path_str(&store), "-o", path_str(&out)];
        args.extend(extra);
        lumbar(&args);
        let html = std::fs::read_to_string(&out).unwrap();
        hidden_total += assert_unbreakable(&html, name).hidden;
        if name == "all" {
            // The island is hidden, and so is a second site everywhere.
            assert!(html.contains("<tr><td>island</td><td>&lt;5</td></tr>"));
            assert!(html.contains("<tr><td>west</td><td>–</td></tr>"));
            assert!(html.contains("<tr><td>west</td><td>–</td><td>–</td><td>–</td></tr>"));
        }
        if name == "island" {
            // The tile of one event among a few patients is hidden too.
            assert!(!html.contains("<div class=\"v\">1</div>"));
        }
    }
    assert!(hidden_total > 10, "the reports hide cells: {hidden_total}");
}

/// Issue 15: ten patients enrolled on 0001-01-01 are scheduled from the
/// store's first observed day, not for two thousand years.
#[test]
fn absurd_enrolment_dates_schedule_only_the_observed_span() {
    let tmp = tempfile::tempdir().unwrap();
    let store = demo_store(tmp.path());
    let cohort = lumbar_io::Store::open(&store).unwrap().cohort().unwrap();
    let first_day = cohort
        .sessions
        .iter()
        .map(|s| s.performed_at.date())
        .chain(cohort.outcomes.iter().map(|o| o.date))
        .min()
        .unwrap();
    let demo = repo_root().join("datasets/demo");
    let mut patients_csv = String::new();
    std::io::Read::read_to_string(
        &mut flate2::read::GzDecoder::new(
            std::fs::File::open(demo.join("patients.csv.gz")).unwrap(),
        ),
        &mut patients_csv,
    )
    .unwrap();
    let first_ten: Vec<String> = patients_csv
        .lines()
        .skip(1)
        .take(10)
        .map(|l| l.split(',').next().unwrap().to_string())
        .collect();
    // A store whose first ten patients were enrolled on `day`: ingest
    // refuses dates before 1900 unless told otherwise (--min-date), as a
    // registry with placeholder dates would be loaded.
    let with_enrolment = |day: NaiveDate, name: &str| -> PathBuf {
        let data = tmp.path().join(format!("{name}-data"));
        std::fs::create_dir_all(&data).unwrap();
        for t in ["sessions", "walking", "outcomes", "followup"] {
            let f = format!("{t}.csv.gz");
            std::fs::copy(demo.join(&f), data.join(&f)).unwrap();
        }
        let header: Vec<&str> = patients_csv.lines().next().unwrap().split(',').collect();
        let col = header.iter().position(|c| *c == "enrolled_on").unwrap();
        let rows: Vec<String> = patients_csv
            .lines()
            .enumerate()
            .map(|(i, l)| {
                if i == 0 || i > 10 {
                    return l.to_string();
                }
                let mut cells: Vec<String> = l.split(',').map(str::to_string).collect();
                cells[col] = day.to_string();
                cells.join(",")
            })
            .collect();
        std::fs::write(data.join("patients.csv"), rows.join("\n") + "\n").unwrap();
        let store = tmp.path().join(format!("{name}-store"));
        lumbar(&[
            "ingest",
            "--dir",
            path_str(&data),
            "--out",
            path_str(&store),
            "--as-of",
            "2026-01-01",
            "--min-date",
            "0001-01-01",
        ]);
        store
    };
    let run = |name: &str, store: &Path| -> (DataFrame, DataFrame, std::time::Duration) {
        let out = tmp.path().join(name);
        let started = std::time::Instant::now();
        lumbar(&["analyze", path_str(store), "--out", path_str(&out)]);
        let took = started.elapsed();
        let read = |t: &str| {
            ParquetReader::new(std::fs::File::open(out.join(format!("{t}.parquet"))).unwrap())
                .finish()
                .unwrap()
        };
        (read("adherence_weekly"), read("adherence_patients"), took)
    };
    let ancient = with_enrolment(d("0001-01-01"), "ancient");
    let (weekly, patients, took) = run("ancient", &ancient);
    let first = with_enrolment(first_day, "first-day");
    let (weekly_ref, patients_ref, _) = run("first-day", &first);
    // Week rows: at most 6 moves × the weeks between the store's first and
    // last day, per patient (not 6 × 105,000).
    let last_day = d("2025-06-30");
    let span_weeks = (last_day - first_day).num_weeks() as usize + 2;
    assert!(
        weekly.height() <= 200 * 6 * span_weeks,
        "{} week rows",
        weekly.height()
    );
    assert!(took.as_secs() < 60, "analyze took {took:?}");
    // The numbers are those of patients enrolled on the store's first day.
    assert!(weekly.equals_missing(&weekly_ref), "weekly adherence");
    assert!(
        patients.equals_missing(&patients_ref),
        "patients' adherence"
    );
    let ids = patients
        .column("patient_id")
        .unwrap()
        .str()
        .unwrap()
        .clone();
    assert!(
        ids.iter()
            .flatten()
            .filter(|i| first_ten.iter().any(|f| f == i))
            .count()
            == 10
    );
}

#[path = "../../crates/lumbar-report/tests/support/compare_attack.rs"]
mod compare_attack;

/// `--compare-to` (issue 21, item 3) on the demo: each headline tile shows
/// the previous period's figure, which is the figure of a report over that
/// period alone; no hidden count of either period can be worked out from
/// the changes and the tables, whole or for one site; and periods that
/// overlap, or a comparison without --from, are refused.
#[test]
fn compare_to_shows_the_previous_period_and_gives_no_count_away() {
    let tmp = tempfile::tempdir().unwrap();
    let store = demo_store(tmp.path());
    let out = tmp.path().join("compare.html");
    let run = |extra: &[&str]| -> String {
        let mut args = vec!["report", path_str(&store), "-o", path_str(&out)];
        args.extend(extra);
        lumbar(&args);
        std::fs::read_to_string(&out).unwrap()
    };
    let tile = |html: &str, prefix: &str| {
        compare_attack::tiles(html)
            .into_iter()
            .find(|(k, _, _)| k.starts_with(prefix))
    };
    for (name, site) in [
        ("all", None),
        ("north", Some("north")),
        ("west", Some("west")),
    ] {
        let mut now = vec!["--from", "2025-03-03", "--to", "2025-04-27"];
        let mut before = vec!["--from", "2025-01-06", "--to", "2025-03-02"];
        if let Some(site) = site {
            now.extend(["--site", site]);
            before.extend(["--site", site]);
        }
        let alone = run(&before);
        let mut compared = now.clone();
        compared.extend(["--compare-to", "2025-01-06..2025-03-02"]);
        let html = run(&compared);
        assert!(
            html.contains("the previous period, 2025-01-06 to 2025-03-02"),
            "{name}"
        );
        // The previous period's patients are those of its own report.
        let (_, _, was) = tile(&html, "patients").unwrap();
        let (_, alone_patients, _) = tile(&alone, "patients").unwrap();
        assert_eq!(was.unwrap().0, alone_patients, "{name}");
        // So is its share adherent where both show it.
        if let (Some((_, _, Some((p, _)))), Some((_, v, _))) =
            (tile(&html, "adherent"), tile(&alone, "adherent"))
            && p != "–"
        {
            assert_eq!(p, v, "{name}");
        }
        let (recovered, leaks, _) = compare_attack::attack_compare(&html);
        assert!(
            recovered.is_empty() && leaks.is_empty(),
            "{name}: {recovered:?} {leaks:?}"
        );
        assert_unbreakable(&html, name);
    }
    let e = crate::lumbar_err(&[
        "report",
        path_str(&store),
        "-o",
        path_str(&out),
        "--compare-to",
        "2025-01-06..2025-03-02",
    ]);
    assert!(e.contains("--compare-to needs --from"), "{e}");
    let e = crate::lumbar_err(&[
        "report",
        path_str(&store),
        "-o",
        path_str(&out),
        "--from",
        "2025-03-01",
        "--compare-to",
        "2025-01-06..2025-03-02",
    ]);
    assert!(e.contains("would overlap"), "{e}");
    // A period backwards is a usage error (exit code 2, clap's message).
    let e = crate::lumbar_cli_run(&[
        "report",
        path_str(&store),
        "-o",
        path_str(&out),
        "--from",
        "2025-03-03",
        "--compare-to",
        "2025-03-02..2025-01-06",
    ])
    .unwrap_err();
    assert_eq!(e, "exit code 2");
}
