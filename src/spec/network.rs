//! The top-level `networks:` and what services make of them: `networks` (short and long
//! form), `network_mode`, resolved into `model::ServiceNetworking`.
//!
//! Rules the rest of rstack relies on (see `model::network`):
//! - a network's full name is `<project>_<key>`, or its `name:`; an external one keeps its
//!   key (or `name:`);
//! - a service on the default network only, without options, while the top level does not
//!   change `default`, keeps an EMPTY `networks` map (its config hash is unchanged); any other
//!   service gets one resolved `NetworkDef` per key it names;
//! - a network with `driver: host`/`none` (or an external one named `host`/`none`, Docker's
//!   predefined networks) is not a bridge: a service on it gets `network_mode: host`/`none`.

use super::cidr::{Cidr, parse_ipv4};
use super::keys::suggest;
use super::netopts;
use super::value::Cx;
use super::yaml::{Kind, Node, Span};
use crate::model::network::default_network;
use crate::model::{IpamConfig, NetworkDef, NetworkMode, Service, ServiceNetwork};
use indexmap::IndexMap;

const TOP_KEYS: &[&str] = &[
    "name",
    "driver",
    "driver_opts",
    "ipam",
    "external",
    "internal",
    "enable_ipv4",
    "enable_ipv6",
    "attachable",
    "labels",
];
const IPAM_KEYS: &[&str] = &["driver", "config", "options"];
const IPAM_CONFIG_KEYS: &[&str] = &["subnet", "ip_range", "gateway", "aux_addresses"];
const SERVICE_KEYS: &[&str] = &[
    "aliases",
    "interface_name",
    "ipv4_address",
    "ipv6_address",
    "link_local_ips",
    "mac_address",
    "driver_opts",
    "priority",
    "gw_priority",
];

/// A top-level network as declared.
struct Declared {
    def: NetworkDef,
    /// `driver: host`/`none` (or external `host`/`none`): not a network to attach to.
    special: Option<NetworkMode>,
    /// The first IPv4 subnet and where it is written.
    subnet: Option<(Cidr, Span)>,
}

