//! `lumbar risk`'s human output: the exposure, incidence by category, the
//! crude, adjusted and continuous risk ratios, the spline's test, the Cox
//! model and every fit's warnings.

use std::io::Write;

use anyhow::Result;
use lumbar_analysis::risk::RiskReport;

use super::super::stats::{print_terms, print_warnings};

pub(super) fn report(
    report: &RiskReport,
    excluded: Option<usize>,
    out: &mut dyn Write,
) -> Result<()> {
    let e = &report.exposure;
    writeln!(
        out,
        "Exposure {}: {} participants ({} dropped for missing values{}), reference {}",
        e.column,
        e.n,
        e.dropped,
        excluded
            .map(|x| format!(", {x} with too few valid days"))
            .unwrap_or_default(),
        e.reference
    )?;
    writeln!(
        out,
        "\n{:<10} {:>6} {:>7} {:>7} {:>10} {:>22}",
        "category", "n", "events", "risk", "PY", "rate /1000 PY (95% CI)"
    )?;
    for i in &report.incidence {
        writeln!(
            out,
            "{:<10} {:>6} {:>7} {:>7.3} {:>10} {:>22}",
            i.category,
            i.n,
            i.events,
            i.risk,
            i.person_years
                .map(|p| format!("{p:.0}"))
                .unwrap_or("—".into()),
            match (i.rate_per_1000py, i.rate_low, i.rate_high) {
                (Some(r), Some(l), Some(h)) => format!("{r:.1} ({l:.1}–{h:.1})"),
                _ => "—".into(),
            }
        )?;
    }
    writeln!(out, "\nCrude risk ratios (modified Poisson, robust SEs):")?;
    print_terms(&report.crude.terms[1..], "RR", out)?;
    writeln!(out, "\nAdjusted risk ratios:")?;
    print_terms(&report.poisson.terms[1..], "RR", out)?;
    writeln!(out, "\nContinuous exposure (adjusted):")?;
    print_terms(&report.continuous.terms[1..2], "RR", out)?;
    if let Some(s) = &report.spline {
        writeln!(
            out,
            "\nSpline ({} knots at {}): non-linearity chisq {:.3} on {} df, p {:.3}",
            s.knots.len(),
            s.knots
                .iter()
                .map(|k| format!("{k:.1}"))
                .collect::<Vec<_>>()
                .join(", "),
            s.nonlinearity_chisq,
            s.nonlinearity_df,
            s.nonlinearity_p
        )?;
    }
    if let Some(c) = &report.cox {
        writeln!(out, "\nCox model (Efron), hazard ratios:")?;
        print_terms(&c.terms, "HR", out)?;
    }
    // Every fit's warnings, named by the fit they come from.
    let mut warnings: Vec<String> = Vec::new();
    for (name, fit) in [
        ("crude", &report.crude),
        ("adjusted", &report.poisson),
        ("continuous", &report.continuous),
    ] {
        warnings.extend(fit.warnings.iter().map(|w| format!("{name} Poisson: {w}")));
    }
    if let Some(c) = &report.cox {
        warnings.extend(c.warnings.iter().map(|w| format!("Cox: {w}")));
    }
    if !warnings.is_empty() {
        writeln!(out)?;
        print_warnings(&warnings, out)?;
    }
    Ok(())
}
