//! A small synchronous rtnetlink client: the handful of requests rstack makes (a bridge, a
//! veth pair whose one end goes into a container's namespace, an address, a default route,
//! a link up or deleted), each sent with an ACK and its error returned.
//!
//! Synchronous on purpose: the shim, which configures a container's interfaces, is
//! single-threaded and has no async runtime, and every request here is answered in
//! microseconds. A socket works in the network namespace it was opened in, which is how the
//! shim reaches both the host's namespace and the container's (`ContainerNet`).

use std::net::Ipv4Addr;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};

#[derive(Debug, thiserror::Error)]
pub enum NetlinkError {
    #[error("netlink {op}: {source}")]
    Sys {
        op: String,
        #[source]
        source: std::io::Error,
    },
    #[error("netlink {0}: malformed answer")]
    Malformed(String),
}

type Result<T> = std::result::Result<T, NetlinkError>;

fn sys(op: impl Into<String>, source: std::io::Error) -> NetlinkError {
    NetlinkError::Sys {
        op: op.into(),
        source,
    }
}

impl NetlinkError {
    /// The errno the kernel answered with, if any.
    pub fn errno(&self) -> Option<i32> {
        match self {
            NetlinkError::Sys { source, .. } => source.raw_os_error(),
            NetlinkError::Malformed(_) => None,
        }
    }
}

// Message types and flags (linux/rtnetlink.h, linux/netlink.h).
const RTM_NEWLINK: u16 = 16;
const RTM_DELLINK: u16 = 17;
const RTM_GETLINK: u16 = 18;
const RTM_SETLINK: u16 = 19;
const RTM_NEWADDR: u16 = 20;
const RTM_NEWROUTE: u16 = 24;
const NLMSG_ERROR: u16 = 2;
const NLM_F_REQUEST: u16 = 0x1;
const NLM_F_ACK: u16 = 0x4;
const NLM_F_EXCL: u16 = 0x200;
const NLM_F_CREATE: u16 = 0x400;
// Attributes (linux/if_link.h, linux/if_addr.h, linux/rtnetlink.h, linux/veth.h).
const IFLA_ADDRESS: u16 = 1;
const IFLA_IFNAME: u16 = 3;
const IFLA_MASTER: u16 = 10;
const IFLA_PROTINFO: u16 = 12;
const IFLA_BRPORT_MODE: u16 = 4;
const IFLA_LINKINFO: u16 = 18;
const IFLA_NET_NS_FD: u16 = 28;
const IFLA_INFO_KIND: u16 = 1;
const IFLA_INFO_DATA: u16 = 2;
const VETH_INFO_PEER: u16 = 1;
const IFA_ADDRESS: u16 = 1;
const IFA_LOCAL: u16 = 2;
const RTA_GATEWAY: u16 = 5;
const NLA_F_NESTED: u16 = 0x8000;
const IFF_UP: u32 = 0x1;

/// One request under construction: the header, a fixed part, then attributes.
struct Msg {
    buf: Vec<u8>,
    /// Start offsets of the nested attributes still open.
    nests: Vec<usize>,
}

impl Msg {
    fn new(kind: u16, flags: u16) -> Msg {
        let mut buf = Vec::with_capacity(256);
        buf.extend_from_slice(&0u32.to_ne_bytes()); // length, set in `finish`
        buf.extend_from_slice(&kind.to_ne_bytes());
        buf.extend_from_slice(&(flags | NLM_F_REQUEST | NLM_F_ACK).to_ne_bytes());
        buf.extend_from_slice(&0u32.to_ne_bytes()); // sequence, set in `finish`
        buf.extend_from_slice(&0u32.to_ne_bytes()); // port id: the kernel's
        Msg {
            buf,
            nests: Vec::new(),
        }
    }

    /// `struct ifinfomsg`.
    fn ifinfo(&mut self, index: i32, flags: u32, change: u32) {
        self.buf.push(libc::AF_UNSPEC as u8);
        self.buf.push(0);
        self.buf.extend_from_slice(&0u16.to_ne_bytes());
        self.buf.extend_from_slice(&index.to_ne_bytes());
        self.buf.extend_from_slice(&flags.to_ne_bytes());
        self.buf.extend_from_slice(&change.to_ne_bytes());
    }

