//! Seccomp through the real binary: Docker's default profile in every container process (init,
//! `run`, `exec`, healthcheck probes), `security_opt: [seccomp=unconfined]`, a profile file,
//! and `no-new-privileges:false` (the filter is then installed before the capabilities drop).

mod common;

use common::*;

/// The `Seccomp:` mode of /proc/self/status in `out` (0 none, 2 filter).
fn seccomp_mode(out: &str) -> &str {
    out.lines()
        .find_map(|l| l.strip_prefix("Seccomp:"))
        .map_or("?", str::trim)
}

const SERVICES: &str = r#"
x-base: &base
  image: busybox:test
  init: true
  stop_grace_period: 1s
  command: ["sleep", "1000"]
services:
  conf:
    <<: *base
    healthcheck:
      # Healthy only when the probe itself runs under the filter.
      test: ["CMD-SHELL", "grep -Eq '^Seccomp:[[:space:]]+2$$' /proc/self/status"]
      interval: 1s
      start_interval: 100ms
  free:
    <<: *base
    security_opt: ["seccomp=unconfined"]
  loose:
    <<: *base
    security_opt: ["no-new-privileges:false", "label=disable"]
"#;

#[test]
fn every_container_process_runs_under_the_default_profile_unless_unconfined() {
    let Some((env, p)) = setup("seccomp") else {
        return;
    };
    env.write("compose.yaml", &format!("name: {p}\n{SERVICES}"));
    let out = env.run(&["up", "-d"]);
    assert!(out.status.success(), "{out:?}\n{}", env.daemon_log());
    // label= is not supported yet: warned with its place in the file.
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("not supported yet: services.loose.security_opt[1] (label)")
            && err.contains("compose.yaml:"),
        "{err}"
    );

    // The container's init and its process, exec'd processes and one-off containers.
    let status = env.ok(&["exec", "conf", "cat", "/proc/1/status", "/proc/self/status"]);
    let modes: Vec<&str> = status
        .lines()
        .filter_map(|l| l.strip_prefix("Seccomp:"))
        .map(str::trim)
        .collect();
    assert_eq!(modes, ["2", "2"], "{status}");
    let run = env.ok(&[
        "run",
        "--rm",
        "conf",
        "grep",
        "Seccomp",
        "/proc/self/status",
    ]);
    assert_eq!(seccomp_mode(&run), "2", "{run}");
    // A call the profile denies although no capability is needed for it (root may make a
    // user namespace with no capability at all): refused with EPERM under the filter.
    let denied = env.run(&["exec", "conf", "unshare", "-U", "true"]);
    assert!(!denied.status.success(), "{denied:?}");
    assert!(
        String::from_utf8_lossy(&denied.stderr).contains("Operation not permitted"),
        "{denied:?}"
    );
    let denied = env.run(&["run", "--rm", "conf", "unshare", "-U", "true"]);
    assert!(!denied.status.success(), "{denied:?}");
    // Probes run under the filter too.
    env.wait_for(&p, "conf", 30, |r| r["health"] == "healthy");

    // Unconfined: no filter, and the same call succeeds.
    let free = env.ok(&["exec", "free", "grep", "Seccomp", "/proc/self/status"]);
    assert_eq!(seccomp_mode(&free), "0", "{free}");
    env.ok(&["exec", "free", "unshare", "-U", "true"]);
    env.ok(&["run", "--rm", "free", "unshare", "-U", "true"]);

    // Without no_new_privs the filter goes in while the init still has CAP_SYS_ADMIN.
    let loose = env.ok(&[
        "exec",
        "loose",
        "grep",
        "-E",
        "Seccomp|NoNewPrivs",
        "/proc/1/status",
    ]);
    assert_eq!(seccomp_mode(&loose), "2", "{loose}");
    assert!(loose.contains("NoNewPrivs:\t0"), "{loose}");
    let conf = env.ok(&["exec", "conf", "grep", "NoNewPrivs", "/proc/self/status"]);
    assert!(conf.contains("NoNewPrivs:\t1"), "{conf}");
    assert!(
        !env.run(&["exec", "loose", "unshare", "-U", "true"])
            .status
            .success()
    );

    // Compiled once per daemon, by capability set: one file for these three services.
    let files: Vec<_> = std::fs::read_dir(env.data_root.join("seccomp"))
        .expect("seccomp dir")
        .flatten()
        .map(|e| e.file_name())
        .collect();
    assert_eq!(files.len(), 1, "{files:?}");
    env.ok(&["down", "-t", "1"]);
}

#[test]
fn a_profile_file_replaces_the_default_and_bad_profiles_are_errors_at_their_place() {
    let Some((env, p)) = setup("seccompfile") else {
        return;
    };
    std::fs::create_dir_all(env.work.join("prof")).unwrap();
    env.write(
        "prof/no-mkdir.json",
        r#"{
  "defaultAction": "SCMP_ACT_ALLOW",
  "syscalls": [
    { "names": ["mkdir", "mkdirat"], "action": "SCMP_ACT_ERRNO", "errnoRet": 13 }
  ]
}
"#,
    );
    env.write(
        "compose.yaml",
        &format!(
            "name: {p}\nservices:\n  s:\n    image: busybox:test\n    security_opt: [seccomp=prof/no-mkdir.json]\n"
        ),
    );
    let out = env.run(&["run", "--rm", "s", "mkdir", "/tmp/x"]);
    assert!(!out.status.success(), "{out:?}");
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("Permission denied"),
        "errnoRet 13 (EACCES) comes back: {out:?}"
    );
    // Everything else is allowed by this profile, user namespaces included.
    env.ok(&["run", "--rm", "s", "unshare", "-U", "true"]);

    // A typo in a system call name points into the profile.
    env.write(
        "prof/typo.json",
        "{\n  \"defaultAction\": \"SCMP_ACT_ERRNO\",\n  \"syscalls\": [{\"names\": [\"read\", \"mkdri\"], \"action\": \"SCMP_ACT_ALLOW\"}]\n}\n",
    );
    env.write("bad.yaml", &format!("name: {p}\nservices:\n  s:\n    image: busybox:test\n    security_opt:\n      - seccomp=prof/typo.json\n"));
    let out = env.run(&["-f", "bad.yaml", "config"]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "{err}");
    assert!(
        err.contains("prof/typo.json:3:") && err.contains("unknown system call \"mkdri\""),
        "{err}"
    );
    // Broken JSON, and a missing file (at the stack file's entry).
    env.write(
        "prof/broken.json",
        "{\n  \"defaultAction\": \"SCMP_ACT_ERRNO\",,\n}\n",
    );
    env.write("broken.yaml", &format!("name: {p}\nservices:\n  s:\n    image: busybox:test\n    security_opt: [seccomp=prof/broken.json]\n"));
    let err =
        String::from_utf8_lossy(&env.run(&["-f", "broken.yaml", "config"]).stderr).into_owned();
    assert!(err.contains("prof/broken.json:2:"), "{err}");
    env.write("missing.yaml", &format!("name: {p}\nservices:\n  s:\n    image: busybox:test\n    security_opt: [seccomp=nope.json]\n"));
    let out = env.run(&["-f", "missing.yaml", "up", "-d"]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "{err}");
    assert!(
        err.contains("missing.yaml:5:") && err.contains("cannot read seccomp profile"),
        "{err}"
    );
}
