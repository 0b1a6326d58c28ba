//! Volumes through the real binary (root only): named volumes persist across `down`/`up` and
//! go with `down -v`, are seeded from the image; binds show host files and `ro` refuses
//! writes; a missing host directory is created; tmpfs is empty at each start; `volume`
//! commands; bad input is refused at its position with nothing set up. Everything a test
//! makes lives under its Env's directory, removed (and unmounted) when the Env drops.

mod common;

use common::*;

fn volume_names(env: &Env) -> Vec<String> {
    env.ok(&["volume", "ls", "--format", "json"])
        .lines()
        .map(|l| {
            let v: serde_json::Value = serde_json::from_str(l).expect("json line");
            v["Name"].as_str().unwrap_or_default().to_string()
        })
        .collect()
}

fn exec(env: &Env, script: &str) -> String {
    env.ok(&["exec", "box", "sh", "-c", script])
}

fn stack(p: &str, volumes: &str, top: &str) -> String {
    format!(
        "name: {p}\nservices:\n  box:\n    image: busybox:test\n    init: true\n    stop_grace_period: 1s\n    command: [sleep, '1000']\n    volumes:\n{volumes}{top}"
    )
}

#[test]
fn a_named_volume_survives_down_and_goes_with_down_v() {
    let Some((env, p)) = setup("volnamed") else {
        return;
    };
    env.write(
        "compose.yaml",
        &stack(
            &p,
            "      - data:/data\n      - etc:/etc\n",
            "volumes:\n  data: {}\n  etc: {}\n",
        ),
    );
    env.ok(&["up", "-d"]);
    let vol = format!("{p}_data");
    assert!(volume_names(&env).contains(&vol));
    // Seeded from the image: busybox's /etc content is in the new volume.
    let seeded = env.data_root.join(format!("volumes/{p}_etc/_data/passwd"));
    assert!(seeded.is_file(), "{} missing", seeded.display());
    exec(&env, "echo kept > /data/v");
    env.ok(&["down", "-t", "1"]);
    assert!(volume_names(&env).contains(&vol), "down keeps volumes");
    // Recorded on disk: a new daemon lists them.
    env.stop_daemon(libc::SIGTERM);
    assert!(
        volume_names(&env).contains(&vol),
        "listed after a daemon restart"
    );
    env.ok(&["up", "-d"]);
    assert_eq!(exec(&env, "cat /data/v"), "kept\n");
    env.ok(&["down", "-t", "1", "-v"]);
    let left = volume_names(&env);
    assert!(
        !left.iter().any(|n| n.starts_with(&p)),
        "down -v left {left:?}"
    );
    env.ok(&["up", "-d"]);
    assert_eq!(exec(&env, "cat /data/v 2>/dev/null || echo gone"), "gone\n");
    env.ok(&["down", "-t", "1", "-v"]);
}

#[test]
fn binds_show_host_files_ro_refuses_writes_and_missing_dirs_are_made() {
    let Some((env, p)) = setup("volbind") else {
        return;
    };
    std::fs::create_dir_all(env.work.join("host")).expect("mkdir");
    std::fs::write(env.work.join("host/f"), "from-host\n").expect("write");
    env.write(
        "compose.yaml",
        &stack(
            &p,
            "      - ./host:/h:ro\n      - ./made/here:/m\n      - type: bind\n        source: ./host\n        target: /rw\n      - type: tmpfs\n        target: /scratch\n        tmpfs: {size: 1m}\n",
            "",
        ),
    );
    env.ok(&["up", "-d"]);
    assert_eq!(exec(&env, "cat /h/f"), "from-host\n");
    let out = exec(&env, "(echo x > /h/g) 2>&1; echo rc=$?");
    assert!(
        out.contains("Read-only file system") && out.contains("rc=1"),
        "{out}"
    );
    assert!(!env.work.join("host/g").exists());
    assert!(
        env.work.join("made/here").is_dir(),
        "missing host dir created"
    );
    exec(
        &env,
        "echo w > /rw/w && echo t > /scratch/t && echo m > /m/x",
    );
    assert_eq!(
        std::fs::read_to_string(env.work.join("host/w")).expect("written through rw bind"),
        "w\n"
    );
    // tmpfs: empty at each start.
    env.ok(&["restart", "-t", "1", "box"]);
    assert_eq!(exec(&env, "ls -A /scratch | wc -l"), "0\n");
    assert_eq!(exec(&env, "cat /m/x"), "m\n");
    env.ok(&["down", "-t", "1"]);
}