    fn attr(&mut self, kind: u16, data: &[u8]) {
        let len = 4 + data.len();
        self.buf.extend_from_slice(&(len as u16).to_ne_bytes());
        self.buf.extend_from_slice(&kind.to_ne_bytes());
        self.buf.extend_from_slice(data);
        self.pad();
    }

    fn attr_str(&mut self, kind: u16, s: &str) {
        let mut v = s.as_bytes().to_vec();
        v.push(0);
        self.attr(kind, &v);
    }

    fn attr_u32(&mut self, kind: u16, v: u32) {
        self.attr(kind, &v.to_ne_bytes());
    }

    fn begin(&mut self, kind: u16) {
        self.nests.push(self.buf.len());
        self.buf.extend_from_slice(&0u16.to_ne_bytes());
        self.buf
            .extend_from_slice(&(kind | NLA_F_NESTED).to_ne_bytes());
    }

    fn end(&mut self) {
        if let Some(start) = self.nests.pop() {
            let len = (self.buf.len() - start) as u16;
            self.buf[start..start + 2].copy_from_slice(&len.to_ne_bytes());
        }
    }

    fn pad(&mut self) {
        while !self.buf.len().is_multiple_of(4) {
            self.buf.push(0);
        }
    }

    fn finish(mut self, seq: u32) -> Vec<u8> {
        let len = self.buf.len() as u32;
        self.buf[0..4].copy_from_slice(&len.to_ne_bytes());
        self.buf[8..12].copy_from_slice(&seq.to_ne_bytes());
        self.buf
    }
}

/// A NETLINK_ROUTE socket, bound to the network namespace it was opened in.
pub struct Netlink {
    fd: OwnedFd,
    seq: u32,
}

impl Netlink {
    /// Opens a socket in the calling thread's network namespace.
    pub fn open() -> Result<Netlink> {
        // SAFETY: plain socket call; on success we own the descriptor.
        let fd = unsafe {
            libc::socket(
                libc::AF_NETLINK,
                libc::SOCK_RAW | libc::SOCK_CLOEXEC,
                libc::NETLINK_ROUTE,
            )
        };
        if fd < 0 {
            return Err(sys("socket", std::io::Error::last_os_error()));
        }
        // SAFETY: fd was just returned by socket and is owned by nobody else.
        let fd = unsafe { OwnedFd::from_raw_fd(fd) };
        Ok(Netlink { fd, seq: 0 })
    }

    /// Sends one request and waits for its ACK; the kernel's error becomes ours.
    fn call(&mut self, op: &str, msg: Msg) -> Result<()> {
        self.call_for_index(op, msg).map(|_| ())
    }

    /// `call`, returning the index of the link a RTM_NEWLINK answer before the ACK names
    /// (the answer to RTM_GETLINK).
    fn call_for_index(&mut self, op: &str, msg: Msg) -> Result<Option<u32>> {
        let mut found = None;
        self.seq = self.seq.wrapping_add(1);
        let seq = self.seq;
        let bytes = msg.finish(seq);
        // SAFETY: send of a buffer we own, with its length.
        let n = unsafe { libc::send(self.fd.as_raw_fd(), bytes.as_ptr().cast(), bytes.len(), 0) };
        if n < 0 {
            return Err(sys(op, std::io::Error::last_os_error()));
        }
        let mut answer = [0u8; 8192];
        loop {
            // SAFETY: recv into a buffer we own, with its length.
            let n = unsafe {
                libc::recv(
                    self.fd.as_raw_fd(),
                    answer.as_mut_ptr().cast(),
                    answer.len(),
                    0,
                )
            };
            if n < 0 {
                let e = std::io::Error::last_os_error();
                if e.kind() == std::io::ErrorKind::Interrupted {
                    continue;
                }
                return Err(sys(op, e));
            }
            let mut rest = &answer[..n as usize];
            while rest.len() >= 16 {
                let len = u32::from_ne_bytes([rest[0], rest[1], rest[2], rest[3]]) as usize;
                let kind = u16::from_ne_bytes([rest[4], rest[5]]);
                let got = u32::from_ne_bytes([rest[8], rest[9], rest[10], rest[11]]);
                if len < 16 || len > rest.len() {
                    return Err(NetlinkError::Malformed(op.to_string()));
                }
                if kind == NLMSG_ERROR && got == seq {
                    if len < 20 {
                        return Err(NetlinkError::Malformed(op.to_string()));
                    }
                    let code = i32::from_ne_bytes([rest[16], rest[17], rest[18], rest[19]]);
                    return match code {
                        0 => Ok(found),
                        c => Err(sys(op, std::io::Error::from_raw_os_error(-c))),
                    };
                }
                if kind == RTM_NEWLINK && got == seq && len >= 24 {
                    found = Some(u32::from_ne_bytes([rest[20], rest[21], rest[22], rest[23]]));
                }
                let step = ((len + 3) & !3).min(rest.len());
                rest = &rest[step..];
            }
        }
    }

