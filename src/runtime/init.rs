//! The cloned container child up to execve: stdio, root filesystem (the shim made the
//! network namespace with loopback up; sysctls are written there), hostname, oom_score_adj,
//! then (once the shim says its cgroup's limits are written) on cgroup v1 the move into the
//! cgroup (the shim sends its `tasks` files along), rlimits, cgroup namespace, user, capabilities, no_new_privs, seccomp, exec.
//!
//! Any failure is written to the CLOEXEC error pipe (EOF there means exec succeeded) and the
//! child exits; it never returns into the shim's code.

use super::config::ContainerConfig;
use super::error::{Result, RuntimeError};
use super::seccomp::Filters;
use super::{caps, rlimit, rootfs, sys, user};
use std::os::fd::RawFd;

/// Descriptors the child inherits from the shim.
pub struct ChildFds {
    /// The child's end of a socket: one byte means "your cgroup is ready, exec when ready";
    /// on v1 it comes with the cgroup's `tasks` files, for the child to move itself in.
    pub sync_r: RawFd,
    /// CLOEXEC write end for start errors.
    pub err_w: RawFd,
    pub stdout_w: RawFd,
    pub stderr_w: RawFd,
    /// Read end of the stdin FIFO, when the container has stdin (and no terminal).
    pub stdin_r: Option<RawFd>,
    /// Socket to hand the terminal's master to the shim, when the container has a terminal.
    pub console: Option<RawFd>,
    /// Shim-side ends the child must close.
    pub close: Vec<RawFd>,
}

/// Runs in the child; never returns. `seccomp`: the filters to install before execve.
pub fn child_main(cfg: &ContainerConfig, fds: &ChildFds, seccomp: Option<&Filters>) -> ! {
    for fd in &fds.close {
        sys::close(*fd);
    }
    let err = match run(cfg, fds, seccomp) {
        Ok(msg) | Err(msg) => msg,
    };
    sys::write_all(fds.err_w, err.as_bytes());
    // SAFETY: terminate the child without running the shim's atexit handlers or destructors.
    unsafe { libc::_exit(127) }
}

/// Returns only with an error message (Ok carries the message of a failed exec).
fn run(
    cfg: &ContainerConfig,
    fds: &ChildFds,
    seccomp: Option<&Filters>,
) -> std::result::Result<String, String> {
    sys::reset_signals();
    // The root is built while the shim writes the cgroup's limits.
    setup(cfg, fds).map_err(|e| e.to_string())?;
    let go = sys::recv_byte_with_fds(fds.sync_r, 0)
        .map_err(|e| format!("waiting for the shim's go-ahead: {e}"))?;
    let Some((_, tasks)) = go else {
        return Err("the shim could not set up the container's cgroup".into());
    };
    sys::close(fds.sync_r);
    // v1: joined only now that its limits are written (the shim rewrites the device rules
    // from "deny all", which would fail the root's set-up midway); on v2 the clone placed it.
    let n = tasks.len();
    for (i, fd) in tasks.into_iter().enumerate() {
        super::cgroup::join_self(fd).map_err(|e| {
            format!(
                "joining the container's cgroup {} (v1 hierarchy {} of {n}): {e}",
                cfg.cgroup_path,
                i + 1
            )
        })?;
        sys::close(fd);
    }
    // After the go-ahead: a low `nofile` limit must not keep the descriptors it brings out.
    rlimit::apply(&cfg.process.rlimits).map_err(|e| e.to_string())?;
    // Now inside its cgroup, so the new cgroup namespace is rooted there.
    nix::sched::unshare(nix::sched::CloneFlags::CLONE_NEWCGROUP)
        .map_err(|e| format!("unshare cgroup namespace: {e}"))?;
    exec(cfg, fds, seccomp)
}

fn setup(cfg: &ContainerConfig, fds: &ChildFds) -> Result<()> {
    nix::unistd::setsid().map_err(|e| RuntimeError::sys("setsid", e))?;
    // SAFETY: umask has no failure mode.
    unsafe { libc::umask(0o022) };
    let null = sys::open_raw("/dev/null", libc::O_RDWR)
        .map_err(|e| RuntimeError::io("open", "/dev/null", e))?;
    let stdin = fds.stdin_r.unwrap_or(null);
    for (from, to) in [(stdin, 0), (fds.stdout_w, 1), (fds.stderr_w, 2)] {
        sys::dup2(from, to).map_err(|e| RuntimeError::io("dup2", "stdio", e))?;
    }
    for fd in [null, stdin, fds.stdout_w, fds.stderr_w] {
        if fd > 2 {
            sys::close(fd);
        }
    }
    rootfs::setup(cfg)?;
    if let (Some((rows, cols)), Some(sock)) = (cfg.process.tty, fds.console) {
        // Created here, after pivot_root: the terminal lives in the container's own devpts.
        let pty = super::tty::open(rows, cols)?;
        super::tty::send_fd(sock, pty.master).map_err(RuntimeError::Start)?;
        super::tty::attach_child(&pty).map_err(RuntimeError::Start)?;
        sys::close(sock);
    }
    nix::unistd::sethostname(&cfg.hostname)
        .map_err(|e| RuntimeError::sys(format!("sethostname {:?}", cfg.hostname), e))?;
    if let Some(adj) = cfg.oom_score_adj {
        super::sysctl::oom_score_adj(adj)?;
    }
    Ok(())
}

