//! Host devices through the real binary (root only): a container gets Docker's default
//! device rules, so nodes it makes itself for host devices cannot be opened, while the
//! devices and rules its stack file lists work as listed.

mod common;

use common::*;

/// Runs `script` in a one-off container of `service`; returns its stdout.
fn sh(env: &Env, service: &str, script: &str) -> String {
    env.ok(&["run", "--rm", service, "sh", "-c", script])
}

#[test]
fn a_container_cannot_open_host_devices_it_makes() {
    let Some((env, p)) = setup("devdefault") else {
        return;
    };
    env.write(
        "compose.yaml",
        &format!(
            "name: {p}\nservices:\n  box:\n    image: busybox:test\n    init: true\n    stop_grace_period: 1s\n    command: [sleep, '1000']\n"
        ),
    );
    env.ok(&["up", "-d"]);
    // mknod itself is allowed (as with Docker), opening the node is not: tty1 (c 4:1) and
    // loop0 (b 7:0). Each refusal must be EPERM from the device cgroup. The tty is opened
    // without writing to it, so a failing run does not print on the host's console.
    let script = r#"
        mknod /tmp/t c 4 1 || echo mknod-tty-failed
        (: > /tmp/t) 2>&1 && echo tty-opened
        mknod /tmp/l b 7 0 || echo mknod-loop-failed
        (: < /tmp/l) 2>&1 && echo loop-opened
        echo x > /dev/null && echo null-ok
        head -c 3 /dev/zero | wc -c
        (: < /dev/full) && (: < /dev/urandom) && (: < /dev/random) && echo pseudo-ok
    "#;
    let out = sh(&env, "box", script);
    assert!(!out.contains("opened"), "a host device opened:\n{out}");
    assert!(!out.contains("mknod-"), "mknod must stay allowed:\n{out}");
    assert_eq!(
        out.matches("Operation not permitted").count(),
        2,
        "both opens refused with EPERM:\n{out}"
    );
    assert!(
        out.contains("null-ok\n3\npseudo-ok"),
        "the default devices work:\n{out}"
    );
    // A process exec'd into the running service is under the same rules.
    let out = env.ok(&[
        "exec",
        "box",
        "sh",
        "-c",
        "mknod /tmp/t2 c 4 1; (: > /tmp/t2) 2>&1; echo rc=$?",
    ]);
    assert!(
        out.contains("Operation not permitted") && out.contains("rc=1"),
        "exec: {out}"
    );
}

#[test]
fn listed_devices_and_rules_are_usable_as_listed() {
    let Some((env, p)) = setup("devlisted") else {
        return;
    };
    env.write(
        "compose.yaml",
        &format!(
            r#"name: {p}
services:
  dev:
    image: busybox:test
    devices:
      - source: /dev/zero
        target: /dev/myzero
      - /dev/loop-control:/dev/sub/lc:r
    device_cgroup_rules: ["c 10:229 r"]
    command: [sleep, "1000"]
"#
        ),
    );
    let script = r#"
        ls -l /dev/myzero /dev/sub/lc | awk '{print $1, $5, $6}'
        head -c 3 /dev/myzero | wc -c
        (: < /dev/sub/lc) && echo lc-read-ok
        (: > /dev/sub/lc) 2>&1 || echo lc-write-refused
        mknod /tmp/fuse c 10 229 && (: < /tmp/fuse) && echo fuse-read-ok
        (: > /tmp/fuse) 2>&1 || echo fuse-write-refused
    "#;
    let out = sh(&env, "dev", script);
    assert!(
        out.contains("crw-rw-rw- 1, 5") && out.contains("crw------- 10, 237"),
        "nodes made with the host's type, numbers and mode:\n{out}"
    );
    for want in [
        "\n3\n",
        "lc-read-ok",
        "lc-write-refused",
        "fuse-read-ok",
        "fuse-write-refused",
    ] {
        assert!(out.contains(want), "missing {want}:\n{out}");
    }
    assert_eq!(out.matches("Operation not permitted").count(), 2, "{out}");

    // `rstack config` prints the devices in Compose's long form.
    let cfg = env.ok(&["config", "--format", "json"]);
    let v: serde_json::Value = serde_json::from_str(&cfg).expect("config json");
    assert_eq!(
        v["services"]["dev"]["devices"][1],
        serde_json::json!({"source": "/dev/loop-control", "target": "/dev/sub/lc", "permissions": "r"})
    );
}

#[test]
fn bad_devices_get_clear_errors() {
    let Some((env, p)) = setup("devbad") else {
        return;
    };
    // In the stack file: file:line:col, nothing started.
    env.write(
        "compose.yaml",
        &format!(
            "name: {p}\nservices:\n  a:\n    image: busybox:test\n    devices: ['/dev/null:/dev/n:rwx']\n    device_cgroup_rules: ['c 1:3']\n"
        ),
    );
    let out = env.run(&["up", "-d"]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(
        err.contains("compose.yaml:5:") && err.contains("invalid device permissions \"rwx\""),
        "{err}"
    );
    assert!(
        err.contains("compose.yaml:6:") && err.contains("invalid device cgroup rule \"c 1:3\""),
        "{err}"
    );
    assert!(env.ps_json(&p).is_empty());

    // On the host: a path that is no device, or none at all, names the path.
    for (host, why) in [
        ("/etc/hostname", "not a character or block device"),
        ("/dev/rstack-no-such-device", "no such file"),
    ] {
        env.write(
            "compose.yaml",
            &format!(
                "name: {p}\nservices:\n  a:\n    image: busybox:test\n    command: [sleep, '1000']\n    devices: ['{host}']\n"
            ),
        );
        let out = env.run(&["up", "-d"]);
        let err = String::from_utf8_lossy(&out.stderr);
        assert_ne!(out.status.code(), Some(0), "{err}");
        assert!(err.contains(host) && err.contains(why), "{err}");
        let _ = env.run(&["down", "-t", "1"]);
    }
}
