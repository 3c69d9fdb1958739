//! `lumbar risk`'s and `lumbar stats`' result tables, written from
//! serialised rows: each table's columns and types are those of a
//! prototype row of its type, as for analyze.

use anyhow::Result;
use lumbar_analysis::dictionary_models::model_column;
use lumbar_analysis::risk::{Incidence, SplinePoint};
use lumbar_io::output::column_types;
use lumbar_stats::linalg::Coefficient;
use lumbar_stats::lmm::FixedEffect;

use super::{Chapter, Section};

pub(super) fn chapters() -> Result<Vec<Chapter>> {
    Ok(vec![
        Chapter {
            title: "`lumbar risk` results",
            intro: "With `--out DIR`, each table is written as `NAME.parquet` and `NAME.csv` \
                    (`--format` as for analyze), with `risk.json` (the whole result, as `--json` prints it) \
                    and `manifest.json`. `rr_spline` is written when the spline could be fitted, \
                    `hr_cox` with `--time`. Intervals are 95%.",
            sections: risk()?,
        },
        Chapter {
            title: "`lumbar stats` results",
            intro: "With `--out DIR`, a model's table is written as `TABLE.csv` and `TABLE.parquet`, \
                    and the whole result (what `--json` prints) as `fit.json`; `--format` picks among \
                    csv, parquet and json (`fit.json`).",
            sections: stats()?,
        },
    ])
}

/// risk's tables: incidence rows, coefficients and the spline's points.
fn risk() -> Result<Vec<Section>> {
    let coefficient = column_types(&Coefficient::new("walking_min[78-100]", -0.2, 0.1))?;
    Ok(vec![
        Section::new(
            "incidence",
            "One row per exposure category.",
            column_types(&Incidence {
                category: "<78".into(),
                n: 10,
                events: 2,
                risk: 0.2,
                person_years: Some(50.0),
                rate_per_1000py: Some(40.0),
                rate_low: Some(4.8),
                rate_high: Some(144.5),
            })?,
            model_column,
        ),
        Section::new(
            "rr_crude",
            "Crude risk ratios: modified Poisson regression (Zou 2004) of the outcome on the exposure categories.",
            coefficient.clone(),
            model_column,
        ),
        Section::new(
            "rr_adjusted",
            "Risk ratios adjusted for the covariates.",
            coefficient.clone(),
            model_column,
        ),
        Section::new(
            "rr_spline",
            "The dose–response curve: one row per exposure value.",
            column_types(&SplinePoint {
                exposure: 78.0,
                rr: 1.0,
                conf_low: 1.0,
                conf_high: 1.0,
            })?,
            model_column,
        ),
        Section::new(
            "hr_cox",
            "Hazard ratios of a Cox model (with `--time`).",
            coefficient,
            model_column,
        ),
    ])
}

/// One step of a Kaplan–Meier curve as `stats km --out` writes it (the
/// row type is private to commands/stats/km.rs): the same fields in the
/// same order, which the drift test checks against the written file.
#[derive(serde::Serialize)]
struct KmStepRow {
    group: &'static str,
    time: f64,
    n_risk: f64,
    n_event: f64,
    n_censor: f64,
    surv: f64,
    std_err: f64,
    lower: f64,
    upper: f64,
}

/// stats' tables: coefficients (cox, poisson), fixed effects (lmm), KM steps.
fn stats() -> Result<Vec<Section>> {
    Ok(vec![
        Section::new(
            "coefficients",
            "`stats cox --out DIR` and `stats poisson --out DIR`: one row per term.",
            column_types(&Coefficient::new("age", 0.02, 0.01))?,
            model_column,
        ),
        Section::new(
            "fixed_effects",
            "`stats lmm --out DIR`: one row per fixed-effect term (the random effects are in fit.json).",
            column_types(&FixedEffect {
                term: "week".into(),
                estimate: -0.5,
                std_error: 0.1,
                t: -5.0,
            })?,
            model_column,
        ),
        Section::new(
            "bootstrap",
            "`stats cox|poisson|lmm --bootstrap B --out DIR`: one row per coefficient, the bootstrap's intervals (percentile and BCa, as R's boot).",
            column_types(&lumbar_stats::bootstrap::TermInterval {
                term: "age".into(),
                estimate: 0.02,
                bias: 0.0,
                std_error: 0.01,
                percentile_low: 0.0,
                percentile_high: 0.04,
                bca_low: 0.0,
                bca_high: 0.04,
                acceleration: 0.01,
                bias_correction: 0.0,
            })?,
            model_column,
        ),
        Section::new(
            "curves",
            "`stats km --out DIR`: every step of every curve, as survfit's summary lists them (the medians, quantiles and log-rank test are in fit.json).",
            column_types(&KmStepRow {
                group: "all",
                time: 1.0,
                n_risk: 10.0,
                n_event: 1.0,
                n_censor: 0.0,
                surv: 0.9,
                std_err: 0.09,
                lower: 0.7,
                upper: 1.0,
            })?,
            model_column,
        ),
    ])
}
