//! `up`'s attached-mode flags as docker compose v2 has them: `--abort-on-container-exit`,
//! `--abort-on-container-failure`, `--exit-code-from`, `--attach`, `--no-attach`,
//! `--timestamps`, `--no-color`, `--quiet-pull`, `--wait-timeout`, and the combinations
//! compose refuses. The real binary, real containers (root only); each Env takes its project
//! down when dropped, even on failure.

mod common;

use common::*;
use std::process::{Output, Stdio};
use std::time::{Duration, Instant};

/// `long` runs until stopped (and prints once), `quick` prints and exits 5.
fn stack(project: &str) -> String {
    format!(
        r#"name: {project}
services:
  long:
    image: busybox:test
    init: true
    stop_grace_period: 1s
    command: ["sh", "-c", "echo from-long; exec sleep 1000"]
  quick:
    image: busybox:test
    command: ["sh", "-c", "echo from-quick; exit 5"]
    depends_on: [long]
"#
    )
}

/// Runs an attached `up`; one that never returns is killed after a minute (a hang guard, not a
/// timing check) and fails the test.
fn attached(env: &Env, args: &[&str]) -> Output {
    let mut all = vec!["up"];
    all.extend_from_slice(args);
    env.run_guarded(&format!("up {args:?}"), &all, 60)
}

