//! Addresses: which subnet a new network gets (from the configured pools, clear of the
//! host's routes and of the other networks) and which address a container gets in it.

use super::nft::Ipv4Net;
use std::collections::BTreeSet;
use std::net::Ipv4Addr;

/// A pool new networks' subnets are cut from: `base` in blocks of `/size`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Pool {
    pub base: Ipv4Net,
    pub size: u8,
}

/// rstack's pool when rstack.toml names none: 256 networks of 254 addresses, in a range
/// Docker's defaults (172.17.0.0/12, 192.168.0.0/16) do not use.
pub fn default_pools() -> Vec<Pool> {
    vec![Pool {
        base: Ipv4Net {
            addr: Ipv4Addr::new(10, 89, 0, 0),
            prefix: 16,
        },
        size: 24,
    }]
}

/// Whether two subnets share an address.
pub fn overlaps(a: Ipv4Net, b: Ipv4Net) -> bool {
    a.contains(b.network()) || b.contains(a.network())
}

/// The destinations of the host's IPv4 routes (/proc/net/route), the default route aside.
pub fn host_routes() -> Vec<Ipv4Net> {
    std::fs::read_to_string("/proc/net/route")
        .map(|t| parse_routes(&t))
        .unwrap_or_default()
}

fn parse_routes(text: &str) -> Vec<Ipv4Net> {
    let mut out = Vec::new();
    for line in text.lines().skip(1) {
        let f: Vec<&str> = line.split_whitespace().collect();
        let (Some(dest), Some(mask)) = (f.get(1), f.get(7)) else {
            continue;
        };
        let (Ok(dest), Ok(mask)) = (u32::from_str_radix(dest, 16), u32::from_str_radix(mask, 16))
        else {
            continue;
        };
        // The kernel prints the big-endian word as a number of the host's byte order.
        let dest = Ipv4Addr::from(dest.to_ne_bytes());
        let prefix = mask.count_ones() as u8;
        if prefix == 0 {
            continue;
        }
        if let Some(n) = Ipv4Net::new(dest, prefix) {
            out.push(n);
        }
    }
    out
}

/// The first block of the pools that overlaps nothing in `taken`.
pub fn choose_subnet(pools: &[Pool], taken: &[Ipv4Net]) -> Option<Ipv4Net> {
    for pool in pools {
        if pool.size < pool.base.prefix || pool.size > 30 {
            continue;
        }
        let step = 1u64 << (32 - pool.size);
        let count = 1u64 << (pool.size - pool.base.prefix);
        let start = u32::from(pool.base.network()) as u64;
        for i in 0..count {
            let addr = Ipv4Addr::from((start + i * step) as u32);
            let Some(cand) = Ipv4Net::new(addr, pool.size) else {
                continue;
            };
            if !taken.iter().any(|t| overlaps(*t, cand)) {
                return Some(cand);
            }
        }
    }
    None
}

/// The gateway of a subnet when none is given: its first address.
pub fn default_gateway(subnet: Ipv4Net) -> Ipv4Addr {
    Ipv4Addr::from(u32::from(subnet.network()) + 1)
}

/// The broadcast address of a subnet.
pub fn broadcast(subnet: Ipv4Net) -> Ipv4Addr {
    Ipv4Addr::from(u32::from(subnet.network()) | !subnet.mask())
}

/// The first address of `range` (or of the subnet) that is neither the network's, its
/// broadcast, the gateway, nor in `used`.
pub fn next_free(
    subnet: Ipv4Net,
    range: Option<Ipv4Net>,
    gateway: Ipv4Addr,
    used: &BTreeSet<Ipv4Addr>,
) -> Option<Ipv4Addr> {
    let r = range.unwrap_or(subnet);
    let first = u32::from(r.network());
    let last = u32::from(broadcast(r));
    (first..=last).map(Ipv4Addr::from).find(|ip| {
        *ip != subnet.network()
            && *ip != broadcast(subnet)
            && *ip != gateway
            && subnet.contains(*ip)
            && !used.contains(ip)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn net(s: &str) -> Ipv4Net {
        s.parse().unwrap()
    }

    #[test]
    fn routes_are_read_from_the_kernels_table() {
        let t = "Iface\tDestination\tGateway \tFlags\tRefCnt\tUse\tMetric\tMask\t\tMTU\tWindow\tIRTT\n\
                 eth0\t00000000\t0100590A\t0003\t0\t0\t0\t00000000\t0\t0\t0\n\
                 eth0\t0000590A\t00000000\t0001\t0\t0\t0\t00FFFFFF\t0\t0\t0\n\
                 docker0\t000011AC\t00000000\t0001\t0\t0\t0\t0000FFFF\t0\t0\t0\n";
        assert_eq!(
            parse_routes(t),
            vec![net("10.89.0.0/24"), net("172.17.0.0/16")]
        );
    }

    #[test]
    fn subnets_avoid_what_is_taken() {
        let pools = default_pools();
        assert_eq!(choose_subnet(&pools, &[]), Some(net("10.89.0.0/24")));
        let taken = [net("10.89.0.0/24"), net("10.89.1.0/25")];
        assert_eq!(choose_subnet(&pools, &taken), Some(net("10.89.2.0/24")));
        // A route covering the whole pool leaves nothing.
        assert_eq!(choose_subnet(&pools, &[net("10.0.0.0/8")]), None);
    }

    #[test]
    fn addresses_skip_network_gateway_broadcast_and_used() {
        let s = net("10.5.0.0/29");
        let gw = default_gateway(s);
        assert_eq!(gw, Ipv4Addr::new(10, 5, 0, 1));
        let mut used = BTreeSet::new();
        assert_eq!(
            next_free(s, None, gw, &used),
            Some(Ipv4Addr::new(10, 5, 0, 2))
        );
        for i in 2..7 {
            used.insert(Ipv4Addr::new(10, 5, 0, i));
        }
        assert_eq!(next_free(s, None, gw, &used), None);
        let range = Some(net("10.5.0.4/30"));
        used.clear();
        assert_eq!(
            next_free(s, range, gw, &used),
            Some(Ipv4Addr::new(10, 5, 0, 4))
        );
    }
}
