//! Daemon side of a container's life: `ShimPool` (write config, hand it to a spare shim or
//! exec one, read its start report), `read_exit`, and `cleanup` for when a shim died without
//! tearing down.

use super::cgroup::{Cgroup, Layout};
use super::config::{ContainerConfig, ExitStatus};
use super::error::{Result, RuntimeError};
use super::selfexe::SelfExe;
use super::spare_dir::SpareDirs;
use super::spawn::{Proc, Spawn, spawn};
use std::io::Read;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::path::Path;
use std::time::Duration;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Launched {
    pub shim_pid: i32,
    /// Container init as seen from the host.
    pub pid: i32,
}

/// Execs a shim for a container whose state is written.
fn fresh_shim(cfg: &ContainerConfig, exe: &SelfExe) -> Result<Shim> {
    let shim_log = open_shim_log(&cfg.state_dir)?;
    let null =
        std::fs::File::open("/dev/null").map_err(|e| RuntimeError::io("open", "/dev/null", e))?;
    let dir = cfg.state_dir.as_os_str();
    spawn_shim(exe, dir, None, null.as_raw_fd(), shim_log.as_raw_fd(), None)
}

/// A shim that has its container (`ShimPool::begin`) and whose report is still to come.
pub struct Begun {
    /// The shim, for its pid and to be reaped once it exits.
    pub child: Proc,
    /// Its report pipe: the start report, then the exit report (`parse_exit_report`), which
    /// the shim writes as soon as the container's init has exited, before it tears down.
    pub ready: OwnedFd,
}

/// Parses what a shim reported up to its first newline; returns the launch and what came
/// after that line (an exit report, for a container that exited at once).
pub fn finish_report(mut report: Vec<u8>, shim_pid: i32) -> Result<(Launched, Vec<u8>)> {
    let pending = match report.iter().position(|b| *b == b'\n') {
        Some(i) => report.split_off(i + 1),
        None => Vec::new(),
    };
    Ok((
        parse_report(&String::from_utf8_lossy(&report), shim_pid)?,
        pending,
    ))
}

/// Keeps one shim exec'd and initialized ahead of time, so a container start skips the
/// shim's exec and start-up (the largest piece of rstack's own start latency). The spare
/// waits for its state directory on stdin; a launch that finds no spare execs one directly.
pub struct ShimPool {
    exe: SelfExe,
    /// The spare, the write end of its stdin, and the bridge it was told to guess.
    spare: std::sync::Mutex<Option<(Shim, std::fs::File, Option<String>)>>,
    /// Spares exec at idle priority: only where the daemon can raise them again when it
    /// hands them a container (CAP_SYS_NICE).
    idle_spares: bool,
    /// A container directory made ahead, for the next new container.
    dirs: SpareDirs,
    /// The bridge of the last start's first network, when it has no IPv6: the next spare
    /// puts its veth there ahead (`netns::HostNetlink::make_spare_veth`).
    bridge_guess: std::sync::Mutex<Option<String>>,
}

impl ShimPool {
    /// `spare_dirs`: where container directories are made ahead (see `SpareDirs`).
    pub fn new(exe: SelfExe, spare_dirs: Option<std::path::PathBuf>) -> ShimPool {
        ShimPool {
            exe,
            spare: std::sync::Mutex::new(None),
            idle_spares: super::sys::can_raise_priority(),
            dirs: SpareDirs::new(spare_dirs),
            bridge_guess: std::sync::Mutex::new(None),
        }
    }

    pub fn exe(&self) -> &SelfExe {
        &self.exe
    }

