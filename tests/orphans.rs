//! What removing orphans and scaling down leave behind, as docker compose does: the removed
//! containers' anonymous volumes stay (compose removes them without RemoveVolumes), tied to
//! the project (its label, `down -v`), and `volume prune` takes them once unused; `down` with
//! orphans left removes the project's other networks and warns for the one an orphan holds.
//! The real binary, real containers (root only); each Env takes its project down when dropped.

mod common;

use common::*;
use serde_json::Value;

/// `box` with an anonymous volume at /data; with `extra`, a second service with one at
/// /cache, on the default network only (box is also on `back`).
fn stack(p: &str, extra: bool) -> String {
    let mut s = format!(
        r#"name: {p}
services:
  box:
    image: busybox:test
    init: true
    stop_grace_period: 1s
    command: ["sleep", "1000"]
    volumes: ["/data"]
    networks: [default, back]
"#
    );
    if extra {
        s.push_str(
            r#"  extra:
    image: busybox:test
    init: true
    stop_grace_period: 1s
    command: ["sleep", "1000"]
    volumes: ["/cache"]
"#,
        );
    }
    s.push_str("networks:\n  back: {}\n");
    s
}

/// `volume ls --format json` (with the given extra arguments), one value a volume.
fn volumes(env: &Env, extra: &[&str]) -> Vec<Value> {
    let mut args = vec!["volume", "ls", "--format", "json"];
    args.extend_from_slice(extra);
    env.ok(&args)
        .lines()
        .filter_map(|l| serde_json::from_str::<Value>(l).ok())
        .collect()
}

fn anonymous(env: &Env) -> Vec<String> {
    let mut v: Vec<String> = volumes(env, &[])
        .into_iter()
        .filter(|v| v["Anonymous"] == true)
        .filter_map(|v| v["Name"].as_str().map(str::to_string))
        .collect();
    v.sort();
    v
}

/// The anonymous volumes `volume ls --filter label=com.docker.compose.project=P` lists.
fn anonymous_of_project(env: &Env, p: &str) -> Vec<String> {
    let filter = format!("label=com.docker.compose.project={p}");
    let mut v: Vec<String> = volumes(env, &["--filter", &filter])
        .into_iter()
        .filter(|v| v["Anonymous"] == true)
        .filter_map(|v| v["Name"].as_str().map(str::to_string))
        .collect();
    v.sort();
    v
}

#[test]
fn removing_orphans_keeps_their_anonymous_volumes_in_the_project() {
    let Some((env, p)) = setup("orphvol") else {
        return;
    };
    env.write("compose.yaml", &stack(&p, true));
    env.ok(&["up", "-d"]);
    let before = anonymous(&env);
    assert_eq!(before.len(), 2, "{before:?}");
    env.write("compose.yaml", &stack(&p, false));
    let out = env.run(&["up", "-d", "--remove-orphans"]);
    assert!(out.status.success(), "{out:?}");
    let rows = env.ps_json(&p);
    assert!(
        rows.iter().all(|r| r["service"] == "box"),
        "orphan removed: {rows:?}"
    );
    assert_eq!(
        anonymous(&env),
        before,
        "compose removes an orphan without its anonymous volumes"
    );
    assert_eq!(
        anonymous_of_project(&env, &p),
        before,
        "both carry the project's label"
    );
    let out = env.run(&["down", "-t", "1", "-v"]);
    assert!(out.status.success(), "{out:?}");
    assert!(
        anonymous(&env).is_empty(),
        "down -v takes the orphan's volume too: {:?}",
        anonymous(&env)
    );
}

#[test]
fn scaling_down_keeps_the_replicas_anonymous_volumes_until_pruned() {
    let Some((env, p)) = setup("scalevol") else {
        return;
    };
    env.write("compose.yaml", &stack(&p, false));
    env.ok(&["up", "-d", "--scale", "box=3"]);
    let three = anonymous(&env);
    assert_eq!(three.len(), 3, "{three:?}");
    env.ok(&["up", "-d", "--scale", "box=1"]);
    assert_eq!(env.ps_json(&p).len(), 1);
    assert_eq!(anonymous(&env), three, "up --scale down keeps them");
    env.ok(&["scale", "box=2"]);
    assert_eq!(anonymous(&env).len(), 4, "a new replica, a new volume");
    env.ok(&["scale", "box=1"]);
    assert_eq!(anonymous(&env).len(), 4, "rstack scale down keeps them");
    assert_eq!(anonymous_of_project(&env, &p).len(), 4);
    // As docker: prune takes the unused anonymous ones, not the one box-1 uses.
    env.ok(&["volume", "prune", "-f"]);
    let left = anonymous(&env);
    assert_eq!(left.len(), 1, "{left:?}");
    assert!(three.contains(&left[0]), "box-1's own volume stays");
}

#[test]
fn down_with_an_orphan_left_removes_the_networks_it_is_not_on() {
    let Some((env, p)) = setup("orphnet") else {
        return;
    };
    env.write("compose.yaml", &stack(&p, true));
    env.ok(&["up", "-d"]);
    let listed = env.ok(&["network", "ls"]);
    assert!(listed.contains(&format!("{p}_back")), "{listed}");
    assert!(listed.contains(&format!("{p}_default")), "{listed}");
    env.write("compose.yaml", &stack(&p, false));
    let out = env.run(&["down", "-t", "1"]);
    assert!(out.status.success(), "{out:?}");
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains(&format!("Network {p}_back  Removed")), "{err}");
    assert!(
        err.contains(&format!("Network {p}_default  Resource is still in use")),
        "compose's warning for the orphan's network: {err}"
    );
    let listed = env.ok(&["network", "ls"]);
    assert!(!listed.contains(&format!("{p}_back")), "{listed}");
    assert!(listed.contains(&format!("{p}_default")), "{listed}");
    let rows = env.ps_json(&p);
    assert_eq!(rows.len(), 1, "the orphan stays: {rows:?}");
    assert_eq!(rows[0]["state"], "running");
    let out = env.run(&["down", "-t", "1", "--remove-orphans"]);
    assert!(out.status.success(), "{out:?}");
    assert!(
        String::from_utf8_lossy(&out.stderr).contains(&format!("Network {p}_default  Removed")),
        "{out:?}"
    );
}
