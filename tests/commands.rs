//! The compose commands around a running stack (`ls`, `top`, `pause`/`unpause`): the real
//! binary, real containers (root only). Each test's Env takes its project down when dropped,
//! failed or not.

mod common;

use common::*;
use serde_json::Value;

fn stack(project: &str) -> String {
    web_and_other_stack(project)
}

#[test]
fn ls_shows_the_project_with_its_running_containers() {
    let Some((env, p)) = setup("cmdls") else {
        return;
    };
    env.write("compose.yaml", &stack(&p));
    env.ok(&["up", "-d"]);
    let out = env.ok(&["ls", "--format", "json"]);
    let list: Vec<Value> = serde_json::from_str(&out).expect("ls json");
    let row = list
        .iter()
        .find(|r| r["Name"] == p.as_str())
        .unwrap_or_else(|| panic!("{p} not in {out}"));
    assert_eq!(row["Status"], "running(2)", "{out}");
    assert!(row.get("ConfigFiles").is_some(), "{out}");
    let table = env.ok(&["ls"]);
    assert!(table.starts_with("NAME"), "{table}");
    assert!(
        table
            .lines()
            .any(|l| l.starts_with(&p) && l.contains("running(2)")),
        "{table}"
    );
    assert!(env.ok(&["ls", "-q"]).lines().any(|l| l == p), "ls -q");

    // Stopped: gone from `ls`, shown by `ls -a` as exited.
    env.ok(&["stop", "-t", "1"]);
    assert!(
        !env.ok(&["ls", "-q"]).lines().any(|l| l == p),
        "ls after stop"
    );
    let all: Vec<Value> =
        serde_json::from_str(&env.ok(&["ls", "-a", "--format", "json"])).expect("json");
    let row = all.iter().find(|r| r["Name"] == p.as_str()).expect("ls -a");
    assert_eq!(row["Status"], "exited(2)");
}

#[test]
fn top_lists_each_containers_processes_from_its_cgroup() {
    let Some((env, p)) = setup("cmdtop") else {
        return;
    };
    env.write("compose.yaml", &stack(&p));
    env.ok(&["up", "-d"]);
    let pid = env.service(&env.ps_json(&p), "web")["pid"].clone();
    let out = env.ok(&["top", "web"]);
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(
        lines.first().copied(),
        Some(format!("{p}-web-1").as_str()),
        "{out}"
    );
    let titles: Vec<&str> = lines[1].split_whitespace().collect();
    assert_eq!(
        titles,
        ["UID", "PID", "PPID", "C", "STIME", "TTY", "TIME", "CMD"],
        "{out}"
    );
    // The container's own process, by its host pid, running `sleep 1000` as root.
    let row = lines[2..]
        .iter()
        .find(|l| l.ends_with("sleep 1000"))
        .unwrap_or_else(|| panic!("no sleep in {out}"));
    let cells: Vec<&str> = row.split_whitespace().collect();
    assert_eq!(cells[0], "root", "{out}");
    assert_eq!(cells[1], pid.to_string(), "{out}");
    assert!(!out.contains("other"), "only the named service: {out}");

    // All services without names; an unknown one is refused.
    let all = env.ok(&["top"]);
    assert!(all.lines().any(|l| l == format!("{p}-other-1")), "{all}");
    let bad = env.run(&["top", "nope"]);
    assert!(!bad.status.success());
    assert!(
        String::from_utf8_lossy(&bad.stderr).contains("no such service: nope"),
        "{bad:?}"
    );
}

/// The counter the `count` service writes into the bind-mounted data directory.
fn counter(env: &Env) -> u64 {
    std::fs::read_to_string(env.work.join("data/c"))
        .ok()
        .and_then(|s| s.trim().parse().ok())
        .unwrap_or(0)
}

/// Waits (10 s at most) until the counter passes `than`.
fn wait_past(env: &Env, than: u64) -> u64 {
    poll_for(10, 50, || {
        let c = counter(env);
        if c > than {
            return Ok(c);
        }
        Err(format!("counter stuck at {c}"))
    })
}

#[test]
fn pause_freezes_the_containers_and_unpause_resumes_them() {
    let Some((env, p)) = setup("cmdpause") else {
        return;
    };
    std::fs::create_dir_all(env.work.join("data")).expect("mkdir data");
    env.write(
        "compose.yaml",
        &format!(
            r#"name: {p}
services:
  count:
    image: busybox:test
    stop_grace_period: 1s
    volumes: ["./data:/data"]
    command: ["sh", "-c", "i=0; while true; do i=$$((i+1)); echo $$i > /data/c.tmp; mv /data/c.tmp /data/c; sleep 0.05; done"]
  other:
    image: busybox:test
    stop_grace_period: 1s
    command: ["sleep", "1000"]
"#
        ),
    );
    env.ok(&["up", "-d"]);
    wait_past(&env, 2);

    let out = env.run(&["pause", "count"]);
    assert!(out.status.success(), "{out:?}\n{}", env.daemon_log());
    assert!(
        String::from_utf8_lossy(&out.stderr).contains(&format!("Container {p}-count-1  Paused")),
        "{out:?}"
    );
    let rows = env.ps_json(&p);
    assert_eq!(env.service(&rows, "count")["state"], "paused");
    assert_eq!(
        env.service(&rows, "other")["state"],
        "running",
        "only the named service"
    );
    // Frozen: the loop does not move while we look (it moves every 50 ms when running).
    let frozen = counter(&env);
    std::thread::sleep(std::time::Duration::from_millis(500));
    assert_eq!(counter(&env), frozen, "counter advanced while paused");
    assert!(env.ok(&["ps"]).contains("(Paused)"), "ps shows it paused");
    let exec = env.run(&["exec", "-T", "count", "true"]);
    assert!(!exec.status.success(), "exec into a paused container");
    assert!(
        String::from_utf8_lossy(&exec.stderr).contains("is paused: unpause it"),
        "{exec:?}"
    );

    env.ok(&["unpause"]);
    assert_eq!(env.service(&env.ps_json(&p), "count")["state"], "running");
    wait_past(&env, frozen);

    // Paused again, `down` still takes it down (it is thawed first).
    env.ok(&["pause"]);
    env.ok(&["down", "-t", "1"]);
    assert!(env.ps_json(&p).is_empty());
}
