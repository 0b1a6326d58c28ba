//! `deploy.restart_policy` through the real binary (root only): its condition wins over
//! `restart:` as in docker compose, and rstack gives up after max_attempts. The Env takes the
//! project down when dropped, failed or not.

mod common;

use common::*;

#[test]
fn deploy_restart_policy_restarts_on_failure_and_gives_up_after_max_attempts() {
    let Some((env, p)) = setup("rpolicy") else {
        return;
    };
    env.write(
        "compose.yaml",
        &format!(
            r#"name: {p}
services:
  flaky:
    image: busybox:test
    restart: "no"
    command: ["sh", "-c", "echo try; exit 3"]
    deploy:
      restart_policy:
        condition: on-failure
        delay: 100ms
        max_attempts: 2
        window: 1h
"#
        ),
    );
    let cfg = env.run(&["config"]);
    let warnings = String::from_utf8_lossy(&cfg.stderr);
    assert!(!warnings.contains("not supported"), "{warnings}");
    env.ok(&["up", "-d"]);
    // Exited for good (a restart in between shows as restarting, never as exited).
    let row = env.wait_for(&p, "flaky", 60, |r| r["state"] == "exited");
    assert_eq!(row["restarts"], 2, "{row}");
    assert_eq!(row["exit_code"], 3, "{row}");
    let logs = env.ok(&["-p", &p, "logs", "--no-log-prefix", "flaky"]);
    assert_eq!(logs.matches("try").count(), 3, "{logs}");
}
