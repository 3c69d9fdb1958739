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

#[derive(Debug, Clone, PartialEq)]
enum Tok {
    Name(String),
    Number(String),
    Str(String),
    Tilde,
    Plus,
    Minus,
    Star,
    Colon,
    Caret,
    Pipe,
    DoublePipe,
    EqEq,
    LParen,
    RParen,
    Comma,
    End,
}

impl Tok {
    fn describe(&self) -> String {
        match self {
            Tok::Name(n) => format!("'{n}'"),
            Tok::Number(n) => format!("'{n}'"),
            Tok::Str(s) => format!("\"{s}\""),
            Tok::End => "the end".into(),
            Tok::Tilde => "'~'".into(),
            Tok::Plus => "'+'".into(),
            Tok::Minus => "'-'".into(),
            Tok::Star => "'*'".into(),
            Tok::Colon => "':'".into(),
            Tok::Caret => "'^'".into(),
            Tok::Pipe => "'|'".into(),
            Tok::DoublePipe => "'||'".into(),
            Tok::EqEq => "'=='".into(),
            Tok::LParen => "'('".into(),
            Tok::RParen => "')'".into(),
            Tok::Comma => "','".into(),
        }
    }
}

/// Splits a formula into tokens with their character positions. Names
/// are R's syntactic names (letters, digits, `.` and `_`, not starting
/// with a digit or `_`) or any text between backquotes.
fn lex(text: &str) -> Result<Vec<(Tok, usize)>, FormulaError> {
    let chars: Vec<char> = text.chars().collect();
    let err = |at: usize, m: String| Err(FormulaError::new(text, at, m));
    let mut out = Vec::new();
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        let start = i;
        let single = match c {
            '~' => Some(Tok::Tilde),
            '+' => Some(Tok::Plus),
            '-' => Some(Tok::Minus),
            '*' => Some(Tok::Star),
            ':' => Some(Tok::Colon),
            '^' => Some(Tok::Caret),
            '(' => Some(Tok::LParen),
            ')' => Some(Tok::RParen),
            ',' => Some(Tok::Comma),
            _ => None,
        };
        if let Some(t) = single {
            out.push((t, start));
            i += 1;
            continue;
        }
        if c.is_whitespace() {
            i += 1;
        } else if c == '|' {
            if chars.get(i + 1) == Some(&'|') {
                out.push((Tok::DoublePipe, start));
                i += 2;
            } else {
                out.push((Tok::Pipe, start));
                i += 1;
            }
        } else if c == '=' {
            if chars.get(i + 1) == Some(&'=') {
                out.push((Tok::EqEq, start));
                i += 2;
            } else {
                return err(
                    start,
                    "'=' is not part of a formula (did you mean '=='?)".into(),
                );
            }
        } else if c == '`' || c == '"' || c == '\'' {
            let Some(len) = chars[i + 1..].iter().position(|&d| d == c) else {
                return err(start, format!("{c} opened here is never closed"));
            };
            let s: String = chars[i + 1..i + 1 + len].iter().collect();
            if s.is_empty() {
                return err(start, "an empty name".into());
            }
            out.push((if c == '`' { Tok::Name(s) } else { Tok::Str(s) }, start));
            i += len + 2;
        } else if c.is_ascii_digit()
            || (c == '.' && chars.get(i + 1).is_some_and(char::is_ascii_digit))
        {
            while i < chars.len() && (chars[i].is_ascii_digit() || chars[i] == '.') {
                i += 1;
            }
            out.push((Tok::Number(chars[start..i].iter().collect()), start));
        } else if c.is_alphabetic() || c == '.' {
            while i < chars.len()
                && (chars[i].is_alphanumeric() || chars[i] == '.' || chars[i] == '_')
            {
                i += 1;
            }
            let name: String = chars[start..i].iter().collect();
            if name == "." {
                return err(
                    start,
                    "'.' (all the other columns) is not supported here; name the columns".into(),
                );
            }
            out.push((Tok::Name(name), start));
        } else {
            return err(start, format!("'{c}' is not part of a formula"));
        }
    }
    out.push((Tok::End, chars.len()));
    Ok(out)
}

