//! Issue 13's health probes through the real binary: what probes print and exit with is
//! kept (the last 5, shown by `inspect`; `ps` says why a container is unhealthy), probes run
//! as the container's user, in its workdir, with its environment, a probe that overruns its
//! timeout is killed with what it started, and a service_healthy dependency that exited is
//! reported as exited (compose's TestUpWithDependencyExit).

mod common;

use common::*;
use serde_json::Value;

fn inspect(env: &Env, p: &str, target: &str) -> Vec<Value> {
    let out = env.ok(&["-p", p, "inspect", target]);
    serde_json::from_str(&out).unwrap_or_else(|e| panic!("inspect json: {e}\n{out}"))
}

/// Polls `inspect` until `check` holds for the container (panics after `secs`).
fn wait_inspect(env: &Env, p: &str, target: &str, secs: u64, check: impl Fn(&Value) -> bool) {
    poll_for(secs, 100, || {
        let c = inspect(env, p, target);
        if c.first().is_some_and(&check) {
            return Ok(());
        }
        Err(format!(
            "timed out waiting on {target}: {c:?}\ndaemon log: {}",
            env.daemon_log()
        ))
    });
}

#[test]
fn probe_output_and_exit_codes_are_kept_and_shown() {
    let Some((mut env, p)) = setup("hlog") else {
        return;
    };
    let _ = &mut env;
    env.write(
        "compose.yaml",
        &format!(
            r#"name: {p}
services:
  sick:
    image: busybox:test
    command: ["sleep", "1000"]
    healthcheck:
      test: "echo out; echo err >&2; exit 1"
      interval: 200ms
      start_interval: 100ms
      retries: 2
  fine:
    image: busybox:test
    command: ["sleep", "1000"]
    user: nobody
    working_dir: /tmp
    environment: [FOO=bar]
    healthcheck:
      test: ["CMD-SHELL", "[ \"$$FOO\" = bar ] && [ \"$$(pwd)\" = /tmp ] && [ \"$$(id -un)\" = nobody ] && echo fine"]
      start_interval: 100ms
"#
        ),
    );
    env.ok(&["up", "-d"]);

    // Probes run with the container's environment, workdir and user.
    env.wait_for(&p, "fine", 30, |r| r["health"] == "healthy");
    let fine = inspect(&env, &p, "fine");
    assert_eq!(fine[0]["State"]["Health"]["Log"][0]["Output"], "fine\n");

    // More than 5 probes have failed: the last 5 are kept, output and exit code each.
    wait_inspect(&env, &p, "sick", 30, |c| {
        c["State"]["Health"]["FailingStreak"].as_u64() >= Some(7)
    });
    let sick = inspect(&env, &p, &format!("{p}-sick-1"));
    assert_eq!(sick.len(), 1, "by container name: {sick:?}");
    let health = &sick[0]["State"]["Health"];
    assert_eq!(health["Status"], "unhealthy");
    let log = health["Log"].as_array().expect("Log");
    assert_eq!(log.len(), 5, "{health}");
    for entry in log {
        assert_eq!(entry["ExitCode"], 1, "{entry}");
        assert_eq!(entry["Output"], "out\nerr\n", "{entry}");
        assert!(entry["Start"].as_str().is_some_and(|s| s.ends_with('Z')));
        assert!(entry["End"].as_str() >= entry["Start"].as_str(), "{entry}");
    }
    assert_eq!(
        sick[0]["Config"]["Healthcheck"]["Test"],
        serde_json::json!(["CMD-SHELL", "echo out; echo err >&2; exit 1"])
    );

    // `ps` says why: the last line the failing probe printed.
    let rows = env.ps_json(&p);
    assert_eq!(env.service(&rows, "sick")["health_output"], "err");
    assert!(env.service(&rows, "fine").get("health_output").is_none());
    let table = env.ok(&["-p", &p, "ps"]);
    assert!(table.contains("(unhealthy: err)"), "{table}");

    // Something that is neither a container nor a service: a clear error.
    let out = env.run(&["-p", &p, "inspect", "nosuch"]);
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("no container or service named \"nosuch\""),
        "{err}"
    );
}

/// The processes in a container whose command line is exactly `args`.
fn processes(env: &Env, p: &str, service: &str, args: &str) -> Vec<String> {
    env.ok(&["-p", p, "exec", "-T", service, "ps", "-o", "pid,args"])
        .lines()
        .filter(|l| l.split_whitespace().skip(1).collect::<Vec<_>>().join(" ") == args)
        .map(str::to_string)
        .collect()
}

#[test]
fn a_probe_that_overruns_its_timeout_is_killed_with_its_children() {
    let Some((env, p)) = setup("htimeout") else {
        return;
    };
    // One probe (the next one is an hour away): it starts a background sleep and overruns
    // its 1 s timeout.
    env.write(
        "compose.yaml",
        &format!(
            r#"name: {p}
services:
  slow:
    image: busybox:test
    command: ["sleep", "1000"]
    healthcheck:
      test: ["CMD", "sh", "-c", "sleep 100 & sleep 100"]
      timeout: 1s
      interval: 1h
      start_interval: 1h
"#
        ),
    );
    env.ok(&["up", "-d"]);
    wait_inspect(&env, &p, "slow", 30, |c| {
        c["State"]["Health"]["Log"]
            .as_array()
            .is_some_and(|l| !l.is_empty())
    });
    let c = inspect(&env, &p, "slow");
    let entry = &c[0]["State"]["Health"]["Log"][0];
    assert_eq!(entry["ExitCode"], -1, "{entry}");
    assert!(
        entry["Output"]
            .as_str()
            .is_some_and(|o| o.contains("Health check exceeded timeout (1s)")),
        "{entry}"
    );
    // Killed, children included: no `sleep 100` stays behind in the container (SIGKILL
    // takes effect asynchronously, so give it a moment).
    poll_for(10, 100, || {
        let left = processes(&env, &p, "slow", "sleep 100");
        if left.is_empty() {
            return Ok(());
        }
        Err(format!(
            "the probe's processes outlived its timeout: {left:?}"
        ))
    });
}

/// compose's TestUpWithDependencyExit.
#[test]
fn a_healthy_dependency_that_exits_is_reported_with_its_exit_code() {
    let Some((env, p)) = setup("hdepexit") else {
        return;
    };
    env.write(
        "compose.yaml",
        &format!(
            r#"name: {p}
services:
  web:
    image: busybox:test
    init: true
    command: ["sleep", "1000"]
    depends_on:
      db:
        condition: service_healthy
  db:
    image: busybox:test
    command: sh -c "exit 1"
"#
        ),
    );
    let out = env.run(&["up", "-d"]);
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains(&format!(
            "dependency failed to start: container {p}-db-1 exited (1)"
        )),
        "{err}"
    );
    assert!(!err.contains("has no healthcheck"), "{err}");
    // As compose, the dependent is left created; `down` removes it.
    let rows = env.ps_json(&p);
    assert_eq!(env.service(&rows, "web")["state"], "created", "{rows:?}");
    env.ok(&["-p", &p, "down"]);
    assert!(env.ps_json(&p).is_empty());
}
