//! The reconciler's `Runtime` trait on top of `crate::runtime` (shim processes), and the API's
//! image traits on top of the image store.

use crate::api::server::{ApiFailure, ImageAdmin};
use crate::api::types::ImageView;
use crate::daemon::config::LogDefaults;
use crate::image::ImageStore;
use crate::reconcile::health::wait_probe_process;
use crate::reconcile::runtime::{
    ExecProcess, ExecSpec, ExitFuture, ProbeOutcome, RtError, Running, Runtime,
};
use crate::runtime::config::{ContainerConfig, ExitStatus, ROOT_DIRS};
use crate::runtime::{self, SelfExe, ShimPool};
use std::collections::HashMap;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::process::Stdio;
use std::sync::Arc;
use std::time::Duration;
use tokio::io::unix::AsyncFd;

pub struct NativeRuntime {
    shims: Arc<ShimPool>,
    /// Per container with stdin: a read-write handle on its FIFO, held from before the start
    /// until `open_stdin`, so the container blocks on stdin instead of seeing EOF meanwhile.
    stdin_holds: std::sync::Mutex<std::collections::HashMap<String, OwnedFd>>,
    /// Per container with a terminal: a read-write handle on its resize FIFO, until
    /// `open_resize` hands it out.
    resize_holds: std::sync::Mutex<HashMap<String, OwnedFd>>,
    /// The pidfds of the shims this daemon started, until they exit. A shim reports the exit
    /// before it tears down, so a new run of the same container (same cgroup path and
    /// directories) and its release or removal first wait here for the shim to be gone.
    shims_alive: Arc<std::sync::Mutex<HashMap<String, Arc<AsyncFd<OwnedFd>>>>>,
    /// Log rotation for the containers whose service sets none (`[log]` in rstack.toml).
    log_defaults: LogDefaults,
    /// Seccomp filters compiled once per daemon, by profile and capability set.
    seccomp: runtime::seccomp::FilterCache,
    /// Named and anonymous volumes, resolved into mounts before each start.
    volumes: Option<Arc<crate::volume::VolumeStore>>,
    /// Networks: each start's interfaces, names, files and ports.
    networks: Option<Arc<crate::network::NetworkManager>>,
    /// The container directories that existed when this daemon started: only those can have
    /// a stray shim of an earlier daemon (`kill_stray_shims`); one made since cannot.
    preexisting: std::collections::HashSet<std::ffi::OsString>,
}

impl NativeRuntime {
    /// `spawn_exec`, with stdout and stderr both to `out` when given.
    fn spawn_exec_to(
        &self,
        cfg: &ContainerConfig,
        pid: i32,
        spec: &ExecSpec,
        out: Option<OwnedFd>,
    ) -> Result<ExecProcess, RtError> {
        // With a terminal, sizes travel on a FIFO of its own (nsexec unlinks it once open).
        let resize = match spec.tty {
            Some(_) => {
                let n = EXEC_COUNTER.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                let path = cfg
                    .state_dir
                    .join(format!("exec-{}-{n}.resize", std::process::id()));
                Some((fifo(&path)?, path))
            }
            None => None,
        };
        let rspec = runtime::ExecSpec {
            args: spec.args.clone(),
            env: spec.env.clone(),
            cwd: spec.cwd.clone(),
            user: spec.user.clone(),
            // As docker exec --privileged: every capability the daemon holds, unconfined.
            capabilities: if spec.privileged {
                runtime::caps::all_capabilities()
            } else {
                cfg.process.capabilities.clone()
            },
            group_add: cfg.process.group_add.clone(),
            no_new_privileges: cfg.process.no_new_privileges,
            seccomp_filter: if spec.privileged {
                None
            } else {
                self.seccomp_filter(cfg)?
            },
            tty: spec.tty,
            resize_fifo: resize.as_ref().map(|(_, p)| p.clone()),
            rlimits: cfg.process.rlimits.clone(),
            oom_score_adj: cfg.oom_score_adj,
        };
        let mut cmd =
            tokio::process::Command::from(runtime::exec_command(self.shims.exe(), pid, &rspec));
        cmd.stdin(if spec.stdin {
            Stdio::piped()
        } else {
            Stdio::null()
        })
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
        if let Some(out) = out {
            // One pipe for both: a probe's output reads in the order it was written.
            let err = out
                .try_clone()
                .map_err(|e| RtError::io("duplicating the probe's pipe", e))?;
            cmd.stdout(Stdio::from(out)).stderr(Stdio::from(err));
        }
        cmd
            // A group of its own: a probe that overruns its timeout is killed with whatever it
            // started (`sh -c 'sleep 100 & ...'`), by group (see `wait_probe_process`).
            .process_group(0)
            .kill_on_drop(true);
        let child = cmd
            .spawn()
            .inspect_err(|_| {
                if let Some((_, p)) = &resize {
                    let _ = std::fs::remove_file(p);
                }
            })
            .map_err(|e| RtError::io("starting the exec helper", e))?;
        Ok(ExecProcess {
            child,
            resize: resize
                .and_then(|(fd, _)| tokio::net::unix::pipe::Sender::from_owned_fd(fd).ok()),
        })
    }

