//! The resolver over real sockets on loopback: clients bind distinct 127.0.0.x source
//! addresses to be distinct endpoints, fake upstreams listen on 127.0.0.1 high ports.
//! Timeouts here only keep a broken server from hanging the test run.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use hickory_proto::op::{Message, Query, ResponseCode};
use hickory_proto::rr::rdata::A;
use hickory_proto::rr::{RData, Record, RecordType};
use tokio::net::{TcpListener, TcpStream, UdpSocket};
use tokio::task::JoinHandle;
use tokio::time::timeout;

use super::forward::{read_framed, write_framed};
use super::{DnsOptions, DnsServer, DnsTable};

const WAIT: Duration = Duration::from_secs(10);

fn lo(last: u8) -> Ipv4Addr {
    Ipv4Addr::new(127, 0, 0, last)
}

fn names(list: &[&str]) -> Vec<String> {
    list.iter().map(|s| s.to_string()).collect()
}

fn options(upstreams: Vec<SocketAddr>) -> DnsOptions {
    DnsOptions {
        host_upstreams: Some(upstreams),
        forward_timeout: Duration::from_millis(500),
        ..DnsOptions::default()
    }
}

async fn start(table: &DnsTable, network: &str, options: DnsOptions) -> DnsServer {
    let addr = SocketAddr::new(IpAddr::V4(lo(1)), 0);
    DnsServer::start_with(table.clone(), network.to_string(), addr, options)
        .await
        .unwrap()
}

fn query_bytes(id: u16, name: &str, rtype: RecordType) -> Vec<u8> {
    super::answer::tests::query(id, name, rtype)
}

/// One raw UDP exchange from `from`; None when nothing came back in time.
async fn udp_raw(
    server: SocketAddr,
    from: Ipv4Addr,
    packet: &[u8],
    wait: Duration,
) -> Option<Vec<u8>> {
    let socket = UdpSocket::bind((from, 0)).await.unwrap();
    socket.send_to(packet, server).await.unwrap();
    let mut buf = vec![0u8; 65_535];
    let (len, _) = timeout(wait, socket.recv_from(&mut buf))
        .await
        .ok()?
        .unwrap();
    buf.truncate(len);
    Some(buf)
}

async fn ask(server: &DnsServer, from: Ipv4Addr, name: &str, rtype: RecordType) -> Message {
    let reply = udp_raw(
        server.local_addr(),
        from,
        &query_bytes(77, name, rtype),
        WAIT,
    )
    .await
    .expect("an answer");
    let message = Message::from_vec(&reply).unwrap();
    assert_eq!(message.metadata.id, 77);
    message
}

async fn ask_tcp(server: &DnsServer, from: Ipv4Addr, name: &str, rtype: RecordType) -> Message {
    let socket = tokio::net::TcpSocket::new_v4().unwrap();
    socket.bind((from, 0).into()).unwrap();
    let mut stream = socket.connect(server.local_addr()).await.unwrap();
    write_framed(&mut stream, &query_bytes(78, name, rtype))
        .await
        .unwrap();
    let reply = timeout(WAIT, read_framed(&mut stream))
        .await
        .unwrap()
        .expect("an answer");
    Message::from_vec(&reply).unwrap()
}

fn addrs(m: &Message) -> Vec<Ipv4Addr> {
    let mut a: Vec<Ipv4Addr> = m
        .answers
        .iter()
        .filter_map(|r| match &r.data {
            RData::A(a) => Some(a.0),
            _ => None,
        })
        .collect();
    a.sort();
    a
}

/// A fake upstream answering every A query with 192.0.2.<last>, counting the queries.
struct Upstream {
    addr: SocketAddr,
    queries: Arc<AtomicUsize>,
    task: JoinHandle<()>,
}

impl Drop for Upstream {
    fn drop(&mut self) {
        self.task.abort();
    }
}

