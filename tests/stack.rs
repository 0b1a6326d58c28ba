//! End-to-end: the real binary, an auto-started daemon, real containers (root only).

mod common;

use common::*;
use std::os::unix::process::CommandExt;
use std::time::Duration;

const BASE: &str = r#"
x-base: &base
  image: busybox:test
  init: true
  stop_grace_period: 1s
"#;

fn stack(project: &str, services: &str) -> String {
    format!("name: {project}\n{BASE}\nservices:\n{services}")
}

#[test]
fn up_ps_exec_logs_run_down_leave_nothing_behind() {
    let Some((env, p)) = setup("life") else {
        return;
    };
    env.write(
        "compose.yaml",
        &stack(
            &p,
            r#"
  db:
    <<: *base
    command: ["sh", "-c", "echo db starting; sleep 0.3; touch /tmp/ready; echo db ready; sleep 1000"]
    healthcheck:
      test: ["CMD", "test", "-f", "/tmp/ready"]
      start_period: 30s
      start_interval: 100ms
  api:
    <<: *base
    hostname: apihost
    command: ["sh", "-c", "echo api up; sleep 1000"]
    mem_limit: 64m
    pids_limit: 50
    depends_on:
      db:
        condition: service_healthy
"#,
        ),
    );
    env.ok(&["up", "-d"]);
    let rows = env.ps_json(&p);
    let db = env.service(&rows, "db");
    let api = env.service(&rows, "api");
    assert_eq!(
        db["health"], "healthy",
        "api started only after db was healthy: {rows:?}"
    );
    assert_eq!(api["state"], "running");
    assert!(api["health"].is_null());
    for key in [
        "name",
        "service",
        "state",
        "pid",
        "exit_code",
        "restarts",
        "image",
    ] {
        assert!(api.get(key).is_some(), "ps json lacks {key}");
    }

    // PID 1 inside (init: true puts rstack's init first), host processes invisible.
    let ps = env.ok(&["exec", "api", "ps", "-o", "pid,comm"]);
    let pids: Vec<&str> = ps.lines().skip(1).collect();
    assert!(
        pids.len() <= 4,
        "only the container's processes are visible: {ps}"
    );
    assert!(ps.lines().any(|l| l.trim_start().starts_with("1 ")), "{ps}");
    assert_eq!(env.ok(&["exec", "api", "hostname"]).trim(), "apihost");
    let own: u32 = env
        .ok(&["exec", "api", "sh", "-c", "echo $$"])
        .trim()
        .parse()
        .expect("pid");
    assert!(
        own < 10,
        "exec joins the container's pid namespace: pid {own}"
    );

    // Mounting is denied, capabilities are Docker's default set.
    let out = env.run(&["exec", "api", "mount", "-t", "tmpfs", "none", "/mnt"]);
    assert!(!out.status.success(), "mount must be denied");
    let caps = env.ok(&["exec", "api", "grep", "CapEff", "/proc/self/status"]);
    assert!(caps.contains("00000000a80425fb"), "{caps}");

    // Exit codes pass through exec and run.
    assert_eq!(
        env.run(&["exec", "api", "sh", "-c", "exit 7"])
            .status
            .code(),
        Some(7)
    );
    let five = env.run(&["run", "--rm", "api", "sh", "-c", "exit 5"]);
    assert_eq!(
        five.status.code(),
        Some(5),
        "run --rm: {}\ndaemon log: {}",
        String::from_utf8_lossy(&five.stderr),
        env.daemon_log()
    );
    assert_eq!(
        env.ok(&["run", "--rm", "api", "echo", "one-off"]).trim(),
        "one-off"
    );
    // A --rm one-off's writable layer is thrown away with it, so it is never synced
    // (overlayfs `volatile`); a service's is kept, and synced as usual.
    let root_mount = |args: &[&str]| {
        let info = env.ok(args);
        let root = info.lines().find(|l| l.split(' ').nth(4) == Some("/"));
        root.unwrap_or_default().to_string()
    };
    let oneoff = root_mount(&["run", "--rm", "api", "cat", "/proc/self/mountinfo"]);
    assert!(
        oneoff.contains(" - overlay ") && oneoff.contains("volatile"),
        "{oneoff}"
    );
    let kept = root_mount(&["exec", "api", "cat", "/proc/self/mountinfo"]);
    assert!(
        kept.contains(" - overlay ") && !kept.contains("volatile"),
        "{kept}"
    );
    // A client whose stdin is /dev/null gives the one-off /dev/null, not a FIFO.
    let fd0 = [
        "sh",
        "-c",
        "test -c /proc/self/fd/0 && echo char || echo other",
    ];
    let kind = env.ok(&[&["run", "--rm", "api"][..], &fd0[..]].concat());
    assert_eq!(kind.trim(), "char");
    // A one-off that cannot start says why on stderr, exits 1, and leaves nothing (--rm).
    let nope = env.run(&["run", "--rm", "api", "/no/such/program"]);
    let err = String::from_utf8_lossy(&nope.stderr);
    assert_eq!(nope.status.code(), Some(1), "{err}");
    assert!(
        err.starts_with("error: ") && err.contains("/no/such/program"),
        "{err}"
    );
    assert!(
        !env.ok(&["ps", "-a"]).contains("-run-"),
        "the failed one-off was removed"
    );

    // Logs are prefixed by service.
    let logs = env.ok(&["logs", "db"]);
    assert!(
        logs.contains("db ready") && logs.starts_with("db"),
        "{logs}"
    );
    let tail = env.ok(&["logs", "--tail", "1", "--no-log-prefix", "db"]);
    assert_eq!(tail.trim(), "db ready");

    // up again with no change keeps the processes.
    env.ok(&["up", "-d"]);
    assert_eq!(env.service(&env.ps_json(&p), "api")["pid"], api["pid"]);

    let ids: Vec<String> = rows
        .iter()
        .map(|r| r["id"].as_str().unwrap_or("").to_string())
        .collect();
    let pids: Vec<i64> = rows.iter().filter_map(|r| r["pid"].as_i64()).collect();
    env.ok(&["down"]);
    assert!(env.ps_json(&p).is_empty());
    for id in &ids {
        assert!(
            cgroup_dirs(id).is_empty(),
            "cgroups left for {id}: {:?}",
            cgroup_dirs(id)
        );
    }
    assert!(
        mounts_under(&env.data_root).is_empty(),
        "{:?}",
        mounts_under(&env.data_root)
    );
    for pid in pids {
        assert!(
            !std::path::Path::new(&format!("/proc/{pid}")).exists(),
            "process {pid} survived down"
        );
    }
    let left: Vec<_> = std::fs::read_dir(env.data_root.join("containers"))
        .map(|d| d.flatten().map(|e| e.path()).collect())
        .unwrap_or_default();
    assert!(left.is_empty(), "container state left: {left:?}");
}

