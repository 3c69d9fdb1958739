//! The report's first page (issue 21, items 1 and 3): the headline tiles
//! (patients, share adherent, pain responders, safety events per 100
//! sessions, still logging) with the context beside them (enrolment,
//! follow-up, the safety-event count), two small charts (adherence by
//! programme week, median pain by week), and with `--compare-to` each
//! headline figure beside the same figure of the previous period and the
//! change. Printed, it is one A4 page (`#summary` breaks the page after it).
//!
//! Every count here is a cell of the report's one disclosure model: the
//! previous period's too ([`previous_cells`]), with the relations a reader
//! can use (a change of a count is the difference of the two counts,
//! [`Model::difference`]; a share's numerator is at most its group). A
//! share, rate or change is shown only while every count it rests on is.

use std::fmt::Write;

use lumbar_analysis::clinic::{ClinicSummary, DropoutInterval, WeekMeasure, pooled};

use crate::disclosure::{Cell, Model, Plan, small};
use crate::svg::{self, Axes, BandPoint};
use crate::{Cells, MIN_CELL, charts, esc, pct, sections};

/// The previous period's headline counts, cells of the report's model.
pub(crate) struct Previous<'a> {
    pub(crate) s: &'a ClinicSummary,
    patients: Cell,
    /// This period's patients against the previous period's.
    change: Cell,
    adherent: Option<Cell>,
    /// The pain week both periods' tiles show, with the previous period's
    /// patients measured and responders in it.
    pain: Option<(u32, Cell, Cell)>,
    events: Cell,
    sessions: Cell,
}

/// Adds the previous period's headline counts to the model: its patients
/// (and their change from this period's), adherent, pain responders at the
/// week both tiles show, safety events and sessions (the rate's parts).
pub(crate) fn previous_cells<'a>(
    m: &mut Model,
    s: &ClinicSummary,
    cells: &Cells,
    prev: &'a ClinicSummary,
) -> Previous<'a> {
    let patients = m.patients(prev.patients);
    let change = m.difference(cells.patients, patients);
    let adherent = prev
        .adherence
        .as_ref()
        .map(|a| m.share(a.adherent, patients));
    let pain = common_pain_week(s, prev).and_then(|w| {
        let p = prev.pain.iter().find(|x| x.week == w)?;
        let n = m.patients(p.spread.patients);
        m.at_most(n, patients);
        Some((w, n, m.share(p.responders, n)))
    });
    let total_events: usize = prev.safety.iter().map(|r| r.events).sum();
    let events = m.events(total_events, prev.patients_with_events, None);
    let sessions = m.events(prev.sessions, prev.patients, Some(patients));
    Previous {
        s: prev,
        patients,
        change,
        adherent,
        pain,
        events,
        sessions,
    }
}

/// Whether a week's responders can be shown by the rule alone: 5 or more
/// measured, responders and the rest none or 5 or more.
fn pain_ok(w: &WeekMeasure) -> bool {
    w.week > 0
        && w.spread.patients >= MIN_CELL
        && !small(w.responders)
        && !small(w.spread.patients - w.responders.min(w.spread.patients))
}

/// The last programme week (after week 0) whose responders both periods
/// could show: the pain tile compares like with like.
fn common_pain_week(s: &ClinicSummary, prev: &ClinicSummary) -> Option<u32> {
    s.pain
        .iter()
        .rev()
        .filter(|w| pain_ok(w))
        .map(|w| w.week)
        .find(|&wk| prev.pain.iter().any(|p| p.week == wk && pain_ok(p)))
}

/// The share still logging at the end of week `week` (steps at the ends of
/// the intervals), over the first `visible` intervals.
fn still_logging_at(intervals: &[DropoutInterval], visible: usize, week: u32) -> Option<f64> {
    let shown = &intervals[..visible.min(intervals.len())];
    if shown.last().is_none_or(|iv| iv.last_week + 1 < week) {
        return None;
    }
    Some(
        shown
            .iter()
            .take_while(|iv| iv.last_week < week)
            .last()
            .map_or(1.0, |iv| iv.still_logging),
    )
}

/// How many of the previous period's dropout intervals its figure rests
/// on: those whose counts the rule would show (its table is not published,
/// so no relation of it reaches a reader).
fn previous_visible(intervals: &[DropoutInterval]) -> usize {
    intervals
        .iter()
        .take_while(|iv| {
            iv.at_risk >= MIN_CELL
                && !small(iv.dropped)
                && !small(iv.censored)
                && !small(iv.at_risk - iv.dropped)
        })
        .count()
}

