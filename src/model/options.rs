//! A service's process and kernel options that are neither networking nor storage:
//! capabilities, `privileged`, `sysctls`, `ulimits`, `shm_size`, `oom_score_adj`,
//! `group_add`, `pid`, `container_name`, `labels`, `stdin_open` and `tty`. Flattened into `Service`, so each key
//! sits at the service's top level as in the stack file; every field is left out at its
//! default (the config hash of a service that uses none of them is unchanged).

use super::defaults::is_default;
use indexmap::IndexMap;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct ContainerOptions {
    /// `cap_add`, normalized to `CAP_NAME` (or `ALL`).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub cap_add: Vec<String>,
    /// `cap_drop`, normalized to `CAP_NAME` (or `ALL`).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub cap_drop: Vec<String>,
    /// `privileged`: every capability, no seccomp filter, no masked or read-only paths,
    /// every device allowed in the device cgroup.
    #[serde(skip_serializing_if = "is_default")]
    pub privileged: bool,
    /// `sysctls` in file order (namespaced ones only; `spec` refuses the others).
    #[serde(skip_serializing_if = "IndexMap::is_empty")]
    pub sysctls: IndexMap<String, String>,
    /// `ulimits`, by Docker's name (`nofile`, `nproc`, ...), in file order.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub ulimits: Vec<Ulimit>,
    /// `shm_size` in bytes; `None`: Docker's 64 MiB.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub shm_size: Option<u64>,
    /// `oom_score_adj`, -1000..=1000.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub oom_score_adj: Option<i32>,
    /// `group_add`: group names (resolved in the container's /etc/group) or numbers.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub group_add: Vec<String>,
    /// `pid: host`: the container shares the host's pid namespace.
    #[serde(skip_serializing_if = "is_default")]
    pub pid_host: bool,
    /// `container_name`: the container's name instead of `<project>-<service>-1`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub container_name: Option<String>,
    /// `labels` of the service's containers.
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub labels: BTreeMap<String, String>,
    /// `stdin_open`: the main process reads a stdin that stays open, written by `attach`.
    #[serde(skip_serializing_if = "is_default")]
    pub stdin_open: bool,
    /// `tty`: the main process runs on a terminal (its output is logged as stdout).
    #[serde(skip_serializing_if = "is_default")]
    pub tty: bool,
}

/// One `ulimits` entry.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Ulimit {
    /// Docker's name: `nofile`, `nproc`, `core`, ...
    pub name: String,
    pub soft: u64,
    pub hard: u64,
}

/// Docker's `ulimits` names (moby `pkg/ulimit`), each with the kernel's `RLIMIT_` name.
pub const ULIMITS: &[(&str, &str)] = &[
    ("core", "RLIMIT_CORE"),
    ("cpu", "RLIMIT_CPU"),
    ("data", "RLIMIT_DATA"),
    ("fsize", "RLIMIT_FSIZE"),
    ("locks", "RLIMIT_LOCKS"),
    ("memlock", "RLIMIT_MEMLOCK"),
    ("msgqueue", "RLIMIT_MSGQUEUE"),
    ("nice", "RLIMIT_NICE"),
    ("nofile", "RLIMIT_NOFILE"),
    ("nproc", "RLIMIT_NPROC"),
    ("rss", "RLIMIT_RSS"),
    ("rtprio", "RLIMIT_RTPRIO"),
    ("rttime", "RLIMIT_RTTIME"),
    ("sigpending", "RLIMIT_SIGPENDING"),
    ("stack", "RLIMIT_STACK"),
    ("as", "RLIMIT_AS"),
];

/// The kernel's name of a Docker ulimit name.
pub fn rlimit_kind(name: &str) -> Option<&'static str> {
    ULIMITS.iter().find(|(n, _)| *n == name).map(|(_, k)| *k)
}

/// Whether a sysctl is namespaced (set per container) as Docker allows it: IPC ones
/// (`kernel.msg*`, `kernel.sem`, `kernel.shm*`, `fs.mqueue.*`) and network ones (`net.*`).
pub fn sysctl_namespaced(key: &str) -> Option<SysctlNs> {
    if key.starts_with("net.") {
        return Some(SysctlNs::Net);
    }
    let ipc = key == "kernel.sem"
        || key.starts_with("kernel.msg")
        || key.starts_with("kernel.shm")
        || key.starts_with("fs.mqueue.");
    ipc.then_some(SysctlNs::Ipc)
}

/// The namespace a sysctl belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SysctlNs {
    Net,
    Ipc,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn namespaced_sysctls() {
        assert_eq!(
            sysctl_namespaced("net.ipv4.ip_forward"),
            Some(SysctlNs::Net)
        );
        assert_eq!(sysctl_namespaced("kernel.shmmax"), Some(SysctlNs::Ipc));
        assert_eq!(sysctl_namespaced("kernel.sem"), Some(SysctlNs::Ipc));
        assert_eq!(sysctl_namespaced("fs.mqueue.msg_max"), Some(SysctlNs::Ipc));
        assert_eq!(sysctl_namespaced("kernel.hostname"), None);
        assert_eq!(sysctl_namespaced("vm.swappiness"), None);
        assert_eq!(rlimit_kind("nofile"), Some("RLIMIT_NOFILE"));
        assert_eq!(rlimit_kind("bogus"), None);
    }
}
