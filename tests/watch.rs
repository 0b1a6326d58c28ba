//! The dev loop through the real binary (root only): `rstack watch` syncs an edited file
//! into the running container without restarting it, leaves ignored files out, deletes
//! deleted ones; a `restart` rule restarts; a `rebuild` rule rebuilds and recreates only
//! its service; under `up --watch` a stack file edit recreates only the changed service
//! and a bad edit prints its file:line:col error and leaves the services running, and
//! streams the services' logs; a rebuild brings up no dependency, prunes the image it
//! replaced and, with `--quiet`, prints no build output; syncs and execs reach every
//! replica; `exec.privileged` runs the command with every capability.

mod common;

use common::*;
use std::path::PathBuf;
use std::process::{Child, Stdio};

/// A running `rstack watch` (or `up --watch`), its output in files; killed on drop.
struct Watching {
    child: Child,
    out: PathBuf,
    err: PathBuf,
}

impl Watching {
    fn start(env: &Env, args: &[&str]) -> Watching {
        let n = std::fs::read_dir(&env.dir).map(|d| d.count()).unwrap_or(0);
        let out = env.dir.join(format!("watch-{n}.out"));
        let err = env.dir.join(format!("watch-{n}.err"));
        let child = env
            .cmd(args)
            .stdout(std::fs::File::create(&out).expect("out"))
            .stderr(std::fs::File::create(&err).expect("err"))
            .spawn()
            .expect("spawn watch");
        let w = Watching { child, out, err };
        w.wait_output("Watch enabled", env);
        w
    }

    fn output(&self) -> String {
        std::fs::read_to_string(&self.err).unwrap_or_default()
    }

    fn stdout(&self) -> String {
        std::fs::read_to_string(&self.out).unwrap_or_default()
    }

    fn wait_output(&self, text: &str, env: &Env) {
        poll(
            60,
            || self.output().contains(text),
            || {
                format!(
                    "watch output never said {text:?}:\n{}\ndaemon log: {}",
                    self.output(),
                    env.daemon_log()
                )
            },
        );
    }
}