    /// `spare_dirs`: where container directories are made ahead of their start;
    /// `seccomp_dir`: where compiled seccomp filters are written.
    pub fn new(
        exe: SelfExe,
        spare_dirs: Option<std::path::PathBuf>,
        seccomp_dir: std::path::PathBuf,
    ) -> NativeRuntime {
        let shims = Arc::new(ShimPool::new(exe, spare_dirs));
        shims.refill();
        NativeRuntime {
            shims,
            stdin_holds: Default::default(),
            resize_holds: Default::default(),
            shims_alive: Default::default(),
            log_defaults: LogDefaults::default(),
            seccomp: runtime::seccomp::FilterCache::new(seccomp_dir),
            volumes: None,
            networks: None,
            preexisting: Default::default(),
        }
    }

    /// Where containers' directories are: the ones there now existed before this daemon
    /// (read before anything starts), so only they may hold an earlier daemon's stray shim.
    pub fn with_containers_dir(mut self, dir: &std::path::Path) -> NativeRuntime {
        self.preexisting = dir_names(dir);
        self
    }

    /// Where containers' networks come from.
    pub fn with_networks(mut self, n: Arc<crate::network::NetworkManager>) -> NativeRuntime {
        let shims = self.shims.clone();
        n.on_bridge_removed(Box::new(move |bridge| shims.forget_bridge(bridge)));
        self.networks = Some(n);
        self
    }

    /// Where containers' volumes live.
    pub fn with_volumes(mut self, v: Arc<crate::volume::VolumeStore>) -> NativeRuntime {
        self.volumes = Some(v);
        self
    }

    /// The log rotation of containers whose service leaves it unset.
    pub fn with_log_defaults(mut self, d: LogDefaults) -> NativeRuntime {
        self.log_defaults = d;
        self
    }

    /// Fills in the daemon's log rotation where the service sets none; the shim reads it
    /// from config.json, the record keeps the service's own settings.
    fn fill_log_defaults(&self, cfg: &mut ContainerConfig) {
        cfg.log.max_size.get_or_insert(self.log_defaults.max_size);
        cfg.log.max_file.get_or_insert(self.log_defaults.max_file);
    }

    /// The compiled seccomp filter file for this container's processes (`None`: unconfined).
    fn seccomp_filter(&self, cfg: &ContainerConfig) -> Result<Option<std::path::PathBuf>, RtError> {
        Ok(self
            .seccomp
            .filter_for(&cfg.seccomp, &cfg.process.capabilities)?)
    }

    /// Waits until the shim of an earlier run of this container has torn down.
    async fn wait_shim_gone(&self, id: &str) {
        let pidfd = lock(&self.shims_alive).get(id).cloned();
        if let Some(pidfd) = pidfd {
            // Teardown takes milliseconds. A shim stuck for longer is killed: going on beside
            // it would let its late teardown hit the next run (same cgroup path and dirs).
            if tokio::time::timeout(SHIM_TEARDOWN_LIMIT, pidfd.readable())
                .await
                .is_err()
            {
                eprintln!(
                    "rstack: the shim of container {id} has not exited {}s after its container did; killing it",
                    SHIM_TEARDOWN_LIMIT.as_secs()
                );
                // SAFETY: pidfd_send_signal on a pidfd we own; no siginfo.
                unsafe {
                    libc::syscall(
                        libc::SYS_pidfd_send_signal,
                        pidfd.get_ref().as_raw_fd(),
                        libc::SIGKILL,
                        std::ptr::null::<libc::siginfo_t>(),
                        0u32,
                    )
                };
                let _ = tokio::time::timeout(SHIM_TEARDOWN_LIMIT, pidfd.readable()).await;
            }
        }
    }

