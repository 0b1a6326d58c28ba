//! Capabilities, privileged, sysctls, ulimits, shm_size, oom_score_adj, group_add, pid,
//! runtime, userns_mode, container_name and labels: what reaches the model, and where each
//! refusal points.

use super::{errors, ok};
use crate::model::Ulimit;

const HEAD: &str = "services:\n  a:\n    image: busybox\n";

fn err(tail: &str) -> Vec<(String, u32, u32)> {
    errors(&format!("{HEAD}{tail}"))
}

fn has(errs: &[(String, u32, u32)], msg: &str, line: u32, col: u32) {
    assert!(
        errs.iter()
            .any(|(m, l, c)| m.contains(msg) && *l == line && *c == col),
        "want {msg:?} at {line}:{col} in {errs:?}"
    );
}

#[test]
fn every_key_reaches_the_model_without_warnings() {
    let l = ok(&format!(
        "{HEAD}    cap_add: [net_admin, CAP_SYS_TIME, ALL]\n    cap_drop: [NET_RAW]\n    privileged: true\n    sysctls:\n      net.core.somaxconn: 1024\n      kernel.shmmax: 65536\n    ulimits:\n      nofile: {{soft: 1024, hard: 2048}}\n      nproc: 512\n      core: -1\n    shm_size: 128m\n    oom_score_adj: 500\n    group_add: [audio, 4242]\n    pid: host\n    runtime: runc\n    container_name: my-box\n    labels: [a=b, c]\n"
    ));
    assert!(l.warnings.is_empty(), "{:?}", l.warnings);
    let o = &l.stack.services["a"].options;
    assert_eq!(o.cap_add, ["CAP_NET_ADMIN", "CAP_SYS_TIME", "ALL"]);
    assert_eq!(o.cap_drop, ["CAP_NET_RAW"]);
    assert!(o.privileged);
    assert_eq!(o.sysctls["net.core.somaxconn"], "1024");
    assert_eq!(o.sysctls["kernel.shmmax"], "65536");
    assert_eq!(
        o.ulimits,
        [
            Ulimit {
                name: "nofile".into(),
                soft: 1024,
                hard: 2048
            },
            Ulimit {
                name: "nproc".into(),
                soft: 512,
                hard: 512
            },
            Ulimit {
                name: "core".into(),
                soft: u64::MAX,
                hard: u64::MAX
            },
        ]
    );
    assert_eq!(o.shm_size, Some(128 << 20));
    assert_eq!(o.oom_score_adj, Some(500));
    assert_eq!(o.group_add, ["audio", "4242"]);
    assert!(o.pid_host);
    assert_eq!(o.container_name.as_deref(), Some("my-box"));
    assert_eq!(o.labels["a"], "b");
    assert_eq!(o.labels["c"], "");
    let l = ok(&format!(
        "{HEAD}    sysctls: [net.ipv4.ip_forward=1]\n    labels: {{x: 1}}\n"
    ));
    let o = &l.stack.services["a"].options;
    assert_eq!(o.sysctls["net.ipv4.ip_forward"], "1");
    assert_eq!(o.labels["x"], "1");
}

#[test]
fn stdin_open_and_tty_reach_the_model() {
    let l = ok(&format!("{HEAD}    stdin_open: true\n    tty: true\n"));
    assert!(l.warnings.is_empty(), "{:?}", l.warnings);
    let o = &l.stack.services["a"].options;
    assert!(o.stdin_open && o.tty);
    let o = &ok(HEAD).stack.services["a"].options;
    assert!(!o.stdin_open && !o.tty);
}

