//! Networking keys: top-level `networks`, a service's `networks`, `network_mode`, `ports`,
//! `expose`, `links`, `extra_hosts`, `dns*`, `domainname`, `mac_address`, and their errors at
//! file:line:col.

use super::{errors, ok};
use crate::model::{HostEntry, Link, NetworkMode, PortMapping, PortRange, Protocol, Service};

fn svc(yaml: &str, name: &str) -> Service {
    ok(yaml).stack.services[name].clone()
}

/// Asserts that loading `yaml` fails with an error containing `want` at `line:col`.
fn fails_at(yaml: &str, want: &str, line: u32, col: u32) {
    let errs = errors(yaml);
    assert!(
        errs.iter()
            .any(|(m, l, c)| m.contains(want) && *l == line && *c == col),
        "want {want:?} at {line}:{col}, got {errs:?}\n{yaml}"
    );
}

#[test]
fn a_service_on_the_plain_default_network_has_an_empty_map() {
    for body in [
        "",
        "    networks: [default]\n",
        "    networks:\n      default:\n",
        "    networks: {}\n",
        "    network_mode: bridge\n",
    ] {
        let s = svc(
            &format!("name: p\nservices:\n  a:\n    image: x\n{body}"),
            "a",
        );
        assert!(s.net.networks.is_empty(), "{body:?}: {:?}", s.net.networks);
        assert_eq!(s.net.network_mode, NetworkMode::Networks);
        assert_eq!(serde_json::to_string(&s.net).ok().as_deref(), Some("{}"));
    }
    // A top-level `default:` that changes nothing (as `config` prints it) changes nothing.
    let s = svc(
        "name: p\nservices:\n  a:\n    image: x\nnetworks:\n  default:\n    name: p_default\n    ipam: {}\n",
        "a",
    );
    assert!(s.net.networks.is_empty());
}

#[test]
fn a_customized_default_network_is_filled_in() {
    let l = ok(
        "name: p\nservices:\n  a:\n    image: x\n  b:\n    image: x\n    networks:\n      default:\n        aliases: [bee]\nnetworks:\n  default:\n    ipam:\n      config:\n        - subnet: 10.9.0.0/24\n",
    );
    let a = &l.stack.services["a"].net.networks;
    assert_eq!(a.keys().collect::<Vec<_>>(), ["default"]);
    assert_eq!(a["default"].network.name, "p_default");
    assert_eq!(
        a["default"].network.ipam[0].subnet.as_deref(),
        Some("10.9.0.0/24")
    );
    let b = &l.stack.services["b"].net.networks["default"];
    assert_eq!(b.aliases, ["bee"]);
    // Options on `default` fill the map even when the network itself is the usual one.
    let s = svc(
        "name: p\nservices:\n  a:\n    image: x\n    networks:\n      default: {priority: 3}\n",
        "a",
    );
    assert_eq!(s.net.networks["default"].priority, 3);
    assert_eq!(s.net.networks["default"].network.name, "p_default");
    assert_eq!(s.net.networks["default"].network.project, "p");
}

