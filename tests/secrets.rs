//! Secrets and configs through the real binary (root only): a file secret, an environment
//! secret and a content config are in the container at their targets, with their mode and
//! owner, and cannot be written; a changed secret recreates the container; a missing secret
//! file fails `up` at its file:line:col with nothing started, while `config` still prints
//! the stack (as docker compose does).

mod common;

use common::*;

fn stack(p: &str) -> String {
    format!(
        "name: {p}
services:
  box:
    image: busybox:test
    init: true
    stop_grace_period: 1s
    command: [sleep, '1000']
    secrets:
      - pw
      - source: token
        target: tok
    configs:
      - source: conf
        target: /etc/app/app.conf
        uid: \"1000\"
        gid: \"1001\"
        mode: 0440
secrets:
  pw:
    file: ./pw.txt
  token:
    environment: TOKEN
configs:
  conf:
    content: x=1
"
    )
}

fn exec(env: &Env, script: &str) -> String {
    env.ok(&["exec", "box", "sh", "-c", script])
}

#[test]
fn secrets_and_configs_are_read_only_files_with_their_owner_and_mode() {
    let Some((env, p)) = setup("secrets") else {
        return;
    };
    env.write("compose.yaml", &stack(&p));
    env.write("pw.txt", "file-secret");
    env.write(".env", "TOKEN=env-secret\n");
    env.ok(&["up", "-d"]);
    assert_eq!(exec(&env, "cat /run/secrets/pw"), "file-secret");
    assert_eq!(exec(&env, "cat /run/secrets/tok"), "env-secret");
    assert_eq!(exec(&env, "cat /etc/app/app.conf"), "x=1");
    assert_eq!(
        exec(&env, "stat -c '%a %u %g' /etc/app/app.conf"),
        "440 1000 1001\n"
    );
    assert_eq!(
        exec(&env, "stat -c '%a %u %g' /run/secrets/pw"),
        "444 0 0\n"
    );
    // Root in the container could write a 0444 file: only the read-only bind refuses it.
    for f in ["/run/secrets/pw", "/run/secrets/tok", "/etc/app/app.conf"] {
        assert_eq!(
            exec(
                &env,
                &format!("(echo x > {f}) 2>/dev/null && echo wrote || echo refused")
            ),
            "refused\n",
            "{f}"
        );
    }
    let id = |env: &Env| env.service(&env.ps_json(&p), "box")["id"].clone();
    let first = id(&env);
    // Same content: nothing changes. New content: the container is recreated with it.
    env.ok(&["up", "-d"]);
    assert_eq!(id(&env), first);
    env.write("pw.txt", "rotated");
    env.ok(&["up", "-d"]);
    assert_ne!(id(&env), first, "a changed secret recreates the container");
    assert_eq!(exec(&env, "cat /run/secrets/pw"), "rotated");
    env.ok(&["down", "-t", "1"]);
}

#[test]
fn a_missing_secret_file_fails_up_at_its_position_and_starts_nothing() {
    let Some((env, p)) = setup("secretmiss") else {
        return;
    };
    env.write("compose.yaml", &stack(&p));
    env.write(".env", "TOKEN=env-secret\n");
    let out = env.run(&["up", "-d"]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "up succeeded: {err}");
    assert!(
        err.contains("secrets.pw: secret file pw.txt not found")
            && err.contains("compose.yaml:20:11"),
        "{err}"
    );
    assert!(env.ps_json(&p).is_empty(), "something was started");
    // `config` renders the stack without reading the file, as docker compose does.
    let cfg = env.ok(&["config"]);
    assert!(cfg.contains("pw.txt"), "{cfg}");
}
