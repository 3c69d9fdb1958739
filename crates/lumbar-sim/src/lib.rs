//! Individual-level simulation of patients following a regimen.
//!
//! Today this crate holds the synthetic cohort generator ([`cohort`], behind
//! `lumbar generate`) and the patient dynamics it shares with the scenario
//! simulator ([`dynamics`]): the natural course of persistent back pain
//! (Costa 2012) and the benefit of adherent exercise (Hayden 2021).
//!
//! It must not read or write Parquet, parse user tables or print: it takes a
//! [`lumbar_model::Regimen`] and parameters, and produces rows. Randomness
//! comes only from per-patient ChaCha8 streams derived from the master seed
//! and the patient's index, never from thread identity, so output does not
//! depend on the number of threads.
//!
//! ```
//! use lumbar_sim::cohort::{generate_patient, CohortSpec};
//! let regimen = lumbar_model::Regimen::six_moves();
//! let spec = CohortSpec::new(10, 2, 42);
//! let a = generate_patient(&spec, &regimen, 0);
//! let b = generate_patient(&spec, &regimen, 0);
//! assert_eq!(a.sessions, b.sessions); // same seed and index, same patient
//! assert_eq!(a.outcomes.iter().filter(|o| o.measure == "nrs_pain").count(), 3);
//! ```

pub mod cohort;
pub mod dynamics;
