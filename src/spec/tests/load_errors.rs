//! Error and warning reporting: exact positions, messages, hints, rendering, all collected.

use super::{errors, load_str, ok, opts};
use crate::spec::{MemFs, Severity, load};

#[test]
fn invalid_values_point_at_the_value() {
    let head = "services:\n  api:\n    image: busybox\n";
    let cases: &[(&str, &str, u32, u32)] = &[
        (
            "    mem_limit: 12x\n",
            "services.api.mem_limit: invalid size \"12x\"",
            4,
            16,
        ),
        (
            "    cpus: lots\n",
            "services.api.cpus: invalid cpus \"lots\"",
            4,
            11,
        ),
        ("    cpus: -1\n", "services.api.cpus: invalid cpus", 4, 11),
        (
            "    pids_limit: many\n",
            "services.api.pids_limit: expected an integer",
            4,
            17,
        ),
        (
            "    restart: sometimes\n",
            "services.api.restart: invalid restart policy \"sometimes\"",
            4,
            14,
        ),
        (
            "    restart: on-failure:x\n",
            "invalid restart policy",
            4,
            14,
        ),
        (
            "    stop_grace_period: 10\n",
            "services.api.stop_grace_period: duration 10 has no unit",
            4,
            24,
        ),
        (
            "    stop_grace_period: soon\n",
            "invalid duration \"soon\"",
            4,
            24,
        ),
        (
            "    stop_signal: SIGNOPE\n",
            "invalid signal \"SIGNOPE\"",
            4,
            18,
        ),
        (
            "    read_only: maybe\n",
            "services.api.read_only: expected a boolean",
            4,
            16,
        ),
        (
            "    command: {a: 1}\n",
            "services.api.command: expected a string or a list",
            4,
            14,
        ),
        (
            "    command: \"echo 'x\"\n",
            "unterminated single quote",
            4,
            14,
        ),
        (
            "    environment: 5\n",
            "services.api.environment: expected a mapping or a list",
            4,
            18,
        ),
        ("    tmpfs: run\n", "must be an absolute path", 4, 12),
        ("    tmpfs: /run:size=big\n", "invalid size \"big\"", 4, 12),
        ("    tmpfs: /run:mode=999\n", "invalid tmpfs mode", 4, 12),
        (
            "    devices: [/dev/null, \"/dev/fuse:/dev/fuse:rwx\"]\n",
            "services.api.devices[1]: invalid device permissions \"rwx\"",
            4,
            26,
        ),
        (
            "    devices:\n      - dev/fuse\n",
            "the host path must be absolute",
            5,
            9,
        ),
        (
            "    devices:\n      - target: /dev/x\n",
            "services.api.devices[0]: source is required",
            5,
            9,
        ),
        (
            "    devices:\n      - {source: /dev/zero, mode: r}\n",
            "services.api.devices[0]: unknown key \"mode\"",
            5,
            29,
        ),
        (
            "    device_cgroup_rules:\n      - c 1:3 rwm\n      - \"c 1:3\"\n",
            "services.api.device_cgroup_rules[1]: invalid device cgroup rule \"c 1:3\"",
            6,
            9,
        ),
        (
            "    device_cgroup_rules: [\"x *:* r\"]\n",
            "the type must be a, b or c",
            4,
            27,
        ),
        (
            "    healthcheck:\n      test: [\"curl\", \"x\"]\n",
            "test must start with CMD, CMD-SHELL or NONE",
            5,
            14,
        ),
        (
            "    healthcheck:\n      test: [\"CMD\"]\n",
            "CMD needs a command",
            5,
            13,
        ),
        (
            "    healthcheck:\n      test: \"x\"\n      interval: 5\n",
            "healthcheck.interval: duration 5 has no unit",
            6,
            17,
        ),
        (
            "    healthcheck:\n      test: \"x\"\n      retries: -1\n",
            "must not be negative",
            6,
            16,
        ),
        (
            "    depends_on:\n      db:\n        condition: service_healty\n",
            "unknown condition \"service_healty\"",
            6,
            20,
        ),
        (
            "    deploy:\n      resources:\n        limits:\n          memory: 1z\n",
            "services.api.deploy.resources.limits.memory: invalid size",
            7,
            19,
        ),
        (
            "    x-rstack:\n      restart_backoff: {initial: 2m, max: 1m}\n",
            "initial must not be greater than max",
            5,
            24,
        ),
        ("    image: \"\"\n", "duplicate key", 4, 5),
        (
            "    depends_on:\n      db:\n        required: true\n  db:\n    image: d\n",
            "services.api.depends_on.db: condition is required",
            5,
            7,
        ),
        (
            "    ports: [\"80:http\"]\n",
            "services.api.ports[0]: invalid port \"80:http\": container port \"http\" is not a number",
            4,
            13,
        ),
        (
            "    volumes:\n      - \":/media\"\n",
            "services.api.volumes[0]: invalid volume \":/media\"",
            5,
            9,
        ),
    ];
    for (body, want, line, col) in cases {
        let errs = errors(&format!("{head}{body}"));
        assert!(
            errs.iter()
                .any(|(m, l, c)| m.contains(want) && *l == *line && *c == *col),
            "{body:?}: want {want:?} at {line}:{col}, got {errs:?}"
        );
    }
}

