//! Progression rules as data: a condition over a patient's recent sessions of
//! one programme item, and an action on that item.
//!
//! ```toml
//! [[rule]]
//! name = "advance after 3 comfortable sessions"
//! applies_to = "ladders"            # "all", "ladders", "exercises" or a list of keys
//! when.consecutive = 3              # the last 3 sessions all match…
//! when.session = { completed = true, pain_after = "<= 3" }   # …this
//! then = "advance"                  # advance | step_back | hold | drop | substitute
//! ```
//!
//! A condition combines (all must hold):
//! * `session`: a test of one session: `completed`, and comparisons (`<`,
//!   `<=`, `>`, `>=`, `==`) on `pain_before`, `pain_during`, `pain_after`
//!   (0–10) and `pain_persist_min`;
//! * how many sessions must pass it: `consecutive = N` (the last N),
//!   `count = N` (at least N, optionally among the last `window = M`), or
//!   neither (the latest session);
//! * `scope`: `"since_change"` (default: only sessions since the item last
//!   changed rung) or `"all"`;
//! * `days_since_change`: a comparison on days since the item last changed
//!   (or since the start);
//! * `patient = { stenosis = true }`.
//!
//! A rule with a `session` test is checked at the end of each day on which
//! the item was done; a rule without one (time-contingent) at the end of every
//! day. Rules are tried in file order and the first that holds acts: put
//! `hold` rules first to block later ones. A scenario takes at most 64 rules.

use serde::{Deserialize, Serialize};

/// What a rule does to a programme item.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Action {
    /// One rung up the item's ladder (nothing at the top).
    Advance,
    /// One rung down (nothing at the bottom).
    StepBack,
    /// Nothing; stops later rules for this item today.
    Hold,
    /// The item leaves this patient's programme.
    Drop,
    /// The ladder's alternative replaces it (the recumbent bike with stenosis).
    Substitute,
}

impl Action {
    pub fn parse(text: &str) -> Result<Action, String> {
        Ok(match text {
            "advance" => Action::Advance,
            "step_back" => Action::StepBack,
            "hold" => Action::Hold,
            "drop" => Action::Drop,
            "substitute" => Action::Substitute,
            other => {
                return Err(format!(
                    "unknown action \"{other}\"; use advance, step_back, hold, drop or substitute"
                ));
            }
        })
    }

    /// Whether the action moves along a ladder.
    pub fn needs_ladder(self) -> bool {
        matches!(self, Action::Advance | Action::StepBack)
    }
}

/// An interval of values, from a comparison such as `"<= 3"`.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Bound {
    pub lo: f64,
    pub lo_incl: bool,
    pub hi: f64,
    pub hi_incl: bool,
}

impl Bound {
    pub const ANY: Bound = Bound {
        lo: f64::NEG_INFINITY,
        lo_incl: true,
        hi: f64::INFINITY,
        hi_incl: true,
    };

    /// Parses `"<= 3"`, `"> 20"`, `"== 0"`, `">=7"`.
    pub fn parse(text: &str) -> Result<Bound, String> {
        let t = text.trim();
        let (op, rest) = ["<=", ">=", "==", "<", ">"]
            .iter()
            .find_map(|op| t.strip_prefix(op).map(|r| (*op, r)))
            .ok_or_else(|| {
                format!("\"{text}\" is not a comparison; write e.g. \"<= 3\", \">= 7\" or \"> 20\"")
            })?;
        let v: f64 = rest
            .trim()
            .parse()
            .map_err(|_| format!("\"{text}\": \"{}\" is not a number", rest.trim()))?;
        if !v.is_finite() {
            return Err(format!("\"{text}\": the value must be finite"));
        }
        let mut b = Bound::ANY;
        match op {
            "<=" => b.hi = v,
            "<" => {
                b.hi = v;
                b.hi_incl = false
            }
            ">=" => b.lo = v,
            ">" => {
                b.lo = v;
                b.lo_incl = false
            }
            _ => {
                b.lo = v;
                b.hi = v
            }
        }
        Ok(b)
    }

