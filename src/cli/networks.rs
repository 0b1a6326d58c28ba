//! `rstack network ls|inspect|create|rm|prune`, as `docker network` has them, and
//! `rstack port`, as `docker compose port`.

use super::args::Format;
use crate::api::client::Client;
use crate::api::networks::{NetworkCreateRequest, NetworkNamesRequest, NetworkView, PortView};
use crate::api::types::ContainerView;
use anyhow::{Result, bail};
use clap::{Args, Subcommand, ValueEnum};
use std::collections::BTreeMap;

/// `network inspect --format`: JSON only (Go templates are not supported).
#[derive(Debug, Clone, Copy, ValueEnum, PartialEq, Eq)]
pub enum InspectFormat {
    Json,
}

#[derive(Debug, Subcommand)]
// Built only when used (`args::Command` says why).
#[command(defer = true)]
pub enum NetworkCommand {
    /// List networks
    #[command(alias = "list")]
    Ls {
        /// Output format
        #[arg(long, value_enum, default_value = "table")]
        format: Format,
        /// Only network ids
        #[arg(short, long)]
        quiet: bool,
    },
    /// Show networks in detail (JSON), with the containers on them
    Inspect {
        #[arg(short, long, value_enum, default_value = "json")]
        format: InspectFormat,
        #[arg(required = true)]
        names: Vec<String>,
    },
    /// Create a bridge network
    Create {
        /// Network name
        name: String,
        /// Driver (only `bridge`)
        #[arg(short, long, default_value = "bridge")]
        driver: String,
        /// Subnet in CIDR notation, one per address family (default: one from the address pools)
        #[arg(long)]
        subnet: Vec<String>,
        /// Gateway address, in the subnet, one per address family (default: its first address)
        #[arg(long)]
        gateway: Vec<String>,
        /// Allocate container addresses from this sub-range (CIDR), one per address family
        #[arg(long)]
        ip_range: Vec<String>,
        /// Enable IPv6 (dual stack: an IPv6 subnet besides the IPv4 one)
        #[arg(long)]
        ipv6: bool,
        /// No access to the outside (no gateway, no masquerade)
        #[arg(long)]
        internal: bool,
        /// Let standalone containers attach (recorded, as Docker)
        #[arg(long)]
        attachable: bool,
        /// KEY=VALUE labels
        #[arg(long = "label")]
        labels: Vec<String>,
    },
    /// Remove networks (refused while a container is on one)
    #[command(alias = "remove")]
    Rm {
        #[arg(required = true)]
        names: Vec<String>,
    },
    /// Remove every network no container is on
    Prune {
        /// Do not ask (rstack never asks; accepted for docker's scripts)
        #[arg(short, long)]
        force: bool,
    },
}

#[derive(Debug, Args)]
pub struct PortArgs {
    /// Protocol of PRIVATE_PORT when it names none
    #[arg(long, default_value = "tcp")]
    pub protocol: String,
    /// Which replica of the service (its number in the container name)
    #[arg(long, default_value_t = 1)]
    pub index: u32,
    pub service: String,
    /// The container port, PORT or PORT/PROTO; without it, every published port
    pub private_port: Option<String>,
}

/// `--subnet`/`--gateway`/`--ip-range` given once per address family (as `docker network
/// create`): the IPv4 value and the IPv6 one (which needs `--ipv6`).
fn by_family(
    flag: &str,
    values: &[String],
    ipv6: bool,
) -> Result<(Option<String>, Option<String>)> {
    let (mut v4, mut v6) = (None, None);
    for v in values {
        let (slot, family) = match v.contains(':') {
            true => (&mut v6, "IPv6"),
            false => (&mut v4, "IPv4"),
        };
        if slot.is_some() {
            bail!(
                "--{flag} is given twice for {family}: give at most one value per address family"
            );
        }
        *slot = Some(v.clone());
    }
    if let Some(v) = v6.as_ref().filter(|_| !ipv6) {
        bail!("--{flag} {v} is an IPv6 value: add --ipv6 to make a dual-stack network");
    }
    Ok((v4, v6))
}

fn pairs(list: &[String]) -> Result<BTreeMap<String, String>> {
    let mut out = BTreeMap::new();
    for s in list {
        let Some((k, v)) = s.split_once('=') else {
            bail!("invalid label \"{s}\": expected KEY=VALUE");
        };
        out.insert(k.to_string(), v.to_string());
    }
    Ok(out)
}

fn short(id: &str) -> &str {
    &id[..12.min(id.len())]
}

