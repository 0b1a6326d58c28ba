//! The output of the commands as docker compose v2.40 prints it with stderr not a terminal
//! (its plain progress mode): the per-container events of `up`, `start`, `stop`,
//! `restart` and `down`, `ps --format json`'s keys and shapes, the log prefix of `logs`.
//! The real binary and real containers (root only); each Env takes its project down.

mod common;

use common::*;

fn stack(project: &str) -> String {
    format!(
        r#"name: {project}
services:
  web:
    image: busybox:test
    init: true
    stop_grace_period: 1s
    command: ["sh", "-c", "echo hello; exec sleep 1000"]
    healthcheck:
      test: ["CMD", "true"]
      interval: 1s
  worker:
    image: busybox:test
    init: true
    stop_grace_period: 1s
    command: ["sh", "-c", "echo hi; exec sleep 1000"]
"#
    )
}

fn stderr(out: &std::process::Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

/// Runs `args`, asserts success and that stderr has each of `lines` (in this order).
fn said(env: &Env, args: &[&str], lines: &[String]) -> String {
    let out = env.run(args);
    let err = stderr(&out);
    assert!(out.status.success(), "rstack {args:?}: {err}");
    let mut from = 0;
    for l in lines {
        let at = err[from..]
            .find(l.as_str())
            .unwrap_or_else(|| panic!("rstack {args:?}: no {l:?} (in order) in:\n{err}"));
        from += at + l.len();
    }
    err
}

fn events(c: &str, texts: &[&str]) -> Vec<String> {
    texts
        .iter()
        .map(|t| format!("Container {c}  {t}"))
        .collect()
}

#[test]
fn up_wait_start_stop_restart_down_print_compose_events() {
    let Some((env, p)) = setup("outev") else {
        return;
    };
    env.write("compose.yaml", &stack(&p));
    let web = format!("{p}-web-1");
    let worker = format!("{p}-worker-1");
    // New containers: Created then Started, never Running; --wait: Waiting then Healthy.
    let err = said(
        &env,
        &["up", "-d", "--wait"],
        &[
            events(&web, &["Created", "Started", "Waiting", "Healthy"]),
            events(&worker, &["Healthy"]),
        ]
        .concat(),
    );
    assert!(!err.contains("Running"), "{err}");
    // Unchanged and running: Running.
    said(&env, &["up", "-d"], &events(&web, &["Running"]));
    said(&env, &["stop"], &events(&web, &["Stopping", "Stopped"]));
    said(&env, &["start"], &events(&web, &["Starting", "Started"]));
    // compose's `restart` ends with Started.
    said(
        &env,
        &["restart", "web"],
        &events(&web, &["Restarting", "Started"]),
    );
    let err = said(
        &env,
        &["down"],
        &events(&web, &["Stopping", "Stopped", "Removing", "Removed"]),
    );
    assert!(
        err.contains(&format!("Container {worker}  Stopped")),
        "{err}"
    );
}

#[test]
fn logs_prefix_is_the_container_name_without_the_project_padded_as_compose() {
    let Some((env, p)) = setup("outlog") else {
        return;
    };
    env.write("compose.yaml", &stack(&p));
    env.ok(&["up", "-d"]);
    let want = ["web-1     | hello", "worker-1  | hi"];
    let mut logs = String::new();
    for _ in 0..100 {
        logs = env.ok(&["logs"]);
        if want.iter().all(|w| logs.lines().any(|l| l == *w)) {
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
    for w in want {
        assert!(logs.lines().any(|l| l == w), "no {w:?} in:\n{logs}");
    }
}

#[test]
fn ps_json_prints_one_compose_object_per_container() {
    let Some((env, p)) = setup("outps") else {
        return;
    };
    env.write("compose.yaml", &stack(&p));
    env.ok(&["up", "-d", "--wait"]);
    let out = env.ok(&["ps", "--format", "json"]);
    let rows: Vec<serde_json::Value> = out
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{e}: {l:?} in {out}")))
        .collect();
    assert_eq!(rows.len(), 2, "{out}");
    let web = rows
        .iter()
        .find(|r| r["Service"] == "web")
        .unwrap_or_else(|| panic!("no web in {out}"));
    let keys: Vec<&str> = web
        .as_object()
        .expect("object")
        .keys()
        .map(String::as_str)
        .collect();
    assert_eq!(
        keys,
        [
            "Command",
            "CreatedAt",
            "ExitCode",
            "Health",
            "ID",
            "Image",
            "Labels",
            "LocalVolumes",
            "Mounts",
            "Name",
            "Names",
            "Networks",
            "Ports",
            "Project",
            "Publishers",
            "RunningFor",
            "Service",
            "Size",
            "State",
            "Status"
        ],
        "{out}"
    );
    assert_eq!(web["Name"], format!("{p}-web-1"));
    assert_eq!(web["Project"], p.as_str());
    assert_eq!(web["State"], "running");
    assert_eq!(web["Health"], "healthy");
    assert_eq!(web["ExitCode"], 0);
    assert_eq!(web["ID"].as_str().map(str::len), Some(12), "{out}");
    assert!(
        web["Command"]
            .as_str()
            .is_some_and(|c| c.starts_with("\"sh -c")),
        "{out}"
    );
    assert!(
        web["Status"].as_str().is_some_and(|s| s.starts_with("Up ")),
        "{out}"
    );
    assert!(web["Publishers"].is_array(), "{out}");
    let full = env.ok(&["ps", "--format", "json", "--no-trunc", "web"]);
    let id = env.service(&env.ps_json(&p), "web")["id"].clone();
    let row: serde_json::Value = serde_json::from_str(full.trim()).expect("one line");
    assert_eq!(row["ID"], id, "{full}");
    // No container: nothing at all, as compose.
    env.ok(&["down"]);
    assert_eq!(env.ok(&["ps", "-a", "--format", "json"]), "");
}
