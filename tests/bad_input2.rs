//! Bad input refused before anything starts, with file:line:col (root only, through the
//! real binary): an unknown sysctl, a container_name another project holds, a failing
//! post_start hook placed at its entry; a start failure said once (no repeated wrapper);
//! and `exec` running with the service's ulimits and oom_score_adj, as docker exec does.

mod common;

use common::*;

fn stderr(out: &std::process::Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

#[test]
fn an_unknown_sysctl_is_refused_at_its_key_and_nothing_starts() {
    let Some((env, p)) = setup("badsysctl") else {
        return;
    };
    env.write(
        "compose.yaml",
        &format!(
            "name: {p}
services:
  b:
    image: busybox:test
    command: [sleep, '1000']
  a:
    image: busybox:test
    command: [sleep, '1000']
    sysctls:
      net.ipv4.nonexistent_xx: 1
"
        ),
    );
    let out = env.run(&["up", "-d"]);
    let err = stderr(&out);
    assert!(!out.status.success(), "{err}");
    assert!(
        err.contains("sysctl \"net.ipv4.nonexistent_xx\" does not exist on this kernel"),
        "{err}"
    );
    assert!(err.contains("compose.yaml:10:7"), "{err}");
    assert!(env.ps_json(&p).is_empty(), "nothing was created or started");
}

#[test]
fn a_start_failure_names_itself_once() {
    let Some((env, p)) = setup("badsysval") else {
        return;
    };
    // The key exists; the kernel refuses the value only when the container's init writes it.
    env.write(
        "compose.yaml",
        &format!(
            "name: {p}
services:
  a:
    image: busybox:test
    command: [sleep, '1000']
    sysctls:
      net.ipv4.ip_forward: not-a-number
"
        ),
    );
    let out = env.run(&["up", "-d"]);
    let err = stderr(&out);
    assert!(!out.status.success(), "{err}");
    assert!(
        err.contains("sysctls: cannot set net.ipv4.ip_forward"),
        "{err}"
    );
    assert_eq!(
        err.matches("container start failed").count(),
        1,
        "said once: {err}"
    );
}

#[test]
fn a_container_name_of_another_project_is_refused_at_its_key_before_any_start() {
    let Some((mut env, p)) = setup("badcname") else {
        return;
    };
    let q = env.project("badcname2");
    let fixed = format!("{p}-fixed");
    env.write(
        "first.yaml",
        &format!(
            "name: {p}
services:
  a:
    image: busybox:test
    container_name: {fixed}
    command: [sleep, '1000']
"
        ),
    );
    env.ok(&["-f", "first.yaml", "up", "-d"]);
    env.write(
        "second.yaml",
        &format!(
            "name: {q}
services:
  y:
    image: busybox:test
    command: [sleep, '1000']
  z:
    image: busybox:test
    container_name: {fixed}
    command: [sleep, '1000']
"
        ),
    );
    let out = env.run(&["-f", "second.yaml", "up", "-d"]);
    let err = stderr(&out);
    assert!(!out.status.success(), "{err}");
    assert!(
        err.contains(&format!(
            "container name \"{fixed}\" is already in use by service \"a\" of project \"{p}\""
        )),
        "{err}"
    );
    assert!(err.contains("second.yaml:8:21"), "{err}");
    assert!(env.ps_json(&q).is_empty(), "nothing of {q} was started");
}

#[test]
fn a_failing_post_start_hook_is_placed_at_its_entry() {
    let Some((env, p)) = setup("badhook") else {
        return;
    };
    env.write(
        "compose.yaml",
        &format!(
            "name: {p}
services:
  a:
    image: busybox:test
    command: [sleep, '1000']
    post_start:
      - command: [sh, -c, 'echo nope; exit 3']
  b:
    image: busybox:test
    command: [sleep, '1000']
    depends_on: [a]
"
        ),
    );
    let out = env.run(&["up", "-d"]);
    let err = stderr(&out);
    assert!(!out.status.success(), "{err}");
    assert!(err.contains("a hook exited with status 3"), "{err}");
    assert!(err.contains("post_start[0]"), "{err}");
    assert!(err.contains("(compose.yaml:7:9)"), "{err}");
    assert!(err.contains("hint:"), "{err}");
    // As compose: the hooked container stays running, its dependant created only.
    let rows = env.ps_json(&p);
    assert_eq!(env.service(&rows, "a")["state"], "running", "{rows:?}");
}

#[test]
fn exec_runs_with_the_services_ulimits_and_oom_score_adj() {
    let Some((env, p)) = setup("execlimits") else {
        return;
    };
    env.write(
        "compose.yaml",
        &format!(
            "name: {p}
services:
  a:
    image: busybox:test
    command: [sleep, '1000']
    oom_score_adj: 100
    ulimits:
      nofile:
        soft: 1024
        hard: 2048
"
        ),
    );
    env.ok(&["up", "-d"]);
    let main = env.ok(&[
        "exec",
        "a",
        "sh",
        "-c",
        "cat /proc/1/oom_score_adj; grep 'open files' /proc/1/limits",
    ]);
    let own = env.ok(&[
        "exec",
        "a",
        "sh",
        "-c",
        "cat /proc/self/oom_score_adj; grep 'open files' /proc/self/limits",
    ]);
    assert!(main.starts_with("100\n"), "{main}");
    assert_eq!(
        own, main,
        "the exec'd process has the main process's settings"
    );
}

#[test]
fn a_failing_pre_stop_hook_is_a_warning_of_down() {
    let Some((env, p)) = setup("badprestop") else {
        return;
    };
    env.write(
        "compose.yaml",
        &format!(
            "name: {p}
services:
  a:
    image: busybox:test
    init: true
    command: [sleep, '1000']
    pre_stop:
      - command: [sh, -c, 'echo cannot flush; exit 4']
"
        ),
    );
    env.ok(&["up", "-d"]);
    let out = env.run(&["down", "-t", "1"]);
    let err = stderr(&out);
    // rstack goes on with the stop (README, hooks): rc 0, with a visible warning.
    assert!(out.status.success(), "{err}");
    assert!(
        err.contains("warning: a hook exited with status 4"),
        "{err}"
    );
    assert!(err.contains("pre_stop[0]"), "{err}");
    assert!(env.ps_json(&p).is_empty(), "down removed it: {err}");
}
