//! The formula's tokens: names (R's syntactic names or backquoted text),
//! numbers, strings and operators, each with its character position.

use super::FormulaError;

#[derive(Debug, Clone, PartialEq)]
pub(super) enum Tok {
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
    pub(super) fn describe(&self) -> String {
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
pub(super) fn lex(text: &str) -> Result<Vec<(Tok, usize)>, FormulaError> {
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