    /// Creates a bridge, up, with `gateway/prefix` as its address. An existing bridge of
    /// that name is reused (and given the address if it lacks it).
    pub fn add_bridge(&mut self, name: &str, gateway: Ipv4Addr, prefix: u8) -> Result<u32> {
        let mut m = Msg::new(RTM_NEWLINK, NLM_F_CREATE | NLM_F_EXCL);
        m.ifinfo(0, IFF_UP, IFF_UP);
        m.attr_str(IFLA_IFNAME, name);
        m.begin(IFLA_LINKINFO);
        m.attr_str(IFLA_INFO_KIND, "bridge");
        m.end();
        match self.call(&format!("creating bridge {name}"), m) {
            Ok(()) => {}
            Err(e) if e.errno() == Some(libc::EEXIST) => {}
            Err(e) => return Err(e),
        }
        let index = link_index(name)?;
        self.set_up(index, name)?;
        match self.add_address(index, gateway, prefix) {
            Err(e) if e.errno() != Some(libc::EEXIST) => Err(e),
            _ => Ok(index),
        }
    }

    /// Creates a veth pair: `host` here, enslaved to the bridge `master` and up; `peer` in
    /// the namespace `peer_ns` (a /proc/PID/ns/net descriptor), down, with `peer_mac`.
    pub fn add_veth(
        &mut self,
        host: &str,
        master: u32,
        peer: &str,
        peer_ns: RawFd,
        peer_mac: [u8; 6],
    ) -> Result<()> {
        self.new_veth(host, Some(master), peer, peer_ns, Some(peer_mac))
    }

    /// The index of a link of this socket's namespace.
    pub fn index_of(&mut self, name: &str) -> Result<u32> {
        let mut m = Msg::new(RTM_GETLINK, 0);
        m.ifinfo(0, 0, 0);
        m.attr_str(IFLA_IFNAME, name);
        let op = format!("looking up {name}");
        self.call_for_index(&op, m)?
            .ok_or(NetlinkError::Malformed(op))
    }

    /// Turns on hairpin mode on a bridge port: a frame may leave by the port it came in on,
    /// which a container reaching its own published port through the host address needs
    /// (the DNAT sends it back into the same port), as Docker sets it.
    pub fn set_hairpin(&mut self, index: u32, name: &str) -> Result<()> {
        let mut m = Msg::new(RTM_SETLINK, 0);
        m.buf.push(libc::AF_BRIDGE as u8);
        m.buf.push(0);
        m.buf.extend_from_slice(&0u16.to_ne_bytes());
        m.buf.extend_from_slice(&(index as i32).to_ne_bytes());
        m.buf.extend_from_slice(&0u32.to_ne_bytes());
        m.buf.extend_from_slice(&0u32.to_ne_bytes());
        m.begin(IFLA_PROTINFO);
        m.attr(IFLA_BRPORT_MODE, &[1]);
        m.end();
        self.call(&format!("hairpin mode on {name}"), m)
    }

    /// Creates a veth pair ahead of its use, both ends down: `host` here, detached; `peer`
    /// in the namespace `peer_ns`. Returns the host end's index.
    pub fn add_spare_veth(&mut self, host: &str, peer: &str, peer_ns: RawFd) -> Result<u32> {
        self.new_veth(host, None, peer, peer_ns, None)?;
        self.index_of(host)
    }

