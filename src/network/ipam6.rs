//! IPv6 addresses of dual-stack networks (`enable_ipv6: true`): which /64 a new network gets
//! (from the configured IPv6 pools, clear of the host's IPv6 routes and of the other
//! networks) and which address a container gets in it. The IPv4 side is `ipam`.

use std::collections::BTreeSet;
use std::fmt;
use std::net::Ipv6Addr;
use std::str::FromStr;

/// An IPv6 subnet: an address and a prefix length (`fd4d:6169:6c63::/64`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Ipv6Net {
    pub addr: Ipv6Addr,
    pub prefix: u8,
}

impl Ipv6Net {
    /// `None` when the prefix is longer than 128.
    pub fn new(addr: Ipv6Addr, prefix: u8) -> Option<Ipv6Net> {
        (prefix <= 128).then_some(Ipv6Net { addr, prefix })
    }

    pub fn mask(self) -> u128 {
        match self.prefix {
            0 => 0,
            p => u128::MAX << (128 - u32::from(p.min(128))),
        }
    }

    /// The network's first address (host bits cleared).
    pub fn network(self) -> Ipv6Addr {
        Ipv6Addr::from(u128::from(self.addr) & self.mask())
    }

    pub fn contains(self, ip: Ipv6Addr) -> bool {
        u128::from(ip) & self.mask() == u128::from(self.network())
    }
}

/// Always the network form, as nft and `ip` print it.
impl fmt::Display for Ipv6Net {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.network(), self.prefix)
    }
}

impl FromStr for Ipv6Net {
    type Err = String;

    fn from_str(s: &str) -> Result<Ipv6Net, String> {
        let bad = || format!("{s:?} is not an IPv6 subnet like fd00:1::/64");
        let (addr, prefix) = s.split_once('/').ok_or_else(bad)?;
        let addr: Ipv6Addr = addr.parse().map_err(|_| bad())?;
        let prefix: u8 = prefix.parse().map_err(|_| bad())?;
        Ipv6Net::new(addr, prefix).ok_or_else(bad)
    }
}

/// A pool new networks' IPv6 subnets are cut from: `base` in blocks of `/size`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Pool6 {
    pub base: Ipv6Net,
    pub size: u8,
}

/// rstack's IPv6 pool when rstack.toml names none: a unique local /48 (RFC 4193) in /64s,
/// 65536 networks; `fd` + 40 bits that spell nothing in particular but stay fixed, so a
/// host's firewall can name it.
pub fn default_pools() -> Vec<Pool6> {
    vec![Pool6 {
        base: Ipv6Net {
            addr: Ipv6Addr::new(0xfd52, 0x5354, 0x4b00, 0, 0, 0, 0, 0),
            prefix: 48,
        },
        size: 64,
    }]
}

/// Whether two subnets share an address.
pub fn overlaps(a: Ipv6Net, b: Ipv6Net) -> bool {
    a.contains(b.network()) || b.contains(a.network())
}

/// The destinations of the host's IPv6 routes (/proc/net/ipv6_route): the default route,
/// link-local, multicast and host routes (/128, the kernel's local table) aside.
pub fn host_routes() -> Vec<Ipv6Net> {
    std::fs::read_to_string("/proc/net/ipv6_route")
        .map(|t| parse_routes(&t))
        .unwrap_or_default()
}

fn parse_routes(text: &str) -> Vec<Ipv6Net> {
    let mut out = Vec::new();
    for line in text.lines() {
        let mut f = line.split_whitespace();
        let (Some(dest), Some(len)) = (f.next(), f.next()) else {
            continue;
        };
        let (Ok(dest), Ok(len)) = (u128::from_str_radix(dest, 16), u8::from_str_radix(len, 16))
        else {
            continue;
        };
        let dest = Ipv6Addr::from(dest);
        if len == 0 || len == 128 || dest.is_multicast() || dest.is_unicast_link_local() {
            continue;
        }
        if let Some(n) = Ipv6Net::new(dest, len)
            && !out.contains(&n)
        {
            out.push(n);
        }
    }
    out
}

/// The first block of the pools that overlaps nothing in `taken`. Only the first 65536
/// blocks of a pool are tried (a /48 in /64s), which is plenty and keeps this bounded.
pub fn choose_subnet(pools: &[Pool6], taken: &[Ipv6Net]) -> Option<Ipv6Net> {
    for pool in pools {
        if pool.size < pool.base.prefix || pool.size > 120 {
            continue;
        }
        let shift = 128 - u32::from(pool.size);
        let bits = u32::from(pool.size - pool.base.prefix).min(16);
        let start = u128::from(pool.base.network());
        for i in 0..(1u128 << bits) {
            let addr = Ipv6Addr::from(start + (i << shift));
            let Some(cand) = Ipv6Net::new(addr, pool.size) else {
                continue;
            };
            if !taken.iter().any(|t| overlaps(*t, cand)) {
                return Some(cand);
            }
        }
    }
    None
}

