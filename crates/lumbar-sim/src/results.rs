//! A simulation's results as data: the run's identity ([`RunInfo`], the
//! `run` of `manifest.json`), the exact state a shard contributes
//! ([`TallyFile`], `tally.json`), the rules for merging shards ([`merge`])
//! and pairing two runs ([`pairing`]), and the metrics `compare` shows by
//! default ([`HEADLINE_METRICS`]).
//!
//! The types are serde structs whose field names and order are the files'
//! bytes; reading and writing the files themselves stays with the caller.

use serde::{Deserialize, Serialize};

use crate::engine::RunParams;
use crate::scenario::Scenario;
use crate::summary::RunLayout;
use crate::tally::{PAIN_BINS, Tally};

/// What identifies a simulation, shared by its shards.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RunInfo {
    pub lumbar_version: String,
    pub scenario: String,
    pub scenario_file: String,
    pub scenario_sha256: String,
    pub regimen: String,
    pub seed: u64,
    pub patients: u64,
    pub weeks: u32,
    pub replications: u32,
    pub psa_draws: u32,
    pub runs: u32,
    pub overrides: serde_json::Value,
    pub psa: Vec<serde_json::Value>,
    pub trajectories: bool,
}

/// Where a run's scenario came from and how the command line changed it.
pub struct RunSource<'a> {
    /// The scenario file's name (no folder).
    pub scenario_file: String,
    pub scenario_sha256: String,
    /// The overridden keys and their values, in the order given.
    pub overrides: serde_json::Map<String, serde_json::Value>,
    pub plan: &'a [RunParams],
    pub trajectories: bool,
}

impl RunInfo {
    /// The identity of a run of `scenario` (after its overrides); `psa`
    /// lists each PSA draw's values once (from its replication 0).
    pub fn new(scenario: &Scenario, source: RunSource<'_>) -> RunInfo {
        RunInfo {
            lumbar_version: env!("CARGO_PKG_VERSION").to_string(),
            scenario: scenario.name.clone(),
            scenario_file: source.scenario_file,
            scenario_sha256: source.scenario_sha256,
            regimen: scenario.regimen_key.clone(),
            seed: scenario.seed,
            patients: scenario.patients,
            weeks: scenario.weeks,
            replications: scenario.replications,
            psa_draws: scenario.psa.as_ref().map_or(0, |p| p.draws),
            runs: scenario.runs(),
            overrides: serde_json::Value::Object(source.overrides),
            psa: source
                .plan
                .iter()
                .filter(|r| !r.drawn.is_empty() && r.replication == 0)
                .map(|r| {
                    let values: serde_json::Map<String, serde_json::Value> = r
                        .drawn
                        .iter()
                        .map(|(k, v)| (k.clone(), (*v).into()))
                        .collect();
                    serde_json::json!({"draw": r.draw, "values": values})
                })
                .collect(),
            trajectories: source.trajectories,
        }
    }

    /// What decides whether runs of two results pair ([`crate::summary::runs_pair`]).
    pub fn layout(&self) -> RunLayout {
        RunLayout {
            seed: self.seed,
            patients: self.patients,
            psa_draws: self.psa_draws,
            replications: self.replications,
        }
    }
}

/// `tally.json`: the exact state a shard contributes.
#[derive(Debug, Serialize, Deserialize)]
pub struct TallyFile {
    pub info: RunInfo,
    pub shard: Option<String>,
    pub patients_range: [u64; 2],
    pub tallies: Vec<Tally>,
}

/// A tally file whose tallies do not match its own header.
#[derive(Debug, thiserror::Error)]
#[error(
    "does not match its own header ({runs} runs of {weeks} weeks): was it edited or truncated?"
)]
pub struct ShapeError {
    pub runs: u32,
    pub weeks: u32,
}