/// Reads the top-level networks and fills every service's `net.networks`/`network_mode`.
pub fn resolve(
    cx: &mut Cx<'_>,
    root: &Node,
    project: &str,
    services: &mut IndexMap<String, Service>,
) {
    let mut declared = top_level(cx, root, project);
    check_overlaps(cx, &declared);
    if !declared.contains_key("default") {
        let def = default_network(project);
        declared.insert(
            "default".into(),
            Declared {
                def,
                special: None,
                subnet: None,
            },
        );
    }
    let default_untouched = declared
        .get("default")
        .is_some_and(|d| d.special.is_none() && d.def == default_network(project));
    let names: Vec<String> = declared.keys().cloned().collect();
    // (network key, address) -> the service that took it.
    let mut taken: IndexMap<(String, u32), String> = IndexMap::new();
    for (name, svc) in services.iter_mut() {
        let Some(node) = root.get("services").and_then(|s| s.get(name)) else {
            continue;
        };
        let base = format!("services.{name}");
        let mode_node = node.get("network_mode").filter(|n| !n.is_null());
        if let Some(m) = mode_node {
            svc.net.network_mode = network_mode(cx, &format!("{base}.network_mode"), m);
        }
        let Some((nkey, nval)) = entry(node, "networks").filter(|(_, v)| !v.is_null()) else {
            if svc.net.network_mode == NetworkMode::Networks && !default_untouched {
                attach_default(svc, &declared);
            }
            continue;
        };
        if mode_node.is_some() {
            cx.error_hint(
                nkey.span,
                format!("{base}: networks and network_mode cannot be used together"),
                "keep one of them: network_mode replaces the service's networks",
            );
            continue;
        }
        let path = format!("{base}.networks");
        let wanted = service_networks(cx, &path, nval);
        let mut map = IndexMap::new();
        let mut special = None;
        for (key, span, mut sn, ip_span) in wanted {
            let Some(d) = declared.get(&key) else {
                if root.get("networks").and_then(|n| n.get(&key)).is_some() {
                    // Declared, but invalid: reported at the declaration.
                    continue;
                }
                let list: Vec<&str> = names.iter().map(String::as_str).collect();
                let msg = format!(
                    "{path}: network \"{key}\" is not declared under the top-level networks:"
                );
                match suggest(&key, &list) {
                    Some(s) => cx.error_hint(span, msg, format!("did you mean {s}?")),
                    None => cx.error_hint(
                        span,
                        msg,
                        format!(
                            "add `networks: {{{key}: {{}}}}` at the top level, or use one of: {}",
                            list.join(", ")
                        ),
                    ),
                }
                continue;
            };
            if let Some(m) = &d.special {
                special = Some((m.clone(), span));
                continue;
            }
            if let Some(ip) = sn.ipv4_address.as_deref() {
                let at = ip_span.unwrap_or(span);
                if let Some(addr) =
                    check_address(cx, &format!("{path}.{key}.ipv4_address"), at, ip, d)
                {
                    if let Some(other) = taken.get(&(key.clone(), addr)) {
                        cx.error(
                            at,
                            format!(
                                "{path}.{key}.ipv4_address: {ip} is already the address of service \"{other}\" on this network"
                            ),
                        );
                    } else {
                        taken.insert((key.clone(), addr), name.clone());
                    }
                }
            }
            sn.network = d.def.clone();
            map.insert(key, sn);
        }
        if let Some((mode, span)) = special {
            if map.is_empty() {
                svc.net.network_mode = mode;
            } else {
                cx.error(
                    span,
                    format!("{path}: a service on the host's network (or none) cannot join other networks"),
                );
            }
            continue;
        }
        let plain_default = map.len() == 1
            && map.get("default").is_some_and(|n| {
                *n == ServiceNetwork {
                    network: n.network.clone(),
                    ..ServiceNetwork::default()
                }
            });
        if map.is_empty() || (plain_default && default_untouched) {
            // `networks: {}` or only `default` as Compose would have it anyway.
            if !default_untouched {
                attach_default(svc, &declared);
            }
            continue;
        }
        svc.net.networks = map;
    }
    check_ports(cx, root, services);
}

/// Published ports need the service's own network namespace: under `network_mode: host`
/// they mean nothing (warned, as Docker discards them); in another container's namespace
/// they cannot be set up (an error, as Docker refuses them).
fn check_ports(cx: &mut Cx<'_>, root: &Node, services: &IndexMap<String, Service>) {
    for (name, svc) in services {
        if svc.net.ports.is_empty() {
            continue;
        }
        let Some((key, _)) = root
            .get("services")
            .and_then(|s| s.get(name))
            .and_then(|n| entry(n, "ports"))
        else {
            continue;
        };
        let p = format!("services.{name}.ports");
        match &svc.net.network_mode {
            NetworkMode::Host => cx.warn(
                key.span,
                format!("{p}: ignored under network_mode: host (the service listens on the host's ports directly)"),
            ),
            NetworkMode::Service(other) | NetworkMode::Container(other) => cx.error_hint(
                key.span,
                format!("{p}: a service in the network namespace of \"{other}\" cannot publish ports"),
                format!("publish them on \"{other}\" instead"),
            ),
            NetworkMode::Networks | NetworkMode::None => {}
        }
    }
}

fn attach_default(svc: &mut Service, declared: &IndexMap<String, Declared>) {
    let Some(d) = declared.get("default") else {
        return;
    };
    match &d.special {
        Some(m) => svc.net.network_mode = m.clone(),
        None => {
            svc.net.networks.insert(
                "default".into(),
                ServiceNetwork {
                    network: d.def.clone(),
                    ..ServiceNetwork::default()
                },
            );
        }
    }
}

/// The key node and value of `key` in mapping `n`.
fn entry<'n>(n: &'n Node, key: &str) -> Option<(&'n Node, &'n Node)> {
    n.as_map()?
        .iter()
        .find(|(k, _)| k.as_str() == Some(key))
        .map(|(k, v)| (k, v))
}

