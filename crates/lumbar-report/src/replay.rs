//! The replay's page: a clinic's patients under the rule they had and
//! under another, per site, with the clinic report's suppression.
//!
//! Each site's patient count is a cell of one [`disclosure::Model`]
//! (the cohort's count their sum). A site whose count is hidden, by the
//! small-cell rule or to protect another site from subtraction, has none
//! of its rows shown: a mean of a small group describes its patients as
//! much as a count does.

use std::fmt::Write;

use crate::{CSS, disclosure, esc};

/// One row as the page shows it (a site or `all`, a week, a measure).
#[derive(Debug, Clone)]
pub struct ReplayRowView<'a> {
    pub site: &'a str,
    pub week: u32,
    pub measure: &'a str,
    pub observed_rule: f64,
    pub alternative: f64,
    pub difference: f64,
    pub lower: f64,
    pub upper: f64,
}

/// What the page shows.
#[derive(Debug, Clone)]
pub struct ReplayPage<'a> {
    pub observed_rule: &'a str,
    pub alternative: &'a str,
    /// Sites and their replayed patients.
    pub sites: &'a [(String, usize)],
    pub rows: &'a [ReplayRowView<'a>],
    pub weeks: u32,
    pub draws: u32,
    pub candidates: usize,
    /// The patients' effective sample sizes: median and 10th percentile.
    pub ess_median: f64,
    pub ess_p10: f64,
}

fn label(measure: &str) -> &str {
    match measure {
        "pain" => "Pain (NRS, mean)",
        "responders" => "Responders (≥30% less pain)",
        "adherence" => "Sessions completed of scheduled",
        "safety_events_per_100_patients" => "Safety events per 100 patients",
        "dropped" => "Left the programme",
        m => m,
    }
}

fn value(measure: &str, x: f64) -> String {
    if !x.is_finite() {
        return "–".into();
    }
    match measure {
        "responders" | "adherence" | "dropped" => format!("{:.1}%", 100.0 * x),
        _ => format!("{x:.2}"),
    }
}

fn diff(measure: &str, x: f64) -> String {
    if !x.is_finite() {
        return "–".into();
    }
    match measure {
        "responders" | "adherence" | "dropped" => format!("{:+.1} pts", 100.0 * x),
        _ => format!("{x:+.2}"),
    }
}

/// The sites whose rows are shown (by the whole page's suppression plan).
pub fn shown_sites(sites: &[(String, usize)]) -> Vec<bool> {
    let mut m = disclosure::Model::default();
    let cells: Vec<_> = sites.iter().map(|(_, n)| m.patients(*n)).collect();
    let total = m.patients(sites.iter().map(|(_, n)| n).sum());
    m.sum(total, cells.clone());
    let plan = m.decide();
    if !plan.shown(total) {
        return vec![false; sites.len()];
    }
    cells.iter().map(|&c| plan.shown(c)).collect()
}

