//! The report's sections over programme weeks and months (issue 21, item
//! 2): adherence by programme week, dropout, safety events per 100
//! sessions by month, and the programme as delivered (CERT). Every count
//! they publish is a cell of the report's one disclosure model
//! ([`cells`]), with the relations a reader can use: a week's patients are
//! at most the cohort, dropout's at-risk chain (those at risk at the start
//! of an interval are those at risk at the next, plus those who dropped out
//! and those censored in it, and week 0's are the cohort), and months'
//! sessions and safety events add up to the totals (the events to the
//! safety tile and table).

use std::fmt::Write;

use lumbar_analysis::clinic::{ClinicSummary, DropoutInterval, pooled};

use crate::charts::{self, Step};
use crate::disclosure::{Cell, Model, Plan};
use crate::svg::{self, Axes, Bar};
use crate::{MIN_CELL, esc, nice_ticks, pct};

/// The cells of these sections.
pub(crate) struct ProgrammeCells {
    /// Per programme week of `adherence_by_week`: patients scheduled.
    weeks: Vec<Cell>,
    /// The dropout curve's intervals (weeks pooled until each count can be
    /// shown)…
    pub(crate) intervals: Vec<DropoutInterval>,
    /// …and their cells: at risk, dropped out, censored.
    dropout: Vec<(Cell, Cell, Cell)>,
    /// Per month: patients logging, sessions, patients with events, events.
    months: Vec<(Cell, Cell, Cell, Cell)>,
    /// Sessions in all months.
    pub(crate) sessions: Cell,
}

/// Adds these sections' counts to the report's model. `patients` is the
/// cohort's cell, `events` the safety tile's.
pub(crate) fn cells(
    m: &mut Model,
    s: &ClinicSummary,
    patients: Cell,
    events: Cell,
) -> ProgrammeCells {
    let weeks = s
        .adherence_by_week
        .iter()
        .map(|w| {
            let n = m.patients(w.patients);
            m.at_most(n, patients);
            if w.patients == s.patients {
                // Without a window every patient is scheduled in week 0:
                // a reader may know the two are one number.
                m.sum(patients, vec![n]);
            }
            n
        })
        .collect();

    let intervals = pooled(&s.dropout, MIN_CELL);
    let mut dropout: Vec<(Cell, Cell, Cell)> = Vec::new();
    for (i, iv) in intervals.iter().enumerate() {
        // Week 0's at risk are the cohort: one cell.
        let r = if i == 0 && iv.at_risk == s.patients {
            patients
        } else {
            m.patients(iv.at_risk)
        };
        dropout.push((r, m.share(iv.dropped, r), m.share(iv.censored, r)));
    }
    for (i, &(r, d, c)) in dropout.iter().enumerate() {
        match dropout.get(i + 1) {
            Some(&(next, _, _)) => m.sum(r, vec![next, d, c]),
            None if intervals[i].at_risk == intervals[i].dropped + intervals[i].censored => {
                m.sum(r, vec![d, c])
            }
            None => {}
        }
    }

    let months: Vec<(Cell, Cell, Cell, Cell)> = s
        .safety_by_month
        .iter()
        .map(|mo| {
            let p = m.patients(mo.patients);
            let n = m.events(mo.sessions, mo.patients, Some(p));
            let pe = m.patients(mo.patients_with_events);
            m.at_most(pe, p);
            let e = m.events(mo.events, mo.patients_with_events, Some(pe));
            (p, n, pe, e)
        })
        .collect();
    let sessions = m.events(s.sessions, s.patients, Some(patients));
    if !months.is_empty() {
        m.sum(sessions, months.iter().map(|c| c.1).collect());
        m.sum(events, months.iter().map(|c| c.3).collect());
    }
    ProgrammeCells {
        weeks,
        intervals,
        dropout,
        months,
        sessions,
    }
}

/// A bar per programme week: the share of scheduled sessions done, where
/// the week's patients are shown and 5 or more (else a hidden marker).
pub(crate) fn week_bars(s: &ClinicSummary, c: &ProgrammeCells, plan: &Plan) -> Vec<Bar> {
    s.adherence_by_week
        .iter()
        .zip(&c.weeks)
        .map(|(w, &n)| {
            let ok = plan.shown(n) && w.patients >= MIN_CELL;
            Bar {
                label: w.week.to_string(),
                value: ok.then(|| 100.0 * w.share()),
                text: if ok { pct(w.share()) } else { "–".into() },
            }
        })
        .collect()
}

