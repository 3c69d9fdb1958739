//! Disclosure control over the whole report: every count the report
//! publishes (in a table, a headline tile, a chart or a caption) is one
//! [`Cell`] of one [`Model`], with the linear relations a reader can use
//! between cells (a total is the sum of its parts, a numerator is at most
//! its denominator); [`Model::decide`] chooses once what is hidden, and
//! every place a cell appears asks the [`Plan`].
//!
//! The rule:
//! - a count of 1–4 patients is hidden (`<5`), and so is a count of events
//!   among 1–4 patients (`–`); a share is hidden when its group has fewer
//!   than 5 patients or when its numerator or the rest of the group is 1–4
//!   patients (a rounded percentage of a group under 100 gives the count);
//! - a group hidden in one place is hidden everywhere: a cell is one value
//!   wherever it appears, and hiding a group's count hides its shares
//!   (links);
//! - complementary suppression: while some hidden cell is determined by the
//!   shown cells and the relations (its value is the same in every
//!   assignment of non-negative integers to the hidden cells that satisfies
//!   the relations and what their marks say: `<5` is 1–4), another cell of
//!   a relation that determines it is hidden: a part before a total, the
//!   smallest first, the first that leaves the cell undetermined if one
//!   does. A shown share counts as giving its numerator exactly (more than
//!   a rounded percentage gives), so the check errs on the side of hiding.
//!
//! Zero is shown: it identifies no one.

/// A published count.
pub type Cell = usize;

/// Bounds of a count the reader does not see (far above any cohort).
const UNBOUNDED: i64 = 1 << 40;

#[derive(Debug, Clone)]
struct CellInfo {
    value: i64,
    /// Hidden by the rule itself (not to protect another cell).
    primary: bool,
    /// A primary cell is shown as `<5` (so a reader knows it is 1–4);
    /// otherwise hidden cells are `–`.
    small_mark: bool,
}

/// The cells of a report and the relations between them.
#[derive(Debug, Clone, Default)]
pub struct Model {
    cells: Vec<CellInfo>,
    /// total = Σ parts.
    sums: Vec<(Cell, Vec<Cell>)>,
    /// a ≤ b.
    at_most: Vec<(Cell, Cell)>,
    /// a hidden ⇒ b hidden.
    links: Vec<(Cell, Cell)>,
}

/// Whether a count of patients is small (1–4).
pub fn small(n: usize) -> bool {
    n > 0 && n < crate::MIN_CELL
}

impl Model {
    fn push(&mut self, value: usize, primary: bool, small_mark: bool) -> Cell {
        self.cells.push(CellInfo {
            value: value as i64,
            primary,
            small_mark,
        });
        self.cells.len() - 1
    }

    /// A count of patients: hidden (`<5`) when 1–4.
    pub fn patients(&mut self, n: usize) -> Cell {
        self.push(n, small(n), true)
    }

    /// The numerator of a share of the group counted by `of`: hidden when
    /// the group has fewer than 5 patients or is hidden, or when the
    /// numerator or the rest of the group is 1–4 patients.
    pub fn share(&mut self, numerator: usize, of: Cell) -> Cell {
        let n = self.cells[of].value.max(0) as usize;
        let primary = n < crate::MIN_CELL || small(numerator) || small(n.saturating_sub(numerator));
        let c = self.push(numerator, primary, false);
        self.at_most.push((c, of));
        self.links.push((of, c));
        c
    }

    /// A count of events among `patients` patients (a cell or not): hidden
    /// (`–`) when they are 1–4, and at least as many as those patients.
    pub fn events(&mut self, events: usize, patients: usize, cell: Option<Cell>) -> Cell {
        let c = self.push(events, small(patients), false);
        if let Some(p) = cell {
            self.at_most.push((p, c));
            self.links.push((p, c));
        }
        c
    }

    /// `a` is at most `b`, as a reader knows (the patients of one week are
    /// at most the cohort).
    pub fn at_most(&mut self, a: Cell, b: Cell) {
        self.at_most.push((a, b));
    }

    /// The difference of two published counts (a figure beside the same
    /// figure of another period, with the change): a cell of `|a − b|`
    /// with the relation a reader uses, the larger is the smaller plus the
    /// change. A change beside a hidden count would give it away by
    /// subtraction, so hiding either count hides the change (links), and
    /// the relation lets [`Model::decide`] protect a count that the other
    /// and the change would pin.
    pub fn difference(&mut self, a: Cell, b: Cell) -> Cell {
        let (va, vb) = (self.cells[a].value, self.cells[b].value);
        let d = self.push(va.abs_diff(vb) as usize, false, false);
        if va >= vb {
            self.sums.push((a, vec![b, d]));
        } else {
            self.sums.push((b, vec![a, d]));
        }
        self.links.push((a, d));
        self.links.push((b, d));
        d
    }

