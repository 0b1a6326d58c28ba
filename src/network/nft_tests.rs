//! Unit tests of the rendered nft script (and, where nft and root are there, `nft -c`).

use super::*;

fn net(bridge: &str, subnet: &str, internal: bool) -> NetRules {
    NetRules {
        bridge: bridge.to_string(),
        subnet: subnet.parse().unwrap(),
        internal,
    }
}

fn fwd(proto: Proto, host_ip: Option<&str>, host_port: u16, ip: &str, port: u16) -> Forward {
    Forward {
        proto,
        host_ip: host_ip.map(|s| s.parse().unwrap()),
        host_port,
        bridge: "rs-a".to_string(),
        container_ip: ip.parse().unwrap(),
        container_port: port,
    }
}

fn sample() -> Ruleset {
    Ruleset {
        table: "rstack_t1".to_string(),
        networks: vec![
            net("rs-a", "10.88.0.0/24", false),
            net("rs-b", "10.89.0.0/24", false),
            net("rs-i", "10.90.0.0/24", true),
        ],
        forwards: vec![
            fwd(Proto::Tcp, None, 8080, "10.88.0.2", 80),
            fwd(Proto::Tcp, Some("127.0.0.1"), 8081, "10.88.0.2", 81),
            fwd(Proto::Udp, Some("0.0.0.0"), 5353, "10.89.0.3", 53),
        ],
    }
}

/// The lines of one chain's body (after its `type` line), trimmed.
fn chain<'a>(script: &'a str, name: &str) -> Vec<&'a str> {
    let head = format!("\tchain {name} {{");
    let start = script
        .find(&head)
        .unwrap_or_else(|| panic!("no chain {name}"));
    script[start + head.len()..]
        .lines()
        .map(str::trim)
        .skip_while(|l| l.is_empty())
        .take_while(|l| *l != "}")
        .filter(|l| !l.starts_with("type "))
        .collect()
}

#[test]
fn replaces_the_whole_table_in_one_script() {
    let s = render(&sample());
    let lines: Vec<&str> = s.lines().collect();
    assert_eq!(lines[0], "add table ip rstack_t1");
    assert_eq!(lines[1], "delete table ip rstack_t1");
    assert_eq!(lines[2], "table ip rstack_t1 {");
    assert_eq!(s.matches("table ip").count(), 3, "{s}");
}

#[test]
fn published_ports_are_dnat_for_local_destinations_in_prerouting_and_output() {
    let s = render(&sample());
    assert!(
        s.contains("type nat hook prerouting priority dstnat;"),
        "{s}"
    );
    assert!(s.contains("type nat hook output priority -100;"), "{s}");
    assert_eq!(
        chain(&s, "prerouting"),
        ["fib daddr type local jump published"]
    );
    assert_eq!(chain(&s, "output"), ["fib daddr type local jump published"]);
    assert_eq!(
        chain(&s, "published"),
        [
            "tcp dport 8080 dnat to 10.88.0.2:80",
            "ip daddr 127.0.0.1 tcp dport 8081 dnat to 10.88.0.2:81",
            // 0.0.0.0 means every address, as no host IP does.
            "udp dport 5353 dnat to 10.89.0.3:53",
        ]
    );
}

#[test]
fn masquerade_outgoing_loopback_and_hairpin() {
    let s = render(&sample());
    assert_eq!(
        chain(&s, "postrouting"),
        [
            r#"ip saddr 127.0.0.0/8 oifname { "rs-a", "rs-b", "rs-i" } masquerade"#,
            r#"ct status dnat ip saddr 10.88.0.0/24 oifname "rs-a" masquerade"#,
            r#"ip saddr 10.88.0.0/24 oifname != "rs-a" masquerade"#,
            r#"ct status dnat ip saddr 10.89.0.0/24 oifname "rs-b" masquerade"#,
            r#"ip saddr 10.89.0.0/24 oifname != "rs-b" masquerade"#,
            // Internal: hairpin only, never out.
            r#"ct status dnat ip saddr 10.90.0.0/24 oifname "rs-i" masquerade"#,
        ]
    );
}