#[test]
fn volume_commands_and_in_use_refusal() {
    let Some((env, p)) = setup("volcmd") else {
        return;
    };
    let name = format!("{p}ext");
    assert_eq!(
        env.ok(&["volume", "create", "--label", "a=b", &name]),
        format!("{name}\n")
    );
    let inspect: serde_json::Value =
        serde_json::from_str(&env.ok(&["volume", "inspect", &name])).expect("inspect json");
    assert_eq!(inspect[0]["Labels"]["a"], "b");
    assert_eq!(inspect[0]["Driver"], "local");
    env.write(
        "compose.yaml",
        &stack(
            &p,
            "      - shared:/s\n      - /anon\n",
            &format!("volumes:\n  shared:\n    external: true\n    name: {name}\n"),
        ),
    );
    env.ok(&["up", "-d"]);
    exec(&env, "echo x > /s/x");
    let out = env.run(&["volume", "rm", &name]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        !out.status.success() && err.contains("in use") && err.contains(&format!("{p}-box-1")),
        "{err}"
    );
    // An anonymous volume exists while its container does.
    assert_eq!(volume_names(&env).len(), 2);
    env.ok(&["down", "-t", "1", "-v"]);
    // External: kept by down -v; the anonymous one went with its container.
    assert_eq!(volume_names(&env), vec![name.clone()]);
    env.ok(&["volume", "rm", &name]);
    assert!(volume_names(&env).is_empty());
    let out = env.run(&["volume", "create", "a/b"]);
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("invalid volume name"));
}

#[test]
fn bad_volume_input_is_refused_at_its_position() {
    let Some((env, p)) = setup("volbad") else {
        return;
    };
    let cases = [
        (
            stack(&p, "      - nope:/d\n", ""),
            "volume \"nope\" is not declared",
            ":9:",
        ),
        (
            stack(&p, "      - d:/d\n", "volumes:\n  d:\n    name: a/b\n"),
            "invalid volume name \"a/b\"",
            ":12:",
        ),
        (
            stack(
                &p,
                "      - type: bind\n        source: ./absent\n        target: /a\n        bind:\n          create_host_path: false\n",
                "",
            ),
            "does not exist",
            ":9:",
        ),
    ];
    for (yaml, msg, at) in cases {
        env.write("compose.yaml", &yaml);
        let out = env.run(&["up", "-d"]);
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(!out.status.success(), "{yaml}");
        assert!(
            err.contains(msg) && err.contains(&format!("compose.yaml{at}")),
            "{err}"
        );
        assert!(env.ps_json(&p).is_empty(), "nothing created");
        assert!(volume_names(&env).is_empty(), "no volume created");
        assert!(!env.work.join("absent").exists());
    }
}

