//! The daemon's nftables table: a pure description of what the kernel must do for the
//! networks and published ports ([`Ruleset`]), its rendering as one `nft` script
//! ([`render`]) and the applier ([`apply`], [`remove_table`]) that runs the `nft` binary.
//!
//! The semantics are Docker's with the userland proxy off (forwarding happens in the kernel):
//! - Published ports are DNAT'd for packets to a local address of the host (`fib daddr type
//!   local`): in `prerouting` (from other hosts and from containers, including a container
//!   reaching its own port, "hairpin") and in `output` (from host processes, 127.0.0.1
//!   included; the bridge needs `route_localnet=1`, see [`set_route_localnet`]). A host IP
//!   limits the rule to that destination address.
//! - Masquerade: a non-internal network's subnet leaving by any other interface than its
//!   bridge; a 127.0.0.0/8 source leaving by one of our bridges (the host's loopback reaching a
//!   container through the DNAT: the container could not answer 127.0.0.1); a DNAT'd
//!   connection from a subnet back into its own bridge (hairpin: without it the answer would
//!   go straight over the bridge, bypassing the reverse NAT).
//! - Isolation (`forward`): established/related accept; an internal network exchanges nothing
//!   with any other interface (in either direction); DNAT'd connections accept (a published
//!   port is reachable from every other network, as in Docker); one of our bridges to another
//!   drop; anything else accept.
//! - Choices: the internal-network drop comes before the DNAT accept, so a published port of a
//!   container on an internal network is reachable only from host processes (output path) and
//!   from its own network, never from other hosts nor other networks. With `route_localnet` on,
//!   a container could send to the host's 127.0.0.0/8 services through the bridge; a `raw`
//!   prerouting rule drops any packet to 127.0.0.0/8 arriving on one of our bridges.
//! - Only this table is written (the name is per daemon, so parallel daemons never clash). An
//!   accept here does not override a drop of another table (e.g. a host firewall whose forward
//!   policy is drop): each table's base chains see every packet.

use std::fmt::{self, Write as _};
use std::io::Write as _;
use std::net::Ipv4Addr;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::str::FromStr;

/// The transport of a published port.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Proto {
    Tcp,
    Udp,
}

impl Proto {
    pub fn as_str(self) -> &'static str {
        match self {
            Proto::Tcp => "tcp",
            Proto::Udp => "udp",
        }
    }
}

impl fmt::Display for Proto {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// An IPv4 subnet: an address and a prefix length (`10.88.0.0/24`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Ipv4Net {
    pub addr: Ipv4Addr,
    pub prefix: u8,
}

impl Ipv4Net {
    /// `None` when the prefix is longer than 32.
    pub fn new(addr: Ipv4Addr, prefix: u8) -> Option<Ipv4Net> {
        (prefix <= 32).then_some(Ipv4Net { addr, prefix })
    }

    /// The netmask as a number (`/24` -> 0xffffff00).
    pub fn mask(self) -> u32 {
        match self.prefix {
            0 => 0,
            p => u32::MAX << (32 - u32::from(p.min(32))),
        }
    }

    /// The network's first address (host bits cleared).
    pub fn network(self) -> Ipv4Addr {
        Ipv4Addr::from(u32::from(self.addr) & self.mask())
    }

    pub fn contains(self, ip: Ipv4Addr) -> bool {
        u32::from(ip) & self.mask() == u32::from(self.network())
    }
}

/// Always the network form (`10.88.0.5/24` prints as `10.88.0.0/24`), as nft wants it.
impl fmt::Display for Ipv4Net {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.network(), self.prefix)
    }
}

impl FromStr for Ipv4Net {
    type Err = NftError;

    fn from_str(s: &str) -> Result<Ipv4Net, NftError> {
        let bad = || NftError::Invalid(format!("{s:?} is not an IPv4 subnet like 10.88.0.0/24"));
        let (addr, prefix) = s.split_once('/').ok_or_else(bad)?;
        let addr: Ipv4Addr = addr.parse().map_err(|_| bad())?;
        let prefix: u8 = prefix.parse().map_err(|_| bad())?;
        Ipv4Net::new(addr, prefix).ok_or_else(bad)
    }
}

