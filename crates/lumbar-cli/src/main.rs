//! The `lumbar` binary: everything is in the library, so tests drive the same
//! code in-process.

fn main() -> std::process::ExitCode {
    lumbar_cli::main_with_args(std::env::args_os())
}