    /// A veth pair: `host` here (up and enslaved to `master` when one is given, else down),
    /// `peer` in the namespace `peer_ns`, down, with `peer_mac` if given.
    fn new_veth(
        &mut self,
        host: &str,
        master: Option<u32>,
        peer: &str,
        peer_ns: RawFd,
        peer_mac: Option<[u8; 6]>,
    ) -> Result<()> {
        let mut m = Msg::new(RTM_NEWLINK, NLM_F_CREATE | NLM_F_EXCL);
        match master {
            Some(master) => {
                m.ifinfo(0, IFF_UP, IFF_UP);
                m.attr_str(IFLA_IFNAME, host);
                m.attr_u32(IFLA_MASTER, master);
            }
            None => {
                m.ifinfo(0, 0, 0);
                m.attr_str(IFLA_IFNAME, host);
            }
        }
        m.begin(IFLA_LINKINFO);
        m.attr_str(IFLA_INFO_KIND, "veth");
        m.begin(IFLA_INFO_DATA);
        m.begin(VETH_INFO_PEER);
        // The peer's attributes follow its own ifinfomsg. It cannot be brought up here: it is
        // made first, and a veth whose peer does not exist yet refuses to open (ENOTCONN).
        m.ifinfo(0, 0, 0);
        m.attr_str(IFLA_IFNAME, peer);
        if let Some(mac) = peer_mac {
            m.attr(IFLA_ADDRESS, &mac);
        }
        m.attr_u32(IFLA_NET_NS_FD, peer_ns as u32);
        m.end();
        m.end();
        m.end();
        self.call(&format!("creating veth {host}"), m)
    }

    /// Enslaves a link to the bridge `master` and brings it up, in one request.
    pub fn set_master_up(&mut self, index: u32, master: u32, name: &str) -> Result<()> {
        let mut m = Msg::new(RTM_NEWLINK, 0);
        m.ifinfo(index as i32, IFF_UP, IFF_UP);
        m.attr_u32(IFLA_MASTER, master);
        self.call(&format!("attaching {name} to its bridge"), m)
    }

    /// Sets a link's MAC address and brings it up, in one request.
    pub fn set_mac_up(&mut self, index: u32, mac: [u8; 6], name: &str) -> Result<()> {
        let mut m = Msg::new(RTM_NEWLINK, 0);
        m.ifinfo(index as i32, IFF_UP, IFF_UP);
        m.attr(IFLA_ADDRESS, &mac);
        self.call(&format!("setting {name} up"), m)
    }

    /// Brings a link up.
    pub fn set_up(&mut self, index: u32, name: &str) -> Result<()> {
        let mut m = Msg::new(RTM_NEWLINK, 0);
        m.ifinfo(index as i32, IFF_UP, IFF_UP);
        self.call(&format!("setting {name} up"), m)
    }

    /// Adds `addr/prefix` to a link.
    pub fn add_address(&mut self, index: u32, addr: Ipv4Addr, prefix: u8) -> Result<()> {
        let mut m = Msg::new(RTM_NEWADDR, NLM_F_CREATE | NLM_F_EXCL);
        m.buf.push(libc::AF_INET as u8);
        m.buf.push(prefix);
        m.buf.push(0); // flags
        m.buf.push(0); // scope: universe
        m.buf.extend_from_slice(&index.to_ne_bytes());
        m.attr(IFA_LOCAL, &addr.octets());
        m.attr(IFA_ADDRESS, &addr.octets());
        self.call(&format!("adding address {addr}/{prefix}"), m)
    }

    /// Adds the default route through `gateway`.
    pub fn add_default_route(&mut self, gateway: Ipv4Addr) -> Result<()> {
        let mut m = Msg::new(RTM_NEWROUTE, NLM_F_CREATE | NLM_F_EXCL);
        m.buf.push(libc::AF_INET as u8);
        m.buf.push(0); // dst_len: the default route
        m.buf.push(0); // src_len
        m.buf.push(0); // tos
        m.buf.push(libc::RT_TABLE_MAIN);
        m.buf.push(libc::RTPROT_BOOT);
        m.buf.push(libc::RT_SCOPE_UNIVERSE);
        m.buf.push(libc::RTN_UNICAST);
        m.buf.extend_from_slice(&0u32.to_ne_bytes());
        m.attr(RTA_GATEWAY, &gateway.octets());
        self.call(&format!("adding the default route via {gateway}"), m)
    }

