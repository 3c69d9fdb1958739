//! The generic estimators under lumbar's analyses: columns of numbers and
//! names in, fits out.
//!
//! - [`numeric`]: small numeric kernels (a vectorising, reproducible `exp`);
//! - [`describe`]: quantiles, OLS and Theil–Sen slopes;
//! - [`design`]: model matrices as named columns (treatment contrasts,
//!   complete cases, R's level order, interactions by R's coding rule);
//! - [`formula`]: model formulas as R writes them (`Surv(time, status) ~
//!   age + factor(ecog) + strata(site)`, `y ~ week + (week | patient)`);
//! - [`poisson`]: the modified Poisson GLM (risk ratios, sandwich variance);
//! - [`survival`]: Kaplan–Meier and the log-rank test;
//! - [`cox`]: Cox proportional hazards, as R's `survival::coxph`;
//! - [`bootstrap`]: case (or cluster) resampling of any fit, percentile and
//!   BCa intervals as R's `boot`, the same bits at any thread count;
//! - [`lmm`]: linear mixed models (random intercept, optionally random
//!   slope), REML or ML, agreeing with lme4.
//!
//! ```
//! use lumbar_stats::lmm::{fit, LmmData, Method, RandomEffects};
//! // Three groups, four scores each, falling half a point per step.
//! let mut d = LmmData { time_name: "week".into(), ..Default::default() };
//! for (g, start) in [("A", 6.0), ("B", 5.0), ("C", 7.5)] {
//!     for (w, noise) in [0.1, -0.2, 0.15, -0.05].iter().enumerate() {
//!         d.group.push(g.into());
//!         d.time.push(w as f64);
//!         d.response.push(start - 0.5 * w as f64 + noise);
//!     }
//! }
//! let m = fit(&d, Method::Reml, RandomEffects::Intercept).unwrap();
//! assert!((m.fixed[1].estimate + 0.5).abs() < 0.1);
//! ```
//!
//! It must not know polars, file paths, lumbar's tables, the regimen or CLI
//! flags, and depends on no lumbar crate: reading data is the callers' work
//! (`lumbar-analysis` builds designs from frames), so the estimators can be
//! tested against R on plain vectors. Every estimator cites its formula and
//! is tested against R or closed forms.

// Unsafe code lives only in `cox::pass` (the parallel scatter and the AVX2
// kernel); every operation in an `unsafe fn` still needs its own block and
// SAFETY comment.
#![deny(unsafe_op_in_unsafe_fn)]

pub mod bootstrap;
pub mod cox;
pub mod describe;
pub mod design;
pub mod formula;
pub mod linalg;
pub mod lmm;
pub mod numeric;
pub mod optim;
pub mod poisson;
pub mod survival;