    /// Remembers a started shim until it exits, then reaps it.
    fn track_shim(&self, id: &str, pidfd: Arc<AsyncFd<OwnedFd>>, mut child: runtime::spawn::Proc) {
        lock(&self.shims_alive).insert(id.to_string(), pidfd.clone());
        let alive = self.shims_alive.clone();
        let id = id.to_string();
        tokio::spawn(async move {
            let _ = pidfd.readable().await;
            // It has exited: this does not block, and it leaves no zombie.
            let _ = child.try_wait();
            let mut map = lock(&alive);
            if map.get(&id).is_some_and(|p| Arc::ptr_eq(p, &pidfd)) {
                map.remove(&id);
            }
        });
    }

    /// Waits for the start report of a shim that has its container, and watches the shim.
    async fn await_report(
        &self,
        cfg: &ContainerConfig,
        begun: runtime::Begun,
    ) -> Result<Running, RtError> {
        let runtime::Begun { child, ready } = begun;
        let shim_pid = child.id() as i32;
        // Opened before anything can reap the shim (we hold it unreaped), so it never names a
        // reused pid; it polls readable once the shim has exited.
        // SAFETY: the AsyncFd owns the OwnedFd, which stays open and unchanged until dropped.
        let pidfd = pidfd_open(shim_pid).and_then(|fd| unsafe { AsyncFd::register(fd) }.ok());
        let mut reports = tokio::net::unix::pipe::Receiver::from_owned_fd(ready)?;
        let report = read_until_newline(&mut reports).await;
        let Some(pidfd) = pidfd else {
            // Reaped whenever it ends, on a thread of its own (there is no pidfd to poll).
            drop(tokio::task::spawn_blocking(move || {
                let mut child = child;
                let _ = child.wait();
            }));
            if let Ok((launched, _)) = runtime::finish_report(report, shim_pid) {
                // Without a pidfd the exit could not be watched: do not leave it running blind.
                let _ = runtime::signal(launched.pid, libc::SIGKILL);
            }
            return Err(RtError::Failed(
                "cannot watch the container's shim: pidfd_open failed (Linux 5.3 or later is needed)"
                    .into(),
            ));
        };
        let pidfd = Arc::new(pidfd);
        self.track_shim(&cfg.id, pidfd.clone(), child);
        let (launched, pending) = runtime::finish_report(report, shim_pid)?;
        Ok(Running {
            pid: launched.pid,
            shim_pid: launched.shim_pid,
            exit: reported_exit(pidfd, reports, pending, cfg.clone()),
        })
    }
}

/// The run's exit, after which its names and host ports are released.
fn with_network_exit(
    n: Arc<crate::network::NetworkManager>,
    cfg: ContainerConfig,
    run: Running,
) -> Running {
    let Running {
        pid,
        shim_pid,
        exit,
    } = run;
    Running {
        pid,
        shim_pid,
        exit: Box::pin(async move {
            let st = exit.await;
            n.exited(&cfg).await;
            st
        }),
    }
}

/// Reads a shim's report pipe up to and including a newline, or to EOF (the shim died).
async fn read_until_newline(pipe: &mut tokio::net::unix::pipe::Receiver) -> Vec<u8> {
    use tokio::io::AsyncReadExt;
    let mut out = Vec::new();
    let mut chunk = [0u8; 512];
    while !out.contains(&b'\n') {
        match pipe.read(&mut chunk).await {
            Ok(0) | Err(_) => break,
            Ok(n) => out.extend_from_slice(&chunk[..n]),
        }
    }
    out
}

/// Numbers the resize FIFOs of `exec -t` sessions.
static EXEC_COUNTER: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);

/// How long a new run or a removal waits for the previous run's shim to finish tearing down.
const SHIM_TEARDOWN_LIMIT: Duration = Duration::from_secs(10);

