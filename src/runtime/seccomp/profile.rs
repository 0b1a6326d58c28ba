//! Docker's JSON seccomp profile format, and its resolution for one container: which entries
//! apply (moby's `includes` / `excludes` on capabilities, architecture and kernel version),
//! with every syscall name turned into its x86_64 number. Pure: no I/O.

use super::syscalls;
use serde::{Deserialize, Deserializer};

/// A profile as Docker writes it (`moby/profiles` `seccomp.Seccomp`). Fields rstack does not
/// act on (`archMap`, `flags`, comments) are accepted and ignored: the filter is always built
/// for the native x86_64 ABI.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Profile {
    pub default_action: String,
    #[serde(default)]
    pub default_errno_ret: Option<u32>,
    #[serde(default, deserialize_with = "nullable")]
    pub syscalls: Vec<Entry>,
    #[serde(default)]
    pub listener_path: Option<String>,
}

/// One entry of `syscalls`.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Entry {
    #[serde(default, deserialize_with = "nullable")]
    pub names: Vec<String>,
    /// The old single-name form.
    #[serde(default)]
    pub name: Option<String>,
    pub action: String,
    #[serde(default)]
    pub errno_ret: Option<u32>,
    #[serde(default, deserialize_with = "nullable")]
    pub args: Vec<Arg>,
    #[serde(default)]
    pub includes: Option<Filter>,
    #[serde(default)]
    pub excludes: Option<Filter>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Arg {
    pub index: u32,
    pub value: u64,
    #[serde(default)]
    pub value_two: u64,
    pub op: String,
}

/// `includes` / `excludes`: an entry applies only when (does not apply when) these hold.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Filter {
    #[serde(default, deserialize_with = "nullable")]
    pub caps: Vec<String>,
    #[serde(default, deserialize_with = "nullable")]
    pub arches: Vec<String>,
    #[serde(default)]
    pub min_kernel: Option<String>,
}

/// `null` reads as an empty list, as in Go.
fn nullable<'de, D: Deserializer<'de>, T: Deserialize<'de>>(d: D) -> Result<Vec<T>, D::Error> {
    Ok(Option::<Vec<T>>::deserialize(d)?.unwrap_or_default())
}

/// What the kernel does with a system call (the `SCMP_ACT_*` of the profile).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Action {
    Allow,
    Errno(u32),
    KillThread,
    KillProcess,
    Trap,
    Trace(u32),
    Log,
}

/// A comparison of one system call argument.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Cond {
    pub index: u8,
    pub op: Op,
    pub value: u64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Op {
    Eq,
    Ne,
    Lt,
    Le,
    Gt,
    Ge,
    /// `(arg & mask) == value`.
    MaskedEq(u64),
}

/// One resolved rule: system call `nr` gets `action` when every condition holds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rule {
    pub nr: i64,
    pub name: String,
    pub action: Action,
    pub conds: Vec<Cond>,
}

/// A profile resolved for one container on this host.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Policy {
    pub default: Action,
    pub rules: Vec<Rule>,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ProfileError {
    /// Not JSON, or not a profile; line and column inside the profile.
    #[error("{line}:{column}: {message}")]
    Json {
        line: usize,
        column: usize,
        message: String,
    },
    #[error("unknown system call \"{0}\"")]
    UnknownSyscall(String),
    #[error("{0}")]
    Invalid(String),
}

/// The host properties an entry's `includes`/`excludes` are evaluated against.
pub struct Host<'a> {
    /// Capability names of the container's bounding set ("CAP_SYS_ADMIN", ...).
    pub caps: &'a [String],
    /// Kernel (major, minor).
    pub kernel: (u32, u32),
}

/// moby's name for the x86_64 architecture in `includes.arches`.
const NATIVE_ARCH: &str = "amd64";

pub fn parse(text: &str) -> Result<Profile, ProfileError> {
    serde_json::from_str(text).map_err(|e| ProfileError::Json {
        line: e.line(),
        column: e.column(),
        message: e.to_string().split(" at line ").next().unwrap_or("").into(),
    })
}

