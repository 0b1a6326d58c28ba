//! The daemon's API and the CLI's inputs under hostile or careless input, through the real
//! binary and the real socket: names and image archives the API is sent, idle connections,
//! and bombs (a stack file of nested aliases, a gzip layer of zeros).

mod common;

use common::{Env, skip_unless_root};
use serde_json::Value;
use std::io::{Read, Write};
use std::os::unix::net::UnixStream;
use std::os::unix::process::CommandExt;
use std::path::Path;
use std::process::{Child, Stdio};
use std::time::{Duration, Instant};

/// Longest a test waits on anything before it calls it a hang.
const HANG: Duration = Duration::from_secs(60);

/// A daemon started by a test with its own config; stopped (by pid) and reaped on drop.
struct Daemon(Child);

impl Drop for Daemon {
    fn drop(&mut self) {
        // SAFETY: signalling the daemon this test started, by its pid.
        unsafe { libc::kill(self.0.id() as i32, libc::SIGTERM) };
        let deadline = Instant::now() + Duration::from_secs(10);
        while Instant::now() < deadline {
            if let Ok(Some(_)) = self.0.try_wait() {
                return;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Starts `rstack daemon --config` with `extra` config lines (and a file descriptor limit).
fn daemon(env: &Env, extra: &str, nofile: Option<u64>) -> Daemon {
    let cfg = env.dir.join("rstack.toml");
    std::fs::write(
        &cfg,
        format!(
            "data_root = {:?}\nsocket = {:?}\n{extra}\n",
            env.data_root.display().to_string(),
            env.socket.display().to_string()
        ),
    )
    .expect("write config");
    let log = env.dir.join("daemon-by-hand.log");
    let mut cmd = env.cmd(&["daemon", "--config", cfg.to_str().expect("utf8")]);
    cmd.stdout(Stdio::null())
        .stderr(std::fs::File::create(&log).expect("log"));
    if let Some(n) = nofile {
        // SAFETY: only setrlimit, which is async-signal-safe, between fork and exec.
        unsafe {
            cmd.pre_exec(move || {
                let lim = libc::rlimit {
                    rlim_cur: n,
                    rlim_max: n,
                };
                if libc::setrlimit(libc::RLIMIT_NOFILE, &lim) != 0 {
                    return Err(std::io::Error::last_os_error());
                }
                Ok(())
            });
        }
    }
    let d = Daemon(cmd.spawn().expect("daemon"));
    env.wait_daemon_up(&log);
    d
}

/// Sends a raw HTTP request over the socket; returns the status and the body.
fn raw(socket: &Path, request: &[u8]) -> (u16, String) {
    let mut s = UnixStream::connect(socket).expect("connect");
    s.set_read_timeout(Some(HANG)).expect("timeout");
    s.write_all(request).expect("send");
    let mut out = Vec::new();
    s.read_to_end(&mut out).expect("answer");
    let text = String::from_utf8_lossy(&out).into_owned();
    let status = text
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| panic!("no status in {text:?}"));
    let body = text.split_once("\r\n\r\n").map(|x| x.1).unwrap_or("");
    (status, body.to_string())
}

fn post_json(socket: &Path, path: &str, body: &str) -> (u16, String) {
    let req = format!(
        "POST {path} HTTP/1.1\r\nHost: rstack\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    );
    raw(socket, req.as_bytes())
}

/// Runs rstack, killing it should it hang; returns its output.
fn run_guarded(env: &Env, args: &[&str]) -> std::process::Output {
    let mut child = env
        .cmd(args)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn");
    let deadline = Instant::now() + HANG;
    while child.try_wait().expect("wait").is_none() {
        if Instant::now() > deadline {
            let _ = child.kill();
            break;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    child.wait_with_output().expect("output")
}

fn entries(dir: &Path) -> Vec<String> {
    std::fs::read_dir(dir)
        .map(|d| {
            d.flatten()
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .collect()
        })
        .unwrap_or_default()
}

/// A gzip'd tar of one file of `size` zero bytes: a few KB that unpack to `size`.
fn zeros_layer(path: &Path, size: u64) {
    let f = std::fs::File::create(path).expect("create");
    let gz = flate2::write::GzEncoder::new(f, flate2::Compression::best());
    let mut b = tar::Builder::new(gz);
    let mut h = tar::Header::new_gnu();
    h.set_path("zeros").expect("path");
    h.set_size(size);
    h.set_mode(0o644);
    h.set_cksum();
    b.append(&h, std::io::repeat(0).take(size)).expect("append");
    b.into_inner().expect("tar").finish().expect("gzip");
}

#[test]
fn image_import_never_opens_a_path_the_client_names() {
    if skip_unless_root("image_import_never_opens_a_path_the_client_names") {
        return;
    }
    let env = Env::new("imppath");
    // A normal import works (and starts the daemon).
    env.import_busybox();
    let tar = env.dir.join("busybox-rootfs.tar");
    // The old request named a file on the daemon's host, which the daemon opened as root.
    let body = format!(
        "{{\"path\":{:?},\"reference\":\"stolen:1\"}}",
        tar.display().to_string()
    );
    let (status, msg) = post_json(&env.socket, "/v1/images/import?reference=stolen:1", &body);
    assert_eq!(status, 400, "{msg}");
    assert!(msg.contains("not an image archive"), "{msg}");
    let (status, msg) = post_json(
        &env.socket,
        "/v1/images/import",
        "{\"path\":\"/etc/shadow\",\"reference\":\"x:1\"}",
    );
    assert_eq!(status, 400, "{msg}");
    assert!(!msg.contains("/etc/shadow"), "{msg}");
    let ls = env.ok(&["image", "ls"]);
    assert!(!ls.contains("stolen"), "{ls}");
    assert!(ls.contains("busybox:test"), "{ls}");
    // Nothing of the refused uploads stays behind.
    assert_eq!(
        entries(&env.data_root.join("images/uploads")),
        Vec::<String>::new()
    );
}

#[test]
fn names_sent_straight_to_the_api_are_checked() {
    if skip_unless_root("names_sent_straight_to_the_api_are_checked") {
        return;
    }
    let env = Env::new("apinames");
    let _d = daemon(&env, "", None);
    let (status, msg) = post_json(
        &env.socket,
        "/v1/projects/..%2F..%2F..%2Ftmp%2Fx/down",
        "{}",
    );
    assert_eq!(status, 400, "{msg}");
    assert!(msg.contains("invalid project name"), "{msg}");
    let long = "a".repeat(300);
    let (status, msg) = post_json(&env.socket, &format!("/v1/projects/{long}/down"), "{}");
    assert_eq!(status, 400, "{msg}");
    assert!(msg.contains("300 bytes"), "{msg}");
    let (status, msg) = post_json(
        &env.socket,
        "/v1/projects/web/stop",
        "{\"services\":[\"../../x\"]}",
    );
    assert_eq!(status, 400, "{msg}");
    assert!(msg.contains("invalid service name"), "{msg}");
    let (status, msg) = post_json(
        &env.socket,
        "/v1/projects/web/logs/stream",
        &format!(
            "{{\"services\":[\"{}\"],\"follow\":false,\"tail\":null}}",
            "s".repeat(300)
        ),
    );
    assert_eq!(status, 400, "{msg}");
    // The CLI applies the same rule, with the place in the file.
    let stack = env.write(
        "compose.yaml",
        &format!("name: {long}\nservices:\n  web:\n    image: busybox:test\n"),
    );
    let out = env.run(&["-f", stack.to_str().expect("utf8"), "config"]);
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("300 bytes") && err.contains("compose.yaml:1:7"),
        "{err}"
    );
}

#[test]
fn idle_connections_never_lock_the_daemon_out() {
    if skip_unless_root("idle_connections_never_lock_the_daemon_out") {
        return;
    }
    let env = Env::new("idleconns");
    // 256 descriptors: 300 idle connections would take the daemon's last one.
    let _d = daemon(&env, "max_connections = 16", Some(256));
    // A request in flight: an upload that has sent its header and 10 bytes of 64 KiB.
    let mut busy = UnixStream::connect(&env.socket).expect("connect");
    busy.set_read_timeout(Some(HANG)).expect("timeout");
    let len = 64 << 10;
    write!(
        busy,
        "POST /v1/images/import?reference=busy:1 HTTP/1.1\r\nHost: rstack\r\nContent-Length: {len}\r\nConnection: close\r\n\r\n0123456789"
    )
    .expect("send");
    // Made sure the daemon has it before the flood.
    let _ = env.ok(&["version"]);
    let idle: Vec<UnixStream> = (0..300)
        .map(|_| UnixStream::connect(&env.socket).expect("connect"))
        .collect();
    let out = run_guarded(&env, &["version"]);
    assert!(
        out.status.success() && String::from_utf8_lossy(&out.stdout).contains("daemon version"),
        "version at the cap: {out:?}\n{}",
        std::fs::read_to_string(env.dir.join("daemon-by-hand.log")).unwrap_or_default()
    );
    // The oldest idle connection was closed for the new ones.
    let mut first = &idle[0];
    first.set_read_timeout(Some(HANG)).expect("timeout");
    let mut buf = [0u8; 64];
    match first.read(&mut buf) {
        Ok(0) => {}
        Err(e) if e.kind() == std::io::ErrorKind::ConnectionReset => {}
        other => panic!("the oldest idle connection is still open: {other:?}"),
    }
    // The upload in flight was kept: it completes and gets its answer.
    busy.write_all(&vec![0u8; len - 10])
        .expect("rest of the body");
    let mut answer = String::new();
    busy.read_to_string(&mut answer).expect("answer");
    assert!(answer.contains("not an image archive"), "{answer}");
    drop(idle);
}

#[test]
fn a_connection_that_sends_no_header_is_closed() {
    if skip_unless_root("a_connection_that_sends_no_header_is_closed") {
        return;
    }
    let env = Env::new("hdrtimeout");
    let _d = daemon(&env, "header_read_timeout = \"300ms\"", None);
    let mut s = UnixStream::connect(&env.socket).expect("connect");
    s.set_read_timeout(Some(HANG)).expect("timeout");
    s.write_all(b"GET /v1/version HTTP/1.1\r\nHost: rs")
        .expect("half a header");
    let mut buf = Vec::new();
    match s.read_to_end(&mut buf) {
        Ok(_) => {}
        Err(e) if e.kind() == std::io::ErrorKind::ConnectionReset => {}
        Err(e) => panic!("the connection was held open: {e}"),
    }
    // A connection that sends nothing at all is closed too.
    let mut s = UnixStream::connect(&env.socket).expect("connect");
    s.set_read_timeout(Some(HANG)).expect("timeout");
    match s.read(&mut [0u8; 16]) {
        Ok(0) => {}
        Err(e) if e.kind() == std::io::ErrorKind::ConnectionReset => {}
        other => panic!("the silent connection was held open: {other:?}"),
    }
    env.ok(&["version"]);
}

#[test]
fn a_gzip_bomb_layer_is_refused_and_leaves_nothing() {
    if skip_unless_root("a_gzip_bomb_layer_is_refused_and_leaves_nothing") {
        return;
    }
    let env = Env::new("gzbomb");
    let _d = daemon(&env, "image_max_unpacked = \"8MiB\"", None);
    let bomb = env.dir.join("bomb.tar.gz");
    zeros_layer(&bomb, 64 << 20);
    assert!(std::fs::metadata(&bomb).expect("bomb").len() < 256 << 10);
    let out = env.run(&["image", "import", bomb.to_str().expect("utf8"), "bomb:1"]);
    assert!(!out.status.success(), "{out:?}");
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("bomb.tar.gz")
            && err.contains("image_max_unpacked")
            && err.contains("8.0 MiB"),
        "{err}"
    );
    let images = env.data_root.join("images");
    for dir in ["layers", "blobs/sha256", "tmp", "uploads"] {
        assert_eq!(entries(&images.join(dir)), Vec::<String>::new(), "{dir}");
    }
    assert!(!env.ok(&["image", "ls"]).contains("bomb"));
    // Under the limit, the same kind of layer is imported, and `image ls` shows what it
    // takes unpacked, with the compressed size beside it in JSON.
    let small = env.dir.join("small.tar.gz");
    zeros_layer(&small, 3 << 20);
    env.ok(&["image", "import", small.to_str().expect("utf8"), "small:1"]);
    let list: Vec<Value> =
        serde_json::from_str(&env.ok(&["image", "ls", "--format", "json"])).expect("json");
    let row = list
        .iter()
        .find(|r| r["reference"] == "small:1")
        .expect("listed");
    assert_eq!(row["size"], 3 << 20, "{row}");
    assert!(
        row["compressed_size"].as_u64().expect("compressed") < 256 << 10,
        "{row}"
    );
    let ls = env.ok(&["image", "ls"]);
    assert!(ls.contains("3.1MB"), "{ls}");
    env.import_busybox();
}

#[test]
fn an_alias_bomb_is_refused_at_its_alias() {
    let env = Env::new("aliasbomb");
    let mut text = String::from("services:\n  web:\n    image: busybox\n");
    text.push_str(&format!("x-s0: &s0 \"{}\"\n", "A".repeat(4096)));
    for i in 1..=6 {
        let items = vec![format!("*s{}", i - 1); 10].join(", ");
        text.push_str(&format!("x-s{i}: &s{i} [{items}]\n"));
    }
    assert!(text.len() < 5000);
    let file = env.write("compose.yaml", &text);
    for cmd in ["config", "validate"] {
        let out = env.run(&["-f", file.to_str().expect("utf8"), cmd]);
        assert!(!out.status.success(), "{cmd} took the bomb as valid");
        let err = String::from_utf8_lossy(&out.stderr);
        // x-s5's first alias is where the expansion passes 64 MiB.
        assert!(
            err.contains("size limit") && err.contains("compose.yaml:9:12"),
            "{cmd}: {err}"
        );
    }
}
