//! The parser: a recursive descent over the tokens that builds R's term
//! algebra (see the module above for the rules), bounded in depth and in
//! the number of terms it expands to.

use super::lex::{Tok, lex};
use super::{
    Formula, FormulaError, Kind, MAX_DEPTH, MAX_TERMS, RandomTerm, Response, Term, Transform,
    Variable,
};

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

pub(super) struct Parser<'a> {
    text: &'a str,
    toks: Vec<(Tok, usize)>,
    pos: usize,
    depth: usize,
    /// Every variable seen, in order of first appearance (R's order for a
    /// term's variables).
    seen: Vec<Variable>,
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

    pub(super) fn formula(&mut self) -> Result<Formula, FormulaError> {
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

impl<'a> Parser<'a> {
    /// A parser over `text`'s tokens.
    pub(super) fn new(text: &'a str) -> Result<Parser<'a>, FormulaError> {
        Ok(Parser {
            text,
            toks: lex(text)?,
            pos: 0,
            depth: 0,
            seen: Vec::new(),
        })
    }
}
