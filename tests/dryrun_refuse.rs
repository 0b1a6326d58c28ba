//! `--dry-run` of the removals (issue 13): a dry run checks what the real command checks (the
//! daemon answers read-only) and fails with the real command's error, rather than saying
//! "Removed" where the real one refuses; `down --rmi --dry-run` lists the images the real one
//! removes and refuses those another container still uses. Real binary, root only; each Env
//! takes its project down when dropped.

mod common;

use common::*;
use std::process::Output;

fn text(out: &Output) -> (String, String) {
    (
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// Runs `args` expecting failure; returns stderr.
fn fails(env: &Env, args: &[&str]) -> String {
    let out = env.run(args);
    let (stdout, stderr) = text(&out);
    assert!(!out.status.success(), "rstack {args:?} succeeded: {stderr}");
    assert!(!stderr.contains("Removed"), "{args:?}: {stderr}");
    assert!(!stdout.contains("Removed"), "{args:?}: {stdout}");
    stderr
}

fn image_refs(env: &Env) -> Vec<String> {
    let list: serde_json::Value =
        serde_json::from_str(&env.ok(&["image", "ls", "--format", "json"])).expect("json");
    list.as_array()
        .expect("array")
        .iter()
        .filter_map(|i| i["reference"].as_str().map(str::to_string))
        .collect()
}

#[test]
fn dry_run_rm_refuses_what_the_real_rm_refuses() {
    let Some((env, p)) = setup("dryrefrm") else {
        return;
    };
    env.write(
        "compose.yaml",
        &format!(
            "name: {p}\nservices:\n  web:\n    image: busybox:test\n    init: true\n    stop_grace_period: 1s\n    command: [\"sleep\", \"1000\"]\n"
        ),
    );
    env.ok(&["up", "-d"]);
    let vol = format!("{p}-nosuch");

    // The same refusals as the real commands, word for word.
    for args in [
        vec!["volume", "rm", vol.as_str()],
        vec!["network", "rm", &format!("{p}_default")],
        vec!["image", "rm", "busybox:test"],
    ] {
        let real = fails(&env, &args);
        let mut dry = args.clone();
        dry.push("--dry-run");
        let said = fails(&env, &dry);
        let err = |s: &str| {
            s.lines()
                .find(|l| l.starts_with("error"))
                .map(str::to_string)
                .unwrap_or_default()
        };
        assert!(!err(&real).is_empty(), "{args:?}: {real}");
        assert_eq!(err(&said), err(&real), "{args:?}");
    }
    let net = env.ok(&["network", "ls"]);
    assert!(net.contains(&format!("{p}_default")), "{net}");

    // What the real one removes, the dry run says and leaves.
    let free = format!("{p}-free");
    env.ok(&["volume", "create", &free]);
    let out = env.run(&["--dry-run", "volume", "rm", &free]);
    let (_, stderr) = text(&out);
    assert!(out.status.success(), "{stderr}");
    assert!(
        stderr.contains(&format!("DRY-RUN MODE -  Volume {free}  Removed")),
        "{stderr}"
    );
    assert!(env.ok(&["volume", "ls"]).contains(&free));
    env.ok(&["volume", "rm", &free]);
}

#[test]
fn dry_run_down_rmi_lists_the_images_and_refuses_those_still_used() {
    let Some((env, p)) = setup("dryrefrmi") else {
        return;
    };
    // Two built images, each with its own id (a label apiece): the stack's default-named one
    // and one that an orphan (kept without --remove-orphans) goes on using.
    env.write("Dockerfile", "FROM busybox:test\nLABEL made=web\n");
    env.write("Dockerfile.old", "FROM busybox:test\nLABEL made=old\n");
    let old_image = format!("{p}-keep:1");
    let service = |name: &str, build: &str| {
        format!(
            "  {name}:\n    build: {build}\n    init: true\n    stop_grace_period: 1s\n    command: [\"sleep\", \"1000\"]\n"
        )
    };
    let web = service("web", ".");
    let old = format!(
        "{}    image: {old_image}\n",
        service("old", "{context: ., dockerfile: Dockerfile.old}")
    );
    env.write("compose.yaml", &format!("name: {p}\nservices:\n{web}{old}"));
    env.ok(&["up", "-d"]);
    env.write("compose.yaml", &format!("name: {p}\nservices:\n{web}"));
    let built = format!("{p}-web");

    let out = env.run(&["down", "--rmi", "all", "--dry-run"]);
    let (_, dry) = text(&out);
    assert!(
        dry.contains(&format!("DRY-RUN MODE -  Image {built}  Removed")),
        "{dry}"
    );
    let refusal = format!(
        "error: removing image {old_image}: image \"{old_image}\" is used by container(s) {p}-old-1"
    );
    assert!(dry.contains(&refusal), "{dry}");
    assert!(
        !dry.contains(&format!("Image {old_image}  Removed")),
        "{dry}"
    );
    assert_eq!(out.status.code(), Some(1), "{dry}");
    // Nothing was done.
    let refs = image_refs(&env);
    assert!(refs.iter().any(|r| r.starts_with(&built)), "{refs:?}");
    assert_eq!(env.ps_json(&p).len(), 2);

    // `local` takes only the default-named image.
    let out = env.run(&["down", "--rmi", "local", "--dry-run"]);
    let (_, dry_local) = text(&out);
    assert!(out.status.success(), "{dry_local}");
    assert!(
        dry_local.contains(&format!("DRY-RUN MODE -  Image {built}  Removed")),
        "{dry_local}"
    );
    assert!(!dry_local.contains(&old_image), "{dry_local}");

    // The real one does what the dry run said.
    let out = env.run(&["down", "--rmi", "all"]);
    let (_, real) = text(&out);
    assert!(real.contains(&format!("Image {built}  Removed")), "{real}");
    assert!(real.contains(&refusal), "{real}");
    assert_eq!(out.status.code(), Some(1), "{real}");
    env.ok(&["down", "--remove-orphans"]);
}
