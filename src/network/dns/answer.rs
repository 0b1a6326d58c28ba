//! One query in, one decision out: a reply built from the table, or "forward this to those
//! servers", or nothing (packets that are not queries). No I/O, so every rule is unit-tested
//! with plain bytes; the server only moves packets.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};

use hickory_proto::op::{Edns, Message, MessageType, OpCode, ResponseCode};
use hickory_proto::rr::rdata::{A, AAAA, PTR};
use hickory_proto::rr::{DNSClass, Name, RData, Record, RecordType};

use super::table::{DnsTable, Found, Lookup, normalize};

/// Time to live of local answers: 0, so that a recreated container's new address is used by
/// the next lookup of any cache that honours TTLs.
pub const ANSWER_TTL: u32 = 0;

/// The EDNS payload size we announce (the DNS flag day's value: no IP fragmentation).
const EDNS_PAYLOAD: u16 = 1232;

/// A DNS header is 12 bytes; anything shorter cannot even be answered with an error.
const HEADER_LEN: usize = 12;

/// Which transport the query came over: only UDP replies are limited in size.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Transport {
    Udp,
    Tcp,
}

/// What to do with one incoming packet.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Outcome {
    /// Send these bytes back.
    Reply(Vec<u8>),
    /// Send the query unchanged to these servers in order (empty = the host's).
    Forward(Vec<SocketAddr>),
    /// Say nothing (a response, or too short to carry an id).
    Drop,
}

/// Decides the fate of `packet` sent by `source` to the server of `network`. `rotate` turns the
/// list of a name with several addresses (round robin across queries).
pub(crate) fn answer(
    table: &DnsTable,
    network: &str,
    source: IpAddr,
    packet: &[u8],
    transport: Transport,
    rotate: usize,
) -> Outcome {
    if packet.len() < HEADER_LEN {
        return Outcome::Drop;
    }
    let request = match Message::from_vec(packet) {
        Ok(m) => m,
        // Never answer something that claims to be a response (no reflection loops).
        Err(_) if packet[2] & 0x80 != 0 => return Outcome::Drop,
        Err(_) => {
            let id = u16::from_be_bytes([packet[0], packet[1]]);
            return encode(Message::error_msg(id, OpCode::Query, ResponseCode::FormErr))
                .map_or(Outcome::Drop, Outcome::Reply);
        }
    };
    if request.metadata.message_type != MessageType::Query {
        return Outcome::Drop;
    }
    if request.metadata.op_code != OpCode::Query {
        return reply(&request, ResponseCode::NotImp, Vec::new(), transport);
    }
    let [query] = request.queries.as_slice() else {
        return reply(&request, ResponseCode::FormErr, Vec::new(), transport);
    };

    let name = normalize(&query.name().to_ascii());
    let ptr_of = (query.query_type() == RecordType::PTR)
        .then(|| arpa_v4(&name))
        .flatten();
    let lookup = match ptr_of {
        Some(ip) => Lookup::Ptr(ip),
        None if query.query_type() == RecordType::AAAA => Lookup::Name6(&name),
        None => Lookup::Name(&name),
    };
    let answers = match table.lookup(network, source, lookup) {
        // Isolation: only endpoints of this network may ask this server anything.
        Found::Stranger => return reply(&request, ResponseCode::Refused, Vec::new(), transport),
        Found::Elsewhere(servers) => return Outcome::Forward(servers),
        Found::Addrs(mut addrs) => {
            let wants_a = matches!(query.query_type(), RecordType::A | RecordType::ANY);
            if !wants_a || !matches!(query.query_class(), DNSClass::IN | DNSClass::ANY) {
                // The name exists but has no record of that type: NOERROR, no answers
                // (NXDOMAIN would make resolvers give up on the A record too).
                Vec::new()
            } else {
                let len = addrs.len();
                addrs.rotate_left(rotate % len);
                addrs
                    .into_iter()
                    .map(|ip| Record::from_rdata(query.name().clone(), ANSWER_TTL, RData::A(A(ip))))
                    .collect()
            }
        }
        Found::Addrs6(mut addrs) => {
            if addrs.is_empty() || !matches!(query.query_class(), DNSClass::IN | DNSClass::ANY) {
                Vec::new()
            } else {
                let len = addrs.len();
                addrs.rotate_left(rotate % len);
                addrs
                    .into_iter()
                    .map(|ip| {
                        Record::from_rdata(query.name().clone(), ANSWER_TTL, RData::AAAA(AAAA(ip)))
                    })
                    .collect()
            }
        }
        Found::Ptr(target) => match Name::from_ascii(format!("{target}.")) {
            Ok(target) => vec![Record::from_rdata(
                query.name().clone(),
                ANSWER_TTL,
                RData::PTR(PTR(target)),
            )],
            Err(_) => Vec::new(),
        },
    };
    reply(&request, ResponseCode::NoError, answers, transport)
}

