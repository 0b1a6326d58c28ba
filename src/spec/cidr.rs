//! IPv4 networks (`10.5.0.0/24`) and addresses as written in `ipam.config` and
//! `ipv4_address`: parsed, checked for host bits, compared for containment and overlap.
//! Pure arithmetic on `u32`; the messages are the "what" part of a loader diagnostic.

use std::net::Ipv4Addr;

/// An IPv4 network in canonical form (no host bits set).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Cidr {
    pub addr: u32,
    pub prefix: u8,
}

impl Cidr {
    /// `A.B.C.D/N`, with the host bits clear (as Docker requires: `10.0.0.1/24` is refused
    /// with the network it should be).
    pub fn parse(s: &str) -> Result<Cidr, String> {
        let Some((ip, len)) = s.split_once('/') else {
            return Err(format!(
                "\"{s}\" is not an IPv4 network: expected ADDRESS/PREFIX, e.g. 10.5.0.0/24"
            ));
        };
        let addr = parse_ipv4(ip).ok_or_else(|| {
            format!("\"{s}\" is not an IPv4 network: expected ADDRESS/PREFIX, e.g. 10.5.0.0/24")
        })?;
        let prefix = len
            .parse::<u8>()
            .ok()
            .filter(|p| *p <= 32 && !len.starts_with('+'))
            .ok_or_else(|| format!("\"{s}\": the prefix length must be 0 to 32"))?;
        let c = Cidr { addr, prefix };
        if c.addr & !c.mask() != 0 {
            let canon = Cidr {
                addr: c.addr & c.mask(),
                prefix,
            };
            return Err(format!("\"{s}\" has host bits set: the network is {canon}"));
        }
        Ok(c)
    }

    pub fn mask(self) -> u32 {
        if self.prefix == 0 {
            0
        } else {
            u32::MAX << (32 - u32::from(self.prefix))
        }
    }

    /// The last address of the network (its broadcast address).
    pub fn last(self) -> u32 {
        self.addr | !self.mask()
    }

    pub fn contains(self, ip: u32) -> bool {
        ip & self.mask() == self.addr
    }

    /// Whether `inner` lies entirely inside `self`.
    pub fn covers(self, inner: Cidr) -> bool {
        inner.prefix >= self.prefix && self.contains(inner.addr)
    }

    pub fn overlaps(self, other: Cidr) -> bool {
        self.covers(other) || other.covers(self)
    }
}

impl std::fmt::Display for Cidr {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}/{}", Ipv4Addr::from(self.addr), self.prefix)
    }
}

/// A dotted-quad IPv4 address (no leading `+`, no short forms).
pub fn parse_ipv4(s: &str) -> Option<u32> {
    s.parse::<Ipv4Addr>().ok().map(u32::from)
}

/// Whether `s` is an IPv4 or IPv6 address.
pub fn is_ip(s: &str) -> bool {
    s.parse::<std::net::IpAddr>().is_ok()
}

/// Whether `s` is a MAC address written `aa:bb:cc:dd:ee:ff` (hex digits, either case; `-`
/// separators as Docker accepts them too).
pub fn is_mac(s: &str) -> bool {
    let parts: Vec<&str> = s.split([':', '-']).collect();
    parts.len() == 6
        && parts
            .iter()
            .all(|p| p.len() == 2 && p.chars().all(|c| c.is_ascii_hexdigit()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn networks_parse_and_compare() {
        let a = Cidr::parse("10.5.0.0/16").expect("valid");
        let b = Cidr::parse("10.5.3.0/24").expect("valid");
        let c = Cidr::parse("10.6.0.0/24").expect("valid");
        assert!(a.covers(b) && !b.covers(a));
        assert!(a.overlaps(b) && b.overlaps(a) && !a.overlaps(c));
        assert!(a.contains(parse_ipv4("10.5.255.255").unwrap_or(0)));
        assert_eq!(a.last(), parse_ipv4("10.5.255.255").unwrap_or(0));
        assert_eq!(Cidr::parse("0.0.0.0/0").map(|c| c.mask()), Ok(0));
        assert_eq!(b.to_string(), "10.5.3.0/24");
        let e = Cidr::parse("10.5.0.1/16").expect_err("host bits");
        assert!(e.contains("the network is 10.5.0.0/16"), "{e}");
        for bad in [
            "10.5.0.0",
            "10.5.0/16",
            "10.5.0.0/33",
            "x/8",
            "::1/64",
            "10.0.0.0/+8",
        ] {
            assert!(Cidr::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn addresses() {
        assert!(is_ip("::1") && is_ip("1.2.3.4") && !is_ip("1.2.3") && !is_ip("host"));
        assert!(is_mac("02:42:ac:11:00:02") && is_mac("02-42-AC-11-00-02"));
        assert!(!is_mac("02:42:ac:11:00") && !is_mac("02:42:ac:11:00:0g"));
    }
}
