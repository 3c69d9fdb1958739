//! The report's header and first page (issue 21, item 1) on a cohort whose
//! figures are worked out by hand (`support/hand_cohort.rs`).

#[path = "../../../tests/e2e/attack.rs"]
#[allow(dead_code)]
mod attack;
#[path = "support/hand_cohort.rs"]
#[allow(dead_code)]
mod hand_cohort;

use hand_cohort::{cohort, d, dead_bug_only, summary_of};
use lumbar_analysis::clinic::ClinicOptions;
use lumbar_report::{ReportMeta, render};

fn meta() -> ReportMeta {
    let mut meta = ReportMeta::new("Hand cohort", &dead_bug_only());
    meta.report_date = Some(d("2025-02-01"));
    meta
}

/// The first page's section: from its start to the first section after it.
fn first_page(html: &str) -> &str {
    let a = html.find("<section id=\"summary\">").expect("a first page");
    let b = html[a..].find("</section>").expect("closed") + a;
    &html[a..b]
}

#[test]
fn the_header_names_period_sites_and_regimen_with_its_version() {
    let s = summary_of(&cohort(), &dead_bug_only(), &ClinicOptions::default());
    let html = render(&s, &meta());
    // No window: the data's span, first to latest session.
    assert!(
        html.contains("<dt>period</dt><dd>2025-01-06 to 2025-01-27</dd>"),
        "{html}"
    );
    assert!(html.contains("<dt>sites</dt><dd>north</dd>"));
    assert!(html.contains(
        "<dt>regimen</dt><dd>Six-move home programme for chronic low-back pain (version 1.0)</dd>"
    ));
    // A window is the period.
    let w = summary_of(
        &cohort(),
        &dead_bug_only(),
        &ClinicOptions {
            from: Some(d("2025-01-13")),
            to: Some(d("2025-01-20")),
            ..Default::default()
        },
    );
    let html = render(&w, &meta());
    assert!(html.contains("<dt>period</dt><dd>2025-01-13 to 2025-01-20</dd>"));
    // A regimen without a version says none.
    let mut m = meta();
    m.regimen_version = None;
    let html = render(&s, &m);
    assert!(html.contains("<dd>Six-move home programme for chronic low-back pain</dd>"));
    assert!(!html.contains("(version"));
}

#[test]
fn the_first_page_has_the_headline_figures_worked_out_by_hand() {
    let s = summary_of(&cohort(), &dead_bug_only(), &ClinicOptions::default());
    assert_eq!((s.patients, s.sessions), (10, 145));
    let html = render(&s, &meta());
    let page = first_page(&html);
    let tiles = attack::cards(page);
    let tile = |k: &str| {
        tiles
            .iter()
            .find(|(label, _)| label == k)
            .map(|(_, v)| v.as_str())
            .unwrap_or_else(|| panic!("no tile {k:?} in {tiles:?}"))
    };
    assert_eq!(tile("patients"), "10");
    // Five of ten did 22 of 22 scheduled days; five did 7 of 22.
    assert_eq!(tile("adherent (≥ 70% of sessions)"), "50%");
    // Week 3 (the 27th): five of ten fell from 6 to 3.
    assert_eq!(tile("pain responders at week 3"), "50%");
    // 5 events in 110 + 35 sessions: 3.448… per 100.
    assert_eq!(tile("safety events per 100 sessions"), "3.45");
    // Five of ten dropped out in week 0; the curve holds at 50% until the
    // other five are censored in week 3.
    assert_eq!(tile("still logging at the end of week 4"), "50%");
    assert_eq!(tile("sessions continued at pain ≥ 7"), "5");
    // The two small charts: adherence by week with the 70% line, and pain.
    assert!(page.contains("<figure id=\"summary-adherence\">"));
    assert!(page.contains("<figure id=\"summary-pain\">"));
    // Week 0: 10 patients × 7 days scheduled, 5 × 7 + 5 × 7 done: 100%.
    assert!(page.contains(">100%</text>"), "{page}");
    // Nothing from the previous period without --compare-to.
    assert!(!page.contains("class=\"was\"") && !page.contains("compare-note"));
}

#[path = "support/compare_attack.rs"]
mod compare_attack;

/// `--compare-to`: the report over 20–27 January beside 6–19 January, on
/// the hand cohort. This period: all ten followed to the 27th; five log all
/// 8 days, five none (50% adherent); no events in 40 sessions. The previous
/// period: five log all 14 days, five 7 of 14 (50% adherent); 5 events in
/// 70 + 35 sessions (4.76 per 100). Dropout: five dropped out in week 0 in
/// both; the previous period's others are censored in week 1 (its end), so
/// both curves are read at the end of week 2: 50% and 50%. No week after
/// week 0 has pain in the previous period, so responders are this
/// period's alone.
#[test]
fn compare_to_puts_each_headline_beside_the_previous_period_by_hand() {
    let (c, r) = (cohort(), dead_bug_only());
    let window = |from: &str, to: &str| ClinicOptions {
        from: Some(d(from)),
        to: Some(d(to)),
        ..Default::default()
    };
    let now = summary_of(&c, &r, &window("2025-01-20", "2025-01-27"));
    let before = summary_of(&c, &r, &window("2025-01-06", "2025-01-19"));
    let html = lumbar_report::render_compared(&now, Some(&before), &meta());
    let page = first_page(&html);
    assert!(page.contains("the previous period, 2025-01-06 to 2025-01-19"));
    let tiles = compare_attack::tiles(page);
    let tile = |prefix: &str| {
        tiles
            .iter()
            .find(|(k, _, _)| k.starts_with(prefix))
            .map(|(_, v, was)| {
                let (p, d) = was.clone().unwrap_or_default();
                (v.clone(), p, d)
            })
            .unwrap_or_else(|| panic!("no tile {prefix:?} in {tiles:?}"))
    };
    let t = |a: &str, b: &str, c: &str| (a.to_string(), b.to_string(), c.to_string());
    assert_eq!(tile("patients"), t("10", "10", "0"));
    assert_eq!(tile("adherent"), t("50%", "50%", "0 pts"));
    assert_eq!(tile("safety events per 100"), t("0.00", "4.76", "−4.76"));
    assert_eq!(
        tile("still logging at the end of week 2"),
        t("50%", "50%", "0 pts")
    );
    assert_eq!(tile("pain responders at week 3"), t("50%", "–", "–"));
    let (recovered, leaks, _) = compare_attack::attack_compare(&html);
    assert!(
        recovered.is_empty() && leaks.is_empty(),
        "{recovered:?} {leaks:?}"
    );
}

