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
