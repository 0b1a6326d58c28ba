//! `rstack sync` with Git sources, end to end (root only): the real binary, real containers,
//! repositories made with the `git` CLI. file://: commits reach the running services (only
//! the changed one recreated; `.env` and `include`d files from the same revision), a broken
//! commit leaves them alone, rollback suspends. http (git-http-backend) with a 1 h interval:
//! only a correctly signed webhook brings a commit; kill -9 of the daemon keeps everything.

mod common;
#[path = "common/git.rs"]
mod gitserve;

use common::*;
use gitserve::{HttpServer, Repo};
use hmac::{Hmac, KeyInit, Mac};
use serde_json::Value;
use std::io::{Read, Write};
use std::time::Duration;

/// `a` takes its value from `.env`; `b` lives in an `include`d file.
const COMPOSE: &str = r#"include: [b.yaml]
services:
  a:
    image: busybox:test
    init: true
    stop_grace_period: 1s
    command: ["sleep", "1000"]
    environment:
      V: "${AV}"
"#;

fn b_yaml(v: &str) -> String {
    format!(
        "services:\n  b:\n    image: busybox:test\n    init: true\n    stop_grace_period: 1s\n    command: [\"sleep\", \"1000\"]\n    environment:\n      V: \"{v}\"\n"
    )
}

fn repo(env: &Env) -> Repo {
    let r = Repo::init(env.dir.join("origin"));
    r.write("compose.yaml", COMPOSE);
    r.write(".env", "AV=1\n");
    r.write("b.yaml", &b_yaml("1"));
    r
}

fn source(env: &Env, name: &str) -> Value {
    env.sync_source(name)
}

/// Polls the source's status until `check` holds (panics after 60 s with what it saw).
fn wait_status(env: &Env, name: &str, what: &str, check: impl Fn(&Value) -> bool) -> Value {
    env.wait_sync_status(name, what, 60, check)
}

fn synced_at<'a>(rev: &'a str) -> impl Fn(&Value) -> bool + 'a {
    move |s: &Value| s["sync"] == "Synced" && s["health"] == "Healthy" && s["revision"] == rev
}

fn pids(env: &Env, p: &str) -> (i64, i64) {
    let rows = env.ps_json(p);
    let pid = |s: &str| {
        let r = env.service(&rows, s);
        assert_eq!(r["state"], "running", "{r}");
        r["pid"].as_i64().expect("pid")
    };
    (pid("a"), pid("b"))
}

#[test]
fn file_git_source_follows_commits_breakage_rollback_and_env_files() {
    let Some((env, p)) = setup("syncgit") else {
        return;
    };
    let name = format!("g{p}");
    let r = repo(&env);
    let c1 = r.commit("one");
    env.ok(&[
        "sync",
        "add",
        &name,
        "--git",
        &r.url(),
        "--interval",
        "1s",
        "--project",
        &p,
    ]);
    wait_status(&env, &name, "first sync", synced_at(&c1));
    let (a1, b1) = pids(&env, &p);

    // The included file changes: only b is recreated.
    r.write("b.yaml", &b_yaml("2"));
    let c2 = r.commit("b2");
    wait_status(&env, &name, "b2 applied", synced_at(&c2));
    let (a2, b2) = pids(&env, &p);
    assert_eq!(a2, a1, "a did not change");
    assert_ne!(b2, b1, "b changed");

    // .env changes: read from the same revision, only a is recreated.
    r.write(".env", "AV=2\n");
    let c3 = r.commit("env");
    wait_status(&env, &name, ".env applied", synced_at(&c3));
    let (a3, b3) = pids(&env, &p);
    assert_ne!(a3, a2, "a's .env value changed");
    assert_eq!(b3, b2);

    // A broken commit: file:line:col in the status, the running services untouched.
    r.write("compose.yaml", &COMPOSE.replace("\"1000\"]", "\"1000\""));
    let c4 = r.commit("broken");
    let st = wait_status(&env, &name, "the broken commit recorded", |s| {
        s["error"].as_str().is_some_and(|e| e.contains(c4.as_str()))
    });
    assert_eq!(
        (&st["sync"], &st["health"]),
        (&"OutOfSync".into(), &"Degraded".into()),
        "{st}"
    );
    assert_eq!(st["revision"], c3.as_str(), "{st}");
    let err = st["error"].as_str().unwrap_or_default();
    let at = err.split("compose.yaml:").nth(1).unwrap_or_default();
    // `compose.yaml:LINE:COL` (then the rendered snippet).
    let mut parts = at.split(':');
    let digits = |s: &str| s.chars().take_while(char::is_ascii_digit).count();
    assert!(
        parts.next().is_some_and(|l| l.parse::<u32>().is_ok())
            && parts.next().is_some_and(|c| digits(c) > 0),
        "no file:line:col in {err}"
    );
    assert_eq!(
        pids(&env, &p),
        (a3, b3),
        "the broken commit touched containers"
    );

    // Fixed: synced again.
    r.write("compose.yaml", COMPOSE);
    r.write("b.yaml", &b_yaml("5"));
    let c5 = r.commit("fix");
    wait_status(&env, &name, "the fix applied", |s| {
        synced_at(&c5)(s) && s["error"].is_null()
    });
    let (a5, b5) = pids(&env, &p);
    assert_eq!(a5, a3);
    assert_ne!(b5, b3);

    // Rollback: the previous revision runs and sync is suspended.
    let out = env.ok(&["sync", "rollback", &name]);
    assert!(out.contains("Suspended"), "{out}");
    let st = source(&env, &name)["status"].clone();
    assert_eq!(st["revision"], c3.as_str(), "{st}");
    assert_eq!(st["suspended"], true, "{st}");
    let (a6, b6) = pids(&env, &p);
    assert_eq!(a6, a5);
    assert_ne!(b6, b5, "b runs c3's value again");

    // A new commit is not applied while suspended, even with `sync now`. (A negative check
    // needs some wait: several 1 s polls.)
    r.write(".env", "AV=7\n");
    let c7 = r.commit("while suspended");
    env.ok(&["sync", "now", &name]);
    std::thread::sleep(Duration::from_secs(3));
    let st = source(&env, &name)["status"].clone();
    assert_eq!(st["revision"], c3.as_str(), "applied while suspended: {st}");
    assert_eq!(pids(&env, &p), (a6, b6));

    // Resume: the branch's head comes back.
    env.ok(&["sync", "resume", &name]);
    wait_status(&env, &name, "resumed", |s| {
        synced_at(&c7)(s) && s["suspended"] == false
    });

    // rm: the project goes down and the Git cache goes away.
    let cache = env.data_root.join("sources").join(&name);
    assert!(
        cache.join("git").is_dir(),
        "no cache at {}",
        cache.display()
    );
    env.ok(&["sync", "rm", &name]);
    assert!(env.ps_json(&p).is_empty(), "sync rm left containers");
    assert!(!cache.exists(), "sync rm left {}", cache.display());
}

