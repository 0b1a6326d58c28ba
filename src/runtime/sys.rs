//! Small process-level syscalls shared by the shim, the container init and nsexec: clone with
//! fork semantics into new namespaces, fd plumbing, signal resets, PATH lookup and execve.

use super::error::{Result, RuntimeError};
use std::ffi::CString;
use std::os::fd::RawFd;

pub const DEFAULT_PATH: &str = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

#[repr(C)]
#[derive(Default)]
struct CloneArgs {
    flags: u64,
    pidfd: u64,
    child_tid: u64,
    parent_tid: u64,
    exit_signal: u64,
    stack: u64,
    stack_size: u64,
    tls: u64,
    set_tid: u64,
    set_tid_size: u64,
    cgroup: u64,
}

/// Forks (no separate stack: the child continues here, like fork) into new namespaces `flags`,
/// optionally straight into the cgroup directory `cgroup_fd` (clone3 CLONE_INTO_CGROUP, v2).
/// Returns 0 in the child, the child's pid in the parent, and whether the cgroup was applied.
///
/// # Safety
///
/// The caller must be single-threaded (the shim, nsexec): the child is a copy of this one
/// thread only, so a lock another thread held (the allocator's, stdio's) would stay locked
/// in it forever. In the child, the caller must not return into code that assumes it is
/// the parent: it must exec or leave with `libc::_exit`, without unwinding, running
/// destructors or atexit handlers (they would flush or close the parent's state a second
/// time). `flags` must not include CLONE_VM, CLONE_VFORK, CLONE_THREAD or CLONE_SETTLS:
/// without a stack of its own, the child would run on the parent's stack at the same time.
/// `cgroup_fd`, if given, must be an open cgroup v2 directory.
pub unsafe fn clone_fork(flags: u64, cgroup_fd: Option<RawFd>) -> Result<(i32, bool)> {
    const CLONE_INTO_CGROUP: u64 = 0x2_0000_0000;
    let mut args = CloneArgs {
        flags,
        exit_signal: libc::SIGCHLD as u64,
        ..Default::default()
    };
    if let Some(fd) = cgroup_fd {
        args.flags |= CLONE_INTO_CGROUP;
        args.cgroup = fd as u64;
    }
    // SAFETY: clone3 with no stack behaves like fork; the struct matches the kernel ABI.
    let r = unsafe {
        libc::syscall(
            libc::SYS_clone3,
            &mut args as *mut CloneArgs,
            std::mem::size_of::<CloneArgs>(),
        )
    };
    if r >= 0 {
        return Ok((r as i32, cgroup_fd.is_some()));
    }
    let err = std::io::Error::last_os_error();
    let code = err.raw_os_error().unwrap_or(0);
    if cgroup_fd.is_some()
        && matches!(
            code,
            libc::EINVAL | libc::E2BIG | libc::EOPNOTSUPP | libc::ENOSYS
        )
    {
        // SAFETY: the caller's contract, unchanged.
        return unsafe { clone_fork(flags, None) }.map(|(p, _)| (p, false));
    }
    if code != libc::ENOSYS {
        return Err(RuntimeError::io("clone3", "", err));
    }
    // SAFETY: legacy clone with a null stack also has fork semantics.
    let r = unsafe {
        libc::syscall(
            libc::SYS_clone,
            flags | libc::SIGCHLD as u64,
            0usize,
            0usize,
            0usize,
            0usize,
        )
    };
    if r < 0 {
        return Err(RuntimeError::io(
            "clone",
            "",
            std::io::Error::last_os_error(),
        ));
    }
    Ok((r as i32, false))
}

/// Most descriptors `send_byte_with_fds` carries (a container's v1 cgroup has at most four
/// directories).
pub const MAX_SENT_FDS: usize = 8;

/// Control-message room for `MAX_SENT_FDS` descriptors, aligned as cmsghdr needs.
#[repr(C, align(8))]
struct FdControl([u8; 64]);

/// The one-byte payload of `send_byte_with_fds` and `recv_byte_with_fds`.
fn one_byte(data: &mut [u8; 1]) -> libc::iovec {
    libc::iovec {
        iov_base: data.as_mut_ptr().cast(),
        iov_len: 1,
    }
}

