//! `rstack network ...`, `rstack port`, the ports of `ps` and the networks `down` removes,
//! through the real binary (root only). Each test's daemon has its own data root and
//! nftables table; a guard takes its project down and removes its networks even when the
//! test fails, so no bridge outlives it.

mod common;

use common::*;
use serde_json::Value;

/// Takes the project down, then removes the networks the test made (by name, then every
/// unused one of this test's daemon), before the Env stops the daemon.
struct Cleanup<'a> {
    env: &'a Env,
    project: String,
}

impl Drop for Cleanup<'_> {
    fn drop(&mut self) {
        let _ = self
            .env
            .cmd(&["-p", &self.project, "down", "-t", "1"])
            .output();
        let _ = self.env.cmd(&["network", "prune", "-f"]).output();
    }
}

fn networks(env: &Env) -> Vec<Value> {
    env.ok(&["network", "ls", "--format", "json"])
        .lines()
        .map(|l| serde_json::from_str(l).expect("json line"))
        .collect()
}

fn inspect(env: &Env, name: &str) -> Value {
    let out = env.ok(&["network", "inspect", name]);
    let v: Value = serde_json::from_str(&out).expect("inspect json");
    v[0].clone()
}

fn link_exists(name: &str) -> bool {
    std::path::Path::new("/sys/class/net").join(name).exists()
}

/// A /24 outside the default pool (10.89.0.0/16), different per test process.
fn own_subnet(n: u32) -> (String, String, String) {
    let third = (std::process::id() % 200 + n) % 250;
    (
        format!("10.187.{third}.0/24"),
        format!("10.187.{third}.254"),
        format!("10.187.{third}.128/25"),
    )
}

#[test]
fn network_create_ls_inspect_rm_prune() {
    let Some((env, p)) = setup("netcmd") else {
        return;
    };
    let _cleanup = Cleanup {
        env: &env,
        project: p.clone(),
    };
    let a = format!("{p}a");
    let b = format!("{p}b");
    let (subnet, gw, range) = own_subnet(0);
    let id = env.ok(&[
        "network",
        "create",
        &a,
        "--subnet",
        &subnet,
        "--gateway",
        &gw,
        "--ip-range",
        &range,
        "--internal",
        "--label",
        "team=blue",
    ]);
    assert_eq!(id.trim().len(), 64, "create prints the id: {id}");
    env.ok(&["network", "create", &b]);
    let again = env.run(&["network", "create", &b]);
    assert!(!again.status.success());
    assert!(
        String::from_utf8_lossy(&again.stderr).contains("already exists"),
        "{again:?}"
    );

    let list = networks(&env);
    let names: Vec<&str> = list.iter().filter_map(|n| n["Name"].as_str()).collect();
    assert!(
        names.contains(&a.as_str()) && names.contains(&b.as_str()),
        "{names:?}"
    );
    let table = env.ok(&["network", "ls"]);
    let header = table.lines().next().unwrap_or_default();
    for col in ["NETWORK ID", "NAME", "DRIVER", "SCOPE"] {
        assert!(header.contains(col), "{table}");
    }
    let row = table
        .lines()
        .find(|l| l.split_whitespace().nth(1) == Some(a.as_str()))
        .unwrap_or_else(|| panic!("no row for {a}: {table}"));
    assert_eq!(
        row.split_whitespace().collect::<Vec<_>>(),
        [&id.trim()[..12], a.as_str(), "bridge", "local"]
    );
    assert!(env.ok(&["network", "ls", "-q"]).contains(&id.trim()[..12]));

    let v = inspect(&env, &a);
    assert_eq!(v["Name"], a.as_str());
    assert_eq!(v["Id"], id.trim());
    assert_eq!(v["Driver"], "bridge");
    assert_eq!(v["Scope"], "local");
    assert_eq!(v["Internal"], true);
    assert_eq!(v["IPAM"]["Config"][0]["Subnet"], subnet.as_str());
    assert_eq!(v["IPAM"]["Config"][0]["Gateway"], gw.as_str());
    assert_eq!(v["IPAM"]["Config"][0]["IPRange"], range.as_str());
    assert_eq!(v["Labels"]["team"], "blue");
    assert!(v["Created"].as_str().is_some_and(|c| c.ends_with('Z')));
    let bridge = v["Bridge"].as_str().expect("Bridge").to_string();
    assert!(bridge.starts_with("rs-"), "{v}");
    assert!(link_exists(&bridge), "bridge {bridge} made");
    // By id prefix, as Docker.
    assert_eq!(inspect(&env, &id.trim()[..12])["Name"], a.as_str());

    let missing = env.run(&["network", "inspect", &format!("{p}nope")]);
    assert!(!missing.status.success());
    assert!(String::from_utf8_lossy(&missing.stderr).contains("no such network"));
    let bad = env.run(&[
        "network",
        "create",
        &format!("{p}c"),
        "--subnet",
        "10.1.2.3",
    ]);
    assert!(!bad.status.success());
    assert!(
        String::from_utf8_lossy(&bad.stderr).contains("not an IPv4 subnet"),
        "{bad:?}"
    );

    assert_eq!(env.ok(&["network", "rm", &a]).trim(), a);
    assert!(!link_exists(&bridge), "bridge {bridge} removed with rm");
    let pruned = env.ok(&["network", "prune", "-f"]);
    assert!(
        pruned.contains("Deleted Networks:") && pruned.contains(&b),
        "{pruned}"
    );
    let left = networks(&env);
    assert!(
        !left
            .iter()
            .any(|n| n["Name"].as_str().is_some_and(|s| s.starts_with(&p))),
        "{left:?}"
    );
}

