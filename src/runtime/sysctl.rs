//! Per-container kernel settings written by the container's init: namespaced sysctls
//! (`sysctls:`) under /proc/sys, and its own /proc/self/oom_score_adj (`oom_score_adj:`),
//! which the process it execs inherits.

use super::error::{Result, RuntimeError};

/// /proc/sys path of a sysctl name (`net.ipv4.ip_forward` -> `/proc/sys/net/ipv4/ip_forward`).
/// `None` for a name that would leave /proc/sys.
pub fn path_of(key: &str) -> Option<String> {
    if key.is_empty()
        || key.contains(['/', '\0'])
        || key.split('.').any(|p| p.is_empty() || p == "..")
    {
        return None;
    }
    Some(format!("/proc/sys/{}", key.replace('.', "/")))
}

/// Whether this kernel has the sysctl `key`, judged from the host's /proc/sys before anything
/// starts. A new network namespace gets the same net.* keys as the host's, except the
/// per-interface ones (`net.ipv4.conf.eth0.*`): those are judged by the `default` entry,
/// as the container's interfaces do not exist on the host. Lenient when /proc/sys cannot
/// be read (nothing to judge by): the start then reports it.
pub fn known(key: &str) -> bool {
    let Some(p) = path_of(&per_device_template(key)) else {
        return false;
    };
    if std::path::Path::new(&p).exists() {
        return true;
    }
    !std::path::Path::new("/proc/sys/kernel").is_dir()
}

/// `net.ipv{4,6}.{conf,neigh}.IFACE.rest` -> the same key under `default`; others unchanged.
fn per_device_template(key: &str) -> String {
    let parts: Vec<&str> = key.split('.').collect();
    match parts.as_slice() {
        [
            "net",
            ip @ ("ipv4" | "ipv6"),
            table @ ("conf" | "neigh"),
            dev,
            rest @ ..,
        ] if !rest.is_empty() && !matches!(*dev, "all" | "default" | "lo") => {
            format!("net.{ip}.{table}.default.{}", rest.join("."))
        }
        _ => key.to_string(),
    }
}

/// Writes every sysctl; runs after pivot_root, so /proc is the container's.
pub fn write_all(sysctls: &[(String, String)]) -> Result<()> {
    for (k, v) in sysctls {
        let p = path_of(k).ok_or_else(|| RuntimeError::Invalid(format!("sysctl name {k:?}")))?;
        std::fs::write(&p, v.as_bytes()).map_err(|e| {
            RuntimeError::Start(format!(
                "sysctls: cannot set {k}={v}: {e}{}",
                if e.kind() == std::io::ErrorKind::NotFound {
                    " (this kernel has no such setting)"
                } else {
                    ""
                }
            ))
        })?;
    }
    Ok(())
}

/// Sets the calling process's oom_score_adj. Lowering it below the current value takes
/// CAP_SYS_RESOURCE, which the daemon may lack: the error says so.
pub fn oom_score_adj(adj: i32) -> Result<()> {
    std::fs::write("/proc/self/oom_score_adj", adj.to_string()).map_err(|e| {
        let cur = std::fs::read_to_string("/proc/self/oom_score_adj").unwrap_or_default();
        let why = if e.raw_os_error() == Some(libc::EACCES) || e.raw_os_error() == Some(libc::EPERM) {
            format!(
                " (lowering it below the current {} takes CAP_SYS_RESOURCE, which rstack's daemon does not have here; use a value of at least {})",
                cur.trim(),
                cur.trim()
            )
        } else {
            String::new()
        };
        RuntimeError::Start(format!("oom_score_adj: cannot set {adj}: {e}{why}"))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sysctl_paths() {
        assert_eq!(
            path_of("net.ipv4.ip_forward").as_deref(),
            Some("/proc/sys/net/ipv4/ip_forward")
        );
        assert_eq!(path_of("net..x"), None);
        assert_eq!(path_of("net/../x"), None);
        assert_eq!(path_of(""), None);
    }

    #[test]
    fn interface_keys_are_judged_by_the_default_entry() {
        assert_eq!(
            per_device_template("net.ipv4.conf.eth0.rp_filter"),
            "net.ipv4.conf.default.rp_filter"
        );
        assert_eq!(
            per_device_template("net.ipv6.neigh.eth1.retrans_time_ms"),
            "net.ipv6.neigh.default.retrans_time_ms"
        );
        assert_eq!(
            per_device_template("net.ipv4.conf.all.forwarding"),
            "net.ipv4.conf.all.forwarding"
        );
        assert_eq!(
            per_device_template("net.ipv4.ip_forward"),
            "net.ipv4.ip_forward"
        );
        assert!(
            !known("net.ipv4.nonexistent_xx") || !std::path::Path::new("/proc/sys/kernel").is_dir()
        );
        assert!(!known("net..x"));
    }
}
