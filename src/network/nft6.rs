//! The IPv6 half of the daemon's packet rules: a table of family `ip6` with the same name as
//! the `ip` one (`nft`), for the dual-stack networks (`enable_ipv6: true`). Same semantics
//! as the IPv4 table, IPv6 addresses:
//! - published ports of a container with an IPv6 address are DNAT'd from the host's local
//!   IPv6 addresses to it, in `prerouting` and `output`; never from `::1`: the kernel does not
//!   route a connection with a loopback source out of the host (IPv6 has no `route_localnet`),
//!   so [::1] is not forwarded (Docker needs its userland proxy for it too);
//! - masquerade of a non-internal network's subnet leaving by another interface, and of a
//!   hairpin connection back into its own bridge;
//! - isolation in `forward`: an internal network talks to nothing else, DNAT'd connections
//!   are accepted, one of our bridges to another is dropped.
//!
//! With no dual-stack network the table is not kept at all: the script only removes it.

use super::ipam6::Ipv6Net;
use super::nft::{NftError, Proto};
use std::fmt::Write as _;
use std::net::Ipv6Addr;

/// One dual-stack bridge network.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Net6 {
    pub bridge: String,
    pub subnet: Ipv6Net,
    pub internal: bool,
}

/// One published port over IPv6: host `[host_ip]:host_port` to `[container_ip]:container_port`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Forward6 {
    pub proto: Proto,
    /// Only this destination address of the host; `None`: any local address but `::1`.
    pub host_ip: Option<Ipv6Addr>,
    pub host_port: u16,
    pub container_ip: Ipv6Addr,
    pub container_port: u16,
}

/// The whole `ip6` table of one daemon.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Ruleset6 {
    /// The same name as the `ip` table (checked by `nft::Ruleset::validate`).
    pub table: String,
    pub networks: Vec<Net6>,
    pub forwards: Vec<Forward6>,
}

/// The nft script that replaces the `ip6` table in one transaction (or only removes it when
/// there is no dual-stack network).
pub fn render(rs: &Ruleset6) -> String {
    let t = &rs.table;
    let mut s = String::new();
    let _ = writeln!(s, "add table ip6 {t}");
    let _ = writeln!(s, "delete table ip6 {t}");
    if rs.networks.is_empty() {
        return s;
    }
    let _ = writeln!(s, "table ip6 {t} {{");
    let mut bridges: Vec<&str> = Vec::new();
    for n in &rs.networks {
        if !bridges.contains(&n.bridge.as_str()) {
            bridges.push(&n.bridge);
        }
    }
    s.push_str(
        "\tchain prerouting {\n\t\ttype nat hook prerouting priority dstnat; policy accept;\n",
    );
    s.push_str("\t\tfib daddr type local jump published\n\t}\n");
    s.push_str("\tchain output {\n\t\ttype nat hook output priority -100; policy accept;\n");
    // ::1 cannot be DNAT'd out of the host (see the module doc): left alone, a connection
    // to [::1]:port is refused at once instead of hanging.
    s.push_str("\t\tip6 daddr != ::1 fib daddr type local jump published\n\t}\n");
    s.push_str("\tchain published {\n");
    for f in &rs.forwards {
        s.push_str("\t\t");
        if let Some(ip) = f.host_ip.filter(|ip| !ip.is_unspecified()) {
            let _ = write!(s, "ip6 daddr {ip} ");
        }
        let _ = writeln!(
            s,
            "{} dport {} dnat to [{}]:{}",
            f.proto, f.host_port, f.container_ip, f.container_port
        );
    }
    s.push_str("\t}\n");
    s.push_str(
        "\tchain postrouting {\n\t\ttype nat hook postrouting priority srcnat; policy accept;\n",
    );
    for n in &rs.networks {
        let (net, br) = (n.subnet, &n.bridge);
        let _ = writeln!(
            s,
            "\t\tct status dnat ip6 saddr {net} oifname \"{br}\" masquerade"
        );
        if !n.internal {
            let _ = writeln!(s, "\t\tip6 saddr {net} oifname != \"{br}\" masquerade");
        }
    }
    s.push_str("\t}\n");
    let internal = rs
        .networks
        .iter()
        .filter(|n| n.internal)
        .map(|n| n.bridge.as_str());
    super::nft::forward_chain(&mut s, internal, &bridges);
    s.push_str("}\n");
    s
}

/// `net.ipv6.conf.all.forwarding=1`: the kernel forwards IPv6 only with the global switch
/// (there is no per-interface one before Linux 6.17). A side effect the README documents:
/// interfaces with `accept_ra=1` stop taking router advertisements (set `accept_ra=2` on a
/// host that gets its IPv6 route from them), as with Docker's IPv6 networks.
pub fn enable_forwarding() -> Result<(), NftError> {
    let path = std::path::PathBuf::from("/proc/sys/net/ipv6/conf/all/forwarding");
    if std::fs::read_to_string(&path).is_ok_and(|v| v.trim() == "1") {
        return Ok(());
    }
    std::fs::write(&path, b"1").map_err(|source| NftError::Sysctl { path, source })
}

/// IPv6 on a bridge: not disabled (a host with `default.disable_ipv6=1` makes new links
/// without it), and no router advertisements taken (the bridge is the router).
pub fn prepare_bridge(bridge: &str) -> Result<(), NftError> {
    for (key, value) in [("disable_ipv6", "0"), ("accept_ra", "0")] {
        let path = std::path::PathBuf::from(format!("/proc/sys/net/ipv6/conf/{bridge}/{key}"));
        std::fs::write(&path, value).map_err(|source| NftError::Sysctl { path, source })?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rs() -> Ruleset6 {
        Ruleset6 {
            table: "rstack_t".into(),
            networks: vec![
                Net6 {
                    bridge: "rs-a".into(),
                    subnet: "fd52:5354:4b00::/64".parse().unwrap(),
                    internal: false,
                },
                Net6 {
                    bridge: "rs-b".into(),
                    subnet: "fd52:5354:4b00:1::/64".parse().unwrap(),
                    internal: true,
                },
            ],
            forwards: vec![Forward6 {
                proto: Proto::Tcp,
                host_ip: None,
                host_port: 8080,
                container_ip: "fd52:5354:4b00::2".parse().unwrap(),
                container_port: 80,
            }],
        }
    }

    #[test]
    fn without_networks_the_table_is_only_removed() {
        let s = render(&Ruleset6 {
            table: "rstack_t".into(),
            ..Ruleset6::default()
        });
        assert_eq!(s, "add table ip6 rstack_t\ndelete table ip6 rstack_t\n");
    }

    #[test]
    fn rules_of_dual_stack_networks() {
        let s = render(&rs());
        for want in [
            "table ip6 rstack_t {",
            "tcp dport 8080 dnat to [fd52:5354:4b00::2]:80",
            "ip6 daddr != ::1 fib daddr type local jump published",
            "ip6 saddr fd52:5354:4b00::/64 oifname != \"rs-a\" masquerade",
            "iifname \"rs-b\" oifname != \"rs-b\" drop",
            "iifname \"rs-a\" oifname { \"rs-b\" } drop",
        ] {
            assert!(s.contains(want), "{want}\n{s}");
        }
        // The internal network is never masqueraded out.
        assert!(!s.contains("fd52:5354:4b00:1::/64 oifname != \"rs-b\" masquerade"));
    }

    #[test]
    fn a_host_address_limits_the_forward() {
        let mut r = rs();
        r.forwards[0].host_ip = Some("fd00::2".parse().unwrap());
        assert!(render(&r).contains("ip6 daddr fd00::2 tcp dport 8080"));
    }
}
