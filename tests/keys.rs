//! Service keys of the process and kernel through the real binary (root only): capabilities,
//! privileged, sysctls, ulimits, shm_size, oom_score_adj, group_add, pid: host,
//! container_name and labels, each seen from inside the container or in `ps`.

mod common;

use common::*;

/// Writes a stack of `services` (YAML under `services:`) and runs `script` in a one-off
/// container of `service`; returns its stdout.
fn sh(env: &Env, service: &str, script: &str) -> String {
    env.ok(&["run", "--rm", service, "sh", "-c", script])
}

fn stack(env: &Env, p: &str, services: &str) {
    env.write("compose.yaml", &format!("name: {p}\nservices:\n{services}"));
}

/// The CapEff mask of the shell.
fn cap_eff(out: &str) -> u64 {
    let hex = out
        .lines()
        .find_map(|l| l.strip_prefix("CapEff:"))
        .unwrap_or_else(|| panic!("no CapEff in {out}"));
    u64::from_str_radix(hex.trim(), 16).expect("hex mask")
}

const NET_RAW: u64 = 1 << 13;
const NET_ADMIN: u64 = 1 << 12;
const SYS_TIME: u64 = 1 << 25;
const DOCKER_DEFAULT: u64 = 0xa80425fb;

#[test]
fn cap_add_and_cap_drop_change_the_capability_set() {
    let Some((env, p)) = setup("keycaps") else {
        return;
    };
    stack(
        &env,
        &p,
        "  plain:\n    image: busybox:test\n  dropped:\n    image: busybox:test\n    cap_drop: [NET_RAW]\n  added:\n    image: busybox:test\n    cap_add: [sys_time, CAP_NET_ADMIN]\n  priv:\n    image: busybox:test\n    privileged: true\n",
    );
    let probe = "grep CapEff /proc/self/status; ping -c 1 -W 1 127.0.0.1 >/dev/null 2>&1 && echo ping-ok || echo ping-refused";
    let out = sh(&env, "plain", probe);
    assert_eq!(cap_eff(&out), DOCKER_DEFAULT, "{out}");
    assert!(out.contains("ping-ok"), "NET_RAW lets ping work: {out}");
    let out = sh(&env, "dropped", probe);
    assert_eq!(cap_eff(&out), DOCKER_DEFAULT & !NET_RAW, "{out}");
    assert!(out.contains("ping-refused"), "without NET_RAW: {out}");
    let out = sh(&env, "added", probe);
    assert_eq!(
        cap_eff(&out),
        DOCKER_DEFAULT | SYS_TIME | NET_ADMIN,
        "{out}"
    );
    // NET_ADMIN works: the container may change its own interfaces.
    let out = sh(&env, "added", "ip link set lo mtu 1400 && echo admin-ok");
    assert!(out.contains("admin-ok"), "{out}");
    // Privileged: every capability the daemon has, no seccomp filter, /proc/sys writable.
    let out = sh(
        &env,
        "priv",
        "grep -E 'CapEff|Seccomp:' /proc/self/status; echo 1 > /proc/sys/net/ipv4/ip_forward && echo sys-writable",
    );
    let mine = std::fs::read_to_string("/proc/self/status").expect("status");
    assert_eq!(cap_eff(&out), cap_eff(&mine), "{out}");
    assert!(out.contains("Seccomp:\t0"), "{out}");
    assert!(out.contains("sys-writable"), "{out}");
    // Every device is allowed: a node it makes for a host device opens (a default container
    // gets EPERM from the device cgroup, tests/devices.rs).
    let script = "mknod /tmp/z c 1 5 && mknod /tmp/l b 7 0 && (: < /tmp/l) 2>&1; echo done";
    let out = sh(&env, "priv", script);
    assert!(!out.contains("Operation not permitted"), "{out}");
    let out = sh(&env, "plain", script);
    assert!(out.contains("Operation not permitted"), "{out}");
}

#[test]
fn an_unknown_capability_is_refused_at_its_place() {
    let Some((env, p)) = setup("keycapbad") else {
        return;
    };
    stack(
        &env,
        &p,
        "  a:\n    image: busybox:test\n    cap_add: [NET_ADMIN, FLY]\n",
    );
    let out = env.run(&["config"]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success());
    assert!(
        err.contains("unknown capability \"FLY\"") && err.contains("compose.yaml:5:26"),
        "{err}"
    );
}

