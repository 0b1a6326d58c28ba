//! A service's networking keys (`networks`, `network_mode`, `ports`, `expose`, `links`,
//! `extra_hosts`, `dns*`, `domainname`, `mac_address`) and the top-level network definitions
//! they name, as validated by `spec`.
//!
//! A service on its project's default network with no options has an empty `networks` map:
//! that is what every service of a stack without `networks` keys gets, and keeping it empty
//! keeps such a service's record and config hash what they were before networks existed
//! (`plan::config_hash`). `plan` reads an empty map under `NetworkMode::Networks` as
//! `{default: <project>_default}`.

use super::defaults::is_default;
use indexmap::IndexMap;
use serde::{Deserialize, Serialize};

/// `network_mode:`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum NetworkMode {
    /// No `network_mode`: the service's `networks` (its project's default network when empty).
    #[default]
    Networks,
    /// `none`: loopback only.
    None,
    /// `host`: the host's network namespace.
    Host,
    /// `service:NAME`: the network namespace of that service's container.
    Service(String),
    /// `container:NAME`: the network namespace of that container (by name or id).
    Container(String),
}

/// One entry of a service's `networks:` (short form: a name alone).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct ServiceNetwork {
    /// The top-level definition, resolved (full name, options).
    pub network: NetworkDef,
    /// `aliases`: more names this container answers to on this network.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub aliases: Vec<String>,
    /// `ipv4_address`: a fixed address inside the network's subnet.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ipv4_address: Option<String>,
    /// `ipv6_address`: a fixed IPv6 address on a network with `enable_ipv6: true`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ipv6_address: Option<String>,
    /// `priority`: networks are attached (eth0, eth1...) highest first.
    #[serde(skip_serializing_if = "is_default")]
    pub priority: i32,
    /// `mac_address` of the interface on this network.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub mac_address: Option<String>,
}

/// A top-level `networks:` entry (or the implicit `default`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct NetworkDef {
    /// The full name: `<project>_<key>`, or `name:`; for `external`, the existing network's.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub name: String,
    /// The project that declares it (recorded on the network, so `down` finds it).
    #[serde(skip_serializing_if = "String::is_empty")]
    pub project: String,
    /// `external: true`: must exist already; never created nor removed by rstack.
    #[serde(skip_serializing_if = "is_default")]
    pub external: bool,
    /// `internal: true`: no route out of the network (no masquerade, no published ports).
    #[serde(skip_serializing_if = "is_default")]
    pub internal: bool,
    /// `attachable` (recorded; one-off containers may always attach here).
    #[serde(skip_serializing_if = "is_default")]
    pub attachable: bool,
    /// `enable_ipv6`: the network also gets an IPv6 subnet (dual stack).
    #[serde(skip_serializing_if = "is_default")]
    pub enable_ipv6: bool,
    #[serde(skip_serializing_if = "IndexMap::is_empty")]
    pub labels: IndexMap<String, String>,
    /// `driver_opts` (recorded; the loader warns that they are ignored).
    #[serde(skip_serializing_if = "IndexMap::is_empty")]
    pub driver_opts: IndexMap<String, String>,
    /// `ipam.config`: the first IPv4 entry is used, and the first IPv6 one with `enable_ipv6`.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub ipam: Vec<IpamConfig>,
}

/// One `ipam.config` entry, each field validated as an IPv4 network or address.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct IpamConfig {
    /// `subnet`, CIDR (`10.5.0.0/24`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub subnet: Option<String>,
    /// `ip_range`, CIDR inside the subnet: where dynamic addresses come from.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ip_range: Option<String>,
    /// `gateway`, an address inside the subnet (default: the subnet's first address).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub gateway: Option<String>,
}

/// The transport of a published port.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Protocol {
    #[default]
    Tcp,
    Udp,
}

impl Protocol {
    pub fn as_str(self) -> &'static str {
        match self {
            Protocol::Tcp => "tcp",
            Protocol::Udp => "udp",
        }
    }
}