#[test]
fn top_level_networks_resolve_with_their_options() {
    let l = ok(concat!(
        "name: p\n",
        "services:\n",
        "  a:\n",
        "    image: x\n",
        "    networks: [front, back, ext, old]\n",
        "  b:\n",
        "    image: x\n",
        "    networks:\n",
        "      back:\n",
        "        aliases: [db, database]\n",
        "        ipv4_address: 10.5.0.10\n",
        "        priority: 10\n",
        "        mac_address: 02:42:ac:11:00:02\n",
        "      front:\n",
        "networks:\n",
        "  front:\n",
        "    driver: bridge\n",
        "    attachable: true\n",
        "    labels: [a=1, b]\n",
        "  back:\n",
        "    name: custom-back\n",
        "    internal: true\n",
        "    labels: {x: y}\n",
        "    ipam:\n",
        "      driver: default\n",
        "      config:\n",
        "        - subnet: 10.5.0.0/16\n",
        "          ip_range: 10.5.1.0/24\n",
        "          gateway: 10.5.0.254\n",
        "  ext:\n",
        "    external: true\n",
        "  old:\n",
        "    external:\n",
        "      name: legacy\n",
    ));
    let a = &l.stack.services["a"].net.networks;
    assert_eq!(
        a.keys().map(String::as_str).collect::<Vec<_>>(),
        ["front", "back", "ext", "old"]
    );
    let front = &a["front"].network;
    assert_eq!((front.name.as_str(), front.attachable), ("p_front", true));
    assert_eq!(front.labels["a"], "1");
    assert_eq!(front.labels["b"], "");
    let back = &a["back"].network;
    assert_eq!(back.name, "custom-back");
    assert!(back.internal && !back.external);
    assert_eq!(back.labels["x"], "y");
    assert_eq!(back.ipam.len(), 1);
    assert_eq!(back.ipam[0].ip_range.as_deref(), Some("10.5.1.0/24"));
    assert_eq!(back.ipam[0].gateway.as_deref(), Some("10.5.0.254"));
    assert_eq!(
        (a["ext"].network.name.as_str(), a["ext"].network.external),
        ("ext", true)
    );
    assert_eq!(a["old"].network.name, "legacy");
    let b = &l.stack.services["b"].net.networks;
    assert_eq!(b["back"].aliases, ["db", "database"]);
    assert_eq!(b["back"].ipv4_address.as_deref(), Some("10.5.0.10"));
    assert_eq!(b["back"].priority, 10);
    assert_eq!(b["back"].mac_address.as_deref(), Some("02:42:ac:11:00:02"));
    assert_eq!(b["front"].network.name, "p_front");
    let order: Vec<String> = l.stack.services["b"]
        .net
        .attachments("p")
        .into_iter()
        .map(|(k, _)| k)
        .collect();
    assert_eq!(order, ["back", "front"]);
}

#[test]
fn ignored_network_options_warn() {
    let l = ok(concat!(
        "services:\n",
        "  a:\n",
        "    image: x\n",
        "    networks: [n]\n",
        "networks:\n",
        "  n:\n",
        "    enable_ipv6: true\n",
        "    driver_opts:\n",
        "      com.docker.network.bridge.name: br0\n",
        "    ipam:\n",
        "      config:\n",
        "        - subnet: 10.1.0.0/24\n",
        "        - subnet: fd00::/64\n",
    ));
    let w: Vec<(String, u32)> = l
        .warnings
        .iter()
        .map(|w| (w.message.clone(), w.line))
        .collect();
    assert!(!w.iter().any(|(_, l)| *l == 7 || *l == 13), "{w:?}");
    assert!(
        w.iter()
            .any(|(m, l)| m.contains("driver_opts: ignored") && *l == 8),
        "{w:?}"
    );
    let n = &l.stack.services["a"].net.networks["n"].network;
    assert!(n.enable_ipv6);
    assert_eq!(n.driver_opts["com.docker.network.bridge.name"], "br0");
    // Both entries are kept: the IPv6 one serves enable_ipv6.
    assert_eq!(n.ipam.len(), 2);
    assert_eq!(n.ipam[1].subnet.as_deref(), Some("fd00::/64"));
}

