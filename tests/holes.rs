//! Issue 9's holes, each through the real binary: a private data root, a lost state
//! database, a killed shim, Docker's meaning of limits, the default PATH.

mod common;

use common::*;
use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

const BASE: &str = r#"
x-base: &base
  image: busybox:test
  stop_grace_period: 1s
"#;

fn stack(project: &str, services: &str) -> String {
    format!("name: {project}\n{BASE}\nservices:\n{services}")
}

fn mode(p: &Path) -> u32 {
    std::fs::metadata(p)
        .unwrap_or_else(|e| panic!("{}: {e}", p.display()))
        .permissions()
        .mode()
        & 0o7777
}

/// Runs `prog -u` from a shell of user nobody. Through a shell: `setpriv` itself keeps its
/// capabilities up to its own exec, so a path it execs directly is not checked as nobody's.
fn as_nobody(prog: &Path) -> std::process::Output {
    Command::new("setpriv")
        .args([
            "--reuid=65534",
            "--regid=65534",
            "--clear-groups",
            "/bin/sh",
            "-c",
        ])
        .arg(format!("exec '{}' -u", prog.display()))
        .output()
        .expect("setpriv")
}

#[test]
fn the_data_root_is_root_only_so_setuid_files_in_layers_are_out_of_reach() {
    let Some((env, p)) = setup("private") else {
        return;
    };
    env.write(
        "compose.yaml",
        &stack(
            &p,
            r#"
  s:
    <<: *base
    environment:
      SECRET: hunter2
    command: ["sh", "-c", "cp /bin/busybox /tmp/id && chmod 4755 /tmp/id && touch /tmp/done && sleep 1000"]
"#,
        ),
    );
    env.ok(&["up", "-d"]);
    let row = env.wait_for(&p, "s", 10, |r| r["state"] == "running");
    let id = row["id"].as_str().expect("id").to_string();
    let dir = env.data_root.join("containers").join(&id);
    let deadline = Instant::now() + Duration::from_secs(10);
    while !dir.join("upper/tmp/done").exists() {
        assert!(Instant::now() < deadline, "the setuid copy was never made");
        std::thread::sleep(Duration::from_millis(20));
    }
    let suid = dir.join("upper/tmp/id");
    assert_eq!(mode(&suid) & 0o4000, 0o4000, "a setuid file in the layer");
    assert_eq!(mode(&env.data_root), 0o700);
    for f in ["state.db", "state.db-wal"] {
        assert_eq!(mode(&env.data_root.join(f)), 0o600, "{f}");
    }
    assert_eq!(mode(&dir.join("config.json")), 0o600);
    // An ordinary local user can neither run the setuid file nor read the secret.
    let out = as_nobody(&suid);
    assert!(
        !out.status.success() && String::from_utf8_lossy(&out.stderr).contains("Permission denied"),
        "nobody reached the layer's setuid file: {out:?}"
    );
    let out = Command::new("setpriv")
        .args(["--reuid=65534", "--regid=65534", "--clear-groups", "cat"])
        .arg(dir.join("config.json"))
        .output()
        .expect("setpriv");
    assert!(!out.status.success(), "nobody read config.json: {out:?}");

    // An existing data root that is too open is fixed when the daemon starts.
    env.stop_daemon(libc::SIGTERM);
    std::fs::set_permissions(&env.data_root, std::fs::Permissions::from_mode(0o755))
        .expect("chmod");
    std::fs::set_permissions(
        env.data_root.join("state.db"),
        std::fs::Permissions::from_mode(0o644),
    )
    .expect("chmod");
    // The check above can fail: with the data root open, nobody does reach the file.
    let out = as_nobody(&suid);
    assert!(out.status.success(), "{out:?}");
    let mut daemon = env.start_daemon();
    assert_eq!(mode(&env.data_root), 0o700);
    assert!(!as_nobody(&suid).status.success());
    assert_eq!(mode(&env.data_root.join("state.db")), 0o600);
    env.ok(&["-p", &p, "down", "-t", "1"]);
    drop(env);
    let _ = daemon.wait();
}

#[test]
fn an_emptied_state_database_is_refused_and_no_container_is_swept() {
    let Some((env, p)) = setup("emptydb") else {
        return;
    };
    env.write(
        "compose.yaml",
        &stack(
            &p,
            "  s:\n    <<: *base\n    command: [\"sleep\", \"1000\"]\n",
        ),
    );
    env.ok(&["up", "-d"]);
    let row = env.wait_for(&p, "s", 10, |r| r["state"] == "running");
    let pid = row["pid"].as_i64().expect("pid") as i32;
    let dir = env
        .data_root
        .join("containers")
        .join(row["id"].as_str().expect("id"));
    env.stop_daemon(libc::SIGTERM);
    let db = env.data_root.join("state.db");
    let backup = env.dir.join("backup");
    std::fs::create_dir_all(&backup).expect("mkdir");
    for f in ["state.db", "state.db-wal", "state.db-shm"] {
        if env.data_root.join(f).exists() {
            std::fs::copy(env.data_root.join(f), backup.join(f)).expect("backup");
        }
        if f != "state.db" {
            let _ = std::fs::remove_file(env.data_root.join(f));
        }
    }
    std::fs::write(&db, b"").expect("truncate");

    let (st, msg) = env.daemon_refusal();
    assert!(
        st.is_some_and(|s| !s.success()),
        "a daemon started on an emptied database: {msg}"
    );
    assert!(
        msg.contains("state database") && msg.contains("is empty") && msg.contains("1 container"),
        "{msg}"
    );
    assert!(alive(pid), "the container was stopped");
    assert!(dir.join("upper").exists(), "the writable layer was removed");
    assert_eq!(
        std::fs::metadata(&db).expect("db").len(),
        0,
        "the database was rewritten"
    );

    // Restored, the daemon adopts the container again.
    for f in ["state.db", "state.db-wal", "state.db-shm"] {
        if backup.join(f).exists() {
            std::fs::copy(backup.join(f), env.data_root.join(f)).expect("restore");
        }
    }
    let mut daemon = env.start_daemon();
    let again = env.wait_for(&p, "s", 10, |r| r["state"] == "running");
    assert_eq!(again["pid"].as_i64(), Some(i64::from(pid)));
    env.ok(&["-p", &p, "down", "-t", "1"]);
    drop(env);
    let _ = daemon.wait();
}

