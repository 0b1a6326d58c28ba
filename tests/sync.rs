//! `rstack sync` with a directory source, end to end (root only): the real binary, real
//! containers. Edits reach the running services, a broken edit leaves them alone, rollback
//! suspends, the daemon's restart keeps sources and history, `sync rm` takes the stack down.

mod common;

use common::*;
use serde_json::Value;
use std::path::Path;

fn stack(a_env: &str, b_env: &str) -> String {
    format!(
        r#"services:
  a:
    image: busybox:test
    init: true
    stop_grace_period: 1s
    command: ["sleep", "1000"]
    environment:
      V: "{a_env}"
  b:
    image: busybox:test
    init: true
    stop_grace_period: 1s
    command: ["sleep", "1000"]
    environment:
      V: "{b_env}"
"#
    )
}

fn source(env: &Env, name: &str) -> Value {
    env.sync_source(name)
}

/// Polls the source's status until `check` holds (panics after 30 s with what it saw).
fn wait_status(env: &Env, name: &str, what: &str, check: impl Fn(&Value) -> bool) -> Value {
    env.wait_sync_status(name, what, 30, check)
}

fn pids(env: &Env, p: &str) -> (i64, i64) {
    let rows = env.ps_json(p);
    let pid = |s: &str| {
        let r = env.service(&rows, s);
        assert_eq!(r["state"], "running", "{r}");
        r["pid"].as_i64().expect("pid")
    };
    (pid("a"), pid("b"))
}

/// Writes the stack file as editors do: a new file renamed over the old one.
fn save(dir: &Path, text: &str) {
    let tmp = dir.join(".compose.yaml.swp");
    std::fs::write(&tmp, text).expect("write");
    std::fs::rename(&tmp, dir.join("compose.yaml")).expect("rename");
}

#[test]
fn dir_source_follows_edits_survives_breakage_rollback_and_restart() {
    let Some((env, p)) = setup("syncdir") else {
        return;
    };
    let name = format!("src{p}");
    let dir = env.dir.join("repo");
    std::fs::create_dir_all(&dir).expect("mkdir");
    save(&dir, &stack("1", "1"));
    let dir_s = dir.to_str().expect("utf8");
    env.ok(&[
        "sync",
        "add",
        &name,
        "--dir",
        dir_s,
        "--project",
        &p,
        "--prune",
    ]);

    let synced = |s: &Value| s["sync"] == "Synced" && s["health"] == "Healthy";
    let st = wait_status(&env, &name, "first sync", synced);
    let r1 = st["revision"].as_str().expect("revision").to_string();
    let (a1, b1) = pids(&env, &p);

    // One service's environment changes: only its container is recreated.
    save(&dir, &stack("1", "2"));
    let st = wait_status(&env, &name, "the edit applied", |s| {
        synced(s) && s["revision"] != r1.as_str()
    });
    let r2 = st["revision"].as_str().expect("revision").to_string();
    let (a2, b2) = pids(&env, &p);
    assert_eq!(a2, a1, "a did not change and must keep running as it was");
    assert_ne!(b2, b1, "b changed and must have been recreated");

    // A broken edit: recorded with file:line:col, what runs is left alone.
    save(
        &dir,
        &stack("1", "2").replace(
            "command: [\"sleep\", \"1000\"]\n    environment:\n      V: \"2\"",
            "command: [\"sleep\", \"1000\"\n",
        ),
    );
    let st = wait_status(&env, &name, "the broken edit recorded", |s| {
        s["error"]
            .as_str()
            .is_some_and(|e| e.contains("compose.yaml:"))
    });
    assert_eq!(st["sync"], "OutOfSync", "{st}");
    assert_eq!(st["health"], "Degraded", "{st}");
    assert_eq!(st["revision"], r2.as_str(), "{st}");
    let err = st["error"].as_str().unwrap_or_default();
    let at = err.split("compose.yaml:").nth(1).unwrap_or_default();
    let mut parts = at.split(':');
    assert!(
        parts.next().is_some_and(|l| l.parse::<u32>().is_ok())
            && parts
                .next()
                .is_some_and(|c| c.trim().parse::<u32>().is_ok()),
        "no file:line:col in {err}"
    );
    assert_eq!(
        pids(&env, &p),
        (a2, b2),
        "the broken revision touched containers"
    );

    // Fixed (and a changed): synced again.
    save(&dir, &stack("3", "2"));
    let st = wait_status(&env, &name, "the fix applied", |s| {
        synced(s) && s["revision"] != r2.as_str() && s["error"].is_null()
    });
    let r3 = st["revision"].as_str().expect("revision").to_string();
    let (a3, b3) = pids(&env, &p);
    assert_ne!(a3, a2);
    assert_eq!(b3, b2);

    // Rollback to the previous revision: it runs, and sync is suspended.
    let out = env.ok(&["sync", "rollback", &name]);
    assert!(out.contains("Suspended"), "{out}");
    let st = source(&env, &name)["status"].clone();
    assert_eq!(st["revision"], r2.as_str(), "{st}");
    assert_eq!(st["suspended"], true, "{st}");
    let (a4, b4) = pids(&env, &p);
    assert_ne!(a4, a3, "a runs the earlier revision's environment again");
    assert_eq!(b4, b3);

    // Resume: the directory's revision comes back.
    env.ok(&["sync", "resume", &name]);
    wait_status(&env, &name, "resumed", |s| {
        synced(s) && s["revision"] == r3.as_str() && s["suspended"] == false
    });
    let running = pids(&env, &p);

    // kill -9 of the daemon: sources, status and history are intact after.
    env.stop_daemon(libc::SIGKILL);
    let mut daemon = env.start_daemon();
    let st = source(&env, &name)["status"].clone();
    assert_eq!(st["revision"], r3.as_str(), "{st}");
    assert_eq!(st["sync"], "Synced", "{st}");
    let status = env.ok(&["sync", "status", &name]);
    for r in [&r1, &r2, &r3] {
        assert!(status.contains(r.as_str()), "history lost {r}: {status}");
    }
    // And it still follows the directory.
    save(&dir, &stack("3", "5"));
    wait_status(&env, &name, "an edit after the restart", |s| {
        synced(s) && s["revision"] != r3.as_str()
    });
    let (a5, b5) = pids(&env, &p);
    // `rstack ls` names the project's source and its status.
    let ls = env.ok(&["ls"]);
    let line = ls.lines().find(|l| l.starts_with(&p)).unwrap_or_default();
    assert!(
        line.contains(&name) && line.contains("Synced/Healthy"),
        "{ls}"
    );
    assert_eq!(a5, running.0);
    assert_ne!(b5, running.1);

    // rm takes the project down.
    env.ok(&["sync", "rm", &name]);
    assert!(env.ps_json(&p).is_empty(), "sync rm left containers");
    let out = env.ok(&["sync", "ls", "--format", "json"]);
    assert!(!out.contains(&name), "{out}");
    // Our child: signalled and reaped here (a zombie would look alive to `stop_daemon`).
    // SAFETY: signalling the daemon this test started, by its pid.
    unsafe { libc::kill(daemon.id() as i32, libc::SIGTERM) };
    let _ = daemon.wait();
}

#[test]
fn bad_git_urls_and_dirs_are_refused_at_add() {
    let env = Env::new("syncref");
    let out = env.run(&["sync", "add", "x", "--git", "ftp://u:pw@h/r"]);
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("not supported") && err.contains("file:///path") && !err.contains("pw"),
        "{err}"
    );
    let out = env.run(&["sync", "add", "y", "--dir", "/nonexistent/rstack-dir"]);
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("not an absolute path to a directory"), "{err}");
}