#[test]
fn an_image_volume_gets_a_seeded_anonymous_volume_removed_with_its_container() {
    let Some((env, p)) = setup("volimage") else {
        return;
    };
    let ctx = env.work.join("ctx");
    std::fs::create_dir_all(&ctx).expect("mkdir");
    std::fs::write(
        ctx.join("Dockerfile"),
        "FROM busybox:test\nRUN mkdir -p /vol && echo seeded > /vol/f\nVOLUME /vol\n",
    )
    .expect("write");
    let tag = format!("{p}-img:1");
    env.ok(&[
        "image",
        "build",
        "-q",
        "-t",
        &tag,
        ctx.to_str().expect("utf8"),
    ]);
    env.write(
        "compose.yaml",
        &format!(
            "name: {p}\nservices:\n  box:\n    image: {tag}\n    init: true\n    stop_grace_period: 1s\n    command: [sleep, '1000']\n"
        ),
    );
    env.ok(&["up", "-d"]);
    assert_eq!(exec(&env, "cat /vol/f"), "seeded\n");
    let list: Vec<serde_json::Value> = env
        .ok(&["volume", "ls", "--format", "json"])
        .lines()
        .map(|l| serde_json::from_str(l).expect("json"))
        .collect();
    assert_eq!(list.len(), 1, "{list:?}");
    assert_eq!(list[0]["Anonymous"], true);
    // As compose: the anonymous volumes go with their container only with `down -v`.
    env.ok(&["down", "-t", "1", "-v"]);
    assert!(volume_names(&env).is_empty(), "removed with its container");
}

#[test]
fn volumes_from_shares_a_services_volumes() {
    let Some((env, p)) = setup("volfrom") else {
        return;
    };
    env.write(
        "compose.yaml",
        &format!(
            "name: {p}\nservices:\n  src:\n    image: busybox:test\n    init: true\n    stop_grace_period: 1s\n    command: [sleep, '1000']\n    volumes: [d:/d]\n  box:\n    image: busybox:test\n    init: true\n    stop_grace_period: 1s\n    command: [sleep, '1000']\n    volumes_from: ['src:ro']\n    depends_on: [src]\nvolumes:\n  d: {{}}\n"
        ),
    );
    env.ok(&["up", "-d"]);
    env.ok(&["exec", "src", "sh", "-c", "echo shared > /d/f"]);
    assert_eq!(exec(&env, "cat /d/f"), "shared\n");
    let out = exec(&env, "(echo x > /d/g) 2>&1; echo rc=$?");
    assert!(out.contains("Read-only file system"), "{out}");
    env.ok(&["down", "-t", "1", "-v"]);
}

#[test]
fn driver_opts_ro_volumes_and_a_missing_external_volume() {
    let Some((env, p)) = setup("volopts") else {
        return;
    };
    let dev = env.work.join("device");
    std::fs::create_dir_all(&dev).expect("mkdir");
    std::fs::write(dev.join("f"), "on-device\n").expect("write");
    // A missing external volume stops `up` before anything is made.
    env.write(
        "compose.yaml",
        &stack(
            &p,
            "      - ext:/e\n",
            &format!("volumes:\n  ext:\n    external: true\n    name: {p}missing\n"),
        ),
    );
    let out = env.run(&["up", "-d"]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        !out.status.success() && err.contains(&format!("external volume \"{p}missing\" not found")),
        "{err}"
    );
    assert!(env.ps_json(&p).is_empty());
    env.write(
        "compose.yaml",
        &stack(
            &p,
            "      - dev:/dev-vol\n      - mem:/mem\n      - plain:/ro:ro\n",
            &format!(
                "volumes:\n  dev:\n    driver_opts: {{type: none, o: bind, device: {}}}\n  mem:\n    driver: local\n    driver_opts: {{type: tmpfs, o: size=1m}}\n  plain: {{}}\n",
                dev.display()
            ),
        ),
    );
    env.ok(&["up", "-d"]);
    assert_eq!(exec(&env, "cat /dev-vol/f"), "on-device\n");
    assert!(exec(&env, "grep ' /mem ' /proc/mounts").starts_with("tmpfs"));
    let out = exec(&env, "(echo x > /ro/x) 2>&1; echo rc=$?");
    assert!(out.contains("Read-only file system"), "{out}");
    env.ok(&["down", "-t", "1", "-v"]);
    // The device's content is the host's: down -v removes the volume, not the directory.
    assert!(dev.join("f").is_file());
    assert!(volume_names(&env).is_empty());
}