#[test]
fn a_killed_shim_takes_its_container_with_it_before_the_restart() {
    let Some((env, p)) = setup("shimkill") else {
        return;
    };
    env.write(
        "compose.yaml",
        &stack(
            &p,
            r#"
  plain:
    <<: *base
    restart: always
    command: ["sleep", "1000"]
  withinit:
    <<: *base
    init: true
    restart: always
    command: ["sh", "-c", "sleep 1000 & sleep 1000"]
"#,
        ),
    );
    env.ok(&["up", "-d"]);
    for svc in ["plain", "withinit"] {
        let row = env.wait_for(&p, svc, 10, |r| r["state"] == "running");
        let pid = row["pid"].as_i64().expect("pid");
        let id = row["id"].as_str().expect("id").to_string();
        let shim = parent_of(pid).expect("the shim");
        let old_run: Vec<i32> = cgroup_dirs(&id)
            .iter()
            .flat_map(|d| {
                std::fs::read_to_string(d.join("cgroup.procs"))
                    .unwrap_or_default()
                    .lines()
                    .filter_map(|l| l.trim().parse::<i32>().ok())
                    .collect::<Vec<_>>()
            })
            .collect();
        assert!(old_run.contains(&(pid as i32)), "{svc}: {old_run:?}");
        // SAFETY: killing the shim this test's daemon started, by its pid.
        unsafe { libc::kill(shim, libc::SIGKILL) };
        let back = env.wait_for(&p, svc, 10, |r| {
            r["state"] == "running" && r["restarts"] == 1
        });
        assert_ne!(back["pid"].as_i64(), Some(pid), "{svc}");
        // Nothing of the first run outlives it: not its init, not its children.
        for old in &old_run {
            assert!(
                !alive(*old),
                "{svc}: process {old} of the killed run lives on"
            );
        }
        let overlays = std::fs::read_to_string("/proc/self/mountinfo")
            .unwrap_or_default()
            .lines()
            .filter(|l| l.contains(&format!("{id}/upper")))
            .count();
        assert!(overlays <= 1, "{svc}: {overlays} overlays on one upper");
    }
}

#[test]
fn limits_mean_what_docker_means() {
    let Some((env, p)) = setup("limits") else {
        return;
    };
    env.write(
        "compose.yaml",
        &stack(
            &p,
            r#"
  nolimit:
    <<: *base
    mem_limit: 0
    cpus: 0
    command: ["sh", "-c", "echo ran"]
"#,
        ),
    );
    env.ok(&["up", "-d"]);
    let row = env.wait_for(&p, "nolimit", 10, |r| r["state"] == "exited");
    assert_eq!(row["exit_code"], 0, "{row}");
    assert_eq!(row["oom_killed"], false, "{row}");

    for (key, value, want) in [
        ("mem_limit", "1m", "below the minimum memory limit of 6MB"),
        ("mem_limit", "100k", "below the minimum memory limit of 6MB"),
        ("cpus", "1e30", "the range of CPUs is from 0.01 to"),
        ("cpus", "0.001", "the range of CPUs is from 0.01 to"),
    ] {
        env.write(
            "bad.yaml",
            &format!(
                "name: {p}bad\nservices:\n  s:\n    image: busybox:test\n    {key}: {value}\n"
            ),
        );
        for verb in [
            &["-f", "bad.yaml", "up", "-d"][..],
            &["-f", "bad.yaml", "validate"][..],
        ] {
            let out = env.run(verb);
            let err = String::from_utf8_lossy(&out.stderr);
            assert!(!out.status.success(), "{key}: {value} accepted by {verb:?}");
            assert!(err.contains(want), "{key}: {value}: {err}");
            assert!(
                err.contains("bad.yaml:5:"),
                "{key}: no file:line:col: {err}"
            );
        }
    }
}

#[test]
fn an_image_without_a_config_gets_dockers_default_path() {
    let Some((env, p)) = setup("path") else {
        return;
    };
    // busybox:test is a plain rootfs tar: it has no image config at all.
    env.write(
        "compose.yaml",
        &stack(
            &p,
            "  s:\n    <<: *base\n    command: [sleep, \"0\"]\n  e:\n    <<: *base\n    command: [env]\n",
        ),
    );
    env.ok(&["up", "-d"]);
    let s = env.wait_for(&p, "s", 10, |r| r["state"] == "exited");
    assert_eq!(s["exit_code"], 0, "{s}");
    env.wait_for(&p, "e", 10, |r| r["state"] == "exited");
    let logs = env.ok(&["-p", &p, "logs", "--no-log-prefix", "e"]);
    assert!(
        logs.contains("PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"),
        "{logs}"
    );
    let out = env.ok(&["-p", &p, "run", "--rm", "-T", "s", "sleep", "0"]);
    assert!(out.is_empty(), "{out}");
}