impl TallyFile {
    /// Checks that the tallies have the shape the header promises (one per
    /// run, weeks 0..=weeks, full pain histograms, all alike). The file is
    /// user data: this runs before anything indexes into it.
    pub fn check_shape(&self) -> Result<(), ShapeError> {
        let weeks = self.info.weeks as usize + 1;
        let sound = self.tallies.len() == self.info.runs as usize
            && self.tallies.iter().all(|t| {
                t.weeks.len() == weeks
                    && t.weeks.iter().all(|w| w.pain_hist.len() == PAIN_BINS)
                    && t.same_shape(&self.tallies[0])
            });
        if sound {
            Ok(())
        } else {
            Err(ShapeError {
                runs: self.info.runs,
                weeks: self.info.weeks,
            })
        }
    }
}

/// Why shards cannot be merged; each names the shards by their labels.
#[derive(Debug, thiserror::Error)]
pub enum MergeError {
    #[error("no shards to merge")]
    Empty,
    #[error(
        "{first} and {other} are not shards of the same run (scenario, seed, size or version differ)"
    )]
    NotSameRun { first: String, other: String },
    #[error(
        "patients {from}..{to} are missing: no shard among the folders given starts at patient {from} (next is {next})"
    )]
    Gap { from: u64, to: u64, next: String },
    #[error("{0} has tallies of another shape")]
    Shape(String),
    #[error("patients {from}..{to} are missing: merge needs every shard")]
    Incomplete { from: u64, to: u64 },
}

/// Adds the shards of one run into the whole run's tally file.
///
/// `parts` are (label, shard) pairs, the label (e.g. the shard's folder)
/// naming the shard in errors; they are sorted in place by first patient. The rules: every shard has
/// the same [`RunInfo`]; their patient ranges tile 0..patients with no gap;
/// their tallies have the same shape. Tallies add exactly, so the result
/// equals the unsharded run's.
pub fn merge<L: std::fmt::Display>(parts: &mut [(L, TallyFile)]) -> Result<TallyFile, MergeError> {
    parts.sort_by_key(|(_, t)| t.patients_range[0]);
    let Some((first_label, first)) = parts.first() else {
        return Err(MergeError::Empty);
    };
    let mut at = 0u64;
    for (label, p) in parts.iter() {
        if p.info != first.info {
            return Err(MergeError::NotSameRun {
                first: first_label.to_string(),
                other: label.to_string(),
            });
        }
        if p.patients_range[0] != at {
            return Err(MergeError::Gap {
                from: at,
                to: p.patients_range[0].max(at),
                next: label.to_string(),
            });
        }
        if p.tallies.len() != first.tallies.len()
            || p.tallies
                .iter()
                .zip(&first.tallies)
                .any(|(a, b)| !a.same_shape(b))
        {
            return Err(MergeError::Shape(label.to_string()));
        }
        at = p.patients_range[1];
    }
    if at != first.info.patients {
        return Err(MergeError::Incomplete {
            from: at,
            to: first.info.patients,
        });
    }
    let mut tallies = first.tallies.clone();
    for (_, p) in &parts[1..] {
        for (a, b) in tallies.iter_mut().zip(&p.tallies) {
            a.add(b);
        }
    }
    Ok(TallyFile {
        info: first.info.clone(),
        shard: None,
        patients_range: [0, first.info.patients],
        tallies,
    })
}

/// Whether two results compare run by run, and the sentence that says so
/// (or why not).
pub struct Pairing {
    pub paired: bool,
    pub description: String,
}

/// The pairing rule ([`crate::summary::runs_pair`]) applied to two runs,
/// with the first difference that prevents it.
pub fn pairing(a: &RunInfo, b: &RunInfo) -> Pairing {
    let (la, lb) = (a.layout(), b.layout());
    let paired = crate::summary::runs_pair(&la, &lb);
    let description = if paired {
        "paired by run: run k of A and of B share seed, patients, PSA draw and replication"
            .to_string()
    } else {
        let why = if la.seed != lb.seed {
            format!("seeds differ ({} vs {})", la.seed, lb.seed)
        } else if la.patients != lb.patients {
            format!("patients differ ({} vs {})", la.patients, lb.patients)
        } else {
            format!(
                "runs are made differently ({} PSA draws × {} replications vs {} × {})",
                la.psa_draws, la.replications, lb.psa_draws, lb.replications
            )
        };
        format!("not paired, {why}: the intervals treat A and B as independent")
    };
    Pairing {
        paired,
        description,
    }
}

