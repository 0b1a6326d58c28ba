//! Docker's defaults for the security-relevant lists, so the lead can fill a ContainerConfig the
//! way `docker run` would. Plain constants: `plan` reads them (through `runtime::config`)
//! without calling into the runtime.

use super::config::Rlimit;

/// moby `oci/defaults.go` maskedPaths.
pub const DOCKER_DEFAULT_MASKED_PATHS: [&str; 11] = [
    "/proc/asound",
    "/proc/acpi",
    "/proc/kcore",
    "/proc/keys",
    "/proc/latency_stats",
    "/proc/timer_list",
    "/proc/timer_stats",
    "/proc/sched_debug",
    "/proc/scsi",
    "/sys/firmware",
    "/sys/devices/virtual/powercap",
];

/// moby `oci/defaults.go` readonlyPaths.
pub const DOCKER_DEFAULT_READONLY_PATHS: [&str; 5] = [
    "/proc/bus",
    "/proc/fs",
    "/proc/irq",
    "/proc/sys",
    "/proc/sysrq-trigger",
];

/// moby `oci/caps/defaults.go`: the 14 capabilities a default container keeps.
pub const DOCKER_DEFAULT_CAPABILITIES: [&str; 14] = [
    "CAP_CHOWN",
    "CAP_DAC_OVERRIDE",
    "CAP_FSETID",
    "CAP_FOWNER",
    "CAP_MKNOD",
    "CAP_NET_RAW",
    "CAP_SETGID",
    "CAP_SETUID",
    "CAP_SETFCAP",
    "CAP_SETPCAP",
    "CAP_NET_BIND_SERVICE",
    "CAP_SYS_CHROOT",
    "CAP_KILL",
    "CAP_AUDIT_WRITE",
];

/// What containers get from a systemd-run dockerd (LimitNOFILE=infinity => 1048576), as
/// (resource, soft, hard). Applied clamped to the caller's hard limits, so it never fails
/// where the host allows less.
pub const DEFAULT_RLIMITS: [(&str, u64, u64); 1] = [("RLIMIT_NOFILE", 1048576, 1048576)];

fn strings(list: &[&str]) -> Vec<String> {
    list.iter().map(|s| s.to_string()).collect()
}

pub fn docker_default_masked_paths() -> Vec<String> {
    strings(&DOCKER_DEFAULT_MASKED_PATHS)
}

pub fn docker_default_readonly_paths() -> Vec<String> {
    strings(&DOCKER_DEFAULT_READONLY_PATHS)
}

pub fn docker_default_capabilities() -> Vec<String> {
    strings(&DOCKER_DEFAULT_CAPABILITIES)
}

pub fn default_rlimits() -> Vec<Rlimit> {
    DEFAULT_RLIMITS
        .iter()
        .map(|&(kind, soft, hard)| Rlimit {
            kind: kind.to_string(),
            soft,
            hard,
            exact: false,
        })
        .collect()
}
