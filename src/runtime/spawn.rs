//! Spawning shims from the daemon: clone with CLONE_VM | CLONE_VFORK, as posix_spawn does, so
//! the daemon's memory is neither copied nor write-protected, plus the one step musl's
//! posix_spawn lacks: the child may set its own scheduling policy before its exec, so a spare
//! shim's exec runs on otherwise idle CPU. std's `Command` can do that only through
//! `pre_exec`, which forks: every page the daemon writes afterwards would take a fault.
//!
//! The child shares the daemon's memory and runs on a stack of its own until its exec. It
//! makes raw system calls only: it must not allocate (another thread may hold the allocator's
//! lock) nor run signal handlers (they would run the daemon's code on the daemon's data).

use std::ffi::{CString, c_char, c_int, c_void};
use std::io;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};

/// The child's stack, until its exec: it runs only the few calls in `child`.
const STACK_SIZE: usize = 64 * 1024;

/// A child process known by its pid: what std's `Child` offers, for a child std did not
/// spawn. Dropping it neither kills nor reaps the process.
#[derive(Debug)]
pub struct Proc {
    pid: i32,
    reaped: bool,
}

impl Proc {
    pub fn id(&self) -> u32 {
        self.pid as u32
    }

    /// Waits for the process to exit and reaps it; returns its wait status.
    pub fn wait(&mut self) -> io::Result<i32> {
        self.reap(0).map(|s| s.unwrap_or(0))
    }

    /// Reaps the process if it has exited; `None` while it runs.
    pub fn try_wait(&mut self) -> io::Result<Option<i32>> {
        self.reap(libc::WNOHANG)
    }

    fn reap(&mut self, flags: c_int) -> io::Result<Option<i32>> {
        if self.reaped {
            return Err(io::Error::from_raw_os_error(libc::ECHILD));
        }
        let mut status = 0;
        loop {
            // SAFETY: waitpid on our own child with a valid status pointer.
            let r = unsafe { libc::waitpid(self.pid, &mut status, flags) };
            if r == self.pid {
                self.reaped = true;
                return Ok(Some(status));
            }
            if r == 0 {
                return Ok(None);
            }
            let e = io::Error::last_os_error();
            if e.kind() != io::ErrorKind::Interrupted {
                return Err(e);
            }
        }
    }
}

/// How the child is to start: its stdin, stdout and stderr, and a scheduling policy to take
/// before its exec (SCHED_IDLE for a spare shim).
pub struct Spawn<'a> {
    pub path: &'a std::path::Path,
    pub args: &'a [&'a std::ffi::OsStr],
    pub stdio: [RawFd; 3],
    pub policy: Option<c_int>,
}

/// Everything the child reads, prepared by the parent.
struct ChildArgs {
    path: *const c_char,
    argv: *const *const c_char,
    envp: *const *const c_char,
    stdio: [RawFd; 3],
    policy: Option<c_int>,
    /// Where an exec failure's errno goes (close-on-exec: EOF means the exec succeeded).
    err_fd: RawFd,
    /// The parent's signal mask, which the program is to start with.
    mask: libc::sigset_t,
}

/// The kernel's `struct sigaction` on x86_64 and aarch64 (not libc's, whose layout differs).
#[repr(C)]
struct KernelSigaction {
    handler: usize,
    flags: u64,
    restorer: usize,
    mask: u64,
}

unsafe extern "C" {
    static environ: *const *const c_char;
}