/// A msghdr for one iovec and, if given, the whole of `control`; both must outlive its use.
fn one_byte_msg(iov: &mut libc::iovec, control: Option<&mut FdControl>) -> libc::msghdr {
    // SAFETY: msghdr is plain data; all-zero is valid before the fields are set.
    let mut msg: libc::msghdr = unsafe { std::mem::zeroed() };
    msg.msg_iov = iov;
    msg.msg_iovlen = 1;
    if let Some(c) = control {
        msg.msg_control = c.0.as_mut_ptr().cast();
        msg.msg_controllen = c.0.len() as _;
    }
    msg
}

/// Sends one byte and `fds` (SCM_RIGHTS, none when empty) over the unix socket `sock`.
pub fn send_byte_with_fds(sock: RawFd, byte: u8, fds: &[RawFd]) -> std::io::Result<()> {
    if fds.len() > MAX_SENT_FDS {
        return Err(std::io::Error::from_raw_os_error(libc::E2BIG));
    }
    let mut data = [byte];
    let mut iov = one_byte(&mut data);
    let mut control = FdControl([0; 64]);
    let bytes = std::mem::size_of_val(fds);
    let mut msg = one_byte_msg(&mut iov, (!fds.is_empty()).then_some(&mut control));
    if !fds.is_empty() {
        // SAFETY: CMSG_SPACE only computes a size; it fits `control` for MAX_SENT_FDS.
        msg.msg_controllen = unsafe { libc::CMSG_SPACE(bytes as u32) } as _;
        // SAFETY: the control buffer is large and aligned enough for one cmsghdr carrying
        // `fds` (checked against MAX_SENT_FDS above); CMSG_DATA points inside it.
        unsafe {
            let cmsg = libc::CMSG_FIRSTHDR(&msg);
            (*cmsg).cmsg_level = libc::SOL_SOCKET;
            (*cmsg).cmsg_type = libc::SCM_RIGHTS;
            (*cmsg).cmsg_len = libc::CMSG_LEN(bytes as u32) as _;
            std::ptr::copy_nonoverlapping(fds.as_ptr().cast::<u8>(), libc::CMSG_DATA(cmsg), bytes);
        }
    }
    // SAFETY: every pointer in `msg` points at live buffers of this frame.
    match unsafe { libc::sendmsg(sock, &msg, libc::MSG_NOSIGNAL) } {
        1 => Ok(()),
        _ => Err(std::io::Error::last_os_error()),
    }
}

/// Receives what `send_byte_with_fds` sent: the byte and the descriptors (close-on-exec),
/// blocking until they come unless `flags` has MSG_DONTWAIT. `None` when the peer closed its
/// end first.
pub fn recv_byte_with_fds(sock: RawFd, flags: i32) -> std::io::Result<Option<(u8, Vec<RawFd>)>> {
    let mut data = [0u8];
    let mut iov = one_byte(&mut data);
    let mut control = FdControl([0; 64]);
    let mut msg = one_byte_msg(&mut iov, Some(&mut control));
    let n = loop {
        // SAFETY: recvmsg into the buffers of this frame.
        let n = unsafe { libc::recvmsg(sock, &mut msg, flags | libc::MSG_CMSG_CLOEXEC) };
        if n < 0 && std::io::Error::last_os_error().raw_os_error() == Some(libc::EINTR) {
            continue;
        }
        break n;
    };
    if n < 0 {
        return Err(std::io::Error::last_os_error());
    }
    if n == 0 {
        return Ok(None);
    }
    let mut fds = Vec::new();
    // SAFETY: the kernel filled `msg`'s control part; each cmsghdr is checked before its data
    // is read, and CMSG_NXTHDR stays within msg_controllen.
    unsafe {
        let mut cmsg = libc::CMSG_FIRSTHDR(&msg);
        while !cmsg.is_null() {
            if (*cmsg).cmsg_level == libc::SOL_SOCKET && (*cmsg).cmsg_type == libc::SCM_RIGHTS {
                let header = libc::CMSG_LEN(0) as usize;
                let count = ((*cmsg).cmsg_len as usize).saturating_sub(header)
                    / std::mem::size_of::<RawFd>();
                let data = libc::CMSG_DATA(cmsg).cast::<RawFd>();
                for i in 0..count {
                    fds.push(std::ptr::read_unaligned(data.add(i)));
                }
            }
            cmsg = libc::CMSG_NXTHDR(&msg, cmsg);
        }
    }
    if msg.msg_flags & libc::MSG_CTRUNC != 0 {
        for fd in fds {
            close(fd);
        }
        return Err(std::io::Error::from_raw_os_error(libc::EMSGSIZE));
    }
    Ok(Some((data[0], fds)))
}

/// socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC) -> two connected ends.
pub fn socketpair() -> Result<(RawFd, RawFd)> {
    let mut fds = [0; 2];
    // SAFETY: valid out array of two ints.
    let rc = unsafe {
        libc::socketpair(
            libc::AF_UNIX,
            libc::SOCK_STREAM | libc::SOCK_CLOEXEC,
            0,
            fds.as_mut_ptr(),
        )
    };
    if rc != 0 {
        return Err(RuntimeError::io(
            "socketpair",
            "",
            std::io::Error::last_os_error(),
        ));
    }
    Ok((fds[0], fds[1]))
}

/// pipe2(O_CLOEXEC) -> (read, write).
pub fn pipe() -> Result<(RawFd, RawFd)> {
    let mut fds = [0; 2];
    // SAFETY: valid out array of two ints.
    if unsafe { libc::pipe2(fds.as_mut_ptr(), libc::O_CLOEXEC) } != 0 {
        return Err(RuntimeError::io(
            "pipe",
            "",
            std::io::Error::last_os_error(),
        ));
    }
    Ok((fds[0], fds[1]))
}

/// open(2) returning a raw fd (O_CLOEXEC added).
pub fn open_raw(path: &str, flags: i32) -> std::io::Result<RawFd> {
    let c = CString::new(path).map_err(std::io::Error::other)?;
    // SAFETY: valid C string.
    let fd = unsafe { libc::open(c.as_ptr(), flags | libc::O_CLOEXEC) };
    if fd < 0 {
        Err(std::io::Error::last_os_error())
    } else {
        Ok(fd)
    }
}

/// dup2(2); the new descriptor is not close-on-exec.
pub fn dup2(from: RawFd, to: RawFd) -> std::io::Result<()> {
    // SAFETY: plain descriptor duplication.
    if unsafe { libc::dup2(from, to) } < 0 {
        Err(std::io::Error::last_os_error())
    } else {
        Ok(())
    }
}

pub fn close(fd: RawFd) {
    // SAFETY: closing an fd we own; errors are irrelevant here.
    unsafe { libc::close(fd) };
}

/// Writes everything (retrying EINTR / short writes); errors are ignored by callers that report.
pub fn write_all(fd: RawFd, mut buf: &[u8]) -> bool {
    while !buf.is_empty() {
        // SAFETY: buf is a valid slice.
        let n = unsafe { libc::write(fd, buf.as_ptr().cast(), buf.len()) };
        if n < 0 {
            if std::io::Error::last_os_error().raw_os_error() == Some(libc::EINTR) {
                continue;
            }
            return false;
        }
        buf = &buf[n as usize..];
    }
    true
}

/// Reads until EOF.
pub fn read_to_end(fd: RawFd) -> Vec<u8> {
    let mut out = Vec::new();
    let mut buf = [0u8; 4096];
    loop {
        // SAFETY: buf is a valid mutable buffer.
        let n = unsafe { libc::read(fd, buf.as_mut_ptr().cast(), buf.len()) };
        if n < 0 && std::io::Error::last_os_error().raw_os_error() == Some(libc::EINTR) {
            continue;
        }
        if n <= 0 {
            return out;
        }
        out.extend_from_slice(&buf[..n as usize]);
    }
}

/// Marks every fd >= `from` close-on-exec, so the exec'd program starts with only 0, 1, 2.
pub fn cloexec_from(from: u32) {
    const CLOSE_RANGE_CLOEXEC: u32 = 4;
    // SAFETY: close_range only flips flags on our own descriptor table.
    let r = unsafe { libc::syscall(libc::SYS_close_range, from, u32::MAX, CLOSE_RANGE_CLOEXEC) };
    if r != 0
        && let Ok(rd) = std::fs::read_dir("/proc/self/fd")
    {
        let fds: Vec<i32> = rd
            .flatten()
            .filter_map(|e| e.file_name().to_str()?.parse().ok())
            .collect();
        for fd in fds.into_iter().filter(|fd| *fd >= from as i32) {
            // SAFETY: setting FD_CLOEXEC on an fd number; a stale one fails harmlessly.
            unsafe { libc::fcntl(fd, libc::F_SETFD, libc::FD_CLOEXEC) };
        }
    }
}

