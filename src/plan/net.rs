//! A service's networking keys (`model::ServiceNetworking`) into the runtime's request
//! (`runtime::config::NetRequest`), which the daemon resolves at each start.

use crate::model::{NetworkMode, Service};
use crate::runtime::config::{NetAttach, NetRequest, PortRequest};

/// The request for container `name` of `project` (under `network_mode: host` the container
/// is in the host's namespace, `ContainerConfig::host_network`, and only its files are made).
/// A one-off container (`run`) answers to its own names only, not the service's, and
/// publishes no ports (compose's defaults without `--use-aliases` and `--service-ports`).
pub fn request(
    project: &str,
    name: &str,
    hostname: &str,
    service: &Service,
    one_off: bool,
) -> NetRequest {
    let net = &service.net;
    let mut names = vec![name.to_string()];
    if !one_off {
        names.insert(0, service.name.clone());
    }
    if !names.iter().any(|n| n == hostname) {
        names.push(hostname.to_string());
    }
    names.retain(|n| !n.is_empty());
    let join = match &net.network_mode {
        NetworkMode::Service(s) => Some(format!("{project}-{s}-1")),
        NetworkMode::Container(c) => Some(c.clone()),
        _ => None,
    };
    let networks = net
        .attachments(project)
        .into_iter()
        .map(|(_, n)| {
            let aliases = match one_off {
                true => Vec::new(),
                false => n.aliases.clone(),
            };
            let v6 = |i: &&crate::model::IpamConfig| {
                i.subnet.as_deref().is_some_and(|s| s.contains(':'))
            };
            let ipam = n.network.ipam.iter().find(|i| !v6(i));
            let ipam6 = n
                .network
                .ipam
                .iter()
                .find(v6)
                .filter(|_| n.network.enable_ipv6);
            NetAttach {
                name: n.network.name.clone(),
                project: n.network.project.clone(),
                external: n.network.external,
                internal: n.network.internal,
                attachable: n.network.attachable,
                labels: n
                    .network
                    .labels
                    .iter()
                    .map(|(k, v)| (k.clone(), v.clone()))
                    .collect(),
                subnet: ipam.and_then(|i| i.subnet.clone()),
                ip_range: ipam.and_then(|i| i.ip_range.clone()),
                gateway: ipam.and_then(|i| i.gateway.clone()),
                aliases,
                ipv4_address: n.ipv4_address.clone(),
                mac: n.mac_address.clone(),
                enable_ipv6: n.network.enable_ipv6,
                subnet6: ipam6.and_then(|i| i.subnet.clone()),
                ip_range6: ipam6.and_then(|i| i.ip_range.clone()),
                gateway6: ipam6.and_then(|i| i.gateway.clone()),
                ipv6_address: n.ipv6_address.clone(),
            }
        })
        .collect::<Vec<_>>();
    let mut networks = networks;
    // `mac_address` at the service level is the first network's.
    if let (Some(first), Some(mac)) = (networks.first_mut(), &net.mac_address) {
        first.mac.get_or_insert_with(|| mac.clone());
    }
    NetRequest {
        project: project.to_string(),
        name: name.to_string(),
        names,
        none: net.network_mode == NetworkMode::None,
        join,
        networks,
        ports: net
            .ports
            .iter()
            .filter(|_| !one_off)
            .map(|p| PortRequest {
                target: p.target,
                published: p.published.map(|r| (r.start, r.end)),
                host_ip: p.host_ip.clone(),
                protocol: p.protocol.as_str().to_string(),
            })
            .collect(),
        links: net
            .links
            .iter()
            .map(|l| {
                // The target is the service's name: every replica answers it.
                (
                    l.alias.clone().unwrap_or_else(|| l.service.clone()),
                    l.service.clone(),
                )
            })
            .collect(),
        extra_hosts: net
            .extra_hosts
            .iter()
            .map(|h| (h.host.clone(), h.ip.clone()))
            .collect(),
        dns: net.dns.clone(),
        dns_search: net.dns_search.clone(),
        dns_opt: net.dns_opt.clone(),
        domainname: net.domainname.clone(),
    }
}

/// `network_mode: service:X` joins X's first container, which `request` names
/// `<project>-X-1`; when X sets `container_name`, its container has that name instead.
pub fn name_service_join<'a>(
    req: &mut NetRequest,
    service: &Service,
    find: impl Fn(&str) -> Option<&'a Service>,
) {
    let NetworkMode::Service(target) = &service.net.network_mode else {
        return;
    };
    let Some(name) = find(target).and_then(|t| t.options.container_name.clone()) else {
        return;
    };
    req.join = Some(name);
}

#[cfg(test)]
mod join_tests {
    use super::*;

    fn joining(target: &str) -> (NetRequest, Service) {
        let mut s = Service::new("side", "busybox");
        s.net.network_mode = NetworkMode::Service(target.into());
        (request("p", "p-side-1", "h", &s, false), s)
    }

    #[test]
    fn a_target_with_container_name_is_joined_by_that_name() {
        let mut web = Service::new("web", "busybox");
        web.options.container_name = Some("front".into());
        let (mut cfg, s) = joining("web");
        name_service_join(&mut cfg, &s, |n| (n == "web").then_some(&web));
        let join = cfg.join;
        assert_eq!(join.as_deref(), Some("front"));
    }

    #[test]
    fn a_target_without_container_name_keeps_its_replica_name() {
        let web = Service::new("web", "busybox");
        let (mut cfg, s) = joining("web");
        name_service_join(&mut cfg, &s, |n| (n == "web").then_some(&web));
        let join = cfg.join;
        assert_eq!(join.as_deref(), Some("p-web-1"));
    }
}