#[test]
fn restart_policy_brings_back_a_killed_service_and_oom_is_reported() {
    let Some((env, p)) = setup("restart") else {
        return;
    };
    env.write(
        "compose.yaml",
        &stack(
            &p,
            r#"
  web:
    <<: *base
    command: ["sleep", "1000"]
    restart: always
  hog:
    <<: *base
    command: ["dd", "if=/dev/zero", "of=/dev/null", "bs=128M", "count=1"]
    mem_limit: 32m
  bomb:
    <<: *base
    pids_limit: 20
    command:
      - sh
      - -c
      - |
        sh -c 'i=0; while [ $$i -lt 60 ]; do sleep 30 & i=$$((i+1)); done' 2>/dev/null
        exec sleep 1000
"#,
        ),
    );
    env.ok(&["up", "-d"]);
    let web = env.wait_for(&p, "web", 10, |r| r["state"] == "running");
    let pid = web["pid"].as_i64().expect("pid") as i32;
    // SAFETY: killing the container process this test started.
    unsafe { libc::kill(pid, libc::SIGKILL) };
    let back = env.wait_for(&p, "web", 10, |r| {
        r["state"] == "running" && r["restarts"] == 1
    });
    assert_ne!(back["pid"].as_i64(), Some(pid as i64));

    let hog = env.wait_for(&p, "hog", 10, |r| r["state"] == "exited");
    assert_eq!(hog["oom_killed"], true, "{hog}");
    assert_eq!(hog["exit_code"], 137);
    let table = env.ok(&["-p", &p, "ps", "-a"]);
    assert!(table.contains("OOM killed"), "{table}");

    let bomb = env.wait_for(&p, "bomb", 10, |r| r["state"] == "running");
    let id = bomb["id"].as_str().expect("id");
    let pids_dir = cgroup_dirs(id)
        .into_iter()
        .find(|d| d.join("pids.max").exists())
        .expect("pids cgroup of the bomb");
    let read = |f: &str| std::fs::read_to_string(pids_dir.join(f)).unwrap_or_default();
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    while !read("pids.events")
        .lines()
        .any(|l| l.starts_with("max ") && l != "max 0")
    {
        assert!(
            std::time::Instant::now() < deadline,
            "the bomb never hit pids.max: {}",
            read("pids.events")
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    assert_eq!(read("pids.max").trim(), "20");
    let current: u32 = read("pids.current").trim().parse().expect("pids.current");
    assert!(
        current <= 20,
        "pids_limit holds the fork bomb: {current} processes"
    );
    assert_eq!(env.service(&env.ps_json(&p), "bomb")["state"], "running");
}

#[test]
fn stop_start_restart_kill_follow_the_stack() {
    let Some((env, p)) = setup("verbs") else {
        return;
    };
    env.write(
        "compose.yaml",
        &stack(
            &p,
            r#"
  a:
    <<: *base
    command: ["sleep", "1000"]
    restart: unless-stopped
  b:
    <<: *base
    command: ["sleep", "1000"]
    depends_on: [a]
"#,
        ),
    );
    env.ok(&["up", "-d"]);
    env.ok(&["stop"]);
    for s in ["a", "b"] {
        env.wait_for(&p, s, 5, |r| r["state"] == "exited");
    }
    env.ok(&["start"]);
    let a = env.wait_for(&p, "a", 5, |r| r["state"] == "running");
    env.ok(&["restart", "a"]);
    let a2 = env.wait_for(&p, "a", 5, |r| r["state"] == "running");
    assert_ne!(a["pid"], a2["pid"]);
    env.ok(&["kill", "b"]);
    let b = env.wait_for(&p, "b", 5, |r| r["state"] == "exited");
    assert_eq!(b["exit_code"], 137);
}

#[test]
fn bad_input_gets_clear_errors_and_starts_nothing() {
    let Some((env, p)) = setup("errors") else {
        return;
    };

    // Unknown image: names the service and the image; nothing starts.
    env.write(
        "compose.yaml",
        &stack(
            &p,
            "  ok:\n    <<: *base\n    command: [sleep, '100']\n  app:\n    image: nothere:1\n",
        ),
    );
    // `--pull never`: without it `up` would try to pull nothere:1 from docker.io.
    let out = env.run(&["up", "-d", "--pull", "never"]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        err.contains("service \"app\"") && err.contains("nothere:1"),
        "{err}"
    );
    assert!(env.ps_json(&p).is_empty(), "nothing started");

    // Invalid file: file:line:col, exit 1.
    env.write(
        "compose.yaml",
        &format!("name: {p}\nservices:\n  app:\n    image: busybox:test\n    mem_limit: 12x\n"),
    );
    let out = env.run(&["up", "-d"]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1));
    assert!(err.contains("compose.yaml:5:"), "{err}");

    // Cycle: names every service in it.
    env.write(
        "compose.yaml",
        &format!(
            "name: {p}\nservices:\n  a:\n    image: busybox:test\n    depends_on: [b]\n  b:\n    image: busybox:test\n    depends_on: [c]\n  c:\n    image: busybox:test\n    depends_on: [a]\n"
        ),
    );
    let out = env.run(&["up", "-d"]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        err.contains("cycle") && ["a", "b", "c"].iter().all(|s| err.contains(s)),
        "{err}"
    );

    // Image import of a non-archive.
    let junk = env.write("notes.txt", "just some text, not a tar\n");
    let out = env.run(&["image", "import", junk.to_str().expect("utf8"), "junk:1"]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1));
    assert!(err.contains("not an image archive"), "{err}");

    // Exec into a stopped service.
    env.write(
        "compose.yaml",
        &stack(&p, "  once:\n    <<: *base\n    command: ['true']\n"),
    );
    env.ok(&["up", "-d"]);
    env.wait_for(&p, "once", 5, |r| r["state"] == "exited");
    let out = env.run(&["exec", "once", "ls"]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1));
    assert!(err.contains("not running"), "{err}");

    // A second daemon on the same data root is refused; the first keeps answering.
    let out = env
        .cmd(&[
            "daemon",
            "--socket",
            env.dir.join("second.sock").to_str().expect("utf8"),
        ])
        .output()
        .expect("second daemon");
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        !out.status.success() && err.contains("already using data root"),
        "{err}"
    );
    env.ok(&["version"]);

    // A client without permission on the socket.
    let out = env
        .cmd(&["-p", &p, "ps"])
        .uid(65534)
        .gid(65534)
        .output()
        .expect("ps as nobody");
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1));
    assert!(err.contains("permission denied"), "{err}");
}

