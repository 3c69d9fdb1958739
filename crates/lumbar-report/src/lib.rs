//! The clinic's cohort report: one self-contained HTML file (inline CSS and
//! SVG charts, no scripts, no fonts or images fetched, printable on A4) from
//! a [`ClinicSummary`] computed by `lumbar-analysis`.
//!
//! # Small cells
//!
//! Suppression is decided once for the whole report ([`disclosure`]): every
//! count in a table, tile, chart or caption is a cell of one model with the
//! sums that hold between them; counts of 1 to 4 patients are shown as
//! `<5`, statistics of groups of fewer than 5 patients are left out, a
//! group hidden in one place is hidden everywhere, and further cells are
//! hidden (`–`) until no hidden cell can be worked out from the shown ones.
//! Zero is shown: it identifies no one.
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
//! use lumbar_report::count;
//! use lumbar_report::disclosure::Model;
//! assert_eq!(count(3), "<5");
//! assert_eq!(count(0), "0");
//! // One small site in a table with a total: the next smallest goes too.
//! let mut m = Model::default();
//! let total = m.patients(160);
//! let sites: Vec<_> = [70, 60, 3, 27].iter().map(|&n| m.patients(n)).collect();
//! m.sum(total, sites.clone());
//! let plan = m.decide();
//! let shown: Vec<String> = sites.iter().map(|&c| plan.text(c)).collect();
//! assert_eq!(shown, ["70", "60", "<5", "–"]);
//! ```

// Only lumbar-stats (the Cox kernels) and the binary's allocator setting
// need unsafe code; everything else is checked by the compiler.
#![forbid(unsafe_code)]

mod charts;
pub mod disclosure;
pub mod plots;
mod progress;
pub mod replay;
mod sections;
mod style;
mod summary;
pub mod svg;

use style::{CSS, print_footer};

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

fn pct(x: f64) -> String {
    format!("{:.0}%", 100.0 * x)
}

/// What the report says about itself.
#[derive(Debug, Clone)]
pub struct ReportMeta {
    pub title: String,
    pub regimen: String,
    /// The regimen's version, when its file states one.
    pub regimen_version: Option<String>,
    /// Exercise keys and their names, in regimen order.
    pub exercise_names: Vec<(String, String)>,
    pub lumbar_version: String,
    /// The day the report was made (the header says it; `None` leaves it out).
    pub report_date: Option<chrono::NaiveDate>,
}

impl ReportMeta {
    /// A report titled `title` for a cohort on `regimen`, by this lumbar.
    pub fn new(title: &str, regimen: &lumbar_model::Regimen) -> ReportMeta {
        ReportMeta {
            title: title.to_string(),
            regimen: regimen.name.clone(),
            regimen_version: regimen.version.clone(),
            exercise_names: regimen
                .exercises
                .iter()
                .map(|e| (e.key.clone(), e.name.clone()))
                .collect(),
            lumbar_version: env!("CARGO_PKG_VERSION").to_string(),
            report_date: None,
        }
    }
}

/// The cells of a report: which [`disclosure::Cell`] each published count is.
struct Cells {
    patients: disclosure::Cell,
    left_out: disclosure::Cell,
    /// Per site (when the report covers all sites): patients, adherent.
    sites: Vec<(disclosure::Cell, disclosure::Cell)>,
    adherent: Option<disclosure::Cell>,
    histogram: Vec<disclosure::Cell>,
    /// Per exercise: patients scheduled, adherent.
    exercises: Vec<(disclosure::Cell, disclosure::Cell)>,
    /// Per week: patients measured, responders.
    pain: Vec<(disclosure::Cell, disclosure::Cell)>,
    odi: Vec<(disclosure::Cell, disclosure::Cell)>,
    /// Per exercise: events, patients with events, patients flagged.
    safety: Vec<(disclosure::Cell, disclosure::Cell, disclosure::Cell)>,
    events: disclosure::Cell,
    walking: disclosure::Cell,
    walking_histogram: Vec<disclosure::Cell>,
    /// Per walking category: participants, with the event.
    risk: Vec<(disclosure::Cell, disclosure::Cell)>,
    /// Adherence by programme week, dropout and safety by month.
    programme: sections::ProgrammeCells,
    /// Dose against the range, and ladder rungs by week.
    progress: progress::ProgressCells,
}