/// The address of a full `d.c.b.a.in-addr.arpa` name (normalized), None for anything else
/// (partial names, ip6.arpa: those are not ours and get forwarded).
fn arpa_v4(name: &str) -> Option<Ipv4Addr> {
    let labels = name.strip_suffix(".in-addr.arpa")?;
    let mut octets = [0u8; 4];
    let mut parts = labels.split('.');
    for octet in octets.iter_mut().rev() {
        let part = parts.next()?;
        // Digits only: `str::parse` would also take a "+1" no resolver sends.
        if part.is_empty() || part.len() > 3 || !part.bytes().all(|b| b.is_ascii_digit()) {
            return None;
        }
        *octet = part.parse().ok()?;
    }
    parts.next().is_none().then(|| Ipv4Addr::from(octets))
}

/// A response to `request` with its question echoed.
fn reply(
    request: &Message,
    code: ResponseCode,
    answers: Vec<Record>,
    transport: Transport,
) -> Outcome {
    let mut response = Message::response(request.metadata.id, request.metadata.op_code);
    response.metadata.recursion_desired = request.metadata.recursion_desired;
    response.metadata.checking_disabled = request.metadata.checking_disabled;
    response.metadata.recursion_available = true;
    response.metadata.authoritative = code == ResponseCode::NoError;
    response.metadata.response_code = code;
    response.add_queries(request.queries.iter().cloned());
    response.insert_answers(answers);
    if request.edns.is_some() {
        let mut edns = Edns::new();
        edns.set_max_payload(EDNS_PAYLOAD);
        response.set_edns(edns);
    }
    let Some(bytes) = encode(response.clone()) else {
        return Outcome::Drop;
    };
    // Over UDP a reply larger than the asker accepts is cut to the question with TC set,
    // so the stub resolver asks again over TCP.
    let limit = match (transport, &request.edns) {
        (Transport::Tcp, _) => usize::from(u16::MAX),
        (Transport::Udp, Some(edns)) => usize::from(edns.max_payload().max(512)),
        (Transport::Udp, None) => 512,
    };
    if bytes.len() > limit {
        return encode(response.truncate()).map_or(Outcome::Drop, Outcome::Reply);
    }
    Outcome::Reply(bytes)
}

/// SERVFAIL for `packet` (a query that could not be forwarded), None if it does not decode.
pub(crate) fn servfail(packet: &[u8]) -> Option<Vec<u8>> {
    let request = Message::from_vec(packet).ok()?;
    match reply(&request, ResponseCode::ServFail, Vec::new(), Transport::Tcp) {
        Outcome::Reply(bytes) => Some(bytes),
        _ => None,
    }
}