/// A change as shown: with its sign (a true minus), `unit` after it.
fn signed(x: f64, decimals: usize, unit: &str) -> String {
    let t = format!("{:+.*}", decimals, x);
    let t = if t
        .trim_start_matches(['+', '-'])
        .chars()
        .all(|c| c == '0' || c == '.')
    {
        // −0.00 and +0 are no change.
        t.trim_start_matches(['+', '-']).to_string()
    } else {
        t.replace('-', "−")
    };
    format!("{t}{unit}")
}

/// One tile: the figure, what it is, and with a comparison the previous
/// period's figure and the change.
fn tile(h: &mut String, value: &str, label: &str, was: Option<(String, String)>) {
    let _ = write!(
        h,
        "<div class=\"card\"><div class=\"v\">{}</div><div class=\"k\">{}</div>",
        esc(value),
        esc(label)
    );
    if let Some((before, change)) = was {
        let _ = write!(
            h,
            "<div class=\"was\">previous: <span class=\"p\">{}</span> · change <span class=\"d\">{}</span></div>",
            esc(&before),
            esc(&change)
        );
    }
    h.push_str("</div>");
}

/// What the first page needs beside the summary and the plan.
pub(crate) struct FirstPage<'a> {
    pub(crate) cells: &'a Cells,
    pub(crate) plan: &'a Plan,
    pub(crate) previous: Option<&'a Previous<'a>>,
    /// ", FROM to TO" or empty: every windowed figure names its window.
    pub(crate) within: &'a str,
}

