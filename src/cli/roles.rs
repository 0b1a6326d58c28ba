//! The entry points of the roles this binary plays besides the client: `rstack daemon`, and
//! the hidden `shim` and `nsexec` the daemon execs. The only file of `cli` that reaches into
//! `daemon` and `runtime`; every other command talks to the daemon through `api`.

use super::args::DaemonArgs;
use crate::daemon::config::DaemonConfig;
use anyhow::Result;

/// Where a daemon keeps its state and listens unless told otherwise: the CLI connects there
/// and starts a daemon there (`connect::ensure_daemon`).
pub use crate::daemon::config::{DEFAULT_DATA_ROOT, DEFAULT_SOCKET};

/// The hidden roles, before clap: the shim and nsexec must stay single-threaded and light,
/// and are never typed by users. `None`: not one of them.
pub fn hidden(args: &[String]) -> Option<i32> {
    match args.get(1).map(String::as_str) {
        Some("shim") => Some(match args.get(2) {
            Some(dir) => crate::runtime::shim_main(
                std::path::Path::new(dir),
                args.get(3).map(String::as_str),
            ),
            None => {
                eprintln!("usage: rstack shim STATE_DIR [BRIDGE]");
                2
            }
        }),
        Some("nsexec") => Some(crate::runtime::nsexec_main(args.get(2..).unwrap_or(&[]))),
        _ => None,
    }
}

/// `rstack daemon`: runs the daemon in this process until SIGTERM or SIGINT.
pub fn daemon(a: &DaemonArgs) -> Result<i32> {
    let mut cfg = DaemonConfig::load(a.config.as_deref())?;
    if let Some(d) = &a.data_root {
        cfg.data_root = d.clone();
    }
    if let Some(s) = &a.socket {
        cfg.socket = s.clone();
    }
    crate::daemon::run(cfg)?;
    Ok(0)
}
