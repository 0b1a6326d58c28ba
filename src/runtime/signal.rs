//! Signals to container processes: name parsing ("SIGTERM", "TERM", "15") and delivery through a
//! pidfd, which at least narrows the pid-reuse window to the pidfd_open call.

use super::error::{Result, RuntimeError};

const SIGNALS: [(&str, i32); 31] = [
    ("HUP", libc::SIGHUP),
    ("INT", libc::SIGINT),
    ("QUIT", libc::SIGQUIT),
    ("ILL", libc::SIGILL),
    ("TRAP", libc::SIGTRAP),
    ("ABRT", libc::SIGABRT),
    ("IOT", libc::SIGIOT),
    ("BUS", libc::SIGBUS),
    ("FPE", libc::SIGFPE),
    ("KILL", libc::SIGKILL),
    ("USR1", libc::SIGUSR1),
    ("SEGV", libc::SIGSEGV),
    ("USR2", libc::SIGUSR2),
    ("PIPE", libc::SIGPIPE),
    ("ALRM", libc::SIGALRM),
    ("TERM", libc::SIGTERM),
    ("STKFLT", libc::SIGSTKFLT),
    ("CHLD", libc::SIGCHLD),
    ("CONT", libc::SIGCONT),
    ("STOP", libc::SIGSTOP),
    ("TSTP", libc::SIGTSTP),
    ("TTIN", libc::SIGTTIN),
    ("TTOU", libc::SIGTTOU),
    ("URG", libc::SIGURG),
    ("XCPU", libc::SIGXCPU),
    ("XFSZ", libc::SIGXFSZ),
    ("VTALRM", libc::SIGVTALRM),
    ("PROF", libc::SIGPROF),
    ("WINCH", libc::SIGWINCH),
    ("IO", libc::SIGIO),
    ("SYS", libc::SIGSYS),
];

/// "SIGTERM", "term", "TERM", "15", "SIGRTMIN+3" -> signal number.
pub fn parse_signal(name: &str) -> Option<i32> {
    let s = name.trim();
    if let Ok(n) = s.parse::<i32>() {
        return (1..=64).contains(&n).then_some(n);
    }
    let up = s.to_ascii_uppercase();
    let bare = up.strip_prefix("SIG").unwrap_or(&up);
    if let Some((_, n)) = SIGNALS.iter().find(|(k, _)| *k == bare) {
        return Some(*n);
    }
    let rtmin = libc::SIGRTMIN();
    let rtmax = libc::SIGRTMAX();
    let rt = |rest: &str, base: i32, sign: i32| -> Option<i32> {
        let off = if rest.is_empty() {
            0
        } else {
            rest.strip_prefix(['+', '-'])?.parse::<i32>().ok()?
        };
        let n = base + sign * off;
        (rtmin..=rtmax).contains(&n).then_some(n)
    };
    if let Some(rest) = bare.strip_prefix("RTMIN") {
        return rt(rest, rtmin, if rest.starts_with('-') { -1 } else { 1 });
    }
    if let Some(rest) = bare.strip_prefix("RTMAX") {
        return rt(rest, rtmax, if rest.starts_with('+') { 1 } else { -1 });
    }
    None
}

/// Sends `sig` to `pid` (pidfd_send_signal, falling back to kill on old kernels).
pub fn signal(pid: i32, sig: i32) -> Result<()> {
    if pid <= 0 {
        return Err(RuntimeError::Invalid(format!("pid {pid}")));
    }
    // SAFETY: raw syscalls with integer arguments; the fd is closed below.
    let fd = unsafe { libc::syscall(libc::SYS_pidfd_open, pid, 0) } as i32;
    let r = if fd >= 0 {
        // SAFETY: pidfd_send_signal on the pidfd opened above, without siginfo.
        let r = unsafe {
            libc::syscall(
                libc::SYS_pidfd_send_signal,
                fd,
                sig,
                std::ptr::null::<u8>(),
                0,
            )
        };
        // SAFETY: closing the pidfd we opened.
        unsafe { libc::close(fd) };
        r
    } else {
        let e = std::io::Error::last_os_error();
        if e.raw_os_error() == Some(libc::ESRCH) {
            return Err(RuntimeError::NotRunning(pid));
        }
        // SAFETY: plain kill(2) with integer arguments.
        unsafe { libc::kill(pid, sig) as libc::c_long }
    };
    if r != 0 {
        let e = std::io::Error::last_os_error();
        if e.raw_os_error() == Some(libc::ESRCH) {
            return Err(RuntimeError::NotRunning(pid));
        }
        return Err(RuntimeError::io(
            "kill",
            format!("pid {pid} signal {sig}"),
            e,
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_names_and_numbers() {
        assert_eq!(parse_signal("SIGTERM"), Some(15));
        assert_eq!(parse_signal("TERM"), Some(15));
        assert_eq!(parse_signal("term"), Some(15));
        assert_eq!(parse_signal("15"), Some(15));
        assert_eq!(parse_signal("SIGKILL"), Some(9));
        assert_eq!(parse_signal("hup"), Some(1));
        assert_eq!(parse_signal("SIGUSR2"), Some(12));
        assert_eq!(parse_signal("SIGRTMIN+1"), Some(libc::SIGRTMIN() + 1));
        assert_eq!(parse_signal("0"), None);
        assert_eq!(parse_signal("99"), None);
        assert_eq!(parse_signal("SIGFOO"), None);
        assert_eq!(parse_signal(""), None);
    }

    #[test]
    fn signals_a_real_child_and_reports_gone() {
        let mut c = std::process::Command::new("sleep")
            .arg("10")
            .spawn()
            .unwrap();
        let pid = c.id() as i32;
        signal(pid, libc::SIGTERM).unwrap();
        let st = c.wait().unwrap();
        use std::os::unix::process::ExitStatusExt;
        assert_eq!(st.signal(), Some(libc::SIGTERM));
        assert!(matches!(
            signal(pid, libc::SIGTERM),
            Err(RuntimeError::NotRunning(_))
        ));
    }
}