fn network_mode(cx: &mut Cx<'_>, path: &str, v: &Node) -> NetworkMode {
    let Some(s) = cx.string(path, v) else {
        return NetworkMode::Networks;
    };
    let named = |prefix: &str| s.strip_prefix(prefix).map(str::to_string);
    match s.as_str() {
        "none" => NetworkMode::None,
        "host" => NetworkMode::Host,
        // Docker's bridge is the project's default network here.
        "bridge" | "default" => NetworkMode::Networks,
        _ => match (named("service:"), named("container:")) {
            (Some(svc), _) if !svc.is_empty() => NetworkMode::Service(svc),
            (_, Some(c)) if !c.is_empty() => NetworkMode::Container(c),
            _ => {
                cx.error_hint(
                    v.span,
                    format!("{path}: invalid network mode \"{s}\""),
                    "expected none, host, bridge, service:NAME or container:NAME (to join networks, use networks:)",
                );
                NetworkMode::Networks
            }
        },
    }
}

/// A service's `networks` entries: (key, where, options, where ipv4_address is).
type Wanted = (String, Span, ServiceNetwork, Option<Span>);

fn service_networks(cx: &mut Cx<'_>, path: &str, v: &Node) -> Vec<Wanted> {
    let mut out: Vec<Wanted> = Vec::new();
    match &v.kind {
        Kind::Seq(items) => {
            for (i, it) in items.iter().enumerate() {
                if let Some(k) = cx.string(&format!("{path}[{i}]"), it) {
                    out.push((k, it.span, ServiceNetwork::default(), None));
                }
            }
        }
        Kind::Map(m) => {
            for (k, val) in m {
                let key = k.scalar_text().unwrap_or_default();
                let p = format!("{path}.{key}");
                let mut sn = ServiceNetwork::default();
                let mut ip_span = None;
                if !val.is_null() {
                    let Some(fields) = cx.map(&p, val) else {
                        continue;
                    };
                    for (fk, fknode, fv) in fields {
                        let fp = format!("{p}.{fk}");
                        match fk.as_str() {
                            "aliases" => sn.aliases = cx.string_list(&fp, fv).unwrap_or_default(),
                            "ipv4_address" => {
                                sn.ipv4_address = cx.string(&fp, fv);
                                ip_span = Some(fv.span);
                            }
                            "priority" => match cx.int(&fp, fv).map(i32::try_from) {
                                Some(Ok(n)) => sn.priority = n,
                                Some(Err(_)) => cx.error(fv.span, format!("{fp}: out of range")),
                                None => {}
                            },
                            "mac_address" => sn.mac_address = netopts::mac_address(cx, &fp, fv),
                            "ipv6_address" => sn.ipv6_address = super::ipam6::address(cx, &fp, fv),
                            "link_local_ips" => cx.warn(
                                fknode.span,
                                format!("{fp}: ignored: link-local addresses are the kernel's"),
                            ),
                            "driver_opts" | "gw_priority" | "interface_name" => cx.warn(
                                fknode.span,
                                format!(
                                    "{fp}: ignored (not supported by rstack's bridge networks)"
                                ),
                            ),
                            k if k.starts_with("x-") => {}
                            k => cx.unknown_key(fknode.span, &p, k, SERVICE_KEYS),
                        }
                    }
                }
                out.push((key, k.span, sn, ip_span));
            }
        }
        _ => cx.error(
            v.span,
            format!(
                "{path}: expected a list of network names or a mapping, found {}",
                v.type_name()
            ),
        ),
    }
    out
}