#[test]
fn forward_isolates_bridges_and_internal_networks() {
    let s = render(&sample());
    assert!(s.contains("type filter hook forward priority filter; policy accept;"));
    assert_eq!(
        chain(&s, "forward"),
        [
            "ct state established,related accept",
            r#"iifname "rs-i" oifname != "rs-i" drop"#,
            r#"iifname != "rs-i" oifname "rs-i" drop"#,
            // After the internal drops: a published port of an internal network is not
            // reachable from other interfaces.
            "ct status dnat accept",
            r#"iifname "rs-a" oifname { "rs-b", "rs-i" } drop"#,
            r#"iifname "rs-b" oifname { "rs-a", "rs-i" } drop"#,
            r#"iifname "rs-i" oifname { "rs-a", "rs-b" } drop"#,
        ]
    );
    assert_eq!(
        chain(&s, "raw_prerouting"),
        [r#"iifname { "rs-a", "rs-b", "rs-i" } ip daddr 127.0.0.0/8 drop"#]
    );
}

#[test]
fn an_empty_ruleset_has_no_empty_sets() {
    let rs = Ruleset {
        table: "rstack".to_string(),
        ..Ruleset::default()
    };
    let s = render(&rs);
    assert!(!s.contains("{ }"), "{s}");
    assert_eq!(chain(&s, "published"), Vec::<&str>::new());
    assert_eq!(
        chain(&s, "forward"),
        [
            "ct state established,related accept",
            "ct status dnat accept"
        ]
    );
    // One network: no other bridge to drop to.
    let one = Ruleset {
        table: "rstack".to_string(),
        networks: vec![net("rs-a", "10.88.0.0/24", false)],
        forwards: vec![],
    };
    assert!(!render(&one).contains("{ }"));
}

#[test]
fn subnets_print_in_network_form() {
    let n: Ipv4Net = "10.88.0.77/24".parse().unwrap();
    assert_eq!(n.to_string(), "10.88.0.0/24");
    assert!(n.contains("10.88.0.200".parse().unwrap()));
    assert!(!n.contains("10.88.1.1".parse().unwrap()));
    assert_eq!("0.0.0.0/0".parse::<Ipv4Net>().unwrap().mask(), 0);
    assert_eq!(
        "1.2.3.4/32".parse::<Ipv4Net>().unwrap().to_string(),
        "1.2.3.4/32"
    );
    for bad in ["10.0.0.0", "10.0.0.0/33", "x/8", "10.0.0/8", "10.0.0.0/-1"] {
        assert!(bad.parse::<Ipv4Net>().is_err(), "{bad}");
    }
}

#[test]
fn names_that_could_break_the_script_are_refused() {
    let mut rs = sample();
    rs.table = "bad name; flush ruleset".to_string();
    assert!(matches!(rs.validate(), Err(NftError::Invalid(_))));
    let mut rs = sample();
    rs.networks[0].bridge = "a\" drop; \"".to_string();
    assert!(matches!(rs.validate(), Err(NftError::Invalid(_))));
    let mut rs = sample();
    rs.networks[0].bridge = "a-name-too-long-for-linux".to_string();
    assert!(rs.validate().is_err());
    assert!(sample().validate().is_ok());
    assert!(remove_table("x y").is_err());
    assert!(set_route_localnet("../all").is_err());
    assert!(set_route_localnet("..").is_err());
}

/// `nft -c` (parse and check in the kernel, nothing applied) accepts the rendered script.
/// Needs root and nft; skipped elsewhere, failing under RSTACK_REQUIRE_ROOT_TESTS.
#[test]
fn nft_accepts_the_rendered_script() {
    // SAFETY: geteuid has no failure modes.
    let root = unsafe { libc::geteuid() } == 0;
    if !root && crate::testutil::skip("nft_accepts_the_rendered_script", "needs root") {
        return;
    }
    if !nft_path().exists()
        && crate::testutil::skip("nft_accepts_the_rendered_script", "needs nft (nftables)")
    {
        return;
    }
    check(&sample()).unwrap();
    let empty = Ruleset {
        table: "rstack_empty".to_string(),
        ..Ruleset::default()
    };
    check(&empty).unwrap();
    // And a broken one is refused with nft's own words.
    let err = run_nft(true, "table ip x { chain c { nonsense } }\n", "x").unwrap_err();
    assert!(matches!(err, NftError::Rejected { .. }), "{err}");
    assert!(err.to_string().contains("Error"), "{err}");
}
