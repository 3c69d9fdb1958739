//! An attacker on a rendered clinic report: reads every published number of
//! the tables, tiles, charts and captions that add up to one another, with
//! its table, row and column, writes down the linear relations a reader
//! knows (sites add up to the cohort in both site tables, histogram bins to
//! their caption's total, the bins from 70% up to the adherent tile, sites'
//! adherent to the tile, exercises' events to the safety total and the
//! tile; a rounded percentage p of n puts its numerator within
//! (p ± 0.5)·n/100), and solves for each hidden cell with a bounded integer
//! search. A hidden cell with one feasible value is recovered.
//!
//! It knows the report only from its HTML, not from the code that chose what
//! to hide; it shares only the integer search (`lumbar_report::disclosure::System`).

use lumbar_report::disclosure::{BUDGET, Lin, System};

const BIG: i64 = 1 << 40;

/// A number as printed.
#[derive(Debug, Clone, PartialEq)]
pub enum Shown {
    Count(i64),
    Percent(i64),
    /// `<5`: 1 to 4.
    Small,
    /// `–`: anything.
    Hidden,
    Text(String),
}

fn unescape(s: &str) -> String {
    s.replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&amp;", "&")
        .replace("&quot;", "\"")
        .replace("&#39;", "'")
}

fn strip_tags(s: &str) -> String {
    let mut out = String::new();
    let mut inside = false;
    for c in s.chars() {
        match c {
            '<' => inside = true,
            '>' => inside = false,
            c if !inside => out.push(c),
            _ => {}
        }
    }
    unescape(out.trim())
}

pub fn parse_value(s: &str) -> Shown {
    let t = s.trim();
    if t == "<5" {
        Shown::Small
    } else if t == "–" {
        Shown::Hidden
    } else if let Some(p) = t.strip_suffix('%').and_then(|p| p.parse().ok()) {
        Shown::Percent(p)
    } else if let Ok(n) = t.parse() {
        Shown::Count(n)
    } else {
        Shown::Text(t.to_string())
    }
}

/// The text between `open` (its first occurrence) and the next `close`.
fn between<'a>(h: &'a str, open: &str, close: &str) -> Option<&'a str> {
    let a = h.find(open)? + open.len();
    let b = h[a..].find(close)? + a;
    Some(&h[a..b])
}

/// Rows of a table, each its cells' text.
pub type Rows = Vec<Vec<String>>;

/// Rows of cells (`td`) of a table's body and foot, by its id.
pub fn table(h: &str, id: &str) -> Option<(Rows, Rows)> {
    let t = between(h, &format!("<table id=\"{id}\">"), "</table>")?;
    let rows = |part: &str| -> Vec<Vec<String>> {
        part.split("<tr>")
            .skip(1)
            .map(|r| {
                r.split("<td>")
                    .skip(1)
                    .map(|c| strip_tags(c.split("</td>").next().unwrap_or("")))
                    .collect()
            })
            .collect()
    };
    let body = between(t, "<tbody>", "</tbody>")
        .map(rows)
        .unwrap_or_default();
    let foot = between(t, "<tfoot>", "</tfoot>")
        .map(rows)
        .unwrap_or_default();
    Some((body, foot))
}

/// The tiles: (label, value).
pub fn cards(h: &str) -> Vec<(String, String)> {
    h.split("<div class=\"card\"><div class=\"v\">")
        .skip(1)
        .filter_map(|c| {
            let v = c.split("</div>").next()?;
            let k = between(c, "<div class=\"k\">", "</div>")?;
            Some((unescape(k), unescape(v)))
        })
        .collect()
}

/// A histogram figure's bar values and its caption's total.
pub fn histogram(h: &str, id: &str) -> Option<(Vec<String>, String)> {
    let f = between(h, &format!("<figure id=\"{id}\">"), "</figure>")?;
    let bars = f
        .split("class=\"val\">")
        .skip(1)
        .map(|t| unescape(t.split('<').next().unwrap_or("")))
        .collect();
    let total = unescape(between(f, "<span class=\"total\">", "</span>")?);
    Some((bars, total))
}

/// The unknowns and relations of one report.
#[derive(Default)]
struct Reader {
    lo: Vec<i64>,
    hi: Vec<i64>,
    cons: Vec<Lin>,
    /// (where, variable) of every hidden cell.
    hidden: Vec<(String, usize)>,
}

impl Reader {
    /// A count as printed: a constant, `<5` (1–4) or `–` (≥ 0).
    fn count(&mut self, at: String, s: &Shown) -> usize {
        let v = self.lo.len();
        let (lo, hi) = match s {
            Shown::Count(n) => (*n, *n),
            Shown::Small => (1, 4),
            _ => (0, BIG),
        };
        self.lo.push(lo);
        self.hi.push(hi);
        if lo != hi {
            self.hidden.push((at, v));
        }
        v
    }

