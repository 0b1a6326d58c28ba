//! The daemon's networks: records on disk, bridges, leases, DNS names, published ports and
//! the nftables table, kept together so that each start, exit and removal updates them all.
//!
//! A network is made at its first use (or by `network create`): a subnet from the pools
//! (`ipam`), a bridge with the gateway address, a DNS server on the gateway, and the
//! table's rules. It stays until `down` (or `network rm`) finds no container on it: bridges
//! are slow to delete (RCU grace periods), so none is made or removed on a start path.
//!
//! Per container: `prepare` turns the request `plan` wrote (`NetConfig::request`) into what
//! the shim makes (`Interface`s, or the namespace it joins), writes its resolv.conf, hosts
//! and hostname, registers its names and holds its host ports; `exited` undoes the names and
//! ports, `removed` frees its addresses. `adopt` re-registers a container an earlier daemon
//! started, from the config.json its run was started with.

use super::dns::{DnsServer, DnsTable};
use super::files_spare::FileDirs;
use super::ipam6::Ipv6Net;
use super::nft::{self, Forward, Ipv4Net, NetRules, Proto, Ruleset};
use super::nft6::{Forward6, Net6, Ruleset6};
use super::ports::{self, Reservation};
use super::{conntrack, files, ipam, ipam6, netdef, nft6, ports6};
use crate::runtime::config::{ContainerConfig, Interface, MountConfig, NetAttach, NetRequest};
use crate::runtime::netlink::Netlink;
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::path::{Path, PathBuf};
use std::sync::Mutex;

#[derive(Debug, thiserror::Error)]
pub enum NetError {
    #[error("no such network: {0}")]
    NotFound(String),
    #[error(
        "network \"{0}\" is declared as external, but could not be found: create it first with `rstack network create {0}`"
    )]
    ExternalMissing(String),
    #[error("network \"{name}\" is in use by container {containers}: remove the containers first")]
    InUse { name: String, containers: String },
    #[error("network \"{0}\" already exists")]
    Exists(String),
    #[error("{0}")]
    Invalid(String),
    #[error("{0}")]
    Conflict(String),
    #[error(
        "no free subnet left in the address pools ([network] address_pools in rstack.toml): remove unused networks (`rstack network prune`) or add a pool"
    )]
    PoolExhausted,
    #[error(transparent)]
    Port(#[from] ports::PortError),
    #[error("{0}")]
    Kernel(String),
    #[error("{what} {}: {source}", path.display())]
    Io {
        what: &'static str,
        path: PathBuf,
        source: std::io::Error,
    },
}

fn io(what: &'static str, path: &Path) -> impl FnOnce(std::io::Error) -> NetError {
    let path = path.to_path_buf();
    move |source| NetError::Io { what, path, source }
}

/// What `<data_root>/networks/<name>.json` holds (and `network inspect` shows).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct NetworkRecord {
    pub name: String,
    pub id: String,
    /// The bridge on the host (`rs-` and the id's first 12 characters).
    pub bridge: String,
    pub subnet: String,
    pub gateway: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ip_range: Option<String>,
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub internal: bool,
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub attachable: bool,
    /// The project that made it; empty for `network create`.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub project: String,
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub labels: BTreeMap<String, String>,
    /// Seconds since the epoch.
    pub created: u64,
    /// The hash of the definition it was made from (`netdef`); empty in records made before
    /// it was kept.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub config_hash: String,
    /// A dual-stack network's IPv6 subnet and gateway (`enable_ipv6: true`); empty: IPv4 only.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub subnet6: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub gateway6: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ip_range6: Option<String>,
}

impl NetworkRecord {
    fn subnet(&self) -> Option<Ipv4Net> {
        self.subnet.parse().ok()
    }
    fn gateway(&self) -> Option<Ipv4Addr> {
        self.gateway.parse().ok()
    }
    /// The IPv6 subnet and gateway of a dual-stack network.
    fn v6(&self) -> Option<(Ipv6Net, Ipv6Addr)> {
        Some((self.subnet6.parse().ok()?, self.gateway6.parse().ok()?))
    }
}

/// What `network create` asks for.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct CreateOptions {
    pub name: String,
    pub subnet: Option<String>,
    pub gateway: Option<String>,
    pub ip_range: Option<String>,
    pub internal: bool,
    pub attachable: bool,
    pub labels: BTreeMap<String, String>,
    // The IPv6 options are left out of the JSON when unset, so that the definition hash
    // (`netdef`) of an IPv4 network is what it was before they existed.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub enable_ipv6: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub subnet6: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub gateway6: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ip_range6: Option<String>,
}

/// A container on a network, as `network inspect` lists it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Endpoint {
    pub container_id: String,
    pub address: Ipv4Addr,
    /// Its address on a dual-stack network.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub address6: Option<Ipv6Addr>,
}

/// A published port as `port` and `ps` show it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Published {
    /// An IPv6 address (`::` for all) for a port published on a dual-stack network.
    pub host_ip: IpAddr,
    pub host_port: u16,
    pub target: u16,
    pub protocol: String,
}

/// The file in a container's state directory that records the ports its run holds, so a
/// daemon that adopts it holds the same ones.
const PORTS_FILE: &str = "ports.json";

/// Where removed containers' file directories wait for the next ones (`files_spare`).
const SPARE_FILES: &str = "spare";

/// The file in `<data_root>/networks` that names this daemon's nftables table.
pub const TABLE_FILE: &str = "nft-table";

#[derive(Default)]
struct Inner {
    networks: BTreeMap<String, NetworkRecord>,
    servers: HashMap<String, DnsServer>,
    /// Per network: address -> container id, for each container that exists.
    leases: HashMap<String, BTreeMap<Ipv4Addr, String>>,
    /// The same for the IPv6 addresses of dual-stack networks.
    leases6: HashMap<String, BTreeMap<Ipv6Addr, String>>,
    /// Per running container: its host ports.
    ports: HashMap<String, Vec<(Reservation, Forward, Published)>>,
    /// Running containers by id and by name: their init's pid and state directory.
    running: HashMap<String, (i32, PathBuf)>,
    forwarding_on: bool,
    forwarding6_on: bool,
    /// Per running container: its published ports over IPv6 (dual-stack networks).
    ports6: HashMap<String, Vec<(ports6::Reservation6, Forward6, Published)>>,
    /// Each bridge's interface index, as this daemon made or found it (`bring_up`).
    bridge_index: HashMap<String, u32>,
}

