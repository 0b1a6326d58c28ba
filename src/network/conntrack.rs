//! Forgets the kernel's connection-tracking entries of published UDP ports when a container
//! starts behind them (ctnetlink, as `conntrack -D -p udp --dport PORT` does).
//!
//! Why: the DNAT of a published port is decided once per connection-tracking entry, at its
//! first packet. A UDP client that keeps sending (a metrics or log shipper, a game client,
//! DNS from a fixed port) keeps its entry alive, so once the container behind the port is
//! replaced by one at another address, its packets still go to the old address, forever;
//! and packets that arrived while no container was behind the port made entries to the
//! host itself. Docker had the same bug and forgets the entries the same way. TCP needs
//! nothing: a new connection is a new entry.
//!
//! Which entries: UDP whose original destination is the published port on the published
//! address, or on any of the host's addresses when the port is published on all of them
//! (where the DNAT applies). Flows of the host or of containers to that port elsewhere are
//! left alone (Docker deletes those too).
//!
//! Layout: the messages are built and read by pure functions (tested without root);
//! [`forget_udp`] does the I/O: a dump of the table per address family, then a delete of
//! each matching entry by its original tuple. The dump is not atomic (a table resized
//! meanwhile may skip or repeat entries: a repeated one is gone already, ENOENT, and a
//! skipped one stays, as before).

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::os::fd::{AsRawFd, OwnedFd};

use crate::runtime::netlink::{attributes, open_socket};

/// Errors of talking to ctnetlink.
#[derive(Debug, thiserror::Error)]
pub enum ConntrackError {
    #[error("connection tracking: {what}: {source}")]
    Io {
        what: &'static str,
        #[source]
        source: std::io::Error,
    },
    #[error("connection tracking: the kernel's answer to {0} is malformed")]
    Malformed(&'static str),
}

const NFNL_SUBSYS_CTNETLINK: u16 = 1;
const IPCTNL_MSG_CT_NEW: u16 = 0;
const IPCTNL_MSG_CT_GET: u16 = 1;
const IPCTNL_MSG_CT_DELETE: u16 = 2;
const NLMSG_ERROR: u16 = 2;
const NLMSG_DONE: u16 = 3;
const NLM_F_REQUEST: u16 = 1;
const NLM_F_ACK: u16 = 4;
const NLM_F_DUMP: u16 = 0x300;
const CTA_TUPLE_ORIG: u16 = 1;
const CTA_ZONE: u16 = 18;
const CTA_TUPLE_IP: u16 = 1;
const CTA_TUPLE_PROTO: u16 = 2;
const CTA_IP_V4_DST: u16 = 2;
const CTA_IP_V6_DST: u16 = 4;
const CTA_PROTO_NUM: u16 = 1;
const CTA_PROTO_DST_PORT: u16 = 3;
const IPPROTO_UDP: u8 = 17;

/// A published UDP port: the host address it is published on (None: every address of the
/// host), and the port.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Target {
    pub addr: Option<IpAddr>,
    pub port: u16,
}

/// One entry of a dump, as much as choosing and deleting it needs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Entry {
    /// The CTA_TUPLE_ORIG attribute as the kernel sent it (header included, unpadded):
    /// a delete names the entry with it.
    orig: Vec<u8>,
    /// The CTA_ZONE attribute, when the entry has one.
    zone: Option<Vec<u8>>,
    proto: Option<u8>,
    dst: Option<IpAddr>,
    dst_port: Option<u16>,
}

/// Which entries go: UDP to a target, on its address or, for a target on every address,
/// on one that `is_local` says is the host's.
pub(crate) struct Matcher<'a> {
    pub targets: &'a [Target],
    pub is_local: &'a dyn Fn(IpAddr) -> bool,
}

impl Matcher<'_> {
    fn matches(&self, e: &Entry) -> bool {
        let (Some(IPPROTO_UDP), Some(dst), Some(port)) = (e.proto, e.dst, e.dst_port) else {
            return false;
        };
        self.targets.iter().any(|t| {
            t.port == port
                && match t.addr {
                    Some(a) => a == dst,
                    None => (self.is_local)(dst),
                }
        })
    }
}

