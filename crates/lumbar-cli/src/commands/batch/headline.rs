//! What a batch step found, in a few lines: picked from the summary the
//! step's command prints when run alone, so a batch says what each step
//! read, rejected and concluded, not only that it ran.
//!
//! - ingest: each table's `read = accepted + rejected` and where the
//!   rejects are;
//! - analyze: adherence, safety, responders and the pain model;
//! - risk: the adjusted risk ratios (term, RR and its 95% CI);
//! - report: where the report is and whom it covers;
//! - simulate, compare: the last week's headline row is in their folder;
//!   nothing is repeated here.

/// The headline lines of a step of `kind` from its printed output.
pub(super) fn headline(kind: &str, printed: &str) -> Vec<String> {
    let lines = printed.lines();
    match kind {
        "ingest" => lines
            .filter(|l| {
                l.contains(": read ") || l.starts_with("store: ") || l.starts_with("note: ")
            })
            .map(str::to_string)
            .collect(),
        "analyze" => lines
            .filter(|l| {
                ["adherence: ", "safety: ", "pain: ", "pain model: "]
                    .iter()
                    .any(|p| l.starts_with(p))
            })
            .map(str::to_string)
            .collect(),
        "risk" => adjusted_risk_ratios(printed),
        "report" => lines
            .filter(|l| l.starts_with("report: "))
            .map(str::to_string)
            .collect(),
        _ => Vec::new(),
    }
}

/// `adjusted RR TERM: RR (LOW–HIGH)` for each row of risk's "Adjusted risk
/// ratios" table (its last two columns are the RR and the CI).
fn adjusted_risk_ratios(printed: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut lines = printed
        .lines()
        .skip_while(|l| !l.starts_with("Adjusted risk ratios"));
    lines.next(); // the title
    lines.next(); // the column header
    for row in lines.take_while(|l| !l.trim().is_empty()) {
        let cells: Vec<&str> = row.split_whitespace().collect();
        if let [term, .., rr, ci] = cells[..] {
            out.push(format!("adjusted risk ratio {term}: {rr} (95% CI {ci})"));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_kind_keeps_its_summary_lines() {
        let ingest = "table read accepted\nsessions      4   3\n\nsessions: read 4 = accepted 3 + rejected 1\nstore: st (rejected rows and reasons: st/rejects/)\n";
        assert_eq!(
            headline("ingest", ingest),
            [
                "sessions: read 4 = accepted 3 + rejected 1",
                "store: st (rejected rows and reasons: st/rejects/)"
            ]
        );
        let risk = "Crude risk ratios (modified Poisson, robust SEs):\nterm estimate RR 95% CI\nwalking_min[78-100] -0.18 0.8345 0.6212–1.1211\n\n\
                    Adjusted risk ratios:\nterm estimate std.error z p RR 95% CI\n\
                    walking_min[78-100]      -0.18088    0.15059   -1.201   2.297e-1   0.8345   0.6212–1.1211  \n\
                    walking_min[>=125]       -0.31027    0.14494   -2.141   3.230e-2   0.7333   0.5519–0.9741  \n\nContinuous exposure (adjusted):\n";
        assert_eq!(
            headline("risk", risk),
            [
                "adjusted risk ratio walking_min[78-100]: 0.8345 (95% CI 0.6212–1.1211)",
                "adjusted risk ratio walking_min[>=125]: 0.7333 (95% CI 0.5519–0.9741)"
            ]
        );
        assert!(headline("simulate", "week 12 ...").is_empty());
    }
}
