//! One patient's programme as it changes: each item's rung, whether it was
//! dropped or substituted or flagged unsuitable, and the rules' tallies.
//!
//! The simulator drives it day by day: [`Programme::start_day`], then
//! [`Programme::record`] for each session done, then
//! [`Programme::end_of_day`], which applies the first rule that holds to
//! each item. Tests drive it the same way with hand-built histories.
//!
//! The rules are compiled once per scenario ([`Programme::new`]): each
//! item's rules sit in one flat list with their session tests as closed
//! intervals, checked without branches. Recording a session also notes which
//! of the item's rules now have their evidence (the tallies change only
//! there), so the end of a day visits only the items done that day (plus
//! those with a time-contingent rule), and of each only the rules that can
//! fire.

use crate::rules::{Action, Need, RuleTally, Scope, SessionOutcome, SessionTest};
use crate::scenario::Scenario;

/// The state of one programme item for one patient.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ItemState {
    pub rung: u8,
    pub active: bool,
    pub substituted: bool,
    /// Pain persisted past the safety limit once: never advanced again.
    pub flagged: bool,
    /// The day the current rung took effect.
    pub since: u32,
    pub reached_top: bool,
}

/// What changed at the end of a day.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Change {
    pub item: usize,
    pub rule: usize,
    pub action: Action,
}

/// A session test as closed intervals on (before, during, after, persist)
/// and the completions it accepts (bit 0: not completed, bit 1: completed).
/// A strict bound `x > a` becomes `x ≥ next_up(a)`, the same set of finite
/// values, so [`SessionTest::passes`] and [`ClosedTest::passes`] agree on
/// every outcome the simulator makes (tested on random ones).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ClosedTest {
    lo: [f64; 4],
    hi: [f64; 4],
    completed: u8,
}

impl ClosedTest {
    pub fn of(t: &SessionTest) -> ClosedTest {
        let mut c = ClosedTest {
            lo: [f64::NEG_INFINITY; 4],
            hi: [f64::INFINITY; 4],
            completed: match t.completed {
                None => 0b11,
                Some(false) => 0b01,
                Some(true) => 0b10,
            },
        };
        let bounds = [
            t.pain_before,
            t.pain_during,
            t.pain_after,
            t.pain_persist_min,
        ];
        for (k, b) in bounds.iter().enumerate() {
            if let Some(b) = b {
                c.lo[k] = if b.lo_incl { b.lo } else { b.lo.next_up() };
                c.hi[k] = if b.hi_incl { b.hi } else { b.hi.next_down() };
            }
        }
        c
    }

    #[inline(always)]
    pub fn passes(&self, o: &SessionOutcome) -> bool {
        let v = [
            o.pain_before,
            o.pain_during,
            o.pain_after,
            o.pain_persist_min,
        ];
        let mut ok = (self.completed >> o.completed as u8) & 1 == 1;
        for ((x, lo), hi) in v.iter().zip(&self.lo).zip(&self.hi) {
            ok &= (x >= lo) & (x <= hi);
        }
        ok
    }
}

/// One rule as it applies to one item.
#[derive(Debug, Clone, Copy)]
struct Slot {
    rule: usize,
    test: Option<ClosedTest>,
    need: Need,
}

/// A patient's programme under a scenario's rules.
#[derive(Debug, Clone)]
pub struct Programme<'a> {
    scenario: &'a Scenario,
    /// Every item's rules in file order, item after item; item i's are
    /// `slots[first[i]..first[i + 1]]`.
    slots: Vec<Slot>,
    first: Vec<usize>,
    /// Items with a rule that has no session test: checked every day.
    every_day: u64,
    /// Per item, its rules without a session test (bit j: its j-th slot).
    untested: Vec<u64>,
    pub items: Vec<ItemState>,
    /// Items done today, and items still in the programme (bit i: item i).
    done_today: u64,
    active: u64,
    /// Per item, the rules whose evidence holds after its latest session
    /// (bit j: its j-th slot); read only on a day the item was done.
    armed: Vec<u64>,
    tallies: Vec<RuleTally>,
}

