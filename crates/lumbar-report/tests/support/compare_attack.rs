//! An attacker on the headline tiles of a report made with `--compare-to`
//! (issue 21, item 3): each tile shows this period's figure, the previous
//! period's and the change. It writes down what a reader knows of the
//! counts (this period's patients are the sum of the sites; a change is the
//! difference of the two periods' patients, its sign shown) and solves for
//! each hidden count with the integer search `attack.rs` uses; and it
//! fails every change shown beside a figure not shown in either period (a
//! share, rate or change of shares gives the hidden figure away by
//! subtraction as a count does).

use lumbar_report::disclosure::{BUDGET, Lin, System};

const BIG: i64 = 1 << 40;

/// One tile: (label, this period, previous period, change).
pub type Tile = (String, String, Option<(String, String)>);

fn unescape(s: &str) -> String {
    s.replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&amp;", "&")
        .replace("&quot;", "\"")
        .replace("&#39;", "'")
}

fn between<'a>(h: &'a str, open: &str, close: &str) -> Option<&'a str> {
    let a = h.find(open)? + open.len();
    let b = h[a..].find(close)? + a;
    Some(&h[a..b])
}

/// The tiles with what the previous period shows beside them.
pub fn tiles(html: &str) -> Vec<Tile> {
    html.split("<div class=\"card\"><div class=\"v\">")
        .skip(1)
        .filter_map(|c| {
            let v = c.split("</div>").next()?;
            let k = between(c, "<div class=\"k\">", "</div>")?;
            let card = c.split("</div></div>").next()?;
            let was = between(card, "<span class=\"p\">", "</span>").and_then(|p| {
                Some((
                    unescape(p),
                    unescape(between(card, "<span class=\"d\">", "</span>")?),
                ))
            });
            Some((unescape(k), unescape(v), was))
        })
        .collect()
}

fn hidden(text: &str) -> bool {
    matches!(text.trim(), "–" | "<5")
}

/// Hidden counts recovered ((where, value)), changes shown beside a hidden
/// figure (labels), and how many hidden counts were examined.
pub fn attack_compare(html: &str) -> (Vec<(String, i64)>, Vec<String>, usize) {
    let tiles = tiles(html);
    let mut leaks = Vec::new();
    for (k, now, was) in &tiles {
        if let Some((before, change)) = was
            && !hidden(change)
            && (hidden(now) || hidden(before))
        {
            leaks.push(k.clone());
        }
    }

    let (mut lo, mut hi, mut cons) = (Vec::new(), Vec::new(), Vec::new());
    let mut unknowns: Vec<(String, usize)> = Vec::new();
    let mut count = |at: String, text: &str| -> usize {
        let v = lo.len();
        let (a, b) = match text.trim() {
            "<5" => (1, 4),
            t => match t.parse::<i64>() {
                Ok(n) => (n, n),
                Err(_) => (0, BIG),
            },
        };
        lo.push(a);
        hi.push(b);
        if a != b {
            unknowns.push((at, v));
        }
        v
    };
    let Some((_, now, Some((before, change)))) =
        tiles.iter().find(|(k, _, _)| k.starts_with("patients"))
    else {
        return (Vec::new(), leaks, 0);
    };
    let n = count("patients/this period".into(), now);
    let p = count("patients/previous period".into(), before);
    let d = count(
        "patients/change".into(),
        change.trim_start_matches(['+', '−']),
    );
    // n − p = ±d, the sign as shown (a hidden change: either sign).
    if change.starts_with('−') {
        cons.push(Lin {
            terms: vec![(p, 1), (n, -1), (d, -1)],
            lo: 0,
            hi: 0,
        });
    } else if !hidden(change) {
        cons.push(Lin {
            terms: vec![(n, 1), (p, -1), (d, -1)],
            lo: 0,
            hi: 0,
        });
    }
    // This period's sites add up to its patients.
    if let Some(t) = between(html, "<table id=\"sites\">", "</table>")
        && let Some(body) = between(t, "<tbody>", "</tbody>")
    {
        let mut parts = vec![(n, 1)];
        for row in body.split("<tr>").skip(1) {
            let cells: Vec<&str> = row
                .split("<td>")
                .skip(1)
                .map(|c| c.split("</td>").next().unwrap_or(""))
                .collect();
            if cells.len() >= 2 {
                let c = count(format!("sites/{}", cells[0]), &unescape(cells[1]));
                parts.push((c, -1));
            }
        }
        cons.push(Lin {
            terms: parts,
            lo: 0,
            hi: 0,
        });
    }

    let sys = System::new(lo.clone(), hi.clone(), cons);
    let solve = |v: usize, a: i64, b: i64| -> Option<Vec<i64>> {
        if a > b {
            return None;
        }
        for budget in [BUDGET, 50 * BUDGET, 250 * BUDGET] {
            if let Some(found) = sys.solution_within(v, a, b, budget) {
                return found;
            }
        }
        panic!("the search does not finish for unknown {v}");
    };
    let base = solve(0, lo[0], hi[0]).expect("the report's own numbers satisfy its relations");
    let mut recovered = Vec::new();
    for (at, v) in &unknowns {
        let t = base[*v];
        if solve(*v, t + 1, hi[*v]).is_none() && solve(*v, lo[*v], t - 1).is_none() {
            recovered.push((at.clone(), t));
        }
    }
    (recovered, leaks, unknowns.len())
}
