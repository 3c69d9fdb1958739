//! The domain analyses of lumbar, over typed rows and named columns:
//!
//! - [`analyze`]: the tables of `lumbar analyze`, for a whole store or a
//!   shard of its patients, and shards put back together to the same bits;
//! - [`adherence`]: session and dose adherence per patient × exercise × ISO
//!   week, per patient, per site and for the cohort;
//! - [`safety`]: sessions continued at pain ≥ 7 and exercises flagged
//!   unsuitable (pain persisting > 20 min);
//! - [`trends`]: per-patient change, OLS and Theil–Sen slopes, responders,
//!   time to sustained response, and the cohort mixed model of pain;
//! - [`prescription`]: who is prescribed what (the regimen, or a table of
//!   per-patient overrides);
//! - [`risk`]: walking exposure and walking-vs-risk (incidence, modified
//!   Poisson, splines, Cox);
//! - [`clinic`]: the figures of a clinic's cohort report;
//! - [`targets`]: calibration targets with their standard errors, for an
//!   observed or a simulated cohort alike;
//! - [`columns`]: designs, mixed-model data and event indicators read by
//!   column name from any [`lumbar_model::Columns`] table, with errors
//!   naming its line and column;
//! - [`model_frame`]: a model formula's variables read from such a table
//!   as R's `model.frame` and `model.matrix` read them.
//!
//! The estimators are lumbar-stats' (re-exported here as [`cox`],
//! [`describe`], [`design`], [`lmm`], [`poisson`], [`survival`]).
//!
//! ```
//! use lumbar_analysis::lmm::{fit, LmmData, Method, RandomEffects};
//! // Three patients, four weekly scores each, pain falling half a point a week.
//! let mut d = LmmData { time_name: "week".into(), ..Default::default() };
//! for (g, start) in [("A", 6.0), ("B", 5.0), ("C", 7.5)] {
//!     for (w, noise) in [0.1, -0.2, 0.15, -0.05].iter().enumerate() {
//!         d.group.push(g.into());
//!         d.time.push(w as f64);
//!         d.response.push(start - 0.5 * w as f64 + noise);
//!     }
//! }
//! let m = fit(&d, Method::Reml, RandomEffects::Intercept).unwrap();
//! assert_eq!(m.fixed[1].term, "week");
//! assert!((m.fixed[1].estimate + 0.5).abs() < 0.1);
//! ```
//!
//! This crate never writes or prints: the CLI decides where results go.
//! The cohort arrives as lumbar-model's domain types ([`lumbar_model::cohort`]),
//! read from a store by lumbar-io's typed readers ([`lumbar_io::Store::cohort`],
//! [`lumbar_io::Store::stream_sessions`]); data files arrive as
//! [`lumbar_model::Columns`]. The crate does not know polars or any file
//! format.

// Only lumbar-stats (the Cox kernels) and the binary's allocator setting
// need unsafe code; everything else is checked by the compiler.
#![forbid(unsafe_code)]

pub mod adherence;
pub mod analyze;
pub mod clinic;
pub mod columns;
pub mod dictionary;
pub mod dictionary_models;
pub mod model_frame;
pub mod prescription;
pub mod risk;
pub mod safety;
pub mod targets;
pub mod trends;

// The generic estimators live in lumbar-stats; these paths keep
// `lumbar_analysis::cox::fit` and the like working for the CLI, the
// end-to-end tests and the benchmarks.
pub use lumbar_stats::{cox, describe, design, lmm, poisson, survival};