    /// Writes the container's state and hands it to the spare shim, or execs a shim when
    /// there is no spare alive. The shim's report then arrives on `Begun::ready`, for the
    /// caller to wait on (`finish_report` parses it). The caller calls `refill` afterwards,
    /// off its start path.
    pub fn begin(&self, cfg: &ContainerConfig) -> Result<Begun> {
        // A spare already lives in a network namespace of its own, with a veth pair made
        // ahead in it: it serves a container that is attached to a network or joins another's
        // namespace (where the pair goes with the spare's namespace), not one on loopback only.
        let networked = !cfg.network.interfaces.is_empty() || cfg.network.join_pid.is_some();
        if let Some(first) = cfg.network.interfaces.first() {
            *self.bridge_guess.lock().unwrap_or_else(|p| p.into_inner()) =
                (!first.ipv6).then(|| first.bridge.clone());
        }
        let spare = match !cfg.host_network && networked {
            false => None,
            true => self.spare.lock().unwrap_or_else(|p| p.into_inner()).take(),
        };
        // A spare makes its namespaces at idle priority; one still at it when it is needed
        // would be starved by the very load it must not slow. It is needed now: raised before
        // the state is written, so that it finishes them meanwhile (in back-to-back starts
        // the spare made after the last one often has not).
        if let Some((shim, _, _)) = &spare {
            super::sys::set_sched_policy(shim.child.id() as i32, libc::SCHED_OTHER);
        }
        if let Err(e) = write_state(cfg, Some(&self.dirs)) {
            // The spare served nothing: back into the slot, unless a refill filled it.
            if let Some(s) = spare {
                if self.idle_spares {
                    super::sys::set_sched_policy(s.0.child.id() as i32, libc::SCHED_IDLE);
                }
                let mut slot = self.spare.lock().unwrap_or_else(|p| p.into_inner());
                match slot.is_none() {
                    true => *slot = Some(s),
                    false => {
                        drop(slot);
                        retire(s.0, s.1);
                    }
                }
            }
            return Err(e);
        }
        let shim = match spare {
            Some((shim, mut stdin, _)) => {
                let mut line = cfg.state_dir.as_os_str().as_encoded_bytes().to_vec();
                line.push(b'\n');
                match std::io::Write::write_all(&mut stdin, &line) {
                    Ok(()) => shim,
                    // The spare died (killed by someone): reap it, start a fresh shim.
                    Err(_) => {
                        let mut dead = shim.child;
                        let _ = dead.wait();
                        fresh_shim(cfg, &self.exe)?
                    }
                }
            }
            None => fresh_shim(cfg, &self.exe)?,
        };
        Ok(Begun {
            child: shim.child,
            ready: shim.ready,
        })
    }

    /// `begin`, then a blocking wait for the start report, parsed as the daemon parses it
    /// (`finish_report`): the daemon's start path for callers without an async runtime (the
    /// runtime's integration tests). A thread reaps the shim once it exits.
    pub fn launch(&self, cfg: &ContainerConfig) -> Result<Launched> {
        let Begun { mut child, ready } = self.begin(cfg)?;
        let shim_pid = child.id() as i32;
        let report = read_report(&ready, &mut child);
        // The shim runs for the container's lifetime; reap it whenever it ends so it never
        // lingers as a zombie.
        let _ = std::thread::Builder::new()
            .name("shim-reaper".into())
            .stack_size(64 * 1024)
            .spawn(move || {
                let _ = child.wait();
            });
        finish_report(report?, shim_pid).map(|(launched, _)| launched)
    }

    /// Keeps a released container's directory for the next new container (see
    /// `SpareDirs::recycle`); false if the caller is to delete it.
    pub fn recycle_dir(&self, cfg: &ContainerConfig) -> bool {
        cfg.root.is_laid_out_in(&cfg.state_dir) && self.dirs.recycle(&cfg.state_dir)
    }

    /// Execs the next spare shim and makes the next container directory, unless they are
    /// ready already.
    pub fn refill(&self) {
        self.refill_shim();
        self.dirs.refill();
    }