fn lock<T>(m: &std::sync::Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

fn pidfd_open(pid: i32) -> Option<OwnedFd> {
    // SAFETY: plain syscall; on success we own the returned fd.
    let fd = unsafe { libc::syscall(libc::SYS_pidfd_open, pid, 0) };
    if fd < 0 {
        return None;
    }
    // SAFETY: fd is a fresh, valid descriptor.
    Some(unsafe { OwnedFd::from_raw_fd(fd as i32) })
}

impl NativeRuntime {
    fn holds(&self) -> std::sync::MutexGuard<'_, HashMap<String, OwnedFd>> {
        lock(&self.stdin_holds)
    }
}

/// Creates a FIFO (replacing a leftover) and opens it read-write: on Linux that never blocks,
/// and it keeps a writer present (a container's stdin sees no EOF) until the real one opens.
fn fifo(path: &std::path::Path) -> Result<OwnedFd, RtError> {
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir)
            .map_err(|e| RtError::io(format_args!("creating {}", dir.display()), e))?;
    }
    let _ = std::fs::remove_file(path);
    nix::unistd::mkfifo(path, nix::sys::stat::Mode::from_bits_truncate(0o600))
        .map_err(|e| RtError::io(format_args!("mkfifo {}", path.display()), e.into()))?;
    let f = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .open(path)
        .map_err(|e| RtError::io(format_args!("opening {}", path.display()), e))?;
    Ok(f.into())
}

/// Removes the state directories under `dir` whose names are not in `known` and that are
/// provably leftovers of this daemon, with what their configs say the containers hold
/// (processes, mounts, cgroups, writable layers). Only a `run --rm` one-off (its root is
/// volatile) lives on disk before its record is written, so only such a directory, or one
/// whose start never got as far as its config and whose writable layer is empty, is
/// removed. Anything else without a record is kept, and named: its data is not ours to lose.
fn sweep_dir(dir: &std::path::Path, known: &std::collections::HashSet<String>) -> Vec<String> {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return Vec::new();
    };
    let mut removed = Vec::new();
    for entry in entries.flatten() {
        let name = entry.file_name().to_string_lossy().into_owned();
        if known.contains(&name) {
            continue;
        }
        let path = entry.path();
        match runtime::shim::read_config(&path) {
            Ok(cfg) if cfg.root.volatile => {
                if let Err(e) = runtime::cleanup(&cfg) {
                    eprintln!("rstack: cleaning up unrecorded container {name}: {e}");
                }
            }
            Err(_)
                if !path.join("config.json").exists()
                    && empty_or_missing(&path.join(ROOT_DIRS.upper)) => {}
            _ => {
                eprintln!(
                    "rstack: {} has no record in the state database and is not a leftover of a \
                     one-off run: kept. Remove it by hand once its processes are stopped if it \
                     is not needed.",
                    path.display()
                );
                continue;
            }
        }
        match std::fs::remove_dir_all(&path) {
            Ok(()) => removed.push(name),
            Err(e) => eprintln!("rstack: removing {}: {e}", path.display()),
        }
    }
    removed
}

fn empty_or_missing(dir: &std::path::Path) -> bool {
    match std::fs::read_dir(dir) {
        Ok(mut it) => it.next().is_none(),
        Err(e) => e.kind() == std::io::ErrorKind::NotFound,
    }
}

/// Whether `pid` is the shim of the container in `state_dir`: a shim's stderr is always its
/// container's shim.log.
fn shim_serves(pid: i32, state_dir: &std::path::Path) -> bool {
    std::fs::read_link(format!("/proc/{pid}/fd/2")).is_ok_and(|p| p == state_dir.join("shim.log"))
}

/// The names in `dir` (none if it cannot be read).
fn dir_names(dir: &std::path::Path) -> std::collections::HashSet<std::ffi::OsString> {
    std::fs::read_dir(dir)
        .map(|d| d.flatten().map(|e| e.file_name()).collect())
        .unwrap_or_default()
}

/// Whether `state_dir` may have a stray shim (see `kill_stray_shims`): a stray is the shim
/// of a start an earlier daemon handed over and did not live to record, so only a directory
/// that existed when this daemon started (`preexisting`) may. Looking costs a scan of every
/// process's stderr (`/proc/*/fd/2`), which at each removal of a one-off took more time
/// than the rest of the removal.
fn may_hold_strays(
    state_dir: &std::path::Path,
    preexisting: &std::collections::HashSet<std::ffi::OsString>,
) -> bool {
    state_dir
        .file_name()
        .is_none_or(|name| preexisting.contains(name))
}