/// One bridge network of the daemon.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NetRules {
    /// The bridge's interface name.
    pub bridge: String,
    pub subnet: Ipv4Net,
    /// `internal: true`: no traffic in or out except within the bridge, no masquerade.
    pub internal: bool,
}

/// One published port: host `host_ip:host_port` to `container_ip:container_port`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Forward {
    pub proto: Proto,
    /// Only this destination address of the host; `None` (or 0.0.0.0): any local address.
    pub host_ip: Option<Ipv4Addr>,
    pub host_port: u16,
    /// The bridge the container is reached by (kept for the callers' bookkeeping; the kernel
    /// routes by the container's address).
    pub bridge: String,
    pub container_ip: Ipv4Addr,
    pub container_port: u16,
}

/// The whole table: every network and published port of one daemon.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Ruleset {
    /// The table's name (family `ip`), one per daemon: `rstack`, `rstack_<hash>`.
    pub table: String,
    pub networks: Vec<NetRules>,
    pub forwards: Vec<Forward>,
}

/// What went wrong writing the packet rules.
#[derive(Debug, thiserror::Error)]
pub enum NftError {
    #[error("invalid packet rules: {0}")]
    Invalid(String),
    #[error(
        "cannot run {path}: {source}; published ports and network isolation need nftables: \
         install it (apt-get install nftables)"
    )]
    Missing {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("cannot run {path}: {source}")]
    Spawn {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("nft refused the rules of table ip {table}: {stderr}")]
    Rejected { table: String, stderr: String },
    #[error("cannot write {path}: {source} (the daemon must run as root)")]
    Sysctl {
        path: PathBuf,
        source: std::io::Error,
    },
}

/// A table name nft takes unquoted, and that cannot smuggle anything into the script.
fn valid_table(name: &str) -> bool {
    let mut chars = name.chars();
    matches!(chars.next(), Some(c) if c.is_ascii_alphabetic())
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
        && name.len() <= 64
}

/// An interface name of the kernel (at most 15 bytes), restricted to the characters our
/// bridges use so that it is safe inside a quoted nft string and a /proc path.
fn valid_ifname(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 15
        && name != "."
        && name != ".."
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.'))
}

impl Ruleset {
    /// Checks the names that end up in the script; [`apply`] calls it.
    pub fn validate(&self) -> Result<(), NftError> {
        if !valid_table(&self.table) {
            return Err(NftError::Invalid(format!(
                "table name {:?}: use letters, digits and _ (starting with a letter)",
                self.table
            )));
        }
        let bridges = self.networks.iter().map(|n| &n.bridge);
        for name in bridges.chain(self.forwards.iter().map(|f| &f.bridge)) {
            if !valid_ifname(name) {
                return Err(NftError::Invalid(format!(
                    "bridge name {name:?}: at most 15 of letters, digits, _ - ."
                )));
            }
        }
        Ok(())
    }
}

/// `{ "a", "b" }`: an anonymous set of interface names (callers never pass an empty list:
/// nft refuses empty anonymous sets).
pub(super) fn ifname_set<'a>(names: impl Iterator<Item = &'a str>) -> String {
    let quoted: Vec<String> = names.map(|n| format!("\"{n}\"")).collect();
    format!("{{ {} }}", quoted.join(", "))
}

/// The forward chain, the same for both families: internal networks are closed both ways,
/// DNAT'd traffic passes, and no bridge forwards to another (networks are isolated).
pub(super) fn forward_chain<'a>(
    s: &mut String,
    internal: impl Iterator<Item = &'a str>,
    bridges: &[&str],
) {
    s.push_str("\tchain forward {\n\t\ttype filter hook forward priority filter; policy accept;\n");
    s.push_str("\t\tct state established,related accept\n");
    for br in internal {
        let _ = writeln!(s, "\t\tiifname \"{br}\" oifname != \"{br}\" drop");
        let _ = writeln!(s, "\t\tiifname != \"{br}\" oifname \"{br}\" drop");
    }
    s.push_str("\t\tct status dnat accept\n");
    for br in bridges {
        let others: Vec<&str> = bridges.iter().copied().filter(|o| o != br).collect();
        if !others.is_empty() {
            let _ = writeln!(
                s,
                "\t\tiifname \"{br}\" oifname {} drop",
                ifname_set(others.into_iter())
            );
        }
    }
    s.push_str("\t}\n");
}

