//! Individual-level simulation of patients following a regimen.
//!
//! * [`scenario`]: scenario files (TOML): programme, progression rules,
//!   population priors, dynamics, horizon, replications and PSA draws;
//! * [`rules`]: progression rules as data and their O(1) evaluation;
//! * [`progression`]: one patient's programme changing under the rules;
//! * [`prior`]: named distributions;
//! * [`engine`]: the day-by-day patient model (documented there with its
//!   sources) and the parallel, shardable run;
//! * [`tally`] and [`summary`]: integer accumulators that add up exactly
//!   across threads and shards, and the weekly summaries and comparisons
//!   made from them;
//! * [`results`]: a run's identity and tally file (the `manifest.json` and
//!   `tally.json` formats), the shard merge and pairing rules, and the
//!   headline metrics `compare` prints;
//! * [`synthetic`]: `lumbar generate`: the engine's programme cohort and the HUNT-like follow-up cohort
//!   (records into a [`lumbar_model::records::RecordSink`]);
//! * [`observed`]: what a clinic would have logged about the simulated
//!   patients (the canonical tables, `simulate --cohort-tables`);
//! * [`dynamics`]: the natural course and exercise benefit, with their sources.
//!
//! It must not read or write files (Parquet, CSV), parse user tables or print: it takes a
//! [`lumbar_model::Regimen`] (inside a [`scenario::Scenario`]) and produces
//! rows, tallies and trajectory blocks for the CLI to write. Randomness comes
//! only from per-patient ChaCha8 streams derived from the master seed and
//! the patient's index, never from thread identity, so output does not
//! depend on the number of threads.
//!
//! ```
//! use lumbar_sim::synthetic::programme_scenario;
//! let regimen = lumbar_model::Regimen::six_moves();
//! // `lumbar generate`'s programme cohort is the engine's, on this scenario.
//! let s = programme_scenario(&regimen, 10, 2, 42).unwrap();
//! assert_eq!((s.patients, s.weeks), (10, 2));
//! assert!(s.rules.is_empty()); // the regimen's doses, no progression
//! ```
//!
//! A scenario run in two shards adds up to the whole run, bit for bit:
//!
//! ```
//! use lumbar_sim::engine::{simulate, RunOptions, Shard};
//! use lumbar_sim::scenario::Scenario;
//! let s = Scenario::parse(
//!     r#"
//!     name = "doc"
//!     weeks = 2
//!     patients = 3000
//!     seed = 7
//!     [programme]
//!     exercises = "all"
//!     "#,
//!     "doc.toml",
//!     None,
//! )
//! .unwrap();
//! let whole = simulate(&s, RunOptions { shard: Shard::WHOLE }, None, &|_| {}).unwrap();
//! let mut parts = simulate(&s, RunOptions { shard: Shard::parse("1/2").unwrap() }, None, &|_| {}).unwrap();
//! let second = simulate(&s, RunOptions { shard: Shard::parse("2/2").unwrap() }, None, &|_| {}).unwrap();
//! parts.tallies[0].add(&second.tallies[0]);
//! assert_eq!(parts.tallies, whole.tallies);
//! ```

// Only lumbar-stats (the Cox kernels) and the binary's allocator setting
// need unsafe code; everything else is checked by the compiler.
#![forbid(unsafe_code)]

pub mod dictionary;
pub mod draws;
pub mod dynamics;
pub mod engine;
pub mod observed;
pub mod prior;
pub mod progression;
pub mod results;
pub mod rules;
pub mod scenario;
pub mod summary;
pub mod synthetic;
pub mod tally;
mod ziggurat_tables;
