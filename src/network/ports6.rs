//! Host ports held on IPv6 addresses for the published ports of dual-stack networks, as
//! `ports` holds them on IPv4: a bound socket (never listening, `IPV6_V6ONLY` so that it
//! holds the IPv6 port only) kept while the port is published.

use super::nft::Proto;
use std::net::Ipv6Addr;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};

/// An IPv6 host port held by a bound socket; dropping it frees the port.
#[derive(Debug)]
pub struct Reservation6 {
    _fd: OwnedFd,
    pub port: u16,
}

/// Holds `[ip]:port` (`::` for every address): the first free port of `range`, or one the
/// kernel picks when `range` is `None`. The error names the port.
pub fn reserve(
    ip: Ipv6Addr,
    range: Option<(u16, u16)>,
    proto: Proto,
) -> Result<Reservation6, String> {
    let (start, end) = range.unwrap_or((0, 0));
    if start > end || (range.is_some() && start == 0) {
        return Err(format!(
            "host port range {start}-{end}: use FROM-TO with 1 <= FROM <= TO <= 65535"
        ));
    }
    for port in start..=end {
        match bind(ip, port, proto) {
            Ok(r) => return Ok(r),
            Err(e) if e.raw_os_error() == Some(libc::EADDRINUSE) => continue,
            Err(e) => {
                return Err(format!(
                    "cannot reserve host port [{ip}]:{port}/{proto}: {e}"
                ));
            }
        }
    }
    Err(format!(
        "host port [{ip}]:{start}{}/{proto} is already in use: stop it or publish another host port",
        if start == end {
            String::new()
        } else {
            format!("-{end}")
        }
    ))
}

fn bind(ip: Ipv6Addr, port: u16, proto: Proto) -> std::io::Result<Reservation6> {
    let ty = match proto {
        Proto::Tcp => libc::SOCK_STREAM,
        Proto::Udp => libc::SOCK_DGRAM,
    };
    // SAFETY: socket has no memory preconditions; the result is checked before use.
    let raw = unsafe { libc::socket(libc::AF_INET6, ty | libc::SOCK_CLOEXEC, 0) };
    if raw < 0 {
        return Err(std::io::Error::last_os_error());
    }
    // SAFETY: raw is a fresh descriptor owned by nothing else.
    let fd = unsafe { OwnedFd::from_raw_fd(raw) };
    let one: libc::c_int = 1;
    // SAFETY: a c_int option value of its size, on a socket we own.
    let rc = unsafe {
        libc::setsockopt(
            fd.as_raw_fd(),
            libc::IPPROTO_IPV6,
            libc::IPV6_V6ONLY,
            (&raw const one).cast(),
            std::mem::size_of::<libc::c_int>() as libc::socklen_t,
        )
    };
    if rc != 0 {
        return Err(std::io::Error::last_os_error());
    }
    // SAFETY: sockaddr_in6 is plain data; all zeroes is a valid value.
    let mut addr: libc::sockaddr_in6 = unsafe { std::mem::zeroed() };
    addr.sin6_family = libc::AF_INET6 as libc::sa_family_t;
    addr.sin6_port = port.to_be();
    addr.sin6_addr.s6_addr = ip.octets();
    let len = std::mem::size_of::<libc::sockaddr_in6>() as libc::socklen_t;
    // SAFETY: addr is a valid sockaddr_in6 and len is its size.
    if unsafe { libc::bind(fd.as_raw_fd(), (&raw const addr).cast(), len) } != 0 {
        return Err(std::io::Error::last_os_error());
    }
    // SAFETY: sockaddr_in6 is plain data; all zeroes is a valid value.
    let mut got: libc::sockaddr_in6 = unsafe { std::mem::zeroed() };
    let mut got_len = len;
    // SAFETY: got and got_len are valid for writes and got_len holds got's size.
    if unsafe { libc::getsockname(fd.as_raw_fd(), (&raw mut got).cast(), &mut got_len) } != 0 {
        return Err(std::io::Error::last_os_error());
    }
    Ok(Reservation6 {
        _fd: fd,
        port: u16::from_be(got.sin6_port),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_held_port_is_refused_to_the_next_one() {
        // Loopback only: nothing outside the host is involved.
        let Ok(a) = reserve(Ipv6Addr::LOCALHOST, None, Proto::Tcp) else {
            return; // no IPv6 on this host
        };
        assert_ne!(a.port, 0);
        let e = reserve(Ipv6Addr::LOCALHOST, Some((a.port, a.port)), Proto::Tcp).unwrap_err();
        assert!(e.contains("already in use"), "{e}");
        drop(a);
    }
}
