//! `--dry-run` of `image pull`, `image push`, `pull` and `push`: the daemon asks the
//! registry, read-only, what the transfer would do (`TransferRequest::dry_run`) and the
//! answer is printed with compose's dry-run prefix. A registry that cannot be reached or an
//! unknown tag is an error, as it would be for real.

use std::io::{BufRead, BufReader};

use anyhow::{Context, Result, bail};

use super::commands::autostart;
use super::dry_run::line;
use crate::api::Client;
use crate::api::registry::{TransferLine, TransferRequest};

/// Asks what a pull (`push` false) or push of `reference` would do and prints it.
pub fn check(client: &Client, reference: &str, platform: Option<&str>, push: bool) -> Result<i32> {
    let req = TransferRequest {
        reference: reference.to_string(),
        auths: super::registry::auths(),
        platform: platform.map(str::to_string),
        progress: false,
        dry_run: true,
    };
    let path = match push {
        true => "/v1/images/push",
        false => "/v1/images/pull",
    };
    let resp = autostart(client, || {
        Ok(client.request("POST", path, Some(&req))?.ok()?)
    })?;
    let reader = BufReader::new(resp.into_reader());
    for l in reader.lines() {
        let l = l.context("reading the daemon's answer")?;
        if l.trim().is_empty() {
            continue;
        }
        let item: TransferLine = serde_json::from_str(&l).context("reading the daemon's answer")?;
        if let Some(e) = item.error {
            bail!("{e}");
        }
        match item.status {
            Some(s) => line(&s),
            None => return Ok(0),
        }
    }
    bail!("the daemon ended the answer without a result")
}

/// `pull`/`push` of a stack under `--dry-run`: each distinct image checked in turn; a
/// failure is reported and the others still go, as for real.
pub fn services(
    cli: &super::args::Cli,
    client: &Client,
    names: &[String],
    push: bool,
) -> Result<i32> {
    let images = super::registry::stack_images(cli, names, push)?;
    let mut failed = false;
    for (image, platform) in &images {
        if let Err(e) = check(client, image, platform.as_deref(), push) {
            eprintln!("error: {image}: {e:#}");
            failed = true;
        }
    }
    Ok(if failed { 1 } else { 0 })
}
