//! The result tables of the simulator and the calibration: `lumbar
//! simulate`'s summary and trajectories and `lumbar compare`'s
//! differences, from lumbar-sim's own column tables and row type; `lumbar
//! calibrate`'s posterior and `lumbar replay`'s tables, whose columns the
//! CLI lays out itself (commands/calibrate/files.rs, commands/replay.rs)
//! and which are listed here as those files write them: the drift test
//! runs both commands and compares.

use lumbar_model::records::{ColumnTable, ColumnValues};
use lumbar_sim::engine::TrajectoryBlock;
use lumbar_sim::summary::Difference;

use super::{Chapter, Columns, Section};

pub(super) fn chapters() -> anyhow::Result<Vec<Chapter>> {
    Ok(vec![
        Chapter {
            title: "`lumbar simulate`, `merge` and `compare` results",
            intro: "`lumbar simulate --out DIR` (and `lumbar merge` of its shards) writes `summary.parquet` \
                    (`--format` chooses among parquet, csv and json, JSON lines as `summary.ndjson`; Parquet alone \
                    by default), `summary.json` (the same rows as its `metrics`), `tally.json` (the runs' exact \
                    integer tallies, which merge adds and compare reads) and `manifest.json`; with `--trajectories`, \
                    `trajectories/run-RRRR-from-PPPPPPPPPP.parquet`. `lumbar compare A B --out DIR` writes \
                    `differences.csv` and `differences.parquet` (`--format` picks among csv, parquet and json: \
                    `comparison.json`). Pain is the simulated patients' underlying pain, not the scores a clinic \
                    would log (`simulate --cohort-tables` writes those, as the input tables).",
            sections: simulate()?,
        },
        Chapter {
            title: "`lumbar calibrate` and `lumbar replay` results",
            intro: "`lumbar calibrate --out DIR` writes `posterior.parquet` beside `fit.json` (the fitted \
                    parameters and targets), `calibrated.toml`, `fit.svg` and `manifest.json`. \
                    `lumbar replay --out DIR` writes `replay.parquet` (its rows also in `replay.json`), \
                    `patients.parquet`, `replay.html` and `manifest.json`. Both take `--format` as simulate \
                    (Parquet alone by default).",
            sections: calibrate(),
        },
    ])
}

/// The columns of a producer's column table, typed as the Parquet writer
/// types them (`lumbar_io::output::columns_frame`).
fn kinds(table: ColumnTable<'_>) -> Columns {
    table
        .into_iter()
        .map(|(name, values)| {
            let kind = match values {
                ColumnValues::U32(_)
                | ColumnValues::OptU32(_)
                | ColumnValues::U64(_)
                | ColumnValues::I64(_) => "integer",
                ColumnValues::F64(_) | ColumnValues::OptF64(_) => "number",
                ColumnValues::Bool(_) => "true/false",
                ColumnValues::Str(_) => "text",
                ColumnValues::Date(_) => "date",
            };
            (name, kind)
        })
        .collect()
}

fn simulate() -> anyhow::Result<Vec<Section>> {
    use lumbar_sim::dictionary::{METRICS, output_column};
    // One ladder, keyed `KEY`: its column is `rung_KEY`, as the words say.
    let block = TrajectoryBlock {
        ladder_keys: vec!["KEY".into()],
        rungs: vec![Vec::new()],
        ..Default::default()
    };
    let difference = Difference {
        week: Some(1),
        metric: "pain_mean".into(),
        a: Some(5.0),
        b: Some(4.5),
        difference: Some(-0.5),
        lower: Some(-0.8),
        upper: Some(-0.2),
        interval: "paired runs",
        mc_se: Some(0.1),
    };
    Ok(vec![
        Section {
            values: Some(("metric", METRICS.to_vec())),
            ..Section::new(
                "summary",
                "`summary.parquet`: one row per week and metric, then the whole-run metrics (no week).",
                kinds(lumbar_sim::summary::columns(&[])),
                output_column,
            )
        },
        Section::new(
            "trajectories",
            "`trajectories/run-RRRR-from-PPPPPPPPPP.parquet` (with `--trajectories`): one row per patient-day of a run, a block of patients per file.",
            kinds(block.columns()),
            output_column,
        ),
        Section::new(
            "differences",
            "`lumbar compare A B --out DIR`: B − A for every week and metric both results have.",
            lumbar_io::output::column_types(&difference)?,
            output_column,
        ),
    ])
}

fn calibrate() -> Vec<Section> {
    use lumbar_calibrate::dictionary::{MEASURE_WORDS, output_column};
    let columns = |c: &[(&str, &'static str)]| -> Columns {
        c.iter().map(|(n, t)| (n.to_string(), *t)).collect()
    };
    let replay = columns(&[
        ("site", "text"),
        ("week", "integer"),
        ("measure", "text"),
        ("observed_rule", "number"),
        ("alternative", "number"),
        ("difference", "number"),
        ("lower", "number"),
        ("upper", "number"),
    ]);
    vec![
        Section::new(
            "posterior",
            "`posterior.parquet`: one row per posterior draw.",
            columns(&[
                ("PARAMETER", "number"),
                ("weight", "number"),
                ("distance", "number"),
            ]),
            output_column,
        ),
        Section {
            values: Some(("measure", MEASURE_WORDS.to_vec())),
            ..Section::new(
                "replay",
                "`replay.parquet`: one row per site (then `all`), week and measure.",
                replay,
                output_column,
            )
        },
        Section::new(
            "patients",
            "`patients.parquet` of a replay: one row per replayed patient.",
            columns(&[
                ("patient_id", "text"),
                ("site", "text"),
                ("ess_mean", "number"),
                ("ess_min", "number"),
            ]),
            output_column,
        ),
    ]
}