    /// Hiding `a` hides `b` (a group's count and a figure of the group).
    pub fn link(&mut self, a: Cell, b: Cell) {
        self.links.push((a, b));
    }

    /// `total` is the sum of `parts`.
    pub fn sum(&mut self, total: Cell, parts: Vec<Cell>) {
        if !parts.is_empty() {
            self.sums.push((total, parts));
        }
    }

    /// Decides what is hidden (see the module's rule).
    pub fn decide(self) -> Plan {
        let n = self.cells.len();
        let mut hidden: Vec<bool> = self.cells.iter().map(|c| c.primary).collect();
        self.close_links(&mut hidden);
        // Determined cells that no shown cell can protect (a share of an
        // empty group): passed over, so that the cells after them are
        // still protected.
        let mut stuck = vec![false; n];
        // Each round hides one more cell or passes one over, so this ends.
        for _ in 0..=2 * n {
            let Some(cell) =
                (0..n).find(|&c| hidden[c] && !stuck[c] && self.determined(c, &hidden))
            else {
                break;
            };
            let mut candidates = self.direct_candidates(cell, &hidden);
            if candidates.is_empty() {
                // Determined through hidden cells alone (the patients with
                // an event, between 1 and an event count a total pins): the
                // shown cells of the relations those hidden cells are in.
                candidates = self.reachable_candidates(cell, &hidden);
            }
            let Some(&first) = candidates.first() else {
                stuck[cell] = true; // determined by nothing shown
                continue;
            };
            let pick = candidates
                .iter()
                .copied()
                .find(|&c| {
                    let mut trial = hidden.clone();
                    trial[c] = true;
                    self.close_links(&mut trial);
                    !self.determined(cell, &trial)
                })
                .unwrap_or(first);
            hidden[pick] = true;
            self.close_links(&mut hidden);
        }
        Plan {
            cells: self.cells,
            hidden,
        }
    }

    /// The shown cells of the relations `cell` is in: parts of its sums
    /// first, then totals and the other sides of its bounds, each the
    /// smallest first.
    fn direct_candidates(&self, cell: Cell, hidden: &[bool]) -> Vec<Cell> {
        let mut parts: Vec<Cell> = Vec::new();
        let mut totals: Vec<Cell> = Vec::new();
        for (t, ps) in self
            .sums
            .iter()
            .filter(|(t, ps)| *t == cell || ps.contains(&cell))
        {
            parts.extend(ps.iter().copied().filter(|&p| !hidden[p]));
            if !hidden[*t] {
                totals.push(*t);
            }
        }
        for &(a, b) in self
            .at_most
            .iter()
            .filter(|(a, b)| *a == cell || *b == cell)
        {
            for x in [a, b] {
                if !hidden[x] {
                    totals.push(x);
                }
            }
        }
        let by_value = |v: &mut Vec<Cell>| {
            v.sort_by_key(|&c| (self.cells[c].value, c));
            v.dedup();
        };
        by_value(&mut parts);
        by_value(&mut totals);
        parts.into_iter().chain(totals).collect()
    }

    /// The shown cells of every relation reachable from `cell` through
    /// hidden cells, the smallest first.
    fn reachable_candidates(&self, cell: Cell, hidden: &[bool]) -> Vec<Cell> {
        let mut seen = vec![false; self.cells.len()];
        let mut queue = vec![cell];
        seen[cell] = true;
        let mut out = Vec::new();
        while let Some(x) = queue.pop() {
            let sums = self
                .sums
                .iter()
                .filter(|(t, ps)| *t == x || ps.contains(&x))
                .flat_map(|(t, ps)| std::iter::once(*t).chain(ps.iter().copied()));
            let bounds = self
                .at_most
                .iter()
                .filter(|(a, b)| *a == x || *b == x)
                .flat_map(|&(a, b)| [a, b]);
            for y in sums.chain(bounds).collect::<Vec<_>>() {
                if seen[y] {
                    continue;
                }
                seen[y] = true;
                if hidden[y] {
                    queue.push(y);
                } else {
                    out.push(y);
                }
            }
        }
        out.sort_by_key(|&c| (self.cells[c].value, c));
        out
    }