/// The page, self-contained (no scripts, no external resources).
pub fn render_replay(p: &ReplayPage<'_>) -> String {
    let shown = shown_sites(p.sites);
    let total: usize = p.sites.iter().map(|(_, n)| n).sum();
    let cohort_shown = total >= crate::MIN_CELL;
    let mut h = String::new();
    let _ = write!(
        h,
        "<!DOCTYPE html><html lang=\"en\"><head><meta charset=\"utf-8\">\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\
         <title>Replay: {alt} against {obs}</title><style>{CSS}</style></head><body>\
         <h1>The clinic's patients under {alt}</h1>\
         <p class=\"lede\">Each patient simulated twice, under {obs} (the rule they had) and under {alt}, \
         on the same random numbers; {draws} posterior draws of the calibrated simulator, each patient's \
         traits chosen among {cands} candidates by how well they explain the patient's own logged sessions and pain. \
         Differences are {alt} minus {obs}; the 90% interval combines the posterior, the patients' traits and \
         the simulation.</p>",
        alt = esc(p.alternative),
        obs = esc(p.observed_rule),
        draws = p.draws,
        cands = p.candidates,
    );
    h += "<h2>Patients</h2><table><thead><tr><th>Site</th><th>Patients replayed</th></tr></thead><tbody>";
    for ((site, n), ok) in p.sites.iter().zip(&shown) {
        let _ = write!(
            h,
            "<tr><td>{}</td><td>{}</td></tr>",
            esc(site),
            if *ok {
                n.to_string()
            } else if crate::disclosure::small(*n) {
                "&lt;5".into()
            } else {
                "–".into()
            }
        );
    }
    let _ = write!(
        h,
        "</tbody><tfoot><tr><td>All</td><td>{}</td></tr></tfoot></table>\
         <p>How much each patient's history narrowed the population: effective sample size median {:.1}, \
         10th percentile {:.1}, of {} candidates.</p>",
        crate::count(total),
        p.ess_median,
        p.ess_p10,
        p.candidates
    );
    let mut groups: Vec<(&str, bool)> = vec![("all", cohort_shown)];
    groups.extend(
        p.sites
            .iter()
            .zip(&shown)
            .map(|((s, _), ok)| (s.as_str(), *ok)),
    );
    for (site, ok) in groups {
        let title = if site == "all" {
            "All sites".to_string()
        } else {
            format!("Site {}", esc(site))
        };
        let _ = write!(h, "<h2>{title}, week {}</h2>", p.weeks);
        if !ok {
            h += "<p>Not shown: too few patients (see below).</p>";
            continue;
        }
        h += "<table><thead><tr><th>Measure</th><th>Rule had</th><th>Alternative</th><th>Difference</th><th>90% interval</th></tr></thead><tbody>";
        for r in p
            .rows
            .iter()
            .filter(|r| r.site == site && r.week == p.weeks)
        {
            let _ = write!(
                h,
                "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{} to {}</td></tr>",
                label(r.measure),
                value(r.measure, r.observed_rule),
                value(r.measure, r.alternative),
                diff(r.measure, r.difference),
                diff(r.measure, r.lower),
                diff(r.measure, r.upper)
            );
        }
        h += "</tbody></table>";
    }
    if cohort_shown {
        h += "<h2>Pain difference by week, all sites</h2><table><thead><tr><th>Week</th><th>Rule had</th><th>Alternative</th><th>Difference</th><th>90% interval</th></tr></thead><tbody>";
        for r in p
            .rows
            .iter()
            .filter(|r| r.site == "all" && r.measure == "pain")
        {
            let _ = write!(
                h,
                "<tr><td>{}</td><td>{:.2}</td><td>{:.2}</td><td>{}</td><td>{} to {}</td></tr>",
                r.week,
                r.observed_rule,
                r.alternative,
                diff("pain", r.difference),
                diff("pain", r.lower),
                diff("pain", r.upper)
            );
        }
        h += "</tbody></table>";
    }
    let _ = writeln!(
        h,
        "<footer><p>{}</p><p>Simulated outcomes of real patients: a model's answer to \"what if\", \
         as good as its calibration (see fit.json and fit.svg of the calibration).</p></footer></body></html>",
        esc(crate::SUPPRESSION_RULE)
    );
    h
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_small_site_and_its_complement_are_hidden_and_the_page_names_no_patient() {
        let sites = vec![
            ("north".to_string(), 40),
            ("south".to_string(), 3),
            ("east".to_string(), 12),
        ];
        // South is small; hiding it alone would leave it as all − north − east.
        assert_eq!(shown_sites(&sites), [true, false, false]);
        let rows = [ReplayRowView {
            site: "south",
            week: 12,
            measure: "pain",
            observed_rule: 4.0,
            alternative: 3.5,
            difference: -0.5,
            lower: -0.9,
            upper: -0.1,
        }];
        let html = render_replay(&ReplayPage {
            observed_rule: "a",
            alternative: "b",
            sites: &sites,
            rows: &rows,
            weeks: 12,
            draws: 10,
            candidates: 8,
            ess_median: 3.0,
            ess_p10: 1.5,
        });
        assert!(
            !html.contains("-0.50") && !html.contains("−0.50"),
            "south's row is hidden"
        );
        assert!(html.contains("&lt;5"));
        assert!(
            !html.contains("<script") && !html.contains("http://") && !html.contains("https://")
        );
    }
}
