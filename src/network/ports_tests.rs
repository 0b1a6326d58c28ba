//! Reserving host ports on the real kernel (no privilege needed: ports above 1023 on the
//! loopback or the wildcard address; nothing listens, nothing is sent).

use super::*;
use std::net::{TcpListener, UdpSocket};

fn this_process() -> String {
    format!("pid {} (", std::process::id())
}

/// Retries `f` until it succeeds (at most ~10 s). A freed port can stay taken for a moment:
/// a child that another test thread is spawning holds a copy of every descriptor of this
/// process (ours too) from its fork until its exec closes them (close-on-exec).
fn once_free<T, E: std::fmt::Debug>(mut f: impl FnMut() -> Result<T, E>) -> T {
    for _ in 0..1000 {
        if let Ok(v) = f() {
            return v;
        }
        std::thread::sleep(std::time::Duration::from_millis(10));
    }
    f().unwrap()
}

#[test]
fn a_reserved_port_is_held_and_its_holder_named() {
    let r = reserve(None, None, Proto::Tcp).unwrap();
    assert_ne!(r.port(), 0);
    assert_eq!(r.ip(), Ipv4Addr::UNSPECIFIED);
    assert_eq!(r.proto(), Proto::Tcp);
    let port = r.port();
    // The same port again: in use, by this very process (a bound-only socket, found by
    // sock_diag since /proc/net/tcp does not list it).
    let err = reserve(None, Some((port, port)), Proto::Tcp).unwrap_err();
    let PortError::InUse {
        port: p,
        proto,
        ref holder,
        ..
    } = err
    else {
        panic!("{err}")
    };
    assert_eq!((p, proto), (port, Proto::Tcp));
    let msg = err.to_string();
    assert!(msg.contains(&format!("0.0.0.0:{port}/tcp")), "{msg}");
    assert!(
        msg.contains("stop it or publish another host port"),
        "{msg}"
    );
    assert!(
        holder
            .as_deref()
            .is_some_and(|h| h.starts_with(&this_process())),
        "{msg}"
    );
    // Nothing else can take it either, on the wildcard nor on one address.
    assert!(TcpListener::bind(("127.0.0.1", port)).is_err());
    drop(r);
    // Dropping the reservation frees the port.
    let again = once_free(|| reserve(Some(Ipv4Addr::LOCALHOST), Some((port, port)), Proto::Tcp));
    assert_eq!(again.port(), port);
    assert_eq!(again.ip(), Ipv4Addr::LOCALHOST);
}

#[test]
fn a_listener_of_another_kind_is_named_too() {
    // A plain listener (listed in /proc/net/tcp) on a specific address conflicts with a
    // reservation on every address.
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = l.local_addr().unwrap().port();
    let err = reserve(None, Some((port, port)), Proto::Tcp).unwrap_err();
    let msg = err.to_string();
    assert!(msg.contains(&this_process()), "{msg}");
    assert!(msg.contains(&format!(":{port}/tcp")), "{msg}");
}

#[test]
fn a_range_takes_the_next_free_port() {
    // Hold two consecutive ports (never probing by binding and closing: a closed port can
    // stay taken for a moment, see once_free).
    let (p, _a, _b) = loop {
        let a = reserve(None, None, Proto::Tcp).unwrap();
        let p = a.port();
        if p >= 65000 {
            continue;
        }
        if let Ok(b) = reserve(None, Some((p + 1, p + 1)), Proto::Tcp) {
            break (p, a, b);
        }
    };
    let err = reserve(None, Some((p, p + 1)), Proto::Tcp).unwrap_err();
    assert!(
        matches!(err, PortError::RangeInUse { start, end, .. } if (start, end) == (p, p + 1)),
        "{err}"
    );
    assert!(err.to_string().contains(&format!("{p}-{}", p + 1)), "{err}");
    // The first free port after the held ones; the ports skipped are all taken.
    let q = reserve(None, Some((p, p + 200)), Proto::Tcp).unwrap();
    assert!(q.port() > p + 1, "{}", q.port());
    for skipped in p + 2..q.port() {
        assert!(
            TcpListener::bind(("0.0.0.0", skipped)).is_err(),
            "{skipped}"
        );
    }
    let r = reserve(None, Some((p, p + 200)), Proto::Tcp).unwrap();
    assert!(r.port() > q.port());
}

#[test]
fn udp_ports_are_held_apart_from_tcp() {
    let r = reserve(Some(Ipv4Addr::LOCALHOST), None, Proto::Udp).unwrap();
    let port = r.port();
    assert!(UdpSocket::bind(("127.0.0.1", port)).is_err());
    let err = reserve(None, Some((port, port)), Proto::Udp).unwrap_err();
    let msg = err.to_string();
    assert!(msg.contains(&format!("0.0.0.0:{port}/udp")), "{msg}");
    assert!(msg.contains(&this_process()), "{msg}");
    drop(r);
    once_free(|| UdpSocket::bind(("127.0.0.1", port)));
}

#[test]
fn bad_ranges_and_addresses_are_refused() {
    assert!(matches!(
        reserve(None, Some((0, 10)), Proto::Tcp),
        Err(PortError::BadRange { .. })
    ));
    assert!(matches!(
        reserve(None, Some((20, 10)), Proto::Udp),
        Err(PortError::BadRange { .. })
    ));
    // TEST-NET-3 is no address of this machine.
    let err = reserve(Some(Ipv4Addr::new(203, 0, 113, 7)), None, Proto::Tcp).unwrap_err();
    assert!(matches!(err, PortError::Bind { .. }), "{err}");
}

#[test]
fn proc_net_lines_are_matched_by_port_and_address() {
    let text = "  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode
   0: 0100007F:1F90 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 111 1 0
   1: 00000000:1F91 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 222 1 0
   2: 0200007F:1F90 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 333 1 0
   3: 0100007F:1F90 0100007F:C350 06 00000000:00000000 00:00000000 00000000     0        0 0 1 0
   garbage
";
    let lo = Ipv4Addr::LOCALHOST;
    assert_eq!(holder::proc_net_inodes(text, lo, 0x1F90), [111]);
    assert_eq!(
        holder::proc_net_inodes(text, Ipv4Addr::UNSPECIFIED, 0x1F90),
        [111, 333]
    );
    // A wildcard socket conflicts with any address.
    assert_eq!(holder::proc_net_inodes(text, lo, 0x1F91), [222]);
    assert!(holder::proc_net_inodes(text, lo, 80).is_empty());
}
