//! `rstack shim DIR`: one per container, single-threaded. Makes the container's network, IPC
//! and UTS namespaces for itself, creates the cgroup, clones the container init into new pid
//! and mount namespaces, reports ready (on its stdout, a pipe from `launch`),
//! pumps the container's stdout/stderr into container.log, reaps as a subreaper, reports the
//! exit on the same pipe, then tears everything down and records exit.json.

use super::cgroup::{Cgroup, Layout};
use super::config::{ContainerConfig, ExitStatus};
use super::error::{Result, RuntimeError};
use super::init::{ChildFds, child_main};
use super::log::StreamLog;
use super::log_rotate::{DEFAULT_MAX_FILE, DEFAULT_MAX_SIZE, RotatingLog};
use super::sys;
use std::os::fd::{AsFd, AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::path::Path;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

/// The pipe `launch` reads the start result from.
const READY_FD: RawFd = 1;

/// The descriptors are owned: whatever the supervise loop does not close itself closes when
/// it returns, and no path can close one twice.
struct Running {
    cfg: ContainerConfig,
    cgroup: Cgroup,
    pid: i32,
    stdout_r: OwnedFd,
    stderr_r: OwnedFd,
    sigfd: OwnedFd,
    /// With a terminal: the stdin FIFO, typed into the master (which is `stdout_r`).
    tty_input: Option<super::tty::Input>,
    /// With a terminal: the FIFO on which the daemon sends window sizes (`RESIZE_FIFO`).
    resize: Option<OwnedFd>,
    /// The container's mount namespace, held open so that the init's exit does not unmount
    /// its whole tree (an expedited RCU grace period and every superblock's teardown) before
    /// the shim can reap it: the exit is reported first, the namespace released after.
    mnt_ns: Option<OwnedFd>,
    /// An attachable container's (`process.attachable`): writers on its stdin and resize
    /// FIFOs, held so that the end of an attach (or of the daemon) is never the process's EOF.
    _keep_open: Vec<OwnedFd>,
}

/// Entry point of the hidden `rstack shim DIR [BRIDGE]` subcommand; returns the process
/// exit code. `DIR` = `-` starts a spare: it initializes, then waits for its state directory
/// on stdin (see `launch::ShimPool`), which takes the shim's exec and start-up off the start
/// path. `BRIDGE`: the bridge a spare's veth goes on ahead (the daemon's guess).
pub fn shim_main(state_dir: &Path, bridge_guess: Option<&str>) -> i32 {
    let spare = state_dir == Path::new(SPARE_ARG);
    // A spare initializes only on otherwise idle CPU: it must not slow the containers that
    // are starting or exiting right now. Only where it can return to normal priority
    // (CAP_SYS_NICE): otherwise its container would run at idle priority.
    if spare && sys::can_raise_priority() {
        set_policy(libc::SCHED_IDLE);
    }
    detach();
    // Before the assignment: for a spare this happens on idle CPU, not on the start path.
    // A spare cannot know its container yet: it makes a private network namespace, and a
    // container on the host's network never gets a spare (`ShimPool::begin`).
    let host_network = !spare && read_config(state_dir).is_ok_and(|c| c.host_network);
    // Opened in the host's namespace, before the shim makes its own: the host ends of the
    // container's veths are made through it.
    let mut host_netlink = super::netns::HostNetlink::open();
    let layout = Layout::detect().and_then(|l| own_namespaces(host_network).map(|()| l));
    if spare && layout.is_ok() {
        // Its container's first veth pair too (`ShimPool::begin` gives a spare only to a
        // container with a network).
        host_netlink.make_spare_veth(bridge_guess);
    }
    let assigned;
    let state_dir = if spare {
        let dir = wait_for_assignment();
        set_policy(libc::SCHED_OTHER);
        match dir {
            Some(dir) => {
                assigned = dir;
                assigned.as_path()
            }
            // The daemon closed the pipe (it exits, or dropped its spare): nothing to do.
            None => return 0,
        }
    } else {
        state_dir
    };
    match layout.and_then(|l| start(state_dir, l, &mut host_netlink)) {
        Ok(run) => {
            let msg = format!("ok {} {}\n", std::process::id(), run.pid);
            if !sys::write_all(READY_FD, msg.as_bytes()) {
                // The daemon that asked for this start is gone (killed during it): no store
                // holds this run, so nobody would supervise or stop it. It is undone at once;
                // supervising it to its end tears it down and records the exit as usual.
                // SAFETY: kill our own child, the container's init.
                unsafe { libc::kill(run.pid, libc::SIGKILL) };
            }
            supervise(run);
            0
        }
        Err(e) => {
            let msg = format!("err {}\n", e.to_string().replace('\n', " "));
            sys::write_all(READY_FD, msg.as_bytes());
            eprintln!("rstack shim {}: {e}", state_dir.display());
            1
        }
    }
}

/// Creates the container's network (loopback up), IPC and UTS namespaces in the shim itself,
/// ahead of the clone, which then makes only the pid and mount ones: a network namespace is
/// the costliest to create (0.3–0.4 ms here). The shim lives in them too, which it never
/// notices: it uses no network, IPC or host name.
/// With `host_network`, the network namespace stays the host's.
fn own_namespaces(host_network: bool) -> Result<()> {
    use nix::sched::CloneFlags;
    if host_network {
        return nix::sched::unshare(CloneFlags::CLONE_NEWIPC | CloneFlags::CLONE_NEWUTS)
            .map_err(|e| RuntimeError::sys("unshare IPC and UTS namespaces", e));
    }
    nix::sched::unshare(
        CloneFlags::CLONE_NEWNET | CloneFlags::CLONE_NEWIPC | CloneFlags::CLONE_NEWUTS,
    )
    .map_err(|e| RuntimeError::sys("unshare network, IPC and UTS namespaces", e))?;
    super::rootfs::loopback_up()
}

/// After the exit report, fd 1 points at /dev/null rather than being closed, so no file
/// opened later can become fd 1.
fn release_ready_fd() {
    if let Ok(null) = sys::open_raw("/dev/null", libc::O_WRONLY).map(owned) {
        let _ = sys::dup2(null.as_raw_fd(), READY_FD);
    }
}

/// Own session, immune to the daemon's terminal and pipes going away, reaper of orphans, and
/// holding no descriptor of the daemon's but the ready pipe.
fn detach() {
    let _ = nix::unistd::setsid();
    // SAFETY: signal dispositions, close_range and prctl with integer arguments.
    unsafe {
        libc::signal(libc::SIGHUP, libc::SIG_IGN);
        libc::signal(libc::SIGPIPE, libc::SIG_IGN);
        libc::syscall(libc::SYS_close_range, 3u32, u32::MAX, 0u32);
        libc::prctl(libc::PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0);
    }
}

pub(crate) fn read_config(state_dir: &Path) -> Result<ContainerConfig> {
    let p = state_dir.join("config.json");
    let data = std::fs::read(&p).map_err(|e| RuntimeError::io("read", &p, e))?;
    serde_json::from_slice(&data).map_err(|source| RuntimeError::Config { path: p, source })
}

fn set_policy(policy: i32) {
    sys::set_sched_policy(0, policy);
}

/// The argument that makes `rstack shim` a spare waiting for its assignment.
pub const SPARE_ARG: &str = "-";

/// Reads the state directory a spare is assigned (one line on stdin), then points stdin at
/// /dev/null and stderr at the container's shim.log. `None` on EOF.
fn wait_for_assignment() -> Option<std::path::PathBuf> {
    // The daemon writes the whole line at once (far below PIPE_BUF, so atomically) and
    // nothing after it: reading in blocks cannot swallow anything meant for later.
    let mut line = Vec::new();
    let mut buf = [0u8; 4096];
    while !line.ends_with(b"\n") {
        // SAFETY: reading into a buffer we own, within its length.
        let n = unsafe { libc::read(0, buf.as_mut_ptr().cast(), buf.len()) };
        match n {
            n if n > 0 => line.extend_from_slice(&buf[..n as usize]),
            -1 if std::io::Error::last_os_error().kind() == std::io::ErrorKind::Interrupted => {}
            _ => return None,
        }
    }
    line.pop();
    let dir: std::path::PathBuf =
        <std::ffi::OsString as std::os::unix::ffi::OsStringExt>::from_vec(line).into();
    if let Ok(null) = sys::open_raw("/dev/null", libc::O_RDONLY).map(owned) {
        let _ = sys::dup2(null.as_raw_fd(), 0);
    }
    if let Ok(log) = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(dir.join("shim.log"))
    {
        let _ = sys::dup2(log.as_raw_fd(), 2);
    }
    Some(dir)
}

fn start(
    state_dir: &Path,
    layout: Layout,
    host_netlink: &mut super::netns::HostNetlink,
) -> Result<Running> {
    let cfg = read_config(state_dir)?;
    if !cfg.host_network {
        super::netns::attach(host_netlink, &cfg.network)?;
    }
    let devices = super::devices::container_rules(&cfg)?;
    // v2 clones straight into the cgroup, which must exist first. On v1 the init moves itself
    // in once told to go (`Cgroup::open_tasks`), so its directories and limits (a mkdir per
    // hierarchy, a dozen device rules) are made after the clone, while the init builds its
    // root on the other CPU.
    let later = matches!(layout, Layout::V1(_));
    let made = if later {
        Cgroup::locate(&layout, &cfg.cgroup_path, &cfg.resources)
    } else {
        Cgroup::create(&layout, &cfg.cgroup_path, &cfg.resources, &devices)
    };
    let cgroup = match made {
        Ok(c) => c,
        Err(e) => {
            // Some hierarchies may already have their directory.
            if let Ok(c) = Cgroup::locate(&layout, &cfg.cgroup_path, &cfg.resources) {
                let _ = c.remove();
            }
            return Err(e);
        }
    };
    let make_later = later.then_some((&layout, devices.as_slice()));
    match spawn(&cfg, &cgroup, make_later) {
        Ok(sp) => {
            let resize = cfg
                .process
                .tty
                .and_then(|_| super::tty::open_resize_fifo(&cfg.state_dir.join(RESIZE_FIFO)))
                .map(owned);
            Ok(Running {
                cgroup,
                pid: sp.pid,
                stdout_r: sp.stdout_r,
                stderr_r: sp.stderr_r,
                sigfd: sp.sigfd,
                tty_input: sp.tty_input,
                mnt_ns: sp.mnt_ns,
                resize,
                _keep_open: keep_open(&cfg),
                cfg,
            })
        }
        Err(e) => {
            teardown(&cfg, &cgroup);
            Err(e)
        }
    }
}

/// An attachable container's FIFO writers (see `Running::_keep_open`). Opened after the
/// readers (the container's stdin, or the shim's terminal input, and the resize reader), so
/// a non-blocking open finds them; a FIFO that cannot be opened is left out: attaches then
/// behave as `run`'s stdin (their end is EOF), nothing worse.
fn keep_open(cfg: &ContainerConfig) -> Vec<OwnedFd> {
    if !cfg.process.attachable {
        return Vec::new();
    }
    let fifos = [
        cfg.process.stdin.then_some(STDIN_FIFO),
        cfg.process.tty.map(|_| RESIZE_FIFO),
    ];
    fifos
        .into_iter()
        .flatten()
        .filter_map(|name| {
            let path = cfg.state_dir.join(name);
            sys::open_raw(
                &path.to_string_lossy(),
                libc::O_WRONLY | libc::O_NONBLOCK | libc::O_CLOEXEC,
            )
            .inspect_err(|e| eprintln!("rstack shim: open {}: {e}", path.display()))
            .ok()
            .map(owned)
        })
        .collect()
}

/// What a started container hands the supervise loop (see `Running`).
struct Spawned {
    pid: i32,
    stdout_r: OwnedFd,
    stderr_r: OwnedFd,
    sigfd: OwnedFd,
    tty_input: Option<super::tty::Input>,
    mnt_ns: Option<OwnedFd>,
}

/// Owns a descriptor a raw call just returned.
fn owned(fd: RawFd) -> OwnedFd {
    // SAFETY: callers pass a descriptor just created and owned by nobody else.
    unsafe { OwnedFd::from_raw_fd(fd) }
}

/// A pipe as owned descriptors (read end, write end).
fn pipe() -> Result<(OwnedFd, OwnedFd)> {
    let (r, w) = sys::pipe()?;
    Ok((owned(r), owned(w)))
}

/// Clones the container init and waits until it exec'd (or failed). Every descriptor is
/// owned until it is handed over, so any early return closes what was opened so far; the
/// child never returns (it execs or `_exit`s), so it drops none of them.
/// `make_later`: the cgroup's directories and limits are to be made after the clone (v1);
/// the init then joins it itself, with the `tasks` files sent along with the go-ahead.
fn spawn(
    cfg: &ContainerConfig,
    cgroup: &Cgroup,
    make_later: Option<(&Layout, &[super::devices::Rule])>,
) -> Result<Spawned> {
    sys::block(&[libc::SIGCHLD]);
    let mut mask = nix::sys::signal::SigSet::empty();
    mask.add(nix::sys::signal::Signal::SIGCHLD);
    let sigfd = nix::sys::signalfd::SignalFd::with_flags(
        &mask,
        nix::sys::signalfd::SfdFlags::SFD_CLOEXEC | nix::sys::signalfd::SfdFlags::SFD_NONBLOCK,
    )
    .map_err(|e| RuntimeError::sys("signalfd", e))?;
    let sigfd = OwnedFd::from(sigfd);
    // A socket, not a pipe: the go-ahead carries the v1 cgroup's `tasks` files.
    let (sync_w, sync_r) = {
        let (a, b) = sys::socketpair()?;
        (owned(a), owned(b))
    };
    let (err_r, err_w) = pipe()?;
    let (out_r, out_w) = pipe()?;
    let (errp_r, errp_w) = pipe()?;
    let stdin_r = if cfg.process.stdin {
        Some(open_stdin_fifo(&cfg.state_dir)?)
    } else {
        None
    };
    // With a terminal, the init sends its master back over this socket pair; the FIFO is
    // then the shim's to type into the terminal, not the container's stdin.
    let console = match cfg.process.tty {
        Some(_) => {
            let (shim_end, child_end) = sys::socketpair()?;
            Some((owned(shim_end), owned(child_end)))
        }
        None => None,
    };
    let (stdin_r, tty_fifo) = match console {
        Some(_) => (None, stdin_r),
        None => (stdin_r, None),
    };
    let cg_fd = if cgroup.v2 {
        cgroup.dirs.first().and_then(|d| {
            sys::open_raw(&d.to_string_lossy(), libc::O_DIRECTORY | libc::O_RDONLY)
                .ok()
                .map(owned)
        })
    } else {
        None
    };
    // Read before the clone: the child has the filters in memory, whatever its new root holds.
    let seccomp = super::seccomp::filters_for(cfg)?;
    // The network, IPC and UTS namespaces are the shim's own already (`own_namespaces`).
    // `pid: host`: no pid namespace of its own; the container sees (and is seen by) every
    // process of the host, and its init is no PID 1 (the cgroup kills what it leaves).
    let flags = if cfg.host_pid {
        libc::CLONE_NEWNS as u64
    } else {
        (libc::CLONE_NEWPID | libc::CLONE_NEWNS) as u64
    };
    // SAFETY: the shim is single-threaded (see `sys::clone_fork`), and the child only sets
    // itself up and execs or `_exit`s (`child_main` never returns).
    let (pid, placed) = unsafe { sys::clone_fork(flags, cg_fd.as_ref().map(|fd| fd.as_raw_fd())) }?;
    if pid == 0 {
        let raw = |fd: &OwnedFd| fd.as_raw_fd();
        let fds = ChildFds {
            sync_r: raw(&sync_r),
            err_w: raw(&err_w),
            stdout_w: raw(&out_w),
            stderr_w: raw(&errp_w),
            stdin_r: stdin_r.as_ref().map(raw),
            console: console.as_ref().map(|(_, child_end)| raw(child_end)),
            close: [&sync_w, &err_r, &out_r, &errp_r, &sigfd]
                .into_iter()
                .chain(console.as_ref().map(|(shim_end, _)| shim_end))
                .chain(tty_fifo.as_ref())
                .map(raw)
                .collect(),
        };
        child_main(cfg, &fds, seccomp.as_ref());
    }
    drop(cg_fd);
    // Taken before the init can exec: a process that exits at once would otherwise unmount
    // its tree itself (see `Running::mnt_ns`).
    let mnt_ns = sys::open_raw(&format!("/proc/{pid}/ns/mnt"), libc::O_RDONLY)
        .ok()
        .map(owned);
    // The child's ends: the shim must not hold them (EOF on the error pipe means exec).
    drop((sync_r, err_w, out_w, errp_w, stdin_r));
    let (shim_end, child_end) = console.unzip();
    drop(child_end);
    // A failure here usually means the child already failed: its own message (on the error
    // pipe) is then the one worth reporting.
    let mut failure: Option<RuntimeError> = None;
    let mut tasks: Vec<OwnedFd> = Vec::new();
    if let Some((layout, devices)) = make_later {
        match Cgroup::create(layout, &cfg.cgroup_path, &cfg.resources, devices)
            .and_then(|_| cgroup.open_tasks())
        {
            Ok(t) => tasks = t,
            Err(e) => failure = Some(e),
        }
    } else if !placed && let Err(e) = cgroup.add_pid(pid) {
        failure = Some(e);
    }
    if failure.is_none() {
        let raw: Vec<RawFd> = tasks.iter().map(|f| f.as_raw_fd()).collect();
        if sys::send_byte_with_fds(sync_w.as_raw_fd(), b'g', &raw).is_err() {
            failure = Some(RuntimeError::Start(
                "container init died before start".into(),
            ));
        }
    }
    if failure.is_some() {
        // Killed before its end of the go-ahead closes: it would report a failure of its own
        // ("could not set up the cgroup"), hiding this one.
        // SAFETY: kill our own child.
        unsafe { libc::kill(pid, libc::SIGKILL) };
    }
    drop(tasks);
    drop(sync_w);
    if failure.is_none() {
        // Written while the child sets up its root, so it costs no start latency.
        let pid_file = cfg.state_dir.join("pid");
        if let Err(e) = std::fs::write(&pid_file, pid.to_string()) {
            failure = Some(RuntimeError::io("write", &pid_file, e));
        }
    }
    if failure.is_some() {
        // SAFETY: kill our own child; its error pipe then reaches EOF.
        unsafe { libc::kill(pid, libc::SIGKILL) };
    }
    let msg = sys::read_to_end(err_r.as_raw_fd());
    drop(err_r);
    // The init sent its terminal before exec, so it is waiting on the socket by now.
    let had_console = shim_end.is_some();
    let master = shim_end.and_then(|s| super::tty::recv_fd(s.as_raw_fd()).map(owned));
    if had_console && master.is_none() && msg.is_empty() && failure.is_none() {
        failure = Some(RuntimeError::Start(
            "the container did not hand over its terminal".into(),
        ));
        // SAFETY: kill our own child.
        unsafe { libc::kill(pid, libc::SIGKILL) };
    }
    if !msg.is_empty() || failure.is_some() {
        // SAFETY: reap our own child, which exits right after writing the message.
        unsafe { libc::waitpid(pid, std::ptr::null_mut(), 0) };
        // Everything still open here closes as it goes out of scope.
        return Err(match failure {
            Some(e) if msg.is_empty() => e,
            _ => RuntimeError::start(String::from_utf8_lossy(&msg).into_owned()),
        });
    }
    // From here the supervise loop owns the descriptors.
    let (stdout_r, tty_input) = match master {
        // With a terminal the output comes from the master (logged as stdout), and the
        // stdout pipe is unused.
        Some(m) => {
            drop(out_r);
            let input = tty_fifo.map(|f| super::tty::Input::new(f, m.as_fd()));
            (m, input)
        }
        None => (out_r, None),
    };
    Ok(Spawned {
        pid,
        stdout_r,
        stderr_r: errp_r,
        sigfd,
        tty_input,
        mnt_ns,
    })
}

/// Pumps logs and reaps until the container init exits, then records and tears down.
/// A stream's descriptor is dropped (closed) at its EOF; the signalfd, the terminal's input
/// FIFO and the resize FIFO live until the end, the mount namespace until after the report.
fn supervise(run: Running) {
    let mut out = open_log(&run.cfg);
    let mut streams = [StreamLog::new("stdout"), StreamLog::new("stderr")];
    let mut fds = [Some(run.stdout_r), Some(run.stderr_r)];
    let raw = |fd: &Option<OwnedFd>| fd.as_ref().map_or(-1, AsRawFd::as_raw_fd);
    let mut tty_input = run.tty_input;
    let mut resize = run.resize;
    let tty = run.cfg.process.tty.is_some();
    let mut status: Option<i32> = None;
    let mut deadline: Option<Instant> = None;
    let mut buf = vec![0u8; 64 * 1024];
    loop {
        if status.is_some() && fds.iter().all(Option::is_none) {
            break;
        }
        let timeout = match deadline {
            Some(d) => {
                let left = d.saturating_duration_since(Instant::now());
                if left.is_zero() {
                    break;
                }
                left.as_millis().min(i32::MAX as u128) as i32 + 1
            }
            None => -1,
        };
        let mut pfds = [
            libc::pollfd {
                fd: raw(&fds[0]),
                events: libc::POLLIN,
                revents: 0,
            },
            libc::pollfd {
                fd: raw(&fds[1]),
                events: libc::POLLIN,
                revents: 0,
            },
            libc::pollfd {
                fd: run.sigfd.as_raw_fd(),
                events: libc::POLLIN,
                revents: 0,
            },
            libc::pollfd {
                fd: tty_input.as_ref().map_or(-1, |t| t.poll_fifo()),
                events: libc::POLLIN,
                revents: 0,
            },
            libc::pollfd {
                fd: if fds[0].is_some() { raw(&resize) } else { -1 },
                events: libc::POLLIN,
                revents: 0,
            },
        ];
        if tty_input.as_ref().is_some_and(|t| t.wants_master()) && fds[0].is_some() {
            pfds[0].events |= libc::POLLOUT;
        }
        // SAFETY: valid pollfd array; negative fds are ignored by poll.
        unsafe { libc::poll(pfds.as_mut_ptr(), 5, timeout) };
        if pfds[4].revents != 0
            && let Some(fd) = &resize
            && !super::tty::apply_resizes(fd.as_raw_fd(), raw(&fds[0]))
        {
            resize = None;
        }
        if let Some(t) = tty_input.as_mut() {
            if pfds[3].revents != 0 {
                t.read_fifo(&mut buf);
            }
            // Polled for POLLOUT only while the master is open.
            if pfds[0].revents & libc::POLLOUT != 0
                && let Some(master) = &fds[0]
            {
                t.write_master(master.as_fd());
            }
        }
        for i in 0..2 {
            let Some(fd) = &fds[i] else { continue };
            if pfds[i].revents & !libc::POLLOUT == 0 {
                continue;
            }
            // SAFETY: reading into our buffer from an fd we own.
            let n = unsafe { libc::read(fd.as_raw_fd(), buf.as_mut_ptr().cast(), buf.len()) };
            let errno = std::io::Error::last_os_error().raw_os_error();
            if n > 0 {
                let _ = streams[i].feed(&buf[..n as usize], &mut out);
                if i == 0 && tty {
                    // A terminal's output is interactive: a prompt without a newline is
                    // logged (and so reaches an attached client) as soon as it is read.
                    let _ = streams[0].finish(&mut out);
                }
            } else if n == 0 || !matches!(errno, Some(libc::EINTR) | Some(libc::EAGAIN)) {
                // EOF, or EIO from a terminal's master once the container is gone.
                let _ = streams[i].finish(&mut out);
                fds[i] = None;
            }
        }
        flush_log(&mut out);
        if pfds[2].revents != 0 {
            let mut si = [0u8; 128];
            let sigfd = run.sigfd.as_raw_fd();
            // SAFETY: draining the nonblocking signalfd into a siginfo-sized buffer.
            while unsafe { libc::read(sigfd, si.as_mut_ptr().cast(), si.len()) } > 0 {}
        }
        loop {
            let mut st = 0;
            // SAFETY: valid out-pointer.
            let p = unsafe { libc::waitpid(-1, &mut st, libc::WNOHANG) };
            if p <= 0 {
                break;
            }
            if p == run.pid {
                status = Some(st);
                // Writers outside the pid namespace (none normally) must not hold us forever.
                deadline = Some(Instant::now() + Duration::from_secs(2));
            }
        }
    }
    for (s, fd) in streams.iter_mut().zip(&mut fds) {
        let _ = s.finish(&mut out);
        *fd = None;
    }
    flush_log(&mut out);
    let (code, signal) = sys::wait_status(status.unwrap_or(0));
    let exit = ExitStatus {
        code,
        signal,
        oom_killed: run.cgroup.oom_kills() > 0,
        finished_at_ms: SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_millis() as u64)
            .unwrap_or(0),
    };
    // The daemon that started us hears the exit now; one that adopted us (or none) learns it
    // from exit.json once we are gone. SIGPIPE is ignored, so a vanished reader costs nothing.
    sys::write_all(READY_FD, exit_report(&exit).as_bytes());
    // The rest (unmounting the tree, removing the cgroup) is nobody's wait but a new run of
    // this container: it yields to the exit being delivered and to other starts.
    // SAFETY: setpriority on ourselves with integer arguments.
    unsafe { libc::setpriority(libc::PRIO_PROCESS, 0, TEARDOWN_NICE) };
    release_ready_fd();
    drop(run.mnt_ns);
    // Torn down first: once exit.json exists the daemon may reuse the cgroup path and dirs.
    teardown(&run.cfg, &run.cgroup);
    if let Err(e) = write_exit(&run.cfg.state_dir, &exit) {
        eprintln!("rstack shim: {e}");
    }
}