impl<'a> Programme<'a> {
    pub fn new(scenario: &'a Scenario) -> Programme<'a> {
        let mut slots = Vec::new();
        let mut first = vec![0];
        let mut every_day = 0u64;
        let mut untested = Vec::new();
        for i in 0..scenario.items.len() {
            let mut mask = 0u64;
            // At most 64 rules (the scenario checks), so j < 64.
            for (r, rule) in scenario.rules.iter().enumerate() {
                if rule.targets.contains(&i) {
                    let test = rule.when.session.as_ref().map(ClosedTest::of);
                    if test.is_none() {
                        every_day |= 1 << i;
                        mask |= 1 << (slots.len() - first[i]);
                    }
                    slots.push(Slot {
                        rule: r,
                        test,
                        need: Need::of(rule.when.evidence),
                    });
                }
            }
            untested.push(mask);
            first.push(slots.len());
        }
        let mut p = Programme {
            scenario,
            slots,
            first,
            every_day,
            untested,
            items: Vec::with_capacity(scenario.items.len()),
            done_today: 0,
            active: 0,
            armed: vec![0; scenario.items.len()],
            tallies: Vec::new(),
        };
        p.reset();
        p
    }

    /// Back to day 0 for a new patient (no allocation).
    pub fn reset(&mut self) {
        let s = self.scenario;
        self.items.clear();
        self.items.extend(s.items.iter().map(|it| ItemState {
            rung: it.start,
            active: true,
            reached_top: it.start >= it.top,
            ..Default::default()
        }));
        self.done_today = 0;
        // At most 64 items (the scenario checks), so bit i fits.
        self.active = (0..self.items.len()).fold(0, |m, i| m | 1 << i);
        self.tallies.clear();
        self.tallies
            .resize(s.items.len() * s.rules.len(), RuleTally::default());
    }

    /// The items still in the programme, as bits (bit i: item i).
    #[inline]
    pub fn active_items(&self) -> u64 {
        self.active
    }

    #[inline]
    pub fn start_day(&mut self) {
        self.done_today = 0;
    }

    /// Records a session of `item`. Returns true when the safety rule flags
    /// the item unsuitable for the first time (pain persisting past the
    /// regimen's limit).
    #[inline]
    pub fn record(&mut self, item: usize, outcome: &SessionOutcome) -> bool {
        let s = self.scenario;
        let n_rules = s.rules.len();
        self.done_today |= 1 << item;
        let tallies = &mut self.tallies[item * n_rules..(item + 1) * n_rules];
        let mut armed = 0u64;
        for (j, slot) in self.slots[self.first[item]..self.first[item + 1]]
            .iter()
            .enumerate()
        {
            if let Some(test) = &slot.test {
                let t = &mut tallies[slot.rule];
                t.record(test.passes(outcome));
                armed |= (slot.need.holds(t) as u64) << j;
            }
        }
        self.armed[item] = armed;
        let st = &mut self.items[item];
        let newly =
            outcome.pain_persist_min > s.regimen.safety.unsuitable_persist_min && !st.flagged;
        st.flagged |= newly;
        newly
    }

    /// End of `day`: the first rule that holds acts on each item. Calls
    /// `on_change` for every rule that fired (a rule that holds but cannot
    /// move the item, e.g. advancing at the top, still fires and stops
    /// later rules) and `on_top(item)` when an item first reaches its top.
    #[inline]
    pub fn end_of_day(
        &mut self,
        day: u32,
        stenosis: bool,
        mut on_change: impl FnMut(Change),
        mut on_top: impl FnMut(usize),
    ) {
        let s = self.scenario;
        let n_rules = s.rules.len();
        let mut visit = (self.done_today | self.every_day) & self.active;
        while visit != 0 {
            let i = visit.trailing_zeros() as usize;
            visit &= visit - 1;
            let done = self.done_today >> i & 1 == 1;
            let st = self.items[i];
            let slots = &self.slots[self.first[i]..self.first[i + 1]];
            // Rules with a session test fire only on a day the item was
            // done, and only if `record` found their evidence.
            let mut can_fire = self.untested[i] | if done { self.armed[i] } else { 0 };
            while can_fire != 0 {
                let slot = slots[can_fire.trailing_zeros() as usize];
                can_fire &= can_fire - 1;
                let rule = &s.rules[slot.rule];
                let c = &rule.when;
                if c.stenosis.is_some_and(|want| want != stenosis) {
                    continue;
                }
                if let Some(b) = c.days_since_change
                    && !b.contains((day + 1 - st.since) as f64)
                {
                    continue;
                }
                // The safety rule outranks progression: a flagged item is never advanced.
                if rule.then == Action::Advance && st.flagged {
                    continue;
                }
                let item = &s.items[i];
                let state = &mut self.items[i];
                let moved = match rule.then {
                    Action::Advance if !state.substituted && state.rung + 1 < item.rungs => {
                        state.rung += 1;
                        true
                    }
                    Action::StepBack if !state.substituted && state.rung > 0 => {
                        state.rung -= 1;
                        true
                    }
                    Action::Substitute if !state.substituted => {
                        state.substituted = true;
                        true
                    }
                    Action::Drop => {
                        state.active = false;
                        self.active &= !(1 << i);
                        false
                    }
                    _ => false,
                };
                on_change(Change {
                    item: i,
                    rule: slot.rule,
                    action: rule.then,
                });
                if moved {
                    state.since = day + 1;
                    if !state.reached_top && !state.substituted && state.rung >= item.top {
                        state.reached_top = true;
                        on_top(i);
                    }
                    for (k, t) in self.tallies[i * n_rules..(i + 1) * n_rules]
                        .iter_mut()
                        .enumerate()
                    {
                        if s.rules[k].when.scope == Scope::SinceChange {
                            *t = RuleTally::default();
                        }
                    }
                }
                break;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::ClosedTest;
    use crate::rules::{Bound, SessionOutcome, SessionTest};
    use rand::{Rng, SeedableRng};
    use rand_chacha::ChaCha8Rng;

    #[test]
    fn closed_tests_agree_with_the_rule_text_on_every_outcome() {
        let ops = ["<=", "<", ">=", ">", "=="];
        let mut rng = ChaCha8Rng::seed_from_u64(11);
        let mut pick = move |n: u64| rng.next_u64() % n;
        // Pain on its grid of halves (0–10), minutes 0–45 in halves.
        let half = |k: u64| k as f64 * 0.5;
        let bound = |pick: &mut dyn FnMut(u64) -> u64, top: u64| {
            if pick(3) == 0 {
                return None;
            }
            let op = ops[pick(5) as usize];
            Some(Bound::parse(&format!("{op} {}", half(pick(2 * top + 1)))).unwrap())
        };
        for _ in 0..2000 {
            let test = SessionTest {
                completed: [None, Some(false), Some(true)][pick(3) as usize],
                pain_before: bound(&mut pick, 10),
                pain_during: bound(&mut pick, 10),
                pain_after: bound(&mut pick, 10),
                pain_persist_min: bound(&mut pick, 45),
            };
            let closed = ClosedTest::of(&test);
            for _ in 0..50 {
                let o = SessionOutcome {
                    completed: pick(2) == 0,
                    pain_before: half(pick(21)),
                    pain_during: half(pick(21)),
                    pain_after: half(pick(21)),
                    pain_persist_min: pick(91) as f64,
                };
                assert_eq!(closed.passes(&o), test.passes(&o), "{test:?} on {o:?}");
            }
        }
    }
}
