//! Weekly summaries of a simulated scenario, and the comparison of two.
//!
//! Each run's tally gives one value per metric and week; the summary's
//! `estimate` is the mean of those values over runs (PSA draws ×
//! replications), and `lower`/`upper` their 2.5% and 97.5% quantiles across
//! runs (type 7, as R's `quantile` default), absent with a single run.
//!
//! Metrics (per week w; pain on the assessment day 7w, counts over the
//! seven days before it):
//! `pain_mean`, `pain_sd`, `pain_p10`, `pain_p25`, `pain_median`,
//! `pain_p75`, `pain_p90` (NRS 0–10, percentiles to 0.01), `responder_share`
//! (pain ≤ 70% of baseline, IMMPACT's 30%), `dropout_share`, `adherence`
//! (completed / scheduled item-days, intention to treat), `adherent_share`
//! (patients with ≥ 70% of the week's scheduled items completed, MiSpEx),
//! `safety_events_per_100` (sessions continued at pain ≥ 7, per 100
//! patients), `unsuitable_per_100` (items newly flagged for pain persisting
//! over 20 min), `walking_min_mean`; and per ladder (no week)
//! `top_rung_share[KEY]` (reached the ladder's top rung by the horizon) and
//! `top_rung_median_days[KEY]` (absent when fewer than half reach it).

use lumbar_model::records::{ColumnTable, ColumnValues};
use serde::{Deserialize, Serialize};

use crate::tally::Tally;

/// One row of `summary.parquet` / `summary.json`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SummaryRow {
    pub scenario: String,
    pub week: Option<u32>,
    pub metric: String,
    pub estimate: Option<f64>,
    pub lower: Option<f64>,
    pub upper: Option<f64>,
    /// Runs that gave a value.
    pub runs: u32,
}

/// The summary rows as the columns of `summary.parquet`: `scenario`,
/// `week` (UInt32, null for whole-run metrics), `metric`, `estimate`,
/// `lower`, `upper`, `runs`.
pub fn columns(rows: &[SummaryRow]) -> ColumnTable<'_> {
    use std::borrow::Cow::Owned;
    let col = |f: fn(&SummaryRow) -> Option<f64>| {
        ColumnValues::OptF64(Owned(rows.iter().map(f).collect()))
    };
    vec![
        (
            "scenario".into(),
            ColumnValues::Str(rows.iter().map(|r| r.scenario.as_str()).collect()),
        ),
        (
            "week".into(),
            ColumnValues::OptU32(Owned(rows.iter().map(|r| r.week).collect())),
        ),
        (
            "metric".into(),
            ColumnValues::Str(rows.iter().map(|r| r.metric.as_str()).collect()),
        ),
        ("estimate".into(), col(|r| r.estimate)),
        ("lower".into(), col(|r| r.lower)),
        ("upper".into(), col(|r| r.upper)),
        (
            "runs".into(),
            ColumnValues::U32(Owned(rows.iter().map(|r| r.runs).collect())),
        ),
    ]
}