/// Checks a profile as the loader does: JSON shape, actions, operators and every system call
/// name, whatever the capabilities (so a profile valid for one container is valid for all).
pub fn check(text: &str) -> Result<(), ProfileError> {
    let p = parse(text)?;
    action(&p.default_action, p.default_errno_ret)?;
    for e in &p.syscalls {
        action(&e.action, e.errno_ret)?;
        conditions(&e.args)?;
        for f in [&e.includes, &e.excludes].into_iter().flatten() {
            if let Some(k) = &f.min_kernel {
                kernel_version(k)?;
            }
        }
        for n in entry_names(e)? {
            number(n)?;
        }
    }
    Ok(())
}

/// The rules of `p` that apply on `host`, as moby's `setupSeccomp` selects them.
pub fn resolve(p: &Profile, host: &Host<'_>) -> Result<Policy, ProfileError> {
    if p.listener_path.as_deref().is_some_and(|l| !l.is_empty()) {
        return Err(ProfileError::Invalid(
            "listenerPath (user notification) is not supported".into(),
        ));
    }
    let default = action(&p.default_action, p.default_errno_ret)?;
    let mut rules = Vec::new();
    for e in &p.syscalls {
        let names = entry_names(e)?;
        let act = action(&e.action, e.errno_ret)?;
        let conds = conditions(&e.args)?;
        if !applies(e, host)? {
            continue;
        }
        for n in names {
            // Names of other architectures' calls (chown32, socketcall...) have no x86_64
            // number: skipped, as libseccomp does.
            if let Some(nr) = number(n)? {
                rules.push(Rule {
                    nr,
                    name: n.clone(),
                    action: act,
                    conds: conds.clone(),
                });
            }
        }
    }
    Ok(Policy { default, rules })
}

fn entry_names(e: &Entry) -> Result<&[String], ProfileError> {
    match (&e.name, e.names.is_empty()) {
        (Some(_), false) => Err(ProfileError::Invalid(
            "an entry has both \"name\" and \"names\"; use one".into(),
        )),
        (Some(n), true) => Ok(std::slice::from_ref(n)),
        (None, _) => Ok(&e.names),
    }
}

/// moby's selection: excludes first (any match drops the entry), then includes (all must hold).
fn applies(e: &Entry, host: &Host<'_>) -> Result<bool, ProfileError> {
    if let Some(x) = &e.excludes {
        if x.arches.iter().any(|a| a == NATIVE_ARCH) {
            return Ok(false);
        }
        if x.caps.iter().any(|c| host.caps.contains(c)) {
            return Ok(false);
        }
        if let Some(k) = &x.min_kernel
            && host.kernel >= kernel_version(k)?
        {
            return Ok(false);
        }
    }
    if let Some(i) = &e.includes {
        if !i.arches.is_empty() && !i.arches.iter().any(|a| a == NATIVE_ARCH) {
            return Ok(false);
        }
        if !i.caps.iter().all(|c| host.caps.contains(c)) {
            return Ok(false);
        }
        if let Some(k) = &i.min_kernel
            && host.kernel < kernel_version(k)?
        {
            return Ok(false);
        }
    }
    Ok(true)
}

/// "4.8" -> (4, 8); also the start of a release string ("6.18.44-fc" -> (6, 18)).
pub fn kernel_version(s: &str) -> Result<(u32, u32), ProfileError> {
    let mut it = s.split(['.', '-']);
    let mut num = || it.next().and_then(|p| p.parse::<u32>().ok());
    match (num(), num()) {
        (Some(a), Some(b)) => Ok((a, b)),
        _ => Err(ProfileError::Invalid(format!(
            "minKernel \"{s}\": expected MAJOR.MINOR"
        ))),
    }
}

fn action(name: &str, errno: Option<u32>) -> Result<Action, ProfileError> {
    Ok(match name {
        "SCMP_ACT_ALLOW" => Action::Allow,
        // runc's default errno for SCMP_ACT_ERRNO without errnoRet.
        "SCMP_ACT_ERRNO" => Action::Errno(errno.unwrap_or(libc::EPERM as u32)),
        "SCMP_ACT_KILL" | "SCMP_ACT_KILL_THREAD" => Action::KillThread,
        "SCMP_ACT_KILL_PROCESS" => Action::KillProcess,
        "SCMP_ACT_TRAP" => Action::Trap,
        "SCMP_ACT_TRACE" => Action::Trace(errno.unwrap_or(libc::EPERM as u32)),
        "SCMP_ACT_LOG" => Action::Log,
        "SCMP_ACT_NOTIFY" => {
            return Err(ProfileError::Invalid(
                "action SCMP_ACT_NOTIFY (user notification) is not supported".into(),
            ));
        }
        other => {
            return Err(ProfileError::Invalid(format!(
                "unknown action \"{other}\" (expected SCMP_ACT_ALLOW, SCMP_ACT_ERRNO, SCMP_ACT_KILL, SCMP_ACT_KILL_PROCESS, SCMP_ACT_TRAP, SCMP_ACT_TRACE or SCMP_ACT_LOG)"
            )));
        }
    })
}