    /// The numerator of a share of `of` as printed: within (p ± 0.5)·n/100,
    /// or (hidden) anything from 0 to n.
    fn share(&mut self, at: String, s: &Shown, of: usize) -> usize {
        let v = self.lo.len();
        self.lo.push(0);
        self.hi.push(BIG);
        match s {
            Shown::Percent(p) => {
                // 200·a − (2p − 1)·n ≥ 0 and 200·a − (2p + 1)·n ≤ 0.
                self.cons.push(Lin {
                    terms: vec![(v, 200), (of, -(2 * p - 1))],
                    lo: 0,
                    hi: BIG * 400,
                });
                self.cons.push(Lin {
                    terms: vec![(v, 200), (of, -(2 * p + 1))],
                    lo: -BIG * 400,
                    hi: 0,
                });
            }
            _ => {
                self.cons.push(Lin {
                    terms: vec![(v, 1), (of, -1)],
                    lo: -BIG,
                    hi: 0,
                });
                self.hidden.push((at, v));
            }
        }
        v
    }

    fn sum(&mut self, total: usize, parts: &[usize]) {
        let mut terms = vec![(total, 1)];
        terms.extend(parts.iter().map(|&p| (p, -1)));
        self.cons.push(Lin {
            terms,
            lo: 0,
            hi: 0,
        });
    }

    fn equal(&mut self, a: usize, b: usize) {
        self.sum(a, &[b]);
    }

    fn at_least(&mut self, a: usize, b: usize) {
        self.cons.push(Lin {
            terms: vec![(a, 1), (b, -1)],
            lo: 0,
            hi: BIG,
        });
    }
}

/// What the attacker found.
#[derive(Debug)]
pub struct Attack {
    /// Hidden cells with one feasible value: (where, value).
    pub recovered: Vec<(String, i64)>,
    /// Hidden cells examined.
    pub hidden: usize,
    /// Shown numbers read.
    pub shown: usize,
}

/// Reads a report and solves for its hidden cells.
pub fn attack(html: &str) -> Attack {
    let mut r = Reader::default();
    let mut shown = 0usize;
    let mut read = |s: &str| {
        let v = parse_value(s);
        if matches!(v, Shown::Count(_) | Shown::Percent(_)) {
            shown += 1;
        }
        v
    };
    let cards = cards(html);
    let card = |prefix: &str| {
        cards
            .iter()
            .find(|(k, _)| k.starts_with(prefix))
            .map(|(_, v)| v.clone())
    };
    let n = card("patients").map(|v| {
        let v = read(&v);
        r.count("tile patients".into(), &v)
    });
    let adherent = match (n, card("adherent (")) {
        (Some(n), Some(v)) => {
            let v = read(&v);
            Some(r.share("tile adherent".into(), &v, n))
        }
        // A tile left out says nothing; the count is still there to solve for.
        (Some(n), None) => Some(r.share("tile adherent".into(), &Shown::Hidden, n)),
        _ => None,
    };
    let events_tile = card("sessions continued at pain").map(|v| {
        let v = read(&v);
        r.count("tile events".into(), &v)
    });

    // Patients by site, and the same sites' adherence.
    let mut site_n: Vec<(String, usize)> = Vec::new();
    if let Some((body, foot)) = table(html, "sites") {
        for row in &body {
            let v = read(&row[1]);
            let c = r.count(format!("sites/{}/patients", row[0]), &v);
            site_n.push((row[0].clone(), c));
        }
        let parts: Vec<usize> = site_n.iter().map(|s| s.1).collect();
        if let Some(total) = foot.first() {
            let v = read(&total[1]);
            let t = r.count("sites/all sites/patients".into(), &v);
            r.sum(t, &parts);
            if let Some(n) = n {
                r.equal(n, t);
            }
        }
        if let Some(n) = n {
            r.sum(n, &parts);
        }
    }
    if let Some((body, _)) = table(html, "adherence-site") {
        let mut parts = Vec::new();
        for row in &body {
            let v = read(&row[1]);
            let c = r.count(format!("adherence-site/{}/patients", row[0]), &v);
            if let Some((_, same)) = site_n.iter().find(|(s, _)| s == &row[0]) {
                r.equal(c, *same);
            }
            let share = read(&row[3]);
            parts.push(r.share(format!("adherence-site/{}/adherent", row[0]), &share, c));
        }
        if let Some(a) = adherent {
            r.sum(a, &parts);
        }
    }

    // The adherence histogram: bins add up to the caption's total (the
    // cohort); with a 70% threshold the last three bins are the adherent.
    if let Some((bars, total)) = histogram(html, "adherence-histogram") {
        let bins: Vec<usize> = bars
            .iter()
            .enumerate()
            .map(|(i, b)| {
                let v = read(b);
                r.count(format!("adherence-histogram/bin {i}"), &v)
            })
            .collect();
        let t = read(&total);
        let t = r.count("adherence-histogram/total".into(), &t);
        r.sum(t, &bins);
        if let Some(n) = n {
            r.equal(n, t);
        }
        if let Some(a) = adherent
            && bins.len() == 10
            && html.contains("The dashed line marks the 70% threshold")
        {
            r.sum(a, &bins[7..]);
        }
    }

    // Safety: events add up to the table's total and the tile; events are
    // at least the patients with them.
    if let Some((body, foot)) = table(html, "safety") {
        let mut parts = Vec::new();
        for row in &body {
            let ev = read(&row[1]);
            let ev = r.count(format!("safety/{}/events", row[0]), &ev);
            let pe = read(&row[2]);
            let pe = r.count(format!("safety/{}/patients with events", row[0]), &pe);
            r.at_least(ev, pe);
            parts.push(ev);
        }
        if let Some(total) = foot.first() {
            let v = read(&total[1]);
            let t = r.count("safety/all exercises/events".into(), &v);
            r.sum(t, &parts);
            if let Some(e) = events_tile {
                r.equal(e, t);
            }
        }
        if let Some(e) = events_tile {
            r.sum(e, &parts);
        }
    }

    if let Some((bars, total)) = histogram(html, "walking-histogram") {
        let bins: Vec<usize> = bars
            .iter()
            .enumerate()
            .map(|(i, b)| {
                let v = read(b);
                r.count(format!("walking-histogram/bin {i}"), &v)
            })
            .collect();
        let t = read(&total);
        let t = r.count("walking-histogram/total".into(), &t);
        r.sum(t, &bins);
    }

    let sys = System::new(r.lo.clone(), r.hi.clone(), r.cons.clone());
    let Some(base) = solution(&sys, 0, r.lo[0], r.hi[0], "the report's own numbers") else {
        panic!("the attacker's relations must hold for the report's own numbers");
    };
    // A hidden cell is recovered when no solution gives it another value
    // than this one does: two questions per cell, each answered, not a
    // binary search of forty.
    let mut recovered = Vec::new();
    for (at, v) in &r.hidden {
        let t = base[*v];
        let other = |lo: i64, hi: i64| lo <= hi && solution(&sys, *v, lo, hi, at).is_some();
        if !other(t + 1, r.hi[*v]) && !other(r.lo[*v], t - 1) {
            recovered.push((at.clone(), t));
        }
    }
    Attack {
        recovered,
        hidden: r.hidden.len(),
        shown,
    }
}