    /// Deletes a link by name; a missing one is not an error.
    pub fn delete_link(&mut self, name: &str) -> Result<()> {
        let mut m = Msg::new(RTM_DELLINK, 0);
        m.ifinfo(0, 0, 0);
        m.attr_str(IFLA_IFNAME, name);
        match self.call(&format!("deleting {name}"), m) {
            Err(e) if e.errno() == Some(libc::ENODEV) => Ok(()),
            r => r,
        }
    }
}

/// The index of a link of the calling thread's network namespace.
pub fn link_index(name: &str) -> Result<u32> {
    let c = std::ffi::CString::new(name).map_err(|_| {
        sys(
            format!("looking up {name}"),
            std::io::ErrorKind::InvalidInput.into(),
        )
    })?;
    // SAFETY: if_nametoindex reads a NUL-terminated string we own.
    match unsafe { libc::if_nametoindex(c.as_ptr()) } {
        0 => Err(sys(
            format!("looking up {name}"),
            std::io::Error::last_os_error(),
        )),
        i => Ok(i),
    }
}

/// Whether a link of that name exists in the calling thread's network namespace.
pub fn link_exists(name: &str) -> bool {
    link_index(name).is_ok()
}

/// Docker's MAC address for an IPv4 address: 02:42 then the address's four bytes. A
/// container that gets the address again gets the same MAC, so its neighbours' ARP caches
/// stay right across a recreate.
pub fn mac_for(addr: Ipv4Addr) -> [u8; 6] {
    let o = addr.octets();
    [0x02, 0x42, o[0], o[1], o[2], o[3]]
}

/// Parses `aa:bb:cc:dd:ee:ff`.
pub fn parse_mac(s: &str) -> Option<[u8; 6]> {
    let mut out = [0u8; 6];
    let mut parts = s.split(':');
    for b in out.iter_mut() {
        let p = parts.next()?;
        if p.len() != 2 {
            return None;
        }
        *b = u8::from_str_radix(p, 16).ok()?;
    }
    parts.next().is_none().then_some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn messages_are_laid_out_as_the_kernel_reads_them() {
        let mut m = Msg::new(RTM_NEWLINK, NLM_F_CREATE);
        m.ifinfo(0, IFF_UP, IFF_UP);
        m.attr_str(IFLA_IFNAME, "br0");
        m.begin(IFLA_LINKINFO);
        m.attr_str(IFLA_INFO_KIND, "bridge");
        m.end();
        let b = m.finish(7);
        assert_eq!(
            u32::from_ne_bytes(b[0..4].try_into().unwrap()) as usize,
            b.len()
        );
        assert_eq!(u32::from_ne_bytes(b[8..12].try_into().unwrap()), 7);
        // header 16 + ifinfomsg 16 + "br0\0" attr 8 + linkinfo (4 + "bridge\0" 12) = 56
        assert_eq!(b.len(), 56);
        assert_eq!(u16::from_ne_bytes(b[40..42].try_into().unwrap()), 16);
        assert_eq!(
            u16::from_ne_bytes(b[42..44].try_into().unwrap()),
            IFLA_LINKINFO | NLA_F_NESTED
        );
    }

    #[test]
    fn macs() {
        assert_eq!(mac_for(Ipv4Addr::new(10, 1, 2, 3)), [2, 0x42, 10, 1, 2, 3]);
        assert_eq!(
            parse_mac("02:42:ac:11:00:02"),
            Some([2, 0x42, 0xac, 0x11, 0, 2])
        );
        assert_eq!(parse_mac("02:42:ac:11:00"), None);
        assert_eq!(parse_mac("02:42:ac:11:00:02:03"), None);
        assert_eq!(parse_mac("zz:42:ac:11:00:02"), None);
    }
}