/// What a piece of a formula's right-hand side stands for while it is
/// being read: terms, an intercept said or removed, and the specials.
#[derive(Debug, Default)]
struct Part {
    terms: Vec<Term>,
    /// `Some(true)` for `1`, `Some(false)` for `0`.
    intercept: Option<bool>,
    strata: Vec<Variable>,
    cluster: Option<Variable>,
    random: Vec<RandomTerm>,
    /// Where the first special of this part starts (specials cannot be
    /// crossed with other terms).
    special_at: Option<usize>,
}

impl Part {
    fn of_term(t: Term) -> Part {
        Part {
            terms: vec![t],
            ..Default::default()
        }
    }
}

struct Parser<'a> {
    text: &'a str,
    toks: Vec<(Tok, usize)>,
    pos: usize,
    depth: usize,
    /// Every variable seen, in order of first appearance (R's order for a
    /// term's variables).
    seen: Vec<Variable>,
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
        let mut p = Parser {
            text,
            toks: lex(text)?,
            pos: 0,
            depth: 0,
            seen: Vec::new(),
        };
        p.formula()
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

impl Parser<'_> {
    fn peek(&self) -> &Tok {
        &self.toks[self.pos.min(self.toks.len() - 1)].0
    }

    fn at(&self) -> usize {
        self.toks[self.pos.min(self.toks.len() - 1)].1
    }

    fn bump(&mut self) -> (Tok, usize) {
        let t = self.toks[self.pos.min(self.toks.len() - 1)].clone();
        self.pos += 1;
        t
    }

    fn err<T>(&self, at: usize, m: impl Into<String>) -> Result<T, FormulaError> {
        Err(FormulaError::new(self.text, at, m))
    }

    fn unexpected<T>(&self, wanted: &str) -> Result<T, FormulaError> {
        self.err(
            self.at(),
            format!("expected {wanted}, found {}", self.peek().describe()),
        )
    }

    fn expect(&mut self, t: Tok, wanted: &str) -> Result<usize, FormulaError> {
        if *self.peek() == t {
            Ok(self.bump().1)
        } else {
            self.unexpected(wanted)
        }
    }

    fn formula(&mut self) -> Result<Formula, FormulaError> {
        if *self.peek() == Tok::Tilde {
            return self.err(self.at(), "the formula has no response before '~'");
        }
        let response = self.response()?;
        self.expect(Tok::Tilde, "'~' after the response")?;
        if *self.peek() == Tok::End {
            return self.unexpected("terms after '~' (write 1 for none)");
        }
        let rhs = self.sum()?;
        if *self.peek() != Tok::End {
            return self.unexpected("'+', '-', '*', ':' or the end");
        }
        let mut terms = rhs.terms;
        // R's order: by the number of variables, then first appearance
        // (a stable sort keeps the latter).
        terms.sort_by_key(|t| t.variables.len());
        Ok(Formula {
            text: self.text.to_string(),
            response,
            terms,
            intercept: rhs.intercept.unwrap_or(true),
            strata: rhs.strata,
            cluster: rhs.cluster,
            random: rhs.random,
        })
    }

    fn response(&mut self) -> Result<Response, FormulaError> {
        let at = self.at();
        if *self.peek() == Tok::Name("Surv".into()) {
            self.bump();
            self.expect(Tok::LParen, "'(' after Surv")?;
            let mut args = vec![self.argument()?];
            while *self.peek() == Tok::Comma {
                self.bump();
                if args.len() == 3 {
                    return self.err(
                        self.at(),
                        "Surv takes (time, event) or (start, stop, event)",
                    );
                }
                args.push(self.argument()?);
            }
            self.expect(Tok::RParen, "',' or ')' in Surv(…)")?;
            let mut args = args.into_iter();
            let (start, stop, event) = match (args.next(), args.next(), args.next()) {
                (Some(stop), Some(event), None) => (None, stop, event),
                (Some(start), Some(stop), Some(event)) => (Some(start), stop, event),
                _ => return self.err(at, "Surv takes (time, event) or (start, stop, event)"),
            };
            for v in start.iter().chain([&stop]) {
                if v.kind != Kind::Plain {
                    return self.err(v.at, "a Surv time is a column's name");
                }
            }
            return Ok(Response::Surv {
                start,
                stop,
                event,
                at,
            });
        }
        let v = self.argument()?;
        if matches!(v.kind, Kind::Factor) {
            return self.err(v.at, "the response is a column, not a factor");
        }
        Ok(Response::Variable(v))
    }

    /// A variable as an argument or response: `name`, `f(name)` or
    /// `name == value`.
    fn argument(&mut self) -> Result<Variable, FormulaError> {
        let v = self.variable()?;
        if *self.peek() == Tok::EqEq {
            self.bump();
            let at = self.at();
            let value = match self.bump().0 {
                Tok::Number(n) | Tok::Str(n) | Tok::Name(n) => n,
                _ => return self.err(at, "'==' needs a value after it"),
            };
            if v.kind != Kind::Plain {
                return self.err(v.at, "'==' compares a column's own values");
            }
            return Ok(Variable {
                kind: Kind::Equals(value),
                ..v
            });
        }
        Ok(v)
    }

    /// `name` or `fun(name)` for the functions of a variable.
    fn variable(&mut self) -> Result<Variable, FormulaError> {
        let at = self.at();
        let Tok::Name(name) = self.peek().clone() else {
            return self.unexpected("a column's name");
        };
        self.bump();
        if *self.peek() != Tok::LParen {
            return Ok(self.note(Variable {
                column: name,
                kind: Kind::Plain,
                at,
            }));
        }
        let kind = match name.as_str() {
            "factor" | "as.factor" => Kind::Factor,
            _ => match Transform::ALL.iter().find(|(n, _)| *n == name) {
                Some((_, t)) => Kind::Transform(*t),
                None => {
                    return self.err(
                        at,
                        format!(
                            "unknown function '{name}' (a formula here knows factor, \
                             log, log2, log10, sqrt, exp, and strata, cluster and Surv)"
                        ),
                    );
                }
            },
        };
        self.bump();
        let inner_at = self.at();
        let Tok::Name(column) = self.bump().0 else {
            return self.err(inner_at, format!("{name}(…) takes one column's name"));
        };
        self.expect(Tok::RParen, &format!("')' closing {name}("))?;
        Ok(self.note(Variable { column, kind, at }))
    }

    /// Records a variable's first appearance.
    fn note(&mut self, v: Variable) -> Variable {
        if !self.seen.iter().any(|w| w.same(&v)) {
            self.seen.push(v.clone());
        }
        v
    }

    fn rank(&self, v: &Variable) -> usize {
        self.seen
            .iter()
            .position(|w| w.same(v))
            .unwrap_or(usize::MAX)
    }

    /// `a + b - c`.
    fn sum(&mut self) -> Result<Part, FormulaError> {
        let mut acc = if *self.peek() == Tok::Minus {
            // A leading minus: `~ -1 + x`.
            Part::default()
        } else {
            self.product()?
        };
        loop {
            match self.peek() {
                Tok::Plus => {
                    self.bump();
                    let rhs = self.product()?;
                    self.add(&mut acc, rhs)?;
                }
                Tok::Minus => {
                    self.bump();
                    let at = self.at();
                    let rhs = self.product()?;
                    if rhs.special_at.is_some() {
                        return self.err(at, "strata, cluster and random terms cannot be removed");
                    }
                    match rhs.intercept {
                        // `- 1` removes the intercept, `- 0` puts it back.
                        Some(i) => acc.intercept = Some(!i),
                        None => acc.terms.retain(|t| !rhs.terms.iter().any(|r| r.same(t))),
                    }
                }
                _ => return Ok(acc),
            }
        }
    }

    fn add(&self, acc: &mut Part, rhs: Part) -> Result<(), FormulaError> {
        if let Some(i) = rhs.intercept {
            acc.intercept = Some(i);
        }
        for t in rhs.terms {
            if !acc.terms.iter().any(|a| a.same(&t)) {
                acc.terms.push(t);
            }
        }
        if acc.terms.len() > MAX_TERMS {
            return self.err(self.at(), format!("more than {MAX_TERMS} terms"));
        }
        if !rhs.strata.is_empty() {
            if !acc.strata.is_empty() {
                return self.err(
                    rhs.special_at.unwrap_or(0),
                    "strata(…) is given twice (write strata(a, b) for both)",
                );
            }
            acc.strata = rhs.strata;
        }
        if let Some(c) = rhs.cluster {
            if acc.cluster.is_some() {
                return self.err(c.at, "cluster(…) is given twice");
            }
            acc.cluster = Some(c);
        }
        acc.random.extend(rhs.random);
        acc.special_at = acc.special_at.or(rhs.special_at);
        Ok(())
    }

    /// `a * b` (`:` binds tighter, as in R).
    fn product(&mut self) -> Result<Part, FormulaError> {
        let mut acc = self.interaction()?;
        while *self.peek() == Tok::Star {
            let at = self.bump().1;
            let rhs = self.interaction()?;
            let cross = self.cross(&acc, &rhs, at)?;
            let mut sum = acc;
            self.add(&mut sum, rhs)?;
            self.add(&mut sum, cross)?;
            acc = sum;
        }
        Ok(acc)
    }

    /// `a : b`.
    fn interaction(&mut self) -> Result<Part, FormulaError> {
        let mut acc = self.power()?;
        while *self.peek() == Tok::Colon {
            let at = self.bump().1;
            let rhs = self.power()?;
            acc = self.cross(&acc, &rhs, at)?;
        }
        Ok(acc)
    }

    /// `(a + b)^k`: all interactions of up to `k` of the terms.
    fn power(&mut self) -> Result<Part, FormulaError> {
        let base = self.atom()?;
        if *self.peek() != Tok::Caret {
            return Ok(base);
        }
        let at = self.bump().1;
        let k_at = self.at();
        let k = match self.bump().0 {
            Tok::Number(n) => n.parse::<usize>().ok().filter(|&k| k >= 1),
            _ => None,
        };
        let Some(k) = k else {
            return self.err(k_at, "'^' takes a whole number of at least 1");
        };
        let mut acc = Part {
            terms: base.terms.clone(),
            ..Default::default()
        };
        for _ in 1..k.min(MAX_TERMS) {
            let cross = self.cross(&acc, &base, at)?;
            let before = acc.terms.len();
            self.add(&mut acc, cross)?;
            if acc.terms.len() == before {
                break;
            }
        }
        self.add(
            &mut acc,
            Part {
                terms: Vec::new(),
                ..base
            },
        )?;
        Ok(acc)
    }

    /// The pairwise unions of two parts' terms (`a:b`).
    fn cross(&self, a: &Part, b: &Part, at: usize) -> Result<Part, FormulaError> {
        if let Some(s) = a.special_at.or(b.special_at) {
            return self.err(
                s,
                "strata, cluster and random terms cannot be in an interaction",
            );
        }
        if a.intercept.is_some() || b.intercept.is_some() {
            return self.err(at, "an intercept (0 or 1) cannot be in an interaction");
        }
        let mut out = Part::default();
        for x in &a.terms {
            for y in &b.terms {
                let mut vars = x.variables.clone();
                for v in &y.variables {
                    if !vars.iter().any(|w| w.same(v)) {
                        vars.push(v.clone());
                    }
                }
                vars.sort_by_key(|v| self.rank(v));
                let t = Term { variables: vars };
                if !out.terms.iter().any(|o: &Term| o.same(&t)) {
                    out.terms.push(t);
                }
                if out.terms.len() > MAX_TERMS {
                    return self.err(at, format!("more than {MAX_TERMS} terms"));
                }
            }
        }
        Ok(out)
    }

    fn atom(&mut self) -> Result<Part, FormulaError> {
        let at = self.at();
        match self.peek().clone() {
            Tok::LParen => {
                self.depth += 1;
                if self.depth > MAX_DEPTH {
                    return self.err(at, format!("parentheses nested deeper than {MAX_DEPTH}"));
                }
                self.bump();
                let inner = self.sum()?;
                let part = if *self.peek() == Tok::Pipe {
                    self.bump();
                    self.random(inner, at)?
                } else if *self.peek() == Tok::DoublePipe {
                    return self.err(
                        self.at(),
                        "'||' (uncorrelated random effects) is not supported; write (1 | g) + (0 + x | g)",
                    );
                } else {
                    inner
                };
                self.expect(Tok::RParen, "')'")?;
                self.depth -= 1;
                Ok(part)
            }
            Tok::Number(n) => {
                self.bump();
                match n.as_str() {
                    "1" => Ok(Part {
                        intercept: Some(true),
                        ..Default::default()
                    }),
                    "0" => Ok(Part {
                        intercept: Some(false),
                        ..Default::default()
                    }),
                    _ => self.err(
                        at,
                        format!("'{n}': only 1 and 0 (the intercept) are numbers in a formula"),
                    ),
                }
            }
            Tok::Name(name) if name == "strata" || name == "cluster" => {
                self.bump();
                self.expect(Tok::LParen, &format!("'(' after {name}"))?;
                let mut vars = vec![self.variable()?];
                while *self.peek() == Tok::Comma {
                    self.bump();
                    vars.push(self.variable()?);
                }
                self.expect(Tok::RParen, &format!("',' or ')' in {name}(…)"))?;
                if name == "cluster" {
                    if vars.len() > 1 {
                        return self.err(vars[1].at, "cluster(…) takes one column");
                    }
                    let c = vars.remove(0);
                    Ok(Part {
                        cluster: Some(c),
                        special_at: Some(at),
                        ..Default::default()
                    })
                } else {
                    Ok(Part {
                        strata: vars,
                        special_at: Some(at),
                        ..Default::default()
                    })
                }
            }
            Tok::Name(name) if name == "Surv" => self.err(at, "Surv(…) belongs on the left of '~'"),
            Tok::Name(_) => {
                let v = self.variable()?;
                if *self.peek() == Tok::EqEq {
                    return self.err(
                        self.at(),
                        "'==' belongs in Surv's event, not among the terms",
                    );
                }
                Ok(Part::of_term(Term { variables: vec![v] }))
            }
            _ => self.unexpected("a term"),
        }
    }

    /// `(inner | group)`: lme4's random-effects term.
    fn random(&mut self, inner: Part, at: usize) -> Result<Part, FormulaError> {
        if let Some(s) = inner.special_at {
            return self.err(s, "a random-effects term holds only variables before '|'");
        }
        let mut slopes = Vec::new();
        for t in &inner.terms {
            match t.variables.as_slice() {
                [v] if matches!(v.kind, Kind::Plain | Kind::Transform(_)) => slopes.push(v.clone()),
                [v, ..] => {
                    return self.err(
                        v.at,
                        "random slopes here are numeric columns (no factors or interactions before '|')",
                    );
                }
                [] => {}
            }
        }
        let group_at = self.at();
        let group = self.variable()?;
        if group.kind != Kind::Plain {
            return self.err(group_at, "the grouping factor after '|' is a column's name");
        }
        Ok(Part {
            random: vec![RandomTerm {
                intercept: inner.intercept.unwrap_or(true),
                slopes,
                group,
                at,
            }],
            special_at: Some(at),
            ..Default::default()
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn labels(f: &Formula) -> Vec<String> {
        f.terms.iter().map(Term::label).collect()
    }

    #[test]
    fn survival_formulas_as_coxph_reads_them() {
        let f = Formula::parse(
            "Surv(time, status) ~ age + sex + factor(ph.ecog) + strata(inst) + cluster(id)",
        )
        .unwrap();
        assert_eq!(labels(&f), ["age", "sex", "factor(ph.ecog)"]);
        assert_eq!(f.strata.len(), 1);
        assert_eq!(f.strata[0].column, "inst");
        assert_eq!(f.cluster.as_ref().map(|c| c.column.as_str()), Some("id"));
        let Response::Surv {
            start, stop, event, ..
        } = &f.response
        else {
            panic!("{:?}", f.response)
        };
        assert!(start.is_none());
        assert_eq!(
            (stop.column.as_str(), event.column.as_str()),
            ("time", "status")
        );
        let f = Formula::parse("Surv(start, stop, status == 2) ~ x").unwrap();
        let Response::Surv { start, event, .. } = &f.response else {
            panic!()
        };
        assert_eq!(start.as_ref().map(|s| s.column.as_str()), Some("start"));
        assert_eq!(event.kind, Kind::Equals("2".into()));
        assert_eq!(event.label(), "status == 2");
        assert_eq!(f.columns(), ["start", "stop", "status", "x"]);
    }

    #[test]
    fn the_term_algebra_is_rs() {
        // a*b = a + b + a:b; terms by degree; a term's variables in their
        // order of first appearance.
        let f = Formula::parse("y ~ a*b + c").unwrap();
        assert_eq!(labels(&f), ["a", "b", "c", "a:b"]);
        let f = Formula::parse("y ~ b:a + a").unwrap();
        assert_eq!(labels(&f), ["a", "b:a"]);
        let f = Formula::parse("y ~ (a + b + c)^2").unwrap();
        assert_eq!(labels(&f), ["a", "b", "c", "a:b", "a:c", "b:c"]);
        let f = Formula::parse("y ~ a*b*c - a:b:c").unwrap();
        assert_eq!(labels(&f), ["a", "b", "c", "a:b", "a:c", "b:c"]);
        let f = Formula::parse("y ~ (a + b):c").unwrap();
        assert_eq!(labels(&f), ["a:c", "b:c"]);
        let f = Formula::parse("y ~ week + arm:week").unwrap();
        assert_eq!(labels(&f), ["week", "week:arm"]);
        // Duplicates collapse; the intercept comes and goes.
        let f = Formula::parse("y ~ a + a + a:a").unwrap();
        assert_eq!(labels(&f), ["a"]);
        assert!(f.intercept);
        assert!(!Formula::parse("y ~ a - 1").unwrap().intercept);
        assert!(!Formula::parse("y ~ 0 + a").unwrap().intercept);
        assert!(!Formula::parse("y ~ -1 + a").unwrap().intercept);
        assert!(Formula::parse("y ~ 1").unwrap().terms.is_empty());
        // Backquoted names, functions of a column.
        let f = Formula::parse("`pain score` ~ log(age) + factor(`site id`)").unwrap();
        assert_eq!(labels(&f), ["log(age)", "factor(site id)"]);
        assert_eq!(f.columns(), ["pain score", "age", "site id"]);
    }

    #[test]
    fn random_effects_as_lme4_reads_them() {
        let f = Formula::parse("Reaction ~ Days + (Days | Subject)").unwrap();
        assert_eq!(labels(&f), ["Days"]);
        assert_eq!(f.random.len(), 1);
        let r = &f.random[0];
        assert!(r.intercept);
        assert_eq!(r.slopes[0].column, "Days");
        assert_eq!(r.group.column, "Subject");
        let f = Formula::parse("y ~ x + (1 | g)").unwrap();
        assert!(f.random[0].slopes.is_empty() && f.random[0].intercept);
        let f = Formula::parse("y ~ x + (0 + x | g)").unwrap();
        assert!(!f.random[0].intercept);
        assert_eq!(f.rhs_label(), "x + (0 + x | g)");
    }

    /// Errors point at the character they are about.
    #[test]
    fn errors_point_at_the_character() {
        let at = |text: &str| Formula::parse(text).unwrap_err();
        let e = at("Surv(time, status) ~ age + foo(x)");
        assert_eq!(e.at, 27);
        assert!(e.message.contains("unknown function 'foo'"), "{e}");
        assert_eq!(
            e.to_string(),
            "formula, character 28: unknown function 'foo' (a formula here knows factor, log, \
             log2, log10, sqrt, exp, and strata, cluster and Surv)\n  \
             Surv(time, status) ~ age + foo(x)\n                             ^"
        );
        assert_eq!(at("y ~ a +").at, 7);
        assert_eq!(at("y ~ a + + b").at, 8);
        assert_eq!(at("y ~ (a + b").at, 10);
        assert_eq!(at("y a").at, 2);
        assert_eq!(at("~ a").at, 0);
        assert_eq!(at("y ~ a $ b").at, 6);
        assert_eq!(at("y ~ strata(a):b").at, 4);
        assert_eq!(at("y ~ a + (x || g)").at, 11);
        assert_eq!(at("y ~ a + 2").at, 8);
        assert_eq!(at("y ~ Surv(t, e)").at, 4);
        assert_eq!(at("Surv(t) ~ a").at, 0);
        assert_eq!(at("y ~ `a").at, 4);
        // Hostile sizes are refused, not recursed into or expanded.
        let deep = format!("y ~ {}a{}", "(".repeat(200), ")".repeat(200));
        assert!(at(&deep).message.contains("nested deeper"));
        let wide: Vec<String> = (0..40).map(|i| format!("x{i}")).collect();
        let e = at(&format!("y ~ ({})^40", wide.join(" + ")));
        assert!(e.message.contains("more than 512 terms"), "{e}");
        assert!(at(&"a".repeat(5000)).message.contains("at most 4096"));
        assert!(at("y ~ .").message.contains("'.' (all the other columns)"));
        // A long formula is shown around the character only; control and
        // bidirectional characters are not echoed to the terminal.
        let long = format!("y ~ {} + foo(x)", vec!["a"; 400].join(" + "));
        let shown = at(&long).to_string();
        assert!(
            shown.len() < 400 && shown.contains("…") && shown.ends_with('^'),
            "{shown}"
        );
        let hostile = at("y ~ a + \u{1b}[31m\u{202e}foo(x)").to_string();
        assert!(
            !hostile.contains('\u{1b}') && !hostile.contains('\u{202e}'),
            "{hostile:?}"
        );
    }
}
