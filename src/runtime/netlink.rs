//! A small synchronous rtnetlink client: the handful of requests rstack makes (a bridge, a
//! veth pair whose one end goes into a container's namespace, an address, a default route,
//! a link up or deleted), each sent with an ACK and its error returned.
//!
//! Synchronous on purpose: the shim, which configures a container's interfaces, is
//! single-threaded and has no async runtime, and every request here is answered in
//! microseconds. A socket works in the network namespace it was opened in, which is how the
//! shim reaches both the host's namespace and the container's (`ContainerNet`).

use std::net::{Ipv4Addr, Ipv6Addr};
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
const IFLA_AF_SPEC: u16 = 26;
const IFLA_INET6_ADDR_GEN_MODE: u16 = 8;
const IFLA_INFO_KIND: u16 = 1;
const IFLA_INFO_DATA: u16 = 2;
const VETH_INFO_PEER: u16 = 1;
const IFA_ADDRESS: u16 = 1;
const IFA_LOCAL: u16 = 2;
const RTA_GATEWAY: u16 = 5;
const NLA_F_NESTED: u16 = 0x8000;
const IFF_UP: u32 = 0x1;

/// How the kernel makes a link's IPv6 link-local address when the link comes up
/// (`IFLA_INET6_ADDR_GEN_MODE`, linux/if_link.h).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AddrGenMode {
    /// The kernel's default: fe80::/64 from the MAC, then duplicate address detection.
    Eui64 = 0,
    /// No address at all: no link-local address, no DAD, no `addrconf` work on the link.
    None = 1,
}

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
        let fd = open_socket(libc::NETLINK_ROUTE).map_err(|e| sys("socket", e))?;
        Ok(Netlink { fd, seq: 0 })
    }

    /// Sends one request and waits for its ACK; the kernel's error becomes ours.
    fn call(&mut self, op: &str, msg: Msg) -> Result<()> {
        self.call_for_index(op, msg).map(|_| ())
    }

    /// `call`, returning the index of the link a RTM_NEWLINK answer before the ACK names
    /// (the answer to RTM_GETLINK).
    fn call_for_index(&mut self, op: &str, msg: Msg) -> Result<Option<u32>> {
        Ok(self.call_for_link(op, msg)?.map(|l| l.index))
    }

    /// `call`, returning the link a RTM_NEWLINK answer before the ACK describes.
    fn call_for_link(&mut self, op: &str, msg: Msg) -> Result<Option<LinkInfo>> {
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
                if kind == RTM_NEWLINK && got == seq && len >= 32 {
                    found = Some(LinkInfo::parse(&rest[16..len]));
                }
                let step = ((len + 3) & !3).min(rest.len());
                rest = &rest[step..];
            }
        }
    }

    /// Sends several requests in one `send` and reads their ACKs together (`recvmmsg`): one round trip
    /// instead of one per request (the kernel handles them in order, as if sent one by one).
    /// Returns the first error, in the requests' order.
    fn call_batch(&mut self, msgs: Vec<(String, Msg)>) -> Result<()> {
        let first = self.seq.wrapping_add(1);
        let mut bytes = Vec::new();
        let mut ops = Vec::with_capacity(msgs.len());
        for (op, msg) in msgs {
            self.seq = self.seq.wrapping_add(1);
            bytes.extend_from_slice(&msg.finish(self.seq));
            ops.push(op);
        }
        let Some(op0) = ops.first().cloned() else {
            return Ok(());
        };
        // SAFETY: send of a buffer we own, with its length.
        let n = unsafe { libc::send(self.fd.as_raw_fd(), bytes.as_ptr().cast(), bytes.len(), 0) };
        if n < 0 {
            return Err(sys(op0, std::io::Error::last_os_error()));
        }
        // One answer per request, by sequence number.
        let mut codes: Vec<Option<i32>> = vec![None; ops.len()];
        // Each ACK is a datagram of its own: recvmmsg takes all that are queued (they all
        // are, once the kernel has handled the batch inside `send`) in one call.
        const SLOTS: usize = 4;
        let mut bufs = [[0u8; 4096]; SLOTS];
        while codes.iter().any(Option::is_none) {
            let mut iov: Vec<libc::iovec> = bufs
                .iter_mut()
                .map(|b| libc::iovec {
                    iov_base: b.as_mut_ptr().cast(),
                    iov_len: b.len(),
                })
                .collect();
            // SAFETY: zeroed msghdrs are valid (no name, no control data).
            let mut hdrs: Vec<libc::mmsghdr> =
                (0..SLOTS).map(|_| unsafe { std::mem::zeroed() }).collect();
            for (h, v) in hdrs.iter_mut().zip(iov.iter_mut()) {
                h.msg_hdr.msg_iov = v;
                h.msg_hdr.msg_iovlen = 1;
            }
            // SAFETY: every header points at one iovec over a buffer we own, which outlive
            // the call; MSG_WAITFORONE blocks only until the first datagram.
            let got = unsafe {
                libc::recvmmsg(
                    self.fd.as_raw_fd(),
                    hdrs.as_mut_ptr(),
                    SLOTS as libc::c_uint,
                    libc::MSG_WAITFORONE as _,
                    std::ptr::null_mut(),
                )
            };
            if got < 0 {
                let e = std::io::Error::last_os_error();
                if e.kind() == std::io::ErrorKind::Interrupted {
                    continue;
                }
                return Err(sys(op0, e));
            }
            let lens: Vec<usize> = hdrs[..got as usize]
                .iter()
                .map(|h| h.msg_len as usize)
                .collect();
            for (buf, n) in bufs.iter().zip(lens) {
                let mut rest = &buf[..n.min(buf.len())];
                while rest.len() >= 16 {
                    let len = u32::from_ne_bytes([rest[0], rest[1], rest[2], rest[3]]) as usize;
                    let kind = u16::from_ne_bytes([rest[4], rest[5]]);
                    let got = u32::from_ne_bytes([rest[8], rest[9], rest[10], rest[11]]);
                    if len < 16 || len > rest.len() {
                        return Err(NetlinkError::Malformed(op0));
                    }
                    let i = got.wrapping_sub(first) as usize;
                    if kind == NLMSG_ERROR && i < codes.len() {
                        if len < 20 {
                            return Err(NetlinkError::Malformed(ops[i].clone()));
                        }
                        codes[i] =
                            Some(i32::from_ne_bytes([rest[16], rest[17], rest[18], rest[19]]));
                    }
                    let step = ((len + 3) & !3).min(rest.len());
                    rest = &rest[step..];
                }
            }
        }
        match codes.iter().zip(ops).find(|(c, _)| **c != Some(0)) {
            Some((Some(c), op)) => Err(sys(op, std::io::Error::from_raw_os_error(-c))),
            _ => Ok(()),
        }
    }

    /// Creates a bridge, up, with `gateway/prefix` as its address. An existing bridge of
    /// that name is reused (and given the address if it lacks it).
    pub fn add_bridge(&mut self, name: &str, gateway: Ipv4Addr, prefix: u8) -> Result<u32> {
        // A bridge whose address nobody set takes the lowest of its ports' addresses, and
        // changes it whenever a port with a lower one comes or the lowest goes (a container
        // starting or stopping, a spare veth moved to another bridge). Containers keep the
        // gateway's old address in their neighbour caches for half a minute or more, and
        // their packets to the gateway (DNS, published ports, the outside) go nowhere until
        // then. A set address stays: the gateway's own, like containers' (`mac_for`).
        let mut m = Msg::new(RTM_NEWLINK, NLM_F_CREATE | NLM_F_EXCL);
        m.ifinfo(0, IFF_UP, IFF_UP);
        m.attr_str(IFLA_IFNAME, name);
        m.attr(IFLA_ADDRESS, &mac_for(gateway));
        m.begin(IFLA_LINKINFO);
        m.attr_str(IFLA_INFO_KIND, "bridge");
        m.end();
        let made = match self.call(&format!("creating bridge {name}"), m) {
            Ok(()) => true,
            Err(e) if e.errno() == Some(libc::EEXIST) => false,
            Err(e) => return Err(e),
        };
        let index = link_index(name)?;
        if made {
            self.set_up(index, name)?;
        } else {
            // Found (a crashed daemon's, or one made before addresses were set): its current
            // address, which its containers know, is set, so that from now on it stays. A
            // bridge whose last port left has 00:00:00:00:00:00, which no container knows
            // and the kernel may refuse: it gets ours. One that has ours is left alone
            // (setting an address empties the host's neighbour cache on it).
            let mine = mac_for(gateway);
            let set = match self.address_of(name)? {
                Some(mac) if mac == mine => None,
                Some(mac) if is_unicast(mac) => Some(mac),
                _ => Some(mine),
            };
            let mut m = Msg::new(RTM_NEWLINK, 0);
            m.ifinfo(index as i32, IFF_UP, IFF_UP);
            if let Some(mac) = set {
                m.attr(IFLA_ADDRESS, &mac);
            }
            self.call(&format!("setting {name} up"), m)?;
        }
        match self.add_address(index, gateway, prefix) {
            Err(e) if e.errno() != Some(libc::EEXIST) => Err(e),
            _ => Ok(index),
        }
    }

    /// Creates a veth pair, both ends down: `host` here, detached; `peer` in the namespace
    /// `peer_ns` (a /proc/PID/ns/net descriptor), with `peer_mac`. Returns the host end's
    /// index. `set_master_up_hairpin` then attaches it, as for a pair made ahead: the host
    /// end's IPv6 mode can only be set between the two (the kernel refuses
    /// `IFLA_AF_SPEC` in the request that creates a link).
    pub fn add_veth(
        &mut self,
        host: &str,
        peer: &str,
        peer_ns: RawFd,
        peer_mac: [u8; 6],
    ) -> Result<u32> {
        self.new_veth(host, peer, peer_ns, Some(peer_mac))?;
        self.index_of(host)
    }

    /// Sets a link's IPv6 address generation mode (`AddrGenMode`); a link still down then
    /// comes up with that mode.
    pub fn set_addr_gen_mode(&mut self, index: u32, name: &str, mode: AddrGenMode) -> Result<()> {
        self.call(
            &format!("IPv6 address mode of {name}"),
            addr_gen_mode_msg(index, mode),
        )
    }

    /// The hardware address of a link of this socket's namespace (None: it has none).
    pub fn address_of(&mut self, name: &str) -> Result<Option<[u8; 6]>> {
        let mut m = Msg::new(RTM_GETLINK, 0);
        m.ifinfo(0, 0, 0);
        m.attr_str(IFLA_IFNAME, name);
        let op = format!("looking up {name}");
        let link = self
            .call_for_link(&op, m)?
            .ok_or(NetlinkError::Malformed(op))?;
        Ok(link.address)
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
        self.call(&format!("hairpin mode on {name}"), hairpin_msg(index))
    }

    /// Creates a veth pair ahead of its use, both ends down: `host` here, detached; `peer`
    /// in the namespace `peer_ns`. Returns the host end's index.
    pub fn add_spare_veth(&mut self, host: &str, peer: &str, peer_ns: RawFd) -> Result<u32> {
        self.new_veth(host, peer, peer_ns, None)?;
        self.index_of(host)
    }

    /// A veth pair, both ends down: `host` here, on no bridge, `peer` in the namespace
    /// `peer_ns`, with `peer_mac` if given.
    fn new_veth(
        &mut self,
        host: &str,
        peer: &str,
        peer_ns: RawFd,
        peer_mac: Option<[u8; 6]>,
    ) -> Result<()> {
        let mut m = Msg::new(RTM_NEWLINK, NLM_F_CREATE | NLM_F_EXCL);
        m.ifinfo(0, 0, 0);
        m.attr_str(IFLA_IFNAME, host);
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

    /// Enslaves a link made ahead to the bridge `master`, brings it up and turns on hairpin
    /// mode (`set_hairpin`): two requests in one round trip, four with `mode`, which sets
    /// the IPv6 address mode (`AddrGenMode`) first, with the link down (a spare's may be up
    /// on another bridge already): the mode takes effect when it comes up.
    pub fn set_master_up_hairpin(
        &mut self,
        index: u32,
        master: u32,
        name: &str,
        mode: Option<AddrGenMode>,
    ) -> Result<()> {
        let mut m = Msg::new(RTM_NEWLINK, 0);
        m.ifinfo(index as i32, IFF_UP, IFF_UP);
        m.attr_u32(IFLA_MASTER, master);
        let mut msgs = Vec::with_capacity(4);
        if let Some(mode) = mode {
            msgs.push((format!("setting {name} down"), down_msg(index)));
            msgs.push((
                format!("IPv6 address mode of {name}"),
                addr_gen_mode_msg(index, mode),
            ));
        }
        msgs.push((format!("attaching {name} to its bridge"), m));
        msgs.push((format!("hairpin mode on {name}"), hairpin_msg(index)));
        self.call_batch(msgs)
    }

    /// A container's side of its interface, in one round trip: its IPv6 address mode when
    /// `mode` is given (down first: a spare may have brought it up), its MAC address and up
    /// (a veth changes its MAC while up), its address
    /// `addr/prefix`, and the default route through `gateway` when one is given.
    pub fn configure_inner(
        &mut self,
        index: u32,
        name: &str,
        mac: [u8; 6],
        (addr, prefix): (Ipv4Addr, u8),
        gateway: Option<Ipv4Addr>,
        mode: Option<AddrGenMode>,
    ) -> Result<()> {
        let mut m = Msg::new(RTM_NEWLINK, 0);
        m.ifinfo(index as i32, IFF_UP, IFF_UP);
        m.attr(IFLA_ADDRESS, &mac);
        let mut msgs = Vec::with_capacity(5);
        if let Some(mode) = mode {
            msgs.push((format!("setting {name} down"), down_msg(index)));
            msgs.push((
                format!("IPv6 address mode of {name}"),
                addr_gen_mode_msg(index, mode),
            ));
        }
        msgs.extend([
            (format!("setting {name} up"), m),
            (
                format!("adding address {addr}/{prefix}"),
                address_msg(index, addr, prefix),
            ),
        ]);
        if let Some(gw) = gateway {
            msgs.push((
                format!("adding the default route via {gw}"),
                default_route_msg(gw),
            ));
        }
        self.call_batch(msgs)
    }

    /// A container's IPv6 side on a dual-stack network, in one round trip: its address
    /// (without duplicate address detection: the daemon's lease is the only owner, and DAD
    /// would keep it unusable for a second) and the IPv6 default route via `gateway`.
    pub fn configure_inner6(
        &mut self,
        index: u32,
        (addr, prefix): (Ipv6Addr, u8),
        gateway: Option<Ipv6Addr>,
    ) -> Result<()> {
        let mut msgs = vec![(
            format!("adding address {addr}/{prefix}"),
            address6_msg(index, addr, prefix),
        )];
        if let Some(gw) = gateway {
            msgs.push((
                format!("adding the IPv6 default route via {gw}"),
                default_route6_msg(gw),
            ));
        }
        self.call_batch(msgs)
    }

    /// Adds the IPv6 `addr/prefix` to a link (no DAD, see `configure_inner6`); an address it
    /// already has is no error.
    pub fn add_address6(&mut self, index: u32, addr: Ipv6Addr, prefix: u8) -> Result<()> {
        match self.call(
            &format!("adding address {addr}/{prefix}"),
            address6_msg(index, addr, prefix),
        ) {
            Err(e) if e.errno() == Some(libc::EEXIST) => Ok(()),
            r => r,
        }
    }

    /// Brings a link up.
    pub fn set_up(&mut self, index: u32, name: &str) -> Result<()> {
        let mut m = Msg::new(RTM_NEWLINK, 0);
        m.ifinfo(index as i32, IFF_UP, IFF_UP);
        self.call(&format!("setting {name} up"), m)
    }

    /// Adds `addr/prefix` to a link.
    pub fn add_address(&mut self, index: u32, addr: Ipv4Addr, prefix: u8) -> Result<()> {
        self.call(
            &format!("adding address {addr}/{prefix}"),
            address_msg(index, addr, prefix),
        )
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

/// Hairpin mode on the bridge port `index` (see `Netlink::set_hairpin`).
fn hairpin_msg(index: u32) -> Msg {
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
    m
}

/// Takes the link `index` down.
fn down_msg(index: u32) -> Msg {
    let mut m = Msg::new(RTM_NEWLINK, 0);
    m.ifinfo(index as i32, 0, IFF_UP);
    m
}

/// The IPv6 address generation mode of the link `index`: `IFLA_AF_SPEC` { `AF_INET6` {
/// `IFLA_INET6_ADDR_GEN_MODE` (u8) } }.
fn addr_gen_mode_msg(index: u32, mode: AddrGenMode) -> Msg {
    let mut m = Msg::new(RTM_NEWLINK, 0);
    m.ifinfo(index as i32, 0, 0);
    m.begin(IFLA_AF_SPEC);
    m.begin(libc::AF_INET6 as u16);
    m.attr(IFLA_INET6_ADDR_GEN_MODE, &[mode as u8]);
    m.end();
    m.end();
    m
}

/// `addr/prefix` on the link `index`.
fn address_msg(index: u32, addr: Ipv4Addr, prefix: u8) -> Msg {
    let mut m = Msg::new(RTM_NEWADDR, NLM_F_CREATE | NLM_F_EXCL);
    m.buf.push(libc::AF_INET as u8);
    m.buf.push(prefix);
    m.buf.push(0); // flags
    m.buf.push(0); // scope: universe
    m.buf.extend_from_slice(&index.to_ne_bytes());
    m.attr(IFA_LOCAL, &addr.octets());
    m.attr(IFA_ADDRESS, &addr.octets());
    m
}

/// IPv6 `addr/prefix` on the link `index`, without duplicate address detection.
fn address6_msg(index: u32, addr: Ipv6Addr, prefix: u8) -> Msg {
    const IFA_F_NODAD: u8 = 0x02;
    let mut m = Msg::new(RTM_NEWADDR, NLM_F_CREATE | NLM_F_EXCL);
    m.buf.push(libc::AF_INET6 as u8);
    m.buf.push(prefix);
    m.buf.push(IFA_F_NODAD);
    m.buf.push(0); // scope: universe
    m.buf.extend_from_slice(&index.to_ne_bytes());
    m.attr(IFA_LOCAL, &addr.octets());
    m.attr(IFA_ADDRESS, &addr.octets());
    m
}

/// The IPv6 default route through `gateway`.
fn default_route6_msg(gateway: Ipv6Addr) -> Msg {
    let mut m = Msg::new(RTM_NEWROUTE, NLM_F_CREATE | NLM_F_EXCL);
    m.buf.push(libc::AF_INET6 as u8);
    m.buf.push(0); // dst_len: the default route
    m.buf.push(0); // src_len
    m.buf.push(0); // tos
    m.buf.push(libc::RT_TABLE_MAIN);
    m.buf.push(libc::RTPROT_BOOT);
    m.buf.push(libc::RT_SCOPE_UNIVERSE);
    m.buf.push(libc::RTN_UNICAST);
    m.buf.extend_from_slice(&0u32.to_ne_bytes());
    m.attr(RTA_GATEWAY, &gateway.octets());
    m
}

/// The default route through `gateway`.
fn default_route_msg(gateway: Ipv4Addr) -> Msg {
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
    m
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

/// What an RTM_NEWLINK message says of a link (the parts rstack reads).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct LinkInfo {
    index: u32,
    /// IFLA_ADDRESS, when it is an Ethernet address.
    address: Option<[u8; 6]>,
}

impl LinkInfo {
    /// `body`: the message after its 16-byte header (an ifinfomsg, then attributes); at
    /// least the ifinfomsg's 16 bytes.
    fn parse(body: &[u8]) -> LinkInfo {
        let index = u32::from_ne_bytes([body[4], body[5], body[6], body[7]]);
        let address = attributes(&body[16..])
            .filter(|(kind, _, _)| *kind == IFLA_ADDRESS)
            .find_map(|(_, mac, _)| mac.try_into().ok());
        LinkInfo { index, address }
    }
}

/// A netlink socket of `protocol` (NETLINK_ROUTE, NETLINK_NETFILTER...) in the calling
/// thread's network namespace.
pub(crate) fn open_socket(protocol: i32) -> std::io::Result<OwnedFd> {
    // SAFETY: plain socket call; on success we own the descriptor.
    let fd = unsafe {
        libc::socket(
            libc::AF_NETLINK,
            libc::SOCK_RAW | libc::SOCK_CLOEXEC,
            protocol,
        )
    };
    if fd < 0 {
        return Err(std::io::Error::last_os_error());
    }
    // SAFETY: fd was just returned by socket and is owned by nobody else.
    Ok(unsafe { OwnedFd::from_raw_fd(fd) })
}

/// The netlink attributes in `data`, in order: (type without the nested and byte-order
/// flags, payload, the whole attribute unpadded). Stops at the first one whose length does
/// not fit, so no input can make it read out of bounds.
pub(crate) fn attributes(mut data: &[u8]) -> impl Iterator<Item = (u16, &[u8], &[u8])> {
    std::iter::from_fn(move || {
        let [l0, l1, k0, k1, ..] = *data else {
            return None;
        };
        let len = u16::from_ne_bytes([l0, l1]) as usize;
        if len < 4 || len > data.len() {
            return None;
        }
        let kind = u16::from_ne_bytes([k0, k1]) & 0x3fff;
        let (whole, payload) = (&data[..len], &data[4..len]);
        data = &data[len.next_multiple_of(4).min(data.len())..];
        Some((kind, payload, whole))
    })
}

/// Whether `mac` is a valid unicast Ethernet address (not zero, not multicast), as a link
/// may be given.
fn is_unicast(mac: [u8; 6]) -> bool {
    mac != [0; 6] && mac[0] & 1 == 0
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

    /// A batch reports the first request that failed, by its own name, after reading every
    /// answer (the socket is left clean for the next request).
    #[test]
    fn a_batch_reports_its_first_failure() {
        if !nix::unistd::geteuid().is_root() {
            crate::testutil::skip("a_batch_reports_its_first_failure", "needs root");
            return;
        }
        std::thread::spawn(|| {
            nix::sched::unshare(nix::sched::CloneFlags::CLONE_NEWNET).expect("unshare");
            let mut nl = Netlink::open().expect("netlink");
            let lo = link_index("lo").expect("lo");
            // No link 9999: the first request fails, and so do the others.
            let e = nl
                .configure_inner(
                    9999,
                    "nothing",
                    [2, 0x42, 10, 0, 0, 2],
                    (Ipv4Addr::new(10, 0, 0, 2), 24),
                    Some(Ipv4Addr::new(10, 0, 0, 1)),
                    None,
                )
                .expect_err("no such link");
            assert!(e.to_string().contains("setting nothing up"), "{e}");
            assert_eq!(e.errno(), Some(libc::ENODEV));
            // The socket still works, and a batch whose requests all succeed returns Ok.
            nl.set_up(lo, "lo").expect("lo up");
            let m = {
                let mut m = Msg::new(RTM_NEWLINK, 0);
                m.ifinfo(lo as i32, IFF_UP, IFF_UP);
                m
            };
            nl.call_batch(vec![
                ("lo up".into(), m),
                (
                    "address".into(),
                    address_msg(lo, Ipv4Addr::new(10, 7, 0, 1), 8),
                ),
                (
                    "route".into(),
                    default_route_msg(Ipv4Addr::new(10, 7, 0, 2)),
                ),
            ])
            .expect("batch");
            // The same address again: only the second request fails.
            let again = nl
                .call_batch(vec![
                    ("lo up".into(), {
                        let mut m = Msg::new(RTM_NEWLINK, 0);
                        m.ifinfo(lo as i32, IFF_UP, IFF_UP);
                        m
                    }),
                    (
                        "address again".into(),
                        address_msg(lo, Ipv4Addr::new(10, 7, 0, 1), 8),
                    ),
                ])
                .expect_err("exists");
            assert!(again.to_string().contains("address again"), "{again}");
            assert_eq!(again.errno(), Some(libc::EEXIST));
        })
        .join()
        .expect("test thread");
    }

    /// A bridge's address is the gateway's and stays when ports with lower addresses come
    /// and go; one found without a set address (a crashed daemon's, an older release's)
    /// keeps the address it has and holds it from then on. With the kernel's choice, a
    /// container's neighbour cache pointed at an address the gateway no longer had.
    #[test]
    fn a_bridge_keeps_its_address_as_ports_come_and_go() {
        if !nix::unistd::geteuid().is_root() {
            crate::testutil::skip(
                "a_bridge_keeps_its_address_as_ports_come_and_go",
                "needs root",
            );
            return;
        }
        std::thread::spawn(|| {
            nix::sched::unshare(nix::sched::CloneFlags::CLONE_NEWNET).expect("unshare");
            let own = std::fs::File::open("/proc/thread-self/ns/net").expect("own netns");
            let mut nl = Netlink::open().expect("netlink");
            // A port whose address is lower than any the kernel or `mac_for` gives.
            let attach_low_port = |nl: &mut Netlink, bridge: &str, n: u8| {
                let (host, low) = (format!("rstq{n}"), format!("rstl{n}"));
                nl.new_veth(&host, &low, own.as_raw_fd(), Some([0, 0, 0, 0, 0, n]))
                    .expect("veth");
                let port = nl.index_of(&low).expect("port");
                let master = nl.index_of(bridge).expect("bridge");
                nl.set_master_up_hairpin(port, master, &low, None)
                    .expect("attach");
                host
            };
            // A bridge made as before this fix: no address given.
            let old_bridge = |nl: &mut Netlink, name: &str| {
                let mut m = Msg::new(RTM_NEWLINK, NLM_F_CREATE | NLM_F_EXCL);
                m.ifinfo(0, 0, 0);
                m.attr_str(IFLA_IFNAME, name);
                m.begin(IFLA_LINKINFO);
                m.attr_str(IFLA_INFO_KIND, "bridge");
                m.end();
                nl.call("old bridge", m).expect("old bridge");
            };
            let gw = Ipv4Addr::new(10, 97, 0, 1);
            nl.add_bridge("rstk0", gw, 24).expect("bridge");
            assert_eq!(nl.address_of("rstk0").expect("address"), Some(mac_for(gw)));
            let veth = attach_low_port(&mut nl, "rstk0", 1);
            assert_eq!(nl.address_of("rstk0").expect("address"), Some(mac_for(gw)));
            nl.delete_link(&veth).expect("veth gone");
            assert_eq!(nl.address_of("rstk0").expect("address"), Some(mac_for(gw)));

            // Made the old way, without an address: the kernel's random one is kept.
            old_bridge(&mut nl, "rstk1");
            let before = nl.address_of("rstk1").expect("address").expect("has one");
            nl.add_bridge("rstk1", Ipv4Addr::new(10, 96, 0, 1), 24)
                .expect("found");
            let veth = attach_low_port(&mut nl, "rstk1", 2);
            assert_eq!(nl.address_of("rstk1").expect("address"), Some(before));
            nl.delete_link(&veth).expect("veth gone");

            // Made the old way, and its last port gone: its address is zero, and it gets
            // the gateway's.
            old_bridge(&mut nl, "rstk2");
            let veth = attach_low_port(&mut nl, "rstk2", 3);
            nl.delete_link(&veth).expect("veth gone");
            assert_eq!(nl.address_of("rstk2").expect("address"), Some([0; 6]));
            let gw2 = Ipv4Addr::new(10, 95, 0, 1);
            nl.add_bridge("rstk2", gw2, 24).expect("found");
            assert_eq!(nl.address_of("rstk2").expect("address"), Some(mac_for(gw2)));

            nl.delete_link("rstk0").expect("rstk0 gone");
            nl.delete_link("rstk1").expect("rstk1 gone");
            nl.delete_link("rstk2").expect("rstk2 gone");
        })
        .join()
        .expect("test thread");
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