#[test]
fn unknown_keys_suggest() {
    let errs = errors("services:\n  api:\n    image: b\n    depend_on: [x]\n");
    assert_eq!(errs.len(), 1);
    assert_eq!(errs[0].0, "services.api: unknown key \"depend_on\"");
    assert_eq!((errs[0].1, errs[0].2), (4, 5));
    let d = load_str("services:\n  api:\n    image: b\n    depend_on: [x]\n").expect_err("fails");
    assert_eq!(
        d.0.iter()
            .find(|e| e.is_error())
            .and_then(|e| e.hint.as_deref()),
        Some("did you mean depends_on?")
    );

    let d = load_str("servics:\n  a:\n    image: b\n").expect_err("fails");
    assert_eq!(d.0[0].hint.as_deref(), Some("did you mean services?"));
    let d = load_str("services:\n  a:\n    image: b\n    healthcheck:\n      tset: x\n")
        .expect_err("fails");
    assert_eq!(
        d.0[0].message,
        "services.a.healthcheck: unknown key \"tset\""
    );
    assert_eq!(d.0[0].hint.as_deref(), Some("did you mean test?"));
    let d = load_str("services:\n  a:\n    image: b\n    frobnicate: 1\n").expect_err("fails");
    assert_eq!(d.0[0].hint, None);
}

#[test]
fn unsupported_keys_warn_with_position() {
    let l = ok(
        "services:\n  a:\n    image: b\n    ports:\n      - 80:80\n    isolation: default\nnetworks:\n  n: {}\n",
    );
    let w: Vec<(&str, u32, u32)> = l
        .warnings
        .iter()
        .map(|w| (w.message.as_str(), w.line, w.col))
        .collect();
    // Implemented: no warning about them.
    assert!(
        w.iter()
            .all(|(m, _, _)| !m.contains("ports") && !m.contains("networks")),
        "{w:?}"
    );
    assert!(
        w.contains(&(
            "not supported yet: services.a.isolation (compose.yaml:6:5)",
            6,
            5
        )),
        "{w:?}"
    );
    assert!(l.warnings.iter().all(|w| w.severity == Severity::Warning));
    let l = ok("version: '3.8'\nservices:\n  a:\n    image: b\n    build: .\n");
    assert!(
        l.warnings
            .iter()
            .any(|w| w.message.contains("obsolete") && w.line == 1)
    );
    // `build` is implemented: no warning about it.
    assert!(
        !l.warnings
            .iter()
            .any(|w| w.message.contains("services.a.build"))
    );
}

#[test]
fn references_and_names() {
    let errs =
        errors("services:\n  web:\n    image: b\n    depends_on: [dbb]\n  db:\n    image: b\n");
    assert_eq!(
        errs,
        vec![(
            "services.web.depends_on: unknown service \"dbb\"".into(),
            4,
            18
        )]
    );
    let d =
        load_str("services:\n  web:\n    image: b\n    depends_on: [dbb]\n  db:\n    image: b\n")
            .expect_err("e");
    assert_eq!(d.0[0].hint.as_deref(), Some("did you mean db?"));
    let errs = errors(
        "services:\n  web:\n    image: b\n    depends_on:\n      nope:\n        condition: service_started\n",
    );
    assert_eq!((errs[0].1, errs[0].2), (5, 7));
    let errs = errors("services:\n  \"bad name\":\n    image: b\n");
    assert_eq!(
        errs,
        vec![("invalid service name \"bad name\"".into(), 2, 3)]
    );
    let errs = errors("services:\n  web:\n    command: x\n");
    assert_eq!(errs, vec![("services.web: image is required".into(), 2, 3)]);
}

#[test]
fn cycles_name_every_service() {
    let yaml = "services:\n  a:\n    image: b\n    depends_on: [b]\n  b:\n    image: b\n    depends_on: [c]\n  c:\n    image: b\n    depends_on:\n      a:\n        condition: service_healthy\n";
    let errs = errors(yaml);
    assert_eq!(
        errs,
        vec![("dependency cycle: a -> b -> c -> a".into(), 4, 18)]
    );
    let errs = errors("services:\n  a:\n    image: b\n    depends_on: [a]\n");
    assert_eq!(errs, vec![("dependency cycle: a -> a".into(), 4, 18)]);
}

#[test]
fn all_problems_are_collected() {
    let yaml = "services:\n  a:\n    image: b\n    mem_limit: 1x\n    restart: never\n  b:\n    imag: x\n    cpus: zz\n";
    let errs = errors(yaml);
    let lines: Vec<u32> = errs.iter().map(|e| e.1).collect();
    assert_eq!(lines, vec![4, 5, 7, 8, 6], "{errs:?}");
}

