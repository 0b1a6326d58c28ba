//! Real containers from a busybox rootfs, driven through the runtime's public API and the built
//! `rstack` binary (shim and nsexec). Needs root, cgroups and /bin/busybox (busybox-static).

mod common;

use common::skip_unless_root;
use rstack::runtime::cgroup::{Cgroup, Layout};
use rstack::runtime::config::{
    ContainerConfig, ExitStatus, MountConfig, ProcessConfig, ResourceConfig, RootConfig,
};
use rstack::runtime::{self, ExecSpec, Launched, SelfExe};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

const APPLETS: &[&str] = &[
    "sh", "ps", "cat", "hostname", "mount", "id", "sleep", "true", "false", "echo", "ls", "grep",
    "tail", "seq", "wc", "touch",
];

static COUNTER: AtomicU32 = AtomicU32::new(0);

fn exe() -> SelfExe {
    SelfExe::from_path(env!("CARGO_BIN_EXE_rstack"))
}

/// A container's dirs under a unique temp dir; Drop removes everything it could have left.
struct Fixture {
    base: PathBuf,
    cfg: ContainerConfig,
    launched: Option<Launched>,
    /// The daemon's start path: a spare shim made ahead, handed the container.
    pool: runtime::ShimPool,
}

impl Fixture {
    fn new(name: &str, args: &[&str]) -> Fixture {
        let n = COUNTER.fetch_add(1, Ordering::SeqCst);
        let id = format!("{name}-{}-{n}", std::process::id());
        let base = std::env::temp_dir().join(format!("rstack-rt-{id}"));
        let lower = base.join("rootfs");
        for d in ["bin", "etc", "mnt", "tmp", "proc", "dev", "sys"] {
            std::fs::create_dir_all(lower.join(d)).unwrap();
        }
        std::fs::copy("/bin/busybox", lower.join("bin/busybox")).unwrap();
        for a in APPLETS {
            std::os::unix::fs::symlink("busybox", lower.join("bin").join(a)).unwrap();
        }
        std::fs::write(
            lower.join("etc/passwd"),
            "root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/nonexistent:/bin/false\n",
        )
        .unwrap();
        std::fs::write(lower.join("etc/group"), "root:x:0:\nnogroup:x:65534:\n").unwrap();
        let cfg = ContainerConfig {
            id: id.clone(),
            hostname: format!("h{n}"),
            root: RootConfig {
                layers: vec![lower],
                upper: base.join("upper"),
                work: base.join("work"),
                merged: base.join("merged"),
                readonly: false,
                volatile: false,
            },
            process: ProcessConfig {
                args: args.iter().map(|s| s.to_string()).collect(),
                env: vec!["PATH=/bin".into()],
                cwd: "/".into(),
                user: None,
                capabilities: runtime::docker_default_capabilities(),
                no_new_privileges: false,
                rlimits: runtime::default_rlimits(),
                stdin: false,
                tty: None,
                attachable: false,
                group_add: Vec::new(),
            },
            mounts: vec![MountConfig {
                destination: "/tmp".into(),
                kind: "tmpfs".into(),
                source: "tmpfs".into(),
                options: vec!["nosuid".into(), "size=1m".into()],
                create_source: false,
                volume: None,
                seed: false,
                file: None,
            }],
            resources: ResourceConfig::default(),
            cgroup_path: format!("rstack-test-{}/{id}", std::process::id()),
            init: false,
            masked_paths: runtime::docker_default_masked_paths(),
            readonly_paths: runtime::docker_default_readonly_paths(),
            state_dir: base.join("state"),
            devices: Vec::new(),
            device_rules: Vec::new(),
            log: Default::default(),
            seccomp: Default::default(),
            seccomp_filter: None,
            host_network: false,
            network: Default::default(),
            sysctls: Vec::new(),
            shm_size: None,
            oom_score_adj: None,
            host_pid: false,
        };
        Fixture {
            base,
            cfg,
            launched: None,
            pool: runtime::ShimPool::new(exe(), None),
        }
    }

    /// Starts the container as the daemon does: the spare shim (exec'd ahead by `refill`) is
    /// handed the container, and its start report is read with the daemon's parser.
    fn launch(&mut self) -> Result<Launched, runtime::RuntimeError> {
        self.pool.refill();
        let l = self.pool.launch(&self.cfg)?;
        self.launched = Some(l);
        Ok(l)
    }

