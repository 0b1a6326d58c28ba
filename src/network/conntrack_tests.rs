//! The ctnetlink messages, against datagrams laid out as the kernel sends them.

use super::*;

const NESTED: u16 = 0x8000;
const CTA_IP_V4_SRC: u16 = 1;
const CTA_PROTO_SRC_PORT: u16 = 2;
const CTA_TUPLE_REPLY: u16 = 2;

fn attr(kind: u16, payload: &[u8]) -> Vec<u8> {
    let mut a = Vec::new();
    a.extend_from_slice(&((4 + payload.len()) as u16).to_ne_bytes());
    a.extend_from_slice(&kind.to_ne_bytes());
    a.extend_from_slice(payload);
    a.resize(a.len().next_multiple_of(4), 0);
    a
}

fn tuple(kind: u16, src: [u8; 4], dst: [u8; 4], proto: u8, sport: u16, dport: u16) -> Vec<u8> {
    let ip = [attr(CTA_IP_V4_SRC, &src), attr(CTA_IP_V4_DST, &dst)].concat();
    let ports = [
        attr(CTA_PROTO_NUM, &[proto]),
        attr(CTA_PROTO_SRC_PORT, &sport.to_be_bytes()),
        attr(CTA_PROTO_DST_PORT, &dport.to_be_bytes()),
    ]
    .concat();
    let inner = [
        attr(CTA_TUPLE_IP | NESTED, &ip),
        attr(CTA_TUPLE_PROTO | NESTED, &ports),
    ]
    .concat();
    attr(kind | NESTED, &inner)
}

fn message(kind: u16, seq: u32, body: &[u8]) -> Vec<u8> {
    let mut m = Vec::new();
    m.extend_from_slice(&((16 + body.len()) as u32).to_ne_bytes());
    m.extend_from_slice(&kind.to_ne_bytes());
    m.extend_from_slice(&2u16.to_ne_bytes());
    m.extend_from_slice(&seq.to_ne_bytes());
    m.extend_from_slice(&0u32.to_ne_bytes());
    m.extend_from_slice(body);
    m
}

/// A CT_NEW message: a flow from 127.0.0.1:41999 to `dst`:`dport`, DNAT'd to 10.89.0.2
/// (the reply tuple), with `zone` if given.
fn flow(seq: u32, proto: u8, dst: [u8; 4], dport: u16, zone: Option<u16>) -> Vec<u8> {
    let mut body = vec![libc::AF_INET as u8, 0, 0, 0];
    body.extend(tuple(
        CTA_TUPLE_ORIG,
        [127, 0, 0, 1],
        dst,
        proto,
        41999,
        dport,
    ));
    body.extend(tuple(
        CTA_TUPLE_REPLY,
        [10, 89, 0, 2],
        [10, 89, 0, 1],
        proto,
        7001,
        41999,
    ));
    if let Some(z) = zone {
        body.extend(attr(CTA_ZONE, &z.to_be_bytes()));
    }
    message((NFNL_SUBSYS_CTNETLINK << 8) | IPCTNL_MSG_CT_NEW, seq, &body)
}

const LOOPBACK: [u8; 4] = [127, 0, 0, 1];
const HOST: [u8; 4] = [192, 0, 2, 7];
const REMOTE: [u8; 4] = [198, 51, 100, 9];

fn is_host(a: IpAddr) -> bool {
    a.is_loopback() || a == IpAddr::from(HOST)
}

fn on_all(ports: &[u16]) -> Vec<Target> {
    ports
        .iter()
        .map(|&port| Target { addr: None, port })
        .collect()
}

/// Every UDP entry (a matcher keeps no other protocol).
fn any_entry(datagram: &[u8], seq: u32) -> Read {
    let all: Vec<Target> = (0..=u16::MAX)
        .map(|port| Target { addr: None, port })
        .collect();
    let keep = Matcher {
        targets: &all,
        is_local: &|_| true,
    };
    read(datagram, seq, &keep).expect("read")
}

fn done(seq: u32) -> Vec<u8> {
    message(NLMSG_DONE, seq, &0i32.to_ne_bytes())
}

