//! Container lifecycle commands as docker compose v2 has them: `create`, `up --no-start`,
//! `up --no-recreate`, `up --always-recreate-deps` and `wait`. The real binary, real
//! containers (root only); each Env takes its project down when dropped, even on failure.

mod common;

use common::*;
use serde_json::Value;

fn stack(project: &str, web_cmd: &str) -> String {
    format!(
        r#"name: {project}
services:
  web:
    image: busybox:test
    init: true
    stop_grace_period: 1s
    command: ["sh", "-c", "{web_cmd}"]
    depends_on: [db]
  db:
    image: busybox:test
    init: true
    stop_grace_period: 1s
    command: ["sleep", "1000"]
"#
    )
}

fn row(env: &Env, p: &str, service: &str) -> Value {
    env.service(&env.ps_json(p), service).clone()
}

fn stderr(out: &std::process::Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

#[test]
fn create_makes_containers_that_start_runs() {
    let Some((env, p)) = setup("lccreate") else {
        return;
    };
    env.write("compose.yaml", &stack(&p, "exec sleep 1000"));
    let out = env.run(&["create"]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(
        stderr(&out).contains(&format!("Container {p}-web-1  Created")),
        "{}",
        stderr(&out)
    );
    for s in ["web", "db"] {
        let r = row(&env, &p, s);
        assert_eq!(r["state"], "created", "{r}");
        assert!(r["pid"].is_null(), "a created container runs nothing: {r}");
    }
    // Plain `ps` lists running containers only.
    assert_eq!(env.ok(&["ps", "-q"]).trim(), "");
    let ids: Vec<Value> = ["web", "db"].map(|s| row(&env, &p, s)["id"].clone()).into();

    env.ok(&["start"]);
    for (s, id) in ["web", "db"].iter().zip(&ids) {
        let r = env.wait_for(&p, s, 30, |r| r["state"] == "running");
        assert!(r["pid"].as_i64().is_some_and(|p| p > 0), "{r}");
        assert_eq!(&r["id"], id, "start keeps the created container");
    }
}

#[test]
fn up_no_start_then_up_starts_the_same_containers() {
    let Some((env, p)) = setup("lcnostart") else {
        return;
    };
    env.write("compose.yaml", &stack(&p, "exec sleep 1000"));
    env.ok(&["up", "--no-start"]);
    let r = row(&env, &p, "web");
    assert_eq!(r["state"], "created", "{r}");
    assert!(r["pid"].is_null(), "{r}");
    let id = r["id"].clone();

    env.ok(&["up", "-d"]);
    let r = env.wait_for(&p, "web", 30, |r| r["state"] == "running");
    assert_eq!(r["id"], id, "up starts the container --no-start made");
}

#[test]
fn no_recreate_keeps_a_changed_container_and_plain_up_recreates_it() {
    let Some((env, p)) = setup("lcnorecreate") else {
        return;
    };
    env.write("compose.yaml", &stack(&p, "exec sleep 1000"));
    env.ok(&["up", "-d"]);
    let before = env.wait_for(&p, "web", 30, |r| r["state"] == "running");

    env.write("compose.yaml", &stack(&p, "exec sleep 1001"));
    env.ok(&["up", "-d", "--no-recreate"]);
    let kept = env.wait_for(&p, "web", 30, |r| r["state"] == "running");
    assert_eq!(
        kept["id"], before["id"],
        "--no-recreate keeps the container"
    );
    assert_eq!(kept["pid"], before["pid"], "and its process");

    env.ok(&["up", "-d"]);
    let new = env.wait_for(&p, "web", 30, |r| r["state"] == "running");
    assert_ne!(
        new["id"], before["id"],
        "plain up recreates the changed container"
    );

    // The flags compose refuses together are refused too.
    let out = env.run(&["up", "-d", "--no-recreate", "--force-recreate"]);
    assert!(!out.status.success());
}

#[test]
fn always_recreate_deps_recreates_an_unchanged_dependency() {
    let Some((env, p)) = setup("lcdeps") else {
        return;
    };
    env.write("compose.yaml", &stack(&p, "exec sleep 1000"));
    env.ok(&["up", "-d"]);
    let db = env.wait_for(&p, "db", 30, |r| r["state"] == "running");
    let web = env.wait_for(&p, "web", 30, |r| r["state"] == "running");

    env.ok(&["up", "-d", "web"]);
    assert_eq!(row(&env, &p, "db")["id"], db["id"], "unchanged: kept");

    env.ok(&["up", "-d", "--always-recreate-deps", "web"]);
    let db2 = env.wait_for(&p, "db", 30, |r| r["state"] == "running");
    assert_ne!(db2["id"], db["id"], "the dependency is recreated");
    assert_eq!(row(&env, &p, "web")["id"], web["id"], "the target is not");
}

#[test]
fn wait_returns_the_exit_code_of_the_service() {
    let Some((env, p)) = setup("lcwait") else {
        return;
    };
    env.write("compose.yaml", &stack(&p, "sleep 1; exit 3"));
    env.ok(&["up", "-d"]);
    let out = env.run(&["wait", "web"]);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(3), "{stdout}{}", stderr(&out));
    assert_eq!(
        stdout.trim(),
        format!("container \"{p}-web-1\" exited with status code 3")
    );
    // As compose: at least one service.
    assert!(!env.run(&["wait"]).status.success());
}

#[test]
fn wait_down_project_takes_the_stack_down_after_the_first_exit() {
    let Some((env, p)) = setup("lcwaitdown") else {
        return;
    };
    env.write("compose.yaml", &stack(&p, "sleep 1; exit 5"));
    env.ok(&["up", "-d"]);
    // `db` sleeps on: without --down-project, waiting for both would block.
    let out = env.run(&["wait", "--down-project", "web", "db"]);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(5), "{stdout}{}", stderr(&out));
    assert_eq!(
        stdout.trim(),
        format!("container \"{p}-web-1\" exited with status code 5")
    );
    assert!(stderr(&out).contains(&format!("Container {p}-db-1  Removed")));
    assert!(env.ps_json(&p).is_empty());
}
