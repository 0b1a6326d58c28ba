//! `--dry-run up` of a stack whose network definition changed says what the real `up` does
//! (the network removed and made again, its containers recreated with it) and changes
//! nothing: the network and the container stay as they were. The real binary, real
//! containers (root only); the Env takes the project down when dropped.

mod common;

use common::*;
use serde_json::Value;

fn stack(p: &str, label: &str) -> String {
    format!(
        r#"name: {p}
services:
  web:
    image: busybox:test
    stop_grace_period: 1s
    command: ["sleep", "1000"]
    networks: [back]
  other:
    image: busybox:test
    stop_grace_period: 1s
    command: ["sleep", "1000"]
networks:
  back:
    labels:
      team: {label}
"#
    )
}

fn network_id(env: &Env, name: &str) -> Value {
    let v: Value =
        serde_json::from_str(&env.ok(&["network", "inspect", name])).expect("inspect json");
    v[0]["Id"].clone()
}

fn ids(env: &Env, p: &str) -> Vec<(String, String)> {
    let mut v: Vec<(String, String)> = env
        .ps_json(p)
        .iter()
        .map(|r| (r["name"].to_string(), r["id"].to_string()))
        .collect();
    v.sort();
    v
}

#[test]
fn dry_run_up_says_a_changed_network_is_recreated_with_its_containers() {
    let Some((env, p)) = setup("drynetchg") else {
        return;
    };
    let net = format!("{p}_back");
    env.write("compose.yaml", &stack(&p, "blue"));
    env.ok(&["up", "-d"]);
    let (net_id, containers) = (network_id(&env, &net), ids(&env, &p));
    env.write("compose.yaml", &stack(&p, "green"));
    let out = env.run(&["--dry-run", "up", "-d"]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{err}");
    for want in [
        format!("Network {net}  Removed (definition changed)"),
        format!("Network {net}  Created"),
        format!("Container {p}-web-1  Recreated ("),
        format!("network {net} recreated)"),
        format!("Container {p}-other-1  Running"),
    ] {
        assert!(err.contains(&want), "missing {want:?} in:\n{err}");
    }
    // Nothing was done.
    assert_eq!(network_id(&env, &net), net_id, "the dry run remade {net}");
    assert_eq!(ids(&env, &p), containers, "the dry run touched containers");
    env.ok(&["down", "-t", "1"]);
}