/// Every count the report publishes, with the sums a reader can use.
fn model(m: &mut disclosure::Model, s: &ClinicSummary) -> Cells {
    let patients = m.patients(s.patients);
    let left_out = m.patients(s.left_out);
    let adherent = s.adherence.as_ref().map(|a| m.share(a.adherent, patients));
    let mut sites = Vec::new();
    if s.site.is_none() {
        for (name, n) in &s.sites {
            let cell = m.patients(*n);
            // Every patient covered has adherence: the site's group is the
            // site's patients.
            let a = s
                .adherence_by_site
                .iter()
                .find(|g| &g.group == name)
                .map_or(0, |g| g.adherent);
            sites.push((cell, m.share(a, cell)));
        }
        m.sum(patients, sites.iter().map(|c| c.0).collect());
        if let Some(a) = adherent {
            m.sum(a, sites.iter().map(|c| c.1).collect());
        }
    }
    let histogram: Vec<_> = s
        .adherence_histogram
        .iter()
        .map(|&n| m.patients(n))
        .collect();
    m.sum(patients, histogram.clone());
    // With a threshold on a tenth, the adherent are the bins from it up.
    let tenth = s.adherence_threshold * 10.0;
    if let Some(a) = adherent
        && (tenth - tenth.round()).abs() < 1e-9
        && (1.0..=9.0).contains(&tenth.round())
    {
        m.sum(a, histogram[tenth.round() as usize..].to_vec());
    }
    let exercises = s
        .adherence_by_exercise
        .iter()
        .map(|g| {
            let n = m.patients(g.spread.patients);
            (n, m.share(g.adherent, n))
        })
        .collect();
    let mut weeks = |ws: &[lumbar_analysis::clinic::WeekMeasure]| -> Vec<_> {
        ws.iter()
            .map(|w| {
                let n = m.patients(w.spread.patients);
                (n, m.share(w.responders, n))
            })
            .collect()
    };
    let (pain, odi) = (weeks(&s.pain), weeks(&s.odi));
    let safety: Vec<_> = s
        .safety
        .iter()
        .map(|r| {
            let with = m.patients(r.patients_with_events);
            let ev = m.events(r.events, r.patients_with_events, Some(with));
            (ev, with, m.patients(r.patients_flagged))
        })
        .collect();
    let total_events: usize = s.safety.iter().map(|r| r.events).sum();
    let events = m.events(total_events, s.patients_with_events, None);
    m.sum(events, safety.iter().map(|c| c.0).collect());
    let programme = sections::cells(m, s, patients, events);
    let progress = progress::cells(m, s, patients);
    let walking = m.patients(s.walking.as_ref().map_or(0, |w| w.patients));
    let walking_histogram: Vec<_> = s.walking_histogram.iter().map(|&n| m.patients(n)).collect();
    m.sum(walking, walking_histogram.clone());
    let risk = s
        .risk
        .iter()
        .flat_map(|r| &r.rows)
        .map(|row| {
            let n = m.patients(row.participants);
            (n, m.share(row.events, n))
        })
        .collect();
    Cells {
        patients,
        left_out,
        sites,
        adherent,
        histogram,
        exercises,
        pain,
        odi,
        safety,
        events,
        walking,
        walking_histogram,
        risk,
        programme,
        progress,
    }
}

/// What the report says of its suppression, in the footer.
pub const SUPPRESSION_RULE: &str = "Small cells: suppression is decided once for the whole report. \
A count of 1–4 patients is shown as <5, and a count of events among 1–4 patients as –; \
medians, quartiles and shares of groups of fewer than 5 patients are not shown, nor shares whose \
patients, or the rest of whose group, number 1–4. A group hidden in one place is hidden everywhere. \
Further counts are hidden (–), a part before a total and the smallest first, until no hidden count \
can be worked out from the shown ones by the sums that hold within and across tables \
(sites add up to the cohort, histogram bins to their total, exercises' events and months' events to the tile, \
months' sessions to all sessions, dropout's patients at risk to those at risk next plus those who dropped out \
and those censored, week 0's being the cohort, an exercise's sessions with a dose to those below, inside and above its range, \
a ladder's patients in a week to those at each rung, and a change from the previous period to the difference of the two counts). \
Zero is shown.";

