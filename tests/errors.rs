//! Issue 10's errors that keep their kind, through the real binary: a full disk during an
//! image import is answered 507 with the OS error (it was 400), so is a full disk while `up`
//! starts a container (it was 500), and `exec` tells a missing program (127) from one that
//! cannot run (126) by the errno.

mod common;

use common::*;
use std::io::{Read, Write};
use std::os::unix::net::UnixStream;
use std::process::Command;

#[test]
fn exec_tells_not_found_from_not_executable() {
    if skip_unless_root("exec_codes") {
        return;
    }
    let mut env = Env::new("exec-codes");
    let p = env.project("execcodes");
    env.import_busybox();
    env.write(
        "compose.yaml",
        &format!(
            "name: {p}\nservices:\n  svc:\n    image: busybox:test\n    stop_grace_period: 1s\n    command: [\"sleep\", \"1000\"]\n"
        ),
    );
    env.ok(&["up", "-d"]);
    let code = |args: &[&str]| {
        let out = env.run(args);
        (
            out.status.code(),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        )
    };
    let (c, err) = code(&["exec", "svc", "/nonexistent"]);
    assert_eq!(c, Some(127), "{err}");
    assert!(err.contains("no such file or directory"), "{err}");
    let (c, err) = code(&["exec", "svc", "nosuchprogram"]);
    assert_eq!(c, Some(127), "{err}");
    // Exists, not executable: 126, whatever the message says.
    let (c, err) = code(&["exec", "svc", "/etc/passwd"]);
    assert_eq!(c, Some(126), "{err}");
    assert!(err.contains("permission denied"), "{err}");
    // A name holding the words the old message check looked for, on a plain file.
    env.ok(&["exec", "svc", "touch", "/tmp/not found"]);
    let (c, err) = code(&["exec", "svc", "/tmp/not found"]);
    assert_eq!(c, Some(126), "{err}");
}

/// `POST /v1/images/import` of `archive`, as the CLI sends it; the status and the body.
fn upload(socket: &std::path::Path, archive: &std::path::Path) -> (u16, String) {
    let data = std::fs::read(archive).expect("read archive");
    let mut s = UnixStream::connect(socket).expect("connect");
    let head = format!(
        "POST /v1/images/import?reference=big%3A1&name=big.tar HTTP/1.1\r\nHost: rstack\r\nContent-Type: application/octet-stream\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
        data.len()
    );
    // The daemon may answer before it read everything: its answer is what counts.
    let _ = s
        .write_all(head.as_bytes())
        .and_then(|_| s.write_all(&data));
    let mut answer = String::new();
    let _ = s.read_to_string(&mut answer);
    let status = answer
        .split_whitespace()
        .nth(1)
        .and_then(|c| c.parse().ok())
        .unwrap_or(0);
    (status, answer)
}

#[test]
fn a_full_disk_during_an_import_is_507_with_the_os_error() {
    if skip_unless_root("full_disk_import") {
        return;
    }
    let env = Env::new("full-disk");
    let tar = busybox_rootfs_tar(&env.dir);
    let len = std::fs::metadata(&tar).expect("tar").len();
    // Room for the upload itself and the daemon's own files, not for the import's copies.
    // Env's drop unmounts it (lazily) once the daemon is stopped, even after a failure.
    std::fs::create_dir_all(&env.data_root).expect("mkdir data root");
    let size = len + (512 << 10);
    let st = Command::new("mount")
        .args(["-t", "tmpfs", "-o", &format!("size={size},mode=0700")])
        .arg("tmpfs")
        .arg(&env.data_root)
        .status()
        .expect("mount");
    assert!(st.success(), "mount tmpfs");
    let mut daemon = env.start_daemon();
    let (status, answer) = upload(&env.socket, &tar);
    assert_eq!(status, 507, "{answer}");
    assert!(
        answer.contains("No space left on device") || answer.contains("free on the filesystem"),
        "{answer}"
    );
    // The CLI shows the daemon's message.
    let out = env.run(&["image", "import", tar.to_str().expect("utf8"), "big:2"]);
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("No space left on device") || err.contains("free on the filesystem"),
        "{err}"
    );
    // SAFETY: signalling the daemon this test started, by its pid; then reaping it.
    unsafe { libc::kill(daemon.id() as i32, libc::SIGTERM) };
    let _ = daemon.wait();
}

/// `POST path` with a JSON body; the status and the whole answer.
fn post_json(socket: &std::path::Path, path: &str, body: &str) -> (u16, String) {
    let mut s = UnixStream::connect(socket).expect("connect");
    let req = format!(
        "POST {path} HTTP/1.1\r\nHost: rstack\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    );
    s.write_all(req.as_bytes()).expect("send");
    let mut answer = String::new();
    let _ = s.read_to_string(&mut answer);
    let status = answer
        .split_whitespace()
        .nth(1)
        .and_then(|c| c.parse().ok())
        .unwrap_or(0);
    (status, answer)
}

#[test]
fn a_full_disk_while_up_starts_a_container_is_507_with_the_os_error() {
    if skip_unless_root("full_disk_up") {
        return;
    }
    let mut env = Env::new("full-disk-up");
    let p = env.project("fulldiskup");
    // The containers' state directories on a full filesystem, the image store and the state
    // database on the roomy one: the start itself is what finds the disk full. Env's drop
    // unmounts it (lazily) once the daemon is stopped, even after a failure.
    let containers = env.data_root.join("containers");
    std::fs::create_dir_all(&containers).expect("mkdir containers");
    let st = Command::new("mount")
        .args(["-t", "tmpfs", "-o", "size=4k,mode=0700", "tmpfs"])
        .arg(&containers)
        .status()
        .expect("mount");
    assert!(st.success(), "mount tmpfs");
    let mut filler = std::fs::File::create(containers.join("filler")).expect("filler");
    let page = [0u8; 4096];
    while filler.write_all(&page).is_ok() {}
    drop(filler);
    env.import_busybox();
    let body = format!(
        "{{\"stack\":{{\"name\":\"{p}\",\"working_dir\":\"/\",\"services\":{{\"web\":{{\"name\":\"web\",\"image\":\"busybox:test\",\"command\":[\"sleep\",\"1000\"]}}}}}},\"services\":[],\"wait\":false,\"force_recreate\":false,\"remove_orphans\":false}}"
    );
    let (status, answer) = post_json(&env.socket, &format!("/v1/projects/{p}/up"), &body);
    assert_eq!(status, 507, "{answer}");
    assert!(
        answer.contains(&format!("container {p}-web-1: "))
            && answer.contains("No space left on device"),
        "{answer}"
    );
}