    #[inline]
    pub fn contains(&self, x: f64) -> bool {
        (if self.lo_incl {
            x >= self.lo
        } else {
            x > self.lo
        }) && (if self.hi_incl {
            x <= self.hi
        } else {
            x < self.hi
        })
    }

    /// Whether any value in `[lo, hi]` passes (on a grid of `step`, if given).
    pub fn meets(&self, lo: f64, hi: f64, step: Option<f64>) -> bool {
        match step {
            Some(s) => {
                let n = ((hi - lo) / s).round() as i64;
                (0..=n).any(|i| self.contains(lo + i as f64 * s))
            }
            None => {
                let a = self.lo.max(lo);
                let b = self.hi.min(hi);
                a < b || (a == b && self.contains(a) && a >= lo && a <= hi)
            }
        }
    }
}

/// A test of one session of an item.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Default)]
pub struct SessionTest {
    pub completed: Option<bool>,
    pub pain_before: Option<Bound>,
    pub pain_during: Option<Bound>,
    pub pain_after: Option<Bound>,
    pub pain_persist_min: Option<Bound>,
}

/// What the simulator knows of one session of one item.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct SessionOutcome {
    pub completed: bool,
    pub pain_before: f64,
    pub pain_during: f64,
    pub pain_after: f64,
    pub pain_persist_min: f64,
}

impl SessionTest {
    #[inline]
    pub fn passes(&self, s: &SessionOutcome) -> bool {
        self.completed.is_none_or(|c| c == s.completed)
            && self.pain_before.is_none_or(|b| b.contains(s.pain_before))
            && self.pain_during.is_none_or(|b| b.contains(s.pain_during))
            && self.pain_after.is_none_or(|b| b.contains(s.pain_after))
            && self
                .pain_persist_min
                .is_none_or(|b| b.contains(s.pain_persist_min))
    }
}

/// How many sessions must pass the test.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Evidence {
    /// The latest session.
    Latest,
    /// The last N sessions in scope.
    Consecutive(u32),
    /// At least `n` sessions in scope, among the last `window` if given.
    Count { n: u32, window: Option<u32> },
}

/// Which sessions count.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Scope {
    SinceChange,
    All,
}

/// The largest `window` a count can look back over.
pub const MAX_WINDOW: u32 = 64;

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Condition {
    pub session: Option<SessionTest>,
    pub evidence: Evidence,
    pub scope: Scope,
    pub days_since_change: Option<Bound>,
    pub stenosis: Option<bool>,
}

/// A declarative progression rule, as written in a scenario.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ProgressionRule {
    pub name: String,
    /// Indices into the programme's items.
    pub targets: Vec<usize>,
    pub when: Condition,
    pub then: Action,
}

/// A rule's running tally for one item of one patient: kept up to date from
/// each session so that checking a rule costs O(1), whatever its window.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct RuleTally {
    /// Consecutive passing sessions, most recent last.
    pub run: u32,
    /// Passing sessions in scope.
    pub count: u32,
    /// Pass/fail of the last 64 sessions in scope, bit 0 = latest.
    pub recent: u64,
}

impl RuleTally {
    #[inline]
    pub fn record(&mut self, passed: bool) {
        self.recent = (self.recent << 1) | passed as u64;
        if passed {
            self.run += 1;
            self.count += 1;
        } else {
            self.run = 0;
        }
    }
}

/// Evidence as thresholds on a tally, checked without a match: the latest
/// session passing is a run of ≥ 1, N consecutive a run of ≥ N, at least N
/// a count of ≥ N, and N of the last M as many set bits among the last M of
/// `recent`. The simulator compiles each rule's once ([`Need::of`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Need {
    run: u32,
    count: u32,
    window: u64,
    in_window: u32,
}

