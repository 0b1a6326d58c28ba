//! Dual-stack networks (`enable_ipv6: true`) through the real binary: containers get IPv6
//! addresses and reach each other over IPv6 by name (AAAA from the embedded DNS), /etc/hosts
//! lists both addresses, a published port answers on the host's own global IPv6 address,
//! and `down` leaves no IPv6 address, route or nftables table of the stack.
//! Only addresses in namespaces the test made or the host's own are used.

mod common;

use common::registry::free_port;
use common::{Env, poll_for, skip_unless_root};
use std::process::Command;

/// Runs `exec` until it succeeds with output containing `want`, or panics after 10 s.
fn exec_until(env: &Env, p: &str, args: &[&str], want: &str) -> String {
    env.exec_until(p, args, want)
}

/// The global IPv6 address of `ifc` in the container (busybox `ip -6 addr`).
fn v6_of(env: &Env, p: &str, service: &str) -> String {
    let out = env.ok(&["-p", p, "exec", service, "ip", "-6", "addr", "show", "eth0"]);
    out.lines()
        .filter_map(|l| l.trim().strip_prefix("inet6 "))
        .map(|a| a.split('/').next().unwrap_or("").to_string())
        .find(|a| !a.starts_with("fe80"))
        .unwrap_or_else(|| panic!("{service} has no global IPv6 address: {out}"))
}

/// The host's first global IPv6 address on an interface that is not one of rstack's.
fn host_v6() -> Option<String> {
    let out = Command::new("ip")
        .args(["-o", "-6", "addr", "show", "scope", "global"])
        .output()
        .ok()?;
    String::from_utf8_lossy(&out.stdout).lines().find_map(|l| {
        let mut f = l.split_whitespace();
        let ifc = f.nth(1)?;
        if ifc.starts_with("rs-") || ifc.starts_with("rsv") {
            return None;
        }
        f.next()?; // "inet6"
        Some(f.next()?.split('/').next()?.to_string())
    })
}

fn sh(cmd: &str, args: &[&str]) -> String {
    let out = Command::new(cmd).args(args).output().expect(cmd);
    String::from_utf8_lossy(&out.stdout).into_owned()
}

