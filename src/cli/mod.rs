//! Command-line interface: a thin client of the daemon, except for the hidden runtime roles
//! (`shim`, `nsexec`) that the daemon execs from a sealed copy of this same binary.

mod args;
mod commands;
mod connect;
mod output;
mod project;
mod registry;
mod terminal;

use args::Cli;
use clap::Parser;

/// Process exit code for bad input or a failed command (compose uses 1 too).
pub const EXIT_FAILURE: i32 = 1;

pub fn main() -> i32 {
    let args: Vec<String> = std::env::args().collect();
    // Hidden roles first, before clap: the shim and nsexec must stay single-threaded and
    // light, and are never typed by users.
    match args.get(1).map(String::as_str) {
        Some("shim") => {
            return match args.get(2) {
                Some(dir) => crate::runtime::shim_main(std::path::Path::new(dir)),
                None => {
                    eprintln!("usage: rstack shim STATE_DIR");
                    2
                }
            };
        }
        Some("nsexec") => return crate::runtime::nsexec_main(&args[2..]),
        _ => {}
    }
    let cli = Cli::parse();
    match commands::run(&cli) {
        Ok(code) => code,
        Err(e) => {
            // Stack-file problems come rendered with file:line:col and carets.
            match e.downcast_ref::<crate::spec::Diagnostics>() {
                Some(d) => eprintln!("{d}"),
                None => eprintln!("error: {e:#}"),
            }
            EXIT_FAILURE
        }
    }
}
