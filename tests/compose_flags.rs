//! docker compose v2's flags that rstack lacked (issue 13's audit against compose 2.40.3),
//! each doing what compose does: `--project-directory`, `--ansi`, `--progress`, `ps --filter
//! status=`, `ls --filter name=`, `stats -a`, `cp --all`, `events --since/--until`, `logs
//! --no-color`, `up -t/--no-log-prefix/--quiet-build/-y/--menu`, `create --quiet-pull/-y`;
//! a closed stdout pipe ends a command quietly (no panic); `port`/`--index` find a service
//! with `container_name`. The real binary; real containers for the root tests, taken down
//! when the Env drops, even on failure.

mod common;

use common::*;
use std::os::unix::process::ExitStatusExt;
use std::process::{Output, Stdio};
use std::time::{Duration, Instant};

fn text(out: &Output) -> (String, String) {
    (
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn project_directory_is_the_projects_dir_for_env_paths_and_name() {
    let env = Env::new("cf-pd");
    let x = env.work.join("projx");
    let other = env.work.join("other");
    std::fs::create_dir_all(&x).unwrap();
    std::fs::create_dir_all(&other).unwrap();
    let file = "services:\n  a:\n    image: busybox\n    environment:\n      V: ${FOO:-unset}\n    volumes:\n      - ./data:/data\n";
    std::fs::write(x.join(".env"), "FOO=fromx\n").unwrap();
    std::fs::write(x.join("compose.yaml"), file).unwrap();
    std::fs::write(other.join("c.yaml"), file).unwrap();
    let data = format!("source: {}/data", x.display());
    // Without -f the file is looked up there; with -f (relative to the working directory)
    // the project is still the directory's, as compose 2.40.3 prints both.
    for args in [
        vec!["--project-directory", "projx", "config"],
        vec![
            "--project-directory",
            "projx",
            "-f",
            "other/c.yaml",
            "config",
        ],
    ] {
        let out = env.ok(&args);
        assert!(out.contains("name: projx"), "{args:?}: {out}");
        assert!(out.contains("V: fromx"), "{args:?}: {out}");
        assert!(out.contains(&data), "{args:?}: {out}");
    }
}

#[test]
fn ansi_and_progress_take_composes_values_only() {
    let env = Env::new("cf-ansi");
    env.write("compose.yaml", "services:\n  a:\n    image: busybox\n");
    for args in [
        ["--ansi", "never"],
        ["--ansi", "always"],
        ["--progress", "plain"],
        ["--progress", "quiet"],
        ["--progress", "json"],
    ] {
        let mut all = args.to_vec();
        all.push("config");
        env.ok(&all);
    }
    for args in [["--ansi", "sometimes"], ["--progress", "fancy"]] {
        let mut all = args.to_vec();
        all.push("config");
        let out = env.run(&all);
        assert_eq!(out.status.code(), Some(2), "{all:?} accepted");
    }
}

/// Runs rstack with a stdout pipe whose reader is already gone, as `rstack X | head` once
/// head has exited: the command must end without a panic or error message; one that fails
/// to print dies of SIGPIPE, as docker compose (a Go program) does.
fn closed_stdout(env: &Env, args: &[&str]) {
    let (reader, writer) = std::io::pipe().expect("pipe");
    drop(reader);
    let out = env
        .cmd(args)
        .stdout(Stdio::from(writer))
        .stderr(Stdio::piped())
        .output()
        .expect("run rstack");
    let (_, err) = text(&out);
    assert!(
        !err.contains("panicked") && !err.contains("Broken pipe"),
        "rstack {args:?}: {err}"
    );
    // Killed by SIGPIPE (a print failed) or done (nothing it wrote noticed the pipe).
    assert!(
        out.status.signal() == Some(libc::SIGPIPE) || out.status.success(),
        "rstack {args:?}: {:?} {err}",
        out.status
    );
}

#[test]
fn config_into_a_closed_pipe_ends_quietly() {
    let env = Env::new("cf-pipe");
    env.write("compose.yaml", "services:\n  a:\n    image: busybox\n");
    closed_stdout(&env, &["config"]);
}

fn stack(p: &str) -> String {
    format!(
        r#"name: {p}
services:
  named:
    image: busybox:test
    container_name: {p}-custom
    command: ["sh", "-c", "echo hello-named; exec sleep 1000"]
    ports: ["127.0.0.1::80"]
  once:
    image: busybox:test
    command: ["sh", "-c", "echo from-once; exit 3"]
  tool:
    image: busybox:test
    profiles: [tools]
    command: ["true"]
"#
    )
}

#[test]
fn closed_pipes_port_index_and_the_listing_flags() {
    let Some((env, p)) = setup("cf-main") else {
        return;
    };
    env.write("compose.yaml", &stack(&p));
    // create's flags, then up's (compose's scripts pass them).
    env.ok(&["-p", &p, "create", "--quiet-pull", "-y"]);
    env.ok(&[
        "-p",
        &p,
        "up",
        "-d",
        "-y",
        "--quiet-build",
        "--menu=false",
        "--no-log-prefix",
        "-t",
        "1",
    ]);
    env.wait_for(&p, "named", 30, |r| r["state"] == "running");
    env.wait_for(&p, "once", 30, |r| r["state"] == "exited");

    // Closed stdout: no panic for any command.
    for args in [
        vec!["-p", &p, "ps"],
        vec!["-p", &p, "top", "named"],
        vec!["-p", &p, "logs"],
        vec!["-p", &p, "images"],
    ] {
        closed_stdout(&env, &args);
    }

    // `port` and the --index lookups find the container_name container as replica 1.
    for args in [
        vec!["-p", &p, "port", "named", "80"],
        vec!["-p", &p, "port", "--index", "1", "named", "80"],
    ] {
        let out = env.ok(&args);
        assert!(out.trim().starts_with("127.0.0.1:"), "{args:?}: {out}");
    }
    env.ok(&["-p", &p, "exec", "-T", "--index", "1", "named", "true"]);
    let logs = env.ok(&["-p", &p, "logs", "--index", "1", "named"]);
    assert!(logs.contains("hello-named"), "{logs}");
    let dest = env.work.join("hostname-copy");
    env.ok(&[
        "-p",
        &p,
        "cp",
        "--index",
        "1",
        "named:/etc/passwd",
        dest.to_str().unwrap(),
    ]);
    assert!(dest.exists());

    // ps --filter status=: compose shows stopped ones without -a.
    let exited = env.ok(&["-p", &p, "ps", "-q", "--filter", "status=exited"]);
    assert!(
        exited.contains("once") && !exited.contains("custom"),
        "{exited}"
    );
    let running = env.ok(&["-p", &p, "ps", "-q", "--filter", "status=running"]);
    assert!(
        running.contains("custom") && !running.contains("once"),
        "{running}"
    );
    let bad = env.run(&["-p", &p, "ps", "--filter", "status=sleepy"]);
    assert!(!bad.status.success());

    // ls --filter name=.
    let ls = env.ok(&["ls", "-q", "--filter", &format!("name={p}")]);
    assert_eq!(ls.trim(), p);
    let none = env.ok(&["ls", "-q", "--filter", "name=no-such-project-zz"]);
    assert!(none.trim().is_empty(), "{none}");

    // stats -a: the exited container too.
    let stats = env.ok(&["-p", &p, "stats", "--no-stream", "--format", "json"]);
    assert!(!stats.contains("-once-"), "{stats}");
    let stats = env.ok(&["-p", &p, "stats", "-a", "--no-stream", "--format", "json"]);
    assert!(
        stats.contains("-once-") && stats.contains("custom"),
        "{stats}"
    );

    // logs colours: --ansi always colours, --no-color (or --ansi never) does not.
    let coloured = env.ok(&["-p", &p, "--ansi", "always", "logs", "named"]);
    assert!(coloured.contains("\x1b["), "{coloured:?}");
    for args in [
        vec!["-p", &p, "--ansi", "always", "logs", "--no-color", "named"],
        vec!["-p", &p, "--ansi", "never", "logs", "named"],
    ] {
        let plain = env.ok(&args);
        assert!(
            plain.contains("hello-named") && !plain.contains("\x1b["),
            "{args:?}: {plain:?}"
        );
    }

    // events: --since replays the known starts and exits; an --until now ends at once.
    let ev = env.ok(&["-p", &p, "events", "--since", "1h", "--until", "0s"]);
    assert!(ev.contains("container start"), "{ev}");
    assert!(
        ev.contains("container die") && ev.contains("exitCode=3"),
        "{ev}"
    );
    let ev = env.ok(&["-p", &p, "events", "--json", "--until", "0s"]);
    assert!(ev.trim().is_empty(), "{ev}");

    // cp --all: a service with only a `run` container.
    env.ok(&[
        "-p",
        &p,
        "run",
        "-T",
        "tool",
        "sh",
        "-c",
        "echo from-run > /made",
    ]);
    let made = env.work.join("made");
    let without = env.run(&["-p", &p, "cp", "tool:/made", made.to_str().unwrap()]);
    assert!(!without.status.success(), "{:?}", text(&without));
    env.ok(&[
        "-p",
        &p,
        "cp",
        "--all",
        "tool:/made",
        made.to_str().unwrap(),
    ]);
    assert_eq!(std::fs::read_to_string(&made).unwrap(), "from-run\n");
}

/// Attached `up -t 1 --abort-on-container-exit`: the container that ignores SIGTERM (a
/// shell as pid 1, stop_grace_period 300s) is killed after one second, not five minutes;
/// `--no-log-prefix` leaves the lines bare. (The minute is a hang guard, not a timing check.)
#[test]
fn up_timeout_bounds_the_aborting_stop() {
    let Some((env, p)) = setup("cf-upt") else {
        return;
    };
    env.write(
        "compose.yaml",
        &format!(
            r#"name: {p}
services:
  stubborn:
    image: busybox:test
    stop_grace_period: 300s
    command: ["sh", "-c", "echo stubborn-up; exec sleep 1000"]
  quick:
    image: busybox:test
    depends_on: [stubborn]
    command: ["sh", "-c", "sleep 1; echo quick-done"]
"#
        ),
    );
    let mut child = env
        .cmd(&[
            "-p",
            &p,
            "up",
            "-t",
            "1",
            "--no-log-prefix",
            "--abort-on-container-exit",
        ])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn up");
    let start = Instant::now();
    while child.try_wait().expect("try_wait").is_none() {
        if start.elapsed() > Duration::from_secs(60) {
            let _ = child.kill();
            let out = child.wait_with_output().expect("output");
            panic!("up -t 1 never returned: {:?}", text(&out));
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    let out = child.wait_with_output().expect("output");
    let (stdout, _) = text(&out);
    assert!(
        stdout.lines().any(|l| l == "quick-done"),
        "a bare line: {stdout}"
    );
}

/// `up -d -t 1` recreating a running container that ignores SIGTERM (stop_grace_period
/// 300s): the old one is killed after a second. (The minute is a hang guard.)
#[test]
fn up_timeout_bounds_the_recreate_stop() {
    let Some((env, p)) = setup("cf-upr") else {
        return;
    };
    let file = |v: &str| {
        format!(
            "name: {p}\nservices:\n  stubborn:\n    image: busybox:test\n    stop_grace_period: 300s\n    environment: {{V: \"{v}\"}}\n    command: [\"sleep\", \"1000\"]\n"
        )
    };
    env.write("compose.yaml", &file("1"));
    env.ok(&["-p", &p, "up", "-d"]);
    env.wait_for(&p, "stubborn", 30, |r| r["state"] == "running");
    env.write("compose.yaml", &file("2"));
    let mut child = env
        .cmd(&["-p", &p, "up", "-d", "-t", "1"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn up");
    let start = Instant::now();
    while child.try_wait().expect("try_wait").is_none() {
        if start.elapsed() > Duration::from_secs(60) {
            let _ = child.kill();
            let out = child.wait_with_output().expect("output");
            panic!("up -d -t 1 never returned: {:?}", text(&out));
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    let out = child.wait_with_output().expect("output");
    let (_, err) = text(&out);
    assert!(out.status.success(), "{err}");
    assert!(err.contains("Recreated"), "{err}");
}
