//! The report's sections on what patients did of the prescription (issue
//! 21, item 2): prescribed against performed dose per exercise, and ladder
//! rungs reached over programme weeks where levels are logged. Every count
//! is a cell of the report's one disclosure model ([`cells`]) with the
//! relations a reader can use: an exercise's sessions with a dose are the
//! sessions below, inside and above the range; a week's patients on a
//! ladder are those at each rung; each is at most the cohort.

use std::fmt::Write;

use lumbar_analysis::clinic::{ABOVE, BELOW, ClinicSummary, IN_RANGE};

use crate::charts::{self, Stack};
use crate::disclosure::{Cell, Model, Plan};
use crate::{MIN_CELL, esc, pct};

/// The cells of these sections.
pub(crate) struct ProgressCells {
    /// Per exercise of `dose`: patients, sessions with a dose, and the
    /// sessions below, inside and above the range.
    dose: Vec<(Cell, Cell, [Cell; 3])>,
    /// Per ladder of `ladders`, per week: patients, and those at each rung.
    ladders: Vec<Vec<(Cell, Vec<Cell>)>>,
}

/// Adds these sections' counts to the model; `patients` is the cohort's cell.
pub(crate) fn cells(m: &mut Model, s: &ClinicSummary, patients: Cell) -> ProgressCells {
    let dose = s
        .dose
        .iter()
        .map(|row| {
            let p = m.patients(row.patients);
            m.at_most(p, patients);
            let n = m.events(row.total(), row.patients, Some(p));
            // Sessions of the patients who had them: hidden when those
            // patients are 1–4, and with the exercise's patients.
            let by = [BELOW, IN_RANGE, ABOVE].map(|k| {
                let c = m.events(row.sessions[k], row.patients_by[k], None);
                m.link(p, c);
                c
            });
            m.sum(n, by.to_vec());
            (p, n, by)
        })
        .collect();
    let ladders = shown_ladders(s)
        .map(|l| {
            l.weeks
                .iter()
                .map(|w| {
                    let n = m.patients(w.patients);
                    m.at_most(n, patients);
                    // Counts of patients (<5 when 1–4), hidden with the week's.
                    let at: Vec<Cell> = w
                        .at_rung
                        .iter()
                        .map(|&k| {
                            let c = m.patients(k);
                            m.link(n, c);
                            c
                        })
                        .collect();
                    m.sum(n, at.clone());
                    (n, at)
                })
                .collect()
        })
        .collect();
    ProgressCells { dose, ladders }
}

/// The ladders the report shows: those with a rung to progress to (a
/// ladder of one rung, walking, has no progression to show).
fn shown_ladders(
    s: &ClinicSummary,
) -> impl Iterator<Item = &lumbar_analysis::clinic::LadderProgress> {
    s.ladders.iter().filter(|l| l.rungs.len() > 1)
}

const BELOW_COLOUR: &str = "#e0a23b";
const IN_COLOUR: &str = "#3b6ea5";
const ABOVE_COLOUR: &str = "#c0392b";

/// Prescribed against performed dose: per exercise, the share of sessions
/// with a dose logged below, inside and above the prescribed range.
pub(crate) fn dose(
    h: &mut String,
    s: &ClinicSummary,
    c: &ProgressCells,
    plan: &Plan,
    names: &dyn Fn(&str) -> String,
    within: &str,
) {
    if s.dose.iter().all(|r| r.total() == 0) {
        return;
    }
    // A row's shares are shown when its patients (5 or more), its sessions
    // and all three parts are.
    let shown = |row: &lumbar_analysis::clinic::DoseByExercise,
                 &(p, n, by): &(Cell, Cell, [Cell; 3])| {
        row.patients >= MIN_CELL
            && row.total() > 0
            && plan.shown(p)
            && plan.shown(n)
            && by.iter().all(|&b| plan.shown(b))
    };
    let columns: Vec<Stack> = s
        .dose
        .iter()
        .zip(&c.dose)
        .map(|(row, cells)| Stack {
            label: names(&row.exercise)
                .split_whitespace()
                .take(2)
                .collect::<Vec<_>>()
                .join(" "),
            shares: shown(row, cells).then(|| {
                row.sessions
                    .iter()
                    .map(|&k| 100.0 * k as f64 / row.total() as f64)
                    .collect()
            }),
        })
        .collect();
    let _ = write!(
        h,
        "<section id=\"dose\"><h2>Prescribed against performed dose{within}</h2>\
         <p>For each exercise, the logged sessions{within} with a full dose (sets and reps, and the hold where the move has one), by where <b>sets × reps × hold</b> falls against the prescribed range of the same product (the patient's own prescription, or the regimen's): below its lower end, inside it, or above its upper end.</p>\
         <figure>{}<figcaption>Share of each exercise's sessions with a dose below, inside and above the prescribed range. Exercises whose sessions come from fewer than {MIN_CELL} patients, or with a part hidden, are not shown (–).</figcaption></figure>",
        charts::stacked(
            "Sessions below, inside and above the prescribed dose, by exercise",
            &columns,
            &[
                ("below the range", BELOW_COLOUR),
                ("in range", IN_COLOUR),
                ("above the range", ABOVE_COLOUR)
            ],
            "exercise",
            "sessions",
        )
    );
    h.push_str("<table id=\"dose-table\"><thead><tr><th>exercise</th><th>patients</th><th>sessions with a dose</th><th>below</th><th>in range</th><th>above</th></tr></thead><tbody>");
    for (row, cells) in s.dose.iter().zip(&c.dose) {
        let (p, n, by) = *cells;
        let ok = row.patients >= MIN_CELL && row.total() > 0 && plan.shown(n);
        let share = |k: usize| {
            if ok && plan.shown(by[k]) {
                pct(row.sessions[k] as f64 / row.total() as f64)
            } else {
                "–".into()
            }
        };
        let _ = write!(
            h,
            "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
            esc(&names(&row.exercise)),
            esc(&plan.text(p)),
            esc(&plan.text(n)),
            share(BELOW),
            share(IN_RANGE),
            share(ABOVE)
        );
    }
    h.push_str("</tbody></table><p class=\"note\">Shares of the sessions with a dose. A part is hidden (–) where its sessions come from fewer than 5 patients, or where it would give a hidden part away.</p></section>");
}

