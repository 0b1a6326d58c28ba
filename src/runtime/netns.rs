//! The container's place on its networks, made by the shim before the clone: a veth pair
//! per network (host end on the network's bridge, the other end `eth0`... in the shim's own
//! network namespace, which the container inherits), its address and the default route; or
//! the namespace of another container joined (`network_mode: service:x`).
//!
//! The bridge, its address and the packet rules are the daemon's, made once per network
//! (`crate::network`): a start only adds a veth and configures it: with a spare's veth made
//! ahead, three netlink round trips (the bridge's index; attach + hairpin; up + address +
//! route), each a batch of requests in one `send`.
//! Nothing is removed at the exit: the kernel deletes a veth pair when the namespace holding
//! one end goes, after the shim and the container are gone, off every start path.

use super::config::NetConfig;
use super::error::{Result, RuntimeError};
use super::netlink::{self, AddrGenMode, Netlink};
use std::os::fd::AsRawFd;

/// A netlink socket in the host's network namespace, opened before the shim makes its own
/// namespace: through it the shim creates the host end of each veth. A spare shim also makes
/// its container's first veth pair ahead (`make_spare_veth`), while it waits.
pub struct HostNetlink {
    nl: Option<Netlink>,
    spare: Option<SpareVeth>,
}

/// A veth pair made ahead: the host end and `eth0` in the shim's own namespace. Creating a
/// pair costs ~1 ms of kernel time (up to 4 ms under load), the costliest step of
/// attaching; the start then only attaches and configures it. When the daemon names the
/// bridge the last container started on (most starts are on the same network), the host end
/// is also on that bridge, up, with hairpin mode, and `eth0` is up: the start then only gives
/// `eth0` its MAC, address and route. Nothing flows meanwhile: `eth0` has no address.
struct SpareVeth {
    host_name: String,
    host_index: u32,
    /// The IPv6 address mode both ends were left in (`AddrGenMode::None` once set).
    mode: AddrGenMode,
    /// The bridge (its index) the host end is on, up, with hairpin mode.
    on_bridge: Option<u32>,
}

/// The name of a container's first interface, which a spare veth's inner end is made as.
const FIRST: &str = "eth0";

impl HostNetlink {
    /// Opens it in the current (the host's) namespace; a failure is reported only if a
    /// container needs it.
    pub fn open() -> HostNetlink {
        HostNetlink {
            nl: Netlink::open().ok(),
            spare: None,
        }
    }

    /// In a spare shim, once its own namespace exists: makes the first veth pair ahead, on
    /// `bridge` (the daemon's guess) when one is named. A failure only means the start will
    /// do what is missing.
    pub fn make_spare_veth(&mut self, bridge: Option<&str>) {
        let Some(nl) = self.nl.as_mut() else {
            return;
        };
        let Ok(own) = std::fs::File::open("/proc/thread-self/ns/net") else {
            return;
        };
        let host_name = format!("rsv{}", random_suffix());
        let Ok(host_index) = nl.add_spare_veth(&host_name, FIRST, own.as_raw_fd()) else {
            return;
        };
        let mut inner = Netlink::open().ok();
        let inner_index = netlink::link_index(FIRST).ok();
        // Most networks have no IPv6: without addresses, bringing the ends up starts no
        // link-local address or duplicate address detection (kernel work that competed with
        // the start). An IPv6 attachment sets it back.
        let quiet = nl
            .set_addr_gen_mode(host_index, &host_name, AddrGenMode::None)
            .is_ok()
            && match (inner.as_mut(), inner_index) {
                (Some(inner), Some(i)) => {
                    inner.set_addr_gen_mode(i, FIRST, AddrGenMode::None).is_ok()
                }
                _ => false,
            };
        // On the bridge ahead only in the quiet mode, which an IPv4 network wants as it is.
        let on_bridge = bridge.filter(|_| quiet).and_then(|b| {
            let master = nl.index_of(b).ok()?;
            nl.set_master_up_hairpin(host_index, master, &host_name, None)
                .ok()?;
            let (inner, i) = (inner.as_mut()?, inner_index?);
            inner.set_up(i, FIRST).ok()?;
            Some(master)
        });
        self.spare = Some(SpareVeth {
            host_name,
            host_index,
            mode: if quiet {
                AddrGenMode::None
            } else {
                AddrGenMode::Eui64
            },
            on_bridge,
        });
    }
}

/// 12 hex digits from the kernel's random pool (names of host ends are unique on the host).
fn random_suffix() -> String {
    let mut b = [0u8; 6];
    // SAFETY: getrandom fills the buffer we own, of its length.
    let n = unsafe { libc::getrandom(b.as_mut_ptr().cast(), b.len(), 0) };
    if n != b.len() as isize {
        let t = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos())
            .unwrap_or(0) as u64;
        b.copy_from_slice(&(t ^ u64::from(std::process::id())).to_le_bytes()[..6]);
    }
    b.iter().map(|x| format!("{x:02x}")).collect()
}

fn fail(what: &str, e: impl std::fmt::Display) -> RuntimeError {
    RuntimeError::Net(format!("{what}: {e}"))
}