#[test]
fn ipv6_entries_and_addresses_are_checked() {
    let l = ok(concat!(
        "services:\n",
        "  a:\n",
        "    image: x\n",
        "    networks:\n",
        "      n: {ipv6_address: \"fd00:5::9\"}\n",
        "networks:\n",
        "  n:\n",
        "    enable_ipv6: true\n",
        "    ipam:\n",
        "      config:\n",
        "        - {subnet: \"fd00:5::/64\", gateway: \"fd00:5::1\", ip_range: \"fd00:5::/80\"}\n",
    ));
    let sn = &l.stack.services["a"].net.networks["n"];
    assert_eq!(sn.ipv6_address.as_deref(), Some("fd00:5::9"));
    assert_eq!(sn.network.ipam[0].gateway.as_deref(), Some("fd00:5::1"));
    assert_eq!(sn.network.ipam[0].ip_range.as_deref(), Some("fd00:5::/80"));
    for (bad, what) in [
        ("{subnet: \"fd00:5::1/64\"}", "host bits"),
        (
            "{subnet: \"fd00:5::/64\", gateway: \"fd00:6::1\"}",
            "not a usable address",
        ),
        (
            "{subnet: \"fd00:5::/64\", ip_range: \"fd00:7::/80\"}",
            "not inside",
        ),
    ] {
        let text = format!(
            "services:\n  a:\n    image: x\n    networks: [n]\nnetworks:\n  n:\n    enable_ipv6: true\n    ipam:\n      config:\n        - {bad}\n"
        );
        let e = errors(&text);
        assert!(
            e.iter().any(|(m, l, _)| m.contains(what) && *l == 10),
            "{bad}: {e:?}"
        );
    }
}

#[test]
fn network_mode_forms() {
    let l = ok(concat!(
        "services:\n",
        "  a:\n    image: x\n    network_mode: host\n",
        "  b:\n    image: x\n    network_mode: none\n",
        "  c:\n    image: x\n    network_mode: service:a\n",
        "  d:\n    image: x\n    network_mode: container:some-box\n",
        "  e:\n    image: x\n    networks: [hostnet]\n",
        "networks:\n  hostnet:\n    external: true\n    name: host\n",
    ));
    let mode = |s: &str| l.stack.services[s].net.network_mode.clone();
    assert_eq!(mode("a"), NetworkMode::Host);
    assert_eq!(mode("b"), NetworkMode::None);
    assert_eq!(mode("c"), NetworkMode::Service("a".into()));
    assert_eq!(mode("d"), NetworkMode::Container("some-box".into()));
    assert_eq!(mode("e"), NetworkMode::Host);
    for s in ["a", "b", "c", "d", "e"] {
        assert!(l.stack.services[s].net.networks.is_empty(), "{s}");
    }
    // network_mode: service: is a dependency, as in Compose.
    assert!(l.stack.services["c"].depends_on.contains_key("a"));
    let l = ok("services:\n  a:\n    image: x\n    network_mode: host\n    ports: [80]\n");
    assert!(
        l.warnings
            .iter()
            .any(|w| w.message.contains("ignored under network_mode: host") && w.line == 5)
    );
}

#[test]
fn ports_short_and_long() {
    let s = svc(
        concat!(
            "services:\n",
            "  a:\n",
            "    image: x\n",
            "    ports:\n",
            "      - 80\n",
            "      - 8080:80\n",
            "      - \"127.0.0.1:5353:53/udp\"\n",
            "      - \"[::1]:9000:9000\"\n",
            "      - 8000-8002:7000-7002\n",
            "      - 9100-9110:91\n",
            "      - target: 443\n",
            "        published: \"8443\"\n",
            "        host_ip: 0.0.0.0\n",
            "        protocol: tcp\n",
            "        mode: host\n",
            "        name: https\n",
            "        app_protocol: https\n",
            "      - target: 6000\n",
            "        published: 6000-6005\n",
            "      - {target: 7, published: 7007, protocol: udp, mode: ingress}\n",
        ),
        "a",
    );
    let p = &s.net.ports;
    let pr = |a: u16, b: u16| Some(PortRange { start: a, end: b });
    assert_eq!(p.len(), 11, "{p:?}");
    assert_eq!(
        p[0],
        PortMapping {
            target: 80,
            ..PortMapping::default()
        }
    );
    assert_eq!((p[1].target, p[1].published), (80, pr(8080, 8080)));
    assert_eq!(
        (p[2].host_ip.as_deref(), p[2].protocol, p[2].target),
        (Some("127.0.0.1"), Protocol::Udp, 53)
    );
    assert_eq!(p[3].host_ip.as_deref(), Some("::1"));
    assert_eq!(
        p[4..7]
            .iter()
            .map(|m| (m.target, m.published))
            .collect::<Vec<_>>(),
        [
            (7000, pr(8000, 8000)),
            (7001, pr(8001, 8001)),
            (7002, pr(8002, 8002))
        ]
    );
    assert_eq!((p[7].target, p[7].published), (91, pr(9100, 9110)));
    assert_eq!(
        p[8],
        PortMapping {
            target: 443,
            published: pr(8443, 8443),
            host_ip: Some("0.0.0.0".into()),
            protocol: Protocol::Tcp,
            name: Some("https".into()),
        }
    );
    assert_eq!(p[9].published, pr(6000, 6005));
    assert_eq!(
        (p[10].published, p[10].protocol),
        (pr(7007, 7007), Protocol::Udp)
    );
}

