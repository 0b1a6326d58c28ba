//! Drift and self-heal of a directory source, end to end (root only): a container killed
//! (`kill -9`, restart "no"), removed (`rm -sf`) or stopped by hand comes back for a source
//! with `--self-heal`, and the drift is recorded in `sync ls` and as `rstack events`' source
//! events; without `--self-heal`, or suspended, the drift is reported and left alone.

mod common;

use common::*;
use serde_json::Value;
use std::process::{Child, Stdio};
use std::time::{Duration, Instant};

const STACK: &str = r#"services:
  a:
    image: busybox:test
    restart: "no"
    stop_grace_period: 1s
    command: ["sleep", "1000"]
  b:
    image: busybox:test
    restart: "no"
    stop_grace_period: 1s
    command: ["sleep", "1000"]
"#;

/// A sync source, removed (its project down) when dropped, before the Env's cleanup.
struct Source<'a> {
    env: &'a Env,
    name: String,
}

impl Drop for Source<'_> {
    fn drop(&mut self) {
        let _ = self.env.run(&["sync", "rm", &self.name]);
    }
}

/// `rstack events --json` of a project, its output in a file, killed when dropped.
struct Events {
    child: Child,
    out: std::path::PathBuf,
}

impl Events {
    fn start(env: &Env, p: &str) -> Events {
        let out = env.dir.join(format!("events-{p}.json"));
        let child = env
            .cmd(&["-p", p, "events", "--json"])
            .stdout(std::fs::File::create(&out).expect("events file"))
            .stderr(Stdio::null())
            .spawn()
            .expect("spawn events");
        // The stream is open once the daemon answered; changes after that are reported.
        std::thread::sleep(Duration::from_millis(500));
        Events { child, out }
    }

    /// Whether a source event `action` whose `drift` has `text` was seen.
    fn has(&self, action: &str, text: &str) -> bool {
        std::fs::read_to_string(&self.out)
            .unwrap_or_default()
            .lines()
            .filter_map(|l| serde_json::from_str::<Value>(l).ok())
            .any(|e| {
                e["type"] == "source"
                    && e["action"] == action
                    && e["attributes"]["drift"]
                        .as_str()
                        .is_some_and(|v| v.contains(text))
            })
    }

