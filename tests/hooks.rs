//! `post_start` / `pre_stop` hooks through the real binary (root only): post_start runs in
//! the container, with its own environment, before `up` counts the container as started
//! (the main process sees what it wrote); a failing one fails `up` with its status and
//! output; pre_stop runs before the stop signal, and a failing one does not stop the stop.

mod common;

use common::*;

fn stack(p: &str, hooks: &str) -> String {
    format!(
        "name: {p}
services:
  box:
    image: busybox:test
    init: true
    stop_grace_period: 1s
    command: [sh, -c, 'while [ ! -f /tmp/ready ]; do sleep 0.1; done; cp /tmp/ready /tmp/seen; exec sleep 1000']
    volumes:
      - ./out:/out
{hooks}"
    )
}

#[test]
fn post_start_runs_before_up_returns_and_pre_stop_before_the_stop() {
    let Some((env, p)) = setup("hooks") else {
        return;
    };
    env.write(
        "compose.yaml",
        &stack(
            &p,
            "    post_start:
      - command: [sh, -c, 'echo $$HOOK_VAR > /tmp/ready']
        environment:
          HOOK_VAR: hooked
    pre_stop:
      - command: sh -c 'echo stopping > /out/pre_stop; exit 1'
",
        ),
    );
    env.ok(&["up", "-d"]);
    // Written before `up` returned: no wait needed.
    assert_eq!(env.ok(&["exec", "box", "cat", "/tmp/ready"]), "hooked\n");
    let seen = env.ok(&[
        "exec",
        "box",
        "sh",
        "-c",
        "while [ ! -f /tmp/seen ]; do sleep 0.1; done; cat /tmp/seen",
    ]);
    assert_eq!(seen, "hooked\n", "the main process saw the hook's file");
    let marker = env.work.join("out/pre_stop");
    assert!(!marker.exists(), "pre_stop ran before any stop");
    env.ok(&["stop", "-t", "1"]);
    assert_eq!(
        std::fs::read_to_string(&marker).expect("pre_stop wrote"),
        "stopping\n"
    );
    // Its failure (exit 1) was logged and the stop went on.
    assert_eq!(env.service(&env.ps_json(&p), "box")["state"], "exited");
    assert!(
        env.daemon_log()
            .contains("box hook exited with status 1 (container"),
        "{}",
        env.daemon_log()
    );
    env.ok(&["down", "-t", "1"]);
}

#[test]
fn a_failing_post_start_fails_up_with_its_status_and_output() {
    let Some((env, p)) = setup("hookfail") else {
        return;
    };
    env.write(
        "compose.yaml",
        &stack(
            &p,
            "    post_start:
      - command: [sh, -c, 'echo no-good; exit 3']
",
        ),
    );
    let out = env.run(&["up", "-d"]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "up succeeded: {err}");
    assert!(
        err.contains("box hook exited with status 3 (container ")
            && err.contains("post_start[0] [\"sh\", \"-c\", \"echo no-good; exit 3\"]): no-good"),
        "{err}"
    );
    env.ok(&["down", "-t", "1"]);
}
