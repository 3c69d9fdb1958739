//! Model formulas as R writes them, parsed into terms.
//!
//! Contract: [`Formula::parse`] takes the text of one formula
//! (`response ~ terms`) and returns its response, its fixed-effect terms in
//! R's order, whether it has an intercept, and the special terms the
//! models know: `strata(…)` and `cluster(…)` (survival's `coxph`) and
//! `(slopes | group)` (lme4's random effects). It reads no data: which
//! variables are categorical and which columns they expand to is
//! [`crate::design::from_terms`]'s work. An error names the character it
//! is about ([`FormulaError`] prints the formula with a caret under it).
//!
//! The algebra is R's (Chambers & Hastie 1992, *Statistical Models in S*,
//! ch. 2; Wilkinson & Rogers 1973): a term is a set of variables; `a + b`
//! is the union of two term lists, `a:b` the pairwise unions, `a*b` is
//! `a + b + a:b`, `(a + b)^2` is `(a + b)*(a + b)`, `- b` removes terms
//! (`- 1` or `+ 0` the intercept). As R's `terms.formula` does, terms are
//! ordered by their number of variables, then by first appearance, and a
//! term's variables by their first appearance in the formula (`b:a + a`
//! has the terms `a` and `b:a`).
//!
//! Functions of a variable: `factor(x)` (and `as.factor`) makes `x`
//! categorical; `log`, `log2`, `log10`, `sqrt` and `exp` transform a
//! numeric one. On the left, `Surv(time, event)` and
//! `Surv(start, stop, event)`, where the event may be written
//! `status == 2` as R users often do.

use std::fmt;

mod lex;
mod parse;
#[cfg(test)]
mod tests;

/// Formulas longer than this are refused before parsing.
pub const MAX_FORMULA_CHARS: usize = 4096;
/// Parentheses nested deeper than this are refused (the parser recurses).
const MAX_DEPTH: usize = 64;
/// More terms than this (after expanding `*` and `^`) are refused.
pub const MAX_TERMS: usize = 512;

/// How a variable enters the model.
#[derive(Debug, Clone, PartialEq)]
pub enum Kind {
    /// The column as it is: numeric, or categorical if it holds text (R
    /// turns a character column into a factor).
    Plain,
    /// `factor(x)`: categorical whatever the column holds.
    Factor,
    /// `log(x)`, `sqrt(x)`, …: a numeric function of the column.
    Transform(Transform),
    /// `x == value`: 1 where the column equals the value, else 0 (for an
    /// event indicator, `Surv(time, status == 2)`).
    Equals(String),
}

/// The numeric functions a formula may apply to a column.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Transform {
    Log,
    Log2,
    Log10,
    Sqrt,
    Exp,
}

impl Transform {
    const ALL: [(&'static str, Transform); 5] = [
        ("log", Transform::Log),
        ("log2", Transform::Log2),
        ("log10", Transform::Log10),
        ("sqrt", Transform::Sqrt),
        ("exp", Transform::Exp),
    ];

    pub fn name(self) -> &'static str {
        Transform::ALL
            .iter()
            .find(|(_, t)| *t == self)
            .map_or("", |(n, _)| n)
    }

    /// The function applied to one value (R's: `log(-1)` is NaN, which
    /// the model frame then drops as missing; `log(0)` is `-Inf`).
    pub fn apply(self, x: f64) -> f64 {
        match self {
            Transform::Log => x.ln(),
            Transform::Log2 => x.log2(),
            Transform::Log10 => x.log10(),
            Transform::Sqrt => x.sqrt(),
            Transform::Exp => x.exp(),
        }
    }
}

/// One variable of a formula: a column and how it enters.
#[derive(Debug, Clone, PartialEq)]
pub struct Variable {
    /// The data column it reads.
    pub column: String,
    pub kind: Kind,
    /// Where it starts in the formula (0-based character), for messages.
    pub at: usize,
}

impl Variable {
    /// The variable as R labels it in a coefficient's name: `age`,
    /// `factor(ph.ecog)`, `log(age)`.
    pub fn label(&self) -> String {
        match &self.kind {
            Kind::Plain => self.column.clone(),
            Kind::Factor => format!("factor({})", self.column),
            Kind::Transform(t) => format!("{}({})", t.name(), self.column),
            Kind::Equals(v) => format!("{} == {v}", self.column),
        }
    }

    fn same(&self, other: &Variable) -> bool {
        self.column == other.column && self.kind == other.kind
    }
}

/// A fixed-effect term: one variable, or the interaction of several.
#[derive(Debug, Clone, PartialEq)]
pub struct Term {
    /// Its variables, in their order of first appearance.
    pub variables: Vec<Variable>,
}

impl Term {
    /// R's term label: the variables' labels joined by `:`.
    pub fn label(&self) -> String {
        self.variables
            .iter()
            .map(Variable::label)
            .collect::<Vec<_>>()
            .join(":")
    }

    fn same(&self, other: &Term) -> bool {
        self.variables.len() == other.variables.len()
            && self
                .variables
                .iter()
                .all(|v| other.variables.iter().any(|w| v.same(w)))
    }
}

/// A formula's left-hand side.
#[derive(Debug, Clone, PartialEq)]
pub enum Response {
    /// One column: an outcome.
    Variable(Variable),
    /// `Surv(stop, event)` or `Surv(start, stop, event)`.
    Surv {
        start: Option<Variable>,
        stop: Variable,
        event: Variable,
        at: usize,
    },
}