/// A fixed address: IPv4, inside the network's subnet, not its network, broadcast or
/// gateway address.
fn check_address(cx: &mut Cx<'_>, p: &str, at: Span, ip: &str, d: &Declared) -> Option<u32> {
    let Some(addr) = parse_ipv4(ip) else {
        cx.error_hint(
            at,
            format!("{p}: \"{ip}\" is not an IPv4 address"),
            "write an address such as 10.5.0.10",
        );
        return None;
    };
    let Some((net, _)) = d.subnet else {
        return Some(addr);
    };
    let gateway = d
        .def
        .ipam
        .iter()
        .find(|c| c.subnet.as_deref().and_then(|s| Cidr::parse(s).ok()) == Some(net))
        .and_then(|c| c.gateway.as_deref())
        .and_then(parse_ipv4)
        .unwrap_or(net.addr.wrapping_add(1));
    let problem = if !net.contains(addr) {
        Some(format!("is outside the network's subnet {net}"))
    } else if net.prefix < 31 && (addr == net.addr || addr == net.last()) {
        Some(format!("is the network or broadcast address of {net}"))
    } else if addr == gateway {
        Some("is the network's gateway".to_string())
    } else {
        None
    };
    match problem {
        Some(why) => {
            cx.error_hint(
                at,
                format!("{p}: {ip} {why}"),
                format!("pick a free address inside {net}"),
            );
            None
        }
        None => Some(addr),
    }
}

/// Every top-level network, by key (invalid ones are reported and left out).
fn top_level(cx: &mut Cx<'_>, root: &Node, project: &str) -> IndexMap<String, Declared> {
    let mut out = IndexMap::new();
    let Some(node) = root.get("networks").filter(|n| !n.is_null()) else {
        return out;
    };
    let Some(entries) = cx.map("networks", node) else {
        return out;
    };
    for (key, knode, v) in entries {
        if let Some(d) = one(cx, &key, knode, v, project) {
            out.insert(key, d);
        }
    }
    out
}

fn one(cx: &mut Cx<'_>, key: &str, knode: &Node, v: &Node, project: &str) -> Option<Declared> {
    let p = format!("networks.{key}");
    let mut def = NetworkDef {
        project: project.to_string(),
        ..NetworkDef::default()
    };
    let mut name = None;
    let mut driver = None;
    let mut subnet = None;
    let before = cx.report.items.iter().filter(|d| d.is_error()).count();
    let fields = if v.is_null() {
        Vec::new()
    } else {
        cx.map(&p, v)?
    };
    for (k, fk, fv) in fields {
        let kp = format!("{p}.{k}");
        match k.as_str() {
            "name" => name = cx.string(&kp, fv),
            "external" => {
                def.external = match &fv.kind {
                    // The old form `external: {name: x}`.
                    Kind::Map(_) => {
                        if let Some(n) = fv.get("name") {
                            name = cx.string(&format!("{kp}.name"), n);
                        }
                        true
                    }
                    _ => cx.boolean(&kp, fv).unwrap_or(false),
                }
            }
            "internal" => def.internal = cx.boolean(&kp, fv).unwrap_or(false),
            "attachable" => def.attachable = cx.boolean(&kp, fv).unwrap_or(false),
            "enable_ipv6" => {
                def.enable_ipv6 = cx.boolean(&kp, fv).unwrap_or(false);
            }
            "enable_ipv4" => {
                if cx.boolean(&kp, fv) == Some(false) {
                    cx.error_hint(
                        fv.span,
                        format!("{kp}: rstack's networks are IPv4 networks"),
                        "remove enable_ipv4: false",
                    );
                }
            }
            "labels" => def.labels = string_map(cx, &kp, fv),
            "driver_opts" => {
                def.driver_opts = string_map(cx, &kp, fv);
                if !def.driver_opts.is_empty() {
                    cx.warn(
                        fk.span,
                        format!("{kp}: ignored: rstack's bridge networks take no driver options"),
                    );
                }
            }
            "driver" => {
                if let Some(d) = cx.string(&kp, fv) {
                    match d.as_str() {
                        "bridge" | "" => {}
                        "host" => driver = Some(NetworkMode::Host),
                        "none" | "null" => driver = Some(NetworkMode::None),
                        other => cx.error_hint(
                            fv.span,
                            format!("{kp}: network driver \"{other}\" is not supported"),
                            "rstack supports bridge networks: remove driver: or write driver: bridge",
                        ),
                    }
                }
            }
            "ipam" => subnet = ipam(cx, &kp, fv, &mut def.ipam),
            k if k.starts_with("x-") => {}
            k => cx.unknown_key(fk.span, &p, k, TOP_KEYS),
        }
    }
    def.name = match name {
        Some(n) if !n.is_empty() => n,
        _ if def.external => key.to_string(),
        _ => format!("{project}_{key}"),
    };
    if !valid_name(&def.name) {
        cx.error_hint(
            knode.span,
            format!("{p}: invalid network name \"{}\"", def.name),
            "network names take letters, digits, `_`, `.` and `-`, starting with a letter or digit",
        );
    }
    // Docker's predefined networks, named by an external entry.
    let special = driver.or(match (def.external, def.name.as_str()) {
        (true, "host") => Some(NetworkMode::Host),
        (true, "none") => Some(NetworkMode::None),
        _ => None,
    });
    let after = cx.report.items.iter().filter(|d| d.is_error()).count();
    (after == before).then_some(Declared {
        def,
        special,
        subnet,
    })
}