    fn close_links(&self, hidden: &mut [bool]) {
        loop {
            let mut changed = false;
            for &(a, b) in &self.links {
                if hidden[a] && !hidden[b] {
                    hidden[b] = true;
                    changed = true;
                }
            }
            if !changed {
                break;
            }
        }
    }

    /// The system a reader faces: hidden cells are unknowns with the bounds
    /// their marks give, shown cells are constants.
    fn system(&self, hidden: &[bool]) -> System {
        let mut var = vec![usize::MAX; self.cells.len()];
        let mut lo = Vec::new();
        let mut hi = Vec::new();
        for (c, info) in self.cells.iter().enumerate() {
            if hidden[c] {
                var[c] = lo.len();
                let marked = info.primary && info.small_mark;
                lo.push(if marked { 1 } else { 0 });
                hi.push(if marked {
                    crate::MIN_CELL as i64 - 1
                } else {
                    UNBOUNDED
                });
            }
        }
        let mut cons = Vec::new();
        let mut add = |terms: &[(Cell, i64)], lo: i64, hi: i64| {
            let mut k = 0i64;
            let mut t = Vec::new();
            for &(c, coef) in terms {
                if hidden[c] {
                    t.push((var[c], coef));
                } else {
                    k += coef * self.cells[c].value;
                }
            }
            cons.push(Lin {
                terms: t,
                lo: lo.saturating_sub(k),
                hi: hi.saturating_sub(k),
            });
        };
        for (t, ps) in &self.sums {
            let mut terms = vec![(*t, 1)];
            terms.extend(ps.iter().map(|&p| (p, -1)));
            add(&terms, 0, 0);
        }
        for &(a, b) in &self.at_most {
            add(&[(a, 1), (b, -1)], -UNBOUNDED, 0);
        }
        System { var, lo, hi, cons }
    }

    /// Whether hidden `cell` has its true value in every solution.
    fn determined(&self, cell: Cell, hidden: &[bool]) -> bool {
        let sys = self.system(hidden);
        let v = sys.var[cell];
        let t = self.cells[cell].value;
        let below = sys.solvable_with(v, sys.lo[v], t - 1);
        let above = sys.solvable_with(v, t + 1, sys.hi[v]);
        // Out of budget counts as no other value: hide more.
        !(below == Some(true) || above == Some(true))
    }
}

/// lo ≤ Σ coef · x ≤ hi.
#[derive(Debug, Clone)]
pub struct Lin {
    pub terms: Vec<(usize, i64)>,
    pub lo: i64,
    pub hi: i64,
}

/// Integer unknowns with bounds and linear constraints.
#[derive(Debug, Clone)]
pub struct System {
    /// The unknown of each cell (`usize::MAX`: shown).
    var: Vec<usize>,
    pub lo: Vec<i64>,
    pub hi: Vec<i64>,
    pub cons: Vec<Lin>,
}

/// Search nodes per question; past it the answer is "unknown".
pub const BUDGET: u32 = 20_000;

impl System {
    /// A system of `lo.len()` unknowns.
    pub fn new(lo: Vec<i64>, hi: Vec<i64>, cons: Vec<Lin>) -> System {
        System {
            var: Vec::new(),
            lo,
            hi,
            cons,
        }
    }

    /// Whether some integer solution has unknown `v` in `lo..=hi`
    /// (`None`: the search ran out of budget).
    pub fn solvable_with(&self, v: usize, lo: i64, hi: i64) -> Option<bool> {
        self.solution_within(v, lo, hi, BUDGET).map(|s| s.is_some())
    }

    /// An integer solution with unknown `v` in `lo..=hi`, searching at
    /// most `budget` nodes: `Some(None)` when there is none, `None` when
    /// the budget ran out first.
    pub fn solution_within(
        &self,
        v: usize,
        lo: i64,
        hi: i64,
        budget: u32,
    ) -> Option<Option<Vec<i64>>> {
        let (mut l, mut h) = (self.lo.clone(), self.hi.clone());
        l[v] = l[v].max(lo);
        h[v] = h[v].min(hi);
        let mut budget = budget;
        search(&mut l, &mut h, &self.cons, &mut budget).map(|found| found.then_some(l))
    }
}

