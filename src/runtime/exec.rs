//! Exec into a running container: the daemon runs `rstack nsexec PID` (the spec in its
//! environment), which joins the container's cgroups and namespaces, forks (so the pid
//! namespace applies), drops privileges like the container's init and execs; the parent
//! relays the exit status.

use super::cgroup::Layout;
use super::error::{Result, RuntimeError};
use super::selfexe::SelfExe;
use super::{init, sys, tty};
use serde::{Deserialize, Serialize};
use std::os::fd::OwnedFd;
use std::path::PathBuf;

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ExecSpec {
    pub args: Vec<String>,
    /// The complete environment ("KEY=VALUE"); PATH/HOME defaults are added when missing.
    pub env: Vec<String>,
    pub cwd: Option<String>,
    pub user: Option<String>,
    /// Kept in bounding/effective/permitted; pass the container's list.
    pub capabilities: Vec<String>,
    /// The container's `group_add`, added to the user's groups as in the container's init.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub group_add: Vec<String>,
    /// The container's no_new_privileges setting (added field; Default = false).
    #[serde(default)]
    pub no_new_privileges: bool,
    /// Run on a new pseudo-terminal of this size (rows, columns) instead of plain pipes.
    #[serde(default)]
    pub tty: Option<(u16, u16)>,
    /// The container's compiled seccomp filter (`ContainerConfig::seccomp_filter`), installed
    /// before the exec as in the container's init; `None` runs unconfined.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub seccomp_filter: Option<PathBuf>,
    /// With `tty`: a FIFO on which later sizes arrive (`tty::resize_record`). nsexec opens
    /// it, then unlinks it.
    #[serde(default)]
    pub resize_fifo: Option<PathBuf>,
    /// The container's `ulimits` (`process.rlimits`), as docker exec gives them to the
    /// process it runs.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub rlimits: Vec<super::config::Rlimit>,
    /// The container's `oom_score_adj`, which docker exec's process inherits too.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub oom_score_adj: Option<i32>,
}

/// The command running `spec` inside the container whose init is `pid`. Its stdio is passed
/// straight to the process; its exit code is the process's (128+n when killed by signal n).
pub fn exec_command(exe: &SelfExe, pid: i32, spec: &ExecSpec) -> std::process::Command {
    let mut c = std::process::Command::new(exe.path());
    // The spec (with the container's environment, secrets included) goes in our own
    // environment, which only root can read, not in the world-readable command line.
    c.arg("nsexec")
        .arg(pid.to_string())
        .env(SPEC_ENV, serde_json::to_string(spec).unwrap_or_default());
    c
}

/// Environment variable carrying nsexec's spec (see `exec_command`).
const SPEC_ENV: &str = "RSTACK_NSEXEC_SPEC";

/// Exit code for failures of rstack itself (Docker's convention).
const RUNTIME_FAILURE: i32 = 125;

/// Entry point of `rstack nsexec PID` with the spec in `RSTACK_NSEXEC_SPEC` (or `rstack nsexec
/// PID SPEC-JSON`); `args` is what follows the subcommand.
pub fn nsexec_main(args: &[String]) -> i32 {
    match nsexec(args) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("rstack exec: {e}");
            RUNTIME_FAILURE
        }
    }
}

