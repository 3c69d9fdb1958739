//! `lumbar simulate --cohort-tables DIR`: the simulated patients as the
//! canonical tables a clinic would export, written by lumbar-io's
//! `CsvTables` from the records `lumbar_sim::engine::simulate_cohort` makes.

use std::path::Path;

use anyhow::{Context, Result};
use lumbar_io::CsvTables;
use lumbar_sim::engine::simulate_cohort;
use lumbar_sim::observed::CohortOptions;
use lumbar_sim::scenario::Scenario;

/// Writes `DIR/{patients,sessions,walking,outcomes,followup}.csv` (the
/// follow-up table empty: the simulator has no follow-up study), each
/// atomically. Returns the patients written.
pub(super) fn write(scenario: &Scenario, dir: &Path) -> Result<u64> {
    let cannot = || format!("cannot write the cohort's tables into {}", dir.display());
    let mut tables = CsvTables::create(dir, false).with_context(cannot)?;
    let n = simulate_cohort(scenario, &CohortOptions::default(), &mut tables, &|_| {})?;
    tables.commit().with_context(cannot)?;
    Ok(n)
}