/// How many of the dropout curve's steps are shown: a step is shown while
/// every count it rests on is (the at-risk and dropped-out counts of its
/// interval and all before it: a later step with an earlier one hidden
/// would give the hidden one away).
pub(crate) fn visible_steps(c: &ProgrammeCells, plan: &Plan) -> usize {
    c.intervals
        .iter()
        .zip(&c.dropout)
        .take_while(|(iv, (r, d, _))| plan.shown(*r) && plan.shown(*d) && iv.at_risk >= MIN_CELL)
        .count()
}

/// Adherence by programme week: a bar per week with the threshold's line,
/// and the table beside it.
pub(crate) fn adherence_by_week(
    h: &mut String,
    s: &ClinicSummary,
    c: &ProgrammeCells,
    plan: &Plan,
    within: &str,
) {
    if s.adherence_by_week.is_empty() {
        return;
    }
    let shown = |n: Cell, patients: usize| plan.shown(n) && patients >= MIN_CELL;
    let bars = week_bars(s, c, plan);
    let threshold = pct(s.adherence_threshold);
    let _ = write!(
        h,
        "<section id=\"adherence-by-week\"><h2>Adherence by programme week{within}</h2>\
         <figure>{}<figcaption>Share of the scheduled exercise days done in each programme week (week 0 is the first 7 days from a patient's start), over the patients with something scheduled that week{within}; the dashed line is the {threshold} threshold for “adherent”. Weeks with fewer than {MIN_CELL} patients are not shown (–).</figcaption></figure>",
        charts::bars_with_level(
            "Share of scheduled sessions done, by programme week",
            &bars,
            &Axes {
                y_max: 100.0,
                y_ticks: &[0.0, 25.0, 50.0, 75.0, 100.0],
                y_fmt: &|t| format!("{t:.0}%"),
                x_title: "programme week",
                y_title: "scheduled sessions done",
            },
            (100.0 * s.adherence_threshold, &threshold),
        )
    );
    h.push_str("<table id=\"adherence-week\"><thead><tr><th>week</th><th>patients</th><th>scheduled sessions done</th></tr></thead><tbody>");
    for (w, &n) in s.adherence_by_week.iter().zip(&c.weeks) {
        let _ = write!(
            h,
            "<tr><td>{}</td><td>{}</td><td>{}</td></tr>",
            w.week,
            esc(&plan.text(n)),
            if shown(n, w.patients) {
                pct(w.share())
            } else {
                "–".into()
            }
        );
    }
    h.push_str("</tbody></table><p class=\"note\">A move prescribed daily is scheduled on each day of the week inside the patient's follow-up, a move of N days a week on N of them; days done count up to what was scheduled (as the adherence above, with the programme week for the ISO week).</p></section>");
}