/// Unblocks all signals and restores default dispositions for those the shim ignores: both
/// survive execve and would otherwise leak into the container.
pub fn reset_signals() {
    // SAFETY: plain signal-mask and disposition calls.
    unsafe {
        let mut set: libc::sigset_t = std::mem::zeroed();
        libc::sigemptyset(&mut set);
        libc::sigprocmask(libc::SIG_SETMASK, &set, std::ptr::null_mut());
        for s in [
            libc::SIGPIPE,
            libc::SIGHUP,
            libc::SIGTERM,
            libc::SIGINT,
            libc::SIGQUIT,
            libc::SIGCHLD,
        ] {
            libc::signal(s, libc::SIG_DFL);
        }
    }
}

/// "No such file or directory" -> "no such file or directory" (Go/runc style messages).
pub fn errno_text(code: i32) -> String {
    let s = std::io::Error::from_raw_os_error(code).to_string();
    let s = s.split(" (os error").next().unwrap_or(&s).to_string();
    let mut c = s.chars();
    match c.next() {
        Some(f) => f.to_lowercase().collect::<String>() + c.as_str(),
        None => s,
    }
}

/// Adds PATH (and HOME) defaults the way Docker does when the image sets none.
pub fn complete_env(env: &[String], home: &str) -> Vec<String> {
    let mut out = env.to_vec();
    if !out.iter().any(|e| e.starts_with("PATH=")) {
        out.push(format!("PATH={DEFAULT_PATH}"));
    }
    if !out.iter().any(|e| e.starts_with("HOME=")) {
        out.push(format!("HOME={home}"));
    }
    out
}

/// Why a program could not be run, told apart as a shell does: by the errno, never by the
/// message (which carries the program's name and could say anything).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ExecError {
    /// No such program: not in `PATH`, or execve said ENOENT. Exit code 127.
    #[error("{0}")]
    NotFound(String),
    /// The program exists but cannot be run (EACCES, ENOEXEC...), or the process could not
    /// be set up for it (user, capabilities, working directory). Exit code 126.
    #[error("{0}")]
    CannotRun(String),
}

impl ExecError {
    /// The failure of execve of `path` with `errno`, in runc's words.
    pub fn from_errno(path: &str, errno: i32) -> ExecError {
        let message = format!("exec: \"{path}\": {}", errno_text(errno));
        if errno == libc::ENOENT {
            ExecError::NotFound(message)
        } else {
            ExecError::CannotRun(message)
        }
    }

    /// The exit code a shell (and docker exec) gives this failure.
    pub fn exit_code(&self) -> i32 {
        match self {
            ExecError::NotFound(_) => 127,
            ExecError::CannotRun(_) => 126,
        }
    }
}

/// A failure to set the process up for its program (it never got as far as the program).
impl From<String> for ExecError {
    fn from(message: String) -> ExecError {
        ExecError::CannotRun(message)
    }
}

/// Finds `prog` in `PATH` from `env` (no lookup when it contains '/').
pub fn lookup(prog: &str, env: &[String]) -> std::result::Result<String, ExecError> {
    if prog.is_empty() {
        return Err(ExecError::CannotRun("exec: no command given".into()));
    }
    if prog.contains('/') {
        return Ok(prog.to_string());
    }
    let path = env
        .iter()
        .rev()
        .find_map(|e| e.strip_prefix("PATH="))
        .unwrap_or(DEFAULT_PATH);
    for dir in path.split(':') {
        let dir = if dir.is_empty() { "." } else { dir };
        let cand = format!("{dir}/{prog}");
        let Ok(c) = CString::new(cand.as_bytes()) else {
            continue;
        };
        // SAFETY: valid C string.
        let ok = unsafe { libc::access(c.as_ptr(), libc::X_OK) } == 0;
        if ok
            && std::fs::metadata(&cand)
                .map(|m| m.is_file())
                .unwrap_or(false)
        {
            return Ok(cand);
        }
    }
    Err(ExecError::NotFound(format!(
        "exec: \"{prog}\": executable file not found in $PATH"
    )))
}