/// The weekly metrics `compare` prints as a table (every whole-run metric,
/// those with no week, is printed too); `--json` gives them all.
pub const HEADLINE_METRICS: [&str; 5] = [
    "pain_mean",
    "responder_share",
    "adherence",
    "dropout_share",
    "safety_events_per_100",
];

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::{RunOptions, Shard, simulate};

    fn shard_file(s: &Scenario, shard: Shard) -> TallyFile {
        let plan = crate::engine::plan_runs(s).unwrap();
        let r = simulate(s, RunOptions { shard }, None, &|_| {}).unwrap();
        let info = RunInfo::new(
            s,
            RunSource {
                scenario_file: "t.toml".into(),
                scenario_sha256: "0".repeat(64),
                overrides: Default::default(),
                plan: &plan,
                trajectories: false,
            },
        );
        TallyFile {
            info,
            shard: (shard.count > 1).then(|| shard.to_string()),
            patients_range: [r.patients.start, r.patients.end],
            tallies: r.tallies,
        }
    }

    fn scenario() -> Scenario {
        Scenario::parse(
            "name = \"t\"\nweeks = 2\npatients = 2100\nseed = 3\n[programme]\nexercises = \"all\"\n",
            "t.toml",
            None,
        )
        .unwrap()
    }

    #[test]
    fn shards_merge_to_the_whole_run_and_gaps_are_refused() {
        let s = scenario();
        let whole = shard_file(&s, Shard::WHOLE);
        let part = |i: &str| shard_file(&s, Shard::parse(i).unwrap());
        let mut parts = vec![
            ("b".to_string(), part("2/2")),
            ("a".to_string(), part("1/2")),
        ];
        let merged = merge(&mut parts).unwrap();
        assert_eq!(merged.tallies, whole.tallies);
        assert_eq!(merged.patients_range, [0, 2100]);
        assert_eq!(parts[0].0, "a", "sorted by first patient");
        merged.check_shape().unwrap();

        let mut one = vec![("a".to_string(), part("1/2"))];
        let e = merge(&mut one).unwrap_err().to_string();
        assert_eq!(
            e,
            "patients 1024..2100 are missing: merge needs every shard"
        );
        // A shard's overlap with another shard of the same run is a gap.
        let mut overlap = vec![("a".to_string(), part("1/2")), ("c".to_string(), whole)];
        let e = merge(&mut overlap).unwrap_err().to_string();
        assert_eq!(
            e,
            "patients 1024..1024 are missing: no shard among the folders given starts at patient 1024 (next is c)"
        );
        let mut reseeded = s.clone();
        reseeded.seed = 4;
        let mut other = vec![
            ("a".to_string(), part("1/2")),
            (
                "d".to_string(),
                shard_file(&reseeded, Shard::parse("2/2").unwrap()),
            ),
        ];
        let e = merge(&mut other).unwrap_err().to_string();
        assert!(
            e.starts_with("a and d are not shards of the same run"),
            "{e}"
        );
        let mut none: Vec<(String, TallyFile)> = Vec::new();
        assert!(matches!(merge(&mut none), Err(MergeError::Empty)));
    }

    #[test]
    fn a_truncated_tally_fails_its_shape_check() {
        let mut f = shard_file(&scenario(), Shard::WHOLE);
        f.check_shape().unwrap();
        f.tallies[0].weeks.pop();
        assert_eq!(
            f.check_shape().unwrap_err().to_string(),
            "does not match its own header (1 runs of 2 weeks): was it edited or truncated?"
        );
    }

    #[test]
    fn pairing_names_the_first_difference() {
        let a = shard_file(&scenario(), Shard::WHOLE).info;
        let mut b = a.clone();
        assert!(pairing(&a, &b).paired);
        b.patients = 5;
        let p = pairing(&a, &b);
        assert!(!p.paired);
        assert!(
            p.description.contains("patients differ (2100 vs 5)"),
            "{}",
            p.description
        );
        b.seed = 9;
        assert!(
            pairing(&a, &b)
                .description
                .contains("seeds differ (3 vs 9)")
        );
    }
}
