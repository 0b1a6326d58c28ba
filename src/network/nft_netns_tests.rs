//! The real kernel: the rules forward, masquerade and isolate. Everything happens in network
//! namespaces this test makes (a "host", three "containers", a "remote" machine), so the
//! machine's own tables and links are never touched; they are deleted even when it fails.
//! Root, `ip` and `nft` only (skipped elsewhere, failing under RSTACK_REQUIRE_ROOT_TESTS).

use super::*;
use std::io::{BufRead, BufReader, Write};
use std::net::{SocketAddr, TcpListener, TcpStream, UdpSocket};
use std::os::fd::AsFd;
use std::process::Command;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

const IP: &str = "/usr/sbin/ip";

/// A named network namespace (`ip netns add`), deleted on drop.
struct Netns(String);

impl Netns {
    fn new(tag: &str) -> Netns {
        static SEQ: AtomicU32 = AtomicU32::new(0);
        let name = format!(
            "rstk-{}-{}-{tag}",
            std::process::id(),
            SEQ.fetch_add(1, Ordering::Relaxed)
        );
        ip(&["netns", "add", &name]);
        let ns = Netns(name);
        ns.ip(&["link", "set", "lo", "up"]);
        ns
    }

    fn ip(&self, args: &[&str]) {
        let mut all = vec!["-n", self.0.as_str()];
        all.extend_from_slice(args);
        ip(&all);
    }

    /// Runs `f` on a thread that has entered this namespace (setns changes only the calling
    /// thread's network namespace; children it spawns, such as nft, inherit it).
    fn run<T: Send>(&self, f: impl FnOnce() -> T + Send) -> T {
        std::thread::scope(|s| {
            s.spawn(|| {
                enter(&self.0);
                f()
            })
            .join()
            .unwrap()
        })
    }
}

/// Moves the calling thread into the named network namespace.
fn enter(name: &str) {
    let file = std::fs::File::open(format!("/run/netns/{name}")).unwrap();
    nix::sched::setns(file.as_fd(), nix::sched::CloneFlags::CLONE_NEWNET).unwrap();
}

impl Drop for Netns {
    fn drop(&mut self) {
        let _ = Command::new(IP).args(["netns", "del", &self.0]).status();
    }
}

