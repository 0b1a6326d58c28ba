//! Host ports held for published ports, the way Docker does without its userland proxy: the
//! daemon binds a socket on the host address and port (TCP: bound, never listening; UDP:
//! bound) and keeps it while the port is published. Nothing else can take the port meanwhile,
//! a port already taken is found at once with its holder named, and the kernel's DNAT (see
//! `nft`) forwards the traffic, which never reaches the held socket.

use std::net::Ipv4Addr;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};

pub use super::nft::Proto;

#[path = "ports_holder.rs"]
mod holder;

/// A host port held by a bound socket; dropping it frees the port.
#[derive(Debug)]
pub struct Reservation {
    _fd: OwnedFd,
    ip: Ipv4Addr,
    port: u16,
    proto: Proto,
}

impl Reservation {
    /// The held port (the kernel's choice when none was asked for).
    pub fn port(&self) -> u16 {
        self.port
    }

    /// The address it is held on (0.0.0.0: every address of the host).
    pub fn ip(&self) -> Ipv4Addr {
        self.ip
    }

    pub fn proto(&self) -> Proto {
        self.proto
    }
}

/// Why a host port could not be reserved.
#[derive(Debug, thiserror::Error)]
pub enum PortError {
    #[error(
        "host port {ip}:{port}/{proto} is already in use{}: stop it or publish another host port",
        holder.as_ref().map(|h| format!(" by {h}")).unwrap_or_default()
    )]
    InUse {
        ip: Ipv4Addr,
        port: u16,
        proto: Proto,
        /// `pid 1234 (nginx)` when it could be found.
        holder: Option<String>,
    },
    #[error(
        "no free host port in {start}-{end}/{proto} on {ip}: all are in use; free one or \
         publish another range"
    )]
    RangeInUse {
        ip: Ipv4Addr,
        start: u16,
        end: u16,
        proto: Proto,
    },
    #[error("host port range {start}-{end}: use FROM-TO with 1 <= FROM <= TO <= 65535")]
    BadRange { start: u16, end: u16 },
    #[error("cannot reserve host port {ip}:{port}/{proto}: {source}")]
    Bind {
        ip: Ipv4Addr,
        port: u16,
        proto: Proto,
        source: std::io::Error,
    },
}

/// Holds a port on `host_ip` (0.0.0.0 when `None`): the first free one of `range` (inclusive),
/// or one the kernel picks from its ephemeral range when `range` is `None`.
pub fn reserve(
    host_ip: Option<Ipv4Addr>,
    range: Option<(u16, u16)>,
    proto: Proto,
) -> Result<Reservation, PortError> {
    let ip = host_ip.unwrap_or(Ipv4Addr::UNSPECIFIED);
    let Some((start, end)) = range else {
        return bind(ip, 0, proto).map_err(|source| PortError::Bind {
            ip,
            port: 0,
            proto,
            source,
        });
    };
    if start == 0 || start > end {
        return Err(PortError::BadRange { start, end });
    }
    for port in start..=end {
        match bind(ip, port, proto) {
            Ok(r) => return Ok(r),
            Err(e) if e.raw_os_error() == Some(libc::EADDRINUSE) => continue,
            Err(source) => {
                return Err(PortError::Bind {
                    ip,
                    port,
                    proto,
                    source,
                });
            }
        }
    }
    if start == end {
        return Err(PortError::InUse {
            ip,
            port: start,
            proto,
            holder: holder::find(ip, start, proto),
        });
    }
    Err(PortError::RangeInUse {
        ip,
        start,
        end,
        proto,
    })
}

/// One socket bound to `ip:port`, close-on-exec so shims and containers never inherit it.
/// SO_REUSEADDR stays off: with it on, two sockets that only bind (ours and another
/// daemon's, say) could share a port.
fn bind(ip: Ipv4Addr, port: u16, proto: Proto) -> std::io::Result<Reservation> {
    let ty = match proto {
        Proto::Tcp => libc::SOCK_STREAM,
        Proto::Udp => libc::SOCK_DGRAM,
    };
    // SAFETY: socket has no memory preconditions; the result is checked before use.
    let raw = unsafe { libc::socket(libc::AF_INET, ty | libc::SOCK_CLOEXEC, 0) };
    if raw < 0 {
        return Err(std::io::Error::last_os_error());
    }
    // SAFETY: raw is a fresh descriptor owned by nothing else.
    let fd = unsafe { OwnedFd::from_raw_fd(raw) };
    let addr = libc::sockaddr_in {
        sin_family: libc::AF_INET as libc::sa_family_t,
        sin_port: port.to_be(),
        sin_addr: libc::in_addr {
            s_addr: u32::from(ip).to_be(),
        },
        sin_zero: [0; 8],
    };
    // SAFETY: addr is a valid sockaddr_in and the length given is its size.
    let rc = unsafe {
        libc::bind(
            fd.as_raw_fd(),
            (&raw const addr).cast(),
            std::mem::size_of::<libc::sockaddr_in>() as libc::socklen_t,
        )
    };
    if rc != 0 {
        return Err(std::io::Error::last_os_error());
    }
    let port = if port == 0 { local_port(&fd)? } else { port };
    Ok(Reservation {
        _fd: fd,
        ip,
        port,
        proto,
    })
}

/// The port the kernel bound the socket to.
fn local_port(fd: &OwnedFd) -> std::io::Result<u16> {
    // SAFETY: sockaddr_in is plain data; all zeroes is a valid value.
    let mut addr: libc::sockaddr_in = unsafe { std::mem::zeroed() };
    let mut len = std::mem::size_of::<libc::sockaddr_in>() as libc::socklen_t;
    // SAFETY: addr and len are valid for writes and len holds addr's size.
    let rc = unsafe { libc::getsockname(fd.as_raw_fd(), (&raw mut addr).cast(), &mut len) };
    if rc != 0 {
        return Err(std::io::Error::last_os_error());
    }
    Ok(u16::from_be(addr.sin_port))
}

#[cfg(test)]
#[path = "ports_tests.rs"]
mod tests;