pub struct NetworkManager {
    dir: PathBuf,
    table: String,
    pools: Vec<ipam::Pool>,
    pools6: Vec<ipam6::Pool6>,
    dns: DnsTable,
    inner: Mutex<Inner>,
    /// Held while a network is made, so two starts never make the same one twice.
    creating: tokio::sync::Mutex<()>,
    /// The DNS port (53; tests of the manager alone may use another).
    dns_port: u16,
    /// Removed containers' file directories, kept for the next new containers.
    spare_files: FileDirs,
    /// Told each bridge this manager deletes (the runtime's spare shim may have a veth on it).
    bridge_gone: std::sync::OnceLock<BridgeGone>,
}

/// What is told of a bridge deleted (`NetworkManager::on_bridge_removed`).
pub type BridgeGone = Box<dyn Fn(&str) + Send + Sync>;

impl NetworkManager {
    /// Opens `<data_root>/networks`; `table` is this daemon's nftables table.
    pub fn open(
        dir: &Path,
        table: String,
        pools: Vec<ipam::Pool>,
    ) -> Result<NetworkManager, NetError> {
        Self::open_dual(dir, table, pools, ipam6::default_pools())
    }

    /// `open`, with the IPv6 pools of dual-stack networks.
    pub fn open_dual(
        dir: &Path,
        table: String,
        pools: Vec<ipam::Pool>,
        pools6: Vec<ipam6::Pool6>,
    ) -> Result<NetworkManager, NetError> {
        std::fs::create_dir_all(dir).map_err(io("creating", dir))?;
        let mut networks = BTreeMap::new();
        for e in std::fs::read_dir(dir)
            .map_err(io("reading", dir))?
            .flatten()
        {
            let p = e.path();
            if p.extension().is_none_or(|x| x != "json") {
                continue;
            }
            match std::fs::read(&p)
                .ok()
                .and_then(|b| serde_json::from_slice::<NetworkRecord>(&b).ok())
            {
                Some(r) => {
                    networks.insert(r.name.clone(), r);
                }
                None => eprintln!("rstack: {}: not a network record, ignored", p.display()),
            }
        }
        // Named for whoever cleans up after this daemon (the tests do).
        let _ = std::fs::write(dir.join(TABLE_FILE), &table);
        Ok(NetworkManager {
            dir: dir.to_path_buf(),
            table,
            pools,
            pools6,
            dns: DnsTable::new(),
            inner: Mutex::new(Inner {
                networks,
                ..Inner::default()
            }),
            creating: tokio::sync::Mutex::new(()),
            dns_port: super::dns::DNS_PORT,
            spare_files: FileDirs::new(dir.join(SPARE_FILES)),
            bridge_gone: std::sync::OnceLock::new(),
        })
    }

