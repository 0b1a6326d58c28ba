//! The sockets of one network's resolver: UDP and TCP on one address (the network's gateway,
//! port 53, in production), answering from the shared `DnsTable` and forwarding the rest.
//! Everything runs as tasks of the daemon's tokio runtime and stops when the `DnsServer` drops.

use std::net::{IpAddr, SocketAddr};
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use tokio::net::{TcpListener, TcpStream, UdpSocket};
use tokio::sync::{OwnedSemaphorePermit, Semaphore};
use tokio::task::{JoinHandle, JoinSet};
use tokio::time::timeout;

use super::answer::{Outcome, Transport, answer, servfail};
use super::resolv::HostResolvers;
use super::table::DnsTable;
use super::{DnsError, forward};

/// How a server forwards; `Default` is production's.
#[derive(Debug, Clone)]
pub struct DnsOptions {
    /// The host's resolver configuration, for containers without `dns:` servers.
    pub resolv_conf: PathBuf,
    /// Replaces the host's servers from `resolv_conf` (tests: a fake upstream on a high port).
    pub host_upstreams: Option<Vec<SocketAddr>>,
    /// How long one upstream server gets before the next is tried.
    pub forward_timeout: Duration,
    /// Forwards in flight at once (per server); past it a query gets SERVFAIL at once.
    pub max_forwards: usize,
    /// TCP connections served at once; past it new ones are closed.
    pub max_tcp_connections: usize,
    /// A TCP connection with no new query for this long is closed.
    pub tcp_idle_timeout: Duration,
}

impl Default for DnsOptions {
    fn default() -> Self {
        Self {
            resolv_conf: PathBuf::from("/etc/resolv.conf"),
            host_upstreams: None,
            forward_timeout: Duration::from_secs(2),
            max_forwards: 256,
            max_tcp_connections: 256,
            tcp_idle_timeout: Duration::from_secs(10),
        }
    }
}

/// One network's resolver. Serves until dropped.
#[derive(Debug)]
pub struct DnsServer {
    local_addr: SocketAddr,
    tasks: Vec<JoinHandle<()>>,
}

impl Drop for DnsServer {
    fn drop(&mut self) {
        // Aborting a loop drops its JoinSet, which aborts the forwards and TCP connections it
        // spawned, and its socket, which frees the address.
        for task in &self.tasks {
            task.abort();
        }
    }
}

/// What every task of one server shares.
struct Shared {
    table: DnsTable,
    network: String,
    own: SocketAddr,
    host: Option<HostResolvers>,
    options: DnsOptions,
    forwards: Arc<Semaphore>,
    rotate: AtomicUsize,
}

impl DnsServer {
    /// Serves `network`'s names on `addr` (UDP and TCP) with production options. Port 0 picks a
    /// free port, the same for both (see `local_addr`). Must run inside a tokio runtime.
    pub async fn start(
        table: DnsTable,
        network: String,
        addr: SocketAddr,
    ) -> Result<Self, DnsError> {
        Self::start_with(table, network, addr, DnsOptions::default()).await
    }

    /// `start` with explicit options.
    pub async fn start_with(
        table: DnsTable,
        network: String,
        addr: SocketAddr,
        options: DnsOptions,
    ) -> Result<Self, DnsError> {
        let (udp, tcp) = bind(&network, addr).await?;
        let local_addr = udp.local_addr().map_err(|source| DnsError::Bind {
            network: network.clone(),
            addr,
            proto: "udp",
            source,
        })?;
        let host = match options.host_upstreams {
            Some(_) => None,
            None => Some(HostResolvers::new(options.resolv_conf.clone())),
        };
        let shared = Arc::new(Shared {
            table,
            network,
            own: local_addr,
            host,
            forwards: Arc::new(Semaphore::new(options.max_forwards)),
            options,
            rotate: AtomicUsize::new(0),
        });
        let tasks = vec![
            tokio::spawn(serve_udp(shared.clone(), Arc::new(udp))),
            tokio::spawn(serve_tcp(shared, tcp)),
        ];
        Ok(Self { local_addr, tasks })
    }

    /// The address served (UDP and TCP), with the port chosen when 0 was asked.
    pub fn local_addr(&self) -> SocketAddr {
        self.local_addr
    }
}

/// UDP and TCP on the same address. With port 0 the UDP port is chosen first and TCP takes
/// the same number; should that be taken over TCP, try again with another.
async fn bind(network: &str, addr: SocketAddr) -> Result<(UdpSocket, TcpListener), DnsError> {
    let err = |proto: &'static str| {
        move |source| DnsError::Bind {
            network: network.to_string(),
            addr,
            proto,
            source,
        }
    };
    let mut attempts = 0;
    loop {
        let udp = UdpSocket::bind(addr).await.map_err(err("udp"))?;
        let port = udp.local_addr().map_err(err("udp"))?.port();
        match TcpListener::bind(SocketAddr::new(addr.ip(), port)).await {
            Ok(tcp) => return Ok((udp, tcp)),
            Err(_) if addr.port() == 0 && attempts < 16 => attempts += 1,
            Err(source) => return Err(err("tcp")(source)),
        }
    }
}