/// A solution with unknown `v` in `lo..=hi`, or none. The attacker is
/// patient: where the report's own search (`BUDGET` nodes) gives up, it
/// searches 50 and then 250 times longer (in a run over several hundred
/// generated cohorts, 9 questions outran the report's budget and all were
/// answered within 50 times it), and only then says it cannot tell.
fn solution(sys: &System, v: usize, lo: i64, hi: i64, at: &str) -> Option<Vec<i64>> {
    for budget in [BUDGET, 50 * BUDGET, 250 * BUDGET] {
        if let Some(found) = sys.solution_within(v, lo, hi, budget) {
            return found;
        }
    }
    panic!("the attacker's search does not finish for {at} in {lo}..={hi}");
}

/// The attacker works: on a table suppressed per cell only (the old rule),
/// the small site comes out.
#[test]
fn the_attacker_recovers_a_site_hidden_in_one_table_only() {
    let html = "<div class=\"card\"><div class=\"v\">200</div><div class=\"k\">patients</div></div>\
        <table id=\"sites\"><tbody><tr><td>east</td><td>45</td></tr><tr><td>island</td><td>&lt;5</td></tr>\
        <tr><td>north</td><td>63</td></tr><tr><td>south</td><td>54</td></tr><tr><td>west</td><td>–</td></tr></tbody>\
        <tfoot><tr><td>all sites</td><td>200</td></tr></tfoot></table>\
        <table id=\"adherence-site\"><tbody><tr><td>east</td><td>45</td><td>x</td><td>22%</td></tr>\
        <tr><td>island</td><td>&lt;5</td><td>–</td><td>–</td></tr><tr><td>north</td><td>63</td><td>x</td><td>30%</td></tr>\
        <tr><td>south</td><td>54</td><td>x</td><td>24%</td></tr><tr><td>west</td><td>35</td><td>x</td><td>37%</td></tr></tbody></table>";
    let a = attack(html);
    assert!(
        a.recovered
            .iter()
            .any(|(at, v)| at == "sites/island/patients" && *v == 3),
        "{a:?}"
    );
    // Tile shows 1 event where the table hides the only row with events.
    let html = "<div class=\"card\"><div class=\"v\">1</div><div class=\"k\">sessions continued at pain ≥ 7</div></div>\
        <table id=\"safety\"><tbody><tr><td>bridge</td><td>–</td><td>&lt;5</td><td>0</td></tr>\
        <tr><td>dead bug</td><td>0</td><td>0</td><td>0</td></tr></tbody></table>";
    let a = attack(html);
    assert!(
        a.recovered
            .iter()
            .any(|(at, v)| at == "safety/bridge/events" && *v == 1),
        "{a:?}"
    );
}