    /// Waits for exit.json and for the shim to be gone (teardown done).
    fn wait(&self) -> ExitStatus {
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            if let Some(e) = runtime::read_exit(&self.cfg.state_dir).unwrap() {
                if let Some(l) = self.launched {
                    while alive(l.shim_pid) && Instant::now() < deadline {
                        std::thread::sleep(Duration::from_millis(5));
                    }
                }
                return e;
            }
            assert!(Instant::now() < deadline, "container did not exit");
            std::thread::sleep(Duration::from_millis(5));
        }
    }

    fn log(&self) -> Vec<serde_json::Value> {
        std::fs::read_to_string(self.cfg.state_dir.join("container.log"))
            .unwrap_or_default()
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect()
    }

    fn stdout(&self) -> String {
        self.log()
            .iter()
            .filter(|v| v["stream"] == "stdout")
            .map(|v| v["log"].as_str().unwrap().to_string())
            .collect()
    }

    /// Every directory the container's cgroup may occupy, whatever the host's layout.
    fn cgroup_dirs(&self) -> Vec<PathBuf> {
        let layout = Layout::detect().unwrap();
        let all = ResourceConfig {
            memory: Some(1),
            cpu_quota: Some(1),
            cpu_period: Some(1),
            pids: Some(1),
            memory_reservation: None,
        };
        Cgroup::locate(&layout, &self.cfg.cgroup_path, &all)
            .unwrap()
            .dirs
    }

    /// Nothing of the container may remain on the host.
    fn assert_gone(&self) {
        let mi = std::fs::read_to_string("/proc/self/mountinfo").unwrap();
        assert!(
            !mi.contains(self.base.to_str().unwrap()),
            "mount left behind"
        );
        for d in self.cgroup_dirs() {
            assert!(!d.exists(), "cgroup {} left behind", d.display());
        }
        if let Some(l) = self.launched {
            assert!(!alive(l.pid), "container process left behind");
            assert!(!alive(l.shim_pid), "shim left behind");
        }
        // The writable layer outlives the process (a restart keeps it, as in Docker) and goes
        // with the container's removal.
        rstack::runtime::cleanup(&self.cfg).unwrap();
        assert!(!self.cfg.root.upper.exists() && !self.cfg.root.work.exists());
    }
}

impl Drop for Fixture {
    fn drop(&mut self) {
        if let Some(l) = self.launched
            && alive(l.pid)
        {
            let _ = runtime::signal(l.pid, libc::SIGKILL);
        }
        let _ = runtime::cleanup(&self.cfg);
        let _ = std::fs::remove_dir_all(&self.base);
        // The shared per-process parent goes with the last fixture (rmdir fails while in use).
        for d in self.cgroup_dirs() {
            if let Some(parent) = d.parent() {
                let _ = std::fs::remove_dir(parent);
            }
        }
    }
}

fn alive(pid: i32) -> bool {
    // A zombie still counts until its parent reaps it; /proc/PID/stat shows state Z.
    match std::fs::read_to_string(format!("/proc/{pid}/stat")) {
        Ok(s) => !s
            .rsplit(')')
            .next()
            .unwrap_or("")
            .trim_start()
            .starts_with('Z'),
        Err(_) => false,
    }
}