/// What one read of the socket said.
#[derive(Debug, Default, PartialEq, Eq)]
pub(crate) struct Read {
    /// The entries of a dump that matched.
    pub entries: Vec<Entry>,
    /// NLMSG_DONE (a dump) or the ACK (a request) of our sequence number was seen.
    pub done: bool,
    /// The kernel's error for our request (a positive errno).
    pub errno: Option<i32>,
}

fn header(buf: &mut Vec<u8>, kind: u16, flags: u16, seq: u32, family: u8) {
    buf.extend_from_slice(&0u32.to_ne_bytes()); // length, set by `finish`
    buf.extend_from_slice(&((NFNL_SUBSYS_CTNETLINK << 8) | kind).to_ne_bytes());
    buf.extend_from_slice(&flags.to_ne_bytes());
    buf.extend_from_slice(&seq.to_ne_bytes());
    buf.extend_from_slice(&0u32.to_ne_bytes());
    // nfgenmsg: family, version 0, resource id 0.
    buf.extend_from_slice(&[family, 0, 0, 0]);
}

fn finish(mut buf: Vec<u8>) -> Vec<u8> {
    let len = buf.len() as u32;
    buf[..4].copy_from_slice(&len.to_ne_bytes());
    buf
}

fn put_attr(buf: &mut Vec<u8>, attr: &[u8]) {
    buf.extend_from_slice(attr);
    buf.resize(buf.len().next_multiple_of(4), 0);
}

/// A request for every entry of `family` (AF_INET, AF_INET6).
pub(crate) fn dump_request(family: u8, seq: u32) -> Vec<u8> {
    let mut buf = Vec::with_capacity(20);
    header(
        &mut buf,
        IPCTNL_MSG_CT_GET,
        NLM_F_REQUEST | NLM_F_DUMP,
        seq,
        family,
    );
    finish(buf)
}

/// A request that deletes `entry` of `family`, acknowledged. None for an entry without its
/// tuple: a delete without one would empty the whole table.
pub(crate) fn delete_request(family: u8, seq: u32, entry: &Entry) -> Option<Vec<u8>> {
    if entry.orig.len() <= 4 {
        return None;
    }
    let mut buf = Vec::with_capacity(24 + entry.orig.len() + 8);
    header(
        &mut buf,
        IPCTNL_MSG_CT_DELETE,
        NLM_F_REQUEST | NLM_F_ACK,
        seq,
        family,
    );
    put_attr(&mut buf, &entry.orig);
    if let Some(zone) = &entry.zone {
        put_attr(&mut buf, zone);
    }
    Some(finish(buf))
}

/// An entry from the attributes of a CT_NEW message (after its nfgenmsg).
fn entry(body: &[u8]) -> Option<Entry> {
    let mut found = None;
    let mut zone = None;
    for (kind, payload, whole) in attributes(body) {
        match kind {
            CTA_TUPLE_ORIG => found = Some((payload, whole)),
            CTA_ZONE => zone = Some(whole.to_vec()),
            _ => {}
        }
    }
    let (tuple, whole) = found?;
    let mut e = Entry {
        orig: whole.to_vec(),
        zone,
        proto: None,
        dst: None,
        dst_port: None,
    };
    for (kind, payload, _) in attributes(tuple) {
        match kind {
            CTA_TUPLE_IP => {
                for (kind, v, _) in attributes(payload) {
                    match (kind, v.len()) {
                        (CTA_IP_V4_DST, 4) => {
                            e.dst = Some(IpAddr::V4(Ipv4Addr::new(v[0], v[1], v[2], v[3])));
                        }
                        (CTA_IP_V6_DST, 16) => {
                            let mut a = [0u8; 16];
                            a.copy_from_slice(v);
                            e.dst = Some(IpAddr::V6(Ipv6Addr::from(a)));
                        }
                        _ => {}
                    }
                }
            }
            CTA_TUPLE_PROTO => {
                for (kind, v, _) in attributes(payload) {
                    match (kind, v) {
                        (CTA_PROTO_NUM, [p, ..]) => e.proto = Some(*p),
                        (CTA_PROTO_DST_PORT, [a, b, ..]) => {
                            e.dst_port = Some(u16::from_be_bytes([*a, *b]));
                        }
                        _ => {}
                    }
                }
            }
            _ => {}
        }
    }
    Some(e)
}

