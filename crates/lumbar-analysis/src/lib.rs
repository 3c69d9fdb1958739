//! Statistics over lumbar's canonical tables.
//!
//! - [`lmm`]: linear mixed models (random intercept, optionally random slope),
//!   REML or ML, agreeing with lme4.
//! - [`data`]: reading a user's CSV or Parquet file into complete-case
//!   numeric columns for the `lumbar stats` commands.
//!
//! This crate reads the store and files but never writes or prints: the CLI
//! decides where results go. Every estimator cites its formula and is tested
//! against R or closed forms.

pub mod data;
pub mod lmm;
