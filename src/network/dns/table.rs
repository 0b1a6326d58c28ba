//! The names the resolver answers: per network, which container has which address and names,
//! plus each container's private link aliases and its own upstream servers. Pure data (no I/O);
//! the daemon writes it as containers come and go, every `DnsServer` reads it on each query, so
//! a change is answered by the very next query (nothing is cached elsewhere).

use std::collections::HashMap;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::sync::{Arc, RwLock, RwLockReadGuard, RwLockWriteGuard};

/// The port of a plain DNS server, used for the addresses given as bare IPs.
pub const DNS_PORT: u16 = 53;

/// The names per network. Cheap to clone: every clone sees (and makes) the same changes.
#[derive(Clone, Default, Debug)]
pub struct DnsTable {
    inner: Arc<RwLock<Inner>>,
}

#[derive(Default, Debug)]
struct Inner {
    /// network name -> its endpoints, in the order they were set (PTR answers the first match).
    networks: HashMap<String, Vec<Endpoint>>,
    /// container id -> (alias, target name), both normalized.
    links: HashMap<String, Vec<(String, String)>>,
    /// container id -> its `dns:` servers; absent or empty = the host's.
    upstreams: HashMap<String, Vec<SocketAddr>>,
}

#[derive(Debug, Clone)]
struct Endpoint {
    container_id: String,
    ip: Ipv4Addr,
    /// Its IPv6 address on a dual-stack network (AAAA answers).
    ip6: Option<Ipv6Addr>,
    /// Normalized (see `normalize`), without duplicates, in the order given.
    names: Vec<String>,
}

/// What a name or address is for one asker on one network.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Found {
    /// The source address is no endpoint of this network: it gets REFUSED.
    Stranger,
    /// A name this asker resolves locally, with every address it has (never empty).
    Addrs(Vec<Ipv4Addr>),
    /// A name this asker resolves locally, with every IPv6 address it has (empty: the name
    /// exists, on a network without IPv6).
    Addrs6(Vec<Ipv6Addr>),
    /// The first name of the endpoint that has the address asked for.
    Ptr(String),
    /// Not ours: forward to these servers (empty = the host's).
    Elsewhere(Vec<SocketAddr>),
}

