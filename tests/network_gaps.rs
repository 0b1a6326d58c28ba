//! Gaps of issue 12's networks, through the real binary: a network whose definition changed
//! in the stack file is made again by `up` (with its containers), `network_mode: service:X`
//! finds X when X sets `container_name`, and Docker's predefined networks `bridge`, `host`
//! and `none` are listed, inspected and refused removal.

mod common;

use common::{Env, setup_named, skip_unless_root};
use serde_json::Value;
use std::time::{Duration, Instant};

/// Two /24s of 10.188/16 (outside the default pool 10.89.0.0/16 and network_cli's
/// 10.187/16), different per test process; the in-use test takes 10.189.A.0/24.
fn own_subnets() -> (u32, u32) {
    let third = std::process::id() % 120;
    (third, third + 120)
}

fn inspect(env: &Env, name: &str) -> Value {
    let out = env.ok(&["network", "inspect", name]);
    let v: Value = serde_json::from_str(&out).expect("inspect json");
    v[0].clone()
}

/// The address of `service`'s container, once its exec answers.
fn address_of(env: &Env, p: &str, service: &str) -> String {
    let out = env.ok(&["-p", p, "exec", service, "hostname", "-i"]);
    out.split_whitespace().next().unwrap_or("").to_string()
}

fn stack(p: &str, third: u32, internal: bool, label: &str) -> String {
    format!(
        r#"name: {p}
services:
  web:
    image: busybox:test
    command: ["sleep", "1000"]
    networks:
      back:
        ipv4_address: 10.188.{third}.10
networks:
  back:
    internal: {internal}
    labels:
      team: {label}
    ipam:
      config:
        - subnet: 10.188.{third}.0/24
"#
    )
}

#[test]
fn a_changed_network_definition_is_applied_by_up() {
    let Some((env, p)) = setup_named("netgaps_changed", "netgapchg") else {
        return;
    };
    let net = format!("{p}_back");
    let (a, b) = own_subnets();

    env.write("compose.yaml", &stack(&p, a, false, "blue"));
    env.ok(&["-p", &p, "up", "-d"]);
    let v = inspect(&env, &net);
    assert_eq!(v["IPAM"]["Config"][0]["Subnet"], format!("10.188.{a}.0/24"));
    assert_eq!(address_of(&env, &p, "web"), format!("10.188.{a}.10"));
    let first_id = v["Id"].clone();

    // Nothing changed: the network and the container stay.
    env.ok(&["-p", &p, "up", "-d"]);
    assert_eq!(inspect(&env, &net)["Id"], first_id);

    // Another subnet (and address): the network is made again, the container on it too.
    env.write("compose.yaml", &stack(&p, b, false, "blue"));
    let out = env.ok(&["-p", &p, "up", "-d"]);
    let v = inspect(&env, &net);
    assert_eq!(
        v["IPAM"]["Config"][0]["Subnet"],
        format!("10.188.{b}.0/24"),
        "up printed: {out}\n{v}"
    );
    assert_ne!(v["Id"], first_id);
    assert_eq!(address_of(&env, &p, "web"), format!("10.188.{b}.10"));

    // `internal` and labels only.
    env.write("compose.yaml", &stack(&p, b, true, "green"));
    env.ok(&["-p", &p, "up", "-d"]);
    let v = inspect(&env, &net);
    assert_eq!(v["Internal"], true, "{v}");
    assert_eq!(v["Labels"]["team"], "green", "{v}");
    assert_eq!(v["Containers"].as_object().map(|c| c.len()), Some(1), "{v}");

    env.ok(&["-p", &p, "down", "-t", "1"]);
    let gone = env.run(&["network", "inspect", &net]);
    assert!(!gone.status.success(), "down leaves {net}");
}

