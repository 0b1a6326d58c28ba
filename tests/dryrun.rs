//! `--dry-run` (issue 13): every state-changing command says what it would do and changes
//! nothing. The real binary, real busybox containers (root only); each Env takes its project
//! down when dropped, failed or not.

mod common;

use common::*;
use std::process::Output;

fn stack(project: &str, greeting: &str) -> String {
    format!(
        r#"name: {project}
services:
  web:
    image: busybox:test
    stop_grace_period: 1s
    command: ["sleep", "1000"]
    environment:
      GREETING: {greeting}
"#
    )
}

/// Runs `args`, asserts success, returns stderr (where progress lines go, as in compose).
fn ok_stderr(env: &Env, args: &[&str]) -> String {
    let out: Output = env.run(args);
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    assert!(
        out.status.success(),
        "rstack {args:?} failed: {stderr}\ndaemon log: {}",
        env.daemon_log()
    );
    stderr
}

/// The project's containers as (name, id, state).
fn containers(env: &Env, p: &str) -> Vec<(String, String, String)> {
    let mut rows: Vec<(String, String, String)> = env
        .ps_json(p)
        .iter()
        .map(|r| {
            let s = |k: &str| r[k].as_str().unwrap_or_default().to_string();
            (s("name"), s("id"), s("state"))
        })
        .collect();
    rows.sort();
    rows
}

#[test]
fn dry_run_up_on_empty_project_creates_nothing() {
    let Some((env, p)) = setup("dryup") else {
        return;
    };
    env.write("compose.yaml", &stack(&p, "hello"));
    let err = ok_stderr(&env, &["--dry-run", "up", "-d"]);
    assert!(
        err.contains(&format!("DRY-RUN MODE -  Container {p}-web-1  Created")),
        "{err}"
    );
    assert!(
        err.contains(&format!("DRY-RUN MODE -  Container {p}-web-1  Started")),
        "{err}"
    );
    assert!(
        err.contains(&format!("DRY-RUN MODE -  Network {p}_default  Created")),
        "{err}"
    );
    assert!(containers(&env, &p).is_empty());
    let networks = env.ok(&["network", "ls"]);
    assert!(!networks.contains(&p), "a network was made: {networks}");
    // Accepted after the subcommand too.
    let err = ok_stderr(&env, &["up", "-d", "--dry-run"]);
    assert!(err.contains("DRY-RUN MODE -"), "{err}");
    assert!(containers(&env, &p).is_empty());
}

#[test]
fn dry_run_up_names_the_changed_key_and_recreates_nothing() {
    let Some((env, p)) = setup("dryrecreate") else {
        return;
    };
    env.write("compose.yaml", &stack(&p, "hello"));
    env.ok(&["up", "-d"]);
    let before = containers(&env, &p);
    assert_eq!(before.len(), 1);
    assert_eq!(before[0].2, "running");
    // Unchanged: the container is left running, and its network exists already.
    let err = ok_stderr(&env, &["--dry-run", "up", "-d"]);
    assert!(!err.contains("Network"), "{err}");
    assert!(
        err.contains(&format!("Container {p}-web-1  Running")),
        "{err}"
    );
    env.write("compose.yaml", &stack(&p, "bye"));
    let err = ok_stderr(&env, &["--dry-run", "up", "-d"]);
    assert!(
        err.contains(&format!(
            "DRY-RUN MODE -  Container {p}-web-1  Recreated (changed: environment)"
        )),
        "{err}"
    );
    assert_eq!(
        containers(&env, &p),
        before,
        "the dry run changed the container"
    );
}

