//! Capabilities: names -> numbers, bounding-set drop, capset of effective/permitted/inheritable,
//! ambient clear. Raw syscalls: no capability crate needed for three calls.

use super::error::{Result, RuntimeError};

const NAMES: [&str; 41] = [
    "CHOWN",
    "DAC_OVERRIDE",
    "DAC_READ_SEARCH",
    "FOWNER",
    "FSETID",
    "KILL",
    "SETGID",
    "SETUID",
    "SETPCAP",
    "LINUX_IMMUTABLE",
    "NET_BIND_SERVICE",
    "NET_BROADCAST",
    "NET_ADMIN",
    "NET_RAW",
    "IPC_LOCK",
    "IPC_OWNER",
    "SYS_MODULE",
    "SYS_RAWIO",
    "SYS_CHROOT",
    "SYS_PTRACE",
    "SYS_PACCT",
    "SYS_ADMIN",
    "SYS_BOOT",
    "SYS_NICE",
    "SYS_RESOURCE",
    "SYS_TIME",
    "SYS_TTY_CONFIG",
    "MKNOD",
    "LEASE",
    "AUDIT_WRITE",
    "AUDIT_CONTROL",
    "SETFCAP",
    "MAC_OVERRIDE",
    "MAC_ADMIN",
    "SYSLOG",
    "WAKE_ALARM",
    "BLOCK_SUSPEND",
    "AUDIT_READ",
    "PERFMON",
    "BPF",
    "CHECKPOINT_RESTORE",
];

/// Every capability the runtime knows, as `CAP_NAME` (what `privileged` and `cap_add: [ALL]`
/// give).
pub fn all_capabilities() -> Vec<String> {
    NAMES.iter().map(|n| format!("CAP_{n}")).collect()
}

/// "CAP_CHOWN" or "chown" -> 0. Pure: `spec` checks `cap_add`/`cap_drop` names with it.
pub fn cap_number(name: &str) -> Option<u32> {
    let up = name.trim().to_ascii_uppercase();
    let bare = up.strip_prefix("CAP_").unwrap_or(&up);
    NAMES.iter().position(|n| *n == bare).map(|p| p as u32)
}

/// Bit mask of the named capabilities; "ALL" selects every known one.
pub fn cap_mask(names: &[String]) -> Result<u64> {
    let mut mask = 0u64;
    for n in names {
        if n.eq_ignore_ascii_case("ALL") || n.eq_ignore_ascii_case("CAP_ALL") {
            mask |= (1u64 << NAMES.len()) - 1;
            continue;
        }
        let c = cap_number(n).ok_or_else(|| RuntimeError::Capability(n.clone()))?;
        mask |= 1u64 << c;
    }
    Ok(mask)
}

fn last_cap() -> u32 {
    std::fs::read_to_string("/proc/sys/kernel/cap_last_cap")
        .ok()
        .and_then(|s| s.trim().parse().ok())
        .unwrap_or(NAMES.len() as u32 - 1)
}

/// Drops every capability outside `mask` from the bounding set.
pub fn drop_bounding(mask: u64) -> Result<()> {
    for c in 0..=last_cap().min(63) {
        if mask & (1u64 << c) != 0 {
            continue;
        }
        // SAFETY: prctl with integer arguments only.
        let r = unsafe { libc::prctl(libc::PR_CAPBSET_DROP, c as libc::c_ulong, 0, 0, 0) };
        if r != 0 {
            let e = std::io::Error::last_os_error();
            if e.raw_os_error() != Some(libc::EINVAL) {
                return Err(RuntimeError::io(
                    "prctl PR_CAPBSET_DROP",
                    format!("cap {c}"),
                    e,
                ));
            }
        }
    }
    Ok(())
}

#[repr(C)]
struct CapHeader {
    version: u32,
    pid: i32,
}

#[repr(C)]
#[derive(Clone, Copy, Default)]
struct CapData {
    effective: u32,
    permitted: u32,
    inheritable: u32,
}

/// Sets effective and permitted to `mask`, inheritable empty (Docker 23+), and clears ambient.
pub fn set_caps(mask: u64) -> Result<()> {
    let mut hdr = CapHeader {
        version: 0x2008_0522,
        pid: 0,
    };
    let lo = mask as u32;
    let hi = (mask >> 32) as u32;
    let data = [
        CapData {
            effective: lo,
            permitted: lo,
            inheritable: 0,
        },
        CapData {
            effective: hi,
            permitted: hi,
            inheritable: 0,
        },
    ];
    // SAFETY: header and two data structs laid out as the kernel's v3 capset ABI expects.
    let r = unsafe { libc::syscall(libc::SYS_capset, &mut hdr as *mut CapHeader, data.as_ptr()) };
    if r != 0 {
        return Err(RuntimeError::io(
            "capset",
            "",
            std::io::Error::last_os_error(),
        ));
    }
    // SAFETY: prctl with integer arguments only.
    unsafe {
        libc::prctl(
            libc::PR_CAP_AMBIENT,
            libc::PR_CAP_AMBIENT_CLEAR_ALL as libc::c_ulong,
            0,
            0,
            0,
        )
    };
    Ok(())
}

/// The calling process's permitted set. Capabilities outside it (rstack's daemon may run
/// without some, e.g. CAP_SYS_RESOURCE in a container) cannot be given to a container:
/// `privileged` and `cap_add` get what the daemon has.
pub fn permitted() -> Result<u64> {
    let mut hdr = CapHeader {
        version: 0x2008_0522,
        pid: 0,
    };
    let mut data = [CapData::default(); 2];
    // SAFETY: header and two data structs laid out as the kernel's v3 capget ABI expects.
    let r = unsafe {
        libc::syscall(
            libc::SYS_capget,
            &mut hdr as *mut CapHeader,
            data.as_mut_ptr(),
        )
    };
    if r != 0 {
        return Err(RuntimeError::io(
            "capget",
            "",
            std::io::Error::last_os_error(),
        ));
    }
    Ok(u64::from(data[0].permitted) | (u64::from(data[1].permitted) << 32))
}

/// Keep permitted capabilities across the setuid to a non-root user; set_caps runs after it.
pub fn keep_caps(on: bool) {
    // SAFETY: prctl with integer arguments only.
    unsafe { libc::prctl(libc::PR_SET_KEEPCAPS, on as libc::c_ulong, 0, 0, 0) };
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn docker_defaults_mask() {
        let m = cap_mask(&crate::runtime::docker_default_capabilities()).unwrap();
        assert_eq!(m, 0x00000000a80425fb);
        assert_eq!(cap_number("net_admin"), Some(12));
        assert_eq!(cap_number("CAP_CHECKPOINT_RESTORE"), Some(40));
        assert!(cap_mask(&["CAP_NOPE".into()]).is_err());
    }
}
