//! End-to-end scaling (`deploy.replicas`, `scale`, `up --scale`): the real binary, real
//! containers (root only).

mod common;

use common::*;
use serde_json::Value;

fn stack(project: &str, web: &str) -> String {
    format!(
        r#"name: {project}
services:
  web:
    image: busybox:test
    init: true
    stop_grace_period: 1s
    command: ["sh", "-c", "echo hello; exec sleep 1000"]
{web}  other:
    image: busybox:test
    init: true
    stop_grace_period: 1s
    command: ["sleep", "1000"]
"#
    )
}

/// The web replicas as (name, id, pid, state), by name.
fn web(env: &Env, p: &str) -> Vec<(String, String, i64, String)> {
    let mut v: Vec<_> = env
        .ps_json(p)
        .into_iter()
        .filter(|r| r["service"] == "web")
        .map(|r: Value| {
            (
                r["name"].as_str().unwrap_or_default().to_string(),
                r["id"].as_str().unwrap_or_default().to_string(),
                r["pid"].as_i64().unwrap_or(0),
                r["state"].as_str().unwrap_or_default().to_string(),
            )
        })
        .collect();
    v.sort();
    v
}

fn names(v: &[(String, String, i64, String)]) -> Vec<&str> {
    v.iter().map(|r| r.0.as_str()).collect()
}

#[test]
fn replicas_scale_up_and_down_keeping_the_rest_and_down_removes_all() {
    let Some((env, p)) = setup("scale") else {
        return;
    };
    env.write(
        "compose.yaml",
        &stack(&p, "    deploy:\n      replicas: 3\n"),
    );
    env.ok(&["up", "-d"]);
    let three = web(&env, &p);
    assert_eq!(
        names(&three),
        [
            format!("{p}-web-1"),
            format!("{p}-web-2"),
            format!("{p}-web-3")
        ]
    );
    assert!(
        three.iter().all(|r| r.3 == "running" && r.2 > 0),
        "{three:?}"
    );
    let other_before = env.service(&env.ps_json(&p), "other")["id"].clone();

    // `up --scale` overrides the file: -2 and -3 go, -1 keeps its container and process.
    env.ok(&["up", "-d", "--scale", "web=1"]);
    let one = web(&env, &p);
    assert_eq!(one, three[..1], "replica 1 kept its id and pid");
    assert_eq!(
        env.service(&env.ps_json(&p), "other")["id"],
        other_before,
        "other services untouched"
    );

    // Exec goes to replica 1; --index picks another.
    env.ok(&["up", "-d", "--scale", "web=2"]);
    let two = web(&env, &p);
    assert_eq!(names(&two), [format!("{p}-web-1"), format!("{p}-web-2")]);
    assert_eq!(two[0], three[0]);
    let host1 = env.ok(&["exec", "-T", "web", "hostname"]);
    let host2 = env.ok(&["exec", "-T", "--index", "2", "web", "hostname"]);
    assert_eq!(host1.trim(), &two[0].1[..12]);
    assert_eq!(host2.trim(), &two[1].1[..12]);

    // Logs name each replica, as compose: `web-1 | ...`.
    let mut logs = String::new();
    for _ in 0..200 {
        logs = env.ok(&["logs", "web"]);
        if logs.matches("hello").count() >= 2 {
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    assert!(
        logs.contains("web-1  | hello") && logs.contains("web-2  | hello"),
        "{logs}"
    );

    // stop / start act on every replica.
    env.ok(&["stop", "web"]);
    assert!(
        web(&env, &p).iter().all(|r| r.3 == "exited"),
        "{:?}",
        web(&env, &p)
    );
    env.ok(&["start", "web"]);
    assert!(
        web(&env, &p).iter().all(|r| r.3 == "running"),
        "{:?}",
        web(&env, &p)
    );

    env.ok(&["down", "-t", "1"]);
    assert!(env.ps_json(&p).is_empty());
    for (_, id, _, _) in &two {
        assert!(cgroup_dirs(id).is_empty(), "cgroup of {id} left behind");
    }
}

#[test]
fn scale_zero_runs_nothing_and_bad_flags_are_clear_errors() {
    let Some((env, p)) = setup("scale0") else {
        return;
    };
    env.write("compose.yaml", &stack(&p, "    scale: 0\n"));
    env.ok(&["up", "-d"]);
    assert!(web(&env, &p).is_empty());
    assert_eq!(env.service(&env.ps_json(&p), "other")["state"], "running");

    let out = env.run(&["up", "-d", "--scale", "nope=2"]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success());
    assert!(err.contains("no such service: nope"), "{err}");

    env.write(
        "compose.yaml",
        &stack(&p, "    scale: 2\n    deploy:\n      replicas: 3\n"),
    );
    let out = env.run(&["up", "-d"]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success());
    assert!(
        err.contains("can't set distinct values on 'scale' (2) and 'deploy.replicas' (3)")
            && err.contains("compose.yaml:8:12"),
        "{err}"
    );
}

#[test]
fn scale_command_runs_the_number_named_and_keeps_the_rest() {
    let Some((env, p)) = setup("scalecmd") else {
        return;
    };
    env.write("compose.yaml", &stack(&p, ""));
    env.ok(&["up", "-d"]);
    let one = web(&env, &p);
    let other_before = env.service(&env.ps_json(&p), "other")["id"].clone();
    env.ok(&["scale", "web=3"]);
    let three = web(&env, &p);
    assert_eq!(
        names(&three),
        [
            format!("{p}-web-1"),
            format!("{p}-web-2"),
            format!("{p}-web-3")
        ]
    );
    assert_eq!(three[0], one[0], "replica 1 kept its id and pid");
    assert!(three.iter().all(|r| r.3 == "running"), "{three:?}");
    assert_eq!(
        env.service(&env.ps_json(&p), "other")["id"],
        other_before,
        "other services untouched"
    );
    env.ok(&["scale", "web=1"]);
    assert_eq!(web(&env, &p), one);
    assert!(!env.run(&["scale", "web"]).status.success());
    assert!(!env.run(&["scale", "nope=2"]).status.success());
}

#[test]
fn scale_no_deps_leaves_a_stopped_dependency_stopped() {
    let Some((env, p)) = setup("scalenodeps") else {
        return;
    };
    env.write("compose.yaml", &stack(&p, "    depends_on: [other]\n"));
    env.ok(&["up", "-d"]);
    env.ok(&["stop", "-t", "1", "other"]);
    let state = |env: &Env| env.service(&env.ps_json(&p), "other")["state"].clone();
    assert_eq!(state(&env), "exited");

    env.ok(&["scale", "--no-deps", "web=2"]);
    assert_eq!(web(&env, &p).len(), 2);
    assert!(web(&env, &p).iter().all(|r| r.3 == "running"));
    assert_eq!(state(&env), "exited", "--no-deps started the dependency");

    // Without it, as compose, the dependency is started with the service.
    env.ok(&["scale", "web=3"]);
    assert_eq!(web(&env, &p).len(), 3);
    assert_eq!(state(&env), "running");
}