fn nsexec(args: &[String]) -> Result<i32> {
    let from_env = std::env::var(SPEC_ENV).ok();
    let (pid, spec) = match (args, &from_env) {
        ([pid], Some(spec)) => (pid, spec),
        ([pid, spec], _) => (pid, spec),
        _ => {
            return Err(RuntimeError::Invalid(format!(
                "usage: {SPEC_ENV}=SPEC-JSON rstack nsexec PID"
            )));
        }
    };
    let pid: i32 = pid
        .parse()
        .map_err(|_| RuntimeError::Invalid(format!("pid {pid:?}")))?;
    let spec: ExecSpec = serde_json::from_str(spec).map_err(|source| RuntimeError::Config {
        path: "nsexec spec".into(),
        source,
    })?;
    if spec.args.is_empty() {
        return Err(RuntimeError::Invalid("no command given".into()));
    }
    // Container processes must not ptrace or open /proc/PID/* of this helper before its exec
    // (runc does the same); execve restores dumpability for the container's program.
    // SAFETY: prctl with integer arguments only.
    unsafe { libc::prctl(libc::PR_SET_DUMPABLE, 0, 0, 0, 0) };
    // All handles first: /proc and host paths change meaning once we are in the container's
    // mount ns.
    let seccomp = match &spec.seccomp_filter {
        Some(p) => Some(super::seccomp::Filters::read(p).map_err(RuntimeError::Seccomp)?),
        None => None,
    };
    let resize = spec.resize_fifo.as_deref().and_then(|p| {
        let fd = tty::open_resize_fifo(p);
        let _ = std::fs::remove_file(p);
        fd
    });
    let mut ns = Vec::new();
    for kind in ["cgroup", "ipc", "uts", "net", "pid", "mnt"] {
        let p = format!("/proc/{pid}/ns/{kind}");
        match std::fs::File::open(&p) {
            Ok(f) => ns.push((kind, OwnedFd::from(f))),
            Err(e) if matches!(e.raw_os_error(), Some(libc::ENOENT) | Some(libc::ESRCH)) => {
                return Err(RuntimeError::NotRunning(pid));
            }
            Err(e) => return Err(RuntimeError::io("open", p, e)),
        }
    }
    // A recycled pid could belong to a host process: only enter real containers. The mount
    // namespace tells them apart (a `pid: host` container shares the host's pid one).
    let ns_of = |p: &str| std::fs::metadata(p).map(|m| std::os::unix::fs::MetadataExt::ino(&m));
    match (
        ns_of(&format!("/proc/{pid}/ns/mnt")),
        ns_of("/proc/self/ns/mnt"),
    ) {
        (Ok(a), Ok(b)) if a != b => {}
        (Ok(_), Ok(_)) => {
            return Err(RuntimeError::Invalid(format!(
                "pid {pid} is not a container process"
            )));
        }
        _ => return Err(RuntimeError::NotRunning(pid)),
    }
    // The container's limits, on this helper (the process forked below inherits them), while
    // /proc/self is still ours.
    super::rlimit::apply(&spec.rlimits)?;
    if let Some(adj) = spec.oom_score_adj {
        super::sysctl::oom_score_adj(adj)?;
    }
    join_cgroups(pid)?;
    for (kind, fd) in &ns {
        nix::sched::setns(fd, nix::sched::CloneFlags::empty())
            .map_err(|e| RuntimeError::sys(format!("setns {kind} of pid {pid}"), e))?;
    }
    drop(ns);
    // Opened in the container's mount namespace: the pty lives in its devpts.
    let pty = match spec.tty {
        Some((rows, cols)) => Some(tty::open(rows, cols)?),
        None => None,
    };
    let mut sigs = sys::FORWARDED.to_vec();
    sigs.push(libc::SIGCHLD);
    let set = sys::block(&sigs);
    // SAFETY: getpid has no failure mode.
    let parent = unsafe { libc::getpid() };
    // SAFETY: nsexec is single-threaded; the child only sets itself up and execs.
    let child = unsafe { libc::fork() };
    if child < 0 {
        return Err(RuntimeError::io(
            "fork",
            "nsexec",
            std::io::Error::last_os_error(),
        ));
    }
    if child == 0 {
        sys::reset_signals();
        if let Some(pty) = &pty
            && let Err(m) = tty::attach_child(pty)
        {
            sys::write_all(2, format!("rstack exec: {m}\n").as_bytes());
            // SAFETY: leave the forked child without running the parent's destructors.
            unsafe { libc::_exit(126) };
        }
        let cwd = spec.cwd.as_deref().unwrap_or("/");
        let err = match init::prepare_identity(
            &spec.args,
            &spec.env,
            (spec.user.as_deref(), &spec.group_add),
            &spec.capabilities,
            spec.no_new_privileges,
            cwd,
            seccomp.as_ref(),
        ) {
            Ok((path, env)) => {
                // Dies with this helper: a probe killed at its timeout, or an exec whose client
                // went away, must not leave its process running in the container. Set after
                // the credential change (which clears it); getppid() is 0 while the parent,
                // outside our pid namespace, still lives (or the parent itself, in a
                // `pid: host` container).
                // SAFETY: prctl/getppid with integer arguments.
                unsafe {
                    libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL);
                    let pp = libc::getppid();
                    if pp != 0 && pp != parent {
                        libc::_exit(RUNTIME_FAILURE);
                    }
                }
                sys::execve(&path, &spec.args, &env)
            }
            Err(e) => e,
        };
        // 127 for a program that is not there, 126 for one that cannot run: by the errno.
        sys::write_all(2, format!("rstack exec: {err}\n").as_bytes());
        // SAFETY: leave the forked child without running the parent's destructors.
        unsafe { libc::_exit(err.exit_code()) };
    }
    let st = match pty {
        Some(pty) => tty::relay(child, pty.master, resize, &set),
        None => sys::forward_and_wait(child, &set),
    };
    Ok(sys::wait_status(st).0)
}

