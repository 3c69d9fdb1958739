//! One patient's programme as it changes: each item's rung, whether it was
//! dropped or substituted or flagged unsuitable, and the rules' tallies.
//!
//! The simulator drives it day by day: [`Programme::start_day`], then
//! [`Programme::record`] for each session done, then
//! [`Programme::end_of_day`], which applies the first rule that holds to
//! each item. Tests drive it the same way with hand-built histories.

use crate::rules::{Action, RuleTally, Scope, SessionOutcome};
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
    pub done_today: bool,
}

/// What changed at the end of a day.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Change {
    pub item: usize,
    pub rule: usize,
    pub action: Action,
}

/// A patient's programme under a scenario's rules.
#[derive(Debug, Clone)]
pub struct Programme<'a> {
    scenario: &'a Scenario,
    /// Per item, the rules that apply to it, in file order.
    item_rules: Vec<Vec<usize>>,
    pub items: Vec<ItemState>,
    tallies: Vec<RuleTally>,
}

impl<'a> Programme<'a> {
    pub fn new(scenario: &'a Scenario) -> Programme<'a> {
        let item_rules = (0..scenario.items.len())
            .map(|i| {
                (0..scenario.rules.len())
                    .filter(|&r| scenario.rules[r].targets.contains(&i))
                    .collect()
            })
            .collect();
        let mut p = Programme {
            scenario,
            item_rules,
            items: Vec::with_capacity(scenario.items.len()),
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
        self.tallies.clear();
        self.tallies
            .resize(s.items.len() * s.rules.len(), RuleTally::default());
    }

    pub fn start_day(&mut self) {
        for st in &mut self.items {
            st.done_today = false;
        }
    }

    /// Records a session of `item`. Returns true when the safety rule flags
    /// the item unsuitable for the first time (pain persisting past the
    /// regimen's limit).
    pub fn record(&mut self, item: usize, outcome: &SessionOutcome) -> bool {
        let s = self.scenario;
        let n_rules = s.rules.len();
        self.items[item].done_today = true;
        for &r in &self.item_rules[item] {
            if let Some(test) = &s.rules[r].when.session {
                self.tallies[item * n_rules + r].record(test.passes(outcome));
            }
        }
        let newly = outcome.pain_persist_min > s.regimen.safety.unsuitable_persist_min
            && !self.items[item].flagged;
        if newly {
            self.items[item].flagged = true;
        }
        newly
    }

    /// End of `day`: the first rule that holds acts on each item. Calls
    /// `on_change` for every rule that fired (a rule that holds but cannot
    /// move the item, e.g. advancing at the top, still fires and stops
    /// later rules) and `on_top(item)` when an item first reaches its top.
    pub fn end_of_day(
        &mut self,
        day: u32,
        stenosis: bool,
        mut on_change: impl FnMut(Change),
        mut on_top: impl FnMut(usize),
    ) {
        let s = self.scenario;
        let n_rules = s.rules.len();
        for i in 0..s.items.len() {
            let st = self.items[i];
            if !st.active {
                continue;
            }
            for &r in &self.item_rules[i] {
                let rule = &s.rules[r];
                let c = &rule.when;
                if c.session.is_some() && !st.done_today {
                    continue;
                }
                if c.stenosis.is_some_and(|want| want != stenosis) {
                    continue;
                }
                if let Some(b) = c.days_since_change
                    && !b.contains((day + 1 - st.since) as f64)
                {
                    continue;
                }
                if !c.evidence_holds(&self.tallies[i * n_rules + r]) {
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
                        false
                    }
                    _ => false,
                };
                on_change(Change {
                    item: i,
                    rule: r,
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