/// Sends a webhook over TCP; returns the status code and the body.
fn post_hook(port: u16, name: &str, body: &str, sig: Option<&str>) -> (u16, String) {
    let mut s = std::net::TcpStream::connect(("127.0.0.1", port)).expect("connect");
    let sig = sig
        .map(|v| format!("x-hub-signature-256: {v}\r\n"))
        .unwrap_or_default();
    let req = format!(
        "POST /v1/sources/{name}/hook HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nX-GitHub-Event: push\r\n{sig}Content-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    );
    s.write_all(req.as_bytes()).expect("send");
    let mut out = String::new();
    s.read_to_string(&mut out).expect("read");
    let code = out
        .split(' ')
        .nth(1)
        .and_then(|c| c.parse().ok())
        .unwrap_or(0);
    (code, out)
}

fn sign(secret: &str, body: &str) -> String {
    let mut m = Hmac::<sha2::Sha256>::new_from_slice(secret.as_bytes()).expect("key");
    m.update(body.as_bytes());
    format!("sha256={}", hex::encode(m.finalize().into_bytes()))
}

fn start_daemon(env: &Env, config: &std::path::Path) -> std::process::Child {
    env.start_daemon_with(
        "daemon-git.log",
        &["--config", config.to_str().expect("utf8")],
    )
}

/// Kills the daemon this test started (by its pid) and reaps it.
struct Daemon(std::process::Child);

impl Drop for Daemon {
    fn drop(&mut self) {
        // SAFETY: signalling the daemon this test started, by its pid.
        unsafe { libc::kill(self.0.id() as i32, libc::SIGTERM) };
        let _ = self.0.wait();
    }
}

#[test]
fn http_git_source_follows_signed_webhooks_and_survives_kill_9() {
    let Some((env, p)) = setup("syncgithook") else {
        return;
    };
    // The image import started a daemon without our config: replace it.
    env.stop_daemon(libc::SIGTERM);
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("free port")
        .port();

    let name = format!("h{p}");
    let r = repo(&env);
    let c1 = r.commit("one");
    let srv = env.dir.join("srv");
    std::fs::create_dir_all(&srv).expect("mkdir");
    let bare = srv.join("stack.git");
    r.git(&["clone", "-q", "--bare", ".", bare.to_str().expect("utf8")]);
    // A second server behind basic auth, whose credentials the daemon config holds.
    let server = HttpServer::start(srv.clone(), None);
    let url = format!("http://127.0.0.1:{}/stack.git", server.port);
    let auth = HttpServer::start(srv.clone(), Some("bob:hunter2"));
    let token = env.write("git-token", "hunter2\n");
    let config = env.write(
        "rstack.toml",
        &format!(
            "[sync]\nwebhook_listen = \"127.0.0.1:{port}\"\n\n[[sync.credentials]]\n\
             url_prefix = \"http://127.0.0.1:{}/\"\nusername = \"bob\"\npassword_file = \"{}\"\n",
            auth.port,
            token.display()
        ),
    );
    let mut daemon = Daemon(start_daemon(&env, &config));
    let secret = "s3cr3t-hook";
    let secret_file = env.write("hook-secret", &format!("{secret}\n"));
    env.ok(&[
        "sync",
        "add",
        &name,
        "--git",
        &url,
        "--interval",
        "1h",
        "--project",
        &p,
        "--webhook-secret-file",
        secret_file.to_str().expect("utf8"),
    ]);
    wait_status(&env, &name, "first sync", synced_at(&c1));
    let status = env.ok(&["sync", "status", &name]);
    assert!(status.contains("Webhook:   yes"), "{status}");
    let ls = env.ok(&["sync", "ls", "--format", "json"]);
    for shown in [&status, &ls] {
        assert!(
            !shown.contains(secret) && !shown.contains("hunter2"),
            "secret shown: {shown}"
        );
    }

    // The config's credentials reach the fetch: over plain http gix refuses to send them,
    // and says so without the password. This source has no webhook secret: hooks get 403.
    let other = format!("n{p}");
    let auth_url = format!("http://127.0.0.1:{}/stack.git", auth.port);
    env.ok(&[
        "sync",
        "add",
        &other,
        "--git",
        &auth_url,
        "--interval",
        "1h",
        "--project",
        &other,
    ]);
    let st = wait_status(&env, &other, "the credentials used", |s| {
        s["error"]
            .as_str()
            .is_some_and(|e| e.contains("clear text"))
    });
    assert!(!st.to_string().contains("hunter2"), "{st}");
    let (code, out) = post_hook(port, &other, "{}", Some(&sign(secret, "{}")));
    assert_eq!(code, 403, "{out}");
    assert!(out.contains("--webhook-secret-file"), "{out}");
    env.ok(&["sync", "rm", &other, "--keep-stack"]);

    r.write("b.yaml", &b_yaml("2"));
    let c2 = r.commit("two");
    r.git(&["push", "-q", bare.to_str().expect("utf8"), "main"]);
    let body = r#"{"ref":"refs/heads/main"}"#;

    // Refused: no signature, a wrong one; nothing fetched.
    let (code, out) = post_hook(port, &name, body, None);
    assert_eq!(code, 401, "{out}");
    assert!(out.contains("X-Hub-Signature-256"), "{out}");
    let (code, out) = post_hook(port, &name, body, Some(&sign("wrong", body)));
    assert_eq!(code, 401, "{out}");
    assert!(out.contains("does not match"), "{out}");
    let revs = env.data_root.join("sources").join(&name).join("git/rev");
    assert!(!revs.join(&c2).exists(), "a refused hook fetched");
    assert_eq!(source(&env, &name)["status"]["revision"], c1.as_str());

    // Signed: fetched and applied at once (the interval is an hour).
    let (code, out) = post_hook(port, &name, body, Some(&sign(secret, body)));
    assert_eq!(code, 202, "{out}");
    wait_status(&env, &name, "the hook's commit applied", synced_at(&c2));
    let running = pids(&env, &p);

    // kill -9 of the daemon: sources, history and status intact after.
    // Our child: killed and reaped here (a zombie would look alive to `stop_daemon`).
    // SAFETY: signalling the daemon this test started, by its pid.
    unsafe { libc::kill(daemon.0.id() as i32, libc::SIGKILL) };
    let _ = daemon.0.wait();
    daemon = Daemon(start_daemon(&env, &config));
    let st = source(&env, &name)["status"].clone();
    assert_eq!(st["revision"], c2.as_str(), "{st}");
    assert_eq!(st["sync"], "Synced", "{st}");
    let status = env.ok(&["sync", "status", &name]);
    assert!(
        status.contains(&c1) && status.contains(&c2),
        "history lost: {status}"
    );
    assert_eq!(pids(&env, &p), running, "the restart recreated containers");

    env.ok(&["sync", "rm", &name]);
    assert!(env.ps_json(&p).is_empty(), "sync rm left containers");
    let logs = std::fs::read_to_string(env.dir.join("daemon-git.log")).unwrap_or_default();
    assert!(
        !logs.contains("hunter2") && !logs.contains(secret),
        "{logs}"
    );
    drop(daemon);
    drop(server);
}