    /// Sets what is told of each bridge deleted (once; later calls are ignored).
    pub fn on_bridge_removed(&self, f: BridgeGone) {
        let _ = self.bridge_gone.set(f);
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// At boot: every recorded network's bridge (made again after a host reboot), its DNS
    /// server, and the table (which replaces whatever an earlier daemon left).
    pub async fn restore(&self) {
        let records: Vec<NetworkRecord> = self.lock().networks.values().cloned().collect();
        for r in records {
            if let Err(e) = self.bring_up(&r).await {
                eprintln!("rstack: network {}: {e}", r.name);
            }
        }
        if let Err(e) = self.apply().await {
            eprintln!("rstack: {e}");
        }
    }

    /// The bridge with its address, and the DNS server on it.
    async fn bring_up(&self, r: &NetworkRecord) -> Result<(), NetError> {
        let (Some(subnet), Some(gw)) = (r.subnet(), r.gateway()) else {
            return Err(NetError::Invalid(format!(
                "network {}: bad subnet or gateway",
                r.name
            )));
        };
        let bridge = r.bridge.clone();
        let first = !std::mem::replace(&mut self.lock().forwarding_on, true);
        let v6 = r.v6();
        let first6 = v6.is_some() && !std::mem::replace(&mut self.lock().forwarding6_on, true);
        let name = bridge.clone();
        let index = tokio::task::spawn_blocking(move || -> Result<u32, NetError> {
            let k = |e: &dyn std::fmt::Display| NetError::Kernel(e.to_string());
            let mut nl = Netlink::open().map_err(|e| k(&e))?;
            let index = nl
                .add_bridge(&bridge, gw, subnet.prefix)
                .map_err(|e| k(&e))?;
            nft::set_route_localnet(&bridge).map_err(|e| k(&e))?;
            if first {
                nft::enable_forwarding().map_err(|e| k(&e))?;
            }
            if let Some((subnet6, gw6)) = v6 {
                nft6::prepare_bridge(&bridge).map_err(|e| k(&e))?;
                nl.add_address6(index, gw6, subnet6.prefix)
                    .map_err(|e| k(&e))?;
                if first6 {
                    nft6::enable_forwarding().map_err(|e| k(&e))?;
                }
            }
            Ok(index)
        })
        .await
        .map_err(|e| NetError::Kernel(e.to_string()))??;
        self.lock().bridge_index.insert(name, index);
        if !self.lock().servers.contains_key(&r.name) {
            let addr = SocketAddr::new(IpAddr::V4(gw), self.dns_port);
            let server = DnsServer::start(self.dns.clone(), r.name.clone(), addr)
                .await
                .map_err(|e| NetError::Kernel(e.to_string()))?;
            self.lock().servers.insert(r.name.clone(), server);
        }
        Ok(())
    }

    /// The table for every network and every published port, applied in one transaction.
    async fn apply(&self) -> Result<(), NetError> {
        let rs = {
            let inner = self.lock();
            Ruleset {
                table: self.table.clone(),
                networks: inner
                    .networks
                    .values()
                    .filter_map(|r| {
                        Some(NetRules {
                            bridge: r.bridge.clone(),
                            subnet: r.subnet()?,
                            internal: r.internal,
                        })
                    })
                    .collect(),
                forwards: inner
                    .ports
                    .values()
                    .flatten()
                    .map(|(_, f, _)| f.clone())
                    .collect(),
            }
        };
        let rs6 = {
            let inner = self.lock();
            Ruleset6 {
                table: self.table.clone(),
                networks: inner
                    .networks
                    .values()
                    .filter_map(|r| {
                        Some(Net6 {
                            bridge: r.bridge.clone(),
                            subnet: r.v6()?.0,
                            internal: r.internal,
                        })
                    })
                    .collect(),
                forwards: inner
                    .ports6
                    .values()
                    .flatten()
                    .map(|(_, f, _)| f.clone())
                    .collect(),
            }
        };
        tokio::task::spawn_blocking(move || nft::apply_dual(&rs, &rs6))
            .await
            .map_err(|e| NetError::Kernel(e.to_string()))?
            .map_err(|e| NetError::Kernel(e.to_string()))
    }

    /// The network `a` names, made if it does not exist yet (unless external).
    async fn ensure(&self, a: &NetAttach) -> Result<NetworkRecord, NetError> {
        if let Some(r) = self.lock().networks.get(&a.name) {
            return Ok(r.clone());
        }
        if a.external {
            return Err(NetError::ExternalMissing(a.name.clone()));
        }
        let opts = netdef::create_options(a);
        match self.create(&opts, &a.project).await {
            Err(NetError::Exists(_)) => self
                .lock()
                .networks
                .get(&a.name)
                .cloned()
                .ok_or_else(|| NetError::NotFound(a.name.clone())),
            r => r,
        }
    }

    /// Whether the network `a` names exists, was made by `a`'s project, and was made from
    /// another definition than `a`'s (`up` then makes it again, as compose does).
    pub fn diverged(&self, a: &NetAttach) -> bool {
        if a.external {
            return false;
        }
        self.lock().networks.get(&a.name).is_some_and(|r| {
            r.project == a.project && netdef::diverges(&r.config_hash, &netdef::create_options(a))
        })
    }

    /// Makes a network (`network create`, or a stack's at its first use).
    pub async fn create(
        &self,
        o: &CreateOptions,
        project: &str,
    ) -> Result<NetworkRecord, NetError> {
        crate::model::check_volume_name(&o.name)
            .map_err(|e| NetError::Invalid(e.replace("volume", "network")))?;
        let _creating = self.creating.lock().await;
        if self.lock().networks.contains_key(&o.name) {
            return Err(NetError::Exists(o.name.clone()));
        }
        let parse = |what: &str, s: &str| -> Result<Ipv4Net, NetError> {
            s.parse::<Ipv4Net>().map_err(|_| {
                NetError::Invalid(format!(
                    "{what} {s:?} is not an IPv4 subnet like 10.5.0.0/24"
                ))
            })
        };
        // Between daemons too: no two pick the same subnet at once.
        let _host_lock = HostLock::take();
        let ours: Vec<(String, Ipv4Net)> = self
            .lock()
            .networks
            .values()
            .filter_map(|r| Some((r.name.clone(), r.subnet()?)))
            .collect();
        let routes = ipam::host_routes();
        let subnet = match &o.subnet {
            Some(s) => {
                let net = parse("subnet", s)?;
                if let Some((n, _)) = ours.iter().find(|(_, t)| ipam::overlaps(*t, net)) {
                    return Err(NetError::Conflict(format!(
                        "subnet {net} of network \"{}\" overlaps network \"{n}\": choose another subnet",
                        o.name
                    )));
                }
                if let Some(r) = routes.iter().find(|t| ipam::overlaps(**t, net)) {
                    return Err(NetError::Conflict(format!(
                        "subnet {net} of network \"{}\" overlaps the host's route to {r}: choose another subnet",
                        o.name
                    )));
                }
                net
            }
            None => {
                let mut taken: Vec<Ipv4Net> = ours.iter().map(|(_, t)| *t).collect();
                taken.extend(routes);
                ipam::choose_subnet(&self.pools, &taken).ok_or(NetError::PoolExhausted)?
            }
        };
        let gateway = match &o.gateway {
            Some(g) => g
                .parse::<Ipv4Addr>()
                .ok()
                .filter(|g| subnet.contains(*g))
                .ok_or_else(|| {
                    NetError::Invalid(format!("gateway {g} is not an address in {subnet}"))
                })?,
            None => ipam::default_gateway(subnet),
        };
        if let Some(r) = &o.ip_range {
            let range = parse("ip_range", r)?;
            if !subnet.contains(range.network()) {
                return Err(NetError::Invalid(format!(
                    "ip_range {r} is not inside {subnet}"
                )));
            }
        }
        let v6 = match o.enable_ipv6 {
            true => Some(self.choose_v6(o)?),
            false => None,
        };
        let id = random_hex(32);
        let rec = NetworkRecord {
            name: o.name.clone(),
            bridge: format!("rs-{}", &id[..12]),
            id,
            subnet: subnet.to_string(),
            gateway: gateway.to_string(),
            ip_range: o.ip_range.clone(),
            internal: o.internal,
            attachable: o.attachable,
            project: project.to_string(),
            labels: o.labels.clone(),
            config_hash: netdef::definition_hash(o),
            subnet6: v6.map(|(n, _)| n.to_string()).unwrap_or_default(),
            gateway6: v6.map(|(_, g)| g.to_string()).unwrap_or_default(),
            ip_range6: o.ip_range6.clone().filter(|_| v6.is_some()),
            created: std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map(|d| d.as_secs())
                .unwrap_or(0),
        };
        // The record first, the bridge second (and at removal the bridge first): every bridge
        // rstack made has a record at every moment, so a daemon killed in between leaves
        // nothing that the next one (which brings up what the records say) or `down` would not
        // find again.
        let path = self.dir.join(format!("{}.json", rec.name));
        let tmp = self.dir.join(format!(".{}.json.new", rec.name));
        let bytes = serde_json::to_vec_pretty(&rec).unwrap_or_default();
        std::fs::write(&tmp, bytes)
            .and_then(|()| std::fs::rename(&tmp, &path))
            .map_err(io("writing", &path))?;
        if let Err(e) = self.bring_up(&rec).await {
            {
                let mut inner = self.lock();
                inner.servers.remove(&rec.name);
                inner.bridge_index.remove(&rec.bridge);
            }
            let _ = delete_bridge(rec.bridge.clone()).await;
            let _ = std::fs::remove_file(&path);
            return Err(e);
        }
        self.lock().networks.insert(rec.name.clone(), rec.clone());
        self.apply().await?;
        Ok(rec)
    }

    /// The IPv6 subnet and gateway of a new dual-stack network: the ones `o` gives (checked
    /// against the host's IPv6 routes and the other networks), else a free block of the IPv6
    /// pools. Called under the host lock, as the IPv4 choice.
    fn choose_v6(&self, o: &CreateOptions) -> Result<(Ipv6Net, Ipv6Addr), NetError> {
        let parse = |what: &str, s: &str| -> Result<Ipv6Net, NetError> {
            s.parse::<Ipv6Net>()
                .map_err(|e| NetError::Invalid(format!("{what}: {e}")))
        };
        let ours: Vec<(String, Ipv6Net)> = self
            .lock()
            .networks
            .values()
            .filter_map(|r| Some((r.name.clone(), r.v6()?.0)))
            .collect();
        let routes = ipam6::host_routes();
        let subnet = match &o.subnet6 {
            Some(s) => {
                let net = parse("subnet", s)?;
                if let Some((n, _)) = ours.iter().find(|(_, t)| ipam6::overlaps(*t, net)) {
                    return Err(NetError::Conflict(format!(
                        "IPv6 subnet {net} of network \"{}\" overlaps network \"{n}\": choose another subnet",
                        o.name
                    )));
                }
                if let Some(r) = routes.iter().find(|t| ipam6::overlaps(**t, net)) {
                    return Err(NetError::Conflict(format!(
                        "IPv6 subnet {net} of network \"{}\" overlaps the host's route to {r}: choose another subnet",
                        o.name
                    )));
                }
                net
            }
            None => {
                let mut taken: Vec<Ipv6Net> = ours.iter().map(|(_, t)| *t).collect();
                taken.extend(routes);
                ipam6::choose_subnet(&self.pools6, &taken).ok_or_else(|| {
                    NetError::Invalid(
                        "no free IPv6 subnet left in the IPv6 address pools: remove unused networks (`rstack network prune`) or give the network an IPv6 subnet in ipam.config".into(),
                    )
                })?
            }
        };
        let gateway = match &o.gateway6 {
            Some(g) => g
                .parse::<Ipv6Addr>()
                .ok()
                .filter(|g| subnet.contains(*g) && *g != subnet.network())
                .ok_or_else(|| {
                    NetError::Invalid(format!("gateway {g} is not an address in {subnet}"))
                })?,
            None => ipam6::default_gateway(subnet),
        };
        if let Some(r) = &o.ip_range6 {
            let range = parse("ip_range", r)?;
            if !subnet.contains(range.network()) || range.prefix < subnet.prefix {
                return Err(NetError::Invalid(format!(
                    "ip_range {r} is not inside {subnet}"
                )));
            }
        }
        Ok((subnet, gateway))
    }

    /// An IPv6 address on the dual-stack network `rec` for container `id` (as `lease`).
    fn lease6(
        &self,
        rec: &NetworkRecord,
        id: &str,
        want: Option<&str>,
    ) -> Result<Option<(Ipv6Addr, u8, Ipv6Addr)>, NetError> {
        let Some((subnet, gw)) = rec.v6() else {
            return match want {
                Some(w) => Err(NetError::Invalid(format!(
                    "ipv6_address {w}: network \"{}\" has no IPv6 subnet (declare it with enable_ipv6: true)",
                    rec.name
                ))),
                None => Ok(None),
            };
        };
        let mut inner = self.lock();
        let leases = inner.leases6.entry(rec.name.clone()).or_default();
        let want = want
            .map(|w| {
                w.parse::<Ipv6Addr>()
                    .ok()
                    .filter(|ip| subnet.contains(*ip) && *ip != gw && *ip != subnet.network())
                    .ok_or_else(|| {
                        NetError::Invalid(format!(
                            "ipv6_address {w} is not a free address of network \"{}\" ({subnet})",
                            rec.name
                        ))
                    })
            })
            .transpose()?;
        let mine = leases.iter().find(|(_, c)| *c == id).map(|(ip, _)| *ip);
        if let Some(ip) = mine {
            if want.is_none_or(|w| w == ip) {
                return Ok(Some((ip, subnet.prefix, gw)));
            }
            leases.remove(&ip);
        }
        let ip = match want {
            Some(w) => {
                if let Some(holder) = leases.get(&w) {
                    return Err(NetError::Conflict(format!(
                        "address {w} on network \"{}\" is in use by container {holder}",
                        rec.name
                    )));
                }
                w
            }
            None => {
                let used: BTreeSet<Ipv6Addr> = leases.keys().copied().collect();
                let range = rec.ip_range6.as_deref().and_then(|r| r.parse().ok());
                ipam6::next_free(subnet, range, gw, &used).ok_or_else(|| {
                    NetError::Conflict(format!(
                        "network \"{}\" has no free IPv6 address left",
                        rec.name
                    ))
                })?
            }
        };
        leases.insert(ip, id.to_string());
        Ok(Some((ip, subnet.prefix, gw)))
    }

    /// Resolves a container's request into its interfaces (or the namespace it joins), its
    /// files and its ports. Returns the config the shim is to run.
    pub async fn prepare(&self, cfg: &ContainerConfig) -> Result<ContainerConfig, NetError> {
        let mut out = cfg.clone();
        let Some(req) = cfg.network.request.clone() else {
            return Ok(out);
        };
        // Read only where it is used: a networked start (the common one) never needs it.
        let host_resolv = || std::fs::read_to_string("/etc/resolv.conf").unwrap_or_default();
        if cfg.host_network || req.none {
            let resolv =
                files::host_resolv_conf(&host_resolv(), &req.dns, &req.dns_search, &req.dns_opt);
            let hosts = match cfg.host_network {
                true => std::fs::read_to_string("/etc/hosts").unwrap_or_default(),
                false => files::hosts(
                    None,
                    &cfg.hostname,
                    req.domainname.as_deref(),
                    &req.extra_hosts,
                    None,
                ),
            };
            self.write_files(&mut out, &resolv, &hosts)?;
            return Ok(out);
        }
        if let Some(target) = &req.join {
            let (pid, dir) = self
                .lock()
                .running
                .get(target)
                .cloned()
                .ok_or_else(|| NetError::Conflict(format!(
                    "cannot join the network of container {target}: it is not running; start it first"
                )))?;
            out.network.join_pid = Some(pid);
            // Its namespace, so its names and resolver too.
            let resolv =
                std::fs::read_to_string(dir.join("resolv.conf")).unwrap_or_else(|_| host_resolv());
            let hosts = std::fs::read_to_string(dir.join("hosts")).unwrap_or_default();
            self.write_files(&mut out, &resolv, &hosts)?;
            return Ok(out);
        }
        let mut interfaces = Vec::new();
        let mut attached: Vec<(NetworkRecord, Ipv4Addr)> = Vec::new();
        let mut attached6: Vec<Option<Ipv6Addr>> = Vec::new();
        for (i, a) in req.networks.iter().enumerate() {
            let rec = self.ensure(a).await?;
            let ip = self.lease(&rec, &cfg.id, a.ipv4_address.as_deref())?;
            let v6 = self.lease6(&rec, &cfg.id, a.ipv6_address.as_deref())?;
            attached6.push(v6.map(|(ip6, _, _)| ip6));
            let (subnet, gw) = (rec.subnet(), rec.gateway());
            let Some(subnet) = subnet else {
                return Err(NetError::Invalid(format!(
                    "network {}: bad subnet",
                    rec.name
                )));
            };
            interfaces.push(Interface {
                bridge: rec.bridge.clone(),
                host_name: format!("rsv{}", random_hex(6)),
                name: format!("eth{i}"),
                address: ip,
                prefix: subnet.prefix,
                gateway: gw.filter(|_| !rec.internal),
                mac: a.mac.clone(),
                address6: v6.map(|(ip6, prefix, _)| (ip6, prefix)),
                gateway6: v6.map(|(_, _, gw6)| gw6).filter(|_| !rec.internal),
                // The veth ends get the kernel's IPv6 link-local address only on a dual-stack
                // network (see `runtime::netns::attach`).
                ipv6: v6.is_some(),
                bridge_index: self.lock().bridge_index.get(&rec.bridge).copied(),
            });
            attached.push((rec, ip));
        }
        out.network.interfaces = interfaces;
        // Names: on each network, the container's own and that network's aliases.
        for (((rec, ip), a), ip6) in attached.iter().zip(&req.networks).zip(&attached6) {
            let mut names = req.names.clone();
            names.extend(a.aliases.iter().cloned());
            self.dns.set_endpoint(&rec.name, &cfg.id, *ip, names);
            if let Some(ip6) = ip6 {
                self.dns.set_endpoint6(&rec.name, &cfg.id, *ip6);
            }
        }
        self.dns.set_links(&cfg.id, req.links.clone());
        self.dns.set_upstreams(
            &cfg.id,
            req.dns
                .iter()
                .filter_map(|d| d.parse::<IpAddr>().ok())
                .collect(),
        );
        let first = attached.first().cloned();
        let gateway = first.as_ref().and_then(|(r, _)| r.gateway());
        let resolv = match gateway {
            Some(gw) => files::resolv_conf(gw, &req.dns_search, &req.dns_opt),
            None => {
                files::host_resolv_conf(&host_resolv(), &req.dns, &req.dns_search, &req.dns_opt)
            }
        };
        let mut hosts = files::hosts(
            first.as_ref().map(|(_, ip)| *ip),
            &cfg.hostname,
            req.domainname.as_deref(),
            &req.extra_hosts,
            gateway,
        );
        let first6 = attached6.first().copied().flatten();
        if let Some(ip6) = first6 {
            hosts.push_str(&files::hosts_line(
                IpAddr::V6(ip6),
                &cfg.hostname,
                req.domainname.as_deref(),
            ));
        }
        self.write_files(&mut out, &resolv, &hosts)?;
        if let Err(e) = self.publish(cfg, &req, first.as_ref(), first6).await {
            self.dns.remove_container(&cfg.id);
            return Err(e);
        }
        Ok(out)
    }

    /// Holds the host ports of `req` and forwards them to the container's first address:
    /// IPv4, and IPv6 too when that network is dual stack (a port without a host address is
    /// published on both, as Docker does; one with an IPv6 host address on IPv6 only).
    async fn publish(
        &self,
        cfg: &ContainerConfig,
        req: &NetRequest,
        first: Option<&(NetworkRecord, Ipv4Addr)>,
        first6: Option<Ipv6Addr>,
    ) -> Result<(), NetError> {
        {
            let mut inner = self.lock();
            inner.ports.remove(&cfg.id);
            inner.ports6.remove(&cfg.id);
        }
        let Some((rec, ip)) = first else {
            return Ok(());
        };
        if req.ports.is_empty() || rec.internal {
            return Ok(());
        }
        // A restart of an adopted or earlier run holds the same host ports again.
        let earlier: Vec<Published> = std::fs::read(self.files_dir(&cfg.id).join(PORTS_FILE))
            .ok()
            .and_then(|b| serde_json::from_slice(&b).ok())
            .unwrap_or_default();
        let mut held = Vec::new();
        let mut held6 = Vec::new();
        for p in &req.ports {
            let proto = if p.protocol == "udp" {
                Proto::Udp
            } else {
                Proto::Tcp
            };
            let range = match p.published {
                Some(r) => Some(r),
                None => earlier
                    .iter()
                    .find(|e| e.target == p.target && e.protocol == p.protocol)
                    .map(|e| (e.host_port, e.host_port)),
            };
            let host = p.host_ip.as_deref().map(|h| h.trim_matches(['[', ']']));
            let host_ip = match host {
                None | Some("") => None,
                Some(h) => Some(h.parse::<IpAddr>().map_err(|_| {
                    NetError::Invalid(format!(
                        "host address {h} of port {} is not an IP address",
                        p.target
                    ))
                })?),
            };
            // IPv6 only: an IPv6 host address.
            if let Some(IpAddr::V6(h6)) = host_ip {
                let Some(c6) = first6 else {
                    return Err(NetError::Invalid(format!(
                        "port [{h6}]:{}: network \"{}\" has no IPv6 (declare it with enable_ipv6: true)",
                        p.target, rec.name
                    )));
                };
                let r6 = self.hold6(h6, p.published, range, proto)?;
                held6.push(forward6(r6, h6, c6, p, proto));
                continue;
            }
            let host_ip = match host_ip {
                Some(IpAddr::V4(v4)) if !v4.is_unspecified() => Some(v4),
                _ => None,
            };
            let res = match ports::reserve(host_ip, range, proto) {
                Ok(r) => r,
                // The ephemeral port an earlier run had was taken meanwhile: any will do.
                Err(_) if p.published.is_none() && range.is_some() => {
                    ports::reserve(host_ip, None, proto)?
                }
                Err(e) => return Err(e.into()),
            };
            // No host address given: the same port on the host's IPv6 addresses too.
            if let (Some(c6), None) = (first6, host) {
                let port = res.port();
                let r6 = self.hold6(Ipv6Addr::UNSPECIFIED, Some((port, port)), None, proto)?;
                held6.push(forward6(r6, Ipv6Addr::UNSPECIFIED, c6, p, proto));
            }
            let fwd = Forward {
                proto,
                host_ip,
                host_port: res.port(),
                bridge: rec.bridge.clone(),
                container_ip: *ip,
                container_port: p.target,
            };
            let shown = Published {
                host_ip: IpAddr::V4(host_ip.unwrap_or(Ipv4Addr::UNSPECIFIED)),
                host_port: res.port(),
                target: p.target,
                protocol: p.protocol.clone(),
            };
            held.push((res, fwd, shown));
        }
        let shown: Vec<&Published> = held
            .iter()
            .map(|(_, _, s)| s)
            .chain(held6.iter().map(|(_, _, s)| s))
            .collect();
        let path = self.files_dir(&cfg.id).join(PORTS_FILE);
        std::fs::write(&path, serde_json::to_vec(&shown).unwrap_or_default())
            .map_err(io("writing", &path))?;
        let udp: Vec<conntrack::Target> = held
            .iter()
            .map(|(_, f, _)| (f.proto, f.host_ip.map(IpAddr::V4), f.host_port))
            .chain(
                held6
                    .iter()
                    .map(|(_, f, _)| (f.proto, f.host_ip.map(IpAddr::V6), f.host_port)),
            )
            .filter(|(proto, _, _)| *proto == Proto::Udp)
            .map(|(_, addr, port)| conntrack::Target { addr, port })
            .collect();
        {
            let mut inner = self.lock();
            inner.ports.insert(cfg.id.clone(), held);
            inner.ports6.insert(cfg.id.clone(), held6);
        }
        self.apply().await?;
        // Now that the ports lead here, UDP flows that still lead elsewhere (a container
        // replaced, or the host while no container was behind the port) are forgotten, so
        // their next packet takes the new way (`conntrack`).
        if !udp.is_empty() {
            let forgot = tokio::task::spawn_blocking(move || conntrack::forget_udp(&udp))
                .await
                .map_err(|e| NetError::Kernel(e.to_string()))?;
            if let Err(e) = forgot {
                eprintln!("rstack: container {}: {e}", cfg.id);
            }
        }
        Ok(())
    }

    /// Holds an IPv6 host port: `range`, else (an ephemeral port an earlier run had, taken
    /// meanwhile) any, when none was published (`published`).
    fn hold6(
        &self,
        ip: Ipv6Addr,
        published: Option<(u16, u16)>,
        range: Option<(u16, u16)>,
        proto: Proto,
    ) -> Result<ports6::Reservation6, NetError> {
        let range = range.or(published);
        match ports6::reserve(ip, range, proto) {
            Ok(r) => Ok(r),
            Err(_) if published.is_none() && range.is_some() => {
                ports6::reserve(ip, None, proto).map_err(NetError::Conflict)
            }
            Err(e) => Err(NetError::Conflict(e)),
        }
    }

    /// An address on `rec` for container `id`: the one it already has there, the one it asks
    /// for, or the next free one.
    fn lease(
        &self,
        rec: &NetworkRecord,
        id: &str,
        want: Option<&str>,
    ) -> Result<Ipv4Addr, NetError> {
        let (Some(subnet), Some(gw)) = (rec.subnet(), rec.gateway()) else {
            return Err(NetError::Invalid(format!(
                "network {}: bad subnet",
                rec.name
            )));
        };
        let mut inner = self.lock();
        let leases = inner.leases.entry(rec.name.clone()).or_default();
        let want = want
            .map(|w| {
                w.parse::<Ipv4Addr>()
                    .ok()
                    .filter(|ip| subnet.contains(*ip) && *ip != gw)
                    .ok_or_else(|| {
                        NetError::Invalid(format!(
                            "ipv4_address {w} is not a free address of network \"{}\" ({subnet})",
                            rec.name
                        ))
                    })
            })
            .transpose()?;
        let mine = leases.iter().find(|(_, c)| *c == id).map(|(ip, _)| *ip);
        if let Some(ip) = mine {
            if want.is_none_or(|w| w == ip) {
                return Ok(ip);
            }
            leases.remove(&ip);
        }
        let ip = match want {
            Some(w) => {
                if let Some(holder) = leases.get(&w) {
                    return Err(NetError::Conflict(format!(
                        "address {w} on network \"{}\" is in use by container {holder}",
                        rec.name
                    )));
                }
                w
            }
            None => {
                let used: BTreeSet<Ipv4Addr> = leases.keys().copied().collect();
                let range = rec.ip_range.as_deref().and_then(|r| r.parse().ok());
                ipam::next_free(subnet, range, gw, &used).ok_or_else(|| {
                    NetError::Conflict(format!("network \"{}\" has no free address left", rec.name))
                })?
            }
        };
        leases.insert(ip, id.to_string());
        Ok(ip)
    }

    /// Where a container's network files live: `<networks>/containers/<id>`, beside the
    /// records (its state directory is only made at the start itself), removed with it.
    fn files_dir(&self, id: &str) -> PathBuf {
        self.dir.join("containers").join(id)
    }

    fn write_files(
        &self,
        cfg: &mut ContainerConfig,
        resolv: &str,
        hosts: &str,
    ) -> Result<(), NetError> {
        let hostname = format!("{}\n", cfg.hostname);
        let dir = self.files_dir(&cfg.id);
        // A new container takes a removed one's directory, whose files are rewritten below.
        if !self.spare_files.take_as(&dir) {
            std::fs::create_dir_all(&dir).map_err(io("creating", &dir))?;
        }
        for (file, text, dest) in [
            ("resolv.conf", resolv, "/etc/resolv.conf"),
            ("hosts", hosts, "/etc/hosts"),
            ("hostname", hostname.as_str(), "/etc/hostname"),
        ] {
            let path = dir.join(file);
            files::write_if_changed(&path, text).map_err(io("writing", &path))?;
            // The service's own mount of the same path wins.
            if cfg.mounts.iter().any(|m| m.destination == dest) {
                continue;
            }
            cfg.mounts.push(MountConfig {
                destination: dest.to_string(),
                kind: "bind".into(),
                source: path.to_string_lossy().into_owned(),
                options: vec!["rbind".into(), "rprivate".into()],
                create_source: false,
                volume: None,
                seed: false,
                file: None,
            });
        }
        Ok(())
    }

    /// A container has started: others may join its namespace.
    pub fn started(&self, cfg: &ContainerConfig, pid: i32) {
        let dir = self.files_dir(&cfg.id);
        let mut inner = self.lock();
        inner.running.insert(cfg.id.clone(), (pid, dir.clone()));
        if let Some(name) = container_name(cfg) {
            inner.running.insert(name, (pid, dir));
        }
    }

    /// A container's run has ended: its names and host ports go; its addresses stay until
    /// it is removed (a restart gets them again).
    pub async fn exited(&self, cfg: &ContainerConfig) {
        self.dns.remove_container(&cfg.id);
        let had_ports = {
            let mut inner = self.lock();
            inner.running.remove(&cfg.id);
            if let Some(name) = container_name(cfg) {
                inner.running.remove(&name);
            }
            let had6 = inner.ports6.remove(&cfg.id).is_some_and(|p| !p.is_empty());
            inner.ports.remove(&cfg.id).is_some_and(|p| !p.is_empty()) || had6
        };
        if had_ports && let Err(e) = self.apply().await {
            eprintln!("rstack: {e}");
        }
    }

    /// A container is removed: its addresses are free again, its files gone.
    pub fn removed(&self, cfg: &ContainerConfig) {
        let dir = self.files_dir(&cfg.id);
        if !self.spare_files.recycle(&dir) {
            let _ = std::fs::remove_dir_all(&dir);
        }
        let mut inner = self.lock();
        for leases in inner.leases.values_mut() {
            leases.retain(|_, c| *c != cfg.id);
        }
        for leases in inner.leases6.values_mut() {
            leases.retain(|_, c| *c != cfg.id);
        }
    }

    /// A container an earlier daemon started, running: its addresses, names and ports, from
    /// the config its run was started with (`run_cfg`, its config.json).
    pub fn adopt(&self, run_cfg: &ContainerConfig, pid: i32) {
        let Some(req) = run_cfg.network.request.clone() else {
            return;
        };
        self.started(run_cfg, pid);
        let nets: Vec<NetworkRecord> = {
            let inner = self.lock();
            run_cfg
                .network
                .interfaces
                .iter()
                .filter_map(|i| {
                    inner
                        .networks
                        .values()
                        .find(|r| r.bridge == i.bridge)
                        .cloned()
                })
                .collect()
        };
        for ((rec, ifc), a) in nets
            .iter()
            .zip(&run_cfg.network.interfaces)
            .zip(&req.networks)
        {
            self.lock()
                .leases
                .entry(rec.name.clone())
                .or_default()
                .insert(ifc.address, run_cfg.id.clone());
            let mut names = req.names.clone();
            names.extend(a.aliases.iter().cloned());
            self.dns
                .set_endpoint(&rec.name, &run_cfg.id, ifc.address, names);
            if let Some((ip6, _)) = ifc.address6 {
                self.lock()
                    .leases6
                    .entry(rec.name.clone())
                    .or_default()
                    .insert(ip6, run_cfg.id.clone());
                self.dns.set_endpoint6(&rec.name, &run_cfg.id, ip6);
            }
        }
        self.dns.set_links(&run_cfg.id, req.links.clone());
        self.dns.set_upstreams(
            &run_cfg.id,
            req.dns
                .iter()
                .filter_map(|d| d.parse::<IpAddr>().ok())
                .collect(),
        );
        let earlier: Vec<Published> = std::fs::read(self.files_dir(&run_cfg.id).join(PORTS_FILE))
            .ok()
            .and_then(|b| serde_json::from_slice(&b).ok())
            .unwrap_or_default();
        let (Some(rec), Some(ifc)) = (nets.first(), run_cfg.network.interfaces.first()) else {
            return;
        };
        let mut held = Vec::new();
        let mut held6 = Vec::new();
        for p in earlier {
            let proto = if p.protocol == "udp" {
                Proto::Udp
            } else {
                Proto::Tcp
            };
            let host_ip = match p.host_ip {
                IpAddr::V4(v4) => Some(v4).filter(|ip| !ip.is_unspecified()),
                IpAddr::V6(h6) => {
                    let Some((c6, _)) = ifc.address6 else {
                        continue;
                    };
                    match ports6::reserve(h6, Some((p.host_port, p.host_port)), proto) {
                        Ok(r6) => {
                            let req = crate::runtime::config::PortRequest {
                                target: p.target,
                                protocol: p.protocol.clone(),
                                ..Default::default()
                            };
                            held6.push(forward6(r6, h6, c6, &req, proto));
                        }
                        Err(e) => eprintln!("rstack: container {}: {e}", run_cfg.id),
                    }
                    continue;
                }
            };
            match ports::reserve(host_ip, Some((p.host_port, p.host_port)), proto) {
                Ok(res) => held.push((
                    res,
                    Forward {
                        proto,
                        host_ip,
                        host_port: p.host_port,
                        bridge: rec.bridge.clone(),
                        container_ip: ifc.address,
                        container_port: p.target,
                    },
                    p,
                )),
                Err(e) => eprintln!("rstack: container {}: {e}", run_cfg.id),
            }
        }
        self.lock().ports6.insert(run_cfg.id.clone(), held6);
        self.lock().ports.insert(run_cfg.id.clone(), held);
    }

    /// A container seen at boot that is not running: its addresses stay reserved.
    pub fn adopt_stopped(&self, run_cfg: &ContainerConfig) {
        let inner = &mut *self.lock();
        for ifc in &run_cfg.network.interfaces {
            if let Some(rec) = inner.networks.values().find(|r| r.bridge == ifc.bridge) {
                inner
                    .leases
                    .entry(rec.name.clone())
                    .or_default()
                    .insert(ifc.address, run_cfg.id.clone());
                if let Some((ip6, _)) = ifc.address6 {
                    inner
                        .leases6
                        .entry(rec.name.clone())
                        .or_default()
                        .insert(ip6, run_cfg.id.clone());
                }
            }
        }
    }

    /// After adoption: the table with the adopted containers' ports.
    pub async fn reapply(&self) {
        if let Err(e) = self.apply().await {
            eprintln!("rstack: {e}");
        }
    }

    /// The host ports a running container publishes.
    pub fn published(&self, id: &str) -> Vec<Published> {
        let inner = self.lock();
        let v4 = inner.ports.get(id).into_iter().flatten().map(|(_, _, p)| p);
        let v6 = inner
            .ports6
            .get(id)
            .into_iter()
            .flatten()
            .map(|(_, _, p)| p);
        v4.chain(v6).cloned().collect()
    }

    pub fn list(&self) -> Vec<(NetworkRecord, Vec<Endpoint>)> {
        let inner = self.lock();
        inner
            .networks
            .values()
            .map(|r| (r.clone(), endpoints(&inner, &r.name)))
            .collect()
    }

    pub fn inspect(&self, name: &str) -> Result<(NetworkRecord, Vec<Endpoint>), NetError> {
        let inner = self.lock();
        let r = inner
            .networks
            .get(name)
            .or_else(|| {
                inner
                    .networks
                    .values()
                    .find(|r| r.id.starts_with(name) && name.len() >= 4)
            })
            .ok_or_else(|| NetError::NotFound(name.to_string()))?;
        Ok((r.clone(), endpoints(&inner, &r.name)))
    }

    /// Removes a network no container is on.
    pub async fn remove(&self, name: &str) -> Result<(), NetError> {
        let rec = {
            let inner = self.lock();
            let rec = inner
                .networks
                .get(name)
                .cloned()
                .ok_or_else(|| NetError::NotFound(name.to_string()))?;
            let users = endpoints(&inner, name);
            if !users.is_empty() {
                let ids: Vec<&str> = users
                    .iter()
                    .map(|e| &e.container_id[..12.min(e.container_id.len())])
                    .collect();
                return Err(NetError::InUse {
                    name: name.to_string(),
                    containers: ids.join(", "),
                });
            }
            rec
        };
        {
            let mut inner = self.lock();
            inner.servers.remove(name);
            inner.networks.remove(name);
            inner.leases.remove(name);
            inner.leases6.remove(name);
            inner.bridge_index.remove(&rec.bridge);
        }
        self.dns.remove_network(name);
        let path = self.dir.join(format!("{name}.json"));
        self.apply().await?;
        if let Some(told) = self.bridge_gone.get() {
            told(&rec.bridge);
        }
        delete_bridge(rec.bridge).await?;
        // Last: a daemon killed before this finds the record and brings the bridge back.
        std::fs::remove_file(&path).map_err(io("removing", &path))
    }

    /// Removes the networks of `project` no container is on (`down`); returns their names.
    pub async fn remove_project(&self, project: &str) -> Vec<String> {
        let names: Vec<String> = self
            .lock()
            .networks
            .values()
            .filter(|r| r.project == project)
            .map(|r| r.name.clone())
            .collect();
        let mut removed = Vec::new();
        for n in names {
            match self.remove(&n).await {
                Ok(()) => removed.push(n),
                Err(NetError::InUse { .. }) => {}
                Err(e) => eprintln!("rstack: removing network {n}: {e}"),
            }
        }
        removed
    }

    /// Removes every network no container is on; returns their names.
    pub async fn prune(&self) -> Vec<String> {
        let names: Vec<String> = self.lock().networks.keys().cloned().collect();
        let mut removed = Vec::new();
        for n in names {
            if self.remove(&n).await.is_ok() {
                removed.push(n);
            }
        }
        removed
    }

    /// At daemon stop: the DNS servers go; bridges, records and the table stay for the next
    /// daemon (live containers keep their network), unless no network is left: then the
    /// table goes too, and nothing of this daemon stays in the host's ruleset.
    pub async fn shutdown(&self) {
        let empty = {
            let mut inner = self.lock();
            inner.servers.clear();
            inner.networks.is_empty()
        };
        if empty {
            let table = self.table.clone();
            let _ = tokio::task::spawn_blocking(move || nft::remove_table(&table)).await;
        }
    }
}

/// A held IPv6 port, its DNAT to `[c6]:target` and how it is shown.
fn forward6(
    r6: ports6::Reservation6,
    host: Ipv6Addr,
    c6: Ipv6Addr,
    p: &crate::runtime::config::PortRequest,
    proto: Proto,
) -> (ports6::Reservation6, Forward6, Published) {
    let port = r6.port;
    (
        r6,
        Forward6 {
            proto,
            host_ip: Some(host).filter(|h| !h.is_unspecified()),
            host_port: port,
            container_ip: c6,
            container_port: p.target,
        },
        Published {
            host_ip: IpAddr::V6(host),
            host_port: port,
            target: p.target,
            protocol: p.protocol.clone(),
        },
    )
}

fn endpoints(inner: &Inner, network: &str) -> Vec<Endpoint> {
    let v6 = |c: &str| {
        inner
            .leases6
            .get(network)?
            .iter()
            .find(|(_, id)| id.as_str() == c)
            .map(|(ip, _)| *ip)
    };
    inner
        .leases
        .get(network)
        .map(|l| {
            l.iter()
                .map(|(ip, c)| Endpoint {
                    container_id: c.clone(),
                    address: *ip,
                    address6: v6(c),
                })
                .collect()
        })
        .unwrap_or_default()
}

fn container_name(cfg: &ContainerConfig) -> Option<String> {
    cfg.network
        .request
        .as_ref()
        .map(|r| r.name.clone())
        .filter(|n| !n.is_empty())
}

async fn delete_bridge(bridge: String) -> Result<(), NetError> {
    tokio::task::spawn_blocking(move || {
        Netlink::open()
            .and_then(|mut nl| nl.delete_link(&bridge))
            .map_err(|e| NetError::Kernel(e.to_string()))
    })
    .await
    .map_err(|e| NetError::Kernel(e.to_string()))?
}

fn random_hex(bytes: usize) -> String {
    let mut buf = vec![0u8; bytes];
    // SAFETY: getrandom fills the buffer we own, of its length.
    let n = unsafe { libc::getrandom(buf.as_mut_ptr().cast(), buf.len(), 0) };
    if n != bytes as isize {
        // Not cryptographic: names only need to differ.
        let t = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos())
            .unwrap_or(0);
        for (i, b) in buf.iter_mut().enumerate() {
            *b = (t >> ((i % 16) * 8)) as u8 ^ (std::process::id() as u8).wrapping_add(i as u8);
        }
    }
    hex::encode(buf)
}

/// An exclusive lock on /run/rstack-ipam.lock: daemons on one host choose subnets one at a
/// time (each then sees the other's bridge route).
struct HostLock {
    _file: Option<std::fs::File>,
}

impl HostLock {
    fn take() -> HostLock {
        let f = std::fs::OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open("/run/rstack-ipam.lock")
            .ok();
        if let Some(f) = &f {
            use std::os::fd::AsRawFd;
            // SAFETY: flock on a descriptor we own; released when it is closed.
            unsafe { libc::flock(f.as_raw_fd(), libc::LOCK_EX) };
        }
        HostLock { _file: f }
    }
}