/// User, capabilities, no_new_privs, cwd and execve (with the optional tiny init in between).
fn exec(
    cfg: &ContainerConfig,
    fds: &ChildFds,
    seccomp: Option<&Filters>,
) -> std::result::Result<String, String> {
    let p = &cfg.process;
    let (path, env) = prepare_identity(
        &p.args,
        &p.env,
        (p.user.as_deref(), &p.group_add),
        &p.capabilities,
        p.no_new_privileges,
        &p.cwd,
        seccomp,
    )
    .map_err(|e| e.to_string())?;
    die_with_shim(fds.err_w)?;
    if cfg.init {
        return run_init(&path, &p.args, &env, fds);
    }
    Ok(sys::execve(&path, &p.args, &env).to_string())
}

/// The container dies with its shim: a SIGKILLed shim must not leave its container running
/// unwatched, beside the next run of it on the same overlay. Set after the identity switch,
/// which clears the parent-death signal. The shim may have died before it was set: then the
/// error pipe's read end (the shim's alone) is gone, which poll shows as POLLERR.
fn die_with_shim(err_w: RawFd) -> std::result::Result<(), String> {
    // SAFETY: prctl with integer arguments only.
    if unsafe { libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL, 0, 0, 0) } != 0 {
        return Err(format!(
            "prctl PR_SET_PDEATHSIG: {}",
            std::io::Error::last_os_error()
        ));
    }
    let mut pfd = libc::pollfd {
        fd: err_w,
        events: 0,
        revents: 0,
    };
    // SAFETY: poll of one valid pollfd, without waiting.
    let n = unsafe { libc::poll(&mut pfd, 1, 0) };
    if n > 0 && pfd.revents & libc::POLLERR != 0 {
        // SAFETY: nobody is left to report to.
        unsafe { libc::_exit(137) }
    }
    Ok(())
}

/// Shared by the container init and nsexec: switches identity, drops privileges, chdirs,
/// resolves the program and installs the seccomp filters. Returns (program path, final
/// environment); only the execve may follow.
pub fn prepare_identity(
    args: &[String],
    env: &[String],
    (user_spec, group_add): (Option<&str>, &[String]),
    capabilities: &[String],
    no_new_privs: bool,
    cwd: &str,
    seccomp: Option<&Filters>,
) -> std::result::Result<(String, Vec<String>), sys::ExecError> {
    let u = match user_spec.filter(|s| !s.is_empty()) {
        Some(s) => user::resolve_in_root(s, group_add).map_err(|e| e.to_string())?,
        None => user::resolve_in_root("0", group_add).map_err(|e| e.to_string())?,
    };
    // Only what this process holds can be kept (see `caps::permitted`).
    let mask = caps::cap_mask(capabilities).map_err(|e| e.to_string())?
        & caps::permitted().map_err(|e| e.to_string())?;
    // As runc: without no_new_privs, installing a filter takes CAP_SYS_ADMIN, so it goes in
    // before the capabilities are dropped (everything below is allowed by the profile).
    if !no_new_privs && let Some(f) = seccomp {
        f.install()?;
    }
    let cwd = if cwd.is_empty() { "/" } else { cwd };
    nix::unistd::chdir(cwd).map_err(|e| format!("chdir {cwd}: {}", sys::errno_text(e as i32)))?;
    caps::drop_bounding(mask).map_err(|e| e.to_string())?;
    caps::keep_caps(true);
    user::switch_to(&u).map_err(|e| e.to_string())?;
    caps::keep_caps(false);
    caps::set_caps(mask).map_err(|e| e.to_string())?;
    if no_new_privs {
        // SAFETY: prctl with integer arguments only.
        if unsafe { libc::prctl(libc::PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) } != 0 {
            return Err(sys::ExecError::CannotRun(format!(
                "prctl no_new_privs: {}",
                std::io::Error::last_os_error()
            )));
        }
    }
    sys::cloexec_from(3);
    let env = sys::complete_env(env, &u.home);
    let prog = args.first().map(String::as_str).unwrap_or("");
    let path = sys::lookup(prog, &env)?;
    // With no_new_privs, as late as possible: the filter then sees only the execve.
    if no_new_privs && let Some(f) = seccomp {
        f.install()?;
    }
    Ok((path, env))
}

/// PID 1 stays as a minimal init: forwards signals to the real process and reaps zombies,
/// exiting with the process's status.
fn run_init(
    path: &str,
    args: &[String],
    env: &[String],
    fds: &ChildFds,
) -> std::result::Result<String, String> {
    let mut sigs = sys::FORWARDED.to_vec();
    sigs.push(libc::SIGCHLD);
    let set = sys::block(&sigs);
    // SAFETY: single-threaded process; the child only resets its mask and execs.
    let pid = unsafe { libc::fork() };
    if pid < 0 {
        return Err(format!(
            "fork init child: {}",
            std::io::Error::last_os_error()
        ));
    }
    if pid == 0 {
        sys::reset_signals();
        return Ok(sys::execve(path, args, env).to_string());
    }
    // The child's exec (or its error) decides what the shim reads from the pipe.
    sys::close(fds.err_w);
    // Otherwise `ps` in the container shows the shim's name (or the memfd's fd number).
    // SAFETY: PR_SET_NAME with a NUL-terminated string.
    unsafe { libc::prctl(libc::PR_SET_NAME, c"rstack-init".as_ptr(), 0, 0, 0) };
    let st = sys::forward_and_wait(pid, &set);
    let (code, _) = sys::wait_status(st);
    // SAFETY: exiting PID 1 of the container with the child's status.
    unsafe { libc::_exit(code) }
}
