//! Statistics over lumbar's canonical tables.
//!
//! - [`cohort`]: the programme cohort loaded from a store;
//! - [`adherence`]: session and dose adherence per patient × exercise × ISO
//!   week, per patient, per site and for the cohort;
//! - [`safety`]: sessions continued at pain ≥ 7 and exercises flagged
//!   unsuitable (pain persisting > 20 min);
//! - [`trends`]: per-patient change, OLS and Theil–Sen slopes, responders,
//!   time to sustained response, and the cohort mixed model of pain;
//! - [`prescription`]: who is prescribed what (the regimen, or a file of
//!   per-patient overrides);
//! - [`lmm`]: linear mixed models (random intercept, optionally random
//!   slope), REML or ML, agreeing with lme4;
//! - [`data`]: a user's CSV or Parquet file as complete-case columns, for
//!   the `lumbar stats` commands; [`describe`]: quantiles and slopes.
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
//! This crate reads the store and data files but never writes or prints:
//! the CLI decides where results go. Every estimator cites its formula and
//! is tested against R or closed forms.

// Only lumbar-stats (the Cox kernels) and the binary's allocator setting
// need unsafe code; everything else is checked by the compiler.
#![forbid(unsafe_code)]

pub mod adherence;
pub mod clinic;
pub mod cohort;
pub mod data;
pub mod design;
pub mod prescription;
pub mod risk;
pub mod safety;
pub mod trends;

// The generic estimators live in lumbar-stats; these paths keep
// `lumbar_analysis::cox::fit` and the like working for the CLI, the
// end-to-end tests and the benchmarks.
pub use lumbar_stats::{cox, describe, lmm, poisson, survival};
