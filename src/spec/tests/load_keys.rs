//! Every implemented service key, in each of its forms, converted into the model.

use super::{ok, opts};
use crate::model::{DependCondition, HealthTest, RestartPolicy, Service, Tmpfs};
use crate::spec::{MemFs, load};
use std::time::Duration;

fn svc(body: &str) -> Service {
    let yaml = format!("services:\n  s:\n    image: busybox\n{body}");
    let l = ok(&yaml);
    match l.stack.services.get("s") {
        Some(s) => s.clone(),
        None => panic!("service s missing"),
    }
}

#[test]
fn defaults() {
    let s = svc("");
    assert_eq!(s.image, "busybox");
    assert_eq!(s.command, None);
    assert_eq!(s.entrypoint, None);
    assert_eq!(s.restart, RestartPolicy::No);
    assert_eq!(s.stop_signal, "SIGTERM");
    assert_eq!(s.stop_grace_period, Duration::from_secs(10));
    assert!(!s.read_only && !s.init);
    assert!(s.healthcheck.is_none());
    assert_eq!(s.resources, Default::default());
    assert_eq!(s.x_rstack, Default::default());
}

#[test]
fn command_and_entrypoint_forms() {
    let v = |x: &[&str]| Some(x.iter().map(|s| s.to_string()).collect::<Vec<_>>());
    let cases: &[(&str, Option<Vec<String>>)] = &[
        ("    command: echo hi\n", v(&["echo", "hi"])),
        (
            "    command: sh -c 'echo \"a b\"; exit 3'\n",
            v(&["sh", "-c", "echo \"a b\"; exit 3"]),
        ),
        ("    command: [\"sleep\", 10]\n", v(&["sleep", "10"])),
        ("    command:\n      - a b\n      - c\n", v(&["a b", "c"])),
        ("    command: []\n", v(&[])),
        ("    command:\n", None),
        (
            "    command: echo \\\"x\\\" a\\ b\n",
            v(&["echo", "\"x\"", "a b"]),
        ),
    ];
    for (body, want) in cases {
        assert_eq!(&svc(body).command, want, "{body}");
    }
    assert_eq!(
        svc("    entrypoint: /bin/sh -c\n").entrypoint,
        v(&["/bin/sh", "-c"])
    );
    assert_eq!(
        svc("    entrypoint: [\"/init\", \"--x\"]\n").entrypoint,
        v(&["/init", "--x"])
    );
}

#[test]
fn environment_forms() {
    let mut fs_env = opts();
    fs_env.env.insert("FROM_SHELL".into(), "sh".into());
    let yaml = "services:\n  s:\n    image: b\n    environment:\n      A: 1\n      B: \"two\"\n      C:\n      FROM_SHELL:\n      D: true\n      E: 1.5\n  t:\n    image: b\n    environment:\n      - A=1\n      - B=x=y\n      - FROM_SHELL\n      - NOT_SET\n      - C=\n";
    let fs = MemFs::new().with("/p/compose.yaml", yaml);
    let l = load(&fs_env, &fs).unwrap_or_else(|d| panic!("{d}"));
    let s = &l.stack.services["s"].environment;
    let got: Vec<(&str, &str)> = s.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    assert_eq!(
        got,
        vec![
            ("A", "1"),
            ("B", "two"),
            ("FROM_SHELL", "sh"),
            ("D", "true"),
            ("E", "1.5")
        ]
    );
    let t = &l.stack.services["t"].environment;
    let got: Vec<(&str, &str)> = t.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    assert_eq!(
        got,
        vec![("A", "1"), ("B", "x=y"), ("FROM_SHELL", "sh"), ("C", "")]
    );
}

#[test]
fn simple_strings() {
    let s = svc("    working_dir: /app\n    user: \"1000:1000\"\n    hostname: web1\n");
    assert_eq!(s.working_dir.as_deref(), Some("/app"));
    assert_eq!(s.user.as_deref(), Some("1000:1000"));
    assert_eq!(s.hostname.as_deref(), Some("web1"));
    assert_eq!(svc("    user: 1000\n").user.as_deref(), Some("1000"));
}

#[test]
fn depends_on_forms() {
    let yaml = "services:
  db:
    image: b
  cache:
    image: b
  job:
    image: b
  short:
    image: b
    depends_on: [db, cache]
  long:
    image: b
    depends_on:
      db:
        condition: service_healthy
        restart: true
      cache:
        condition: service_started
        required: false
      job:
        condition: service_completed_successfully
";
    let l = ok(yaml);
    let short = &l.stack.services["short"].depends_on;
    assert_eq!(short.keys().collect::<Vec<_>>(), vec!["db", "cache"]);
    assert!(
        short
            .values()
            .all(|d| d.condition == DependCondition::ServiceStarted && d.required && !d.restart)
    );
    let long = &l.stack.services["long"].depends_on;
    assert_eq!(long["db"].condition, DependCondition::ServiceHealthy);
    assert!(long["db"].restart && long["db"].required);
    assert_eq!(long["cache"].condition, DependCondition::ServiceStarted);
    assert!(!long["cache"].required);
    assert_eq!(
        long["job"].condition,
        DependCondition::ServiceCompletedSuccessfully
    );
}