impl Drop for Watching {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Polls `check` until it holds; panics with `why()` after `secs` (a generous bound for a
/// slow machine, not a speed check).
fn poll(secs: u64, check: impl Fn() -> bool, why: impl Fn() -> String) {
    poll_until(secs, 50, check, why);
}

fn exec(env: &Env, p: &str, svc: &str, cmd: &[&str]) -> Option<String> {
    let mut a = vec!["-p", p, "exec", "-T", svc];
    a.extend_from_slice(cmd);
    let out = env.cmd(&a).stderr(Stdio::null()).output().expect("exec");
    out.status
        .success()
        .then(|| String::from_utf8_lossy(&out.stdout).into_owned())
}

fn pid(env: &Env, p: &str, svc: &str) -> i64 {
    let row = env.wait_for(p, svc, 60, |r| r["state"] == "running");
    row["pid"].as_i64().expect("pid")
}

fn write(env: &Env, rel: &str, text: &str) {
    let path = env.work.join(rel);
    std::fs::create_dir_all(path.parent().expect("parent")).expect("mkdir");
    std::fs::write(path, text).expect("write");
}

#[test]
fn sync_copies_edits_into_the_running_container() {
    let Some((env, p)) = setup("watchsync") else {
        return;
    };
    write(&env, "src/a.txt", "one");
    env.write(
        "stack.yaml",
        r#"services:
  app:
    image: busybox:test
    command: ["sleep", "3600"]
    develop:
      watch:
        - path: ./src
          action: sync
          target: /srv
          ignore: ["*.tmp"]
          initial_sync: true
"#,
    );
    let w = Watching::start(&env, &["-p", &p, "-f", "stack.yaml", "watch"]);
    let before = pid(&env, &p, "app");
    let cat = |f: &str| exec(&env, &p, "app", &["cat", f]);
    poll(
        30,
        || cat("/srv/a.txt").as_deref() == Some("one"),
        || format!("initial sync missing: {}", w.output()),
    );

    write(&env, "src/a.txt", "two");
    poll(
        30,
        || cat("/srv/a.txt").as_deref() == Some("two"),
        || format!("edit not synced: {}", w.output()),
    );
    // The ignored file is written first: once the later one is there, it would be too.
    write(&env, "src/skip.tmp", "no");
    write(&env, "src/d/c.txt", "three");
    poll(
        30,
        || cat("/srv/d/c.txt").as_deref() == Some("three"),
        || format!("new file not synced: {}", w.output()),
    );
    assert_eq!(cat("/srv/skip.tmp"), None, "an ignored file was synced");

    std::fs::remove_file(env.work.join("src/a.txt")).expect("rm");
    poll(
        30,
        || cat("/srv/a.txt").is_none(),
        || format!("deletion not synced: {}", w.output()),
    );
    assert_eq!(
        pid(&env, &p, "app"),
        before,
        "a sync must not restart the container"
    );
    assert!(
        w.output().contains("Syncing service \"app\" after"),
        "{}",
        w.output()
    );
}

#[test]
fn restart_rule_restarts_and_rebuild_rule_recreates_only_its_service() {
    let Some((env, p)) = setup("watchrestart") else {
        return;
    };
    write(&env, "conf/x.conf", "a");
    write(&env, "ctx/f", "v1");
    write(
        &env,
        "ctx/Dockerfile",
        "FROM busybox:test\nCOPY f /f\nCMD [\"sleep\", \"3600\"]\n",
    );
    env.write(
        "stack.yaml",
        r#"services:
  conf:
    image: busybox:test
    command: ["sleep", "3600"]
    develop:
      watch:
        - path: ./conf
          action: restart
  built:
    build: ./ctx
    develop:
      watch:
        - path: ./ctx
          action: rebuild
  other:
    image: busybox:test
    command: ["sleep", "3600"]
"#,
    );
    let w = Watching::start(&env, &["-p", &p, "-f", "stack.yaml", "watch"]);
    let conf = pid(&env, &p, "conf");
    let built = pid(&env, &p, "built");
    let other = pid(&env, &p, "other");
    assert_eq!(
        exec(&env, &p, "built", &["cat", "/f"]).as_deref(),
        Some("v1")
    );

    write(&env, "conf/x.conf", "b");
    poll(
        60,
        || pid(&env, &p, "conf") != conf,
        || format!("restart rule did not restart: {}", w.output()),
    );

    write(&env, "ctx/f", "v2");
    poll(
        120,
        || exec(&env, &p, "built", &["cat", "/f"]).as_deref() == Some("v2"),
        || {
            format!(
                "rebuild did not happen: {}\ndaemon log: {}",
                w.output(),
                env.daemon_log()
            )
        },
    );
    assert_ne!(
        pid(&env, &p, "built"),
        built,
        "the rebuilt service is recreated"
    );
    assert_eq!(
        pid(&env, &p, "other"),
        other,
        "only the rebuilt service is recreated"
    );
    assert!(
        w.output().contains("Rebuilding service \"built\""),
        "{}",
        w.output()
    );
}

#[test]
fn up_watch_reconciles_stack_file_edits() {
    let Some((env, p)) = setup("watchstack") else {
        return;
    };
    let stack = |x: &str, extra: &str| {
        format!(
            "services:\n  a:\n    image: busybox:test\n    command: [\"sleep\", \"3600\"]\n    stop_signal: SIGKILL\n  b:\n    image: busybox:test\n    command: [\"sleep\", \"3600\"]\n    stop_signal: SIGKILL\n    environment:\n      X: \"{x}\"\n{extra}"
        )
    };
    env.write("stack.yaml", &stack("1", ""));
    let w = Watching::start(&env, &["-p", &p, "-f", "stack.yaml", "up", "--watch"]);
    let a = pid(&env, &p, "a");
    let b = pid(&env, &p, "b");

    env.write("stack.yaml", &stack("2", ""));
    poll(
        60,
        || pid(&env, &p, "b") != b,
        || {
            format!(
                "stack edit not applied: {}\ndaemon log: {}",
                w.output(),
                env.daemon_log()
            )
        },
    );
    poll(
        60,
        || exec(&env, &p, "b", &["sh", "-c", "echo $X"]).as_deref() == Some("2\n"),
        || format!("new config not running: {}", w.output()),
    );
    let b = pid(&env, &p, "b");
    assert_eq!(
        pid(&env, &p, "a"),
        a,
        "an unchanged service is not recreated"
    );

    // Line 12, column 5: an unknown key.
    env.write("stack.yaml", &stack("3", "    bogus_key: 1\n"));
    w.wait_output("stack.yaml:12:5", &env);
    assert!(w.output().contains("left as they were"), "{}", w.output());
    assert_eq!(pid(&env, &p, "a"), a);
    assert_eq!(pid(&env, &p, "b"), b, "a bad revision changes nothing");
    assert_eq!(
        exec(&env, &p, "b", &["sh", "-c", "echo $X"]).as_deref(),
        Some("2\n")
    );
}

#[test]
fn sync_exec_runs_the_command_after_the_sync() {
    let Some((env, p)) = setup("watchexec") else {
        return;
    };
    write(&env, "src/x", "0");
    env.write(
        "stack.yaml",
        r#"services:
  app:
    image: busybox:test
    command: ["sleep", "3600"]
    develop:
      watch:
        - path: ./src
          action: sync+exec
          target: /srv
          exec:
            command: ["sh", "-c", "cp /srv/x /srv/copied"]
"#,
    );
    let w = Watching::start(&env, &["-p", &p, "-f", "stack.yaml", "watch"]);
    let before = pid(&env, &p, "app");
    write(&env, "src/x", "42");
    poll(
        30,
        || exec(&env, &p, "app", &["cat", "/srv/copied"]).as_deref() == Some("42"),
        || format!("exec did not run after the sync: {}", w.output()),
    );
    assert_eq!(pid(&env, &p, "app"), before, "sync+exec does not restart");
}

/// The `CapEff:` line of a process run by `exec` (with `extra` flags) in `svc`.
fn cap_eff(env: &Env, p: &str, svc: &str, extra: &[&str]) -> String {
    let mut a = vec!["-p", p, "exec", "-T"];
    a.extend_from_slice(extra);
    a.extend_from_slice(&[svc, "grep", "CapEff", "/proc/self/status"]);
    env.ok(&a).trim().to_string()
}

#[test]
fn rebuild_brings_up_no_dependency_prunes_the_old_image_and_is_quiet() {
    let Some((env, p)) = setup("watchnodeps") else {
        return;
    };
    write(&env, "ctx/f", "v1");
    write(
        &env,
        "ctx/Dockerfile",
        "FROM busybox:test\nCOPY f /f\nCMD [\"sleep\", \"3600\"]\n",
    );
    let image = format!("{p}-built:dev");
    env.write(
        "stack.yaml",
        &format!(
            r#"services:
  dep:
    image: busybox:test
    command: ["sleep", "3600"]
    stop_signal: SIGKILL
  built:
    build: ./ctx
    image: {image}
    depends_on: [dep]
    develop:
      watch:
        - path: ./ctx
          action: rebuild
"#
        ),
    );
    let w = Watching::start(&env, &["-p", &p, "-f", "stack.yaml", "watch", "--quiet"]);
    let built = pid(&env, &p, "built");
    let images = || -> Vec<serde_json::Value> {
        serde_json::from_str(&env.ok(&["image", "ls", "--format", "json"])).expect("image ls")
    };
    let id_of = |r: &str| {
        images()
            .iter()
            .find(|i| i["reference"] == r)
            .map(|i| i["id"].as_str().unwrap_or_default().to_string())
    };
    let old = id_of(&image).expect("the built image");
    // A rebuild must not bring its dependency back up.
    env.ok(&["-p", &p, "stop", "dep"]);
    env.wait_for(&p, "dep", 60, |r| r["state"] != "running");

    write(&env, "ctx/f", "v2");
    poll(
        120,
        || exec(&env, &p, "built", &["cat", "/f"]).as_deref() == Some("v2"),
        || format!("rebuild did not happen: {}", w.output()),
    );
    w.wait_output("successfully built", &env);
    assert_ne!(pid(&env, &p, "built"), built);
    let dep = env
        .ps_json(&p)
        .into_iter()
        .find(|r| r["service"] == "dep")
        .expect("dep");
    assert_ne!(dep["state"], "running", "the rebuild started a dependency");
    assert!(
        !images().iter().any(|i| i["id"] == old.as_str()),
        "the image the rebuild replaced was not pruned: {:?}",
        images()
    );
    assert!(
        !w.output().contains("COPY f /f"),
        "--quiet printed the build: {}",
        w.output()
    );
}

#[test]
fn up_no_deps_starts_only_the_named_service() {
    let Some((env, p)) = setup("upnodeps") else {
        return;
    };
    env.write(
        "stack.yaml",
        "services:\n  a:\n    image: busybox:test\n    command: [\"sleep\", \"3600\"]\n    stop_signal: SIGKILL\n  b:\n    image: busybox:test\n    command: [\"sleep\", \"3600\"]\n    stop_signal: SIGKILL\n    depends_on: [a]\n",
    );
    env.ok(&["-p", &p, "-f", "stack.yaml", "up", "-d", "--no-deps", "b"]);
    pid(&env, &p, "b");
    assert!(
        !env.ps_json(&p).iter().any(|r| r["service"] == "a"),
        "--no-deps created the dependency: {:?}",
        env.ps_json(&p)
    );
}

#[test]
fn sync_and_exec_reach_every_replica_and_exec_can_be_privileged() {
    let Some((env, p)) = setup("watchreplicas") else {
        return;
    };
    write(&env, "src/a.txt", "0");
    write(&env, "hook/h", "0");
    env.write(
        "stack.yaml",
        r#"services:
  app:
    image: busybox:test
    command: ["sleep", "3600"]
    stop_signal: SIGKILL
    scale: 2
    develop:
      watch:
        - path: ./src
          action: sync
          target: /srv
        - path: ./hook
          action: sync+exec
          target: /hook
          exec:
            privileged: true
            command: ["sh", "-c", "grep CapEff /proc/self/status > /hook/caps"]
"#,
    );
    let w = Watching::start(&env, &["-p", &p, "-f", "stack.yaml", "watch"]);
    env.wait_for(&p, "app", 60, |r| r["state"] == "running");
    let cat = |i: &str, f: &str| {
        let out = env
            .cmd(&["-p", &p, "exec", "-T", "--index", i, "app", "cat", f])
            .stderr(Stdio::null())
            .output()
            .expect("exec");
        out.status
            .success()
            .then(|| String::from_utf8_lossy(&out.stdout).trim().to_string())
    };
    write(&env, "src/a.txt", "synced");
    for i in ["1", "2"] {
        poll(
            30,
            || cat(i, "/srv/a.txt").as_deref() == Some("synced"),
            || format!("replica {i} did not get the sync: {}", w.output()),
        );
    }
    let plain = cap_eff(&env, &p, "app", &[]);
    let privileged = cap_eff(&env, &p, "app", &["--privileged"]);
    assert_ne!(plain, privileged, "exec --privileged adds capabilities");
    write(&env, "hook/h", "1");
    for i in ["1", "2"] {
        poll(
            30,
            || cat(i, "/hook/caps").as_deref() == Some(privileged.as_str()),
            || {
                format!(
                    "replica {i}: privileged exec did not run ({:?}, want {privileged}): {}",
                    cat(i, "/hook/caps"),
                    w.output()
                )
            },
        );
    }
}

#[test]
fn up_watch_streams_the_services_logs() {
    let Some((env, p)) = setup("watchlogs") else {
        return;
    };
    write(&env, "src/x", "0");
    env.write(
        "stack.yaml",
        r#"services:
  app:
    image: busybox:test
    command: ["sh", "-c", "echo hello-from-app; exec sleep 3600"]
    stop_signal: SIGKILL
    develop:
      watch:
        - path: ./src
          action: sync
          target: /srv
"#,
    );
    let w = Watching::start(&env, &["-p", &p, "-f", "stack.yaml", "up", "--watch"]);
    poll(
        60,
        || w.stdout().contains("hello-from-app"),
        || format!("no logs: out {:?} err {}", w.stdout(), w.output()),
    );
    write(&env, "src/x", "1");
    poll(
        30,
        || exec(&env, &p, "app", &["cat", "/srv/x"]).as_deref() == Some("1"),
        || format!("not synced while attached: {}", w.output()),
    );
}
