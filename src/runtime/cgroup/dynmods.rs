//! Opt-in host tuning: the cgroup2 `favordynmods` mount option.
//!
//! Every write to cgroup.procs takes the kernel's global cgroup-migration lock, and the first
//! writer after a quiet spell waits for a full RCU grace period (12-18 ms measured here, with
//! rcu_expedited=0). On cgroup v1 the container's init now moves itself in, which skips that
//! lock (`Cgroup::open_tasks`); other cgroup.procs writers still take it. `favordynmods` is the
//! kernel's documented knob for hosts that migrate tasks often ("reduce the latencies of dynamic
//! cgroup modifications ... at the cost of making forks and exits more expensive"); since 6.18
//! it also switches cgroup.procs writes to a per-process lock, one-way until reboot. A host-wide
//! setting, so the daemon calls this only when configured to.

use super::super::error::{Result, RuntimeError};
use nix::mount::MsFlags;
use std::path::PathBuf;

/// The remount to perform for the cgroup2 mount in `mountinfo`: (mount point, flags, data);
/// None when there is no cgroup2 mount or it already favors dynamic modifications.
pub fn plan_remount(mountinfo: &str) -> Option<(PathBuf, MsFlags, String)> {
    for line in mountinfo.lines() {
        let Some((left, right)) = line.split_once(" - ") else {
            continue;
        };
        let f: Vec<&str> = left.split(' ').collect();
        let r: Vec<&str> = right.split(' ').collect();
        if f.len() < 6 || r.len() < 3 || r[0] != "cgroup2" {
            continue;
        }
        let supers: Vec<&str> = r[2]
            .split(',')
            .filter(|o| *o != "rw" && *o != "ro")
            .collect();
        if supers.contains(&"favordynmods") {
            return None;
        }
        // A legacy remount also resets the per-mount flags: carry them over.
        let mut flags = MsFlags::MS_REMOUNT;
        for o in f[5].split(',') {
            flags |= match o {
                "ro" => MsFlags::MS_RDONLY,
                "nosuid" => MsFlags::MS_NOSUID,
                "nodev" => MsFlags::MS_NODEV,
                "noexec" => MsFlags::MS_NOEXEC,
                "relatime" => MsFlags::MS_RELATIME,
                "noatime" => MsFlags::MS_NOATIME,
                "nodiratime" => MsFlags::MS_NODIRATIME,
                _ => MsFlags::empty(),
            };
        }
        let mut data: Vec<&str> = supers;
        data.push("favordynmods");
        return Some((PathBuf::from(f[4]), flags, data.join(",")));
    }
    None
}

/// Remounts the host's cgroup2 hierarchy (v2 root, or the hybrid `unified` one) with
/// `favordynmods`. Returns whether anything changed; a kernel without the option is an error
/// the caller may ignore.
pub fn favor_dynamic_cgroups() -> Result<bool> {
    let mi = std::fs::read_to_string("/proc/self/mountinfo")
        .map_err(|e| RuntimeError::io("read", "/proc/self/mountinfo", e))?;
    let Some((target, flags, data)) = plan_remount(&mi) else {
        return Ok(false);
    };
    nix::mount::mount(
        None::<&str>,
        &target,
        None::<&str>,
        flags,
        Some(data.as_str()),
    )
    .map_err(|e| RuntimeError::sys(format!("remount {} with {data}", target.display()), e))?;
    Ok(true)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keeps_existing_options_and_adds_favordynmods() {
        let mi = "31 23 0:28 / /sys/fs/cgroup ro,nosuid,nodev,noexec - tmpfs tmpfs ro,mode=755\n\
                  30 23 0:26 / /sys/fs/cgroup rw,nosuid,nodev,noexec,relatime - cgroup2 cgroup2 \
                  rw,nsdelegate,memory_recursiveprot\n";
        let (p, flags, data) = plan_remount(mi).unwrap();
        assert_eq!(p, PathBuf::from("/sys/fs/cgroup"));
        assert_eq!(data, "nsdelegate,memory_recursiveprot,favordynmods");
        let want = MsFlags::MS_REMOUNT
            | MsFlags::MS_NOSUID
            | MsFlags::MS_NODEV
            | MsFlags::MS_NOEXEC
            | MsFlags::MS_RELATIME;
        assert_eq!(flags, want);
    }

    #[test]
    fn nothing_to_do_when_set_or_absent() {
        let set =
            "41 31 0:38 / /sys/fs/cgroup/unified rw,relatime - cgroup2 cgroup2 rw,favordynmods\n";
        assert_eq!(plan_remount(set), None);
        let v1 = "32 31 0:29 / /sys/fs/cgroup/cpu rw,relatime - cgroup cgroup rw,cpu\n";
        assert_eq!(plan_remount(v1), None);
        let hybrid = "41 31 0:38 / /sys/fs/cgroup/unified rw,relatime - cgroup2 cgroup2 rw\n";
        let (p, _, data) = plan_remount(hybrid).unwrap();
        assert_eq!(
            (p.to_str().unwrap(), data.as_str()),
            ("/sys/fs/cgroup/unified", "favordynmods")
        );
    }
}