fn upstream_answer(query: &[u8], last: u8) -> Option<Vec<u8>> {
    let request = Message::from_vec(query).ok()?;
    let mut response = Message::response(request.metadata.id, request.metadata.op_code);
    let question: Query = request.queries.first()?.clone();
    let record = Record::from_rdata(
        question.name().clone(),
        60,
        RData::A(A(Ipv4Addr::new(192, 0, 2, last))),
    );
    response.add_query(question);
    response.add_answer(record);
    response.to_vec().ok()
}

async fn udp_upstream(last: u8) -> Upstream {
    let socket = UdpSocket::bind((lo(1), 0)).await.unwrap();
    let addr = socket.local_addr().unwrap();
    let queries = Arc::new(AtomicUsize::new(0));
    let count = queries.clone();
    let task = tokio::spawn(async move {
        let mut buf = vec![0u8; 65_535];
        while let Ok((len, from)) = socket.recv_from(&mut buf).await {
            count.fetch_add(1, Ordering::SeqCst);
            if let Some(reply) = upstream_answer(&buf[..len], last) {
                let _ = socket.send_to(&reply, from).await;
            }
        }
    });
    Upstream {
        addr,
        queries,
        task,
    }
}

async fn tcp_upstream(last: u8) -> Upstream {
    let listener = TcpListener::bind((lo(1), 0)).await.unwrap();
    let addr = listener.local_addr().unwrap();
    let queries = Arc::new(AtomicUsize::new(0));
    let count = queries.clone();
    let task = tokio::spawn(async move {
        while let Ok((mut stream, _)) = listener.accept().await {
            while let Some(query) = read_framed(&mut stream).await {
                count.fetch_add(1, Ordering::SeqCst);
                if let Some(reply) = upstream_answer(&query, last) {
                    let _ = write_framed(&mut stream, &reply).await;
                }
            }
        }
    });
    Upstream {
        addr,
        queries,
        task,
    }
}

#[tokio::test]
async fn udp_answers_service_container_host_and_alias_names() {
    let table = DnsTable::new();
    table.set_endpoint(
        "net",
        "c1",
        lo(2),
        names(&["web", "proj-web-1", "webhost", "frontend", "c1short"]),
    );
    table.set_endpoint("net", "c2", lo(3), names(&["client"]));
    let server = start(&table, "net", options(vec![])).await;
    for name in [
        "web",
        "WEB.",
        "proj-web-1",
        "webhost",
        "frontend",
        "c1short",
    ] {
        let m = ask(&server, lo(3), name, RecordType::A).await;
        assert_eq!(m.metadata.response_code, ResponseCode::NoError, "{name}");
        assert_eq!(addrs(&m), vec![lo(2)], "{name}");
    }
    let m = ask(&server, lo(3), "web", RecordType::AAAA).await;
    assert_eq!(
        (m.metadata.response_code, m.answers.len()),
        (ResponseCode::NoError, 0)
    );
    let m = ask(&server, lo(3), "2.0.0.127.in-addr.arpa", RecordType::PTR).await;
    assert_eq!(m.answers.len(), 1);
}

#[tokio::test]
async fn udp_replicas_give_every_address() {
    let table = DnsTable::new();
    for i in 2..5 {
        table.set_endpoint("net", &format!("web-{i}"), lo(i), names(&["web"]));
    }
    let server = start(&table, "net", options(vec![])).await;
    let m = ask(&server, lo(2), "web", RecordType::A).await;
    assert_eq!(addrs(&m), vec![lo(2), lo(3), lo(4)]);
}