/// One run's value of each (week, metric), in a fixed order.
pub fn run_values(t: &Tally) -> Vec<(Option<u32>, String, Option<f64>)> {
    let mut out = Vec::new();
    let ratio = |a: u64, b: u64| (b > 0).then(|| a as f64 / b as f64);
    for (w, wk) in t.weeks.iter().enumerate() {
        let week = Some(w as u32);
        let n = wk.patients;
        let mean = ratio(wk.pain_sum, n).map(|m| m / 1e4);
        let sd = (n > 1).then(|| {
            // Sum of squares about the mean, from exact integer sums.
            let nf = n as f64;
            let s = wk.pain_sum as f64;
            let ss = wk.pain_sumsq as f64 - s * s / nf;
            (ss.max(0.0) / (nf - 1.0)).sqrt() / 1e4
        });
        let mut push = |m: &str, v: Option<f64>| out.push((week, m.to_string(), v));
        push("pain_mean", mean);
        push("pain_sd", sd);
        push("pain_p10", wk.pain_quantile(0.10));
        push("pain_p25", wk.pain_quantile(0.25));
        push("pain_median", wk.pain_quantile(0.50));
        push("pain_p75", wk.pain_quantile(0.75));
        push("pain_p90", wk.pain_quantile(0.90));
        push("dropout_share", ratio(wk.dropped, n));
        if w == 0 {
            continue;
        }
        push("responder_share", ratio(wk.responders, n));
        push("adherence", ratio(wk.completed, wk.scheduled));
        push("adherent_share", ratio(wk.adherent, wk.with_schedule));
        push("safety_events_per_100", ratio(wk.safety_events * 100, n));
        push("unsuitable_per_100", ratio(wk.unsuitable * 100, n));
        push(
            "walking_min_mean",
            ratio(wk.walking_sum, wk.walking_days).map(|m| m / 10.0),
        );
    }
    for l in &t.ladders {
        let n: u64 = l.reached.iter().sum::<u64>() + l.never;
        let reached: u64 = l.reached.iter().sum();
        out.push((
            None,
            format!("top_rung_share[{}]", l.key),
            ratio(reached, n),
        ));
        // Median day with "never" as +∞: the day the cumulative count reaches n/2.
        let half = n.div_ceil(2);
        let mut cum = 0;
        let mut median = None;
        if n > 0 {
            for (d, &c) in l.reached.iter().enumerate() {
                cum += c;
                if cum >= half {
                    median = Some(d as f64);
                    break;
                }
            }
        }
        out.push((None, format!("top_rung_median_days[{}]", l.key), median));
    }
    out
}

/// The `p`-quantile of sorted values, Hyndman & Fan type 7 (R's default).
pub fn quantile7(sorted: &[f64], p: f64) -> f64 {
    let n = sorted.len();
    if n == 1 {
        return sorted[0];
    }
    let h = (n - 1) as f64 * p;
    let lo = h.floor() as usize;
    let hi = (lo + 1).min(n - 1);
    sorted[lo] + (h - lo as f64) * (sorted[hi] - sorted[lo])
}

/// Mean and 95% interval across runs of one metric.
fn across(values: &[Option<f64>]) -> (Option<f64>, Option<f64>, Option<f64>, u32) {
    let mut v: Vec<f64> = values.iter().flatten().copied().collect();
    if v.is_empty() {
        return (None, None, None, 0);
    }
    // Summed in run order, so the result does not depend on anything else.
    let mean = v.iter().sum::<f64>() / v.len() as f64;
    let n = v.len() as u32;
    if v.len() < 2 {
        return (Some(mean), None, None, n);
    }
    v.sort_by(f64::total_cmp);
    (
        Some(mean),
        Some(quantile7(&v, 0.025)),
        Some(quantile7(&v, 0.975)),
        n,
    )
}

/// The summary rows of a scenario from its runs' tallies.
pub fn summarize(scenario: &str, tallies: &[Tally]) -> Vec<SummaryRow> {
    let per_run: Vec<_> = tallies.iter().map(run_values).collect();
    let Some(first) = per_run.first() else {
        return Vec::new();
    };
    first
        .iter()
        .enumerate()
        .map(|(k, (week, metric, _))| {
            let values: Vec<Option<f64>> = per_run.iter().map(|r| r[k].2).collect();
            let (estimate, lower, upper, runs) = across(&values);
            SummaryRow {
                scenario: scenario.to_string(),
                week: *week,
                metric: metric.clone(),
                estimate,
                lower,
                upper,
                runs,
            }
        })
        .collect()
}

/// One row of `lumbar compare`: B − A.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Difference {
    pub week: Option<u32>,
    pub metric: String,
    pub a: Option<f64>,
    pub b: Option<f64>,
    pub difference: Option<f64>,
    pub lower: Option<f64>,
    pub upper: Option<f64>,
    /// How the interval was made: `paired runs`, `independent runs`,
    /// `patients` (one run each; normal approximation) or `none`.
    pub interval: &'static str,
    /// The Monte Carlo standard error of `difference`: SD(B − A)/√R over
    /// paired runs, √(s²_A/R_A + s²_B/R_B) over independent runs, and the
    /// patient-level standard error with one run each.
    pub mc_se: Option<f64>,
}