#[test]
fn malformed_ports_are_errors_at_their_position() {
    let head = "services:\n  a:\n    image: x\n    ports:\n";
    for (item, want) in [
        ("      - 0\n", "container port 0 is out of range"),
        ("      - \"65536:80\"\n", "host port 65536 is out of range"),
        ("      - \"80:0\"\n", "container port 0 is out of range"),
        (
            "      - \"80/sctp\"\n",
            "protocol \"sctp\" is not supported",
        ),
        (
            "      - \"8000-8001:80-82\"\n",
            "container range has 3 ports and the host range 2",
        ),
        ("      - \"a.b:80:80\"\n", "\"a.b\" is not an IP address"),
        ("      - [80]\n", "expected a port string or a mapping"),
    ] {
        fails_at(&format!("{head}{item}"), "services.a.ports[0]", 5, 9);
        fails_at(&format!("{head}{item}"), want, 5, 9);
    }
    let d = super::load_str(&format!("{head}      - \"80:x\"\n")).expect_err("fails");
    let hint = d
        .errors()
        .next()
        .and_then(|e| e.hint.clone())
        .unwrap_or_default();
    assert!(
        hint.contains("[HOST_IP:][HOST_PORT[-RANGE]:]CONTAINER_PORT"),
        "{hint}"
    );
    fails_at(
        &format!("{head}      - published: 80\n"),
        "services.a.ports[0]: target is required",
        5,
        9,
    );
    fails_at(
        &format!("{head}      - target: 80\n        published: 9-x\n"),
        "services.a.ports[0].published: host port \"x\" is not a number",
        6,
        20,
    );
    fails_at(
        &format!("{head}      - target: 80\n        mode: global\n"),
        "services.a.ports[0].mode: invalid mode \"global\"",
        6,
        15,
    );
    fails_at(
        &format!("{head}      - target: 80\n        host_ip: nowhere\n"),
        "\"nowhere\" is not an IP address",
        6,
        18,
    );
    fails_at(
        &format!("{head}      - target: 80\n        protocl: udp\n"),
        "unknown key \"protocl\"",
        6,
        9,
    );
}

