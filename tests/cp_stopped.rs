//! `cp` and `export` on a stopped (exited) and a created container, as docker allows: the
//! real binary, real containers (root only). Each test's Env takes its project down when
//! dropped, failed or not.

mod common;

use common::*;

fn stack(project: &str) -> String {
    format!(
        r#"name: {project}
services:
  web:
    image: busybox:test
    stop_grace_period: 1s
    command: ["sleep", "1000"]
  fresh:
    image: busybox:test
    command: ["sleep", "1000"]
"#
    )
}

/// Overlay mounts on the host whose options name this test's data root: none may be left
/// (nor ever seen: the copy mounts in a namespace of its own).
fn host_overlays(env: &Env) -> Vec<String> {
    let root = env.data_root.display().to_string();
    std::fs::read_to_string("/proc/self/mountinfo")
        .unwrap_or_default()
        .lines()
        .filter(|l| l.contains(" overlay ") && l.contains(&root))
        .map(String::from)
        .collect()
}

#[test]
fn cp_and_export_work_on_an_exited_container() {
    let Some((env, p)) = setup("cpstopped") else {
        return;
    };
    env.write("compose.yaml", &stack(&p));
    env.ok(&["up", "-d", "web"]);
    env.ok(&["exec", "-T", "web", "sh", "-c", "echo mark > /marker"]);
    env.ok(&["stop", "web"]);
    env.wait_for(&p, "web", 30, |r| r["state"] == "exited");

    // Out of it: the file the container wrote in its own layer.
    let got = env.work.join("marker.out");
    env.ok(&["cp", "web:/marker", got.to_str().expect("utf8")]);
    assert_eq!(std::fs::read_to_string(&got).expect("copied"), "mark\n");
    // A missing path is still a clear error.
    let out = env.run(&["cp", "web:/no/such", got.to_str().expect("utf8")]);
    assert!(!out.status.success(), "{out:?}");
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("no such file"),
        "{out:?}"
    );

    // Into it: the file lands in the container's layer.
    let local = env.write("in.txt", "into the stopped one\n");
    env.ok(&["cp", local.to_str().expect("utf8"), "web:/tmp/in.txt"]);

    // Export: the image's files, what it wrote and what was copied in.
    let out = env.run(&["export", "web"]);
    assert!(out.status.success(), "{out:?}");
    let names = tar_names(&out.stdout);
    for want in ["marker", "tmp/in.txt"] {
        assert!(names.iter().any(|n| n == want), "{want}: {names:?}");
    }
    assert!(
        names.iter().any(|n| n == "bin/busybox" || n == "bin/sh"),
        "{names:?}"
    );
    assert_eq!(host_overlays(&env), Vec::<String>::new());

    // At its next start the copied file is there.
    env.ok(&["start", "web"]);
    env.wait_for(&p, "web", 30, |r| r["state"] == "running");
    assert_eq!(
        env.ok(&["exec", "-T", "web", "cat", "/tmp/in.txt", "/marker"]),
        "into the stopped one\nmark\n"
    );
}

#[test]
fn cp_and_export_work_on_a_created_container() {
    let Some((env, p)) = setup("cpcreated") else {
        return;
    };
    env.write("compose.yaml", &stack(&p));
    env.ok(&["create", "fresh"]);
    env.wait_for(&p, "fresh", 30, |r| r["state"] == "created");

    let out = env.run(&["export", "fresh"]);
    assert!(out.status.success(), "{out:?}");
    let names = tar_names(&out.stdout);
    assert!(
        names.iter().any(|n| n == "bin/busybox" || n == "bin/sh"),
        "{names:?}"
    );
    let local = env.write("seed.txt", "before the first start\n");
    env.ok(&["cp", local.to_str().expect("utf8"), "fresh:/seed.txt"]);
    let got = env.work.join("seed.back");
    env.ok(&["cp", "fresh:/seed.txt", got.to_str().expect("utf8")]);
    assert_eq!(
        std::fs::read_to_string(&got).expect("copied"),
        "before the first start\n"
    );
    assert_eq!(host_overlays(&env), Vec::<String>::new());

    env.ok(&["start", "fresh"]);
    env.wait_for(&p, "fresh", 30, |r| r["state"] == "running");
    assert_eq!(
        env.ok(&["exec", "-T", "fresh", "cat", "/seed.txt"]),
        "before the first start\n"
    );
}
