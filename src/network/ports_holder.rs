//! Who holds a host port, for the error that says so: the socket inodes bound to the port
//! (from /proc/net/{tcp,udp}[6]; a TCP socket that is bound but neither listening nor
//! connected is not listed there, so those come from the kernel's sock_diag, which dumps
//! them since Linux 6.7), then the process with one of those inodes among its /proc/PID/fd.
//! Best effort: any failure just leaves the holder unknown.

use super::Proto;
use std::net::Ipv4Addr;

/// `pid 1234 (nginx)` of a process holding `port` in a way that conflicts with `ip`.
pub(super) fn find(ip: Ipv4Addr, port: u16, proto: Proto) -> Option<String> {
    let mut inodes = Vec::new();
    for v6 in [false, true] {
        let path = format!("/proc/net/{}{}", proto, if v6 { "6" } else { "" });
        if let Ok(text) = std::fs::read_to_string(path) {
            inodes.extend(proc_net_inodes(&text, ip, port));
        }
    }
    if inodes.is_empty() && proto == Proto::Tcp {
        inodes.extend(diag::bound_tcp_inodes(port));
    }
    owner(&inodes)
}

/// The inodes of /proc/net/{tcp,udp}[6] lines whose local port is `port` and whose local
/// address conflicts with `ip` (either is the wildcard, or they are equal; IPv6 lines by the
/// port alone: a dual-stack wildcard socket holds the IPv4 port too).
pub(super) fn proc_net_inodes(text: &str, ip: Ipv4Addr, port: u16) -> Vec<u64> {
    let mut found = Vec::new();
    for line in text.lines().skip(1) {
        let fields: Vec<&str> = line.split_whitespace().collect();
        let (Some(local), Some(inode)) = (fields.get(1), fields.get(9)) else {
            continue;
        };
        let Some((addr, p)) = local.split_once(':') else {
            continue;
        };
        if u16::from_str_radix(p, 16).ok() != Some(port) {
            continue;
        }
        let conflicts = match addr.len() {
            // The kernel prints the network-order address as a native-endian number.
            8 => u32::from_str_radix(addr, 16).is_ok_and(|v| {
                let sock = Ipv4Addr::from(v.to_ne_bytes());
                sock.is_unspecified() || ip.is_unspecified() || sock == ip
            }),
            _ => true,
        };
        match inode.parse::<u64>() {
            Ok(inode) if conflicts && inode != 0 => found.push(inode),
            _ => {}
        }
    }
    found
}

/// The first process that has one of `inodes` open, as `pid N (comm)`.
fn owner(inodes: &[u64]) -> Option<String> {
    if inodes.is_empty() {
        return None;
    }
    let links: Vec<String> = inodes.iter().map(|i| format!("socket:[{i}]")).collect();
    for proc_entry in std::fs::read_dir("/proc").ok()?.flatten() {
        let Some(pid) = proc_entry
            .file_name()
            .to_str()
            .and_then(|n| n.parse::<u32>().ok())
        else {
            continue;
        };
        let Ok(fds) = std::fs::read_dir(proc_entry.path().join("fd")) else {
            continue;
        };
        for fd in fds.flatten() {
            let Ok(target) = std::fs::read_link(fd.path()) else {
                continue;
            };
            if links.iter().any(|l| target.as_os_str() == l.as_str()) {
                let comm = std::fs::read_to_string(proc_entry.path().join("comm"))
                    .map(|c| c.trim().to_string())
                    .unwrap_or_default();
                return Some(format!("pid {pid} ({comm})"));
            }
        }
    }
    None
}