#[test]
fn other_service_keys() {
    let l = ok(concat!(
        "services:\n",
        "  a:\n",
        "    image: x\n",
        "    expose: [3000, \"4000-4010/udp\"]\n",
        "    links: [b, \"b:bee\"]\n",
        "    extra_hosts:\n",
        "      - \"db.local:10.0.0.5\"\n",
        "      - \"gw=host-gateway\"\n",
        "      - \"six:::1\"\n",
        "      - \"six2=::2\"\n",
        "    dns: 1.1.1.1\n",
        "    dns_search: example.com\n",
        "    dns_opt: [\"ndots:2\"]\n",
        "    domainname: example.com\n",
        "    mac_address: 02:42:AC:11:00:02\n",
        "  b:\n",
        "    image: x\n",
        "    extra_hosts:\n",
        "      one: 10.0.0.1\n",
        "      two: [10.0.0.2, \"::3\"]\n",
        "    dns: [8.8.8.8, \"2001:4860:4860::8888\"]\n",
        "    dns_search: [a.example, b.example]\n",
    ));
    let a = &l.stack.services["a"].net;
    assert_eq!(a.expose, ["3000", "4000-4010/udp"]);
    assert_eq!(
        a.links,
        [
            Link {
                service: "b".into(),
                alias: None
            },
            Link {
                service: "b".into(),
                alias: Some("bee".into())
            }
        ]
    );
    let h = |host: &str, ip: &str| HostEntry {
        host: host.into(),
        ip: ip.into(),
    };
    assert_eq!(
        a.extra_hosts,
        [
            h("db.local", "10.0.0.5"),
            h("gw", "host-gateway"),
            h("six", "::1"),
            h("six2", "::2")
        ]
    );
    assert_eq!(a.dns, ["1.1.1.1"]);
    assert_eq!(a.dns_search, ["example.com"]);
    assert_eq!(a.dns_opt, ["ndots:2"]);
    assert_eq!(a.domainname.as_deref(), Some("example.com"));
    assert_eq!(a.mac_address.as_deref(), Some("02:42:AC:11:00:02"));
    // links make a dependency, as in Compose.
    assert!(l.stack.services["a"].depends_on.contains_key("b"));
    let b = &l.stack.services["b"].net;
    assert_eq!(
        b.extra_hosts,
        [h("one", "10.0.0.1"), h("two", "10.0.0.2"), h("two", "::3")]
    );
    assert_eq!(b.dns.len(), 2);
    assert_eq!(b.dns_search, ["a.example", "b.example"]);
}

#[test]
fn bad_service_keys_are_errors_at_their_position() {
    let head = "services:\n  a:\n    image: x\n";
    for (body, want, line, col) in [
        (
            "    expose: [\"80/sctp\"]\n",
            "services.a.expose[0]: invalid port \"80/sctp\"",
            4,
            14,
        ),
        (
            "    links: [nope]\n",
            "services.a.links: unknown service \"nope\"",
            4,
            13,
        ),
        (
            "    links: [\"a:\"]\n",
            "services.a.links[0]: invalid link \"a:\"",
            4,
            13,
        ),
        (
            "    extra_hosts: [\"db:not-an-ip\"]\n",
            "services.a.extra_hosts[0]: \"not-an-ip\" is not an IP address",
            4,
            19,
        ),
        (
            "    extra_hosts: [\"justahost\"]\n",
            "invalid extra host \"justahost\"",
            4,
            19,
        ),
        (
            "    dns: [1.1.1.1, dns.google]\n",
            "services.a.dns[1]: \"dns.google\" is not an IP address",
            4,
            20,
        ),
        (
            "    dns: nope\n",
            "services.a.dns: \"nope\" is not an IP address",
            4,
            10,
        ),
        (
            "    mac_address: 02:42:ac:11:00\n",
            "services.a.mac_address: invalid MAC address",
            4,
            18,
        ),
        (
            "    network_mode: service:b\n    ports: [80]\n  b:\n    image: x\n",
            "services.a.ports: a service in the network namespace of \"b\" cannot publish ports",
            5,
            5,
        ),
        (
            "    network_mode: bridged\n",
            "services.a.network_mode: invalid network mode \"bridged\"",
            4,
            19,
        ),
        (
            "    network_mode: \"service:nope\"\n",
            "services.a.network_mode: unknown service \"nope\"",
            4,
            19,
        ),
    ] {
        fails_at(&format!("{head}{body}"), want, line, col);
    }
}