#[test]
fn containers_outlive_a_daemon_restart_and_stay_supervised() {
    let Some((env, p)) = setup("restartd") else {
        return;
    };
    env.write(
        "compose.yaml",
        &stack(
            &p,
            "  svc:\n    <<: *base\n    command: [sleep, '1000']\n    restart: always\n",
        ),
    );
    env.ok(&["up", "-d"]);
    let before = env.wait_for(&p, "svc", 5, |r| r["state"] == "running");
    env.stop_daemon(libc::SIGTERM);
    let pid = before["pid"].as_i64().expect("pid");
    assert!(
        std::path::Path::new(&format!("/proc/{pid}")).exists(),
        "container outlives the daemon"
    );

    // State a crash could leave without a record: the next daemon removes it at boot.
    let orphan = env.data_root.join("containers").join(format!("orphan-{p}"));
    std::fs::create_dir_all(orphan.join("upper")).expect("orphan dir");
    std::fs::write(orphan.join("shim.log"), "left by a crash\n").expect("orphan file");

    // `up` starts a new daemon, which adopts the running container instead of recreating it.
    env.ok(&["up", "-d"]);
    let after = env.wait_for(&p, "svc", 5, |r| r["state"] == "running");
    assert_eq!(after["pid"], before["pid"]);
    assert_eq!(after["id"], before["id"]);
    assert!(!orphan.exists(), "boot removes unrecorded container state");
    let kept = env
        .data_root
        .join("containers")
        .join(after["id"].as_str().expect("id"));
    assert!(kept.is_dir(), "and keeps the adopted container's");
    assert!(
        env.daemon_log().contains(&format!("orphan-{p}")),
        "{}",
        env.daemon_log()
    );

    // Still supervised: a kill -9 is noticed and the policy restarts it.
    // SAFETY: killing the container process this test started.
    unsafe { libc::kill(pid as i32, libc::SIGKILL) };
    env.wait_for(&p, "svc", 10, |r| {
        r["state"] == "running" && r["restarts"] == 1
    });
}