/// `ipam:`; returns the first IPv4 subnet (where written) for the overlap and address checks.
fn ipam(cx: &mut Cx<'_>, p: &str, v: &Node, out: &mut Vec<IpamConfig>) -> Option<(Cidr, Span)> {
    let mut first = None;
    for (k, fk, fv) in cx.map(p, v)? {
        let kp = format!("{p}.{k}");
        match k.as_str() {
            "driver" => {
                if let Some(d) = cx.string(&kp, fv)
                    && d != "default"
                {
                    cx.error_hint(
                        fv.span,
                        format!("{kp}: IPAM driver \"{d}\" is not supported"),
                        "rstack has the default IPAM driver only: remove driver: or write driver: default",
                    );
                }
            }
            "options" => cx.warn(
                fk.span,
                format!("{kp}: ignored (the default IPAM driver takes none)"),
            ),
            "config" => {
                let Some(items) = fv.as_seq() else {
                    cx.error(
                        fv.span,
                        format!("{kp}: expected a list, found {}", fv.type_name()),
                    );
                    continue;
                };
                for (i, it) in items.iter().enumerate() {
                    let ip = format!("{kp}[{i}]");
                    if let Some((c, found)) = ipam_config(cx, &ip, it) {
                        if first.is_none() {
                            first = found;
                        }
                        out.push(c);
                    }
                }
            }
            k if k.starts_with("x-") => {}
            k => cx.unknown_key(fk.span, p, k, IPAM_KEYS),
        }
    }
    first
}