#[test]
fn published_ports_show_in_port_and_ps_and_down_removes_the_network() {
    let Some((env, p)) = setup("netport") else {
        return;
    };
    let _cleanup = Cleanup {
        env: &env,
        project: p.clone(),
    };
    env.write(
        "compose.yaml",
        &format!(
            "name: {p}\nservices:\n  web:\n    image: busybox:test\n    init: true\n    stop_grace_period: 1s\n    command: [httpd, -f, -p, '80', -h, /etc]\n    ports: ['80']\n    expose: ['9000']\n"
        ),
    );
    let net = format!("{p}_default");
    let up = env.cmd(&["up", "-d"]).output().expect("up");
    let said = String::from_utf8_lossy(&up.stderr);
    assert!(up.status.success(), "{said}\n{}", env.daemon_log());
    assert!(said.contains(&format!("Network {net}  Created")), "{said}");
    // Made once: a second `up` finds it.
    let again = env.cmd(&["up", "-d"]).output().expect("up");
    assert!(again.status.success());
    assert!(!String::from_utf8_lossy(&again.stderr).contains("Network"));

    // `port`: the random host port of container port 80.
    let shown = env.ok(&["port", "web", "80"]);
    let (ip, port) = shown.trim().rsplit_once(':').expect("HOST:PORT");
    assert_eq!(ip, "0.0.0.0", "{shown}");
    let port: u16 = port.parse().expect("a port number");
    assert!(port > 0);
    assert_eq!(env.ok(&["port", "web", "80/tcp"]), shown);
    let unknown = env.run(&["port", "web", "8080"]);
    assert!(!unknown.status.success());
    assert!(
        String::from_utf8_lossy(&unknown.stderr).contains("8080/tcp"),
        "{unknown:?}"
    );
    assert_eq!(
        env.ok(&["port", "web"]).trim(),
        format!("80/tcp -> {}", shown.trim())
    );

    // `ps`: the list in JSON, Docker's notation in the table.
    let rows = env.ps_json(&p);
    let ports = env.service(&rows, "web")["ports"].clone();
    let list = ports.as_array().expect("ports list");
    assert!(
        list.iter().any(|x| x["host_port"] == port
            && x["host_ip"] == "0.0.0.0"
            && x["target"] == 80
            && x["protocol"] == "tcp"),
        "{ports}"
    );
    assert!(
        list.iter()
            .any(|x| x["target"] == 9000 && x["host_port"].is_null()),
        "expose shows without a host part: {ports}"
    );
    let table = env.ok(&["-p", &p, "ps"]);
    assert!(
        table.lines().next().is_some_and(|h| h.contains("PORTS")),
        "{table}"
    );
    assert!(
        table.contains(&format!("0.0.0.0:{port}->80/tcp, 9000/tcp")),
        "{table}"
    );

    // The published port answers from the host.
    let body = http_get(port);
    assert!(body.starts_with("HTTP/1."), "{body}");

    // The stack's network, with its container; refused by rm while the container is on it.
    let v = inspect(&env, &net);
    assert_eq!(v["Project"], p.as_str());
    let bridge = v["Bridge"].as_str().expect("Bridge").to_string();
    assert!(link_exists(&bridge));
    let on = v["Containers"].as_object().expect("Containers");
    let container = format!("{p}-web-1");
    assert!(
        on.values().any(|e| e["Name"] == container.as_str()
            && e["IPv4Address"]
                .as_str()
                .is_some_and(|a| a.ends_with("/24"))),
        "{v}"
    );
    let refused = env.run(&["network", "rm", &net]);
    assert!(!refused.status.success());
    let err = String::from_utf8_lossy(&refused.stderr);
    assert!(err.contains("in use") && err.contains(&container), "{err}");
    assert!(networks(&env).iter().any(|n| n["Name"] == net.as_str()));

    // `down` removes the network after the containers, and says so.
    let down = env.cmd(&["down", "-t", "1"]).output().expect("down");
    assert!(down.status.success(), "{down:?}");
    let said = String::from_utf8_lossy(&down.stderr);
    assert!(said.contains(&format!("Network {net}  Removed")), "{said}");
    assert!(
        !networks(&env).iter().any(|n| n["Name"] == net.as_str()),
        "down left the network"
    );
    assert!(!link_exists(&bridge), "down left bridge {bridge}");
    let links = std::process::Command::new("ip")
        .args(["-o", "link", "show"])
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).into_owned())
        .unwrap_or_default();
    assert!(!links.contains(&bridge), "{links}");
}