/// Kills the shims that serve `state_dir` (found by their stderr, see `shim_serves`) and
/// waits (5 s at most each) until they are gone. Called once this daemon's own shim of the
/// container is gone, so any shim left is a stray: one whose start a killed daemon handed
/// over but did not live to record. Its run is unknown to the store, and it would otherwise
/// run beside the next run of the container, on the same overlay and cgroup, and tear them
/// down under it when it ends. Its init dies with it (PR_SET_PDEATHSIG); `runtime::release`
/// then frees the rest. Returns the pids killed.
fn kill_stray_shims(state_dir: &std::path::Path) -> Vec<i32> {
    let Ok(procs) = std::fs::read_dir("/proc") else {
        return Vec::new();
    };
    let mut killed = Vec::new();
    for e in procs.flatten() {
        let Some(pid) = e.file_name().to_str().and_then(|n| n.parse::<i32>().ok()) else {
            continue;
        };
        if !shim_serves(pid, state_dir) {
            continue;
        }
        // Through a pidfd opened first and checked again, so a reused pid is never hit.
        let Some(pidfd) = pidfd_open(pid) else {
            continue;
        };
        if !shim_serves(pid, state_dir) {
            continue;
        }
        // SAFETY: pidfd_send_signal on a pidfd we own; no siginfo.
        let rc = unsafe {
            libc::syscall(
                libc::SYS_pidfd_send_signal,
                pidfd.as_raw_fd(),
                libc::SIGKILL,
                std::ptr::null::<libc::siginfo_t>(),
                0u32,
            )
        };
        if rc != 0 {
            continue;
        }
        let mut pfd = libc::pollfd {
            fd: pidfd.as_raw_fd(),
            events: libc::POLLIN,
            revents: 0,
        };
        // SAFETY: poll on one valid pollfd; a pidfd polls readable once the process exited.
        unsafe { libc::poll(&mut pfd, 1, 5000) };
        killed.push(pid);
    }
    killed
}

fn report_strays(cfg: &ContainerConfig, pids: &[i32]) {
    if !pids.is_empty() {
        eprintln!(
            "rstack: container {}: killed shim {pids:?}, whose start no daemon recorded (a daemon died during it)",
            cfg.id
        );
    }
}

/// The parent pid of a live process, from /proc/PID/stat.
fn parent_of(pid: i32) -> Option<i32> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // The command name (field 2) may hold spaces and parentheses: parse after its last ')'.
    let rest = &stat[stat.rfind(')')? + 1..];
    rest.split_whitespace().nth(1)?.parse().ok()
}

/// The exit of a container whose shim this daemon started: the shim's report as soon as it
/// arrives, or else (the shim was killed) what it recorded once it is gone.
fn reported_exit(
    pidfd: Arc<AsyncFd<OwnedFd>>,
    reports: tokio::net::unix::pipe::Receiver,
    pending: Vec<u8>,
    cfg: ContainerConfig,
) -> ExitFuture {
    Box::pin(async move {
        if let Some(st) = read_exit_report(reports, pending).await {
            return st;
        }
        let _ = pidfd.readable().await;
        recorded_or_lost(cfg).await
    })
}

/// Reads the shim's report pipe up to its `exit` line; `None` if it closed without one.
async fn read_exit_report(
    mut pipe: tokio::net::unix::pipe::Receiver,
    mut buf: Vec<u8>,
) -> Option<ExitStatus> {
    use tokio::io::AsyncReadExt;
    loop {
        while let Some(i) = buf.iter().position(|b| *b == b'\n') {
            let line: Vec<u8> = buf.drain(..=i).collect();
            if let Some(st) = runtime::parse_exit_report(&String::from_utf8_lossy(&line)) {
                return Some(st);
            }
        }
        let mut chunk = [0u8; 512];
        match pipe.read(&mut chunk).await {
            Ok(0) | Err(_) => return None,
            Ok(n) => buf.extend_from_slice(&chunk[..n]),
        }
    }
}

