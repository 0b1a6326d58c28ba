//! `rstack volume ls|inspect|create|rm|prune`, as `docker volume` has them.

use super::args::Format;
use crate::api::client::Client;
use crate::api::volumes::{VolumeCreateRequest, VolumeNamesRequest, VolumeView};
use anyhow::{Result, bail};
use clap::Subcommand;
use std::collections::BTreeMap;

#[derive(Debug, Subcommand)]
// Built only when used (`args::Command` says why).
#[command(defer = true)]
pub enum VolumeCommand {
    /// List volumes
    #[command(alias = "list")]
    Ls {
        /// Output format
        #[arg(long, value_enum, default_value = "table")]
        format: Format,
        /// Only names
        #[arg(short, long)]
        quiet: bool,
        /// Filter: label=KEY or label=KEY=VALUE (all must match)
        #[arg(short, long = "filter")]
        filter: Vec<String>,
    },
    /// Show volumes in detail (JSON)
    Inspect {
        #[arg(required = true)]
        names: Vec<String>,
    },
    /// Create a volume
    Create {
        /// Volume name
        name: String,
        /// Driver (only `local`)
        #[arg(short, long, default_value = "local")]
        driver: String,
        /// KEY=VALUE labels
        #[arg(long = "label")]
        labels: Vec<String>,
        /// Driver options: type=tmpfs|none, o=..., device=PATH
        #[arg(short = 'o', long = "opt")]
        opts: Vec<String>,
    },
    /// Remove volumes (refused while a container uses one)
    #[command(alias = "remove")]
    Rm {
        #[arg(required = true)]
        names: Vec<String>,
    },
    /// Remove unused anonymous volumes (`--all`: every unused volume)
    Prune {
        #[arg(short, long)]
        all: bool,
        /// Do not ask (rstack never asks; accepted for docker's scripts)
        #[arg(short, long)]
        force: bool,
    },
}

fn pairs(list: &[String], what: &str) -> Result<BTreeMap<String, String>> {
    let mut out = BTreeMap::new();
    for s in list {
        let Some((k, v)) = s.split_once('=') else {
            bail!("invalid {what} \"{s}\": expected KEY=VALUE");
        };
        out.insert(k.to_string(), v.to_string());
    }
    Ok(out)
}

/// Before `up` creates anything: every external volume the stack mounts must exist, as
/// Compose checks (the daemon would refuse the container's start otherwise, half-way up).
pub fn check_external(client: &Client, stack: &crate::model::Stack) -> Result<()> {
    let mut external: Vec<(&str, &str)> = Vec::new();
    for (svc, s) in &stack.services {
        for m in &s.volumes {
            if m.volume.as_ref().is_some_and(|v| v.external) {
                external.push((svc, &m.source));
            }
        }
    }
    if external.is_empty() {
        return Ok(());
    }
    let list: Vec<VolumeView> = super::commands::autostart(client, || {
        Ok(client.call::<(), _>("GET", "/v1/volumes", None)?)
    })?;
    for (svc, name) in external {
        if !list.iter().any(|v| v.name == name) {
            bail!(
                "service \"{svc}\": external volume \"{name}\" not found: create it first with `rstack volume create {name}`"
            );
        }
    }
    Ok(())
}

/// `volume ls --filter label=KEY[=VALUE]`, as docker's: (key, wanted value) pairs.
fn parse_filters(raw: &[String]) -> Result<Vec<(String, Option<String>)>> {
    raw.iter()
        .map(|f| match f.split_once('=') {
            Some(("label", kv)) if !kv.is_empty() => Ok(match kv.split_once('=') {
                Some((k, v)) => (k.to_string(), Some(v.to_string())),
                None => (kv.to_string(), None),
            }),
            _ => bail!(
                "invalid filter \"{f}\": rstack volume ls filters by label=KEY or label=KEY=VALUE"
            ),
        })
        .collect()
}

pub fn run(client: &Client, c: &VolumeCommand) -> Result<i32> {
    match c {
        VolumeCommand::Ls {
            format,
            quiet,
            filter,
        } => {
            let filters = parse_filters(filter)?;
            let mut list: Vec<VolumeView> = super::commands::autostart(client, || {
                Ok(client.call::<(), _>("GET", "/v1/volumes", None)?)
            })?;
            list.retain(|v| {
                filters.iter().all(|(k, want)| {
                    v.labels
                        .get(k)
                        .is_some_and(|have| want.as_ref().is_none_or(|w| w == have))
                })
            });
            if *quiet {
                list.iter().for_each(|v| println!("{}", v.name));
            } else if *format == Format::Json {
                for v in &list {
                    println!("{}", serde_json::to_string(v)?);
                }
            } else {
                println!("DRIVER    VOLUME NAME");
                for v in &list {
                    println!("{:<10}{}", v.driver, v.name);
                }
            }
        }
        VolumeCommand::Inspect { names } => {
            let list: Vec<VolumeView> = client.call::<(), _>("GET", "/v1/volumes", None)?;
            let mut out = Vec::new();
            for n in names {
                match list.iter().find(|v| &v.name == n) {
                    Some(v) => out.push(v.clone()),
                    None => bail!("no such volume: {n}"),
                }
            }
            println!("{}", serde_json::to_string_pretty(&out)?);
        }
        VolumeCommand::Create {
            name,
            driver,
            labels,
            opts,
        } => {
            let req = VolumeCreateRequest {
                name: name.clone(),
                driver: Some(driver.clone()),
                labels: pairs(labels, "label")?,
                driver_opts: pairs(opts, "option")?,
            };
            let v: VolumeView = super::commands::autostart(client, || {
                Ok(client.call("POST", "/v1/volumes/create", Some(&req))?)
            })?;
            println!("{}", v.name);
        }
        VolumeCommand::Rm { names } => {
            let req = VolumeNamesRequest {
                names: names.clone(),
                ..Default::default()
            };
            let removed: Vec<String> = client.call("POST", "/v1/volumes/remove", Some(&req))?;
            removed.iter().for_each(|n| println!("{n}"));
        }
        VolumeCommand::Prune { all, force: _ } => {
            let req = VolumeNamesRequest {
                all: *all,
                ..Default::default()
            };
            let removed: Vec<String> = client.call("POST", "/v1/volumes/prune", Some(&req))?;
            if !removed.is_empty() {
                println!("Deleted Volumes:");
                removed.iter().for_each(|n| println!("{n}"));
            }
        }
    }
    Ok(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn label_filters_parse_with_and_without_a_value_and_others_are_refused() {
        let f = parse_filters(&[
            "label=com.docker.compose.project=p".into(),
            "label=k".into(),
        ])
        .expect("parse");
        assert_eq!(
            f,
            [
                (
                    "com.docker.compose.project".to_string(),
                    Some("p".to_string())
                ),
                ("k".to_string(), None)
            ]
        );
        for bad in ["dangling=true", "label=", "label"] {
            let e = parse_filters(&[bad.into()]).expect_err(bad).to_string();
            assert!(e.contains(bad), "{e}");
        }
    }
}