/// Bounds propagation: narrows each unknown by each constraint until
/// nothing moves (or a round limit); false when a constraint cannot hold.
fn propagate(lo: &mut [i64], hi: &mut [i64], cons: &[Lin]) -> bool {
    for _ in 0..200 {
        let mut changed = false;
        for c in cons {
            let (mut min_s, mut max_s) = (0i128, 0i128);
            for &(v, k) in &c.terms {
                let (a, b) = (k as i128 * lo[v] as i128, k as i128 * hi[v] as i128);
                min_s += a.min(b);
                max_s += a.max(b);
            }
            let (clo, chi) = (c.lo as i128, c.hi as i128);
            if min_s > chi || max_s < clo {
                return false;
            }
            for &(v, k) in &c.terms {
                let k = k as i128;
                let (a, b) = (k * lo[v] as i128, k * hi[v] as i128);
                let (rest_min, rest_max) = (min_s - a.min(b), max_s - a.max(b));
                // k·x within [clo − rest_max, chi − rest_min].
                let (tlo, thi) = (clo - rest_max, chi - rest_min);
                let (nlo, nhi) = if k > 0 {
                    (div_ceil(tlo, k), div_floor(thi, k))
                } else {
                    (div_ceil(thi, k), div_floor(tlo, k))
                };
                if nlo > lo[v] as i128 {
                    lo[v] = nlo.min(i64::MAX as i128) as i64;
                    changed = true;
                }
                if nhi < hi[v] as i128 {
                    hi[v] = nhi.max(i64::MIN as i128) as i64;
                    changed = true;
                }
                if lo[v] > hi[v] {
                    return false;
                }
            }
        }
        if !changed {
            return true;
        }
    }
    true
}

fn div_floor(a: i128, b: i128) -> i128 {
    let q = a / b;
    if (a % b != 0) && ((a < 0) != (b < 0)) {
        q - 1
    } else {
        q
    }
}

fn div_ceil(a: i128, b: i128) -> i128 {
    -div_floor(-a, b)
}

/// Depth-first search by halving the narrowest open unknown, with
/// propagation at every node. On `Some(true)`, `lo` (and `hi`) hold the
/// solution found.
fn search(lo: &mut [i64], hi: &mut [i64], cons: &[Lin], budget: &mut u32) -> Option<bool> {
    if *budget == 0 {
        return None;
    }
    *budget -= 1;
    if !propagate(lo, hi, cons) {
        return Some(false);
    }
    let open = (0..lo.len())
        .filter(|&v| lo[v] < hi[v])
        .min_by_key(|&v| (hi[v] - lo[v], v));
    let Some(v) = open else {
        // All fixed, and propagation found every constraint can hold.
        return Some(true);
    };
    let mid = lo[v] + (hi[v] - lo[v]) / 2;
    let mut unknown = false;
    for (a, b) in [(lo[v], mid), (mid + 1, hi[v])] {
        let (mut l, mut h) = (lo.to_vec(), hi.to_vec());
        l[v] = a;
        h[v] = b;
        match search(&mut l, &mut h, cons, budget) {
            Some(true) => {
                lo.copy_from_slice(&l);
                hi.copy_from_slice(&h);
                return Some(true);
            }
            Some(false) => {}
            None => unknown = true,
        }
    }
    if unknown { None } else { Some(false) }
}

/// What the report shows of each cell.
#[derive(Debug, Clone)]
pub struct Plan {
    cells: Vec<CellInfo>,
    hidden: Vec<bool>,
}

impl Plan {
    pub fn shown(&self, c: Cell) -> bool {
        !self.hidden[c]
    }

    pub fn value(&self, c: Cell) -> usize {
        self.cells[c].value.max(0) as usize
    }

    /// The cell as printed: its value, `<5` or `–`.
    pub fn text(&self, c: Cell) -> String {
        let info = &self.cells[c];
        if !self.hidden[c] {
            info.value.to_string()
        } else if info.primary && info.small_mark {
            "<5".into()
        } else {
            "–".into()
        }
    }

