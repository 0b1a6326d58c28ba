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
//! Layout: the messages are built and read by pure functions (tested without root);
//! [`forget_udp_ports`] does the I/O: a dump of the table per address family, then a delete
//! of each matching entry by its original tuple.

use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};

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

const NETLINK_NETFILTER: i32 = 12;
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
const CTA_TUPLE_PROTO: u16 = 2;
const CTA_PROTO_NUM: u16 = 1;
const CTA_PROTO_DST_PORT: u16 = 3;
const NLA_TYPE_MASK: u16 = 0x3fff;
const IPPROTO_UDP: u8 = 17;

/// One entry of a dump, as much as a delete needs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Entry {
    /// The CTA_TUPLE_ORIG attribute as the kernel sent it (header included, unpadded):
    /// a delete names the entry with it.
    orig: Vec<u8>,
    /// The CTA_ZONE attribute, when the entry has one.
    zone: Option<Vec<u8>>,
    proto: Option<u8>,
    dst_port: Option<u16>,
}

impl Entry {
    fn is_udp_to(&self, ports: &[u16]) -> bool {
        self.proto == Some(IPPROTO_UDP) && self.dst_port.is_some_and(|p| ports.contains(&p))
    }
}

/// What one read of the socket said.
#[derive(Debug, Default, PartialEq, Eq)]
pub(crate) struct Read {
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

/// A request that deletes `entry` of `family`, acknowledged.
pub(crate) fn delete_request(family: u8, seq: u32, entry: &Entry) -> Vec<u8> {
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
    finish(buf)
}

/// The attributes of `data`: (type without flags, payload, the whole attribute).
fn attrs(mut data: &[u8]) -> impl Iterator<Item = (u16, &[u8], &[u8])> {
    std::iter::from_fn(move || {
        if data.len() < 4 {
            return None;
        }
        let len = u16::from_ne_bytes([data[0], data[1]]) as usize;
        if len < 4 || len > data.len() {
            return None;
        }
        let kind = u16::from_ne_bytes([data[2], data[3]]) & NLA_TYPE_MASK;
        let (whole, payload) = (&data[..len], &data[4..len]);
        data = &data[len.next_multiple_of(4).min(data.len())..];
        Some((kind, payload, whole))
    })
}

/// An entry from the attributes of a CT_NEW message (after its nfgenmsg).
fn entry(body: &[u8]) -> Option<Entry> {
    let mut found = None;
    let mut zone = None;
    for (kind, payload, whole) in attrs(body) {
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
        dst_port: None,
    };
    for (kind, payload, _) in attrs(tuple) {
        if kind != CTA_TUPLE_PROTO {
            continue;
        }
        for (kind, v, _) in attrs(payload) {
            match (kind, v) {
                (CTA_PROTO_NUM, [p, ..]) => e.proto = Some(*p),
                (CTA_PROTO_DST_PORT, [a, b, ..]) => e.dst_port = Some(u16::from_be_bytes([*a, *b])),
                _ => {}
            }
        }
    }
    Some(e)
}

/// Reads the messages of one datagram: entries of a dump, and the end or error of request
/// `seq`. Messages of other sequence numbers are skipped.
pub(crate) fn read(mut buf: &[u8], seq: u32) -> Result<Read, ConntrackError> {
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
                NLMSG_DONE => out.done = true,
                NLMSG_ERROR => {
                    let [a, b, c, d, ..] = *body else {
                        return Err(ConntrackError::Malformed("a request"));
                    };
                    let code = i32::from_ne_bytes([a, b, c, d]);
                    out.done = true;
                    if code != 0 {
                        out.errno = Some(-code);
                    }
                }
                k if k == (NFNL_SUBSYS_CTNETLINK << 8) | IPCTNL_MSG_CT_NEW && body.len() >= 4 => {
                    out.entries.extend(entry(&body[4..]));
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
        // SAFETY: a plain socket(2) call; the descriptor is owned below.
        let fd = unsafe {
            libc::socket(
                libc::AF_NETLINK,
                libc::SOCK_RAW | libc::SOCK_CLOEXEC,
                NETLINK_NETFILTER,
            )
        };
        if fd < 0 {
            return Err(io("opening a netfilter netlink socket"));
        }
        // SAFETY: fd was just returned by socket and is owned by nobody else.
        let fd = unsafe { OwnedFd::from_raw_fd(fd) };
        Ok(Socket { fd, seq: 0 })
    }

    /// Sends `msg` (built for `self.seq`) and reads answers until its end; returns the
    /// entries a dump gave.
    fn exchange(&mut self, what: &'static str, msg: &[u8]) -> Result<Vec<Entry>, ConntrackError> {
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
            let got = read(&buf[..n as usize], self.seq)?;
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

/// Deletes every connection-tracking entry (IPv4 and IPv6) of UDP to one of `ports`, in the
/// calling thread's network namespace; returns how many went. A kernel without connection
/// tracking has nothing to forget.
pub fn forget_udp_ports(ports: &[u16]) -> Result<usize, ConntrackError> {
    if ports.is_empty() {
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
    let mut gone = 0;
    for family in [libc::AF_INET as u8, libc::AF_INET6 as u8] {
        let seq = socket.next_seq();
        let entries = match socket.exchange("listing entries", &dump_request(family, seq)) {
            Ok(entries) => entries,
            // No connection tracking module for this family (or at all): nothing to forget.
            Err(ConntrackError::Io { source, .. })
                if matches!(
                    source.raw_os_error(),
                    Some(libc::ENOENT | libc::EOPNOTSUPP | libc::EAFNOSUPPORT)
                ) =>
            {
                continue;
            }
            Err(e) => return Err(e),
        };
        for e in entries.iter().filter(|e| e.is_udp_to(ports)) {
            let seq = socket.next_seq();
            match socket.exchange("deleting an entry", &delete_request(family, seq, e)) {
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

#[cfg(test)]
#[path = "conntrack_tests.rs"]
mod tests;