#[tokio::test]
async fn strangers_and_other_networks_are_refused() {
    let table = DnsTable::new();
    table.set_endpoint("front", "c1", lo(2), names(&["web"]));
    table.set_endpoint("back", "c2", lo(3), names(&["db"]));
    let upstream = udp_upstream(9).await;
    let front = start(&table, "front", options(vec![upstream.addr])).await;
    // An address of no endpoint, and an endpoint of another network, over UDP and TCP.
    for from in [lo(3), lo(50)] {
        let m = ask(&front, from, "web", RecordType::A).await;
        assert_eq!(m.metadata.response_code, ResponseCode::Refused);
        assert!(m.answers.is_empty());
        let m = ask(&front, from, "example.com", RecordType::A).await;
        assert_eq!(m.metadata.response_code, ResponseCode::Refused);
        let m = ask_tcp(&front, from, "web", RecordType::A).await;
        assert_eq!(m.metadata.response_code, ResponseCode::Refused);
    }
    // Strangers cost the upstream nothing.
    assert_eq!(upstream.queries.load(Ordering::SeqCst), 0);
}

#[tokio::test]
async fn links_are_resolved_only_by_their_container() {
    let table = DnsTable::new();
    table.set_endpoint("net", "client", lo(2), names(&["client"]));
    table.set_endpoint("net", "other", lo(3), names(&["other"]));
    table.set_endpoint("net", "db", lo(4), names(&["db"]));
    table.set_links("client", vec![("database".into(), "db".into())]);
    let server = start(&table, "net", options(vec![])).await;
    assert_eq!(
        addrs(&ask(&server, lo(2), "database", RecordType::A).await),
        vec![lo(4)]
    );
    let m = ask(&server, lo(3), "database", RecordType::A).await;
    // Not a name for `other`: forwarded, and with no upstream that is SERVFAIL.
    assert_eq!(
        (m.metadata.response_code, m.answers.len()),
        (ResponseCode::ServFail, 0)
    );
}

#[tokio::test]
async fn changes_are_answered_by_the_next_query() {
    let table = DnsTable::new();
    table.set_endpoint("net", "client", lo(2), names(&["client"]));
    table.set_endpoint("net", "web-old", lo(3), names(&["web"]));
    let server = start(&table, "net", options(vec![])).await;
    assert_eq!(
        addrs(&ask(&server, lo(2), "web", RecordType::A).await),
        vec![lo(3)]
    );
    // Recreated: the old container goes, the new one has another address.
    table.remove_container("web-old");
    table.set_endpoint("net", "web-new", lo(4), names(&["web"]));
    let m = ask(&server, lo(2), "web", RecordType::A).await;
    assert_eq!(addrs(&m), vec![lo(4)]);
    assert!(m.answers.iter().all(|r| r.ttl == 0));
    table.remove_container("web-new");
    let m = ask(&server, lo(2), "web", RecordType::A).await;
    assert_eq!(
        (m.metadata.response_code, m.answers.len()),
        (ResponseCode::ServFail, 0)
    );
    table.remove_network("net");
    let m = ask(&server, lo(2), "web", RecordType::A).await;
    assert_eq!(m.metadata.response_code, ResponseCode::Refused);
}

#[tokio::test]
async fn unknown_names_are_forwarded_over_udp() {
    let table = DnsTable::new();
    table.set_endpoint("net", "c1", lo(2), names(&["web"]));
    table.set_endpoint("net", "c2", lo(3), names(&["other"]));
    let host = udp_upstream(1).await;
    let own = udp_upstream(2).await;
    table.set_upstream_addrs("c2", vec![own.addr]);
    let server = start(&table, "net", options(vec![host.addr])).await;
    // c1 uses the host's servers, c2 its own.
    let m = ask(&server, lo(2), "example.com", RecordType::A).await;
    assert_eq!(addrs(&m), vec![Ipv4Addr::new(192, 0, 2, 1)]);
    let m = ask(&server, lo(3), "example.com", RecordType::A).await;
    assert_eq!(addrs(&m), vec![Ipv4Addr::new(192, 0, 2, 2)]);
    assert_eq!(
        (
            host.queries.load(Ordering::SeqCst),
            own.queries.load(Ordering::SeqCst)
        ),
        (1, 1)
    );
}

