//! The `rstack` binary: every role (CLI, daemon, shim, exec helper) lives in one executable.

fn main() {
    std::process::exit(rstack::cli::main());
}