#[test]
fn restart_policies() {
    let cases = [
        ("\"no\"", RestartPolicy::No),
        ("no", RestartPolicy::No),
        ("always", RestartPolicy::Always),
        ("unless-stopped", RestartPolicy::UnlessStopped),
        ("on-failure", RestartPolicy::OnFailure { max_retries: 0 }),
        ("on-failure:5", RestartPolicy::OnFailure { max_retries: 5 }),
    ];
    for (text, want) in cases {
        assert_eq!(
            svc(&format!("    restart: {text}\n")).restart,
            want,
            "{text}"
        );
    }
}

#[test]
fn healthcheck_forms() {
    let full = svc(
        "    healthcheck:\n      test: [\"CMD\", \"curl\", \"-f\", \"http://x\"]\n      interval: 1m30s\n      timeout: 5s\n      retries: 5\n      start_period: 10s\n      start_interval: 500ms\n",
    );
    let hc = full.healthcheck.expect("hc");
    assert_eq!(
        hc.test,
        HealthTest::Cmd(vec!["curl".into(), "-f".into(), "http://x".into()])
    );
    assert_eq!(hc.interval, Duration::from_secs(90));
    assert_eq!(hc.timeout, Duration::from_secs(5));
    assert_eq!(hc.retries, 5);
    assert_eq!(hc.start_period, Duration::from_secs(10));
    assert_eq!(hc.start_interval, Duration::from_millis(500));

    let tests = [
        (
            "[\"CMD-SHELL\", \"pg_isready -U x\"]",
            Some(HealthTest::Shell("pg_isready -U x".into())),
        ),
        (
            "curl -f http://x || exit 1",
            Some(HealthTest::Shell("curl -f http://x || exit 1".into())),
        ),
        ("[\"NONE\"]", None),
    ];
    for (t, want) in tests {
        let s = svc(&format!("    healthcheck:\n      test: {t}\n"));
        assert_eq!(s.healthcheck.map(|h| h.test), want, "{t}");
    }
    // Defaults (Docker's) when only the test is given.
    let d = svc("    healthcheck:\n      test: \"true\"\n")
        .healthcheck
        .expect("hc");
    assert_eq!(
        (d.interval, d.timeout, d.retries),
        (Duration::from_secs(30), Duration::from_secs(30), 3)
    );
    assert_eq!(
        (d.start_period, d.start_interval),
        (Duration::ZERO, Duration::from_secs(5))
    );
    assert!(
        svc("    healthcheck:\n      test: [\"CMD\", \"true\"]\n      disable: true\n")
            .healthcheck
            .is_none()
    );
}

#[test]
fn resources_and_deploy_precedence() {
    let s = svc("    mem_limit: 512m\n    cpus: 1.5\n    pids_limit: 100\n");
    assert_eq!(s.resources.memory, Some(536_870_912));
    assert_eq!(s.resources.cpus, Some(1.5));
    assert_eq!(s.resources.pids, Some(100));
    let s = svc("    cpus: \"0.5\"\n    mem_limit: 1073741824\n    pids_limit: -1\n");
    assert_eq!(s.resources.cpus, Some(0.5));
    assert_eq!(s.resources.memory, Some(1 << 30));
    assert_eq!(s.resources.pids, None);
    let s = svc(
        "    mem_limit: 1g\n    cpus: 2\n    pids_limit: 5\n    deploy:\n      resources:\n        limits:\n          memory: 256M\n          cpus: '0.25'\n          pids: 50\n",
    );
    assert_eq!(s.resources.memory, Some(256 << 20));
    assert_eq!(s.resources.cpus, Some(0.25));
    assert_eq!(s.resources.pids, Some(50));
    let s = svc(
        "    mem_limit: 1g\n    deploy:\n      resources:\n        limits:\n          cpus: 1\n",
    );
    assert_eq!(s.resources.memory, Some(1 << 30));
    assert_eq!(s.resources.cpus, Some(1.0));
}

