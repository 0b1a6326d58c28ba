//! Command-line interface: a thin client of the daemon, except for the hidden runtime roles
//! (`shim`, `nsexec`) that the daemon execs from a sealed copy of this same binary.
//!
//! The client reaches the daemon only through `api`; `roles` is the one file that enters the
//! daemon and the runtime themselves (tests/deps.rs holds it to that).

mod args;
mod attach;
mod broken_pipe;
mod build;
mod commands;
mod connect;
mod container_events;
mod cp;
mod display;
mod down;
mod dry_run;
mod events;
mod filter;
mod help;
mod images;
mod inspect;
mod kube_export;
mod lifecycle;
mod locate;
mod log_time;
mod ls;
mod networks;
mod output;
mod progress;
mod project;
mod ps_json;
mod pull_policy;
mod registry;
mod registry_dry;
mod replica;
mod rm;
mod roles;
mod scale;
mod stack_images;
mod stats;
mod sync;
mod terminal;
mod top;
mod up_checks;
mod up_flags;
mod volumes;
mod watch;

use args::Cli;
use clap::{CommandFactory, FromArgMatches};

/// Process exit code for bad input or a failed command (compose uses 1 too).
pub const EXIT_FAILURE: i32 = 1;

pub fn main() -> i32 {
    let args: Vec<String> = std::env::args().collect();
    // Hidden roles first, before clap: the shim and nsexec must stay single-threaded and
    // light, and are never typed by users.
    if let Some(code) = roles::hidden(&args) {
        return code;
    }
    // As `Cli::parse()`, with the top-level help grouped (`help.rs`).
    let cli = match Cli::from_arg_matches(&help::grouped(Cli::command()).get_matches()) {
        Ok(cli) => cli,
        Err(e) => e.exit(),
    };
    // The daemon keeps Rust's ignored SIGPIPE and its own panics' messages.
    if !matches!(cli.command, args::Command::Daemon(_)) {
        broken_pipe::install();
    }
    display::set(cli.ansi, cli.progress);
    match commands::run(&cli) {
        Ok(code) => code,
        Err(e) if broken_pipe::is_closed_stdout(&e) => broken_pipe::die(),
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
