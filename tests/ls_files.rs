//! `rstack ls` shows the stack files each project was applied from (compose's CONFIG FILES),
//! in the table and in JSON, and still after a daemon restart: the real binary (root only).

mod common;

use common::*;
use serde_json::Value;

#[test]
fn ls_shows_the_projects_config_files() {
    let Some((env, p)) = setup("lsfiles") else {
        return;
    };
    let base = env.write(
        "base.yaml",
        &format!(
            r#"name: {p}
services:
  web:
    image: busybox:test
    stop_grace_period: 1s
    command: ["sleep", "1000"]
"#
        ),
    );
    let extra = env.write(
        "extra.yaml",
        "services:\n  web:\n    environment:\n      FROM_EXTRA: \"1\"\n",
    );
    let (base, extra) = (
        base.to_str().expect("utf8").to_string(),
        extra.to_str().expect("utf8").to_string(),
    );
    // Relative -f paths: ls shows them absolute.
    env.ok(&["-f", "base.yaml", "-f", "extra.yaml", "up", "-d"]);
    env.wait_for(&p, "web", 30, |r| r["state"] == "running");
    let want = format!("{base},{extra}");

    let check = |when: &str| {
        let table = env.ok(&["ls"]);
        let line = table
            .lines()
            .find(|l| l.starts_with(&format!("{p} ")))
            .unwrap_or_else(|| panic!("{when}: no line for {p}: {table}"));
        assert!(line.trim_end().ends_with(&want), "{when}: {table}");
        let json: Value = serde_json::from_str(&env.ok(&["ls", "--format", "json"])).expect("json");
        let row = json
            .as_array()
            .expect("array")
            .iter()
            .find(|r| r["Name"] == p.as_str())
            .unwrap_or_else(|| panic!("{when}: {json}"));
        assert_eq!(row["ConfigFiles"], want.as_str(), "{when}: {json}");
    };
    check("after up");

    env.stop_daemon(libc::SIGTERM);
    let mut daemon = env.start_daemon();
    check("after a daemon restart");

    env.ok(&["-p", &p, "down", "-t", "1"]);
    drop(env);
    let _ = daemon.wait();
}
