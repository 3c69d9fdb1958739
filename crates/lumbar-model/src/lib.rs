//! The domain of lumbar: what a back-pain exercise programme *is*.
//!
//! This crate owns
//! - the [`Regimen`]: the exercise catalogue with prescribed doses as ranges,
//!   the adaptation [`Ladder`]s and the [`SafetyRules`], loaded from a TOML
//!   file at run time (`datasets/regimens/six-moves.toml` is the default);
//! - the canonical tables ([`schema`]): their columns, types and the value
//!   rules a row must satisfy;
//! - the domain types the analyses read ([`cohort`]: `Patient`, `Session`,
//!   `Outcome`, `WalkingDay`, the `Cohort` and its `SessionSink`) and the
//!   records writers produce ([`records`]: one canonical table line);
//! - [`Columns`]: a table read by column name, whatever its format.
//!
//! It must not do I/O beyond reading a regimen file and the shared atomic
//! file writer ([`atomic`]), and must not depend on
//! polars or any other lumbar crate: every other crate depends on it, never
//! the other way round.
//!
//! ```
//! let regimen = lumbar_model::Regimen::from_toml_str(
//!     r#"
//!     key = "mini"
//!     name = "One move"
//!     [safety]
//!     stop_pain_during = 7
//!     unsuitable_persist_min = 20
//!     [[exercise]]
//!     key = "bridge"
//!     name = "Bridge"
//!     reps = [10, 15]
//!     sets = 2
//!     frequency = "2/week"
//!     "#,
//! )
//! .unwrap();
//! let bridge = regimen.exercise("bridge").unwrap();
//! assert!(bridge.reps.contains(12.0));
//! assert!(!bridge.reps.contains(9.0));
//! ```

// Only lumbar-stats (the Cox kernels) and the binary's allocator setting
// need unsafe code; everything else is checked by the compiler.
#![forbid(unsafe_code)]

pub mod atomic;
pub mod cohort;
pub mod columns;
pub mod dictionary;
pub mod partition;
pub mod records;
pub mod regimen;
pub mod schema;
pub mod toml_error;

pub use columns::{ColumnError, Columns};
pub use regimen::{
    DoseRange, Exercise, Frequency, Ladder, Regimen, RegimenError, Rung, SafetyRules, Sides,
};
pub use schema::{Check, Column, Kind, Table};

/// The regimen shipped with lumbar, as text (the file in `datasets/regimens/`).
///
/// Commands load the file from disk so clinics can edit it; this copy serves
/// tests and the generator's documentation of what it plants.
pub const SIX_MOVES_TOML: &str = include_str!("../../../datasets/regimens/six-moves.toml");
