//! Anonymous volumes as docker compose keeps them: a recreated container gets the old one's
//! (unless `up -V`), `rm` and `down` remove them only with `-v` (a kept one is listed by
//! `volume ls` and taken by `volume prune`); `down` leaves orphan containers, with compose's
//! warning, unless `--remove-orphans`. The real binary, real containers (root only); each Env
//! takes its project down when dropped, even on failure.

mod common;

use common::*;

/// A service with an anonymous volume at /data; `mark` goes into its environment (changing
/// it recreates the container). `extra` adds a second service.
fn stack(p: &str, mark: &str, extra: bool) -> String {
    let mut s = format!(
        r#"name: {p}
services:
  box:
    image: busybox:test
    init: true
    stop_grace_period: 1s
    command: ["sleep", "1000"]
    environment: {{ MARK: "{mark}" }}
    volumes: ["/data"]
"#
    );
    if extra {
        s.push_str(
            r#"  extra:
    image: busybox:test
    init: true
    stop_grace_period: 1s
    command: ["sleep", "1000"]
"#,
        );
    }
    s
}

/// The anonymous volumes `volume ls` lists.
fn anonymous(env: &Env) -> Vec<String> {
    env.ok(&["volume", "ls", "--format", "json"])
        .lines()
        .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
        .filter(|v| v["Anonymous"] == true)
        .filter_map(|v| v["Name"].as_str().map(str::to_string))
        .collect()
}

fn ls_data(env: &Env) -> String {
    env.ok(&["exec", "box", "ls", "-A", "/data"])
}

#[test]
fn a_recreated_container_keeps_its_anonymous_volume_unless_renewed() {
    let Some((env, p)) = setup("anonrec") else {
        return;
    };
    env.write("compose.yaml", &stack(&p, "1", false));
    env.ok(&["up", "-d"]);
    env.ok(&["exec", "box", "touch", "/data/kept"]);
    let before = anonymous(&env);
    assert_eq!(before.len(), 1, "{before:?}");
    env.write("compose.yaml", &stack(&p, "2", false));
    let out = env.run(&["up", "-d"]);
    assert!(out.status.success(), "{out:?}");
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("Recreated"),
        "a changed environment recreates: {out:?}"
    );
    assert!(
        ls_data(&env).contains("kept"),
        "the old anonymous volume came along"
    );
    assert_eq!(anonymous(&env), before, "the same volume, no new one");
    // `-V`: a fresh one, and the old one goes with the old container.
    env.write("compose.yaml", &stack(&p, "3", false));
    env.ok(&["up", "-d", "-V"]);
    assert!(!ls_data(&env).contains("kept"), "renewed: empty");
    let after = anonymous(&env);
    assert_eq!(after.len(), 1, "{after:?}");
    assert_ne!(after, before);
}

#[test]
fn rm_keeps_anonymous_volumes_unless_v() {
    let Some((env, p)) = setup("anonrm") else {
        return;
    };
    env.write("compose.yaml", &stack(&p, "1", false));
    env.ok(&["up", "-d"]);
    env.ok(&["rm", "-f", "-s"]);
    let kept = anonymous(&env);
    assert_eq!(kept.len(), 1, "rm without -v keeps it: {kept:?}");
    env.ok(&["up", "-d"]);
    assert_eq!(anonymous(&env).len(), 2, "a new container, a new volume");
    env.ok(&["rm", "-f", "-s", "-v"]);
    assert_eq!(
        anonymous(&env),
        kept,
        "rm -v took the container's own volume"
    );
    env.ok(&["volume", "prune", "-f"]);
    assert!(anonymous(&env).is_empty(), "prune takes an unused one");
}

#[test]
fn down_leaves_orphans_with_a_warning_unless_remove_orphans() {
    let Some((env, p)) = setup("anonorph") else {
        return;
    };
    env.write("compose.yaml", &stack(&p, "1", true));
    env.ok(&["up", "-d"]);
    env.write("compose.yaml", &stack(&p, "1", false));
    let out = env.run(&["down", "-t", "1"]);
    assert!(out.status.success(), "{out:?}");
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains(&format!(
            "Found orphan containers ([{p}-extra-1]) for this project. If you removed or renamed this service in your compose file, you can run this command with the --remove-orphans flag to clean it up."
        )),
        "{err}"
    );
    let rows = env.ps_json(&p);
    assert_eq!(rows.len(), 1, "the orphan stays: {rows:?}");
    assert_eq!(rows[0]["service"], "extra");
    assert_eq!(rows[0]["state"], "running");
    assert_eq!(
        anonymous(&env).len(),
        1,
        "down without -v keeps box's volume"
    );
    let out = env.run(&["down", "-t", "1", "--remove-orphans"]);
    assert!(out.status.success(), "{out:?}");
    assert!(!String::from_utf8_lossy(&out.stderr).contains("orphan"));
    assert!(env.ps_json(&p).is_empty(), "orphan removed");
}