/// The exit of an adopted container: known once its shim is gone (it writes exit.json last).
fn adopted_exit(pidfd: OwnedFd, cfg: ContainerConfig) -> ExitFuture {
    Box::pin(async move {
        // A pidfd polls readable once the process has exited.
        // SAFETY: the AsyncFd owns the OwnedFd, which stays open and unchanged until dropped.
        if let Ok(afd) = unsafe { AsyncFd::register(pidfd) } {
            let _ = afd.readable().await;
        }
        recorded_or_lost(cfg).await
    })
}

/// The exit a gone shim recorded. A shim that died without recording one (killed) tore
/// nothing down: what is left of the run (processes in its cgroup that outlived their
/// death signal, the overlay, the cgroup) is released here, before the exit is reported,
/// so a restart by policy never runs beside the old run or reuses its live overlay.
async fn recorded_or_lost(cfg: ContainerConfig) -> ExitStatus {
    if let Ok(Some(st)) = runtime::read_exit(&cfg.state_dir) {
        return st;
    }
    let id = cfg.id.clone();
    match tokio::task::spawn_blocking(move || runtime::release(&cfg)).await {
        Ok(Ok(())) => {}
        Ok(Err(e)) => eprintln!("rstack: releasing container {id} after its shim died: {e}"),
        Err(e) => eprintln!("rstack: releasing container {id} after its shim died: {e}"),
    }
    ExitStatus {
        code: 255,
        signal: None,
        oom_killed: false,
        finished_at_ms: crate::reconcile::supervisor::now_ms(),
    }
}

impl Runtime for NativeRuntime {
    async fn start(&self, cfg: &ContainerConfig) -> Result<Running, RtError> {
        self.wait_shim_gone(&cfg.id).await;
        // Compiled at the first start with this profile and capability set only.
        let mut cfg = match &self.volumes {
            Some(v) => v.prepare(cfg).map_err(|e| RtError::Failed(e.to_string()))?,
            None => cfg.clone(),
        };
        // Secrets and configs: their files in the container's directory, before the bind.
        runtime::files::write_all(&mut cfg).map_err(|e| RtError::Failed(e.to_string()))?;
        if let Some(n) = &self.networks {
            cfg = n
                .prepare(&cfg)
                .await
                .map_err(|e| RtError::Failed(e.to_string()))?;
        }
        cfg.seccomp_filter = self.seccomp_filter(&cfg)?;
        self.fill_log_defaults(&mut cfg);
        let cfg = &cfg;
        if cfg.process.stdin {
            let hold = fifo(&cfg.state_dir.join(runtime::STDIN_FIFO))?;
            self.holds().insert(cfg.id.clone(), hold);
        }
        if cfg.process.tty.is_some() {
            let hold = fifo(&cfg.state_dir.join(runtime::RESIZE_FIFO))?;
            lock(&self.resize_holds).insert(cfg.id.clone(), hold);
        }
        // Inline, not on a blocking thread: a config.json write and a line to the spare (a
        // shim is exec'd here only when no spare is alive). The report is awaited below.
        let begun = self.shims.begin(cfg);
        let res = match begun {
            Ok(b) => self.await_report(cfg, b).await,
            Err(e) => Err(RtError::from(e)),
        };
        let shims = self.shims.clone();
        tokio::task::spawn_blocking(move || shims.refill());
        // A failed start must not keep the stdin FIFO's hold open.
        let res = res.inspect_err(|_| {
            self.holds().remove(&cfg.id);
            lock(&self.resize_holds).remove(&cfg.id);
        });
        if res.is_ok() && cfg.process.attachable {
            // Its shim holds the FIFOs open itself (`ProcessConfig::attachable`); each
            // `attach` opens them anew.
            self.holds().remove(&cfg.id);
            lock(&self.resize_holds).remove(&cfg.id);
        }
        match (&self.networks, res) {
            (Some(n), Ok(run)) => {
                n.started(cfg, run.pid);
                Ok(with_network_exit(n.clone(), cfg.clone(), run))
            }
            (Some(n), Err(e)) => {
                n.exited(cfg).await;
                Err(e)
            }
            (None, res) => res,
        }
    }

