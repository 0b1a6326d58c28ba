//! Shared harness for integration tests that drive the real `rstack` binary as root.
//!
//! Each `Env` gets its own data root, socket and project names, so tests run in parallel;
//! dropping it takes every project down, stops the daemon it started (by PID) and checks
//! nothing is left, even when the test failed.

#![allow(dead_code)]

use serde_json::Value;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

static COUNTER: AtomicU32 = AtomicU32::new(0);

pub fn bin() -> &'static str {
    env!("CARGO_BIN_EXE_rstack")
}

pub fn is_root() -> bool {
    // SAFETY: getuid has no preconditions.
    unsafe { libc::getuid() == 0 }
}

/// Skips (returns true) when the test cannot run here, saying why. With
/// `RSTACK_REQUIRE_ROOT_TESTS=1` (set by .ci/run) a missing prerequisite fails the test
/// instead, so CI can never pass by skipping.
pub fn skip_unless_root(test: &str) -> bool {
    let missing = if !is_root() {
        "needs root (CI runs as root)"
    } else if !Path::new("/bin/busybox").exists() {
        "needs /bin/busybox (apt-get install busybox-static)"
    } else {
        return false;
    };
    assert!(
        std::env::var_os("RSTACK_REQUIRE_ROOT_TESTS").is_none(),
        "{test} {missing}"
    );
    eprintln!("skipping {test}: {missing}");
    true
}

pub struct Env {
    pub dir: PathBuf,
    pub data_root: PathBuf,
    pub socket: PathBuf,
    pub work: PathBuf,
    projects: Vec<String>,
}

impl Env {
    pub fn new(tag: &str) -> Env {
        let n = COUNTER.fetch_add(1, Ordering::Relaxed);
        let dir = PathBuf::from(format!("/tmp/rstack-it-{tag}-{}-{n}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(dir.join("work")).expect("mkdir test dir");
        Env {
            data_root: dir.join("data"),
            socket: dir.join("rstack.sock"),
            work: dir.join("work"),
            dir,
            projects: Vec::new(),
        }
    }

    /// A unique project name, taken down when the Env is dropped.
    pub fn project(&mut self, name: &str) -> String {
        let p = format!(
            "{name}{}x{}",
            std::process::id(),
            COUNTER.fetch_add(1, Ordering::Relaxed)
        );
        self.projects.push(p.clone());
        p
    }

    pub fn cmd(&self, args: &[&str]) -> Command {
        let mut c = Command::new(bin());
        c.args(args)
            .current_dir(&self.work)
            .env("RSTACK_SOCKET", &self.socket)
            .env("RSTACK_DATA_ROOT", &self.data_root)
            .env_remove("COMPOSE_FILE")
            .env_remove("COMPOSE_PROJECT_NAME")
            .stdin(Stdio::null());
        c
    }

    pub fn run(&self, args: &[&str]) -> Output {
        self.cmd(args).output().expect("run rstack")
    }

    /// Runs and asserts success; returns stdout.
    pub fn ok(&self, args: &[&str]) -> String {
        let out = self.run(args);
        assert!(
            out.status.success(),
            "rstack {args:?} failed ({}):\nstdout: {}\nstderr: {}\ndaemon log: {}",
            out.status,
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr),
            self.daemon_log()
        );
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    pub fn daemon_log(&self) -> String {
        std::fs::read_to_string(self.data_root.join("daemon.log")).unwrap_or_default()
    }

    pub fn write(&self, name: &str, text: &str) -> PathBuf {
        let p = self.work.join(name);
        std::fs::write(&p, text).expect("write file");
        p
    }

    /// Imports the busybox test image as `busybox:test` (starting the daemon).
    pub fn import_busybox(&self) {
        let tar = busybox_rootfs_tar(&self.dir);
        self.ok(&[
            "image",
            "import",
            tar.to_str().expect("utf8"),
            "busybox:test",
        ]);
    }

    /// Every container of `project` as the daemon describes it (rstack's own view: `state`,
    /// `pid`, `restarts`, `exit_code`...). `ps --format json` prints compose's keys instead
    /// (tests/compose_output.rs); this is what it printed before it did, read from the
    /// daemon's `GET /v1/containers` through the same socket the CLI uses.
    pub fn ps_json(&self, project: &str) -> Vec<Value> {
        rstack::api::Client::new(self.socket.clone())
            .call::<(), Vec<Value>>("GET", &format!("/v1/containers?project={project}"), None)
            .unwrap_or_else(|e| {
                panic!(
                    "listing {project}'s containers: {e}\ndaemon log: {}",
                    self.daemon_log()
                )
            })
    }

    pub fn service<'a>(&self, rows: &'a [Value], service: &str) -> &'a Value {
        rows.iter()
            .find(|r| {
                r["service"] == service && r["name"].as_str().is_some_and(|n| !n.contains("-run-"))
            })
            .unwrap_or_else(|| panic!("no container for {service} in {rows:?}"))
    }

