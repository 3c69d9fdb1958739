//! The clinic's cohort report: one self-contained HTML file (inline CSS and
//! SVG charts, no scripts, no fonts or images fetched, printable on A4) from
//! a [`ClinicSummary`] computed by `lumbar-analysis`.
//!
//! # Small cells
//!
//! Any count of 1 to 4 patients is shown as `<5`, and any statistic of a
//! group of fewer than 5 patients (a median, a share) is left out. Where a
//! table shows a total, a single suppressed cell could be recovered by
//! subtraction, so the next smallest cell is suppressed too (complementary
//! suppression), and totals say how many patients they leave out only when
//! that number is itself 0 or at least 5. Zero is shown: it identifies no one.
//!
//! # Identifiers
//!
//! The report receives only aggregates: no patient identifier, name or date
//! of birth reaches this crate, so none can appear in the file (a test scans
//! the HTML for every patient id of a store).
//!
//! This crate lays out what analysis computed; it must not compute
//! statistics beyond suppression and must never reach the network.
//!
//! ```
//! use lumbar_report::{count, suppress_with_total};
//! assert_eq!(count(3), "<5");
//! assert_eq!(count(0), "0");
//! assert_eq!(count(12), "12");
//! // One small cell in a table with a total: the next smallest goes too.
//! let cells = suppress_with_total(&[70, 60, 3, 27]);
//! assert_eq!(cells, ["70", "60", "<5", "–"]);
//! ```

pub mod svg;

use std::fmt::Write;

use lumbar_analysis::clinic::{ClinicSummary, GroupAdherence};

/// The smallest group whose numbers are shown.
pub const MIN_CELL: usize = 5;

/// Escapes text for HTML and SVG.
pub fn esc(s: &str) -> String {
    let mut o = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => o.push_str("&amp;"),
            '<' => o.push_str("&lt;"),
            '>' => o.push_str("&gt;"),
            '"' => o.push_str("&quot;"),
            '\'' => o.push_str("&#39;"),
            c => o.push(c),
        }
    }
    o
}

/// A count of patients as shown: `<5` for 1–4.
pub fn count(n: usize) -> String {
    if n > 0 && n < MIN_CELL {
        "<5".into()
    } else {
        n.to_string()
    }
}

/// Counts of a table that also shows their total: small cells become `<5`,
/// and if exactly one cell is small the next smallest is hidden (`–`) so
/// the small one cannot be recovered from the total.
pub fn suppress_with_total(counts: &[usize]) -> Vec<String> {
    let mut out: Vec<String> = counts.iter().map(|&n| count(n)).collect();
    let small: Vec<usize> = (0..counts.len())
        .filter(|&i| counts[i] > 0 && counts[i] < MIN_CELL)
        .collect();
    if small.len() == 1 {
        let other = (0..counts.len())
            .filter(|&i| i != small[0] && counts[i] > 0)
            .min_by_key(|&i| counts[i]);
        if let Some(i) = other {
            out[i] = "–".into();
        }
    }
    out
}

fn pct(x: f64) -> String {
    format!("{:.0}%", 100.0 * x)
}

fn shown(n: usize) -> bool {
    n >= MIN_CELL
}

/// What the report says about itself.
#[derive(Debug, Clone)]
pub struct ReportMeta {
    pub title: String,
    pub regimen: String,
    /// Exercise keys and their names, in regimen order.
    pub exercise_names: Vec<(String, String)>,
    pub lumbar_version: String,
}

impl ReportMeta {
    /// A report titled `title` for a cohort on `regimen`, by this lumbar.
    pub fn new(title: &str, regimen: &lumbar_model::Regimen) -> ReportMeta {
        ReportMeta {
            title: title.to_string(),
            regimen: regimen.name.clone(),
            exercise_names: regimen
                .exercises
                .iter()
                .map(|e| (e.key.clone(), e.name.clone()))
                .collect(),
            lumbar_version: env!("CARGO_PKG_VERSION").to_string(),
        }
    }
}