/// The gateway of a subnet when none is given: its first address after the network's
/// (`::1`), as Docker takes it.
pub fn default_gateway(subnet: Ipv6Net) -> Ipv6Addr {
    Ipv6Addr::from(u128::from(subnet.network()) + 1)
}

/// The first address of `range` (or of the subnet) that is neither the subnet-router
/// anycast address (the network's), the gateway, nor in `used`. At most 65536 addresses
/// are tried: a network has far fewer containers.
pub fn next_free(
    subnet: Ipv6Net,
    range: Option<Ipv6Net>,
    gateway: Ipv6Addr,
    used: &BTreeSet<Ipv6Addr>,
) -> Option<Ipv6Addr> {
    let r = range.unwrap_or(subnet);
    let first = u128::from(r.network());
    let size = !r.mask();
    (0..=size.min(0xffff))
        .map(|i| Ipv6Addr::from(first + i))
        .find(|ip| {
            *ip != subnet.network() && *ip != gateway && subnet.contains(*ip) && !used.contains(ip)
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn net(s: &str) -> Ipv6Net {
        s.parse().unwrap()
    }

    fn ip(s: &str) -> Ipv6Addr {
        s.parse().unwrap()
    }

    #[test]
    fn subnets_parse_and_print_in_network_form() {
        assert_eq!(net("fd00:1::5/64").to_string(), "fd00:1::/64");
        assert!("fd00::/129".parse::<Ipv6Net>().is_err());
        assert!("10.0.0.0/8".parse::<Ipv6Net>().is_err());
        assert!("fd00::".parse::<Ipv6Net>().is_err());
        assert!(net("fd00:1::/64").contains(ip("fd00:1::ffff")));
        assert!(!net("fd00:1::/64").contains(ip("fd00:2::1")));
    }

    #[test]
    fn routes_are_read_from_the_kernels_table() {
        let t = "\
fd000000000000000000000000000000 40 00000000000000000000000000000000 00 00000000000000000000000000000000 00000100 00000001 00000000 00000001     eth0
fe800000000000000000000000000000 40 00000000000000000000000000000000 00 00000000000000000000000000000000 00000100 00000001 00000000 00000001     eth0
00000000000000000000000000000000 00 00000000000000000000000000000000 00 fd000000000000000000000000000001 00000400 00000002 00000000 00000003     eth0
fd000000000000000000000000000002 80 00000000000000000000000000000000 00 00000000000000000000000000000000 00000000 00000004 00000000 80200001     eth0
ff000000000000000000000000000000 08 00000000000000000000000000000000 00 00000000000000000000000000000000 00000100 00000004 00000000 00000001     eth0
";
        assert_eq!(parse_routes(t), vec![net("fd00::/64")]);
    }

    #[test]
    fn subnets_avoid_what_is_taken() {
        let pools = default_pools();
        assert_eq!(choose_subnet(&pools, &[]), Some(net("fd52:5354:4b00::/64")));
        let taken = [net("fd52:5354:4b00::/64"), net("fd52:5354:4b00:1::/80")];
        assert_eq!(
            choose_subnet(&pools, &taken),
            Some(net("fd52:5354:4b00:2::/64"))
        );
        // A route covering the whole pool leaves nothing.
        assert_eq!(choose_subnet(&pools, &[net("fd00::/8")]), None);
        // A bad pool (blocks larger than the base) is skipped.
        let bad = [Pool6 {
            base: net("fd00::/64"),
            size: 48,
        }];
        assert_eq!(choose_subnet(&bad, &[]), None);
    }

    #[test]
    fn addresses_skip_network_gateway_and_used() {
        let s = net("fd00:9::/64");
        let gw = default_gateway(s);
        assert_eq!(gw, ip("fd00:9::1"));
        let mut used = BTreeSet::new();
        assert_eq!(next_free(s, None, gw, &used), Some(ip("fd00:9::2")));
        used.insert(ip("fd00:9::2"));
        assert_eq!(next_free(s, None, gw, &used), Some(ip("fd00:9::3")));
        let small = net("fd00:9::/126");
        used.insert(ip("fd00:9::3"));
        assert_eq!(next_free(small, None, gw, &used), None);
        let range = Some(net("fd00:9::100/120"));
        assert_eq!(next_free(s, range, gw, &used), Some(ip("fd00:9::100")));
    }
}