#[test]
fn memory_and_cpu_reservations() {
    let s = svc("    mem_reservation: 64m\n");
    assert_eq!(s.resources.memory_reservation, Some(64 << 20));
    assert_eq!(s.resources.cpus_reservation, None);
    // Below the 6MB minimum of a limit is fine for a soft limit (docker compose takes it).
    assert_eq!(
        svc("    mem_reservation: 1000\n")
            .resources
            .memory_reservation,
        Some(1000)
    );
    let s = svc(
        "    mem_reservation: 1g\n    deploy:\n      resources:\n        reservations:\n          memory: 32M\n          cpus: '0.5'\n          pids: 3\n",
    );
    assert_eq!(s.resources.memory_reservation, Some(32 << 20));
    assert_eq!(s.resources.cpus_reservation, Some(0.5));
    assert_eq!(s.resources.pids, None, "a pids reservation limits nothing");
    // As compose: a zero reservations.memory leaves mem_reservation in force.
    let s = svc(
        "    mem_reservation: 1g\n    deploy:\n      resources:\n        reservations:\n          memory: 0\n",
    );
    assert_eq!(s.resources.memory_reservation, Some(1 << 30));
}

#[test]
fn a_reservation_above_the_limit_is_refused_at_its_place() {
    let fs = MemFs::new().with(
        "/p/compose.yaml",
        "services:\n  s:\n    image: busybox\n    mem_limit: 64m\n    mem_reservation: 128m\n",
    );
    let err = match load(&opts(), &fs) {
        Ok(_) => panic!("a reservation above the limit loaded"),
        Err(e) => e.to_string(),
    };
    assert!(
        err.contains("compose.yaml:5:22") && err.contains("above the memory limit"),
        "{err}"
    );
    // Equal is fine, as in Docker.
    svc("    mem_limit: 64m\n    mem_reservation: 64m\n");
}

#[test]
fn reservations_warn_only_for_devices_and_generic_resources() {
    let l = ok(
        "services:\n  s:\n    image: busybox\n    deploy:\n      resources:\n        reservations:\n          memory: 1g\n          cpus: 1\n          devices:\n            - capabilities: [gpu]\n          generic_resources: []\n",
    );
    let msgs: Vec<String> = l.warnings.iter().map(|w| w.message.clone()).collect();
    assert_eq!(
        msgs,
        vec![
            "not supported yet: services.s.deploy.resources.reservations.devices (compose.yaml:9:11)",
            "not supported yet: services.s.deploy.resources.reservations.generic_resources (compose.yaml:11:11)",
        ]
    );
}

#[test]
fn stop_settings_and_flags() {
    let s = svc(
        "    stop_signal: SIGINT\n    stop_grace_period: 1m\n    read_only: true\n    init: true\n",
    );
    assert_eq!(s.stop_signal, "SIGINT");
    assert_eq!(s.stop_grace_period, Duration::from_secs(60));
    assert!(s.read_only && s.init);
    assert_eq!(svc("    stop_signal: quit\n").stop_signal, "SIGQUIT");
    assert_eq!(
        svc("    stop_grace_period: 0s\n").stop_grace_period,
        Duration::ZERO
    );
}

#[test]
fn tmpfs_forms() {
    let t = |target: &str, size: Option<u64>, mode: Option<u32>| Tmpfs {
        target: target.into(),
        size,
        mode,
    };
    assert_eq!(svc("    tmpfs: /run\n").tmpfs, vec![t("/run", None, None)]);
    assert_eq!(
        svc("    tmpfs:\n      - /run\n      - /tmp:size=64m,mode=1777\n").tmpfs,
        vec![
            t("/run", None, None),
            t("/tmp", Some(64 << 20), Some(0o1777))
        ]
    );
}

#[test]
fn devices_and_cgroup_rules() {
    let s = svc(
        "    devices:\n      - /dev/fuse\n      - /dev/zero:/dev/myzero:r\n      - {source: /dev/loop-control, permissions: rw}\n    device_cgroup_rules: ['c 1:11 r', 'a *:* rwm']\n",
    );
    let d = |src: &str, dst: &str, p: &str| crate::model::Device {
        source: src.into(),
        target: dst.into(),
        permissions: p.into(),
    };
    assert_eq!(
        s.devices,
        vec![
            d("/dev/fuse", "/dev/fuse", "rwm"),
            d("/dev/zero", "/dev/myzero", "r"),
            d("/dev/loop-control", "/dev/loop-control", "rw"),
        ]
    );
    let rules: Vec<String> = s
        .device_cgroup_rules
        .iter()
        .map(|r| r.to_string())
        .collect();
    assert_eq!(rules, ["c 1:11 r", "a *:* rwm"]);
    // A service without them keeps its old serialized form (and so its config hash).
    let plain = serde_json::to_value(svc("")).unwrap();
    assert!(plain.get("devices").is_none() && plain.get("device_cgroup_rules").is_none());
}

