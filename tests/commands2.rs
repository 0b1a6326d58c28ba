//! More compose commands around a stack (`rm`, `images`, `cp`, `export`, `stats`): the real
//! binary, real containers (root only). Each test's Env takes its project down when dropped,
//! failed or not.

mod common;

use common::*;
use serde_json::Value;
use std::io::Write;
use std::process::Stdio;

fn stack(project: &str) -> String {
    format!(
        r#"name: {project}
services:
  web:
    image: busybox:test
    stop_grace_period: 1s
    command: ["sleep", "1000"]
  other:
    image: busybox:test
    stop_grace_period: 1s
    command: ["sleep", "1000"]
"#
    )
}

fn names(env: &Env, p: &str) -> Vec<String> {
    let mut n: Vec<String> = env
        .ps_json(p)
        .iter()
        .filter_map(|r| r["name"].as_str().map(String::from))
        .collect();
    n.sort();
    n
}

/// Runs rstack with `input` on stdin (a pipe, not a terminal).
fn with_input(env: &Env, args: &[&str], input: &str) -> std::process::Output {
    let mut child = env
        .cmd(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn rstack");
    child
        .stdin
        .take()
        .expect("stdin")
        .write_all(input.as_bytes())
        .expect("write stdin");
    child.wait_with_output().expect("wait rstack")
}

#[test]
fn rm_removes_stopped_containers_after_confirmation() {
    let Some((env, p)) = setup("cmdrm") else {
        return;
    };
    env.write("compose.yaml", &stack(&p));
    env.ok(&["up", "-d"]);
    let (web, other) = (format!("{p}-web-1"), format!("{p}-other-1"));

    // Running containers are not removed without -s.
    let out = env.run(&["rm", "-f"]);
    assert!(out.status.success(), "{out:?}");
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("No stopped containers"),
        "{out:?}"
    );
    assert_eq!(names(&env, &p), [other.clone(), web.clone()]);

    // Stopped, no terminal and no answer (stdin /dev/null): asked, declined, nothing removed.
    env.ok(&["stop", "-t", "1", "web"]);
    let asked = env.ok(&["rm", "web"]);
    assert!(asked.contains(&format!("Going to remove {web}")), "{asked}");
    assert_eq!(names(&env, &p).len(), 2);

    // A "y" on stdin confirms.
    let out = with_input(&env, &["rm", "web"], "y\n");
    assert!(out.status.success(), "{out:?}");
    assert!(
        String::from_utf8_lossy(&out.stderr).contains(&format!("Container {web}  Removed")),
        "{out:?}"
    );
    assert_eq!(names(&env, &p), [other.as_str()]);

    // -s -f: stops the running one, then removes it without asking.
    let out = env.ok(&["rm", "-s", "-f", "other"]);
    assert!(out.contains(&format!("Going to remove {other}")), "{out}");
    assert!(names(&env, &p).is_empty());
}

#[test]
fn images_lists_each_containers_image() {
    let Some((env, p)) = setup("cmdimages") else {
        return;
    };
    env.write("compose.yaml", &stack(&p));
    env.ok(&["up", "-d"]);
    let out = env.ok(&["images", "--format", "json"]);
    let rows: Vec<Value> = serde_json::from_str(&out).expect("images json");
    assert_eq!(rows.len(), 2, "{out}");
    assert_eq!(rows[0]["ContainerName"], format!("{p}-other-1"), "{out}");
    assert_eq!(rows[1]["Repository"], "busybox", "{out}");
    assert_eq!(rows[1]["Tag"], "test", "{out}");
    assert!(rows[1]["Size"].as_u64().is_some_and(|s| s > 0), "{out}");
    let id = rows[1]["ID"].as_str().expect("id").to_string();
    assert!(!id.is_empty(), "{out}");

    let table = env.ok(&["images", "web"]);
    let lines: Vec<&str> = table.lines().collect();
    assert!(lines[0].starts_with("CONTAINER"), "{table}");
    assert!(lines[0].contains("IMAGE ID"), "{table}");
    assert_eq!(lines.len(), 2, "only web: {table}");
    assert!(lines[1].starts_with(&format!("{p}-web-1")), "{table}");

    let quiet = env.ok(&["images", "-q"]);
    let bare = id.split_once(':').map(|(_, h)| h).unwrap_or(&id);
    assert_eq!(quiet.trim(), bare, "one id for both containers");
}