/// One HTTP GET of / on 127.0.0.1:port; the whole answer.
fn http_get(port: u16) -> String {
    use std::io::{Read, Write};
    let mut s = std::net::TcpStream::connect(("127.0.0.1", port)).expect("connect");
    s.set_read_timeout(Some(std::time::Duration::from_secs(10)))
        .expect("timeout");
    s.write_all(b"GET /passwd HTTP/1.0\r\nHost: x\r\n\r\n")
        .expect("send");
    let mut out = String::new();
    let _ = s.read_to_string(&mut out);
    out
}

#[test]
fn an_external_network_is_refused_by_rm_while_in_use_and_kept_by_down() {
    let Some((env, p)) = setup("netext") else {
        return;
    };
    let _cleanup = Cleanup {
        env: &env,
        project: p.clone(),
    };
    let ext = format!("{p}shared");
    env.write(
        "compose.yaml",
        &format!(
            "name: {p}\nservices:\n  box:\n    image: busybox:test\n    init: true\n    stop_grace_period: 1s\n    command: [sleep, '1000']\nnetworks:\n  default:\n    name: {ext}\n    external: true\n"
        ),
    );
    let missing = env.cmd(&["up", "-d"]).output().expect("up");
    assert!(!missing.status.success());
    let err = String::from_utf8_lossy(&missing.stderr);
    assert!(
        err.contains(&ext) && err.contains("network create"),
        "{err}"
    );
    env.ok(&["-p", &p, "down", "-t", "1"]);

    env.ok(&["network", "create", &ext]);
    let up = env.cmd(&["up", "-d"]).output().expect("up");
    assert!(up.status.success(), "{up:?}");
    assert!(
        !String::from_utf8_lossy(&up.stderr).contains("Network"),
        "an external network is not the stack's to create"
    );
    let refused = env.run(&["network", "rm", &ext]);
    assert!(!refused.status.success());
    let err = String::from_utf8_lossy(&refused.stderr);
    assert!(
        err.contains("in use") && err.contains(&format!("{p}-box-1")),
        "{err}"
    );
    // Nothing was removed: a refusal leaves every named network in place.
    assert_eq!(inspect(&env, &ext)["Name"], ext.as_str());

    let down = env.cmd(&["down", "-t", "1"]).output().expect("down");
    assert!(down.status.success());
    assert!(!String::from_utf8_lossy(&down.stderr).contains("Network"));
    let v = inspect(&env, &ext);
    assert!(
        v["Containers"].as_object().is_some_and(|c| c.is_empty()),
        "{v}"
    );
    let bridge = v["Bridge"].as_str().expect("Bridge").to_string();
    assert!(link_exists(&bridge), "down keeps an external network");
    assert_eq!(env.ok(&["network", "rm", &ext]).trim(), ext);
    assert!(!link_exists(&bridge));
}