    /// The slot is not locked during the exec: `begin` takes the spare on the daemon's async
    /// thread, and must not wait on an exec.
    fn refill_shim(&self) {
        if self
            .spare
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .is_some()
        {
            return;
        }
        // The spare's exec at idle priority: it must not slow the container that has just
        // started, nor the next start. Only the child takes that priority, before its exec;
        // this thread stays at normal priority, holding no lock the async thread needs.
        let Ok((stdin_r, stdin_w)) = super::sys::pipe() else {
            return;
        };
        // SAFETY: both fds were just created and are owned here.
        let (stdin_r, stdin_w) = unsafe {
            (
                OwnedFd::from_raw_fd(stdin_r),
                std::fs::File::from_raw_fd(stdin_w),
            )
        };
        let Ok(null) = std::fs::File::open("/dev/null") else {
            return;
        };
        let policy = self.idle_spares.then_some(libc::SCHED_IDLE);
        let guess = self
            .bridge_guess
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone();
        let spawned = spawn_shim(
            &self.exe,
            std::ffi::OsStr::new(super::shim::SPARE_ARG),
            guess.as_deref().map(std::ffi::OsStr::new),
            stdin_r.as_raw_fd(),
            null.as_raw_fd(),
            policy,
        );
        drop(stdin_r);
        let Ok(mut shim) = spawned else {
            return;
        };
        let mut slot = self.spare.lock().unwrap_or_else(|p| p.into_inner());
        if slot.is_none() {
            *slot = Some((shim, stdin_w, guess));
            return;
        }
        drop(slot);
        // Another refill filled the slot meanwhile: this spare reads EOF and exits.
        drop(stdin_w);
        let _ = shim.child.wait();
    }
}

impl Drop for ShimPool {
    /// The spare reads EOF on its stdin and exits: reap it.
    fn drop(&mut self) {
        let spare = self
            .spare
            .get_mut()
            .unwrap_or_else(|p| p.into_inner())
            .take();
        if let Some((mut shim, stdin, _)) = spare {
            drop(stdin);
            let _ = shim.child.wait();
        }
    }
}

impl ShimPool {
    /// The bridge `bridge` is gone (its network removed): the next spare guesses none, and
    /// a spare whose veth was on it exits (the kernel deletes its veth with its namespace),
    /// so nothing of the network outlives it in `ip link`. The next start execs a new one.
    pub fn forget_bridge(&self, bridge: &str) {
        {
            let mut guess = self.bridge_guess.lock().unwrap_or_else(|p| p.into_inner());
            if guess.as_deref() == Some(bridge) {
                *guess = None;
            }
        }
        let taken = {
            let mut slot = self.spare.lock().unwrap_or_else(|p| p.into_inner());
            match slot.as_ref() {
                Some((_, _, g)) if g.as_deref() == Some(bridge) => slot.take(),
                _ => None,
            }
        };
        let Some((shim, stdin, _)) = taken else {
            return;
        };
        retire(shim, stdin);
    }
}

/// Lets an unused spare go: it reads EOF and exits, reaped off the caller's (async) thread.
fn retire(mut shim: Shim, stdin: std::fs::File) {
    drop(stdin);
    let _ = std::thread::Builder::new()
        .name("spare-reaper".into())
        .stack_size(64 * 1024)
        .spawn(move || {
            let _ = shim.child.wait();
        });
}

/// A shim process and the read end of its ready pipe.
struct Shim {
    child: Proc,
    ready: OwnedFd,
}