#[test]
fn sysctls_are_set_inside_and_host_wide_ones_refused() {
    let Some((env, p)) = setup("keysysctl") else {
        return;
    };
    stack(
        &env,
        &p,
        "  a:\n    image: busybox:test\n    sysctls:\n      net.ipv4.ip_forward: 1\n      net.core.somaxconn: 999\n      kernel.shmmni: 1234\n",
    );
    let out = sh(
        &env,
        "a",
        "cat /proc/sys/net/ipv4/ip_forward /proc/sys/net/core/somaxconn /proc/sys/kernel/shmmni",
    );
    assert_eq!(out, "1\n999\n1234\n");
    // /proc/sys stays read-only for the process.
    let out = sh(
        &env,
        "a",
        "echo 0 > /proc/sys/net/ipv4/ip_forward || echo ro",
    );
    assert!(out.contains("ro"), "{out}");
    stack(
        &env,
        &p,
        "  a:\n    image: busybox:test\n    sysctls: [vm.swappiness=10]\n",
    );
    let out = env.run(&["up", "-d"]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success());
    assert!(
        err.contains("sysctl \"vm.swappiness\" is not namespaced")
            && err.contains("compose.yaml:5:15"),
        "{err}"
    );
}

#[test]
fn ulimits_are_set_and_one_above_the_hard_limit_fails_clearly() {
    let Some((env, p)) = setup("keyulimit") else {
        return;
    };
    stack(
        &env,
        &p,
        "  a:\n    image: busybox:test\n    ulimits:\n      nofile: {soft: 1024, hard: 2048}\n      nproc: 333\n",
    );
    let out = sh(&env, "a", "ulimit -n; ulimit -Hn; ulimit -u");
    assert_eq!(out, "1024\n2048\n333\n");
    let mut cur = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: getrlimit into a valid struct.
    unsafe { libc::getrlimit(libc::RLIMIT_NOFILE, &mut cur) };
    let status = std::fs::read_to_string("/proc/self/status").expect("status");
    let has_sys_resource = cap_eff(&status) & (1 << 24) != 0;
    if cur.rlim_max == libc::RLIM_INFINITY || has_sys_resource {
        eprintln!("skipping the above-hard-limit part: it can be raised here");
        return;
    }
    let high = cur.rlim_max + 1;
    stack(
        &env,
        &p,
        &format!("  a:\n    image: busybox:test\n    ulimits:\n      nofile: {high}\n"),
    );
    let out = env.run(&["run", "--rm", "a", "true"]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "{err}");
    assert!(
        err.contains(&format!("ulimits: nofile hard limit {high} is above")),
        "{err}"
    );
}

