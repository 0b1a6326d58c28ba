//! Logs end to end (root only): a chatty service's log is rotated as rstack.toml's `[log]` and
//! the service's `logging` say, `logs` reads across the rotated files (with --tail, without,
//! and following), and the daemon stays small while 200 MB of output is written and read.

mod common;

use common::*;
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

/// The daemon's rotation in this test (`[log]` in its rstack.toml): 1 MB x 3 files.
const MAX_SIZE: u64 = 1_000_000;
const MAX_FILE: u32 = 3;
/// A record is a 1001-byte line plus its JSON wrapping: a file may exceed the size by one.
const ONE_RECORD: u64 = 4096;
/// The chatty service's padding: 200,000 lines of 1000 'x' and a newline, 200 MB.
const PAD_BYTES: u64 = 1001 * 200_000;
const NUMBERED: usize = 20_000;
/// The daemon's peak resident memory must stay below this.
const RSS_LIMIT_KB: u64 = 50 * 1024;

/// Starts this Env's daemon with `[log]` settings (instead of the auto-started one).
fn daemon_with_log_config(env: &Env) -> Child {
    let cfg = env.dir.join("rstack.toml");
    std::fs::write(
        &cfg,
        format!("[log]\nmax_size = \"1m\"\nmax_file = {MAX_FILE}\n"),
    )
    .expect("write config");
    env.start_daemon_within(
        "daemon-logs-test.log",
        &["--config", cfg.to_str().expect("utf8")],
        20,
    )
}

/// The state directory of the project's container of `service`.
fn state_dir(env: &Env, project: &str, service: &str) -> PathBuf {
    let rows = env.ps_json(project);
    let id = env.service(&rows, service)["id"]
        .as_str()
        .expect("id")
        .to_string();
    env.data_root.join("containers").join(id)
}

/// Log files in `dir` that break the bound: a name beyond `max_file` files, or a file larger
/// than `max_size` plus one record. Each file is judged alone, so a rotation in the middle
/// of the listing cannot make a false alarm, and together they bound the total.
fn over_bound(dir: &Path, max_size: u64, max_file: u32) -> Vec<String> {
    let allowed: Vec<String> = (0..max_file)
        .map(|n| match n {
            0 => "container.log".to_string(),
            n => format!("container.log.{n}"),
        })
        .collect();
    let mut bad = Vec::new();
    for e in std::fs::read_dir(dir).into_iter().flatten().flatten() {
        let name = e.file_name().to_string_lossy().into_owned();
        if !name.starts_with("container.log") {
            continue;
        }
        let len = e.metadata().map(|m| m.len()).unwrap_or(0);
        if !allowed.contains(&name) || len > max_size + ONE_RECORD {
            bad.push(format!("{name}: {len} bytes"));
        }
    }
    bad
}

/// Peak resident memory of a process, in kB.
fn vm_hwm_kb(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).expect("daemon status");
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .expect("VmHWM")
}

/// What a follower of the chatty service saw.
#[derive(Default)]
struct Followed {
    lines: u64,
    numbered: Vec<usize>,
}

/// `logs -f` of the chatty service, its output read by a thread; `end` is set once it has
/// printed END.
fn follow_chatty(
    env: &Env,
    project: &str,
    end: Arc<AtomicBool>,
) -> (Child, std::thread::JoinHandle<Followed>) {
    let mut child = env
        .cmd(&["-p", project, "logs", "-f", "--no-log-prefix", "chatty"])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("logs -f");
    let out = child.stdout.take().expect("stdout");
    let reader = std::thread::spawn(move || {
        let mut seen = Followed::default();
        for line in BufReader::new(out).lines() {
            let Ok(line) = line else { break };
            seen.lines += 1;
            if let Some(n) = line.strip_prefix("n ").and_then(|n| n.parse().ok()) {
                seen.numbered.push(n);
            }
            if line == "END" {
                end.store(true, Ordering::Relaxed);
            }
        }
        seen
    });
    (child, reader)
}