#[test]
fn isolation_hostname_caps_and_exit_code() {
    if skip_unless_root("isolation_hostname_caps_and_exit_code") {
        return;
    }
    let script = "echo pid=$$; ps -o pid,comm; echo host=$(hostname); grep CapEff /proc/self/status; \
        mount -t tmpfs none /mnt && echo MOUNTED || echo DENIED; echo nofile=$(ulimit -n); \
        grep -c ' /tmp tmpfs' /proc/mounts; echo kcore=$(cat /proc/kcore | wc -c); \
        echo lo=$(cat /sys/class/net/lo/flags) nets=$(ls /sys/class/net); \
        grep NoNewPrivs /proc/self/status; echo cwd=$(pwd) foo=$FOO; \
        echo oops >&2; exit 7";
    let mut f = Fixture::new("iso", &["sh", "-c", script]);
    f.cfg.process.no_new_privileges = true;
    f.cfg.process.cwd = "/work/dir".into();
    f.cfg.process.env.push("FOO=bar baz".into());
    let l = f.launch().unwrap();
    assert!(l.pid > 1 && l.shim_pid > 1);
    // Every namespace is the container's own, whether the shim or the clone made it (the
    // script runs for milliseconds, so its init is still there to look at).
    for ns in ["net", "ipc", "uts", "pid", "mnt"] {
        let theirs = std::fs::read_link(format!("/proc/{}/ns/{ns}", l.pid)).unwrap();
        let ours = std::fs::read_link(format!("/proc/self/ns/{ns}")).unwrap();
        assert_ne!(theirs, ours, "{ns} namespace shared with the host");
    }
    let e = f.wait();
    assert_eq!((e.code, e.signal, e.oom_killed), (7, None, false));
    let out = f.stdout();
    assert!(out.contains("pid=1\n"), "{out}");
    let procs: Vec<&str> = out
        .lines()
        .skip_while(|l| !l.contains("PID"))
        .skip(1)
        .take_while(|l| !l.starts_with("host="))
        .collect();
    assert_eq!(procs.len(), 2, "only sh and ps visible: {out}");
    assert!(procs[0].trim().starts_with("1 "), "{out}");
    assert!(out.contains(&format!("host={}\n", f.cfg.hostname)), "{out}");
    assert!(out.contains("CapEff:\t00000000a80425fb"), "{out}");
    assert!(out.contains("DENIED") && !out.contains("MOUNTED"), "{out}");
    assert!(
        out.contains("nofile=20000") || out.contains("nofile=1048576"),
        "{out}"
    );
    assert!(out.contains("\n1\n"), "tmpfs mount on /tmp: {out}");
    assert!(out.contains("kcore=0"), "{out}");
    assert!(out.contains("lo=0x9 nets=lo\n"), "{out}");
    assert!(out.contains("NoNewPrivs:\t1"), "{out}");
    assert!(out.contains("cwd=/work/dir foo=bar baz\n"), "{out}");
    let log = f.log();
    assert!(
        log.iter()
            .any(|v| v["stream"] == "stderr" && v["log"] == "oops\n")
    );
    assert!(log[0]["time"].as_str().unwrap().ends_with('Z'));
    assert!(std::fs::read_to_string(f.cfg.state_dir.join("pid")).unwrap() == l.pid.to_string());
    f.assert_gone();
}

#[test]
fn container_starts_with_only_stdio() {
    if skip_unless_root("container_starts_with_only_stdio") {
        return;
    }
    // ls's own directory handle is 3; anything above leaked from the shim or the daemon.
    let mut f = Fixture::new("fds", &["ls", "/proc/self/fd"]);
    f.launch().unwrap();
    assert_eq!(f.wait().code, 0);
    assert_eq!(f.stdout(), "0\n1\n2\n3\n");
    f.assert_gone();
}

#[test]
fn start_error_is_reported_and_cleaned_up() {
    if skip_unless_root("start_error_is_reported_and_cleaned_up") {
        return;
    }
    let mut f = Fixture::new("nope", &["/nope"]);
    let err = f.launch().unwrap_err().to_string();
    assert!(
        err.contains("exec: \"/nope\": no such file or directory"),
        "{err}"
    );
    let mut g = Fixture::new("nope2", &["nosuchprog"]);
    let err = g.launch().unwrap_err().to_string();
    assert!(err.contains("executable file not found in $PATH"), "{err}");
    let mut h = Fixture::new("nolayer", &["true"]);
    h.cfg.root.layers = vec![h.base.join("missing-layer")];
    let err = h.launch().unwrap_err().to_string();
    assert!(err.contains("mount overlay on "), "{err}");
    std::thread::sleep(Duration::from_millis(200));
    h.assert_gone();
    f.launched = None;
    f.assert_gone();
    assert_eq!(runtime::read_exit(&f.cfg.state_dir).unwrap(), None);
}

#[test]
fn memory_hog_is_oom_killed() {
    if skip_unless_root("memory_hog_is_oom_killed") {
        return;
    }
    let mut f = Fixture::new("oom", &["tail", "/dev/zero"]);
    f.cfg.resources.memory = Some(32 << 20);
    f.launch().unwrap();
    let e = f.wait();
    assert!(e.oom_killed, "{e:?}");
    assert_eq!((e.code, e.signal), (137, Some(9)));
    f.assert_gone();
}