#[test]
fn dry_run_down_and_stop_leave_everything_running() {
    let Some((env, p)) = setup("drydown") else {
        return;
    };
    env.write("compose.yaml", &stack(&p, "hello"));
    env.ok(&["up", "-d"]);
    let before = containers(&env, &p);
    let err = ok_stderr(&env, &["--dry-run", "down"]);
    assert!(
        err.contains(&format!("DRY-RUN MODE -  Container {p}-web-1  Stopped")),
        "{err}"
    );
    assert!(
        err.contains(&format!("DRY-RUN MODE -  Container {p}-web-1  Removed")),
        "{err}"
    );
    assert_eq!(containers(&env, &p), before);
    let err = ok_stderr(&env, &["stop", "--dry-run"]);
    assert!(
        err.contains(&format!("DRY-RUN MODE -  Container {p}-web-1  Stopped")),
        "{err}"
    );
    assert_eq!(containers(&env, &p), before);
    // Volumes: said, not made.
    let vol = format!("{p}-vol");
    let err = ok_stderr(&env, &["--dry-run", "volume", "create", &vol]);
    assert!(
        err.contains(&format!("DRY-RUN MODE -  Volume {vol}  Created")),
        "{err}"
    );
    assert!(!env.ok(&["volume", "ls"]).contains(&vol));
    // A command that has no dry run yet refuses rather than act.
    let out = env.run(&["--dry-run", "exec", "web", "touch", "/made"]);
    assert!(!out.status.success());
    assert!(
        !env.run(&["exec", "web", "test", "-e", "/made"])
            .status
            .success()
    );
}

/// Runs `args` under --dry-run, asserts success and that stderr has each of `lines`
/// (after the dry-run prefix).
fn says(env: &Env, args: &[&str], lines: &[String]) -> String {
    let mut all = vec!["--dry-run"];
    all.extend_from_slice(args);
    let err = ok_stderr(env, &all);
    for l in lines {
        assert!(
            err.contains(&format!("DRY-RUN MODE -  {l}")),
            "rstack {all:?}: no line {l:?} in:\n{err}"
        );
    }
    err
}

#[test]
fn dry_run_image_volume_network_commands_change_no_store() {
    let Some((env, p)) = setup("drystore") else {
        return;
    };
    let tagged = format!("{p}-img:1");
    says(
        &env,
        &["image", "tag", "busybox:test", &tagged],
        &[format!("Image {tagged}  Tagged")],
    );
    assert!(!env.ok(&["image", "ls"]).contains(&tagged));
    // An unknown image is an error, as without --dry-run.
    assert!(
        !env.run(&["--dry-run", "image", "rm", &format!("{p}-nope:1")])
            .status
            .success()
    );
    says(
        &env,
        &["image", "rm", "busybox:test"],
        &["Image busybox:test  Removed".to_string()],
    );
    // prune asks the daemon what it would remove: nothing uses busybox:test.
    says(
        &env,
        &["image", "prune", "--all"],
        &["Image busybox:test  Removed".to_string()],
    );
    assert!(env.ok(&["image", "ls"]).contains("busybox"));
    let tar = busybox_rootfs_tar(&env.dir);
    let imported = format!("{p}-new:1");
    says(
        &env,
        &["image", "import", tar.to_str().expect("utf8"), &imported],
        &[format!("Image {imported}  Imported")],
    );
    assert!(!env.ok(&["image", "ls"]).contains(&imported));

    let vol = format!("{p}-vol");
    env.ok(&["volume", "create", &vol]);
    says(
        &env,
        &["volume", "prune", "--all"],
        &[format!("Volume {vol}  Removed")],
    );
    assert!(env.ok(&["volume", "ls"]).contains(&vol));
    env.ok(&["volume", "rm", &vol]);

    let net = format!("{p}-net");
    env.ok(&["network", "create", &net]);
    says(
        &env,
        &["network", "prune"],
        &[format!("Network {net}  Removed")],
    );
    let listed = env.ok(&["network", "ls"]);
    env.ok(&["network", "rm", &net]);
    assert!(listed.contains(&net), "the dry run removed {net}: {listed}");
}

