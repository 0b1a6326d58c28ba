//! `network create --ipv6` (docker's flags: `--subnet`/`--gateway` once per address family)
//! makes a dual-stack network by hand; a stack uses it as `external`, `network inspect`
//! shows each container's `IPv6Address` as Docker does, and a container answers another
//! over IPv6. The real binary, real containers (root only); the network is removed at the
//! end, and the Env's clean-up removes it if the test fails.

mod common;

use common::{Env, skip_unless_root};
use serde_json::Value;
use std::time::{Duration, Instant};

#[test]
fn a_hand_made_dual_stack_network_serves_a_stack_over_ipv6() {
    if skip_unless_root("network_create_ipv6") {
        return;
    }
    if !std::path::Path::new("/proc/net/if_inet6").exists() {
        eprintln!("skipped: the kernel has no IPv6");
        return;
    }
    let mut env = Env::new("netc6");
    env.import_busybox();
    let p = env.project("netc6");
    let net = format!("{p}-hand");
    // A unique-looking unique-local /64 (parallel tests each have their own).
    let pid = std::process::id();
    let subnet6 = format!("fd7e:{:x}:{:x}::/64", pid >> 16, pid & 0xffff);
    let gateway6 = subnet6.replace("::/64", "::1");
    let made = env.run(&[
        "network",
        "create",
        "--ipv6",
        "--subnet",
        &subnet6,
        "--gateway",
        &gateway6,
        &net,
    ]);
    assert!(
        made.status.success(),
        "{}",
        String::from_utf8_lossy(&made.stderr)
    );
    std::fs::create_dir_all(env.work.join("www")).expect("mkdir");
    env.write("www/index.html", "hand-made-v6\n");
    env.write(
        "compose.yaml",
        &format!(
            r#"name: {p}
services:
  web:
    image: busybox:test
    command: ["httpd", "-f", "-p", "8000", "-h", "/www"]
    volumes: ["./www:/www:ro"]
    networks: [hand]
  client:
    image: busybox:test
    command: ["sleep", "1000"]
    networks: [hand]
networks:
  hand:
    external: true
    name: {net}
"#
        ),
    );
    let up = env.run(&["-p", &p, "up", "-d"]);
    assert!(
        up.status.success(),
        "{}\n{}",
        String::from_utf8_lossy(&up.stderr),
        env.daemon_log()
    );
    let inspect: Value =
        serde_json::from_str(&env.ok(&["network", "inspect", &net])).expect("inspect json");
    let n = &inspect[0];
    assert_eq!(n["EnableIPv6"], true, "{n}");
    let subnets: Vec<&str> = n["IPAM"]["Config"]
        .as_array()
        .expect("config")
        .iter()
        .filter_map(|c| c["Subnet"].as_str())
        .collect();
    assert!(subnets.contains(&subnet6.as_str()), "{subnets:?}");
    assert!(
        subnets.iter().any(|s| !s.contains(':')),
        "dual stack: {subnets:?}"
    );
    let containers = n["Containers"].as_object().expect("containers");
    assert_eq!(containers.len(), 2, "{n}");
    let prefix = subnet6.trim_end_matches(":/64");
    let mut web6 = String::new();
    for c in containers.values() {
        let a = c["IPv6Address"].as_str().unwrap_or_default();
        assert!(a.starts_with(prefix) && a.ends_with("/64"), "{c}");
        assert!(
            c["IPv4Address"].as_str().is_some_and(|a| a.contains('.')),
            "{c}"
        );
        if c["Name"] == format!("{p}-web-1") {
            web6 = a.trim_end_matches("/64").to_string();
        }
    }
    assert!(!web6.is_empty(), "web is listed: {n}");
    // client -> web over IPv6 (the server may take a moment to listen).
    let url = format!("http://[{web6}]:8000/index.html");
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let out = env.run(&["-p", &p, "exec", "client", "wget", "-q", "-O", "-", &url]);
        if String::from_utf8_lossy(&out.stdout).contains("hand-made-v6") {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "{url}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    env.ok(&["-p", &p, "down", "-t", "1"]);
    env.ok(&["network", "rm", &net]);
}