#[test]
fn fork_bomb_is_held_by_pids_limit() {
    if skip_unless_root("fork_bomb_is_held_by_pids_limit") {
        return;
    }
    // ash gives up ("can't fork") at the first failed fork; every started sleep is counted.
    let script = "for i in $(seq 40); do sleep 30 & echo $i; done; echo ALL";
    let mut f = Fixture::new("pids", &["sh", "-c", script]);
    f.cfg.resources.pids = Some(20);
    f.launch().unwrap();
    let e = f.wait();
    let out = f.stdout();
    let started = out
        .lines()
        .filter_map(|l| l.trim().parse::<u32>().ok())
        .max()
        .unwrap_or(0);
    assert!(!out.contains("ALL") && (10..20).contains(&started), "{out}");
    let errs: String = f
        .log()
        .iter()
        .filter(|v| v["stream"] == "stderr")
        .map(|v| v["log"].to_string())
        .collect();
    assert!(errs.contains("can't fork"), "{errs}");
    assert_ne!(e.code, 0);
    f.assert_gone();
}

#[test]
fn a_low_open_files_limit_still_starts() {
    if skip_unless_root("a_low_open_files_limit_still_starts") {
        return;
    }
    // On cgroup v1 the init receives its cgroup's `tasks` files from the shim: the container's
    // own `nofile` limit applies only after that, as Docker's `--ulimit nofile=4` starts too.
    let mut f = Fixture::new("nofile", &["sh", "-c", "ulimit -n"]);
    f.cfg.resources.memory = Some(64 << 20);
    f.cfg.process.rlimits.retain(|r| r.kind != "RLIMIT_NOFILE");
    f.cfg.process.rlimits.push(rstack::runtime::config::Rlimit {
        kind: "RLIMIT_NOFILE".into(),
        soft: 4,
        hard: 4,
        exact: true,
    });
    f.launch().expect("launch with nofile 4");
    let e = f.wait();
    assert_eq!(e.code, 0);
    assert_eq!(f.stdout(), "4\n");
    f.assert_gone();
}

#[test]
fn exec_runs_inside_the_container() {
    if skip_unless_root("exec_runs_inside_the_container") {
        return;
    }
    let mut f = Fixture::new("exec", &["sleep", "30"]);
    f.cfg.resources.memory = Some(64 << 20);
    let l = f.launch().unwrap();
    let spec = ExecSpec {
        args: vec![
            "sh".into(),
            "-c".into(),
            "hostname; ps -o pid,comm; id -u; exit 5".into(),
        ],
        env: vec!["PATH=/bin".into()],
        cwd: Some("/tmp".into()),
        user: None,
        capabilities: runtime::docker_default_capabilities(),
        group_add: Vec::new(),
        no_new_privileges: true,
        seccomp_filter: None,
        tty: None,
        resize_fifo: None,
        ..Default::default()
    };
    let out = runtime::exec_command(&exe(), l.pid, &spec)
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert_eq!(
        out.status.code(),
        Some(5),
        "{text} {}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(text.starts_with(&format!("{}\n", f.cfg.hostname)), "{text}");
    assert!(text.contains("    1 sleep"), "{text}");
    assert!(
        !text.contains("rstack") && text.lines().count() <= 7,
        "{text}"
    );
    let user = ExecSpec {
        args: vec!["id".into()],
        user: Some("nobody".into()),
        ..spec.clone()
    };
    let out = runtime::exec_command(&exe(), l.pid, &user)
        .output()
        .unwrap();
    assert!(
        String::from_utf8_lossy(&out.stdout).starts_with("uid=65534"),
        "{out:?}"
    );
    // The exec'd process is in the container's cgroups (its cgroup namespace's root), as the
    // init is: in every hierarchy the container uses, not just in its namespaces.
    let cg = ExecSpec {
        args: vec!["cat".into(), "/proc/self/cgroup".into()],
        ..spec.clone()
    };
    let out = runtime::exec_command(&exe(), l.pid, &cg).output().unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    for line in text
        .lines()
        .filter(|l| l.contains("pids") || l.contains("memory"))
    {
        assert!(line.ends_with(":/"), "{line} in {text}");
    }
    // And the init joined every directory of its cgroup (v1: it moves itself in).
    let dirs: Vec<_> = f.cgroup_dirs().into_iter().filter(|d| d.exists()).collect();
    assert!(!dirs.is_empty());
    for dir in dirs {
        let procs = std::fs::read_to_string(dir.join("cgroup.procs")).unwrap();
        assert!(
            procs.lines().any(|p| p == l.pid.to_string()),
            "{} holds {procs:?}, not the init {}",
            dir.display(),
            l.pid
        );
    }
    let missing = ExecSpec {
        args: vec!["nosuch".into()],
        ..spec.clone()
    };
    let out = runtime::exec_command(&exe(), l.pid, &missing)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(127));
    runtime::signal(l.pid, libc::SIGKILL).unwrap();
    f.wait();
    let out = runtime::exec_command(&exe(), l.pid, &spec)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(125));
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("is not running"),
        "{out:?}"
    );
    f.assert_gone();
}

