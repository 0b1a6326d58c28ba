//! Docker's defaults for the security-relevant lists, so the lead can fill a ContainerConfig the
//! way `docker run` would.

use super::config::Rlimit;

/// moby `oci/defaults.go` maskedPaths.
pub fn docker_default_masked_paths() -> Vec<String> {
    [
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
    ]
    .iter()
    .map(|s| s.to_string())
    .collect()
}

/// moby `oci/defaults.go` readonlyPaths.
pub fn docker_default_readonly_paths() -> Vec<String> {
    [
        "/proc/bus",
        "/proc/fs",
        "/proc/irq",
        "/proc/sys",
        "/proc/sysrq-trigger",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect()
}

/// moby `oci/caps/defaults.go`: the 14 capabilities a default container keeps.
pub fn docker_default_capabilities() -> Vec<String> {
    [
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
    ]
    .iter()
    .map(|s| s.to_string())
    .collect()
}

/// What containers get from a systemd-run dockerd (LimitNOFILE=infinity => 1048576). Applied
/// clamped to the caller's hard limits, so it never fails where the host allows less.
pub fn default_rlimits() -> Vec<Rlimit> {
    vec![Rlimit {
        kind: "RLIMIT_NOFILE".into(),
        soft: 1048576,
        hard: 1048576,
    }]
}