/// Puts the calling process (the shim, in its own fresh network namespace) on the
/// container's networks.
pub fn attach(host: &mut HostNetlink, cfg: &NetConfig) -> Result<()> {
    if let Some(pid) = cfg.join_pid {
        return join(pid);
    }
    let spare = host.spare.take();
    if cfg.interfaces.is_empty() {
        // A container without networks never gets a spare with a veth made ahead
        // (`ShimPool::begin`); should it get one anyway, it must not see a stray `eth0`.
        if let (Some(s), Some(nl)) = (spare, host.nl.as_mut()) {
            nl.delete_link(&s.host_name)
                .map_err(|e| fail("removing the unused veth", e))?;
        }
        return Ok(());
    }
    let host = host.nl.as_mut().ok_or_else(|| {
        fail(
            "opening a netlink socket",
            "failed before the namespace was made",
        )
    })?;
    let own = std::fs::File::open("/proc/thread-self/ns/net")
        .map_err(|e| fail("opening the container's network namespace", e))?;
    let mut inner = Netlink::open().map_err(|e| fail("opening a netlink socket", e))?;
    let mut routed = false;
    let mut routed6 = false;
    let mut spare = spare;
    for ifc in &cfg.interfaces {
        let master = |host: &mut Netlink| match ifc.bridge_index {
            Some(i) => Ok(i),
            None => host
                .index_of(&ifc.bridge)
                .map_err(|e| fail(&format!("network bridge {}", ifc.bridge), e)),
        };
        let mac = ifc
            .mac
            .as_deref()
            .and_then(netlink::parse_mac)
            .unwrap_or_else(|| netlink::mac_for(ifc.address));
        // A link comes up with IPv6 address configuration only on a network with IPv6
        // (see `make_spare_veth`); the mode is set, where it differs, in the batch that
        // brings the link up.
        let want = if ifc.ipv6 {
            AddrGenMode::Eui64
        } else {
            AddrGenMode::None
        };
        let change = |now: AddrGenMode| (now != want).then_some(want);
        // A veth the kernel just made has the namespace's default mode (EUI-64).
        let mut inner_mode = AddrGenMode::Eui64;
        match spare.take().filter(|_| ifc.name == FIRST) {
            // Made ahead, on this bridge already (the daemon's index is the one the spare
            // attached to: a bridge made again since has another): nothing to do here.
            Some(s)
                if s.on_bridge.is_some()
                    && s.on_bridge == ifc.bridge_index
                    && change(s.mode).is_none() =>
            {
                inner_mode = s.mode;
            }
            // Made ahead: onto the bridge (from another one, if the spare guessed wrong), up
            // and hairpin, in one round trip.
            Some(s) => {
                let master = master(host)?;
                host.set_master_up_hairpin(s.host_index, master, &s.host_name, change(s.mode))
                    .map_err(|e| fail(&format!("attaching to bridge {}", ifc.bridge), e))?;
                inner_mode = s.mode;
            }
            None => {
                let master = master(host)?;
                let i = host
                    .add_veth(&ifc.host_name, &ifc.name, own.as_raw_fd(), mac)
                    .map_err(|e| fail(&format!("attaching to bridge {}", ifc.bridge), e))?;
                host.set_master_up_hairpin(i, master, &ifc.host_name, change(AddrGenMode::Eui64))
                    .map_err(|e| fail(&format!("veth {}", ifc.host_name), e))?;
            }
        }
        let index = netlink::link_index(&ifc.name).map_err(|e| fail("veth", e))?;
        // Up, address and (on the first network with a gateway) the default route: one
        // round trip; the kernel applies them in order.
        let gateway = ifc.gateway.filter(|_| !routed);
        inner
            .configure_inner(
                index,
                &ifc.name,
                mac,
                (ifc.address, ifc.prefix),
                gateway,
                change(inner_mode),
            )
            .map_err(|e| fail(&ifc.name, e))?;
        routed |= gateway.is_some();
        // A dual-stack network: the IPv6 address, and the IPv6 default route on the first
        // network that has an IPv6 gateway.
        if let Some(a6) = ifc.address6 {
            let gw6 = ifc.gateway6.filter(|_| !routed6);
            inner
                .configure_inner6(index, a6, gw6)
                .map_err(|e| fail(&ifc.name, e))?;
            routed6 |= gw6.is_some();
        }
    }
    Ok(())
}