#[test]
fn init_forwards_signals_and_user_drops_caps() {
    if skip_unless_root("init_forwards_signals_and_user_drops_caps") {
        return;
    }
    let mut f = Fixture::new("init", &["sleep", "30"]);
    f.cfg.init = true;
    let l = f.launch().unwrap();
    std::thread::sleep(Duration::from_millis(50));
    runtime::signal(l.pid, libc::SIGTERM).unwrap();
    let e = f.wait();
    assert_eq!(e.code, 128 + libc::SIGTERM);
    f.assert_gone();

    let mut z = Fixture::new(
        "zombie",
        &["sh", "-c", "(sleep 0.1 &); sleep 0.4; ps -o pid,stat,comm"],
    );
    z.cfg.init = true;
    z.launch().unwrap();
    assert_eq!(z.wait().code, 0);
    let out = z.stdout();
    assert!(out.contains("    1 S    rstack-init"), "{out}");
    assert!(!out.contains(" Z "), "orphan not reaped: {out}");
    z.assert_gone();

    let script = "id; grep CapEff /proc/self/status; echo x > /y && echo WROTE || echo ROFS";
    let mut g = Fixture::new("user", &["sh", "-c", script]);
    g.cfg.process.user = Some("nobody".into());
    g.cfg.root.readonly = true;
    g.launch().unwrap();
    assert_eq!(g.wait().code, 0);
    let out = g.stdout();
    assert!(
        out.starts_with("uid=65534(nobody) gid=65534(nogroup)"),
        "{out}"
    );
    assert!(out.contains("CapEff:\t0000000000000000"), "{out}");
    assert!(out.contains("ROFS"), "{out}");
    g.assert_gone();
}

#[test]
fn memfd_self_exe_hides_the_host_binary() {
    if skip_unless_root("memfd_self_exe_hides_the_host_binary") {
        return;
    }
    let mut f = Fixture::new("memfd", &["sleep", "30"]);
    let exe = SelfExe::sealed_copy(Path::new(env!("CARGO_BIN_EXE_rstack"))).unwrap();
    f.pool = runtime::ShimPool::new(exe, None);
    let l = f.launch().unwrap();
    let link = std::fs::read_link(format!("/proc/{}/exe", l.shim_pid)).unwrap();
    assert!(
        link.to_string_lossy().starts_with("/memfd:"),
        "{}",
        link.display()
    );
    runtime::signal(l.pid, libc::SIGKILL).unwrap();
    f.wait();
    f.assert_gone();
}

#[test]
fn cleanup_after_a_dead_shim_removes_everything() {
    if skip_unless_root("cleanup_after_a_dead_shim_removes_everything") {
        return;
    }
    let mut f = Fixture::new("dead", &["sh", "-c", "sleep 30 & sleep 30"]);
    f.cfg.resources.memory = Some(64 << 20);
    let l = f.launch().unwrap();
    runtime::signal(l.shim_pid, libc::SIGKILL).unwrap();
    let deadline = Instant::now() + Duration::from_secs(5);
    while alive(l.shim_pid) {
        assert!(Instant::now() < deadline);
        std::thread::sleep(Duration::from_millis(5));
    }
    // The container dies with its shim (the init's parent-death signal, `die_with_shim`):
    // nothing of it runs unwatched. Its cgroups and mounts are left for the cleanup.
    let deadline = Instant::now() + Duration::from_secs(5);
    while alive(l.pid) {
        assert!(Instant::now() < deadline, "container outlived its shim");
        std::thread::sleep(Duration::from_millis(5));
    }
    assert!(
        f.cgroup_dirs().iter().any(|d| d.exists()),
        "a SIGKILLed shim tears nothing down: its cgroup is the cleanup's"
    );
    runtime::cleanup(&f.cfg).unwrap();
    runtime::cleanup(&f.cfg).unwrap();
    f.assert_gone();
}

