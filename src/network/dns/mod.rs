//! The daemon's embedded DNS resolver, one per network, like Docker's 127.0.0.11: containers
//! resolve the service names, container names, hostnames, aliases and links of the networks
//! they share; any other name goes to their `dns:` servers or the host's.
//!
//! How the daemon uses it:
//! - one [`DnsTable`] for the whole daemon (cheap to clone; every clone is the same table);
//! - per network, [`DnsServer::start`]`(table.clone(), network, gateway:53)` when the network
//!   comes up; dropping the server stops it;
//! - per container start: [`DnsTable::set_endpoint`] for each network it joins (service name,
//!   container name, hostname, aliases, short id), [`DnsTable::set_links`],
//!   [`DnsTable::set_upstreams`]; at its stop [`DnsTable::remove_container`]; at network removal
//!   [`DnsTable::remove_network`]. Every change is answered by the very next query.
//!
//! Rules (see `answer`): the asker is the endpoint whose address is the query's source; anyone
//! else gets REFUSED (isolation between networks). An A query gets the asker's link alias
//! first, else every endpoint of the network with that name (all replicas, rotated per query),
//! TTL 0; other types of a known name get an empty NOERROR; PTR of an endpoint's address gives
//! its first name; everything else is forwarded unchanged (UDP as UDP, TCP as TCP, 2 s per
//! server, next server on timeout), SERVFAIL when none answers. Malformed queries get FORMERR
//! or are dropped, never a panic.
//!
//! Layout: `table` (the names, pure), `answer` (bytes in, decision out, pure), `resolv` (the
//! host's servers), `forward` (upstream I/O), `server` (the sockets).

mod answer;
mod forward;
mod resolv;
mod server;
mod table;
#[cfg(test)]
mod tests;

pub use answer::ANSWER_TTL;
pub use server::{DnsOptions, DnsServer};
pub use table::{DNS_PORT, DnsTable};

use std::net::SocketAddr;

/// Errors of the resolver (only starting a server can fail; serving never does).
#[derive(Debug, thiserror::Error)]
pub enum DnsError {
    #[error(
        "cannot serve DNS for network {network:?} on {addr} ({proto}): {source}; \
         another DNS server (dnsmasq, systemd-resolved...) may hold that address, stop it or free the port"
    )]
    Bind {
        network: String,
        addr: SocketAddr,
        proto: &'static str,
        #[source]
        source: std::io::Error,
    },
}