fn adherence_table(
    out: &mut String,
    title: &str,
    rows: &[(&GroupAdherence, (disclosure::Cell, disclosure::Cell))],
    plan: &disclosure::Plan,
    names: &dyn Fn(&str) -> String,
) {
    let _ = write!(
        out,
        "<table id=\"adherence-{}\"><thead><tr><th>{}</th><th>patients</th><th>median adherence (IQR)</th><th>adherent</th></tr></thead><tbody>",
        esc(title),
        esc(title)
    );
    for (g, (n, a)) in rows {
        let stats = plan.shown(*n) && g.spread.patients >= MIN_CELL;
        let spread = if stats {
            format!(
                "{} ({}–{})",
                pct(g.spread.median),
                pct(g.spread.q1),
                pct(g.spread.q3)
            )
        } else {
            "–".into()
        };
        let share = if stats && plan.shown(*a) {
            pct(g.adherent as f64 / g.spread.patients as f64)
        } else {
            "–".into()
        };
        let _ = write!(
            out,
            "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
            esc(&names(&g.group)),
            esc(&plan.text(*n)),
            spread,
            share
        );
    }
    out.push_str("</tbody></table>");
}

/// Renders the report as one HTML document.
pub fn render(s: &ClinicSummary, meta: &ReportMeta) -> String {
    render_compared(s, None, meta)
}

