//! `lumbar stats km`: Kaplan–Meier curves and the log-rank test, as
//! survival's `survfit` and `survdiff`.

use std::io::Write;

use anyhow::Result;
use clap::Args;
use lumbar_analysis::columns;

use super::{SurvivalColumns, print_warnings};

#[derive(Args, Debug)]
pub struct KmArgs {
    #[command(flatten)]
    pub surv: SurvivalColumns,
    /// Group column: one curve per group, and the log-rank test.
    #[arg(long, value_name = "COL")]
    pub group: Option<String>,
    /// Survival at these times, comma-separated (as summary(fit, times =)).
    #[arg(long, value_delimiter = ',', value_name = "T1,T2")]
    pub times: Vec<f64>,
    #[command(flatten)]
    pub level: super::ConfLevel,
    /// Print JSON on stdout.
    #[arg(long)]
    pub json: bool,
    #[command(flatten)]
    pub table_out: super::TableOut,
    #[command(flatten)]
    pub plot: super::PlotArg,
}

/// One step of one curve, as a table row (survfit's summary columns).
#[derive(serde::Serialize)]
struct StepRow<'a> {
    group: &'a str,
    time: f64,
    n_risk: f64,
    n_event: f64,
    n_censor: f64,
    surv: f64,
    std_err: f64,
    lower: f64,
    upper: f64,
}

pub fn km(args: &KmArgs, out: &mut dyn Write) -> Result<u8> {
    use lumbar_stats::survival;
    let df = args.surv.na.read(&args.surv.data)?;
    let labels: Vec<&str> = args.group.iter().map(String::as_str).collect();
    let d = columns::design(&df, &[], &[], &[&args.surv.time, &args.surv.event], &labels)?;
    let (event, coding) = columns::events(&df, &d, &args.surv.event)?;
    let time = d.variable(&args.surv.time).unwrap_or(&[]);
    let level = args.level.get()?;
    let groups = args.group.as_deref().and_then(|g| d.label(g));
    let (curves, test) = survival::by_group_at(time, &event, groups, level);
    let curves: Vec<_> = curves
        .into_iter()
        .map(|c| c.with_times(&args.times))
        .collect();
    let mut warnings = Vec::new();
    let nonpositive = time.iter().filter(|t| **t <= 0.0).count();
    if nonpositive > 0 {
        warnings.push(format!(
            "{nonpositive} observation(s) have a time of 0 or less; kept, as survfit keeps them"
        ));
    }
    let doc = serde_json::json!({
        "n": d.rows, "n_dropped": d.dropped, "event_coding": coding, "conf_level": level,
        "curves": curves, "logrank": test, "warnings": warnings,
    });
    let steps: Vec<StepRow> = curves
        .iter()
        .flat_map(|c| {
            c.steps.iter().map(|s| StepRow {
                group: c.group.as_deref().unwrap_or("all"),
                time: s.time,
                n_risk: s.n_risk,
                n_event: s.n_event,
                n_censor: s.n_censor,
                surv: s.surv,
                std_err: s.std_err,
                lower: s.lower,
                upper: s.upper,
            })
        })
        .collect();
    args.table_out.write("curves", &steps, "fit", &doc)?;
    let title = match &args.group {
        Some(g) => format!("Kaplan–Meier survival by {g}"),
        None => "Kaplan–Meier survival".to_string(),
    };
    super::plot::write_km(
        &args.plot,
        &curves,
        args.group.as_deref(),
        &args.surv.time,
        &title,
    )?;
    if args.json {
        writeln!(out, "{}", serde_json::to_string_pretty(&doc)?)?;
        return Ok(0);
    }
    writeln!(
        out,
        "Kaplan–Meier: {} observations ({} dropped for missing values); event coding {}\n",
        d.rows,
        d.dropped,
        match coding {
            survival::EventCoding::ZeroOne => "0/1",
            survival::EventCoding::OneTwo => "1/2 (R's Surv: 1 = censored, 2 = event)",
        }
    )?;
    let when = |t: Option<f64>| t.map(|m| m.to_string()).unwrap_or_else(|| "NA".into());
    let ci = format!("{}% CI", 100.0 * level);
    for c in &curves {
        writeln!(
            out,
            "{}: n {}, events {}, median {} ({ci} {}–{})",
            c.group.as_deref().unwrap_or("all"),
            c.n,
            c.events,
            c.median
                .map(|m| m.to_string())
                .unwrap_or_else(|| "not reached".into()),
            when(c.median_lower),
            when(c.median_upper)
        )?;
        writeln!(
            out,
            "  quartiles: {}",
            c.quantiles
                .iter()
                .map(|q| format!(
                    "{:.0}% {} ({}–{})",
                    q.prob * 100.0,
                    when(q.time),
                    when(q.lower),
                    when(q.upper)
                ))
                .collect::<Vec<_>>()
                .join(", ")
        )?;
        // std.err is the SE of S(t), as summary.survfit prints it.
        writeln!(
            out,
            "{:>10} {:>8} {:>7} {:>8} {:>8} {:>17}",
            "time", "n.risk", "n.event", "surv", "std.err", ci
        )?;
        for s in c.steps.iter().filter(|s| s.n_event > 0.0) {
            writeln!(
                out,
                "{:>10} {:>8} {:>7} {:>8.4} {:>8.4} {:>8.4}–{:<8.4}",
                s.time, s.n_risk, s.n_event, s.surv, s.std_err, s.lower, s.upper
            )?;
        }
        if !c.at_times.is_empty() {
            writeln!(out, "  at chosen times:")?;
            for s in &c.at_times {
                writeln!(
                    out,
                    "{:>10} {:>8} {:>7} {:>8.4} {:>8.4} {:>8.4}–{:<8.4}",
                    s.time, s.n_risk, "", s.surv, s.std_err, s.lower, s.upper
                )?;
            }
        }
        writeln!(out)?;
    }
    if let Some(t) = test {
        writeln!(
            out,
            "log-rank: chisq {:.4} on {} df, p = {:.4e}",
            t.chisq, t.df, t.p_value
        )?;
    }
    print_warnings(&warnings, out)?;
    Ok(0)
}