/// The first page: headline tiles and two small charts.
pub(crate) fn first_page(h: &mut String, s: &ClinicSummary, f: &FirstPage<'_>) {
    let (cells, plan, within) = (f.cells, f.plan, f.within);
    let prog = &cells.programme;
    h.push_str("<section id=\"summary\">");
    if let Some(p) = f.previous {
        let _ = write!(
            h,
            "<p class=\"note\" id=\"compare-note\">Beside each headline figure: the same figure for the previous period, {}, and the change from it (pts: percentage points). A figure of fewer than {MIN_CELL} patients is not shown in either period, nor a change beside it.</p>",
            esc(&period_text(p.s))
        );
    }
    h.push_str("<div class=\"cards\">");
    let was = |before: Option<String>, change: Option<String>| {
        f.previous.map(|_| {
            (
                before.unwrap_or_else(|| "–".into()),
                change.unwrap_or_else(|| "–".into()),
            )
        })
    };

    // Patients.
    let was_patients = f.previous.map(|p| {
        let d = plan.value(p.change) as f64;
        let d = if p.s.patients > s.patients { -d } else { d };
        (
            plan.text(p.patients),
            if plan.shown(p.change) {
                signed(d, 0, "")
            } else {
                "–".into()
            },
        )
    });
    tile(
        h,
        &plan.text(cells.patients),
        &format!("patients{within}"),
        was_patients,
    );

    // Share adherent.
    let adherent_now = match (&s.adherence, cells.adherent) {
        (Some(a), Some(c)) if plan.shown(c) => {
            Some(a.adherent as f64 / a.spread.patients.max(1) as f64)
        }
        _ => None,
    };
    let adherent_before = f.previous.and_then(|p| match (&p.s.adherence, p.adherent) {
        (Some(a), Some(c)) if plan.shown(c) && plan.shown(p.patients) => {
            Some(a.adherent as f64 / a.spread.patients.max(1) as f64)
        }
        _ => None,
    });
    if adherent_now.is_some() || adherent_before.is_some() {
        tile(
            h,
            &adherent_now.map_or("–".into(), pct),
            &format!(
                "adherent (≥ {} of sessions){within}",
                pct(s.adherence_threshold)
            ),
            was(
                adherent_before.map(pct),
                adherent_now
                    .zip(adherent_before)
                    .map(|(a, b)| signed(100.0 * (a - b), 0, " pts")),
            ),
        );
    }

    // Pain responders: the last week shown, or with a comparison the last
    // week both periods can show.
    let pain_now = |w: u32| {
        s.pain
            .iter()
            .zip(&cells.pain)
            .find(|(x, (n, r))| x.week == w && plan.shown(*n) && plan.shown(*r))
            .map(|(x, _)| x.responders as f64 / x.spread.patients as f64)
    };
    match f.previous.filter(|p| p.pain.is_some()) {
        None => {
            // Without a comparison, or without a week both periods can
            // show: this period's last week shown, the previous one's
            // figure not shown.
            if let Some((w, _)) = s
                .pain
                .iter()
                .zip(&cells.pain)
                .rev()
                .find(|(w, (n, r))| w.week > 0 && plan.shown(*n) && plan.shown(*r))
            {
                tile(
                    h,
                    &pct(w.responders as f64 / w.spread.patients as f64),
                    &format!("pain responders at week {}{within}", w.week),
                    was(None, None),
                );
            }
        }
        Some(p) => {
            if let Some((week, n, r)) = p.pain {
                let now = pain_now(week);
                let before = (plan.shown(n) && plan.shown(r))
                    .then(|| p.s.pain.iter().find(|x| x.week == week))
                    .flatten()
                    .map(|x| x.responders as f64 / x.spread.patients as f64);
                if now.is_some() || before.is_some() {
                    tile(
                        h,
                        &now.map_or("–".into(), pct),
                        &format!("pain responders at week {week}{within}"),
                        was(
                            before.map(pct),
                            now.zip(before)
                                .map(|(a, b)| signed(100.0 * (a - b), 0, " pts")),
                        ),
                    );
                }
            }
        }
    }

    // Safety events per 100 sessions.
    let total_events = |x: &ClinicSummary| x.safety.iter().map(|r| r.events).sum::<usize>();
    let rate_now = (plan.shown(cells.events) && plan.shown(prog.sessions) && s.sessions > 0)
        .then(|| 100.0 * total_events(s) as f64 / s.sessions as f64);
    let rate_before = f.previous.and_then(|p| {
        (plan.shown(p.events) && plan.shown(p.sessions) && p.s.sessions > 0)
            .then(|| 100.0 * total_events(p.s) as f64 / p.s.sessions as f64)
    });
    if rate_now.is_some() || rate_before.is_some() {
        tile(
            h,
            &rate_now.map_or("–".into(), |r| format!("{r:.2}")),
            &format!("safety events per 100 sessions{within}"),
            was(
                rate_before.map(|r| format!("{r:.2}")),
                rate_now.zip(rate_before).map(|(a, b)| signed(a - b, 2, "")),
            ),
        );
    }

    // Still logging: the dropout curve at the end of its last shown step
    // (with a comparison, at the last week both curves reach).
    let visible = sections::visible_steps(prog, plan);
    let end_now = prog.intervals[..visible].last().map(|iv| iv.last_week + 1);
    let before_curve = f.previous.map(|p| {
        let iv = pooled(&p.s.dropout, MIN_CELL);
        let v = previous_visible(&iv);
        (iv, v)
    });
    let week = match &before_curve {
        None => end_now,
        Some((iv, v)) => {
            let end_before = iv[..*v].last().map(|i| i.last_week + 1);
            match (end_now, end_before) {
                (Some(a), Some(b)) => Some(a.min(b)),
                (a, b) => a.or(b),
            }
        }
    };
    if let Some(week) = week {
        let now = still_logging_at(&prog.intervals, visible, week);
        let before = before_curve
            .as_ref()
            .and_then(|(iv, v)| still_logging_at(iv, *v, week));
        if now.is_some() || before.is_some() {
            tile(
                h,
                &now.map_or("–".into(), pct),
                &format!("still logging at the end of week {week}{within}"),
                was(
                    before.map(pct),
                    now.zip(before)
                        .map(|(a, b)| signed(100.0 * (a - b), 0, " pts")),
                ),
            );
        }
    }

    // Context: when they enrolled, how long they were followed, and the
    // safety events as a count (the rate's numerator).
    if let Some((a, b)) = s.enrolled {
        tile(
            h,
            &format!("{} – {}", a.format("%b %Y"), b.format("%b %Y")),
            "enrolled",
            None,
        );
    }
    if let Some(fw) = &s.followup_weeks {
        tile(
            h,
            &format!("{:.1} weeks", fw.median),
            &format!("median follow-up{within}"),
            None,
        );
    }
    tile(
        h,
        &plan.text(cells.events),
        &format!(
            "sessions continued at pain ≥ {}{within}",
            s.stop_pain_during
        ),
        None,
    );
    h.push_str("</div>");
    minis(h, s, cells, plan);
    h.push_str("</section>");
}