/// Reads the messages of one datagram: the entries of a dump that `keep` matches, and the
/// end or error of request `seq`. Messages of other sequence numbers are skipped.
pub(crate) fn read(mut buf: &[u8], seq: u32, keep: &Matcher) -> Result<Read, ConntrackError> {
    let mut out = Read::default();
    while buf.len() >= 16 {
        let len = u32::from_ne_bytes([buf[0], buf[1], buf[2], buf[3]]) as usize;
        if len < 16 || len > buf.len() {
            return Err(ConntrackError::Malformed("a dump"));
        }
        let kind = u16::from_ne_bytes([buf[4], buf[5]]);
        let got = u32::from_ne_bytes([buf[8], buf[9], buf[10], buf[11]]);
        let body = &buf[16..len];
        if got == seq {
            match kind {
                // The end of a dump carries its error, if it failed on the way, as an ACK
                // does (negative errno; 0 when complete).
                NLMSG_DONE | NLMSG_ERROR => {
                    out.done = true;
                    if let [a, b, c, d, ..] = *body {
                        let code = i32::from_ne_bytes([a, b, c, d]);
                        if code < 0 {
                            out.errno = Some(code.saturating_neg());
                        }
                    } else if kind == NLMSG_ERROR {
                        return Err(ConntrackError::Malformed("a request"));
                    }
                }
                k if k == (NFNL_SUBSYS_CTNETLINK << 8) | IPCTNL_MSG_CT_NEW && body.len() >= 4 => {
                    out.entries
                        .extend(entry(&body[4..]).filter(|e| keep.matches(e)));
                }
                _ => {}
            }
        }
        buf = &buf[len.next_multiple_of(4).min(buf.len())..];
    }
    Ok(out)
}

struct Socket {
    fd: OwnedFd,
    seq: u32,
}

impl Socket {
    fn open() -> Result<Socket, ConntrackError> {
        let fd = open_socket(libc::NETLINK_NETFILTER).map_err(|source| ConntrackError::Io {
            what: "opening a netfilter netlink socket",
            source,
        })?;
        // The kernel answers at once; should it not, a start waits 2 s, not for ever.
        let timeout = libc::timeval {
            tv_sec: 2,
            tv_usec: 0,
        };
        // SAFETY: setsockopt with a timeval we own and its size.
        let r = unsafe {
            libc::setsockopt(
                fd.as_raw_fd(),
                libc::SOL_SOCKET,
                libc::SO_RCVTIMEO,
                (&timeout as *const libc::timeval).cast(),
                std::mem::size_of::<libc::timeval>() as libc::socklen_t,
            )
        };
        if r != 0 {
            return Err(io("setting a receive timeout"));
        }
        Ok(Socket { fd, seq: 0 })
    }

    /// Sends `msg` (built for `self.seq`) and reads answers until its end; returns the
    /// entries of a dump that `keep` matches.
    fn exchange(
        &mut self,
        what: &'static str,
        msg: &[u8],
        keep: &Matcher,
    ) -> Result<Vec<Entry>, ConntrackError> {
        // SAFETY: send of a buffer we own, with its length.
        let n = unsafe { libc::send(self.fd.as_raw_fd(), msg.as_ptr().cast(), msg.len(), 0) };
        if n < 0 {
            return Err(io(what));
        }
        let mut entries = Vec::new();
        let mut buf = vec![0u8; 64 * 1024];
        loop {
            // SAFETY: recv into a buffer we own, with its length.
            let n =
                unsafe { libc::recv(self.fd.as_raw_fd(), buf.as_mut_ptr().cast(), buf.len(), 0) };
            if n < 0 {
                let e = std::io::Error::last_os_error();
                if e.kind() == std::io::ErrorKind::Interrupted {
                    continue;
                }
                return Err(ConntrackError::Io { what, source: e });
            }
            let got = read(&buf[..n as usize], self.seq, keep)?;
            entries.extend(got.entries);
            if let Some(errno) = got.errno {
                return Err(ConntrackError::Io {
                    what,
                    source: std::io::Error::from_raw_os_error(errno),
                });
            }
            if got.done {
                return Ok(entries);
            }
        }
    }