/// One `ipam.config` entry; an IPv6 one is checked by `ipam6`.
fn ipam_config(cx: &mut Cx<'_>, p: &str, v: &Node) -> Option<(IpamConfig, Option<(Cidr, Span)>)> {
    let fields = cx.map(p, v)?;
    let mut c = IpamConfig::default();
    let text = |n: &Node| n.scalar_text().unwrap_or_default();
    // An IPv6 entry: used by a network with `enable_ipv6: true` (`ipam6`).
    if v.get("subnet").map(text).is_some_and(|s| s.contains(':')) {
        return super::ipam6::config(cx, p, &fields).map(|c| (c, None));
    }
    let mut subnet = None;
    let mut ok = true;
    for (k, fk, fv) in &fields {
        let kp = format!("{p}.{k}");
        match k.as_str() {
            "subnet" => {
                let s = cx.string(&kp, fv)?;
                match Cidr::parse(&s) {
                    Ok(n) => {
                        subnet = Some((n, fv.span));
                        c.subnet = Some(s);
                    }
                    Err(e) => {
                        cx.error(fv.span, format!("{kp}: {e}"));
                        ok = false;
                    }
                }
            }
            "ip_range" | "gateway" | "aux_addresses" => {}
            k if k.starts_with("x-") => {}
            k => {
                cx.unknown_key(fk.span, p, k, IPAM_CONFIG_KEYS);
                ok = false;
            }
        }
    }
    for (k, fk, fv) in &fields {
        let kp = format!("{p}.{k}");
        match k.as_str() {
            "ip_range" => {
                let s = cx.string(&kp, fv)?;
                match (Cidr::parse(&s), subnet) {
                    (Err(e), _) => {
                        cx.error(fv.span, format!("{kp}: {e}"));
                        ok = false;
                    }
                    (Ok(r), Some((n, _))) if !n.covers(r) => {
                        cx.error(fv.span, format!("{kp}: {r} is not inside the subnet {n}"));
                        ok = false;
                    }
                    (Ok(_), None) => {
                        cx.error_hint(
                            fv.span,
                            format!("{kp}: an ip_range needs a subnet"),
                            "add subnet: to this entry",
                        );
                        ok = false;
                    }
                    (Ok(_), Some(_)) => c.ip_range = Some(s),
                }
            }
            "gateway" => {
                let s = cx.string(&kp, fv)?;
                match (parse_ipv4(&s), subnet) {
                    (None, _) => {
                        cx.error(fv.span, format!("{kp}: \"{s}\" is not an IPv4 address"));
                        ok = false;
                    }
                    (Some(g), Some((n, _))) if !n.contains(g) || g == n.addr || g == n.last() => {
                        cx.error(
                            fv.span,
                            format!("{kp}: {s} is not a usable address of the subnet {n}"),
                        );
                        ok = false;
                    }
                    (Some(_), None) => {
                        cx.error_hint(
                            fv.span,
                            format!("{kp}: a gateway needs a subnet"),
                            "add subnet: to this entry",
                        );
                        ok = false;
                    }
                    (Some(_), Some(_)) => c.gateway = Some(s),
                }
            }
            "aux_addresses" => cx.warn(fk.span, format!("{kp}: ignored")),
            _ => {}
        }
    }
    ok.then_some((c, subnet))
}

/// Two declared networks whose subnets overlap: reported at the later one, naming both.
fn check_overlaps(cx: &mut Cx<'_>, declared: &IndexMap<String, Declared>) {
    let list: Vec<(&String, Cidr, Span)> = declared
        .iter()
        .filter(|(_, d)| !d.def.external)
        .filter_map(|(k, d)| d.subnet.map(|(c, s)| (k, c, s)))
        .collect();
    for (i, (k2, c2, s2)) in list.iter().enumerate() {
        if let Some((k1, c1, s1)) = list[..i].iter().find(|(_, c1, _)| c1.overlaps(*c2)) {
            let at = cx
                .sources
                .get(s1.file)
                .map(|f| format!(" ({}:{}:{})", f.display, s1.line, s1.col))
                .unwrap_or_default();
            cx.error_hint(
                *s2,
                format!("networks.{k2}: subnet {c2} overlaps {c1} of network \"{k1}\"{at}"),
                "give each network its own address range",
            );
        }
    }
}

/// Docker's rule for names of networks: `[a-zA-Z0-9][a-zA-Z0-9_.-]*`.
fn valid_name(name: &str) -> bool {
    let mut chars = name.chars();
    chars.next().is_some_and(|c| c.is_ascii_alphanumeric())
        && chars.all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '-'))
}

fn string_map(cx: &mut Cx<'_>, p: &str, v: &Node) -> IndexMap<String, String> {
    let mut out = IndexMap::new();
    match &v.kind {
        Kind::Map(_) => {
            for (k, _, val) in cx.map(p, v).unwrap_or_default() {
                let s = if val.is_null() {
                    String::new()
                } else {
                    cx.string(&format!("{p}.{k}"), val).unwrap_or_default()
                };
                out.insert(k, s);
            }
        }
        Kind::Seq(_) => {
            for s in cx.string_list(p, v).unwrap_or_default() {
                let (k, val) = s.split_once('=').unwrap_or((&s, ""));
                out.insert(k.to_string(), val.to_string());
            }
        }
        Kind::Null => {}
        _ => cx.error(
            v.span,
            format!(
                "{p}: expected a mapping or a list of \"KEY=VALUE\", found {}",
                v.type_name()
            ),
        ),
    }
    out
}