/// NETLINK_SOCK_DIAG: the inodes of TCP sockets bound to a port but in no other table.
mod diag {
    use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};

    const SOCK_DIAG_BY_FAMILY: u16 = 20;
    /// TCP_BOUND_INACTIVE (include/net/tcp_states.h): a socket that is only bound.
    const TCP_BOUND_INACTIVE: u32 = 13;
    const REQ_LEN: usize = 16 + 56;
    /// Offsets in struct inet_diag_msg.
    const MSG_SPORT: usize = 4;
    const MSG_INODE: usize = 68;
    const MSG_LEN: usize = 72;

    pub(super) fn bound_tcp_inodes(port: u16) -> Vec<u64> {
        let mut found = Vec::new();
        for family in [libc::AF_INET, libc::AF_INET6] {
            // Errors (an older kernel, no sock_diag) just leave the holder unknown.
            let _ = dump(family as u8, port, &mut found);
        }
        found
    }

    fn dump(family: u8, port: u16, found: &mut Vec<u64>) -> std::io::Result<()> {
        // SAFETY: socket has no memory preconditions; the result is checked before use.
        let raw = unsafe {
            libc::socket(
                libc::AF_NETLINK,
                libc::SOCK_DGRAM | libc::SOCK_CLOEXEC,
                libc::NETLINK_SOCK_DIAG,
            )
        };
        if raw < 0 {
            return Err(std::io::Error::last_os_error());
        }
        // SAFETY: raw is a fresh descriptor owned by nothing else.
        let fd = unsafe { OwnedFd::from_raw_fd(raw) };

        // struct nlmsghdr + struct inet_diag_req_v2, native endian as the kernel reads them.
        let mut req = Vec::with_capacity(REQ_LEN);
        req.extend_from_slice(&(REQ_LEN as u32).to_ne_bytes());
        req.extend_from_slice(&SOCK_DIAG_BY_FAMILY.to_ne_bytes());
        req.extend_from_slice(&((libc::NLM_F_REQUEST | libc::NLM_F_DUMP) as u16).to_ne_bytes());
        req.extend_from_slice(&1u32.to_ne_bytes()); // sequence
        req.extend_from_slice(&0u32.to_ne_bytes()); // port id: the kernel fills it in
        req.extend_from_slice(&[family, libc::IPPROTO_TCP as u8, 0, 0]);
        req.extend_from_slice(&(1u32 << TCP_BOUND_INACTIVE).to_ne_bytes());
        req.resize(REQ_LEN, 0); // the socket id: all zeroes, no filter
        // SAFETY: req is valid for reads of its length; the default destination (no address)
        // of a netlink socket is the kernel.
        let sent = unsafe { libc::send(fd.as_raw_fd(), req.as_ptr().cast(), req.len(), 0) };
        if sent < 0 {
            return Err(std::io::Error::last_os_error());
        }

        let mut buf = vec![0u8; 32 * 1024];
        loop {
            // SAFETY: buf is valid for writes of its length.
            let n = unsafe { libc::recv(fd.as_raw_fd(), buf.as_mut_ptr().cast(), buf.len(), 0) };
            if n < 0 {
                return Err(std::io::Error::last_os_error());
            }
            let mut rest = buf.get(..n as usize).unwrap_or_default();
            if rest.is_empty() {
                return Ok(());
            }
            while rest.len() >= 16 {
                let len = u32::from_ne_bytes([rest[0], rest[1], rest[2], rest[3]]) as usize;
                let ty = u16::from_ne_bytes([rest[4], rest[5]]);
                if len < 16 || len > rest.len() {
                    return Ok(());
                }
                if ty == libc::NLMSG_DONE as u16 || ty == libc::NLMSG_ERROR as u16 {
                    return Ok(());
                }
                let msg = &rest[16..len];
                if ty == SOCK_DIAG_BY_FAMILY && msg.len() >= MSG_LEN {
                    let sport = u16::from_be_bytes([msg[MSG_SPORT], msg[MSG_SPORT + 1]]);
                    let inode = u32::from_ne_bytes([
                        msg[MSG_INODE],
                        msg[MSG_INODE + 1],
                        msg[MSG_INODE + 2],
                        msg[MSG_INODE + 3],
                    ]);
                    if sport == port && inode != 0 {
                        found.push(u64::from(inode));
                    }
                }
                // Messages are 4-byte aligned.
                let next = (len + 3) & !3;
                rest = rest.get(next..).unwrap_or_default();
            }
        }
    }
}