fn write_state(cfg: &ContainerConfig, spare: Option<&SpareDirs>) -> Result<()> {
    // A missing or non-device host path fails here, in the daemon, with its name.
    super::devices::check_host(&cfg.devices)?;
    let dir = &cfg.state_dir;
    // A new container's directory has no previous run's files to remove. A spare has the
    // standard layout only.
    let fresh = cfg.root.is_laid_out_in(dir) && spare.is_some_and(|s| s.take_as(dir));
    if fresh {
        // The network files' mount points, made (or kept by a recycled directory) in the
        // writable layer here rather than through the overlay by the init.
        super::etc_stubs::prepare(&cfg.root, &cfg.mounts);
    } else {
        std::fs::create_dir_all(dir).map_err(|e| RuntimeError::io("mkdir", dir, e))?;
        for stale in ["exit.json", "pid"] {
            let _ = std::fs::remove_file(dir.join(stale));
        }
    }
    let cfg_path = dir.join("config.json");
    let data = serde_json::to_vec(cfg).map_err(|source| RuntimeError::Config {
        path: cfg_path.clone(),
        source,
    })?;
    // Only root can read it: a container's config holds its environment (secrets). Written
    // over a recycled directory's old one in place (see `rewrite`).
    super::rewrite::rewrite(&cfg_path, &data, 0o600, true)
        .map_err(|e| RuntimeError::io("write", &cfg_path, e))
}

fn open_shim_log(dir: &Path) -> Result<std::fs::File> {
    let log_path = dir.join("shim.log");
    std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(&log_path)
        .map_err(|e| RuntimeError::io("open", &log_path, e))
}

/// Execs `rstack shim ARG` with the ready pipe as its stdout (dup2'd in the child only, so
/// it cannot leak into processes other threads spawn meanwhile).
fn spawn_shim(
    exe: &SelfExe,
    arg: &std::ffi::OsStr,
    bridge_guess: Option<&std::ffi::OsStr>,
    stdin: std::os::fd::RawFd,
    stderr: std::os::fd::RawFd,
    policy: Option<libc::c_int>,
) -> Result<Shim> {
    let (r, w) = super::sys::pipe()?;
    // SAFETY: both fds were just created and are owned here.
    let (r, w) = unsafe { (OwnedFd::from_raw_fd(r), OwnedFd::from_raw_fd(w)) };
    let mut args: Vec<&std::ffi::OsStr> = vec!["rstack".as_ref(), "shim".as_ref(), arg];
    args.extend(bridge_guess);
    let child = spawn(&Spawn {
        path: exe.path(),
        args: &args,
        stdio: [stdin, w.as_raw_fd(), stderr],
        policy,
    })
    .map_err(|e| RuntimeError::io("spawn shim", exe.path(), e))?;
    Ok(Shim { child, ready: r })
}

/// Reads up to the first report line; gives up once the shim has exited without writing one.
fn read_report(r: &OwnedFd, child: &mut Proc) -> Result<Vec<u8>> {
    let mut out = Vec::new();
    let mut file = std::fs::File::from(
        r.try_clone()
            .map_err(|e| RuntimeError::io("dup", "ready pipe", e))?,
    );
    loop {
        let mut pfd = libc::pollfd {
            fd: r.as_raw_fd(),
            events: libc::POLLIN,
            revents: 0,
        };
        // SAFETY: one valid pollfd.
        let n = unsafe { libc::poll(&mut pfd, 1, 200) };
        if n > 0 {
            let mut buf = [0u8; 4096];
            match file.read(&mut buf) {
                Ok(0) => break,
                Ok(k) => {
                    out.extend_from_slice(&buf[..k]);
                    if out.contains(&b'\n') {
                        break;
                    }
                }
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
                Err(e) => return Err(RuntimeError::io("read", "shim ready pipe", e)),
            }
        } else if n == 0 && matches!(child.try_wait(), Ok(Some(_))) {
            std::thread::sleep(Duration::from_millis(1));
            let _ = file.read_to_end(&mut out);
            break;
        }
    }
    Ok(out)
}