/// One container port of `ports:` (a range in the file becomes one entry per port).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct PortMapping {
    /// The container's port.
    pub target: u16,
    /// The host port, or the range a free one is taken from (`8000-8010:80`); `None`: any
    /// free port (an ephemeral one, as Docker).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub published: Option<PortRange>,
    /// The host address to listen on; `None`: all of the host's (IPv4) addresses.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub host_ip: Option<String>,
    #[serde(skip_serializing_if = "is_default")]
    pub protocol: Protocol,
    /// Long syntax `name` (recorded and shown).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
}

/// An inclusive range of host ports (`start == end` for one port).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct PortRange {
    pub start: u16,
    pub end: u16,
}

/// A `links:` entry: `SERVICE` or `SERVICE:ALIAS`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct Link {
    pub service: String,
    /// The name the linking container resolves the service by (the service name if absent).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub alias: Option<String>,
}

/// An `extra_hosts:` entry: a line of the container's /etc/hosts.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct HostEntry {
    pub host: String,
    /// An IPv4 or IPv6 address, or `host-gateway` (the address of the host as seen from the
    /// container: its network's gateway).
    pub ip: String,
}

/// The networking part of a service, flattened into `model::Service`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct ServiceNetworking {
    #[serde(skip_serializing_if = "is_default")]
    pub network_mode: NetworkMode,
    /// By the key the service uses (`default`, `front`...), in file order. Empty: the
    /// project's default network with no options (see the module doc).
    #[serde(skip_serializing_if = "IndexMap::is_empty")]
    pub networks: IndexMap<String, ServiceNetwork>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub ports: Vec<PortMapping>,
    /// `expose`: recorded and shown, as Docker (no effect on reachability).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub expose: Vec<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub links: Vec<Link>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub extra_hosts: Vec<HostEntry>,
    /// `dns`: the servers names outside the stack are forwarded to (default: the host's).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub dns: Vec<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub dns_search: Vec<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub dns_opt: Vec<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub domainname: Option<String>,
    /// `mac_address` of the first network's interface.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub mac_address: Option<String>,
}

/// The project's default network (`<project>_default`), as a service without `networks`
/// is attached to it.
pub fn default_network(project: &str) -> NetworkDef {
    NetworkDef {
        name: format!("{project}_default"),
        project: project.to_string(),
        ..NetworkDef::default()
    }
}

impl ServiceNetworking {
    /// The networks the service attaches to, by key, highest `priority` first (then file
    /// order): empty under a `network_mode`, the project's default network when none is
    /// listed.
    pub fn attachments(&self, project: &str) -> Vec<(String, ServiceNetwork)> {
        if self.network_mode != NetworkMode::Networks {
            return Vec::new();
        }
        if self.networks.is_empty() {
            return vec![(
                "default".to_string(),
                ServiceNetwork {
                    network: default_network(project),
                    ..ServiceNetwork::default()
                },
            )];
        }
        let mut v: Vec<(String, ServiceNetwork)> = self
            .networks
            .iter()
            .map(|(k, n)| (k.clone(), n.clone()))
            .collect();
        // A stable sort keeps file order among equal priorities.
        v.sort_by_key(|(_, n)| std::cmp::Reverse(n.priority));
        v
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_service_without_networks_is_on_the_default_network() {
        let n = ServiceNetworking::default();
        let a = n.attachments("shop");
        assert_eq!(a.len(), 1);
        assert_eq!(a[0].0, "default");
        assert_eq!(a[0].1.network.name, "shop_default");
        assert_eq!(serde_json::to_string(&n).unwrap(), "{}");
    }

    #[test]
    fn attachments_are_by_priority_then_file_order() {
        let mut n = ServiceNetworking::default();
        for (k, p) in [("a", 0), ("b", 5), ("c", 0)] {
            n.networks.insert(
                k.into(),
                ServiceNetwork {
                    priority: p,
                    ..ServiceNetwork::default()
                },
            );
        }
        let keys: Vec<String> = n.attachments("p").into_iter().map(|(k, _)| k).collect();
        assert_eq!(keys, ["b", "a", "c"]);
        n.network_mode = NetworkMode::Host;
        assert!(n.attachments("p").is_empty());
    }
}
