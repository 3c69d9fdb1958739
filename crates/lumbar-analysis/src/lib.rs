//! Statistics over lumbar's canonical tables.
//!
//! - [`cohort`]: the programme cohort loaded from a store;
//! - [`adherence`]: session and dose adherence per patient × exercise × ISO
//!   week, per patient, per site and for the cohort;
//! - [`safety`]: sessions continued at pain ≥ 7 and exercises flagged
//!   unsuitable (pain persisting > 20 min);
//! - [`trends`]: per-patient change, OLS and Theil–Sen slopes, responders,
//!   time to sustained response, and the cohort mixed model of pain;
//! - [`lmm`]: linear mixed models (random intercept, optionally random
//!   slope), REML or ML, agreeing with lme4;
//! - [`data`]: a user's CSV or Parquet file as complete-case columns, for
//!   the `lumbar stats` commands; [`describe`]: quantiles and slopes.
//!
//! This crate reads the store and data files but never writes or prints:
//! the CLI decides where results go. Every estimator cites its formula and
//! is tested against R or closed forms.

pub mod adherence;
pub mod cohort;
pub mod data;
pub mod describe;
pub mod lmm;
pub mod safety;
pub mod trends;