#[test]
fn dry_run_run_cp_wait_sync_login_change_nothing() {
    let Some((env, p)) = setup("dryrun") else {
        return;
    };
    env.write(
        "compose.yaml",
        &format!(
            r#"name: {p}
services:
  db:
    image: busybox:test
    stop_grace_period: 1s
    command: ["sleep", "1000"]
  web:
    image: busybox:test
    stop_grace_period: 1s
    command: ["sleep", "1000"]
    depends_on: [db]
"#
        ),
    );
    // run: the dependency it would start, its network, then the one-off container.
    let err = says(
        &env,
        &["run", "web", "echo", "hi"],
        &[
            format!("Network {p}_default  Created"),
            format!("Container {p}-db-1  Created"),
            format!("Container {p}-db-1  Started"),
        ],
    );
    let run = format!("Container {p}-web-run-");
    assert!(err.contains(&run), "{err}");
    assert!(err.contains("  Started"), "{err}");
    assert!(containers(&env, &p).is_empty(), "run made a container");
    assert!(!env.ok(&["network", "ls"]).contains(&p));

    env.ok(&["up", "-d"]);
    let before = containers(&env, &p);
    assert_eq!(before.len(), 2);
    // cp: said, not copied.
    says(
        &env,
        &["cp", "compose.yaml", "web:/copied"],
        &["Copy compose.yaml to web:/copied".to_string()],
    );
    assert!(
        !env.run(&["exec", "web", "test", "-e", "/copied"])
            .status
            .success()
    );
    // wait --down-project: what down would do, without waiting or doing it.
    says(
        &env,
        &["wait", "--down-project", "web", "db"],
        &[
            format!("Container {p}-web-1  Stopped"),
            format!("Container {p}-db-1  Removed"),
        ],
    );
    assert_eq!(containers(&env, &p), before);
    // sync add: said, not followed.
    let src = format!("{p}-src");
    says(
        &env,
        &[
            "sync",
            "add",
            &src,
            "--dir",
            env.work.to_str().expect("utf8"),
        ],
        &[format!("Source {src}  Added")],
    );
    assert!(!env.ok(&["sync", "ls"]).contains(&src));
    // A source that does not exist is an error, as without --dry-run.
    assert!(
        !env.run(&["--dry-run", "sync", "suspend", &src])
            .status
            .success()
    );
    // A followed source: suspend and rm said, not done (rm also names its project's containers).
    env.ok(&[
        "sync",
        "add",
        &src,
        "--dir",
        env.work.to_str().expect("utf8"),
        "--project",
        &p,
    ]);
    says(
        &env,
        &["sync", "suspend", &src],
        &[format!("Source {src}  Suspended")],
    );
    says(
        &env,
        &["sync", "rm", &src],
        &[
            format!("Container {p}-web-1  Removed"),
            format!("Source {src}  Removed"),
        ],
    );
    let listed = env.ok(&["sync", "ls"]);
    env.ok(&["sync", "rm", &src, "--keep-stack"]);
    assert!(listed.contains(&src), "the dry run removed {src}: {listed}");
    assert!(!listed.contains("suspended"), "{listed}");
    assert_eq!(containers(&env, &p).len(), 2);
    // login: nothing saved, the registry not asked.
    let cfg = std::path::Path::new(&std::env::var("HOME").unwrap_or_else(|_| "/root".into()))
        .join(".docker/config.json");
    let saved = std::fs::read(&cfg).ok();
    says(
        &env,
        &["login", "-u", "u", "-p", "secret", "127.0.0.1:1"],
        &["Registry 127.0.0.1:1  Logged in".to_string()],
    );
    assert_eq!(std::fs::read(&cfg).ok(), saved);
    // Interactive commands refuse, as compose's do, and do nothing.
    let out = env.run(&["--dry-run", "attach", "web"]);
    assert!(!out.status.success());
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("not supported in dry-run mode"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(containers(&env, &p), before);
}