/// Dropout: the share still logging, Kaplan–Meier on intervals of weeks.
pub(crate) fn dropout(h: &mut String, c: &ProgrammeCells, plan: &Plan, within: &str) {
    if c.intervals.is_empty() {
        return;
    }
    let visible = visible_steps(c, plan);
    let mut points = vec![Step { x: 0.0, y: 100.0 }];
    points.extend(c.intervals[..visible].iter().map(|iv| Step {
        x: f64::from(iv.last_week + 1),
        y: 100.0 * iv.still_logging,
    }));
    let end = c.intervals[..visible]
        .last()
        .map_or(0.0, |iv| f64::from(iv.last_week + 1));
    let x_max = c
        .intervals
        .last()
        .map_or(1.0, |iv| f64::from(iv.last_week + 1));
    let _ = write!(
        h,
        "<section id=\"dropout\"><h2>Dropout{within}</h2>\
         <p>A patient has <b>dropped out</b> in the programme week of their last logged session (week 0 if they logged none) when at least 7 more days of their follow-up passed without one. A patient whose last session falls in the final 7 days of their follow-up is still logging: they are <b>censored</b> at its end, which is the end of their programme (their last outcome or session){}. Each patient is followed from their own programme start.</p>\
         <figure>{}<figcaption>Share of patients still logging sessions by programme week (Kaplan–Meier). Weeks are pooled into one step until the dropouts, the censored and the patients left in it are each none or at least {MIN_CELL}; censoring within a step counts at its end. The curve stops where a count it rests on is hidden.</figcaption></figure>",
        if within.is_empty() {
            " or the data cut-off"
        } else {
            ", the data cut-off or the window's end"
        },
        charts::steps(
            "Share of patients still logging, by programme week",
            &points,
            end,
            x_max,
            &Axes {
                y_max: 100.0,
                y_ticks: &[0.0, 25.0, 50.0, 75.0, 100.0],
                y_fmt: &|t| format!("{t:.0}%"),
                x_title: "programme week",
                y_title: "still logging",
            },
        )
    );
    h.push_str("<table id=\"dropout-weeks\"><thead><tr><th>weeks</th><th>at risk</th><th>dropped out</th><th>censored</th><th>still logging at the end</th></tr></thead><tbody>");
    for (i, (iv, &(r, d, cen))) in c.intervals.iter().zip(&c.dropout).enumerate() {
        let weeks = if iv.first_week == iv.last_week {
            iv.first_week.to_string()
        } else {
            format!("{}–{}", iv.first_week, iv.last_week)
        };
        let _ = write!(
            h,
            "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
            esc(&weeks),
            esc(&plan.text(r)),
            esc(&plan.text(d)),
            esc(&plan.text(cen)),
            if i < visible {
                pct(iv.still_logging)
            } else {
                "–".into()
            }
        );
    }
    h.push_str("</tbody></table></section>");
}

/// Safety events per 100 sessions by calendar month.
pub(crate) fn safety_by_month(
    h: &mut String,
    s: &ClinicSummary,
    c: &ProgrammeCells,
    plan: &Plan,
    events: Cell,
    within: &str,
) {
    if s.safety_by_month.is_empty() {
        return;
    }
    let label = |year: i32, month: u32| {
        chrono::NaiveDate::from_ymd_opt(year, month, 1).map_or_else(
            || format!("{year}-{month:02}"),
            |d| d.format("%b %Y").to_string(),
        )
    };
    let rate = |p: Cell, n: Cell, e: Cell, patients: usize| {
        plan.shown(p) && plan.shown(n) && plan.shown(e) && patients >= MIN_CELL
    };
    let bars: Vec<Bar> = s
        .safety_by_month
        .iter()
        .zip(&c.months)
        .map(|(mo, &(p, n, _, e))| {
            let ok = rate(p, n, e, mo.patients);
            Bar {
                label: label(mo.year, mo.month),
                value: ok.then(|| mo.per_100()),
                text: if ok {
                    format!("{:.2}", mo.per_100())
                } else {
                    "–".into()
                },
            }
        })
        .collect();
    let top = bars
        .iter()
        .filter_map(|b| b.value)
        .fold(0.0f64, f64::max)
        .max(0.5);
    let y_max = top * 1.2;
    let ticks = nice_ticks(y_max);
    let _ = write!(
        h,
        "<section id=\"safety-by-month\"><h2>Safety events by month{within}</h2>\
         <figure>{}<figcaption>Safety events (an exercise continued at pain during of {}/10 or more) per 100 logged sessions, by calendar month{within}. Months whose events or sessions come from fewer than {MIN_CELL} patients are not shown (–).</figcaption></figure>",
        svg::bars(
            "Safety events per 100 sessions, by month",
            &bars,
            &Axes {
                y_max,
                y_ticks: &ticks,
                y_fmt: &|t| format!("{t:.1}"),
                x_title: "month",
                y_title: "events per 100 sessions",
            },
            &[],
        ),
        s.stop_pain_during
    );
    h.push_str("<table id=\"safety-month\"><thead><tr><th>month</th><th>patients logging</th><th>sessions</th><th>safety events</th><th>patients with events</th><th>per 100 sessions</th></tr></thead><tbody>");
    for (mo, &(p, n, pe, e)) in s.safety_by_month.iter().zip(&c.months) {
        let _ = write!(
            h,
            "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
            esc(&label(mo.year, mo.month)),
            esc(&plan.text(p)),
            esc(&plan.text(n)),
            esc(&plan.text(e)),
            esc(&plan.text(pe)),
            if rate(p, n, e, mo.patients) {
                format!("{:.2}", mo.per_100())
            } else {
                "–".into()
            }
        );
    }
    let total_events: usize = s.safety.iter().map(|r| r.events).sum();
    let overall = if plan.shown(c.sessions) && plan.shown(events) && s.sessions > 0 {
        format!("{:.2}", 100.0 * total_events as f64 / s.sessions as f64)
    } else {
        "–".into()
    };
    let _ = write!(
        h,
        "</tbody><tfoot><tr><td>all months</td><td></td><td>{}</td><td>{}</td><td></td><td>{}</td></tr></tfoot></table><p class=\"note\">Sessions are logged exercise rows of any move; events are counted as in the safety table, whose total they add up to.</p></section>",
        esc(&plan.text(c.sessions)),
        esc(&plan.text(events)),
        overall
    );
}