#[test]
fn chatty_logs_rotate_and_are_read_in_bounded_memory() {
    if skip_unless_root("chatty_logs_rotate_and_are_read_in_bounded_memory") {
        return;
    }
    let mut env = Env::new("logs");
    let p = env.project("logs");
    let mut daemon = daemon_with_log_config(&env);
    env.import_busybox();
    // `$$` is a literal `$` in a stack file.
    env.write(
        "compose.yaml",
        &format!(
            r#"name: {p}
services:
  chatty:
    image: busybox:test
    init: true
    stop_grace_period: 1s
    command:
      - sh
      - -c
      - |
        pad=$$(head -c 1000 /dev/zero | tr '\000' x)
        yes "$$pad" | head -c {PAD_BYTES}
        awk 'BEGIN {{ for (i = 0; i < {NUMBERED}; i++) print "n " i }}'
        echo END
        exec sleep 1000
  small:
    image: busybox:test
    init: true
    stop_grace_period: 1s
    logging:
      driver: local
      options: {{max-size: 100k, max-file: "2"}}
    command: ["sh", "-c", "yes 0123456789 | head -c 1980000; echo DONE; exec sleep 1000"]
  silent:
    image: busybox:test
    init: true
    stop_grace_period: 1s
    logging:
      driver: none
    command: ["sh", "-c", "echo hidden; exec sleep 1000"]
"#
        ),
    );
    env.ok(&["up", "-d"]);
    let chatty_dir = state_dir(&env, &p, "chatty");
    let followed_end = Arc::new(AtomicBool::new(false));
    let (mut follower, followed) = follow_chatty(&env, &p, followed_end.clone());

    // The files are watched all the while the service writes.
    let stop = Arc::new(AtomicBool::new(false));
    let watcher = {
        let (stop, dir) = (stop.clone(), chatty_dir.clone());
        std::thread::spawn(move || {
            let mut bad = Vec::new();
            while !stop.load(Ordering::Relaxed) && bad.len() < 10 {
                bad.extend(over_bound(&dir, MAX_SIZE, MAX_FILE));
                std::thread::sleep(Duration::from_millis(5));
            }
            bad
        })
    };
    let tail = |n: &str| env.ok(&["-p", &p, "logs", "--no-log-prefix", "--tail", n, "chatty"]);
    let deadline = Instant::now() + Duration::from_secs(240);
    while tail("1") != "END\n" {
        if Instant::now() > deadline || watcher.is_finished() {
            break;
        }
        std::thread::sleep(Duration::from_millis(250));
    }
    stop.store(true, Ordering::Relaxed);
    let bad = watcher.join().expect("watcher");
    assert!(bad.is_empty(), "log files beyond the bound: {bad:?}");
    assert_eq!(tail("1"), "END\n", "the service did not finish writing");
    let want: String = (NUMBERED - 2..NUMBERED)
        .map(|i| format!("n {i}\n"))
        .chain(["END\n".to_string()])
        .collect();
    assert_eq!(tail("3"), want);

    // Without --tail: every retained file, oldest first. The numbered lines (1.6 MB of
    // log) are all within the last 3 files, after the padding.
    let all = env.ok(&["-p", &p, "logs", "--no-log-prefix", "chatty"]);
    let numbered: Vec<usize> = all
        .lines()
        .filter_map(|l| l.strip_prefix("n ").and_then(|n| n.parse().ok()))
        .collect();
    assert_eq!(numbered, (0..NUMBERED).collect::<Vec<_>>());
    assert!(all.ends_with("n 19999\nEND\n"));
    let pad_lines = all.lines().filter(|l| l.starts_with("xxx")).count();
    assert!(
        pad_lines > 0 && (pad_lines as u64) < 3 * MAX_SIZE / 1000,
        "{pad_lines} padding lines: only the retained files are read"
    );

    // The follower went through some 200 rotations: in order, never a line twice (one that
    // falls more than two files behind may skip lines, as Docker's does), up to the end.
    let deadline = Instant::now() + Duration::from_secs(120);
    while !followed_end.load(Ordering::Relaxed) && !followed.is_finished() {
        assert!(Instant::now() < deadline, "the follower never printed END");
        std::thread::sleep(Duration::from_millis(50));
    }
    let _ = follower.kill();
    let _ = follower.wait();
    let seen = followed.join().expect("follower");
    assert!(seen.lines > 0);
    assert!(
        seen.numbered.windows(2).all(|w| w[0] < w[1]),
        "followed lines out of order or repeated"
    );

    // A service's own rotation.
    let small_dir = state_dir(&env, &p, "small");
    let small = env.ok(&["-p", &p, "logs", "--no-log-prefix", "--tail", "1", "small"]);
    assert_eq!(small, "DONE\n");
    assert!(over_bound(&small_dir, 100_000, 2).is_empty());
    assert!(small_dir.join("container.log.1").exists());

    // `driver: none`: nothing on disk, and `logs` says why, as Docker does.
    let silent_dir = state_dir(&env, &p, "silent");
    let out = env.run(&["-p", &p, "logs", "silent"]);
    assert!(out.status.success());
    assert!(out.stdout.is_empty());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("configured logging driver does not support reading"),
        "{err}"
    );
    assert_eq!(
        std::fs::metadata(silent_dir.join("container.log")).map_or(0, |m| m.len()),
        0
    );

    let hwm = vm_hwm_kb(daemon.id());
    eprintln!("daemon peak RSS: {hwm} kB");
    assert!(
        hwm < RSS_LIMIT_KB,
        "the daemon's peak RSS was {hwm} kB while 200 MB of logs were written and read"
    );
    drop(env);
    let _ = daemon.wait();
}

#[test]
fn an_unsupported_logging_driver_is_an_error_at_its_place() {
    // `config` needs no daemon (and so no root), and the Env has no project to take down.
    let env = Env::new("logdrv");
    env.write(
        "compose.yaml",
        "name: logdrv\nservices:\n  a:\n    image: busybox:test\n    logging:\n      driver: syslog\n",
    );
    let out = env.run(&["config"]);
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("compose.yaml:6:15")
            && err.contains("logging driver \"syslog\" is not supported"),
        "{err}"
    );
}