fn parse_report(report: &str, shim_pid: i32) -> Result<Launched> {
    let line = report.lines().next().unwrap_or("");
    if let Some(rest) = line.strip_prefix("ok ") {
        let mut it = rest.split_whitespace().map(|s| s.parse::<i32>());
        if let (Some(Ok(sp)), Some(Ok(pid))) = (it.next(), it.next()) {
            return Ok(Launched {
                shim_pid: if sp > 0 { sp } else { shim_pid },
                pid,
            });
        }
    }
    if let Some(msg) = line.strip_prefix("err ") {
        return Err(RuntimeError::start(msg));
    }
    Err(RuntimeError::Start(format!(
        "shim exited without reporting (see shim.log): {line:?}"
    )))
}

/// The recorded exit of a container, or None while it runs (or never started).
pub fn read_exit(state_dir: &Path) -> Result<Option<ExitStatus>> {
    let p = state_dir.join("exit.json");
    match std::fs::read(&p) {
        Ok(d) => serde_json::from_slice(&d)
            .map(Some)
            .map_err(|source| RuntimeError::Config { path: p, source }),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(RuntimeError::io("read", &p, e)),
    }
}

/// Releases what a run held when its shim died without tearing down: kills what is left in
/// the cgroup, unmounts, removes the cgroup. The writable layer and the log stay (the
/// container may be started again). Idempotent.
pub fn release(cfg: &ContainerConfig) -> Result<()> {
    let layout = Layout::detect()?;
    let cg = Cgroup::locate(&layout, &cfg.cgroup_path, &cfg.resources)?;
    cg.kill_all();
    let _ = nix::mount::umount2(&cfg.root.merged, nix::mount::MntFlags::MNT_DETACH);
    cg.remove()
}

/// Removes a container from the host: `release`, then `remove_layer`. Idempotent.
pub fn cleanup(cfg: &ContainerConfig) -> Result<()> {
    release(cfg)?;
    remove_layer(cfg)
}

/// Removes a released container's upper, work and merged directories. Idempotent.
pub fn remove_layer(cfg: &ContainerConfig) -> Result<()> {
    for d in [&cfg.root.upper, &cfg.root.work] {
        match std::fs::remove_dir_all(d) {
            Ok(()) => {}
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => return Err(RuntimeError::io("remove", d, e)),
        }
    }
    match std::fs::remove_dir(&cfg.root.merged) {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
        Err(e) => Err(RuntimeError::io("rmdir", &cfg.root.merged, e)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_reports() {
        assert_eq!(
            parse_report("ok 10 20\n", 9).unwrap(),
            Launched {
                shim_pid: 10,
                pid: 20
            }
        );
        let e = parse_report("err exec: \"/nope\": no such file or directory\n", 9).unwrap_err();
        assert_eq!(
            e.to_string(),
            "container start failed: exec: \"/nope\": no such file or directory"
        );
        assert!(parse_report("", 9).is_err());
        assert!(parse_report("ok x\n", 9).is_err());
    }

    #[test]
    fn exit_reports_round_trip() {
        let exit = ExitStatus {
            code: 137,
            signal: Some(9),
            oom_killed: true,
            finished_at_ms: 42,
        };
        let line = super::super::shim::exit_report(&exit);
        assert!(
            line.starts_with("exit {") && line.ends_with('\n'),
            "{line:?}"
        );
        assert_eq!(super::super::shim::parse_exit_report(&line), Some(exit));
        assert_eq!(super::super::shim::parse_exit_report("ok 1 2\n"), None);
        assert_eq!(super::super::shim::parse_exit_report("exit {"), None);
    }

    #[test]
    fn read_exit_missing_is_none() {
        let d = std::env::temp_dir().join(format!("rstack-exit-{}", std::process::id()));
        std::fs::create_dir_all(&d).unwrap();
        assert_eq!(read_exit(&d).unwrap(), None);
        std::fs::write(
            d.join("exit.json"),
            r#"{"code":3,"signal":null,"oom_killed":false,"finished_at_ms":5}"#,
        )
        .unwrap();
        assert_eq!(read_exit(&d).unwrap().unwrap().code, 3);
        std::fs::remove_dir_all(&d).unwrap();
    }
}