fn encode(message: Message) -> Option<Vec<u8>> {
    message.to_vec().ok()
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use hickory_proto::op::Query;
    use std::net::Ipv4Addr;

    /// A query for `name` of `rtype`, with an id, as a stub resolver sends it.
    pub(crate) fn query(id: u16, name: &str, rtype: RecordType) -> Vec<u8> {
        let mut m = Message::query();
        m.metadata.id = id;
        m.metadata.recursion_desired = true;
        m.add_query(Query::query(Name::from_ascii(name).unwrap(), rtype));
        m.to_vec().unwrap()
    }

    fn table() -> DnsTable {
        let t = DnsTable::new();
        t.set_endpoint(
            "n",
            "c1",
            Ipv4Addr::new(10, 0, 0, 2),
            vec!["web".into(), "w1".into()],
        );
        t.set_endpoint("n", "c2", Ipv4Addr::new(10, 0, 0, 3), vec!["web".into()]);
        t
    }

    const ASKER: IpAddr = IpAddr::V4(Ipv4Addr::new(10, 0, 0, 2));

    fn decode(outcome: Outcome) -> Message {
        match outcome {
            Outcome::Reply(bytes) => Message::from_vec(&bytes).unwrap(),
            other => panic!("expected a reply, got {other:?}"),
        }
    }

    fn a_records(m: &Message) -> Vec<Ipv4Addr> {
        m.answers
            .iter()
            .filter_map(|r| match &r.data {
                RData::A(a) => Some(a.0),
                _ => None,
            })
            .collect()
    }

    #[test]
    fn a_query_gets_every_replica_round_robin() {
        let t = table();
        let first = decode(answer(
            &t,
            "n",
            ASKER,
            &query(7, "Web.", RecordType::A),
            Transport::Udp,
            0,
        ));
        assert_eq!(first.metadata.id, 7);
        assert_eq!(first.metadata.response_code, ResponseCode::NoError);
        assert_eq!(first.queries.len(), 1);
        assert_eq!(
            a_records(&first),
            vec![Ipv4Addr::new(10, 0, 0, 2), Ipv4Addr::new(10, 0, 0, 3)]
        );
        assert!(first.answers.iter().all(|r| r.ttl == ANSWER_TTL));
        let second = decode(answer(
            &t,
            "n",
            ASKER,
            &query(8, "web", RecordType::A),
            Transport::Udp,
            1,
        ));
        assert_eq!(
            a_records(&second),
            vec![Ipv4Addr::new(10, 0, 0, 3), Ipv4Addr::new(10, 0, 0, 2)]
        );
    }

    #[test]
    fn aaaa_of_a_known_name_is_an_empty_noerror() {
        let m = decode(answer(
            &table(),
            "n",
            ASKER,
            &query(1, "web", RecordType::AAAA),
            Transport::Udp,
            0,
        ));
        assert_eq!(m.metadata.response_code, ResponseCode::NoError);
        assert!(m.answers.is_empty());
    }

    #[test]
    fn arpa_names() {
        assert_eq!(
            arpa_v4("4.3.2.1.in-addr.arpa"),
            Some(Ipv4Addr::new(1, 2, 3, 4))
        );
        assert_eq!(arpa_v4("3.2.1.in-addr.arpa"), None);
        assert_eq!(arpa_v4("5.4.3.2.1.in-addr.arpa"), None);
        assert_eq!(arpa_v4("256.3.2.1.in-addr.arpa"), None);
        assert_eq!(arpa_v4("web"), None);
    }

    #[test]
    fn ptr_of_an_endpoint() {
        let q = query(2, "3.0.0.10.in-addr.arpa.", RecordType::PTR);
        let m = decode(answer(&table(), "n", ASKER, &q, Transport::Udp, 0));
        match &m.answers[..] {
            [r] => assert_eq!(r.data, RData::PTR(PTR(Name::from_ascii("web.").unwrap()))),
            other => panic!("{other:?}"),
        }
        let q = query(3, "9.0.0.10.in-addr.arpa.", RecordType::PTR);
        assert_eq!(
            answer(&table(), "n", ASKER, &q, Transport::Udp, 0),
            Outcome::Forward(vec![])
        );
    }

    #[test]
    fn strangers_are_refused() {
        let stranger = IpAddr::V4(Ipv4Addr::new(10, 0, 0, 99));
        let m = decode(answer(
            &table(),
            "n",
            stranger,
            &query(4, "web", RecordType::A),
            Transport::Udp,
            0,
        ));
        assert_eq!(m.metadata.response_code, ResponseCode::Refused);
        assert!(m.answers.is_empty());
        let m = decode(answer(
            &table(),
            "other",
            ASKER,
            &query(4, "web", RecordType::A),
            Transport::Udp,
            0,
        ));
        assert_eq!(m.metadata.response_code, ResponseCode::Refused);
    }

    #[test]
    fn unknown_names_are_forwarded() {
        let t = table();
        let q = query(5, "example.com.", RecordType::A);
        assert_eq!(
            answer(&t, "n", ASKER, &q, Transport::Udp, 0),
            Outcome::Forward(vec![])
        );
        t.set_upstreams("c1", vec!["192.0.2.1".parse().unwrap()]);
        assert_eq!(
            answer(&t, "n", ASKER, &q, Transport::Udp, 0),
            Outcome::Forward(vec!["192.0.2.1:53".parse().unwrap()])
        );
    }

    #[test]
    fn malformed_input_never_panics() {
        let t = table();
        assert_eq!(
            answer(&t, "n", ASKER, &[], Transport::Udp, 0),
            Outcome::Drop
        );
        assert_eq!(
            answer(&t, "n", ASKER, &[1, 2, 3], Transport::Udp, 0),
            Outcome::Drop
        );
        // A header announcing a question that is not there: FORMERR with the id.
        let truncated = [0x12, 0x34, 0x01, 0x00, 0, 1, 0, 0, 0, 0, 0, 0, 3, b'w'];
        let m = decode(answer(&t, "n", ASKER, &truncated, Transport::Udp, 0));
        assert_eq!(
            (m.metadata.id, m.metadata.response_code),
            (0x1234, ResponseCode::FormErr)
        );
        // No question at all.
        let empty = [0, 9, 0x01, 0x00, 0, 0, 0, 0, 0, 0, 0, 0];
        let m = decode(answer(&t, "n", ASKER, &empty, Transport::Udp, 0));
        assert_eq!(m.metadata.response_code, ResponseCode::FormErr);
        // A response (QR set) is never answered.
        let mut resp = query(6, "web", RecordType::A);
        resp[2] |= 0x80;
        assert_eq!(
            answer(&t, "n", ASKER, &resp, Transport::Udp, 0),
            Outcome::Drop
        );
        // Every prefix and a byte flipped anywhere: no panic.
        let q = query(6, "web", RecordType::A);
        for len in 0..q.len() {
            let _ = answer(&t, "n", ASKER, &q[..len], Transport::Udp, 0);
        }
        for i in 0..q.len() {
            for bit in 0..8 {
                let mut bad = q.clone();
                bad[i] ^= 1 << bit;
                let _ = answer(&t, "n", ASKER, &bad, Transport::Tcp, 0);
            }
        }
    }

    #[test]
    fn edns_queries_get_an_opt_record_and_a_larger_udp_limit() {
        let t = DnsTable::new();
        for i in 0..60u8 {
            t.set_endpoint(
                "n",
                &format!("c{i}"),
                Ipv4Addr::new(10, 0, 1, i),
                vec!["big".into()],
            );
        }
        let mut m = Message::from_vec(&query(11, "big", RecordType::A)).unwrap();
        let mut edns = Edns::new();
        edns.set_max_payload(4096);
        m.set_edns(edns);
        let q = m.to_vec().unwrap();
        let asker = IpAddr::V4(Ipv4Addr::new(10, 0, 1, 0));
        let r = decode(answer(&t, "n", asker, &q, Transport::Udp, 0));
        assert!(r.edns.is_some());
        assert!(!r.metadata.truncation);
        assert_eq!(r.answers.len(), 60);
    }

    #[test]
    fn other_opcodes_are_not_implemented() {
        let mut q = query(9, "web", RecordType::A);
        q[2] = (q[2] & !0x78) | (2 << 3); // opcode STATUS
        let m = decode(answer(&table(), "n", ASKER, &q, Transport::Udp, 0));
        assert_eq!(m.metadata.response_code, ResponseCode::NotImp);
    }

    #[test]
    fn many_replicas_truncate_over_udp_only() {
        let t = DnsTable::new();
        for i in 0..60u8 {
            t.set_endpoint(
                "n",
                &format!("c{i}"),
                Ipv4Addr::new(10, 0, 1, i),
                vec!["big".into()],
            );
        }
        let asker = IpAddr::V4(Ipv4Addr::new(10, 0, 1, 0));
        let q = query(10, "big", RecordType::A);
        let udp = decode(answer(&t, "n", asker, &q, Transport::Udp, 0));
        assert!(udp.metadata.truncation);
        assert!(udp.answers.is_empty());
        let tcp = decode(answer(&t, "n", asker, &q, Transport::Tcp, 0));
        assert!(!tcp.metadata.truncation);
        assert_eq!(tcp.answers.len(), 60);
    }
}