    /// Waits (30 s at most) for a source event `action` whose attributes' `key` has `text`.
    fn wait(&self, action: &str, key: &str, text: &str) -> Value {
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            let all = std::fs::read_to_string(&self.out).unwrap_or_default();
            let found = all
                .lines()
                .filter_map(|l| serde_json::from_str::<Value>(l).ok())
                .find(|e| {
                    e["type"] == "source"
                        && e["action"] == action
                        && e["attributes"][key]
                            .as_str()
                            .is_some_and(|v| v.contains(text))
                });
            if let Some(e) = found {
                return e;
            }
            assert!(
                Instant::now() < deadline,
                "no source event {action} with {key} ~ {text:?} in:\n{all}"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

impl Drop for Events {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn source_status(env: &Env, name: &str) -> Value {
    env.sync_source(name)["status"].clone()
}

fn wait_status(env: &Env, name: &str, what: &str, check: impl Fn(&Value) -> bool) -> Value {
    env.wait_sync_status(name, what, 30, check)
}

fn drift_has(s: &Value, text: &str) -> bool {
    s["drift"].as_str().is_some_and(|d| d.contains(text))
}

/// Adds a directory source of `STACK` for project `p` and waits for its first sync.
fn add<'a>(env: &'a Env, p: &str, extra: &[&str]) -> Source<'a> {
    let name = format!("src{p}");
    let dir = env.dir.join(format!("repo-{p}"));
    std::fs::create_dir_all(&dir).expect("mkdir");
    std::fs::write(dir.join("compose.yaml"), STACK).expect("write");
    let dir_s = dir.to_str().expect("utf8");
    let mut args = vec!["sync", "add", &name, "--dir", dir_s, "--project", p];
    args.extend_from_slice(extra);
    env.ok(&args);
    let src = Source { env, name };
    wait_status(env, &src.name, "first sync", |s| s["sync"] == "Synced");
    src
}

fn running(r: &Value) -> bool {
    r["state"] == "running"
}

fn has_service(env: &Env, p: &str, service: &str) -> bool {
    env.ps_json(p).iter().any(|r| r["service"] == service)
}

fn kill9(pid: i64) {
    // SAFETY: SIGKILL to a container process this test made, by its pid.
    unsafe { libc::kill(pid as i32, libc::SIGKILL) };
}

#[test]
fn a_self_healing_source_brings_back_killed_removed_and_stopped_containers() {
    let Some((env, p)) = setup("heal") else {
        return;
    };
    let src = add(&env, &p, &["--self-heal"]);
    let events = Events::start(&env, &p);

    // kill -9 of a's process (restart "no": the supervisor leaves it exited).
    let a = env.wait_for(&p, "a", 30, running);
    kill9(a["pid"].as_i64().expect("pid"));
    let back = env.wait_for(&p, "a", 30, |r| running(r) && r["pid"] != a["pid"]);
    assert_ne!(back["pid"], a["pid"]);
    let st = source_status(&env, &src.name);
    assert!(drift_has(&st, "service a: stopped (exit code"), "{st}");
    assert!(st["drift_at"].is_string(), "{st}");
    events.wait("drift", "drift", "service a: stopped");
    events.wait("heal", "drift", "service a: stopped");
    let status = env.ok(&["sync", "status", &src.name]);
    assert!(status.contains("Drift:     service a: stopped"), "{status}");

    // rm -sf of b: created again.
    let b = env.wait_for(&p, "b", 30, running);
    env.ok(&["-p", &p, "rm", "-s", "-f", "b"]);
    let b2 = env.wait_for(&p, "b", 30, |r| running(r) && r["id"] != b["id"]);
    assert_ne!(b2["id"], b["id"]);
    events.wait("drift", "drift", "service b: container removed");
    let st = wait_status(&env, &src.name, "b healed", |s| s["sync"] == "Synced");
    assert!(drift_has(&st, "service b: container removed"), "{st}");

    // stop of a: started again.
    let a = env.wait_for(&p, "a", 30, running);
    env.ok(&["-p", &p, "stop", "-t", "1", "a"]);
    env.wait_for(&p, "a", 30, |r| running(r) && r["pid"] != a["pid"]);
    events.wait("heal", "drift", "service a: stopped");

    // A manual `up` of another file changes b's config: recreated back (the 4th heal: 16 s).
    let b = env.wait_for(&p, "b", 30, running);
    let other = env.write(
        &format!("other-{p}.yaml"),
        "services:\n  b:\n    image: busybox:test\n    restart: \"no\"\n    stop_grace_period: 1s\n    command: [\"sleep\", \"1000\"]\n    environment: {V: \"x\"}\n",
    );
    env.ok(&[
        "-p",
        &p,
        "-f",
        other.to_str().expect("utf8"),
        "up",
        "-d",
        "b",
    ]);
    events.wait("drift", "drift", "service b: config changed: environment");
    let deadline = Instant::now() + Duration::from_secs(40);
    while env.wait_for(&p, "b", 30, running)["id"] == b["id"]
        || !events.has("heal", "service b: config changed")
    {
        assert!(Instant::now() < deadline, "b was not healed back");
        std::thread::sleep(Duration::from_millis(100));
    }
    drop(events);
    drop(src);
}

#[test]
fn drift_without_self_heal_or_while_suspended_is_reported_and_left_alone() {
    let Some((mut env, p)) = setup("noheal") else {
        return;
    };
    let q = env.project("noheal");

    // No --self-heal: OutOfSync with the drift, the container stays gone.
    let plain = add(&env, &p, &[]);
    let events = Events::start(&env, &p);
    env.wait_for(&p, "b", 30, running);
    env.ok(&["-p", &p, "rm", "-s", "-f", "b"]);
    let st = wait_status(&env, &plain.name, "drift reported", |s| {
        drift_has(s, "service b: container removed")
    });
    assert_eq!(st["sync"], "OutOfSync", "{st}");
    events.wait("drift", "drift", "service b: container removed");
    assert!(!has_service(&env, &p, "b"), "healed without --self-heal");
    // A manual `up` of another file changes a's config: that drift is named too.
    let other = env.write(
        &format!("other-{p}.yaml"),
        &STACK.replace(
            "command: [\"sleep\", \"1000\"]\n  b:",
            "command: [\"sleep\", \"1000\"]\n    environment: {V: \"x\"}\n  b:",
        ),
    );
    env.ok(&[
        "-p",
        &p,
        "-f",
        other.to_str().expect("utf8"),
        "up",
        "-d",
        "a",
    ]);
    wait_status(&env, &plain.name, "config drift reported", |s| {
        drift_has(s, "service a: config changed: environment")
    });

    // --self-heal but suspended: reported, not healed; resumed: back.
    let healing = add(&env, &q, &["--self-heal"]);
    env.ok(&["sync", "suspend", &healing.name]);
    env.wait_for(&q, "b", 30, running);
    env.ok(&["-p", &q, "rm", "-s", "-f", "b"]);
    wait_status(&env, &healing.name, "drift reported", |s| {
        drift_has(s, "service b: container removed") && s["sync"] == "OutOfSync"
    });
    // A heal waits 2 s first: a little more without one shows it was not scheduled.
    std::thread::sleep(Duration::from_secs(3));
    assert!(!has_service(&env, &q, "b"), "a suspended source healed");
    env.ok(&["sync", "resume", &healing.name]);
    env.wait_for(&q, "b", 30, running);
    drop(events);
    drop(healing);
    drop(plain);
}