#[test]
fn shm_size_oom_score_adj_group_add_and_pid_host() {
    let Some((env, p)) = setup("keymisc") else {
        return;
    };
    stack(
        &env,
        &p,
        "  a:\n    image: busybox:test\n    shm_size: 128m\n    oom_score_adj: 500\n    group_add: [nogroup, 4242]\n  h:\n    image: busybox:test\n    pid: host\n",
    );
    let out = sh(
        &env,
        "a",
        "df -k /dev/shm | tail -n 1; cat /proc/self/oom_score_adj; id",
    );
    let mut lines = out.lines();
    let df = lines.next().unwrap_or_default();
    assert_eq!(
        df.split_whitespace().nth(1),
        Some("131072"),
        "128m of /dev/shm: {out}"
    );
    assert_eq!(lines.next(), Some("500"), "{out}");
    let id = lines.next().unwrap_or_default();
    assert!(
        id.contains("65534(nogroup)") && id.contains("4242"),
        "group_add: {id}"
    );
    // A process exec'd into the running service has the same groups.
    stack(
        &env,
        &p,
        "  a:\n    image: busybox:test\n    init: true\n    stop_grace_period: 1s\n    command: [sleep, '1000']\n    group_add: [nogroup, 4242]\n",
    );
    env.ok(&["up", "-d"]);
    let id = env.ok(&["exec", "a", "id"]);
    assert!(
        id.contains("65534(nogroup)") && id.contains("4242"),
        "exec: {id}"
    );
    env.ok(&["down"]);
    stack(&env, &p, "  h:\n    image: busybox:test\n    pid: host\n");
    // The default /dev/shm stays 64 MiB.
    let out = sh(&env, "h", "df -k /dev/shm | tail -n 1; echo pid=$$");
    assert_eq!(out.split_whitespace().nth(1), Some("65536"), "{out}");
    // In the host's pid namespace the shell is not PID 1 and sees the test process.
    assert!(!out.contains("pid=1\n"), "{out}");
    let me = std::process::id();
    let out = sh(&env, "h", &format!("test -d /proc/{me} && echo sees-host"));
    assert!(out.contains("sees-host"), "{out}");
    // exec reaches a running `pid: host` container, and stop takes down what it started.
    stack(
        &env,
        &p,
        "  h:\n    image: busybox:test\n    pid: host\n    stop_grace_period: 1s\n    command: [sh, -c, 'sleep 1000 & sleep 1000']\n",
    );
    env.ok(&["up", "-d"]);
    let out = env.ok(&["exec", "h", "sh", "-c", "echo in-$$"]);
    assert!(out.starts_with("in-") && out != "in-1\n", "{out}");
    env.ok(&["down"]);
    // Lowering oom_score_adj takes CAP_SYS_RESOURCE: without it, the error says so.
    let status = std::fs::read_to_string("/proc/self/status").expect("status");
    if cap_eff(&status) & (1 << 24) == 0 {
        stack(
            &env,
            &p,
            "  a:\n    image: busybox:test\n    oom_score_adj: -1000\n",
        );
        let out = env.run(&["run", "--rm", "a", "true"]);
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(!out.status.success(), "{err}");
        assert!(
            err.contains("oom_score_adj: cannot set -1000") && err.contains("CAP_SYS_RESOURCE"),
            "{err}"
        );
    }
}

#[test]
fn container_name_and_labels_show_in_ps_and_filter() {
    let Some((mut env, p)) = setup("keyname") else {
        return;
    };
    let custom = format!("{p}-custom");
    stack(
        &env,
        &p,
        &format!(
            "  web:\n    image: busybox:test\n    init: true\n    stop_grace_period: 1s\n    command: [sleep, '1000']\n    container_name: {custom}\n    labels: {{tier: web, team: a}}\n  db:\n    image: busybox:test\n    init: true\n    stop_grace_period: 1s\n    command: [sleep, '1000']\n    labels: [tier=db]\n"
        ),
    );
    env.ok(&["up", "-d"]);
    let rows = env.ps_json(&p);
    let web = env.service(&rows, "web");
    assert_eq!(web["name"], custom.as_str());
    assert_eq!(web["labels"]["tier"], "web");
    assert_eq!(env.service(&rows, "db")["labels"]["tier"], "db");
    let names = |filter: &str| {
        let out = env.ok(&["-p", &p, "ps", "-q", "--filter", filter]);
        let mut v: Vec<String> = out.lines().map(str::to_string).collect();
        v.sort();
        v
    };
    assert_eq!(names("label=tier=web"), vec![custom.as_str()]);
    assert_eq!(names("label=team"), vec![custom.as_str()]);
    assert_eq!(names("label=tier").len(), 2);
    assert!(names("label=tier=none").is_empty());
    // The name is the host's: another project cannot take it.
    let q = env.project("keyname2");
    env.write(
        "other.yaml",
        &format!(
            "name: {q}\nservices:\n  web:\n    image: busybox:test\n    command: [sleep, '1000']\n    container_name: {custom}\n"
        ),
    );
    let out = env.run(&["-f", "other.yaml", "up", "-d"]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success());
    assert!(
        err.contains(&format!("container name \"{custom}\" is already in use")),
        "{err}"
    );
    // And a scaled service cannot have one.
    let out = env.run(&["up", "-d", "--scale", "web=2"]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "scaling a named service must fail");
    assert!(
        err.contains("has container_name") && err.contains("runs one container only"),
        "{err}"
    );
    env.ok(&["down"]);
    let _ = env.run(&["-f", "other.yaml", "down"]);
}