/// container.log, rotated as the config says; `None` when the log is off (`driver: none`)
/// or cannot be opened (the container runs anyway, as its output is not its purpose).
fn open_log(cfg: &ContainerConfig) -> Option<RotatingLog> {
    if cfg.log.disabled {
        return None;
    }
    let path = cfg.state_dir.join(LOG_FILE);
    let max_size = cfg.log.max_size.unwrap_or(DEFAULT_MAX_SIZE);
    let max_file = cfg.log.max_file.unwrap_or(DEFAULT_MAX_FILE);
    RotatingLog::open(&path, max_size, max_file)
        .inspect_err(|e| eprintln!("rstack shim: open {}: {e}", path.display()))
        .ok()
}

fn flush_log(out: &mut Option<RotatingLog>) {
    if let Some(Err(e)) = out.as_mut().map(RotatingLog::flush) {
        eprintln!("rstack shim: writing the log: {e}");
    }
}

/// The log file's name inside a container's state directory; rotated files add `.1`, `.2`...
pub const LOG_FILE: &str = "container.log";

/// The niceness a shim tears down at, once it has reported the exit.
const TEARDOWN_NICE: i32 = 10;

/// The line a shim writes on its report pipe when the container's init has exited.
pub(crate) fn exit_report(exit: &ExitStatus) -> String {
    format!(
        "exit {}\n",
        serde_json::to_string(exit).unwrap_or_else(|_| "{}".into())
    )
}