/// Renders the report with each headline figure beside the same figure of
/// `previous` (the same store and site over an earlier period) and the
/// change. The previous period's counts are cells of the report's one
/// disclosure model, so a change cannot give away a count hidden in
/// either period.
pub fn render_compared(
    s: &ClinicSummary,
    previous: Option<&ClinicSummary>,
    meta: &ReportMeta,
) -> String {
    let mut model_ = disclosure::Model::default();
    let cells = model(&mut model_, s);
    let previous = previous.map(|p| summary::previous_cells(&mut model_, s, &cells, p));
    let plan = model_.decide();
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
        (Some(f), Some(t)) => format!("{f} to {t}"),
        (Some(f), None) => format!("from {f}"),
        (None, Some(t)) => format!("to {t}"),
        (None, None) => String::new(),
    };
    // Every windowed figure names its window.
    let within = if window.is_empty() {
        String::new()
    } else {
        format!(", {window}")
    };
    let _ = write!(
        h,
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\
         <title>{}</title><style>{CSS}{}</style></head><body>",
        esc(&meta.title),
        print_footer(meta)
    );
    // When the data end and when the report was made: a reader of a
    // printed copy must know how current it is.
    let dates = [
        s.data_cutoff
            .map(|d| format!("data to {d} (the latest session)")),
        meta.report_date.map(|d| format!("reported {d}")),
    ]
    .into_iter()
    .flatten()
    .map(|t| format!(" · {t}"))
    .collect::<String>();
    let regimen = match &meta.regimen_version {
        Some(v) => format!("{} (version {v})", meta.regimen),
        None => meta.regimen.clone(),
    };
    // The sites the report covers, by name (a site's name identifies no
    // one; its counts are cells like any other).
    let sites = match &s.site {
        Some(site) => site.clone(),
        None if s.sites.is_empty() => "none".into(),
        None => s
            .sites
            .iter()
            .map(|(n, _)| n.as_str())
            .collect::<Vec<_>>()
            .join(", "),
    };
    let _ = write!(
        h,
        "<header><h1>{}</h1><p class=\"lede\">{}{} · regimen: {}{} · groups of fewer than {MIN_CELL} patients are shown as &lt;5 or left out · made by lumbar {}</p>\
         <dl class=\"meta\" id=\"report-meta\"><div><dt>period</dt><dd>{}</dd></div><div><dt>sites</dt><dd>{}</dd></div><div><dt>regimen</dt><dd>{}</dd></div></dl></header>",
        esc(&meta.title),
        esc(&scope),
        esc(&within),
        esc(&regimen),
        esc(&dates),
        esc(&meta.lumbar_version),
        esc(&summary::period_text(s)),
        esc(&sites),
        esc(&regimen),
    );
    let footer = |h: &mut String| {
        let _ = writeln!(
            h,
            "<footer><p class=\"note\">Adherence: scheduled days with the exercise done / scheduled days, from the prescription's frequency (MiSpEx: ≥ 70% is adherent); a date window restricts scheduled and done days alike, each patient's from enrolment (or the store's first day) to their last follow-up. Programme week w is days 7w to 7w+6 after the programme start (enrolment, or the store's first day if later). This report contains no patient identifiers.</p><p class=\"note\" id=\"suppression\">{}</p></footer></body></html>",
            esc(SUPPRESSION_RULE)
        );
    };
    if !window.is_empty() && s.left_out > 0 {
        let _ = write!(
            h,
            "<p class=\"note\" id=\"left-out\">{} patients had nothing scheduled {} (enrolled after it or followed up before it) and are in no figure below.</p>",
            esc(&plan.text(cells.left_out)),
            esc(&window)
        );
    }
    if s.patients == 0 {
        let _ = write!(
            h,
            "<section><h2>Nothing scheduled</h2><p id=\"empty\">No patient{} had anything scheduled {}: there is no adherence, pain or safety figure to show.</p></section>",
            s.site
                .as_ref()
                .map_or(String::new(), |site| format!(" of site {}", esc(site))),
            esc(if window.is_empty() {
                "in the store"
            } else {
                &window
            })
        );
        footer(&mut h);
        return h;
    }
    let cohort_shown = plan.shown(cells.patients) && s.patients >= MIN_CELL;
    if !cohort_shown {
        // Every figure of the programme would describe fewer than 5
        // people (even a zero does: "none of them"), so none is shown.
        let _ = write!(
            h,
            "<section><div class=\"cards\"><div class=\"card\"><div class=\"v\">{}</div><div class=\"k\">patients{}</div></div></div><p class=\"note\" id=\"too-few\">Fewer than {MIN_CELL} patients: no adherence, pain, safety or walking figure is shown, so that no one can be recognised.</p></section>",
            esc(&plan.text(cells.patients)),
            esc(&within)
        );
        risk_section(&mut h, s, &cells, &plan);
        footer(&mut h);
        return h;
    }

    // The first page: headline tiles and small charts.
    summary::first_page(
        &mut h,
        s,
        &summary::FirstPage {
            cells: &cells,
            plan: &plan,
            previous: previous.as_ref(),
            within: &within,
        },
    );

    // Cohort by site.
    if s.site.is_none() && !s.sites.is_empty() {
        let _ = write!(
            h,
            "<section><h2>Patients by site{within}</h2><table id=\"sites\"><thead><tr><th>site</th><th>patients</th></tr></thead><tbody>"
        );
        for ((site, _), (cell, _)) in s.sites.iter().zip(&cells.sites) {
            let _ = write!(
                h,
                "<tr><td>{}</td><td>{}</td></tr>",
                esc(site),
                esc(&plan.text(*cell))
            );
        }
        let _ = write!(
            h,
            "</tbody><tfoot><tr><td>all sites</td><td>{}</td></tr></tfoot></table>",
            esc(&plan.text(cells.patients))
        );
        if cells.sites.iter().any(|(c, _)| !plan.shown(*c)) {
            h.push_str("<p class=\"note\">&lt;5: fewer than 5 patients. –: hidden, here and everywhere in this report, so that a small site cannot be worked out from the totals.</p>");
        }
        h.push_str("</section>");
    }

    // Adherence.
    let _ = write!(
        h,
        "<section><h2>Adherence to the home programme{within}</h2>"
    );
    let (bars, y_max) = histogram_bars(&cells.histogram, &plan, |i| {
        format!("{}–{}%", i * 10, i * 10 + 10)
    });
    let ticks = nice_ticks(y_max);
    let _ = write!(
        h,
        "<figure id=\"adherence-histogram\">{}<figcaption>Patients by the share of their scheduled exercise days{within} on which they did each exercise (session adherence), <span class=\"total\">{}</span> patients. The dashed line marks the {} threshold for “adherent”.</figcaption></figure>",
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
        esc(&plan.text(cells.patients)),
        pct(s.adherence_threshold)
    );
    if s.site.is_none() {
        let rows: Vec<_> = s
            .sites
            .iter()
            .zip(&cells.sites)
            .filter_map(|((name, _), c)| {
                s.adherence_by_site
                    .iter()
                    .find(|g| &g.group == name)
                    .map(|g| (g, *c))
            })
            .collect();
        adherence_table(&mut h, "site", &rows, &plan, &|g| g.to_string());
    }
    let ex_rows: Vec<_> = s
        .adherence_by_exercise
        .iter()
        .zip(cells.exercises.iter().copied())
        .collect();
    let ex_bars: Vec<svg::Bar> = ex_rows
        .iter()
        .map(|(g, (n, a))| {
            let ok = plan.shown(*n) && plan.shown(*a) && g.spread.patients >= MIN_CELL;
            let share = g.adherent as f64 / g.spread.patients.max(1) as f64;
            svg::Bar {
                label: name_of(&g.group)
                    .split_whitespace()
                    .take(2)
                    .collect::<Vec<_>>()
                    .join(" "),
                value: ok.then_some(100.0 * share),
                text: if ok { pct(share) } else { "–".into() },
            }
        })
        .collect();
    let _ = write!(
        h,
        "<figure>{}<figcaption>Share of patients adherent to each exercise (≥ {} of its scheduled days{within} done).</figcaption></figure>",
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
    adherence_table(&mut h, "exercise", &ex_rows, &plan, &name_of);
    h.push_str("</section>");
    sections::adherence_by_week(&mut h, s, &cells.programme, &plan, &within);
    progress::dose(&mut h, s, &cells.progress, &plan, &name_of, &within);
    sections::dropout(&mut h, &cells.programme, &plan, &within);
    progress::ladders(&mut h, s, &cells.progress, &plan, &within);

    // Pain and ODI.
    for (title, weeks, week_cells, y_max, unit, measure, id) in [
        (
            "Pain over the programme",
            &s.pain,
            &cells.pain,
            10.0,
            "pain (NRS 0–10)",
            "pain",
            "pain",
        ),
        (
            "Disability (Oswestry Disability Index)",
            &s.odi,
            &cells.odi,
            100.0,
            "ODI (0–100)",
            "ODI",
            "odi",
        ),
    ] {
        let visible: Vec<_> = weeks
            .iter()
            .zip(week_cells.iter().copied())
            .filter(|(w, (n, _))| plan.shown(*n) && w.spread.patients >= MIN_CELL)
            .collect();
        if visible.is_empty() {
            continue;
        }
        let _ = write!(h, "<section><h2>{}{within}</h2>", esc(title));
        let points: Vec<svg::BandPoint> = visible
            .iter()
            .map(|(w, _)| svg::BandPoint {
                x: w.week as f64,
                median: w.spread.median,
                q1: w.spread.q1,
                q3: w.spread.q3,
            })
            .collect();
        let x_max = visible.last().map_or(1.0, |(w, _)| w.week as f64);
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
        let _ = write!(
            h,
            "<table id=\"{id}\"><thead><tr><th>week</th><th>patients</th><th>median (IQR)</th><th>responders</th></tr></thead><tbody>"
        );
        for (w, (n, r)) in &visible {
            let resp = if w.week == 0 || !plan.shown(*r) {
                "–".to_string()
            } else {
                pct(w.responders as f64 / w.spread.patients as f64)
            };
            let _ = write!(
                h,
                "<tr><td>{}</td><td>{}</td><td>{:.1} ({:.1}–{:.1})</td><td>{}</td></tr>",
                w.week,
                plan.text(*n),
                w.spread.median,
                w.spread.q1,
                w.spread.q3,
                resp
            );
        }
        h.push_str("</tbody></table><p class=\"note\">Responder: improved from the first measurement by ≥ 2 NRS points (10 ODI points) or ≥ 30% (IMMPACT).</p></section>");
    }

    // Safety.
    let _ = write!(
        h,
        "<section><h2>Safety{within}</h2><p>A <b>safety event</b> is an exercise continued at pain during of {}/10 or more (the rule is to stop). An exercise is <b>flagged unsuitable</b> for a patient when pain persisted more than {} minutes after it.</p>\
         <table id=\"safety\"><thead><tr><th>exercise</th><th>safety events</th><th>patients with events</th><th>patients flagged unsuitable</th></tr></thead><tbody>",
        s.stop_pain_during, s.unsuitable_persist_min
    );
    for (r, (ev, with, flagged)) in s.safety.iter().zip(&cells.safety) {
        let _ = write!(
            h,
            "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
            esc(&name_of(&r.exercise)),
            esc(&plan.text(*ev)),
            esc(&plan.text(*with)),
            esc(&plan.text(*flagged))
        );
    }
    let _ = write!(
        h,
        "</tbody><tfoot><tr><td>all exercises</td><td>{}</td><td></td><td></td></tr></tfoot></table><p class=\"note\">Event counts are hidden (–) where fewer than 5 patients had them, or where they would give away a hidden count.</p></section>",
        esc(&plan.text(cells.events))
    );
    sections::safety_by_month(&mut h, s, &cells.programme, &plan, cells.events, &within);

    // Walking.
    if let Some(w) = s
        .walking
        .as_ref()
        .filter(|w| plan.shown(cells.walking) && w.patients >= MIN_CELL)
    {
        let _ = write!(h, "<section><h2>Walking{within}</h2>");
        let (bars, y_max) = histogram_bars(&cells.walking_histogram, &plan, |i| {
            if i == 10 {
                "200+".into()
            } else {
                format!("{}–{}", i * 20, i * 20 + 20)
            }
        });
        let _ = write!(
            h,
            "<figure id=\"walking-histogram\">{}<figcaption>Patients by mean walking minutes per valid day (≥ 600 minutes of wear when wear time is known); median {:.0} min/day (IQR {:.0}–{:.0}), <span class=\"total\">{}</span> patients. Dashed lines: the HUNT study's categories (78, 101 and 125 min/day).</figcaption></figure></section>",
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
            esc(&plan.text(cells.walking))
        );
    }

    sections::delivered(&mut h, s);
    risk_section(&mut h, s, &cells, &plan);
    footer(&mut h);
    h
}