fn text(out: &Output) -> (String, String) {
    (
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

fn state(env: &Env, p: &str, service: &str) -> String {
    env.state_of(p, service)
}

#[test]
fn abort_on_container_exit_stops_the_stack_with_the_first_exit_code() {
    let Some((env, p)) = setup("ufabort") else {
        return;
    };
    env.write("compose.yaml", &stack(&p));
    let out = attached(
        &env,
        &["--abort-on-container-exit", "--no-color", "--quiet-pull"],
    );
    let (stdout, stderr) = text(&out);
    assert_eq!(out.status.code(), Some(5), "{stdout}{stderr}");
    assert!(stdout.contains("quick-1 exited with code 5"), "{stdout}");
    assert!(stdout.contains("from-quick"), "{stdout}");
    assert!(stderr.contains("Aborting on container exit..."), "{stderr}");
    assert_eq!(state(&env, &p, "long"), "exited", "the stack is stopped");
}

#[test]
fn exit_code_from_returns_that_services_code() {
    let Some((env, p)) = setup("ufcode") else {
        return;
    };
    env.write("compose.yaml", &stack(&p));
    // quick's exit aborts; long is stopped by SIGTERM (its init passes it on): 143.
    let out = attached(&env, &["--exit-code-from", "long"]);
    let (stdout, stderr) = text(&out);
    assert_eq!(out.status.code(), Some(143), "{stdout}{stderr}");
    assert!(stdout.contains("long-1 exited with code 143"), "{stdout}");

    // An unknown service is refused before anything is made.
    env.ok(&["down"]);
    let out = env.run(&["up", "--exit-code-from", "nope"]);
    let (_, stderr) = text(&out);
    assert!(!out.status.success());
    assert!(stderr.contains("no such service: nope"), "{stderr}");
    let rows: Vec<_> = env.ps_json(&p);
    assert!(rows.is_empty(), "nothing created: {rows:?}");
}

#[test]
fn attach_and_no_attach_choose_whose_logs_are_shown() {
    let Some((env, p)) = setup("ufattach") else {
        return;
    };
    env.write("compose.yaml", &stack(&p));
    let out = attached(
        &env,
        &[
            "--abort-on-container-exit",
            "--attach",
            "quick",
            "--timestamps",
        ],
    );
    let (stdout, stderr) = text(&out);
    assert_eq!(out.status.code(), Some(5), "{stdout}{stderr}");
    let line = stdout
        .lines()
        .find(|l| l.contains("from-quick"))
        .unwrap_or_else(|| panic!("quick's line: {stdout}"));
    // `quick  | 2026-12-06T14:50:01.123456789Z from-quick`
    let stamp = line.split('|').nth(1).unwrap_or_default().trim();
    assert!(
        stamp.len() > 20 && stamp.as_bytes()[4] == b'-' && stamp.as_bytes()[10] == b'T',
        "timestamped: {line}"
    );
    assert!(
        !stdout.contains("from-long"),
        "long is not attached: {stdout}"
    );

    env.ok(&["down"]);
    let out = attached(&env, &["--abort-on-container-exit", "--no-attach", "long"]);
    let (stdout, stderr) = text(&out);
    assert_eq!(out.status.code(), Some(5), "{stdout}{stderr}");
    assert!(stdout.contains("from-quick"), "{stdout}");
    assert!(!stdout.contains("from-long"), "--no-attach long: {stdout}");
}

#[test]
fn refuses_what_compose_refuses() {
    let Some((env, p)) = setup("ufrefuse") else {
        return;
    };
    env.write("compose.yaml", &stack(&p));
    for (args, want) in [
        (
            &["-d", "--abort-on-container-exit"][..],
            "--detach cannot be combined with --abort-on-container-exit",
        ),
        (
            &["--wait", "--attach", "long"],
            "--wait cannot be combined with",
        ),
        (
            &["--abort-on-container-exit", "--abort-on-container-failure"],
            "--abort-on-container-failure cannot be combined with --abort-on-container-exit",
        ),
        (
            &["--attach", "nope"],
            "cannot attach to services not included in up: nope",
        ),
    ] {
        let mut all = vec!["up"];
        all.extend_from_slice(args);
        let out = env.run(&all);
        let (_, stderr) = text(&out);
        assert!(!out.status.success(), "{args:?}");
        assert!(stderr.contains(want), "{args:?}: {stderr}");
    }
    assert!(env.ps_json(&p).is_empty(), "nothing created");
}

#[test]
fn wait_timeout_gives_up_with_composes_message() {
    let Some((env, p)) = setup("ufwaitto") else {
        return;
    };
    env.write(
        "compose.yaml",
        &format!(
            r#"name: {p}
services:
  never:
    image: busybox:test
    init: true
    stop_grace_period: 1s
    command: ["sleep", "1000"]
    healthcheck:
      test: ["CMD", "false"]
      interval: 1h
      start_period: 1h
"#
        ),
    );
    let out = env.run(&["up", "--wait", "--wait-timeout", "1"]);
    let (stdout, stderr) = text(&out);
    assert!(!out.status.success(), "{stdout}{stderr}");
    assert!(
        stderr.contains("application not healthy after 1s"),
        "{stderr}"
    );
}

fn image_refs(env: &Env) -> Vec<String> {
    let list: serde_json::Value =
        serde_json::from_str(&env.ok(&["image", "ls", "--format", "json"])).expect("json");
    list.as_array()
        .expect("array")
        .iter()
        .filter_map(|i| i["reference"].as_str().map(str::to_string))
        .collect()
}

#[test]
fn down_rmi_removes_the_stacks_images_local_or_all() {
    let Some((env, p)) = setup("ufrmi") else {
        return;
    };
    env.write("Dockerfile", "FROM busybox:test\nLABEL made=here\n");
    env.write(
        "compose.yaml",
        &format!(
            r#"name: {p}
services:
  web:
    build: .
    init: true
    stop_grace_period: 1s
    command: ["sleep", "1000"]
  db:
    image: busybox:test
    init: true
    stop_grace_period: 1s
    command: ["sleep", "1000"]
"#
        ),
    );
    let built = format!("{p}-web");
    env.ok(&["up", "-d"]);
    assert!(image_refs(&env).iter().any(|r| r.starts_with(&built)));
    let out = env.run(&["down", "--rmi", "local"]);
    let (_, stderr) = text(&out);
    assert!(out.status.success(), "{stderr}");
    let refs = image_refs(&env);
    assert!(!refs.iter().any(|r| r.starts_with(&built)), "{refs:?}");
    assert!(
        refs.iter().any(|r| r == "busybox:test"),
        "tagged image kept: {refs:?}"
    );

    env.ok(&["up", "-d"]);
    let out = env.run(&["down", "--rmi", "all"]);
    let (_, stderr) = text(&out);
    assert!(out.status.success(), "{stderr}");
    let refs = image_refs(&env);
    assert!(
        !refs
            .iter()
            .any(|r| r.starts_with(&built) || r == "busybox:test"),
        "{refs:?}"
    );
    assert!(env.run(&["down", "--rmi", "bogus"]).status.code() == Some(2));
}

#[test]
fn down_remove_orphans_removes_services_gone_from_the_file() {
    let Some((env, p)) = setup("uforphan") else {
        return;
    };
    env.write("compose.yaml", &stack(&p));
    env.ok(&["up", "-d", "long"]);
    env.write(
        "compose.yaml",
        &format!("name: {p}\nservices:\n  other:\n    image: busybox:test\n"),
    );
    env.ok(&["down", "--remove-orphans"]);
    let out = env.ok(&["ps", "-a", "--format", "json"]);
    assert_eq!(out.trim(), "", "orphan removed");
}

/// Runs `logs ARGS` until its output holds `want` (a bounded wait for lines to land).
fn logs_until(env: &Env, args: &[&str], want: &str) -> String {
    let mut all = vec!["logs"];
    all.extend_from_slice(args);
    for _ in 0..300 {
        let out = env.ok(&all);
        if out.contains(want) {
            return out;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    panic!("logs {args:?} never showed {want:?}");
}

fn unix_now() -> String {
    let d = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("clock");
    format!("{}.{:09}", d.as_secs(), d.subsec_nanos())
}

#[test]
fn logs_since_and_until_cut_by_time_and_follow_ends_at_until() {
    let Some((env, p)) = setup("uflogtime") else {
        return;
    };
    env.write(
        "compose.yaml",
        &format!(
            r#"name: {p}
services:
  talk:
    image: busybox:test
    stop_grace_period: 1s
    command: ["sh", "-c", "echo line-one; while true; do if [ -f /tmp/go ]; then echo line-two; rm /tmp/go; fi; sleep 0.1; done"]
"#
        ),
    );
    env.ok(&["up", "-d"]);
    logs_until(&env, &[], "line-one");
    let between = unix_now();
    env.ok(&["exec", "talk", "touch", "/tmp/go"]);
    logs_until(&env, &[], "line-two");

    let since = env.ok(&["logs", "--since", &between]);
    assert!(
        since.contains("line-two") && !since.contains("line-one"),
        "{since}"
    );
    let until = env.ok(&["logs", "--until", &between]);
    assert!(
        until.contains("line-one") && !until.contains("line-two"),
        "{until}"
    );
    let both = env.ok(&["logs", "--since", "1h"]);
    assert!(
        both.contains("line-one") && both.contains("line-two"),
        "{both}"
    );
    let none = env.ok(&["logs", "--until", "1h"]);
    assert!(!none.contains("line-"), "{none}");
    let rfc = env.ok(&[
        "logs",
        "--since",
        "2000-01-01T00:00:00Z",
        "--until",
        &between,
    ]);
    assert!(
        rfc.contains("line-one") && !rfc.contains("line-two"),
        "{rfc}"
    );

    // -f with --until in the past: the backlog up to it, then the end (the container runs on).
    let out = {
        let mut child = env
            .cmd(&["logs", "-f", "--until", &between])
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("logs -f");
        let start = Instant::now();
        while child.try_wait().expect("try_wait").is_none() {
            if start.elapsed() > Duration::from_secs(60) {
                let _ = child.kill();
                panic!("logs -f --until never returned");
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        child.wait_with_output().expect("output")
    };
    let (stdout, stderr) = text(&out);
    assert!(out.status.success(), "{stderr}");
    assert!(
        stdout.contains("line-one") && !stdout.contains("line-two"),
        "{stdout}"
    );

    let bad = env.run(&["logs", "--since", "yesterday"]);
    assert!(!bad.status.success());
    assert!(
        text(&bad)
            .1
            .contains("invalid value \"yesterday\" for --since")
    );
}

#[test]
fn logs_index_shows_one_replica() {
    let Some((env, p)) = setup("uflogidx") else {
        return;
    };
    env.write(
        "compose.yaml",
        &format!(
            r#"name: {p}
services:
  rep:
    image: busybox:test
    stop_grace_period: 1s
    command: ["sh", "-c", "echo i-am-here; exec sleep 1000"]
"#
        ),
    );
    env.ok(&["up", "-d", "--scale", "rep=2"]);
    logs_until(&env, &["rep"], "rep-2");
    let all = logs_until(&env, &["rep"], "rep-1");
    assert!(all.contains("i-am-here"), "{all}");
    let one = env.ok(&["logs", "--index", "2", "rep"]);
    assert_eq!(one.matches("i-am-here").count(), 1, "{one}");
    assert!(one.contains("rep-2") && !one.contains("rep-1"), "{one}");
}

#[test]
fn renew_anon_volumes_gives_a_recreated_container_fresh_anonymous_volumes() {
    let Some((env, p)) = setup("ufrenew") else {
        return;
    };
    env.write(
        "compose.yaml",
        &format!(
            r#"name: {p}
services:
  keep:
    image: busybox:test
    init: true
    stop_grace_period: 1s
    command: ["sleep", "1000"]
    volumes: ["/anon"]
"#
        ),
    );
    env.ok(&["up", "-d"]);
    env.ok(&["exec", "keep", "touch", "/anon/mark"]);
    env.ok(&["up", "-d", "-V", "--force-recreate"]);
    let listed = env.ok(&["exec", "keep", "ls", "-A", "/anon"]);
    assert!(!listed.contains("mark"), "fresh anonymous volume: {listed}");
    let out = env.run(&["up", "-d", "--renew-anon-volumes", "--no-recreate"]);
    assert!(!out.status.success());
    assert!(
        text(&out)
            .1
            .contains("--no-recreate and --renew-anon-volumes are incompatible")
    );
}
