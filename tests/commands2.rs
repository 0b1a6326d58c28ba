//! More compose commands around a stack (`rm`, `images`, `cp`, `export`, `stats`): the real
//! binary, real containers (root only). Each test's Env takes its project down when dropped,
//! failed or not.

mod common;

use common::*;
use serde_json::Value;
use std::io::Write;
use std::process::Stdio;

fn stack(project: &str) -> String {
    web_and_other_stack(project)
}

fn names(env: &Env, p: &str) -> Vec<String> {
    let mut n: Vec<String> = env
        .ps_json(p)
        .iter()
        .filter_map(|r| r["name"].as_str().map(String::from))
        .collect();
    n.sort();
    n
}

/// Runs rstack with `input` on stdin (a pipe, not a terminal).
fn with_input(env: &Env, args: &[&str], input: &str) -> std::process::Output {
    let mut child = env
        .cmd(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn rstack");
    child
        .stdin
        .take()
        .expect("stdin")
        .write_all(input.as_bytes())
        .expect("write stdin");
    child.wait_with_output().expect("wait rstack")
}

#[test]
fn rm_removes_stopped_containers_after_confirmation() {
    let Some((env, p)) = setup("cmdrm") else {
        return;
    };
    env.write("compose.yaml", &stack(&p));
    env.ok(&["up", "-d"]);
    let (web, other) = (format!("{p}-web-1"), format!("{p}-other-1"));

    // Running containers are not removed without -s.
    let out = env.run(&["rm", "-f"]);
    assert!(out.status.success(), "{out:?}");
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("No stopped containers"),
        "{out:?}"
    );
    assert_eq!(names(&env, &p), [other.clone(), web.clone()]);

    // Stopped, no terminal and no answer (stdin /dev/null): asked, declined, nothing removed.
    env.ok(&["stop", "-t", "1", "web"]);
    let asked = env.ok(&["rm", "web"]);
    assert!(asked.contains(&format!("Going to remove {web}")), "{asked}");
    assert_eq!(names(&env, &p).len(), 2);

    // A "y" on stdin confirms.
    let out = with_input(&env, &["rm", "web"], "y\n");
    assert!(out.status.success(), "{out:?}");
    assert!(
        String::from_utf8_lossy(&out.stderr).contains(&format!("Container {web}  Removed")),
        "{out:?}"
    );
    assert_eq!(names(&env, &p), [other.as_str()]);

    // -s -f: stops the running one, then removes it without asking.
    let out = env.ok(&["rm", "-s", "-f", "other"]);
    assert!(out.contains(&format!("Going to remove {other}")), "{out}");
    assert!(names(&env, &p).is_empty());
}

#[test]
fn images_lists_each_containers_image() {
    let Some((env, p)) = setup("cmdimages") else {
        return;
    };
    env.write("compose.yaml", &stack(&p));
    env.ok(&["up", "-d"]);
    let out = env.ok(&["images", "--format", "json"]);
    let rows: Vec<Value> = serde_json::from_str(&out).expect("images json");
    assert_eq!(rows.len(), 2, "{out}");
    assert_eq!(rows[0]["ContainerName"], format!("{p}-other-1"), "{out}");
    assert_eq!(rows[1]["Repository"], "busybox", "{out}");
    assert_eq!(rows[1]["Tag"], "test", "{out}");
    assert!(rows[1]["Size"].as_u64().is_some_and(|s| s > 0), "{out}");
    let id = rows[1]["ID"].as_str().expect("id").to_string();
    assert!(!id.is_empty(), "{out}");

    let table = env.ok(&["images", "web"]);
    let lines: Vec<&str> = table.lines().collect();
    assert!(lines[0].starts_with("CONTAINER"), "{table}");
    assert!(lines[0].contains("IMAGE ID"), "{table}");
    assert_eq!(lines.len(), 2, "only web: {table}");
    assert!(lines[1].starts_with(&format!("{p}-web-1")), "{table}");

    let quiet = env.ok(&["images", "-q"]);
    let bare = id.split_once(':').map(|(_, h)| h).unwrap_or(&id);
    assert_eq!(quiet.trim(), bare, "one id for both containers");
}