    fn next_seq(&mut self) -> u32 {
        self.seq = self.seq.wrapping_add(1);
        self.seq
    }
}

fn io(what: &'static str) -> ConntrackError {
    ConntrackError::Io {
        what,
        source: std::io::Error::last_os_error(),
    }
}

/// Deletes the connection-tracking entries of UDP to `targets` (see the module's text), in
/// the calling thread's network namespace; returns how many went. A kernel without
/// connection tracking has nothing to forget.
pub fn forget_udp(targets: &[Target]) -> Result<usize, ConntrackError> {
    if targets.is_empty() {
        return Ok(0);
    }
    let mut socket = match Socket::open() {
        Ok(s) => s,
        Err(ConntrackError::Io { source, .. })
            if source.raw_os_error() == Some(libc::EPROTONOSUPPORT) =>
        {
            return Ok(0);
        }
        Err(e) => return Err(e),
    };
    let local = if targets.iter().any(|t| t.addr.is_none()) {
        host_addresses()?
    } else {
        Vec::new()
    };
    let is_local = |a: IpAddr| a.is_loopback() || local.contains(&a);
    let mut gone = 0;
    for (family, v6) in [(libc::AF_INET as u8, false), (libc::AF_INET6 as u8, true)] {
        let ours: Vec<Target> = targets
            .iter()
            .filter(|t| t.addr.is_none_or(|a| a.is_ipv6() == v6))
            .copied()
            .collect();
        let keep = Matcher {
            targets: &ours,
            is_local: &is_local,
        };
        let seq = socket.next_seq();
        let dump = dump_request(family, seq);
        let entries = match socket.exchange("listing entries", &dump, &keep) {
            Ok(entries) => entries,
            // No connection tracking for this family, or no ctnetlink (nfnetlink answers
            // EINVAL for a subsystem it does not have): nothing to forget.
            Err(ConntrackError::Io { source, .. })
                if matches!(
                    source.raw_os_error(),
                    Some(libc::ENOENT | libc::EOPNOTSUPP | libc::EAFNOSUPPORT | libc::EINVAL)
                ) =>
            {
                continue;
            }
            Err(e) => return Err(e),
        };
        for e in &entries {
            let seq = socket.next_seq();
            let Some(delete) = delete_request(family, seq, e) else {
                continue;
            };
            match socket.exchange("deleting an entry", &delete, &keep) {
                Ok(_) => gone += 1,
                // Expired meanwhile.
                Err(ConntrackError::Io { source, .. })
                    if source.raw_os_error() == Some(libc::ENOENT) => {}
                Err(e) => return Err(e),
            }
        }
    }
    Ok(gone)
}

/// The addresses of the host's interfaces (the calling thread's network namespace).
fn host_addresses() -> Result<Vec<IpAddr>, ConntrackError> {
    let list = nix::ifaddrs::getifaddrs().map_err(|e| ConntrackError::Io {
        what: "listing the host's addresses",
        source: e.into(),
    })?;
    Ok(list
        .filter_map(|ifa| {
            let a = ifa.address?;
            match (a.as_sockaddr_in(), a.as_sockaddr_in6()) {
                (Some(v4), _) => Some(IpAddr::V4(v4.ip())),
                (_, Some(v6)) => Some(IpAddr::V6(v6.ip())),
                _ => None,
            }
        })
        .collect())
}

#[cfg(test)]
#[path = "conntrack_tests.rs"]
mod tests;