impl Shared {
    /// The servers to forward to: the container's own, else the host's; never ourselves
    /// (a container whose `dns:` names the gateway would make a loop).
    fn upstreams(&self, own: Vec<SocketAddr>) -> Vec<SocketAddr> {
        let mut servers = if !own.is_empty() {
            own
        } else if let Some(fixed) = &self.options.host_upstreams {
            fixed.clone()
        } else {
            self.host
                .as_ref()
                .map(HostResolvers::servers)
                .unwrap_or_default()
        };
        servers.retain(|s| *s != self.own);
        servers
    }

    fn answer(&self, source: IpAddr, packet: &[u8], transport: Transport) -> Outcome {
        let rotate = self.rotate.fetch_add(1, Ordering::Relaxed);
        answer(
            &self.table,
            &self.network,
            source,
            packet,
            transport,
            rotate,
        )
    }

    /// Forwards `query`; SERVFAIL when no server answered.
    async fn forward(
        &self,
        query: &[u8],
        servers: Vec<SocketAddr>,
        transport: Transport,
    ) -> Option<Vec<u8>> {
        let servers = self.upstreams(servers);
        let each = self.options.forward_timeout;
        let reply = match transport {
            Transport::Udp => forward::udp(query, &servers, each).await,
            Transport::Tcp => forward::tcp(query, &servers, each).await,
        };
        reply.or_else(|| servfail(query))
    }

    fn permit(&self) -> Option<OwnedSemaphorePermit> {
        self.forwards.clone().try_acquire_owned().ok()
    }
}

async fn serve_udp(shared: Arc<Shared>, socket: Arc<UdpSocket>) {
    let mut buf = vec![0u8; 65_535];
    let mut forwards = JoinSet::new();
    loop {
        while forwards.try_join_next().is_some() {}
        let Ok((len, source)) = socket.recv_from(&mut buf).await else {
            // Transient (e.g. an ICMP error reported on the socket): keep serving.
            continue;
        };
        let packet = &buf[..len];
        match shared.answer(source.ip(), packet, Transport::Udp) {
            Outcome::Reply(reply) => {
                let _ = socket.send_to(&reply, source).await;
            }
            Outcome::Drop => {}
            Outcome::Forward(servers) => {
                let Some(permit) = shared.permit() else {
                    if let Some(reply) = servfail(packet) {
                        let _ = socket.send_to(&reply, source).await;
                    }
                    continue;
                };
                let (shared, socket, query) = (shared.clone(), socket.clone(), packet.to_vec());
                forwards.spawn(async move {
                    let _permit = permit;
                    if let Some(reply) = shared.forward(&query, servers, Transport::Udp).await {
                        let _ = socket.send_to(&reply, source).await;
                    }
                });
            }
        }
    }
}

async fn serve_tcp(shared: Arc<Shared>, listener: TcpListener) {
    let connections = Arc::new(Semaphore::new(shared.options.max_tcp_connections));
    let mut children = JoinSet::new();
    loop {
        while children.try_join_next().is_some() {}
        let (stream, peer) = match listener.accept().await {
            Ok(accepted) => accepted,
            Err(_) => {
                // Out of file descriptors and the like: back off instead of spinning.
                tokio::time::sleep(Duration::from_millis(50)).await;
                continue;
            }
        };
        let Ok(permit) = connections.clone().try_acquire_owned() else {
            continue; // dropping the stream closes it
        };
        children.spawn(serve_connection(shared.clone(), stream, peer.ip(), permit));
    }
}

/// Queries of one TCP connection, one after the other, until EOF, an error or idleness.
async fn serve_connection(
    shared: Arc<Shared>,
    mut stream: TcpStream,
    peer: IpAddr,
    _permit: OwnedSemaphorePermit,
) {
    let _ = stream.set_nodelay(true);
    loop {
        let Ok(Some(query)) = timeout(
            shared.options.tcp_idle_timeout,
            forward::read_framed(&mut stream),
        )
        .await
        else {
            return;
        };
        let reply = match shared.answer(peer, &query, Transport::Tcp) {
            Outcome::Reply(reply) => reply,
            Outcome::Drop => continue,
            Outcome::Forward(servers) => match shared.permit() {
                Some(_permit) => match shared.forward(&query, servers, Transport::Tcp).await {
                    Some(reply) => reply,
                    None => continue,
                },
                None => match servfail(&query) {
                    Some(reply) => reply,
                    None => continue,
                },
            },
        };
        if forward::write_framed(&mut stream, &reply).await.is_none() {
            return;
        }
    }
}