#[test]
fn dual_stack_network_names_ports_and_cleanup() {
    if skip_unless_root("network_ipv6") {
        return;
    }
    if !std::path::Path::new("/proc/net/if_inet6").exists() {
        eprintln!("skipped: the kernel has no IPv6");
        return;
    }
    let mut env = Env::new("netv6");
    env.import_busybox();
    let p = env.project("netv6");
    std::fs::create_dir_all(env.work.join("www")).expect("mkdir");
    env.write("www/index.html", "served-over-ipv6\n");
    let port = free_port();
    let port6 = free_port();
    env.write(
        "compose.yaml",
        &format!(
            r#"name: {p}
services:
  web:
    image: busybox:test
    command: ["httpd", "-f", "-p", "8000", "-h", "/www"]
    volumes: ["./www:/www:ro"]
    networks: [v6]
    ports: ["{port}:8000", "[::]:{port6}:8000"]
  client:
    image: busybox:test
    command: ["sleep", "1000"]
    networks: [v6]
  stranger:
    image: busybox:test
    command: ["sleep", "1000"]
    networks: [other]
networks:
  v6:
    enable_ipv6: true
  other:
    enable_ipv6: true
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
    assert!(
        !String::from_utf8_lossy(&up.stderr).contains("IPv4 only"),
        "enable_ipv6 still warns"
    );
    let web6 = v6_of(&env, &p, "web");
    let client6 = v6_of(&env, &p, "client");
    assert_ne!(web6, client6);

    // AAAA by name from the embedded DNS, and the A record still there.
    exec_until(
        &env,
        &p,
        &["client", "nslookup", "-type=AAAA", "web"],
        &web6,
    );
    exec_until(
        &env,
        &p,
        &["client", "nslookup", "-type=A", "web"],
        "Address",
    );
    // Over IPv6, container to container (the address the name gave).
    let url = format!("http://[{web6}]:8000/index.html");
    exec_until(
        &env,
        &p,
        &["client", "wget", "-q", "-O", "-", &url],
        "served-over-ipv6",
    );
    // Another dual-stack network of the stack reaches it neither by name nor over IPv6.
    let out = env.run(&[
        "-p",
        &p,
        "exec",
        "stranger",
        "nslookup",
        "-type=AAAA",
        "web",
    ]);
    assert!(!String::from_utf8_lossy(&out.stdout).contains(&web6));
    let out = env.run(&[
        "-p", &p, "exec", "stranger", "wget", "-q", "-T", "2", "-O", "-", &url,
    ]);
    assert!(
        !String::from_utf8_lossy(&out.stdout).contains("served-over-ipv6"),
        "another network reached web over IPv6"
    );
    // /etc/hosts lists both of the container's addresses.
    let hosts = env.ok(&["-p", &p, "exec", "web", "cat", "/etc/hosts"]);
    assert!(hosts.contains(&web6), "{hosts}");
    // The default IPv6 route goes through the bridge's gateway.
    let route = env.ok(&["-p", &p, "exec", "client", "ip", "-6", "route"]);
    assert!(route.contains("default via"), "{route}");

    // The published port on the host's own global IPv6 address.
    let rec: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(env.data_root.join(format!("networks/{p}_v6.json")))
            .expect("network record"),
    )
    .expect("json");
    let bridge = rec["bridge"].as_str().expect("bridge").to_string();
    let subnet6 = rec["subnet6"].as_str().expect("subnet6").to_string();
    let gateway6 = rec["gateway6"].as_str().expect("gateway6").to_string();
    match host_v6() {
        None => eprintln!("no global IPv6 address on this host: published-port check skipped"),
        Some(h) => {
            let url = format!("http://[{h}]:{port}/index.html");
            poll_for(10, 100, || {
                let out = Command::new("curl")
                    .args(["-g", "-s", "--max-time", "2", &url])
                    .output()
                    .expect("curl");
                if String::from_utf8_lossy(&out.stdout).contains("served-over-ipv6") {
                    return Ok(());
                }
                Err(format!(
                    "no answer on {url}\n{}\n{}",
                    sh("nft", &["list", "ruleset"]),
                    env.daemon_log()
                ))
            });
        }
    }
    // `[::]:PORT`: IPv6 only, shown by `port` with its IPv6 address.
    let shown = env.ok(&["-p", &p, "port", "web", "8000"]);
    assert!(shown.contains(&format!(":{port6}")), "{shown}");
    if let Some(h) = host_v6() {
        let url = format!("http://[{h}]:{port6}/index.html");
        let out = Command::new("curl")
            .args(["-g", "-s", "--max-time", "5", &url])
            .output()
            .expect("curl");
        assert!(
            String::from_utf8_lossy(&out.stdout).contains("served-over-ipv6"),
            "no answer on {url}"
        );
        // Not published on IPv4: nothing answers there.
        let v4 = format!("http://127.0.0.1:{port6}/index.html");
        let out = Command::new("curl")
            .args(["-s", "--max-time", "2", &v4])
            .output()
            .expect("curl");
        assert!(!String::from_utf8_lossy(&out.stdout).contains("served-over-ipv6"));
    }
    // [::1] is not forwarded (see the README): refused at once, never hanging.
    let out = Command::new("curl")
        .args([
            "-g",
            "-s",
            "--max-time",
            "5",
            &format!("http://[::1]:{port}/"),
        ])
        .status()
        .expect("curl");
    assert_eq!(out.code(), Some(7), "[::1] should be refused");
    let table = std::fs::read_to_string(env.data_root.join("networks/nft-table"))
        .expect("table name")
        .trim()
        .to_string();
    assert!(
        sh("nft", &["list", "tables"]).contains(&format!("table ip6 {table}")),
        "no ip6 table"
    );

    env.ok(&["-p", &p, "down", "-t", "1"]);
    let prefix = subnet6
        .split('/')
        .next()
        .unwrap_or("")
        .trim_end_matches(':');
    let routes = sh("ip", &["-6", "route"]);
    assert!(
        !routes.contains(prefix),
        "{prefix} route outlived down: {routes}"
    );
    let addrs = sh("ip", &["-6", "addr"]);
    assert!(
        !addrs.contains(&gateway6),
        "{gateway6} outlived down: {addrs}"
    );
    let rules = sh("nft", &["list", "ruleset"]);
    assert!(!rules.contains(&bridge), "{rules}");
    assert!(
        !sh("nft", &["list", "tables"]).contains(&format!("table ip6 {table}")),
        "the ip6 table outlived down"
    );
}
