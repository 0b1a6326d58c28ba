//! Relaying a query the table cannot answer to upstream servers, unchanged, and their answer
//! back unchanged: UDP to UDP, TCP to TCP (a client that got a truncated UDP answer asks again
//! over TCP and must get the full one). Servers are tried in order, each with a timeout.

use std::net::{Ipv4Addr, Ipv6Addr, SocketAddr};
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpStream, UdpSocket};
use tokio::time::{Instant, timeout, timeout_at};

/// The largest DNS message (its length is a u16 on TCP).
const MAX_MESSAGE: usize = 65_535;

/// The first answer of `servers` to `query` over UDP, or None when none answered in time.
pub(crate) async fn udp(query: &[u8], servers: &[SocketAddr], each: Duration) -> Option<Vec<u8>> {
    for server in servers {
        if let Some(reply) = udp_one(query, *server, each).await {
            return Some(reply);
        }
    }
    None
}

async fn udp_one(query: &[u8], server: SocketAddr, each: Duration) -> Option<Vec<u8>> {
    let local: SocketAddr = match server {
        SocketAddr::V4(_) => (Ipv4Addr::UNSPECIFIED, 0).into(),
        SocketAddr::V6(_) => (Ipv6Addr::UNSPECIFIED, 0).into(),
    };
    // A fresh socket per query: a random source port (spoofing resistance), and connect()
    // makes the kernel drop datagrams from anyone but the server and report a closed port
    // at once (ECONNREFUSED) instead of after the timeout.
    let socket = UdpSocket::bind(local).await.ok()?;
    socket.connect(server).await.ok()?;
    socket.send(query).await.ok()?;
    let deadline = Instant::now() + each;
    let mut buf = vec![0u8; MAX_MESSAGE];
    loop {
        let len = timeout_at(deadline, socket.recv(&mut buf))
            .await
            .ok()?
            .ok()?;
        // A late answer to an earlier query on a reused port has another id: wait for ours.
        if len >= 2 && buf[..2] == query[..2] {
            buf.truncate(len);
            return Some(buf);
        }
    }
}

/// The first answer of `servers` to `query` over TCP, or None when none answered in time.
pub(crate) async fn tcp(query: &[u8], servers: &[SocketAddr], each: Duration) -> Option<Vec<u8>> {
    for server in servers {
        if let Ok(Some(reply)) = timeout(each, tcp_one(query, *server)).await {
            return Some(reply);
        }
    }
    None
}

async fn tcp_one(query: &[u8], server: SocketAddr) -> Option<Vec<u8>> {
    let mut stream = TcpStream::connect(server).await.ok()?;
    write_framed(&mut stream, query).await?;
    read_framed(&mut stream).await
}

/// One length-prefixed DNS message from a TCP stream; None at EOF or on error.
pub(crate) async fn read_framed<R: AsyncReadExt + Unpin>(stream: &mut R) -> Option<Vec<u8>> {
    let mut len = [0u8; 2];
    stream.read_exact(&mut len).await.ok()?;
    let mut buf = vec![0u8; usize::from(u16::from_be_bytes(len))];
    stream.read_exact(&mut buf).await.ok()?;
    Some(buf)
}

/// Writes one length-prefixed DNS message (in one write: one segment for small answers).
pub(crate) async fn write_framed<W: AsyncWriteExt + Unpin>(
    stream: &mut W,
    message: &[u8],
) -> Option<()> {
    let len = u16::try_from(message.len()).ok()?;
    let mut framed = Vec::with_capacity(message.len() + 2);
    framed.extend_from_slice(&len.to_be_bytes());
    framed.extend_from_slice(message);
    stream.write_all(&framed).await.ok()
}