/// Joins the network namespace of process `pid`.
fn join(pid: i32) -> Result<()> {
    let path = format!("/proc/{pid}/ns/net");
    let f = std::fs::File::open(&path).map_err(|e| {
        fail(
            &format!("the network of process {pid} (is its container running?)"),
            e,
        )
    })?;
    nix::sched::setns(f, nix::sched::CloneFlags::CLONE_NEWNET)
        .map_err(|e| fail(&format!("joining {path}"), e))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::runtime::config::Interface;
    use std::io::{Read, Write};
    use std::net::{Ipv4Addr, TcpListener, TcpStream};

    /// Everything happens in namespaces of this test's own threads: a "host" namespace with
    /// a bridge, and a "container" namespace made from it, as the shim makes one. They go
    /// with the threads.
    #[test]
    fn a_container_namespace_reaches_its_bridge() {
        if !nix::unistd::geteuid().is_root() {
            crate::testutil::skip("a_container_namespace_reaches_its_bridge", "needs root");
            return;
        }
        let host = std::thread::spawn(|| -> std::result::Result<(), String> {
            nix::sched::unshare(nix::sched::CloneFlags::CLONE_NEWNET).map_err(|e| e.to_string())?;
            let gw = Ipv4Addr::new(10, 99, 0, 1);
            let mut nl = Netlink::open().map_err(|e| e.to_string())?;
            let index = nl.add_bridge("rstb0", gw, 24).map_err(|e| e.to_string())?;
            // Made twice: the second call finds it.
            nl.add_bridge("rstb0", gw, 24).map_err(|e| e.to_string())?;
            // Another network's bridge, which a spare may have guessed.
            nl.add_bridge("rstb1", Ipv4Addr::new(10, 98, 0, 1), 24)
                .map_err(|e| e.to_string())?;
            // Once as a fresh shim does (the veth made at the start), then as a spare does
            // (the pair made ahead, attached at the start): without a guess, with IPv6 (set
            // back), on the right bridge ahead (nothing left to attach), on it with IPv6
            // (down, mode, up again), on another bridge (moved), and with the bridge's index
            // unknown (looked up).
            let cases = [
                (false, None, false, 2u8, Some(index)),
                (true, None, false, 3, Some(index)),
                (true, None, true, 4, Some(index)),
                (true, Some("rstb0"), false, 5, Some(index)),
                (true, Some("rstb0"), true, 6, Some(index)),
                (true, Some("rstb1"), false, 7, Some(index)),
                (true, Some("rstb0"), false, 8, None),
            ];
            for (made_ahead, guess, ipv6, last, bridge_index) in cases {
                let listener = TcpListener::bind((gw, 0)).map_err(|e| e.to_string())?;
                let port = listener.local_addr().map_err(|e| e.to_string())?.port();
                let host_name = format!("rstv-test{last}");
                let name = host_name.clone();
                let container =
                    std::thread::spawn(move || -> std::result::Result<String, String> {
                        let mut host_nl = HostNetlink::open();
                        nix::sched::unshare(nix::sched::CloneFlags::CLONE_NEWNET)
                            .map_err(|e| e.to_string())?;
                        if made_ahead {
                            host_nl.make_spare_veth(guess);
                            let Some(spare) = &host_nl.spare else {
                                return Err("no veth made ahead".into());
                            };
                            if spare.on_bridge.is_some() != guess.is_some() {
                                return Err(format!("guess {guess:?}: on {:?}", spare.on_bridge));
                            }
                        }
                        let cfg = NetConfig {
                            join_pid: None,
                            request: None,
                            interfaces: vec![Interface {
                                bridge: "rstb0".into(),
                                host_name: name,
                                name: "eth0".into(),
                                address: Ipv4Addr::new(10, 99, 0, last),
                                prefix: 24,
                                gateway: Some(gw),
                                address6: None,
                                gateway6: None,
                                mac: None,
                                ipv6,
                                bridge_index,
                            }],
                        };
                        attach(&mut host_nl, &cfg).map_err(|e| e.to_string())?;
                        // A link-local address is listed (tentative) once the link is up.
                        let v6 = std::fs::read_to_string("/proc/thread-self/net/if_inet6")
                            .map_err(|e| e.to_string())?;
                        if v6.contains("eth0") != ipv6 {
                            return Err(format!("ipv6 {ipv6}: eth0's addresses: {v6:?}"));
                        }
                        let mut s = TcpStream::connect((gw, port)).map_err(|e| e.to_string())?;
                        s.write_all(b"hello").map_err(|e| e.to_string())?;
                        let mut back = String::new();
                        s.read_to_string(&mut back).map_err(|e| e.to_string())?;
                        Ok(back)
                    });
                // Answered on a thread of its own, so a failed attach reports instead of
                // hanging.
                std::thread::spawn(move || {
                    if let Ok((mut conn, peer)) = listener.accept() {
                        let mut buf = [0u8; 5];
                        if peer.ip() == Ipv4Addr::new(10, 99, 0, last)
                            && conn.read_exact(&mut buf).is_ok()
                        {
                            let _ = conn.write_all(&buf);
                        }
                    }
                });
                let back = container
                    .join()
                    .map_err(|_| "container thread panicked")??;
                assert_eq!(back, "hello", "made ahead: {made_ahead}");
                // A pair made ahead has a name of its own, not the one the daemon chose.
                if made_ahead {
                    assert!(!netlink::link_exists(&host_name));
                }
            }
            nl.delete_link("rstb0").map_err(|e| e.to_string())?;
            nl.delete_link("rstb0").map_err(|e| e.to_string())?;
            nl.delete_link("rstb1").map_err(|e| e.to_string())?;
            Ok(())
        });
        host.join().expect("host thread").expect("network set-up");
    }
}