impl Need {
    pub fn of(e: Evidence) -> Need {
        let none = Need {
            run: 0,
            count: 0,
            window: 0,
            in_window: 0,
        };
        match e {
            Evidence::Latest => Need { run: 1, ..none },
            Evidence::Consecutive(n) => Need { run: n, ..none },
            Evidence::Count { n, window: None } => Need { count: n, ..none },
            Evidence::Count { n, window: Some(w) } => Need {
                window: if w >= 64 { u64::MAX } else { (1u64 << w) - 1 },
                in_window: n,
                ..none
            },
        }
    }

    #[inline(always)]
    pub fn holds(&self, t: &RuleTally) -> bool {
        (t.run >= self.run)
            & (t.count >= self.count)
            & (self.in_window == 0 || (t.recent & self.window).count_ones() >= self.in_window)
    }
}

impl Condition {
    /// Whether the evidence part holds for a tally (always, for a rule
    /// without a session test).
    #[inline]
    pub fn evidence_holds(&self, t: &RuleTally) -> bool {
        self.session.is_none() || Need::of(self.evidence).holds(t)
    }
}

// ---- the file's shape -------------------------------------------------------

#[derive(Debug, Clone, Deserialize)]
#[serde(untagged)]
pub enum RawTargets {
    One(String),
    Many(Vec<String>),
}

