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