/// Joins every cgroup of `pid` that differs from ours, so limits and accounting cover the exec'd
/// process and cleanup finds it in cgroup.procs.
fn join_cgroups(pid: i32) -> Result<()> {
    let theirs = std::fs::read_to_string(format!("/proc/{pid}/cgroup"))
        .map_err(|_| RuntimeError::NotRunning(pid))?;
    let ours = std::fs::read_to_string("/proc/self/cgroup").unwrap_or_default();
    let layout = Layout::detect()?;
    let me = std::process::id().to_string();
    for line in theirs.lines() {
        if ours.lines().any(|l| l == line) {
            continue;
        }
        let mut it = line.splitn(3, ':');
        let (Some(_), Some(ctrls), Some(path)) = (it.next(), it.next(), it.next()) else {
            continue;
        };
        let base: Option<PathBuf> = match &layout {
            Layout::V2(root) if ctrls.is_empty() => Some(root.clone()),
            Layout::V1(m) => ctrls
                .split(',')
                .find_map(|c| m.iter().find(|(n, _)| n == c).map(|(_, p)| p.clone())),
            _ => None,
        };
        let Some(base) = base else { continue };
        let dir = base.join(path.trim_start_matches('/'));
        if matches!(layout, Layout::V1(_)) {
            // This helper is single-threaded (it setns into a mount namespace below), so the
            // thread moving itself moves the process, without the global migration lock a
            // cgroup.procs write takes (see `Cgroup::open_tasks`): a health probe after a
            // quiet spell would otherwise wait for an RCU grace period.
            let tasks = dir.join("tasks");
            let joined = std::fs::OpenOptions::new()
                .write(true)
                .open(&tasks)
                .and_then(|f| super::cgroup::join_self(std::os::fd::AsRawFd::as_raw_fd(&f)));
            if let Err(e) = joined {
                return Err(RuntimeError::io("join cgroup", tasks, e));
            }
            continue;
        }
        let procs = dir.join("cgroup.procs");
        if let Err(e) = std::fs::write(&procs, &me) {
            return Err(RuntimeError::io("join cgroup", procs, e));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn command_carries_pid_and_spec() {
        let spec = ExecSpec {
            args: vec!["ls".into()],
            ..Default::default()
        };
        let c = exec_command(&SelfExe::from_path("/x/rstack"), 42, &spec);
        let a: Vec<_> = c
            .get_args()
            .map(|s| s.to_string_lossy().into_owned())
            .collect();
        assert_eq!(
            a,
            ["nsexec", "42"],
            "the spec must not be on the command line"
        );
        let env = c
            .get_envs()
            .find(|(k, _)| *k == SPEC_ENV)
            .and_then(|(_, v)| v)
            .expect("spec in the environment");
        let back: ExecSpec = serde_json::from_str(&env.to_string_lossy()).unwrap();
        assert_eq!(back, spec);
        assert_eq!(c.get_program(), "/x/rstack");
    }

    #[test]
    fn refuses_host_processes() {
        let spec = serde_json::to_string(&ExecSpec {
            args: vec!["true".into()],
            ..Default::default()
        })
        .unwrap();
        let e = nsexec(&[std::process::id().to_string(), spec]).unwrap_err();
        assert!(e.to_string().contains("not a container process"), "{e}");
    }

    #[test]
    fn gone_pid_is_not_running() {
        let spec = serde_json::to_string(&ExecSpec {
            args: vec!["true".into()],
            ..Default::default()
        })
        .unwrap();
        // pid_max is at most 2^22: this pid cannot exist.
        let e = nsexec(&["99999999".into(), spec]).unwrap_err();
        assert!(matches!(e, RuntimeError::NotRunning(99999999)), "{e}");
    }
}
