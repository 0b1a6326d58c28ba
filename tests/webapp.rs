//! The three-tier example (examples/webapp) end to end, on real Debian software: images
//! built by rstack from its Dockerfiles FROM a base made offline with mmdebstrap; nginx in
//! front of a Python app backed by redis with a named volume; reached from the host through
//! the published port; restarted and taken down and up again with its data kept; taken down
//! with `-v` leaving nothing.

mod common;

use common::registry::free_port;
use common::{Env, skip_unless_root};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// The app's answer through nginx on the host's loopback, once it answers.
fn get(port: u16) -> serde_json::Value {
    let url = format!("http://127.0.0.1:{port}/");
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let out = Command::new("curl")
            .args(["-fsS", "--max-time", "5", &url])
            .output()
            .expect("curl");
        if out.status.success()
            && let Ok(v) = serde_json::from_slice::<serde_json::Value>(&out.stdout)
        {
            return v;
        }
        assert!(
            Instant::now() < deadline,
            "{url}: {}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        std::thread::sleep(Duration::from_millis(200));
    }
}

#[test]
fn the_webapp_example_builds_serves_keeps_its_data_and_leaves_nothing() {
    if skip_unless_root("webapp") || !common::registry::have_tools("webapp", &["mmdebstrap"]) {
        return;
    }
    let mut env = Env::new("webapp");
    let p = env.project("webapp");
    // The base image: made once (cached beside the other tests' Debian images), imported
    // into this test's daemon. Concurrent runs wait on the lock.
    let cache = Path::new("/var/cache/rstack-test");
    std::fs::create_dir_all(cache).expect("cache dir");
    let base = Command::new("flock")
        .arg(cache.join("webapp.lock"))
        .arg(repo().join("examples/webapp/base.sh"))
        .arg(common::bin())
        .env("RSTACK_EXAMPLE_CACHE", cache)
        .env("RSTACK_SOCKET", &env.socket)
        .env("RSTACK_DATA_ROOT", &env.data_root)
        .stdin(std::process::Stdio::null())
        .output()
        .expect("base.sh");
    assert!(
        base.status.success(),
        "base.sh: {}{}",
        String::from_utf8_lossy(&base.stdout),
        String::from_utf8_lossy(&base.stderr)
    );
    let file = repo().join("examples/webapp/compose.yaml");
    let file = file.to_str().expect("utf8");
    let port = free_port();
    let run = |args: &[&str]| {
        let mut full = vec!["-f", file, "-p", &p];
        full.extend_from_slice(args);
        let out = env
            .cmd(&full)
            .env("WEB_PORT", port.to_string())
            .output()
            .expect("rstack");
        assert!(
            out.status.success(),
            "rstack {args:?}: {}{}\ndaemon log: {}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr),
            env.daemon_log()
        );
        String::from_utf8_lossy(&out.stdout).into_owned()
    };
    run(&["up", "-d", "--build", "--wait"]);
    let first = get(port);
    assert_eq!(
        first["greeting"], "hello from a Dockerfile build arg",
        "{first}"
    );
    let n = first["hits"].as_i64().expect("hits");
    assert_eq!(get(port)["hits"].as_i64(), Some(n + 1));

    // The database is on an internal network the front end is not on.
    let out = env
        .cmd(&[
            "-p",
            &p,
            "exec",
            "web",
            "curl",
            "-s",
            "--max-time",
            "2",
            "http://db:6379/",
        ])
        .output()
        .expect("exec");
    assert!(!out.status.success(), "web reached db");

    // A restart, then down and up: the count lives in the named volume.
    run(&["restart"]);
    run(&["up", "-d", "--wait"]);
    assert_eq!(get(port)["hits"].as_i64(), Some(n + 2));
    run(&["down"]);
    run(&["up", "-d", "--wait"]);
    assert_eq!(get(port)["hits"].as_i64(), Some(n + 3));

    run(&["down", "-v"]);
    let ps = run(&["ps", "-a", "--format", "json"]);
    assert!(!ps.contains(&p), "{ps}");
    let vols = env.ok(&["volume", "ls", "-q"]);
    assert!(!vols.contains(&format!("{p}_data")), "{vols}");
    let nets = env.ok(&["network", "ls"]);
    assert!(!nets.contains(&p), "{nets}");
}