#[test]
fn bad_networks_are_errors_at_their_position() {
    // A network no top-level entry declares, with a suggestion.
    let yaml = "services:\n  a:\n    image: x\n    networks: [fronts]\nnetworks:\n  front: {}\n";
    fails_at(
        yaml,
        "services.a.networks: network \"fronts\" is not declared under the top-level networks:",
        4,
        16,
    );
    let d = super::load_str(yaml).expect_err("fails");
    assert_eq!(
        d.errors().next().and_then(|e| e.hint.clone()).as_deref(),
        Some("did you mean front?")
    );
    fails_at(
        "services:\n  a:\n    image: x\n    networks:\n      back:\n        aliases: [b]\n",
        "network \"back\" is not declared",
        5,
        7,
    );
    // networks with network_mode.
    fails_at(
        "services:\n  a:\n    image: x\n    network_mode: host\n    networks: [default]\n",
        "services.a: networks and network_mode cannot be used together",
        5,
        5,
    );
    // Overlapping subnets, at the second one, naming both.
    let yaml = concat!(
        "services:\n  a:\n    image: x\n",
        "networks:\n",
        "  one:\n    ipam:\n      config:\n        - subnet: 10.1.0.0/16\n",
        "  two:\n    ipam:\n      config:\n        - subnet: 10.1.2.0/24\n",
    );
    fails_at(
        yaml,
        "networks.two: subnet 10.1.2.0/24 overlaps 10.1.0.0/16 of network \"one\" (compose.yaml:8:19)",
        12,
        19,
    );
    let net = |body: &str| {
        format!("services:\n  a:\n    image: x\n    networks: [n]\nnetworks:\n  n:\n{body}")
    };
    for (body, want, line, col) in [
        (
            "    driver: overlay\n",
            "networks.n.driver: network driver \"overlay\" is not supported",
            7,
            13,
        ),
        (
            "    ipam:\n      driver: dhcp\n",
            "networks.n.ipam.driver: IPAM driver \"dhcp\" is not supported",
            8,
            15,
        ),
        (
            "    ipam:\n      config:\n        - subnet: 10.1.0.1/16\n",
            "networks.n.ipam.config[0].subnet: \"10.1.0.1/16\" has host bits set: the network is 10.1.0.0/16",
            9,
            19,
        ),
        (
            "    ipam:\n      config:\n        - subnet: 300.1.0.0/16\n",
            "is not an IPv4 network",
            9,
            19,
        ),
        (
            "    ipam:\n      config:\n        - subnet: 10.1.0.0/16\n          ip_range: 10.2.0.0/24\n",
            "networks.n.ipam.config[0].ip_range: 10.2.0.0/24 is not inside the subnet 10.1.0.0/16",
            10,
            21,
        ),
        (
            "    ipam:\n      config:\n        - subnet: 10.1.0.0/16\n          gateway: 10.3.0.1\n",
            "networks.n.ipam.config[0].gateway: 10.3.0.1 is not a usable address of the subnet 10.1.0.0/16",
            10,
            20,
        ),
        (
            "    internl: true\n",
            "networks.n: unknown key \"internl\"",
            7,
            5,
        ),
        (
            "    name: \"a b\"\n",
            "networks.n: invalid network name \"a b\"",
            6,
            3,
        ),
    ] {
        fails_at(&net(body), want, line, col);
    }
    // A fixed address outside its network's subnet.
    let yaml = concat!(
        "services:\n",
        "  a:\n",
        "    image: x\n",
        "    networks:\n",
        "      n:\n",
        "        ipv4_address: 10.9.0.5\n",
        "networks:\n",
        "  n:\n",
        "    ipam:\n",
        "      config:\n",
        "        - subnet: 10.1.0.0/24\n",
    );
    fails_at(
        yaml,
        "services.a.networks.n.ipv4_address: 10.9.0.5 is outside the network's subnet 10.1.0.0/24",
        6,
        23,
    );
    fails_at(
        &yaml.replace("10.9.0.5", "10.1.0.1"),
        "10.1.0.1 is the network's gateway",
        6,
        23,
    );
    fails_at(
        &yaml.replace("10.9.0.5", "ten"),
        "\"ten\" is not an IPv4 address",
        6,
        23,
    );
    // Two services cannot take the same address.
    let two = yaml.replace(
        "networks:\n  n:\n",
        "  b:\n    image: x\n    networks:\n      n: {ipv4_address: 10.1.0.5}\nnetworks:\n  n:\n",
    ).replace("10.9.0.5", "10.1.0.5");
    fails_at(
        &two,
        "services.b.networks.n.ipv4_address: 10.1.0.5 is already the address of service \"a\"",
        10,
        25,
    );
}

