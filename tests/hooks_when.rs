//! When the `post_start` / `pre_stop` hooks run, as docker compose runs them (root only):
//! for the user's commands (`up`, `start`, `restart`, `stop`, `down`, a scale-down), not for
//! the restarts the engine makes by itself (restart policy, `restart_on_unhealthy`), not for
//! the container a recreate replaces, and not for a one-off that `down` takes away.

mod common;

use common::*;
use std::process::{Child, Stdio};
use std::time::{Duration, Instant};

/// A service with hooks that count their runs in ./out (bind-mounted at /out).
fn stack(p: &str, extra: &str) -> String {
    format!(
        "name: {p}
services:
  box:
    image: busybox:test
    init: true
    stop_grace_period: 1s
    volumes:
      - ./out:/out
    post_start:
      - command: [sh, -c, 'echo run >> /out/post_start']
    pre_stop:
      - command: [sh, -c, 'echo run >> /out/pre_stop']
{extra}"
    )
}

/// How many times the hook `name` ran.
fn runs(env: &Env, name: &str) -> usize {
    std::fs::read_to_string(env.work.join("out").join(name))
        .map(|s| s.lines().count())
        .unwrap_or(0)
}

fn wait_restarts(env: &Env, p: &str, n: u64) {
    let row = env.wait_for(p, "box", 120, |r| {
        r["restarts"].as_u64().is_some_and(|c| c >= n) && r["state"] == "running"
    });
    assert!(row["restarts"].as_u64() >= Some(n), "{row}");
}

#[test]
fn the_restart_policy_runs_no_hooks() {
    let Some((env, p)) = setup("hookpolicy") else {
        return;
    };
    let extra = "    restart: always\n    command: [sh, -c, 'sleep 1; exit 1']\n";
    env.write("compose.yaml", &stack(&p, extra));
    env.ok(&["up", "-d"]);
    assert_eq!(runs(&env, "post_start"), 1);
    // A second restart's start follows the first's, hooks included.
    wait_restarts(&env, &p, 2);
    assert_eq!(
        runs(&env, "post_start"),
        1,
        "post_start ran on a policy restart"
    );
    assert_eq!(runs(&env, "pre_stop"), 0);
    env.ok(&["down", "-t", "1"]);
}

#[test]
fn a_restart_on_unhealthy_runs_no_hooks() {
    let Some((env, p)) = setup("hookunhealthy") else {
        return;
    };
    let extra = "    command: [sleep, '1000']
    healthcheck:
      test: [CMD, 'false']
      interval: 1s
      retries: 1
    x-rstack:
      restart_on_unhealthy: true
";
    env.write("compose.yaml", &stack(&p, extra));
    env.ok(&["up", "-d"]);
    assert_eq!(runs(&env, "post_start"), 1);
    wait_restarts(&env, &p, 2);
    assert_eq!(
        runs(&env, "pre_stop"),
        0,
        "pre_stop ran on an unhealthy restart"
    );
    assert_eq!(
        runs(&env, "post_start"),
        1,
        "post_start ran on an unhealthy restart"
    );
    env.ok(&["down", "-t", "1"]);
}

#[test]
fn a_recreate_runs_no_pre_stop_but_restart_runs_both() {
    let Some((env, p)) = setup("hookrecreate") else {
        return;
    };
    let cmd = "    command: [sleep, '1000']\n";
    env.write("compose.yaml", &stack(&p, cmd));
    env.ok(&["up", "-d"]);
    env.write(
        "compose.yaml",
        &stack(&p, &format!("{cmd}    environment:\n      CHANGED: '1'\n")),
    );
    let out = env.run(&["up", "-d"]);
    assert!(out.status.success(), "{out:?}");
    // The new container's start runs post_start; the replaced one got no pre_stop.
    assert_eq!(runs(&env, "pre_stop"), 0, "pre_stop ran for a recreate");
    assert_eq!(runs(&env, "post_start"), 2);
    env.ok(&["restart", "-t", "1"]);
    assert_eq!((runs(&env, "pre_stop"), runs(&env, "post_start")), (1, 3));
    env.ok(&["stop", "-t", "1"]);
    assert_eq!(runs(&env, "pre_stop"), 2);
    env.ok(&["down", "-t", "1"]);
}

/// A `rstack run` client, killed by its pid if the test fails before it ends.
struct Run(Child);

impl Drop for Run {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

#[test]
fn down_runs_no_pre_stop_for_a_one_off() {
    let Some((env, p)) = setup("hookoneoff") else {
        return;
    };
    env.write("compose.yaml", &stack(&p, "    command: [sleep, '1000']\n"));
    let run = Run(env
        .cmd(&["-p", &p, "run", "-T", "box", "sleep", "1000"])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .spawn()
        .expect("run"));
    let deadline = Instant::now() + Duration::from_secs(60);
    while !env
        .ps_json(&p)
        .iter()
        .any(|r| r["name"].as_str().is_some_and(|n| n.contains("-run-")) && r["state"] == "running")
    {
        assert!(Instant::now() < deadline, "the one-off never ran");
        std::thread::sleep(Duration::from_millis(50));
    }
    env.ok(&["down", "-t", "1"]);
    assert_eq!(runs(&env, "pre_stop"), 0, "pre_stop ran for a one-off");
    drop(run);
}