fn ip(args: &[&str]) {
    let out = Command::new(IP).args(args).output().unwrap();
    assert!(
        out.status.success(),
        "ip {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// A TCP server in `ns` on port 80: for each connection it answers the line it got with
/// the peer address it sees, until a line `quit`. Plus the same over UDP on port 53.
fn serve(ns: &Netns) -> [std::thread::JoinHandle<()>; 2] {
    let name = ns.0.clone();
    let (tx, rx) = std::sync::mpsc::channel();
    let tcp = std::thread::spawn(move || {
        enter(&name);
        let listener = TcpListener::bind("0.0.0.0:80").unwrap();
        let udp = UdpSocket::bind("0.0.0.0:53").unwrap();
        tx.send(std::thread::spawn(move || {
            let mut buf = [0u8; 64];
            while let Ok((n, peer)) = udp.recv_from(&mut buf) {
                let _ = udp.send_to(peer.ip().to_string().as_bytes(), peer);
                if &buf[..n] == b"quit" {
                    break;
                }
            }
        }))
        .unwrap();
        for conn in listener.incoming() {
            let Ok(mut conn) = conn else { continue };
            let peer = conn.peer_addr().unwrap();
            let mut line = String::new();
            let _ = BufReader::new(&conn).read_line(&mut line);
            let _ = writeln!(conn, "{}", peer.ip());
            if line.trim() == "quit" {
                break;
            }
        }
    });
    let udp = rx.recv().unwrap();
    [tcp, udp]
}

/// Connects from `ns` to `addr` and returns the peer address the server saw; Err when the
/// connection fails (refused, or dropped: no answer within the time-out).
fn talk(ns: &Netns, addr: &str, line: &str) -> std::io::Result<String> {
    let addr: SocketAddr = addr.parse().unwrap();
    ns.run(|| {
        let mut c = TcpStream::connect_timeout(&addr, Duration::from_secs(2))?;
        c.set_read_timeout(Some(Duration::from_secs(10)))?;
        writeln!(c, "{line}")?;
        let mut answer = String::new();
        BufReader::new(&c).read_line(&mut answer)?;
        Ok(answer.trim().to_string())
    })
}

fn udp_talk(ns: &Netns, addr: &str, msg: &str) -> std::io::Result<String> {
    let addr: SocketAddr = addr.parse().unwrap();
    ns.run(|| {
        let s = UdpSocket::bind("0.0.0.0:0")?;
        s.set_read_timeout(Some(Duration::from_secs(10)))?;
        s.send_to(msg.as_bytes(), addr)?;
        let mut buf = [0u8; 64];
        let n = s.recv(&mut buf)?;
        Ok(String::from_utf8_lossy(&buf[..n]).to_string())
    })
}

/// Attaches a fresh "container" namespace to `bridge` of `host` with `addr` (gateway `gw`).
fn container(host: &Netns, bridge: &str, port: &str, addr: &str, gw: &str) -> Netns {
    let c = Netns::new("ctr");
    host.ip(&[
        "link", "add", port, "type", "veth", "peer", "name", "eth0", "netns", &c.0,
    ]);
    host.ip(&["link", "set", port, "master", bridge, "up"]);
    // Hairpin mode, as Docker without its userland proxy: with br_netfilter loaded, a DNAT
    // back into the same bridge is bridged, not routed, out of the port it came in by.
    host.ip(&["link", "set", port, "type", "bridge_slave", "hairpin", "on"]);
    c.ip(&["addr", "add", addr, "dev", "eth0"]);
    c.ip(&["link", "set", "eth0", "up"]);
    c.ip(&["route", "add", "default", "via", gw]);
    c
}

#[test]
fn published_ports_forward_masquerade_and_isolate_in_the_kernel() {
    // SAFETY: geteuid has no failure modes.
    let root = unsafe { libc::geteuid() } == 0;
    let tools = std::path::Path::new(IP).exists() && nft_path().exists();
    let name = "published_ports_forward_masquerade_and_isolate_in_the_kernel";
    if (!root && crate::testutil::skip(name, "needs root"))
        || (!tools && crate::testutil::skip(name, "needs ip (iproute2) and nft (nftables)"))
    {
        return;
    }

    // The "host": two bridges (one internal) and an uplink to a "remote" machine.
    let host = Netns::new("host");
    let remote = Netns::new("remote");
    for (br, addr) in [
        ("rs-a", "10.88.0.1/24"),
        ("rs-b", "10.89.0.1/24"),
        ("rs-i", "10.90.0.1/24"),
    ] {
        host.ip(&["link", "add", br, "type", "bridge"]);
        host.ip(&["addr", "add", addr, "dev", br]);
        host.ip(&["link", "set", br, "up"]);
    }
    host.ip(&[
        "link", "add", "uplink", "type", "veth", "peer", "name", "eth0", "netns", &remote.0,
    ]);
    host.ip(&["addr", "add", "198.51.100.1/24", "dev", "uplink"]);
    host.ip(&["link", "set", "uplink", "up"]);
    remote.ip(&["addr", "add", "198.51.100.2/24", "dev", "eth0"]);
    remote.ip(&["link", "set", "eth0", "up"]);

    let c1 = container(&host, "rs-a", "veth-c1", "10.88.0.2/24", "10.88.0.1");
    let c2 = container(&host, "rs-b", "veth-c2", "10.89.0.2/24", "10.89.0.1");
    let ci = container(&host, "rs-i", "veth-ci", "10.90.0.2/24", "10.90.0.1");
    let servers = [serve(&c1), serve(&ci), serve(&remote), serve(&host)];
    // c1 sends 127.0.0.1 to the host, as a hostile container could (the lookup of the local
    // table moved after a rule that routes it to the gateway).
    c1.ip(&["rule", "add", "pref", "100", "lookup", "local"]);
    c1.ip(&["rule", "del", "pref", "0"]);
    c1.ip(&[
        "rule",
        "add",
        "pref",
        "10",
        "to",
        "127.0.0.1",
        "lookup",
        "100",
    ]);
    c1.ip(&[
        "route",
        "add",
        "127.0.0.1/32",
        "via",
        "10.88.0.1",
        "dev",
        "eth0",
        "table",
        "100",
    ]);
    c1.run(|| std::fs::write("/proc/sys/net/ipv4/conf/eth0/route_localnet", "1").unwrap());

    let rs = Ruleset {
        table: "rstack_test".to_string(),
        networks: vec![
            NetRules {
                bridge: "rs-a".to_string(),
                subnet: "10.88.0.0/24".parse().unwrap(),
                internal: false,
            },
            NetRules {
                bridge: "rs-b".to_string(),
                subnet: "10.89.0.0/24".parse().unwrap(),
                internal: false,
            },
            NetRules {
                bridge: "rs-i".to_string(),
                subnet: "10.90.0.0/24".parse().unwrap(),
                internal: true,
            },
        ],
        forwards: vec![
            Forward {
                proto: Proto::Tcp,
                host_ip: None,
                host_port: 8080,
                bridge: "rs-a".to_string(),
                container_ip: "10.88.0.2".parse().unwrap(),
                container_port: 80,
            },
            Forward {
                proto: Proto::Tcp,
                host_ip: Some(Ipv4Addr::LOCALHOST),
                host_port: 8081,
                bridge: "rs-a".to_string(),
                container_ip: "10.88.0.2".parse().unwrap(),
                container_port: 80,
            },
            Forward {
                proto: Proto::Udp,
                host_ip: None,
                host_port: 5353,
                bridge: "rs-a".to_string(),
                container_ip: "10.88.0.2".parse().unwrap(),
                container_port: 53,
            },
            Forward {
                proto: Proto::Tcp,
                host_ip: None,
                host_port: 8090,
                bridge: "rs-i".to_string(),
                container_ip: "10.90.0.2".parse().unwrap(),
                container_port: 80,
            },
        ],
    };
    host.run(|| {
        enable_forwarding().unwrap();
        set_route_localnet("rs-a").unwrap();
        set_route_localnet("rs-b").unwrap();
        set_route_localnet("rs-i").unwrap();
        apply(&rs).unwrap();
        // Applying again replaces the table (it exists now), atomically.
        apply(&rs).unwrap();
    });

    // Host processes: the loopback (masqueraded to the bridge's address) and a host address.
    assert_eq!(talk(&host, "127.0.0.1:8080", "a").unwrap(), "10.88.0.1");
    assert_eq!(talk(&host, "127.0.0.1:8081", "b").unwrap(), "10.88.0.1");
    assert_eq!(
        talk(&host, "198.51.100.1:8080", "c").unwrap(),
        "198.51.100.1"
    );
    assert_eq!(
        udp_talk(&host, "127.0.0.1:5353", "hi").unwrap(),
        "10.88.0.1"
    );
    // host_ip 127.0.0.1: not on the host's other addresses (nothing listens there: refused).
    assert!(talk(&host, "198.51.100.1:8081", "d").is_err());
    // Another machine: DNAT'd, its own address kept.
    assert_eq!(
        talk(&remote, "198.51.100.1:8080", "e").unwrap(),
        "198.51.100.2"
    );
    assert_eq!(
        udp_talk(&remote, "198.51.100.1:5353", "hi").unwrap(),
        "198.51.100.2"
    );
    // Hairpin: the container reaches its own published port by the host's address.
    assert_eq!(talk(&c1, "198.51.100.1:8080", "f").unwrap(), "10.88.0.1");
    // Going out: masqueraded to the host's uplink address.
    assert_eq!(talk(&c1, "198.51.100.2:80", "g").unwrap(), "198.51.100.1");
    // The host's loopback-only services are not reachable from a container, even with
    // route_localnet on the bridge.
    assert!(talk(&c1, "127.0.0.1:80", "h").is_err());

    // Another network: not by the container's address, but by the published port (as in
    // Docker), masqueraded to the address of the bridge it leaves by.
    assert!(talk(&c2, "10.88.0.2:80", "x").is_err());
    assert_eq!(talk(&c2, "198.51.100.1:8080", "y").unwrap(), "10.88.0.1");
    assert_eq!(talk(&c2, "198.51.100.2:80", "z").unwrap(), "198.51.100.1");

    // The internal network: the host reaches its published port; nothing else gets in or out.
    assert_eq!(talk(&host, "127.0.0.1:8090", "i").unwrap(), "10.90.0.1");
    assert!(talk(&remote, "198.51.100.1:8090", "j").is_err());
    assert!(talk(&c1, "198.51.100.1:8090", "k").is_err());
    assert!(talk(&c1, "10.90.0.2:80", "l").is_err());
    assert!(talk(&ci, "10.88.0.2:80", "m").is_err());
    assert!(talk(&ci, "198.51.100.2:80", "n").is_err());
    assert!(talk(&ci, "198.51.100.1:8080", "o").is_err());

    // Removing the table ends the forwarding; removing it twice is fine.
    host.run(|| {
        remove_table("rstack_test").unwrap();
        remove_table("rstack_test").unwrap();
    });
    assert!(talk(&host, "127.0.0.1:8080", "p").is_err());

    // Stop the servers (the host reaches the containers by their addresses).
    for addr in ["10.88.0.2", "10.90.0.2"] {
        talk(&host, &format!("{addr}:80"), "quit").unwrap();
        udp_talk(&host, &format!("{addr}:53"), "quit").unwrap();
    }
    for ns in [&remote, &host] {
        talk(ns, "127.0.0.1:80", "quit").unwrap();
        udp_talk(ns, "127.0.0.1:53", "quit").unwrap();
    }
    for s in servers.into_iter().flatten() {
        s.join().unwrap();
    }
}