/// Every corpus file that loaded before networking keys were read still loads, and the
/// services there now carry their ports and networks.
#[test]
fn corpus_services_have_ports_and_networks() {
    let Some((dir, files)) = super::corpus_files("the corpus network test") else {
        return;
    };
    let (mut with_ports, mut with_networks, mut loaded) = (0, 0, 0);
    for f in &files {
        let opts = crate::spec::LoadOptions {
            files: vec![f.clone()],
            working_dir: dir.clone(),
            build_image_names: true,
            ..crate::spec::LoadOptions::default()
        };
        let Ok(l) = crate::spec::load(&opts, &crate::spec::RealFs) else {
            continue;
        };
        loaded += 1;
        for s in l.stack.services.values() {
            with_ports += usize::from(!s.net.ports.is_empty());
            with_networks += usize::from(!s.net.networks.is_empty());
        }
    }
    println!(
        "corpus: {loaded} files, {with_ports} services with ports, {with_networks} with networks"
    );
    // 56 files loaded before the networking keys were read (8 failed for other reasons).
    assert!(loaded >= 56, "only {loaded} corpus files load");
    assert!(with_ports >= 40, "{with_ports} services with ports");
    assert!(
        with_networks >= 14,
        "{with_networks} services with networks"
    );
}

#[test]
fn the_corpus_file_with_a_subnet_resolves_it() {
    let Some((dir, files)) = super::corpus_files("the corpus subnet test") else {
        return;
    };
    let mut found = false;
    for f in &files {
        let text = std::fs::read_to_string(f).unwrap_or_default();
        if !text.contains("subnet:") {
            continue;
        }
        let opts = crate::spec::LoadOptions {
            files: vec![f.clone()],
            working_dir: dir.clone(),
            ..crate::spec::LoadOptions::default()
        };
        let Ok(l) = crate::spec::load(&opts, &crate::spec::RealFs) else {
            continue;
        };
        found |= l.stack.services.values().any(|s| {
            s.net
                .networks
                .values()
                .any(|n| n.network.ipam.iter().any(|c| c.subnet.is_some()))
        });
    }
    assert!(found, "no corpus service on a network with a subnet");
}

/// Every networking form (all accepted by docker compose 2.40.3 too) goes through `config`
/// and back to the same model, so `config` output can be deployed as it is.
#[test]
fn networking_forms_survive_config_round_trip() {
    let yaml = include_str!("data/networking.yaml");
    let first = super::load_str(yaml).unwrap_or_else(|d| panic!("{d}"));
    let out = crate::spec::to_yaml(&crate::spec::to_compose_json(&first));
    let again = super::load_str(&out).unwrap_or_else(|d| panic!("{d}\n{out}"));
    assert_eq!(again.stack, first.stack, "{out}");
    let a = &first.stack.services["a"].net;
    assert_eq!(a.ports.len(), 11);
    assert_eq!(a.networks["back"].network.name, "custom-back");
    assert!(first.stack.services["b"].net.networks.is_empty());
}

#[test]
fn an_invalid_network_is_reported_once_at_its_declaration() {
    let errs = errors(
        "services:\n  a:\n    image: x\n    networks: [n]\nnetworks:\n  n:\n    driver: overlay\n",
    );
    assert_eq!(errs.len(), 1, "{errs:?}");
    assert_eq!((errs[0].1, errs[0].2), (7, 13));
}