impl Default for RawTargets {
    fn default() -> Self {
        RawTargets::One("all".into())
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawRule {
    pub name: String,
    #[serde(default)]
    pub applies_to: RawTargets,
    #[serde(default)]
    pub when: RawWhen,
    pub then: String,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawWhen {
    pub session: Option<RawSession>,
    pub consecutive: Option<u32>,
    pub count: Option<u32>,
    pub window: Option<u32>,
    pub scope: Option<String>,
    pub days_since_change: Option<String>,
    pub patient: Option<RawPatient>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawSession {
    pub completed: Option<bool>,
    pub pain_before: Option<String>,
    pub pain_during: Option<String>,
    pub pain_after: Option<String>,
    pub pain_persist_min: Option<String>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawPatient {
    pub stenosis: Option<bool>,
}

/// Checks a rule's condition; `(key, problem)` on error, the key relative to
/// the rule (`when.consecutive`). `horizon_days` and `stop_pain` let it
/// refuse conditions that can never hold, and `stenosis_possible` a patient
/// test no patient passes.
pub fn parse_condition(
    raw: &RawWhen,
    horizon_days: u32,
    stenosis_possible: bool,
) -> Result<Condition, (String, String)> {
    let err = |k: &str, p: String| Err((format!("when.{k}"), p));
    let session = match &raw.session {
        None => None,
        Some(s) => {
            // Pain is reported on the 0–10 NRS in halves; persistence in minutes.
            let pain = |name: &str,
                        v: &Option<String>|
             -> Result<Option<Bound>, (String, String)> {
                let Some(text) = v else { return Ok(None) };
                let b = Bound::parse(text).map_err(|p| (format!("when.session.{name}"), p))?;
                if !b.meets(0.0, 10.0, Some(0.5)) {
                    return Err((
                        format!("when.session.{name}"),
                        format!(
                            "\"{text}\" can never hold: pain is 0 to 10 in steps of 0.5, so this rule would never fire"
                        ),
                    ));
                }
                Ok(Some(b))
            };
            let persist = match &s.pain_persist_min {
                None => None,
                Some(text) => {
                    let b = Bound::parse(text)
                        .map_err(|p| ("when.session.pain_persist_min".to_string(), p))?;
                    if !b.meets(0.0, f64::MAX, None) {
                        return err(
                            "session.pain_persist_min",
                            format!(
                                "\"{text}\" can never hold: minutes are never negative, so this rule would never fire"
                            ),
                        );
                    }
                    Some(b)
                }
            };
            Some(SessionTest {
                completed: s.completed,
                pain_before: pain("pain_before", &s.pain_before)?,
                pain_during: pain("pain_during", &s.pain_during)?,
                pain_after: pain("pain_after", &s.pain_after)?,
                pain_persist_min: persist,
            })
        }
    };
    if session.is_none() && (raw.consecutive.is_some() || raw.count.is_some()) {
        return err(
            if raw.consecutive.is_some() {
                "consecutive"
            } else {
                "count"
            },
            "counts sessions, so it needs `when.session` to say which sessions count".into(),
        );
    }
    let evidence = match (raw.consecutive, raw.count, raw.window) {
        (Some(_), Some(_), _) => {
            return err(
                "count",
                "use either `consecutive` or `count`, not both".into(),
            );
        }
        (Some(_), None, Some(_)) => {
            return err(
                "window",
                "`window` goes with `count` (\"at least N of the last M\"), not `consecutive`"
                    .into(),
            );
        }
        (None, None, Some(_)) => {
            return err("window", "`window` needs `count`".into());
        }
        (Some(0), ..) => return err("consecutive", "must be at least 1".into()),
        (_, Some(0), _) => return err("count", "must be at least 1".into()),
        (Some(n), None, None) => {
            if n > horizon_days {
                return err(
                    "consecutive",
                    format!(
                        "{n} sessions cannot happen within the horizon of {horizon_days} days, so this rule would never fire"
                    ),
                );
            }
            Evidence::Consecutive(n)
        }
        (None, Some(n), w) => {
            if let Some(w) = w {
                if w == 0 || w > MAX_WINDOW {
                    return err("window", format!("must be 1 to {MAX_WINDOW} sessions"));
                }
                if n > w {
                    return err(
                        "count",
                        format!(
                            "{n} sessions cannot fit in a window of {w}, so this rule would never fire"
                        ),
                    );
                }
            }
            if n > horizon_days {
                return err(
                    "count",
                    format!(
                        "{n} sessions cannot happen within the horizon of {horizon_days} days, so this rule would never fire"
                    ),
                );
            }
            Evidence::Count { n, window: w }
        }
        (None, None, None) => Evidence::Latest,
    };
    let scope = match raw.scope.as_deref() {
        None | Some("since_change") => Scope::SinceChange,
        Some("all") => Scope::All,
        Some(other) => {
            return err(
                "scope",
                format!("\"{other}\" is not a scope; use \"since_change\" or \"all\""),
            );
        }
    };
    let days_since_change = match &raw.days_since_change {
        None => None,
        Some(text) => {
            let b = Bound::parse(text).map_err(|p| ("when.days_since_change".to_string(), p))?;
            if !b.meets(1.0, horizon_days as f64, Some(1.0)) {
                return err(
                    "days_since_change",
                    format!(
                        "\"{text}\" can never hold within the horizon of {horizon_days} days, so this rule would never fire"
                    ),
                );
            }
            Some(b)
        }
    };
    let stenosis = raw.patient.as_ref().and_then(|p| p.stenosis);
    if stenosis == Some(true) && !stenosis_possible {
        return err(
            "patient.stenosis",
            "no patient has stenosis (population.stenosis_share is 0), so this rule would never fire".into(),
        );
    }
    Ok(Condition {
        session,
        evidence,
        scope,
        days_since_change,
        stenosis,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn when(text: &str) -> Result<Condition, (String, String)> {
        let raw: RawWhen = toml::from_str(text).unwrap();
        parse_condition(&raw, 84, true)
    }

    #[test]
    fn comparisons() {
        let b = Bound::parse("<= 3").unwrap();
        assert!(b.contains(3.0) && !b.contains(3.5));
        let b = Bound::parse(">20").unwrap();
        assert!(!b.contains(20.0) && b.contains(20.5));
        assert!(Bound::parse("== 0").unwrap().contains(0.0));
        assert!(Bound::parse("about 3").is_err());
        assert!(Bound::parse("<= x").is_err());
    }

    #[test]
    fn conditions_that_can_never_hold_are_refused() {
        let (k, p) = when("session = { pain_during = \">= 11\" }").unwrap_err();
        assert_eq!(k, "when.session.pain_during");
        assert!(p.contains("never fire"), "{p}");
        let (k, _) = when("session = { pain_after = \"< 0\" }").unwrap_err();
        assert_eq!(k, "when.session.pain_after");
        let (k, _) = when("session = { pain_persist_min = \"< 0\" }").unwrap_err();
        assert_eq!(k, "when.session.pain_persist_min");
        let (k, p) = when("count = 4\nwindow = 3\nsession = { completed = true }").unwrap_err();
        assert_eq!(k, "when.count");
        assert!(p.contains("window of 3"), "{p}");
        let (k, _) = when("days_since_change = \">= 100\"").unwrap_err();
        assert_eq!(k, "when.days_since_change");
        let (k, _) = when("consecutive = 3").unwrap_err();
        assert_eq!(k, "when.consecutive");
        let (k, _) =
            when("consecutive = 2\nwindow = 4\nsession = { completed = true }").unwrap_err();
        assert_eq!(k, "when.window");
        let (k, _) = when("scope = \"ever\"").unwrap_err();
        assert_eq!(k, "when.scope");
        let raw: RawWhen = toml::from_str("patient = { stenosis = true }").unwrap();
        assert_eq!(
            parse_condition(&raw, 84, false).unwrap_err().0,
            "when.patient.stenosis"
        );
        // Half points exist: "> 9.5" is only 10, which can happen.
        assert!(when("session = { pain_during = \"> 9.5\" }").is_ok());
    }

    #[test]
    fn evidence_counts_from_the_tally() {
        let c =
            when("consecutive = 3\nsession = { completed = true, pain_after = \"<= 3\" }").unwrap();
        let t = c.session.unwrap();
        let good = SessionOutcome {
            completed: true,
            pain_after: 3.0,
            ..Default::default()
        };
        let bad = SessionOutcome {
            completed: true,
            pain_after: 3.5,
            ..Default::default()
        };
        let mut tally = RuleTally::default();
        for (s, holds) in [
            (good, false),
            (good, false),
            (bad, false),
            (good, false),
            (good, false),
            (good, true),
        ] {
            tally.record(t.passes(&s));
            assert_eq!(c.evidence_holds(&tally), holds);
        }
        let c = when("count = 2\nwindow = 3\nsession = { pain_persist_min = \"> 20\" }").unwrap();
        let t = c.session.unwrap();
        let persist = |m: f64| SessionOutcome {
            pain_persist_min: m,
            ..Default::default()
        };
        let mut tally = RuleTally::default();
        let mut fired = Vec::new();
        for m in [25.0, 0.0, 0.0, 30.0, 0.0, 21.0] {
            tally.record(t.passes(&persist(m)));
            fired.push(c.evidence_holds(&tally));
        }
        // 2 of the last 3: only after the third episode-free gap closes.
        assert_eq!(fired, [false, false, false, false, false, true]);

        // The latest session alone, and at least 2 ever.
        let latest = when("session = { pain_persist_min = \"> 20\" }").unwrap();
        let ever = when("count = 2\nsession = { pain_persist_min = \"> 20\" }").unwrap();
        let t = latest.session.unwrap();
        let mut tally = RuleTally::default();
        assert!(!latest.evidence_holds(&tally), "no session yet");
        let mut seen = Vec::new();
        for m in [25.0, 0.0, 30.0, 0.0] {
            tally.record(t.passes(&persist(m)));
            seen.push((latest.evidence_holds(&tally), ever.evidence_holds(&tally)));
        }
        assert_eq!(
            seen,
            [(true, false), (false, false), (true, true), (false, true)]
        );
        // A rule without a session test needs no evidence.
        let timed = when("days_since_change = \">= 14\"").unwrap();
        assert!(timed.evidence_holds(&RuleTally::default()));
    }
}