/// The attacker works: a change shown beside a hidden previous count gives
/// it away (12 − 9 = 3), and a change of shares beside a hidden share is a
/// leak.
#[test]
fn the_compare_attacker_recovers_a_count_hidden_beside_its_change() {
    let html = "<div class=\"card\"><div class=\"v\">12</div><div class=\"k\">patients</div>\
        <div class=\"was\">previous: <span class=\"p\">&lt;5</span> · change <span class=\"d\">+9</span></div></div>\
        <div class=\"card\"><div class=\"v\">40%</div><div class=\"k\">adherent (≥ 70% of sessions)</div>\
        <div class=\"was\">previous: <span class=\"p\">–</span> · change <span class=\"d\">+5 pts</span></div></div>";
    let (recovered, leaks, _) = compare_attack::attack_compare(html);
    assert_eq!(recovered, [("patients/previous period".to_string(), 3)]);
    assert_eq!(leaks, ["patients", "adherent (≥ 70% of sessions)"]);
}

/// A previous period of 3 patients: its count is <5, the change beside it
/// is hidden, and so is every figure of it (fewer than 5 patients).
#[test]
fn a_small_previous_period_shows_nothing_that_gives_it_away() {
    let (c, r) = (cohort(), dead_bug_only());
    let now = summary_of(&c, &r, &ClinicOptions::default());
    // Three patients of the hand cohort alone, as the previous period.
    let mut small = cohort();
    small.cohort.patients.truncate(3);
    small.cohort.sessions.retain(|s| s.patient < 3);
    small.cohort.outcomes.retain(|o| o.patient < 3);
    let before = summary_of(&small, &r, &ClinicOptions::default());
    assert_eq!(before.patients, 3);
    let html = lumbar_report::render_compared(&now, Some(&before), &meta());
    let tiles = compare_attack::tiles(first_page(&html));
    let patients = tiles.iter().find(|t| t.0 == "patients").unwrap();
    assert_eq!(
        patients.2,
        Some(("<5".to_string(), "–".to_string())),
        "{tiles:?}"
    );
    for (k, _, was) in &tiles {
        if let Some((p, d)) = was {
            assert!(p == "<5" || p == "–", "{k}: previous {p}");
            assert_eq!(d, "–", "{k}");
        }
    }
    let (recovered, leaks, n) = compare_attack::attack_compare(&html);
    assert!(
        recovered.is_empty() && leaks.is_empty() && n >= 2,
        "{recovered:?} {leaks:?}"
    );
}

/// Sections 5 and 6 (issue 21, item 2) on the hand cohort: patients 0–4
/// did one set instead of 2–3 on their first day (5 sessions below the
/// range among 5 patients; the other 140 in range), and log push-ups: 0–4
/// on the wall in week 0 and on the knees from week 1, 5–9 at the
/// countertop; all ten are followed to week 3.
#[test]
fn dose_and_ladder_sections_by_hand() {
    let mut c = cohort();
    for s in &mut c.cohort.sessions {
        let day = (s.performed_at.date() - d("2025-01-06")).num_days();
        if s.patient < 5 && day == 0 {
            s.sets = Some(1.0);
        }
        let rung = match (s.patient < 5, day) {
            (true, 0..7) => "wall_push_up",
            (true, _) => "knee_push_up",
            (false, _) => "countertop_push_up",
        };
        s.level = Some(rung.into());
    }
    let s = summary_of(&c, &dead_bug_only(), &ClinicOptions::default());
    let html = render(&s, &meta());
    let (rows, _) = attack::table(&html, "dose-table").expect("a dose table");
    assert_eq!(rows, [["Dead bug", "10", "145", "3%", "97%", "0%"]]);
    assert!(
        html.contains("<section id=\"dose\">")
            && html.contains("Share of each exercise's sessions with a dose below")
    );
    let (weeks, _) = attack::table(&html, "ladder-table-0").expect("a ladder table");
    let want = |w: &str, a: &str, b: &str, c: &str| {
        vec![
            w.to_string(),
            "10".into(),
            a.into(),
            b.into(),
            c.into(),
            "0".into(),
        ]
    };
    assert_eq!(
        weeks,
        [
            want("0", "5", "5", "0"),
            want("1", "0", "5", "5"),
            want("2", "0", "5", "5"),
            want("3", "0", "5", "5")
        ]
    );
    assert!(html.contains("<figure id=\"ladder-0\">"));
    // Without levels there is no progression section.
    let plain = render(
        &summary_of(&cohort(), &dead_bug_only(), &ClinicOptions::default()),
        &meta(),
    );
    assert!(!plain.contains("id=\"progression\""));
}