/// Differences B − A of every metric the two results share.
///
/// With the same seed and number of runs, run k of A and run k of B share
/// their patients and parameter draws (common random numbers), so the
/// interval is the 2.5–97.5% quantiles of the paired run differences.
/// With ≥ 2 runs otherwise: mean difference ± 1.96·√(s²_A + s²_B) from the
/// run-to-run SDs. With one run each: for `pain_mean` Welch's normal
/// interval from the patient-level SDs, and for shares the two-sample
/// binomial (Wald) interval; this ignores the pairing of common random
/// numbers, so it is conservative.
///
/// `paired` is the caller's judgement that run k of A and run k of B share
/// seed, patients, PSA draw and replication ([`runs_pair`]).
pub fn compare(a: &[Tally], b: &[Tally], paired: bool) -> Vec<Difference> {
    let va: Vec<_> = a.iter().map(run_values).collect();
    let vb: Vec<_> = b.iter().map(run_values).collect();
    let mut out = Vec::new();
    let (Some(fa), Some(_)) = (va.first(), vb.first()) else {
        return out;
    };
    for (k, (week, metric, _)) in fa.iter().enumerate() {
        let Some(kb) = vb[0].iter().position(|(w, m, _)| w == week && m == metric) else {
            continue;
        };
        let xa: Vec<Option<f64>> = va.iter().map(|r| r[k].2).collect();
        let xb: Vec<Option<f64>> = vb.iter().map(|r| r[kb].2).collect();
        let (ma, ..) = across(&xa);
        let (mb, ..) = across(&xb);
        let difference = ma.zip(mb).map(|(x, y)| y - x);
        let mut row = Difference {
            week: *week,
            metric: metric.clone(),
            a: ma,
            b: mb,
            difference,
            lower: None,
            upper: None,
            interval: "none",
            mc_se: None,
        };
        if difference.is_none() {
            out.push(row);
            continue;
        }
        if paired && xa.len() >= 2 && xa.len() == xb.len() {
            let mut d: Vec<f64> = xa
                .iter()
                .zip(&xb)
                .filter_map(|(x, y)| Some((*y)? - (*x)?))
                .collect();
            if d.len() >= 2 {
                row.mc_se = Some(sd(&d) / (d.len() as f64).sqrt());
                d.sort_by(f64::total_cmp);
                row.lower = Some(quantile7(&d, 0.025));
                row.upper = Some(quantile7(&d, 0.975));
                row.interval = "paired runs";
            }
        } else if xa.len() >= 2 && xb.len() >= 2 {
            let (fa, fb): (Vec<f64>, Vec<f64>) = (
                xa.iter().flatten().copied().collect(),
                xb.iter().flatten().copied().collect(),
            );
            let half = 1.96 * (sd(&fa).powi(2) + sd(&fb).powi(2)).sqrt();
            let dd = difference.unwrap_or(f64::NAN);
            row.lower = Some(dd - half);
            row.upper = Some(dd + half);
            row.interval = "independent runs";
            row.mc_se = Some(
                (sd(&fa).powi(2) / fa.len() as f64 + sd(&fb).powi(2) / fb.len() as f64).sqrt(),
            );
        } else if let (Some(w), 1, 1) = (week, a.len(), b.len()) {
            let wa = &a[0].weeks[*w as usize];
            let wb = &b[0].weeks[*w as usize];
            let var_mean = |t: &crate::tally::WeekTally| {
                let n = t.patients as f64;
                let s = t.pain_sum as f64;
                let ss = (t.pain_sumsq as f64 - s * s / n).max(0.0) / (n - 1.0) / 1e8;
                ss / n
            };
            let share_var = |p: f64, n: u64| p * (1.0 - p) / n as f64;
            let se = match metric.as_str() {
                "pain_mean" if wa.patients > 1 && wb.patients > 1 => {
                    Some((var_mean(wa) + var_mean(wb)).sqrt())
                }
                "responder_share" | "dropout_share" => Some(
                    (share_var(ma.unwrap_or(0.0), wa.patients)
                        + share_var(mb.unwrap_or(0.0), wb.patients))
                    .sqrt(),
                ),
                "adherent_share" if wa.with_schedule > 0 && wb.with_schedule > 0 => Some(
                    (share_var(ma.unwrap_or(0.0), wa.with_schedule)
                        + share_var(mb.unwrap_or(0.0), wb.with_schedule))
                    .sqrt(),
                ),
                _ => None,
            };
            if let (Some(se), Some(dd)) = (se, difference) {
                row.lower = Some(dd - 1.96 * se);
                row.upper = Some(dd + 1.96 * se);
                row.interval = "patients";
                row.mc_se = Some(se);
            }
        }
        out.push(row);
    }
    out
}