#[test]
fn refusals_point_at_their_entry() {
    has(
        &err("    cap_add: [NET_ADMIN, FLY]\n"),
        "services.a.cap_add[1]: unknown capability \"FLY\"",
        4,
        26,
    );
    has(
        &err("    cap_drop:\n      - CAP_NOPE\n"),
        "services.a.cap_drop[0]: unknown capability \"CAP_NOPE\"",
        5,
        9,
    );
    has(
        &err("    sysctls:\n      net.core.somaxconn: 1\n      vm.swappiness: 10\n"),
        "sysctl \"vm.swappiness\" is not namespaced",
        6,
        7,
    );
    has(
        &err("    sysctls: [kernel.hostname=x]\n"),
        "sysctl \"kernel.hostname\" is not namespaced",
        4,
        15,
    );
    has(
        &err("    network_mode: host\n    sysctls:\n      net.ipv4.ip_forward: 1\n"),
        "not allowed with network_mode: host",
        6,
        7,
    );
    has(
        &err("    ulimits:\n      nofiles: 10\n"),
        "unknown ulimit \"nofiles\"",
        5,
        7,
    );
    has(
        &err("    ulimits:\n      nofile: {soft: 20, hard: 10}\n"),
        "soft limit 20 is greater than hard limit 10",
        5,
        15,
    );
    has(
        &err("    ulimits:\n      nofile: {soft: 20}\n"),
        "services.a.ulimits.nofile: needs both soft and hard",
        5,
        15,
    );
    has(
        &err("    oom_score_adj: 1001\n"),
        "must be between -1000 and 1000, got 1001",
        4,
        20,
    );
    has(&err("    shm_size: lots\n"), "services.a.shm_size", 4, 15);
    has(
        &errors(&format!(
            "{HEAD}    container_name: box\n  b:\n    image: busybox\n    container_name: box\n"
        )),
        "services.b.container_name: \"box\" is already the container name of service a",
        7,
        21,
    );
    has(
        &err("    runtime: nvidia\n"),
        "runtime \"nvidia\" is not available",
        4,
        14,
    );
    has(
        &err("    container_name: -bad\n"),
        "invalid container name \"-bad\"",
        4,
        21,
    );
    has(
        &err("    container_name: one\n    scale: 2\n"),
        "container_name \"one\" cannot be used with 2 replicas",
        4,
        21,
    );
    has(
        &err("    container_name: one\n    deploy: {replicas: 3}\n"),
        "cannot be used with 3 replicas",
        4,
        21,
    );
}

#[test]
fn pid_of_another_container_is_not_supported_yet() {
    let l = ok(&format!("{HEAD}    pid: \"service:b\"\n"));
    assert!(
        l.warnings.iter().any(|w| w.message
            == "not supported yet: services.a.pid (service:b) (compose.yaml:4:10)"
            && (w.line, w.col) == (4, 10)),
        "{:?}",
        l.warnings
    );
    assert!(!l.stack.services["a"].options.pid_host);
}

#[test]
fn userns_mode_warns_at_its_value() {
    let l = ok(&format!("{HEAD}    userns_mode: host\n"));
    assert!(
        l.warnings
            .iter()
            .any(|w| w.message.contains("userns_mode: \"host\" is ignored")
                && (w.line, w.col) == (4, 18)),
        "{:?}",
        l.warnings
    );
}

#[test]
fn deploy_restart_policy_wins_over_restart_and_keeps_its_limits() {
    use crate::model::{RestartLimits, RestartPolicy};
    use std::time::Duration;
    let l = ok(&format!(
        "{HEAD}    restart: always\n    deploy:\n      restart_policy:\n        condition: on-failure\n        delay: 5s\n        max_attempts: 3\n        window: 2m\n"
    ));
    assert!(l.warnings.is_empty(), "{:?}", l.warnings);
    let s = &l.stack.services["a"];
    // With a window, the attempts are counted in it, not by Docker's on-failure count.
    assert_eq!(s.restart, RestartPolicy::OnFailure { max_retries: 0 });
    assert_eq!(
        s.restart_limits,
        RestartLimits {
            delay: Some(Duration::from_secs(5)),
            max_attempts: Some(3),
            window: Some(Duration::from_secs(120)),
        }
    );
    let s = &ok(&format!(
        "{HEAD}    deploy:\n      restart_policy:\n        condition: on-failure\n        max_attempts: 2\n"
    ))
    .stack
    .services["a"];
    assert_eq!(s.restart, RestartPolicy::OnFailure { max_retries: 2 });
    let s = &ok(&format!("{HEAD}    deploy:\n      restart_policy: {{}}\n"))
        .stack
        .services["a"];
    assert_eq!(s.restart, RestartPolicy::Always);
    let s = &ok(&format!(
        "{HEAD}    restart: always\n    deploy:\n      restart_policy:\n        condition: none\n"
    ))
    .stack
    .services["a"];
    assert_eq!(s.restart, RestartPolicy::No);
    has(
        &err("    deploy:\n      restart_policy:\n        condition: sometimes\n"),
        "services.a.deploy.restart_policy.condition: unknown condition \"sometimes\"",
        6,
        20,
    );
}