#[tokio::test]
async fn a_silent_upstream_is_skipped_for_the_next() {
    let table = DnsTable::new();
    table.set_endpoint("net", "c1", lo(2), names(&["web"]));
    // Bound but never reading: the forward times out there and goes on.
    let silent = UdpSocket::bind((lo(1), 0)).await.unwrap();
    let good = udp_upstream(5).await;
    let server = start(
        &table,
        "net",
        options(vec![silent.local_addr().unwrap(), good.addr]),
    )
    .await;
    let m = ask(&server, lo(2), "example.org", RecordType::A).await;
    assert_eq!(addrs(&m), vec![Ipv4Addr::new(192, 0, 2, 5)]);
}

#[tokio::test]
async fn no_reachable_upstream_is_servfail() {
    let table = DnsTable::new();
    table.set_endpoint("net", "c1", lo(2), names(&["web"]));
    let closed = UdpSocket::bind((lo(1), 0))
        .await
        .unwrap()
        .local_addr()
        .unwrap(); // dropped: closed port
    let server = start(&table, "net", options(vec![closed])).await;
    let m = ask(&server, lo(2), "example.org", RecordType::A).await;
    assert_eq!(m.metadata.response_code, ResponseCode::ServFail);
    assert_eq!(m.queries.len(), 1);
}

#[tokio::test]
async fn forwards_past_the_bound_get_servfail_at_once() {
    let table = DnsTable::new();
    table.set_endpoint("net", "c1", lo(2), names(&["web"]));
    let upstream = udp_upstream(1).await;
    let full = DnsOptions {
        max_forwards: 0,
        ..options(vec![upstream.addr])
    };
    let server = start(&table, "net", full).await;
    let m = ask(&server, lo(2), "example.org", RecordType::A).await;
    assert_eq!(m.metadata.response_code, ResponseCode::ServFail);
    let m = ask_tcp(&server, lo(2), "example.org", RecordType::A).await;
    assert_eq!(m.metadata.response_code, ResponseCode::ServFail);
    assert_eq!(upstream.queries.load(Ordering::SeqCst), 0);
    // Local names do not need a forward slot.
    assert_eq!(
        addrs(&ask(&server, lo(2), "web", RecordType::A).await),
        vec![lo(2)]
    );
}

#[tokio::test]
async fn a_container_naming_this_server_as_upstream_makes_no_loop() {
    let table = DnsTable::new();
    table.set_endpoint("net", "c1", lo(2), names(&["web"]));
    let server = start(&table, "net", options(vec![])).await;
    table.set_upstream_addrs("c1", vec![server.local_addr()]);
    let m = ask(&server, lo(2), "example.org", RecordType::A).await;
    assert_eq!(m.metadata.response_code, ResponseCode::ServFail);
}

#[tokio::test]
async fn tcp_answers_and_forwards_over_tcp() {
    let table = DnsTable::new();
    table.set_endpoint("net", "c1", lo(2), names(&["web"]));
    table.set_endpoint("net", "c2", lo(3), names(&["web"]));
    let udp = udp_upstream(1).await;
    let tcp = tcp_upstream(1).await;
    // The container's server speaks TCP only; the host's UDP only: a TCP query must go to
    // the former over TCP.
    table.set_upstream_addrs("c1", vec![tcp.addr]);
    let server = start(&table, "net", options(vec![udp.addr])).await;
    let m = ask_tcp(&server, lo(2), "web", RecordType::A).await;
    assert_eq!(addrs(&m), vec![lo(2), lo(3)]);
    let m = ask_tcp(&server, lo(2), "example.net", RecordType::A).await;
    assert_eq!(addrs(&m), vec![Ipv4Addr::new(192, 0, 2, 1)]);
    assert_eq!(
        (
            tcp.queries.load(Ordering::SeqCst),
            udp.queries.load(Ordering::SeqCst)
        ),
        (1, 0)
    );
}

