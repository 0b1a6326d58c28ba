//! Reserving host ports on the real kernel (no privilege needed: ports above 1023 on the
//! loopback or the wildcard address; nothing listens, nothing is sent).

use super::*;
use std::net::{TcpListener, UdpSocket};

fn this_process() -> String {
    format!("pid {} (", std::process::id())
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
    let again = reserve(Some(Ipv4Addr::LOCALHOST), Some((port, port)), Proto::Tcp).unwrap();
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
    // Three consecutive free ports: hold the first, the range gets the second.
    let (first, _hold) = loop {
        let r = reserve(None, None, Proto::Tcp).unwrap();
        let p = r.port();
        let free = |q: u16| reserve(None, Some((q, q)), Proto::Tcp).is_ok();
        if p < 65534 && free(p + 1) && free(p + 2) {
            break (p, r);
        }
    };
    let next = reserve(None, Some((first, first + 2)), Proto::Tcp).unwrap();
    assert_eq!(next.port(), first + 1);
    let last = reserve(None, Some((first, first + 2)), Proto::Tcp).unwrap();
    assert_eq!(last.port(), first + 2);
    let err = reserve(None, Some((first, first + 2)), Proto::Tcp).unwrap_err();
    assert!(
        matches!(err, PortError::RangeInUse { start, end, .. } if (start, end) == (first, first + 2)),
        "{err}"
    );
    assert!(err.to_string().contains(&format!("{first}-{}", first + 2)));
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
    assert!(UdpSocket::bind(("127.0.0.1", port)).is_ok());
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