    /// Polls `ps` until `check` holds for the service (or panics after `secs`).
    pub fn wait_for(
        &self,
        project: &str,
        service: &str,
        secs: u64,
        check: impl Fn(&Value) -> bool,
    ) -> Value {
        let deadline = Instant::now() + Duration::from_secs(secs);
        loop {
            let rows = self.ps_json(project);
            if let Some(r) = rows.iter().find(|r| r["service"] == service) {
                if check(r) {
                    return r.clone();
                }
                if Instant::now() > deadline {
                    panic!(
                        "timed out waiting on {service}: {r}\ndaemon log: {}",
                        self.daemon_log()
                    );
                }
            } else if Instant::now() > deadline {
                panic!("no container for {service}: {rows:?}");
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// Sends `signal` to this Env's daemon and waits (5 s at most) until it is gone.
    pub fn stop_daemon(&self, signal: i32) {
        let pid = self.daemon_pid().expect("a running daemon");
        // SAFETY: signalling the daemon this test started, by its pid.
        unsafe { libc::kill(pid, signal) };
        let deadline = Instant::now() + Duration::from_secs(5);
        while Path::new(&format!("/proc/{pid}")).exists() {
            assert!(Instant::now() < deadline, "daemon {pid} did not stop");
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// Starts `rstack daemon` by hand (log in the test dir) and waits until it answers.
    pub fn start_daemon(&self) -> std::process::Child {
        self.start_daemon_with("daemon-by-hand.log", &[])
    }

    /// As `start_daemon`, with `extra` arguments to `rstack daemon` and its log in `log_name`.
    pub fn start_daemon_with(&self, log_name: &str, extra: &[&str]) -> std::process::Child {
        self.start_daemon_within(log_name, extra, 10)
    }

    /// As `start_daemon_with`, waiting `secs` at most for the daemon to answer.
    pub fn start_daemon_within(
        &self,
        log_name: &str,
        extra: &[&str],
        secs: u64,
    ) -> std::process::Child {
        let log = self.dir.join(log_name);
        let mut args = vec!["daemon", "--socket", self.socket.to_str().expect("utf8")];
        args.extend_from_slice(extra);
        let child = self
            .cmd(&args)
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(&log).expect("log"))
            .spawn()
            .expect("daemon");
        self.wait_daemon_up_within(&log, secs);
        child
    }

    /// Waits (10 s at most) until this Env's daemon answers `version`; panics with the
    /// daemon's `log` otherwise.
    pub fn wait_daemon_up(&self, log: &Path) {
        self.wait_daemon_up_within(log, 10)
    }

    /// As `wait_daemon_up`, for `secs` at most.
    pub fn wait_daemon_up_within(&self, log: &Path, secs: u64) {
        let deadline = Instant::now() + Duration::from_secs(secs);
        while !String::from_utf8_lossy(&self.run(&["version"]).stdout).contains("daemon version") {
            assert!(
                Instant::now() < deadline,
                "daemon did not come up: {}",
                std::fs::read_to_string(log).unwrap_or_default()
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    fn daemon_pid(&self) -> Option<i32> {
        std::fs::read_to_string(self.data_root.join("daemon.lock"))
            .ok()?
            .trim()
            .parse()
            .ok()
    }
}

impl Drop for Env {
    fn drop(&mut self) {
        // A test that failed while its daemon was down (killed on purpose) would otherwise
        // leave its containers running: `down` does not start a daemon.
        let alive = self
            .daemon_pid()
            .is_some_and(|pid| Path::new(&format!("/proc/{pid}")).exists());
        let mut revived = None;
        if !alive && !self.projects.is_empty() && self.data_root.join("state.db").exists() {
            revived = self
                .cmd(&[
                    "daemon",
                    "--socket",
                    self.socket.to_str().unwrap_or_default(),
                ])
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .spawn()
                .ok();
            let deadline = Instant::now() + Duration::from_secs(10);
            while Instant::now() < deadline
                && !String::from_utf8_lossy(&self.run(&["version"]).stdout)
                    .contains("daemon version")
            {
                std::thread::sleep(Duration::from_millis(20));
            }
        }
        for p in &self.projects {
            let _ = self
                .cmd(&["-p", p, "down", "-t", "1", "--remove-orphans"])
                .output();
        }
        if let Some(mut child) = revived {
            // SAFETY: signalling the daemon started just above, by its pid; then reaping it.
            unsafe { libc::kill(child.id() as i32, libc::SIGTERM) };
            let _ = child.wait();
        }
        if let Some(pid) = self.daemon_pid() {
            // SAFETY: signalling the daemon this test started, by its pid.
            unsafe { libc::kill(pid, libc::SIGTERM) };
            let deadline = Instant::now() + Duration::from_secs(5);
            while Path::new(&format!("/proc/{pid}")).exists() && Instant::now() < deadline {
                std::thread::sleep(Duration::from_millis(20));
            }
        }
        // Networks a failed test left (`down` removes a stack's): their bridges and the
        // daemon's nftables table, so nothing of this test stays on the host.
        remove_networks_of(&self.data_root);
        // Anything still mounted under our directory means a leak; unmount so the machine
        // stays clean, and let the leak checks in the tests report it.
        if let Ok(mi) = std::fs::read_to_string("/proc/self/mountinfo") {
            let dir = self.dir.display().to_string();
            for line in mi.lines() {
                if let Some(mp) = line.split(' ').nth(4)
                    && mp.starts_with(&dir)
                {
                    let _ = Command::new("umount").arg("-l").arg(mp).status();
                }
            }
        }
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// A busybox root filesystem as a plain tar, built once per Env dir.
pub fn busybox_rootfs_tar(dir: &Path) -> PathBuf {
    let root = dir.join("rootfs");
    let tar = dir.join("busybox-rootfs.tar");
    if tar.exists() {
        return tar;
    }
    for d in ["bin", "etc", "tmp", "root", "proc", "sys", "dev", "mnt"] {
        std::fs::create_dir_all(root.join(d)).expect("mkdir rootfs");
    }
    std::fs::copy("/bin/busybox", root.join("bin/busybox")).expect("copy busybox");
    let list = Command::new("/bin/busybox")
        .arg("--list")
        .output()
        .expect("busybox --list");
    for applet in String::from_utf8_lossy(&list.stdout).lines() {
        if applet != "busybox" {
            let _ = std::os::unix::fs::symlink("busybox", root.join("bin").join(applet));
        }
    }
    std::fs::write(
        root.join("etc/passwd"),
        "root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/:/bin/false\n",
    )
    .expect("passwd");
    std::fs::write(root.join("etc/group"), "root:x:0:\nnogroup:x:65534:\n").expect("group");
    let st = Command::new("tar")
        .args([
            "-C",
            root.to_str().expect("utf8"),
            "-cf",
            tar.to_str().expect("utf8"),
            ".",
        ])
        .status()
        .expect("tar");
    assert!(st.success(), "tar failed");
    tar
}

/// Cgroup directories rstack made for a container id, on any hierarchy.
pub fn cgroup_dirs(id: &str) -> Vec<PathBuf> {
    let mut found = Vec::new();
    if let Ok(entries) = std::fs::read_dir("/sys/fs/cgroup") {
        for e in entries.flatten() {
            for p in [e.path().join("rstack").join(id), e.path().join(id)] {
                if p.exists() {
                    found.push(p);
                }
            }
        }
    }
    found
}

pub fn mounts_under(dir: &Path) -> Vec<String> {
    let d = dir.display().to_string();
    std::fs::read_to_string("/proc/self/mountinfo")
        .unwrap_or_default()
        .lines()
        .filter_map(|l| l.split(' ').nth(4))
        .filter(|mp| mp.starts_with(&d))
        .map(str::to_string)
        .collect()
}

/// A root test's environment: its own daemon (started on first use), a unique project name,
/// and the busybox image imported. `None` (skipped, or failed under CI) without root.
pub fn setup(tag: &str) -> Option<(Env, String)> {
    if skip_unless_root(tag) {
        return None;
    }
    let mut env = Env::new(tag);
    let p = env.project(tag);
    env.import_busybox();
    Some((env, p))
}

/// The parent pid of a live process, from /proc/PID/stat.
pub fn parent_of(pid: i64) -> Option<i32> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // The command name may hold spaces and parentheses: parse after its last ')'.
    stat[stat.rfind(')')? + 1..]
        .split_whitespace()
        .nth(1)?
        .parse()
        .ok()
}

/// A live process that is not a zombie.
pub fn alive(pid: i32) -> bool {
    std::fs::read_to_string(format!("/proc/{pid}/stat"))
        .ok()
        .and_then(|s| {
            s.get(s.rfind(')')? + 2..)
                .map(|r| !r.starts_with('Z') && !r.starts_with('X'))
        })
        .unwrap_or(false)
}

impl Env {
    /// Runs `rstack daemon` by hand where it is expected to refuse to start: its exit status
    /// (`None` if it was still running after 10 s, and was then killed) and what it logged.
    pub fn daemon_refusal(&self) -> (Option<std::process::ExitStatus>, String) {
        let log = self.dir.join("refused-daemon.log");
        let mut refused = self
            .cmd(&["daemon", "--socket", self.socket.to_str().expect("utf8")])
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(&log).expect("log"))
            .spawn()
            .expect("daemon");
        let deadline = Instant::now() + Duration::from_secs(10);
        let st = loop {
            if let Some(st) = refused.try_wait().expect("wait") {
                break Some(st);
            }
            if Instant::now() > deadline {
                let _ = refused.kill();
                let _ = refused.wait();
                break None;
            }
            std::thread::sleep(Duration::from_millis(20));
        };
        (st, std::fs::read_to_string(&log).unwrap_or_default())
    }
}
pub mod fixtures;
#[allow(unused_imports)]
pub use fixtures::*;
pub mod nodaemon;
pub mod poll;
#[allow(unused_imports)]
pub use poll::{poll_for, poll_until};
pub mod registry;
pub mod run;
pub mod stream;
#[allow(unused_imports)]
pub use stream::Gathered;
pub mod sync;

/// Deletes the bridges of the network records under `data_root` and its daemon's nftables
/// table (named in `networks/nft-table`).
pub fn remove_networks_of(data_root: &Path) {
    let dir = data_root.join("networks");
    if let Ok(entries) = std::fs::read_dir(&dir) {
        for e in entries.flatten() {
            let Ok(text) = std::fs::read_to_string(e.path()) else {
                continue;
            };
            let Ok(rec) = serde_json::from_str::<Value>(&text) else {
                continue;
            };
            if let Some(bridge) = rec["bridge"].as_str() {
                let _ = Command::new("ip")
                    .args(["link", "del", bridge])
                    .stderr(Stdio::null())
                    .status();
            }
        }
    }
    if let Ok(table) = std::fs::read_to_string(dir.join("nft-table")) {
        let _ = Command::new("nft")
            .args(["delete", "table", "ip", table.trim()])
            .stderr(Stdio::null())
            .status();
    }
}

/// As `setup`, where the test's name for the skip message (`test`) differs from the tag of
/// its directory and project (`tag`).
pub fn setup_named(test: &str, tag: &str) -> Option<(Env, String)> {
    if skip_unless_root(test) {
        return None;
    }
    let mut env = Env::new(tag);
    env.import_busybox();
    let p = env.project(tag);
    Some((env, p))
}