#[test]
fn x_rstack_extension() {
    let s = svc(
        "    x-rstack:\n      restart_on_unhealthy: true\n      restart_backoff: {initial: 200ms, max: 30s}\n    x-other: ignored\n",
    );
    assert!(s.x_rstack.restart_on_unhealthy);
    assert_eq!(
        s.x_rstack.restart_backoff_initial,
        Duration::from_millis(200)
    );
    assert_eq!(s.x_rstack.restart_backoff_max, Duration::from_secs(30));
}

#[test]
fn interpolated_values_are_typed_after_interpolation() {
    let mut o = opts();
    for (k, v) in [("MEM", "64m"), ("RO", "true"), ("N", "7"), ("CPU", "0.5")] {
        o.env.insert(k.into(), v.into());
    }
    let yaml = "services:\n  s:\n    image: b:${TAG:-1}\n    mem_limit: ${MEM}\n    read_only: ${RO}\n    pids_limit: ${N}\n    cpus: $CPU\n    healthcheck:\n      test: \"true\"\n      retries: ${N}\n";
    let fs = MemFs::new().with("/p/compose.yaml", yaml);
    let l = load(&o, &fs).unwrap_or_else(|d| panic!("{d}"));
    let s = &l.stack.services["s"];
    assert_eq!(s.image, "b:1");
    assert_eq!(s.resources.memory, Some(64 << 20));
    assert!(s.read_only);
    assert_eq!(s.resources.pids, Some(7));
    assert_eq!(s.resources.cpus, Some(0.5));
    assert_eq!(s.healthcheck.as_ref().map(|h| h.retries), Some(7));
}

#[test]
fn service_order_and_stack_fields() {
    let l = ok("services:\n  zeta:\n    image: b\n  alpha:\n    image: b\n");
    assert_eq!(
        l.stack.services.keys().collect::<Vec<_>>(),
        vec!["zeta", "alpha"]
    );
    assert_eq!(l.stack.name, "p");
    assert_eq!(l.stack.working_dir, "/p");
    assert_eq!(l.stack.services["zeta"].name, "zeta");
}

#[test]
fn pull_policy_and_platform_reach_the_model_and_print_as_compose_does() {
    use crate::model::{Platform, PullPolicy};
    assert_eq!(svc("").pull_policy, PullPolicy::Missing);
    assert_eq!(svc("").platform, None);
    let s = svc("    pull_policy: if_not_present\n    platform: linux/arm64/v8\n");
    assert_eq!(s.pull_policy, PullPolicy::Missing);
    assert_eq!(
        s.platform,
        Some(Platform::parse("linux/arm64", "amd64").expect("p"))
    );
    let s = svc("    pull_policy: every_1d12h\n");
    assert_eq!(
        s.pull_policy.max_age(),
        Some(Duration::from_secs(36 * 3600))
    );
    let l = ok(
        "services:\n  s:\n    image: busybox\n    pull_policy: if_not_present\n    platform: linux/arm64/v8\n",
    );
    let v = crate::spec::to_compose_json(&l);
    assert_eq!(v["services"]["s"]["pull_policy"], "missing");
    assert_eq!(v["services"]["s"]["platform"], "linux/arm64/v8");
}

#[test]
fn a_bad_pull_policy_or_platform_points_at_its_value() {
    let errs = super::errors("services:\n  s:\n    image: busybox\n    pull_policy: sometimes\n");
    assert!(
        errs.iter()
            .any(|(m, l, c)| m.contains("not a pull policy") && (*l, *c) == (4, 18)),
        "{errs:?}"
    );
    let errs = super::errors("services:\n  s:\n    image: busybox\n    platform: windows/amd64\n");
    assert!(
        errs.iter()
            .any(|(m, l, c)| m.contains("linux containers only") && (*l, *c) == (4, 15)),
        "{errs:?}"
    );
}

/// compose's TestStartInterval: `start_interval` without `start_period` is an error for
/// docker compose; rstack keeps the file working and says where it is not portable.
#[test]
fn start_interval_without_start_period_warns_where() {
    let yaml = "services:\n  s:\n    image: busybox\n    healthcheck:\n      test: \"true\"\n      start_interval: 1s\n";
    let l = ok(yaml);
    let hc = l.stack.services["s"].healthcheck.clone().expect("hc kept");
    assert_eq!(hc.start_interval, Duration::from_secs(1));
    let w: Vec<_> = l
        .warnings
        .iter()
        .filter(|w| {
            w.message
                .contains("start_interval requires healthcheck.start_period")
        })
        .map(|w| (w.line, w.col))
        .collect();
    assert_eq!(w, [(6, 7)], "{:?}", l.warnings);
    let with_period = ok(&format!("{yaml}      start_period: 5s\n"));
    assert!(
        !with_period
            .warnings
            .iter()
            .any(|w| w.message.contains("start_interval")),
        "{:?}",
        with_period.warnings
    );
}
