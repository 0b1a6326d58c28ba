//! IPv6 entries of `ipam.config` (`subnet: fd00:1::/64`, `ip_range`, `gateway`) and a
//! service's `ipv6_address`: parsed and checked as Docker does (a subnet without host bits, a
//! range and a gateway inside it). Kept as written in the model; the daemon uses the first
//! IPv6 entry for a network with `enable_ipv6: true`.

use super::value::Cx;
use super::yaml::Node;
use crate::model::IpamConfig;
use std::net::Ipv6Addr;

/// `ADDR/PREFIX` with the host bits clear: the network's first address as a number, and
/// the prefix length.
pub fn parse_net(s: &str) -> Result<(u128, u8), String> {
    let bad =
        || format!("\"{s}\" is not an IPv6 network: expected ADDRESS/PREFIX, e.g. fd00:1::/64");
    let (ip, len) = s.split_once('/').ok_or_else(bad)?;
    let addr = u128::from(ip.parse::<Ipv6Addr>().map_err(|_| bad())?);
    let prefix = len
        .parse::<u8>()
        .ok()
        .filter(|p| *p <= 128 && !len.starts_with('+'))
        .ok_or_else(|| format!("\"{s}\": the prefix length must be 0 to 128"))?;
    let mask = mask(prefix);
    if addr & !mask != 0 {
        return Err(format!(
            "\"{s}\" has host bits set: write the network, {}/{prefix}",
            Ipv6Addr::from(addr & mask)
        ));
    }
    Ok((addr, prefix))
}

fn mask(prefix: u8) -> u128 {
    match prefix {
        0 => 0,
        p => u128::MAX << (128 - u32::from(p.min(128))),
    }
}

fn contains((net, prefix): (u128, u8), ip: u128) -> bool {
    ip & mask(prefix) == net
}

/// One IPv6 `ipam.config` entry (its subnet has a `:`); `fields` are the entry's keys.
pub fn config(cx: &mut Cx<'_>, p: &str, fields: &[(String, &Node, &Node)]) -> Option<IpamConfig> {
    let mut c = IpamConfig::default();
    let mut ok = true;
    let mut subnet = None;
    if let Some((_, _, fv)) = fields.iter().find(|(k, _, _)| k == "subnet") {
        let kp = format!("{p}.subnet");
        let s = cx.string(&kp, fv)?;
        match parse_net(&s) {
            Ok(n) => {
                subnet = Some(n);
                c.subnet = Some(s);
            }
            Err(e) => {
                cx.error(fv.span, format!("{kp}: {e}"));
                ok = false;
            }
        }
    }
    for (k, fk, fv) in fields {
        let kp = format!("{p}.{k}");
        match k.as_str() {
            "ip_range" => {
                let s = cx.string(&kp, fv)?;
                match (parse_net(&s), subnet) {
                    (Err(e), _) => {
                        cx.error(fv.span, format!("{kp}: {e}"));
                        ok = false;
                    }
                    (Ok((r, rp)), Some(n)) if rp < n.1 || !contains(n, r) => {
                        cx.error(fv.span, format!("{kp}: {s} is not inside the subnet"));
                        ok = false;
                    }
                    _ => c.ip_range = Some(s),
                }
            }
            "gateway" => {
                let s = cx.string(&kp, fv)?;
                match (s.parse::<Ipv6Addr>(), subnet) {
                    (Err(_), _) => {
                        cx.error(fv.span, format!("{kp}: \"{s}\" is not an IPv6 address"));
                        ok = false;
                    }
                    (Ok(g), Some(n)) if !contains(n, u128::from(g)) || u128::from(g) == n.0 => {
                        cx.error(
                            fv.span,
                            format!("{kp}: {s} is not a usable address of the subnet"),
                        );
                        ok = false;
                    }
                    _ => c.gateway = Some(s),
                }
            }
            "aux_addresses" => cx.warn(fk.span, format!("{kp}: ignored")),
            _ => {}
        }
    }
    ok.then_some(c)
}

/// A service's `ipv6_address`: an IPv6 address, or an error at its place.
pub fn address(cx: &mut Cx<'_>, p: &str, v: &Node) -> Option<String> {
    let s = cx.string(p, v)?;
    if s.parse::<Ipv6Addr>().is_err() {
        cx.error(v.span, format!("{p}: \"{s}\" is not an IPv6 address"));
        return None;
    }
    Some(s)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn networks_parse_without_host_bits() {
        assert_eq!(parse_net("fd00:1::/64").map(|n| n.1), Ok(64));
        assert!(
            parse_net("fd00:1::5/64")
                .unwrap_err()
                .contains("fd00:1::/64")
        );
        assert!(parse_net("fd00::/129").is_err());
        assert!(parse_net("10.0.0.0/8").is_err());
        let n = parse_net("fd00:1::/64").unwrap();
        assert!(contains(
            n,
            u128::from("fd00:1::9".parse::<Ipv6Addr>().unwrap())
        ));
        assert!(!contains(
            n,
            u128::from("fd00:2::9".parse::<Ipv6Addr>().unwrap())
        ));
    }
}