#[test]
fn cp_copies_both_ways_inside_the_containers_root() {
    let Some((env, p)) = setup("cmdcp") else {
        return;
    };
    env.write("compose.yaml", &stack(&p));
    env.ok(&["up", "-d", "web"]);
    let sh = |script: &str| env.ok(&["exec", "-T", "web", "sh", "-c", script]);

    // Into the container: into an existing directory, and to a new name.
    let local = env.write("hello.txt", "hello\n");
    let local = local.to_str().expect("utf8");
    env.ok(&["cp", local, "web:/tmp"]);
    env.ok(&["cp", local, "web:/tmp/renamed"]);
    assert_eq!(sh("cat /tmp/hello.txt /tmp/renamed"), "hello\nhello\n");

    // Out of it: a directory to a new local name, and as a tar stream.
    sh("mkdir -p /d/sub && echo hi > /d/sub/f && ln -s /etc /d/link");
    let got = env.work.join("got");
    env.ok(&["cp", "web:/d", got.to_str().expect("utf8")]);
    assert_eq!(
        std::fs::read_to_string(got.join("sub/f")).expect("copied"),
        "hi\n"
    );
    assert_eq!(
        std::fs::read_link(got.join("link")).expect("link kept"),
        std::path::Path::new("/etc")
    );
    let out = env.run(&["cp", "web:/d", "-"]);
    assert!(out.status.success(), "{out:?}");
    let names = tar_names(&out.stdout);
    assert!(names.iter().any(|n| n == "d/sub/f"), "{names:?}");

    // A symlink in the container pointing at a host path resolves in the container's root:
    // the host's file is not reachable through it.
    let host_only = format!("rstack-cp-hostonly-{}", std::process::id());
    std::fs::write(format!("/tmp/{host_only}"), "host secret").expect("host file");
    sh("ln -s /tmp /esc && ln -s ../../../../../tmp /esc2");
    for link in ["/esc", "/esc2"] {
        let stolen = env.work.join(format!("stolen{}", link.len()));
        let out = env.run(&[
            "cp",
            "-L",
            &format!("web:{link}/{host_only}"),
            stolen.to_str().expect("utf8"),
        ]);
        assert!(!out.status.success(), "copied a host file: {out:?}");
        assert!(!stolen.exists());
    }
    let _ = std::fs::remove_file(format!("/tmp/{host_only}"));

    // A tar stream on stdin whose entry climbs out with `..` is refused.
    let mut b = tar::Builder::new(Vec::new());
    let mut h = tar::Header::new_gnu();
    h.set_size(1);
    h.set_mode(0o644);
    h.as_gnu_mut().expect("gnu").name[..14].copy_from_slice(b"../../../evil\0");
    h.set_cksum();
    b.append(&h, &b"x"[..]).expect("append");
    let evil = b.into_inner().expect("tar");
    let out = with_input_bytes(&env, &["cp", "-", "web:/tmp"], &evil);
    assert!(!out.status.success(), "{out:?}");
    assert_eq!(sh("ls /evil 2>/dev/null; echo done"), "done\n");
}

#[test]
fn export_writes_the_containers_root_filesystem() {
    let Some((env, p)) = setup("cmdexport") else {
        return;
    };
    env.write("compose.yaml", &stack(&p));
    env.ok(&["up", "-d", "web"]);
    env.ok(&["exec", "-T", "web", "sh", "-c", "echo mark > /marker"]);
    let file = env.work.join("root.tar");
    env.ok(&["export", "web", "-o", file.to_str().expect("utf8")]);
    let names = tar_names(&std::fs::read(&file).expect("archive"));
    assert!(names.iter().any(|n| n == "marker"), "{names:?}");
    assert!(
        names.iter().any(|n| n == "bin/busybox" || n == "bin/sh"),
        "{names:?}"
    );
    // Mounted filesystems (/proc, /sys) are not part of it.
    assert!(!names.iter().any(|n| n.starts_with("proc/")), "{names:?}");
    let out = env.run(&["export", "web"]);
    assert!(out.status.success(), "{out:?}");
    assert!(tar_names(&out.stdout).iter().any(|n| n == "marker"));
}

