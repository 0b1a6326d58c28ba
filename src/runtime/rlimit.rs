//! Resource limits, clamped to what the caller may set: without CAP_SYS_RESOURCE a hard limit
//! cannot be raised, and failing the container for that would be worse than Docker does.

use super::config::Rlimit;
use super::error::{Result, RuntimeError};

/// The type glibc gives resource numbers (musl uses a plain int).
#[cfg(target_env = "gnu")]
pub type Resource = libc::__rlimit_resource_t;
#[cfg(not(target_env = "gnu"))]
pub type Resource = libc::c_int;

/// "RLIMIT_NOFILE" / "nofile" -> resource number.
pub fn resource(kind: &str) -> Option<Resource> {
    let up = kind.trim().to_ascii_uppercase();
    let bare = up.strip_prefix("RLIMIT_").unwrap_or(&up);
    Some(match bare {
        "CPU" => libc::RLIMIT_CPU,
        "FSIZE" => libc::RLIMIT_FSIZE,
        "DATA" => libc::RLIMIT_DATA,
        "STACK" => libc::RLIMIT_STACK,
        "CORE" => libc::RLIMIT_CORE,
        "RSS" => libc::RLIMIT_RSS,
        "NPROC" => libc::RLIMIT_NPROC,
        "NOFILE" => libc::RLIMIT_NOFILE,
        "MEMLOCK" => libc::RLIMIT_MEMLOCK,
        "AS" => libc::RLIMIT_AS,
        "LOCKS" => libc::RLIMIT_LOCKS,
        "SIGPENDING" => libc::RLIMIT_SIGPENDING,
        "MSGQUEUE" => libc::RLIMIT_MSGQUEUE,
        "NICE" => libc::RLIMIT_NICE,
        "RTPRIO" => libc::RLIMIT_RTPRIO,
        "RTTIME" => libc::RLIMIT_RTTIME,
        _ => return None,
    })
}

/// The (soft, hard) pair to set given the current hard limit and whether it may be raised.
pub fn clamp(soft: u64, hard: u64, cur_hard: u64, can_raise: bool) -> (u64, u64) {
    let hard = if can_raise { hard } else { hard.min(cur_hard) };
    (soft.min(hard), hard)
}

/// Applies every limit; ones above the current hard limit are lowered to it.
pub fn apply(limits: &[Rlimit]) -> Result<()> {
    for l in limits {
        let res = resource(&l.kind).ok_or_else(|| RuntimeError::Rlimit(l.kind.clone()))?;
        let mut cur = libc::rlimit {
            rlim_cur: 0,
            rlim_max: 0,
        };
        // SAFETY: valid out-pointer.
        unsafe { libc::getrlimit(res, &mut cur) };
        let (soft, hard) = if l.exact {
            (l.soft, l.hard)
        } else {
            clamp(l.soft, l.hard, cur.rlim_max, false)
        };
        let new = libc::rlimit {
            rlim_cur: soft,
            rlim_max: hard,
        };
        // SAFETY: valid in-pointer.
        if unsafe { libc::setrlimit(res, &new) } != 0 {
            let e = std::io::Error::last_os_error();
            if l.exact && hard > cur.rlim_max && e.raw_os_error() == Some(libc::EPERM) {
                return Err(RuntimeError::Start(above_hard_limit(l, cur.rlim_max)));
            }
            return Err(RuntimeError::io("setrlimit", l.kind.clone(), e));
        }
    }
    Ok(())
}

/// The error of a `ulimits` hard limit above the daemon's own (raising one takes
/// CAP_SYS_RESOURCE).
pub fn above_hard_limit(l: &Rlimit, cur_hard: u64) -> String {
    let name = l
        .kind
        .strip_prefix("RLIMIT_")
        .unwrap_or(&l.kind)
        .to_ascii_lowercase();
    let show = |n: u64| {
        if n == u64::MAX {
            "unlimited".to_string()
        } else {
            n.to_string()
        }
    };
    format!(
        "ulimits: {name} hard limit {} is above the hard limit rstack's daemon runs with ({}), and raising it takes CAP_SYS_RESOURCE, which the daemon does not have; set {name} to at most {}",
        show(l.hard),
        show(cur_hard),
        show(cur_hard)
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn clamps_to_current_hard_limit() {
        assert_eq!(clamp(1048576, 1048576, 20000, false), (20000, 20000));
        assert_eq!(clamp(1024, 1048576, 20000, false), (1024, 20000));
        assert_eq!(clamp(100, 200, 20000, false), (100, 200));
        assert_eq!(clamp(1048576, 1048576, 20000, true), (1048576, 1048576));
        assert_eq!(resource("nofile"), Some(libc::RLIMIT_NOFILE));
        assert_eq!(resource("RLIMIT_NPROC"), Some(libc::RLIMIT_NPROC));
        assert_eq!(resource("RLIMIT_BOGUS"), None);
    }

    #[test]
    fn apply_in_child_clamps() {
        // Run in a forked child so the test process keeps its limits.
        // SAFETY: the child only calls async-signal-safe-ish libc and exits with _exit.
        let pid = unsafe { libc::fork() };
        if pid == 0 {
            let ok = apply(&crate::runtime::default_rlimits()).is_ok();
            let mut cur = libc::rlimit {
                rlim_cur: 0,
                rlim_max: 0,
            };
            // SAFETY: getrlimit into a valid rlimit.
            unsafe { libc::getrlimit(libc::RLIMIT_NOFILE, &mut cur) };
            let good = ok && cur.rlim_cur == cur.rlim_max && cur.rlim_max <= 1048576;
            // SAFETY: the forked test child exits without running the parent's destructors.
            unsafe { libc::_exit(if good { 0 } else { 1 }) };
        }
        let mut st = 0;
        // SAFETY: waitpid of our own child into a valid int.
        unsafe { libc::waitpid(pid, &mut st, 0) };
        assert!(libc::WIFEXITED(st) && libc::WEXITSTATUS(st) == 0);
    }
}
