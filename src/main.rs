//! The `agevault` binary: parse the command line, run it, report the outcome.
#![forbid(unsafe_code)]

fn main() -> std::process::ExitCode {
    agevault::main_entry()
}