/// Execs `spawn.path` with `spawn.args` (argv[0] included) and this process's environment.
/// Returns once the child has exec'd, or the exec's error (the child is then reaped).
pub fn spawn(spawn: &Spawn) -> io::Result<Proc> {
    let path = CString::new(spawn.path.as_os_str().as_encoded_bytes())
        .map_err(|_| io::Error::from_raw_os_error(libc::EINVAL))?;
    let args: Vec<CString> = spawn
        .args
        .iter()
        .map(|a| {
            CString::new(a.as_encoded_bytes())
                .map_err(|_| io::Error::from_raw_os_error(libc::EINVAL))
        })
        .collect::<io::Result<_>>()?;
    let mut argv: Vec<*const c_char> = args.iter().map(|a| a.as_ptr()).collect();
    argv.push(std::ptr::null());
    let (err_r, err_w) = super::sys::pipe().map_err(|_| io::Error::last_os_error())?;
    // SAFETY: both fds were just created and are owned here.
    let (err_r, err_w) = unsafe { (OwnedFd::from_raw_fd(err_r), OwnedFd::from_raw_fd(err_w)) };
    let stack = ChildStack::new()?;
    let top = stack.top();

    // No signal handler may run in the child before it has reset the handlers: block all
    // signals around the clone (the child inherits the mask and restores it before its exec).
    // SAFETY: sigset_t is plain data, filled and used by libc.
    let mut all: libc::sigset_t = unsafe { std::mem::zeroed() };
    // SAFETY: as above.
    let mut old: libc::sigset_t = unsafe { std::mem::zeroed() };
    // SAFETY: valid sigset pointers.
    unsafe {
        libc::sigfillset(&mut all);
        libc::pthread_sigmask(libc::SIG_SETMASK, &all, &mut old);
    }
    let child_args = ChildArgs {
        path: path.as_ptr(),
        argv: argv.as_ptr(),
        // SAFETY: reading libc's environ pointer, which this process does not change.
        envp: unsafe { environ },
        stdio: spawn.stdio,
        policy: spawn.policy,
        err_fd: err_w.as_raw_fd(),
        mask: old,
    };
    // SAFETY: the stack is ours and outlives the child's use of it: with CLONE_VFORK this call
    // returns only once the child has exec'd or exited. `child` makes raw system calls only.
    let pid = unsafe {
        libc::clone(
            child,
            top as *mut c_void,
            libc::CLONE_VM | libc::CLONE_VFORK | libc::SIGCHLD,
            &child_args as *const ChildArgs as *mut c_void,
            std::ptr::null_mut::<libc::pid_t>(),
            std::ptr::null_mut::<c_void>(),
            std::ptr::null_mut::<libc::pid_t>(),
        )
    };
    let clone_err = io::Error::last_os_error();
    // SAFETY: restoring the mask saved above.
    unsafe { libc::pthread_sigmask(libc::SIG_SETMASK, &old, std::ptr::null_mut()) };
    drop(stack);
    drop(err_w);
    if pid < 0 {
        return Err(clone_err);
    }
    let mut proc = Proc { pid, reaped: false };
    match read_errno(&err_r) {
        Some(code) => {
            let _ = proc.wait();
            Err(io::Error::from_raw_os_error(code))
        }
        None => Ok(proc),
    }
}

/// The child's stack: `STACK_SIZE` bytes above a PROT_NONE guard page, so a child that ran
/// past its end faults at once instead of writing over whatever the daemon's heap held below
/// (the stack grows down, and the child shares the daemon's memory).
struct ChildStack {
    base: *mut c_void,
    len: usize,
}

impl ChildStack {
    fn new() -> io::Result<ChildStack> {
        // SAFETY: sysconf has no preconditions.
        let page = usize::try_from(unsafe { libc::sysconf(libc::_SC_PAGESIZE) })
            .ok()
            .filter(|p| *p > 0)
            .unwrap_or(4096);
        let len = STACK_SIZE + page;
        // SAFETY: a new private anonymous mapping; nothing else refers to it.
        let base = unsafe {
            libc::mmap(
                std::ptr::null_mut(),
                len,
                libc::PROT_READ | libc::PROT_WRITE,
                libc::MAP_PRIVATE | libc::MAP_ANONYMOUS | libc::MAP_STACK,
                -1,
                0,
            )
        };
        if base == libc::MAP_FAILED {
            return Err(io::Error::last_os_error());
        }
        let stack = ChildStack { base, len };
        // SAFETY: the lowest page of the mapping just made.
        if unsafe { libc::mprotect(base, page, libc::PROT_NONE) } != 0 {
            return Err(io::Error::last_os_error());
        }
        Ok(stack)
    }