/// The follow-up cohort's walking-risk table (a population of its own).
fn risk_section(h: &mut String, s: &ClinicSummary, cells: &Cells, plan: &disclosure::Plan) {
    // Walking and risk.
    if let Some(r) = &s.risk {
        h.push_str("<section><h2>The follow-up study: walking and the risk of chronic low-back pain</h2><p><strong>A different cohort from the programme's patients above:</strong> the participants of the follow-up study in this store (all of them, not limited to a site or the window), by mean daily walking, and who had chronic low-back pain at follow-up, as in the HUNT study (JAMA Netw Open 2025). Risk ratios from modified Poisson regression with robust standard errors");
        if !r.adjusted_for.is_empty() {
            let _ = write!(h, ", adjusted for {}", esc(&r.adjusted_for.join(", ")));
        }
        h.push_str(".</p><table id=\"risk\"><thead><tr><th>walking (min/day)</th><th>participants</th><th>with chronic pain</th><th>risk</th><th>risk ratio (95% CI)</th></tr></thead><tbody>");
        let mut rows = Vec::new();
        for (row, (n, ev)) in r.rows.iter().zip(&cells.risk) {
            let ok = plan.shown(*n) && plan.shown(*ev);
            let rr = match (ok, row.rr) {
                (false, _) => "–".to_string(),
                (true, None) => "1 (reference)".to_string(),
                (true, Some((e, l, u))) => format!("{e:.2} ({l:.2}–{u:.2})"),
            };
            let _ = write!(
                h,
                "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
                esc(&row.category),
                esc(&plan.text(*n)),
                esc(&plan.text(*ev)),
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
            "<section><h2>The follow-up study: walking and risk</h2><p class=\"note\">Not shown: {}</p></section>",
            esc(note)
        );
    }
}

/// Bars of a histogram of patient counts as the plan shows them (hidden
/// bins drawn as a marker with `<5` or `–`), and a y-axis maximum from the
/// shown bins only (a hidden bin must not set the scale).
fn histogram_bars(
    cells: &[disclosure::Cell],
    plan: &disclosure::Plan,
    label: impl Fn(usize) -> String,
) -> (Vec<svg::Bar>, f64) {
    let shown_max = cells
        .iter()
        .filter(|&&c| plan.shown(c))
        .map(|&c| plan.value(c))
        .max()
        .unwrap_or(0);
    let y_max = (shown_max.max(5) as f64 * 1.15).ceil();
    let bars = cells
        .iter()
        .enumerate()
        .map(|(i, &c)| {
            let visible = plan.shown(c);
            svg::Bar {
                label: label(i),
                value: visible.then_some(plan.value(c) as f64),
                text: plan.text(c),
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
