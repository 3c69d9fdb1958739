//! An attacker on the clinic report's programme-week sections (issue 21,
//! item 2), beside `tests/e2e/attack.rs` (whose table readers and integer
//! search it uses): shared by the e2e tests on the demo and lumbar-report's
//! attack on generated cohorts.

/// An attacker on the programme-week sections (issue 21, item 2) and the
/// tables they add up with: the patients tile and the sites, the safety
/// table and its tile, adherence by week, dropout's at-risk chain and the
/// months of safety. It writes down every relation a reader knows (a week's
/// patients are at most the cohort and, without a window, week 0's are the
/// cohort; at risk = at risk next + dropped out + censored, week 0's being
/// the cohort; a month's sessions are at least its patients, its events at
/// least the patients with them, who are at most those logging; months'
/// sessions add up to the footer, their events to the footer, the safety
/// table and the tile) and solves for each hidden cell with the integer
/// search `attack.rs` uses. Also the dose table (an exercise's sessions are
/// at least its patients and add up to the parts below, inside and above
/// the range, shown as shares) and the ladder tables (a week's patients add
/// up to those at each rung). Returns the hidden cells it recovered and
/// how many it examined.
pub fn attack_programme(html: &str, windowed: bool) -> (Vec<(String, i64)>, usize) {
    use crate::attack::{Shown, cards, parse_value, table};
    use lumbar_report::disclosure::{BUDGET, Lin, System};
    const BIG: i64 = 1 << 40;

    #[derive(Default)]
    struct Reader {
        lo: Vec<i64>,
        hi: Vec<i64>,
        cons: Vec<Lin>,
        hidden: Vec<(String, usize)>,
    }
    impl Reader {
        fn count(&mut self, at: String, text: &str) -> usize {
            let v = self.lo.len();
            let (lo, hi) = match parse_value(text) {
                Shown::Count(n) => (n, n),
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
        fn lin(&mut self, terms: Vec<(usize, i64)>, lo: i64, hi: i64) {
            self.cons.push(Lin { terms, lo, hi });
        }
        fn sum(&mut self, total: usize, parts: &[usize]) {
            let mut t = vec![(total, 1)];
            t.extend(parts.iter().map(|&p| (p, -1)));
            self.lin(t, 0, 0);
        }
        fn at_least(&mut self, a: usize, b: usize) {
            self.lin(vec![(a, 1), (b, -1)], 0, BIG);
        }
        /// A count shown as a rounded percentage p of `of`: within
        /// (p ± 0.5)·of/100; hidden (`–`), anything up to `of`.
        fn share(&mut self, at: String, text: &str, of: usize) -> usize {
            let v = self.lo.len();
            self.lo.push(0);
            self.hi.push(BIG);
            match text
                .trim()
                .strip_suffix('%')
                .and_then(|p| p.parse::<i64>().ok())
            {
                Some(p) => {
                    self.lin(vec![(v, 200), (of, -(2 * p - 1))], 0, BIG * 400);
                    self.lin(vec![(v, 200), (of, -(2 * p + 1))], -BIG * 400, 0);
                }
                None => {
                    self.lin(vec![(v, 1), (of, -1)], -BIG, 0);
                    self.hidden.push((at, v));
                }
            }
            v
        }
    }

    let mut r = Reader::default();
    let cards = cards(html);
    let card = |prefix: &str| {
        cards
            .iter()
            .find(|(k, _)| k.starts_with(prefix))
            .map(|(_, v)| v.clone())
    };
    let n = r.count("tile patients".into(), &card("patients").unwrap());
    let events = card("sessions continued at pain").map(|v| r.count("tile events".into(), &v));
    if let Some((body, foot)) = table(html, "sites") {
        let parts: Vec<usize> = body
            .iter()
            .map(|row| r.count(format!("sites/{}", row[0]), &row[1]))
            .collect();
        r.sum(n, &parts);
        if let Some(t) = foot.first() {
            let t = r.count("sites/all".into(), &t[1]);
            r.sum(t, &parts);
        }
    }
    if let Some((body, foot)) = table(html, "safety") {
        let mut parts = Vec::new();
        for row in &body {
            let ev = r.count(format!("safety/{}/events", row[0]), &row[1]);
            let pe = r.count(format!("safety/{}/patients", row[0]), &row[2]);
            r.at_least(ev, pe);
            parts.push(ev);
        }
        let t = r.count("safety/all".into(), &foot[0][1]);
        r.sum(t, &parts);
        if let Some(e) = events {
            r.sum(e, &[t]);
        }
    }
    let (weeks, _) = table(html, "adherence-week").unwrap_or_default();
    for row in &weeks {
        let c = r.count(format!("adherence-week/{}", row[0]), &row[1]);
        r.at_least(n, c);
        if row[0] == "0" && !windowed {
            r.sum(n, &[c]);
        }
    }
    let (dropout, _) = table(html, "dropout-weeks").unwrap_or_default();
    let mut chain: Vec<(usize, usize, usize)> = Vec::new();
    for row in &dropout {
        let at = |c: &str| format!("dropout/{}/{c}", row[0]);
        let risk = r.count(at("at risk"), &row[1]);
        let d = r.count(at("dropped"), &row[2]);
        let c = r.count(at("censored"), &row[3]);
        chain.push((risk, d, c));
    }
    if let Some(&(first, _, _)) = chain.first() {
        r.sum(n, &[first]);
    }
    for (i, &(risk, d, c)) in chain.iter().enumerate() {
        match chain.get(i + 1) {
            Some(&(next, _, _)) => r.sum(risk, &[next, d, c]),
            None => r.sum(risk, &[d, c]),
        }
    }
    let (months, foot) = table(html, "safety-month").unwrap_or_default();
    let (mut sessions, mut month_events) = (Vec::new(), Vec::new());
    for row in &months {
        let at = |c: &str| format!("safety-month/{}/{c}", row[0]);
        let p = r.count(at("patients"), &row[1]);
        let s = r.count(at("sessions"), &row[2]);
        let e = r.count(at("events"), &row[3]);
        let pe = r.count(at("patients with events"), &row[4]);
        r.at_least(s, p);
        r.at_least(e, pe);
        r.at_least(p, pe);
        sessions.push(s);
        month_events.push(e);
    }
    if let Some(foot) = foot.first() {
        let total_sessions = r.count("safety-month/all/sessions".into(), &foot[2]);
        let total_events = r.count("safety-month/all/events".into(), &foot[3]);
        r.sum(total_sessions, &sessions);
        r.sum(total_events, &month_events);
        if let Some(e) = events {
            r.sum(e, &[total_events]);
        }
    }

    // Dose: an exercise's sessions with a dose are at least its patients
    // and the sum of the sessions below, inside and above (shown as shares
    // of them); its patients are at most the cohort.
    let (dose, _) = table(html, "dose-table").unwrap_or_default();
    for row in &dose {
        let at = |c: &str| format!("dose/{}/{c}", row[0]);
        let p = r.count(at("patients"), &row[1]);
        let total = r.count(at("sessions"), &row[2]);
        r.at_least(n, p);
        r.at_least(total, p);
        let parts: Vec<usize> = [(3, "below"), (4, "in range"), (5, "above")]
            .iter()
            .map(|&(i, c)| r.share(at(c), &row[i], total))
            .collect();
        r.sum(total, &parts);
    }
    // Ladders: a week's patients are those at each rung, at most the cohort.
    for i in 0.. {
        let Some((weeks, _)) = table(html, &format!("ladder-table-{i}")) else {
            break;
        };
        for row in &weeks {
            let at = |c: &str| format!("ladder {i}/{}/{c}", row[0]);
            let w = r.count(at("patients"), &row[1]);
            r.at_least(n, w);
            let parts: Vec<usize> = row[2..]
                .iter()
                .enumerate()
                .map(|(k, t)| r.count(at(&format!("rung {k}")), t))
                .collect();
            r.sum(w, &parts);
        }
    }

    let sys = System::new(r.lo.clone(), r.hi.clone(), r.cons.clone());
    let solve = |v: usize, lo: i64, hi: i64| -> Option<Vec<i64>> {
        if lo > hi {
            return None;
        }
        for budget in [BUDGET, 50 * BUDGET, 250 * BUDGET] {
            if let Some(found) = sys.solution_within(v, lo, hi, budget) {
                return found;
            }
        }
        panic!("the search does not finish for unknown {v}");
    };
    let base = solve(0, r.lo[0], r.hi[0]).expect("the report's own numbers satisfy its relations");
    let mut recovered = Vec::new();
    for (at, v) in &r.hidden {
        let t = base[*v];
        if solve(*v, t + 1, r.hi[*v]).is_none() && solve(*v, r.lo[*v], t - 1).is_none() {
            recovered.push((at.clone(), t));
        }
    }
    (recovered, r.hidden.len())
}
