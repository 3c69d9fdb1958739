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
#[cfg(all(target_os = "linux", target_env = "gnu"))]
fn bound_malloc_arenas() {
    let cpus = std::thread::available_parallelism().map_or(2, |n| n.get());
    let arenas = libc::c_int::try_from(cpus).unwrap_or(libc::c_int::MAX);
    // SAFETY: mallopt only sets a parameter of the allocator; it is called
    // first thing in main, before any other thread exists.
    unsafe {
        libc::mallopt(libc::M_ARENA_MAX, arenas);
    }
}

#[cfg(not(all(target_os = "linux", target_env = "gnu")))]
fn bound_malloc_arenas() {}