/// Ladder rungs reached over programme weeks, one chart and table per
/// ladder whose levels are logged.
pub(crate) fn ladders(
    h: &mut String,
    s: &ClinicSummary,
    c: &ProgressCells,
    plan: &Plan,
    within: &str,
) {
    if shown_ladders(s).next().is_none() {
        return;
    }
    let _ = write!(
        h,
        "<section id=\"progression\"><h2>Progression along the ladders{within}</h2>\
         <p>Where sessions log the rung of a ladder (the <code>level</code> column), the patients followed in each programme week who had logged the ladder by its end, by the highest rung they had reached.</p>"
    );
    const COLOURS: [&str; 6] = [
        "#c6dbef", "#6baed6", "#2171b5", "#08306b", "#e0a23b", "#c0392b",
    ];
    for (i, (l, weeks)) in shown_ladders(s).zip(&c.ladders).enumerate() {
        let shown = |w: &lumbar_analysis::clinic::LadderWeek, (n, at): &(Cell, Vec<Cell>)| {
            w.patients >= MIN_CELL && plan.shown(*n) && at.iter().all(|&a| plan.shown(a))
        };
        let columns: Vec<Stack> = l
            .weeks
            .iter()
            .zip(weeks)
            .map(|(w, cells)| Stack {
                label: w.week.to_string(),
                shares: shown(w, cells).then(|| {
                    w.at_rung
                        .iter()
                        .map(|&k| 100.0 * k as f64 / w.patients as f64)
                        .collect()
                }),
            })
            .collect();
        let series: Vec<(String, &str)> = l
            .rungs
            .iter()
            .enumerate()
            .map(|(k, r)| (crate::svg::shorten(r, 28), COLOURS[k % COLOURS.len()]))
            .collect();
        let series: Vec<(&str, &str)> = series.iter().map(|(n, c)| (n.as_str(), *c)).collect();
        let _ = write!(
            h,
            "<figure id=\"ladder-{i}\">{}<figcaption>{}: patients by the highest rung reached, by programme week{within}. Weeks with fewer than {MIN_CELL} patients on the ladder, or with a count hidden, are not shown (–).</figcaption></figure>",
            charts::stacked(
                &format!("{}: highest rung reached by programme week", l.ladder),
                &columns,
                &series,
                "programme week",
                "patients",
            ),
            esc(&l.ladder)
        );
        let _ = write!(
            h,
            "<table id=\"ladder-table-{i}\"><thead><tr><th>week</th><th>patients</th>"
        );
        for r in &l.rungs {
            let _ = write!(h, "<th>{}</th>", esc(r));
        }
        h.push_str("</tr></thead><tbody>");
        for (w, (n, at)) in l.weeks.iter().zip(weeks) {
            let _ = write!(h, "<tr><td>{}</td><td>{}</td>", w.week, esc(&plan.text(*n)));
            for &a in at {
                let _ = write!(h, "<td>{}</td>", esc(&plan.text(a)));
            }
            h.push_str("</tr>");
        }
        h.push_str("</tbody></table>");
    }
    h.push_str("<p class=\"note\">&lt;5: fewer than 5 patients. –: hidden, so that a small count cannot be worked out from the week's total.</p></section>");
}
