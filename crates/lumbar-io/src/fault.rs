//! Failure injection into the store's write path, for tests only.
//!
//! With the `fault-injection` feature, every write step of the store (a
//! folder or file created, a block of bytes written, a file synced and
//! renamed, a file moved to quarantine) first calls [`step`], which counts
//! the steps of the process. `LUMBAR_FAULT=N:MODE` makes step N fail:
//! `fail` returns an I/O error, `enospc` returns "no space left on device"
//! (errno 28), `abort` ends the process at once, as a kill would (no
//! destructors run, temporary files stay behind). Without the feature,
//! [`step`] is an empty inline function and the variable is ignored.

use std::io;

/// The point a write step is at, named in the injected error.
#[cfg(feature = "fault-injection")]
pub fn step(what: &str) -> io::Result<()> {
    use std::sync::atomic::{AtomicU64, Ordering};
    static STEPS: AtomicU64 = AtomicU64::new(0);
    let n = STEPS.fetch_add(1, Ordering::SeqCst) + 1;
    let Ok(spec) = std::env::var("LUMBAR_FAULT") else {
        return Ok(());
    };
    let (at, mode) = spec.split_once(':').unwrap_or((spec.as_str(), "fail"));
    if at.parse::<u64>().ok() != Some(n) {
        return Ok(());
    }
    match mode {
        "abort" => std::process::abort(),
        "enospc" => Err(io::Error::from_raw_os_error(28)),
        _ => Err(io::Error::other(format!(
            "injected failure at write step {n} ({what})"
        ))),
    }
}

/// Without the `fault-injection` feature: nothing.
#[cfg(not(feature = "fault-injection"))]
#[inline(always)]
pub fn step(_what: &str) -> io::Result<()> {
    Ok(())
}