/// execve; returns only on failure, with a runc-style message and the errno's kind.
pub fn execve(path: &str, args: &[String], env: &[String]) -> ExecError {
    let cstr = |s: &str| CString::new(s.as_bytes()).ok();
    let (Some(p), Some(a), Some(e)) = (
        cstr(path),
        args.iter().map(|s| cstr(s)).collect::<Option<Vec<_>>>(),
        env.iter().map(|s| cstr(s)).collect::<Option<Vec<_>>>(),
    ) else {
        return ExecError::CannotRun(format!("exec: \"{path}\": argument contains a NUL byte"));
    };
    let mut av: Vec<*const libc::c_char> = a.iter().map(|c| c.as_ptr()).collect();
    av.push(std::ptr::null());
    let mut ev: Vec<*const libc::c_char> = e.iter().map(|c| c.as_ptr()).collect();
    ev.push(std::ptr::null());
    // SAFETY: NUL-terminated arrays of valid C strings that outlive the call.
    unsafe { libc::execve(p.as_ptr(), av.as_ptr(), ev.as_ptr()) };
    let code = std::io::Error::last_os_error().raw_os_error().unwrap_or(0);
    ExecError::from_errno(path, code)
}

/// Waits for `pid` and maps its status to the shell convention: (code, signal).
pub fn wait_status(status: i32) -> (i32, Option<i32>) {
    if libc::WIFSIGNALED(status) {
        let s = libc::WTERMSIG(status);
        (128 + s, Some(s))
    } else {
        (libc::WEXITSTATUS(status), None)
    }
}

/// Blocks `sigs` and returns the previous mask, so a later sigwait/signalfd can take them.
pub fn block(sigs: &[i32]) -> libc::sigset_t {
    // SAFETY: sigset manipulation on local values.
    unsafe {
        let mut set: libc::sigset_t = std::mem::zeroed();
        let mut old: libc::sigset_t = std::mem::zeroed();
        libc::sigemptyset(&mut set);
        for s in sigs {
            libc::sigaddset(&mut set, *s);
        }
        libc::sigprocmask(libc::SIG_BLOCK, &set, &mut old);
        set
    }
}

/// Forwards `FORWARDED` signals to `child` and reaps everything until `child` exits; returns
/// its wait status. Used by the container's tiny init and by nsexec.
pub const FORWARDED: [i32; 7] = [
    libc::SIGTERM,
    libc::SIGINT,
    libc::SIGHUP,
    libc::SIGQUIT,
    libc::SIGUSR1,
    libc::SIGUSR2,
    libc::SIGWINCH,
];

pub fn forward_and_wait(child: i32, set: &libc::sigset_t) -> i32 {
    loop {
        let mut sig = 0;
        // SAFETY: set holds blocked signals; sig is a valid out-pointer.
        unsafe { libc::sigwait(set, &mut sig) };
        if sig != libc::SIGCHLD {
            // SAFETY: plain kill.
            unsafe { libc::kill(child, sig) };
        }
        loop {
            let mut st = 0;
            // SAFETY: valid out-pointer.
            let p = unsafe { libc::waitpid(-1, &mut st, libc::WNOHANG) };
            if p <= 0 {
                break;
            }
            if p == child {
                return st;
            }
        }
    }
}

/// Whether this process may raise a thread's priority again (CAP_SYS_NICE in its effective
/// set): leaving SCHED_IDLE needs it.
pub fn can_raise_priority() -> bool {
    const CAP_SYS_NICE: u32 = 23;
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            let hex = s
                .lines()
                .find_map(|l| l.strip_prefix("CapEff:"))?
                .trim()
                .to_string();
            u64::from_str_radix(&hex, 16).ok()
        })
        .is_some_and(|eff| eff & (1 << CAP_SYS_NICE) != 0)
}