#[test]
fn a_changed_network_in_use_by_another_project_is_refused_with_guidance() {
    let Some((mut env, p)) = setup_named("netgaps_in_use", "netgapuse") else {
        return;
    };
    let q = env.project("netgapuse");
    let (a, _) = own_subnets();
    // The network has a fixed `name`, so another project's service can use it as external.
    let shared = format!("{p}-shared");
    let mine = |internal: bool| {
        format!(
            "name: {p}\nservices:\n  web:\n    image: busybox:test\n    command: [\"sleep\", \"1000\"]\n    networks: [back]\nnetworks:\n  back:\n    name: {shared}\n    internal: {internal}\n    ipam:\n      config:\n        - subnet: 10.189.{a}.0/24\n"
        )
    };
    env.write("compose.yaml", &mine(false));
    env.ok(&["-p", &p, "up", "-d"]);
    env.write(
        "other.yaml",
        &format!(
            "name: {q}\nservices:\n  guest:\n    image: busybox:test\n    command: [\"sleep\", \"1000\"]\n    networks: [ext]\nnetworks:\n  ext:\n    name: {shared}\n    external: true\n"
        ),
    );
    env.ok(&["-f", "other.yaml", "up", "-d"]);

    env.write("compose.yaml", &mine(true));
    let out = env.run(&["-p", &p, "up", "-d"]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "up should refuse: {err}");
    assert!(
        err.contains("incompatible configuration") && err.contains(&format!("{q}-guest-1")),
        "{err}"
    );
    // Nothing of ours was taken down.
    let ps = env.ps_json(&p);
    assert_eq!(ps.len(), 1, "{ps:?}");
    env.ok(&["-f", "other.yaml", "down", "-t", "1"]);
    env.ok(&["-p", &p, "up", "-d"]);
    assert_eq!(inspect(&env, &shared)["Internal"], true);
}

#[test]
fn network_mode_service_finds_a_target_with_container_name() {
    let Some((env, p)) = setup_named("netgaps_join", "netgapjoin") else {
        return;
    };
    env.write(
        "compose.yaml",
        &format!(
            r#"name: {p}
services:
  main:
    image: busybox:test
    container_name: {p}-front
    command: ["sh", "-c", "while true; do echo joined | nc -l -p 7000; done"]
  side:
    image: busybox:test
    command: ["sleep", "1000"]
    network_mode: "service:main"
"#
        ),
    );
    env.ok(&["-p", &p, "up", "-d"]);
    // `side` shares main's namespace: main's listener is on its loopback.
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let out = env.run(&["-p", &p, "exec", "side", "nc", "127.0.0.1", "7000"]);
        if String::from_utf8_lossy(&out.stdout).contains("joined") {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "side never reached main: {out:?}\n{}",
            env.daemon_log()
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    env.ok(&["-p", &p, "down", "-t", "1"]);
}

#[test]
fn predefined_networks_are_listed_inspected_and_never_removed() {
    if skip_unless_root("netgaps_builtin") {
        return;
    }
    let env = Env::new("netgapbuiltin");
    let list: Vec<Value> = env
        .ok(&["network", "ls", "--format", "json"])
        .lines()
        .map(|l| serde_json::from_str(l).expect("json line"))
        .collect();
    for (name, driver) in [("bridge", "bridge"), ("host", "host"), ("none", "null")] {
        let n = list
            .iter()
            .find(|n| n["Name"] == name)
            .unwrap_or_else(|| panic!("no {name} in {list:?}"));
        assert_eq!(n["Driver"], driver);
        assert_eq!(n["Scope"], "local");
    }
    let table = env.ok(&["network", "ls"]);
    let row = table
        .lines()
        .find(|l| l.split_whitespace().nth(1) == Some("host"))
        .unwrap_or_else(|| panic!("no host row: {table}"));
    assert_eq!(
        row.split_whitespace().skip(1).collect::<Vec<_>>(),
        ["host", "host", "local"]
    );

    let v = inspect(&env, "host");
    assert_eq!(v["Name"], "host");
    assert_eq!(v["Driver"], "host");

    let rm = env.run(&["network", "rm", "bridge"]);
    assert!(!rm.status.success());
    let err = String::from_utf8_lossy(&rm.stderr);
    assert!(
        err.contains("bridge is a pre-defined network and cannot be removed"),
        "{err}"
    );
    let create = env.run(&["network", "create", "none"]);
    assert!(!create.status.success());
    assert!(String::from_utf8_lossy(&create.stderr).contains("already exists"));
    // Prune leaves them.
    env.ok(&["network", "prune", "-f"]);
    assert!(env.ok(&["network", "ls"]).contains(" bridge "));
}