pub fn run(client: &Client, c: &NetworkCommand) -> Result<i32> {
    match c {
        NetworkCommand::Ls { format, quiet } => {
            let list: Vec<NetworkView> = super::commands::autostart(client, || {
                Ok(client.call::<(), _>("GET", "/v1/networks", None)?)
            })?;
            if *quiet {
                list.iter().for_each(|n| println!("{}", short(&n.id)));
            } else if *format == Format::Json {
                for n in &list {
                    println!("{}", serde_json::to_string(n)?);
                }
            } else {
                print!("{}", table(&list));
            }
        }
        NetworkCommand::Inspect { format: _, names } => {
            let req = NetworkNamesRequest {
                names: names.clone(),
            };
            let list: Vec<NetworkView> = client.call("POST", "/v1/networks/inspect", Some(&req))?;
            println!("{}", serde_json::to_string_pretty(&list)?);
        }
        NetworkCommand::Create {
            name,
            driver,
            subnet,
            gateway,
            ip_range,
            ipv6,
            internal,
            attachable,
            labels,
        } => {
            if driver != "bridge" {
                bail!(
                    "network driver \"{driver}\" is not supported: rstack has bridge networks only"
                );
            }
            let (subnet, subnet6) = by_family("subnet", subnet, *ipv6)?;
            let (gateway, gateway6) = by_family("gateway", gateway, *ipv6)?;
            let (ip_range, ip_range6) = by_family("ip-range", ip_range, *ipv6)?;
            let req = NetworkCreateRequest {
                name: name.clone(),
                subnet,
                gateway,
                ip_range,
                enable_ipv6: *ipv6,
                subnet6,
                gateway6,
                ip_range6,
                internal: *internal,
                attachable: *attachable,
                labels: pairs(labels)?,
            };
            let n: NetworkView = super::commands::autostart(client, || {
                Ok(client.call("POST", "/v1/networks/create", Some(&req))?)
            })?;
            println!("{}", n.id);
        }
        NetworkCommand::Rm { names } => {
            let req = NetworkNamesRequest {
                names: names.clone(),
            };
            let removed: Vec<String> = client.call("POST", "/v1/networks/remove", Some(&req))?;
            removed.iter().for_each(|n| println!("{n}"));
        }
        NetworkCommand::Prune { force: _ } => {
            let removed: Vec<String> = client.call::<(), _>("POST", "/v1/networks/prune", None)?;
            if !removed.is_empty() {
                println!("Deleted Networks:");
                removed.iter().for_each(|n| println!("{n}"));
            }
        }
    }
    Ok(0)
}

/// `network ls`: NETWORK ID, NAME, DRIVER, SCOPE, as Docker.
fn table(list: &[NetworkView]) -> String {
    let w = list
        .iter()
        .map(|n| n.name.chars().count())
        .max()
        .unwrap_or(0)
        .max(4);
    let mut out = format!(
        "{:<15}{:<w$}   {:<10}{}\n",
        "NETWORK ID", "NAME", "DRIVER", "SCOPE"
    );
    for n in list {
        out.push_str(&format!(
            "{:<15}{:<w$}   {:<10}{}\n",
            short(&n.id),
            n.name,
            n.driver,
            n.scope
        ));
    }
    out
}

/// `port SERVICE [PRIVATE_PORT[/PROTO]]`: `HOST_IP:HOST_PORT` of that port, or every
/// published port as `80/tcp -> 0.0.0.0:49153` (as `docker port`).
pub fn port(client: &Client, project: &str, a: &PortArgs) -> Result<i32> {
    let rows: Vec<ContainerView> =
        client.call::<(), _>("GET", &format!("/v1/containers?project={project}"), None)?;
    let mine: Vec<&ContainerView> = rows
        .iter()
        .filter(|c| c.service == a.service && !c.one_off)
        .collect();
    if mine.is_empty() {
        bail!(
            "service \"{}\" has no container in project \"{project}\": start it first (rstack up -d)",
            a.service
        );
    }
    let Some(c) = mine
        .iter()
        .find(|c| super::replica::number(&c.name, &c.project, &c.service) == a.index)
    else {
        bail!(
            "service \"{}\" has no container with index {}",
            a.service,
            a.index
        );
    };
    if c.state != "running" {
        bail!("container {} is not running ({})", c.name, c.state);
    }
    let published: Vec<&PortView> = c.ports.iter().filter(|p| p.host_port.is_some()).collect();
    let host = |p: &PortView| {
        format!(
            "{}:{}",
            p.host_ip.as_deref().unwrap_or("0.0.0.0"),
            p.host_port.unwrap_or(0)
        )
    };
    let Some(want) = &a.private_port else {
        for p in published {
            println!("{}/{} -> {}", p.target, p.protocol, host(p));
        }
        return Ok(0);
    };
    let (num, proto) = want.split_once('/').unwrap_or((want, a.protocol.as_str()));
    let Ok(target) = num.parse::<u16>() else {
        bail!("invalid port \"{want}\": expected PORT or PORT/PROTO, like 80/tcp");
    };
    let hits: Vec<&&PortView> = published
        .iter()
        .filter(|p| p.target == target && p.protocol == proto)
        .collect();
    if hits.is_empty() {
        let list: Vec<String> = published
            .iter()
            .map(|p| format!("{}/{}", p.target, p.protocol))
            .collect();
        bail!(
            "no port {target}/{proto} is published by service \"{}\" (container {}); published: {}",
            a.service,
            c.name,
            if list.is_empty() {
                "none".to_string()
            } else {
                list.join(", ")
            }
        );
    }
    for p in hits {
        println!("{}", host(p));
    }
    Ok(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn subnets_gateways_and_ranges_are_split_by_family() {
        let v = |l: &[&str]| l.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        assert_eq!(
            by_family("subnet", &v(&["fd00:1::/64", "10.9.0.0/24"]), true).expect("ok"),
            (Some("10.9.0.0/24".into()), Some("fd00:1::/64".into()))
        );
        assert_eq!(
            by_family("gateway", &v(&[]), true).expect("ok"),
            (None, None)
        );
        let e = by_family("subnet", &v(&["fd00:1::/64"]), false).expect_err("no --ipv6");
        assert!(e.to_string().contains("add --ipv6"), "{e}");
        let e = by_family("ip-range", &v(&["10.1.0.0/25", "10.2.0.0/25"]), false).expect_err("2");
        assert!(e.to_string().contains("twice for IPv4"), "{e}");
    }

    #[test]
    fn ls_table_has_docker_columns() {
        let n = NetworkView {
            name: "p_default".into(),
            id: "0123456789abcdef0123".into(),
            driver: "bridge".into(),
            scope: "local".into(),
            ..NetworkView::default()
        };
        assert_eq!(
            table(&[n]),
            "NETWORK ID     NAME        DRIVER    SCOPE\n0123456789ab   p_default   bridge    local\n"
        );
    }
}