#[test]
fn interpolation_problems() {
    let errs = errors("services:\n  a:\n    image: \"${IMG:?set IMG}\"\n");
    assert_eq!(
        errs,
        vec![("required variable IMG is not set: set IMG".into(), 3, 12)]
    );
    let errs = errors("services:\n  a:\n    image: b\n    command: echo $ x\n");
    assert_eq!((errs[0].1, errs[0].2), (4, 14));
    assert!(errs[0].0.contains("$$"), "{}", errs[0].0);
    let l = ok(
        "services:\n  a:\n    image: b\n    environment:\n      X: $UNSET_ONE\n      Y: ${UNSET_ONE}\n",
    );
    let w: Vec<_> = l
        .warnings
        .iter()
        .filter(|w| w.message.contains("UNSET_ONE"))
        .collect();
    assert_eq!(w.len(), 1);
    assert_eq!((w[0].line, w[0].col), (5, 10));
    // A type error after interpolation points at the text that produced the value.
    let mut o = opts();
    o.env.insert("MEM".into(), "lots".into());
    let fs = MemFs::new().with(
        "/p/compose.yaml",
        "services:\n  a:\n    image: b\n    mem_limit: ${MEM}\n",
    );
    let d = load(&o, &fs).expect_err("bad");
    assert_eq!((d.0[0].line, d.0[0].col), (4, 16));
    assert!(d.0[0].message.contains("invalid size \"lots\""));
}

#[test]
fn rendering_is_rustc_like() {
    let d =
        load_str("services:\n  api:\n    image: busybox\n    mem_limit: 12x\n").expect_err("fails");
    let text = d.to_string();
    let want = "error: services.api.mem_limit: invalid size \"12x\" (expected e.g. \"512m\", \"1g\" or a number of bytes)
  --> compose.yaml:4:16
   |
 4 |     mem_limit: 12x
   |                ^^^";
    assert_eq!(text, want);
    let d = load_str("services:\n  api:\n    image: b\n    depend_on: []\n").expect_err("fails");
    assert!(
        d.to_string()
            .ends_with("   = hint: did you mean depends_on?"),
        "{d}"
    );
}

#[test]
fn file_level_errors() {
    let cases: &[(&str, &str, u32, u32)] = &[
        ("", "the stack file is empty", 1, 1),
        ("- a\n- b\n", "top level must be a mapping", 1, 1),
        ("services:\n  a: [1\n", "invalid YAML", 3, 1),
        ("services: 5\n", "services: expected a mapping", 1, 11),
        (
            "services:\n  a: 5\n",
            "services.a: expected a mapping",
            2,
            6,
        ),
    ];
    for (yaml, want, line, col) in cases {
        let errs = errors(yaml);
        assert!(
            errs.iter()
                .any(|(m, l, c)| m.contains(want) && *l == *line && *c == *col),
            "{yaml:?}: {errs:?}"
        );
    }
    let d = load(&opts(), &MemFs::new()).expect_err("no file");
    assert!(d.0[0].message.starts_with("no stack file found in /p"));
    let mut o = opts();
    o.files = vec!["missing.yaml".into()];
    let d = load(&o, &MemFs::new()).expect_err("missing");
    assert!(
        d.0[0]
            .message
            .contains("cannot read stack file missing.yaml"),
        "{}",
        d.0[0].message
    );
}

#[test]
fn interpolation_errors_do_not_hide_other_problems() {
    let errs = errors(
        "services:\n  a:\n    image: \"${IMG:?need}\"\n    mem_limit: \"${MEM:?need mem}\"\n    restart: never\n",
    );
    let got: Vec<(u32, u32)> = errs.iter().map(|e| (e.1, e.2)).collect();
    // One error per position: the failed interpolation of mem_limit is not also an invalid size.
    assert_eq!(got, vec![(3, 12), (4, 16), (5, 14)], "{errs:?}");
    assert!(errs[1].0.contains("required variable MEM"));
}

#[test]
fn cpus_above_the_hosts_count_fail_and_the_host_is_asked_only_for_cpus() {
    use std::sync::atomic::{AtomicU32, Ordering};
    static ASKED: AtomicU32 = AtomicU32::new(0);
    fn two() -> Option<u32> {
        ASKED.fetch_add(1, Ordering::SeqCst);
        Some(2)
    }
    let o = crate::spec::LoadOptions {
        host_cpus: Some(two),
        ..opts()
    };
    let plain = MemFs::new().with("/p/compose.yaml", "services:\n  a:\n    image: b\n");
    assert!(load(&o, &plain).is_ok());
    assert_eq!(ASKED.load(Ordering::SeqCst), 0, "no service sets cpus");
    let fits = "services:\n  a:\n    image: b\n    cpus: 1.5\n";
    assert!(load(&o, &MemFs::new().with("/p/compose.yaml", fits)).is_ok());
    let over = "services:\n  a:\n    image: b\n    cpus: 3\n";
    let e = load(&o, &MemFs::new().with("/p/compose.yaml", over)).unwrap_err();
    let e: Vec<_> = e
        .errors()
        .map(|e| (e.message.clone(), e.line, e.col))
        .collect();
    assert_eq!(e.len(), 1, "{e:?}");
    assert!(e[0].0.contains("only 2 CPUs available"), "{e:?}");
    assert_eq!((e[0].1, e[0].2), (4, 11));
    assert!(ASKED.load(Ordering::SeqCst) >= 2);
}