/// The sample standard deviation (n − 1); NaN for fewer than two values.
fn sd(v: &[f64]) -> f64 {
    let m = v.iter().sum::<f64>() / v.len() as f64;
    (v.iter().map(|y| (y - m).powi(2)).sum::<f64>() / (v.len() as f64 - 1.0)).sqrt()
}

/// How a simulation's runs were made, as far as pairing is concerned.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RunLayout {
    pub seed: u64,
    pub patients: u64,
    /// PSA draws (0 without PSA).
    pub psa_draws: u32,
    pub replications: u32,
}

/// Whether run k of A and run k of B can be paired: they then share the
/// seed, the patients, the PSA draw and the replication, hence the
/// patients' baselines and flares (common random numbers). A PSA scenario
/// against one with replications only has as many runs but pairs a draw
/// with a replication, so it is not paired.
pub fn runs_pair(a: &RunLayout, b: &RunLayout) -> bool {
    a == b
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn type7_quantiles_match_r() {
        // R: quantile(c(1, 2, 3, 4, 10), c(0.025, 0.5, 0.975)) = 1.1, 3, 9.4
        let v = [1.0, 2.0, 3.0, 4.0, 10.0];
        assert!((quantile7(&v, 0.025) - 1.1).abs() < 1e-12);
        assert_eq!(quantile7(&v, 0.5), 3.0);
        assert!((quantile7(&v, 0.975) - 9.4).abs() < 1e-12);
    }

    #[test]
    fn run_values_from_a_hand_made_tally() {
        let mut t = Tally::new(1, &["push_up".into()]);
        for p in [4.0, 6.0] {
            t.weeks[0].pain(p);
        }
        for p in [2.0, 5.0] {
            t.weeks[1].pain(p);
        }
        t.weeks[1].responders = 1;
        t.weeks[1].scheduled = 14;
        t.weeks[1].completed = 7;
        t.weeks[1].with_schedule = 2;
        t.weeks[1].adherent = 1;
        t.weeks[1].safety_events = 1;
        t.ladders[0].reached[3] = 1;
        t.ladders[0].never = 1;
        let v = run_values(&t);
        let get = |w: Option<u32>, m: &str| {
            v.iter()
                .find(|(ww, mm, _)| *ww == w && mm == m)
                .and_then(|x| x.2)
        };
        assert_eq!(get(Some(0), "pain_mean"), Some(5.0));
        assert!((get(Some(0), "pain_sd").unwrap() - 2f64.sqrt()).abs() < 1e-12);
        assert_eq!(get(Some(1), "pain_median"), Some(2.0));
        assert_eq!(get(Some(1), "responder_share"), Some(0.5));
        assert_eq!(get(Some(1), "adherence"), Some(0.5));
        assert_eq!(get(Some(1), "adherent_share"), Some(0.5));
        assert_eq!(get(Some(1), "safety_events_per_100"), Some(50.0));
        assert_eq!(get(None, "top_rung_share[push_up]"), Some(0.5));
        assert_eq!(get(None, "top_rung_median_days[push_up]"), Some(3.0));
    }
}