#[test]
fn a_dump_keeps_udp_to_a_published_port_on_the_hosts_addresses_only() {
    let datagram = [
        flow(7, IPPROTO_UDP, LOOPBACK, 17901, None),
        flow(7, IPPROTO_UDP, HOST, 17901, None),
        flow(7, 6, LOOPBACK, 17901, None),
        flow(7, IPPROTO_UDP, LOOPBACK, 5000, Some(3)),
        flow(7, IPPROTO_UDP, REMOTE, 17901, None),
        done(7),
    ]
    .concat();
    let dst = |r: &Read| -> Vec<(IpAddr, u16)> {
        r.entries
            .iter()
            .map(|e| (e.dst.expect("dst"), e.dst_port.expect("port")))
            .collect()
    };
    // On every address: the host's (loopback included), not a remote one, not TCP, not
    // another port.
    let targets = on_all(&[17901]);
    let keep = Matcher {
        targets: &targets,
        is_local: &is_host,
    };
    let got = read(&datagram, 7, &keep).expect("read");
    assert!(got.done);
    assert_eq!(got.errno, None);
    assert_eq!(
        dst(&got),
        [(IpAddr::from(LOOPBACK), 17901), (IpAddr::from(HOST), 17901)]
    );
    // On one address: that one only.
    let targets = [Target {
        addr: Some(IpAddr::from(HOST)),
        port: 17901,
    }];
    let keep = Matcher {
        targets: &targets,
        is_local: &is_host,
    };
    let got = read(&datagram, 7, &keep).expect("read");
    assert_eq!(dst(&got), [(IpAddr::from(HOST), 17901)]);
    // The zone is kept for the delete.
    let all = any_entry(&datagram, 7);
    assert_eq!(all.entries.len(), 4);
    assert_eq!(
        all.entries[2].zone,
        Some(attr(CTA_ZONE, &3u16.to_be_bytes())[..6].to_vec())
    );
    // A dump that continues in the next datagram is not done.
    let part = any_entry(&flow(7, IPPROTO_UDP, LOOPBACK, 17901, None), 7);
    assert!(!part.done);
    assert_eq!(part.entries.len(), 1);
}

#[test]
fn a_delete_names_the_entry_by_its_original_tuple_and_zone() {
    let first = flow(1, IPPROTO_UDP, LOOPBACK, 17901, Some(3));
    let mut e = any_entry(&first, 1).entries.remove(0);
    let orig = tuple(
        CTA_TUPLE_ORIG,
        [127, 0, 0, 1],
        [127, 0, 0, 1],
        IPPROTO_UDP,
        41999,
        17901,
    );
    assert_eq!(e.orig, orig);
    let m = delete_request(libc::AF_INET as u8, 9, &e).expect("a delete");
    assert_eq!(
        u32::from_ne_bytes(m[0..4].try_into().unwrap()) as usize,
        m.len()
    );
    assert_eq!(
        u16::from_ne_bytes(m[4..6].try_into().unwrap()),
        (1 << 8) | 2,
        "IPCTNL_MSG_CT_DELETE of ctnetlink"
    );
    assert_eq!(u16::from_ne_bytes(m[6..8].try_into().unwrap()), 1 | 4);
    assert_eq!(u32::from_ne_bytes(m[8..12].try_into().unwrap()), 9);
    assert_eq!(m[16], libc::AF_INET as u8);
    let zone = attr(CTA_ZONE, &3u16.to_be_bytes());
    assert_eq!(&m[20..], [orig, zone].concat().as_slice());

    // Without its tuple, no delete (it would empty the table).
    e.orig.clear();
    assert_eq!(delete_request(libc::AF_INET as u8, 9, &e), None);

    let dump = dump_request(libc::AF_INET6 as u8, 4);
    assert_eq!(dump.len(), 20);
    assert_eq!(
        u16::from_ne_bytes(dump[6..8].try_into().unwrap()),
        1 | 0x300
    );
    assert_eq!(dump[16], libc::AF_INET6 as u8);
}

#[test]
fn errors_and_other_requests_answers() {
    let enoent = message(NLMSG_ERROR, 5, &(-libc::ENOENT).to_ne_bytes());
    let got = any_entry(&enoent, 5);
    assert!(got.done);
    assert_eq!(got.errno, Some(libc::ENOENT));
    let ack = message(NLMSG_ERROR, 5, &0i32.to_ne_bytes());
    assert_eq!(
        any_entry(&ack, 5),
        Read {
            entries: vec![],
            done: true,
            errno: None
        }
    );
    // A dump that failed on the way says so at its end.
    let failed = message(NLMSG_DONE, 5, &(-libc::EINTR).to_ne_bytes());
    assert_eq!(any_entry(&failed, 5).errno, Some(libc::EINTR));
    // Another request's answers are not ours.
    let other = [flow(4, IPPROTO_UDP, LOOPBACK, 17901, None), done(4)].concat();
    assert_eq!(any_entry(&other, 5), Read::default());
}

#[test]
fn a_damaged_datagram_is_an_error_or_ignored_never_a_panic() {
    let datagram = [flow(7, IPPROTO_UDP, LOOPBACK, 17901, Some(1)), done(7)].concat();
    let targets = on_all(&[17901]);
    let keep = Matcher {
        targets: &targets,
        is_local: &is_host,
    };
    for cut in 0..datagram.len() {
        let _ = read(&datagram[..cut], 7, &keep);
    }
    let mut bad = datagram.clone();
    bad[0] = 200; // a message longer than the datagram
    assert!(read(&bad, 7, &keep).is_err());
    // Attribute lengths that lie, everywhere: still no panic.
    for i in 20..datagram.len() {
        let mut bad = datagram.clone();
        bad[i] = bad[i].wrapping_add(3);
        let _ = read(&bad, 7, &keep);
    }
}