#[test]
fn parallel_launches_do_not_interfere() {
    if skip_unless_root("parallel_launches_do_not_interfere") {
        return;
    }
    let handles: Vec<_> = (0..6)
        .map(|i| {
            std::thread::spawn(move || {
                let script = format!("echo start {i}; sleep 0.2; echo end {i}; exit {i}");
                let mut f = Fixture::new("par", &["sh", "-c", &script]);
                f.cfg.resources.pids = Some(50);
                f.launch().unwrap();
                let e = f.wait();
                assert_eq!(e.code, i);
                assert_eq!(f.stdout(), format!("start {i}\nend {i}\n"));
                f.assert_gone();
            })
        })
        .collect();
    for h in handles {
        h.join().unwrap();
    }
}

/// Ad-hoc start latency: launch() until the container's process has exec'd, without limits
/// (one v1 hierarchy) and with memory + pids + cpu limits (three).
#[test]
#[ignore = "benchmark; run with --ignored --nocapture"]
fn start_latency() {
    if skip_unless_root("start_latency") {
        return;
    }
    // The daemon's way: shim exec'd from a sealed memfd.
    let memfd = SelfExe::sealed_copy(Path::new(env!("CARGO_BIN_EXE_rstack"))).unwrap();
    let pool = runtime::ShimPool::new(memfd, None);
    for limited in [false, true] {
        let mut times = Vec::new();
        for _ in 0..30 {
            let mut f = Fixture::new("lat", &["true"]);
            if limited {
                f.cfg.resources = ResourceConfig {
                    memory: Some(64 << 20),
                    cpu_quota: Some(50_000),
                    cpu_period: Some(100_000),
                    pids: Some(100),
                    memory_reservation: None,
                };
            }
            let t = Instant::now();
            pool.refill();
            f.launched = Some(pool.launch(&f.cfg).unwrap());
            times.push(t.elapsed());
            f.wait();
            // Spaced out like real starts, so no previous cgroup write keeps the kernel's
            // cgroup-migration lock in its fast mode.
            std::thread::sleep(Duration::from_millis(100));
        }
        times.sort();
        eprintln!(
            "limits={limited}: launch->exec median {:?} min {:?} max {:?}",
            times[times.len() / 2],
            times[0],
            times[times.len() - 1]
        );
    }
}

/// Ad-hoc exec latency: `exec true` into a running container, spawn to exit.
#[test]
#[ignore = "benchmark; run with --ignored --nocapture"]
fn exec_latency() {
    if skip_unless_root("exec_latency") {
        return;
    }
    let mut f = Fixture::new("execlat", &["sleep", "30"]);
    f.cfg.resources.memory = Some(64 << 20);
    let l = f.launch().unwrap();
    let spec = ExecSpec {
        args: vec!["true".into()],
        env: vec!["PATH=/bin".into()],
        capabilities: runtime::docker_default_capabilities(),
        ..Default::default()
    };
    let mut times = Vec::new();
    for _ in 0..30 {
        let t = Instant::now();
        let st = runtime::exec_command(&exe(), l.pid, &spec)
            .status()
            .unwrap();
        times.push(t.elapsed());
        assert!(st.success());
        std::thread::sleep(Duration::from_millis(50));
    }
    times.sort();
    eprintln!(
        "exec true: median {:?} min {:?} max {:?}",
        times[15], times[0], times[29]
    );
    runtime::signal(l.pid, libc::SIGKILL).unwrap();
    f.wait();
    f.assert_gone();
}

#[test]
fn a_volatile_root_starts_again_on_the_same_layer() {
    if skip_unless_root("a_volatile_root_starts_again_on_the_same_layer") {
        return;
    }
    // A one-off of `run --rm` has a volatile root; overlayfs leaves a marker in its work
    // directory that refuses the next mount unless it is removed first.
    let mut f = Fixture::new(
        "volatile",
        &["sh", "-c", "grep -c volatile /proc/self/mountinfo"],
    );
    f.cfg.root.volatile = true;
    for _ in 0..2 {
        f.launch().expect("launch");
        assert_eq!(f.wait().code, 0, "the root is volatile: {}", f.stdout());
        std::fs::remove_file(f.cfg.state_dir.join("exit.json")).expect("exit.json");
    }
    f.assert_gone();
}