/// The nft script that replaces the whole table in one transaction: `add` makes sure the
/// table exists so that `delete` cannot fail, and the new definition follows; nft commits
/// the three or nothing, so packets never see a half-written table.
pub fn render(rs: &Ruleset) -> String {
    let t = &rs.table;
    let mut s = String::new();
    // Writing to a String cannot fail: the results are ignored on purpose.
    let _ = writeln!(s, "add table ip {t}");
    let _ = writeln!(s, "delete table ip {t}");
    let _ = writeln!(s, "table ip {t} {{");

    let mut bridges: Vec<&str> = Vec::new();
    for n in &rs.networks {
        if !bridges.contains(&n.bridge.as_str()) {
            bridges.push(&n.bridge);
        }
    }

    // route_localnet lets 127.0.0.0/8 cross the bridges (for the host's loopback DNAT); it
    // must not let a container reach the host's loopback-only services. `raw` runs before
    // conntrack and NAT, so this sees the address the container really sent to.
    s.push_str(
        "\tchain raw_prerouting {\n\t\ttype filter hook prerouting priority raw; policy accept;\n",
    );
    if !bridges.is_empty() {
        let _ = writeln!(
            s,
            "\t\tiifname {} ip daddr 127.0.0.0/8 drop",
            ifname_set(bridges.iter().copied())
        );
    }
    s.push_str("\t}\n");

    // DNAT: both hooks jump to one chain of published ports, for local destinations only.
    s.push_str(
        "\tchain prerouting {\n\t\ttype nat hook prerouting priority dstnat; policy accept;\n",
    );
    s.push_str("\t\tfib daddr type local jump published\n\t}\n");
    s.push_str("\tchain output {\n\t\ttype nat hook output priority -100; policy accept;\n");
    s.push_str("\t\tfib daddr type local jump published\n\t}\n");
    s.push_str("\tchain published {\n");
    for f in &rs.forwards {
        s.push_str("\t\t");
        if let Some(ip) = f.host_ip.filter(|ip| !ip.is_unspecified()) {
            let _ = write!(s, "ip daddr {ip} ");
        }
        let _ = writeln!(
            s,
            "{} dport {} dnat to {}:{}",
            f.proto, f.host_port, f.container_ip, f.container_port
        );
    }
    s.push_str("\t}\n");

    s.push_str(
        "\tchain postrouting {\n\t\ttype nat hook postrouting priority srcnat; policy accept;\n",
    );
    if !bridges.is_empty() {
        let _ = writeln!(
            s,
            "\t\tip saddr 127.0.0.0/8 oifname {} masquerade",
            ifname_set(bridges.iter().copied())
        );
    }
    for n in &rs.networks {
        let (net, br) = (n.subnet, &n.bridge);
        // Hairpin: a container reaching a published port of its own network by a host address.
        let _ = writeln!(
            s,
            "\t\tct status dnat ip saddr {net} oifname \"{br}\" masquerade"
        );
        if !n.internal {
            let _ = writeln!(s, "\t\tip saddr {net} oifname != \"{br}\" masquerade");
        }
    }
    s.push_str("\t}\n");

    let internal = rs
        .networks
        .iter()
        .filter(|n| n.internal)
        .map(|n| n.bridge.as_str());
    forward_chain(&mut s, internal, &bridges);
    s.push_str("}\n");
    s
}

/// The `nft` binary: Debian's path first, then whatever `PATH` finds.
fn nft_path() -> PathBuf {
    ["/usr/sbin/nft", "/sbin/nft", "/usr/bin/nft"]
        .iter()
        .map(Path::new)
        .find(|p| p.exists())
        .map_or_else(|| PathBuf::from("nft"), Path::to_path_buf)
}