/// The programme as the regimen describes it, in CERT's terms (Slade et
/// al. 2016): no patient's data.
pub(crate) fn delivered(h: &mut String, s: &ClinicSummary) {
    let d = &s.delivered;
    let _ = write!(
        h,
        "<section id=\"delivered\"><h2>The programme as delivered</h2><p>The home programme as its regimen ({}) prescribes it, in the terms of the Consensus on Exercise Reporting Template (CERT, Slade et al. 2016). It describes the prescription, not the patients: every patient above was prescribed this unless the clinic recorded their own prescription.</p>\
         <table id=\"delivered-dosage\"><thead><tr><th>exercise (CERT 8)</th><th>sets</th><th>reps</th><th>hold (s)</th><th>frequency</th><th>sides</th></tr></thead><tbody>",
        esc(&d.regimen)
    );
    for e in &d.exercises {
        let assumed = if e.assumed.is_empty() {
            String::new()
        } else {
            format!(" ({} assumed)", e.assumed.join(", "))
        };
        let _ = write!(
            h,
            "<tr><td>{}{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
            esc(&e.name),
            esc(&assumed),
            esc(&e.sets),
            esc(&e.reps),
            esc(e.hold_s.as_deref().unwrap_or("–")),
            esc(&e.frequency),
            esc(&e.sides)
        );
    }
    h.push_str("</tbody></table><p class=\"note\">Assumed: the source leaves the value open and the regimen file takes it.</p><table id=\"delivered-rules\" class=\"text\"><thead><tr><th>CERT item</th><th>as delivered</th></tr></thead><tbody>");
    let mut row = |item: &str, text: &str| {
        let _ = write!(h, "<tr><td>{}</td><td>{}</td></tr>", esc(item), text);
    };
    let ladders: Vec<String> = d
        .ladders
        .iter()
        .map(|l| format!("<b>{}</b>: {}", esc(&l.name), esc(&l.rungs.join(" → "))))
        .collect();
    row(
        "Progression (7a, 7b): ladders, easiest rung first",
        &if ladders.is_empty() {
            "none in the regimen".into()
        } else {
            ladders.join("; ")
        },
    );
    let mut tailoring: Vec<String> = Vec::new();
    for l in &d.ladders {
        for a in &l.alternatives {
            tailoring.push(format!("{}: {}", esc(&l.name), esc(a)));
        }
    }
    row(
        "Tailoring (14a, 14b): alternatives",
        &if tailoring.is_empty() {
            "none in the regimen".into()
        } else {
            tailoring.join("; ")
        },
    );
    let excluded: Vec<String> = d
        .ladders
        .iter()
        .flat_map(|l| l.excluded.iter())
        .map(|x| esc(x))
        .collect();
    if !excluded.is_empty() {
        row("Ruled out", &excluded.join("; "));
    }
    if let Some(p) = &d.posture {
        row("Posture cue (10, no dose)", &esc(p));
    }
    row(
        "Adverse events (11)",
        &esc(&format!(
            "stop an exercise at pain during of {}/10 or more (continuing is a safety event); an exercise after which pain persists more than {} minutes is unsuitable for that patient",
            d.stop_pain_during, d.unsuitable_persist_min
        )),
    );
    row(
        "Adherence (16a): how measured",
        &esc(&format!(
            "logged sessions: scheduled days with the exercise done / scheduled days, from each move's frequency; a patient is adherent at {} or more (MiSpEx)",
            pct(d.adherence_threshold)
        )),
    );
    h.push_str("</tbody></table></section>");
}