/// The question, already reduced to what the table can answer.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Lookup<'a> {
    /// A name, normalized.
    Name(&'a str),
    /// A name's IPv6 addresses (AAAA), normalized.
    Name6(&'a str),
    /// The address of an in-addr.arpa name.
    Ptr(Ipv4Addr),
}

/// Lower case without the trailing dot: DNS names compare case-insensitively, and
/// `web` and `web.` are the same name to a container's stub resolver.
pub(crate) fn normalize(name: &str) -> String {
    name.trim_end_matches('.').to_ascii_lowercase()
}

impl DnsTable {
    pub fn new() -> Self {
        Self::default()
    }

    // A poisoned lock only means a writer panicked between two whole-entry updates: the data
    // is still consistent, so keep serving instead of panicking every query after it.
    fn read(&self) -> RwLockReadGuard<'_, Inner> {
        self.inner.read().unwrap_or_else(|e| e.into_inner())
    }

    fn write(&self) -> RwLockWriteGuard<'_, Inner> {
        self.inner.write().unwrap_or_else(|e| e.into_inner())
    }

    /// Sets the address and names (service name, container name, hostname, network aliases,
    /// short id...) of `container_id` on `network`, replacing what it had there before.
    pub fn set_endpoint(
        &self,
        network: &str,
        container_id: &str,
        ip: Ipv4Addr,
        names: Vec<String>,
    ) {
        let mut normalized: Vec<String> = Vec::with_capacity(names.len());
        for name in names {
            let name = normalize(&name);
            if !name.is_empty() && !normalized.contains(&name) {
                normalized.push(name);
            }
        }
        let mut inner = self.write();
        let endpoints = inner.networks.entry(network.to_string()).or_default();
        endpoints.retain(|e| e.container_id != container_id);
        endpoints.push(Endpoint {
            container_id: container_id.to_string(),
            ip,
            ip6: None,
            names: normalized,
        });
    }

    /// Sets the IPv6 address of `container_id` on `network` (after `set_endpoint`, which
    /// clears it): a dual-stack network's containers answer AAAA too.
    pub fn set_endpoint6(&self, network: &str, container_id: &str, ip6: Ipv6Addr) {
        let mut inner = self.write();
        if let Some(e) = inner
            .networks
            .get_mut(network)
            .and_then(|eps| eps.iter_mut().find(|e| e.container_id == container_id))
        {
            e.ip6 = Some(ip6);
        }
    }

    /// Forgets everything of a container: its endpoints on every network, its links and its
    /// upstream servers.
    pub fn remove_container(&self, container_id: &str) {
        let mut inner = self.write();
        for endpoints in inner.networks.values_mut() {
            endpoints.retain(|e| e.container_id != container_id);
        }
        inner.networks.retain(|_, endpoints| !endpoints.is_empty());
        inner.links.remove(container_id);
        inner.upstreams.remove(container_id);
    }

    /// Forgets every endpoint of a network.
    pub fn remove_network(&self, network: &str) {
        self.write().networks.remove(network);
    }

    /// Sets the container's links, `(alias, target name)`: names only this container resolves,
    /// to the addresses the target name has on the network being asked (so only on networks
    /// the two share). Replaces the earlier list; empty removes it.
    pub fn set_links(&self, container_id: &str, links: Vec<(String, String)>) {
        let links: Vec<(String, String)> = links
            .into_iter()
            .map(|(alias, target)| (normalize(&alias), normalize(&target)))
            .filter(|(alias, target)| !alias.is_empty() && !target.is_empty())
            .collect();
        let mut inner = self.write();
        if links.is_empty() {
            inner.links.remove(container_id);
        } else {
            inner.links.insert(container_id.to_string(), links);
        }
    }

    /// Sets the container's own upstream servers (its `dns:` key), port 53. Empty means the
    /// host's servers (from /etc/resolv.conf).
    pub fn set_upstreams(&self, container_id: &str, servers: Vec<IpAddr>) {
        let servers = servers
            .into_iter()
            .map(|ip| SocketAddr::new(ip, DNS_PORT))
            .collect();
        self.set_upstream_addrs(container_id, servers);
    }

    /// `set_upstreams` with explicit ports (servers on a non-standard port; tests).
    pub fn set_upstream_addrs(&self, container_id: &str, servers: Vec<SocketAddr>) {
        let mut inner = self.write();
        if servers.is_empty() {
            inner.upstreams.remove(container_id);
        } else {
            inner.upstreams.insert(container_id.to_string(), servers);
        }
    }

    /// Answers one question of the endpoint at `source` on `network`: names on `network`,
    /// then on the asker's other networks.
    pub(crate) fn lookup(&self, network: &str, source: IpAddr, what: Lookup<'_>) -> Found {
        let inner = self.read();
        let Some(endpoints) = inner.networks.get(network) else {
            return Found::Stranger;
        };
        let asker = match source {
            IpAddr::V4(ip) => endpoints.iter().find(|e| e.ip == ip),
            IpAddr::V6(ip) => match ip.to_ipv4_mapped() {
                Some(ip) => endpoints.iter().find(|e| e.ip == ip),
                None => endpoints.iter().find(|e| e.ip6 == Some(ip)),
            },
        };
        let Some(asker) = asker else {
            return Found::Stranger;
        };
        // The networks to search: this one first, then the asker's other networks (sorted by
        // name), as Docker's resolver answers a container for every network it is on, each
        // name with its addresses on the network it shares with the asker.
        let mut others: Vec<(&String, &Vec<Endpoint>)> = inner
            .networks
            .iter()
            .filter(|(n, eps)| {
                n.as_str() != network && eps.iter().any(|e| e.container_id == asker.container_id)
            })
            .collect();
        others.sort_by(|a, b| a.0.cmp(b.0));
        let searched = std::iter::once(endpoints).chain(others.into_iter().map(|(_, eps)| eps));
        let found = match what {
            Lookup::Name(name) | Lookup::Name6(name) => {
                // The asker's links first: an alias hides a service of the same name, as in Docker.
                let target = inner
                    .links
                    .get(&asker.container_id)
                    .and_then(|links| links.iter().find(|(alias, _)| alias == name))
                    .map(|(_, target)| target.as_str());
                let wanted = target.unwrap_or(name);
                // The endpoints of the first network (in search order) that has the name.
                let eps = searched
                    .map(|eps| {
                        eps.iter()
                            .filter(|e| e.names.iter().any(|n| n == wanted))
                            .collect::<Vec<&Endpoint>>()
                    })
                    .find(|eps| !eps.is_empty());
                match what {
                    Lookup::Name6(_) => {
                        eps.map(|eps| Found::Addrs6(eps.iter().filter_map(|e| e.ip6).collect()))
                    }
                    _ => eps.map(|eps| Found::Addrs(eps.iter().map(|e| e.ip).collect())),
                }
            }
            Lookup::Ptr(ip) => searched
                .filter_map(|eps| eps.iter().find(|e| e.ip == ip))
                .find_map(|e| e.names.first())
                .map(|name| Found::Ptr(name.clone())),
        };
        found.unwrap_or_else(|| {
            Found::Elsewhere(
                inner
                    .upstreams
                    .get(&asker.container_id)
                    .cloned()
                    .unwrap_or_default(),
            )
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(last: u8) -> Ipv4Addr {
        Ipv4Addr::new(10, 0, 0, last)
    }

    fn src(last: u8) -> IpAddr {
        IpAddr::V4(ip(last))
    }

    fn names(list: &[&str]) -> Vec<String> {
        list.iter().map(|s| s.to_string()).collect()
    }

    fn addrs(table: &DnsTable, network: &str, from: u8, name: &str) -> Vec<Ipv4Addr> {
        match table.lookup(network, src(from), Lookup::Name(&normalize(name))) {
            Found::Addrs(mut a) => {
                a.sort();
                a
            }
            _ => Vec::new(),
        }
    }

    #[test]
    fn dual_stack_endpoints_answer_aaaa() {
        let t = DnsTable::new();
        t.set_endpoint("n", "c1", ip(2), names(&["web"]));
        t.set_endpoint("n", "c2", ip(3), names(&["web", "db"]));
        let v6: Ipv6Addr = "fd00::3".parse().unwrap();
        t.set_endpoint6("n", "c2", v6);
        assert_eq!(
            t.lookup("n", src(2), Lookup::Name6("web")),
            Found::Addrs6(vec![v6])
        );
        assert_eq!(
            t.lookup("n", src(2), Lookup::Name("web")),
            Found::Addrs(vec![ip(2), ip(3)])
        );
        // A name without IPv6 addresses exists: an empty answer, not a forward.
        t.set_endpoint("n", "c1", ip(2), names(&["solo"]));
        assert_eq!(
            t.lookup("n", src(3), Lookup::Name6("solo")),
            Found::Addrs6(vec![])
        );
        // The asker may come by its IPv6 address.
        assert_eq!(
            t.lookup("n", IpAddr::V6(v6), Lookup::Name("solo")),
            Found::Addrs(vec![ip(2)])
        );
        // set_endpoint clears the IPv6 address it had.
        t.set_endpoint("n", "c2", ip(3), names(&["db"]));
        assert_eq!(
            t.lookup("n", src(2), Lookup::Name6("db")),
            Found::Addrs6(vec![])
        );
    }

    #[test]
    fn names_are_case_insensitive_and_dot_optional() {
        let t = DnsTable::new();
        t.set_endpoint("n", "c1", ip(2), names(&["Web", "proj-web-1.", "abc123"]));
        assert_eq!(addrs(&t, "n", 2, "web"), vec![ip(2)]);
        assert_eq!(addrs(&t, "n", 2, "WEB."), vec![ip(2)]);
        assert_eq!(addrs(&t, "n", 2, "proj-web-1"), vec![ip(2)]);
        assert_eq!(addrs(&t, "n", 2, "abc123"), vec![ip(2)]);
    }

    #[test]
    fn replicas_give_every_address() {
        let t = DnsTable::new();
        for i in 2..5 {
            t.set_endpoint("n", &format!("c{i}"), ip(i), names(&["web"]));
        }
        assert_eq!(addrs(&t, "n", 2, "web"), vec![ip(2), ip(3), ip(4)]);
    }

    #[test]
    fn set_endpoint_replaces_the_earlier_entry() {
        let t = DnsTable::new();
        t.set_endpoint("n", "c1", ip(2), names(&["web"]));
        t.set_endpoint("n", "c1", ip(7), names(&["web", "w"]));
        assert_eq!(addrs(&t, "n", 7, "web"), vec![ip(7)]);
        assert_eq!(t.lookup("n", src(2), Lookup::Name("web")), Found::Stranger);
    }

    #[test]
    fn strangers_and_other_networks() {
        let t = DnsTable::new();
        t.set_endpoint("a", "c1", ip(2), names(&["web"]));
        t.set_endpoint("b", "c2", ip(3), names(&["db"]));
        // c2 is not on a: refused there, and a's names are not b's.
        assert_eq!(t.lookup("a", src(3), Lookup::Name("web")), Found::Stranger);
        assert_eq!(
            t.lookup("b", src(3), Lookup::Name("web")),
            Found::Elsewhere(vec![])
        );
        assert_eq!(
            t.lookup("zzz", src(2), Lookup::Name("web")),
            Found::Stranger
        );
        assert_eq!(
            t.lookup("a", IpAddr::V6("::1".parse().unwrap()), Lookup::Name("web")),
            Found::Stranger
        );
    }

    #[test]
    fn a_container_on_two_networks_resolves_names_of_both() {
        let t = DnsTable::new();
        // app is on front (10.0.0.2) and back (10.0.0.12); db on back only; web on front.
        t.set_endpoint("front", "app", ip(2), names(&["app"]));
        t.set_endpoint("back", "app", ip(12), names(&["app"]));
        t.set_endpoint("back", "db", ip(13), names(&["db"]));
        t.set_endpoint("front", "web", ip(3), names(&["web"]));
        // Asked on front, db is found on back with its address there.
        assert_eq!(
            t.lookup("front", src(2), Lookup::Name("db")),
            Found::Addrs(vec![ip(13)])
        );
        assert_eq!(
            t.lookup("front", src(2), Lookup::Ptr(ip(13))),
            Found::Ptr("db".into())
        );
        // web shares no network with db.
        assert_eq!(
            t.lookup("front", src(3), Lookup::Name("db")),
            Found::Elsewhere(vec![])
        );
    }

    #[test]
    fn links_are_private_to_the_container_and_scoped_to_its_networks() {
        let t = DnsTable::new();
        t.set_endpoint("a", "client", ip(2), names(&["client"]));
        t.set_endpoint("a", "other", ip(3), names(&["other"]));
        t.set_endpoint("a", "db", ip(4), names(&["db"]));
        t.set_endpoint("b", "client", ip(20), names(&["client"]));
        t.set_links("client", vec![("database".into(), "DB".into())]);
        assert_eq!(addrs(&t, "a", 2, "database"), vec![ip(4)]);
        // Another container does not see the alias.
        assert!(addrs(&t, "a", 3, "database").is_empty());
        // Asked on b, where the target is not: found on a, the client's other network.
        assert_eq!(addrs(&t, "b", 20, "database"), vec![ip(4)]);
        // A container on b alone sees neither.
        t.set_endpoint("b", "lonely", ip(21), names(&["lonely"]));
        assert!(addrs(&t, "b", 21, "database").is_empty());
        assert!(addrs(&t, "b", 21, "db").is_empty());
        t.set_links("client", vec![]);
        assert!(addrs(&t, "a", 2, "database").is_empty());
    }

    #[test]
    fn removal_takes_effect_at_once() {
        let t = DnsTable::new();
        t.set_endpoint("a", "c1", ip(2), names(&["web"]));
        t.set_endpoint("a", "c2", ip(3), names(&["web"]));
        t.set_endpoint("b", "c2", ip(3), names(&["web"]));
        t.set_upstreams("c2", vec!["1.1.1.1".parse().unwrap()]);
        t.remove_container("c1");
        assert_eq!(addrs(&t, "a", 3, "web"), vec![ip(3)]);
        t.remove_network("a");
        assert_eq!(t.lookup("a", src(3), Lookup::Name("web")), Found::Stranger);
        assert_eq!(addrs(&t, "b", 3, "web"), vec![ip(3)]);
        t.remove_container("c2");
        assert_eq!(t.lookup("b", src(3), Lookup::Name("web")), Found::Stranger);
        t.set_endpoint("b", "c2", ip(3), names(&["x"]));
        // Its upstreams went with it.
        assert_eq!(
            t.lookup("b", src(3), Lookup::Name("web")),
            Found::Elsewhere(vec![])
        );
    }

    #[test]
    fn ptr_and_upstreams() {
        let t = DnsTable::new();
        t.set_endpoint("a", "c1", ip(2), names(&["web", "alias"]));
        assert_eq!(
            t.lookup("a", src(2), Lookup::Ptr(ip(2))),
            Found::Ptr("web".into())
        );
        t.set_upstreams("c1", vec!["9.9.9.9".parse().unwrap()]);
        assert_eq!(
            t.lookup("a", src(2), Lookup::Ptr(ip(9))),
            Found::Elsewhere(vec!["9.9.9.9:53".parse().unwrap()])
        );
    }
}