/// Parses `exit_report`'s line.
pub fn parse_exit_report(line: &str) -> Option<ExitStatus> {
    serde_json::from_str(line.trim_end().strip_prefix("exit ")?).ok()
}

/// Opens the read end of the daemon's stdin FIFO without waiting for a writer (the daemon
/// holds one open already), then makes it blocking again for the container.
fn open_stdin_fifo(state_dir: &Path) -> Result<OwnedFd> {
    let path = state_dir.join(STDIN_FIFO);
    let fd = sys::open_raw(&path.to_string_lossy(), libc::O_RDONLY | libc::O_NONBLOCK)
        .map(owned)
        .map_err(|e| RuntimeError::io("open", &path, e))?;
    // SAFETY: fcntl on a descriptor we own, with integer flags.
    unsafe {
        let fl = libc::fcntl(fd.as_raw_fd(), libc::F_GETFL);
        libc::fcntl(fd.as_raw_fd(), libc::F_SETFL, fl & !libc::O_NONBLOCK);
    }
    Ok(fd)
}

/// The FIFO a container with `process.stdin` reads its stdin from, in its state directory.
pub const STDIN_FIFO: &str = "stdin.fifo";

/// The FIFO on which a container with a terminal gets window sizes, in its state directory.
pub const RESIZE_FIFO: &str = "resize.fifo";