    /// The initial stack pointer: the top of the mapping (page-aligned, so 16-byte aligned).
    fn top(&self) -> usize {
        self.base as usize + self.len
    }
}

impl Drop for ChildStack {
    fn drop(&mut self) {
        // SAFETY: the mapping made in `new`, no longer used (the child has exec'd or exited).
        unsafe { libc::munmap(self.base, self.len) };
    }
}

/// The errno the child wrote before exiting, or None if its exec closed the pipe.
fn read_errno(fd: &OwnedFd) -> Option<i32> {
    let mut buf = [0u8; 4];
    loop {
        // SAFETY: reading into a 4-byte buffer we own.
        let n = unsafe { libc::read(fd.as_raw_fd(), buf.as_mut_ptr().cast(), 4) };
        if n == 4 {
            return Some(i32::from_ne_bytes(buf));
        }
        if n < 0 && io::Error::last_os_error().kind() == io::ErrorKind::Interrupted {
            continue;
        }
        return None;
    }
}

/// The child, on its own stack in the daemon's memory, until its exec.
extern "C" fn child(arg: *mut c_void) -> c_int {
    // SAFETY: the parent passed a ChildArgs that lives until this child execs or exits.
    let a = unsafe { &*(arg as *const ChildArgs) };
    // Caught signals would run the daemon's handlers: reset them to the default (an exec
    // does too, but the mask is restored before it). Ignored ones stay ignored, as they would
    // across a plain exec.
    for sig in 1..=64 {
        if sig == libc::SIGKILL || sig == libc::SIGSTOP {
            continue;
        }
        let mut old = KernelSigaction {
            handler: 0,
            flags: 0,
            restorer: 0,
            mask: 0,
        };
        // SAFETY: rt_sigaction reading into a kernel-layout struct we own.
        let r = unsafe {
            libc::syscall(
                libc::SYS_rt_sigaction,
                sig,
                std::ptr::null::<KernelSigaction>(),
                &mut old,
                8,
            )
        };
        if r == 0 && old.handler != libc::SIG_DFL && old.handler != libc::SIG_IGN {
            let dfl = KernelSigaction {
                handler: libc::SIG_DFL,
                flags: 0,
                restorer: 0,
                mask: 0,
            };
            // SAFETY: as above, setting the default disposition.
            unsafe {
                libc::syscall(
                    libc::SYS_rt_sigaction,
                    sig,
                    &dfl,
                    std::ptr::null_mut::<KernelSigaction>(),
                    8,
                )
            };
        }
    }
    if let Some(policy) = a.policy {
        super::sys::set_sched_policy(0, policy);
    }
    // A source fd below 3 would be overwritten by an earlier dup2 onto it: move them all up
    // first (the copies are close-on-exec; dup2 clears that flag on the targets).
    let mut fds = a.stdio;
    for fd in &mut fds {
        if *fd < 3 {
            // SAFETY: fcntl on an fd number; failure is handled.
            let moved = unsafe { libc::syscall(libc::SYS_fcntl, *fd, libc::F_DUPFD_CLOEXEC, 3) };
            if moved < 0 {
                fail(a.err_fd);
            }
            *fd = moved as RawFd;
        }
    }
    for (target, fd) in fds.iter().enumerate() {
        // SAFETY: dup2 of fds this process holds.
        if unsafe { libc::syscall(libc::SYS_dup2, *fd, target as c_int) } < 0 {
            fail(a.err_fd);
        }
    }
    // SAFETY: restoring the parent's mask (the kernel's sigset is 8 bytes), then exec.
    unsafe {
        libc::syscall(
            libc::SYS_rt_sigprocmask,
            libc::SIG_SETMASK,
            &a.mask,
            std::ptr::null_mut::<libc::sigset_t>(),
            8,
        );
        libc::syscall(libc::SYS_execve, a.path, a.argv, a.envp);
    }
    fail(a.err_fd)
}

