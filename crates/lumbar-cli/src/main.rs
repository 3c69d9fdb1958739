//! The `lumbar` binary: everything is in the library, so tests drive the same
//! code in-process.

fn main() -> std::process::ExitCode {
    bound_malloc_arenas();
    lumbar_cli::main_with_args(std::env::args_os())
}

/// glibc gives each new thread its own malloc arena (up to 8 per CPU), and
/// polars and rayon run many threads: the column buffers that a large store
/// is read into, slice after slice, are freed to one arena and allocated
/// again from another, so their pages are faulted in afresh each time. One
/// arena per CPU halves the page faults of the 100,000-patient report (from
/// about 830,000 to 350,000) and saves about 0.5 s of its 3.8 s.
///
/// Calibration builds and drops a cohort in memory per simulated cohort
/// (tens of MB each, thousands of times): above glibc's mmap threshold
/// each one was mapped, faulted in page by page and unmapped again. Large
/// blocks from the heap, kept after free (thresholds of 512 MiB and
/// 1 GiB), are reused instead: a 600-patient cohort's simulation went from
/// 113 to 88 ms (page faults and munmap were a third of its profile).
#[cfg(all(target_os = "linux", target_env = "gnu"))]
fn bound_malloc_arenas() {
    let cpus = std::thread::available_parallelism().map_or(2, |n| n.get());
    let arenas = libc::c_int::try_from(cpus).unwrap_or(libc::c_int::MAX);
    // SAFETY: mallopt only sets a parameter of the allocator; it is called
    // first thing in main, before any other thread exists.
    unsafe {
        libc::mallopt(libc::M_ARENA_MAX, arenas);
        libc::mallopt(libc::M_MMAP_THRESHOLD, 1 << 29);
        libc::mallopt(libc::M_TRIM_THRESHOLD, 1 << 30);
    }
}

#[cfg(not(all(target_os = "linux", target_env = "gnu")))]
fn bound_malloc_arenas() {}