/// lme4's random-effects term `(slopes | group)`.
#[derive(Debug, Clone, PartialEq)]
pub struct RandomTerm {
    /// Whether the term has a random intercept (`(1 | g)`, `(x | g)`; not
    /// `(0 + x | g)`).
    pub intercept: bool,
    /// Random slopes, in order.
    pub slopes: Vec<Variable>,
    pub group: Variable,
    /// Where its opening parenthesis is.
    pub at: usize,
}

/// A parsed formula.
#[derive(Debug, Clone, PartialEq)]
pub struct Formula {
    /// The formula as written.
    pub text: String,
    pub response: Response,
    /// Fixed-effect terms, in R's order.
    pub terms: Vec<Term>,
    /// Whether the model has an intercept (`- 1` and `+ 0` remove it).
    pub intercept: bool,
    /// `strata(a, b)`: the stratum variables (one stratum per combination).
    pub strata: Vec<Variable>,
    /// `cluster(id)`.
    pub cluster: Option<Variable>,
    /// `(… | group)` terms.
    pub random: Vec<RandomTerm>,
}

/// Why a formula cannot be read, with the character it is about.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub struct FormulaError {
    /// The formula.
    pub text: String,
    /// 0-based character the error is about.
    pub at: usize,
    pub message: String,
}

/// How much of the formula an error shows on either side of its
/// character (a formula of thousands of characters is not echoed whole).
const SHOWN_AROUND: usize = 60;

/// A character as an error shows it: control and bidirectional-format
/// characters (which could move the caret or drive the terminal) as `?`.
fn shown(c: char) -> char {
    let bidi =
        matches!(c, '\u{200e}' | '\u{200f}' | '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}');
    if c.is_control() || bidi { '?' } else { c }
}

impl fmt::Display for FormulaError {
    /// `formula, character 12: message`, then the formula (the part around
    /// the character, when it is long) and a caret under the character, as
    /// a compiler points at a column.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let chars: Vec<char> = self.text.chars().map(shown).collect();
        let at = self.at.min(chars.len());
        let from = at.saturating_sub(SHOWN_AROUND);
        let to = (at + SHOWN_AROUND).min(chars.len());
        let lead = if from > 0 { "…" } else { "" };
        let tail = if to < chars.len() { "…" } else { "" };
        let window: String = chars[from..to].iter().collect();
        let message: String = self.message.chars().map(shown).collect();
        write!(
            f,
            "formula, character {}: {}\n  {lead}{window}{tail}\n  {}{}^",
            self.at + 1,
            message,
            " ".repeat(lead.chars().count()),
            " ".repeat(at - from)
        )
    }
}

impl FormulaError {
    pub fn new(text: &str, at: usize, message: impl Into<String>) -> FormulaError {
        FormulaError {
            text: text.to_string(),
            at,
            message: message.into(),
        }
    }
}

impl Formula {
    /// Parses `response ~ terms`. See the module's documentation for the
    /// forms it takes.
    pub fn parse(text: &str) -> Result<Formula, FormulaError> {
        let n = text.chars().count();
        if n > MAX_FORMULA_CHARS {
            return Err(FormulaError::new(
                text,
                MAX_FORMULA_CHARS,
                format!("a formula of {n} characters; at most {MAX_FORMULA_CHARS} are read"),
            ));
        }
        parse::Parser::new(text)?.formula()
    }

    /// Every column the formula reads, once each, in order of appearance.
    pub fn columns(&self) -> Vec<String> {
        let mut out: Vec<String> = Vec::new();
        let mut add = |v: &Variable| {
            if !out.contains(&v.column) {
                out.push(v.column.clone());
            }
        };
        match &self.response {
            Response::Variable(v) => add(v),
            Response::Surv {
                start, stop, event, ..
            } => {
                start.iter().for_each(&mut add);
                add(stop);
                add(event);
            }
        }
        self.terms
            .iter()
            .flat_map(|t| &t.variables)
            .for_each(&mut add);
        self.strata.iter().for_each(&mut add);
        self.cluster.iter().for_each(&mut add);
        for r in &self.random {
            r.slopes.iter().for_each(&mut add);
            add(&r.group);
        }
        out
    }

    /// The fixed-effect variables, once each, in order of first appearance.
    pub fn variables(&self) -> Vec<Variable> {
        let mut out: Vec<Variable> = Vec::new();
        for v in self.terms.iter().flat_map(|t| &t.variables) {
            if !out.iter().any(|w| w.same(v)) {
                out.push(v.clone());
            }
        }
        out
    }

    /// The right-hand side as R prints it back: `age + sex + strata(inst)`.
    pub fn rhs_label(&self) -> String {
        let mut parts: Vec<String> = self.terms.iter().map(Term::label).collect();
        if !self.intercept {
            parts.insert(0, "0".into());
        }
        if !self.strata.is_empty() {
            let s: Vec<String> = self.strata.iter().map(Variable::label).collect();
            parts.push(format!("strata({})", s.join(", ")));
        }
        if let Some(c) = &self.cluster {
            parts.push(format!("cluster({})", c.label()));
        }
        for r in &self.random {
            let mut lhs: Vec<String> = vec![if r.intercept { "1" } else { "0" }.into()];
            lhs.extend(r.slopes.iter().map(Variable::label));
            parts.push(format!("({} | {})", lhs.join(" + "), r.group.label()));
        }
        if parts.is_empty() {
            "1".into()
        } else {
            parts.join(" + ")
        }
    }

    /// The formula as written, its runs of white space made one space (as
    /// R's deparse shows a call's formula).
    pub fn written(&self) -> String {
        self.text.split_whitespace().collect::<Vec<_>>().join(" ")
    }

    /// An error about this formula at character `at`.
    pub fn error(&self, at: usize, message: impl Into<String>) -> FormulaError {
        FormulaError::new(&self.text, at, message)
    }
}