/// exit.json via temp file + rename, so readers never see half a file.
fn write_exit(state_dir: &Path, exit: &ExitStatus) -> Result<()> {
    let tmp = state_dir.join("exit.json.tmp");
    let data = serde_json::to_vec(exit).map_err(|source| RuntimeError::Config {
        path: tmp.clone(),
        source,
    })?;
    std::fs::write(&tmp, data).map_err(|e| RuntimeError::io("write", &tmp, e))?;
    let dst = state_dir.join("exit.json");
    std::fs::rename(&tmp, &dst).map_err(|e| RuntimeError::io("rename", &dst, e))
}

/// Releases what the container's run held on the host (cgroup, mount point); every step
/// tolerates "already gone".
pub(crate) fn teardown(cfg: &ContainerConfig, cgroup: &Cgroup) {
    cgroup.kill_all();
    // Mounted only in the container's namespace normally; this catches a host-side leftover.
    let _ = nix::mount::umount2(&cfg.root.merged, nix::mount::MntFlags::MNT_DETACH);
    if let Err(e) = cgroup.remove() {
        eprintln!("rstack shim: {e}");
    }
    // upper/work are the container's writable layer: kept for a restart (Docker keeps it
    // until the container is removed; `cleanup` deletes it then). The empty mount point
    // stays too: removing a directory waits for the disk where it is mounted with `discard`.
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A spare must really run at idle priority: a libc whose wrapper is a stub (musl's)
    /// would leave it competing with the containers starting beside it.
    #[test]
    fn set_policy_changes_the_calling_thread() {
        let policy = std::thread::spawn(|| {
            set_policy(libc::SCHED_IDLE);
            // SAFETY: sched_getscheduler of the calling thread; plain integer arguments.
            let got = unsafe { libc::syscall(libc::SYS_sched_getscheduler, 0) };
            set_policy(libc::SCHED_OTHER);
            got
        })
        .join()
        .expect("thread");
        assert_eq!(policy, libc::SCHED_IDLE as libc::c_long);
    }
}