/// The two small charts of the first page: adherence by programme week and
/// median pain by week, each drawn from the cells the full sections show.
fn minis(h: &mut String, s: &ClinicSummary, cells: &Cells, plan: &Plan) {
    let bars = sections::week_bars(s, &cells.programme, plan);
    let points = pain_points(s, cells, plan);
    if bars.is_empty() && points.is_empty() {
        return;
    }
    h.push_str("<div class=\"minis\">");
    if !bars.is_empty() {
        let threshold = pct(s.adherence_threshold);
        let _ = write!(
            h,
            "<figure id=\"summary-adherence\">{}<figcaption>At a glance, adherence: scheduled sessions done by programme week (dashed: the {threshold} threshold). Details on the following pages.</figcaption></figure>",
            charts::bars_with_level(
                "Scheduled sessions done by programme week (summary)",
                &bars,
                &Axes {
                    y_max: 100.0,
                    y_ticks: &[0.0, 25.0, 50.0, 75.0, 100.0],
                    y_fmt: &|t| format!("{t:.0}%"),
                    x_title: "programme week",
                    y_title: "sessions done",
                },
                (100.0 * s.adherence_threshold, &threshold),
            )
        );
    }
    if !points.is_empty() {
        let x_max = points.last().map_or(1.0, |p| p.x);
        let _ = write!(
            h,
            "<figure id=\"summary-pain\">{}<figcaption>At a glance, pain: median NRS by programme week, with the middle half of patients shaded.</figcaption></figure>",
            svg::band(
                "Median pain by programme week (summary)",
                &points,
                x_max,
                &Axes {
                    y_max: 10.0,
                    y_ticks: &[0.0, 2.0, 4.0, 6.0, 8.0, 10.0],
                    y_fmt: &|t| format!("{t:.0}"),
                    x_title: "programme week",
                    y_title: "pain (NRS 0–10)",
                },
            )
        );
    }
    h.push_str("</div>");
}

/// The pain weeks the report shows: 5 or more measured, their count shown.
pub(crate) fn pain_points(s: &ClinicSummary, cells: &Cells, plan: &Plan) -> Vec<BandPoint> {
    s.pain
        .iter()
        .zip(&cells.pain)
        .filter(|(w, (n, _))| plan.shown(*n) && w.spread.patients >= MIN_CELL)
        .map(|(w, _)| BandPoint {
            x: w.week as f64,
            median: w.spread.median,
            q1: w.spread.q1,
            q3: w.spread.q3,
        })
        .collect()
}

/// A summary's period as the header says it: its window, or the span of
/// the data (first to latest session) where the window leaves it open.
pub(crate) fn period_text(s: &ClinicSummary) -> String {
    match (s.from.or(s.data_from), s.to.or(s.data_cutoff)) {
        (Some(a), Some(b)) => format!("{a} to {b}"),
        (Some(a), None) => format!("from {a}"),
        (None, Some(b)) => format!("to {b}"),
        (None, None) => "no sessions".into(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn changes_carry_a_true_minus_and_no_sign_for_none() {
        assert_eq!(signed(3.0, 0, ""), "+3");
        assert_eq!(signed(-12.4, 0, " pts"), "−12 pts");
        assert_eq!(signed(-0.001, 2, ""), "0.00");
        assert_eq!(signed(0.0, 0, " pts"), "0 pts");
    }

    fn iv(first: u32, last: u32, at_risk: usize, dropped: usize, still: f64) -> DropoutInterval {
        DropoutInterval {
            first_week: first,
            last_week: last,
            at_risk,
            dropped,
            censored: 0,
            still_logging: still,
        }
    }

    #[test]
    fn the_curve_is_read_at_the_end_of_a_week() {
        let ivs = [iv(0, 1, 40, 10, 0.75), iv(2, 4, 30, 6, 0.6)];
        // End of week 2 (x = 2): after the first step only.
        assert_eq!(still_logging_at(&ivs, 2, 2), Some(0.75));
        assert_eq!(still_logging_at(&ivs, 2, 5), Some(0.6));
        assert_eq!(still_logging_at(&ivs, 2, 0), Some(1.0));
        // Past the last step shown: nothing.
        assert_eq!(still_logging_at(&ivs, 1, 5), None);
    }
}