/// Sets the scheduling policy (priority 0) of thread `tid` (0: the calling thread). The system
/// call, not libc's wrapper: musl's sched_setscheduler is a stub that fails with ENOSYS (POSIX
/// makes it process-wide, which Linux's per-thread call is not). Failure leaves the policy as
/// it was, which only costs speed.
pub fn set_sched_policy(tid: i32, policy: i32) {
    // SAFETY: sched_param is plain data (musl's has more fields than glibc's); all-zero is
    // priority 0, which SCHED_OTHER, SCHED_BATCH and SCHED_IDLE require.
    let param: libc::sched_param = unsafe { std::mem::zeroed() };
    // SAFETY: sched_setscheduler with a valid parameter block and integer arguments.
    unsafe {
        libc::syscall(
            libc::SYS_sched_setscheduler,
            tid,
            policy,
            &param as *const libc::sched_param,
        )
    };
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_byte_and_descriptors_cross_a_socket_and_eof_is_none() {
        let (a, b) = socketpair().expect("socketpair");
        let (r1, w1) = pipe().expect("pipe");
        let (r2, w2) = pipe().expect("pipe");
        send_byte_with_fds(a, b'g', &[w1, w2]).expect("send");
        let (byte, got) = recv_byte_with_fds(b, 0).expect("recv").expect("not EOF");
        assert_eq!((byte, got.len()), (b'g', 2));
        // The received descriptors are the pipes' write ends: what goes in comes out.
        for (fd, r) in got.iter().zip([r1, r2]) {
            assert!(write_all(*fd, b"x"));
            let mut buf = [0u8; 1];
            // SAFETY: a one-byte read into a valid buffer.
            assert_eq!(unsafe { libc::read(r, buf.as_mut_ptr().cast(), 1) }, 1);
            // SAFETY: fcntl on a descriptor this test owns.
            let flags = unsafe { libc::fcntl(*fd, libc::F_GETFD) };
            assert!(flags & libc::FD_CLOEXEC != 0, "received close-on-exec");
        }
        // No descriptors at all (the v2 go-ahead).
        send_byte_with_fds(a, b'g', &[]).expect("send");
        assert_eq!(
            recv_byte_with_fds(b, 0).expect("recv"),
            Some((b'g', Vec::new()))
        );
        assert!(send_byte_with_fds(a, b'g', &[w1; MAX_SENT_FDS + 1]).is_err());
        close(a);
        assert_eq!(recv_byte_with_fds(b, 0).expect("recv"), None);
        for fd in got.into_iter().chain([b, r1, w1, r2, w2]) {
            close(fd);
        }
    }

    #[test]
    fn exec_failures_are_told_apart_by_errno_not_by_message() {
        assert_eq!(ExecError::from_errno("/x", libc::ENOENT).exit_code(), 127);
        for errno in [libc::EACCES, libc::ENOEXEC, libc::ENOTDIR, libc::ETXTBSY] {
            assert_eq!(
                ExecError::from_errno("/x", errno).exit_code(),
                126,
                "{errno}"
            );
        }
        // A real execve that fails either way (it returns only on failure). The names hold
        // the words a message check would have looked for.
        let dir = std::env::temp_dir().join(format!("rstack-execve-{}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("mkdir");
        let plain = dir.join("not found here");
        std::fs::write(&plain, "#!/bin/sh\n").expect("write");
        let plain = plain.to_str().expect("utf8");
        let e = execve(plain, &[plain.to_string()], &[]);
        assert_eq!(e.exit_code(), 126, "{e}");
        assert!(e.to_string().contains("permission denied"), "{e}");
        let missing = dir.join("no such file or directory? no: is missing");
        let missing = missing.to_str().expect("utf8");
        let e = execve(missing, &[missing.to_string()], &[]);
        assert_eq!(e, ExecError::from_errno(missing, libc::ENOENT));
        assert_eq!(e.exit_code(), 127);
        std::fs::remove_dir_all(&dir).expect("cleanup");
    }

    #[test]
    fn lookup_uses_env_path() {
        let env = vec!["PATH=/nonexistent:/bin:/usr/bin".to_string()];
        assert!(lookup("sh", &env).unwrap().ends_with("/sh"));
        assert_eq!(lookup("/x/y", &env).unwrap(), "/x/y");
        let e = lookup("definitely-not-here", &env).unwrap_err();
        assert!(matches!(e, ExecError::NotFound(_)), "{e:?}");
        assert_eq!(e.exit_code(), 127);
        assert!(
            e.to_string().contains("executable file not found in $PATH"),
            "{e}"
        );
    }

    #[test]
    fn errno_text_is_lowercase() {
        assert_eq!(errno_text(libc::ENOENT), "no such file or directory");
        assert_eq!(wait_status(9), (137, Some(9)));
        assert_eq!(wait_status(3 << 8), (3, None));
    }

    #[test]
    fn env_defaults() {
        let e = complete_env(&["A=1".into()], "/root");
        assert!(e.contains(&format!("PATH={DEFAULT_PATH}")) && e.contains(&"HOME=/root".into()));
        let e = complete_env(&["PATH=/x".into(), "HOME=/h".into()], "/root");
        assert_eq!(e.len(), 2);
    }
}