    fn adopt(&self, cfg: &ContainerConfig, shim_pid: i32, pid: i32) -> Option<Running> {
        if matches!(runtime::read_exit(&cfg.state_dir), Ok(Some(_))) {
            return None;
        }
        // Opened first, so the checks below are about the process this pidfd names.
        let pidfd = pidfd_open(shim_pid)?;
        // Guards against reused pids: the container's init must still be the shim's child,
        // and the shim's pid file must name it.
        let recorded = std::fs::read_to_string(cfg.state_dir.join("pid")).ok();
        let init_is_ours = recorded.and_then(|r| r.trim().parse::<i32>().ok()) == Some(pid)
            && parent_of(pid) == Some(shim_pid);
        // Or the container has exited and its shim is still tearing down: its exit.json
        // comes as soon as it is done, which is what the adopted exit waits for.
        // The config its run was started with holds its addresses and ports.
        let run_cfg = runtime::shim::read_config(&cfg.state_dir).ok();
        if !init_is_ours && !shim_serves(shim_pid, &cfg.state_dir) {
            if let (Some(n), Some(run_cfg)) = (&self.networks, &run_cfg) {
                n.adopt_stopped(run_cfg);
            }
            return None;
        }
        let run = Running {
            pid,
            shim_pid,
            exit: adopted_exit(pidfd, cfg.clone()),
        };
        match (&self.networks, run_cfg) {
            (Some(n), Some(run_cfg)) => {
                n.adopt(&run_cfg, pid);
                Some(with_network_exit(n.clone(), run_cfg, run))
            }
            _ => Some(run),
        }
    }

    fn open_stdin(&self, cfg: &ContainerConfig) -> Option<tokio::net::unix::pipe::Sender> {
        let hold = self.holds().remove(&cfg.id)?;
        let sender = tokio::net::unix::pipe::OpenOptions::new()
            .open_sender(cfg.state_dir.join(runtime::STDIN_FIFO))
            .ok();
        drop(hold);
        sender
    }

    fn open_resize(&self, cfg: &ContainerConfig) -> Option<tokio::net::unix::pipe::Sender> {
        let hold = lock(&self.resize_holds).remove(&cfg.id)?;
        tokio::net::unix::pipe::Sender::from_owned_fd(hold).ok()
    }

    fn recorded_exit(&self, cfg: &ContainerConfig) -> Option<ExitStatus> {
        runtime::read_exit(&cfg.state_dir).ok().flatten()
    }

    fn signal(&self, pid: i32, signal: i32) -> Result<(), RtError> {
        Ok(runtime::signal(pid, signal)?)
    }

    fn spawn_exec(
        &self,
        cfg: &ContainerConfig,
        pid: i32,
        spec: &ExecSpec,
    ) -> Result<ExecProcess, RtError> {
        self.spawn_exec_to(cfg, pid, spec, None)
    }

    async fn probe(
        &self,
        cfg: &ContainerConfig,
        pid: i32,
        spec: &ExecSpec,
        timeout: Duration,
    ) -> ProbeOutcome {
        let pipe = nix::unistd::pipe2(nix::fcntl::OFlag::O_CLOEXEC)
            .map_err(|e| RtError::io("making the probe's pipe", std::io::Error::from(e)))
            .and_then(|(r, w)| {
                let r = tokio::net::unix::pipe::Receiver::from_owned_fd(r)
                    .map_err(|e| RtError::io("reading the probe's pipe", e))?;
                Ok((r, w))
            });
        let spawned = pipe.and_then(|(r, w)| Ok((self.spawn_exec_to(cfg, pid, spec, Some(w))?, r)));
        match spawned {
            Ok((p, out)) => wait_probe_process(p.child, Some(out), timeout).await,
            Err(e) => ProbeOutcome {
                exit_code: -1,
                output: format!("rstack exec: {e}"),
            },
        }
    }

    async fn release(&self, cfg: &ContainerConfig) -> Result<(), RtError> {
        self.wait_shim_gone(&cfg.id).await;
        let c = cfg.clone();
        let strays = may_hold_strays(&c.state_dir, &self.preexisting);
        tokio::task::spawn_blocking(move || {
            if strays {
                report_strays(&c, &kill_stray_shims(&c.state_dir));
            }
            runtime::release(&c).map_err(RtError::from)
        })
        .await
        .map_err(|e| RtError::Failed(e.to_string()))?
    }

    async fn sweep(
        &self,
        containers_dir: &std::path::Path,
        known: &std::collections::HashSet<String>,
    ) -> Vec<String> {
        let dir = containers_dir.to_path_buf();
        let known = known.clone();
        tokio::task::spawn_blocking(move || sweep_dir(&dir, &known))
            .await
            .unwrap_or_default()
    }