    /// Whether any cell is hidden to protect another.
    pub fn any_complementary(&self) -> bool {
        (0..self.cells.len()).any(|c| self.hidden[c] && !self.cells[c].primary)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn decide_counts(values: &[usize]) -> Vec<String> {
        let mut m = Model::default();
        let total = m.patients(values.iter().sum());
        let parts: Vec<Cell> = values.iter().map(|&v| m.patients(v)).collect();
        m.sum(total, parts.clone());
        let plan = m.decide();
        parts.iter().map(|&c| plan.text(c)).collect()
    }

    #[test]
    fn one_small_part_takes_the_next_smallest_with_it() {
        assert_eq!(
            decide_counts(&[70, 60, 40, 27, 3]),
            ["70", "60", "40", "–", "<5"]
        );
        assert_eq!(decide_counts(&[70, 0, 30]), ["70", "0", "30"]);
    }

    #[test]
    fn two_small_parts_that_pin_each_other_take_a_third() {
        // 1 + 1 = 2 with both in 1–4: both are 1. A third part must go.
        let cells = decide_counts(&[70, 1, 1]);
        assert_eq!(cells, ["–", "<5", "<5"]);
        // 2 + 3 = 5: either could be 1–4, so they protect each other.
        assert_eq!(decide_counts(&[70, 2, 3]), ["70", "<5", "<5"]);
    }

    #[test]
    fn a_share_that_is_all_hidden_parts_hides_its_total() {
        // Site counts 45, 3, 35; adherent 0, 0, 0: the total of 0 would pin
        // every hidden site's adherent count at 0, so the total goes.
        let mut m = Model::default();
        let n = m.patients(83);
        let sites: Vec<Cell> = [45, 3, 35].iter().map(|&v| m.patients(v)).collect();
        m.sum(n, sites.clone());
        let a = m.share(0, n);
        let parts: Vec<Cell> = sites.iter().map(|&s| m.share(0, s)).collect();
        m.sum(a, parts.clone());
        let plan = m.decide();
        assert!(!plan.shown(sites[1]) && !plan.shown(parts[1]));
        assert!(!plan.shown(a), "the cohort's adherent count must go");
    }

    #[test]
    fn a_cell_pinned_through_hidden_cells_only_is_protected() {
        // Months' events 16, 19, 19 and 1 add up to a tile of 55; the last
        // month's one patient with an event is <5 and its event count is
        // hidden. The patient count (1–4, at most the events) is pinned
        // through the hidden event count alone: its relations show nothing
        // to hide, and the cells after it must still be protected.
        let mut m = Model::default();
        let tile = m.events(55, 30, None);
        let mut months = Vec::new();
        for (events, with) in [(16, 7), (19, 9), (19, 10), (1, 1)] {
            let pe = m.patients(with);
            months.push((pe, m.events(events, with, Some(pe))));
        }
        m.sum(tile, months.iter().map(|c| c.1).collect());
        let plan = m.decide();
        assert!(!plan.shown(months[3].1));
        let shown = months[..3].iter().filter(|c| plan.shown(c.1)).count();
        assert_eq!(shown, 2, "a second month's events go");
    }

    #[test]
    fn a_change_beside_a_small_count_is_hidden() {
        // This period 40 patients, the previous 3: a change of 37 would
        // give the 3 away (40 − 37), so it goes with it.
        let mut m = Model::default();
        let (now, before) = (m.patients(40), m.patients(3));
        let change = m.difference(now, before);
        let plan = m.decide();
        assert_eq!(
            [plan.text(now), plan.text(before), plan.text(change)],
            ["40", "<5", "–"]
        );
        // Both shown: the change is shown, and it is the difference.
        let mut m = Model::default();
        let (now, before) = (m.patients(40), m.patients(52));
        let change = m.difference(now, before);
        let plan = m.decide();
        assert_eq!(plan.text(change), "12");
    }

    #[test]
    fn a_change_cannot_recover_a_site_hidden_in_the_other_period() {
        // The cohort 60 in both periods is shown; this period's sites are
        // 30, 27 and 3, the previous period's cohort of a hidden size. A
        // shown change of the cohort is safe; the relations of the sites
        // still hide the small site and one more.
        let mut m = Model::default();
        let now = m.patients(60);
        let sites: Vec<Cell> = [30, 27, 3].iter().map(|&v| m.patients(v)).collect();
        m.sum(now, sites.clone());
        let before = m.patients(2);
        let change = m.difference(now, before);
        let plan = m.decide();
        assert!(!plan.shown(sites[2]) && !plan.shown(sites[1]));
        assert!(!plan.shown(change), "60 − change would give the 2 away");
        assert!(plan.shown(now));
    }

    #[test]
    fn solver_finds_what_elimination_finds() {
        // x + y = 5, x + z = 4, y + z = 3 (all 0..∞): x = 3, y = 2, z = 1.
        let con = |a: usize, b: usize, k: i64| Lin {
            terms: vec![(a, 1), (b, 1)],
            lo: k,
            hi: k,
        };
        let s = System::new(
            vec![0; 3],
            vec![UNBOUNDED; 3],
            vec![con(0, 1, 5), con(0, 2, 4), con(1, 2, 3)],
        );
        assert_eq!(s.solvable_with(0, 3, 3), Some(true));
        assert_eq!(s.solvable_with(0, 0, 2), Some(false));
        assert_eq!(s.solvable_with(0, 4, UNBOUNDED), Some(false));
    }
}
