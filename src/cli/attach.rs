//! `rstack attach [--index N] [--no-stdin] [--detach-keys KEYS] [--sig-proxy=BOOL] SERVICE`, as `docker compose
//! attach`: our terminal on the main process of a running service container (`stdin_open`,
//! `tty`), until the detach keys (ctrl-p ctrl-q by default) or the container's exit.

use super::args::Cli;
use super::output::is_tty;
use super::project;
use crate::api::Client;
use crate::api::attach::Frame;
use crate::api::attach_client::{AttachInput, Attached};
use crate::api::types::AttachRequest;
use anyhow::{Result, anyhow};
use clap::Args;
use std::io::Write;

#[derive(Debug, Args)]
pub struct AttachArgs {
    /// Which replica of a scaled service (default 1)
    #[arg(long, value_parser = clap::value_parser!(u32).range(1..))]
    pub index: Option<u32>,
    /// Do not attach our stdin
    #[arg(long)]
    pub no_stdin: bool,
    /// The key sequence that detaches, leaving the container running
    #[arg(long, default_value = crate::api::detach::DEFAULT_KEYS)]
    pub detach_keys: String,
    /// Send the signals we receive to the container's main process (default true;
    /// --sig-proxy=false: a signal ends only this client, as its default action)
    #[arg(long, default_value_t = true, num_args = 0..=1, default_missing_value = "true",
          require_equals = true, action = clap::ArgAction::Set)]
    pub sig_proxy: bool,
    pub service: String,
}

/// The container's exit code once it exits; 0 when detached.
pub fn run(cli: &Cli, client: &Client, a: &AttachArgs) -> Result<i32> {
    let p = project::project_name(cli)?;
    let detach_keys = crate::api::detach::parse(&a.detach_keys)
        .map_err(|e| anyhow!("--detach-keys {:?}: {e}", a.detach_keys))?;
    let req = AttachRequest {
        service: a.service.clone(),
        index: a.index,
        stdin: !a.no_stdin,
    };
    let our_terminal = !a.no_stdin && is_tty(0) && is_tty(1);
    let input = AttachInput {
        stdin: !a.no_stdin,
        detach_keys,
        size: our_terminal.then_some(super::terminal::size as fn() -> (u16, u16)),
        sig_proxy: a.sig_proxy,
    };
    // Raw mode only when the container has a terminal too: keys (Ctrl-C included) then go
    // to it; restored when the guard drops, before we return.
    let raw = |theirs: bool| {
        (theirs && our_terminal)
            .then(super::terminal::RawMode::enter)
            .and_then(Result::ok)
    };
    let path = format!("/v1/projects/{p}/attach");
    let ended = client.attach_container(&path, &req, input, raw, |frame| {
        let _ = match frame {
            Frame::Stdout(d) => {
                let mut out = std::io::stdout().lock();
                out.write_all(&d).and_then(|_| out.flush())
            }
            Frame::Stderr(d) => std::io::stderr().write_all(&d),
            _ => Ok(()),
        };
    })?;
    Ok(match ended {
        Attached::Exited(code) => code,
        Attached::Detached => 0,
    })
}