    async fn remove(&self, cfg: &ContainerConfig) -> Result<(), RtError> {
        if let Some(n) = &self.networks {
            n.removed(cfg);
        }
        self.holds().remove(&cfg.id);
        lock(&self.resize_holds).remove(&cfg.id);
        self.wait_shim_gone(&cfg.id).await;
        let c = cfg.clone();
        let shims = self.shims.clone();
        let volumes = self.volumes.clone();
        let strays = may_hold_strays(&c.state_dir, &self.preexisting);
        tokio::task::spawn_blocking(move || -> Result<(), RtError> {
            if strays {
                report_strays(&c, &kill_stray_shims(&c.state_dir));
            }
            runtime::release(&c)?;
            // Anonymous volumes go with their container.
            if let Some(v) = &volumes {
                for name in crate::volume::VolumeStore::anonymous_of(&c) {
                    if let Err(e) = v.remove(&name)
                        && !matches!(e, crate::volume::VolumeError::NotFound(_))
                    {
                        eprintln!("rstack: removing anonymous volume {name}: {e}");
                    }
                }
            }
            if shims.recycle_dir(&c) {
                return Ok(());
            }
            runtime::remove_layer(&c)?;
            match std::fs::remove_dir_all(&c.state_dir) {
                Ok(()) => Ok(()),
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
                Err(e) => Err(RtError::io(
                    format_args!("removing {}", c.state_dir.display()),
                    e,
                )),
            }
        })
        .await
        .map_err(|e| RtError::Failed(e.to_string()))?
    }
}

/// The image store behind both the engine (resolve) and the API (import/list/remove).
pub struct Images(pub Arc<ImageStore>);

fn view(i: crate::image::ImageInfo) -> ImageView {
    ImageView {
        reference: i.reference,
        id: i.id,
        digest: i.digest,
        size: i.size,
        compressed_size: i.compressed_size,
        created: i.created,
    }
}

impl ImageAdmin for Images {
    fn import(
        &self,
        archive: &std::path::Path,
        name: &str,
        reference: &str,
    ) -> Result<ImageView, ApiFailure> {
        Ok(self.0.import_named(archive, name, reference).map(view)?)
    }

    fn uploads_dir(&self) -> std::path::PathBuf {
        self.0.uploads_dir()
    }

    fn list(&self) -> Result<Vec<ImageView>, ApiFailure> {
        Ok(self.0.list()?.into_iter().map(view).collect())
    }

    fn remove(&self, reference: &str) -> Result<(), ApiFailure> {
        Ok(self.0.remove(reference)?)
    }

    fn id_of(&self, reference: &str) -> Option<String> {
        self.0.resolve(reference).ok().map(|r| r.id)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_a_directory_there_before_the_daemon_may_hold_strays() {
        let base = crate::testutil::TempDir::new("strays");
        std::fs::create_dir(base.0.join("old")).expect("mkdir");
        let at_boot = dir_names(&base.0);
        std::fs::create_dir(base.0.join("new")).expect("mkdir");
        assert!(may_hold_strays(&base.0.join("old"), &at_boot));
        assert!(!may_hold_strays(&base.0.join("new"), &at_boot));
        // A directory renamed into place (a spare) is new too.
        std::fs::rename(base.0.join("new"), base.0.join("renamed")).expect("rename");
        assert!(!may_hold_strays(&base.0.join("renamed"), &at_boot));
    }

    #[test]
    fn a_shim_is_known_by_its_stderr() {
        let dir = std::env::temp_dir().join(format!("rstack-shim-serves-{}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("mkdir");
        let log = std::fs::File::create(dir.join("shim.log")).expect("log");
        let mut child = std::process::Command::new("sleep")
            .arg("5")
            .stderr(log)
            .spawn()
            .expect("sleep");
        let pid = child.id() as i32;
        assert!(shim_serves(pid, &dir));
        assert!(!shim_serves(pid, &dir.join("other")));
        assert!(!shim_serves(std::process::id() as i32, &dir));
        let _ = child.kill();
        let _ = child.wait();
        std::fs::remove_dir_all(&dir).expect("cleanup");
    }
}