/// Reports errno to the parent and exits (the process only: it has a thread group of its
/// own, and shares no more than memory with the daemon).
fn fail(err_fd: RawFd) -> ! {
    // SAFETY: errno is read from this thread's slot (the parent's, which is suspended until
    // this child exits); write and exit are plain system calls.
    unsafe {
        let code = *libc::__errno_location();
        libc::syscall(libc::SYS_write, err_fd, code.to_ne_bytes().as_ptr(), 4usize);
        libc::syscall(libc::SYS_exit, 127);
    }
    unreachable!("exit returned")
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Read;

    /// Runs `sh -c SCRIPT` through `spawn`, stdin on /dev/null and stdout and stderr both on
    /// one pipe; returns what it wrote, its wait status and the reaped process.
    fn sh(script: &str, policy: Option<c_int>) -> (String, i32, Proc) {
        let (r, w) = crate::runtime::sys::pipe().unwrap();
        // SAFETY: fresh fds owned here.
        let (mut out, w) = unsafe { (std::fs::File::from_raw_fd(r), OwnedFd::from_raw_fd(w)) };
        let null = std::fs::File::open("/dev/null").unwrap();
        let args = ["sh", "-c", script].map(std::ffi::OsStr::new);
        let mut p = spawn(&Spawn {
            path: std::path::Path::new("/bin/sh"),
            args: &args,
            stdio: [null.as_raw_fd(), w.as_raw_fd(), w.as_raw_fd()],
            policy,
        })
        .unwrap();
        drop(w);
        let mut s = String::new();
        out.read_to_string(&mut s).unwrap();
        let status = p.wait().unwrap();
        (s, status, p)
    }

    #[test]
    fn spawns_with_stdio_and_reaps() {
        let (out, status, mut p) = sh("echo out; echo err >&2; exit 3", None);
        assert_eq!(out, "out\nerr\n");
        assert_eq!(libc::WEXITSTATUS(status), 3);
        assert!(p.try_wait().is_err(), "reaped twice");
    }

    #[test]
    fn the_child_stack_has_a_guard_page_below_it() {
        let stack = ChildStack::new().unwrap();
        let maps = std::fs::read_to_string("/proc/self/maps").unwrap();
        let range = |l: &str| {
            let r = l.split_whitespace().next()?;
            let (a, b) = r.split_once('-')?;
            Some((
                usize::from_str_radix(a, 16).ok()?,
                usize::from_str_radix(b, 16).ok()?,
            ))
        };
        let perms_at = |addr: usize| {
            maps.lines()
                .find(|l| range(l).is_some_and(|(a, b)| a <= addr && addr < b))
                .and_then(|l| l.split_whitespace().nth(1))
                .map(str::to_string)
        };
        let base = stack.base as usize;
        assert_eq!(perms_at(base).as_deref(), Some("---p"), "{maps}");
        assert_eq!(perms_at(stack.top() - 1).as_deref(), Some("rw-p"));
        assert_eq!(perms_at(stack.top() - STACK_SIZE).as_deref(), Some("rw-p"));
        assert_eq!(stack.top() % 16, 0);
    }

    #[test]
    fn exec_failure_is_the_error() {
        let null = std::fs::File::open("/dev/null").unwrap();
        let fd = null.as_raw_fd();
        let e = spawn(&Spawn {
            path: std::path::Path::new("/nonexistent/rstack-test"),
            args: &[std::ffi::OsStr::new("x")],
            stdio: [fd, fd, fd],
            policy: None,
        })
        .unwrap_err();
        assert_eq!(e.raw_os_error(), Some(libc::ENOENT));
    }

    #[test]
    fn the_child_takes_its_policy_before_exec() {
        // SCHED_BATCH needs no privilege to take (SCHED_IDLE would to leave again). Field 41
        // of /proc/PID/stat is the policy; `cut` inherits it from the shell.
        let (out, _, _) = sh("cut -d' ' -f41 /proc/self/stat", Some(libc::SCHED_BATCH));
        assert_eq!(out.trim(), libc::SCHED_BATCH.to_string());
    }
}
