//! `--dry-run` of `image pull`/`push` and of the stack's `pull`/`push` (issue 13): the
//! registry (Debian's `docker-registry` on 127.0.0.1) is asked read-only what the transfer
//! would do; nothing is downloaded, uploaded or stored, and an unknown tag or an unreachable
//! registry is the error it would be for real. The real binary (root only).

mod common;

use common::registry::{self, Registry, free_port, have_tools};
use common::*;
use std::process::Output;

fn setup(tag: &str) -> Option<Env> {
    if skip_unless_root(tag) || !have_tools(tag, &["docker-registry"]) {
        return None;
    }
    Some(Env::new(tag))
}

/// rstack with the test's own Docker client config (no credentials of the host's).
fn rs(env: &Env, args: &[&str]) -> Output {
    registry::rs(env, args)
}

/// Runs a command that must succeed; returns its stderr (where dry-run lines go).
fn ok(env: &Env, args: &[&str]) -> String {
    let out = rs(env, args);
    let err = String::from_utf8_lossy(&out.stderr).into_owned();
    assert!(
        out.status.success(),
        "rstack {args:?} failed: {err}\ndaemon log: {}",
        env.daemon_log()
    );
    err
}

fn fails(env: &Env, args: &[&str]) -> String {
    let out = rs(env, args);
    assert!(
        !out.status.success(),
        "rstack {args:?} should fail: {out:?}"
    );
    String::from_utf8_lossy(&out.stderr).into_owned()
}

fn references(env: &Env) -> Vec<String> {
    let out = rs(env, &["image", "ls", "--format", "json"]);
    let list: serde_json::Value = serde_json::from_slice(&out.stdout).expect("json");
    list.as_array()
        .expect("array")
        .iter()
        .filter_map(|i| i["reference"].as_str().map(str::to_string))
        .collect()
}

#[test]
fn dry_run_pull_and_push_ask_the_registry_and_transfer_nothing() {
    let Some(mut env) = setup("regdry") else {
        return;
    };
    let reg = Registry::start(&env.dir, None);
    let image = format!("{}/dry/busybox:1", reg.host());
    let tar = busybox_rootfs_tar(&env.dir);
    ok(
        &env,
        &["image", "import", tar.to_str().expect("utf8"), &image],
    );
    let repo = reg.dir.join("data/docker/registry/v2/repositories/dry");

    // Push: the registry has neither the tag nor the blobs; nothing is uploaded.
    let err = ok(&env, &["--dry-run", "image", "push", &image]);
    assert!(err.contains("DRY-RUN MODE"), "{err}");
    assert!(
        err.contains(&format!("Image {image}  Would push sha256:"))
            && err.contains("(1 is not there yet)"),
        "{err}"
    );
    assert!(err.contains("Blobs 2 of 2 lacking"), "{err}");
    assert!(!repo.exists(), "a dry-run push uploaded something");
    ok(&env, &["image", "push", &image]);
    let err = ok(&env, &["--dry-run", "image", "push", &image]);
    assert!(err.contains(&format!("Image {image}  Up to date")), "{err}");

    // Pull: up to date while the same image is here; after `rm`, what would come.
    let err = ok(&env, &["--dry-run", "image", "pull", &image]);
    assert!(err.contains(&format!("Image {image}  Up to date")), "{err}");
    ok(&env, &["image", "rm", &image]);
    let err = ok(&env, &["--dry-run", "image", "pull", &image]);
    assert!(
        err.contains(&format!("Image {image}  Would pull sha256:"))
            && err.contains("(1 layers, 1 to download"),
        "{err}"
    );
    assert!(
        !references(&env).contains(&image),
        "a dry-run pull stored the image"
    );

    // Errors as for real: an unknown tag, a registry that is not there.
    let missing = format!("{}/dry/busybox:nope", reg.host());
    let err = fails(&env, &["--dry-run", "image", "pull", &missing]);
    assert!(err.contains("manifest unknown"), "{err}");
    let dead = format!("127.0.0.1:{}/dry/busybox:1", free_port());
    let err = fails(&env, &["--dry-run", "image", "pull", &dead]);
    assert!(err.contains("unreachable"), "{err}");

    // The stack's pull and push: each image checked; a missing tag fails the command.
    let p = env.project("regdry");
    env.write(
        "compose.yaml",
        &format!("name: {p}\nservices:\n  a:\n    image: {image}\n"),
    );
    let err = ok(&env, &["--dry-run", "pull"]);
    assert!(err.contains(&format!("Image {image}  Would pull")), "{err}");
    assert!(!references(&env).contains(&image));
    env.write(
        "compose.yaml",
        &format!("name: {p}\nservices:\n  a:\n    image: {missing}\n"),
    );
    let err = fails(&env, &["--dry-run", "pull"]);
    assert!(err.contains("manifest unknown"), "{err}");
}