/// Runs rstack with `input` (bytes) on stdin.
fn with_input_bytes(env: &Env, args: &[&str], input: &[u8]) -> std::process::Output {
    let mut child = env
        .cmd(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn rstack");
    let mut stdin = child.stdin.take().expect("stdin");
    stdin.write_all(input).expect("write stdin");
    drop(stdin);
    child.wait_with_output().expect("wait rstack")
}

#[test]
fn stats_reports_each_running_containers_use() {
    let Some((env, p)) = setup("cmdstats") else {
        return;
    };
    env.write(
        "compose.yaml",
        &format!(
            r#"name: {p}
services:
  busy:
    image: busybox:test
    stop_grace_period: 1s
    command: ["sh", "-c", "while :; do :; done"]
  idle:
    image: busybox:test
    stop_grace_period: 1s
    command: ["sleep", "1000"]
"#
        ),
    );
    env.ok(&["up", "-d"]);
    let out = env.ok(&["stats", "--no-stream", "--format", "json"]);
    let rows: Vec<Value> = out
        .lines()
        .map(|l| serde_json::from_str(l).expect("json line"))
        .collect();
    assert_eq!(rows.len(), 2, "{out}");
    let busy = &rows[0];
    assert_eq!(busy["Name"], format!("{p}-busy-1"), "{out}");
    let cpu: f64 = busy["CPUPerc"]
        .as_str()
        .and_then(|s| s.trim_end_matches('%').parse().ok())
        .expect("cpu %");
    assert!(cpu > 0.0, "a busy loop uses CPU: {out}");
    let idle = &rows[1];
    assert_eq!(idle["PIDs"], "1", "{out}");
    let mem = idle["MemUsage"].as_str().expect("mem");
    assert!(mem.contains(" / ") && !mem.starts_with("0B"), "{out}");
    assert_eq!(idle["ID"].as_str().map(str::len), Some(12), "{out}");

    let table = env.ok(&["stats", "--no-stream", "idle"]);
    let lines: Vec<&str> = table.lines().collect();
    assert!(lines[0].starts_with("CONTAINER ID"), "{table}");
    assert!(lines[0].contains("MEM USAGE / LIMIT"), "{table}");
    assert_eq!(lines.len(), 2, "{table}");
    assert!(lines[1].contains(&format!("{p}-idle-1")), "{table}");
}

#[test]
fn events_streams_the_containers_changes() {
    let Some((env, p)) = setup("cmdevents") else {
        return;
    };
    env.write("compose.yaml", &stack(&p));
    env.ok(&["up", "-d", "web"]);
    let mut child = env
        .cmd(&["events", "--json"])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("spawn events");
    let stdout = child.stdout.take().expect("stdout");
    let (tx, rx) = std::sync::mpsc::channel::<String>();
    std::thread::spawn(move || {
        use std::io::BufRead;
        for line in std::io::BufReader::new(stdout)
            .lines()
            .map_while(Result::ok)
        {
            if tx.send(line).is_err() {
                return;
            }
        }
    });
    // The stream is open once the daemon answered; a change after that is reported.
    std::thread::sleep(std::time::Duration::from_millis(500));
    env.ok(&["stop", "-t", "1", "web"]);
    env.ok(&["start", "web"]);
    let mut seen = Vec::new();
    let wanted = ["die", "start"];
    while !wanted.iter().all(|w| seen.iter().any(|(a, _)| a == w)) {
        let Ok(line) = rx.recv_timeout(std::time::Duration::from_secs(30)) else {
            break;
        };
        let e: Value = serde_json::from_str(&line).expect("event json");
        assert_eq!(e["type"], "container", "{line}");
        assert_eq!(e["attributes"]["name"], format!("{p}-web-1"), "{line}");
        seen.push((e["action"].as_str().unwrap_or("").to_string(), line));
    }
    let _ = child.kill();
    let _ = child.wait();
    let actions: Vec<&str> = seen.iter().map(|(a, _)| a.as_str()).collect();
    assert!(
        actions.windows(2).any(|w| w == ["die", "start"]),
        "{seen:?}"
    );
}