#[tokio::test]
async fn malformed_packets_do_not_stop_the_server() {
    let table = DnsTable::new();
    table.set_endpoint("net", "c1", lo(2), names(&["web"]));
    let server = start(&table, "net", options(vec![])).await;
    let addr = server.local_addr();
    // Too short to carry an id: dropped (no reply, so only a short wait).
    assert_eq!(
        udp_raw(addr, lo(2), &[1, 2, 3], Duration::from_millis(200)).await,
        None
    );
    // A header announcing a question that is not there: FORMERR.
    let bad = [0xab, 0xcd, 0x01, 0x00, 0, 1, 0, 0, 0, 0, 0, 0, 0x3f, b'x'];
    let reply = udp_raw(addr, lo(2), &bad, WAIT).await.expect("FORMERR");
    let m = Message::from_vec(&reply).unwrap();
    assert_eq!(
        (m.metadata.id, m.metadata.response_code),
        (0xabcd, ResponseCode::FormErr)
    );
    // Garbage over TCP, then a good query on the same connection.
    let mut stream = TcpStream::connect(addr).await.unwrap();
    let mut garbage = vec![0x11, 0x22, 0x01, 0x00];
    garbage.extend_from_slice(&[0xff; 40]);
    write_framed(&mut stream, &garbage).await.unwrap();
    let reply = timeout(WAIT, read_framed(&mut stream))
        .await
        .unwrap()
        .expect("FORMERR");
    assert_eq!(
        Message::from_vec(&reply).unwrap().metadata.response_code,
        ResponseCode::FormErr
    );
    drop(stream);
    // Still serving.
    assert_eq!(
        addrs(&ask(&server, lo(2), "web", RecordType::A).await),
        vec![lo(2)]
    );
}

#[tokio::test]
async fn dropping_the_server_frees_its_address() {
    let table = DnsTable::new();
    let server = start(&table, "net", options(vec![])).await;
    let addr = server.local_addr();
    drop(server);
    // The aborted tasks release their sockets when the runtime next drops them.
    for _ in 0..500 {
        if UdpSocket::bind(addr).await.is_ok() && TcpListener::bind(addr).await.is_ok() {
            return;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    panic!("{addr} still taken after the server was dropped");
}

/// Median time of a service-name answer over UDP, client and server in this process (run by
/// hand: `cargo test --lib network::dns::tests::bench -- --ignored --nocapture`).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore]
async fn bench_udp_service_name_median() {
    let table = DnsTable::new();
    // A busy network: 200 endpoints, the service with 3 replicas.
    for i in 0..200u16 {
        let ip = Ipv4Addr::new(10, 88, (i / 250) as u8, (i % 250) as u8 + 2);
        table.set_endpoint(
            "net",
            &format!("c{i}"),
            ip,
            names(&[&format!("svc{i}"), &format!("proj-svc{i}-1")]),
        );
    }
    for i in 0..3 {
        table.set_endpoint(
            "net",
            &format!("web{i}"),
            lo(10 + i),
            names(&["web", &format!("proj-web-{i}")]),
        );
    }
    table.set_endpoint("net", "client", lo(2), names(&["client"]));
    let server = start(&table, "net", options(vec![])).await;
    let socket = UdpSocket::bind((lo(2), 0)).await.unwrap();
    socket.connect(server.local_addr()).await.unwrap();
    let query = query_bytes(1, "web", RecordType::A);
    let mut buf = vec![0u8; 4096];
    let mut times = Vec::with_capacity(20_000);
    for round in 0..21_000 {
        let started = Instant::now();
        socket.send(&query).await.unwrap();
        let len = socket.recv(&mut buf).await.unwrap();
        if round >= 1_000 {
            times.push(started.elapsed());
        }
        assert!(len > 12);
    }
    times.sort();
    let median = times[times.len() / 2];
    let p99 = times[times.len() * 99 / 100];
    println!(
        "dns: service name over UDP, {} queries: median {median:?}, p99 {p99:?}",
        times.len()
    );
}