fn conditions(args: &[Arg]) -> Result<Vec<Cond>, ProfileError> {
    args.iter()
        .map(|a| {
            let index = u8::try_from(a.index)
                .ok()
                .filter(|i| *i <= 5)
                .ok_or_else(|| {
                    ProfileError::Invalid(format!(
                        "argument index {} out of range (0 to 5)",
                        a.index
                    ))
                })?;
            let (op, value) = match a.op.as_str() {
                "SCMP_CMP_EQ" => (Op::Eq, a.value),
                "SCMP_CMP_NE" => (Op::Ne, a.value),
                "SCMP_CMP_LT" => (Op::Lt, a.value),
                "SCMP_CMP_LE" => (Op::Le, a.value),
                "SCMP_CMP_GT" => (Op::Gt, a.value),
                "SCMP_CMP_GE" => (Op::Ge, a.value),
                // libseccomp: (arg & value) == valueTwo.
                "SCMP_CMP_MASKED_EQ" => (Op::MaskedEq(a.value), a.value_two),
                other => {
                    return Err(ProfileError::Invalid(format!(
                        "unknown operator \"{other}\""
                    )));
                }
            };
            Ok(Cond { index, op, value })
        })
        .collect()
}

/// The x86_64 number of a call; `None` for a call that exists only on other architectures;
/// an error for a name no architecture has.
fn number(name: &str) -> Result<Option<i64>, ProfileError> {
    if let Ok(i) = syscalls::X86_64.binary_search_by(|(n, _)| (*n).cmp(name)) {
        return Ok(Some(syscalls::X86_64[i].1));
    }
    if other_arch_names().any(|n| n == name) {
        return Ok(None);
    }
    Err(ProfileError::UnknownSyscall(name.to_string()))
}

/// Every name Docker's default profile lists: the known calls of all architectures.
fn other_arch_names() -> impl Iterator<Item = &'static str> {
    OTHER_ARCH.iter().copied()
}

/// Calls of Docker's default profile that x86_64 does not have (32-bit and other
/// architectures' calls).
const OTHER_ARCH: &[&str] = &[
    "_llseek",
    "_newselect",
    "arm_fadvise64_64",
    "arm_sync_file_range",
    "breakpoint",
    "cacheflush",
    "chown32",
    "clock_adjtime64",
    "clock_getres_time64",
    "clock_gettime64",
    "clock_nanosleep_time64",
    "clock_settime64",
    "fadvise64_64",
    "fchown32",
    "fcntl64",
    "fstat64",
    "fstatat64",
    "fstatfs64",
    "ftruncate64",
    "futex_time64",
    "getegid32",
    "geteuid32",
    "getgid32",
    "getgroups32",
    "getresgid32",
    "getresuid32",
    "getuid32",
    "io_pgetevents_time64",
    "ipc",
    "lchown32",
    "lstat64",
    "mmap2",
    "mq_timedreceive_time64",
    "mq_timedsend_time64",
    "ppoll_time64",
    "pselect6_time64",
    "recv",
    "recvmmsg_time64",
    "riscv_flush_icache",
    "riscv_hwprobe",
    "rt_sigtimedwait_time64",
    "s390_pci_mmio_read",
    "s390_pci_mmio_write",
    "s390_runtime_instr",
    "sched_rr_get_interval_time64",
    "semtimedop_time64",
    "send",
    "sendfile64",
    "set_tls",
    "setfsgid32",
    "setfsuid32",
    "setgid32",
    "setgroups32",
    "setregid32",
    "setresgid32",
    "setresuid32",
    "setreuid32",
    "setuid32",
    "sigprocmask",
    "sigreturn",
    "socketcall",
    "stat64",
    "statfs64",
    "stime",
    "swapcontext",
    "sync_file_range2",
    "timer_gettime64",
    "timer_settime64",
    "timerfd_gettime64",
    "timerfd_settime64",
    "truncate64",
    "ugetrlimit",
    "umount",
    "utimensat_time64",
    "waitpid",
];
