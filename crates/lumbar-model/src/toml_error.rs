//! A TOML file's parse error as one line a person can act on: where
//! (line and column, from the error's byte span in the text) and what,
//! in the file's terms rather than the Rust types it was read into.

/// `line L, column C: what` (or just `what` when the error has no place).
pub fn describe(text: &str, e: &toml::de::Error) -> String {
    let what = plain(e.message());
    match e.span() {
        Some(span) => {
            let (line, column) = line_column(text, span.start);
            // The line itself, so the key at fault is named.
            let source: String = text
                .lines()
                .nth(line - 1)
                .unwrap_or("")
                .trim()
                .chars()
                .take(80)
                .collect();
            if source.is_empty() {
                format!("line {line}, column {column}: {what}")
            } else {
                format!("line {line}, column {column} (`{source}`): {what}")
            }
        }
        None => what,
    }
}

/// 1-based line and column (in characters) of a byte offset.
fn line_column(text: &str, at: usize) -> (usize, usize) {
    let at = at.min(text.len());
    let before = text.get(..at).unwrap_or(text);
    let line = before.matches('\n').count() + 1;
    let column = before.rsplit('\n').next().map_or(0, |l| l.chars().count()) + 1;
    (line, column)
}

/// serde's words for Rust types, in a TOML file's words.
fn plain(message: &str) -> String {
    let mut m = message.trim().replace('\n', " ");
    // `data did not match any variant of untagged enum RawDose`: a key that
    // takes one of several forms (a number or a range, a word or a list).
    if let Some(at) = m.find("data did not match any variant of untagged enum") {
        m.replace_range(at.., "the value has none of the forms this key takes (see the file's documentation for examples)");
    }
    for (rust, toml) in [
        ("expected f64", "expected a number"),
        ("expected f32", "expected a number"),
        ("expected u64", "expected a whole number"),
        ("expected u32", "expected a whole number"),
        ("expected u16", "expected a whole number"),
        ("expected u8", "expected a whole number"),
        ("expected usize", "expected a whole number"),
        ("expected i64", "expected a whole number"),
        ("expected i32", "expected a whole number"),
        ("expected a sequence", "expected an array [ … ]"),
        ("expected a map", "expected a table"),
        ("expected a string", "expected text in quotes"),
        ("invalid type: sequence", "invalid type: array"),
        ("invalid type: map", "invalid type: table"),
        ("invalid type: floating point", "invalid type: number"),
        ("invalid type: integer", "invalid type: number"),
    ] {
        m = m.replace(rust, toml);
    }
    // `expected struct RawExercise` and the like.
    while let Some(at) = m.find("struct Raw") {
        let name = at + "struct ".len();
        let end = m[name..]
            .find(|c: char| !c.is_ascii_alphanumeric() && c != '_')
            .map_or(m.len(), |e| name + e);
        m.replace_range(at..end, "a table");
    }
    m
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, serde::Deserialize)]
    #[allow(dead_code)]
    struct File {
        sets: Dose,
        reps: f64,
    }

    #[derive(Debug, serde::Deserialize)]
    #[serde(untagged)]
    #[allow(dead_code)]
    enum Dose {
        One(f64),
        Range(Vec<f64>),
    }

    fn error(text: &str) -> String {
        describe(text, &toml::from_str::<File>(text).unwrap_err())
    }

    #[test]
    fn errors_say_where_and_what_in_the_files_words() {
        let e = error("reps = 3\nsets = \"ten\"\n");
        assert_eq!(
            e,
            "line 2, column 8 (`sets = \"ten\"`): the value has none of the forms this key takes (see the file's documentation for examples)"
        );
        let e = error("sets = 2\nreps = \"x\"\n");
        assert!(
            e.starts_with(
                "line 2, column 8 (`reps = \"x\"`): invalid type: string \"x\", expected a number"
            ),
            "{e}"
        );
        let e = error("sets = [2\nreps = 3\n");
        assert!(e.starts_with("line 2, column 1 (`reps = 3`): "), "{e}");
        assert!(
            !e.contains('\n') && !e.contains("Raw") && !e.contains("f64"),
            "{e}"
        );
    }
}