const CSS: &str = r#"
:root { --ink: #1b1b1b; --muted: #5a5a5a; --accent: #1f4e79; --rule: #d9d9d9; }
* { box-sizing: border-box; }
body { font-family: system-ui, -apple-system, "Segoe UI", Roboto, "Helvetica Neue", Arial, sans-serif;
       color: var(--ink); margin: 0 auto; max-width: 60rem; padding: 1.5rem; line-height: 1.45; }
h1 { font-size: 1.6rem; margin: 0 0 .25rem; color: var(--accent); }
h2 { font-size: 1.2rem; margin: 2rem 0 .5rem; border-bottom: 2px solid var(--accent); padding-bottom: .2rem; }
p.lede { color: var(--muted); margin-top: 0; }
.cards { display: grid; grid-template-columns: repeat(auto-fit, minmax(10rem, 1fr)); gap: .75rem; margin: 1rem 0; }
.card { border: 1px solid var(--rule); border-radius: .4rem; padding: .6rem .8rem; }
.card .v { font-size: 1.5rem; font-weight: 600; color: var(--accent); }
.card .k { font-size: .85rem; color: var(--muted); }
table { border-collapse: collapse; width: 100%; margin: .5rem 0 1rem; font-size: .92rem; }
th, td { border-bottom: 1px solid var(--rule); padding: .3rem .5rem; text-align: right; }
th:first-child, td:first-child { text-align: left; }
thead th { border-bottom: 2px solid var(--ink); }
tfoot td { font-weight: 600; border-top: 2px solid var(--ink); }
figure { margin: .5rem 0 1.25rem; }
figcaption { font-size: .85rem; color: var(--muted); }
svg { width: 100%; height: auto; font-family: inherit; }
svg .tick { font-size: 11px; fill: #333; }
svg .axis { font-size: 12px; fill: #333; }
svg .val { font-size: 10px; fill: #333; }
svg .mark { font-size: 10px; fill: #c0392b; }
.note { font-size: .85rem; color: var(--muted); }
section { break-inside: avoid-page; }
@page { size: A4; margin: 14mm 12mm; }
@media print {
  body { max-width: none; padding: 0; font-size: 10pt; }
  h2 { break-after: avoid; }
  figure, table { break-inside: avoid; }
  .cards { grid-template-columns: repeat(4, 1fr); }
}
"#;

fn adherence_table(
    out: &mut String,
    title: &str,
    rows: &[GroupAdherence],
    names: &dyn Fn(&str) -> String,
) {
    let _ = write!(
        out,
        "<table><thead><tr><th>{}</th><th>patients</th><th>median adherence (IQR)</th><th>adherent</th></tr></thead><tbody>",
        esc(title)
    );
    for g in rows {
        let n = g.spread.patients;
        if shown(n) {
            let _ = write!(
                out,
                "<tr><td>{}</td><td>{n}</td><td>{} ({}–{})</td><td>{}</td></tr>",
                esc(&names(&g.group)),
                pct(g.spread.median),
                pct(g.spread.q1),
                pct(g.spread.q3),
                pct(g.adherent as f64 / n as f64)
            );
        } else {
            let _ = write!(
                out,
                "<tr><td>{}</td><td>{}</td><td>–</td><td>–</td></tr>",
                esc(&names(&g.group)),
                esc(&count(n))
            );
        }
    }
    out.push_str("</tbody></table>");
}

/// Renders the report as one HTML document.
pub fn render(s: &ClinicSummary, meta: &ReportMeta) -> String {
    let name_of = |key: &str| -> String {
        meta.exercise_names
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, n)| n.clone())
            .unwrap_or_else(|| key.to_string())
    };
    let mut h = String::with_capacity(64 * 1024);
    let scope = match &s.site {
        Some(site) => format!("site {site}"),
        None => "all sites".to_string(),
    };
    let window = match (s.from, s.to) {
        (Some(f), Some(t)) => format!(", {f} to {t}"),
        (Some(f), None) => format!(", from {f}"),
        (None, Some(t)) => format!(", to {t}"),
        (None, None) => String::new(),
    };
    let _ = write!(
        h,
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\
         <title>{}</title><style>{CSS}</style></head><body>",
        esc(&meta.title)
    );
    let _ = write!(
        h,
        "<header><h1>{}</h1><p class=\"lede\">{}{} · regimen: {} · groups of fewer than {MIN_CELL} patients are shown as &lt;5 or left out · made by lumbar {}</p></header>",
        esc(&meta.title),
        esc(&scope),
        esc(&window),
        esc(&meta.regimen),
        esc(&meta.lumbar_version)
    );

    // Key figures.
    h.push_str("<section><div class=\"cards\">");
    let card = |h: &mut String, v: String, k: &str| {
        let _ = write!(
            h,
            "<div class=\"card\"><div class=\"v\">{}</div><div class=\"k\">{}</div></div>",
            esc(&v),
            esc(k)
        );
    };
    card(&mut h, count(s.patients), "patients");
    if let Some((a, b)) = s.enrolled {
        card(
            &mut h,
            format!("{} – {}", a.format("%b %Y"), b.format("%b %Y")),
            "enrolled",
        );
    }
    if let Some(f) = s.followup_weeks.as_ref().filter(|f| shown(f.patients)) {
        card(&mut h, format!("{:.1} weeks", f.median), "median follow-up");
    }
    if let Some(a) = s.adherence.as_ref().filter(|a| shown(a.spread.patients)) {
        card(
            &mut h,
            pct(a.adherent as f64 / a.spread.patients as f64),
            &format!("adherent (≥ {} of sessions)", pct(s.adherence_threshold)),
        );
    }
    if let Some(last) = s
        .pain
        .iter()
        .rev()
        .find(|w| w.week > 0 && shown(w.spread.patients))
    {
        card(
            &mut h,
            pct(last.responders as f64 / last.spread.patients as f64),
            &format!("pain responders at week {}", last.week),
        );
    }
    let events: usize = s.safety.iter().map(|r| r.events).sum();
    card(&mut h, events.to_string(), "sessions continued at pain ≥ 7");
    h.push_str("</div></section>");

    // Cohort by site.
    if s.site.is_none() && !s.sites.is_empty() {
        h.push_str("<section><h2>Patients by site</h2><table><thead><tr><th>site</th><th>patients</th></tr></thead><tbody>");
        let counts: Vec<usize> = s.sites.iter().map(|(_, n)| *n).collect();
        let cells = suppress_with_total(&counts);
        for ((site, _), cell) in s.sites.iter().zip(&cells) {
            let _ = write!(h, "<tr><td>{}</td><td>{}</td></tr>", esc(site), esc(cell));
        }
        let _ = write!(
            h,
            "</tbody><tfoot><tr><td>all sites</td><td>{}</td></tr></tfoot></table>",
            esc(&count(s.patients))
        );
        if cells.iter().any(|c| c == "<5" || c == "–") {
            h.push_str("<p class=\"note\">&lt;5: fewer than 5 patients. –: hidden so that a small site cannot be worked out from the total.</p>");
        }
        h.push_str("</section>");
    }

    // Adherence.
    h.push_str("<section><h2>Adherence to the home programme</h2>");
    let hist_total: usize = s.adherence_histogram.iter().sum();
    let (bars, y_max) = histogram_bars(&s.adherence_histogram, |i| {
        format!("{}–{}%", i * 10, i * 10 + 10)
    });
    let ticks = nice_ticks(y_max);
    let _ = write!(
        h,
        "<figure>{}<figcaption>Patients by the share of their scheduled exercise days on which they did each exercise (session adherence), {} patients. The dashed line marks the {} threshold for “adherent”.</figcaption></figure>",
        svg::bars(
            "Histogram of patients by session adherence",
            &bars,
            &svg::Axes {
                y_max,
                y_ticks: &ticks,
                y_fmt: &|t| format!("{t:.0}"),
                x_title: "session adherence (share of scheduled days done)",
                y_title: "patients",
            },
            &[(s.adherence_threshold * 10.0, "adherent")],
        ),
        esc(&count(hist_total)),
        pct(s.adherence_threshold)
    );
    if s.site.is_none() {
        adherence_table(&mut h, "site", &s.adherence_by_site, &|g| g.to_string());
    }
    let ex_bars: Vec<svg::Bar> = s
        .adherence_by_exercise
        .iter()
        .map(|g| {
            let ok = shown(g.spread.patients);
            let share = g.adherent as f64 / g.spread.patients.max(1) as f64;
            svg::Bar {
                label: name_of(&g.group)
                    .split_whitespace()
                    .take(2)
                    .collect::<Vec<_>>()
                    .join(" "),
                value: ok.then_some(100.0 * share),
                text: if ok { pct(share) } else { String::new() },
            }
        })
        .collect();
    let _ = write!(
        h,
        "<figure>{}<figcaption>Share of patients adherent to each exercise (≥ {} of its scheduled days done).</figcaption></figure>",
        svg::bars(
            "Share of patients adherent, by exercise",
            &ex_bars,
            &svg::Axes {
                y_max: 100.0,
                y_ticks: &[0.0, 25.0, 50.0, 75.0, 100.0],
                y_fmt: &|t| format!("{t:.0}%"),
                x_title: "exercise",
                y_title: "patients adherent",
            },
            &[],
        ),
        pct(s.adherence_threshold)
    );
    adherence_table(&mut h, "exercise", &s.adherence_by_exercise, &name_of);
    h.push_str("</section>");

    // Pain and ODI.
    for (title, weeks, y_max, unit, measure) in [
        (
            "Pain over the programme",
            &s.pain,
            10.0,
            "pain (NRS 0–10)",
            "pain",
        ),
        (
            "Disability (Oswestry Disability Index)",
            &s.odi,
            100.0,
            "ODI (0–100)",
            "ODI",
        ),
    ] {
        let visible: Vec<_> = weeks.iter().filter(|w| shown(w.spread.patients)).collect();
        if visible.is_empty() {
            continue;
        }
        let _ = write!(h, "<section><h2>{}</h2>", esc(title));
        let points: Vec<svg::BandPoint> = visible
            .iter()
            .map(|w| svg::BandPoint {
                x: w.week as f64,
                median: w.spread.median,
                q1: w.spread.q1,
                q3: w.spread.q3,
            })
            .collect();
        let x_max = visible.last().map_or(1.0, |w| w.week as f64);
        let ticks: Vec<f64> = (0..=5).map(|i| y_max * i as f64 / 5.0).collect();
        let _ = write!(
            h,
            "<figure>{}<figcaption>Median {measure} by programme week (line) and the middle half of patients (band, 25th to 75th percentile). Weeks with fewer than {MIN_CELL} measurements are left out.</figcaption></figure>",
            svg::band(
                &format!("Median {measure} by week"),
                &points,
                x_max,
                &svg::Axes {
                    y_max,
                    y_ticks: &ticks,
                    y_fmt: &|t| format!("{t:.0}"),
                    x_title: "weeks since enrolment",
                    y_title: unit,
                },
            )
        );
        h.push_str("<table><thead><tr><th>week</th><th>patients</th><th>median (IQR)</th><th>responders</th></tr></thead><tbody>");
        for w in &visible {
            let resp = if w.week == 0 {
                "–".to_string()
            } else {
                pct(w.responders as f64 / w.spread.patients as f64)
            };
            let _ = write!(
                h,
                "<tr><td>{}</td><td>{}</td><td>{:.1} ({:.1}–{:.1})</td><td>{}</td></tr>",
                w.week, w.spread.patients, w.spread.median, w.spread.q1, w.spread.q3, resp
            );
        }
        h.push_str("</tbody></table><p class=\"note\">Responder: improved from the first measurement by ≥ 2 NRS points (10 ODI points) or ≥ 30% (IMMPACT).</p></section>");
    }

    // Safety.
    let _ = write!(
        h,
        "<section><h2>Safety</h2><p>A <b>safety event</b> is an exercise continued at pain during of {}/10 or more (the rule is to stop). An exercise is <b>flagged unsuitable</b> for a patient when pain persisted more than {} minutes after it.</p>\
         <table><thead><tr><th>exercise</th><th>safety events</th><th>patients with events</th><th>patients flagged unsuitable</th></tr></thead><tbody>",
        s.stop_pain_during, s.unsuitable_persist_min
    );
    for r in &s.safety {
        let events = if r.patients_with_events > 0 && !shown(r.patients_with_events) {
            "–".to_string()
        } else {
            r.events.to_string()
        };
        let _ = write!(
            h,
            "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
            esc(&name_of(&r.exercise)),
            events,
            esc(&count(r.patients_with_events)),
            esc(&count(r.patients_flagged))
        );
    }
    h.push_str("</tbody></table><p class=\"note\">Event counts are hidden (–) where fewer than 5 patients had them.</p></section>");

    // Walking.
    if let Some(w) = s.walking.as_ref().filter(|w| shown(w.patients)) {
        h.push_str("<section><h2>Walking</h2>");
        let (bars, y_max) = histogram_bars(&s.walking_histogram, |i| {
            if i == 10 {
                "200+".into()
            } else {
                format!("{}–{}", i * 20, i * 20 + 20)
            }
        });
        let _ = write!(
            h,
            "<figure>{}<figcaption>Patients by mean walking minutes per valid day (≥ 600 minutes of wear when wear time is known); median {:.0} min/day (IQR {:.0}–{:.0}), {} patients. Dashed lines: the HUNT study's categories (78, 101 and 125 min/day).</figcaption></figure></section>",
            svg::bars(
                "Histogram of patients by mean walking minutes per day",
                &bars,
                &svg::Axes {
                    y_max,
                    y_ticks: &nice_ticks(y_max),
                    y_fmt: &|t| format!("{t:.0}"),
                    x_title: "mean walking minutes per day",
                    y_title: "patients",
                },
                &[
                    (78.0 / 20.0, "78"),
                    (101.0 / 20.0, "101"),
                    (125.0 / 20.0, "125")
                ],
            ),
            w.median,
            w.q1,
            w.q3,
            w.patients
        );
    }

    // Walking and risk.
    if let Some(r) = &s.risk {
        h.push_str("<section><h2>Walking and the risk of chronic low-back pain</h2><p>In the follow-up cohort: chronic low-back pain at follow-up by mean daily walking, as in the HUNT study (JAMA Netw Open 2025). Risk ratios from modified Poisson regression with robust standard errors");
        if !r.adjusted_for.is_empty() {
            let _ = write!(h, ", adjusted for {}", esc(&r.adjusted_for.join(", ")));
        }
        h.push_str(".</p><table><thead><tr><th>walking (min/day)</th><th>participants</th><th>with chronic pain</th><th>risk</th><th>risk ratio (95% CI)</th></tr></thead><tbody>");
        let mut rows = Vec::new();
        for row in &r.rows {
            let ok = shown(row.participants) && (row.events == 0 || shown(row.events));
            let rr = match (ok, row.rr) {
                (false, _) => "–".to_string(),
                (true, None) => "1 (reference)".to_string(),
                (true, Some((e, l, u))) => format!("{e:.2} ({l:.2}–{u:.2})"),
            };
            let _ = write!(
                h,
                "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
                esc(&row.category),
                esc(&count(row.participants)),
                if ok {
                    esc(&count(row.events))
                } else {
                    "–".into()
                },
                if ok { pct(row.risk) } else { "–".into() },
                rr
            );
            if ok {
                rows.push(svg::ForestRow {
                    label: row.category.clone(),
                    estimate: row.rr,
                });
            }
        }
        h.push_str("</tbody></table>");
        if !rows.is_empty() {
            let _ = write!(
                h,
                "<figure>{}<figcaption>Risk ratios with 95% confidence intervals, log scale; the lowest walking category is the reference.</figcaption></figure>",
                svg::forest("Risk ratios by walking category", &rows, 0.5, 1.5)
            );
        }
        h.push_str("</section>");
    } else if let Some(note) = &s.risk_note {
        let _ = write!(
            h,
            "<section><h2>Walking and risk</h2><p class=\"note\">Not shown: {}</p></section>",
            esc(note)
        );
    }

    h.push_str("<footer><p class=\"note\">Adherence: scheduled days with the exercise done / scheduled days, from the prescription's frequency (MiSpEx: ≥ 70% is adherent). Programme week w is days 7w to 7w+6 after enrolment. This report contains no patient identifiers; groups of fewer than 5 patients are suppressed.</p></footer></body></html>\n");
    h
}

/// Bars of a histogram of patient counts (bins of 1–4 patients drawn as
/// `<5`), and a y-axis maximum with headroom for the labels.
fn histogram_bars(counts: &[usize], label: impl Fn(usize) -> String) -> (Vec<svg::Bar>, f64) {
    let y_max = (counts.iter().copied().max().unwrap_or(0).max(5) as f64 * 1.15).ceil();
    let bars = counts
        .iter()
        .enumerate()
        .map(|(i, &n)| {
            let visible = n == 0 || shown(n);
            svg::Bar {
                label: label(i),
                value: visible.then_some(n as f64),
                text: if visible {
                    n.to_string()
                } else {
                    String::new()
                },
            }
        })
        .collect();
    (bars, y_max)
}

/// Round tick values from 0 to `max`.
fn nice_ticks(max: f64) -> Vec<f64> {
    let raw = max / 4.0;
    let mag = 10f64.powf(raw.log10().floor());
    let step = [1.0, 2.0, 2.5, 5.0, 10.0]
        .iter()
        .map(|m| m * mag)
        .find(|s| *s >= raw)
        .unwrap_or(raw);
    let mut t = Vec::new();
    let mut v = 0.0;
    while v <= max + 1e-9 {
        t.push(v);
        v += step;
    }
    t
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn complementary_suppression() {
        assert_eq!(
            suppress_with_total(&[70, 60, 40, 27, 3]),
            ["70", "60", "40", "–", "<5"]
        );
        // Two small cells protect each other.
        assert_eq!(suppress_with_total(&[70, 2, 3]), ["70", "<5", "<5"]);
        assert_eq!(suppress_with_total(&[70, 0, 30]), ["70", "0", "30"]);
    }

    #[test]
    fn escaping() {
        assert_eq!(
            esc("<a href=\"x\">&'"),
            "&lt;a href=&quot;x&quot;&gt;&amp;&#39;"
        );
    }

    #[test]
    fn ticks_are_round() {
        assert_eq!(nice_ticks(100.0), [0.0, 25.0, 50.0, 75.0, 100.0]);
        assert_eq!(nice_ticks(9.0), [0.0, 2.5, 5.0, 7.5]);
    }
}