/// Runs `nft <args> -f -` with `script` on its stdin.
fn run_nft(check_only: bool, script: &str, table: &str) -> Result<(), NftError> {
    let path = nft_path();
    let mut cmd = Command::new(&path);
    if check_only {
        cmd.arg("-c");
    }
    cmd.args(["-f", "-"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let mut child = cmd.spawn().map_err(|source| {
        if source.kind() == std::io::ErrorKind::NotFound {
            NftError::Missing {
                path: path.clone(),
                source,
            }
        } else {
            NftError::Spawn {
                path: path.clone(),
                source,
            }
        }
    })?;
    // nft reads the whole script before it writes anything, so writing first cannot block on
    // a full stdout pipe; dropping stdin sends the end of file.
    let written = child
        .stdin
        .take()
        .map(|mut stdin| stdin.write_all(script.as_bytes()));
    let out = child.wait_with_output().map_err(|source| NftError::Spawn {
        path: path.clone(),
        source,
    })?;
    if out.status.success() {
        if let Some(Err(source)) = written {
            return Err(NftError::Spawn { path, source });
        }
        return Ok(());
    }
    let mut stderr = String::from_utf8_lossy(&out.stderr).trim().to_string();
    if stderr.is_empty() {
        stderr = format!("nft exited with {}", out.status);
    }
    Err(NftError::Rejected {
        table: table.to_string(),
        stderr,
    })
}

/// Replaces the daemon's table with `rs`, atomically.
pub fn apply(rs: &Ruleset) -> Result<(), NftError> {
    rs.validate()?;
    run_nft(false, &render(rs), &rs.table)
}

/// Replaces the daemon's `ip` and `ip6` tables (`nft6`) with `rs` and `rs6`, in one
/// transaction.
pub fn apply_dual(rs: &Ruleset, rs6: &super::nft6::Ruleset6) -> Result<(), NftError> {
    rs.validate()?;
    if rs6.table != rs.table || rs6.networks.iter().any(|n| !valid_ifname(&n.bridge)) {
        return Err(NftError::Invalid(format!(
            "IPv6 rules of table {:?}: bad table or bridge name",
            rs6.table
        )));
    }
    let script = format!("{}{}", render(rs), super::nft6::render(rs6));
    run_nft(false, &script, &rs.table)
}

/// Asks nft whether it would accept `rs` (`nft -c`: parsed and checked by the kernel, then
/// thrown away), without changing anything.
pub fn check(rs: &Ruleset) -> Result<(), NftError> {
    rs.validate()?;
    run_nft(true, &render(rs), &rs.table)
}

/// Removes the daemon's table; nothing happens when it does not exist.
pub fn remove_table(table: &str) -> Result<(), NftError> {
    if !valid_table(table) {
        return Err(NftError::Invalid(format!("table name {table:?}")));
    }
    // The `ip6` table of dual-stack networks (`nft6`) goes too.
    let script = format!(
        "add table ip {table}\ndelete table ip {table}\nadd table ip6 {table}\ndelete table ip6 {table}\n"
    );
    run_nft(false, &script, table)
}

fn write_sysctl(path: PathBuf) -> Result<(), NftError> {
    std::fs::write(&path, b"1").map_err(|source| NftError::Sysctl { path, source })
}

/// `net.ipv4.ip_forward=1` (in the caller's network namespace): routing between the bridges
/// and the host's other interfaces.
pub fn enable_forwarding() -> Result<(), NftError> {
    write_sysctl(PathBuf::from("/proc/sys/net/ipv4/ip_forward"))
}

/// `route_localnet=1` on a bridge: lets a packet with a 127.0.0.0/8 source (the host's
/// loopback DNAT'd to a container) leave by that bridge; postrouting then masquerades it.
pub fn set_route_localnet(bridge: &str) -> Result<(), NftError> {
    if !valid_ifname(bridge) {
        return Err(NftError::Invalid(format!("bridge name {bridge:?}")));
    }
    write_sysctl(PathBuf::from(format!(
        "/proc/sys/net/ipv4/conf/{bridge}/route_localnet"
    )))
}

#[cfg(test)]
#[path = "nft_tests.rs"]
mod tests;

#[cfg(test)]
#[path = "nft_netns_tests.rs"]
mod netns_tests;