#[test]
fn foreground_up_streams_logs_and_ctrl_c_stops_the_stack() {
    let Some((env, p)) = setup("fg") else {
        return;
    };
    env.write(
        "compose.yaml",
        &stack(
            &p,
            "  talker:\n    <<: *base\n    command: [sh, -c, 'while true; do echo tick; sleep 0.2; done']\n",
        ),
    );
    let mut child = env
        .cmd(&["up"])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::null())
        .spawn()
        .expect("up");
    let stdout = child.stdout.take().expect("stdout");
    let reader = std::thread::spawn(move || {
        use std::io::BufRead;
        let mut lines = std::io::BufReader::new(stdout).lines();
        lines.next().and_then(|l| l.ok())
    });
    let first = reader.join().expect("reader");
    assert!(
        first
            .as_deref()
            .is_some_and(|l| l.contains("talker") && l.contains("tick")),
        "{first:?}"
    );
    // SAFETY: interrupting the CLI process this test started.
    unsafe { libc::kill(child.id() as i32, libc::SIGINT) };
    let status = child.wait().expect("wait");
    assert_eq!(status.code(), Some(130));
    let r = env.wait_for(&p, "talker", 5, |r| r["state"] == "exited");
    assert!(r["pid"].is_null());
}

#[test]
fn images_list_and_remove_refuses_images_in_use() {
    let Some((env, p)) = setup("img") else {
        return;
    };
    let list: serde_json::Value =
        serde_json::from_str(&env.ok(&["image", "ls", "--format", "json"])).expect("json");
    let refs: Vec<&str> = list
        .as_array()
        .expect("array")
        .iter()
        .filter_map(|i| i["reference"].as_str())
        .collect();
    assert!(refs.contains(&"busybox:test"), "{refs:?}");
    env.write(
        "compose.yaml",
        &stack(&p, "  s:\n    <<: *base\n    command: [sleep, '1000']\n"),
    );
    env.ok(&["up", "-d"]);
    let out = env.run(&["image", "rm", "busybox:test"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("is used by"),
        "in use"
    );
    env.ok(&["down"]);
    env.ok(&["image", "rm", "busybox:test"]);
    // `--pull never`: without it `up` would pull the missing image from docker.io.
    let out = env.run(&["up", "-d", "--pull", "never"]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("not present") && err.contains("rstack image import"),
        "{err}"
    );
}

#[test]
fn a_restarted_container_keeps_its_writable_layer() {
    let Some((env, p)) = setup("layer") else {
        return;
    };
    env.write(
        "compose.yaml",
        &stack(
            &p,
            r#"
  svc:
    <<: *base
    restart: on-failure
    command: ["sh", "-c", "if [ -f /state ]; then echo second run; sleep 1000; else touch /state; exit 1; fi"]
"#,
        ),
    );
    env.ok(&["up", "-d"]);
    env.wait_for(&p, "svc", 10, |r| {
        r["state"] == "running" && r["restarts"] == 1
    });
    let deadline = std::time::Instant::now() + Duration::from_secs(5);
    while !env.ok(&["logs", "svc"]).contains("second run") {
        assert!(
            std::time::Instant::now() < deadline,
            "file written before the restart is gone"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

#[test]
fn after_a_simulated_host_crash_the_daemon_restarts_services_in_dependency_order() {
    let Some((env, p)) = setup("boot") else {
        return;
    };
    env.write(
        "compose.yaml",
        &stack(
            &p,
            r#"
  db:
    <<: *base
    restart: always
    # The marker lives on a tmpfs: the writable layer survives the crash, and a marker
    # kept in it could pass the first probe of the next run before the command removed it.
    tmpfs: [/run]
    command: ["sh", "-c", "sleep 0.3; touch /run/ready; sleep 1000"]
    healthcheck:
      test: ["CMD", "test", "-f", "/run/ready"]
      start_interval: 50ms
  app:
    <<: *base
    restart: unless-stopped
    command: ["sleep", "1000"]
    depends_on:
      db:
        condition: service_healthy
  once:
    <<: *base
    restart: "no"
    command: ["sleep", "1000"]
"#,
        ),
    );
    env.ok(&["up", "-d"]);
    env.ok(&["exec", "app", "sh", "-c", "echo precious > /root/data.txt"]);
    let rows = env.ps_json(&p);
    // A crash of everything: daemon, shims, containers (SIGKILL, no teardown).
    env.stop_daemon(libc::SIGKILL);
    for r in &rows {
        let pid = r["pid"].as_i64().expect("running");
        if let Some(shim) = parent_of(pid) {
            // SAFETY: killing processes this test started, by pid.
            unsafe { libc::kill(shim, libc::SIGKILL) };
        }
        // SAFETY: as above.
        unsafe { libc::kill(pid as i32, libc::SIGKILL) };
    }
    std::thread::sleep(Duration::from_millis(300));
    let mut daemon = env.start_daemon();
    let db = env.wait_for(&p, "db", 10, |r| {
        r["state"] == "running" && r["health"] == "healthy"
    });
    let app = env.wait_for(&p, "app", 10, |r| r["state"] == "running");
    let once = env.wait_for(&p, "once", 10, |r| r["state"] == "exited");
    assert!(
        app["started_at"].as_u64() >= db["started_at"].as_u64().map(|t| t + 300),
        "app waits for db to be healthy again: {db} {app}"
    );
    assert_ne!(
        app["pid"],
        rows.iter().find(|r| r["service"] == "app").expect("app")["pid"]
    );
    assert!(
        once["pid"].is_null(),
        "restart: no stays down after the crash"
    );
    // The writable layer survived the crash.
    assert_eq!(
        env.ok(&["exec", "app", "cat", "/root/data.txt"]).trim(),
        "precious"
    );
    drop(env);
    let _ = daemon.wait();
}

#[test]
fn exec_passes_stdin_through() {
    let Some((env, p)) = setup("stdin") else {
        return;
    };
    env.write(
        "compose.yaml",
        &stack(&p, "  s:\n    <<: *base\n    command: [sleep, '1000']\n"),
    );
    env.ok(&["up", "-d"]);
    let mut child = env
        .cmd(&["exec", "s", "sh", "-c", "tr a-z A-Z; exit 3"])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .expect("exec");
    {
        use std::io::Write;
        let mut stdin = child.stdin.take().expect("stdin");
        stdin.write_all(b"hello from the host\n").expect("write");
    }
    let out = child.wait_with_output().expect("wait");
    assert_eq!(
        String::from_utf8_lossy(&out.stdout),
        "HELLO FROM THE HOST\n"
    );
    assert_eq!(out.status.code(), Some(3));
}

#[test]
fn attached_up_shows_one_shots_output_and_returns_when_all_have_exited() {
    let Some((env, p)) = setup("oneshot") else {
        return;
    };
    env.write(
        "compose.yaml",
        &stack(
            &p,
            r#"
  first:
    <<: *base
    command: ["echo", "first done"]
  second:
    <<: *base
    command: ["sh", "-c", "sleep 0.3; echo second done"]
    depends_on:
      first:
        condition: service_completed_successfully
"#,
        ),
    );
    let out = env.cmd(&["up"]).output().expect("up");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(0), "{stdout}");
    assert!(
        stdout.contains("first done") && stdout.contains("second done"),
        "{stdout}"
    );
}

#[test]
fn run_passes_stdin_and_output_through() {
    let Some((env, p)) = setup("runin") else {
        return;
    };
    env.write(
        "compose.yaml",
        &stack(&p, "  s:\n    <<: *base\n    command: [sleep, '1000']\n"),
    );
    let mut child = env
        .cmd(&[
            "run",
            "--rm",
            "s",
            "sh",
            "-c",
            "read line; echo got $line; echo oops >&2; exit 4",
        ])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("run");
    {
        use std::io::Write;
        let mut stdin = child.stdin.take().expect("stdin");
        stdin.write_all(b"ping\n").expect("write");
    }
    let out = child.wait_with_output().expect("wait");
    assert_eq!(String::from_utf8_lossy(&out.stdout), "got ping\n");
    assert!(String::from_utf8_lossy(&out.stderr).contains("oops"));
    assert_eq!(out.status.code(), Some(4));
    // With stdin at EOF at once, a reader sees EOF instead of hanging.
    let out = env
        .cmd(&["run", "--rm", "s", "sh", "-c", "cat; echo eof"])
        .output()
        .expect("run");
    assert_eq!(String::from_utf8_lossy(&out.stdout), "eof\n");
    assert!(
        env.ps_json(&p).is_empty(),
        "--rm removed the one-off containers"
    );
}

#[test]
fn up_wait_returns_once_services_are_healthy_and_awaited_one_shots_succeeded() {
    let Some((env, p)) = setup("wait") else {
        return;
    };
    env.write(
        "compose.yaml",
        &stack(
            &p,
            r#"
  init:
    <<: *base
    command: ["sh", "-c", "sleep 0.2; exit 0"]
  db:
    <<: *base
    command: ["sh", "-c", "sleep 0.4; touch /tmp/ready; sleep 1000"]
    healthcheck:
      test: ["CMD", "test", "-f", "/tmp/ready"]
      start_interval: 50ms
  app:
    <<: *base
    command: ["sleep", "1000"]
    depends_on:
      init:
        condition: service_completed_successfully
"#,
        ),
    );
    env.ok(&["up", "--wait"]);
    let rows = env.ps_json(&p);
    assert_eq!(env.service(&rows, "db")["health"], "healthy", "{rows:?}");
    assert_eq!(env.service(&rows, "init")["exit_code"], 0);
    assert_eq!(env.service(&rows, "app")["state"], "running");

    // A one-shot that fails makes --wait fail, naming it.
    env.write(
        "compose.yaml",
        &stack(
            &p,
            r#"
  init:
    <<: *base
    command: ["sh", "-c", "exit 3"]
  app:
    <<: *base
    command: ["sleep", "1000"]
    depends_on:
      init:
        condition: service_completed_successfully
"#,
        ),
    );
    let out = env.run(&["up", "--wait"]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        err.contains("init") && err.contains("exited with code 3"),
        "{err}"
    );
}

#[test]
fn run_rm_containers_are_removed_even_when_the_daemon_restarted_meanwhile() {
    let Some((env, p)) = setup("rmrestart") else {
        return;
    };
    env.write(
        "compose.yaml",
        &stack(&p, "  s:\n    <<: *base\n    command: [sleep, '1000']\n"),
    );
    let mut run = env
        .cmd(&["run", "--rm", "s", "sleep", "1"])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .expect("run");
    env.wait_for(&p, "s", 5, |r| r["state"] == "running");
    env.stop_daemon(libc::SIGTERM);
    let _ = run.wait();
    let mut daemon = env.start_daemon();
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    loop {
        let out = env.run(&["-p", &p, "ps", "-a", "--format", "json"]);
        if out.status.success() && String::from_utf8_lossy(&out.stdout).trim().is_empty() {
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "the --rm one-off was never removed"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    drop(env);
    let _ = daemon.wait();
}

#[test]
fn exec_and_run_on_a_terminal_get_a_tty_inside_the_container() {
    let Some((env, p)) = setup("tty") else {
        return;
    };
    assert!(
        std::path::Path::new("/usr/bin/script").exists(),
        "needs script(1): apt-get install bsdutils"
    );
    env.write(
        "compose.yaml",
        &stack(&p, "  s:\n    <<: *base\n    command: [sleep, '1000']\n"),
    );
    env.ok(&["up", "-d"]);
    // script(1) gives the CLI a terminal, as a user's shell would.
    let script = |cmd: &str| {
        std::process::Command::new("script")
            .args(["-qec", &format!("{} {cmd}", bin()), "/dev/null"])
            .current_dir(&env.work)
            .env("RSTACK_SOCKET", &env.socket)
            .env("RSTACK_DATA_ROOT", &env.data_root)
            .stdin(std::process::Stdio::null())
            .output()
            .expect("script")
    };
    let out = script("exec s sh -c 'tty; exit 5'");
    assert!(
        String::from_utf8_lossy(&out.stdout).contains("/dev/pts/"),
        "{out:?}"
    );
    assert_eq!(out.status.code(), Some(5));
    // run too: the one-off's own init gets a terminal from its devpts.
    let out = script("run --rm s sh -c 'tty; exit 6'");
    assert!(
        String::from_utf8_lossy(&out.stdout).contains("/dev/pts/0"),
        "{out:?}"
    );
    assert_eq!(out.status.code(), Some(6));
    // Typed input reaches the one-off through its terminal.
    let mut typed = std::process::Command::new("script")
        .args(["-qec", &format!("{} run --rm s sh", bin()), "/dev/null"])
        .current_dir(&env.work)
        .env("RSTACK_SOCKET", &env.socket)
        .env("RSTACK_DATA_ROOT", &env.data_root)
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .expect("script");
    {
        use std::io::Write;
        let mut stdin = typed.stdin.take().expect("stdin");
        stdin
            .write_all(b"echo typed-$((40+2))\nexit 3\n")
            .expect("type");
        std::thread::sleep(Duration::from_millis(500));
    }
    let out = typed.wait_with_output().expect("wait");
    assert!(
        String::from_utf8_lossy(&out.stdout).contains("typed-42"),
        "{out:?}"
    );
    assert_eq!(out.status.code(), Some(3));
    let out = script("run --rm -T s tty");
    assert!(
        String::from_utf8_lossy(&out.stdout).contains("not a tty"),
        "{out:?}"
    );
    // Without a terminal (or with -T) there is no TTY, as in compose.
    let out = script("exec -T s tty");
    assert!(
        String::from_utf8_lossy(&out.stdout).contains("not a tty"),
        "{out:?}"
    );
    let plain = env.run(&["exec", "s", "tty"]);
    assert!(String::from_utf8_lossy(&plain.stdout).contains("not a tty"));
}

/// Runs the CLI on a pseudo-terminal of our own (as a user's terminal emulator would), and
/// returns the master, to read its output, type and resize it.
fn on_terminal(env: &Env, args: &[&str]) -> (std::fs::File, std::process::Child) {
    use std::os::fd::AsRawFd;
    let size = libc::winsize {
        ws_row: 24,
        ws_col: 80,
        ws_xpixel: 0,
        ws_ypixel: 0,
    };
    let pty = nix::pty::openpty(Some(&size), None).expect("openpty");
    let slave = std::fs::File::from(pty.slave);
    let mut cmd = env.cmd(args);
    cmd.stdin(slave.try_clone().expect("dup"))
        .stdout(slave.try_clone().expect("dup"))
        .stderr(slave);
    // SAFETY: only async-signal-safe calls between fork and exec.
    unsafe {
        cmd.pre_exec(|| {
            // Own session, with the terminal as its controlling one: SIGWINCH reaches it.
            if libc::setsid() < 0 || libc::ioctl(0, libc::TIOCSCTTY, 0) < 0 {
                return Err(std::io::Error::last_os_error());
            }
            Ok(())
        });
    }
    let child = cmd.spawn().expect("spawn on a terminal");
    let master = std::fs::File::from(pty.master);
    // SAFETY: fcntl on our own descriptor.
    unsafe {
        let fd = master.as_raw_fd();
        libc::fcntl(
            fd,
            libc::F_SETFL,
            libc::fcntl(fd, libc::F_GETFL) | libc::O_NONBLOCK,
        );
    }
    (master, child)
}

/// Reads the terminal until `want` shows up (or fails after 10 s); returns all it read.
fn read_until(master: &mut std::fs::File, seen: &mut String, want: &str) {
    use std::io::Read;
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    while !seen.contains(want) {
        assert!(
            std::time::Instant::now() < deadline,
            "no {want:?} on the terminal; it shows: {seen:?}"
        );
        let mut buf = [0u8; 4096];
        match master.read(&mut buf) {
            Ok(n) if n > 0 => seen.push_str(&String::from_utf8_lossy(&buf[..n])),
            _ => std::thread::sleep(Duration::from_millis(20)),
        }
    }
}

#[test]
fn a_resized_terminal_reaches_exec_and_run() {
    use std::io::Write;
    use std::os::fd::AsRawFd;
    let Some((env, p)) = setup("resize") else {
        return;
    };
    env.write(
        "compose.yaml",
        &stack(&p, "  s:\n    <<: *base\n    command: [sleep, '1000']\n"),
    );
    env.ok(&["up", "-d"]);
    let probe = "echo size-$(stty size | tr ' ' x); read x; echo size-$(stty size | tr ' ' x)";
    for verb in [&["exec", "s"][..], &["run", "--rm", "s"][..]] {
        let args: Vec<&str> = verb.iter().copied().chain(["sh", "-c", probe]).collect();
        let (mut master, mut child) = on_terminal(&env, &args);
        let mut seen = String::new();
        read_until(&mut master, &mut seen, "size-24x80");
        let bigger = libc::winsize {
            ws_row: 30,
            ws_col: 100,
            ws_xpixel: 0,
            ws_ypixel: 0,
        };
        // SAFETY: TIOCSWINSZ on our master with a winsize; the kernel signals the CLI.
        unsafe { libc::ioctl(master.as_raw_fd(), libc::TIOCSWINSZ, &bigger) };
        std::thread::sleep(Duration::from_millis(300));
        master.write_all(b"go\r").expect("type");
        read_until(&mut master, &mut seen, "size-30x100");
        let status = child.wait().expect("wait");
        assert!(status.success(), "{verb:?}: {status:?}; terminal: {seen:?}");
    }
}

#[test]
fn a_profiled_service_named_on_the_command_line_starts_without_its_profile() {
    let Some((env, p)) = setup("targets") else {
        return;
    };
    env.write(
        "compose.yaml",
        &stack(
            &p,
            "  web:\n    <<: *base\n    command: [sleep, '1000']\n  admin:\n    <<: *base\n    profiles: [debug]\n    command: [sleep, '1000']\n",
        ),
    );
    env.ok(&["up", "-d"]);
    assert!(
        env.ps_json(&p).iter().all(|r| r["service"] != "admin"),
        "profile not active"
    );
    env.ok(&["up", "-d", "admin"]);
    env.wait_for(&p, "admin", 5, |r| r["state"] == "running");
    assert_eq!(env.ok(&["run", "--rm", "admin", "echo", "hi"]).trim(), "hi");
}

#[test]
fn probes_that_time_out_leave_no_process_in_the_container() {
    let Some((env, p)) = setup("probe") else {
        return;
    };
    env.write(
        "compose.yaml",
        &stack(
            &p,
            r#"
  s:
    <<: *base
    command: ["sleep", "1000"]
    healthcheck:
      test: ["CMD", "sleep", "100"]
      timeout: 200ms
      start_interval: 100ms
"#,
        ),
    );
    env.ok(&["up", "-d"]);
    std::thread::sleep(Duration::from_millis(1500));
    let ps = env.ok(&["exec", "s", "ps", "-o", "args"]);
    let stuck = ps.lines().filter(|l| l.trim() == "sleep 100").count();
    assert!(
        stuck <= 1,
        "timed-out probes must be killed, found {stuck}:\n{ps}"
    );
}

#[test]
fn a_probe_that_prints_turns_healthy() {
    let Some((env, p)) = setup("probeout") else {
        return;
    };
    // Each probe prints, one of them far more than a pipe holds (issue 13: the probe's
    // output pipes were closed before it ran, so every printing probe died of SIGPIPE).
    env.write(
        "compose.yaml",
        &stack(
            &p,
            r#"
  talk:
    <<: *base
    command: ["sleep", "1000"]
    healthcheck:
      test: ["CMD", "echo", "PONG"]
      start_interval: 50ms
  shout:
    <<: *base
    command: ["sleep", "1000"]
    healthcheck:
      test: ["CMD-SHELL", "seq 1 50000; seq 1 50000 >&2"]
      start_interval: 50ms
"#,
        ),
    );
    env.ok(&["up", "-d"]);
    for s in ["talk", "shout"] {
        env.wait_for(&p, s, 20, |r| r["health"] == "healthy");
    }
}
