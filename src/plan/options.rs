//! `model::ContainerOptions` applied to a container's runtime config: Docker's capability
//! arithmetic (moby `caps.TweakCapabilities`), what `privileged` lifts, sysctls, ulimits over
//! the default rlimits, and the plain values the runtime takes as they are.

use crate::model::{ContainerOptions, Service};
use crate::runtime::config::{
    ACC_ALL, ContainerConfig, DevKind, Rlimit, Rule, Seccomp, all_capabilities,
};

/// The capability set of a container, Docker's way: `privileged` has them all; `cap_add: [ALL]`
/// all but the dropped; `cap_drop: [ALL]` only the added; otherwise the defaults minus the
/// dropped plus the added.
pub fn capabilities(defaults: &[String], o: &ContainerOptions) -> Vec<String> {
    if o.privileged {
        return all_capabilities();
    }
    if o.cap_add.is_empty() && o.cap_drop.is_empty() {
        return defaults.to_vec();
    }
    let all = |l: &[String]| l.iter().any(|c| c == "ALL");
    let mut caps: Vec<String> = if all(&o.cap_add) {
        all_capabilities()
            .into_iter()
            .filter(|c| !o.cap_drop.contains(c))
            .collect()
    } else if all(&o.cap_drop) {
        o.cap_add.clone()
    } else {
        defaults
            .iter()
            .filter(|c| !o.cap_drop.contains(c))
            .chain(&o.cap_add)
            .cloned()
            .collect()
    };
    let mut seen = std::collections::HashSet::new();
    caps.retain(|c| seen.insert(c.clone()));
    caps
}

/// Applies the service's options to a planned config (capabilities already set from the
/// defaults).
pub fn apply(service: &Service, cfg: &mut ContainerConfig) {
    let o = &service.options;
    cfg.process.capabilities = capabilities(&cfg.process.capabilities, o);
    if o.privileged {
        // As `docker run --privileged`: no seccomp filter, nothing masked or read-only in
        // /proc and /sys, and the device cgroup allows every device (nodes are not made for
        // the host's devices: `devices:` or mknod, which CAP_MKNOD allows, make them).
        cfg.seccomp = Seccomp::Unconfined;
        cfg.masked_paths.clear();
        cfg.readonly_paths.clear();
        cfg.device_rules
            .push(Rule::allow(DevKind::All, None, None, ACC_ALL));
    }
    for u in &o.ulimits {
        let Some(kind) = crate::model::options::rlimit_kind(&u.name) else {
            continue;
        };
        cfg.process.rlimits.retain(|r| r.kind != kind);
        cfg.process.rlimits.push(Rlimit {
            kind: kind.to_string(),
            soft: u.soft,
            hard: u.hard,
            exact: true,
        });
    }
    cfg.sysctls = o
        .sysctls
        .iter()
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();
    cfg.shm_size = o.shm_size;
    cfg.oom_score_adj = o.oom_score_adj;
    cfg.host_pid = o.pid_host;
    cfg.process.group_add = o.group_add.clone();
    // Attachable (`rstack attach`): the shim keeps the stdin (and the terminal's sizes) open
    // across attaches, as Docker does for a container without StdinOnce.
    if o.stdin_open || o.tty {
        cfg.process.attachable = true;
    }
    cfg.process.stdin |= o.stdin_open;
    if o.tty && cfg.process.tty.is_none() {
        cfg.process.tty = Some(DEFAULT_TTY_SIZE);
    }
}

/// A service terminal's size until an attach sends the client's (Docker's default).
const DEFAULT_TTY_SIZE: (u16, u16) = (24, 80);

#[cfg(test)]
mod tests {
    use super::*;

    fn opts(add: &[&str], drop: &[&str]) -> ContainerOptions {
        ContainerOptions {
            cap_add: add.iter().map(|s| s.to_string()).collect(),
            cap_drop: drop.iter().map(|s| s.to_string()).collect(),
            ..Default::default()
        }
    }

    #[test]
    fn capability_arithmetic_follows_docker() {
        let d: Vec<String> = ["CAP_CHOWN", "CAP_NET_RAW", "CAP_KILL"]
            .iter()
            .map(|s| s.to_string())
            .collect();
        assert_eq!(capabilities(&d, &opts(&[], &[])), d);
        assert_eq!(
            capabilities(&d, &opts(&["CAP_NET_ADMIN"], &["CAP_NET_RAW"])),
            ["CAP_CHOWN", "CAP_KILL", "CAP_NET_ADMIN"]
        );
        assert_eq!(
            capabilities(&d, &opts(&["CAP_KILL"], &["ALL"])),
            ["CAP_KILL"]
        );
        let all = capabilities(&d, &opts(&["ALL"], &["CAP_SYS_ADMIN"]));
        assert_eq!(all.len(), all_capabilities().len() - 1);
        assert!(!all.contains(&"CAP_SYS_ADMIN".to_string()));
        let p = ContainerOptions {
            privileged: true,
            cap_drop: vec!["ALL".into()],
            ..Default::default()
        };
        assert_eq!(capabilities(&d, &p), all_capabilities());
    }
}
